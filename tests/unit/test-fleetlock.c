/* SPDX-License-Identifier: MIT */
/* src/fleetlock: the URLs (joined with the base as Zincati joins them), the answers (airlock's and Zincati's
 * documents, and garbage), the backoff with its jitter; then the client on a loop against a port where nobody
 * listens: the outcome is "unreachable" with a retry about a second later, and a second failure doubles it. */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "updates/fleetlock.h"
#include "tap.h"

static void test_urls(void) {
        static const struct {
                const char *base, *pre, *steady;
        } cases[] = {
                { "http://127.0.0.1:7436/", "http://127.0.0.1:7436/v1/pre-reboot", "http://127.0.0.1:7436/v1/steady-state" },
                { "http://127.0.0.1:7436", "http://127.0.0.1:7436/v1/pre-reboot", "http://127.0.0.1:7436/v1/steady-state" },
                { "https://airlock.example.com/fleet_lock/", "https://airlock.example.com/fleet_lock/v1/pre-reboot",
                  "https://airlock.example.com/fleet_lock/v1/steady-state" },
                /* a reference replaces the base's last segment (RFC 3986, Url::join in Zincati) */
                { "https://airlock.example.com/fleet_lock", "https://airlock.example.com/v1/pre-reboot",
                  "https://airlock.example.com/v1/steady-state" },
                { "http://h:1/a/b/?x=1#f", "http://h:1/a/b/v1/pre-reboot", "http://h:1/a/b/v1/steady-state" },
                { "http://h?x=1", "http://h/v1/pre-reboot", "http://h/v1/steady-state" },
        };
        static const char *const bad[] = { "", "ftp://h/", "http://", "http:///x", "h/v1", "http://h /", NULL };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char *pre = NULL, *steady = NULL;

                ok(fleetlock_url(cases[i].base, FLEETLOCK_PRE_REBOOT, &pre) == 0 &&
                           fleetlock_url(cases[i].base, FLEETLOCK_STEADY_STATE, &steady) == 0,
                   "url: %s is a base", cases[i].base);
                is_str(pre, cases[i].pre, "url: %s + v1/pre-reboot", cases[i].base);
                is_str(steady, cases[i].steady, "url: %s + v1/steady-state", cases[i].base);
                free(pre);
                free(steady);
        }
        for (size_t i = 0; bad[i]; i++) {
                char *u = NULL;
                is_int(fleetlock_url(bad[i], FLEETLOCK_PRE_REBOOT, &u), -EINVAL, "url: \"%s\" is refused", bad[i]);
                ok(!u, "and nothing is returned");
        }
        is_int(fleetlock_url(NULL, FLEETLOCK_PRE_REBOOT, &(char *) { NULL }), -EINVAL, "url: NULL is refused");
}

