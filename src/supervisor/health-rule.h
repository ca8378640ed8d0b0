/* SPDX-License-Identifier: MIT */
#pragma once

/* The rule that turns one health check's result into what happens next, with no loop, clock or I/O of its own:
 * the supervisor feeds it the service's state, the time and the result, and does what it says.
 *
 * The start period counts from when the service is running (its container started, or its exec'd process),
 * not from the start request: a service that takes a while to pull, create or start its container does not
 * spend its start period doing so. While a service has not passed a check since it started:
 *   - a failure inside the start period (or before the service runs at all) does not count; the next check
 *     comes after start_interval_ms;
 *   - the first pass ends the start period: the service is healthy, checks come every interval_ms;
 *   - a failure after the start period counts, as for a healthy service.
 * A counted failure brings the next check after interval_ms; the retries-th counted failure in a row restarts
 * the service. A pass resets the count. */

#include <stdbool.h>
#include <stdint.h>

#include "supervisor/spec.h"

typedef struct HealthState {
        bool healthy;                /* a check passed since the service started */
        unsigned failures;           /* counted failures in a row */
        uint64_t running_since_usec; /* CLOCK_MONOTONIC when it was seen running; 0: not running yet */
} HealthState;

typedef enum HealthVerdict {
        HEALTH_VERDICT_PASSED,   /* it passed (the first pass since the start: it became healthy) */
        HEALTH_VERDICT_IGNORED,  /* a failure inside the start period: not counted */
        HEALTH_VERDICT_COUNTED,  /* a counted failure, fewer than retries in a row */
        HEALTH_VERDICT_RESTART,  /* retries failures in a row: restart it */
} HealthVerdict;

/* Updates *st for one result at now_usec; returns what to do and, in *ret_next_usec, when to check again
 * (relative; meaningless after HEALTH_VERDICT_RESTART). */
HealthVerdict health_rule_step(const ServiceSpec *spec, HealthState *st, uint64_t now_usec, bool pass,
                               uint64_t *ret_next_usec);

/* Whether st is inside its start period at now_usec (not running yet counts as inside). */
bool health_in_start_period(const ServiceSpec *spec, const HealthState *st, uint64_t now_usec);

/* The delay before the n-th health-check restart in a row (n ≥ 1, no passing check in between), backed off
 * as a crash loop is: restart.delay_ms (at least 100 ms), doubling, at most restart.max_delay_ms. */
uint64_t health_restart_delay_ms(const ServiceSpec *spec, unsigned n);
