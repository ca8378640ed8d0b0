/* SPDX-License-Identifier: MIT */
/* src/config: defaults, the full example (tests/data/config/full.json), every way a config is refused (with the exact
 * "FILE:LINE:COL: key: why" an operator sees), config_load() of missing and unreadable files, and the
 * weekday and clock parsers. Fixtures are in tests/data/config/. */

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/config.h"
#include "shared/fileio.h"
#include "shared/macro.h"
#include "updates/windows.h"
#include "tap.h"

#define SUN (1U << 0)
#define MON (1U << 1)
#define SAT (1U << 6)

static char *data_path(const char *name) {
        _cleanup_free_ char *file = strdup(__FILE__);
        const char *top = getenv("top_srcdir");
        char *p;

        /* under "make check" top_srcdir is set; run by hand, the fixtures sit beside this source file */
        if (top) {
                if (asprintf(&p, "%s/tests/data/config/%s", top, name) < 0)
                        abort();
        } else if (!file || asprintf(&p, "%s/data/config/%s", dirname(file), name) < 0)
                abort();
        return p;
}

static const char *json_str(json_t *o, const char *key) {
        return json_string_value(json_object_get(o, key));
}

static void check_defaults(const Config *c, const char *what) {
        ok(c->node_name == NULL, "%s: node.name unset (the hostname)", what);
        ok(json_is_object(c->node_labels) && json_object_size(c->node_labels) == 0, "%s: no node labels", what);
        ok(c->reserved_cpu_millis == 0 && c->reserved_memory == 0 && c->reserved_pids == 0, "%s: nothing reserved",
           what);
        ok(c->eviction_memory == 100ULL << 20, "%s: eviction.memory 100M", what);
        is_int(c->eviction_disk_percent, 10, "%s: eviction.disk 10%%", what);
        ok(c->etcd_endpoints == NULL, "%s: no etcd (standalone)", what);
        is_str(c->etcd_prefix, "/ballast", "%s: etcd prefix", what);
        is_int(c->etcd_ttl_s, 15, "%s: etcd ttl", what);
        ok(!c->etcd_ca && !c->etcd_cert && !c->etcd_key, "%s: no etcd TLS files", what);
        ok(c->http_url == NULL && c->http_token_file == NULL, "%s: no HTTP reporting", what);
        is_int(c->http_interval_s, 30, "%s: HTTP interval", what);
        ok(!c->updates.managed, "%s: updates not managed", what);
        ok(!c->updates.channel && !c->updates.max_version, "%s: no channel pin, no max version", what);
        is_str(c->updates.strategy, "fleet_lock", "%s: strategy", what);
        ok(c->updates.fleet_lock_url == NULL, "%s: no FleetLock URL", what);
        is_str(c->updates.fleet_lock_group, "default", "%s: FleetLock group", what);
        is_str(c->updates.time_zone, "UTC", "%s: time zone", what);
        ok(c->updates.windows == NULL && c->updates.n_windows == 0, "%s: no maintenance windows", what);
        is_int(c->updates.drain_timeout_s, 300, "%s: drain timeout", what);
        is_int(c->updates.reboot_timeout_s, 900, "%s: reboot timeout", what);
        is_str(c->control_socket, "/run/ballast/ballastd.sock", "%s: control socket", what);
        is_str(c->control_group, "ballast", "%s: control group", what);
        is_str(c->docker_socket, "/var/run/docker.sock", "%s: docker socket", what);
        is_str(c->unit_dir, "/etc/systemd/system", "%s: unit dir", what);
        is_str(c->state_dir, "/var/lib/ballast", "%s: state dir", what);
        is_str(c->services_dir, "/etc/ballast/services.d", "%s: services dir", what);
}

static void test_defaults(void) {
        _cleanup_(config_freep) Config *c = NULL, *empty = NULL;
        _cleanup_free_ char *error = NULL;

        is_int(config_new_default(&c), 0, "config_new_default()");
        if (c)
                check_defaults(c, "default");

        is_int(config_parse("{}", 2, "empty.json", &empty, &error), 0, "config_parse(\"{}\")");
        ok(!error, "no error for {}");
        if (empty)
                check_defaults(empty, "{}");

        config_free(NULL); /* accepts NULL */
}

