/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "shared/macro.h"
#include "supervisor/admission.h"

Resources capacity_of_spec(const ServiceSpec *s) {
        return (Resources) { .cpu_millis = s->cpu_millis, .memory = s->memory, .pids = s->pids };
}

const char *port_to_string(char *buf, size_t len, const ServicePort *p) {
        snprintf(buf, len, "%u/%s", p->host, p->udp ? "udp" : "tcp");
        return buf;
}

int admission_check(const ServiceSpec *want, const ServiceSpec *const *admitted, size_t n_admitted,
                    const Resources *allocatable, json_t **ret_error_params) {
        Resources committed = {}, need = capacity_of_spec(want), free_now;
        Shortfall sf;
        char buf[32];

        for (size_t i = 0; i < n_admitted; i++) {
                const ServiceSpec *other = admitted[i];
                Resources c;

                if (streq(other->name, want->name))
                        continue; /* its earlier version, which want replaces */
                c = capacity_of_spec(other);
                resources_add(&committed, &c);
                for (size_t a = 0; a < want->n_ports; a++)
                        for (size_t b = 0; b < other->n_ports; b++)
                                if (want->ports[a].host == other->ports[b].host &&
                                    want->ports[a].udp == other->ports[b].udp) {
                                        if (ret_error_params)
                                                *ret_error_params = json_pack(
                                                        "{s:s,s:s,s:s,s:s}", "name", want->name, "resource", "port",
                                                        "requested", port_to_string(buf, sizeof(buf), &want->ports[a]),
                                                        "held_by", other->name);
                                        return -EADDRINUSE;
                                }
        }
        if (!allocatable)
                return 0;
        free_now = resources_sub(allocatable, &committed);
        if (capacity_fits(&free_now, &need, &sf) < 0) {
                if (ret_error_params)
                        *ret_error_params = streq(sf.resource, "cpu")
                                ? json_pack("{s:s,s:s,s:f,s:f}", "name", want->name, "resource", "cpu", "requested",
                                            sf.requested / 1000.0, "free", sf.free / 1000.0)
                                : json_pack("{s:s,s:s,s:I,s:I}", "name", want->name, "resource", sf.resource,
                                            "requested", (json_int_t) sf.requested, "free", (json_int_t) sf.free);
                return -ENOSPC;
        }
        return 0;
}
