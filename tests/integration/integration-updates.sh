#!/bin/bash
# OS updates in the systemd sandbox. The OS is what the sandbox's /etc/os-release says: each case replaces it
# (the sandbox's /etc is an overlay, the host's is untouched) with a fixture from tests/data/updates and
# restarts ballastd, so ballastd runs exactly as on a host (root "/"), writing the real paths
# (/etc/flatcar/update.conf, /etc/zincati/config.d/90-ballast.toml) inside the sandbox.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/sandbox.sh"
. "$here/../lib/lib.sh"
data=$here/../data/updates

SB_DIR=$(mktemp -d /var/tmp/ballast-it-updates.XXXXXX)
trap 'sandbox_stop "$SB_DIR" --purge >/dev/null 2>&1; rm -rf "$SB_DIR"' EXIT
sandbox_start "$SB_DIR" || bail "cannot start the sandbox"
ballast_install || bail "cannot install ballast into the sandbox"
root=/proc/$SANDBOX_PID/root

# the gate asks timedated whether the clock is synchronized: the fake one says so (tests/lib/lib.sh)
fake_timedated_start

set_os() {  # set_os FIXTURE
	sb rm -f /etc/os-release
	cp "$data/os-release-$1" "$root/etc/os-release"
}
restart() {
	sb systemctl stop ballastd.service ballastd.socket >/dev/null 2>&1
	sb rm -f /var/lib/ballast/updates.json
	sb systemctl start ballastd.socket
	bctl status >/dev/null
}
reload() { sb systemctl stop ballastd.service >/dev/null 2>&1; bctl status >/dev/null; }
ust() { bctl update status 2>&1; }
ustj() { bctl --json update status 2>&1; }
tomorrow=$(date -u -d tomorrow +%a)

# --- unmanaged: no "updates" block on Flatcar, then a managed block on an OS ballast does not know ---
set_os flatcar
sb rm -rf /etc/flatcar /etc/coreos /etc/zincati
printf '{"node": {"name": "n1"}}\n' > "$root/etc/ballast/ballast.json"
restart
out=$(ust)
like "$out" "OS: +flatcar 3815.2.0" "status detects Flatcar and its version"
like "$out" "Managed: +no \(report only\)" "without an \"updates\" block: report only"
like "$out" "\(unmanaged\)" "and the gate says unmanaged"
check "nothing is written (no /etc/flatcar)" -- test ! -e "$root/etc/flatcar"
like "$(bctl -j update pause 2>&1)" "UpdatesNotManaged" "pause is refused when updates are not managed"

set_os debian
printf '{"node": {"name": "n1"}, "updates": {"channel": "stable", "strategy": "periodic", "windows": [{"days": ["Sun"], "start": "03:00", "length_min": 60}]}}\n' \
	> "$root/etc/ballast/ballast.json"
restart
out=$(ust)
like "$out" "OS: +other debian" "Debian is \"other\""
like "$out" "Managed: +no" "and not managed even with an \"updates\" block"
check "nothing is written on an unmanaged OS" -- test ! -e "$root/etc/flatcar" -a ! -e "$root/etc/coreos" -a ! -e "$root/etc/zincati"

# --- Flatcar: update.conf rendered, unknown keys kept, idempotent ---
set_os flatcar
sb mkdir -p /etc/flatcar
cp "$data/update.conf-user" "$root/etc/flatcar/update.conf"
printf '{"node": {"name": "n1"}, "updates": {"channel": "stable", "strategy": "periodic", "time_zone": "UTC", "windows": [{"days": ["%s"], "start": "03:00", "length_min": 60}]}}\n' \
	"$tomorrow" > "$root/etc/ballast/ballast.json"
restart
is "$(cat "$root/etc/flatcar/update.conf")" "$(cat "$data/update.conf-user.expected")" \
	"update.conf: GROUP=stable, REBOOT_STRATEGY=off, every other line byte for byte"
