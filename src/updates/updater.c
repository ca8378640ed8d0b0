/* SPDX-License-Identifier: MIT */
/* The updater: the gate's inputs gathered, the reboot flow stepped and acted on (lock, drain, reboot, with their
 * timeouts), its configuration set and its life cycle. The rules it applies are pure (flow.c, gate.c,
 * windows.c); its state file, status, lock, system calls and Varlink methods are its other updater-*.c files. */
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

/* LOCKING: the lock asked of the cluster's server, once, after the record of which server it is asked of. */
static void updater_act_locking(Updater *u) {
        if (!uses_lock(u) || u->lock_held || !u->fleetlock)
                return; /* without a client: no lock, no reboot (lock_setup_error says why) */
        if (fleetlock_pending(u->fleetlock, FLEETLOCK_PRE_REBOOT))
                return;
        /* recorded before it is asked (it may be granted without our seeing the answer): which
         * server may hold a lock for us outlives a restart and a change of the configuration */
        if (!streq_ptr(u->lock_rec.url, u->lock_url_in_use) ||
            !streq_ptr(u->lock_rec.group, u->lock_group_in_use) || !streq_ptr(u->lock_rec.id, u->lock_id)) {
                if (lock_record_set(&u->lock_rec, u->lock_url_in_use, u->lock_group_in_use,
                                    u->lock_id) < 0 ||
                    updater_save(u) < 0)
                        return; /* not recorded: not asked (retried at the next step) */
        }
        (void) fleetlock_start(u->fleetlock, FLEETLOCK_PRE_REBOOT);
}

/* REBOOTING: drained (again), then rebooted; on Fedora CoreOS called off when Zincati stays silent. Returns
 * true when an input of the flow changed. */
static bool updater_act_rebooting(Updater *u) {
        /* after a restart of ballastd in this state, the services may have come back: drain again */
        bool was = u->drain_requested, changed;

        updater_start_drain(u);
        changed = u->drain_requested && !was;
        if (u->os.kind == OS_FEDORA_COREOS && !u->reboot_started && u->zincati_last_usec > 0 &&
            now_usec(CLOCK_REALTIME) > u->zincati_last_usec + ZINCATI_SILENCE_USEC) {
                log_event(LOG_WARNING, 0, "zincati-silent", NULL, NULL,
                          "Zincati has not asked to finalize for %d min: the reboot is called off, the node undrained.",
                          (int) (ZINCATI_SILENCE_USEC / USEC_PER_SEC / 60));
                u->reboot_needed = false;
                u->need_known = true;
                return true;
        }
        if (!drained(u))
                return changed;
        /* logind would wait for our own delay inhibitor before rebooting */
        updater_uninhibit(u);
        if (u->os.kind != OS_FEDORA_COREOS) /* there Zincati reboots, once told 200 */
                updater_reboot(u);
        return changed;
}

/* POST_REBOOT_UNLOCK: the node undrained, then the lock released (or nothing to release). Returns true when an
 * input of the flow changed. */
static bool updater_act_unlock(Updater *u) {
        bool changed = false;

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
                return changed;
        if (!uses_lock(u) || !u->fleetlock) {
                /* no lock server to tell: nothing was locked */
                u->unlocked = true;
                u->lock_held = false;
                changed = true;
        } else if (!fleetlock_pending(u->fleetlock, FLEETLOCK_STEADY_STATE))
                (void) fleetlock_start(u->fleetlock, FLEETLOCK_STEADY_STATE);
        return changed;
}

/* Makes what the current state stands for happen (idempotent: again after a restart of ballastd). Returns
 * true when an input of the flow changed on the way, so that the flow is looked at again. */
static bool updater_act(Updater *u) {
        switch (u->flow.state) {
        case REBOOT_STATE_IDLE:
        case REBOOT_STATE_NEEDED:
        case REBOOT_STATE_WAITING_WINDOW:
                if (fleetlock_pending(u->fleetlock, FLEETLOCK_PRE_REBOOT))
                        fleetlock_cancel(u->fleetlock);
                updater_uninhibit(u);
                return false;

        case REBOOT_STATE_LOCKING:
                updater_act_locking(u);
                return false;

        case REBOOT_STATE_DRAINING: {
                bool was = u->drain_requested;

                updater_inhibit(u);
                updater_start_drain(u);
                return u->drain_requested && !was;
        }

        case REBOOT_STATE_REBOOTING:
                return updater_act_rebooting(u);

        case REBOOT_STATE_POST_REBOOT_UNLOCK:
                return updater_act_unlock(u);

        default:
                return false;
        }
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
