#!/usr/bin/env bash
# Static checks, failing on any finding: clang-format in check mode, cppcheck, and a grep for
# the functions our style bans (use the bounded or reentrant forms instead).
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t sources < <(git ls-files -co --exclude-standard -- '*.c' '*.h')
status=0

if ! clang-format --dry-run --Werror "${sources[@]}"; then
    echo "check: clang-format: run clang-format -i on the files above" >&2
    status=1
fi

if ! cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
    --inline-suppr --suppress=missingIncludeSystem --std=c11 -I operator \
    "${sources[@]}"; then
    echo "check: cppcheck found the problems above" >&2
    status=1
fi

banned='\b(sprintf|vsprintf|strcpy|strcat|strtok|gets|atoi|atol|atof|localtime|gmtime|strerror|asctime|ctime)[[:space:]]*\('
if grep -nE "$banned" "${sources[@]}"; then
    echo "check: banned functions above; use snprintf, strtol, localtime_r/gmtime_r, strerror_r..." >&2
    status=1
fi
exit $status
