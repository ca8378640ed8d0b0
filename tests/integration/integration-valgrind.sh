#!/bin/bash
# ballastd under valgrind memcheck, started by the sandbox's systemd (drop-in ExecStart=valgrind ...), through a
# scenario that exercises most of it: a Docker service with an HTTP health check, a health check that fails and
# restarts it, a cmd check run in the container, an exec service with a child-process check, dockerd restarted,
# SIGHUP, drain and undrain, rm, then a clean stop. valgrind must report no error and no definite or indirect leak.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/sandbox.sh"
. "$here/../lib/lib.sh"

command -v valgrind >/dev/null || bail "valgrind is not installed (tools/deps.sh installs it)"
if ballast_sanitized; then
	bail "this build is an ASan/UBSan build; valgrind needs a plain one (tools/test.sh runs this test there)"
fi

SB_DIR=$(mktemp -d /var/tmp/ballast-it-valgrind.XXXXXX)
trap 'sandbox_stop "$SB_DIR" --purge >/dev/null 2>&1; rm -rf "$SB_DIR"' EXIT
LOG=$SB_DIR/valgrind.log
# valgrind translates code at run time (no MemoryDenyWriteExecute=), needs system calls that @system-service does
# not have, and several times the memory; everything else of the unit stays as it is.
EXTRA_DROPIN="ExecStart=
ExecStart=/usr/bin/valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect --track-origins=yes --error-exitcode=99 --child-silent-after-fork=yes --log-file=$LOG $BALLAST_BIN/ballastd --log-level debug
MemoryDenyWriteExecute=no
SystemCallFilter=
SystemCallErrorNumber=
MemoryHigh=infinity
MemoryMax=infinity
ReadWritePaths=$SB_DIR
# valgrind's own temporary files: /tmp is the host's in the sandbox (PrivateTmp=no) and read-only here
Environment=TMPDIR=$SB_DIR
TimeoutStartSec=60
TimeoutStopSec=60
WatchdogSec=0"
sandbox_start "$SB_DIR" --docker || bail "cannot start the sandbox"
ballast_install || bail "cannot install ballast into the sandbox"
need curl
sb systemctl start ballastd.socket
SPECS=$SB_DIR/specs
mkdir -p "$SPECS"
prop() { sb systemctl show -P "$1" "$2"; }

out=$(bctl -t 60 status 2>&1)
like "$out" "^Node: " "ballastd starts under valgrind (socket activation) and answers"
like "$(sb cat "/proc/$(prop MainPID ballastd.service)/cmdline" | tr '\0' ' ')" "^/usr/bin/valgrind(\.bin)? .*/ballastd" \
	"it is valgrind that runs it"
wait_for 30 sh -c "nsenter -t $SANDBOX_PID -a -r -w $BALLAST_BIN/ballastctl --json status | tr -d ' \n' | grep -q '\"waiting_for\":\[\]'"
ok $? "it connects to systemd and Docker"

# Checks are given a long start grace (retries × interval): valgrind slows ballastd about 20×, and CI machines are
# busy; a first check must not fail the start only because the machine is slow.
cat > "$SPECS/web.json" <<'JSON'
{"name": "web", "image": "local/busybox:latest",
 "command": ["/bin/sh", "-c", "mkdir -p /www && echo ok > /www/health && exec httpd -f -p 8080 -h /www"],
 "ports": [{"host": 18080, "container": 8080}],
 "resources": {"memory": "64M", "cpu": 0.5},
 "restart": {"policy": "always", "delay_ms": 100, "max_delay_ms": 2000},
 "health": {"http": "http://127.0.0.1:18080/health", "interval_ms": 1000, "timeout_ms": 900, "retries": 6}}
JSON
cat > "$SPECS/cmdcheck.json" <<'JSON'
{"name": "cmdcheck", "image": "local/busybox:latest", "command": ["/bin/sleep", "100000"],
 "health": {"cmd": ["/bin/true"], "interval_ms": 1000, "timeout_ms": 900, "retries": 6}}
JSON
cat > "$SPECS/child.json" <<'JSON'
{"name": "child", "runtime": "exec", "command": ["/bin/sleep", "100000"],
 "health": {"cmd": ["/bin/true"], "interval_ms": 1000, "timeout_ms": 900, "retries": 6}}
JSON
answers() { sb curl -sf -m 0.5 -o /dev/null http://127.0.0.1:18080/health; }
healthy() { sb "$BALLAST_BIN/ballastctl" ps | grep -Eq "^$1 .* healthy"; }

out=$(bctl -t 60 apply --wait "$SPECS/web.json" "$SPECS/cmdcheck.json" "$SPECS/child.json" 2>&1)
like "$out" "web: active" "a Docker service with an HTTP check is applied" || diag "$out"
for s in web cmdcheck child; do
	wait_for 30 healthy $s
	ok $? "$s is healthy (its check ran in ballastd under valgrind)"
done
like "$(bctl inspect web)" '"status": "running"' "GetService asks Docker"

pid0=$(prop MainPID ballast-web.service)
sb /usr/bin/docker exec ballast-web rm /www/health
wait_for 30 sh -c "[ \"\$(nsenter -t $SANDBOX_PID -a -r -w systemctl show -P MainPID ballast-web.service)\" != $pid0 ]"
ok $? "a failing health check restarts the unit"
wait_for 30 answers
ok $? "and it answers again"

sb systemctl restart docker.service
wait_for 40 answers
ok $? "dockerd restarted: the service is back"
wait_for 30 healthy cmdcheck
ok $? "and the cmd check in the container passes again"

sb systemctl reload ballastd.service
wait_for 20 sh -c "nsenter -t $SANDBOX_PID -a -r -w journalctl --no-pager -u ballastd BALLAST_EVENT=reloaded | grep -q ."
ok $? "SIGHUP: reloaded"

like "$(bctl -t 60 drain 2>&1)" "drained" "drain stops every service"
is "$(prop ActiveState ballast-web.service)" inactive "web is stopped"
like "$(bctl -t 60 undrain 2>&1)" "." "undrain"
wait_for 40 answers
ok $? "and web runs again"

check "rm web" -- bctl -t 60 rm web
check "rm cmdcheck" -- bctl -t 60 rm cmdcheck
check "rm child" -- bctl -t 60 rm child

sb systemctl stop ballastd.service
is "$(prop Result ballastd.service)" success "ballastd stops cleanly under valgrind (exit status 0, not valgrind's 99)"

summary=$(grep -E "ERROR SUMMARY|definitely lost|indirectly lost|All heap blocks were freed" "$LOG")
diag "valgrind: $(printf '%s' "$summary" | sed 's/^==[0-9]*== *//' | tr '\n' ';')"
like "$(grep 'ERROR SUMMARY' "$LOG")" "ERROR SUMMARY: 0 errors" "valgrind: no memory error" ||
	sed -n '1,/HEAP SUMMARY/p' "$LOG" | head -80 | sed 's/^/# /'
like "$summary" "definitely lost: 0 bytes|All heap blocks were freed|no leaks are possible" \
	"valgrind: nothing definitely lost" || grep -A15 "definitely lost in" "$LOG" | head -60 | sed 's/^/# /'
ok $(grep -q "indirectly lost: [1-9]" "$LOG"; echo $((! $?))) "valgrind: nothing indirectly lost"
done_testing
