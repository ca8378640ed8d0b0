/* SPDX-License-Identifier: MIT */
#pragma once

/* The spec tests' helpers (tests/unit/spec-fixture.c), for test-spec, test-spec-security, test-spec-sources and
 * test-units. */

#include "supervisor/spec.h"

/* Fixtures live in the source tree; `make check` says where, a bare run finds them from this file's path. */
char *data_path(const char *name);
/* The tables write JSON with ' for " so that they stay readable. */
char *json_text(const char *s);
/* service_spec_parse() of a NUL-terminated text, without a file name */
int parse(const char *text, ServiceSpec **ret, char **ret_error);
/* A spec (JSON with ' for ") that must be refused: -EINVAL, exactly this message, and no spec. */
void check_refused(const char *json, const char *want_error);
