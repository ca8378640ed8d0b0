#!/bin/sh
# The one command that installs what the build needs, builds, and runs every test (unit and integration,
# against a real systemd and a real dockerd booted in a private sandbox). Run as root on Debian 12.
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	echo "test: run me as root (the integration tests boot a private systemd and dockerd)" >&2
	exit 1
fi
tools/deps.sh
tools/build.sh
cd build
# the libFuzzer harnesses, built with clang beside this build (build/fuzz), before the tests start: make check's
# tests/fuzz-smoke.sh runs each of them briefly, and its TAP lines count like every other test's
make -j"$(nproc)" fuzz-targets
make -j"$(nproc)" check
