# SPDX-License-Identifier: MIT
# bench/bench-lib.sh - what the sandbox benchmarks share (sourced after tests/lib/sandbox.sh and lib.sh):
# logging, a bounded command inside the sandbox, the ratio of two figures, the teardown (BENCH_KEEP=1 leaves
# the sandbox up), the `answers` helper, and the sandbox brought up with ballastd at its production log level
# and an anchor container. The caller sets SB_DIR and BIN (a directory under SB_DIR) first.

log() { echo "bench: $*" >&2; }
# sbt SECONDS CMD...: CMD inside the sandbox, bounded.
sbt() { timeout -k 1 "$1" nsenter -t "$SANDBOX_PID" -a -r -w/ "${@:2}"; }
# ratio A B: A / B with two decimals, "-" when either is unknown or B is 0
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }

bench_cleanup() {
	trap - EXIT INT TERM HUP
	[ -n "${SB_DIR:-}" ] || return
	if [ -n "${BENCH_KEEP:-}" ] && [ -n "${SANDBOX_PID:-}" ]; then
		log "BENCH_KEEP: sandbox left up in $SB_DIR (tests/lib/sandbox.sh stop $SB_DIR --purge)"
		return
	fi
	sandbox_stop "$SB_DIR" --purge >/dev/null 2>&1
	rm -rf "$SB_DIR"
}

# $BIN/answers URL TIMEOUT_S, run inside the sandbox: waits until URL answers (exit 1 past TIMEOUT_S)
bench_write_answers() {
	cat > "$BIN/answers" <<'EOS'
#!/bin/sh
url=$1 end=$(( $(date +%s) + $2 ))
while ! curl -sf -m 0.2 -o /dev/null "$url"; do
	[ "$(date +%s)" -lt "$end" ] || exit 1
	sleep 0.02
done
EOS
	chmod +x "$BIN/answers"
}

# Boots the sandbox in SB_DIR with Docker, installs ballast, runs ballastd at the production log level (the
# test drop-in's --log-level debug replaced), checks it answers, and starts bench-anchor: a container that keeps
# docker0 up whatever else dies (bench-supervisor.sh's header says why). Sets ROOT. Exits 1 on failure.
bench_sandbox_up() {
	log "booting the sandbox in $SB_DIR"
	sandbox_start "$SB_DIR" --docker >/dev/null 2>"$SB_DIR/sandbox-start.log" || {
		cat "$SB_DIR/sandbox-start.log" >&2; log "cannot start the sandbox"; exit 1; }
	ballast_install || { log "cannot install ballast into the sandbox"; exit 1; }
	ROOT=/proc/$SANDBOX_PID/root
	cat > "$ROOT/etc/systemd/system/ballastd.service.d/20-bench.conf" <<EOS
[Service]
ExecStart=
ExecStart=$BALLAST_BIN/ballastd
EOS
	sbt 30 systemctl daemon-reload
	sbt 30 systemctl start ballastd.socket || { log "cannot start ballastd.socket"; exit 1; }
	sbt 60 "$BALLAST_BIN/ballastctl" status >/dev/null || { log "ballastd does not answer"; exit 1; }
	sbt 60 /usr/bin/docker run -d --name bench-anchor local/busybox:latest sleep 100000000 >/dev/null ||
		{ log "cannot run the anchor container"; exit 1; }
}
