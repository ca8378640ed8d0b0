/* SPDX-License-Identifier: MIT */
/* The supervisor's table of services and its life cycle: adding, finding and dropping services, what a new
 * spec needs done to the running workload, the health checks of running services, the status reports, and
 * the drain that stops every service and keeps them stopped. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "shared/log.h"
#include "shared/time-util.h"
#include "supervisor/admission.h"
#include "supervisor/spec-diff.h"
#include "supervisor/supervisor-internal.h"
#include "supervisor/units.h"

bool supervisor_should_start(RestartPolicy policy, const char *active_state, const char *result, bool just_applied) {
        if (active_state && (streq(active_state, "active") || streq(active_state, "activating") ||
                             streq(active_state, "reloading") || streq(active_state, "deactivating")))
                return false;
        if (just_applied)
                return true;
        switch (policy) {
        case RESTART_ALWAYS:
                return true;
        case RESTART_ON_FAILURE:
                return active_state && streq(active_state, "failed") && !(result && streq(result, "success"));
        case RESTART_NO:
        default:
                return false;
        }
}

/* ---- the service table ---- */

static void service_health_stop(Service *svc) {
        health_check_cancel(svc->check);
        svc->check = NULL;
        svc->health_restart_pending = false;
        (void) sd_event_source_set_enabled(svc->health_timer, SD_EVENT_OFF);
}

static void service_free(Service *svc) {
        if (!svc)
                return;
        service_health_stop(svc);
        sd_event_source_disable_unref(svc->health_timer);
        waiters_reply_error(&svc->ready_waiters, "io.ballast.Agent.NoSuchService",
                            json_pack("{s:s}", "name", svc->name));
        waiters_reply_error(&svc->op_waiters, "io.ballast.Agent.NoSuchService", json_pack("{s:s}", "name", svc->name));
        service_spec_free(svc->spec);
        service_pull_free(svc);
        free(svc->health_reason);
        free(svc->health_restart_reason);
        rollback_record_done(&svc->last_rollback);
        free(svc->container_id);
        free(svc->name);
        free(svc->unit);
        free(svc);
}

Service *supervisor_find(Supervisor *s, const char *name) {
        for (size_t i = 0; i < s->n_services; i++)
                if (streq(s->services[i]->name, name))
                        return s->services[i];
        return NULL;
}

Service *supervisor_find_unit(Supervisor *s, const char *unit) {
        for (size_t i = 0; i < s->n_services; i++)
                if (streq(s->services[i]->unit, unit))
                        return s->services[i];
        return NULL;
}

void supervisor_drop(Supervisor *s, Service *svc) {
        for (size_t i = 0; i < s->n_services; i++)
                if (s->services[i] == svc) {
                        memmove(s->services + i, s->services + i + 1, (s->n_services - i - 1) * sizeof(Service *));
                        s->n_services--;
                        break;
                }
        service_free(svc);
}

static int on_health_timer(sd_event_source *src, uint64_t usec, void *userdata);

Service *supervisor_add(Supervisor *s, const char *name) {
        Service **p, *svc;

        p = realloc(s->services, (s->n_services + 1) * sizeof(Service *));
        if (!p)
                return NULL;
        s->services = p;
        svc = calloc(1, sizeof(Service));
        if (!svc)
                return NULL;
        svc->supervisor = s;
        svc->last_exit_code = -1;
        svc->name = strdup(name);
        svc->unit = unit_name_for_service(name);
        if (!svc->name || !svc->unit ||
            sd_event_add_time_relative(s->event, &svc->health_timer, CLOCK_MONOTONIC, 0, USEC_PER_MSEC,
                                       on_health_timer, svc) < 0) {
                service_free(svc);
                return NULL;
        }
        (void) sd_event_source_set_enabled(svc->health_timer, SD_EVENT_OFF);
        (void) sd_event_source_set_description(svc->health_timer, "health-timer");
        s->services[s->n_services++] = svc;
        return svc;
}

/* Takes spec; says what the change needs done to the running workload. */
void service_set_spec(Service *svc, ServiceSpec *spec) {
        if (svc->spec && service_spec_equal(svc->spec, spec)) {
                service_spec_free(spec);
                return;
        }
        if (svc->spec) {
                if (specs_differ_only_in_resources(svc->spec, spec))
                        svc->resize_needed = true;
                else
                        svc->restart_needed = true;
        }
        service_spec_free(svc->spec);
        svc->spec = spec;
        svc->files_synced = false;
}

