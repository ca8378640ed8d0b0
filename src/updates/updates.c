/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "shared/fileio.h"
#include "shared/json-util.h"
#include "shared/macro.h"
#include "shared/parse-util.h"
#include "updates/updates.h"

#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
#define HEXDIGITS "0123456789abcdefABCDEF"

_printf_(3, 4) static int fail(char **ret_error, int r, const char *format, ...) {
        va_list ap;

        if (ret_error) {
                char *m;
                va_start(ap, format);
                if (vasprintf(&m, format, ap) < 0)
                        m = NULL;
                va_end(ap);
                *ret_error = m;
        }
        return r;
}

static bool all_of(const char *s, const char *accept) {
        return s && strspn(s, accept) == strlen(s);
}

static void fclose_memstreamp(FILE **f) {
        if (*f)
                fclose(*f);
}

/* Finishes an open_memstream() text: NULL stream or a write error give -ENOMEM, and the buffer is freed. */
static int memstream_finish(FILE **f, char **buf, char **ret) {
        bool bad = ferror(*f);

        if (fclose(*f) != 0)
                bad = true;
        *f = NULL;
        if (bad) {
                *buf = mfree(*buf);
                return -ENOMEM;
        }
        *ret = TAKE_PTR(*buf);
        return 0;
}

/* ---- shell-style KEY=value lines (os-release, update.conf) ---- */

/* Parses one line, without its newline. Returns 1 and the key (and value, unquoted) of an assignment, 0 for a
 * blank or comment line, -EINVAL with *ret_why for anything else. Stricter than a shell where the shell would
 * do more than assign a literal: expansions, command separators and concatenated quotes are refused. */
static int parse_line(const char *line, size_t len, char **ret_key, char **ret_value, const char **ret_why) {
        const char *p = line, *end = line + len, *key, *key_end;
        _cleanup_free_ char *value = NULL;
        char *q;

        while (p < end && (*p == ' ' || *p == '\t'))
                p++;
        if (p == end || *p == '#')
                return 0;

        key = p;
        if (!(isalpha((unsigned char) *p) || *p == '_'))
                goto not_assignment;
        while (p < end && (isalnum((unsigned char) *p) || *p == '_'))
                p++;
        if (p == end || *p != '=')
                goto not_assignment;

        key_end = p++;
        value = malloc(len + 1);
        if (!value)
                return -ENOMEM;
        q = value;

        if (p < end && *p == '"') {
                for (p++;; p++) {
                        if (p == end) {
                                *ret_why = "unterminated double quote";
                                return -EINVAL;
                        }
                        if (*p == '"')
                                break;
                        if (*p == '\\' && p + 1 < end && strchr("\"\\$`", p[1]))
                                p++;
                        else if (*p == '$' || *p == '`') {
                                *ret_why = "'$' or '`' (a shell expansion) in a value";
                                return -EINVAL;
                        }
                        *q++ = *p;
                }
                p++;
        } else if (p < end && *p == '\'') {
                for (p++;; p++) {
                        if (p == end) {
                                *ret_why = "unterminated single quote";
                                return -EINVAL;
                        }
                        if (*p == '\'')
                                break;
                        *q++ = *p;
                }
                p++;
        } else
                for (; p < end && !isspace((unsigned char) *p); p++) {
                        if (strchr("\"'\\$`;&|<>(){}", *p)) {
                                *ret_why = "a character that needs quoting in an unquoted value";
                                return -EINVAL;
                        }
                        *q++ = *p;
                }
        *q = 0;

        /* after the value: nothing, or blanks and then maybe a comment */
        if (p < end && *p != ' ' && *p != '\t') {
                *ret_why = *p == '\r' ? "a carriage return (DOS line ending)" : "unexpected text after the value";
                return -EINVAL;
        }
        while (p < end && (*p == ' ' || *p == '\t'))
                p++;
        if (p < end && *p != '#') {
                *ret_why = *p == '\r' ? "a carriage return (DOS line ending)" : "unexpected text after the value";
                return -EINVAL;
        }
        for (q = value; *q; q++)
                if ((unsigned char) *q < 0x20 || *q == 0x7f) {
                        *ret_why = "a control character in a value";
                        return -EINVAL;
                }

        if (ret_key) {
                *ret_key = strndup(key, key_end - key);
                if (!*ret_key)
                        return -ENOMEM;
        }
        if (ret_value)
                *ret_value = TAKE_PTR(value);
        return 1;

not_assignment:
        *ret_why = "expected KEY=value, a comment or a blank line";
        return -EINVAL;
}

/* Calls f for every line of text, with its 1-based number; stops at the first negative return. */
typedef int (*LineFunc)(const char *line, size_t len, unsigned no, void *userdata);

static int for_each_line(const char *text, LineFunc f, void *userdata) {
        unsigned no = 0;

        for (const char *l = strempty(text); *l;) {
                const char *nl = strchrnul(l, '\n');
                int r = f(l, nl - l, ++no, userdata);
                if (r < 0)
                        return r;
                l = *nl ? nl + 1 : nl;
        }
        return 0;
}

/* ---- the OS ---- */

