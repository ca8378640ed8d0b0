/* SPDX-License-Identifier: MIT */
/* The FleetLock endpoint for Zincati: libmicrohttpd without any thread of its own, driven by the one sd-event
 * loop. MHD keeps its listening socket and its connections in an epoll set of its own; that epoll fd is one io
 * source on our loop, MHD_get_timeout() is one time source, and both call MHD_run(), which never blocks in
 * this mode. After every MHD_run() the time source is re-armed, since a run may start or end a timeout.
 *
 * What a request goes through, in order, before the handler sees it (each refusal is an error document and
 * never reaches the handler): the path (404), the method (405, "Allow: POST"), the "fleet-lock-protocol: true"
 * header (400), the declared size (413 at once, before the body is read), the size actually received (413),
 * the body (400), then who sent it: the owner of the client's socket (sock_diag) must be root or Zincati's
 * user, the id this machine's Zincati id and the group the configured one (403, kind "forbidden"). The kinds and
 * the 400s follow airlock (coreos/airlock internal/server), whose clients
 * (Zincati) only look at "200 or not" and use the kind as a metric label. */

#include <arpa/inet.h>
#include <microhttpd.h>
#include <pwd.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "updates/lockserver.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/fileio.h"
#include "shared/parse-util.h"
#include "shared/sock-diag.h"
#include "shared/time-util.h"
#include "updates/updates.h"

struct LockServer {
        sd_event *event;
        struct MHD_Daemon *daemon;
        sd_event_source *io;    /* MHD's epoll fd */
        sd_event_source *timer; /* MHD_get_timeout() */
        LockServerHandler handler;
        void *userdata;
        uint16_t port;
        uid_t allowed_uids[LOCK_SERVER_MAX_UIDS];
        size_t n_allowed_uids;
        char *client_id, *client_group; /* NULL: not checked */
        char *client_error;             /* why there is no client id to check against: refuse all */
};

/* One request being received (MHD's per-request "con_cls"). */
typedef struct LockRequest {
        LockServerOp op;
        char *body;
        size_t size;
        bool too_large;
} LockRequest;

static LockRequest *lock_request_free(LockRequest *r) {
        if (!r)
                return NULL;
        free(r->body);
        return mfree(r);
}

_printf_(2, 0) static void log_mhd(void *cls, const char *format, va_list ap) {
        char buf[512];

        /* MHD's messages (errors only: a port taken, a client's request refused) end with a newline */
        vsnprintf(buf, sizeof(buf), format, ap);
        buf[strcspn(buf, "\n")] = '\0';
        log_info("FleetLock endpoint: libmicrohttpd: %s", buf);
}

static const char *op_to_path(LockServerOp op) {
        return op == LOCK_SERVER_PRE_REBOOT ? "/v1/pre-reboot" : "/v1/steady-state";
}

static enum MHD_Result queue_answer(struct MHD_Connection *c, unsigned status, const char *body, bool allow_post) {
        struct MHD_Response *response;
        enum MHD_Result r;

        response = MHD_create_response_from_buffer(strlen(body), (void *) body, MHD_RESPMEM_MUST_COPY);
        if (!response)
                return MHD_NO; /* out of memory: MHD closes the connection */
        if (body[0] != '\0')
                (void) MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        if (allow_post)
                (void) MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, MHD_HTTP_METHOD_POST);
        r = MHD_queue_response(c, status, response);
        MHD_destroy_response(response);
        return r;
}

/* An error document {"kind":…,"value":…}. A kind is a metric label of [A-Za-z0-9_]: other characters become
 * '_' (so ballast's reason codes, "outside-window", pass as "outside_window"). Should the document still be
 * refused (a value that is not UTF-8), the answer is an error with a generic document, never a 200. */
