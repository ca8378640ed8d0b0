/* SPDX-License-Identifier: MIT */
/* src/varlink (server) and src/varlink-client, end to end over a real socket.
 *
 * A forked child runs a VarlinkServer on its own sd-event loop with a small method table and small limits
 * (4096-byte messages, 300 ms stall timeout, 60 connections) and exits on SIGTERM. The parent talks to it with
 * the blocking client and with raw sockets for what a well-behaved client would never send. Every wait is
 * bounded; an alarm kills the whole test if something still hangs. */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shared/json-util.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/time-util.h"
#include "tap.h"
#include "varlink/varlink-client.h"
#include "varlink/varlink.h"

#define MAX_MESSAGE 4096
#define STALL_MS 300
#define MAX_CONNECTIONS 60
#define WRITE_GID 4242
#define NOBODY 65534
#define TIMEOUT_USEC (2 * USEC_PER_SEC)

static char tmpdir[] = "/tmp/test-varlink.XXXXXX";
static char sock_path[sizeof(((struct sockaddr_un *) NULL)->sun_path)];
static pid_t server_pid = -1;
/* {} for calls without parameters: varlink_client_send() leaks the object it makes for NULL (see
 * test_client_leaks()), which would bury everything else valgrind has to say */
static json_t *no_params;
static long live_json_allocs;
/* valgrind makes everything slower: "prompt" then means within a wider bound */
static unsigned slow = 1;

static const char *const interfaces[] = {
        "io.ballast.Agent",
        "interface io.ballast.Agent\n\nmethod GetStatus() -> ()\n",
        NULL,
};

/* ==== the server, in the child ==== */

typedef struct TestServer {
        sd_event *event;
        VarlinkServer *server;
} TestServer;

static int method_get_status(VarlinkCall *call, json_t *params, void *userdata) {
        return varlink_call_reply(call, json_pack("{s:O}", "echo", params));
}

/* A read method that says who the server thinks the peer is (SO_PEERCRED). */
static int method_who_am_i(VarlinkCall *call, json_t *params, void *userdata) {
        const struct ucred *peer = varlink_call_peer(call);

        return varlink_call_reply(call, json_pack("{s:i}", "uid", peer ? (int) peer->uid : -1));
}

static int method_set_thing(VarlinkCall *call, json_t *params, void *userdata) {
        return varlink_call_reply(call, json_pack("{s:b}", "written", 1));
}

static int on_later(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) varlink_call_reply(userdata, json_pack("{s:b}", "later", 1));
        return 0;
}

static void later_destroy(void *userdata) {
        varlink_call_unref(userdata);
}

/* Replies after delay_ms from a timer, keeping its own reference to the call meanwhile. */
static int method_later(VarlinkCall *call, json_t *params, void *userdata) {
        TestServer *t = userdata;
        json_t *d = json_object_get(params, "delay_ms");
        uint64_t delay = json_is_integer(d) ? (uint64_t) json_integer_value(d) : 100;
        sd_event_source *s = NULL;
        int r;

        r = sd_event_add_time_relative(t->event, &s, CLOCK_MONOTONIC, delay * USEC_PER_MSEC, 0, on_later,
                                       varlink_call_ref(call));
        if (r < 0) {
                varlink_call_unref(call);
                return r;
        }
        (void) sd_event_source_set_destroy_callback(s, later_destroy);
        (void) sd_event_source_set_floating(s, true); /* the loop owns it now, and frees it at the end */
        sd_event_source_unref(s);
        return 0;
}

/* Three "continues" replies and a final one when called with "more", a single reply otherwise. */
static int method_count(VarlinkCall *call, json_t *params, void *userdata) {
        if (!varlink_call_wants_more(call))
                return varlink_call_reply(call, json_pack("{s:i,s:b}", "i", 3, "single", 1));
        for (int i = 0; i < 3; i++) {
                int r = varlink_call_notify(call, json_pack("{s:i}", "i", i));
                if (r < 0)
                        return r;
        }
        return varlink_call_reply(call, json_pack("{s:i}", "i", 3));
}

static int method_connections(VarlinkCall *call, json_t *params, void *userdata) {
        TestServer *t = userdata;

        return varlink_call_reply(call, json_pack("{s:i}", "n", (int) varlink_server_n_connections(t->server)));
}

static int method_fail(VarlinkCall *call, json_t *params, void *userdata) {
        return -ENOENT;
}

static int method_bad_param(VarlinkCall *call, json_t *params, void *userdata) {
        return varlink_call_error_invalid_parameter(call, "name");
}

/* Keeps the call, unanswered, until its peer goes away; the disconnect hook drops it. Held says how many were
 * held and how many dropped so. */
static VarlinkCall *held_call;
static unsigned n_held, n_dropped;

static void on_held_disconnect(VarlinkCall *call, void *userdata) {
        if (call == held_call && userdata == &held_call && !varlink_call_is_connected(call)) {
                n_dropped++;
                held_call = varlink_call_unref(held_call);
        }
}

static int method_hold(VarlinkCall *call, json_t *params, void *userdata) {
        if (held_call)
                return varlink_call_error(call, "io.ballast.Agent.Busy", NULL);
        held_call = varlink_call_ref(call);
        n_held++;
        varlink_call_set_disconnect(call, on_held_disconnect, &held_call);
        return 0;
}

static int method_held(VarlinkCall *call, json_t *params, void *userdata) {
        return varlink_call_reply(call, json_pack("{s:i,s:i,s:b,s:b}", "held", (int) n_held, "dropped",
                                                  (int) n_dropped, "holding", held_call != NULL, "may_write",
                                                  varlink_call_may_write(call)));
}

static const VarlinkMethod test_methods[] = {
        { "io.ballast.Agent.Hold", method_hold, 0 },
        { "io.ballast.Agent.Held", method_held, 0 },
        { "io.ballast.Agent.GetStatus", method_get_status, 0 },
        { "io.ballast.Agent.WhoAmI", method_who_am_i, 0 },
        { "io.ballast.Agent.SetThing", method_set_thing, VARLINK_METHOD_WRITE },
        { "io.ballast.Agent.Later", method_later, 0 },
        { "io.ballast.Agent.Count", method_count, VARLINK_METHOD_MORE },
        { "io.ballast.Agent.Connections", method_connections, 0 },
        { "io.ballast.Agent.Fail", method_fail, 0 },
        { "io.ballast.Agent.BadParam", method_bad_param, 0 },
        {}
};

