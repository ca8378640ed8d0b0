#!/bin/bash
# ballast-run docker against a real systemd and a real dockerd (the sandbox of tests/lib/sandbox.sh):
# start → READY → port answers; docker kill → systemd restarts the unit; stop → container stopped, exit 0;
# reuse of a stopped container, replacement of a stale or changed one; the container's exit code reaches
# systemd; readiness through a fake ballastd (ready, unhealthy, container death while waiting, SIGTERM
# while waiting); Docker restarting under a running unit. Prints the restart figures as TAP diagnostics.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/sandbox.sh"
. "$here/../lib/lib.sh"

ballast_run_sandbox_start run ballast-pause
PORT=18080
# A run shorter than --stable-ms (+ the delay) is a quick exit. The interleavings are arranged, not raced: the
# quick exit is a kill of a run whose unit says --stable-ms QUICK_STABLE_MS (far longer than the test), so it is
# quick however slow the machine; the runs that must count as stable are killed after a sleep of more than
# STABLE_MS (+ the delay) from the moment they answered, which follows their start.
STABLE_MS=1000
QUICK_STABLE_MS=3600000
SETTLE_S=$(awk -v m="$STABLE_MS" 'BEGIN { printf "%.1f", (m + 500) / 1000 }')

# body NAME HASH CMD-JSON [PORT]: the create body, shaped like units.c's container_create_body(), and the
# network holder's, like container_holder_body() (its hash only needs to be stable here)
body() {
	local ports='{}' bind='{}'
	if [ -n "${4:-}" ]; then
		ports='{"8080/tcp":{}}'
		bind="{\"8080/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"$4\"}]}"
	fi
	cat > "$ROOT$BODIES/$1.json" <<-EOF
	{"Image":"local/busybox:latest","Cmd":$3,"Env":[],
	 "Labels":{"io.ballast.service":"$1","io.ballast.unit":"ballast-$1.service","io.ballast.hash":"$2"},
	 "ExposedPorts":$ports,
	 "HostConfig":{"RestartPolicy":{"Name":"no"},"PortBindings":$bind,
	   "LogConfig":{"Type":"local"},"Init":false}}
	EOF
	cat > "$ROOT$BODIES/$1.net.json" <<-EOF
	{"Image":"ballast/pause:$VERSION","Entrypoint":["/pause"],
	 "Labels":{"io.ballast.netns":"$1","io.ballast.unit":"ballast-$1.service","io.ballast.hash":"n-${4:-none}"},
	 "ExposedPorts":$ports,
	 "HostConfig":{"RestartPolicy":{"Name":"no"},"PortBindings":$bind,"LogConfig":{"Type":"none"},"Init":false}}
	EOF
}
VERSION=$("$top_builddir/ballast-run" --version | awk '{print $2}')

# unit NAME RESTART [EXTRA-DOCKER-ARGS]: the unit as units.c writes it, the backoff in `ballast-run docker`
# (short delays for the test; --stable-ms STABLE_MS so that kills SETTLE_S apart count as "ran a while", or
# $STABLE when set). The --stable-ms that decides a start's delay is that of the run being started.
unit() {
	cat > "$ROOT/etc/systemd/system/ballast-$1.service" <<-EOF
	[Unit]
	Description=ballast test service $1
	Requires=docker.service
	After=docker.service
	StartLimitIntervalSec=0

	[Service]
	Type=notify
	NotifyAccess=main
	ExecStart=$BIN/ballast-run docker --name $1 --body $BODIES/$1.json --net-body $BODIES/$1.net.json --stop-timeout 1 --docker-socket /var/run/docker.sock --control-socket /run/ballast/ballastd.sock --delay-ms 100 --max-delay-ms 1000 --stable-ms ${STABLE:-$STABLE_MS} --restart $2 ${3:-}
	Restart=$2
	RestartSec=0
	TimeoutStartSec=30s
	TimeoutStopSec=20s
	KillMode=mixed
	EOF
	sb systemctl daemon-reload
}

