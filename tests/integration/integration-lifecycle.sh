#!/bin/bash
# The life cycle of a service in the sandbox (real systemd and dockerd): `ballastctl stop` keeps it stopped through
# a kill -9 of ballastd and a reconcile (SIGHUP); a `systemctl stop` by hand is kept the same way (ps says by whom),
# and a `systemctl start` by hand ends it; `ballastctl start` brings it back; restart of a stopped service is
# refused (exit 3); a Docker service's container is stopped with it. How long to watch for an unwanted start is
# derived from how long a start took in this run.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/sandbox.sh"
. "$here/../lib/lib.sh"

SB_DIR=$(mktemp -d /var/tmp/ballast-it-lifecycle.XXXXXX)
trap 'sandbox_stop "$SB_DIR" --purge >/dev/null 2>&1; rm -rf "$SB_DIR"' EXIT
sandbox_start "$SB_DIR" --docker || bail "cannot start the sandbox"
ballast_install || bail "cannot install ballast into the sandbox"
need jq
command -v jq >/dev/null || bail "jq is not installed (tools/deps.sh installs it)"
root=/proc/$SANDBOX_PID/root
S=/var/lib/ballast
sb systemctl start ballastd.socket
now_ms() { date +%s%3N; }
active() { sb systemctl is-active "ballast-$1.service" 2>/dev/null; }
state_of() { bctl -j ps | jq -r --arg n "$1" '.services[] | select(.name == $n) | (.stopped_by // "-") + " " + .state'; }
ps_line() { bctl ps | grep "^$1 "; }
rc() { "$@" >/dev/null 2>&1; echo $?; }

sb mkdir -p /tmp/specs
printf '{"name": "s1", "runtime": "exec", "command": ["/bin/sleep", "infinity"], "restart": {"policy": "always", "delay_ms": 0}}\n' \
	>"$root/tmp/specs/s1.json"
# a generous grace (retries x interval = 60 s): on a loaded host the container may take seconds to start, and a
# health restart loop is not what this test is about
cat >"$root/tmp/specs/d1.json" <<'JSON'
{"name": "d1", "image": "local/busybox:latest", "command": ["/bin/sh", "-c", "touch /tmp/ok; exec sleep 100000"],
 "health": {"cmd": ["/bin/test", "-f", "/tmp/ok"], "interval_ms": 2000, "timeout_ms": 1900, "retries": 30}}
JSON

t0=$(now_ms)
bctl -t 60 apply --wait /tmp/specs/s1.json >/dev/null
ok $? "s1 applied and up"
START_MS=$(( $(now_ms) - t0 ))
# an unwanted start would come within a reconcile pass and a start: watch three times a measured start, >= 2 s
WATCH_MS=$(( START_MS * 3 < 2000 ? 2000 : START_MS * 3 ))
diag "a start took $START_MS ms; watching $WATCH_MS ms for unwanted starts"
bctl -t 60 apply --wait /tmp/specs/d1.json >/dev/null
r=$?
ok $r "d1 (Docker) applied and up"
[ $r = 0 ] || sb journalctl -u ballast-d1.service -n 30 --no-pager | sed 's/^/# /'
stays_inactive() {  # NAME: inactive throughout WATCH_MS
	local end=$(( $(now_ms) + WATCH_MS ))
	while [ "$(now_ms)" -lt "$end" ]; do
		[ "$(active "$1")" = active ] && return 1
		[ "$(active "$1")" = activating ] && return 1
		sleep 0.2
	done
}

# ---- ballastctl stop ----
bctl stop s1 >/dev/null
ok $? "ballastctl stop s1"
is "$(active s1)" inactive "the unit is down when stop returns"
like "$(ps_line s1)" "stopped \(by ballastctl\)" "ps: stopped (by ballastctl)"
is "$(sb stat -c %a "$S/stopped/s1")" 600 "the mark is persisted, mode 0600"
like "$(sb cat "$S/stopped/s1")" "^version=1" "the mark's format version"
is "$(rc bctl restart s1)" 3 "restart of a stopped service: refused, exit 3"

