/* SPDX-License-Identifier: MIT */
#pragma once

/* The FleetLock endpoint ballastd serves on loopback for Zincati (Fedora CoreOS): Zincati's fleet_lock strategy
 * posts /v1/pre-reboot before it finalizes an update and /v1/steady-state after boot, and ballast's policy
 * (window, cluster lock, drain) decides the answer. HTTP is libmicrohttpd's, driven by the one sd-event loop
 * (MHD's epoll fd as an sd-event io source, its timeout as a time source; MHD never runs a thread of its own).
 *
 * The protocol (https://coreos.github.io/zincati/development/fleetlock/protocol/): POST only, header
 * "fleet-lock-protocol: true", body {"client_params":{"id":…,"group":…}} (parsed by
 * updates_fleetlock_parse_request()); 200 with an empty body when allowed, otherwise a 4xx/5xx status with the
 * error document {"kind":…,"value":…} (updates_fleetlock_error_body()). Anything else (another path or method,
 * no header, a bad or oversized body) is answered with an error document and never reaches the handler. */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "shared/macro.h"

typedef struct LockServer LockServer;

/* Limits. Zincati sends one small request at a time over loopback, so these are far from what it needs and
 * close to what a misbehaving local client could cost: a few connections of a few KiB each, and a client that
 * stops sending for LOCK_SERVER_TIMEOUT_SEC is disconnected. */
#define LOCK_SERVER_MAX_BODY (64U * 1024U)            /* bytes of request body; more: 413 */
#define LOCK_SERVER_MAX_CONNECTIONS 16U               /* more wait in the backlog until one ends */
#define LOCK_SERVER_CONNECTION_MEMORY (32U * 1024U)   /* per connection, for the request line and headers */
#define LOCK_SERVER_TIMEOUT_SEC 5U                    /* idle seconds before a connection is dropped */

typedef enum LockServerOp {
        LOCK_SERVER_PRE_REBOOT,   /* POST /v1/pre-reboot */
        LOCK_SERVER_STEADY_STATE, /* POST /v1/steady-state */
} LockServerOp;

/* Decides one well-formed request, synchronously (Zincati polls pre-reboot every few minutes, so "not yet" is an
 * ordinary answer and the flow goes on in the background). Return 0 to answer 200. Otherwise return a negative
 * errno and set *ret_kind (a static string of [a-z0-9_], bounded cardinality: Zincati uses it as a metric
 * label; any other character is sent as '_', so "outside-window" goes out as "outside_window") and *ret_value
 * (a malloc'd sentence that says why, freed by the server); the status is 409 for -EBUSY/-EAGAIN (not now:
 * window, lock, drain in progress) and 500 otherwise. It runs inside the loop's dispatch of the endpoint and
 * must not free the LockServer. */
typedef int (*LockServerHandler)(LockServerOp op, const char *id, const char *group, const char **ret_kind,
                                 char **ret_value, void *userdata);

/* Listens on address:port (IPv4 or IPv6 literal; loopback in production; port 0 picks a free one, for tests). */
int lock_server_new(LockServer **ret, sd_event *event, const char *address, uint16_t port,
                    LockServerHandler handler, void *userdata);
LockServer *lock_server_free(LockServer *s);
DEFINE_CLEANUP_FUNC(LockServer *, lock_server_free);

/* Who may post. The connection's peer is identified by the owner of its client socket (the kernel's sock_diag,
 * for the exact 4-tuple: on loopback the client is a process of this host); by default root and the user
 * LOCK_SERVER_ZINCATI_USER (looked up when the server starts); n == 0 restores that default. Others get 403
 * {"kind":"forbidden",...}. */
#define LOCK_SERVER_ZINCATI_USER "zincati"
#define LOCK_SERVER_MAX_UIDS 8U
int lock_server_set_allowed_uids(LockServer *s, const uid_t *uids, size_t n);
/* The client_params a request must carry: this machine's Zincati id (derived from ROOT/etc/machine-id, root NULL
 * for /) and group (NULL: any). Until it is called, id and group are not checked; when the machine id cannot be
 * read, every request is refused (403) and the error returned. */
int lock_server_set_client(LockServer *s, const char *root, const char *group);

/* The port actually bound. */
uint16_t lock_server_port(LockServer *s);
