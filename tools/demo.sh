#!/bin/bash
# Runs ballast for real: builds it, boots a private systemd + dockerd sandbox (own namespaces, nothing on the
# host changes), installs ballastd there with its socket, applies the sample service examples/hello.json (busybox
# httpd in Docker, port 18080, an HTTP health check) and shows `ballastctl status` and `ps`. Run as root on Debian 12.
# DEMO_KEEP=1 leaves the sandbox running and prints how to use it and how to stop it.
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	echo "demo: run me as root (it boots a private systemd and dockerd)" >&2
	exit 1
fi
tools/deps.sh
tools/build.sh >/dev/null
# From here on no errexit: tests/lib/sandbox.sh is a library written without it (its boot loop polls with
# `st=$(...)`, which would end the demo silently at the first "starting"); each step is checked instead.
set +e
top_srcdir=$PWD top_builddir=$PWD/build
. tests/lib/sandbox.sh
. tests/lib/lib.sh
fail() { echo "demo: $*" >&2; exit 1; }
DEMO_DIR=/var/tmp/ballast-demo
[ "${DEMO_KEEP:-0}" = 1 ] && export SANDBOX_NO_WATCHDOG=1 || trap 'sandbox_stop "$DEMO_DIR" >/dev/null 2>&1' EXIT
echo "demo: booting a private systemd with dockerd in $DEMO_DIR ..."
sandbox_start "$DEMO_DIR" --docker || fail "the sandbox did not start (see the lines above)"
ballast_install || fail "could not install ballast into the sandbox"
sb systemctl start ballastd.socket || fail "ballastd.socket did not start"
echo "demo: \$ ballastctl status      (the first call starts ballastd by socket activation)"
bctl status || fail "ballastctl status failed; the journal: $(sandbox_journal -u ballastd.socket -u ballastd.service | tail -n 20)"
echo
echo "demo: \$ ballastctl apply --wait examples/hello.json"
bctl -t 60 apply --wait examples/hello.json || fail "apply failed; the journal: $(sandbox_journal -u ballastd.service -u ballast-hello.service | tail -n 20)"
echo
echo "demo: \$ curl http://127.0.0.1:18080/      (inside the sandbox's network namespace)"
sb curl -s -m 2 http://127.0.0.1:18080/ || fail "the sample service does not answer"
echo
echo "demo: \$ ballastctl ps"
bctl ps || fail "ballastctl ps failed"
echo
echo "demo: \$ ballastctl status"
bctl status || fail "ballastctl status failed"
if [ "${DEMO_KEEP:-0}" = 1 ]; then
	echo
	echo "demo: the sandbox keeps running. Use it with:  tests/lib/sandbox.sh exec $DEMO_DIR $BALLAST_BIN/ballastctl status"
	echo "demo: stop it with:                           tests/lib/sandbox.sh stop $DEMO_DIR"
fi
