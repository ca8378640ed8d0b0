/* SPDX-License-Identifier: MIT */
/* echo-server: the "does nothing" baseline for bench/bench-foundation.sh.
 *
 * Usage: echo-server SOCKET_PATH
 *
 * Binds a UNIX stream socket, sends READY=1 to $NOTIFY_SOCKET (if set) once it listens, and answers
 * every NUL-terminated message with one fixed, canned GetStatus-shaped reply followed by a NUL,
 * without parsing anything. epoll, one thread, no allocation after start. Exits on SIGTERM/SIGINT.
 * Plain libc: no libsystemd, no JSON library. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_CONNS 1024
#define IN_MAX 4096
#define OUT_MAX 8192

struct conn {
        int fd;
        size_t in_len, out_len, out_off;
        char in[IN_MAX];
        char out[OUT_MAX];
};

static struct conn *conns[MAX_CONNS];
static char reply[512];
static size_t reply_len;

static int notify_ready(void) {
        const char *e = getenv("NOTIFY_SOCKET");
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        socklen_t len;
        int fd, r;

        if (!e || !*e)
                return 0;
        if (e[0] != '/' && e[0] != '@')
                return -EINVAL;
        if (strlen(e) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, e);
        if (e[0] == '@')
                sa.sun_path[0] = 0;
        len = offsetof(struct sockaddr_un, sun_path) + strlen(e) + (e[0] == '@' ? 0 : 1);
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        r = sendto(fd, "READY=1", 7, MSG_NOSIGNAL, (struct sockaddr *) &sa, len) < 0 ? -errno : 0;
        close(fd);
        return r;
}

static void conn_close(int ep, struct conn *c) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        conns[c->fd] = NULL;
        free(c);
}

/* Returns <0 when the connection must go. */
static int conn_flush(int ep, struct conn *c) {
        while (c->out_off < c->out_len) {
                ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) {
                                struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.fd = c->fd };
                                return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                        }
                        return -1;
                }
                c->out_off += (size_t) n;
        }
        c->out_off = c->out_len = 0;
        struct epoll_event ev = { .events = EPOLLIN, .data.fd = c->fd };
        return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static int conn_read(int ep, struct conn *c) {
        for (;;) {
                ssize_t n = read(c->fd, c->in + c->in_len, IN_MAX - c->in_len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        return -1;
                }
                if (n == 0)
                        return -1;
                c->in_len += (size_t) n;
                size_t start = 0;
                char *z;
                while ((z = memchr(c->in + start, 0, c->in_len - start))) {
                        if (c->out_len + reply_len > OUT_MAX)
                                return -1; /* client does not read its replies */
                        memcpy(c->out + c->out_len, reply, reply_len);
                        c->out_len += reply_len;
                        start = (size_t) (z - c->in) + 1;
                }
                memmove(c->in, c->in + start, c->in_len - start);
                c->in_len -= start;
                if (c->in_len == IN_MAX)
                        return -1; /* message too large */
                if ((size_t) n < IN_MAX)
                        break;
        }
        return c->out_len > 0 ? conn_flush(ep, c) : 0;
}

int main(int argc, char *argv[]) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct epoll_event evs[64];
        int lfd, ep;

        if (argc != 2 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
                fprintf(stderr, "Usage: echo-server SOCKET_PATH\n");
                return 2;
        }
        signal(SIGPIPE, SIG_IGN);
        reply_len = (size_t) snprintf(reply, sizeof(reply),
                "{\"parameters\":{\"version\":\"0.0.0\",\"node\":\"baseline\",\"pid\":%d,"
                "\"started_at_usec\":1700000000000000,\"uptime_usec\":1000000,"
                "\"config\":\"/etc/ballast/ballast.json\",\"config_loaded_at_usec\":1700000000000000,"
                "\"services\":{\"total\":0,\"active\":0,\"failed\":0},\"waiting_for\":[],\"connections\":1}}",
                (int) getpid()) + 1; /* the trailing NUL is the Varlink message terminator */

        strcpy(sa.sun_path, argv[1]);
        (void) unlink(argv[1]);
        lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (lfd < 0 || bind(lfd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(lfd, SOMAXCONN) < 0) {
                perror("echo-server: listen");
                return 1;
        }
        ep = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event lev = { .events = EPOLLIN, .data.fd = lfd };
        if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) < 0) {
                perror("echo-server: epoll");
                return 1;
        }
        if (notify_ready() < 0)
                fprintf(stderr, "echo-server: could not send READY=1\n");

        for (;;) {
                int n = epoll_wait(ep, evs, 64, -1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        perror("echo-server: epoll_wait");
                        return 1;
                }
                for (int i = 0; i < n; i++) {
                        int fd = evs[i].data.fd;
                        if (fd == lfd) {
                                for (;;) {
                                        int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                                        if (cfd < 0)
                                                break;
                                        struct conn *c = cfd < MAX_CONNS ? malloc(sizeof(*c)) : NULL;
                                        struct epoll_event cev = { .events = EPOLLIN, .data.fd = cfd };
                                        if (!c || epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &cev) < 0) {
                                                free(c);
                                                close(cfd);
                                                continue;
                                        }
                                        c->fd = cfd;
                                        c->in_len = c->out_len = c->out_off = 0;
                                        conns[cfd] = c;
                                }
                                continue;
                        }
                        struct conn *c = fd >= 0 && fd < MAX_CONNS ? conns[fd] : NULL;
                        if (!c)
                                continue;
                        int r = 0;
                        if (evs[i].events & (EPOLLERR | EPOLLHUP))
                                r = -1;
                        if (r >= 0 && (evs[i].events & EPOLLOUT))
                                r = conn_flush(ep, c);
                        if (r >= 0 && (evs[i].events & EPOLLIN))
                                r = conn_read(ep, c);
                        if (r < 0)
                                conn_close(ep, c);
                }
        }
}
