/* SPDX-License-Identifier: MIT */
/* Updates gated by health, and rollback (docs/SERVICES.md, "Updates and rollback"). A changed spec of a
 * service applied over the socket is kept (history.h) with the one it replaces, and an update mark written,
 * all before the new spec itself: the old version keeps serving while the image is pulled (supervisor-pull.c),
 * then the restart replaces it. The update is over when the new version is healthy: its start job is done (a
 * Docker service with a health check is ready only once its first check passed) and, for an exec service with
 * a check, a check passed. When the start fails, or the checks give up, the kept spec it replaced is put back
 * (spec file, unit, container), the failed one set aside for inspection, and the rollback recorded. A
 * ballastd killed at any moment finds the mark at its next start: it finishes the update (the new spec is the
 * one on disk) or abandons it (the old one is). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "shared/backoff.h"
#include "shared/fileio.h"
#include "shared/log.h"
#include "shared/time-util.h"
#include "supervisor/applied.h"
#include "supervisor/history.h"
#include "supervisor/supervisor-internal.h"

static bool change_needs_restart(const ServiceSpec *have, const ServiceSpec *want) {
        return have && !service_spec_equal(have, want) && !specs_differ_only_in_resources(have, want);
}

int service_update_prepare(Supervisor *s, Service *svc, const ServiceSpec *spec, UpdateMark *ret_mark,
                           uint64_t *ret_rev, char **ret_path) {
        uint64_t from = 0, to = 0;
        int r;

        *ret_mark = (UpdateMark) {};
        if (svc && svc->spec && change_needs_restart(svc->spec, spec)) {
                if (svc->update_phase != UPDATE_NONE) {
                        /* an update replaced before it was over: the fallback stays the last good spec */
                        from = svc->update.from_rev;
                        (void) history_set_aside(s->state_dir, spec->name, svc->update.to_rev);
                } else {
                        /* the running spec is kept first (a service older than its history has none yet) */
                        r = history_append(s->state_dir, spec->name, svc->spec, &from, ret_path);
                        if (r < 0)
                                return r;
                }
        }
        r = history_append(s->state_dir, spec->name, spec, &to, ret_path);
        if (r < 0)
                return r;
        *ret_rev = to;
        if (from == 0 || from == to)
                return 0;
        *ret_mark = (UpdateMark) { .from_rev = from, .to_rev = to, .since_usec = now_usec(CLOCK_REALTIME) };
        r = update_mark_write(s->state_dir, spec->name, ret_mark);
        if (r < 0) {
                *ret_path = path_join(s->state_dir, HISTORY_DIR);
                return r;
        }
        return 1;
}

static uint64_t grace_ms(const ServiceSpec *spec) {
        if (spec->health == HEALTH_NONE)
                return 0;
        return spec->health_start_period_ms +
               (uint64_t) spec->health_retries * (spec->health_interval_ms + spec->health_timeout_ms);
}

static void settle_reset(Service *svc) {
        svc->settle.armed = false;
}

void service_update_started(Service *svc, const UpdateMark *m, uint64_t rev) {
        svc->revision = rev;
        if (m->to_rev == 0)
                return; /* no restart needed: an update in progress goes on */
        svc->update = *m;
        svc->update_phase = UPDATE_WAITING;
        settle_reset(svc);
        if (svc->spec->health == HEALTH_NONE) {
                log_event(LOG_INFO, 0, "update-started", svc->name, NULL,
                          "Updating %s from revision %llu to %llu; rolled back if it exits within %u ms of its "
                          "start (it has no health check).", svc->name, (unsigned long long) m->from_rev,
                          (unsigned long long) m->to_rev, RUN_STABLE_MS);
                return;
        }
        log_event(LOG_INFO, 0, "update-started", svc->name, NULL,
                  "Updating %s from revision %llu to %llu; rolled back unless it is healthy within %llu ms of "
                  "running (its health check's start period, retries x (interval + timeout)).", svc->name,
                  (unsigned long long) m->from_rev, (unsigned long long) m->to_rev,
                  (unsigned long long) grace_ms(svc->spec));
}

/* why: "it is healthy", or how a service without a health check showed it works */
static void update_done(Service *svc, const char *why) {
        Supervisor *s = svc->supervisor;

        svc->update_phase = UPDATE_NONE;
        settle_reset(svc);
        (void) update_mark_clear(s->state_dir, svc->name);
        log_event(LOG_INFO, 0, "update-done", svc->name, NULL, "Updated %s to revision %llu: %s.", svc->name,
                  (unsigned long long) svc->update.to_rev, why);
}

void service_update_job_queued(Service *svc) {
        if (svc->update_phase == UPDATE_WAITING)
                svc->update_phase = UPDATE_STARTING;
}