prop() { sb systemctl show -P "$2" "ballast-$1.service"; }
cid() { sb $DOCKER inspect -f '{{.Id}}' "ballast-$1" 2>/dev/null; }
cstate() { sb $DOCKER inspect -f '{{.State.Status}}' "ballast-$1" 2>/dev/null; }
# the network holder of NAME: "ID STATUS STARTEDAT"
holder() { sb $DOCKER inspect -f '{{.Id}} {{.State.Status}} {{.State.StartedAt}}' "ballast-$1.net" 2>/dev/null; }
answers() { sb curl -s -m 0.5 -o /dev/null "http://127.0.0.1:$PORT/"; }   # any HTTP answer, 404 too
journal() { sandbox_journal -u "ballast-$1.service" -o cat; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }

# Inside the sandbox, one nsenter: ms from CMD until the port answers with a container started after CMD.
# time_to_answer NAME CMD...   polls the port all along, as a client would (Docker's userland proxy accepts
#                              connections while the container is down, hence curl's short timeout and the
#                              StartedAt check)
# time_to_running NAME CMD...  prints "RUNNING ANSWER": ms until Docker says a new run of the container is up,
#                              and until the port answers when polled only from then on
# A client that connects while Docker is re-creating the container's network endpoint loses about 1 s (its
# connection's neighbour resolution fails once and is retried after 1 s), so the two differ after a kill.
time_to_answer() { _time_to answer "$@"; }
time_to_running() { _time_to running "$@"; }
_time_to() {
	sb bash -c '
		mode=$1 name=$2 port=$3; shift 3
		before=$(/usr/bin/docker inspect -f "{{.State.StartedAt}}" "$name" 2>/dev/null)
		restarted() { [ "$(/usr/bin/docker inspect -f "{{.State.Running}} {{.State.StartedAt}}" "$name" 2>/dev/null)" != "true $before" ] &&
			[ "$(/usr/bin/docker inspect -f "{{.State.Running}}" "$name" 2>/dev/null)" = true ]; }
		ms() { echo $(( ($(date +%s%N) - t0) / 1000000 )); }
		t0=$(date +%s%N)
		# a kill by Docker can fail under load when the exit event is late ("did not receive an exit event")
		# although the container dies: what counts is whether it comes back, so go on and say so
		out=$("$@" 2>&1) || echo "# $* failed: $out" >&2
		if [ "$mode" = running ]; then
			for i in $(seq 2000); do restarted && break; sleep 0.01; done
			restarted || { echo "# no new run of $name after $(ms) ms" >&2; exit 1; }
			r=$(ms)
		fi
		for i in $(seq 2000); do
			if curl -s -m 0.2 -o /dev/null "http://127.0.0.1:$port/"; then
				now=$(/usr/bin/docker inspect -f "{{.State.StartedAt}}" "$name" 2>/dev/null)
				[ "$now" != "$before" ] && { echo ${r:-} $(ms); exit 0; }
			fi
			sleep 0.01
		done
		echo "# $name did not answer on $port after $(ms) ms" >&2
		exit 1' _ "$1" "ballast-$2" "$PORT" "${@:3}"
}

# ---- start, kill, restart, stop ------------------------------------------------------------------------
step "start, kill, restart"
sb $DOCKER rm -f ballast-web >/dev/null 2>&1
body web h1 '["httpd","-f","-p","8080","-h","/"]' $PORT
STABLE=$QUICK_STABLE_MS unit web always

ms=$(time_to_answer web systemctl start ballast-web.service)
ok $? "systemctl start ballast-web: the port answers (${ms:-?} ms from systemctl start, no container yet)"
first_ms=$ms
is "$(prop web ActiveState)" active "the unit is active"
like "$(prop web StatusText)" "ballastd unreachable, health not checked" "without ballastd: READY at once, and STATUS says so"
like "$(journal web)" "Created the container" "the container was created"
like "$(sb $DOCKER inspect -f '{{index .Config.Labels "io.ballast.hash"}} {{.HostConfig.RestartPolicy.Name}}' ballast-web)" \
	"^h1 no$" "it carries the body's hash and Docker's restart policy is off"
