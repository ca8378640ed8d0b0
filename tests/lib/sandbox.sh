#!/bin/bash
# tests/lib/sandbox.sh - a throw-away real systemd (and optionally Docker) for ballast's tests.
#
# Boots /lib/systemd/systemd as PID 1 of new pid+mount+cgroup+uts+ipc+net namespaces, on the host's
# own root file system, with D-Bus and journald only (sandbox.target). Needs root, cgroup v1 (hybrid).
#
# As a library (bash):            . "$srcdir/tests/lib/sandbox.sh"
#   sandbox_start DIR [--docker] [--fresh] [--persist]
#                                 --persist: /etc and /var/lib changes, the unit dir and the state dirs are kept in
#                                 DIR/persist, so sandbox_stop + sandbox_start is a reboot (--fresh clears it).
#                                 --netns=PATH: join that network namespace (e.g. /proc/PID/ns/net of a process
#                                 the test keeps) instead of a new one, so that what listens there (a lock server:
#                                 "the fleet's network") outlives the sandbox's reboots.
#                                 boot; exports SANDBOX_DIR, SANDBOX_PID (host PID of the sandbox's systemd),
#                                 SANDBOX_DBUS (system bus address usable from the host, for sd_bus),
#                                 and with --docker SANDBOX_DOCKER_HOST (unix:// address of the sandbox's dockerd).
#                                 --docker: Debian's docker.service with default bridge networking (inside the
#                                 sandbox's netns), data root DIR/docker, image local/busybox:latest imported.
#                                 DIR/docker persists across stop/start (containers too: `docker rm -f` names
#                                 you reuse); --fresh deletes it before booting, `sandbox_stop --purge` after.
#   sb CMD...                     run CMD inside the sandbox (all namespaces, sandbox root, caller's cwd);
#                                 returns CMD's status. Use /usr/bin/docker there, not /usr/local/bin/docker.
#   sandbox_wait_unit UNIT STATE [TIMEOUT_S]   poll ActiveState of UNIT until STATE (default timeout 10 s)
#   sandbox_journal [ARGS...]     journalctl --no-pager ARGS inside the sandbox
#   sandbox_stop [DIR] [--purge]  tear down (idempotent, safe in an EXIT trap); --purge also deletes DIR/docker.
#                                 A watchdog also stops the sandbox if the shell that started it dies without
#                                 doing so (SANDBOX_NO_WATCHDOG=1 disables it; none in command mode).
# As a command:
#   tests/lib/sandbox.sh start DIR [--docker] [--fresh] | exec DIR CMD... | journal DIR [ARGS...] | stop DIR [--purge]
#
# Inside the sandbox: private tmpfs on /run, /etc/systemd/system (unit dir for tests; host enable-links
# hidden), /var/lib/containerd, /var/lib/docker, /var/lib/ballast; /etc, /var/lib and /var/log are copy-on-write
# overlays over the host's (writes such as /etc/systemd/system.control or /etc/docker/key.json stay in
# the sandbox). Everything else (/tmp, /work, ...) IS the host's. systemd-tmpfiles & co are masked.
# Install test units from the host with e.g. `sb tee /etc/systemd/system/x.service <x.service` (or write to
# /proc/$SANDBOX_PID/root/etc/systemd/system/), then `sb systemctl daemon-reload`.
# Files in DIR: sd.pid, console.log (systemd's console; its log goes to the journal), launch.log,
# cgroups (host cgroup dirs), ns (namespace ids), watch.pid, docker/ (data root), cache/ (busybox image tarball).
# Environment knobs: SANDBOX_BOOT_TIMEOUT (30 s), SANDBOX_DOCKER_TIMEOUT (30 s), SANDBOX_CACHE_DIR (DIR/cache),
# SANDBOX_DOCKER_OPTS (more dockerd options, e.g. --exec-opt native.cgroupdriver=systemd).

_SANDBOX_SELF=$(readlink -f "${BASH_SOURCE[0]}")

_sb_log() { echo "sandbox: $*" >&2; }

