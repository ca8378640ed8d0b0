/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "daemon/shutdown.h"
#include "shared/fileio.h"
#include "shared/log.h"
#include "shared/time-util.h"
#include "systemd/bus-owner.h"

#define LOGIN_SERVICE "org.freedesktop.login1"
#define LOGIN_PATH "/org/freedesktop/login1"
#define LOGIN_INTERFACE "org.freedesktop.login1.Manager"
/* logind's default InhibitDelayMaxSec=, until its property is read */
#define DEFAULT_DELAY_MAX_USEC (5 * USEC_PER_SEC)

struct ShutdownGuard {
        sd_event *event;
        ShutdownHooks hooks;
        sd_bus *bus;
        BusNameOwner login_owner;
        sd_bus_slot *prepare_match, *inhibit_call, *delay_call;
        int inhibit_fd;
        bool want, connect_failed;
        bool shutting_down;
        uint64_t since_usec;        /* CLOCK_REALTIME */
        uint64_t delay_max_usec;    /* logind's InhibitDelayMaxUSec */
        sd_event_source *budget_timer;
};

uint64_t shutdown_budget_usec(uint64_t max) {
        /* one second of margin when there is room for it, else a fifth of what there is */
        if (max >= 2 * USEC_PER_SEC)
                return max - USEC_PER_SEC;
        return max - max / 5;
}

static void guard_drop_bus(ShutdownGuard *g) {
        g->prepare_match = sd_bus_slot_unref(g->prepare_match);
        g->inhibit_call = sd_bus_slot_unref(g->inhibit_call);
        g->delay_call = sd_bus_slot_unref(g->delay_call);
        bus_name_owner_done(&g->login_owner);
        g->inhibit_fd = safe_close(g->inhibit_fd);
        g->bus = sd_bus_flush_close_unref(g->bus);
}

ShutdownGuard *shutdown_guard_free(ShutdownGuard *g) {
        if (!g)
                return NULL;
        guard_drop_bus(g);
        sd_event_source_disable_unref(g->budget_timer);
        sd_event_unref(g->event);
        free(g);
        return NULL;
}

