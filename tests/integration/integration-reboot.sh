#!/bin/bash
# The reboot flow of OS updates, in the systemd sandbox, with the Flatcar fixture:
#  - update_engine is a FAKE (tests/helpers/fake-update-engine.c): the real one cannot run here (it needs Flatcar's
#    A/B partitions and an Omaha server). It follows update_engine's D-Bus interface exactly, on the sandbox's
#    real dbus-daemon (system bus), with the bus policy update_engine ships; AttemptUpdate walks it from idle
#    to UPDATE_STATUS_UPDATED_NEED_REBOOT;
#  - the FleetLock server is the tests' one (tests/helpers/fleetlock-server.c, airlock's semantics, one slot). It runs
#    in a network namespace this test creates ("the fleet's network"), which the sandbox joins (--netns), so
#    that it outlives the sandbox's reboot as a real lock server outlives a node's;
#  - logind and systemd are the sandbox's own: the reboot asked of logind takes the sandbox's systemd down,
#    and the next boot (--persist keeps /etc, /var/lib and the unit dir) is the node coming back.
# Two nodes: A is ballastd.service (root /), B a second ballastd with its own root and machine id, both
# watching the same (fake) update_engine.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/sandbox.sh"
. "$here/../lib/lib.sh"
data=$here/../data/updates
FLEETLOCK_SERVER=${FLEETLOCK_SERVER:-$top_builddir/tests/helpers/fleetlock-server}
FAKE_UE=$top_builddir/tests/helpers/fake-update-engine
LOCK_PORT=4400
ZINCATI_APP_ID=de35106b6ec24688b63afddaa156679b

[ -x "$FLEETLOCK_SERVER" ] || bail "no test FleetLock server at $FLEETLOCK_SERVER"
[ -x "$FAKE_UE" ] || bail "no fake update_engine at $FAKE_UE"
command -v jq >/dev/null || bail "jq is not installed (tools/deps.sh installs it)"

SB_DIR=$(mktemp -d /var/tmp/ballast-it-reboot.XXXXXX)
NETNS_PID=
LOCK_PID=
cleanup() {
	sandbox_stop "$SB_DIR" --purge >/dev/null 2>&1
	[ -n "$LOCK_PID" ] && kill "$LOCK_PID" 2>/dev/null
	[ -n "${LOCK2_PID:-}" ] && kill "$LOCK2_PID" 2>/dev/null
	[ -n "$NETNS_PID" ] && kill "$NETNS_PID" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$SB_DIR"
}
trap cleanup EXIT

# the fleet's network: a namespace held by a sleeping process (unshare execs sleep in it)
unshare --net sleep 100000 &
NETNS_PID=$!
own_netns() { [ "$(readlink /proc/$NETNS_PID/ns/net)" != "$(readlink /proc/$$/ns/net)" ]; }
wait_for 5 own_netns || bail "no network namespace"
NETNS=/proc/$NETNS_PID/ns/net
nsenter --net="$NETNS" ip link set lo up || bail "cannot bring up lo in the fleet's namespace"

lock_start() {
	nsenter --net="$NETNS" "$FLEETLOCK_SERVER" --port "$LOCK_PORT" --slots 1 --group workers --state "$SB_DIR/holders" \
		>"$SB_DIR/lock.port" 2>>"$SB_DIR/lock.log" </dev/null &
	LOCK_PID=$!
	wait_for 5 test -s "$SB_DIR/lock.port"
}
lock_stop() { kill "$LOCK_PID" 2>/dev/null; wait "$LOCK_PID" 2>/dev/null; LOCK_PID=; }
holders() { awk '{print $1}' "$SB_DIR/holders" 2>/dev/null | sort | tr '\n' ' '; }  # the ids holding a slot

boot() {  # boot [--fresh]: a boot of the node (the sandbox), in the fleet's network
	sandbox_start "$SB_DIR" --persist --netns="$NETNS" "$@" || bail "cannot boot the sandbox"
	root=/proc/$SANDBOX_PID/root
	# the gate trusts the clock only when timedated says it is synchronized: the fake, at every boot
	fake_timedated_start
	# update_engine (the fake) is there at every boot, as on Flatcar
	fake_update_engine_start
}

