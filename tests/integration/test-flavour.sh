#!/bin/bash
# The install flavour (make install-flavour, dist-bin/): what a CoreOS host lacks (jansson, libcgroup, libnl,
# libmicrohttpd) is linked in; the rest (glibc, libsystemd, libcurl and what those two pull in) is dynamic.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/lib.sh"

D=$top_builddir/dist-bin
for b in ballastd ballastctl ballast-run; do
	[ -x "$D/$b" ] || bail "$D/$b is missing (make install-flavour)"
done

needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort; }
# the libraries ldd resolves, by file name (plus the vdso and the loader, which are always there)
resolved() { ldd "$1" | awk '{ print $1 }' | sed 's|.*/||' | sort -u; }

# The allowed set: glibc's libraries, libsystemd and libcurl, and whatever those two load themselves on this
# machine (libcurl's TLS, HTTP/2, LDAP… stacks); a sanitizer's runtime when the build has one.
libcurl=$(ldd "$D/ballastd" | awk '$1 == "libcurl.so.4" { print $3 }')
libsystemd=$(ldd "$D/ballastd" | awk '$1 == "libsystemd.so.0" { print $3 }')
[ -n "$libcurl" ] && [ -n "$libsystemd" ] || bail "ballastd does not load libcurl and libsystemd dynamically"
allowed=$( { printf '%s\n' libc.so.6 libm.so.6 libpthread.so.0 libdl.so.2 librt.so.1 libresolv.so.2 \
	libsystemd.so.0 libcurl.so.4 linux-vdso.so.1 ld-linux-x86-64.so.2 libasan.so.8 libubsan.so.1 libgcc_s.so.1 \
	libstdc++.so.6; resolved "$libcurl"; resolved "$libsystemd"; } | sort -u)
forbidden='jansson|cgroup|libnl|microhttpd'

for b in ballastd ballastctl ballast-run; do
	n=$(needed "$D/$b")
	like "$(echo $n)" 'libc\.so\.6' "$b: glibc is linked dynamically"
	bad=$(comm -23 <(resolved "$D/$b") <(echo "$allowed"))
	is "$bad" "" "$b: every library ldd lists is in the allowed set (glibc, libsystemd, libcurl and their own)"
	is "$( { echo "$n"; resolved "$D/$b"; } | grep -E "$forbidden")" "" \
		"$b: no jansson, libcgroup, libnl or libmicrohttpd among its dynamic dependencies"
	check "$b: ldd finds every library" -- bash -c "! ldd '$D/$b' | grep -q 'not found'"
	like "$("$D/$b" --version 2>&1)" "^$b [0-9]" "$b runs (--version)"
done
n=$(needed "$D/ballastd")
like "$(echo $n)" 'libsystemd\.so\.0' "ballastd: libsystemd is dynamic"
like "$(echo $n)" 'libcurl\.so\.4' "ballastd: libcurl is dynamic"
# the ordinary build links the same libraries dynamically: the difference is the flavour's doing
like "$(needed "$top_builddir/ballastd" | tr '\n' ' ')" 'libjansson' "the ordinary ballastd links jansson dynamically (the flavour does not)"

done_testing
