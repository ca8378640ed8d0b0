#!/bin/bash
# Many nodes: 100 ballastd instances on one machine (standalone roots, no workloads, node names node-1 ..
# node-100, TTL 5 s) reporting to one real etcd (Debian's etcd-server) on loopback: every key is there within a
# bounded time, each under its own lease; all are still there, under the same leases, more than two TTLs later
# (kept alive); every instance's status says etcd ok; `ballastctl nodes` on one of them lists all 100; SIGTERM
# to all of them revokes every lease: the keys are gone as soon as they exited, and etcd's own counters say the
# leases were revoked by their holders (LeaseRevoke), none expired (not a matter of milliseconds). The sum of the instances'
# RssAnon is reported. No systemd, no Docker, no root needed: each ballastd gets --root, its own socket and a
# system bus address that does not exist, and retries bus and Docker in the background.
# Knobs: MANY_NODES (100), MANY_TTL (5).
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$here/../lib/lib.sh"
. "$here/../lib/nodes.sh"

N=${MANY_NODES:-100}
TTL=${MANY_TTL:-5}
for tool in etcd etcdctl curl base64 ss; do
	command -v $tool >/dev/null || bail "$tool is not installed (tools/deps.sh installs it: etcd, etcdctl from Debian's etcd-server, etcd-client)"
done
for f in ballastd ballastctl; do
	[ -x "$top_builddir/$f" ] || bail "$top_builddir/$f is not built"
done
# 100 daemons with a handful of descriptors each, and etcd with a connection from each
[ "$(ulimit -n)" -ge $((N * 4 + 256)) ] || ulimit -n $((N * 4 + 256)) 2>/dev/null \
	|| bail "the descriptor limit ($(ulimit -n)) is too low for $N nodes"

T0=$SECONDS
nodes_init "$(mktemp -d /var/tmp/ballast-it-many.XXXXXX)"
trap nodes_cleanup EXIT
trap "exit 1" INT TERM HUP
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
ctl() { "$top_builddir/ballastctl" -t 5 -s "$NODES_DIR/n$1/s.sock" "${@:2}"; }
diag_logs() { local f; for f in "$@"; do tail -n 15 "$NODES_DIR/$f" | sed "s|^|# $f: |"; done; }
expected=$(seq 1 "$N" | sed 's/^/node-/')
# names: the node names under the prefix, one a line, sorted by number
names() { ETCDCTL_API=3 etcdctl --endpoints="$NODES_EP" --command-timeout=3s get --prefix "$NODES_PREFIX" --keys-only \
	| sed -n "s|^$NODES_PREFIX||p" | sort -V; }
# leases: "NAME LEASE" for every key under the prefix, sorted
leases() {
	curl -s -m 3 -X POST "$NODES_EP/v3/kv/range" -d "{\"key\":\"$(_nodes_b64 "$NODES_PREFIX")\",\"range_end\":\"$(_nodes_b64 "${NODES_PREFIX%/}0")\",\"keys_only\":true}" \
		| grep -o '"key":"[^"]*"[^}]*"lease":"[0-9]*"' \
		| sed 's/^"key":"\([^"]*\)".*"lease":"\([0-9]*\)"$/\1 \2/' \
		| while read -r k l; do printf '%s %s\n' "$(printf '%s' "$k" | base64 -d)" "$l"; done | sort -V
}
all_there() { [ "$(nodes_count)" = "$N" ]; }
none_there() { [ "$(nodes_count)" = 0 ]; }

nodes_pick_ports 2 || bail "no two free loopback ports in 24000..24999"
nodes_start_etcd "$NODES_PORT" $((NODES_PORT + 1)) || { diag_logs etcd.log; bail "etcd did not start"; }
diag "etcd at $NODES_EP, $N nodes under $NODES_DIR"

# ---------------------------------------------------------------------------------------------------------
t0=$(now_ms)
nodes_start 1 "$N" "$TTL" || bail "cannot start the nodes"
wait_for 30 all_there
ok $? "all $N keys are under $NODES_PREFIX within $(time_budget_s 30) s ($(( $(now_ms) - t0 )) ms after the first start)" \
	|| diag "count: $(nodes_count)"
t_all=$(now_ms)
is "$(names)" "$expected" "they are exactly node-1 .. node-$N (etcdctl get --prefix --keys-only)"
L0=$(leases)
is "$(cut -d' ' -f2 <<<"$L0" | sort -u | grep -c '^[1-9]')" "$N" "each key is bound to a lease of its own"
lease1=$(awk -v k="${NODES_PREFIX}node-1" '$1 == k {print $2}' <<<"$L0")
like "$(curl -s -m 2 -X POST "$NODES_EP/v3/lease/timetolive" -d "{\"ID\":\"$lease1\"}")" "\"grantedTTL\":\"$TTL\"" \
	"with the configured TTL ($TTL s)"

bad=
for ((i = 1; i <= N; i++)); do
	ctl "$i" status 2>&1 | grep -qE "^Cluster: +etcd ok via $NODES_EP" || bad+=" node-$i"
done
is "${bad:-none}" none "every instance's ballastctl status says: Cluster: etcd ok via $NODES_EP"

