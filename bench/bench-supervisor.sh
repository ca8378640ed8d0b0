#!/bin/bash
# SPDX-License-Identifier: MIT
# bench/bench-supervisor.sh [BUILDDIR] - the supervisor's figures, each next to what it competes with,
# measured in one run in a private systemd + dockerd sandbox (tests/lib/sandbox.sh; the host is not touched).
#
# 1. Recovery: kill -9 of a container's main process (its PID read inside the sandbox with docker inspect,
#    killed from inside) until its published port answers again (`curl -sf -m 0.2`, polled from inside
#    the sandbox every ~10 ms). Three targets, all busybox httpd (local/busybox:latest, `httpd -f -p 8080
#    -h /`, probed at /etc/passwd):
#      ballast-web   ballast service, restart {"policy":"always","delay_ms":0}, no health check, port 18081
#      bench-docker  `docker run -d --restart=always -p 18082:8080`: Docker's own restart policy
#      ballast-webh  as ballast-web plus an http health check (interval 1 s), port 18086
#    Each target is killed every BENCH_SPACING_S (11) seconds, and never less than 10.5 s after it last
#    came back: Docker doubles its restart delay (100 ms, 200 ms, ...) unless the container ran >= 10 s, and
#    ballast-run's backoff resets once a run lasted delay_ms + 10 s. The three are staggered by a third of
#    the period, so one shared wait serves all three and no two measurements overlap. A fourth container
#    (bench-anchor, `sleep`) stays up throughout so docker0 always has a port: when the only container of a
#    bridge dies, the bridge loses its carrier and the kernel's link watcher (rate-limited to once a second)
#    delays the next container's traffic by up to ~1 s, whoever restarts it. Docker's event stream splits
#    each recovery into kill -> container started -> port answers.
# 2. Start, until the port answers, BENCH_STARTS (5) times each, interleaved: `ballastctl apply --wait` of
#    a fresh service (restart policy "no"; between runs its container is killed, then `ballastctl rm`, so
#    that rm is quick and cannot overlap a reconcile pass, which would leave it unanswered: a ballastd bug
#    this bench steers around), `docker run -d` (`docker rm -f` between),
#    and `systemctl start` of a hand-written unit around an attached `docker run --rm` (ExecStartPre=-docker
#    rm -f; `systemctl stop` between).
# 3. Scale: BENCH_SCALE (500) exec services (`/bin/sleep infinity`) applied with one `ballastctl apply DIR`
#    (the call, and until systemd has all of them active); ballastd's RssAnon before, with all of them, and
#    after a restart of ballastd; the CPU time of one no-change reconcile pass, triggered by SIGHUP (so it
#    includes the reload: configuration and every spec re-read, every unit text regenerated and compared),
#    from /proc/PID/schedstat (ns) and utime+stime of /proc/PID/stat (clock ticks), per pass, against an
#    idle window of the same length. With valgrind present (BENCH_CALLGRIND=1, the default), ballastd is
#    then restarted under `valgrind --tool=callgrind` (a drop-in that also lifts MemoryDenyWriteExecute=,
#    SystemCallFilter= and the memory limits valgrind cannot live with) and the instructions of a pass are
#    read with callgrind_control before and after each SIGHUP (collection toggled on only inside on_sighup
#    and on_reconcile_defer, the pass itself), with the top functions of one pass. Also reported: the
#    D-Bus refusals (LimitsExceeded) while the services start, ballastd's idle CPU, and how many services
#    `ballastctl ps` still shows as "unknown" 5 s after a restart of ballastd.
#
# ballastd runs at its default log level (a drop-in replaces the test drop-in's --log-level debug).
# Exit status: 0 figures measured (goals are reported, not enforced; BENCH_STRICT=1 exits 3 when one is
# missed), 1 a measurement failed, 2 usage/build error. Needs root. About 6-7 minutes with the defaults.
# Knobs: BENCH_KILLS (20), BENCH_SPACING_S (11), BENCH_STARTS (5), BENCH_SCALE (500), BENCH_PASSES (10),
#        BENCH_CALLGRIND (1), BENCH_SCALE_WAIT_S (150), BENCH_KEEP=1 (leave the sandbox up, print its DIR).

set -u
export LC_ALL=C

BUILDDIR=${1:-/work/build}
BENCH_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top_srcdir=$(cd "$BENCH_SRC/.." && pwd)
top_builddir=$(cd "$BUILDDIR" 2>/dev/null && pwd) || { echo "bench: no build directory $BUILDDIR" >&2; exit 2; }
KILLS=${BENCH_KILLS:-20}
SPACING=${BENCH_SPACING_S:-11}
STARTS=${BENCH_STARTS:-5}
SCALE=${BENCH_SCALE:-500}
PASSES=${BENCH_PASSES:-10}
SCALE_WAIT=${BENCH_SCALE_WAIT_S:-150}
CALLGRIND=${BENCH_CALLGRIND:-1}
CMDLINE="$0 $*"

