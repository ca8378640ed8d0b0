/* SPDX-License-Identifier: MIT */
/* The cgroups ballast answers for (exec services', and containers' under Docker's cgroupfs driver): where
 * they are, their limits, and the sweep that reads back limits and usage. */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "shared/log.h"
#include "shared/time-util.h"
#include "supervisor/supervisor-internal.h"

/* ---- cgroups ---- */

/* Docker's cgroup driver, from /info: "systemd", "cgroupfs", or NULL while unknown. */
const char *docker_cgroup_driver(Supervisor *s) {
        return json_string_value(json_object_get(docker_info(s->docker), "CgroupDriver"));
}

/* Where a container is parented: with the systemd driver the service's own slice (a child of ballast.slice:
 * systemd reads the dash as the hierarchy), with cgroupfs a cgroup ballast creates and limits itself. */
char *service_cgroup_parent(Supervisor *s, const char *name) {
        const char *driver = docker_cgroup_driver(s);
        char *p;

        if (!driver)
                return NULL;
        if (asprintf(&p, streq(driver, "systemd") ? "ballast-%s.slice" : "/" CGROUPFS_PARENT "/%s", name) < 0)
                return NULL;
        return p;
}

/* The cgroup whose limits ballast answers for, and the unit systemd keeps it under (NULL when ballast owns the
 * cgroup itself):
 *   exec service                    ballast.slice/ballast-NAME.service          unit ballast-NAME.service
 *   container, Docker's systemd     ballast.slice/ballast-NAME.slice/docker-ID.scope   unit docker-ID.scope
 *     driver (parent: the service's slice; ID from Docker's "start" event or an inspect)
 *   container, Docker's cgroupfs    ballast/NAME (ballast creates and limits it)  no unit
 *     driver
 * NULL (and -EAGAIN) while not known: the driver before /info, the container's ID before its start. */
static int service_cgroup(Supervisor *s, const Service *svc, char **ret_path, char **ret_unit) {
        _cleanup_free_ char *path = NULL, *unit = NULL, *parent = NULL, *slice = NULL;
        const char *driver;

        if (svc->spec->runtime == SERVICE_RUNTIME_EXEC) {
                if (asprintf(&path, "ballast.slice/%s", svc->unit) < 0 || !(unit = strdup(svc->unit)))
                        return -ENOMEM;
        } else {
                driver = docker_cgroup_driver(s);
                if (!driver)
                        return -EAGAIN;
                if (streq(driver, "systemd")) {
                        if (!svc->container_id)
                                return -EAGAIN;
                        parent = service_cgroup_parent(s, svc->name);
                        slice = parent ? cgroup_slice_path(parent) : NULL;
                        if (!slice || asprintf(&path, "%s/docker-%s.scope", slice, svc->container_id) < 0 ||
                            asprintf(&unit, "docker-%s.scope", svc->container_id) < 0)
                                return -ENOMEM;
                } else if (asprintf(&path, CGROUPFS_PARENT "/%s", svc->name) < 0)
                        return -ENOMEM;
        }
        *ret_path = TAKE_PTR(path);
        if (ret_unit)
                *ret_unit = TAKE_PTR(unit);
        return 0;
}

void service_set_container_id(Service *svc, const char *id) {
        char *copy;

        if (!id || (svc->container_id && streq(svc->container_id, id)))
                return;
        copy = strdup(id);
        if (!copy)
                return;
        free(svc->container_id);
        svc->container_id = copy;
        svc->usage_failed_logged = false;
}

static CgroupLimits limits_of(uint64_t cpu_millis, uint64_t memory, uint64_t pids) {
        return (CgroupLimits) {
                .memory_max = memory ?: UINT64_MAX,
                .memory_high = UINT64_MAX, /* none: systemd's MemoryHigh=infinity, Docker's default (v2 only) */
                .cpu_quota_us = cpu_millis ? cpu_millis * 100 : UINT64_MAX, /* per 100 ms period */
                .cpu_period_us = cpu_millis ? 100000 : 0,
                .pids_max = pids ?: UINT64_MAX,
        };
}

