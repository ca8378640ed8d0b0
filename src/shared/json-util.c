/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "shared/json-util.h"
#include "shared/parse-util.h"

int json_error_set(JsonError *e, const char *path, const char *format, ...) {
        va_list ap;

        if (!e)
                return -EINVAL;
        snprintf(e->path, sizeof(e->path), "%s", strempty(path));
        va_start(ap, format);
        vsnprintf(e->message, sizeof(e->message), format, ap);
        va_end(ap);
        return -EINVAL;
}

const char *json_path_key(char *buf, size_t len, const char *path, const char *key) {
        if (isempty(path))
                snprintf(buf, len, "%s", key);
        else
                snprintf(buf, len, "%s.%s", path, key);
        return buf;
}

const char *json_path_index(char *buf, size_t len, const char *path, size_t i) {
        snprintf(buf, len, "%s[%zu]", strempty(path), i);
        return buf;
}

const char *json_type_name(const json_t *v) {
        switch (json_typeof(v)) {
        case JSON_OBJECT: return "an object";
        case JSON_ARRAY: return "an array";
        case JSON_STRING: return "a string";
        case JSON_INTEGER: return "an integer";
        case JSON_REAL: return "a number";
        case JSON_TRUE:
        case JSON_FALSE: return "a boolean";
        case JSON_NULL: return "null";
        }
        return "unknown";
}

int json_dispatch(const char *path, json_t *obj, const JsonField table[], void *base, JsonError *e) {
        char sub[256];
        const char *key;
        json_t *v;

        if (!json_is_object(obj))
                return json_error_set(e, path, "expected an object, got %s", json_type_name(obj));

        json_object_foreach(obj, key, v) {
                const JsonField *f;
                int r;

                for (f = table; f->name; f++)
                        if (streq(f->name, key))
                                break;
                json_path_key(sub, sizeof(sub), path, key);
                if (!f->name)
                        return json_error_set(e, sub, "unknown key");
                if (json_is_null(v) && (f->flags & JSON_NULLABLE))
                        continue;
                r = f->func(sub, v, (char *) base + f->offset, e);
                if (r < 0)
                        return r;
        }

        for (const JsonField *f = table; f->name; f++)
                if ((f->flags & JSON_MANDATORY) && !json_object_get(obj, f->name))
                        return json_error_set(e, json_path_key(sub, sizeof(sub), path, f->name),
                                              "is required");
        return 0;
}

int json_dispatch_string(const char *path, json_t *v, void *target, JsonError *e) {
        char **s = target;
        char *n;

        if (!json_is_string(v))
                return json_error_set(e, path, "expected a string, got %s", json_type_name(v));
        /* jansson refuses \u0000 unless asked, so strlen() is the whole string */
        n = strdup(json_string_value(v));
        if (!n)
                return -ENOMEM;
        free(*s);
        *s = n;
        return 0;
}

int json_dispatch_absolute_path(const char *path, json_t *v, void *target, JsonError *e) {
        const char *s = json_string_value(v);

        if (!json_is_string(v))
                return json_error_set(e, path, "expected a string, got %s", json_type_name(v));
        if (s[0] != '/')
                return json_error_set(e, path, "\"%s\" is not an absolute path", s);
        if (strstr(s, "/../") || (strlen(s) >= 3 && streq(s + strlen(s) - 3, "/..")))
                return json_error_set(e, path, "\"%s\" contains \"..\"", s);
        return json_dispatch_string(path, v, target, e);
}

int json_dispatch_bool(const char *path, json_t *v, void *target, JsonError *e) {
        if (!json_is_boolean(v))
                return json_error_set(e, path, "expected a boolean, got %s", json_type_name(v));
        *(bool *) target = json_is_true(v);
        return 0;
}

