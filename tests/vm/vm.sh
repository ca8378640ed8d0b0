#!/bin/bash
# Runs the guest that tests/vm/build-image.sh built, under QEMU (software emulation: no KVM needed), one at a time
# per build directory. Every command is bounded in time.
#   vm.sh start          boot it in the background: direct kernel boot, the raw disk in snapshot mode (every boot
#                        starts from the pristine image; writes survive a guest reboot, not the QEMU process), the
#                        build tree (read-write) and the source tree (read-only) shared over virtio-9p and mounted
#                        in the guest at their host paths, ssh forwarded from a free port on 127.0.0.1
#   vm.sh wait-ssh [S]   wait at most S seconds (default 600) until ssh answers; prints the seconds since start
#   vm.sh boot [S]       start, then wait-ssh [S]: prints the seconds from QEMU's start to ssh; when the guest does
#                        not answer, prints the serial console's last lines to stderr and ends QEMU (every test
#                        boots with this)
#   vm.sh ssh CMD...     run CMD in the guest as root, killed after $VM_SSH_TIMEOUT seconds (default 600); when
#                        stdin is /dev/null, a connection that ssh itself could not make (exit 255: sshd too slow
#                        on a loaded host) is tried again, up to 3 times
#   vm.sh put PATH       write stdin to PATH in the guest (tried up to 3 times, like ssh)
#   vm.sh stop [S]       power the guest off, wait at most S seconds (default 60), then kill QEMU; always ends it
#   vm.sh kill           end QEMU now (SIGTERM, then SIGKILL)
#   vm.sh console        the serial console (socat; the log is always in $VMDIR/run/serial.log)
# Environment: top_builddir, top_srcdir, VMDIR (default $top_builddir/vm), VM_MEM (MiB, 2048), VM_SMP (2),
# VM_FWD_PORTS ("guest ports" forwarded from the same port on the host's 127.0.0.1), VM_GUESTFWD ("GUEST:HOST ...":
# the guest's 10.0.2.100:GUEST is the host's 127.0.0.1:HOST, through socat); another image:
# VM_DISK, VM_KERNEL, VM_INITRD (default: disk.img, vmlinuz, initrd.img of VMDIR), VM_APPEND (more kernel
# arguments), VM_QEMU_ARGS (more QEMU arguments, split at spaces: e.g. -fw_cfg name=opt/com.coreos/config,file=X).
set -euo pipefail

top_builddir=$(cd "${top_builddir:-$PWD}" && pwd)
top_srcdir=$(cd "${top_srcdir:-$(dirname "$0")/../..}" && pwd)
VMDIR=${VMDIR:-$top_builddir/vm}
RUN=$VMDIR/run
SSH_TIMEOUT=${VM_SSH_TIMEOUT:-600}

die() { echo "vm: $*" >&2; exit 1; }

ssh_cmd() {
	local port
	port=$(cat "$RUN/ssh.port" 2>/dev/null) || die "not started (no $RUN/ssh.port)"
	SSH=(ssh -i "$VMDIR/ssh/id_ed25519" -p "$port" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
		-o LogLevel=ERROR -o ConnectTimeout=5 -o BatchMode=yes -o ServerAliveInterval=5 -o ServerAliveCountMax=6
		root@127.0.0.1)
}

qemu_pid() {
	local pid
	pid=$(cat "$RUN/qemu.pid" 2>/dev/null) || return 1
	# only the QEMU this build directory started: the pid file's process must still be qemu
	[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = qemu-system-x86 ] || return 1
	echo "$pid"
}

free_port() {  # a port nothing on this host listens on, from a range tests do not use
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 10000))
		ss -Htln "sport = :$p" | grep -q . || { echo "$p"; return 0; }
	done
	die "no free port found"
}

kill_qemu() {
	local pid
	pid=$(qemu_pid) || { rm -f "$RUN/qemu.pid"; return 0; }
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null || true
	rm -f "$RUN/qemu.pid"
}

