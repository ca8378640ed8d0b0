/* SPDX-License-Identifier: MIT */
/* Keeping what runs equal to what is specified: loading the specs, the jobs queued to systemd, the reconcile
 * pass (files, orphans, live resizes, the network holder ahead of a first start), and the events from
 * systemd and Docker. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shared/fileio.h"
#include "shared/holder.h"
#include "shared/log.h"
#include "shared/time-util.h"
#include "supervisor/applied.h"
#include "supervisor/supervisor-internal.h"
#include "supervisor/units.h"

/* ---- loading specs ---- */

/* A spec on disk we could not accept: its unit is neither changed nor removed. Takes *name. */
static int protect_name(Supervisor *s, char **name) {
        size_t k = strv_length(s->protected_names);
        char **l = realloc(s->protected_names, (k + 2) * sizeof(char *));

        if (!l)
                return -ENOMEM;
        s->protected_names = l;
        l[k] = TAKE_PTR(*name);
        l[k + 1] = NULL;
        return 0;
}

static int load_dir(Supervisor *s, const char *dir, ServiceOrigin origin) {
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;

        d = opendir(dir);
        if (!d)
                return errno == ENOENT ? 0 : log_warning_errno(errno, "Cannot read %s, ignoring: %m", dir);
        while ((de = readdir(d))) {
                _cleanup_(service_spec_freep) ServiceSpec *spec = NULL;
                _cleanup_free_ char *path = NULL, *error = NULL, *name = NULL, *cycle = NULL;
                size_t n = strlen(de->d_name);
                Service *svc;
                int r;

                if (de->d_name[0] == '.' || n < 6 || !streq(de->d_name + n - 5, ".json"))
                        continue;
                path = path_join(dir, de->d_name);
                name = strndup(de->d_name, n - 5);
                if (!path || !name)
                        return -ENOMEM;
                r = origin == ORIGIN_API ? applied_spec_load(path, name, &spec, NULL, &error)
                                         : service_spec_load_named(path, name, &spec, &error);
                if (r < 0) {
                        /* on doubt, do nothing: a unit whose spec we cannot read is neither changed nor removed */
                        log_event(LOG_ERR, r, "spec-invalid", service_name_is_valid(name) ? name : NULL,
                                  BALLAST_MESSAGE_ERROR, "Ignoring invalid service spec: %s", error ?: strerror(-r));
                        if (service_name_is_valid(name)) {
                                r = protect_name(s, &name);
                                if (r < 0)
                                        return r;
                        }
                        continue;
                }
                svc = supervisor_find(s, name);
                if (svc && svc->present) {
                        log_warning("Service %s is defined in %s and elsewhere; using the first.", name, path);
                        continue;
                }
                r = supervisor_check_order(s, spec, true, &cycle);
                if (r < 0)
                        return r;
                if (r > 0) {
                        /* as an invalid spec: refused, its unit left as it is */
                        log_event(LOG_ERR, 0, "spec-invalid", name, BALLAST_MESSAGE_ERROR,
                                  "Ignoring service spec %s: after/requires form a cycle: %s", path, cycle);
                        r = protect_name(s, &name);
                        if (r < 0)
                                return r;
                        continue;
                }
                r = supervisor_admit_among_present(s, spec);
                if (r < 0)
                        continue;
                if (!svc) {
                        svc = supervisor_add(s, name);
                        if (!svc)
                                return -ENOMEM;
                }
                service_set_spec(svc, TAKE_PTR(spec));
                svc->origin = origin;
                svc->present = true;
                service_load_stopped(s, svc, !s->loaded_once);
        }
        return 0;
}

/* A kill -9 inside write_file_atomic() leaves its temporary file beside the target; nothing of ours is
 * mid-write when this runs (one thread), so whatever matches is litter of an earlier life. */
static void remove_stale_temp_files_of_ours(Supervisor *s, const char *api_dir) {
        _cleanup_free_ char *containers = path_join(s->state_dir, "containers"),
                            *markers = path_join(s->state_dir, RESTART_PENDING_DIR),
                            *env = path_join(s->state_dir, "env");
        const struct { const char *dir, *prefix; } where[] = {
                { api_dir, "" }, { containers, "" }, { markers, "" }, { env, "" }, { s->unit_dir, UNIT_PREFIX },
        };

        for (size_t i = 0; i < ELEMENTSOF(where); i++) {
                int n = where[i].dir ? remove_stale_temp_files(where[i].dir, where[i].prefix) : 0;
                if (n > 0)
                        log_notice("Removed %d temporary file(s) an interrupted write left in %s.", n, where[i].dir);
                else if (n < 0)
                        log_warning_errno(n, "Cannot clean %s of temporary files, ignoring: %m", where[i].dir);
        }
        if (history_remove_stale_temp_files(s->state_dir) > 0)
                log_notice("Removed temporary file(s) an interrupted write left in %s/%s.", s->state_dir, HISTORY_DIR);
}

