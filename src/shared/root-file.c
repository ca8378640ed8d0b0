/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/macro.h"
#include "shared/root-file.h"

_printf_(3, 4) static int fail(char **ret_error, int r, const char *format, ...) {
        va_list ap;

        if (ret_error) {
                va_start(ap, format);
                if (vasprintf(ret_error, format, ap) < 0)
                        *ret_error = NULL;
                va_end(ap);
        }
        return r;
}

static const char *forbidden_what(mode_t forbidden) {
        if ((forbidden & S_IROTH) && (forbidden & S_IWOTH))
                return "readable or writable by others";
        if (forbidden & S_IROTH)
                return "readable by others";
        return "writable by others";
}

int open_root_file(const char *path, mode_t forbidden, const char *what, char **ret_error) {
        _cleanup_close_ int fd = -1;
        struct stat st;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return fail(ret_error, -errno, "cannot open the %s %s: %s", what, path, strerror(errno));
        if (fstat(fd, &st) < 0)
                return fail(ret_error, -errno, "cannot stat the %s %s: %s", what, path, strerror(errno));
        if (!S_ISREG(st.st_mode))
                return fail(ret_error, -EINVAL, "the %s %s is not a regular file", what, path);
        if (st.st_uid != 0)
                return fail(ret_error, -EPERM, "refusing the %s %s: it is owned by uid %u, not root", what, path,
                            (unsigned) st.st_uid);
        if (st.st_mode & forbidden)
                return fail(ret_error, -EPERM, "refusing the %s %s: its mode is %04o, it must not be %s", what, path,
                            (unsigned) (st.st_mode & 07777), forbidden_what(forbidden));
        return TAKE_FD(fd);
}

int read_root_file(const char *path, mode_t forbidden, const char *what, char **ret, char **ret_error) {
        _cleanup_close_ int fd = open_root_file(path, forbidden, what, ret_error);
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;

        if (fd < 0)
                return fd;
        buf = malloc(ROOT_FILE_MAX + 1);
        if (!buf)
                return fail(ret_error, -ENOMEM, "out of memory");
        for (;;) {
                ssize_t k = read(fd, buf + size, ROOT_FILE_MAX + 1 - size);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return fail(ret_error, -errno, "cannot read the %s %s: %s", what, path, strerror(errno));
                if (k == 0)
                        break;
                size += (size_t) k;
                if (size > ROOT_FILE_MAX)
                        return fail(ret_error, -EFBIG, "the %s %s is larger than %u bytes", what, path, ROOT_FILE_MAX);
        }
        buf[size] = 0;
        if (strlen(buf) != size)
                return fail(ret_error, -EINVAL, "the %s %s contains a NUL byte", what, path);
        *ret = TAKE_PTR(buf);
        return 0;
}
