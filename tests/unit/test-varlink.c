/* SPDX-License-Identifier: MIT */
/* src/varlink (server) and src/varlink-client, end to end over a real socket: calls and replies (the service
 * interface, errors, protocol errors, message size, pipelining, deferred and "more" replies, the client's leaks,
 * the disconnect hook). The server in a child and the client's helpers: tests/unit/varlink-fixture.c; the limits
 * and permissions: tests/unit/test-varlink-limits.c. Every wait is bounded; an alarm kills the whole test if
 * something still hangs. */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shared/json-util.h"
#include "tap.h"
#include "varlink-fixture.h"

/* Sends bytes on a fresh connection and expects one error reply, then the connection closed. */
static void check_protocol_error(const char *what, const void *data, size_t size, const char *want_error,
                                 const char *want_params) {
        _cleanup_(raw_freep) Raw *r = raw_connect();
        _cleanup_json_ json_t *m = NULL, *m2 = NULL;
        int k;

        if (!r) {
                ok(0, "%s: no connection", what);
                return;
        }
        is_int(raw_send(r, data, size), 0, "%s: sent %zu bytes", what, size);
        k = raw_read(r, 2000, &m);
        is_int(k, 0, "  a reply");
        is_str(json_string_value(json_object_get(m, "error")), want_error, "  error %s", want_error);
        if (want_params)
                is_json(json_object_get(m, "parameters"), want_params, want_params);
        else
                ok(json_is_string(json_object_get(json_object_get(m, "parameters"), "reason")),
                   "  parameters carry a \"reason\" string");
        is_int(raw_read(r, 500 * slow, &m2), -ECONNRESET, "  then the server closes the connection");
}

/* ==== the tests ==== */

/* Held's answer, or NULL. */
static json_t *held_state(VarlinkClient *c) {
        json_t *reply = NULL;
        _cleanup_free_ char *error = NULL;

        if (varlink_client_call(c, "io.ballast.Agent.Held", no_params, TIMEOUT_USEC, &reply, &error) < 0 || error) {
                json_decref(reply);
                return NULL;
        }
        return reply;
}

static int held_int(json_t *v, const char *key) {
        return (int) json_integer_value(json_object_get(v, key));
}

/* A call kept waiting ends with its connection: the server is told (the disconnect hook), once, and drops it. */
static void test_disconnect_hook(void) {
        _cleanup_(varlink_client_freep) VarlinkClient *c = client();
        _cleanup_(raw_freep) Raw *r = raw_connect();
        static const char hold[] = "{\"method\":\"io.ballast.Agent.Hold\",\"parameters\":{}}";
        _cleanup_json_ json_t *st = NULL;
        int64_t t0;

        diag("a kept call ends with its connection");
        ok(c && r && raw_send(r, hold, sizeof(hold)) == 0, "a call the server keeps without answering");
        for (t0 = now_ms(); c && now_ms() - t0 < 2000 * (int64_t) slow; sleep_ms(10)) {
                json_decref(st);
                st = held_state(c);
                if (!st || held_int(st, "held") == 1)
                        break;
        }
        ok(st && held_int(st, "held") == 1 && held_int(st, "dropped") == 0 &&
           json_is_true(json_object_get(st, "holding")), "  is held while its client is connected");
        ok(st && json_is_true(json_object_get(st, "may_write")) == (geteuid() == 0),
           "  varlink_call_may_write() says whether the caller may write");
        raw_free(TAKE_PTR(r));
        for (t0 = now_ms(); c && now_ms() - t0 < 2000 * (int64_t) slow; sleep_ms(10)) {
                json_decref(st);
                st = held_state(c);
                if (!st || held_int(st, "dropped") > 0)
                        break;
        }
        ok(st && held_int(st, "dropped") == 1 && json_is_false(json_object_get(st, "holding")),
           "  its client closed: the hook ran once and the call was dropped (%lld ms)", (long long) (now_ms() - t0));
}

