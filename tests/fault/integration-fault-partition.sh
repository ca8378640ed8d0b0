#!/bin/bash
# Fault: etcd partitioned from the node. etcd runs in a network namespace of its own inside the sandbox
# (`ip netns`, systemd-run with NetworkNamespacePath=), reached over a veth pair: 10.213.7.1 (the node) ↔
# 10.213.7.2 (etcd). The partition is a pair of iptables DROP rules on etcd's end of the veth (in its namespace:
# the sandbox's own tables and the host's stay untouched), so packets vanish as in a real partition (no RST, no
# ICMP): connections hang until ballastd's timeouts, they are not refused. It is held for longer than the lease's
# TTL (5 s), so etcd expires the node's key meanwhile. While it lasts: no workload is touched (same container
# ID, same MainPIDs, no restart), the socket answers at once, and the status says the cluster is unreachable.
# Once it heals: the key is back by itself, bound to a new lease of the configured TTL, with a current document.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/sandbox.sh"
. "$here/../lib/lib.sh"

SB_DIR=$(mktemp -d /var/tmp/ballast-it-fault-partition.XXXXXX)
trap 'sandbox_stop "$SB_DIR" --purge >/dev/null 2>&1; rm -rf "$SB_DIR"' EXIT
sandbox_start "$SB_DIR" --docker || bail "cannot start the sandbox"
ballast_install || bail "cannot install ballast into the sandbox"
need curl etcd base64 iptables ip
root=/proc/$SANDBOX_PID/root
SPECS=$SB_DIR/specs
mkdir -p "$SPECS"
EP=http://10.213.7.2:23791

# --- etcd in its own network namespace, behind a veth ---
sb ip netns add etcdns || bail "cannot create a network namespace"
sb ip link add bl-node type veth peer name bl-etcd netns etcdns &&
	sb ip addr add 10.213.7.1/30 dev bl-node && sb ip link set bl-node up &&
	sb ip -n etcdns addr add 10.213.7.2/30 dev bl-etcd && sb ip -n etcdns link set bl-etcd up &&
	sb ip -n etcdns link set lo up || bail "cannot set up the veth pair"
sb systemd-run --quiet --unit=etcd-test --collect -p NetworkNamespacePath=/run/netns/etcdns \
	/usr/bin/etcd --name p --data-dir "$SB_DIR/etcd" \
	--listen-client-urls "$EP,http://127.0.0.1:23791" --advertise-client-urls "$EP" \
	--listen-peer-urls http://127.0.0.1:23801 --initial-advertise-peer-urls http://127.0.0.1:23801 \
	--initial-cluster p=http://127.0.0.1:23801
