/* SPDX-License-Identifier: MIT */
/* capacity-refresh [--repeat N] FS_ROOT PATH...: one full capacity + usage refresh as ballastd does it (the
 * node's capacity from /proc and /sys, then limits and usage of every cgroup with one libcgroup snapshot
 * each), N times; prints the microseconds of each refresh on one line. Built by bench/bench-capacity.sh
 * against the build's own libraries, so it runs exactly ballastd's code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resources/capacity.h"
#include "resources/cgroup.h"
#include "shared/time-util.h"

int main(int argc, char *argv[]) {
        int repeat = 1, first = 1;
        CgroupMode mode;

        if (argc > 2 && strcmp(argv[1], "--repeat") == 0) {
                repeat = atoi(argv[2]);
                first = 3;
        }
        if (argc - first < 1 || repeat < 1) {
                fprintf(stderr, "usage: capacity-refresh [--repeat N] FS_ROOT PATH...\n");
                return 2;
        }
        if (cgroup_detect_mode(argv[first], &mode) < 0) {
                fprintf(stderr, "capacity-refresh: no cgroup hierarchy at %s\n", argv[first]);
                return 1;
        }
        for (int k = 0; k < repeat; k++) {
                uint64_t t0 = now_usec(CLOCK_MONOTONIC), sum = 0;
                unsigned failed = 0;
                NodeFacts f;

                if (capacity_read_node("/proc", "/sys", argv[first], NULL, &f) < 0)
                        failed++;
                for (int i = first + 1; i < argc; i++) {
                        CgroupLimits l;
                        CgroupUsage u;
                        if (cgroup_read(mode, argv[first], argv[i], &l, &u) < 0)
                                failed++;
                        else
                                sum += u.memory_current;
                }
                printf("%llu%s", (unsigned long long) (now_usec(CLOCK_MONOTONIC) - t0), k + 1 < repeat ? " " : "\n");
                if (failed) {
                        fprintf(stderr, "capacity-refresh: %u reads failed\n", failed);
                        return 1;
                }
                (void) sum;
        }
        return 0;
}