step "kill -9 of ballastd"
pid=$(sb systemctl show -P MainPID ballastd.service)
sb kill -9 "$pid"
gone() { ! sb kill -0 "$pid" 2>/dev/null; }
wait_for 10 gone
bctl -t 30 status >/dev/null   # socket activation starts it again
ok $? "ballastd is back"
stays_inactive s1
ok $? "s1 stays stopped after ballastd's restart"
sb systemctl kill -s HUP ballastd.service
stays_inactive s1
ok $? "s1 stays stopped through a reconcile (SIGHUP)"
is "$(state_of s1)" "ballastctl inactive" "still stopped by ballastctl"

bctl -t 30 start s1 >/dev/null
ok $? "ballastctl start s1"
is "$(active s1)" active "s1 is up"
is "$(sb sh -c "test -e $S/stopped/s1 && echo yes || echo no")" no "the mark is gone"

# ---- systemctl stop by hand ----
sb systemctl stop ballast-s1.service
by_hand() { [ "$(state_of s1)" = "hand inactive" ]; }
wait_for 10 by_hand
ok $? "systemctl stop by hand is seen: stopped_by hand"
like "$(ps_line s1)" "stopped \(by hand\)" "ps: stopped (by hand)"
like "$(sb cat "$S/stopped/s1")" "by=hand" "persisted as by=hand"
sb systemctl kill -s HUP ballastd.service
stays_inactive s1
ok $? "a stop by hand is respected: not started again (Restart=always, reconcile)"
sb systemctl start ballast-s1.service
unstopped() { [ "$(state_of s1)" = "- active" ]; }
wait_for 10 unstopped
ok $? "systemctl start by hand ends the stop"
is "$(sb sh -c "test -e $S/stopped/s1 && echo yes || echo no")" no "and removes the mark"
sb systemctl stop ballast-s1.service
wait_for 10 by_hand
ok $? "stopped by hand again"
bctl -t 30 start s1 >/dev/null
ok $? "ballastctl start after a stop by hand"
is "$(active s1)" active "s1 is up"
# ---- masked by hand: a link to /dev/null in place of the unit file (`systemctl mask` refuses, even with
# --force: the unit file ballast wrote is in /etc/systemd/system, and a runtime mask in /run does not shadow it) ----
sb systemctl stop ballast-s1.service
wait_for 10 by_hand
sb ln -sf /dev/null /etc/systemd/system/ballast-s1.service
sb systemctl daemon-reload
masked() { ps_line s1 | grep -q "masked (inactive)"; }
wait_for 10 masked
ok $? "a unit masked by hand (a link to /dev/null, daemon-reload): ps says masked" ||
	diag "$(ps_line s1) / LoadState=$(sb systemctl show -P LoadState ballast-s1.service)"
sb systemctl kill -s HUP ballastd.service
sleep 1
is "$(sb readlink /etc/systemd/system/ballast-s1.service)" /dev/null "a reconcile leaves the mask as it is"
sb rm /etc/systemd/system/ballast-s1.service
sb systemctl kill -s HUP ballastd.service
unit_back() { sb test -f /etc/systemd/system/ballast-s1.service && ps_line s1 | grep -q "stopped (by hand)"; }
wait_for 10 unit_back
ok $? "unmasked: the unit file written again, still stopped (by hand)"
bctl -t 30 start s1 >/dev/null
is "$(active s1)" active "and ballastctl start brings it up"

# ---- a Docker service ----
bctl -t 30 stop d1 >/dev/null
ok $? "ballastctl stop d1"
is "$(sb docker ps -q --filter name=^/ballast-d1\$)" "" "its container is not running"
stays_inactive d1
ok $? "d1 stays stopped"
bctl -t 60 start d1 >/dev/null
ok $? "ballastctl start d1"
is "$(sb docker inspect -f '{{.State.Running}}' ballast-d1)" true "its container runs again"

# ---- logs -n / -o through to journalctl ----
out=$(bctl logs -n 3 -o cat s1)
is "$?" 0 "logs -n 3 -o cat"
ok "$([ "$(wc -l <<<"$out")" -le 3 ]; echo $?)" "at most 3 lines"
like "$(bctl logs -n 1 -o json s1)" '"_SYSTEMD_UNIT" *: *"ballast-s1.service"|"UNIT" *: *"ballast-s1.service"' "-o json: journalctl's JSON, of the unit"
ok "$(bctl logs --since '1 hour ago' s1 | grep -q 'ballast-s1\|s1'; echo $?)" "--since"

