#!/usr/bin/env bash
# The tollgate demo: installs what is missing, builds, starts a local OCI registry holding the
# demo's signed and attested images, kubesim (a local Kubernetes API server) and the operator,
# applies the CRDs, a VerificationPolicy and a Rollout, and narrates a verified canary Release
# going step by step to success, a second one rolled back to stable by its analysis, and an
# unsigned one and one with a critical vulnerability stopped in Verifying before any pod
# changed. Cleans up after itself; run it as often as you like.
set -euo pipefail
cd "$(dirname "$0")/.."

hack/deps.sh
build=${TOLLGATE_DEMO_BUILD_DIR:-build-demo}
echo "==> building tollgate (in $build)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DTOLLGATE_SANITIZE=OFF -DTOLLGATE_TESTS=OFF \
    >/dev/null
cmake --build "$build" -j "$(nproc)" >/dev/null
plugin=()
[[ -x "$build/kubectl-tollgate" ]] && plugin=(--plugin "$build/kubectl-tollgate")
exec /usr/bin/python3 hack/demo.py --tollgate "$build/tollgate" "${plugin[@]}"
