/* SPDX-License-Identifier: MIT */
#pragma once

/* Reading back, restoring and creating the cgroups of ballast's services, on cgroup v1 and v2.
 *
 * Three layers, and which one touches what:
 *
 *   1. Pure parsers of the kernel's file formats (cgroup_parse_*) and the pure translation of CgroupLimits into
 *      the exact strings to write (cgroup_limits_to_settings). Tested table-driven, no root needed.
 *
 *   2. The interpretation: which file of which controller means what, per version (v1: memory.limit_in_bytes,
 *      cpu.cfs_quota_us, cpuacct.usage in ns, ...; v2: memory.max, cpu.max, cpu.stat in us, ...), the unit
 *      conversions and what is optional. ONE code path in cgroup.c, used whatever the backend is.
 *
 *   3. A backend, which only moves bytes: "read file F of controller C of the cgroup", "write these settings",
 *      "create", "destroy". The table is at this level, not at read_limits/read_usage, so that layer 2 cannot
 *      differ between what the fixture tests and what runs on a host. Two backends:
 *        - "libcgroup": used whenever fs_root is a real cgroupfs (statfs of fs_root/memory on v1, of fs_root on
 *          v2, says cgroup or cgroup2). Reads with cgroup_get_cgroup() + cgroup_get_controller() +
 *          cgroup_get_value_string(); writes with cgroup_add_value_string() + cgroup_modify_cgroup(); creates
 *          with cgroup_create_cgroup(); destroys with cgroup_delete_cgroup_ext() per controller. libcgroup
 *          finds the hierarchies in the mount table, not below fs_root, so this backend checks that
 *          libcgroup's mount point of every controller of the mode IS fs_root/CONTROLLER (v1) or fs_root (v2),
 *          and refuses with -ENOMEDIUM otherwise.
 *        - "files": used when fs_root is NOT a cgroupfs, i.e. a fixture tree of plain files. It reads and writes
 *          fs_root[/CONTROLLER]/PATH/FILE with open/read/write, and fakes mkdir/rmdir. It exists for tests.
 *
 * What is tested where (tests/unit/test-cgroup-parse.c, tests/unit/test-cgroup.c):
 *   - layer 1 on tables of exact kernel outputs (test-cgroup-parse.c);
 *   - layer 2 for v2 and for v1 on fixture trees (tests/data/cgroup/), through the "files" backend;
 *   - layer 2 for v1 + the libcgroup backend on the real v1 hierarchies of the build machine, as root;
 *   - layer 2 for v2 + the libcgroup backend on a real v2 tree: in the VM tier (tests/vm/vm-tier.sh: Debian 13,
 *     kernel 6.12, ballastd under its own unit's hardening), for an exec unit and a Docker scope; it works there
 *     (write-only files such as memory.reclaim and cgroup.kill in the snapshot do not trouble it). On the
 *     build machines cgroup2 has only hugetlb (the other controllers are bound to v1): test-cgroup only checks
 *     that this case is refused (-ENOMEDIUM) rather than misread.
 *
 * Known libcgroup 2.0.2 behaviour this module works around (each seen on the build machine):
 *   - cgroup_get_cgroup() reads EVERY control file of EVERY hierarchy the cgroup exists in and refuses a struct
 *     with controllers already added (ECGINVAL): there is no way to read only what we need with it. One
 *     snapshot per cgroup_read*() call; cgroup_read() of a cgroup in memory, cpu, cpuacct and pids measured
 *     0.7 ms on the build machine.
 *   - Values come back without the kernel's final newline; the parsers accept both.
 *   - cgroup_delete_cgroup_ext(CGFLAG_DELETE_EMPTY_ONLY) returns 0 when the cgroup still has tasks or children
 *     and was NOT removed; without that flag it migrates the tasks to the parent (out of the limits) and
 *     removes the cgroup. So cgroup_destroy() deletes empty-only, per controller, and then checks with
 *     cgroup_get_cgroup() that the cgroup is gone, -EBUSY when it is not. (cgdelete's "only the first
 *     controller is deleted" is the CLI's: the C API removed all four from one struct when we tried; one struct
 *     per controller costs nothing and tells which hierarchy failed.)
 *   - cgroup_strerror(0) is "Cgroup is not compiled in"; ECGOTHER means "see cgroup_get_last_errno()".
 *
 * cgroup_init(): called lazily by the first operation on a real cgroupfs (libcgroup says whether it has been),
 * ~0.6 ms, parses /proc/mounts once; later mounts are not seen until it is called again. libcgroup keeps its
 * mount table in globals under a rwlock and its errno per thread; ballastd has one thread, nothing else to know.
 * Every call here is synchronous file I/O on cgroupfs (or the fixture): fast, local, fine on the loop.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum CgroupMode {
        CGROUP_MODE_V1, /* legacy or hybrid: every controller has its own hierarchy below fs_root */
        CGROUP_MODE_V2, /* unified: all controllers in the one tree at fs_root */
} CgroupMode;

