#!/bin/sh
# Links one program of the install flavour (make install-flavour): the libraries of the pkg-config modules named
# in STATIC_DEPS are linked statically (their .a files), every other library dynamically.
#
#   tools/link-flavour.sh PKG_CONFIG "STATIC_DEPS" LINK-COMMAND...
#
# LINK-COMMAND is the program's ordinary link command (compiler, flags, -o, objects, the -l flags of its LDADD).
# Each -lNAME that belongs to a module of STATIC_DEPS becomes -Wl,-Bstatic -lNAME -Wl,-Bdynamic; the libraries
# those static archives need themselves (pkg-config --static: -lpthread for libnl, gnutls for libmicrohttpd, …)
# are appended, dynamic. -Wl,--as-needed (right after the compiler) drops what the program does not use. The command is printed, then run.
set -eu
[ $# -ge 3 ] || { echo "usage: $0 PKG_CONFIG \"STATIC_DEPS\" LINK-COMMAND..." >&2; exit 2; }
pkgconfig=$1 static_deps=$2
shift 2

static_l=
private_l=
if [ -n "$static_deps" ]; then
	# shellcheck disable=SC2086
	static_l=$($pkgconfig --libs-only-l $static_deps) || { echo "$0: pkg-config does not know: $static_deps" >&2; exit 1; }
	# shellcheck disable=SC2086
	private_l=$($pkgconfig --static --libs-only-l $static_deps)
fi

is_static() {
	for s in $static_l; do
		[ "$s" = "$1" ] && return 0
	done
	return 1
}

# Rebuild "$@" with the static ones wrapped; then the private dependencies that are not static themselves.
cc=$1
shift
n=$#
i=0
used_static=0
while [ "$i" -lt "$n" ]; do
	a=$1
	shift
	i=$((i + 1))
	if is_static "$a"; then
		set -- "$@" -Wl,-Bstatic "$a" -Wl,-Bdynamic
		used_static=1
	else
		set -- "$@" "$a"
	fi
done
if [ "$used_static" = 1 ]; then
	for p in $private_l; do
		is_static "$p" || set -- "$@" "$p"
	done
fi
set -- "$cc" -Wl,--as-needed "$@"
echo "$*"
exec "$@"
