/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <linux/if_addr.h>
#include <net/if.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "resources/netlink.h"
#include "shared/fileio.h"
#include "shared/json-util.h"
#include "shared/log.h"
#include "shared/parse-util.h"
#include "shared/time-util.h"

/* Big enough that a node starting a few hundred containers at once (each a veth, its addresses and their
 * state changes) does not overflow it; the kernel charges only what is queued. */
#define NETLINK_RECEIVE_BUFFER_DEFAULT (4U * 1024U * 1024U)
/* After a failed resync (the kernel refused a dump, out of memory), when to try again. */
#define NETLINK_RESYNC_RETRY_USEC (1 * USEC_PER_SEC)
/* Rounds of reading the socket per wakeup that may end in an overrun before we stop and resync anyway, so
 * that a storm of changes cannot keep us in the handler. */
#define NETLINK_DRAIN_MAX 16
#define NETLINK_OVERRUN_LOG_USEC (10 * USEC_PER_SEC)

struct Netlink {
        sd_event *event;
        NetlinkChangedFunc on_change;
        void *userdata;
        size_t receive_buffer;

        struct nl_cache_mngr *mngr;  /* owns the notification socket and both caches */
        struct nl_cache *links;
        struct nl_cache *addrs;
        struct nl_sock *sync_sock;   /* for the dumps of a resync, opened at start (and again after a failure) */
        sd_event_source *io;
        sd_event_source *resync_retry;
        bool changed;                /* set by the caches' change callback, reported once per batch */
        unsigned n_overruns;
        uint64_t overrun_logged_usec;
};

/* libnl's NLE_* codes to the errno we return. */
static int netlink_errno(int nlerr) {
        switch (abs(nlerr)) {
        case NLE_SUCCESS: return 0;
        case NLE_NOMEM: return -ENOMEM;
        case NLE_AGAIN: return -EAGAIN;
        case NLE_INTR: return -EINTR;
        case NLE_BAD_SOCK: return -EBADF;
        case NLE_EXIST: return -EEXIST;
        case NLE_INVAL: return -EINVAL;
        case NLE_RANGE: return -ERANGE;
        case NLE_OPNOTSUPP: return -EOPNOTSUPP;
        case NLE_AF_NOSUPPORT: return -EAFNOSUPPORT;
        case NLE_OBJ_NOTFOUND: return -ENOENT;
        case NLE_PROTO_MISMATCH: return -EPROTONOSUPPORT;
        case NLE_NOACCESS: return -EACCES;
        case NLE_PERM: return -EPERM;
        case NLE_BUSY: return -EBUSY;
        case NLE_NODEV: return -ENODEV;
        default: return -EIO;
        }
}

/* Since libnl 3.6 the link cache also listens to RTNLGRP_IPV6_IFINFO, and the kernel's AF_INET6 RTM_NEWLINK
 * messages (IPv6 settings of a link) become a second, partial object per interface (no kind, carrier false),
 * which no RTM_DELLINK ever removes. Only the AF_UNSPEC objects describe interfaces. */
static bool link_is_interface(struct rtnl_link *l) {
        return rtnl_link_get_family(l) == AF_UNSPEC;
}

static void on_cache_change(struct nl_cache *cache, struct nl_object *obj, int action, void *data) {
        Netlink *n = data;

        if (cache == n->links && !link_is_interface((struct rtnl_link *) obj))
                return;
        n->changed = true;
}

/* Drops the objects link_is_interface() refuses; done after libnl has returned, not from within its callbacks. */
static void netlink_purge_partial_links(Netlink *n) {
        struct nl_object *next;

        for (struct nl_object *o = nl_cache_get_first(n->links); o; o = next) {
                next = nl_cache_get_next(o);
                if (!link_is_interface((struct rtnl_link *) o))
                        nl_cache_remove(o);
        }
}

static void netlink_report_change(Netlink *n) {
        if (!n->changed)
                return;
        n->changed = false;
        if (n->on_change)
                n->on_change(n, n->userdata);
}

static int netlink_resync(Netlink *n);

