#!/bin/bash
# ballast-run backoff: the crash-loop backoff rule, measured (no root, no Docker; about 7 s on a quiet machine:
# the delays grow with the time budget), and the CLI.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/lib.sh"

RUN=${BALLAST_RUN:-$top_builddir/ballast-run}
[ -x "$RUN" ] || bail "no ballast-run at $RUN (build first)"
command -v socat >/dev/null || bail "socat is not installed (the fake Engine API): apt-get install socat"

STATE=$(mktemp -d "${TMPDIR:-/tmp}/ballast-run-test.XXXXXX")
trap 'rm -rf "$STATE"' EXIT

ms() { echo $(( ${EPOCHREALTIME/./} / 1000 )); }
# The bounds, from this run: BASE is the slowest of three starts that do not sleep (first starts), measured
# here; what a start that does not sleep may take (QUICK) and what a sleep may overrun (SLACK) are 3 x that,
# and at least 300 ms (x3 with sanitizers: build_budget, tests/lib/lib.sh). DELAY is above QUICK,
# so that a sleep and no sleep cannot be mistaken for each other.
BASE=0
for i in 1 2 3; do
	t0=$(ms)
	"$RUN" backoff --name "base$i" --delay-ms 100 --state-dir "$STATE/base" 2>/dev/null
	t=$(( $(ms) - t0 ))
	[ "$t" -gt "$BASE" ] && BASE=$t
done
SLACK=$(build_budget 300); [ $((3 * BASE)) -gt "$SLACK" ] && SLACK=$((3 * BASE))
QUICK=$SLACK
DELAY=$(( (QUICK + 100 + 99) / 100 * 100 )); [ "$DELAY" -lt 400 ] && DELAY=400
MAX=$((4 * DELAY))
diag "a start that does not sleep took up to $BASE ms: QUICK=$QUICK SLACK=$SLACK DELAY=$DELAY MAX=$MAX (ms)"
# backoff [EXTRA...]: runs one start; sets took (ms) and rc
backoff() {
	local t0
	t0=$(ms)
	"$RUN" backoff --name web --delay-ms $DELAY --max-delay-ms $MAX --state-dir "$STATE/dir" "$@" 2>"$STATE/err"
	rc=$?
	took=$(( $(ms) - t0 ))
}
state_delay() { sed -n 's/^delay_ms=//p' "$STATE/dir/web"; }
# The rule is checked by what ballast-run decided (it logs "backing off N ms" before it sleeps, nothing when it
# does not) and by a lower bound on the time it took (a sleep cannot be shorter); an upper bound on wall clock
# is not checked: a loaded machine can stretch any step, and the decision is what the rule is about.
no_sleep() { ! grep -q 'backing off' "$STATE/err"; }
slept() { [ "$took" -ge "$1" ] && grep -q "backing off $1 ms" "$STATE/err"; }

# --- the rule ---
backoff
is "$rc" 0 "first start exits 0"
no_sleep; ok $? "first start: no sleep ($took ms)"
ok "$([ -f "$STATE/dir/web" ]; echo $?)" "the state file was created (with its directory)"
is "$(state_delay)" 0 "first start records delay 0"
like "$(cat "$STATE/dir/web")" '^start_usec=[0-9]+$' "the state records the start time"

backoff
slept $DELAY; ok $? "a quick restart sleeps delay_ms ($took ms, want ~$DELAY)"
is "$(state_delay)" $DELAY "and records it"
like "$(cat "$STATE/err")" "backing off $DELAY ms after a quick exit" "and says why it sleeps"

backoff
slept $((2 * DELAY)); ok $? "the next quick restart doubles it ($took ms, want ~$((2 * DELAY)))"
is "$(state_delay)" $((2 * DELAY)) "recorded doubled"

backoff
slept $MAX; ok $? "and again, up to the max ($took ms, want ~$MAX)"

backoff
slept $MAX; ok $? "never above max_delay_ms ($took ms, want ~$MAX)"
is "$(state_delay)" $MAX "the recorded delay stays at the max"

