#!/bin/bash
# The VM tier: ballast on a real kernel with cgroup v2 only, systemd 257 as PID 1 and Docker with its systemd cgroup
# driver (Debian 13 under QEMU, tests/vm/build-image.sh), the configuration of Fedora CoreOS and Flatcar hosts.
# ONE boot serves every check. It is a first boot as on Fedora CoreOS under QEMU: Debian's Ignition in the guest's
# initramfs (tests/vm/build-ignition-image.sh) takes the config that ballast's own generator wrote
# (ignition/ballast-ignition --os fcos, the build's install flavour dist-bin/ and examples/hello.json) from
# QEMU's fw_cfg, and ballastd and the example service come up by themselves. Then: socket activation of a
# stopped ballastd; a Docker service and an exec service applied with limits, read back from the cgroup v2 files
# the kernel enforces; usage, throttling and an OOM kill as capacity reports them; drifts put back; the
# supervisor's figures beside Docker's own restart policy (apply -> serving, kill -9 -> serving, same image, same
# boot); then an operator's real `systemctl reboot` of the guest: ballastd holds logind's delay inhibitor, stops
# its services in reverse order (exec services that trap SIGTERM write the time to /var/lib/marks, which survives
# the reboot), reports the node as shutting down to its HTTP cluster endpoint (a CGI sink in the guest) and
# releases the inhibitor; on the new boot ballast and its services are back by themselves, with the time from
# the kernel's start to serving; last, ballast's own reboot flow as on Flatcar (fake update_engine, the tests'
# FleetLock server on the host): lock, drain, logind's reboot, and on the next boot the lock released and the
# services back. Without QEMU or the image this test fails; it never skips.
# Time bounds derive from this run's own boot time (emulation is slow, and slower still on a busy host).
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
# one boot and one reboot, 14 min on a loaded host before the shutdown and crash checks joined; lib.sh's watchdog
# default (300 s, at most x4 under load) killed a run on a loaded host at 1200 s while it was applying its services
: "${WATCHDOG_S:=1500}"
export WATCHDOG_S
. "$top_srcdir/tests/lib/lib.sh"
export top_srcdir top_builddir
VM=$top_srcdir/tests/vm/vm.sh
now() { date +%s.%N; }
isnt() { [ "$1" != "$2" ] && [ -n "$1" ]; ok $? "$3"; }
since() { echo "$(now) $1" | awk '{printf "%.1f", $1 - $2}'; }

command -v qemu-system-x86_64 >/dev/null || bail "qemu-system-x86_64 is not installed (Debian package qemu-system-x86; tools/deps.sh installs it)"
command -v jq >/dev/null || bail "jq is not installed (Debian package jq; tools/deps.sh installs it)"
for f in ballastd ballastctl ballast-run ballast-pause; do
	[ -x "$top_builddir/dist-bin/$f" ] || bail "$top_builddir/dist-bin/$f is missing (make check builds it)"
done
gen=$top_builddir/ignition/ballast-ignition
[ -x "$gen" ] || bail "$gen is missing (make check builds it)"
t=$(now)
"$top_srcdir/tests/vm/build-ignition-image.sh" > "$top_builddir/vm-image.log" 2>&1 ||
	bail "the guest image could not be built: $(tail -3 "$top_builddir/vm-image.log")"
diag "image: $(tail -1 "$top_builddir/vm-image.log") ($(since "$t") s)"
IGN=$top_builddir/vm/ign

# ---- the Ignition config: ballast's own generator, as an operator runs it ----
# The example service (examples/hello.json), and a ballast.json with a cluster endpoint that keeps what it is
# sent (a busybox CGI in the guest, started below). What the operator's config adds around ballast's (the
# generator's output is a whole config, merged here with jq): the example's image, imported from the guest's disk
# before Docker's first use (no registry to pull from); a persistent journal (the shutdown is read from the
# previous boot's); logind's delay budget for the shutdown (stopping the services, two containers whose httpd
# ignores SIGTERM and waits for Docker's SIGKILL, took 40 s or more on a loaded host: not logind's 5 s).
cfgdir=$top_builddir/vm/run-config
rm -rf "$cfgdir" && mkdir -p "$cfgdir/services"
cp "$top_srcdir/examples/hello.json" "$cfgdir/services/"
echo '{"cluster": {"http": {"url": "http://127.0.0.1:18099/cgi-bin/report", "interval_s": 300}}}' > "$cfgdir/ballast.json"
cfg=$cfgdir/config.ign
out=$("$gen" --os fcos --binaries "$top_builddir/dist-bin" --services "$cfgdir/services" --config "$cfgdir/ballast.json" \
	-o "$cfg.gen" 2>&1)