static enum MHD_Result queue_error(struct MHD_Connection *c, unsigned status, const char *kind, const char *value,
                                   bool allow_post) {
        _cleanup_free_ char *body = NULL, *label = strdup(kind);

        if (!label)
                return MHD_NO;
        for (char *p = label; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
                        *p = '_';

        if (updates_fleetlock_error_body(label, value, &body) < 0) {
                log_warning("FleetLock endpoint: cannot encode the error kind \"%s\", answering a generic one", kind);
                if (updates_fleetlock_error_body("generic_error", "(the error could not be encoded)", &body) < 0)
                        return MHD_NO;
        }
        return queue_answer(c, status, body, allow_post);
}

/* The owner of the client's socket (the connection is on loopback: the client is a process of this host) must be
 * one of the allowed uids. */
static int lock_server_check_peer(LockServer *s, struct MHD_Connection *c, char **ret_why) {
        const union MHD_ConnectionInfo *info;
        struct sockaddr_storage local;
        socklen_t len = sizeof(local);
        uid_t uid;
        int r;

        info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!info || getsockname(info->connect_fd, (struct sockaddr *) &local, &len) < 0)
                return *ret_why = strdup("cannot tell who is connected"), -EPERM;
        info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (!info || !info->client_addr)
                return *ret_why = strdup("cannot tell who is connected"), -EPERM;
        /* the client's socket: its local address is our peer, its remote one our local address */
        r = sock_diag_tcp_owner_uid(info->client_addr, (struct sockaddr *) &local, &uid);
        if (r < 0) {
                if (asprintf(ret_why, "cannot tell which user owns the client's socket: %s", strerror(-r)) < 0)
                        *ret_why = NULL;
                return -EPERM;
        }
        for (size_t i = 0; i < s->n_allowed_uids; i++)
                if (s->allowed_uids[i] == uid)
                        return 0;
        if (asprintf(ret_why, "uid %u may not drive this node's reboots: only root and Zincati's user may",
                           (unsigned) uid) < 0)
                *ret_why = NULL;
        return -EPERM;
}

static int lock_server_check_client(LockServer *s, const char *id, const char *group, char **ret_why) {
        if (s->client_error) {
                *ret_why = strdup(s->client_error);
                return -EPERM;
        }
        if (s->client_id && !streq(id, s->client_id)) {
                if (asprintf(ret_why, "id %s is not this machine's Zincati id", id) < 0)
                        *ret_why = NULL;
                return -EPERM;
        }
        if (s->client_group && !streq(group, s->client_group)) {
                if (asprintf(ret_why, "group %s is not this node's group (%s)", group, s->client_group) < 0)
                        *ret_why = NULL;
                return -EPERM;
        }
        return 0;
}

/* The end of a request that passed the checks on its headers: its size, its body, then the handler. A handler
 * that refuses without a kind or a value gets airlock's defaults ("generic_error", "generic error"). */
static enum MHD_Result answer_handler(LockServer *s, struct MHD_Connection *c, LockRequest *req) {
        _cleanup_free_ char *id = NULL, *group = NULL, *error = NULL, *value = NULL;
        const char *kind = NULL;
        unsigned status;
        int r;