static int run_server(int ready_fd, pid_t parent) {
        const VarlinkLimits limits = {
                .max_message_size = MAX_MESSAGE,
                .max_connections = MAX_CONNECTIONS,
                .stall_usec = STALL_MS * USEC_PER_MSEC,
                .idle_usec = 10 * USEC_PER_SEC,
        };
        TestServer t = {};
        sigset_t ss;
        int r;

        /* never outlive the test */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
                return 2;
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
                return 3;
        log_setup(LOG_TARGET_STDERR, LOG_DEBUG);

        r = sd_event_new(&t.event);
        if (r >= 0)
                r = sd_event_add_signal(t.event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = varlink_server_new(&t.server, t.event, test_methods, &t);
        if (r >= 0) {
                varlink_server_set_limits(t.server, &limits);
                varlink_server_set_write_group(t.server, WRITE_GID);
                varlink_server_set_info(t.server, "ballast", "ballast test", "0.1-test", "https://example.com/",
                                        interfaces);
                r = varlink_server_listen_path(t.server, sock_path, 0666, (gid_t) -1);
        }
        if (r < 0) {
                log_error_errno(r, "Failed to set up the test server: %m");
                return 4;
        }
        (void) !write(ready_fd, "R", 1);
        safe_close(ready_fd);

        r = sd_event_loop(t.event);
        varlink_server_free(t.server);
        sd_event_unref(t.event);
        return r < 0 ? 5 : 0;
}

/* ==== helpers for the client side ==== */

static int64_t now_ms(void) {
        return (int64_t) (now_usec(CLOCK_MONOTONIC) / USEC_PER_MSEC);
}

static void sleep_ms(unsigned ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static json_t *parse(const char *text) {
        json_error_t e;
        json_t *v = json_loads(text, 0, &e);
        if (!v) {
                diag("bad JSON in the test: %s: %s", text, e.text);
                abort();
        }
        return v;
}

/* is the reply's parameters object exactly this JSON? */
static int is_json(json_t *got, const char *want, const char *what) {
        _cleanup_json_ json_t *w = parse(want);
        _cleanup_free_ char *g = got ? json_dump_compact(got) : NULL;
        int p = ok(got && json_equal(got, w), "%s", what);

        if (!p)
                diag("got %.300s%s, want %s", strna(g), g && strlen(g) > 300 ? "..." : "", want);
        return p;
}

static VarlinkClient *client(void) {
        VarlinkClient *c = NULL;
        int r = varlink_client_connect(&c, sock_path);

        if (r < 0) {
                diag("connect(%s): %s", sock_path, strerror(-r));
                return NULL;
        }
        return c;
}

/* One call; checks the error name (NULL: success) and the parameters exactly. */
static void check_call(VarlinkClient *c, const char *method, const char *params, const char *want_error,
                       const char *want_params) {
        _cleanup_json_ json_t *p = params ? parse(params) : json_object(), *reply = NULL;
        _cleanup_free_ char *error = NULL;
        int r;

        if (!c) {
                ok(0, "%s: no connection", method);
                return;
        }
        r = varlink_client_call(c, method, p, TIMEOUT_USEC, &reply, &error);
        is_int(r, 0, "%s %s: a reply", method, strempty(params));
        if (r < 0)
                return;
        is_str(error, want_error, "  error %s", strna(want_error));
        is_json(reply, want_params, want_params);
}

/* A write method: root may call it; anyone else (not in the write group) gets PermissionDenied. */
static void check_write(VarlinkClient *c) {
        if (geteuid() == 0)
                check_call(c, "io.ballast.Agent.SetThing", NULL, NULL, "{\"written\": true}");
        else
                check_call(c, "io.ballast.Agent.SetThing", NULL, "org.varlink.service.PermissionDenied", "{}");
}

/* A raw connection: bytes in, NUL-terminated messages out. */
typedef struct Raw {
        int fd;
        char buf[64 * 1024];
        size_t size;
} Raw;

static Raw *raw_connect(void) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        Raw *r = calloc(1, sizeof(Raw));

        if (!r)
                abort();
        strcpy(sa.sun_path, sock_path);
        r->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (r->fd < 0 || connect(r->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                diag("raw connect: %s", strerror(errno));
                safe_close(r->fd);
                free(r);
                return NULL;
        }
        return r;
}

static void raw_free(Raw *r) {
        if (!r)
                return;
        safe_close(r->fd);
        free(r);
}
DEFINE_CLEANUP_FUNC(Raw *, raw_free);

static int raw_send(Raw *r, const void *data, size_t size) {
        const char *p = data;

        while (size > 0) {
                ssize_t k = send(r->fd, p, size, MSG_NOSIGNAL);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                size -= (size_t) k;
        }
        return 0;
}

/* Reads one message. -ETIMEDOUT, -ECONNRESET when the server closed (EOF or reset), -EBADMSG. */
static int raw_read(Raw *r, unsigned timeout_ms, json_t **ret) {
        int64_t deadline = now_ms() + timeout_ms;
        char *nul;

        while (!(nul = memchr(r->buf, 0, r->size))) {
                struct pollfd p = { .fd = r->fd, .events = POLLIN };
                int64_t left = deadline - now_ms();
                ssize_t k;

                if (left <= 0)
                        return -ETIMEDOUT;
                if (poll(&p, 1, (int) left) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (!p.revents)
                        continue;
                if (r->size >= sizeof(r->buf))
                        return -EMSGSIZE;
                k = recv(r->fd, r->buf + r->size, sizeof(r->buf) - r->size, MSG_DONTWAIT);
                if (k < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                continue;
                        return errno == ECONNRESET ? -ECONNRESET : -errno;
                }
                if (k == 0)
                        return -ECONNRESET;
                r->size += (size_t) k;
        }
        *ret = json_loadb(r->buf, (size_t) (nul - r->buf), 0, NULL);
        memmove(r->buf, nul + 1, r->size - (size_t) (nul - r->buf) - 1);
        r->size -= (size_t) (nul - r->buf) + 1;
        return *ret ? 0 : -EBADMSG;
}

/* Sends bytes on a fresh connection and expects one error reply, then the connection closed. */
static void check_protocol_error(const char *what, const void *data, size_t size, const char *want_error,
                                 const char *want_params) {
        _cleanup_(raw_freep) Raw *r = raw_connect();
        _cleanup_json_ json_t *m = NULL, *m2 = NULL;
        int k;

        if (!r) {
                ok(0, "%s: no connection", what);
                return;
        }
        is_int(raw_send(r, data, size), 0, "%s: sent %zu bytes", what, size);
        k = raw_read(r, 2000, &m);
        is_int(k, 0, "  a reply");
        is_str(json_string_value(json_object_get(m, "error")), want_error, "  error %s", want_error);
        if (want_params)
                is_json(json_object_get(m, "parameters"), want_params, want_params);
        else
                ok(json_is_string(json_object_get(json_object_get(m, "parameters"), "reason")),
                   "  parameters carry a \"reason\" string");
        is_int(raw_read(r, 500 * slow, &m2), -ECONNRESET, "  then the server closes the connection");
}

/* A call message of exactly size bytes (without the NUL): GetStatus with a padding string. */
static const char pad_head[] = "{\"method\":\"io.ballast.Agent.GetStatus\",\"parameters\":{\"pad\":\"";
static const char pad_tail[] = "\"}}";
#define PAD_LENGTH(size) ((size) - (sizeof(pad_head) - 1) - (sizeof(pad_tail) - 1))

static char *message_of_size(size_t size) {
        const char *head = pad_head, *tail = pad_tail;
        size_t pad = PAD_LENGTH(size);
        char *m = malloc(size + 1);

        if (!m)
                abort();
        memcpy(m, head, strlen(head));
        memset(m + strlen(head), 'x', pad);
        memcpy(m + strlen(head) + pad, tail, strlen(tail));
        m[size] = 0; /* the message's own NUL, sent with it */
        return m;
}

/* Polls the server until it has exactly n connections (its own count), for up to a second. */
static int wait_connections(VarlinkClient *c, int n) {
        int got = -1;

        for (int64_t end = now_ms() + 1000 * slow; now_ms() < end; sleep_ms(10)) {
                _cleanup_json_ json_t *reply = NULL;
                _cleanup_free_ char *error = NULL;

                if (varlink_client_call(c, "io.ballast.Agent.Connections", no_params, TIMEOUT_USEC, &reply, &error) < 0)
                        return -1;
                got = (int) json_integer_value(json_object_get(reply, "n"));
                if (got == n)
                        break;
        }
        return got;
}

/* ==== the tests ==== */

/* Held's answer, or NULL. */
static json_t *held_state(VarlinkClient *c) {
        json_t *reply = NULL;
        _cleanup_free_ char *error = NULL;

        if (varlink_client_call(c, "io.ballast.Agent.Held", no_params, TIMEOUT_USEC, &reply, &error) < 0 || error) {
                json_decref(reply);
                return NULL;
        }
        return reply;
}

static int held_int(json_t *v, const char *key) {
        return (int) json_integer_value(json_object_get(v, key));
}

/* A call kept waiting ends with its connection: the server is told (the disconnect hook), once, and drops it. */
static void test_disconnect_hook(void) {
        _cleanup_(varlink_client_freep) VarlinkClient *c = client();
        _cleanup_(raw_freep) Raw *r = raw_connect();
        static const char hold[] = "{\"method\":\"io.ballast.Agent.Hold\",\"parameters\":{}}";
        _cleanup_json_ json_t *st = NULL;
        int64_t t0;

        diag("a kept call ends with its connection");
        ok(c && r && raw_send(r, hold, sizeof(hold)) == 0, "a call the server keeps without answering");
        for (t0 = now_ms(); c && now_ms() - t0 < 2000 * (int64_t) slow; sleep_ms(10)) {
                json_decref(st);
                st = held_state(c);
                if (!st || held_int(st, "held") == 1)
                        break;
        }
        ok(st && held_int(st, "held") == 1 && held_int(st, "dropped") == 0 &&
           json_is_true(json_object_get(st, "holding")), "  is held while its client is connected");
        ok(st && json_is_true(json_object_get(st, "may_write")) == (geteuid() == 0),
           "  varlink_call_may_write() says whether the caller may write");
        raw_free(TAKE_PTR(r));
        for (t0 = now_ms(); c && now_ms() - t0 < 2000 * (int64_t) slow; sleep_ms(10)) {
                json_decref(st);
                st = held_state(c);
                if (!st || held_int(st, "dropped") > 0)
                        break;
        }
        ok(st && held_int(st, "dropped") == 1 && json_is_false(json_object_get(st, "holding")),
           "  its client closed: the hook ran once and the call was dropped (%lld ms)", (long long) (now_ms() - t0));
}

static void test_service_interface(void) {
        _cleanup_(varlink_client_freep) VarlinkClient *c = client();
        _cleanup_json_ json_t *reply = NULL;
        _cleanup_free_ char *error = NULL;

        if (!c) {
                ok(0, "connect");
                return;
        }
        is_int(varlink_client_call(c, "org.varlink.service.GetInfo", no_params, TIMEOUT_USEC, &reply, &error), 0,
               "GetInfo");
        ok(!error, "  succeeds");
        is_str(json_string_value(json_object_get(reply, "vendor")), "ballast", "  vendor");
        is_str(json_string_value(json_object_get(reply, "product")), "ballast test", "  product");
        is_str(json_string_value(json_object_get(reply, "version")), "0.1-test", "  version");
        is_str(json_string_value(json_object_get(reply, "url")), "https://example.com/", "  url");
        json_t *ifaces = json_object_get(reply, "interfaces");
        bool found = false;
        for (size_t i = 0; i < json_array_size(ifaces); i++)
                found = found || streq(strempty(json_string_value(json_array_get(ifaces, i))), "io.ballast.Agent");
        ok(found, "  interfaces list io.ballast.Agent");

        check_call(c, "org.varlink.service.GetInterfaceDescription", "{\"interface\": \"io.ballast.Agent\"}", NULL,
                   "{\"description\": \"interface io.ballast.Agent\\n\\nmethod GetStatus() -> ()\\n\"}");
        check_call(c, "org.varlink.service.GetInterfaceDescription", "{\"interface\": \"io.nope\"}",
                   "org.varlink.service.InterfaceNotFound", "{\"interface\": \"io.nope\"}");
        check_call(c, "org.varlink.service.GetInterfaceDescription", "{}", "org.varlink.service.InvalidParameter",
                   "{\"parameter\": \"interface\"}");
        check_call(c, "org.varlink.service.GetInterfaceDescription", "{\"interface\": 1}",
                   "org.varlink.service.InvalidParameter", "{\"parameter\": \"interface\"}");
        check_call(c, "org.varlink.service.Nope", NULL, "org.varlink.service.MethodNotFound",
                   "{\"method\": \"org.varlink.service.Nope\"}");
}

static void test_errors(void) {
        _cleanup_(varlink_client_freep) VarlinkClient *c = client();

        check_call(c, "io.ballast.Agent.GetStatus", "{\"a\": [1, \"b\"]}", NULL,
                   "{\"echo\": {\"a\": [1, \"b\"]}}");
        check_call(c, "io.ballast.Agent.Nope", NULL, "org.varlink.service.MethodNotFound",
                   "{\"method\": \"io.ballast.Agent.Nope\"}");
        check_call(c, "io.nope.Thing.Do", NULL, "org.varlink.service.InterfaceNotFound",
                   "{\"interface\": \"io.nope.Thing\"}");
        check_call(c, "NoDots", NULL, "org.varlink.service.InterfaceNotFound", "{\"interface\": \"NoDots\"}");
        /* a prefix of a known interface is not that interface */
        check_call(c, "io.ballast.GetStatus", NULL, "org.varlink.service.InterfaceNotFound",
                   "{\"interface\": \"io.ballast\"}");
        check_call(c, "io.ballast.Agent.Fail", NULL, "io.ballast.Agent.InternalError",
                   "{\"reason\": \"No such file or directory\"}");
        check_call(c, "io.ballast.Agent.BadParam", NULL, "org.varlink.service.InvalidParameter",
                   "{\"parameter\": \"name\"}");
        /* errors of a call end the call, not the connection */
        check_call(c, "io.ballast.Agent.GetStatus", NULL, NULL, "{\"echo\": {}}");
        check_write(c);

        static const char upgrade[] = "{\"method\":\"io.ballast.Agent.GetStatus\",\"upgrade\":true}";
        _cleanup_(raw_freep) Raw *r = raw_connect();
        _cleanup_json_ json_t *m = NULL;
        ok(r && raw_send(r, upgrade, sizeof(upgrade)) == 0 && raw_read(r, 2000, &m) == 0, "upgrade call answered");
        is_str(json_string_value(json_object_get(m, "error")), "org.varlink.service.MethodNotImplemented",
               "  with MethodNotImplemented");
}

static void test_protocol_errors(void) {
        static const struct {
                const char *what;
                const char *message; /* sent with its NUL */
                const char *reason;  /* NULL: any reason string */
        } cases[] = {
                { "invalid JSON", "this is not json", NULL },
                { "truncated JSON", "{\"method\":", NULL },
                { "trailing bytes after the JSON", "{\"method\":\"io.ballast.Agent.GetStatus\"} x", NULL },
                { "invalid UTF-8", "{\"method\":\"io.ballast.Agent.GetStatus\",\"parameters\":{\"a\":\"\xff\"}}", NULL },
                { "duplicate key", "{\"method\":\"a.b\",\"method\":\"a.c\"}", NULL },
                { "an array", "[1]", "{\"reason\": \"expected an object, got an array\"}" },
                { "no method", "{\"parameters\":{}}", "{\"reason\": \"method: is required\"}" },
                { "method not a string", "{\"method\":1}", "{\"reason\": \"method: expected a string, got an integer\"}" },
                { "unknown envelope key", "{\"method\":\"io.ballast.Agent.GetStatus\",\"foo\":1}",
                  "{\"reason\": \"foo: unknown key\"}" },
                { "parameters not an object", "{\"method\":\"io.ballast.Agent.GetStatus\",\"parameters\":[]}",
                  "{\"reason\": \"parameters: expected an object\"}" },
                { "more not a boolean", "{\"method\":\"io.ballast.Agent.Count\",\"more\":1}",
                  "{\"reason\": \"more: expected a boolean, got an integer\"}" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                check_protocol_error(cases[i].what, cases[i].message, strlen(cases[i].message) + 1,
                                     "io.ballast.Agent.InvalidMessage", cases[i].reason);
}

static void test_message_size(void) {
        _cleanup_free_ char *at = message_of_size(MAX_MESSAGE), *over = message_of_size(MAX_MESSAGE + 1),
                            *big = message_of_size(5000);

        /* exactly the limit: fine */
        {
                _cleanup_(raw_freep) Raw *r = raw_connect();
                _cleanup_json_ json_t *m = NULL;

                ok(r && raw_send(r, at, MAX_MESSAGE + 1) == 0, "sent a message of exactly %u bytes", MAX_MESSAGE);
                ok(r && raw_read(r, 2000, &m) == 0, "  answered");
                ok(!json_object_get(m, "error"), "  without an error");
                is_int(strlen(strempty(json_string_value(
                               json_object_get(json_object_get(json_object_get(m, "parameters"), "echo"), "pad")))),
                       PAD_LENGTH(MAX_MESSAGE), "  and its parameters arrived whole");
        }

        check_protocol_error("a 5000-byte message", big, 5001, "io.ballast.Agent.MessageTooLarge", "{\"limit\": 4096}");
        check_protocol_error("a message larger than the limit without a NUL yet", big, 4500,
                             "io.ballast.Agent.MessageTooLarge", "{\"limit\": 4096}");

        /* One byte over the limit is over the limit, however the bytes arrive. */
        {
                _cleanup_(raw_freep) Raw *r = raw_connect();
                _cleanup_json_ json_t *m = NULL;

                ok(r && raw_send(r, over, MAX_MESSAGE + 1) == 0, "sent %u bytes without a NUL", MAX_MESSAGE + 1);
                sleep_ms(50);
                if (r)
                        (void) raw_send(r, "", 1); /* the NUL; the server may rightly have closed already */
                ok(r && raw_read(r, 2000, &m) == 0, "  answered");
                is_str(json_string_value(json_object_get(m, "error")), "io.ballast.Agent.MessageTooLarge",
                       "  a %u-byte message in two writes is MessageTooLarge", MAX_MESSAGE + 1);
        }
        check_protocol_error("a message one byte over the limit, with its NUL, in one write", over, MAX_MESSAGE + 2,
                             "io.ballast.Agent.MessageTooLarge", "{\"limit\": 4096}");
}

/* A client that starts a message and stops, and one that trickles a byte now and then, are both dropped
 * after about stall_usec; a client connected at the same time is answered promptly throughout. */
static void test_stall(void) {
        static const char partial[] = "{\"method\":\"io.ballast.Agent.GetStatus\",";
        _cleanup_(varlink_client_freep) VarlinkClient *b = client();
        _cleanup_(raw_freep) Raw *a = raw_connect(), *s = raw_connect();
        int64_t t0, a_closed = -1, s_closed = -1, next_call, next_trickle, worst = 0;
        unsigned calls = 0, failures = 0, a_bytes = 0;

        if (!a || !b || !s) {
                ok(0, "connect three clients");
                return;
        }
        check_call(b, "io.ballast.Agent.GetStatus", NULL, NULL, "{\"echo\": {}}");

        t0 = now_ms();
        ok(raw_send(a, partial, strlen(partial)) == 0 && raw_send(s, "{", 1) == 0, "two clients start a message");
        next_call = next_trickle = t0;
        while (now_ms() - t0 < 700) {
                int64_t now = now_ms();
                struct pollfd p[2] = { { .fd = a_closed < 0 ? a->fd : -1, .events = POLLIN },
                                       { .fd = s_closed < 0 ? s->fd : -1, .events = POLLIN } };

                if (now >= next_call) {
                        _cleanup_json_ json_t *reply = NULL;
                        _cleanup_free_ char *error = NULL;
                        int64_t start = now_ms();
                        json_t *n = json_pack("{s:i}", "n", (int) calls);

                        if (varlink_client_call(b, "io.ballast.Agent.GetStatus", n, TIMEOUT_USEC, &reply, &error) < 0 ||
                            error ||
                            json_integer_value(json_object_get(json_object_get(reply, "echo"), "n")) != (int) calls)
                                failures++;
                        json_decref(n);
                        worst = MAX(worst, now_ms() - start);
                        calls++;
                        next_call += 50;
                }
                if (now >= next_trickle + 100 && s_closed < 0) {
                        next_trickle = now;
                        if (send(s->fd, " ", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN)
                                s_closed = now - t0;
                }
                if (poll(p, 2, 10) > 0) {
                        char buf[256];
                        ssize_t k;

                        if (p[0].revents) {
                                k = recv(a->fd, buf, sizeof(buf), MSG_DONTWAIT);
                                if (k > 0)
                                        a_bytes += (unsigned) k;
                                else if (k == 0 || errno != EAGAIN)
                                        a_closed = now_ms() - t0;
                        }
                        if (p[1].revents) {
                                k = recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT);
                                if (k == 0 || (k < 0 && errno != EAGAIN))
                                        s_closed = now_ms() - t0;
                        }
                }
        }

        ok(a_closed >= STALL_MS - 10 && a_closed <= (STALL_MS + 300) * (int64_t) slow,
           "the stalled client is dropped after ~%u ms (after %lld ms)", STALL_MS, (long long) a_closed);
        is_int(a_bytes, 0, "  without a reply");
        ok(s_closed >= 0 && s_closed <= (STALL_MS + 300) * (int64_t) slow,
           "a client trickling a byte every 100 ms is dropped too: a started message must be complete within "
           "stall_usec (after %lld ms, -1 = never in 700 ms)",
           (long long) s_closed);
        ok(calls >= 10 && failures == 0, "the other client got all of its %u calls answered", calls);
        ok(worst < 100 * (int64_t) slow, "  each within 100 ms (worst %lld ms)", (long long) worst);
}

static void test_pipelining(void) {
        static const char two[] = "{\"method\":\"io.ballast.Agent.GetStatus\",\"parameters\":{\"n\":1}}\0"
                                  "{\"method\":\"io.ballast.Agent.GetStatus\",\"parameters\":{\"n\":2}}";
        static const char oneway[] = "{\"method\":\"io.ballast.Agent.GetStatus\",\"parameters\":{\"n\":1},\"oneway\":true}\0"
                                     "{\"method\":\"io.ballast.Agent.Nope\",\"oneway\":true}\0"
                                     "{\"method\":\"io.ballast.Agent.GetStatus\",\"parameters\":{\"n\":3}}";
        _cleanup_(raw_freep) Raw *r = raw_connect(), *o = raw_connect();
        _cleanup_json_ json_t *m1 = NULL, *m2 = NULL, *m3 = NULL, *extra = NULL;

        if (!r || !o) {
                ok(0, "connect");
                return;
        }
        is_int(raw_send(r, two, sizeof(two)), 0, "two calls in one write");
        is_int(raw_read(r, 2000, &m1), 0, "  first reply");
        is_json(json_object_get(m1, "parameters"), "{\"echo\": {\"n\": 1}}", "  answers the first call");
        is_int(raw_read(r, 2000, &m2), 0, "  second reply");
        is_json(json_object_get(m2, "parameters"), "{\"echo\": {\"n\": 2}}", "  answers the second call");

        is_int(raw_send(o, oneway, sizeof(oneway)), 0, "two oneway calls (one to a missing method), then a call");
        is_int(raw_read(o, 2000, &m3), 0, "  one reply");
        is_json(json_object_get(m3, "parameters"), "{\"echo\": {\"n\": 3}}",
                "  it answers the normal call: oneway calls get no reply, not even an error");
        is_int(raw_read(o, 150, &extra), -ETIMEDOUT, "  and nothing else follows");
}

static void test_deferred(void) {
        _cleanup_(varlink_client_freep) VarlinkClient *c = client(), *other = client(), *quitter = client();
        _cleanup_json_ json_t *reply = NULL, *reply2 = NULL, *params = parse("{\"delay_ms\": 150}");
        _cleanup_free_ char *error = NULL, *error2 = NULL;
        int64_t t0, t_first, t_second;

        if (!c || !other || !quitter) {
                ok(0, "connect");
                return;
        }
        t0 = now_ms();
        is_int(varlink_client_call(c, "io.ballast.Agent.Later", no_params, TIMEOUT_USEC, &reply, &error), 0,
               "a method that replies from a timer");
        ok(!error, "  succeeds");
        is_json(reply, "{\"later\": true}", "  with its reply");
        ok(now_ms() - t0 >= 95, "  after its 100 ms (%lld ms)", (long long) (now_ms() - t0));
        json_decref(TAKE_PTR(reply));

        /* A second call on the same connection waits for the first; other connections do not. */
        t0 = now_ms();
        is_int(varlink_client_send(c, "io.ballast.Agent.Later", params, false), 0, "Later(150 ms) sent");
        is_int(varlink_client_send(c, "io.ballast.Agent.GetStatus", no_params, false), 0, "  and GetStatus right behind it");
        check_call(other, "io.ballast.Agent.GetStatus", "{\"other\": true}", NULL,
                   "{\"echo\": {\"other\": true}}");
        ok(now_ms() - t0 < 100 * (int64_t) slow, "  another connection is answered meanwhile (%lld ms)",
           (long long) (now_ms() - t0));
        is_int(varlink_client_read(c, TIMEOUT_USEC, &reply, &error, NULL), 0, "  first reply");
        t_first = now_ms() - t0;
        is_json(reply, "{\"later\": true}", "  is Later's");
        is_int(varlink_client_read(c, TIMEOUT_USEC, &reply2, &error2, NULL), 0, "  second reply");
        t_second = now_ms() - t0;
        is_json(reply2, "{\"echo\": {}}", "  is GetStatus's");
        ok(t_first >= 145 && t_second >= t_first, "  GetStatus waited for Later (%lld ms, %lld ms)",
           (long long) t_first, (long long) t_second);

        /* A peer that leaves while its call is pending: the late reply goes nowhere, the server lives on. */
        _cleanup_json_ json_t *short_delay = parse("{\"delay_ms\": 50}");
        is_int(varlink_client_send(quitter, "io.ballast.Agent.Later", short_delay, false), 0, "a client sends Later");
        check_call(other, "io.ballast.Agent.GetStatus", NULL, NULL, "{\"echo\": {}}");
        quitter = varlink_client_free(quitter);
        sleep_ms(80);
        check_call(other, "io.ballast.Agent.GetStatus", NULL, NULL, "{\"echo\": {}}");
        diag("the server still answers after a reply to a departed client");
}

static void test_more(void) {
        _cleanup_(varlink_client_freep) VarlinkClient *c = client();
        int i;

        if (!c) {
                ok(0, "connect");
                return;
        }
        is_int(varlink_client_send(c, "io.ballast.Agent.Count", no_params, true), 0, "a \"more\" call");
        for (i = 0; i < 5; i++) {
                _cleanup_json_ json_t *reply = NULL;
                _cleanup_free_ char *error = NULL;
                bool continues = false;
                _cleanup_free_ char *want = NULL;

                if (varlink_client_read(c, TIMEOUT_USEC, &reply, &error, &continues) < 0) {
                        ok(0, "  reply %d", i);
                        break;
                }
                if (asprintf(&want, "{\"i\": %d}", i) < 0)
                        abort();
                is_json(reply, want, want);
                ok(!error, "  no error");
                ok(continues == (i < 3), "  continues is %s", i < 3 ? "true" : "false");
                if (!continues)
                        break;
        }
        is_int(i, 3, "three \"continues\" replies, then the final one");

        {
                _cleanup_json_ json_t *reply = NULL;
                _cleanup_free_ char *error = NULL;
                bool continues = true;

                is_int(varlink_client_send(c, "io.ballast.Agent.Count", no_params, false), 0,
                       "the same method called without \"more\"");
                is_int(varlink_client_read(c, TIMEOUT_USEC, &reply, &error, &continues), 0, "  a reply");
                is_json(reply, "{\"i\": 3, \"single\": true}", "  one reply");
                ok(!continues, "  without continues");
        }
        {
                _cleanup_json_ json_t *reply = NULL;
                _cleanup_free_ char *error = NULL;
                bool continues = true;

                is_int(varlink_client_send(c, "io.ballast.Agent.GetStatus", no_params, true), 0,
                       "a method that does not stream, called with \"more\"");
                is_int(varlink_client_read(c, TIMEOUT_USEC, &reply, &error, &continues), 0, "  a reply");
                ok(!error && !continues, "  a single final reply");
        }
        check_call(c, "io.ballast.Agent.GetStatus", NULL, NULL, "{\"echo\": {}}");
}

static void test_many_connections(void) {
        VarlinkClient *clients[MAX_CONNECTIONS + 1] = {};
        unsigned answered = 0, extra_ok = 0;
        int n, r;

        for (unsigned i = 0; i < 50; i++)
                clients[i] = client();
        for (unsigned i = 0; i < 50; i++) {
                json_t *p = json_pack("{s:i}", "i", (int) i);
                if (clients[i])
                        (void) varlink_client_send(clients[i], "io.ballast.Agent.GetStatus", p, false);
                json_decref(p);
        }
        for (unsigned i = 0; i < 50; i++) {
                _cleanup_json_ json_t *reply = NULL;
                _cleanup_free_ char *error = NULL;

                if (clients[i] && varlink_client_read(clients[i], TIMEOUT_USEC, &reply, &error, NULL) == 0 && !error &&
                    json_integer_value(json_object_get(json_object_get(reply, "echo"), "i")) == (json_int_t) i)
                        answered++;
        }
        is_int(answered, 50, "50 concurrent connections, each answered with its own reply");

        n = clients[0] ? wait_connections(clients[0], 50) : -1;
        is_int(n, 50, "the server counts exactly those 50 connections");

        /* the limit: up to max_connections are served, one more is closed at once */
        for (unsigned i = 50; i < MAX_CONNECTIONS; i++) {
                clients[i] = client();
                if (clients[i]) {
                        _cleanup_json_ json_t *reply = NULL;
                        _cleanup_free_ char *error = NULL;
                        if (varlink_client_call(clients[i], "io.ballast.Agent.GetStatus", no_params, TIMEOUT_USEC, &reply,
                                                &error) == 0 &&
                            !error)
                                extra_ok++;
                }
        }
        is_int(extra_ok, MAX_CONNECTIONS - 50, "connections up to max_connections (%u) are served", MAX_CONNECTIONS);
        clients[MAX_CONNECTIONS] = client();
        if (clients[MAX_CONNECTIONS]) {
                _cleanup_json_ json_t *reply = NULL;
                _cleanup_free_ char *error = NULL;

                r = varlink_client_call(clients[MAX_CONNECTIONS], "io.ballast.Agent.GetStatus", no_params, TIMEOUT_USEC,
                                        &reply, &error);
                ok(r == -ECONNRESET || r == -EPIPE, "connection %u is closed without an answer (%s)",
                   MAX_CONNECTIONS + 1, strerror(-r));
        } else
                ok(0, "connection %u", MAX_CONNECTIONS + 1);

        for (unsigned i = 1; i <= MAX_CONNECTIONS; i++)
                clients[i] = varlink_client_free(clients[i]);
        n = clients[0] ? wait_connections(clients[0], 1) : -1;
        is_int(n, 1, "closed connections are forgotten");
        clients[0] = varlink_client_free(clients[0]);
}

/* A client that writes calls and never reads must not make the server buffer replies without bound: the
 * server must stop reading (or drop the client) once replies back up. */
static long server_rss_kb(void) {
        _cleanup_fclose_ FILE *f = NULL;
        char path[64], line[256];
        long kb = -1;

        snprintf(path, sizeof(path), "/proc/%d/status", (int) server_pid);
        f = fopen(path, "re");
        while (f && fgets(line, sizeof(line), f))
                if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
                        break;
        return kb;
}

static void test_reader_that_never_reads(void) {
        _cleanup_free_ char *m = message_of_size(3000);
        _cleanup_(raw_freep) Raw *r = raw_connect();
        size_t sent = 0, limit = 8U << 20;
        long rss_before = server_rss_kb();
        int64_t t0 = now_ms();
        const char *why = "time";

        if (!r) {
                ok(0, "connect");
                return;
        }
        (void) fcntl(r->fd, F_SETFL, fcntl(r->fd, F_GETFL) | O_NONBLOCK);
        while (sent < limit && now_ms() - t0 < 1500) {
                struct pollfd p = { .fd = r->fd, .events = POLLOUT };
                ssize_t k;

                if (poll(&p, 1, 200) == 0) {
                        why = "the server stopped reading";
                        break;
                }
                k = send(r->fd, m, 3001, MSG_NOSIGNAL);
                if (k < 0 && errno == EAGAIN)
                        continue;
                if (k < 0) {
                        why = "the server closed the connection";
                        break;
                }
                /* keep message boundaries: finish a partial message before the next */
                if ((size_t) k < 3001) {
                        size_t done = (size_t) k;
                        while (done < 3001) {
                                struct pollfd q = { .fd = r->fd, .events = POLLOUT };
                                if (poll(&q, 1, 200) <= 0)
                                        break;
                                k = send(r->fd, m + done, 3001 - done, MSG_NOSIGNAL);
                                if (k < 0 && errno != EAGAIN)
                                        break;
                                if (k > 0)
                                        done += (size_t) k;
                        }
                        sent += done;
                        if (done < 3001) {
                                why = "the server stopped reading";
                                break;
                        }
                        continue;
                }
                sent += 3001;
        }
        diag("a client that never reads got %zu KiB of calls in (%s, %lld ms); server RSS %ld -> %ld KiB",
             sent >> 10, why, (long long) (now_ms() - t0), rss_before, server_rss_kb());
        ok(sent < (4U << 20), "a client that never reads cannot make the server queue replies without bound "
                              "(%zu KiB accepted, want < 4096 KiB)",
           sent >> 10);
}

/* What a reader that is neither root nor in the write group may do. Runs in a forked process that drops to
 * uid 65534; the results come back through a pipe, one line per call: the error name or "ok". */
static void test_permissions(void) {
        static const struct {
                const char *what;
                gid_t gid;
                gid_t supplementary; /* 0: none */
                const char *write_result;
        } cases[] = {
                { "uid 65534, no group", NOBODY, 0, "org.varlink.service.PermissionDenied" },
                { "uid 65534, primary group = write group", WRITE_GID, 0, "ok" },
                { "uid 65534, supplementary group = write group", NOBODY, WRITE_GID, "ok" },
        };

        {
                _cleanup_(varlink_client_freep) VarlinkClient *c = client();
                _cleanup_free_ char *uid = NULL;

                if (asprintf(&uid, "{\"uid\": %u}", (unsigned) geteuid()) < 0)
                        abort();
                check_call(c, "io.ballast.Agent.WhoAmI", NULL, NULL, uid);
                check_write(c);
        }
        if (geteuid() != 0) {
                ok(0, "uid switch: needs root (run make check as root)");
                return;
        }
        if (chmod(tmpdir, 0755) < 0) {
                ok(0, "chmod %s: %s", tmpdir, strerror(errno));
                return;
        }

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int pipefd[2];
                char buf[512] = {};
                size_t got = 0;
                int status = -1;
                pid_t pid;

                if (pipe2(pipefd, O_CLOEXEC) < 0)
                        abort();
                fflush(stdout);
                pid = fork();
                if (pid < 0)
                        abort();
                if (pid == 0) {
                        VarlinkClient *c = NULL;
                        FILE *out;
                        gid_t groups[1] = { cases[i].supplementary };

                        safe_close(pipefd[0]);
                        out = fdopen(pipefd[1], "w");
                        if (!out)
                                _exit(1);
                        if (setgroups(cases[i].supplementary ? 1 : 0, groups) < 0 || setgid(cases[i].gid) < 0 ||
                            setuid(NOBODY) < 0) {
                                fprintf(out, "SKIP cannot switch to uid %d: %s\n", NOBODY, strerror(errno));
                                fclose(out);
                                _exit(0);
                        }
                        if (varlink_client_connect(&c, sock_path) < 0) {
                                fprintf(out, "connect failed: %s\n", strerror(errno));
                                fclose(out);
                                _exit(0);
                        }
                        static const char *const methods[] = { "io.ballast.Agent.SetThing", "io.ballast.Agent.WhoAmI" };
                        for (size_t j = 0; j < ELEMENTSOF(methods); j++) {
                                json_t *reply = NULL;
                                char *error = NULL;
                                int r = varlink_client_call(c, methods[j], no_params, TIMEOUT_USEC, &reply, &error);

                                if (r < 0)
                                        fprintf(out, "failed: %s\n", strerror(-r));
                                else if (error)
                                        fprintf(out, "%s\n", error);
                                else if (j == 1)
                                        fprintf(out, "ok uid %lld\n",
                                                (long long) json_integer_value(json_object_get(reply, "uid")));
                                else
                                        fprintf(out, "ok\n");
                                json_decref(reply);
                                free(error);
                        }
                        varlink_client_free(c);
                        fclose(out);
                        _exit(0);
                }
                safe_close(pipefd[1]);
                for (int64_t end = now_ms() + 3000 * slow; now_ms() < end && got < sizeof(buf) - 1;) {
                        struct pollfd p = { .fd = pipefd[0], .events = POLLIN };
                        ssize_t k;

                        if (poll(&p, 1, 100) <= 0)
                                continue;
                        k = read(pipefd[0], buf + got, sizeof(buf) - 1 - got);
                        if (k <= 0)
                                break;
                        got += (size_t) k;
                }
                safe_close(pipefd[0]);
                for (int64_t end = now_ms() + 2000; waitpid(pid, &status, WNOHANG) == 0; sleep_ms(10))
                        if (now_ms() > end) {
                                kill(pid, SIGKILL);
                                (void) waitpid(pid, &status, 0);
                        }

                if (strneq(buf, "SKIP", 4)) {
                        buf[strcspn(buf, "\n")] = 0;
                        ok(0, "%s: %s", cases[i].what, buf + 5);
                        continue;
                }
                _cleanup_free_ char *want = NULL;
                if (asprintf(&want, "%s\nok uid %d\n", cases[i].write_result, NOBODY) < 0)
                        abort();
                is_str(buf, want, "%s: SetThing gives %s, WhoAmI says uid %d", cases[i].what, cases[i].write_result, NOBODY);
        }
}

/* jansson's allocations, counted: what a call leaves behind is a leak even without valgrind */
static void *counting_malloc(size_t n) {
        void *p = malloc(n);
        if (p)
                live_json_allocs++;
        return p;
}

static void counting_free(void *p) {
        if (p)
                live_json_allocs--;
        free(p);
}

/* json_dumps() strings come from jansson's allocator but are rightly released with free(), which the counter
 * does not see: so compare a call with NULL parameters to the same call with {}, which must leave the same. */
static void test_client_leaks(void) {
        _cleanup_(varlink_client_freep) VarlinkClient *c = client();
        long delta[2] = {};

        if (!c) {
                ok(0, "connect");
                return;
        }
        for (int i = 0; i < 2; i++) {
                json_t *reply = NULL;
                char *error = NULL;
                long before = live_json_allocs;
                int r = varlink_client_call(c, "io.ballast.Agent.GetStatus", i == 0 ? no_params : NULL, TIMEOUT_USEC,
                                            &reply, &error);

                json_decref(reply);
                free(error);
                delta[i] = live_json_allocs - before;
                is_int(r, 0, "GetStatus with %s parameters", i == 0 ? "{}" : "NULL");
        }
        is_int(delta[1] - delta[0], 0,
               "varlink_client_call() with NULL parameters leaves no more JSON behind than with {} (a leak per call)");
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path) < 0 ? -1 : 0;
}

static void stop_server(void) {
        int status = -1;

        if (server_pid <= 0)
                return;
        (void) kill(server_pid, SIGTERM);
        for (int64_t end = now_ms() + 5000 * slow; waitpid(server_pid, &status, WNOHANG) == 0; sleep_ms(10))
                if (now_ms() > end) {
                        diag("the server did not exit on SIGTERM, killing it");
                        (void) kill(server_pid, SIGKILL);
                        (void) waitpid(server_pid, &status, 0);
                        break;
                }
        ok(WIFEXITED(status), "the server exits on SIGTERM");
        is_int(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0, "  with status 0 (and, under valgrind, no errors)");
        server_pid = -1;
}

int main(void) {
        const char *preload = getenv("LD_PRELOAD");
        int ready[2];
        char c = 0;

        if (preload && strstr(preload, "vgpreload"))
                slow = 10;
        json_set_alloc_funcs(counting_malloc, counting_free);
        no_params = json_object();
        alarm(30 * slow);
        signal(SIGPIPE, SIG_IGN);

        if (!mkdtemp(tmpdir)) {
                printf("Bail out! mkdtemp(): %s\n", strerror(errno));
                return 1;
        }
        snprintf(sock_path, sizeof(sock_path), "%s/ballastd.sock", tmpdir);

        if (pipe2(ready, O_CLOEXEC) < 0)
                abort();
        fflush(stdout);
        pid_t parent = getpid();
        server_pid = fork();
        if (server_pid < 0)
                abort();
        if (server_pid == 0) {
                safe_close(ready[0]);
                _exit(run_server(ready[1], parent));
        }
        safe_close(ready[1]);
        struct pollfd p = { .fd = ready[0], .events = POLLIN };
        if (poll(&p, 1, 5000 * (int) slow) <= 0 || read(ready[0], &c, 1) != 1 || c != 'R') {
                printf("Bail out! the test server did not start\n");
                stop_server();
                return 1;
        }
        safe_close(ready[0]);
        diag("server pid %d on %s", (int) server_pid, sock_path);

        test_service_interface();
        test_errors();
        test_protocol_errors();
        test_message_size();
        test_pipelining();
        test_deferred();
        test_more();
        test_stall();
        test_many_connections();
        test_permissions();
        test_reader_that_never_reads();
        test_client_leaks();
        test_disconnect_hook();

        stop_server();
        json_decref(no_params);
        ok(nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0, "removed %s", tmpdir);
        return tap_done();
}
