/* SPDX-License-Identifier: MIT */
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
                r = write_file_atomic(u->state_path, text, strlen(text), 0600); /* state: root only */
        if (r < 0)
                return log_warning_errno(r, "Failed to write %s: %m", u->state_path);
        u->state_write_error = mfree(u->state_write_error);
        return 0;
}

static int updater_load(Updater *u) {
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

/* ---- the gate and the flow ---- */

/* States in which the flow has decided that a reboot is needed. */
static bool flow_wants_reboot(RebootState s) {
        return s == REBOOT_STATE_NEEDED || s == REBOOT_STATE_WAITING_WINDOW || s == REBOOT_STATE_LOCKING ||
               s == REBOOT_STATE_DRAINING || s == REBOOT_STATE_REBOOTING;
}

void updater_inputs(Updater *u, GateView *g) {
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
                .clock_known = updater_clock_known(u),
                .config_error = !updater_is_managed(u) || u->file_error || u->state_error || u->state_write_error,
                .strategy = u->strategy,
                .max_version = u->max_version,
                .new_version = version,
                /* Fedora CoreOS: the staged deployment must stay in the pinned stream (Flatcar's is written) */
                .stream = u->os.kind == OS_FEDORA_COREOS ? effective_channel(u) : NULL,
                .new_stream = u->staged.present ? u->staged.stream : NULL,
                .new_boot = u->flow.boot_id[0] && u->boot_id[0] && !streq(u->flow.boot_id, u->boot_id),
                .reboot_started = u->reboot_started,
                .unlocked = u->unlocked,
                .reboot_timed_out = u->reboot_timed_out,
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
        } else if (s == REBOOT_STATE_POST_REBOOT_UNLOCK && g->in.reboot_timed_out) {
                reason = "reboot-timeout";
                why = "The reboot did not come within reboot_timeout_s.";
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
                u->reboot_timed_out = false;
                (void) sd_event_source_set_enabled(u->reboot_retry, SD_EVENT_OFF);
                break;
        case REBOOT_STATE_IDLE:
                u->lock_held = false;
                break;
        default:
                break;
        }
        /* a reboot that does not come within the bound is called off */
        if (s == REBOOT_STATE_REBOOTING)
                (void) sd_event_source_set_time_relative(u->reboot_timer, u->reboot_timeout_s * USEC_PER_SEC);
        (void) sd_event_source_set_enabled(u->reboot_timer, s == REBOOT_STATE_REBOOTING ? SD_EVENT_ONESHOT
                                                                                         : SD_EVENT_OFF);
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

/* Drained and told to reboot (logind asked, or Zincati answered 200), and still in this boot after
 * reboot_timeout_s: the reboot is not coming. The node is undrained and the lock released (the flow goes to
 * post-reboot-unlock); on Fedora CoreOS the need is forgotten until Zincati asks again. */
static int on_reboot_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Updater *u = userdata;

        if (u->flow.state != REBOOT_STATE_REBOOTING)
                return 0;
        u->reboot_timed_out = true;
        log_event(LOG_WARNING, 0, "reboot-timeout", NULL, NULL,
                  "The reboot into %s did not come within %u s (reboot_timeout_s): undraining the node and "
                  "releasing the lock.", strna(u->flow.version), u->reboot_timeout_s);
        if (u->os.kind == OS_FEDORA_COREOS) {
                u->reboot_needed = false;
                u->need_known = true;
        }
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
                if (fleetlock_pending(u->fleetlock, FLEETLOCK_PRE_REBOOT))
                        break;
                /* recorded before it is asked (it may be granted without our seeing the answer): which
                 * server may hold a lock for us outlives a restart and a change of the configuration */
                if (!streq_ptr(u->lock_rec.url, u->lock_url_in_use) ||
                    !streq_ptr(u->lock_rec.group, u->lock_group_in_use) || !streq_ptr(u->lock_rec.id, u->lock_id)) {
                        if (lock_record_set(&u->lock_rec, u->lock_url_in_use, u->lock_group_in_use,
                                            u->lock_id) < 0 ||
                            updater_save(u) < 0)
                                break; /* not recorded: not asked (retried at the next step) */
                }
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

void updater_step(Updater *u) {
        /* acting can call back (a drain with nothing to stop is done at once): one pass at a time */
        if (u->stepping)
                return;
        u->stepping = true;
        /* what the gate reads from other daemons, asked again (answers come later and step again if changed) */
        updater_clock_refresh(u);
        updater_fcos_refresh(u);
        /* the clock's first answer is on its way (e.g. a resume after a crash): a gate that decided without it
         * would say clock-unknown and call off an attempt under way; its answer steps again */
        if (u->clock_call && u->clock_synced == -EAGAIN) {
                /* a drain under way goes on meanwhile (it holds nothing back): services stay stopped */
                if (u->flow.state == REBOOT_STATE_DRAINING)
                        (void) updater_act(u);
                u->stepping = false;
                return;
        }
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

static int on_window_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Updater *u = userdata;

        updater_step(u);
        (void) sd_event_source_set_time_relative(s, WINDOW_RECHECK_USEC);
        return 0;
}

/* ---- life cycle ---- */

int updater_set_config(Updater *u, const UpdatesPolicy *c) {
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
        u->managed = c->managed;
        u->drain_timeout_s = c->drain_timeout_s;
        u->reboot_timeout_s = c->reboot_timeout_s ?: 900;
        u->strategy = updates_strategy_from_string(c->strategy);
        if ((int) u->strategy < 0)
                u->strategy = UPDATES_STRATEGY_OFF;
        r = set_string(&u->channel, c->channel);
        if (r >= 0)
                r = set_string(&u->max_version, c->max_version);
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
                const char *state_dir, const UpdatesPolicy *policy) {
        _cleanup_(updater_freep) Updater *u = calloc(1, sizeof(Updater));
        int r;

        if (!u)
                return -ENOMEM;
        u->inhibit_fd = -1;
        u->clock_synced = -EAGAIN;
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
        /* held only where it was asked for (updater_setup_fleetlock() compares that with the configuration) */
        u->lock_held = (u->flow.state == REBOOT_STATE_DRAINING || u->flow.state == REBOOT_STATE_REBOOTING) &&
                       (u->lock_rec.url || u->lock_rec_legacy);
        updater_release_recorded(u); /* a release at an earlier server that a restart interrupted */
        u->reboot_started = u->flow.state == REBOOT_STATE_REBOOTING;
        if (u->flow.state != REBOOT_STATE_IDLE)
                log_event(LOG_INFO, 0, "reboot-flow-resumed", NULL, NULL, "Reboot flow resumed in state %s%s.",
                          updates_reboot_state_to_string(u->flow.state),
                          u->flow.boot_id[0] && u->boot_id[0] && !streq(u->flow.boot_id, u->boot_id)
                                  ? ", after a reboot" : "");
        r = sd_event_add_time_relative(event, &u->reboot_retry, CLOCK_MONOTONIC, REBOOT_RETRY_MIN_USEC, 0,
                                       updater_on_reboot_retry, u);
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
        r = sd_event_add_time_relative(event, &u->reboot_timer, CLOCK_MONOTONIC, USEC_PER_SEC, USEC_PER_SEC,
                                       on_reboot_timeout, u);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(u->reboot_timer, SD_EVENT_OFF);
        (void) sd_event_source_set_description(u->reboot_timer, "updates-reboot-timeout");
        r = sd_event_add_time_relative(event, &u->bus_retry, CLOCK_MONOTONIC, BUS_RETRY_USEC, 0, updater_on_bus_retry, u);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(u->bus_retry, SD_EVENT_OFF);
        (void) sd_event_source_set_description(u->bus_retry, "updates-bus-retry");
        r = sd_event_add_time_relative(event, &u->window_timer, CLOCK_MONOTONIC, WINDOW_RECHECK_USEC, USEC_PER_SEC,
                                       on_window_timer, u);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(u->window_timer, "updates-window");
        r = updater_set_config(u, policy);
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
        lock_record_clear(&u->lock_rec);
        lock_record_clear(&u->release_rec);
        updater_bus_drop(u);
        safe_close(u->inhibit_fd);
        sd_event_source_disable_unref(u->reboot_retry);
        sd_event_source_disable_unref(u->drain_timer);
        sd_event_source_disable_unref(u->reboot_timer);
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
        free(u->clock_error);
        updater_fcos_done(u);
        free(u);
        return NULL;
}

/* ---- status ---- */

void updater_unmanaged_decision(Updater *u, RebootDecision *d) {
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
void updater_decision_explain(Updater *u, RebootDecision *d) {
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

static json_t *window_json(const GateView *g) {
        json_t *win = json_pack("{s:s}", "state",
                                g->window_r == UPDATES_WINDOW_INSIDE ? "inside" :
                                g->window_r == UPDATES_WINDOW_OUTSIDE ? "outside" :
                                g->window_r == UPDATES_WINDOW_NONE ? "none" : "unknown");

        if (g->window_r < 0)
                json_object_set_new(win, "error", json_string(g->window_r == -ENOENT ? "unknown time zone" : strerror(-g->window_r)));
        if (g->next_start > 0)
                json_object_set_new(win, "next_start_usec", json_integer(g->next_start * (json_int_t) USEC_PER_SEC));
        if (g->end > 0)
                json_object_set_new(win, "end_usec", json_integer(g->end * (json_int_t) USEC_PER_SEC));
        return win;
}

/* The parts of the status that the loop keeps: lock, drain, inhibitor, reboot, Zincati. */
static void status_add_runtime(Updater *u, json_t *j) {
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
        json_object_set_new(j, "clock", json_pack("{s:b,s:s?,s:s?}", "synchronized", u->clock_synced > 0,
                                                  "source", u->clock_source, "error", u->clock_error));
        if (u->os.kind == OS_FEDORA_COREOS)
                json_object_set_new(j, "rpm_ostree", updater_fcos_status_json(u));
        if (u->os.kind == OS_FEDORA_COREOS)
                json_object_set_new(j, "zincati",
                                    json_pack("{s:s,s:b,s:s?,s:s?,s:i,s:o}", "endpoint",
                                              UPDATER_FLEETLOCK_BASE_URL, "serving", u->endpoint != NULL,
                                              "error", u->endpoint_error, "last_request",
                                              u->zincati_last_op, "last_answer", u->zincati_last_answer,
                                              "last_request_usec", usec_or_null(u->zincati_last_usec)));
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
                updater_unmanaged_decision(u, &now), policy = now;
        else {
                RebootInputs hyp = g.in;

                updates_may_reboot(&g.in, &now);
                updater_decision_explain(u, &now);
                /* the same as if a reboot into the running version were needed: what policy says right now */
                hyp.reboot_needed = true;
                if (!hyp.new_version)
                        hyp.new_version = u->os.version;
                if (!hyp.new_stream)
                        hyp.new_stream = u->booted.stream;
                updates_may_reboot(&hyp, &policy);
        }
        win = window_json(&g);
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
        if (j)
                status_add_runtime(u, j);
        return j;
}

json_t *updater_report_json(Updater *u) {
        json_t *s = updater_status_json(u), *decision = json_object_get(s, "decision"), *r;
        bool managed = updater_is_managed(u);

        /* schema 2 added since_usec, message, os_version, stream, channel, paused, lock_held, lock_group, drained:
         * what `ballastctl nodes` shows of an update wave */
        r = json_pack("{s:s,s:O?,s:b,s:b,s:O?,s:O?,s:O?,s:o,s:s?,s:s?,s:s?,s:b,s:b,s:s?,s:b}",
                      "state", managed ? updates_reboot_state_to_string(u->flow.state) : "unmanaged",
                      "os", json_object_get(json_object_get(s, "os"), "kind"),
                      "managed", managed,
                      "reboot_needed", u->reboot_needed,
                      "new_version", json_object_get(s, "new_version"),
                      "reason", json_object_get(decision, "reason"),
                      "message", json_object_get(decision, "message"),
                      "since_usec", managed ? usec_or_null(u->flow.since_usec) : json_null(),
                      "os_version", u->os.version,
                      /* Fedora CoreOS: the booted deployment's stream; Flatcar: the channel is the stream */
                      "stream", u->os.kind == OS_FEDORA_COREOS ? u->booted.stream : effective_channel(u),
                      "channel", effective_channel(u),
                      "paused", u->paused,
                      "lock_held", u->lock_held,
                      "lock_group", uses_lock(u) ? u->fleet_lock_group : NULL,
                      "drained", managed && drained(u));
        json_decref(s);
        return r;
}