typedef struct CgroupLimits {
        uint64_t memory_max;    /* bytes; UINT64_MAX = no limit */
        uint64_t cpu_quota_us;  /* per period; UINT64_MAX = no limit */
        uint64_t cpu_period_us; /* 0 = unknown; when writing: leave the period as it is */
        uint64_t cpu_weight;    /* v2 cpu.weight 1..10000, or v1 cpu.shares converted; 0 = unknown / leave */
        uint64_t pids_max;      /* UINT64_MAX = no limit */
        uint64_t memory_high;   /* v2 memory.high (throttling, not killing), bytes; UINT64_MAX = none; 0 = unknown
                                 * (v1, which has no such limit) / when writing: leave it; compared only when
                                 * both sides know it */
} CgroupLimits;

#define CGROUP_LIMITS_NONE                                                                         \
        ((CgroupLimits) { .memory_max = UINT64_MAX, .cpu_quota_us = UINT64_MAX, .pids_max = UINT64_MAX })

/* One line of a PSI file: "some avg10=1.23 avg60=0.50 avg300=0.10 total=123456" (total in us). */
typedef struct CgroupPressure {
        double avg10;        /* percent of the last 10 s some task was stalled; < 0: unknown */
        uint64_t total_usec; /* stalled time since the cgroup was created */
} CgroupPressure;
#define CGROUP_PRESSURE_UNKNOWN ((CgroupPressure) { .avg10 = -1 })

typedef struct CgroupUsage {
        uint64_t memory_current;     /* bytes (v1 memory.usage_in_bytes, v2 memory.current) */
        uint64_t memory_peak;        /* bytes; 0 = unknown (v2 memory.peak exists since 5.19) */
        uint64_t cpu_usage_usec;     /* v1 cpuacct.usage / 1000, v2 cpu.stat usage_usec */
        uint64_t pids_current;
        uint64_t oom_kills;          /* "oom_kill" of memory.oom_control (v1) / memory.events (v2), kernel >= 4.13;
                                      * 0 on older kernels (v1 memory.failcnt counts limit hits, not kills) */
        uint64_t cpu_nr_throttled;   /* cpu.stat nr_throttled */
        uint64_t cpu_throttled_usec; /* v1 cpu.stat throttled_time / 1000, v2 throttled_usec */
        /* v2 pressure stall information of the cgroup (memory.pressure, cpu.pressure, io.pressure), "some" line;
         * avg10 < 0: unknown (v1, or a kernel without PSI / booted with psi=0) */
        CgroupPressure memory_pressure, cpu_pressure, io_pressure;
} CgroupUsage;

/* One write to one control file, exactly as it goes to the kernel. */
typedef struct CgroupSetting {
        const char *controller; /* the hierarchy on v1; on v2 the controller the file belongs to */
        const char *file;
        char value[32];
} CgroupSetting;
#define CGROUP_SETTINGS_MAX 6

/* One cgroup in one tree, as a backend sees it (what it has cached, e.g. libcgroup's snapshot). Opaque. */
typedef struct CgroupTarget CgroupTarget;

/* The backend table (see above). Errors are negative errnos; -ENOENT when the cgroup or the file is absent. */
typedef struct CgroupBackend {
        const char *name;
        /* The content of one control file, NUL-terminated, as the kernel or the fixture has it. */
        int (*read)(CgroupTarget *t, const char *controller, const char *file, char **ret);
        /* Writes the settings in order; stops at the first failure. The cgroup must exist. */
        int (*write)(CgroupTarget *t, const CgroupSetting *settings, size_t n);
        /* Creates the cgroup (and missing parents) in every controller of the mode, then writes the settings.
         * An existing cgroup is not an error. */
        int (*create)(CgroupTarget *t, const CgroupSetting *settings, size_t n);
        /* Removes the cgroup from every controller of the mode if it has no tasks and no children (-EBUSY
         * otherwise). Absent is not an error. Parents are left. */
        int (*destroy)(CgroupTarget *t);
        /* Drops what the backend cached. */
        void (*release)(CgroupTarget *t);
} CgroupBackend;

extern const CgroupBackend cgroup_backend_libcgroup;
extern const CgroupBackend cgroup_backend_files;

/* Which backend serves fs_root: libcgroup for a real cgroupfs, files otherwise. */
int cgroup_backend_select(CgroupMode mode, const char *fs_root, const CgroupBackend **ret);

/* V2 when fs_root has cgroup.controllers (a unified mount, or a v2 fixture), V1 when it has a memory/ hierarchy
 * (legacy or hybrid: a hybrid host's cgroup2 at fs_root/unified holds no controller ballast needs). -ENOMEDIUM
 * when neither. */
int cgroup_detect_mode(const char *fs_root, CgroupMode *ret);

/* path is relative to the root of each hierarchy, e.g. "ballast.slice/ballast-web.service" (a leading '/' is
 * accepted, as in Docker's --cgroup-parent); ".", ".." and empty components are refused with -EINVAL. */
int cgroup_read_limits(CgroupMode mode, const char *fs_root, const char *path, CgroupLimits *ret);
int cgroup_read_usage(CgroupMode mode, const char *fs_root, const char *path, CgroupUsage *ret);
/* Both from one libcgroup snapshot (half the cost of the two calls above); either may be NULL. */
int cgroup_read(CgroupMode mode, const char *fs_root, const char *path, CgroupLimits *ret_limits,
                CgroupUsage *ret_usage);
