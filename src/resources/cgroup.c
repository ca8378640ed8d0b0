/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libcgroup.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "resources/cgroup.h"
#include "shared/fileio.h"
#include "shared/log.h"
#include "shared/parse-util.h"

#define CGROUP_FILE_MAX (1024U * 1024U)

/* The kernel's limits for the CFS bandwidth and the weights (kernel/sched/core.c, both versions). */
#define CPU_QUOTA_MIN_US 1000U
#define CPU_PERIOD_MIN_US 1000U
#define CPU_PERIOD_MAX_US 1000000U
#define CPU_WEIGHT_MIN 1U
#define CPU_WEIGHT_MAX 10000U
#define CPU_WEIGHT_DEFAULT 100U
#define CPU_SHARES_MIN 2U
#define CPU_SHARES_MAX 262144U
#define CPU_SHARES_DEFAULT 1024U

/* v1 shows "no memory limit" as PAGE_COUNTER_MAX pages in bytes: (LONG_MAX / PAGE_SIZE) * PAGE_SIZE, which is
 * 9223372036854771712 with 4 KiB pages. Anything within 1 MiB of INT64_MAX is that value for some page size. */
#define V1_MEMORY_UNLIMITED_MIN ((uint64_t) INT64_MAX - (UINT64_C(1) << 20))

struct CgroupTarget {
        const CgroupBackend *backend;
        CgroupMode mode;
        const char *fs_root;
        const char *path;          /* without a leading '/' */
        bool mounts_checked;       /* libcgroup: its hierarchies are the ones below fs_root */
        struct cgroup *snapshot;   /* libcgroup: every control file, read by the first read */
};

static const char *const v1_controllers[] = { "memory", "cpu", "cpuacct", "pids", NULL };
static const char *const v2_controllers[] = { "memory", "cpu", "pids", NULL };

static const char *const *mode_controllers(CgroupMode mode) {
        return mode == CGROUP_MODE_V1 ? v1_controllers : v2_controllers;
}

const char *cgroup_mode_to_string(CgroupMode mode) {
        return mode == CGROUP_MODE_V1 ? "v1" : "v2";
}

/* ---- pure parsers ---- */

/* Copies s without its one final newline into buf; -EINVAL when too long or empty. */
static int strip_newline(const char *s, char *buf, size_t size) {
        size_t n;

        if (!s)
                return -EINVAL;
        n = strlen(s);
        if (n > 0 && s[n - 1] == '\n')
                n--;
        if (n == 0 || n >= size)
                return -EINVAL;
        memcpy(buf, s, n);
        buf[n] = 0;
        return 0;
}

/* One number, nothing around it. */
static int parse_u64_word(const char *s, uint64_t *ret) {
        return safe_atou64(s, ret) < 0 ? -EINVAL : 0;
}

/* "max" or one number, nothing around it. */
static int parse_max_word(const char *s, uint64_t *ret) {
        if (streq(s, "max")) {
                *ret = UINT64_MAX;
                return 0;
        }
        return parse_u64_word(s, ret);
}

int cgroup_parse_u64(const char *s, uint64_t *ret) {
        char buf[32];
        int r;

        r = strip_newline(s, buf, sizeof(buf));
        if (r < 0)
                return r;
        return parse_u64_word(buf, ret);
}

int cgroup_parse_max(const char *s, uint64_t *ret) {
        char buf[32];
        int r;

        r = strip_newline(s, buf, sizeof(buf));
        if (r < 0)
                return r;
        return parse_max_word(buf, ret);
}

int cgroup_parse_cpu_max(const char *s, uint64_t *ret_quota, uint64_t *ret_period) {
        char buf[64], *space;
        uint64_t quota, period;
        int r;

        r = strip_newline(s, buf, sizeof(buf));
        if (r < 0)
                return r;
        space = strchr(buf, ' ');
        if (!space)
                return -EINVAL;
        *space = 0;
        r = parse_max_word(buf, &quota);
        if (r < 0)
                return r;
        r = parse_u64_word(space + 1, &period);
        if (r < 0)
                return r;
        if (period == 0)
                return -EINVAL;
        *ret_quota = quota;
        *ret_period = period;
        return 0;
}

int cgroup_parse_v1_memory_limit(const char *s, uint64_t *ret) {
        uint64_t v;
        int r;

        r = cgroup_parse_u64(s, &v);
        if (r < 0)
                return r;
        *ret = v >= V1_MEMORY_UNLIMITED_MIN ? UINT64_MAX : v;
        return 0;
}

