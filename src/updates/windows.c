/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shared/macro.h"
#include "updates/windows.h"

/* ---- maintenance windows ---- */

bool updates_time_zone_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;

        return n > 0 && n <= 64 &&
               strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_+-") == n &&
               s[0] != '/' && s[n - 1] != '/' && !strstr(s, "//");
}

int updates_parse_weekday(const char *s) {
        static const char *const names[] = { "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
                                             "Saturday" };
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (streq(s, names[i]) || (strlen(s) == 3 && strneq(s, names[i], 3)))
                        return (int) i;
        return -EINVAL;
}

int updates_parse_clock_minutes(const char *s, unsigned *ret) {
        unsigned h, m;
        int n = -1;

        if (strlen(s) != 5 || !isdigit((unsigned char) s[0]) || !isdigit((unsigned char) s[1]) || s[2] != ':' ||
            !isdigit((unsigned char) s[3]) || !isdigit((unsigned char) s[4]))
                return -EINVAL;
        if (sscanf(s, "%2u:%2u%n", &h, &m, &n) != 2 || n != 5 || h > 23 || m > 59)
                return -EINVAL;
        *ret = h * 60 + m;
        return 0;
}


#define DAY_SEC INT64_C(86400)
#define WEEK_SEC (7 * DAY_SEC)
#define HORIZON_SEC (15 * DAY_SEC)        /* one skipped window (DST) plus a week */
#define TZ_PROBE_SEC INT64_C(21600)       /* offset transitions are looked for every 6 hours */
#define TIME_MAX_SEC INT64_C(253402300799) /* 9999-12-31T23:59:59Z */

/* A zone is only used when its TZif file is there: glibc takes an unknown TZ for UTC without a word. */
static int check_tzif(const char *path) {
        _cleanup_close_ int fd = -1;
        struct stat st;
        char magic[4];

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -ENOENT; /* "Europe" is a directory, not a zone */
        if (read(fd, magic, sizeof(magic)) != (ssize_t) sizeof(magic) || memcmp(magic, "TZif", 4) != 0)
                return -EINVAL;
        return 0;
}

/* The TZ value for a configured zone name. */
static int tz_env_for(const char *time_zone, char **ret) {
        const char *dir;
        char *v;
        int r;

        if (isempty(time_zone))
                return -EINVAL;
        if (streq(time_zone, "UTC"))
                v = strdup("UTC0");
        else if (streq(time_zone, "localtime")) {
                struct stat st;

                /* localtime(5): a missing /etc/localtime means UTC; a dangling symlink is a broken one */
                if (lstat("/etc/localtime", &st) < 0) {
                        if (errno != ENOENT)
                                return -errno;
                        v = strdup("UTC0");
                } else {
                        r = check_tzif("/etc/localtime");
                        if (r < 0)
                                return r;
                        v = strdup(":/etc/localtime");
                }
        } else {
                /* the config's own rule: no dots at all, so no "..", and no empty components */
                if (!updates_time_zone_valid(time_zone))
                        return -EINVAL;
                dir = getenv("TZDIR");
                if (isempty(dir))
                        dir = "/usr/share/zoneinfo";
                if (asprintf(&v, ":%s/%s", dir, time_zone) < 0)
                        return -ENOMEM;
                r = check_tzif(v + 1);
                if (r < 0) {
                        free(v);
                        return r == -ENOTDIR ? -ENOENT : r;
                }
        }
        if (!v)
                return -ENOMEM;
        *ret = v;
        return 0;
}

typedef struct TzOverride {
        bool active, had;
        char *saved;
} TzOverride;

static int tz_override(TzOverride *o, const char *tz) {
        const char *old = getenv("TZ");

        *o = (TzOverride) { .had = old };
        if (old && !(o->saved = strdup(old)))
                return -ENOMEM;
        if (setenv("TZ", tz, 1) < 0) {
                o->saved = mfree(o->saved);
                return -errno;
        }
        tzset();
        o->active = true;
        return 0;
}

static void tz_restore(TzOverride *o) {
        if (!o->active)
                return;
        if (o->had)
                (void) setenv("TZ", o->saved, 1);
        else
                (void) unsetenv("TZ");
        tzset();
        o->saved = mfree(o->saved);
        o->active = false;
}

