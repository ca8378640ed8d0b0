/* SPDX-License-Identifier: MIT */
/* What several verbs print the same way. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl/ctl.h"
#include "shared/json-util.h"
#include "shared/macro.h"
#include "shared/parse-util.h"
#include "shared/time-util.h"

int print_json(json_t *v) {
        _cleanup_free_ char *s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(10));
        if (!s)
                return 1;
        puts(s);
        return 0;
}

const char *format_duration(char *buf, size_t len, uint64_t usec) {
        uint64_t s = usec / USEC_PER_SEC;

        if (s >= 86400)
                snprintf(buf, len, "%llud %lluh", (unsigned long long) (s / 86400), (unsigned long long) (s % 86400 / 3600));
        else if (s >= 3600)
                snprintf(buf, len, "%lluh %llumin", (unsigned long long) (s / 3600), (unsigned long long) (s % 3600 / 60));
        else if (s >= 60)
                snprintf(buf, len, "%llumin %llus", (unsigned long long) (s / 60), (unsigned long long) (s % 60));
        else
                snprintf(buf, len, "%llu.%03llus", (unsigned long long) s,
                         (unsigned long long) (usec % USEC_PER_SEC / 1000));
        return buf;
}

const char *format_timestamp(char *buf, size_t len, uint64_t usec) {
        time_t t = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;

        if (!usec || !gmtime_r(&t, &tm) || strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
                snprintf(buf, len, "n/a");
        return buf;
}

const char *fmt_resource(char *buf, size_t len, const char *resource, json_t *v) {
        if (!v)
                return "-";
        if (streq(resource, "cpu"))
                snprintf(buf, len, "%g", json_number_value(v));
        else if (streq(resource, "memory") || streq(resource, "disk"))
                format_size(buf, len, (uint64_t) json_integer_value(v));
        else
                snprintf(buf, len, "%lld", (long long) json_integer_value(v));
        return buf;
}

const char *json_str(json_t *o, const char *key) {
        return json_string_value(json_object_get(o, key));
}

/* "12s ago", "3min 4s ago"; "-" when then is not known, "now" when it is in the future (clocks differ) */
const char *age_of(char *buf, size_t len, uint64_t now, uint64_t then) {
        char d[64];

        if (then == 0)
                return "-";
        if (then >= now)
                return "now";
        /* to the second: the fraction says nothing about a node */
        snprintf(buf, len, "%s ago", format_duration(d, sizeof(d), (now - then) / USEC_PER_SEC * USEC_PER_SEC));
        return buf;
}

/* "NAME: restarted N times by its health check: REASON", when it was. */
void print_health_restarts(FILE *f, const char *name, json_t *status) {
        json_int_t n = json_integer_value(json_object_get(status, "health_restarts"));

        if (n <= 0)
                return;
        fprintf(f, "%s: restarted %lld time%s by its health check: %s\n", strna(name), (long long) n, n == 1 ? "" : "s",
                strna(json_string_value(json_object_get(status, "health_restart_reason"))));
}
