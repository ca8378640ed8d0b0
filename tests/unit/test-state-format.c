/* SPDX-License-Identifier: MIT */
/* The applied specs' state format (src/supervisor/applied.c): a ballastd takes over the files an older one wrote
 * (tests/data/state-v0/: what ballast 0.1 writes, no "version"), migrates them once, reads them the same, and
 * refuses a format newer than its own without touching the file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/fileio.h"
#include "shared/macro.h"
#include "supervisor/applied.h"
#include "tap.h"

static char *fixture(const char *name) {
        const char *top = getenv("top_srcdir");
        char *p;

        const char *f = __FILE__, *slash = strrchr(f, '/');

        if (top ? asprintf(&p, "%s/tests/data/state-v0/services/%s", top, name) < 0
                : asprintf(&p, "%.*s/../data/state-v0/services/%s", slash ? (int) (slash - f) : 1, slash ? f : ".",
                           name) < 0)
                abort();
        return p;
}

static char *slurp(const char *path) {
        char *t = NULL;
        size_t n;
        return read_full_file(path, 1 << 20, &t, &n) < 0 ? NULL : t;
}

static void copy(const char *from, const char *to) {
        _cleanup_free_ char *t = slurp(from);
        if (!t || write_file_atomic(to, t, strlen(t), 0600) < 0)
                abort();
}

int main(void) {
        char dir[] = "/tmp/test-state-format.XXXXXX";
        _cleanup_free_ char *web0 = fixture("web.json"), *worker0 = fixture("worker.json");
        _cleanup_free_ char *web = NULL, *worker = NULL, *newer = NULL, *v1_text = NULL, *again = NULL;
        ServiceSpec *a = NULL, *b = NULL, *c = NULL;
        char *error = NULL;
        int format = -1;

        if (!mkdtemp(dir))
                abort();
        web = path_join(dir, "web.json");
        worker = path_join(dir, "worker.json");
        newer = path_join(dir, "newer.json");
        copy(web0, web);
        copy(worker0, worker);

        /* format 0 as it is: read directly (a ballastd reads its predecessor's files even before migrating) */
        is_int(applied_spec_load(web, "web", &a, &format, &error), 0, "a format-0 file loads: %s", strempty(error));
        is_int(format, 0, "and is recognized as format 0");

        /* the migration: each file once, into format 1, with the same spec */
        is_int(applied_specs_migrate(dir), 2, "both format-0 files are migrated");
        v1_text = slurp(web);
        ok(v1_text && strstr(v1_text, "\"version\": 1") && strstr(v1_text, "\"spec\": {"),
           "the migrated file carries \"version\": 1 and the spec under \"spec\"");
        is_int(applied_spec_load(web, "web", &b, &format, &error), 0, "the migrated file loads");
        is_int(format, APPLIED_SPEC_FORMAT, "as format %d", APPLIED_SPEC_FORMAT);
        ok(a && b && service_spec_equal(a, b), "the same spec as before the migration");
        is_int(applied_specs_migrate(dir), 0, "a second start migrates nothing");
        again = slurp(web);
        is_str(again, v1_text, "and leaves the file byte for byte");

        /* what a ballastd writes now is what the migration wrote */
        {
                _cleanup_free_ char *rendered = NULL;
                is_int(applied_spec_render(b, &rendered), 0, "render");
                is_str(rendered, v1_text, "the render of the spec is the migrated text (one writer of the format)");
        }

        /* a newer format: refused, with an error that says why, and the file is not touched */
        const char *future = "{\"version\": 2, \"spec\": {\"name\": \"newer\"}, \"more\": 1}";
        if (write_file_atomic(newer, future, strlen(future), 0600) < 0)
                abort();
        error = mfree(error);
        is_int(applied_spec_load(newer, "newer", &c, NULL, &error), -EPROTONOSUPPORT, "format 2 is refused");
        ok(error && strstr(error, "newer ballastd") && strstr(error, "state format 2"), "saying so: %s",
           strempty(error));
        is_int(applied_specs_migrate(dir), 0, "the migration skips it");
        {
                _cleanup_free_ char *t = slurp(newer);
                is_str(t, future, "and leaves it as it is");
        }

        /* a bad spec inside format 1: the place in the file, under "spec." */
        const char *bad = "{\n  \"version\": 1,\n  \"spec\": {\n    \"name\": \"newer\",\n    \"runtime\": \"vm\"\n  }\n}\n";
        if (write_file_atomic(newer, bad, strlen(bad), 0600) < 0)
                abort();
        error = mfree(error);
        is_int(applied_spec_load(newer, "newer", &c, NULL, &error), -EINVAL, "a bad spec in format 1 is refused");
        ok(error && strstr(error, "newer.json:5:") && strstr(error, "runtime"), "at its line, naming the field: %s",
           strempty(error));

        service_spec_free(a);
        service_spec_free(b);
        free(error);
        (void) unlink(web);
        (void) unlink(worker);
        (void) unlink(newer);
        (void) rmdir(dir);
        return tap_done();
}