        if (req->too_large)
                return queue_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "request_too_large",
                                   "the request body is larger than 64 KiB", false);

        r = updates_fleetlock_parse_request(req->body ?: "", req->size, &id, &group, &error);
        if (r < 0) {
                _cleanup_free_ char *msg = NULL;

                log_info("FleetLock endpoint: %s refused: %s", op_to_path(req->op), strna(error));
                if (asprintf(&msg, "failed to validate client identity: %s", strna(error)) < 0)
                        return MHD_NO;
                return queue_error(c, MHD_HTTP_BAD_REQUEST, "invalid_client_identity", msg, false);
        }

        r = lock_server_check_client(s, id, group, &error);
        if (r < 0) {
                log_notice("FleetLock endpoint: %s refused: %s", op_to_path(req->op), strna(error));
                return queue_error(c, MHD_HTTP_FORBIDDEN, "forbidden", error ?: "forbidden", false);
        }

        r = s->handler(req->op, id, group, &kind, &value, s->userdata);
        if (r >= 0) {
                log_debug("FleetLock endpoint: %s by %s (group %s): 200", op_to_path(req->op), id, group);
                return queue_answer(c, MHD_HTTP_OK, "", false);
        }

        status = (r == -EBUSY || r == -EAGAIN) ? MHD_HTTP_CONFLICT : MHD_HTTP_INTERNAL_SERVER_ERROR;
        log_info("FleetLock endpoint: %s by %s (group %s): %u %s: %s", op_to_path(req->op), id, group, status,
                 strna(kind), strna(value));
        return queue_error(c, status, isempty(kind) ? "generic_error" : kind,
                           isempty(value) ? "generic error" : value, false);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
        LockServer *s = cls;
        LockRequest *req = *con_cls;

        if (!req) {
                /* The headers are in, the body is not: refuse what needs no body to be refused, before a
                 * client with "Expect: 100-continue" sends it. */
                const char *header, *length;
                LockServerOp op;
                uint64_t declared;
                int r;

                if (streq(url, "/v1/pre-reboot"))
                        op = LOCK_SERVER_PRE_REBOOT;
                else if (streq(url, "/v1/steady-state"))
                        op = LOCK_SERVER_STEADY_STATE;
                else
                        return queue_error(c, MHD_HTTP_NOT_FOUND, "not_found",
                                           "no such endpoint: FleetLock serves POST /v1/pre-reboot and "
                                           "POST /v1/steady-state",
                                           false);

                if (!streq(method, MHD_HTTP_METHOD_POST))
                        return queue_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                                           "FleetLock operations are POST requests", true);

                header = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "fleet-lock-protocol");
                if (!header || !streq(header, "true"))
                        return queue_error(c, MHD_HTTP_BAD_REQUEST, "invalid_client_identity",
                                           "failed to validate client identity: wrong 'fleet-lock-protocol' "
                                           "header",
                                           false);

                length = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
                if (length && (r = safe_atou64(length, &declared), r == -ERANGE ||
                               (r >= 0 && declared > LOCK_SERVER_MAX_BODY)))
                        return queue_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "request_too_large",
                                           "the request body is larger than 64 KiB", false);

                _cleanup_free_ char *why = NULL;
                if (lock_server_check_peer(s, c, &why) < 0) {
                        log_notice("FleetLock endpoint: %s refused: %s", op_to_path(op), strna(why));
                        return queue_error(c, MHD_HTTP_FORBIDDEN, "forbidden", why ?: "forbidden", false);
                }

                req = calloc(1, sizeof(LockRequest));
                if (!req)
                        return MHD_NO;
                req->op = op;
                *con_cls = req;
                return MHD_YES;
        }

        if (*upload_data_size > 0) {
                /* A body without a declared length (chunked) that grows too large is read to its end and
                 * dropped, so that the client hears 413; the connection timeout bounds a client that never
                 * ends it, and MHD closes the connection after an answer to a request it did not read whole. */
                size_t n = *upload_data_size;

                *upload_data_size = 0;
                if (req->too_large)
                        return MHD_YES;
                if (n > LOCK_SERVER_MAX_BODY - req->size) {
                        req->too_large = true;
                        req->body = mfree(req->body);
                        return MHD_YES;
                }
                char *p = realloc(req->body, req->size + n + 1);
                if (!p)
                        return MHD_NO;
                memcpy(p + req->size, upload_data, n);
                req->size += n;
                p[req->size] = '\0';
                req->body = p;
                return MHD_YES;
        }

        return answer_handler(s, c, req);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
        LockRequest *req = *con_cls;

        if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && req)
                log_debug("FleetLock endpoint: a %s request ended before it was answered (code %d)",
                          op_to_path(req->op), (int) toe);
        *con_cls = lock_request_free(req);
}

