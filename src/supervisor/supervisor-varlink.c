/* SPDX-License-Identifier: MIT */
/* The supervisor's Varlink methods (io.ballast.Agent.*), the calls kept until systemd is reachable, and the
 * waiters that answer Apply --wait, Restart and WaitHealthy. The only file of the supervisor that talks to
 * the socket layer. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "shared/fileio.h"
#include "shared/log.h"
#include "shared/time-util.h"
#include "supervisor/applied.h"
#include "supervisor/supervisor-internal.h"
#include "supervisor/supervisor-varlink.h"
#include "varlink/varlink.h"

struct Waiter {
        Waiter *next;
        Waiter **list;  /* the list it is on, to leave it when its caller goes away */
        VarlinkCall *call;
        bool writer;    /* root or the control group: may steer the service (see WaitHealthy) */
};

typedef int (*SupervisorMethod)(Supervisor *s, VarlinkCall *call, json_t *params);

typedef struct Deferred {
        struct Deferred *next;
        VarlinkCall *call;
        json_t *params;
        SupervisorMethod method;
} Deferred;

/* ---- calls that wait for systemd ---- */

/* Keeps a call until systemd is reachable; it is made again then, or refused after 30 s. */
static int supervisor_defer(Supervisor *s, VarlinkCall *call, json_t *params, SupervisorMethod method) {
        Deferred *d = calloc(1, sizeof(Deferred));

        if (!d)
                return -ENOMEM;
        *d = (Deferred) { .next = s->deferred, .call = varlink_call_ref(call), .params = json_incref(params),
                          .method = method };
        s->deferred = d;
        if (sd_event_source_get_enabled(s->deferred_timeout, NULL) <= 0) {
                (void) sd_event_source_set_time_relative(s->deferred_timeout, DEFERRED_TIMEOUT_USEC);
                (void) sd_event_source_set_enabled(s->deferred_timeout, SD_EVENT_ONESHOT);
        }
        return 0;
}

void supervisor_flush_deferred(Supervisor *s, bool run) {
        Deferred *list = s->deferred;

        s->deferred = NULL;
        (void) sd_event_source_set_enabled(s->deferred_timeout, SD_EVENT_OFF);
        while (list) {
                Deferred *d = list;
                list = d->next;
                if (!run)
                        (void) varlink_call_error(d->call, "io.ballast.Agent.SystemdUnavailable", NULL);
                else if (varlink_call_is_connected(d->call)) {
                        int r = d->method(s, d->call, d->params);
                        if (r < 0)
                                (void) varlink_call_error(d->call, "io.ballast.Agent.InternalError",
                                                          json_pack("{s:s}", "reason", strerror(-r)));
                }
                varlink_call_unref(d->call);
                json_decref(d->params);
                free(d);
        }
}

int on_deferred_timeout(sd_event_source *src, uint64_t usec, void *userdata) {
        supervisor_flush_deferred(userdata, false);
        return 0;
}

/* ---- waiters: Apply --wait, Restart, WaitHealthy ---- */

/* Takes the first waiter off the list; the caller answers its call and frees it with waiter_free(). */
static Waiter *waiter_pop(Waiter **list) {
        Waiter *w = *list;

        *list = w->next;
        varlink_call_set_disconnect(w->call, NULL, NULL);
        return w;
}

static void waiter_free(Waiter *w) {
        varlink_call_unref(w->call);
        free(w);
}

void waiters_reply_error(Waiter **list, const char *error, json_t *params) {
        while (*list) {
                Waiter *w = waiter_pop(list);
                (void) varlink_call_error(w->call, error, json_incref(params));
                waiter_free(w);
        }
        json_decref(params);
}

void waiters_reply(Waiter **list, json_t *params) {
        while (*list) {
                Waiter *w = waiter_pop(list);
                (void) varlink_call_reply(w->call, json_incref(params));
                waiter_free(w);
        }
        json_decref(params);
}

bool waiters_have_writer(Waiter *list) {
        for (Waiter *w = list; w; w = w->next)
                if (w->writer)
                        return true;
        return false;
}

/* The caller went away: the call ends with its connection, nothing waits for it any more. */
static void on_waiter_disconnect(VarlinkCall *call, void *userdata) {
        Waiter *w = userdata;

        for (Waiter **p = w->list; *p; p = &(*p)->next)
                if (*p == w) {
                        *p = w->next;
                        break;
                }
        waiter_free(w);
}

