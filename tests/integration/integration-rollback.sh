#!/bin/bash
# Updates gated by health, and rollback, in the sandbox (real systemd and dockerd): a good update (a new image
# tag and command) replaces the running version once it is healthy; a bad update (its health check never
# passes) is rolled back by itself, the old version answers again, the journal says why (with its MESSAGE_ID),
# inspect shows the rollback and the failed spec is kept; `ballastctl rollback` goes back by hand, and refuses
# (exit 4) when no earlier spec is kept; a kill -9 of ballastd in the middle of an update ends, after its
# restart, with one version running, healthy and no update pending; ballastd stopped (SIGTERM) while the new
# version starts does not roll it back, and the next ballastd finishes it. A service without a health check: its
# update is over once the new version ran 10 s (a kill -9 of ballastd in between included); one that exits 2 s in
# is rolled back; a restart by hand, or a clean exit of a service not restarted after one, is not a failure. For
# each update the gap during which the service did not answer on its port is measured (a poller inside the
# sandbox, every 50 ms) and reported.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/sandbox.sh"
. "$here/../lib/lib.sh"

SB_DIR=$(mktemp -d /var/tmp/ballast-it-rollback.XXXXXX)
trap 'touch "/proc/${SANDBOX_PID:-0}/root/tmp/poll.stop" 2>/dev/null; sandbox_stop "$SB_DIR" --purge >/dev/null 2>&1; rm -rf "$SB_DIR"' EXIT
sandbox_start "$SB_DIR" --docker || bail "cannot start the sandbox"
ballast_install || bail "cannot install ballast into the sandbox"
need jq
need curl
root=/proc/$SANDBOX_PID/root
S=/var/lib/ballast
PORT=18097
sb systemctl start ballastd.socket
bctl status >/dev/null
wait_for 10 sh -c "nsenter -t $SANDBOX_PID -a -r -w journalctl --no-pager -u ballastd.service | grep -q 'cgroup driver'" ||
	bail "ballastd did not learn Docker's cgroup driver"
now_ms() { date +%s%3N; }
journal() { sb journalctl --no-pager -o cat "$@"; }
body() { sb curl -s -m 1 "http://127.0.0.1:$PORT/" 2>/dev/null; }
serves() { [ "$(body)" = "$1" ]; }
# pins NAME FILTER: jq's FILTER on `ballastctl inspect NAME`; insp is web's
pins() { bctl -j inspect "$1" | jq -r "$2"; }
insp() { pins web "$1"; }
upd() { pins "$1" '.status.update.state // "none"'; }
upd_over() { [ "$(upd "$1")" = none ]; }
no_update() { upd_over web; }
failed_rev() { pins "$1" '.status.last_rollback.failed_revision // 0'; }
rolled_from() { [ "$(failed_rev "$1")" = "$2" ]; }
rc() { "$@" >/dev/null 2>&1; echo $?; }

sb /usr/bin/docker tag local/busybox:latest local/web:v1 || bail "docker tag"
sb /usr/bin/docker tag local/busybox:latest local/web:v2 || bail "docker tag"
sb mkdir -p /tmp/specs
# spec NAME-OF-FILE TAG TEXT HEALTHY: httpd serves TEXT; the health check passes when HEALTHY is yes, from about
# 4 s after the start when it is late (the start job is in flight that long), never when it is no
spec() {
	local ok=""
	[ "$4" = yes ] && ok=" && touch /www/ok"
	[ "$4" = late ] && ok=" && { (sleep 4; touch /www/ok) & }"
	cat >"$root/tmp/specs/$1.json" <<JSON
{"name": "web", "image": "local/web:$2",
 "command": ["/bin/sh", "-c", "mkdir -p /www && echo $3 > /www/index.html$ok && exec httpd -f -p 8080 -h /www"],
 "ports": [{"host": $PORT, "container": 8080}],
 "restart": {"policy": "always", "delay_ms": 200, "max_delay_ms": 1000},
 "health": {"cmd": ["/bin/test", "-f", "/www/ok"], "interval_ms": 2000, "timeout_ms": 1500, "retries": 3,
            "start_period_ms": 3000, "start_interval_ms": 250}}
JSON
}
spec v1 v1 one yes
spec v2 v2 two yes
spec bad v2 bad no

