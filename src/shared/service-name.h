/* SPDX-License-Identifier: MIT */
#pragma once

/* The one rule for a service's name, which every program checks the same way: it becomes part of unit, container,
 * cgroup and file names (ballast-NAME.service, ballast-NAME, services.d/NAME.json), so it is short, lowercase and
 * safe in all of them. */

#include <stdbool.h>

#define SERVICE_NAME_MAX 63
/* the rule in words, for messages and --help */
#define SERVICE_NAME_RULE "[a-z0-9][a-z0-9-]{0,62}"

/* Whether name matches SERVICE_NAME_RULE; NULL does not. */
bool service_name_is_valid(const char *name);
