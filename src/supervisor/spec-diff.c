/* SPDX-License-Identifier: MIT */
/* What an apply would change (spec-diff.h). */
#include <string.h>

#include "shared/json-util.h"
#include "shared/macro.h"
#include "supervisor/spec-diff.h"

const char *spec_change_to_string(SpecChange c) {
        static const char *const names[] = {
                [SPEC_CHANGE_CREATE] = "create",
                [SPEC_CHANGE_NONE] = "none",
                [SPEC_CHANGE_RESIZE] = "resize",
                [SPEC_CHANGE_RESTART] = "restart",
        };
        return (size_t) c < ELEMENTSOF(names) ? names[c] : NULL;
}

bool specs_differ_only_in_resources(const ServiceSpec *a, const ServiceSpec *b) {
        _cleanup_json_ json_t *ja = service_spec_to_json(a), *jb = service_spec_to_json(b);

        if (!ja || !jb)
                return false;
        json_object_del(ja, "resources");
        json_object_del(jb, "resources");
        return json_equal(ja, jb);
}

SpecChange spec_change(const ServiceSpec *have, const ServiceSpec *want) {
        if (!have)
                return SPEC_CHANGE_CREATE;
        if (service_spec_equal(have, want))
                return SPEC_CHANGE_NONE;
        return specs_differ_only_in_resources(have, want) ? SPEC_CHANGE_RESIZE : SPEC_CHANGE_RESTART;
}

/* the keys of a or b whose values differ (prefix.key), into list */
static void keys_differing(json_t *a, json_t *b, const char *prefix, json_t *list) {
        const char *k;
        json_t *v;

        json_object_foreach(a, k, v)
                if (!json_equal(v, json_object_get(b, k)))
                        json_array_append_new(list, json_sprintf("%s%s", prefix, k));
        json_object_foreach(b, k, v)
                if (!json_object_get(a, k))
                        json_array_append_new(list, json_sprintf("%s%s", prefix, k));
}

static bool has_line(const char *text, const char *line, size_t n) {
        for (const char *p = text; p && *p;) {
                const char *e = strchrnul(p, '\n');
                if ((size_t) (e - p) == n && strneq(p, line, n))
                        return true;
                p = *e ? e + 1 : NULL;
        }
        return false;
}

/* the lines of a that b does not have, into list */
static void lines_missing(const char *a, const char *b, json_t *list) {
        for (const char *p = a; p && *p;) {
                const char *e = strchrnul(p, '\n');
                if (e > p && !has_line(b, p, e - p))
                        json_array_append_new(list, json_stringn(p, e - p));
                p = *e ? e + 1 : NULL;
        }
}

json_t *spec_diff_json(const ServiceSpec *have, const ServiceSpec *want, const char *have_unit, const char *want_unit,
                       json_t *have_body, json_t *want_body) {
        _cleanup_json_ json_t *jh = have ? service_spec_to_json(have) : json_object(),
                              *jw = service_spec_to_json(want);
        json_t *fields = json_array(), *removed = json_array(), *added = json_array(), *container = json_array();
        _cleanup_json_ json_t *empty = json_object();
        SpecChange c = spec_change(have, want);
        json_t *hh, *wh;

        if (jh && jw)
                keys_differing(jh, jw, "", fields);
        lines_missing(have_unit ?: "", want_unit ?: "", removed);
        lines_missing(want_unit ?: "", have_unit ?: "", added);
        if (have_body || want_body) {
                _cleanup_json_ json_t *a = json_deep_copy(have_body ?: empty), *b = json_deep_copy(want_body ?: empty);
                hh = json_object_get(a, "HostConfig");
                wh = json_object_get(b, "HostConfig");
                keys_differing(hh ?: empty, wh ?: empty, "HostConfig.", container);
                json_object_del(a, "HostConfig");
                json_object_del(b, "HostConfig");
                keys_differing(a, b, "", container);
        }
        return json_pack("{s:s,s:s,s:b,s:o,s:{s:o,s:o},s:o}", "name", want->name, "change", spec_change_to_string(c),
                         "restarts", c == SPEC_CHANGE_RESTART, "fields", fields, "unit", "removed", removed, "added",
                         added, "container", container);
}
