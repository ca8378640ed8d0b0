#!/bin/bash
# The metrics, read by the real tools: Debian's Prometheus scrapes a ballastd on loopback (its own config, a 1 s
# scrape interval, its own TSDB directory) and the test asks Prometheus's HTTP API (/api/v1/query, with curl and
# jq) for the series; `promtool check metrics` passes on what the endpoint serves and on the textfile; the
# textfile is replaced atomically (a new inode at every write, never a partial file, mode 0644); only GET
# /metrics is answered. The counters move with what happens: control calls and errors made here, failed
# cluster reports to a receiver that is not there. A real ballastd with its own --root and socket, run on the
# host's loopback (like integration-http-endpoint.sh): no systemd, no Docker, so its services are known from
# their specs but not running.
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$here/../lib/lib.sh"
. "$here/../lib/nodes.sh"

command -v prometheus >/dev/null || bail "prometheus is not installed (Debian package prometheus; tools/deps.sh installs it)"
command -v promtool >/dev/null || bail "promtool is not installed (Debian package prometheus; tools/deps.sh installs it)"
for tool in curl jq ss; do
	command -v $tool >/dev/null || bail "$tool is not installed (tools/deps.sh installs it)"
done
for f in ballastd ballastctl; do
	[ -x "$top_builddir/$f" ] || bail "$top_builddir/$f is not built"
done

T=$(mktemp -d /var/tmp/ballast-it-metrics.XXXXXX)
BD= PROM=
cleanup() {
	{
		[ -n "$BD" ] && ours "$BD" && kill -9 "$BD"
		[ -n "$PROM" ] && ours "$PROM" && kill -9 "$PROM"
		[ -n "$BD" ] && wait "$BD"
		[ -n "$PROM" ] && wait "$PROM"
	} 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
diag_logs() { local f; for f in "$@"; do tail -n 15 "$T/$f" | sed "s|^|# $f: |"; done; }

nodes_pick_ports 3 || bail "no free loopback ports in 24000..24999"
MP=$NODES_PORT PP=$((NODES_PORT + 1)) DEAD=$((NODES_PORT + 2))
METRICS=http://127.0.0.1:$MP/metrics
PROM_URL=http://127.0.0.1:$PP

# --- ballastd: two services from files, reports to an HTTP receiver that is not there, metrics on ---
R=$T/root
mkdir -p "$R/etc/ballast/services.d" "$R/textfile"
cp "$top_srcdir/examples/hello.json" "$R/etc/ballast/services.d/"
sed -e 's/"hello"/"hello-two"/' -e 's/18080/18081/g' "$top_srcdir/examples/hello.json" >"$R/etc/ballast/services.d/hello-two.json"
cat >"$R/etc/ballast/ballast.json" <<EOF
{
  "node": {"name": "metrics-node"},
  "cluster": {"http": {"url": "http://127.0.0.1:$DEAD/report", "interval_s": 1}},
  "metrics": {"listen": "127.0.0.1:$MP", "textfile": "/textfile/ballast.prom", "textfile_interval_s": 1}
}
EOF
DBUS_SYSTEM_BUS_ADDRESS="unix:path=$T/no-system-bus" "$top_builddir/ballastd" --root "$R" --socket "$T/s.sock" \
	>"$T/ballastd.log" 2>&1 </dev/null &
BD=$!
bctl() { "$top_builddir/ballastctl" --socket "$T/s.sock" "$@"; }
wait_for 15 curl -sf -o /dev/null "$METRICS" || { diag_logs ballastd.log; bail "ballastd does not serve $METRICS"; }

# --- the endpoint: GET /metrics only ---
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
is "$(code "$METRICS")" 200 "GET /metrics: 200"
like "$(curl -s -o /dev/null -w '%{content_type}' "$METRICS")" '^text/plain; version=0\.0\.4' \
	"the content type of the text format 0.0.4"
is "$(code "http://127.0.0.1:$MP/")" 404 "GET /: 404"
is "$(code "http://127.0.0.1:$MP/metrics/x")" 404 "GET /metrics/x: 404"
is "$(code -X POST --data x "$METRICS")" 405 "POST /metrics: 405"
curl -s "$METRICS" >"$T/scrape.txt"
promtool check metrics <"$T/scrape.txt" >"$T/promtool.out" 2>&1
ok $? "promtool check metrics passes on the endpoint's output"
[ -s "$T/promtool.out" ] && sed 's/^/# promtool: /' "$T/promtool.out"

# --- calls and errors of the control socket, made here ---
N=7
for _ in $(seq 1 $N); do bctl status >/dev/null || break; done
bctl inspect no-such-service >/dev/null 2>&1
bctl inspect no-such-service >/dev/null 2>&1

# --- Prometheus scrapes it ---
cat >"$T/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: ballast
    static_configs:
      - targets: ["127.0.0.1:$MP"]
EOF
promtool check config "$T/prometheus.yml" >/dev/null 2>&1 || bail "promtool refuses the test's Prometheus configuration"
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/tsdb" --web.listen-address="127.0.0.1:$PP" \
	>"$T/prometheus.log" 2>&1 </dev/null &
PROM=$!

# q EXPR: the value of the first sample of an instant query (empty when there is none)
q() { curl -sfG "$PROM_URL/api/v1/query" --data-urlencode "query=$1" | jq -r '.data.result[0].value[1] // empty'; }
# n EXPR: how many series an instant query returns
n() { curl -sfG "$PROM_URL/api/v1/query" --data-urlencode "query=$1" | jq -r '.data.result | length'; }
scraped() { [ "$(q 'up{job="ballast"}')" = 1 ] && [ -n "$(q 'ballast_control_calls_total{job="ballast"}')" ]; }
wait_for 60 scraped || { diag_logs prometheus.log ballastd.log; bail "Prometheus did not scrape ballastd"; }
ok 0 "Prometheus scrapes ballastd (up == 1)"

is "$(q 'ballast_build_info')" 1 "ballast_build_info is 1"
is "$(curl -sfG "$PROM_URL/api/v1/query" --data-urlencode 'query=ballast_build_info' | jq -r '.data.result[0].metric.version')" \
	"$("$top_builddir/ballastd" --version | awk '{print $2; exit}')" "with ballastd's version"
is "$(n 'ballast_service_up')" 2 "ballast_service_up: a series per service"
is "$(q 'ballast_service_up{service="hello"}')" 0 "hello is not up (no systemd here)"
is "$(q 'ballast_service_healthy{service="hello-two"}')" 0 "nor healthy"
is "$(q 'ballast_service_memory_limit_bytes{service="hello"}')" 67108864 "hello's memory limit: 64M in bytes"
is "$(q 'ballast_service_cpu_limit_cores{service="hello"}')" 0.25 "hello's CPU limit: 0.25 cores"
is "$(n 'ballast_service_restarts_total')" 2 "restarts: a counter per service"
is "$(n 'ballast_service_oom_kills_total')" 2 "OOM kills: a counter per service"
is "$(q 'ballast_service_last_rollback_timestamp_seconds{service="hello"}')" 0 "no rollback yet"

is "$(q 'ballast_update_state{state="unmanaged"}')" 1 "no os-release under the root: update state unmanaged"
is "$(q 'sum(ballast_update_state)')" 1 "exactly one update state is 1"
like "$(n 'ballast_update_state')" '^[89]$' "a series per update state"
is "$(q 'ballast_update_reason{reason="unmanaged"}')" 1 "reason code unmanaged"
is "$(q 'sum(ballast_update_reason)')" 1 "exactly one reason code is 1"
is "$(q 'ballast_update_reason{reason="lock-unreachable"}')" 0 "lock-unreachable has its series, at 0"
is "$(q 'ballast_update_lock_held')" 0 "no lock held"
is "$(q 'ballast_node_drained')" 0 "not drained"

GOT=$(q 'ballast_control_calls_total{method="io.ballast.Agent.GetStatus"}')
ok $([ -n "$GOT" ] && [ "$GOT" -ge $N ]; echo $?) "GetStatus calls counted: $GOT >= $N"
is "$(q 'ballast_control_errors_total{method="io.ballast.Agent.GetStatus"}')" 0 "GetStatus: no errors"
is "$(q 'ballast_control_calls_total{method="io.ballast.Agent.GetService"}')" 2 "GetService: 2 calls"
is "$(q 'ballast_control_errors_total{method="io.ballast.Agent.GetService"}')" 2 "GetService: 2 errors (no such service)"

E1=$(q 'ballast_cluster_errors_total{target="http"}')
ok $([ -n "$E1" ] && [ "$E1" -ge 1 ]; echo $?) "failed HTTP reports counted ($E1)"
is "$(q 'ballast_cluster_last_success_timestamp_seconds{target="http"}')" 0 "and no success yet"
wait_for 20 sh -c "[ \"\$(curl -sfG '$PROM_URL/api/v1/query' --data-urlencode 'query=ballast_cluster_errors_total{target=\"http\"}' | jq -r '.data.result[0].value[1] // 0')\" -gt $E1 ]"
ok $? "the counter grows with the retries"

is "$(q 'ballast_node_capacity{resource="cpu"}')" "$(nproc)" "capacity: the node's CPUs, in cores"
MEM=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) * 1024 ))
is "$(q 'ballast_node_capacity{resource="memory"}')" "$MEM" "capacity: MemTotal in bytes"
is "$(q 'ballast_node_committed{resource="memory"}')" $((2 * 67108864)) "committed: the two services' memory"
ok $([ "$(q 'ballast_node_allocatable{resource="memory"} <= ballast_node_capacity{resource="memory"}')" != "" ]; echo $?) \
	"allocatable memory <= capacity"
