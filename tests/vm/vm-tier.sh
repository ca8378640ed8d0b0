#!/bin/bash
# The VM tier: ballast on a real kernel with cgroup v2 only, systemd 257 as PID 1 and Docker with its systemd cgroup
# driver (Debian 13 under QEMU, tests/vm/build-image.sh), the configuration of Fedora CoreOS and Flatcar hosts.
# ONE boot serves every check: the build's install flavour is installed from the 9p share, ballastd starts by socket
# activation, a Docker service and an exec service are applied with limits, and the limits are read back from the
# cgroup v2 files the kernel enforces; the supervisor's figures beside Docker's own restart policy (apply -> serving,
# kill -9 -> serving, same image, same boot); then an operator's real `systemctl reboot` of the guest: ballastd
# holds logind's delay inhibitor, stops its services in reverse order (exec services that trap SIGTERM write the
# time to /var/lib/marks, which survives the reboot), reports the node as shutting down to its HTTP cluster
# endpoint (a CGI sink in the guest) and releases the inhibitor; on the new boot ballast and its services are back
# by themselves, with the time from the kernel's start to serving. Without QEMU or the image this test fails; it
# never skips.
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
for f in ballastd ballastctl ballast-run ballast-pause; do
	[ -x "$top_builddir/dist-bin/$f" ] || bail "$top_builddir/dist-bin/$f is missing (make check builds it)"
done
t=$(now)
"$top_srcdir/tests/vm/build-image.sh" > "$top_builddir/vm-image.log" 2>&1 ||
	bail "the guest image could not be built: $(tail -3 "$top_builddir/vm-image.log")"
diag "image: $(tail -1 "$top_builddir/vm-image.log") ($(since "$t") s)"

trap '"$VM" stop 60 >/dev/null 2>&1; "$VM" kill' EXIT
t_all=$(now)
boot=$("$VM" boot 900) || bail "the guest did not answer ssh within 900 s (serial log: $top_builddir/vm/run/serial.log)"
diag "boot to ssh: $boot s"
# every later bound: a multiple of what this boot took
slow=${boot%.*}
[ "$slow" -ge 20 ] || slow=20
g() { VM_SSH_TIMEOUT=$((slow * 4)) "$VM" ssh "$@" </dev/null; }
gq() { g "$@" 2>/dev/null; }
put() { VM_SSH_TIMEOUT=$((slow * 4)) "$VM" put "$1"; }  # put GUEST-PATH < CONTENT
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "inf" }'; }
# serving: the first answer, polled every 0.2 s in the guest (no ssh round trip in what is measured)
serve_wait() {  # serve_wait URL MAX: prints the guest's seconds until URL answered
	g "t=\$(date +%s.%N); end=\$((\$(date +%s) + $2)); until curl -fs -m 2 -o /dev/null $1; do
	   [ \$(date +%s) -lt \$end ] || exit 1; sleep 0.2; done; echo \"\$(date +%s.%N) \$t\" | awk '{printf \"%.2f\", \$1 - \$2}'"
}

# ---- the guest is the host configuration it stands for ----
diag "guest: $(gq uname -r), $(gq systemd-analyze time 2>/dev/null | head -1)"
is "$(gq stat -fc %T /sys/fs/cgroup)" cgroup2fs "cgroup v2 only (the unified hierarchy at /sys/fs/cgroup)"
like "$(gq cat /sys/fs/cgroup/cgroup.controllers)" '(^| )cpu( |.*)memory( |.*)pids' "with the cpu, memory and pids controllers"
like "$(gq systemctl --version | head -1)" '^systemd 25[5-9]' "systemd 255 or later is PID 1 ($(gq systemctl --version | head -1 | cut -d' ' -f1-2))"
is "$(gq systemctl is-active docker.service)" inactive "Docker is not running before its first use (socket activation)"
t=$(now)
info=$(gq "docker info -f '{{.CgroupDriver}} v{{.CgroupVersion}} {{.ServerVersion}}'")
is "${info% *}" "systemd v2" "Docker uses the systemd cgroup driver on cgroup v2 (docker $info, first start $(since "$t") s)"
check "the build tree is shared at its host path" -- gq test -x "$top_builddir/dist-bin/ballastd"
check "the source tree is shared at its host path" -- gq test -f "$top_srcdir/units/ballastd.service.in"

