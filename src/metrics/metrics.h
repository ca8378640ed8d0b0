/* SPDX-License-Identifier: MIT */
#pragma once

/* Metrics in the Prometheus text exposition format (version 0.0.4, which Prometheus, node_exporter's textfile
 * collector and `promtool check metrics` read): a pure renderer from a snapshot of what the daemon knows.
 * Conventions: the ballast_ prefix, base units (seconds, bytes, cores), counters end in _total, a HELP and a
 * TYPE line for every family, label values escaped (\\, \", \n). docs/METRICS.md lists every series. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "resources/capacity.h"
#include "varlink/varlink.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct MetricsService {
        const char *name;
        bool up;                    /* its unit is active */
        bool healthy;               /* passes its health check; without one: runs */
        uint64_t restarts;          /* systemd's NRestarts of its unit */
        uint64_t oom_kills;
        bool usage_known;           /* the cgroup was read at least once: cpu_seconds, memory_bytes */
        double cpu_seconds;
        uint64_t memory_bytes;
        uint64_t memory_limit_bytes;  /* 0: no limit (the series is left out) */
        double cpu_limit_cores;       /* 0: no limit (the series is left out) */
        uint64_t last_rollback_usec;  /* CLOCK_REALTIME; 0: never */
} MetricsService;

typedef struct MetricsCluster {
        const char *target;         /* "etcd", "http" */
        uint64_t last_success_usec; /* CLOCK_REALTIME; 0: never */
        uint64_t errors;
} MetricsCluster;

typedef struct MetricsSnapshot {
        const char *version;
        uint64_t now_usec;          /* CLOCK_REALTIME, for the seconds spent in the update state */

        const MetricsService *services;
        size_t n_services;

        /* the reboot flow; update_state NULL: no updater (the series are left out) */
        const char *update_state;   /* updates_reboot_state_to_string(), or "unmanaged" */
        const char *update_reason;  /* the decision's reason code */
        bool lock_held;
        uint64_t update_state_since_usec;

        bool draining, drained;

        /* the configured destinations only */
        const MetricsCluster *cluster;
        size_t n_cluster;

        bool node_known;            /* capacity, allocatable, committed, pressure */
        Resources capacity, allocatable, committed;
        bool memory_pressure, disk_pressure, pids_pressure;
        double memory_psi_some_avg10; /* percent; < 0: the kernel has no PSI (left out) */

        const VarlinkMethodStats *control;
        size_t n_control;
} MetricsSnapshot;

/* The exposition text (NUL-terminated, *ret_size without the NUL). -ENOMEM only. */
int metrics_render(const MetricsSnapshot *s, char **ret, size_t *ret_size);

/* The reason codes that get a series each (ballast_update_reason), NULL-terminated. A reason outside the list
 * gets a series of its own while it is the current one. */
extern const char *const metrics_update_reasons[];