int cgroup_parse_v1_quota(const char *s, uint64_t *ret) {
        char buf[32];
        int r;

        r = strip_newline(s, buf, sizeof(buf));
        if (r < 0)
                return r;
        if (streq(buf, "-1")) {
                *ret = UINT64_MAX;
                return 0;
        }
        return parse_u64_word(buf, ret);
}

int cgroup_parse_keyed(const char *text, const char *key, uint64_t *ret) {
        size_t klen;

        if (!text || isempty(key))
                return -EINVAL;
        klen = strlen(key);
        for (const char *line = text; *line;) {
                const char *eol = strchrnul(line, '\n'), *space = memchr(line, ' ', (size_t) (eol - line));
                char value[32];
                size_t vlen;

                if (!space || space == line)
                        return -EINVAL;
                if ((size_t) (space - line) == klen && strneq(line, key, klen)) {
                        vlen = (size_t) (eol - space - 1);
                        if (vlen == 0 || vlen >= sizeof(value))
                                return -EINVAL;
                        memcpy(value, space + 1, vlen);
                        value[vlen] = 0;
                        return parse_u64_word(value, ret);
                }
                line = *eol ? eol + 1 : eol;
        }
        return -ENOENT;
}

uint64_t cgroup_shares_to_weight(uint64_t shares) {
        uint64_t w;

        if (shares > UINT64_MAX / CPU_WEIGHT_DEFAULT)
                return CPU_WEIGHT_MAX;
        w = (shares * CPU_WEIGHT_DEFAULT + CPU_SHARES_DEFAULT / 2) / CPU_SHARES_DEFAULT;
        return MIN(MAX(w, (uint64_t) CPU_WEIGHT_MIN), (uint64_t) CPU_WEIGHT_MAX);
}

uint64_t cgroup_weight_to_shares(uint64_t weight) {
        uint64_t s;

        weight = MIN(weight, (uint64_t) CPU_WEIGHT_MAX);
        s = (weight * CPU_SHARES_DEFAULT + CPU_WEIGHT_DEFAULT / 2) / CPU_WEIGHT_DEFAULT;
        return MIN(MAX(s, (uint64_t) CPU_SHARES_MIN), (uint64_t) CPU_SHARES_MAX);
}

bool cgroup_path_is_valid(const char *path) {
        if (!path)
                return false;
        if (path[0] == '/')
                path++;
        if (!path[0] || strlen(path) > 1024)
                return false;
        for (const char *p = path; *p;) {
                size_t n = strcspn(p, "/");

                if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
                        return false;
                p += n;
                if (*p == '/') {
                        p++;
                        if (!*p)
                                return false; /* a trailing slash */
                }
        }
        return true;
}

/* ---- comparing and writing limits (pure) ---- */

static uint64_t memory_pages(uint64_t bytes) {
        long ps = sysconf(_SC_PAGESIZE);

        if (bytes == UINT64_MAX || ps <= 0)
                return bytes;
        return bytes / (uint64_t) ps;
}

typedef enum LimitField { FIELD_MEMORY, FIELD_QUOTA, FIELD_PERIOD, FIELD_WEIGHT, FIELD_PIDS, _FIELD_MAX } LimitField;

static const char *const field_names[_FIELD_MAX] = {
        [FIELD_MEMORY] = "memory_max",     [FIELD_QUOTA] = "cpu_quota_us", [FIELD_PERIOD] = "cpu_period_us",
        [FIELD_WEIGHT] = "cpu_weight",     [FIELD_PIDS] = "pids_max",
};

static uint64_t field_value(const CgroupLimits *l, LimitField f) {
        switch (f) {
        case FIELD_MEMORY:
                return l->memory_max;
        case FIELD_QUOTA:
                return l->cpu_quota_us;
        case FIELD_PERIOD:
                return l->cpu_period_us;
        case FIELD_WEIGHT:
                return l->cpu_weight;
        default:
                return l->pids_max;
        }
}

static bool field_equal(const CgroupLimits *a, const CgroupLimits *b, LimitField f) {
        uint64_t x = field_value(a, f), y = field_value(b, f);

        switch (f) {
        case FIELD_MEMORY:
                return memory_pages(x) == memory_pages(y);
        case FIELD_PERIOD:
        case FIELD_WEIGHT:
                return x == 0 || y == 0 || x == y; /* 0: unknown, or "leave as is" in what we want */
        default:
                return x == y;
        }
}