/* At the first load only: restarts an earlier life of ballastd marked and did not see done. */
static void load_restart_markers(Supervisor *s) {
        _cleanup_free_ char *dir = path_join(s->state_dir, RESTART_PENDING_DIR);
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;

        if (!dir)
                return;
        (void) mkdir_parents_and_self(dir, 0700);
        d = opendir(dir);
        if (!d)
                return;
        while ((de = readdir(d))) {
                Service *svc;

                if (de->d_name[0] == '.')
                        continue;
                svc = supervisor_find(s, de->d_name);
                if (!svc) {
                        restart_marker_clear(s, de->d_name);
                        continue;
                }
                log_event(LOG_NOTICE, 0, "service-changed", svc->name, NULL,
                          "%s changed and was not restarted yet (ballastd stopped in between): restarting it.",
                          svc->unit);
                svc->restart_needed = true;
                svc->restart_marked = true;
                /* its unit file may be newer than what systemd loaded */
                s->reload_forced = true;
        }
}

int supervisor_load(Supervisor *s) {
        _cleanup_free_ char *api_dir = path_join(s->state_dir, "services");
        int r;

        if (!api_dir)
                return -ENOMEM;
        remove_stale_temp_files_of_ours(s, api_dir);
        /* the state an older ballastd left (an upgrade): migrated to the current format once, at the start */
        if (!s->loaded_once && applied_specs_migrate(api_dir) < 0)
                log_warning("Some applied specs in %s stay in their older format (see above).", api_dir);
        for (size_t i = 0; i < s->n_services; i++)
                s->services[i]->present = false;
        strv_free(s->protected_names);
        s->protected_names = NULL;

        /* files first: an operator's file wins over an API spec of the same name */
        r = load_dir(s, s->services_dir, ORIGIN_FILE);
        if (r >= 0)
                r = load_dir(s, api_dir, ORIGIN_API);
        if (r < 0)
                return r;
        for (size_t i = s->n_services; i > 0; i--)
                if (!s->services[i - 1]->present)
                        supervisor_drop(s, s->services[i - 1]);
        if (!s->loaded_once) {
                load_restart_markers(s);
                supervisor_load_updates(s);
        }
        s->loaded_once = true;
        log_debug("Loaded %zu service(s).", s->n_services);
        supervisor_schedule_reconcile(s);
        return 0;
}

/* ---- jobs ---- */

typedef struct JobContext {
        Supervisor *supervisor;
        char *name;
} JobContext;

static JobContext *job_context_new(Supervisor *s, const char *name) {
        JobContext *j = calloc(1, sizeof(JobContext));
        if (!j)
                return NULL;
        j->supervisor = s;
        j->name = strdup(name);
        if (!j->name) {
                free(j);
                return NULL;
        }
        return j;
}

static void job_context_free(JobContext *j) {
        free(j->name);
        free(j);
}

static void job_context_destroy(void *userdata) {
        job_context_free(userdata);
}

static void on_start_job(Bus *b, const char *unit, const char *result, void *userdata) {
        JobContext *j = userdata;
        Service *svc = supervisor_find(j->supervisor, j->name);

        if (svc && streq(result, BUS_JOB_LOST)) {
                /* the bus is gone (lost, or closed as ballastd exits): whether it started is not known, so no
                 * verdict (no rollback) and the restart mark stays; after a reconnect the unit is seen as it is */
                svc->job_in_flight = false;
                service_update_job_lost(svc);
                waiters_reply_error(&svc->op_waiters, "io.ballast.Agent.SystemdUnavailable", NULL);
        } else if (svc) {
                svc->just_applied = false;
                svc->job_in_flight = false;
                if (svc->restart_marked && !svc->restart_needed) {
                        svc->restart_marked = false;
                        restart_marker_clear(j->supervisor, svc->name);
                }
                service_update_job_done(svc, result); /* may roll it back */
                if (streq(result, "done")) {
                        log_event(LOG_INFO, 0, "service-started", svc->name, NULL, "%s is up.", unit);
                        waiters_reply(&svc->op_waiters, service_status_json(j->supervisor, svc));
                } else {
                        log_event(LOG_ERR, 0, "service-failed", svc->name, BALLAST_MESSAGE_SERVICE_FAILED,
                                  "%s did not start: job %s.", unit, result);
                        waiters_reply_error(&svc->op_waiters, "io.ballast.Agent.ServiceFailed",
                                            json_pack("{s:s,s:s,s:s?}", "name", svc->name, "result", result,
                                                      "reason", svc->health_reason));
                }
        }
        job_context_free(j);
}

