#!/bin/bash
# The control socket's security and its behaviour under load, against ballastd in the sandbox's systemd:
# - who may change things: root and members of the group `ballast` (primary or supplementary), with real uids;
#   the socket file (0660, group ballast) keeps others out, and ballastd's own check (SO_PEERCRED and
#   SO_PEERGROUPS) refuses their writes with PermissionDenied when an operator opens the file to everyone;
# - load: LOAD_CLIENTS (200) clients calling GetStatus back to back while slow clients send a byte a second,
#   others disconnect mid-message and others send messages exactly at and just over the 128 KiB limit: every
#   call is answered, GetStatus's p99 stays under P99_BOUND_MS, the slow clients are dropped after the 10 s
#   stall limit, and ballastd's memory stays bounded;
# - the memory bound: HOLD_USERS users (in the group) open HOLD_CONNS connections each, every one holding a
#   partial 128 KiB message: each uid gets at most 64 connections, the buffers of all stay within 16 MiB (the
#   others hear ServerBusy and are closed), ballastd keeps answering and stays far under MemoryMax=64M.
# bench/bench-socket.sh runs this test and prints its figures (the "# figure:" lines).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/sandbox.sh"
. "$here/../lib/lib.sh"

LOAD_CLIENTS=${LOAD_CLIENTS:-200}
LOAD_SECONDS=${LOAD_SECONDS:-8}
SLOW_CLIENTS=${SLOW_CLIENTS:-20}
# generous: on the 2-CPU CI machine, with the other tests running beside this one, under ASan (~3x slower)
P99_BOUND_MS=${P99_BOUND_MS:-500}
# what the load may add to ballastd's peak resident memory (VmHWM over the idle VmRSS): 200 clients, 20 of them
# holding part of a message, and 128 KiB messages being read; ASan's shadow and quarantine need more
RSS_BOUND_KB=16384
ballast_sanitized && RSS_BOUND_KB=65536
HOLD_USERS=${HOLD_USERS:-4}
HOLD_CONNS=${HOLD_CONNS:-80}

SB_DIR=$(mktemp -d /var/tmp/ballast-it-socket.XXXXXX)
trap 'sandbox_stop "$SB_DIR" --purge >/dev/null 2>&1; rm -rf "$SB_DIR"' EXIT
sandbox_start "$SB_DIR" || bail "cannot start the systemd sandbox"
ballast_install || bail "cannot install ballast into the sandbox"
need socat setpriv useradd
root=/proc/$SANDBOX_PID/root
for f in tests/helpers/vl-send tests/helpers/vl-hold bench/varlink-load; do
	cp "$top_builddir/$f" "$root$BALLAST_BIN/" || bail "cannot copy $f (make check builds it)"
done
[ -n "$BALLAST_SAN_DIR" ] && chmod 1777 "$BALLAST_SAN_DIR"   # the other users' reports too
SOCK=/run/ballast/ballastd.sock
sb systemctl start ballastd.socket
bctl status >/dev/null || bail "ballastd does not answer"

# --- real users: a supplementary member of ballast, a primary member, and one outside it ---
sb useradd --system --no-create-home --groups ballast sockmember || bail "useradd"
sb useradd --system --no-create-home --gid ballast sockprimary || bail "useradd"
sb useradd --system --no-create-home sockother || bail "useradd"
as() {  # as USER CMD...: with USER's uid, primary gid and supplementary groups
	local u=$1; shift
	sb setpriv --reuid="$u" --regid="$(sb id -g "$u")" --init-groups "$@"
}
vl_as() { printf '%s\0' "$2" | as "$1" "$BALLAST_BIN/vl-send" "$SOCK" 5000; }
spec='{"name": "sockt", "runtime": "exec", "command": ["/bin/sleep", "1000"]}'
apply_msg="{\"method\":\"io.ballast.Agent.ApplyService\",\"parameters\":{\"spec\":$spec}}"
printf '%s\n' "$spec" > "$root/var/tmp/sockt.json"

