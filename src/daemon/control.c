/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/control.h"
#include "daemon/manager.h"
#include "shared/log.h"
#include "shared/time-util.h"
#include "supervisor/supervisor-varlink.h"
#include "updates/updater-varlink.h"

/* A state file could not be written: which and why (nothing changed). */
static int reply_state_write_failed(VarlinkCall *call, const char *path, int r) {
        return varlink_call_error(call, "io.ballast.Agent.StateWriteFailed",
                                  json_pack("{s:s,s:s}", "path", strna(path), "reason", strerror(-r)));
}

/* A module that runs only on a valid configuration is not there: say why. */
static int reply_not_ready(VarlinkCall *call, Manager *m) {
        return varlink_call_error(call, "io.ballast.Agent.NotReady",
                                  json_pack("{s:s}", "reason", m->config_error ?: "starting"));
}

/* Methods without parameters refuse any. */
static int refuse_parameters(VarlinkCall *call, json_t *params) {
        if (json_object_size(params) == 0)
                return 0;
        (void) varlink_call_error_invalid_parameter(call, json_object_iter_key(json_object_iter(params)));
        return -EINVAL;
}

static int method_get_status(VarlinkCall *call, json_t *params, void *userdata) {
        Manager *m = userdata;
        json_t *waiting;
        unsigned total = 0, active = 0, failed = 0;

        if (refuse_parameters(call, params) < 0)
                return 0;

        waiting = json_array();
        if (m->config_error)
                json_array_append_new(waiting, json_string("a valid configuration"));
        if (m->bus && !bus_is_connected(m->bus))
                json_array_append_new(waiting, json_string("systemd"));
        if (m->docker && !docker_is_up(m->docker))
                json_array_append_new(waiting, json_string("docker"));
        if (m->supervisor)
                supervisor_counts(m->supervisor, &total, &active, &failed);
        {
                json_t *cl = m->reporter ? reporter_status_json(m->reporter) : NULL;
                const char *st = json_string_value(json_object_get(json_object_get(cl, "etcd"), "state"));
                if (st && !streq(st, "ok"))
                        json_array_append_new(waiting, json_string("etcd"));
                st = json_string_value(json_object_get(json_object_get(cl, "http"), "state"));
                if (st && !streq(st, "ok"))
                        json_array_append_new(waiting, json_string("the HTTP endpoint"));
                json_decref(cl);
        }

        return varlink_call_reply(
                call,
                json_pack("{s:s,s:s,s:i,s:I,s:I,s:s,s:s?,s:I,s:{s:i,s:i,s:i},s:o,s:i,s:o,s:o}",
                          "version", PACKAGE_VERSION,
                          "node", m->node_name,
                          "pid", (int) getpid(),
                          "started_at_usec", (json_int_t) m->started_at_usec,
                          "uptime_usec", (json_int_t) (now_usec(CLOCK_MONOTONIC) - m->started_monotonic_usec),
                          "config", m->config_path,
                          "config_error", m->config_error,
                          "config_loaded_at_usec", (json_int_t) m->config_loaded_at_usec,
                          "services", "total", (int) total, "active", (int) active, "failed", (int) failed,
                          "waiting_for", waiting,
                          "connections", (int) varlink_server_n_connections(m->varlink),
                          "conditions", m->config_error ? json_object() : manager_conditions_json(m),
                          "cluster", m->reporter ? reporter_status_json(m->reporter) : json_pack("{s:n,s:n}", "etcd", "http")));
}

/* The service methods need the supervisor, which runs only on a valid configuration. */
#define SUPERVISOR_METHOD(fn, impl)                                                                        \
        static int fn(VarlinkCall *call, json_t *params, void *userdata) {                                \
                Manager *m = userdata;                                                                     \
                if (!m->supervisor)                                                                        \
                        return reply_not_ready(call, m);                                                  \
                return impl(m->supervisor, call, params);                                                  \
        }

static int method_get_capacity(VarlinkCall *call, json_t *params, void *userdata) {
        Manager *m = userdata;

        if (refuse_parameters(call, params) < 0)
                return 0;
        if (!m->supervisor)
                return reply_not_ready(call, m);
        return varlink_call_reply(call, manager_capacity_json(m));
}

static void on_nodes(int error, json_t *nodes, void *userdata) {
        VarlinkCall *call = userdata;

        if (error == -ENOTCONN)
                (void) varlink_call_error(call, "io.ballast.Agent.ClusterNotConfigured", NULL);
        else if (error < 0)
                (void) varlink_call_error(call, "io.ballast.Agent.ClusterUnavailable",
                                          json_pack("{s:s}", "reason", strerror(-error)));
        else
                (void) varlink_call_reply(call, json_pack("{s:O}", "nodes", nodes));
        varlink_call_unref(call);
}

static int method_list_nodes(VarlinkCall *call, json_t *params, void *userdata) {
        Manager *m = userdata;
        int r;

        if (refuse_parameters(call, params) < 0)
                return 0;
        if (!m->reporter)
                return reply_not_ready(call, m);
        r = reporter_list_nodes(m->reporter, on_nodes, varlink_call_ref(call));
        if (r < 0) {
                varlink_call_unref(call);
                if (r == -ENOTCONN)
                        return varlink_call_error(call, "io.ballast.Agent.ClusterNotConfigured", NULL);
                return r;
        }
        return 0;
}

/* The update methods need the updater, which runs only on a valid configuration. */
#define UPDATER_METHOD(fn, impl)                                                                           \
        static int fn(VarlinkCall *call, json_t *params, void *userdata) {                                \
                Manager *m = userdata;                                                                     \
                if (!m->updater)                                                                           \
                        return reply_not_ready(call, m);                                                  \
                return impl(m->updater, call, params);                                                     \
        }

