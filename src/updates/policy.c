/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "updates/policy.h"

int updates_policy_init(UpdatesPolicy *p) {
        *p = (UpdatesPolicy) {
                .strategy = strdup("fleet_lock"),
                .fleet_lock_group = strdup("default"),
                .time_zone = strdup("UTC"),
                .drain_timeout_s = 300,
                .reboot_timeout_s = 900,
        };
        return p->strategy && p->fleet_lock_group && p->time_zone ? 0 : -ENOMEM;
}

void updates_policy_done(UpdatesPolicy *p) {
        if (!p)
                return;
        free(p->channel);
        free(p->max_version);
        free(p->strategy);
        free(p->fleet_lock_url);
        free(p->fleet_lock_group);
        free(p->time_zone);
        free(p->windows);
        *p = (UpdatesPolicy) {};
}
