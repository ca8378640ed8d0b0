/* SPDX-License-Identifier: MIT */
/* src/supervisor/units.c: the Docker create body of a docker service and of its network holder (ports, env,
 * storage, identity, security, images, environment files, secrets). The unit text: test-units.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shared/holder.h"
#include "supervisor/units.h"
#include "tap.h"
#include "units-fixture.h"

/* ---- the container ---- */

static uint64_t fnv1a64(const char *s) {
        uint64_t h = 0xcbf29ce484222325ULL;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                h = (h ^ *p) * 0x100000001b3ULL;
        return h;
}

static void test_container_body(void) {
        _cleanup_(service_spec_freep) ServiceSpec *s = load_data("web.json"), *t = NULL, *u = NULL;
        _cleanup_json_ json_t *body = NULL, *want = NULL, *copy = NULL, *body2 = NULL, *body3 = NULL;
        _cleanup_free_ char *want_text = read_data("web-create.json"), *dump = NULL, *error = NULL;
        json_error_t jerr;
        char hash[17];

        if (!ok(s && want_text, "web.json and web-create.json load"))
                return;
        want = json_loads(want_text, 0, &jerr);
        body = container_create_body(s, NULL);
        ok(body && want && json_equal(body, want), "container_create_body(web, NULL) is web-create.json");
        if (body && want && !json_equal(body, want)) {
                dump = json_dumps(body, JSON_SORT_KEYS | JSON_COMPACT);
                diag("got %s", dump);
        }
        if (!body)
                return;

        /* the hash is FNV-1a 64 of the body without it, keys sorted, compact */
        copy = json_deep_copy(body);
        json_object_del(json_object_get(copy, "Labels"), "io.ballast.hash");
        free(dump);
        dump = json_dumps(copy, JSON_SORT_KEYS | JSON_COMPACT);
        snprintf(hash, sizeof(hash), "%016llx", (unsigned long long) fnv1a64(dump));
        is_str(json_string_value(json_object_get(json_object_get(body, "Labels"), "io.ballast.hash")), hash,
               "io.ballast.hash is FNV-1a 64 of the rest of the body");

        /* the same spec written differently gives the same hash; a different image another one */
        {
                static const char same[] =
                        "{\"labels\":{\"team\":\"checkout\"},\"name\":\"web\",\"image\":\"example/web:1.4.2\","
                        "\"command\":[\"/bin/sh\",\"-c\",\"exec httpd -f -p 8080\"],\"env\":{\"APP_ENV\":\"prod\"},"
                        "\"ports\":[{\"protocol\":\"tcp\",\"container\":8080,\"host\":10090}],"
                        "\"resources\":{\"pids\":512,\"memory\":\"262144K\",\"cpu\":0.5}}";
                static const char other[] = "{\"name\":\"web\",\"image\":\"example/web:1.4.3\"}";

                ok(service_spec_parse(same, sizeof(same) - 1, NULL, &t, &error) == 0, "same spec, other spelling");
                body2 = t ? container_create_body(t, NULL) : NULL;
                ok(body2 && json_equal(body, body2), "  same body, same hash");
                ok(service_spec_parse(other, sizeof(other) - 1, NULL, &u, NULL) == 0, "another image");
                body3 = u ? container_create_body(u, NULL) : NULL;
                ok(body3 && !streq(json_string_value(json_object_get(json_object_get(body3, "Labels"),
                                                                     "io.ballast.hash")),
                                   hash),
                   "  another hash");
                ok(body3 && !json_object_get(body3, "Cmd"), "  no Cmd without a command");
                ok(body3 && !json_object_get(json_object_get(body3, "HostConfig"), "Memory") &&
                           !json_object_get(json_object_get(body3, "HostConfig"), "NanoCpus") &&
                           json_integer_value(json_object_get(json_object_get(body3, "HostConfig"), "PidsLimit")) == -1,
                   "  no memory or CPU fields when none are committed, PidsLimit -1 (no limit, said)");
        }
}

