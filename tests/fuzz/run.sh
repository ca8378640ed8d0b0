#!/bin/sh
# Runs libFuzzer harnesses one after the other, each for a fixed time, and prints executions and crashes per
# target (`make fuzz` in a --enable-fuzz build; tests/fuzz/fuzz-smoke.sh with --tap).
#   run.sh --seconds S --srcdir DIR [--tap] [--work DIR] HARNESS...
# Each HARNESS is tests/fuzz/fuzz-TARGET. Its seeds are DIR/tests/fuzz/corpus/TARGET (read only: new inputs go
# to WORK/corpus/TARGET, kept between runs), its dictionary DIR/tests/fuzz/dict/TARGET.dict when there is one,
# and a crash or a broken invariant leaves its input in WORK/artifacts/TARGET/ (the path is printed).
# Exit status: 0 when no target crashed.
set -u
seconds=60 srcdir=. tap=0 work=fuzz-work
while [ $# -gt 0 ]; do
	case "$1" in
	--seconds) seconds=$2; shift 2 ;;
	--srcdir) srcdir=$2; shift 2 ;;
	--work) work=$2; shift 2 ;;
	--tap) tap=1; shift ;;
	*) break ;;
	esac
done
n=0 failed=0 total_execs=0
for h in "$@"; do
	n=$((n + 1))
	name=$(basename "$h")
	target=${name#fuzz-}
	seeds=$srcdir/tests/fuzz/corpus/$target
	mkdir -p "$work/corpus/$target" "$work/artifacts/$target"
	log=$work/$target.log
	set -- -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
		-artifact_prefix="$work/artifacts/$target/"
	[ -f "$srcdir/tests/fuzz/dict/$target.dict" ] && set -- "$@" -dict="$srcdir/tests/fuzz/dict/$target.dict"
	"$h" "$@" "$work/corpus/$target" "$seeds" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	execs=${execs:-0}
	artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
	total_execs=$((total_execs + execs))
	if [ "$rc" -eq 0 ] && [ -z "$artifact" ] && [ "$execs" -gt 0 ]; then
		line="$target: $execs executions in ${seconds}s, 0 crashes"
		[ "$tap" = 1 ] && echo "ok $n - $line" || echo "$line"
	else
		failed=$((failed + 1))
		line="$target: $execs executions, CRASH (exit $rc) ${artifact:+input $artifact}; log $log"
		[ "$tap" = 1 ] && echo "not ok $n - $line" || echo "$line"
		# what went wrong, for the test log
		grep -E '^==[0-9]+==ERROR|SUMMARY|invariant violated|^ *#[0-9]+ .*[a-z]\.c:[0-9]+' "$log" | head -16 |
			sed 's/^/# /'
	fi
done
[ "$tap" = 1 ] && echo "1..$n"
[ "$tap" = 1 ] || echo "fuzz: $n targets, $total_execs executions, $failed crashed"
[ "$failed" -eq 0 ]
