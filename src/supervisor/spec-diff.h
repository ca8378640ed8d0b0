/* SPDX-License-Identifier: MIT */
#pragma once

/* What an apply of a spec would change, before it is done (apply --dry-run, ballastctl diff): the spec's fields,
 * the unit's lines, the container's settings, and whether the running service restarts. Pure functions of two
 * specs and what they turn into (units.h); the supervisor decides with the same rule when it applies. */

#include <jansson.h>
#include <stdbool.h>

#include "supervisor/spec.h"

typedef enum SpecChange {
        SPEC_CHANGE_CREATE,  /* a new service */
        SPEC_CHANGE_NONE,    /* the same spec: nothing happens */
        SPEC_CHANGE_RESIZE,  /* only "resources": applied to the running service, no restart */
        SPEC_CHANGE_RESTART, /* anything else: the service is restarted with the new spec */
} SpecChange;

const char *spec_change_to_string(SpecChange c); /* "create", "none", "resize", "restart" */

/* Equal but for "resources"? Then a change can be applied to the running workload. */
bool specs_differ_only_in_resources(const ServiceSpec *a, const ServiceSpec *b);
SpecChange spec_change(const ServiceSpec *have, const ServiceSpec *want); /* have NULL: a new service */

/* {"name", "change": spec_change_to_string, "restarts": bool, "fields": [top-level keys of the normalized spec
 * that differ], "unit": {"removed": [lines], "added": [lines]}, "container": [keys of the create body that
 * differ, "HostConfig.X" one level down]}. have, have_unit and the bodies may be NULL (a new service; an exec
 * service has no body). */
json_t *spec_diff_json(const ServiceSpec *have, const ServiceSpec *want, const char *have_unit, const char *want_unit,
                       json_t *have_body, json_t *want_body);