# ---- install, socket activation ----
out=$(g sh "$top_srcdir/tests/vm/guest-install.sh" "$top_builddir" "$top_srcdir" 2>&1)
ok $? "the install flavour (dist-bin/) and the units are installed and enabled" || diag "$out"
# a cluster endpoint that keeps what it is sent (a busybox CGI), a persistent journal (the shutdown is read from the
# previous boot's), logind's delay budget for the shutdown: stopping five services (two containers whose httpd, PID 1,
# ignores SIGTERM and waits for Docker's SIGKILL) took 40 s or more on a loaded host, so the budget is what this
# boot took (at least 60 s), not logind's 5 s
g 'mkdir -p /var/lib/marks /var/log/journal /root/sink/cgi-bin && systemctl restart systemd-journald && journalctl --flush' >/dev/null 2>&1
put /root/sink/cgi-bin/report <<'CGI'
#!/bin/sh
head -c "${CONTENT_LENGTH:-0}" > /var/lib/marks/report.tmp
{ date +%s.%N | tr '\n' ' '; tr -d '\n' < /var/lib/marks/report.tmp; echo; } >> /var/lib/marks/reports
printf 'Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nok\n'
CGI
g 'chmod 755 /root/sink/cgi-bin/report && systemd-run -q --unit report-sink busybox httpd -f -p 127.0.0.1:18099 -h /root/sink'
inhibit_s=$((slow < 60 ? 60 : slow))
g "mkdir -p /etc/systemd/logind.conf.d && printf '[Login]\\nInhibitDelayMaxSec=$inhibit_s\\n' > /etc/systemd/logind.conf.d/ballast-vm.conf && systemctl restart systemd-logind"
echo '{"cluster": {"http": {"url": "http://127.0.0.1:18099/cgi-bin/report", "interval_s": 300}}}' | put /etc/ballast/ballast.json
ok $? "a cluster endpoint in the guest, a persistent journal, logind's InhibitDelayMaxSec=$inhibit_s"
is "$(gq systemctl is-active ballastd.service)" inactive "ballastd is not running before the first call"
t=$(now)
like "$(gq ballastctl status)" '^Node: +ballast-vm' "ballastctl status answers through ballastd.socket ($(since "$t") s)"
is "$(gq systemctl is-active ballastd.service)" active "and the call started ballastd.service"
wait_for $((slow * 2)) g "ballastctl status | grep -q '^Waiting for: *nothing'"
ok $? "ballastd is connected to systemd and Docker (waits for nothing)"

# ---- a Docker service and an exec service with limits ----
put /root/web.json <<'JSON'
{"name": "web", "runtime": "docker", "image": "local/busybox:latest",
 "command": ["httpd", "-f", "-p", "8080", "-h", "/"],
 "ports": [{"host": 18080, "container": 8080}],
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
check "the Docker service serves" -- g "curl -fsS -m 5 http://127.0.0.1:18080/index.html"
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
# ssh answers the old system until it goes down: wait until the boot id changes
newbid=
deadline=$(($(date +%s) + slow * 6 + 60))
while [ "$(date +%s)" -lt "$deadline" ]; do
	newbid=$(VM_SSH_TIMEOUT=15 "$VM" ssh cat /proc/sys/kernel/random/boot_id </dev/null 2>/dev/null) && [ "$newbid" != "$bid" ] && break
	sleep 1
done
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
wait_for $((slow * 3)) g "curl -fsS -m 5 http://127.0.0.1:18080/index.html"
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

t=$(now)
"$VM" stop $((slow * 2)) >/dev/null
ok $? "the guest powers off ($(since "$t") s)"
diag "the VM part of the tier took $(since "$t_all") s"
done_testing
