/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "shared/fileio.h"
#include "shared/json-util.h"
#include "shared/log.h"
#include "shared/time-util.h"
#include "updater.h"
#include "updates.h"

#define UE_SERVICE "com.coreos.update1"
#define UE_PATH "/com/coreos/update1"
#define UE_INTERFACE "com.coreos.update1.Manager"
#define UE_NEED_REBOOT "UPDATE_STATUS_UPDATED_NEED_REBOOT"
#define BUS_RETRY_USEC (10 * USEC_PER_SEC)
#define WINDOW_RECHECK_USEC (30 * USEC_PER_SEC)
#define MAX_WINDOWS 64

struct Updater {
        sd_event *event;
        char *root;
        char *state_path;   /* state_dir/updates.json */

        /* from ballast.json */
        bool managed;
        char *channel, *max_version, *fleet_lock_url, *fleet_lock_group, *time_zone;
        UpdatesStrategy strategy;
        MaintenanceWindow *windows;
        size_t n_windows;

        /* the operator's changes, persisted; NULL / false: the configuration's */
        bool paused;
        char *pin_channel;
        bool windows_set;
        MaintenanceWindow *set_windows;
        size_t n_set_windows;
        char *set_time_zone;
        char *approved_version;
        char *state_error;  /* updates.json could not be read: fail closed */

        /* the OS and the owned file */
        OsInfo os;
        char *os_error;
        char *file_path;    /* under root */
        char *file_error;

        /* update_engine (Flatcar, Container Linux) */
        sd_bus *bus;
        sd_bus_slot *ue_match, *ue_owner_match, *ue_call, *disconnect_match;
        sd_event_source *bus_retry;
        bool ue_known;
        char *ue_operation, *ue_new_version, *ue_error;
        double ue_progress;
        int64_t ue_last_checked;

        bool reboot_needed;
        char *new_version;

        RebootFlow flow;
        sd_event_source *window_timer;
};

/* ---- helpers ---- */

_printf_(1, 2) static char *strdupf(const char *format, ...) {
        va_list ap;
        char *s;
        int r;

        va_start(ap, format);
        r = vasprintf(&s, format, ap);
        va_end(ap);
        return r < 0 ? strdup("out of memory") : s;
}

static const char *const weekday_names[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };

static bool channel_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;
        return n > 0 && n <= 64 && s[0] != '-' && s[0] != '.' &&
               strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static bool time_zone_syntax_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;
        return n > 0 && n <= 64 && !strstr(s, "..") && s[0] != '/' &&
               strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_+-") == n;
}

static int set_string(char **p, const char *v) {
        char *c = NULL;
        if (v && !(c = strdup(v)))
                return -ENOMEM;
        free(*p);
        *p = c;
        return 0;
}

static const char *effective_channel(Updater *u) {
        return u->pin_channel ?: u->channel;
}

static const char *effective_time_zone(Updater *u) {
        return u->windows_set && u->set_time_zone ? u->set_time_zone : u->time_zone;
}

static void effective_windows(Updater *u, const MaintenanceWindow **ret, size_t *ret_n) {
        *ret = u->windows_set ? u->set_windows : u->windows;
        *ret_n = u->windows_set ? u->n_set_windows : u->n_windows;
}

static bool os_managed_kind(OsKind k) {
        return k == OS_FLATCAR || k == OS_CONTAINER_LINUX || k == OS_FEDORA_COREOS;
}

static bool updater_is_managed(Updater *u) {
        return u->managed && !u->os_error && os_managed_kind(u->os.kind);
}

static bool clock_known(Updater *u) {
        _cleanup_free_ char *p = path_join_root(u->root, "/run/systemd/timesync/synchronized");

        /* systemd-timesyncd's flag file (CoreOS hosts run timesyncd or chrony; with chrony the clock counts as
         * unknown for now: no reboot, reason clock-unknown). adjtimex() would tell for every NTP daemon, but
         * ballastd.service's system call filter refuses @clock. */
        return p && access(p, F_OK) == 0;
}

static void read_boot_id(char ret[static 33]) {
        _cleanup_free_ char *text = NULL;
        size_t k = 0;

        ret[0] = 0;
        if (read_full_file("/proc/sys/kernel/random/boot_id", 128, &text, NULL) < 0)
                return;
        for (const char *c = text; *c && k < 32; c++)
                if (strchr("0123456789abcdef", *c))
                        ret[k++] = *c;
        ret[k == 32 ? 32 : 0] = 0;
}