void updates_os_info_done(OsInfo *info) {
        if (!info)
                return;
        free(info->id);
        free(info->variant_id);
        free(info->version_id);
        free(info->version);
        free(info->pretty_name);
        *info = (OsInfo) {};
}

const char *updates_os_kind_to_string(OsKind k) {
        switch (k) {
        case OS_FLATCAR: return "flatcar";
        case OS_CONTAINER_LINUX: return "container-linux";
        case OS_FEDORA_COREOS: return "fedora-coreos";
        case OS_OTHER: return "other";
        }
        return "other";
}

typedef struct OsReleaseParse {
        char *id, *variant_id, *version_id, *version, *ostree_version, *pretty_name;
        char **error;
} OsReleaseParse;

static int os_release_line(const char *line, size_t len, unsigned no, void *userdata) {
        OsReleaseParse *p = userdata;
        _cleanup_free_ char *key = NULL, *value = NULL;
        const char *why = NULL;
        char **slot = NULL;
        int r;

        r = parse_line(line, len, &key, &value, &why);
        if (r == -EINVAL)
                return fail(p->error, r, "os-release line %u: %s", no, why);
        if (r <= 0)
                return r;

        if (streq(key, "ID"))
                slot = &p->id;
        else if (streq(key, "VARIANT_ID"))
                slot = &p->variant_id;
        else if (streq(key, "VERSION_ID"))
                slot = &p->version_id;
        else if (streq(key, "VERSION"))
                slot = &p->version;
        else if (streq(key, "OSTREE_VERSION"))
                slot = &p->ostree_version;
        else if (streq(key, "PRETTY_NAME"))
                slot = &p->pretty_name;
        if (slot) { /* the last assignment wins, as in a shell */
                free(*slot);
                *slot = TAKE_PTR(value);
        }
        return 0;
}

static bool version_parsable(const char *v) {
        int dummy;
        return v && updates_version_compare(v, v, &dummy) >= 0;
}

int updates_detect_os(const char *os_release_text, OsInfo *ret, char **ret_error) {
        OsReleaseParse p = { .error = ret_error };
        OsInfo info = {};
        int r;

        if (!os_release_text || !ret)
                return -EINVAL;

        r = for_each_line(os_release_text, os_release_line, &p);
        if (r < 0)
                goto finish;

        info.id = p.id ? TAKE_PTR(p.id) : strdup("linux");
        info.variant_id = TAKE_PTR(p.variant_id);
        info.version_id = TAKE_PTR(p.version_id);
        info.pretty_name = TAKE_PTR(p.pretty_name);
        if (!info.id) {
                r = -ENOMEM;
                goto finish;
        }

        if (streq(info.id, "flatcar"))
                info.kind = OS_FLATCAR;
        else if (streq(info.id, "coreos"))
                info.kind = OS_CONTAINER_LINUX;
        else if (streq(info.id, "fedora") && info.variant_id && streq(info.variant_id, "coreos"))
                info.kind = OS_FEDORA_COREOS;
        else
                info.kind = OS_OTHER;

        if (info.kind == OS_FLATCAR || info.kind == OS_CONTAINER_LINUX) {
                if (info.version_id && !(info.version = strdup(info.version_id))) {
                        r = -ENOMEM;
                        goto finish;
                }
        } else if (info.kind == OS_FEDORA_COREOS) {
                /* VERSION_ID is only the Fedora release ("39"); the build is OSTREE_VERSION, or the first word
                 * of VERSION ("39.20240210.3.0 (CoreOS)") on images that lack it */
                if (p.ostree_version)
                        info.version = TAKE_PTR(p.ostree_version);
                else if (p.version) {
                        info.version = strndup(p.version, strcspn(p.version, " "));
                        if (!info.version) {
                                r = -ENOMEM;
                                goto finish;
                        }
                        if (!version_parsable(info.version))
                                info.version = mfree(info.version);
                }
        }

        *ret = info;
        info = (OsInfo) {};
        r = 0;
finish:
        updates_os_info_done(&info);
        free(p.id);
        free(p.variant_id);
        free(p.version_id);
        free(p.version);
        free(p.ostree_version);
        free(p.pretty_name);
        return r;
}

int updates_version_compare(const char *a, const char *b, int *ret) {
        const char *v[2] = { a, b };
        int c = 0;

        for (size_t i = 0; i < 2; i++) {
                const char *s = v[i];
                if (isempty(s) || !all_of(s, "0123456789.") || s[0] == '.' || s[strlen(s) - 1] == '.' ||
                    strstr(s, ".."))
                        return -EINVAL;
        }

        while (*a || *b) {
                uint64_t x[2] = {};
                for (size_t i = 0; i < 2; i++) {
                        const char **s = i == 0 ? &a : &b;
                        size_t n = strcspn(*s, ".");
                        char digits[21];

                        if (n == 0)
                                continue; /* this one ran out of components: 0 */
                        if (n >= sizeof(digits))
                                return -ERANGE;
                        memcpy(digits, *s, n);
                        digits[n] = 0;
                        if (safe_atou64(digits, &x[i]) < 0)
                                return -ERANGE;
                        *s += n;
                        if (**s == '.')
                                (*s)++;
                }
                if (c == 0 && x[0] != x[1])
                        c = x[0] < x[1] ? -1 : 1;
        }
        *ret = c;
        return 0;
}