# the poller: one line per attempt, "MS BODY" or "MS -", until /tmp/poll.stop exists
poll_start() {
	sb rm -f /tmp/poll.stop /tmp/poll.out
	sb sh -c "while [ ! -e /tmp/poll.stop ]; do t=\$(date +%s%3N); b=\$(curl -s -m 0.5 http://127.0.0.1:$PORT/) && echo \"\$t \$b\" || echo \"\$t -\"; sleep 0.05; done > /tmp/poll.out" &
	POLLER=$!
	wait_for 10 sh -c "grep -q ' one\| two' $root/tmp/poll.out"
}
# prints the longest time (ms) between two answers, and what was answered in between
poll_stop() {
	touch "$root/tmp/poll.stop"
	wait "$POLLER" 2>/dev/null
	awk '$2 != "-" { if (last != "" && $1 - last > gap) gap = $1 - last; last = $1; seen[$2] = 1 }
	     END { printf "%d", gap; for (b in seen) printf " %s", b; print "" }' "$root/tmp/poll.out"
}

step "first apply"
t0=$(now_ms)
bctl -t 120 apply --wait /tmp/specs/v1.json >/dev/null
ok $? "v1 applied, up and healthy"
START_MS=$(( $(now_ms) - t0 ))
diag "a first start took $START_MS ms"
wait_for 10 serves one
ok $? "v1 answers on its port"
is "$(insp .status.revision)" 1 "its spec is kept as revision 1"
is "$(sb stat -c %a "$S/history/web/1.json")" 600 "the kept spec is 0600"
is "$(sb stat -c %a "$S/history/web")" 700 "in a 0700 directory"
# an update's budget: a measured start, twice (the old version stops, the new starts), plus the health
# check's grace (start period 3 s + 3 x (2 + 1.5) s), scaled by the run's factor
UPDATE_S=$(( (2 * START_MS + 13500) / 1000 + $(time_budget_s 10) ))
diag "budget of an update: $UPDATE_S s"

step "good update"
poll_start
bctl -t "$UPDATE_S" apply --wait /tmp/specs/v2.json >/dev/null
ok $? "v2 applied: replaced and healthy (apply --wait)"
wait_for "$UPDATE_S" serves two
ok $? "v2 answers on its port"
GOOD=$(poll_stop)
GOOD_GAP=${GOOD%% *}
diag "good update: the port did not answer for $GOOD_GAP ms (answers seen:${GOOD#* })"
wait_for 10 no_update
ok $? "no update pending once v2 is healthy"
is "$(insp .status.revision)" 2 "revision 2"
like "$(journal -u ballastd.service | grep 'Updated web')" "Updated web to revision 2: it is healthy" \
	"the journal says the update is done"
is "$(insp '.status.last_rollback // "none"')" none "no rollback"

step "bad update"
poll_start
t0=$(now_ms)
bctl apply /tmp/specs/bad.json >/dev/null
ok $? "the bad spec is applied"
wait_for "$UPDATE_S" rolled_from web 3
ok $? "rolled back by itself"
wait_for "$UPDATE_S" serves two
ok $? "the old version (v2) answers again"
ROLL_MS=$(( $(now_ms) - t0 ))
BAD=$(poll_stop)
BAD_GAP=${BAD%% *}
diag "bad update: rolled back and serving again $ROLL_MS ms after the apply; the port did not answer for $BAD_GAP ms (answers seen:${BAD#* })"
is "$(insp .status.last_rollback.restored_revision)" 2 "inspect: revision 2 restored"
is "$(insp .status.last_rollback.by)" auto "  by ballastd"
like "$(insp .status.last_rollback.reason)" "health|start failed" "  with the reason: $(insp .status.last_rollback.reason)"
ok "$([ "$(insp .status.last_rollback.at_usec)" -gt 0 ]; echo $?)" "  and its time"
is "$(insp .status.revision)" 2 "the service is at revision 2"
failed=$(insp .status.last_rollback.failed_spec)
is "$failed" "$S/history/web/3.failed.json" "the failed spec is kept"
like "$(sb cat "$failed")" "echo bad" "  and it is the bad one"
is "$(sb stat -c %a "$failed")" 600 "  mode 0600"
like "$(sb journalctl --no-pager -o cat MESSAGE_ID=5d3f5c1a2e0b4d6f9a7c8e1b2d3f4a5a)" \
	"Rolled web back from revision 3 to 2: .+" "the journal says why, with the rollback's MESSAGE_ID"
like "$(sb cat "$S/services/web.json")" "echo two" "the applied spec on disk is the old one again"
healthy() { [ "$(insp .status.health)" = healthy ]; }
wait_for "$UPDATE_S" healthy
ok $? "and it is healthy"