bool cgroup_limits_equal(const CgroupLimits *a, const CgroupLimits *b) {
        for (LimitField f = 0; f < _FIELD_MAX; f++)
                if (!field_equal(a, b, f))
                        return false;
        return true;
}

static void format_limit(char *buf, size_t size, uint64_t v) {
        if (v == UINT64_MAX)
                snprintf(buf, size, "max");
        else
                snprintf(buf, size, "%" PRIu64, v);
}

void cgroup_limits_format_diff(const CgroupLimits *want, const CgroupLimits *have, char *buf, size_t size) {
        size_t used = 0;

        if (size == 0)
                return;
        buf[0] = 0;
        for (LimitField f = 0; f < _FIELD_MAX; f++) {
                char h[24], w[24];
                int n;

                if (field_equal(want, have, f))
                        continue;
                format_limit(h, sizeof(h), field_value(have, f));
                format_limit(w, sizeof(w), field_value(want, f));
                n = snprintf(buf + used, size - used, "%s%s=%s (want %s)", used > 0 ? ", " : "", field_names[f], h, w);
                if (n < 0 || (size_t) n >= size - used)
                        return; /* truncated, still NUL-terminated */
                used += (size_t) n;
        }
}

static void add_setting(CgroupSetting *s, size_t *n, const char *controller, const char *file, const char *fmt, ...)
        _printf_(5, 6);
static void add_setting(CgroupSetting *s, size_t *n, const char *controller, const char *file, const char *fmt, ...) {
        va_list ap;

        s[*n] = (CgroupSetting) { .controller = controller, .file = file };
        va_start(ap, fmt);
        vsnprintf(s[*n].value, sizeof(s[*n].value), fmt, ap);
        va_end(ap);
        (*n)++;
}

int cgroup_limits_to_settings(CgroupMode mode, const CgroupLimits *l, CgroupSetting ret[static CGROUP_SETTINGS_MAX],
                              size_t *ret_n) {
        CgroupSetting s[CGROUP_SETTINGS_MAX];
        size_t n = 0;

        if (l->cpu_quota_us != UINT64_MAX && l->cpu_quota_us < CPU_QUOTA_MIN_US)
                return -ERANGE;
        if (l->cpu_period_us != 0 && (l->cpu_period_us < CPU_PERIOD_MIN_US || l->cpu_period_us > CPU_PERIOD_MAX_US))
                return -ERANGE;
        if (l->cpu_weight != 0 && (l->cpu_weight < CPU_WEIGHT_MIN || l->cpu_weight > CPU_WEIGHT_MAX))
                return -ERANGE;

        if (mode == CGROUP_MODE_V1) {
                /* "-1" is how v1 takes "no limit" for both files (it shows PAGE_COUNTER_MAX for memory) */
                if (l->memory_max == UINT64_MAX)
                        add_setting(s, &n, "memory", "memory.limit_in_bytes", "-1");
                else
                        add_setting(s, &n, "memory", "memory.limit_in_bytes", "%" PRIu64, l->memory_max);
                /* the period first: the quota is checked against it (and against the parent's ratio) */
                if (l->cpu_period_us != 0)
                        add_setting(s, &n, "cpu", "cpu.cfs_period_us", "%" PRIu64, l->cpu_period_us);
                if (l->cpu_quota_us == UINT64_MAX)
                        add_setting(s, &n, "cpu", "cpu.cfs_quota_us", "-1");
                else
                        add_setting(s, &n, "cpu", "cpu.cfs_quota_us", "%" PRIu64, l->cpu_quota_us);
                if (l->cpu_weight != 0)
                        add_setting(s, &n, "cpu", "cpu.shares", "%" PRIu64, cgroup_weight_to_shares(l->cpu_weight));
        } else {
                if (l->memory_max == UINT64_MAX)
                        add_setting(s, &n, "memory", "memory.max", "max");
                else
                        add_setting(s, &n, "memory", "memory.max", "%" PRIu64, l->memory_max);
                /* cpu.max takes "QUOTA [PERIOD]": without a period the kernel keeps the current one */
                if (l->cpu_quota_us == UINT64_MAX && l->cpu_period_us != 0)
                        add_setting(s, &n, "cpu", "cpu.max", "max %" PRIu64, l->cpu_period_us);
                else if (l->cpu_quota_us == UINT64_MAX)
                        add_setting(s, &n, "cpu", "cpu.max", "max");
                else if (l->cpu_period_us != 0)
                        add_setting(s, &n, "cpu", "cpu.max", "%" PRIu64 " %" PRIu64, l->cpu_quota_us, l->cpu_period_us);
                else
                        add_setting(s, &n, "cpu", "cpu.max", "%" PRIu64, l->cpu_quota_us);
                if (l->cpu_weight != 0)
                        add_setting(s, &n, "cpu", "cpu.weight", "%" PRIu64, l->cpu_weight);
        }
        if (l->pids_max == UINT64_MAX)
                add_setting(s, &n, "pids", "pids.max", "max");
        else
                add_setting(s, &n, "pids", "pids.max", "%" PRIu64, l->pids_max);

        memcpy(ret, s, n * sizeof(s[0]));
        *ret_n = n;
        return 0;
}

