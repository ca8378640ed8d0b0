/* SPDX-License-Identifier: MIT */
#include <unistd.h>

#include "config.h"
#include "control.h"
#include "manager.h"
#include "shared/time-util.h"

static int method_get_status(VarlinkCall *call, json_t *params, void *userdata) {
        Manager *m = userdata;
        json_t *waiting;

        if (json_object_size(params) > 0)
                return varlink_call_error_invalid_parameter(call, json_object_iter_key(json_object_iter(params)));

        waiting = json_array();
        if (m->config_error)
                json_array_append_new(waiting, json_string("a valid configuration"));

        return varlink_call_reply(
                call,
                json_pack("{s:s,s:s,s:i,s:I,s:I,s:s,s:s?,s:I,s:{s:i,s:i,s:i},s:o,s:i}",
                          "version", PACKAGE_VERSION,
                          "node", m->node_name,
                          "pid", (int) getpid(),
                          "started_at_usec", (json_int_t) m->started_at_usec,
                          "uptime_usec", (json_int_t) (now_usec(CLOCK_MONOTONIC) - m->started_monotonic_usec),
                          "config", m->config_path,
                          "config_error", m->config_error,
                          "config_loaded_at_usec", (json_int_t) m->config_loaded_at_usec,
                          "services", "total", 0, "active", 0, "failed", 0,
                          "waiting_for", waiting,
                          "connections", (int) varlink_server_n_connections(m->varlink)));
}

const VarlinkMethod control_methods[] = {
        { "io.ballast.Agent.GetStatus", method_get_status, 0 },
        {}
};
