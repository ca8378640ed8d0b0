#!/bin/bash
# A short libFuzzer run of every harness in tests/fuzz/ (FUZZ_SMOKE_SECONDS each, default 15), one TAP line per
# target: "ok" when it ran, executed inputs and nothing crashed or broke an invariant. It uses the clang build
# that `make fuzz-targets` makes in $top_builddir/fuzz (and makes it when it is not there), or this build when it
# is a --enable-fuzz one. The fuzzers run at nice 19 so that tests running beside it keep their timing.
# Crashing inputs are kept in $top_builddir/fuzz-smoke-artifacts/TARGET/ (the line says which).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/lib.sh"

seconds=${FUZZ_SMOKE_SECONDS:-15}
if grep -q '^FUZZ_LDFLAGS = -fsanitize=fuzzer' "$top_builddir/Makefile"; then
	fuzz_builddir=$top_builddir
	make -C "$fuzz_builddir" fuzz-targets >/dev/null || bail "cannot build the fuzz targets in $fuzz_builddir"
else
	if grep -q '^CLANG = *$' "$top_builddir/Makefile"; then
		echo "1..0 # SKIP clang not found at configure time (tools/deps.sh installs clang and libclang-rt-14-dev)"
		exit 0
	fi
	fuzz_builddir=$top_builddir/fuzz
	make -C "$top_builddir" fuzz-targets >"$top_builddir/fuzz-smoke-build.log" 2>&1 ||
		bail "cannot build the fuzz targets (see $top_builddir/fuzz-smoke-build.log)"
fi

harnesses=()
for c in "$top_srcdir"/tests/fuzz/fuzz-*.c; do
	h=$fuzz_builddir/tests/fuzz/$(basename "$c" .c)
	[ -x "$h" ] || bail "no harness $h for $c"
	harnesses+=("$h")
done
[ ${#harnesses[@]} -ge 12 ] || bail "only ${#harnesses[@]} harnesses in $top_srcdir/tests/fuzz"

work=$(mktemp -d "${TMPDIR:-/tmp}/ballast-fuzz-smoke.XXXXXX")
trap 'rm -rf "$work"' EXIT
nice -n 19 sh "$top_srcdir/tests/fuzz/run.sh" --tap --seconds "$seconds" --srcdir "$top_srcdir" --work "$work" \
	"${harnesses[@]}"
rc=$?
if [ -n "$(find "$work/artifacts" -type f 2>/dev/null)" ]; then
	rm -rf "$top_builddir/fuzz-smoke-artifacts"
	cp -r "$work/artifacts" "$top_builddir/fuzz-smoke-artifacts"
	cp "$work"/*.log "$top_builddir/fuzz-smoke-artifacts/" 2>/dev/null
	echo "# crashing inputs and logs: $top_builddir/fuzz-smoke-artifacts/"
fi
exit $rc
