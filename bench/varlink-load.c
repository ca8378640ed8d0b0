/* SPDX-License-Identifier: MIT */
/* varlink-load: Varlink round trips per second, for bench/bench-foundation.sh.
 *
 * Usage: varlink-load -s SOCKET [-c CONNS] [-d SECONDS] [-n MAXCALLS] [-m METHOD] [-W WAIT_MS] [-q]
 *
 * Opens CONNS connections (default 1) to SOCKET and, multiplexed with poll() in this one process, has
 * each do METHOD calls (default io.ballast.Agent.GetStatus, parameters {}) back to back, one call in
 * flight per connection, for SECONDS (default 2) or until MAXCALLS calls in all have completed,
 * whichever comes first. A reply must be a NUL-terminated message starting with {"parameters": an
 * error reply, a closed connection or a connection silent for 2 s ends the run with status 1.
 * -W: retry connecting for up to WAIT_MS (for "wait until it serves"); default: no retry.
 * Prints: "conns=N calls=N secs=S calls_per_s=R p50_us=L p99_us=L max_us=L errors=N" (-q: nothing). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1024
#define BUF_MAX (256 * 1024)
#define MAX_SAMPLES (16u * 1024 * 1024)
#define STALL_MS 2000

struct conn {
        int fd;
        uint64_t sent_ns;
        size_t len;
        char *buf;
};

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static int connect_unix(const char *path, int wait_ms) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        uint64_t deadline = now_ns() + (uint64_t) wait_ms * 1000000u;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        for (;;) {
                int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0)
                        return -errno;
                if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0)
                        return fd;
                int e = errno;
                close(fd);
                if (now_ns() >= deadline || (e != ENOENT && e != ECONNREFUSED && e != EAGAIN))
                        return -e;
                usleep(5000);
        }
}

static int send_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) { /* one small call in flight: cannot really happen */
                                struct pollfd pf = { .fd = fd, .events = POLLOUT };
                                if (poll(&pf, 1, STALL_MS) <= 0)
                                        return -ETIMEDOUT;
                                continue;
                        }
                        return -errno;
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

static int cmp_u32(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
        return x < y ? -1 : x > y;
}

