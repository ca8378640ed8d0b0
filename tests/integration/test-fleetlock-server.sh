#!/bin/bash
# tests/helpers/fleetlock-server (the FleetLock lock server the other tests use) against curl, on loopback: airlock's
# answers, one slot, recursive locking, ownership, the state file. No root, about a second.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/lib.sh"

SERVER=$top_builddir/tests/helpers/fleetlock-server
[ -x "$SERVER" ] || bail "no fleetlock-server at $SERVER (make check builds it)"
command -v curl >/dev/null || bail "curl is not installed (tools/deps.sh installs it)"

T=$(mktemp -d "${TMPDIR:-/tmp}/fleetlock-server-test.XXXXXX")
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

# start ARGS...: starts the server, sets pid and port
start() {
	mkfifo "$T/port.fifo"
	"$SERVER" "$@" > "$T/port.fifo" 2>>"$T/server.log" &
	pid=$!
	port=
	read -r -t 10 port < "$T/port.fifo"
	rm -f "$T/port.fifo"
	[ -n "$port" ]
}
stop() { kill "$pid"; wait "$pid"; local rc=$?; pid=; return $rc; }

# post PATH ID [GROUP] [CURL-ARGS...]: sets code and body
post() {
	local path=$1 id=$2 group=${3-default}; shift $(( $# < 3 ? $# : 3 ))
	body=$(curl -sS -o - -w '\n%{http_code}' -X POST -H 'fleet-lock-protocol: true' "$@" \
		--data "{\"client_params\":{\"id\":\"$id\",\"group\":\"$group\"}}" "http://127.0.0.1:$port$path")
	code=${body##*$'\n'}
	body=${body%$'\n'*}
}

start --slots 1 --state "$T/state"; ok $? "started on port 0, printed the port it got ($port)"
is "$(cat "$T/state")" "" "the state file exists, no holder"

post /v1/pre-reboot node-a
is "$code" 200 "pre-reboot by node-a: the free slot is taken, 200"
is "$body" "" "with an empty body"
is "$(cat "$T/state")" "node-a default" "the state file says node-a holds it"
post /v1/pre-reboot node-a
is "$code" 200 "pre-reboot by node-a again: 200 (recursive lock)"
post /v1/pre-reboot node-b
is "$code" 500 "pre-reboot by node-b while node-a holds the one slot: 500, as airlock"
is "$body" '{"kind":"failed_lock","value":"all 1 semaphore slots currently locked"}'$'\n' "airlock's error document (with http.Error's newline)"
is "$(cat "$T/state")" "node-a default" "node-a still holds it"
post /v1/pre-reboot node-c other
is "$code" 200 "another group has slots of its own: 200"
is "$(cat "$T/state")" "node-a default
node-c other" "the state lists both holders, one line each"
post /v1/steady-state node-b
is "$code" 200 "steady-state by node-b, not a holder: 200 (UnlockIfHeld)"
is "$(head -1 "$T/state")" "node-a default" "node-a still holds it"
post /v1/steady-state node-a
is "$code" 200 "steady-state by node-a: released, 200"
is "$(cat "$T/state")" "node-c other" "node-a is gone from the state"
post /v1/pre-reboot node-b
is "$code" 200 "now node-b gets the slot"

code=$(curl -sS -o "$T/out" -w '%{http_code}' -X POST \
	--data '{"client_params":{"id":"x","group":"default"}}' "http://127.0.0.1:$port/v1/pre-reboot")
is "$code" 400 "no fleet-lock-protocol header: 400"
is "$(cat "$T/out")" '{"kind":"invalid_client_identity","value":"failed to validate client identity: wrong '"'"'fleet-lock-protocol'"'"' header"}' \
	"airlock's error document"
post /v1/pre-reboot "" default
is "$code" 400 "an empty id: 400"
like "$body" '"value":"failed to validate client identity: empty client ID"' "says so"
post /v1/pre-reboot node-d ""
is "$code" 400 "an empty group: 400"
post /v1/pre-reboot node-d default -H 'Content-Type: application/json' --data-raw ' x'
is "$code" 400 "a body that is not JSON: 400"
post /v1/lock node-a
is "$code" 404 "another path: 404"
stop; ok $? "SIGTERM: exits 0"

start --slots 2 --group workers; ok $? "started with two slots and one group"
post /v1/pre-reboot w1 workers; is "$code" 200 "first slot"
post /v1/pre-reboot w2 workers; is "$code" 200 "second slot"
post /v1/pre-reboot w3 workers; is "$code" 500 "no third"
is "$body" '{"kind":"failed_lock","value":"all 2 semaphore slots currently locked"}'$'\n' "the count in the message"
post /v1/pre-reboot w1 default; is "$code" 400 "a group not configured: 400"
is "$body" '{"kind":"unknown_group","value":"unknown group \"default\""}'$'\n' "airlock's unknown_group"
stop

"$SERVER" --slots 0 2>"$T/err"; is "$?" 2 "--slots 0: refused"
like "$(cat "$T/err")" 'slots' "and says which option"

done_testing
