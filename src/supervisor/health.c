/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "supervisor/health.h"
#include "shared/log.h"
#include "shared/time-util.h"

/* What a check reads of its service's spec, copied at start: the spec may be replaced (and freed) while the
 * check is in flight, and every callback below may run after that. */
typedef struct HealthParams {
        char *name;
        ServiceRuntime runtime;
        HealthKind kind;
        char *http;
        uint16_t tcp;
        char **cmd;
        uint64_t timeout_ms;
} HealthParams;

struct HealthCheck {
        sd_event *event;
        Docker *docker;
        HealthParams p;
        HealthDoneFunc done;
        void *userdata;

        HttpRequest *http;
        int fd;
        sd_event_source *io, *timeout, *child;
        pid_t pid;
        char *exec_id;
        bool finished;
        bool starting;       /* inside health_check_start(): results wait for the loop */
        bool deferred, deferred_pass;
        char deferred_reason[160];
        bool docker_pending; /* a Docker call is in flight: its reply must find us, so freeing waits for it */
};

static char **strv_copy(char *const *l) {
        size_t n = strv_length(l);
        _cleanup_strv_free_ char **copy = calloc(n + 1, sizeof(char *));

        if (!copy)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (!(copy[i] = strdup(l[i])))
                        return NULL;
        return TAKE_PTR(copy);
}

static int health_params_copy(HealthParams *p, const ServiceSpec *s) {
        *p = (HealthParams) { .runtime = s->runtime, .kind = s->health, .tcp = s->health_tcp,
                              .timeout_ms = s->health_timeout_ms };
        p->name = strdup(s->name);
        p->http = s->health_http ? strdup(s->health_http) : NULL;
        p->cmd = s->health_cmd ? strv_copy(s->health_cmd) : NULL;
        if (!p->name || (s->health_http && !p->http) || (s->health_cmd && !p->cmd))
                return -ENOMEM;
        if (p->kind == HEALTH_CMD && strv_length(p->cmd) == 0)
                return -EINVAL;
        return 0;
}

static void health_params_done(HealthParams *p) {
        free(p->name);
        free(p->http);
        strv_free(p->cmd);
}

/* Stops whatever runs on the loop for this check: after this no callback of ours but a Docker reply (which
 * frees a finished check) can run. A cmd child is owned by its event source, which kills and reaps it when
 * unreferenced; its process group is killed first so that what the command started goes too. */
static void check_stop(HealthCheck *c) {
        http_request_cancel(c->http);
        c->http = NULL;
        c->io = sd_event_source_disable_unref(c->io);
        c->timeout = sd_event_source_disable_unref(c->timeout);
        if (c->child) {
                if (c->pid > 0)
                        (void) kill(-c->pid, SIGKILL);
                c->child = sd_event_source_disable_unref(c->child);
        }
        c->fd = safe_close(c->fd);
}

static void check_free(HealthCheck *c) {
        check_stop(c);
        free(c->exec_id);
        health_params_done(&c->p);
        sd_event_unref(c->event);
        free(c);
}

static void check_finish(HealthCheck *c, bool pass, const char *reason) {
        if (c->finished)
                return;
        if (c->starting) {
                /* the caller has not even got its handle yet: report from the loop, through the timeout */
                c->deferred = true;
                c->deferred_pass = pass;
                snprintf(c->deferred_reason, sizeof(c->deferred_reason), "%s", strempty(reason));
                (void) sd_event_source_set_time_relative(c->timeout, 0);
                return;
        }
        c->finished = true;
        if (c->done)
                c->done(pass, reason, c->userdata);
        c->done = NULL;
        if (c->docker_pending)
                check_stop(c);
        else
                check_free(c);
}

void health_check_cancel(HealthCheck *c) {
        if (!c)
                return;
        c->done = NULL;
        c->finished = true;
        if (c->docker_pending)
                check_stop(c);   /* the Docker reply frees it */
        else
                check_free(c);
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        HealthCheck *c = userdata;
        char reason[64];

        if (c->deferred) {
                check_finish(c, c->deferred_pass, c->deferred_reason);
                return 0;
        }
        snprintf(reason, sizeof(reason), "no answer within %llu ms", (unsigned long long) c->p.timeout_ms);
        check_finish(c, false, reason);
        return 0;
}

static void on_http_done(HttpRequest *req, int error, const char *message, long status, const char *body,
                         size_t size, void *userdata) {
        HealthCheck *c = userdata;
        char reason[160];

        c->http = NULL;
        if (error < 0) {
                snprintf(reason, sizeof(reason), "GET %s: %s", c->p.http, strna(message));
                check_finish(c, false, reason);
        } else if (status < 200 || status >= 400) {
                snprintf(reason, sizeof(reason), "GET %s: HTTP %ld", c->p.http, status);
                check_finish(c, false, reason);
        } else
                check_finish(c, true, NULL);
}

