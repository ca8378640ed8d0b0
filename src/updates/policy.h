/* SPDX-License-Identifier: MIT */
#pragma once

/* The update policy: what ballast.json's "updates" block says (daemon/config.c parses it, with the rules of
 * windows.h, os.h and fleetlock-wire.h), and what the updater takes. A plain struct, so that src/updates needs
 * nothing of the daemon's configuration. */

#include <stdbool.h>
#include <stddef.h>

#include "updates/windows.h"

typedef struct UpdatesPolicy {
        bool managed;           /* an "updates" object was given */
        char *channel;
        char *max_version;
        char *strategy;         /* "fleet_lock", "periodic" or "off" (updates_strategy_from_string()) */
        char *fleet_lock_url;
        char *fleet_lock_group;
        char *time_zone;
        MaintenanceWindow *windows;
        size_t n_windows;
        unsigned drain_timeout_s;
        unsigned reboot_timeout_s; /* drained and told to reboot, the reboot has not come: undrain, release */
} UpdatesPolicy;

/* The defaults (no "updates" block): not managed, fleet_lock, group "default", UTC, a 300 s drain timeout.
 * -ENOMEM leaves what was allocated for updates_policy_done(). */
int updates_policy_init(UpdatesPolicy *p);
void updates_policy_done(UpdatesPolicy *p);