/* Not running when its restart was due (or stopping: a restart queued by an earlier life of ballastd): it starts
 * from the new unit, and its health decides. */
void service_update_not_restarted(Service *svc) {
        if (svc->update_phase == UPDATE_WAITING)
                svc->update_phase = UPDATE_CHECKING;
}

void service_update_job_done(Service *svc, const char *result) {
        _cleanup_free_ char *reason = NULL;

        if (svc->update_phase != UPDATE_STARTING && svc->update_phase != UPDATE_CHECKING)
                return;
        if (streq(result, "canceled"))
                return; /* another job replaced it (a stop, a restart): no verdict on the new version */
        if (streq(result, "done")) {
                if (svc->spec->health == HEALTH_NONE) {
                        /* up: its run must last (the unit's state may have been seen before this answer) */
                        svc->update_phase = UPDATE_CHECKING;
                        service_update_observe(svc, bus_unit(svc->supervisor->bus, svc->unit));
                } else if (svc->update_phase == UPDATE_STARTING && svc->spec->runtime != SERVICE_RUNTIME_DOCKER)
                        svc->update_phase = UPDATE_CHECKING; /* up, its health not known yet */
                else
                        update_done(svc, "it is healthy");
                return;
        }
        if (asprintf(&reason, "its start failed (job %s)%s%s", result,
                     svc->health_restart_reason || svc->health_reason ? ": " : "",
                     strempty(svc->health_restart_reason ?: svc->health_reason)) < 0)
                return;
        (void) service_rollback(svc->supervisor, svc, reason, false);
}

/* Its start job's answer was lost with the bus: no verdict from the job, its health decides (the unit is seen
 * as it is once systemd answers again; at exit, the next ballastd finds the update mark). */
void service_update_job_lost(Service *svc) {
        if (svc->update_phase == UPDATE_STARTING)
                svc->update_phase = UPDATE_CHECKING;
}

void service_update_healthy(Service *svc) {
        if (svc->update_phase == UPDATE_CHECKING)
                update_done(svc, "it is healthy");
}

bool service_update_unhealthy(Service *svc, const char *reason) {
        _cleanup_free_ char *why = NULL;

        if (svc->update_phase != UPDATE_CHECKING)
                return false;
        if (asprintf(&why, "it did not pass a health check within %llu ms: %s",
                     (unsigned long long) grace_ms(svc->spec), strna(reason)) < 0)
                return false;
        return service_rollback(svc->supervisor, svc, why, false) >= 0;
}

/* What a rollback goes back to: the update's old revision, or (none in progress) the kept one before the
 * current. -ENOENT when there is none. */
static int rollback_target(Supervisor *s, Service *svc, uint64_t *ret_failed, uint64_t *ret_target) {
        _cleanup_free_ uint64_t *revs = NULL;
        uint64_t current;
        size_t n = 0;
        int r;

        if (svc->update_phase != UPDATE_NONE) {
                *ret_failed = svc->update.to_rev;
                *ret_target = svc->update.from_rev;
                return 0;
        }
        r = history_list(s->state_dir, svc->name, false, &revs, &n);
        if (r < 0)
                return r;
        current = svc->revision ?: (n > 0 ? revs[n - 1] : 0);
        *ret_failed = current;
        *ret_target = history_previous(revs, n, current);
        return *ret_target == 0 ? -ENOENT : 0;
}

/* The spec file first (with the restart mark): a ballastd killed after it runs the old spec at its next start. */
static int rollback_persist(Supervisor *s, Service *svc, const ServiceSpec *spec, char **ret_path) {
        _cleanup_free_ char *path = service_spec_path(s, svc->name), *text = NULL;
        int r;

        if (!path || applied_spec_render(spec, &text) < 0)
                return -ENOMEM;
        r = restart_marker_set(s, svc);
        if (r >= 0)
                r = write_if_changed(path, text, 0600);
        if (r < 0 && ret_path)
                *ret_path = TAKE_PTR(path);
        return r;
}

