/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-id128.h>
#include <time.h>
#include <unistd.h>

#include "updates/fleetlock.h"
#include "updates/lockserver.h"
#include "shared/backoff.h"
#include "shared/fileio.h"
#include "shared/json-util.h"
#include "shared/log.h"
#include "shared/time-util.h"
#include "updates/updater.h"
#include "updates/updates.h"

#define UE_SERVICE "com.coreos.update1"
#define UE_PATH "/com/coreos/update1"
#define UE_INTERFACE "com.coreos.update1.Manager"
#define UE_NEED_REBOOT "UPDATE_STATUS_UPDATED_NEED_REBOOT"
#define BUS_RETRY_USEC (10 * USEC_PER_SEC)
#define WINDOW_RECHECK_USEC (30 * USEC_PER_SEC)
#define MAX_WINDOWS 64
#define LOGIN_SERVICE "org.freedesktop.login1"
#define LOGIN_PATH "/org/freedesktop/login1"
#define LOGIN_INTERFACE "org.freedesktop.login1.Manager"
#define REBOOT_RETRY_MIN_USEC (5 * USEC_PER_SEC)
#define REBOOT_RETRY_MAX_USEC (300 * USEC_PER_SEC)
/* Zincati asks pre-reboot every 5 min (+10 % jitter) while it has an update staged: after this long without a
 * word from it, the node is not kept drained for a finalization that is not coming. */
#define ZINCATI_SILENCE_USEC (20 * 60 * USEC_PER_SEC)

struct Updater {
        sd_event *event;
        HttpClient *http;
        UpdaterHooks hooks;
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
        char *state_write_error; /* the flow's step could not be persisted: fail closed until it can */

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
        bool need_known;    /* update_engine answered, or Zincati asked, since ballastd started */
        char *new_version;

        RebootFlow flow;
        sd_event_source *window_timer;
        char boot_id[33];   /* this boot's (ballast's per-boot id in /run/ballast/boot-id) */
        bool stepping;

        /* the cluster's FleetLock (strategy fleet_lock) */
        FleetLock *fleetlock;
        FleetLock *fleetlock_retired; /* the previous server's, releasing there after a reload */
        char *lock_url_in_use, *lock_group_in_use;
        char *lock_id;
        char *lock_setup_error; /* no client: why (no machine id, a bad URL): fail closed */
        bool lock_held;
        bool unlocked;          /* steady-state succeeded since the flow entered post-reboot-unlock */
        const char *lock_reason; /* the last outcome: fleetlock_result_to_reason(), NULL before any */
        char *lock_message;
        char *lock_kind;
        long lock_status;
        unsigned lock_failures;
        uint64_t lock_at_usec, lock_retry_at_usec; /* CLOCK_REALTIME */

        /* drain and the logind delay inhibitor while draining */
        unsigned drain_timeout_s;  /* 0: no limit */
        sd_event_source *drain_timer;
        bool drain_timed_out;      /* drain_timeout_s passed: what is still stopping is left to the shutdown */
        bool drain_requested;
        char *drain_error;
        int inhibit_fd;
        sd_bus_slot *inhibit_call;
        char *inhibit_error;

        /* Fedora CoreOS: the FleetLock endpoint Zincati asks before it finalizes an update */
        LockServer *endpoint;
        char *endpoint_error;
        const char *zincati_last_op;   /* "pre-reboot" / "steady-state" */
        int zincati_last_answer;       /* HTTP status we answered */
        uint64_t zincati_last_usec;    /* CLOCK_REALTIME */