static void test_service_interface(void) {
        _cleanup_(varlink_client_freep) VarlinkClient *c = client();
        _cleanup_json_ json_t *reply = NULL;
        _cleanup_free_ char *error = NULL;

        if (!c) {
                ok(0, "connect");
                return;
        }
        is_int(varlink_client_call(c, "org.varlink.service.GetInfo", no_params, TIMEOUT_USEC, &reply, &error), 0,
               "GetInfo");
        ok(!error, "  succeeds");
        is_str(json_string_value(json_object_get(reply, "vendor")), "ballast", "  vendor");
        is_str(json_string_value(json_object_get(reply, "product")), "ballast test", "  product");
        is_str(json_string_value(json_object_get(reply, "version")), "0.1-test", "  version");
        is_str(json_string_value(json_object_get(reply, "url")), "https://example.com/", "  url");
        json_t *ifaces = json_object_get(reply, "interfaces");
        bool found = false;
        for (size_t i = 0; i < json_array_size(ifaces); i++)
                found = found || streq(strempty(json_string_value(json_array_get(ifaces, i))), "io.ballast.Agent");
        ok(found, "  interfaces list io.ballast.Agent");

        check_call(c, "org.varlink.service.GetInterfaceDescription", "{\"interface\": \"io.ballast.Agent\"}", NULL,
                   "{\"description\": \"interface io.ballast.Agent\\n\\nmethod GetStatus() -> ()\\n\"}");
        check_call(c, "org.varlink.service.GetInterfaceDescription", "{\"interface\": \"io.nope\"}",
                   "org.varlink.service.InterfaceNotFound", "{\"interface\": \"io.nope\"}");
        check_call(c, "org.varlink.service.GetInterfaceDescription", "{}", "org.varlink.service.InvalidParameter",
                   "{\"parameter\": \"interface\"}");
        check_call(c, "org.varlink.service.GetInterfaceDescription", "{\"interface\": 1}",
                   "org.varlink.service.InvalidParameter", "{\"parameter\": \"interface\"}");
        check_call(c, "org.varlink.service.Nope", NULL, "org.varlink.service.MethodNotFound",
                   "{\"method\": \"org.varlink.service.Nope\"}");
}

static void test_errors(void) {
        _cleanup_(varlink_client_freep) VarlinkClient *c = client();

        check_call(c, "io.ballast.Agent.GetStatus", "{\"a\": [1, \"b\"]}", NULL,
                   "{\"echo\": {\"a\": [1, \"b\"]}}");
        check_call(c, "io.ballast.Agent.Nope", NULL, "org.varlink.service.MethodNotFound",
                   "{\"method\": \"io.ballast.Agent.Nope\"}");
        check_call(c, "io.nope.Thing.Do", NULL, "org.varlink.service.InterfaceNotFound",
                   "{\"interface\": \"io.nope.Thing\"}");
        check_call(c, "NoDots", NULL, "org.varlink.service.InterfaceNotFound", "{\"interface\": \"NoDots\"}");
        /* a prefix of a known interface is not that interface */
        check_call(c, "io.ballast.GetStatus", NULL, "org.varlink.service.InterfaceNotFound",
                   "{\"interface\": \"io.ballast\"}");
        check_call(c, "io.ballast.Agent.Fail", NULL, "io.ballast.Agent.InternalError",
                   "{\"reason\": \"No such file or directory\"}");
        check_call(c, "io.ballast.Agent.BadParam", NULL, "org.varlink.service.InvalidParameter",
                   "{\"parameter\": \"name\"}");
        /* errors of a call end the call, not the connection */
        check_call(c, "io.ballast.Agent.GetStatus", NULL, NULL, "{\"echo\": {}}");
        check_write(c);

        static const char upgrade[] = "{\"method\":\"io.ballast.Agent.GetStatus\",\"upgrade\":true}";
        _cleanup_(raw_freep) Raw *r = raw_connect();
        _cleanup_json_ json_t *m = NULL;
        ok(r && raw_send(r, upgrade, sizeof(upgrade)) == 0 && raw_read(r, 2000, &m) == 0, "upgrade call answered");
        is_str(json_string_value(json_object_get(m, "error")), "org.varlink.service.MethodNotImplemented",
               "  with MethodNotImplemented");
}