/* Writes every limit of l (cpu_period_us and cpu_weight only when non-zero). */
int cgroup_write_limits(CgroupMode mode, const char *fs_root, const char *path, const CgroupLimits *l);
/* Creates path in the memory, cpu, cpuacct and pids hierarchies (v1) or in the tree (v2; libcgroup enables the
 * controllers in the parent), with the limits l (may be NULL). Idempotent: an existing cgroup gets l. */
int cgroup_create(CgroupMode mode, const char *fs_root, const char *path, const CgroupLimits *l);
/* Removes path everywhere; -EBUSY while it has tasks or child cgroups (nothing is migrated, nothing killed). */
int cgroup_destroy(CgroupMode mode, const char *fs_root, const char *path);

/* The verification: reads path's limits and, when they do not match want (cgroup_limits_equal), logs what was
 * found as a "cgroup-limits-restored" event (BALLAST_SERVICE=service when given) and writes want back, then
 * reads again to check. Returns 0 when nothing was changed, 1 when restored, -EIO when the kernel still shows
 * something else after the write, other negative errnos when reading or writing failed. ret_found (may be
 * NULL) gets what was read first. */
int cgroup_enforce_limits(CgroupMode mode, const char *fs_root, const char *path, const CgroupLimits *want,
                          const char *service, CgroupLimits *ret_found);

/* Equal as the kernel keeps them: memory_max compared in whole pages (the kernel rounds a written limit down to
 * the page size), cpu_period_us and cpu_weight only when both are known (non-zero), the rest exactly. */
bool cgroup_limits_equal(const CgroupLimits *a, const CgroupLimits *b);
/* "memory_max=134217728 (want 67108864), cpu_quota_us=max (want 20000)": the fields where have differs from
 * want, in the terms of cgroup_limits_equal. Empty when equal. Truncated to size. */
void cgroup_limits_format_diff(const CgroupLimits *want, const CgroupLimits *have, char *buf, size_t size);

/* Pure: the writes that put l in place, in the order they are made. -ERANGE for a quota below 1000 us, a period
 * outside 1000..1000000 us or a weight outside 1..10000 (all refused by the kernel too). */
int cgroup_limits_to_settings(CgroupMode mode, const CgroupLimits *l, CgroupSetting ret[static CGROUP_SETTINGS_MAX],
                              size_t *ret_n);

/* ---- pure parsers of the kernel's formats. Each takes the whole file content, with or without its final
 * newline (libcgroup strips it), and returns -EINVAL for anything else, writing *ret only on success. ---- */

/* "1234\n": memory.current, memory.usage_in_bytes, cpuacct.usage, pids.current, cpu.weight, cpu.shares */
int cgroup_parse_u64(const char *s, uint64_t *ret);
/* "max\n" (→ UINT64_MAX) or "1234\n": v2 memory.max, memory.high, pids.max (v1 and v2) */
int cgroup_parse_max(const char *s, uint64_t *ret);
/* v2 cpu.max: "max 100000\n" (quota UINT64_MAX) or "50000 100000\n" */
int cgroup_parse_cpu_max(const char *s, uint64_t *ret_quota, uint64_t *ret_period);
/* v1 memory.limit_in_bytes: "9223372036854771712\n" (PAGE_COUNTER_MAX pages, any page size up to 1 MiB) is no
 * limit (→ UINT64_MAX) */
int cgroup_parse_v1_memory_limit(const char *s, uint64_t *ret);
/* v1 cpu.cfs_quota_us: "-1\n" is no limit (→ UINT64_MAX) */
int cgroup_parse_v1_quota(const char *s, uint64_t *ret);
/* Flat keyed files, one "key value" per line: memory.events, memory.oom_control, cpu.stat, memory.stat. The key
 * must match a whole first word. -ENOENT when no line has the key, -EINVAL when its value is not a number or a
 * line is not "key value". */
int cgroup_parse_keyed(const char *text, const char *key, uint64_t *ret);

/* A PSI file (/proc/pressure/memory, cpu, io, a v2 cgroup's *.pressure): the line of kind "some" or "full". -ENOENT when
 * there is no such line (cpu has no "full" before 5.13), -EINVAL when the line is not the kernel's format. */
int cgroup_parse_pressure(const char *text, const char *kind, CgroupPressure *ret);

/* v1 cpu.shares (default 1024) <-> v2 cpu.weight (default 100), rounded to nearest so that a weight written as
 * shares reads back as the same weight; clamped to 1..10000 and 2..262144. */
uint64_t cgroup_shares_to_weight(uint64_t shares);
uint64_t cgroup_weight_to_shares(uint64_t weight);

bool cgroup_path_is_valid(const char *path);
/* Where systemd puts a slice's cgroup: every dash of its name is a level, "ballast-my-web.slice" is
 * "ballast.slice/ballast-my.slice/ballast-my-web.slice". NULL for a name that is not NAME.slice, or on OOM. */
char *cgroup_slice_path(const char *slice);
const char *cgroup_mode_to_string(CgroupMode mode);
