#!/bin/bash
# ballast as a system extension (make sysext, tools/mksysext.sh): the image's layout, systemd-dissect's view of
# it, a real `systemd-sysext merge` in the sandbox (systemd 252), the ballastd of the image taking over the state
# files today's ballastd writes (tests/data/state-v0), and an upgrade to the next image, the way
# systemd-sysupdate does it (the new file beside the old, /etc/extensions/ballast.raw switched to it), with a
# service running: the service is not restarted (same InvocationID, MainPID, NRestarts) and its unit file is
# not rewritten.
#
# The sandbox's mount namespace is made with private propagation (tests/lib/sandbox.sh); systemd-sysext mounts
# its overlay in a child namespace of its own and needs the root to be a shared mount for it to appear in the
# caller's (systemd 252 then says "Merged extensions into '/usr'" yet nothing is merged). A booted systemd makes
# / shared (what every Flatcar or Fedora CoreOS host has); the test does the same inside the sandbox only:
# the sandbox's mounts are its own copies, so nothing propagates to the host.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/sandbox.sh"
. "$here/../lib/lib.sh"

for t in mksquashfs:squashfs-tools unsquashfs:squashfs-tools systemd-dissect:systemd-container systemd-sysext:systemd; do
	command -v "${t%%:*}" >/dev/null || bail "${t%%:*} is not installed (Debian package ${t#*:}; tools/deps.sh)"
done
for f in ballastd ballastctl ballast-run ballast-pause; do
	[ -x "$top_builddir/dist-bin/$f" ] || bail "$top_builddir/dist-bin/$f is missing (make install-flavour)"
done

