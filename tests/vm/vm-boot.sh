#!/bin/bash
# The VM tier, what only real boots show (one QEMU run of its own, beside tests/vm/vm-tier.sh):
#  - the supervisor's figures in the guest, Docker beside ballast: kill -9 of the container's process -> serving
#    again, and apply -> serving, each against Docker's own `docker run --restart=always` / `docker run -d` of the
#    same image in the same boot (ratios: emulation is slow);
#  - graceful shutdown for an operator's `systemctl reboot`: ballastd holds logind's delay inhibitor, and on
#    PrepareForShutdown stops the services, the last one applied first, each given its SIGTERM and its time
#    (exec services that trap SIGTERM write the time to /var/lib/marks, which survives a guest reboot), reports
#    the node as shutting down to its HTTP cluster endpoint (a CGI sink in the guest), releases the inhibitor;
#    the journal of that boot shows the sequence;
#  - start-up on a real boot: ballastd.socket, multi-user.target, the services serving again; time from the
#    kernel's start to serving (systemd-analyze and the first answer).
# Without QEMU or the image this test fails; it never skips. Time bounds derive from this run's own boot time.
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
# a boot under emulation on a loaded host takes up to 15 min (two of them here): lib.sh's watchdog gets an hour
: "${WATCHDOG_S:=3600}"
export WATCHDOG_S
. "$top_srcdir/tests/lib/lib.sh"
export top_srcdir top_builddir
VM=$top_srcdir/tests/vm/vm.sh
now() { date +%s.%N; }
since() { echo "$(now) $1" | awk '{printf "%.1f", $1 - $2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "inf" }'; }

command -v qemu-system-x86_64 >/dev/null || bail "qemu-system-x86_64 is not installed (Debian package qemu-system-x86; tools/deps.sh installs it)"
for f in ballastd ballastctl ballast-run ballast-pause; do
	[ -x "$top_builddir/dist-bin/$f" ] || bail "$top_builddir/dist-bin/$f is missing (make check builds it)"
done
"$top_srcdir/tests/vm/build-image.sh" > "$top_builddir/vm-image.log" 2>&1 ||
	bail "the guest image could not be built: $(tail -3 "$top_builddir/vm-image.log")"

trap '"$VM" stop 60 >/dev/null 2>&1; "$VM" kill' EXIT
"$VM" start >/dev/null || bail "qemu did not start"
boot=$("$VM" wait-ssh 900) || bail "the guest did not answer ssh within 900 s (serial log: $top_builddir/vm/run/serial.log)"
diag "boot to ssh: $boot s"
slow=${boot%.*}
[ "$slow" -ge 20 ] || slow=20
# ssh itself may time out on a loaded host (255: no connection): tried again, up to 3 times
g() {
	local i rc
	for i in 1 2 3; do
		VM_SSH_TIMEOUT=$((slow * 4)) "$VM" ssh "$@" </dev/null
		rc=$?
		[ $rc = 255 ] || return $rc
		sleep 2
	done
	return $rc
}
gq() { g "$@" 2>/dev/null; }
put() {  # put GUEST-PATH < CONTENT
	local c i
	c=$(cat)
	for i in 1 2 3; do
		printf '%s\n' "$c" | VM_SSH_TIMEOUT=$((slow * 4)) "$VM" ssh "cat > $1" && return 0
		sleep 2
	done
	return 1
}
# serving: the first answer, polled every 0.2 s in the guest (no ssh round trip in what is measured)
serve_wait() {  # serve_wait URL MAX: prints the guest's seconds until URL answered
	g "t=\$(date +%s.%N); end=\$((\$(date +%s) + $2)); until curl -fs -m 2 -o /dev/null $1; do
	   [ \$(date +%s) -lt \$end ] || exit 1; sleep 0.2; done; echo \"\$(date +%s.%N) \$t\" | awk '{printf \"%.2f\", \$1 - \$2}'"
}

