#!/bin/sh
# Runs in the guest (tests/vm/vm-tier.sh calls it over ssh): installs the build's install flavour (dist-bin/, the
# programs a CoreOS host gets) from the 9p share where a Fedora CoreOS host keeps local programs, with the units,
# the group and the test image, and enables the units, as the Ignition config does.
#   guest-install.sh TOP_BUILDDIR TOP_SRCDIR
set -eu
b=$1 s=$2
sbindir=/usr/local/sbin bindir=/usr/local/bin libexecdir=/usr/local/libexec
install -d "$sbindir" "$bindir" "$libexecdir" /etc/ballast
install -m 755 "$b/dist-bin/ballastd" "$sbindir/ballastd"
install -m 755 "$b/dist-bin/ballastctl" "$bindir/ballastctl"
# ballast-run looks for ballast-pause beside itself
install -m 755 "$b/dist-bin/ballast-run" "$b/dist-bin/ballast-pause" "$libexecdir/"
getent group ballast >/dev/null || groupadd --system ballast
sed -e "s|@sbindir@|$sbindir|g" -e "s|@libexecdir@|$libexecdir|g" "$s/units/ballastd.service.in" \
	> /etc/systemd/system/ballastd.service
install -m 644 "$s/units/ballastd.socket" "$s/units/ballast.slice" /etc/systemd/system/
systemctl daemon-reload
systemctl enable ballastd.socket ballastd.service
systemctl start ballastd.socket
# the image the test services run: busybox, imported as a local image (the guest has no registry to pull from)
docker image inspect local/busybox:latest >/dev/null 2>&1 ||
	docker import --change 'CMD ["/bin/sh"]' /opt/images/busybox.tar local/busybox:latest >/dev/null