static int on_tcp_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        HealthCheck *c = userdata;
        socklen_t len = sizeof(int);
        int err = 0;
        char reason[96];

        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                err = errno;
        if (err == 0) {
                check_finish(c, true, NULL);
                return 0;
        }
        snprintf(reason, sizeof(reason), "connect 127.0.0.1:%u: %s", c->p.tcp, strerror(err));
        check_finish(c, false, reason);
        return 0;
}

static int start_tcp(HealthCheck *c) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(c->p.tcp),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0)
                return -errno;
        if (connect(c->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
                char reason[96];
                snprintf(reason, sizeof(reason), "connect 127.0.0.1:%u: %s", c->p.tcp, strerror(errno));
                check_finish(c, false, reason);
                return 0;
        }
        return sd_event_add_io(c->event, &c->io, c->fd, EPOLLOUT, on_tcp_io, c);
}

static int on_child(sd_event_source *s, const siginfo_t *si, void *userdata) {
        HealthCheck *c = userdata;
        char reason[96];

        c->child = sd_event_source_disable_unref(c->child);   /* reaped: sd-event waited for it */
        c->pid = 0;
        if (si->si_code == CLD_EXITED && si->si_status == 0) {
                check_finish(c, true, NULL);
                return 0;
        }
        if (si->si_code == CLD_EXITED)
                snprintf(reason, sizeof(reason), "%s exited with status %d", c->p.cmd[0], si->si_status);
        else
                snprintf(reason, sizeof(reason), "%s killed by signal %d", c->p.cmd[0], si->si_status);
        check_finish(c, false, reason);
        return 0;
}

/* posix_spawn(): glibc's is a vfork (the loop does not run until the child has exec'd), so no copy of the
 * daemon's fds (curl's sockets, which curl may close meanwhile) lives on in a child between fork and exec. */
static int start_child(HealthCheck *c) {
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none, dfl;
        pid_t pid;
        int r;

        sigemptyset(&none);
        sigfillset(&dfl);
        if (posix_spawn_file_actions_init(&fa) != 0)
                return -ENOMEM;
        if (posix_spawnattr_init(&attr) != 0) {
                posix_spawn_file_actions_destroy(&fa);
                return -ENOMEM;
        }
        r = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        if (r == 0)
                r = posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
        if (r == 0)
                r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                                            POSIX_SPAWN_SETSIGDEF);
        if (r == 0)
                r = posix_spawnattr_setpgroup(&attr, 0);
        if (r == 0)
                r = posix_spawnattr_setsigmask(&attr, &none);
        if (r == 0)
                r = posix_spawnattr_setsigdefault(&attr, &dfl);
        if (r == 0)
                r = posix_spawn(&pid, c->p.cmd[0], &fa, &attr, c->p.cmd, environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        if (r != 0) {
                char reason[160];
                snprintf(reason, sizeof(reason), "cannot run %s: %s", c->p.cmd[0], strerror(r));
                check_finish(c, false, reason);
                return 0;
        }
        c->pid = pid;
        r = sd_event_add_child(c->event, &c->child, pid, WEXITED, on_child, c);
        if (r < 0) {
                (void) kill(pid, SIGKILL);
                (void) waitid(P_PID, pid, &(siginfo_t) {}, WEXITED);
                return r;
        }
        /* owned: when the source goes (check cancelled, timed out), sd-event kills the child and reaps it */
        return sd_event_source_set_child_process_own(c->child, true);
}

/* The process exits with a Docker call in flight: the reply that would have freed the check never comes. */
static void on_docker_destroy(void *userdata) {
        HealthCheck *c = userdata;

        c->docker_pending = false;
        if (c->finished)
                check_free(c);
}

/* cmd inside a container: create an exec, start it attached-to-nothing (the call returns when the command
 * ends), then read its exit code. Three Engine API calls, each on the loop. */
static void on_exec_inspect(Docker *d, int error, long status, json_t *reply, void *userdata) {
        HealthCheck *c = userdata;
        char reason[96];
        json_int_t code;

        c->docker_pending = false;
        if (c->finished) {
                check_free(c);
                return;
        }
        code = json_integer_value(json_object_get(reply, "ExitCode"));
        if (error >= 0 && status == 200 && json_is_true(json_object_get(reply, "Running"))) {
                /* the start call can return a moment before Docker records the exit: ask again (bounded by
                 * the check's timeout, which ends it) */
                _cleanup_free_ char *path = NULL;
                if (asprintf(&path, "/exec/%s/json", c->exec_id) >= 0 &&
                    docker_call_full(d, "GET", path, NULL, c->p.timeout_ms, on_exec_inspect,
                                     on_docker_destroy, c) >= 0) {
                        c->docker_pending = true;
                        return;
                }
        }
        if (error < 0 || status != 200 || json_is_true(json_object_get(reply, "Running"))) {
                check_finish(c, false, "cannot read the exit code of the check");
                return;
        }
        if (code == 0) {
                check_finish(c, true, NULL);
                return;
        }
        snprintf(reason, sizeof(reason), "%s exited with status %lld in the container", c->p.cmd[0],
                 (long long) code);
        check_finish(c, false, reason);
}

