/* SPDX-License-Identifier: MIT */
/* Choosing a backend for a cgroup tree, and the one interpretation of its control files that every backend shares
 * (reading limits and usage, writing, creating, destroying, enforcing). The parsers are in cgroup-util.c, the
 * backends in cgroup-backend.c. */
#include <errno.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "resources/cgroup-internal.h"
#include "shared/fileio.h"
#include "shared/log.h"
#include "shared/parse-util.h"

/* ---- choosing a backend, the target ---- */

int cgroup_backend_select(CgroupMode mode, const char *fs_root, const CgroupBackend **ret) {
        _cleanup_free_ char *probe = NULL;
        struct statfs sfs;

        probe = mode == CGROUP_MODE_V1 ? path_join(fs_root, "memory") : strdup(fs_root);
        if (!probe)
                return -ENOMEM;
        if (statfs(probe, &sfs) < 0)
                return -errno;
        if (sfs.f_type == CGROUP_SUPER_MAGIC || sfs.f_type == CGROUP2_SUPER_MAGIC)
                *ret = &cgroup_backend_libcgroup;
        else
                *ret = &cgroup_backend_files;
        return 0;
}

int cgroup_detect_mode(const char *fs_root, CgroupMode *ret) {
        _cleanup_free_ char *controllers = path_join(fs_root, "cgroup.controllers"),
                            *memory = path_join(fs_root, "memory");
        struct stat st;

        if (!controllers || !memory)
                return -ENOMEM;
        if (access(controllers, F_OK) >= 0) {
                *ret = CGROUP_MODE_V2;
                return 0;
        }
        if (stat(memory, &st) >= 0 && S_ISDIR(st.st_mode)) {
                *ret = CGROUP_MODE_V1;
                return 0;
        }
        return -ENOMEDIUM;
}

static void target_done(CgroupTarget *t) {
        if (t->backend)
                t->backend->release(t);
}

static int target_init(CgroupTarget *t, CgroupMode mode, const char *fs_root, const char *path) {
        int r;

        if (isempty(fs_root) || !cgroup_path_is_valid(path))
                return -EINVAL;
        *t = (CgroupTarget) { .mode = mode, .fs_root = fs_root, .path = path[0] == '/' ? path + 1 : path };
        r = cgroup_backend_select(mode, fs_root, &t->backend);
        if (r < 0)
                return log_debug_errno(r, "Cannot use cgroup tree %s: %m", fs_root);
        return 0;
}

/* ---- the interpretation, one code path for every backend ---- */

typedef int (*ParseFunc)(const char *s, uint64_t *ret);

typedef struct ValueSpec {
        const char *controller;
        const char *file;
        const char *key;    /* for keyed files; NULL when the file is one value */
        ParseFunc parse;    /* for one-value files */
        uint64_t divisor;   /* to our unit: ns → us */
        bool optional;      /* absent (file or key) → 0 */
        size_t offset;      /* of the uint64_t in the result */
} ValueSpec;

static int read_spec(CgroupTarget *t, const ValueSpec *v, void *result) {
        _cleanup_free_ char *text = NULL;
        uint64_t x = 0;
        int r;

        r = t->backend->read(t, v->controller, v->file, &text);
        if (r == -ENOENT && v->optional)
                goto done;
        if (r < 0)
                return log_debug_errno(r, "Cgroup %s: cannot read %s of %s: %m", t->path, v->file, v->controller);

        r = v->key ? cgroup_parse_keyed(text, v->key, &x) : v->parse(text, &x);
        if (r == -ENOENT && v->optional)
                goto done;
        if (r == -ENOENT)
                return log_debug_errno(r, "Cgroup %s: %s has no %s.", t->path, v->file, v->key);
        if (r < 0)
                return log_debug_errno(r, "Cgroup %s: cannot parse %s%s%s: %m", t->path, v->file, v->key ? " " : "",
                                       strempty(v->key));
        if (v->divisor > 1)
                x /= v->divisor;
done:
        *(uint64_t *) ((uint8_t *) result + v->offset) = x;
        return 0;
}

static int read_specs(CgroupTarget *t, const ValueSpec *specs, size_t n, void *result) {
        for (size_t i = 0; i < n; i++) {
                int r = read_spec(t, &specs[i], result);
                if (r < 0)
                        return r;
        }
        return 0;
}

#define LIM(f) offsetof(CgroupLimits, f)
#define USE(f) offsetof(CgroupUsage, f)

static const ValueSpec v1_limits[] = {
        { "memory", "memory.limit_in_bytes", NULL, cgroup_parse_v1_memory_limit, 1, false, LIM(memory_max) },
        { "cpu", "cpu.cfs_quota_us", NULL, cgroup_parse_v1_quota, 1, false, LIM(cpu_quota_us) },
        { "cpu", "cpu.cfs_period_us", NULL, cgroup_parse_u64, 1, false, LIM(cpu_period_us) },
        { "cpu", "cpu.shares", NULL, cgroup_parse_u64, 1, false, LIM(cpu_weight) }, /* converted below */
        { "pids", "pids.max", NULL, cgroup_parse_max, 1, false, LIM(pids_max) },
};

