/* SPDX-License-Identifier: MIT */
/* The pure half of the cgroup module: parsing control files, comparing limits and turning them into the
 * settings of either hierarchy version. No file system, no libcgroup: tests/unit/test-cgroup-parse drives it
 * with literals. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "resources/cgroup.h"
#include "shared/macro.h"
#include "shared/parse-util.h"

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

int cgroup_parse_pressure(const char *text, const char *kind, CgroupPressure *ret) {
        size_t klen;

        if (!text || isempty(kind))
                return -EINVAL;
        klen = strlen(kind);
        for (const char *line = text; *line;) {
                const char *eol = strchrnul(line, '\n');

                if ((size_t) (eol - line) > klen && strneq(line, kind, klen) && line[klen] == ' ') {
                        char buf[160];
                        double a10, a60, a300;
                        uint64_t total;
                        int end = -1;

                        if ((size_t) (eol - line) >= sizeof(buf))
                                return -EINVAL;
                        memcpy(buf, line, (size_t) (eol - line));
                        buf[eol - line] = 0;
                        if (sscanf(buf + klen, " avg10=%lf avg60=%lf avg300=%lf total=%" SCNu64 "%n", &a10, &a60,
                                   &a300, &total, &end) != 4 || end < 0 || buf[klen + end] != 0 || a10 < 0 ||
                            a10 > 100 || strstr(buf, "total=-"))
                                return -EINVAL; /* (%SCNu64 takes "-1" as a huge number) */
                        *ret = (CgroupPressure) { .avg10 = a10, .total_usec = total };
                        return 0;
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

char *cgroup_slice_path(const char *slice) {
        size_t n = strlen(slice), size = 1;
        const char *stem_end = slice + n - strlen(".slice");
        char *p, *q;

        if (n <= strlen(".slice") || !streq(stem_end, ".slice"))
                return NULL;
        for (const char *c = slice; c < stem_end; c++)
                if (*c == '-')
                        size += (size_t) (c - slice) + strlen(".slice/");
        size += strlen(slice);
        p = q = malloc(size);
        if (!p)
                return NULL;
        for (const char *c = slice; c < stem_end; c++)
                if (*c == '-')
                        q += sprintf(q, "%.*s.slice/", (int) (c - slice), slice);
        strcpy(q, slice);
        return p;
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

typedef enum LimitField {
        FIELD_MEMORY,
        FIELD_HIGH,
        FIELD_QUOTA,
        FIELD_PERIOD,
        FIELD_WEIGHT,
        FIELD_PIDS,
        _FIELD_MAX
} LimitField;

static const char *const field_names[_FIELD_MAX] = {
        [FIELD_MEMORY] = "memory_max",     [FIELD_HIGH] = "memory_high", [FIELD_QUOTA] = "cpu_quota_us", [FIELD_PERIOD] = "cpu_period_us",
        [FIELD_WEIGHT] = "cpu_weight",     [FIELD_PIDS] = "pids_max",
};

static uint64_t field_value(const CgroupLimits *l, LimitField f) {
        switch (f) {
        case FIELD_MEMORY:
                return l->memory_max;
        case FIELD_HIGH:
                return l->memory_high;
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
        case FIELD_HIGH:
                return x == 0 || y == 0 || memory_pages(x) == memory_pages(y);
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
                if (l->memory_high == UINT64_MAX)
                        add_setting(s, &n, "memory", "memory.high", "max");
                else if (l->memory_high != 0)
                        add_setting(s, &n, "memory", "memory.high", "%" PRIu64, l->memory_high);
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
