/* SPDX-License-Identifier: MIT */
/* Order between services: `after` and `requires` (lists of service names) become After= and Requires= between
 * ballast-NAME.service units (units.c). A spec cannot name itself; a set of specs cannot form a cycle, which
 * service_order_find_cycle() finds for the supervisor before it accepts a spec. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/spec-internal.h"

int dispatch_service_names(const char *path, json_t *v, void *target, JsonError *e) {
        char ***ret = target, sub[256];
        size_t i;
        json_t *item;

        if (!json_is_array(v))
                return json_error_set(e, path, "expected an array of service names, got %s", json_type_name(v));
        json_array_foreach(v, i, item) {
                json_path_index(sub, sizeof(sub), path, i);
                if (!json_is_string(item))
                        return json_error_set(e, sub, "expected a string, got %s", json_type_name(item));
                if (!service_name_is_valid(json_string_value(item)))
                        return json_error_set(e, sub, "%s is not a valid service name", Q(json_string_value(item)));
                for (size_t j = 0; j < i; j++)
                        if (streq(json_string_value(json_array_get(v, j)), json_string_value(item)))
                                return json_error_set(e, sub, "%s is already listed", json_string_value(item));
        }
        if (json_array_size(v) == 0) {
                strv_free(*ret);
                *ret = NULL;
                return 0;
        }
        return json_dispatch_strv(path, v, target, e);
}

int spec_order_check(const ServiceSpec *s, JsonError *e) {
        char *const *lists[] = { s->after, s->requires };
        const char *keys[] = { "after", "requires" };
        char sub[256];

        for (size_t k = 0; k < ELEMENTSOF(lists); k++)
                for (size_t i = 0; lists[k] && lists[k][i]; i++)
                        if (streq(lists[k][i], s->name))
                                return json_error_set(e, json_path_index(sub, sizeof(sub), keys[k], i),
                                                      "a service cannot be ordered after itself");
        return 0;
}

void spec_order_to_json(const ServiceSpec *s, json_t *o, bool *failed) {
        if (s->after)
                spec_set(o, "after", strv_to_json(s->after), failed);
        if (s->requires)
                spec_set(o, "requires", strv_to_json(s->requires), failed);
}

/* ---- cycles ---- */

typedef struct Walk {
        const ServiceSpec *want;
        ServiceSpecLookup lookup;
        void *userdata;
        const char **stack;   /* the path from want */
        size_t depth, max_depth;
        char **done;          /* names known to lead to no cycle */
        size_t n_done;
} Walk;

static const ServiceSpec *walk_lookup(Walk *w, const char *name) {
        return streq(name, w->want->name) ? w->want : w->lookup(name, w->userdata);
}

static bool walk_done(const Walk *w, const char *name) {
        for (size_t i = 0; i < w->n_done; i++)
                if (streq(w->done[i], name))
                        return true;
        return false;
}

/* 1 when name leads back to want (the stack holds the path), 0 when not, -ENOMEM. */
static int walk(Walk *w, const char *name) {
        const ServiceSpec *s;
        int r;

        if (w->depth > 0 && streq(name, w->want->name))
                return 1;
        if (walk_done(w, name) || w->depth >= w->max_depth)
                return 0;
        /* a cycle that does not pass through want is not want's to answer for (nor a reason to loop) */
        for (size_t i = 0; i < w->depth; i++)
                if (streq(w->stack[i], name))
                        return 0;
        s = walk_lookup(w, name);
        if (!s)
                return 0;
        w->stack[w->depth++] = name;
        for (size_t k = 0; k < 2; k++) {
                char *const *l = k == 0 ? s->after : s->requires;
                for (size_t i = 0; l && l[i]; i++) {
                        r = walk(w, l[i]);
                        if (r != 0)
                                return r;
                }
        }
        w->depth--;
        if (w->depth > 0) {
                char **d = realloc(w->done, (w->n_done + 1) * sizeof(char *));
                if (!d)
                        return -ENOMEM;
                w->done = d;
                w->done[w->n_done++] = (char *) name;
        }
        return 0;
}

int service_order_find_cycle(const ServiceSpec *want, ServiceSpecLookup lookup, void *userdata, char **ret_cycle) {
        /* a cycle through want visits each service at most once: the path is bounded by the services there are,
         * and a lookup that invents names forever is cut at this depth */
        Walk w = { .want = want, .lookup = lookup, .userdata = userdata, .max_depth = 4096 };
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        w.stack = calloc(w.max_depth + 1, sizeof(char *));
        if (!w.stack)
                return -ENOMEM;
        r = walk(&w, want->name);
        free(w.done);
        if (r <= 0) {
                free(w.stack);
                return r;
        }
        f = open_memstream(&buf, &size);
        if (!f) {
                free(w.stack);
                return -ENOMEM;
        }
        for (size_t i = 0; i < w.depth; i++)
                fprintf(f, "%s -> ", w.stack[i]);
        fputs(want->name, f);
        free(w.stack);
        if (fclose(f) != 0)
                return -ENOMEM;
        if (ret_cycle)
                *ret_cycle = TAKE_PTR(buf);
        return 1;
}
