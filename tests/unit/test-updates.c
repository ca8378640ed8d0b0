/* SPDX-License-Identifier: MIT */
/* src/updates: OS detection from os-release fixtures (Flatcar, Container Linux, Fedora CoreOS, others), dotted
 * versions, maintenance windows (fixed epoch times: midnight and week wrap, DST in Europe/Berlin, a +05:30 zone,
 * unknown zones refused, TZ restored), update.conf rendering (exact contents, foreign keys kept, idempotent,
 * hostile values refused) and its path on fake roots, the clock, the Zincati drop-in. The gate and the reboot
 * flow are tested in test-reboot-flow.c, FleetLock's bodies and the node id in test-fleetlock-wire.c. Fixtures
 * are in tests/data/updates/. */

#include <errno.h>
#include <ftw.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shared/fileio.h"
#include "shared/macro.h"
#include "tap.h"
#include "updates/flatcar.h"
#include "updates/fleetlock-wire.h"
#include "updates/flow.h"
#include "updates/clock.h"
#include "updates/gate.h"
#include "updates/os.h"
#include "updates/windows.h"
#include "updates/zincati.h"

#if defined(__clang__)
#pragma clang diagnostic ignored "-Winitializer-overrides"
#else
#pragma GCC diagnostic ignored "-Woverride-init"
#endif

#define SUN (1U << 0)
#define MON (1U << 1)
#define TUE (1U << 2)
#define WED (1U << 3)
#define THU (1U << 4)
#define FRI (1U << 5)
#define SAT (1U << 6)
#define ALL_DAYS 0x7FU

static char *data_path(const char *name) {
        _cleanup_free_ char *file = strdup(__FILE__);
        const char *top = getenv("top_srcdir");
        char *p;

        /* under "make check" top_srcdir is set; run by hand, the fixtures sit beside this source file */
        if (top) {
                if (asprintf(&p, "%s/tests/data/updates/%s", top, name) < 0)
                        abort();
        } else if (!file || asprintf(&p, "%s/data/updates/%s", dirname(file), name) < 0)
                abort();
        return p;
}

static char *fixture(const char *name) {
        _cleanup_free_ char *path = data_path(name);
        char *text = NULL;

        if (read_full_file(path, 1 << 20, &text, NULL) < 0) {
                printf("Bail out! cannot read %s\n", path);
                exit(1);
        }
        return text;
}

/* ---- OS detection ---- */

