/* SPDX-License-Identifier: MIT */
#pragma once

/* Graceful shutdown for every shutdown of the host, not only ballast's own reboots: while ballastd has services it
 * holds a logind delay inhibitor ("shutdown", mode "delay"), so that logind tells it first (PrepareForShutdown,
 * accepted only from the owner of org.freedesktop.login1) and waits for it, at most InhibitDelayMaxSec=. Then
 * the manager stops the services (the drain: the last one applied first) and reports the node as shutting down;
 * the guard releases the inhibitor when that is done or when the budget (shutdown_budget_usec() of logind's
 * InhibitDelayMaxUSec) runs out, whichever comes first, and the shutdown goes on. */

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <systemd/sd-event.h>

#include "shared/macro.h"

typedef struct ShutdownGuard ShutdownGuard;

typedef struct ShutdownHooks {
        /* logind announced a shutdown: stop the services, then call shutdown_guard_release() */
        void (*prepare)(void *userdata);
        /* the shutdown was called off (PrepareForShutdown(false)): start them again */
        void (*cancelled)(void *userdata);
        void *userdata;
} ShutdownHooks;

int shutdown_guard_new(ShutdownGuard **ret, sd_event *event, const ShutdownHooks *hooks);
ShutdownGuard *shutdown_guard_free(ShutdownGuard *g);
DEFINE_CLEANUP_FUNC(ShutdownGuard *, shutdown_guard_free);

/* Whether the inhibitor is wanted (ballastd has services). Connects to the system bus when needed (again after
 * a failure: call it periodically). Never takes the inhibitor again once a shutdown is under way. */
void shutdown_guard_want(ShutdownGuard *g, bool want);
/* The services are stopped (or the budget is over): let the shutdown go on. */
void shutdown_guard_release(ShutdownGuard *g, const char *why);
bool shutdown_guard_shutting_down(const ShutdownGuard *g);
/* {"shutting_down": B, "since_usec": T (CLOCK_REALTIME, 0 when not), "inhibitor": B, "budget_usec": N} */
json_t *shutdown_guard_json(const ShutdownGuard *g);

/* The time ballast gives itself to stop its services out of logind's InhibitDelayMaxUSec: a margin before
 * logind's own limit, so that the release and the last report are ours and not logind's timeout. 0 → 0. */
uint64_t shutdown_budget_usec(uint64_t inhibit_delay_max_usec);
