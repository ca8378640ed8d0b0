#!/bin/bash
# SPDX-License-Identifier: MIT
# bench/bench-capacity.sh [BUILDDIR] - the cost of one full capacity + usage refresh (what ballastd's cgroup
# sweep and node timer do: /proc and /sys for the node, then limits and usage of every service's cgroup with
# libcgroup), next to reading the same numbers with `docker stats --no-stream`, in one run, in a private
# systemd + dockerd sandbox (tests/lib/sandbox.sh; the host is not touched).
#   BENCH_DOCKER (50) Docker services (busybox sleep, memory/cpu/pids committed; their cgroupfs parents
#   /ballast/NAME are what ballast reads) and BENCH_EXEC (450) exec services (`sleep infinity`, their units'
#   cgroups), so 500 services in all. Figures: the refresh over all of them (median of BENCH_REPEAT = 5, and
#   instructions of one refresh under `valgrind --tool=callgrind`), the refresh over the Docker ones only, and
#   `docker stats --no-stream` over the same containers (median of 3).
# Needs root. A few minutes (applying 500 services). Knobs: BENCH_DOCKER, BENCH_EXEC, BENCH_REPEAT, BENCH_KEEP=1.
set -u
cd "$(dirname "$0")/.."
top_srcdir=$PWD
top_builddir=$(cd "${1:-build}" 2>/dev/null && pwd) || { echo "bench: no build dir ${1:-build}" >&2; exit 2; }
[ -x "$top_builddir/ballastd" ] || { echo "bench: build first (no $top_builddir/ballastd)" >&2; exit 2; }
ND=${BENCH_DOCKER:-50} NE=${BENCH_EXEC:-450} REPEAT=${BENCH_REPEAT:-5}
. tests/lib/sandbox.sh
. tests/lib/lib.sh

DIR=$(mktemp -d /var/tmp/ballast-bench-capacity.XXXXXX)
cleanup() { [ "${BENCH_KEEP:-0}" = 1 ] && { echo "bench: sandbox kept in $DIR"; return; }; sandbox_stop "$DIR" --purge >/dev/null 2>&1; rm -rf "$DIR"; }
trap cleanup EXIT
tool=$DIR/capacity-refresh
${CC:-cc} -O2 -I"$top_srcdir/src" -include "$top_builddir/build-config.h" bench/capacity-refresh.c \
	"$top_builddir/libresources.a" "$top_builddir/libshared.a" \
	$(pkg-config --libs libsystemd jansson libcurl libcgroup libnl-3.0 libnl-route-3.0) -lm -o "$tool" \
	|| { echo "bench: cannot build capacity-refresh" >&2; exit 2; }

echo "bench: booting the sandbox ..." >&2
sandbox_start "$DIR" --docker >/dev/null 2>&1 || { echo "bench: sandbox failed" >&2; exit 1; }
ballast_install >/dev/null || exit 1
sb systemctl start ballastd.socket
mkdir -p "$DIR/specs"
for i in $(seq 1 "$ND"); do
	printf '{"name":"d-%d","image":"local/busybox:latest","command":["sleep","100000"],"resources":{"cpu":0.01,"memory":"8M","pids":16},"restart":{"policy":"always"}}\n' "$i" > "$DIR/specs/d-$i.json"
done
for i in $(seq 1 "$NE"); do
	printf '{"name":"e-%d","runtime":"exec","command":["/bin/sleep","infinity"],"resources":{"memory":"8M","pids":16}}\n' "$i" > "$DIR/specs/e-$i.json"
done
echo "bench: applying $ND Docker and $NE exec services ..." >&2
bctl -t 600 apply "$DIR/specs" >/dev/null || { echo "bench: apply failed" >&2; exit 1; }
want=$((ND + NE)) end=$((SECONDS + 600))
until [ "$(sb systemctl list-units --state=active --no-legend 'ballast-*.service' | wc -l)" -ge "$want" ]; do
	[ $SECONDS -lt $end ] || { echo "bench: not all services came up" >&2; exit 1; }
	sleep 2
done
sleep 2
paths_docker=$(for i in $(seq 1 "$ND"); do printf 'ballast/d-%d ' "$i"; done)
paths_exec=$(for i in $(seq 1 "$NE"); do printf 'ballast.slice/ballast-e-%d.service ' "$i"; done)
median() { tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }

all=$(sb "$tool" --repeat "$REPEAT" /sys/fs/cgroup $paths_docker $paths_exec) || exit 1
dock=$(sb "$tool" --repeat "$REPEAT" /sys/fs/cgroup $paths_docker) || exit 1
t_all=$(echo "$all" | median) t_dock=$(echo "$dock" | median)
instr=n/a
if command -v valgrind >/dev/null; then
	out=$DIR/cg.out
	sb valgrind --tool=callgrind --callgrind-out-file="$out" "$tool" /sys/fs/cgroup $paths_docker $paths_exec >/dev/null 2>&1 &&
		instr=$(sed -n 's/^summary: //p; s/^totals: //p' "$out" | head -1)
fi
stats=()
for k in 1 2 3; do
	t0=$(date +%s%N)
	sb /usr/bin/docker stats --no-stream --format '{{.Name}} {{.MemUsage}} {{.CPUPerc}} {{.PIDs}}' $(for i in $(seq 1 "$ND"); do printf 'ballast-d-%d ' "$i"; done) >/dev/null || exit 1
	stats+=($(( ($(date +%s%N) - t0) / 1000 )))
done
t_stats=$(echo "${stats[*]}" | median)

printf '\n%-62s %14s %14s\n' "figure ($ND Docker + $NE exec services)" "value" "per service"
printf '%-62s %12s us %11s us\n' "ballast refresh, all $want services (median of $REPEAT)" "$t_all" "$((t_all / want))"
printf '%-62s %14s %14s\n' "  instructions of one refresh (callgrind, incl. process start)" "$instr" "$([ "$instr" = n/a ] && echo n/a || echo $((instr / want)))"
printf '%-62s %12s us %11s us\n' "ballast refresh, the $ND Docker services" "$t_dock" "$((t_dock / ND))"
printf '%-62s %12s us %11s us\n' "docker stats --no-stream, the same $ND containers (median of 3)" "$t_stats" "$((t_stats / ND))"
printf '%-62s %13sx\n' "docker stats / ballast, same containers" "$(awk -v a="$t_stats" -v b="$t_dock" 'BEGIN { printf "%.0f", a / (b ? b : 1) }')"