/* ---- health ---- */

void service_health_schedule(Service *svc, uint64_t usec) {
        (void) sd_event_source_set_time_relative(svc->health_timer, usec);
        (void) sd_event_source_set_enabled(svc->health_timer, SD_EVENT_ONESHOT);
}

/* The service runs (its container started, or its exec'd process): its start period counts from now, once per
 * run (a new main process starts a new run; see service_health_update). */
void service_health_running(Service *svc) {
        if (svc->health.running_since_usec == 0)
                svc->health.running_since_usec = now_usec(CLOCK_MONOTONIC);
}

/* retries failures in a row: the restart, counted, waits its backoff (checks pause meanwhile). */
static void service_health_give_up(Service *svc, bool was_healthy, const char *reason) {
        const ServiceSpec *spec = svc->spec;
        uint64_t delay_ms;

        if (service_update_unhealthy(svc, reason))
                return; /* a new version that never became healthy: rolled back instead */
        svc->health_restarts++;
        svc->health_restarts_in_row++;
        free(svc->health_restart_reason);
        svc->health_restart_reason = strdup(strna(reason));
        delay_ms = health_restart_delay_ms(spec, svc->health_restarts_in_row);
        if (was_healthy)
                log_event(LOG_WARNING, 0, "service-unhealthy", svc->name, BALLAST_MESSAGE_SERVICE_UNHEALTHY,
                          "Restarting %s in %llu ms: %u health checks failed in a row (%s).", svc->unit,
                          (unsigned long long) delay_ms, spec->health_retries, strna(reason));
        else
                log_event(LOG_WARNING, 0, "service-unhealthy", svc->name, BALLAST_MESSAGE_SERVICE_UNHEALTHY,
                          "Restarting %s in %llu ms: it did not pass a health check in its start period (%llu ms), "
                          "then %u health checks failed in a row (%s).", svc->unit, (unsigned long long) delay_ms,
                          (unsigned long long) spec->health_start_period_ms, spec->health_retries, strna(reason));
        svc->health_restart_pending = true;
        service_health_schedule(svc, delay_ms * USEC_PER_MSEC);
}

/* The backoff is over: a start still waiting for its first pass (ballast-run asked WaitHealthy) is told it
 * failed, which stops the container and fails the start; a running service is restarted. */
static void service_health_restart(Service *svc) {
        Supervisor *s = svc->supervisor;

        svc->health_restart_pending = false;
        log_event(LOG_NOTICE, 0, "service-health-restart", svc->name, NULL,
                  "%s restarted by its health check (%u times): %s", svc->name, svc->health_restarts,
                  strna(svc->health_restart_reason));
        /* ballast-run (a writer) waiting acts on the answer itself; a read-only waiter changes nothing */
        bool writer = waiters_have_writer(svc->ready_waiters);
        waiters_reply_error(&svc->ready_waiters, "io.ballast.Agent.Unhealthy",
                            json_pack("{s:s,s:s}", "name", svc->name, "reason", strna(svc->health_restart_reason)));
        if (!writer)
                (void) service_job(s, svc, "RestartUnit");
        /* the next run starts over; until the new main process shows, nothing counts */
        svc->health = (HealthState) {};
}

static void on_health_done(bool pass, const char *reason, void *userdata) {
        Service *svc = userdata;
        const ServiceSpec *spec = svc->spec;
        bool was_healthy = svc->health.healthy;
        uint64_t next;

        svc->check = NULL;
        free(svc->health_reason);
        svc->health_reason = reason ? strdup(reason) : NULL;
        switch (health_rule_step(spec, &svc->health, now_usec(CLOCK_MONOTONIC), pass, &next)) {
        case HEALTH_VERDICT_PASSED:
                if (!was_healthy)
                        log_event(LOG_INFO, 0, "service-healthy", svc->name, NULL, "%s passed its health check.",
                                  svc->name);
                svc->health_restarts_in_row = 0;
                waiters_reply(&svc->ready_waiters, json_object());
                service_update_healthy(svc);
                break;
        case HEALTH_VERDICT_IGNORED:
                break;
        case HEALTH_VERDICT_COUNTED:
        case HEALTH_VERDICT_RESTART:
                log_event(LOG_NOTICE, 0, "health-failed", svc->name, NULL,
                          "%s failed its health check (%u of %u): %s", svc->name, svc->health.failures,
                          spec->health_retries, strna(reason));
                if (svc->health.failures >= spec->health_retries) {
                        service_health_give_up(svc, was_healthy, reason);
                        return;
                }
                break;
        }
        service_health_schedule(svc, next);
}

