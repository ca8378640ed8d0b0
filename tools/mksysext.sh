#!/bin/sh
# tools/mksysext.sh: builds ballast's system extension image (make sysext; docs/INSTALL.md "As a system extension").
#   --srcdir DIR --bin DIR (the install flavour: ballastd, ballastctl, ballast-run, ballast-pause) --man DIR
#   --version V --arch A (systemd's architecture name; default: this machine's) --url URL --format squashfs|erofs
#   --out DIR
# Writes OUT/ballast-V-A.raw (a squashfs or erofs file system of a /usr tree), OUT/SHA256SUMS (what
# systemd-sysupdate reads from the download directory) and OUT/ballast.transfer (its transfer file for URL).
# The extension is named "ballast" (usr/lib/extension-release.d/extension-release.ballast): a node activates it
# as /etc/extensions/ballast.raw or /var/lib/extensions/ballast.raw, whatever version that file is.
set -eu
srcdir=. bin=dist-bin man= version= arch= url= format=squashfs out=sysext
while [ $# -gt 0 ]; do
	case $1 in
	--srcdir) srcdir=$2 ;; --bin) bin=$2 ;; --man) man=$2 ;; --version) version=$2 ;; --arch) arch=$2 ;;
	--url) url=$2 ;; --format) format=$2 ;; --out) out=$2 ;;
	*) echo "mksysext: unknown option $1" >&2; exit 2 ;;
	esac
	shift 2
done
die() { echo "mksysext: $*" >&2; exit 1; }
case $version in ''|*[!A-Za-z0-9._+~]*) die "--version '$version': letters, digits and . _ + ~ only (no '-': it separates the version from the architecture)" ;; esac
if [ -z "$arch" ]; then
	case $(uname -m) in
	x86_64) arch=x86-64 ;; aarch64) arch=arm64 ;; i?86) arch=x86 ;; armv7*) arch=arm ;;
	ppc64le) arch=ppc64-le ;; s390x) arch=s390x ;; riscv64) arch=riscv64 ;;
	*) die "no systemd architecture name known for $(uname -m): pass --arch" ;;
	esac
fi
case $url in https://*/) ;; *) die "--url '$url': an https:// directory URL ending in '/'" ;; esac
case $format in
squashfs) command -v mksquashfs >/dev/null || die "mksquashfs not found (Debian package squashfs-tools; tools/deps.sh)" ;;
erofs) command -v mkfs.erofs >/dev/null || die "mkfs.erofs not found (Debian package erofs-utils)" ;;
*) die "--format '$format': squashfs or erofs" ;;
esac
for f in ballastd ballastctl ballast-run ballast-pause; do
	[ -x "$bin/$f" ] || die "$bin/$f: missing (make install-flavour)"
done

name=ballast-$version-$arch
mkdir -p "$out"
tree=$(mktemp -d "$out/.tree.XXXXXX")
trap 'rm -rf "$tree"' EXIT
u=$tree/usr
install -d "$u/bin" "$u/sbin" "$u/libexec/ballast" "$u/lib/systemd/system/multi-user.target.d" \
	"$u/lib/systemd/system-preset" "$u/lib/sysusers.d" "$u/lib/tmpfiles.d" "$u/lib/extension-release.d"
install -m 0755 "$bin/ballastd" "$u/sbin/ballastd"
install -m 0755 "$bin/ballastctl" "$u/bin/ballastctl"
# ballast-run finds ballast-pause beside itself
install -m 0755 "$bin/ballast-run" "$bin/ballast-pause" "$u/libexec/ballast/"

sd=$u/lib/systemd/system
sed -e 's|@sbindir@|/usr/sbin|g' -e 's|@libexecdir@|/usr/libexec/ballast|g' \
	"$srcdir/units/ballastd.service.in" > "$sd/ballastd.service"
install -m 0644 "$srcdir/units/ballastd.socket" "$srcdir/units/ballast.slice" "$sd/"
# Started at boot without an enablement in /etc: systemd-sysext merges after the boot transaction was built, so
# a [Install] WantedBy= of a unit in the image would come too late; Upholds= keeps it started once merged.
cat > "$sd/multi-user.target.d/10-ballast.conf" <<'X'
# ballast's system extension: ballastd runs whenever multi-user.target does (stop it for good with
# `systemctl mask --runtime --now ballastd.service`, or remove the extension)
[Unit]
Upholds=ballastd.service
X
printf '# ballast: the control socket and the agent\nenable ballastd.socket\nenable ballastd.service\n' \
	> "$u/lib/systemd/system-preset/50-ballast.preset"
printf '# the group of the control socket (ballastd.socket: SocketGroup=ballast)\ng ballast - -\n' \
	> "$u/lib/sysusers.d/ballast.conf"
cat > "$u/lib/tmpfiles.d/ballast.conf" <<'X'
# ballast's state (applied specs, the update flow) and its configuration
d /var/lib/ballast 0700 root root -
d /etc/ballast 0755 root root -
d /etc/ballast/services.d 0755 root root -
X
if [ -n "$man" ] && ls "$man"/*.[0-9] >/dev/null 2>&1; then
	for p in "$man"/*.[0-9]; do
		case ${p##*/} in ballast-ignition.*) continue ;; esac   # a build-machine tool, not in the image
		s=${p##*.}
		install -d "$u/share/man/man$s"
		gzip -9n < "$p" > "$u/share/man/man$s/${p##*/}.gz"
	done
fi
# ID=_any: one image for Flatcar and Fedora CoreOS (and any systemd host); the binaries need only glibc,
# libsystemd and libcurl of the host (the install flavour). ARCHITECTURE= keeps it off other machines.
# EXTENSION_RELOAD_MANAGER=1: systemd >= 255 reloads its units after merging.
cat > "$u/lib/extension-release.d/extension-release.ballast" <<X
ID=_any
ARCHITECTURE=$arch
NAME=ballast
VERSION_ID=$version
EXTENSION_RELOAD_MANAGER=1
X

raw=$out/$name.raw
rm -f "$raw.tmp"
if [ "$format" = squashfs ]; then
	mksquashfs "$tree" "$raw.tmp" -all-root -noappend -quiet -comp xz >/dev/null
else
	mkfs.erofs -zlz4hc --all-root "$raw.tmp" "$tree" >/dev/null
fi
mv "$raw.tmp" "$raw"
# every image in OUT, as systemd-sysupdate reads the directory
(cd "$out" && sha256sum ballast-*.raw > SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS)
sed "s|@URL@|$url|g" "$srcdir/tools/sysext/ballast.transfer.in" > "$out/ballast.transfer"
echo "$raw: $(wc -c < "$raw") bytes"