step "rollback by hand"
is "$(rc bctl rollback nosuch)" 4 "rollback of an unknown service: exit 4"
out=$(bctl -t 30 rollback web)
ok $? "ballastctl rollback web"
is "$out" "web: rolled back from revision 2 to 1" "  says from which revision to which"
wait_for "$UPDATE_S" serves one
ok $? "v1 answers again"
is "$(insp .status.last_rollback.by)" hand "inspect: rolled back by hand"
is "$(insp .status.revision)" 1 "revision 1"
out=$(bctl rollback web 2>&1)
is "$?" 4 "no earlier spec kept: exit 4"
is "$out" "ballastctl rollback: web has no earlier spec kept to roll back to" "  with a clear error"
wait_for "$UPDATE_S" healthy
ok $? "v1 is healthy"

step "kill -9 during an update"
bctl apply /tmp/specs/v2.json >/dev/null
ok $? "v2 applied again"
starting() { [ "$(insp '.status.update.state // "none"')" = starting ]; }
wait_for "$UPDATE_S" starting
ok $? "its restart is under way"
pid=$(sb systemctl show -P MainPID ballastd.service)
sb kill -9 "$pid"
gone() { ! sb kill -0 "$pid" 2>/dev/null; }
wait_for 10 gone
ok $? "ballastd killed (-9) in the middle of the update"
bctl -t 30 status >/dev/null
ok $? "ballastd is back (socket activation)"
settled() { no_update && healthy && [ "$(sb systemctl is-active ballast-web.service)" = active ]; }
wait_for $(( 2 * UPDATE_S )) settled
ok $? "the update is finished or abandoned: none pending, the service active and healthy"
final=$(body)
like "$final" "^(one|two)$" "and it answers ($final)"
rev=$(insp .status.revision)
want=$([ "$final" = two ] && echo "local/web:v2" || echo "local/web:v1")
is "$(insp .status.image)" "$want" "the spec in use (revision $rev) is the one that answers"

step "ballastd stopped during an update"
# v3's health check passes only ~4 s after its start (late): its start job is in flight that long. ballastd stopped
# then hears "disconnected" for it as its bus closes: no verdict, so no rollback; the next ballastd finishes it.
spec v3 v1 three late
rollbacks() { journal MESSAGE_ID=5d3f5c1a2e0b4d6f9a7c8e1b2d3f4a5a | grep -c 'Rolled web back'; }
r0=$(rollbacks)
bctl apply /tmp/specs/v3.json >/dev/null
ok $? "v3 applied"
wait_for "$UPDATE_S" starting
ok $? "its restart is under way"
sb systemctl stop ballastd.service
is "$(sb systemctl show -P Result ballastd.service) $(sb systemctl show -P ExecMainStatus ballastd.service)" "success 0" \
	"ballastd stopped (SIGTERM) in the middle of the update exits cleanly"
is "$(rollbacks)" "$r0" "it did not roll the update back on its way out"
like "$(sb cat "$S/services/web.json")" "echo three" "the applied spec on disk is still v3"
bctl -t 30 status >/dev/null
ok $? "ballastd is back (socket activation)"
wait_for $(( 2 * UPDATE_S )) settled
ok $? "the update is finished: none pending, the service active and healthy"
wait_for 10 serves three
ok $? "v3 answers"
is "$(insp .status.image) $(rollbacks)" "local/web:v1 $r0" "v3's spec is in use, and still no rollback"

step "a service without a health check: its new version must run 10 s"
# pspec FILE NAME POLICY SHELL-CMD: a Docker service with no health check
pspec() {
	cat >"$root/tmp/specs/$1.json" <<JSON
{"name": "$2", "image": "local/web:v1", "command": ["/bin/sh", "-c", "$4"],
 "restart": {"policy": "$3", "delay_ms": 200, "max_delay_ms": 1000}}
JSON
}
# µs: when the unit last entered "active" (systemd's own clock), and when the journal says the update is done
entered_us() { sb busctl get-property org.freedesktop.systemd1 "/org/freedesktop/systemd1/unit/ballast_2d$1_2eservice" \
	org.freedesktop.systemd1.Unit ActiveEnterTimestamp | awk '{ print $2 }'; }
