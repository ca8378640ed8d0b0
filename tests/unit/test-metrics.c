/* SPDX-License-Identifier: MIT */
/* metrics/metrics.c, the text exposition: a HELP and a TYPE line before every family's samples, counters end in
 * _total, label values escaped (\\, \", \n), one series per reboot state and per reason code with exactly one 1,
 * base units (cores, seconds), values that read back exactly, families left out when not known; and the
 * "ADDRESS:PORT" parser of the configuration (http/http-server.c). */

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "http/http-server.h"
#include "metrics/metrics.h"
#include "shared/macro.h"
#include "tap.h"

static char *render(const MetricsSnapshot *s) {
        char *text = NULL;
        size_t size = 0;

        if (metrics_render(s, &text, &size) < 0 || strlen(text) != size)
                abort();
        return text;
}

static bool has_line(const char *text, const char *line) {
        size_t n = strlen(line);

        for (const char *p = text; (p = strstr(p, line)); p++)
                if ((p == text || p[-1] == '\n') && p[n] == '\n')
                        return true;
        return false;
}

static unsigned count_prefix(const char *text, const char *prefix) {
        unsigned n = 0;
        size_t k = strlen(prefix);

        for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
                if (strncmp(p, prefix, k) == 0)
                        n++;
        return n;
}

/* Every sample's family was announced just before, by HELP then TYPE; a counter's name ends in _total. */
static void check_structure(const char *text) {
        _cleanup_free_ char *copy = strdup(text);
        char family[128] = "", type[16] = "";
        bool good = true;
        unsigned samples = 0;

        for (char *line = strtok(copy, "\n"); line; line = strtok(NULL, "\n")) {
                char name[128];

                if (sscanf(line, "# HELP %127s", name) == 1) {
                        snprintf(family, sizeof(family), "%s", name);
                        type[0] = '\0';
                } else if (sscanf(line, "# TYPE %127s %15s", name, type) == 2) {
                        if (!streq(name, family))
                                { good = false; diag("TYPE without its HELP: %s", line); }
                        if (streq(type, "counter") && (strlen(name) < 6 || !streq(name + strlen(name) - 6, "_total")))
                                { good = false; diag("a counter without _total: %s", line); }
                } else {
                        size_t n = strcspn(line, "{ ");
                        samples++;
                        if (n != strlen(family) || strncmp(line, family, n) != 0 || type[0] == '\0')
                                { good = false; diag("a sample outside its family: %s", line); }
                }
        }
        ok(good && samples > 0, "every sample follows the HELP and TYPE of its family (%u samples)", samples);
}