st0=$(stat -c '%i %Y.%y' "$root/etc/flatcar/update.conf")
sleep 1
restart
is "$(stat -c '%i %Y.%y' "$root/etc/flatcar/update.conf")" "$st0" "a second run changes nothing (same inode and mtime)"
out=$(ust)
like "$out" "Managed: +yes" "managed on Flatcar"
like "$out" "Channel: +stable \(config\)" "the channel from the configuration"
like "$out" "Window now: +outside, next opens" "outside the window, with the next opening"
like "$out" "Policy now: +would not allow: .*\(outside-window\)" "the gate's reason: outside-window"
like "$out" "Decision: +no reboot: .*\(not-needed\)" "no reboot now: none is needed"
like "$(ustj)" "\"next_start_usec\": [0-9]+" "GetUpdateStatus carries the next window start"

# hostile pins: refused with a clear error, nothing written
for bad in 'beta;reboot' '$(reboot)' 'a b' '../x' "$(printf 'x\ny')" ''; do
	out=$(bctl update pin "$bad" 2>&1)
	st=$?
	ok $(( st == 2 ? 0 : 1 )) "pin $(printf '%q' "$bad") is refused (exit 2: invalid input)"
	like "$out" "channel: a channel is 1 to 64 letters" "with a clear error"
done
is "$(stat -c '%i %Y.%y' "$root/etc/flatcar/update.conf")" "$st0" "and update.conf was not touched"

like "$(bctl update pin beta)" "Channel: +beta \(pin\)" "pin beta"
grep -qx 'GROUP=beta' "$root/etc/flatcar/update.conf"
ok $? "rewrites GROUP= in update.conf at once"
like "$(cat "$root/var/lib/ballast/updates.json")" '"channel": "beta"' "the pin is persisted in state_dir/updates.json"
reload
like "$(ust)" "Channel: +beta \(pin\)" "and survives a restart of ballastd"
grep -qx 'GROUP=beta' "$root/etc/flatcar/update.conf"
ok $? "update.conf keeps the pinned channel after the restart"

like "$(bctl update pause)" "Paused: +yes" "pause"
like "$(ust)" "Policy now: +would not allow: .*\(paused\)" "paused: the gate's reason is paused"
reload
like "$(ust)" "Paused: +yes" "pause survives a restart"
like "$(bctl update resume)" "Paused: +no" "resume"

out=$(bctl update window Mon,Tue,Wed,Thu,Fri,Sat,Sun 00:00 10080 Europe/Berlin)
like "$out" "Window now: +inside" "a window set over Varlink that is always open: inside"
like "$out" "\(Europe/Berlin\)" "in the zone given"
like "$out" "Policy now: +would not allow: .*\(not-drained\)" "inside the window the gate still wants a drain (periodic)"
like "$(bctl -j update window Sun 25:00 60 2>&1 | tr -d "\n")" "InvalidUpdatePolicy.*start" "a bad start time is refused"
like "$(bctl -j update window Sun 03:00 60 Mars/Olympus 2>&1 | tr -d "\n")" "InvalidUpdatePolicy.*time_zone" "an unknown time zone is refused"
like "$(bctl -j update window Funday 03:00 60 2>&1 | tr -d "\n")" "InvalidUpdatePolicy.*days" "an unknown weekday is refused"
like "$(ust)" "Window now: +inside" "refused changes leave the windows as they were"

# a policy change that cannot be persisted does not take effect (updates.json made a directory: every atomic
# write of it fails), and the call says so
sb rm -f /var/lib/ballast/updates.json
sb mkdir -p /var/lib/ballast/updates.json/x
like "$(bctl -j update pin gamma 2>&1)" "StateWriteFailed" "unwritable state: pin fails with StateWriteFailed"
like "$(ust)" "Channel: +beta \(pin\)" "and the old pin stays in force"
grep -qx 'GROUP=beta' "$root/etc/flatcar/update.conf"
ok $? "and update.conf still names the old channel"
like "$(bctl -j update window Sun 03:00 60 UTC 2>&1)" "StateWriteFailed" "unwritable state: window fails"
like "$(ust)" "Window now: +inside" "and the old windows stay in force"
like "$(bctl -j update approve 9999.1.0 2>&1)" "StateWriteFailed" "unwritable state: approve fails"
like "$(ustj)" '"approved_version": null' "and nothing is approved"
sb rm -rf /var/lib/ballast/updates.json

