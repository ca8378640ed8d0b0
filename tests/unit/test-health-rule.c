/* SPDX-License-Identifier: MIT */
#include "shared/macro.h"
#include "shared/time-util.h"
#include "supervisor/health-rule.h"
#include "supervisor/spec.h"
#include "tap.h"

/* health_rule_step() as a table: the service's state × the time × the result → the verdict, the state after and
 * when the next check comes; then runs of results (a slow start, a service that never passes) and the restart
 * backoff. The spec: interval 5 s, start interval 1 s, retries 3, start period 20 s. */

#define S (USEC_PER_SEC)
#define T0 (1000 * S) /* when the service was seen running */

static const ServiceSpec spec = { .health = HEALTH_TCP, .health_interval_ms = 5000, .health_timeout_ms = 2000,
                                  .health_retries = 3, .health_start_period_ms = 20000,
                                  .health_start_interval_ms = 1000, .restart_delay_ms = 200,
                                  .restart_max_delay_ms = 1500 };

typedef struct Case {
        const char *title;
        HealthState before;
        uint64_t now;
        bool pass;
        HealthVerdict verdict;
        HealthState after;
        uint64_t next;
} Case;

static const Case cases[] = {
        { "not running yet: a failure does not count", { .running_since_usec = 0 }, T0 + 3600 * S, false,
          HEALTH_VERDICT_IGNORED, { .running_since_usec = 0 }, 1 * S },
        { "inside the start period: a failure does not count", { .running_since_usec = T0 }, T0 + 19 * S, false,
          HEALTH_VERDICT_IGNORED, { .running_since_usec = T0 }, 1 * S },
        { "the start period's last µs still inside", { .running_since_usec = T0 }, T0 + 20 * S - 1, false,
          HEALTH_VERDICT_IGNORED, { .running_since_usec = T0 }, 1 * S },
        { "the first pass ends the start period", { .running_since_usec = T0 }, T0 + 1 * S, true,
          HEALTH_VERDICT_PASSED, { .healthy = true, .running_since_usec = T0 }, 5 * S },
        { "after the start period a failure counts", { .running_since_usec = T0 }, T0 + 20 * S, false,
          HEALTH_VERDICT_COUNTED, { .failures = 1, .running_since_usec = T0 }, 5 * S },
        { "after it, the retries-th failure in a row restarts", { .failures = 2, .running_since_usec = T0 },
          T0 + 31 * S, false, HEALTH_VERDICT_RESTART, { .failures = 3, .running_since_usec = T0 }, 5 * S },
        { "healthy: a failure counts even inside the start period", { .healthy = true, .running_since_usec = T0 },
          T0 + 2 * S, false, HEALTH_VERDICT_COUNTED, { .healthy = true, .failures = 1, .running_since_usec = T0 },
          5 * S },
        { "healthy: the retries-th failure restarts", { .healthy = true, .failures = 2, .running_since_usec = T0 },
          T0 + 60 * S, false, HEALTH_VERDICT_RESTART, { .healthy = true, .failures = 3, .running_since_usec = T0 },
          5 * S },
        { "a pass resets the count", { .healthy = true, .failures = 2, .running_since_usec = T0 }, T0 + 60 * S, true,
          HEALTH_VERDICT_PASSED, { .healthy = true, .running_since_usec = T0 }, 5 * S },
        { "a clock before the start (never: paranoia) stays inside", { .running_since_usec = T0 }, T0 - 1, false,
          HEALTH_VERDICT_IGNORED, { .running_since_usec = T0 }, 1 * S },
};

static void test_case(const Case *c) {
        HealthState st = c->before;
        uint64_t next = 0;

        is_int(health_rule_step(&spec, &st, c->now, c->pass, &next), c->verdict, "%s: verdict", c->title);
        ok(st.healthy == c->after.healthy && st.failures == c->after.failures &&
           st.running_since_usec == c->after.running_since_usec, "%s: state after", c->title);
        ok(next == c->next, "%s: next check in %llu µs (want %llu)", c->title, (unsigned long long) next,
           (unsigned long long) c->next);
}

/* A container that takes longer to come up than retries × interval + timeout, then passes: never restarted. */
static void test_slow_start(void) {
        HealthState st = {};
        uint64_t now = T0 - 60 * S, next;
        unsigned restarts = 0;

        /* a minute before it runs (pulling, creating): checks fail every start interval */
        for (; now < T0; now += next)
                restarts += health_rule_step(&spec, &st, now, false, &next) == HEALTH_VERDICT_RESTART;
        st.running_since_usec = T0;
        /* running, listening only after 19 s */
        for (; now < T0 + 19 * S; now += next)
                restarts += health_rule_step(&spec, &st, now, false, &next) == HEALTH_VERDICT_RESTART;
        is_int(health_rule_step(&spec, &st, now, true, &next), HEALTH_VERDICT_PASSED, "slow start: passes at last");
        is_int(restarts, 0, "slow start: never restarted, though it failed for 79 s");
        is_int(st.failures, 0, "slow start: no failure counted");
}

/* A service that never passes: restarted after the start period and retries checks, not before. */
static void test_never_healthy(void) {
        HealthState st = { .running_since_usec = T0 };
        uint64_t now = T0, next;
        HealthVerdict v;

        while ((v = health_rule_step(&spec, &st, now, false, &next)) != HEALTH_VERDICT_RESTART)
                now += next;
        ok(now >= T0 + 20 * S + 2 * 5 * S, "never healthy: restarted at %llu s, after the start period and the retries",
           (unsigned long long) ((now - T0) / S));
        ok(now < T0 + 20 * S + 3 * 5 * S, "never healthy: and not later");
}

static void test_backoff(void) {
        is_int(health_restart_delay_ms(&spec, 1), 200, "backoff: the first restart waits delay_ms");
        is_int(health_restart_delay_ms(&spec, 2), 400, "backoff: then twice as long");
        is_int(health_restart_delay_ms(&spec, 3), 800, "backoff: and again");
        is_int(health_restart_delay_ms(&spec, 4), 1500, "backoff: at most max_delay_ms");
        is_int(health_restart_delay_ms(&spec, 1000), 1500, "backoff: however many (no overflow)");
        ServiceSpec zero = spec;
        zero.restart_delay_ms = 0;
        zero.restart_max_delay_ms = 0;
        is_int(health_restart_delay_ms(&zero, 1), 100, "backoff: delay 0 still waits the floor, never spins");
        is_int(health_restart_delay_ms(&zero, 5), 100, "backoff: max 0 caps at the floor");
}

int main(void) {
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                test_case(&cases[i]);
        test_slow_start();
        test_never_healthy();
        test_backoff();
        return tap_done();
}