# "it ran a while": a previous start long enough ago (start + delay + 10 s <= now) resets the delay
printf 'start_usec=1\ndelay_ms=%s\n' $MAX > "$STATE/dir/web"
backoff
no_sleep; ok $? "after a run that lasted, no sleep ($took ms)"
is "$(state_delay)" 0 "and the delay is reset"
backoff
slept $DELAY; ok $? "a quick exit after that starts again at delay_ms ($took ms)"

# the same with real runs; the --stable-ms of the start being made decides. Arranged, not raced: a restart
# with --stable-ms 3600000 (an hour) is quick however slow the machine; then a run that lasts longer than its
# delay + 150 ms (its start is before its sleep, the wait after it) counts as stable with --stable-ms 150, where
# the default (10 s) would not
api() { "$RUN" backoff --name api --delay-ms $DELAY --max-delay-ms $MAX --stable-ms "$1" --state-dir "$STATE/dir" 2>"$STATE/err"; }
api 150
t0=$(ms); api 3600000; took=$(( $(ms) - t0 )); t1=$took
slept $DELAY; ok $? "--stable-ms: a quick restart sleeps ($t1 ms)"
sleep 0.3   # the run "lasts" its delay + 300 ms > its delay + 150
t0=$(ms); api 150; t1=$(( $(ms) - t0 ))
no_sleep; ok $? "--stable-ms: a run longer than delay + stable resets ($t1 ms)"

# a start recorded in the future (another boot's file in a persistent dir) counts as a first start
printf 'start_usec=99999999999999999\ndelay_ms=400\n' > "$STATE/dir/web"
backoff
no_sleep; ok $? "a start recorded in the future means no sleep ($took ms)"

# a corrupt state file is a first start, with a warning
echo garbage > "$STATE/dir/web"
backoff
is "$rc" 0 "a malformed state file is not fatal"
no_sleep; ok $? "and counts as a first start ($took ms)"
like "$(cat "$STATE/err")" "malformed" "with a warning"

# an unwritable state dir only loses the backoff
backoff --state-dir /proc/nonexistent
is "$rc" 0 "an unwritable state dir does not fail the start"

# max below delay: the sleep is bounded by the max (200 ms: above the floor of 100 ms a crash loop always waits)
printf 'start_usec=%s\ndelay_ms=0\n' "$(( $(cut -d' ' -f1 /proc/uptime | tr -d .)0000 ))" > "$STATE/dir/web"
backoff --delay-ms 1000 --max-delay-ms 200
slept 200; ok $? "the sleep never exceeds max_delay_ms ($took ms)"

# a stop during the sleep (systemd's SIGTERM to ExecStartPre=) ends it with status 0: killed by the signal
# instead, the start would count as failed and systemd would leave the stopped unit "failed" (Result=signal)
printf 'start_usec=%s\ndelay_ms=0\n' "$(( $(cut -d' ' -f1 /proc/uptime | tr -d .)0000 ))" > "$STATE/dir/web"
"$RUN" backoff --name web --delay-ms 60000 --max-delay-ms 60000 --state-dir "$STATE/dir" 2>"$STATE/err" &
pid=$!
wait_for 10 grep -q 'backing off 60000 ms' "$STATE/err"
ok $? "a quick restart with a 60 s delay sleeps"
t0=$(ms); kill -TERM "$pid"; wait "$pid"; rc=$?; took=$(( $(ms) - t0 ))
is "$rc" 0 "SIGTERM during the sleep: exits 0"
ok $(( took < 30000 ? 0 : 1 )) "at once, not after its 60 s ($took ms)"
like "$(cat "$STATE/err")" "Stop requested during the backoff of web" "and says so"

