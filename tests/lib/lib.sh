# tests/lib/lib.sh - TAP helpers for the shell tests, and the ballast-in-the-sandbox set-up they share.
# Source it after tests/lib/sandbox.sh. Needs: top_srcdir, top_builddir (set by make check).

: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
_tap_n=0
_tap_failed=0

ok() {  # ok CONDITION-STATUS DESCRIPTION   (status 0 = pass; returns it)
	local st=$1; shift
	_tap_n=$((_tap_n + 1))
	if [ "$st" -eq 0 ]; then
		echo "ok $_tap_n - $*"
	else
		echo "not ok $_tap_n - $*"
		# a TAP TODO (a known bug, described after "# TODO") is an expected failure, not a failure of the test
		case "$*" in *"# TODO"*) ;; *) _tap_failed=$((_tap_failed + 1)) ;; esac
	fi
	return "$st"   # so that `ok ... || diag ...` prints what a failed point saw, as after is and like
}

check() {  # check DESCRIPTION -- CMD...   runs CMD, passes when it succeeds
	local d=$1; shift; [ "$1" = -- ] && shift
	"$@" >/dev/null 2>&1
	ok $? "$d"
}

is() {  # is GOT WANT DESCRIPTION
	local got=$1 want=$2; shift 2
	[ "$got" = "$want" ]
	local st=$?
	ok $st "$*"
	[ $st -eq 0 ] || printf '#   got:  %s\n#   want: %s\n' "$got" "$want"
	return $st
}

like() {  # like GOT EXTENDED-REGEX DESCRIPTION
	local got=$1 re=$2; shift 2
	printf '%s' "$got" | grep -qE -- "$re"
	local st=$?
	ok $st "$*"
	[ $st -eq 0 ] || printf '#   got:  %s\n#   want: /%s/\n' "$(printf '%s' "$got" | head -c 600)" "$re"
	return $st
}

diag() { echo "# $*"; }

bail() { echo "Bail out! $*"; _ballast_bailed=1; exit 1; }

done_testing() {
	ballast_sanitizer_check
	echo "1..$_tap_n"
	[ "$_tap_failed" -eq 0 ]
}

# Polls CMD until it succeeds, at most SECONDS (scaled by the run's time factor, see time_budget: a bound
# on waiting only, a correct build passes at once). wait_for SECONDS CMD...
wait_for() {
	local t=$1; shift
	local end=$(( ${EPOCHREALTIME/./} / 1000 + t * BALLAST_TIME_X10 * 100 ))
	_ballast_wd_wait="$*"; _ballast_wd_note
	until "$@" >/dev/null 2>&1; do
		[ $(( ${EPOCHREALTIME/./} / 1000 )) -lt "$end" ] || { _ballast_wd_wait=; _ballast_wd_note; return 1; }
		sleep 0.05
	done
	_ballast_wd_wait=; _ballast_wd_note
}

