/* SPDX-License-Identifier: MIT */
#pragma once

/* The unit tests' shared context and spec files (tests/unit/units-fixture.c), for test-units and
 * test-units-container. */

#include "supervisor/spec.h"
#include "supervisor/units.h"

/* the paths a unit and a container body are made with */
extern const UnitContext test_ctx;

/* a file of tests/data/specs/ as text, or NULL */
char *read_data(const char *name);
/* a spec of tests/data/specs/, loaded, or NULL (the error as a diagnostic) */
ServiceSpec *load_data(const char *name);