void waiters_notify(Waiter *list, json_t *params) {
        for (Waiter *w = list; w; w = w->next)
                if (varlink_call_wants_more(w->call))
                        (void) varlink_call_notify(w->call, json_incref(params));
        json_decref(params);
}

static int waiter_add(Waiter **list, VarlinkCall *call) {
        Waiter *w = calloc(1, sizeof(Waiter));
        if (!w)
                return -ENOMEM;
        w->call = varlink_call_ref(call);
        w->list = list;
        w->writer = varlink_call_may_write(call);
        w->next = *list;
        *list = w;
        varlink_call_set_disconnect(call, on_waiter_disconnect, w);
        return 0;
}

/* ---- Varlink methods ---- */

/* The reason names the errno too ("No space left on device (ENOSPC)"): an operator greps for it. */
static int reply_state_write_failed(VarlinkCall *call, const char *path, int error) {
        _cleanup_free_ char *reason = NULL;
        const char *name = strerrorname_np(-error);

        if (asprintf(&reason, "%s%s%s%s", strerror(-error), name ? " (" : "", strempty(name), name ? ")" : "") < 0)
                return -ENOMEM;
        return varlink_call_error(call, "io.ballast.Agent.StateWriteFailed",
                                  json_pack("{s:s,s:s}", "path", path, "reason", reason));
}

static int reply_no_such_service(VarlinkCall *call, const char *name) {
        return varlink_call_error(call, "io.ballast.Agent.NoSuchService", json_pack("{s:s}", "name", name));
}

typedef struct NameParams {
        char *name;
} NameParams;

static void name_params_done(NameParams *p) {
        free(p->name);
}

/* Dispatches params by table into p, whose "name" (a service name, mandatory in table) lands in *name. */
static int dispatch_with_name(VarlinkCall *call, json_t *params, const JsonField *table, void *p, char **name) {
        JsonError e = {};

        if (json_dispatch("", params, table, p, &e) < 0) {
                (void) varlink_call_error_invalid_parameter(call, isempty(e.path) ? "name" : e.path);
                return -EINVAL;
        }
        if (!service_name_is_valid(*name)) {
                (void) varlink_call_error_invalid_parameter(call, "name");
                return -EINVAL;
        }
        return 0;
}

/* {"name": "…"}: the one parameter most methods take. */
static int dispatch_name(VarlinkCall *call, json_t *params, NameParams *p) {
        static const JsonField table[] = {
                { "name", json_dispatch_string, offsetof(NameParams, name), JSON_MANDATORY },
                {}
        };

        return dispatch_with_name(call, params, table, p, &p->name);
}

/* The service a {"name"} call is about; NULL when the call was answered with an error already. */
static Service *lookup_service(Supervisor *s, VarlinkCall *call, json_t *params, NameParams *p) {
        Service *svc;

        if (dispatch_name(call, params, p) < 0)
                return NULL;
        svc = supervisor_find(s, p->name);
        if (!svc)
                (void) reply_no_such_service(call, p->name);
        return svc;
}

/* An admitted spec of an Apply: persisted, then taken by the service (added if new), which a reconcile pass then
 * brings up; the call is answered at once, or with progress until the unit is up or failed (apply --wait). */
