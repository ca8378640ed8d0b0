/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics.h"
#include "shared/macro.h"
#include "shared/time-util.h"
#include "updates/flow.h"

/* The codes of updates_may_reboot(), those the daemon's updater adds (unmanaged, reboot-failed, drain-failed)
 * and the FleetLock client's (lock-*), which replaces "no-lock" while the lock is being asked for. */
const char *const metrics_update_reasons[] = {
        "ok", "config-error", "not-needed", "strategy-off", "paused", "clock-unknown", "version-unknown",
        "version-above-max", "window-unknown", "no-windows", "outside-window", "no-lock", "not-drained",
        "unmanaged", "reboot-failed", "drain-failed", "lock-unreachable", "lock-refused", "lock-bad-answer", NULL
};

static void family(FILE *f, const char *name, const char *type, const char *help) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: backslash, double quote and line feed are escaped, everything else goes as it is (UTF-8). */
static void label_value(FILE *f, const char *v) {
        v = v ?: "";
        if (!strpbrk(v, "\\\"\n")) {
                fputs(v, f);
                return;
        }
        for (const char *p = v; *p; p++)
                switch (*p) {
                case '\\':
                        fputs("\\\\", f);
                        break;
                case '"':
                        fputs("\\\"", f);
                        break;
                case '\n':
                        fputs("\\n", f);
                        break;
                default:
                        fputc(*p, f);
                }
}

static void name_and_label(FILE *f, const char *name, const char *label, const char *value) {
        fputs(name, f);
        if (label) {
                fprintf(f, "{%s=\"", label);
                label_value(f, value);
                fputs("\"}", f);
        }
        fputc(' ', f);
}

static void put_u64(FILE *f, uint64_t v) {
        char buf[24], *p = buf + sizeof(buf);

        *--p = '\0';
        do
                *--p = (char) ('0' + v % 10);
        while ((v /= 10) > 0);
        fputs(p, f);
}

static void sample_u64(FILE *f, const char *name, const char *label, const char *value, uint64_t v) {
        name_and_label(f, name, label, value);
        put_u64(f, v);
        fputc('\n', f);
}

/* The shortest of %.15g and %.17g that reads back as the same double; NaN and infinities as the format
 * spells them. */
static void sample_double(FILE *f, const char *name, const char *label, const char *value, double v) {
        char buf[32];

        name_and_label(f, name, label, value);
        if (isnan(v))
                fputs("NaN\n", f);
        else if (isinf(v))
                fputs(v > 0 ? "+Inf\n" : "-Inf\n", f);
        else if (v >= 0 && v < 9007199254740992.0 && v == (double) (uint64_t) v) {
                /* a whole number (most values: counts, bytes): as an integer, without printf */
                put_u64(f, (uint64_t) v);
                fputc('\n', f);
        } else {
                snprintf(buf, sizeof(buf), "%.15g", v);
                if (strtod(buf, NULL) != v)
                        snprintf(buf, sizeof(buf), "%.17g", v);
                fprintf(f, "%s\n", buf);
        }
}

static double usec_to_seconds(uint64_t usec) {
        return (double) usec / (double) USEC_PER_SEC;
}

/* One family with a sample per service, for those where cond holds; expr is the value (svc is the service). */
#define SERVICE_FAMILY(f, s, metric, type, help, cond, expr)                                                   \
        do {                                                                                                   \
                family(f, metric, type, help);                                                                 \
                for (size_t _i = 0; _i < (s)->n_services; _i++) {                                              \
                        const MetricsService *svc = &(s)->services[_i];                                        \
                        if (cond)                                                                              \
                                sample_double(f, metric, "service", svc->name, (double) (expr));               \
                }                                                                                              \
        } while (0)

static void render_services(FILE *f, const MetricsSnapshot *s) {
        SERVICE_FAMILY(f, s, "ballast_service_up", "gauge", "1 when the service's unit is active.", true,
                       svc->up);
        SERVICE_FAMILY(f, s, "ballast_service_healthy", "gauge",
                       "1 when the service passes its health check (without one: when it runs).", true,
                       svc->healthy);
        SERVICE_FAMILY(f, s, "ballast_service_restarts_total", "counter",
                       "Restarts of the service's unit (systemd's NRestarts).", true, svc->restarts);
        SERVICE_FAMILY(f, s, "ballast_service_oom_kills_total", "counter",
                       "Processes of the service killed for running out of memory.", true, svc->oom_kills);
        SERVICE_FAMILY(f, s, "ballast_service_cpu_seconds_total", "counter",
                       "CPU time used by the service's cgroup, in seconds.", svc->usage_known, svc->cpu_seconds);
        SERVICE_FAMILY(f, s, "ballast_service_memory_bytes", "gauge",
                       "Memory used by the service's cgroup, in bytes.", svc->usage_known, svc->memory_bytes);
        SERVICE_FAMILY(f, s, "ballast_service_memory_limit_bytes", "gauge",
                       "The service's memory limit, in bytes (absent: none).", svc->memory_limit_bytes > 0,
                       svc->memory_limit_bytes);
        SERVICE_FAMILY(f, s, "ballast_service_cpu_limit_cores", "gauge",
                       "The service's CPU limit, in cores (absent: none).", svc->cpu_limit_cores > 0,
                       svc->cpu_limit_cores);
        SERVICE_FAMILY(f, s, "ballast_service_last_rollback_timestamp_seconds", "gauge",
                       "When the service was last rolled back, in seconds since the epoch (0: never).", true,
                       usec_to_seconds(svc->last_rollback_usec));
}

