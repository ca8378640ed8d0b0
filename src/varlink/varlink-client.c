/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "shared/json-util.h"
#include "shared/time-util.h"
#include "varlink/varlink-client.h"

#define CLIENT_MAX_MESSAGE (16U * 1024U * 1024U)

struct VarlinkClient {
        int fd;
        char *buf;
        size_t size, allocated;
};

int varlink_client_connect(VarlinkClient **ret, const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -1;
        VarlinkClient *c;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        c = calloc(1, sizeof(VarlinkClient));
        if (!c)
                return -ENOMEM;
        c->fd = TAKE_FD(fd);
        *ret = c;
        return 0;
}

VarlinkClient *varlink_client_free(VarlinkClient *c) {
        if (!c)
                return NULL;
        safe_close(c->fd);
        free(c->buf);
        free(c);
        return NULL;
}

int varlink_client_send(VarlinkClient *c, const char *method, json_t *parameters, bool more) {
        _cleanup_json_ json_t *m = json_pack("{s:s,s:o}", "method", method, "parameters",
                                             parameters ? json_incref(parameters) : json_object());
        _cleanup_free_ char *text = NULL;
        size_t n, done = 0;

        if (!m)
                return -ENOMEM;
        if (more)
                json_object_set_new(m, "more", json_true());
        text = json_dumps(m, JSON_COMPACT);
        if (!text)
                return -ENOMEM;
        n = strlen(text) + 1; /* with the NUL that ends the message */
        while (done < n) {
                ssize_t k = send(c->fd, text + done, n - done, MSG_NOSIGNAL);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                done += (size_t) k;
        }
        return 0;
}

int varlink_client_read(VarlinkClient *c, uint64_t timeout_usec, json_t **ret_parameters, char **ret_error,
                        bool *ret_continues) {
        return varlink_client_read_until(c, timeout_usec ? now_usec(CLOCK_MONOTONIC) + timeout_usec : 0,
                                         ret_parameters, ret_error, ret_continues);
}

int varlink_client_read_until(VarlinkClient *c, uint64_t deadline, json_t **ret_parameters, char **ret_error,
                              bool *ret_continues) {
        _cleanup_json_ json_t *msg = NULL;
        json_t *params, *error;
        char *nul;
        size_t len;

        while (!(nul = c->buf ? memchr(c->buf, 0, c->size) : NULL)) {
                struct pollfd p = { .fd = c->fd, .events = POLLIN };
                int ms = -1;
                ssize_t k;

                if (deadline) {
                        uint64_t now = now_usec(CLOCK_MONOTONIC);
                        if (now >= deadline)
                                return -ETIMEDOUT;
                        ms = (int) ((deadline - now + 999) / 1000);
                }
                if (poll(&p, 1, ms) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
                        continue;
                if (c->allocated - c->size < 4096) {
                        size_t a = c->allocated ? c->allocated * 2 : 65536;
                        char *b;
                        if (a > CLIENT_MAX_MESSAGE)
                                return -EMSGSIZE;
                        b = realloc(c->buf, a);
                        if (!b)
                                return -ENOMEM;
                        c->buf = b;
                        c->allocated = a;
                }
                k = recv(c->fd, c->buf + c->size, c->allocated - c->size, 0);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return -ECONNRESET;
                c->size += (size_t) k;
        }

        len = (size_t) (nul - c->buf);
        msg = json_loadb(c->buf, len, 0, NULL);
        memmove(c->buf, nul + 1, c->size - len - 1);
        c->size -= len + 1;
        if (!json_is_object(msg))
                return -EBADMSG;

        params = json_object_get(msg, "parameters");
        error = json_object_get(msg, "error");
        if (error && !json_is_string(error))
                return -EBADMSG;
        if (ret_error) {
                *ret_error = error ? strdup(json_string_value(error)) : NULL;
                if (error && !*ret_error)
                        return -ENOMEM;
        }
        if (ret_continues)
                *ret_continues = json_is_true(json_object_get(msg, "continues"));
        *ret_parameters = json_is_object(params) ? json_incref(params) : json_object();
        return 0;
}

int varlink_client_call(VarlinkClient *c, const char *method, json_t *parameters, uint64_t timeout_usec,
                        json_t **ret_parameters, char **ret_error) {
        int r = varlink_client_send(c, method, parameters, false);
        if (r < 0)
                return r;
        return varlink_client_read(c, timeout_usec, ret_parameters, ret_error, NULL);
}

int varlink_client_call_until(VarlinkClient *c, const char *method, json_t *parameters, uint64_t deadline,
                              json_t **ret_parameters, char **ret_error) {
        int r = varlink_client_send(c, method, parameters, false);
        if (r < 0)
                return r;
        return varlink_client_read_until(c, deadline, ret_parameters, ret_error, NULL);
}
