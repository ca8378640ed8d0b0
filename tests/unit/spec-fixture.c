/* SPDX-License-Identifier: MIT */
/* The spec tests' helpers: tests/unit/spec-fixture.h. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec-fixture.h"
#include "tap.h"

char *data_path(const char *name) {
        const char *top = getenv("top_srcdir");
        char *p;

        if (top) {
                if (asprintf(&p, "%s/tests/data/specs/%s", top, name) < 0)
                        abort();
        } else {
                const char *f = __FILE__, *slash = strrchr(f, '/');
                int n = slash ? (int) (slash - f) : 1;
                if (asprintf(&p, "%.*s/data/specs/%s", n, slash ? f : ".", name) < 0)
                        abort();
        }
        return p;
}

char *json_text(const char *s) {
        char *t = strdup(s);
        if (!t)
                abort();
        for (char *p = t; *p; p++)
                if (*p == '\'')
                        *p = '"';
        return t;
}

int parse(const char *text, ServiceSpec **ret, char **ret_error) {
        return service_spec_parse(text, strlen(text), NULL, ret, ret_error);
}

void check_refused(const char *json, const char *want_error) {
        _cleanup_(service_spec_freep) ServiceSpec *s = NULL;
        _cleanup_free_ char *text = json_text(json), *error = NULL;

        is_int(parse(text, &s, &error), -EINVAL, "refused: %s", text);
        is_str(error, want_error, "  with the right message");
        ok(!s, "  and no spec");
}