static int on_health_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        Service *svc = userdata;
        Supervisor *s = svc->supervisor;
        int r;

        if (svc->spec->health == HEALTH_NONE) {
                service_update_settle_timer(svc); /* the only use of the timer without a check */
                return 0;
        }
        if (svc->health_restart_pending) {
                service_health_restart(svc);
                return 0;
        }
        if (svc->check)
                return 0;
        r = health_check_start(&svc->check, s->event, s->http, s->docker, svc->spec, on_health_done, svc);
        if (r < 0) {
                log_warning_errno(r, "Failed to run the health check of %s: %m", svc->name);
                service_health_schedule(svc, svc->spec->health_interval_ms * USEC_PER_MSEC);
        }
        return 0;
}

/* Health checks run while the unit runs (activating included: that is when readiness is decided). The start
 * period counts from when the service runs: an exec service's process runs once the unit has a main process;
 * a Docker service's container runs once Docker says it started it (supervisor_on_docker_event), ballast-run
 * asks for its first health check (WaitHealthy), or the unit is active. */
void service_health_update(Service *svc, const UnitState *u) {
        bool running = u && u->active_state && u->main_pid > 0 &&
                       (streq(u->active_state, "active") || streq(u->active_state, "activating") ||
                        streq(u->active_state, "reloading"));

        if (svc->spec->health == HEALTH_NONE) {
                svc->health.healthy = running;
                if (running)
                        waiters_reply(&svc->ready_waiters, json_object());
                service_update_observe(svc, u); /* an update is over once its run lasted */
                return;
        }
        if (!running || u->main_pid != svc->main_pid) {
                service_health_stop(svc);
                svc->health = (HealthState) {};
                svc->main_pid = running ? u->main_pid : 0;
        }
        if (running && (svc->spec->runtime != SERVICE_RUNTIME_DOCKER || streq(u->active_state, "active")))
                service_health_running(svc);
        if (running && !sd_event_source_get_enabled(svc->health_timer, NULL) && !svc->check)
                service_health_schedule(svc, 0);
}

void supervisor_counts(Supervisor *s, unsigned *ret_total, unsigned *ret_active, unsigned *ret_failed) {
        unsigned active = 0, failed = 0;

        for (size_t i = 0; i < s->n_services; i++) {
                const UnitState *u = bus_unit(s->bus, s->services[i]->unit);
                if (u && u->active_state && streq(u->active_state, "active"))
                        active++;
                else if (u && u->active_state && streq(u->active_state, "failed"))
                        failed++;
        }
        *ret_total = (unsigned) s->n_services;
        *ret_active = active;
        *ret_failed = failed;
}

/* ---- status ---- */

static const char *service_health_string(Service *svc) {
        if (svc->spec->health == HEALTH_NONE)
                return "none";
        if (svc->health_restart_pending)
                return "unhealthy";
        if (svc->health.healthy)
                return svc->health.failures > 0 ? "failing" : "healthy";
        return svc->main_pid > 0 ? "starting" : "stopped";
}

json_t *service_status_json(Supervisor *s, Service *svc) {
        const UnitState *u = bus_unit(s->bus, svc->unit);
        json_t *j;

        j = json_pack("{s:s,s:s,s:s,s:s?,s:s,s:s,s:s,s:s?,s:s?,s:s,s:i,s:i,s:s?,s:i,s:s?,s:I,s:i,s:i}",
                         "name", svc->name,
                         "unit", svc->unit,
                         "runtime", service_runtime_to_string(svc->spec->runtime),
                         "image", svc->spec->image,
                         "origin", svc->origin == ORIGIN_FILE ? "file" : "api",
                         "state", u && u->active_state ? u->active_state : "unknown",
                         "sub_state", u && u->sub_state ? u->sub_state : "unknown",
                         "status_text", u && !isempty(u->status_text) ? u->status_text : NULL,
                         "pull_status", svc->pull_status,
                         "health", service_health_string(svc),
                         "health_failures", (int) svc->health.failures,
                         "restarts", u ? (int) u->n_restarts : 0,
                         "health_reason", svc->health_reason,
                         "health_restarts", (int) svc->health_restarts,
                         "health_restart_reason", svc->health_restart_reason,
                         "main_pid", (json_int_t) (u ? u->main_pid : 0),
                         "last_exit_code", svc->last_exit_code,
                         "oom_kills", (int) svc->oom_kills);
        service_update_status_json(s, svc, j);
        /* masked by an operator (or gone): said, since ActiveState alone reads like a plain stop */
        if (j && u && u->load_state && !streq(u->load_state, "loaded"))
                json_object_set_new(j, "load_state", json_string(u->load_state));
        /* stopped on purpose: "ballastctl" or "hand", and since when */
        if (j && svc->stopped != STOPPED_NONE) {
                json_object_set_new(j, "stopped_by", json_string(stopped_by_to_string(svc->stopped)));
                json_object_set_new(j, "stopped_since_usec", json_integer((json_int_t) svc->stopped_since_usec));
        }
        return j;
}

