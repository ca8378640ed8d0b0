# tests/lib.sh - TAP helpers for the shell tests, and the ballast-in-the-sandbox set-up they share.
# Source it after tests/sandbox.sh. Needs: top_srcdir, top_builddir (set by make check).

: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
_tap_n=0
_tap_failed=0

ok() {  # ok CONDITION-STATUS DESCRIPTION   (status 0 = pass)
	local st=$1; shift
	_tap_n=$((_tap_n + 1))
	if [ "$st" -eq 0 ]; then
		echo "ok $_tap_n - $*"
	else
		echo "not ok $_tap_n - $*"
		_tap_failed=$((_tap_failed + 1))
	fi
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

bail() { echo "Bail out! $*"; exit 1; }

done_testing() {
	echo "1..$_tap_n"
	[ "$_tap_failed" -eq 0 ]
}

# Polls CMD until it succeeds, at most SECONDS. wait_for SECONDS CMD...
wait_for() {
	local t=$1; shift
	local end=$(( $(date +%s%N) / 1000000 + t * 1000 ))
	until "$@" >/dev/null 2>&1; do
		[ $(( $(date +%s%N) / 1000000 )) -lt "$end" ] || return 1
		sleep 0.05
	done
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
	sed -e "s|@sbindir@|$BALLAST_BIN|g" "$top_srcdir/units/ballastd.service.in" > "$root/etc/systemd/system/ballastd.service"
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