# Is PID alive (exists and not a zombie)?
_sb_alive() {
	local s
	[ -n "${1:-}" ] || return 1
	{ read -r s < "/proc/$1/stat"; } 2>/dev/null || return 1
	s=${s##*) }
	[ "${s%% *}" != Z ] && [ "${s%% *}" != X ]
}

# Is PID alive and in one of the sandbox's cgroups (guards against PID reuse)?
_sb_ours() {
	_sb_alive "$1" && grep -q "/$2\(/\|\$\)" "/proc/$1/cgroup" 2>/dev/null
}

# Wait (bounded) until the shell condition "$@" is true; polls every 0.05 s. _sb_until SECONDS CMD...
_sb_until() {
	local t=$1 i=0; shift
	local n=$((t * 20))
	while ! "$@"; do
		i=$((i + 1))
		[ "$i" -lt "$n" ] || return 1
		sleep 0.05
	done
}

sb() {
	if [ -z "${SANDBOX_PID:-}" ]; then
		_sb_log "sb: no sandbox (SANDBOX_PID unset)"
		return 125
	fi
	if [ -d "$PWD" ]; then
		nsenter -t "$SANDBOX_PID" -a -r -w"$PWD" "$@"
	else
		nsenter -t "$SANDBOX_PID" -a -r -w "$@"
	fi
}

sandbox_journal() { sb journalctl --no-pager "$@"; }

sandbox_wait_unit() {
	local unit=$1 want=$2 t=${3:-10} cur= i=0
	# (scaled like every wait of the tests when tests/lib/lib.sh is loaded: BALLAST_TIME_X10)
	local n=$((t * ${BALLAST_TIME_X10:-10}))
	declare -F _sb_note_hook >/dev/null && _sb_note_hook "sandbox_wait_unit $unit $want $t"
	while :; do
		cur=$(timeout 5 nsenter -t "$SANDBOX_PID" -a -r -w systemctl show -P ActiveState "$unit" 2>/dev/null) || cur=
		if [ "$cur" = "$want" ]; then
			declare -F _sb_note_hook >/dev/null && _sb_note_hook
			return 0
		fi
		i=$((i + 1))
		if [ "$i" -ge "$n" ]; then
			_sb_log "timeout after ${t}s waiting for $unit to be $want (it is '${cur:-?}')"
			return 1
		fi
		sleep 0.1
	done
}

_sb_state() {
	timeout 3 nsenter -t "$1" -a -r -w systemctl is-system-running 2>/dev/null
}

# The busybox rootfs tarball for local/busybox:latest (cached).
_sb_busybox_tar() {
	local cache=$1 tar="$1/busybox-rootfs.tar" r a
	# (a cached tarball from before /tmp was 1777 is built again)
	if [ -s "$tar" ] && [ "$tar" -nt /bin/busybox ] && tar -tvf "$tar" ./tmp/ 2>/dev/null | grep -q '^drwxrwxrwt'; then
		echo "$tar"; return 0
	fi
	mkdir -p "$cache" || return 1
	r=$(mktemp -d "$cache/rootfs.XXXXXX") || return 1
	mkdir -p "$r"/bin "$r"/tmp "$r"/proc "$r"/sys "$r"/dev "$r"/etc "$r"/root
	# /tmp as in every real image: runc (1.1) gives a tmpfs mounted over a directory of the image that
	# directory's mode, whatever mode= says, so a 0755 /tmp here made a spec's tmpfs on /tmp root's only
	chmod 1777 "$r"/tmp
	cp /bin/busybox "$r/bin/busybox" || { rm -rf "$r"; return 1; }
	for a in $("$r/bin/busybox" --list); do
		[ "$a" = busybox ] || ln -sf busybox "$r/bin/$a"   # never link "busybox" itself
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$r/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' > "$r/etc/group"
	tar -C "$r" -cf "$tar.$BASHPID.tmp" . && mv "$tar.$BASHPID.tmp" "$tar"
	local rc=$?
	rm -rf "$r"
	[ $rc -eq 0 ] && echo "$tar"
}

# A boot that fails for a reason outside the test (a loaded machine, a launcher that died before systemd
# came up) is tried once more before the caller hears of it; usage errors are not retried.
sandbox_start() {
	local i st
	for i in 1 2; do
		_sandbox_start_once "$@"
		st=$?
		[ "$st" -eq 0 ] || [ "$st" -eq 2 ] && return "$st"
		[ "$i" -eq 1 ] && _sb_log "boot failed, trying once more"
	done
	return "$st"
}

_sandbox_start_once() {
	local dir= docker=0 fresh=0 persist=0 netns= a
	for a in "$@"; do
		case "$a" in
		--docker) docker=1 ;;
		--fresh) fresh=1 ;;
		--persist) persist=1 ;;
		--netns=?*) netns=${a#--netns=} ;;
		-*) _sb_log "sandbox_start: unknown option $a"; return 2 ;;
		*) dir=$a ;;
		esac
	done
	if [ -z "$dir" ]; then _sb_log "usage: sandbox_start DIR [--docker] [--fresh]"; return 2; fi
	if [ "$(id -u)" != 0 ]; then _sb_log "must run as root"; return 1; fi
	mkdir -p "$dir" || return 1
	dir=$(cd "$dir" && pwd -P) || return 1
	case "$dir/" in
	/etc/*|/var/lib/*|/run/*|/proc/*|/sys/*)
		_sb_log "DIR must not be under /etc, /var/lib or /run (private in the sandbox): $dir"; return 1 ;;
	esac
	# A leftover sandbox in the same DIR would share its docker data root: stop it first.
	if [ -e "$dir/sd.pid" ] || [ -e "$dir/cgroups" ]; then
		_sb_log "stopping a previous sandbox in $dir"
		sandbox_stop "$dir"
	fi
	if [ "$fresh" = 1 ] && [ -d "$dir/docker" ]; then
		rm -rf "$dir/docker" || { _sb_log "could not remove $dir/docker"; return 1; }
	fi
	if [ "$fresh" = 1 ] && [ -d "$dir/persist" ]; then
		rm -rf "$dir/persist" || { _sb_log "could not remove $dir/persist"; return 1; }
	fi

	local name="ballast-sb-$$-$RANDOM$RANDOM" start_ns
	start_ns=$(date +%s%N)
	echo "$name" > "$dir/cgname"
	: > "$dir/console.log"
	rm -f "$dir/sd.pid" "$dir/launcher.pid" "$dir/ns"
	_sb_log "booting systemd in $dir (cgroup $name)"
	# Double fork + setsid: the launcher is nobody's job (a bare `wait` in the caller won't block on it)
	# and is not hit by the caller's terminal signals.
	( setsid bash "$_SANDBOX_SELF" __launch "$dir" "$name" "$docker" "$persist" "$netns" \
		</dev/null >"$dir/launch.log" 2>&1 & )

	export SANDBOX_DIR=$dir
	# Launcher PID (it execs unshare after moving itself into the new cgroups), then its child once it
	# has become systemd.
	local launcher= sd= c
	_sb_find_launcher() { launcher=$(cat "$dir/launcher.pid" 2>/dev/null) && [ -n "$launcher" ]; }
	if ! _sb_until 10 _sb_find_launcher; then
		_sb_log "launcher did not start; launch.log:"; sed 's/^/  /' "$dir/launch.log" >&2
		sandbox_stop "$dir"; return 1
	fi
	_sb_find_sd() {
		for c in $(pgrep -P "$launcher"); do
			if [ "$(cat "/proc/$c/comm" 2>/dev/null)" = systemd ]; then sd=$c; return 0; fi
		done
		_sb_alive "$launcher" || return 2
		return 1
	}
	_sb_find_sd_or_dead() { _sb_find_sd; [ $? -ne 1 ]; }
	if ! _sb_until 10 _sb_find_sd_or_dead || [ -z "$sd" ]; then
		_sb_log "systemd did not start; launch.log:"; sed 's/^/  /' "$dir/launch.log" >&2
		sandbox_stop "$dir"; return 1
	fi
	echo "$sd" > "$dir/sd.pid"
	export SANDBOX_PID=$sd
	declare -F _sb_note_hook >/dev/null && _sb_note_hook
	printf '%s %s\n' "$(readlink "/proc/$sd/ns/pid")" "$(readlink "/proc/$sd/ns/mnt")" > "$dir/ns"
	# The teardown finds the processes entered with sb by these namespaces' inode numbers. A namespace's number
	# is free for reuse once the namespace is gone: after this systemd has died, a service of *another* sandbox
	# (each start of a unit with PrivateTmp= makes a mount namespace) could get it, and this teardown's kill loop
	# would kill it (seen: another test's exec service SIGKILLed at every start for 14 s). Open descriptors keep
	# both namespaces, and so their numbers, until sandbox_stop is done (the watchdog inherits them).
	_sb_unpin
	exec {_SB_PIN_PID}<"/proc/$sd/ns/pid" {_SB_PIN_MNT}<"/proc/$sd/ns/mnt" || _sb_log "warning: cannot pin the namespaces"

	# Watchdog: if the process that sourced this file dies without stopping the sandbox (kill -9, a
	# missing trap), stop it anyway. Not in command mode, where the caller exits right away.
	if [ -z "${_SB_COMMAND_MODE:-}" ] && [ -z "${SANDBOX_NO_WATCHDOG:-}" ]; then
		( setsid bash "$_SANDBOX_SELF" __watch "$dir" "$name" "$$" </dev/null >/dev/null 2>>"$dir/launch.log" & )
	fi

	local st= i=0 tmo=${SANDBOX_BOOT_TIMEOUT:-$((30 * ${BALLAST_TIME_X10:-10} / 10))}
	while :; do
		st=$(_sb_state "$sd")
		case "$st" in running|degraded) break ;; esac
		i=$((i + 1))
		if ! _sb_alive "$sd" || [ "$i" -ge $((tmo * 10)) ]; then
			_sb_log "systemd did not reach running within ${tmo}s (state '${st:-?}'); console and journal:"
			tail -n 20 "$dir/console.log" | sed 's/^/  /' >&2
			timeout 3 nsenter -t "$sd" -a -r -w journalctl --no-pager -n 30 2>/dev/null | sed 's/^/  /' >&2
			timeout 3 nsenter -t "$sd" -a -r -w systemctl --no-pager list-jobs 2>/dev/null | sed 's/^/  /' >&2
			sandbox_stop "$dir"; return 1
		fi
		sleep 0.1
	done
	export SANDBOX_DBUS="unix:path=/proc/$sd/root/run/dbus/system_bus_socket"
	if [ "$st" = degraded ]; then
		_sb_log "systemd is degraded; failed units:"
		sb systemctl --no-pager --no-legend --failed >&2 || true
	fi
	_sb_log "systemd $st, host PID $sd ($(( ($(date +%s%N) - start_ns) / 1000000 )) ms)"
	[ "$docker" = 1 ] || return 0

	# Docker: docker.service was pulled in by sandbox.target (see __inner); wait for the API.
	local tmo_d=${SANDBOX_DOCKER_TIMEOUT:-$((30 * ${BALLAST_TIME_X10:-10} / 10))}
	_sb_docker_up() { timeout 3 nsenter -t "$sd" -a -r -w /usr/bin/docker info >/dev/null 2>&1; }
	if ! _sb_until "$tmo_d" _sb_docker_up; then
		_sb_log "dockerd not answering within ${tmo_d}s; docker.service:"
		sb systemctl --no-pager status docker.service containerd.service >&2 || true
		sb journalctl --no-pager -n 30 -u docker.service -u containerd.service >&2 || true
		sandbox_stop "$dir"; return 1
	fi
	export SANDBOX_DOCKER_HOST="unix:///proc/$sd/root/run/docker.sock"
	if ! sb /usr/bin/docker image inspect local/busybox:latest >/dev/null 2>&1; then
		local tar
		if ! tar=$(_sb_busybox_tar "${SANDBOX_CACHE_DIR:-$dir/cache}") ||
			! sb /usr/bin/docker import -c 'CMD ["/bin/sh"]' - local/busybox:latest <"$tar" >/dev/null; then
			_sb_log "could not import local/busybox:latest"
			sandbox_stop "$dir"; return 1
		fi
	fi
	_sb_log "docker up, local/busybox:latest ready ($(( ($(date +%s%N) - start_ns) / 1000000 )) ms)"
	return 0
}

# PIDs of processes in the sandbox's pid and/or mount namespace (ids recorded in DIR/ns), one find for
# all of /proc. _sb_ns_pids DIR [pid|mnt|all]
_sb_ns_pids() {
	local pidns= mntns= a b which=${2:-all}
	[ -r "$1/ns" ] && read -r pidns mntns < "$1/ns"
	[ -n "$pidns" ] && [ -n "$mntns" ] || return 0
	a=${pidns//[/\\[}; a=${a//]/\\]}
	b=${mntns//[/\\[}; b=${b//]/\\]}
	case "$which" in
	pid) find /proc/[0-9]*/ns/pid -maxdepth 0 -lname "$a" 2>/dev/null ;;
	mnt) find /proc/[0-9]*/ns/mnt -maxdepth 0 -lname "$b" 2>/dev/null ;;
	*) find /proc/[0-9]*/ns/pid /proc/[0-9]*/ns/mnt -maxdepth 0 \( -lname "$a" -o -lname "$b" \) 2>/dev/null ;;
	esac | sed -n 's|^/proc/\([0-9]*\)/ns/.*|\1|p' | sort -un
}

