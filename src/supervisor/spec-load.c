/* SPDX-License-Identifier: MIT */
/* Reading a spec from text or a file: the JSON parsed (duplicate keys refused, file:line:column in every
 * message), then the rules of service_spec_from_json() (spec.c). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "shared/fileio.h"
#include "shared/json-util.h"
#include "supervisor/spec.h"

/* jansson's messages may quote the offending bytes (control characters, broken UTF-8): keep them out of
 * logs and terminals. */
static void sanitize(char *s) {
        for (unsigned char *p = (unsigned char *) s; *p; p++)
                if (*p < 0x20 || *p >= 0x7f)
                        *p = '?';
}

static int set_error(char **ret_error, const char *format, ...) _printf_(2, 3);
static int set_error(char **ret_error, const char *format, ...) {
        va_list ap;
        int r;

        if (!ret_error)
                return 0;
        va_start(ap, format);
        r = vasprintf(ret_error, format, ap);
        va_end(ap);
        if (r < 0) {
                *ret_error = NULL;
                return -ENOMEM;
        }
        return 0;
}

int service_spec_parse(const char *text, size_t size, const char *filename, ServiceSpec **ret, char **ret_error) {
        _cleanup_(service_spec_freep) ServiceSpec *s = NULL;
        _cleanup_json_ json_t *root = NULL;
        json_error_t jerr;
        JsonError e = {};
        int r;

        if (size > SERVICE_SPEC_MAX) {
                r = filename ? set_error(ret_error, "%s: larger than %u bytes", filename, SERVICE_SPEC_MAX)
                             : set_error(ret_error, "spec is larger than %u bytes", SERVICE_SPEC_MAX);
                return r < 0 ? r : -EFBIG;
        }

        root = json_loadb(text, size, JSON_REJECT_DUPLICATES, &jerr);
        if (!root) {
                const char *what = json_error_code(&jerr) == json_error_invalid_utf8 ? "not UTF-8 text"
                                                                                      : "invalid JSON";
                sanitize(jerr.text);
                r = filename ? set_error(ret_error, "%s:%d:%d: %s: %s", filename, jerr.line,
                                         json_error_column(&jerr), what, jerr.text)
                             : set_error(ret_error, "%s at line %d, column %d: %s", what, jerr.line,
                                         json_error_column(&jerr), jerr.text);
                return r < 0 ? r : -EINVAL;
        }

        r = service_spec_from_json(root, &s, &e);
        if (r == -EINVAL) {
                if (ret_error) {
                        *ret_error = json_error_format(&e, filename, text, size);
                        if (!*ret_error)
                                return -ENOMEM;
                }
                return r;
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

int service_spec_load(const char *path, ServiceSpec **ret, char **ret_error) {
        _cleanup_free_ char *text = NULL;
        size_t size;
        int r;

        r = read_full_file(path, SERVICE_SPEC_MAX, &text, &size);
        if (r == -EFBIG) {
                r = set_error(ret_error, "%s: larger than %u bytes", path, SERVICE_SPEC_MAX);
                return r < 0 ? r : -EFBIG;
        }
        if (r < 0) {
                int k = set_error(ret_error, "%s: cannot read: %s", path, strerror(-r));
                return k < 0 ? k : r;
        }
        return service_spec_parse(text, size, path, ret, ret_error);
}

int service_spec_load_named(const char *path, const char *name, ServiceSpec **ret, char **ret_error) {
        _cleanup_(service_spec_freep) ServiceSpec *spec = NULL;
        int r;

        r = service_spec_load(path, &spec, ret_error);
        if (r < 0)
                return r;
        if (!streq(spec->name, name)) {
                r = set_error(ret_error, "%s: name \"%s\" does not match the file name", path, spec->name);
                return r < 0 ? r : -EINVAL;
        }
        *ret = TAKE_PTR(spec);
        return 0;
}