# --- Container Linux: /etc/coreos is a symlink to the directory that holds update.conf ---
set_os container-linux
sb rm -rf /etc/flatcar /etc/coreos /etc/cl-conf
sb mkdir -p /etc/cl-conf
sb ln -s cl-conf /etc/coreos
cp "$data/update.conf-user" "$root/etc/cl-conf/update.conf"
restart
like "$(ust)" "OS: +container-linux 2512.3.0" "Container Linux detected"
is "$(cat "$root/etc/cl-conf/update.conf")" "$(cat "$data/update.conf-user.expected")" \
	"update.conf written through the /etc/coreos symlink"
check "the symlink is still a symlink" -- test -L "$root/etc/coreos"
check "no /etc/flatcar was created" -- test ! -e "$root/etc/flatcar"

# --- Fedora CoreOS: the Zincati drop-in ---
set_os fedora-coreos
# the stream pin and max_version read the staged deployment from rpm-ostree: the fake, one staged on stable
fake_rpm_ostree_start --staged-version 39.20240225.3.0
sb rm -rf /etc/coreos /etc/cl-conf
# as on Fedora CoreOS, /etc/zincati exists (ballastd.service may write only below directories that exist)
sb mkdir -p /etc/zincati
printf '{"node": {"name": "n1"}, "updates": {"channel": "stable", "strategy": "fleet_lock", "fleet_lock": {"url": "http://127.0.0.1:9/", "group": "workers"}}}\n' \
	> "$root/etc/ballast/ballast.json"
restart
is "$(cat "$root/etc/zincati/config.d/90-ballast.toml" 2>&1)" "$(cat "$data/90-ballast.toml.expected")" \
	"the Zincati drop-in: fleet_lock at ballastd's loopback endpoint, the group"
out=$(ust)
like "$out" "OS: +fedora-coreos 39.20240210.3.0" "Fedora CoreOS detected with its OSTree version"
like "$out" "Policy now: +would not allow: .*\(no-lock\)" "fleet_lock without the lock: no reboot"
st0=$(stat -c '%i %Y.%y' "$root/etc/zincati/config.d/90-ballast.toml")
restart
is "$(stat -c '%i %Y.%y' "$root/etc/zincati/config.d/90-ballast.toml")" "$st0" "a second run leaves the drop-in alone"

# --- drain: services stopped (the last one first) and kept stopped, the report says so; undrain ---
printf '{"name": "a", "runtime": "exec", "command": ["/bin/sleep", "infinity"]}' > "$SB_DIR/a.json"
printf '{"name": "b", "runtime": "exec", "command": ["/bin/sleep", "infinity"]}' > "$SB_DIR/b.json"
bctl apply "$SB_DIR/a.json" "$SB_DIR/b.json" >/dev/null
wait_for 10 sh -c "nsenter -t $SANDBOX_PID -a -r -w systemctl is-active -q ballast-a.service ballast-b.service"
ok $? "two services run"
like "$(bctl drain)" "drained" "drain answers once every service is stopped"
# (on a failure, the units' states say which stop did not leave its unit inactive, and why)
ab_status() { sb systemctl status --no-pager -n 8 ballast-a.service ballast-b.service | sed 's/^/#   /'; }
is "$(sb systemctl is-active ballast-a.service ballast-b.service | tr '\n' ' ')" "inactive inactive " "both are stopped" ||
	ab_status
