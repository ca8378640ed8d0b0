/* SPDX-License-Identifier: MIT */
/* The health rule: the start period, counting and the restart backoff (see health-rule.h). */
#include "shared/macro.h"
#include "shared/time-util.h"
#include "supervisor/health-rule.h"

#define HEALTH_RESTART_FLOOR_MS 100U

bool health_in_start_period(const ServiceSpec *spec, const HealthState *st, uint64_t now_usec) {
        if (st->healthy)
                return false;
        if (st->running_since_usec == 0)
                return true;
        /* a clock that went backwards (it is monotonic; this is paranoia) keeps it inside */
        if (now_usec < st->running_since_usec)
                return true;
        return now_usec - st->running_since_usec < spec->health_start_period_ms * USEC_PER_MSEC;
}

HealthVerdict health_rule_step(const ServiceSpec *spec, HealthState *st, uint64_t now_usec, bool pass,
                               uint64_t *ret_next_usec) {
        if (pass) {
                st->healthy = true;
                st->failures = 0;
                *ret_next_usec = spec->health_interval_ms * USEC_PER_MSEC;
                return HEALTH_VERDICT_PASSED;
        }
        if (health_in_start_period(spec, st, now_usec)) {
                *ret_next_usec = spec->health_start_interval_ms * USEC_PER_MSEC;
                return HEALTH_VERDICT_IGNORED;
        }
        st->failures++;
        *ret_next_usec = spec->health_interval_ms * USEC_PER_MSEC;
        if (st->failures < spec->health_retries)
                return HEALTH_VERDICT_COUNTED;
        return HEALTH_VERDICT_RESTART;
}

uint64_t health_restart_delay_ms(const ServiceSpec *spec, unsigned n) {
        uint64_t max = MAX(spec->restart_max_delay_ms, (uint64_t) HEALTH_RESTART_FLOOR_MS);
        uint64_t d = MAX(spec->restart_delay_ms, (uint64_t) HEALTH_RESTART_FLOOR_MS);

        for (unsigned i = 1; i < n && d < max; i++)
                d *= 2;
        return MIN(d, max);
}
