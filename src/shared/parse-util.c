/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/macro.h"
#include "shared/parse-util.h"

int safe_atou64(const char *s, uint64_t *ret) {
        unsigned long long v;
        char *end;

        if (isempty(s) || !isdigit((unsigned char) s[0]))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (*end)
                return -EINVAL;
        *ret = v;
        return 0;
}

int safe_atou(const char *s, unsigned *ret) {
        uint64_t v;
        int r = safe_atou64(s, &v);
        if (r < 0)
                return r;
        if (v > UINT_MAX)
                return -ERANGE;
        *ret = (unsigned) v;
        return 0;
}

int safe_atoi(const char *s, int *ret) {
        long v;
        char *end;

        if (isempty(s) || isspace((unsigned char) s[0]))
                return -EINVAL;
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno == ERANGE || v < INT_MIN || v > INT_MAX)
                return -ERANGE;
        if (*end || end == s)
                return -EINVAL;
        *ret = (int) v;
        return 0;
}

int parse_size(const char *s, uint64_t *ret) {
        static const struct {
                const char *suffix;
                unsigned shift;
        } table[] = {
                { "", 0 },     { "B", 0 },    { "K", 10 },   { "Ki", 10 }, { "KiB", 10 }, { "M", 20 },
                { "Mi", 20 },  { "MiB", 20 }, { "G", 30 },   { "Gi", 30 }, { "GiB", 30 }, { "T", 40 },
                { "Ti", 40 },  { "TiB", 40 },
        };
        unsigned long long v;
        char *end;

        if (isempty(s) || !isdigit((unsigned char) s[0]))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                if (!streq(end, table[i].suffix))
                        continue;
                if (table[i].shift > 0 && v > (UINT64_MAX >> table[i].shift))
                        return -ERANGE;
                *ret = (uint64_t) v << table[i].shift;
                return 0;
        }
        return -EINVAL;
}

int parse_percent(const char *s, unsigned *ret) {
        size_t n = s ? strlen(s) : 0;
        _cleanup_free_ char *digits = NULL;
        unsigned v;
        int r;

        if (n < 2 || s[n - 1] != '%')
                return -EINVAL;
        digits = strndup(s, n - 1);
        if (!digits)
                return -ENOMEM;
        r = safe_atou(digits, &v);
        if (r < 0)
                return r;
        if (v > 100)
                return -ERANGE;
        *ret = v;
        return 0;
}

const char *format_size(char *buf, size_t len, uint64_t bytes) {
        static const char suffixes[] = "KMGT";
        unsigned i;

        if (bytes < 1024) {
                snprintf(buf, len, "%lluB", (unsigned long long) bytes);
                return buf;
        }
        for (i = 0; i < 3 && bytes >= (1024ULL << (10 * (i + 1))); i++)
                ;
        uint64_t unit = 1024ULL << (10 * i);
        if (bytes % unit == 0)
                snprintf(buf, len, "%llu%c", (unsigned long long) (bytes / unit), suffixes[i]);
        else
                snprintf(buf, len, "%.1f%c", (double) bytes / (double) unit, suffixes[i]);
        return buf;
}

int parse_cpu_millis(double cpu, uint64_t *ret) {
        if (isnan(cpu) || cpu < 0)
                return -EINVAL;
        if (cpu > 1e6)
                return -ERANGE;
        *ret = (uint64_t) llround(cpu * 1000.0);
        return 0;
}

int parse_versioned_keys(const char *text, uint64_t max_version,
                         int (*f)(const char *key, const char *value, void *userdata), void *userdata) {
        _cleanup_free_ char *copy = strdup(text);
        uint64_t version = 0;
        char *save = NULL;
        int r;

        if (!copy)
                return -ENOMEM;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *eq = strchr(line, '=');

                if (!eq)
                        return -EINVAL;
                *eq = 0;
                if (streq(line, "version")) {
                        if (safe_atou64(eq + 1, &version) < 0)
                                return -EINVAL;
                        continue;
                }
                r = f(line, eq + 1, userdata);
                if (r < 0)
                        return r;
        }
        if (version < 1)
                return -EINVAL;
        if (version > max_version)
                return -EPROTONOSUPPORT;
        return 0;
}