static void render_updates(FILE *f, const MetricsSnapshot *s) {
        bool known = false;

        if (!s->update_state)
                return;
        family(f, "ballast_update_state", "gauge", "The reboot flow's state: 1 for the current one, 0 for the others.");
        for (int i = 0; i < _REBOOT_STATE_MAX; i++) {
                const char *st = updates_reboot_state_to_string((RebootState) i);
                sample_u64(f, "ballast_update_state", "state", st, streq(st, s->update_state));
        }
        sample_u64(f, "ballast_update_state", "state", "unmanaged", streq(s->update_state, "unmanaged"));

        family(f, "ballast_update_reason", "gauge",
               "Why the node may or may not reboot now: 1 for the current reason code, 0 for the others.");
        for (size_t i = 0; metrics_update_reasons[i]; i++) {
                bool cur = s->update_reason && streq(s->update_reason, metrics_update_reasons[i]);
                known = known || cur;
                sample_u64(f, "ballast_update_reason", "reason", metrics_update_reasons[i], cur);
        }
        if (s->update_reason && !known)
                sample_u64(f, "ballast_update_reason", "reason", s->update_reason, 1);

        family(f, "ballast_update_lock_held", "gauge", "1 while this node holds its cluster reboot lock (FleetLock).");
        sample_u64(f, "ballast_update_lock_held", NULL, NULL, s->lock_held);
        family(f, "ballast_update_state_seconds", "gauge", "Seconds spent in the reboot flow's current state.");
        sample_double(f, "ballast_update_state_seconds", NULL, NULL,
                      s->update_state_since_usec > 0 && s->now_usec > s->update_state_since_usec
                              ? usec_to_seconds(s->now_usec - s->update_state_since_usec)
                              : 0.0);
}

static void render_resources(FILE *f, const char *name, const char *help, const Resources *r) {
        family(f, name, "gauge", help);
        sample_double(f, name, "resource", "cpu", (double) r->cpu_millis / 1000.0);
        sample_u64(f, name, "resource", "memory", r->memory);
        sample_u64(f, name, "resource", "pids", r->pids);
        sample_u64(f, name, "resource", "disk", r->disk);
}

static void render_node(FILE *f, const MetricsSnapshot *s) {
        family(f, "ballast_node_draining", "gauge", "1 while the node is drained or being drained.");
        sample_u64(f, "ballast_node_draining", NULL, NULL, s->draining);
        family(f, "ballast_node_drained", "gauge", "1 when the node is drained: every service stopped and kept stopped.");
        sample_u64(f, "ballast_node_drained", NULL, NULL, s->drained);
        if (!s->node_known)
                return;
        render_resources(f, "ballast_node_capacity", "What the node has (cpu in cores, memory and disk in bytes, pids).",
                         &s->capacity);
        render_resources(f, "ballast_node_allocatable",
                         "What services may be given: capacity less reserved and the eviction threshold.",
                         &s->allocatable);
        render_resources(f, "ballast_node_committed", "What the admitted services requested, summed.", &s->committed);
        family(f, "ballast_node_pressure", "gauge",
               "1 while a resource is under its eviction threshold (memory: or under PSI pressure).");
        sample_u64(f, "ballast_node_pressure", "resource", "memory", s->memory_pressure);
        sample_u64(f, "ballast_node_pressure", "resource", "disk", s->disk_pressure);
        sample_u64(f, "ballast_node_pressure", "resource", "pids", s->pids_pressure);
        if (s->memory_psi_some_avg10 >= 0) {
                family(f, "ballast_node_pressure_memory_some_ratio", "gauge",
                       "Share of the last 10 s some task waited for memory (PSI some avg10, 0 to 1).");
                sample_double(f, "ballast_node_pressure_memory_some_ratio", NULL, NULL, s->memory_psi_some_avg10 / 100.0);
        }
}

static void render_cluster_and_control(FILE *f, const MetricsSnapshot *s) {
        family(f, "ballast_cluster_last_success_timestamp_seconds", "gauge",
               "When the node's report last reached the destination, in seconds since the epoch (0: never).");
        for (size_t i = 0; i < s->n_cluster; i++)
                sample_double(f, "ballast_cluster_last_success_timestamp_seconds", "target", s->cluster[i].target,
                              usec_to_seconds(s->cluster[i].last_success_usec));
        family(f, "ballast_cluster_errors_total", "counter", "Failed exchanges with the destination.");
        for (size_t i = 0; i < s->n_cluster; i++)
                sample_u64(f, "ballast_cluster_errors_total", "target", s->cluster[i].target, s->cluster[i].errors);

        family(f, "ballast_control_calls_total", "counter", "Calls of the control socket, per method.");
        for (size_t i = 0; i < s->n_control; i++)
                sample_u64(f, "ballast_control_calls_total", "method", s->control[i].method, s->control[i].calls);
        family(f, "ballast_control_errors_total", "counter", "Calls of the control socket answered with an error, per method.");
        for (size_t i = 0; i < s->n_control; i++)
                sample_u64(f, "ballast_control_errors_total", "method", s->control[i].method, s->control[i].errors);
}

int metrics_render(const MetricsSnapshot *s, char **ret, size_t *ret_size) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        /* the stream is this function's alone: no locking on each of the thousands of small writes */
        __fsetlocking(f, FSETLOCKING_BYCALLER);
        family(f, "ballast_build_info", "gauge", "Always 1; the version of ballastd in a label.");
        sample_u64(f, "ballast_build_info", "version", s->version, 1);
        render_services(f, s);
        render_updates(f, s);
        render_node(f, s);
        render_cluster_and_control(f, s);
        bool failed = ferror(f);
        if (fclose(f) != 0 || failed) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        *ret_size = size;
        return 0;
}