static void test_full(void) {
        const MetricsService services[] = {
                { .name = "web", .up = true, .healthy = true, .restarts = 3, .oom_kills = 2, .usage_known = true,
                  .cpu_seconds = 12.5, .memory_bytes = 1048576, .memory_limit_bytes = 67108864,
                  .cpu_limit_cores = 0.25 },
                { .name = "we\"ird\\na\nme", .up = false },
        };
        const MetricsCluster cluster[] = { { .target = "etcd", .last_success_usec = 1700000000123456ULL, .errors = 7 } };
        const VarlinkMethodStats control[] = { { "io.ballast.Agent.GetStatus", 10, 0 },
                                               { "io.ballast.Agent.ApplyService", 4, 1 } };
        MetricsSnapshot s = {
                .version = "1.2.3", .now_usec = 1700000100000000ULL,
                .services = services, .n_services = ELEMENTSOF(services),
                .update_state = "locking", .update_reason = "lock-unreachable", .lock_held = false,
                .update_state_since_usec = 1700000000000000ULL,
                .draining = true, .drained = false,
                .cluster = cluster, .n_cluster = ELEMENTSOF(cluster),
                .node_known = true,
                .capacity = { .cpu_millis = 4000, .memory = 8ULL << 30, .pids = 4194304, .disk = 100ULL << 30 },
                .allocatable = { .cpu_millis = 3500, .memory = 7ULL << 30, .pids = 4000000, .disk = 90ULL << 30 },
                .committed = { .cpu_millis = 250, .memory = 64ULL << 20, .pids = 64 },
                .memory_pressure = true, .memory_psi_some_avg10 = 12.5,
                .control = control, .n_control = ELEMENTSOF(control),
        };
        _cleanup_free_ char *text = render(&s);

        check_structure(text);
        ok(has_line(text, "ballast_build_info{version=\"1.2.3\"} 1"), "build info");
        ok(has_line(text, "# TYPE ballast_service_restarts_total counter"), "restarts: a counter");
        ok(has_line(text, "# TYPE ballast_service_memory_bytes gauge"), "memory: a gauge");
        ok(has_line(text, "ballast_service_up{service=\"web\"} 1"), "up");
        ok(has_line(text, "ballast_service_healthy{service=\"web\"} 1"), "healthy");
        ok(has_line(text, "ballast_service_restarts_total{service=\"web\"} 3"), "restarts");
        ok(has_line(text, "ballast_service_oom_kills_total{service=\"web\"} 2"), "OOM kills");
        ok(has_line(text, "ballast_service_cpu_seconds_total{service=\"web\"} 12.5"), "CPU in seconds");
        ok(has_line(text, "ballast_service_memory_bytes{service=\"web\"} 1048576"), "memory in bytes");
        ok(has_line(text, "ballast_service_memory_limit_bytes{service=\"web\"} 67108864"), "memory limit");
        ok(has_line(text, "ballast_service_cpu_limit_cores{service=\"web\"} 0.25"), "CPU limit in cores");
        ok(has_line(text, "ballast_service_last_rollback_timestamp_seconds{service=\"web\"} 0"), "no rollback: 0");

        ok(has_line(text, "ballast_service_up{service=\"we\\\"ird\\\\na\\nme\"} 0"),
           "a label value's quote, backslash and newline are escaped");
        ok(!strstr(text, "ballast_service_cpu_seconds_total{service=\"we\\\""), "usage not known: no CPU series");
        ok(!strstr(text, "ballast_service_memory_limit_bytes{service=\"we\\\""), "no limit: no limit series");

        is_int(count_prefix(text, "ballast_update_state{"), 8, "one series per reboot state (7 and unmanaged)");
        is_int(count_prefix(text, "ballast_update_state{") - count_prefix(text, "ballast_update_state{state=\"locking\"} 1"),
               7, "the others are 0");
        ok(has_line(text, "ballast_update_state{state=\"locking\"} 1"), "the current state is 1");
        ok(has_line(text, "ballast_update_state{state=\"idle\"} 0"), "idle is 0");
        ok(has_line(text, "ballast_update_reason{reason=\"lock-unreachable\"} 1"), "the current reason is 1");
        ok(has_line(text, "ballast_update_reason{reason=\"ok\"} 0"), "ok is 0");
        {
                unsigned n = 0;
                while (metrics_update_reasons[n])
                        n++;
                is_int(count_prefix(text, "ballast_update_reason{"), n, "one series per known reason code");
        }
        ok(has_line(text, "ballast_update_state_seconds 100"), "100 s in the state");
        ok(has_line(text, "ballast_update_lock_held 0"), "lock not held");
        ok(has_line(text, "ballast_node_draining 1") && has_line(text, "ballast_node_drained 0"), "draining, not drained");

        ok(has_line(text, "ballast_node_capacity{resource=\"cpu\"} 4"), "capacity in cores");
        ok(has_line(text, "ballast_node_allocatable{resource=\"memory\"} 7516192768"), "allocatable memory");
        ok(has_line(text, "ballast_node_committed{resource=\"cpu\"} 0.25"), "committed CPU");
        ok(has_line(text, "ballast_node_pressure{resource=\"memory\"} 1"), "memory pressure");
        ok(has_line(text, "ballast_node_pressure{resource=\"disk\"} 0"), "no disk pressure");
        ok(has_line(text, "ballast_node_pressure_memory_some_ratio 0.125"), "PSI as a ratio");

        ok(has_line(text, "ballast_cluster_last_success_timestamp_seconds{target=\"etcd\"} 1700000000.123456"),
           "a timestamp in seconds, to the microsecond");
        ok(has_line(text, "ballast_cluster_errors_total{target=\"etcd\"} 7"), "cluster errors");
        ok(has_line(text, "ballast_control_calls_total{method=\"io.ballast.Agent.ApplyService\"} 4"), "control calls");
        ok(has_line(text, "ballast_control_errors_total{method=\"io.ballast.Agent.ApplyService\"} 1"), "control errors");
        ok(text[strlen(text) - 1] == '\n', "the text ends with a newline");
}

