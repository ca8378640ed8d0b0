/* SPDX-License-Identifier: MIT */
/* src/http/http.c against a loopback server (a thread reading one request): a body is sent as exactly the
 * body_size bytes given, NULs included; a header list that cannot be built fails the request (-ENOMEM) rather
 * than sending it without its headers. curl_slist_append() is interposed below to fail on demand: the
 * executable's definition wins over libcurl's for the calls from libhttp.a. */

#include <arpa/inet.h>
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http.h"
#include "shared/log.h"
#include "shared/time-util.h"
#include "tap.h"

static const char *fail_header; /* curl_slist_append() fails for this one */

struct curl_slist *curl_slist_append(struct curl_slist *list, const char *s) {
        static struct curl_slist *(*real)(struct curl_slist *, const char *);

        if (fail_header && strcmp(s, fail_header) == 0)
                return NULL;
        if (!real)
                real = (struct curl_slist * (*) (struct curl_slist *, const char *)) dlsym(RTLD_NEXT, "curl_slist_append");
        return real(list, s);
}

typedef struct Server {
        int fd;
        uint16_t port;
        char request[8192];
        size_t size;
} Server;

static void *serve_one(void *userdata) {
        Server *s = userdata;
        int fd = accept(s->fd, NULL, NULL);
        const char *end;
        size_t want = SIZE_MAX;

        if (fd < 0)
                return NULL;
        while (s->size < sizeof(s->request) && s->size < want) {
                ssize_t n = read(fd, s->request + s->size, sizeof(s->request) - s->size);
                if (n <= 0)
                        break;
                s->size += n;
                end = memmem(s->request, s->size, "\r\n\r\n", 4);
                if (end && want == SIZE_MAX) {
                        const char *cl = strcasestr(s->request, "Content-Length:");
                        want = (size_t) (end + 4 - s->request) + (cl && cl < end ? strtoul(cl + 15, NULL, 10) : 0);
                }
        }
        static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        (void) !write(fd, reply, sizeof(reply) - 1);
        close(fd);
        return NULL;
}

static void server_start(Server *s, pthread_t *t) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);

        *s = (Server) {};
        s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s->fd < 0 || bind(s->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(s->fd, 4) < 0 ||
            getsockname(s->fd, (struct sockaddr *) &sa, &len) < 0)
                abort();
        s->port = ntohs(sa.sin_port);
        if (pthread_create(t, NULL, serve_one, s) != 0)
                abort();
}

typedef struct Done {
        bool done;
        int error;
        long status;
} Done;

static void on_done(HttpRequest *req, int error, const char *message, long status, const char *body, size_t size,
                    void *userdata) {
        Done *d = userdata;
        d->done = true;
        d->error = error;
        d->status = status;
}

/* A body with a NUL inside: all of it goes out, nothing past it (the old copy was strndup(): "a", then bytes
 * read past the end of that copy). */
static void test_body_with_nul(sd_event *e, HttpClient *c) {
        static const char body[] = { '{', '"', 'a', '\0', 'b', '"', '}' };
        Server s;
        pthread_t t;
        Done d = {};
        char url[64];
        const char *sent;

        server_start(&s, &t);
        snprintf(url, sizeof(url), "http://127.0.0.1:%u/x", s.port);
        is_int(http_request_start(c, &(HttpRequestOptions) { .method = "POST", .url = url, .body = body,
                                                            .body_size = sizeof(body), .timeout_ms = 10000 },
                                  on_done, &d, NULL),
               0, "POST started");
        for (unsigned i = 0; !d.done && i < 1000; i++)
                (void) sd_event_run(e, 10 * USEC_PER_MSEC);
        pthread_join(t, NULL);
        close(s.fd);
        is_int(d.status, 200, "answered");
        sent = memmem(s.request, s.size, "\r\n\r\n", 4);
        ok(sent, "a request was read");
        if (!sent)
                return;
        sent += 4;
        is_int(s.request + s.size - sent, sizeof(body), "the body sent is body_size bytes");
        ok(memcmp(sent, body, sizeof(body)) == 0, "and exactly the bytes given, the NUL and what follows it included");
}

/* A failed curl_slist_append(): the request fails, the list built so far is freed (LeakSanitizer), nothing is
 * sent without its headers. */
static void test_header_append_fails(sd_event *e, HttpClient *c) {
        static const char *const headers[] = { "X-One: 1", "X-Two: 2", NULL };
        static const char *const fail[] = { "Content-Type: application/json", "Expect:", "X-One: 1", "X-Two: 2" };
        Done d = {};

        for (size_t i = 0; i < ELEMENTSOF(fail); i++) {
                fail_header = fail[i];
                is_int(http_request_start(c, &(HttpRequestOptions) { .method = "POST", .url = "http://127.0.0.1:9/",
                                                                    .body = "{}", .body_size = 2, .headers = headers },
                                          on_done, &d, NULL),
                       -ENOMEM, "the request fails when \"%s\" cannot be added", fail[i]);
                is_int(http_client_n_active(c), 0, "  and is gone");
        }
        fail_header = NULL;
        for (unsigned i = 0; i < 3; i++)
                (void) sd_event_run(e, 0);
        ok(!d.done, "no callback for a request that failed to start");
}

int main(void) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(http_client_freep) HttpClient *c = NULL;

        log_set_max_level(LOG_ERR);
        if (sd_event_new(&e) < 0 || http_client_new(&c, e) < 0)
                return 1;
        test_body_with_nul(e, c);
        test_header_append_fails(e, c);
        c = http_client_free(c);
        return tap_done();
}
