/* SPDX-License-Identifier: MIT */
#pragma once

/* The bus's insides, shared by bus.c (connection, units, jobs) and bus-queue.c (the call queue) and by nothing
 * else. */

#include <stdarg.h>
#include <stdbool.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "shared/macro.h"
#include "shared/time-util.h"
#include "systemd/bus.h"
#include "systemd/bus-owner.h"

#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_MANAGER "org.freedesktop.systemd1.Manager"
#define SD_UNIT_PATH_PREFIX "/org/freedesktop/systemd1/unit"
#define BUS_RETRY_USEC (1 * USEC_PER_SEC)
#define BUS_CALL_TIMEOUT_USEC (30 * USEC_PER_SEC)

typedef struct Job Job;
struct Job {
        Job *next;
        char *path;   /* NULL until the method reply told us */
        char *unit;
        BusJobFunc cb;
        void *userdata;
        Bus *bus;
};

struct Bus {
        sd_event *event;
        sd_bus *bus;
        bool connected;
        BusStateFunc on_state;
        BusUnitFunc on_unit;
        void *userdata;
        sd_event_source *retry;
        BusNameOwner systemd; /* JobRemoved and PropertiesChanged count only from its owner */

        UnitState *units;
        size_t n_units, allocated_units;
        Job *jobs;

        /* dbus-daemon refuses more than 128 pending replies per connection (LimitsExceeded): calls beyond
         * BUS_MAX_IN_FLIGHT wait here, in order, and go out as replies come back */
        struct QueuedCall *queue_head, *queue_tail;
        struct QueuedCall *sent;  /* in flight: answered with an error of our own if the bus goes first */
        unsigned in_flight, queued, queued_peak;

        /* bus_refresh_unit's GetAll calls not answered yet, at most one per unit: the signals of one start
         * (JobRemoved, PropertiesChanged of Unit and Service, each state on the way) ask for several */
        struct Refresh *refreshing;
};

typedef struct QueuedCall {
        struct QueuedCall *next, *prev; /* prev: only on the sent list */
        Bus *bus;
        sd_bus_slot *slot;              /* while sent: holds a reference on the connection */
        sd_bus_message *message;
        sd_bus_message_handler_t handler;
        void *userdata;
} QueuedCall;

#define BUS_MAX_IN_FLIGHT 64

/* bus-queue.c */
/* Sends a method call with at most BUS_MAX_IN_FLIGHT replies pending; the handler is always called. ret, if
 * given, is set to the call before it can be sent (a send that fails answers and frees it at once). */
int bus_send_full(Bus *b, sd_bus_message *m, sd_bus_message_handler_t handler, void *userdata, struct QueuedCall **ret);
int bus_send(Bus *b, sd_bus_message *m, sd_bus_message_handler_t handler, void *userdata);
/* A method call to systemd's manager object or a unit (destination org.freedesktop.systemd1), sent as above. */
int bus_call(Bus *b, const char *path, const char *iface, const char *member, sd_bus_message_handler_t handler,
             void *userdata, const char *types, ...);
int bus_call_full(Bus *b, struct QueuedCall **ret, const char *path, const char *iface, const char *member,
                  sd_bus_message_handler_t handler, void *userdata, const char *types, ...);
/* Takes a sent call off the in-flight list (its slot dropped). */
void bus_queue_sent_unlink(Bus *b, QueuedCall *c);
/* Answers a call that can no longer be made with an error reply of our own, so its handler runs, and frees it. */
void bus_queue_call_fail(QueuedCall *c, const char *why);
