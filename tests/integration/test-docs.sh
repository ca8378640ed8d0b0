#!/bin/bash
# SPDX-License-Identifier: MIT
# The documentation cannot drift from the code: every ballastctl verb and option (read from ballastctl.c's
# tables), every ballast.json key (config.c's dispatch tables) and every spec field (spec.c's) must be defined in
# its man page (as *NAME* in the scdoc source) and, for keys and fields, in docs/CONFIGURATION.md and
# docs/SERVICES.md (as `NAME`); ballastctl --help must list every verb. The lists come from
# tests/lib/doc-names.py, which reads the sources. And the README stays short (<= 10240 bytes), and no link of
# the README or docs/ points outside the repository.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
BALLASTCTL=${BALLASTCTL:-$top_srcdir/build/ballastctl}
command -v python3 >/dev/null || { echo "Bail out! python3 not found (Debian: python3)"; exit 1; }
[ -x "$BALLASTCTL" ] || { echo "Bail out! $BALLASTCTL not built"; exit 1; }

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { # check DESCRIPTION COMMAND...
	local d=$1; shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}
names() { # names LIST: one a line, or a Bail out
	python3 "$top_srcdir/tests/lib/doc-names.py" "$top_srcdir" "$1" || { echo "Bail out! doc-names.py $1 failed"; exit 1; }
}
# defined NAME FILE MARK: NAME appears in FILE between MARKs (`NAME` in Markdown, *NAME* in scdoc)
defined() { grep -qF -- "$3$1$3" "$2"; }

man_dir=$top_srcdir/man
help_text=$("$BALLASTCTL" --help) || { echo "Bail out! ballastctl --help failed"; exit 1; }

mapfile -t verbs < <(names verbs)
for v in "${verbs[@]}"; do
	check "ballastctl(1) defines the verb '$v'" defined "$v" "$man_dir/ballastctl.1.scd" '*'
	case $v in
	*" "*) ;;
	*) check "ballastctl --help lists the verb '$v'" grep -qE "^  $v( |\$)" <<< "$help_text" ;;
	esac
done
mapfile -t options < <(names options)
for o in "${options[@]}"; do
	check "ballastctl(1) defines the option '$o'" defined "$o" "$man_dir/ballastctl.1.scd" '*'
	check "ballastctl --help lists the option '$o'" grep -qF -- "$o" <<< "$help_text"
done
mapfile -t keys < <(names config-keys)
for k in "${keys[@]}"; do
	check "ballast.json(5) defines the key '$k'" defined "$k" "$man_dir/ballast.json.5.scd" '*'
	check "docs/CONFIGURATION.md defines the key '$k'" defined "$k" "$top_srcdir/docs/CONFIGURATION.md" '`'
done
mapfile -t fields < <(names spec-fields)
for f in "${fields[@]}"; do
	check "ballast-service(5) defines the field '$f'" defined "$f" "$man_dir/ballast-service.5.scd" '*'
	check "docs/SERVICES.md defines the field '$f'" defined "$f" "$top_srcdir/docs/SERVICES.md" '`'
done

size=$(wc -c < "$top_srcdir/README.md")
check "README.md is at most 10240 bytes ($size)" test "$size" -le 10240

# Every Markdown link of the README and docs/: a relative path to a file of the repository (nothing above the
# repository's root), or an anchor; the README has no URL at all, docs/ may cite a project on the web.
links_ok() { # links_ok FILE URLS-ALLOWED
	local file=$1 urls=$2 dir target bad=0
	dir=$(dirname "$file")
	while IFS= read -r target; do
		target=${target%%#*}
		[ -n "$target" ] || continue
		case $target in
		*://* | mailto:*)
			[ "$urls" = yes ] || { echo "# $file: $target points outside the repository"; bad=1; }
			continue ;;
		esac
		local abs
		abs=$(realpath -m "$dir/$target")
		case $abs in
		"$top_srcdir"/*) [ -e "$abs" ] || { echo "# $file: $target does not exist"; bad=1; } ;;
		*) echo "# $file: $target is outside the repository"; bad=1 ;;
		esac
	done < <(grep -oE '\]\([^)]+\)' "$file" | sed -E 's/^\]\((.*)\)$/\1/')
	return $bad
}
top_srcdir=$(realpath "$top_srcdir")
check "the links of README.md stay in the repository" links_ok "$top_srcdir/README.md" no
for f in "$top_srcdir"/docs/*.md; do
	check "the links of ${f#"$top_srcdir"/} to the repository's files resolve" links_ok "$f" yes
done
# Nothing points to files the project does not contain.
check "README.md, docs/ and man/ name no file outside the repository" \
	bash -c '! grep -rnE "PRODUCT\.md|\.\./shared" "$1/README.md" "$1/docs" "$1/man"' _ "$top_srcdir"

echo "1..$n"
[ "$failed" -eq 0 ]
