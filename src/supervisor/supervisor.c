/* SPDX-License-Identifier: MIT */
/* The supervisor's table of services and its life cycle: adding, finding and dropping services, what a new
 * spec needs done to the running workload, the health checks of running services, the status reports, and
 * the drain that stops every service and keeps them stopped. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "shared/log.h"
#include "shared/time-util.h"
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

/* Equal but for "resources"? Then a change can be applied to the running workload. */
bool specs_differ_only_in_resources(const ServiceSpec *a, const ServiceSpec *b) {
        _cleanup_json_ json_t *ja = service_spec_to_json(a), *jb = service_spec_to_json(b);

        if (!ja || !jb)
                return false;
        json_object_del(ja, "resources");
        json_object_del(jb, "resources");
        return json_equal(ja, jb);
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

static void on_health_done(bool pass, const char *reason, void *userdata) {
        Service *svc = userdata;
        Supervisor *s = svc->supervisor;
        const ServiceSpec *spec = svc->spec;
        uint64_t grace = spec->health_retries * spec->health_interval_ms * USEC_PER_MSEC +
                         spec->health_timeout_ms * USEC_PER_MSEC;

        svc->check = NULL;
        free(svc->health_reason);
        svc->health_reason = reason ? strdup(reason) : NULL;
        if (pass) {
                if (!svc->healthy)
                        log_event(LOG_INFO, 0, "service-healthy", svc->name, NULL, "%s passed its health check.",
                                  svc->name);
                svc->healthy = true;
                svc->failures = 0;
                waiters_reply(&svc->ready_waiters, json_object());
                service_health_schedule(svc, spec->health_interval_ms * USEC_PER_MSEC);
                return;
        }
        if (!svc->healthy) {
                /* starting: probe often, and give it retries × interval to come up */
                if (now_usec(CLOCK_MONOTONIC) - svc->started_usec < grace) {
                        service_health_schedule(svc, HEALTH_STARTUP_POLL_USEC);
                        return;
                }
                log_event(LOG_WARNING, 0, "service-unhealthy", svc->name, BALLAST_MESSAGE_SERVICE_UNHEALTHY,
                          "%s did not pass a health check within %llu ms: %s", svc->name,
                          (unsigned long long) (grace / USEC_PER_MSEC), strna(reason));
                if (svc->ready_waiters)
                        waiters_reply_error(&svc->ready_waiters, "io.ballast.Agent.Unhealthy",
                                            json_pack("{s:s,s:s}", "name", svc->name, "reason", strna(reason)));
                else
                        (void) service_job(s, svc, "RestartUnit");
                svc->started_usec = now_usec(CLOCK_MONOTONIC);
                service_health_schedule(svc, spec->health_interval_ms * USEC_PER_MSEC);
                return;
        }
        svc->failures++;
        log_event(LOG_NOTICE, 0, "health-failed", svc->name, NULL, "%s failed its health check (%u of %u): %s",
                  svc->name, svc->failures, spec->health_retries, strna(reason));
        if (svc->failures >= spec->health_retries) {
                log_event(LOG_WARNING, 0, "service-unhealthy", svc->name, BALLAST_MESSAGE_SERVICE_UNHEALTHY,
                          "Restarting %s: %u health checks failed in a row (%s).", svc->unit, svc->failures,
                          strna(reason));
                svc->failures = 0;
                svc->healthy = false;
                svc->started_usec = now_usec(CLOCK_MONOTONIC);
                (void) service_job(s, svc, "RestartUnit");
        }
        service_health_schedule(svc, spec->health_interval_ms * USEC_PER_MSEC);
}

static int on_health_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        Service *svc = userdata;
        Supervisor *s = svc->supervisor;
        int r;

        if (svc->check)
                return 0;
        r = health_check_start(&svc->check, s->event, s->http, s->docker, svc->spec, on_health_done, svc);
        if (r < 0) {
                log_warning_errno(r, "Failed to run the health check of %s: %m", svc->name);
                service_health_schedule(svc, svc->spec->health_interval_ms * USEC_PER_MSEC);
        }
        return 0;
}

/* Health checks run while the unit runs (activating included: that is when readiness is decided). */
void service_health_update(Service *svc, const UnitState *u) {
        bool running = u && u->active_state && u->main_pid > 0 &&
                       (streq(u->active_state, "active") || streq(u->active_state, "activating") ||
                        streq(u->active_state, "reloading"));

        if (svc->spec->health == HEALTH_NONE) {
                svc->healthy = running;
                if (running)
                        waiters_reply(&svc->ready_waiters, json_object());
                return;
        }
        if (!running || u->main_pid != svc->main_pid) {
                service_health_stop(svc);
                svc->healthy = false;
                svc->failures = 0;
                svc->main_pid = running ? u->main_pid : 0;
        }
        if (running && !sd_event_source_get_enabled(svc->health_timer, NULL) && !svc->check) {
                svc->started_usec = now_usec(CLOCK_MONOTONIC);
                service_health_schedule(svc, 0);
        }
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
        if (svc->healthy)
                return svc->failures > 0 ? "failing" : "healthy";
        return svc->main_pid > 0 ? "starting" : "stopped";
}

json_t *service_status_json(Supervisor *s, Service *svc) {
        const UnitState *u = bus_unit(s->bus, svc->unit);

        return json_pack("{s:s,s:s,s:s,s:s?,s:s,s:s,s:s,s:s?,s:s?,s:s,s:i,s:i,s:s?,s:I,s:i,s:i}",
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
                         "health_failures", (int) svc->failures,
                         "restarts", u ? (int) u->n_restarts : 0,
                         "health_reason", svc->health_reason,
                         "main_pid", (json_int_t) (u ? u->main_pid : 0),
                         "last_exit_code", svc->last_exit_code,
                         "oom_kills", (int) svc->oom_kills);
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
                svc->drained_active = (u && u->active_state && !streq(u->active_state, "inactive") &&
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
