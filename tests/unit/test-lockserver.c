/* SPDX-License-Identifier: MIT */
/* The FleetLock endpoint (src/updates/lockserver.c): a LockServer on an sd-event loop in this process, on 127.0.0.1
 * port 0, and real HTTP clients: libcurl (in a thread of the test, while the main thread runs the loop, as
 * ballastd's loop would) and raw sockets for what curl will not send (a request that stops half-way, a
 * declared length far beyond the limit, idle connections). The requests Zincati sends are copied from
 * coreos/zincati src/fleet_lock (URL joined onto base_url, header "fleet-lock-protocol: true", a pretty-printed
 * JSON body, no Content-Type; any 2xx is success). */

#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <systemd/sd-event.h>

#include "updates/lockserver.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/time-util.h"
#include "tap.h"
#include "updates/updater.h"
#include "updates/zincati.h"

/* ---- the handler: what the policy would answer ---- */

typedef enum Mode {
        MODE_ALLOW,
        MODE_BUSY,       /* -EBUSY: 409 */
        MODE_AGAIN,      /* -EAGAIN: 409 */
        MODE_FAIL,       /* -EIO: 500 */
        MODE_DASHED,     /* -EBUSY with a kind that has a '-' */
        MODE_NO_KIND,    /* -EIO without kind or value */
} Mode;

static struct {
        Mode mode;
        unsigned calls;
        LockServerOp op;
        char id[300], group[300];
} H;

