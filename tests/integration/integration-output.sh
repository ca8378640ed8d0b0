#!/bin/bash
# The container's output in the unit's journal, against a real systemd and a real dockerd (the sandbox of
# tests/lib/sandbox.sh): ballast-run attaches to the container and writes its stdout and stderr to its own,
# so `journalctl -u ballast-NAME.service` alone shows them (stderr at priority 3, stdout at 6), and not
# under docker.service; new lines still arrive after dockerd restarts; a container that prints a burst and
# exits loses nothing (nor its last, unterminated line); a 100 000-byte line is cut into pieces of at most
# 16 KiB (ballast-run's bound); `ballastctl logs NAME -n 5` reads the unit.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/sandbox.sh"
. "$here/../lib/lib.sh"

ballast_run_sandbox_start output ballastctl

# body NAME CMD-JSON: the create body, shaped like units.c's container_create_body() (its LogConfig too)
body() {
	cat > "$ROOT$BODIES/$1.json" <<-EOF
	{"Image":"local/busybox:latest","Cmd":$2,"Env":[],
	 "Labels":{"io.ballast.service":"$1","io.ballast.unit":"ballast-$1.service","io.ballast.hash":"h-$1"},
	 "HostConfig":{"RestartPolicy":{"Name":"no"},
	   "LogConfig":{"Type":"local","Config":{"max-size":"10m","max-file":"3"}},"Init":false}}
	EOF
}
# unit NAME RESTART: the unit's lines that matter here, as units.c writes them
unit() {
	cat > "$ROOT/etc/systemd/system/ballast-$1.service" <<-EOF
	[Unit]
	Requires=docker.service
	After=docker.service
	StartLimitIntervalSec=0

	[Service]
	Type=notify
	NotifyAccess=main
	ExecStart=$BIN/ballast-run docker --name $1 --body $BODIES/$1.json --stop-timeout 1 --control-socket "" --delay-ms 100 --max-delay-ms 1000 --restart $2
	Restart=$2
	RestartSec=0
	KillMode=mixed
	SyslogIdentifier=$1
	EOF
	sb systemctl daemon-reload
}
journal() { sandbox_journal -u "ballast-$1.service" -o cat "${@:2}"; }
has() { journal "$1" | grep -q -- "$2"; }
after() { sandbox_journal -u "ballast-$1.service" -o cat --after-cursor="$2" | grep -q -- "$3"; }

# ---- a chatty service: both streams, under the unit, with their priorities ---------------------------------
step "stdout and stderr in the unit's journal"
body talk '["sh","-c","i=0; while :; do i=$((i+1)); echo \"out-line $i\"; echo \"err-line $i\" >&2; sleep 0.2; done"]'
unit talk always
sb systemctl start ballast-talk.service || { journal talk -n 20 | sed "s/^/# /"; bail "cannot start ballast-talk.service"; }
wait_for 10 has talk 'out-line 3'; ok $? "journalctl -u ballast-talk.service shows the container's stdout"
wait_for 10 has talk 'err-line 3'; ok $? "and its stderr"
like "$(journal talk -p 3..3)" "err-line 2" "the stderr lines have priority 3 (err)"
is "$(journal talk -p 3..3 | grep -c out-line)" 0 "the stdout lines do not"
like "$(journal talk -p 6..6)" "out-line 2" "the stdout lines have priority 6 (info)"
is "$(sandbox_journal -u docker.service -o cat | grep -c 'out-line')" 0 "none of it is in docker.service's journal"
like "$(sb $DOCKER logs --tail 2 ballast-talk 2>&1)" "line" "docker logs still has it (the local driver)"

# ---- dockerd restarts: the output goes on -----------------------------------------------------------------
step "dockerd restart"
cursor=$(sandbox_journal -u ballast-talk.service -n 0 --show-cursor | sed -n 's/^-- cursor: //p')
[ -n "$cursor" ] || bail "no journal cursor"
sb systemctl restart docker.service
sandbox_wait_unit docker.service active 20 || bail "docker.service did not come back"
wait_for 30 after talk "$cursor" 'out-line 3$'; ok $? "after systemctl restart docker, new stdout lines arrive under the unit"
wait_for 10 after talk "$cursor" 'err-line 3$'; ok $? "and new stderr lines"
out=$(sb "$BIN/ballastctl" logs talk -n 5 -o cat 2>&1)
is "$(printf '%s\n' "$out" | wc -l)" 5 "ballastctl logs talk -n 5: five lines"
like "$out" "(out|err)-line [0-9]+" "of the container's output"
like "$(sb "$BIN/ballastctl" logs talk -o cat --since -1h 2>&1)" "Started ballast-talk.service" \
	"ballastctl logs has systemd's lines about the unit too (and --since goes through)"
sb systemctl stop ballast-talk.service

# ---- a burst, then exit: nothing lost ---------------------------------------------------------------------
step "burst and exit"
body burst '["sh","-c","i=0; while [ $i -lt 2000 ]; do i=$((i+1)); echo burst-$i; done; head -c 100000 /dev/zero | tr \"\\\\0\" x; echo; printf last-unterminated >&2"]'
unit burst no
sb systemctl start ballast-burst.service
wait_for 20 sh -c "[ \"\$(nsenter -t $SANDBOX_PID -a -r -w systemctl show -P ActiveState ballast-burst.service)\" != active ]"
ok $? "the burst service ran and ended"
# the exit is noticed when the container exits, not at the next minute's wake-up of ballast-run's loop
finished=$(date -d "$(sb $DOCKER inspect -f '{{.State.FinishedAt}}' ballast-burst)" +%s%N)
inactive=$(sb systemctl show -P InactiveEnterTimestampMonotonic ballast-burst.service)
active=$(sb systemctl show -P ActiveEnterTimestampMonotonic ballast-burst.service)
started=$(date -d "$(sb $DOCKER inspect -f '{{.State.StartedAt}}' ballast-burst)" +%s%N)
# both spans from the container's own start and exit: the unit's life beyond the container's, in ms
extra=$(( (inactive - active) / 1000 - (finished - started) / 1000000 ))
budget=$(time_budget 5000)
ok $([ "$extra" -lt "$budget" ]; echo $?) "the unit ended ${extra} ms after the container's run (less than $budget ms)"
wait_for 5 has burst 'last-unterminated'
ok $? "its last line, written without a newline just before the exit, is in the journal"
is "$(journal burst | grep -c '^burst-[0-9]*$')" 2000 "all 2000 lines of the burst are there"
is "$(journal burst | grep '^burst-' | tail -1)" burst-2000 "the last one too"
lens=$(journal burst | awk '/^x+$/ { printf "%s%d", sep, length($0); sep = " " }')
is "$lens" "16384 16384 16384 16384 16384 16384 1696" "the 100000-byte line came in pieces of at most 16 KiB, none lost"

done_testing