is "$(n 'ballast_node_pressure')" 3 "pressure: memory, disk, pids"

# --- the textfile ---
TF=$R/textfile/ballast.prom
wait_for 10 test -s "$TF"
is "$(stat -c %a "$TF")" 644 "the textfile: mode 0644"
promtool check metrics <"$TF" >"$T/promtool-tf.out" 2>&1
ok $? "promtool check metrics passes on the textfile"
I1=$(stat -c %i "$TF")
wait_for 5 sh -c "[ \"\$(stat -c %i '$TF')\" != $I1 ]"
ok $? "rewritten by rename (a new inode), not in place"
# read it while it is being replaced: every read is a whole file (its last family complete)
LINES=$(wc -l <"$TF")
bad=0 reads=0 end=$(( $(date +%s) + 3 ))
while [ "$(date +%s)" -lt $end ]; do
	text=$(cat "$TF")
	last=${text##*$'\n'}
	[[ $last =~ ^ballast_control_errors_total\{method=\"[A-Za-z.]+\"\}\ [0-9]+$ ]] &&
		[ "$(printf '%s\n' "$text" | wc -l)" = "$LINES" ] || bad=$((bad + 1))
	reads=$((reads + 1))
done
is "$bad" 0 "$reads reads during rewrites: every one a whole file"

# --- stop: nothing left behind ---
kill -TERM "$BD"; wait "$BD"; BD=
is "$(find "$R/textfile" -name '.#*' | wc -l)" 0 "no temporary file left in the textfile directory"
done_testing