static void test_container_ports(void) {
        static const char text[] =
                "{\"name\":\"dns\",\"image\":\"x\",\"ports\":[{\"host\":53,\"container\":5353,\"protocol\":\"udp\"},"
                "{\"host\":10053,\"container\":5353,\"protocol\":\"udp\"},{\"host\":53,\"container\":5353}]}";
        static const char want[] =
                "{\"5353/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"53\"}],"
                "\"5353/udp\":[{\"HostIp\":\"\",\"HostPort\":\"53\"},{\"HostIp\":\"\",\"HostPort\":\"10053\"}]}";
        _cleanup_(service_spec_freep) ServiceSpec *s = NULL;
        _cleanup_json_ json_t *body = NULL;
        _cleanup_free_ char *b = NULL, *x = NULL;

        if (!ok(service_spec_parse(text, sizeof(text) - 1, NULL, &s, NULL) == 0, "ports spec parses"))
                return;
        body = container_create_body(s, NULL);
        b = json_dumps(json_object_get(json_object_get(body, "HostConfig"), "PortBindings"),
                       JSON_SORT_KEYS | JSON_COMPACT);
        is_str(b, want, "two host ports on one container port");
        x = json_dumps(json_object_get(body, "ExposedPorts"), JSON_SORT_KEYS | JSON_COMPACT);
        is_str(x, "{\"5353/tcp\":{},\"5353/udp\":{}}", "ExposedPorts");
}

static void test_container_env_sorted(void) {
        static const char text[] = "{\"name\":\"e\",\"image\":\"x\",\"env\":{\"Z\":\"1\",\"A\":\"a=b\",\"M\":\"\"}}";
        _cleanup_(service_spec_freep) ServiceSpec *s = NULL;
        _cleanup_json_ json_t *body = NULL;
        _cleanup_free_ char *env = NULL;

        if (!ok(service_spec_parse(text, sizeof(text) - 1, NULL, &s, NULL) == 0, "env spec parses"))
                return;
        body = container_create_body(s, NULL);
        env = json_dumps(json_object_get(body, "Env"), JSON_COMPACT);
        is_str(env, "[\"A=a=b\",\"M=\",\"Z=1\"]", "Env sorted by key");
}

/* The network holder: the service's ports and cgroup parent, the pause image, nothing of the service's own
 * (command, env, resources, io.ballast.service); a hash of its own, which only the holder's fields move. */
