/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "resources/cgroup.h"
#include "shared/fileio.h"
#include "shared/log.h"
#include "tap.h"

/* Two of the three parts cgroup.h describes (the first, the pure parsers and translations on the kernel's exact
 * formats, is test-cgroup-parse.c):
 *   2. the interpretation on fixture trees (tests/data/cgroup/v1 was captured from the real v1 hierarchies of
 *      the build machine, kernel 6.18; v2 follows Documentation/admin-guide/cgroup-v2.rst and the kernel's
 *      show functions), copied to a temporary directory so that writes do not touch the source tree;
 *   3. the libcgroup backend on the real v1 hierarchies, as root, in a scratch cgroup removed at the end. */

#define MAXV UINT64_MAX

static char *data_dir(void) {
        const char *top = getenv("top_srcdir");
        char *p;

        if (top) {
                if (asprintf(&p, "%s/tests/data/cgroup", top) < 0)
                        abort();
        } else {
                const char *f = __FILE__, *slash = strrchr(f, '/');
                int n = slash ? (int) (slash - f) : 1;
                if (asprintf(&p, "%.*s/data/cgroup", n, slash ? f : ".") < 0)
                        abort();
        }
        return p;
}

static char *read_text(const char *dir, const char *file) {
        _cleanup_free_ char *p = path_join(dir, file);
        char *text = NULL;

        if (!p || read_full_file(p, 1024 * 1024, &text, NULL) < 0)
                return NULL;
        return text;
}

static int write_text(const char *dir, const char *file, const char *text) {
        _cleanup_free_ char *p = path_join(dir, file);
        _cleanup_close_ int fd = -1;
        size_t n = strlen(text);

        if (!p)
                return -ENOMEM;
        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        if (write(fd, text, n) != (ssize_t) n)
                return -errno;
        return 0;
}

static bool file_is(const char *dir, const char *file, const char *want) {
        _cleanup_free_ char *got = read_text(dir, file);

        if (!got || !streq(got, want)) {
                diag("%s/%s: got \"%s\", want \"%s\"", dir, file, strna(got), want);
                return false;
        }
        return true;
}

static bool dir_exists(const char *p) {
        struct stat st;
        return stat(p, &st) >= 0 && S_ISDIR(st.st_mode);
}