# ---- time budgets ----
# A time bound in a test is a budget: a base (what the step needs on a quiet machine, with room) times the run's
# factor, BALLAST_TIME_X10 / 10 = the build's (3 with sanitizers: every ballast program runs 2-3 times slower) x
# the machine's load, measured once when the test starts: 40 fork+exec of /bin/true, against the 60 ms they take
# on a quiet machine, never below 1 and at most 8 (beyond that a bound proves nothing; the property checks
# remain). BALLAST_TIME_FACTOR=F (e.g. 2.5) sets the factor instead. Measured figures go to the log (diag).
#   time_budget BASE_MS      prints BASE_MS scaled by the factor
#   time_budget_s BASE_S     the same in whole seconds (rounded up)
#   build_budget BASE_MS     BASE_MS scaled by the build's factor only: for a bound that is also derived from a
#                            baseline the test measured itself (the baseline carries the load)
_ballast_time_factor() {
	local t0 t1 i ms load san=10
	ballast_sanitized && san=30
	BALLAST_BUILD_X10=$san
	if [ -n "${BALLAST_TIME_FACTOR:-}" ]; then
		BALLAST_TIME_X10=$(awk -v f="$BALLAST_TIME_FACTOR" 'BEGIN { x = int(f * 10 + 0.5); print (x < 10 ? 10 : x) }')
		BALLAST_TIME_WHY="BALLAST_TIME_FACTOR=$BALLAST_TIME_FACTOR"
		return
	fi
	t0=${EPOCHREALTIME/./}
	for ((i = 0; i < 40; i++)); do /bin/true; done
	t1=${EPOCHREALTIME/./}
	ms=$(( (t1 - t0) / 1000 ))
	load=$(( ms * 10 / 60 ))
	[ "$load" -lt 10 ] && load=10
	[ "$load" -gt 80 ] && load=80
	BALLAST_TIME_X10=$(( san * load / 10 ))
	BALLAST_TIME_WHY="build x$((san / 10)), load x$((load / 10)).$((load % 10)) (40 process starts took $ms ms)"
}
time_budget() { echo $(( $1 * BALLAST_TIME_X10 / 10 )); }
time_budget_s() { echo $(( ($1 * BALLAST_TIME_X10 + 9) / 10 )); }
build_budget() { echo $(( $1 * BALLAST_BUILD_X10 / 10 )); }

# ---- the watchdog ----
# Every shell test that sources this file gets one (from here: the common set-up). When the test runs past its
# budget (WATCHDOG_S seconds, default 300, set before sourcing this file or in the environment; scaled like any
# budget, at most 4 x WATCHDOG_S), it prints what the test was waiting for: the last step the test named (step "..."), the wait_for
# command it was in, its running commands, and, when a sandbox is up, `systemctl list-units 'ballast*'`,
# `docker ps -a` and the last journal lines there; then a "Bail out!" (the test fails) and it ends the test
# (SIGTERM to its commands and to the test, so that its EXIT trap tears the sandbox down; SIGKILL 20 s later).
# BALLAST_NO_WATCHDOG=1 disables it.
#   step TEXT       names what the test does now (cheap: no process is started)
_ballast_wd_file=
_ballast_wd_step= _ballast_wd_wait=
_ballast_wd_note() {
	[ -n "$_ballast_wd_file" ] || return 0
	printf '%s\n%s\n%s\n' "${SANDBOX_PID:-}" "$_ballast_wd_step" "$_ballast_wd_wait" 2>/dev/null > "$_ballast_wd_file"
}
step() { _ballast_wd_step="$*"; _ballast_wd_note; }
# sandbox.sh calls this once a sandbox is up (the watchdog then knows where to look) and around its waits
_sb_note_hook() { _ballast_wd_wait=${1:-}; _ballast_wd_note; }

