/* SPDX-License-Identifier: MIT */
#pragma once

/* What units.c takes from units-security.c: the unit lines and body keys of the spec's storage, identity,
 * security and order keys. */

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "shared/json-util.h"
#include "supervisor/units.h"

/* [Unit] After=/Requires= of after and requires */
int unit_fput_order(FILE *f, const ServiceSpec *s);
/* [Service] lines of an exec service: User=, sandbox, mounts, capabilities, limits, KillSignal= */
int unit_fput_exec_security(FILE *f, const ServiceSpec *s);
/* TimeoutStopSec= */
uint64_t unit_stop_timeout_s(const ServiceSpec *s);
/* Config and HostConfig keys of a Docker service */
void container_body_add_security(json_t *body, json_t *host, const ServiceSpec *s, bool *failed);