        /* the reboot through logind (Flatcar, Container Linux) */
        sd_bus_slot *reboot_call;
        bool reboot_started;    /* logind accepted (or Zincati was answered 200): no way back */
        bool reboot_asked;      /* asked logind in this run of ballastd */
        char *reboot_error;
        unsigned reboot_failures;
        sd_event_source *reboot_retry;
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

static bool id128_string_valid(const char *s) {
        return s && strlen(s) == 32 && strspn(s, "0123456789abcdef") == 32;
}

/* This boot's id, as ballast tells boots apart: a random id kept in /run/ballast/boot-id, which lives as long as
 * the boot (/run is a tmpfs, emptied by every boot) and survives restarts of ballastd. Not the kernel's
 * boot_id: a container (the test sandbox among them) reboots without a new kernel. "" when it cannot be
 * kept: the flow then never sees a new boot, and fails closed (no lock released behind a reboot it missed). */
static void updater_read_boot_id(Updater *u) {
        _cleanup_free_ char *p = path_join_root(u->root, "/run/ballast/boot-id"), *text = NULL;
        char id[SD_ID128_STRING_MAX];
        sd_id128_t rnd;
        int r;

        u->boot_id[0] = 0;
        if (!p)
                return;
        if (read_full_file(p, 128, &text, NULL) >= 0) {
                text[strcspn(text, "\n")] = 0;
                if (id128_string_valid(text)) {
                        memcpy(u->boot_id, text, 33);
                        return;
                }
        }
        r = sd_id128_randomize(&rnd);
        if (r >= 0) {
                sd_id128_to_string(rnd, id);
                r = mkdir_parents(p, 0755);
        }
        if (r >= 0) {
                char line[SD_ID128_STRING_MAX + 1];
                snprintf(line, sizeof(line), "%s\n", id);
                r = write_file_atomic(p, line, strlen(line), 0644);
        }
        if (r < 0) {
                log_warning_errno(r, "Failed to keep this boot's id in %s, a reboot will not be noticed: %m", p);
                return;
        }
        memcpy(u->boot_id, id, 33);
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
                return log_warning_errno(r, "Failed to write %s: %m", u->state_path);
        u->state_write_error = mfree(u->state_write_error);
        return 0;
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

static void updater_inhibit(Updater *u);
static void updater_step(Updater *u);
static void updater_uninhibit(Updater *u);
static void updater_reboot(Updater *u);

/* States in which the flow has decided that a reboot is needed. */
static bool flow_wants_reboot(RebootState s) {
        return s == REBOOT_STATE_NEEDED || s == REBOOT_STATE_WAITING_WINDOW || s == REBOOT_STATE_LOCKING ||
               s == REBOOT_STATE_DRAINING || s == REBOOT_STATE_REBOOTING;
}

static bool uses_lock(Updater *u) {
        return u->strategy == UPDATES_STRATEGY_FLEET_LOCK;
}

static bool drained(Updater *u) {
        return u->drain_requested &&
               (u->drain_timed_out || (u->hooks.drained && u->hooks.drained(u->hooks.userdata)));
}

static void updater_inputs(Updater *u, GateView *g) {
        const MaintenanceWindow *w;
        size_t n;
        bool need = u->reboot_needed;
        const char *version = u->new_version;

        *g = (GateView) {};
        effective_windows(u, &w, &n);
        g->window_r = updates_in_window(w, n, (int64_t) (now_usec(CLOCK_REALTIME) / USEC_PER_SEC),
                                        effective_time_zone(u), &g->next_start, &g->end);
        /* Until update_engine (or Zincati) has spoken since ballastd started, the persisted flow stands for
         * what they said: a crash in the middle of the flow resumes it rather than calling it off. */
        if (!u->need_known) {
                need = flow_wants_reboot(u->flow.state);
                version = u->flow.version;
        }
        g->in = (RebootInputs) {
                .reboot_needed = need,
                .window = g->window_r < 0 ? UPDATES_WINDOW_UNKNOWN : (UpdatesWindowState) g->window_r,
                .lock_held = u->lock_held,
                .drained = drained(u),
                .paused = u->paused,
                .clock_known = clock_known(u),
                .config_error = !updater_is_managed(u) || u->file_error || u->state_error || u->state_write_error,
                .strategy = u->strategy,
                .max_version = u->max_version,
                .new_version = version,
                .new_boot = u->flow.boot_id[0] && u->boot_id[0] && !streq(u->flow.boot_id, u->boot_id),
                .reboot_started = u->reboot_started,
                .unlocked = u->unlocked,
        };
        /* an operator's approval of exactly this version lifts max_version for it */
        if (u->approved_version && version && streq(u->approved_version, version))
                g->in.max_version = NULL;
}

static void updater_enter(Updater *u, RebootState s, const GateView *g) {
        RebootDecision start, now;
        const char *reason, *why;

        updates_may_start(&g->in, &start);
        updates_may_reboot(&g->in, &now);
        /* why the flow moves: the gate's first objection, or what happened */
        reason = start.reason;
        why = start.message;
        if (g->in.new_boot) {
                reason = "new-boot";
                why = "The node booted again since the flow's last step.";
        } else if (s == REBOOT_STATE_POST_REBOOT_UNLOCK && start.allow) {
                reason = now.reason;
                why = now.message;
        } else if (s == REBOOT_STATE_IDLE && u->flow.state == REBOOT_STATE_POST_REBOOT_UNLOCK) {
                reason = "done";
                why = "The lock is released and the services are back.";
        }
        log_event(s == REBOOT_STATE_REBOOTING ? LOG_NOTICE : LOG_INFO, 0, "reboot-flow", NULL, NULL,
                  "Reboot flow: %s → %s%s%s (%s: %s)", updates_reboot_state_to_string(u->flow.state),
                  updates_reboot_state_to_string(s), g->in.new_version ? ", version " : "",
                  strempty(g->in.new_version), reason, why);
        switch (s) {
        case REBOOT_STATE_POST_REBOOT_UNLOCK:
                u->unlocked = false;
                u->reboot_started = false;
                u->reboot_asked = false;
                u->reboot_failures = 0;
                u->reboot_error = mfree(u->reboot_error);
                (void) sd_event_source_set_enabled(u->reboot_retry, SD_EVENT_OFF);
                break;
        case REBOOT_STATE_IDLE:
                u->lock_held = false;
                break;
        default:
                break;
        }
        u->flow.state = s;
        u->flow.since_usec = now_usec(CLOCK_REALTIME);
        memcpy(u->flow.boot_id, u->boot_id, sizeof(u->flow.boot_id));
        (void) set_string(&u->flow.version, s == REBOOT_STATE_IDLE ? NULL : g->in.new_version);
        /* A step that is not on disk would be lost by the reboot (a lock held, and never released): then the
         * flow stops going forward (config-error) and goes back, which releases, until a write succeeds. */
        if (updater_save(u) < 0 && !u->state_write_error) {
                u->state_write_error = strdupf("The reboot flow's state could not be written to %s; on doubt, no reboot.",
                                               u->state_path);
                log_event(LOG_ERR, 0, "updates-state-write-failed", NULL, BALLAST_MESSAGE_ERROR, "%s",
                          u->state_write_error);
        }
        if (u->hooks.changed)
                u->hooks.changed(u->hooks.userdata);
}

static void updater_start_drain(Updater *u) {
        int r;

        /* the drain is the flow's while it runs: undrained meanwhile (ballastctl undrain), it drains again;
         * `ballastctl update pause` is how an operator stops the flow */
        if (u->drain_requested && u->hooks.draining && !u->hooks.draining(u->hooks.userdata)) {
                log_event(LOG_NOTICE, 0, "draining", NULL, NULL,
                          "The node was undrained while the reboot flow drains it: draining again "
                          "(ballastctl update pause calls the flow off).");
                u->drain_requested = false;
        }
        if (u->drain_requested || !u->hooks.drain)
                return;
        r = u->hooks.drain(u->hooks.userdata);
        if (r < 0) {
                _cleanup_free_ char *e = strdupf("The drain cannot start: %s; waiting for systemd.",
                                                 r == -ENOTCONN ? "systemd is not reachable" : strerror(-r));
                if (!u->drain_error || !streq(u->drain_error, e))
                        log_event(LOG_WARNING, r, "drain-failed", NULL, NULL, "Reboot flow: %s", e);
                free(u->drain_error);
                u->drain_error = TAKE_PTR(e);
                return;
        }
        u->drain_error = mfree(u->drain_error);
        u->drain_requested = true;
        u->drain_timed_out = false;
        if (u->drain_timeout_s > 0) {
                (void) sd_event_source_set_time_relative(u->drain_timer, u->drain_timeout_s * USEC_PER_SEC);
                (void) sd_event_source_set_enabled(u->drain_timer, SD_EVENT_ONESHOT);
        }
}

/* The drain takes longer than drain_timeout_s: the reboot goes ahead, and the shutdown stops what is still
 * stopping (each service's own stop timeout still applies). Policy was settled before the drain began; only
 * a slow stop is left, and waiting for ever would hold the fleet's lock for ever. */
static int on_drain_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Updater *u = userdata;

        if (!u->drain_requested || drained(u))
                return 0;
        u->drain_timed_out = true;
        log_event(LOG_WARNING, 0, "drain-timeout", NULL, NULL,
                  "The drain did not finish within %u s (drain_timeout_s): going on; the shutdown stops the rest.",
                  u->drain_timeout_s);
        updater_step(u);
        return 0;
}

/* Makes what the current state stands for happen (idempotent: again after a restart of ballastd). Returns
 * true when an input of the flow changed on the way, so that the flow is looked at again. */
static bool updater_act(Updater *u) {
        bool changed = false;

        switch (u->flow.state) {
        case REBOOT_STATE_IDLE:
        case REBOOT_STATE_NEEDED:
        case REBOOT_STATE_WAITING_WINDOW:
                if (fleetlock_pending(u->fleetlock, FLEETLOCK_PRE_REBOOT))
                        fleetlock_cancel(u->fleetlock);
                updater_uninhibit(u);
                break;

        case REBOOT_STATE_LOCKING:
                if (!uses_lock(u) || u->lock_held || !u->fleetlock)
                        break; /* without a client: no lock, no reboot (lock_setup_error says why) */
                if (!fleetlock_pending(u->fleetlock, FLEETLOCK_PRE_REBOOT))
                        (void) fleetlock_start(u->fleetlock, FLEETLOCK_PRE_REBOOT);
                break;

        case REBOOT_STATE_DRAINING: {
                bool was = u->drain_requested;

                updater_inhibit(u);
                updater_start_drain(u);
                changed = u->drain_requested && !was;
                break;
        }

        case REBOOT_STATE_REBOOTING: {
                /* after a restart of ballastd in this state, the services may have come back: drain again */
                bool was = u->drain_requested;

                updater_start_drain(u);
                changed = u->drain_requested && !was;
                if (u->os.kind == OS_FEDORA_COREOS && !u->reboot_started && u->zincati_last_usec > 0 &&
                    now_usec(CLOCK_REALTIME) > u->zincati_last_usec + ZINCATI_SILENCE_USEC) {
                        log_event(LOG_WARNING, 0, "zincati-silent", NULL, NULL,
                                  "Zincati has not asked to finalize for %d min: the reboot is called off, the node undrained.",
                                  (int) (ZINCATI_SILENCE_USEC / USEC_PER_SEC / 60));
                        u->reboot_needed = false;
                        u->need_known = true;
                        changed = true;
                        break;
                }
                if (!drained(u))
                        break;
                /* logind would wait for our own delay inhibitor before rebooting */
                updater_uninhibit(u);
                if (u->os.kind != OS_FEDORA_COREOS) /* there Zincati reboots, once told 200 */
                        updater_reboot(u);
                break;
        }

        case REBOOT_STATE_POST_REBOOT_UNLOCK:
                updater_uninhibit(u);
                if (u->drain_requested) {
                        u->drain_requested = false;
                        u->drain_timed_out = false;
                        (void) sd_event_source_set_enabled(u->drain_timer, SD_EVENT_OFF);
                        if (u->hooks.undrain)
                                u->hooks.undrain(u->hooks.userdata);
                        changed = true;
                }
                if (u->unlocked)
                        break;
                if (!uses_lock(u) || !u->fleetlock) {
                        /* no lock server to tell: nothing was locked */
                        u->unlocked = true;
                        u->lock_held = false;
                        changed = true;
                } else if (!fleetlock_pending(u->fleetlock, FLEETLOCK_STEADY_STATE))
                        (void) fleetlock_start(u->fleetlock, FLEETLOCK_STEADY_STATE);
                break;

        default:
                break;
        }
        return changed;
}

static void updater_step(Updater *u) {
        /* acting can call back (a drain with nothing to stop is done at once): one pass at a time */
        if (u->stepping)
                return;
        u->stepping = true;
        /* the last step could not be persisted: try again, the flow stands still until it is */
        if (u->state_write_error)
                (void) updater_save(u);
        for (unsigned i = 0; i < 16; i++) {
                GateView g;
                RebootState next;

                updater_inputs(u, &g);
                next = updates_reboot_next(u->flow.state, &g.in);
                if (next != u->flow.state) {
                        updater_enter(u, next, &g);
                        continue;
                }
                if (!updater_act(u))
                        break;
        }
        u->stepping = false;
}

void updater_drain_changed(Updater *u) {
        if (u)
                updater_step(u);
}

/* ---- the cluster's FleetLock ---- */

static void on_fleetlock(FleetLock *f, const FleetLockOutcome *o, void *userdata) {
        Updater *u = userdata;
        const char *reason = fleetlock_result_to_reason(o->result);
        bool same = u->lock_reason && streq(u->lock_reason, reason) && u->lock_message &&
                    streq(u->lock_message, o->message);

        u->lock_reason = reason;
        (void) set_string(&u->lock_message, o->message);
        (void) set_string(&u->lock_kind, o->kind);
        u->lock_status = o->status;
        u->lock_failures = o->failures;
        u->lock_at_usec = now_usec(CLOCK_REALTIME);
        u->lock_retry_at_usec = o->retry_in_usec ? u->lock_at_usec + o->retry_in_usec : 0;
        if (o->result == FLEETLOCK_OK) {
                log_event(LOG_NOTICE, 0, o->op == FLEETLOCK_PRE_REBOOT ? "fleetlock-locked" : "fleetlock-unlocked",
                          NULL, NULL, "FleetLock %s: %s", fleetlock_op_to_string(o->op), o->message);
                if (o->op == FLEETLOCK_PRE_REBOOT)
                        u->lock_held = true;
                else {
                        u->lock_held = false;
                        u->unlocked = true;
                }
        } else
                /* every failure, but an unchanged one only at debug level after the first few */
                log_event(same && o->failures > 3 ? LOG_DEBUG : LOG_WARNING, 0, "fleetlock-error", NULL, NULL,
                          "FleetLock %s failed (%s): %s Retrying in %.1f s; no reboot without the lock.",
                          fleetlock_op_to_string(o->op), reason, o->message,
                          (double) o->retry_in_usec / (double) USEC_PER_SEC);
        updater_step(u);
}

/* A client of a server the configuration no longer names, asked to release whatever it may hold there. */
static void on_retired_fleetlock(FleetLock *f, const FleetLockOutcome *o, void *userdata) {
        Updater *u = userdata;

        if (o->result != FLEETLOCK_OK) {
                log_event(LOG_WARNING, 0, "fleetlock-error", NULL, NULL,
                          "FleetLock steady-state to the server no longer configured failed (%s): %s Retrying.",
                          fleetlock_result_to_reason(o->result), o->message);
                return;
        }
        log_event(LOG_NOTICE, 0, "fleetlock-unlocked", NULL, NULL,
                  "Released the lock at the server no longer configured: %s", o->message);
        if (u->fleetlock_retired == f)
                u->fleetlock_retired = fleetlock_free(f); /* on_answer() touches nothing after this callback */
}

/* The client for the configured server, with Zincati's id for this machine (so that ballast and Zincati on
 * one node are one holder). Without one, the flow cannot take the lock: it waits, and says why. */
static void updater_setup_fleetlock(Updater *u) {
        _cleanup_free_ char *p = NULL, *text = NULL;
        bool want = updater_is_managed(u) && uses_lock(u);
        char id[33];
        int r;

        /* a reload with the same server keeps the client, and whatever it is doing */
        if (want && u->fleetlock && streq_ptr(u->lock_url_in_use, u->fleet_lock_url) &&
            streq_ptr(u->lock_group_in_use, u->fleet_lock_group))
                return;
        if (u->fleetlock) {
                /* another server, or none: what the old one may hold is released there, in the background */
                if (u->lock_held || fleetlock_pending(u->fleetlock, FLEETLOCK_PRE_REBOOT) ||
                    fleetlock_pending(u->fleetlock, FLEETLOCK_STEADY_STATE)) {
                        fleetlock_free(u->fleetlock_retired);
                        u->fleetlock_retired = TAKE_PTR(u->fleetlock);
                        fleetlock_set_func(u->fleetlock_retired, on_retired_fleetlock, u);
                        (void) fleetlock_start(u->fleetlock_retired, FLEETLOCK_STEADY_STATE);
                }
                u->fleetlock = fleetlock_free(u->fleetlock);
                u->lock_held = false;
        }
        u->lock_setup_error = mfree(u->lock_setup_error);
        u->lock_url_in_use = mfree(u->lock_url_in_use);
        u->lock_group_in_use = mfree(u->lock_group_in_use);
        if (!want)
                return;
        p = path_join_root(u->root, "/etc/machine-id");
        r = p ? read_full_file(p, 128, &text, NULL) : -ENOMEM;
        if (r >= 0) {
                text[strcspn(text, "\n")] = 0;
                r = updates_zincati_node_id(text, id);
                if (r < 0)
                        u->lock_setup_error = strdupf("%s does not hold a machine id, so there is no FleetLock id.", p);
        } else
                u->lock_setup_error = strdupf("Cannot read %s for the FleetLock id: %s.", strna(p), strerror(-r));
        if (r >= 0) {
                (void) set_string(&u->lock_id, id);
                r = fleetlock_new(&u->fleetlock, u->event, u->http, u->fleet_lock_url, id, u->fleet_lock_group,
                                  on_fleetlock, u);
                if (r >= 0) {
                        (void) set_string(&u->lock_url_in_use, u->fleet_lock_url);
                        (void) set_string(&u->lock_group_in_use, u->fleet_lock_group);
                }
                if (r < 0)
                        u->lock_setup_error = strdupf("Cannot talk FleetLock to %s with group %s: %s.",
                                                      strna(u->fleet_lock_url), strna(u->fleet_lock_group),
                                                      strerror(-r));
        }
        if (u->lock_setup_error)
                log_event(LOG_ERR, r, "fleetlock-error", NULL, BALLAST_MESSAGE_ERROR, "No reboot: %s",
                          u->lock_setup_error);
}

static int on_window_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Updater *u = userdata;

