#!/bin/sh
# The one command that installs what the build needs, builds, and runs every test (unit and integration,
# against a real systemd and a real dockerd booted in a private sandbox). Run as root on Debian 12.
# Twice: a plain build in build/ (with ballastd under valgrind memcheck and a short libFuzzer run of every
# harness), then the same suite built with AddressSanitizer, LeakSanitizer and UBSan in build-asan/, where any
# report of any ballast program fails the test that started it (tests/lib/lib.sh).
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	echo "test: run me as root (the integration tests boot a private systemd and dockerd)" >&2
	exit 1
fi
tools/deps.sh
tools/build.sh
rc=0
# the libFuzzer harnesses, built with clang beside this build (build/fuzz), before the tests start: make check's
# tests/fuzz/fuzz-smoke.sh runs each of them briefly, and its TAP lines count like every other test's
find build/tests build-asan/tests -name '*.time' -delete 2>/dev/null || true
t0=$(date +%s)
(cd build && make -j"$(nproc)" fuzz-targets && make -j"$(nproc)" check) || rc=1
plain_s=$(( $(date +%s) - t0 ))
tools/test-times.sh build "plain build"

echo "test: the suite again, built with ASan + UBSan (build-asan/)"
mkdir -p build-asan
if (cd build-asan && { [ -f Makefile ] || ../configure --enable-werror --enable-asan --enable-ubsan; } &&
	make -j"$(nproc)" && make -j"$(nproc)" check); then
	:
else
	rc=1
fi
asan_s=$(( $(date +%s) - t0 - plain_s ))
tools/test-times.sh build-asan "ASan + UBSan build"
echo "test: wall clock: plain build ${plain_s} s (fuzz targets and make check), ASan + UBSan build ${asan_s} s (build and make check)"
# what failed, with the end of its sandbox's journal: last, where a CI log that keeps only its end shows it
tools/test-failures.sh build "plain build"
tools/test-failures.sh build-asan "ASan + UBSan build"
# A report written after its test had checked (by a process that outlived the test) fails the run as well.
late=$(find build-asan/sanitizer-logs -type f -size +0 2>/dev/null || true)
if [ -n "$late" ]; then
	echo "test: sanitizer reports:" $late >&2
	rc=1
fi
exit $rc
