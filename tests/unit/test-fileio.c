/* SPDX-License-Identifier: MIT */
/* src/shared/fileio: whole-file reads, atomic writes, durable unlink, mkdir -p and path joining, in a
 * temporary directory under /tmp that is removed at the end. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "shared/fileio.h"
#include "shared/macro.h"
#include "tap.h"

static char tmpdir[] = "/tmp/test-fileio.XXXXXX";

static char *tpath(const char *name) {
        char *p = path_join(tmpdir, name);
        if (!p)
                abort();
        return p;
}

static void write_raw(const char *path, const void *data, size_t size) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, data, size) != (ssize_t) size)
                abort();
}

/* Names in dir other than "." and "..", joined by spaces in readdir order (callers use one-entry dirs or
 * count). Returns the number of entries. */
static int dir_entries(const char *dir, char *buf, size_t len) {
        DIR *d = opendir(dir);
        struct dirent *de;
        int n = 0;

        buf[0] = 0;
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (n++ > 0)
                        strncat(buf, " ", len - strlen(buf) - 1);
                strncat(buf, de->d_name, len - strlen(buf) - 1);
        }
        closedir(d);
        return n;
}

static void test_read_full_file(void) {
        _cleanup_free_ char *p = tpath("read"), *big = tpath("big"), *missing = tpath("missing"), *empty = tpath("empty");
        _cleanup_free_ char *data = NULL, *large = NULL;
        size_t size = 12345;
        char *buf = (char *) "untouched";

        write_raw(p, "hello\0world", 11);
        is_int(read_full_file(p, 100, &data, &size), 0, "read_full_file() reads a small file");
        is_int(size, 11, "size counts every byte, embedded NUL included");
        ok(data && memcmp(data, "hello\0world", 11) == 0, "content is the file's bytes");
        ok(data && data[11] == 0, "the buffer is NUL-terminated after the content");
        free(TAKE_PTR(data));

        is_int(read_full_file(p, 11, &data, NULL), 0, "a file of exactly max_size is accepted (ret_size may be NULL)");
        free(TAKE_PTR(data));
        is_int(read_full_file(p, 10, &buf, &size), -EFBIG, "a file one byte over max_size is -EFBIG");
        is_str(buf, "untouched", "*ret is not written on failure");
        is_int(size, 11, "*ret_size is not written on failure");

        write_raw(empty, "", 0);
        is_int(read_full_file(empty, 0, &data, &size), 0, "an empty file with max_size 0 is accepted");
        is_int(size, 0, "empty file has size 0");
        is_str(data, "", "empty file gives \"\"");
        free(TAKE_PTR(data));

        /* Larger than one read buffer: the growth path, and the limit at and around buffer boundaries. */
        static const size_t sizes[] = { 4095, 4096, 4097, 8191, 8192, 100000 };
        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                size_t n = sizes[i];

                large = malloc(n);
                if (!large)
                        abort();
                for (size_t j = 0; j < n; j++)
                        large[j] = (char) ('a' + j % 26);
                write_raw(big, large, n);

                is_int(read_full_file(big, n, &data, &size), 0, "%zu-byte file with max_size %zu is read", n, n);
                ok(size == n && data && memcmp(data, large, n) == 0 && data[n] == 0,
                   "%zu-byte file: size, content and NUL terminator", n);
                free(TAKE_PTR(data));
                is_int(read_full_file(big, n - 1, &data, &size), -EFBIG, "%zu-byte file with max_size %zu is -EFBIG", n,
                       n - 1);
                ok(!data, "no buffer handed out on -EFBIG");
                free(TAKE_PTR(large));
        }

        is_int(read_full_file(missing, 100, &buf, NULL), -ENOENT, "a missing file is -ENOENT");
        is_int(read_full_file(tmpdir, 100, &buf, NULL), -EISDIR, "a directory is -EISDIR");
        is_str(buf, "untouched", "*ret still untouched");
}

