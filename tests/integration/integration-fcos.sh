#!/bin/bash
# Fedora CoreOS specifics, in the systemd sandbox with the Fedora CoreOS os-release fixture: the clock as
# systemd-timedated says it is, the staged deployment's stream and version from rpm-ostree over D-Bus, and what
# ballastd's FleetLock endpoint answers Zincati for each.
#  - timedated: first the sandbox's REAL systemd-timedated (Debian's systemd package, bus-activated), whose
#    NTPSynchronized follows this machine's kernel; then a FAKE (tests/helpers/fake-timedated.c, timedated's
#    interface) where the test needs the clock synchronized or not at will: the host's clock state is not the
#    test's to change.
#  - rpm-ostree: a FAKE daemon (tests/helpers/fake-rpm-ostree.c) following org.projectatomic.rpmostree1 for what
#    ballastd reads (the Sysroot object's Deployments, aa{sv}), with rpm-ostree's bus policy: rpm-ostreed cannot
#    run without a booted OSTree sysroot.
#  - Zincati is not run: its pre-reboot and steady-state requests are sent as it sends them (as in
#    integration-updates.sh); the cluster's lock is the tests' FleetLock server in the sandbox's network.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/sandbox.sh"
. "$here/../lib/lib.sh"
data=$here/../data/updates

SB_DIR=$(mktemp -d /var/tmp/ballast-it-fcos.XXXXXX)
lock_pid=
trap '[ -n "$lock_pid" ] && kill $lock_pid 2>/dev/null; sandbox_stop "$SB_DIR" --purge >/dev/null 2>&1; rm -rf "$SB_DIR"' EXIT
sandbox_start "$SB_DIR" || bail "cannot start the sandbox"
ballast_install || bail "cannot install ballast into the sandbox"
root=/proc/$SANDBOX_PID/root
need curl systemd-id128 busctl

sb rm -f /etc/os-release
cp "$data/os-release-fedora-coreos" "$root/etc/os-release"
sb mkdir -p /etc/zincati

nsenter --net=/proc/$SANDBOX_PID/ns/net "$top_builddir/tests/helpers/fleetlock-server" --port 4400 --slots 1 --group workers \
	--state "$SB_DIR/holders" >"$SB_DIR/lock.port" 2>"$SB_DIR/lock.log" </dev/null &
lock_pid=$!
wait_for 5 test -s "$SB_DIR/lock.port" || bail "the test FleetLock server does not start"
printf '{"node": {"name": "n1"}, "updates": {"channel": "stable", "max_version": "39.20240301.3.0", "strategy": "fleet_lock", "fleet_lock": {"url": "http://127.0.0.1:4400/", "group": "workers"}, "time_zone": "UTC", "windows": [{"days": ["Mon","Tue","Wed","Thu","Fri","Sat","Sun"], "start": "00:00", "length_min": 10080}]}}\n' \
	>"$root/etc/ballast/ballast.json"

zid=$(sb systemd-id128 machine-id --app-specific=de35106b6ec24688b63afddaa156679b)
zbody=$(printf '{\n  "client_params": {\n    "id": "%s",\n    "group": "workers"\n  }\n}' "$zid")
zpost() {  # zpost pre-reboot|steady-state: prints "STATUS BODY"
	sb curl -s -m 5 -o /dev/stdout -w ' %{http_code}' -X POST -H 'fleet-lock-protocol: true' \
		--data-binary "$zbody" "http://127.0.0.1:7436/v1/$1" | awk '{ s = $NF; $NF = ""; sub(/ $/, ""); print s " " $0 }'
}
holders() { awk '{print $1}' "$SB_DIR/holders" 2>/dev/null | tr '\n' ' '; }
ust() { bctl update status 2>&1; }
answer_is() {  # answer_is REGEX: Zincati's next pre-reboot is answered so (answers follow what ballastd asked meanwhile)
	zpost pre-reboot | grep -Eq "$1"
}

# rpm-ostree: booted 39.20240210.3.0 on stable, 39.20240225.3.0 staged on stable (below max_version)
fake_rpm_ostree_start --booted-version 39.20240210.3.0 --origin fedora:fedora/x86_64/coreos/stable \
	--staged-version 39.20240225.3.0

# --- the real timedated: the status and the gate follow its NTPSynchronized ---
real=$(sb busctl get-property org.freedesktop.timedate1 /org/freedesktop/timedate1 org.freedesktop.timedate1 NTPSynchronized 2>&1)
like "$real" '^b (true|false)$' "the sandbox's real systemd-timedated is bus-activated and answers NTPSynchronized"
sb systemctl start ballastd.socket
bctl status >/dev/null
zpost pre-reboot >/dev/null   # a reboot in view: ballastd asks timedated and rpm-ostree
if [ "$real" = "b false" ]; then
	wait_for 10 answer_is '^409 \{"kind":"clock_unknown"'
	ok $? "timedated says the clock is not synchronized (this kernel's state): 409 clock_unknown"
	like "$(ust)" "Clock: +not known to be synchronized \(timedated\)" "the status says so, from timedated"
