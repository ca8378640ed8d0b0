#!/bin/bash
# First boot to working node: the config `make ignition` writes (the example ballast.json, here with a cluster
# added: an etcd on the sandbox's loopback; examples/hello.json; the install flavour's binaries inlined) applied
# by the real Ignition to a fresh root, then what it wrote put into the sandbox (its /etc, and /opt bound over
# the sandbox's /opt), the preset applied as on a first boot, and the boot itself: multi-user.target. ballastd
# must come up by itself after Docker, start the example service, report it to etcd and say it is healthy,
# with no step by hand; and its socket must start it again when it is not running.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/sandbox.sh"
. "$here/../lib/lib.sh"
. "$here/../lib/ignition.sh"

G=$top_builddir/ignition/ballast-ignition
[ -x "$G" ] && [ -x "$top_builddir/dist-bin/ballastd" ] || bail "build first (make, make install-flavour)"
SB_DIR=$(mktemp -d /var/tmp/ballast-it-ignition.XXXXXX)
trap 'sandbox_stop "$SB_DIR" --purge >/dev/null 2>&1; rm -rf "$SB_DIR"' EXIT

# --- Ignition, as in the initramfs: the config, then the files stage on a fresh root ---
ETCD=http://127.0.0.1:23791
jq --arg e "$ETCD" '. + {node: {name: "first-boot", labels: .node.labels}, cluster: {etcd: {endpoints: [$e], ttl_s: 10}}}' \
	"$top_srcdir/ignition/example/ballast.json" > "$SB_DIR/ballast.json" || bail "jq failed"
"$G" --config "$SB_DIR/ballast.json" --services "$top_srcdir/examples" \
	--binaries "$top_builddir/dist-bin" -o "$SB_DIR/ballast.ign" || bail "the generator failed"
R=$SB_DIR/ignroot
ign_root "$R" || bail "cannot prepare the root"
ign_apply "$SB_DIR/ballast.ign" "$R" || { tail -5 "$R.log"; bail "ignition failed"; }

# --- the machine boots over it ---
sandbox_start "$SB_DIR" --docker || bail "cannot start the sandbox"
root=/proc/$SANDBOX_PID/root
need curl etcd base64
# the cluster's etcd, already there when the machine boots
sb systemd-run --quiet --unit=etcd-test --collect /usr/bin/etcd --name t --data-dir "$SB_DIR/etcd" \
	--listen-client-urls $ETCD --advertise-client-urls $ETCD \
	--listen-peer-urls http://127.0.0.1:23801 --initial-advertise-peer-urls http://127.0.0.1:23801 \
	--initial-cluster t=http://127.0.0.1:23801 || bail "cannot start etcd"
wait_for 10 sb curl -sf -m 1 $ETCD/health || bail "etcd did not start"
KEY=$(printf '/ballast/nodes/first-boot' | base64 -w0)
doc() { sb curl -s -m 2 -X POST $ETCD/v3/kv/range -d "{\"key\":\"$KEY\"}" | sed -n 's/.*"value":"\([^"]*\)".*/\1/p' | base64 -d 2>/dev/null; }
cp -a "$R/etc/ballast" "$root/etc/" || bail "cannot copy /etc/ballast"
cp -a "$R/etc/systemd/system/." "$root/etc/systemd/system/" || bail "cannot copy the units"
mkdir -p "$root/etc/systemd/system-preset"
cp -a "$R/etc/systemd/system-preset/." "$root/etc/systemd/system-preset/" || bail "cannot copy the preset"
# the image's group file with Ignition's group added (the sandbox's /etc is an overlay: the host's is untouched)
cp "$R/etc/group" "$root/etc/group" || bail "cannot copy /etc/group"
# /opt is the host's: bind Ignition's over it, in the sandbox's mount namespace only
sb mount --bind "$R/opt" /opt || bail "cannot bind /opt"
is "$(sb sha512sum /opt/bin/ballastd | cut -d' ' -f1)" "$(sha512sum < "$top_builddir/dist-bin/ballastd" | cut -d' ' -f1)" \
	"the sandbox runs the install flavour's ballastd, as Ignition wrote it"
check "with no libjansson, libcgroup or libnl in its dependencies" -- bash -c "! nsenter -t $SANDBOX_PID -a -r -w ldd /opt/bin/ballastd | grep -qE 'jansson|cgroup|libnl'"
ballast_sanitizer_env && ballast_sanitizer_dropin || bail "cannot set up the sanitizer build's drop-in"
sb systemctl daemon-reload

