#!/bin/bash
# The fleet view: three ballastd instances on the host (standalone roots, no workloads, tests/lib/nodes.sh)
# report to one real etcd (Debian's etcd-server); node-1 manages updates with a FleetLock server
# (tests/helpers/fleetlock-server, airlock's semantics). Checked: `ballastctl nodes` shows each node's reboot
# flow, reason, lock, drained, OS, stream and free capacity, --wide adds ballast's version and labels, --json
# carries the document (schema 2) and the fragmentation; `update unlock` releases node-1's slot at the server
# (held there by hand first, as a wave stuck on a lost answer leaves it); `update window reset` and `unpin`;
# and the exit code of each class: usage 2, refused 3, unreachable 5, status on an invalid configuration 6.
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$here/../lib/lib.sh"
. "$here/../lib/nodes.sh"

for tool in etcd etcdctl curl base64 ss; do
	command -v $tool >/dev/null || bail "$tool is not installed (tools/deps.sh installs it: etcd, etcdctl from Debian's etcd-server, etcd-client)"
done
for f in ballastd ballastctl tests/helpers/fleetlock-server; do
	[ -x "$top_builddir/$f" ] || bail "$top_builddir/$f is not built"
done

nodes_init "$(mktemp -d /var/tmp/ballast-it-fleet.XXXXXX)"
FL_PID=
cleanup() { [ -n "$FL_PID" ] && kill "$FL_PID" 2>/dev/null; nodes_cleanup; }
trap cleanup EXIT
trap "exit 1" INT TERM HUP
ctl() { "$top_builddir/ballastctl" -t 5 -s "$NODES_DIR/n$1/s.sock" "${@:2}"; }
rc() { "$@" >/dev/null 2>&1; echo $?; }

nodes_pick_ports 3 || bail "no three free loopback ports in 24000..24999"
FL_PORT=$((NODES_PORT + 2))
nodes_start_etcd "$NODES_PORT" $((NODES_PORT + 1)) || bail "etcd did not start"
"$top_builddir/tests/helpers/fleetlock-server" --address 127.0.0.1 --port "$FL_PORT" --slots 1 --group workers \
	--state "$NODES_DIR/fl.state" >"$NODES_DIR/fl.log" 2>&1 &
FL_PID=$!

# node-1: Flatcar (os-release in its root), a machine id, updates with the FleetLock server, a window
mkdir -p "$NODES_DIR/n1/etc/ballast" "$NODES_DIR/n1/etc/flatcar"
printf 'ID=flatcar\nVERSION_ID=3815.2.0\nPRETTY_NAME="Flatcar Container Linux"\n' >"$NODES_DIR/n1/etc/os-release"
printf '0123456789abcdef0123456789abcdef\n' >"$NODES_DIR/n1/etc/machine-id"
nodes_config 1 5 '{"zone": "a"}'
printf '{"node": {"name": "node-1", "labels": {"zone": "a"}}, "cluster": {"etcd": {"endpoints": ["%s"], "ttl_s": 5}},
 "updates": {"channel": "stable", "strategy": "fleet_lock", "fleet_lock": {"url": "http://127.0.0.1:%s/", "group": "workers"},
 "time_zone": "UTC", "windows": [{"days": ["Sat"], "start_time": "03:00", "length_minutes": 60}]}}\n' \
	"$NODES_EP" "$FL_PORT" >"$NODES_DIR/n1/etc/ballast/ballast.json"
nodes_start 2 3 5 || bail "cannot start node-2, node-3"
DBUS_SYSTEM_BUS_ADDRESS=$NODES_NO_BUS "$top_builddir/ballastd" --root "$NODES_DIR/n1" --socket "$NODES_DIR/n1/s.sock" \
	>"$NODES_DIR/n1.log" 2>&1 </dev/null &
NODE_PID[1]=$!
NODES_PIDS+=($!)
three() { [ "$(nodes_count)" = 3 ]; }
wait_for 30 three
ok $? "three nodes under the prefix" || { tail -n 20 "$NODES_DIR/n1.log" | sed 's/^/# /'; }

# ---- nodes ----
out=$(ctl 2 nodes)
like "$(head -n 1 <<<"$out")" "^NODE +FLOW +REASON +LOCK +DRAINED +OS +STREAM +FREE CPU +FREE MEM +CHANGED" "nodes: the wave's columns"
like "$(grep '^node-1 ' <<<"$out")" "^node-1 +(idle|needed|waiting-window) +[a-z-]+ +- +no +flatcar 3815.2.0 +stable " \
	"node-1: its flow, reason, no lock, not drained, Flatcar 3815.2.0, stream stable"
