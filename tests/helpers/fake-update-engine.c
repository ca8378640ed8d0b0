/* SPDX-License-Identifier: MIT */
/* A FAKE update_engine for the tests: Flatcar's update_engine cannot run here (it needs Flatcar's A/B USR
 * partitions and an Omaha server), so this program stands in for its D-Bus side, which is all ballastd sees.
 * It follows update_engine's interface exactly (update_engine's dbus_constants.h and its use by
 * coreos/locksmith's updateengine client and `locksmithctl send-need-reboot`):
 *
 *   bus name   com.coreos.update1 (system bus)
 *   object     /com/coreos/update1
 *   interface  com.coreos.update1.Manager
 *     GetStatus() → (x last_checked_time, d progress, s current_operation, s new_version, x new_size)
 *     AttemptUpdate()   check for an update now; here: walk through the states of a found update
 *     ResetStatus()     back to UPDATE_STATUS_IDLE
 *     signal StatusUpdate (x last_checked_time, d progress, s current_operation, s new_version, x new_size),
 *       emitted at every change of state
 *
 * An update attempt goes UPDATE_STATUS_CHECKING_FOR_UPDATE → UPDATE_STATUS_UPDATE_AVAILABLE →
 * UPDATE_STATUS_DOWNLOADING (progress 0.0 … 1.0) → UPDATE_STATUS_VERIFYING → UPDATE_STATUS_FINALIZING →
 * UPDATE_STATUS_UPDATED_NEED_REBOOT, one step every --step-ms (100), as update_engine reports an update it
 * downloaded and applied to the other partition. new_version and new_size are the found update's from
 * UPDATE_STATUS_UPDATE_AVAILABLE on, empty and 0 before, as update_engine reports them.
 *
 * Usage: fake-update-engine [--new-version V] [--new-size BYTES] [--step-ms MS] [--need-reboot]
 *   --need-reboot starts in UPDATE_STATUS_UPDATED_NEED_REBOOT (an update_engine that was restarted after
 *   applying an update reports that state at once). Runs until SIGTERM or SIGINT. The system bus's policy must
 *   let it own the name (update_engine ships /etc/dbus-1/system.d/com.coreos.update1.conf for that). */

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "fake-bus.h"

#define NAME "com.coreos.update1"
#define PATH "/com/coreos/update1"
#define INTERFACE "com.coreos.update1.Manager"

static const char *const attempt_states[] = {
        "UPDATE_STATUS_CHECKING_FOR_UPDATE", "UPDATE_STATUS_UPDATE_AVAILABLE", "UPDATE_STATUS_DOWNLOADING",
        "UPDATE_STATUS_DOWNLOADING",         "UPDATE_STATUS_DOWNLOADING",      "UPDATE_STATUS_VERIFYING",
        "UPDATE_STATUS_FINALIZING",          "UPDATE_STATUS_UPDATED_NEED_REBOOT",
};
static const double attempt_progress[] = { 0.0, 0.0, 0.0, 0.5, 1.0, 1.0, 1.0, 0.0 };
#define N_ATTEMPT_STATES (sizeof(attempt_states) / sizeof(attempt_states[0]))

typedef struct Fake {
        sd_bus *bus;
        sd_event_source *step;
        const char *operation;
        double progress;
        int64_t last_checked;
        const char *new_version;
        int64_t new_size;
        bool found;          /* from UPDATE_AVAILABLE on: new_version and new_size are reported */
        size_t next;         /* the next state of an attempt in progress, N_ATTEMPT_STATES when none */
        uint64_t step_usec;
} Fake;

static int append_status(Fake *f, sd_bus_message *m) {
        return sd_bus_message_append(m, "xdssx", f->last_checked, f->progress, f->operation,
                                     f->found ? f->new_version : "", f->found ? f->new_size : (int64_t) 0);
}

static int emit_status(Fake *f) {
        sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_signal(f->bus, &m, PATH, INTERFACE, "StatusUpdate");
        if (r >= 0)
                r = append_status(f, m);
        if (r >= 0)
                r = sd_bus_send(f->bus, m, NULL);
        sd_bus_message_unref(m);
        fprintf(stderr, "fake-update-engine: %s progress %.1f%s%s\n", f->operation, f->progress,
                f->found ? " new_version " : "", f->found ? f->new_version : "");
        return r;
}

