#!/bin/bash
# SPDX-License-Identifier: MIT
# The bash completion of ballastctl (completion/ballastctl) offers every verb and option ballastctl has (the
# lists read from ballastctl.c by tests/lib/doc-names.py, so a new verb without its completion fails here),
# update's sub-verbs, and the names of the services of a real ballastd: one started on a private root (--root)
# with two specs in its services directory, asked through the --socket given on the command line.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
BALLASTD=${BALLASTD:-$top_srcdir/build/ballastd}
BALLASTCTL=${BALLASTCTL:-$top_srcdir/build/ballastctl}
command -v python3 >/dev/null || { echo "Bail out! python3 not found (Debian: python3)"; exit 1; }
[ -x "$BALLASTD" ] && [ -x "$BALLASTCTL" ] || { echo "Bail out! ballastd and ballastctl not built"; exit 1; }
PATH=$(dirname "$BALLASTCTL"):$PATH

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }

# complete WORDS...: what the completion offers for the last word, one a line
complete_words() {
	COMP_WORDS=(ballastctl "$@")
	COMP_CWORD=$#
	COMPREPLY=()
	_ballastctl
	printf '%s\n' "${COMPREPLY[@]}"
}
offers() { # offers DESCRIPTION EXPECTED WORDS...
	local d=$1 want=$2; shift 2
	if complete_words "$@" | grep -qxF -- "$want"; then ok "$d"; else not_ok "$d (offered: $(complete_words "$@" | tr '\n' ' '))"; fi
}

# shellcheck source=/dev/null
. "$top_srcdir/completion/ballastctl" || { echo "Bail out! completion/ballastctl does not load"; exit 1; }
[ "$(complete -p ballastctl 2>/dev/null)" = "complete -F _ballastctl ballastctl" ] && ok "registered for ballastctl" ||
	not_ok "registered for ballastctl"

mapfile -t verbs < <(python3 "$top_srcdir/tests/lib/doc-names.py" "$top_srcdir" verbs)
[ ${#verbs[@]} -gt 0 ] || { echo "Bail out! no verbs read from ballastctl.c"; exit 1; }
for v in "${verbs[@]}"; do
	case $v in
	*" "*) offers "'${v%% *}' is followed by '${v#* }'" "${v#* }" "${v%% *}" "" ;;
	*) offers "the verb '$v' is offered" "$v" "" ;;
	esac
done
mapfile -t options < <(python3 "$top_srcdir/tests/lib/doc-names.py" "$top_srcdir" options)
for o in "${options[@]}"; do
	offers "the option '$o' is offered" "$o" -
done
offers "a prefix narrows the verbs (un → undrain)" undrain un
if complete_words un | grep -qx drain; then not_ok "a prefix excludes other verbs"; else ok "a prefix excludes other verbs"; fi

# service names from a real ballastd
root=$(mktemp -d /tmp/test-completion.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$root"; }
trap cleanup EXIT
mkdir -p "$root/etc/ballast/services.d"
echo '{"name": "web", "image": "docker.io/library/nginx:1.25-alpine"}' > "$root/etc/ballast/services.d/web.json"
echo '{"name": "db-2", "runtime": "exec", "command": ["/bin/sleep", "1000"]}' > "$root/etc/ballast/services.d/db-2.json"
sock=$root/ballastd.sock
"$BALLASTD" --root "$root" --socket "$sock" > "$root/ballastd.log" 2>&1 &
pid=$!
# until it answers (a hang guard, not a measurement: it answers within a second here)
for _ in $(seq 300); do
	ballastctl --socket "$sock" --timeout 1 ps 2>/dev/null | grep -q db-2 && break
	sleep 0.1
done
ballastctl --socket "$sock" ps > /dev/null 2>&1 || { echo "Bail out! ballastd did not answer on $sock"; cat "$root/ballastd.log" | sed 's/^/# /'; exit 1; }

for verb in inspect rm restart logs; do
	offers "$verb offers the service 'web'" web --socket "$sock" "$verb" ""
	offers "$verb offers the service 'db-2'" db-2 -s "$sock" "$verb" ""
done
BALLAST_SOCKET=$sock
offers "\$BALLAST_SOCKET names the socket to ask" db-2 rm ""
unset BALLAST_SOCKET
if [ "$(complete_words --socket "$sock" rm d)" = db-2 ]; then ok "a prefix narrows the services (d → db-2)"; else not_ok "a prefix narrows the services"; fi
if [ -z "$(complete_words --socket "$sock" rm web "")" ]; then ok "rm takes one name"; else not_ok "rm takes one name"; fi
if [ -z "$(complete_words --socket "$root/nobody.sock" rm "")" ]; then ok "no daemon: no names, no error"; else not_ok "no daemon: no names"; fi

echo "1..$n"
[ "$failed" -eq 0 ]