bool supervisor_cgroups_ready(Supervisor *s) {
        if (!s->cgroup_mode_known && cgroup_detect_mode(CGROUP_FS_ROOT, &s->cgroup_mode) >= 0)
                s->cgroup_mode_known = true;
        return s->cgroup_mode_known;
}

/* Under Docker's cgroupfs driver: the parent cgroup of a service's container, limited to its commitment, and
 * the common parent, limited to allocatable. */
void service_prepare_cgroupfs_parent(Supervisor *s, const Service *svc) {
        _cleanup_free_ char *path = NULL;
        CgroupLimits want;
        int r;

        if (svc->spec->runtime != SERVICE_RUNTIME_DOCKER || !supervisor_cgroups_ready(s) ||
            !streq_ptr(docker_cgroup_driver(s), "cgroupfs"))
                return;
        if (service_cgroup(s, svc, &path, NULL) < 0)
                return;
        if (s->allocatable_known) {
                CgroupLimits top = limits_of(s->allocatable.cpu_millis, s->allocatable.memory, s->allocatable.pids);
                r = cgroup_create(s->cgroup_mode, CGROUP_FS_ROOT, CGROUPFS_PARENT, &top);
                if (r < 0)
                        log_warning_errno(r, "Failed to create the cgroup " CGROUPFS_PARENT ": %m");
        }
        want = limits_of(svc->spec->cpu_millis, svc->spec->memory, svc->spec->pids);
        r = cgroup_create(s->cgroup_mode, CGROUP_FS_ROOT, path, &want);
        if (r < 0)
                log_warning_errno(r, "Failed to create the cgroup %s of %s: %m", path, svc->name);
}

/* What the sweep's asynchronous calls carry: the service by name, looked up again when the answer comes. */
typedef struct CgroupCall {
        Supervisor *supervisor;
        char *name;
} CgroupCall;

static CgroupCall *cgroup_call_new(Supervisor *s, const char *name) {
        CgroupCall *c = calloc(1, sizeof(CgroupCall));

        if (c && !(c->name = strdup(name)))
                c = mfree(c);
        if (c)
                c->supervisor = s;
        return c;
}

static void cgroup_call_free(void *userdata) {
        CgroupCall *c = userdata;

        free(c->name);
        free(c);
}

static void on_container_inspected(Docker *d, int error, long status, json_t *reply, void *userdata) {
        CgroupCall *c = userdata;
        Service *svc = supervisor_find(c->supervisor, c->name);

        if (svc) {
                svc->container_lookup_in_flight = false;
                if (error >= 0 && status == 200 &&
                    json_is_true(json_object_get(json_object_get(reply, "State"), "Running")))
                        service_set_container_id(svc, json_string_value(json_object_get(reply, "Id")));
        }
        cgroup_call_free(c);
}

/* A container running since before ballastd started sent no "start" event: ask Docker for its ID. */
static void service_lookup_container(Supervisor *s, Service *svc) {
        _cleanup_free_ char *path = NULL;
        CgroupCall *c;

        if (svc->container_lookup_in_flight || !docker_is_up(s->docker))
                return;
        c = cgroup_call_new(s, svc->name);
        if (!c || asprintf(&path, "/containers/ballast-%s/json", svc->name) < 0 ||
            docker_call_full(s->docker, "GET", path, NULL, 10000, on_container_inspected, cgroup_call_free, c) < 0) {
                if (c)
                        cgroup_call_free(c);
                return;
        }
        svc->container_lookup_in_flight = true;
}

static void on_limits_restored(Bus *b, int error, void *userdata) {
        CgroupCall *c = userdata;
        Service *svc = supervisor_find(c->supervisor, c->name);

        if (svc)
                svc->limits_restore_in_flight = false;
        if (error < 0)
                log_event(LOG_ERR, error, "cgroup-limits-restore-failed", c->name, NULL,
                          "systemd refused to restore the limits of %s: %m", c->name);
        cgroup_call_free(c);
}