static int lock_server_arm(LockServer *s) {
        MHD_UNSIGNED_LONG_LONG timeout_msec;
        int r;

        if (MHD_get_timeout(s->daemon, &timeout_msec) != MHD_YES)
                return sd_event_source_set_enabled(s->timer, SD_EVENT_OFF);

        r = sd_event_source_set_time(s->timer, now_usec(CLOCK_MONOTONIC) + (uint64_t) timeout_msec * USEC_PER_MSEC);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(s->timer, SD_EVENT_ONESHOT);
}

static unsigned lock_server_connections(LockServer *s) {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        return info ? info->num_connections : 0;
}

static int lock_server_run(LockServer *s) {
        unsigned before = lock_server_connections(s);
        int r;

        if (MHD_run(s->daemon) != MHD_YES)
                log_warning("FleetLock endpoint: libmicrohttpd failed to run, ignoring");

        /* At the connection limit MHD takes its listening socket out of its epoll set, and puts it back only at
         * the start of a later MHD_run(), which nothing would call once the last connections are gone (no fd
         * to watch, no timeout): clients waiting in the backlog would wait forever. So a run that closed
         * connections is followed by another one, at once. */
        if (lock_server_connections(s) < before) {
                r = sd_event_source_set_time(s->timer, 0);
                if (r >= 0)
                        r = sd_event_source_set_enabled(s->timer, SD_EVENT_ONESHOT);
        } else
                r = lock_server_arm(s);
        if (r < 0)
                log_warning_errno(r, "FleetLock endpoint: failed to arm the timer, ignoring: %m");
        return 0;
}

static int on_io(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        return lock_server_run(userdata);
}

static int on_timer(sd_event_source *source, uint64_t usec, void *userdata) {
        return lock_server_run(userdata);
}

/* root, and Zincati's user when there is one */
static void lock_server_default_uids(LockServer *s) {
        struct passwd *pw;

        s->allowed_uids[0] = 0;
        s->n_allowed_uids = 1;
        errno = 0;
        pw = getpwnam(LOCK_SERVER_ZINCATI_USER);
        if (pw && pw->pw_uid != 0)
                s->allowed_uids[s->n_allowed_uids++] = pw->pw_uid;
        else if (!pw)
                log_debug("FleetLock endpoint: no user %s: only root may post", LOCK_SERVER_ZINCATI_USER);
}

int lock_server_set_allowed_uids(LockServer *s, const uid_t *uids, size_t n) {
        if (!s || n > LOCK_SERVER_MAX_UIDS || (n > 0 && !uids))
                return -EINVAL;
        if (n == 0) {
                lock_server_default_uids(s);
                return 0;
        }
        memcpy(s->allowed_uids, uids, n * sizeof(uid_t));
        s->n_allowed_uids = n;
        return 0;
}

int lock_server_set_client(LockServer *s, const char *root, const char *group) {
        _cleanup_free_ char *path = NULL, *text = NULL, *g = NULL, *why = NULL;
        char id[33];
        int r;

        if (!s)
                return -EINVAL;
        path = path_join_root(root, "/etc/machine-id");
        if (!path || (group && !(g = strdup(group))))
                return -ENOMEM;
        r = read_full_file(path, 128, &text, NULL);
        if (r >= 0) {
                text[strcspn(text, "\n")] = 0;
                r = updates_zincati_node_id(text, id);
        }
        if (r < 0)
                if (asprintf(&why, "this machine has no Zincati id to check against (%s: %s): refusing all", path,
                              strerror(-r)) < 0)
                        why = NULL;
        free(s->client_id);
        s->client_id = r >= 0 ? strdup(id) : NULL;
        free(s->client_group);
        s->client_group = TAKE_PTR(g);
        free(s->client_error);
        s->client_error = TAKE_PTR(why);
        if (r >= 0 && !s->client_id)
                return -ENOMEM;
        return r < 0 ? r : 0;
}