num() { case $2 in ''|*[!0-9]*) echo "bench: $1 must be a whole number" >&2; exit 2 ;; esac; }
num BENCH_KILLS "$KILLS"; num BENCH_SPACING_S "$SPACING"; num BENCH_STARTS "$STARTS"; num BENCH_SCALE "$SCALE"
num BENCH_PASSES "$PASSES"; num BENCH_SCALE_WAIT_S "$SCALE_WAIT"
if [ "$KILLS" -lt 1 ] || [ "$KILLS" -gt 200 ]; then echo "bench: BENCH_KILLS: 1..200" >&2; exit 2; fi
if [ "$SPACING" -lt 3 ] || [ "$SPACING" -gt 60 ]; then echo "bench: BENCH_SPACING_S: 3..60" >&2; exit 2; fi
if [ "$STARTS" -lt 1 ] || [ "$STARTS" -gt 50 ]; then echo "bench: BENCH_STARTS: 1..50" >&2; exit 2; fi
if [ "$SCALE" -lt 1 ] || [ "$SCALE" -gt 5000 ]; then echo "bench: BENCH_SCALE: 1..5000" >&2; exit 2; fi
if [ "$PASSES" -lt 1 ] || [ "$PASSES" -gt 100 ]; then echo "bench: BENCH_PASSES: 1..100" >&2; exit 2; fi
if [ "$SCALE_WAIT" -lt 5 ] || [ "$SCALE_WAIT" -gt 1800 ]; then echo "bench: BENCH_SCALE_WAIT_S: 5..1800" >&2; exit 2; fi
for f in ballastd ballastctl ballast-run; do
	[ -x "$top_builddir/$f" ] || { echo "bench: $top_builddir/$f missing (build first: make -C $BUILDDIR)" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "bench: needs root (it boots a private systemd)" >&2; exit 2; }

GOAL_RECOVERY_RATIO=0.8   # ballast median <= 0.8 x Docker's restart policy
GOAL_START_RATIO=1.5      # apply --wait until the port answers <= 1.5 x docker run -d
GOAL_RSS_KIB=8192         # RssAnon with SCALE services
GOAL_PASS_MS=5            # one no-change reconcile pass

# shellcheck source=../tests/lib/sandbox.sh
. "$top_srcdir/tests/lib/sandbox.sh"
# shellcheck source=../tests/lib/lib.sh
. "$top_srcdir/tests/lib/lib.sh"
. "$top_srcdir/bench/bench-lib.sh"

FAILED=0
fail() { log "FAILED: $*"; FAILED=1; }
NOTES=()      # findings printed after the table
note() { NOTES+=("$*"); log "note: $*"; }

bc_() { sbt 60 "$BALLAST_BIN/ballastctl" "$@"; }
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
# sleep_until MS (epoch milliseconds)
sleep_until() {
	local d=$(($1 - $(now_ms)))
	[ "$d" -gt 0 ] && sleep "$(awk -v d="$d" 'BEGIN { printf "%.3f", d / 1000 }')"
	return 0
}
# stats: numbers on stdin -> "n median p95 min max" (nearest-rank p95); "0 - - - -" when empty
stats() {
	sort -n | awk '{ a[NR] = $1 } END {
		if (NR == 0) { print "0 - - - -"; exit }
		m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
		k = int(0.95 * NR); if (k < 0.95 * NR) k++; if (k < 1) k = 1
		printf "%d %.0f %s %s %s\n", NR, m, a[k], a[1], a[NR] }'
}
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "-" && a <= b) }'; }
met() { if le "$1" "$2"; then echo yes; else echo NO; fi; }

SB_DIR=
trap bench_cleanup EXIT
trap 'exit 130' INT TERM HUP

SB_DIR=$(mktemp -d /var/tmp/ballast-bench-supervisor.XXXXXX) || exit 2
BIN=$SB_DIR/bin          # helper scripts, run inside the sandbox (/var/tmp is shared with it)
mkdir -p "$BIN" "$SB_DIR/specs" "$SB_DIR/scale"
T_BEGIN=$(now_ms)
# the host's 1-min load average at each phase: other work on the machine shows in every figure here
LOADS=()
load_mark() { LOADS+=("$1:$(cut -d' ' -f1 /proc/loadavg)"); }
load_mark begin

# ---- helpers run inside the sandbox (/bin/sh) ----
# kill-wait NAME URL TIMEOUT_S: kill -9 the container's main process, poll URL until it answers.
# Prints "KILL_NS MS OLDPID NEWPID" ("KILL_NS timeout OLDPID -" when it does not come back).
cat > "$BIN/kill-wait" <<'EOF'
#!/bin/sh
name=$1 url=$2 tmo=$3
old=$(/usr/bin/docker inspect -f '{{.State.Pid}}' "$name" 2>/dev/null)
case $old in ''|0|*[!0-9]*) echo "0 nopid - -"; exit 3 ;; esac
t0=$(date +%s%N)
kill -9 "$old" || { echo "$t0 killfailed $old -"; exit 3; }
end=$((t0 + tmo * 1000000000))
while :; do
	if curl -sf -m 0.2 -o /dev/null "$url"; then
		t1=$(date +%s%N)
		new=$(/usr/bin/docker inspect -f '{{.State.Pid}}' "$name" 2>/dev/null)
		echo "$t0 $(( (t1 - t0) / 1000000 )) $old ${new:-?}"
		exit 0
	fi
	[ "$(date +%s%N)" -lt "$end" ] || { echo "$t0 timeout $old -"; exit 2; }
	sleep 0.005
