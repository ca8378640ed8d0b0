#!/bin/sh
# tools/check-loaded.sh CMD... - runs CMD (make check) with deliberate extra load: one busy loop per core at
# normal priority (stress-ng --cpu when it is installed), so that the tests meet a machine busier than CI's.
# `make check-loaded [TESTS="..."]` runs it. The load ends with CMD, by its recorded PIDs.
set -u
n=$(nproc)
pids=
stop_load() { [ -n "$pids" ] && kill $pids 2>/dev/null; wait 2>/dev/null; pids=; }
trap stop_load EXIT
trap 'exit 130' INT TERM HUP
if command -v stress-ng >/dev/null 2>&1; then
	stress-ng --cpu "$n" --quiet >/dev/null 2>&1 &
	pids=$!
	echo "check-loaded: stress-ng --cpu $n"
else
	i=0
	while [ "$i" -lt "$n" ]; do
		sh -c 'while :; do :; done' &
		pids="$pids $!"
		i=$((i + 1))
	done
	echo "check-loaded: $n busy loops"
fi
t0=$(date +%s)
"$@"
rc=$?
echo "check-loaded: $* exited $rc after $(( $(date +%s) - t0 )) s under load"
exit $rc
