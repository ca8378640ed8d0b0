/* SPDX-License-Identifier: MIT */
/* A FAKE systemd-timedated for the tests that need a synchronized clock: the sandbox's real timedated (Debian's
 * systemd package, bus-activated) answers NTPSynchronized from this machine's kernel, which no NTP daemon
 * disciplines here, and the host's clock state is not the tests' to change. It follows timedated's interface
 * (org.freedesktop.timedate1(5)) for its properties:
 *
 *   bus name   org.freedesktop.timedate1 (system bus; systemd's own policy lets root own it)
 *   object     /org/freedesktop/timedate1, interface org.freedesktop.timedate1
 *     Timezone (s), LocalRTC (b), CanNTP (b), NTP (b), NTPSynchronized (b), TimeUSec (t), RTCTimeUSec (t)
 *     NTPSynchronized, as timedated's, emits no PropertiesChanged: clients ask.
 *
 * For the tests only, interface io.ballast.test.FakeTimedated: SetNTPSynchronized(b).
 * Usage: fake-timedated [--unsynchronized]. The real timedated must be stopped and masked first, so that bus
 * activation does not take the name. */

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "fake-bus.h"

#define NAME "org.freedesktop.timedate1"
#define PATH "/org/freedesktop/timedate1"

static bool synced = true;

static int get_property(sd_bus *bus, const char *path, const char *interface, const char *property,
                        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        struct timespec ts;

        (void) bus, (void) path, (void) interface, (void) userdata, (void) error;
        if (strcmp(property, "Timezone") == 0)
                return sd_bus_message_append(reply, "s", "UTC");
        if (strcmp(property, "LocalRTC") == 0)
                return sd_bus_message_append(reply, "b", 0);
        if (strcmp(property, "CanNTP") == 0 || strcmp(property, "NTP") == 0)
                return sd_bus_message_append(reply, "b", 1);
        if (strcmp(property, "NTPSynchronized") == 0)
                return sd_bus_message_append(reply, "b", synced);
        clock_gettime(CLOCK_REALTIME, &ts);
        return sd_bus_message_append(reply, "t", (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000);
}

static int method_set(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        int b, r;

        (void) userdata, (void) error;
        r = sd_bus_message_read(m, "b", &b);
        if (r < 0)
                return r;
        synced = b;
        fprintf(stderr, "fake-timedated: NTPSynchronized %s\n", synced ? "true" : "false");
        return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable timedate_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Timezone", "s", get_property, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LocalRTC", "b", get_property, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("CanNTP", "b", get_property, 0, 0),
        SD_BUS_PROPERTY("NTP", "b", get_property, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("NTPSynchronized", "b", get_property, 0, 0),
        SD_BUS_PROPERTY("TimeUSec", "t", get_property, 0, SD_BUS_VTABLE_PROPERTY_EMITS_INVALIDATION),
        SD_BUS_PROPERTY("RTCTimeUSec", "t", get_property, 0, SD_BUS_VTABLE_PROPERTY_EMITS_INVALIDATION),
        SD_BUS_VTABLE_END,
};

static const sd_bus_vtable test_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("SetNTPSynchronized", "b", "", method_set, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int main(int argc, char **argv) {
        sd_bus *bus = NULL;
        sd_event *e = NULL;
        int r;

        if (argc == 2 && strcmp(argv[1], "--unsynchronized") == 0)
                synced = false;
        else if (argc != 1) {
                fprintf(stderr, "usage: %s [--unsynchronized]\n", argv[0]);
                return 2;
        }
        r = fake_bus_start("fake-timedated", NAME,
                           (const FakeObject[]) {
                                   { PATH, "org.freedesktop.timedate1", timedate_vtable, NULL },
                                   { PATH, "io.ballast.test.FakeTimedated", test_vtable, NULL },
                           },
                           2, &e, &bus);
        if (r < 0)
                return 1;
        fprintf(stderr, "fake-timedated: serving %s, NTPSynchronized %s\n", NAME, synced ? "true" : "false");
        return fake_bus_run(e, bus);
}
