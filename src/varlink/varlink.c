/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "shared/fileio.h"
#include "shared/log.h"
#include "shared/time-util.h"
#include "varlink/varlink.h"

typedef struct Connection Connection;

struct VarlinkCall {
        unsigned n_ref;
        Connection *connection; /* NULL once the peer is gone: replies are then dropped */
        bool more, oneway, done;
        size_t method;          /* index in the method table, for the counters; SIZE_MAX: none */
        VarlinkCallDisconnectFunc on_disconnect;  /* the peer went away before the final reply */
        void *disconnect_userdata;
};

struct Connection {
        VarlinkServer *server;
        Connection *prev, *next;
        int fd;
        sd_event_source *io, *timer, *defer;
        struct ucred peer;
        bool may_write;

        char *in;
        size_t in_size, in_allocated;
        char *out;
        size_t out_size, out_allocated;

        VarlinkCall *call;   /* the call being answered; input waits until it is over */
        bool close_after_flush;
        bool stall_armed;    /* the stall deadline runs; more bytes do not push it back */
        bool read_eof;       /* the peer shut down its side: answer what it sent, then close */
};

struct VarlinkServer {
        sd_event *event;
        const VarlinkMethod *methods;
        void *userdata;
        VarlinkLimits limits;
        gid_t write_gid;

        const char *vendor, *product, *version, *url;
        const char *const *interfaces;

        sd_event_source **listeners;
        size_t n_listeners;
        Connection *connections;
        unsigned n_connections;

        /* per method of the table: calls dispatched to it, and those answered with an error */
        size_t n_methods;
        uint64_t *calls, *errors;
        size_t buffered;   /* in_allocated of all connections */
};

static void connection_free(Connection *c);
static int connection_update(Connection *c);
static int connection_process(Connection *c);

int varlink_server_new(VarlinkServer **ret, sd_event *event, const VarlinkMethod *methods, void *userdata) {
        VarlinkServer *s = calloc(1, sizeof(VarlinkServer));

        if (!s)
                return -ENOMEM;
        for (const VarlinkMethod *m = methods; m && m->name; m++)
                s->n_methods++;
        s->calls = calloc(s->n_methods + 1, sizeof(uint64_t));
        s->errors = calloc(s->n_methods + 1, sizeof(uint64_t));
        if (!s->calls || !s->errors) {
                free(s->calls);
                free(s->errors);
                free(s);
                return -ENOMEM;
        }
        s->event = sd_event_ref(event);
        s->methods = methods;
        s->userdata = userdata;
        s->write_gid = (gid_t) -1;
        s->limits = (VarlinkLimits) {
                .max_message_size = VARLINK_DEFAULT_MAX_MESSAGE_SIZE,
                .max_connections = VARLINK_DEFAULT_MAX_CONNECTIONS,
                .stall_usec = 10 * USEC_PER_SEC,
                .idle_usec = 300 * USEC_PER_SEC,
                .max_buffered = VARLINK_DEFAULT_MAX_BUFFERED,
                .max_connections_per_uid = VARLINK_DEFAULT_MAX_CONNECTIONS_PER_UID,
        };
        *ret = s;
        return 0;
}

VarlinkServer *varlink_server_free(VarlinkServer *s) {
        if (!s)
                return NULL;
        while (s->connections)
                connection_free(s->connections);
        for (size_t i = 0; i < s->n_listeners; i++)
                sd_event_source_disable_unref(s->listeners[i]);
        free(s->listeners);
        free(s->calls);
        free(s->errors);
        sd_event_unref(s->event);
        free(s);
        return NULL;
}

void varlink_server_set_limits(VarlinkServer *s, const VarlinkLimits *limits) {
        s->limits = *limits;
        if (s->limits.max_buffered == 0)
                s->limits.max_buffered = VARLINK_DEFAULT_MAX_BUFFERED;
        if (s->limits.max_connections_per_uid == 0)
                s->limits.max_connections_per_uid = VARLINK_DEFAULT_MAX_CONNECTIONS_PER_UID;
}

void varlink_server_set_write_group(VarlinkServer *s, gid_t gid) {
        s->write_gid = gid;
}

void varlink_server_set_info(VarlinkServer *s, const char *vendor, const char *product, const char *version,
                             const char *url, const char *const *interfaces) {
        s->vendor = vendor;
        s->product = product;
        s->version = version;
        s->url = url;
        s->interfaces = interfaces;
}

