/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stddef.h>

#include "shared/macro.h"
#include "updates/gate.h"
#include "updates/os.h"

/* ---- the gate ---- */

static const char *const strategy_names[_UPDATES_STRATEGY_MAX] = {
        [UPDATES_STRATEGY_OFF] = "off",
        [UPDATES_STRATEGY_PERIODIC] = "periodic",
        [UPDATES_STRATEGY_FLEET_LOCK] = "fleet_lock",
};

UpdatesStrategy updates_strategy_from_string(const char *s) {
        for (size_t i = 0; s && i < ELEMENTSOF(strategy_names); i++)
                if (streq(s, strategy_names[i]))
                        return (UpdatesStrategy) i;
        return _UPDATES_STRATEGY_INVALID;
}

const char *updates_strategy_to_string(UpdatesStrategy s) {
        return s >= 0 && s < _UPDATES_STRATEGY_MAX ? strategy_names[s] : NULL;
}

static void decide(const RebootInputs *in, bool final, RebootDecision *ret) {
#define DENY(code, sentence)                                                                   \
        do {                                                                                   \
                *ret = (RebootDecision) { .allow = false, .reason = code, .message = sentence }; \
                return;                                                                        \
        } while (0)

        if (!in || in->config_error || in->strategy < 0 || in->strategy >= _UPDATES_STRATEGY_MAX)
                DENY("config-error",
                     "The update configuration or a file ballast owns could not be read; on doubt, no reboot.");
        if (!in->reboot_needed)
                DENY("not-needed", "No reboot is needed.");
        if (in->strategy == UPDATES_STRATEGY_OFF)
                DENY("strategy-off", "The reboot strategy is \"off\": ballast does not reboot this node.");
        if (in->paused)
                DENY("paused", "Updates are paused (ballastctl update resume).");
        if (!in->clock_known)
                DENY("clock-unknown", "The system clock is not known to be right, so no window can be trusted.");
        if (in->stream) {
                if (!in->new_stream)
                        DENY("stream-unknown",
                             "The node is pinned to a stream, but the stream of the deployment the reboot would boot into is unknown.");
                if (!streq(in->stream, in->new_stream))
                        DENY("stream-mismatch",
                             "The deployment the reboot would boot into leaves the stream the node is pinned to.");
        }
        if (in->max_version) {
                int c;
                if (!in->new_version)
                        DENY("version-unknown",
                             "A highest version is set, but the version the reboot would boot into is unknown.");
                if (updates_version_compare(in->new_version, in->max_version, &c) < 0)
                        DENY("version-unknown",
                             "A highest version is set, but it cannot be compared with the new version.");
                if (c > 0)
                        DENY("version-above-max", "The new version is above the highest version allowed.");
        }
        switch (in->window) {
        case UPDATES_WINDOW_INSIDE:
                break;
        case UPDATES_WINDOW_NONE:
                if (in->strategy == UPDATES_STRATEGY_PERIODIC)
                        DENY("no-windows", "The periodic strategy needs at least one maintenance window.");
                break;
        case UPDATES_WINDOW_OUTSIDE:
                DENY("outside-window", "Outside every maintenance window.");
        default:
                DENY("window-unknown",
                     "Whether this is inside a maintenance window cannot be computed (time zone or windows).");
        }
        if (final) {
                if (in->strategy == UPDATES_STRATEGY_FLEET_LOCK && !in->lock_held)
                        DENY("no-lock", "The cluster reboot lock (FleetLock) is not held.");
                if (!in->drained)
                        DENY("not-drained", "The node's services are not drained yet.");
        }
        *ret = (RebootDecision) { .allow = true, .reason = "ok", .message = "A reboot is allowed now." };
#undef DENY
}

void updates_may_reboot(const RebootInputs *in, RebootDecision *ret) {
        decide(in, true, ret);
}

void updates_may_start(const RebootInputs *in, RebootDecision *ret) {
        decide(in, false, ret);
}
