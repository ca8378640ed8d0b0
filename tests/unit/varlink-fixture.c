/* SPDX-License-Identifier: MIT */
/* The varlink tests' fixture (tests/unit/test-varlink.c, tests/unit/test-varlink-limits.c): a forked child runs a
 * VarlinkServer on its own sd-event loop with a small method table and small limits (4096-byte messages, 300 ms
 * stall timeout, 60 connections) and exits on SIGTERM; the parent talks to it with the blocking client and with
 * raw sockets for what a well-behaved client would never send. */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shared/json-util.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "tap.h"
#include "varlink-fixture.h"

char tmpdir[] = "/tmp/test-varlink.XXXXXX";
char sock_path[sizeof(((struct sockaddr_un *) NULL)->sun_path)];
pid_t server_pid = -1;
json_t *no_params;
long live_json_allocs;
unsigned slow = 1;

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

int64_t now_ms(void) {
        return (int64_t) (now_usec(CLOCK_MONOTONIC) / USEC_PER_MSEC);
}

void sleep_ms(unsigned ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

json_t *parse(const char *text) {
        json_error_t e;
        json_t *v = json_loads(text, 0, &e);
        if (!v) {
                diag("bad JSON in the test: %s: %s", text, e.text);
                abort();
        }
        return v;
}

/* is the reply's parameters object exactly this JSON? */
int is_json(json_t *got, const char *want, const char *what) {
        _cleanup_json_ json_t *w = parse(want);
        _cleanup_free_ char *g = got ? json_dump_compact(got) : NULL;
        int p = ok(got && json_equal(got, w), "%s", what);

        if (!p)
                diag("got %.300s%s, want %s", strna(g), g && strlen(g) > 300 ? "..." : "", want);
        return p;
}

VarlinkClient *client(void) {
        VarlinkClient *c = NULL;
        int r = varlink_client_connect(&c, sock_path);

        if (r < 0) {
                diag("connect(%s): %s", sock_path, strerror(-r));
                return NULL;
        }
        return c;
}

/* One call; checks the error name (NULL: success) and the parameters exactly. */
void check_call(VarlinkClient *c, const char *method, const char *params, const char *want_error,
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
void check_write(VarlinkClient *c) {
        if (geteuid() == 0)
                check_call(c, "io.ballast.Agent.SetThing", NULL, NULL, "{\"written\": true}");
        else
                check_call(c, "io.ballast.Agent.SetThing", NULL, "org.varlink.service.PermissionDenied", "{}");
}

Raw *raw_connect(void) {
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

void raw_free(Raw *r) {
        if (!r)
                return;
        safe_close(r->fd);
        free(r);
}

int raw_send(Raw *r, const void *data, size_t size) {
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
int raw_read(Raw *r, unsigned timeout_ms, json_t **ret) {
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

char *message_of_size(size_t size) {
        const char *head = PAD_HEAD, *tail = PAD_TAIL;
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

/* Starts the server (after the alarm that bounds the whole test); 0, or -1 after a "Bail out!" line. */
int varlink_fixture_start(void) {
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
                return -1;
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
                return -1;
        }
        safe_close(ready[0]);
        diag("server pid %d on %s", (int) server_pid, sock_path);
        return 0;
}

/* Stops the server (checking it exits cleanly), removes the socket's folder; the program's exit status. */
int varlink_fixture_finish(void) {
        stop_server();
        json_decref(no_params);
        ok(nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0, "removed %s", tmpdir);
        return tap_done();
}