/* ---- maintenance windows ---- */

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
                if (!config_time_zone_valid(time_zone))
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

/* ---- the gate ---- */

static const char *const strategy_names[_UPDATES_STRATEGY_MAX] = {
        [UPDATES_STRATEGY_OFF] = "off",
        [UPDATES_STRATEGY_PERIODIC] = "periodic",
        [UPDATES_STRATEGY_FLEET_LOCK] = "fleet_lock",
};

UpdatesStrategy updates_strategy_from_string(const char *s) {
        for (size_t i = 0; s && i < ELEMENTSOF(strategy_names); i++)
                if (streq(s, strategy_names[i]))
                        return (UpdatesStrategy) i;
        return _UPDATES_STRATEGY_INVALID;
}

const char *updates_strategy_to_string(UpdatesStrategy s) {
        return s >= 0 && s < _UPDATES_STRATEGY_MAX ? strategy_names[s] : NULL;
}

static void decide(const RebootInputs *in, bool final, RebootDecision *ret) {
#define DENY(code, sentence)                                                                   \
        do {                                                                                   \
                *ret = (RebootDecision) { .allow = false, .reason = code, .message = sentence }; \
                return;                                                                        \
        } while (0)

        if (!in || in->config_error || in->strategy < 0 || in->strategy >= _UPDATES_STRATEGY_MAX)
                DENY("config-error",
                     "The update configuration or a file ballast owns could not be read; on doubt, no reboot.");
        if (!in->reboot_needed)
                DENY("not-needed", "No reboot is needed.");
        if (in->strategy == UPDATES_STRATEGY_OFF)
                DENY("strategy-off", "The reboot strategy is \"off\": ballast does not reboot this node.");
        if (in->paused)
                DENY("paused", "Updates are paused (ballastctl update resume).");
        if (!in->clock_known)
                DENY("clock-unknown", "The system clock is not known to be right, so no window can be trusted.");
        if (in->max_version) {
                int c;
                if (!in->new_version)
                        DENY("version-unknown",
                             "A highest version is set, but the version the reboot would boot into is unknown.");
                if (updates_version_compare(in->new_version, in->max_version, &c) < 0)
                        DENY("version-unknown",
                             "A highest version is set, but it cannot be compared with the new version.");
                if (c > 0)
                        DENY("version-above-max", "The new version is above the highest version allowed.");
        }
        switch (in->window) {
        case UPDATES_WINDOW_INSIDE:
                break;
        case UPDATES_WINDOW_NONE:
                if (in->strategy == UPDATES_STRATEGY_PERIODIC)
                        DENY("no-windows", "The periodic strategy needs at least one maintenance window.");
                break;
        case UPDATES_WINDOW_OUTSIDE:
                DENY("outside-window", "Outside every maintenance window.");
        default:
                DENY("window-unknown",
                     "Whether this is inside a maintenance window cannot be computed (time zone or windows).");
        }
        if (final) {
                if (in->strategy == UPDATES_STRATEGY_FLEET_LOCK && !in->lock_held)
                        DENY("no-lock", "The cluster reboot lock (FleetLock) is not held.");
                if (!in->drained)
                        DENY("not-drained", "The node's services are not drained yet.");
        }
        *ret = (RebootDecision) { .allow = true, .reason = "ok", .message = "A reboot is allowed now." };
#undef DENY
}

void updates_may_reboot(const RebootInputs *in, RebootDecision *ret) {
        decide(in, true, ret);
}

void updates_may_start(const RebootInputs *in, RebootDecision *ret) {
        decide(in, false, ret);
}

/* ---- Flatcar: update.conf ---- */

/* Characters a shell takes literally in an unquoted assignment value (no '~', which expands after ':' or '='
 * in assignments). */
#define SHELL_SAFE ALNUM "._:/%@+,=-"

static bool update_group_valid(const char *g) {
        return !isempty(g) && strlen(g) <= 128 && all_of(g, ALNUM "._-");
}

/* An http:// or https:// URL with a host, of at most 2048 characters, all of them in allowed. */
static bool url_valid(const char *s, const char *allowed) {
        size_t skip;

        if (!s || strlen(s) > 2048)
                return false;
        if (strneq(s, "https://", 8))
                skip = 8;
        else if (strneq(s, "http://", 7))
                skip = 7;
        else
                return false;
        return s[skip] && s[skip] != '/' && all_of(s, allowed);
}

static bool update_server_valid(const char *s) {
        return url_valid(s, SHELL_SAFE);
}

#define UPDATE_CONF_COMMENT "# ballastd sets GROUP, SERVER and REBOOT_STRATEGY=off here (see /etc/ballast/ballast.json)."

typedef struct UpdateConfRender {
        FILE *out;
        const char *group, *server;
        bool seen_group, seen_server, seen_strategy, seen_comment;
        char **error;
} UpdateConfRender;