        updater_step(u);
        (void) sd_event_source_set_time_relative(s, WINDOW_RECHECK_USEC);
        return 0;
}

/* ---- update_engine over D-Bus ---- */

static void updater_bus_drop(Updater *u) {
        if (u->reboot_call)
                u->reboot_asked = false; /* no answer came: ask again on the next connection */
        u->reboot_call = sd_bus_slot_unref(u->reboot_call);
        u->inhibit_call = sd_bus_slot_unref(u->inhibit_call);
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
        u->need_known = true;
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

/* ---- Fedora CoreOS: Zincati's FleetLock endpoint ---- */

static void decision_explain(Updater *u, RebootDecision *d);

/* Zincati asks before it finalizes (pre-reboot) and says when it runs again (steady-state). pre-reboot makes a
 * reboot needed and runs the flow (window, the cluster's lock, drain); the answer is 200 only once the flow
 * has reached the point where the reboot may happen, and then Zincati finalizes and reboots (ballast does not
 * call logind on Fedora CoreOS). Until then: 409, the reason as the kind, the sentence as the value. */
static int on_zincati(LockServerOp op, const char *id, const char *group, const char **ret_kind, char **ret_value,
                      void *userdata) {
        Updater *u = userdata;
        GateView g;
        RebootDecision d;

        u->need_known = true;
        u->zincati_last_usec = now_usec(CLOCK_REALTIME);
        if (op == LOCK_SERVER_STEADY_STATE) {
                u->zincati_last_op = "steady-state";
                u->zincati_last_answer = 200;
                if (u->reboot_needed || u->reboot_started)
                        log_event(LOG_INFO, 0, "zincati-steady-state", NULL, NULL,
                                  "Zincati is in steady state (id %s, group %s): no reboot pending.", id, group);
                u->reboot_needed = false;
                /* told 200 in this boot, and Zincati runs again without having rebooted: it will not */
                if (u->flow.state == REBOOT_STATE_REBOOTING)
                        u->reboot_started = false;
                updater_step(u);
                return 0;
        }

        u->zincati_last_op = "pre-reboot";
        if (!u->reboot_needed)
                log_event(LOG_INFO, 0, "zincati-pre-reboot", NULL, NULL,
                          "Zincati asks to finalize an update (id %s, group %s): a reboot is needed.", id, group);
        u->reboot_needed = true;
        updater_step(u);
        if (u->flow.state == REBOOT_STATE_REBOOTING && drained(u)) {
                if (!u->reboot_started)
                        log_event(LOG_NOTICE, 0, "rebooting", NULL, NULL,
                                  "Zincati may finalize and reboot now: the node is drained and holds what it needs.");
                u->reboot_started = true;
                u->zincati_last_answer = 200;
                return 0;
        }
        updater_inputs(u, &g);
        updates_may_reboot(&g.in, &d);
        decision_explain(u, &d);
        if (d.allow) {
                /* the gate agrees, the flow is not there yet: say where it is */
                d.reason = updates_reboot_state_to_string(u->flow.state);
                d.message = "The reboot flow is on its way (lock, drain); ask again.";
        }
        *ret_kind = d.reason;
        *ret_value = strdup(d.message);
        u->zincati_last_answer = 409;
        return -EBUSY;
}

static void updater_setup_endpoint(Updater *u) {
        int r;

        if (!updater_is_managed(u) || u->os.kind != OS_FEDORA_COREOS) {
                u->endpoint = lock_server_free(u->endpoint);
                u->endpoint_error = mfree(u->endpoint_error);
                return;
        }
        if (u->endpoint) {
                /* only this machine's Zincati id, in the configured group (again after a reload) */
                (void) lock_server_set_client(u->endpoint, u->root, u->fleet_lock_group);
                return;
        }
        r = lock_server_new(&u->endpoint, u->event, UPDATER_FLEETLOCK_ADDRESS, UPDATER_FLEETLOCK_PORT, on_zincati, u);
        if (r >= 0)
                (void) lock_server_set_client(u->endpoint, u->root, u->fleet_lock_group);
        if (r < 0) {
                free(u->endpoint_error);
                u->endpoint_error = strdupf("cannot serve the FleetLock endpoint for Zincati at %s: %s",
                                            UPDATER_FLEETLOCK_BASE_URL, strerror(-r));
                log_event(LOG_ERR, r, "endpoint-failed", NULL, BALLAST_MESSAGE_ERROR,
                          "Zincati cannot finalize updates: %s.", u->endpoint_error);
                return;
        }
        u->endpoint_error = mfree(u->endpoint_error);
        log_info("Serving the FleetLock endpoint for Zincati at %s.", UPDATER_FLEETLOCK_BASE_URL);
}

/* ---- logind: the delay inhibitor while draining, the reboot ---- */

static int on_inhibit(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Updater *u = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        int fd, r;

        u->inhibit_call = sd_bus_slot_unref(u->inhibit_call);
        if (e) {
                free(u->inhibit_error);
                u->inhibit_error = strdupf("logind refused the delay inhibitor: %s", e->message ?: e->name);
                log_event(LOG_WARNING, 0, "inhibit-failed", NULL, NULL, "%s; draining without it.", u->inhibit_error);
                return 0;
        }
        r = sd_bus_message_read(m, "h", &fd);
        if (r >= 0) {
                /* the message owns fd: keep a copy of our own */
                r = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                if (r < 0)
                        r = -errno;
        }
        if (r < 0) {
                free(u->inhibit_error);
                u->inhibit_error = strdupf("cannot keep logind's inhibitor: %s", strerror(-r));
                return 0;
        }
        u->inhibit_error = mfree(u->inhibit_error);
        safe_close(u->inhibit_fd);
        u->inhibit_fd = r;
        log_event(LOG_INFO, 0, "inhibited", NULL, NULL,
                  "Holding a logind delay inhibitor (shutdown) while the node drains.");
        /* the flow may have moved on while logind answered */
        if (u->flow.state != REBOOT_STATE_DRAINING)
                updater_uninhibit(u);
        return 0;
}

static void updater_inhibit(Updater *u) {
        int r;

        if (u->inhibit_fd >= 0 || u->inhibit_call || !u->bus)
                return;
        r = sd_bus_call_method_async(u->bus, &u->inhibit_call, LOGIN_SERVICE, LOGIN_PATH, LOGIN_INTERFACE, "Inhibit",
                                     on_inhibit, u, "ssss", "shutdown", "ballast",
                                     "Draining the node's services before the OS update's reboot", "delay");
        if (r < 0) {
                free(u->inhibit_error);
                u->inhibit_error = strdupf("cannot ask logind for a delay inhibitor: %s", strerror(-r));
        }
}

static void updater_uninhibit(Updater *u) {
        u->inhibit_call = sd_bus_slot_unref(u->inhibit_call);
        if (u->inhibit_fd < 0)
                return;
        u->inhibit_fd = safe_close(u->inhibit_fd);
        log_event(LOG_INFO, 0, "uninhibited", NULL, NULL, "Released the logind delay inhibitor.");
}

static int on_reboot_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Updater *u = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        uint64_t delay;

        u->reboot_call = sd_bus_slot_unref(u->reboot_call);
        if (!e) {
                u->reboot_started = true;
                u->reboot_error = mfree(u->reboot_error);
                log_event(LOG_NOTICE, 0, "rebooting", NULL, NULL,
                          "logind accepted the reboot into %s; the lock is released after the new boot.",
                          strna(u->flow.version));
                updater_step(u);
                return 0;
        }
        delay = backoff_usec(u->reboot_failures++, REBOOT_RETRY_MIN_USEC, REBOOT_RETRY_MAX_USEC, random_u32());
        free(u->reboot_error);
        u->reboot_error = strdupf("logind refused the reboot: %s", e->message ?: e->name);
        log_event(LOG_ERR, 0, "reboot-failed", NULL, BALLAST_MESSAGE_ERROR, "%s; asking again in %.0f s.",
                  u->reboot_error, (double) delay / (double) USEC_PER_SEC);
        (void) sd_event_source_set_time_relative(u->reboot_retry, delay);
        (void) sd_event_source_set_enabled(u->reboot_retry, SD_EVENT_ONESHOT);
        return 0;
}

