/* SPDX-License-Identifier: MIT */
/* src/resources, the pure part of the cgroup module (the first of the three parts cgroup.h describes): the
 * parsers and translations on the kernel's exact formats (numbers and "max", keyed files, PSI lines), slice
 * paths, weights, the settings written for a limit in each mode, and limits compared. No file is read; the
 * fixture trees and the real hierarchies are test-cgroup.c's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resources/cgroup.h"
#include "shared/log.h"
#include "tap.h"

#define MAXV UINT64_MAX

/* For TAP descriptions: "\n" as two characters. One of a few rotating buffers. */
static const char *esc(const char *s) {
        static char bufs[4][128];
        static unsigned next;
        char *b = bufs[next++ % ELEMENTSOF(bufs)], *p = b;

        for (; *s && p < b + sizeof(bufs[0]) - 3; s++) {
                if (*s == '\n') {
                        *p++ = '\\';
                        *p++ = 'n';
                } else
                        *p++ = *s;
        }
        *p = 0;
        return b;
}

typedef int (*ParseFunc)(const char *s, uint64_t *ret);

typedef struct ParseCase {
        const char *input;
        int ret;
        uint64_t value;
} ParseCase;

static void run_parse_table(const char *name, ParseFunc f, const ParseCase *cases, size_t n) {
        for (size_t i = 0; i < n; i++) {
                uint64_t v = 4242;
                int r = f(cases[i].input, &v);
                bool pass = r == cases[i].ret && (r < 0 ? v == 4242 : v == cases[i].value);

                if (!ok(pass, "%s(\"%s\") = %d, %" PRIu64, name, esc(cases[i].input), cases[i].ret, cases[i].value))
                        diag("got %d, %" PRIu64, r, v);
        }
}

static void test_parsers(void) {
        static const ParseCase u64[] = {
                { "1234\n", 0, 1234 },
                { "0\n", 0, 0 },
                { "1234", 0, 1234 }, /* as libcgroup hands it over */
                { "18446744073709551615\n", 0, MAXV },
                { "18446744073709551616\n", -EINVAL, 0 },
                { "", -EINVAL, 0 },
                { "\n", -EINVAL, 0 },
                { "-1\n", -EINVAL, 0 },
                { " 1\n", -EINVAL, 0 },
                { "1 \n", -EINVAL, 0 },
                { "1\n\n", -EINVAL, 0 },
                { "0x10\n", -EINVAL, 0 },
                { "12a\n", -EINVAL, 0 },
                { "max\n", -EINVAL, 0 },
        };
        static const ParseCase max[] = {
                { "max\n", 0, MAXV },
                { "max", 0, MAXV },
                { "67108864\n", 0, 67108864 },
                { "64", 0, 64 },
                { "0\n", 0, 0 },
                { "max \n", -EINVAL, 0 },
                { "MAX\n", -EINVAL, 0 },
                { "maximum\n", -EINVAL, 0 },
                { "-1\n", -EINVAL, 0 },
                { "", -EINVAL, 0 },
                { "max\n\n", -EINVAL, 0 },
        };
        static const ParseCase v1_memory[] = {
                { "9223372036854771712\n", 0, MAXV }, /* 4 KiB pages */
                { "9223372036854710272\n", 0, MAXV }, /* 64 KiB pages */
                { "9223372036854771712", 0, MAXV },
                { "67108864\n", 0, 67108864 },
                { "0\n", 0, 0 },
                { "9223372036853727230\n", 0, 9223372036853727230ULL }, /* a real limit just below the margin */
                { "4611686018427387904\n", 0, 4611686018427387904ULL },
                { "-1\n", -EINVAL, 0 },
                { "max\n", -EINVAL, 0 },
                { "", -EINVAL, 0 },
        };
        static const ParseCase v1_quota[] = {
                { "-1\n", 0, MAXV },
                { "-1", 0, MAXV },
                { "20000\n", 0, 20000 },
                { "-2\n", -EINVAL, 0 },
                { "max\n", -EINVAL, 0 },
                { "", -EINVAL, 0 },
                { "-1 \n", -EINVAL, 0 },
        };
        static const struct {
                const char *input;
                int ret;
                uint64_t quota, period;
        } cpu_max[] = {
                { "max 100000\n", 0, MAXV, 100000 },
                { "50000 100000\n", 0, 50000, 100000 },
                { "50000 100000", 0, 50000, 100000 },
                { "max 1000000\n", 0, MAXV, 1000000 },
                { "max\n", -EINVAL, 0, 0 },
                { "50000\n", -EINVAL, 0, 0 },
                { "50000  100000\n", -EINVAL, 0, 0 },
                { "50000 100000 1\n", -EINVAL, 0, 0 },
                { "-1 100000\n", -EINVAL, 0, 0 },
                { "50000 0\n", -EINVAL, 0, 0 },
                { " max 100000\n", -EINVAL, 0, 0 },
                { "max 100000\n\n", -EINVAL, 0, 0 },
                { "", -EINVAL, 0, 0 },
        };

        run_parse_table("cgroup_parse_u64", cgroup_parse_u64, u64, ELEMENTSOF(u64));
        run_parse_table("cgroup_parse_max", cgroup_parse_max, max, ELEMENTSOF(max));
        run_parse_table("cgroup_parse_v1_memory_limit", cgroup_parse_v1_memory_limit, v1_memory, ELEMENTSOF(v1_memory));
        run_parse_table("cgroup_parse_v1_quota", cgroup_parse_v1_quota, v1_quota, ELEMENTSOF(v1_quota));

        for (size_t i = 0; i < ELEMENTSOF(cpu_max); i++) {
                uint64_t q = 7, p = 7;
                int r = cgroup_parse_cpu_max(cpu_max[i].input, &q, &p);
                bool pass = r == cpu_max[i].ret &&
                            (r < 0 ? q == 7 && p == 7 : q == cpu_max[i].quota && p == cpu_max[i].period);
                if (!ok(pass, "cgroup_parse_cpu_max(\"%s\")", esc(cpu_max[i].input)))
                        diag("got %d, %" PRIu64 " %" PRIu64, r, q, p);
        }
}

