/* SPDX-License-Identifier: MIT */
/* src/supervisor/health.c on a real loop: a check outlives the spec it was started from (a spec replaced while a
 * check is failing), a cancelled or timed-out cmd check leaves no process behind (no zombie), and a stress run of
 * start/replace/cancel cycles with checks in flight (under ASan, any callback touching freed memory aborts).
 * The cmd checks are those of exec services (a child process); the HTTP checks talk to a loopback socket that
 * accepts connections in its backlog and never answers. Docker exec checks need a dockerd: integration-supervisor. */

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http.h"
#include "shared/log.h"
#include "shared/time-util.h"
#include "supervisor/health.h"
#include "supervisor/spec.h"
#include "tap.h"

typedef struct Result {
        unsigned calls;
        bool pass;
        char reason[160];
} Result;

static void on_done(bool pass, const char *reason, void *userdata) {
        Result *r = userdata;

        r->calls++;
        r->pass = pass;
        snprintf(r->reason, sizeof(r->reason), "%s", reason ?: "");
}

static ServiceSpec *spec_new(const char *json) {
        ServiceSpec *s = NULL;
        _cleanup_free_ char *error = NULL;

        if (service_spec_parse(json, strlen(json), NULL, &s, &error) < 0) {
                diag("spec %s: %s", json, strna(error));
                abort();
        }
        return s;
}

/* A loopback port that takes connections (the kernel's backlog) and never answers. */
static int silent_server(uint16_t *ret_port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 512) < 0 ||
            getsockname(fd, (struct sockaddr *) &sa, &len) < 0)
                abort();
        *ret_port = ntohs(sa.sin_port);
        return fd;
}

/* Children of this process, zombies included (/proc/PID/stat's 4th field). */
static unsigned count_children(unsigned *ret_zombies) {
        DIR *d = opendir("/proc");
        unsigned n = 0, z = 0;
        struct dirent *de;

        while (d && (de = readdir(d))) {
                char path[300], buf[512], state;
                int ppid;
                _cleanup_fclose_ FILE *f = NULL;
                char *p;

                if (de->d_name[0] < '1' || de->d_name[0] > '9')
                        continue;
                snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
                f = fopen(path, "re");
                if (!f || !fgets(buf, sizeof(buf), f) || !(p = strrchr(buf, ')')))
                        continue;
                if (sscanf(p + 1, " %c %d", &state, &ppid) != 2 || ppid != getpid())
                        continue;
                n++;
                if (state == 'Z')
                        z++;
        }
        if (d)
                closedir(d);
        if (ret_zombies)
                *ret_zombies = z;
        return n;
}

static void run_until(sd_event *e, const unsigned *calls, unsigned want) {
        for (unsigned i = 0; *calls < want && i < 2000; i++)
                (void) sd_event_run(e, 10 * USEC_PER_MSEC);
}

/* The spec is replaced (freed) while the check is in flight: the check goes on with what it was started with,
 * and its result names those. Under ASan the old code aborted here (heap-use-after-free in on_timeout). */
