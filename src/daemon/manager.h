/* SPDX-License-Identifier: MIT */
#pragma once

/* The Manager owns the one sd-event loop and everything on it: the configuration, the control socket and every
 * module. main() builds it, starts it and runs it; nothing else outlives it. */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "systemd/bus.h"
#include "resources/capacity.h"
#include "daemon/config.h"
#include "docker/docker.h"
#include "http/http.h"
#include "metrics/metrics-server.h"
#include "resources/netlink.h"
#include "cluster/reporter.h"
#include "supervisor/supervisor.h"
#include "daemon/shutdown.h"
#include "updates/updater.h"
#include "varlink/varlink.h"

typedef struct ManagerOptions {
        const char *config_path;  /* as given; resolved under root */
        const char *root;         /* every host path resolves under it; NULL = "/" */
        const char *socket_path;  /* used when not socket-activated; NULL = from the configuration */
} ManagerOptions;

typedef struct Manager {
        sd_event *event;
        Config *config;
        char *root;
        char *config_path;        /* resolved */
        char *socket_path;        /* the option, unresolved */
        char *node_name;
        char *config_error;       /* why the configuration on disk was refused; NULL when it is in use */

        VarlinkServer *varlink;
        bool socket_activated;

        /* the modules, started once a valid configuration is loaded */
        HttpClient *http;
        Docker *docker;
        Bus *bus;
        Supervisor *supervisor;
        Netlink *netlink;
        Reporter *reporter;
        json_t *last_document;          /* the last status document without its time, to keep that time */
        uint64_t last_document_taken_usec;
        Updater *updater;
        ShutdownGuard *shutdown;  /* the logind delay inhibitor: every shutdown stops the services first */
        MetricsServer *metrics;   /* NULL: no "metrics" block */
        char *metrics_key;        /* the settings it runs with */

        /* ballastctl drain: services stopped and kept stopped, the report says so */
        bool draining;
        bool drain_done;
        bool drain_manual;        /* asked by an operator: kept (state_dir/drain.json) until Undrain */
        char *drain_path;         /* state_dir/drain.json */
        json_t *drain_services;   /* from it at start: the services the drain had stopped */
        VarlinkCall **drain_waiters;  /* Drain calls answered once every service is stopped */
        size_t n_drain_waiters;

        /* the node: re-read on a timer (cheap /proc and /sys reads) */
        NodeFacts node;
        Resources allocatable;
        bool node_known;
        bool slice_bound;         /* ballast.slice carries the current allocatable */
        sd_event_source *node_timer;

        uint64_t started_at_usec;        /* CLOCK_REALTIME */
        uint64_t started_monotonic_usec;
        uint64_t config_loaded_at_usec;  /* CLOCK_REALTIME */
} Manager;

int manager_new(Manager **ret, const ManagerOptions *options);
Manager *manager_free(Manager *m);
DEFINE_CLEANUP_FUNC(Manager *, manager_free);

/* Loads the configuration, opens the control socket and tells systemd we are ready. */
int manager_start(Manager *m);
int manager_run(Manager *m);

/* Re-reads the configuration; an invalid one is refused and the old one stays. */
int manager_reload(Manager *m);

/* The node's conditions (memory, disk, pids pressure) as JSON. */
json_t *manager_conditions_json(Manager *m);
/* The node's status document for the cluster (schema 2, documented in docs/CONFIGURATION.md). */
json_t *manager_document_json(Manager *m);
/* Everything `ballastctl capacity` shows. */
json_t *manager_capacity_json(Manager *m);

/* Drain: every service stopped, the last one first, and kept stopped until manager_undrain(); the report says
 * so. Used by ballastctl drain and by the reboot flow of OS updates. 0 when started (or already draining),
 * -ENOTCONN without systemd, -EAGAIN before the modules run. why is for the journal. */
int manager_drain(Manager *m, const char *why);
void manager_undrain(Manager *m, const char *why);

/* An operator's drain (ballastctl drain/undrain): recorded in state_dir/drain.json (0600, atomically) before it
 * takes effect, so that it outlives a restart of ballastd; only Undrain ends it, not the reboot flow's undrain.
 * -errno when the record cannot be written or removed (then nothing changed). */
int manager_set_manual_drain(Manager *m, bool drained);

/* Drain calls waiting for the drain to finish (a reference is taken). */
int manager_add_drain_waiter(Manager *m, VarlinkCall *call);
VarlinkCall *manager_pop_drain_waiter(Manager *m);

/* Starts, restarts or stops the metrics endpoint and textfile as the configuration says (manager-metrics.c);
 * a failure is logged and leaves the node running without them. */
int manager_apply_metrics(Manager *m);

/* The node (manager-node.c): capacity read again and allocatable recomputed (the slice re-bounded and the
 * report marked changed when it moved); ballast.slice bounded at allocatable once the bus is up; the cluster
 * reporter set up from the configuration and started. */
void manager_refresh_node(Manager *m);
void manager_bound_slice(Manager *m);
int manager_start_reporter(Manager *m);

/* A host path under the manager's root. */
char *manager_path(Manager *m, const char *path);