static void test_parse_pressure(void) {
        static const char mem[] = "some avg10=12.34 avg60=5.00 avg300=1.00 total=812345\n"
                                  "full avg10=10.00 avg60=4.00 avg300=0.80 total=700000\n";
        static const struct {
                const char *text, *kind;
                int ret;
                double avg10;
                uint64_t total;
        } cases[] = {
                { mem, "some", 0, 12.34, 812345 },
                { mem, "full", 0, 10.00, 700000 },
                /* cpu before 5.13: no "full" line */
                { "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", "full", -ENOENT, 0, 0 },
                { "some avg10=0.00 avg60=0.00 avg300=0.00 total=0", "some", 0, 0, 0 }, /* via libcgroup */
                { "", "some", -ENOENT, 0, 0 },
                { "some avg10=0.00 avg60=0.00 total=0\n", "some", -EINVAL, 0, 0 },
                { "some avg10=x avg60=0.00 avg300=0.00 total=0\n", "some", -EINVAL, 0, 0 },
                { "some avg10=0.00 avg60=0.00 avg300=0.00 total=0 more\n", "some", -EINVAL, 0, 0 },
                { "some avg10=0.00 avg60=0.00 avg300=0.00 total=-1\n", "some", -EINVAL, 0, 0 },
                { "some avg10=101.00 avg60=0.00 avg300=0.00 total=1\n", "some", -EINVAL, 0, 0 },
                { "somewhere avg10=1.00 avg60=0.00 avg300=0.00 total=1\n", "some", -ENOENT, 0, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                CgroupPressure p = { 42, 42 };
                int r = cgroup_parse_pressure(cases[i].text, cases[i].kind, &p);
                is_int(r, cases[i].ret, "pressure case %zu (%s): returns %d", i, cases[i].kind, cases[i].ret);
                if (cases[i].ret == 0)
                        ok(p.avg10 == cases[i].avg10 && p.total_usec == cases[i].total,
                           "pressure case %zu: avg10 %.2f total %" PRIu64, i, p.avg10, p.total_usec);
                else
                        ok(p.avg10 == 42 && p.total_usec == 42, "pressure case %zu: nothing written", i);
        }
}

static void test_slice_path(void) {
        static const struct {
                const char *slice, *path;
        } cases[] = {
                { "ballast-web.slice", "ballast.slice/ballast-web.slice" },
                { "ballast-my-web.slice", "ballast.slice/ballast-my.slice/ballast-my-web.slice" },
                { "ballast.slice", "ballast.slice" },
                { "ballast-web.service", NULL },
                { ".slice", NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *p = cgroup_slice_path(cases[i].slice);
                ok(streq_ptr(p, cases[i].path), "slice %s is at %s (got %s)", cases[i].slice, cases[i].path ?: "(null)",
                   p ?: "(null)");
        }
}

static void test_parse_keyed(void) {
        static const char memory_events[] = "low 0\nhigh 0\nmax 17\noom 2\noom_kill 2\noom_group_kill 0\n";
        static const char oom_control[] = "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n";
        static const char v1_cpu_stat[] =
                "nr_periods 7\nnr_throttled 6\nthrottled_time 250522007\nnr_bursts 0\nburst_time 0\n";
        static const char v2_cpu_stat[] =
                "usage_usec 8123456\nuser_usec 6000000\nsystem_usec 2123456\ncore_sched.force_idle_usec 0\n"
                "nr_periods 1500\nnr_throttled 42\nthrottled_usec 3141592\nnr_bursts 0\nburst_usec 0\n";
        static const struct {
                const char *text, *key;
                int ret;
                uint64_t value;
        } cases[] = {
                { memory_events, "oom_kill", 0, 2 },
                { memory_events, "oom", 0, 2 },
                { memory_events, "max", 0, 17 },
                { memory_events, "oom_group_kill", 0, 0 },
                { memory_events, "oom_kil", -ENOENT, 0 },
                { memory_events, "kill", -ENOENT, 0 },
                { oom_control, "oom_kill", 0, 1 },
                { "oom_kill_disable 0\nunder_oom 0\n", "oom_kill", -ENOENT, 0 }, /* before 4.13 */
                { "oom_kill_disable 0\nunder_oom 0\noom_kill 1", "oom_kill", 0, 1 }, /* via libcgroup */
                { v1_cpu_stat, "throttled_time", 0, 250522007 },
                { v1_cpu_stat, "nr_throttled", 0, 6 },
                { v2_cpu_stat, "usage_usec", 0, 8123456 },
                { v2_cpu_stat, "throttled_usec", 0, 3141592 },
                { v2_cpu_stat, "core_sched.force_idle_usec", 0, 0 },
                { "usage_usec 5", "usage_usec", 0, 5 },
                { "", "oom_kill", -ENOENT, 0 },
                { "oom_kill x\n", "oom_kill", -EINVAL, 0 },
                { "oom_kill\n", "oom_kill", -EINVAL, 0 },
                { "oom_kill \n", "oom_kill", -EINVAL, 0 },
                { "oom_kill 1 2\n", "oom_kill", -EINVAL, 0 },
                { "oom_kill -1\n", "oom_kill", -EINVAL, 0 },
                { "garbage\noom_kill 1\n", "oom_kill", -EINVAL, 0 },
                { "low 0\n\noom_kill 1\n", "oom_kill", -EINVAL, 0 },
                { " oom_kill 1\n", "oom_kill", -EINVAL, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint64_t v = 4242;
                int r = cgroup_parse_keyed(cases[i].text, cases[i].key, &v);
                bool pass = r == cases[i].ret && (r < 0 ? v == 4242 : v == cases[i].value);
                if (!ok(pass, "cgroup_parse_keyed(case %zu, \"%s\") = %d, %" PRIu64, i, cases[i].key, cases[i].ret,
                        cases[i].value))
                        diag("got %d, %" PRIu64, r, v);
        }
}

static void test_weights(void) {
        static const struct {
                uint64_t shares, weight;
        } to_weight[] = {
                { 1024, 100 }, { 2, 1 },   { 10, 1 },   { 512, 50 },      { 379, 37 },
                { 378, 37 } /* systemd writes weight 37 as floor(37 * 1024 / 100) */,
                { 102400, 10000 },          { 262144, 10000 },           { 0, 1 },
        }, to_shares[] = {
                { 1024, 100 }, { 10, 1 }, { 102400, 10000 }, { 379, 37 }, { 512, 50 }, { 102400, 99999 },
        };
        uint64_t bad = 0;

        for (size_t i = 0; i < ELEMENTSOF(to_weight); i++)
                is_int(cgroup_shares_to_weight(to_weight[i].shares), to_weight[i].weight,
                       "cpu.shares %" PRIu64 " is weight %" PRIu64, to_weight[i].shares, to_weight[i].weight);
        for (size_t i = 0; i < ELEMENTSOF(to_shares); i++)
                is_int(cgroup_weight_to_shares(to_shares[i].weight), to_shares[i].shares,
                       "weight %" PRIu64 " is cpu.shares %" PRIu64, to_shares[i].weight, to_shares[i].shares);
        for (uint64_t w = 1; w <= 10000; w++)
                if (cgroup_shares_to_weight(cgroup_weight_to_shares(w)) != w && bad++ == 0)
                        diag("weight %" PRIu64 " reads back as %" PRIu64, w,
                             cgroup_shares_to_weight(cgroup_weight_to_shares(w)));
        is_int(bad, 0, "every weight 1..10000 written as cpu.shares reads back as itself");
}

static void test_paths(void) {
        static const struct {
                const char *path;
                bool valid;
        } cases[] = {
                { "ballast.slice/ballast-web.service", true },
                { "/ballast/web", true },
                { "x", true },
                { "", false },
                { "/", false },
                { "a//b", false },
                { "a/", false },
                { "../x", false },
                { "a/../b", false },
                { "a/./b", false },
                { ".", false },
                { "a/..", false },
                { "a/...", true },
                { "..a/b", true },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                ok(cgroup_path_is_valid(cases[i].path) == cases[i].valid, "path \"%s\" is %s", cases[i].path,
                   cases[i].valid ? "valid" : "refused");
        ok(!cgroup_path_is_valid(NULL), "NULL path refused");
}

static char *settings_string(CgroupMode mode, const CgroupLimits *l, int *ret) {
        CgroupSetting s[CGROUP_SETTINGS_MAX];
        char *buf = NULL;
        size_t size = 0, n = 0;
        FILE *f;

        *ret = cgroup_limits_to_settings(mode, l, s, &n);
        f = open_memstream(&buf, &size);
        if (!f)
                abort();
        for (size_t i = 0; *ret >= 0 && i < n; i++)
                fprintf(f, "%s%s/%s=%s", i > 0 ? " " : "", s[i].controller, s[i].file, s[i].value);
        fclose(f);
        return buf;
}

static void test_settings(void) {
        static const struct {
                CgroupMode mode;
                CgroupLimits l;
                int ret;
                const char *want;
        } cases[] = {
                { CGROUP_MODE_V1, { 67108864, 20000, 100000, 0, 64 }, 0,
                  "memory/memory.limit_in_bytes=67108864 cpu/cpu.cfs_period_us=100000 cpu/cpu.cfs_quota_us=20000 "
                  "pids/pids.max=64" },
                { CGROUP_MODE_V1, { MAXV, MAXV, 0, 0, MAXV }, 0,
                  "memory/memory.limit_in_bytes=-1 cpu/cpu.cfs_quota_us=-1 pids/pids.max=max" },
                { CGROUP_MODE_V1, { MAXV, MAXV, 0, 37, MAXV }, 0,
                  "memory/memory.limit_in_bytes=-1 cpu/cpu.cfs_quota_us=-1 cpu/cpu.shares=379 pids/pids.max=max" },
                { CGROUP_MODE_V2, { 67108864, 20000, 100000, 0, 64 }, 0,
                  "memory/memory.max=67108864 cpu/cpu.max=20000 100000 pids/pids.max=64" },
                { CGROUP_MODE_V2, { MAXV, MAXV, 0, 0, MAXV }, 0,
                  "memory/memory.max=max cpu/cpu.max=max pids/pids.max=max" },
                { CGROUP_MODE_V2, { MAXV, MAXV, 100000, 0, MAXV }, 0,
                  "memory/memory.max=max cpu/cpu.max=max 100000 pids/pids.max=max" },
                { CGROUP_MODE_V2, { 1, 20000, 0, 10000, 1 }, 0,
                  "memory/memory.max=1 cpu/cpu.max=20000 cpu/cpu.weight=10000 pids/pids.max=1" },
                { CGROUP_MODE_V2, { MAXV, 999, 0, 0, MAXV }, -ERANGE, "" },
                { CGROUP_MODE_V1, { MAXV, 1000, 999, 0, MAXV }, -ERANGE, "" },
                { CGROUP_MODE_V1, { MAXV, 1000, 1000001, 0, MAXV }, -ERANGE, "" },
                { CGROUP_MODE_V2, { MAXV, MAXV, 0, 10001, MAXV }, -ERANGE, "" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int r;
                _cleanup_free_ char *got = settings_string(cases[i].mode, &cases[i].l, &r);

                is_int(r, cases[i].ret, "settings case %zu (%s): returns %d", i, cgroup_mode_to_string(cases[i].mode),
                       cases[i].ret);
                if (r >= 0)
                        is_str(got, cases[i].want, "settings case %zu: the exact writes", i);
        }
}

static void test_equal_and_diff(void) {
        uint64_t ps = (uint64_t) sysconf(_SC_PAGESIZE);
        CgroupLimits want = { 1000000, 20000, 100000, 0, 64 }, have = want;
        char buf[256], small[10];

        have.memory_max = 1000000 / ps * ps;
        ok(cgroup_limits_equal(&want, &have), "a memory limit rounded down to the page is equal");
        have.memory_max -= ps;
        ok(!cgroup_limits_equal(&want, &have), "one page less is not");
        have = want;
        have.cpu_weight = 100;
        ok(cgroup_limits_equal(&want, &have), "a weight we do not set is not compared");
        want.cpu_weight = 50;
        ok(!cgroup_limits_equal(&want, &have), "a weight we set is");
        want.cpu_weight = 0;
        have.cpu_period_us = 0;
        ok(cgroup_limits_equal(&want, &have), "an unknown period is not compared");
        have = want;
        have.cpu_quota_us = MAXV;
        ok(!cgroup_limits_equal(&want, &have), "a removed quota is a difference");
        have = want;
        have.pids_max = 65;
        ok(!cgroup_limits_equal(&want, &have), "a pids limit is compared exactly");
        have = want;
        have.memory_max = MAXV;
        ok(!cgroup_limits_equal(&want, &have), "no memory limit is a difference");
        want.memory_max = MAXV;
        ok(cgroup_limits_equal(&want, &have), "no memory limit on both sides is equal");

        want = (CgroupLimits) { 67108864, 20000, 100000, 0, 64 };
        have = (CgroupLimits) { 134217728, MAXV, 100000, 100, 64 };
        cgroup_limits_format_diff(&want, &have, buf, sizeof(buf));
        is_str(buf, "memory_max=134217728 (want 67108864), cpu_quota_us=max (want 20000)", "the difference in words");
        cgroup_limits_format_diff(&want, &want, buf, sizeof(buf));
        is_str(buf, "", "no difference, no words");
        cgroup_limits_format_diff(&want, &have, small, sizeof(small));
        ok(strlen(small) < sizeof(small), "a short buffer stays terminated (\"%s\")", small);
}

int main(void) {
        log_setup(LOG_TARGET_STDERR, LOG_DEBUG);
        test_parsers();
        test_parse_keyed();
        test_parse_pressure();
        test_slice_path();
        test_weights();
        test_paths();
        test_settings();
        test_equal_and_diff();
        return tap_done();
}
