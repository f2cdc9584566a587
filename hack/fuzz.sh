#!/usr/bin/env bash
# Runs the libFuzzer targets of tests/fuzz for a while each and reports what they did:
#
#   hack/fuzz.sh [-t SECONDS] [-b BUILD_DIR] [TARGET...]
#
# TARGET is a parser name (vuln, provenance, sbom, image_ref, dockerconfig, dsse, statement,
# simplesigning, sigstore_json, bundle, trusted_root, tlog_legacy, material, policy); by
# default every target that the build has (a target whose implementation is not in the tree
# yet is not built). SECONDS defaults to 60. The build (clang, -DTOLLGATE_FUZZ=ON) goes to
# BUILD_DIR, build-fuzz by default. Each target starts from its committed seeds
# (tests/fuzz/corpus/<parser>/, never written to) and keeps what it learns in
# BUILD_DIR/fuzz-corpus/<parser>/; crashes, leaks and timeouts land in
# BUILD_DIR/fuzz-artifacts/<parser>/. Prints one line per target (executions, corpus size,
# findings) and exits 1 when anything was found. Not part of hack/test.sh: long runs are this
# script with a larger -t.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
build=build-fuzz
while getopts "t:b:h" opt; do
    case $opt in
    t) seconds=$OPTARG ;;
    b) build=$OPTARG ;;
    *) sed -n '2,15p' "$0"; exit 2 ;;
    esac
done
shift $((OPTIND - 1))

command -v clang >/dev/null || { echo "fuzz: clang is missing (apt-get install clang)" >&2; exit 2; }
CC=clang cmake -S . -B "$build" -DTOLLGATE_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

all=(vuln provenance sbom image_ref dockerconfig dsse statement simplesigning sigstore_json
     bundle trusted_root tlog_legacy material policy)
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=("${all[@]}")
fi
defined=$(cmake --build "$build" --target help)
want=()
for t in "${targets[@]}"; do
    # Only the targets CMake defined (their implementation exists).
    if grep -qx "\.\.\. fuzz_$t" <<<"$defined"; then
        want+=("$t")
    else
        echo "fuzz: $t: not built (its operator/verify implementation is not in the tree)" >&2
    fi
done
[ ${#want[@]} -gt 0 ] || { echo "fuzz: nothing to run" >&2; exit 2; }
cmake --build "$build" -j2 --target "${want[@]/#/fuzz_}" >"$build/fuzz-build.log" 2>&1 ||
    { tail -30 "$build/fuzz-build.log" >&2; exit 2; }

status=0
printf '%-14s %12s %10s %8s %9s\n' target execs exec/s corpus findings
for t in "${want[@]}"; do
    corpus=$build/fuzz-corpus/$t
    artifacts=$build/fuzz-artifacts/$t
    log=$build/fuzz-$t.log
    mkdir -p "$corpus" "$artifacts"
    # libFuzzer exits non-zero on a finding; the artifacts directory says what it was.
    "$build/tests/fuzz_$t" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 \
        -rss_limit_mb=2048 -max_len=65536 -artifact_prefix="$artifacts/" \
        "$corpus" tests/fuzz/corpus/"$t" >"$log" 2>&1 || true
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    found=$(find "$artifacts" -type f | wc -l)
    printf '%-14s %12s %10s %8s %9s\n' "$t" "${execs:-?}" "${rate:-?}" \
        "$(find "$corpus" -type f | wc -l)" "$found"
    if [ "$found" -gt 0 ] || [ -z "$execs" ]; then
        echo "fuzz: $t: see $log and $artifacts/" >&2
        status=1
    fi
done
exit $status