int service_rollback(Supervisor *s, Service *svc, const char *reason, bool by_hand) {
        _cleanup_(service_spec_freep) ServiceSpec *spec = NULL;
        _cleanup_free_ char *error = NULL;
        RollbackRecord rec;
        uint64_t failed = 0, target = 0;
        int r;

        r = rollback_target(s, svc, &failed, &target);
        if (r < 0)
                return r;
        r = history_load(s->state_dir, svc->name, target, false, &spec, &error);
        if (r < 0)
                return log_event(LOG_ERR, r, "rollback-failed", svc->name, BALLAST_MESSAGE_ERROR,
                                 "Cannot roll %s back to revision %llu: %s", svc->name, (unsigned long long) target,
                                 error ?: strerror(-r));
        r = rollback_persist(s, svc, spec, NULL);
        if (r < 0)
                return log_event(LOG_ERR, r, "rollback-failed", svc->name, BALLAST_MESSAGE_ERROR,
                                 "Cannot roll %s back: writing its spec: %m", svc->name);
        rec = (RollbackRecord) { .at_usec = now_usec(CLOCK_REALTIME), .failed_rev = failed, .restored_rev = target,
                                 .by_hand = by_hand, .reason = (char *) reason };
        if (rollback_record_write(s->state_dir, svc->name, &rec) < 0)
                log_warning("Cannot record the rollback of %s; it is done all the same.", svc->name);
        if (history_set_aside(s->state_dir, svc->name, failed) < 0)
                log_warning("Cannot set revision %llu of %s aside.", (unsigned long long) failed, svc->name);
        (void) update_mark_clear(s->state_dir, svc->name);

        rollback_record_done(&svc->last_rollback);
        svc->last_rollback = rec;
        svc->last_rollback.reason = strdup(reason);
        svc->update_phase = UPDATE_NONE;
        settle_reset(svc);
        svc->revision = target;
        log_event(LOG_WARNING, 0, "service-rolled-back", svc->name, BALLAST_MESSAGE_SERVICE_ROLLED_BACK,
                  "Rolled %s back from revision %llu to %llu%s: %s. The failed spec is kept in %s/%s/%s/%llu.failed.json.",
                  svc->name, (unsigned long long) failed, (unsigned long long) target, by_hand ? " by hand" : "",
                  reason, s->state_dir, HISTORY_DIR, svc->name, (unsigned long long) failed);
        service_set_spec(svc, TAKE_PTR(spec));
        svc->just_applied = true;
        svc->health_restarts_in_row = 0;
        supervisor_schedule_reconcile(s);
        return 0;
}

/* ---- a service without a health check: its new version must run RUN_STABLE_MS without exiting ---- */

/* an update whose new version, without a health check, must show it keeps running */
static bool settle_applies(const Service *svc) {
        return svc->update_phase == UPDATE_CHECKING && svc->spec->health == HEALTH_NONE;
}

static bool settle_same_run(const Service *svc, const UnitState *u) {
        return u && streq_ptr(u->active_state, "active") && u->active_enter_usec == svc->settle.active_enter_usec &&
               u->n_restarts == svc->settle.n_restarts;
}

/* The run counts from when the unit entered "active" (systemd's clock, CLOCK_REALTIME as since_usec): a ballastd
 * started later counts the time before it. */
static void settle_arm(Service *svc, const UnitState *u) {
        uint64_t now = now_usec(CLOCK_REALTIME), window = (uint64_t) RUN_STABLE_MS * USEC_PER_MSEC, ran = 0;

        if (u->active_enter_usec > 0 && now > u->active_enter_usec)
                ran = MIN(now - u->active_enter_usec, window);
        svc->settle.armed = true;
        svc->settle.n_restarts = u->n_restarts;
        svc->settle.active_enter_usec = u->active_enter_usec;
        svc->settle.until_usec = now_usec(CLOCK_MONOTONIC) + window - ran;
        service_health_schedule(svc, window - ran);
}

/* The watched run ended early (u: inactive, failed, or active again). An end that ballastd caused, or a stop or
 * restart by hand, says nothing of the new version: its next run is watched. A clean exit of a service that is
 * not restarted after one is a run that finished its work. Any other end (a failure, or a restart by systemd's
 * Restart=) fails the update. */
static void settle_run_ended(Service *svc, const UnitState *u) {
        Supervisor *s = svc->supervisor;
        bool restarted = u->n_restarts != svc->settle.n_restarts;
        _cleanup_free_ char *why = NULL;

        if (svc->job_in_flight || svc->stop_in_flight || svc->stop_deciding || svc->stopped != STOPPED_NONE ||
            s->draining || (!restarted && streq(u->active_state, "active"))) {
                settle_reset(svc);
                return;
        }
        if (!restarted && streq_ptr(u->result, "success")) {
                if (svc->spec->restart != RESTART_ALWAYS && streq(u->active_state, "inactive"))
                        update_done(svc, "it ran to a clean exit");
                else
                        settle_reset(svc);
                return;
        }
        if (asprintf(&why, "it exited within %u ms of its start (it has no health check): result %s, status %d",
                     RUN_STABLE_MS, strna(u->result), (int) u->exec_main_status) < 0)
                return;
        (void) service_rollback(s, svc, why, false);
}

void service_update_observe(Service *svc, const UnitState *u) {
        if (!settle_applies(svc) || !u || !u->active_state)
                return;
        if (svc->settle.armed && !settle_same_run(svc, u)) {
                /* activating, deactivating, reloading: on the way to an end not known yet */
                if (!streq(u->active_state, "active") && !streq(u->active_state, "inactive") &&
                    !streq(u->active_state, "failed"))
                        return;
                settle_run_ended(svc, u); /* may roll back, or be done */
        }
        /* a run of the new version began after the update (an older state may still be in the cache) */
        if (!svc->settle.armed && settle_applies(svc) && streq(u->active_state, "active") &&
            u->active_enter_usec > svc->update.since_usec)
                settle_arm(svc, u);
}