/* ---- the libcgroup backend ---- */

static void cgroup_freep(struct cgroup **cg) {
        if (*cg)
                cgroup_free(cg);
}
#define _cleanup_cgroup_ _cleanup_(cgroup_freep)

/* libcgroup's error codes as errnos. ECGOTHER carries the errno of the failed system call. */
static int cg_errno(int r) {
        switch (r) {
        case 0:
                return 0;
        case ECGOTHER: {
                int e = cgroup_get_last_errno();
                return e > 0 ? -e : -EIO;
        }
        case ECGROUPNOTEXIST:
        case ECGROUPVALUENOTEXIST:
                return -ENOENT;
        case ECGROUPNOTMOUNTED:
        case ECGROUPSUBSYSNOTMOUNTED:
        case ECGROUPNOTCOMPILED:
                return -ENOMEDIUM;
        case ECGROUPNOTOWNER:
        case ECGROUPNOTALLOWED:
                return -EPERM;
        case ECGINVAL:
                return -EINVAL;
        case ECGNONEMPTY:
                return -EBUSY;
        case ECGROUPNOTINITIALIZED:
                return -ENXIO;
        default:
                return -EIO;
        }
}

static int cg_mount_point(const char *controller, char **ret) {
        int r;

        r = cgroup_get_subsys_mount_point(controller, ret);
        if (r == ECGROUPNOTINITIALIZED) {
                /* the first use in this process: libcgroup reads /proc/mounts once */
                r = cgroup_init();
                if (r != 0)
                        return log_debug_errno(cg_errno(r), "libcgroup: cgroup_init() failed: %s",
                                               cgroup_strerror(r));
                r = cgroup_get_subsys_mount_point(controller, ret);
        }
        if (r != 0)
                return -ENOMEDIUM; /* this controller is not mounted at all */
        return 0;
}