id1=$(cid web)
is "$(prop web MainPID)" "$(prop web ExecMainPID)" "the main process is ballast-run itself (no docker client in between)"
# the kill comes within the run's --stable-ms (an hour) of its start, whatever the machine: a quick exit
ms=$(time_to_answer web $DOCKER kill ballast-web)
ok $? "docker kill: the unit restarts and the port answers again (${ms:-?} ms, includes one quick-exit backoff of 100 ms)"
kill_quick_ms=$ms
is "$(prop web NRestarts)" 1 "NRestarts=1"
is "$(cid web)" "$id1" "the restart reused the stopped container (same ID)"
# the journal may lag behind the unit by a moment under load: wait for the lines, bounded
wait_for 5 sh -c "nsenter -t $SANDBOX_PID -a -r -w journalctl --no-pager -o cat -u ballast-web.service | grep -Eq 'Container [0-9a-f]{12} exited with code 137'"
ok $? "the journal has the exit code 137"
wait_for 5 sh -c "nsenter -t $SANDBOX_PID -a -r -w journalctl --no-pager -o cat -u ballast-web.service | grep -q 'backing off 100 ms after a quick exit'"
ok $? "the quick exit was backed off"
# from here on, runs that last SETTLE_S count as stable (the unit's next starts; the running one keeps its flags)
unit web always
# the network holder: it publishes the port, the container joins its network and publishes nothing
like "$(journal web)" "Importing the image ballast/pause:" "the holder's image was imported from ballast-pause"
h1=$(holder web); set -- $h1
is "$2" running "the network holder ballast-web.net runs"
is "$(sb $DOCKER inspect -f '{{(index (index .HostConfig.PortBindings "8080/tcp") 0).HostPort}} {{index .Config.Labels "io.ballast.netns"}} {{if index .Config.Labels "io.ballast.service"}}service{{else}}-{{end}} {{.Config.Image}}' ballast-web.net)" \
	"$PORT web - ballast/pause:$VERSION" \
	"it publishes the port, is labelled io.ballast.netns=web (not io.ballast.service) and runs ballast/pause"
is "$(sb $DOCKER inspect -f '{{.HostConfig.NetworkMode}} {{len .HostConfig.PortBindings}}' ballast-web)" "container:$1 0" \
	"the service's container joins the holder's network (by ID) and publishes nothing itself"


step "ten kills SETTLE_S apart"
# (KILLS=N: N kills in each round instead of 5, to look for a rare interleaving; the counts below follow)
KILLS=${KILLS:-5}
# a kill that did not come back: what the unit, the container and Docker were doing
kill_failed() {
	diag "kill $1 did not come back: unit $(prop web ActiveState)/$(prop web SubState), container $(cstate web)"
	journal web | tail -n 15 | sed 's/^/#   /'
	sandbox_journal -u docker.service -o cat | grep -E 'level=(error|warning)' | tail -n 5 | sed 's/^/#   docker: /'
}
samples= running= answer=
for i in $(seq "$KILLS"); do
	sleep $SETTLE_S   # > delay + --stable-ms: "ran a while", no backoff at all (RestartSec=0)
	ms=$(time_to_answer web $DOCKER kill ballast-web) || { samples="$samples X"; kill_failed "$i"; continue; }
	samples="$samples $ms"
done
ok "$(case "$samples" in *X*) echo 1 ;; *) echo 0 ;; esac)" "$KILLS more kills $SETTLE_S s apart, each answered again (polled all along):$samples ms"
for i in $(seq "$KILLS"); do
	sleep $SETTLE_S
	set -- $(time_to_running web $DOCKER kill ballast-web) X X
	[ "$1" = X ] && kill_failed "$((KILLS + i))"
	running="$running $1" answer="$answer $2"
