#!/bin/bash
# Fault: ballastd killed (SIGKILL) at random points of apply and remove, KILLS times (default 100; 30 in a
# sanitizer build).
#
# Three services, two exec ones (cheap, so that a hundred rounds stay short) and a Docker one (its container body
# is state too, and its container must be neither duplicated nor left behind), are applied, changed (a new value
# of the environment variable V, which needs a restart) and removed at random. Every round kills ballastd in the
# middle of one such operation, in one of two ways, alternately:
#  - timed: `ballastctl apply|rm` is started inside the sandbox and ballastd is killed 0-50 ms later (random):
#    wherever the daemon happens to be (reading the call, validating, writing the spec, writing the unit, waiting
#    for systemd's reload or job);
#  - at a system call: strace is attached to ballastd with `-e inject=SYSCALL:signal=KILL:when=N`, so the kernel
#    delivers SIGKILL when ballastd enters the N-th rename / fsync / unlink / symlink of the operation (SYSCALL and
#    N random among those the operation makes): points inside the write path (write_file_atomic: temp file,
#    fsync, rename, fsync of the directory; the wants links; the unlinks of rm) that a timer hits only by luck on
#    a tmpfs where a write takes microseconds. No code in ballastd is needed for it. If the operation makes fewer
#    such calls, it completes and ballastd is killed right after it instead (counted and shown).
# After each kill, before ballastd runs again: every file in /var/lib/ballast/services parses (jq) and is byte
# for byte the normalized spec of either the old or the new desired state, and the set of files is the old or the
# new state; every container body in containers/ parses, every restart mark in restart-pending/ is empty. Then ballastd is started again, and within 20 s (tests/lib/fault-check.sh): every service of that state
# runs (unit file there, active, its process or its one container started with the persisted V), every other one
# is gone (no unit file, unknown to systemd, not running, no container), no process runs in ballast.slice but
# theirs, no wants link dangles and no temporary file is left.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/sandbox.sh"
. "$here/../lib/lib.sh"

# A sanitizer build runs 30 rounds: each round's restart and recovery paths are the same code as in the plain pass's
# 100 (which has the statistics), and a round under ASan takes three times as long, mostly waiting
KILLS=${KILLS:-$(ballast_sanitized && echo 30 || echo 100)}
SB_DIR=$(mktemp -d /var/tmp/ballast-it-fault-kill.XXXXXX)
trap 'sandbox_stop "$SB_DIR" --purge >/dev/null 2>&1; rm -rf "$SB_DIR"' EXIT
sandbox_start "$SB_DIR" --docker || bail "cannot start the sandbox"
# Restart=no: the test starts ballastd again itself, at once, after checking the disk
EXTRA_DROPIN='Restart=no' ballast_install || bail "cannot install ballast into the sandbox"
need strace jq
command -v jq >/dev/null || bail "jq is not installed (tools/deps.sh installs it)"
root=/proc/$SANDBOX_PID/root
S=/var/lib/ballast
NAMES=(k1 k2 d1)
SPECS=$SB_DIR/specs
mkdir -p "$SPECS"
sb systemctl start ballastd.socket

spec_file() {  # NAME VERSION -> path of a spec file
	local f=$SPECS/$1-$2.json
	[ -e "$f" ] && { echo "$f"; return; }
	case $1 in
	# max_delay_ms 200: every kill restarts services quickly, which ballast-run counts as a crash loop; its backoff
	# (up to 30 s by default) must not outlast the 20 s the checks give a state to converge
	d*) printf '{"name": "%s", "image": "local/busybox:latest", "command": ["/bin/sh", "-c", "trap \\"exit 0\\" TERM; sleep 1000000 & wait"], "env": {"V": "%s"},\n "restart": {"policy": "always", "delay_ms": 0, "max_delay_ms": 200}}\n' "$1" "$2" > "$f" ;;
	*) printf '{"name": "%s", "runtime": "exec", "command": ["/bin/sleep", "infinity"], "env": {"V": "%s"},\n "restart": {"policy": "always", "delay_ms": 0, "max_delay_ms": 200}}\n' "$1" "$2" > "$f" ;;
	esac
	echo "$f"
}