static int on_resync_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        Netlink *n = userdata;

        (void) netlink_resync(n);
        netlink_purge_partial_links(n);
        netlink_report_change(n);
        return 0;
}

/* The socket for the dumps of a resync, separate from the notification socket (the manager keeps its own dump
 * socket to itself). */
static int netlink_open_sync_socket(Netlink *n) {
        struct nl_sock *sk;
        int r;

        if (n->sync_sock)
                return 0;
        sk = nl_socket_alloc();
        if (!sk)
                return -NLE_NOMEM;
        r = nl_connect(sk, NETLINK_ROUTE);
        if (r < 0) {
                nl_socket_free(sk);
                return r;
        }
        n->sync_sock = sk;
        return 0;
}

static void netlink_schedule_resync_retry(Netlink *n) {
        if (n->resync_retry) {
                (void) sd_event_source_set_time_relative(n->resync_retry, NETLINK_RESYNC_RETRY_USEC);
                (void) sd_event_source_set_enabled(n->resync_retry, SD_EVENT_ONESHOT);
                return;
        }
        if (sd_event_add_time_relative(n->event, &n->resync_retry, CLOCK_MONOTONIC, NETLINK_RESYNC_RETRY_USEC, 0,
                                       on_resync_retry, n) < 0) {
                log_error("Failed to schedule a resync of the interface caches; they may stay stale until the "
                          "next overrun.");
                return;
        }
        (void) sd_event_source_set_description(n->resync_retry, "netlink-resync-retry");
}

/* Replaces what the caches hold with fresh dumps, reporting differences through on_cache_change. The dumps are
 * synchronous, but the kernel answers a dump from within our own recvmsg(), so this waits on nothing else. */
static int netlink_resync(Netlink *n) {
        int r;

        r = netlink_open_sync_socket(n);
        if (r >= 0)
                r = nl_cache_resync(n->sync_sock, n->links, on_cache_change, n);
        if (r >= 0)
                r = nl_cache_resync(n->sync_sock, n->addrs, on_cache_change, n);
        if (r < 0) {
                log_warning("Failed to resync the interface caches, retrying in 1s: %s", nl_geterror(r));
                /* A dump that failed half-way may have left replies queued: start over on a new socket. */
                nl_socket_free(n->sync_sock);
                n->sync_sock = NULL;
                netlink_schedule_resync_retry(n);
                return netlink_errno(r);
        }
        if (n->resync_retry)
                (void) sd_event_source_set_enabled(n->resync_retry, SD_EVENT_OFF);
        /* Events were lost: whatever the diff said, let the consumer look again. */
        n->changed = true;
        log_debug("Resynced the interface caches: %d links, %d addresses.", nl_cache_nitems(n->links),
                  nl_cache_nitems(n->addrs));
        return 0;
}

static int on_netlink_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Netlink *n = userdata;
        bool resync = false;

        for (unsigned i = 0; i < NETLINK_DRAIN_MAX; i++) {
                int r = nl_cache_mngr_data_ready(n->mngr);

                if (r >= 0)
                        break;  /* drained */
                if (r == -NLE_BAD_SOCK) {
                        log_error("The netlink notification socket broke; interface information is no longer "
                                  "kept current.");
                        (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
                        break;
                }
                if (r == -NLE_NOMEM) {
                        /* ENOBUFS (libnl maps it to NLE_NOMEM): the kernel dropped notifications. Read on
                         * what is still queued, then resync. A storm can do this often: say so at most
                         * every NETLINK_OVERRUN_LOG_USEC. */
                        uint64_t now = now_usec(CLOCK_MONOTONIC);
                        bool loud = n->overrun_logged_usec == 0 || now - n->overrun_logged_usec >= NETLINK_OVERRUN_LOG_USEC;

                        n->n_overruns++;
                        log_full(loud ? LOG_WARNING : LOG_DEBUG,
                                 "Netlink notification socket overrun (%u so far), resyncing the interface caches.",
                                 n->n_overruns);
                        if (loud)
                                n->overrun_logged_usec = now;
                } else
                        /* A message libnl could not parse aborts the rest of its datagram: the caches
                         * may have missed something too. */
                        log_warning("Failed to process netlink notifications, resyncing: %s", nl_geterror(r));
                resync = true;
        }
        if (resync)
                (void) netlink_resync(n);
        netlink_purge_partial_links(n);
        netlink_report_change(n);
        return 0;
}