static json_t *windows_json(const MaintenanceWindow *w, size_t n) {
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
static int windows_from_json(json_t *v, MaintenanceWindow **ret, size_t *ret_n, char **ret_error) {
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
                json_t *days = json_object_get(item, "days"), *start = json_object_get(item, "start"),
                       *len = json_object_get(item, "length_min"), *d;
                const char *key;
                json_t *val;
                size_t k;

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
                        int wd = json_is_string(d) ? parse_weekday(json_string_value(d)) : -EINVAL;
                        if (wd < 0)
                                return asprintf(ret_error,
                                                "windows[%zu].days[%zu]: expected a weekday such as \"Sat\" or \"Saturday\"",
                                                i, k) < 0 ? -ENOMEM : -EINVAL;
                        w[i].days |= 1U << wd;
                }
                if (!json_is_string(start) || parse_clock_minutes(json_string_value(start), &w[i].start_min) < 0)
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

static int updater_save(Updater *u) {
        _cleanup_free_ char *flow = NULL, *text = NULL;
        json_t *j, *fj;
        int r;

        r = updates_reboot_flow_to_json(&u->flow, &flow);
        if (r < 0)
                return r;
        fj = json_loads(flow, 0, NULL);
        j = json_pack("{s:i,s:b,s:s?,s:o,s:s?,s:s?,s:o}",
                      "version", 1,
                      "paused", u->paused,
                      "channel", u->pin_channel,
                      "windows", u->windows_set ? windows_json(u->set_windows, u->n_set_windows) : json_null(),
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
                r = write_file_atomic(u->state_path, text, strlen(text), 0644);
        if (r < 0)
                log_warning_errno(r, "Failed to write %s: %m", u->state_path);
        return r;
}

static int updater_load(Updater *u) {
        _cleanup_free_ char *text = NULL, *error = NULL, *flow_text = NULL;
        json_t *j, *v;
        json_error_t je;
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
        u->paused = json_is_true(json_object_get(j, "paused"));
        v = json_object_get(j, "channel");
        if (json_is_string(v) && channel_valid(json_string_value(v)))
                (void) set_string(&u->pin_channel, json_string_value(v));
        v = json_object_get(j, "windows");
        if (json_is_array(v)) {
                r = windows_from_json(v, &u->set_windows, &u->n_set_windows, &error);
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
        json_decref(j);
        return 0;
bad:
        json_decref(j);
        u->state_error = strdupf("%s: %s", u->state_path, error ?: strerror(-r));
        /* releasing is always safe */
        u->flow.state = REBOOT_STATE_POST_REBOOT_UNLOCK;
        return r;
}

/* ---- the OS and the owned file ---- */

static void updater_detect_os(Updater *u) {
        _cleanup_free_ char *text = NULL, *error = NULL, *p = path_join_root(u->root, "/etc/os-release");
        int r;

        updates_os_info_done(&u->os);
        u->os_error = mfree(u->os_error);
        if (!p)
                return;
        r = read_full_file(p, 64 * 1024, &text, NULL);
        if (r == -ENOENT) {
                free(p);
                p = path_join_root(u->root, "/usr/lib/os-release");
                r = p ? read_full_file(p, 64 * 1024, &text, NULL) : -ENOMEM;
        }
        if (r < 0) {
                u->os_error = strdupf("os-release: %s", strerror(-r));
                return;
        }
        r = updates_detect_os(text, &u->os, &error);
        if (r < 0)
                u->os_error = strdupf("%s: %s", p, error ?: strerror(-r));
}

/* Renders the owned file for this channel; *ret_text NULL when it is as it should be. */
static int updater_render(Updater *u, const char *channel, char **ret_path, char **ret_text, char **ret_error) {
        _cleanup_free_ char *path = NULL, *old = NULL, *text = NULL;
        bool changed = false;
        int r;

        if (u->os.kind == OS_FEDORA_COREOS) {
                path = path_join_root(u->root, UPDATES_ZINCATI_DROPIN);
                if (!path)
                        return -ENOMEM;
                r = updates_render_zincati_dropin(channel, true, UPDATER_FLEETLOCK_BASE_URL, u->fleet_lock_group,
                                                  &text);
                if (r < 0)
                        return asprintf(ret_error, "cannot render %s for stream \"%s\" and group \"%s\"",
                                        UPDATES_ZINCATI_DROPIN, strna(channel), strna(u->fleet_lock_group)) < 0
                                       ? -ENOMEM : r;
                r = read_full_file(path, 1024 * 1024, &old, NULL);
                if (r < 0 && r != -ENOENT)
                        return asprintf(ret_error, "%s: %s", path, strerror(-r)) < 0 ? -ENOMEM : r;
                changed = !old || !streq(old, text);
        } else {
                _cleanup_free_ char *error = NULL;

                r = updates_update_conf_path(u->root, &path);
                if (r < 0)
                        return asprintf(ret_error, "cannot find where update.conf goes: %s", strerror(-r)) < 0
                                       ? -ENOMEM : r;
                r = read_full_file(path, 1024 * 1024, &old, NULL);
                if (r < 0 && r != -ENOENT)
                        return asprintf(ret_error, "%s: %s", path, strerror(-r)) < 0 ? -ENOMEM : r;
                r = updates_render_update_conf(old, channel, NULL, &text, &changed, &error);
                if (r < 0)
                        return asprintf(ret_error, "%s: %s", path, error ?: strerror(-r)) < 0 ? -ENOMEM : r;
        }
        *ret_path = TAKE_PTR(path);
        *ret_text = changed ? TAKE_PTR(text) : NULL;
        return 0;
}

static int updater_write_file(Updater *u) {
        _cleanup_free_ char *path = NULL, *text = NULL, *error = NULL;
        int r;

        u->file_error = mfree(u->file_error);
        if (!updater_is_managed(u))
                return 0;
        r = updater_render(u, effective_channel(u), &path, &text, &error);
        if (r >= 0 && text) {
                r = mkdir_parents(path, 0755);
                if (r >= 0)
                        r = write_file_atomic(path, text, strlen(text), 0644);
                if (r < 0)
                        error = strdupf("cannot write %s: %s", path, strerror(-r));
                else
                        log_event(LOG_INFO, 0, "updates-file-written", NULL, NULL, "Wrote %s (channel %s).", path,
                                  strna(effective_channel(u)));
        }
        free(u->file_path);
        u->file_path = TAKE_PTR(path);
        if (r < 0) {
                u->file_error = error ? TAKE_PTR(error) : strdup(strerror(-r));
                log_event(LOG_ERR, r, "updates-file-error", NULL, BALLAST_MESSAGE_ERROR,
                          "Not rebooting for updates: %s", strna(u->file_error));
        }
        return r;
}

/* ---- the gate and the flow ---- */

typedef struct GateView {
        RebootInputs in;
        int window_r;
        int64_t next_start, end;
} GateView;

static void updater_inputs(Updater *u, GateView *g) {
        const MaintenanceWindow *w;
        size_t n;
        char boot_id[33];

        *g = (GateView) {};
        effective_windows(u, &w, &n);
        g->window_r = updates_in_window(w, n, (int64_t) (now_usec(CLOCK_REALTIME) / USEC_PER_SEC),
                                        effective_time_zone(u), &g->next_start, &g->end);
        read_boot_id(boot_id);
        g->in = (RebootInputs) {
                .reboot_needed = u->reboot_needed,
                .window = g->window_r < 0 ? UPDATES_WINDOW_UNKNOWN : (UpdatesWindowState) g->window_r,
                .lock_held = false,  /* the FleetLock client is not there yet: never held */
                .drained = false,
                .paused = u->paused,
                .clock_known = clock_known(u),
                .config_error = !updater_is_managed(u) || u->file_error || u->state_error,
                .strategy = u->strategy,
                .max_version = u->max_version,
                .new_version = u->new_version,
                .new_boot = u->flow.boot_id[0] && boot_id[0] && !streq(u->flow.boot_id, boot_id),
                .reboot_started = false,
                .unlocked = true,    /* no lock was ever taken */
        };
        /* an operator's approval of exactly this version lifts max_version for it */
        if (u->approved_version && u->new_version && streq(u->approved_version, u->new_version))
                g->in.max_version = NULL;
}

static void updater_step(Updater *u) {
        GateView g;
        RebootState s;

        updater_inputs(u, &g);
        s = u->flow.state;
        for (unsigned i = 0; i < 8; i++) {
                RebootState next = updates_reboot_next(s, &g.in);
                if (next == s)
                        break;
                s = next;
        }
        if (s == u->flow.state)
                return;
        log_event(LOG_INFO, 0, "reboot-flow", NULL, NULL, "Reboot flow: %s → %s%s%s.",
                  updates_reboot_state_to_string(u->flow.state), updates_reboot_state_to_string(s),
                  u->new_version ? ", version " : "", u->new_version ?: "");
        u->flow.state = s;
        u->flow.since_usec = now_usec(CLOCK_REALTIME);
        read_boot_id(u->flow.boot_id);
        (void) set_string(&u->flow.version, s == REBOOT_STATE_IDLE ? NULL : u->new_version);
        (void) updater_save(u);
}

static int on_window_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Updater *u = userdata;

        updater_step(u);
        (void) sd_event_source_set_time_relative(s, WINDOW_RECHECK_USEC);
        return 0;
}

/* ---- update_engine over D-Bus ---- */

static void updater_bus_drop(Updater *u) {
        u->ue_match = sd_bus_slot_unref(u->ue_match);
        u->ue_owner_match = sd_bus_slot_unref(u->ue_owner_match);
        u->ue_call = sd_bus_slot_unref(u->ue_call);
        u->disconnect_match = sd_bus_slot_unref(u->disconnect_match);
        u->bus = sd_bus_flush_close_unref(u->bus);
}

static void updater_bus_retry(Updater *u) {
        (void) sd_event_source_set_time_relative(u->bus_retry, BUS_RETRY_USEC);
        (void) sd_event_source_set_enabled(u->bus_retry, SD_EVENT_ONESHOT);
}

static int updater_take_status(Updater *u, sd_bus_message *m) {
        int64_t last_checked, new_size;
        double progress;
        const char *op, *version;
        bool need;
        int r;

        r = sd_bus_message_read(m, "xdssx", &last_checked, &progress, &op, &version, &new_size);
        if (r < 0)
                return log_warning_errno(r, "update_engine sent a status ballast does not understand: %m");
        need = streq(op, UE_NEED_REBOOT);
        if (!u->ue_operation || !streq(u->ue_operation, op) || need != u->reboot_needed)
                log_event(LOG_INFO, 0, "update-engine-status", NULL, NULL, "update_engine: %s%s%s.", op,
                          *version ? ", new version " : "", version);
        u->ue_known = true;
        u->ue_last_checked = last_checked;
        u->ue_progress = progress;
        (void) set_string(&u->ue_operation, op);
        (void) set_string(&u->ue_new_version, *version ? version : NULL);
        u->ue_error = mfree(u->ue_error);
        u->reboot_needed = need;
        (void) set_string(&u->new_version, need && *version ? version : NULL);
        updater_step(u);
        return 0;
}

static int on_ue_status_signal(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        (void) updater_take_status(userdata, m);
        return 0;
}

static int on_ue_get_status(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Updater *u = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        u->ue_call = sd_bus_slot_unref(u->ue_call);
        if (e) {
                /* not there (yet): NameOwnerChanged tells when it comes */
                (void) set_string(&u->ue_error, e->message ?: e->name);
                u->ue_known = false;
                log_debug("update_engine GetStatus failed: %s", strna(e->message));
                return 0;
        }
        (void) updater_take_status(u, m);
        return 0;
}

static void updater_get_status(Updater *u) {
        int r;

        if (!u->bus || u->ue_call)
                return;
        r = sd_bus_call_method_async(u->bus, &u->ue_call, UE_SERVICE, UE_PATH, UE_INTERFACE, "GetStatus",
                                     on_ue_get_status, u, NULL);
        if (r < 0)
                log_warning_errno(r, "Failed to ask update_engine for its status: %m");
}

static int on_ue_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Updater *u = userdata;
        const char *name, *old_owner, *new_owner;

        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0 || !streq(name, UE_SERVICE))
                return 0;
        if (*new_owner)
                updater_get_status(u);
        else {
                u->ue_known = false;
                (void) set_string(&u->ue_error, "update_engine left the bus");
        }
        return 0;
}