# the state checker (tests/lib/fault-check.sh), run inside the sandbox
check="$here/../lib/fault-check.sh"

# --- the start: every service applied once without a fault; their normalized spec texts are the reference ---
declare -A want norm
for n in "${NAMES[@]}"; do
	bctl -t 20 apply "$(spec_file "$n" 1)" >/dev/null || bail "cannot apply $n"
	want[$n]=1
	norm[$n]=$(cat "$root$S/services/$n.json")
done
sb "$check" 20 k1=1 k2=1 d1=1
ok $? "three services applied and running (two exec, one Docker)"
like "${norm[k1]}" '"V": "1"' "the persisted, normalized spec carries V"
expected_text() { local t=${norm[$1]}; echo "${t//\"V\": \"1\"/\"V\": \"$2\"}"; }
model_args() { local n a=; for n in "${NAMES[@]}"; do a="$a $n=${want[$n]}"; done; echo "$a"; }
ballastd_pid() { sb systemctl show -P MainPID ballastd.service; }

# What /var/lib/ballast/services says now: prints NAME=VERSION for each, or a problem line starting with '!'.
# (each file is {"version": 1, "spec": {…}}: docs/INSTALL.md "State files")
disk_state() {
	local f n t v
	for f in "$root$S/services/"*; do
		[ -e "$f" ] || continue
		n=${f##*/}
		case $n in
		.\#*) continue ;;   # a temp file of an interrupted write: not state (removed at the next start)
		*.json) n=${n%.json} ;;
		*) echo "!unexpected file $n"; continue ;;
		esac
		if ! jq -e . "$f" >/dev/null 2>&1; then echo "!$n.json does not parse"; continue; fi
		v=$(jq -r '.spec.env.V' "$f")
		t=$(cat "$f")
		[ "$t" = "$(expected_text "$n" "$v")" ] || { echo "!$n.json is not the normalized spec of V=$v"; continue; }
		echo "$n=$v"
	done
	# the other files ballastd owns there: the Docker services' container bodies (JSON), the restart marks (empty)
	for f in "$root$S/containers/"*.json; do
		[ -e "$f" ] || continue
		jq -e '.Labels["io.ballast.hash"]' "$f" >/dev/null 2>&1 || echo "!containers/${f##*/} does not parse as a create body"
	done
	for f in "$root$S/restart-pending/"*; do
		[ -e "$f" ] || continue
		[ ! -s "$f" ] || echo "!restart-pending/${f##*/} is not an empty mark"
	done
}

