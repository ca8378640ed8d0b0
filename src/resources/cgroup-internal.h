/* SPDX-License-Identifier: MIT */
#pragma once

/* What the cgroup module's own files share (cgroup.c, cgroup-backend.c): the target a backend works on. Not for
 * other modules: they use resources/cgroup.h. */

#include <stdbool.h>

#include "resources/cgroup.h"

struct cgroup; /* libcgroup's */

struct CgroupTarget {
        const CgroupBackend *backend;
        CgroupMode mode;
        const char *fs_root;
        const char *path;          /* without a leading '/' */
        bool mounts_checked;       /* libcgroup: its hierarchies are the ones below fs_root */
        struct cgroup *snapshot;   /* libcgroup: every control file, read by the first read */
};
