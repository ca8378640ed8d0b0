/* SPDX-License-Identifier: MIT */
#pragma once

/* Exponential backoff with jitter, shared by every module that retries something remote (the cluster report,
 * the FleetLock client): nodes that lost a server together must not come back to it in step. */

#include <stdint.h>
#include <sys/random.h>

#include "shared/macro.h"
#include "shared/time-util.h"

/* A run of a service that lasted this long "ran a while": ballast-run's crash-loop backoff starts over after it
 * (--stable-ms), and an update of a service without a health check is over once its new version ran this long
 * without exiting (supervisor/rollback.c). */
#define RUN_STABLE_MS (10 * 1000)

/* The delay before retry number attempt (0, 1, …): min doubling up to max, then ±20% jitter from random (any
 * 32-bit value). */
static inline uint64_t backoff_usec(unsigned attempt, uint64_t min, uint64_t max, uint32_t random) {
        uint64_t base = min, low, span;

        for (unsigned i = 0; i < attempt && base < max; i++)
                base *= 2;
        base = MIN(base, max);
        low = base - base / 5;
        span = base / 5 * 2;
        return low + (uint64_t) random % (span + 1);
}

/* Random enough for jitter (not for secrets): the kernel's, else the clock's low bits. */
static inline uint32_t random_u32(void) {
        uint32_t v;

        if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t) sizeof(v))
                return v;
        return (uint32_t) now_usec(CLOCK_MONOTONIC) * 2654435761U;
}