is "$(sb stat -c '%a %G' $SOCK)" "660 ballast" "the socket file is 0660, group ballast"
out=$(as sockother "$BALLAST_BIN/ballastctl" status 2>&1); st=$?
is "$st" 3 "a user outside the group cannot even connect (ballastctl exits 3: permission denied)"
like "$out" "[Pp]ermission denied" "and is told why"
like "$(as sockmember "$BALLAST_BIN/ballastctl" status 2>&1)" "^Node: " "a supplementary member of ballast reads the status"
out=$(as sockmember "$BALLAST_BIN/ballastctl" apply /var/tmp/sockt.json 2>&1)
ok $? "and may apply a service ($out)"
wait_for 10 sh -c "[ \$(nsenter -t $SANDBOX_PID -a -r -w systemctl show -P ActiveState ballast-sockt.service) = active ]"
ok $? "which runs"
check "a primary member of ballast may restart it" -- as sockprimary "$BALLAST_BIN/ballastctl" restart sockt

# ballastd's own check, past the file mode: an operator opens the socket to everyone
sb chmod 0666 $SOCK
like "$(as sockother "$BALLAST_BIN/ballastctl" status 2>&1)" "^Node: " "with the file open to all, an outsider reads the status"
like "$(as sockother "$BALLAST_BIN/ballastctl" ps 2>&1)" "sockt" "and the list of services"
state0=$(sb sh -c 'ls -l --time-style=+%s.%N /var/lib/ballast/services /etc/systemd/system | md5sum')
spec2=${spec//sockt/sockx}
like "$(vl_as sockother "{\"method\":\"io.ballast.Agent.ApplyService\",\"parameters\":{\"spec\":$spec2}}")" \
	'"error":"org.varlink.service.PermissionDenied"' "but ApplyService is refused with PermissionDenied"
like "$(vl_as sockother '{"method":"io.ballast.Agent.RemoveService","parameters":{"name":"sockt"}}')" \
	'"error":"org.varlink.service.PermissionDenied"' "RemoveService too"
like "$(vl_as sockother '{"method":"io.ballast.Agent.RestartService","parameters":{"name":"sockt"}}')" \
	'"error":"org.varlink.service.PermissionDenied"' "RestartService too"
like "$(vl_as sockother '{"method":"io.ballast.Agent.Drain","parameters":{}}')" \
	'"error":"org.varlink.service.PermissionDenied"' "Drain too"
out=$(as sockother "$BALLAST_BIN/ballastctl" rm sockt 2>&1); st=$?
ok $((st == 0)) "ballastctl rm as the outsider fails ($out)"
is "$(sb systemctl show -P ActiveState ballast-sockt.service)" active "the service is untouched"
is "$(sb sh -c 'ls -l --time-style=+%s.%N /var/lib/ballast/services /etc/systemd/system | md5sum')" "$state0" \
	"nothing was written: state dir and unit dir unchanged"
uid_other=$(sb id -u sockother)
like "$(sandbox_journal -u ballastd.service -o cat | grep 'Refused')" "Refused io.ballast.Agent.ApplyService from uid $uid_other" \
	"each refusal is logged with the uid"
like "$(vl_as sockmember '{"method":"io.ballast.Agent.RemoveService","parameters":{"name":"sockt"}}')" \
	'"parameters"' "the member removes the service over the same open socket"

# --- a read method changes nothing: WaitHealthy from a reader neither runs checks nor holds off a restart ---
# hcro's check counts its runs and passes; its interval is long: a run is the start's, or one a caller forced
cat > "$root/var/tmp/hcro.json" <<'JSON'
{"name": "hcro", "runtime": "exec", "command": ["/bin/sleep", "infinity"], "restart": {"policy": "no"},
 "health": {"cmd": ["/bin/sh", "-c", "echo x >> /run/ballast/hcro.count"], "interval_ms": 600000,
            "timeout_ms": 2000, "retries": 1}}
JSON
bctl -t 20 apply --wait /var/tmp/hcro.json >/dev/null
ok $? "a service whose check counts its runs is healthy"
sb systemctl stop ballast-hcro.service
hcro_stopped() { bctl ps | grep -Eq 'hcro .* stopped'; }
wait_for 10 hcro_stopped
ok $? "stopped, its health is stopped"
runs0=$(sb cat /run/ballast/hcro.count | wc -l)
out=$(printf '%s\0' '{"method":"io.ballast.Agent.WaitHealthy","parameters":{"name":"hcro"}}' |
	as sockother "$BALLAST_BIN/vl-send" "$SOCK" 2000 2>&1); st=$?
is "$st $out" "3 " "a reader's WaitHealthy on the stopped service waits (vl-send timed out after 2 s)"
is "$(sb cat /run/ballast/hcro.count | wc -l)" "$runs0" "and ran no check"
like "$(bctl ps)" "hcro .* stopped" "the service is not called healthy"
bctl rm hcro >/dev/null
sb rm -f /run/ballast/hcro.count

# hcfail never passes: at the end of each start's grace (retries x interval + timeout) ballastd restarts it,
# unless ballast-run (a writer) waits; a reader waiting all along must not hold that restart off
cat > "$root/var/tmp/hcfail.json" <<'JSON'
{"name": "hcfail", "runtime": "exec", "command": ["/bin/sleep", "infinity"],
 "health": {"cmd": ["/bin/false"], "interval_ms": 400, "timeout_ms": 200, "retries": 1}}
JSON
bctl apply /var/tmp/hcfail.json >/dev/null
sandbox_wait_unit ballast-hcfail.service active 10
pidf() { sb systemctl show -P MainPID ballast-hcfail.service; }
p0=$(pidf); t0=$(date +%s%N)
wait_for 20 sh -c "p=\$(nsenter -t $SANDBOX_PID -a -r -w systemctl show -P MainPID ballast-hcfail.service); [ \"\$p\" != $p0 ] && [ \"\$p\" != 0 ]"
ok $? "with nobody waiting, its unhealthy start is restarted"
cycle_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
p0=$(pidf)
# three readers ask again and again (one is always waiting) for as long as three such cycles
end=$(( $(date +%s%N) / 1000000 + 3 * cycle_ms + 1000 )); readers=
for k in 1 2 3; do
	while [ $(( $(date +%s%N) / 1000000 )) -lt $end ]; do
		vl_as sockother '{"method":"io.ballast.Agent.WaitHealthy","parameters":{"name":"hcfail"}}' 2>&1
	done > "$SB_DIR/reader.$k" &
	readers="$readers $!"
done
wait $readers
p1=$(pidf)
pid_back() { p1=$(pidf); [ "$p1" != 0 ]; }
wait_for 10 pid_back  # (0: caught between the stop and the start of a restart)
n=$(cat "$SB_DIR"/reader.* | grep -c '"method"\|error\|parameters'); unhealthy=$(cat "$SB_DIR"/reader.* | grep -c Unhealthy)
ok $(( p1 != p0 ? 0 : 1 )) "with a reader waiting all along ($n calls, $unhealthy answered Unhealthy; a cycle took $cycle_ms ms), it is still restarted (MainPID $p0 -> $p1)"
ok $(( unhealthy > 0 ? 0 : 1 )) "and the reader is told Unhealthy"
bctl rm hcfail >/dev/null

# --- secrets: an exec service's environment reaches the process, and no other user can read a value ---
secret="s3cret-$RANDOM$RANDOM-value"
tricky=$'a "quoted" $HOME ${X} `cmd` \\ back\\slash %n 100% \ttab'
jq_tricky=$(printf '%s' "$tricky" | sed 's/\\/\\\\/g; s/"/\\"/g; s/\t/\\t/g')
unlike() { local got=$1 re=$2; shift 2; ! printf '%s' "$got" | grep -qE -- "$re"; ok $? "$*"; }
cat > "$root/var/tmp/sec.json" <<JSON
{"name": "sec", "runtime": "exec", "command": ["/bin/sleep", "infinity"],
 "env": {"TOKEN": "$secret", "TRICKY": "$jq_tricky", "EMPTY": ""}}
JSON
bctl -t 20 apply --wait /var/tmp/sec.json >/dev/null
ok $? "an exec service with a secret in its environment runs"
spid=$(sb systemctl show -P MainPID ballast-sec.service)
environ=$(sb cat /proc/$spid/environ | tr '\0' '\n')
like "$environ" "^TOKEN=$secret\$" "the process has the secret"
is "$(printf '%s\n' "$environ" | grep '^TRICKY=')" "TRICKY=$tricky" "and a value with quotes, \$, backslashes, % and a tab byte for byte"
like "$environ" "^EMPTY=\$" "and an empty one"
is "$(sb stat -c '%a %U' /var/lib/ballast/env/sec.env /var/lib/ballast/env | tr '\n' ' ')" "600 root 700 root " \
	"its environment file is root's, 0600, in a 0700 directory"
check "the unit names the file and carries no value" -- sh -c "grep -q '^EnvironmentFile=/var/lib/ballast/env/sec.env\$' $root/etc/systemd/system/ballast-sec.service && ! grep -q '$secret' $root/etc/systemd/system/ballast-sec.service"
for u in 65534 sockother sockmember; do
	if [ $u = 65534 ]; then run_as() { sb setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
	else run_as() { as $u "$@"; }; fi
	found=$(run_as grep -rlsF -e "$secret" /etc/systemd/system /var/lib/ballast /run/ballast 2>/dev/null)
	is "$found" "" "uid $u finds the secret in no file of the unit dir, the state dir or /run/ballast"
	out=$(run_as systemctl show ballast-sec.service 2>&1)
	like "$out" "EnvironmentFiles=/var/lib/ballast/env/sec.env" "uid $u: systemctl show names the file"
	unlike "$out" "$secret" "uid $u: and shows no value"
	out=$(printf '%s\0' '{"method":"io.ballast.Agent.GetService","parameters":{"name":"sec"}}' |
		run_as "$BALLAST_BIN/vl-send" "$SOCK" 5000)
	like "$out" '"TOKEN":"<redacted>"' "uid $u: GetService shows the keys with <redacted> values"
	unlike "$out" "$secret|quoted" "uid $u: and no value"
	out=$(printf '%s\0' '{"method":"io.ballast.Agent.ListServices","parameters":{}}' | run_as "$BALLAST_BIN/vl-send" "$SOCK" 5000)
	like "$out" '"name":"sec"' "uid $u: ListServices lists it"
	unlike "$out" "$secret" "uid $u: without a value"
done
check "root's ballastctl inspect shows no value either" -- sh -c "! nsenter -t $SANDBOX_PID -a -r -w $BALLAST_BIN/ballastctl inspect sec | grep -qF '$secret'"
bctl rm sec >/dev/null
check "rm removes the environment file" -- test ! -e "$root/var/lib/ballast/env/sec.env"

sb chmod 0660 $SOCK

# --- load ---
pid=$(sb systemctl show -P MainPID ballastd.service)
rss_kb() { sb sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$pid/status"; }
rss0=$(rss_kb VmRSS); anon0=$(rss_kb RssAnon)
pad_msg() {  # a GetStatus call of exactly $1 bytes (the NUL not counted)
	local pre='{"method":"io.ballast.Agent.GetStatus","parameters":{"pad":"' post='"}}'
	printf '%s%s%s' "$pre" "$(head -c $(($1 - ${#pre} - ${#post})) /dev/zero | tr '\0' x)" "$post"
}
pad_msg 131072 > "$SB_DIR/at-limit"; printf '\0' >> "$SB_DIR/at-limit"
pad_msg 131073 > "$SB_DIR/over-limit"; printf '\0' >> "$SB_DIR/over-limit"
is "$(($(stat -c %s "$SB_DIR/at-limit") - 1)) $(($(stat -c %s "$SB_DIR/over-limit") - 1))" "131072 131073" \
	"messages of exactly 128 KiB and of 128 KiB + 1 byte"
like "$(sb "$BALLAST_BIN/vl-send" $SOCK 5000 < "$SB_DIR/at-limit")" '"error":"org.varlink.service.InvalidParameter"' \
	"a message of exactly the limit is read and answered (its unknown parameter refused)"
like "$(sb "$BALLAST_BIN/vl-send" $SOCK 5000 < "$SB_DIR/over-limit")" '"error":"io.ballast.Agent.MessageTooLarge"' \
	"one byte more is MessageTooLarge"

# the abusers, each bounded in time, inside the sandbox
msg='{"method":"io.ballast.Agent.GetStatus","parameters":{}}'
sb bash -c "
	for i in \$(seq $SLOW_CLIENTS); do
		( m='$msg'; for ((k = 0; k < \${#m}; k++)); do printf '%s' \"\${m:k:1}\"; sleep 1; done ) |
			timeout 30 socat -t 30 - UNIX-CONNECT:$SOCK >/dev/null 2>&1 &
	done
	wait" &
slow_job=$!
sb bash -c "
	end=\$((SECONDS + $LOAD_SECONDS)); n=0
	while [ \$SECONDS -lt \$end ] && [ \$n -lt 2000 ]; do
		printf '{\"method\":\"io.ballast.Agent.GetSt' | timeout 5 socat -t 0 - UNIX-CONNECT:$SOCK >/dev/null 2>&1
		n=\$((n + 1))
	done
	echo \$n > $SB_DIR/cut-count" &
cut_job=$!
sb bash -c "
	end=\$((SECONDS + $LOAD_SECONDS)); n=0; bad=0
	while [ \$SECONDS -lt \$end ] && [ \$n -lt 200 ]; do
		timeout 5 $BALLAST_BIN/vl-send $SOCK 5000 < $SB_DIR/at-limit | grep -q InvalidParameter || bad=\$((bad + 1))
		timeout 5 $BALLAST_BIN/vl-send $SOCK 5000 < $SB_DIR/over-limit | grep -q MessageTooLarge || bad=\$((bad + 1))
		n=\$((n + 1))
	done
	echo \$n \$bad > $SB_DIR/big-count" &
big_job=$!
sleep 1
sb "$BALLAST_BIN/varlink-load" -s $SOCK -c "$LOAD_CLIENTS" -d "$LOAD_SECONDS" > "$SB_DIR/load.out" 2>&1 &
load_job=$!
# while it runs: how many connections ballastd holds
held=0
for i in $(seq 20); do
	sleep 0.25
	c=$(sb "$BALLAST_BIN/ballastctl" --json status 2>/dev/null | sed -n 's/.*"connections": \([0-9]*\).*/\1/p')
	[ -n "$c" ] && [ "$c" -gt "$held" ] && held=$c
done
wait $load_job; load_st=$?
wait $cut_job $big_job
load=$(cat "$SB_DIR/load.out")
diag "varlink-load: $load"
is "$load_st" 0 "$LOAD_CLIENTS clients calling GetStatus back to back: every call answered (varlink-load exits 0)"
like "$load" "conns=$LOAD_CLIENTS .*errors=0" "no errors, all $LOAD_CLIENTS connections served"
calls=$(printf '%s' "$load" | sed -n 's/.*calls=\([0-9]*\).*/\1/p')
p99=$(printf '%s' "$load" | sed -n 's/.*p99_us=\([0-9]*\).*/\1/p')
ok $(( ${calls:-0} >= LOAD_CLIENTS * 10 ? 0 : 1 )) "each client got many answers ($calls calls in ${LOAD_SECONDS} s)"
ok $(( ${p99:-999999999} <= P99_BOUND_MS * 1000 ? 0 : 1 )) "GetStatus p99 under that load: $((${p99:-0} / 1000)) ms (bound $P99_BOUND_MS ms)"
ok $(( held >= LOAD_CLIENTS + SLOW_CLIENTS ? 0 : 1 )) "ballastd held $held connections at once (the load, the slow clients, the rest)"
read -r cuts < "$SB_DIR/cut-count"
ok $(( ${cuts:-0} > 0 ? 0 : 1 )) "$cuts clients disconnected mid-message meanwhile"
read -r bigs bad < "$SB_DIR/big-count"
ok $(( ${bigs:-0} > 0 && ${bad:-1} == 0 ? 0 : 1 )) "$bigs messages at the limit answered and $bigs over it refused, each as it should ($bad wrong)"
diag "figure: $LOAD_CLIENTS concurrent clients held ($held connections at peak), GetStatus p99 $p99 us, p50 $(printf '%s' "$load" | sed -n 's/.*p50_us=\([0-9]*\).*/\1/p') us, $calls calls in $LOAD_SECONDS s, with $SLOW_CLIENTS slow clients, $cuts cut-off messages and $((2 * bigs)) 128 KiB messages"

# the slow clients: dropped at the stall limit (10 s after their first byte), not served forever
wait_for 25 sh -c "[ \"\$(nsenter -t $SANDBOX_PID -a -r -w $BALLAST_BIN/ballastctl --json status | sed -n 's/.*\"connections\": \([0-9]*\).*/\1/p')\" = 1 ]"
ok $? "the slow clients are dropped (stall limit): only the caller's connection is left"
wait $slow_job 2>/dev/null
like "$(sandbox_journal -u ballastd.service -o cat | grep -c 'stalled')" "^[1-9]" "and the drops are logged"
t0=$(date +%s%N); out=$(bctl status 2>&1); t1=$(date +%s%N)
like "$out" "^Node: " "ballastd answers as before ($(( (t1 - t0) / 1000000 )) ms)"

hwm=$(rss_kb VmHWM); rss1=$(rss_kb VmRSS); anon1=$(rss_kb RssAnon)
diag "figure: ballastd VmRSS idle $rss0 kB, peak under the load (VmHWM) $hwm kB, after $rss1 kB; RssAnon $anon0 -> $anon1 kB"
ok $(( hwm - rss0 <= RSS_BOUND_KB ? 0 : 1 )) "memory under the load stays bounded: peak $((hwm - rss0)) kB over idle (bound $RSS_BOUND_KB kB)"
# an ASan build keeps freed memory in its quarantine and its allocator's caches: there, only the peak's bound holds
back_kb=8192
ballast_sanitized && back_kb=$RSS_BOUND_KB
ok $(( anon1 - anon0 <= back_kb ? 0 : 1 )) \
	"and is given back: RssAnon $anon0 -> $anon1 kB after the load (at most $back_kb kB more)"

# --- the memory bound: hundreds of connections, each holding a partial maximal message ---
anon_h0=$(rss_kb RssAnon); mem_h0=$(sb systemctl show -P MemoryCurrent ballastd.service)
for i in $(seq "$HOLD_USERS"); do
	sb useradd --system --no-create-home --groups ballast "sockhold$i" || bail "useradd"
done
for i in $(seq "$HOLD_USERS"); do
	as "sockhold$i" "$BALLAST_BIN/vl-hold" $SOCK "$HOLD_CONNS" 131072 8 > "$SB_DIR/hold.$i" 2>&1 &
done
wait_for 10 sh -c "[ \$(cat $SB_DIR/hold.* 2>/dev/null | grep -c opened=) = $HOLD_USERS ]"
ok $? "$HOLD_USERS users x $HOLD_CONNS connections sent what ballastd would take of a 128 KiB partial message each"
anon_h=$(rss_kb RssAnon)
mem_h=$(sb systemctl show -P MemoryCurrent ballastd.service)
t0=$(date +%s%N); out=$(bctl status 2>&1); t1=$(date +%s%N)
like "$out" "^Node: " "meanwhile ballastd answers ($(( (t1 - t0) / 1000000 )) ms)"
busy=$(cat "$SB_DIR"/hold.* | sed -n 's/.*busy=\([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
full=$(cat "$SB_DIR"/hold.* | sed -n 's/.* full=\([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
diag "vl-hold: $(cat "$SB_DIR"/hold.* | tr '\n' ';')"
diag "figure: $((HOLD_USERS * HOLD_CONNS)) connections holding partial 128 KiB messages: RssAnon $anon_h0 -> $anon_h kB, MemoryCurrent $((mem_h / 1024)) kB"
ok $(( ${busy:-0} > 0 ? 0 : 1 )) "past the 16 MiB of buffers, $busy connections heard ServerBusy and were closed"
like "$(sandbox_journal -u ballastd.service -o cat | grep -c 'has 64 connections open already')" "^[1-9]" \
	"a uid's connections past 64 are refused, and that is logged"
# the bound: 16 MiB of buffers, plus what 256 connections cost beside them (sd-event sources, structures)
# (an ASan build's shadow and quarantine add to both, and its unit's MemoryMax is raised: there, the growth)
hold_bound=$((16384 + 4096)) mem_bound=$((48 * 1024 * 1024))
ballast_sanitized && hold_bound=$RSS_BOUND_KB mem_bound=$((mem_h0 + RSS_BOUND_KB * 1024))
ok $(( anon_h - anon_h0 <= hold_bound ? 0 : 1 )) "RssAnon grew by $((anon_h - anon_h0)) kB (bound $hold_bound kB)"
ok $(( mem_h < mem_bound ? 0 : 1 )) \
	"MemoryCurrent $((mem_h / 1048576)) MiB (bound $((mem_bound / 1048576)) MiB: well under MemoryMax=64M in a plain build)"
wait
like "$(bctl status 2>&1)" "^Node: " "and after they are gone"
done_testing