# SIGKILL the processes entered with sb (they sit outside the sandbox's cgroups): first those inside the
# pid namespace, so that their nsenter parents reap them (a zombie reparented to the host's init would
# stall systemd's shutdown), then the nsenter parents that are left.
_sb_kill_entered() {
	local dir=$1 name=$2 p i left
	for p in $(_sb_ns_pids "$dir" pid); do
		[ "$p" = $$ ] && continue
		grep -q "/$name\(/\|\$\)" "/proc/$p/cgroup" 2>/dev/null || kill -9 "$p" 2>/dev/null
	done
	for i in $(seq 20); do
		left=
		for p in $(_sb_ns_pids "$dir"); do
			[ "$p" = $$ ] && continue
			_sb_alive "$p" && ! grep -q "/$name\(/\|\$\)" "/proc/$p/cgroup" 2>/dev/null && left="$left $p"
		done
		[ -z "$left" ] && return 0
		sleep 0.05
	done
	kill -9 $left 2>/dev/null
	return 0
}

# Close the descriptors that keep the sandbox's namespaces (see sandbox_start).
_sb_unpin() {
	[ -n "${_SB_PIN_PID:-}" ] && exec {_SB_PIN_PID}<&-
	[ -n "${_SB_PIN_MNT:-}" ] && exec {_SB_PIN_MNT}<&-
	_SB_PIN_PID= _SB_PIN_MNT=
	return 0
}

