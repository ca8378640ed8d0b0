/* SPDX-License-Identifier: MIT */
/* The FleetLock endpoint (src/updates/lockserver.c): its limits. Declared and sent sizes, a request that stops
 * half-way, idle connections, the connection limit, many clients at once. What it answers: test-lockserver.c;
 * the endpoint, its handler and the clients (libcurl in a thread, raw sockets): tests/unit/lockserver-fixture.c. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lockserver-fixture.h"
#include "shared/macro.h"
#include "shared/time-util.h"
#include "tap.h"

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

int main(void) {
        if (lockserver_fixture_start() < 0)
                return tap_done();

        test_sizes();
        test_stall();
        test_connection_limit();
        test_many();

        return lockserver_fixture_finish();
}