/* A limit changed behind our back. A cgroup systemd owns (a unit's, a Docker scope's) is restored through
 * systemd, which stays its only writer: SetUnitProperties (runtime) with the service's limits makes systemd
 * write them again, whatever it believed they were. A cgroup ballast owns (cgroupfs driver) is written here. */
static void service_restore_limits(Supervisor *s, Service *svc, const char *path, const char *unit,
                                   const CgroupLimits *want, const CgroupLimits *have) {
        char diff[256];
        CgroupCall *c;
        int r;

        if (!unit) {
                (void) cgroup_enforce_limits(s->cgroup_mode, CGROUP_FS_ROOT, path, want, svc->name, NULL);
                return;
        }
        if (svc->limits_restore_in_flight)
                return;
        cgroup_limits_format_diff(want, have, diff, sizeof(diff));
        log_event(LOG_WARNING, 0, "cgroup-limits-restored", svc->name, NULL,
                  "Limits of cgroup %s were changed behind ballast's back: %s; restoring them through systemd (%s).",
                  path, diff, unit);
        c = cgroup_call_new(s, svc->name);
        r = c ? bus_set_unit_properties(s->bus, unit, true, append_unit_limits, svc->spec, on_limits_restored, c)
              : -ENOMEM;
        if (r < 0) {
                log_event(LOG_ERR, r, "cgroup-limits-restore-failed", svc->name, NULL,
                          "Failed to ask systemd to restore the limits of %s: %m", unit);
                if (c)
                        cgroup_call_free(c);
                return;
        }
        svc->limits_restore_in_flight = true;
}

static void count_oom(Service *svc, uint64_t n) {
        svc->oom_kills += (unsigned) n;
        log_event(LOG_WARNING, 0, "service-oom", svc->name, BALLAST_MESSAGE_SERVICE_FAILED,
                  "%s was killed for running out of memory (its limit).", svc->name);
}

/* One service of the sweep: one read of its cgroup gives the limits (put back when changed behind our back)
 * and the usage (kept for reports, so that no report reads cgroups). */
static void service_sweep_cgroup(Supervisor *s, Service *svc) {
        const UnitState *u = bus_unit(s->bus, svc->unit);
        _cleanup_free_ char *path = NULL, *unit = NULL;
        CgroupLimits want, have;
        CgroupUsage use;
        int r;

        if (!u || !u->active_state || !streq(u->active_state, "active"))
                return;
        r = service_cgroup(s, svc, &path, &unit);
        if (r == -EAGAIN && svc->spec->runtime == SERVICE_RUNTIME_DOCKER)
                service_lookup_container(s, svc);
        if (r < 0)
                return;
        r = cgroup_read(s->cgroup_mode, CGROUP_FS_ROOT, path, &have, &use);
        if (r < 0) {
                /* once per container or ballastd: the sweep comes back every 10 s */
                if (!svc->usage_failed_logged)
                        log_event(LOG_WARNING, r, "cgroup-unreadable", svc->name, NULL,
                                  "Cannot read the usage and limits of %s from cgroup %s (%s): %m", svc->name, path,
                                  cgroup_mode_to_string(s->cgroup_mode));
                svc->usage_failed_logged = true;
                if (r == -ENOENT && svc->spec->runtime == SERVICE_RUNTIME_DOCKER)
                        /* the container was replaced and its start not seen: look it up again */
                        svc->container_id = mfree(svc->container_id);
                return;
        }
        svc->usage = use;
        svc->usage_known = true;
        svc->usage_failed_logged = false;

        want = limits_of(svc->spec->cpu_millis, svc->spec->memory, svc->spec->pids);
        if (!cgroup_limits_equal(&want, &have))
                service_restore_limits(s, svc, path, unit, &want, &have);

        /* OOM kills in a cgroup of ours (Docker reports its own containers' as events) */
        if (svc->spec->runtime == SERVICE_RUNTIME_EXEC) {
                /* memory.events counts kills since the cgroup was created: a restart starts again at 0 */
                if (use.oom_kills > svc->cgroup_oom_kills_seen)
                        count_oom(svc, use.oom_kills - svc->cgroup_oom_kills_seen);
                svc->cgroup_oom_kills_seen = use.oom_kills;
        }
}