_ballast_watchdog() {  # runs in its own process: _ballast_watchdog OWNER-PID BUDGET-S FILE NAME
	local owner=$1 budget=$2 file=$3 name=$4 end p sbpid stp wt kids
	exec </dev/null >/dev/null 2>&1
	end=$(( SECONDS + budget ))
	while [ $SECONDS -lt $end ]; do
		[ -d "/proc/$owner" ] || { rm -f "$file"; exit 0; }
		sleep 1
	done
	[ -d "/proc/$owner" ] || { rm -f "$file"; exit 0; }
	# the test's own output (the TAP stream) again, to report there
	exec >>"/proc/$owner/fd/1" 2>&1 || exec >>/dev/stderr
	{ read -r sbpid; read -r stp; read -r wt; } < "$file" 2>/dev/null
	echo "# watchdog: $name ran past its budget of $budget s ($BALLAST_TIME_WHY)"
	echo "# watchdog: the last step: ${stp:-(none named)}"
	[ -n "$wt" ] && echo "# watchdog: in wait_for: $wt"
	echo "# watchdog: the test's commands:"
	ps -o pid=,etimes=,args= --ppid "$owner" 2>/dev/null | grep -v "^ *$BASHPID " | sed 's/^/#   /'
	if [ -n "$sbpid" ] && [ -d "/proc/$sbpid" ]; then
		echo "# watchdog: the sandbox's units:"
		timeout 10 nsenter -t "$sbpid" -a -r -w systemctl --no-pager list-units --all 'ballast*' 2>&1 | sed 's/^/#   /'
		timeout 10 nsenter -t "$sbpid" -a -r -w systemctl --no-pager list-jobs 2>&1 | sed 's/^/#   /'
		echo "# watchdog: the sandbox's containers:"
		timeout 10 nsenter -t "$sbpid" -a -r -w /usr/bin/docker ps -a 2>&1 | sed 's/^/#   /'
		echo "# watchdog: the sandbox's last journal lines:"
		timeout 10 nsenter -t "$sbpid" -a -r -w journalctl --no-pager -n 40 2>&1 | sed 's/^/#   /'
	fi
	echo "Bail out! watchdog: $name ran past its budget of $budget s; last step: ${stp:-(none named)}"
	kids=$(ps -o pid= --ppid "$owner" 2>/dev/null)
	for p in $kids; do [ "$p" = "$BASHPID" ] || kill -TERM "$p" 2>/dev/null; done
	kill -TERM "$owner" 2>/dev/null
	for p in $(seq 20); do [ -d "/proc/$owner" ] || break; sleep 1; done
	if [ -d "/proc/$owner" ]; then
		for p in $(ps -o pid= --ppid "$owner" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		kill -KILL "$owner" 2>/dev/null
	fi
	rm -f "$file"
}

_ballast_watchdog_start() {
	local budget
	[ -z "${BALLAST_NO_WATCHDOG:-}" ] || return 0
	budget=$(time_budget_s "${WATCHDOG_S:-300}")
	# never more than 4 times the base: the watchdog is there so that nothing hangs CI
	[ "$budget" -gt $(( ${WATCHDOG_S:-300} * 4 )) ] && budget=$(( ${WATCHDOG_S:-300} * 4 ))
	_ballast_wd_file=${TMPDIR:-/tmp}/ballast-watchdog.$$
	_ballast_wd_note
	# not a job of the test's shell (a bare `wait` must not wait for it), and off its stdout until it fires
	( _ballast_watchdog "$$" "$budget" "$_ballast_wd_file" "$(basename "$0" .sh)" & )
}

# ---- sanitizer builds (configure --enable-asan / --enable-ubsan) ----
# Every ballast program a test starts (ballastd in or out of the sandbox, ballastctl, ballast-run in workload
# units, the test helpers) writes its AddressSanitizer / LeakSanitizer / UBSan reports to a file of its own in
# BALLAST_SAN_DIR (one directory per test: make check runs tests in parallel); done_testing turns any report
# into a failed test point. Nothing changes for a plain build.
ballast_sanitized() { grep -qa -e __asan_init -e __ubsan_handle_ "$top_builddir/ballastd" 2>/dev/null; }
BALLAST_SAN_DIR=
if ballast_sanitized; then
	BALLAST_SAN_DIR=${BALLAST_SAN_ROOT:-$top_builddir/sanitizer-logs}/$(basename "$0" .sh)
	mkdir -p "$BALLAST_SAN_DIR" && rm -f "$BALLAST_SAN_DIR"/*
	# quarantine: ballastd.service keeps MemoryMax= (raised for this build, see ballast_install); 16 MiB of
	# freed memory held back still catches use-after-free within the bursts the tests make.
	# the caller's options first: where this test's reports go is ours to say (the last of a flag wins)
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1:quarantine_size_mb=16:malloc_context_size=20:log_path=$BALLAST_SAN_DIR/asan"
	export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:halt_on_error=1:log_path=$BALLAST_SAN_DIR/ubsan"
fi

_ballast_time_factor
diag "time budgets x$((BALLAST_TIME_X10 / 10)).$((BALLAST_TIME_X10 % 10)): $BALLAST_TIME_WHY"
# (tests only: a benchmark that loads this file runs as long as it needs)
case "$0" in */tests/*) _ballast_watchdog_start ;; esac

# Runs at done_testing in a sanitizer build: stops ballastd.service in the sandbox (LeakSanitizer checks at
# exit), then one test point: no report from any process of this test.
ballast_sanitizer_check() {
	local f n=0
	[ -n "$BALLAST_SAN_DIR" ] || return 0
	if [ -n "${SANDBOX_PID:-}" ] && [ -d "/proc/$SANDBOX_PID" ] &&
		[ "$(timeout 5 nsenter -t "$SANDBOX_PID" -a -r -w systemctl show -P ActiveState ballastd.service 2>/dev/null)" = active ]; then
		timeout 30 nsenter -t "$SANDBOX_PID" -a -r -w systemctl stop ballastd.service >/dev/null 2>&1
		is "$(timeout 5 nsenter -t "$SANDBOX_PID" -a -r -w systemctl show -P Result ballastd.service 2>/dev/null)" success \
			"sanitizers: ballastd (ASan/UBSan build) stops cleanly, its leak check included"
	fi
	for f in "$BALLAST_SAN_DIR"/*; do
		[ -s "$f" ] || continue
		n=$((n + 1))
		diag "sanitizer report $f:"
		head -n 60 "$f" | sed 's/^/#   /'
	done
	ok $((n > 0)) "sanitizers: no ASan, LSan or UBSan report from any process of this test ($n in $BALLAST_SAN_DIR)"
}

# In a sanitizer build: the same report files for every unit of the sandbox (workloads run ballast-run), now
# and after a simulated reboot. ballast_install does it; a test that installs only ballast-run calls it itself.
ballast_sanitizer_env() {
	[ -n "$BALLAST_SAN_DIR" ] || return 0
	sb systemctl set-environment "ASAN_OPTIONS=$ASAN_OPTIONS" "UBSAN_OPTIONS=$UBSAN_OPTIONS" || return 1
	sb mkdir -p /etc/systemd/system.conf.d || return 1
	printf '[Manager]\nDefaultEnvironment="ASAN_OPTIONS=%s" "UBSAN_OPTIONS=%s"\n' "$ASAN_OPTIONS" "$UBSAN_OPTIONS" \
		> "/proc/$SANDBOX_PID/root/etc/systemd/system.conf.d/90-ballast-sanitizers.conf"
}

# In a sanitizer build: what ballastd.service needs for it, as a drop-in (ballast_install writes it; a test that
# installs ballastd another way, e.g. through Ignition, calls it itself, then daemon-reload).
ballast_sanitizer_dropin() {
	[ -n "$BALLAST_SAN_DIR" ] || return 0
	sb mkdir -p /etc/systemd/system/ballastd.service.d || return 1
	cat > "/proc/$SANDBOX_PID/root/etc/systemd/system/ballastd.service.d/20-sanitizers.conf" <<-UNIT
	# This ballastd is an ASan/UBSan build (tests only; the production unit is unchanged).
	[Service]
	# LeakSanitizer's exit check runs in a helper task that ptrace()s the daemon's threads; ptrace is not in
	# @system-service. With the filter's default action the helper was killed and the daemon spun at exit
	# until the stop timeout's SIGKILL, with no leak report. And the sanitizers set RLIMIT_CORE at start
	# (@resources, denied). Allow these three calls for this build; nothing else changes.
	SystemCallFilter=ptrace setrlimit prlimit64
	ReadWritePaths=$BALLAST_SAN_DIR
	# shadow memory and the quarantine do not fit the production bound
	MemoryHigh=infinity
	MemoryMax=1G
	UNIT
}

# A systemd + Docker sandbox for the tests that drive ballast-run alone (no ballastd): SB_DIR (removed at exit),
# ROOT, BIN (ballast-run and the other build files named, copied there), BODIES (where container bodies go) and
# DOCKER are set. ballast_run_sandbox_start NAME [FILE...]
ballast_run_sandbox_start() {
	local name=$1 f
	shift
	[ "$(id -u)" = 0 ] || bail "needs root (systemd and Docker sandbox)"
	for f in ballast-run "$@"; do
		[ -x "$top_builddir/$f" ] || bail "no $top_builddir/$f (build first)"
	done
	command -v dockerd >/dev/null || bail "dockerd is not installed (tools/deps.sh installs docker.io)"
	SB_DIR=$(mktemp -d "/var/tmp/ballast-it-$name.XXXXXX")
	trap 'sandbox_stop "$SB_DIR" --purge >/dev/null 2>&1; rm -rf "$SB_DIR"' EXIT
	sandbox_start "$SB_DIR" --docker || bail "cannot start the systemd + Docker sandbox"
	ROOT=/proc/$SANDBOX_PID/root
	BIN=/run/ballast-test/bin
	BODIES=/var/lib/ballast/containers
	DOCKER=/usr/bin/docker
	sb mkdir -p "$BIN" "$BODIES" /run/ballast || bail "cannot prepare the sandbox"
	for f in ballast-run "$@"; do
		cp "$top_builddir/$f" "$ROOT$BIN/" || bail "cannot install $f"
	done
	ballast_sanitizer_env || bail "cannot set the sanitizers' environment"
}

# Where the sandbox's copy of the build lives: private to the sandbox (its /var/lib is an overlay), kept across
# a simulated reboot (--persist), and not hidden by ballastd.service's ProtectHome=.
BALLAST_BIN=/var/lib/ballast-test/bin

# Installs ballastd, ballastctl, ballast-run and the units into the running sandbox. EXTRA_DROPIN (optional)
# is appended to the test drop-in of ballastd.service.
ballast_install() {
	local root=/proc/$SANDBOX_PID/root f
	sb mkdir -p "$BALLAST_BIN" /etc/ballast /etc/ballast/services.d /etc/systemd/system/ballastd.service.d || return 1
	for f in ballastd ballastctl ballast-run ballast-pause; do
		[ -x "$top_builddir/$f" ] && { cp "$top_builddir/$f" "$root$BALLAST_BIN/$f" || return 1; }
	done
	sb sh -c 'getent group ballast >/dev/null || groupadd --system ballast' || return 1
	sed -e "s|@sbindir@|$BALLAST_BIN|g" -e "s|@libexecdir@|$BALLAST_BIN|g" "$top_srcdir/units/ballastd.service.in" > "$root/etc/systemd/system/ballastd.service"
	cp "$top_srcdir/units/ballastd.socket" "$top_srcdir/units/ballast.slice" "$root/etc/systemd/system/" || return 1
	cat > "$root/etc/systemd/system/ballastd.service.d/10-test.conf" <<-UNIT
	[Service]
	Environment=BALLAST_RUN_HELPER=$BALLAST_BIN/ballast-run
	ExecStart=
	ExecStart=$BALLAST_BIN/ballastd --log-level debug
	# the sandbox's Docker data root is under /var/tmp (the host's disk); ballastd reads its size
	PrivateTmp=no
	${EXTRA_DROPIN:-}
	UNIT
	if [ -n "$BALLAST_SAN_DIR" ]; then
		ballast_sanitizer_env || return 1
		ballast_sanitizer_dropin || return 1
	fi
	sb systemctl daemon-reload
}

# Tools the tests need: missing ones fail loudly (a `! curl ...` check would otherwise pass without curl).
need() {
	local c
	for c; do
		sb sh -c "command -v $c" >/dev/null 2>&1 || bail "$c is not installed (tools/deps.sh installs it)"
	done
}

# ballastctl inside the sandbox.
bctl() { sb "$BALLAST_BIN/ballastctl" "$@"; }

# The fake update_engine (tests/helpers/fake-update-engine.c, FAKE_UE: update_engine's D-Bus interface, as update_engine
# cannot run here) on the sandbox's system bus: the bus policy update_engine's package installs, so that it may
# own its name, then the fake as a transient unit (started again at every boot by the caller, as on Flatcar).
fake_update_engine_start() {
	sb mkdir -p /etc/dbus-1/system.d || return 1
	cp "$top_srcdir/tests/data/updates/com.coreos.update1.conf" "/proc/$SANDBOX_PID/root/etc/dbus-1/system.d/" || return 1
	sb busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig >/dev/null
	sb systemd-run --quiet --unit fake-update-engine "$FAKE_UE" --step-ms 50 || bail "cannot start the fake update_engine"
	wait_for 10 sb busctl call com.coreos.update1 /com/coreos/update1 com.coreos.update1.Manager GetStatus ||
		bail "the fake update_engine does not answer on the system bus"
}

# The clock the gate trusts is systemd-timedated's NTPSynchronized. The sandbox's real timedated (bus-activated
# from Debian's systemd package) answers from this machine's kernel, which no NTP daemon disciplines here, and the
# host's clock state is not the tests' to change: tests that need a synchronized clock stop and mask the real one
# (runtime only) and put the fake (tests/helpers/fake-timedated.c: timedated's interface, NTPSynchronized settable)
# on the sandbox's bus under its name. Per boot, like the fake update_engine. fake_timedated_start [--unsynchronized]
fake_timedated_start() {
	sb systemctl mask --runtime --quiet systemd-timedated.service || return 1
	sb systemctl stop systemd-timedated.service 2>/dev/null
	sb systemd-run --quiet --unit fake-timedated "$top_builddir/tests/helpers/fake-timedated" "$@" ||
		bail "cannot start the fake timedated"
	wait_for 10 sb busctl get-property org.freedesktop.timedate1 /org/freedesktop/timedate1 org.freedesktop.timedate1 NTPSynchronized ||
		bail "the fake timedated does not answer on the system bus"
}
ntp_synchronized() {  # ntp_synchronized true|false: the fake timedated's answer from now on
	sb busctl call org.freedesktop.timedate1 /org/freedesktop/timedate1 io.ballast.test.FakeTimedated SetNTPSynchronized b "$1" >/dev/null
}

# The fake rpm-ostree daemon (tests/helpers/fake-rpm-ostree.c: the part of org.projectatomic.rpmostree1 ballastd
# reads, as rpm-ostreed cannot run without a booted OSTree sysroot) on the sandbox's bus, with the bus policy
# rpm-ostree's package installs. fake_rpm_ostree_start [ARGS...]; rpm_ostree_stage VERSION [ORIGIN] stages a
# deployment ("" removes it).
fake_rpm_ostree_start() {
	sb mkdir -p /etc/dbus-1/system.d || return 1
	cat >"/proc/$SANDBOX_PID/root/etc/dbus-1/system.d/org.projectatomic.rpmostree1.conf" <<-'EOF'
	<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
	 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
	<busconfig>
	  <policy user="root"><allow own="org.projectatomic.rpmostree1"/><allow send_destination="org.projectatomic.rpmostree1"/></policy>
	  <policy context="default"><allow send_destination="org.projectatomic.rpmostree1" send_interface="org.freedesktop.DBus.Properties"/>
	    <allow send_destination="org.projectatomic.rpmostree1" send_interface="org.freedesktop.DBus.Introspectable"/></policy>
	</busconfig>
	EOF
	sb busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig >/dev/null
	sb systemd-run --quiet --unit fake-rpm-ostree "$top_builddir/tests/helpers/fake-rpm-ostree" "$@" ||
		bail "cannot start the fake rpm-ostree"
	wait_for 10 sb busctl get-property org.projectatomic.rpmostree1 /org/projectatomic/rpmostree1/Sysroot \
		org.projectatomic.rpmostree1.Sysroot Booted || bail "the fake rpm-ostree does not answer on the system bus"
}
rpm_ostree_stage() {
	sb busctl call org.projectatomic.rpmostree1 /org/projectatomic/rpmostree1/Sysroot io.ballast.test.FakeRpmOstree Stage ss "$1" "${2:-}" >/dev/null
}

# A call to the fake update_engine's control methods (ue METHOD [SIGNATURE ARGS...]).
ue() { sb busctl call com.coreos.update1 /com/coreos/update1 com.coreos.update1.Manager "$@" >/dev/null; }
