/* SPDX-License-Identifier: MIT */
#pragma once

/* The gate: may this node reboot now, and if not, why. A pure function of its inputs, which deny with a reason
 * code whenever any of them is unknown. */

#include <errno.h>
#include <stdbool.h>

#include "updates/windows.h"

/* ---- the gate ---- */

typedef enum UpdatesStrategy {
        UPDATES_STRATEGY_OFF,        /* never reboot (updates may still be downloaded) */
        UPDATES_STRATEGY_PERIODIC,   /* reboot inside a window, no cluster lock; needs at least one window */
        UPDATES_STRATEGY_FLEET_LOCK, /* reboot holding the FleetLock; inside a window if any are configured */
        _UPDATES_STRATEGY_MAX,
        _UPDATES_STRATEGY_INVALID = -EINVAL,
} UpdatesStrategy;

UpdatesStrategy updates_strategy_from_string(const char *s); /* the config's "off", "periodic", "fleet_lock" */
const char *updates_strategy_to_string(UpdatesStrategy s);

typedef struct RebootInputs {
        bool reboot_needed;        /* update_engine said UPDATED_NEED_REBOOT, or Zincati asked pre-reboot */
        UpdatesWindowState window; /* from updates_in_window(); UNKNOWN when it failed */
        bool lock_held;            /* our FleetLock pre-reboot succeeded */
        bool drained;              /* the node's services are drained */
        bool paused;               /* ballastctl update pause */
        bool clock_known;          /* the clock is synchronized (the daemon decides how it knows) */
        bool config_error;         /* the updates configuration or an owned file could not be read */
        UpdatesStrategy strategy;
        const char *max_version;   /* NULL: no limit */
        const char *new_version;   /* the version the reboot boots into; NULL: unknown */
        /* Fedora CoreOS: the stream the node is pinned to (NULL: the daemon does not check streams) and the stream
         * of the deployment the reboot boots into (NULL: unknown). Flatcar's channel is update_engine's GROUP,
         * which ballast writes itself: there the daemon leaves both NULL. */
        const char *stream;
        const char *new_stream;

        /* only updates_reboot_next() reads these */
        bool new_boot;             /* the boot ID differs from the one saved with the flow state */
        bool reboot_started;       /* logind accepted the reboot (or Zincati was told 200): no way back */
        bool unlocked;             /* steady-state succeeded, or there is no FleetLock server to tell */
        bool reboot_timed_out;     /* in rebooting for longer than reboot_timeout_s: the reboot is not coming */
} RebootInputs;

typedef struct RebootDecision {
        bool allow;
        /* A bounded set of codes, also usable as a metric label or a FleetLock error kind suffix: "ok",
         * "config-error", "not-needed", "strategy-off", "paused", "clock-unknown", "stream-unknown",
         * "stream-mismatch", "version-unknown", "version-above-max", "window-unknown", "no-windows",
         * "outside-window", "no-lock", "not-drained". */
        const char *reason;
        const char *message;       /* one sentence for the journal and `ballastctl update status` */
} RebootDecision;

/* May the node reboot now? Every condition, in this order (the first that fails is the reason): the config
 * is sound, a reboot is needed, the strategy is not off, not paused, the clock is known, the new deployment's
 * stream is known and the pinned one (when the daemon checks streams), the new version is known and not above
 * max_version (when one is set), inside a window (or none configured with fleet_lock),
 * the lock held (fleet_lock), drained. Static strings in *ret; never fails. */
void updates_may_reboot(const RebootInputs *in, RebootDecision *ret);
/* The same without the lock and the drain: may the node start the way to a reboot (take the lock, drain)? */
void updates_may_start(const RebootInputs *in, RebootDecision *ret);