static void test_protocol_errors(void) {
        static const struct {
                const char *what;
                const char *message; /* sent with its NUL */
                const char *reason;  /* NULL: any reason string */
        } cases[] = {
                { "invalid JSON", "this is not json", NULL },
                { "truncated JSON", "{\"method\":", NULL },
                { "trailing bytes after the JSON", "{\"method\":\"io.ballast.Agent.GetStatus\"} x", NULL },
                { "invalid UTF-8", "{\"method\":\"io.ballast.Agent.GetStatus\",\"parameters\":{\"a\":\"\xff\"}}", NULL },
                { "duplicate key", "{\"method\":\"a.b\",\"method\":\"a.c\"}", NULL },
                { "an array", "[1]", "{\"reason\": \"expected an object, got an array\"}" },
                { "no method", "{\"parameters\":{}}", "{\"reason\": \"method: is required\"}" },
                { "method not a string", "{\"method\":1}", "{\"reason\": \"method: expected a string, got an integer\"}" },
                { "unknown envelope key", "{\"method\":\"io.ballast.Agent.GetStatus\",\"foo\":1}",
                  "{\"reason\": \"foo: unknown key\"}" },
                { "parameters not an object", "{\"method\":\"io.ballast.Agent.GetStatus\",\"parameters\":[]}",
                  "{\"reason\": \"parameters: expected an object\"}" },
                { "more not a boolean", "{\"method\":\"io.ballast.Agent.Count\",\"more\":1}",
                  "{\"reason\": \"more: expected a boolean, got an integer\"}" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                check_protocol_error(cases[i].what, cases[i].message, strlen(cases[i].message) + 1,
                                     "io.ballast.Agent.InvalidMessage", cases[i].reason);
}

static void test_message_size(void) {
        _cleanup_free_ char *at = message_of_size(MAX_MESSAGE), *over = message_of_size(MAX_MESSAGE + 1),
                            *big = message_of_size(5000);

        /* exactly the limit: fine */
        {
                _cleanup_(raw_freep) Raw *r = raw_connect();
                _cleanup_json_ json_t *m = NULL;

                ok(r && raw_send(r, at, MAX_MESSAGE + 1) == 0, "sent a message of exactly %u bytes", MAX_MESSAGE);
                ok(r && raw_read(r, 2000, &m) == 0, "  answered");
                ok(!json_object_get(m, "error"), "  without an error");
                is_int(strlen(strempty(json_string_value(
                               json_object_get(json_object_get(json_object_get(m, "parameters"), "echo"), "pad")))),
                       PAD_LENGTH(MAX_MESSAGE), "  and its parameters arrived whole");
        }

        check_protocol_error("a 5000-byte message", big, 5001, "io.ballast.Agent.MessageTooLarge", "{\"limit\": 4096}");
        check_protocol_error("a message larger than the limit without a NUL yet", big, 4500,
                             "io.ballast.Agent.MessageTooLarge", "{\"limit\": 4096}");

        /* One byte over the limit is over the limit, however the bytes arrive. */
        {
                _cleanup_(raw_freep) Raw *r = raw_connect();
                _cleanup_json_ json_t *m = NULL;

                ok(r && raw_send(r, over, MAX_MESSAGE + 1) == 0, "sent %u bytes without a NUL", MAX_MESSAGE + 1);
                sleep_ms(50);
                if (r)
                        (void) raw_send(r, "", 1); /* the NUL; the server may rightly have closed already */
                ok(r && raw_read(r, 2000, &m) == 0, "  answered");
                is_str(json_string_value(json_object_get(m, "error")), "io.ballast.Agent.MessageTooLarge",
                       "  a %u-byte message in two writes is MessageTooLarge", MAX_MESSAGE + 1);
        }
        check_protocol_error("a message one byte over the limit, with its NUL, in one write", over, MAX_MESSAGE + 2,
                             "io.ballast.Agent.MessageTooLarge", "{\"limit\": 4096}");
}

static void test_pipelining(void) {
        static const char two[] = "{\"method\":\"io.ballast.Agent.GetStatus\",\"parameters\":{\"n\":1}}\0"
                                  "{\"method\":\"io.ballast.Agent.GetStatus\",\"parameters\":{\"n\":2}}";
        static const char oneway[] = "{\"method\":\"io.ballast.Agent.GetStatus\",\"parameters\":{\"n\":1},\"oneway\":true}\0"
                                     "{\"method\":\"io.ballast.Agent.Nope\",\"oneway\":true}\0"
                                     "{\"method\":\"io.ballast.Agent.GetStatus\",\"parameters\":{\"n\":3}}";
        _cleanup_(raw_freep) Raw *r = raw_connect(), *o = raw_connect();
        _cleanup_json_ json_t *m1 = NULL, *m2 = NULL, *m3 = NULL, *extra = NULL;

        if (!r || !o) {
                ok(0, "connect");
                return;
        }
        is_int(raw_send(r, two, sizeof(two)), 0, "two calls in one write");
        is_int(raw_read(r, 2000, &m1), 0, "  first reply");
        is_json(json_object_get(m1, "parameters"), "{\"echo\": {\"n\": 1}}", "  answers the first call");
        is_int(raw_read(r, 2000, &m2), 0, "  second reply");
        is_json(json_object_get(m2, "parameters"), "{\"echo\": {\"n\": 2}}", "  answers the second call");

        is_int(raw_send(o, oneway, sizeof(oneway)), 0, "two oneway calls (one to a missing method), then a call");
        is_int(raw_read(o, 2000, &m3), 0, "  one reply");
        is_json(json_object_get(m3, "parameters"), "{\"echo\": {\"n\": 3}}",
                "  it answers the normal call: oneway calls get no reply, not even an error");
        is_int(raw_read(o, 150, &extra), -ETIMEDOUT, "  and nothing else follows");
}

static void test_deferred(void) {
        _cleanup_(varlink_client_freep) VarlinkClient *c = client(), *other = client(), *quitter = client();
        _cleanup_json_ json_t *reply = NULL, *reply2 = NULL, *params = parse("{\"delay_ms\": 150}");
        _cleanup_free_ char *error = NULL, *error2 = NULL;
        int64_t t0, t_first, t_second;

        if (!c || !other || !quitter) {
                ok(0, "connect");
                return;
        }
        t0 = now_ms();
        is_int(varlink_client_call(c, "io.ballast.Agent.Later", no_params, TIMEOUT_USEC, &reply, &error), 0,
               "a method that replies from a timer");
        ok(!error, "  succeeds");
        is_json(reply, "{\"later\": true}", "  with its reply");
        ok(now_ms() - t0 >= 95, "  after its 100 ms (%lld ms)", (long long) (now_ms() - t0));
        json_decref(TAKE_PTR(reply));

        /* A second call on the same connection waits for the first; other connections do not. */
        t0 = now_ms();
        is_int(varlink_client_send(c, "io.ballast.Agent.Later", params, false), 0, "Later(150 ms) sent");
        is_int(varlink_client_send(c, "io.ballast.Agent.GetStatus", no_params, false), 0, "  and GetStatus right behind it");
        check_call(other, "io.ballast.Agent.GetStatus", "{\"other\": true}", NULL,
                   "{\"echo\": {\"other\": true}}");
        ok(now_ms() - t0 < 100 * (int64_t) slow, "  another connection is answered meanwhile (%lld ms)",
           (long long) (now_ms() - t0));
        is_int(varlink_client_read(c, TIMEOUT_USEC, &reply, &error, NULL), 0, "  first reply");
        t_first = now_ms() - t0;
        is_json(reply, "{\"later\": true}", "  is Later's");
        is_int(varlink_client_read(c, TIMEOUT_USEC, &reply2, &error2, NULL), 0, "  second reply");
        t_second = now_ms() - t0;
        is_json(reply2, "{\"echo\": {}}", "  is GetStatus's");
        ok(t_first >= 145 && t_second >= t_first, "  GetStatus waited for Later (%lld ms, %lld ms)",
           (long long) t_first, (long long) t_second);

        /* A peer that leaves while its call is pending: the late reply goes nowhere, the server lives on. */
        _cleanup_json_ json_t *short_delay = parse("{\"delay_ms\": 50}");
        is_int(varlink_client_send(quitter, "io.ballast.Agent.Later", short_delay, false), 0, "a client sends Later");
        check_call(other, "io.ballast.Agent.GetStatus", NULL, NULL, "{\"echo\": {}}");
        quitter = varlink_client_free(quitter);
        sleep_ms(80);
        check_call(other, "io.ballast.Agent.GetStatus", NULL, NULL, "{\"echo\": {}}");
        diag("the server still answers after a reply to a departed client");
}

static void test_more(void) {
        _cleanup_(varlink_client_freep) VarlinkClient *c = client();
        int i;

        if (!c) {
                ok(0, "connect");
                return;
        }
        is_int(varlink_client_send(c, "io.ballast.Agent.Count", no_params, true), 0, "a \"more\" call");
        for (i = 0; i < 5; i++) {
                _cleanup_json_ json_t *reply = NULL;
                _cleanup_free_ char *error = NULL;
                bool continues = false;
                _cleanup_free_ char *want = NULL;

                if (varlink_client_read(c, TIMEOUT_USEC, &reply, &error, &continues) < 0) {
                        ok(0, "  reply %d", i);
                        break;
                }
                if (asprintf(&want, "{\"i\": %d}", i) < 0)
                        abort();
                is_json(reply, want, want);
                ok(!error, "  no error");
                ok(continues == (i < 3), "  continues is %s", i < 3 ? "true" : "false");
                if (!continues)
                        break;
        }
        is_int(i, 3, "three \"continues\" replies, then the final one");

        {
                _cleanup_json_ json_t *reply = NULL;
                _cleanup_free_ char *error = NULL;
                bool continues = true;

                is_int(varlink_client_send(c, "io.ballast.Agent.Count", no_params, false), 0,
                       "the same method called without \"more\"");
                is_int(varlink_client_read(c, TIMEOUT_USEC, &reply, &error, &continues), 0, "  a reply");
                is_json(reply, "{\"i\": 3, \"single\": true}", "  one reply");
                ok(!continues, "  without continues");
        }
        {
                _cleanup_json_ json_t *reply = NULL;
                _cleanup_free_ char *error = NULL;
                bool continues = true;

                is_int(varlink_client_send(c, "io.ballast.Agent.GetStatus", no_params, true), 0,
                       "a method that does not stream, called with \"more\"");
                is_int(varlink_client_read(c, TIMEOUT_USEC, &reply, &error, &continues), 0, "  a reply");
                ok(!error && !continues, "  a single final reply");
        }
        check_call(c, "io.ballast.Agent.GetStatus", NULL, NULL, "{\"echo\": {}}");
}

/* json_dumps() strings come from jansson's allocator but are rightly released with free(), which the counter
 * does not see: so compare a call with NULL parameters to the same call with {}, which must leave the same. */
static void test_client_leaks(void) {
        _cleanup_(varlink_client_freep) VarlinkClient *c = client();
        long delta[2] = {};

        if (!c) {
                ok(0, "connect");
                return;
        }
        for (int i = 0; i < 2; i++) {
                json_t *reply = NULL;
                char *error = NULL;
                long before = live_json_allocs;
                int r = varlink_client_call(c, "io.ballast.Agent.GetStatus", i == 0 ? no_params : NULL, TIMEOUT_USEC,
                                            &reply, &error);

                json_decref(reply);
                free(error);
                delta[i] = live_json_allocs - before;
                is_int(r, 0, "GetStatus with %s parameters", i == 0 ? "{}" : "NULL");
        }
        is_int(delta[1] - delta[0], 0,
               "varlink_client_call() with NULL parameters leaves no more JSON behind than with {} (a leak per call)");
}

int main(void) {
        if (varlink_fixture_start() < 0)
                return 1;

        test_service_interface();
        test_errors();
        test_protocol_errors();
        test_message_size();
        test_pipelining();
        test_deferred();
        test_more();
        test_client_leaks();
        test_disconnect_hook();

        return varlink_fixture_finish();
}