done
ok "$(case "$running$answer" in *X*) echo 1 ;; *) echo 0 ;; esac)" "$KILLS more kills: running again after$running ms, answering$answer ms"
kill_median=$(printf '%s\n' $samples | grep -v X | median)
running_median=$(printf '%s\n' $running | grep -v X | median)
answer_median=$(printf '%s\n' $answer | grep -v X | median)
# The rule: every run that ends is started again (Restart=always), so each of the 2 KILLS + 1 kills is one restart,
# and any other end of a run (which the journal would name) one more: at least that many, and exactly one restart
# per exit systemd logged; and the container died that many times at least, each time by a kill (137). (Docker,
# when the exit event of a kill comes late under load, kills the process it then finds directly: that can be the
# next run's, one kill more.)
n_restarts=$(prop web NRestarts)
exits() { journal web | grep -c 'Main process exited'; }
killed() { journal web | grep -cE 'Container [0-9a-f]{12} exited with code 137'; }
# (the journal may lag behind the unit by a moment under load)
wait_for 10 sh -c "[ \$(nsenter -t $SANDBOX_PID -a -r -w journalctl --no-pager -o cat -u ballast-web.service | grep -c 'Main process exited') -ge $n_restarts ]"
n_exits=$(exits) n_killed=$(killed)
n_kills=$((2 * KILLS + 1))
ok $(( n_restarts >= n_kills && n_restarts == n_exits ? 0 : 1 )) \
	"NRestarts=$n_restarts: at least one restart per kill ($n_kills), and one per exit of ballast-run ($n_exits)"
ok $(( n_killed >= n_kills ? 0 : 1 )) "the container was killed $n_kills times, and each was seen as a kill (exit code 137: $n_killed)"
[ "$n_restarts" -gt $n_kills ] || [ "$n_killed" -gt $n_kills ] && journal web | grep -E 'Main process exited|exited with code' | sed 's/^/# /'
is "$(holder web)" "$h1" "the network holder lived through the restarts untouched (same ID, same start)"

id_stopped=$(cid web)
t0=$(date +%s%N)
sb systemctl stop ballast-web.service
stop_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
is "$(prop web ActiveState)" inactive "systemctl stop: the unit is inactive ($stop_ms ms, --stop-timeout 1)"
is "$(prop web Result)" success "and ended cleanly (Result=success)"
is "$(prop web ExecMainStatus)" 0 "ballast-run exited 0"
is "$(cstate web)" exited "the container is stopped, and kept for reuse"
like "$(journal web)" "Received SIGTERM, stopping the container" "SIGTERM stopped the container"
set -- $(holder web)
is "$2" exited "and the network holder: the port is closed with the service"

ms=$(time_to_answer web systemctl start ballast-web.service)
ok $? "a start with the stopped container there answers in ${ms:-?} ms"
reuse_ms=$ms
is "$(cid web)" "$id_stopped" "and reused it"
[ "$id_stopped" = "$id1" ] || { diag "the container was replaced during the kills:"; journal web | grep -E 'Replacing|Removing' | sed 's/^/#   /'; }

# ---- stale and changed containers ------------------------------------------------------------------------
sb systemctl stop ballast-web.service
sb $DOCKER rm -f ballast-web >/dev/null
sb $DOCKER run -d --name ballast-web --label io.ballast.hash=old local/busybox:latest sleep 1000 >/dev/null
stale=$(cid web)
ms=$(time_to_answer web systemctl start ballast-web.service)
ok $? "a stale running container with another hash: the unit starts and answers (${ms:-?} ms)"
replace_ms=$ms
isnt=$(cid web); [ -n "$isnt" ] && [ "$isnt" != "$stale" ]
ok $? "the stale container was replaced"
like "$(sb $DOCKER inspect -f '{{index .Config.Labels "io.ballast.hash"}}' ballast-web)" "^h1$" "by one with the body's hash"

