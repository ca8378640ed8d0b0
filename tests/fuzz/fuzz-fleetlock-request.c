/* SPDX-License-Identifier: MIT */
/* What a FleetLock client (Zincati) posts to ballastd's endpoint (src/updates/fleetlock-wire.c:
 * updates_fleetlock_parse_request()). Invariants: a refusal says why; an accepted request has an id and a group
 * that pass the protocol's checks, and the body ballast itself would send for them
 * (updates_fleetlock_request_body()) parses back to the same id and group. */

#include <string.h>

#include "fuzz.h"
#include "shared/log.h"
#include "updates/fleetlock-wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *id = NULL, *group = NULL, *error = NULL, *body = NULL, *id2 = NULL, *group2 = NULL;
        int r;

        log_set_max_level(LOG_CRIT);

        r = updates_fleetlock_parse_request((const char *) data, size, &id, &group, &error);
        if (r < 0) {
                FUZZ_CHECK(r != -EINVAL || error);
                FUZZ_CHECK(!id && !group);
                return 0;
        }
        FUZZ_CHECK(!error && id && group);
        FUZZ_CHECK(updates_fleetlock_id_valid(id) && updates_fleetlock_group_valid(group));

        r = updates_fleetlock_request_body(id, group, &body);
        FUZZ_CHECK(r == 0 && body);
        r = updates_fleetlock_parse_request(body, strlen(body), &id2, &group2, &error);
        FUZZ_CHECK(r == 0);
        FUZZ_CHECK(streq(id, id2) && streq(group, group2));
        return 0;
}
