/* SPDX-License-Identifier: MIT */
#pragma once

/* Admission, pure: does a service's spec fit on the node beside the specs admitted already? A function of its
 * inputs only (no service table, no I/O), so that its rules are tested with table literals
 * (tests/unit/test-admission.c). The supervisor asks it before it writes anything for a spec, at a load and at an
 * Apply (supervisor-admission.c): a spec that does not fit is neither started nor, if it runs from before,
 * touched. */

#include <jansson.h>
#include <stddef.h>

#include "resources/capacity.h"
#include "supervisor/spec.h"

/* The commitment of one spec (what admission counts against the node's free resources). */
Resources capacity_of_spec(const ServiceSpec *s);
/* "10090/tcp" for messages and reports. */
const char *port_to_string(char *buf, size_t len, const ServicePort *p);

/* 0 when want fits beside admitted[] within allocatable. allocatable NULL (not known yet): only ports are
 * checked. A spec in admitted[] of want's own name is the one want replaces: its ports and resources are not
 * counted against want.
 *
 * -EADDRINUSE when an admitted spec holds one of want's host ports (the same number and protocol): the first such
 * port is reported as {"name", "resource": "port", "requested": "80/tcp", "held_by": "other"}.
 * -ENOSPC when a resource is short (what is free is allocatable less the admitted commitments; exactly all of it
 * fits): the first one, in the order cpu, memory, pids, as {"name", "resource", "requested", "free"}, cpu in
 * cores (0.5), memory in bytes. ret_error_params may be NULL. */
int admission_check(const ServiceSpec *want, const ServiceSpec *const *admitted, size_t n_admitted,
                    const Resources *allocatable, json_t **ret_error_params);