# a running container with the same hash and network (a previous ballast-run was SIGKILLed) is taken over as it
# runs: the new run's next-exit wait sees its exit
adopt=$(cid web)
n0=$(prop web NRestarts)
sb systemctl kill --kill-who=main -s SIGKILL ballast-web.service
wait_for 10 sh -c "[ \"\$(nsenter -t $SANDBOX_PID -a -r -w systemctl show -P NRestarts ballast-web.service)\" -gt $n0 ]"
sandbox_wait_unit ballast-web.service active 10
is "$(cstate web)" running "after ballast-run was SIGKILLed, systemd restarted it and the container runs"
is "$(cid web)" "$adopt" "the same container, taken over while it ran (not replaced)"
like "$(journal web)" "Taking over the running container [0-9a-f]{12}" "saying so"
n0=$(prop web NRestarts)
sb $DOCKER kill ballast-web >/dev/null
wait_for 10 sh -c "[ \"\$(nsenter -t $SANDBOX_PID -a -r -w systemctl show -P NRestarts ballast-web.service)\" -gt $n0 ]"
ok $? "the taken-over container's exit is seen: the unit restarts"
wait_for 10 answers; ok $? "and answers again"

# a changed spec (new hash) replaces the stopped container
id2=$(cid web)
sb systemctl stop ballast-web.service
body web h2 '["httpd","-f","-p","8080","-h","/"]' $PORT
sb systemctl start ballast-web.service
id3=$(cid web)
[ -n "$id3" ] && [ "$id3" != "$id2" ]; ok $? "a changed body (new hash) replaces the stopped container"
like "$(journal web)" "Replacing the container [0-9a-f]{12} \(exited\): its spec changed" "and says why"
wait_for 5 answers; ok $? "the new container answers"

# ---- Docker restarting under a running unit ----------------------------------------------------------
sb systemctl restart docker.service
sandbox_wait_unit docker.service active 20
wait_for 20 answers; ok $? "after docker.service restarted, the unit came back and the port answers"
like "$(journal web)" "Lost the connection to Docker|exited with code" "ballast-run noticed the wait breaking off or the container's exit"
is "$(prop web ActiveState)" active "the unit is active again"

# ---- the network holder dies under a running service: the unit restarts, with a holder again -------------
n0=$(prop web NRestarts)
sleep $SETTLE_S   # a run that lasted (--stable-ms): no backoff
sb $DOCKER kill ballast-web.net >/dev/null
wait_for 10 sh -c "[ \"\$(nsenter -t $SANDBOX_PID -a -r -w systemctl show -P NRestarts ballast-web.service)\" -gt $n0 ]"
ok $? "docker kill of the holder: the unit is restarted"
like "$(journal web)" "The network holder [0-9a-f]{12} of web went away; stopping the container" "saying why"
wait_for 10 answers; ok $? "and the port answers again"
set -- $(holder web)
is "$2" running "through the holder, running again"
sb systemctl stop ballast-web.service

# ---- the exit code reaches systemd -------------------------------------------------------------------
body job j1 '["sh","-c","sleep 0.3; exit 3"]'
unit job no
sb systemctl start ballast-job.service
sandbox_wait_unit ballast-job.service failed 10
is "$(prop job ExecMainStatus)" 3 "a container exiting 3 makes ballast-run exit 3"
is "$(prop job Result)" exit-code "and the unit failed with exit-code"
set -- $(holder job)
is "$2" exited "Restart=no: the exit ends the service for good, so its network holder was stopped too"

# a container that dies at once (before or while the wait is opened): the exit is not missed
body job j2 '["sh","-c","exit 7"]'
sb systemctl reset-failed ballast-job.service 2>/dev/null
sb systemctl start ballast-job.service
sandbox_wait_unit ballast-job.service failed 10
is "$(prop job ExecMainStatus)" 7 "a container that exits immediately: its code 7 still reaches systemd"

