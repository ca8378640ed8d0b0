#!/bin/bash
# Resources against the real systemd and cgroup v1 in the sandbox: limits in the cgroup files and enforced,
# OOM kills seen and reported, admission against allocatable and host ports, ballast.slice bounded.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/sandbox.sh"
. "$here/../lib/lib.sh"

SB_DIR=$(mktemp -d /var/tmp/ballast-it-resources.XXXXXX)
trap 'sandbox_stop "$SB_DIR" --purge >/dev/null 2>&1; rm -rf "$SB_DIR"' EXIT
sandbox_start "$SB_DIR" --docker || bail "cannot start the sandbox"
ballast_install || bail "cannot install ballast into the sandbox"
need curl ip
root=/proc/$SANDBOX_PID/root
ncpu=$(nproc)
# allocatable cpu = ncpu - (ncpu - 1) = 1 CPU, so that admission can be tested with small numbers
printf '{"reserved": {"cpu": %s, "memory": "256M"}}\n' "$((ncpu - 1))" > "$root/etc/ballast/ballast.json"
sb systemctl start ballastd.socket
SPECS=$SB_DIR/specs
mkdir -p "$SPECS"
cg() { sb cat "/sys/fs/cgroup/$1"; }

# --- limits in the cgroup files, and enforced ---
cat > "$SPECS/busy.json" <<'JSON'
{"name": "busy", "runtime": "exec", "command": ["/bin/sh", "-c", "while :; do :; done"],
 "resources": {"cpu": 0.2, "memory": "32M", "pids": 16}}
JSON
bctl -t 20 apply --wait "$SPECS/busy.json" >/dev/null
ok $? "a service with cpu 0.2, memory 32M, pids 16 is applied"
is "$(cg memory/ballast.slice/ballast-busy.service/memory.limit_in_bytes)" 33554432 "memory.limit_in_bytes is 32M"
is "$(cg cpu/ballast.slice/ballast-busy.service/cpu.cfs_quota_us)/$(cg cpu/ballast.slice/ballast-busy.service/cpu.cfs_period_us)" 20000/100000 \
	"cpu.cfs_quota_us is 20% of a CPU"
is "$(cg pids/ballast.slice/ballast-busy.service/pids.max)" 16 "pids.max is 16"
# CPU time of the loop's process (systemd 252 does not populate cpuacct when it is a hierarchy of its own,
# as on this host, so the process's own utime+stime is what we read)
cputicks() { sb sh -c "p=\$(systemctl show -P MainPID ballast-busy.service); cut -d' ' -f14,15 /proc/\$p/stat" | awk '{print $1 + $2}'; }
hz=$(getconf CLK_TCK)
u0=$(cputicks); t0=$(date +%s%N)
sleep 3
u1=$(cputicks); t1=$(date +%s%N)
share=$(( (u1 - u0) * 1000000000 / hz * 1000 / (t1 - t0) ))
ok $(( share >= 120 && share <= 260 ? 0 : 1 )) "a busy loop is throttled to about 20% of a CPU (measured $((share / 10)).$((share % 10))% over 3 s)"
like "$(cg cpu/ballast.slice/ballast-busy.service/cpu.stat)" "nr_throttled [1-9]" "and the kernel counts the throttling"

# --- a change of resources applies live, without a restart ---
pid0=$(sb systemctl show -P MainPID ballast-busy.service)
sed -i 's/"cpu": 0.2, "memory": "32M"/"cpu": 0.3, "memory": "48M"/' "$SPECS/busy.json"
bctl apply "$SPECS/busy.json" >/dev/null
wait_for 5 sh -c "[ \"\$(nsenter -t $SANDBOX_PID -a -r -w cat /sys/fs/cgroup/cpu/ballast.slice/ballast-busy.service/cpu.cfs_quota_us)\" = 30000 ]"
ok $? "a new cpu commitment reaches cpu.cfs_quota_us (30000)"
is "$(cg memory/ballast.slice/ballast-busy.service/memory.limit_in_bytes)" 50331648 "and the new memory limit memory.limit_in_bytes (48M)"
is "$(sb systemctl show -P MainPID ballast-busy.service)" "$pid0" "without restarting the service"
like "$(sandbox_journal -u ballastd.service BALLAST_SERVICE=busy BALLAST_EVENT=service-resized)" "without a restart" "the journal says so"

# --- a limit changed by hand behind ballast's back is detected, restored and logged ---
sb sh -c 'echo 1073741824 > /sys/fs/cgroup/memory/ballast.slice/ballast-busy.service/memory.limit_in_bytes'
is "$(cg memory/ballast.slice/ballast-busy.service/memory.limit_in_bytes)" 1073741824 "a limit is changed by hand in the cgroup file"
wait_for 15 sh -c "[ \"\$(nsenter -t $SANDBOX_PID -a -r -w cat /sys/fs/cgroup/memory/ballast.slice/ballast-busy.service/memory.limit_in_bytes)\" = 50331648 ]"
ok $? "ballastd puts it back (48M) within its 10 s check"
like "$(sandbox_journal -u ballastd.service BALLAST_SERVICE=busy BALLAST_EVENT=cgroup-limits-restored)" "memory" "and logs what it found"
like "$(bctl --json capacity | tr -d ' \n')" '"name":"busy","requested":\{[^}]*\},"usage":\{[^}]*"memory_current":[1-9]' "capacity shows the service's usage from its cgroup"