static const ValueSpec v2_limits[] = {
        /* cpu.max is two values: read by hand */
        { "memory", "memory.max", NULL, cgroup_parse_max, 1, false, LIM(memory_max) },
        /* optional so that 0 stays "unknown" where it is absent (the root cgroup) */
        { "memory", "memory.high", NULL, cgroup_parse_max, 1, true, LIM(memory_high) },
        { "cpu", "cpu.weight", NULL, cgroup_parse_u64, 1, false, LIM(cpu_weight) },
        { "pids", "pids.max", NULL, cgroup_parse_max, 1, false, LIM(pids_max) },
};

static const ValueSpec v1_usage[] = {
        { "memory", "memory.usage_in_bytes", NULL, cgroup_parse_u64, 1, false, USE(memory_current) },
        { "memory", "memory.max_usage_in_bytes", NULL, cgroup_parse_u64, 1, true, USE(memory_peak) },
        /* the oom_kill line appeared in 4.13 */
        { "memory", "memory.oom_control", "oom_kill", NULL, 1, true, USE(oom_kills) },
        /* cpuacct is its own hierarchy on the hosts we know: a cgroup needs to be created there too. systemd
         * 252 does not put units in it when it is not mounted together with cpu (even with CPUAccounting=),
         * so it is optional: cpu_usage_usec stays 0 for them */
        { "cpuacct", "cpuacct.usage", NULL, cgroup_parse_u64, 1000, true, USE(cpu_usage_usec) },
        { "cpu", "cpu.stat", "nr_throttled", NULL, 1, false, USE(cpu_nr_throttled) },
        { "cpu", "cpu.stat", "throttled_time", NULL, 1000, false, USE(cpu_throttled_usec) },
        { "pids", "pids.current", NULL, cgroup_parse_u64, 1, false, USE(pids_current) },
};

static const ValueSpec v2_usage[] = {
        { "memory", "memory.current", NULL, cgroup_parse_u64, 1, false, USE(memory_current) },
        /* since 5.19 */
        { "memory", "memory.peak", NULL, cgroup_parse_u64, 1, true, USE(memory_peak) },
        /* memory.events, not .local: kills anywhere below count for the service */
        { "memory", "memory.events", "oom_kill", NULL, 1, true, USE(oom_kills) },
        { "cpu", "cpu.stat", "usage_usec", NULL, 1, false, USE(cpu_usage_usec) },
        /* only with the cpu controller enabled, which a cpu.max needs anyway */
        { "cpu", "cpu.stat", "nr_throttled", NULL, 1, false, USE(cpu_nr_throttled) },
        { "cpu", "cpu.stat", "throttled_usec", NULL, 1, false, USE(cpu_throttled_usec) },
        { "pids", "pids.current", NULL, cgroup_parse_u64, 1, false, USE(pids_current) },
};

static int read_limits(CgroupTarget *t, CgroupLimits *ret) {
        CgroupLimits l = {};
        int r;

        if (t->mode == CGROUP_MODE_V1) {
                r = read_specs(t, v1_limits, ELEMENTSOF(v1_limits), &l);
                if (r < 0)
                        return r;
                l.cpu_weight = cgroup_shares_to_weight(l.cpu_weight);
        } else {
                _cleanup_free_ char *text = NULL;

                r = read_specs(t, v2_limits, ELEMENTSOF(v2_limits), &l);
                if (r < 0)
                        return r;
                r = t->backend->read(t, "cpu", "cpu.max", &text);
                if (r < 0)
                        return log_debug_errno(r, "Cgroup %s: cannot read cpu.max: %m", t->path);
                r = cgroup_parse_cpu_max(text, &l.cpu_quota_us, &l.cpu_period_us);
                if (r < 0)
                        return log_debug_errno(r, "Cgroup %s: cannot parse cpu.max: %m", t->path);
        }
        *ret = l;
        return 0;
}

/* A v2 PSI file of the cgroup, "some" line. Optional: absent without CONFIG_PSI, -EOPNOTSUPP when booted with
 * psi=0 (the files exist and refuse to be read), then unknown. */
static void read_pressure(CgroupTarget *t, const char *controller, const char *file, CgroupPressure *ret) {
        _cleanup_free_ char *text = NULL;
        int r;

        *ret = CGROUP_PRESSURE_UNKNOWN;
        r = t->backend->read(t, controller, file, &text);
        if (r >= 0)
                r = cgroup_parse_pressure(text, "some", ret);
        if (r < 0)
                log_debug_errno(r, "Cgroup %s: no pressure from %s: %m", t->path, file);
}