static void test_detect_os(void) {
        static const struct {
                const char *file;
                OsKind kind;
                const char *id, *version_id, *version;
        } cases[] = {
                { "os-release-flatcar", OS_FLATCAR, "flatcar", "3815.2.0", "3815.2.0" },
                { "os-release-container-linux", OS_CONTAINER_LINUX, "coreos", "2512.3.0", "2512.3.0" },
                { "os-release-fedora-coreos", OS_FEDORA_COREOS, "fedora", "39", "39.20240210.3.0" },
                { "os-release-fedora-workstation", OS_OTHER, "fedora", "39", NULL },
                { "os-release-debian", OS_OTHER, "debian", "12", NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *text = fixture(cases[i].file), *error = NULL;
                _cleanup_(updates_os_info_done) OsInfo info = {};

                is_int(updates_detect_os(text, &info, &error), 0, "%s parses", cases[i].file);
                if (error)
                        diag("%s", error);
                is_int(info.kind, cases[i].kind, "%s: %s", cases[i].file, updates_os_kind_to_string(cases[i].kind));
                is_str(info.id, cases[i].id, "%s: ID", cases[i].file);
                is_str(info.version_id, cases[i].version_id, "%s: VERSION_ID", cases[i].file);
                is_str(info.version, cases[i].version, "%s: the build version policy compares", cases[i].file);
        }

        {
                _cleanup_free_ char *text = fixture("os-release-flatcar");
                _cleanup_(updates_os_info_done) OsInfo info = {};
                updates_detect_os(text, &info, NULL);
                is_str(info.pretty_name, "Flatcar Container Linux by Kinvolk 3815.2.0 (Oklo)",
                       "double quotes removed from PRETTY_NAME");
        }

        /* syntax that is fine */
        static const struct {
                const char *text;
                OsKind kind;
                const char *id, *variant, *version, *pretty;
        } good[] = {
                { "", OS_OTHER, "linux", NULL, NULL, NULL },
                { "# only a comment\n\n", OS_OTHER, "linux", NULL, NULL, NULL },
                { "ID=\"flatcar\"\nVERSION_ID='4081.2.0'", OS_FLATCAR, "flatcar", NULL, "4081.2.0", NULL },
                { "  ID=coreos  # trailing comment\nVERSION_ID=1688.5.3\n", OS_CONTAINER_LINUX, "coreos", NULL,
                  "1688.5.3", NULL },
                { "ID=fedora\nVARIANT_ID=\"coreos\"\nVERSION=\"40.20240416.3.1 (CoreOS)\"\n", OS_FEDORA_COREOS,
                  "fedora", "coreos", "40.20240416.3.1", NULL },
                { "ID=fedora\nVARIANT_ID=coreos\nVERSION=\"40 (CoreOS Prerelease)\"\n", OS_FEDORA_COREOS, "fedora",
                  "coreos", "40", NULL },
                { "ID=debian\nID=flatcar\n", OS_FLATCAR, "flatcar", NULL, NULL, NULL },
                { "ID=flatcar\nPRETTY_NAME=\"say \\\"hi\\\" for \\$5 \\\\ \\`x\\` \\n\"\n", OS_FLATCAR, "flatcar",
                  NULL, NULL, "say \"hi\" for $5 \\ `x` \\n" },
                { "ID=ubuntu\nID_LIKE=debian\n", OS_OTHER, "ubuntu", NULL, NULL, NULL },
                { "ID=rhcos\nVARIANT_ID=coreos\n", OS_OTHER, "rhcos", "coreos", NULL, NULL },
                { "ID=fedora\nVARIANT_ID=iot\n", OS_OTHER, "fedora", "iot", NULL, NULL },
        };
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                _cleanup_(updates_os_info_done) OsInfo info = {};
                _cleanup_free_ char *error = NULL;

                is_int(updates_detect_os(good[i].text, &info, &error), 0, "good os-release #%zu parses", i);
                if (error)
                        diag("%s", error);
                is_int(info.kind, good[i].kind, "good #%zu: kind %s", i, updates_os_kind_to_string(good[i].kind));
                is_str(info.id, good[i].id, "good #%zu: ID", i);
                is_str(info.variant_id, good[i].variant, "good #%zu: VARIANT_ID", i);
                is_str(info.version, good[i].version, "good #%zu: version", i);
                is_str(info.pretty_name, good[i].pretty, "good #%zu: PRETTY_NAME", i);
        }

        static const struct {
                const char *text, *error;
        } bad[] = {
                { "ID=flatcar\nthis is not an assignment\n", "os-release line 2: expected KEY=value, a comment or a blank line" },
                { "ID = flatcar\n", "os-release line 1: expected KEY=value, a comment or a blank line" },
                { "1D=flatcar\n", "os-release line 1: expected KEY=value, a comment or a blank line" },
                { "ID=flat car\n", "os-release line 1: unexpected text after the value" },
                { "ID=\"flatcar\n", "os-release line 1: unterminated double quote" },
                { "ID='flatcar\n", "os-release line 1: unterminated single quote" },
                { "ID=\"flat\"car\n", "os-release line 1: unexpected text after the value" },
                { "ID=flatcar\r\n", "os-release line 1: a carriage return (DOS line ending)" },
                { "ID=\"flatcar\"\r\n", "os-release line 1: a carriage return (DOS line ending)" },
                { "NAME=$(reboot)\n", "os-release line 1: a character that needs quoting in an unquoted value" },
                { "NAME=\"$(reboot)\"\n", "os-release line 1: '$' or '`' (a shell expansion) in a value" },
                { "NAME=a;reboot\n", "os-release line 1: a character that needs quoting in an unquoted value" },
                { "NAME=\"a\tb\x01\"\n", "os-release line 1: a control character in a value" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_(updates_os_info_done) OsInfo info = {};
                _cleanup_free_ char *error = NULL;

                is_int(updates_detect_os(bad[i].text, &info, &error), -EINVAL, "bad os-release #%zu refused", i);
                is_str(error, bad[i].error, "bad #%zu: the error says where and why", i);
                ok(info.id == NULL && info.kind == OS_OTHER, "bad #%zu: *ret untouched", i);
        }
        is_int(updates_detect_os("ID=flat car\n", &(OsInfo) {}, NULL), -EINVAL, "ret_error may be NULL");
}

static void test_version_compare(void) {
        static const struct {
                const char *a, *b;
                int r, cmp;
        } cases[] = {
                { "3815.2.0", "3815.2.0", 0, 0 },
                { "3815.2.1", "3815.2.0", 0, 1 },
                { "3760.2.0", "3815.2.0", 0, -1 },
                { "3815.10.0", "3815.9.0", 0, 1 }, /* numeric, not lexical */
                { "3815.2", "3815.2.0", 0, 0 },
                { "3815.2.0.1", "3815.2", 0, 1 },
                { "39.20240210.3.0", "39.20240128.3.0", 0, 1 },
                { "40.20240416.3.1", "39.20240210.3.0", 0, 1 },
                { "007", "7", 0, 0 },
                { "18446744073709551615", "1", 0, 1 },
                { "18446744073709551616", "1", -ERANGE, 0 },
                { "", "1", -EINVAL, 0 },
                { "1", "", -EINVAL, 0 },
                { "stable", "3815.2.0", -EINVAL, 0 },
                { "3815.2.0-rc1", "3815.2.0", -EINVAL, 0 },
                { "3815..0", "3815.0", -EINVAL, 0 },
                { ".1", "1", -EINVAL, 0 },
                { "1.", "1", -EINVAL, 0 },
                { "-1", "1", -EINVAL, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int c = 42, r = updates_version_compare(cases[i].a, cases[i].b, &c);
                is_int(r, cases[i].r, "compare \"%s\" \"%s\" returns %d", cases[i].a, cases[i].b, cases[i].r);
                if (r == 0)
                        is_int(c < 0 ? -1 : c > 0, cases[i].cmp, "\"%s\" vs \"%s\"", cases[i].a, cases[i].b);
        }
        int c;
        is_int(updates_version_compare(NULL, "1", &c), -EINVAL, "NULL refused");
}

/* ---- windows ---- */

static void test_windows(void) {
        static const struct {
                const char *what, *tz;
                MaintenanceWindow w[2];
                size_t n;
                int64_t now;
                int state;
                int64_t next, end;
        } cases[] = {
                /* UTC, crossing midnight and the week's end: Sat 23:30 + 120 min ends Sun 01:30 */
                { "Sat 23:30+120, Sat 23:29", "UTC", { { SAT, 23 * 60 + 30, 120 } }, 1, 1717284540,
                  UPDATES_WINDOW_OUTSIDE, 1717284600, 0 },
                { "Sat 23:30+120, Sat 23:30 sharp", "UTC", { { SAT, 23 * 60 + 30, 120 } }, 1, 1717284600,
                  UPDATES_WINDOW_INSIDE, 1717889400, 1717291800 },
                { "Sat 23:30+120, Sun 01:00 (across the week's end)", "UTC", { { SAT, 23 * 60 + 30, 120 } }, 1,
                  1717290000, UPDATES_WINDOW_INSIDE, 1717889400, 1717291800 },
                { "Sat 23:30+120, Sun 01:30 (closed)", "UTC", { { SAT, 23 * 60 + 30, 120 } }, 1, 1717291800,
                  UPDATES_WINDOW_OUTSIDE, 1717889400, 0 },
                { "Sun 23:00+180, Mon 01:59:59", "UTC", { { SUN, 23 * 60, 180 } }, 1, 1717379999,
                  UPDATES_WINDOW_INSIDE, 1717974000, 1717380000 },
                { "Sun 23:00+180, Mon 02:00", "UTC", { { SUN, 23 * 60, 180 } }, 1, 1717380000,
                  UPDATES_WINDOW_OUTSIDE, 1717974000, 0 },
                { "Sat+Sun 04:00+60, Fri noon", "UTC", { { SAT | SUN, 4 * 60, 60 } }, 1, 1717156800,
                  UPDATES_WINDOW_OUTSIDE, 1717214400, 0 },
                { "Sat+Sun 04:00+60, Sat 04:59:59", "UTC", { { SAT | SUN, 4 * 60, 60 } }, 1, 1717217999,
                  UPDATES_WINDOW_INSIDE, 1717300800, 1717218000 },
                { "two windows, Tue noon: Wed's is next", "UTC", { { MON, 10 * 60, 30 }, { WED, 60, 30 } }, 2,
                  1717502400, UPDATES_WINDOW_OUTSIDE, 1717549200, 0 },
                { "adjacent windows merge: Sat 22:00+120 and Sun 00:00+60", "UTC",
                  { { SAT, 22 * 60, 120 }, { SUN, 0, 60 } }, 2, 1717282800, UPDATES_WINDOW_INSIDE, 1717884000,
                  1717290000 },
                { "every day, the whole week: always, never ends", "UTC", { { ALL_DAYS, 0, 7 * 24 * 60 } }, 1,
                  1717502400, UPDATES_WINDOW_INSIDE, 0, 0 },
                { "a week long from Mon 00:00: always", "UTC", { { MON, 0, 7 * 24 * 60 } }, 1, 1717284540,
                  UPDATES_WINDOW_INSIDE, 0, 0 },
                { "no windows", "UTC", {}, 0, 1717284540, UPDATES_WINDOW_NONE, 0, 0 },

                /* Europe/Berlin, spring forward on Sun 2024-03-31 at 01:00 UTC (02:00 CET → 03:00 CEST):
                 * 02:30–03:30 is open 03:00–03:30 only */
                { "Berlin spring Sun 02:30+60, 01:59:59 CET", "Europe/Berlin", { { SUN, 150, 60 } }, 1, 1711846799,
                  UPDATES_WINDOW_OUTSIDE, 1711846800, 0 },
                { "Berlin spring Sun 02:30+60, 03:00 CEST", "Europe/Berlin", { { SUN, 150, 60 } }, 1, 1711846800,
                  UPDATES_WINDOW_INSIDE, 1712449800, 1711848600 },
                { "Berlin spring Sun 02:30+60, 03:30 CEST", "Europe/Berlin", { { SUN, 150, 60 } }, 1, 1711848600,
                  UPDATES_WINDOW_OUTSIDE, 1712449800, 0 },
                /* 02:30–02:50 does not exist that day: skipped, the next is a week later */
                { "Berlin spring Sun 02:30+20, 01:00 CET: skipped", "Europe/Berlin", { { SUN, 150, 20 } }, 1,
                  1711843200, UPDATES_WINDOW_OUTSIDE, 1712449800, 0 },
                { "Berlin spring Sun 02:30+20, 03:10 CEST", "Europe/Berlin", { { SUN, 150, 20 } }, 1, 1711847400,
                  UPDATES_WINDOW_OUTSIDE, 1712449800, 0 },
                /* fall back on Sun 2024-10-27 at 01:00 UTC (03:00 CEST → 02:00 CET): 02:30–02:50 happens twice */
                { "Berlin autumn Sun 02:30+20, 02:00 CEST", "Europe/Berlin", { { SUN, 150, 20 } }, 1, 1729987200,
                  UPDATES_WINDOW_OUTSIDE, 1729989000, 0 },
                { "Berlin autumn Sun 02:30+20, 02:40 CEST (first)", "Europe/Berlin", { { SUN, 150, 20 } }, 1,
                  1729989600, UPDATES_WINDOW_INSIDE, 1729992600, 1729990200 },
                { "Berlin autumn Sun 02:30+20, 02:10 CET (between)", "Europe/Berlin", { { SUN, 150, 20 } }, 1,
                  1729991400, UPDATES_WINDOW_OUTSIDE, 1729992600, 0 },
                { "Berlin autumn Sun 02:30+20, 02:40 CET (second)", "Europe/Berlin", { { SUN, 150, 20 } }, 1,
                  1729993200, UPDATES_WINDOW_INSIDE, 1730597400, 1729993800 },
                /* 01:30–02:30: left at 02:30 CEST, entered again by the jump back to 02:00 CET */
                { "Berlin autumn Sun 01:30+60, 01:00 CEST", "Europe/Berlin", { { SUN, 90, 60 } }, 1, 1729983600,
                  UPDATES_WINDOW_OUTSIDE, 1729985400, 0 },
                { "Berlin autumn Sun 01:30+60, 02:45 CEST", "Europe/Berlin", { { SUN, 90, 60 } }, 1, 1729989900,
                  UPDATES_WINDOW_OUTSIDE, 1729990800, 0 },
                { "Berlin autumn Sun 01:30+60, 02:00 CET (the jump)", "Europe/Berlin", { { SUN, 90, 60 } }, 1,
                  1729990800, UPDATES_WINDOW_INSIDE, 1730593800, 1729992600 },
                /* winter: CET = UTC+1 */
                { "Berlin winter Sat 04:00+60, 03:59 CET", "Europe/Berlin", { { SAT, 240, 60 } }, 1, 1704509940,
                  UPDATES_WINDOW_OUTSIDE, 1704510000, 0 },
                { "Berlin winter Sat 04:00+60, 04:00 CET", "Europe/Berlin", { { SAT, 240, 60 } }, 1, 1704510000,
                  UPDATES_WINDOW_INSIDE, 1705114800, 1704513600 },
                /* +05:30: Sun 18:29 UTC is Sun 23:59 IST */
                { "Kolkata Mon 00:00+30, Sun 23:59 IST", "Asia/Kolkata", { { MON, 0, 30 } }, 1, 1717352940,
                  UPDATES_WINDOW_OUTSIDE, 1717353000, 0 },
                { "Kolkata Mon 00:00+30, Mon 00:00 IST", "Asia/Kolkata", { { MON, 0, 30 } }, 1, 1717353000,
                  UPDATES_WINDOW_INSIDE, 1717957800, 1717354800 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int64_t next = -1, end = -1;
                int r = updates_in_window(cases[i].w, cases[i].n, cases[i].now, cases[i].tz, &next, &end);

                is_int(r, cases[i].state, "%s: %s", cases[i].what,
                       cases[i].state == UPDATES_WINDOW_INSIDE ? "inside"
                       : cases[i].state == UPDATES_WINDOW_OUTSIDE ? "outside" : "no windows");
                is_int(next, cases[i].next, "%s: next start", cases[i].what);
                is_int(end, cases[i].end, "%s: end", cases[i].what);
        }

        is_int(updates_in_window((MaintenanceWindow[]) { { SUN, 150, 20 } }, 1, 1711846800, "Europe/Berlin", NULL,
                                 NULL),
               UPDATES_WINDOW_OUTSIDE, "outputs are optional");
}

/* The same answers by brute force, minute by minute through localtime_r(): random windows, random moments of
 * 2024 (and the days around its DST changes) in zones with DST, a +05:30 zone and Lord Howe's half-hour DST. */
static bool brute_inside(const MaintenanceWindow *w, size_t n, int64_t t) {
        time_t tt = (time_t) t;
        struct tm tm;
        int mow;

        if (!localtime_r(&tt, &tm))
                abort();
        mow = tm.tm_wday * 1440 + tm.tm_hour * 60 + tm.tm_min;
        for (size_t i = 0; i < n; i++)
                for (int d = 0; d < 7; d++)
                        if ((w[i].days & (1U << d)) &&
                            ((mow - d * 1440 - (int) w[i].start_min) % 10080 + 10080) % 10080 < (int) w[i].length_min)
                                return true;
        return false;
}

static void test_windows_brute_force(void) {
        static const char *const zones[] = { "Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
                                             "Asia/Kolkata", "UTC" };
        static const int64_t dst_days[] = { 1711846800, 1729990800, 1710054000, 1730613600, 1712415600,
                                            1728142200 };
        unsigned seed = 20240331, mismatches = 0, cases = 0;

        for (size_t z = 0; z < ELEMENTSOF(zones); z++)
                for (int k = 0; k < 80; k++) {
                        MaintenanceWindow w[3];
                        size_t n = 1 + rand_r(&seed) % 3;
                        int64_t now, next = -1, end = -1, want_next = 0, want_end = 0;
                        bool inside, cur;
                        int r;

                        for (size_t i = 0; i < n; i++) {
                                w[i].days = 1 + rand_r(&seed) % 127;
                                w[i].start_min = rand_r(&seed) % 1440;
                                w[i].length_min = rand_r(&seed) % 4 == 0 ? 1 + rand_r(&seed) % 10080
                                                                         : 1 + rand_r(&seed) % 240;
                        }
                        if (k % 2 == 0) /* within a day of a DST change */
                                now = dst_days[rand_r(&seed) % ELEMENTSOF(dst_days)] - 86400 +
                                      rand_r(&seed) % (2 * 86400);
                        else
                                now = 1704067200 + rand_r(&seed) % (366 * 86400);

                        r = updates_in_window(w, n, now, zones[z], &next, &end);

                        setenv("TZ", zones[z], 1);
                        tzset();
                        inside = cur = brute_inside(w, n, now);
                        for (int64_t t = now - now % 60 + 60; t < now + 15 * 86400; t += 60) {
                                bool st = brute_inside(w, n, t);
                                if (!cur && st && want_next == 0)
                                        want_next = t;
                                if (inside && !st && want_end == 0)
                                        want_end = t;
                                cur = st;
                                if (want_next && (want_end || !inside))
                                        break;
                        }
                        unsetenv("TZ");
                        tzset();

                        cases++;
                        if (r != (inside ? UPDATES_WINDOW_INSIDE : UPDATES_WINDOW_OUTSIDE) || next != want_next ||
                            end != want_end) {
                                mismatches++;
                                diag("%s now=%" PRIi64 " n=%zu w0={%u,%u,%u}: got %d next=%" PRIi64 " end=%" PRIi64
                                     ", want %d next=%" PRIi64 " end=%" PRIi64,
                                     zones[z], now, n, w[0].days, w[0].start_min, w[0].length_min, r, next, end,
                                     inside ? UPDATES_WINDOW_INSIDE : UPDATES_WINDOW_OUTSIDE, want_next, want_end);
                        }
                }
        is_int(mismatches, 0, "%u random windows agree with a minute-by-minute walk through localtime_r()", cases);
}

static void test_window_errors(void) {
#define GOOD_WINDOW { SAT, 240, 60 }
        static const MaintenanceWindow good = GOOD_WINDOW;
        static const struct {
                const char *what;
                MaintenanceWindow w;
                const char *tz;
                int64_t now;
                int r;
        } cases[] = {
                { "unknown zone", GOOD_WINDOW, "Mars/Olympus_Mons", 1717284540, -ENOENT },
                { "unknown zone without windows too", { 0 }, "Mars/Olympus_Mons", 1717284540, -ENOENT },
                { "a directory, not a zone", GOOD_WINDOW, "Europe", 1717284540, -ENOENT },
                { "path escape", GOOD_WINDOW, "../../../etc/passwd", 1717284540, -EINVAL },
                { "absolute path", GOOD_WINDOW, "/etc/localtime", 1717284540, -EINVAL },
                { "a file that is not TZif (dots refused anyway)", GOOD_WINDOW, "zone.tab", 1717284540, -EINVAL },
                { "empty zone", GOOD_WINDOW, "", 1717284540, -EINVAL },
                { "NULL zone", GOOD_WINDOW, NULL, 1717284540, -EINVAL },
                { "POSIX TZ string, not a name", GOOD_WINDOW, "CET-1CEST,M3.5.0,M10.5.0/3", 1717284540, -EINVAL },
                { "trailing slash", GOOD_WINDOW, "Europe/Berlin/", 1717284540, -EINVAL },
                { "no days", { 0, 240, 60 }, "UTC", 1717284540, -EINVAL },
                { "day bit 7", { 1U << 7, 240, 60 }, "UTC", 1717284540, -EINVAL },
                { "start 24:00", { SAT, 24 * 60, 60 }, "UTC", 1717284540, -EINVAL },
                { "length 0", { SAT, 240, 0 }, "UTC", 1717284540, -EINVAL },
                { "longer than a week", { SAT, 240, 7 * 24 * 60 + 1 }, "UTC", 1717284540, -EINVAL },
                { "before the epoch", GOOD_WINDOW, "UTC", -1, -ERANGE },
                { "after 9999", GOOD_WINDOW, "UTC", INT64_C(253402300799), -ERANGE },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int64_t next = -1;
                size_t n = cases[i].w.days || cases[i].w.length_min ? 1 : 0;
                is_int(updates_in_window(&cases[i].w, n, cases[i].now, cases[i].tz, &next, NULL), cases[i].r,
                       "%s: refused", cases[i].what);
                is_int(next, -1, "%s: *ret untouched", cases[i].what);
        }
        is_int(updates_in_window(NULL, 1, 1717284540, "UTC", NULL, NULL), -EINVAL, "NULL windows with n = 1");

        /* "localtime": whatever /etc/localtime says, it answers */
        int r = updates_in_window(&good, 1, 1717284540, "localtime", NULL, NULL);
        ok(r == UPDATES_WINDOW_INSIDE || r == UPDATES_WINDOW_OUTSIDE, "\"localtime\" works (%d)", r);
        /* names are looked up under $TZDIR when set, as glibc does */
        setenv("TZDIR", "/nonexistent", 1);
        is_int(updates_in_window(&good, 1, 1717284540, "Europe/Berlin", NULL, NULL), -ENOENT,
               "TZDIR honoured: a zone missing there is unknown");
        is_int(updates_in_window(&good, 1, 1717284540, "UTC", NULL, NULL), UPDATES_WINDOW_OUTSIDE,
               "\"UTC\" needs no TZ database");
        unsetenv("TZDIR");

        /* TZ as it was: set, and unset */
        setenv("TZ", "America/New_York", 1);
        updates_in_window(&good, 1, 1717284540, "Europe/Berlin", NULL, NULL);
        is_str(getenv("TZ"), "America/New_York", "TZ restored after a computation");
        time_t t = 1717284540;
        struct tm tm;
        localtime_r(&t, &tm);
        is_int(tm.tm_gmtoff, -4 * 3600, "and tzset() again: localtime is New York's");
        unsetenv("TZ");
        tzset();
        updates_in_window(&good, 1, 1717284540, "Europe/Berlin", NULL, NULL);
        ok(getenv("TZ") == NULL, "TZ unset again after a computation");
        updates_in_window(&good, 1, 1717284540, "Mars/Olympus_Mons", NULL, NULL);
        ok(getenv("TZ") == NULL, "TZ untouched by an unknown zone");
#undef GOOD_WINDOW
}

/* ---- update.conf ---- */

static void check_render(const char *what, const char *old, const char *group, const char *server,
                         const char *want, bool want_changed) {
        _cleanup_free_ char *out = NULL, *again = NULL, *error = NULL;
        bool changed = !want_changed, changed2 = true;

        is_int(updates_render_update_conf(old, group, server, &out, &changed, &error), 0, "%s: renders", what);
        if (error)
                diag("%s", error);
        is_str(out, want, "%s: exact text", what);
        ok(changed == want_changed, "%s: changed = %s", what, want_changed ? "true" : "false");
        if (!out)
                return;
        is_int(updates_render_update_conf(out, group, server, &again, &changed2, NULL), 0, "%s: renders again", what);
        is_str(again, out, "%s: idempotent", what);
        ok(!changed2, "%s: a second run changes nothing", what);
}

/* ---- the clock: adjtimex()'s answer ---- */

static void test_clock(void) {
        static const struct {
                const char *what;
                int ret;
                long maxerror;
                int status;
                bool synced;
        } cases[] = {
                { "synchronized (TIME_OK, small error)", TIME_OK, 12000, 0, true },
                { "unsynchronized: the kernel's cap", TIME_ERROR, 16000000, STA_UNSYNC, false },
                { "above the cap", TIME_ERROR, 16000001, STA_UNSYNC, false },
                { "chrony without rtcsync: STA_UNSYNC set, error small", TIME_ERROR, 3000, STA_UNSYNC, true },
                { "just under the cap", TIME_OK, 15999999, 0, true },
                { "TIME_ERROR, error at the cap, no STA_UNSYNC", TIME_ERROR, 16000000, 0, false },
                { "a leap second pending, synchronized", TIME_INS, 500, STA_INS, true },
                { "a negative error is nonsense", TIME_OK, -1, 0, false },
                { "adjtimex() failed", -1, 0, 0, false },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct timex t = { .maxerror = cases[i].maxerror, .status = cases[i].status };
                ok(updates_clock_synced_from_timex(cases[i].ret, &t) == cases[i].synced, "clock: %s", cases[i].what);
        }
        ok(!updates_clock_synced_from_timex(TIME_OK, NULL), "clock: no timex, not synchronized");
        /* the real kernel, read-only: an answer, whatever it is (EPERM only under a filter, which tests lack) */
        int r = updates_clock_read_kernel();
        ok(r == 0 || r == 1, "clock: the kernel's state can be read (%d)", r);
}

static void test_fcos_stream(void) {
        static const struct {
                const char *origin, *stream;
        } cases[] = {
                { "fedora:fedora/x86_64/coreos/stable", "stable" },
                { "fedora:fedora/aarch64/coreos/next", "next" },
                { "fedora/x86_64/coreos/testing-devel", "testing-devel" },
                { "ostree-remote-registry:fedora:quay.io/fedora/fedora-coreos:stable", "stable" },
                { "ostree-unverified-registry:quay.io/fedora/fedora-coreos:testing", "testing" },
                { "ostree-unverified-registry:localhost:5000/fedora-coreos:next", "next" },
                { "fedora:fedora/x86_64/silverblue/stable", NULL },
                { "ostree-remote-registry:fedora:quay.io/fedora/fedora-coreos@sha256:0123abcd", NULL },
                { "ostree-unverified-registry:localhost:5000/fedora-coreos", NULL },
                { "d6a3f8e0c0c1b0a9f8e7d6c5b4a392817161514131211100f0e0d0c0b0a0908", NULL },
                { "fedora:fedora/x86_64/coreos/Stable", NULL },
                { "fedora:fedora/x86_64/coreos/", NULL },
                { "coreos/stable", "stable" },
                { "", NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *s = NULL;
                int r = updates_fcos_stream_from_origin(cases[i].origin, &s);
                if (cases[i].stream)
                        ok(r == 0 && s && streq(s, cases[i].stream), "stream of \"%s\": %s", cases[i].origin,
                           strna(s));
                else
                        ok(r == -EINVAL, "no stream in \"%s\"", cases[i].origin);
        }
        ok(updates_fcos_stream_from_origin(NULL, &(char *) { NULL }) == -EINVAL, "no stream in NULL");
}

static void test_update_conf(void) {
        _cleanup_free_ char *user = fixture("update.conf-user"), *user_want = fixture("update.conf-user.expected"),
                            *so = fixture("update.conf-server-only"),
                            *so_want = fixture("update.conf-server-only.expected");
#define HEADER "# ballastd sets GROUP, SERVER and REBOOT_STRATEGY=off here (see /etc/ballast/ballast.json).\n"

        check_render("operator's file: GROUP=\"beta\" → stable, REBOOT_STRATEGY replaced, the rest kept", user,
                     "stable", NULL, user_want, true);
        check_render("only SERVER: GROUP and REBOOT_STRATEGY appended", so, "lts", NULL, so_want, true);
        check_render("no file", NULL, "stable", NULL, HEADER "GROUP=stable\nREBOOT_STRATEGY=off\n", true);
        check_render("empty file", "", "stable", "https://nebraska.example.com/v1/update/",
                     HEADER "GROUP=stable\nSERVER=https://nebraska.example.com/v1/update/\nREBOOT_STRATEGY=off\n",
                     true);
        check_render("no group pin: GROUP kept", "GROUP=alpha\n", NULL, NULL,
                     "GROUP=alpha\n" HEADER "REBOOT_STRATEGY=off\n", true);
        check_render("nothing to do", "GROUP=stable\nREBOOT_STRATEGY=off\n", "stable", NULL,
                     "GROUP=stable\nREBOOT_STRATEGY=off\n", false);
        check_render("server replaced where it is", "SERVER='https://old/'\nGROUP=stable\nREBOOT_STRATEGY=off\n",
                     "stable", "https://new.example.com/v1/update/",
                     "SERVER=https://new.example.com/v1/update/\nGROUP=stable\nREBOOT_STRATEGY=off\n", true);
        check_render("UUID group", "REBOOT_STRATEGY=reboot\n", "0a809ab1-c01c-4a6b-8ac8-6b17cb9bae09", NULL,
                     "REBOOT_STRATEGY=off\n" HEADER "GROUP=0a809ab1-c01c-4a6b-8ac8-6b17cb9bae09\n", true);
        check_render("duplicate GROUP lines: both set", "GROUP=alpha\nGROUP=beta\nREBOOT_STRATEGY=off\n", "stable",
                     NULL, "GROUP=stable\nGROUP=stable\nREBOOT_STRATEGY=off\n", true);
        check_render("missing final newline added", "GROUP=stable\nREBOOT_STRATEGY=off", "stable", NULL,
                     "GROUP=stable\nREBOOT_STRATEGY=off\n", true);
        check_render("commented-out keys are comments", "#GROUP=alpha\n# REBOOT_STRATEGY=reboot\n", "beta", NULL,
                     "#GROUP=alpha\n# REBOOT_STRATEGY=reboot\n" HEADER "GROUP=beta\nREBOOT_STRATEGY=off\n", true);
        check_render("a key that merely starts like ours is not ours", "GROUPS=x\nGROUP_X=y\n", "beta", NULL,
                     "GROUPS=x\nGROUP_X=y\n" HEADER "GROUP=beta\nREBOOT_STRATEGY=off\n", true);

        static const struct {
                const char *what, *old, *group, *server, *error;
        } bad[] = {
                { "group with a space", "", "sta ble", NULL, NULL },
                { "group with a quote", "", "stable\"", NULL, NULL },
                { "group with a newline", "", "stable\nREBOOT_STRATEGY=reboot", NULL, NULL },
                { "group with $", "", "$(reboot)", NULL, NULL },
                { "empty group", "", "", NULL, NULL },
                { "server not http", "", "stable", "ftp://x/", NULL },
                { "server with a space", "", "stable", "https://x/ y", NULL },
                { "server with a newline", "", "stable", "https://x/\nREBOOT_STRATEGY=reboot", NULL },
                { "server with ?&", "", "stable", "https://x/?a=1&b=2", NULL },
                { "server with ~", "", "stable", "https://x/~user", NULL },
                { "server without a host", "", "stable", "https://", NULL },
                { "old text not an assignment", "GROUP=stable\nreboot now\n", "stable", NULL,
                  "update.conf line 2: expected KEY=value, a comment or a blank line" },
                { "old text with an expansion", "SERVER=\"$(curl evil)\"\n", "stable", NULL,
                  "update.conf line 1: '$' or '`' (a shell expansion) in a value" },
                { "old text with an open quote", "\nDOWNLOAD_USER=\"x\n", "stable", NULL,
                  "update.conf line 2: unterminated double quote" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *out = NULL, *error = NULL;
                is_int(updates_render_update_conf(bad[i].old, bad[i].group, bad[i].server, &out, NULL, &error),
                       -EINVAL, "refused: %s", bad[i].what);
                ok(!out, "%s: nothing rendered", bad[i].what);
                ok(error != NULL, "%s: with a reason: %s", bad[i].what, strna(error));
                if (bad[i].error)
                        is_str(error, bad[i].error, "%s: exact reason", bad[i].what);
        }

        /* reading values back */
        static const struct {
                const char *text, *key, *value;
                int r;
        } reads[] = {
                { "GROUP=stable\n", "GROUP", "stable", 0 },
                { "GROUP=\"beta\"\n", "GROUP", "beta", 0 },
                { "GROUP='alpha'  # the operator's\n", "GROUP", "alpha", 0 },
                { "GROUP=alpha\nGROUP=beta\n", "GROUP", "beta", 0 },
                { "SERVER=x\n", "GROUP", NULL, -ENOENT },
                { "#GROUP=alpha\n", "GROUP", NULL, -ENOENT },
                { "", "GROUP", NULL, -ENOENT },
                { "GROUP=\"beta\n", "GROUP", NULL, -EINVAL },
                { "SERVER=a b\nGROUP=beta\n", "GROUP", NULL, -EINVAL },
                { "DOWNLOAD_PASSWORD=\"s3cr\\$t\"\n", "DOWNLOAD_PASSWORD", "s3cr$t", 0 },
        };
        for (size_t i = 0; i < ELEMENTSOF(reads); i++) {
                _cleanup_free_ char *v = NULL, *error = NULL;
                is_int(updates_parse_update_conf(reads[i].text, reads[i].key, &v, &error), reads[i].r,
                       "parse #%zu: %s", i, reads[i].key);
                is_str(v, reads[i].value, "parse #%zu: value", i);
                ok((reads[i].r == -EINVAL) == (error != NULL), "parse #%zu: an error message only on -EINVAL", i);
        }
        {
                _cleanup_free_ char *v = NULL;
                is_int(updates_parse_update_conf(user, "GROUP", &v, NULL), 0, "GROUP of the operator's fixture");
                is_str(v, "beta", "is beta");
        }
#undef HEADER
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

static void test_update_conf_path(void) {
        char tmpl[] = "/tmp/test-updates-XXXXXX";
        const char *tmp = mkdtemp(tmpl);
        static const struct {
                const char *what;
                const char *setup; /* "d:DIR" mkdir, "l:LINK>TARGET" symlink, "f:FILE" file; ';'-separated */
                const char *want;  /* relative to the root; NULL with r */
                int r;
        } cases[] = {
                { "nothing there: Flatcar's path, to be created", "", "/etc/flatcar/update.conf", 0 },
                { "Flatcar: /etc/flatcar, /etc/coreos -> flatcar", "d:/etc/flatcar;l:/etc/coreos>flatcar",
                  "/etc/flatcar/update.conf", 0 },
                { "Flatcar without /etc/flatcar yet: the dangling symlink's target",
                  "d:/etc;l:/etc/coreos>flatcar", "/etc/flatcar/update.conf", 0 },
                { "Container Linux: a real /etc/coreos", "d:/etc/coreos", "/etc/coreos/update.conf", 0 },
                { "/etc/flatcar preferred over a real /etc/coreos", "d:/etc/coreos;d:/etc/flatcar",
                  "/etc/flatcar/update.conf", 0 },
                { "absolute symlink, resolved inside the root", "d:/etc/os-conf;l:/etc/coreos>/etc/os-conf",
                  "/etc/os-conf/update.conf", 0 },
                { "symlink out with ..", "d:/etc;l:/etc/coreos>../../outside", NULL, -ELOOP },
                { "symlink to a symlink", "d:/etc/x;l:/etc/y>x;l:/etc/coreos>y", NULL, -ELOOP },
                { "/etc/coreos a file", "d:/etc;f:/etc/coreos", NULL, -ENOTDIR },
                { "/etc/flatcar a file", "d:/etc;f:/etc/flatcar", NULL, -ENOTDIR },
                { "/etc/coreos -> a file", "d:/etc;f:/etc/file;l:/etc/coreos>file", NULL, -ENOTDIR },
        };

        if (!tmp) {
                ok(0, "mkdtemp(): %s", strerror(errno));
                return;
        }
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *root = NULL, *setup = strdup(cases[i].setup), *got = NULL, *want = NULL;
                char *save = NULL;

                if (asprintf(&root, "%s/%zu", tmp, i) < 0 || !setup || mkdir(root, 0755) < 0)
                        abort();
                for (char *step = strtok_r(setup, ";", &save); step; step = strtok_r(NULL, ";", &save)) {
                        _cleanup_free_ char *p = NULL;
                        char *gt = strchr(step, '>');
                        if (gt)
                                *gt = 0;
                        if (asprintf(&p, "%s%s", root, step + 2) < 0)
                                abort();
                        if ((step[0] == 'd' && mkdir_parents_and_self(p, 0755) < 0) ||
                            (step[0] == 'l' && symlink(gt + 1, p) < 0) ||
                            (step[0] == 'f' && write_file_atomic(p, "x", 1, 0644) < 0)) {
                                printf("Bail out! cannot set up %s\n", p);
                                exit(1);
                        }
                }
                is_int(updates_update_conf_path(root, &got), cases[i].r, "%s: returns %d", cases[i].what, cases[i].r);
                if (cases[i].want && asprintf(&want, "%s%s", root, cases[i].want) < 0)
                        abort();
                is_str(got, want, "%s: path", cases[i].what);
        }
        ok(nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0, "removed %s", tmp);

        _cleanup_free_ char *host = NULL;
        ok(updates_update_conf_path(NULL, &host) == 0 && host && strneq(host, "/etc/", 5) &&
                   streq(host + strlen(host) - 12, "/update.conf"),
           "the host's own: %s", strna(host));
}

/* ---- Zincati ---- */

static void test_zincati(void) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;

        is_int(updates_render_zincati_dropin("stable", true, "http://127.0.0.1:4723/", "workers", &a), 0,
               "drop-in renders");
        is_str(a,
               "# Written by ballastd from /etc/ballast/ballast.json; edits here are overwritten.\n"
               "# Stream: stable. Zincati has no stream setting (the node follows the stream it was deployed\n"
               "# from); ballast refuses to let it finalize an update that leaves the stream or max_version.\n"
               "\n"
               "[identity]\n"
               "group = \"workers\"\n"
               "\n"
               "[updates]\n"
               "enabled = true\n"
               "strategy = \"fleet_lock\"\n"
               "\n"
               "[updates.fleet_lock]\n"
               "base_url = \"http://127.0.0.1:4723/\"\n",
               "exact drop-in text");

        is_int(updates_render_zincati_dropin(NULL, false, NULL, NULL, &b), 0, "disabled, nothing else");
        is_str(b,
               "# Written by ballastd from /etc/ballast/ballast.json; edits here are overwritten.\n"
               "\n"
               "[updates]\n"
               "enabled = false\n",
               "exact disabled drop-in");

        is_int(updates_render_zincati_dropin(NULL, true, "https://h/x?a=1&b='2'", NULL, &c), 0,
               "URL with query and quote characters");
        ok(c && strstr(c, "base_url = \"https://h/x?a=1&b='2'\"\n"), "kept literally inside a basic string");

        static const struct {
                const char *what, *stream, *url, *group;
                bool enabled;
        } bad[] = {
                { "enabled without a URL", NULL, NULL, NULL, true },
                { "URL not http", NULL, "file:///etc/passwd", NULL, true },
                { "URL with a quote", NULL, "http://x/\"\n[updates]\nenabled = false", NULL, true },
                { "URL with a backslash", NULL, "http://x/\\", NULL, true },
                { "URL with a space", NULL, "http://x/ y", NULL, true },
                { "bad URL even when disabled", NULL, "gopher://x", NULL, false },
                { "group with '_' (FleetLock refuses it)", NULL, "http://x/", "my_group", true },
                { "group with a quote", NULL, "http://x/", "a\"b", true },
                { "empty group", NULL, "http://x/", "", true },
                { "stream with a newline", "stable\n[updates]", "http://x/", NULL, true },
                { "stream in capitals", "Stable", "http://x/", NULL, true },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *t = NULL;
                is_int(updates_render_zincati_dropin(bad[i].stream, bad[i].enabled, bad[i].url, bad[i].group, &t),
                       -EINVAL, "drop-in refused: %s", bad[i].what);
                ok(!t, "%s: nothing rendered", bad[i].what);
        }

        static const struct {
                const char *in, *out;
        } quotes[] = {
                { "plain", "\"plain\"" },
                { "", "\"\"" },
                { "a\"b", "\"a\\\"b\"" },
                { "back\\slash", "\"back\\\\slash\"" },
                { "tab\tnl\ncr\rbs\bff\f", "\"tab\\tnl\\ncr\\rbs\\bff\\f\"" },
                { "\x01\x1f\x7f", "\"\\u0001\\u001F\\u007F\"" },
                { "caf\xc3\xa9", "\"caf\xc3\xa9\"" },
        };
        for (size_t i = 0; i < ELEMENTSOF(quotes); i++) {
                _cleanup_free_ char *q = updates_toml_quote(quotes[i].in);
                is_str(q, quotes[i].out, "TOML quote #%zu", i);
        }
        ok(updates_toml_quote(NULL) == NULL, "TOML quote of NULL: NULL");
}

int main(void) {
        test_detect_os();
        test_version_compare();
        test_windows();
        test_windows_brute_force();
        test_window_errors();
        test_clock();
        test_fcos_stream();
        test_update_conf();
        test_update_conf_path();
        test_zincati();
        return tap_done();
}