static int on_step(sd_event_source *s, uint64_t usec, void *userdata) {
        Fake *f = userdata;

        if (f->next >= N_ATTEMPT_STATES)
                return 0;
        f->operation = attempt_states[f->next];
        f->progress = attempt_progress[f->next];
        if (f->next == 0)
                f->last_checked = (int64_t) time(NULL);
        if (f->next >= 1)
                f->found = true;
        f->next++;
        (void) emit_status(f);
        if (f->next < N_ATTEMPT_STATES) {
                (void) sd_event_source_set_time_relative(s, f->step_usec);
                (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        }
        return 0;
}

static int method_get_status(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Fake *f = userdata;
        sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = append_status(f, reply);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        sd_bus_message_unref(reply);
        return r;
}

static int method_attempt_update(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Fake *f = userdata;

        /* as update_engine: an attempt while one runs, or with a reboot pending, does nothing */
        if (f->next >= N_ATTEMPT_STATES && strcmp(f->operation, "UPDATE_STATUS_IDLE") == 0) {
                f->next = 0;
                (void) sd_event_source_set_time_relative(f->step, 0);
                (void) sd_event_source_set_enabled(f->step, SD_EVENT_ONESHOT);
        }
        return sd_bus_reply_method_return(m, NULL);
}

static int method_reset_status(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Fake *f = userdata;

        f->next = N_ATTEMPT_STATES;
        (void) sd_event_source_set_enabled(f->step, SD_EVENT_OFF);
        f->operation = "UPDATE_STATUS_IDLE";
        f->progress = 0.0;
        f->found = false;
        (void) emit_status(f);
        return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_NAMES("GetStatus", "", SD_BUS_PARAM(), "xdssx",
                                 SD_BUS_PARAM(last_checked_time) SD_BUS_PARAM(progress)
                                         SD_BUS_PARAM(current_operation) SD_BUS_PARAM(new_version)
                                                 SD_BUS_PARAM(new_size),
                                 method_get_status, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("AttemptUpdate", "", "", method_attempt_update, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("ResetStatus", "", "", method_reset_status, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_NAMES("StatusUpdate", "xdssx",
                                 SD_BUS_PARAM(last_checked_time) SD_BUS_PARAM(progress)
                                         SD_BUS_PARAM(current_operation) SD_BUS_PARAM(new_version)
                                                 SD_BUS_PARAM(new_size),
                                 0),
        SD_BUS_VTABLE_END,
};

int main(int argc, char **argv) {
        Fake f = { .operation = "UPDATE_STATUS_IDLE", .new_version = "3815.2.1", .new_size = 279969432,
                   .next = N_ATTEMPT_STATES, .step_usec = 100000 };
        sd_event *e = NULL;
        int r;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--new-version") == 0 && i + 1 < argc)
                        f.new_version = argv[++i];
                else if (strcmp(argv[i], "--new-size") == 0 && i + 1 < argc)
                        f.new_size = strtoll(argv[++i], NULL, 10);
                else if (strcmp(argv[i], "--step-ms") == 0 && i + 1 < argc)
                        f.step_usec = strtoull(argv[++i], NULL, 10) * 1000;
                else if (strcmp(argv[i], "--need-reboot") == 0) {
                        f.operation = "UPDATE_STATUS_UPDATED_NEED_REBOOT";
                        f.found = true;
                        f.last_checked = (int64_t) time(NULL);
                } else {
                        fprintf(stderr,
                                "usage: %s [--new-version V] [--new-size BYTES] [--step-ms MS] [--need-reboot]\n",
                                argv[0]);
                        return 2;
                }
        }

        r = fake_bus_start("fake-update-engine", NAME,
                           (const FakeObject[]) { { PATH, INTERFACE, manager_vtable, &f } }, 1, &e, &f.bus);
        if (r < 0)
                return 1;
        /* the attempt's steps, off until AttemptUpdate */
        r = sd_event_add_time_relative(e, &f.step, CLOCK_MONOTONIC, 0, 0, on_step, &f);
        if (r >= 0)
                r = sd_event_source_set_enabled(f.step, SD_EVENT_OFF);
        if (r < 0) {
                fprintf(stderr, "fake-update-engine: cannot serve %s on the system bus: %s\n", NAME, strerror(-r));
                return 1;
        }
        fprintf(stderr, "fake-update-engine: serving %s, %s\n", NAME, f.operation);
        r = fake_bus_run(e, f.bus);
        sd_event_source_unref(f.step);
        return r;
}
