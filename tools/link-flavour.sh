#!/bin/sh
# Links one program of the install flavour (make install-flavour): the libraries of the pkg-config modules named
# in STATIC_DEPS are linked statically (their .a files), every other library dynamically.
#
#   tools/link-flavour.sh PKG_CONFIG "STATIC_DEPS" LINK-COMMAND...
#
# LINK-COMMAND is the program's ordinary link command (compiler, flags, -o, objects, the -l flags of its LDADD).
# Each -lNAME that belongs to a module of STATIC_DEPS is put between -Wl,-Bstatic and -Wl,-Bdynamic; the libraries
# those static archives need themselves (pkg-config --static: -lpthread for libnl, gnutls for libmicrohttpd, …)
# are appended, dynamic. -Wl,--as-needed (right after the compiler) drops what the program does not use. The command is printed, then run.
set -eu
[ $# -ge 3 ] || { echo "usage: $0 PKG_CONFIG \"STATIC_DEPS\" LINK-COMMAND..." >&2; exit 2; }
pkgconfig=$1 static_deps=$2
shift 2

static_l=
if [ -n "$static_deps" ]; then
	# shellcheck disable=SC2086
	static_l=$($pkgconfig --libs-only-l $static_deps) || { echo "$0: pkg-config does not know: $static_deps" >&2; exit 1; }
fi

is_static() {
	for s in $static_l; do
		[ "$s" = "$1" ] && return 0
	done
	return 1
}

# Rebuild "$@" with the static ones wrapped; then the private dependencies (once each) that are not static.
cc=$1
shift
n=$#
i=0
mode=dynamic
used=" "
while [ "$i" -lt "$n" ]; do
	a=$1
	shift
	i=$((i + 1))
	if is_static "$a"; then
		[ "$mode" = static ] || set -- "$@" -Wl,-Bstatic
		mode=static
		used="$used$a "
	elif [ "$mode" = static ]; then
		set -- "$@" -Wl,-Bdynamic
		mode=dynamic
	fi
	set -- "$@" "$a"
done
[ "$mode" = static ] && set -- "$@" -Wl,-Bdynamic
# the private dependencies of the modules this program links statically
private_l=
for m in $static_deps; do
	for l in $($pkgconfig --libs-only-l "$m"); do
		case "$used" in *" $l "*) private_l="$private_l $($pkgconfig --static --libs-only-l "$m")"; break ;; esac
	done
done
seen=" "
for p in $private_l; do
	case "$seen" in *" $p "*) continue ;; esac
	seen="$seen$p "
	is_static "$p" && continue
	# only what can be linked dynamically here: pkg-config --static also names the dependencies of
	# the dependencies (libunistring for gnutls…), whose .so the shared library loads by itself
	lib=lib${p#-l}.so
	[ "$($cc -print-file-name="$lib")" != "$lib" ] && set -- "$@" "$p"
done
set -- "$cc" -Wl,--as-needed "$@"
echo "$*"
exec "$@"