bctl_b() { sb "$BALLAST_BIN/ballastctl" --socket "$SB_DIR/nb/s.sock" "$@"; }
node() { local n=$1; shift; if [ "$n" = A ]; then bctl "$@"; else bctl_b "$@"; fi; }  # node A|B ARGS...
ustj() { node "$1" --json update status 2>/dev/null; }
jget() { ustj "$1" | jq -r "$2" 2>/dev/null; }                  # jget NODE JQ-FILTER: from the update status
flow_is() { [ "$(jget "$1" .flow.state)" = "$2" ]; }     # flow_is NODE STATE
status_has() { ustj "$1" | grep -q -- "$2"; }                    # status_has NODE STRING
n_holders() { wc -l <"$SB_DIR/holders" 2>/dev/null || echo 0; }
holders_are() { [ "$(holders)" = "$1" ]; }
sandbox_gone() { ! _sb_alive "$SANDBOX_PID"; }

# ---- the first boot: ballast installed, Flatcar, update_engine's bus policy ----
boot --fresh
need busctl systemd-id128 systemd-inhibit
ballast_install || bail "cannot install ballast into the sandbox"
sb rm -f /etc/os-release
cp "$data/os-release-flatcar" "$root/etc/os-release"
sb mkdir -p /etc/flatcar

config() {  # config FILE: fleet_lock at the test server, a window that is always open
	printf '{"node": {"name": "%s"}, "updates": {"channel": "stable", "strategy": "fleet_lock", "fleet_lock": {"url": "http://127.0.0.1:%s/", "group": "workers"}, "time_zone": "UTC", "windows": [{"days": ["Mon","Tue","Wed","Thu","Fri","Sat","Sun"], "start": "00:00", "length_min": 10080}]}}\n' \
		"$2" "$LOCK_PORT" >"$1"
}
config "$root/etc/ballast/ballast.json" node-a
id_a=$(sb systemd-id128 machine-id --app-specific=$ZINCATI_APP_ID)

# node B: its own root (machine id, os-release, configuration, state), the sandbox's bus, systemd and logind
nb=$SB_DIR/nb
mkdir -p "$nb/etc/ballast" "$nb/etc/flatcar" "$nb/var/lib/ballast" "$nb/etc/systemd/system"
cp "$data/os-release-flatcar" "$nb/etc/os-release"
echo 0f9e8d7c6b5a49382716051423324151 >"$nb/etc/machine-id"
config "$nb/etc/ballast/ballast.json" node-b

# a service on node A, to be drained (it takes 2 s to stop: time to see the drain and the inhibitor)
printf '{"name": "web", "runtime": "exec", "command": ["/bin/sleep", "infinity"]}' >"$SB_DIR/web.json"
printf '{"name": "slow", "runtime": "exec", "command": ["/bin/sh", "-c", "trap \\"sleep 2; exit 0\\" TERM; while :; do sleep 0.1; done"]}' \
	>"$SB_DIR/slow.json"

# ---- two nodes, one slot; first with the lock server down ----
# logind may not reboot the sandbox in this part: reboot.target masked makes it refuse (as it would refuse
# on a host where the reboot is blocked), so the node that gets the lock stops at "rebooting"
sb systemctl mask --quiet reboot.target
sb systemctl start ballastd.socket
bctl status >/dev/null || bail "ballastd does not answer"
sb systemd-run --quiet --unit ballast-node-b -p Environment=BALLAST_RUN_HELPER=$BALLAST_BIN/ballast-run \
	"$BALLAST_BIN/ballastd" --root "$nb" --socket "$nb/s.sock" --log-level debug
wait_for 10 bctl_b status || bail "node B does not answer"
bctl apply "$SB_DIR/web.json" >/dev/null
wait_for 10 sb systemctl is-active -q ballast-web.service
ok $? "node A runs a service"

ok $(flow_is A idle; echo $?) "node A: flow idle while update_engine is idle"

# ---- forged update_engine signals: any local uid may broadcast a StatusUpdate (the system bus lets everyone
# send signals), or send one straight to ballastd's connections; only com.coreos.update1's owner counts ----
need setpriv dbus-send dbus-monitor
forge() {  # forge OPERATION [DBUS-SEND-OPTIONS]: a StatusUpdate sent by uid 65534
	local op=$1; shift
	sb setpriv --reuid 65534 --regid 65534 --clear-groups dbus-send --system --type=signal "$@" /com/coreos/update1 \
		com.coreos.update1.Manager.StatusUpdate int64:0 double:1.0 string:"$op" string:9999.0.0 int64:0
}
# ballastd's own connections (node A's and B's), to address forged signals to them directly
conns=$(sb busctl --system list --unique --no-legend 2>/dev/null | awk '$3 == "ballastd" {print $1}')
like "$conns" "^:" "ballastd's connections on the system bus are listed"
sb sh -c 'exec timeout 20 dbus-monitor --system "type=signal,interface=com.coreos.update1.Manager,member=StatusUpdate"' \
	>"$SB_DIR/monitor" 2>&1 &
