#!/usr/bin/env bash
# The runtime benchmark: kubesim, N objects of a custom resource, the operator runtime with a
# no-op reconciler. Prints one line per N (see tests/bench/bench.py for the fields).
#   hack/bench.sh            N = 1, 100, 1000, 10000
#   hack/bench.sh --n 1000   one size (repeatable)
#   hack/bench.sh --rollouts [--n N]   the real operator with N Rollouts (default 1, 100, 1000):
#                            convergence, memory, API calls per reconcile, event-to-patch latency
# A benchmark, not a test: it builds without sanitizers (they inflate memory) and never fails
# on a figure.
set -euo pipefail
cd "$(dirname "$0")/.."

hack/deps.sh
build=${TOLLGATE_BENCH_BUILD_DIR:-build-bench}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DTOLLGATE_SANITIZE=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target tollgate-probe tollgate >/dev/null
export TOLLGATE_SOURCE_DIR=$PWD
if [[ "${1:-}" == --rollouts ]]; then
    shift
    exec /usr/bin/python3 tests/bench/bench_rollouts.py --tollgate "$build/tollgate" "$@"
fi
exec /usr/bin/python3 tests/bench/bench.py --probe "$build/tests/tollgate-probe" "$@"