static int copy_tree(const char *src, const char *dst) {
        _cleanup_(closedirp) DIR *d = opendir(src);
        struct dirent *de;

        if (!d || mkdir(dst, 0755) < 0)
                return -errno;
        while ((de = readdir(d))) {
                _cleanup_free_ char *s = NULL, *t = NULL, *text = NULL;
                int r;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                s = path_join(src, de->d_name);
                t = path_join(dst, de->d_name);
                if (!s || !t)
                        return -ENOMEM;
                if (de->d_type == DT_DIR)
                        r = copy_tree(s, t);
                else {
                        r = read_full_file(s, 1024 * 1024, &text, NULL);
                        if (r >= 0)
                                r = write_text(dst, de->d_name, text);
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(p) < 0 ? -1 : 0;
}

static void rm_rf(const char *p) {
        (void) nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A copy of tests/data/cgroup/NAME in a new temporary directory; *ret_tmp is what to remove. */
static char *fixture(const char *name, char **ret_tmp) {
        _cleanup_free_ char *data = data_dir(), *src = path_join(data, name);
        char tmpl[] = "/tmp/test-cgroup-XXXXXX", *tmp, *dst;

        tmp = mkdtemp(tmpl);
        if (!tmp || !src)
                abort();
        dst = path_join(tmp, name);
        if (!dst || copy_tree(src, dst) < 0)
                abort();
        *ret_tmp = strdup(tmp);
        return dst;
}

static bool limits_are(const CgroupLimits *got, uint64_t mem, uint64_t quota, uint64_t period, uint64_t weight,
                       uint64_t pids) {
        bool same = got->memory_max == mem && got->cpu_quota_us == quota && got->cpu_period_us == period &&
                    got->cpu_weight == weight && got->pids_max == pids;
        if (!same)
                diag("got memory_max=%" PRIu64 " cpu_quota_us=%" PRIu64 " cpu_period_us=%" PRIu64 " cpu_weight=%" PRIu64
                     " pids_max=%" PRIu64,
                     got->memory_max, got->cpu_quota_us, got->cpu_period_us, got->cpu_weight, got->pids_max);
        return same;
}

/* no PSI: v1, or a v2 cgroup without the files */
#define NOPSI                                                                                                      \
        .memory_pressure = CGROUP_PRESSURE_UNKNOWN, .cpu_pressure = CGROUP_PRESSURE_UNKNOWN,                       \
        .io_pressure = CGROUP_PRESSURE_UNKNOWN

static bool usage_is(const CgroupUsage *u, const CgroupUsage *want) {
        bool same = memcmp(u, want, sizeof(*u)) == 0;
        if (!same)
                diag("got memory_current=%" PRIu64 " memory_peak=%" PRIu64 " cpu_usage_usec=%" PRIu64
                     " pids_current=%" PRIu64 " oom_kills=%" PRIu64 " cpu_nr_throttled=%" PRIu64
                     " cpu_throttled_usec=%" PRIu64 " psi memory %.2f/%" PRIu64 " cpu %.2f/%" PRIu64
                     " io %.2f/%" PRIu64,
                     u->memory_current, u->memory_peak, u->cpu_usage_usec, u->pids_current, u->oom_kills,
                     u->cpu_nr_throttled, u->cpu_throttled_usec, u->memory_pressure.avg10,
                     u->memory_pressure.total_usec, u->cpu_pressure.avg10, u->cpu_pressure.total_usec,
                     u->io_pressure.avg10, u->io_pressure.total_usec);
        return same;
}

/* ---- 2. fixture trees ---- */

static void test_detect(void) {
        _cleanup_free_ char *tmp1 = NULL, *tmp2 = NULL, *v1 = fixture("v1", &tmp1), *v2 = fixture("v2", &tmp2);
        const CgroupBackend *b = NULL;
        CgroupMode m = 99;
        char empty[] = "/tmp/test-cgroup-empty-XXXXXX";

        is_int(cgroup_detect_mode(v1, &m), 0, "v1 fixture: detected");
        is_int(m, CGROUP_MODE_V1, "v1 fixture is v1");
        is_int(cgroup_detect_mode(v2, &m), 0, "v2 fixture: detected");
        is_int(m, CGROUP_MODE_V2, "v2 fixture is v2");
        if (!mkdtemp(empty))
                abort();
        is_int(cgroup_detect_mode(empty, &m), -ENOMEDIUM, "an empty directory is no cgroup tree");
        is_int(cgroup_backend_select(CGROUP_MODE_V2, empty, &b), 0, "a plain directory has a backend");
        is_str(b ? b->name : NULL, "files", "... the files backend");
        is_int(cgroup_backend_select(CGROUP_MODE_V1, v1, &b), 0, "v1 fixture has a backend");
        is_str(b ? b->name : NULL, "files", "... the files backend");
        is_int(cgroup_backend_select(CGROUP_MODE_V1, empty, &b), -ENOENT, "no memory hierarchy, no v1 backend");
        rmdir(empty);
        rm_rf(tmp1);
        rm_rf(tmp2);
}

static void test_v2_fixture(void) {
        _cleanup_free_ char *tmp = NULL, *root = fixture("v2", &tmp),
                            *web = path_join(root, "ballast.slice/ballast-web.service");
        const char *WEB = "ballast.slice/ballast-web.service", *BATCH = "ballast.slice/ballast-batch.service";
        CgroupLimits l, found, want;
        CgroupUsage u;

        is_int(cgroup_read_limits(CGROUP_MODE_V2, root, WEB, &l), 0, "v2 web: limits read");
        ok(limits_are(&l, 268435456, 50000, 100000, 100, 64), "v2 web: memory.max, cpu.max, cpu.weight, pids.max");
        is_int(cgroup_read_usage(CGROUP_MODE_V2, root, WEB, &u), 0, "v2 web: usage read");
        ok(usage_is(&u, &(CgroupUsage) { .memory_current = 73252864, .memory_peak = 142606336,
                                         .cpu_usage_usec = 8123456, .pids_current = 3, .oom_kills = 2,
                                         .cpu_nr_throttled = 42, .cpu_throttled_usec = 3141592,
                                         .memory_pressure = { 12.34, 812345 }, .cpu_pressure = { 1.50, 2995059 },
                                         .io_pressure = { 0, 20194 } }),
           "v2 web: memory.current/peak, cpu.stat, pids.current, memory.events oom_kill, *.pressure some");
        is_int(cgroup_read_limits(CGROUP_MODE_V2, root, WEB, &l), 0, "v2 web: limits read again");
        ok(l.memory_high == MAXV, "v2 web: memory.high \"max\" is no limit");

        {
                CgroupLimits l2;
                CgroupUsage u2;
                is_int(cgroup_read(CGROUP_MODE_V2, root, WEB, &l2, &u2), 0, "v2 web: both read at once");
                ok(memcmp(&l, &l2, sizeof(l)) == 0 && memcmp(&u, &u2, sizeof(u)) == 0, "v2 web: ... the same");
        }

        is_int(cgroup_read_limits(CGROUP_MODE_V2, root, "/ballast.slice/ballast-batch.service", &l), 0,
               "v2 batch: limits read (leading slash)");
        ok(limits_are(&l, MAXV, MAXV, 100000, 50, MAXV), "v2 batch: \"max\" everywhere is no limit");
        is_int(cgroup_read_usage(CGROUP_MODE_V2, root, BATCH, &u), 0, "v2 batch: usage read");
        ok(usage_is(&u, &(CgroupUsage) { .memory_current = 4096000, .cpu_usage_usec = 1000, NOPSI }),
           "v2 batch: no memory.peak (before 5.19) is 0, no *.pressure (no CONFIG_PSI) is unknown");
        is_int(cgroup_read_limits(CGROUP_MODE_V2, root, BATCH, &l), 0, "v2 batch: limits read again");
        ok(l.memory_high == 0, "v2 batch: no memory.high is unknown (0), not \"no limit\"");

        /* write, then the bytes, then read back */
        want = (CgroupLimits) { 134217728, 20000, 100000, 50, MAXV };
        is_int(cgroup_write_limits(CGROUP_MODE_V2, root, WEB, &want), 0, "v2 web: limits written");
        ok(file_is(web, "memory.max", "134217728\n") && file_is(web, "cpu.max", "20000 100000\n") &&
                   file_is(web, "cpu.weight", "50\n") && file_is(web, "pids.max", "max\n"),
           "v2 web: the files hold the kernel's format");
        is_int(cgroup_read_limits(CGROUP_MODE_V2, root, WEB, &l), 0, "v2 web: read back");
        ok(limits_are(&l, 134217728, 20000, 100000, 50, MAXV) && cgroup_limits_equal(&want, &l),
           "v2 web: read back as written");

        /* tampering behind our back */
        write_text(web, "memory.max", "max\n");
        write_text(web, "cpu.max", "100000 100000\n");
        is_int(cgroup_read_limits(CGROUP_MODE_V2, root, WEB, &l), 0, "v2 web: tampered limits read");
        ok(!cgroup_limits_equal(&want, &l), "v2 web: tampering detected by cgroup_limits_equal");
        is_int(cgroup_enforce_limits(CGROUP_MODE_V2, root, WEB, &want, "web", &found), 1,
               "v2 web: cgroup_enforce_limits restored");
        ok(limits_are(&found, MAXV, 100000, 100000, 50, MAXV), "v2 web: ... and reported what it found");
        ok(file_is(web, "memory.max", "134217728\n") && file_is(web, "cpu.max", "20000 100000\n"),
           "v2 web: the files are ours again");
        is_int(cgroup_enforce_limits(CGROUP_MODE_V2, root, WEB, &want, "web", NULL), 0,
               "v2 web: nothing to restore the second time");

        /* broken and missing */
        write_text(web, "memory.max", "lots\n");
        is_int(cgroup_read_limits(CGROUP_MODE_V2, root, WEB, &l), -EINVAL, "v2: a malformed memory.max is -EINVAL");
        is_int(cgroup_enforce_limits(CGROUP_MODE_V2, root, WEB, &want, "web", NULL), -EINVAL,
               "v2: enforce does not write over what it cannot read");
        ok(file_is(web, "memory.max", "lots\n"), "v2: ... the file is left alone");
        write_text(web, "memory.max", "134217728\n");
        write_text(web, "cpu.stat", "usage_usec 1\nuser_usec 1\nsystem_usec 0\n");
        is_int(cgroup_read_usage(CGROUP_MODE_V2, root, WEB, &u), -ENOENT,
               "v2: cpu.stat without the cpu controller's keys is -ENOENT");
        is_int(cgroup_read_limits(CGROUP_MODE_V2, root, "ballast.slice/nope.service", &l), -ENOENT,
               "v2: a missing cgroup is -ENOENT");
        is_int(cgroup_read_limits(CGROUP_MODE_V2, root, "ballast.slice/../etc", &l), -EINVAL, "v2: '..' refused");
        is_int(cgroup_write_limits(CGROUP_MODE_V2, root, "", &want), -EINVAL, "v2: the root refused");
        is_int(cgroup_write_limits(CGROUP_MODE_V2, root, "ballast.slice/nope.service", &want), -ENOENT,
               "v2: writing to a missing cgroup is -ENOENT");

        /* create and destroy */
        /* with a weight: a fixture has no kernel to fill in cpu.weight's default */
        want = (CgroupLimits) { 67108864, 20000, 100000, 100, 64 };
        is_int(cgroup_create(CGROUP_MODE_V2, root, "ballast.slice/new.service", &want), 0, "v2: created");
        is_int(cgroup_read_limits(CGROUP_MODE_V2, root, "ballast.slice/new.service", &l), 0, "v2: new read");
        ok(limits_are(&l, 67108864, 20000, 100000, 100, 64) && cgroup_limits_equal(&want, &l),
           "v2: new has the limits");
        is_int(cgroup_create(CGROUP_MODE_V2, root, "ballast.slice/new.service", NULL), 0, "v2: creating again is fine");
        is_int(cgroup_destroy(CGROUP_MODE_V2, root, "ballast.slice/new.service"), 0, "v2: destroyed");
        {
                _cleanup_free_ char *p = path_join(root, "ballast.slice/new.service");
                ok(!dir_exists(p), "v2: ... the directory is gone");
        }
        is_int(cgroup_destroy(CGROUP_MODE_V2, root, "ballast.slice/new.service"), 0, "v2: destroying again is fine");
        is_int(cgroup_destroy(CGROUP_MODE_V2, root, WEB), -EBUSY, "v2: a cgroup with tasks is busy");
        ok(dir_exists(web) && file_is(web, "pids.max", "max\n"), "v2: ... and left whole");
        is_int(cgroup_destroy(CGROUP_MODE_V2, root, "ballast.slice"), -EBUSY, "v2: a cgroup with children is busy");
        rm_rf(tmp);
}

static void test_v1_fixture(void) {
        _cleanup_free_ char *tmp = NULL, *root = fixture("v1", &tmp);
        const char *WEB = "ballast.slice/ballast-web.service", *BATCH = "ballast.slice/ballast-batch.service";
        static const char *const hierarchies[] = { "memory", "cpu", "cpuacct", "pids" };
        _cleanup_free_ char *mem = NULL, *cpu = NULL, *pids = NULL;
        CgroupLimits l, want;
        CgroupUsage u;
        bool all = true;

        if (asprintf(&mem, "%s/memory/%s", root, WEB) < 0 || asprintf(&cpu, "%s/cpu/%s", root, WEB) < 0 ||
            asprintf(&pids, "%s/pids/%s", root, WEB) < 0)
                abort();

        is_int(cgroup_read_limits(CGROUP_MODE_V1, root, WEB, &l), 0, "v1 web: limits read");
        ok(limits_are(&l, 268435456, 50000, 100000, 50, 64),
           "v1 web: limit_in_bytes, cfs_quota/period, shares 512, pids");
        is_int(cgroup_read_usage(CGROUP_MODE_V1, root, WEB, &u), 0, "v1 web: usage read");
        ok(usage_is(&u, &(CgroupUsage) { .memory_current = 66215936, .memory_peak = 70471680,
                                         .cpu_usage_usec = 300828, .pids_current = 3, .oom_kills = 1,
                                         .cpu_nr_throttled = 6, .cpu_throttled_usec = 250522, NOPSI }),
           "v1 web: usage from four hierarchies, ns turned into us");

        is_int(cgroup_read_limits(CGROUP_MODE_V1, root, BATCH, &l), 0, "v1 batch: limits read");
        ok(limits_are(&l, MAXV, MAXV, 100000, 100, MAXV), "v1 batch: 9223372036854771712, -1 and max are no limit");
        is_int(cgroup_read_usage(CGROUP_MODE_V1, root, BATCH, &u), 0, "v1 batch: usage read");
        ok(usage_is(&u, &(CgroupUsage) { .memory_current = 4096000, .cpu_usage_usec = 1000, NOPSI }),
           "v1 batch: no oom_kill line (before 4.13) and no max_usage are 0");

        want = (CgroupLimits) { 67108864, 20000, 100000, 37, 64 };
        is_int(cgroup_write_limits(CGROUP_MODE_V1, root, WEB, &want), 0, "v1 web: limits written");
        ok(file_is(mem, "memory.limit_in_bytes", "67108864\n") && file_is(cpu, "cpu.cfs_quota_us", "20000\n") &&
                   file_is(cpu, "cpu.cfs_period_us", "100000\n") && file_is(cpu, "cpu.shares", "379\n") &&
                   file_is(pids, "pids.max", "64\n"),
           "v1 web: each value in its own hierarchy");
        is_int(cgroup_read_limits(CGROUP_MODE_V1, root, WEB, &l), 0, "v1 web: read back");
        ok(limits_are(&l, 67108864, 20000, 100000, 37, 64), "v1 web: read back as written, weight 37 kept");

        write_text(cpu, "cpu.cfs_quota_us", "-1\n");
        is_int(cgroup_enforce_limits(CGROUP_MODE_V1, root, WEB, &want, "web", NULL), 1,
               "v1 web: a removed quota restored");
        ok(file_is(cpu, "cpu.cfs_quota_us", "20000\n"), "v1 web: ... in the file");

        /* the kernel takes "-1" and shows 9223372036854771712; a fixture has no kernel, so only the bytes */
        is_int(cgroup_write_limits(CGROUP_MODE_V1, root, WEB, &CGROUP_LIMITS_NONE), 0, "v1 web: no limits written");
        ok(file_is(mem, "memory.limit_in_bytes", "-1\n") && file_is(cpu, "cpu.cfs_quota_us", "-1\n") &&
                   file_is(pids, "pids.max", "max\n"),
           "v1 web: as v1 takes \"no limit\"");

        is_int(cgroup_create(CGROUP_MODE_V1, root, "ballast/web", &want), 0, "v1: created");
        for (size_t i = 0; i < ELEMENTSOF(hierarchies); i++) {
                _cleanup_free_ char *p = NULL;
                if (asprintf(&p, "%s/%s/ballast/web", root, hierarchies[i]) < 0)
                        abort();
                all = all && dir_exists(p);
        }
        ok(all, "v1: ... in memory, cpu, cpuacct and pids");
        is_int(cgroup_destroy(CGROUP_MODE_V1, root, "ballast/web"), 0, "v1: destroyed");
        all = true;
        for (size_t i = 0; i < ELEMENTSOF(hierarchies); i++) {
                _cleanup_free_ char *p = NULL;
                if (asprintf(&p, "%s/%s/ballast/web", root, hierarchies[i]) < 0)
                        abort();
                all = all && !dir_exists(p);
        }
        ok(all, "v1: ... gone from every hierarchy");
        rm_rf(tmp);
}

/* ---- 3. the real v1 hierarchies, through libcgroup ---- */

#define HOST_ROOT "/sys/fs/cgroup"
static const char *const host_hierarchies[] = { "memory", "cpu", "cpuacct", "pids" };
static char host_name[64];
static pid_t host_child = -1;

static char *host_dir(const char *hierarchy) {
        char *p;
        if (asprintf(&p, HOST_ROOT "/%s/%s", hierarchy, host_name) < 0)
                abort();
        return p;
}

/* Whatever happened: no process, no directory left behind. */
static void host_cleanup(void) {
        if (host_child > 0) {
                (void) kill(host_child, SIGKILL);
                (void) waitpid(host_child, NULL, 0);
                host_child = -1;
        }
        if (!host_name[0])
                return;
        for (size_t i = 0; i < ELEMENTSOF(host_hierarchies); i++) {
                _cleanup_free_ char *p = host_dir(host_hierarchies[i]);
                (void) rmdir(p);
        }
}

static uint64_t cpu_time_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

/* A child that waits until it has been moved into the scratch cgroup, then allocates and touches `bytes`, burns
 * `burn_usec` of CPU, says so on `ready` and sleeps until killed. */
static pid_t spawn_child(size_t bytes, uint64_t burn_usec, int *ret_ready) {
        int go[2], ready[2];
        pid_t pid;

        if (pipe2(go, O_CLOEXEC) < 0 || pipe2(ready, O_CLOEXEC) < 0)
                abort();
        fflush(stdout);
        pid = fork();
        if (pid < 0)
                abort();
        if (pid == 0) {
                char c;
                char *m;
                uint64_t start;

                alarm(30); /* never outlive a test that went wrong (e.g. no memory limit: no OOM kill) */
                close(go[1]);
                close(ready[0]);
                if (read(go[0], &c, 1) != 1)
                        _exit(1);
                m = malloc(bytes);
                if (!m)
                        _exit(2);
                for (size_t i = 0; i < bytes; i += 4096)
                        m[i] = 1;
                start = cpu_time_usec();
                while (cpu_time_usec() - start < burn_usec)
                        ;
                if (write(ready[1], "r", 1) != 1)
                        _exit(3);
                for (;;)
                        pause();
        }
        close(go[0]);
        close(ready[1]);
        for (size_t i = 0; i < ELEMENTSOF(host_hierarchies); i++) {
                _cleanup_free_ char *d = host_dir(host_hierarchies[i]);
                char pidtext[32];
                snprintf(pidtext, sizeof(pidtext), "%d\n", (int) pid);
                if (write_text(d, "cgroup.procs", pidtext) < 0)
                        diag("could not move the child into %s", d);
        }
        if (write(go[1], "g", 1) != 1)
                abort();
        close(go[1]);
        *ret_ready = ready[0];
        return pid;
}

static bool plain_is(const char *hierarchy, const char *file, const char *want) {
        _cleanup_free_ char *d = host_dir(hierarchy);
        return file_is(d, file, want);
}

static uint64_t plain_u64(const char *hierarchy, const char *file) {
        _cleanup_free_ char *d = host_dir(hierarchy), *t = read_text(d, file);
        uint64_t v = UINT64_MAX;
        if (!t || cgroup_parse_u64(t, &v) < 0)
                diag("cannot read %s/%s", d, file);
        return v;
}

static bool host_dirs_exist(bool want) {
        bool all = true;
        for (size_t i = 0; i < ELEMENTSOF(host_hierarchies); i++) {
                _cleanup_free_ char *p = host_dir(host_hierarchies[i]);
                if (dir_exists(p) != want) {
                        diag("%s %s", p, want ? "is missing" : "is still there");
                        all = false;
                }
        }
        return all;
}

static void test_host_v1(void) {
        uint64_t ps = (uint64_t) sysconf(_SC_PAGESIZE);
        const CgroupBackend *b = NULL;
        CgroupLimits want = { 64 << 20, 20000, 100000, 0, 64 }, l, found;
        CgroupUsage u;
        CgroupMode m;
        char c, pagetext[32];
        int ready, status;

        if (geteuid() != 0) {
                ok(0, "real cgroup v1: needs root to create cgroups (run make check as root)");
                return;
        }
        if (cgroup_detect_mode(HOST_ROOT, &m) < 0 || m != CGROUP_MODE_V1) {
                ok(0, "real cgroup v1: " HOST_ROOT " is not a v1 (legacy or hybrid) tree: boot the test host with "
                      "systemd.unified_cgroup_hierarchy=0");
                return;
        }
        if (cgroup_backend_select(m, HOST_ROOT, &b) < 0 || b != &cgroup_backend_libcgroup) {
                ok(0, "real cgroup v1: " HOST_ROOT "/memory is not a cgroupfs (libcgroup: apt-get install libcgroup-dev)");
                return;
        }
        for (size_t i = 0; i < ELEMENTSOF(host_hierarchies); i++) {
                char p[64];
                snprintf(p, sizeof(p), HOST_ROOT "/%s", host_hierarchies[i]);
                if (!dir_exists(p)) {
                        ok(0, "real cgroup v1: no %s hierarchy mounted", host_hierarchies[i]);
                        return;
                }
        }

        snprintf(host_name, sizeof(host_name), "ballast-test-cg-%d", (int) getpid());
        atexit(host_cleanup);
        diag("scratch cgroup %s in memory, cpu, cpuacct, pids", host_name);
        is_str(b->name, "libcgroup", "host: " HOST_ROOT " is served by libcgroup");

        is_int(cgroup_create(m, HOST_ROOT, host_name, &want), 0, "host: created with 64M, 20000/100000, 64 pids");
        ok(host_dirs_exist(true), "host: ... in memory, cpu, cpuacct and pids");
        ok(plain_is("memory", "memory.limit_in_bytes", "67108864\n") &&
                   plain_is("cpu", "cpu.cfs_quota_us", "20000\n") &&
                   plain_is("cpu", "cpu.cfs_period_us", "100000\n") && plain_is("pids", "pids.max", "64\n"),
           "host: the kernel's files say so");
        is_int(cgroup_read_limits(m, HOST_ROOT, host_name, &l), 0, "host: limits read through libcgroup");
        ok(limits_are(&l, 67108864, 20000, 100000, 100, 64), "host: ... as written (default cpu.shares 1024 = 100)");
        ok(cgroup_limits_equal(&want, &l), "host: ... equal to what we want");
        is_int(cgroup_read_usage(m, HOST_ROOT, host_name, &u), 0, "host: usage read through libcgroup");
        ok(u.pids_current == 0 && u.oom_kills == 0 && u.cpu_usage_usec == 0, "host: an empty cgroup uses nothing");
        is_int(cgroup_create(m, HOST_ROOT, host_name, &want), 0, "host: creating again is fine");

        /* by hand, behind our back */
        {
                _cleanup_free_ char *dm = host_dir("memory"), *dc = host_dir("cpu"), *dp = host_dir("pids");
                ok(write_text(dm, "memory.limit_in_bytes", "134217728") >= 0 &&
                           write_text(dc, "cpu.cfs_quota_us", "-1") >= 0 && write_text(dp, "pids.max", "max") >= 0,
                   "host: limits changed by hand");
        }
        is_int(cgroup_enforce_limits(m, HOST_ROOT, host_name, &want, "test", &found), 1, "host: detected and restored");
        ok(limits_are(&found, 134217728, MAXV, 100000, 100, MAXV), "host: ... what was found");
        ok(plain_is("memory", "memory.limit_in_bytes", "67108864\n") &&
                   plain_is("cpu", "cpu.cfs_quota_us", "20000\n") &&
                   plain_is("pids", "pids.max", "64\n"),
           "host: ... the kernel has our limits again");
        is_int(cgroup_enforce_limits(m, HOST_ROOT, host_name, &want, "test", NULL), 0, "host: nothing to restore now");

        /* the kernel rounds memory down to the page: no endless restoring */
        want.memory_max = 1000000;
        is_int(cgroup_write_limits(m, HOST_ROOT, host_name, &want), 0, "host: 1000000 bytes written");
        snprintf(pagetext, sizeof(pagetext), "%" PRIu64 "\n", 1000000 / ps * ps);
        ok(plain_is("memory", "memory.limit_in_bytes", pagetext), "host: ... the kernel shows %" PRIu64,
           1000000 / ps * ps);
        is_int(cgroup_enforce_limits(m, HOST_ROOT, host_name, &want, "test", NULL), 0,
               "host: ... which is no tampering");

        want.cpu_weight = 37;
        is_int(cgroup_write_limits(m, HOST_ROOT, host_name, &want), 0, "host: weight 37 written");
        ok(plain_is("cpu", "cpu.shares", "379\n"), "host: ... as cpu.shares 379");
        is_int(cgroup_read_limits(m, HOST_ROOT, host_name, &l), 0, "host: read");
        is_int(l.cpu_weight, 37, "host: ... weight 37 again");

        is_int(cgroup_write_limits(m, HOST_ROOT, host_name, &CGROUP_LIMITS_NONE), 0, "host: no limits written");
        ok(plain_is("memory", "memory.limit_in_bytes", "9223372036854771712\n") || ps != 4096,
           "host: the kernel shows no memory limit as 9223372036854771712");
        ok(plain_is("cpu", "cpu.cfs_quota_us", "-1\n") && plain_is("pids", "pids.max", "max\n"), "host: -1 and max");
        is_int(cgroup_read_limits(m, HOST_ROOT, host_name, &l), 0, "host: read");
        ok(limits_are(&l, MAXV, MAXV, 100000, 37, MAXV), "host: ... no limits");

        /* usage of a real process */
        /* 2 % of a CPU: a child that gets the CPU for more than 2 ms of a 100 ms period is throttled, which even
         * a machine loaded by others gives it (at 20 % a starved child was seen never throttled) */
        want = (CgroupLimits) { 256 << 20, 2000, 100000, 0, 64 };
        is_int(cgroup_write_limits(m, HOST_ROOT, host_name, &want), 0, "host: 256M, 2%% CPU for a real process");
        host_child = spawn_child(16 << 20, 20000, &ready);
        ok(read(ready, &c, 1) == 1, "host: the child allocated 16M and burnt 20 ms of CPU at 2%%");
        close(ready);
        /* stopped (and seen stopped) before anything is read: a running child's counters move between two
         * readings (the tail of its write(), its pause()), which a loaded machine stretches; a stopped one's
         * do not, so ours and the kernel's files can be compared exactly */
        ok(kill(host_child, SIGSTOP) == 0 && waitpid(host_child, &status, WUNTRACED) == host_child &&
           WIFSTOPPED(status), "host: the child is stopped for the readings");
        is_int(cgroup_read_usage(m, HOST_ROOT, host_name, &u), 0, "host: usage read");
        is_int(u.pids_current, 1, "host: one task");
        ok(u.memory_current >= (16 << 20), "host: memory_current %" PRIu64 " >= 16M", u.memory_current);
        ok(u.memory_peak >= u.memory_current, "host: memory_peak %" PRIu64 " >= current", u.memory_peak);
        ok(u.cpu_usage_usec >= 20000, "host: cpu_usage_usec %" PRIu64 " >= 20 ms", u.cpu_usage_usec);
        /* On a loaded machine the child may be throttled only briefly (throttled_time under 1 us): the count is
         * what is sure; the time's parsing is checked by test_parse_keyed(). */
        ok(u.cpu_nr_throttled > 0, "host: throttled %" PRIu64 " times, %" PRIu64 " us", u.cpu_nr_throttled,
           u.cpu_throttled_usec);
        is_int(u.cpu_usage_usec, plain_u64("cpuacct", "cpuacct.usage") / 1000, "host: = cpuacct.usage / 1000");
        {
                /* v1's usage is charged in per-CPU batches (64 pages each) that other CPUs drain at any time, even
                 * with the task stopped: equal within one batch per CPU */
                uint64_t k = plain_u64("memory", "memory.usage_in_bytes"), d = k > u.memory_current ?
                        k - u.memory_current : u.memory_current - k, batch = 64 * (uint64_t) ps * (uint64_t) sysconf(_SC_NPROCESSORS_ONLN);
                ok(d <= batch, "host: = memory.usage_in_bytes (%" PRIu64 " vs %" PRIu64 ", within %" PRIu64 ")",
                   u.memory_current, k, batch);
        }
        is_int(u.pids_current, plain_u64("pids", "pids.current"), "host: = pids.current");
        {
                struct timespec a, z;
                int fails = 0;

                clock_gettime(CLOCK_MONOTONIC, &a);
                for (int i = 0; i < 100; i++)
                        fails += cgroup_read(m, HOST_ROOT, host_name, &l, &u) < 0;
                clock_gettime(CLOCK_MONOTONIC, &z);
                is_int(fails, 0, "host: cgroup_read() 100 times");
                diag("cgroup_read() of limits and usage through libcgroup: %.3f ms each",
                     ((double) (z.tv_sec - a.tv_sec) * 1e3 + (double) (z.tv_nsec - a.tv_nsec) / 1e6) / 100);
        }

        /* libcgroup's empty-only delete says 0 and leaves the cgroup: we must not believe it */
        is_int(cgroup_destroy(m, HOST_ROOT, host_name), -EBUSY, "host: a cgroup with a task is busy");
        ok(host_dirs_exist(true), "host: ... and still everywhere, the task not migrated");
        kill(host_child, SIGKILL);
        waitpid(host_child, NULL, 0);
        host_child = -1;

        /* an OOM kill */
        want.memory_max = 16 << 20;
        is_int(cgroup_write_limits(m, HOST_ROOT, host_name, &want), 0, "host: 16M");
        host_child = spawn_child(128 << 20, 0, &ready);
        close(ready);
        ok(waitpid(host_child, &status, 0) == host_child && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
           "host: a child touching 128M was killed");
        host_child = -1;
        is_int(cgroup_read_usage(m, HOST_ROOT, host_name, &u), 0, "host: usage read");
        is_int(u.oom_kills, 1, "host: one OOM kill counted");

        is_int(cgroup_destroy(m, HOST_ROOT, host_name), 0, "host: destroyed");
        ok(host_dirs_exist(false), "host: ... gone from memory, cpu, cpuacct and pids");
        is_int(cgroup_destroy(m, HOST_ROOT, host_name), 0, "host: destroying again is fine");
        is_int(cgroup_read_limits(m, HOST_ROOT, host_name, &l), -ENOENT, "host: reading a destroyed cgroup is -ENOENT");
        host_cleanup();
}

/* The hybrid host's cgroup2 holds no controller we need (they are bound to v1): refused, not misread. */
static void test_host_v2(void) {
        static const char unified[] = HOST_ROOT "/unified";
        _cleanup_free_ char *controllers = read_text(unified, "cgroup.controllers");
        CgroupLimits l;
        CgroupMode m;

        if (!controllers || strstr(controllers, "memory")) {
                ok(0, "real cgroup v2: no hybrid " HOST_ROOT "/unified without the memory controller: boot the test "
                   "host with systemd.unified_cgroup_hierarchy=0");
                return;
        }
        is_int(cgroup_detect_mode(unified, &m), 0, "host v2: %s detected", unified);
        is_int(m, CGROUP_MODE_V2, "host v2: ... as v2");
        is_int(cgroup_read_limits(CGROUP_MODE_V2, unified, "ballast-test-none", &l), -ENOMEDIUM,
               "host v2: memory, cpu, pids are not in this tree: -ENOMEDIUM");
}

int main(void) {
        log_setup(LOG_TARGET_STDERR, LOG_DEBUG);
        test_detect();
        test_v2_fixture();
        test_v1_fixture();
        test_host_v1();
        test_host_v2();
        return tap_done();
}
