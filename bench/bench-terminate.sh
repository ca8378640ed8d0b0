#!/bin/bash
# SPDX-License-Identifier: MIT
# bench/bench-terminate.sh [BUILDDIR] - "terminate an instance": each process a Docker service is made of,
# killed with SIGKILL, until its published port answers again, against the crash of the container itself
# measured in the same run. In a private systemd + dockerd sandbox (tests/lib/sandbox.sh) with ballastd.
#
# The service: busybox httpd (local/busybox:latest, `httpd -f -p 8080 -h /`), port 18091, restart
# {"policy": "always", "delay_ms": 0}, no health check. The targets, killed from inside the sandbox:
#   container    the container's main process (docker inspect .State.Pid): the crash baseline
#   holder       ballast-pause, the main process of the network holder ballast-web.net
#   ballast-run  the unit's main process (systemctl show -P MainPID ballast-web.service)
# Each kill comes once the service has answered for BENCH_SPACING_S (11) seconds (ballast-run's backoff
# forgets a run that lasted delay_ms + 10 s), the targets in turn, BENCH_ROUNDS (5) rounds; the port is
# polled from inside the sandbox (`curl -sf -m 0.2`, every ~5 ms) from the kill on, for at most 60 s.
# A kill is over once the unit is active again with a new main process and the port has answered for 2 s
# since. Prints per target: n, median, min, max of "back" (ms from the kill to the last return to answering;
# 0 when it never stopped answering), the median's ratio to the container's, and the median total time it
# did not answer ("down").
# Exit status: 0 figures measured, 1 a measurement failed, 2 usage/build error. Needs root. About 4 minutes.
# Knobs: BENCH_ROUNDS (5, 1..50), BENCH_SPACING_S (11, 3..60), BENCH_KEEP=1 (leave the sandbox up).

set -u
export LC_ALL=C

BUILDDIR=${1:-/work/build}
top_srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
top_builddir=$(cd "$BUILDDIR" 2>/dev/null && pwd) || { echo "bench: no build directory $BUILDDIR" >&2; exit 2; }
ROUNDS=${BENCH_ROUNDS:-5}
SPACING=${BENCH_SPACING_S:-11}
case $ROUNDS$SPACING in *[!0-9]*|'') echo "bench: BENCH_ROUNDS and BENCH_SPACING_S are whole numbers" >&2; exit 2 ;; esac
if [ "$ROUNDS" -lt 1 ] || [ "$ROUNDS" -gt 50 ]; then echo "bench: BENCH_ROUNDS: 1..50" >&2; exit 2; fi
if [ "$SPACING" -lt 3 ] || [ "$SPACING" -gt 60 ]; then echo "bench: BENCH_SPACING_S: 3..60" >&2; exit 2; fi
for f in ballastd ballastctl ballast-run ballast-pause; do
	[ -x "$top_builddir/$f" ] || { echo "bench: $top_builddir/$f missing (build first)" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "bench: needs root (it boots a private systemd)" >&2; exit 2; }

. "$top_srcdir/tests/lib/sandbox.sh"
. "$top_srcdir/tests/lib/lib.sh"
. "$top_srcdir/bench/bench-lib.sh"

stats() {  # numbers on stdin -> "n median min max"
	sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) { print "0 - - -"; exit }
		m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%d %.0f %s %s\n", NR, m, a[1], a[NR] }'
}

SB_DIR=
trap bench_cleanup EXIT
trap 'exit 130' INT TERM HUP

