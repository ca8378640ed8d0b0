#!/bin/sh
# Installs, from Debian 12's own archive, everything ballast needs to build and to run its tests for real:
# the libraries, a systemd to boot in a sandbox, Docker, busybox for the test image, and the clients the
# integration tests drive it with (curl, socat); Ignition (its validator and the real binary) and what the
# generator's tests read its output with (jq, python3-yaml); clang with libFuzzer for the fuzz harnesses
# (tests/fuzz/); valgrind for the memcheck run of ballastd; strace for the fault tests' system-call fault injection;
# scdoc for the man pages, man-db to read them (man -l) and bash-completion for its completions directory
# (and the completion's test);
# the distribution registry and htpasswd, for a real private registry with TLS and password auth
# (integration-registry.sh);
# Prometheus and its promtool, which scrape and check the metrics endpoint (integration-metrics.sh);
# QEMU, debootstrap, mkfs.ext4 and ssh for the VM tier (tests/vm/: a Debian 13 guest built from Debian's packages);
# squashfs-tools (mksquashfs for make sysext, unsquashfs) and systemd-container (systemd-dissect) for the system
# extension image and its test (test-sysext.sh).
set -eu
PACKAGES="
  build-essential autoconf automake pkg-config xz-utils git ca-certificates
  libsystemd-dev libcurl4-openssl-dev libjansson-dev libcgroup-dev libnl-3-dev libnl-route-3-dev libmicrohttpd-dev
  systemd dbus util-linux procps iproute2 iptables
  docker.io busybox-static etcd-server etcd-client openssl tzdata curl socat strace jq prometheus
  libssl-dev zlib1g-dev ignition python3-yaml
  clang libclang-rt-14-dev valgrind
  scdoc man-db bash-completion
  docker-registry apache2-utils
  qemu-system-x86 qemu-utils seabios debootstrap e2fsprogs openssh-client
  squashfs-tools systemd-container
"
missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "deps: installing:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	# Package scripts must not start daemons on this machine: the tests start their own, in a sandbox.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		trap 'rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