static int on_bus_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Updater *u = userdata;

        log_notice("System bus gone, watching update_engine again when it is back.");
        updater_bus_drop(u);
        u->ue_known = false;
        (void) set_string(&u->ue_error, "the system bus is gone");
        updater_bus_retry(u);
        return 0;
}

static int updater_bus_connect(Updater *u) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        r = sd_bus_open_system_with_description(&bus, "ballastd-updates");
        if (r < 0)
                return r;
        r = sd_bus_attach_event(bus, u->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return r;
        r = sd_bus_match_signal_async(bus, &u->disconnect_match, "org.freedesktop.DBus.Local", NULL,
                                      "org.freedesktop.DBus.Local", "Disconnected", on_bus_disconnected, NULL, u);
        if (r >= 0)
                r = sd_bus_match_signal_async(bus, &u->ue_match, NULL, UE_PATH, UE_INTERFACE, "StatusUpdate",
                                              on_ue_status_signal, NULL, u);
        if (r >= 0)
                r = sd_bus_match_signal_async(bus, &u->ue_owner_match, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                              "org.freedesktop.DBus", "NameOwnerChanged", on_ue_owner_changed, NULL, u);
        if (r < 0) {
                u->disconnect_match = sd_bus_slot_unref(u->disconnect_match);
                u->ue_match = sd_bus_slot_unref(u->ue_match);
                u->ue_owner_match = sd_bus_slot_unref(u->ue_owner_match);
                return r;
        }
        u->bus = TAKE_PTR(bus);
        updater_get_status(u);
        return 0;
}

