/* SPDX-License-Identifier: MIT */
/* The FleetLock endpoint tests' fixture (tests/unit/lockserver-fixture.h): a LockServer on an sd-event loop in
 * this process, on 127.0.0.1 port 0, its handler, and the clients: libcurl in a thread of the test while the main
 * thread runs the loop (as ballastd's loop would), and raw sockets. */

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lockserver-fixture.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/time-util.h"
#include "tap.h"

HandlerState H;
sd_event *E;
LockServer *S;
char BASE[64];
const char zincati_body[] = "{\n"
                            "  \"client_params\": {\n"
                            "    \"id\": \"" ZINCATI_ID "\",\n"
                            "    \"group\": \"default\"\n"
                            "  }\n"
                            "}";

int handler(LockServerOp op, const char *id, const char *group, const char **ret_kind, char **ret_value,
            void *userdata) {
        H.calls++;
        H.op = op;
        snprintf(H.id, sizeof(H.id), "%s", id);
        snprintf(H.group, sizeof(H.group), "%s", group);
        switch (H.mode) {
        case MODE_ALLOW:
                return 0;
        case MODE_BUSY:
                *ret_kind = "outside_window";
                *ret_value = strdup("outside the maintenance window (next: Sat 02:00 UTC)");
                return -EBUSY;
        case MODE_AGAIN:
                *ret_kind = "draining";
                *ret_value = strdup("draining the node's services");
                return -EAGAIN;
        case MODE_FAIL:
                *ret_kind = "lock_server_unreachable";
                *ret_value = strdup("the cluster's FleetLock server did not answer");
                return -EIO;
        case MODE_DASHED:
                *ret_kind = "outside-window";
                *ret_value = strdup("outside the maintenance window");
                return -EBUSY;
        case MODE_NO_KIND:
                return -EIO;
        }
        return -EINVAL;
}

/* ---- running a client while the loop runs ---- */

static size_t on_write(char *p, size_t size, size_t n, void *userdata) {
        Call *c = userdata;
        char *r = realloc(c->response, c->response_size + size * n + 1);
        if (!r)
                return 0;
        memcpy(r + c->response_size, p, size * n);
        c->response_size += size * n;
        r[c->response_size] = '\0';
        c->response = r;
        return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *userdata) {
        Call *c = userdata;
        size_t len = size * n;

        if (len > 6 && strncasecmp(p, "Allow:", 6) == 0)
                snprintf(c->allow, sizeof(c->allow), "%.*s", (int) strcspn(p + 7, "\r\n"), p + 7);
        if (len > 13 && strncasecmp(p, "Content-Type:", 13) == 0)
                snprintf(c->content_type, sizeof(c->content_type), "%.*s", (int) strcspn(p + 14, "\r\n"), p + 14);
        return len;
}

typedef struct ReadState {
        const char *data;
        size_t left;
} ReadState;

static size_t on_read(char *buf, size_t size, size_t n, void *userdata) {
        ReadState *rs = userdata;
        size_t k = MIN(size * n, rs->left);
        memcpy(buf, rs->data, k);
        rs->data += k;
        rs->left -= k;
        return k;
}

CURL *shared_handle;

void perform(CURL *h, Call *c) {
        char url[256];
        struct curl_slist *headers = NULL;
        ReadState rs = {};

        free(c->response);
        c->response = NULL;
        c->response_size = 0;
        c->allow[0] = c->content_type[0] = '\0';

        curl_easy_reset(h);
        snprintf(url, sizeof(url), "%s%s", BASE, c->path);
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->method ?: "POST");
        if (!c->no_header) {
                char line[128];
                snprintf(line, sizeof(line), "fleet-lock-protocol: %s", c->header ?: "true");
                headers = curl_slist_append(headers, line);
        }
        /* Zincati's reqwest sends no Content-Type for a string body; curl would add a form's */
        headers = curl_slist_append(headers, "Content-Type:");
        if (c->body) {
                size_t n = c->body_size ?: strlen(c->body);
                if (c->chunked) {
                        rs = (ReadState) { c->body, n };
                        headers = curl_slist_append(headers, "Transfer-Encoding: chunked");
                        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
                        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->method ?: "POST");
                        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
                        curl_easy_setopt(h, CURLOPT_READDATA, &rs);
                } else {
                        curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body);
                        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) n);
                }
        } else if (!c->method || streq(c->method, "POST")) {
                curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        }
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms ?: 10000L);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        if (c->fresh)
                curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);

        c->rc = curl_easy_perform(h);
        c->status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
        curl_slist_free_all(headers);
}

typedef struct Job {
        void (*fn)(void *arg);
        void *arg;
        int efd; /* written when fn returns: wakes the loop */
        atomic_bool done;
} Job;

static void *job_thread(void *p) {
        Job *j = p;
        uint64_t one = 1;

        j->fn(j->arg);
        atomic_store(&j->done, true);
        if (write(j->efd, &one, sizeof(one)) < 0)
                diag("cannot wake the loop: %s", strerror(errno));
        return NULL;
}

static int on_job_done(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        uint64_t n;

        /* it only wakes the loop up */
        if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
                diag("cannot read the eventfd: %s", strerror(errno));
        return 0;
}

/* Runs fn(arg) in a thread while this thread runs the loop, at most max_sec. The loop wakes up only for its
 * own sources and the thread's end, as ballastd's would: nothing here hides a source that fires late. */