static int64_t mod64(int64_t a, int64_t m) {
        int64_t r = a % m;
        return r < 0 ? r + m : r;
}

/* Local wall-clock time as seconds since 1970-01-01 00:00 local. */
static int utc_offset(int64_t t, int64_t *ret) {
        time_t tt = (time_t) t;
        struct tm tm;

        if ((int64_t) tt != t || !localtime_r(&tt, &tm))
                return -ERANGE;
        *ret = tm.tm_gmtoff;
        return 0;
}

/* 0 = Sunday 00:00:00; 1970-01-01 was a Thursday, four days after a Sunday. */
static int64_t week_second(int64_t wall) {
        return mod64(wall + 4 * DAY_SEC, WEEK_SEC);
}

static bool wall_inside(const MaintenanceWindow *w, size_t n, int64_t wall) {
        int64_t ws = week_second(wall);

        for (size_t i = 0; i < n; i++)
                for (unsigned d = 0; d < 7; d++)
                        if ((w[i].days & (1U << d)) &&
                            mod64(ws - (d * DAY_SEC + w[i].start_min * INT64_C(60)), WEEK_SEC) <
                                    w[i].length_min * INT64_C(60))
                                return true;
        return false;
}

static int inside_at(const MaintenanceWindow *w, size_t n, int64_t t, bool *ret) {
        int64_t off;
        int r = utc_offset(t, &off);
        if (r < 0)
                return r;
        *ret = wall_inside(w, n, t + off);
        return 0;
}

typedef struct Instants {
        int64_t *t;
        size_t n, allocated;
} Instants;

static int instants_add(Instants *l, int64_t t) {
        if (l->n == l->allocated) {
                size_t a = MAX(l->allocated * 2, (size_t) 64);
                int64_t *m = reallocarray(l->t, a, sizeof(int64_t));
                if (!m)
                        return -ENOMEM;
                l->t = m;
                l->allocated = a;
        }
        l->t[l->n++] = t;
        return 0;
}

static int cmp_int64(const void *a, const void *b) {
        int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
        return x < y ? -1 : x > y;
}

/* Within [start, end) the offset is constant, so wall time is linear and whether it is inside can only change
 * where the wall clock passes a window's start or end: add those instants. */
static int add_boundaries(Instants *l, const MaintenanceWindow *w, size_t n, int64_t start, int64_t end,
                          int64_t off) {
        int64_t lo = start + off, hi = end + off;

        for (size_t i = 0; i < n; i++)
                for (unsigned d = 0; d < 7; d++) {
                        if (!(w[i].days & (1U << d)))
                                continue;
                        int64_t s = d * DAY_SEC + w[i].start_min * INT64_C(60);
                        int64_t b[2] = { s, mod64(s + w[i].length_min * INT64_C(60), WEEK_SEC) };
                        for (size_t j = 0; j < 2; j++)
                                for (int64_t W = lo + 1 + mod64(b[j] - week_second(lo + 1), WEEK_SEC); W < hi;
                                     W += WEEK_SEC) {
                                        int r = instants_add(l, W - off);
                                        if (r < 0)
                                                return r;
                                }
                }
        return 0;
}

/* Every instant in (now, now + HORIZON_SEC) where being inside may change: window boundaries on the wall clock
 * and the zone's offset transitions. */
static int collect_instants(const MaintenanceWindow *w, size_t n, int64_t now, Instants *l) {
        int64_t seg_start = now, seg_off, horizon = now + HORIZON_SEC;
        int r;

        r = utc_offset(now, &seg_off);
        if (r < 0)
                return r;

        for (int64_t probe = now; probe < horizon;) {
                int64_t next = MIN(probe + TZ_PROBE_SEC, horizon), next_off;

                r = utc_offset(next, &next_off);
                if (r < 0)
                        return r;
                if (next_off != seg_off) {
                        /* the first second with the new offset */
                        int64_t lo = probe, hi = next;
                        while (hi - lo > 1) {
                                int64_t mid = lo + (hi - lo) / 2, o;
                                r = utc_offset(mid, &o);
                                if (r < 0)
                                        return r;
                                if (o == seg_off)
                                        lo = mid;
                                else
                                        hi = mid;
                        }
                        r = add_boundaries(l, w, n, seg_start, hi, seg_off);
                        if (r >= 0)
                                r = instants_add(l, hi);
                        if (r < 0)
                                return r;
                        seg_start = hi;
                        r = utc_offset(hi, &seg_off);
                        if (r < 0)
                                return r;
                }
                probe = next;
        }
        return add_boundaries(l, w, n, seg_start, horizon, seg_off);
}