unsigned varlink_server_n_connections(VarlinkServer *s) {
        return s->n_connections;
}

int varlink_server_method_stats(VarlinkServer *s, size_t i, VarlinkMethodStats *ret) {
        if (!s || i >= s->n_methods)
                return -ENOENT;
        *ret = (VarlinkMethodStats) { .method = s->methods[i].name, .calls = s->calls[i], .errors = s->errors[i] };
        return 0;
}

/* ---- calls ---- */

VarlinkCall *varlink_call_ref(VarlinkCall *c) {
        if (c)
                c->n_ref++;
        return c;
}

VarlinkCall *varlink_call_unref(VarlinkCall *c) {
        if (!c || --c->n_ref > 0)
                return NULL;
        free(c);
        return NULL;
}

bool varlink_call_wants_more(VarlinkCall *c) {
        return c->more;
}

bool varlink_call_is_connected(VarlinkCall *c) {
        return c->connection != NULL;
}

const struct ucred *varlink_call_peer(VarlinkCall *c) {
        return c->connection ? &c->connection->peer : NULL;
}

bool varlink_call_may_write(VarlinkCall *c) {
        return c->connection && c->connection->may_write;
}

void varlink_call_set_disconnect(VarlinkCall *c, VarlinkCallDisconnectFunc f, void *userdata) {
        c->on_disconnect = f;
        c->disconnect_userdata = userdata;
}

static int connection_enqueue(Connection *c, json_t *message) {
        _cleanup_free_ char *text = json_dumps(message, JSON_COMPACT);
        size_t n;

        if (!text)
                return -ENOMEM;
        n = strlen(text) + 1;
        if (c->out_size + n > c->out_allocated) {
                size_t a = MAX(c->out_allocated * 2, c->out_size + n);
                char *p = realloc(c->out, a);
                if (!p)
                        return -ENOMEM;
                c->out = p;
                c->out_allocated = a;
        }
        memcpy(c->out + c->out_size, text, n); /* n includes the NUL that ends the message */
        c->out_size += n;
        return connection_update(c);
}

static void call_finish(VarlinkCall *call) {
        Connection *c = call->connection;

        call->done = true;
        if (!c)
                return;
        if (c->call == call) {
                c->call = NULL;
                varlink_call_unref(call);
                /* more input may be waiting behind this call: look at it from the loop, not from here */
                if (c->defer)
                        (void) sd_event_source_set_enabled(c->defer, SD_EVENT_ONESHOT);
        }
}

static int call_send(VarlinkCall *call, json_t *message, bool final) {
        _cleanup_json_ json_t *m = message;
        int r = 0;

        if (!m)
                return -ENOMEM;
        if (call->done)
                return -EALREADY;
        if (call->connection && !call->oneway)
                r = connection_enqueue(call->connection, m);
        if (final)
                call_finish(call);
        return r;
}

int varlink_call_reply(VarlinkCall *call, json_t *parameters) {
        return call_send(call, json_pack("{s:o}", "parameters", parameters ?: json_object()), true);
}

int varlink_call_notify(VarlinkCall *call, json_t *parameters) {
        if (!call->more) {
                json_decref(parameters);
                return -EPROTO;
        }
        return call_send(call, json_pack("{s:o,s:b}", "parameters", parameters ?: json_object(), "continues", 1),
                         false);
}

int varlink_call_error(VarlinkCall *call, const char *error, json_t *parameters) {
        /* counted while the client is there to hear it (the connection leads to the server's counters) */
        if (!call->done && call->connection && call->method != SIZE_MAX)
                call->connection->server->errors[call->method]++;
        return call_send(call, json_pack("{s:s,s:o}", "error", error, "parameters", parameters ?: json_object()),
                         true);
}

int varlink_call_error_invalid_parameter(VarlinkCall *call, const char *parameter) {
        return varlink_call_error(call, "org.varlink.service.InvalidParameter",
                                  json_pack("{s:s}", "parameter", parameter));
}

/* ---- connections ---- */

static void connection_free(Connection *c) {
        if (!c)
                return;
        if (c->call) {
                VarlinkCallDisconnectFunc f = c->call->on_disconnect;

                c->call->connection = NULL;
                c->call->on_disconnect = NULL;
                if (f)
                        f(c->call, c->call->disconnect_userdata);
                varlink_call_unref(c->call);
        }
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->timer);
        sd_event_source_disable_unref(c->defer);
        safe_close(c->fd);
        if (c->prev)
                c->prev->next = c->next;
        else
                c->server->connections = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->server->n_connections--;
        c->server->buffered -= c->in_allocated;
        free(c->in);
        free(c->out);
        free(c);
}

