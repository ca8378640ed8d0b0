#!/bin/bash
# SPDX-License-Identifier: MIT
# bench/bench-metrics.sh [BUILDDIR] [SERVICES] - what a scrape of GET /metrics costs the loop. A ballastd with its
# own --root on the host's loopback (no systemd, no Docker: its SERVICES services, default 500, are known from
# their specs) serves the metrics; in the same run it measures, each for 4 s, back to back on one connection:
#   - GetStatus over the control socket (bench/varlink-load): the baseline of one turn of the loop;
#   - ListServices (every service's status as JSON): the baseline of a call that walks every service;
#   - GET /metrics (curl, one process, 200 requests in a row): the scrape;
#   - GetStatus again, while a second process scrapes without pause: how long a caller waits behind scrapes.
# Prints the p50 of each, the scrape's ratio to the baselines, and GetStatus's p99 alone and under scrapes.
# Needs a build with `make check` done (bench/varlink-load).
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../build}" && pwd) || exit 2
N=${2:-500}
[ -x "$build/bench/varlink-load" ] || { echo "bench-metrics: run 'make check' (or make bench/varlink-load) in $build first" >&2; exit 2; }
command -v curl >/dev/null || { echo "bench-metrics: curl is not installed" >&2; exit 2; }

T=$(mktemp -d /var/tmp/ballast-bench-metrics.XXXXXX)
BD= SCRAPER=
cleanup() {
	[ -n "$SCRAPER" ] && kill "$SCRAPER" 2>/dev/null && wait "$SCRAPER" 2>/dev/null
	[ -n "$BD" ] && kill -9 "$BD" 2>/dev/null && wait "$BD" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

PORT=$((25000 + RANDOM % 1000))
mkdir -p "$T/etc/ballast/services.d"
for i in $(seq 1 "$N"); do
	printf '{"name": "svc-%d", "image": "local/busybox:latest", "command": ["sleep", "1d"],
 "resources": {"cpu": 0.001, "memory": "6M", "pids": 4},
 "health": {"http": "http://127.0.0.1:%d/", "interval_ms": 60000, "timeout_ms": 1000, "retries": 3}}\n' \
		"$i" $((30000 + i)) >"$T/etc/ballast/services.d/svc-$i.json"
done
printf '{"metrics": {"listen": "127.0.0.1:%d"}}\n' "$PORT" >"$T/etc/ballast/ballast.json"
DBUS_SYSTEM_BUS_ADDRESS="unix:path=$T/no-system-bus" "$build/ballastd" --root "$T" --socket "$T/s.sock" \
	--log-level warning >"$T/ballastd.log" 2>&1 </dev/null &
BD=$!
URL=http://127.0.0.1:$PORT/metrics
for _ in $(seq 1 100); do curl -sf -o /dev/null "$URL" && break; sleep 0.1; done
series=$(curl -sf "$URL" | grep -c '^ballast_service_up{')
[ "$series" = "$N" ] || { echo "bench-metrics: $series services in the metrics, want $N" >&2; tail "$T/ballastd.log" >&2; exit 1; }

field() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p"; }
load() { "$build/bench/varlink-load" -s "$T/s.sock" -d 4 -m "$1"; }
# p50 and p99 in µs of curl's time_total over 200 requests made by one curl process
scrape_times() {
	local args=() i
	for ((i = 0; i < 200; i++)); do args+=(-o /dev/null "$URL"); done
	curl -s -w '%{time_total}\n' "${args[@]}" | awk '{printf "%d\n", $1 * 1000000}' | sort -n >"$T/scrape.us"
	echo "p50_us=$(sed -n 100p "$T/scrape.us") p99_us=$(sed -n 198p "$T/scrape.us")"
}

st=$(load io.ballast.Agent.GetStatus)
ls=$(load io.ballast.Agent.ListServices)
sc=$(scrape_times)
bytes=$(curl -s "$URL" | wc -c)
( while :; do curl -s -o /dev/null "$URL"; done ) &
SCRAPER=$!
under=$(load io.ballast.Agent.GetStatus)
kill "$SCRAPER"; wait "$SCRAPER" 2>/dev/null; SCRAPER=

st50=$(field p50_us <<<"$st") st99=$(field p99_us <<<"$st")
ls50=$(field p50_us <<<"$ls")
sc50=$(field p50_us <<<"$sc") sc99=$(field p99_us <<<"$sc")
un50=$(field p50_us <<<"$under") un99=$(field p99_us <<<"$under")
echo "services: $N, metrics text: $bytes bytes"
echo "GetStatus p50: ${st50} us, p99: ${st99} us"
echo "ListServices p50: ${ls50} us"
echo "GET /metrics p50: ${sc50} us, p99: ${sc99} us (curl's time_total, connection included)"
awk -v a="$sc50" -v b="$st50" -v c="$ls50" 'BEGIN { printf "scrape / GetStatus: %.1f, scrape / ListServices: %.2f\n", a / b, a / c }'
echo "GetStatus while scraped without pause: p50 ${un50} us, p99 ${un99} us"