static int apply_spec(Supervisor *s, VarlinkCall *call, Service *svc, ServiceSpec **specp) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        ServiceSpec *spec = *specp;
        bool marked_now = false;
        UpdateMark mark = {};
        uint64_t rev = 0;
        int r;

        /* the specs kept, and an update mark when it is one: before anything else (rollback.c) */
        if (!svc || !svc->spec || !service_spec_equal(svc->spec, spec)) {
                _cleanup_free_ char *failed = NULL;
                r = service_update_prepare(s, svc, spec, &mark, &rev, &failed);
                if (r < 0) {
                        log_event(LOG_ERR, r, "apply-failed", spec->name, BALLAST_MESSAGE_ERROR,
                                  "Cannot persist the spec of %s: %m", spec->name);
                        return reply_state_write_failed(call, strna(failed), r);
                }
        }

        /* A change that needs a restart is marked first (see restart_marker_set), then persisted: a crash from
         * here on converges to the new spec, restarted, at the next start. */
        if (svc && svc->spec && !service_spec_equal(svc->spec, spec) && !specs_differ_only_in_resources(svc->spec, spec)) {
                _cleanup_free_ char *marker = restart_marker_path(s, spec->name);
                if (!marker)
                        return -ENOMEM;
                marked_now = !svc->restart_marked;
                r = restart_marker_set(s, svc);
                if (r < 0) {
                        log_event(LOG_ERR, r, "apply-failed", spec->name, BALLAST_MESSAGE_ERROR,
                                  "Cannot persist the spec of %s: %m", spec->name);
                        return reply_state_write_failed(call, marker, r);
                }
        }
        path = service_spec_path(s, spec->name);
        if (!path || applied_spec_render(spec, &text) < 0)
                return -ENOMEM;
        r = write_if_changed(path, text, 0600);
        if (r < 0) {
                if (marked_now) {
                        /* nothing changed after all */
                        svc->restart_marked = false;
                        restart_marker_clear(s, svc->name);
                }
                log_event(LOG_ERR, r, "apply-failed", spec->name, BALLAST_MESSAGE_ERROR,
                          "Cannot persist the spec of %s: %m", spec->name);
                return reply_state_write_failed(call, path, r);
        }

        if (!svc) {
                svc = supervisor_add(s, spec->name);
                if (!svc)
                        return -ENOMEM;
        }
        /* an apply asks for this spec to run: a stop on purpose ends with it */
        r = service_clear_stopped(s, svc, "applied");
        if (r < 0)
                return reply_state_write_failed(call, s->state_dir, r);
        service_set_spec(svc, TAKE_PTR(*specp));
        svc->origin = ORIGIN_API;
        svc->present = true;
        svc->just_applied = true;
        if (rev > 0)
                service_update_started(svc, &mark, rev);
        log_event(LOG_INFO, 0, "service-applied", svc->name, BALLAST_MESSAGE_SERVICE_APPLIED, "Applied %s.", svc->name);

        supervisor_schedule_reconcile(s);
        if (!varlink_call_wants_more(call))
                return varlink_call_reply(call, json_pack("{s:s,s:s}", "name", svc->name, "state", "applied"));
        /* "more" (apply --wait): progress until the unit is up or failed */
        r = waiter_add(&svc->op_waiters, call);
        if (r < 0)
                return r;
        waiters_notify(svc->op_waiters, json_pack("{s:s,s:s}", "name", svc->name, "state", "written"));
        if (!bus_is_connected(s->bus))
                waiters_notify(svc->op_waiters, json_pack("{s:s,s:s}", "name", svc->name, "state", "waiting for systemd"));
        return 0;
}

/* apply --dry-run, ballastctl diff: what the apply would change, computed as the apply would (spec-diff.h) */
static int reply_dry_run(Supervisor *s, VarlinkCall *call, Service *svc, const ServiceSpec *spec) {
        _cleanup_free_ char *have_unit = NULL, *want_unit = NULL;
        _cleanup_json_ json_t *have_body = NULL, *want_body = NULL;
        const ServiceSpec *have = svc ? svc->spec : NULL;
        int r;

        r = service_render(s, spec, &want_unit, &want_body);
        if (r >= 0 && have)
                r = service_render(s, have, &have_unit, &have_body);
        if (r < 0)
                return r;
        return varlink_call_reply(call, json_pack("{s:s,s:s,s:o}", "name", spec->name, "state", "dry-run", "diff",
                                                  spec_diff_json(have, spec, have_unit, want_unit, have_body,
                                                                 want_body)));
}

