/* SPDX-License-Identifier: MIT */
/* The FleetLock endpoint for Zincati, served on the loop by http/http-server.c (libmicrohttpd on sd-event).
 *
 * What a request goes through, in order, before the handler sees it (each refusal is an error document and
 * never reaches the handler): the path (404), the method (405, "Allow: POST"), the "fleet-lock-protocol: true"
 * header (400), the declared size (413 at once, before the body is read), the size actually received (413),
 * the body (400), then who sent it: the owner of the client's socket (sock_diag) must be root or Zincati's
 * user, the id this machine's Zincati id and the group the configured one (403, kind "forbidden"). The kinds and
 * the 400s follow airlock (coreos/airlock internal/server), whose clients
 * (Zincati) only look at "200 or not" and use the kind as a metric label. */

#include <microhttpd.h>
#include <pwd.h>
#include <string.h>

#include "http/http-server.h"
#include "updates/lockserver.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/fileio.h"
#include "shared/parse-util.h"
#include "shared/sock-diag.h"
#include "shared/time-util.h"
#include "updates/fleetlock-wire.h"
#include "updates/zincati.h"

struct LockServer {
        HttpServer *server;
        LockServerHandler handler;
        void *userdata;
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
        _cleanup_free_ char *path = NULL, *g = NULL, *why = NULL;
        char id[33];
        int r;

        if (!s)
                return -EINVAL;
        path = path_join_root(root, "/etc/machine-id");
        if (!path || (group && !(g = strdup(group))))
                return -ENOMEM;
        r = updates_zincati_machine_node_id(root, id);
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
        int r;

        if (!ret || !event || !address || !handler)
                return -EINVAL;

        s = calloc(1, sizeof(LockServer));
        if (!s)
                return -ENOMEM;
        s->handler = handler;
        s->userdata = userdata;
        lock_server_default_uids(s);

        r = http_server_new(&s->server, event,
                            &(HttpServerOptions) { .name = "FleetLock endpoint", .address = address, .port = port,
                                                   .handler = on_request, .handler_cls = s,
                                                   .completed = on_completed, .completed_cls = s,
                                                   .max_connections = LOCK_SERVER_MAX_CONNECTIONS,
                                                   .connection_memory = LOCK_SERVER_CONNECTION_MEMORY,
                                                   .timeout_sec = LOCK_SERVER_TIMEOUT_SEC });
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

LockServer *lock_server_free(LockServer *s) {
        if (!s)
                return NULL;
        http_server_free(s->server); /* ends open requests through on_completed() */
        free(s->client_id);
        free(s->client_group);
        free(s->client_error);
        return mfree(s);
}

uint16_t lock_server_port(LockServer *s) {
        return s ? http_server_port(s->server) : 0;
}
