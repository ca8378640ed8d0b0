#!/bin/bash
# The reporter against a real etcd 3.4 (Debian's etcd-server) and a real HTTP receiver, all on loopback, through
# tests/helpers/reporter-driver: the node's key with its lease and document, a change within a second, kill -9 (the key
# goes with the TTL), SIGTERM (the lease is revoked: gone at once), etcd down longer than the TTL and back (the
# key comes back by itself), an endpoint that answers garbage, failover in a three-member cluster, and the HTTP
# endpoint with its bearer token.
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$here/../lib/lib.sh"

DRIVER=$top_builddir/tests/helpers/reporter-driver
for tool in etcd curl socat base64; do
	command -v $tool >/dev/null || { echo "Bail out! $tool is not installed (tools/deps.sh installs it)"; exit 1; }
done
[ -x "$DRIVER" ] || { echo "Bail out! $DRIVER is not built (make check builds it)"; exit 1; }

T=$(mktemp -d /tmp/ballast-it-etcd.XXXXXX)
PIDS=()
cleanup() {
	local p
	{
		for p in "${PIDS[@]}"; do kill -9 "$p"; done
		for p in "${PIDS[@]}"; do wait "$p"; done
	} 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

# Thirteen free loopback ports in a row, below the ephemeral range (where no outgoing connection can take one
# of them between our check and etcd's bind), somewhere unlikely to collide with another test run.
read -r eph_low _ </proc/sys/net/ipv4/ip_local_port_range
[ "${eph_low:-0}" -gt 11000 ] || eph_low=32768
used=$(ss -Htan 2>/dev/null | awk '{print $4}' | sed 's/.*://' | sort -u)
for _ in $(seq 1 50); do
	BASE=$((10000 + RANDOM % (eph_low - 10000 - 20)))
	clash=0
	for i in $(seq 0 12); do
		grep -qx "$((BASE + i))" <<<"$used" && { clash=1; break; }
	done
	[ $clash = 0 ] && break
done
E1=$BASE; G=$((BASE + 1)); H=$((BASE + 2)); M=$((BASE + 3))   # M..M+5: three members' client and peer ports
HANG=$((BASE + 10)); S=$((BASE + 11))                          # S, S+1: a TLS etcd's client and peer ports
url() { echo "http://127.0.0.1:$1"; }

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
b64() { printf '%s' "$1" | base64 -w0; }
# range ENDPOINT KEY: the raw /v3/kv/range reply
range() { curl -s -m 2 -X POST "$1/v3/kv/range" -d "{\"key\":\"$(b64 "$2")\"}"; }
# value ENDPOINT KEY: the decoded value, empty when there is no such key
value() { range "$1" "$2" | sed -n 's/.*"value":"\([^"]*\)".*/\1/p' | base64 -d 2>/dev/null; }
lease() { range "$1" "$2" | sed -n 's/.*"lease":"\([0-9]*\)".*/\1/p'; }
has_key() { [ -n "$(value "$1" "$2")" ]; }
no_key() { local r; r=$(range "$1" "$2") && [ -n "$r" ] && ! grep -q '"kvs"' <<<"$r"; }
value_is() { [ "$(value "$1" "$2")" = "$3" ]; }
# ttl ENDPOINT LEASE: the lease's remaining TTL (-1 when gone)
ttl() { curl -s -m 2 -X POST "$1/v3/lease/timetolive" -d "{\"ID\":\"$2\",\"keys\":true}" | sed -n 's/.*"TTL":"\(-\?[0-9]*\)".*/\1/p'; }

# start_etcd NAME CLIENT-PORT PEER-PORT INITIAL-CLUSTER [DATA-DIR]
start_etcd() {
	local name=$1 c=$2 p=$3 cluster=$4 dir=${5:-$T/$1}
	etcd --name "$name" --data-dir "$dir" \
		--listen-client-urls "$(url "$c")" --advertise-client-urls "$(url "$c")" \
		--listen-peer-urls "$(url "$p")" --initial-advertise-peer-urls "$(url "$p")" \
		--initial-cluster "$cluster" --initial-cluster-token "ballast-it-$BASE" \
		--heartbeat-interval 50 --election-timeout 500 >>"$T/$name.log" 2>&1 </dev/null &
	PIDS+=($!)
	eval "ETCD_$name=$!"
}
healthy() { curl -s -m 1 "$(url "$1")/health" | grep -q '"health":"true"'; }

# driver NAME ARGS…: starts the driver with $T/NAME.json as its document; its pid in DRV_NAME
driver() {
	local name=$1; shift
	"$DRIVER" "$@" "$T/$name.json" >"$T/$name.out" 2>"$T/$name.err" &
	PIDS+=($!)
	eval "DRV_$name=$!"
}
# status PID NAME: the driver's status line (SIGUSR1), without the "status " tag
status() {
	local n; n=$(grep -c '^status ' "$T/$2.out")
	kill -USR1 "$1"
	wait_for 2 sh -c "[ \$(grep -c '^status ' '$T/$2.out') -gt $n ]"
	grep '^status ' "$T/$2.out" | tail -n 1 | cut -d' ' -f2-
}
# alive PID: running (a child that exited is a zombie until waited for, and kill -0 still reaches it)
alive() { kill -0 "$1" 2>/dev/null && [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" != Z ]; }
gone() { ! alive "$1"; }
# stopped PID SECONDS: waits for a process to end
stopped() { wait_for "$2" gone "$1"; }
diag_logs() { local f; for f in "$@"; do tail -n 15 "$T/$f" | sed "s|^|# $f: |"; done; }
# okd STATUS DESCRIPTION: ok that returns the status, for "okd $? … || diag_logs …"
okd() { local st=$1; ok "$@"; return "$st"; }

# ---------------------------------------------------------------------------------------------------------
# one etcd: the key, its lease, its document; a change; kill -9; SIGTERM; an outage longer than the TTL
start_etcd e1 $E1 $((BASE + 9)) "e1=$(url $((BASE + 9)))"
wait_for 10 healthy $E1 || { diag_logs e1.log; bail "etcd did not start"; }
EP=$(url $E1)

printf '{"node":"n1","services":{"web":"active"}}' >"$T/n1.json"
driver n1 --etcd "$EP" --prefix /it --ttl 5 --node n1
wait_for 5 has_key "$EP" /it/nodes/n1
okd $? "the node's key /it/nodes/n1 appears" || diag_logs n1.err
is "$(value "$EP" /it/nodes/n1)" '{"node":"n1","services":{"web":"active"}}' "it holds the document, as it is"
L1=$(lease "$EP" /it/nodes/n1)
like "$L1" '^[0-9]+$' "the key is bound to a lease ($L1)"
tl=$(curl -s -m 2 -X POST "$EP/v3/lease/timetolive" -d "{\"ID\":\"$L1\",\"keys\":true}")
like "$tl" '"grantedTTL":"5"' "the lease has the configured TTL of 5 s"
like "$tl" "\"keys\":\\[\"$(b64 /it/nodes/n1)\"\\]" "and the lease holds that key"
st=$(status "$DRV_n1" n1)
like "$st" '"etcd":\{[^}]*"state":"ok"' "the driver's status says ok"
like "$st" "\"lease\":\"$L1\"" "with the same lease"
like "$st" "\"endpoint\":\"$EP\"" "and the endpoint"

printf '{"node":"n1","services":{"web":"failed"}}' >"$T/n1.json"
t0=$(now_ms)
kill -HUP "$DRV_n1"
wait_for 1 value_is "$EP" /it/nodes/n1 '{"node":"n1","services":{"web":"failed"}}'
ok $? "a changed document is in etcd within a second ($(( $(now_ms) - t0 )) ms)"

sleep 5
is "$(lease "$EP" /it/nodes/n1)" "$L1" "the lease is kept alive: the same one holds the key more than a TTL after its grant"
t=$(ttl "$EP" "$L1")
ok $([ "${t:--1}" -ge 2 ] && echo 0 || echo 1) "and refreshed at a third of the TTL: $t s left of 5"

kill -USR2 "$DRV_n1"
wait_for 2 grep -q '^nodes ' "$T/n1.out"
like "$(grep '^nodes ' "$T/n1.out")" '"document":\{"node":"n1","services":\{"web":"failed"\}\},"node":"n1"' \
	"reporter_list_nodes lists the node with its document"

{ kill -9 "$DRV_n1"; wait "$DRV_n1"; } 2>/dev/null
t0=$(now_ms)
sleep 1
ok $(has_key "$EP" /it/nodes/n1; echo $?) "kill -9: the key is still there a second later (it goes with its lease)"
wait_for 8 no_key "$EP" /it/nodes/n1
ok $? "and gone once the TTL ran out ($(( $(now_ms) - t0 )) ms after the kill)"

printf '{"node":"n2"}' >"$T/n2.json"
driver n2 --etcd "$EP" --prefix /it --ttl 5 --node n2
wait_for 5 has_key "$EP" /it/nodes/n2
ok $? "a second driver puts /it/nodes/n2"
t0=$(now_ms)
kill -TERM "$DRV_n2" 2>/dev/null
stopped "$DRV_n2" 3
ok $? "SIGTERM: the driver exits ($(( $(now_ms) - t0 )) ms)"
ok $(no_key "$EP" /it/nodes/n2; echo $?) "and its key is gone at once: the lease was revoked"
like "$(cat "$T/n2.err")" "revoked lease" "it says so"

# etcd down for longer than the TTL, then back (with its data): the key comes back by itself
printf '{"node":"n3"}' >"$T/n3.json"
driver n3 --etcd "$EP" --prefix /it --ttl 5 --node n3
wait_for 5 has_key "$EP" /it/nodes/n3
ok $? "a third driver puts /it/nodes/n3"
kill -TERM "$ETCD_e1" 2>/dev/null; stopped "$ETCD_e1" 5
sleep 6
ok $(alive "$DRV_n3"; echo $?) "etcd down for 6 s (> TTL): the driver is still there"
st=$(status "$DRV_n3" n3)
like "$st" '"etcd":\{[^}]*"state":"error"' "its status says error"
like "$st" '"error":"[^"]*Could.?n.t connect' "with what went wrong"
like "$st" '"since_usec":[0-9]+' "and since when"
start_etcd e1 $E1 $((BASE + 9)) "e1=$(url $((BASE + 9)))"
t0=$(now_ms)
wait_for 10 healthy $E1 || bail "etcd did not come back"
status_ok() { status "$1" "$2" | grep -q '"state":"ok"'; }
wait_for 15 status_ok "$DRV_n3" n3
okd $? "after etcd is back, the driver reports ok by itself ($(( $(now_ms) - t0 )) ms)" || diag_logs n3.err
L3=$(lease "$EP" /it/nodes/n3)
# etcd extends every lease by an election timeout (0.5 s here) when it comes back: without keepalives this one
# would be gone 6 s later
sleep 6
t=$(ttl "$EP" "$L3")
ok $([ "${t:--1}" -ge 2 ] && echo 0 || echo 1) "6 s later its lease has $t s of 5 left: kept alive again"

# and back empty (a rebuilt cluster): the lease is gone, so a new one is granted and the key put again
kill -TERM "$ETCD_e1" 2>/dev/null; stopped "$ETCD_e1" 5
rm -rf "$T/e1"
start_etcd e1 $E1 $((BASE + 9)) "e1=$(url $((BASE + 9)))"
wait_for 10 healthy $E1 || bail "etcd did not come back"
t0=$(now_ms)
wait_for 10 has_key "$EP" /it/nodes/n3
okd $? "etcd back without its data: the key is put again ($(( $(now_ms) - t0 )) ms)" || diag_logs n3.err
L3b=$(lease "$EP" /it/nodes/n3)
ok $([ -n "$L3b" ] && [ "$L3b" != "$L3" ] && echo 0 || echo 1) "under a new lease"
like "$(cat "$T/n3.err")" "lease-lost|is gone" "and the driver said the lease was lost"
kill -TERM "$DRV_n3" 2>/dev/null; stopped "$DRV_n3" 3

# an endpoint that answers garbage: the reporter moves on to the next one; alone, it is an error, not a crash
cat >"$T/garbage.sh" <<'EOF'
#!/bin/bash
while IFS= read -r line; do line=${line%$'\r'}; [ -z "$line" ] && break; done
printf 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\nConnection: close\r\n\r\n{"ID": [1, 2, 3'
EOF
socat TCP-LISTEN:$G,bind=127.0.0.1,reuseaddr,fork EXEC:"bash $T/garbage.sh" 2>/dev/null &
PIDS+=($!)
wait_for 3 sh -c "curl -s -m 1 $(url $G) >/dev/null"
printf '{"node":"n4"}' >"$T/n4.json"
driver n4 --etcd "$(url $G),$EP" --prefix /it --ttl 5 --node n4
wait_for 5 has_key "$EP" /it/nodes/n4
ok $? "behind an endpoint that answers garbage, the next endpoint gets the key"
like "$(status "$DRV_n4" n4)" "\"endpoint\":\"$EP\",[^}]*\"state\":\"ok\"" "and stays in use"
printf '{"node":"n5"}' >"$T/n5.json"
driver n5 --etcd "$(url $G)" --prefix /it --ttl 5 --node n5
sleep 1
st=$(status "$DRV_n5" n5)
like "$st" '"etcd":\{[^}]*"error":"[^"]*not JSON[^}]*"state":"error"' "only garbage: an error in the status"
ok $(alive "$DRV_n5"; echo $?) "and the driver is alive"
kill -TERM "$DRV_n4" "$DRV_n5" 2>/dev/null; stopped "$DRV_n4" 3; stopped "$DRV_n5" 3

# an endpoint that accepts and never answers: after the request's timeout (2 s), the next endpoint
socat TCP-LISTEN:$HANG,bind=127.0.0.1,reuseaddr,fork EXEC:"sleep 30" 2>/dev/null &
PIDS+=($!)
printf '{"node":"n8"}' >"$T/n8.json"
t0=$(now_ms)
driver n8 --etcd "$(url $HANG),$EP" --prefix /it --ttl 5 --node n8
wait_for 5 has_key "$EP" /it/nodes/n8
okd $? "behind an endpoint that never answers, the next one gets the key after the timeout ($(( $(now_ms) - t0 )) ms)" \
	|| diag_logs n8.err
kill -TERM "$DRV_n8" 2>/dev/null; stopped "$DRV_n8" 3
kill -TERM "$ETCD_e1" 2>/dev/null; stopped "$ETCD_e1" 5

# ---------------------------------------------------------------------------------------------------------
# a three-member cluster: the member the driver talks to first is killed; the key lives on
C1=$M; C2=$((M + 1)); C3=$((M + 2)); P1=$((M + 3)); P2=$((M + 4)); P3=$((M + 5))
CLUSTER="m1=$(url $P1),m2=$(url $P2),m3=$(url $P3)"
start_etcd m1 $C1 $P1 "$CLUSTER"
start_etcd m2 $C2 $P2 "$CLUSTER"
start_etcd m3 $C3 $P3 "$CLUSTER"
all_healthy() { healthy $C1 && healthy $C2 && healthy $C3; }
wait_for 15 all_healthy
okd $? "a three-member cluster is up" || diag_logs m1.log m2.log m3.log
printf '{"node":"n6"}' >"$T/n6.json"
driver n6 --etcd "$(url $C1),$(url $C2),$(url $C3)" --prefix /it --ttl 5 --node n6
wait_for 5 has_key "$(url $C3)" /it/nodes/n6
ok $? "the key is in the cluster (read from the third member)"
like "$(status "$DRV_n6" n6)" "\"endpoint\":\"$(url $C1)\"" "the driver talks to the first member"
{ kill -9 "$ETCD_m1"; wait "$ETCD_m1"; } 2>/dev/null
t0=$(now_ms)
sleep 7
okd $(has_key "$(url $C2)" /it/nodes/n6; echo $?) "first member killed: the key is still there after 7 s (> TTL)" \
	|| diag_logs n6.err
t=$(ttl "$(url $C2)" "$(lease "$(url $C2)" /it/nodes/n6)")
ok $([ "${t:--1}" -gt 0 ] && echo 0 || echo 1) "its lease is kept alive ($t s left)"
like "$(status "$DRV_n6" n6)" "\"endpoint\":\"http://127.0.0.1:($C2|$C3)\",[^}]*\"state\":\"ok\"" \
	"the driver failed over to another member and is ok"
kill -TERM "$DRV_n6" 2>/dev/null; stopped "$DRV_n6" 3
ok $(no_key "$(url $C2)" /it/nodes/n6; echo $?) "and SIGTERM revokes through the member it fails over to"
kill -TERM "$ETCD_m2" "$ETCD_m3" 2>/dev/null

# ---------------------------------------------------------------------------------------------------------
# TLS: an etcd that wants client certificates; the reporter passes CA, certificate and key to curl
if command -v openssl >/dev/null; then
	(
		cd "$T" || exit 1
		openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days 1 -subj /CN=it-ca
		openssl req -newkey rsa:2048 -nodes -keyout server-key.pem -out server.csr -subj /CN=127.0.0.1
		printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >server.ext
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out server.pem -days 1 -extfile server.ext
		openssl req -newkey rsa:2048 -nodes -keyout client-key.pem -out client.csr -subj /CN=n9
		printf 'extendedKeyUsage=clientAuth\n' >client.ext
		openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out client.pem -days 1 -extfile client.ext
	) >"$T/openssl.log" 2>&1 || bail "cannot make test certificates"
	etcd --name s1 --data-dir "$T/s1" \
		--listen-client-urls "https://127.0.0.1:$S" --advertise-client-urls "https://127.0.0.1:$S" \
		--listen-peer-urls "$(url $((S + 1)))" --initial-advertise-peer-urls "$(url $((S + 1)))" \
		--initial-cluster "s1=$(url $((S + 1)))" --cert-file "$T/server.pem" --key-file "$T/server-key.pem" \
		--trusted-ca-file "$T/ca.pem" --client-cert-auth >"$T/s1.log" 2>&1 </dev/null &
	PIDS+=($!); ETCD_s1=$!
	tls() { curl -s -m 2 --cacert "$T/ca.pem" --cert "$T/client.pem" --key "$T/client-key.pem" "$@"; }
	wait_for 10 sh -c "curl -s -m 1 --cacert '$T/ca.pem' --cert '$T/client.pem' --key '$T/client-key.pem' https://127.0.0.1:$S/health | grep -q true" \
		|| { diag_logs s1.log; bail "the TLS etcd did not start"; }
	printf '{"node":"n9"}' >"$T/n9.json"
	driver n9 --etcd "https://127.0.0.1:$S" --ca "$T/ca.pem" --cert "$T/client.pem" --key "$T/client-key.pem" \
		--prefix /it --ttl 5 --node n9
	tls_has_key() { tls -X POST "https://127.0.0.1:$S/v3/kv/range" -d "{\"key\":\"$(b64 /it/nodes/n9)\"}" | grep -q '"kvs"'; }
	wait_for 5 tls_has_key
	okd $? "over TLS with a client certificate, the key appears" || diag_logs n9.err
	cp "$T/n9.json" "$T/n10.json"
	driver n10 --etcd "https://127.0.0.1:$S" --ca "$T/ca.pem" --prefix /it --ttl 5 --node n10
	sleep 1
	like "$(status "$DRV_n10" n10)" '"etcd":\{[^}]*"state":"error"' "without the client certificate: an error in the status"
	kill -TERM "$DRV_n9" "$DRV_n10" 2>/dev/null; stopped "$DRV_n9" 3; stopped "$DRV_n10" 3
	kill -TERM "$ETCD_s1" 2>/dev/null
else
	ok 1 "openssl is not installed (tools/deps.sh installs it): no TLS test"
fi

# ---------------------------------------------------------------------------------------------------------
# the HTTP endpoint: POSTs with the bearer token, on change and every interval
cat >"$T/receiver.sh" <<EOF
#!/bin/bash
len=0 auth=
while IFS= read -r line; do
	line=\${line%\$'\r'}; [ -z "\$line" ] && break
	case "\${line,,}" in content-length:*) len=\${line#*:}; len=\${len// /} ;; authorization:*) auth=\${line#*: } ;; esac
done
body=\$(head -c "\$len")
printf '%s\t%s\n' "\$auth" "\$body" >>"$T/posts"
code=\$(cat "$T/code" 2>/dev/null || echo 200)
printf 'HTTP/1.1 %s X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n' "\$code"
EOF
socat TCP-LISTEN:$H,bind=127.0.0.1,reuseaddr,fork EXEC:"bash $T/receiver.sh" 2>/dev/null &
PIDS+=($!)
: >"$T/posts"
printf 'tok-123\n' >"$T/token"
printf '{"node":"n7"}' >"$T/n7.json"
driver n7 --http "$(url $H)/nodes" --token-file "$T/token" --interval 1 --node n7
wait_for 5 grep -q . "$T/posts"
is "$(head -n 1 "$T/posts")" "$(printf 'Bearer tok-123\t{"node":"n7"}')" "the receiver gets the document with the bearer token"
n=$(wc -l <"$T/posts")
sleep 3.2
ok $([ "$(wc -l <"$T/posts")" -ge $((n + 2)) ] && echo 0 || echo 1) "and again every interval (1 s): $(( $(wc -l <"$T/posts") - n )) in 3.2 s"
printf '{"node":"n7","v":2}' >"$T/n7.json"
printf 'tok-456' >"$T/token"
kill -HUP "$DRV_n7"
wait_for 1 grep -q 'v":2' "$T/posts"
ok $? "a changed document is posted within a second"
like "$(grep 'v":2' "$T/posts" | head -n 1)" "^Bearer tok-456	" "with the token re-read from its file"
st=$(status "$DRV_n7" n7)
like "$st" '"http":\{[^}]*"last_status":200[^}]*"state":"ok"' "the status says ok, HTTP 200"
like "$st" '"etcd":null' "and no etcd"
echo 500 >"$T/code"
sleep 1.5
like "$(status "$DRV_n7" n7)" '"http":\{"error":"HTTP 500"[^}]*"state":"error"' "a 500 is an error in the status"
rm -f "$T/code" "$T/token"
sleep 1.5
like "$(status "$DRV_n7" n7)" "\"error\":\"token file $T/token: No such file or directory\"" \
	"a missing token file is an error in the status"
ok $(alive "$DRV_n7"; echo $?) "not a crash"
printf 'tok-789' >"$T/token"
wait_for 3 grep -q '^Bearer tok-789' "$T/posts"
ok $? "the token back: posting again"
kill -TERM "$DRV_n7" 2>/dev/null; stopped "$DRV_n7" 3
ok $? "SIGTERM with only an HTTP endpoint: exits at once"

# in a build with --enable-asan/--enable-ubsan, a driver that stopped cleanly has reported any leak or error
san=$(grep -l -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T"/*.err 2>/dev/null)
is "$san" "" "no driver reported a sanitizer error" || for f in $san; do grep -A12 -E 'Sanitizer|runtime error' "$f" | sed 's/^/# /'; done

done_testing
