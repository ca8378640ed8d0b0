#!/bin/bash
# Fault: systemd daemon-reload storms while ballast applies, changes and removes services. A loop of
# `systemctl daemon-reload` runs in the background for the whole test (bounded: at most 3000 reloads and 150 s),
# so that ballastd's own Reload, its StartUnit / RestartUnit / StopUnit jobs and the JobRemoved and
# PropertiesChanged signals it waits for all meet reloads in progress. Six services are applied, changed and
# partly removed over several rounds; after every step (each ballastctl call must succeed) the services must be
# exactly what was asked within 20 s (tests/lib/fault-check.sh: unit files, active, started with the right spec,
# removed ones gone from disk and from systemd, nothing else in ballast.slice, no dangling link).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/sandbox.sh"
. "$here/../lib/lib.sh"

ROUNDS=${ROUNDS:-4}
SB_DIR=$(mktemp -d /var/tmp/ballast-it-fault-reload.XXXXXX)
trap 'sandbox_stop "$SB_DIR" --purge >/dev/null 2>&1; rm -rf "$SB_DIR"' EXIT
sandbox_start "$SB_DIR" || bail "cannot start the sandbox"
ballast_install || bail "cannot install ballast into the sandbox"
check="$here/../lib/fault-check.sh"
SPECS=$SB_DIR/specs
mkdir -p "$SPECS"
sb systemctl start ballastd.socket
bctl status >/dev/null || bail "ballastd does not answer"
bpid=$(sb systemctl show -P MainPID ballastd.service)

NAMES=(s1 s2 s3 s4 s5 s6)
declare -A want
spec_file() {  # NAME VERSION
	local f=$SPECS/$1-$2.json
	printf '{"name": "%s", "runtime": "exec", "command": ["/bin/sleep", "infinity"], "env": {"V": "%s"},\n "restart": {"policy": "always", "delay_ms": 0, "max_delay_ms": 200}}\n' "$1" "$2" > "$f"
	echo "$f"
}
model_args() { local n a=; for n in "${NAMES[@]}"; do a="$a $n=${want[$n]:-}"; done; echo "$a"; }
converged() {  # DESCRIPTION
	local res st t0=$(date +%s%N)
	res=$(sb "$check" 20 $(model_args)); st=$?
	ok $st "$1: as asked within $(( ($(date +%s%N) - t0) / 1000000 )) ms"
	[ $st = 0 ] || diag "still wrong: $res"
}

# --- the storm: daemon-reloads back to back, in the background, bounded in count and time ---
sb timeout 150 bash -c 'n=0; for i in $(seq 3000); do [ -e /run/stop-storm ] && break; systemctl daemon-reload && n=$((n + 1)); done; echo $n > /run/storm-count' &
storm=$!
sleep 0.5
t0=$(date +%s)

for r in $(seq "$ROUNDS"); do
	files=
	for n in "${NAMES[@]}"; do files="$files $(spec_file "$n" "$r")"; want[$n]=$r; done
	out=$(bctl -t 30 apply $files 2>&1)
	ok $? "round $r: apply of six services (V=$r) succeeds during the storm"
	converged "round $r: after the apply"
	# remove two (a different pair each round) while the restarts of the others may still be settling
	a=${NAMES[$(( (r - 1) % 6 ))]} b=${NAMES[$(( (r + 2) % 6 ))]}
	bctl -t 30 rm "$a" >/dev/null && bctl -t 30 rm "$b" >/dev/null
	ok $? "round $r: rm $a and $b succeed during the storm"
	want[$a]= want[$b]=
	converged "round $r: after the removals"
done
# and one apply --wait, which follows the unit's jobs and signals until it is active
want[s1]=w
out=$(bctl -t 30 apply --wait "$(spec_file s1 w)" 2>&1)
like "$out" "s1: active" "apply --wait during the storm follows the service until it is active"
converged "after apply --wait"

sb touch /run/stop-storm
wait "$storm"
reloads=$(sb cat /run/storm-count 2>/dev/null)
like "$reloads" '^[0-9]+$' "the storm ran to the end"
ok $(( ${reloads:-0} >= 20 ? 0 : 1 )) "with ${reloads:-0} daemon-reloads in $(( $(date +%s) - t0 )) s while ballast worked"
converged "after the storm"
is "$(sb systemctl show -P MainPID ballastd.service)" "$bpid" "ballastd is the same process throughout"
is "$(sb systemctl list-units --all --no-legend --plain 'ballast-*.service' --state=failed | wc -l)" 0 "no ballast unit failed"
like "$(bctl ps)" "s1 +(file|applied) +exec +active \(running\)" "ps agrees"

done_testing
