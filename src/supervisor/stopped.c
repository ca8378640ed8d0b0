/* SPDX-License-Identifier: MIT */
/* The persisted "stopped on purpose" mark of a service (stopped.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/fileio.h"
#include "shared/macro.h"
#include "supervisor/stopped.h"

const char *stopped_by_to_string(StoppedBy by) {
        switch (by) {
        case STOPPED_BY_CTL:
                return "ballastctl";
        case STOPPED_BY_HAND:
                return "hand";
        default:
                return NULL;
        }
}

int stopped_mark_render(StoppedBy by, uint64_t since_usec, char **ret_text) {
        const char *s = stopped_by_to_string(by);

        if (!s)
                return -EINVAL;
        if (asprintf(ret_text, "version=%d\nby=%s\nsince_usec=%" PRIu64 "\n", STOPPED_FORMAT, s, since_usec) < 0)
                return -ENOMEM;
        return 0;
}

static int parse_u64(const char *v, uint64_t *ret) {
        char *end;
        unsigned long long u;

        if (!*v || *v == '-' || *v == '+' || *v == ' ')
                return -EINVAL;
        errno = 0;
        u = strtoull(v, &end, 10);
        if (errno != 0 || *end)
                return -EINVAL;
        *ret = u;
        return 0;
}

int stopped_mark_parse(const char *text, StoppedBy *ret_by, uint64_t *ret_since_usec) {
        _cleanup_free_ char *copy = strdup(text);
        StoppedBy by = STOPPED_NONE;
        uint64_t since = 0, version = 0;
        bool have_version = false;
        char *save = NULL;

        if (!copy)
                return -ENOMEM;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *eq = strchr(line, '=');

                if (!eq)
                        return -EINVAL;
                *eq = 0;
                if (streq(line, "version")) {
                        if (parse_u64(eq + 1, &version) < 0)
                                return -EINVAL;
                        have_version = true;
                } else if (streq(line, "by")) {
                        if (streq(eq + 1, "ballastctl"))
                                by = STOPPED_BY_CTL;
                        else if (streq(eq + 1, "hand"))
                                by = STOPPED_BY_HAND;
                        else
                                return -EINVAL;
                } else if (streq(line, "since_usec")) {
                        if (parse_u64(eq + 1, &since) < 0)
                                return -EINVAL;
                }
                /* other keys: a newer ballastd's, of the same version */
        }
        if (!have_version || version < 1)
                return -EINVAL;
        if (version > STOPPED_FORMAT)
                return -EPROTONOSUPPORT;
        if (by == STOPPED_NONE)
                return -EINVAL;
        *ret_by = by;
        if (ret_since_usec)
                *ret_since_usec = since;
        return 0;
}

static char *mark_path(const char *state_dir, const char *name) {
        _cleanup_free_ char *dir = path_join(state_dir, STOPPED_DIR);
        return dir ? path_join(dir, name) : NULL;
}

int stopped_mark_write(const char *state_dir, const char *name, StoppedBy by, uint64_t since_usec) {
        _cleanup_free_ char *path = mark_path(state_dir, name), *text = NULL;
        int r;

        if (!path)
                return -ENOMEM;
        r = stopped_mark_render(by, since_usec, &text);
        if (r < 0)
                return r;
        r = mkdir_parents(path, 0700);
        if (r < 0)
                return r;
        return write_file_atomic(path, text, strlen(text), 0600);
}

int stopped_mark_read(const char *state_dir, const char *name, StoppedBy *ret_by, uint64_t *ret_since_usec) {
        _cleanup_free_ char *path = mark_path(state_dir, name), *text = NULL;
        int r;

        if (!path)
                return -ENOMEM;
        r = read_full_file(path, 4096, &text, NULL);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        r = stopped_mark_parse(text, ret_by, ret_since_usec);
        return r < 0 ? r : 1;
}

int stopped_mark_clear(const char *state_dir, const char *name) {
        _cleanup_free_ char *path = mark_path(state_dir, name);
        return path ? unlink_durable(path) : -ENOMEM;
}
