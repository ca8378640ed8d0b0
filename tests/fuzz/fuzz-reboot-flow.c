/* SPDX-License-Identifier: MIT */
/* The reboot flow's state file, state_dir/reboot.json (src/updates/flow.c: updates_reboot_flow_from_json()), read at
 * every start: a crash or the reboot itself may leave anything there. Invariants: a refusal says why; a state that
 * parses is a known state with sound fields, serialises (updates_reboot_flow_to_json(), what is written back)
 * and parses back to the same, and serialising is idempotent. */

#include <string.h>

#include "fuzz.h"
#include "shared/log.h"
#include "updates/flow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *error = NULL, *text = NULL, *text2 = NULL;
        RebootFlow f = {}, g = {};
        int r;

        log_set_max_level(LOG_CRIT);

        r = updates_reboot_flow_from_json((const char *) data, size, &f, &error);
        if (r < 0) {
                FUZZ_CHECK(r != -EINVAL || error);
                return 0;
        }
        FUZZ_CHECK(!error);
        FUZZ_CHECK(updates_reboot_state_to_string(f.state) != NULL);
        FUZZ_CHECK(updates_reboot_state_from_string(updates_reboot_state_to_string(f.state)) == f.state);
        FUZZ_CHECK(memchr(f.boot_id, 0, sizeof(f.boot_id)) != NULL);

        r = updates_reboot_flow_to_json(&f, &text);
        FUZZ_CHECK(r == 0 && text);
        r = updates_reboot_flow_from_json(text, strlen(text), &g, &error);
        FUZZ_CHECK(r == 0);
        FUZZ_CHECK(g.state == f.state && g.since_usec == f.since_usec && streq(g.boot_id, f.boot_id));
        FUZZ_CHECK(f.version && g.version ? streq(f.version, g.version) : f.version == g.version);
        r = updates_reboot_flow_to_json(&g, &text2);
        FUZZ_CHECK(r == 0 && streq(text, text2));

        /* whatever state was read, one step of the flow from it gives a known state */
        FUZZ_CHECK(updates_reboot_state_to_string(updates_reboot_next(f.state, &(RebootInputs) {})) != NULL);
        /* whatever state was read, an earlier yes never answers Zincati outside the window, and a reboot that did
         * not come in time always leads to releasing */
        {
                RebootInputs in = { .reboot_needed = true, .window = UPDATES_WINDOW_OUTSIDE, .lock_held = true,
                                    .drained = true, .clock_known = true, .reboot_started = true,
                                    .strategy = UPDATES_STRATEGY_FLEET_LOCK };
                RebootDecision d;

                updates_may_finalize(f.state, &in, &d);
                FUZZ_CHECK(!d.allow && d.reason);
                in.window = UPDATES_WINDOW_INSIDE;
                in.reboot_timed_out = true;
                FUZZ_CHECK(f.state != REBOOT_STATE_REBOOTING ||
                           updates_reboot_next(f.state, &in) == REBOOT_STATE_POST_REBOOT_UNLOCK);
        }
        updates_reboot_flow_done(&f);
        updates_reboot_flow_done(&g);
        return 0;
}