/* Sends what we can and says whether the connection is still worth keeping. */
static int connection_flush(Connection *c) {
        while (c->out_size > 0) {
                ssize_t k = send(c->fd, c->out, c->out_size, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        return -errno;
                }
                memmove(c->out, c->out + k, c->out_size - (size_t) k);
                c->out_size -= (size_t) k;
        }
        return 0;
}

static int connection_update(Connection *c) {
        uint32_t events = 0;
        uint64_t timeout;
        int r;

        r = connection_flush(c);
        if (r < 0)
                return r;
        if (c->out_size > 0)
                events |= EPOLLOUT;
        else if (c->close_after_flush || (c->read_eof && !c->call && !(c->in && memchr(c->in, 0, c->in_size))))
                return -ECONNRESET;
        /* Read while there is room, and while no call holds the input back: a client cannot make us buffer
         * more than one message while we work on its call. */
        if (!c->close_after_flush && !c->read_eof && !(c->call && c->in_size > 0) &&
            c->in_size <= c->server->limits.max_message_size && c->out_size == 0)
                events |= EPOLLIN;
        r = sd_event_source_set_io_events(c->io, events);
        if (r < 0)
                return r;

        /* A partial message or unread output must make progress within stall_usec; a quiet connection may
         * sit for idle_usec. A call in progress is our business, not the client's. */
        if (c->call) {
                c->stall_armed = false;
                return sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
        }
        bool busy = c->in_size > 0 || c->out_size > 0;
        if (busy && c->stall_armed)
                return 0;
        c->stall_armed = busy;
        timeout = busy ? c->server->limits.stall_usec : c->server->limits.idle_usec;
        r = sd_event_source_set_time_relative(c->timer, timeout);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
}

static int reply_protocol_error(Connection *c, const char *error, json_t *params) {
        _cleanup_json_ json_t *m = json_pack("{s:s,s:o}", "error", error, "parameters", params ?: json_object());

        c->in_size = 0;
        c->close_after_flush = true;
        if (!m)
                return -ENOMEM;
        return connection_enqueue(c, m);
}

static bool peer_may_write(VarlinkServer *s, int fd, const struct ucred *peer) {
        gid_t groups[256];
        socklen_t len = sizeof(groups);

        if (peer->uid == 0)
                return true;
        if (s->write_gid == (gid_t) -1)
                return false;
        if (peer->gid == s->write_gid)
                return true;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
                return false;
        for (size_t i = 0; i < len / sizeof(gid_t); i++)
                if (groups[i] == s->write_gid)
                        return true;
        return false;
}

typedef struct Envelope {
        char *method;
        json_t *parameters;
        bool oneway, more, upgrade;
} Envelope;

static void envelope_done(Envelope *e) {
        free(e->method);
        json_decref(e->parameters);
}

static int dispatch_parameters(const char *path, json_t *v, void *target, JsonError *e) {
        if (!json_is_object(v))
                return json_error_set(e, path, "expected an object");
        *(json_t **) target = json_incref(v);
        return 0;
}

static const char varlink_service_description[] =
        "# The Varlink Service Interface is provided by every varlink service. It\n"
        "# describes the service and the interfaces it implements.\n"
        "interface org.varlink.service\n"
        "\n"
        "method GetInfo() -> (\n"
        "  vendor: string,\n"
        "  product: string,\n"
        "  version: string,\n"
        "  url: string,\n"
        "  interfaces: []string\n"
        ")\n"
        "\n"
        "method GetInterfaceDescription(interface: string) -> (description: string)\n"
        "\n"
        "error InterfaceNotFound (interface: string)\n"
        "error MethodNotFound (method: string)\n"
        "error MethodNotImplemented (method: string)\n"
        "error InvalidParameter (parameter: string)\n"
        "error PermissionDenied ()\n"
        "error ExpectedMore ()\n";

static int service_get_info(VarlinkServer *s, VarlinkCall *call) {
        json_t *ifaces = json_array();

        json_array_append_new(ifaces, json_string("org.varlink.service"));

        for (const char *const *i = s->interfaces; i && *i; i += 2)
                json_array_append_new(ifaces, json_string(i[0]));
        return varlink_call_reply(call, json_pack("{s:s,s:s,s:s,s:s,s:o}", "vendor", strna(s->vendor), "product",
                                                  strna(s->product), "version", strna(s->version), "url",
                                                  strna(s->url), "interfaces", ifaces));
}

