/* SPDX-License-Identifier: MIT */
/* libmicrohttpd on sd-event (http-server.h). After every MHD_run() the time source is re-armed, since a run may
 * start or end a timeout. */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "http/http-server.h"
#include "shared/log.h"
#include "shared/parse-util.h"
#include "shared/time-util.h"

struct HttpServer {
        sd_event *event;
        struct MHD_Daemon *daemon;
        sd_event_source *io;    /* MHD's epoll fd */
        sd_event_source *timer; /* MHD_get_timeout() */
        char *name;
        uint16_t port;
};

_printf_(2, 0) static void log_mhd(void *cls, const char *format, va_list ap) {
        HttpServer *s = cls;
        char buf[512];

        /* MHD's messages (errors only: a port taken, a client's request refused) end with a newline */
        vsnprintf(buf, sizeof(buf), format, ap);
        buf[strcspn(buf, "\n")] = '\0';
        log_info("%s: libmicrohttpd: %s", s->name, buf);
}

static int http_server_arm(HttpServer *s) {
        MHD_UNSIGNED_LONG_LONG timeout_msec;
        int r;

        if (MHD_get_timeout(s->daemon, &timeout_msec) != MHD_YES)
                return sd_event_source_set_enabled(s->timer, SD_EVENT_OFF);

        r = sd_event_source_set_time(s->timer, now_usec(CLOCK_MONOTONIC) + (uint64_t) timeout_msec * USEC_PER_MSEC);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(s->timer, SD_EVENT_ONESHOT);
}

static unsigned http_server_connections(HttpServer *s) {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        return info ? info->num_connections : 0;
}

static int http_server_run(HttpServer *s) {
        unsigned before = http_server_connections(s);
        int r;

        if (MHD_run(s->daemon) != MHD_YES)
                log_warning("%s: libmicrohttpd failed to run, ignoring", s->name);

        /* At the connection limit MHD takes its listening socket out of its epoll set, and puts it back only at
         * the start of a later MHD_run(), which nothing would call once the last connections are gone (no fd
         * to watch, no timeout): clients waiting in the backlog would wait forever. So a run that closed
         * connections is followed by another one, at once. */
        if (http_server_connections(s) < before) {
                r = sd_event_source_set_time(s->timer, 0);
                if (r >= 0)
                        r = sd_event_source_set_enabled(s->timer, SD_EVENT_ONESHOT);
        } else
                r = http_server_arm(s);
        if (r < 0)
                log_warning_errno(r, "%s: failed to arm the timer, ignoring: %m", s->name);
        return 0;
}

static int on_io(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        return http_server_run(userdata);
}

static int on_timer(sd_event_source *source, uint64_t usec, void *userdata) {
        return http_server_run(userdata);
}

static int sockaddr_of(const char *address, uint16_t port, struct sockaddr_storage *sa, unsigned *flags) {
        struct sockaddr_in *in4 = (struct sockaddr_in *) sa;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) sa;

        *sa = (struct sockaddr_storage) {};
        if (inet_pton(AF_INET, address, &in4->sin_addr) == 1) {
                in4->sin_family = AF_INET;
                in4->sin_port = htons(port);
                return 0;
        }
        if (inet_pton(AF_INET6, address, &in6->sin6_addr) == 1) {
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons(port);
                *flags |= MHD_USE_IPv6;
                return 0;
        }
        return -EINVAL;
}

/* MHD's epoll fd and timeout as sources on the loop. */
static int http_server_attach(HttpServer *s) {
        const union MHD_DaemonInfo *info;
        int r;

        info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_EPOLL_FD);
        if (!info || info->epoll_fd < 0)
                return log_error_errno(-EIO, "%s: libmicrohttpd has no epoll fd", s->name);
        r = sd_event_add_io(s->event, &s->io, info->epoll_fd, EPOLLIN, on_io, s);
        if (r < 0)
                return log_error_errno(r, "%s: cannot watch libmicrohttpd's epoll fd: %m", s->name);
        (void) sd_event_source_set_description(s->io, "http-server-io");

        /* Accuracy 1 µs, not sd-event's default of 250 ms: a timeout of 0 is how MHD says that a connection has
         * data it has not processed yet (its epoll set is edge-triggered: no new event will come for it), and a
         * request larger than MHD's read buffer is read one buffer per run. */
        r = sd_event_add_time(s->event, &s->timer, CLOCK_MONOTONIC, UINT64_MAX, 1, on_timer, s);
        if (r < 0)
                return log_error_errno(r, "%s: cannot add a timer: %m", s->name);
        (void) sd_event_source_set_description(s->timer, "http-server-timeout");

        r = http_server_arm(s);
        if (r < 0)
                return log_error_errno(r, "%s: cannot arm the timer: %m", s->name);
        return 0;
}

