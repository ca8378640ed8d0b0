#!/bin/bash
# The spec's storage, identity, security, ports and order keys against a real systemd and dockerd in the
# sandbox: a volume keeps its files across `docker rm -f`; the uid inside is the spec's; a read-only root refuses
# a write; a port on host_ip 127.0.0.1 does not answer on the sandbox's other address; `after`/`requires` order
# the starts and a cycle is refused; an exec service runs as a non-root user in its sandbox; hostile values are
# refused with nothing written. Each spec of examples/ is applied.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/sandbox.sh"
. "$here/../lib/lib.sh"

SB_DIR=$(mktemp -d /var/tmp/ballast-it-spec.XXXXXX)
trap 'sandbox_stop "$SB_DIR" --purge >/dev/null 2>&1; rm -rf "$SB_DIR"' EXIT
sandbox_start "$SB_DIR" --docker --persist || bail "cannot start the sandbox"
ballast_install || bail "cannot install ballast into the sandbox"
need curl ip
sb systemctl start ballastd.socket
root=/proc/$SANDBOX_PID/root
SPECS=$SB_DIR/specs
mkdir -p "$SPECS"
prop() { sb systemctl show -P "$1" "$2"; }
docker() { sb /usr/bin/docker "$@"; }
bctl status >/dev/null
wait_for 10 sh -c "nsenter -t $SANDBOX_PID -a -r -w journalctl --no-pager -u ballastd.service | grep -q 'cgroup driver'"

# --- examples/web-volume.json: a volume, a loopback-only port ---
step "web-volume"
cp "$top_srcdir/examples/web-volume.json" "$SPECS/"
out=$(bctl -t 60 apply --wait "$SPECS/web-volume.json" 2>&1)
like "$out" "web-volume: active" "examples/web-volume.json applies and becomes active" ||
	sandbox_journal -o short-monotonic -n 40 -u ballast-web-volume.service -u ballastd.service -u docker.service | sed 's/^/#   /'
answers() { sb curl -sf -m 1 "http://$1:18181/"; }
like "$(answers 127.0.0.1)" "hello from a volume" "it answers on 127.0.0.1"
other=$(sb ip -4 -o addr show | awk '$2 != "lo" {sub(/\/.*/, "", $4); print $4; exit}')
like "$other" "^[0-9.]+$" "the sandbox has another address ($other)"
check "the port bound to 127.0.0.1 does not answer on $other" -- bash -c "! nsenter -t $SANDBOX_PID -a -r -w curl -sf -m 1 -o /dev/null http://$other:18181/"
is "$(docker inspect -f '{{(index (index .HostConfig.PortBindings "8080/tcp") 0).HostIp}}' ballast-web-volume.net)" 127.0.0.1 \
	"the network holder publishes on host_ip"
is "$(docker volume inspect -f '{{index .Labels "io.ballast.service"}}' ballast-web-volume.data)" web-volume \
	"the volume ballast-web-volume.data is labelled io.ballast.service=web-volume"
docker exec ballast-web-volume sh -c 'echo kept > /data/index.html'
id0=$(docker inspect -f '{{.Id}}' ballast-web-volume)
docker rm -f ballast-web-volume >/dev/null
wait_for 20 sh -c "nsenter -t $SANDBOX_PID -a -r -w curl -sf -m 1 http://127.0.0.1:18181/ | grep -q kept"
ok $? "after docker rm -f the service is back, with the file written into the volume"
isnt_id=$(docker inspect -f '{{.Id}}' ballast-web-volume 2>/dev/null)
ok $([ -n "$isnt_id" ] && [ "$isnt_id" != "$id0" ]; echo $?) "  in a new container"
is "$(docker inspect -f '{{.HostConfig.SecurityOpt}} {{.HostConfig.CapDrop}} {{.Config.StopTimeout}}' ballast-web-volume)" \
	"[no-new-privileges:true] [CAP_NET_RAW] 5" "no_new_privileges, cap_drop and stop_timeout_s reach the container"

# --- identity: the uid inside is the spec's; a read-only root refuses a write ---
step "identity"
cat > "$SPECS/ident.json" <<'JSON'
{"name": "ident", "image": "local/busybox:latest", "command": ["/bin/sleep", "100000"],
 "user": "4321:4321", "working_dir": "/tmp", "read_only": true, "stop_signal": "KILL",
 "mounts": [{"type": "tmpfs", "target": "/tmp"}], "ulimits": {"nofile": {"soft": 512, "hard": 1024}}}
JSON
bctl -t 60 apply --wait "$SPECS/ident.json" >/dev/null
ok $? "a service with user, read_only, ulimits applies" ||
	sandbox_journal -o short-monotonic -n 40 -u ballast-ident.service -u ballastd.service | sed 's/^/#   /'
is "$(docker exec ballast-ident id -u):$(docker exec ballast-ident id -g)" "4321:4321" "the uid and gid inside are the spec's"
like "$(docker exec ballast-ident cat /proc/1/limits)" "Max open files +512 +1024 " "the nofile limits are the spec's"
check "the read-only root refuses a write" -- bash -c "! nsenter -t $SANDBOX_PID -a -r -w /usr/bin/docker exec ballast-ident touch /etc/x 2>/dev/null"
out=$(docker exec ballast-ident sh -c 'touch /tmp/x && echo written' 2>&1)
like "$out" "^written$" "  and the tmpfs takes one, from the spec's user (the image's /tmp is 1777)" ||
	diag "$(docker exec ballast-ident grep ' /tmp ' /proc/mounts)"
is "$(docker exec ballast-ident pwd)" /tmp "working_dir"