static int read_usage(CgroupTarget *t, CgroupUsage *ret) {
        CgroupUsage u = {
                .memory_pressure = CGROUP_PRESSURE_UNKNOWN,
                .cpu_pressure = CGROUP_PRESSURE_UNKNOWN,
                .io_pressure = CGROUP_PRESSURE_UNKNOWN,
        };
        int r;

        if (t->mode == CGROUP_MODE_V1)
                r = read_specs(t, v1_usage, ELEMENTSOF(v1_usage), &u);
        else
                r = read_specs(t, v2_usage, ELEMENTSOF(v2_usage), &u);
        if (r < 0)
                return r;
        if (t->mode == CGROUP_MODE_V2) {
                read_pressure(t, "memory", "memory.pressure", &u.memory_pressure);
                read_pressure(t, "cpu", "cpu.pressure", &u.cpu_pressure);
                read_pressure(t, "io", "io.pressure", &u.io_pressure);
        }
        *ret = u;
        return 0;
}

int cgroup_read(CgroupMode mode, const char *fs_root, const char *path, CgroupLimits *ret_limits,
                CgroupUsage *ret_usage) {
        CgroupLimits l;
        CgroupUsage u;
        CgroupTarget t;
        int r;

        r = target_init(&t, mode, fs_root, path);
        if (r < 0)
                return r;
        r = ret_limits ? read_limits(&t, &l) : 0;
        if (r >= 0 && ret_usage)
                r = read_usage(&t, &u);
        target_done(&t);
        if (r < 0)
                return r;
        if (ret_limits)
                *ret_limits = l;
        if (ret_usage)
                *ret_usage = u;
        return 0;
}

int cgroup_read_limits(CgroupMode mode, const char *fs_root, const char *path, CgroupLimits *ret) {
        return cgroup_read(mode, fs_root, path, ret, NULL);
}

int cgroup_read_usage(CgroupMode mode, const char *fs_root, const char *path, CgroupUsage *ret) {
        return cgroup_read(mode, fs_root, path, NULL, ret);
}

int cgroup_write_limits(CgroupMode mode, const char *fs_root, const char *path, const CgroupLimits *l) {
        CgroupSetting s[CGROUP_SETTINGS_MAX];
        CgroupTarget t;
        size_t n;
        int r;

        r = cgroup_limits_to_settings(mode, l, s, &n);
        if (r < 0)
                return r;
        r = target_init(&t, mode, fs_root, path);
        if (r < 0)
                return r;
        r = t.backend->write(&t, s, n);
        target_done(&t);
        return r;
}

int cgroup_create(CgroupMode mode, const char *fs_root, const char *path, const CgroupLimits *l) {
        CgroupSetting s[CGROUP_SETTINGS_MAX];
        CgroupTarget t;
        size_t n = 0;
        int r;

        if (l) {
                r = cgroup_limits_to_settings(mode, l, s, &n);
                if (r < 0)
                        return r;
        }
        r = target_init(&t, mode, fs_root, path);
        if (r < 0)
                return r;
        r = t.backend->create(&t, s, n);
        target_done(&t);
        return r;
}

int cgroup_destroy(CgroupMode mode, const char *fs_root, const char *path) {
        CgroupTarget t;
        int r;

        r = target_init(&t, mode, fs_root, path);
        if (r < 0)
                return r;
        r = t.backend->destroy(&t);
        target_done(&t);
        return r;
}

int cgroup_enforce_limits(CgroupMode mode, const char *fs_root, const char *path, const CgroupLimits *want,
                          const char *service, CgroupLimits *ret_found) {
        CgroupLimits found, after;
        char diff[256];
        int r;

        r = cgroup_read_limits(mode, fs_root, path, &found);
        if (r < 0)
                return r;
        if (ret_found)
                *ret_found = found;
        if (cgroup_limits_equal(want, &found))
                return 0;

        cgroup_limits_format_diff(want, &found, diff, sizeof(diff));
        log_event(LOG_WARNING, 0, "cgroup-limits-restored", service, NULL,
                  "Limits of cgroup %s were changed behind ballast's back: %s; restoring them.", path, diff);
        r = cgroup_write_limits(mode, fs_root, path, want);
        if (r < 0)
                return log_event(LOG_ERR, r, "cgroup-limits-restore-failed", service, NULL,
                                 "Failed to restore the limits of cgroup %s: %m", path);
        r = cgroup_read_limits(mode, fs_root, path, &after);
        if (r < 0)
                return log_event(LOG_ERR, r, "cgroup-limits-restore-failed", service, NULL,
                                 "Failed to read back the limits of cgroup %s: %m", path);
        if (!cgroup_limits_equal(want, &after)) {
                cgroup_limits_format_diff(want, &after, diff, sizeof(diff));
                return log_event(LOG_ERR, EIO, "cgroup-limits-restore-failed", service, NULL,
                                 "Limits of cgroup %s are still not ours after writing them: %s", path, diff);
        }
        return 1;
}