int json_dispatch_uint64(const char *path, json_t *v, void *target, JsonError *e) {
        if (!json_is_integer(v))
                return json_error_set(e, path, "expected an integer, got %s", json_type_name(v));
        if (json_integer_value(v) < 0)
                return json_error_set(e, path, "%lld is negative", (long long) json_integer_value(v));
        *(uint64_t *) target = (uint64_t) json_integer_value(v);
        return 0;
}

int json_dispatch_uint(const char *path, json_t *v, void *target, JsonError *e) {
        uint64_t u;
        int r = json_dispatch_uint64(path, v, &u, e);
        if (r < 0)
                return r;
        if (u > UINT32_MAX)
                return json_error_set(e, path, "%llu is too large", (unsigned long long) u);
        *(unsigned *) target = (unsigned) u;
        return 0;
}

int json_dispatch_size(const char *path, json_t *v, void *target, JsonError *e) {
        uint64_t u;
        int r;

        if (json_is_integer(v))
                return json_dispatch_uint64(path, v, target, e);
        if (!json_is_string(v))
                return json_error_set(e, path, "expected a size such as \"256M\", got %s", json_type_name(v));
        r = parse_size(json_string_value(v), &u);
        if (r == -ERANGE)
                return json_error_set(e, path, "\"%s\" is too large", json_string_value(v));
        if (r < 0)
                return json_error_set(e, path, "\"%s\" is not a size (use bytes or K, M, G, T)",
                                      json_string_value(v));
        *(uint64_t *) target = u;
        return 0;
}

int json_dispatch_cpu(const char *path, json_t *v, void *target, JsonError *e) {
        uint64_t m;

        if (!json_is_number(v))
                return json_error_set(e, path, "expected a number of CPUs such as 0.5, got %s", json_type_name(v));
        if (parse_cpu_millis(json_number_value(v), &m) < 0)
                return json_error_set(e, path, "%g is not a number of CPUs", json_number_value(v));
        *(uint64_t *) target = m;
        return 0;
}

