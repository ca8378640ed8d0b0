/* SPDX-License-Identifier: MIT */
#pragma once

/* Internal to the spec (spec.c): the keys of what a service is made from and given: pull, registry_auth_file,
 * env_files, secrets; and the image reference's digest. */

#include "shared/json-util.h"
#include "supervisor/spec.h"

int spec_dispatch_pull(const char *path, json_t *v, void *target, JsonError *e);
int spec_dispatch_host_file(const char *path, json_t *v, void *target, JsonError *e);
int spec_dispatch_env_files(const char *path, json_t *v, void *target, JsonError *e);
int spec_dispatch_secrets(const char *path, json_t *v, void *target, JsonError *e);

/* The checks that need the runtime and the image, after every key was read. */
int spec_sources_check(ServiceSpec *s, JsonError *e);
/* Adds the keys to the normalized JSON; false on allocation failure. */
bool spec_sources_to_json(const ServiceSpec *s, json_t *o);
void spec_sources_free(ServiceSpec *s);

/* spec.c's quoting of a value in an error message. */
const char *spec_quote(char *buf, size_t len, const char *s);
#define SPEC_Q(s) spec_quote((char[96]){}, 96, (s))
