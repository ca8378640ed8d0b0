/* SPDX-License-Identifier: MIT */
/* Services stopped on purpose, and kept stopped: by `ballastctl stop` (StopService), or by an operator's
 * `systemctl stop` that ballast saw. Never fight the operator: a stop job ballast did not queue that leaves the
 * unit inactive with Result=success (bus.h: foreign_job_done) is taken as "stopped by hand" and persisted like a
 * `ballastctl stop`, unless systemd itself is going down (SystemState "stopping": the stop jobs of a shutdown
 * are nobody's decision about this service). A start job ballast did not queue that leaves a stopped service
 * running (`systemctl start` by hand) ends the stop. The mark (stopped.h) outlives ballastd; it is cleared by
 * StartService, an apply, an rm, or that start by hand. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "shared/log.h"
#include "shared/time-util.h"
#include "supervisor/supervisor-internal.h"

static bool state_is_running(const char *a) {
        return a && (streq(a, "active") || streq(a, "activating") || streq(a, "reloading"));
}

void service_load_stopped(Supervisor *s, Service *svc, bool at_start) {
        StoppedBy by = STOPPED_NONE;
        uint64_t since = 0;
        int r = stopped_mark_read(s->state_dir, svc->name, &by, &since);

        if (r < 0) {
                /* on doubt, keep it stopped: a mark we cannot read was a decision to stop it */
                log_warning_errno(r, "Cannot read the stop mark of %s, keeping it stopped: %m", svc->name);
                by = STOPPED_BY_CTL;
        } else if (r == 0)
                by = STOPPED_NONE;
        if (by != STOPPED_NONE && svc->stopped == STOPPED_NONE && at_start)
                svc->stop_enforce = true;
        svc->stopped = by;
        svc->stopped_since_usec = since;
}

int service_set_stopped(Supervisor *s, Service *svc, StoppedBy by) {
        uint64_t now = now_usec(CLOCK_REALTIME);
        int r = stopped_mark_write(s->state_dir, svc->name, by, now);

        if (r < 0)
                return log_error_errno(r, "Cannot persist that %s is stopped: %m", svc->name);
        svc->stopped = by;
        svc->stopped_since_usec = now;
        return 0;
}

int service_clear_stopped(Supervisor *s, Service *svc, const char *why) {
        int r;

        if (svc->stopped == STOPPED_NONE)
                return 0;
        r = stopped_mark_clear(s->state_dir, svc->name);
        if (r < 0)
                return log_error_errno(r, "Cannot remove the stop mark of %s: %m", svc->name);
        log_event(LOG_INFO, 0, "service-unstopped", svc->name, NULL, "%s is no longer kept stopped: %s.", svc->name,
                  why);
        svc->stopped = STOPPED_NONE;
        svc->stopped_since_usec = 0;
        svc->stop_enforce = false;
        return 0;
}

typedef struct StopContext {
        Supervisor *supervisor;
        char *name;
} StopContext;

static StopContext *stop_context_new(Supervisor *s, const char *name) {
        StopContext *c = calloc(1, sizeof(StopContext));

        if (c && !(c->name = strdup(name))) {
                free(c);
                return NULL;
        }
        if (c)
                c->supervisor = s;
        return c;
}

static void stop_context_free(StopContext *c) {
        free(c->name);
        free(c);
}

static void on_stop_job(Bus *b, const char *unit, const char *result, void *userdata) {
        StopContext *c = userdata;
        Service *svc = supervisor_find(c->supervisor, c->name);

        if (svc) {
                svc->stop_in_flight = false;
                if (streq(result, "done")) {
                        log_event(LOG_INFO, 0, "service-stopped", svc->name, NULL, "%s is stopped.", unit);
                        waiters_reply(&svc->op_waiters, service_status_json(c->supervisor, svc));
                } else
                        waiters_reply_error(&svc->op_waiters, "io.ballast.Agent.ServiceFailed",
                                            json_pack("{s:s,s:s}", "name", svc->name, "result", result));
        }
        stop_context_free(c);
}