int service_job(Supervisor *s, Service *svc, const char *verb) {
        JobContext *j;
        int r;

        if (svc->job_in_flight && streq(verb, "StartUnit"))
                return 0;
        if (svc->stopped != STOPPED_NONE || svc->stop_deciding)
                return 0; /* stopped on purpose: StartService clears that first */
        if (s->draining)
                return 0; /* drained: nothing starts or restarts until undrain */
        j = job_context_new(s, svc->name);
        if (!j)
                return -ENOMEM;
        r = bus_unit_job(s->bus, verb, svc->unit, on_start_job, j);
        if (r < 0) {
                job_context_free(j);
                return log_warning_errno(r, "Failed to queue %s of %s: %m", verb, svc->unit);
        }
        svc->job_in_flight = true;
        service_update_job_queued(svc);
        log_debug("%s %s", verb, svc->unit);
        waiters_notify(svc->op_waiters, json_pack("{s:s,s:s}", "name", svc->name, "state", "starting"));
        return 0;
}

/* ---- reconcile ---- */

bool name_is_protected(Supervisor *s, const char *name) {
        for (char **n = s->protected_names; n && *n; n++)
                if (streq(*n, name))
                        return true;
        return false;
}

void remove_container(Supervisor *s, const char *name) {
        _cleanup_free_ char *path = NULL, *holder = NULL;

        if (!docker_is_up(s->docker) || asprintf(&path, "/containers/ballast-%s?force=1", name) < 0)
                return;
        (void) docker_call(s->docker, "DELETE", path, NULL, 30000, NULL, NULL);
        /* and the network holder ballast-run runs beside it (it publishes the service's ports) */
        if (asprintf(&holder, "/containers/ballast-%s.net?force=1", name) >= 0)
                (void) docker_call(s->docker, "DELETE", holder, NULL, 30000, NULL, NULL);
}

static void on_orphan_stopped(Bus *b, const char *unit, const char *result, void *userdata) {
        JobContext *j = userdata;
        Supervisor *s = j->supervisor;

        /* the name may have come back while we stopped it: then it is not an orphan any more. The bus gone
         * meanwhile: whether it stopped is not known; its files stay, and a later pass stops it again. */
        if (!streq(result, BUS_JOB_LOST) && !supervisor_find(s, j->name) && !name_is_protected(s, j->name)) {
                (void) remove_unit_files(s, unit, j->name);
                (void) stopped_mark_clear(s->state_dir, j->name);
                remove_container(s, j->name);
                log_event(LOG_INFO, 0, "service-removed", j->name, BALLAST_MESSAGE_SERVICE_REMOVED,
                          "Removed %s: no spec owns it.", unit);
                s->reload_forced = true; /* so that systemd forgets the unit, as after an rm */
                supervisor_schedule_reconcile(s);
        }
        job_context_free(j);
}

/* Units ballast generated (they carry our header) that no spec owns. */
static void reconcile_orphans(Supervisor *s) {
        _cleanup_(closedirp) DIR *d = opendir(s->unit_dir);
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d))) {
                _cleanup_free_ char *name = service_name_from_unit(de->d_name), *path = NULL, *text = NULL;
                JobContext *j;

                if (!name || supervisor_find(s, name) || name_is_protected(s, name))
                        continue;
                path = supervisor_unit_path(s, de->d_name);
                if (!path || read_full_file(path, 4096 * 64, &text, NULL) < 0 || !strneq(text, UNIT_HEADER, strlen(UNIT_HEADER)))
                        continue;
                j = job_context_new(s, name);
                if (!j)
                        return;
                if (bus_unit_job(s->bus, "StopUnit", de->d_name, on_orphan_stopped, j) < 0)
                        job_context_free(j);
        }
}

