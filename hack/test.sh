#!/usr/bin/env bash
# Installs what is missing, builds with AddressSanitizer and UndefinedBehaviorSanitizer, runs
# hack/check.sh, then every test through ctest. The exit code is the result.
#   hack/test.sh [ctest arguments...]     e.g. hack/test.sh -L unit
set -euo pipefail
cd "$(dirname "$0")/.."

hack/deps.sh
build=${TOLLGATE_BUILD_DIR:-build}
cmake -S . -B "$build" -DTOLLGATE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j "$(nproc)"
# The default configuration, exactly as a user types it (no options: RelWithDebInfo, tests
# included, no sanitizers), so that it cannot break unseen.
cmake -S . -B "$build-default" >/dev/null
cmake --build "$build-default" -j "$(nproc)" >/dev/null
# The demo and the benchmark build optimised with NDEBUG, where gcc warns about more: keep that
# build clean too.
cmake -S . -B "$build-release" -DCMAKE_BUILD_TYPE=Release -DTOLLGATE_TESTS=OFF >/dev/null
cmake --build "$build-release" -j "$(nproc)" >/dev/null
hack/check.sh
ctest --test-dir "$build" --output-on-failure -j "$(nproc)" "$@"