int http_server_new(HttpServer **ret, sd_event *event, const HttpServerOptions *o) {
        _cleanup_(http_server_freep) HttpServer *s = NULL;
        struct sockaddr_storage sa;
        unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
        const union MHD_DaemonInfo *info;
        int r;

        if (!ret || !event || !o || !o->name || !o->address || !o->handler)
                return -EINVAL;

        if (sockaddr_of(o->address, o->port, &sa, &flags) < 0)
                return log_error_errno(-EINVAL, "%s: \"%s\" is not an IPv4 or IPv6 address", o->name, o->address);

        s = calloc(1, sizeof(HttpServer));
        if (!s)
                return -ENOMEM;
        s->event = sd_event_ref(event);
        s->name = strdup(o->name);
        if (!s->name)
                return -ENOMEM;

        /* MHD takes the port from the address given; the port argument is only used without one. */
        s->daemon = MHD_start_daemon(flags, o->port, NULL, NULL, o->handler, o->handler_cls,
                                     MHD_OPTION_EXTERNAL_LOGGER, log_mhd, s, /* first, or MHD complains */
                                     MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &sa,
                                     MHD_OPTION_CONNECTION_LIMIT, o->max_connections,
                                     MHD_OPTION_CONNECTION_MEMORY_LIMIT, o->connection_memory,
                                     MHD_OPTION_CONNECTION_TIMEOUT, o->timeout_sec,
                                     MHD_OPTION_NOTIFY_COMPLETED, o->completed, o->completed_cls,
                                     MHD_OPTION_END);
        if (!s->daemon)
                /* MHD says why only through its logger; the usual cause is the address being taken */
                return log_error_errno(-EADDRINUSE, "%s: cannot listen on %s port %u", o->name, o->address,
                                       (unsigned) o->port);

        info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
        if (!info || info->port == 0)
                return log_error_errno(-EIO, "%s: libmicrohttpd does not say its port", o->name);
        s->port = info->port;

        r = http_server_attach(s);
        if (r < 0)
                return r;

        log_info("%s: listening on %s port %u", o->name, o->address, (unsigned) s->port);
        *ret = TAKE_PTR(s);
        return 0;
}

HttpServer *http_server_free(HttpServer *s) {
        if (!s)
                return NULL;
        /* the sources first: the epoll fd is MHD's and MHD_stop_daemon() closes it */
        sd_event_source_disable_unref(s->io);
        sd_event_source_disable_unref(s->timer);
        if (s->daemon)
                MHD_stop_daemon(s->daemon); /* ends open requests through the completion callback */
        sd_event_unref(s->event);
        free(s->name);
        return mfree(s);
}

uint16_t http_server_port(HttpServer *s) {
        return s ? s->port : 0;
}

int http_server_parse_listen(const char *s, char **ret_address, uint16_t *ret_port) {
        _cleanup_free_ char *address = NULL;
        struct sockaddr_storage sa;
        unsigned flags = 0, port;
        const char *colon, *p;

        if (!s)
                return -EINVAL;
        if (s[0] == '[') {
                const char *end = strchr(s, ']');
                if (!end || end[1] != ':')
                        return -EINVAL;
                address = strndup(s + 1, (size_t) (end - s - 1));
                p = end + 2;
                if (address && !strchr(address, ':'))
                        return -EINVAL; /* brackets are for IPv6 */
        } else {
                colon = strrchr(s, ':');
                if (!colon || strchr(s, ':') != colon)
                        return -EINVAL; /* an IPv6 address needs its brackets */
                address = strndup(s, (size_t) (colon - s));
                p = colon + 1;
        }
        if (!address)
                return -ENOMEM;
        if (sockaddr_of(address, 0, &sa, &flags) < 0)
                return -EINVAL;
        if (isempty(p) || strspn(p, "0123456789") != strlen(p) || strlen(p) > 5 || safe_atou(p, &port) < 0 ||
            port == 0 || port > 65535)
                return -EINVAL;
        *ret_address = TAKE_PTR(address);
        *ret_port = (uint16_t) port;
        return 0;
}

bool http_server_address_is_loopback(const char *address) {
        struct in_addr a4;
        struct in6_addr a6;

        if (inet_pton(AF_INET, address, &a4) == 1)
                return (ntohl(a4.s_addr) >> 24) == 127;
        if (inet_pton(AF_INET6, address, &a6) == 1)
                return IN6_IS_ADDR_LOOPBACK(&a6) ||
                       (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
        return false;
}
