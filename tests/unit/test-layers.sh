#!/bin/bash
# SPDX-License-Identifier: MIT
# The layers of src/ only point downward. The declared order is the table of docs/ARCHITECTURE.md ("Layers"):
# one row per folder, lowest first, each with the folders it "may use" (all of them rows above it; "every layer"
# is every row above). Every `#include "FOLDER/..."` of a file in src/X/ must name X itself or a folder X may use,
# so an include that reaches up (or sideways, undeclared) fails here, before the link of the per-layer
# libraries (Makefile.am) would. Every folder of src/ must have its row.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
doc=$top_srcdir/docs/ARCHITECTURE.md
[ -r "$doc" ] || { echo "Bail out! $doc not found"; exit 1; }

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }

# the table's rows: "| `src/FOLDER/` | what | may use |" → order[] and uses[FOLDER]
declare -a order=()
declare -A uses=() rank=()
while IFS= read -r line; do
	folder=$(sed -n 's/^| `src\/\([a-z]*\)\/` |.*/\1/p' <<<"$line")
	[ -n "$folder" ] || continue
	may=${line%|}
	may=${may##*|}
	if [[ $may == *"every layer"* ]]; then
		list="${order[*]}"
	else
		list=""
		for word in $(tr ',' ' ' <<<"$may"); do
			[ -n "${rank[$word]+x}" ] && list="$list $word"
		done
	fi
	rank[$folder]=${#order[@]}
	order+=("$folder")
	uses[$folder]=" $list "
done < <(sed -n '/^## Layers/,/^## /p' "$doc")
[ ${#order[@]} -gt 0 ] || { echo "Bail out! no layer table in $doc (## Layers)"; exit 1; }
echo "# layer order: ${order[*]}"

# a "may use" word that names a folder not declared above it is a mistake in the table (it would be dropped above)
while IFS= read -r line; do
	folder=$(sed -n 's/^| `src\/\([a-z]*\)\/` |.*/\1/p' <<<"$line")
	[ -n "$folder" ] || continue
	may=${line%|}
	may=${may##*|}
	bad=""
	for word in $(tr ',' ' ' <<<"$may"); do
		[ -d "$top_srcdir/src/$word" ] || continue
		[[ ${uses[$folder]} == *" $word "* ]] || bad="$bad $word"
	done
	if [ -z "$bad" ]; then ok "$folder: uses only layers below it"; else not_ok "$folder: may use$bad, not below it"; fi
done < <(sed -n '/^## Layers/,/^## /p' "$doc")

for dir in "$top_srcdir"/src/*/; do
	folder=$(basename "$dir")
	if [ -z "${rank[$folder]+x}" ]; then
		not_ok "src/$folder/ has no row in the layer table of docs/ARCHITECTURE.md"
		continue
	fi
	bad=""
	for f in "$dir"*.[ch]; do
		while IFS= read -r target; do
			[ "$target" = "$folder" ] && continue
			[[ ${uses[$folder]} == *" $target "* ]] || bad="$bad ${f#"$top_srcdir"/}→$target"
		done < <(sed -n 's/^#include "\([a-z-]*\)\/.*/\1/p' "$f" | sort -u)
	done
	if [ -z "$bad" ]; then ok "src/$folder/ includes only:${uses[$folder]}"; else not_ok "src/$folder/ reaches outside its layers:$bad"; fi
done

# the check itself can fail: an include of the top layer from the bottom one is refused
if [[ ${uses[${order[0]}]} != *" ${order[-1]} "* ]]; then ok "self-check: ${order[0]} may not include ${order[-1]}"
else not_ok "self-check: ${order[0]} may include ${order[-1]}"; fi

echo "1..$n"
[ "$failed" -eq 0 ]