# the system calls of each operation's write path (write_file_atomic: openat of the temp file, fsync, rename, fsync
# of the directory; the wants links; the unlinks of rm) and how many of each it makes at most
points_apply_new="rename:3 fsync:6 symlink:2"   # the spec, the container body, the unit; the wants links
points_apply_change="rename:4 fsync:8"          # the restart mark, the spec, the body, the unit
points_rm="unlink:6 fsync:5"
n_timed=0 n_strace=0 n_inside=0 n_new=0 n_old=0 worst_ms=0 failures=0
t_start=$(date +%s)
for i in $(seq "$KILLS"); do
	n=${NAMES[RANDOM % 3]}
	old=${want[$n]}
	if [ -z "$old" ]; then
		op=apply new=$((RANDOM % 1000 + 2))
	elif [ $((RANDOM % 2)) = 0 ]; then
		op=apply new=$((old + 1))
	else
		op=rm new=
	fi
	if [ "$op" = apply ]; then cmd="$BALLAST_BIN/ballastctl -t 5 apply $(spec_file "$n" "$new")"; else cmd="$BALLAST_BIN/ballastctl -t 5 rm $n"; fi
	pid=$(ballastd_pid)
	if [ -z "$pid" ] || [ "$pid" = 0 ]; then bail "round $i: ballastd is not running before the fault"; fi
	if [ $((i % 2)) = 1 ]; then
		n_timed=$((n_timed + 1))
		d=$(printf '0.%03d' $((RANDOM % 51)))
		how="timed, ${d#0.} ms"
		sb bash -c "$cmd >/dev/null 2>&1 & c=\$!; sleep $d; kill -9 $pid; wait \$c" 2>/dev/null
	else
		n_strace=$((n_strace + 1))
		if [ "$op" = rm ]; then pts=($points_rm); elif [ -z "$old" ]; then pts=($points_apply_new); else pts=($points_apply_change); fi
		p=${pts[RANDOM % ${#pts[@]}]}
		sc=${p%%:*} k=$((RANDOM % ${p#*:} + 1))
		how="at $sc #$k"
		# strace attached (TracerPid set) before the call is sent; if the call completes, the kill comes after it
		res=$(sb bash -c "strace -qq -f -o /dev/null -e trace=$sc -e inject=$sc:signal=KILL:when=$k -p $pid & s=\$!
			for j in \$(seq 100); do grep -q '^TracerPid:[[:space:]]*[1-9]' /proc/$pid/status 2>/dev/null && break; sleep 0.02; done
			$cmd >/dev/null 2>&1
			# the reply comes before the unit is written (and ptrace slows ballastd down): give the rest of the
			# operation up to a second to reach the chosen call
			for j in \$(seq 50); do st=\$(sed 's/.*) //' /proc/$pid/stat 2>/dev/null | cut -c1); [ -n \"\$st\" ] && [ \"\$st\" != Z ] || break; sleep 0.02; done
			st=\$(sed 's/.*) //' /proc/$pid/stat 2>/dev/null | cut -c1)   # killed and not reaped yet: Z
			if [ -n \"\$st\" ] && [ \"\$st\" != Z ]; then echo completed; kill -9 $pid; fi
			wait \$s" 2>/dev/null)
		if [ "$res" = completed ]; then how="$how (not reached: killed after the call)"; else n_inside=$((n_inside + 1)); fi
	fi
	wait_for 5 sh -c "[ \"\$(nsenter -t $SANDBOX_PID -a -r -w systemctl show -P MainPID ballastd.service)\" != $pid ]"

	# the disk, before ballastd runs again (or, when the killed call's client started it again by socket
	# activation, after that one applied the same call)
	ds=$(disk_state)
	got=
	problem=$(echo "$ds" | grep '^!' | head -3 | tr '\n' ' ')
	for m in "${NAMES[@]}"; do
		v=$(echo "$ds" | sed -n "s/^$m=//p")
		if [ "$m" = "$n" ]; then
			got=$v
			[ "$v" = "$old" ] || [ "$v" = "$new" ] || problem="$problem $m: V=${v:-absent}, neither old ${old:-absent} nor new ${new:-absent};"
		else
			[ "$v" = "${want[$m]}" ] || problem="$problem $m: V=${v:-absent} changed by an operation on $n;"
		fi
	done
	if [ "$got" = "$new" ] && [ "$new" != "$old" ]; then n_new=$((n_new + 1)); else n_old=$((n_old + 1)); fi
	want[$n]=$got

	sb systemctl start ballastd.service
	t0=$(date +%s%N)
	res=$(sb "$check" 20 $(model_args))
	st=$?
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	[ "$ms" -gt "$worst_ms" ] && worst_ms=$ms
	desc="kill $i ($how) during $op $n ${old:-absent}→${new:-absent}: disk says ${got:-absent}"
	if [ -z "$problem" ] && [ "$st" = 0 ]; then
		ok 0 "$desc; converged in $ms ms"
	else
		ok 1 "$desc"
		diag "disk: ${problem:-ok}; after the restart: ${res:-ok}"
		sb systemctl show -p LoadState -p ActiveState -p SubState -p NeedDaemonReload -p MainPID "ballast-$n.service" | sed 's/^/#   /'
		sandbox_journal -u ballastd.service -o short-monotonic -n 25 | sed 's/^/#   /'
		failures=$((failures + 1))
		[ "$failures" -ge 5 ] && bail "five rounds failed; stopping"
	fi
done
diag "$KILLS kills in $(( $(date +%s) - t_start )) s: $n_timed timed, $n_strace at a system call ($n_inside of them inside the operation); the disk held the old state $n_old times, the new $n_new times; slowest convergence after a restart $worst_ms ms"
diag "temporary files of interrupted writes removed at a start: $(sandbox_journal -u ballastd.service -o cat | grep -c 'temporary file(s) an interrupted write left')"

done_testing
