#!/bin/bash
# SPDX-License-Identifier: MIT
# bench/bench-socket.sh [BUILDDIR] [CLIENTS...] - the control socket under load: for each CLIENTS count (default
# 200), ballastd in a private systemd sandbox (tests/lib/sandbox.sh; the host is not touched) serves that many
# clients calling GetStatus back to back (bench/varlink-load, one call in flight per connection) for 8 s, while
# 20 clients send a message a byte a second, others connect and hang up mid-message in a loop, and others send
# messages of exactly 128 KiB and 128 KiB + 1 byte. Prints, per run: the connections ballastd held at once, the
# p50 and p99 latency of GetStatus and the calls answered, and ballastd's memory (idle VmRSS, peak VmHWM,
# RssAnon before and after).
# It is tests/integration/integration-socket.sh (which also asserts the bounds) with its "# figure:" lines printed.
# Needs root, and a build with `make check` done (tests/helpers/vl-send, bench/varlink-load).
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../build}" && pwd) || exit 2
shift || true
[ -x "$build/bench/varlink-load" ] && [ -x "$build/tests/helpers/vl-send" ] ||
	{ echo "bench-socket: run 'make check' (or make bench/varlink-load tests/helpers/vl-send) in $build first" >&2; exit 2; }
for n in "${@:-200}"; do
	echo "== $n clients"
	out=$(LOAD_CLIENTS=$n top_srcdir="$here/.." top_builddir="$build" bash "$here/../tests/integration/integration-socket.sh" 2>&1)
	st=$?
	printf '%s\n' "$out" | sed -n 's/^# figure: /  /p'
	[ "$st" -eq 0 ] || { printf '%s\n' "$out" | grep '^not ok' | sed 's/^/  /'; echo "  (a bound of the test was not met)"; }
done