json_t *supervisor_services_json(Supervisor *s) {
        json_t *list = json_array();

        for (size_t i = 0; i < s->n_services; i++) {
                json_t *st = service_status_json(s, s->services[i]);
                Resources r = capacity_of_spec(s->services[i]->spec);
                json_t *usage = service_usage_json(s, s->services[i]);

                json_object_set_new(st, "requested", resources_to_json(&r));
                if (usage)
                        json_object_set_new(st, "usage", usage);
                json_array_append_new(list, st);
        }
        return list;
}

/* ---- life cycle ---- */

int supervisor_new(Supervisor **ret, sd_event *event, Bus *bus, Docker *docker, HttpClient *http,
                   const SupervisorPaths *paths) {
        _cleanup_(supervisor_freep) Supervisor *s = calloc(1, sizeof(Supervisor));
        int r;

        if (!s)
                return -ENOMEM;
        s->event = sd_event_ref(event);
        s->bus = bus;
        s->docker = docker;
        s->http = http;
        s->unit_dir = strdup(paths->unit_dir);
        s->state_dir = strdup(paths->state_dir);
        s->services_dir = strdup(paths->services_dir);
        s->host_state_dir = strdup(paths->host_state_dir);
        s->docker_socket = strdup(paths->docker_socket);
        s->control_socket = strdup(paths->control_socket);
        s->run_helper = strdup(paths->run_helper);
        if (paths->registry_auth_file) {
                s->registry_auth_file = strdup(paths->registry_auth_file);
                if (!s->registry_auth_file)
                        return -ENOMEM;
        }
        if (!s->unit_dir || !s->state_dir || !s->services_dir || !s->host_state_dir || !s->docker_socket ||
            !s->control_socket || !s->run_helper)
                return -ENOMEM;
        r = sd_event_add_defer(event, &s->reconcile_defer, on_reconcile_defer, s);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(s->reconcile_defer, SD_EVENT_OFF);
        (void) sd_event_source_set_description(s->reconcile_defer, "reconcile");
        r = sd_event_add_time_relative(event, &s->reconcile_timer, CLOCK_MONOTONIC, RECONCILE_INTERVAL_USEC,
                                       USEC_PER_SEC, on_reconcile_timer, s);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(s->reconcile_timer, SD_EVENT_ON);
        (void) sd_event_source_set_description(s->reconcile_timer, "reconcile-timer");
        r = sd_event_add_time_relative(event, &s->sweep_timer, CLOCK_MONOTONIC, 0, USEC_PER_MSEC, on_sweep, s);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(s->sweep_timer, SD_EVENT_OFF);
        (void) sd_event_source_set_description(s->sweep_timer, "cgroup-sweep");
        r = sd_event_add_time_relative(event, &s->deferred_timeout, CLOCK_MONOTONIC, DEFERRED_TIMEOUT_USEC,
                                       USEC_PER_SEC, on_deferred_timeout, s);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(s->deferred_timeout, SD_EVENT_OFF);
        (void) sd_event_source_set_description(s->deferred_timeout, "deferred-calls");
        *ret = TAKE_PTR(s);
        return 0;
}