int append_unit_limits(sd_bus_message *m, void *userdata) {
        const ServiceSpec *spec = userdata;
        int r = 0;

        /* "infinity" (UINT64_MAX) where the spec commits nothing */
        r = sd_bus_message_append(m, "(sv)", "MemoryMax", "t", spec->memory ?: UINT64_MAX);
        if (r >= 0) /* none (what a unit and a Docker scope start with); put back if someone set one */
                r = sd_bus_message_append(m, "(sv)", "MemoryHigh", "t", UINT64_MAX);
        if (r >= 0)
                r = sd_bus_message_append(m, "(sv)", "CPUQuotaPerSecUSec", "t",
                                          spec->cpu_millis ? spec->cpu_millis * 1000 : UINT64_MAX);
        if (r >= 0)
                r = sd_bus_message_append(m, "(sv)", "TasksMax", "t", spec->pids ?: UINT64_MAX);
        return r;
}

static void on_resized(Bus *b, int error, void *userdata) {
        JobContext *j = userdata;

        if (error < 0)
                log_warning_errno(error, "Failed to change the limits of %s live: %m", j->name);
        else
                log_event(LOG_INFO, 0, "service-resized", j->name, NULL, "Changed the limits of %s without a restart.",
                          j->name);
        job_context_free(j);
}

static void on_container_updated(Docker *d, int error, long status, json_t *reply, void *userdata) {
        JobContext *j = userdata;

        if (error < 0 || status != 200)
                log_warning("Docker refused the new limits of %s (HTTP %ld); they apply at its next start.", j->name,
                            status);
        else
                log_event(LOG_INFO, 0, "service-resized", j->name, NULL,
                          "Changed the limits of the container of %s without a restart.", j->name);
        job_context_free(j);
}

/* Resources changed and nothing else: systemd takes new limits for a running unit (SetUnitProperties,
 * runtime: the unit file already says the same for the next boot), Docker for a running container
 * (POST /containers/NAME/update). */
static void service_resize(Supervisor *s, Service *svc) {
        JobContext *j = job_context_new(s, svc->name);
        int r;

        if (!j)
                return;
        if (svc->spec->runtime == SERVICE_RUNTIME_EXEC) {
                r = bus_set_unit_properties(s->bus, svc->unit, true, append_unit_limits, svc->spec, on_resized, j);
        } else {
                _cleanup_json_ json_t *body = json_pack("{s:I,s:I,s:I,s:I}",
                                                       "Memory", (json_int_t) svc->spec->memory,
                                                       "MemorySwap", (json_int_t) (svc->spec->memory ? svc->spec->memory * 2 : 0),
                                                       "NanoCpus", (json_int_t) svc->spec->cpu_millis * 1000000,
                                                       "PidsLimit", (json_int_t) svc->spec->pids);
                _cleanup_free_ char *path = NULL;
                if (!body || asprintf(&path, "/containers/ballast-%s/update", svc->name) < 0)
                        r = -ENOMEM;
                else
                        r = docker_call_full(s->docker, "POST", path, body, 10000, on_container_updated,
                                             job_context_destroy, j);
        }
        if (r < 0) {
                log_warning_errno(r, "Failed to change the limits of %s live; they apply at its next start: %m",
                                  svc->name);
                job_context_free(j);
        }
}

static void service_resize(Supervisor *s, Service *svc);

/* ---- the network holder, ahead of a first start ----
 *
 * A Docker service's network holder (units.h, container_holder_body()) is set up by ballast-run at the
 * unit's start, and setting up a network is most of a first start. While systemd reloads for a unit just
 * written, ballastd creates and starts the holder from the same body file ballast-run will read, and creates
 * the service's container joined to it meanwhile, so that ballast-run finds the holder running and the
 * container ready to start (its fast path). Best effort: whatever fails here ballast-run does again, and
 * a holder that exists already (409) is left to ballast-run, which checks it against the body. */

static void on_holder_started(Docker *d, int error, long status, json_t *reply, void *userdata) {
        JobContext *j = userdata;

        if (error < 0 || (status != 204 && status != 304))
                log_debug("Starting the network holder of %s ahead failed (HTTP %ld); ballast-run will.", j->name,
                          status);
        job_context_free(j);
}

