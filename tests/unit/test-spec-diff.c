/* SPDX-License-Identifier: MIT */
/* What an apply would change (src/supervisor/spec-diff.c): a new service, no change, resources only (live, no
 * restart), and a change that restarts, with the spec's fields, the unit's lines and the container's keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/json-util.h"
#include "shared/macro.h"
#include "supervisor/spec-diff.h"
#include "supervisor/units.h"
#include "tap.h"

static const UnitContext ctx = { .run_helper = "/usr/libexec/ballast-run", .state_dir = "/var/lib/ballast",
                                 .docker_socket = "/run/docker.sock", .control_socket = "/run/ballast/ballastd.sock" };

static ServiceSpec *spec(const char *text) {
        ServiceSpec *s = NULL;
        _cleanup_free_ char *error = NULL;

        if (service_spec_parse(text, strlen(text), NULL, &s, &error) < 0) {
                printf("# %s\n", strna(error));
                abort();
        }
        return s;
}

static char *unit(const ServiceSpec *s) {
        char *t = NULL;
        if (unit_text_for_service(s, &ctx, &t) < 0)
                abort();
        return t;
}

static bool has(json_t *list, const char *want) {
        json_t *v;
        size_t i;
        json_array_foreach(list, i, v)
                if (streq_ptr(json_string_value(v), want))
                        return true;
        return false;
}

static bool has_prefix(json_t *list, const char *want) {
        json_t *v;
        size_t i;
        json_array_foreach(list, i, v)
                if (json_string_value(v) && strneq(json_string_value(v), want, strlen(want)))
                        return true;
        return false;
}

/* the diff of b over a (a NULL: new), bodies included */
static json_t *diff(ServiceSpec *a, ServiceSpec *b) {
        _cleanup_free_ char *ua = a ? unit(a) : NULL, *ub = unit(b);
        _cleanup_json_ json_t *ba = a ? container_create_body(a, "ballast/x") : NULL,
                              *bb = container_create_body(b, "ballast/x");
        return spec_diff_json(a, b, ua, ub, ba, bb);
}

int main(void) {
        _cleanup_(service_spec_freep) ServiceSpec
                *web = spec("{\"name\": \"web\", \"image\": \"nginx:1.25\", \"env\": {\"A\": \"1\"}, \"resources\": {\"memory\": \"64M\"}}"),
                *same = spec("{\"name\": \"web\", \"image\": \"nginx:1.25\", \"env\": {\"A\": \"1\"}, \"resources\": {\"memory\": \"64M\"}}"),
                *bigger = spec("{\"name\": \"web\", \"image\": \"nginx:1.25\", \"env\": {\"A\": \"1\"}, \"resources\": {\"memory\": \"128M\"}}"),
                *newimg = spec("{\"name\": \"web\", \"image\": \"nginx:1.26\", \"env\": {\"A\": \"2\"}, \"resources\": {\"memory\": \"64M\"}}");
        _cleanup_json_ json_t *d = NULL;

        d = diff(NULL, web);
        is_str(json_string_value(json_object_get(d, "change")), "create", "no current spec: create");
        ok(!json_is_true(json_object_get(d, "restarts")), "a new service does not restart");
        ok(has(json_object_get(d, "fields"), "image"), "its fields are listed");
        ok(json_array_size(json_object_get(json_object_get(d, "unit"), "added")) > 3, "every unit line is added");
        ok(json_array_size(json_object_get(json_object_get(d, "unit"), "removed")) == 0, "none removed");
        json_decref(d);

        d = diff(web, same);
        is_str(json_string_value(json_object_get(d, "change")), "none", "the same spec: none");
        is_int(json_array_size(json_object_get(d, "fields")), 0, "no field");
        is_int(json_array_size(json_object_get(json_object_get(d, "unit"), "added")) +
               json_array_size(json_object_get(json_object_get(d, "unit"), "removed")), 0, "no unit line");
        is_int(json_array_size(json_object_get(d, "container")), 0, "no container key");
        json_decref(d);

        d = diff(web, bigger);
        is_str(json_string_value(json_object_get(d, "change")), "resize", "resources only: resize");
        ok(!json_is_true(json_object_get(d, "restarts")), "which does not restart");
        ok(has(json_object_get(d, "fields"), "resources") && json_array_size(json_object_get(d, "fields")) == 1,
           "the one field: resources");
        ok(has_prefix(json_object_get(json_object_get(d, "unit"), "removed"), "MemoryMax="), "unit: MemoryMax= removed");
        ok(has_prefix(json_object_get(json_object_get(d, "unit"), "added"), "MemoryMax="), "and added anew");
        ok(has(json_object_get(d, "container"), "HostConfig.Memory"), "container: HostConfig.Memory");
        ok(!has(json_object_get(d, "container"), "Image"), "not the image");
        json_decref(d);

        d = diff(web, newimg);
        is_str(json_string_value(json_object_get(d, "change")), "restart", "image and env: restart");
        ok(json_is_true(json_object_get(d, "restarts")), "which restarts");
        ok(has(json_object_get(d, "fields"), "image") && has(json_object_get(d, "fields"), "env") &&
           !has(json_object_get(d, "fields"), "resources"), "fields: image, env, not resources");
        ok(has(json_object_get(d, "container"), "Image") && has(json_object_get(d, "container"), "Env"),
           "container: Image, Env");
        ok(!has_prefix(json_object_get(d, "container"), "HostConfig.Memory"), "not the memory");

        is_int(spec_change(web, bigger), SPEC_CHANGE_RESIZE, "spec_change: resize");
        ok(specs_differ_only_in_resources(web, bigger) && !specs_differ_only_in_resources(web, newimg),
           "the supervisor's rule, the same function");
        return tap_done();
}
