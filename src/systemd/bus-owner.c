/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/log.h"
#include "shared/macro.h"
#include "systemd/bus-owner.h"

#define DBUS_NAME "org.freedesktop.DBus"
#define DBUS_PATH "/org/freedesktop/DBus"

bool bus_message_from_driver(sd_bus_message *m) {
        const char *s = sd_bus_message_get_sender(m);
        return s && streq(s, DBUS_NAME);
}

bool bus_name_owner_sent(const BusNameOwner *o, sd_bus_message *m) {
        const char *s = sd_bus_message_get_sender(m);
        return o && o->owner && s && streq(s, o->owner);
}

static void set_owner(BusNameOwner *o, const char *owner) {
        char *c = NULL;

        /* out of memory: unknown, so nothing is accepted from it */
        if (owner && *owner && !(c = strdup(owner)))
                log_warning("Out of memory: %s is taken to have no owner.", o->name);
        if (streq_ptr(o->owner, c)) {
                free(c);
                return;
        }
        free(o->owner);
        o->owner = c;
        log_debug("%s is owned by %s.", o->name, strna(o->owner));
        if (o->on_change)
                o->on_change(o, o->owner, o->userdata);
}

static int on_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        BusNameOwner *o = userdata;
        const char *name, *old_owner, *new_owner;

        /* only the bus driver speaks for name ownership; anyone may send a signal that looks like this one */
        if (!bus_message_from_driver(m) || sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0 ||
            !streq(name, o->name))
                return 0;
        set_owner(o, new_owner);
        return 0;
}

static int on_get_name_owner(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        BusNameOwner *o = userdata;
        const char *owner = NULL;

        o->call = sd_bus_slot_unref(o->call);
        /* NameHasNoOwner: none yet, NameOwnerChanged tells when it comes */
        if (!sd_bus_message_is_method_error(m, NULL))
                (void) sd_bus_message_read(m, "s", &owner);
        set_owner(o, owner);
        return 0;
}

int bus_name_owner_watch(BusNameOwner *o, sd_bus *bus, const char *name, BusNameOwnerFunc on_change,
                         void *userdata) {
        char match[256];
        int r;

        bus_name_owner_done(o);
        o->name = name;
        o->on_change = on_change;
        o->userdata = userdata;
        if (snprintf(match, sizeof(match),
                     "type='signal',sender='" DBUS_NAME "',path='" DBUS_PATH "',interface='" DBUS_NAME "',"
                     "member='NameOwnerChanged',arg0='%s'", name) >= (int) sizeof(match))
                return -EINVAL;
        r = sd_bus_add_match_async(bus, &o->match, match, on_owner_changed, NULL, o);
        if (r >= 0)
                r = sd_bus_call_method_async(bus, &o->call, DBUS_NAME, DBUS_PATH, DBUS_NAME, "GetNameOwner",
                                             on_get_name_owner, o, "s", name);
        if (r < 0)
                bus_name_owner_done(o);
        return r;
}

void bus_name_owner_done(BusNameOwner *o) {
        if (!o)
                return;
        o->match = sd_bus_slot_unref(o->match);
        o->call = sd_bus_slot_unref(o->call);
        o->owner = mfree(o->owner);
}