int json_dispatch_strv(const char *path, json_t *v, void *target, JsonError *e) {
        _cleanup_strv_free_ char **l = NULL;
        char ***ret = target;
        char sub[256];
        size_t i;
        json_t *item;

        if (!json_is_array(v))
                return json_error_set(e, path, "expected an array of strings, got %s", json_type_name(v));
        l = calloc(json_array_size(v) + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        json_array_foreach(v, i, item) {
                if (!json_is_string(item))
                        return json_error_set(e, json_path_index(sub, sizeof(sub), path, i),
                                              "expected a string, got %s", json_type_name(item));
                l[i] = strdup(json_string_value(item));
                if (!l[i])
                        return -ENOMEM;
        }
        strv_free(*ret);
        *ret = TAKE_PTR(l);
        return 0;
}

int json_dispatch_string_map(const char *path, json_t *v, void *target, JsonError *e) {
        json_t **ret = target;
        const char *key;
        char sub[256];
        json_t *item;

        if (!json_is_object(v))
                return json_error_set(e, path, "expected an object of strings, got %s", json_type_name(v));
        json_object_foreach(v, key, item)
                if (!json_is_string(item))
                        return json_error_set(e, json_path_key(sub, sizeof(sub), path, key),
                                              "expected a string, got %s", json_type_name(item));
        json_decref(*ret);
        *ret = json_incref(v);
        return 0;
}

/* ---- json_locate: a scanner over already-valid JSON text, for error positions only ---- */

typedef struct Scanner {
        const char *p, *end, *start;
} Scanner;

static void scan_ws(Scanner *s) {
        while (s->p < s->end && isspace((unsigned char) *s->p))
                s->p++;
}

static int scan_string(Scanner *s, const char **ret_start, size_t *ret_len) {
        if (s->p >= s->end || *s->p != '"')
                return -EINVAL;
        const char *b = ++s->p;
        while (s->p < s->end && *s->p != '"') {
                if (*s->p == '\\')
                        s->p++;
                s->p++;
        }
        if (s->p >= s->end)
                return -EINVAL;
        if (ret_start)
                *ret_start = b;
        if (ret_len)
                *ret_len = (size_t) (s->p - b);
        s->p++;
        return 0;
}

static int scan_skip_value(Scanner *s) {
        int depth = 0;

        scan_ws(s);
        while (s->p < s->end) {
                char c = *s->p;

                if (c == '"') {
                        if (scan_string(s, NULL, NULL) < 0)
                                return -EINVAL;
                        if (depth == 0)
                                return 0;
                        continue;
                }
                if (c == '{' || c == '[')
                        depth++;
                else if (c == '}' || c == ']') {
                        if (depth == 0)
                                return 0;
                        if (--depth == 0) {
                                s->p++;
                                return 0;
                        }
                } else if (depth == 0 && (c == ',' || isspace((unsigned char) c)))
                        return 0;
                s->p++;
        }
        return depth == 0 ? 0 : -EINVAL;
}

int json_locate(const char *text, size_t size, const char *path, unsigned *ret_line, unsigned *ret_column) {
        Scanner s = { .p = text, .end = text + size, .start = text };
        const char *q = path;

        while (*q) {
                scan_ws(&s);
                if (*q == '[') {
                        char *endp;
                        unsigned long idx = strtoul(q + 1, &endp, 10);

                        if (*endp != ']' || s.p >= s.end || *s.p != '[')
                                return -ENOENT;
                        q = endp + 1;
                        s.p++;
                        for (unsigned long i = 0; i < idx; i++) {
                                if (scan_skip_value(&s) < 0)
                                        return -ENOENT;
                                scan_ws(&s);
                                if (s.p >= s.end || *s.p != ',')
                                        return -ENOENT;
                                s.p++;
                        }
                        continue;
                }
                if (*q == '.')
                        q++;
                size_t klen = strcspn(q, ".[");
                if (s.p >= s.end || *s.p != '{')
                        return -ENOENT;
                s.p++;
                for (;;) {
                        const char *k;
                        size_t kl;

                        scan_ws(&s);
                        if (scan_string(&s, &k, &kl) < 0)
                                return -ENOENT;
                        scan_ws(&s);
                        if (s.p >= s.end || *s.p != ':')
                                return -ENOENT;
                        s.p++;
                        if (kl == klen && strneq(k, q, klen)) {
                                /* point at the key when the path ends here: that is where a human looks */
                                if (!q[klen])
                                        s.p = k - 1;
                                break;
                        }
                        if (scan_skip_value(&s) < 0)
                                return -ENOENT;
                        scan_ws(&s);
                        if (s.p >= s.end || *s.p != ',')
                                return -ENOENT;
                        s.p++;
                }
                q += klen;
        }
        scan_ws(&s);

        unsigned line = 1, col = 1;
        for (const char *c = text; c < s.p; c++) {
                if (*c == '\n') {
                        line++;
                        col = 1;
                } else
                        col++;
        }
        *ret_line = line;
        *ret_column = col;
        return 0;
}

int json_error_column(const json_error_t *e) {
        return MAX(e->column, 1);
}

char *json_error_format(const JsonError *e, const char *file, const char *text, size_t size) {
        unsigned line, col;
        char *r;

        if (file && text && !isempty(e->path) && json_locate(text, size, e->path, &line, &col) >= 0) {
                if (asprintf(&r, "%s:%u:%u: %s: %s", file, line, col, e->path, e->message) < 0)
                        return NULL;
        } else if (file) {
                if (asprintf(&r, "%s: %s%s%s", file, e->path, isempty(e->path) ? "" : ": ", e->message) < 0)
                        return NULL;
        } else if (asprintf(&r, "%s%s%s", e->path, isempty(e->path) ? "" : ": ", e->message) < 0)
                return NULL;
        return r;
}

char *json_dump_compact(const json_t *v) {
        /* 10 significant digits: 0.3 stays 0.3 */
        return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(10));
}
