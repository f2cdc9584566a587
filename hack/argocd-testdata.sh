#!/usr/bin/env bash
# Rewrites the Argo CD health checks' testdata (manifests/argocd/tollgate.io/*/testdata/) from the
# planner's tests/fixtures/plan/kstatus-*.json: each "dump" step's object, exactly as the operator
# wrote it. JSON is YAML, so each file is the dumped JSON under a comment saying where it came
# from. Run it after changing the conditions; tests/integration/test_argocd_health.py fails while
# the testdata and the planner differ.
#   hack/argocd-testdata.sh [build-dir]      (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."

build=${1:-build}
cmake --build "$build" -j2 --target test_plan >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
TG_PLAN_ONLY=kstatus- TG_PLAN_DUMP="$tmp" "$build/tests/test_plan" >/dev/null 2>&1
for f in "$tmp"/*.json; do
    name=$(basename "$f" .json)
    case $name in
    rollout-*) kind=Rollout ;;
    release-*) kind=Release ;;
    *) echo "argocd-testdata: $name: neither rollout-* nor release-*" >&2; exit 1 ;;
    esac
    out=manifests/argocd/tollgate.io/$kind/testdata/$name.yaml
    {
        echo "# Written by hack/argocd-testdata.sh from the planner's tests/fixtures/plan/kstatus-*.json."
        cat "$f"
        echo
    } >"$out"
done