static int on_bus_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        Updater *u = userdata;
        int r = updater_bus_connect(u);

        if (r < 0) {
                log_debug_errno(r, "System bus still not reachable: %m");
                updater_bus_retry(u);
        }
        return 0;
}

static void updater_watch(Updater *u) {
        bool want = u->os.kind == OS_FLATCAR || u->os.kind == OS_CONTAINER_LINUX;
        int r;

        if (!want) {
                updater_bus_drop(u);
                return;
        }
        if (u->bus)
                return;
        r = updater_bus_connect(u);
        if (r < 0) {
                log_full_errno(LOG_NOTICE, r, "System bus not reachable, watching update_engine later: %m");
                (void) set_string(&u->ue_error, "the system bus is not reachable");
                updater_bus_retry(u);
        }
}

/* ---- life cycle ---- */

int updater_set_config(Updater *u, const Config *c) {
        MaintenanceWindow *w = NULL;
        int r;

        if (c->n_windows > 0) {
                w = calloc(c->n_windows, sizeof(MaintenanceWindow));
                if (!w)
                        return -ENOMEM;
                memcpy(w, c->windows, c->n_windows * sizeof(MaintenanceWindow));
        }
        free(u->windows);
        u->windows = w;
        u->n_windows = c->n_windows;
        u->managed = c->updates_managed;
        u->strategy = updates_strategy_from_string(c->updates_strategy);
        if ((int) u->strategy < 0)
                u->strategy = UPDATES_STRATEGY_OFF;
        r = set_string(&u->channel, c->updates_channel);
        if (r >= 0)
                r = set_string(&u->max_version, c->updates_max_version);
        if (r >= 0)
                r = set_string(&u->fleet_lock_url, c->fleet_lock_url);
        if (r >= 0)
                r = set_string(&u->fleet_lock_group, c->fleet_lock_group);
        if (r >= 0)
                r = set_string(&u->time_zone, c->time_zone);
        if (r < 0)
                return r;

        updater_detect_os(u);
        if (u->os_error)
                log_event(LOG_ERR, 0, "updates-os-unknown", NULL, BALLAST_MESSAGE_ERROR,
                          "Not managing updates: %s", u->os_error);
        else if (!u->managed)
                log_info("OS %s (%s): updates not managed (no \"updates\" in the configuration), reporting only.",
                         updates_os_kind_to_string(u->os.kind), strna(u->os.version));
        else if (!os_managed_kind(u->os.kind))
                log_notice("OS \"%s\" is not one ballast manages updates on: touching nothing.", strna(u->os.id));
        (void) updater_write_file(u);
        updater_watch(u);
        updater_step(u);
        return 0;
}