like "$(bctl --json restart a 2>&1)" "Draining" "a restart is refused while draining"
sleep 2
is "$(sb systemctl is-active ballast-a.service ballast-b.service | tr '\n' ' ')" "inactive inactive " \
	"and they stay stopped (reconcile does not start them)" || ab_status
like "$(sandbox_journal -u ballastd -o cat BALLAST_EVENT=service-drain | tr '\n' ' ')" "ballast-b.service.*ballast-a.service" "stopped in reverse order"
like "$(bctl undrain)" "undrained" "undrain"
wait_for 10 sh -c "nsenter -t $SANDBOX_PID -a -r -w systemctl is-active -q ballast-a.service ballast-b.service"
ok $? "both run again"

# --- Fedora CoreOS, Zincati's side: its pre-reboot and steady-state to ballastd's FleetLock endpoint ---
# Zincati is not run (it needs rpm-ostree and a booted OSTree deployment): the requests are the ones Zincati
# sends (src/fleet_lock: POST, header fleet-lock-protocol: true, serde's pretty JSON body, the id from
# /etc/machine-id as systemd's app-specific id). Upstream, the cluster's lock is the tests' FleetLock server
# (one slot, airlock's answers), in the sandbox's network namespace.
need curl systemd-id128
lock_pid=
nsenter --net=/proc/$SANDBOX_PID/ns/net "$top_builddir/tests/helpers/fleetlock-server" --port 4400 --slots 1 --group workers \
	--state "$SB_DIR/holders" >"$SB_DIR/lock.port" 2>"$SB_DIR/lock.log" </dev/null &
lock_pid=$!
trap '[ -n "$lock_pid" ] && kill $lock_pid 2>/dev/null; sandbox_stop "$SB_DIR" --purge >/dev/null 2>&1; rm -rf "$SB_DIR"' EXIT
wait_for 5 test -s "$SB_DIR/lock.port" || bail "the test FleetLock server does not start"
printf '{"node": {"name": "n1"}, "updates": {"channel": "stable", "strategy": "fleet_lock", "fleet_lock": {"url": "http://127.0.0.1:4400/", "group": "workers"}, "time_zone": "UTC", "windows": [{"days": ["%s"], "start": "03:00", "length_min": 60}]}}\n' \
	"$tomorrow" >"$root/etc/ballast/ballast.json"
restart
zid=$(sb systemd-id128 machine-id --app-specific=de35106b6ec24688b63afddaa156679b)
zbody=$(printf '{\n  "client_params": {\n    "id": "%s",\n    "group": "workers"\n  }\n}' "$zid")
zpost() {  # zpost pre-reboot|steady-state [CURL-ARGS]: prints "STATUS BODY"
	local ep=$1; shift
	# shellcheck disable=SC2086 # ZAS: a command prefix (setpriv …), word-split on purpose
	sb ${ZAS:-} curl -s -m 5 -o - -w ' %{http_code}' -X POST -H 'fleet-lock-protocol: true' "$@" \
		--data-binary "$zbody" "http://127.0.0.1:7436/v1/$ep" | awk '{ s = $NF; $NF = ""; sub(/ $/, ""); print s " " $0 }'
}
holders() { awk '{print $1}' "$SB_DIR/holders" 2>/dev/null | tr '\n' ' '; }
like "$(ust)" "Zincati: +endpoint http://127.0.0.1:7436/ serving" "ballastd serves the FleetLock endpoint on Fedora CoreOS"
# a step of the flow that cannot be persisted (updates.json made a directory: every atomic write fails)
sb rm -f /var/lib/ballast/updates.json
sb mkdir /var/lib/ballast/updates.json
like "$(zpost pre-reboot)" "^409 \{\"kind\":\"config_error\",\"value\":\"The reboot flow's state could not be written to /var/lib/ballast/updates.json; on doubt, no reboot.\"\}" \
	"the flow's state cannot be written: 409 config_error, and why"
sb rmdir /var/lib/ballast/updates.json
out=$(zpost pre-reboot)
like "$out" '^409 \{"kind":"outside_window","value":"Outside every maintenance window."\}' \
	"pre-reboot outside the window: 409 and a FleetLock error document (kind outside_window)"