done_us() { journal -u ballastd.service -o json | jq -r "select(.MESSAGE | test(\"Updated $1 to revision $2:\")) | .__REALTIME_TIMESTAMP" | tail -1; }
pspec p1 plain always "exec sleep 3600"
pspec p2 plain always "exec sleep 3601"
pspec p3 plain always "sleep 2; exit 3"
pspec p4 plain always "exec sleep 3602"
bctl -t "$UPDATE_S" apply --wait /tmp/specs/p1.json >/dev/null
ok $? "plain (no health check) applied and up"
bctl -t "$UPDATE_S" apply --wait /tmp/specs/p2.json >/dev/null
ok $? "an update of plain: the new version is up (apply --wait)"
is "$(upd plain)" checking "the update is not over when the new version is up (no check says it works)"
wait_for $(( UPDATE_S + 10 )) upd_over plain
ok $? "it is over once the new version ran a while"
like "$(journal -u ballastd.service | grep 'Updated plain to revision 2')" \
	"Updated plain to revision 2: it ran 10000 ms without exiting" "the journal says why it is done"
enter=$(entered_us plain) done=$(done_us plain 2)
ok "$([ -n "$enter" ] && [ -n "$done" ] && [ "$done" -ge $(( enter + 10000000 )) ]; echo $?)" \
	"not before the new version ran 10 s (entered active at $enter, done at $done)"
is "$(failed_rev plain)" 0 "no rollback"

bctl apply /tmp/specs/p3.json >/dev/null
ok $? "an update of plain to a version that exits 2 s after its start"
wait_for $(( UPDATE_S + 10 )) rolled_from plain 3
ok $? "rolled back by itself"
like "$(pins plain .status.last_rollback.reason)" "exited within 10000 ms of its start .*status 3" \
	"  with the reason: $(pins plain .status.last_rollback.reason)"
like "$(sb cat "$S/services/plain.json")" "sleep 3601" "the applied spec on disk is the old one again"
plain_up() { [ "$(sb systemctl is-active ballast-plain.service)" = active ] && sb docker top ballast-plain 2>/dev/null | grep -q 'sleep 3601'; }
wait_for "$UPDATE_S" plain_up
ok $? "and the old version runs again"
is "$(upd plain)" none "no update pending"

bctl -t "$UPDATE_S" apply --wait /tmp/specs/p4.json >/dev/null
ok $? "an update of plain to a good version (revision 4)"
bctl -t "$UPDATE_S" restart plain >/dev/null
ok $? "restarted by hand (ballastctl restart) within its first 10 s"
wait_for $(( UPDATE_S + 10 )) upd_over plain
ok $? "the update is over"
is "$(failed_rev plain)" 3 "a restart by hand is not a failure: no new rollback"
like "$(journal -u ballastd.service | grep 'Updated plain to revision 4')" "it ran 10000 ms without exiting" \
	"the journal says revision 4 ran 10 s"

bctl -t "$UPDATE_S" apply --wait /tmp/specs/p2.json >/dev/null
ok $? "an update of plain again (revision 5)"
pid=$(sb systemctl show -P MainPID ballastd.service)
sb kill -9 "$pid"
wait_for 10 gone
ok $? "ballastd killed (-9) while the new version runs its first 10 s"
bctl -t 30 status >/dev/null
ok $? "ballastd is back (socket activation)"
wait_for $(( UPDATE_S + 10 )) upd_over plain
ok $? "the next ballastd finishes the update"
enter=$(entered_us plain) done=$(done_us plain 5)
ok "$([ -n "$enter" ] && [ -n "$done" ] && [ "$done" -ge $(( enter + 10000000 )) ]; echo $?)" \
	"once the new version ran 10 s (entered active at $enter, done at $done)"
is "$(failed_rev plain)" 3 "no new rollback"

pspec b1 batch on-failure "exec sleep 3600"
pspec b2 batch on-failure "sleep 1; exit 0"
bctl -t "$UPDATE_S" apply --wait /tmp/specs/b1.json >/dev/null
ok $? "batch (restart on-failure, no health check) applied"
bctl apply /tmp/specs/b2.json >/dev/null
ok $? "an update of batch to a version that does its work and exits 0 after 1 s"
wait_for $(( UPDATE_S + 10 )) upd_over batch
ok $? "the update is over"
like "$(journal -u ballastd.service | grep 'Updated batch to revision 2')" "it ran to a clean exit" \
	"a clean exit of a service not restarted after one is not a failure"
is "$(failed_rev batch)" 0 "no rollback"

diag "figures: good update gap ${GOOD_GAP} ms; rolled-back update gap ${BAD_GAP} ms (serving the old version again ${ROLL_MS} ms after the apply)"
done_testing
