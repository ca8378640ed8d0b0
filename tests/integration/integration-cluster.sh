#!/bin/bash
# ballastd reporting to a real etcd (Debian's etcd-server, on loopback inside the sandbox's own network
# namespace): the node's key with a lease, the document, changes within a second, SIGTERM revokes, kill -9
# expires, an etcd outage longer than the TTL touches no workload and the key comes back by itself.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/sandbox.sh"
. "$here/../lib/lib.sh"

SB_DIR=$(mktemp -d /var/tmp/ballast-it-cluster.XXXXXX)
trap 'sandbox_stop "$SB_DIR" --purge >/dev/null 2>&1; rm -rf "$SB_DIR"' EXIT
sandbox_start "$SB_DIR" || bail "cannot start the sandbox"
ballast_install || bail "cannot install ballast into the sandbox"
need curl etcd base64
root=/proc/$SANDBOX_PID/root

start_etcd() {
	sb systemd-run --quiet --unit=etcd-test --collect /usr/bin/etcd --name t --data-dir "$SB_DIR/etcd" \
		--listen-client-urls http://127.0.0.1:23791 --advertise-client-urls http://127.0.0.1:23791 \
		--listen-peer-urls http://127.0.0.1:23801 --initial-advertise-peer-urls http://127.0.0.1:23801 \
		--initial-cluster t=http://127.0.0.1:23801
	wait_for 10 sb curl -sf -m 1 http://127.0.0.1:23791/health
}
start_etcd || bail "etcd did not start"
KEY=$(printf '/ballast/nodes/node-x' | base64 -w0)
kv() { sb curl -s -m 2 -X POST http://127.0.0.1:23791/v3/kv/range -d "{\"key\":\"$KEY\"}"; }
doc() { kv | sed -n 's/.*"value":"\([^"]*\)".*/\1/p' | base64 -d 2>/dev/null; }
has_key() { kv | grep -q '"kvs"'; }

printf '{"node": {"name": "node-x", "labels": {"zone": "a"}}, "cluster": {"etcd": {"endpoints": ["http://127.0.0.1:23791"], "ttl_s": 5}}}\n' \
	> "$root/etc/ballast/ballast.json"
sb systemctl start ballastd.socket
bctl status >/dev/null
wait_for 5 has_key
ok $? "the node's key appears under PREFIX/nodes/NODE"
lease=$(kv | sed -n 's/.*"lease":"\([0-9]*\)".*/\1/p')
like "$lease" "^[1-9][0-9]*$" "bound to a lease"
like "$(sb curl -s -X POST http://127.0.0.1:23791/v3/lease/timetolive -d "{\"ID\":\"$lease\"}")" '"grantedTTL":"5"' "with the configured TTL"
d=$(doc)
like "$d" '"schema":2' "the document is versioned"
like "$d" '"node":"node-x"' "and names the node"
like "$d" '"labels":\{"zone":"a"\}' "with its labels"
like "$d" '"allocatable":\{' "and its allocatable capacity"
like "$d" '"interfaces":\[' "and its interfaces"
like "$(bctl status)" "Cluster: +etcd ok via http://127.0.0.1:23791" "status shows the cluster as ok"

printf '{"name": "sleeper", "runtime": "exec", "command": ["/bin/sleep", "infinity"], "ports": [{"host": 9999}]}' > "$SB_DIR/sleeper.json"
t0=$(date +%s%N)
bctl apply "$SB_DIR/sleeper.json" >/dev/null
wait_for 3 sh -c "nsenter -t $SANDBOX_PID -a -r -w curl -s -m 1 -X POST http://127.0.0.1:23791/v3/kv/range -d '{\"key\":\"$KEY\"}' | sed -n 's/.*\"value\":\"\([^\"]*\)\".*/\1/p' | base64 -d | grep -q '\"name\":\"sleeper\".*\"state\":\"active\"'"
ok $? "an applied service shows up in the document, active ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
like "$(doc)" '"port":"9999/tcp","service":"sleeper"' "with its known port"
like "$(bctl nodes --wide)" "node-x .* 9999/tcp=sleeper" "ballastctl nodes --wide lists the node with its free capacity and ports"

# --- etcd gone for longer than the TTL: workloads untouched, the key comes back by itself ---
pid0=$(sb systemctl show -P MainPID ballast-sleeper.service)
sb systemctl stop etcd-test
sleep 7
t0=$(date +%s%N)
out=$(bctl status)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
like "$out" "Cluster: +etcd error.*since" "with etcd down, status says so and since when"
# a budget (tests/lib/lib.sh), at most etcd's request timeout (2 s), which a call queued behind a blocking request could wait
bound=$(time_budget 500); [ "$bound" -gt 2000 ] && bound=2000
ok $(( ms < bound ? 0 : 1 )) "and the socket answers at once meanwhile (${ms} ms < $bound ms, nsenter and process start included)"
is "$(sb systemctl show -P MainPID ballast-sleeper.service)" "$pid0" "the workload was not touched"
t0=$(date +%s%N)
start_etcd
wait_for 35 has_key
ok $? "etcd back: the key comes back by itself ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
is "$(sb systemctl show -P MainPID ballast-sleeper.service)" "$pid0" "and the workload still was not touched"

# --- SIGTERM revokes at once; kill -9 leaves it to the TTL ---
sb systemctl stop ballastd.service
wait_for 2 sh -c "! nsenter -t $SANDBOX_PID -a -r -w curl -s -m 1 -X POST http://127.0.0.1:23791/v3/kv/range -d '{\"key\":\"$KEY\"}' | grep -q kvs"
ok $? "SIGTERM: the key is gone at once (the lease is revoked)"
is "$(sb systemctl show -P MainPID ballast-sleeper.service)" "$pid0" "and the workload keeps running"
bctl status >/dev/null
wait_for 5 has_key
ok $? "ballastd started again: the key is back"
# systemd would restart a killed ballastd (Restart=on-failure), which registers again: keep it down here
sb mkdir -p /run/systemd/system/ballastd.service.d
printf '[Service]\nRestart=no\n' | sb tee /run/systemd/system/ballastd.service.d/50-test-no-restart.conf >/dev/null
sb systemctl daemon-reload
sb systemctl kill -s KILL ballastd.service
sleep 1
check "kill -9: the key outlives ballastd for a while" -- has_key
wait_for 10 sh -c "! nsenter -t $SANDBOX_PID -a -r -w curl -s -m 1 -X POST http://127.0.0.1:23791/v3/kv/range -d '{\"key\":\"$KEY\"}' | grep -q kvs"
ok $? "and is gone once the TTL expired"
is "$(sb systemctl show -P MainPID ballast-sleeper.service)" "$pid0" "the workload kept running throughout"

done_testing