mon=$!
sleep 1
forge UPDATE_STATUS_UPDATED_NEED_REBOOT
ok $? "uid 65534 broadcasts a forged UPDATED_NEED_REBOOT"
for c in $conns; do forge UPDATE_STATUS_UPDATED_NEED_REBOOT --dest="$c"; done
ok $? "and sends it to each of ballastd's connections"
sleep 2
kill $mon 2>/dev/null; wait $mon 2>/dev/null
is "$(grep -c 'string "9999.0.0"' "$SB_DIR/monitor")" "$(( 1 + $(echo $conns | wc -w) ))" "the forged signals are on the bus (dbus-monitor sees every one)"
ok $(flow_is A idle; echo $?) "node A: the forged signals change nothing (flow idle)"
like "$(ustj A | jq -c '{reboot_needed, new_version}')" '"reboot_needed":false,"new_version":null' "node A: no reboot needed, no version taken"
ok $(flow_is B idle; echo $?) "node B: flow idle too"
check "no drain: node A's service still runs" -- sb systemctl is-active -q ballast-web.service
is "$(sandbox_journal -u ballastd -o cat BALLAST_EVENT=update-engine-status | grep -c 9999)" 0 "the journal took no status from the forger"
like "$(sandbox_journal -u ballastd -o cat | grep 'Ignored a StatusUpdate' | head -1)" "Ignored a StatusUpdate from :[0-9.]+: not update_engine" \
	"the journal says a StatusUpdate from another sender was ignored"
ue AttemptUpdate
wait_for 10 status_has A '"reason": "lock-unreachable"'
ok $? "update_engine's need-reboot reaches node A; the lock server is down: reason lock-unreachable"
out=$(bctl update status)
like "$out" "Reboot: +needed, into 3815.2.1" "node A: a reboot into the fake update's version is needed"
like "$out" "Flow: +locking" "node A: the flow waits in locking"
like "$out" "Decision: +no reboot: The lock server http://127.0.0.1:$LOCK_PORT/v1/pre-reboot could not be reached.*\(lock-unreachable\)" \
	"node A: the decision names the lock server and why"
wait_for 10 status_has B '"reason": "lock-unreachable"'
ok $? "node B too: lock-unreachable"
# a forged IDLE does not call the real need off
forge UPDATE_STATUS_IDLE
for c in $conns; do forge UPDATE_STATUS_IDLE --dest="$c"; done
sleep 2
like "$(ustj A | jq -c '{reboot_needed, flow: .flow.state}')" '"reboot_needed":true,"flow":"locking"' \
	"a forged UPDATE_STATUS_IDLE leaves node A's reboot need and flow as they were"
sleep 2
check "no drain without the lock: node A's service still runs" -- sb systemctl is-active -q ballast-web.service
check "and the sandbox was not rebooted" -- _sb_alive "$SANDBOX_PID"
like "$(sandbox_journal -u ballastd -o cat BALLAST_EVENT=fleetlock-error | head -1)" "FleetLock pre-reboot failed \(lock-unreachable\).*Retrying in" \
	"the journal says so, with the retry"
# a crash of node A's ballastd: the flow resumes where it was, update_engine is asked again (GetStatus)
sb systemctl kill -s KILL ballastd.service
wait_for 10 sh -c "! nsenter -t $SANDBOX_PID -a -r -w systemctl is-active -q ballastd.service"
bctl status >/dev/null
like "$(sandbox_journal -u ballastd -o cat BALLAST_EVENT=reboot-flow-resumed | tail -1)" "resumed in state locking" \
	"after kill -9, the restarted ballastd resumes the flow in locking"
wait_for 10 status_has A '"operation": "UPDATE_STATUS_UPDATED_NEED_REBOOT"'
ok $? "and learns update_engine's state from GetStatus (no signal needed)"
wait_for 10 status_has A '"reason": "lock-unreachable"'
ok $? "and asks the lock server again"

