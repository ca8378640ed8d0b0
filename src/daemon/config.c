/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "daemon/config.h"
#include "http/http-server.h"
#include "shared/fileio.h"
#include "shared/json-util.h"
#include "shared/parse-util.h"
#include "updates/fleetlock-wire.h"
#include "updates/os.h"
#include "updates/windows.h"

#define CONFIG_MAX_SIZE (1024 * 1024)

Config *config_free(Config *c) {
        if (!c)
                return NULL;
        free(c->node_name);
        json_decref(c->node_labels);
        strv_free(c->etcd_endpoints);
        free(c->etcd_prefix);
        free(c->etcd_ca);
        free(c->etcd_cert);
        free(c->etcd_key);
        free(c->http_url);
        free(c->http_token_file);
        updates_policy_done(&c->updates);
        free(c->metrics_address);
        free(c->metrics_textfile);
        free(c->control_socket);
        free(c->control_group);
        free(c->docker_socket);
        free(c->registry_auth_file);
        free(c->unit_dir);
        free(c->state_dir);
        free(c->services_dir);
        free(c);
        return NULL;
}

int config_new_default(Config **ret) {
        _cleanup_(config_freep) Config *c = calloc(1, sizeof(Config));

        if (!c)
                return -ENOMEM;
        c->node_labels = json_object();
        c->etcd_prefix = strdup("/ballast");
        c->etcd_ttl_s = 15;
        c->http_interval_s = 30;
        c->eviction_memory = 100ULL << 20; /* kubelet's default hard eviction threshold */
        c->eviction_disk_percent = 10;
        c->metrics_textfile_interval_s = 15;
        c->control_socket = strdup("/run/ballast/ballastd.sock");
        c->control_group = strdup("ballast");
        c->docker_socket = strdup("/var/run/docker.sock");
        c->unit_dir = strdup("/etc/systemd/system");
        c->state_dir = strdup("/var/lib/ballast");
        c->services_dir = strdup("/etc/ballast/services.d");
        if (updates_policy_init(&c->updates) < 0)
                return -ENOMEM;
        if (!c->node_labels || !c->etcd_prefix || !c->control_socket || !c->control_group || !c->docker_socket || !c->unit_dir || !c->state_dir ||
            !c->services_dir)
                return -ENOMEM;
        *ret = TAKE_PTR(c);
        return 0;
}

