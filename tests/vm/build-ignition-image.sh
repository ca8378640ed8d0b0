#!/bin/bash
# The Ignition variant of the VM tier's guest: the image of tests/vm/build-image.sh with Debian's `ignition` in a
# dracut initramfs, so that the guest takes its first-boot config from QEMU's fw_cfg (opt/com.coreos/config,
# kernel arguments ignition.firstboot ignition.platform.id=qemu) exactly as Fedora CoreOS does under QEMU.
# Everything lands in VMDIR/ign (default $top_builddir/vm/ign): disk.img, vmlinuz, initrd.img, image.stamp (the
# hash of this script and of the base image's stamp: same hash, no rebuild). Three adaptations of Debian's package:
#  - Debian's ignition always relabels the files it wrote (SELinux): a policy-less /etc/selinux/config and a
#    setfiles that does nothing stand in (the guest has no SELinux);
#  - "enabled": true of a unit is a preset, applied by systemd on a first boot only: /etc/machine-id says
#    "uninitialized", so that the first boot is one;
#  - Ignition on the first boot only (ignition-once, below): QEMU boots every time with ignition.firstboot.
# Needs root, a loop device (mount -o loop), and the Debian mirror the base image came from.
#   tests/vm/build-ignition-image.sh [--force]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top_builddir=${top_builddir:-$PWD}
VMDIR=${VMDIR:-$top_builddir/vm}
IGN=$VMDIR/ign
die() { echo "build-ignition-image: $*" >&2; exit 1; }

VMDIR=$VMDIR "$here/build-image.sh" >/dev/null || die "the base image could not be built"
mkdir -p "$IGN"
stamp=$(cat "$0" "$VMDIR/image.stamp" | sha256sum | cut -d' ' -f1)
if [ "${1:-}" != --force ] && [ -f "$IGN/disk.img" ] && [ -f "$IGN/initrd.img" ] &&
	[ "$(cat "$IGN/image.stamp" 2>/dev/null)" = "$stamp" ]; then
	echo "build-ignition-image: $IGN/disk.img is current (recipe $stamp)"
	exit 0
fi
t0=$(date +%s)
rm -f "$IGN/image.stamp" "$IGN/disk.img.tmp"
cp --sparse=always "$VMDIR/disk.img" "$IGN/disk.img.tmp"
R=$IGN/root
mkdir -p "$R"
mount -o loop "$IGN/disk.img.tmp" "$R"
cleanup() {
	umount -R "$R/sys" 2>/dev/null || true
	umount "$R/proc" "$R/dev" 2>/dev/null || true
	umount "$R" 2>/dev/null || true
}
trap cleanup EXIT
mount -t proc proc "$R/proc"
mount --rbind /sys "$R/sys"
mount --make-rslave "$R/sys"
mount --bind /dev "$R/dev"
cp /etc/resolv.conf "$R/etc/resolv.conf.ign"
mv "$R/etc/resolv.conf" "$R/etc/resolv.conf.orig" 2>/dev/null || true
cp "$R/etc/resolv.conf.ign" "$R/etc/resolv.conf"
in_root() { nice -n 10 chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }
in_root apt-get -q update > "$IGN/apt.log" 2>&1 || die "apt-get update failed: $(tail -3 "$IGN/apt.log")"
in_root apt-get -q install -y --no-install-recommends dracut dracut-network ignition >> "$IGN/apt.log" 2>&1 ||
	die "apt-get install failed: $(tail -3 "$IGN/apt.log")"
in_root apt-get clean
rm -f "$R/etc/resolv.conf" "$R/etc/resolv.conf.ign"
mv "$R/etc/resolv.conf.orig" "$R/etc/resolv.conf" 2>/dev/null || true
# no SELinux here: the relabel Debian's ignition always runs finds a policy-less configuration and does nothing
mkdir -p "$R/etc/selinux/none/contexts/files"
printf 'SELINUX=disabled\nSELINUXTYPE=none\n' > "$R/etc/selinux/config"
: > "$R/etc/selinux/none/contexts/files/file_contexts"
printf '#!/bin/sh\ncat >/dev/null; exit 0\n' > "$R/usr/sbin/setfiles"
chmod 755 "$R/usr/sbin/setfiles"
# Ignition on the first boot only. Fedora CoreOS's bootloader drops ignition.firstboot from the kernel command line
# after the first boot; QEMU's direct kernel boot gives every boot, a guest's reboot too, the same command line, and
# Ignition's files stage fails when it runs again over what it wrote. A module of ours (ignition-once) adds a unit to
# the initramfs that, when the root's /etc/machine-id is no longer "uninitialized" (systemd commits it on the first
# boot), replaces the config Ignition fetched (/run/ignition.json, which its later stages read) with an empty one.
m=$R/usr/lib/dracut/modules.d/99ignition-once
mkdir -p "$m"
cat > "$m/ignition-once.service" <<'UNIT'
[Unit]
Description=Ignition's config only on the first boot (not again on a reboot with the same command line)
DefaultDependencies=no
After=initrd-root-fs.target ignition-mount.service ignition-fetch-offline.service ignition-fetch.service
Before=ignition-files.service
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/bin/ignition-once
UNIT
cat > "$m/ignition-once.sh" <<'SCRIPT'
#!/bin/sh
read -r id < /sysroot/etc/machine-id || exit 0
if [ -z "$id" ] || [ "$id" = uninitialized ]; then exit 0; fi
echo "ignition-once: not the first boot (machine id $id): the config is not applied again" > /dev/kmsg
echo '{"ignition": {"version": "3.3.0"}}' > /run/ignition.json
SCRIPT
cat > "$m/module-setup.sh" <<'SETUP'
#!/bin/bash
check() { return 0; }
depends() { echo ignition; }
install() {
	inst_script "$moddir/ignition-once.sh" /usr/bin/ignition-once
	inst_simple "$moddir/ignition-once.service" "$systemdsystemunitdir/ignition-once.service"
	mkdir -p "$initdir$systemdsystemunitdir/ignition-files.service.requires"
	ln -sf ../ignition-once.service "$initdir$systemdsystemunitdir/ignition-files.service.requires/ignition-once.service"
}
SETUP
chmod 755 "$m/module-setup.sh" "$m/ignition-once.sh"
# a first boot: systemd applies the presets Ignition wrote ("enabled": true)
echo uninitialized > "$R/etc/machine-id"
kver=$(ls "$R/lib/modules" | sort -V | tail -1)
in_root dracut --no-hostonly --force --add "ignition ignition-once systemd-networkd" --omit plymouth \
	--add-drivers "virtio_blk virtio_pci virtio_net ext4 qemu_fw_cfg 9p 9pnet_virtio" \
	/boot/initrd-ign.img "$kver" > "$IGN/dracut.log" 2>&1 || die "dracut failed: $(tail -3 "$IGN/dracut.log")"
cp "$R/boot/vmlinuz-$kver" "$IGN/vmlinuz"
cp "$R/boot/initrd-ign.img" "$IGN/initrd.img"
in_root dpkg-query -W -f='${Package} ${Version}\n' ignition dracut > "$IGN/versions.txt"
cleanup
trap - EXIT
mv "$IGN/disk.img.tmp" "$IGN/disk.img"
echo "$stamp" > "$IGN/image.stamp"
echo "build-ignition-image: done in $(($(date +%s) - t0)) s:" $(tr '\n' ' ' < "$IGN/versions.txt")