static int window_compute(const MaintenanceWindow *w, size_t n, int64_t now, int64_t *ret_next_start,
                          int64_t *ret_end) {
        _cleanup_free_ int64_t *buf = NULL;
        Instants l = {};
        int64_t next_start = 0, end = 0;
        bool inside_now, cur;
        int r;

        r = inside_at(w, n, now, &inside_now);
        if (r < 0)
                return r;

        if (ret_next_start || ret_end) {
                r = collect_instants(w, n, now, &l);
                buf = l.t;
                if (r < 0)
                        return r;
                qsort(l.t, l.n, sizeof(int64_t), cmp_int64);

                /* between two consecutive instants nothing changes: walk them */
                cur = inside_now;
                for (size_t i = 0; i < l.n; i++) {
                        bool st;

                        if (i > 0 && l.t[i] == l.t[i - 1])
                                continue;
                        r = inside_at(w, n, l.t[i], &st);
                        if (r < 0)
                                return r;
                        if (!cur && st && next_start == 0)
                                next_start = l.t[i];
                        if (inside_now && !st && end == 0)
                                end = l.t[i];
                        cur = st;
                        if (next_start != 0 && (end != 0 || !inside_now))
                                break;
                }
        }

        if (ret_next_start)
                *ret_next_start = next_start;
        if (ret_end)
                *ret_end = inside_now ? end : 0;
        return inside_now ? UPDATES_WINDOW_INSIDE : UPDATES_WINDOW_OUTSIDE;
}

int updates_in_window(const MaintenanceWindow *w, size_t n, int64_t now_utc_sec, const char *time_zone,
                      int64_t *ret_next_start, int64_t *ret_end) {
        _cleanup_(tz_restore) TzOverride o = {};
        _cleanup_free_ char *tz = NULL;
        int r;

        if (n > 0 && !w)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (w[i].days == 0 || w[i].days >= (1U << 7) || w[i].start_min >= 24 * 60 ||
                    w[i].length_min == 0 || w[i].length_min > 7 * 24 * 60)
                        return -EINVAL;
        if (now_utc_sec < 0 || now_utc_sec > TIME_MAX_SEC - HORIZON_SEC)
                return -ERANGE;

        /* checked even without windows: a zone that does not exist is a configuration error */
        r = tz_env_for(time_zone, &tz);
        if (r < 0)
                return r;

        if (n == 0) {
                if (ret_next_start)
                        *ret_next_start = 0;
                if (ret_end)
                        *ret_end = 0;
                return UPDATES_WINDOW_NONE;
        }

        r = tz_override(&o, tz);
        if (r < 0)
                return r;
        return window_compute(w, n, now_utc_sec, ret_next_start, ret_end);
}

int updates_window_aliases(json_t *item, json_t **ret, const char **ret_key) {
        static const char *const aliases[][2] = { { "start_time", "start" }, { "length_minutes", "length_min" } };
        json_t *copy;

        if (!json_is_object(item)) {
                *ret = json_incref(item);
                return 0;
        }
        copy = json_copy(item);
        if (!copy)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(aliases); i++) {
                json_t *v = json_object_get(copy, aliases[i][0]);
                if (!v)
                        continue;
                if (json_object_get(copy, aliases[i][1])) {
                        json_decref(copy);
                        *ret_key = aliases[i][0];
                        return -EEXIST;
                }
                if (json_object_set(copy, aliases[i][1], v) < 0 || json_object_del(copy, aliases[i][0]) < 0) {
                        json_decref(copy);
                        return -ENOMEM;
                }
        }
        *ret = copy;
        return 0;
}
