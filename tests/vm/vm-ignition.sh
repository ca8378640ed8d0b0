#!/bin/bash
# The VM tier, first boot as on Fedora CoreOS under QEMU (one QEMU run of its own): the guest of
# tests/vm/build-ignition-image.sh (Debian's ignition in a dracut initramfs) boots with the config ballast's own
# generator writes (ignition/ballast-ignition --os fcos --binaries dist-bin --services examples) handed over in
# QEMU's fw_cfg as opt/com.coreos/config, with ignition.firstboot ignition.platform.id=qemu on the kernel command
# line. Checked: Ignition ran in the initramfs and wrote ballast's files, ballastd is up on that first boot, the
# example service (examples/hello.json) serves; the time from power-on (QEMU's start) to its first answer.
# The config gets one unit more than the generator writes: busybox-image.service, which imports the example's
# image from the guest's disk before Docker's first use (the guest has no registry to pull from).
# Without QEMU or the image this test fails; it never skips.
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
# a boot under emulation on a loaded host takes up to 15 min (two of them here): lib.sh's watchdog gets an hour
: "${WATCHDOG_S:=3600}"
export WATCHDOG_S
. "$top_srcdir/tests/lib/lib.sh"
export top_srcdir top_builddir
VM=$top_srcdir/tests/vm/vm.sh
IGN=$top_builddir/vm/ign
now() { date +%s.%N; }
since() { echo "$(now) $1" | awk '{printf "%.1f", $1 - $2}'; }

command -v qemu-system-x86_64 >/dev/null || bail "qemu-system-x86_64 is not installed (Debian package qemu-system-x86; tools/deps.sh installs it)"
command -v jq >/dev/null || bail "jq is not installed (Debian package jq)"
gen=$top_builddir/ignition/ballast-ignition
[ -x "$gen" ] || bail "$gen is missing (make builds it)"
"$top_srcdir/tests/vm/build-ignition-image.sh" > "$top_builddir/vm-ignition-image.log" 2>&1 ||
	bail "the Ignition guest image could not be built: $(tail -3 "$top_builddir/vm-ignition-image.log")"
diag "image: $(tail -1 "$top_builddir/vm-ignition-image.log")"

cfg=$top_builddir/vm/run-ignition.ign
"$gen" --os fcos --binaries "$top_builddir/dist-bin" --services "$top_srcdir/examples" -o "$cfg.gen"
ok $? "ballast-ignition wrote the config ($(stat -c %s "$cfg.gen") bytes)"
unit='[Unit]
Description=The example image (stands in for a registry pull)
After=docker.service
Requires=docker.service
ConditionPathExists=/opt/images/busybox.tar
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c "docker image inspect local/busybox:latest >/dev/null 2>&1 || docker import --change '"'"'CMD [\"/bin/sh\"]'"'"' /opt/images/busybox.tar local/busybox:latest"
[Install]
WantedBy=multi-user.target'
jq --arg u "$unit" '.systemd.units += [{"name": "busybox-image.service", "enabled": true, "contents": $u}]' \
	"$cfg.gen" > "$cfg" && rm -f "$cfg.gen"
ok $? "plus busybox-image.service"

trap '"$VM" stop 60 >/dev/null 2>&1; "$VM" kill' EXIT
t0=$(now)
boot=$(VM_DISK=$IGN/disk.img VM_KERNEL=$IGN/vmlinuz VM_INITRD=$IGN/initrd.img \
	VM_APPEND="ignition.firstboot ignition.platform.id=qemu" \
	VM_QEMU_ARGS="-fw_cfg name=opt/com.coreos/config,file=$cfg" "$VM" boot 900) ||
	bail "the guest did not answer ssh within 900 s (serial log: $top_builddir/vm/run/serial.log)"
diag "power-on to ssh: $boot s"
slow=${boot%.*}
[ "$slow" -ge 20 ] || slow=20
g() { VM_SSH_TIMEOUT=$((slow * 4)) "$VM" ssh "$@" </dev/null; }
gq() { g "$@" 2>/dev/null; }

# Ignition ran in the initramfs: its journal is in this boot's
j=$(gq 'journalctl -b -o cat -t ignition')
like "$j" 'fetched config from "QEMU firmware config"|fetched .*qemu|fw_cfg' "Ignition fetched the config from QEMU's fw_cfg"
like "$j" 'files: createFilesystemsFiles|writing file "/sysroot/usr/local/bin/ballastd"|/usr/local/bin/ballastd' "Ignition's files stage wrote ballastd"
like "$(gq ls -l /usr/local/bin/ballastd)" '^-rwxr-xr-x' "/usr/local/bin/ballastd is there, 0755"
check "the example service's spec is in /etc/ballast/services.d" -- gq test -f /etc/ballast/services.d/hello.json
is "$(gq systemctl is-enabled ballastd.socket)" enabled "ballastd.socket is enabled (Ignition's preset, applied on the first boot)"
# on its first boot ballastd starts by itself: ballastd.service is enabled too, and its services are to run
wait_for $((slow * 4)) g "curl -fs -m 2 http://127.0.0.1:18080/ | grep -q 'hello from ballast'"
ok $? "the example service serves 'hello from ballast' on the first boot"
up=$(gq cat /proc/uptime | cut -d' ' -f1)
diag "power-on to serving: at most $(since "$t0") s (QEMU's start to the answer seen over ssh); guest uptime then $up s"
diag "systemd-analyze: $(gq systemd-analyze time | head -1)"
for u in ignition-files.service docker.service busybox-image.service ballastd.service ballast-hello.service; do
	diag "$u: $(gq systemctl show -P ActiveEnterTimestampMonotonic $u | awk '{printf "%.1f s after the kernel started", $1 / 1e6}')"
done
is "$(gq systemctl is-active ballastd.service)" active "ballastd is active"
like "$(gq ballastctl ps)" 'hello.*active' "ballastctl ps lists hello active"
t=$(now)
"$VM" stop $((slow * 2)) >/dev/null
ok $? "the guest powers off ($(since "$t") s)"
done_testing