static int update_conf_render_line(const char *line, size_t len, unsigned no, void *userdata) {
        UpdateConfRender *u = userdata;
        _cleanup_free_ char *key = NULL;
        const char *why = NULL, *value = NULL;
        int indent = (int) strspn(line, " \t");
        int r;

        r = parse_line(line, len, &key, NULL, &why);
        if (r == -EINVAL)
                return fail(u->error, r, "update.conf line %u: %s", no, why);
        if (r < 0)
                return r;

        if (r == 0) {
                if (len == strlen(UPDATE_CONF_COMMENT) && strneq(line, UPDATE_CONF_COMMENT, len))
                        u->seen_comment = true;
        } else if (streq(key, "GROUP") && u->group) {
                value = u->group;
                u->seen_group = true;
        } else if (streq(key, "SERVER") && u->server) {
                value = u->server;
                u->seen_server = true;
        } else if (streq(key, "REBOOT_STRATEGY")) {
                value = "off";
                u->seen_strategy = true;
        }

        if (value)
                fprintf(u->out, "%.*s%s=%s\n", indent, line, key, value);
        else
                fprintf(u->out, "%.*s\n", (int) len, line);
        return 0;
}

int updates_render_update_conf(const char *old_text, const char *group, const char *server, char **ret_new_text,
                               bool *ret_changed, char **ret_error) {
        _cleanup_free_ char *buf = NULL; /* declared first: freed after the stream's close updates it */
        _cleanup_(fclose_memstreamp) FILE *f = NULL;
        size_t size;
        UpdateConfRender u = { .group = group, .server = server, .error = ret_error };
        char *text;
        int r;

        if (!ret_new_text)
                return -EINVAL;
        if (group && !update_group_valid(group))
                return fail(ret_error, -EINVAL,
                            "GROUP: expected a channel or group of letters, digits, '.', '_', '-' (at most 128)");
        if (server && !update_server_valid(server))
                return fail(ret_error, -EINVAL,
                            "SERVER: expected an http:// or https:// URL without characters that need quoting");

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        u.out = f;

        r = for_each_line(old_text, update_conf_render_line, &u);
        if (r < 0)
                return r;
        if ((group && !u.seen_group) || (server && !u.seen_server) || !u.seen_strategy) {
                if (!u.seen_comment)
                        fputs(UPDATE_CONF_COMMENT "\n", f);
                if (group && !u.seen_group)
                        fprintf(f, "GROUP=%s\n", group);
                if (server && !u.seen_server)
                        fprintf(f, "SERVER=%s\n", server);
                if (!u.seen_strategy)
                        fputs("REBOOT_STRATEGY=off\n", f);
        }

        r = memstream_finish(&f, &buf, &text);
        if (r < 0)
                return r;
        if (ret_changed)
                *ret_changed = !streq(strempty(old_text), text);
        *ret_new_text = text;
        return 0;
}

typedef struct UpdateConfLookup {
        const char *key;
        char *value;
        char **error;
} UpdateConfLookup;

static int update_conf_lookup_line(const char *line, size_t len, unsigned no, void *userdata) {
        UpdateConfLookup *u = userdata;
        _cleanup_free_ char *key = NULL, *value = NULL;
        const char *why = NULL;
        int r;

        r = parse_line(line, len, &key, &value, &why);
        if (r == -EINVAL)
                return fail(u->error, r, "update.conf line %u: %s", no, why);
        if (r > 0 && streq(key, u->key)) {
                free(u->value);
                u->value = TAKE_PTR(value);
        }
        return r < 0 ? r : 0;
}

int updates_parse_update_conf(const char *text, const char *key, char **ret_value, char **ret_error) {
        UpdateConfLookup u = { .key = key, .error = ret_error };
        int r;

        if (!text || isempty(key) || !ret_value)
                return -EINVAL;
        r = for_each_line(text, update_conf_lookup_line, &u);
        if (r < 0) {
                free(u.value);
                return r;
        }
        if (!u.value)
                return -ENOENT;
        *ret_value = u.value;
        return 0;
}

/* Resolves an /etc directory under root: itself when it is a directory, its target (one level, inside root,
 * without "..") when it is a symlink. *ret_exists: the directory is there; *ret_symlink: dir is a symlink. */
static int resolve_etc_dir(const char *root, const char *dir, char **ret_path, bool *ret_exists,
                           bool *ret_symlink) {
        _cleanup_free_ char *p = NULL, *target = NULL, *resolved = NULL, *parent = NULL;
        struct stat st;
        ssize_t k;

        p = path_join_root(root, dir);
        if (!p)
                return -ENOMEM;
        if (lstat(p, &st) < 0) {
                if (errno != ENOENT)
                        return -errno;
                *ret_exists = *ret_symlink = false;
                *ret_path = TAKE_PTR(p);
                return 0;
        }
        if (S_ISDIR(st.st_mode)) {
                *ret_exists = true;
                *ret_symlink = false;
                *ret_path = TAKE_PTR(p);
                return 0;
        }
        if (!S_ISLNK(st.st_mode))
                return -ENOTDIR;

        target = malloc(PATH_MAX);
        if (!target)
                return -ENOMEM;
        k = readlink(p, target, PATH_MAX - 1);
        if (k < 0)
                return -errno;
        target[k] = 0;
        if (k == 0 || streq(target, "..") || strneq(target, "../", 3) || strstr(target, "/../") ||
            (k >= 3 && streq(target + k - 3, "/..")))
                return -ELOOP;

        if (target[0] == '/')
                resolved = path_join_root(root, target);
        else {
                parent = path_join_root(root, "/etc");
                resolved = parent ? path_join(parent, target) : NULL;
        }
        if (!resolved)
                return -ENOMEM;

        if (lstat(resolved, &st) < 0) {
                if (errno != ENOENT)
                        return -errno;
                *ret_exists = false; /* dangling: the directory is to be created */
        } else if (S_ISDIR(st.st_mode))
                *ret_exists = true;
        else
                return S_ISLNK(st.st_mode) ? -ELOOP : -ENOTDIR;
        *ret_symlink = true;
        *ret_path = TAKE_PTR(resolved);
        return 0;
}