static void test_write_file_atomic(void) {
        _cleanup_free_ char *dir = tpath("atomic"), *p = NULL, *data = NULL, *sub = NULL, *hardlink = NULL;
        char names[1024];
        struct stat st, st2;
        size_t size;
        mode_t old_umask;

        if (mkdir(dir, 0755) < 0)
                abort();
        p = path_join(dir, "state.json");
        hardlink = path_join(dir, "old-link");

        old_umask = umask(0077);
        is_int(write_file_atomic(p, "{\"a\":1}\n", 8, 0644), 0, "write_file_atomic() creates a file");
        umask(old_umask);
        is_int(read_full_file(p, 1024, &data, &size), 0, "the new file is readable");
        is_int(size, 8, "it has the size written");
        is_str(data, "{\"a\":1}\n", "it has the content written");
        free(TAKE_PTR(data));
        is_int(stat(p, &st), 0, "stat() the new file");
        is_int((unsigned) (st.st_mode & 07777), 0644, "mode is exactly 0644 whatever the umask");
        is_int(dir_entries(dir, names, sizeof(names)), 1, "no temporary file left behind");
        is_str(names, "state.json", "the directory holds only the target");

        /* Overwrite: a new inode renamed over the old one, so a reader that has the old file open (or a hard
         * link to it) still sees the old content in full, never a mix. */
        _cleanup_close_ int old_fd = open(p, O_RDONLY | O_CLOEXEC);
        ok(old_fd >= 0 && hardlink && link(p, hardlink) == 0, "held the old file open and hard-linked it");
        is_int(write_file_atomic(p, "new content, longer than before", 31, 0600), 0, "overwrite succeeds");
        ok(stat(p, &st2) == 0 && st2.st_ino != st.st_ino, "the target is a new inode (renamed over, not rewritten)");
        is_int((unsigned) (st2.st_mode & 07777), 0600, "overwrite applies the new mode");
        is_int(read_full_file(p, 1024, &data, &size), 0, "the overwritten file is readable");
        is_str(data, "new content, longer than before", "the target has the new content");
        free(TAKE_PTR(data));
        char old[16] = {};
        ok(pread(old_fd, old, sizeof(old) - 1, 0) == 8 && streq(old, "{\"a\":1}\n"),
           "the old inode still has the old content, complete");
        is_int(read_full_file(hardlink, 1024, &data, NULL), 0, "the hard link is readable");
        is_str(data, "{\"a\":1}\n", "the hard link still has the old content");
        free(TAKE_PTR(data));
        (void) unlink(hardlink);
        is_int(dir_entries(dir, names, sizeof(names)), 1, "still no temporary file after the overwrite");

        is_int(write_file_atomic(p, "", 0, 0640), 0, "an empty write succeeds");
        ok(stat(p, &st) == 0 && st.st_size == 0 && (st.st_mode & 07777) == 0640, "empty file with mode 0640");

        /* A relative path: the temporary file must go beside it, in the working directory. */
        _cleanup_close_ int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ok(cwd >= 0 && chdir(dir) == 0, "chdir into the test directory");
        is_int(write_file_atomic("relative", "r", 1, 0644), 0, "a relative path (no slash) works");
        is_int(read_full_file("relative", 10, &data, NULL), 0, "and is readable");
        is_str(data, "r", "with its content");
        free(TAKE_PTR(data));
        ok(fchdir(cwd) == 0, "back to the old working directory");
        is_int(dir_entries(dir, names, sizeof(names)), 2, "two files, no temporary ones");
        sub = path_join(dir, "relative");
        (void) unlink(sub);
        free(TAKE_PTR(sub));

        /* Failures clean up after themselves. */
        sub = path_join(dir, "no/such/dir/file");
        is_int(write_file_atomic(sub, "x", 1, 0644), -ENOENT, "a missing parent directory is -ENOENT");
        free(TAKE_PTR(sub));
        sub = path_join(dir, "a-directory");
        ok(mkdir(sub, 0755) == 0, "made a directory where the target would go");
        is_int(write_file_atomic(sub, "x", 1, 0644), -EISDIR, "renaming over a directory is -EISDIR");
        (void) rmdir(sub);
        is_int(dir_entries(dir, names, sizeof(names)), 1, "the failed write left no temporary file");
        is_str(names, "state.json", "only the target remains");
}

