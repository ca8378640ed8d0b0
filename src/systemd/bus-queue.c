/* SPDX-License-Identifier: MIT */
/* The bus's call queue: every method call to systemd goes out through here, with at most BUS_MAX_IN_FLIGHT
 * replies pending (dbus-daemon refuses more than 128 per connection); the rest wait in order and go out as
 * replies come back. Every call's handler runs exactly once: with the reply, or with an error of our own when
 * the call cannot be sent or the bus goes first (bus.c's disconnect). */
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdlib.h>

#include "systemd/bus-internal.h"

static void bus_pump(Bus *b);

void bus_queue_sent_unlink(Bus *b, QueuedCall *c) {
        if (c->prev)
                c->prev->next = c->next;
        else
                b->sent = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->next = c->prev = NULL;
        c->slot = sd_bus_slot_unref(c->slot);
        if (b->in_flight > 0)
                b->in_flight--;
}

static int on_queued_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        QueuedCall *c = userdata;
        Bus *b = c->bus;

        bus_queue_sent_unlink(b, c);
        (void) c->handler(m, c->userdata, ret_error);
        sd_bus_message_unref(c->message);
        free(c);
        bus_pump(b);
        return 0;
}

/* Answers a call that can no longer be made with an error reply of our own, so its handler runs. */
void bus_queue_call_fail(QueuedCall *c, const char *why) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;

        if (sd_bus_message_new_method_errorf(c->message, &reply, SD_BUS_ERROR_NO_REPLY, "%s", why) >= 0)
                (void) c->handler(reply, c->userdata, NULL);
        sd_bus_message_unref(c->message);
        free(c);
}

static void bus_pump(Bus *b) {
        while (b->queue_head && b->bus && b->in_flight < BUS_MAX_IN_FLIGHT) {
                QueuedCall *c = b->queue_head;

                b->queue_head = c->next;
                if (!b->queue_head)
                        b->queue_tail = NULL;
                b->queued--;
                if (sd_bus_call_async(b->bus, &c->slot, c->message, on_queued_reply, c, BUS_CALL_TIMEOUT_USEC) < 0) {
                        bus_queue_call_fail(c, "cannot send");
                        continue;
                }
                c->next = b->sent;
                if (b->sent)
                        b->sent->prev = c;
                b->sent = c;
                b->in_flight++;
        }
        /* a burst (hundreds of services applied at once) is over: give its messages' pages back, or they stay
         * in RssAnon for good (glibc keeps freed heap) */
        if (!b->queue_head && b->in_flight == 0 && b->queued_peak > BUS_MAX_IN_FLIGHT) {
                b->queued_peak = 0;
                (void) malloc_trim(0);
        }
}

/* Sends a method call with at most BUS_MAX_IN_FLIGHT replies pending; the handler is always called. ret, if
 * given, is set to the call before it can be sent (a send that fails answers and frees it at once). */
int bus_send_full(Bus *b, sd_bus_message *m, sd_bus_message_handler_t handler, void *userdata,
                         struct QueuedCall **ret) {
        QueuedCall *c;

        if (!b->bus)
                return -ENOTCONN;
        c = calloc(1, sizeof(QueuedCall));
        if (!c)
                return -ENOMEM;
        *c = (QueuedCall) { .bus = b, .message = sd_bus_message_ref(m), .handler = handler, .userdata = userdata };
        if (b->queue_tail)
                b->queue_tail->next = c;
        else
                b->queue_head = c;
        b->queue_tail = c;
        b->queued_peak = MAX(b->queued_peak, ++b->queued);
        if (ret)
                *ret = c;
        bus_pump(b);
        return 0;
}

int bus_send(Bus *b, sd_bus_message *m, sd_bus_message_handler_t handler, void *userdata) {
        return bus_send_full(b, m, handler, userdata, NULL);
}

static int bus_callv(Bus *b, struct QueuedCall **ret, const char *path, const char *iface, const char *member,
                     sd_bus_message_handler_t handler, void *userdata, const char *types, va_list ap) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        if (!b->bus)
                return -ENOTCONN;
        r = sd_bus_message_new_method_call(b->bus, &m, SD_DEST, path, iface, member);
        if (r < 0)
                return r;
        r = sd_bus_message_appendv(m, types, ap);
        if (r < 0)
                return r;
        return bus_send_full(b, m, handler, userdata, ret);
}

int bus_call(Bus *b, const char *path, const char *iface, const char *member,
                    sd_bus_message_handler_t handler, void *userdata, const char *types, ...) {
        va_list ap;
        int r;

        va_start(ap, types);
        r = bus_callv(b, NULL, path, iface, member, handler, userdata, types, ap);
        va_end(ap);
        return r;
}

int bus_call_full(Bus *b, struct QueuedCall **ret, const char *path, const char *iface, const char *member,
                         sd_bus_message_handler_t handler, void *userdata, const char *types, ...) {
        va_list ap;
        int r;

        va_start(ap, types);
        r = bus_callv(b, ret, path, iface, member, handler, userdata, types, ap);
        va_end(ap);
        return r;
}
