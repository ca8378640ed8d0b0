/* SPDX-License-Identifier: MIT */
/* Admission: does a spec fit beside the services admitted already (their ports, and the node's allocatable
 * resources)? And what the table commits, for reports. */
#include <errno.h>
#include <string.h>

#include "shared/log.h"
#include "supervisor/supervisor-internal.h"

/* ---- admission ---- */

int supervisor_admit(const ServiceSpec *want, const ServiceSpec *const *others, size_t n_others,
                     const Resources *allocatable, json_t **ret_error_params) {
        Resources committed = {}, need = capacity_of_spec(want), free_now;
        Shortfall sf;
        char buf[32];

        for (size_t i = 0; i < n_others; i++) {
                Resources c = capacity_of_spec(others[i]);
                resources_add(&committed, &c);
                for (size_t a = 0; a < want->n_ports; a++)
                        for (size_t b = 0; b < others[i]->n_ports; b++)
                                if (want->ports[a].host == others[i]->ports[b].host &&
                                    want->ports[a].udp == others[i]->ports[b].udp) {
                                        if (ret_error_params)
                                                *ret_error_params = json_pack(
                                                        "{s:s,s:s,s:s,s:s}", "name", want->name, "resource", "port",
                                                        "requested", port_to_string(buf, sizeof(buf), &want->ports[a]),
                                                        "held_by", others[i]->name);
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

/* Admission of want against every other admitted service (except the one it replaces). */
int supervisor_check_admission(Supervisor *s, const ServiceSpec *want, const Service *replaces,
                                      bool present_only, json_t **ret_error_params) {
        _cleanup_free_ const ServiceSpec **others = calloc(s->n_services + 1, sizeof(ServiceSpec *));
        size_t n = 0;

        if (!others)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_services; i++)
                if (s->services[i] != replaces && s->services[i]->spec && (!present_only || s->services[i]->present))
                        others[n++] = s->services[i]->spec;
        return supervisor_admit(want, others, n, s->allocatable_known ? &s->allocatable : NULL, ret_error_params);
}

int supervisor_admit_among_present(Supervisor *s, const ServiceSpec *spec, Service *replaces) {
        _cleanup_json_ json_t *why = NULL;
        _cleanup_free_ char *text = NULL;
        int r = supervisor_check_admission(s, spec, replaces, true, &why);

        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                text = json_dumps(why, JSON_COMPACT);
                /* not admitted: neither started nor, if it runs from before, touched */
                log_event(LOG_ERR, 0, "admission-refused", spec->name, BALLAST_MESSAGE_ERROR,
                          "Not admitting %s: it does not fit: %s", spec->name, strna(text));
                size_t k = strv_length(s->protected_names);
                char **l = realloc(s->protected_names, (k + 2) * sizeof(char *));
                if (!l)
                        return -ENOMEM;
                s->protected_names = l;
                l[k] = strdup(spec->name);
                l[k + 1] = NULL;
                return r;
        }
        return 0;
}

void supervisor_set_allocatable(Supervisor *s, const Resources *allocatable) {
        s->allocatable = *allocatable;
        s->allocatable_known = true;
}

Resources supervisor_committed(Supervisor *s) {
        Resources c = {};

        for (size_t i = 0; i < s->n_services; i++) {
                Resources r = capacity_of_spec(s->services[i]->spec);
                resources_add(&c, &r);
        }
        return c;
}

json_t *supervisor_ports_json(Supervisor *s) {
        json_t *a = json_array();
        char buf[32];

        for (size_t i = 0; i < s->n_services; i++)
                for (size_t k = 0; k < s->services[i]->spec->n_ports; k++)
                        json_array_append_new(a, json_pack("{s:s,s:s}", "port",
                                                           port_to_string(buf, sizeof(buf), &s->services[i]->spec->ports[k]),
                                                           "service", s->services[i]->name));
        return a;
}

json_t *supervisor_commitments_json(Supervisor *s) {
        json_t *a = json_array();

        for (size_t i = 0; i < s->n_services; i++) {
                Resources r = capacity_of_spec(s->services[i]->spec);
                json_array_append_new(a, json_pack("{s:s,s:o,s:o*}", "name", s->services[i]->name, "requested",
                                                   resources_to_json(&r), "usage",
                                                   service_usage_json(s, s->services[i])));
        }
        return a;
}
