#!/bin/sh
# tools/test-failures.sh BUILDDIR [LABEL] - for every test of the last `make check` in BUILDDIR that failed: its
# end of its sandbox's journal (NAME.journal, written by tests/lib/sandbox.sh when a sandbox test failed), then its
# failed points, bail-outs and watchdog lines (from NAME.log), last. So that a CI log that shows only its end still
# says what failed and what ballast, its units and Docker were doing.
set -u
dir=$1 label=${2:-$1}
n=0
for trs in $(find "$dir/tests" -name '*.trs' 2>/dev/null | sort); do
	grep -qE '^:test-result: (FAIL|ERROR|XPASS)' "$trs" || continue
	n=$((n + 1))
	base=${trs%.trs}
	echo "test-failures: $label: ${base#"$dir"/}"
	if [ -s "$base.journal" ]; then
		# ballast's own lines first (dockerd's info chatter would push them out), then Docker's errors
		echo "    the end of its sandbox's journal, without dockerd and containerd:"
		grep -avE ' (dockerd|containerd)\[[0-9]+\]:' "$base.journal" | tail -n 40 | cut -c1-220 | sed 's/^/      /'
		echo "    dockerd's and containerd's last errors and warnings:"
		grep -aE ' (dockerd|containerd)\[[0-9]+\]:.*level=(error|warning)' "$base.journal" | tail -n 8 |
			cut -c1-220 | sed 's/^/      /'
	fi
	# the failed points and what they got, last: a CI log cut to its end keeps them
	echo "    $(basename "$base")'s failed points:"
	grep -aE '^(not ok|Bail out!|# watchdog|#   (got|want|expected):)' "$base.log" 2>/dev/null | grep -v '# TODO' |
		head -n 20 | cut -c1-300 | sed 's/^/    /'
done
echo "test-failures: $label: $n tests failed"