int netlink_new(Netlink **ret, sd_event *event, NetlinkChangedFunc on_change, void *userdata) {
        Netlink *n;

        n = calloc(1, sizeof(Netlink));
        if (!n)
                return -ENOMEM;
        n->event = sd_event_ref(event);
        n->on_change = on_change;
        n->userdata = userdata;
        *ret = n;
        return 0;
}

Netlink *netlink_free(Netlink *n) {
        if (!n)
                return NULL;
        sd_event_source_disable_unref(n->io);
        sd_event_source_disable_unref(n->resync_retry);
        nl_cache_mngr_free(n->mngr);  /* and the caches it was given */
        nl_socket_free(n->sync_sock);  /* closes it; NULL-safe */
        sd_event_unref(n->event);
        free(n);
        return NULL;
}

void netlink_set_receive_buffer(Netlink *n, size_t bytes) {
        n->receive_buffer = bytes;
}

static void netlink_set_socket_buffer(Netlink *n) {
        size_t want = n->receive_buffer > 0 ? n->receive_buffer : NETLINK_RECEIVE_BUFFER_DEFAULT;
        int fd = nl_cache_mngr_get_fd(n->mngr), size = (int) MIN(want, (size_t) INT_MAX / 2);

        /* FORCE lets root exceed net.core.rmem_max; without the privilege, take what rmem_max allows. */
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0 &&
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) < 0)
                log_debug_errno(errno, "Failed to set the netlink receive buffer to %d bytes, ignoring: %m", size);
}

int netlink_start(Netlink *n) {
        int r;

        if (n->mngr)
                return -EALREADY;

        /* Not NL_AUTO_PROVIDE: libnl's registry of provided caches is process-global, a second manager's
         * cache replaces the first's there and the first's then leaks; it would only let each address hold a
         * reference to its link object, and we join addresses to links by index ourselves. Notifications are
         * subscribed to before each dump, so nothing that happens during the fill is missed (at worst it
         * arrives twice). */
        r = nl_cache_mngr_alloc(NULL, NETLINK_ROUTE, 0, &n->mngr);
        if (r < 0) {
                log_error("Failed to set up the netlink cache manager: %s", nl_geterror(r));
                goto fail;
        }
        netlink_set_socket_buffer(n);

        r = nl_cache_mngr_add(n->mngr, "route/link", on_cache_change, n, &n->links);
        if (r < 0) {
                log_error("Failed to read the network interfaces: %s", nl_geterror(r));
                goto fail;
        }
        r = nl_cache_mngr_add(n->mngr, "route/addr", on_cache_change, n, &n->addrs);
        if (r < 0) {
                log_error("Failed to read the interface addresses: %s", nl_geterror(r));
                goto fail;
        }

        r = netlink_open_sync_socket(n);
        if (r < 0) {
                log_error("Failed to open a netlink socket: %s", nl_geterror(r));
                goto fail;
        }

        r = sd_event_add_io(n->event, &n->io, nl_cache_mngr_get_fd(n->mngr), EPOLLIN, on_netlink_io, n);
        if (r < 0) {
                log_error_errno(r, "Failed to watch the netlink socket: %m");
                goto fail_errno;
        }
        (void) sd_event_source_set_description(n->io, "netlink");
        n->changed = false;

        log_debug("Netlink: %d interfaces, %d addresses.", nl_cache_nitems(n->links), nl_cache_nitems(n->addrs));
        return 0;

fail:
        r = netlink_errno(r);
fail_errno:
        /* Back to the state before start, so that a retry starts clean. */
        n->io = sd_event_source_disable_unref(n->io);
        nl_cache_mngr_free(n->mngr);
        n->mngr = NULL;
        n->links = n->addrs = NULL;
        nl_socket_free(n->sync_sock);
        n->sync_sock = NULL;
        return r;
}