# ---------------------------------------------------------------------------------------------------------
# kept alive: sampled every half second for more than two TTLs, no key ever missing
min=$N samples=0 t_end=$((t_all + 2 * TTL * 1000 + 1500))
while [ "$(now_ms)" -lt $t_end ]; do
	c=$(nodes_count)
	samples=$((samples + 1))
	[ "${c:-0}" -lt "$min" ] && min=${c:-0}
	sleep 0.5
done
is "$min" "$N" "all $N keys there throughout $(( ($(now_ms) - t_all) / 1000 )) s (> 2 TTLs), $samples samples"
is "$(leases)" "$L0" "under the same leases: kept alive, none lost and granted again"
low=
for l in $(cut -d' ' -f2 <<<"$L0"); do
	t=$(curl -s -m 2 -X POST "$NODES_EP/v3/lease/timetolive" -d "{\"ID\":\"$l\"}" | sed -n 's/.*"TTL":"\(-\?[0-9]*\)".*/\1/p')
	[ "${t:--1}" -ge $((TTL * 2 / 5)) ] || low+=" $l:${t:-none}"
done
is "${low:-none}" none "every lease has at least $((TTL * 2 / 5)) s of $TTL left (keepalive at a third of the TTL)"

out=$(ctl 1 nodes)
is "$(awk 'NR > 1 && /^node-/ {print $1}' <<<"$out" | sort -V)" "$expected" "ballastctl nodes on node-1 lists the $N nodes"
like "$(head -n 1 <<<"$out")" "^NODE +FLOW +REASON +LOCK +DRAINED" "as a table"
is "$(ctl $N -j nodes | grep -oE '"node": *"node-[0-9]+"' | grep -o 'node-[0-9]*' | sort -u | wc -l)" "$N" "ballastctl -j nodes on node-$N: $N too"

# ---------------------------------------------------------------------------------------------------------
dead= rss_sum=0 rss_max=0
for ((i = 1; i <= N; i++)); do
	ours "${NODE_PID[i]}" || { dead+=" node-$i"; continue; }
	r=$(rss_anon "${NODE_PID[i]}")
	rss_sum=$((rss_sum + ${r:-0}))
	[ "${r:-0}" -gt $rss_max ] && rss_max=$r
done
is "${dead:-none}" none "all $N instances are still running"
diag "RssAnon of the $N ballastd: sum $((rss_sum / 1024)) MiB ($rss_sum kB), mean $((rss_sum / N)) kB, max $rss_max kB"
# an ASan build's shadow memory and its quarantine (16 MiB, tests/lib/lib.sh) are anonymous memory too
rss_bound=8192
ballast_sanitized && rss_bound=49152
ok $(( rss_max < rss_bound ? 0 : 1 )) "memory is bounded: no instance above $((rss_bound / 1024)) MiB RssAnon (max $rss_max kB)"

# ---------------------------------------------------------------------------------------------------------
# SIGTERM to all at once: every lease revoked, the keys gone at once (a TTL is $TTL s). Revoked, not expired:
# etcd counts the leases revoked by a client's LeaseRevoke and, apart, those that expired.
step "SIGTERM to all"
REVOKES='grpc_server_handled_total{grpc_code="OK",grpc_method="LeaseRevoke",grpc_service="etcdserverpb.Lease",grpc_type="unary"}'
EXPIRED=etcd_debugging_server_lease_expired_total
revoked0=$(metric "$REVOKES") expired0=$(metric "$EXPIRED")
t0=$(now_ms)
nodes_stop
t_stop=$(( $(now_ms) - t0 ))
c=$(nodes_count)
t_gone=$(( $(now_ms) - t0 ))
is "$c" 0 "SIGTERM to all $N: every key is gone as soon as they all exited ($t_stop ms; counted at $t_gone ms)"
revoked=$(( $(metric "$REVOKES") - revoked0 )) expired=$(( $(metric "$EXPIRED") - expired0 ))
is "$revoked $expired" "$N 0" "revoked, not expired: $revoked leases revoked by their holders (etcd's LeaseRevoke count), $expired expired"
is "$expired0" 0 "and no lease had expired before either (etcd's $EXPIRED)"
bad=
for ((i = 1; i <= N; i++)); do [ "${NODES_EXIT[i]}" = 0 ] || bad+=" node-$i:${NODES_EXIT[i]}"; done
is "${bad:-none}" none "every instance exited with status 0"
is "$(grep -l 'revoked lease' "$NODES_DIR"/n*.log | wc -l)" "$N" "and every one logged its revoked lease"
is "$(ETCDCTL_API=3 etcdctl --endpoints="$NODES_EP" --command-timeout=3s lease list | grep -c '^[0-9a-f]\+$')" 0 \
	"no lease is left in etcd"

san=$(grep -l -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$NODES_DIR"/n*.log 2>/dev/null)
is "$san" "" "no instance reported a sanitizer error" || for f in $san; do grep -A12 -E 'Sanitizer|runtime error' "$f" | sed 's/^/# /'; done
diag "run time $((SECONDS - T0)) s"
done_testing
