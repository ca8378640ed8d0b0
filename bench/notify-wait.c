/* SPDX-License-Identifier: MIT */
/* notify-wait: start-to-READY time of a Type=notify daemon, for bench/bench-foundation.sh.
 *
 * Usage: notify-wait [-n RUNS] [-w WARMUP] [-t TIMEOUT_MS] [-c SOCKNAME] [-d BASEDIR] [-v] -- PROG [ARG...]
 *
 * Each run: make a fresh directory under BASEDIR (default $TMPDIR or /tmp), bind an abstract datagram
 * socket and export it as $NOTIFY_SOCKET, fork+exec PROG with every "@DIR@" in its arguments replaced
 * by that directory, and measure CLOCK_MONOTONIC from just before fork() to the receipt of a datagram
 * with a "READY=1" line. With -c, then connect to DIR/SOCKNAME at once: READY must mean "serving", a
 * refused connection counts as a failure. Then SIGTERM (SIGKILL after 2 s), reap, remove the directory.
 * The daemon's stdout and stderr go to /dev/null unless -v.
 * Prints: "runs=N ok=N failed=N min_ms=... median_ms=... p90_ms=... mean_ms=... max_ms=..." and exits 0 only if
 * every measured run got READY=1 (and, with -c, a connection); stops at the first failed run.
 * WARMUP runs (default 1) are not counted. SIGTERM/SIGINT/SIGHUP kill the running daemon (SIGKILL). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int verbose;
static volatile pid_t current_child;

/* SIGTERM/SIGINT/SIGHUP: never leave the daemon behind (its directory is under BASEDIR, the caller's). */
static void on_signal(int sig) {
        pid_t p = current_child;
        if (p > 0) {
                kill(p, SIGKILL);
                (void) waitpid(p, NULL, 0); /* reaped here, not left a zombie for init */
        }
        _exit(128 + sig);
}

static double now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st, (void) flag, (void) ftw;
        (void) remove(path); /* best effort, keep walking */
        return 0;
}