/* org.freedesktop.login1.Manager.Reboot(false): logind runs the delay inhibitors' course and starts
 * reboot.target, as `systemctl reboot` would. Asked once per run of ballastd (and again after a refusal). */
static void updater_reboot(Updater *u) {
        int enabled = SD_EVENT_OFF;
        int r;

        (void) sd_event_source_get_enabled(u->reboot_retry, &enabled);
        if (u->reboot_asked || u->reboot_call || enabled != SD_EVENT_OFF)
                return;
        if (!u->bus) {
                (void) set_string(&u->reboot_error, "the system bus is not reachable, so logind cannot be asked");
                return;
        }
        r = sd_bus_call_method_async(u->bus, &u->reboot_call, LOGIN_SERVICE, LOGIN_PATH, LOGIN_INTERFACE, "Reboot",
                                     on_reboot_reply, u, "b", 0);
        if (r < 0) {
                free(u->reboot_error);
                u->reboot_error = strdupf("cannot ask logind to reboot: %s", strerror(-r));
                return;
        }
        u->reboot_asked = true;
        log_event(LOG_NOTICE, 0, "reboot-requested", NULL, NULL,
                  "The node is drained and holds what it needs: asking logind to reboot into %s.",
                  strna(u->flow.version));
}

static int on_reboot_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        Updater *u = userdata;

        u->reboot_asked = false;
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

