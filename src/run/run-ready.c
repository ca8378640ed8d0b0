/* SPDX-License-Identifier: MIT */
/* Readiness: ballastd's first health check of the service, asked from a child so that the one poll sees it. */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "run/run.h"
#include "shared/fileio.h"
#include "shared/json-util.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "varlink/varlink-client.h"


/* The child's answer, one line "WORD\tTEXT": ready, unhealthy (TEXT = the reason), nosuch, unreachable
 * (TEXT = why), unknown (TEXT = the Varlink error). */
_noreturn_ static void readiness_child(int fd, const char *socket_path, const char *name) {
        char out[1024];

        for (unsigned attempt = 0;; attempt++) {
                _cleanup_(varlink_client_freep) VarlinkClient *c = NULL;
                _cleanup_json_ json_t *params = NULL, *reply = NULL;
                _cleanup_free_ char *error = NULL;
                int r;

                r = varlink_client_connect(&c, socket_path);
                if (r < 0) {
                        snprintf(out, sizeof(out), "unreachable\t%s: %s\n", socket_path, strerror(-r));
                        break;
                }
                params = json_pack("{s:s}", "name", name);
                r = params ? varlink_client_call(c, "io.ballast.Agent.WaitHealthy", params, 0, &reply, &error) : -ENOMEM;
                /* ballastd restarting drops the connection; its socket stays (socket activation): ask again. */
                if ((r == -ECONNRESET || r == -EPIPE) && attempt < 3) {
                        struct timespec ts = { .tv_nsec = 200 * 1000 * 1000 };
                        nanosleep(&ts, NULL);
                        continue;
                }
                if (r < 0)
                        snprintf(out, sizeof(out), "unreachable\t%s: %s\n", socket_path, strerror(-r));
                else if (!error)
                        snprintf(out, sizeof(out), "ready\t\n");
                else if (streq(error, "io.ballast.Agent.Unhealthy")) {
                        const char *reason = json_string_value(json_object_get(reply, "reason"));
                        snprintf(out, sizeof(out), "unhealthy\t%s", reason ?: "health check failed");
                        out[strcspn(out, "\r\n")] = 0; /* the answer is one line */
                        strcat(out, "\n");
                } else if (streq(error, "io.ballast.Agent.NoSuchService"))
                        snprintf(out, sizeof(out), "nosuch\t\n");
                else
                        snprintf(out, sizeof(out), "unknown\t%s\n", error);
                break;
        }
        (void) !write(fd, out, strlen(out));
        _exit(EXIT_SUCCESS);
}

/* The blocking Varlink client runs in a child, so that the parent's one poll sees its answer, the
 * container's exit (the wait) and SIGTERM alike. The answer comes over a socket pair rather than a pipe:
 * curl_multi_wait() reports only POLLIN for extra fds, and a pipe's end-of-file is POLLHUP alone, while a
 * socket's is POLLIN too, so a child that dies without answering is noticed. */
int readiness_start(Readiness *rd, const char *socket_path, const char *name) {
        int p[2];
        pid_t parent = getpid(), pid;

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0)
                return log_error_errno(-errno, "socketpair() failed: %m");
        pid = fork();
        if (pid < 0) {
                int r = -errno;
                safe_close(p[0]);
                safe_close(p[1]);
                return log_error_errno(r, "fork() failed: %m");
        }
        if (pid == 0) {
                sigset_t all;

                safe_close(p[0]);
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(EXIT_FAILURE);
                sigemptyset(&all);
                (void) sigprocmask(SIG_SETMASK, &all, NULL);
                readiness_child(p[1], socket_path, name);
        }
        safe_close(p[1]);
        *rd = (Readiness) { .pid = pid, .fd = p[0] };
        return 0;
}

void readiness_stop(Readiness *rd) {
        if (rd->pid > 0) {
                (void) kill(rd->pid, SIGKILL);
                (void) waitpid(rd->pid, NULL, 0);
                rd->pid = 0;
        }
        rd->fd = safe_close(rd->fd);
}

/* Reads what is there; returns 1 with the answer line in rd->buf once it is complete (or the child closed
 * its end: an empty answer), 0 while more is to come. */
int readiness_read(Readiness *rd) {
        ssize_t k = read(rd->fd, rd->buf + rd->size, sizeof(rd->buf) - 1 - rd->size);

        if (k < 0)
                return errno == EINTR || errno == EAGAIN ? 0 : -errno;
        rd->size += (size_t) k;
        rd->buf[rd->size] = 0;
        if (k > 0 && !strchr(rd->buf, '\n') && rd->size < sizeof(rd->buf) - 1)
                return 0;
        rd->buf[strcspn(rd->buf, "\n")] = 0;
        return 1;
}