lock_start || bail "cannot start the test FleetLock server"
wait_for 40 sh -c "[ \$(wc -l <'$SB_DIR/holders') = 1 ]"
ok $? "the lock server is up: one node takes the slot"
first=$(holders)
id_b=$(jget B .lock.id)
if [ "$first" = "$id_a " ]; then holder=A other=B; else holder=B other=A; fi
diag "holder: $holder ($first)"
like "$first" "^($id_a|$id_b) \$" "the holder's id is node A's or B's Zincati id (A's from systemd-id128 machine-id --app-specific)"
wait_for 20 flow_is $holder rebooting
ok $? "the holder drains and asks for the reboot (state rebooting)"
wait_for 10 status_has $holder '"reason": "reboot-failed"'
ok $? "logind refuses (reboot.target masked): reason reboot-failed"
wait_for 20 status_has $other '"kind": "failed_lock"'
ok $? "the other node is refused: the semaphore is full (airlock's failed_lock)"
out=$(node $other update status)
like "$out" "Flow: +locking" "the other node waits in locking"
like "$out" "\(lock-refused\)" "its decision: lock-refused, with the server's words"
like "$(ustj $other | jq -c .drain)" '"requested":false' "and it does not drain"
check "node A's service runs unless A holds the lock" -- sh -c "[ $holder = A ] || nsenter -t $SANDBOX_PID -a -r -w systemctl is-active -q ballast-web.service"
n_max=0
for _ in $(seq 10); do n=$(n_holders); [ "$n" -gt "$n_max" ] && n_max=$n; sleep 0.2; done
is "$n_max" 1 "never more than one holder"

node $holder update pause >/dev/null
wait_for 10 sh -c "! grep -q '${first% }' '$SB_DIR/holders'"
ok $? "the holder paused: its flow is called off and the slot given back (steady-state)"
wait_for 20 sb systemctl is-active -q ballast-web.service
ok $? "node A's service runs (undrained, if A was the holder)"
wait_for 70 sh -c "[ \$(wc -l <'$SB_DIR/holders') = 1 ]"
ok $? "the other node takes the slot on its next try"
ok $([ "$(holders)" != "$first" ]; echo $?) "the slot went to the other node"

# the second holder leaves too
node $other update pause >/dev/null
wait_for 10 sh -c "[ ! -s '$SB_DIR/holders' ]"
ok $? "no holder once both are paused"
sb systemctl stop ballast-node-b.service

# ---- the lock is recorded with the server that was asked: a restart with another server takes one there ----
# (reboot.target is still masked: node A stops in rebooting, holding the lock)
LOCK2_PORT=4401
nsenter --net="$NETNS" "$FLEETLOCK_SERVER" --port "$LOCK2_PORT" --slots 1 --group workers --state "$SB_DIR/holders2" \
	>"$SB_DIR/lock2.port" 2>>"$SB_DIR/lock2.log" </dev/null &
LOCK2_PID=$!
wait_for 5 test -s "$SB_DIR/lock2.port" || bail "cannot start the second FleetLock server"
holders2() { awk '{print $1}' "$SB_DIR/holders2" 2>/dev/null | sort | tr '\n' ' '; }
bctl update resume >/dev/null
wait_for 30 flow_is A rebooting
ok $? "node A takes the lock at server 1 and reaches rebooting (logind refuses)"
is "$(holders) / $(holders2)" "$id_a  / " "server 1 holds node A's lock, server 2 nothing"
is "$(jq -c '{version, lock: .lock.url}' "$root/var/lib/ballast/updates.json")" \
	"{\"version\":2,\"lock\":\"http://127.0.0.1:$LOCK_PORT/\"}" "updates.json (version 2) records the server asked"
sb systemctl kill -s KILL ballastd.service
wait_for 10 sh -c "! nsenter -t $SANDBOX_PID -a -r -w systemctl is-active -q ballastd.service"
sed -i "s|127.0.0.1:$LOCK_PORT/|127.0.0.1:$LOCK2_PORT/|" "$root/etc/ballast/ballast.json"
bctl status >/dev/null
wait_for 10 sh -c "nsenter -t $SANDBOX_PID -a -r -w journalctl --no-pager -o cat -u ballastd BALLAST_EVENT=fleetlock-moved | grep -q 'not held here'"
ok $? "restarted with server 2 configured: the lock asked of server 1 is not counted as held here"
wait_for 30 sh -c "[ ! -s '$SB_DIR/holders' ]"
ok $? "it is released at server 1"
lock2_then_rebooting() {  # rebooting again only with server 2's lock
	if flow_is A rebooting; then [ "$(holders2)" = "$id_a " ]; else return 1; fi
}
wait_for 40 lock2_then_rebooting
ok $? "node A takes the lock at server 2 before it is in rebooting again"
is "$(jq -r .lock.url "$root/var/lib/ballast/updates.json")" "http://127.0.0.1:$LOCK2_PORT/" "the record names server 2"
# today's format, version 1 (no record), in rebooting: loaded as taken at the configured server
sb systemctl kill -s KILL ballastd.service
wait_for 10 sh -c "! nsenter -t $SANDBOX_PID -a -r -w systemctl is-active -q ballastd.service"
sed "s/@BOOT_ID@/$(sb cat /run/ballast/boot-id)/" "$data/updates-v1.json" >"$root/var/lib/ballast/updates.json"
moved0=$(sandbox_journal -u ballastd -o cat BALLAST_EVENT=fleetlock-moved | wc -l)
bctl status >/dev/null
wait_for 30 flow_is A rebooting
ok $? "a version-1 updates.json in rebooting: node A resumes and is in rebooting again"
is "$(sandbox_journal -u ballastd -o cat BALLAST_EVENT=fleetlock-moved | wc -l) $(holders2)" "$moved0 $id_a " \
	"its lock counts as taken at the configured server (nothing moved, server 2 still holds it)"