# first boot: systemd applies the presets (preset-all, for the units Ignition named), then boots the default
# target; the sandbox's systemd runs sandbox.target, so the test starts multi-user.target as the boot would
units=$(awk '$1 == "enable" { print $2 }' "$root/etc/systemd/system-preset/20-ignition.preset" | sort | tr '\n' ' ')
is "$units" "ballastd.service ballastd.socket docker.service " "the preset names ballastd.service, ballastd.socket and docker.service"
sb systemctl preset $units >/dev/null 2>&1
ok $? "systemctl preset applies it"
is "$(sb systemctl is-enabled ballastd.service ballastd.socket | tr '\n' ' ')" "enabled enabled " "ballastd.service and ballastd.socket are enabled"
check "ballastd.socket is wanted by sockets.target" -- test -L "$root/etc/systemd/system/sockets.target.wants/ballastd.socket"
check "ballastd.service by multi-user.target" -- test -L "$root/etc/systemd/system/multi-user.target.wants/ballastd.service"
is "$(sb systemctl show -P ActiveState ballastd.service)" inactive "before the boot's targets ballastd is not running"

t0=$(date +%s%N)
sb systemctl start multi-user.target
ok $? "the boot reaches multi-user.target"
sandbox_wait_unit ballastd.service active 30
ok $? "ballastd is up with no step by hand"
like "$(sandbox_journal -u ballastd.service BALLAST_EVENT=started)" "socket-activated" \
	"it got its control socket from ballastd.socket (socket activation)"
like "$(sb systemctl show -P After ballastd.service)" "docker.service" "ordered after Docker"
sandbox_wait_unit ballast-hello.service active 60
ok $? "the example service from /etc/ballast/services.d is active"
wait_for 30 sb curl -sf -m 0.5 -o /dev/null http://127.0.0.1:18080/
ok $? "and answers on its port ($(( ($(date +%s%N) - t0) / 1000000 )) ms after the boot started)"
wait_for 15 sh -c "nsenter -t $SANDBOX_PID -a -r -w /opt/bin/ballastctl ps | grep -Eq 'hello +(file|applied) +docker +active \(running\) +healthy'"
ok $? "ballastctl ps: hello active and healthy"
n=$(ls "$top_srcdir"/examples/*.json | wc -l)
all_active() { sb /opt/bin/ballastctl status 2>&1 | grep -Eq "Services: +$n total, $n active, 0 failed"; }
wait_for 30 all_active
ok $? "ballastctl status: the $n services of examples/ counted, all active, none failed" ||
	sb /opt/bin/ballastctl status 2>&1 | sed 's/^/#   /'
out=$(sb /opt/bin/ballastctl status 2>&1)
like "$out" "Waiting for: +nothing" "ballastctl status: waiting for nothing (systemd, Docker and a valid configuration are there)"
is "$(sb /opt/bin/ballastctl --json status | jq -r '"\(.config) \(.config_error)"')" "/etc/ballast/ballast.json null" \
	"the configuration Ignition wrote is in use, without error"
wait_for 10 sh -c "$(declare -f sb doc); SANDBOX_PID=$SANDBOX_PID ETCD=$ETCD KEY=$KEY; doc | grep -q '\"name\":\"hello\".*\"state\":\"active\"'"
ok $? "the node reports itself to etcd, with the example service active"
d=$(doc)
like "$d" '"node":"first-boot"' "under its name"
like "$d" '"labels":\{"role":"web","zone":"a"\}' "with the labels of ballast.json"
like "$out" "Cluster: +etcd ok via $ETCD" "ballastctl status: the cluster is ok"
like "$(sb systemctl show -P Environment ballastd.service)" "BALLAST_RUN_HELPER=/opt/bin/ballast-run" "ballastd is told where ballast-run is"
like "$(sb systemctl cat ballast-hello.service)" "ExecStart=\"/opt/bin/ballast-run\" docker --name hello" "the service's unit runs /opt/bin/ballast-run"
is "$(sb stat -c '%a %G' /run/ballast/ballastd.sock)" "660 ballast" "the control socket is 0660, group ballast (the group Ignition made)"
like "$(sb /opt/bin/ballastctl update status 2>&1)" "OS: +other debian" "update status reports the OS (Debian here: report only)"

# --- socket activation: ballastd stopped, the next call starts it ---
sb systemctl stop ballastd.service 2>/dev/null
is "$(sb systemctl is-active ballastd.service ballastd.socket | tr '\n' ' ')" "inactive active " "ballastd stopped, its socket still listening"
check "the workload keeps running without ballastd" -- sb curl -sf -m 0.5 -o /dev/null http://127.0.0.1:18080/
like "$(sb /opt/bin/ballastctl status 2>&1)" "^Node: " "the next ballastctl call starts ballastd by socket activation"
is "$(sb systemctl show -P ActiveState ballastd.service)" active "ballastd.service is active again"

done_testing
