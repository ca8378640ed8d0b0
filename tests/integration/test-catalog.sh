#!/bin/bash
# SPDX-License-Identifier: MIT
# The journal catalog (catalog/ballast.catalog) explains every MESSAGE_ID the code logs: the ids are read from the
# sources (tests/lib/doc-names.py message-ids), the catalog is built by journalctl itself into a private root
# (journalctl --root=DIR --update-catalog, as systemd does at boot), and each id must be listed there with a
# subject; an entry whose id the code no longer defines fails too.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
command -v python3 >/dev/null || { echo "Bail out! python3 not found (Debian: python3)"; exit 1; }
command -v journalctl >/dev/null || { echo "Bail out! journalctl not found (Debian: systemd)"; exit 1; }

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }

root=$(mktemp -d /tmp/test-catalog.XXXXXX)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/lib/systemd/catalog"
cp "$top_srcdir/catalog/ballast.catalog" "$root/usr/lib/systemd/catalog/"
if journalctl --root="$root" --update-catalog 2> "$root/err" && [ ! -s "$root/err" ]; then
	ok "journalctl --update-catalog reads catalog/ballast.catalog without a complaint"
else
	not_ok "journalctl --update-catalog reads catalog/ballast.catalog: $(tr '\n' ' ' < "$root/err")"
fi
listed=$(journalctl --root="$root" --list-catalog 2>&1)

mapfile -t ids < <(python3 "$top_srcdir/tests/lib/doc-names.py" "$top_srcdir" message-ids)
[ ${#ids[@]} -gt 0 ] || { echo "Bail out! no MESSAGE_ID read from the sources"; exit 1; }
for id in "${ids[@]}"; do
	if grep -qE "^$id ballast: .+" <<< "$listed"; then
		ok "MESSAGE_ID $id has a catalog entry: $(grep "^$id" <<< "$listed" | cut -d' ' -f2-)"
	else
		not_ok "MESSAGE_ID $id has a catalog entry"
	fi
done
while read -r id _; do
	if printf '%s\n' "${ids[@]}" | grep -qx "$id"; then ok "catalog entry $id is an id the code logs"
	else not_ok "catalog entry $id is an id the code logs (stale)"; fi
done < <(grep -E '^[0-9a-f]{32} ' <<< "$listed")

echo "1..$n"
[ "$failed" -eq 0 ]