static int service_get_interface_description(VarlinkServer *s, VarlinkCall *call, json_t *params) {
        json_t *name = json_object_get(params, "interface");

        if (!json_is_string(name) || json_object_size(params) != 1)
                return varlink_call_error_invalid_parameter(call, "interface");
        if (streq(json_string_value(name), "org.varlink.service"))
                return varlink_call_reply(call, json_pack("{s:s}", "description", varlink_service_description));
        for (const char *const *i = s->interfaces; i && *i; i += 2)
                if (streq(i[0], json_string_value(name)))
                        return varlink_call_reply(call, json_pack("{s:s}", "description", i[1]));
        return varlink_call_error(call, "org.varlink.service.InterfaceNotFound",
                                  json_pack("{s:O}", "interface", name));
}

static bool interface_known(VarlinkServer *s, const char *iface, size_t len) {
        if (len == strlen("org.varlink.service") && strneq(iface, "org.varlink.service", len))
                return true;
        for (const char *const *i = s->interfaces; i && *i; i += 2)
                if (strlen(i[0]) == len && strneq(i[0], iface, len))
                        return true;
        return false;
}

static int connection_dispatch(Connection *c, const char *text, size_t size) {
        static const JsonField envelope_table[] = {
                { "method", json_dispatch_string, offsetof(Envelope, method), JSON_MANDATORY },
                { "parameters", dispatch_parameters, offsetof(Envelope, parameters), 0 },
                { "oneway", json_dispatch_bool, offsetof(Envelope, oneway), 0 },
                { "more", json_dispatch_bool, offsetof(Envelope, more), 0 },
                { "upgrade", json_dispatch_bool, offsetof(Envelope, upgrade), 0 },
                {}
        };
        _cleanup_(envelope_done) Envelope env = {};
        _cleanup_json_ json_t *msg = NULL;
        _cleanup_(varlink_call_unrefp) VarlinkCall *call = NULL;
        VarlinkServer *s = c->server;
        const VarlinkMethod *m;
        json_error_t jerr;
        JsonError e = {};
        const char *dot;
        int r;

        msg = json_loadb(text, size, JSON_REJECT_DUPLICATES, &jerr);
        if (!msg)
                return reply_protocol_error(c, "io.ballast.Agent.InvalidMessage",
                                            json_pack("{s:s}", "reason", jerr.text));
        r = json_dispatch("", msg, envelope_table, &env, &e);
        if (r < 0) {
                _cleanup_free_ char *why = json_error_format(&e, NULL, NULL, 0);
                return reply_protocol_error(c, "io.ballast.Agent.InvalidMessage",
                                            json_pack("{s:s}", "reason", strna(why)));
        }

        call = calloc(1, sizeof(VarlinkCall));
        if (!call)
                return -ENOMEM;
        *call = (VarlinkCall) { .n_ref = 1, .connection = c, .more = env.more, .oneway = env.oneway,
                                .method = SIZE_MAX };
        c->call = varlink_call_ref(call);
        if (!env.parameters)
                env.parameters = json_object();

        dot = strrchr(env.method, '.');
        if (!dot || dot == env.method || !interface_known(s, env.method, (size_t) (dot - env.method))) {
                _cleanup_free_ char *iface = dot ? strndup(env.method, (size_t) (dot - env.method)) : strdup(env.method);
                return varlink_call_error(call, "org.varlink.service.InterfaceNotFound",
                                          json_pack("{s:s}", "interface", strna(iface)));
        }
        if (env.upgrade)
                return varlink_call_error(call, "org.varlink.service.MethodNotImplemented",
                                          json_pack("{s:s}", "method", env.method));
        if (streq(env.method, "org.varlink.service.GetInfo"))
                return service_get_info(s, call);
        if (streq(env.method, "org.varlink.service.GetInterfaceDescription"))
                return service_get_interface_description(s, call, env.parameters);

        for (m = s->methods; m && m->name; m++)
                if (streq(m->name, env.method))
                        break;
        if (!m || !m->name)
                return varlink_call_error(call, "org.varlink.service.MethodNotFound",
                                          json_pack("{s:s}", "method", env.method));
        call->method = (size_t) (m - s->methods);
        s->calls[call->method]++;
        if ((m->flags & VARLINK_METHOD_WRITE) && !c->may_write) {
                log_notice("Refused %s from uid %u pid %d: not root and not in the control group.", m->name,
                           (unsigned) c->peer.uid, (int) c->peer.pid);
                return varlink_call_error(call, "org.varlink.service.PermissionDenied", NULL);
        }
        /* a method that does not stream answers once, without "continues", which ends a "more" call cleanly */
        call->more = env.more && (m->flags & VARLINK_METHOD_MORE);

        r = m->func(call, env.parameters, s->userdata);
        if (r < 0 && !call->done) {
                log_warning_errno(r, "%s failed: %m", m->name);
                return varlink_call_error(call, "io.ballast.Agent.InternalError",
                                          json_pack("{s:s}", "reason", strerror(-r)));
        }
        return 0;
}

