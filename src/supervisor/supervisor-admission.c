/* SPDX-License-Identifier: MIT */
/* Admission against the service table (the rules are admission.c's), and what the table commits, for
 * reports. */
#include <errno.h>
#include <string.h>

#include "shared/log.h"
#include "supervisor/admission.h"
#include "supervisor/supervisor-internal.h"

/* ---- admission ---- */

/* Admission of want against every admitted service (the one of its name, which it replaces, does not count). */
int supervisor_check_admission(Supervisor *s, const ServiceSpec *want, bool present_only, json_t **ret_error_params) {
        _cleanup_free_ const ServiceSpec **admitted = calloc(s->n_services + 1, sizeof(ServiceSpec *));
        size_t n = 0;

        if (!admitted)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_services; i++)
                if (s->services[i]->spec && (!present_only || s->services[i]->present))
                        admitted[n++] = s->services[i]->spec;
        return admission_check(want, admitted, n, s->allocatable_known ? &s->allocatable : NULL, ret_error_params);
}

int supervisor_admit_among_present(Supervisor *s, const ServiceSpec *spec) {
        _cleanup_json_ json_t *why = NULL;
        _cleanup_free_ char *text = NULL;
        int r = supervisor_check_admission(s, spec, true, &why);

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

/* ---- order: after/requires must not close a cycle ---- */

typedef struct OrderLookup {
        Supervisor *supervisor;
        bool present_only;
} OrderLookup;

static const ServiceSpec *order_lookup(const char *name, void *userdata) {
        OrderLookup *l = userdata;
        Service *svc = supervisor_find(l->supervisor, name);

        return svc && svc->spec && (!l->present_only || svc->present) ? svc->spec : NULL;
}

int supervisor_check_order(Supervisor *s, const ServiceSpec *want, bool present_only, char **ret_cycle) {
        OrderLookup l = { .supervisor = s, .present_only = present_only };

        return service_order_find_cycle(want, order_lookup, &l, ret_cycle);
}
