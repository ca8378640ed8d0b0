/* SPDX-License-Identifier: MIT */
/* Flatcar's update.conf (src/updates/flatcar.c): updates_parse_update_conf() and updates_render_update_conf() on the same
 * text. Invariants: the reader and the writer agree on what they refuse; rendering is idempotent (rendering the
 * output again changes nothing); the output says what it was asked to (GROUP, SERVER, REBOOT_STRATEGY=off) and
 * leaves GROUP and SERVER as they were when not asked to set them. */

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "shared/log.h"
#include "updates/flatcar.h"

static int lookup(const char *text, const char *key, char **ret) {
        _cleanup_free_ char *error = NULL;
        int r = updates_parse_update_conf(text, key, ret, &error);

        FUZZ_CHECK(r != -EINVAL || error);
        FUZZ_CHECK(r >= 0 || r == -ENOENT || r == -EINVAL || r == -ENOMEM);
        return r;
}

static void check_render(const char *old, int parse_r, const char *group, const char *server) {
        _cleanup_free_ char *out = NULL, *out2 = NULL, *error = NULL, *v = NULL, *old_group = NULL,
                            *old_server = NULL;
        bool changed = true;
        int r;

        r = updates_render_update_conf(old, group, server, &out, &changed, &error);
        /* the writer refuses exactly the texts the reader refuses */
        FUZZ_CHECK((r == -EINVAL) == (parse_r == -EINVAL));
        if (r < 0) {
                FUZZ_CHECK(error && !out);
                return;
        }
        FUZZ_CHECK(out && !error);
        FUZZ_CHECK(changed == !streq(old, out));

        r = updates_render_update_conf(out, group, server, &out2, &changed, &error);
        FUZZ_CHECK(r == 0);
        FUZZ_CHECK(!changed && streq(out, out2));

        FUZZ_CHECK(lookup(out, "REBOOT_STRATEGY", &v) == 0 && streq(v, "off"));
        v = mfree(v);
        if (group) {
                FUZZ_CHECK(lookup(out, "GROUP", &v) == 0 && streq(v, group));
                v = mfree(v);
        } else {
                r = lookup(old, "GROUP", &old_group);
                FUZZ_CHECK(lookup(out, "GROUP", &v) == r);
                FUZZ_CHECK(r < 0 || streq(v, old_group));
                v = mfree(v);
        }
        if (server) {
                FUZZ_CHECK(lookup(out, "SERVER", &v) == 0 && streq(v, server));
                v = mfree(v);
        } else {
                r = lookup(old, "SERVER", &old_server);
                FUZZ_CHECK(lookup(out, "SERVER", &v) == r);
                FUZZ_CHECK(r < 0 || streq(v, old_server));
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *text = NULL, *v = NULL;
        int r;

        log_set_max_level(LOG_CRIT);
        text = fuzz_strndup(data, size);

        r = lookup(text, "GROUP", &v);
        check_render(text, r, "stable", "https://public.update.flatcar-linux.net/v1/update/");
        check_render(text, r, NULL, NULL);
        check_render(text, r, "beta", NULL);
        return 0;
}