int supervisor_method_apply(Supervisor *s, VarlinkCall *call, json_t *params) {
        _cleanup_(service_spec_freep) ServiceSpec *spec = NULL;
        json_t *v = json_object_get(params, "spec"), *vo = json_object_get(params, "validate_only"),
               *dr = json_object_get(params, "dry_run");
        JsonError e = {};
        Service *svc;
        int r;

        if (!v)
                return varlink_call_error_invalid_parameter(call, "spec");
        if (vo && !json_is_boolean(vo))
                return varlink_call_error_invalid_parameter(call, "validate_only");
        if (dr && !json_is_boolean(dr))
                return varlink_call_error_invalid_parameter(call, "dry_run");
        if (json_object_size(params) != (size_t) (1 + !!vo + !!dr))
                return varlink_call_error_invalid_parameter(call, "spec");
        r = service_spec_from_json(v, &spec, &e);
        if (r == -EINVAL)
                return varlink_call_error(call, "io.ballast.Agent.InvalidSpec",
                                          json_pack("{s:s,s:s}", "field", e.path, "reason", e.message));
        if (r < 0)
                return r;

        svc = supervisor_find(s, spec->name);
        if (svc && svc->origin == ORIGIN_FILE) {
                _cleanup_free_ char *f = NULL;
                if (asprintf(&f, "%s/%s.json", s->services_dir, spec->name) < 0)
                        return -ENOMEM;
                return varlink_call_error(call, "io.ballast.Agent.ServiceNotManaged",
                                          json_pack("{s:s,s:s}", "name", spec->name, "path", f));
        }
        if (name_is_protected(s, spec->name))
                return varlink_call_error(call, "io.ballast.Agent.ServiceNotManaged",
                                          json_pack("{s:s,s:s}", "name", spec->name, "path", s->services_dir));
        {
                _cleanup_free_ char *cycle = NULL;
                r = supervisor_check_order(s, spec, false, &cycle);
                if (r < 0)
                        return r;
                if (r > 0)
                        return varlink_call_error(call, "io.ballast.Agent.InvalidSpec",
                                                  json_pack("{s:s,s:s+}", "field", spec->after ? "after" : "requires",
                                                            "reason", "forms a cycle: ", cycle));
        }
        {
                _cleanup_json_ json_t *why = NULL;
                r = supervisor_check_admission(s, spec, false, &why);
                if (r == -ENOSPC || r == -EADDRINUSE) {
                        log_event(LOG_NOTICE, 0, "admission-refused", spec->name, NULL,
                                  "Refused %s: it does not fit.", spec->name);
                        return varlink_call_error(call, "io.ballast.Agent.InsufficientCapacity", TAKE_PTR(why));
                }
                if (r < 0)
                        return r;
        }
        if (json_is_true(vo))
                return varlink_call_reply(call, json_pack("{s:s,s:s}", "name", spec->name, "state", "valid"));
        if (json_is_true(dr))
                return reply_dry_run(s, call, svc, spec);
        return apply_spec(s, call, svc, &spec);
}

typedef struct RemoveContext {
        Supervisor *supervisor;
        char *name;
        char *unit;
        VarlinkCall *call;
        bool volumes;       /* rm --volumes */
        json_t *reply;      /* {name, volumes, volumes_error} */
} RemoveContext;

static void remove_context_free(RemoveContext *rc) {
        varlink_call_unref(rc->call);
        json_decref(rc->reply);
        free(rc->name);
        free(rc->unit);
        free(rc);
}

static void on_remove_reloaded(Bus *b, int error, void *userdata) {
        RemoveContext *rc = userdata;

        (void) varlink_call_reply(rc->call, rc->reply ? json_incref(rc->reply) : json_pack("{s:s}", "name", rc->name));
        remove_context_free(rc);
}

static void remove_finish(RemoveContext *rc) {
        log_event(LOG_INFO, 0, "service-removed", rc->name, BALLAST_MESSAGE_SERVICE_REMOVED, "Removed %s.", rc->name);
        if (bus_reload(rc->supervisor->bus, on_remove_reloaded, rc) < 0)
                on_remove_reloaded(rc->supervisor->bus, -EIO, rc);
}

static void on_remove_volumes_done(json_t *removed, const char *error, void *userdata) {
        RemoveContext *rc = userdata;

        rc->reply = json_pack("{s:s,s:O}", "name", rc->name, "volumes", removed);
        if (rc->reply && error)
                (void) json_object_set_new(rc->reply, "volumes_error", json_string(error));
        remove_finish(rc);
}

static void on_remove_volumes_destroy(void *userdata) {
        remove_context_free(userdata);
}

