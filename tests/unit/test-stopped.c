/* SPDX-License-Identifier: MIT */
/* The "stopped on purpose" mark (src/supervisor/stopped.c): its text, what is refused, and the file: 0600 in a
 * 0700 directory, written atomically, read back, cleared. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/fileio.h"
#include "shared/macro.h"
#include "supervisor/stopped.h"
#include "tap.h"

static void test_text(void) {
        _cleanup_free_ char *t = NULL;
        StoppedBy by = STOPPED_NONE;
        uint64_t since = 0;

        is_int(stopped_mark_render(STOPPED_BY_CTL, 1733428000123456ULL, &t), 0, "render");
        is_str(t, "version=1\nby=ballastctl\nsince_usec=1733428000123456\n", "the text of a ballastctl stop");
        is_int(stopped_mark_parse(t, &by, &since), 0, "parses back");
        is_int(by, STOPPED_BY_CTL, "by ballastctl");
        ok(since == 1733428000123456ULL, "since");
        is_int(stopped_mark_parse("version=1\nby=hand\nsince_usec=5\nfuture=x\n", &by, &since), 0,
               "an unknown key of the same version is ignored");
        is_int(by, STOPPED_BY_HAND, "by hand");
        is_int(stopped_mark_render(STOPPED_NONE, 0, &t), -EINVAL, "nothing to render for NONE");

        is_int(stopped_mark_parse("version=2\nby=hand\n", &by, NULL), -EPROTONOSUPPORT, "a newer version is refused");
        is_int(stopped_mark_parse("by=hand\n", &by, NULL), -EINVAL, "no version");
        is_int(stopped_mark_parse("version=1\n", &by, NULL), -EINVAL, "no by");
        is_int(stopped_mark_parse("version=1\nby=someone\n", &by, NULL), -EINVAL, "an unknown by");
        is_int(stopped_mark_parse("version=1\nby=hand\nsince_usec=-1\n", &by, NULL), -EINVAL, "a negative time");
        is_int(stopped_mark_parse("version=1\nby=hand\ngarbage\n", &by, NULL), -EINVAL, "a line without =");
        is_int(stopped_mark_parse("", &by, NULL), -EINVAL, "empty");
}

static void test_file(void) {
        char dir[] = "/tmp/test-stopped.XXXXXX";
        _cleanup_free_ char *sub = NULL, *path = NULL;
        StoppedBy by = STOPPED_NONE;
        uint64_t since = 0;
        struct stat st;

        if (!mkdtemp(dir))
                abort();
        sub = path_join(dir, STOPPED_DIR);
        path = path_join(sub, "web");
        is_int(stopped_mark_read(dir, "web", &by, &since), 0, "no mark: 0");
        is_int(stopped_mark_write(dir, "web", STOPPED_BY_HAND, 42), 0, "write");
        ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600, "the mark is 0600");
        ok(stat(sub, &st) == 0 && (st.st_mode & 07777) == 0700, "its directory 0700");
        is_int(stopped_mark_read(dir, "web", &by, &since), 1, "read: 1");
        ok(by == STOPPED_BY_HAND && since == 42, "what was written");
        is_int(stopped_mark_write(dir, "web", STOPPED_BY_CTL, 43), 0, "rewritten");
        is_int(stopped_mark_read(dir, "web", &by, &since), 1, "read again");
        ok(by == STOPPED_BY_CTL && since == 43, "the new content");
        is_int(remove_stale_temp_files(sub, ""), 0, "no temporary file left beside it");
        is_int(stopped_mark_clear(dir, "web"), 0, "clear");
        ok(access(path, F_OK) < 0 && errno == ENOENT, "gone");
        is_int(stopped_mark_clear(dir, "web"), 0, "clearing twice is fine");
        rmdir(sub);
        rmdir(dir);
}

int main(void) {
        test_text();
        test_file();
        return tap_done();
}