static void test_answers(void) {
        static const struct {
                long status;
                const char *body;
                FleetLockResult want;
                const char *kind;
                const char *message_part;
        } cases[] = {
                { 200, "", FLEETLOCK_OK, NULL, "granted pre-reboot" },
                { 200, "garbage", FLEETLOCK_OK, NULL, "granted" }, /* 200 is success whatever the body */
                /* airlock's answer when every slot is taken (internal/server/pre_reboot.go), as Go's
                 * http.Error() sends it: text/plain, a trailing newline */
                { 500, "{\"kind\":\"failed_lock\",\"value\":\"all 1 semaphore slots currently locked\"}\n",
                  FLEETLOCK_REFUSED, "failed_lock", "(HTTP 500, failed_lock): all 1 semaphore slots currently locked" },
                /* the protocol document's example */
                { 409, "{\"kind\":\"failed_lock_semaphore_full\",\"value\":\"semaphore currently full, all slots are locked already\"}",
                  FLEETLOCK_REFUSED, "failed_lock_semaphore_full", "(HTTP 409, failed_lock_semaphore_full): semaphore currently full" },
                /* airlock on a wrong header */
                { 400, "{\"kind\":\"failed_validation\",\"value\":\"wrong 'fleet-lock-protocol' header\"}",
                  FLEETLOCK_REFUSED, "failed_validation", "wrong 'fleet-lock-protocol' header" },
                /* unknown keys are ignored, as serde ignores them */
                { 500, "{\"kind\":\"x\",\"value\":\"y\",\"extra\":1}", FLEETLOCK_REFUSED, "x", ": y" },
                /* garbage, as Zincati's generic_http_<code> */
                { 502, "<html>Bad Gateway</html>", FLEETLOCK_BAD_ANSWER, NULL, "HTTP 502 and no JSON error document" },
                { 409, "", FLEETLOCK_BAD_ANSWER, NULL, "HTTP 409" },
                { 409, "{\"kind\":3,\"value\":\"v\"}", FLEETLOCK_BAD_ANSWER, NULL, "without a valid kind" },
                { 409, "{\"kind\":\"a b\",\"value\":\"v\"}", FLEETLOCK_BAD_ANSWER, NULL, "without a valid kind" },
                { 409, "{\"kind\":\"\",\"value\":\"v\"}", FLEETLOCK_BAD_ANSWER, NULL, "without a valid kind" },
                { 409, "{\"kind\":\"k\"}", FLEETLOCK_BAD_ANSWER, NULL, "without a valid kind" },
                { 409, "{\"kind\":\"k\",\"kind\":\"j\",\"value\":\"v\"}", FLEETLOCK_BAD_ANSWER, NULL, "no JSON" },
                { 409, "[\"kind\",\"value\"]", FLEETLOCK_BAD_ANSWER, NULL, "without a valid kind" },
                /* a redirect is not followed (the protocol's header guards against them): not an answer */
                { 302, "{\"kind\":\"k\",\"value\":\"v\"}", FLEETLOCK_BAD_ANSWER, NULL, "HTTP 302" },
                { 204, "", FLEETLOCK_BAD_ANSWER, NULL, "HTTP 204" },
                /* what a server says is shown, but not its control characters */
                { 409, "{\"kind\":\"k\",\"value\":\"line\\nbreak\\u001b[31m\"}", FLEETLOCK_REFUSED, "k", "line?break?[31m" },
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char *kind = (char *) 1, *msg = NULL;
                FleetLockResult r = fleetlock_parse_answer(FLEETLOCK_PRE_REBOOT, cases[i].status, cases[i].body,
                                                           strlen(cases[i].body), &kind, &msg);

                is_int(r, cases[i].want, "answer %zu: HTTP %ld %.40s → %s", i, cases[i].status, cases[i].body,
                       fleetlock_result_to_reason(cases[i].want));
                is_str(kind, cases[i].kind, "answer %zu: kind", i);
                ok(msg && strstr(msg, cases[i].message_part), "answer %zu: the sentence says \"%s\"", i,
                   cases[i].message_part);
                if (msg && !strstr(msg, cases[i].message_part))
                        diag("got: %s", msg);
                free(kind);
                free(msg);
        }

        /* a huge body is not parsed */
        size_t n = 100 * 1024;
        char *big = malloc(n + 1);
        char *kind = NULL, *msg = NULL;
        memset(big, ' ', n);
        memcpy(big, "{\"kind\":\"k\",\"value\":\"v\"}", 23);
        big[n] = 0;
        is_int(fleetlock_parse_answer(FLEETLOCK_STEADY_STATE, 409, big, n, &kind, &msg), FLEETLOCK_BAD_ANSWER,
               "an answer over 64 KiB is not parsed");
        ok(msg && strstr(msg, "steady-state"), "the sentence names the operation");
        free(big);
        free(kind);
        free(msg);

        is_str(fleetlock_result_to_reason(FLEETLOCK_UNREACHABLE), "lock-unreachable", "reason: lock-unreachable");
        is_str(fleetlock_result_to_reason(FLEETLOCK_REFUSED), "lock-refused", "reason: lock-refused");
        is_str(fleetlock_result_to_reason(FLEETLOCK_BAD_ANSWER), "lock-bad-answer", "reason: lock-bad-answer");
}

static void test_backoff(void) {
        static const struct {
                unsigned attempt;
                uint64_t base;
        } cases[] = {
                { 0, 1 }, { 1, 2 }, { 2, 4 }, { 5, 32 }, { 8, 256 }, { 9, 300 }, { 30, 300 }, { 1000, 300 },
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                uint64_t base = cases[i].base * USEC_PER_SEC, lo = UINT64_MAX, hi = 0;

                for (uint32_t r = 0; r < 2000; r++) {
                        uint64_t d = fleetlock_backoff_usec(cases[i].attempt, r * 2654435761U);
                        lo = MIN(lo, d);
                        hi = MAX(hi, d);
                }
                ok(lo >= base - base / 5 && hi <= base + base / 5,
                   "backoff attempt %u: within %" PRIu64 " s ±20%%", cases[i].attempt, cases[i].base);
                ok(hi - lo > base / 5, "backoff attempt %u: jittered (spread %" PRIu64 " ms)", cases[i].attempt,
                   (hi - lo) / USEC_PER_MSEC);
        }
}

/* ---- on a loop: nobody listens ---- */

typedef struct Seen {
        unsigned calls;
        FleetLockOutcome last;
        char message[512];
} Seen;

static void on_outcome(FleetLock *f, const FleetLockOutcome *o, void *userdata) {
        Seen *s = userdata;

        s->calls++;
        s->last = *o;
        snprintf(s->message, sizeof(s->message), "%s", o->message);
        s->last.message = s->message;
        s->last.kind = NULL;
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        return sd_event_exit(sd_event_source_get_event(s), 1);
}