static void on_remove_stopped(Bus *b, const char *unit, const char *result, void *userdata) {
        RemoveContext *rc = userdata;
        Supervisor *s = rc->supervisor;

        /* the bus gone (lost, or closed as ballastd exits): whether it stopped is not known. The spec is gone
         * already, so the unit is an orphan: a later pass (or the next ballastd) stops and removes it. */
        if (streq(result, BUS_JOB_LOST)) {
                (void) varlink_call_error(rc->call, "io.ballast.Agent.SystemdUnavailable", NULL);
                remove_context_free(rc);
                return;
        }
        /* the name may have been applied again while we stopped it: its unit and container are the new
         * service's now (the reconcile pass starts it again if our stop got to it) */
        if (supervisor_find(s, rc->name) || name_is_protected(s, rc->name)) {
                log_event(LOG_INFO, 0, "service-removed", rc->name, BALLAST_MESSAGE_SERVICE_REMOVED,
                          "Removed %s; applied again meanwhile, its new unit stays.", rc->name);
                supervisor_schedule_reconcile(s);
                (void) varlink_call_reply(rc->call, json_pack("{s:s}", "name", rc->name));
                remove_context_free(rc);
                return;
        }
        (void) remove_unit_files(s, rc->unit, rc->name);
        if (rc->volumes) {
                /* the volumes once the container is gone; the reply says which went */
                int r = remove_service_volumes(s, rc->name, on_remove_volumes_done, on_remove_volumes_destroy, rc);
                if (r >= 0)
                        return;
                remove_container(s, rc->name);
                rc->reply = json_pack("{s:s,s:[],s:s}", "name", rc->name, "volumes", "volumes_error",
                                      r == -EHOSTDOWN ? "Docker is not reachable; the volumes are kept" : strerror(-r));
        } else
                remove_container(s, rc->name);
        remove_finish(rc);
}

typedef struct RemoveParams {
        char *name;
        bool volumes;
} RemoveParams;

static void remove_params_done(RemoveParams *p) {
        free(p->name);
}

/* {"name": "…", "volumes": bool?} */
static int dispatch_remove(VarlinkCall *call, json_t *params, RemoveParams *p) {
        static const JsonField table[] = {
                { "name", json_dispatch_string, offsetof(RemoveParams, name), JSON_MANDATORY },
                { "volumes", json_dispatch_bool, offsetof(RemoveParams, volumes), 0 },
                {}
        };

        return dispatch_with_name(call, params, table, p, &p->name);
}

int supervisor_method_remove(Supervisor *s, VarlinkCall *call, json_t *params) {
        _cleanup_(remove_params_done) RemoveParams p = {};
        _cleanup_free_ char *path = NULL;
        RemoveContext *rc;
        Service *svc;
        int r;

        if (dispatch_remove(call, params, &p) < 0)
                return 0;
        svc = supervisor_find(s, p.name);
        if (!svc)
                return reply_no_such_service(call, p.name);
        if (svc->origin == ORIGIN_FILE)
                return varlink_call_error(call, "io.ballast.Agent.ServiceNotManaged",
                                          json_pack("{s:s,s:s}", "name", p.name, "path", s->services_dir));
        if (!bus_is_connected(s->bus))
                return supervisor_defer(s, call, params, supervisor_method_remove);

        /* The spec goes first (durably): after a crash the unit is an orphan and the next pass removes it. */
        path = service_spec_path(s, p.name);
        if (!path)
                return -ENOMEM;
        r = unlink_durable(path);
        if (r < 0)
                return reply_state_write_failed(call, path, r);
        (void) stopped_mark_clear(s->state_dir, p.name);
        /* its kept specs go with it: a service of the same name applied later starts a history of its own */
        if (history_remove(s->state_dir, p.name) < 0)
                log_warning("Cannot remove the kept specs of %s (%s/%s/%s).", p.name, s->state_dir, HISTORY_DIR, p.name);
        rc = calloc(1, sizeof(RemoveContext));
        if (!rc)
                return -ENOMEM;
        *rc = (RemoveContext) { .supervisor = s, .name = strdup(p.name), .unit = strdup(svc->unit),
                                .call = varlink_call_ref(call), .volumes = p.volumes };
        supervisor_drop(s, svc);
        if (!rc->name || !rc->unit) {
                remove_context_free(rc);
                return -ENOMEM;
        }
        r = bus_unit_job(s->bus, "StopUnit", rc->unit, on_remove_stopped, rc);
        if (r < 0) {
                remove_context_free(rc);
                return r;
        }
        return 0;
}

static int reply_service_stopped(VarlinkCall *call, Service *svc) {
        return varlink_call_error(call, "io.ballast.Agent.ServiceStopped",
                                  json_pack("{s:s,s:s}", "name", svc->name, "by", stopped_by_to_string(svc->stopped)));
}

