/* SPDX-License-Identifier: MIT */
/* The updater's persisted state, state_dir/updates.json: what an operator set over Varlink (pause, channel, maintenance
 * windows, time zone, approved version), the FleetLock lock and release records, and the reboot flow, written
 * atomically at every change and read back at start (an unreadable or newer file is reported, and the flow
 * goes to unlocking, which is always safe). Also the maintenance windows to and from their JSON, as ballast.json
 * writes them. No loop, no source: updater.c calls these. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-id128.h>
#include <time.h>
#include <unistd.h>

#include "shared/fileio.h"
#include "shared/json-util.h"
#include "shared/log.h"
#include "shared/time-util.h"
#include "updates/updater-internal.h"

/* ---- helpers ---- */

static const char *const weekday_names[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };

json_t *updater_windows_json(const MaintenanceWindow *w, size_t n) {
        json_t *a = json_array();

        for (size_t i = 0; a && i < n; i++) {
                json_t *days = json_array();
                char start[8];

                for (unsigned d = 0; d < 7; d++)
                        if (w[i].days & (1U << d))
                                json_array_append_new(days, json_string(weekday_names[d]));
                snprintf(start, sizeof(start), "%02u:%02u", w[i].start_min / 60 % 100, w[i].start_min % 60);
                json_array_append_new(a, json_pack("{s:o,s:s,s:i}", "days", days, "start", start, "length_min",
                                                   (int) w[i].length_min));
        }
        return a;
}

/* Parses [{days, start, length_min}] as ballast.json does; *ret_error names the field. */
int updater_windows_from_json(json_t *v, MaintenanceWindow **ret, size_t *ret_n, char **ret_error) {
        _cleanup_free_ MaintenanceWindow *w = NULL;
        size_t i, n;
        json_t *item;

        if (!json_is_array(v) || json_array_size(v) > MAX_WINDOWS)
                return asprintf(ret_error, "windows: expected an array of at most %d windows", MAX_WINDOWS) < 0
                               ? -ENOMEM : -EINVAL;
        n = json_array_size(v);
        w = calloc(n + 1, sizeof(MaintenanceWindow));
        if (!w)
                return -ENOMEM;
        json_array_foreach(v, i, item) {
                _cleanup_json_ json_t *it = NULL;
                json_t *days, *start, *len, *d, *val;
                const char *key = NULL;
                size_t k;
                int r;

                /* Zincati's names (start_time, length_minutes) are ballast's too */
                r = updates_window_aliases(item, &it, &key);
                if (r == -EEXIST)
                        return asprintf(ret_error, "windows[%zu].%s: give either it or its other name, not both", i,
                                        key) < 0 ? -ENOMEM : -EINVAL;
                if (r < 0)
                        return r;
                item = it;
                days = json_object_get(item, "days");
                start = json_object_get(item, "start");
                len = json_object_get(item, "length_min");
                if (!json_is_object(item))
                        return asprintf(ret_error, "windows[%zu]: expected an object", i) < 0 ? -ENOMEM : -EINVAL;
                json_object_foreach(item, key, val)
                        if (!streq(key, "days") && !streq(key, "start") && !streq(key, "length_min"))
                                return asprintf(ret_error, "windows[%zu].%s: unknown key", i, key) < 0 ? -ENOMEM
                                                                                                     : -EINVAL;
                if (!json_is_array(days) || json_array_size(days) == 0)
                        return asprintf(ret_error, "windows[%zu].days: expected a non-empty array of weekdays", i) < 0
                                       ? -ENOMEM : -EINVAL;
                json_array_foreach(days, k, d) {
                        int wd = json_is_string(d) ? updates_parse_weekday(json_string_value(d)) : -EINVAL;
                        if (wd < 0)
                                return asprintf(ret_error,
                                                "windows[%zu].days[%zu]: expected a weekday such as \"Sat\" or \"Saturday\"",
                                                i, k) < 0 ? -ENOMEM : -EINVAL;
                        w[i].days |= 1U << wd;
                }
                if (!json_is_string(start) || updates_parse_clock_minutes(json_string_value(start), &w[i].start_min) < 0)
                        return asprintf(ret_error, "windows[%zu].start: expected a time of day \"HH:MM\"", i) < 0
                                       ? -ENOMEM : -EINVAL;
                if (!json_is_integer(len) || json_integer_value(len) < 1 || json_integer_value(len) > 7 * 24 * 60)
                        return asprintf(ret_error, "windows[%zu].length_min: expected minutes, 1 to 10080", i) < 0
                                       ? -ENOMEM : -EINVAL;
                w[i].length_min = (unsigned) json_integer_value(len);
        }
        *ret = TAKE_PTR(w);
        *ret_n = n;
        return 0;
}

/* ---- persisted state: state_dir/updates.json ---- */
/* "version" 1 since the first release (absent reads as 1); a newer one is reported and left as it is */
#define UPDATES_STATE_FORMAT 2 /* 2: the lock's server recorded ("lock", "release") */

