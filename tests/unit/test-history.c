/* SPDX-License-Identifier: MIT */
/* The kept specs of a service (src/supervisor/history.c): the names of their files, which revision comes
 * before which, the update mark and the rollback record (text and refusals), and on disk: append, prune to
 * HISTORY_KEEP, set aside, the modes (0600 files in a 0700 directory). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/fileio.h"
#include "shared/macro.h"
#include "supervisor/history.h"
#include "tap.h"

static void test_entry_names(void) {
        static const struct {
                const char *name;
                int r;
                uint64_t rev;
                bool failed;
        } table[] = {
                { "1.json", 0, 1, false },
                { "12.json", 0, 12, false },
                { "7.failed.json", 0, 7, true },
                { "0.json", -EINVAL, 0, false },
                { "01.json", -EINVAL, 0, false },
                { "json", -EINVAL, 0, false },
                { ".json", -EINVAL, 0, false },
                { "3.json.tmp", -EINVAL, 0, false },
                { ".#3.json.abcdef", -EINVAL, 0, false },
                { "3.other.json", -EINVAL, 0, false },
                { "update", -EINVAL, 0, false },
                { "rollback", -EINVAL, 0, false },
                { "99999999999999999999.json", -EINVAL, 0, false },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                uint64_t rev = 0;
                bool failed = false;
                int r = history_entry_parse(table[i].name, &rev, &failed);

                is_int(r, table[i].r, "%s: %d", table[i].name, table[i].r);
                if (r == 0)
                        ok(rev == table[i].rev && failed == table[i].failed, "%s: rev %llu%s", table[i].name,
                           (unsigned long long) table[i].rev, table[i].failed ? ", set aside" : "");
        }
}

static void test_previous(void) {
        static const uint64_t revs[] = { 3, 4, 6, 9 };
        static const struct {
                uint64_t current, want;
        } table[] = {
                { 9, 6 }, { 6, 4 }, { 4, 3 }, { 3, 0 }, { 1, 0 }, { 10, 9 }, { 5, 4 },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                ok(history_previous(revs, ELEMENTSOF(revs), table[i].current) == table[i].want,
                   "before %llu: %llu", (unsigned long long) table[i].current, (unsigned long long) table[i].want);
        ok(history_previous(NULL, 0, 5) == 0, "no history: nothing before");

        static const struct {
                size_t n, keep, want;
        } prune[] = { { 0, 5, 0 }, { 5, 5, 0 }, { 6, 5, 1 }, { 9, 5, 4 }, { 3, 1, 2 } };
        for (size_t i = 0; i < ELEMENTSOF(prune); i++)
                is_int((int) history_prune_count(prune[i].n, prune[i].keep), (int) prune[i].want,
                       "%zu kept of %zu: remove %zu", prune[i].keep, prune[i].n, prune[i].want);
}

static void test_update_mark(void) {
        static const struct {
                const char *text;
                int r;
        } table[] = {
                { "version=1\nfrom=2\nto=3\nsince_usec=5\n", 0 },
                { "version=1\nfrom=2\nto=3\nsince_usec=5\nfuture=x\n", 0 },
                { "version=2\nfrom=2\nto=3\n", -EPROTONOSUPPORT },
                { "from=2\nto=3\n", -EINVAL },
                { "version=1\nto=3\n", -EINVAL },
                { "version=1\nfrom=2\n", -EINVAL },
                { "version=1\nfrom=-2\nto=3\n", -EINVAL },
                { "version=1\nfrom=2\nto=3\ngarbage\n", -EINVAL },
                { "", -EINVAL },
        };
        _cleanup_free_ char *t = NULL;
        UpdateMark m = {};

        is_int(update_mark_render(&(UpdateMark) { .from_rev = 2, .to_rev = 3, .since_usec = 5 }, &t), 0, "render");
        is_str(t, "version=1\nfrom=2\nto=3\nsince_usec=5\n", "the text of an update mark");
        is_int(update_mark_render(&(UpdateMark) { .to_rev = 3 }, &t), -EINVAL, "no from: nothing rendered");
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                is_int(update_mark_parse(table[i].text, &m), table[i].r, "update mark %zu: %d", i, table[i].r);
        is_int(update_mark_parse("version=1\nfrom=2\nto=3\nsince_usec=5\n", &m), 0, "parses");
        ok(m.from_rev == 2 && m.to_rev == 3 && m.since_usec == 5, "its fields");
}

static void test_rollback_record(void) {
        static const struct {
                const char *text;
                int r;
        } table[] = {
                { "version=1\nat_usec=9\nfailed=3\nrestored=2\nby=auto\nreason=x\n", 0 },
                { "version=1\nat_usec=9\nfailed=3\nrestored=2\nby=robot\n", -EINVAL },
                { "version=1\nfailed=3\nrestored=2\n", -EINVAL },
                { "version=1\nat_usec=9\nrestored=2\n", -EINVAL },
                { "version=3\nat_usec=9\nfailed=3\nrestored=2\n", -EPROTONOSUPPORT },
        };
        _cleanup_free_ char *t = NULL;
        _cleanup_(rollback_record_done) RollbackRecord r = {};

        is_int(rollback_record_render(&(RollbackRecord) { .at_usec = 9, .failed_rev = 3, .restored_rev = 2,
                                                          .reason = (char *) "bad\nhealth" },
                                      &t),
               0, "render");
        is_str(t, "version=1\nat_usec=9\nfailed=3\nrestored=2\nby=auto\nreason=bad health\n",
               "the reason on one line");
        is_int(rollback_record_parse(t, &r), 0, "parses back");
        ok(r.at_usec == 9 && r.failed_rev == 3 && r.restored_rev == 2 && !r.by_hand, "its fields");
        is_str(r.reason, "bad health", "its reason");
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_(rollback_record_done) RollbackRecord x = {};
                is_int(rollback_record_parse(table[i].text, &x), table[i].r, "rollback record %zu: %d", i, table[i].r);
        }
}

static ServiceSpec *spec_with(const char *image) {
        ServiceSpec *s = NULL;
        char json[256];
        JsonError e = {};
        json_t *j;

        snprintf(json, sizeof(json), "{\"name\":\"web\",\"image\":\"%s\"}", image);
        j = json_loads(json, 0, NULL);
        if (!j || service_spec_from_json(j, &s, &e) < 0)
                abort();
        json_decref(j);
        return s;
}

static void test_disk(void) {
        char dir[] = "/tmp/test-history.XXXXXX";
        _cleanup_free_ uint64_t *revs = NULL;
        _cleanup_free_ char *p = NULL, *sub = NULL;
        size_t n = 0;
        uint64_t rev = 0;
        struct stat st;

        if (!mkdtemp(dir))
                abort();
        is_int((int) history_latest(dir, "web"), 0, "no history yet");
        for (int i = 1; i <= 7; i++) {
                char image[32];
                _cleanup_(service_spec_freep) ServiceSpec *s = NULL;

                snprintf(image, sizeof(image), "local/web:%d", i);
                s = spec_with(image);
                is_int(history_append(dir, "web", s, &rev, NULL), 0, "append %s", image);
                is_int((int) rev, i, "revision %d", i);
                is_int(history_append(dir, "web", s, &rev, NULL), 0, "the same spec again");
                is_int((int) rev, i, "is the same revision");
        }
        is_int(history_list(dir, "web", false, &revs, &n), 0, "list");
        ok(n == HISTORY_KEEP && revs[0] == 3 && revs[n - 1] == 7, "the last %d kept: 3..7", HISTORY_KEEP);
        p = history_spec_path(dir, "web", 7, false);
        ok(stat(p, &st) == 0 && (st.st_mode & 07777) == 0600, "a kept spec is 0600");
        sub = path_join(dir, HISTORY_DIR "/web");
        ok(stat(sub, &st) == 0 && (st.st_mode & 07777) == 0700, "its directory is 0700");

        is_int(history_set_aside(dir, "web", 7), 0, "set 7 aside");
        is_int((int) history_latest(dir, "web"), 6, "6 is the latest kept");
        {
                _cleanup_(service_spec_freep) ServiceSpec *failed = NULL, *again = spec_with("local/web:8");
                is_int(history_load(dir, "web", 7, true, &failed, NULL), 0, "the set-aside spec loads");
                is_str(failed ? failed->image : NULL, "local/web:7", "its image");
                is_int(history_append(dir, "web", again, &rev, NULL), 0, "append after a set-aside");
                is_int((int) rev, 8, "the revision is not reused");
        }
        {
                UpdateMark m = {};
                _cleanup_(rollback_record_done) RollbackRecord rr = {};
                is_int(update_mark_read(dir, "web", &m), 0, "no update mark");
                is_int(update_mark_write(dir, "web", &(UpdateMark) { .from_rev = 6, .to_rev = 8, .since_usec = 1 }), 0,
                       "mark an update");
                is_int(update_mark_read(dir, "web", &m), 1, "read it");
                ok(m.from_rev == 6 && m.to_rev == 8, "from 6 to 8");
                is_int(update_mark_clear(dir, "web"), 0, "clear");
                is_int(update_mark_read(dir, "web", &m), 0, "gone");
                is_int(rollback_record_write(dir, "web",
                                             &(RollbackRecord) { .at_usec = 5, .failed_rev = 8, .restored_rev = 6,
                                                                 .reason = (char *) "r" }),
                       0, "record a rollback");
                is_int(rollback_record_read(dir, "web", &rr), 1, "read it");
                ok(rr.failed_rev == 8 && rr.restored_rev == 6, "8 failed, 6 restored");
        }
        {
                _cleanup_free_ char *tmp = path_join(sub, ".#9.json.abcdef");
                FILE *f = tmp ? fopen(tmp, "w") : NULL;
                if (f)
                        fclose(f);
                is_int(history_remove_stale_temp_files(dir), 1, "a temporary file a kill left is removed");
                ok(access(tmp, F_OK) < 0, "  and gone");
        }
        is_int(history_remove(dir, "web"), 0, "remove");
        ok(access(sub, F_OK) < 0 && errno == ENOENT, "the directory is gone");
        free(p);
        p = path_join(dir, HISTORY_DIR);
        (void) rmdir(p);
        (void) rmdir(dir);
}

int main(void) {
        test_entry_names();
        test_previous();
        test_update_mark();
        test_rollback_record();
        test_disk();
        return tap_done();
}
