#!/bin/bash
# ballastd reporting to an HTTP endpoint (cluster.http) that misbehaves: a receiver on loopback (socat running
# a bash script per connection) that answers 500, then accepts and never answers, then closes the connection at
# once, then answers 200. Throughout, `ballastctl status` answers about as fast as when nothing is wrong (the
# reporter never blocks the loop: a bound from a baseline measured in the run, and many calls during the 5 s
# hang where a blocked loop would answer one or two); the status names each error; the retries back off (250 ms doubling, +-20 %, capped at interval_s); at
# the end the reports go through again, with the bearer token from token_file, re-read when it changes. A real
# ballastd with its own --root and socket, no systemd, no Docker, no etcd.
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$here/../lib/lib.sh"
. "$here/../lib/nodes.sh"

for tool in socat curl ss; do
	command -v $tool >/dev/null || { echo "Bail out! $tool is not installed (tools/deps.sh installs it)"; exit 1; }
done
for f in ballastd ballastctl; do
	[ -x "$top_builddir/$f" ] || { echo "Bail out! $top_builddir/$f is not built"; exit 1; }
done

T=$(mktemp -d /var/tmp/ballast-it-http.XXXXXX)
BD= RECV=
cleanup() {
	{
		[ -n "$BD" ] && ours "$BD" && kill -9 "$BD"
		# the receiver and whatever connection it is still serving: its own process group
		[ -n "$RECV" ] && kill -9 -- -"$RECV"
		[ -n "$BD" ] && wait "$BD"
		[ -n "$RECV" ] && wait "$RECV"
	} 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
diag_logs() { local f; for f in "$@"; do tail -n 15 "$T/$f" | sed "s|^|# $f: |"; done; }
INTERVAL=3

nodes_pick_ports 1 || bail "no free loopback port in 24000..24999"
P=$NODES_PORT
URL=http://127.0.0.1:$P/report

# One connection: the mode in $T/mode decides. Every connection is logged in $T/conns (ms, mode), every request
# read in $T/posts (mode, Authorization header, body).
cat >"$T/receiver.sh" <<EOF
#!/bin/bash
mode=\$(cat "$T/mode" 2>/dev/null || echo 200)
t=\${EPOCHREALTIME/./}
echo "\$((t / 1000)) \$mode" >>"$T/conns"
case \$mode in
close) exit 0 ;;          # closes the connection at once: no answer, the request unread
hang) exec sleep 8 ;;     # accepts and never answers (ballastd gives up after 5 s)
esac
len=0 auth=
while IFS= read -r line; do
	line=\${line%\$'\r'}; [ -z "\$line" ] && break
	case "\${line,,}" in content-length:*) len=\${line#*:}; len=\${len// /} ;; authorization:*) auth=\${line#*: } ;; esac
done
body=\$(head -c "\$len")
printf '%s\t%s\t%s\n' "\$mode" "\$auth" "\$body" >>"$T/posts"
if [ "\$mode" = 500 ]; then
	printf 'HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\nConnection: close\r\n\r\noops\n'
else
	printf 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'
fi
EOF
: >"$T/conns"
: >"$T/posts"
echo 500 >"$T/mode"
set -m   # the receiver in a process group of its own, so that the cleanup reaches its connections too
socat TCP-LISTEN:$P,bind=127.0.0.1,reuseaddr,fork EXEC:"bash $T/receiver.sh" 2>"$T/socat.err" &
RECV=$!
set +m
wait_for 5 sh -c "ss -Htln | grep -q '127.0.0.1:$P '" || bail "the receiver did not start"

mkdir -p "$T/root/etc/ballast"
printf 'tok-1\n' >"$T/root/etc/ballast/token"
conf() {  # conf LABEL
	printf '{"node": {"name": "node-h", "labels": {"v": "%s"}}, "cluster": {"http": {"url": "%s", "token_file": "/etc/ballast/token", "interval_s": %d}}}\n' \
		"$1" "$URL" "$INTERVAL" >"$T/root/etc/ballast/ballast.json"
}
conf 1
DBUS_SYSTEM_BUS_ADDRESS=unix:path=$T/no-system-bus "$top_builddir/ballastd" --root "$T/root" --socket "$T/s.sock" \
	--log-level debug >"$T/ballastd.log" 2>&1 </dev/null &
BD=$!

# status_until SECONDS REGEX: polls `ballastctl status` every 100 ms until its output matches; every call is
# timed (slowest in MAX_MS, calls in CALLS, slow ones >= SLOW_MS in SLOW); the last output in OUT
MAX_MS=0 CALLS=0 SLOW=0 OUT= SLOW_MS=
status_until() {
	local end=$(( $(now_ms) + $1 * 1000 )) t0 ms
	while :; do
		t0=$(now_ms)
		OUT=$("$top_builddir/ballastctl" -t 5 -s "$T/s.sock" status 2>&1)
		ms=$(( $(now_ms) - t0 ))
		CALLS=$((CALLS + 1))
		[ $ms -gt $MAX_MS ] && MAX_MS=$ms
		[ -n "$SLOW_MS" ] && [ $ms -ge "$SLOW_MS" ] && SLOW=$((SLOW + 1))
		grep -qE -- "$2" <<<"$OUT" && return 0
		[ "$(now_ms)" -lt $end ] || return 1
		sleep 0.1
	done
}
conns() { grep -c " $1\$" "$T/conns"; }
# okd STATUS DESCRIPTION: ok that returns the status, for "okd $? … || diag_logs …"
okd() { local st=$1; ok "$@"; return "$st"; }
gone() { ! ours "$BD"; }
http_line() { grep '^Cluster: *http' <<<"$OUT"; }

# ---------------------------------------------------------------------------------------------------------
# 500: an error in the status, retried with backoff
step "HTTP 500"
status_until 10 "^Cluster: +http error to $URL: HTTP 500 \(since "
okd $? "HTTP 500: status says: $(http_line)" || diag_logs ballastd.log
# the baseline: the slowest of ten calls now, in this run, on this machine, with nothing blocking. A call that
# waited for the reporter would wait for the request (up to its 5 s timeout): the bound is 4 x the baseline,
# at least 500 ms (x3 with sanitizers: build_budget, tests/lib/lib.sh), and below the 5 s it would prove nothing past.
BASE_MS=0
for i in 1 2 3 4 5 6 7 8 9 10; do
	t0=$(now_ms); "$top_builddir/ballastctl" -t 5 -s "$T/s.sock" status >/dev/null 2>&1; ms=$(( $(now_ms) - t0 ))
	[ $ms -gt $BASE_MS ] && BASE_MS=$ms
	sleep 0.1
done
SLOW_MS=$(build_budget 500); [ $((4 * BASE_MS)) -gt "$SLOW_MS" ] && SLOW_MS=$((4 * BASE_MS))
[ "$SLOW_MS" -gt 4000 ] && SLOW_MS=4000
diag "ballastctl status: the slowest of 10 calls took $BASE_MS ms; the bound for every call below is $SLOW_MS ms"
wait_for 10 sh -c "[ \$(grep -c ' 500\$' '$T/conns') -ge 5 ]"
ok $? "retried: $(conns 500) attempts so far"
like "$(cut -f2 "$T/posts" | sort -u)" "^Bearer tok-1$" "each attempt with the bearer token from token_file"
like "$(head -n 1 "$T/posts" | cut -f3)" '"node":"node-h"' "and the document"
# the retries' delays as ballastd logs them: 250 ms doubling, +-20 % jitter, capped at interval_s
delays=$(sed -n 's/.*HTTP report to .*retrying in \([0-9]*\) ms\./\1/p' "$T/ballastd.log" | head -n 4 | tr '\n' ' ')
diag "backoff delays logged after the 2nd..5th failure: $delays ms"
bad=
k=0
for d in $delays; do
	want=$(( 500 << k )); [ $want -gt $((INTERVAL * 1000)) ] && want=$((INTERVAL * 1000))
	lo=$(( want * 8 / 10 )) hi=$(( want * 12 / 10 )); [ $hi -gt $((INTERVAL * 1000)) ] && hi=$((INTERVAL * 1000))
	[ "$d" -ge $lo ] && [ "$d" -le $hi ] || bad+=" $d (want $lo..$hi)"
	k=$((k + 1))
done
ok $([ $k = 4 ] && [ -z "$bad" ] && echo 0 || echo 1) "the delays double from 500 ms (+-20 %) up to interval_s ($INTERVAL s)${bad:+:$bad}"
gaps=$(awk '$2 == 500 { if (p) printf "%d ", $1 - p; p = $1 }' "$T/conns" | cut -d' ' -f1-4)
diag "the receiver saw the attempts $gaps ms apart"
g=($gaps)
# (each connection also starts a bash on the receiver's side: only the trend, robust to a loaded machine)
ok $([ ${#g[@]} -ge 4 ] && [ "${g[3]}" -ge $(( g[0] * 3 )) ] && echo 0 || echo 1) \
	"and so did the receiver: the 4th gap at least 3 times the 1st"

# ---------------------------------------------------------------------------------------------------------
# accepts and never answers: ballastd gives up after its 5 s timeout; the socket answers meanwhile
step "a receiver that never answers"
echo hang >"$T/mode"
calls0=$CALLS
wait_for 10 sh -c "grep -q ' hang\$' '$T/conns'"
ok $? "a connection to the receiver that never answers is open"
t_hang=$(now_ms)
status_until 10 "^Cluster: +http error to $URL: .*([Tt]imeout|timed out)"
okd $? "after ballastd's request timeout, the status says: $(http_line)" || diag_logs ballastd.log
diag "that took $(( $(now_ms) - t_hang )) ms after the connection was accepted"
ok $([ $((CALLS - calls0)) -ge 10 ] && [ $SLOW = 0 ] && echo 0 || echo 1) \
	"meanwhile $((CALLS - calls0)) status calls answered, none in $SLOW_MS ms or more (slowest so far $MAX_MS ms)"

# ---------------------------------------------------------------------------------------------------------
# closes the connection at once
echo close >"$T/mode"
n=$(conns close)
status_until 10 "^Cluster: +http error to $URL: .*(returned nothing|Empty reply|reset|Recv failure|receiving data|closed)"
okd $? "a connection closed at once: the status says: $(http_line)" || diag_logs ballastd.log
ok $([ "$(conns close)" -gt "$n" ] && echo 0 || echo 1) "the receiver did close $(conns close) connection(s)"
ok $(ours "$BD"; echo $?) "ballastd is alive"

# ---------------------------------------------------------------------------------------------------------
# 200: reports go through again
echo 200 >"$T/mode"
t0=$(now_ms)
status_until 10 "^Cluster: +http ok to $URL \(since "
okd $? "HTTP 200: the status says ok again ($(( $(now_ms) - t0 )) ms): $(http_line)" || diag_logs ballastd.log
like "$("$top_builddir/ballastctl" -s "$T/s.sock" -j status | tr -d ' \n')" '"http":\{[^}]*"last_status":200' "last_status 200"
is "$(grep -P '^200\t' "$T/posts" | head -n 1 | cut -f2)" "Bearer tok-1" "the accepted report carries the bearer token"
like "$(grep -P '^200\t' "$T/posts" | head -n 1 | cut -f3)" '"labels":\{"v":"1"\}' "and the document"
printf 'tok-2\n' >"$T/root/etc/ballast/token"
conf 2
t0=$(now_ms)
kill -HUP "$BD"
wait_for 2 sh -c "grep -P '^200\tBearer tok-2\t.*\"v\":\"2\"' '$T/posts'"
ok $? "a change (reload with a new label) is posted within $(time_budget_s 2) s ($(( $(now_ms) - t0 )) ms), with the token re-read: tok-2"
n=$(grep -c -P '^200\t' "$T/posts")
sleep $((INTERVAL + 1))
ok $([ "$(grep -c -P '^200\t' "$T/posts")" -gt "$n" ] && echo 0 || echo 1) "and again every interval_s ($INTERVAL s) when nothing changes"
status_until 2 "^Cluster: +http ok"
ok $? "still ok"
ok $([ $SLOW = 0 ] && echo 0 || echo 1) "ballastctl status answered within $SLOW_MS ms throughout (4 x the baseline $BASE_MS ms, at least 500 ms x the build): $CALLS calls, the slowest $MAX_MS ms"

t0=$(now_ms)
kill -TERM "$BD"
wait_for 3 gone
ok $? "SIGTERM with only an HTTP endpoint: exits at once ($(( $(now_ms) - t0 )) ms)"
wait "$BD"
is "$?" 0 "with status 0"
BD=
san=$(grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T/ballastd.log")
is "$san" "" "no sanitizer error"
done_testing
