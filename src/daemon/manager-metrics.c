/* SPDX-License-Identifier: MIT */
/* The manager's side of the metrics: a snapshot from what the modules already report (their status functions,
 * no new reads of cgroups or files), rendered by metrics/metrics.c, served by metrics/metrics-server.c. */

#include <errno.h>
#include <string.h>

#include "daemon/manager.h"
#include "http/http-server.h"
#include "metrics/metrics.h"
#include "shared/log.h"
#include "shared/time-util.h"

static uint64_t json_u64(json_t *o, const char *key) {
        json_t *v = json_object_get(o, key);
        json_int_t i = json_is_integer(v) ? json_integer_value(v) : 0;
        return i > 0 ? (uint64_t) i : 0;
}

static void service_from_json(json_t *j, MetricsService *ret) {
        const char *state = json_string_value(json_object_get(j, "state"));
        const char *health = json_string_value(json_object_get(j, "health"));
        json_t *requested = json_object_get(j, "requested"), *usage = json_object_get(j, "usage");
        bool up = state && streq(state, "active");

        *ret = (MetricsService) {
                .name = json_string_value(json_object_get(j, "name")),
                .up = up,
                .healthy = health && (streq(health, "healthy") || streq(health, "failing") ||
                                      (streq(health, "none") && up)),
                .restarts = json_u64(j, "restarts"),
                .last_rollback_usec = json_u64(json_object_get(j, "last_rollback"), "at_usec"),
                .oom_kills = MAX(json_u64(j, "oom_kills"), json_u64(usage, "oom_kills")),
                .usage_known = json_is_object(usage),
                .cpu_seconds = (double) json_u64(usage, "cpu_usage_usec") / (double) USEC_PER_SEC,
                .memory_bytes = json_u64(usage, "memory_current"),
                .memory_limit_bytes = json_u64(requested, "memory"),
                .cpu_limit_cores = json_number_value(json_object_get(requested, "cpu")),
        };
}

static void updates_from_json(json_t *st, MetricsSnapshot *s) {
        json_t *flow = json_object_get(st, "flow");

        s->update_state = json_is_true(json_object_get(st, "managed"))
                                  ? json_string_value(json_object_get(flow, "state"))
                                  : "unmanaged";
        s->update_reason = json_string_value(json_object_get(json_object_get(st, "decision"), "reason"));
        s->lock_held = json_is_true(json_object_get(json_object_get(st, "lock"), "held"));
        s->update_state_since_usec = json_u64(flow, "since_usec");
}

static size_t cluster_from_json(json_t *st, MetricsCluster *ret) {
        static const char *const targets[] = { "etcd", "http" };
        size_t n = 0;

        for (size_t i = 0; i < ELEMENTSOF(targets); i++) {
                json_t *t = json_object_get(st, targets[i]);
                if (!json_is_object(t))
                        continue; /* not configured */
                ret[n++] = (MetricsCluster) { .target = targets[i], .last_success_usec = json_u64(t, "last_ok_usec"),
                                              .errors = json_u64(t, "errors_total") };
        }
        return n;
}

static void node_into(Manager *m, MetricsSnapshot *s) {
        _cleanup_json_ json_t *cond = manager_conditions_json(m);
        json_t *psi = json_object_get(cond, "memory_psi_some_avg10");

        s->draining = m->draining;
        s->drained = m->draining && m->drain_done;
        s->node_known = m->node_known;
        s->capacity = m->node.capacity;
        s->allocatable = m->allocatable;
        s->committed = m->supervisor ? supervisor_committed(m->supervisor) : (Resources) {};
        s->memory_pressure = json_is_true(json_object_get(cond, "memory_pressure"));
        s->disk_pressure = json_is_true(json_object_get(cond, "disk_pressure"));
        s->pids_pressure = json_is_true(json_object_get(cond, "pids_pressure"));
        s->memory_psi_some_avg10 = json_is_number(psi) ? json_number_value(psi) : -1.0;
}

static int manager_metrics_render(char **ret, size_t *ret_size, void *userdata) {
        Manager *m = userdata;
        _cleanup_json_ json_t *services = m->supervisor ? supervisor_services_json(m->supervisor) : json_array();
        _cleanup_json_ json_t *updates = m->updater ? updater_status_json(m->updater) : NULL;
        _cleanup_json_ json_t *cluster = m->reporter ? reporter_status_json(m->reporter) : NULL;
        _cleanup_free_ MetricsService *svcs = NULL;
        _cleanup_free_ VarlinkMethodStats *control = NULL;
        MetricsCluster targets[2];
        MetricsSnapshot s = { .version = PACKAGE_VERSION, .now_usec = now_usec(CLOCK_REALTIME) };
        size_t n = 0, i;
        json_t *j;

        if (!services)
                return -ENOMEM;
        svcs = calloc(json_array_size(services) + 1, sizeof(MetricsService));
        if (!svcs)
                return -ENOMEM;
        json_array_foreach(services, i, j)
                service_from_json(j, &svcs[i]);
        s.services = svcs;
        s.n_services = json_array_size(services);

        if (updates)
                updates_from_json(updates, &s);
        s.cluster = targets;
        s.n_cluster = cluster_from_json(cluster, targets);
        node_into(m, &s);

        for (VarlinkMethodStats st; varlink_server_method_stats(m->varlink, n, &st) >= 0; n++) {
                VarlinkMethodStats *p = reallocarray(control, n + 1, sizeof(VarlinkMethodStats));
                if (!p)
                        return -ENOMEM;
                control = p;
                control[n] = st;
        }
        s.control = control;
        s.n_control = n;

        return metrics_render(&s, ret, ret_size);
}

/* What the running metrics were started with: a reload that changes none of it leaves them alone. */
static char *metrics_key(const Config *c) {
        char *key = NULL;

        if (asprintf(&key, "%s|%u|%s|%u", strna(c->metrics_address), (unsigned) c->metrics_port,
                     strna(c->metrics_textfile), c->metrics_textfile_interval_s) < 0)
                return NULL;
        return key;
}

int manager_apply_metrics(Manager *m) {
        _cleanup_free_ char *key = metrics_key(m->config), *textfile = NULL;
        const Config *c = m->config;
        int r;

        if (!key)
                return -ENOMEM;
        if (m->metrics_key && streq(m->metrics_key, key))
                return 0;
        m->metrics = metrics_server_free(m->metrics);
        m->metrics_key = mfree(m->metrics_key);
        if (!c->metrics_address && !c->metrics_textfile)
                return 0;
        if (c->metrics_address && !http_server_address_is_loopback(c->metrics_address))
                log_notice("Metrics endpoint on %s, not loopback: it has no authentication, anyone who reaches "
                           "port %u reads it.", c->metrics_address, (unsigned) c->metrics_port);
        if (c->metrics_textfile) {
                textfile = manager_path(m, c->metrics_textfile);
                if (!textfile)
                        return -ENOMEM;
        }
        r = metrics_server_new(&m->metrics, m->event,
                               &(MetricsServerOptions) { .address = c->metrics_address, .port = c->metrics_port,
                                                         .textfile = textfile,
                                                         .textfile_interval_s = c->metrics_textfile_interval_s },
                               manager_metrics_render, m);
        if (r < 0)
                /* like the cluster: metrics never keep the node from serving; a reload tries again */
                return log_warning_errno(r, "Failed to set up the metrics, running without them: %m");
        m->metrics_key = TAKE_PTR(key);
        return 0;
}