int service_stop_job(Supervisor *s, Service *svc) {
        StopContext *c = stop_context_new(s, svc->name);
        int r;

        if (!c)
                return -ENOMEM;
        r = bus_unit_job(s->bus, "StopUnit", svc->unit, on_stop_job, c);
        if (r < 0) {
                stop_context_free(c);
                return log_warning_errno(r, "Failed to queue the stop of %s: %m", svc->unit);
        }
        svc->stop_in_flight = true;
        svc->health = (HealthState) {};
        return 0;
}

/* reconcile_jobs: a stopped service is not started, nor restarted for a new spec (it starts from the new unit
 * when started); a unit found running at ballastd's start under a mark (killed between the mark and the stop)
 * is stopped. true: nothing else is to be done with it. */
bool service_keep_stopped(Supervisor *s, Service *svc, const UnitState *u) {
        if (svc->stop_deciding)
                return true;
        if (svc->stopped == STOPPED_NONE)
                return false;
        if (svc->restart_marked) {
                svc->restart_marked = false;
                restart_marker_clear(s, svc->name);
        }
        svc->restart_needed = false;
        if (svc->stop_enforce && u && state_is_running(u->active_state) && !svc->stop_in_flight) {
                log_event(LOG_NOTICE, 0, "service-stopped", svc->name, NULL,
                          "%s is marked stopped (by %s) but runs: stopping it.", svc->unit,
                          stopped_by_to_string(svc->stopped));
                (void) service_stop_job(s, svc);
        }
        if (u)
                svc->stop_enforce = false;
        return true;
}

static void on_system_state(Bus *b, const char *state, void *userdata) {
        StopContext *c = userdata;
        Supervisor *s = c->supervisor;
        Service *svc = supervisor_find(s, c->name);
        const UnitState *u = svc ? bus_unit(b, svc->unit) : NULL;

        if (svc)
                svc->stop_deciding = false;
        if (!svc || !u || state_is_running(u->active_state) || svc->stopped != STOPPED_NONE) {
                stop_context_free(c);
                return;
        }
        if (state && streq(state, "stopping")) {
                log_debug("%s stopped while the system shuts down: not a stop by hand.", svc->unit);
                stop_context_free(c);
                return;
        }
        if (service_set_stopped(s, svc, STOPPED_BY_HAND) >= 0)
                log_event(LOG_NOTICE, 0, "service-stopped", svc->name, NULL,
                          "%s was stopped by hand (a stop job ballast did not queue): it stays stopped until "
                          "`ballastctl start %s` (or systemctl start).", svc->unit, svc->name);
        stop_context_free(c);
}

void service_on_foreign_job(Supervisor *s, Service *svc, const UnitState *u) {
        StopContext *c;

        /* on the way down: decided when it is down */
        if (!u->foreign_job_done || !u->active_state || streq(u->active_state, "deactivating"))
                return;
        bus_unit_foreign_job_seen(s->bus, u->name);
        if (state_is_running(u->active_state)) {
                if (svc->stopped != STOPPED_NONE)
                        (void) service_clear_stopped(s, svc, "started by hand");
                return;
        }
        /* a stop job ends in inactive with Result=success (the stop signal is a clean end); "failed" after a
         * job of systemd's own (an automatic restart whose start failed) is a crash, for the restart policy */
        if (!streq(u->active_state, "inactive") || !streq_ptr(u->result, "success"))
                return;
        if (svc->stopped != STOPPED_NONE || svc->stop_in_flight || s->draining)
                return;
        /* nothing starts it while we ask systemd whether it is shutting down */
        c = stop_context_new(s, svc->name);
        if (c && bus_get_system_state(s->bus, on_system_state, c) >= 0)
                svc->stop_deciding = true;
        else if (c)
                stop_context_free(c);
}