ok $? "ballast-ignition wrote the Ignition config ($(stat -c %s "$cfg.gen" 2>/dev/null) bytes)" || diag "$out"
image_unit='[Unit]
Description=The example image (stands in for a registry pull)
After=docker.service
Requires=docker.service
Before=ballastd.service
ConditionPathExists=/opt/images/busybox.tar
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c "docker image inspect local/busybox:latest >/dev/null 2>&1 || docker import --change '"'"'CMD [\"/bin/sh\"]'"'"' /opt/images/busybox.tar local/busybox:latest"
[Install]
WantedBy=multi-user.target'
jq --arg u "$image_unit" '
	.systemd.units += [{"name": "busybox-image.service", "enabled": true, "contents": $u}] |
	.storage.directories += [{"path": "/var/log/journal", "mode": 493}, {"path": "/var/lib/marks", "mode": 493}] |
	.storage.files += [{"path": "/etc/systemd/logind.conf.d/ballast-vm.conf", "mode": 420,
		"contents": {"source": "data:,%5BLogin%5D%0AInhibitDelayMaxSec%3D300%0A"}}]' "$cfg.gen" > "$cfg"
ok $? "plus the operator's part: the example image, a persistent journal, logind's InhibitDelayMaxSec=300"

# ---- the fleet's FleetLock server (for the reboot flow at the end), on the host ----
FLEETLOCK_SERVER=$top_builddir/tests/helpers/fleetlock-server
[ -x "$FLEETLOCK_SERVER" ] || bail "no test FleetLock server at $FLEETLOCK_SERVER (make check builds it)"
command -v socat >/dev/null || bail "socat is not installed (Debian package socat; tools/deps.sh installs it)"
lockdir=$top_builddir/vm/run-lock
rm -rf "$lockdir" && mkdir -p "$lockdir"
"$FLEETLOCK_SERVER" --port 0 --slots 1 --group workers --state "$lockdir/holders" >"$lockdir/port" 2>"$lockdir/log" </dev/null &
LOCK_PID=$!
wait_for 10 test -s "$lockdir/port" || bail "the test FleetLock server did not start: $(cat "$lockdir/log")"

# ---- the first boot: Ignition in the initramfs takes the config from QEMU's fw_cfg, as on Fedora CoreOS ----
trap '"$VM" stop 60 >/dev/null 2>&1; "$VM" kill; kill $LOCK_PID 2>/dev/null' EXIT
t_all=$(now)
boot=$(VM_DISK=$IGN/disk.img VM_KERNEL=$IGN/vmlinuz VM_INITRD=$IGN/initrd.img VM_GUESTFWD="4400:$(cat "$lockdir/port")" \
	VM_APPEND="ignition.firstboot ignition.platform.id=qemu" \
	VM_QEMU_ARGS="-fw_cfg name=opt/com.coreos/config,file=$cfg" "$VM" boot 900) ||
	bail "the guest did not answer ssh within 900 s (serial log: $top_builddir/vm/run/serial.log)"
diag "power-on to ssh: $boot s"
# every later bound: a multiple of what this boot took
slow=${boot%.*}
[ "$slow" -ge 20 ] || slow=20
g() { VM_SSH_TIMEOUT=$((slow * 4)) "$VM" ssh "$@" </dev/null; }
gq() { g "$@" 2>/dev/null; }
put() { VM_SSH_TIMEOUT=$((slow * 4)) "$VM" put "$1"; }  # put GUEST-PATH < CONTENT
# a reboot: ssh answers the old system until it goes down, so wait until the boot id is another than BID
new_boot() {  # new_boot BID MAX-S: prints the new boot id (or the last one read)
	local id= deadline=$(($(date +%s) + $2))
	while [ "$(date +%s)" -lt "$deadline" ]; do
		id=$(VM_SSH_TIMEOUT=15 "$VM" ssh cat /proc/sys/kernel/random/boot_id </dev/null 2>/dev/null) && [ "$id" != "$1" ] && break
		sleep 1
	done
	echo "$id"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "inf" }'; }
# serving: the first answer, polled every 0.2 s in the guest (no ssh round trip in what is measured)
serve_wait() {  # serve_wait URL MAX: prints the guest's seconds until URL answered
	g "t=\$(date +%s.%N); end=\$((\$(date +%s) + $2)); until curl -fs -m 2 -o /dev/null $1; do
	   [ \$(date +%s) -lt \$end ] || exit 1; sleep 0.2; done; echo \"\$(date +%s.%N) \$t\" | awk '{printf \"%.2f\", \$1 - \$2}'"
}

j=$(gq 'journalctl -b -o cat -t ignition')
like "$j" 'fetched config from "QEMU firmware config"|fetched .*qemu|fw_cfg' "Ignition fetched the config from QEMU's fw_cfg in the initramfs"
like "$j" 'writing file "/sysroot/usr/local/bin/ballastd"|/usr/local/bin/ballastd' "Ignition's files stage wrote ballastd"
like "$(gq ls -l /usr/local/bin/ballastd)" '^-rwxr-xr-x' "/usr/local/bin/ballastd is there, 0755"
check "the example service's spec is in /etc/ballast/services.d" -- gq test -f /etc/ballast/services.d/hello.json
is "$(gq systemctl is-enabled ballastd.socket)" enabled "ballastd.socket is enabled (Ignition's preset, applied on the first boot)"
# on its first boot ballastd starts by itself (ballastd.service is enabled too), and so do its services
wait_for $((slow * 4)) g "curl -fs -m 2 http://127.0.0.1:18080/ | grep -q 'hello from ballast'"
ok $? "the example service serves 'hello from ballast' on the first boot"
diag "power-on to serving: at most $(since "$t_all") s (QEMU's start to the answer seen over ssh); guest uptime then $(gq "cut -d' ' -f1 /proc/uptime") s"
# (Ignition ran in the initramfs: its time is systemd-analyze's initrd, below)
for u in docker.service busybox-image.service ballastd.service ballast-hello.service; do
	diag "$u: $(gq systemctl show -P ActiveEnterTimestampMonotonic $u | awk '{printf "%.1f s after the kernel started", $1 / 1e6}')"
done

# ---- the guest is the host configuration it stands for ----
diag "guest: $(gq uname -r), $(gq systemd-analyze time 2>/dev/null | head -1)"
is "$(gq stat -fc %T /sys/fs/cgroup)" cgroup2fs "cgroup v2 only (the unified hierarchy at /sys/fs/cgroup)"
like "$(gq cat /sys/fs/cgroup/cgroup.controllers)" '(^| )cpu( |.*)memory( |.*)pids' "with the cpu, memory and pids controllers"
like "$(gq systemctl --version | head -1)" '^systemd 25[5-9]' "systemd 255 or later is PID 1 ($(gq systemctl --version | head -1 | cut -d' ' -f1-2))"
info=$(gq "docker info -f '{{.CgroupDriver}} v{{.CgroupVersion}} {{.ServerVersion}}'")
is "${info% *}" "systemd v2" "Docker uses the systemd cgroup driver on cgroup v2 (docker $info)"
check "the build tree is shared at its host path" -- gq test -x "$top_builddir/dist-bin/ballastd"
check "the source tree is shared at its host path" -- gq test -f "$top_srcdir/units/ballastd.service.in"

# ---- socket activation: a stopped ballastd is started by the first call (its services run on meanwhile) ----
g 'mkdir -p /root/sink/cgi-bin' >/dev/null 2>&1
put /root/sink/cgi-bin/report <<'CGI'
#!/bin/sh
head -c "${CONTENT_LENGTH:-0}" > /var/lib/marks/report.tmp
{ date +%s.%N | tr '\n' ' '; tr -d '\n' < /var/lib/marks/report.tmp; echo; } >> /var/lib/marks/reports
printf 'Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nok\n'
CGI
g 'chmod 755 /root/sink/cgi-bin/report && systemd-run -q --unit report-sink busybox httpd -f -p 127.0.0.1:18099 -h /root/sink'
ok $? "the cluster endpoint runs in the guest (a CGI that keeps the reports)"
g systemctl stop ballastd.service
is "$(gq systemctl is-active ballastd.service)" inactive "ballastd stopped (systemctl stop ballastd.service)"
check "its service serves on without it" -- g "curl -fs -m 2 -o /dev/null http://127.0.0.1:18080/"
t=$(now)
like "$(gq ballastctl status)" '^Node: +ballast-vm' "ballastctl status answers through ballastd.socket ($(since "$t") s)"
is "$(gq systemctl is-active ballastd.service)" active "and the call started ballastd.service"
wait_for $((slow * 2)) g "ballastctl status | grep -q '^Waiting for: *nothing'"
ok $? "ballastd is connected to systemd and Docker (waits for nothing)"

# ---- a Docker service and an exec service with limits ----
put /root/web.json <<'JSON'
{"name": "web", "runtime": "docker", "image": "local/busybox:latest",
 "command": ["httpd", "-f", "-p", "8080", "-h", "/"],
 "ports": [{"host": 18082, "container": 8080}],
 "resources": {"memory": "64M", "cpu": 0.25, "pids": 64},
 "restart": {"policy": "always", "delay_ms": 100}}
JSON
put /root/worker.json <<'JSON'
{"name": "worker", "runtime": "exec",
 "command": ["/usr/bin/busybox", "httpd", "-f", "-p", "18081", "-h", "/etc"],
 "ports": [{"host": 18081}],
 "resources": {"memory": "32M", "cpu": 0.125, "pids": 32},
 "restart": {"policy": "always", "delay_ms": 100}}
JSON
t=$(now)
out=$(g ballastctl -t $((slow * 3)) apply --wait /root/web.json /root/worker.json 2>&1)
ok $? "a Docker service and an exec service are applied ($(since "$t") s)" || diag "$out"
check "the Docker service serves" -- g "curl -fsS -m 5 http://127.0.0.1:18082/index.html"
is "$(gq curl -fsS -m 5 http://127.0.0.1:18081/hostname)" ballast-vm "the exec service serves"

# where Docker's systemd driver put the container: /proc/PID/cgroup says (0::/PATH on v2)
pid=$(gq docker inspect -f '{{.State.Pid}}' ballast-web)
cg=$(gq cat "/proc/$pid/cgroup")
diag "the container's cgroup: $cg"
like "$cg" '^0::/ballast\.slice/ballast-web\.slice/docker-[0-9a-f]{64}\.scope$' "the container is in ballast.slice/ballast-web.slice/docker-ID.scope"
d=/sys/fs/cgroup${cg#0::}
is "$(gq cat "$d/memory.max")" 67108864 "its memory.max is the service's memory (64M)"
is "$(gq cat "$d/cpu.max")" "25000 100000" "its cpu.max is the service's cpu (0.25)"
is "$(gq cat "$d/pids.max")" 64 "its pids.max is the service's pids (64)"
d=/sys/fs/cgroup/ballast.slice/ballast-worker.service
is "$(gq cat "$d/memory.max")" 33554432 "the exec service's memory.max (32M) in ballast.slice/ballast-worker.service"
is "$(gq cat "$d/cpu.max")" "12500 100000" "its cpu.max (0.125)"
is "$(gq cat "$d/pids.max")" 32 "its pids.max (32)"
like "$(gq cat "$d/cgroup.procs")" "^$(gq systemctl show -P MainPID ballast-worker.service)\$" "the exec service's process is in that cgroup"

# ---- capacity: usage of every service, read from cgroup v2 ----
# ballastd sweeps the cgroups every 10 s: wait for a sweep after the services came up
usage_of() {  # usage_of SERVICE FIELD: from ballastctl -j capacity
	gq ballastctl -j capacity | jq -r --arg s "$1" --arg f "$2" '.services[]? | select(.name == $s) | .usage[$f] // empty' 2>/dev/null
}
wait_for $((slow * 2)) sh -c "[ -n \"\$(VM_SSH_TIMEOUT=$((slow * 4)) '$VM' ssh \"ballastctl -j capacity | jq -r '.services[] | select(.name == \\\"web\\\") | .usage.pids_current // empty'\" </dev/null 2>/dev/null)\" ]"
cap=$(gq ballastctl capacity)
diag "ballastctl capacity:"
while IFS= read -r l; do diag "  $l"; done <<< "$cap"
for s in worker web; do
	mem=$(usage_of "$s" memory_current); pids=$(usage_of "$s" pids_current); cpu=$(usage_of "$s" cpu_usage_usec)
	[ -n "$mem" ] && [ "$mem" -gt 0 ] && [ -n "$pids" ] && [ "$pids" -ge 1 ] && [ -n "$cpu" ] && [ "$cpu" -gt 0 ]
	ok $? "capacity shows the $s service's usage from cgroup v2 (memory_current $mem, pids_current $pids, cpu_usage_usec $cpu)"
done
psi=$(gq "ballastctl -j capacity | jq -c '.services[] | select(.name == \"worker\") | .usage.cpu_pressure'")
like "$psi" '^\{"some_avg10":[0-9.]+,"some_total_usec":[0-9]+\}$' "and the worker's PSI from cpu.pressure ($psi)"
like "$(gq "ballastctl -j capacity | jq -c .conditions")" '"io_psi_some_avg10":[0-9.]+' "and the node's PSI from /proc/pressure"

# ---- a busy loop held to its cpu share (cpu.max), the kernel counts the throttling ----
put /root/busy.json <<'JSON'
{"name": "busy", "runtime": "exec", "command": ["/usr/bin/busybox", "sh", "-c", "while :; do :; done"],
 "resources": {"memory": "16M", "cpu": 0.1, "pids": 8}}
JSON
g ballastctl -t $((slow * 3)) apply --wait /root/busy.json >/dev/null 2>&1
ok $? "a busy loop with cpu 0.1 is applied"
d=/sys/fs/cgroup/ballast.slice/ballast-busy.service
# its share over a window measured here: usage_usec grows by ~10% of the wall time (a busy guest may give less)
read -r u0 w0 <<< "$(gq "echo \$(sed -n 's/^usage_usec //p' $d/cpu.stat) \$(cut -d' ' -f1 /proc/uptime)")"
sleep 5
read -r u1 w1 <<< "$(gq "echo \$(sed -n 's/^usage_usec //p' $d/cpu.stat) \$(cut -d' ' -f1 /proc/uptime)")"
share=$(awk -v u0="$u0" -v u1="$u1" -v w0="$w0" -v w1="$w1" 'BEGIN { printf "%.1f", (u1 - u0) / ((w1 - w0) * 1e6) * 100 }')
awk -v s="$share" 'BEGIN { exit !(s > 0 && s <= 13) }'
ok $? "the busy loop is held to its 10% of a CPU (measured $share% over $(awk -v a="$w0" -v b="$w1" 'BEGIN { print b - a }') s of guest time)"
thr=$(gq "sed -n 's/^nr_throttled //p' $d/cpu.stat")
[ -n "$thr" ] && [ "$thr" -gt 0 ]
ok $? "cpu.stat counts the throttling (nr_throttled $thr, throttled_usec $(gq "sed -n 's/^throttled_usec //p' $d/cpu.stat"))"
wait_for $((slow * 2)) sh -c "[ \"\$(VM_SSH_TIMEOUT=$((slow * 4)) '$VM' ssh \"ballastctl -j capacity | jq -r '.services[] | select(.name == \\\"busy\\\") | .usage.cpu_nr_throttled // 0'\" </dev/null 2>/dev/null)\" -gt 0 ]"
ok $? "and capacity reports it (cpu_nr_throttled $(usage_of busy cpu_nr_throttled), cpu_throttled_usec $(usage_of busy cpu_throttled_usec))"
g ballastctl rm busy >/dev/null 2>&1

# ---- a memory hog OOM-killed and counted ----
# dd's one 32M buffer in a 16M cgroup: the kernel kills dd (memory.events oom_kill), and systemd, seeing the kill
# in the unit's cgroup, stops the unit with Result=oom-kill (OOMPolicy=stop, its default for services)
put /root/hog.json <<'JSON'
{"name": "hog", "runtime": "exec",
 "command": ["/usr/bin/busybox", "sh", "-c", "sleep 1; dd if=/dev/zero bs=32M count=1 | cat >/dev/null; sleep 100000"],
 "resources": {"memory": "16M", "cpu": 0.1, "pids": 16}, "restart": {"policy": "no"}}
JSON
g ballastctl -t $((slow * 3)) apply /root/hog.json >/dev/null 2>&1
ok $? "a memory hog (32M in 16M) is applied"
wait_for $((slow * 2)) g "[ \"\$(systemctl show -P Result ballast-hog.service)\" = oom-kill ]"
ok $? "the kernel killed it and systemd says so (Result=$(gq systemctl show -P Result ballast-hog.service))"
wait_for $((slow * 2)) sh -c "[ \"\$(VM_SSH_TIMEOUT=$((slow * 4)) '$VM' ssh \"ballastctl -j capacity | jq -r '.services[] | select(.name == \\\"hog\\\") | .usage.oom_kills // 0'\" </dev/null 2>/dev/null)\" -ge 1 ]"
ok $? "capacity counts the OOM kill (oom_kills $(usage_of hog oom_kills))"
like "$(gq "journalctl -b -u ballastd.service -o cat | grep 'hog was killed for running out of memory'")" 'running out of memory' "and the journal says so"
g ballastctl rm hog >/dev/null 2>&1

# ---- a limit changed live by apply lands in memory.max, without a restart ----
d=/sys/fs/cgroup/ballast.slice/ballast-worker.service
pid0=$(gq systemctl show -P MainPID ballast-worker.service)
g "sed -i 's/\"memory\": \"32M\"/\"memory\": \"48M\"/' /root/worker.json && ballastctl apply /root/worker.json" >/dev/null 2>&1
wait_for $((slow * 2)) g "[ \"\$(cat $d/memory.max)\" = 50331648 ]"
ok $? "ballastctl apply of a new memory limit lands in memory.max ($(gq cat $d/memory.max))"
is "$(gq systemctl show -P MainPID ballast-worker.service)" "$pid0" "without restarting the service"

# ---- a drift: a limit changed behind ballast's back is put back through systemd ----
# (read back at once it may already be ballast's again: the sweep can run between the write and the read)
g "echo max > $d/memory.max"
ok $? "memory.max of the exec service is changed by hand to max (the kernel took the write)"
wait_for $((slow * 2)) g "[ \"\$(cat $d/memory.max)\" = 50331648 ]"
ok $? "ballastd puts it back (48M) through systemd"
like "$(gq "journalctl -b -u ballastd.service -o cat | grep 'ballast-worker.service were changed behind'")" "restoring them through systemd \(ballast-worker.service\)" "and logs what it found"
pid=$(gq docker inspect -f '{{.State.Pid}}' ballast-web)
d=/sys/fs/cgroup$(gq cat "/proc/$pid/cgroup" | cut -d: -f3)
g "echo max > $d/memory.max"
wait_for $((slow * 2)) g "[ \"\$(cat $d/memory.max)\" = 67108864 ]"
ok $? "a drift of the container's scope (${d##*/}) is put back too (memory.max $(gq cat "$d/memory.max"))"
like "$(gq systemctl show -P MemoryMax "${d##*/}")" '^67108864$' "systemd holds the scope's limit (MemoryMax), as the only writer"

# ---- the supervisor's figures: ballast beside Docker's restart policy, same image, same guest, same moment ----
# (no limits on either: the same container both ways)
put /root/crash.json <<'JSON'
{"name": "crash", "runtime": "docker", "image": "local/busybox:latest",
 "command": ["httpd", "-f", "-p", "8080", "-h", "/"],
 "ports": [{"host": 18083, "container": 8080}],
 "restart": {"policy": "always", "delay_ms": 100}}
JSON
out=$(g "ballastctl -t $((slow * 4)) apply /root/crash.json && echo applied" 2>&1)
b_apply=$(serve_wait http://127.0.0.1:18083/index.html $((slow * 4)))
ok $? "ballast: apply -> serving ${b_apply} s" || diag "$out"
d_apply=$(g "t=\$(date +%s.%N); docker run -d --name dweb -p 18090:8080 local/busybox:latest httpd -f -p 8080 -h / >/dev/null &&
	until curl -fs -m 2 -o /dev/null http://127.0.0.1:18090/index.html; do sleep 0.2; done; echo \"\$(date +%s.%N) \$t\" | awk '{printf \"%.2f\", \$1 - \$2}'")
ok $? "docker run -d -> serving ${d_apply} s (ballast/docker: $(ratio "$b_apply" "$d_apply"))"
g 'docker rm -f dweb >/dev/null; docker run -d --restart=always --name dweb -p 18090:8080 local/busybox:latest httpd -f -p 8080 -h / >/dev/null'
wait_for $((slow * 2)) g "curl -fs -m 2 -o /dev/null http://127.0.0.1:18090/index.html"
crash() {  # crash CONTAINER URL: kill -9 of its process, prints the seconds until it serves again
	g "pid=\$(docker inspect -f '{{.State.Pid}}' $1); t=\$(date +%s.%N); kill -9 \$pid;
	   while curl -fs -m 1 -o /dev/null $2; do sleep 0.05; done
	   end=\$((\$(date +%s) + $((slow * 4)))); until curl -fs -m 2 -o /dev/null $2; do
	   [ \$(date +%s) -lt \$end ] || exit 1; sleep 0.2; done; echo \"\$(date +%s.%N) \$t\" | awk '{printf \"%.2f\", \$1 - \$2}'"
}
for i in 1 2 3; do
	b=$(crash ballast-crash http://127.0.0.1:18083/index.html); rb=$?
	d=$(crash dweb http://127.0.0.1:18090/index.html); rd=$?
	[ $rb = 0 ] && [ $rd = 0 ]
	ok $? "kill -9 -> serving, round $i: ballast ${b} s, docker --restart=always ${d} s (ratio $(ratio "$b" "$d"))"
done
g 'docker rm -f dweb >/dev/null 2>&1'

# ---- for the graceful shutdown: two exec services that take their time on SIGTERM, alpha then beta ----
# (an exec service sees the system read-only, ProtectSystem=strict: the marks directory is bind-mounted for writing)
for s in alpha beta; do
	port=$([ $s = alpha ] && echo 18084 || echo 18085)
	put /root/$s.json <<JSON
{"name": "$s", "runtime": "exec",
 "command": ["/bin/sh", "-c", "trap 'date +%s.%N > /var/lib/marks/$s.term; sleep 2; date +%s.%N > /var/lib/marks/$s.done; exit 0' TERM; busybox httpd -f -p $port -h /etc & while :; do sleep 1 & wait \$!; done"],
 "ports": [{"host": $port}],
 "mounts": [{"type": "bind", "source": "/var/lib/marks", "target": "/var/lib/marks"}],
 "restart": {"policy": "always", "delay_ms": 100}}
JSON
	out=$(g ballastctl -t $((slow * 3)) apply --wait /root/$s.json 2>&1)
	ok $? "exec service $s applied" || diag "$out"
done
# the inhibitor is taken on ballastd's next look at its services (at most 10 s)
wait_for $((slow * 2)) g "systemd-inhibit --list --no-legend | grep -q 'ballast.*shutdown.*delay'"
ok $? "ballastd holds a logind delay inhibitor for shutdown: $(gq systemd-inhibit --list --no-legend | grep ballast)"

diag "ballastctl -j capacity, services: $(gq ballastctl -j capacity | jq -c '[.services[]? | {name, usage}]' 2>&1)"
diag "ballastd's journal on cgroups: $(gq "journalctl -b -u ballastd.service -o cat | grep -i -e cgroup -e usage | tail -5")"

# ---- an operator's real reboot: the graceful shutdown, then ballast and its services back by themselves ----
bid=$(gq cat /proc/sys/kernel/random/boot_id)
t=$(now)
g 'date +%s.%N > /var/lib/marks/reboot; systemctl --no-block reboot' >/dev/null 2>&1
newbid=$(new_boot "$bid" $((slow * 6 + 60)))
isnt "$newbid" "$bid" "systemctl reboot: the guest came back with a new boot id ($(since "$t") s)"
# the graceful shutdown, read back from the disk and the previous boot's journal
for s in alpha beta; do
	m=$(gq "cat /var/lib/marks/$s.term /var/lib/marks/$s.done" | tr '\n' ' ')
	like "$m" '^[0-9.]+ [0-9.]+ $' "$s got SIGTERM and its 2 s to finish before the reboot (term, done: $m)"
done
read -r r0 bdone aterm adone <<< "$(gq 'cat /var/lib/marks/reboot /var/lib/marks/beta.done /var/lib/marks/alpha.term /var/lib/marks/alpha.done' | tr '\n' ' ')"
awk -v a="$bdone" -v b="$aterm" 'BEGIN { exit !(a + 0 > 0 && b + 0 >= a + 0) }'
ok $? "reverse order: beta (applied last) was down before alpha got its SIGTERM (beta done $bdone, alpha term $aterm)"
diag "systemctl reboot -> beta done $(awk -v a="$r0" -v b="$bdone" 'BEGIN { printf "%.1f", b - a }') s, -> alpha done $(awk -v a="$r0" -v b="$adone" 'BEGIN { printf "%.1f", b - a }') s (guest clock)"
j=$(gq 'journalctl -b -1 -o short-unix -u ballastd.service')
for ev in "Holding a logind delay inhibitor \(shutdown\)" "The system is shutting down: stopping the services" \
	"Stopping ballast-beta.service" "Stopping ballast-alpha.service" "Stopping ballast-crash.service" \
	"Stopping ballast-web.service" "Node drained" "Released the shutdown inhibitor after [0-9.]+ s \(every service is stopped\)"; do
	grep -Eq "$ev" <<< "$j"
	ok $? "the journal of the last boot: $ev"
done
diag "ballastd's shutdown sequence (guest clock):"
while IFS= read -r l; do diag "  $l"; done < <(grep -E 'shutting down|Stopping ballast|drained|Released the shutdown' <<< "$j" | sed 's/ ballast-vm ballastd\[[0-9]*\]://')
rep=$(gq "grep '\"shutting_down\": *true' /var/lib/marks/reports | tail -1")
[ -n "$rep" ]
ok $? "the cluster endpoint was told the node is shutting down ($(printf '%s' "${rep#* }" | jq -c .shutdown 2>/dev/null))"

# start-up on a real boot
is "$(gq systemctl is-active ballastd.socket)" active "ballastd.socket is listening after the reboot"
wait_for $((slow * 3)) g "curl -fsS -m 5 http://127.0.0.1:18081/hostname"
ok $? "the exec service serves again after the reboot ($(since "$t") s since the reboot)"
wait_for $((slow * 3)) g "curl -fsS -m 5 http://127.0.0.1:18082/index.html"
ok $? "the Docker service serves again after the reboot ($(since "$t") s since the reboot)"
wait_for $((slow * 3)) g "curl -fs -m 2 -o /dev/null http://127.0.0.1:18083/index.html && curl -fs -m 2 -o /dev/null http://127.0.0.1:18084/hostname && curl -fs -m 2 -o /dev/null http://127.0.0.1:18085/hostname"
ok $? "crash, alpha and beta serve again too"
up=$(gq cat /proc/uptime | cut -d' ' -f1)
like "$(gq ballastctl ps)" 'web.*active' "ballastctl ps lists the Docker service active"
wait_for $((slow * 3)) g "systemctl is-active -q multi-user.target"
ok $? "multi-user.target is reached"
diag "kernel start -> every service serving: at most $up s (the guest's uptime at the first round that found all five answering)"
diag "systemd-analyze: $(gq systemd-analyze time | head -1)"
for u in multi-user.target ballastd.socket ballastd.service ballast-worker.service ballast-web.service; do
	diag "$u active: $(gq systemctl show -P ActiveEnterTimestampMonotonic $u | awk '{printf "%.1f s", $1 / 1e6}') after the kernel started"
done

# ---- ballast's own reboot flow (Flatcar), through a real reboot of the guest: lock, drain, logind, new boot, unlock ----
# update_engine is a FAKE (tests/helpers/fake-update-engine): the real one needs Flatcar's A/B partitions and an
# Omaha server. It follows update_engine's D-Bus interface exactly, on the guest's real dbus-daemon, with the bus
# policy update_engine ships; AttemptUpdate walks it to UPDATE_STATUS_UPDATED_NEED_REBOOT. timedated is the tests'
# fake too (the guest has no time server; the gate trusts the clock only when it is synchronized). The FleetLock
# server (tests/helpers/fleetlock-server, airlock's semantics, one slot) runs on the host, so that it outlives the
# guest's reboot as a real lock server outlives a node's; the guest reaches it at 10.0.2.100:4400.
ZINCATI_APP_ID=de35106b6ec24688b63afddaa156679b
fakes_start() {  # per boot, as update_engine is there at every boot on Flatcar
	g "systemctl mask --runtime --quiet systemd-timedated.service; systemctl stop systemd-timedated.service 2>/dev/null
	   systemd-run --quiet --unit fake-timedated $top_builddir/tests/helpers/fake-timedated &&
	   systemd-run --quiet --unit fake-update-engine $top_builddir/tests/helpers/fake-update-engine --step-ms 50 &&
	   for i in \$(seq 50); do busctl call com.coreos.update1 /com/coreos/update1 com.coreos.update1.Manager GetStatus >/dev/null 2>&1 && exit 0; sleep 0.2; done; exit 1"
}
flow() { gq "ballastctl -j update status | jq -r .flow.state"; }
holders() { awk '{print $1}' "$lockdir/holders" 2>/dev/null | paste -sd' '; }   # the ids holding a slot
holders_are() { [ "$(holders)" = "$1" ]; }
g 'rm -f /etc/os-release && mkdir -p /etc/flatcar /etc/dbus-1/system.d' >/dev/null 2>&1
put /etc/os-release < "$top_srcdir/tests/data/updates/os-release-flatcar"
put /etc/dbus-1/system.d/com.coreos.update1.conf < "$top_srcdir/tests/data/updates/com.coreos.update1.conf"
g 'busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig' >/dev/null 2>&1
fakes_start
ok $? "the guest is a Flatcar node: its os-release, update_engine's bus policy, the fake update_engine and timedated"
# the first boot's ballast.json, plus the updates
jq '. + {"updates": {"channel": "stable", "strategy": "fleet_lock",
	"fleet_lock": {"url": "http://10.0.2.100:4400/", "group": "workers"}, "time_zone": "UTC",
	"windows": [{"days": ["Mon","Tue","Wed","Thu","Fri","Sat","Sun"], "start": "00:00", "length_min": 10080}]}}' \
	"$cfgdir/ballast.json" | put /etc/ballast/ballast.json
g systemctl restart ballastd.service
# (its cluster endpoint, the sink of the first boot, is gone since the reboot: not waited for)
wait_for $((slow * 2)) g "ballastctl -j update status | jq -e '.os.kind == \"flatcar\" and .strategy == \"fleet_lock\" and .flow.state == \"idle\"'"
ok $? "ballastd restarted: it sees Flatcar, a FleetLock strategy at the host's lock server, a window that is always open; its flow is idle while update_engine is idle"
id=$(gq systemd-id128 machine-id --app-specific=$ZINCATI_APP_ID)
is "$(holders)" "" "the lock server has no holder"
bid=$(gq cat /proc/sys/kernel/random/boot_id)
t=$(now)
g 'busctl call com.coreos.update1 /com/coreos/update1 com.coreos.update1.Manager AttemptUpdate' >/dev/null 2>&1
ok $? "update_engine (the fake) is asked for an update: it walks to UPDATED_NEED_REBOOT"
wait_for $((slow * 3)) holders_are "$id"
ok $? "the node takes the lock at the host's server (its Zincati id $id, $(since "$t") s)"
newbid=$(new_boot "$bid" $((slow * 8 + 120)))
isnt "$newbid" "$bid" "drained, then logind rebooted the guest: a new boot id ($(since "$t") s from the update)"
fakes_start
wait_for $((slow * 3)) holders_are ""
ok $? "on the new boot: steady-state, the lock is released at the server ($(since "$t") s from the update)"
wait_for $((slow * 3)) g "curl -fs -m 2 -o /dev/null http://127.0.0.1:18082/index.html && curl -fs -m 2 -o /dev/null http://127.0.0.1:18081/hostname && curl -fs -m 2 -o /dev/null http://127.0.0.1:18080/"
ok $? "the services are back by themselves (web, worker, hello answer)"
is "$(flow)" idle "the flow is idle again"
j=$(gq "journalctl -b -1 -o cat -u ballastd.service")
seq=$(grep -aoE 'the node is draining|Node drained|asking logind to reboot|logind accepted the reboot' <<< "$j" | uniq | tr '\n' ';')
is "$seq" "the node is draining;Node drained;asking logind to reboot;logind accepted the reboot;" \
	"the previous boot's journal, in order: services stopped for the drain, drained, logind asked and accepted"
like "$(gq "journalctl -b -o cat -u ballastd.service BALLAST_EVENT=reboot-flow" | tr '\n' ' ')" "post-reboot-unlock.*idle" \
	"this boot's journal: the flow resumed after the reboot, unlocked and went idle"

t=$(now)
"$VM" stop $((slow * 2)) >/dev/null
ok $? "the guest powers off ($(since "$t") s)"
diag "the VM part of the tier took $(since "$t_all") s"
done_testing
