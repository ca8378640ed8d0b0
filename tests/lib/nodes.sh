# tests/lib/nodes.sh - many ballastd instances on one machine, each with its own root, reporting to one etcd on
# loopback; shared by tests/integration/integration-many-nodes.sh and bench/bench-cluster.sh. Source it after tests/lib/lib.sh.
# Needs: top_builddir (ballastd, ballastctl), etcd, etcdctl, curl, base64, ss.
#
#   nodes_init DIR                 the run's directory (NODES_DIR); every process started below is recorded
#   nodes_pick_ports COUNT         COUNT free consecutive loopback ports in 24000..24999: NODES_PORT is the first
#   nodes_start_etcd CLIENT PEER   a single-member etcd with its data in DIR/etcd: NODES_EP, NODES_ETCD_PID
#   nodes_config I TTL [LABELS]    writes DIR/nI/etc/ballast/ballast.json (node-I, NODES_EP, TTL, LABELS: a JSON object)
#   nodes_start FROM TO TTL        starts ballastd for node-FROM..node-TO: NODE_PID[I], socket DIR/nI/s.sock
#   nodes_count                    how many keys there are under /ballast/nodes/ (empty when etcd does not answer)
#   nodes_stop                     SIGTERM to every ballastd at once, waits for them (time_budget_s 5), NODES_EXIT[I] their status
#   nodes_cleanup                  kill -9 of everything started here, then removes DIR (for an EXIT trap)
#   rss_anon PID                   RssAnon in kB;  cpu_ns PID: CPU time so far in ns (schedstat, else utime+stime)
#   metric NAME                    a counter from etcd's /metrics (0 when absent)
#
# Every ballastd gets DBUS_SYSTEM_BUS_ADDRESS pointing at a socket that does not exist: --root does not apply to
# the system bus, and these instances must never reach the host's systemd. Docker's socket is under each root.

NODES_DIR=
NODES_PIDS=()
NODES_EP=
NODES_ETCD_PID=
declare -a NODE_PID NODES_EXIT
NODES_PREFIX=/ballast/nodes/

nodes_init() {
	NODES_DIR=$1
	NODES_NO_BUS="unix:path=$NODES_DIR/no-system-bus"
}

nodes_pick_ports() {
	local count=$1 used base i clash
	used=$(ss -Htan 2>/dev/null | awk '{print $4}' | sed 's/.*://' | sort -u)
	for _ in $(seq 1 50); do
		base=$((24000 + RANDOM % (1000 - count)))
		clash=0
		for ((i = 0; i < count; i++)); do
			grep -qx "$((base + i))" <<<"$used" && { clash=1; break; }
		done
		[ $clash = 0 ] && { NODES_PORT=$base; return 0; }
	done
	return 1
}

nodes_start_etcd() {
	local c=$1 p=$2
	NODES_EP=http://127.0.0.1:$c
	etcd --name nodes --data-dir "$NODES_DIR/etcd" \
		--listen-client-urls "$NODES_EP" --advertise-client-urls "$NODES_EP" \
		--listen-peer-urls "http://127.0.0.1:$p" --initial-advertise-peer-urls "http://127.0.0.1:$p" \
		--initial-cluster "nodes=http://127.0.0.1:$p" --initial-cluster-token "ballast-nodes-$c" \
		>>"$NODES_DIR/etcd.log" 2>&1 </dev/null &
	NODES_ETCD_PID=$!
	NODES_PIDS+=($!)
	wait_for 15 sh -c "curl -s -m 1 '$NODES_EP/health' | grep -q '\"health\":\"true\"'"
}

nodes_config() {
	local i=$1 ttl=$2 labels=${3:-"{}"}
	mkdir -p "$NODES_DIR/n$i/etc/ballast" || return 1
	printf '{"node": {"name": "node-%s", "labels": %s}, "cluster": {"etcd": {"endpoints": ["%s"], "ttl_s": %s}}}\n' \
		"$i" "$labels" "$NODES_EP" "$ttl" >"$NODES_DIR/n$i/etc/ballast/ballast.json"
}