int main(int argc, char *argv[]) {
        const char *path = NULL, *method = "io.ballast.Agent.GetStatus";
        double seconds = 2;
        long long max_calls = -1;
        int nconns = 1, wait_ms = 0, quiet = 0, c, errors = 0;

        while ((c = getopt(argc, argv, "s:c:d:n:m:W:q")) >= 0)
                switch (c) {
                case 's': path = optarg; break;
                case 'c': nconns = atoi(optarg); break;
                case 'd': seconds = atof(optarg); break;
                case 'n': max_calls = atoll(optarg); break;
                case 'm': method = optarg; break;
                case 'W': wait_ms = atoi(optarg); break;
                case 'q': quiet = 1; break;
                default: return 2;
                }
        if (!path || nconns < 1 || nconns > MAX_CONNS || !(seconds > 0 && seconds <= 600) || wait_ms < 0) {
                fprintf(stderr, "Usage: varlink-load -s SOCKET [-c CONNS] [-d SECONDS] [-n MAXCALLS] [-m METHOD] [-W WAIT_MS] [-q]\n");
                return 2;
        }

        char req[512];
        int reqlen = snprintf(req, sizeof(req), "{\"method\":\"%s\",\"parameters\":{}}", method);
        if (reqlen <= 0 || reqlen >= (int) sizeof(req) - 1)
                return 2;
        reqlen++; /* send the NUL terminator too */

        struct conn *cs = calloc(nconns, sizeof(*cs));
        struct pollfd *pfd = calloc(nconns, sizeof(*pfd));
        uint32_t *lat = NULL; /* ns, saturating at ~4.29 s */
        size_t nlat = 0, alat = 0;
        if (!cs || !pfd)
                return 1;
        for (int i = 0; i < nconns; i++) {
                int fd = connect_unix(path, wait_ms);
                if (fd < 0) {
                        fprintf(stderr, "varlink-load: connect %s: %s\n", path, strerror(-fd));
                        return 1;
                }
                cs[i].fd = fd;
                cs[i].buf = malloc(BUF_MAX);
                if (!cs[i].buf)
                        return 1;
                pfd[i] = (struct pollfd) { .fd = fd, .events = POLLIN };
        }

        const uint64_t start = now_ns(), deadline = start + (uint64_t) (seconds * 1e9);
        long long calls = 0, issued = 0;
        int inflight = 0, stop = 0;
        for (int i = 0; i < nconns && (max_calls < 0 || issued < max_calls); i++) {
                cs[i].sent_ns = now_ns();
                if (send_all(cs[i].fd, req, reqlen) < 0) {
                        fprintf(stderr, "varlink-load: send: %m\n");
                        return 1;
                }
                issued++, inflight++;
        }

        while (inflight > 0) {
                int r = poll(pfd, nconns, STALL_MS);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        perror("varlink-load: poll");
                        return 1;
                }
                if (r == 0) {
                        fprintf(stderr, "varlink-load: no reply for %d ms (%d calls in flight)\n", STALL_MS, inflight);
                        errors++;
                        break;
                }
                for (int i = 0; i < nconns && r > 0; i++) {
                        if (!pfd[i].revents)
                                continue;
                        r--;
                        struct conn *k = &cs[i];
                        ssize_t n = recv(k->fd, k->buf + k->len, BUF_MAX - k->len, MSG_DONTWAIT);
                        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                                continue;
                        if (n <= 0) {
                                fprintf(stderr, "varlink-load: connection %d: %s\n", i,
                                        n == 0 ? "closed by the server" : strerror(errno));
                                errors++;
                                stop = 1;
                                pfd[i].fd = -1;
                                inflight--;
                                continue;
                        }
                        k->len += (size_t) n;
                        char *z = memchr(k->buf, 0, k->len);
                        if (!z) {
                                if (k->len == BUF_MAX) {
                                        fprintf(stderr, "varlink-load: reply larger than %d bytes\n", BUF_MAX);
                                        return 1;
                                }
                                continue;
                        }
                        uint64_t t = now_ns();
                        if (z + 1 != k->buf + k->len) {
                                fprintf(stderr, "varlink-load: more than one reply to one call\n");
                                return 1;
                        }
                        if (strncmp(k->buf, "{\"parameters\":", 14) != 0) {
                                fprintf(stderr, "varlink-load: unexpected reply: %.300s\n", k->buf);
                                errors++;
                                stop = 1;
                        }
                        k->len = 0;
                        inflight--;
                        calls++;
                        if (nlat == alat && alat < MAX_SAMPLES) {
                                size_t na = alat ? alat * 2 : 65536;
                                uint32_t *nl = realloc(lat, na * sizeof(uint32_t));
                                if (nl)
                                        lat = nl, alat = na;
                        }
                        if (nlat < alat) {
                                uint64_t d = t - k->sent_ns;
                                lat[nlat++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t) d;
                        }
                        if (stop || t >= deadline || (max_calls >= 0 && issued >= max_calls))
                                continue;
                        k->sent_ns = now_ns();
                        if (send_all(k->fd, req, reqlen) < 0) {
                                fprintf(stderr, "varlink-load: send: %m\n");
                                return 1;
                        }
                        issued++, inflight++;
                }
                /* After the deadline no new call is issued; the ones in flight finish (bounded by STALL_MS). */
        }
        double secs = (now_ns() - start) / 1e9;

        double p50 = 0, p99 = 0, pmax = 0;
        if (nlat > 0) {
                qsort(lat, nlat, sizeof(uint32_t), cmp_u32);
                p50 = lat[(nlat - 1) * 50 / 100] / 1e3;
                p99 = lat[(nlat - 1) * 99 / 100] / 1e3;
                pmax = lat[nlat - 1] / 1e3;
        }
        if (!quiet)
                printf("conns=%d calls=%lld secs=%.3f calls_per_s=%.0f p50_us=%.1f p99_us=%.1f max_us=%.1f errors=%d\n",
                       nconns, calls, secs, secs > 0 ? calls / secs : 0, p50, p99, pmax, errors);
        for (int i = 0; i < nconns; i++) {
                close(cs[i].fd);
                free(cs[i].buf);
        }
        free(cs);
        free(pfd);
        free(lat);
        return errors || calls == 0 ? 1 : 0;
}