static void on_container_created_ahead(Docker *d, int error, long status, json_t *reply, void *userdata) {
        JobContext *j = userdata;

        if (error < 0 || status != 201)
                log_debug("Creating the container of %s ahead: HTTP %ld; left to ballast-run.", j->name, status);
        job_context_free(j);
}

/* The service's container, joined to the holder just created, while the holder starts: ballast-run then
 * finds it created from its very body (hash and NetworkMode) and only starts it. */
static void service_create_ahead(Supervisor *s, const char *name, const char *holder_id) {
        _cleanup_free_ char *body_path = service_body_path(s, name, false), *text = NULL, *path = NULL;
        _cleanup_json_ json_t *body = NULL;
        JobContext *j;

        if (!body_path || read_full_file(body_path, 1024 * 1024, &text, NULL) < 0)
                return;
        body = json_loads(text, 0, NULL);
        if (!body || holder_join_body(body, holder_id, NULL) < 0 ||
            asprintf(&path, "/containers/create?name=ballast-%s", name) < 0)
                return;
        j = job_context_new(s, name);
        if (j && docker_call(s->docker, "POST", path, body, 30000, on_container_created_ahead, j) < 0)
                job_context_free(j);
}

static void on_holder_created(Docker *d, int error, long status, json_t *reply, void *userdata) {
        JobContext *j = userdata;
        _cleanup_free_ char *path = NULL;
        const char *id = json_string_value(json_object_get(reply, "Id"));

        if (error < 0 || status != 201 || !id || asprintf(&path, "/containers/%s/start", id) < 0) {
                log_debug("Creating the network holder of %s ahead: HTTP %ld; left to ballast-run.", j->name, status);
                job_context_free(j);
                return;
        }
        service_create_ahead(j->supervisor, j->name, id);
        if (docker_call(d, "POST", path, NULL, 60000, on_holder_started, j) < 0)
                job_context_free(j);
}

static void service_prestart_holder(Supervisor *s, Service *svc) {
        const UnitState *u = bus_unit(s->bus, svc->unit);
        _cleanup_free_ char *path = NULL, *text = NULL, *net_path = NULL;
        _cleanup_json_ json_t *body = NULL;
        JobContext *j;

        if (svc->spec->runtime != SERVICE_RUNTIME_DOCKER || !docker_is_up(s->docker) || s->draining ||
            svc->stopped != STOPPED_NONE ||
            !supervisor_should_start(svc->spec->restart, u ? u->active_state : NULL, u ? u->result : NULL,
                                     svc->just_applied))
                return;
        /* the very bytes ballast-run will compare the holder with */
        net_path = service_net_body_path(s, svc->name);
        if (!net_path || read_full_file(net_path, 1024 * 1024, &text, NULL) < 0)
                return;
        body = json_loads(text, 0, NULL);
        j = job_context_new(s, svc->name);
        if (!j)
                return;
        if (!body || asprintf(&path, "/containers/create?name=ballast-%s.net", svc->name) < 0) {
                job_context_free(j);
                return;
        }
        if (docker_call(s->docker, "POST", path, body, 30000, on_holder_created, j) < 0)
                job_context_free(j);
}

static void reconcile_jobs(Supervisor *s) {
        if (s->draining)
                return;
        for (size_t i = 0; i < s->n_services; i++) {
                Service *svc = s->services[i];
                const UnitState *u = bus_unit(s->bus, svc->unit);

                /* applied while an earlier reload was in flight: its unit is not written yet, so systemd would
                 * answer a start with NoSuchUnit (or restart it from the old unit); the pass after the reload
                 * that follows its write decides */
                if (!svc->files_synced)
                        continue;
                if (service_keep_stopped(s, svc, u))
                        continue;
                /* just connected, the unit cache not filled yet: whether it runs (and so needs the restart) is
                 * decided at the pass that follows the first refresh */
                if (svc->restart_needed && !s->units_known)
                        continue;
                if (svc->restart_needed && u && u->active_state &&
                    (streq(u->active_state, "active") || streq(u->active_state, "activating"))) {
                        if (service_pull_before_restart(s, svc))
                                continue;
                        svc->restart_needed = false;
                        log_event(LOG_INFO, 0, "service-changed", svc->name, NULL,
                                  "Restarting %s: its spec changed.", svc->unit);
                        (void) service_job(s, svc, "RestartUnit");
                        continue;
                }
                if (svc->restart_needed && svc->restart_marked) {
                        /* not running: it starts from the reloaded unit, nothing to restart */
                        svc->restart_marked = false;
                        restart_marker_clear(s, svc->name);
                }
                if (svc->restart_needed)
                        service_update_not_restarted(svc);
                svc->restart_needed = false;
                if (svc->resize_needed) {
                        svc->resize_needed = false;
                        if (u && u->active_state && !streq(u->active_state, "inactive") && !streq(u->active_state, "failed"))
                                service_resize(s, svc);
                }
                if (supervisor_should_start(svc->spec->restart, u ? u->active_state : NULL, u ? u->result : NULL,
                                            svc->just_applied))
                        (void) service_job(s, svc, "StartUnit");
        }
}