/* A stop mark that could not be written or removed (state_dir/stopped/): nothing changed. */
static int reply_stopped_write_failed(Supervisor *s, VarlinkCall *call, int error) {
        _cleanup_free_ char *path = path_join(s->state_dir, STOPPED_DIR);

        return reply_state_write_failed(call, strna(path), error);
}

/* Back to the spec kept before the current one (or, during an update, to the one it replaces): the spec file
 * is written first (rollback.c), then the unit restarted from it; the reply comes at once, with the status. */
int supervisor_method_rollback(Supervisor *s, VarlinkCall *call, json_t *params) {
        _cleanup_(name_params_done) NameParams p = {};
        Service *svc;
        int r;

        svc = lookup_service(s, call, params, &p);
        if (!svc)
                return 0;
        if (svc->origin == ORIGIN_FILE)
                return varlink_call_error(call, "io.ballast.Agent.ServiceNotManaged",
                                          json_pack("{s:s,s:s}", "name", p.name, "path", s->services_dir));
        r = service_rollback(s, svc, "rolled back by hand (ballastctl rollback)", true);
        if (r == -ENOENT)
                return varlink_call_error(call, "io.ballast.Agent.NoPreviousSpec", json_pack("{s:s}", "name", p.name));
        if (r < 0) {
                _cleanup_free_ char *dir = path_join(s->state_dir, HISTORY_DIR);
                return reply_state_write_failed(call, strna(dir), r);
        }
        return varlink_call_reply(call, service_status_json(s, svc));
}

/* Persists the mark first (a ballastd killed after it stops the unit at its next start), then stops the unit;
 * the reply comes when it is down. */
int supervisor_method_stop(Supervisor *s, VarlinkCall *call, json_t *params) {
        _cleanup_(name_params_done) NameParams p = {};
        Service *svc;
        int r;

        svc = lookup_service(s, call, params, &p);
        if (!svc)
                return 0;
        if (!bus_is_connected(s->bus))
                return supervisor_defer(s, call, params, supervisor_method_stop);
        r = service_set_stopped(s, svc, STOPPED_BY_CTL);
        if (r < 0)
                return reply_stopped_write_failed(s, call, r);
        log_event(LOG_INFO, 0, "service-stop", svc->name, NULL,
                  "Stopping %s on request; it stays stopped until started.", svc->unit);
        r = waiter_add(&svc->op_waiters, call);
        if (r < 0)
                return r;
        return service_stop_job(s, svc);
}

/* Clears the mark (durably), then starts the unit; the reply comes when it is up. */
int supervisor_method_start(Supervisor *s, VarlinkCall *call, json_t *params) {
        _cleanup_(name_params_done) NameParams p = {};
        Service *svc;
        int r;

        svc = lookup_service(s, call, params, &p);
        if (!svc)
                return 0;
        if (!bus_is_connected(s->bus))
                return supervisor_defer(s, call, params, supervisor_method_start);
        if (s->draining)
                return varlink_call_error(call, "io.ballast.Agent.Draining", json_pack("{s:s}", "name", svc->name));
        r = service_clear_stopped(s, svc, "started on request");
        if (r < 0)
                return reply_stopped_write_failed(s, call, r);
        r = waiter_add(&svc->op_waiters, call);
        if (r < 0)
                return r;
        svc->stop_deciding = false;
        svc->health = (HealthState) {};
        svc->job_in_flight = false; /* a start whose job we still wait for answers this call too */
        return service_job(s, svc, "StartUnit");
}

int supervisor_method_restart(Supervisor *s, VarlinkCall *call, json_t *params) {
        _cleanup_(name_params_done) NameParams p = {};
        Service *svc;
        int r;

        svc = lookup_service(s, call, params, &p);
        if (!svc)
                return 0;
        if (!bus_is_connected(s->bus))
                return supervisor_defer(s, call, params, supervisor_method_restart);
        if (s->draining)
                return varlink_call_error(call, "io.ballast.Agent.Draining", json_pack("{s:s}", "name", svc->name));
        if (svc->stopped != STOPPED_NONE)
                return reply_service_stopped(call, svc);
        r = waiter_add(&svc->op_waiters, call);
        if (r < 0)
                return r;
        log_event(LOG_INFO, 0, "service-restart", svc->name, NULL, "Restarting %s on request.", svc->unit);
        svc->health.healthy = false;
        return service_job(s, svc, "RestartUnit");
}

