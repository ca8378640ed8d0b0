#!/bin/bash
# Fault: the disk of /var/lib/ballast is full. A 512 KiB tmpfs is mounted over /var/lib/ballast inside the sandbox
# (before ballastd starts, so its ReadWritePaths= bind sees it), a service is applied, then the file system is
# filled to the last block with dd. Apply (a new service, and a change of the running one) must be refused with an
# error that names the cause (ENOSPC) and the file, write nothing (no spec, no unit, no temp file left over), and
# touch no running workload; once space is freed, the same applies work.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/sandbox.sh"
. "$here/../lib/lib.sh"

SB_DIR=$(mktemp -d /var/tmp/ballast-it-fault-disk.XXXXXX)
trap 'sandbox_stop "$SB_DIR" --purge >/dev/null 2>&1; rm -rf "$SB_DIR"' EXIT
sandbox_start "$SB_DIR" || bail "cannot start the sandbox"
ballast_install || bail "cannot install ballast into the sandbox"
root=/proc/$SANDBOX_PID/root
S=/var/lib/ballast
SPECS=$SB_DIR/specs
mkdir -p "$SPECS"

sb mount -t tmpfs -o size=512k,mode=755 ballast-full "$S" || bail "cannot mount a small tmpfs over $S"
sb systemctl start ballastd.socket

printf '{"name": "keep", "runtime": "exec", "command": ["/bin/sleep", "infinity"], "env": {"V": "1"}}\n' > "$SPECS/keep.json"
printf '{"name": "keep", "runtime": "exec", "command": ["/bin/sleep", "infinity"], "env": {"V": "2"}}\n' > "$SPECS/keep2.json"
printf '{"name": "fresh", "runtime": "exec", "command": ["/bin/sleep", "infinity"]}\n' > "$SPECS/fresh.json"
bctl -t 20 apply --wait "$SPECS/keep.json" >/dev/null
ok $? "a service is applied while there is space"
pid0=$(sb systemctl show -P MainPID ballast-keep.service)
spec0=$(cat "$root$S/services/keep.json")
unit0=$(cat "$root/etc/systemd/system/ballast-keep.service")
like "$spec0" '"V": "1"' "its spec is persisted"

# --- fill the file system to the last block ---
sb sh -c "dd if=/dev/zero of=$S/filler bs=4k >/dev/null 2>&1; sync"
out=$(sb dd if=/dev/zero of=$S/probe bs=4k count=1 2>&1); sb rm -f "$S/probe"
like "$out" "No space left on device" "the state directory is full (a write there fails with ENOSPC)"
# every file and link with size and mtime, directories by name (a temp file created and unlinked again touches
# its directory's mtime, and that is not a write of state)
snap() { (cd "$root" && find etc/systemd/system var/lib/ballast \( -type d -printf '%p/\n' \) -o -printf '%p %s %T@\n' 2>/dev/null | sort); }
before=$(snap)

out=$(bctl apply "$SPECS/fresh.json" 2>&1); st=$?
is "$st" 1 "disk full: apply of a new service fails (exit 1)"
like "$out" "StateWriteFailed" "with StateWriteFailed"
# (the spec is kept in its history first, docs/SERVICES.md "Updates and rollback": that is the first write)
like "$out" "$S/(services/fresh.json|history/fresh/1.json)" "naming the file it could not write"
like "$out" "No space left on device \(ENOSPC\)" "and the cause, ENOSPC"
out=$(bctl apply "$SPECS/keep2.json" 2>&1); st=$?
like "$st $out" "^1 .*keep2.json.*No space left on device \(ENOSPC\)" "a change of the running service is refused the same way"
is "$(snap)" "$before" "nothing was written: unit dir and state dir unchanged (no spec, no unit, no temp file)"
is "$(cat "$root$S/services/keep.json")" "$spec0" "the old spec is intact, byte for byte"
is "$(cat "$root/etc/systemd/system/ballast-keep.service")" "$unit0" "and so is its unit"
is "$(sb systemctl show -P ActiveState ballast-fresh.service)" inactive "the refused service does not run"
is "$(sb systemctl show -P MainPID ballast-keep.service) $(sb systemctl show -P ActiveState ballast-keep.service)" "$pid0 active" \
	"the running workload was not touched (same MainPID, active)"
like "$(bctl status)" "Node: " "ballastd keeps answering"
like "$(sandbox_journal -u ballastd.service BALLAST_EVENT=apply-failed)" "Cannot persist the spec of fresh: No space left on device" \
	"the journal says why (BALLAST_EVENT=apply-failed)"

# --- space freed: the same applies work ---
sb rm -f "$S/filler"
bctl -t 20 apply --wait "$SPECS/fresh.json" >/dev/null
ok $? "space freed: the new service is applied"
is "$(sb systemctl show -P ActiveState ballast-fresh.service)" active "and runs"
bctl -t 20 apply --wait "$SPECS/keep2.json" >/dev/null
ok $? "the change of the running service is applied"
like "$(cat "$root$S/services/keep.json")" '"V": "2"' "its new spec is persisted"
pid1=$(sb systemctl show -P MainPID ballast-keep.service)
like "$(sb cat /proc/$pid1/environ | tr '\0' '\n')" "^V=2$" "and it runs with it (restarted: MainPID $pid0 → $pid1)"
is "$(cd "$root$S" && find . -name '.#*')" "" "no temporary file is left in the state directory"

done_testing