static void check_full(const Config *c) {
        is_str(c->node_name, "worker-7", "node.name");
        ok(json_object_size(c->node_labels) == 2 && streq(strempty(json_str(c->node_labels, "zone")), "a") &&
                   streq(strempty(json_str(c->node_labels, "role")), "web"),
           "node.labels {zone: a, role: web}");
        is_int(c->reserved_cpu_millis, 500, "reserved.cpu 0.5 = 500 millicores");
        ok(c->reserved_memory == 512ULL << 20, "reserved.memory 512M");
        is_int(c->reserved_pids, 1000, "reserved.pids");
        ok(c->eviction_memory == 100ULL << 20, "eviction.memory 100M");
        is_int(c->eviction_disk_percent, 10, "eviction.disk 10%%");
        ok(strv_length(c->etcd_endpoints) == 2 && streq(c->etcd_endpoints[0], "https://10.0.0.1:2379") &&
                   streq(c->etcd_endpoints[1], "https://10.0.0.2:2379"),
           "cluster.etcd.endpoints");
        is_str(c->etcd_prefix, "/ballast", "cluster.etcd.prefix");
        is_int(c->etcd_ttl_s, 15, "cluster.etcd.ttl_s");
        is_str(c->etcd_ca, "/etc/ballast/etcd-ca.pem", "cluster.etcd.ca");
        is_str(c->etcd_cert, "/etc/ballast/etcd.pem", "cluster.etcd.cert");
        is_str(c->etcd_key, "/etc/ballast/etcd-key.pem", "cluster.etcd.key");
        is_str(c->http_url, "https://inventory.example.com/nodes", "cluster.http.url");
        is_str(c->http_token_file, "/etc/ballast/token", "cluster.http.token_file");
        is_int(c->http_interval_s, 30, "cluster.http.interval_s");
        ok(c->updates.managed, "updates given: managed");
        is_str(c->updates.channel, "stable", "updates.channel");
        ok(c->updates.max_version == NULL, "updates.max_version null = unset");
        is_str(c->updates.strategy, "fleet_lock", "updates.strategy");
        is_str(c->updates.fleet_lock_url, "https://airlock.example.com/", "updates.fleet_lock.url");
        is_str(c->updates.fleet_lock_group, "workers", "updates.fleet_lock.group");
        is_str(c->updates.time_zone, "UTC", "updates.time_zone");
        is_int(c->updates.n_windows, 1, "one maintenance window");
        if (c->updates.n_windows == 1) {
                is_int(c->updates.windows[0].days, SAT | SUN, "windows[0].days Sat+Sun = bits 6 and 0 (0x41)");
                is_int(c->updates.windows[0].start_min, 4 * 60, "windows[0].start 04:00 = 240 min");
                is_int(c->updates.windows[0].length_min, 60, "windows[0].length_min");
        }
        is_int(c->updates.drain_timeout_s, 300, "updates.drain_timeout_s");
        is_str(c->control_socket, "/run/ballast/ballastd.sock", "control.socket");
        is_str(c->control_group, "ballast", "control.group");
        is_str(c->docker_socket, "/var/run/docker.sock", "docker.socket");
        is_str(c->unit_dir, "/etc/systemd/system", "paths.unit_dir");
        is_str(c->state_dir, "/var/lib/ballast", "paths.state_dir");
        is_str(c->services_dir, "/etc/ballast/services.d", "paths.services_dir");
}

static void test_full_example(void) {
        _cleanup_free_ char *path = data_path("full.json"), *text = NULL, *error = NULL, *padded = NULL;
        _cleanup_(config_freep) Config *c = NULL, *c2 = NULL;
        size_t size = 0;

        is_int(read_full_file(path, 1 << 20, &text, &size), 0, "read %s", path);
        if (!text)
                return;
        is_int(config_parse(text, size, path, &c, &error), 0, "the full example configuration parses");
        if (error)
                diag("%s", error);
        if (c)
                check_full(c);

        /* size, not a NUL, ends the text */
        padded = malloc(size + 16);
        if (!padded)
                abort();
        memcpy(padded, text, size);
        memcpy(padded + size, "garbage}}}}}}}}", 16);
        is_int(config_parse(padded, size, "padded.json", &c2, &error), 0, "bytes after size are not read");
}