nodes_start() {
	local from=$1 to=$2 ttl=$3 i
	for ((i = from; i <= to; i++)); do
		nodes_config "$i" "$ttl" || return 1
		DBUS_SYSTEM_BUS_ADDRESS=$NODES_NO_BUS "$top_builddir/ballastd" --root "$NODES_DIR/n$i" \
			--socket "$NODES_DIR/n$i/s.sock" --log-level "${NODES_LOG_LEVEL:-info}" \
			>"$NODES_DIR/n$i.log" 2>&1 </dev/null &
		NODE_PID[i]=$!
		NODES_PIDS+=($!)
	done
}

_nodes_b64() { printf '%s' "$1" | base64 -w0; }

nodes_count() {
	local r
	r=$(curl -s -m 3 -X POST "$NODES_EP/v3/kv/range" \
		-d "{\"key\":\"$(_nodes_b64 "$NODES_PREFIX")\",\"range_end\":\"$(_nodes_b64 "${NODES_PREFIX%/}0")\",\"count_only\":true}") || return 1
	grep -q '"header"' <<<"$r" || return 1
	# protobuf's JSON leaves out a count of 0
	if grep -q '"count"' <<<"$r"; then sed -n 's/.*"count":"\([0-9]*\)".*/\1/p' <<<"$r"; else echo 0; fi
}

# ours PID: still running (not a zombie) and a child of this shell (a reaped PID may have been reused)
ours() {
	local st
	read -r st 2>/dev/null <"/proc/$1/stat" || return 1   # no fork: nodes_stop polls hundreds of these
	set -- ${st##*) }
	[ "$1" != Z ] && [ "$2" = $$ ]
}

nodes_stop() {
	local i pids=() end=$((SECONDS + $(time_budget_s 5)))
	for i in "${!NODE_PID[@]}"; do pids+=("${NODE_PID[i]}"); done
	[ ${#pids[@]} -gt 0 ] || return 0
	kill -TERM "${pids[@]}" 2>/dev/null
	# bounded: whoever is still there after 5 s gets kill -9
	for i in "${!NODE_PID[@]}"; do
		while ours "${NODE_PID[i]}" && [ $SECONDS -lt $end ]; do sleep 0.05; done
		ours "${NODE_PID[i]}" && kill -9 "${NODE_PID[i]}" 2>/dev/null
		wait "${NODE_PID[i]}" 2>/dev/null
		NODES_EXIT[i]=$?
	done
	NODE_PID=()
}

nodes_cleanup() {
	local p
	{
		for p in "${NODES_PIDS[@]}"; do ours "$p" && kill -9 "$p"; done
		for p in "${NODES_PIDS[@]}"; do wait "$p"; done
	} 2>/dev/null
	[ -n "$NODES_DIR" ] && [ "${NODES_KEEP:-0}" != 1 ] && rm -rf "$NODES_DIR"
}

rss_anon() { awk '/^RssAnon:/ {print $2}' "/proc/$1/status" 2>/dev/null; }

cpu_ns() {
	local s t
	# one thread: schedstat's nanoseconds; several (etcd): stat's utime+stime, in clock ticks, for the whole
	# process (the threads that already ended included)
	t=(/proc/"$1"/task/*)
	if [ ${#t[@]} = 1 ]; then
		read -r s _ 2>/dev/null <"/proc/$1/schedstat"
		if [ -n "$s" ] && [ "$s" != 0 ]; then echo "$s"; return; fi
	fi
	# fields 14 and 15 of stat (after the parenthesised command name)
	awk -v hz="$(getconf CLK_TCK)" '{sub(/^.*\) /, ""); printf "%.0f\n", ($12 + $13) * 1000000000 / hz}' "/proc/$1/stat" 2>/dev/null
}

metric() {
	curl -s -m 3 "$NODES_EP/metrics" | awk -v n="$1" '$1 == n {printf "%.0f\n", $2; f = 1} END {if (!f) print 0}'
}
