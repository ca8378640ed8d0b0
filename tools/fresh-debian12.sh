#!/bin/bash
# Runs a command (default: tools/test.sh) as root in a throw-away Debian 12 root, on a fresh `git clone` of
# this repository: checks that the README's commands work on a machine that has nothing installed yet.
#
#   tools/fresh-debian12.sh [--worktree] [-e NAME=VALUE]... [--] [COMMAND [ARGS...]]
#
# The root: `debootstrap --variant=minbase bookworm` into /var/tmp/ballast-deb12-rootfs, once (cached; delete
# it to rebuild). Every run mounts a fresh overlay over it, in a private mount namespace: proc, /sys and /dev
# (rbind), tmpfs on /tmp and /run, /var/tmp on the host's disk (as on a real machine), the host's resolv.conf
# and apt sources, and at /src a clean clone of the committed HEAD (as CI sees it); then pivot_root into it
# (not chroot: see below). --worktree copies the working tree over the clone (modified and untracked files,
# deletions; not what .gitignore ignores).
# COMMAND runs in /src, in a clean environment (HOME=/root, standard PATH; -e adds variables).
# Everything the run starts lives in a cgroup of its own; at the end (also on failure, timeout or Ctrl-C)
# whatever is left there is killed (and reported), the cgroups removed, the namespace's mounts vanish, and
# the overlay's upper dir and the clone are deleted. Exit status: COMMAND's (124 on timeout).
# Needs root, debootstrap, git, util-linux (unshare, flock, pivot_root). Nothing is installed on the host.
# Environment knobs: FRESH_TIMEOUT (COMMAND's time limit, 5400 s: CI's 90 minutes), FRESH_ROOTFS (the cached root),
# FRESH_MIRROR (default: the first URI in /etc/apt/sources.list.d/debian.sources, else deb.debian.org).
set -eu

self=$(readlink -f "$0")
log() { echo "fresh: $*" >&2; }

# ---- inside the private mount namespace: build the root and pivot into it ---------------------------------
if [ "${1:-}" = __enter ]; then
	work=$2; shift 2
	m=$work/merged
	mount -t overlay overlay -o "lowerdir=$FRESH_ROOTFS,upperdir=$work/upper,workdir=$work/ovwork" "$m"
	mount -t proc proc "$m/proc"
	mount --rbind /sys "$m/sys"; mount --make-rslave "$m/sys"
	mount --rbind /dev "$m/dev"; mount --make-rslave "$m/dev"
	mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$m/tmp"
	mount -t tmpfs -o mode=755,nosuid,nodev tmpfs "$m/run"
	mount --bind "$work/var-tmp" "$m/var/tmp"
	mkdir -p "$m/src"
	mount --bind "$work/src" "$m/src"
	rm -f "$m/etc/resolv.conf" "$m/etc/apt/sources.list"
	cp /etc/resolv.conf "$m/etc/resolv.conf"
	# What the installer writes and debootstrap does not.
	[ -e "$m/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > "$m/etc/hosts"
	if [ -f /etc/apt/sources.list.d/debian.sources ]; then
		cp /etc/apt/sources.list.d/debian.sources "$m/etc/apt/sources.list.d/"
	else
		printf 'deb %s bookworm main\n' "$FRESH_MIRROR" > "$m/etc/apt/sources.list"
	fi
	env=(HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "TERM=${TERM:-dumb}")
	while IFS= read -r -d '' e; do env+=("$e"); done < "$work/env"
	# pivot_root, not chroot: the overlay must be the namespace's root. In a chroot, setns() into a mount
	# namespace puts the caller at the namespace's real root, so `nsenter` without -r and `docker exec` (runc
	# joins the container's namespaces) would land in the host's own / instead of the container.
	cd "$m"
	mkdir -p .fresh-old-root
	pivot_root . .fresh-old-root
	umount -l /.fresh-old-root
	rmdir /.fresh-old-root
	exec /usr/bin/env -i "${env[@]}" /bin/bash -c 'cd /src && exec "$@"' fresh "$@"
fi

# ---- inside the run's cgroups: enter them, then a private mount namespace --------------------------------
if [ "${1:-}" = __run ]; then
	work=$2; shift 2
	while read -r d; do echo $$ > "$d/cgroup.procs"; done < "$work/cgroups"
	exec unshare --mount --propagation private -- bash "$self" __enter "$work" "$@"
fi

worktree=0
extra_env=()
while [ $# -gt 0 ]; do
	case "$1" in
	--worktree) worktree=1; shift ;;
	-e) [ $# -ge 2 ] || { log "-e needs NAME=VALUE"; exit 2; }; extra_env+=("$2"); shift 2 ;;
	-h|--help) sed -n '2,/^set -eu/{/^set -eu/d;s/^# \{0,1\}//;p}' "$self"; exit 0 ;;
	--) shift; break ;;
	-*) log "unknown option $1 (see --help)"; exit 2 ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || set -- tools/test.sh