static void on_reloaded(Bus *b, int error, void *userdata) {
        Supervisor *s = userdata;

        s->reload_in_flight = false;
        if (!bus_is_connected(b))
                return; /* the bus gone (or closing at exit): the pass after a reconnect decides */
        if (error < 0)
                log_warning_errno(error, "systemd daemon-reload failed: %m");
        reconcile_jobs(s);
        if (s->reconcile_again) {
                s->reconcile_again = false;
                supervisor_schedule_reconcile(s);
        }
}

static void supervisor_reconcile(Supervisor *s) {
        uint64_t cpu0 = now_usec(CLOCK_PROCESS_CPUTIME_ID);
        bool reload = false;

        if (!bus_is_connected(s->bus))
                return; /* again when the bus is back */
        if (s->reload_in_flight) {
                s->reconcile_again = true;
                return;
        }
        for (size_t i = 0; i < s->n_services; i++) {
                Service *svc = s->services[i];
                /* a unit rewritten for another reason (a newer ballastd) takes effect at its next start:
                 * nothing healthy is restarted for it */
                if (service_write_files(s, svc) > 0) {
                        reload = true;
                        service_prestart_holder(s, svc);
                }
        }
        if (s->reload_forced) {
                s->reload_forced = false;
                reload = true;
        }
        reconcile_orphans(s);
        log_debug("Reconcile pass over %zu service(s): %llu us of CPU%s.", s->n_services,
                  (unsigned long long) (now_usec(CLOCK_PROCESS_CPUTIME_ID) - cpu0),
                  reload ? ", files changed" : "");
        if (reload) {
                s->reload_in_flight = true;
                if (bus_reload(s->bus, on_reloaded, s) < 0) {
                        s->reload_in_flight = false;
                        log_warning("Failed to ask systemd to reload; retrying at the next pass.");
                }
                return;
        }
        reconcile_jobs(s);
}

int on_reconcile_defer(sd_event_source *src, void *userdata) {
        supervisor_reconcile(userdata);
        return 0;
}

int on_reconcile_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        Supervisor *s = userdata;

        supervisor_reconcile(s);
        (void) sd_event_source_set_time_relative(src, RECONCILE_INTERVAL_USEC);
        return 0;
}

void supervisor_schedule_reconcile(Supervisor *s) {
        (void) sd_event_source_set_enabled(s->reconcile_defer, SD_EVENT_ONESHOT);
}

/* ---- events from below ---- */

void supervisor_on_unit(Supervisor *s, const UnitState *u) {
        Service *svc = supervisor_find_unit(s, u->name);

        if (!svc)
                return;
        if (u->foreign_job_done)
                service_on_foreign_job(s, svc, u);
        service_health_update(svc, u);
        service_count_unit_oom(svc, u);
        if (svc->op_waiters && u->active_state && u->sub_state) {
                char now[64];
                snprintf(now, sizeof(now), "%s/%s", u->active_state, u->sub_state);
                if (!streq(now, svc->last_state)) {
                        snprintf(svc->last_state, sizeof(svc->last_state), "%s", now);
                        waiters_notify(svc->op_waiters, json_pack("{s:s,s:s,s:s}", "name", svc->name, "state",
                                                                  u->active_state, "sub_state", u->sub_state));
                }
        }
}

