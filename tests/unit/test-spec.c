/* SPDX-License-Identifier: MIT */
/* src/supervisor/spec.c: the service spec's names, examples, defaults, round trips, refusals with their messages,
 * long and non-UTF-8 strings, loading from files. Security and order: test-spec-security.c; images, environment
 * files and secrets: test-spec-sources.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/fileio.h"
#include "spec-fixture.h"
#include "supervisor/spec.h"
#include "tap.h"

static void test_name_is_valid(void) {
        static const struct {
                const char *name;
                bool valid;
        } table[] = {
                { "web", true },
                { "a", true },
                { "0", true },
                { "web-1", true },
                { "9lives", true },
                { "web-", true },
                { "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk", true }, /* 63 */
                { "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl", false }, /* 64 */
                { "", false },
                { "-web", false },
                { "Web", false },
                { "web_1", false },
                { "web.1", false },
                { "web/1", false },
                { "web 1", false },
                { "../x", false },
                { "w\xc3\xa9" "b", false },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                is_int(service_name_is_valid(table[i].name), table[i].valid, "service_name_is_valid(\"%s\")",
                       table[i].name);
        ok(!service_name_is_valid(NULL), "service_name_is_valid(NULL)");
}

static void test_product_example(void) {
        _cleanup_(service_spec_freep) ServiceSpec *s = NULL;
        _cleanup_free_ char *path = data_path("web.json"), *error = NULL;
        int r;

        r = service_spec_load(path, &s, &error);
        if (!is_int(r, 0, "the reference example spec loads")) {
                diag("%s", strna(error));
                return;
        }
        is_str(s->name, "web", "name");
        is_int(s->runtime, SERVICE_RUNTIME_DOCKER, "runtime");
        is_str(s->image, "example/web:1.4.2", "image");
        is_int(strv_length(s->command), 3, "command has 3 words");
        is_str(s->command[2], "exec httpd -f -p 8080", "command[2]");
        is_str(json_string_value(json_object_get(s->env, "APP_ENV")), "prod", "env.APP_ENV");
        is_int(s->n_ports, 1, "one port");
        is_int(s->ports[0].host, 10090, "ports[0].host");
        is_int(s->ports[0].container, 8080, "ports[0].container");
        ok(!s->ports[0].udp, "ports[0] is tcp");
        is_int(s->cpu_millis, 500, "cpu 0.5 = 500 millicores");
        is_int(s->memory, 256 << 20, "memory 256M");
        is_int(s->pids, 512, "pids");
        is_int(s->restart, RESTART_ALWAYS, "restart.policy");
        is_int(s->restart_delay_ms, 500, "restart.delay_ms");
        is_int(s->restart_max_delay_ms, 60000, "restart.max_delay_ms");
        is_int(s->health, HEALTH_HTTP, "health kind");
        is_str(s->health_http, "http://127.0.0.1:10090/health", "health.http");
        is_int(s->health_interval_ms, 5000, "health.interval_ms");
        is_int(s->health_timeout_ms, 2000, "health.timeout_ms");
        is_int(s->health_retries, 3, "health.retries");
        is_str(json_string_value(json_object_get(s->labels, "team")), "checkout", "labels.team");
}

static void test_exec_example(void) {
        _cleanup_(service_spec_freep) ServiceSpec *s = NULL;
        _cleanup_free_ char *path = data_path("worker.json"), *error = NULL;
        int r;

        r = service_spec_load(path, &s, &error);
        if (!is_int(r, 0, "exec example loads")) {
                diag("%s", strna(error));
                return;
        }
        is_int(s->runtime, SERVICE_RUNTIME_EXEC, "runtime exec");
        ok(!s->image, "no image");
        is_str(s->command[0], "/usr/bin/python3", "command[0]");
        is_int(s->ports[0].host, 10091, "ports[0].host");
        is_int(s->ports[0].container, 0, "exec port has no container port");
        is_int(s->cpu_millis, 125, "cpu 0.125");
        is_int(s->memory, 64 << 20, "memory 64Mi");
        is_int(s->pids, 0, "pids not committed");
        is_int(s->restart, RESTART_ON_FAILURE, "restart on-failure");
        is_int(s->restart_delay_ms, 1000, "delay_ms");
        is_int(s->restart_max_delay_ms, 30000, "max_delay_ms default");
        is_int(s->health, HEALTH_TCP, "health tcp");
        is_int(s->health_tcp, 10091, "health.tcp");
        is_int(s->health_interval_ms, 1000, "interval_ms");
        is_int(s->health_timeout_ms, 1000, "timeout_ms defaults to at most interval_ms");
        is_int(s->health_start_period_ms, 10000, "start_period_ms defaults to at least 10 s");
        is_int(s->health_start_interval_ms, 1000, "start_interval_ms defaults to at most 1 s");
}