# ---- readiness through a (fake) ballastd -----------------------------------------------------------------
# A Varlink responder on the control socket: reads one call, sleeps, sends REPLY. socat forks one per client.
fake_ballastd() {  # fake_ballastd DELAY REPLY-JSON
	sb systemctl stop fake-ballastd.service >/dev/null 2>&1
	sb rm -f /run/ballast/ballastd.sock
	cat > "$ROOT/run/ballast-test/fake-reply.sh" <<-EOF
	#!/bin/bash
	IFS= read -r -d '' call
	echo "\$call" >> /run/ballast-test/fake-calls
	sleep $1
	printf '%s\0' '$2'
	sleep 60
	EOF
	chmod +x "$ROOT/run/ballast-test/fake-reply.sh"
	sb systemd-run --unit fake-ballastd.service --collect --quiet \
		socat UNIX-LISTEN:/run/ballast/ballastd.sock,fork,unlink-early EXEC:/run/ballast-test/fake-reply.sh
	wait_for 5 sb test -S /run/ballast/ballastd.sock
}

step "readiness through a fake ballastd"
fake_ballastd 1 '{"parameters":{}}'
: > "$ROOT/run/ballast-test/fake-calls"
t0=$(date +%s%N)
sb systemctl start ballast-web.service
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
ok $(( ms >= 1000 ? 0 : 1 )) "with ballastd: systemctl start returns only after WaitHealthy answered (${ms} ms, answer after 1 s)"
like "$(cat "$ROOT/run/ballast-test/fake-calls")" '"method":"io.ballast.Agent.WaitHealthy","parameters":\{"name":"web"\}' \
	"ballast-run called io.ballast.Agent.WaitHealthy {\"name\": \"web\"}"
like "$(prop web StatusText)" "running, healthy" "STATUS says healthy"
sb systemctl stop ballast-web.service

# (on the Restart=no unit: with Restart=always systemd would start it again at once)
fake_ballastd 0.5 '{"error":"io.ballast.Agent.Unhealthy","parameters":{"name":"job","reason":"GET /health: 500"}}'
body job j0 '["sleep","1000"]'
unit job no
sb systemctl start ballast-job.service 2>/dev/null
ok $(( $? != 0 ? 0 : 1 )) "an Unhealthy answer fails the start"
is "$(prop job ExecMainStatus)" 1 "ballast-run exits 1"
like "$(journal job)" "first health check of job failed: GET /health: 500" "with the reason in the journal"
is "$(cstate job)" exited "and the container was stopped"

fake_ballastd 0.2 '{"error":"io.ballast.Agent.NoSuchService","parameters":{"name":"web"}}'
sb systemctl start ballast-web.service
is "$(prop web ActiveState)" active "NoSuchService counts as ready"
sb systemctl stop ballast-web.service

# the container dies while the readiness answer is pending: noticed at once, not after the answer
fake_ballastd 30 '{"parameters":{}}'
body job j3 '["sh","-c","sleep 0.5; exit 5"]'
sb systemctl reset-failed ballast-job.service 2>/dev/null
t0=$(date +%s%N)
sb systemctl start ballast-job.service 2>/dev/null
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
is "$(prop job ExecMainStatus)" 5 "a container that exits while the health answer is pending: exit code 5"
# the bound: a budget, and well before the answer would come (30 s) in any case
bound=$(time_budget 5000); [ "$bound" -gt 20000 ] && bound=20000
ok $(( ms < bound ? 0 : 1 )) "noticed at once (${ms} ms < $bound ms, the answer would have come after 30 s)"

# SIGTERM while the readiness answer is pending
body job j4 '["sleep","1000"]'
sb systemctl reset-failed ballast-job.service 2>/dev/null
sb systemctl start --no-block ballast-job.service
wait_for 10 sh -c "[ \"\$(nsenter -t $SANDBOX_PID -a -r -w /usr/bin/docker inspect -f '{{.State.Status}}' ballast-job 2>/dev/null)\" = running ]"
wait_for 10 sh -c "nsenter -t $SANDBOX_PID -a -r -w systemctl show -P StatusText ballast-job.service | grep -q 'waiting for first health check'"
like "$(prop job StatusText)" "waiting for first health check" "STATUS says it waits for the first health check"
is "$(prop job ActiveState)" activating "the unit is still activating"
sb systemctl stop ballast-job.service
is "$(prop job ActiveState)" inactive "a stop while waiting for readiness"
is "$(cstate job)" exited "stops the container"

