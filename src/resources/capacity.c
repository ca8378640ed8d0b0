/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#include "resources/capacity.h"
#include "resources/cgroup.h"
#include "shared/fileio.h"
#include "shared/macro.h"
#include "shared/parse-util.h"

static uint64_t sub_sat(uint64_t a, uint64_t b) {
        return a > b ? a - b : 0;
}

Resources resources_sub(const Resources *a, const Resources *b) {
        return (Resources) {
                .cpu_millis = sub_sat(a->cpu_millis, b->cpu_millis),
                .memory = sub_sat(a->memory, b->memory),
                .pids = sub_sat(a->pids, b->pids),
                .disk = sub_sat(a->disk, b->disk),
        };
}

void resources_add(Resources *a, const Resources *b) {
        a->cpu_millis += b->cpu_millis;
        a->memory += b->memory;
        a->pids += b->pids;
        a->disk += b->disk;
}

Resources capacity_allocatable(const Resources *capacity, const CapacityPolicy *p) {
        Resources threshold = {
                .memory = p->eviction_memory,
                .disk = capacity->disk / 100 * p->eviction_disk_percent,
        };
        Resources r = resources_sub(capacity, &p->reserved);
        return resources_sub(&r, &threshold);
}

int capacity_fits(const Resources *free, const Resources *want, Shortfall *ret) {
        const struct {
                const char *name;
                uint64_t want, free;
        } table[] = {
                { "cpu", want->cpu_millis, free->cpu_millis },
                { "memory", want->memory, free->memory },
                { "pids", want->pids, free->pids },
                { "disk", want->disk, free->disk },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (table[i].want > table[i].free) {
                        if (ret)
                                *ret = (Shortfall) { table[i].name, table[i].want, table[i].free };
                        return -ENOSPC;
                }
        return 0;
}

int cpu_list_count(const char *s, unsigned *ret) {
        unsigned n = 0;
        const char *p = s;

        while (*p && *p != '\n') {
                char *end;
                unsigned long a = strtoul(p, &end, 10), b;

                if (end == p)
                        return -EINVAL;
                b = a;
                if (*end == '-') {
                        p = end + 1;
                        b = strtoul(p, &end, 10);
                        if (end == p || b < a)
                                return -EINVAL;
                }
                n += (unsigned) (b - a + 1);
                p = end;
                if (*p == ',')
                        p++;
                else if (*p && *p != '\n')
                        return -EINVAL;
        }
        if (n == 0)
                return -EINVAL;
        *ret = n;
        return 0;
}

static int read_small(const char *root, const char *rel, char **ret) {
        _cleanup_free_ char *path = path_join(root, rel);

        if (!path)
                return -ENOMEM;
        return read_full_file(path, 64 * 1024, ret, NULL);
}

/* "MemTotal:       24576000 kB" */
static int meminfo_get(const char *text, const char *key, uint64_t *ret) {
        size_t kl = strlen(key);

        for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                if (strneq(l, key, kl) && l[kl] == ':') {
                        unsigned long long v;
                        if (sscanf(l + kl + 1, "%llu kB", &v) != 1)
                                return -EINVAL;
                        *ret = (uint64_t) v * 1024;
                        return 0;
                }
        return -ENOENT;
}

/* "some avg10" of a PSI file of the node; -1 when the kernel has none (no CONFIG_PSI, psi=0) */
static double node_pressure(const char *proc_root, const char *rel) {
        _cleanup_free_ char *text = NULL;
        CgroupPressure p;

        if (read_small(proc_root, rel, &text) < 0 || cgroup_parse_pressure(text, "some", &p) < 0)
                return -1;
        return p.avg10;
}

int capacity_read_node(const char *proc_root, const char *sys_root, const char *cgroup_root, const char *docker_root,
                       NodeFacts *ret) {
        _cleanup_free_ char *online = NULL, *cpuset = NULL, *meminfo = NULL, *pid_max = NULL, *threads = NULL,
                            *loadavg = NULL;
        NodeFacts f = { .memory_pressure_avg10 = -1, .cpu_pressure_avg10 = -1, .io_pressure_avg10 = -1 };
        unsigned n_online = 0, n_cpuset = 0;
        uint64_t v;
        int r;

        /* CPUs: online ones, and the root cpuset if it is narrower (v1 cpuset, or v2's effective set) */
        r = read_small(sys_root, "devices/system/cpu/online", &online);
        if (r < 0 || cpu_list_count(online, &n_online) < 0)
                return r < 0 ? r : -EINVAL;
        if (read_small(cgroup_root, "cpuset/cpuset.effective_cpus", &cpuset) >= 0 ||
            read_small(cgroup_root, "cpuset/cpuset.cpus", &cpuset) >= 0 ||
            read_small(cgroup_root, "cpuset.cpus.effective", &cpuset) >= 0)
                (void) cpu_list_count(cpuset, &n_cpuset);
        f.capacity.cpu_millis = (uint64_t) (n_cpuset > 0 && n_cpuset < n_online ? n_cpuset : n_online) * 1000;

        r = read_small(proc_root, "meminfo", &meminfo);
        if (r < 0)
                return r;
        r = meminfo_get(meminfo, "MemTotal", &f.capacity.memory);
        if (r < 0)
                return r;
        (void) meminfo_get(meminfo, "MemAvailable", &f.memory_available);

        /* pids: the kernel's limit, and threads-max when that is lower */
        if (read_small(proc_root, "sys/kernel/pid_max", &pid_max) >= 0) {
                pid_max[strcspn(pid_max, "\n")] = 0;
                if (safe_atou64(pid_max, &v) >= 0)
                        f.capacity.pids = v;
        }
        if (read_small(proc_root, "sys/kernel/threads-max", &threads) >= 0) {
                threads[strcspn(threads, "\n")] = 0;
                if (safe_atou64(threads, &v) >= 0 && (f.capacity.pids == 0 || v < f.capacity.pids))
                        f.capacity.pids = v;
        }
        if (read_small(proc_root, "loadavg", &loadavg) >= 0) {
                unsigned long long running, total;
                if (sscanf(loadavg, "%*s %*s %*s %llu/%llu", &running, &total) == 2)
                        f.pids_current = total;
        }

        /* PSI, where the kernel has it: "some avg10=0.00 avg60=0.00 avg300=0.00 total=0" */
        f.memory_pressure_avg10 = node_pressure(proc_root, "pressure/memory");
        f.cpu_pressure_avg10 = node_pressure(proc_root, "pressure/cpu");
        f.io_pressure_avg10 = node_pressure(proc_root, "pressure/io");

        if (docker_root) {
                struct statvfs sv;
                if (statvfs(docker_root, &sv) >= 0) {
                        f.capacity.disk = (uint64_t) sv.f_blocks * sv.f_frsize;
                        f.disk_free = (uint64_t) sv.f_bavail * sv.f_frsize;
                        f.inodes = sv.f_files;
                        f.inodes_free = sv.f_favail;
                }
        }
        *ret = f;
        return 0;
}

json_t *resources_to_json(const Resources *r) {
        return json_pack("{s:f,s:I,s:I,s:I}", "cpu", (double) r->cpu_millis / 1000.0, "memory", (json_int_t) r->memory,
                         "pids", (json_int_t) r->pids, "disk", (json_int_t) r->disk);
}
