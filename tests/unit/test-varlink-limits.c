/* SPDX-License-Identifier: MIT */
/* src/varlink (server) and src/varlink-client, end to end over a real socket: the server's limits and
 * permissions (stalled clients dropped, the connection limit, a client that never reads, what a reader that is
 * neither root nor in the write group may do). The server in a child and the client's helpers:
 * tests/unit/varlink-fixture.c; calls and replies: tests/unit/test-varlink.c. Every wait is bounded; an alarm
 * kills the whole test if something still hangs. */

#include <grp.h>
#include <signal.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/json-util.h"
#include "tap.h"
#include "varlink-fixture.h"

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

int main(void) {
        if (varlink_fixture_start() < 0)
                return 1;

        test_stall();
        test_many_connections();
        test_permissions();
        test_reader_that_never_reads();

        return varlink_fixture_finish();
}
