/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "shared/holder.h"

int holder_join_body(json_t *body, const char *holder_id, char **ret_mode) {
        json_t *hc;
        char *mode;

        if (!json_is_object(body) || !holder_id || !holder_id[0])
                return -EINVAL;
        if (asprintf(&mode, "container:%s", holder_id) < 0)
                return -ENOMEM;
        hc = json_object_get(body, "HostConfig");
        if (!hc) {
                hc = json_object();
                if (!hc || json_object_set_new(body, "HostConfig", hc) < 0) {
                        free(mode);
                        return -ENOMEM;
                }
        }
        (void) json_object_del(body, "ExposedPorts");
        (void) json_object_del(hc, "PortBindings");
        if (json_object_set_new(hc, "NetworkMode", json_string(mode)) < 0) {
                free(mode);
                return -ENOMEM;
        }
        if (ret_mode)
                *ret_mode = mode;
        else
                free(mode);
        return 0;
}
