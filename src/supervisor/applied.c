/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/fileio.h"
#include "shared/json-util.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "supervisor/applied.h"

int applied_spec_render(const ServiceSpec *s, char **ret_text) {
        _cleanup_json_ json_t *spec = service_spec_to_json(s), *file = NULL;
        char *text;

        if (!spec)
                return -ENOMEM;
        file = json_pack("{s:i,s:O}", "version", APPLIED_SPEC_FORMAT, "spec", spec);
        if (!file)
                return -ENOMEM;
        text = json_dumps(file, JSON_INDENT(2) | JSON_SORT_KEYS);
        if (!text)
                return -ENOMEM;
        *ret_text = text;
        return 0;
}

static int fail(char **ret_error, int r, const char *format, ...) _printf_(3, 4);
static int fail(char **ret_error, int r, const char *format, ...) {
        va_list ap;

        if (ret_error) {
                va_start(ap, format);
                if (vasprintf(ret_error, format, ap) < 0)
                        *ret_error = NULL;
                va_end(ap);
        }
        return r;
}

/* format 1: {"version": 1, "spec": {…}}; errors point into the file (the spec's fields under "spec.") */
static int load_v1(json_t *root, const char *path, const char *text, size_t size, ServiceSpec **ret,
                   char **ret_error) {
        json_t *spec = json_object_get(root, "spec");
        JsonError e = {}, in_file = {};
        const char *key;
        json_t *v;
        int r;

        json_object_foreach(root, key, v)
                if (!streq(key, "version") && !streq(key, "spec")) {
                        (void) json_error_set(&in_file, key, "unknown key");
                        goto invalid;
                }
        if (!json_is_object(spec)) {
                (void) json_error_set(&in_file, "spec", "expected the service's spec (an object)");
                goto invalid;
        }
        r = service_spec_from_json(spec, ret, &e);
        if (r != -EINVAL)
                return r;
        /* the spec's fields under "spec.", for the place in the file (a path too long keeps its message) */
        (void) json_error_set(&in_file, "", "%s", e.message);
        if (strlen(e.path) + sizeof("spec.") <= sizeof(in_file.path)) {
                strcpy(in_file.path, e.path[0] ? "spec." : "spec");
                strcat(in_file.path, e.path);
        }
invalid:
        *ret_error = json_error_format(&in_file, path, text, size);
        return *ret_error ? -EINVAL : -ENOMEM;
}

int applied_spec_load(const char *path, const char *name, ServiceSpec **ret, int *ret_format, char **ret_error) {
        _cleanup_(service_spec_freep) ServiceSpec *spec = NULL;
        _cleanup_free_ char *text = NULL;
        _cleanup_json_ json_t *root = NULL;
        json_t *version;
        size_t size;
        int r, format;

        r = read_full_file(path, SERVICE_SPEC_MAX + 4096, &text, &size);
        if (r < 0)
                return fail(ret_error, r, "%s: cannot read: %s", path, strerror(-r));
        root = json_loadb(text, size, JSON_REJECT_DUPLICATES, NULL);
        version = json_object_get(root, "version");
        if (!version) {
                /* format 0, or not JSON at all: the spec parser says what is wrong, and where */
                format = 0;
                r = service_spec_parse(text, size, path, &spec, ret_error);
        } else {
                json_int_t v = json_is_integer(version) ? json_integer_value(version) : -1;

                if (v < 1)
                        return fail(ret_error, -EINVAL, "%s: version: expected a whole number from 1", path);
                if (v > APPLIED_SPEC_FORMAT)
                        return fail(ret_error, -EPROTONOSUPPORT,
                                    "%s: written by a newer ballastd (state format %lld; this one reads formats 0 to %d): left as it is",
                                    path, (long long) v, APPLIED_SPEC_FORMAT);
                format = (int) v;
                r = load_v1(root, path, text, size, &spec, ret_error);
        }
        if (r < 0)
                return r;
        if (!streq(spec->name, name))
                return fail(ret_error, -EINVAL, "%s: name \"%s\" does not match the file name", path, spec->name);
        *ret = TAKE_PTR(spec);
        if (ret_format)
                *ret_format = format;
        return 0;
}

int applied_specs_migrate(const char *dir) {
        _cleanup_(closedirp) DIR *d = opendir(dir);
        struct dirent *de;
        int n = 0;

        if (!d)
                return errno == ENOENT ? 0 : -errno;
        while ((de = readdir(d))) {
                _cleanup_(service_spec_freep) ServiceSpec *spec = NULL;
                _cleanup_free_ char *path = NULL, *name = NULL, *error = NULL, *text = NULL;
                size_t len = strlen(de->d_name);
                int format, r;

                if (de->d_name[0] == '.' || len < 6 || !streq(de->d_name + len - 5, ".json"))
                        continue;
                path = path_join(dir, de->d_name);
                name = strndup(de->d_name, len - 5);
                if (!path || !name)
                        return -ENOMEM;
                if (applied_spec_load(path, name, &spec, &format, &error) < 0 || format == APPLIED_SPEC_FORMAT)
                        continue;
                r = applied_spec_render(spec, &text);
                if (r >= 0)
                        r = write_file_atomic(path, text, strlen(text), 0600);
                if (r < 0)
                        return log_warning_errno(r, "Cannot migrate %s to state format %d: %m", path,
                                                 APPLIED_SPEC_FORMAT);
                log_info("Migrated %s from state format %d to %d.", path, format, APPLIED_SPEC_FORMAT);
                n++;
        }
        return n;
}