# --- examples/exec-nonroot.json: an exec service as a non-root user, sandboxed ---
step "exec-nonroot"
cp "$top_srcdir/examples/exec-nonroot.json" "$SPECS/"
bctl -t 60 apply --wait "$SPECS/exec-nonroot.json" >/dev/null
ok $? "examples/exec-nonroot.json applies"
pid=$(prop MainPID ballast-exec-nonroot.service)
like "$(awk '/^Uid:/ {print $2}' "$root/proc/$pid/status" 2>/dev/null || sb awk '/^Uid:/ {print $2}' /proc/$pid/status)" \
	"^$(sb id -u nobody)$" "its main process runs as nobody"
is "$(prop ProtectSystem ballast-exec-nonroot.service) $(prop NoNewPrivileges ballast-exec-nonroot.service) $(prop PrivateTmp ballast-exec-nonroot.service)" \
	"strict yes yes" "with the sandbox's defaults"
wait_for 5 sh -c "nsenter -t $SANDBOX_PID -a -r -w systemctl show -P ActiveState ballast-exec-nonroot.service | grep -qx active"
ok $? "  and stays active (it can write its PrivateTmp)"

# --- order: requires/after, and a cycle refused ---
step "order"
printf '{"name": "first", "runtime": "exec", "command": ["/bin/sleep", "100000"]}' > "$SPECS/first.json"
printf '{"name": "second", "runtime": "exec", "command": ["/bin/sleep", "100000"], "requires": ["first"]}' > "$SPECS/second.json"
bctl -t 60 apply --wait "$SPECS/first.json" >/dev/null && bctl -t 60 apply --wait "$SPECS/second.json" >/dev/null
ok $? "two services, the second requiring the first, apply"
like "$(prop After ballast-second.service)" "ballast-first.service" "ballast-second.service is After= ballast-first.service"
sb systemctl stop ballast-first.service
is "$(prop ActiveState ballast-second.service)" inactive "stopping the first stops the second (Requires=)"
sb systemctl start ballast-second.service
t1=$(prop ExecMainStartTimestampMonotonic ballast-first.service)
t2=$(prop ExecMainStartTimestampMonotonic ballast-second.service)
ok $([ "$t1" -gt 0 ] && [ "$t1" -lt "$t2" ]; echo $?) "starting the second starts the first, and first ($t1 < $t2 µs)"
printf '{"name": "first", "runtime": "exec", "command": ["/bin/sleep", "100000"], "after": ["second"]}' > "$SPECS/first2.json"
out=$(bctl apply "$SPECS/first2.json" 2>&1)
like "$out" "cycle: first -> second -> first" "a spec closing a cycle is refused, naming it"
check "  and nothing was written" -- bash -c "! grep -q second $root/etc/systemd/system/ballast-first.service $root/var/lib/ballast/services/first.json"

# --- hostile values: refused, nothing written ---
step "hostile"
n=0
for bad in '"mounts": [{"type": "bind", "source": "/srv/../etc", "target": "/x"}]' \
	'"mounts": [{"type": "bind", "source": "etc", "target": "/x"}]' \
	'"user": "root\nExecStartPre=/bin/evil"' \
	'"cap_add": ["CAP_BOGUS"]' \
	'"devices": ["/etc/shadow"]' \
	'"working_dir": "/a\u0001"' \
	'"requires": ["x\nRequires=evil"]'; do
	n=$((n + 1))
	printf '{"name": "bad%d", "image": "local/busybox:latest", %s}' "$n" "$bad" > "$SPECS/bad$n.json"
	out=$(bctl apply "$SPECS/bad$n.json" 2>&1)
	ok $([ $? -ne 0 ]; echo $?) "hostile #$n refused: $(echo "$out" | head -1)"
	check "  nothing written for bad$n" -- bash -c "! ls $root/etc/systemd/system/ballast-bad$n.service $root/var/lib/ballast/services/bad$n.json 2>/dev/null"
done

# --- rm keeps the volume (its data survives a new apply); rm --volumes removes it once the container is gone ---
step "rm"
bctl rm web-volume >/dev/null
ok $? "rm web-volume"
check "the volume is kept" -- docker volume inspect ballast-web-volume.data
check "  and the container is gone" -- bash -c "! nsenter -t $SANDBOX_PID -a -r -w /usr/bin/docker inspect ballast-web-volume >/dev/null 2>&1"
out=$(bctl -t 60 apply --wait "$SPECS/web-volume.json" 2>&1)
like "$out" "web-volume: active" "applied again after the rm"
like "$(answers 127.0.0.1)" "^kept$" "  it serves the file written into the volume before the rm"
docker volume create --label io.ballast.service=other ballast-other.data >/dev/null
out=$(bctl rm --volumes web-volume 2>&1)
ok $? "rm --volumes web-volume"
like "$out" "removed the volume ballast-web-volume.data" "  says which volume it removed"
check "the volume is gone" -- bash -c "! nsenter -t $SANDBOX_PID -a -r -w /usr/bin/docker volume inspect ballast-web-volume.data >/dev/null 2>&1"
check "  and the container" -- bash -c "! nsenter -t $SANDBOX_PID -a -r -w /usr/bin/docker inspect ballast-web-volume >/dev/null 2>&1"
check "another service's volume is left alone" -- docker volume inspect ballast-other.data
out=$(bctl -t 60 apply --wait "$SPECS/web-volume.json" 2>&1)
like "$(answers 127.0.0.1)" "hello from a volume" "applied again after rm --volumes: a fresh volume"
out=$(bctl -j rm --volumes web-volume 2>&1)
like "$(printf '%s' "$out" | tr -d ' \n')" '"volumes":\["ballast-web-volume.data"\]' "rm -j --volumes: the reply lists the volumes removed"
out=$(bctl rm --volumes web-volume 2>&1)
is "$?" 4 "rm --volumes of a service that is gone: no such service (exit 4)"

done_testing
