# tests/lib/ignition.sh - the real Ignition (Debian's ignition 2.14) applying a config to a folder, for the tests.
# Source it after tests/lib/lib.sh.
#
#   ign_root ROOT             a fresh target root: the machine's passwd/group files (so that groupadd picks a
#                             free id, as on a real image) and the two shims the file platform needs outside a
#                             CoreOS initramfs: an /etc/selinux/config that says disabled, and a setfiles that
#                             labels nothing (no SELinux here) but keeps the paths Ignition hands it in
#                             ROOT.relabel (NUL-separated), so that a test can see what would be relabelled.
#   ign_apply CONFIG ROOT     runs the stages of a first boot against ROOT: fetch-offline, fetch (when the
#                             config needs the network), files. Ignition's log is in ROOT.log. Returns its status.
#                             Each stage is bounded by IGN_TIMEOUT seconds (default 120): Ignition retries a
#                             failed download for ever, as it should on a booting machine.

IGNITION_BIN=${IGNITION_BIN:-/usr/lib/dracut/modules.d/30ignition/ignition}

ign_root() {
	local root=$1
	rm -rf "$root" "$root.run" "$root.shim"
	mkdir -p "$root/etc/selinux" "$root.run" "$root.shim" || return 1
	cp /etc/passwd /etc/group "$root/etc/" || return 1
	printf 'SELINUX=disabled\nSELINUXTYPE=targeted\n' > "$root/etc/selinux/config"
	# the shim keeps what Ignition asks to relabel (NUL-separated paths on standard input) in ROOT.relabel
	printf '#!/bin/sh\ncat >"%s.relabel"\nexit 0\n' "$root" > "$root.shim/setfiles"
	chmod +x "$root.shim/setfiles"
}

ign_apply() {
	local cfg=$1 root=$2
	local f=(-platform file -config-cache "$root.run/ignition.json" -state-file "$root.run/state"
		-neednet "$root.run/neednet" -log-to-stdout)
	: > "$root.log"
	IGNITION_CONFIG_FILE=$cfg timeout "${IGN_TIMEOUT:-120}" "$IGNITION_BIN" "${f[@]}" -stage fetch-offline >> "$root.log" 2>&1 || return 1
	# fetch-offline leaves the neednet flag when the config has remote resources: then the fetch stage, with
	# the network, as the initramfs would run it
	if [ -e "$root.run/neednet" ]; then
		IGNITION_CONFIG_FILE=$cfg timeout "${IGN_TIMEOUT:-120}" "$IGNITION_BIN" "${f[@]}" -stage fetch >> "$root.log" 2>&1 || return 1
	fi
	IGNITION_CONFIG_FILE=$cfg PATH="$root.shim:$PATH" timeout "${IGN_TIMEOUT:-120}" "$IGNITION_BIN" "${f[@]}" -stage files -root "$root" \
		>> "$root.log" 2>&1
}