done
EOF
# start-wait URL CMD...: fails if URL already answers; runs CMD, then polls URL until it answers.
# Prints "CMD_MS ANSWER_MS" (both from just before CMD), or "fail ..." / "timeout".
cat > "$BIN/start-wait" <<'EOF'
#!/bin/sh
url=$1; shift
if curl -sf -m 0.2 -o /dev/null "$url"; then echo "busy"; exit 3; fi
t0=$(date +%s%N)
"$@" >/dev/null 2>&1 || { echo "fail $?"; exit 1; }
t1=$(date +%s%N)
end=$((t0 + 30000000000))
while ! curl -sf -m 0.2 -o /dev/null "$url"; do
	[ "$(date +%s%N)" -lt "$end" ] || { echo "timeout"; exit 2; }
	sleep 0.005
done
t2=$(date +%s%N)
echo "$(( (t1 - t0) / 1000000 )) $(( (t2 - t0) / 1000000 ))"
EOF
chmod +x "$BIN"/*
bench_write_answers

# ---- the sandbox, ballast in it (and the anchor: docker0 keeps a port whatever else dies, see the header) ----
bench_sandbox_up
DOCKER_VERSION=$(sbt 10 /usr/bin/docker version -f '{{.Server.Version}}' 2>/dev/null || echo '?')
SYSTEMD_VERSION=$(sbt 10 systemctl --version | awk 'NR == 1 { print $2 }')
BALLAST_VERSION=$(bc_ status 2>/dev/null | awk '/^Version:/ { print $2 }')
GIT_REV=$(git -C "$top_srcdir" describe --always --dirty 2>/dev/null || echo '?')
ballastd_pid() { sbt 10 systemctl show -P MainPID ballastd.service; }
rss_anon() { sbt 10 cat "/proc/$1/status" | awk '/^RssAnon:/ { print $2 }'; }
HTTPD='"httpd", "-f", "-p", "8080", "-h", "/"'
IMAGE=local/busybox:latest
# httpd_spec NAME PORT POLICY [EXTRA]: an httpd service on host port PORT, EXTRA (', "health": ...') appended
httpd_spec() {
	cat > "$SB_DIR/specs/$1.json" <<EOF
{"name": "$1", "image": "$IMAGE", "command": [$HTTPD],
 "ports": [{"host": $2, "container": 8080}],
 "restart": {"policy": "$3", "delay_ms": 0}${4:-}}
EOF
}

# =====================================================================================================
# 1. Recovery
# =====================================================================================================
load_mark recovery
log "recovery: $KILLS kills per target, ${SPACING}s apart (about $((KILLS * SPACING / 60 + 1)) min)"
httpd_spec web 18081 always
httpd_spec webh 18086 always ',
 "health": {"http": "http://127.0.0.1:18086/etc/passwd", "interval_ms": 1000, "timeout_ms": 500, "retries": 3}'
NAMES=(ballast-web bench-docker ballast-webh)
URLS=(http://127.0.0.1:18081/etc/passwd http://127.0.0.1:18082/etc/passwd http://127.0.0.1:18086/etc/passwd)
LABELS=("ballast (delay_ms 0)" "docker --restart=always" "ballast + http health")
RECOVERY_OK=1
if ! out=$(bc_ -t 60 apply --wait "$SB_DIR/specs/web.json" "$SB_DIR/specs/webh.json" 2>&1); then
	fail "apply of web/webh: $out"; RECOVERY_OK=0
fi
if ! sbt 60 /usr/bin/docker run -d --name bench-docker --restart=always -p 18082:8080 "$IMAGE" \
	httpd -f -p 8080 -h / >/dev/null; then
	fail "docker run of bench-docker"; RECOVERY_OK=0
fi
for i in 0 1 2; do
	sbt 40 "$BIN/answers" "${URLS[$i]}" 30 || { fail "${NAMES[$i]} never answered"; RECOVERY_OK=0; }
done
declare -a NEXT LAST_BACK
RES_FILE=$SB_DIR/recovery.txt
: > "$RES_FILE"
if [ "$RECOVERY_OK" = 1 ]; then
	T0=$(now_ms)
	EV_SINCE=$(date +%s)
	# first kills once every container has run 10.5 s (no backoff state on either side)
	for i in 0 1 2; do
		NEXT[$i]=$((T0 + 10500 + i * SPACING * 1000 / 3))
		LAST_BACK[$i]=$T0
	done
	BUDGET_END=$((T0 + 10500 + KILLS * SPACING * 1000 + 120000))
	for ((r = 1; r <= KILLS; r++)); do
		for i in 0 1 2; do
			[ "${NEXT[$i]}" = off ] && continue
			at=${NEXT[$i]}
			[ "$at" -lt $((LAST_BACK[i] + 10500)) ] && at=$((LAST_BACK[i] + 10500))
			if [ "$at" -gt "$BUDGET_END" ]; then
				note "recovery: time budget exhausted at round $r"; break 2
			fi
			sleep_until "$at"
			line=$(sbt 40 "$BIN/kill-wait" "${NAMES[$i]}" "${URLS[$i]}" 25) || true
			set -- $line
			LAST_BACK[$i]=$(now_ms)
			NEXT[$i]=$((at + SPACING * 1000))
			case ${2:-none} in
			*[!0-9]*|'')
				fail "recovery of ${NAMES[$i]} (round $r): ${line:-no output}"
				sbt 10 systemctl --no-pager status "${NAMES[$i]}.service" 2>&1 | tail -n 15 >&2
				# give it a last chance; a target that stays down is dropped
				sbt 70 "$BIN/answers" "${URLS[$i]}" 60 || NEXT[$i]=off
				LAST_BACK[$i]=$(now_ms)
				;;
			*)
				[ "$3" = "$4" ] && fail "${NAMES[$i]}: same PID $3 after the kill (not restarted?)"
				echo "$i $1 $2" >> "$RES_FILE"
				;;
			esac
		done
		log "  round $r/$KILLS: $(awk -v r="$r" '{ n[$1]++ } n[$1] == r { printf "%s=%sms ", $1, $3 }' "$RES_FILE")"
	done
	# Docker's view of each recovery: kill -> "start" event of the container
	sleep 1.1
	sbt 30 /usr/bin/docker events --since "$EV_SINCE" --until "$(date +%s)" --filter event=start \
		--format '{{.TimeNano}} {{.Actor.Attributes.name}}' > "$SB_DIR/events.txt" 2>/dev/null || true
fi
declare -a REC_STATS START_STATS
for i in 0 1 2; do
	REC_STATS[$i]=$(awk -v i="$i" '$1 == i { print $3 }' "$RES_FILE" | stats)
	# kill -> container start event (first after the kill), and start event -> port answers
	START_STATS[$i]=$(awk -v i="$i" -v name="${NAMES[$i]}" '
		FILENAME == ARGV[1] { if ($2 == name) ev[++n] = $1; next }
		$1 == i { for (k = 1; k <= n; k++) if (ev[k] > $2) { printf "%d %d\n", (ev[k] - $2) / 1000000, $3 - (ev[k] - $2) / 1000000; break } }
	' "$SB_DIR/events.txt" "$RES_FILE" 2>/dev/null)
done
rec_med() { set -- ${REC_STATS[$1]}; echo "$2"; }
rec_p95() { set -- ${REC_STATS[$1]}; echo "$3"; }
rec_n() { set -- ${REC_STATS[$1]}; echo "$1"; }
phase_med() { echo "${START_STATS[$1]}" | awk -v c="$2" 'NF { print $c }' | stats | awk '{ print $2 }'; }
NRESTARTS_WEB=$(sbt 10 systemctl show -P NRestarts ballast-web.service 2>/dev/null || echo '?')

# Docker's target goes; web and webh stay up (idle) until the end: `ballastctl rm` of a running httpd takes
# the 10 s stop timeout (httpd as PID 1 ignores SIGTERM), and a reconcile pass during that window leaves the
# RemoveService call unanswered (see the notes at the end), so the bench does not rm running services.
sbt 30 /usr/bin/docker rm -f bench-docker >/dev/null 2>&1

# =====================================================================================================
# 2. Start
# =====================================================================================================
load_mark start
log "start: $STARTS runs each of apply --wait, docker run -d, systemctl start (attached docker run)"
httpd_spec st 18083 no
cat > "$ROOT/etc/systemd/system/bench-unit.service" <<EOF
[Unit]
Description=hand-written docker unit (bench)
After=docker.service
Requires=docker.service
[Service]
ExecStartPre=-/usr/bin/docker rm -f bench-unit
ExecStart=/usr/bin/docker run --rm --name bench-unit -p 18083:8080 $IMAGE httpd -f -p 8080 -h /
ExecStop=/usr/bin/docker rm -f bench-unit
Restart=always
RestartSec=100ms
EOF
sbt 30 systemctl daemon-reload
URL_ST=http://127.0.0.1:18083/etc/passwd
ST_FILE=$SB_DIR/start.txt
: > "$ST_FILE"
port_free() {   # wait (bounded) until nothing answers on 18083
	local k
	for k in $(seq 1 50); do
		sbt 5 curl -sf -m 0.2 -o /dev/null "$URL_ST" || return 0
		sleep 0.1
	done
	return 1
}
for ((r = 1; r <= STARTS; r++)); do
	for m in ballast docker systemd; do
		port_free || { fail "start ($m, run $r): port 18083 still answers"; continue; }
		sleep 0.5
		case $m in
		ballast) line=$(sbt 60 "$BIN/start-wait" "$URL_ST" "$BALLAST_BIN/ballastctl" -t 30 apply --wait "$SB_DIR/specs/st.json") ;;
		docker) line=$(sbt 60 "$BIN/start-wait" "$URL_ST" /usr/bin/docker run -d --name bench-run -p 18083:8080 "$IMAGE" httpd -f -p 8080 -h /) ;;
		systemd) line=$(sbt 60 "$BIN/start-wait" "$URL_ST" systemctl start bench-unit.service) ;;
		esac
		set -- $line
		if [ $# = 2 ] && [ -n "${2##*[!0-9]*}" ]; then
			echo "$m $1 $2" >> "$ST_FILE"
		else
			fail "start ($m, run $r): ${line:-no output}"
		fi
		case $m in
		ballast)
			# the container is killed first (policy "no": the unit just stops), so that rm has nothing
			# to wait for and cannot overlap a reconcile pass (see the notes)
			sbt 10 /usr/bin/docker kill ballast-st >/dev/null 2>&1
			for k in $(seq 1 50); do
				[ "$(sbt 5 systemctl is-active ballast-st.service)" = active ] || break
				sleep 0.1
			done
			if ! out=$(bc_ -t 30 rm st 2>&1); then
				note "ballastctl rm st (run $r) was not answered: ${out:-timeout}"
				sbt 30 /usr/bin/docker rm -f ballast-st >/dev/null 2>&1
			fi
			;;
		docker) sbt 30 /usr/bin/docker rm -f bench-run >/dev/null 2>&1 ;;
		systemd) sbt 30 systemctl stop bench-unit.service ;;
		esac
	done
	log "  run $r/$STARTS: $(awk -v r="$r" '{ n[$1]++ } n[$1] == r { printf "%s=%sms ", $1, $3 }' "$ST_FILE")"
done
st_stats() { awk -v m="$1" -v c="$2" '$1 == m { print $c }' "$ST_FILE" | stats; }
ST_B=$(st_stats ballast 3); ST_D=$(st_stats docker 3); ST_S=$(st_stats systemd 3); ST_BCMD=$(st_stats ballast 2)
med() { set -- $1; echo "$2"; }
n_() { set -- $1; echo "$1"; }
rng() { set -- $1; echo "$4-$5"; }

# =====================================================================================================
# 3. Scale
# =====================================================================================================
load_mark scale
log "scale: $SCALE exec services"
for ((k = 1; k <= SCALE; k++)); do
	printf '{"name": "s-%d", "runtime": "exec", "command": ["/bin/sleep", "infinity"]}\n' "$k" > "$SB_DIR/scale/s-$k.json"
done
P=$(ballastd_pid)
RSS0=$(rss_anon "$P")
n_active() { sbt 20 systemctl list-units --no-legend --plain --state=active 'ballast-s-*.service' | wc -l; }
J_SINCE=$(sbt 5 date '+%Y-%m-%d %H:%M:%S')
ta=$(now_ms)
if ! bc_ -t 300 apply "$SB_DIR/scale" > "$SB_DIR/scale-apply.out" 2>&1; then
	fail "ballastctl apply of $SCALE services: $(tail -n 3 "$SB_DIR/scale-apply.out")"
fi
tb=$(now_ms)
APPLY_MS=$((tb - ta))
ALL_ACTIVE_MS=-
PROGRESS=()
last=-1
while :; do
	n=$(n_active)
	t=$(( $(now_ms) - ta ))
	[ "$n" != "$last" ] && PROGRESS+=("$((t / 1000))s:$n") && last=$n
	if [ "$n" -ge "$SCALE" ]; then ALL_ACTIVE_MS=$t; break; fi
	[ "$t" -lt $((SCALE_WAIT * 1000)) ] || break
	sleep 0.5
done
N_ACTIVE=$n
REFUSED=$(sbt 20 journalctl --no-pager -u ballastd.service --since "$J_SINCE" 2>/dev/null | grep -c 'LimitsExceeded' || true)
log "  apply returned after ${APPLY_MS} ms; active over time: ${PROGRESS[*]}"
if [ "$ALL_ACTIVE_MS" = - ]; then
	fail "only $N_ACTIVE of $SCALE services active after ${SCALE_WAIT}s"
fi
sleep 2
P=$(ballastd_pid)
RSS1=$(rss_anon "$P")

# one no-change pass = SIGHUP (reload) + the reconcile it triggers
sched_ns() { sbt 5 cat "/proc/$1/schedstat" | awk '{ print $1 }'; }
ticks() { sbt 5 cat "/proc/$1/stat" | sed 's/.*) //' | awk '{ print $12, $13 }'; }   # utime stime
CLK_TCK=$(getconf CLK_TCK)
PASS_FILE=$SB_DIR/passes.txt
: > "$PASS_FILE"
IDLE_FILE=$SB_DIR/idle.txt
: > "$IDLE_FILE"
T_TICKS=0; T_UT=0; T_ST=0
for ((k = 1; k <= PASSES; k++)); do
	a=$(sched_ns "$P"); read -r ua sa < <(ticks "$P")
	sbt 5 kill -HUP "$P"
	sleep 0.6
	b=$(sched_ns "$P"); read -r ub sb_ < <(ticks "$P")
	echo "$(( (b - a) / 1000 ))" >> "$PASS_FILE"
	T_UT=$((T_UT + ub - ua)); T_ST=$((T_ST + sb_ - sa)); T_TICKS=$((T_UT + T_ST))
	a=$(sched_ns "$P"); sleep 0.6; b=$(sched_ns "$P")
	echo "$(( (b - a) / 1000 ))" >> "$IDLE_FILE"
done
[ "$(ballastd_pid)" = "$P" ] || fail "ballastd changed PID during the SIGHUP passes (crashed?)"
PASS_US=$(stats < "$PASS_FILE")
IDLE_US=$(stats < "$IDLE_FILE")
PASS_MS=$(awk -v p="$(med "$PASS_US")" -v i="$(med "$IDLE_US")" 'BEGIN { printf "%.1f", (p - i) / 1000 }')
IDLE_MS_S=$(awk -v i="$(med "$IDLE_US")" 'BEGIN { printf "%.2f", i / 600 }')
PASS_TICKS_MS=$(awk -v t="$T_TICKS" -v n="$PASSES" -v hz="$CLK_TCK" 'BEGIN { printf "%.1f", t * 1000 / hz / n }')
log "  pass (us, schedstat): $(tr '\n' ' ' < "$PASS_FILE")| idle: $(tr '\n' ' ' < "$IDLE_FILE")"

# ballastd restarted with SCALE services: are their states known?
sbt 60 systemctl restart ballastd.service || fail "restart of ballastd"
sleep 5
P2=$(ballastd_pid)
RSS2=$(rss_anon "$P2")
bc_ ps > "$SB_DIR/ps-after-restart.txt" 2>&1
UNKNOWN=$(awk '$1 ~ /^s-/ && $3 == "unknown" { n++ } END { print n + 0 }' "$SB_DIR/ps-after-restart.txt")
ACTIVE_PS=$(awk '$1 ~ /^s-/ && $3 == "active" { n++ } END { print n + 0 }' "$SB_DIR/ps-after-restart.txt")

# callgrind: instructions of one pass
IR_PASS=-; IR_IDLE=-; CG_TOP=; CG_SCOPE=-
if [ "$CALLGRIND" = 1 ] && command -v valgrind >/dev/null && command -v callgrind_control >/dev/null; then
	log "callgrind: ballastd under valgrind, $((PASSES < 5 ? PASSES : 5)) passes"
	VGP=/run/ballast/bench-vgdb
	# Count only the pass: the SIGHUP handler (reload) and the deferred reconcile it schedules; ballastd's
	# periodic work (and the queries of callgrind_control) stay out. Without those symbols: everything.
	TOGGLES="--toggle-collect=on_sighup --toggle-collect=on_reconcile_defer"
	CG_SCOPE="on_sighup + on_reconcile_defer"
	if [ "$(nm "$top_builddir/ballastd" 2>/dev/null | grep -cE ' t (on_sighup|on_reconcile_defer)$')" != 2 ]; then
		TOGGLES=; CG_SCOPE="whole process, idle not subtracted"
		note "callgrind: on_sighup/on_reconcile_defer not found in ballastd's symbols, counting everything"
	fi
	cat > "$ROOT/etc/systemd/system/ballastd.service.d/90-bench-callgrind.conf" <<EOF
[Service]
ExecStart=
ExecStart=/usr/bin/valgrind --tool=callgrind --vgdb-prefix=$VGP --callgrind-out-file=/run/ballast/bench-callgrind.out $TOGGLES $BALLAST_BIN/ballastd
MemoryDenyWriteExecute=no
SystemCallFilter=
MemoryHigh=infinity
MemoryMax=infinity
WatchdogSec=300s
TimeoutStartSec=300s
Environment=TMPDIR=/run/ballast
EOF
	sbt 30 systemctl daemon-reload
	if sbt 300 systemctl restart ballastd.service; then
		VP=$(ballastd_pid)
		ir() { sbt 20 callgrind_control --vgdb-prefix="$VGP" -e Ir "$VP" 2>/dev/null | awk '/Th 1/ { gsub(",", "", $3); s += $3 } END { printf "%.0f\n", s }'; }
		# wait until the counter stops moving (settled), bounded. Each callgrind_control query itself runs
		# ~1000 instructions in the guest, so "still" means fewer than 100000 in 0.5 s.
		settle() {
			local a b k
			a=$(ir)
			for k in $(seq 1 60); do
				sleep 0.5; b=$(ir)
				[ $((b - a)) -lt 100000 ] && { echo "$b"; return 0; }
				a=$b
			done
			echo "$b"; return 1
		}
		# after a SIGHUP: first until the counter moves past BASE (the pass began), then until it settles
		pass_done() {
			local k
			for k in $(seq 1 40); do
				[ $(( $(ir) - $1 )) -ge 100000 ] && break
				sleep 0.25
			done
			settle
		}
		base=$(settle) || note "callgrind: ballastd never settled before the passes"
		CG_FILE=$SB_DIR/ir.txt
		: > "$CG_FILE"
		for ((k = 1; k <= (PASSES < 5 ? PASSES : 5); k++)); do
			sbt 5 kill -HUP "$VP"
			after=$(pass_done "$base") || note "callgrind: pass $k did not settle within 30 s"
			echo $((after - base)) >> "$CG_FILE"
			base=$after
		done
		sleep 1; idle=$(ir)
		IR_IDLE=$((idle - base))
		IR_PASS=$(stats < "$CG_FILE" | awk '{ print $2 }')
		# the breakdown of one pass
		sbt 20 callgrind_control --vgdb-prefix="$VGP" -z "$VP" >/dev/null 2>&1
		base=$(ir)
		sbt 5 kill -HUP "$VP"
		pass_done "$base" >/dev/null
		sbt 20 callgrind_control --vgdb-prefix="$VGP" --dump=pass "$VP" >/dev/null 2>&1
		sleep 0.5
		f=$(ls -t "$ROOT"/run/ballast/bench-callgrind.out.* 2>/dev/null | head -n 1)
		if [ -n "$f" ]; then
			cp "$f" "$SB_DIR/callgrind.pass.out"
			CG_TOP=$(callgrind_annotate --inclusive=yes "$SB_DIR/callgrind.pass.out" 2>/dev/null |
				grep -E '^ *[0-9,]+ +\([ 0-9.]+%\) +' | grep -vE 'main|manager_run|sd_event_|libc_start|\?\?\?:0x|\(below' |
				grep -E 'ballastd\]|libc|jansson' | sed -E 's/ \[[^]]*\]$//; s/\(([ 0-9.]+)%\)/\1%/' | head -n 16)
		fi
	else
		fail "ballastd did not start under valgrind"
	fi
	rm -f "$ROOT/etc/systemd/system/ballastd.service.d/90-bench-callgrind.conf"
	sbt 30 systemctl daemon-reload
	sbt 60 systemctl restart ballastd.service >/dev/null 2>&1
elif [ "$CALLGRIND" = 1 ]; then
	note "valgrind/callgrind_control not installed: no instruction count"
fi
T_END=$(now_ms)
load_mark end
NCPU=$(nproc)
for l in "${LOADS[@]}"; do
	if awk -v l="${l#*:}" -v n="$NCPU" 'BEGIN { exit !(l > n) }'; then
		note "the host was busy (1-min load average ${LOADS[*]} on $NCPU CPUs): the timings are inflated, run again on a quiet machine"
		break
	fi
done

# =====================================================================================================
# The table
# =====================================================================================================
B_MED=$(rec_med 0); D_MED=$(rec_med 1); H_MED=$(rec_med 2)
REC_RATIO=$(ratio "$B_MED" "$D_MED")
REC_RATIO_H=$(ratio "$H_MED" "$D_MED")
START_RATIO=$(ratio "$(med "$ST_B")" "$(med "$ST_D")")
MET_REC=$(met "$REC_RATIO" "$GOAL_RECOVERY_RATIO")
MET_START=$(met "$START_RATIO" "$GOAL_START_RATIO")
MET_RSS=$(met "${RSS1:--}" "$((GOAL_RSS_KIB - 1))")
MET_PASS=$(met "$PASS_MS" "$GOAL_PASS_MS")
MET_REFUSED=$( [ "$REFUSED" = 0 ] && echo yes || echo NO)
MET_UNKNOWN=$( [ "$UNKNOWN" = 0 ] && echo yes || echo NO)
GOALS_MISSED=0
case "$MET_REC $MET_START $MET_RSS $MET_PASS $MET_REFUSED $MET_UNKNOWN" in *NO*) GOALS_MISSED=1 ;; esac

echo
echo "ballast supervisor benchmark - $(date -u '+%Y-%m-%d %H:%M UTC'), ballast $BALLAST_VERSION ($GIT_REV), Docker $DOCKER_VERSION, systemd $SYSTEMD_VERSION, $(nproc) CPUs, kernel $(uname -r)"
echo "command: $CMDLINE   (BENCH_KILLS=$KILLS BENCH_SPACING_S=$SPACING BENCH_STARTS=$STARTS BENCH_SCALE=$SCALE BENCH_PASSES=$PASSES)"
echo "total run time: $(( (T_END - T_BEGIN) / 1000 )) s; host load average (1 min) at each phase: ${LOADS[*]}"
echo
fmt='%-62s %-34s %-24s %s\n'
printf "$fmt" "figure" "measured" "goal" "met"
printf "$fmt" "------" "--------" "----" "---"
printf "$fmt" "1. recovery, kill -9 -> port answers again:" "" "" ""
for i in 0 1 2; do
	printf "$fmt" "   ${LABELS[$i]} (n=$(rec_n "$i"))" "median $(rec_med "$i") ms, p95 $(rec_p95 "$i") ms" "" ""
done
printf "$fmt" "   ratio ballast / docker (medians)" "$REC_RATIO" "<= $GOAL_RECOVERY_RATIO" "$MET_REC"
printf "$fmt" "   ratio ballast+health / docker (medians)" "$REC_RATIO_H" "(<= $GOAL_RECOVERY_RATIO)" "$(le "$REC_RATIO_H" "$GOAL_RECOVERY_RATIO" && echo yes || echo no)"
for i in 0 1 2; do
	printf "$fmt" "   ${LABELS[$i]}: kill -> started / started -> answers" \
		"$(phase_med "$i" 1) ms / $(phase_med "$i" 2) ms (medians)" "" ""
done
printf "$fmt" "2. start, command -> port answers (n=$(n_ "$ST_B")/$(n_ "$ST_D")/$(n_ "$ST_S")):" "" "" ""
printf "$fmt" "   ballastctl apply --wait (fresh service)" "median $(med "$ST_B") ms (range $(rng "$ST_B"))" "" ""
printf "$fmt" "     of which apply --wait returned after" "median $(med "$ST_BCMD") ms" "" ""
printf "$fmt" "   docker run -d" "median $(med "$ST_D") ms (range $(rng "$ST_D"))" "" ""
printf "$fmt" "   systemctl start, unit with attached docker run --rm" "median $(med "$ST_S") ms (range $(rng "$ST_S"))" "" ""
printf "$fmt" "   ratio apply / docker run -d (medians)" "$START_RATIO" "<= $GOAL_START_RATIO" "$MET_START"
printf "$fmt" "3. scale, $SCALE exec services:" "" "" ""
printf "$fmt" "   ballastctl apply DIR returned after" "$APPLY_MS ms" "" ""
printf "$fmt" "   apply -> all $SCALE active in systemd" "$( [ "$ALL_ACTIVE_MS" = - ] && echo "not within ${SCALE_WAIT}s ($N_ACTIVE)" || echo "$ALL_ACTIVE_MS ms")" "" ""
printf "$fmt" "   start jobs refused by D-Bus (LimitsExceeded lines)" "$REFUSED" "0" "$MET_REFUSED"
printf "$fmt" "   ballastd RssAnon: 0 services / $SCALE / after restart" "${RSS0:-?} / ${RSS1:-?} / ${RSS2:-?} KiB" "< $GOAL_RSS_KIB KiB" "$MET_RSS"
printf "$fmt" "   no-change pass (SIGHUP incl. reload), CPU, schedstat" "median $PASS_MS ms (n=$PASSES, idle subtracted)" "< $GOAL_PASS_MS ms" "$MET_PASS"
printf "$fmt" "   same, utime+stime (${CLK_TCK} Hz ticks), mean" "$PASS_TICKS_MS ms ($T_UT user + $T_ST sys ticks / $PASSES)" "" ""
printf "$fmt" "   ballastd idle CPU with $SCALE services (schedstat)" "$IDLE_MS_S ms per s" "" ""
printf "$fmt" "   same, instructions (callgrind, median of passes)" "$IR_PASS Ir (in $CG_SCOPE; idle 1 s: $IR_IDLE)" "" ""
printf "$fmt" "   ps after a ballastd restart (5 s): state unknown" "$UNKNOWN of $SCALE (active: $ACTIVE_PS)" "0" "$MET_UNKNOWN"
echo
echo "raw: recovery ms per kill -"
for i in 0 1 2; do echo "  ${LABELS[$i]}: $(awk -v i="$i" '$1 == i { printf "%s ", $3 }' "$RES_FILE")"; done
echo "raw: start ms (ballast / docker / systemd) - $(awk '$1 == "ballast" { printf "%s ", $3 }' "$ST_FILE")/ $(awk '$1 == "docker" { printf "%s ", $3 }' "$ST_FILE")/ $(awk '$1 == "systemd" { printf "%s ", $3 }' "$ST_FILE")"
echo "raw: scale, active units over time - ${PROGRESS[*]}"
echo "raw: pass us (schedstat) - $(tr '\n' ' ' < "$PASS_FILE")| idle windows: $(tr '\n' ' ' < "$IDLE_FILE")"
echo "ballastd NRestarts of ballast-web after the recovery runs: $NRESTARTS_WEB"
if [ -n "$CG_TOP" ]; then
	echo
	echo "callgrind, one no-change pass, inclusive (top functions):"
	echo "$CG_TOP" | sed 's/^/  /'
fi
if [ "${#NOTES[@]}" -gt 0 ]; then
	echo
	echo "notes:"
	for n in "${NOTES[@]}"; do echo "  - $n"; done
fi
[ "$FAILED" = 0 ] || exit 1
[ -n "${BENCH_STRICT:-}" ] && [ "$GOALS_MISSED" = 1 ] && exit 3
exit 0