# Kill (SIGKILL) every process of the sandbox still around; prints how many were found.
_sb_kill_rest() {
	local dir=$1 n=0 d p
	if [ -r "$dir/cgroups" ]; then
		while read -r d; do
			[ -d "$d" ] || continue
			for p in $(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null); do
				kill -9 "$p" 2>/dev/null && n=$((n + 1))
			done
		done < "$dir/cgroups"
	fi
	# Processes that entered the namespaces (sb ...) stay in the caller's cgroups.
	for p in $(_sb_ns_pids "$dir"); do
		[ "$p" = $$ ] && continue
		_sb_alive "$p" && kill -9 "$p" 2>/dev/null && n=$((n + 1))
	done
	echo "$n"
}

# A test that failed (lib.sh's count) or bailed out: the sandbox's journal of ballast, its units and Docker, kept
# beside the test's log (BALLAST_FAIL_JOURNAL, set by tests/lib/timed-driver.sh) before the sandbox goes.
_sb_save_journal() {
	[ -n "${BALLAST_FAIL_JOURNAL:-}" ] || return 0
	[ "${_tap_failed:-0}" -gt 0 ] || [ "${_ballast_bailed:-0}" = 1 ] || return 0
	timeout 20 nsenter -t "$1" -a -r -w journalctl --no-pager -o short-monotonic -n 3000 \
		-u 'ballast*' -u docker.service -u 'ballastd*' > "$BALLAST_FAIL_JOURNAL" 2>&1 || true
}

