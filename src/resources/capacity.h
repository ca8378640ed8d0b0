/* SPDX-License-Identifier: MIT */
#pragma once

/* What the node has, what it keeps back, what it has promised. kubelet's model:
 *     allocatable = capacity − reserved − eviction threshold      (per resource, never below 0)
 *     committed   = Σ resources of the admitted services
 *     free        = allocatable − committed
 * A service is admitted only if each of its resources fits in free, and each of its host ports is held by
 * nobody else. On one node the largest service that still fits is the free vector itself (and any port not
 * held), which is what is reported as the largest fit. Everything here is pure but capacity_read_node(). */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct Resources {
        uint64_t cpu_millis;
        uint64_t memory;   /* bytes */
        uint64_t pids;
        uint64_t disk;     /* bytes of the Docker data root */
} Resources;

typedef struct NodeFacts {
        Resources capacity;
        uint64_t inodes, inodes_free;
        uint64_t disk_free;
        uint64_t memory_available;     /* MemAvailable */
        double memory_pressure_avg10;  /* PSI "some avg10", < 0 when the kernel has no PSI */
        double cpu_pressure_avg10;     /* /proc/pressure/cpu, the same */
        double io_pressure_avg10;      /* /proc/pressure/io, the same */
        uint64_t pids_current;         /* tasks on the node */
} NodeFacts;

typedef struct CapacityPolicy {
        Resources reserved;
        uint64_t eviction_memory;
        unsigned eviction_disk_percent;
} CapacityPolicy;

typedef struct Shortfall {
        const char *resource;  /* "cpu", "memory", "pids" */
        uint64_t requested;
        uint64_t free;
} Shortfall;

/* allocatable from capacity and policy; saturating. */
Resources capacity_allocatable(const Resources *capacity, const CapacityPolicy *p);
void resources_add(Resources *a, const Resources *b);
/* a − b, saturating at 0 per resource. */
Resources resources_sub(const Resources *a, const Resources *b);
/* 0 when want fits in free, else -ENOSPC and *ret says the first resource that does not. */
int capacity_fits(const Resources *free, const Resources *want, Shortfall *ret);

/* Reads the node: CPUs online within the root cpuset, MemTotal/MemAvailable, pid_max, PSI, and the disk and
 * inodes of docker_root (NULL: skipped). proc_root and sys_root are "/proc" and "/sys" (fixtures in tests). */
int capacity_read_node(const char *proc_root, const char *sys_root, const char *cgroup_root, const char *docker_root,
                       NodeFacts *ret);
/* "0-3,5,7-8" → 7. -EINVAL on garbage. */
int cpu_list_count(const char *s, unsigned *ret);

json_t *resources_to_json(const Resources *r);
