/* SPDX-License-Identifier: MIT */
/* vl-hold: what a local user can make ballastd buffer. Opens CONNS connections to SOCKET and sends on each BYTES
 * bytes of a message that never ends (a GetStatus call whose "pad" string goes on: no NUL), multiplexed with
 * poll(), for up to SECONDS/2; then prints one line and holds the connections open until SECONDS have passed.
 *
 * Usage: vl-hold SOCKET CONNS BYTES SECONDS
 * Prints: "opened=N refused=N full=N closed=N busy=N bytes=N": connections opened, refused at once (connect
 * failed or closed before a byte was sent), that sent all BYTES and are still open (sent: into the socket, which
 * holds some even before the server reads), closed by the server, answered io.ballast.Agent.ServerBusy (and
 * closed); bytes sent in all. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 4096

typedef struct Conn {
        int fd;
        size_t sent;
        int state; /* 0 sending, 1 full, 2 closed */
        int busy;
} Conn;

static long long now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv) {
        static const char head[] = "{\"method\":\"io.ballast.Agent.GetStatus\",\"parameters\":{\"pad\":\"";
        static Conn c[MAX_CONNS];
        static struct pollfd p[MAX_CONNS];
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        unsigned n, opened = 0, refused = 0, full = 0, closed = 0, busy = 0;
        unsigned long long total = 0;
        size_t bytes;
        long long end, send_end;
        char *msg;

        if (argc != 5) {
                fprintf(stderr, "usage: vl-hold SOCKET CONNS BYTES SECONDS\n");
                return 2;
        }
        n = (unsigned) strtoul(argv[2], NULL, 10);
        bytes = strtoul(argv[3], NULL, 10);
        end = now_ms() + strtoll(argv[4], NULL, 10) * 1000;
        send_end = now_ms() + strtoll(argv[4], NULL, 10) * 500;
        if (n > MAX_CONNS || bytes < sizeof(head) || strlen(argv[1]) >= sizeof(sa.sun_path))
                return 2;
        msg = malloc(bytes);
        if (!msg)
                return 1;
        memcpy(msg, head, sizeof(head) - 1);
        memset(msg + sizeof(head) - 1, 'a', bytes - (sizeof(head) - 1));
        strcpy(sa.sun_path, argv[1]);

        for (unsigned i = 0; i < n; i++) {
                c[i].fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                if (c[i].fd < 0 || connect(c[i].fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                        if (c[i].fd >= 0)
                                close(c[i].fd);
                        c[i].fd = -1;
                        c[i].state = 2;
                        refused++;
                        continue;
                }
                opened++;
        }
        for (;;) {
                unsigned active = 0;
                long long now = now_ms();

                /* until send_end: a connection that sent all may still hear ServerBusy, or be closed */
                for (unsigned i = 0; i < n; i++) {
                        p[i] = (struct pollfd) { .fd = c[i].state < 2 ? c[i].fd : -1,
                                                 .events = c[i].state == 0 ? POLLOUT | POLLIN : POLLIN };
                        active += c[i].state < 2;
                }
                if (active == 0 || now >= send_end)
                        break;
                if (poll(p, n, (int) (send_end - now)) < 0 && errno != EINTR)
                        return 1;
                for (unsigned i = 0; i < n; i++) {
                        if (c[i].state == 2 || !p[i].revents)
                                continue;
                        if (p[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                                char buf[512];
                                ssize_t k = read(c[i].fd, buf, sizeof(buf) - 1);
                                if (k > 0) {
                                        buf[k] = 0;
                                        c[i].busy = strstr(buf, "io.ballast.Agent.ServerBusy") != NULL;
                                }
                                if (k <= 0 || c[i].busy) {
                                        c[i].state = 2;
                                        continue;
                                }
                        }
                        if (c[i].state == 0 && (p[i].revents & POLLOUT)) {
                                ssize_t k = send(c[i].fd, msg + c[i].sent, bytes - c[i].sent, MSG_NOSIGNAL);
                                if (k < 0) {
                                        if (errno != EAGAIN)
                                                c[i].state = 2;
                                        continue;
                                }
                                c[i].sent += (size_t) k;
                                total += (unsigned long long) k;
                                if (c[i].sent == bytes)
                                        c[i].state = 1;
                        }
                }
        }
        for (unsigned i = 0; i < n; i++) {
                full += c[i].state == 1 && !c[i].busy;
                busy += c[i].busy;
                closed += c[i].state == 2 && c[i].fd >= 0;
                if (c[i].state == 2 && c[i].fd >= 0 && c[i].sent == 0 && !c[i].busy) {
                        refused++;
                        closed--;
                }
        }
        printf("opened=%u refused=%u full=%u closed=%u busy=%u bytes=%llu\n", opened, refused, full, closed, busy,
               total);
        fflush(stdout);
        free(msg);
        while (now_ms() < end)
                usleep(50000);
        return 0;
}
