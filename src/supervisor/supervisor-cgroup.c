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

/* The cgroup whose limits ballast answers for: the unit's for exec services, the cgroupfs parent for
 * containers under Docker's cgroupfs driver; NULL where Docker and systemd keep them (systemd driver). */
static char *service_cgroup_path(Supervisor *s, const Service *svc) {
        const char *driver;
        char *p;

        if (svc->spec->runtime == SERVICE_RUNTIME_EXEC) {
                if (asprintf(&p, "ballast.slice/%s", svc->unit) < 0)
                        return NULL;
                return p;
        }
        driver = docker_cgroup_driver(s);
        if (!driver || streq(driver, "systemd"))
                return NULL;
        if (asprintf(&p, CGROUPFS_PARENT "/%s", svc->name) < 0)
                return NULL;
        return p;
}

static CgroupLimits limits_of(uint64_t cpu_millis, uint64_t memory, uint64_t pids) {
        return (CgroupLimits) {
                .memory_max = memory ?: UINT64_MAX,
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

        if (svc->spec->runtime != SERVICE_RUNTIME_DOCKER || !supervisor_cgroups_ready(s))
                return;
        path = service_cgroup_path(s, svc);
        if (!path)
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

/* One service of the sweep: one libcgroup snapshot gives the limits (put back when changed behind our back)
 * and the usage (kept for reports, so that no report reads cgroups). */
static void service_sweep_cgroup(Supervisor *s, Service *svc) {
        const UnitState *u = bus_unit(s->bus, svc->unit);
        _cleanup_free_ char *path = NULL;
        CgroupLimits want, have;
        CgroupUsage use;

        if (!u || !u->active_state || !streq(u->active_state, "active"))
                return;
        path = service_cgroup_path(s, svc);
        if (!path || cgroup_read(s->cgroup_mode, CGROUP_FS_ROOT, path, &have, &use) < 0)
                return;
        svc->usage = use;
        svc->usage_known = true;

        want = limits_of(svc->spec->cpu_millis, svc->spec->memory, svc->spec->pids);
        if (!cgroup_limits_equal(&want, &have))
                /* a limit changed by hand: put back and logged by cgroup_enforce_limits */
                (void) cgroup_enforce_limits(s->cgroup_mode, CGROUP_FS_ROOT, path, &want, svc->name, NULL);

        /* OOM kills in a cgroup of ours (Docker reports its own containers' as events) */
        if (svc->spec->runtime == SERVICE_RUNTIME_EXEC) {
                if (use.oom_kills > svc->cgroup_oom_kills_seen) {
                        svc->oom_kills += (unsigned) (use.oom_kills - svc->cgroup_oom_kills_seen);
                        log_event(LOG_WARNING, 0, "service-oom", svc->name, BALLAST_MESSAGE_SERVICE_FAILED,
                                  "%s was killed for running out of memory (its limit).", svc->name);
                }
                svc->cgroup_oom_kills_seen = use.oom_kills;
        }
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
json_t *service_usage_json(Supervisor *s, const Service *svc) {
        const CgroupUsage *u = &svc->usage;

        if (!svc->usage_known)
                return NULL;
        return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "memory_current", (json_int_t) u->memory_current,
                         "cpu_usage_usec", (json_int_t) u->cpu_usage_usec, "pids_current", (json_int_t) u->pids_current,
                         "oom_kills", (json_int_t) MAX(u->oom_kills, (uint64_t) svc->oom_kills),
                         "cpu_nr_throttled", (json_int_t) u->cpu_nr_throttled,
                         "cpu_throttled_usec", (json_int_t) u->cpu_throttled_usec);
}
