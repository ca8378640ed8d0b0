/* SPDX-License-Identifier: MIT */
#pragma once

/* The supervisor keeps what runs equal to what is specified. Desired state: the specs in services_dir (written by
 * Ignition or an operator) and those applied over the socket (persisted in state_dir/services). Actual state:
 * systemd's units (through the bus module) and Docker's containers. It writes units, reloads systemd and starts,
 * restarts or stops units as jobs; it runs health checks and restarts what fails them; it reconciles at start,
 * on every change and on a timer, and never touches a healthy workload that matches its spec. Its Varlink
 * methods are in supervisor-varlink.h: this module does not depend on the socket layer. */

#include <jansson.h>
#include <stdbool.h>
#include <systemd/sd-event.h>

#include "systemd/bus.h"
#include "resources/capacity.h"
#include "docker/docker.h"
#include "http/http.h"
#include "supervisor/spec.h"

typedef struct Supervisor Supervisor;

typedef struct SupervisorPaths {
        const char *unit_dir;         /* where units are written (under --root) */
        const char *state_dir;        /* under --root */
        const char *services_dir;     /* under --root */
        const char *host_state_dir;   /* state_dir as the units see it (without --root) */
        const char *docker_socket;    /* as the units see it */
        const char *control_socket;   /* as the units see it */
        const char *run_helper;       /* ballast-run */
        const char *registry_auth_file; /* ballast.json's docker.registry_auth_file; NULL: none */
} SupervisorPaths;

int supervisor_new(Supervisor **ret, sd_event *event, Bus *bus, Docker *docker, HttpClient *http,
                   const SupervisorPaths *paths);
Supervisor *supervisor_free(Supervisor *s);
DEFINE_CLEANUP_FUNC(Supervisor *, supervisor_free);

/* Loads every spec from disk and reconciles. Called at start and on reload. */
int supervisor_load(Supervisor *s);
/* Schedules a reconcile pass (coalesced). */
void supervisor_schedule_reconcile(Supervisor *s);

/* Event sources from below. */
void supervisor_on_bus_state(Supervisor *s, bool connected);
void supervisor_on_unit(Supervisor *s, const UnitState *u);
void supervisor_on_docker_event(Supervisor *s, const DockerEvent *ev);
void supervisor_on_docker_state(Supervisor *s, bool up);

/* What the node can give to services; admission (admission.h) is checked against it. */
void supervisor_set_allocatable(Supervisor *s, const Resources *allocatable);
/* Σ resources of the admitted services. */
Resources supervisor_committed(Supervisor *s);
/* [{"port": "10090/tcp", "service": "web"}] */
json_t *supervisor_ports_json(Supervisor *s);
/* Every service's status with what it requested and, where its cgroup is ours, its usage. */
json_t *supervisor_services_json(Supervisor *s);
/* [{"name", "requested": {cpu, memory, pids}}] */
json_t *supervisor_commitments_json(Supervisor *s);

/* Reads back every running service's cgroup limits and puts back what was changed behind our back; counts the
 * OOM kills of exec services. Called on the node timer. */
void supervisor_verify_cgroups(Supervisor *s);

/* Counts for GetStatus. */
void supervisor_counts(Supervisor *s, unsigned *ret_total, unsigned *ret_active, unsigned *ret_failed);

/* Drain: stops every service, the last one first, each when the one before is down, and keeps them stopped
 * (no reconcile, health or restart starts one) until supervisor_undrain(), which starts again those that were
 * running. done is called once all are stopped. -EBUSY while a drain is in progress, -ENOTCONN without systemd. */
typedef void (*SupervisorDrainFunc)(Supervisor *s, int error, void *userdata);
int supervisor_drain(Supervisor *s, SupervisorDrainFunc done, void *userdata);
void supervisor_undrain(Supervisor *s);
bool supervisor_is_draining(Supervisor *s);
/* The names of the services a drain stopped (to start again at undrain), and marking them so after a restart
 * of ballastd, when their units are already stopped. */
json_t *supervisor_drained_json(Supervisor *s);
void supervisor_mark_drained(Supervisor *s, json_t *names);

/* Pure: should a unit in this state be started by a reconcile pass? */
bool supervisor_should_start(RestartPolicy policy, const char *active_state, const char *result, bool just_applied);
