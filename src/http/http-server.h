/* SPDX-License-Identifier: MIT */
#pragma once

/* HTTP served on the loop: libmicrohttpd without any thread of its own, driven by the one sd-event loop. MHD
 * keeps its listening socket and its connections in an epoll set of its own; that epoll fd is one io source on
 * the loop, MHD_get_timeout() is one time source, and both call MHD_run(), which never blocks in this mode.
 * What a request means is the caller's: it passes MHD's access handler (and, optionally, its completion
 * callback), and answers from within it, synchronously. Used by the FleetLock endpoint (updates/lockserver.c)
 * and the metrics endpoint (metrics/metrics-server.c). */

#include <microhttpd.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "shared/macro.h"

typedef struct HttpServer HttpServer;

typedef struct HttpServerOptions {
        const char *name;            /* for the journal: "FleetLock endpoint" */
        const char *address;         /* an IPv4 or IPv6 literal */
        uint16_t port;               /* 0 picks a free one (tests) */
        MHD_AccessHandlerCallback handler;
        void *handler_cls;
        MHD_RequestCompletedCallback completed; /* NULL: none */
        void *completed_cls;
        unsigned max_connections;    /* more wait in the backlog until one ends */
        size_t connection_memory;    /* per connection: request line, headers, and a response that MHD copies */
        unsigned timeout_sec;        /* idle seconds before a connection is dropped */
} HttpServerOptions;

int http_server_new(HttpServer **ret, sd_event *event, const HttpServerOptions *o);
/* Ends open requests (through the completion callback) and closes the socket. */
HttpServer *http_server_free(HttpServer *s);
DEFINE_CLEANUP_FUNC(HttpServer *, http_server_free);

/* The port actually bound. */
uint16_t http_server_port(HttpServer *s);

/* Splits "ADDRESS:PORT" ("127.0.0.1:9436", "[::1]:9436") into an address literal (malloc'd, without the
 * brackets) and a port. -EINVAL when it is not an IPv4 or IPv6 literal with a port of 1..65535. */
int http_server_parse_listen(const char *s, char **ret_address, uint16_t *ret_port);
/* Is address (a literal, as http_server_parse_listen() gives it) a loopback address? */
bool http_server_address_is_loopback(const char *address);