SB_DIR=$(mktemp -d /var/tmp/ballast-it-sysext.XXXXXX)
trap 'sandbox_stop "$SB_DIR" --purge >/dev/null 2>&1; rm -rf "$SB_DIR"' EXIT
DL=$SB_DIR/download   # what a download server would hold
case $(uname -m) in x86_64) ARCH=x86-64 ;; aarch64) ARCH=arm64 ;; *) ARCH=$(uname -m) ;; esac
mk() { sh "$top_srcdir/tools/mksysext.sh" --srcdir "$top_srcdir" --bin "$top_builddir/dist-bin" --man "$top_builddir/man" \
	--version "$1" --arch "$ARCH" --url https://downloads.example.com/ballast/ --out "$DL" >/dev/null; }

# --- the image ---
mk 0.1.0 || bail "cannot build the image"
mk 0.1.1 || bail "cannot build the next image"
IMG1=$DL/ballast-0.1.0-$ARCH.raw IMG2=$DL/ballast-0.1.1-$ARCH.raw
list=$(unsquashfs -l "$IMG1" | sed 's|^squashfs-root||')
for p in /usr/sbin/ballastd /usr/bin/ballastctl /usr/libexec/ballast/ballast-run /usr/libexec/ballast/ballast-pause \
	/usr/lib/systemd/system/ballastd.service /usr/lib/systemd/system/ballastd.socket /usr/lib/systemd/system/ballast.slice \
	/usr/lib/systemd/system/multi-user.target.d/10-ballast.conf /usr/lib/systemd/system-preset/50-ballast.preset \
	/usr/lib/sysusers.d/ballast.conf /usr/lib/tmpfiles.d/ballast.conf /usr/lib/extension-release.d/extension-release.ballast \
	/usr/share/man/man8/ballastd.8.gz; do
	grep -qx "$p" <<< "$list"; ok $? "the image has $p"
done
is "$(grep -v '^/usr\(/\|$\)' <<< "$list" | grep -v '^$')" "" "nothing outside /usr"
is "$(grep -c 'ballast-ignition' <<< "$list")" 0 "no build-machine tool (ballast-ignition) in it"
x=$(mktemp -d "$SB_DIR/x.XXXXXX")
unsquashfs -q -d "$x/r" "$IMG1" usr/lib/systemd/system usr/lib/extension-release.d usr/lib/sysusers.d usr/lib/tmpfiles.d usr/lib/systemd/system-preset >/dev/null
rel=$(cat "$x/r/usr/lib/extension-release.d/extension-release.ballast")
like "$rel" "(^|$'\n')ID=_any($'\n'|$)" "extension-release: ID=_any (Flatcar and Fedora CoreOS alike)"
like "$rel" "ARCHITECTURE=$ARCH" "extension-release: ARCHITECTURE=$ARCH"
like "$(grep ExecStart= "$x/r/usr/lib/systemd/system/ballastd.service")" '^ExecStart=/usr/sbin/ballastd$' "the unit runs /usr/sbin/ballastd"
like "$(grep BALLAST_RUN_HELPER "$x/r/usr/lib/systemd/system/ballastd.service")" '=/usr/libexec/ballast/ballast-run$' \
	"workloads' helper: /usr/libexec/ballast/ballast-run"
is "$(grep -v '^#' "$x/r/usr/lib/sysusers.d/ballast.conf")" "g ballast - -" "sysusers.d: the group ballast"
like "$(cat "$x/r/usr/lib/tmpfiles.d/ballast.conf")" "d /var/lib/ballast 0700 root root" "tmpfiles.d: /var/lib/ballast 0700"
like "$(cat "$x/r/usr/lib/systemd/system-preset/50-ballast.preset")" "enable ballastd.socket" "the preset enables ballastd.socket"
is "$(cd "$DL" && sha256sum -c SHA256SUMS 2>&1 | grep -c ': OK$')" 2 "SHA256SUMS lists both images, as systemd-sysupdate reads them"
like "$(cat "$DL/ballast.transfer")" "MatchPattern=ballast-@v-%a.raw" "the transfer file matches ballast-VERSION-ARCH.raw"
# systemd-dissect decides by the name the image is activated under: ballast.raw, as /etc/extensions holds it
ln -s "$IMG1" "$x/ballast.raw"
like "$(timeout 30 systemd-dissect "$x/ballast.raw" 2>&1)" "✓ extension for system" "systemd-dissect: an extension for the system, named ballast"

# --- merged in the sandbox: the state today's ballastd leaves is there first ---
sandbox_start "$SB_DIR" || bail "cannot start the sandbox"
root=/proc/$SANDBOX_PID/root
sb mount --make-rshared / || bail "cannot make the sandbox's root a shared mount"
sb sh -c '! getent group ballast >/dev/null || groupdel ballast' || bail "cannot remove a group ballast left from elsewhere"
sb mkdir -p /var/lib/extensions.d /etc/extensions /var/lib/ballast/services
cp "$top_srcdir/tests/data/state-v0/services/sleeper.json" "$root/var/lib/ballast/services/sleeper.json"
cp "$IMG1" "$root/var/lib/extensions.d/"
sb ln -s "/var/lib/extensions.d/${IMG1##*/}" /etc/extensions/ballast.raw
out=$(sb systemd-sysext merge 2>&1); ok $? "systemd-sysext merge: $(tr '\n' ' ' <<< "$out")"
like "$(sb systemd-sysext status)" "/usr +ballast" "systemd-sysext status: ballast merged into /usr"
check "/usr/sbin/ballastd is there, from the image" -- sb test -x /usr/sbin/ballastd
check "the host's own /usr is untouched" -- test ! -e /usr/sbin/ballastd
sb systemd-sysusers >/dev/null 2>&1
check "systemd-sysusers creates the group ballast from the image's sysusers.d" -- sb getent group ballast
sb systemd-tmpfiles --create /usr/lib/tmpfiles.d/ballast.conf >/dev/null 2>&1
is "$(sb stat -c %a /var/lib/ballast)" 700 "systemd-tmpfiles: /var/lib/ballast is 0700"
# a sanitizer build's ballastd needs its allowances (ptrace for LeakSanitizer's exit check) beside the image's unit
ballast_sanitizer_env || bail "cannot set the sanitizers' environment in the sandbox"
ballast_sanitizer_dropin || bail "cannot write the sanitizer drop-in"
sb systemctl daemon-reload
sb systemctl start ballastd.socket ballastd.service
wait_for 20 sb /usr/bin/ballastctl status
ok $? "ballastd of the image runs and answers ballastctl"
is "$(sb readlink "/proc/$(sb systemctl show -P MainPID ballastd.service)/exe")" /usr/sbin/ballastd "it is /usr/sbin/ballastd"

# the state of the earlier ballastd: its applied spec is migrated and its service runs
wait_for 20 sh -c "[ \"\$(nsenter -t $SANDBOX_PID -a -r -w systemctl show -P ActiveState ballast-sleeper.service)\" = active ]"
ok $? "the service applied under the old format runs (ballast-sleeper.service active)"
like "$(cat "$root/var/lib/ballast/services/sleeper.json")" '"version": 1' "its state file is migrated to format 1"
like "$(sandbox_journal -u ballastd.service)" "Migrated /var/lib/ballast/services/sleeper.json from state format 0 to 1" \
	"ballastd says so"

# --- the upgrade, as systemd-sysupdate does it, with the service running ---
prop() { sb systemctl show -P "$1" ballast-sleeper.service; }
inv0=$(prop InvocationID) pid0=$(prop MainPID) nr0=$(prop NRestarts) ts0=$(prop ExecMainStartTimestampMonotonic)
unit=$root/etc/systemd/system/ballast-sleeper.service
m0=$(stat -c %Y.%i "$unit") d0=$(sb systemctl show -P MainPID ballastd.service)
cp "$IMG2" "$root/var/lib/extensions.d/"
sb ln -sfn "/var/lib/extensions.d/${IMG2##*/}" /etc/extensions/.ballast.raw.new
sb mv -T /etc/extensions/.ballast.raw.new /etc/extensions/ballast.raw
out=$(sb systemd-sysext refresh 2>&1); ok $? "systemd-sysext refresh: $(tr '\n' ' ' <<< "$out")"
like "$(sb cat /usr/lib/extension-release.d/extension-release.ballast)" "VERSION_ID=0.1.1" "/usr now has the next image"
sb systemctl daemon-reload
sb systemctl restart ballastd.service
wait_for 20 sb /usr/bin/ballastctl status
ok $? "the next ballastd runs"
d1=$(sb systemctl show -P MainPID ballastd.service)
ok $([ "$d1" != "$d0" ]; echo $?) "ballastd is a new process ($d0 -> $d1)"
# the new ballastd reconciles at its start: wait for its first pass, then compare
wait_for 20 sh -c "nsenter -t $SANDBOX_PID -a -r -w journalctl --no-pager -u ballastd.service _PID=$d1 | grep -q ."
sleep 1
like "$(sb /usr/bin/ballastctl ps)" "sleeper +(file|applied) +exec +active" "the service is active under the next ballastd"
is "$(prop InvocationID)" "$inv0" "the service was not restarted: same InvocationID"
is "$(prop MainPID)" "$pid0" "same MainPID"
is "$(prop NRestarts)" "$nr0" "same NRestarts"
is "$(prop ExecMainStartTimestampMonotonic)" "$ts0" "same start time"
is "$(stat -c %Y.%i "$unit")" "$m0" "its unit file was not rewritten (same mtime and inode: content compared first)"
done_testing
