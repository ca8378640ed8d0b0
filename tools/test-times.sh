#!/bin/sh
# tools/test-times.sh BUILDDIR [LABEL] - every test's duration in the last `make check` of BUILDDIR (the NAME.time
# files tests/lib/timed-driver.sh writes), the slowest ten, and the sum (with make -j2, the wall clock is less).
set -u
dir=$1 label=${2:-$1}
list=$(find "$dir/tests" -name '*.time' 2>/dev/null | while read -r f; do
	printf '%s %s\n' "$(cat "$f")" "${f#"$dir"/}"; done | sed 's/\.time$//' | sort -n)
[ -n "$list" ] || { echo "test-times: no durations in $dir (no make check run there yet)"; exit 0; }
echo "test-times: $label: every test, in ms"
printf '%s\n' "$list" | awk '{ printf "  %8d  %s\n", $1, $2 }'
echo "test-times: $label: the slowest ten"
printf '%s\n' "$list" | sort -rn | head -n 10 | awk '{ printf "  %8d  %s\n", $1, $2 }'
printf '%s\n' "$list" | awk -v l="$label" '{ s += $1; n++ } END { printf "test-times: %s: %d tests, %.1f min in all (sum of durations)\n", l, n, s / 60000 }'