sandbox_stop() {
	local dir= purge=0 a
	for a in "$@"; do
		case "$a" in
		--purge) purge=1 ;;
		*) dir=$a ;;
		esac
	done
	dir=${dir:-${SANDBOX_DIR:-}}
	[ -n "$dir" ] && [ -d "$dir" ] || return 0
	dir=$(cd "$dir" && pwd -P) || return 0
	local name sd launcher t0 i n=0 d left=0 w
	# The watchdog first, so that it cannot run a second teardown at the same time.
	w=$(cat "$dir/watch.pid" 2>/dev/null) || w=
	[ -n "$w" ] && [ "$w" != $$ ] && grep -qa __watch "/proc/$w/cmdline" 2>/dev/null && kill -9 "$w" 2>/dev/null
	name=$(cat "$dir/cgname" 2>/dev/null) || name=
	sd=$(cat "$dir/sd.pid" 2>/dev/null) || sd=
	launcher=$(cat "$dir/launcher.pid" 2>/dev/null) || launcher=
	t0=$(date +%s%N)
	if [ -n "$name" ]; then
		if [ -n "$sd" ] && _sb_ours "$sd" "$name"; then
			_sb_save_journal "$sd"
			_sb_kill_entered "$dir" "$name"
			if [ -S "/proc/$sd/root/run/docker.sock" ]; then
				# dockerd would give each container its 10 s stop timeout (httpd as PID 1 ignores SIGTERM).
				timeout 5 nsenter -t "$sd" -a -r -w sh -c \
					'ids=$(/usr/bin/docker ps -q); [ -z "$ids" ] || /usr/bin/docker kill $ids' >/dev/null 2>&1
			fi
			_sb_log "stopping systemd (host PID $sd)"
			kill -s RTMIN+4 "$sd" 2>/dev/null
			_sb_sd_gone() { ! _sb_alive "$sd"; }
			_sb_until 5 _sb_sd_gone || _sb_log "systemd still running after 5 s, killing"
			_sb_alive "$sd" && kill -9 "$sd" 2>/dev/null
		fi
		[ -n "$launcher" ] && _sb_ours "$launcher" "$name" && kill -9 "$launcher" 2>/dev/null
		# Stragglers: kill until none is left (bounded).
		for i in $(seq 50); do
			n=$(_sb_kill_rest "$dir")
			[ "$n" = 0 ] && break
			sleep 0.1
		done
		[ "$n" = 0 ] || _sb_log "warning: $n processes of the sandbox would not die"
		# Cgroups, depth-first: the recorded ones, plus any dir of that name in any hierarchy.
		local dirs
		dirs=$( { cat "$dir/cgroups" 2>/dev/null
			find /sys/fs/cgroup/ -mindepth 2 -type d -name "$name" -prune 2>/dev/null; } | sort -u)
		for i in $(seq 50); do
			left=0
			for d in $dirs; do
				[ -d "$d" ] || continue
				find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
				[ -d "$d" ] && left=1
			done
			[ "$left" = 0 ] && break
			sleep 0.1
		done
		[ "$left" = 0 ] || _sb_log "warning: could not remove cgroups: $(for d in $dirs; do [ -d "$d" ] && echo "$d"; done)"
	fi
	_sb_unpin   # nothing is looked up by namespace from here on
	# Nothing is mounted on the host by the sandbox, but make sure.
	local m
	for m in $(awk -v d="$dir" 'index($5, d "/") == 1 || $5 == d { print $5 }' /proc/self/mountinfo | sort -r); do
		umount -l "$m" 2>/dev/null
	done
	if [ "$purge" = 1 ] && [ -d "$dir/docker" ]; then
		rm -rf "$dir/docker" || _sb_log "warning: could not remove $dir/docker"
	fi
	if [ "$purge" = 1 ] && [ -d "$dir/persist" ]; then
		rm -rf "$dir/persist" || _sb_log "warning: could not remove $dir/persist"
	fi
	rm -f "$dir/sd.pid" "$dir/launcher.pid" "$dir/cgroups" "$dir/cgname" "$dir/ns" "$dir/watch.pid"
	if [ "${SANDBOX_DIR:-}" = "$dir" ]; then
		unset SANDBOX_PID SANDBOX_DBUS SANDBOX_DOCKER_HOST
	fi
	[ -n "$name" ] && _sb_log "stopped ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
	return 0
}