start() {
	command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found (Debian package qemu-system-x86)"
	local disk=${VM_DISK:-$VMDIR/disk.img} kernel=${VM_KERNEL:-$VMDIR/vmlinuz} initrd=${VM_INITRD:-$VMDIR/initrd.img}
	for f in "$disk" "$kernel" "$initrd" "$VMDIR/ssh/id_ed25519"; do
		[ -f "$f" ] || die "$f missing: run tests/vm/build-image.sh first"
	done
	if qemu_pid >/dev/null; then die "already running (pid $(qemu_pid))"; fi
	mkdir -p "$RUN"
	rm -f "$RUN"/serial.log "$RUN"/serial.sock "$RUN"/monitor.sock "$RUN"/qemu.pid
	local port fwd p mounts share opt
	port=$(free_port)
	echo "$port" > "$RUN/ssh.port"
	fwd="hostfwd=tcp:127.0.0.1:$port-:22"
	for p in ${VM_FWD_PORTS:-}; do fwd="$fwd,hostfwd=tcp:127.0.0.1:$p-:$p"; done
	# the other way: the guest's connections to 10.0.2.100:GUEST reach the host's 127.0.0.1:HOST (one socat per
	# connection; restrict=on keeps every other way out closed)
	for p in ${VM_GUESTFWD:-}; do fwd="$fwd,guestfwd=tcp:10.0.2.100:${p%%:*}-cmd:socat - TCP:127.0.0.1:${p#*:}"; done
	opt=trans=virtio,version=9p2000.L,msize=524288,nofail
	share=(-virtfs "local,path=$top_builddir,mount_tag=ballast-build,security_model=none,id=build")
	mounts="systemd.mount-extra=ballast-build:$top_builddir:9p:$opt"
	if [ "$top_srcdir" != "$top_builddir" ]; then
		share+=(-virtfs "local,path=$top_srcdir,mount_tag=ballast-src,security_model=none,readonly=on,id=src")
		mounts="systemd.mount-extra=ballast-src:$top_srcdir:9p:$opt,ro $mounts"
	fi
	date +%s.%N > "$RUN/started"
	# panic=5: a guest kernel that panics reboots itself 5 s later instead of hanging until the boot's deadline
	# (seen once on a fresh root: a panic in sched_clock_idle_wakeup_event 5 s into a boot, under TCG, -cpu max)
	qemu-system-x86_64 -accel tcg,thread=multi -machine q35 -cpu max \
		-smp "${VM_SMP:-2}" -m "${VM_MEM:-2048}" -display none -no-user-config -nodefaults \
		-kernel "$kernel" -initrd "$initrd" \
		-append "console=ttyS0,115200 root=/dev/vda rw quiet panic=5 $mounts ${VM_APPEND:-}" \
		-drive "file=$disk,format=raw,if=virtio,cache=unsafe,snapshot=on" \
		-netdev "user,id=n0,restrict=on,$fwd" -device virtio-net-pci,netdev=n0,romfile= \
		"${share[@]}" ${VM_QEMU_ARGS:-} \
		-chardev "socket,id=ser0,path=$RUN/serial.sock,server=on,wait=off,logfile=$RUN/serial.log" \
		-serial chardev:ser0 -monitor "unix:$RUN/monitor.sock,server=on,wait=off" \
		-device virtio-rng-pci -pidfile "$RUN/qemu.pid" -daemonize
	echo "vm: qemu pid $(cat "$RUN/qemu.pid"), ssh on 127.0.0.1:$port"
}

wait_ssh() {
	local max=${1:-600} t0 deadline
	ssh_cmd
	t0=$(cat "$RUN/started")
	deadline=$(($(date +%s) + max))
	while [ "$(date +%s)" -lt "$deadline" ]; do
		qemu_pid >/dev/null || die "qemu exited before ssh answered; the serial log: $RUN/serial.log"
		# slirp accepts the connection before sshd listens: each try is bounded on its own
		if timeout 15 "${SSH[@]}" true 2>/dev/null; then
			echo "$(date +%s.%N) $t0" | awk '{printf "%.1f\n", $1 - $2}'
			return 0
		fi
		sleep 1
	done
	die "ssh did not answer within $max s; the serial log: $RUN/serial.log"
}

boot() {
	local max=${1:-600} s
	start >/dev/null || return 1
	if ! s=$(wait_ssh "$max"); then
		echo "vm: the serial console's last lines:" >&2
		sed 's/\x1b\[[0-9;:?]*[a-zA-Z]//g' "$RUN/serial.log" 2>/dev/null | tail -n 15 >&2
		kill_qemu
		return 1
	fi
	echo "$s"
}

guest() {  # guest CMD...: ssh, tried again on 255 when stdin is /dev/null (nothing to send twice)
	local i rc
	ssh_cmd
	[ "$(readlink /proc/self/fd/0)" = /dev/null ] || exec timeout -k 5 "$SSH_TIMEOUT" "${SSH[@]}" "$@"
	for i in 1 2 3; do
		timeout -k 5 "$SSH_TIMEOUT" "${SSH[@]}" "$@"
		rc=$?
		[ $rc = 255 ] || return $rc
		sleep 2
	done
	return $rc
}

put() {  # put PATH < CONTENT
	local c i
	c=$(cat; echo .)
	ssh_cmd
	for i in 1 2 3; do
		printf '%s' "${c%.}" | timeout -k 5 "$SSH_TIMEOUT" "${SSH[@]}" "cat > '$1'" && return 0
		sleep 2
	done
	return 1
}

stop() {
	local max=${1:-60} pid
	pid=$(qemu_pid) || { rm -f "$RUN/qemu.pid"; return 0; }
	ssh_cmd
	timeout 10 "${SSH[@]}" systemctl --no-block poweroff >/dev/null 2>&1 || true
	for _ in $(seq 1 $((max * 2))); do
		kill -0 "$pid" 2>/dev/null || { rm -f "$RUN/qemu.pid"; return 0; }
		sleep 0.5
	done
	echo "vm: the guest did not power off within $max s; killing qemu $pid" >&2
	kill_qemu
}

case "${1:-}" in
start) start ;;
wait-ssh) wait_ssh "${2:-600}" ;;
boot) boot "${2:-600}" ;;
ssh) shift; set +e; guest "$@" ;;
put) put "$2" ;;
stop) stop "${2:-60}" ;;
kill) kill_qemu ;;
console) exec socat -,raw,echo=0 "UNIX-CONNECT:$RUN/serial.sock" ;;
*) echo "usage: $0 start | wait-ssh [S] | boot [S] | ssh CMD... | put PATH | stop [S] | kill | console" >&2; exit 2 ;;
esac
