/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "updates/clock.h"

bool updates_clock_synced_from_timex(int adjtimex_return, const struct timex *t) {
        if (adjtimex_return < 0 || !t)
                return false;
        return t->maxerror >= 0 && t->maxerror < UPDATES_CLOCK_MAXERROR_LIMIT_US;
}

int updates_clock_read_kernel(void) {
        struct timex t;
        int r;

        memset(&t, 0, sizeof(t)); /* modes 0: read only */
        r = adjtimex(&t);
        if (r < 0)
                return -errno;
        return updates_clock_synced_from_timex(r, &t);
}
