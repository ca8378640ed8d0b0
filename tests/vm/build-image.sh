#!/bin/bash
# Builds the guest image of the VM tier once, from Debian's packages: Debian 13 (trixie) with its kernel (6.12,
# cgroup v2 only), systemd 257 as PID 1 and docker.io with the systemd cgroup driver, socket-activated as on
# Fedora CoreOS and Flatcar. Everything lands in VMDIR (default: $top_builddir/vm):
#   disk.img            raw ext4 root (no partition table; booted read-only-snapshot by tests/vm/vm.sh)
#   vmlinuz initrd.img  the guest's kernel and a small initramfs, for QEMU's direct kernel boot
#   ssh/id_ed25519      the key root logs in with (generated here; the only way in besides the serial console)
#   debcache/           the .debs debootstrap downloaded, kept across rebuilds
#   image.stamp         hash of the recipe: this script and the public key. Same hash, no rebuild.
# Needs root, debootstrap, e2fsprogs (mkfs.ext4 -d), openssh-client; tools/deps.sh installs them.
#   tests/vm/build-image.sh [--force]
set -euo pipefail

top_builddir=${top_builddir:-$PWD}
VMDIR=${VMDIR:-$top_builddir/vm}
SUITE=${VM_SUITE:-trixie}
# the Debian mirror this machine's apt uses, unless VM_MIRROR says otherwise
MIRROR=${VM_MIRROR:-$(grep -rhoE 'https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null |
	head -1 | tr -d ' ' || true)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
INCLUDE=systemd,systemd-sysv,udev,dbus,kmod,procps,iproute2,iptables,curl,ca-certificates,busybox-static,\
docker.io,docker-cli,linux-image-amd64,initramfs-tools,zstd,e2fsprogs,openssh-server,libcurl4t64,libgnutls30t64,jq

die() { echo "build-image: $*" >&2; exit 1; }
for t in debootstrap:debootstrap mkfs.ext4:e2fsprogs ssh-keygen:openssh-client sha256sum:coreutils; do
	command -v "${t%%:*}" >/dev/null || die "${t%%:*} not found (Debian package ${t#*:}; tools/deps.sh installs it)"
done
[ "$(id -u)" = 0 ] || die "run me as root (debootstrap)"

mkdir -p "$VMDIR/ssh" "$VMDIR/debcache"
[ -f "$VMDIR/ssh/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C ballast-vm -f "$VMDIR/ssh/id_ed25519"
stamp=$(cat "$0" "$VMDIR/ssh/id_ed25519.pub" | sha256sum | cut -d' ' -f1)
if [ "${1:-}" != --force ] && [ -f "$VMDIR/disk.img" ] && [ -f "$VMDIR/vmlinuz" ] && [ -f "$VMDIR/initrd.img" ] &&
	[ "$(cat "$VMDIR/image.stamp" 2>/dev/null)" = "$stamp" ]; then
	echo "build-image: $VMDIR/disk.img is current (recipe $stamp)"
	exit 0
fi

t0=$(date +%s)
rm -f "$VMDIR/image.stamp" "$VMDIR/disk.img"
ROOT=$VMDIR/root
rm -rf "$ROOT"
echo "build-image: debootstrap $SUITE from $MIRROR into $ROOT"
nice -n 10 debootstrap --variant=minbase --cache-dir="$VMDIR/debcache" --include="$INCLUDE" \
	"$SUITE" "$ROOT" "$MIRROR" > "$VMDIR/debootstrap.log" 2>&1 ||
	die "debootstrap failed; the end of $VMDIR/debootstrap.log: $(tail -5 "$VMDIR/debootstrap.log")"
t1=$(date +%s)

in_root() { nice -n 10 chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }

echo ballast-vm > "$ROOT/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 ballast-vm\n' > "$ROOT/etc/hosts"
# The root is the whole of /dev/vda. The build and source trees are 9p shares that tests/vm/vm.sh mounts at their
# host paths with systemd.mount-extra= on the kernel command line.
echo '/dev/vda / ext4 rw,errors=remount-ro 0 1' > "$ROOT/etc/fstab"
in_root passwd -d root >/dev/null
in_root systemctl set-default multi-user.target >/dev/null 2>&1

# the serial console logs root in (debugging: tests/vm/vm.sh console)
mkdir -p "$ROOT/etc/systemd/system/serial-getty@ttyS0.service.d"
cat > "$ROOT/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf" <<'UNIT'
[Service]
ExecStart=
ExecStart=-/sbin/agetty --autologin root --noclear --keep-baud 115200 - $TERM
UNIT

# network: systemd-networkd takes QEMU's user-mode DHCP lease (10.0.2.15)
mkdir -p "$ROOT/etc/systemd/network"
printf '[Match]\nName=en* eth*\n[Network]\nDHCP=ipv4\n' > "$ROOT/etc/systemd/network/20-wired.network"
in_root systemctl enable systemd-networkd.service >/dev/null 2>&1

# ssh: root with the key of this build directory only
install -d -m 700 "$ROOT/root/.ssh"
install -m 600 "$VMDIR/ssh/id_ed25519.pub" "$ROOT/root/.ssh/authorized_keys"
printf 'PermitRootLogin prohibit-password\nPasswordAuthentication no\nUseDNS no\n' > "$ROOT/etc/ssh/sshd_config.d/ballast-vm.conf"

# Docker as on Fedora CoreOS and Flatcar: the systemd cgroup driver, started by its socket on first use
mkdir -p "$ROOT/etc/docker"
echo '{ "exec-opts": ["native.cgroupdriver=systemd"] }' > "$ROOT/etc/docker/daemon.json"
in_root systemctl disable docker.service containerd.service >/dev/null 2>&1 || true
in_root systemctl enable docker.socket >/dev/null 2>&1
mkdir -p "$ROOT/etc/systemd/system-preset"
printf 'enable docker.socket\ndisable docker.service\ndisable containerd.service\n' \
	> "$ROOT/etc/systemd/system-preset/10-ballast-vm.preset"

# the test image: busybox-static and its applets, an index.html at / (busybox httpd serves its working directory)
bb=$VMDIR/busybox-image
rm -rf "$bb"
mkdir -p "$bb/bin"
cp "$ROOT/usr/bin/busybox" "$bb/bin/busybox"
for a in sh httpd ls cat echo sleep wget ps nc true; do ln -s busybox "$bb/bin/$a"; done
echo "hello from busybox httpd" > "$bb/index.html"
mkdir -p "$ROOT/opt/images"
tar -C "$bb" -cf "$ROOT/opt/images/busybox.tar" .
rm -rf "$bb"

# a small initramfs: only what a virtio-blk ext4 root needs
sed -i 's/^MODULES=.*/MODULES=list/' "$ROOT/etc/initramfs-tools/initramfs.conf"
printf 'virtio_pci\nvirtio_blk\next4\n9p\n9pnet_virtio\n' > "$ROOT/etc/initramfs-tools/modules"
kver=$(ls "$ROOT/lib/modules" | sort -V | tail -1)
in_root update-initramfs -u -k "$kver" >/dev/null 2>&1
cp "$ROOT/boot/vmlinuz-$kver" "$VMDIR/vmlinuz"
cp "$ROOT/boot/initrd.img-$kver" "$VMDIR/initrd.img"
in_root apt-get clean
{
	echo "kernel $kver"
	in_root dpkg-query -W -f='${Package} ${Version}\n' systemd docker.io containerd runc busybox-static
} > "$VMDIR/versions.txt"
t2=$(date +%s)

truncate -s 6G "$VMDIR/disk.img.tmp"
nice -n 10 mkfs.ext4 -q -F -L ballast-vm -d "$ROOT" "$VMDIR/disk.img.tmp"
mv "$VMDIR/disk.img.tmp" "$VMDIR/disk.img"
rm -rf "$ROOT"
echo "$stamp" > "$VMDIR/image.stamp"
t3=$(date +%s)
echo "build-image: done in $((t3 - t0)) s (debootstrap $((t1 - t0)) s, configure $((t2 - t1)) s, mkfs $((t3 - t2)) s):" \
	$(tr '\n' ' ' < "$VMDIR/versions.txt")