static void test_spec_freed(sd_event *e, HttpClient *http, uint16_t port) {
        char json[256];
        struct {
                const char *what, *spec, *want;
        } table[] = {
                { "cmd", "{'name':'a','runtime':'exec','command':['/bin/true'],'health':{'cmd':['/bin/sleep','30'],"
                         "'interval_ms':1000,'timeout_ms':100}}",
                  "no answer within 100 ms" },
                { "http", NULL, "GET http://127.0.0.1:PORT/health: " },
        };

        snprintf(json, sizeof(json),
                 "{'name':'a','runtime':'exec','command':['/bin/true'],'health':{'http':'http://127.0.0.1:%u/health',"
                 "'interval_ms':1000,'timeout_ms':100}}", port);
        table[1].spec = json;
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_free_ char *text = strdup(table[i].spec);
                char want[96];
                ServiceSpec *s;
                HealthCheck *c = NULL;
                Result res = {};

                for (char *q = text; *q; q++)
                        if (*q == '\'')
                                *q = '"';
                s = spec_new(text);
                is_int(health_check_start(&c, e, http, NULL, s, on_done, &res), 0, "%s: check started", table[i].what);
                service_spec_free(s);   /* what service_set_spec() does with the old spec */
                run_until(e, &res.calls, 1);
                is_int(res.calls, 1, "%s: the check ends once, after its spec was freed", table[i].what);
                ok(!res.pass, "%s: it failed", table[i].what);
                snprintf(want, sizeof(want), "%s", table[i].want);
                if (strstr(want, "PORT"))
                        snprintf(want, sizeof(want), "GET http://127.0.0.1:%u/health: ", port);
                /* curl's timeout and the check's are the same: either may end it */
                ok(strncmp(res.reason, want, strlen(want)) == 0 || streq(res.reason, "no answer within 100 ms"),
                   "%s: reason \"%s\" from the spec it started with", table[i].what, res.reason);
        }
}

/* The same, observable without ASan: the spec is rewritten in place while the check runs. */
static void test_spec_changed(sd_event *e, HttpClient *http) {
        _cleanup_(service_spec_freep) ServiceSpec *s =
                spec_new("{\"name\":\"a\",\"runtime\":\"exec\",\"command\":[\"/bin/true\"],\"health\":{\"cmd\":"
                         "[\"/bin/sleep\",\"30\"],\"interval_ms\":1000,\"timeout_ms\":100}}");
        HealthCheck *c = NULL;
        Result res = {};

        is_int(health_check_start(&c, e, http, NULL, s, on_done, &res), 0, "check started");
        s->health_timeout_ms = 777777;
        free(s->health_cmd[0]);
        s->health_cmd[0] = strdup("/replaced");
        run_until(e, &res.calls, 1);
        is_int(res.calls, 1, "the check ends");
        is_str(res.reason, "no answer within 100 ms", "its result is about the spec it started with");
}

/* 100 cmd checks cancelled in flight, and 20 that time out: every child is killed and reaped. */
static void test_no_zombies(sd_event *e, HttpClient *http) {
        _cleanup_(service_spec_freep) ServiceSpec *s =
                spec_new("{\"name\":\"a\",\"runtime\":\"exec\",\"command\":[\"/bin/true\"],\"health\":{\"cmd\":"
                         "[\"/bin/sleep\",\"60\"],\"interval_ms\":1000,\"timeout_ms\":50}}");
        HealthCheck *c[100] = {};
        Result res[100] = {};
        unsigned zombies, started = 0, calls = 0;

        for (size_t i = 0; i < ELEMENTSOF(c); i++)
                if (health_check_start(&c[i], e, http, NULL, s, on_done, &res[i]) == 0)
                        started++;
        is_int(started, 100, "100 cmd checks started");
        is_int(count_children(NULL), 100, "100 children run");
        for (size_t i = 0; i < ELEMENTSOF(c); i++)
                health_check_cancel(c[i]);
        for (unsigned i = 0; i < 5; i++)
                (void) sd_event_run(e, 10 * USEC_PER_MSEC);
        is_int(count_children(&zombies), 0, "no child left after 100 cancelled checks");
        is_int(zombies, 0, "no zombie");
        for (size_t i = 0; i < ELEMENTSOF(c); i++)
                calls += res[i].calls;
        is_int(calls, 0, "a cancelled check does not report");

        memset(res, 0, sizeof(res));
        for (size_t i = 0; i < 20; i++)
                (void) health_check_start(&c[i], e, http, NULL, s, on_done, &res[i]);
        calls = 0;
        for (unsigned i = 0; calls < 20 && i < 2000; i++) {
                (void) sd_event_run(e, 10 * USEC_PER_MSEC);
                calls = 0;
                for (size_t j = 0; j < 20; j++)
                        calls += res[j].calls;
        }
        is_int(calls, 20, "20 checks timed out");
        is_int(count_children(&zombies), 0, "no child left after 20 timed-out checks");
        is_int(zombies, 0, "no zombie");
}