/* An exec service's OOM kills, as systemd saw them. systemd's OOMPolicy=stop (its default for services) stops
 * the whole unit at the first kill in its cgroup, which goes with the cgroup and its memory.events, mostly
 * before a sweep could read them: the unit's Result "oom-kill" is what stays. Counted once per run, and not
 * when the sweep counted a kill in this run already. */
void service_count_unit_oom(Service *svc, const UnitState *u) {
        bool oom = u && u->result && streq(u->result, "oom-kill");

        if (svc->spec->runtime != SERVICE_RUNTIME_EXEC)
                return;
        if (oom && !svc->oom_result_seen && svc->cgroup_oom_kills_seen == 0)
                count_oom(svc, 1);
        if (oom && !svc->oom_result_seen)
                svc->cgroup_oom_kills_seen = 0; /* the next run has a new cgroup */
        svc->oom_result_seen = oom;
}

/* A reading costs about 0.7 ms (libcgroup reads every file of the cgroup), so a sweep goes in batches, each
 * its own turn of the loop: 500 services never hold the loop for more than one batch. */
#define SWEEP_BATCH 16
#define SWEEP_STEP_USEC (20 * USEC_PER_MSEC)

int on_sweep(sd_event_source *src, uint64_t usec, void *userdata) {
        Supervisor *s = userdata;
        size_t end = MIN(s->sweep_next + SWEEP_BATCH, s->n_services);

        for (; s->sweep_next < end; s->sweep_next++)
                service_sweep_cgroup(s, s->services[s->sweep_next]);
        if (s->sweep_next < s->n_services) {
                (void) sd_event_source_set_time_relative(src, SWEEP_STEP_USEC);
                (void) sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
        } else
                /* libcgroup allocates a whole snapshot per cgroup: hand the freed pages back after a sweep */
                (void) malloc_trim(0);
        return 0;
}

void supervisor_verify_cgroups(Supervisor *s) {
        if (!supervisor_cgroups_ready(s))
                return;
        s->sweep_next = 0;
        (void) sd_event_source_set_time_relative(s->sweep_timer, 0);
        (void) sd_event_source_set_enabled(s->sweep_timer, SD_EVENT_ONESHOT);
}

/* Usage of a service's cgroup, from the last sweep; NULL when there is none. */
static json_t *pressure_json(const CgroupPressure *p) {
        if (p->avg10 < 0)
                return json_null();
        return json_pack("{s:f,s:I}", "some_avg10", p->avg10, "some_total_usec", (json_int_t) p->total_usec);
}

json_t *service_usage_json(Supervisor *s, const Service *svc) {
        const CgroupUsage *u = &svc->usage;

        if (!svc->usage_known) /* never swept (not running since ballastd started): its kills still count */
                return svc->oom_kills > 0 ? json_pack("{s:I}", "oom_kills", (json_int_t) svc->oom_kills) : NULL;
        return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o,s:o}", "memory_current", (json_int_t) u->memory_current,
                         "memory_peak", (json_int_t) u->memory_peak, "cpu_usage_usec", (json_int_t) u->cpu_usage_usec,
                         "pids_current", (json_int_t) u->pids_current,
                         "oom_kills", (json_int_t) MAX(u->oom_kills, (uint64_t) svc->oom_kills),
                         "cpu_nr_throttled", (json_int_t) u->cpu_nr_throttled,
                         "cpu_throttled_usec", (json_int_t) u->cpu_throttled_usec,
                         "memory_pressure", pressure_json(&u->memory_pressure),
                         "cpu_pressure", pressure_json(&u->cpu_pressure), "io_pressure", pressure_json(&u->io_pressure));
}