static int on_inhibit(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        ShutdownGuard *g = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        int fd, r;

        g->inhibit_call = sd_bus_slot_unref(g->inhibit_call);
        if (e) {
                log_event(LOG_WARNING, 0, "shutdown-inhibit-failed", NULL, NULL,
                          "logind refused the shutdown delay inhibitor (%s): a shutdown will not wait for the services to stop.",
                          e->message ?: e->name);
                return 0;
        }
        r = sd_bus_message_read(m, "h", &fd);
        if (r >= 0 && (r = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0) /* the message owns fd: keep a copy */
                r = -errno;
        if (r < 0)
                return log_warning_errno(r, "Failed to keep logind's shutdown inhibitor: %m");
        safe_close(g->inhibit_fd);
        g->inhibit_fd = r;
        log_event(LOG_INFO, 0, "shutdown-inhibited", NULL, NULL,
                  "Holding a logind delay inhibitor (shutdown): a shutdown stops the services first, within %.1f s.",
                  (double) shutdown_budget_usec(g->delay_max_usec) / (double) USEC_PER_SEC);
        /* wanted no more, or a shutdown began while logind answered */
        if (!g->want || g->shutting_down)
                shutdown_guard_release(g, g->shutting_down ? "a shutdown is under way" : "no services");
        return 0;
}

static void guard_inhibit(ShutdownGuard *g) {
        int r;

        if (!g->bus || g->inhibit_fd >= 0 || g->inhibit_call || g->shutting_down)
                return;
        r = sd_bus_call_method_async(g->bus, &g->inhibit_call, LOGIN_SERVICE, LOGIN_PATH, LOGIN_INTERFACE, "Inhibit",
                                     on_inhibit, g, "ssss", "shutdown", "ballast",
                                     "Stopping the node's services before the shutdown", "delay");
        if (r < 0)
                log_warning_errno(r, "Failed to ask logind for a shutdown inhibitor: %m");
}

static int on_budget(sd_event_source *s, uint64_t usec, void *userdata) {
        ShutdownGuard *g = userdata;

        log_event(LOG_WARNING, 0, "shutdown-budget-spent", NULL, NULL,
                  "The shutdown budget (%.1f s) is spent before every service stopped: systemd stops the rest.",
                  (double) shutdown_budget_usec(g->delay_max_usec) / (double) USEC_PER_SEC);
        shutdown_guard_release(g, "the budget is spent");
        return 0;
}

static int on_prepare(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        ShutdownGuard *g = userdata;
        int start = 0;

        /* anyone on the bus may send a signal that looks like logind's */
        if (!bus_name_owner_sent(&g->login_owner, m) || sd_bus_message_read(m, "b", &start) < 0)
                return 0;
        if (start && !g->shutting_down) {
                uint64_t budget = shutdown_budget_usec(g->delay_max_usec);

                g->shutting_down = true;
                g->since_usec = now_usec(CLOCK_REALTIME);
                log_event(LOG_NOTICE, 0, "shutdown-prepare", NULL, NULL,
                          "The system is shutting down: stopping the services, the last one applied first, within %.1f s.",
                          (double) budget / (double) USEC_PER_SEC);
                (void) sd_event_source_set_time_relative(g->budget_timer, budget);
                (void) sd_event_source_set_enabled(g->budget_timer, SD_EVENT_ONESHOT);
                if (g->hooks.prepare)
                        g->hooks.prepare(g->hooks.userdata);
        } else if (!start && g->shutting_down) {
                g->shutting_down = false;
                g->since_usec = 0;
                (void) sd_event_source_set_enabled(g->budget_timer, SD_EVENT_OFF);
                log_event(LOG_NOTICE, 0, "shutdown-cancelled", NULL, NULL,
                          "The shutdown was called off: the services start again.");
                if (g->hooks.cancelled)
                        g->hooks.cancelled(g->hooks.userdata);
                if (g->want)
                        guard_inhibit(g);
        }
        return 0;
}

static int on_delay_max(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        ShutdownGuard *g = userdata;
        uint64_t v;

        g->delay_call = sd_bus_slot_unref(g->delay_call);
        if (!sd_bus_message_is_method_error(m, NULL) && sd_bus_message_enter_container(m, 'v', "t") > 0 &&
            sd_bus_message_read(m, "t", &v) > 0)
                g->delay_max_usec = v;
        log_debug("logind's InhibitDelayMaxUSec: %" PRIu64 ".", g->delay_max_usec);
        return 0;
}

static int guard_connect(ShutdownGuard *g) {
        int r;

        r = sd_bus_open_system(&g->bus);
        if (r >= 0)
                r = sd_bus_attach_event(g->bus, g->event, 0);
        /* the owner first: PrepareForShutdown counts only from it */
        if (r >= 0)
                r = bus_name_owner_watch(&g->login_owner, g->bus, LOGIN_SERVICE, NULL, NULL);
        if (r >= 0)
                r = sd_bus_match_signal_async(g->bus, &g->prepare_match, LOGIN_SERVICE, LOGIN_PATH, LOGIN_INTERFACE,
                                              "PrepareForShutdown", on_prepare, NULL, g);
        if (r >= 0)
                r = sd_bus_call_method_async(g->bus, &g->delay_call, LOGIN_SERVICE, LOGIN_PATH,
                                             "org.freedesktop.DBus.Properties", "Get", on_delay_max, g, "ss",
                                             LOGIN_INTERFACE, "InhibitDelayMaxUSec");
        if (r < 0) {
                guard_drop_bus(g);
                if (!g->connect_failed)
                        log_full_errno(LOG_NOTICE, r, "System bus not reachable, a shutdown will not wait for the services: %m");
                g->connect_failed = true;
                return r;
        }
        g->connect_failed = false;
        return 0;
}

void shutdown_guard_want(ShutdownGuard *g, bool want) {
        if (!g)
                return;
        g->want = want;
        if (!want) {
                if (!g->shutting_down)
                        shutdown_guard_release(g, "no services");
                return;
        }
        if (!g->bus && guard_connect(g) < 0)
                return;
        guard_inhibit(g);
}

void shutdown_guard_release(ShutdownGuard *g, const char *why) {
        if (!g)
                return;
        (void) sd_event_source_set_enabled(g->budget_timer, SD_EVENT_OFF);
        g->inhibit_call = sd_bus_slot_unref(g->inhibit_call);
        if (g->inhibit_fd < 0)
                return;
        g->inhibit_fd = safe_close(g->inhibit_fd);
        if (g->shutting_down)
                log_event(LOG_NOTICE, 0, "shutdown-released", NULL, NULL,
                          "Released the shutdown inhibitor after %.1f s (%s): the shutdown goes on.",
                          (double) (now_usec(CLOCK_REALTIME) - g->since_usec) / (double) USEC_PER_SEC, why);
        else
                log_event(LOG_INFO, 0, "shutdown-uninhibited", NULL, NULL, "Released the shutdown inhibitor: %s.", why);
}

bool shutdown_guard_shutting_down(const ShutdownGuard *g) {
        return g && g->shutting_down;
}

json_t *shutdown_guard_json(const ShutdownGuard *g) {
        return json_pack("{s:b,s:I,s:b,s:I}", "shutting_down", g && g->shutting_down,
                         "since_usec", (json_int_t) (g ? g->since_usec : 0),
                         "inhibitor", g && g->inhibit_fd >= 0,
                         "budget_usec", (json_int_t) shutdown_budget_usec(g ? g->delay_max_usec : DEFAULT_DELAY_MAX_USEC));
}

int shutdown_guard_new(ShutdownGuard **ret, sd_event *event, const ShutdownHooks *hooks) {
        _cleanup_(shutdown_guard_freep) ShutdownGuard *g = calloc(1, sizeof(ShutdownGuard));
        int r;

        if (!g)
                return -ENOMEM;
        g->event = sd_event_ref(event);
        g->hooks = *hooks;
        g->inhibit_fd = -EBADF;
        g->delay_max_usec = DEFAULT_DELAY_MAX_USEC;
        r = sd_event_add_time(event, &g->budget_timer, CLOCK_MONOTONIC, UINT64_MAX, 0, on_budget, g);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(g->budget_timer, SD_EVENT_OFF);
        (void) sd_event_source_set_description(g->budget_timer, "shutdown-budget");
        *ret = TAKE_PTR(g);
        return 0;
}
