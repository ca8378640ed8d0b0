/* SPDX-License-Identifier: MIT */
/* The cluster's fragmentation, from the nodes' status documents: per resource, what is free in total beside the
 * largest service that fits on one node. The sum can look fine while no single node has room for a service of a
 * given size; the second figure says so. Pure: tests/unit/test-ctl drives it with literals. */
#include <errno.h>

#include "ctl/ctl.h"
#include "shared/macro.h"

const char *const fleet_resources[3] = { "cpu", "memory", "pids" };

/* A node that is draining takes no service: its room counts for nothing. */
static bool node_places(json_t *doc) {
        return json_is_object(doc) && !json_is_true(json_object_get(json_object_get(doc, "drain"), "draining"));
}

int fleet_fragmentation(json_t *nodes, FleetFragmentation *ret) {
        FleetFragmentation f = {};
        json_t *n;
        size_t i;

        if (!json_is_array(nodes) || !ret)
                return -EINVAL;
        json_array_foreach(nodes, i, n) {
                json_t *doc = json_object_get(n, "document"), *free_, *fit;

                f.nodes++;
                if (!json_is_object(doc))
                        continue;
                f.reporting++;
                if (!node_places(doc))
                        continue;
                free_ = json_object_get(doc, "free");
                /* documents of schema 1 have largest_fit; without it, a node's free room is its largest fit */
                fit = json_object_get(doc, "largest_fit") ?: free_;
                for (size_t k = 0; k < ELEMENTSOF(fleet_resources); k++) {
                        json_t *a = json_object_get(free_, fleet_resources[k]), *b = json_object_get(fit, fleet_resources[k]);
                        double v;

                        if (json_is_number(a) && json_number_value(a) > 0)
                                f.free_total[k] += json_number_value(a);
                        if (!json_is_number(b))
                                continue;
                        v = json_number_value(b) > 0 ? json_number_value(b) : 0;
                        if (!f.largest_node[k] || v > f.largest_fit[k]) {
                                f.largest_fit[k] = v;
                                f.largest_node[k] = json_string_value(json_object_get(n, "node"));
                        }
                }
        }
        *ret = f;
        return 0;
}

json_t *fleet_fragmentation_json(const FleetFragmentation *f) {
        json_t *total = json_object(), *fit = json_object(), *on = json_object();

        for (size_t k = 0; k < ELEMENTSOF(fleet_resources); k++) {
                /* memory and pids are counts; cpu is CPUs */
                json_t *t = k == 0 ? json_real(f->free_total[k]) : json_integer((json_int_t) f->free_total[k]);
                json_t *l = !f->largest_node[k] ? json_null()
                            : k == 0            ? json_real(f->largest_fit[k])
                                                : json_integer((json_int_t) f->largest_fit[k]);
                json_object_set_new(total, fleet_resources[k], t);
                json_object_set_new(fit, fleet_resources[k], l);
                json_object_set_new(on, fleet_resources[k], f->largest_node[k] ? json_string(f->largest_node[k]) : json_null());
        }
        return json_pack("{s:o,s:o,s:o,s:I,s:I}", "free_total", total, "largest_fit", fit, "largest_fit_node", on,
                         "nodes", (json_int_t) f->nodes, "reporting", (json_int_t) f->reporting);
}