wait_for 15 sb curl -sf -m 1 "$EP/health" || bail "etcd did not start in its namespace"
# the test's own view of etcd, from inside etcd's namespace (on its loopback): it works during the partition too
KEY=$(printf '/ballast/nodes/node-p' | base64 -w0)
in_etcd() { sb ip netns exec etcdns "$@"; }
kv() { in_etcd curl -s -m 2 -X POST http://127.0.0.1:23791/v3/kv/range -d "{\"key\":\"$KEY\"}"; }
has_key() { kv | grep -q '"kvs"'; }
no_key() { kv | grep -q '"revision"' && ! kv | grep -q '"kvs"'; }
lease_of_key() { kv | sed -n 's/.*"lease":"\([0-9]*\)".*/\1/p'; }

printf '{"node": {"name": "node-p"}, "cluster": {"etcd": {"endpoints": ["%s"], "ttl_s": 5}}}\n' "$EP" \
	> "$root/etc/ballast/ballast.json"
sb systemctl start ballastd.socket
cat > "$SPECS/web.json" <<'JSON'
{"name": "web", "image": "local/busybox:latest",
 "command": ["/bin/sh", "-c", "mkdir -p /www && echo ok > /www/health && exec httpd -f -p 8080 -h /www"],
 "ports": [{"host": 18080, "container": 8080}],
 "health": {"http": "http://127.0.0.1:18080/health", "interval_ms": 500, "timeout_ms": 400, "retries": 3}}
JSON
printf '{"name": "local", "runtime": "exec", "command": ["/bin/sleep", "infinity"]}\n' > "$SPECS/local.json"
bctl -t 60 apply --wait "$SPECS/web.json" "$SPECS/local.json" >/dev/null || bail "cannot apply the services"
wait_for 10 has_key
ok $? "the node's key is in etcd, across the veth"
lease0=$(lease_of_key)
like "$lease0" '^[1-9][0-9]*$' "bound to a lease"
like "$(bctl status)" "Cluster: +etcd ok via $EP" "status: the cluster is ok"
snapshot() {
	echo "$(sb /usr/bin/docker inspect -f '{{.Id}} {{.State.Pid}}' ballast-web)" \
		"$(sb systemctl show -P MainPID ballast-web.service) $(sb systemctl show -P NRestarts ballast-web.service)" \
		"$(sb systemctl show -P MainPID ballast-local.service) $(sb systemctl show -P NRestarts ballast-local.service)"
}
before=$(snapshot)
answers() { sb curl -sf -m 0.5 -o /dev/null http://127.0.0.1:18080/health; }

# --- the partition ---
in_etcd iptables -A INPUT -i bl-etcd -j DROP && in_etcd iptables -A OUTPUT -o bl-etcd -j DROP
ok $? "partition: every packet between the node and etcd dropped (iptables in etcd's namespace)"
check "the node cannot reach etcd any more (a request times out)" -- bash -c "! nsenter -t $SANDBOX_PID -a -r -w curl -sf -m 1 $EP/health"
t0=$(date +%s)
wait_for 12 no_key
ok $? "etcd expired the node's key after the TTL ($(( $(date +%s) - t0 )) s; seen from etcd's side)"
wait_for 10 sh -c "nsenter -t $SANDBOX_PID -a -r -w $BALLAST_BIN/ballastctl status | grep -Eq 'Cluster: +etcd error'"
ok $? "status says the cluster is in error"
t1=$(date +%s%N)
out=$(bctl status)
ms=$(( ($(date +%s%N) - t1) / 1000000 ))
like "$out" "Cluster: +etcd error via $EP: .*unreachable \(Timeout was reached\).*since" \
	"and that it is unreachable, since when ($(echo "$out" | grep Cluster:))"
# a budget (tests/lib/lib.sh), at most etcd's request timeout (2 s), which a call queued behind a blocking request could wait
bound=$(time_budget 1000); [ "$bound" -gt 2000 ] && bound=2000
ok $(( ms < bound ? 0 : 1 )) "the socket answers at once meanwhile (${ms} ms < $bound ms, nsenter and process start included)"
sleep 3   # the partition lasts a while longer: retries and backoff run against the dropped packets
is "$(snapshot)" "$before" "no workload touched during the partition: same container, same MainPIDs, no restart"
check "the web service still answers" -- answers
like "$(bctl ps)" "web +(file|applied) +docker +active \(running\) +healthy" "ps shows it active and healthy"

# --- healed ---
in_etcd iptables -D INPUT -i bl-etcd -j DROP && in_etcd iptables -D OUTPUT -o bl-etcd -j DROP
ok $? "partition healed"
t0=$(date +%s%N)
wait_for 40 has_key
ok $? "the node's key is back by itself ($(( ($(date +%s%N) - t0) / 1000000 )) ms after the heal)"
lease1=$(lease_of_key)
like "$lease1" '^[1-9][0-9]*$' "bound to a lease"
ok $([ "$lease1" != "$lease0" ]; echo $?) "a new one (the old lease expired with the partition)"
like "$(in_etcd curl -s -m 2 -X POST http://127.0.0.1:23791/v3/lease/timetolive -d "{\"ID\":\"$lease1\"}")" '"grantedTTL":"5"' \
	"of the configured TTL"
doc=$(kv | sed -n 's/.*"value":"\([^"]*\)".*/\1/p' | base64 -d 2>/dev/null)
like "$doc" '"name":"web".*"state":"active"' "the document is current (the web service active in it)"
wait_for 10 sh -c "nsenter -t $SANDBOX_PID -a -r -w $BALLAST_BIN/ballastctl status | grep -Eq 'Cluster: +etcd ok'"
ok $? "status says the cluster is ok again"
sleep 6   # more than a TTL: the lease is kept alive
check "the key outlives its TTL again (keepalives flow)" -- has_key
is "$(snapshot)" "$before" "and no workload was touched at any point"

done_testing
