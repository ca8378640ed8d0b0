/* SPDX-License-Identifier: MIT */
/* The persisted "stopped on purpose" mark of a service (stopped.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/fileio.h"
#include "shared/macro.h"
#include "shared/parse-util.h"
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

struct mark_fields {
        StoppedBy by;
        uint64_t since;
};

static int mark_key(const char *key, const char *value, void *userdata) {
        struct mark_fields *m = userdata;

        if (streq(key, "by")) {
                if (streq(value, "ballastctl"))
                        m->by = STOPPED_BY_CTL;
                else if (streq(value, "hand"))
                        m->by = STOPPED_BY_HAND;
                else
                        return -EINVAL;
        } else if (streq(key, "since_usec"))
                return safe_atou64(value, &m->since) < 0 ? -EINVAL : 0;
        return 0;
}

int stopped_mark_parse(const char *text, StoppedBy *ret_by, uint64_t *ret_since_usec) {
        struct mark_fields m = { .by = STOPPED_NONE };
        int r = parse_versioned_keys(text, STOPPED_FORMAT, mark_key, &m);

        if (r < 0)
                return r;
        if (m.by == STOPPED_NONE)
                return -EINVAL;
        *ret_by = m.by;
        if (ret_since_usec)
                *ret_since_usec = m.since;
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
