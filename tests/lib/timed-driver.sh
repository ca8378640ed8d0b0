#!/bin/sh
# tests/lib/timed-driver.sh DRIVER ARGS... - runs automake's test driver (build-aux/tap-driver.sh) and writes the
# test's wall-clock duration in ms next to its .trs file (NAME.time), for tools/test-times.sh.
trs=
prev=
for a; do
	[ "$prev" = --trs-file ] && trs=$a
	prev=$a
done
t0=$(date +%s%N)
"$@"
rc=$?
[ -n "$trs" ] && echo $(( ($(date +%s%N) - t0) / 1000000 )) > "${trs%.trs}.time"
exit $rc
