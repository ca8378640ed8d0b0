/* SPDX-License-Identifier: MIT */
#pragma once

/* systemd over D-Bus, asynchronous only. We subscribe (JobRemoved, PropertiesChanged) before we ever act, keep a
 * cache of the state of every ballast-*.service unit, and start, stop and restart units as jobs whose end is
 * reported to a callback. The bus may be absent at start or go away; we reconnect. */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "shared/macro.h"

#define BUS_UNIT_PREFIX "ballast-"
#define BUS_UNIT_SUFFIX ".service"

typedef struct Bus Bus;

typedef struct UnitState {
        char *name;
        char *load_state;     /* loaded, not-found, … */
        char *active_state;   /* active, activating, deactivating, inactive, failed, reloading */
        char *sub_state;      /* running, start-post, auto-restart, dead, exited, … */
        char *result;         /* success, exit-code, signal, … */
        char *status_text;    /* the service's StatusText (sd_notify STATUS=), NULL: none */
        uint32_t n_restarts;
        uint32_t main_pid;
        int32_t exec_main_status;
        uint64_t active_enter_usec;  /* CLOCK_REALTIME of the last entry into "active" */
        bool foreign_job_done;       /* a job we did not queue ran to "done" on it since the last
                                      * bus_unit_foreign_job_seen(): systemctl stop|start by hand */
} UnitState;

typedef void (*BusStateFunc)(Bus *b, bool connected, void *userdata);
typedef void (*BusUnitFunc)(Bus *b, const UnitState *u, void *userdata);
/* result: "done", "failed", "canceled", "timeout", "dependency", "skipped", or an error for a refused call; or
 * BUS_JOB_LOST when the bus went away (lost, or closed by bus_free()) before the answer: how the job ended is
 * not known, so a handler decides nothing from it */
#define BUS_JOB_LOST "disconnected"
typedef void (*BusJobFunc)(Bus *b, const char *unit, const char *result, void *userdata);
typedef void (*BusDoneFunc)(Bus *b, int error, void *userdata);

int bus_new(Bus **ret, sd_event *event, BusStateFunc on_state, BusUnitFunc on_unit, void *userdata);
Bus *bus_free(Bus *b);
DEFINE_CLEANUP_FUNC(Bus *, bus_free);

int bus_start(Bus *b);
/* bus_start(), and when the bus is not there yet, retry on a timer: systemd may come later than we do. */
int bus_start_or_retry(Bus *b);
bool bus_is_connected(Bus *b);

/* The cached state of a ballast unit, NULL when systemd does not know it (or we have not heard yet). */
const UnitState *bus_unit(Bus *b, const char *unit);
/* Iterates the cache. */
size_t bus_n_units(Bus *b);
const UnitState *bus_unit_at(Bus *b, size_t i);

/* daemon-reload; cb when systemd has re-read the units. */
int bus_reload(Bus *b, BusDoneFunc cb, void *userdata);
/* verb: "StartUnit", "StopUnit", "RestartUnit", "TryRestartUnit"; mode "replace". cb when the job is over. */
int bus_unit_job(Bus *b, const char *verb, const char *unit, BusJobFunc cb, void *userdata);
/* Re-reads the unit's properties into the cache (on_unit is called). */
int bus_refresh_unit(Bus *b, const char *unit);
/* Re-reads every ballast-*.service unit systemd knows into the cache; cb when done. */
int bus_refresh_all(Bus *b, BusDoneFunc cb, void *userdata);
/* SetUnitProperties with a builder callback appending to the a(sv) array. runtime: gone at reboot. */
typedef int (*BusAppendFunc)(sd_bus_message *m, void *userdata);
int bus_set_unit_properties(Bus *b, const char *unit, bool runtime, BusAppendFunc append, void *append_userdata,
                            BusDoneFunc cb, void *userdata);

/* The supervisor saw where the foreign job left the unit: clears foreign_job_done. */
void bus_unit_foreign_job_seen(Bus *b, const char *unit);

/* systemd's SystemState ("running", "degraded", "stopping", …), read anew; cb(b, state or NULL, userdata). */
typedef void (*BusStringFunc)(Bus *b, const char *value, void *userdata);
int bus_get_system_state(Bus *b, BusStringFunc cb, void *userdata);

/* ballast-NAME.service? Pure. */
bool bus_unit_is_ours(const char *unit);