static void on_exec_started(Docker *d, int error, long status, json_t *reply, void *userdata) {
        HealthCheck *c = userdata;
        _cleanup_free_ char *path = NULL;

        c->docker_pending = false;
        if (c->finished) {
                check_free(c);
                return;
        }
        if (error < 0 || status >= 300) {
                check_finish(c, false, "cannot start the check in the container");
                return;
        }
        if (asprintf(&path, "/exec/%s/json", c->exec_id) < 0 ||
            docker_call_full(d, "GET", path, NULL, c->p.timeout_ms, on_exec_inspect,
                             on_docker_destroy, c) < 0) {
                check_finish(c, false, "cannot inspect the check");
                return;
        }
        c->docker_pending = true;
}

static void on_exec_created(Docker *d, int error, long status, json_t *reply, void *userdata) {
        HealthCheck *c = userdata;
        _cleanup_free_ char *path = NULL;
        _cleanup_json_ json_t *body = NULL;
        const char *id = json_string_value(json_object_get(reply, "Id"));

        c->docker_pending = false;
        if (c->finished) {
                check_free(c);
                return;
        }
        if (error < 0 || status != 201 || !id) {
                check_finish(c, false, status == 404 || status == 409 ? "the container is not running" :
                                                                          "cannot create the check in the container");
                return;
        }
        c->exec_id = strdup(id);
        body = json_pack("{s:b,s:b}", "Detach", 0, "Tty", 0);
        if (!c->exec_id || asprintf(&path, "/exec/%s/start", id) < 0 ||
            docker_call_full(d, "POST", path, body, c->p.timeout_ms, on_exec_started, on_docker_destroy,
                             c) < 0) {
                check_finish(c, false, "cannot start the check");
                return;
        }
        c->docker_pending = true;
}

static int start_docker_exec(HealthCheck *c) {
        _cleanup_free_ char *path = NULL;
        _cleanup_json_ json_t *body = NULL, *cmd = json_array();
        int r;

        if (!docker_is_up(c->docker)) {
                check_finish(c, false, "Docker is not reachable");
                return 0;
        }
        for (char **a = c->p.cmd; *a; a++)
                json_array_append_new(cmd, json_string(*a));
        body = json_pack("{s:O,s:b,s:b}", "Cmd", cmd, "AttachStdout", 0, "AttachStderr", 0);
        if (!body || asprintf(&path, "/containers/ballast-%s/exec", c->p.name) < 0)
                return -ENOMEM;
        r = docker_call_full(c->docker, "POST", path, body, c->p.timeout_ms, on_exec_created,
                             on_docker_destroy, c);
        if (r < 0)
                return r;
        c->docker_pending = true;
        return 0;
}

int health_check_start(HealthCheck **ret, sd_event *event, HttpClient *http, Docker *docker, const ServiceSpec *s,
                       HealthDoneFunc done, void *userdata) {
        HealthCheck *c;
        int r;

        c = calloc(1, sizeof(HealthCheck));
        if (!c)
                return -ENOMEM;
        *c = (HealthCheck) { .event = sd_event_ref(event), .docker = docker, .done = done,
                             .userdata = userdata, .fd = -1, .starting = true };
        r = health_params_copy(&c->p, s);
        if (r < 0)
                goto fail;
        r = sd_event_add_time_relative(event, &c->timeout, CLOCK_MONOTONIC, c->p.timeout_ms * USEC_PER_MSEC,
                                       USEC_PER_MSEC, on_timeout, c);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_description(c->timeout, "health-timeout");

        switch (c->p.kind) {
        case HEALTH_HTTP:
                r = http_request_start(http,
                                       &(HttpRequestOptions) { .url = c->p.http, .timeout_ms = c->p.timeout_ms,
                                                               .connect_timeout_ms = c->p.timeout_ms,
                                                               .max_response = 64 * 1024 },
                                       on_http_done, c, &c->http);
                break;
        case HEALTH_TCP:
                r = start_tcp(c);
                break;
        case HEALTH_CMD:
                r = c->p.runtime == SERVICE_RUNTIME_DOCKER ? start_docker_exec(c) : start_child(c);
                break;
        default:
                r = -EINVAL;
        }
        if (r < 0)
                goto fail;
        c->starting = false;
        *ret = c;
        return 0;
fail:
        c->finished = true;
        c->docker_pending = false;
        check_free(c);
        return r;
}
