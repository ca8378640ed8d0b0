#!/bin/bash
# Docker with its systemd cgroup driver: containers land in the service's slice, under ballast.slice.
# (The cgroupfs driver, Docker's default here, is covered by integration-resources.sh.)
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/sandbox.sh"
. "$here/../lib/lib.sh"

SB_DIR=$(mktemp -d /var/tmp/ballast-it-cgsd.XXXXXX)
trap 'sandbox_stop "$SB_DIR" --purge >/dev/null 2>&1; rm -rf "$SB_DIR"' EXIT
SANDBOX_DOCKER_OPTS="--exec-opt native.cgroupdriver=systemd" sandbox_start "$SB_DIR" --docker || bail "cannot start the sandbox"
ballast_install || bail "cannot install ballast into the sandbox"
sb systemctl start ballastd.socket
is "$(sb /usr/bin/docker info -f '{{.CgroupDriver}}')" systemd "dockerd runs with the systemd cgroup driver"

cat > "$SB_DIR/web.json" <<'JSON'
{"name": "web", "image": "local/busybox:latest", "command": ["httpd", "-f", "-p", "8080", "-h", "/"],
 "ports": [{"host": 18080, "container": 8080}], "resources": {"memory": "40M", "cpu": 0.25}}
JSON
bctl -t 30 apply --wait "$SB_DIR/web.json" >/dev/null
ok $? "a Docker service is applied"
is "$(sb /usr/bin/docker inspect -f '{{.HostConfig.CgroupParent}}' ballast-web)" ballast-web.slice "its container's parent is the service's slice"
cid=$(sb /usr/bin/docker inspect -f '{{.Id}}' ballast-web)
d=/sys/fs/cgroup/memory/ballast.slice/ballast-web.slice/docker-$cid.scope
check "the container's cgroup is ballast.slice/ballast-web.slice/docker-ID.scope" -- test -d "/proc/$SANDBOX_PID/root$d"
is "$(sb cat $d/memory.limit_in_bytes)" 41943040 "with the service's memory limit (40M)"
is "$(sb cat /sys/fs/cgroup/cpu/ballast.slice/ballast-web.slice/docker-$cid.scope/cpu.cfs_quota_us)" 25000 "and its CPU quota (0.25)"
like "$(sb systemctl show -P Slice docker-$cid.scope)" "ballast-web.slice" "systemd sees the scope in that slice"
check "and it answers" -- sb curl -s -m 1 -o /dev/null http://127.0.0.1:18080/

done_testing
