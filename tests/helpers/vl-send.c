/* SPDX-License-Identifier: MIT */
/* vl-send SOCKET [TIMEOUT_MS]: sends stdin to a UNIX stream socket as raw bytes (NULs and all), keeps reading
 * while it sends (a server may answer and close before it has read everything), and prints every message it
 * receives with its NUL turned into a newline. For the shell tests of the control socket's bad inputs. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char *argv[]) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int timeout_ms = argc > 2 ? atoi(argv[2]) : 5000;
        static char in[1 << 16], out[1 << 16];
        size_t in_len = 0, in_off = 0;
        int fd, stdin_open = 1, sending = 1;

        if (argc < 2 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
                fprintf(stderr, "usage: vl-send SOCKET [TIMEOUT_MS] <message\n");
                return 2;
        }
        strcpy(sa.sun_path, argv[1]);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                perror("vl-send: connect");
                return 1;
        }
        for (;;) {
                /* stdin at its end is left out: poll() would report its POLLHUP at once, forever, and the
                 * timeout would never come */
                struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = stdin_open ? STDIN_FILENO : -1 } };
                if (sending && in_off < in_len)
                        p[0].events |= POLLOUT;
                else if (stdin_open)
                        p[1].events = POLLIN;
                int n = poll(p, 2, timeout_ms);
                if (n == 0)
                        return 3; /* timed out waiting for the server */
                if (n < 0)
                        return 1;
                if (p[1].events && p[1].revents) {
                        ssize_t k = read(STDIN_FILENO, in, sizeof(in));
                        if (k <= 0) {
                                stdin_open = 0;
                                shutdown(fd, SHUT_WR);
                        } else {
                                in_len = (size_t) k;
                                in_off = 0;
                        }
                }
                if (p[0].revents & POLLOUT) {
                        ssize_t k = send(fd, in + in_off, in_len - in_off, MSG_NOSIGNAL);
                        if (k < 0)
                                sending = stdin_open = 0; /* the server closed: read what it said */
                        else
                                in_off += (size_t) k;
                }
                if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
                        ssize_t k = recv(fd, out, sizeof(out), 0);
                        if (k <= 0)
                                return 0;
                        for (ssize_t i = 0; i < k; i++)
                                putchar(out[i] ? out[i] : '\n');
                        fflush(stdout);
                }
        }
}