# ---- internal: watchdog (setsid bash sandbox.sh __watch DIR NAME OWNER_PID) ---------------------------------
_sb_watch() {
	local dir=$1 name=$2 owner=$3 cur=$2
	echo $$ > "$dir/watch.pid"
	# Sleep with read -t on a private FIFO: no child process that a kill -9 of the watchdog would orphan.
	rm -f "$dir/.watch.fifo"; mkfifo "$dir/.watch.fifo"; exec 3<>"$dir/.watch.fifo"; rm -f "$dir/.watch.fifo"
	while [ "$cur" = "$name" ]; do
		if ! _sb_alive "$owner"; then
			_sb_log "owner PID $owner is gone, stopping the sandbox in $dir"
			sandbox_stop "$dir"
			break
		fi
		read -r -t 0.5 -u 3 || true
		{ read -r cur < "$dir/cgname"; } 2>/dev/null || cur=
	done
}

# ---- internal: runs as a separate process (setsid bash sandbox.sh __launch DIR NAME DOCKER) -------------
_sb_launch() {
	set -eu
	local dir=$1 name=$2 hostcg id ctrl path mnt d
	echo $$ > "$dir/launcher.pid"
	hostcg=$(</proc/self/cgroup)            # slurp first (reading while moving gives garbage)
	: > "$dir/cgroups"
	# A fresh child cgroup in every hierarchy, so the cgroup namespace's root is private.
	while IFS=: read -r id ctrl path; do
		if [ -z "$ctrl" ]; then mnt=/sys/fs/cgroup/unified; else mnt=/sys/fs/cgroup/${ctrl#name=}; fi
		[ -d "$mnt" ] || continue
		d="$mnt${path%/}/$name"
		echo "$d" >> "$dir/cgroups"
		mkdir "$d"
		if [ -f "$d/cpuset.cpus" ]; then
			echo "$(<"${d%/*}/cpuset.cpus")" > "$d/cpuset.cpus"
			echo "$(<"${d%/*}/cpuset.mems")" > "$d/cpuset.mems"
		fi
		echo $$ > "$d/cgroup.procs"
	done <<< "$hostcg"
	if [ -n "${5:-}" ]; then
		exec nsenter --net="$5" -- unshare --pid --fork --kill-child --mount --mount-proc --cgroup --uts --ipc \
			--propagation private -- bash "$_SANDBOX_SELF" __inner "$@"
	fi
	exec unshare --pid --fork --kill-child --mount --mount-proc --cgroup --uts --ipc --net \
		--propagation private -- bash "$_SANDBOX_SELF" __inner "$@"
}

# ---- internal: PID 1 of the new namespaces; prepares mounts and execs systemd -----------------------------
_sb_inner() {
	set -eu
	local dir=$1 docker=${3:-0} persist=${4:-0} hostcg id ctrl path d o u ov=/run/.sandbox-overlay
	# --persist: what a reboot keeps (the /etc, /var/lib overlays, the unit dir, the state dirs) lives in
	# DIR/persist instead of the sandbox's /run, so that stopping and starting the sandbox is a reboot.
	[ "$persist" = 1 ] && ov=$dir/persist/overlay
	mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /run
	mkdir -p /run/systemd/system /run/lock "$ov"
	ip link set lo up
	hostname ballast-sandbox

	# cgroup v1 hierarchies with the host's exact grouping (else systemd tries cpu,cpuacct -> no cpu).
	hostcg=$(</proc/self/cgroup)
	umount -R -l /sys/fs/cgroup
	mount -t tmpfs -o mode=755,nosuid,nodev,noexec tmpfs /sys/fs/cgroup
	while IFS=: read -r id ctrl path; do   # inside the cgroup ns: hierarchy roots are our cgroups
		if [ -z "$ctrl" ]; then
			mkdir -p /sys/fs/cgroup/unified
			mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup/unified
			continue
		fi
		d=/sys/fs/cgroup/${ctrl#name=}; mkdir -p "$d"
		case "$ctrl" in name=*) o="none,$ctrl" ;; *) o="$ctrl" ;; esac
		mount -t cgroup -o "nosuid,nodev,noexec,$o" cgroup "$d"
		IFS=, read -ra parts <<< "$ctrl"
		if [ ${#parts[@]} -gt 1 ]; then
			for o in "${parts[@]}"; do ln -s "$ctrl" "/sys/fs/cgroup/$o"; done
		fi
	done <<< "$hostcg"
	mount -o remount,ro /sys/fs/cgroup

	# Copy-on-write /etc, /var/lib and /var/log: the root fs is the host's.
	local etc_ov=0
	for d in etc var/lib var/log; do
		u=${d//\//_}
		mkdir -p "$ov/$u.upper" "$ov/$u.work"
		if mount -t overlay overlay -o "lowerdir=/$d,upperdir=$ov/$u.upper,workdir=$ov/$u.work" "/$d"; then
			[ "$d" = etc ] && etc_ov=1
		else
			echo "sandbox: warning: no overlay on /$d, writes there reach the host" >&2
		fi
	done
	[ "$etc_ov" = 1 ] && echo ballast-sandbox > /etc/hostname
	if [ "$persist" = 1 ]; then
		mkdir -p "$dir/persist/etc-systemd-system"
		mount --bind "$dir/persist/etc-systemd-system" /etc/systemd/system
	else
		mount -t tmpfs -o mode=755 tmpfs /etc/systemd/system
	fi
	# Journal in /run only (Debian ships /var/log/journal, which would make it persistent).
	mkdir -p /etc/systemd/journald.conf.d
	printf '[Journal]\nStorage=volatile\nReadKMsg=no\n' > /etc/systemd/journald.conf.d/90-sandbox.conf
	for d in /var/lib/containerd /var/lib/docker /var/lib/ballast; do
		mkdir -p "$d"
		if [ "$persist" = 1 ]; then
			mkdir -p "$dir/persist/${d//\//_}"
			mount --bind "$dir/persist/${d//\//_}" "$d"
		else
			mount -t tmpfs -o mode=711 tmpfs "$d"
		fi
	done
	mount --bind "$dir/console.log" /dev/console

	for u in systemd-tmpfiles-setup.service systemd-tmpfiles-clean.timer systemd-tmpfiles-clean.service \
		systemd-tmpfiles-setup-dev.service systemd-binfmt.service proc-sys-fs-binfmt_misc.automount \
		systemd-sysctl.service systemd-modules-load.service kmod-static-nodes.service \
		systemd-random-seed.service systemd-firstboot.service systemd-repart.service \
		systemd-machine-id-commit.service systemd-pstore.service systemd-timesyncd.service \
		systemd-sysusers.service systemd-update-utmp.service systemd-pcrphase.service \
		systemd-pcrphase-sysinit.service systemd-hwdb-update.service systemd-journal-catalog-update.service \
		ldconfig.service e2scrub_reap.service systemd-journal-flush.service; do
		ln -sf /dev/null "/run/systemd/system/$u"
	done
	local wants="dbus.socket dbus.service systemd-journald.socket systemd-journald.service"
	if [ "$docker" = 1 ]; then
		wants="$wants docker.service"
		mkdir -p /etc/systemd/system/docker.service.d
		cat > /etc/systemd/system/docker.service.d/10-sandbox.conf <<-EOF
		[Service]
		ExecStart=
		ExecStart=/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock --data-root $dir/docker ${SANDBOX_DOCKER_OPTS:-}
		EOF
	fi
	cat > /run/systemd/system/sandbox.target <<-EOF
	[Unit]
	Description=ballast test sandbox (D-Bus + journald only)
	Wants=$wants
	After=$wants
	AllowIsolate=yes
	EOF
	exec env -i container=ballast-sandbox PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		/lib/systemd/systemd --unit=sandbox.target --show-status=0 --log-target=journal \
		systemd.unified_cgroup_hierarchy=0
}

_sb_main() {
	local cmd=${1:-} dir=${2:-}
	case "$cmd" in
	__launch) shift; _sb_launch "$@" ;;
	__inner) shift; _sb_inner "$@" ;;
	__watch) shift; _sb_watch "$@" ;;
	start)
		[ -n "$dir" ] || { echo "usage: $0 start DIR [--docker] [--fresh]" >&2; exit 2; }
		shift
		_SB_COMMAND_MODE=1 sandbox_start "$@" || exit 1
		echo "$SANDBOX_PID"
		;;
	exec|journal|status)
		[ -n "$dir" ] && [ -r "$dir/sd.pid" ] || { echo "sandbox: no sandbox running in '$dir'" >&2; exit 1; }
		SANDBOX_DIR=$(cd "$dir" && pwd -P); SANDBOX_PID=$(cat "$dir/sd.pid")
		shift 2
		case "$cmd" in
		exec) sb "$@" ;;
		journal) sandbox_journal "$@" ;;
		status) sb systemctl --no-pager status "$@" ;;
		esac
		;;
	stop)
		[ -n "$dir" ] || { echo "usage: $0 stop DIR [--purge]" >&2; exit 2; }
		shift
		sandbox_stop "$@"
		;;
	*)
		echo "usage: $0 start DIR [--docker] [--fresh] | exec DIR CMD... | journal DIR [ARGS] | status DIR | stop DIR [--purge]" >&2
		exit 2
		;;
	esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	_sb_main "$@"
	exit $?
fi