# --ready-timeout
sb systemctl reset-failed ballast-job.service 2>/dev/null
unit job no --ready-timeout=1s
t0=$(date +%s%N)
sb systemctl start ballast-job.service 2>/dev/null
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
is "$(prop job ExecMainStatus)" 1 "--ready-timeout 1s: no verdict in time fails with 1 (${ms} ms)"
is "$(cstate job)" exited "and stops the container"
sb systemctl stop fake-ballastd.service >/dev/null 2>&1

# ---- Docker not up yet: the helper waits for it (bounded), and a stop meanwhile is honoured -----------------
sb systemctl stop ballast-web.service docker.socket docker.service
run_transient() {  # run_transient UNIT: ballast-run docker for web as a transient Type=notify unit, no block
	sb systemd-run --unit "$1" --collect --quiet --no-block -p Type=notify -p NotifyAccess=main -p KillMode=mixed \
		"$BIN/ballast-run" docker --name web --body "$BODIES/web.json" --stop-timeout 1 --control-socket ""
}
step "Docker not up yet"
status_has() { sb systemctl show -P StatusText "$1" | grep -q "$2"; }
run_transient br-early.service
wait_for 10 status_has br-early.service "waiting for Docker"
sleep 0.5   # and it stays so
is "$(sb systemctl show -P ActiveState br-early.service)" activating "with Docker down, the unit waits in activating"
like "$(sb systemctl show -P StatusText br-early.service)" "waiting for Docker" "STATUS says it waits for Docker"
sb systemctl start docker.service
sandbox_wait_unit br-early.service active 20; ok $? "Docker came up: the unit became active"
wait_for 10 answers; ok $? "and the port answers"
like "$(sandbox_journal -u br-early.service -o cat)" "Docker is not reachable at /var/run/docker.sock yet \((No such file or directory|Connection refused)\), retrying" \
	"the journal says why it waited"
sb systemctl stop br-early.service

sb systemctl stop docker.socket docker.service
run_transient br-stop.service
wait_for 10 status_has br-stop.service "waiting for Docker"
t0=$(date +%s%N)
sb systemctl stop br-stop.service
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
# a stop that were not honoured would wait for Docker or the stop timeout (90 s)
bound=$(time_budget 2000); [ "$bound" -gt 20000 ] && bound=20000
ok $(( ms < bound ? 0 : 1 )) "a stop while waiting for Docker is honoured at once (${ms} ms < $bound ms)"
like "$(sandbox_journal -u br-stop.service -o cat)" "Stop requested before the container ran" "and nothing is started"
sb systemctl start docker.service

# ---- Docker not there: bounded wait with a reason -------------------------------------------------------
out=$(sb timeout 20 "$BIN/ballast-run" docker --name web --body "$BODIES/web.json" \
	--docker-socket /run/nonexistent.sock --docker-timeout 1 --control-socket "" 2>&1)
rc=$?
is "$rc" 125 "no Docker: exit 125 after --docker-timeout"
like "$out" "Docker is not reachable at /run/nonexistent.sock yet" "saying why it waits"
like "$out" "not reachable at /run/nonexistent.sock after 1 s" "and why it gave up"

diag "figures (Docker $(sb $DOCKER version -f '{{.Server.Version}}' 2>/dev/null), busybox httpd, until the published port answers):"
diag "  systemctl start, container created:          ${first_ms:-?} ms"
diag "  systemctl start, stopped container reused:   ${reuse_ms:-?} ms"
diag "  systemctl start, stale container replaced:   ${replace_ms:-?} ms"
diag "  docker kill → answering, quick exit (+100 ms backoff): ${kill_quick_ms:-?} ms"
diag "  docker kill → answering, kills $SETTLE_S s apart, port polled all along: $samples ms (median ${kill_median:-?})"
diag "  docker kill → container running again:       $running ms (median ${running_median:-?})"
diag "  docker kill → answering, polled once running: $answer ms (median ${answer_median:-?})"
diag "  systemctl stop (--stop-timeout 1, httpd ignores SIGTERM): ${stop_ms:-?} ms"

done_testing
