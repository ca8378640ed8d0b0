#!/bin/sh
# tests/lib/timed-driver.sh DRIVER ARGS... - runs automake's test driver (build-aux/tap-driver.sh) and writes the
# test's wall-clock duration in ms next to its .trs file (NAME.time), for tools/test-times.sh; a sandbox test that
# failed leaves its sandbox's journal beside it (NAME.journal), which tools/test-failures.sh prints.
trs=
prev=
for a; do
	[ "$prev" = --trs-file ] && trs=$a
	prev=$a
done
# where a sandbox test leaves its sandbox's journal when it failed (tests/lib/sandbox.sh, sandbox_stop)
[ -n "$trs" ] && BALLAST_FAIL_JOURNAL="${trs%.trs}.journal" && export BALLAST_FAIL_JOURNAL && rm -f "$BALLAST_FAIL_JOURNAL"
t0=$(date +%s%N)
"$@"
rc=$?
[ -n "$trs" ] && echo $(( ($(date +%s%N) - t0) / 1000000 )) > "${trs%.trs}.time"
exit $rc