void service_update_settle_timer(Service *svc) {
        const UnitState *u = bus_unit(svc->supervisor->bus, svc->unit);
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        if (!settle_applies(svc) || !svc->settle.armed)
                return;
        if (!settle_same_run(svc, u))
                service_update_observe(svc, u);
        else if (now < svc->settle.until_usec)
                service_health_schedule(svc, svc->settle.until_usec - now);
        else {
                char why[64];
                snprintf(why, sizeof(why), "it ran %u ms without exiting", RUN_STABLE_MS);
                update_done(svc, why);
        }
}

/* At ballastd's first load: an update an earlier life left is finished or abandoned; the last rollback read. */
static void service_update_load(Supervisor *s, Service *svc) {
        _cleanup_(service_spec_freep) ServiceSpec *to = NULL, *from = NULL;
        UpdateMark m = {};
        int r;

        if (rollback_record_read(s->state_dir, svc->name, &svc->last_rollback) < 0)
                log_warning("Ignoring the unreadable rollback record of %s.", svc->name);
        svc->revision = history_latest(s->state_dir, svc->name);
        r = update_mark_read(s->state_dir, svc->name, &m);
        if (r <= 0) {
                if (r < 0)
                        log_warning_errno(r, "Ignoring the unreadable update mark of %s: %m", svc->name);
                return;
        }
        (void) history_load(s->state_dir, svc->name, m.to_rev, false, &to, NULL);
        (void) history_load(s->state_dir, svc->name, m.from_rev, false, &from, NULL);
        if (to && service_spec_equal(to, svc->spec)) {
                svc->update = m;
                svc->revision = m.to_rev;
                /* not restarted yet: the restart is gated; restarted already: its health decides */
                svc->update_phase = svc->restart_marked ? UPDATE_WAITING : UPDATE_CHECKING;
                log_event(LOG_NOTICE, 0, "update-started", svc->name, NULL,
                          "Finishing the update of %s from revision %llu to %llu (ballastd stopped during it).",
                          svc->name, (unsigned long long) m.from_rev, (unsigned long long) m.to_rev);
                return;
        }
        /* the new spec never made it to disk: the update did not happen */
        if (from && service_spec_equal(from, svc->spec)) {
                (void) history_set_aside(s->state_dir, svc->name, m.to_rev);
                svc->revision = m.from_rev;
        }
        log_event(LOG_NOTICE, 0, "update-abandoned", svc->name, NULL,
                  "Abandoned the update of %s to revision %llu: ballastd stopped before its spec was in place.",
                  svc->name, (unsigned long long) m.to_rev);
        (void) update_mark_clear(s->state_dir, svc->name);
}

void supervisor_load_updates(Supervisor *s) {
        for (size_t i = 0; i < s->n_services; i++)
                if (s->services[i]->origin == ORIGIN_API)
                        service_update_load(s, s->services[i]);
}

static const char *const phase_names[] = {
        [UPDATE_NONE] = NULL, [UPDATE_WAITING] = "waiting", [UPDATE_STARTING] = "starting",
        [UPDATE_CHECKING] = "checking",
};

void service_update_status_json(Supervisor *s, Service *svc, json_t *j) {
        if (!j)
                return;
        if (svc->revision > 0)
                json_object_set_new(j, "revision", json_integer((json_int_t) svc->revision));
        if (svc->update_phase != UPDATE_NONE)
                json_object_set_new(j, "update",
                                    json_pack("{s:s,s:I,s:I,s:I}", "state", phase_names[svc->update_phase], "from",
                                              (json_int_t) svc->update.from_rev, "to",
                                              (json_int_t) svc->update.to_rev, "since_usec",
                                              (json_int_t) svc->update.since_usec));
        if (svc->last_rollback.at_usec > 0) {
                _cleanup_free_ char *path = history_spec_path(s->state_dir, svc->name, svc->last_rollback.failed_rev, true);
                json_object_set_new(j, "last_rollback",
                                    json_pack("{s:I,s:I,s:I,s:s,s:s?,s:s?}", "at_usec",
                                              (json_int_t) svc->last_rollback.at_usec, "failed_revision",
                                              (json_int_t) svc->last_rollback.failed_rev, "restored_revision",
                                              (json_int_t) svc->last_rollback.restored_rev, "by",
                                              svc->last_rollback.by_hand ? "hand" : "auto", "reason",
                                              svc->last_rollback.reason, "failed_spec", path));
        }
}