static bool same_directory(const char *a, const char *b) {
        struct stat sa, sb;

        return stat(a, &sa) >= 0 && stat(b, &sb) >= 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* libcgroup works on the hierarchies of the mount table: make sure they are the ones the caller means. */
static int lc_check_mounts(CgroupTarget *t) {
        if (t->mounts_checked)
                return 0;
        for (const char *const *c = mode_controllers(t->mode); *c; c++) {
                _cleanup_free_ char *mp = NULL, *want = NULL;
                int r;

                r = cg_mount_point(*c, &mp);
                if (r < 0)
                        return log_debug_errno(r, "libcgroup: controller %s is not mounted.", *c);
                want = t->mode == CGROUP_MODE_V1 ? path_join(t->fs_root, *c) : strdup(t->fs_root);
                if (!want)
                        return -ENOMEM;
                if (!same_directory(mp, want))
                        return log_debug_errno(-ENOMEDIUM,
                                               "libcgroup: controller %s is mounted at %s, not at %s.",
                                               *c, mp, want);
        }
        t->mounts_checked = true;
        return 0;
}

static void lc_release(CgroupTarget *t) {
        if (t->snapshot)
                cgroup_free(&t->snapshot);
}

static int lc_read(CgroupTarget *t, const char *controller, const char *file, char **ret) {
        struct cgroup_controller *ctl;
        char *v = NULL;
        int r;

        r = lc_check_mounts(t);
        if (r < 0)
                return r;
        if (!t->snapshot) {
                _cleanup_cgroup_ struct cgroup *cg = cgroup_new_cgroup(t->path);

                if (!cg)
                        return -ENOMEM;
                r = cgroup_get_cgroup(cg);
                if (r != 0)
                        return cg_errno(r);
                t->snapshot = TAKE_PTR(cg);
        }
        ctl = cgroup_get_controller(t->snapshot, controller);
        if (!ctl)
                return -ENOENT; /* the cgroup does not exist in this hierarchy */
        r = cgroup_get_value_string(ctl, file, &v);
        if (r != 0)
                return cg_errno(r);
        if (!v)
                return -ENOMEM;
        *ret = v;
        return 0;
}

static int lc_add_settings(struct cgroup *cg, const CgroupSetting *settings, size_t n) {
        for (size_t i = 0; i < n; i++) {
                struct cgroup_controller *ctl = cgroup_get_controller(cg, settings[i].controller);
                int r;

                if (!ctl)
                        ctl = cgroup_add_controller(cg, settings[i].controller);
                if (!ctl)
                        return -ENOMEM;
                r = cgroup_add_value_string(ctl, settings[i].file, settings[i].value);
                if (r != 0)
                        return cg_errno(r);
        }
        return 0;
}

static int lc_write(CgroupTarget *t, const CgroupSetting *settings, size_t n) {
        _cleanup_cgroup_ struct cgroup *cg = NULL;
        int r;

        r = lc_check_mounts(t);
        if (r < 0)
                return r;
        lc_release(t); /* what was read is stale now */
        cg = cgroup_new_cgroup(t->path);
        if (!cg)
                return -ENOMEM;
        /* libcgroup writes controller by controller in the order they were added, values in order: ours */
        r = lc_add_settings(cg, settings, n);
        if (r < 0)
                return r;
        return cg_errno(cgroup_modify_cgroup(cg));
}

static int lc_create(CgroupTarget *t, const CgroupSetting *settings, size_t n) {
        _cleanup_cgroup_ struct cgroup *cg = NULL;
        int r;

        r = lc_check_mounts(t);
        if (r < 0)
                return r;
        lc_release(t);
        cg = cgroup_new_cgroup(t->path);
        if (!cg)
                return -ENOMEM;
        for (const char *const *c = mode_controllers(t->mode); *c; c++)
                if (!cgroup_add_controller(cg, *c))
                        return -ENOMEM;
        r = lc_add_settings(cg, settings, n);
        if (r < 0)
                return r;
        /* mkdir -p in every hierarchy of the struct (existing is fine), chown to our uid, then the values in
         * order, stopping at the first that fails; 0: an ownership error is an error too */
        return cg_errno(cgroup_create_cgroup(cg, 0));
}

static int lc_destroy(CgroupTarget *t) {
        _cleanup_cgroup_ struct cgroup *check = NULL;
        int r;

        r = lc_check_mounts(t);
        if (r < 0)
                return r;
        lc_release(t);

        /* One controller per call, EMPTY_ONLY: the default would move any task left to the parent, out of the
         * limits. With EMPTY_ONLY, libcgroup 2.0.2 returns 0 even when rmdir failed, hence the check below. */
        for (const char *const *c = mode_controllers(t->mode); *c; c++) {
                _cleanup_cgroup_ struct cgroup *cg = cgroup_new_cgroup(t->path);

                if (!cg || !cgroup_add_controller(cg, *c))
                        return -ENOMEM;
                r = cg_errno(cgroup_delete_cgroup_ext(cg, CGFLAG_DELETE_EMPTY_ONLY));
                if (r < 0 && r != -ENOENT)
                        return log_debug_errno(r, "libcgroup: deleting %s from %s failed: %m", t->path, *c);
        }

        check = cgroup_new_cgroup(t->path);
        if (!check)
                return -ENOMEM;
        r = cgroup_get_cgroup(check);
        if (r == ECGROUPNOTEXIST)
                return 0;
        if (r != 0)
                return cg_errno(r);
        for (const char *const *c = mode_controllers(t->mode); *c; c++)
                if (cgroup_get_controller(check, *c)) {
                        log_debug("Cgroup %s is still in the %s hierarchy (tasks or children left).", t->path, *c);
                        r = -EBUSY;
                }
        return r;
}

const CgroupBackend cgroup_backend_libcgroup = {
        .name = "libcgroup",
        .read = lc_read,
        .write = lc_write,
        .create = lc_create,
        .destroy = lc_destroy,
        .release = lc_release,
};

/* ---- the files backend (fixture trees) ---- */

static char *fl_dir(CgroupTarget *t, const char *controller) {
        _cleanup_free_ char *base = NULL;

        if (t->mode == CGROUP_MODE_V2)
                return path_join(t->fs_root, t->path);
        base = path_join(t->fs_root, controller);
        return base ? path_join(base, t->path) : NULL;
}

static int fl_read(CgroupTarget *t, const char *controller, const char *file, char **ret) {
        _cleanup_free_ char *dir = fl_dir(t, controller), *p = NULL;

        if (!dir || !(p = path_join(dir, file)))
                return -ENOMEM;
        return read_full_file(p, CGROUP_FILE_MAX, ret, NULL);
}

static int fl_write(CgroupTarget *t, const CgroupSetting *settings, size_t n) {
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *dir = fl_dir(t, settings[i].controller), *p = NULL, *line = NULL;
                _cleanup_close_ int fd = -1;
                ssize_t k;

                if (!dir || !(p = path_join(dir, settings[i].file)))
                        return -ENOMEM;
                /* the kernel shows a value with a newline; so does the fixture after a write */
                if (asprintf(&line, "%s\n", settings[i].value) < 0)
                        return -ENOMEM;
                fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (fd < 0)
                        return -errno;
                k = write(fd, line, strlen(line));
                if (k < 0)
                        return -errno;
                if ((size_t) k != strlen(line))
                        return -EIO;
        }
        return 0;
}