like "$(zpost pre-reboot -H 'fleet-lock-protocol: false')" '^4[0-9][0-9] \{"kind":' "without Zincati's header: refused with an error document"
# only root and Zincati's user may post (the owner of the client's socket, from the kernel's sock_diag), only with
# this machine's Zincati id and the configured group
need setpriv
like "$(ZAS="setpriv --reuid 65534 --regid 65534 --clear-groups" zpost pre-reboot)" \
	'^403 \{"kind":"forbidden","value":"uid 65534 may not drive this node.s reboots' \
	"a pre-reboot from uid 65534 (setpriv): 403 forbidden, naming the uid"
like "$(ZAS="setpriv --reuid 65534 --regid 65534 --clear-groups" zpost steady-state)" '^403 \{"kind":"forbidden"' \
	"  its steady-state too"
like "$(zpost pre-reboot)" '^409 \{"kind":"outside_window"' "root's, the same request: answered by the gate"
like "$(zbody=${zbody/$zid/0123456789abcdef0123456789abcdef} zpost pre-reboot)" \
	'^403 \{"kind":"forbidden","value":"id 0123456789abcdef0123456789abcdef is not this machine.s Zincati id"' \
	"another machine's id: 403"
like "$(zbody=${zbody/workers/default} zpost pre-reboot)" \
	'^403 \{"kind":"forbidden","value":"group default is not this node.s group \(workers\)"' "another group: 403"
is "$(holders)" "" "no upstream lock taken outside the window"
check "the services still run" -- sb systemctl is-active -q ballast-a.service ballast-b.service
like "$(ust)" "Flow: +waiting-window" "the flow waits for the window"

# another node holds the cluster's only slot
other() { sb curl -s -m 5 -o /dev/null -w '%{http_code}' -X POST -H 'fleet-lock-protocol: true' \
	-d '{"client_params":{"id":"other-node","group":"workers"}}' "http://127.0.0.1:4400/v1/$1"; }
is "$(other pre-reboot)" 200 "another node takes the cluster's only slot"
# the window opens: the flow, started by the first pre-reboot, goes on (lock, drain) in the background
bctl update window Mon,Tue,Wed,Thu,Fri,Sat,Sun 00:00 10080 UTC >/dev/null
refused() { zpost pre-reboot | grep -q '^409 {"kind":"lock_refused","value":"The lock server refused pre-reboot (HTTP 500, failed_lock)'; }
wait_for 10 refused
ok $? "inside the window, the slot taken: 409, kind lock_refused, with the lock server's answer"
check "the services still run (no drain without the lock)" -- sb systemctl is-active -q ballast-a.service ballast-b.service
is "$(other steady-state)" 200 "the other node releases the slot"
pre_ok() { [ "$(zpost pre-reboot | cut -d' ' -f1)" = 200 ]; }
wait_for 20 pre_ok
ok $? "a later pre-reboot is answered 200, as Zincati polls"
is "$(holders)" "$zid " "by then ballast holds the cluster's lock, with Zincati's id for this machine"
is "$(sb systemctl is-active ballast-a.service ballast-b.service | tr '\n' ' ')" "inactive inactive " "and the services are drained"
out=$(ust)
like "$out" "Flow: +rebooting" "the flow is at rebooting (Zincati finalizes and reboots)"
like "$out" "last request pre-reboot, answered 200" "the status shows Zincati's last request and our answer"
# a steady-state in the boot that was told to reboot (Zincati restarted, or anything else that can reach the
# endpoint) does not release the lock: the node may still reboot
is "$(zpost steady-state)" "200 " "a steady-state before the new boot: 200"
sleep 1
is "$(holders)" "$zid " "but the cluster's lock stays held"
like "$(ust)" "Flow: +rebooting" "and the flow stays at rebooting"
# asked again after a 200, the answer is the gate's as it stands now: the window has closed meanwhile
bctl update window "$tomorrow" 03:00 60 UTC >/dev/null
like "$(zpost pre-reboot)" '^409 \{"kind":"outside_window"' "a second pre-reboot after a 200, outside the window: 409 outside_window"
wait_for 10 sh -c "[ ! -s '$SB_DIR/holders' ]"
ok $? "the attempt is called off: ballast releases the cluster's lock (steady-state upstream)"
wait_for 10 sh -c "nsenter -t $SANDBOX_PID -a -r -w systemctl is-active -q ballast-a.service ballast-b.service"
ok $? "and the services run again"
like "$(ust)" "Flow: +waiting-window" "the flow waits for the window again"
bctl update window Mon,Tue,Wed,Thu,Fri,Sat,Sun 00:00 10080 UTC >/dev/null

