/* SPDX-License-Identifier: MIT */
#pragma once

/* The reboot flow: its states, what is persisted of it, and its transitions. Pure; the updater acts on entering
 * each state. */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "updates/gate.h"

/* ---- the reboot flow ---- */

typedef enum RebootState {
        REBOOT_STATE_IDLE,               /* nothing to do */
        REBOOT_STATE_NEEDED,             /* a reboot is needed; policy does not allow starting (reason shown) */
        REBOOT_STATE_WAITING_WINDOW,     /* everything allows it but the window */
        REBOOT_STATE_LOCKING,            /* asking the FleetLock server for a slot */
        REBOOT_STATE_DRAINING,           /* lock held (or none needed): draining the node's services */
        REBOOT_STATE_REBOOTING,          /* drained, allowed: reboot asked for */
        REBOOT_STATE_POST_REBOOT_UNLOCK, /* after the reboot, or after an aborted attempt: undrain, unlock */
        _REBOOT_STATE_MAX,
        _REBOOT_STATE_INVALID = -EINVAL,
} RebootState;

const char *updates_reboot_state_to_string(RebootState s); /* "idle", "waiting-window", "post-reboot-unlock", … */
RebootState updates_reboot_state_from_string(const char *s);

/* What is persisted (state_dir/reboot.json) so that a crash or the reboot itself resumes the flow. */
typedef struct RebootFlow {
        RebootState state;
        char *version;      /* the version being rebooted into, NULL when unknown */
        uint64_t since_usec; /* CLOCK_REALTIME when the state was entered */
        char boot_id[33];   /* the boot the state was entered in ("" when unknown): a different one means a
                             * reboot happened since */
} RebootFlow;

void updates_reboot_flow_done(RebootFlow *f);
/* {"state":"draining","version":"3815.2.0","since_usec":1700000000000000,"boot_id":"…"}; version null when
 * unknown, boot_id left out when unknown. */
int updates_reboot_flow_to_json(const RebootFlow *f, char **ret);
/* The reverse; unknown keys, an unknown state, a bad version or boot_id: -EINVAL. */
int updates_reboot_flow_from_json(const char *text, size_t n, RebootFlow *ret, char **ret_error);

/* One step of the flow; the daemon acts on entering a state (LOCKING: pre-reboot; DRAINING: drain and take a
 * delay inhibitor; REBOOTING: reboot through logind, or answer Zincati 200; POST_REBOOT_UNLOCK: undrain,
 * steady-state) and calls again when an input changes, until the state stays the same.
 *   IDLE → NEEDED when a reboot is needed.
 *   NEEDED, WAITING_WINDOW → IDLE when not needed any more; → LOCKING (fleet_lock) or DRAINING (periodic)
 *     when updates_may_start() allows; else WAITING_WINDOW when only the window is missing, else NEEDED.
 *   LOCKING → DRAINING when the lock is held (or the strategy needs none).
 *   DRAINING → REBOOTING when updates_may_reboot() allows.
 *   REBOOTING → POST_REBOOT_UNLOCK on a new boot, or when the reboot did not come within the bound
 *     (reboot_timed_out), even after it was started.
 *   LOCKING, DRAINING, REBOOTING (before the reboot started) → POST_REBOOT_UNLOCK when updates_may_start()
 *     stops allowing (window closed, paused, not needed any more…), since the lock may be held: abort and
 *     release. LOCKING and DRAINING also on a new boot (an unexpected reboot) and DRAINING when the lock is
 *     not held.
 *   POST_REBOOT_UNLOCK → IDLE when unlocked and no longer drained.
 * An invalid state gives POST_REBOOT_UNLOCK: releasing is always safe. */
RebootState updates_reboot_next(RebootState state, const RebootInputs *in);
/* The answer to Zincati's pre-reboot: yes only in REBOOTING, and only when updates_may_reboot() allows now
 * (window, pause, policy, lock, drain). An earlier yes counts for nothing: asked again, the reboot has not
 * started. When the gate allows but the flow is not there yet, the reason is the flow's state. */
void updates_may_finalize(RebootState state, const RebootInputs *in, RebootDecision *ret);
