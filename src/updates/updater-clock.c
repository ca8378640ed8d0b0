/* SPDX-License-Identifier: MIT */
/* The clock the gate trusts: systemd-timedated's NTPSynchronized over D-Bus (asynchronously; timedated is
 * started by bus activation and exits when idle), which follows the kernel's state whoever keeps it (chrony on
 * Fedora CoreOS, systemd-timesyncd on Flatcar). When timedated cannot answer (not installed, masked, the bus
 * gone), the kernel is read directly with adjtimex(). Either way, on doubt the clock is unknown: no reboot. */

#include <errno.h>
#include <string.h>

#include "shared/log.h"
#include "updates/clock.h"
#include "updates/updater-internal.h"

#define TIMEDATE_SERVICE "org.freedesktop.timedate1"
#define TIMEDATE_PATH "/org/freedesktop/timedate1"
#define TIMEDATE_INTERFACE "org.freedesktop.timedate1"

static void clock_set(Updater *u, int synced, const char *source) {
        bool changed = synced != u->clock_synced || !streq_ptr(source, u->clock_source);

        if (changed && synced != u->clock_synced)
                log_event(synced > 0 ? LOG_INFO : LOG_NOTICE, synced < 0 ? synced : 0, "clock-state", NULL, NULL,
                          "The system clock is %s (%s%s%s).",
                          synced > 0 ? "synchronized" : synced == 0 ? "not synchronized" : "of unknown state",
                          source, u->clock_error ? "; " : "", strempty(u->clock_error));
        u->clock_synced = synced;
        u->clock_source = source;
        if (changed)
                updater_step(u);
}

static void clock_from_kernel(Updater *u) {
        int r = updates_clock_read_kernel();

        if (r < 0) {
                _cleanup_free_ char *e = strdupf("%s%sadjtimex(): %s", strempty(u->clock_error),
                                                 u->clock_error ? "; " : "", strerror(-r));
                free(u->clock_error);
                u->clock_error = TAKE_PTR(e);
        }
        clock_set(u, r, "kernel");
}

static int on_ntp_synchronized(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Updater *u = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        int b, r;

        u->clock_call = sd_bus_slot_unref(u->clock_call);
        if (e) {
                free(u->clock_error);
                u->clock_error = strdupf("timedated: %s", e->message ?: e->name);
                clock_from_kernel(u);
                return 0;
        }
        r = sd_bus_message_read(m, "v", "b", &b);
        if (r < 0) {
                free(u->clock_error);
                u->clock_error = strdupf("timedated sent NTPSynchronized as something else than a boolean");
                clock_set(u, -EBADMSG, "timedated");
                return 0;
        }
        u->clock_error = mfree(u->clock_error);
        clock_set(u, b ? 1 : 0, "timedated");
        return 0;
}

void updater_clock_refresh(Updater *u) {
        int r;

        /* asked while a reboot is in view (timedated exits when idle: not woken every 30 s for nothing) */
        if (u->clock_call || (u->clock_synced != -EAGAIN && !u->reboot_needed && u->flow.state == REBOOT_STATE_IDLE))
                return;
        if (!u->bus) {
                (void) set_string(&u->clock_error, "the system bus is not reachable");
                clock_from_kernel(u);
                return;
        }
        r = sd_bus_call_method_async(u->bus, &u->clock_call, TIMEDATE_SERVICE, TIMEDATE_PATH,
                                     "org.freedesktop.DBus.Properties", "Get", on_ntp_synchronized, u, "ss",
                                     TIMEDATE_INTERFACE, "NTPSynchronized");
        if (r < 0) {
                free(u->clock_error);
                u->clock_error = strdupf("cannot ask timedated: %s", strerror(-r));
                clock_from_kernel(u);
        }
}

void updater_clock_drop(Updater *u) {
        u->clock_call = sd_bus_slot_unref(u->clock_call);
}