int updater_save(Updater *u) {
        _cleanup_free_ char *flow = NULL, *text = NULL;
        json_t *j, *fj;
        int r;

        r = updates_reboot_flow_to_json(&u->flow, &flow);
        if (r < 0)
                return r;
        fj = json_loads(flow, 0, NULL);
        j = json_pack("{s:i,s:o,s:o,s:b,s:s?,s:o,s:s?,s:s?,s:o}",
                      "version", UPDATES_STATE_FORMAT,
                      "lock", lock_record_to_json(&u->lock_rec),
                      "release", lock_record_to_json(&u->release_rec),
                      "paused", u->paused,
                      "channel", u->pin_channel,
                      "windows", u->windows_set ? updater_windows_json(u->set_windows, u->n_set_windows) : json_null(),
                      "time_zone", u->set_time_zone,
                      "approved_version", u->approved_version,
                      "flow", fj ?: json_null());
        if (!j)
                return -ENOMEM;
        text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
        json_decref(j);
        if (!text)
                return -ENOMEM;
        r = mkdir_parents(u->state_path, 0755);
        if (r >= 0)
                r = write_file_atomic(u->state_path, text, strlen(text), 0600); /* state: root only */
        if (r < 0)
                return log_warning_errno(r, "Failed to write %s: %m", u->state_path);
        u->state_write_error = mfree(u->state_write_error);
        return 0;
}

int updater_load(Updater *u) {
        _cleanup_free_ char *text = NULL, *error = NULL, *flow_text = NULL;
        json_t *j, *v;
        json_error_t je;
        bool v1;
        size_t n;
        int r;

        r = read_full_file(u->state_path, 1024 * 1024, &text, &n);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return asprintf(&u->state_error, "%s: %s", u->state_path, strerror(-r)) < 0 ? -ENOMEM : r;
        j = json_loadb(text, n, JSON_REJECT_DUPLICATES, &je);
        if (!json_is_object(j)) {
                json_decref(j);
                return asprintf(&u->state_error, "%s:%d:%d: %s", u->state_path, je.line, je.column, je.text) < 0
                               ? -ENOMEM : -EINVAL;
        }
        v = json_object_get(j, "version");
        if (v && (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > UPDATES_STATE_FORMAT)) {
                r = -EPROTONOSUPPORT;
                error = strdupf("version: not a state format this ballastd reads (1 to %d)", UPDATES_STATE_FORMAT);
                goto bad;
        }
        /* version 1 did not record the lock: one it held was taken at the configured server */
        v1 = !json_is_integer(v) || json_integer_value(v) < 2;
        if (!v1 && (lock_record_from_json(json_object_get(j, "lock"), &u->lock_rec) < 0 ||
                    lock_record_from_json(json_object_get(j, "release"), &u->release_rec) < 0)) {
                r = -EINVAL;
                error = strdup("lock, release: expected null or {\"url\": string, \"group\": string, \"id\": string}");
                goto bad;
        }
        u->paused = json_is_true(json_object_get(j, "paused"));
        v = json_object_get(j, "channel");
        if (json_is_string(v) && channel_valid(json_string_value(v)))
                (void) set_string(&u->pin_channel, json_string_value(v));
        v = json_object_get(j, "windows");
        if (json_is_array(v)) {
                r = updater_windows_from_json(v, &u->set_windows, &u->n_set_windows, &error);
                if (r < 0)
                        goto bad;
                u->windows_set = true;
        }
        v = json_object_get(j, "time_zone");
        if (json_is_string(v) && time_zone_syntax_valid(json_string_value(v)))
                (void) set_string(&u->set_time_zone, json_string_value(v));
        v = json_object_get(j, "approved_version");
        if (json_is_string(v))
                (void) set_string(&u->approved_version, json_string_value(v));
        v = json_object_get(j, "flow");
        if (json_is_object(v)) {
                flow_text = json_dumps(v, JSON_COMPACT);
                if (!flow_text) {
                        r = -ENOMEM;
                        goto bad;
                }
                updates_reboot_flow_done(&u->flow);
                r = updates_reboot_flow_from_json(flow_text, strlen(flow_text), &u->flow, &error);
                if (r < 0)
                        goto bad;
        }
        /* a flow of a version-1 file that may hold a lock holds it at the configured server */
        u->lock_rec_legacy = v1 && (u->flow.state == REBOOT_STATE_LOCKING || u->flow.state == REBOOT_STATE_DRAINING ||
                                    u->flow.state == REBOOT_STATE_REBOOTING ||
                                    u->flow.state == REBOOT_STATE_POST_REBOOT_UNLOCK);
        json_decref(j);
        return 0;
bad:
        json_decref(j);
        u->state_error = strdupf("%s: %s", u->state_path, error ?: strerror(-r));
        /* releasing is always safe */
        u->flow.state = REBOOT_STATE_POST_REBOOT_UNLOCK;
        return r;
}