int updater_new(Updater **ret, sd_event *event, const char *root, const char *state_dir, const Config *config) {
        _cleanup_(updater_freep) Updater *u = calloc(1, sizeof(Updater));
        int r;

        if (!u)
                return -ENOMEM;
        u->event = sd_event_ref(event);
        u->root = strdup(root ?: "/");
        u->state_path = path_join(state_dir, "updates.json");
        if (!u->root || !u->state_path)
                return -ENOMEM;
        r = updater_load(u);
        if (r < 0)
                log_event(LOG_ERR, r, "updates-state-invalid", NULL, BALLAST_MESSAGE_ERROR,
                          "Not rebooting for updates: %s", strna(u->state_error));
        r = sd_event_add_time_relative(event, &u->bus_retry, CLOCK_MONOTONIC, BUS_RETRY_USEC, 0, on_bus_retry, u);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(u->bus_retry, SD_EVENT_OFF);
        (void) sd_event_source_set_description(u->bus_retry, "updates-bus-retry");
        r = sd_event_add_time_relative(event, &u->window_timer, CLOCK_MONOTONIC, WINDOW_RECHECK_USEC, USEC_PER_SEC,
                                       on_window_timer, u);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(u->window_timer, "updates-window");
        r = updater_set_config(u, config);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(u);
        return 0;
}