bool run_with_loop(void (*fn)(void *), void *arg, unsigned max_sec) {
        Job j = { .fn = fn, .arg = arg, .efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) };
        sd_event_source *done_source = NULL;
        pthread_t t;
        uint64_t end = now_usec(CLOCK_MONOTONIC) + max_sec * USEC_PER_SEC, now;

        if (j.efd < 0 || sd_event_add_io(E, &done_source, j.efd, EPOLLIN, on_job_done, NULL) < 0 ||
            pthread_create(&t, NULL, job_thread, &j) != 0) {
                safe_close(j.efd);
                return false;
        }
        while (!atomic_load(&j.done) && (now = now_usec(CLOCK_MONOTONIC)) < end)
                (void) sd_event_run(E, end - now);
        bool finished = atomic_load(&j.done);
        if (!finished)
                diag("a client did not finish within %u s", max_sec);
        pthread_join(t, NULL); /* curl's own timeout ends it */
        sd_event_source_disable_unref(done_source);
        safe_close(j.efd);
        return finished;
}

static void call_fn(void *p) {
        perform(shared_handle, p);
}

Call *call(Call *c) {
        run_with_loop(call_fn, c, 20);
        return c;
}

/* The error document: {"kind":…,"value":…}, and nothing else. */
bool error_doc(const Call *c, const char *kind, const char *value) {
        json_error_t err;
        json_t *doc = c->response ? json_loads(c->response, 0, &err) : NULL;
        const char *k = NULL, *v = NULL;
        bool good = doc && json_is_object(doc) && json_object_size(doc) == 2 &&
                    json_unpack(doc, "{s:s,s:s}", "kind", &k, "value", &v) == 0 && streq(k, kind) &&
                    (!value || streq(v, value)) && !isempty(v);
        if (!good)
                diag("response: %s", c->response ?: "(none)");
        json_decref(doc);
        return good;
}

void call_reset(Call *c) {
        free(c->response);
        *c = (Call) {};
}

/* ---- raw sockets ---- */

int raw_connect(void) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(lock_server_port(S)) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return safe_close(fd);
        return fd;
}

typedef struct Reader {
        char *buf;
        size_t size, have;
        bool closed;
} Reader;

static int on_readable(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Reader *rd = userdata;

        for (;;) {
                char tmp[4096];
                ssize_t n = recv(fd, tmp, sizeof(tmp), MSG_DONTWAIT);

                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                        rd->closed = true;
                        return sd_event_source_set_enabled(s, SD_EVENT_OFF);
                }
                if (n < 0)
                        return 0;
                if (rd->buf && rd->have + 1 < rd->size) {
                        size_t k = MIN((size_t) n, rd->size - 1 - rd->have);
                        memcpy(rd->buf + rd->have, tmp, k);
                        rd->have += k;
                        rd->buf[rd->have] = '\0';
                }
        }
}

/* Runs the loop until fd is closed by the peer (EOF or reset), at most max_msec; what was read goes to buf. The
 * client's fd is a source of the loop: the loop wakes up for it and for the server's sources, nothing else. */
bool wait_closed(int fd, unsigned max_msec, char *buf, size_t size) {
        uint64_t end = now_usec(CLOCK_MONOTONIC) + max_msec * USEC_PER_MSEC, now;
        Reader rd = { .buf = buf, .size = size };
        sd_event_source *source = NULL;

        if (buf)
                buf[0] = '\0';
        if (sd_event_add_io(E, &source, fd, EPOLLIN | EPOLLRDHUP, on_readable, &rd) < 0)
                return false;
        while (!rd.closed && (now = now_usec(CLOCK_MONOTONIC)) < end)
                (void) sd_event_run(E, end - now);
        sd_event_source_disable_unref(source);
        return rd.closed;
}

/* Sends a whole request and returns the whole answer (the request says "Connection: close"). */
bool raw_exchange(const char *request, char *buf, size_t size) {
        _cleanup_close_ int fd = raw_connect();
        if (fd < 0 || send(fd, request, strlen(request), MSG_NOSIGNAL) != (ssize_t) strlen(request))
                return false;
        return wait_closed(fd, 10000, buf, size);
}

/* ---- the endpoint's life ---- */

/* An event loop and the endpoint on it (3 checks); 0, or -1 when the endpoint could not listen. */
int lockserver_fixture_start(void) {
        int r;

        log_setup(LOG_TARGET_STDERR, getenv("TEST_LOG_DEBUG") ? LOG_DEBUG : LOG_WARNING);
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
                return -1;
        shared_handle = curl_easy_init();

        r = sd_event_new(&E);
        ok(r >= 0, "an event loop");
        r = lock_server_new(&S, E, "127.0.0.1", 0, handler, NULL);
        is_int(r, 0, "lock_server_new() on 127.0.0.1 port 0");
        if (r < 0)
                return -1;
        ok(lock_server_port(S) > 0, "listening on port %u", lock_server_port(S));
        snprintf(BASE, sizeof(BASE), "http://127.0.0.1:%u/", lock_server_port(S));
        return 0;
}

/* Frees the endpoint (2 checks) and the loop; the program's exit status. */
int lockserver_fixture_finish(void) {
        S = lock_server_free(S);
        ok(!S, "freed");
        /* a stopped endpoint leaves nothing behind on the loop */
        ok(sd_event_run(E, 0) >= 0, "the loop runs on after the endpoint is freed");
        sd_event_unref(E);
        curl_easy_cleanup(shared_handle);
        curl_global_cleanup();
        return tap_done();
}