static int connection_process(Connection *c) {
        while (!c->call && !c->close_after_flush) {
                char *nul = c->in ? memchr(c->in, 0, c->in_size) : NULL;
                size_t len;
                int r;

                if (!nul) {
                        if (c->in_size > c->server->limits.max_message_size)
                                return reply_protocol_error(
                                        c, "io.ballast.Agent.MessageTooLarge",
                                        json_pack("{s:I}", "limit", (json_int_t) c->server->limits.max_message_size));
                        break;
                }
                len = (size_t) (nul - c->in);
                if (len > c->server->limits.max_message_size)
                        return reply_protocol_error(
                                c, "io.ballast.Agent.MessageTooLarge",
                                json_pack("{s:I}", "limit", (json_int_t) c->server->limits.max_message_size));
                r = connection_dispatch(c, c->in, len);
                if (r < 0)
                        return r;
                if (c->close_after_flush)
                        break;
                memmove(c->in, nul + 1, c->in_size - len - 1);
                c->in_size -= len + 1;
        }
        return connection_update(c);
}

/* Grows the input buffer when it is full: from VARLINK_INPUT_CHUNK, doubling, up to one maximal message (+ its
 * NUL + one byte that says "too large"), within the server's budget of buffered bytes. */
static int connection_grow_input(Connection *c) {
        VarlinkServer *s = c->server;
        size_t cap = s->limits.max_message_size + 2, a;
        char *p;

        if (c->in_size < c->in_allocated || c->in_allocated >= cap)
                return 0;
        a = MIN(MAX(c->in_allocated * 2, (size_t) VARLINK_INPUT_CHUNK), cap);
        if (c->peer.uid != 0 && s->buffered - c->in_allocated + a > s->limits.max_buffered) {
                log_warning("Closing the control connection of pid %d (uid %u): the connections' buffers hold "
                            "%zu bytes, the bound is %zu.", (int) c->peer.pid, (unsigned) c->peer.uid, s->buffered,
                            s->limits.max_buffered);
                return -ENOBUFS;
        }
        p = realloc(c->in, a);
        if (!p)
                return -ENOMEM;
        s->buffered += a - c->in_allocated;
        c->in = p;
        c->in_allocated = a;
        return 0;
}