static int fl_create(CgroupTarget *t, const CgroupSetting *settings, size_t n) {
        for (const char *const *c = mode_controllers(t->mode); *c; c++) {
                _cleanup_free_ char *dir = fl_dir(t, *c);
                int r;

                if (!dir)
                        return -ENOMEM;
                r = mkdir_parents_and_self(dir, 0755);
                if (r < 0)
                        return r;
                if (t->mode == CGROUP_MODE_V2)
                        break;
        }
        return fl_write(t, settings, n);
}

/* A fixture's cgroup is busy like a kernel's: a sub-directory, or a pid in cgroup.procs. */
static int fl_dir_busy(const char *dir) {
        _cleanup_(closedirp) DIR *d = opendir(dir);
        _cleanup_free_ char *procs_path = path_join(dir, "cgroup.procs"), *procs = NULL;
        struct dirent *de;

        if (!d)
                return errno == ENOENT ? 0 : -errno;
        if (!procs_path)
                return -ENOMEM;
        if (read_full_file(procs_path, CGROUP_FILE_MAX, &procs, NULL) >= 0 && !isempty(procs))
                return -EBUSY;
        while ((de = readdir(d)))
                if (de->d_type == DT_DIR && !streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        return -EBUSY;
        return 0;
}

static int fl_remove_dir(const char *dir) {
        _cleanup_(closedirp) DIR *d = opendir(dir);
        struct dirent *de;

        if (!d)
                return errno == ENOENT ? 0 : -errno;
        while ((de = readdir(d))) {
                if (de->d_type != DT_REG)
                        continue;
                if (unlinkat(dirfd(d), de->d_name, 0) < 0)
                        return -errno;
        }
        if (rmdir(dir) < 0)
                return -errno;
        return 0;
}

static int fl_destroy(CgroupTarget *t) {
        int r;

        /* all checks first, so that a busy cgroup is left whole */
        for (int pass = 0; pass < 2; pass++)
                for (const char *const *c = mode_controllers(t->mode); *c; c++) {
                        _cleanup_free_ char *dir = fl_dir(t, *c);

                        if (!dir)
                                return -ENOMEM;
                        r = pass == 0 ? fl_dir_busy(dir) : fl_remove_dir(dir);
                        if (r < 0)
                                return r;
                        if (t->mode == CGROUP_MODE_V2)
                                break;
                }
        return 0;
}

static void fl_release(CgroupTarget *t) {
}

const CgroupBackend cgroup_backend_files = {
        .name = "files",
        .read = fl_read,
        .write = fl_write,
        .create = fl_create,
        .destroy = fl_destroy,
        .release = fl_release,
};

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

static int read_usage(CgroupTarget *t, CgroupUsage *ret) {
        CgroupUsage u = {};
        int r;

        if (t->mode == CGROUP_MODE_V1)
                r = read_specs(t, v1_usage, ELEMENTSOF(v1_usage), &u);
        else
                r = read_specs(t, v2_usage, ELEMENTSOF(v2_usage), &u);
        if (r < 0)
                return r;
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