static void test_remove_stale_temp_files(void) {
        _cleanup_free_ char *dir = tpath("stale"), *p = NULL, *tmp = NULL, *other = NULL, *lock = NULL, *sub = NULL;
        char names[1024];
        int fd;

        if (mkdir(dir, 0755) < 0)
                abort();
        p = path_join(dir, "web.json");
        tmp = path_join(dir, ".#web.json.a1B2c3");   /* what a kill -9 inside write_file_atomic() leaves */
        other = path_join(dir, ".#web.json.tooLONGsuffix");
        lock = path_join(dir, ".#notes.json.x1y2z3");
        sub = path_join(dir, ".#dir.json.d1d2d3");
        ok(write_file_atomic(p, "{}", 2, 0600) == 0, "a target written");
        fd = open(tmp, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        ok(fd >= 0 && write(fd, "{\"na", 4) == 4, "a half-written temporary file beside it");
        safe_close(fd);
        fd = open(other, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        safe_close(fd);
        ok(symlink("nowhere", lock) == 0 && mkdir(sub, 0755) == 0, "a symlink and a directory with such names");

        is_int(remove_stale_temp_files(dir, "web"), 1, "one stale temporary file of prefix web removed");
        ok(access(tmp, F_OK) < 0 && errno == ENOENT, "it is gone");
        ok(access(p, F_OK) == 0, "the target is kept");
        ok(access(other, F_OK) == 0, "a name that is not mkostemp()'s is kept");
        is_int(remove_stale_temp_files(dir, ""), 0, "symlinks and directories are never removed");
        ok(unlink(other) == 0 && unlink(lock) == 0 && rmdir(sub) == 0 && unlink(p) == 0, "cleaned up");
        is_int(dir_entries(dir, names, sizeof(names)), 0, "the directory is empty");
        free(TAKE_PTR(p));
        p = path_join(dir, "missing");
        is_int(remove_stale_temp_files(p, ""), 0, "a missing directory is not an error");
}

static void test_unlink_durable(void) {
        _cleanup_free_ char *p = tpath("doomed"), *d = tpath("doomed-dir"), *nodir = tpath("nodir/x");
        struct stat st;

        write_raw(p, "x", 1);
        is_int(unlink_durable(p), 0, "unlink_durable() removes an existing file");
        ok(stat(p, &st) < 0 && errno == ENOENT, "the file is gone");
        is_int(unlink_durable(p), 0, "a missing file is not an error");
        is_int(unlink_durable(nodir), 0, "a file in a missing directory is not an error either");
        ok(mkdir(d, 0755) == 0, "made a directory");
        is_int(unlink_durable(d), -EISDIR, "a directory is refused with -EISDIR");
        (void) rmdir(d);
}

static void test_mkdir_parents_and_self(void) {
        _cleanup_free_ char *deep = tpath("m/a/b/c"), *top = tpath("m"), *slash = tpath("s//x/"), *file = tpath("file"),
                            *under_file = tpath("file/sub");
        struct stat st;
        mode_t old_umask = umask(022);

        is_int(mkdir_parents_and_self(deep, 0750), 0, "mkdir_parents_and_self() creates a/b/c");
        ok(stat(deep, &st) == 0 && S_ISDIR(st.st_mode), "the leaf is a directory");
        is_int((unsigned) (st.st_mode & 07777), 0750, "the leaf has the mode given");
        ok(stat(top, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0750,
           "created parents have the mode given too");
        is_int(mkdir_parents_and_self(deep, 0700), 0, "an existing directory is fine");
        ok(stat(deep, &st) == 0 && (st.st_mode & 07777) == 0750, "and is not chmod-ed");
        is_int(mkdir_parents_and_self(slash, 0755), 0, "doubled and trailing slashes are fine");
        free(slash);
        slash = tpath("s/x");
        ok(stat(slash, &st) == 0 && S_ISDIR(st.st_mode), "s/x exists");

        write_raw(file, "x", 1);
        is_int(mkdir_parents_and_self(under_file, 0755), -ENOTDIR, "a regular file in the way of a parent is -ENOTDIR");
        /* Like "mkdir -p", the path must end up a directory: an existing regular file is not one. */
        int r = mkdir_parents_and_self(file, 0755);
        ok(r == -EEXIST || r == -ENOTDIR, "an existing regular file at the path itself is refused (-EEXIST or -ENOTDIR)");
        if (r >= 0)
                diag("got %d: the caller would believe it has a directory", r);
        umask(old_umask);
}

static void test_path_join(void) {
        static const struct {
                const char *a, *b, *want;
        } joins[] = {
                { "a", "b", "a/b" },
                { "a/", "b", "a/b" },
                { "a", "/b", "a/b" },
                { "a//", "//b", "a/b" },
                { "/", "etc", "/etc" },
                { "/", "/etc", "/etc" },
                { "/srv/root", "etc/x/", "/srv/root/etc/x/" },
                { "a", "b/c", "a/b/c" },
        };
        static const struct {
                const char *root, *path, *want;
        } roots[] = {
                { NULL, "/etc/x", "/etc/x" },
                { "", "/etc/x", "/etc/x" },
                { "/", "/etc/x", "/etc/x" },
                { "/srv/root", "/etc/x", "/srv/root/etc/x" },
                { "/srv/root/", "/etc/x", "/srv/root/etc/x" },
                { "/srv/root", "etc/x", "/srv/root/etc/x" },
                { "/srv/root//", "//run/ballast/ballastd.sock", "/srv/root/run/ballast/ballastd.sock" },
        };

        for (size_t i = 0; i < ELEMENTSOF(joins); i++) {
                _cleanup_free_ char *r = path_join(joins[i].a, joins[i].b);
                is_str(r, joins[i].want, "path_join(\"%s\", \"%s\") = \"%s\"", joins[i].a, joins[i].b, joins[i].want);
        }
        for (size_t i = 0; i < ELEMENTSOF(roots); i++) {
                _cleanup_free_ char *r = path_join_root(roots[i].root, roots[i].path);
                is_str(r, roots[i].want, "path_join_root(%s%s%s, \"%s\") = \"%s\"", roots[i].root ? "\"" : "",
                       roots[i].root ?: "NULL", roots[i].root ? "\"" : "", roots[i].path, roots[i].want);
        }
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path) < 0 ? -1 : 0;
}

/* An existing path that is not a regular file is never replaced. Everything here is made in the test's own
 * directory: a fifo, a character device node made with mknod (the null device's numbers: writing to it is
 * harmless), symlinks; the host's /dev is never touched. */
static void test_not_regular(void) {
        _cleanup_free_ char *dir = tpath("special"), *fifo = NULL, *dev = NULL, *link = NULL, *masked = NULL,
                            *target = NULL, *sub = NULL, *data = NULL, *dangling = NULL;
        struct stat st;
        char buf[64] = {};

        if (mkdir(dir, 0755) < 0)
                abort();
        fifo = path_join(dir, "fifo");
        dev = path_join(dir, "null");
        link = path_join(dir, "link");
        masked = path_join(dir, "ballast-web.service");
        target = path_join(dir, "target");
        sub = path_join(dir, "sub");
        dangling = path_join(dir, "dangling");
        ok(mkfifo(fifo, 0600) == 0, "a fifo");
        ok(mknod(dev, S_IFCHR | 0666, makedev(1, 3)) == 0, "a character device node (1:3) in the test's directory");
        ok(symlink(dev, masked) == 0, "a unit masked with a symlink to that device node");
        ok(write_file_atomic(target, "old", 3, 0644) == 0 && symlink(target, link) == 0, "a symlink to a file");
        ok(mkdir(sub, 0755) == 0 && symlink("nowhere", dangling) == 0, "a directory, a dangling symlink");

        /* state files, units: refused, left as they were */
        is_int(write_file_atomic(fifo, "x", 1, 0600), -EEXIST, "write_file_atomic() over a fifo is refused");
        ok(lstat(fifo, &st) == 0 && S_ISFIFO(st.st_mode), "  it is still a fifo");
        is_int(write_file_atomic(dev, "x", 1, 0600), -EEXIST, "over a device node: refused");
        ok(lstat(dev, &st) == 0 && S_ISCHR(st.st_mode), "  it is still a device node");
        is_int(write_file_atomic(masked, "[Unit]\n", 7, 0644), -ELOOP, "over a masked unit (symlink): refused");
        ok(lstat(masked, &st) == 0 && S_ISLNK(st.st_mode), "  the unit is still masked");
        is_int(write_file_atomic(link, "new", 3, 0644), -ELOOP, "over a symlink to a file: refused");
        ok(lstat(link, &st) == 0 && S_ISLNK(st.st_mode), "  it is still a symlink");
        ok(read_full_file(target, 64, &data, NULL) == 0 && streq(data, "old"), "  its target unchanged");
        free(TAKE_PTR(data));
        is_int(write_file_atomic(sub, "x", 1, 0644), -EISDIR, "over a directory: refused");

        /* an output a user names: written through */
        _cleanup_close_ int reader = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        ok(reader >= 0, "a reader on the fifo");
        is_int(write_file_output(fifo, "through the pipe", 16, 0644), 0, "write_file_output() to a fifo");
        ok(read(reader, buf, sizeof(buf)) == 16 && strneq(buf, "through the pipe", 16), "  the reader got the bytes");
        ok(lstat(fifo, &st) == 0 && S_ISFIFO(st.st_mode), "  it is still a fifo");
        /* on a nodev file system (a /tmp mounted nodev, as in many containers and CI roots) the kernel refuses to
         * open the node (EACCES): written through or refused, never replaced */
        struct statvfs vfs;
        int want_dev = statvfs(dir, &vfs) == 0 && (vfs.f_flag & ST_NODEV) ? -EACCES : 0;
        is_int(write_file_output(dev, "x", 1, 0644), want_dev, "to a device node: written through%s",
               want_dev ? " (here: refused, the file system is nodev)" : "");
        ok(lstat(dev, &st) == 0 && S_ISCHR(st.st_mode), "  it is still a device node");
        is_int(write_file_output(masked, "x", 1, 0644), want_dev, "through a symlink to a device node");
        ok(lstat(masked, &st) == 0 && S_ISLNK(st.st_mode), "  the link stays");
        is_int(write_file_output(link, "new", 3, 0644), 0, "through a symlink to a file");
        ok(lstat(link, &st) == 0 && S_ISLNK(st.st_mode), "  the link stays");
        ok(read_full_file(target, 64, &data, NULL) == 0 && streq(data, "new"), "  the file it leads to was replaced");
        is_int(write_file_output(sub, "x", 1, 0644), -EISDIR, "to a directory: refused");
        is_int(write_file_atomic(dangling, "x", 1, 0644), -ELOOP, "a dangling symlink is not replaced either");
        ok(lstat(dangling, &st) == 0 && S_ISLNK(st.st_mode), "  it is still a symlink");
}

int main(void) {
        if (!mkdtemp(tmpdir)) {
                printf("Bail out! mkdtemp(): %s\n", strerror(errno));
                return 1;
        }
        diag("working in %s", tmpdir);

        test_read_full_file();
        test_write_file_atomic();
        test_not_regular();
        test_remove_stale_temp_files();
        test_unlink_durable();
        test_mkdir_parents_and_self();
        test_path_join();

        ok(nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0, "removed %s", tmpdir);
        return tap_done();
}