# --- the sum: ballast.slice is bounded at allocatable ---
alloc_mem=$(bctl --json capacity | tr -d ' \n' | sed -n 's/.*"allocatable":{[^}]*"memory":\([0-9]*\).*/\1/p')
wait_for 5 sh -c "[ \"\$(nsenter -t $SANDBOX_PID -a -r -w cat /sys/fs/cgroup/memory/ballast.slice/memory.limit_in_bytes)\" = '$alloc_mem' ]"
ok $? "ballast.slice's memory limit is the node's allocatable memory ($alloc_mem)"
is "$(cg cpu/ballast.slice/cpu.cfs_quota_us)" 100000 "ballast.slice's CPU quota is the allocatable 1 CPU"

# --- OOM: a memory hog in a container is killed, restarted, and the kill is reported ---
cat > "$SPECS/hog.json" <<'JSON'
{"name": "hog", "image": "local/busybox:latest",
 "command": ["/bin/sh", "-c", "sleep 1; x=$(head -c 200000000 /dev/zero | tr '\\0' a); sleep 1000"],
 "resources": {"cpu": 0.1, "memory": "16M"},
 "restart": {"policy": "always", "delay_ms": 500, "max_delay_ms": 5000}}
JSON
bctl -t 20 apply --wait "$SPECS/hog.json" >/dev/null
ok $? "a memory hog is applied"
is "$(sb /usr/bin/docker inspect -f '{{.HostConfig.CgroupParent}}' ballast-hog)" /ballast/hog \
	"Docker's cgroupfs driver: the container is parented to a cgroup ballast made (/ballast/hog)"
is "$(cg memory/ballast/hog/memory.limit_in_bytes)" 16777216 "which ballast limited to the service's memory (16M)"
cid=$(sb /usr/bin/docker inspect -f '{{.Id}}' ballast-hog)
check "the container's own cgroup is inside it" -- test -d "$root/sys/fs/cgroup/memory/ballast/hog/$cid"
wait_for 20 sh -c "nsenter -t $SANDBOX_PID -a -r -w $BALLAST_BIN/ballastctl --json ps | tr -d ' \n' | grep -q '\"name\":\"hog\".*\"oom_kills\":[1-9]\|\"oom_kills\":[1-9][^}]*\"name\":\"hog\"'"
ok $? "its OOM kill is counted in ps"
like "$(sandbox_journal -u ballastd.service BALLAST_SERVICE=hog BALLAST_EVENT=service-oom)" "out of memory" "and is an event in the journal"
wait_for 15 sh -c "[ \$(nsenter -t $SANDBOX_PID -a -r -w systemctl show -P NRestarts ballast-hog.service) -ge 1 ]"
ok $? "and the service was restarted"
like "$(bctl inspect hog)" '"oom_kills": [1-9]' "inspect reports it"
bctl rm hog >/dev/null

# --- admission: allocatable, ports, freed after rm ---
printf '{"name": "a", "runtime": "exec", "command": ["/bin/sleep", "infinity"], "resources": {"cpu": 0.5}, "ports": [{"host": 10090}]}' > "$SPECS/a.json"
printf '{"name": "b", "runtime": "exec", "command": ["/bin/sleep", "infinity"], "resources": {"cpu": 0.5}}' > "$SPECS/b.json"
printf '{"name": "c", "runtime": "exec", "command": ["/bin/sleep", "infinity"], "ports": [{"host": 10090}]}' > "$SPECS/c.json"
printf '{"name": "d", "runtime": "exec", "command": ["/bin/sleep", "infinity"], "resources": {"cpu": 64}}' > "$SPECS/d.json"
bctl apply "$SPECS/a.json" >/dev/null
ok $? "a (cpu 0.5) fits beside busy (cpu 0.3) in 1 allocatable CPU"
out=$(bctl apply "$SPECS/b.json" 2>&1); st=$?
is "$st" 1 "b (cpu 0.5) does not fit: refused"
like "$out" 'b does not fit on this node: not enough cpu \(0\.5 requested, 0\.2 free\)' "the refusal names the resource, what was asked and what is free"
out=$(bctl apply "$SPECS/c.json" 2>&1)
like "$out" 'c does not fit on this node: port 10090/tcp is held by a' "two services on one host port: refused, naming the holder"
out=$(bctl apply "$SPECS/d.json" 2>&1)
like "$out" 'd does not fit on this node: not enough cpu \(64(\.0)? requested' "cpu beyond the node is refused"
check "nothing of the refused ones was written" -- test ! -e "$root/etc/systemd/system/ballast-b.service" -a ! -e "$root/var/lib/ballast/services/c.json"
like "$(bctl capacity)" "10090/tcp \(a\)" "capacity lists the port held by a"
like "$(bctl capacity)" "Largest service that still fits: cpu 0.2" "capacity reports the largest fit"
bctl rm a >/dev/null
bctl apply "$SPECS/b.json" >/dev/null
ok $? "after rm a, b fits"
bctl apply "$SPECS/c.json" >/dev/null
ok $? "and port 10090 is free again"

like "$(bctl --json capacity | tr -d ' \n')" '"capacity":\{[^}]*"disk":[1-9]' "the disk of Docker's data root is part of capacity"

# --- interfaces: netlink events, no restart, no polling (the sandbox has its own network namespace) ---
like "$(bctl capacity)" "lo +[a-z]+ +65536 .*127.0.0.1/8" "capacity lists the interfaces with state, MTU and addresses"
sb ip link add tb0 type veth peer name tb1
sb ip addr add 10.213.0.1/30 dev tb0
sb ip link set tb0 up
wait_for 3 sh -c "nsenter -t $SANDBOX_PID -a -r -w $BALLAST_BIN/ballastctl capacity | grep -q 'tb0 .*10.213.0.1/30'"
ok $? "a veth pair created in the namespace appears in capacity with its address"
sb ip link del tb0
wait_for 3 sh -c "! nsenter -t $SANDBOX_PID -a -r -w $BALLAST_BIN/ballastctl capacity | grep -q tb0"
ok $? "and disappears when deleted, without a restart"

done_testing