is "$(jq -c '{version, lock: .lock.url}' "$root/var/lib/ballast/updates.json")" \
	"{\"version\":2,\"lock\":\"http://127.0.0.1:$LOCK2_PORT/\"}" "and the file is written again as version 2 with the record"
is "$(sb stat -c %a /var/lib/ballast/updates.json)" 600 "updates.json is 0600"
# back to server 1 for what follows
bctl update pause >/dev/null
wait_for 20 sh -c "[ ! -s '$SB_DIR/holders2' ]"
ok $? "paused: released at server 2"
sed -i "s|127.0.0.1:$LOCK2_PORT/|127.0.0.1:$LOCK_PORT/|" "$root/etc/ballast/ballast.json"
sb systemctl reload ballastd.service
kill "$LOCK2_PID" 2>/dev/null; wait "$LOCK2_PID" 2>/dev/null

# ---- the whole flow on node A: lock, drain, logind, reboot, new boot, unlock, services back ----
ue ResetStatus
sb systemctl unmask --quiet reboot.target
bctl update resume >/dev/null
wait_for 10 flow_is A idle
ok $? "update_engine reset: node A's flow is idle again"
bctl apply "$SB_DIR/slow.json" >/dev/null
wait_for 10 sb systemctl is-active -q ballast-web.service ballast-slow.service
ok $? "node A runs two services"
# the sandbox's journal is volatile (in /run); kept on disk (/var/log, kept by --persist) from here on, so that
# what happened just before the reboot can be read after it
sb mkdir -p /etc/systemd/journald.conf.d
printf '[Journal]\nStorage=persistent\n' >"$root/etc/systemd/journald.conf.d/99-reboot-test.conf"
sb systemctl restart systemd-journald.service
sb journalctl --flush
cursor=$(sb journalctl -n 1 --show-cursor -o cat | sed -n 's/^-- cursor: //p')
ue AttemptUpdate
wait_for 30 holders_are "$id_a "
ok $? "node A takes the lock"
wait_for 10 sh -c "nsenter -t $SANDBOX_PID -a -r -w systemd-inhibit --list --no-legend 2>/dev/null | grep -q 'ballast.*delay'"
ok $? "and holds a logind delay inhibitor (shutdown) while it drains"
like "$(ustj A)" '"requested": true' "the flow asked for the drain"
wait_for 30 sandbox_gone
ok $? "drained, then logind asked to reboot: the sandbox's systemd goes down"
is "$(holders)" "$id_a " "the lock is held across the reboot"
# the new boot
sandbox_stop "$SB_DIR" >/dev/null 2>&1
boot
sb systemctl start ballastd.socket
bctl status >/dev/null || bail "ballastd does not answer after the reboot"
wait_for 20 sh -c "[ ! -s '$SB_DIR/holders' ]"
ok $? "after the new boot: steady-state, the lock released"
wait_for 20 sb systemctl is-active -q ballast-web.service ballast-slow.service
ok $? "and the services are back"
ok $(flow_is A idle; echo $?) "the flow is idle"
seq=$(sandbox_journal -u ballastd.service -o cat --after-cursor="$cursor" |
	grep -aoE 'Stopping ballast-(slow|web).service: the node is draining|Node drained|asking logind to reboot|logind accepted the reboot' |
	uniq | tr '\n' ';')
is "$seq" "Stopping ballast-slow.service: the node is draining;Stopping ballast-web.service: the node is draining;Node drained;asking logind to reboot;logind accepted the reboot;" \
	"before the reboot, in order: the services stopped (the last applied first), drained, then logind asked and accepted"
like "$(sandbox_journal -u ballastd -o cat BALLAST_EVENT=reboot-flow | tr '\n' ' ')" "rebooting → post-reboot-unlock.*new-boot.*post-reboot-unlock → idle" \
	"the journal tells the resumed flow"

done_testing
