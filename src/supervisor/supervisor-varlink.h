/* SPDX-License-Identifier: MIT */
#pragma once

/* The supervisor's Varlink methods (io.ballast.Agent.*): the binding of the supervisor to the control socket.
 * Each parses its parameters, acts on the supervisor and answers the call, at once or when the job it queued is
 * over. The socket layer is the caller's (control.c); the supervisor itself never includes it. */

#include <jansson.h>

#include "supervisor/supervisor.h"

typedef struct VarlinkCall VarlinkCall;

/* Varlink methods (io.ballast.Agent.*). */
int supervisor_method_apply(Supervisor *s, VarlinkCall *call, json_t *params);
int supervisor_method_remove(Supervisor *s, VarlinkCall *call, json_t *params);
int supervisor_method_restart(Supervisor *s, VarlinkCall *call, json_t *params);
int supervisor_method_stop(Supervisor *s, VarlinkCall *call, json_t *params);
int supervisor_method_rollback(Supervisor *s, VarlinkCall *call, json_t *params);
int supervisor_method_start(Supervisor *s, VarlinkCall *call, json_t *params);
int supervisor_method_list(Supervisor *s, VarlinkCall *call, json_t *params);
int supervisor_method_get(Supervisor *s, VarlinkCall *call, json_t *params);
int supervisor_method_wait_healthy(Supervisor *s, VarlinkCall *call, json_t *params);