unsigned netlink_n_interfaces(Netlink *n) {
        unsigned k = 0;

        if (!n->links)
                return 0;
        for (struct nl_object *o = nl_cache_get_first(n->links); o; o = nl_cache_get_next(o))
                k += link_is_interface((struct rtnl_link *) o);
        return k;
}

/* ---- the JSON view ---- */

typedef struct ObjectArray {
        struct nl_object **items;
        size_t n, allocated;
        bool oom;
} ObjectArray;

static void collect_object(struct nl_object *obj, void *data) {
        ObjectArray *a = data;

        if (a->n >= a->allocated) {
                size_t k = a->allocated ? a->allocated * 2 : 16;
                struct nl_object **p = reallocarray(a->items, k, sizeof(*p));

                if (!p) {
                        a->oom = true;
                        return;
                }
                a->items = p;
                a->allocated = k;
        }
        a->items[a->n++] = obj;
}

static int compare_links(const void *a, const void *b) {
        int x = rtnl_link_get_ifindex(*(struct rtnl_link *const *) a);
        int y = rtnl_link_get_ifindex(*(struct rtnl_link *const *) b);

        return (x > y) - (x < y);
}

/* By interface, then IPv4 before IPv6, primary before secondary, then by address: a stable order that keeps
 * the address the kernel uses as source first for IPv4. */
static int compare_addrs(const void *a, const void *b) {
        struct rtnl_addr *x = *(struct rtnl_addr *const *) a, *y = *(struct rtnl_addr *const *) b;
        struct nl_addr *lx = rtnl_addr_get_local(x), *ly = rtnl_addr_get_local(y);
        int d;

        d = rtnl_addr_get_ifindex(x) - rtnl_addr_get_ifindex(y);
        if (d != 0)
                return d;
        d = rtnl_addr_get_family(x) - rtnl_addr_get_family(y);
        if (d != 0)
                return d;
        d = !!(rtnl_addr_get_flags(x) & IFA_F_SECONDARY) - !!(rtnl_addr_get_flags(y) & IFA_F_SECONDARY);
        if (d != 0)
                return d;
        if (lx && ly && nl_addr_get_len(lx) == nl_addr_get_len(ly)) {
                d = memcmp(nl_addr_get_binary_addr(lx), nl_addr_get_binary_addr(ly), nl_addr_get_len(lx));
                if (d != 0)
                        return d;
        }
        return (int) rtnl_addr_get_prefixlen(x) - (int) rtnl_addr_get_prefixlen(y);
}

/* "10.0.0.1/24", or NULL for what is not an IPv4/IPv6 address, and for an IPv6 address that is not usable:
 * still in duplicate address detection, or failed it. Those also differ between a dump (which lists them) and
 * the notifications (which announce autoconfigured ones only once DAD is done), so leaving them out keeps what
 * we report the same whichever way the cache was filled. */
static json_t *address_json(struct rtnl_addr *a) {
        struct nl_addr *local = rtnl_addr_get_local(a);
        int family = rtnl_addr_get_family(a);
        char buf[INET6_ADDRSTRLEN + sizeof("/128")];
        size_t want;

        if (!local || (family != AF_INET && family != AF_INET6))
                return NULL;
        if (rtnl_addr_get_flags(a) & (IFA_F_TENTATIVE | IFA_F_DADFAILED))
                return NULL;
        want = family == AF_INET ? 4 : 16;
        if (nl_addr_get_len(local) != want || !inet_ntop(family, nl_addr_get_binary_addr(local), buf, INET6_ADDRSTRLEN))
                return NULL;
        snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "/%u", rtnl_addr_get_prefixlen(a));
        return json_string(buf);
}

/* The link-layer address as colon-separated hex; null when there is none, and for tunnels whose "link-layer
 * address" is an IP address. */