Updater *updater_free(Updater *u) {
        if (!u)
                return NULL;
        updater_bus_drop(u);
        sd_event_source_disable_unref(u->bus_retry);
        sd_event_source_disable_unref(u->window_timer);
        sd_event_unref(u->event);
        free(u->root);
        free(u->state_path);
        free(u->channel);
        free(u->max_version);
        free(u->fleet_lock_url);
        free(u->fleet_lock_group);
        free(u->time_zone);
        free(u->windows);
        free(u->pin_channel);
        free(u->set_windows);
        free(u->set_time_zone);
        free(u->approved_version);
        free(u->state_error);
        updates_os_info_done(&u->os);
        free(u->os_error);
        free(u->file_path);
        free(u->file_error);
        free(u->ue_operation);
        free(u->ue_new_version);
        free(u->ue_error);
        free(u->new_version);
        updates_reboot_flow_done(&u->flow);
        free(u);
        return NULL;
}

/* ---- status ---- */

static void unmanaged_decision(Updater *u, RebootDecision *d) {
        *d = (RebootDecision) { .allow = false, .reason = "unmanaged" };
        if (u->os_error)
                d->message = "The OS could not be identified from os-release: ballast touches nothing.";
        else if (!u->managed)
                d->message = "Updates are not managed: the configuration has no \"updates\" block; ballast only reports.";
        else
                d->message = "This OS is not one ballast manages updates on (Flatcar, Container Linux, Fedora CoreOS); ballast touches nothing.";
}

static json_t *decision_json(const RebootDecision *d) {
        return json_pack("{s:b,s:s,s:s}", "allow", d->allow, "reason", d->reason, "message", d->message);
}

json_t *updater_status_json(Updater *u) {
        const MaintenanceWindow *w;
        size_t n;
        GateView g;
        RebootDecision now, policy;
        json_t *j, *win, *ue = json_null();
        _cleanup_free_ char *flow = NULL;

        updater_inputs(u, &g);
        effective_windows(u, &w, &n);
        if (!updater_is_managed(u))
                unmanaged_decision(u, &now), policy = now;
        else {
                RebootInputs hyp = g.in;

                updates_may_reboot(&g.in, &now);
                /* the same as if a reboot into the running version were needed: what policy says right now */
                hyp.reboot_needed = true;
                if (!hyp.new_version)
                        hyp.new_version = u->os.version;
                updates_may_reboot(&hyp, &policy);
        }
        win = json_pack("{s:s}", "state",
                        g.window_r == UPDATES_WINDOW_INSIDE ? "inside" :
                        g.window_r == UPDATES_WINDOW_OUTSIDE ? "outside" :
                        g.window_r == UPDATES_WINDOW_NONE ? "none" : "unknown");
        if (g.window_r < 0)
                json_object_set_new(win, "error", json_string(g.window_r == -ENOENT ? "unknown time zone" : strerror(-g.window_r)));
        if (g.next_start > 0)
                json_object_set_new(win, "next_start_usec", json_integer(g.next_start * (json_int_t) USEC_PER_SEC));
        if (g.end > 0)
                json_object_set_new(win, "end_usec", json_integer(g.end * (json_int_t) USEC_PER_SEC));
        if (u->os.kind == OS_FLATCAR || u->os.kind == OS_CONTAINER_LINUX)
                ue = json_pack("{s:b,s:s?,s:s?,s:f,s:I,s:s?}", "known", u->ue_known, "operation", u->ue_operation,
                               "new_version", u->ue_new_version, "progress", u->ue_progress, "last_checked_time",
                               (json_int_t) u->ue_last_checked, "error", u->ue_error);
        if (updates_reboot_flow_to_json(&u->flow, &flow) < 0)
                flow = NULL;

        j = json_pack("{s:{s:s,s:s?,s:s?,s:s?,s:s?},s:b,s:s?,s:s?,s:s?,s:s?,s:s,s:s?,s:s,s:o,s:o,s:b,s:b,s:s?,s:b,s:s?,s:o,s:o,s:o,s:o}",
                      "os", "kind", updates_os_kind_to_string(u->os.kind), "id", u->os.id, "version", u->os.version,
                      "pretty_name", u->os.pretty_name, "error", u->os_error,
                      "managed", updater_is_managed(u),
                      "file", u->file_path,
                      "file_error", u->file_error,
                      "state_error", u->state_error,
                      "channel", effective_channel(u),
                      "channel_source", u->pin_channel ? "pin" : "config",
                      "max_version", u->max_version,
                      "strategy", updates_strategy_to_string(u->strategy),
                      "windows", windows_json(w, n),
                      "window", win,
                      "paused", u->paused,
                      "clock_known", g.in.clock_known,
                      "approved_version", u->approved_version,
                      "reboot_needed", u->reboot_needed,
                      "new_version", u->new_version,
                      "update_engine", ue,
                      "flow", flow ? json_loads(flow, 0, NULL) : json_null(),
                      "decision", decision_json(&now),
                      "policy", decision_json(&policy));
        if (j)
                json_object_set_new(j, "time_zone", json_string(effective_time_zone(u)));
        return j;
}