static void test_sparse(void) {
        MetricsSnapshot s = { .version = "0", .update_state = "idle", .update_reason = "from-the-future",
                              .memory_psi_some_avg10 = -1 };
        _cleanup_free_ char *text = render(&s);

        check_structure(text);
        ok(has_line(text, "ballast_update_reason{reason=\"from-the-future\"} 1"),
           "an unknown reason gets a series of its own");
        {
                unsigned n = 0;
                while (metrics_update_reasons[n])
                        n++;
                is_int(count_prefix(text, "ballast_update_reason{"), n + 1, "beside a series per known code");
                is_int(count_prefix(text, "ballast_update_reason{") - count_prefix(text, "ballast_update_reason{reason=\"from"),
                       n, "the known codes: %u series of 0", n);
        }
        ok(!strstr(text, "ballast_node_capacity"), "node not read yet: no capacity series");
        ok(!strstr(text, "ballast_node_pressure_memory_some_ratio"), "no PSI: no PSI series");
        ok(has_line(text, "ballast_update_state_seconds 0"), "no since: 0 s");
        ok(strstr(text, "# TYPE ballast_service_up gauge") != NULL, "no services: the family is still announced");

        s.update_state = NULL;
        free(text);
        text = render(&s);
        ok(!strstr(text, "ballast_update_"), "no updater: no update series");
}

static void test_listen(void) {
        static const struct {
                const char *s;
                int r;
                const char *address;
                unsigned port;
        } cases[] = {
                { "127.0.0.1:9436", 0, "127.0.0.1", 9436 },
                { "[::1]:9436", 0, "::1", 9436 },
                { "0.0.0.0:1", 0, "0.0.0.0", 1 },
                { "[fe80::1]:65535", 0, "fe80::1", 65535 },
                { "127.0.0.1", -EINVAL, NULL, 0 },
                { "127.0.0.1:", -EINVAL, NULL, 0 },
                { "127.0.0.1:0", -EINVAL, NULL, 0 },
                { "127.0.0.1:65536", -EINVAL, NULL, 0 },
                { "127.0.0.1:+80", -EINVAL, NULL, 0 },
                { "::1:9436", -EINVAL, NULL, 0 },
                { "[127.0.0.1]:9436", -EINVAL, NULL, 0 },
                { "localhost:9436", -EINVAL, NULL, 0 },
                { ":9436", -EINVAL, NULL, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *address = NULL;
                uint16_t port = 0;
                int r = http_server_parse_listen(cases[i].s, &address, &port);

                is_int(r, cases[i].r, "listen \"%s\": %s", cases[i].s, cases[i].r == 0 ? "parses" : "refused");
                if (r == 0) {
                        is_str(address, cases[i].address, "listen \"%s\": address", cases[i].s);
                        is_int(port, cases[i].port, "listen \"%s\": port", cases[i].s);
                }
        }
        ok(http_server_address_is_loopback("127.0.0.1") && http_server_address_is_loopback("127.8.9.1") &&
           http_server_address_is_loopback("::1") && http_server_address_is_loopback("::ffff:127.0.0.1"),
           "loopback addresses");
        ok(!http_server_address_is_loopback("0.0.0.0") && !http_server_address_is_loopback("10.0.0.1") &&
           !http_server_address_is_loopback("::"), "other addresses");
}

int main(void) {
        test_full();
        test_sparse();
        test_listen();
        return tap_done();
}