SB_DIR=$(mktemp -d /var/tmp/ballast-bench-terminate.XXXXXX) || exit 2
BIN=$SB_DIR/bin
mkdir -p "$BIN" "$SB_DIR/specs"
# kill-wait PID URL: kill -9 PID, then poll URL (~5 ms apart) until the service has settled: the unit is
# active with another main process and the port has answered for 2 s in a row since. Prints "BACK DOWN": ms
# from the kill to the last return to answering (0: it never stopped answering) and the total ms it did not
# answer; "timeout" after 60 s.
cat > "$BIN/kill-wait" <<'EOF'
#!/bin/sh
pid=$1 url=$2
case $pid in ''|0|*[!0-9]*) echo nopid; exit 3 ;; esac
main0=$(systemctl show -P MainPID ballast-web.service)
t0=$(date +%s%N)
kill -9 "$pid" || { echo killfailed; exit 3; }
end=$((t0 + 60000000000)) back=0 down=0 prev=$t0 was_up=1 up_since=$t0 restarted=0
while :; do
	if curl -sf -m 0.2 -o /dev/null "$url"; then up=1; else up=0; fi
	now=$(date +%s%N)
	[ $was_up = 0 ] && down=$((down + now - prev))
	[ $up = 1 ] && [ $was_up = 0 ] && { back=$((now - t0)); up_since=$now; }
	was_up=$up prev=$now
	if [ $restarted = 0 ]; then
		set -- $(systemctl show -p MainPID -p ActiveState --value ballast-web.service)
		[ "$1" != 0 ] && [ "$1" != "$main0" ] && [ "$2" = active ] && restarted=1 && up_since=$now
	fi
	[ $restarted = 1 ] && [ $up = 1 ] && [ $((now - up_since)) -ge 2000000000 ] && break
	[ "$now" -lt "$end" ] || { echo timeout; exit 2; }
	sleep 0.005
done
echo $((back / 1000000)) $((down / 1000000))
EOF
chmod +x "$BIN"/*
bench_write_answers

bench_sandbox_up
cat > "$SB_DIR/specs/web.json" <<EOF
{"name": "web", "image": "local/busybox:latest", "command": ["httpd", "-f", "-p", "8080", "-h", "/"],
 "ports": [{"host": 18091, "container": 8080}], "restart": {"policy": "always", "delay_ms": 0}}
EOF
URL=http://127.0.0.1:18091/etc/passwd
out=$(sbt 90 "$BALLAST_BIN/ballastctl" -t 60 apply --wait "$SB_DIR/specs/web.json" 2>&1) || { log "apply: $out"; exit 1; }
sbt 40 "$BIN/answers" "$URL" 30 || { log "the service never answered"; exit 1; }

pid_of() {
	case $1 in
	container) sbt 10 /usr/bin/docker inspect -f '{{.State.Pid}}' ballast-web ;;
	holder) sbt 10 /usr/bin/docker inspect -f '{{.State.Pid}}' ballast-web.net ;;
	ballast-run) sbt 10 systemctl show -P MainPID ballast-web.service ;;
	esac
}
TARGETS=(container holder ballast-run)
declare -A RES DOWN
FAILED=0
log "$ROUNDS rounds of ${#TARGETS[@]} kills, ${SPACING}s apart (about $((ROUNDS * ${#TARGETS[@]} * (SPACING + 1) / 60 + 1)) min)"
for ((r = 1; r <= ROUNDS; r++)); do
	for t in "${TARGETS[@]}"; do
		sleep "$SPACING"
		sbt 70 "$BIN/answers" "$URL" 60 || { log "not answering before the kill of $t"; FAILED=1; continue; }
		set -- $(sbt 70 "$BIN/kill-wait" "$(pid_of "$t")" "$URL") X X
		log "round $r: kill -9 $t -> answering again after $1 ms, not answering for $2 ms in all"
		case $1$2 in *[!0-9]*|'') FAILED=1 ;; *) RES[$t]="${RES[$t]:-} $1" DOWN[$t]="${DOWN[$t]:-} $2" ;; esac
	done
done

set -- $(printf '%s\n' ${RES[container]:-} | stats); base=$2
echo "kill -9 -> serving again, ms (Docker $(sbt 10 /usr/bin/docker version -f '{{.Server.Version}}' 2>/dev/null), systemd $(sbt 10 systemctl --version | awk 'NR == 1 { print $2 }'), load $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-12s %3s %7s %7s %7s %8s %9s   %s\n' target n median min max "x crash" "down med" "samples (back)"
for t in "${TARGETS[@]}"; do
	set -- $(printf '%s\n' ${RES[$t]:-} | stats)
	d=$(printf '%s\n' ${DOWN[$t]:-} | stats | cut -d' ' -f2)
	printf '%-12s %3s %7s %7s %7s %8s %9s  %s\n' "$t" "$1" "$2" "$3" "$4" "$(ratio "$2" "$base")" "$d" "${RES[$t]:-}"
done
echo "command: $0 $BUILDDIR (BENCH_ROUNDS=$ROUNDS BENCH_SPACING_S=$SPACING)"
exit $FAILED