# ---- install; a cluster endpoint that keeps what it is sent; logind's budget ----
out=$(g sh "$top_srcdir/tests/vm/guest-install.sh" "$top_builddir" "$top_srcdir" 2>&1)
ok $? "ballast is installed in the guest" || diag "$out"
g 'mkdir -p /var/lib/marks /var/log/journal /root/sink/cgi-bin && systemctl restart systemd-journald && journalctl --flush' >/dev/null 2>&1
put /root/sink/cgi-bin/report <<'CGI'
#!/bin/sh
head -c "${CONTENT_LENGTH:-0}" > /var/lib/marks/report.tmp
{ date +%s.%N | tr '\n' ' '; tr -d '\n' < /var/lib/marks/report.tmp; echo; } >> /var/lib/marks/reports
printf 'Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nok\n'
CGI
g 'chmod 755 /root/sink/cgi-bin/report && systemd-run -q --unit report-sink busybox httpd -f -p 127.0.0.1:18099 -h /root/sink'
g 'mkdir -p /etc/systemd/logind.conf.d && printf "[Login]\nInhibitDelayMaxSec=30\n" > /etc/systemd/logind.conf.d/ballast-vm.conf && systemctl restart systemd-logind'
echo '{"cluster": {"http": {"url": "http://127.0.0.1:18099/cgi-bin/report", "interval_s": 300}}}' | put /etc/ballast/ballast.json
like "$(gq ballastctl status)" '^Node: +ballast-vm' "ballastd answers through its socket"
wait_for $((slow * 2)) g "ballastctl status | grep -q '^Waiting for: *nothing'"
ok $? "ballastd is connected to systemd and Docker"

# ---- the supervisor's figures: ballast beside Docker's restart policy, same image, same guest ----
put /root/web.json <<'JSON'
{"name": "web", "runtime": "docker", "image": "local/busybox:latest",
 "command": ["httpd", "-f", "-p", "8080", "-h", "/"],
 "ports": [{"host": 18080, "container": 8080}],
 "restart": {"policy": "always", "delay_ms": 100}}
