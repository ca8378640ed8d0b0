/* SPDX-License-Identifier: MIT */
#pragma once

/* Who may send the signals ballastd acts on. The system bus lets any local process broadcast a signal with any
 * path, interface and member (and send one straight to ballastd's connection), so a signal counts only when
 * its sender is the unique name that owns the well-known name of the service it claims to come from
 * (org.freedesktop.systemd1, com.coreos.update1). The owner is asked once (GetNameOwner) and followed through
 * the bus driver's NameOwnerChanged, which only the bus itself can send. */

#include <stdbool.h>
#include <systemd/sd-bus.h>

typedef struct BusNameOwner BusNameOwner;
/* The owner changed: new_owner NULL when the name has none. */
typedef void (*BusNameOwnerFunc)(BusNameOwner *o, const char *new_owner, void *userdata);

struct BusNameOwner {
        const char *name;       /* the well-known name (static) */
        char *owner;            /* its owner's unique name; NULL while unknown or unowned */
        sd_bus_slot *match, *call;
        BusNameOwnerFunc on_change;
        void *userdata;
};

/* Installs the NameOwnerChanged match and asks GetNameOwner, asynchronously; call before anything that makes
 * the service send the signals of interest, so that the owner is known before they come. */
int bus_name_owner_watch(BusNameOwner *o, sd_bus *bus, const char *name, BusNameOwnerFunc on_change,
                         void *userdata);
void bus_name_owner_done(BusNameOwner *o);
/* Whether m was sent by the name's current owner. */
bool bus_name_owner_sent(const BusNameOwner *o, sd_bus_message *m);
/* Whether m was sent by the bus driver itself (org.freedesktop.DBus). */
bool bus_message_from_driver(sd_bus_message *m);
