/* SPDX-License-Identifier: MIT */
/* src/daemon/shutdown: the budget ballast gives itself out of logind's InhibitDelayMaxUSec (always less than
 * logind's own limit, so that ballast releases before logind gives up on it), and the report's "shutdown" field
 * of a node that holds no guard. The guard itself runs against the real logind in the VM tier
 * (tests/vm/vm-shutdown.sh). */

#include <inttypes.h>

#include "daemon/shutdown.h"
#include "shared/time-util.h"
#include "tap.h"

int main(void) {
        json_t *j;

        /* logind's default, 5 s: one second of margin */
        ok(shutdown_budget_usec(5 * USEC_PER_SEC) == 4 * USEC_PER_SEC, "5 s of InhibitDelayMaxSec: 4 s to stop the services");
        ok(shutdown_budget_usec(30 * USEC_PER_SEC) == 29 * USEC_PER_SEC, "30 s: 29 s");
        ok(shutdown_budget_usec(2 * USEC_PER_SEC) == USEC_PER_SEC, "2 s: 1 s");
        /* short delays: a fifth of the time is the margin */
        ok(shutdown_budget_usec(USEC_PER_SEC) == 800 * USEC_PER_MSEC, "1 s: 800 ms");
        ok(shutdown_budget_usec(0) == 0, "0: nothing to wait for");
        for (uint64_t max = 0; max < 10 * USEC_PER_SEC; max += 77777)
                if (max > 0 && shutdown_budget_usec(max) >= max) {
                        ok(false, "the budget is below logind's limit for %" PRIu64 " us", max);
                        goto done;
                }
        ok(true, "the budget is always below logind's limit (0-10 s)");
done:
        j = shutdown_guard_json(NULL);
        ok(j && json_is_false(json_object_get(j, "shutting_down")) && json_is_false(json_object_get(j, "inhibitor")) &&
           json_integer_value(json_object_get(j, "since_usec")) == 0 &&
           json_integer_value(json_object_get(j, "budget_usec")) == 4000000,
           "without a guard the report says: not shutting down, no inhibitor, the default budget");
        json_decref(j);
        return tap_done();
}