int supervisor_method_list(Supervisor *s, VarlinkCall *call, json_t *params) {
        json_t *list = json_array();

        if (json_object_size(params) > 0)
                return varlink_call_error_invalid_parameter(call, json_object_iter_key(json_object_iter(params)));
        for (size_t i = 0; i < s->n_services; i++)
                json_array_append_new(list, service_status_json(s, s->services[i]));
        return varlink_call_reply(call, json_pack("{s:o}", "services", list));
}

typedef struct GetContext {
        Supervisor *supervisor;
        VarlinkCall *call;
        char *name;
} GetContext;

static void get_context_free(void *userdata) {
        GetContext *g = userdata;

        varlink_call_unref(g->call);
        free(g->name);
        free(g);
}

/* The spec as GetService shows it: every value of env is "<redacted>" (the keys stay), whoever asks. Values
 * are often secrets; they stay in the state directory (root only) and in the operator's own spec file. */
static json_t *spec_json_redacted(const ServiceSpec *spec) {
        json_t *o = service_spec_to_json(spec), *env = json_object_get(o, "env"), *v;
        const char *key;

        json_object_foreach(env, key, v)
                (void) json_string_set(v, "<redacted>");
        return o;
}

static int reply_service(Supervisor *s, VarlinkCall *call, Service *svc, json_t *container) {
        json_t *status = service_status_json(s, svc);

        if (container)
                json_object_set_new(status, "container", container);
        return varlink_call_reply(call, json_pack("{s:o,s:o}", "spec", spec_json_redacted(svc->spec), "status",
                                                  status));
}

static void on_container_inspected(Docker *d, int error, long status, json_t *reply, void *userdata) {
        GetContext *g = userdata;
        Service *svc = supervisor_find(g->supervisor, g->name);
        json_t *container = NULL;

        if (!svc)
                (void) reply_no_such_service(g->call, g->name);
        else {
                if (error >= 0 && status == 200)
                        container = docker_container_summary(reply);
                else
                        container = json_pack("{s:s}", "status", status == 404 ? "absent" : "unknown");
                (void) reply_service(g->supervisor, g->call, svc, container);
        }
        get_context_free(g);
}

int supervisor_method_get(Supervisor *s, VarlinkCall *call, json_t *params) {
        _cleanup_(name_params_done) NameParams p = {};
        _cleanup_free_ char *path = NULL;
        GetContext *g;
        Service *svc;

        svc = lookup_service(s, call, params, &p);
        if (!svc)
                return 0;
        if (svc->spec->runtime != SERVICE_RUNTIME_DOCKER || !docker_is_up(s->docker))
                return reply_service(s, call, svc, NULL);

        /* what Docker says of the container, asked on the loop; a slow Docker only costs this call */
        g = calloc(1, sizeof(GetContext));
        if (!g || asprintf(&path, "/containers/ballast-%s/json", svc->name) < 0) {
                free(g);
                return -ENOMEM;
        }
        *g = (GetContext) { .supervisor = s, .call = varlink_call_ref(call), .name = TAKE_PTR(p.name) };
        if (docker_call_full(s->docker, "GET", path, NULL, 2000, on_container_inspected, get_context_free, g) < 0) {
                get_context_free(g);
                return reply_service(s, call, svc, NULL);
        }
        return 0;
}

int supervisor_method_wait_healthy(Supervisor *s, VarlinkCall *call, json_t *params) {
        _cleanup_(name_params_done) NameParams p = {};
        Service *svc;

        svc = lookup_service(s, call, params, &p);
        if (!svc)
                return 0;
        if (svc->spec->health == HEALTH_NONE || svc->health.healthy)
                return varlink_call_reply(call, NULL);
        /* A read-only caller only waits: the checks go on at their own pace and an unhealthy start is restarted
         * as without it. ballast-run (root) calls this right after the container started: the container runs,
         * its start period counts from now; check now unless a check or a restart's backoff is under way (the
         * answer Unhealthy is its to act on: it exits, and systemd restarts the unit). */
        if (varlink_call_may_write(call)) {
                service_health_running(svc);
                if (!svc->check && !svc->health_restart_pending)
                        service_health_schedule(svc, 0);
        }
        return waiter_add(&svc->ready_waiters, call);
}