else
	wait_for 10 sh -c "! zpost pre-reboot | grep -q clock_unknown"
	ok $? "timedated says the clock is synchronized (this kernel's state): no clock_unknown"
	like "$(ust)" "Clock: +synchronized \(timedated\)" "the status says so, from timedated"
fi
is "$(holders)" "" "no lock asked so far"
zpost steady-state >/dev/null

# --- the fake timedated from here on: synchronized ---
fake_timedated_start
bctl update pause >/dev/null; bctl update resume >/dev/null   # a step: ballastd asks again

# --- a staged deployment in the pinned stream, below max_version: the lock is asked ---
pre_ok() { [ "$(zpost pre-reboot | cut -d' ' -f1)" = 200 ]; }
wait_for 20 pre_ok
ok $? "staged 39.20240225.3.0 on stable, max_version 39.20240301.3.0: pre-reboot answered 200"
is "$(holders)" "$zid " "the cluster's lock was asked and is held, with Zincati's id for this machine"
out=$(ust)
like "$out" "Clock: +synchronized \(timedated\)" "status: the clock, from timedated"
like "$out" "rpm-ostree: +booted 39.20240210.3.0 \(stream stable, origin fedora:fedora/x86_64/coreos/stable\); staged 39.20240225.3.0 \(stream stable" \
	"status: rpm-ostree's booted and staged deployments, their streams"
like "$out" "Reboot: +needed, into 39.20240225.3.0" "the version a reboot boots into is the staged deployment's"
# a steady-state in the boot that answered 200 is not the new boot: the lock stays (the reboot may still come)
is "$(zpost steady-state)" "200 " "steady-state in the same boot is answered"
is "$(holders)" "$zid " "and the lock is kept: the boot did not change"

# --- above max_version: refused, with its reason ---
rpm_ostree_stage 39.20240315.3.0 fedora:fedora/x86_64/coreos/stable
wait_for 10 answer_is '^409 \{"kind":"version_above_max"'
ok $? "staged 39.20240315.3.0, above max_version: 409 version_above_max"
wait_for 10 sh -c "[ ! -s '$SB_DIR/holders' ]"
ok $? "the refusal ends the attempt: the lock is released"
like "$(ust)" "Decision: +no reboot: .*\(version-above-max\)" "status: version-above-max"
# approving exactly that version lifts max_version for it (what max_version gates is the staged version)
bctl update approve 39.20240315.3.0 >/dev/null
wait_for 20 pre_ok
ok $? "approved, the same staged version: 200"
zpost steady-state >/dev/null

# --- another stream: refused with stream-mismatch, whatever the version ---
rpm_ostree_stage 39.20240225.2.0 fedora:fedora/x86_64/coreos/next
wait_for 10 answer_is '^409 \{"kind":"stream_mismatch"'
ok $? "staged on next while pinned to stable: 409 stream_mismatch"
wait_for 10 sh -c "[ ! -s '$SB_DIR/holders' ]"
ok $? "the refusal ends the attempt: the lock is released"
out=$(ust)
like "$out" "Decision: +no reboot: The deployment the reboot would boot into leaves the stream the node is pinned to. \(stream-mismatch\)" \
	"status: stream-mismatch, and why"
like "$out" "staged 39.20240225.2.0 \(stream next, origin fedora:fedora/x86_64/coreos/next\)" "status: the staged deployment's stream"
# the pin follows the operator's: pinned to next, the same deployment is in the stream
bctl update pin next >/dev/null
wait_for 20 pre_ok
ok $? "after \`update pin next\`: the deployment on next is answered 200"
zpost steady-state >/dev/null
wait_for 10 sh -c "[ ! -s '$SB_DIR/holders' ]"
bctl update pin stable >/dev/null
rpm_ostree_stage 39.20240225.3.0 fedora:fedora/x86_64/coreos/stable

# --- the clock unsynchronized per timedated: clock-unknown ---
ntp_synchronized false
wait_for 10 answer_is '^409 \{"kind":"clock_unknown"'
ok $? "timedated says NTPSynchronized false: 409 clock_unknown"
is "$(holders)" "" "no lock asked"
ntp_synchronized true
wait_for 20 pre_ok
ok $? "synchronized again: 200"
zpost steady-state >/dev/null
wait_for 10 sh -c "[ ! -s '$SB_DIR/holders' ]"

# --- rpm-ostree gone: the staged deployment is unknown, so is its stream: no reboot ---
sb systemctl stop fake-rpm-ostree.service
wait_for 10 answer_is '^409 \{"kind":"stream_unknown"'
ok $? "rpm-ostree not on the bus: 409 stream_unknown (on doubt, no reboot)"
like "$(ust)" "rpm-ostree: +unknown" "status: rpm-ostree unknown"

done_testing
