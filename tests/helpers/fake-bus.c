/* SPDX-License-Identifier: MIT */
/* The fake D-Bus services' common set-up and loop (fake-bus.h). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "fake-bus.h"

int fake_bus_start(const char *prog, const char *name, const FakeObject *objects, size_t n_objects,
                   sd_event **ret_event, sd_bus **ret_bus) {
        sd_event *e = NULL;
        sd_bus *bus = NULL;
        sigset_t ss;
        int r;

        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigprocmask(SIG_BLOCK, &ss, NULL);
        r = sd_event_default(&e);
        if (r >= 0)
                r = sd_event_add_signal(e, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(e, NULL, SIGINT, NULL, NULL);
        if (r >= 0)
                r = sd_bus_open_system(&bus);
        for (size_t i = 0; r >= 0 && i < n_objects; i++)
                r = sd_bus_add_object_vtable(bus, NULL, objects[i].path, objects[i].interface, objects[i].vtable,
                                             objects[i].userdata);
        if (r >= 0)
                r = sd_bus_request_name(bus, name, 0);
        if (r >= 0)
                r = sd_bus_attach_event(bus, e, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0) {
                fprintf(stderr, "%s: cannot serve %s on the system bus: %s\n", prog, name, strerror(-r));
                sd_bus_flush_close_unref(bus);
                sd_event_unref(e);
                return r;
        }
        *ret_event = e;
        *ret_bus = bus;
        return 0;
}

int fake_bus_run(sd_event *e, sd_bus *bus) {
        int r = sd_event_loop(e);

        sd_bus_flush_close_unref(bus);
        sd_event_unref(e);
        return r < 0 ? 1 : 0;
}