json_t *updater_report_json(Updater *u) {
        json_t *s = updater_status_json(u), *r;

        r = json_pack("{s:s,s:O?,s:b,s:b,s:O?,s:O?}",
                      "state", updater_is_managed(u) ? updates_reboot_state_to_string(u->flow.state) : "unmanaged",
                      "os", json_object_get(json_object_get(s, "os"), "kind"),
                      "managed", updater_is_managed(u),
                      "reboot_needed", u->reboot_needed,
                      "new_version", json_object_get(s, "new_version"),
                      "reason", json_object_get(json_object_get(s, "decision"), "reason"));
        json_decref(s);
        return r;
}

/* ---- Varlink ---- */

static int reply_status(Updater *u, VarlinkCall *call) {
        return varlink_call_reply(call, updater_status_json(u));
}

static int no_params(VarlinkCall *call, json_t *params) {
        if (json_object_size(params) > 0)
                return varlink_call_error_invalid_parameter(call, json_object_iter_key(json_object_iter(params)));
        return 0;
}

/* The state file could not be written: say which and why (nothing was changed for good). */
static int reply_state_write_failed(VarlinkCall *call, const char *path, int r) {
        return varlink_call_error(call, "io.ballast.Agent.StateWriteFailed",
                                  json_pack("{s:s,s:s}", "path", strna(path), "reason", strerror(-r)));
}

static int refuse_unmanaged(Updater *u, VarlinkCall *call) {
        RebootDecision d;
        unmanaged_decision(u, &d);
        return varlink_call_error(call, "io.ballast.Agent.UpdatesNotManaged", json_pack("{s:s}", "reason", d.message));
}

int updater_method_status(Updater *u, VarlinkCall *call, json_t *params) {
        int r = no_params(call, params);
        if (r != 0 || json_object_size(params) > 0)
                return r;
        return reply_status(u, call);
}

int updater_method_pin(Updater *u, VarlinkCall *call, json_t *params) {
        _cleanup_free_ char *path = NULL, *text = NULL, *error = NULL;
        json_t *ch = json_object_get(params, "channel");
        const char *key, *channel;
        json_t *v;
        int r;

        json_object_foreach(params, key, v)
                if (!streq(key, "channel"))
                        return varlink_call_error_invalid_parameter(call, key);
        if (!json_is_string(ch))
                return varlink_call_error_invalid_parameter(call, "channel");
        channel = json_string_value(ch);
        if (!channel_valid(channel))
                return varlink_call_error(call, "io.ballast.Agent.InvalidUpdatePolicy",
                                          json_pack("{s:s,s:s}", "field", "channel", "reason",
                                                    "a channel is 1 to 64 letters, digits, '.', '_' or '-'"));
        if (!updater_is_managed(u))
                return refuse_unmanaged(u, call);
        /* render first: a value the file's renderer refuses changes nothing */
        r = updater_render(u, channel, &path, &text, &error);
        if (r < 0)
                return varlink_call_error(call, "io.ballast.Agent.InvalidUpdatePolicy",
                                          json_pack("{s:s,s:s}", "field", "channel", "reason",
                                                    error ?: strerror(-r)));
        r = set_string(&u->pin_channel, channel);
        if (r < 0)
                return r;
        r = updater_save(u);
        if (r < 0)
                return reply_state_write_failed(call, u->state_path, r);
        log_event(LOG_INFO, 0, "update-pinned", NULL, NULL, "Update channel pinned to %s.", channel);
        if (updater_write_file(u) < 0)
                return varlink_call_error(call, "io.ballast.Agent.StateWriteFailed",
                                          json_pack("{s:s,s:s}", "path", strna(u->file_path), "reason",
                                                    strna(u->file_error)));
        updater_step(u);
        return reply_status(u, call);
}

static int set_paused(Updater *u, VarlinkCall *call, json_t *params, bool paused) {
        int r = no_params(call, params);

        if (r != 0 || json_object_size(params) > 0)
                return r;
        if (!updater_is_managed(u))
                return refuse_unmanaged(u, call);
        if (u->paused != paused) {
                u->paused = paused;
                r = updater_save(u);
                if (r < 0) {
                        u->paused = !paused;
                        return reply_state_write_failed(call, u->state_path, r);
                }
                log_event(LOG_INFO, 0, paused ? "updates-paused" : "updates-resumed", NULL, NULL,
                          paused ? "Reboots for updates paused." : "Reboots for updates resumed.");
                updater_step(u);
        }
        return reply_status(u, call);
}