UPDATER_METHOD(method_get_update_status, updater_method_status)
UPDATER_METHOD(method_update_pin, updater_method_pin)
UPDATER_METHOD(method_update_pause, updater_method_pause)
UPDATER_METHOD(method_update_resume, updater_method_resume)
UPDATER_METHOD(method_update_set_windows, updater_method_set_windows)
UPDATER_METHOD(method_update_approve, updater_method_approve)
UPDATER_METHOD(method_update_unpin, updater_method_unpin)
UPDATER_METHOD(method_update_reset_windows, updater_method_reset_windows)
UPDATER_METHOD(method_update_unlock, updater_method_unlock)

static int method_drain(VarlinkCall *call, json_t *params, void *userdata) {
        Manager *m = userdata;
        int r;

        if (refuse_parameters(call, params) < 0)
                return 0;
        if (!m->supervisor)
                return reply_not_ready(call, m);
        r = manager_set_manual_drain(m, true); /* recorded first: it outlives a restart */
        if (r < 0)
                return reply_state_write_failed(call, m->drain_path, r);
        if (m->draining && m->drain_done)
                return varlink_call_reply(call, json_pack("{s:b,s:b}", "draining", true, "drained", true));
        r = manager_drain(m, "on request");
        if (r < 0)
                (void) manager_set_manual_drain(m, false); /* not drained: nothing to keep */
        if (r == -ENOTCONN)
                return varlink_call_error(call, "io.ballast.Agent.SystemdUnavailable", NULL);
        if (r < 0)
                return r;
        if (m->drain_done) /* nothing to stop: done already */
                return varlink_call_reply(call, json_pack("{s:b,s:b}", "draining", true, "drained", true));
        return manager_add_drain_waiter(m, call);
}

static int method_undrain(VarlinkCall *call, json_t *params, void *userdata) {
        Manager *m = userdata;
        int r;

        if (refuse_parameters(call, params) < 0)
                return 0;
        if (!m->supervisor)
                return reply_not_ready(call, m);
        r = manager_set_manual_drain(m, false);
        if (r < 0)
                return reply_state_write_failed(call, m->drain_path, r);
        manager_undrain(m, "on request");
        return varlink_call_reply(call, json_pack("{s:b,s:b}", "draining", false, "drained", false));
}

SUPERVISOR_METHOD(method_apply_service, supervisor_method_apply)
SUPERVISOR_METHOD(method_remove_service, supervisor_method_remove)
SUPERVISOR_METHOD(method_restart_service, supervisor_method_restart)
SUPERVISOR_METHOD(method_stop_service, supervisor_method_stop)
SUPERVISOR_METHOD(method_rollback_service, supervisor_method_rollback)
SUPERVISOR_METHOD(method_start_service, supervisor_method_start)
SUPERVISOR_METHOD(method_list_services, supervisor_method_list)
SUPERVISOR_METHOD(method_get_service, supervisor_method_get)
SUPERVISOR_METHOD(method_wait_healthy, supervisor_method_wait_healthy)

const VarlinkMethod control_methods[] = {
        { "io.ballast.Agent.GetStatus", method_get_status, 0 },
        { "io.ballast.Agent.GetCapacity", method_get_capacity, 0 },
        { "io.ballast.Agent.ListNodes", method_list_nodes, 0 },
        { "io.ballast.Agent.ListServices", method_list_services, 0 },
        { "io.ballast.Agent.GetService", method_get_service, 0 },
        { "io.ballast.Agent.WaitHealthy", method_wait_healthy, 0 },
        { "io.ballast.Agent.ApplyService", method_apply_service, VARLINK_METHOD_WRITE | VARLINK_METHOD_MORE },
        { "io.ballast.Agent.RemoveService", method_remove_service, VARLINK_METHOD_WRITE },
        { "io.ballast.Agent.RestartService", method_restart_service, VARLINK_METHOD_WRITE },
        { "io.ballast.Agent.StopService", method_stop_service, VARLINK_METHOD_WRITE },
        { "io.ballast.Agent.StartService", method_start_service, VARLINK_METHOD_WRITE },
        { "io.ballast.Agent.RollbackService", method_rollback_service, VARLINK_METHOD_WRITE },
        { "io.ballast.Agent.Drain", method_drain, VARLINK_METHOD_WRITE },
        { "io.ballast.Agent.Undrain", method_undrain, VARLINK_METHOD_WRITE },
        { "io.ballast.Agent.GetUpdateStatus", method_get_update_status, 0 },
        { "io.ballast.Agent.UpdatePin", method_update_pin, VARLINK_METHOD_WRITE },
        { "io.ballast.Agent.UpdatePause", method_update_pause, VARLINK_METHOD_WRITE },
        { "io.ballast.Agent.UpdateResume", method_update_resume, VARLINK_METHOD_WRITE },
        { "io.ballast.Agent.UpdateSetWindows", method_update_set_windows, VARLINK_METHOD_WRITE },
        { "io.ballast.Agent.UpdateApprove", method_update_approve, VARLINK_METHOD_WRITE },
        { "io.ballast.Agent.UpdateUnpin", method_update_unpin, VARLINK_METHOD_WRITE },
        { "io.ballast.Agent.UpdateResetWindows", method_update_reset_windows, VARLINK_METHOD_WRITE },
        { "io.ballast.Agent.UpdateUnlock", method_update_unlock, VARLINK_METHOD_WRITE },
        {}
};