static void test_holder_body(void) {
        static const char other_env[] =
                "{\"name\":\"web\",\"image\":\"example/web:1.4.3\",\"env\":{\"X\":\"1\"},"
                "\"ports\":[{\"host\":10090,\"container\":8080}]}";
        static const char other_port[] = "{\"name\":\"web\",\"image\":\"example/web:1.4.2\","
                                         "\"ports\":[{\"host\":10091,\"container\":8080}]}";
        _cleanup_(service_spec_freep) ServiceSpec *s = load_data("web.json"), *t = NULL, *u = NULL;
        _cleanup_json_ json_t *h = NULL, *h2 = NULL, *h3 = NULL, *hp = NULL, *copy = NULL;
        _cleanup_free_ char *dump = NULL, *x = NULL;
        json_t *labels, *hc;
        char hash[17];

        if (!ok(s, "web.json loads"))
                return;
        h = container_holder_body(s, "/ballast/web");
        if (!ok(h, "container_holder_body(web)"))
                return;
        labels = json_object_get(h, "Labels");
        hc = json_object_get(h, "HostConfig");
        is_str(json_string_value(json_object_get(h, "Image")), "ballast/pause:" PACKAGE_VERSION, "  the pause image");
        x = json_dumps(json_object_get(h, "Entrypoint"), JSON_COMPACT);
        is_str(x, "[\"/pause\"]", "  runs /pause");
        ok(!json_object_get(h, "Cmd") && !json_object_get(h, "Env") && !json_object_get(hc, "Memory") &&
           !json_object_get(hc, "NanoCpus") && !json_object_get(hc, "PidsLimit"),
           "  none of the service's command, env or limits");
        is_str(json_string_value(json_object_get(labels, "io.ballast.netns")), "web", "  io.ballast.netns=web");
        is_str(json_string_value(json_object_get(labels, "io.ballast.unit")), "ballast-web.service", "  io.ballast.unit");
        ok(!json_object_get(labels, "io.ballast.service") && !json_object_get(labels, "team"),
           "  not io.ballast.service (ballastd's events are the service's), nor the spec's labels");
        free(x);
        x = json_dumps(json_object_get(hc, "PortBindings"), JSON_COMPACT | JSON_SORT_KEYS);
        is_str(x, "{\"8080/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"10090\"}]}", "  it publishes the service's port");
        ok(json_object_get(json_object_get(h, "ExposedPorts"), "8080/tcp") != NULL, "  and exposes it");
        is_str(json_string_value(json_object_get(hc, "CgroupParent")), "/ballast/web", "  under the service's cgroup parent");
        is_str(json_string_value(json_object_get(json_object_get(hc, "RestartPolicy"), "Name")), "no",
               "  Docker's restart policy off");
        is_str(json_string_value(json_object_get(json_object_get(hc, "LogConfig"), "Type")), "none", "  no logs");

        copy = json_deep_copy(h);
        json_object_del(json_object_get(copy, "Labels"), "io.ballast.hash");
        dump = json_dumps(copy, JSON_SORT_KEYS | JSON_COMPACT);
        snprintf(hash, sizeof(hash), "%016llx", (unsigned long long) fnv1a64(dump));
        is_str(json_string_value(json_object_get(labels, "io.ballast.hash")), hash,
               "  io.ballast.hash is FNV-1a 64 of the rest of the holder's body");

        /* another image and env, same port: same holder (a new version of the service keeps its network) */
        ok(service_spec_parse(other_env, sizeof(other_env) - 1, NULL, &t, NULL) == 0, "another image, same port");
        h2 = t ? container_holder_body(t, "/ballast/web") : NULL;
        ok(h2 && json_equal(h, h2), "  the same holder body");
        ok(service_spec_parse(other_port, sizeof(other_port) - 1, NULL, &u, NULL) == 0, "another port");
        h3 = u ? container_holder_body(u, "/ballast/web") : NULL;
        ok(h3 && !streq(json_string_value(json_object_get(json_object_get(h3, "Labels"), "io.ballast.hash")),
                        json_string_value(json_object_get(labels, "io.ballast.hash"))),
           "  another holder hash");
        hp = container_holder_body(s, NULL);
        ok(hp && !json_object_get(json_object_get(hp, "HostConfig"), "CgroupParent"), "no cgroup parent: none");

        /* the service's body joined to a holder: its network, no ports of its own, the rest as it was */
        {
                _cleanup_json_ json_t *body = container_create_body(s, "/ballast/web"), *before = NULL;
                _cleanup_free_ char *mode = NULL;
                json_t *bhc;

                before = json_deep_copy(body);
                is_int(holder_join_body(body, "0123abcd", &mode), 0, "holder_join_body()");
                bhc = json_object_get(body, "HostConfig");
                is_str(mode, "container:0123abcd", "  NetworkMode container:ID");
                is_str(json_string_value(json_object_get(bhc, "NetworkMode")), "container:0123abcd", "  in HostConfig");
                ok(!json_object_get(body, "ExposedPorts") && !json_object_get(bhc, "PortBindings"),
                   "  no ExposedPorts, no PortBindings");
                json_object_del(json_object_get(before, "HostConfig"), "PortBindings");
                json_object_del(before, "ExposedPorts");
                json_object_del(bhc, "NetworkMode");
                ok(json_equal(body, before), "  everything else (the hash label too) unchanged");
                is_int(holder_join_body(body, "", NULL), -EINVAL, "  an empty holder ID is refused");
        }
}

/* Storage, identity, security and order keys: the golden unit and body of a docker service that has them all,
 * and the body of one without them is the body it was before they existed (no key, same hash). */
static void test_security_body(void) {
        _cleanup_(service_spec_freep) ServiceSpec *s = load_data("secure.json");
        _cleanup_json_ json_t *body = NULL, *want = NULL, *holder = NULL;
        _cleanup_free_ char *want_text = read_data("secure-create.json"), *dump = NULL;

        if (!ok(s && want_text, "secure.json and secure-create.json load"))
                return;
        want = json_loads(want_text, 0, NULL);
        body = container_create_body(s, NULL);
        ok(body && want && json_equal(body, want), "container_create_body(secure) is secure-create.json");
        if (body && want && !json_equal(body, want)) {
                dump = json_dumps(body, JSON_SORT_KEYS | JSON_COMPACT);
                diag("got %s", dump);
        }
        holder = container_holder_body(s, NULL);
        ok(holder && streq(strempty(json_string_value(json_object_get(json_array_get(json_object_get(
                                json_object_get(json_object_get(holder, "HostConfig"), "PortBindings"), "8080/tcp"),
                                0), "HostIp"))), "127.0.0.1"),
           "the network holder publishes the port on host_ip");
        ok(holder && !json_object_get(json_object_get(holder, "HostConfig"), "Mounts") &&
                   !json_object_get(holder, "User"),
           "  and takes none of the service's mounts or identity");
}


