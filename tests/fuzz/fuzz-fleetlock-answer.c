/* SPDX-License-Identifier: MIT */
/* What a FleetLock server answers ballast's client (src/updates/fleetlock.c: fleetlock_parse_answer()): the HTTP status
 * (from the first input byte) and the body (the rest), for either operation (the second byte). Invariants: 200
 * and only 200 is success; a refusal has a kind of the protocol's bounded alphabet (it becomes a status field
 * and a journal field); the message is always set, one line without control characters; an error document ballast
 * itself would send (updates_fleetlock_error_body()) is read back as the refusal it is. */

#include <string.h>

#include "updates/fleetlock.h"
#include "fuzz.h"
#include "shared/log.h"
#include "updates/fleetlock-wire.h"

static const long statuses[] = { 200, 409, 400, 403, 404, 423, 429, 500, 502, 503, 204, 302, 100, 600, 199, 0 };

static bool one_clean_line(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || *s == 0x7f)
                        return false;
        return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *kind = NULL, *message = NULL, *body = NULL, *kind2 = NULL, *message2 = NULL;
        FleetLockResult r;
        FleetLockOp op;
        long status;

        log_set_max_level(LOG_CRIT);
        if (size < 2)
                return 0;
        status = statuses[data[0] % ELEMENTSOF(statuses)];
        op = data[1] & 1 ? FLEETLOCK_STEADY_STATE : FLEETLOCK_PRE_REBOOT;

        r = fleetlock_parse_answer(op, status, (const char *) data + 2, size - 2, &kind, &message);
        FUZZ_CHECK(r >= 0 && r < _FLEETLOCK_RESULT_MAX && r != FLEETLOCK_UNREACHABLE);
        FUZZ_CHECK((r == FLEETLOCK_OK) == (status == 200));
        FUZZ_CHECK(message && one_clean_line(message));
        FUZZ_CHECK(fleetlock_result_to_reason(r) != NULL);
        if (r != FLEETLOCK_REFUSED) {
                FUZZ_CHECK(!kind);
                return 0;
        }
        FUZZ_CHECK(status >= 400 && status <= 599);
        FUZZ_CHECK(kind && *kind && strlen(kind) <= 64);
        FUZZ_CHECK(strspn(kind, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") == strlen(kind));

        /* the same kind in the document ballastd's own endpoint writes (when that alphabet allows it) */
        if (updates_fleetlock_error_body(kind, "again", &body) == 0) {
                r = fleetlock_parse_answer(op, status, body, strlen(body), &kind2, &message2);
                FUZZ_CHECK(r == FLEETLOCK_REFUSED && kind2 && streq(kind, kind2));
        }
        return 0;
}
