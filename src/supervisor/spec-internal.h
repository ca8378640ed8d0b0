/* SPDX-License-Identifier: MIT */
#pragma once

/* What the files of the spec parser share (spec.c, spec-health.c, spec-security.c, spec-order.c) and nobody else
 * uses. */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "shared/json-util.h"
#include "supervisor/spec.h"

/* the start period, unless given: retries × interval + timeout (the time a healthy service's first checks take to
 * give up), at least this long, so that a slow host's slow start is not a failure */
#define DEFAULT_HEALTH_START_PERIOD_MIN_MS 10000U
#define DEFAULT_HEALTH_START_INTERVAL_MS 1000U
#define HEALTH_START_PERIOD_MAX_MS 3600000U
#define HEALTH_URL_MAX 2048U

/* A string as it may appear in an error message: JSON-quoted and cut short. */
#define QUOTE_MAX 96
const char *spec_quote(char *buf, size_t len, const char *s);
#define Q(s) spec_quote((char[QUOTE_MAX]){}, QUOTE_MAX, (s))

bool has_control_char(const char *s);
/* bounded, and no control characters but tab and newline */
int check_text(const char *path, const char *s, size_t max, JsonError *e);
int dispatch_ranged(const char *path, json_t *v, uint64_t *target, uint64_t min, uint64_t max, JsonError *e);
/* a non-empty array of bounded strings without control characters (char ***) */
int dispatch_argv(const char *path, json_t *v, void *target, JsonError *e);
/* a port number, 1-65535 (uint16_t *) */
int dispatch_port_number(const char *path, json_t *v, void *target, JsonError *e);
/* the "health" object (spec-health.c; target: the ServiceSpec) */
int dispatch_health(const char *path, json_t *v, void *target, JsonError *e);
/* a size with a unit, "256M" (uint64_t *) */
int dispatch_memory(const char *path, json_t *v, void *target, JsonError *e);
const char *format_memory(char *buf, size_t len, uint64_t bytes);
json_t *strv_to_json(char *const *l);
/* json_object_set_new() that remembers a failure */
void spec_set(json_t *o, const char *key, json_t *v, bool *failed);

/* spec-security.c: the top-level keys of storage, identity and security, for spec.c's table */
int dispatch_mounts(const char *path, json_t *v, void *target, JsonError *e);
int dispatch_user(const char *path, json_t *v, void *target, JsonError *e);
int dispatch_container_path(const char *path, json_t *v, void *target, JsonError *e);
int dispatch_caps(const char *path, json_t *v, void *target, JsonError *e);
int dispatch_tristate(const char *path, json_t *v, void *target, JsonError *e);
int dispatch_devices(const char *path, json_t *v, void *target, JsonError *e);
int dispatch_ulimits(const char *path, json_t *v, void *target, JsonError *e);
int dispatch_stop_signal(const char *path, json_t *v, void *target, JsonError *e);
int dispatch_stop_timeout(const char *path, json_t *v, void *target, JsonError *e);
int dispatch_host_ip(const char *path, json_t *v, void *target, JsonError *e);
/* the checks that need the runtime, and the defaults that depend on it */
int spec_security_check_runtime(ServiceSpec *s, JsonError *e);
void spec_security_init(ServiceSpec *s);
void spec_security_free(ServiceSpec *s);
/* adds the keys of this part to the normalized JSON o */
void spec_security_to_json(const ServiceSpec *s, json_t *o, bool *failed);

/* spec-order.c */
int dispatch_service_names(const char *path, json_t *v, void *target, JsonError *e);
int spec_order_check(const ServiceSpec *s, JsonError *e);
void spec_order_to_json(const ServiceSpec *s, json_t *o, bool *failed);