/* The start period's defaults follow retries × interval + timeout and the interval; given, they are kept. */
static void test_health_start_period(void) {
        static const struct {
                const char *text;
                uint64_t period, interval;
        } cases[] = {
                { "{'name':'a','image':'x','health':{'tcp':80,'interval_ms':10000,'timeout_ms':3000,'retries':4}}",
                  43000, 1000 },
                { "{'name':'a','image':'x','health':{'tcp':80,'interval_ms':500,'retries':2}}", 10000, 500 },
                { "{'name':'a','image':'x','health':{'tcp':80,'start_period_ms':0,'start_interval_ms':100}}", 0, 100 },
                { "{'name':'a','image':'x','health':{'tcp':80,'start_period_ms':3600000,'start_interval_ms':5000}}",
                  3600000, 5000 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(service_spec_freep) ServiceSpec *s = NULL;
                _cleanup_free_ char *error = NULL, *text = strdup(cases[i].text);

                for (char *q = text; q && *q; q++)
                        if (*q == '\'')
                                *q = '"';
                if (!is_int(parse(text, &s, &error), 0, "start period %zu parses", i)) {
                        diag("%s", strna(error));
                        continue;
                }
                is_int(s->health_start_period_ms, cases[i].period, "  start_period_ms %zu", i);
                is_int(s->health_start_interval_ms, cases[i].interval, "  start_interval_ms %zu", i);
        }
}

static void test_defaults(void) {
        _cleanup_(service_spec_freep) ServiceSpec *s = NULL;
        _cleanup_free_ char *error = NULL;

        if (!is_int(parse("{\"name\": \"a\", \"image\": \"busybox\"}", &s, &error), 0, "minimal docker spec"))
                return;
        is_int(s->runtime, SERVICE_RUNTIME_DOCKER, "runtime defaults to docker");
        ok(!s->command, "no command: the image's");
        ok(json_is_object(s->env) && json_object_size(s->env) == 0, "env is an empty object");
        ok(json_is_object(s->labels) && json_object_size(s->labels) == 0, "labels is an empty object");
        is_int(s->n_ports, 0, "no ports");
        is_int(s->cpu_millis + s->memory + s->pids, 0, "no resources committed");
        is_int(s->restart, RESTART_ALWAYS, "restart always");
        is_int(s->restart_delay_ms, 100, "delay 100 ms");
        is_int(s->restart_max_delay_ms, 30000, "max delay 30 s");
        is_int(s->health, HEALTH_NONE, "no health check");
        is_int(s->health_interval_ms, 5000, "interval default");
        is_int(s->health_timeout_ms, 2000, "timeout default");
        is_int(s->health_retries, 3, "retries default");
        is_int(s->health_start_period_ms, 17000, "start period default: retries × interval + timeout");
        is_int(s->health_start_interval_ms, 1000, "start interval default 1 s");
}

/* Valid specs, beyond the examples: edge values that must be accepted. */
static const char *const valid_specs[] = {
        "{'name':'a','image':'busybox'}",
        "{'name':'a','image':'registry.example.com:5000/team/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'}",
        "{'name':'a','runtime':'exec','command':['/bin/true']}",
        "{'name':'a','runtime':'exec','command':['/opt/my app/100%/bin','$HOME','%n',';','']}",
        "{'name':'a','image':'x','ports':[{'host':53,'container':53,'protocol':'udp'},"
        "{'host':53,'container':53,'protocol':'tcp'},{'host':65535,'container':1}]}",
        "{'name':'a','runtime':'exec','command':['/bin/true'],'ports':[{'host':8080,'container':8080}]}",
        "{'name':'a','image':'x','resources':{'cpu':1024,'memory':'6M','pids':4194304}}",
        "{'name':'a','image':'x','resources':{'cpu':0.001,'memory':'1T'}}",
        "{'name':'a','image':'x','resources':{'memory':'1024T'}}",
        "{'name':'a','image':'x','resources':{'memory':'6144KiB'}}",
        "{'name':'a','runtime':'exec','command':['/bin/true'],'resources':{'memory':'1M'}}",
        "{'name':'a','image':'x','resources':{}}",
        "{'name':'a','image':'x','restart':{'policy':'no','delay_ms':0,'max_delay_ms':0}}",
        "{'name':'a','image':'x','restart':{'delay_ms':3600000}}",
        "{'name':'a','image':'x','restart':{'policy':'on-failure','delay_ms':5,'max_delay_ms':5}}",
        "{'name':'a','image':'x','health':{'cmd':['pg_isready'],'interval_ms':100,'timeout_ms':10,'retries':100}}",
        "{'name':'a','image':'x','health':{'tcp':1,'interval_ms':3600000,'timeout_ms':3600000,'retries':1}}",
        "{'name':'a','image':'x','health':{'http':'http://[::1]:80/a?b=c%20d'}}",
        "{'name':'a','image':'x','labels':{'com.example/team-1_x':'v\\n\\tw','a':''}}",
        "{'name':'a','image':'x','env':{'_':'','A_1':'tab\\tand\\nnewline','a':'\\u00e9\\u2603'}}",
        "{'name':'a','image':'x','command':['-not-a-path-inside-docker','@x']}",
};

static void test_valid_and_round_trip(void) {
        for (size_t i = 0; i < ELEMENTSOF(valid_specs); i++) {
                _cleanup_(service_spec_freep) ServiceSpec *s = NULL, *t = NULL;
                _cleanup_free_ char *text = json_text(valid_specs[i]), *error = NULL, *dump = NULL;
                _cleanup_json_ json_t *j = NULL, *j2 = NULL;
                JsonError e = {};
                int r;

                r = parse(text, &s, &error);
                if (!is_int(r, 0, "valid: %s", text)) {
                        diag("%s", strna(error));
                        continue;
                }
                j = service_spec_to_json(s);
                ok(j, "to_json");
                dump = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
                r = service_spec_from_json(j, &t, &e);
                if (!is_int(r, 0, "round trip parses: %s", strna(dump))) {
                        diag("%s: %s", e.path, e.message);
                        continue;
                }
                ok(service_spec_equal(s, t), "from_json(to_json(s)) equals s");
                j2 = service_spec_to_json(t);
                ok(json_equal(j, j2), "to_json is a fixed point");
        }
}

static void test_equal(void) {
        _cleanup_(service_spec_freep) ServiceSpec *a = NULL, *b = NULL, *c = NULL;
        _cleanup_free_ char *ta = json_text("{'name':'a','image':'x','env':{'A':'1','B':'2'},"
                                            "'resources':{'memory':'1G'}}"),
                            *tb = json_text("{'env':{'B':'2','A':'1'},'image':'x','name':'a','runtime':'docker',"
                                            "'resources':{'memory':'1024M'},'restart':{'delay_ms':100}}"),
                            *tc = json_text("{'name':'a','image':'x','env':{'A':'1','B':'3'}}");

        ok(parse(ta, &a, NULL) == 0 && parse(tb, &b, NULL) == 0 && parse(tc, &c, NULL) == 0, "three specs parse");
        ok(service_spec_equal(a, b), "key order, units and explicit defaults do not make a difference");
        ok(!service_spec_equal(a, c), "a different env value does");
        ok(service_spec_equal(NULL, NULL) && !service_spec_equal(a, NULL), "NULL");
}

static void test_normalized_json(void) {
        _cleanup_(service_spec_freep) ServiceSpec *s = NULL;
        _cleanup_free_ char *text = json_text("{'name':'a','image':'x','resources':{'cpu':2,'memory':'1536M'}}"),
                            *dump = NULL;
        _cleanup_json_ json_t *j = NULL;

        if (!is_int(parse(text, &s, NULL), 0, "parses"))
                return;
        j = service_spec_to_json(s);
        dump = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
        is_str(dump,
               "{\"env\":{},\"image\":\"x\",\"labels\":{},\"name\":\"a\",\"no_new_privileges\":false,\"ports\":[],\"pull\":\"missing\","
               "\"read_only\":false,\"resources\":{\"cpu\":2.0,\"memory\":\"1536M\"},"
               "\"restart\":{\"delay_ms\":100,\"max_delay_ms\":30000,\"policy\":\"always\"},\"runtime\":\"docker\","
               "\"stop_signal\":\"SIGTERM\",\"stop_timeout_s\":10}",
               "normalized JSON has every default");
}

static const struct {
        const char *json;
        const char *error;
} invalid_specs[] = {
        /* shape */
        { "[]", "expected an object, got an array" },
        { "{}", "name: is required" },
        { "{'name':'web','image':'x','foo':1}", "foo: unknown key" },
        { "{'name':'web','image':'x','Name':'web'}", "Name: unknown key" },
        /* name */
        { "{'name':'Web','image':'x'}",
          "name: \"Web\" is not a valid service name (1 to 63 of a-z, 0-9 and '-', starting with a letter or digit)" },
        { "{'name':'-web','image':'x'}",
          "name: \"-web\" is not a valid service name (1 to 63 of a-z, 0-9 and '-', starting with a letter or digit)" },
        { "{'name':'','image':'x'}",
          "name: \"\" is not a valid service name (1 to 63 of a-z, 0-9 and '-', starting with a letter or digit)" },
        { "{'name':'web/../../etc','image':'x'}",
          "name: \"web/../../etc\" is not a valid service name (1 to 63 of a-z, 0-9 and '-', starting with a letter "
          "or digit)" },
        { "{'name':'a\\nb','image':'x'}",
          "name: \"a\\nb\" is not a valid service name (1 to 63 of a-z, 0-9 and '-', starting with a letter or digit)" },
        { "{'name':'abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl','image':'x'}",
          "name: \"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuv\"... is not a valid service name (1 to 63 of a-z, "
          "0-9 and '-', starting with a letter or digit)" },
        { "{'name':5,'image':'x'}", "name: expected a string, got an integer" },
        /* runtime and image */
        { "{'name':'web','runtime':'podman','image':'x'}",
          "runtime: \"podman\" is not a runtime (expected \"docker\" or \"exec\")" },
        { "{'name':'web'}", "image: is required for runtime docker" },
        { "{'name':'web','image':'../etc'}",
          "image: \"../etc\" is not a Docker image reference (1 to 255 of A-Z, a-z, 0-9, '.', '_', '/', ':', '@', '-', "
          "starting with a letter or digit, no \"..\")" },
        { "{'name':'web','image':'a..b'}",
          "image: \"a..b\" is not a Docker image reference (1 to 255 of A-Z, a-z, 0-9, '.', '_', '/', ':', '@', '-', "
          "starting with a letter or digit, no \"..\")" },
        { "{'name':'web','image':'x y'}",
          "image: \"x y\" is not a Docker image reference (1 to 255 of A-Z, a-z, 0-9, '.', '_', '/', ':', '@', '-', "
          "starting with a letter or digit, no \"..\")" },
        { "{'name':'web','image':''}",
          "image: \"\" is not a Docker image reference (1 to 255 of A-Z, a-z, 0-9, '.', '_', '/', ':', '@', '-', "
          "starting with a letter or digit, no \"..\")" },
        { "{'name':'web','image':'--privileged'}",
          "image: \"--privileged\" is not a Docker image reference (1 to 255 of A-Z, a-z, 0-9, '.', '_', '/', ':', '@', "
          "'-', starting with a letter or digit, no \"..\")" },
        { "{'name':'web','runtime':'exec','image':'x','command':['/bin/true']}", "image: only for runtime docker" },
        { "{'name':'web','image':'x','runtime':'exec','command':['/bin/true']}", "image: only for runtime docker" },
        /* command */
        { "{'name':'web','runtime':'exec'}", "command: is required for runtime exec" },
        { "{'name':'web','image':'x','command':[]}", "command: expected a non-empty array of strings" },
        { "{'name':'web','image':'x','command':'/bin/sh -c x'}", "command: expected a non-empty array of strings" },
        { "{'name':'web','image':'x','command':[1]}", "command[0]: expected a string, got an integer" },
        { "{'name':'web','image':'x','command':['']}", "command[0]: is empty" },
        { "{'name':'web','image':'x','command':['sh','a\\u0001b']}", "command[1]: contains a control character" },
        { "{'name':'web','image':'x','command':['sh','\\u001b[31m']}", "command[1]: contains a control character" },
        { "{'name':'web','image':'x','command':['sh','\\r']}", "command[1]: contains a control character" },
        { "{'name':'web','image':'x','command':['sh','\\u007f']}", "command[1]: contains a control character" },
        { "{'name':'web','runtime':'exec','command':['bin/true']}", "command[0]: \"bin/true\" is not an absolute path" },
        { "{'name':'web','runtime':'exec','command':['true']}", "command[0]: \"true\" is not an absolute path" },
        { "{'name':'web','runtime':'exec','command':['-/bin/true']}",
          "command[0]: \"-/bin/true\" starts with '-', which systemd would take as an ExecStart= prefix" },
        { "{'name':'web','runtime':'exec','command':['@/bin/true','x']}",
          "command[0]: \"@/bin/true\" starts with '@', which systemd would take as an ExecStart= prefix" },
        { "{'name':'web','runtime':'exec','command':[':/bin/true']}",
          "command[0]: \":/bin/true\" starts with ':', which systemd would take as an ExecStart= prefix" },
        { "{'name':'web','runtime':'exec','command':['+/bin/true']}",
          "command[0]: \"+/bin/true\" starts with '+', which systemd would take as an ExecStart= prefix" },
        { "{'name':'web','runtime':'exec','command':['!!/bin/true']}",
          "command[0]: \"!!/bin/true\" starts with '!', which systemd would take as an ExecStart= prefix" },
        { "{'name':'web','runtime':'exec','command':['|/bin/true']}",
          "command[0]: \"|/bin/true\" starts with '|', which systemd would take as an ExecStart= prefix" },
        { "{'name':'web','runtime':'exec','command':['/usr/../bin/true']}",
          "command[0]: \"/usr/../bin/true\" contains \"/../\"" },
        { "{'name':'web','runtime':'exec','command':['/usr/bin/..']}", "command[0]: \"/usr/bin/..\" contains \"/../\"" },
        { "{'name':'web','runtime':'exec','command':['/usr/bin/']}", "command[0]: \"/usr/bin/\" names a directory" },
        { "{'name':'web','runtime':'exec','command':['/usr/bin/tr\\u0027ue']}",
          "command[0]: \"/usr/bin/tr'ue\" contains a quote or a backslash, which systemd refuses in an executable path" },
        { "{'name':'web','runtime':'exec','command':['/usr/bin/tr\\\\ue']}",
          "command[0]: \"/usr/bin/tr\\\\ue\" contains a quote or a backslash, which systemd refuses in an executable "
          "path" },
        { "{'name':'web','runtime':'exec','command':['/usr/bin/tr\\'ue']}",
          "command[0]: \"/usr/bin/tr\\\"ue\" contains a quote or a backslash, which systemd refuses in an executable "
          "path" },
        { "{'name':'web','runtime':'exec','command':['/usr/bin/true\\n']}", "command[0]: contains a control character" },
        /* env */
        { "{'name':'web','image':'x','env':[]}", "env: expected an object of strings, got an array" },
        { "{'name':'web','image':'x','env':{'1A':'x'}}",
          "env: \"1A\" is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*, at most 255)" },
        { "{'name':'web','image':'x','env':{'A=B':'x'}}",
          "env: \"A=B\" is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*, at most 255)" },
        { "{'name':'web','image':'x','env':{'':'x'}}",
          "env: \"\" is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*, at most 255)" },
        { "{'name':'web','image':'x','env':{'A\\nExecStartPost':'x'}}",
          "env: \"A\\nExecStartPost\" is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*, at most 255)" },
        { "{'name':'web','image':'x','env':{'A-B':'x'}}",
          "env: \"A-B\" is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*, at most 255)" },
        { "{'name':'web','image':'x','env':{'A':1}}", "env.A: expected a string, got an integer" },
        { "{'name':'web','image':'x','env':{'A':null}}", "env.A: expected a string, got null" },
        { "{'name':'web','image':'x','env':{'A':'x\\u0007'}}", "env.A: contains a control character" },
        { "{'name':'web','image':'x','env':{'A':'x\\r\\n[Service]'}}", "env.A: contains a control character" },
        /* ports */
        { "{'name':'web','image':'x','ports':{}}", "ports: expected an array of ports, got an object" },
        { "{'name':'web','image':'x','ports':[80]}", "ports[0]: expected an object, got an integer" },
        { "{'name':'web','image':'x','ports':[{'container':80}]}", "ports[0].host: is required" },
        { "{'name':'web','image':'x','ports':[{'host':0,'container':80}]}", "ports[0].host: 0 is out of range 1..65535" },
        { "{'name':'web','image':'x','ports':[{'host':65536,'container':80}]}",
          "ports[0].host: 65536 is out of range 1..65535" },
        { "{'name':'web','image':'x','ports':[{'host':-1,'container':80}]}", "ports[0].host: -1 is out of range 1..65535" },
        { "{'name':'web','image':'x','ports':[{'host':'80','container':80}]}",
          "ports[0].host: expected an integer, got a string" },
        { "{'name':'web','image':'x','ports':[{'host':80.5,'container':80}]}",
          "ports[0].host: expected an integer, got a number" },
        { "{'name':'web','image':'x','ports':[{'host':80,'container':0}]}",
          "ports[0].container: 0 is out of range 1..65535" },
        { "{'name':'web','image':'x','ports':[{'host':80,'container':80,'protocol':'sctp'}]}",
          "ports[0].protocol: \"sctp\" is not a protocol (expected \"tcp\" or \"udp\")" },
        { "{'name':'web','image':'x','ports':[{'host':80,'container':80},{'host':80,'container':81}]}",
          "ports[1]: host port 80/tcp is already listed in ports[0]" },
        { "{'name':'web','image':'x','ports':[{'host':53,'container':53,'protocol':'udp'},{'host':80,'container':80},"
          "{'host':53,'container':54,'protocol':'udp'}]}",
          "ports[2]: host port 53/udp is already listed in ports[0]" },
        { "{'name':'web','image':'x','ports':[{'host':80}]}", "ports[0]: container is required for runtime docker" },
        { "{'name':'web','runtime':'exec','command':['/bin/true'],'ports':[{'host':80,'container':8080}]}",
          "ports[0]: container must be left out or equal host for runtime exec" },
        /* resources */
        { "{'name':'web','image':'x','resources':[]}", "resources: expected an object, got an array" },
        { "{'name':'web','image':'x','resources':{'disk':'1G'}}", "resources.disk: unknown key" },
        { "{'name':'web','image':'x','resources':{'cpu':0}}", "resources.cpu: 0 is not a positive number of CPUs" },
        { "{'name':'web','image':'x','resources':{'cpu':0.0}}", "resources.cpu: 0 is not a positive number of CPUs" },
        { "{'name':'web','image':'x','resources':{'cpu':-1}}", "resources.cpu: -1 is not a positive number of CPUs" },
        { "{'name':'web','image':'x','resources':{'cpu':-0.5}}", "resources.cpu: -0.5 is not a positive number of CPUs" },
        { "{'name':'web','image':'x','resources':{'cpu':1025}}", "resources.cpu: 1025 is more than 1024 CPUs" },
        { "{'name':'web','image':'x','resources':{'cpu':1e300}}", "resources.cpu: 1e+300 is more than 1024 CPUs" },
        { "{'name':'web','image':'x','resources':{'cpu':0.0004}}", "resources.cpu: 0.0004 is less than 0.001 CPUs" },
        { "{'name':'web','image':'x','resources':{'cpu':'0.5'}}",
          "resources.cpu: expected a number of CPUs such as 0.5, got a string" },
        { "{'name':'web','image':'x','resources':{'memory':'12XB'}}",
          "resources.memory: \"12XB\" is not a size (a number and K, M, G or T, e.g. \"256M\")" },
        { "{'name':'web','image':'x','resources':{'memory':256}}", "resources.memory: 256 has no unit (e.g. \"256M\")" },
        { "{'name':'web','image':'x','resources':{'memory':'256'}}",
          "resources.memory: \"256\" has no unit (e.g. \"256M\")" },
        { "{'name':'web','image':'x','resources':{'memory':'256m'}}",
          "resources.memory: \"256m\" is not a size (a number and K, M, G or T, e.g. \"256M\")" },
        { "{'name':'web','image':'x','resources':{'memory':'268435456B'}}",
          "resources.memory: \"268435456B\" is not a size (a number and K, M, G or T, e.g. \"256M\")" },
        { "{'name':'web','image':'x','resources':{'memory':'1.5G'}}",
          "resources.memory: \"1.5G\" is not a size (a number and K, M, G or T, e.g. \"256M\")" },
        { "{'name':'web','image':'x','resources':{'memory':'-5M'}}",
          "resources.memory: \"-5M\" is not a size (a number and K, M, G or T, e.g. \"256M\")" },
        { "{'name':'web','image':'x','resources':{'memory':' 5M'}}",
          "resources.memory: \" 5M\" is not a size (a number and K, M, G or T, e.g. \"256M\")" },
        { "{'name':'web','image':'x','resources':{'memory':''}}",
          "resources.memory: \"\" is not a size (a number and K, M, G or T, e.g. \"256M\")" },
        { "{'name':'web','image':'x','resources':{'memory':'M'}}",
          "resources.memory: \"M\" is not a size (a number and K, M, G or T, e.g. \"256M\")" },
        { "{'name':'web','image':'x','resources':{'memory':1.5}}",
          "resources.memory: expected a size such as \"256M\", got a number" },
        { "{'name':'web','image':'x','resources':{'memory':'0M'}}", "resources.memory: \"0M\" is not a positive size" },
        { "{'name':'web','image':'x','resources':{'memory':'1025T'}}",
          "resources.memory: \"1025T\" is too large (at most 1024T)" },
        { "{'name':'web','image':'x','resources':{'memory':'16777216T'}}",
          "resources.memory: \"16777216T\" is too large (at most 1024T)" },
        { "{'name':'web','image':'x','resources':{'memory':'99999999999999999999M'}}",
          "resources.memory: \"99999999999999999999M\" is too large (at most 1024T)" },
        { "{'name':'web','image':'x','resources':{'memory':'4M'}}",
          "resources.memory: 4M is less than Docker's minimum of 6M" },
        { "{'name':'web','image':'x','resources':{'memory':'6143K'}}",
          "resources.memory: 6143K is less than Docker's minimum of 6M" },
        { "{'name':'web','runtime':'exec','command':['/bin/true'],'resources':{'memory':'512K'}}",
          "resources.memory: 512K is less than 1M" },
        { "{'name':'web','image':'x','resources':{'pids':0}}", "resources.pids: 0 is out of range 1..4194304" },
        { "{'name':'web','image':'x','resources':{'pids':4194305}}",
          "resources.pids: 4194305 is out of range 1..4194304" },
        { "{'name':'web','image':'x','resources':{'pids':'5'}}", "resources.pids: expected an integer, got a string" },
        /* restart */
        { "{'name':'web','image':'x','restart':'always'}", "restart: expected an object, got a string" },
        { "{'name':'web','image':'x','restart':{'policy':'sometimes'}}",
          "restart.policy: \"sometimes\" is not a restart policy (expected \"always\", \"on-failure\" or \"no\")" },
        { "{'name':'web','image':'x','restart':{'policy':'on-abort'}}",
          "restart.policy: \"on-abort\" is not a restart policy (expected \"always\", \"on-failure\" or \"no\")" },
        { "{'name':'web','image':'x','restart':{'delay_ms':-1}}", "restart.delay_ms: -1 is out of range 0..3600000" },
        { "{'name':'web','image':'x','restart':{'delay_ms':3600001}}",
          "restart.delay_ms: 3600001 is out of range 0..3600000" },
        { "{'name':'web','image':'x','restart':{'max_delay_ms':3600001}}",
          "restart.max_delay_ms: 3600001 is out of range 0..3600000" },
        { "{'name':'web','image':'x','restart':{'max_delay_ms':50}}",
          "restart.max_delay_ms: 50 is less than delay_ms (100)" },
        { "{'name':'web','image':'x','restart':{'max_delay_ms':1000,'delay_ms':2000}}",
          "restart.max_delay_ms: 1000 is less than delay_ms (2000)" },
        { "{'name':'web','image':'x','restart':{'tries':3}}", "restart.tries: unknown key" },
        /* health */
        { "{'name':'web','image':'x','health':{}}", "health: needs one of http, tcp or cmd" },
        { "{'name':'web','image':'x','health':{'retries':3}}", "health: needs one of http, tcp or cmd" },
        { "{'name':'web','image':'x','health':{'http':'http://x/','tcp':80}}",
          "health.tcp: only one of http, tcp or cmd may be given" },
        { "{'name':'web','image':'x','health':{'cmd':['true'],'http':'http://x/'}}",
          "health.http: only one of http, tcp or cmd may be given" },
        { "{'name':'web','image':'x','health':{'http':'https://x/'}}",
          "health.http: \"https://x/\" is not an http:// URL (at most 2048 bytes, no spaces or control characters)" },
        { "{'name':'web','image':'x','health':{'http':'http://'}}",
          "health.http: \"http://\" is not an http:// URL (at most 2048 bytes, no spaces or control characters)" },
        { "{'name':'web','image':'x','health':{'http':'http://x/a b'}}",
          "health.http: \"http://x/a b\" is not an http:// URL (at most 2048 bytes, no spaces or control characters)" },
        { "{'name':'web','image':'x','health':{'http':'http://x/\\n'}}",
          "health.http: \"http://x/\\n\" is not an http:// URL (at most 2048 bytes, no spaces or control characters)" },
        { "{'name':'web','image':'x','health':{'http':80}}", "health.http: expected a string, got an integer" },
        { "{'name':'web','image':'x','health':{'tcp':0}}", "health.tcp: 0 is out of range 1..65535" },
        { "{'name':'web','image':'x','health':{'cmd':[]}}", "health.cmd: expected a non-empty array of strings" },
        { "{'name':'web','image':'x','health':{'cmd':['a','b\\u0000']}}",
          "invalid JSON at line 1, column 56: \\u0000 is not allowed without JSON_ALLOW_NUL near '\"b\\u0000\"'" },
        { "{'name':'web','image':'x','health':{'tcp':80,'interval_ms':99}}",
          "health.interval_ms: 99 is out of range 100..3600000" },
        { "{'name':'web','image':'x','health':{'tcp':80,'timeout_ms':9}}",
          "health.timeout_ms: 9 is out of range 10..3600000" },
        { "{'name':'web','image':'x','health':{'tcp':80,'timeout_ms':6000}}",
          "health.timeout_ms: 6000 is more than interval_ms (5000)" },
        { "{'name':'web','image':'x','health':{'tcp':80,'retries':0}}", "health.retries: 0 is out of range 1..100" },
        { "{'name':'web','image':'x','health':{'tcp':80,'retries':101}}", "health.retries: 101 is out of range 1..100" },
        { "{'name':'web','image':'x','health':{'tcp':80,'start_period_ms':3600001}}",
          "health.start_period_ms: 3600001 is out of range 0..3600000" },
        { "{'name':'web','image':'x','health':{'tcp':80,'start_period_ms':-1}}",
          "health.start_period_ms: -1 is out of range 0..3600000" },
        { "{'name':'web','image':'x','health':{'tcp':80,'start_period_ms':'1s'}}",
          "health.start_period_ms: expected an integer, got a string" },
        { "{'name':'web','image':'x','health':{'tcp':80,'start_interval_ms':99}}",
          "health.start_interval_ms: 99 is out of range 100..3600000" },
        { "{'name':'web','image':'x','health':{'tcp':80,'start_interval_ms':6000}}",
          "health.start_interval_ms: 6000 is more than interval_ms (5000)" },
        { "{'name':'web','runtime':'exec','command':['/bin/true'],'health':{'cmd':['check']}}",
          "health.cmd[0]: \"check\" is not an absolute path" },
        /* labels */
        { "{'name':'web','image':'x','labels':[]}", "labels: expected an object of strings, got an array" },
        { "{'name':'web','image':'x','labels':{'io.ballast.service':'other'}}",
          "labels: \"io.ballast.service\": keys starting with \"io.ballast.\" are reserved for ballast" },
        { "{'name':'web','image':'x','labels':{'io.ballast.':'x'}}",
          "labels: \"io.ballast.\": keys starting with \"io.ballast.\" are reserved for ballast" },
        { "{'name':'web','image':'x','labels':{'a b':'x'}}",
          "labels: \"a b\" is not a valid label key (1 to 128 of A-Z, a-z, 0-9, '.', '_', '/', '-')" },
        { "{'name':'web','image':'x','labels':{'':'x'}}",
          "labels: \"\" is not a valid label key (1 to 128 of A-Z, a-z, 0-9, '.', '_', '/', '-')" },
        { "{'name':'web','image':'x','labels':{'team':1}}", "labels: \"team\": expected a string, got an integer" },
        { "{'name':'web','image':'x','labels':{'team':'a\\u0001'}}",
          "labels: \"team\": value contains a control character" },
        /* JSON itself */
        { "{'name':'web','name':'web2','image':'x'}",
          "invalid JSON at line 1, column 20: duplicate object key near '\"name\"'" },
        { "{'name':'web','image':'x'", "invalid JSON at line 1, column 25: '}' expected near end of file" },
        { "{'name':'web','image':'x'} x", "invalid JSON at line 1, column 28: end of file expected near 'x'" },
        { "", "invalid JSON at line 1, column 1: '[' or '{' expected near end of file" },
        /* found by tests/fuzz/fuzz-spec: jansson says column 0 at the end of the input after a newline */
        { "{'name':'web',\n", "invalid JSON at line 2, column 1: string or '}' expected near end of file" },
};

static void test_invalid(void) {
        for (size_t i = 0; i < ELEMENTSOF(invalid_specs); i++)
                check_refused(invalid_specs[i].json, invalid_specs[i].error);
}

/* tmpl with its one '@' replaced by s. */
static char *fill(const char *tmpl, const char *s) {
        const char *at = strchr(tmpl, '@');
        char *r;

        if (!at || asprintf(&r, "%.*s%s%s", (int) (at - tmpl), tmpl, s, at + 1) < 0)
                abort();
        return r;
}

/* Long values: SERVICE_STRING_MAX is the most any one string may be. */
static void test_long_strings(void) {
        static const struct {
                const char *format; /* @ is the long string */
                size_t length;
                const char *error;  /* NULL: accepted */
        } table[] = {
                { "{\"name\":\"a\",\"image\":\"x\",\"env\":{\"BIG\":\"@\"}}", 64 * 1024,
                  "env.BIG: is longer than 16384 bytes" },
                { "{\"name\":\"a\",\"image\":\"x\",\"env\":{\"BIG\":\"@\"}}", SERVICE_STRING_MAX + 1,
                  "env.BIG: is longer than 16384 bytes" },
                { "{\"name\":\"a\",\"image\":\"x\",\"env\":{\"BIG\":\"@\"}}", SERVICE_STRING_MAX, NULL },
                { "{\"name\":\"a\",\"image\":\"x\",\"command\":[\"sh\",\"@\"]}", 64 * 1024,
                  "command[1]: is longer than 16384 bytes" },
                { "{\"name\":\"a\",\"runtime\":\"exec\",\"command\":[\"/bin/echo\",\"@\"]}", SERVICE_STRING_MAX, NULL },
                { "{\"name\":\"a\",\"image\":\"x\",\"health\":{\"cmd\":[\"@\"]}}", 64 * 1024,
                  "health.cmd[0]: is longer than 16384 bytes" },
                { "{\"name\":\"a\",\"image\":\"x\",\"labels\":{\"k\":\"@\"}}", 64 * 1024,
                  "labels: \"k\": value is longer than 1024 bytes" },
                { "{\"name\":\"a\",\"image\":\"x\",\"labels\":{\"k\":\"@\"}}", 1024, NULL },
                { "{\"name\":\"a\",\"image\":\"x\",\"labels\":{\"@\":\"v\"}}", 129,
                  "labels: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"... is not a valid label key (1 to 128 of "
                  "A-Z, a-z, 0-9, '.', '_', '/', '-')" },
                { "{\"name\":\"a\",\"image\":\"x\",\"labels\":{\"@\":\"v\"}}", 128, NULL },
                { "{\"name\":\"a\",\"image\":\"x\",\"env\":{\"@\":\"v\"}}", 256,
                  "env: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"... is not a valid variable name "
                  "([A-Za-z_][A-Za-z0-9_]*, at most 255)" },
                { "{\"name\":\"a\",\"image\":\"x\",\"env\":{\"@\":\"v\"}}", 255, NULL },
                { "{\"name\":\"a\",\"image\":\"@\"}", 256,
                  "image: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"... is not a Docker image reference (1 to "
                  "255 of A-Z, a-z, 0-9, '.', '_', '/', ':', '@', '-', starting with a letter or digit, no \"..\")" },
                { "{\"name\":\"a\",\"image\":\"@\"}", 255, NULL },
                { "{\"name\":\"a\",\"image\":\"x\",\"health\":{\"http\":\"http://@\"}}", 2041, NULL },
                { "{\"name\":\"a\",\"image\":\"x\",\"health\":{\"http\":\"http://@\"}}", 2042,
                  "health.http: \"http://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"... is not an http:// URL (at most "
                  "2048 bytes, no spaces or control characters)" },
                { "{\"name\":\"a\",\"runtime\":\"exec\",\"command\":[\"/@\"]}", 256,
                  "command[0]: has a path component longer than 255 bytes" },
                { "{\"name\":\"a\",\"runtime\":\"exec\",\"command\":[\"/@\"]}", 255, NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_(service_spec_freep) ServiceSpec *s = NULL;
                _cleanup_free_ char *big = malloc(table[i].length + 1), *text = NULL, *error = NULL;
                int r;

                memset(big, 'a', table[i].length);
                big[table[i].length] = 0;
                text = fill(table[i].format, big);
                r = parse(text, &s, &error);
                if (table[i].error) {
                        is_int(r, -EINVAL, "%zu bytes in %s: refused", table[i].length, table[i].format);
                        is_str(error, table[i].error, "  with the right message");
                } else if (!is_int(r, 0, "%zu bytes in %s: accepted", table[i].length, table[i].format))
                        diag("%s", strna(error));
        }
}

/* Multi-byte characters are never cut in half when an error message shortens a value. */
static void test_quote_utf8(void) {
        _cleanup_(service_spec_freep) ServiceSpec *s = NULL;
        _cleanup_free_ char *error = NULL, *text = NULL, *name = NULL;
        size_t n = 0;

        /* 47 ASCII bytes, then "é" (2 bytes) straddling the 48-byte cut */
        name = malloc(64);
        memset(name, 'x', 47);
        n = 47;
        memcpy(name + n, "\xc3\xa9\xc3\xa9", 4);
        name[n + 4] = 0;
        if (asprintf(&text, "{\"name\":\"%s\",\"image\":\"x\"}", name) < 0)
                abort();
        is_int(parse(text, &s, &error), -EINVAL, "non-ASCII name refused");
        is_str(error,
               "name: \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"... is not a valid service name (1 to 63 of "
               "a-z, 0-9 and '-', starting with a letter or digit)",
               "  the message cuts before the split character");
}

static void test_not_utf8(void) {
        static const char text[] = "{\"name\": \"web\", \"image\": \"x\", \"env\": {\"A\": \"caf\xe9\"}}";
        static const char text2[] = "{\"name\": \"web\", \"image\": \"x\", \"labels\": {\"\xff\xfe\": \"x\"}}";
        _cleanup_(service_spec_freep) ServiceSpec *s = NULL;
        _cleanup_free_ char *error = NULL, *error2 = NULL, *error3 = NULL;

        is_int(service_spec_parse(text, sizeof(text) - 1, NULL, &s, &error), -EINVAL, "Latin-1 input refused");
        is_str(error, "not UTF-8 text at line 1, column 47: unable to decode byte 0xe9 near '\"caf'",
               "  says it is not UTF-8, and where");
        is_int(service_spec_parse(text, sizeof(text) - 1, "/etc/ballast/services.d/web.json", &s, &error2), -EINVAL,
               "with a file name");
        is_str(error2, "/etc/ballast/services.d/web.json:1:47: not UTF-8 text: unable to decode byte 0xe9 near '\"caf'",
               "  FILE:LINE:COL");
        is_int(service_spec_parse(text2, sizeof(text2) - 1, NULL, &s, &error3), -EINVAL, "bad bytes in a key");
        is_str(error3, "not UTF-8 text at line 1, column 42: unable to decode byte 0xff near '\"'",
               "  the message carries no raw bytes");
}

static void test_nul_and_size(void) {
        static const char text[] = "{\"name\": \"web\", \"image\": \"x\"}\0garbage";
        _cleanup_(service_spec_freep) ServiceSpec *s = NULL;
        _cleanup_free_ char *error = NULL, *error2 = NULL, *big = NULL;
        size_t n = SERVICE_SPEC_MAX + 1;

        is_int(service_spec_parse(text, sizeof(text) - 1, NULL, &s, &error), -EINVAL, "NUL byte in the text refused");
        ok(error && strstr(error, "invalid JSON"), "  as invalid JSON: %s", strna(error));

        big = malloc(n);
        memset(big, ' ', n);
        is_int(service_spec_parse(big, n, NULL, &s, &error2), -EFBIG, "a spec larger than 256 KiB refused");
        is_str(error2, "spec is larger than 262144 bytes", "  with the right message");
}

static void test_load_errors(void) {
        _cleanup_(service_spec_freep) ServiceSpec *s = NULL;
        _cleanup_free_ char *path = data_path("bad-memory.json"), *error = NULL, *error2 = NULL, *want = NULL,
                            *error3 = NULL, *bigpath = NULL, *error4 = NULL;
        char dir[] = "/tmp/test-spec.XXXXXX";
        int r;

        r = service_spec_load(path, &s, &error);
        is_int(r, -EINVAL, "bad value in a file refused");
        if (asprintf(&want, "%s:6:5: resources.memory: \"12XB\" is not a size (a number and K, M, G or T, e.g. \"256M\")",
                     path) < 0)
                abort();
        is_str(error, want, "  FILE:LINE:COL: field: why");

        r = service_spec_load("/nonexistent/x.json", &s, &error2);
        is_int(r, -ENOENT, "missing file");
        is_str(error2, "/nonexistent/x.json: cannot read: No such file or directory", "  says so");

        if (!ok(mkdtemp(dir), "mkdtemp"))
                return;
        if (asprintf(&bigpath, "%s/big.json", dir) < 0)
                abort();
        {
                _cleanup_free_ char *big = malloc(SERVICE_SPEC_MAX + 2);
                memset(big, ' ', SERVICE_SPEC_MAX + 1);
                ok(write_file_atomic(bigpath, big, SERVICE_SPEC_MAX + 1, 0644) == 0, "write a big file");
        }
        r = service_spec_load(bigpath, &s, &error3);
        is_int(r, -EFBIG, "file larger than 256 KiB refused");
        ok(error3 && strstr(error3, "larger than 262144 bytes"), "  says so: %s", strna(error3));
        unlink(bigpath);

        {
                _cleanup_free_ char *p = NULL, *w = NULL;
                static const char text[] = "{\n  \"name\": \"web\",\n  \"image\": \"x\",\n  \"ports\": [\n"
                                           "    {\"host\": 80, \"container\": 80},\n    {\"host\": 70000}\n  ]\n}\n";
                if (asprintf(&p, "%s/ports.json", dir) < 0)
                        abort();
                ok(write_file_atomic(p, text, strlen(text), 0644) == 0, "write ports.json");
                is_int(service_spec_load(p, &s, &error4), -EINVAL, "bad port in a file");
                if (asprintf(&w, "%s:6:6: ports[1].host: 70000 is out of range 1..65535", p) < 0)
                        abort();
                is_str(error4, w, "  located in the array");
                unlink(p);
        }
        rmdir(dir);
}

static void test_no_error_pointer(void) {
        _cleanup_(service_spec_freep) ServiceSpec *s = NULL;

        is_int(parse("{\"name\": 1}", &s, NULL), -EINVAL, "ret_error may be NULL");
        is_int(parse("{", &s, NULL), -EINVAL, "ret_error may be NULL for JSON errors");
}

static void test_strings(void) {
        is_str(service_runtime_to_string(SERVICE_RUNTIME_DOCKER), "docker", "docker");
        is_str(service_runtime_to_string(SERVICE_RUNTIME_EXEC), "exec", "exec");
        is_str(restart_policy_to_string(RESTART_ALWAYS), "always", "always");
        is_str(restart_policy_to_string(RESTART_ON_FAILURE), "on-failure", "on-failure");
        is_str(restart_policy_to_string(RESTART_NO), "no", "no");
        ok(!restart_policy_to_string((RestartPolicy) 42), "out of range");
}

int main(void) {
        test_name_is_valid();
        test_product_example();
        test_exec_example();
        test_defaults();
        test_health_start_period();
        test_valid_and_round_trip();
        test_equal();
        test_normalized_json();
        test_invalid();
        test_long_strings();
        test_quote_utf8();
        test_not_utf8();
        test_nul_and_size();
        test_load_errors();
        test_no_error_pointer();
        test_strings();
        return tap_done();
}
