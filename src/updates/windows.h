/* SPDX-License-Identifier: MIT */
#pragma once

#include <jansson.h>

/* Maintenance windows: whether a moment lies inside one, in a time zone. Pure but for the time zone database
 * (read through TZ and tzset()). */

#include <stddef.h>
#include <stdint.h>

#include <stdbool.h>

/* ---- maintenance windows ---- */

typedef struct MaintenanceWindow {
        unsigned days;          /* bit 0 = Sunday … bit 6 = Saturday */
        unsigned start_min;     /* minutes after midnight */
        unsigned length_min;
} MaintenanceWindow;

typedef enum UpdatesWindowState {
        UPDATES_WINDOW_UNKNOWN = 0, /* could not be computed: the zero value is the doubtful one */
        UPDATES_WINDOW_OUTSIDE,
        UPDATES_WINDOW_INSIDE,
        UPDATES_WINDOW_NONE,        /* no windows configured; what that means is the strategy's business */
} UpdatesWindowState;

/* Whether now_utc_sec (seconds since the epoch) lies inside one of the windows, in the time zone given ("UTC",
 * "localtime" for /etc/localtime, or a TZ database name such as "Europe/Berlin").
 *
 * Windows are wall-clock time in that zone: a window is inside when the local clock shows a weekday and time
 * it covers, as an operator reading the clock would judge (and as Zincati's periodic strategy does). So DST
 * can shorten a window (Sun 02:30 + 60 min on a spring-forward day is open 03:00–03:30 only), skip one
 * (Sun 02:30 + 20 min that day), or open it twice (Sun 02:30 + 20 min on the fall-back day). Windows may cross
 * midnight and the week's end; length 10080 means always.
 *
 * Returns UPDATES_WINDOW_INSIDE, _OUTSIDE or _NONE (n == 0), or a negative errno: -EINVAL for an invalid window
 * or a malformed zone name, -ENOENT for a zone the TZ database does not have (glibc would silently use UTC
 * instead, so it is checked first), -ERANGE for a time out of range. The zone is checked even when n == 0.
 * Optional outputs, 0 when there is none within 15 days: *ret_next_start, the next moment after now when a
 * window opens (from outside); *ret_end, when the window we are inside closes.
 *
 * Sets TZ and calls tzset() for the computation and restores both before returning: not thread-safe, which a
 * single-threaded daemon can afford. Transitions of the zone's UTC offset are searched for every 6 hours, so
 * two transitions less than 6 hours apart (real zones have none) would be missed. */
int updates_in_window(const MaintenanceWindow *w, size_t n, int64_t now_utc_sec, const char *time_zone,
                      int64_t *ret_next_start, int64_t *ret_end);

/* A TZ database name as ballast.json may give it ("UTC", "localtime", "Europe/Berlin"): 1 to 64 of letters,
 * digits, '/', '_', '+', '-', with no empty path component ("a//b", "/a", "a/"). The one rule for the
 * configuration and for the window computation (updates_in_window()), so that a zone the one accepts the
 * other never refuses. */
bool updates_time_zone_valid(const char *s);

/* Weekday names, "Mon" or "Monday" (C locale), to 0 = Sunday … 6 = Saturday. */
int updates_parse_weekday(const char *s);
/* "HH:MM" to minutes after midnight. */
int updates_parse_clock_minutes(const char *s, unsigned *ret);

/* A window object as JSON with Zincati's key names (start_time, length_minutes; [[updates.periodic.window]])
 * renamed to ballast's (start, length_min), in a new reference; an object that gives both a name and its alias
 * is refused, *ret_key naming the alias. Anything else (not an object, other keys) is left for the caller to
 * judge. */
int updates_window_aliases(json_t *item, json_t **ret, const char **ret_key);