static int run_until(sd_event *e, Seen *s, unsigned calls, uint64_t timeout_usec) {
        sd_event_source *t = NULL;
        int r = 0;

        (void) sd_event_add_time_relative(e, &t, CLOCK_MONOTONIC, timeout_usec, 0, on_timeout, NULL);
        while (s->calls < calls && r == 0) {
                r = sd_event_run(e, UINT64_MAX);
                r = r < 0 ? r : (sd_event_get_state(e) == SD_EVENT_FINISHED ? 1 : 0);
        }
        sd_event_source_disable_unref(t);
        return s->calls >= calls ? 0 : -ETIMEDOUT;
}

static void test_loop(void) {
        sd_event *e = NULL;
        HttpClient *http = NULL;
        FleetLock *f = NULL;
        Seen seen = {};
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(a);
        char base[64];
        int fd;

        /* a port that was just free: bound, closed, so nothing listens there */
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *) &a, sizeof(a)) < 0 ||
            getsockname(fd, (struct sockaddr *) &a, &len) < 0) {
                printf("Bail out! cannot find a free loopback port\n");
                exit(1);
        }
        close(fd);
        snprintf(base, sizeof(base), "http://127.0.0.1:%u/", ntohs(a.sin_port));

        if (sd_event_new(&e) < 0 || http_client_new(&http, e) < 0) {
                printf("Bail out! cannot set up a loop\n");
                exit(1);
        }
        is_int(fleetlock_new(&f, e, http, base, "c988d2509fdf4cdcbed39037c56406fb", "bad_group", on_outcome, &seen),
               -EINVAL, "a group with '_' is refused (FleetLock's ^[a-zA-Z0-9.-]+$)");
        is_int(fleetlock_new(&f, e, http, "ftp://x/", "id", "default", on_outcome, &seen), -EINVAL,
               "a base that is not http(s) is refused");
        ok(fleetlock_new(&f, e, http, base, "c988d2509fdf4cdcbed39037c56406fb", "default", on_outcome, &seen) == 0,
           "a client for %s", base);
        ok(!fleetlock_pending(f, FLEETLOCK_PRE_REBOOT), "nothing pending at first");
        ok(fleetlock_start(f, FLEETLOCK_PRE_REBOOT) == 0, "pre-reboot started");
        ok(fleetlock_pending(f, FLEETLOCK_PRE_REBOOT), "pre-reboot is pending");
        is_int(seen.calls, 0, "the outcome never comes on the caller's stack");
        ok(run_until(e, &seen, 1, 5 * USEC_PER_SEC) == 0, "an outcome within 5 s");
        is_int(seen.last.result, FLEETLOCK_UNREACHABLE, "nobody listens: unreachable");
        is_int(seen.last.failures, 1, "one failure");
        ok(seen.last.retry_in_usec >= 800 * USEC_PER_MSEC && seen.last.retry_in_usec <= 1200 * USEC_PER_MSEC,
           "the retry is about a second later (%" PRIu64 " ms)", seen.last.retry_in_usec / USEC_PER_MSEC);
        ok(strstr(seen.message, base) && strstr(seen.message, "pre-reboot"),
           "the sentence names the server and the operation: %s", seen.message);
        ok(fleetlock_pending(f, FLEETLOCK_PRE_REBOOT), "still pending: it retries");
        ok(run_until(e, &seen, 2, 5 * USEC_PER_SEC) == 0, "the retry comes");
        is_int(seen.last.failures, 2, "two failures in a row");
        ok(seen.last.retry_in_usec >= 1600 * USEC_PER_MSEC && seen.last.retry_in_usec <= 2400 * USEC_PER_MSEC,
           "the next retry about 2 s later (%" PRIu64 " ms)", seen.last.retry_in_usec / USEC_PER_MSEC);
        ok(fleetlock_start(f, FLEETLOCK_STEADY_STATE) == 0, "steady-state replaces it");
        ok(!fleetlock_pending(f, FLEETLOCK_PRE_REBOOT) && fleetlock_pending(f, FLEETLOCK_STEADY_STATE),
           "only steady-state is pending");
        ok(run_until(e, &seen, 3, 5 * USEC_PER_SEC) == 0 && seen.last.op == FLEETLOCK_STEADY_STATE &&
                   seen.last.failures == 1,
           "steady-state's first failure counts from one");
        fleetlock_cancel(f);
        ok(!fleetlock_pending(f, FLEETLOCK_STEADY_STATE), "cancelled: nothing pending");
        ok(run_until(e, &seen, 4, 1500 * USEC_PER_MSEC) == -ETIMEDOUT,
           "and no outcome comes after the cancel (its retry was due within 1.2 s)");

        fleetlock_free(f);
        http_client_free(http);
        sd_event_unref(e);
}

int main(void) {
        test_urls();
        test_answers();
        test_backoff();
        test_loop();
        return tap_done();
}