int lock_server_new(LockServer **ret, sd_event *event, const char *address, uint16_t port,
                    LockServerHandler handler, void *userdata) {
        _cleanup_(lock_server_freep) LockServer *s = NULL;
        struct sockaddr_storage sa = {};
        unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
        const union MHD_DaemonInfo *info;
        int epoll_fd, r;

        if (!ret || !event || !address || !handler)
                return -EINVAL;

        struct sockaddr_in *in4 = (struct sockaddr_in *) &sa;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &sa;
        if (inet_pton(AF_INET, address, &in4->sin_addr) == 1) {
                in4->sin_family = AF_INET;
                in4->sin_port = htons(port);
        } else if (inet_pton(AF_INET6, address, &in6->sin6_addr) == 1) {
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons(port);
                flags |= MHD_USE_IPv6;
        } else
                return log_error_errno(-EINVAL, "FleetLock endpoint: \"%s\" is not an IPv4 or IPv6 address",
                                       address);

        s = calloc(1, sizeof(LockServer));
        if (!s)
                return -ENOMEM;
        s->event = sd_event_ref(event);
        s->handler = handler;
        s->userdata = userdata;
        lock_server_default_uids(s);

        /* MHD takes the port from the address given; the port argument is only used without one. */
        s->daemon = MHD_start_daemon(flags, port, NULL, NULL, on_request, s,
                                     MHD_OPTION_EXTERNAL_LOGGER, log_mhd, s, /* first, or MHD complains */
                                     MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &sa,
                                     MHD_OPTION_CONNECTION_LIMIT, (unsigned) LOCK_SERVER_MAX_CONNECTIONS,
                                     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) LOCK_SERVER_CONNECTION_MEMORY,
                                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) LOCK_SERVER_TIMEOUT_SEC,
                                     MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                     MHD_OPTION_END);
        if (!s->daemon)
                /* MHD says why only through its logger; the usual cause is the address being taken */
                return log_error_errno(-EADDRINUSE, "FleetLock endpoint: cannot listen on %s port %u",
                                       address, (unsigned) port);

        info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_EPOLL_FD);
        if (!info || info->epoll_fd < 0)
                return log_error_errno(-EIO, "FleetLock endpoint: libmicrohttpd has no epoll fd");
        epoll_fd = info->epoll_fd;

        info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
        if (!info || info->port == 0)
                return log_error_errno(-EIO, "FleetLock endpoint: libmicrohttpd does not say its port");
        s->port = info->port;

        r = sd_event_add_io(event, &s->io, epoll_fd, EPOLLIN, on_io, s);
        if (r < 0)
                return log_error_errno(r, "FleetLock endpoint: cannot watch libmicrohttpd's epoll fd: %m");
        (void) sd_event_source_set_description(s->io, "lockserver-io");

        /* Accuracy 1 µs, not sd-event's default of 250 ms: a timeout of 0 is how MHD says that a connection has
         * data it has not processed yet (its epoll set is edge-triggered: no new event will come for it), and a
         * request larger than MHD's read buffer is read one buffer per run. */
        r = sd_event_add_time(event, &s->timer, CLOCK_MONOTONIC, UINT64_MAX, 1, on_timer, s);
        if (r < 0)
                return log_error_errno(r, "FleetLock endpoint: cannot add a timer: %m");
        (void) sd_event_source_set_description(s->timer, "lockserver-timeout");

        r = lock_server_arm(s);
        if (r < 0)
                return log_error_errno(r, "FleetLock endpoint: cannot arm the timer: %m");

        log_info("FleetLock endpoint: listening on %s port %u", address, (unsigned) s->port);
        *ret = TAKE_PTR(s);
        return 0;
}

LockServer *lock_server_free(LockServer *s) {
        if (!s)
                return NULL;
        /* the sources first: the epoll fd is MHD's and MHD_stop_daemon() closes it */
        sd_event_source_disable_unref(s->io);
        sd_event_source_disable_unref(s->timer);
        if (s->daemon)
                MHD_stop_daemon(s->daemon); /* ends open requests through on_completed() */
        free(s->client_id);
        free(s->client_group);
        free(s->client_error);
        sd_event_unref(s->event);
        return mfree(s);
}

uint16_t lock_server_port(LockServer *s) {
        return s ? s->port : 0;
}