static void on_first_refresh(Bus *b, int error, void *userdata) {
        Supervisor *s = userdata;

        /* the unit cache is filled: calls that waited for systemd can be made now, and restarts decided */
        s->units_known = true;
        if (s->draining && s->drain_done)
                drain_step(s);
        /* a unit systemd still has loaded although its file is gone (an earlier ballastd removed it and was
         * killed before its reload): reload, so that systemd forgets it */
        for (size_t i = 0; i < bus_n_units(b); i++) {
                const UnitState *u = bus_unit_at(b, i);
                _cleanup_free_ char *path = NULL;

                if (!u || !u->load_state || !streq(u->load_state, "loaded") || !bus_unit_is_ours(u->name))
                        continue;
                path = supervisor_unit_path(s, u->name);
                if (path && access(path, F_OK) < 0 && errno == ENOENT) {
                        log_debug("%s is loaded but its file is gone: reloading systemd.", u->name);
                        s->reload_forced = true;
                }
        }
        supervisor_flush_deferred(userdata, true);
        supervisor_schedule_reconcile(userdata);
}

void supervisor_on_bus_state(Supervisor *s, bool connected) {
        s->units_known = false;
        if (connected && bus_refresh_all(s->bus, on_first_refresh, s) < 0) {
                s->units_known = true; /* decide with what we have rather than never */
                supervisor_flush_deferred(s, true);
        }
        supervisor_schedule_reconcile(s);
}

static void on_containers_listed(Docker *d, int error, long status, json_t *reply, void *userdata) {
        Supervisor *s = userdata;
        json_t *c;
        size_t i;

        if (error < 0 || status != 200 || !json_is_array(reply))
                return;
        json_array_foreach(reply, i, c) {
                json_t *labels = json_object_get(c, "Labels");
                /* a service's container, or the network holder beside it (which carries io.ballast.netns) */
                const char *name = json_string_value(json_object_get(labels, "io.ballast.service")) ?:
                                   json_string_value(json_object_get(labels, "io.ballast.netns"));
                _cleanup_free_ char *unit = NULL, *path = NULL;

                if (!name || !service_name_is_valid(name) || supervisor_find(s, name) || name_is_protected(s, name))
                        continue;
                unit = unit_name_for_service(name);
                path = unit ? supervisor_unit_path(s, unit) : NULL;
                /* a unit of that name in our unit dir still owns it (an orphan being stopped removes it after) */
                if (!path || access(path, F_OK) >= 0 || errno != ENOENT)
                        continue;
                log_event(LOG_INFO, 0, "container-removed", name, NULL,
                          "Removing the containers of %s: no spec and no unit own them.", name);
                remove_container(s, name);
        }
}

/* Containers of ballast's whose service is gone: an rm or an orphan's removal that found Docker down (ballastd
 * killed and started again before Docker was back, say) could not remove them then. */
static void sweep_stale_containers(Supervisor *s) {
        if (!s->loaded_once || !docker_is_up(s->docker))
                return;
        /* filters={"label":["io.ballast.service"]}, then {"label":["io.ballast.netns"]} (Docker ANDs the labels of
         * one filter): a holder outlives its service's container when an rm was cut between the two removals */
        (void) docker_call(s->docker, "GET",
                           "/containers/json?all=1&filters=%7B%22label%22%3A%5B%22io.ballast.service%22%5D%7D", NULL,
                           10000, on_containers_listed, s);
        (void) docker_call(s->docker, "GET",
                           "/containers/json?all=1&filters=%7B%22label%22%3A%5B%22io.ballast.netns%22%5D%7D", NULL,
                           10000, on_containers_listed, s);
}

void supervisor_on_docker_state(Supervisor *s, bool up) {
        if (up) {
                sweep_stale_containers(s);
                supervisor_schedule_reconcile(s);
        }
}

void supervisor_on_docker_event(Supervisor *s, const DockerEvent *ev) {
        Service *svc = ev->service ? supervisor_find(s, ev->service) : NULL;

        if (!svc)
                return;
        if (streq(ev->action, "oom")) {
                svc->oom_kills++;
                log_event(LOG_WARNING, 0, "service-oom", svc->name, BALLAST_MESSAGE_SERVICE_FAILED,
                          "%s was killed for running out of memory (its limit).", svc->name);
        } else if (streq(ev->action, "start")) {
                service_health_running(svc); /* its start period counts from now */
                /* only the service's own container carries its label, not the network holder */
                if (ev->id)
                        service_set_container_id(svc, ev->id);
        } else if (streq(ev->action, "die")) {
                svc->last_exit_code = ev->exit_code;
                log_event(LOG_INFO, 0, "container-died", svc->name, NULL, "The container of %s exited with %d.",
                          svc->name, ev->exit_code);
        }
}