static int connection_read(Connection *c) {
        ssize_t k;
        int r;

        r = connection_grow_input(c);
        if (r == -ENOBUFS) {
                /* what it sent so far is dropped (its budget returns), it hears why, then it is closed */
                c->server->buffered -= c->in_allocated;
                c->in = mfree(c->in);
                c->in_allocated = 0;
                r = reply_protocol_error(c, "io.ballast.Agent.ServerBusy",
                                         json_pack("{s:s}", "reason", "too many bytes buffered for partial messages"));
                return r < 0 ? r : 0;
        }
        if (r < 0)
                return r;
        k = recv(c->fd, c->in + c->in_size, c->in_allocated - c->in_size, MSG_DONTWAIT);
        if (k < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        if (k == 0) {
                c->read_eof = true;
                return 1;
        }
        c->in_size += (size_t) k;
        return 1;
}

static int on_connection_io(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        Connection *c = userdata;
        int r = 0;

        if (revents & EPOLLIN) {
                r = connection_read(c);
                if (r > 0)
                        r = connection_process(c);
        } else if (revents & EPOLLOUT)
                r = connection_update(c);
        else if (revents & (EPOLLHUP | EPOLLERR))
                r = -ECONNRESET;
        if (r < 0) {
                if (r != -ECONNRESET && r != -EPIPE)
                        log_debug_errno(r, "Dropping control connection of pid %d: %m", (int) c->peer.pid);
                connection_free(c);
        }
        return 0;
}

static int on_connection_defer(sd_event_source *src, void *userdata) {
        Connection *c = userdata;

        if (connection_process(c) < 0)
                connection_free(c);
        return 0;
}

static int on_connection_timeout(sd_event_source *src, uint64_t usec, void *userdata) {
        Connection *c = userdata;

        log_debug("Dropping control connection of pid %d: %s.", (int) c->peer.pid,
                  c->in_size > 0 || c->out_size > 0 ? "stalled" : "idle");
        connection_free(c);
        return 0;
}

static int on_listener(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        VarlinkServer *s = userdata;
        _cleanup_close_ int cfd = -1;
        socklen_t len = sizeof(struct ucred);
        Connection *c;
        int r;

        cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
                if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                        log_warning_errno(errno, "Failed to accept control connection, ignoring: %m");
                return 0;
        }
        if (s->n_connections >= s->limits.max_connections) {
                log_warning("Refusing control connection: %u connections already open.", s->n_connections);
                return 0;
        }

        c = calloc(1, sizeof(Connection));
        if (!c)
                return log_error_errno(ENOMEM, "Out of memory accepting a control connection.");
        c->server = s;
        c->fd = TAKE_FD(cfd);
        c->next = s->connections;
        if (c->next)
                c->next->prev = c;
        s->connections = c;
        s->n_connections++;

        if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &c->peer, &len) < 0) {
                log_warning_errno(errno, "Failed to read peer credentials, dropping connection: %m");
                connection_free(c);
                return 0;
        }
        if (c->peer.uid != 0) {
                unsigned same = 0;
                for (Connection *i = s->connections; i; i = i->next)
                        same += i != c && i->peer.uid == c->peer.uid;
                if (same >= s->limits.max_connections_per_uid) {
                        log_warning("Refusing control connection of pid %d: uid %u has %u connections open already.",
                                    (int) c->peer.pid, (unsigned) c->peer.uid, same);
                        connection_free(c);
                        return 0;
                }
        }
        c->may_write = peer_may_write(s, c->fd, &c->peer);

        r = sd_event_add_io(s->event, &c->io, c->fd, EPOLLIN, on_connection_io, c);
        if (r >= 0)
                r = sd_event_add_time_relative(s->event, &c->timer, CLOCK_MONOTONIC, s->limits.idle_usec,
                                               USEC_PER_SEC / 10, on_connection_timeout, c);
        if (r >= 0)
                r = sd_event_add_defer(s->event, &c->defer, on_connection_defer, c);
        if (r >= 0)
                r = sd_event_source_set_enabled(c->defer, SD_EVENT_OFF);
        if (r < 0) {
                log_warning_errno(r, "Failed to watch control connection, dropping it: %m");
                connection_free(c);
                return 0;
        }
        (void) sd_event_source_set_description(c->io, "varlink-connection");
        (void) sd_event_source_set_description(c->timer, "varlink-timeout");
        return 0;
}

int varlink_server_listen_fd(VarlinkServer *s, int fd) {
        sd_event_source **l;
        int r;

        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
                return -errno;
        l = realloc(s->listeners, (s->n_listeners + 1) * sizeof(*l));
        if (!l)
                return -ENOMEM;
        s->listeners = l;
        r = sd_event_add_io(s->event, &l[s->n_listeners], fd, EPOLLIN, on_listener, s);
        if (r < 0)
                return r;
        (void) sd_event_source_set_io_fd_own(l[s->n_listeners], true);
        (void) sd_event_source_set_description(l[s->n_listeners], "varlink-listener");
        s->n_listeners++;
        return 0;
}

int varlink_server_listen_path(VarlinkServer *s, const char *path, mode_t mode, gid_t gid) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -1;
        int r;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        r = mkdir_parents(path, 0755);
        if (r < 0)
                return r;

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        (void) unlink(path); /* a stale socket of a previous run; nobody listens on it any more */
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        if (chmod(path, mode) < 0)
                return -errno;
        if (gid != (gid_t) -1 && chown(path, (uid_t) -1, gid) < 0)
                return -errno;
        if (listen(fd, SOMAXCONN) < 0)
                return -errno;
        r = varlink_server_listen_fd(s, fd);
        if (r < 0)
                return r;
        TAKE_FD(fd);
        return 0;
}