static void rm_rf(const char *dir) {
        (void) nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static char *subst(const char *arg, const char *dir) {
        const char *p = strstr(arg, "@DIR@");
        char *s;
        if (!p)
                return strdup(arg);
        if (asprintf(&s, "%.*s%s%s", (int) (p - arg), arg, dir, p + 5) < 0)
                return NULL;
        return s;
}

/* Stop the child: SIGTERM, SIGKILL after 2 s; always reaped. */
static void stop_child(pid_t pid) {
        int status;
        (void) kill(pid, SIGTERM);
        for (int i = 0; i < 200; i++) {
                pid_t r = waitpid(pid, &status, WNOHANG);
                if (r == pid || (r < 0 && errno == ECHILD))
                        return;
                usleep(10000);
        }
        (void) kill(pid, SIGKILL);
        (void) waitpid(pid, &status, 0);
}

static int try_connect(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd, r;
        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        r = connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ? -errno : 0;
        close(fd);
        return r;
}

/* One run. Returns the start-to-READY time in ms, or <0 on failure. */
static double one_run(int run, int timeout_ms, const char *sockname, const char *base, char **argv) {
        char dir[4096], name[108], *sockpath = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        double t0, t = -1;
        int nfd, argc = 0;
        pid_t pid;

        snprintf(dir, sizeof(dir), "%s/notify-wait.XXXXXX", base);
        if (!mkdtemp(dir)) {
                perror("notify-wait: mkdtemp");
                return -1;
        }
        snprintf(name, sizeof(name), "@ballast-bench-notify/%d/%d", (int) getpid(), run);
        nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        strcpy(sa.sun_path + 1, name + 1);
        if (nfd < 0 || bind(nfd, (struct sockaddr *) &sa, offsetof(struct sockaddr_un, sun_path) + strlen(name)) < 0) {
                perror("notify-wait: notify socket");
                if (nfd >= 0)
                        close(nfd);
                rm_rf(dir);
                return -1;
        }
        while (argv[argc])
                argc++;
        char **args = calloc(argc + 1, sizeof(char *));
        for (int i = 0; args && i < argc; i++)
                if (!(args[i] = subst(argv[i], dir)))
                        abort();
        if (!args)
                abort();
        if (sockname && asprintf(&sockpath, "%s/%s", dir, sockname) < 0)
                abort();

        sigset_t block, old;
        sigemptyset(&block);
        sigaddset(&block, SIGTERM);
        sigaddset(&block, SIGINT);
        sigaddset(&block, SIGHUP);
        sigprocmask(SIG_BLOCK, &block, &old); /* no window where a signal would orphan the child */
        t0 = now_ms();
        pid = fork();
        if (pid < 0) {
                sigprocmask(SIG_SETMASK, &old, NULL);
                perror("notify-wait: fork");
                goto out;
        }
        if (pid == 0) {
                signal(SIGTERM, SIG_DFL);
                signal(SIGINT, SIG_DFL);
                signal(SIGHUP, SIG_DFL);
                sigprocmask(SIG_SETMASK, &old, NULL);
                setenv("NOTIFY_SOCKET", name, 1);
                if (!verbose) {
                        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                        if (null >= 0) {
                                dup2(null, 0);
                                dup2(null, 1);
                                dup2(null, 2);
                        }
                }
                execv(args[0], args);
                _exit(127);
        }
        current_child = pid;
        sigprocmask(SIG_SETMASK, &old, NULL);

        for (;;) {
                char buf[4096];
                double left = t0 + timeout_ms - now_ms();
                if (left <= 0) {
                        fprintf(stderr, "notify-wait: run %d: no READY=1 within %d ms\n", run, timeout_ms);
                        break;
                }
                /* Wake at once on a datagram; look at the child every 10 ms in case it died. */
                struct pollfd p = { .fd = nfd, .events = POLLIN };
                int r = poll(&p, 1, left < 10 ? (int) left + 1 : 10);
                if (r > 0) {
                        double t1 = now_ms();
                        ssize_t n = recv(nfd, buf, sizeof(buf) - 1, 0);
                        if (n < 0)
                                continue;
                        buf[n] = 0;
                        /* READY=1 must be a whole line */
                        for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n"))
                                if (strcmp(l, "READY=1") == 0) {
                                        t = t1 - t0;
                                        break;
                                }
                        if (t >= 0)
                                break;
                        continue;
                }
                int status;
                if (waitpid(pid, &status, WNOHANG) == pid) {
                        fprintf(stderr, "notify-wait: run %d: %s exited (status 0x%x) before READY=1\n", run,
                                args[0], status);
                        pid = 0;
                        break;
                }
        }
        if (t >= 0 && sockpath) {
                int r = try_connect(sockpath);
                if (r < 0) {
                        fprintf(stderr, "notify-wait: run %d: READY=1 but connect(%s): %s\n", run, sockpath,
                                strerror(-r));
                        t = -1;
                }
        }
        if (pid > 0)
                stop_child(pid);
        current_child = 0;
out:
        close(nfd);
        rm_rf(dir);
        for (int i = 0; i < argc; i++)
                free(args[i]);
        free(args);
        free(sockpath);
        return t;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

int main(int argc, char *argv[]) {
        int runs = 20, warmup = 1, timeout_ms = 5000, c, ok = 0;
        const char *sockname = NULL, *base = getenv("TMPDIR");

        if (!base || !*base)
                base = "/tmp";
        while ((c = getopt(argc, argv, "+n:w:t:c:d:v")) >= 0)
                switch (c) {
                case 'n': runs = atoi(optarg); break;
                case 'w': warmup = atoi(optarg); break;
                case 't': timeout_ms = atoi(optarg); break;
                case 'c': sockname = optarg; break;
                case 'd': base = optarg; break;
                case 'v': verbose = 1; break;
                default: return 2;
                }
        if (optind >= argc || runs < 1 || runs > 10000 || warmup < 0 || warmup > 100 || timeout_ms < 1) {
                fprintf(stderr, "Usage: notify-wait [-n RUNS] [-w WARMUP] [-t TIMEOUT_MS] [-c SOCKNAME] [-d BASEDIR] [-v] -- PROG [ARG...]\n");
                return 2;
        }
        signal(SIGPIPE, SIG_IGN);
        struct sigaction sa = { .sa_handler = on_signal };
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);

        double *ms = calloc(runs, sizeof(double));
        if (!ms)
                return 1;
        for (int i = 0; i < warmup; i++)
                (void) one_run(-1 - i, timeout_ms, sockname, base, argv + optind);
        int done = 0;
        for (; done < runs; done++) {
                double t = one_run(done, timeout_ms, sockname, base, argv + optind);
                if (verbose)
                        fprintf(stderr, "notify-wait: run %d: %.3f ms\n", done, t);
                if (t < 0) { /* fail fast: a daemon that does not start will not start next time either */
                        done++;
                        break;
                }
                ms[ok++] = t;
        }
        if (ok == 0) {
                printf("runs=%d ok=0 failed=%d\n", done, done);
                return 1;
        }
        double sum = 0;
        for (int i = 0; i < ok; i++)
                sum += ms[i];
        qsort(ms, ok, sizeof(double), cmp_double);
        double median = ok % 2 ? ms[ok / 2] : (ms[ok / 2 - 1] + ms[ok / 2]) / 2;
        printf("runs=%d ok=%d failed=%d min_ms=%.3f median_ms=%.3f p90_ms=%.3f mean_ms=%.3f max_ms=%.3f\n", done,
               ok, done - ok, ms[0], median, ms[(ok - 1) * 90 / 100], sum / ok, ms[ok - 1]);
        return ok == runs ? 0 : 1;
}