int updates_update_conf_path(const char *root, char **ret) {
        _cleanup_free_ char *flatcar = NULL, *coreos = NULL;
        bool flatcar_exists, flatcar_link, coreos_exists, coreos_link;
        const char *dir;
        int r;

        if (!ret)
                return -EINVAL;
        r = resolve_etc_dir(root, "/etc/flatcar", &flatcar, &flatcar_exists, &flatcar_link);
        if (r < 0)
                return r;
        if (flatcar_exists)
                dir = flatcar;
        else {
                r = resolve_etc_dir(root, "/etc/coreos", &coreos, &coreos_exists, &coreos_link);
                if (r < 0)
                        return r;
                /* Container Linux's directory, or where Flatcar's /etc/coreos -> flatcar symlink points */
                dir = coreos_exists || coreos_link ? coreos : flatcar;
        }
        *ret = path_join(dir, "update.conf");
        return *ret ? 0 : -ENOMEM;
}

/* ---- Fedora CoreOS: the Zincati drop-in ---- */

char *updates_toml_quote(const char *s) {
        _cleanup_free_ char *buf = NULL; /* declared first: freed after the stream's close updates it */
        _cleanup_(fclose_memstreamp) FILE *f = NULL;
        size_t size;
        char *r;

        if (!s)
                return NULL;
        f = open_memstream(&buf, &size);
        if (!f)
                return NULL;
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                switch (*p) {
                case '"': fputs("\\\"", f); break;
                case '\\': fputs("\\\\", f); break;
                case '\b': fputs("\\b", f); break;
                case '\t': fputs("\\t", f); break;
                case '\n': fputs("\\n", f); break;
                case '\f': fputs("\\f", f); break;
                case '\r': fputs("\\r", f); break;
                default:
                        if (*p < 0x20 || *p == 0x7f)
                                fprintf(f, "\\u%04X", *p);
                        else
                                fputc(*p, f);
                }
        fputc('"', f);
        return memstream_finish(&f, &buf, &r) < 0 ? NULL : r;
}

static bool http_url_valid(const char *s) {
        /* RFC 3986's unreserved and reserved characters and '%': nothing that needs escaping anywhere */
        return url_valid(s, ALNUM "-._~:/?#[]@!$&'()*+,;=%");
}

static bool stream_valid(const char *s) {
        return !isempty(s) && strlen(s) <= 64 && all_of(s, "abcdefghijklmnopqrstuvwxyz0123456789._-");
}

int updates_render_zincati_dropin(const char *stream, bool enabled, const char *fleet_lock_base_url,
                                  const char *group, char **ret) {
        _cleanup_free_ char *buf = NULL, *qgroup = NULL, *qurl = NULL;
        _cleanup_(fclose_memstreamp) FILE *f = NULL;
        size_t size;

        if (!ret)
                return -EINVAL;
        if (stream && !stream_valid(stream))
                return -EINVAL;
        if (group && !updates_fleetlock_group_valid(group))
                return -EINVAL;
        if (enabled ? !http_url_valid(fleet_lock_base_url)
                    : fleet_lock_base_url && !http_url_valid(fleet_lock_base_url))
                return -EINVAL;

        if (group && !(qgroup = updates_toml_quote(group)))
                return -ENOMEM;
        if (enabled && !(qurl = updates_toml_quote(fleet_lock_base_url)))
                return -ENOMEM;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        fputs("# Written by ballastd from /etc/ballast/ballast.json; edits here are overwritten.\n", f);
        if (stream)
                fprintf(f,
                        "# Stream: %s. Zincati has no stream setting (the node follows the stream it was deployed\n"
                        "# from); ballast refuses to let it finalize an update that leaves the stream or max_version.\n",
                        stream);
        if (group)
                fprintf(f, "\n[identity]\ngroup = %s\n", qgroup);
        fprintf(f, "\n[updates]\nenabled = %s\n", enabled ? "true" : "false");
        if (enabled)
                fprintf(f, "strategy = \"fleet_lock\"\n\n[updates.fleet_lock]\nbase_url = %s\n", qurl);
        return memstream_finish(&f, &buf, ret);
}

/* ---- FleetLock ---- */

bool updates_fleetlock_group_valid(const char *group) {
        return !isempty(group) && strlen(group) <= 255 && all_of(group, ALNUM ".-");
}

bool updates_fleetlock_id_valid(const char *id) {
        size_t n;

        if (isempty(id) || (n = strlen(id)) > 256)
                return false;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) id[i] < 0x20 || id[i] == 0x7f)
                        return false;
        return true;
}