int updater_method_pause(Updater *u, VarlinkCall *call, json_t *params) {
        return set_paused(u, call, params, true);
}

int updater_method_resume(Updater *u, VarlinkCall *call, json_t *params) {
        return set_paused(u, call, params, false);
}

int updater_method_set_windows(Updater *u, VarlinkCall *call, json_t *params) {
        _cleanup_free_ MaintenanceWindow *w = NULL;
        _cleanup_free_ char *error = NULL;
        json_t *tz = json_object_get(params, "time_zone"), *v;
        const char *key, *zone;
        size_t n = 0;
        int r;

        json_object_foreach(params, key, v)
                if (!streq(key, "windows") && !streq(key, "time_zone"))
                        return varlink_call_error_invalid_parameter(call, key);
        if (tz && !json_is_null(tz) && !(json_is_string(tz) && time_zone_syntax_valid(json_string_value(tz))))
                return varlink_call_error(call, "io.ballast.Agent.InvalidUpdatePolicy",
                                          json_pack("{s:s,s:s}", "field", "time_zone", "reason",
                                                    "expected a time zone such as \"UTC\" or \"Europe/Berlin\""));
        r = windows_from_json(json_object_get(params, "windows"), &w, &n, &error);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return varlink_call_error(call, "io.ballast.Agent.InvalidUpdatePolicy",
                                          json_pack("{s:s,s:s}", "field", "windows", "reason", strna(error)));
        zone = json_is_string(tz) ? json_string_value(tz) : u->time_zone;
        r = updates_in_window(w, n, (int64_t) (now_usec(CLOCK_REALTIME) / USEC_PER_SEC), zone, NULL, NULL);
        if (r < 0)
                return varlink_call_error(call, "io.ballast.Agent.InvalidUpdatePolicy",
                                          json_pack("{s:s,s:s}", "field", r == -ENOENT ? "time_zone" : "windows",
                                                    "reason", r == -ENOENT ? "the TZ database has no such zone"
                                                                           : "the windows cannot be computed"));
        if (!updater_is_managed(u))
                return refuse_unmanaged(u, call);
        free(u->set_windows);
        u->set_windows = TAKE_PTR(w);
        u->n_set_windows = n;
        u->windows_set = true;
        r = set_string(&u->set_time_zone, json_is_string(tz) ? json_string_value(tz) : NULL);
        if (r < 0)
                return r;
        r = updater_save(u);
        if (r < 0)
                return reply_state_write_failed(call, u->state_path, r);
        log_event(LOG_INFO, 0, "update-windows-set", NULL, NULL, "Maintenance windows set (%zu, zone %s).", n,
                  effective_time_zone(u));
        updater_step(u);
        return reply_status(u, call);
}

int updater_method_approve(Updater *u, VarlinkCall *call, json_t *params) {
        json_t *ver = json_object_get(params, "version"), *v;
        const char *key, *version;
        int cmp, r;

        json_object_foreach(params, key, v)
                if (!streq(key, "version"))
                        return varlink_call_error_invalid_parameter(call, key);
        if (ver && !json_is_null(ver) && !json_is_string(ver))
                return varlink_call_error_invalid_parameter(call, "version");
        if (!updater_is_managed(u))
                return refuse_unmanaged(u, call);
        version = json_is_string(ver) ? json_string_value(ver) : u->new_version;
        if (!version)
                return varlink_call_error(call, "io.ballast.Agent.InvalidUpdatePolicy",
                                          json_pack("{s:s,s:s}", "field", "version", "reason",
                                                    "no update is pending: name the version to approve"));
        if (updates_version_compare(version, version, &cmp) < 0)
                return varlink_call_error(call, "io.ballast.Agent.InvalidUpdatePolicy",
                                          json_pack("{s:s,s:s}", "field", "version", "reason",
                                                    "expected a dotted numeric version such as 3815.2.0"));
        r = set_string(&u->approved_version, version);
        if (r < 0)
                return r;
        r = updater_save(u);
        if (r < 0)
                return reply_state_write_failed(call, u->state_path, r);
        log_event(LOG_INFO, 0, "update-approved", NULL, NULL, "Version %s approved (above max_version allowed).",
                  version);
        updater_step(u);
        return reply_status(u, call);
}
