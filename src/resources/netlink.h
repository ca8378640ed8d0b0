/* SPDX-License-Identifier: MIT */
#pragma once

/* The node's network interfaces and their addresses, as libnl caches (route/link, route/addr) filled once at
 * start and then kept current by the kernel's change notifications on the loop, never by polling. When the
 * notification socket overflows (a burst of changes while we were busy: ENOBUFS), the caches are resynced from
 * fresh dumps, so what is reported converges on the kernel's state either way. */

#include <jansson.h>
#include <stddef.h>
#include <systemd/sd-event.h>

#include "shared/macro.h"

typedef struct Netlink Netlink;

/* Called once after each batch of link or address changes (not once per change), and after each resync; it
 * may come when nothing netlink_interfaces_json() shows has changed (an attribute not shown, an IPv6 address finishing
 * duplicate address detection...). The callback must not free n. */
typedef void (*NetlinkChangedFunc)(Netlink *n, void *userdata);

int netlink_new(Netlink **ret, sd_event *event, NetlinkChangedFunc on_change, void *userdata);
/* NULL-safe, and safe on a Netlink that was never started or failed to start. */
Netlink *netlink_free(Netlink *n);
DEFINE_CLEANUP_FUNC(Netlink *, netlink_free);

/* The receive buffer of the notification socket, before netlink_start(); 0 is the default (4 MiB). A bigger
 * buffer makes overflows, and the resyncs they cost, rarer; tests set a tiny one to provoke them. */
void netlink_set_receive_buffer(Netlink *n, size_t bytes);

/* Connects, fills the caches (netlink dumps, answered by the kernel within our recvmsg(), as are the rare
 * resyncs later) and puts the notification socket on the loop. Returns 0 or -errno; on failure n is as before
 * and netlink_start() may be tried again. on_change is not called for the initial fill. */
int netlink_start(Netlink *n);

/* A new reference to an array of the interfaces, sorted by index:
 *   [{"name": "eth0", "index": 2, "kind": null | "veth" | "bridge" | ...,
 *     "mtu": 1500, "state": "up" | "down" | "lowerlayerdown" | "dormant" | "unknown" | ... (the operstate),
 *     "up": bool (IFF_UP, administratively up), "carrier": bool,
 *     "mac": "52:54:00:12:34:56" | null (no link-layer address),
 *     "speed_mbps": 1000 | null (from /sys/class/net/NAME/speed when readable; null for down links and
 *                   virtual ones that do not say),
 *     "addresses": ["192.0.2.2/24", "fe80::1/64", ...]}]
 *       (the usable ones: not IPv6 addresses still in duplicate address detection or failed it; IPv4 first,
 *       primaries before secondaries)
 * An empty array before netlink_start(). NULL only when out of memory. Reads sysfs for the speeds, nothing
 * else: the rest comes from the caches. */
json_t *netlink_interfaces_json(Netlink *n);

unsigned netlink_n_interfaces(Netlink *n);
