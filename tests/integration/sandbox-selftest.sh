#!/bin/bash
# TAP self-test of tests/lib/sandbox.sh: real systemd + Docker in private namespaces, clean teardown.
# Needs root, systemd, docker.io, busybox-static. Run from any cwd.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../lib/sandbox.sh"

if [ "$(id -u)" != 0 ]; then echo "Bail out! needs root (the sandbox's namespaces)"; exit 1; fi
for f in /lib/systemd/systemd:systemd /usr/sbin/dockerd:docker.io /usr/bin/docker:docker.io /bin/busybox:busybox-static; do
	[ -x "${f%%:*}" ] || { echo "Bail out! ${f%%:*} is missing: apt-get install ${f##*:}"; exit 1; }
done

echo "1..15"
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else notok "$d"; fi; }

D=$(mktemp -d "${TMPDIR:-/tmp}/ballast-sb-selftest.XXXXXX")
cleanup() { sandbox_stop "$D" --purge; rm -rf "$D"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

host_control_before=no; [ -e /etc/systemd/system.control ] && host_control_before=yes

t0=$(date +%s%N)
if ! sandbox_start "$D" --docker; then
	notok "sandbox_start --docker"
	echo "Bail out! sandbox did not start"
	exit 1
fi
ok "sandbox_start --docker ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"

# the teardown finds entered processes by these namespaces' numbers: they are held open until it is done, so
# that a number freed by this sandbox's end cannot be reused meanwhile by a namespace of another sandbox
pins() {  # pins NS...: how many of this shell's descriptors are on these namespaces ("mnt:[N]")
	local ns re=
	for ns; do re="$re${re:+|}$(sed 's/[][]/\\&/g' <<< "$ns")"; done
	ls -l /proc/$$/fd 2>/dev/null | grep -cE "$re"
}
read -r pidns mntns < "$D/ns"
npin=$(pins "$pidns" "$mntns")
check "the test's shell holds the sandbox's pid and mount namespaces open ($npin descriptors)" [ "$npin" = 2 ]

st=$(sb systemctl is-system-running 2>/dev/null)
check "systemd is running (state '$st')" [ "$st" = running -o "$st" = degraded ]

sb systemd-run --quiet --unit=sbtest -p MemoryMax=64M -p CPUQuota=20% sleep 1000
check "transient unit sbtest.service is active" sandbox_wait_unit sbtest.service active 10

v=$(sb cat /sys/fs/cgroup/memory/system.slice/sbtest.service/memory.limit_in_bytes 2>&1)
check "MemoryMax=64M -> memory.limit_in_bytes=67108864 (got $v)" [ "$v" = 67108864 ]
v=$(sb cat /sys/fs/cgroup/cpu/system.slice/sbtest.service/cpu.cfs_quota_us 2>&1)
check "CPUQuota=20% -> cpu.cfs_quota_us=20000 (got $v)" [ "$v" = 20000 ]

sb systemctl set-property sbtest.service CPUQuota=30%
v=$(sb cat /sys/fs/cgroup/cpu/system.slice/sbtest.service/cpu.cfs_quota_us 2>&1)
host_control_after=no; [ -e /etc/systemd/system.control ] && host_control_after=yes
check "set-property applies (got $v) and writes no /etc/systemd/system.control on the host" \
	[ "$v" = 30000 -a "$host_control_after" = "$host_control_before" ]

journal_has_unit() { sandbox_journal -u sbtest.service 2>/dev/null | grep -q 'sleep 1000\|sbtest'; }
check "sandbox_journal shows the unit" journal_has_unit

sb /usr/bin/docker rm -f sbweb >/dev/null 2>&1
cid=$(sb /usr/bin/docker run -d --name sbweb -p 18080:8080 local/busybox httpd -f -p 8080 -h /)
check "docker run -d sbweb" [ -n "$cid" ]
code=000
for i in $(seq 50); do
	# Any HTTP status (busybox httpd answers 404 for /) means the connection was served.
	code=$(sb curl -s -m 1 -o /dev/null -w '%{http_code}' http://127.0.0.1:18080/ 2>/dev/null) || true
	[ "${code:-000}" != 000 ] && break
	sleep 0.2
done
check "published port 18080 answers inside the sandbox (HTTP $code)" [ "${code:-000}" != 000 ]

sb_has_docker0() { sb ip link show docker0 >/dev/null 2>&1; }
host_has_docker0() { ip link show docker0 >/dev/null 2>&1; }
check "docker0 exists in the sandbox" sb_has_docker0
check "no docker0 on the host" eval '! host_has_docker0'

# Remember what belongs to the sandbox, then stop it.
sdpid=$SANDBOX_PID
cgdirs=$(cat "$D/cgroups")
sandbox_stop "$D"
npin=$(pins "$pidns" "$mntns")
check "and closes them once sandbox_stop is done ($npin left)" [ "$npin" = 0 ]
# what is left, if anything (a process of the sandbox that is still being reaped by the host's init is gone
# within moments: up to 5 s of looking again before it counts as left behind)
sandbox_leftovers() {
left=
for p in /proc/[0-9]*; do
	p=${p#/proc/}
	case "$(readlink "/proc/$p/ns/pid" 2>/dev/null) $(readlink "/proc/$p/ns/mnt" 2>/dev/null)" in
	"$pidns "*|*" $mntns") left="$left $p" ;;
	esac
done
for d in $cgdirs; do
	[ -d "$d" ] && left="$left $(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | tr '\n' ' ')"
done
[ -e "/proc/$sdpid" ] && [ "$(cat "/proc/$sdpid/comm" 2>/dev/null)" = systemd ] && left="$left $sdpid"
[ -z "${left// /}" ]
}
for i in $(seq 50); do sandbox_leftovers && break; sleep 0.1; done
check "no process of the sandbox remains after sandbox_stop${left:+ (left:$left)}" [ -z "${left// /}" ]
gone=yes
for d in $cgdirs; do [ -d "$d" ] && gone="no ($d)"; done
check "the sandbox's cgroup directories are gone: $gone" [ "$gone" = yes ]

[ "$failed" = 0 ]