static int dump_json(json_t *v, char **ret) {
        char *s;

        if (!v)
                return -ENOMEM;
        s = json_dumps(v, JSON_COMPACT);
        json_decref(v);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int updates_fleetlock_request_body(const char *id, const char *group, char **ret) {
        if (!ret || !updates_fleetlock_id_valid(id) || !updates_fleetlock_group_valid(group))
                return -EINVAL;
        /* jansson keeps the insertion order: client_params, id, group, as Zincati sends them */
        return dump_json(json_pack("{s:{s:s,s:s}}", "client_params", "id", id, "group", group), ret);
}

#define FLEETLOCK_BODY_MAX (64 * 1024)

int updates_fleetlock_parse_request(const char *body, size_t n, char **ret_id, char **ret_group,
                                    char **ret_error) {
        _cleanup_json_ json_t *root = NULL;
        _cleanup_free_ char *id = NULL, *group = NULL;
        json_error_t jerr;
        json_t *params, *v;

        if (!body || !ret_id || !ret_group)
                return -EINVAL;
        if (n > FLEETLOCK_BODY_MAX)
                return fail(ret_error, -EINVAL, "body larger than %d bytes", FLEETLOCK_BODY_MAX);
        root = json_loadb(body, n, JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
                return fail(ret_error, -EINVAL, "body is not JSON: %s", jerr.text);
        if (!json_is_object(root))
                return fail(ret_error, -EINVAL, "body: expected an object, got %s", json_type_name(root));

        params = json_object_get(root, "client_params");
        if (!params)
                return fail(ret_error, -EINVAL, "client_params: is required");
        if (!json_is_object(params))
                return fail(ret_error, -EINVAL, "client_params: expected an object, got %s",
                            json_type_name(params));

        v = json_object_get(params, "id");
        if (!v)
                return fail(ret_error, -EINVAL, "client_params.id: is required");
        if (!json_is_string(v) || !updates_fleetlock_id_valid(json_string_value(v)))
                return fail(ret_error, -EINVAL,
                            "client_params.id: expected a non-empty string of at most 256 bytes without control "
                            "characters");
        id = strdup(json_string_value(v));
        if (!id)
                return -ENOMEM;

        v = json_object_get(params, "group");
        if (!v)
                return fail(ret_error, -EINVAL, "client_params.group: is required");
        if (!json_is_string(v) || !updates_fleetlock_group_valid(json_string_value(v)))
                return fail(ret_error, -EINVAL,
                            "client_params.group: expected a string matching ^[a-zA-Z0-9.-]+$");
        group = strdup(json_string_value(v));
        if (!group)
                return -ENOMEM;
        *ret_id = TAKE_PTR(id);
        *ret_group = TAKE_PTR(group);
        return 0;
}

int updates_fleetlock_error_body(const char *kind, const char *value, char **ret) {
        if (!ret || isempty(kind) || strlen(kind) > 64 || !all_of(kind, ALNUM "_") || !value)
                return -EINVAL;
        /* json_pack() refuses a value that is not UTF-8 */
        json_t *v = json_pack("{s:s,s:s}", "kind", kind, "value", value);
        return v ? dump_json(v, ret) : -EINVAL;
}

/* SHA-256 (FIPS 180-4) and HMAC (RFC 2104): the few lines the app-specific ID needs, rather than declaring a
 * dependency on libcrypto for them. */

typedef struct Sha256 {
        uint32_t h[8];
        uint64_t length;
        uint8_t block[64];
        size_t used;
} Sha256;

static const uint32_t sha256_k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t ror32(uint32_t x, unsigned n) {
        return (x >> n) | (x << (32 - n));
}

static void sha256_compress(Sha256 *s, const uint8_t *p) {
        uint32_t w[64], a, b, c, d, e, f, g, h;

        for (size_t i = 0; i < 16; i++)
                w[i] = (uint32_t) p[4 * i] << 24 | (uint32_t) p[4 * i + 1] << 16 | (uint32_t) p[4 * i + 2] << 8 |
                       p[4 * i + 3];
        for (size_t i = 16; i < 64; i++) {
                uint32_t s0 = ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^ (w[i - 15] >> 3);
                uint32_t s1 = ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^ (w[i - 2] >> 10);
                w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }

        a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
        for (size_t i = 0; i < 64; i++) {
                uint32_t t1 = h + (ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25)) + ((e & f) ^ (~e & g)) +
                              sha256_k[i] + w[i];
                uint32_t t2 = (ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
                h = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
        }
        s->h[0] += a, s->h[1] += b, s->h[2] += c, s->h[3] += d;
        s->h[4] += e, s->h[5] += f, s->h[6] += g, s->h[7] += h;
}

static void sha256_init(Sha256 *s) {
        *s = (Sha256) { .h = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c,
                               0x1f83d9ab, 0x5be0cd19 } };
}

static void sha256_update(Sha256 *s, const void *data, size_t n) {
        const uint8_t *p = data;

        s->length += n;
        while (n > 0) {
                size_t k = MIN(n, sizeof(s->block) - s->used);
                memcpy(s->block + s->used, p, k);
                s->used += k, p += k, n -= k;
                if (s->used == sizeof(s->block)) {
                        sha256_compress(s, s->block);
                        s->used = 0;
                }
        }
}

static void sha256_final(Sha256 *s, uint8_t ret[static 32]) {
        uint64_t bits = s->length * 8;
        uint8_t pad[72] = { 0x80 };
        size_t k = (s->used < 56 ? 56 : 120) - s->used;

        for (size_t i = 0; i < 8; i++)
                pad[k + i] = (uint8_t) (bits >> (56 - 8 * i));
        sha256_update(s, pad, k + 8);
        for (size_t i = 0; i < 8; i++)
                for (size_t j = 0; j < 4; j++)
                        ret[4 * i + j] = (uint8_t) (s->h[i] >> (24 - 8 * j));
}

void updates_sha256(const void *data, size_t n, uint8_t ret[static 32]) {
        Sha256 s;

        sha256_init(&s);
        sha256_update(&s, data, n);
        sha256_final(&s, ret);
}

void updates_hmac_sha256(const void *key, size_t key_size, const void *data, size_t n, uint8_t ret[static 32]) {
        uint8_t k[64] = {}, pad[64], inner[32];
        Sha256 s;

        if (key_size > sizeof(k))
                updates_sha256(key, key_size, k);
        else if (key_size > 0)
                memcpy(k, key, key_size);

        for (size_t i = 0; i < sizeof(pad); i++)
                pad[i] = k[i] ^ 0x36;
        sha256_init(&s);
        sha256_update(&s, pad, sizeof(pad));
        sha256_update(&s, data, n);
        sha256_final(&s, inner);

        for (size_t i = 0; i < sizeof(pad); i++)
                pad[i] = k[i] ^ 0x5c;
        sha256_init(&s);
        sha256_update(&s, pad, sizeof(pad));
        sha256_update(&s, inner, sizeof(inner));
        sha256_final(&s, ret);
}

static int unhex_id128(const char *s, uint8_t ret[static 16]) {
        if (!s || strlen(s) != 32 || !all_of(s, HEXDIGITS))
                return -EINVAL;
        for (size_t i = 0; i < 16; i++) {
                char byte[3] = { s[2 * i], s[2 * i + 1], 0 };
                ret[i] = (uint8_t) strtoul(byte, NULL, 16);
        }
        return 0;
}

int updates_zincati_node_id(const char *machine_id, char ret[static 33]) {
        uint8_t machine[16], app[16], mac[32];
        static const uint8_t zero[16] = {};

        if (unhex_id128(machine_id, machine) < 0 || memcmp(machine, zero, sizeof(zero)) == 0)
                return -EINVAL;
        if (unhex_id128(UPDATES_ZINCATI_APP_ID, app) < 0)
                return -EINVAL;

        /* as systemd: HMAC-SHA256 keyed with the machine ID over the app ID, first half, made a v4 UUID */
        updates_hmac_sha256(machine, sizeof(machine), app, sizeof(app), mac);
        mac[6] = (mac[6] & 0x0F) | 0x40;
        mac[8] = (mac[8] & 0x3F) | 0x80;
        for (size_t i = 0; i < 16; i++)
                snprintf(ret + 2 * i, 3, "%02x", mac[i]);
        return 0;
}

/* ---- the reboot flow ---- */

static const char *const reboot_state_names[_REBOOT_STATE_MAX] = {
        [REBOOT_STATE_IDLE] = "idle",
        [REBOOT_STATE_NEEDED] = "needed",
        [REBOOT_STATE_WAITING_WINDOW] = "waiting-window",
        [REBOOT_STATE_LOCKING] = "locking",
        [REBOOT_STATE_DRAINING] = "draining",
        [REBOOT_STATE_REBOOTING] = "rebooting",
        [REBOOT_STATE_POST_REBOOT_UNLOCK] = "post-reboot-unlock",
};

const char *updates_reboot_state_to_string(RebootState s) {
        return s >= 0 && s < _REBOOT_STATE_MAX ? reboot_state_names[s] : NULL;
}

RebootState updates_reboot_state_from_string(const char *s) {
        for (size_t i = 0; s && i < ELEMENTSOF(reboot_state_names); i++)
                if (streq(s, reboot_state_names[i]))
                        return (RebootState) i;
        return _REBOOT_STATE_INVALID;
}

void updates_reboot_flow_done(RebootFlow *f) {
        if (!f)
                return;
        free(f->version);
        *f = (RebootFlow) {};
}

static bool flow_version_valid(const char *v) {
        return !isempty(v) && strlen(v) <= 64 && all_of(v, ALNUM "._+-");
}

static bool boot_id_valid(const char *s) {
        return s && strlen(s) == 32 && all_of(s, "0123456789abcdef");
}

int updates_reboot_flow_to_json(const RebootFlow *f, char **ret) {
        json_t *v;

        if (!f || !ret || !updates_reboot_state_to_string(f->state) || f->since_usec > INT64_MAX ||
            (f->version && !flow_version_valid(f->version)) || (f->boot_id[0] && !boot_id_valid(f->boot_id)))
                return -EINVAL;
        v = json_pack("{s:s,s:o,s:I}", "state", updates_reboot_state_to_string(f->state), "version",
                      f->version ? json_string(f->version) : json_null(), "since_usec",
                      (json_int_t) f->since_usec);
        if (v && f->boot_id[0] && json_object_set_new(v, "boot_id", json_string(f->boot_id)) < 0) {
                json_decref(v);
                return -ENOMEM;
        }
        return dump_json(v, ret);
}

static int dispatch_flow_state(const char *path, json_t *v, void *target, JsonError *e) {
        RebootState s = updates_reboot_state_from_string(json_string_value(v));
        if (s < 0)
                return json_error_set(e, path, "expected one of \"idle\", \"needed\", \"waiting-window\", "
                                               "\"locking\", \"draining\", \"rebooting\", \"post-reboot-unlock\"");
        *(RebootState *) target = s;
        return 0;
}

static int dispatch_flow_version(const char *path, json_t *v, void *target, JsonError *e) {
        if (!json_is_string(v) || !flow_version_valid(json_string_value(v)))
                return json_error_set(e, path, "expected a version of letters, digits, '.', '_', '+', '-'");
        return json_dispatch_string(path, v, target, e);
}

static int dispatch_flow_boot_id(const char *path, json_t *v, void *target, JsonError *e) {
        if (!json_is_string(v) || !boot_id_valid(json_string_value(v)))
                return json_error_set(e, path, "expected 32 lowercase hex digits");
        memcpy(target, json_string_value(v), 33);
        return 0;
}

int updates_reboot_flow_from_json(const char *text, size_t n, RebootFlow *ret, char **ret_error) {
        static const JsonField table[] = {
                { "state", dispatch_flow_state, offsetof(RebootFlow, state), JSON_MANDATORY },
                { "version", dispatch_flow_version, offsetof(RebootFlow, version), JSON_NULLABLE },
                { "since_usec", json_dispatch_uint64, offsetof(RebootFlow, since_usec), JSON_MANDATORY },
                { "boot_id", dispatch_flow_boot_id, offsetof(RebootFlow, boot_id), 0 },
                {}
        };
        _cleanup_json_ json_t *root = NULL;
        RebootFlow f = {};
        json_error_t jerr;
        JsonError e = {};
        int r;

        if (!text || !ret)
                return -EINVAL;
        root = json_loadb(text, n, JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
                return fail(ret_error, -EINVAL, "%d:%d: %s", jerr.line, jerr.column, jerr.text);
        r = json_dispatch("", root, table, &f, &e);
        if (r < 0) {
                updates_reboot_flow_done(&f);
                if (r == -EINVAL && ret_error)
                        *ret_error = json_error_format(&e, NULL, NULL, 0);
                return r;
        }
        *ret = f;
        return 0;
}

RebootState updates_reboot_next(RebootState state, const RebootInputs *in) {
        RebootDecision start, now;
        bool uses_lock;

        if (!in)
                return REBOOT_STATE_POST_REBOOT_UNLOCK;
        updates_may_start(in, &start);
        updates_may_reboot(in, &now);
        uses_lock = in->strategy == UPDATES_STRATEGY_FLEET_LOCK;

        switch (state) {
        case REBOOT_STATE_IDLE:
                return in->reboot_needed ? REBOOT_STATE_NEEDED : REBOOT_STATE_IDLE;

        case REBOOT_STATE_NEEDED:
        case REBOOT_STATE_WAITING_WINDOW:
                if (!in->reboot_needed)
                        return REBOOT_STATE_IDLE;
                if (start.allow)
                        return uses_lock ? REBOOT_STATE_LOCKING : REBOOT_STATE_DRAINING;
                return streq(start.reason, "outside-window") ? REBOOT_STATE_WAITING_WINDOW : REBOOT_STATE_NEEDED;

        case REBOOT_STATE_LOCKING:
                /* a lock request may have been granted even if we never saw the answer: release */
                if (in->new_boot || !start.allow)
                        return REBOOT_STATE_POST_REBOOT_UNLOCK;
                return !uses_lock || in->lock_held ? REBOOT_STATE_DRAINING : REBOOT_STATE_LOCKING;

        case REBOOT_STATE_DRAINING:
                if (in->new_boot || !start.allow || (uses_lock && !in->lock_held))
                        return REBOOT_STATE_POST_REBOOT_UNLOCK;
                return now.allow ? REBOOT_STATE_REBOOTING : REBOOT_STATE_DRAINING;

        case REBOOT_STATE_REBOOTING:
                if (in->new_boot)
                        return REBOOT_STATE_POST_REBOOT_UNLOCK;
                /* once the reboot is on its way, releasing the lock would let another node go too early */
                if (in->reboot_started)
                        return REBOOT_STATE_REBOOTING;
                return now.allow ? REBOOT_STATE_REBOOTING : REBOOT_STATE_POST_REBOOT_UNLOCK;

        case REBOOT_STATE_POST_REBOOT_UNLOCK:
                return in->unlocked && !in->drained ? REBOOT_STATE_IDLE : REBOOT_STATE_POST_REBOOT_UNLOCK;

        default:
                return REBOOT_STATE_POST_REBOOT_UNLOCK;
        }
}