static json_t *mac_json(struct rtnl_link *l) {
        struct nl_addr *a = rtnl_link_get_addr(l);
        const unsigned char *p;
        unsigned len;
        char buf[3 * 32];

        if (!a)
                return json_null();
        len = nl_addr_get_len(a);
        if (len == 0 || len > 32 || nl_addr_get_family(a) == AF_INET || nl_addr_get_family(a) == AF_INET6)
                return json_null();
        p = nl_addr_get_binary_addr(a);
        for (unsigned i = 0; i < len; i++)
                sprintf(buf + 3 * i, "%02x%s", p[i], i + 1 < len ? ":" : "");
        return json_string(buf);
}

/* Mbit/s from sysfs, or null: the file refuses reads (EINVAL) for links that are down and for virtual links
 * without a speed, and says -1 when the driver does not know. sysfs shows the network namespace it was mounted
 * in, which is ours when we run on the host. */
static json_t *speed_json(const char *name) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        int speed;

        /* the kernel refuses such names; we build a path from it all the same */
        if (isempty(name) || strchr(name, '/') || streq(name, ".") || streq(name, ".."))
                return json_null();
        if (asprintf(&path, "/sys/class/net/%s/speed", name) < 0)
                return NULL;
        if (read_full_file(path, 64, &text, NULL) < 0)
                return json_null();
        text[strcspn(text, "\n")] = 0;
        if (safe_atoi(text, &speed) < 0 || speed <= 0)
                return json_null();
        return json_integer(speed);
}

static json_t *link_json(struct rtnl_link *l, json_t *addresses) {
        char state[32];
        const char *name = rtnl_link_get_name(l), *kind = rtnl_link_get_type(l);

        rtnl_link_operstate2str(rtnl_link_get_operstate(l), state, sizeof(state));
        return json_pack("{s:s?, s:i, s:s?, s:I, s:s, s:b, s:b, s:o, s:o, s:O}",
                         "name", name,
                         "index", rtnl_link_get_ifindex(l),
                         "kind", kind,
                         "mtu", (json_int_t) rtnl_link_get_mtu(l),
                         "state", state,
                         "up", !!(rtnl_link_get_flags(l) & IFF_UP),
                         "carrier", rtnl_link_get_carrier(l) != 0,
                         "mac", mac_json(l),
                         "speed_mbps", name ? speed_json(name) : json_null(),
                         "addresses", addresses);
}

json_t *netlink_interfaces_json(Netlink *n) {
        _cleanup_json_ json_t *result = json_array();
        ObjectArray links = {}, addrs = {};
        size_t j = 0;

        if (!result)
                return NULL;
        if (!n->links)
                return TAKE_PTR(result);

        nl_cache_foreach(n->links, collect_object, &links);
        nl_cache_foreach(n->addrs, collect_object, &addrs);
        if (links.oom || addrs.oom)
                goto oom;
        if (links.n > 0)
                qsort(links.items, links.n, sizeof(links.items[0]), compare_links);
        if (addrs.n > 0)
                qsort(addrs.items, addrs.n, sizeof(addrs.items[0]), compare_addrs);

        /* Both sorted by interface index: walk them together. Addresses of an interface we have not heard of
         * (yet) are left out. */
        for (size_t i = 0; i < links.n; i++) {
                struct rtnl_link *l = (struct rtnl_link *) links.items[i];
                int ifindex = rtnl_link_get_ifindex(l);
                _cleanup_json_ json_t *addresses = json_array();
                json_t *o;

                if (!link_is_interface(l))
                        continue;
                if (!addresses)
                        goto oom;
                for (; j < addrs.n && rtnl_addr_get_ifindex((struct rtnl_addr *) addrs.items[j]) <= ifindex; j++) {
                        json_t *s;

                        if (rtnl_addr_get_ifindex((struct rtnl_addr *) addrs.items[j]) < ifindex)
                                continue;
                        s = address_json((struct rtnl_addr *) addrs.items[j]);
                        if (s && json_array_append_new(addresses, s) < 0)
                                goto oom;
                }
                o = link_json(l, addresses);
                if (!o || json_array_append_new(result, o) < 0)
                        goto oom;
        }
        free(links.items);
        free(addrs.items);
        return TAKE_PTR(result);

oom:
        free(links.items);
        free(addrs.items);
        return NULL;
}