static void test_good_variants(void) {
        static const struct {
                const char *text;
                unsigned days, start, length;
                const char *strategy;
        } cases[] = {
                { "{\"updates\": {\"strategy\": \"off\"}}", 0, 0, 0, "off" },
                { "{\"updates\": {\"strategy\": \"periodic\", \"windows\": []}}", 0, 0, 0, "periodic" },
                { "{\"updates\": {\"strategy\": \"off\", \"windows\": [{\"days\": [\"Saturday\", \"Sunday\"],"
                  " \"start\": \"23:59\", \"length_min\": 10080}]}}",
                  SAT | SUN, 23 * 60 + 59, 7 * 24 * 60, "off" },
                { "{\"updates\": {\"strategy\": \"off\", \"windows\": [{\"days\": [\"Sat\", \"Sat\", \"Mon\"],"
                  " \"start\": \"00:00\", \"length_min\": 1}]}}",
                  SAT | MON, 0, 1, "off" },
                { "{\"updates\": {\"fleet_lock\": {\"url\": \"http://lock/\"}}}", 0, 0, 0, "fleet_lock" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_free_ char *error = NULL;

                is_int(config_parse(cases[i].text, strlen(cases[i].text), "good.json", &c, &error), 0, "%s parses",
                       cases[i].text);
                if (error)
                        diag("%s", error);
                if (!c)
                        continue;
                ok(c->updates.managed, "  updates managed");
                is_str(c->updates.strategy, cases[i].strategy, "  strategy");
                if (cases[i].days) {
                        is_int(c->updates.n_windows, 1, "  one window");
                        if (c->updates.n_windows == 1)
                                ok(c->updates.windows[0].days == cases[i].days && c->updates.windows[0].start_min == cases[i].start &&
                                           c->updates.windows[0].length_min == cases[i].length,
                                   "  window days 0x%x start %u length %u", cases[i].days, cases[i].start,
                                   cases[i].length);
                } else
                        is_int(c->updates.n_windows, 0, "  no window");
        }

        /* Range edges that are still accepted. */
        static const char *const edges[] = {
                "{\"cluster\": {\"etcd\": {\"endpoints\": [\"http://e:2379\"], \"ttl_s\": 5}}}",
                "{\"cluster\": {\"etcd\": {\"endpoints\": [\"http://e:2379\"], \"ttl_s\": 86400,"
                " \"ca\": null, \"cert\": null, \"key\": null}}}",
                "{\"cluster\": {\"http\": {\"url\": \"https://x/\", \"interval_s\": 1, \"token_file\": null}}}",
                "{\"eviction\": {\"disk\": \"0%\", \"memory\": 0}}",
                "{\"eviction\": {\"disk\": \"100%\", \"memory\": \"1T\"}}",
                "{\"updates\": {\"strategy\": \"off\", \"drain_timeout_s\": 0, \"time_zone\": \"Europe/Berlin\"}}",
                "{\"updates\": {\"strategy\": \"off\", \"channel\": null, \"max_version\": \"3815.2.0\"}}",
                "{\"node\": {\"name\": \"a.example.com\", \"labels\": {}}, \"reserved\": {\"cpu\": 2}}",
        };
        for (size_t i = 0; i < ELEMENTSOF(edges); i++) {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_free_ char *error = NULL;

                is_int(config_parse(edges[i], strlen(edges[i]), "edge.json", &c, &error), 0, "%s parses", edges[i]);
                if (error)
                        diag("%s", error);
        }
}

static void test_bad_configs(void) {
        static const struct {
                const char *what;
                const char *text;
                const char *error;
        } cases[] = {
                { "unknown top-level key",
                  "{\n"
                  "  \"node\": {\"name\": \"w1\"},\n"
                  "  \"nodes\": {}\n"
                  "}\n",
                  "bad.json:3:3: nodes: unknown key" },
                { "unknown nested key",
                  "{\n"
                  "  \"updates\": {\n"
                  "    \"fleet_lock\": {\n"
                  "      \"url\": \"https://airlock.example.com/\",\n"
                  "      \"grup\": \"workers\"\n"
                  "    }\n"
                  "  }\n"
                  "}\n",
                  "bad.json:5:7: updates.fleet_lock.grup: unknown key" },
                { "wrong type",
                  "{\"reserved\": {\"pids\": \"many\"}}",
                  "bad.json:1:15: reserved.pids: expected an integer, got a string" },
                { "section of the wrong type",
                  "{\n  \"docker\": \"/var/run/docker.sock\"\n}",
                  "bad.json:2:3: docker: expected an object, got a string" },
                { "bad size",
                  "{\n"
                  "  \"reserved\": {\n"
                  "    \"memory\": \"12XB\"\n"
                  "  }\n"
                  "}\n",
                  "bad.json:3:5: reserved.memory: \"12XB\" is not a size (use bytes or K, M, G, T)" },
                { "size too large",
                  "{\"eviction\": {\"memory\": \"99999999999T\"}}",
                  "bad.json:1:15: eviction.memory: \"99999999999T\" is too large" },
                { "negative CPU",
                  "{\"reserved\": {\"cpu\": -1}}",
                  "bad.json:1:15: reserved.cpu: -1 is not a number of CPUs" },
                { "bad percentage",
                  "{\"eviction\": {\"disk\": \"101%\"}}",
                  "bad.json:1:15: eviction.disk: expected a percentage such as \"10%\"" },
                { "bad URL",
                  "{\"cluster\": {\"http\": {\"url\": \"ftp://inventory/nodes\"}}}",
                  "bad.json:1:23: cluster.http.url: expected an http:// or https:// URL" },
                { "bad URL in a list",
                  "{\n"
                  "  \"cluster\": {\n"
                  "    \"etcd\": {\n"
                  "      \"endpoints\": [\"https://10.0.0.1:2379\",\n"
                  "                    \"10.0.0.2:2379\"]\n"
                  "    }\n"
                  "  }\n"
                  "}\n",
                  "bad.json:5:21: cluster.etcd.endpoints[1]: expected an http:// or https:// URL" },
                { "empty endpoint list",
                  "{\"cluster\": {\"etcd\": {\"endpoints\": []}}}",
                  "bad.json:1:23: cluster.etcd.endpoints: expected a non-empty array of URLs" },
                { "etcd without endpoints (a missing key has no position)",
                  "{\"cluster\": {\"etcd\": {\"prefix\": \"/b\"}}}",
                  "bad.json: cluster.etcd.endpoints: is required" },
                { "relative etcd prefix",
                  "{\"cluster\": {\"etcd\": {\"endpoints\": [\"http://e/\"], \"prefix\": \"ballast\"}}}",
                  "bad.json:1:51: cluster.etcd.prefix: expected a key prefix starting with '/'" },
                { "bad weekday",
                  "{\n"
                  "  \"updates\": {\n"
                  "    \"fleet_lock\": {\"url\": \"https://airlock.example.com/\"},\n"
                  "    \"windows\": [\n"
                  "      {\"days\": [\"Sat\", \"Sun\"], \"start\": \"04:00\", \"length_min\": 60},\n"
                  "      {\"days\": [\"Mon\", \"Funday\"], \"start\": \"04:00\", \"length_min\": 60}\n"
                  "    ]\n"
                  "  }\n"
                  "}\n",
                  "bad.json:6:24: updates.windows[1].days[1]: expected a weekday such as \"Sat\" or \"Saturday\"" },
                { "lower-case weekday",
                  "{\"updates\": {\"strategy\": \"off\", \"windows\": [{\"days\": [\"sat\"], \"start\": \"04:00\","
                  " \"length_min\": 60}]}}",
                  "bad.json:1:55: updates.windows[0].days[0]: expected a weekday such as \"Sat\" or \"Saturday\"" },
                { "no weekdays",
                  "{\"updates\": {\"strategy\": \"off\", \"windows\": [{\"days\": [], \"start\": \"04:00\","
                  " \"length_min\": 60}]}}",
                  "bad.json:1:46: updates.windows[0].days: expected a non-empty array of weekdays" },
                { "25:00",
                  "{\n"
                  "  \"updates\": {\n"
                  "    \"fleet_lock\": {\"url\": \"https://airlock.example.com/\"},\n"
                  "    \"windows\": [{\"days\": [\"Sat\"], \"start\": \"25:00\", \"length_min\": 60}]\n"
                  "  }\n"
                  "}\n",
                  "bad.json:4:35: updates.windows[0].start: expected a time of day \"HH:MM\"" },
                { "window without a start",
                  "{\"updates\": {\"strategy\": \"off\", \"windows\": [{\"days\": [\"Sat\"], \"length_min\": 60}]}}",
                  "bad.json: updates.windows[0].start: is required" },
                { "window length 0",
                  "{\"updates\": {\"strategy\": \"off\", \"windows\": [{\"days\": [\"Sat\"], \"start\": \"04:00\","
                  " \"length_min\": 0}]}}",
                  "bad.json:1:81: updates.windows[0].length_min: 0 is out of range 1..10080" },
                { "windows not an array",
                  "{\"updates\": {\"strategy\": \"off\", \"windows\": {}}}",
                  "bad.json:1:33: updates.windows: expected an array of windows" },
                { "ttl too small",
                  "{\n"
                  "  \"cluster\": {\n"
                  "    \"etcd\": {\n"
                  "      \"endpoints\": [\"https://e:2379\"],\n"
                  "      \"ttl_s\": 3\n"
                  "    }\n"
                  "  }\n"
                  "}\n",
                  "bad.json:5:7: cluster.etcd.ttl_s: 3 is out of range 5..86400" },
                { "ttl too large",
                  "{\"cluster\": {\"etcd\": {\"endpoints\": [\"https://e:2379\"], \"ttl_s\": 86401}}}",
                  "bad.json:1:56: cluster.etcd.ttl_s: 86401 is out of range 5..86400" },
                { "ttl negative",
                  "{\"cluster\": {\"etcd\": {\"endpoints\": [\"https://e:2379\"], \"ttl_s\": -5}}}",
                  "bad.json:1:56: cluster.etcd.ttl_s: -5 is negative" },
                { "HTTP interval 0",
                  "{\"cluster\": {\"http\": {\"url\": \"https://x/\", \"interval_s\": 0}}}",
                  "bad.json:1:44: cluster.http.interval_s: 0 is out of range 1..86400" },
                { "drain timeout too large",
                  "{\"updates\": {\"strategy\": \"off\", \"drain_timeout_s\": 86401}}",
                  "bad.json:1:33: updates.drain_timeout_s: 86401 is out of range 0..86400" },
                { "reboot timeout 0",
                  "{\"updates\": {\"strategy\": \"off\", \"reboot_timeout_s\": 0}}",
                  "bad.json:1:33: updates.reboot_timeout_s: 0 is out of range 1..86400" },
                { "unknown strategy",
                  "{\"updates\": {\"strategy\": \"sometimes\"}}",
                  "bad.json:1:14: updates.strategy: expected \"fleet_lock\", \"periodic\" or \"off\"" },
                /* found by tests/fuzz/fuzz-config: accepted here, refused by updates_in_window(), so the
                 * updater could never compute a window of a configuration that loaded */
                { "time zone with a trailing slash",
                  "{\"updates\": {\"strategy\": \"off\", \"time_zone\": \"UTC/\"}}",
                  "bad.json:1:33: updates.time_zone: expected a time zone such as \"UTC\" or \"Europe/Berlin\"" },
                { "time zone with an empty component",
                  "{\"updates\": {\"strategy\": \"off\", \"time_zone\": \"Europe//Berlin\"}}",
                  "bad.json:1:33: updates.time_zone: expected a time zone such as \"UTC\" or \"Europe/Berlin\"" },
                { "time zone escaping the zoneinfo dir",
                  "{\"updates\": {\"strategy\": \"off\", \"time_zone\": \"../../etc/shadow\"}}",
                  "bad.json:1:33: updates.time_zone: expected a time zone such as \"UTC\" or \"Europe/Berlin\"" },
                { "channel with a space",
                  "{\"updates\": {\"strategy\": \"off\", \"channel\": \"my channel\"}}",
                  "bad.json:1:33: updates.channel: expected a name of letters, digits, '.', '-', '_'" },
                { "FleetLock group with '_' (FleetLock's ^[a-zA-Z0-9.-]+$)",
                  "{\"updates\": {\"strategy\": \"fleet_lock\", \"fleet_lock\": {\"url\": \"http://a/\", \"group\": \"my_workers\"}}}",
                  "bad.json:1:75: updates.fleet_lock.group: expected a FleetLock group of letters, digits, '.' and '-' (no '_')" },
                { "max_version that is not a dotted numeric version",
                  "{\"updates\": {\"strategy\": \"off\", \"max_version\": \"3815.2.x\"}}",
                  "bad.json:1:33: updates.max_version: expected a dotted numeric version such as \"3815.2.0\"" },
                { "max_version with a double dot",
                  "{\"updates\": {\"strategy\": \"off\", \"max_version\": \"3815..0\"}}",
                  "bad.json:1:33: updates.max_version: expected a dotted numeric version such as \"3815.2.0\"" },
                { "bad host name",
                  "{\"node\": {\"name\": \"web_1\"}}",
                  "bad.json:1:11: node.name: expected a host name (letters, digits, '-', '.'; at most 253)" },
                { "non-string label",
                  "{\"node\": {\"labels\": {\"zone\": 1}}}",
                  "bad.json:1:22: node.labels.zone: expected a string, got an integer" },
                { "relative path",
                  "{\"paths\": {\"unit_dir\": \"etc/systemd/system\"}}",
                  "bad.json:1:12: paths.unit_dir: \"etc/systemd/system\" is not an absolute path" },
                { "path with ..",
                  "{\"paths\": {\"state_dir\": \"/var/lib/../../etc\"}}",
                  "bad.json:1:12: paths.state_dir: \"/var/lib/../../etc\" contains \"..\"" },
                { "metrics listen without a port",
                  "{\"metrics\": {\"listen\": \"127.0.0.1\"}}",
                  "bad.json:1:14: metrics.listen: expected \"ADDRESS:PORT\" such as \"127.0.0.1:9436\" or \"[::1]:9436\"" },
                { "metrics listen on a host name",
                  "{\"metrics\": {\"listen\": \"localhost:9436\"}}",
                  "bad.json:1:14: metrics.listen: expected \"ADDRESS:PORT\" such as \"127.0.0.1:9436\" or \"[::1]:9436\"" },
                { "metrics listen, IPv6 without brackets",
                  "{\"metrics\": {\"listen\": \"::1:9436\"}}",
                  "bad.json:1:14: metrics.listen: expected \"ADDRESS:PORT\" such as \"127.0.0.1:9436\" or \"[::1]:9436\"" },
                { "metrics listen, port 0",
                  "{\"metrics\": {\"listen\": \"127.0.0.1:0\"}}",
                  "bad.json:1:14: metrics.listen: expected \"ADDRESS:PORT\" such as \"127.0.0.1:9436\" or \"[::1]:9436\"" },
                { "metrics listen, port too large",
                  "{\"metrics\": {\"listen\": \"127.0.0.1:65536\"}}",
                  "bad.json:1:14: metrics.listen: expected \"ADDRESS:PORT\" such as \"127.0.0.1:9436\" or \"[::1]:9436\"" },
                { "metrics textfile relative",
                  "{\"metrics\": {\"textfile\": \"ballast.prom\"}}",
                  "bad.json:1:14: metrics.textfile: \"ballast.prom\" is not an absolute path" },
                { "metrics textfile interval 0",
                  "{\"metrics\": {\n  \"textfile\": \"/x.prom\",\n  \"textfile_interval_s\": 0}}",
                  "bad.json:3:3: metrics.textfile_interval_s: 0 is out of range 1..86400" },
                { "unknown metrics key",
                  "{\"metrics\": {\"port\": 9436}}",
                  "bad.json:1:14: metrics.port: unknown key" },
                { "control group with a slash",
                  "{\"control\": {\"group\": \"a/b\"}}",
                  "bad.json:1:14: control.group: expected a name of letters, digits, '.', '-', '_'" },
                { "null where null is not allowed",
                  "{\"docker\": {\"socket\": null}}",
                  "bad.json:1:13: docker.socket: expected a string, got null" },
                { "duplicate key (jansson's position: the end of the key)",
                  "{\n"
                  "  \"docker\": {\"socket\": \"/run/docker.sock\"},\n"
                  "  \"docker\": {\"socket\": \"/var/run/docker.sock\"}\n"
                  "}\n",
                  "bad.json:3:10: duplicate object key near '\"docker\"'" },
                { "malformed JSON: trailing comma",
                  "{\n"
                  "  \"node\": {\"name\": \"w1\"},\n"
                  "}\n",
                  "bad.json:3:1: string or '}' expected near '}'" },
                { "malformed JSON: unterminated",
                  "{\n  \"node\": {\"name\": \"w1\"}\n",
                  /* found by tests/fuzz/fuzz-config: jansson says column 0 here; columns count from 1 */
                  "bad.json:3:1: '}' expected near end of file" },
                { "empty file",
                  "",
                  "bad.json:1:1: '[' or '{' expected near end of file" },
                { "not an object",
                  "[1, 2]",
                  "bad.json: expected an object, got an array" },
                { "fleet_lock strategy without a URL",
                  "{\n"
                  "  \"updates\": {\n"
                  "    \"channel\": \"stable\",\n"
                  "    \"strategy\": \"fleet_lock\"\n"
                  "  }\n"
                  "}\n",
                  "bad.json:4:5: updates.strategy: \"fleet_lock\" needs updates.fleet_lock.url" },
                { "fleet_lock section without a URL",
                  "{\"updates\": {\"strategy\": \"off\", \"fleet_lock\": {\"group\": \"g\"}}}",
                  "bad.json: updates.fleet_lock.url: is required" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_free_ char *error = NULL;

                is_int(config_parse(cases[i].text, strlen(cases[i].text), "bad.json", &c, &error), -EINVAL,
                       "%s: refused", cases[i].what);
                ok(!c, "  no config handed out");
                is_str(error, cases[i].error, "  %s", cases[i].error);
        }

        /* The same check when the strategy is the default: every error names the file, like the others. */
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *error = NULL;
        const char *text = "{\"updates\": {\"channel\": \"stable\"}}";
        is_int(config_parse(text, strlen(text), "bad.json", &c, &error), -EINVAL,
               "managed updates with the default strategy fleet_lock and no URL: refused");
        ok(error && strneq(error, "bad.json", strlen("bad.json")), "  the error starts with the file name");
        ok(error && strstr(error, "\"fleet_lock\" needs updates.fleet_lock.url"), "  and says what is missing");
        if (error)
                diag("error: %s", error);
}

static void test_load(void) {
        _cleanup_free_ char *full = data_path("full.json"), *bad = data_path("bad-window.json"),
                            *malformed = data_path("malformed.json"), *want = NULL, *missing = data_path("missing.json");
        char tmpdir[] = "/tmp/test-config.XXXXXX";

        {
                _cleanup_(config_freep) Config *c = NULL;
                char *error = NULL;

                is_int(config_load(missing, &c, &error), 0, "config_load() of a missing file succeeds");
                ok(!error, "  without an error");
                if (c)
                        check_defaults(c, "missing file");
        }
        {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_free_ char *error = NULL;

                is_int(config_load(full, &c, &error), 0, "config_load() of the full example");
                ok(c && c->updates.n_windows == 1 && c->updates.windows[0].days == (SAT | SUN) && streq(strempty(c->node_name), "worker-7"),
                   "  gives the full example's values");
        }
        {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_free_ char *error = NULL;

                is_int(config_load(bad, &c, &error), -EINVAL, "config_load() of a bad file");
                if (asprintf(&want, "%s:5:43: updates.windows[0].length_min: 0 is out of range 1..10080", bad) < 0)
                        abort();
                is_str(error, want, "  names the file, line and column");
                free(TAKE_PTR(want));
        }
        {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_free_ char *error = NULL;

                is_int(config_load(malformed, &c, &error), -EINVAL, "config_load() of malformed JSON");
                if (asprintf(&want, "%s:3:9: '}' expected near '\"paths\"'", malformed) < 0)
                        abort();
                is_str(error, want, "  with jansson's line and column");
                free(TAKE_PTR(want));
        }

        if (!mkdtemp(tmpdir)) {
                ok(0, "mkdtemp(): %s", strerror(errno));
                return;
        }
        {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_free_ char *error = NULL;

                is_int(config_load(tmpdir, &c, &error), -EISDIR, "config_load() of a directory");
                if (asprintf(&want, "%s: cannot read: Is a directory", tmpdir) < 0)
                        abort();
                is_str(error, want, "  says it cannot read it");
                free(TAKE_PTR(want));
        }
        {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_free_ char *error = NULL, *big = NULL, *text = NULL;
                size_t n = (1 << 20) + 1;

                big = path_join(tmpdir, "big.json");
                text = malloc(n);
                if (!big || !text)
                        abort();
                /* valid JSON, only too large: "{}" padded with spaces */
                memset(text, ' ', n);
                text[0] = '{';
                text[n - 1] = '}';
                is_int(write_file_atomic(big, text, n, 0644), 0, "wrote a 1 MiB + 1 byte config");
                is_int(config_load(big, &c, &error), -EFBIG, "config_load() of a file over 1 MiB");
                if (asprintf(&want, "%s: cannot read: File too large", big) < 0)
                        abort();
                is_str(error, want, "  says it is too large");
                free(TAKE_PTR(want));
                (void) unlink(big);
        }
        (void) rmdir(tmpdir);
}

static void test_parse_weekday(void) {
        static const struct {
                const char *s;
                int want;
        } cases[] = {
                { "Sun", 0 },      { "Sunday", 0 },   { "Mon", 1 },     { "Monday", 1 },   { "Tue", 2 },
                { "Tuesday", 2 },  { "Wed", 3 },      { "Wednesday", 3 }, { "Thu", 4 },    { "Thursday", 4 },
                { "Fri", 5 },      { "Friday", 5 },   { "Sat", 6 },     { "Saturday", 6 },
                { "sat", -EINVAL }, { "SAT", -EINVAL }, { "saturday", -EINVAL }, { "Sa", -EINVAL },
                { "Satu", -EINVAL }, { "Sundays", -EINVAL }, { "", -EINVAL }, { " Sat", -EINVAL },
                { "Sat ", -EINVAL }, { "Tues", -EINVAL }, { "7", -EINVAL },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                is_int(updates_parse_weekday(cases[i].s), cases[i].want, "updates_parse_weekday(\"%s\") = %d", cases[i].s,
                       cases[i].want);
}

static void test_parse_clock_minutes(void) {
        static const struct {
                const char *s;
                int r;
                unsigned minutes;
        } cases[] = {
                { "00:00", 0, 0 },
                { "04:00", 0, 240 },
                { "12:30", 0, 750 },
                { "23:59", 0, 1439 },
                { "24:00", -EINVAL, 0 },
                { "25:00", -EINVAL, 0 },
                { "12:60", -EINVAL, 0 },
                { "4:00", -EINVAL, 0 },
                { "04:0", -EINVAL, 0 },
                { "0400", -EINVAL, 0 },
                { "04-00", -EINVAL, 0 },
                { "04:00 ", -EINVAL, 0 },
                { "004:00", -EINVAL, 0 },
                { "", -EINVAL, 0 },
                { "aa:bb", -EINVAL, 0 },
                { "-1:00", -EINVAL, 0 },
                /* "HH:MM" means two digits each: no spaces or signs that sscanf's %u would skip */
                { " 4:00", -EINVAL, 0 },
                { "+4:00", -EINVAL, 0 },
                { "04: 5", -EINVAL, 0 },
                { "04:+5", -EINVAL, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                unsigned m = 4242;
                int r = updates_parse_clock_minutes(cases[i].s, &m);

                is_int(r, cases[i].r, "updates_parse_clock_minutes(\"%s\") returns %d", cases[i].s, cases[i].r);
                is_int(m, cases[i].r == 0 ? cases[i].minutes : 4242, "updates_parse_clock_minutes(\"%s\") value", cases[i].s);
        }
}

static void test_metrics(void) {
        static const struct {
                const char *text;
                const char *address;
                unsigned port;
                const char *textfile;
                unsigned interval;
        } cases[] = {
                { "{}", NULL, 0, NULL, 15 },
                { "{\"metrics\": {}}", NULL, 0, NULL, 15 },
                { "{\"metrics\": {\"listen\": \"127.0.0.1:9436\"}}", "127.0.0.1", 9436, NULL, 15 },
                { "{\"metrics\": {\"listen\": \"[::1]:1\"}}", "::1", 1, NULL, 15 },
                { "{\"metrics\": {\"listen\": \"0.0.0.0:65535\"}}", "0.0.0.0", 65535, NULL, 15 },
                { "{\"metrics\": {\"textfile\": \"/var/lib/node_exporter/textfile_collector/ballast.prom\", "
                  "\"textfile_interval_s\": 60}}",
                  NULL, 0, "/var/lib/node_exporter/textfile_collector/ballast.prom", 60 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_free_ char *error = NULL;
                int r = config_parse(cases[i].text, strlen(cases[i].text), "m.json", &c, &error);

                is_int(r, 0, "metrics %zu: %s parses", i, cases[i].text);
                if (r < 0) {
                        diag("%s", error);
                        continue;
                }
                is_str(c->metrics_address, cases[i].address, "metrics %zu: address", i);
                is_int(c->metrics_port, cases[i].port, "metrics %zu: port", i);
                is_str(c->metrics_textfile, cases[i].textfile, "metrics %zu: textfile", i);
                is_int(c->metrics_textfile_interval_s, cases[i].interval, "metrics %zu: textfile interval", i);
        }
}

int main(void) {
        test_defaults();
        test_metrics();
        test_full_example();
        test_good_variants();
        test_bad_configs();
        test_load();
        test_parse_weekday();
        test_parse_clock_minutes();
        return tap_done();
}