/* Images, environment files and secrets: what the unit and the body carry. */
static void test_sources(void) {
        _cleanup_(service_spec_freep) ServiceSpec *d = NULL, *x = NULL, *plain = NULL;
        _cleanup_free_ char *unit = NULL, *xunit = NULL, *punit = NULL, *error = NULL, *cunit = NULL;
        _cleanup_json_ json_t *body = NULL, *pbody = NULL;
        static const char dtext[] = "{\"name\":\"d\",\"image\":\"x\",\"pull\":\"always\","
                                    "\"registry_auth_file\":\"/etc/ballast/r.json\",\"env_files\":[\"/etc/a.env\","
                                    "\"/etc/b.env\"],\"secrets\":[{\"source\":\"/etc/ballast/s/db\",\"target\":\"db\"}]}";
        static const char xtext[] = "{\"name\":\"x\",\"runtime\":\"exec\",\"command\":[\"/bin/true\"],"
                                    "\"env_files\":[\"/etc/a.env\"],\"secrets\":[{\"source\":\"/etc/s/db\",\"target\":"
                                    "\"db_password\"}]}";
        static const char ptext[] = "{\"name\":\"d\",\"image\":\"x\"}";
        UnitContext c = test_ctx;
        json_t *binds;

        if (!is_int(service_spec_parse(dtext, sizeof(dtext) - 1, NULL, &d, &error), 0, "docker spec parses") ||
            !is_int(service_spec_parse(xtext, sizeof(xtext) - 1, NULL, &x, &error), 0, "exec spec parses") ||
            !is_int(service_spec_parse(ptext, sizeof(ptext) - 1, NULL, &plain, &error), 0, "plain spec parses")) {
                diag("%s", strna(error));
                return;
        }
        is_int(unit_text_for_service(d, &test_ctx, &unit), 0, "docker unit generated");
        ok(unit && strstr(unit, " --restart always --pull always --registry-auth \"/etc/ballast/r.json\" --env-file "
                                "\"/etc/a.env\" --env-file \"/etc/b.env\"\n"),
           "ExecStart= passes the pull policy, the credentials and the env files to ballast-run");
        ok(unit && !strstr(unit, "EnvironmentFile=") && !strstr(unit, "LoadCredential="),
           "a docker unit has neither EnvironmentFile= nor LoadCredential=");

        is_int(unit_text_for_service(plain, &test_ctx, &punit), 0, "plain docker unit generated");
        ok(punit && !strstr(punit, "--pull") && !strstr(punit, "--registry-auth") && !strstr(punit, "--env-file"),
           "defaults add nothing to ExecStart= (units of older specs stay as they were)");
        c.registry_auth_file = "/etc/ballast/registry.json";
        is_int(unit_text_for_service(plain, &c, &cunit), 0, "plain docker unit with ballast.json's credentials");
        ok(cunit && strstr(cunit, " --registry-auth \"/etc/ballast/registry.json\"\n"),
           "ballast.json's registry_auth_file applies when the spec has none");

        is_int(unit_text_for_service(x, &test_ctx, &xunit), 0, "exec unit generated");
        ok(xunit && strstr(xunit, "\nEnvironmentFile=/etc/a.env\nLoadCredential=db_password:/etc/s/db\n"),
           "exec: EnvironmentFile= and LoadCredential=");

        body = container_create_body(d, NULL);
        binds = json_object_get(json_object_get(body, "HostConfig"), "Binds");
        ok(json_array_size(binds) == 1 &&
           streq_ptr(json_string_value(json_array_get(binds, 0)), "/etc/ballast/s/db:/run/secrets/db:ro"),
           "the secret is bound read-only at /run/secrets/TARGET");
        ok(body && !strstr(json_string_value(json_object_get(body, "Image")), "@") &&
           json_array_size(json_object_get(body, "Env")) == 0, "env files are not read into the body by ballastd");
        pbody = container_create_body(plain, NULL);
        ok(pbody && !json_object_get(json_object_get(pbody, "HostConfig"), "Binds"), "no secrets, no Binds");
}

int main(void) {
        test_container_body();
        test_container_ports();
        test_container_env_sorted();
        test_holder_body();
        test_security_body();
        test_sources();
        return tap_done();
}