static int handler(LockServerOp op, const char *id, const char *group, const char **ret_kind, char **ret_value,
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

static sd_event *E;
static LockServer *S;
static char BASE[64]; /* http://127.0.0.1:PORT/ */

typedef struct Call {
        const char *method; /* default POST */
        const char *path;   /* joined onto BASE */
        const char *body;   /* NULL: none */
        size_t body_size;   /* 0: strlen(body) */
        bool no_header;     /* no fleet-lock-protocol header */
        const char *header; /* another value of it */
        bool chunked;
        bool fresh;         /* a new connection (curl_easy_reset is not enough to say it) */
        long timeout_ms;

        /* results */
        CURLcode rc;
        long status;
        char *response;
        size_t response_size;
        char allow[64];
        char content_type[64];
} Call;

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

static CURL *shared_handle; /* keeps its connection between calls, as Zincati's client does */

static void perform(CURL *h, Call *c) {
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
static bool run_with_loop(void (*fn)(void *), void *arg, unsigned max_sec) {
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

static Call *call(Call *c) {
        run_with_loop(call_fn, c, 20);
        return c;
}

/* The error document: {"kind":…,"value":…}, and nothing else. */
static bool error_doc(const Call *c, const char *kind, const char *value) {
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

static void call_reset(Call *c) {
        free(c->response);
        *c = (Call) {};
}

/* ---- raw sockets ---- */

static int raw_connect(void) {
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
static bool wait_closed(int fd, unsigned max_msec, char *buf, size_t size) {
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
static bool raw_exchange(const char *request, char *buf, size_t size) {
        _cleanup_close_ int fd = raw_connect();
        if (fd < 0 || send(fd, request, strlen(request), MSG_NOSIGNAL) != (ssize_t) strlen(request))
                return false;
        return wait_closed(fd, 10000, buf, size);
}

/* ---- the tests ---- */

#define ZINCATI_ID "e0f3745b108f471cbd4883c6fbed8cdd"
/* what Zincati's ClientBuilder sends: serde_json::to_string_pretty() of its ClientIdentity */
static const char zincati_body[] = "{\n"
                                   "  \"client_params\": {\n"
                                   "    \"id\": \"" ZINCATI_ID "\",\n"
                                   "    \"group\": \"default\"\n"
                                   "  }\n"
                                   "}";

static void test_zincati(void) {
        Call c = { .path = "v1/pre-reboot", .body = zincati_body };

        /* Zincati joins "v1/pre-reboot" onto base_url: with the base_url ballast writes into its drop-in, that
         * is the path served here */
        ok(strneq(UPDATER_FLEETLOCK_BASE_URL, "http://127.0.0.1:", 17) &&
                   UPDATER_FLEETLOCK_BASE_URL[strlen(UPDATER_FLEETLOCK_BASE_URL) - 1] == '/' &&
                   !strchr(UPDATER_FLEETLOCK_BASE_URL + 7, '/')[1],
           "the base_url ballast gives Zincati (%s) is a host root: Zincati's join gives /v1/pre-reboot",
           UPDATER_FLEETLOCK_BASE_URL);

        H.mode = MODE_ALLOW;
        H.calls = 0;
        call(&c);
        is_int(c.rc, CURLE_OK, "pre-reboot: the request went through");
        is_int(c.status, 200, "Zincati's pre-reboot, allowed by the policy: 200");
        is_int(c.response_size, 0, "with an empty body");
        is_int(H.calls, 1, "the handler was asked once");
        ok(H.op == LOCK_SERVER_PRE_REBOOT, "as pre-reboot");
        is_str(H.id, ZINCATI_ID, "with Zincati's id");
        is_str(H.group, "default", "and group");

        c.path = "v1/steady-state";
        call(&c);
        is_int(c.status, 200, "Zincati's steady-state: 200");
        ok(H.op == LOCK_SERVER_STEADY_STATE && H.calls == 2, "as steady-state");

        c.path = "v1/pre-reboot";
        H.mode = MODE_BUSY;
        call(&c);
        is_int(c.status, 409, "pre-reboot refused for now (-EBUSY): 409");
        ok(error_doc(&c, "outside_window", "outside the maintenance window (next: Sat 02:00 UTC)"),
           "with the handler's kind and value in a FleetLock error document");
        is_str(c.content_type, "application/json", "as application/json");

        H.mode = MODE_AGAIN;
        call(&c);
        is_int(c.status, 409, "-EAGAIN: 409");
        ok(error_doc(&c, "draining", "draining the node's services"), "kind and value as given");

        H.mode = MODE_FAIL;
        call(&c);
        is_int(c.status, 500, "another error (-EIO): 500");
        ok(error_doc(&c, "lock_server_unreachable", "the cluster's FleetLock server did not answer"),
           "kind and value as given");

        H.mode = MODE_DASHED;
        call(&c);
        is_int(c.status, 409, "a kind with a '-': still 409");
        ok(error_doc(&c, "outside_window", "outside the maintenance window"), "the kind goes out with '_'");

        H.mode = MODE_NO_KIND;
        call(&c);
        is_int(c.status, 500, "a refusal without kind or value: 500");
        ok(error_doc(&c, "generic_error", "generic error"), "with airlock's generic kind and value");

        H.mode = MODE_ALLOW;
        call_reset(&c);
}

static void test_refused_before_handler(void) {
        Call c = {};
        unsigned calls;

        H.mode = MODE_ALLOW;
        calls = H.calls;

        c = (Call) { .path = "v1/pre-reboot", .body = zincati_body, .no_header = true };
        call(&c);
        is_int(c.status, 400, "no fleet-lock-protocol header: 400");
        ok(error_doc(&c, "invalid_client_identity",
                     "failed to validate client identity: wrong 'fleet-lock-protocol' header"),
           "airlock's kind and message");
        call_reset(&c);

        c = (Call) { .path = "v1/pre-reboot", .body = zincati_body, .header = "false" };
        call(&c);
        is_int(c.status, 400, "fleet-lock-protocol: false: 400");
        call_reset(&c);

        c = (Call) { .path = "v1/lock", .body = zincati_body };
        call(&c);
        is_int(c.status, 404, "another path: 404");
        ok(error_doc(&c, "not_found", NULL), "with an error document");
        call_reset(&c);

        c = (Call) { .path = "pre-reboot", .body = zincati_body };
        call(&c);
        is_int(c.status, 404, "/pre-reboot (a base_url joined wrong): 404");
        call_reset(&c);

        c = (Call) { .path = "v1/pre-reboot", .method = "GET" };
        call(&c);
        is_int(c.status, 405, "GET: 405");
        ok(error_doc(&c, "method_not_allowed", NULL), "with an error document");
        is_str(c.allow, "POST", "and Allow: POST");
        call_reset(&c);

        c = (Call) { .path = "v1/steady-state", .method = "PUT", .body = zincati_body };
        call(&c);
        is_int(c.status, 405, "PUT: 405");
        call_reset(&c);

        static const struct {
                const char *body;
                const char *what;
        } bad[] = {
                { "{\"client_params\":{\"id\":\"a\",\"group\":\"default\"}", "unterminated JSON" },
                { "", "an empty body" },
                { "[]", "an array" },
                { "{\"client_params\":{\"node_uuid\":\"a\",\"group\":\"default\"}}", "the old node_uuid instead of id" },
                { "{\"client_params\":{\"id\":\"a\",\"group\":\"no_underscore\"}}", "a group with '_'" },
                { "{\"client_params\":{\"id\":\"\",\"group\":\"default\"}}", "an empty id" },
                { "{\"client_params\":{\"id\":7,\"group\":\"default\"}}", "a number as id" },
                { "{\"client_params\":{\"id\":\"a\",\"group\":\"default\"}} x", "trailing garbage" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                c = (Call) { .path = "v1/pre-reboot", .body = bad[i].body };
                call(&c);
                is_int(c.status, 400, "%s: 400", bad[i].what);
                ok(error_doc(&c, "invalid_client_identity", NULL), "%s: an error document", bad[i].what);
                ok(c.response && strstr(c.response, "failed to validate client identity: "),
                   "%s: that says what is wrong", bad[i].what);
                call_reset(&c);
        }
        is_int(H.calls, calls, "none of these reached the handler");

        c = (Call) { .path = "v1/pre-reboot",
                     .body = "{\"client_params\":{\"id\":\"n1\",\"group\":\"workers\",\"zone\":\"b\"},"
                             "\"version\":2}" };
        call(&c);
        is_int(c.status, 200, "unknown keys, at the top and in client_params: tolerated, 200");
        is_str(H.id, "n1", "and the id is read");
        call_reset(&c);
}

static void test_sizes(void) {
        size_t big = LOCK_SERVER_MAX_BODY + 4096;
        _cleanup_free_ char *body = malloc(big + 1);
        Call c = {};
        char buf[4096];
        unsigned calls = H.calls;

        /* a valid document padded with spaces: only its size is wrong */
        memset(body, ' ', big);
        memcpy(body, zincati_body, strlen(zincati_body));
        body[big] = '\0';

        c = (Call) { .path = "v1/pre-reboot", .body = body };
        call(&c);
        is_int(c.status, 413, "a body of 68 KiB with Content-Length: 413");
        ok(error_doc(&c, "request_too_large", NULL), "with an error document");
        call_reset(&c);

        uint64_t t0 = now_usec(CLOCK_MONOTONIC);
        c = (Call) { .path = "v1/pre-reboot", .body = body, .chunked = true };
        call(&c);
        uint64_t took = (now_usec(CLOCK_MONOTONIC) - t0) / USEC_PER_MSEC;
        is_int(c.status, 413, "a body of 68 KiB, chunked (no length declared): 413");
        /* read whole, one MHD buffer per run: a timer that fires late (sd-event's default accuracy is 250 ms)
         * would make this take seconds */
        ok(took < 2000, "read to its end at once (%" PRIu64 " ms)", took);
        ok(error_doc(&c, "request_too_large", NULL), "with an error document");
        call_reset(&c);

        c = (Call) { .path = "v1/pre-reboot", .body = body, .body_size = LOCK_SERVER_MAX_BODY };
        call(&c);
        is_int(c.status, 200, "a body of exactly 64 KiB (padded JSON): accepted");
        call_reset(&c);

        c = (Call) { .path = "v1/pre-reboot", .body = body, .body_size = LOCK_SERVER_MAX_BODY, .chunked = true };
        call(&c);
        is_int(c.status, 200, "the same, chunked: accepted");
        call_reset(&c);
        is_int(H.calls, calls + 2, "only the two that fit reached the handler");

        ok(raw_exchange("POST /v1/pre-reboot HTTP/1.1\r\nHost: x\r\nfleet-lock-protocol: true\r\n"
                        "Content-Length: 10000000000\r\nConnection: close\r\n\r\n",
                        buf, sizeof(buf)),
           "a declared length of 10 GB, no body sent: answered and closed");
        ok(strneq(buf, "HTTP/1.1 413", 12), "413 before any of the body is read");
        ok(strstr(buf, "\"kind\": \"request_too_large\"") || strstr(buf, "\"kind\":\"request_too_large\""),
           "with an error document");
        if (!strneq(buf, "HTTP/1.1 413", 12))
                diag("got: %s", buf);

        /* 40 KiB of headers, beyond the connection's memory: refused by MHD, the handler never sees it */
        _cleanup_free_ char *huge = malloc(48 * 1024);
        int k = snprintf(huge, 1024, "POST /v1/pre-reboot HTTP/1.1\r\nHost: x\r\nfleet-lock-protocol: true\r\nX-Pad: ");
        memset(huge + k, 'a', 40 * 1024);
        strcpy(huge + k + 40 * 1024, "\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
        t0 = now_usec(CLOCK_MONOTONIC);
        ok(raw_exchange(huge, buf, sizeof(buf)), "40 KiB of headers: answered and closed");
        took = (now_usec(CLOCK_MONOTONIC) - t0) / USEC_PER_MSEC;
        ok(took < 2000, "at once (%" PRIu64 " ms; MHD reads them a little per run)", took);
        ok(strneq(buf, "HTTP/1.1 431", 12), "431: refused by the per-connection memory limit (%.12s)", buf);
        is_int(H.calls, calls + 2, "and not handled");
}

static void test_stall(void) {
        _cleanup_close_ int half_body = -EBADF, half_headers = -EBADF;
        static const char partial_body[] = "POST /v1/pre-reboot HTTP/1.1\r\nHost: x\r\nfleet-lock-protocol: true\r\n"
                                           "Content-Length: 60\r\n\r\n{\"client_params\":";
        static const char partial_headers[] = "POST /v1/pre-reboot HTTP/1.1\r\nHost: x\r\nfleet-lo";
        Call c = { .path = "v1/pre-reboot", .body = zincati_body, .fresh = true };
        unsigned calls = H.calls;
        uint64_t t0;

        half_body = raw_connect();
        half_headers = raw_connect();
        ok(half_body >= 0 && half_headers >= 0, "two clients connected");
        ok(send(half_body, partial_body, strlen(partial_body), MSG_NOSIGNAL) > 0 &&
                   send(half_headers, partial_headers, strlen(partial_headers), MSG_NOSIGNAL) > 0,
           "one stops in the middle of its body, the other in its headers");
        t0 = now_usec(CLOCK_MONOTONIC);

        H.mode = MODE_ALLOW;
        call(&c);
        is_int(c.status, 200, "meanwhile another client is answered");
        ok(now_usec(CLOCK_MONOTONIC) - t0 < 2 * USEC_PER_SEC, "at once (%" PRIu64 " ms)",
           (now_usec(CLOCK_MONOTONIC) - t0) / USEC_PER_MSEC);
        is_int(H.calls, calls + 1, "the stalled ones did not reach the handler");
        call_reset(&c);

        ok(wait_closed(half_body, (LOCK_SERVER_TIMEOUT_SEC + 5) * 1000, NULL, 0),
           "the client stalled in its body is disconnected");
        ok(wait_closed(half_headers, 2000, NULL, 0), "the client stalled in its headers too");
        uint64_t took = (now_usec(CLOCK_MONOTONIC) - t0) / USEC_PER_MSEC;
        ok(took >= (LOCK_SERVER_TIMEOUT_SEC - 1) * 1000 && took < (LOCK_SERVER_TIMEOUT_SEC + 4) * 1000,
           "after the %u s timeout (%" PRIu64 " ms)", LOCK_SERVER_TIMEOUT_SEC, took);
        is_int(H.calls, calls + 1, "and never reached the handler");
}

static void test_connection_limit(void) {
        int fds[LOCK_SERVER_MAX_CONNECTIONS];
        Call c = { .path = "v1/pre-reboot", .body = zincati_body, .fresh = true, .timeout_ms = 1500 };
        bool all = true;

        for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
                fds[i] = raw_connect();
                all = all && fds[i] >= 0;
        }
        ok(all, "%u idle connections opened", LOCK_SERVER_MAX_CONNECTIONS);
        for (unsigned i = 0; i < 10; i++)
                (void) sd_event_run(E, 20 * USEC_PER_MSEC);

        call(&c);
        ok(c.status != 200, "one more is not served while they are open (curl: %s, status %ld)",
           curl_easy_strerror(c.rc), c.status);

        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                safe_close(fds[i]);
        c.timeout_ms = 0;
        call(&c);
        is_int(c.status, 200, "once they are closed, a client is served again");
        call_reset(&c);
}

typedef struct Many {
        unsigned n, ok, fresh_ok;
} Many;

static void many_fn(void *p) {
        Many *m = p;
        Call c = { .body = zincati_body };

        for (unsigned i = 0; i < m->n; i++) {
                c.path = i % 2 ? "v1/steady-state" : "v1/pre-reboot";
                c.fresh = false;
                perform(shared_handle, &c);
                if (c.rc == CURLE_OK && c.status == 200)
                        m->ok++;
        }
        for (unsigned i = 0; i < m->n / 4; i++) {
                c.path = "v1/pre-reboot";
                c.fresh = true;
                perform(shared_handle, &c);
                if (c.rc == CURLE_OK && c.status == 200)
                        m->fresh_ok++;
        }
        free(c.response);
}

static void test_many(void) {
        Many m = { .n = 400 };
        unsigned calls = H.calls;

        uint64_t t0 = now_usec(CLOCK_MONOTONIC);

        H.mode = MODE_ALLOW;
        ok(run_with_loop(many_fn, &m, 60), "400 requests on one kept-alive connection, then 100 on new ones");
        diag("500 requests in %" PRIu64 " ms", (now_usec(CLOCK_MONOTONIC) - t0) / USEC_PER_MSEC);
        is_int(m.ok, m.n, "every kept-alive request answered 200");
        is_int(m.fresh_ok, m.n / 4, "every request on a new connection answered 200");
        is_int(H.calls, calls + m.n + m.n / 4, "each reached the handler once");
}

static void test_new(void) {
        LockServer *s = NULL;
        _cleanup_(lock_server_freep) LockServer *v6 = NULL;

        is_int(lock_server_new(&s, E, "localhost", 0, handler, NULL), -EINVAL,
               "a host name instead of an address: -EINVAL");
        is_int(lock_server_new(&s, E, "127.0.0.1", lock_server_port(S), handler, NULL), -EADDRINUSE,
               "a port already taken: -EADDRINUSE");
        ok(!s, "nothing returned");
        is_int(lock_server_new(&v6, E, "::1", 0, handler, NULL), 0, "IPv6 loopback: listening");
        ok(lock_server_port(v6) > 0 && lock_server_port(v6) != lock_server_port(S), "on a port of its own");
        ok(!lock_server_free(NULL), "lock_server_free(NULL) is a no-op");
}

/* ---- who may post: the owner of the client's socket, and the client_params ---- */

static bool forbidden(const Call *c, const char *value_part) {
        json_t *doc = c->response ? json_loads(c->response, 0, NULL) : NULL;
        bool r = doc && streq(json_string_value(json_object_get(doc, "kind")) ?: "", "forbidden") &&
                 strstr(json_string_value(json_object_get(doc, "value")) ?: "", value_part);

        if (!r)
                diag("response: %s", strna(c->response));
        json_decref(doc);
        return r;
}

/* A child that drops to uid/gid 65534 (nobody) and posts Zincati's request over a connection of its own; the
 * status and body come back through a pipe. Run from the job thread while the main thread runs the loop. */
typedef struct AsUser {
        uid_t uid;
        long status;
        char body[512];
} AsUser;

static void as_user_fn(void *p) {
        AsUser *a = p;
        int pipefd[2];
        pid_t pid;

        a->status = -1;
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return;
        pid = fork();
        if (pid == 0) {
                Call c = { .path = "v1/pre-reboot", .body = zincati_body, .fresh = true };
                CURL *h;
                char out[600];

                if (setgroups(0, NULL) < 0 || setresgid(a->uid, a->uid, a->uid) < 0 ||
                    setresuid(a->uid, a->uid, a->uid) < 0)
                        _exit(2);
                h = curl_easy_init();
                perform(h, &c);
                snprintf(out, sizeof(out), "%ld %s", c.status, c.response ?: "");
                (void) !write(pipefd[1], out, strlen(out));
                _exit(0);
        }
        close(pipefd[1]);
        if (pid > 0) {
                char buf[600] = {};
                ssize_t n = read(pipefd[0], buf, sizeof(buf) - 1);
                (void) waitpid(pid, NULL, 0);
                if (n > 0)
                        sscanf(buf, "%ld %511[^\n]", &a->status, a->body);
        }
        close(pipefd[0]);
}

static void test_peer(void) {
        Call c = { .path = "v1/pre-reboot", .body = zincati_body, .fresh = true };
        char root[] = "/tmp/test-lockserver-root.XXXXXX", path[128], other_body[512], id[33];
        const uid_t someone_else = 12345, nobody = 65534;
        AsUser a = { .uid = nobody };
        unsigned calls;
        FILE *f;

        H.mode = MODE_ALLOW;
        calls = H.calls;
        is_int(lock_server_set_allowed_uids(S, &someone_else, 1), 0, "only uid 12345 may post");
        call(&c);
        is_int(c.status, 403, "root's pre-reboot: 403");
        ok(forbidden(&c, "uid 0 may not"), "  a FleetLock error document, kind forbidden, naming the uid");
        is_int(H.calls, calls, "  the handler was not asked");
        is_int(lock_server_set_allowed_uids(S, NULL, 0), 0, "back to the default (root, Zincati's user)");
        call(&c);
        is_int(c.status, 200, "root's pre-reboot: 200");

        ok(run_with_loop(as_user_fn, &a, 20), "a process of uid 65534 posts Zincati's request");
        is_int(a.status, 403, "  refused: 403");
        ok(strstr(a.body, "\"kind\":\"forbidden\"") && strstr(a.body, "uid 65534 may not"),
           "  kind forbidden, naming uid 65534 (%s)", a.body);
        is_int(lock_server_set_allowed_uids(S, &nobody, 1), 0, "uid 65534 allowed");
        a.status = 0;
        ok(run_with_loop(as_user_fn, &a, 20), "  it posts again");
        is_int(a.status, 200, "  now answered 200");
        (void) lock_server_set_allowed_uids(S, NULL, 0);

        /* client_params: this machine's Zincati id, the configured group */
        if (!mkdtemp(root))
                abort();
        snprintf(path, sizeof(path), "%s/etc", root);
        (void) mkdir(path, 0755);
        is_int(lock_server_set_client(S, root, "default"), -ENOENT, "no machine id: an error");
        call(&c);
        ok(c.status == 403 && forbidden(&c, "no Zincati id"), "  and every request is refused (%ld)", c.status);
        snprintf(path, sizeof(path), "%s/etc/machine-id", root);
        f = fopen(path, "we");
        fputs("0123456789abcdef0123456789abcdef\n", f);
        fclose(f);
        is_int(lock_server_set_client(S, root, "default"), 0, "a machine id and the group \"default\"");
        call(&c);
        is_int(c.status, 403, "an id that is not this machine's Zincati id: 403");
        ok(forbidden(&c, "is not this machine's Zincati id"), "  saying so");
        ok(updates_zincati_node_id("0123456789abcdef0123456789abcdef", id) == 0, "this machine's Zincati id: %s", id);
        snprintf(other_body, sizeof(other_body), "{\"client_params\":{\"id\":\"%s\",\"group\":\"default\"}}", id);
        c.body = other_body;
        calls = H.calls;
        call(&c);
        is_int(c.status, 200, "this machine's id and group: 200");
        is_int(H.calls, calls + 1, "  from the handler");
        snprintf(other_body, sizeof(other_body), "{\"client_params\":{\"id\":\"%s\",\"group\":\"workers\"}}", id);
        call(&c);
        ok(c.status == 403 && forbidden(&c, "group workers is not this node's group (default)"),
           "another group: 403, saying so (%ld)", c.status);
        (void) unlink(path);
        snprintf(path, sizeof(path), "%s/etc", root);
        (void) rmdir(path);
        (void) rmdir(root);
        call_reset(&c);
}

int main(void) {
        int r;

        log_setup(LOG_TARGET_STDERR, getenv("TEST_LOG_DEBUG") ? LOG_DEBUG : LOG_WARNING);
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
                return 1;
        shared_handle = curl_easy_init();

        r = sd_event_new(&E);
        ok(r >= 0, "an event loop");
        r = lock_server_new(&S, E, "127.0.0.1", 0, handler, NULL);
        is_int(r, 0, "lock_server_new() on 127.0.0.1 port 0");
        if (r < 0)
                return tap_done();
        ok(lock_server_port(S) > 0, "listening on port %u", lock_server_port(S));
        snprintf(BASE, sizeof(BASE), "http://127.0.0.1:%u/", lock_server_port(S));

        test_zincati();
        test_refused_before_handler();
        test_sizes();
        test_stall();
        test_connection_limit();
        test_many();
        test_new();
        test_peer();

        S = lock_server_free(S);
        ok(!S, "freed");
        /* a stopped endpoint leaves nothing behind on the loop */
        ok(sd_event_run(E, 0) >= 0, "the loop runs on after the endpoint is freed");
        sd_event_unref(E);
        curl_easy_cleanup(shared_handle);
        curl_global_cleanup();
        return tap_done();
}
