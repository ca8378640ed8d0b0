/* SPDX-License-Identifier: MIT */
#pragma once

/* What the tests' fake D-Bus services (fake-update-engine, fake-rpm-ostree, fake-timedated) share: the system
 * bus and an event loop that ends on SIGTERM or SIGINT, their objects served under a well-known name. They fake
 * what cannot run in the sandbox (update_engine, rpm-ostree, and a timedated whose clock the test sets). */

#include <stddef.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

typedef struct FakeObject {
        const char *path;
        const char *interface;
        const sd_bus_vtable *vtable;
        void *userdata;
} FakeObject;

/* Blocks SIGTERM and SIGINT and makes them end the default event loop, connects to the system bus, adds the
 * objects, takes the name and attaches the bus to the loop. On failure says so on stderr, as "PROG: cannot serve
 * NAME on the system bus: …", and returns the negative errno. */
int fake_bus_start(const char *prog, const char *name, const FakeObject *objects, size_t n_objects,
                   sd_event **ret_event, sd_bus **ret_bus);
/* Runs the loop until a signal, then closes the bus and drops the loop: the exit status, 0 or 1. */
int fake_bus_run(sd_event *e, sd_bus *bus);