if [ "$(id -u)" != 0 ]; then log "run me as root (debootstrap, mounts, pivot_root)"; exit 1; fi
for c in debootstrap git unshare flock pivot_root; do
	command -v "$c" >/dev/null || { log "$c is missing on this machine"; exit 1; }
done

top=$(cd "$(dirname "$self")/.." && pwd -P)
export FRESH_ROOTFS=${FRESH_ROOTFS:-/var/tmp/ballast-deb12-rootfs}
timeout_s=${FRESH_TIMEOUT:-5400}
mirror=${FRESH_MIRROR:-$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)}
export FRESH_MIRROR=${mirror:-http://deb.debian.org/debian}
now() { date +%s%N; }
ms() { echo $(( ($(now) - $1) / 1000000 )); }
secs() { local t=$(( ($(now) - $1) / 1000000 )); printf '%d.%d s' $((t / 1000)) $((t % 1000 / 100)); }

# ---- the cached minimal root (debootstrap once; a lock for concurrent runs) ------------------------------
exec 9>"$FRESH_ROOTFS.lock"
flock -w 1200 9 || { log "timeout waiting for the lock $FRESH_ROOTFS.lock"; exit 1; }
if [ ! -x "$FRESH_ROOTFS/usr/bin/apt-get" ]; then
	t0=$(now)
	log "building the Debian 12 root $FRESH_ROOTFS from $FRESH_MIRROR (once) ..."
	rm -rf --one-file-system "$FRESH_ROOTFS.partial"
	# In a mount namespace of its own: the proc/sys mounts of an interrupted debootstrap cannot leak.
	if ! timeout -k 10 900 unshare --mount --propagation private -- \
		debootstrap --variant=minbase bookworm "$FRESH_ROOTFS.partial" "$FRESH_MIRROR" \
		>"$FRESH_ROOTFS.log" 2>&1; then
		log "debootstrap failed; the end of $FRESH_ROOTFS.log:"
		tail -n 20 "$FRESH_ROOTFS.log" | sed 's/^/  /' >&2
		rm -rf --one-file-system "$FRESH_ROOTFS.partial"
		exit 1
	fi
	rm -rf --one-file-system "$FRESH_ROOTFS"
	mv "$FRESH_ROOTFS.partial" "$FRESH_ROOTFS"
	log "root built in $(secs "$t0")"
fi
flock -u 9
exec 9>&-

# ---- this run: work dir, clone, cgroups; teardown on any exit --------------------------------------------
work=$(mktemp -d /var/tmp/ballast-fresh.XXXXXX)
cgname=${work##*/}
mkdir "$work/upper" "$work/ovwork" "$work/merged" "$work/var-tmp"
chmod 1777 "$work/var-tmp"
: > "$work/cgroups"

# shellcheck disable=SC2317,SC2086  # (called from the trap; word lists on purpose)
cleanup() {
	local rc=$? t0 d p i left m
	trap - EXIT INT TERM HUP
	set +e
	t0=$(now)
	[ -n "${tpid:-}" ] && kill "$tpid" 2>/dev/null
	# Whatever the command left running (a sandbox's systemd, dockerd, ...): a watchdog that is finishing a
	# teardown gets 3 s, then SIGKILL until none is left.
	for i in $(seq 130); do
		left=$(while read -r d; do [ -d "$d" ] && find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null
			done < "$work/cgroups" | sort -un | tr '\n' ' ')
		left=${left% }
		[ -z "$left" ] && break
		[ "$i" -le 30 ] && { sleep 0.1; continue; }
		if [ "$i" = 31 ]; then
			log "warning: the command left processes behind, killing them:"
			for p in $left; do
				printf '  %s %s\n' "$p" "$(tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | cut -c1-100)" >&2
			done
		fi
		kill -9 $left 2>/dev/null
		sleep 0.1
	done
	[ -z "$left" ] || log "warning: processes that would not die: $left"
	for i in $(seq 50); do
		left=
		while read -r d; do
			[ -d "$d" ] || continue
			find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
			[ -d "$d" ] && left="$left $d"
		done < "$work/cgroups"
		[ -z "$left" ] && break
		sleep 0.1
	done
	[ -z "$left" ] || log "warning: could not remove cgroups:$left"
	# The mounts lived in the run's own namespace, gone with its last process; make sure nothing is left.
	# shellcheck disable=SC2013
	for m in $(awk -v d="$work" 'index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
	rm -rf --one-file-system "$work" || log "warning: could not remove $work"
	log "torn down in $(secs "$t0")"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

: > "$work/env"
for e in "${extra_env[@]}"; do printf '%s\0' "$e" >> "$work/env"; done

t0=$(now)
git clone -q --no-hardlinks "$top" "$work/src"
head=$(git -C "$work/src" log -1 --format='%h %s' | cut -c1-100)
if [ "$worktree" = 1 ]; then
	# Modified and untracked files (not ignored ones) over the clone, and the deletions.
	(cd "$top" && git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do [ -e "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"; done |
		tar --null -T - -cf -) | tar -C "$work/src" -xf -
	(cd "$top" && git ls-files -z --deleted) | (cd "$work/src" && xargs -0 -r rm -f --)
	log "clone of $top at $head, plus its working tree ($(ms "$t0") ms)"
else
	log "clone of $top at $head ($(ms "$t0") ms)"
fi

# A cgroup of the run's own in every hierarchy (below the current ones), to find all it leaves behind.
hostcg=$(</proc/self/cgroup)
while IFS=: read -r _ ctrl path; do
	if [ -z "$ctrl" ]; then mnt=/sys/fs/cgroup/unified; else mnt=/sys/fs/cgroup/${ctrl#name=}; fi
	[ -d "$mnt" ] || continue
	d="$mnt${path%/}/$cgname"
	mkdir "$d"
	echo "$d" >> "$work/cgroups"
	if [ -f "$d/cpuset.cpus" ]; then
		cat "${d%/*}/cpuset.cpus" > "$d/cpuset.cpus"
		cat "${d%/*}/cpuset.mems" > "$d/cpuset.mems"
	fi
done <<< "$hostcg"

log "running in a fresh Debian 12 root (time limit ${timeout_s} s): $*"
t0=$(now)
# In the background and waited for, so that Ctrl-C or SIGTERM reach the traps at once.
timeout -k 10 "$timeout_s" bash "$self" __run "$work" "$@" </dev/null &
tpid=$!
rc=0
wait "$tpid" || rc=$?
tpid=
[ "$rc" = 124 ] && log "TIMEOUT after ${timeout_s} s"
log "exit status $rc after $(secs "$t0"): $*"
exit "$rc"