Supervisor *supervisor_free(Supervisor *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_services; i++)
                service_free(s->services[i]);
        free(s->services);
        strv_free(s->protected_names);
        sd_event_source_disable_unref(s->reconcile_defer);
        sd_event_source_disable_unref(s->reconcile_timer);
        sd_event_source_disable_unref(s->sweep_timer);
        supervisor_flush_deferred(s, false);
        sd_event_source_disable_unref(s->deferred_timeout);
        sd_event_unref(s->event);
        free(s->unit_dir);
        free(s->state_dir);
        free(s->services_dir);
        free(s->host_state_dir);
        free(s->docker_socket);
        free(s->control_socket);
        free(s->run_helper);
        free(s->registry_auth_file);
        free(s);
        return NULL;
}

/* ---- drain ---- */

static void on_drain_stopped(Bus *b, const char *unit, const char *result, void *userdata) {
        Supervisor *s = userdata;

        if (streq(result, BUS_JOB_LOST)) {
                /* the bus is gone (lost, or closed as ballastd exits): nothing can be stopped and whether this
                 * one stopped is not known. The walk waits; after a reconnect it goes on from this service
                 * (on_first_refresh), and at exit it never claims a drain that did not happen. */
                if (s->drain_next < s->n_services)
                        s->drain_next++;
                return;
        }
        if (!streq(result, "done"))
                log_warning("Stopping %s for the drain: job %s.", unit, result);
        drain_step(s);
}

void drain_step(Supervisor *s) {
        SupervisorDrainFunc done;

        /* just connected: which units run is not known yet (on_first_refresh goes on from here) */
        if (!s->units_known)
                return;
        if (s->drain_next > s->n_services)
                s->drain_next = s->n_services; /* a service was removed meanwhile */
        while (s->draining && s->drain_next > 0) {
                Service *svc = s->services[--s->drain_next];
                const UnitState *u = bus_unit(s->bus, svc->unit);

                /* a start queued before the drain began (a ballastd started again in the middle of the reboot
                 * flow reconciles before the flow asks for the drain) runs too unless it is stopped: the stop
                 * job replaces it */
                svc->drained_active = svc->drained_active || /* marked: stopped by a drain before a restart */
                                      (u && u->active_state && !streq(u->active_state, "inactive") &&
                                       !streq(u->active_state, "failed")) ||
                                      svc->job_in_flight;
                if (!svc->drained_active)
                        continue;
                log_event(LOG_INFO, 0, "service-drain", svc->name, NULL, "Stopping %s: the node is draining.",
                          svc->unit);
                if (bus_unit_job(s->bus, "StopUnit", svc->unit, on_drain_stopped, s) >= 0)
                        return; /* the next one when this one is down */
                log_warning("Failed to stop %s for the drain, going on.", svc->unit);
        }
        if (!s->draining || !s->drain_done)
                return;
        done = s->drain_done;
        s->drain_done = NULL;
        log_event(LOG_INFO, 0, "drained", NULL, NULL, "Node drained: every service is stopped.");
        done(s, 0, s->drain_userdata);
}

int supervisor_drain(Supervisor *s, SupervisorDrainFunc done, void *userdata) {
        if (s->draining && s->drain_done)
                return -EBUSY;
        if (!bus_is_connected(s->bus))
                return -ENOTCONN;
        s->draining = true;
        s->drain_done = done;
        s->drain_userdata = userdata;
        /* reverse order: what was started last stops first */
        s->drain_next = s->n_services;
        drain_step(s);
        return 0;
}

void supervisor_undrain(Supervisor *s) {
        if (!s->draining)
                return;
        s->draining = false;
        s->drain_done = NULL;
        for (size_t i = 0; i < s->n_services; i++)
                if (s->services[i]->drained_active) {
                        s->services[i]->drained_active = false;
                        s->services[i]->just_applied = true; /* start it whatever its restart policy says */
                }
        log_event(LOG_INFO, 0, "undrained", NULL, NULL, "Node undrained: services start again.");
        supervisor_schedule_reconcile(s);
}

bool supervisor_is_draining(Supervisor *s) {
        return s->draining;
}

json_t *supervisor_drained_json(Supervisor *s) {
        json_t *names = json_array();

        for (size_t i = 0; names && i < s->n_services; i++)
                if (s->services[i]->drained_active)
                        json_array_append_new(names, json_string(s->services[i]->name));
        return names;
}

void supervisor_mark_drained(Supervisor *s, json_t *names) {
        size_t i;
        json_t *v;

        json_array_foreach(names, i, v) {
                Service *svc = json_is_string(v) ? supervisor_find(s, json_string_value(v)) : NULL;
                if (svc)
                        svc->drained_active = true;
        }
}