/* Stress: slots of checks in flight (cmd that passes, fails or hangs; HTTP that hangs), each cycle replacing the
 * spec, cancelling, or letting the check run, in a pseudo-random order. Each check reports at most once, a
 * cancelled one never; no child outlives it; ASan sees every use of freed memory. */
#define SLOTS 24
static void test_stress(sd_event *e, HttpClient *http, uint16_t port) {
        static const char *const cmds[] = { "[\"/bin/true\"]", "[\"/bin/false\"]", "[\"/bin/sleep\",\"1\"]" };
        struct {
                HealthCheck *check;
                ServiceSpec *spec;
                Result res;
        } slot[SLOTS] = {};
        unsigned cycles = 0, extra = 0, zombies;
        unsigned seed = 12;

        for (unsigned round = 0; round < 1500; round++) {
                size_t i = rand_r(&seed) % SLOTS;
                unsigned action = rand_r(&seed) % 4;

                if (slot[i].res.calls > 1)
                        extra++;
                if (slot[i].res.calls > 0)
                        slot[i].check = NULL;   /* done: the check freed itself */
                if (!slot[i].check || action == 0) {
                        char json[320];
                        unsigned kind = (unsigned) rand_r(&seed) % 4;

                        health_check_cancel(slot[i].check);
                        slot[i].check = NULL;
                        if (kind < 3)
                                snprintf(json, sizeof(json),
                                         "{\"name\":\"s%zu\",\"runtime\":\"exec\",\"command\":[\"/bin/true\"],"
                                         "\"health\":{\"cmd\":%s,\"interval_ms\":1000,\"timeout_ms\":%u}}",
                                         i, cmds[kind], 20 + rand_r(&seed) % 40);
                        else
                                snprintf(json, sizeof(json),
                                         "{\"name\":\"s%zu\",\"runtime\":\"exec\",\"command\":[\"/bin/true\"],"
                                         "\"health\":{\"http\":\"http://127.0.0.1:%u/\",\"interval_ms\":1000,"
                                         "\"timeout_ms\":%u}}", i, port, 20 + rand_r(&seed) % 40);
                        service_spec_free(slot[i].spec);
                        slot[i].spec = spec_new(json);
                        slot[i].res = (Result) {};
                        if (health_check_start(&slot[i].check, e, http, NULL, slot[i].spec, on_done, &slot[i].res) == 0)
                                cycles++;
                } else if (action == 1) {
                        /* the spec replaced under a running check (service_set_spec) */
                        slot[i].spec = service_spec_free(slot[i].spec);
                        slot[i].spec = spec_new("{\"name\":\"x\",\"runtime\":\"exec\",\"command\":[\"/bin/true\"]}");
                }
                (void) sd_event_run(e, rand_r(&seed) % 3 ? 0 : 2 * USEC_PER_MSEC);
        }
        for (size_t i = 0; i < SLOTS; i++) {
                if (slot[i].res.calls == 0)
                        health_check_cancel(slot[i].check);
                service_spec_free(slot[i].spec);
        }
        for (unsigned i = 0; i < 5; i++)
                (void) sd_event_run(e, 10 * USEC_PER_MSEC);
        diag("%u checks started", cycles);
        ok(cycles > 500, "hundreds of start/replace/cancel cycles ran");
        is_int(extra, 0, "no check reported twice");
        is_int(count_children(&zombies), 0, "no child left");
        is_int(zombies, 0, "no zombie");
}

int main(void) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(http_client_freep) HttpClient *http = NULL;
        sigset_t mask;
        uint16_t port;
        _cleanup_close_ int server = silent_server(&port);

        log_set_max_level(LOG_ERR);
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 || sd_event_new(&e) < 0 || http_client_new(&http, e) < 0)
                return 1;

        test_spec_freed(e, http, port);
        test_spec_changed(e, http);
        test_no_zombies(e, http);
        test_stress(e, http, port);
        return tap_done();
}