like "$(grep '^node-2 ' <<<"$out")" "^node-2 +unmanaged " "node-2: updates unmanaged"
like "$out" "Free in total: +cpu [0-9.]+, memory" "the total free"
like "$out" "Largest fit on one: +cpu [0-9.]+ \(node-[0-9]\), memory" "beside the largest fit on one node"
wide=$(ctl 2 --wide nodes)
like "$(head -n 1 <<<"$wide")" "BALLAST +FLOW SINCE +LOCK GROUP +SVC +LABELS +PORTS" "--wide: more columns"
like "$(grep '^node-1 ' <<<"$wide")" " workers .* zone=a " "--wide: node-1's lock group and labels"
js=$(ctl 3 -j nodes)
is "$(jq -r '.nodes[] | select(.node == "node-1") | .document.schema' <<<"$js")" 2 "--json: the document is schema 2"
is "$(jq -r '.nodes[] | select(.node == "node-1") | .document.updates | [.stream, .os_version, .lock_held, .drained, .lock_group] | @tsv' <<<"$js")" \
	"$(printf 'stable\t3815.2.0\tfalse\tfalse\tworkers')" "--json: stream, OS version, lock, drained, lock group"
is "$(jq -r '.fragmentation.nodes, .fragmentation.reporting' <<<"$js" | tr '\n' ' ')" "3 3 " "--json: the fragmentation over 3 nodes"
sum=$(jq '[.nodes[].document.free.memory] | add' <<<"$js")
is "$(jq '.fragmentation.free_total.memory' <<<"$js")" "$sum" "free_total.memory is the sum of the nodes' free memory"
is "$(jq '.fragmentation.largest_fit.memory' <<<"$js")" "$(jq '[.nodes[].document.largest_fit.memory] | max' <<<"$js")" \
	"largest_fit.memory is the largest single node's"

# ---- update unlock / window reset / unpin ----
id=$(ctl 1 -j update status | jq -r .lock.id)
like "$id" '^[0-9a-f]{32}$' "node-1's FleetLock id"
body=$(printf '{"client_params": {"id": "%s", "group": "workers"}}' "$id")
is "$(curl -s -o /dev/null -w '%{http_code}' -H 'fleet-lock-protocol: true' -d "$body" "http://127.0.0.1:$FL_PORT/v1/pre-reboot")" 200 \
	"the slot taken at the server in node-1's name (a wave stuck on a lost answer)"
like "$(cat "$NODES_DIR/fl.state")" "$id workers" "the server holds it"
is "$(rc ctl 1 update unlock)" 0 "update unlock: accepted"
released() { ! grep -q "$id" "$NODES_DIR/fl.state"; }
wait_for 10 released
ok $? "the server's slot is free again (steady-state from node-1)"
like "$(ctl 1 update status)" "Lock: +not held .*ok" "update status shows the release"
is "$(rc ctl 2 update unlock)" 3 "update unlock on a node without managed updates: refused (3)"
like "$(ctl 2 update unlock 2>&1)" "^ballastctl update: OS updates are not managed on this node" "said as a sentence"
like "$(ctl 2 -j update unlock 2>/dev/null | jq -r .error)" "^io.ballast.Agent.UpdatesNotManaged$" "--json keeps the error's name"

ctl 1 update window Sun 04:00 30 >/dev/null
like "$(ctl 1 update status)" "Windows: +Sun 04:00 \+30min" "a window set over the socket"
ctl 1 update window reset >/dev/null
like "$(ctl 1 update status)" "Windows: +Sat 03:00 \+60min" "window reset: the configuration's (given with Zincati's key names)"
ctl 1 update pin beta >/dev/null
like "$(ctl 1 update status)" "Channel: +beta \(pin\)" "pinned"
ctl 1 update unpin >/dev/null
like "$(ctl 1 update status)" "Channel: +stable \(config\)" "unpin: the configuration's channel"

# ---- exit codes ----
is "$(rc ctl 1 frobnicate)" 2 "an unknown command: usage (2)"
is "$(rc ctl 1 update window Sun 04:00 0)" 2 "a bad window length: usage (2)"
is "$(rc ctl 1 update window Funday 04:00 30)" 2 "a window ballastd refuses as invalid: usage (2)"
is "$(rc "$top_builddir/ballastctl" -s "$NODES_DIR/none.sock" status)" 5 "no ballastd at the socket: unreachable (5)"
is "$(rc ctl 1 status)" 0 "status with a valid configuration: 0"
like "$(ctl 1 help nodes)" "^Usage: ballastctl \[OPTIONS\] nodes" "help nodes"
is "$(ctl 1 nodes --help)" "$(ctl 1 help nodes)" "nodes --help says the same"
like "$(ctl 1 --help)" "4  no such service" "--help lists the exit codes"
# a ballastd started with an invalid configuration serves the socket and acts on nothing (a reload with a bad
# one keeps the old): status says so, and exits 6
mkdir -p "$NODES_DIR/n9/etc/ballast"
printf '{"node": {"name": "node-9"}, "frobnicate": 1}\n' >"$NODES_DIR/n9/etc/ballast/ballast.json"
DBUS_SYSTEM_BUS_ADDRESS=$NODES_NO_BUS "$top_builddir/ballastd" --root "$NODES_DIR/n9" --socket "$NODES_DIR/n9/s.sock" \
	>"$NODES_DIR/n9.log" 2>&1 </dev/null &
NODES_PIDS+=($!)
invalid() { ctl 9 status 2>/dev/null | grep -q INVALID; }
wait_for 10 invalid
ok $? "a ballastd with an invalid configuration: status says INVALID"
is "$(rc ctl 9 status)" 6 "status while the configuration is invalid: 6"
is "$(rc ctl 9 -j status)" 6 "and with --json too"

done_testing