static int dispatch_hostname(const char *path, json_t *v, void *target, JsonError *e) {
        const char *s = json_string_value(v);

        if (!json_is_string(v) || isempty(s) || strlen(s) > 253 || strspn(s, "abcdefghijklmnopqrstuvwxyz"
                                                                            "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                                            "0123456789-.") != strlen(s))
                return json_error_set(e, path, "expected a host name (letters, digits, '-', '.'; at most 253)");
        return json_dispatch_string(path, v, target, e);
}

static int dispatch_url(const char *path, json_t *v, void *target, JsonError *e) {
        const char *s = json_string_value(v);

        if (!json_is_string(v) || !(strneq(s, "http://", 7) || strneq(s, "https://", 8)) ||
            strpbrk(s, " \t\r\n") || strlen(s) > 2048)
                return json_error_set(e, path, "expected an http:// or https:// URL");
        return json_dispatch_string(path, v, target, e);
}

static int dispatch_url_list(const char *path, json_t *v, void *target, JsonError *e) {
        char sub[256];
        size_t i;
        json_t *item;

        if (!json_is_array(v) || json_array_size(v) == 0)
                return json_error_set(e, path, "expected a non-empty array of URLs");
        json_array_foreach(v, i, item) {
                char *dummy = NULL;
                int r = dispatch_url(json_path_index(sub, sizeof(sub), path, i), item, &dummy, e);
                free(dummy);
                if (r < 0)
                        return r;
        }
        return json_dispatch_strv(path, v, target, e);
}

static int dispatch_ranged_uint(const char *path, json_t *v, unsigned *target, unsigned min, unsigned max,
                                JsonError *e) {
        unsigned u;
        int r = json_dispatch_uint(path, v, &u, e);
        if (r < 0)
                return r;
        if (u < min || u > max)
                return json_error_set(e, path, "%u is out of range %u..%u", u, min, max);
        *target = u;
        return 0;
}

static int dispatch_ttl(const char *path, json_t *v, void *target, JsonError *e) {
        return dispatch_ranged_uint(path, v, target, 5, 86400, e);
}

static int dispatch_interval(const char *path, json_t *v, void *target, JsonError *e) {
        return dispatch_ranged_uint(path, v, target, 1, 86400, e);
}

static int dispatch_drain_timeout(const char *path, json_t *v, void *target, JsonError *e) {
        return dispatch_ranged_uint(path, v, target, 0, 86400, e);
}

/* "ADDRESS:PORT", IPv6 in brackets; any address is accepted (docs/CONFIGURATION.md says what another than
 * loopback exposes). */
static int dispatch_listen(const char *path, json_t *v, void *target, JsonError *e) {
        Config *c = target;
        char *address = NULL;
        uint16_t port;

        if (!json_is_string(v) || http_server_parse_listen(json_string_value(v), &address, &port) < 0)
                return json_error_set(e, path, "expected \"ADDRESS:PORT\" such as \"127.0.0.1:9436\" or \"[::1]:9436\"");
        free(c->metrics_address);
        c->metrics_address = address;
        c->metrics_port = port;
        return 0;
}

static int dispatch_reboot_timeout(const char *path, json_t *v, void *target, JsonError *e) {
        return dispatch_ranged_uint(path, v, target, 1, 86400, e);
}

static int dispatch_group_name(const char *path, json_t *v, void *target, JsonError *e) {
        const char *s = json_string_value(v);

        if (!json_is_string(v) || isempty(s) || strlen(s) > 64 ||
            strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") != strlen(s))
                return json_error_set(e, path, "expected a name of letters, digits, '.', '-', '_'");
        return json_dispatch_string(path, v, target, e);
}

/* FleetLock's group: ^[a-zA-Z0-9.-]+$ ('_' is not allowed: airlock and Zincati would refuse it). */
static int dispatch_fleet_lock_group(const char *path, json_t *v, void *target, JsonError *e) {
        if (!json_is_string(v) || !updates_fleetlock_group_valid(json_string_value(v)))
                return json_error_set(e, path, "expected a FleetLock group of letters, digits, '.' and '-' (no '_')");
        return json_dispatch_string(path, v, target, e);
}

/* The highest version allowed, in the syntax the gate compares (updates_version_compare()). */
static int dispatch_max_version(const char *path, json_t *v, void *target, JsonError *e) {
        const char *s = json_string_value(v);
        int cmp;

        if (!json_is_string(v) || strlen(s) > 64 || updates_version_compare(s, s, &cmp) < 0)
                return json_error_set(e, path, "expected a dotted numeric version such as \"3815.2.0\"");
        return json_dispatch_string(path, v, target, e);
}

static int dispatch_prefix(const char *path, json_t *v, void *target, JsonError *e) {
        const char *s = json_string_value(v);

        if (!json_is_string(v) || s[0] != '/' || strlen(s) > 256)
                return json_error_set(e, path, "expected a key prefix starting with '/'");
        return json_dispatch_string(path, v, target, e);
}

static int dispatch_eviction_disk(const char *path, json_t *v, void *target, JsonError *e) {
        Config *c = target;
        unsigned pct;

        if (!json_is_string(v) || parse_percent(json_string_value(v), &pct) < 0)
                return json_error_set(e, path, "expected a percentage such as \"10%%\"");
        c->eviction_disk_percent = pct;
        return 0;
}

static int dispatch_strategy(const char *path, json_t *v, void *target, JsonError *e) {
        const char *s = json_string_value(v);

        if (!json_is_string(v) || !(streq(s, "fleet_lock") || streq(s, "periodic") || streq(s, "off")))
                return json_error_set(e, path, "expected \"fleet_lock\", \"periodic\" or \"off\"");
        return json_dispatch_string(path, v, target, e);
}

static int dispatch_time_zone(const char *path, json_t *v, void *target, JsonError *e) {
        if (!json_is_string(v) || !updates_time_zone_valid(json_string_value(v)))
                return json_error_set(e, path, "expected a time zone such as \"UTC\" or \"Europe/Berlin\"");
        return json_dispatch_string(path, v, target, e);
}

static int dispatch_days(const char *path, json_t *v, void *target, JsonError *e) {
        unsigned *days = target;
        char sub[256];
        size_t i;
        json_t *d;

        if (!json_is_array(v) || json_array_size(v) == 0)
                return json_error_set(e, path, "expected a non-empty array of weekdays");
        *days = 0;
        json_array_foreach(v, i, d) {
                int wd = json_is_string(d) ? updates_parse_weekday(json_string_value(d)) : -EINVAL;
                if (wd < 0)
                        return json_error_set(e, json_path_index(sub, sizeof(sub), path, i),
                                              "expected a weekday such as \"Sat\" or \"Saturday\"");
                *days |= 1U << wd;
        }
        return 0;
}

static int dispatch_clock(const char *path, json_t *v, void *target, JsonError *e) {
        if (!json_is_string(v) || updates_parse_clock_minutes(json_string_value(v), target) < 0)
                return json_error_set(e, path, "expected a time of day \"HH:MM\"");
        return 0;
}

static int dispatch_window_length(const char *path, json_t *v, void *target, JsonError *e) {
        return dispatch_ranged_uint(path, v, target, 1, 7 * 24 * 60, e);
}

static int dispatch_windows(const char *path, json_t *v, void *target, JsonError *e) {
        static const JsonField table[] = {
                { "days", dispatch_days, offsetof(MaintenanceWindow, days), JSON_MANDATORY },
                { "start", dispatch_clock, offsetof(MaintenanceWindow, start_min), JSON_MANDATORY },
                { "length_min", dispatch_window_length, offsetof(MaintenanceWindow, length_min), JSON_MANDATORY },
                {}
        };
        Config *c = target;
        _cleanup_free_ MaintenanceWindow *w = NULL;
        char sub[256];
        size_t i;
        json_t *item;

        if (!json_is_array(v))
                return json_error_set(e, path, "expected an array of windows");
        w = calloc(json_array_size(v) + 1, sizeof(MaintenanceWindow));
        if (!w)
                return -ENOMEM;
        json_array_foreach(v, i, item) {
                _cleanup_json_ json_t *it = NULL;
                const char *key = NULL;
                int r;

                /* Zincati's names for a window (start_time, length_minutes) are accepted as well */
                json_path_index(sub, sizeof(sub), path, i);
                r = updates_window_aliases(item, &it, &key);
                if (r == -EEXIST) {
                        char k[300];
                        snprintf(k, sizeof(k), "%s.%s", sub, key);
                        return json_error_set(e, k, "give either this or its other name, not both");
                }
                if (r < 0)
                        return r;
                r = json_dispatch(sub, it, table, &w[i], e);
                if (r < 0)
                        return r;
        }
        free(c->updates.windows);
        c->updates.windows = TAKE_PTR(w);
        c->updates.n_windows = json_array_size(v);
        return 0;
}

#define NESTED(fn, ...)                                                                \
        static int fn(const char *path, json_t *v, void *target, JsonError *e) {      \
                static const JsonField table[] = { __VA_ARGS__, {} };                  \
                return json_dispatch(path, v, table, target, e);                       \
        }

NESTED(dispatch_node,
       { "name", dispatch_hostname, offsetof(Config, node_name), 0 },
       { "labels", json_dispatch_string_map, offsetof(Config, node_labels), 0 })
NESTED(dispatch_reserved,
       { "cpu", json_dispatch_cpu, offsetof(Config, reserved_cpu_millis), 0 },
       { "memory", json_dispatch_size, offsetof(Config, reserved_memory), 0 },
       { "pids", json_dispatch_uint64, offsetof(Config, reserved_pids), 0 })
NESTED(dispatch_eviction,
       { "memory", json_dispatch_size, offsetof(Config, eviction_memory), 0 },
       { "disk", dispatch_eviction_disk, 0, 0 })
NESTED(dispatch_etcd,
       { "endpoints", dispatch_url_list, offsetof(Config, etcd_endpoints), JSON_MANDATORY },
       { "prefix", dispatch_prefix, offsetof(Config, etcd_prefix), 0 },
       { "ttl_s", dispatch_ttl, offsetof(Config, etcd_ttl_s), 0 },
       { "ca", json_dispatch_absolute_path, offsetof(Config, etcd_ca), JSON_NULLABLE },
       { "cert", json_dispatch_absolute_path, offsetof(Config, etcd_cert), JSON_NULLABLE },
       { "key", json_dispatch_absolute_path, offsetof(Config, etcd_key), JSON_NULLABLE })
NESTED(dispatch_http,
       { "url", dispatch_url, offsetof(Config, http_url), JSON_MANDATORY },
       { "token_file", json_dispatch_absolute_path, offsetof(Config, http_token_file), JSON_NULLABLE },
       { "interval_s", dispatch_interval, offsetof(Config, http_interval_s), 0 })
NESTED(dispatch_cluster,
       { "etcd", dispatch_etcd, 0, 0 },
       { "http", dispatch_http, 0, 0 })
NESTED(dispatch_fleet_lock,
       { "url", dispatch_url, offsetof(Config, updates.fleet_lock_url), JSON_MANDATORY },
       { "group", dispatch_fleet_lock_group, offsetof(Config, updates.fleet_lock_group), 0 })
NESTED(dispatch_updates_fields,
       { "channel", dispatch_group_name, offsetof(Config, updates.channel), JSON_NULLABLE },
       { "max_version", dispatch_max_version, offsetof(Config, updates.max_version), JSON_NULLABLE },
       { "strategy", dispatch_strategy, offsetof(Config, updates.strategy), 0 },
       { "fleet_lock", dispatch_fleet_lock, 0, 0 },
       { "time_zone", dispatch_time_zone, offsetof(Config, updates.time_zone), 0 },
       { "windows", dispatch_windows, 0, 0 },
       { "drain_timeout_s", dispatch_drain_timeout, offsetof(Config, updates.drain_timeout_s), 0 },
       { "reboot_timeout_s", dispatch_reboot_timeout, offsetof(Config, updates.reboot_timeout_s), 0 })
NESTED(dispatch_control,
       { "socket", json_dispatch_absolute_path, offsetof(Config, control_socket), 0 },
       { "group", dispatch_group_name, offsetof(Config, control_group), 0 })
NESTED(dispatch_docker,
       { "socket", json_dispatch_absolute_path, offsetof(Config, docker_socket), 0 },
       { "registry_auth_file", json_dispatch_absolute_path, offsetof(Config, registry_auth_file), JSON_NULLABLE })
NESTED(dispatch_metrics,
       { "listen", dispatch_listen, 0, 0 },
       { "textfile", json_dispatch_absolute_path, offsetof(Config, metrics_textfile), 0 },
       { "textfile_interval_s", dispatch_interval, offsetof(Config, metrics_textfile_interval_s), 0 })
NESTED(dispatch_paths,
       { "unit_dir", json_dispatch_absolute_path, offsetof(Config, unit_dir), 0 },
       { "state_dir", json_dispatch_absolute_path, offsetof(Config, state_dir), 0 },
       { "services_dir", json_dispatch_absolute_path, offsetof(Config, services_dir), 0 })

static int dispatch_updates(const char *path, json_t *v, void *target, JsonError *e) {
        Config *c = target;
        int r = dispatch_updates_fields(path, v, target, e);
        if (r < 0)
                return r;
        c->updates.managed = true;
        return 0;
}

static const JsonField config_table[] = {
        { "node", dispatch_node, 0, 0 },
        { "reserved", dispatch_reserved, 0, 0 },
        { "eviction", dispatch_eviction, 0, 0 },
        { "cluster", dispatch_cluster, 0, 0 },
        { "updates", dispatch_updates, 0, 0 },
        { "control", dispatch_control, 0, 0 },
        { "docker", dispatch_docker, 0, 0 },
        { "paths", dispatch_paths, 0, 0 },
        { "metrics", dispatch_metrics, 0, 0 },
        {}
};

int config_parse(const char *text, size_t size, const char *filename, Config **ret, char **ret_error) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_json_ json_t *root = NULL;
        json_error_t jerr;
        JsonError e = {};
        int r;

        r = config_new_default(&c);
        if (r < 0)
                return r;

        root = json_loadb(text, size, JSON_REJECT_DUPLICATES, &jerr);
        if (!root) {
                if (asprintf(ret_error, "%s:%d:%d: %s", strna(filename), jerr.line, json_error_column(&jerr), jerr.text) < 0)
                        return -ENOMEM;
                return -EINVAL;
        }
        r = json_dispatch("", root, config_table, c, &e);
        if (r == -EINVAL) {
                *ret_error = json_error_format(&e, strna(filename), text, size);
                return r;
        }
        if (r < 0)
                return r;
        if (c->updates.fleet_lock_url == NULL && c->updates.managed && streq(c->updates.strategy, "fleet_lock")) {
                /* point at "strategy" when it was given, else at the "updates" object that defaulted it */
                json_t *u = json_object_get(root, "updates");
                json_error_set(&e, json_object_get(u, "strategy") ? "updates.strategy" : "updates",
                               "\"fleet_lock\" needs updates.fleet_lock.url");
                *ret_error = json_error_format(&e, strna(filename), text, size);
                return -EINVAL;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

int config_load(const char *path, Config **ret, char **ret_error) {
        _cleanup_free_ char *text = NULL;
        size_t size;
        int r;

        r = read_full_file(path, CONFIG_MAX_SIZE, &text, &size);
        if (r == -ENOENT)
                return config_new_default(ret);
        if (r < 0) {
                if (asprintf(ret_error, "%s: cannot read: %s", path, strerror(-r)) < 0)
                        return -ENOMEM;
                return r;
        }
        return config_parse(text, size, path, ret, ret_error);
}
