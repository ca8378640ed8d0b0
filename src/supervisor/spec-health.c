/* SPDX-License-Identifier: MIT */
/* The spec's "health" object, parsed and checked: exactly one of http (an http:// URL), tcp (a port) or cmd (an
 * argv), the interval, timeout and retries, and the start period and its interval, with the defaults that follow
 * from the other fields. Part of the spec parser (spec.c dispatches "health" here); what runs the checks is
 * health.c. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "shared/json-util.h"
#include "shared/macro.h"
#include "supervisor/spec-internal.h"
#include "supervisor/spec.h"

static int set_health_kind(const char *path, ServiceSpec *s, HealthKind kind, JsonError *e) {
        if (s->health != HEALTH_NONE && s->health != kind)
                return json_error_set(e, path, "only one of http, tcp or cmd may be given");
        s->health = kind;
        return 0;
}

static int dispatch_health_http(const char *path, json_t *v, void *target, JsonError *e) {
        ServiceSpec *s = target;
        const char *u = json_string_value(v);
        int r;

        if (!json_is_string(v))
                return json_error_set(e, path, "expected a string, got %s", json_type_name(v));
        if (!strneq(u, "http://", 7) || strlen(u) <= 7 || strlen(u) > HEALTH_URL_MAX || strpbrk(u, " \t\n") ||
            has_control_char(u))
                return json_error_set(e, path,
                                      "%s is not an http:// URL (at most 2048 bytes, no spaces or control characters)",
                                      Q(u));
        r = set_health_kind(path, s, HEALTH_HTTP, e);
        if (r < 0)
                return r;
        return json_dispatch_string(path, v, &s->health_http, e);
}

static int dispatch_health_tcp(const char *path, json_t *v, void *target, JsonError *e) {
        ServiceSpec *s = target;
        int r = dispatch_port_number(path, v, &s->health_tcp, e);
        if (r < 0)
                return r;
        return set_health_kind(path, s, HEALTH_TCP, e);
}

static int dispatch_health_cmd(const char *path, json_t *v, void *target, JsonError *e) {
        ServiceSpec *s = target;
        int r = dispatch_argv(path, v, &s->health_cmd, e);
        if (r < 0)
                return r;
        return set_health_kind(path, s, HEALTH_CMD, e);
}

static int dispatch_health_interval(const char *path, json_t *v, void *target, JsonError *e) {
        return dispatch_ranged(path, v, target, 100, 3600000, e);
}

static int dispatch_health_timeout(const char *path, json_t *v, void *target, JsonError *e) {
        return dispatch_ranged(path, v, target, 10, 3600000, e);
}

static int dispatch_health_retries(const char *path, json_t *v, void *target, JsonError *e) {
        uint64_t u = 0;
        int r = dispatch_ranged(path, v, &u, 1, 100, e);
        if (r < 0)
                return r;
        *(unsigned *) target = (unsigned) u;
        return 0;
}

static int dispatch_health_start_period(const char *path, json_t *v, void *target, JsonError *e) {
        return dispatch_ranged(path, v, target, 0, HEALTH_START_PERIOD_MAX_MS, e);
}

static int dispatch_health_start_interval(const char *path, json_t *v, void *target, JsonError *e) {
        return dispatch_ranged(path, v, target, 100, 3600000, e);
}

/* The start period's defaults follow the other fields (see DEFAULT_HEALTH_START_PERIOD_MIN_MS); a start
 * interval given longer than the interval is refused: the start period is for checking more often. */
static int health_start_defaults(const char *path, json_t *v, ServiceSpec *s, JsonError *e) {
        char sub[256];

        if (!json_object_get(v, "start_period_ms"))
                s->health_start_period_ms = MIN(MAX(s->health_retries * s->health_interval_ms + s->health_timeout_ms,
                                                    (uint64_t) DEFAULT_HEALTH_START_PERIOD_MIN_MS),
                                                (uint64_t) HEALTH_START_PERIOD_MAX_MS);
        if (!json_object_get(v, "start_interval_ms"))
                s->health_start_interval_ms = MIN(s->health_interval_ms, (uint64_t) DEFAULT_HEALTH_START_INTERVAL_MS);
        else if (s->health_start_interval_ms > s->health_interval_ms)
                return json_error_set(e, json_path_key(sub, sizeof(sub), path, "start_interval_ms"),
                                      "%llu is more than interval_ms (%llu)",
                                      (unsigned long long) s->health_start_interval_ms,
                                      (unsigned long long) s->health_interval_ms);
        return 0;
}

int dispatch_health(const char *path, json_t *v, void *target, JsonError *e) {
        static const JsonField table[] = {
                { "http", dispatch_health_http, 0, 0 },
                { "tcp", dispatch_health_tcp, 0, 0 },
                { "cmd", dispatch_health_cmd, 0, 0 },
                { "interval_ms", dispatch_health_interval, offsetof(ServiceSpec, health_interval_ms), 0 },
                { "timeout_ms", dispatch_health_timeout, offsetof(ServiceSpec, health_timeout_ms), 0 },
                { "retries", dispatch_health_retries, offsetof(ServiceSpec, health_retries), 0 },
                { "start_period_ms", dispatch_health_start_period, offsetof(ServiceSpec, health_start_period_ms), 0 },
                { "start_interval_ms", dispatch_health_start_interval, offsetof(ServiceSpec, health_start_interval_ms),
                  0 },
                {}
        };
        ServiceSpec *s = target;
        char sub[256];
        int r;

        r = json_dispatch(path, v, table, s, e);
        if (r < 0)
                return r;
        if (s->health == HEALTH_NONE)
                return json_error_set(e, path, "needs one of http, tcp or cmd");
        /* as for restart: a short interval without a timeout of its own shortens the default timeout */
        if (!json_object_get(v, "timeout_ms"))
                s->health_timeout_ms = MIN(s->health_timeout_ms, s->health_interval_ms);
        else if (s->health_timeout_ms > s->health_interval_ms)
                return json_error_set(e, json_path_key(sub, sizeof(sub), path, "timeout_ms"),
                                      "%llu is more than interval_ms (%llu)",
                                      (unsigned long long) s->health_timeout_ms,
                                      (unsigned long long) s->health_interval_ms);
        return health_start_defaults(path, v, s, e);
}