# ---- diff and apply --dry-run: what would change, nothing applied ----
pid0=$(sb systemctl show -P MainPID ballast-s1.service)
persisted=$(sb cat "$S/services/s1.json")
out=$(bctl diff /tmp/specs/s1.json)
is "$?" 0 "diff of the applied spec: exit 0"
is "$out" "s1: no change" "diff: no change"
sed 's/"restart"/"env": {"V": "2"}, "restart"/' "$root/tmp/specs/s1.json" >"$root/tmp/specs/s1-env.json"
out=$(bctl diff /tmp/specs/s1-env.json)
like "$out" "^s1: changed: the service restarts" "diff: a new env restarts the service"
like "$out" "spec: env" "the field that changes"
like "$out" "\+ EnvironmentFile=/var/lib/ballast/env/s1\.env" "the unit line it adds (the environment's file: values stay out of the unit)"
ok "$(case "$out" in *V=2*) echo 1 ;; *) echo 0 ;; esac)" "and the diff does not print the value"
out2=$(bctl apply --dry-run /tmp/specs/s1-env.json)
is "$out2" "$out" "apply --dry-run says the same"
sed 's/"restart"/"resources": {"memory": "64M"}, "restart"/' "$root/tmp/specs/s1.json" >"$root/tmp/specs/s1-mem.json"
like "$(bctl diff /tmp/specs/s1-mem.json)" "^s1: resources only: changed live, no restart" "diff: resources only, no restart"
like "$(bctl diff /tmp/specs/s1-mem.json)" "\+ MemoryMax=67108864" "with the unit's new MemoryMax="
is "$(bctl -j diff /tmp/specs/s1-env.json | jq -r '[.change, .restarts] | @tsv')" "$(printf 'restart\ttrue')" "--json: change and restarts"
like "$(bctl diff /tmp/specs/d1.json | head -n 1)" "^d1: no change" "diff of a Docker service"
sed 's/"name": "s1"/"name": "s9"/' "$root/tmp/specs/s1.json" >"$root/tmp/specs/s9.json"
like "$(bctl diff /tmp/specs/s9.json)" "^s9: a new service" "diff of a service not there yet"
is "$(sb systemctl show -P MainPID ballast-s1.service)" "$pid0" "diff restarted nothing"
is "$(sb cat "$S/services/s1.json")" "$persisted" "and persisted nothing"
is "$(sb sh -c "test -e $S/services/s9.json && echo yes || echo no")" no "the new service was not applied"

# ---- validate: offline, no daemon (a socket that does not exist) ----
V=$SB_DIR/validate
mkdir -p "$V"
printf '{"name": "v1", "image": "local/busybox:latest"}\n' >"$V/good.json"
printf '{"name": "v2",\n "image": "x", "resources": {"memory": "12XB"}}\n' >"$V/bad.json"
vctl() { BALLAST_SOCKET=$V/nosocket "$top_builddir/ballastctl" "$@"; }
out=$(vctl validate "$V/good.json" 2>&1)
is "$?" 0 "validate of a valid spec: exit 0, no daemon needed"
like "$out" "good.json: valid \(v1, docker\)" "says it is valid, with its name and runtime"
out=$(vctl validate "$V/good.json" "$V/bad.json" 2>&1)
is "$?" 2 "validate with an invalid spec: exit 2"
like "$out" "bad.json:2:30: resources.memory: " "the error as FILE:LINE:COLUMN: field"
is "$(rc vctl validate "$V/missing.json")" 1 "an unreadable file: exit 1"
is "$(vctl -j validate "$V/good.json" | jq -r '.restart.policy')" always "--json: the normalized spec, defaults filled in"

is "$(rc bctl stop nosuch)" 4 "stop of an unknown service: exit 4"
is "$(rc bctl start 'Bad Name')" 2 "start of a bad name: exit 2"
done_testing