# --- the command line ---
out=$("$RUN" --help); rc=$?
is "$rc" 0 "--help exits 0"
like "$out" "backoff" "--help describes backoff"
like "$out" "--ready-timeout" "--help describes --ready-timeout"
like "$out" "Exit status" "--help describes the exit status"
"$RUN" backoff --name web --bogus >/dev/null 2>&1; is $? 2 "an unknown option exits 2"
"$RUN" frobnicate --name web >/dev/null 2>&1; is $? 2 "an unknown command exits 2"
"$RUN" backoff --delay-ms 5 >/dev/null 2>&1; is $? 2 "a missing --name exits 2"
"$RUN" backoff --name 'Web/../x' >/dev/null 2>&1; is $? 2 "an invalid name exits 2"
"$RUN" backoff --name web --delay-ms 5x >/dev/null 2>&1; is $? 2 "a bad number exits 2"
"$RUN" backoff --name web --body /x >/dev/null 2>&1; is $? 2 "an option of the other command exits 2"
"$RUN" docker --name web >/dev/null 2>&1; is $? 2 "docker without --body exits 2"
out=$("$RUN" docker --name web --body /x --restart sometimes 2>&1); rc=$?
is "$rc" 2 "docker with an unknown --restart policy exits 2"
like "$out" "invalid --restart 'sometimes' \(always, on-failure or no\)" "naming the policies"
"$RUN" backoff --name web --net-body /x >/dev/null 2>&1; is $? 2 "backoff does not take --net-body"
"$RUN" docker --name web --body /x --pause rel/p >/dev/null 2>&1; is $? 2 "a relative --pause exits 2"
out=$("$RUN" docker --name web --body "$STATE/nope.json" 2>&1); rc=$?
is "$rc" 1 "docker with a missing body file fails"
like "$out" "nope.json does not exist" "with a clear message"
echo '{"Image": ' > "$STATE/bad.json"
out=$("$RUN" docker --name web --body "$STATE/bad.json" 2>&1)
like "$out" "bad.json:[0-9]+:[0-9]+: not JSON" "an invalid body says where"

# --- API version negotiation, against a fake Engine API (socat + a shell responder) ---
cat > "$STATE/fake-docker.sh" <<-'EOF'
#!/bin/bash
# one HTTP request per connection: log its request line, answer /version with $VERSION_JSON, else 500
IFS= read -r line; line=${line%$'\r'}
echo "$line" >> "$FAKE_LOG"
while IFS= read -r h && [ -n "${h%$'\r'}" ]; do :; done
case "$line" in
"GET /version "*) status="200 OK" body=$VERSION_JSON ;;
*) status="500 Internal Server Error" body='{"message":"fake engine says no"}' ;;
esac
printf 'HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
	"$status" "${#body}" "$body"
EOF
chmod +x "$STATE/fake-docker.sh"
printf '{"Image":"x","Labels":{"io.ballast.hash":"h"}}' > "$STATE/body.json"
# negotiate MAX MIN: runs ballast-run against an engine that speaks 1.MAX down to 1.MIN; sets out, rc, log
negotiate() {
	local sock=$STATE/docker.sock pid
	rm -f "$sock"; : > "$STATE/fake.log"
	FAKE_LOG=$STATE/fake.log VERSION_JSON="{\"ApiVersion\":\"1.$1\",\"MinAPIVersion\":\"1.$2\"}" \
		socat UNIX-LISTEN:"$sock",fork EXEC:"$STATE/fake-docker.sh" 2>/dev/null &
	pid=$!
	wait_for 5 test -S "$sock"
	out=$("$RUN" docker --name web --body "$STATE/body.json" --docker-socket "$sock" --control-socket "" \
		--docker-timeout 2 2>&1)
	rc=$?
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
	log=$(cat "$STATE/fake.log")
}
negotiate 41 12
like "$log" "^GET /version HTTP" "the version is asked first, unversioned"
like "$log" "GET /v1\.41/containers/ballast-web/json" "Docker 20.10 (API 1.41): speaks 1.41"
is "$rc" 125 "an Engine API error exits 125"
like "$out" "Cannot inspect ballast-web: fake engine says no" "with Docker's message"
negotiate 52 44
like "$log" "GET /v1\.47/containers/ballast-web/json" "Docker 29 (API 1.52, min 1.44): speaks our newest, 1.47"
negotiate 60 50
like "$log" "GET /v1\.50/containers/ballast-web/json" "an engine whose oldest (1.50) is above our newest: speaks 1.50"
like "$out" "newer than ours" "with a warning"
negotiate 20 12
is "$rc" 125 "an engine older than API 1.24 is refused"
like "$out" "older than the oldest we speak" "saying so"

done_testing