# drain_timeout_s bounds the drain: a service that ignores SIGTERM (its stop takes the unit's whole stop timeout,
# 20 s) does not hold the reboot, and the cluster's lock, for longer
sed -i 's/"windows"/"drain_timeout_s": 2, "reboot_timeout_s": 8, "windows"/' "$root/etc/ballast/ballast.json"
reload
printf '{"name": "stubborn", "runtime": "exec", "command": ["/bin/sh", "-c", "trap \\"\\" TERM; while :; do sleep 0.1; done"]}' \
	>"$SB_DIR/stubborn.json"
bctl apply "$SB_DIR/stubborn.json" >/dev/null
wait_for 10 sb systemctl is-active -q ballast-stubborn.service
ok $? "a service that ignores SIGTERM runs"
t0=$(date +%s)
zpost pre-reboot >/dev/null
wait_for 15 pre_ok
ok $? "pre-reboot is answered 200 although that service is still stopping"
ok $(( $(date +%s) - t0 <= 8 ? 0 : 1 )) "within a few seconds of drain_timeout_s (2 s), not the stop timeout (20 s)"
is "$(sb systemctl is-active ballast-stubborn.service)" deactivating "the service is still stopping (the shutdown finishes it)"
like "$(sandbox_journal -u ballastd -o cat BALLAST_EVENT=drain-timeout)" "did not finish within 2 s \(drain_timeout_s\): going on" \
	"the journal says the drain timed out and the flow went on"
is "$(holders)" "$zid " "the lock is held"
# the reboot does not come (nothing reboots the sandbox): after reboot_timeout_s the node is undrained and the
# lock released, and the journal says why
wait_for 60 sh -c "[ ! -s '$SB_DIR/holders' ]"
ok $? "the reboot does not come: the lock is released"
ok $(( $(date +%s) - t0 >= 8 ? 0 : 1 )) "not before reboot_timeout_s (8 s) after the 200"
like "$(sandbox_journal -u ballastd -o cat BALLAST_EVENT=reboot-timeout)" "did not come within 8 s \(reboot_timeout_s\)" \
	"the journal says the reboot timed out"
like "$(ust)" "Flow: +(idle|post-reboot-unlock)" "the flow left rebooting"
# Zincati asks again: lock, drain, 200
zpost pre-reboot >/dev/null
wait_for 15 pre_ok
ok $? "a new pre-reboot is answered 200 again"
is "$(holders)" "$zid " "the lock is held again"
# the configuration moves to another lock server: the slot held at the old one is given back there
sed -i 's|127.0.0.1:4400/|127.0.0.1:4401/|' "$root/etc/ballast/ballast.json"
sb systemctl reload ballastd.service
wait_for 10 sh -c "[ ! -s '$SB_DIR/holders' ]"
ok $? "after a reload that names another lock server, the old server's slot is released"
like "$(sandbox_journal -u ballastd -o cat BALLAST_EVENT=fleetlock-unlocked | tail -1)" "Released the lock at the server no longer configured" \
	"and the journal says so"
is "$(zpost steady-state)" "200 " "steady-state is answered"

done_testing
