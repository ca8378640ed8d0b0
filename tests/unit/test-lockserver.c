/* SPDX-License-Identifier: MIT */
/* The FleetLock endpoint (src/updates/lockserver.c): what it answers. Zincati's requests (copied from
 * coreos/zincati src/fleet_lock: URL joined onto base_url, header "fleet-lock-protocol: true", a pretty-printed
 * JSON body, no Content-Type; any 2xx is success), what is refused before the handler, creating an endpoint, and
 * who may post. Sizes, stalls and the connection limit: test-lockserver-limits.c; the endpoint, its handler and
 * the clients (libcurl in a thread, raw sockets): tests/unit/lockserver-fixture.c. */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lockserver-fixture.h"
#include "shared/macro.h"
#include "shared/time-util.h"
#include "tap.h"
#include "updates/updater.h"
#include "updates/zincati.h"

/* ---- the tests ---- */

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
        if (lockserver_fixture_start() < 0)
                return tap_done();

        test_zincati();
        test_refused_before_handler();
        test_new();
        test_peer();

        return lockserver_fixture_finish();
}