static bool watch_update_engine(Updater *u) {
        return u->os.kind == OS_FLATCAR || u->os.kind == OS_CONTAINER_LINUX;
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
        if (r >= 0 && watch_update_engine(u))
                r = sd_bus_match_signal_async(bus, &u->ue_match, NULL, UE_PATH, UE_INTERFACE, "StatusUpdate",
                                              on_ue_status_signal, NULL, u);
        if (r >= 0 && watch_update_engine(u))
                r = sd_bus_match_signal_async(bus, &u->ue_owner_match, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                              "org.freedesktop.DBus", "NameOwnerChanged", on_ue_owner_changed, NULL, u);
        if (r < 0) {
                u->disconnect_match = sd_bus_slot_unref(u->disconnect_match);
                u->ue_match = sd_bus_slot_unref(u->ue_match);
                u->ue_owner_match = sd_bus_slot_unref(u->ue_owner_match);
                return r;
        }
        u->bus = TAKE_PTR(bus);
        if (watch_update_engine(u))
                updater_get_status(u);
        updater_step(u); /* logind may be needed now */
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

/* The system bus: update_engine on Flatcar and Container Linux, logind (inhibitor, reboot) wherever updates are
 * managed. */
static void updater_watch(Updater *u) {
        int r;

        if (!updater_is_managed(u)) {
                updater_bus_drop(u);
                return;
        }
        /* a change of OS (a fixture, in tests) changes what is watched */
        if (u->bus && (!!u->ue_match) != watch_update_engine(u))
                updater_bus_drop(u);
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
        u->drain_timeout_s = c->drain_timeout_s;
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
        updater_setup_fleetlock(u);
        updater_setup_endpoint(u);
        updater_watch(u);
        updater_step(u);
        return 0;
}

int updater_new(Updater **ret, sd_event *event, HttpClient *http, const UpdaterHooks *hooks, const char *root,
                const char *state_dir, const Config *config) {
        _cleanup_(updater_freep) Updater *u = calloc(1, sizeof(Updater));
        int r;

        if (!u)
                return -ENOMEM;
        u->inhibit_fd = -1;
        u->event = sd_event_ref(event);
        u->http = http;
        if (hooks)
                u->hooks = *hooks;
        u->root = strdup(root ?: "/");
        u->state_path = path_join(state_dir, "updates.json");
        if (!u->root || !u->state_path)
                return -ENOMEM;
        updater_read_boot_id(u);
        r = updater_load(u);
        if (r < 0)
                log_event(LOG_ERR, r, "updates-state-invalid", NULL, BALLAST_MESSAGE_ERROR,
                          "Not rebooting for updates: %s", strna(u->state_error));
        /* The flow leaves locking only holding the lock, and enters rebooting only to reboot: a restart of
         * ballastd (or the reboot) in those states resumes from there. */
        /* Resumed in rebooting in the same boot: that state is saved before logind is asked (or Zincati answered),
         * and a ballastd that runs again in the boot it was in was not taken down by a shutdown (none would start
         * it again), so the reboot has not started. The flow goes back one step, to draining with the lock held:
         * this ballastd drains again (its services may have been started again meanwhile), then asks logind
         * again, and a pause calls the attempt off, lock released. (On Fedora CoreOS a 200 may have reached
         * Zincati just before the crash; a pause in the seconds it takes Zincati to reboot then releases the lock
         * early. Not rebooting against the operator's pause is the better side of that.) */
        if (u->flow.state == REBOOT_STATE_REBOOTING && u->flow.boot_id[0] && u->boot_id[0] &&
            streq(u->flow.boot_id, u->boot_id)) {
                log_info("Reboot flow: resumed in the boot it was in; the reboot was not under way: draining again.");
                u->flow.state = REBOOT_STATE_DRAINING;
        }
        u->lock_held = u->flow.state == REBOOT_STATE_DRAINING || u->flow.state == REBOOT_STATE_REBOOTING;
        u->reboot_started = u->flow.state == REBOOT_STATE_REBOOTING;
        if (u->flow.state != REBOOT_STATE_IDLE)
                log_event(LOG_INFO, 0, "reboot-flow-resumed", NULL, NULL, "Reboot flow resumed in state %s%s.",
                          updates_reboot_state_to_string(u->flow.state),
                          u->flow.boot_id[0] && u->boot_id[0] && !streq(u->flow.boot_id, u->boot_id)
                                  ? ", after a reboot" : "");
        r = sd_event_add_time_relative(event, &u->reboot_retry, CLOCK_MONOTONIC, REBOOT_RETRY_MIN_USEC, 0,
                                       on_reboot_retry, u);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(u->reboot_retry, SD_EVENT_OFF);
        (void) sd_event_source_set_description(u->reboot_retry, "updates-reboot-retry");
        r = sd_event_add_time_relative(event, &u->drain_timer, CLOCK_MONOTONIC, USEC_PER_SEC, USEC_PER_SEC,
                                       on_drain_timeout, u);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(u->drain_timer, SD_EVENT_OFF);
        (void) sd_event_source_set_description(u->drain_timer, "updates-drain-timeout");
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
        lock_server_free(u->endpoint);
        free(u->endpoint_error);
        fleetlock_free(u->fleetlock);
        fleetlock_free(u->fleetlock_retired);
        free(u->lock_url_in_use);
        free(u->lock_group_in_use);
        updater_bus_drop(u);
        safe_close(u->inhibit_fd);
        sd_event_source_disable_unref(u->reboot_retry);
        sd_event_source_disable_unref(u->drain_timer);
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
        free(u->state_write_error);
        updates_os_info_done(&u->os);
        free(u->os_error);
        free(u->file_path);
        free(u->file_error);
        free(u->ue_operation);
        free(u->ue_new_version);
        free(u->ue_error);
        free(u->new_version);
        updates_reboot_flow_done(&u->flow);
        free(u->lock_id);
        free(u->lock_setup_error);
        free(u->lock_message);
        free(u->lock_kind);
        free(u->drain_error);
        free(u->inhibit_error);
        free(u->reboot_error);
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

/* The gate's reason, made exact with what the flow met on the way: why the lock is not held, why the drain or
 * the reboot did not happen. */
static void decision_explain(Updater *u, RebootDecision *d) {
        if (d->allow && u->flow.state == REBOOT_STATE_REBOOTING && u->reboot_error && !u->reboot_started)
                *d = (RebootDecision) { .allow = false, .reason = "reboot-failed", .message = u->reboot_error };
        if (d->allow)
                return;
        if (streq(d->reason, "config-error") && u->state_write_error)
                d->message = u->state_write_error;
        else if (streq(d->reason, "no-lock")) {
                if (u->lock_setup_error)
                        d->message = u->lock_setup_error;
                else if (u->lock_reason && !streq(u->lock_reason, "lock-ok") && u->lock_message &&
                         u->flow.state == REBOOT_STATE_LOCKING) {
                        d->reason = u->lock_reason;
                        d->message = u->lock_message;
                }
        } else if (streq(d->reason, "not-drained") && u->drain_error) {
                d->reason = "drain-failed";
                d->message = u->drain_error;
        }
}

static json_t *usec_or_null(uint64_t t) {
        return t ? json_integer((json_int_t) t) : json_null();
}

static json_t *lock_json(Updater *u) {
        return json_pack("{s:b,s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:I,s:i,s:o,s:o,s:b,s:b,s:s?}",
                         "held", u->lock_held,
                         "url", uses_lock(u) ? u->fleet_lock_url : NULL,
                         "group", uses_lock(u) ? u->fleet_lock_group : NULL,
                         "id", uses_lock(u) ? u->lock_id : NULL,
                         "reason", u->lock_reason,
                         "message", u->lock_message,
                         "kind", u->lock_kind,
                         "status", (json_int_t) u->lock_status,
                         "failures", (int) u->lock_failures,
                         "at_usec", usec_or_null(u->lock_at_usec),
                         "retry_at_usec", usec_or_null(u->lock_retry_at_usec),
                         "pre_reboot_pending", fleetlock_pending(u->fleetlock, FLEETLOCK_PRE_REBOOT),
                         "steady_state_pending", fleetlock_pending(u->fleetlock, FLEETLOCK_STEADY_STATE),
                         "error", u->lock_setup_error);
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
                decision_explain(u, &now);
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
                      "state_error", u->state_error ?: u->state_write_error,
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
        if (j) {
                json_object_set_new(j, "time_zone", json_string(effective_time_zone(u)));
                json_object_set_new(j, "lock", lock_json(u));
                json_object_set_new(j, "drain", json_pack("{s:b,s:b,s:b,s:I,s:s?}", "requested", u->drain_requested,
                                                          "drained", drained(u), "timed_out", u->drain_timed_out,
                                                          "timeout_s", (json_int_t) u->drain_timeout_s,
                                                          "error", u->drain_error));
                json_object_set_new(j, "inhibitor", json_pack("{s:b,s:s?}", "held", u->inhibit_fd >= 0,
                                                              "error", u->inhibit_error));
                json_object_set_new(j, "reboot", json_pack("{s:b,s:b,s:i,s:s?}", "asked", u->reboot_asked,
                                                           "started", u->reboot_started, "failures",
                                                           (int) u->reboot_failures, "error", u->reboot_error));
                json_object_set_new(j, "boot_id", json_string(u->boot_id));
                if (u->os.kind == OS_FEDORA_COREOS)
                        json_object_set_new(j, "zincati",
                                            json_pack("{s:s,s:b,s:s?,s:s?,s:i,s:o}", "endpoint",
                                                      UPDATER_FLEETLOCK_BASE_URL, "serving", u->endpoint != NULL,
                                                      "error", u->endpoint_error, "last_request",
                                                      u->zincati_last_op, "last_answer", u->zincati_last_answer,
                                                      "last_request_usec", usec_or_null(u->zincati_last_usec)));
        }
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