JSON
t=$(now)
out=$(g "ballastctl -t $((slow * 4)) apply /root/web.json && echo applied" 2>&1)
b_apply=$(serve_wait http://127.0.0.1:18080/index.html $((slow * 4)))
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
	b=$(crash ballast-web http://127.0.0.1:18080/index.html); rb=$?
	d=$(crash dweb http://127.0.0.1:18090/index.html); rd=$?
	[ $rb = 0 ] && [ $rd = 0 ]
	ok $? "kill -9 -> serving, round $i: ballast ${b} s, docker --restart=always ${d} s (ratio $(ratio "$b" "$d"))"
done
g 'docker rm -f dweb >/dev/null 2>&1'

# ---- graceful shutdown: two exec services that take their time on SIGTERM ----
for s in alpha beta; do
	port=$([ $s = alpha ] && echo 18081 || echo 18082)
	put /root/$s.json <<JSON
{"name": "$s", "runtime": "exec",
 "command": ["/bin/sh", "-c", "trap 'date +%s.%N > /var/lib/marks/$s.term; sleep 2; date +%s.%N > /var/lib/marks/$s.done; exit 0' TERM; busybox httpd -f -p $port -h /etc & while :; do sleep 1 & wait \$!; done"],
 "ports": [{"host": $port}],
 "restart": {"policy": "always", "delay_ms": 100}}
JSON
	out=$(g ballastctl -t $((slow * 3)) apply --wait /root/$s.json 2>&1)
	ok $? "exec service $s applied" || diag "$out"
done
# the inhibitor is taken on ballastd's next look at its services (at most 10 s)
wait_for $((slow * 2)) g "systemd-inhibit --list --no-legend | grep -q 'ballast.*shutdown.*delay'"
ok $? "ballastd holds a logind delay inhibitor for shutdown: $(gq systemd-inhibit --list --no-legend | grep ballast)"

bid=$(gq cat /proc/sys/kernel/random/boot_id)
t=$(now)
g 'date +%s.%N > /var/lib/marks/reboot; systemctl --no-block reboot' >/dev/null 2>&1
newbid=
deadline=$(($(date +%s) + slow * 6 + 60))
while [ "$(date +%s)" -lt "$deadline" ]; do
	newbid=$(VM_SSH_TIMEOUT=15 "$VM" ssh cat /proc/sys/kernel/random/boot_id </dev/null 2>/dev/null) && [ "$newbid" != "$bid" ] && break
	sleep 1
done
[ -n "$newbid" ] && [ "$newbid" != "$bid" ]
ok $? "systemctl reboot: the guest came back with a new boot id ($(since "$t") s)"
for s in alpha beta; do
	m=$(gq "cat /var/lib/marks/$s.term /var/lib/marks/$s.done" | tr '\n' ' ')
	like "$m" '^[0-9.]+ [0-9.]+ $' "$s got SIGTERM and its 2 s to finish before the reboot (term, done: $m)"
done
order=$(gq 'cat /var/lib/marks/beta.done /var/lib/marks/alpha.term' | tr '\n' ' ')
awk -v a="${order% *}" -v b="${order#* }" 'BEGIN { exit !(a + 0 > 0 && b + 0 >= a + 0) }' <<< "" 2>/dev/null
ok $? "reverse order: beta (applied last) was down before alpha got its SIGTERM (beta done, alpha term: $order)"
j=$(gq 'journalctl -b -1 -o cat -u ballastd.service')
for ev in "Holding a logind delay inhibitor \(shutdown\)" "The system is shutting down: stopping the services" \
	"Stopping ballast-beta.service" "Stopping ballast-alpha.service" "Stopping ballast-web.service" \
	"Node drained" "Released the shutdown inhibitor after [0-9.]+ s \(every service is stopped\)"; do
	grep -Eq "$ev" <<< "$j"
	ok $? "the journal of the last boot: $ev"
done
diag "ballastd's shutdown sequence: $(grep -E 'shutting down|Stopping ballast|drained|Released the shutdown' <<< "$j" | tr '\n' '|')"
rep=$(gq "grep '\"shutting_down\": *true' /var/lib/marks/reports | tail -1")
[ -n "$rep" ]
ok $? "the cluster endpoint was told the node is shutting down ($(printf '%s' "${rep#* }" | jq -c .shutdown 2>/dev/null))"

# ---- start-up on a real boot ----
is "$(gq systemctl is-active ballastd.socket)" active "ballastd.socket listens after the reboot"
wait_for $((slow * 3)) g "systemctl is-active -q multi-user.target"
ok $? "multi-user.target is reached"
wait_for $((slow * 4)) g "curl -fs -m 2 -o /dev/null http://127.0.0.1:18080/index.html && curl -fs -m 2 -o /dev/null http://127.0.0.1:18081/hostname && curl -fs -m 2 -o /dev/null http://127.0.0.1:18082/hostname"
ok $? "web, alpha and beta serve again after the reboot"
diag "systemd-analyze: $(gq systemd-analyze time | head -1)"
diag "multi-user.target reached: $(gq systemctl show -P ActiveEnterTimestampMonotonic multi-user.target | awk '{printf "%.1f s", $1 / 1e6}') after the kernel started"
# boot -> serving: the service units' first active time, and now (an upper bound of the first answer)
for u in ballastd.service ballast-web.service ballast-alpha.service; do
	diag "$u active: $(gq systemctl show -P ActiveEnterTimestampMonotonic $u | awk '{printf "%.1f s", $1 / 1e6}') after the kernel started"
done
diag "answered by then: $(gq cat /proc/uptime | cut -d' ' -f1) s of uptime"
t=$(now)
"$VM" stop $((slow * 2)) >/dev/null
ok $? "the guest powers off ($(since "$t") s)"
done_testing
