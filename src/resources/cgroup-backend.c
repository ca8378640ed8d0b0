/* SPDX-License-Identifier: MIT */
/* The two ways to reach a cgroup's control files (CgroupBackend): libcgroup on a mounted cgroup file system,
 * plain files on a fixture tree (tests, --root). */
#include <errno.h>
#include <fcntl.h>
#include <libcgroup.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "resources/cgroup-internal.h"
#include "shared/fileio.h"
#include "shared/log.h"
#include "shared/parse-util.h"

#define CGROUP_FILE_MAX (1024U * 1024U)

static const char *const v1_controllers[] = { "memory", "cpu", "cpuacct", "pids", NULL };
static const char *const v2_controllers[] = { "memory", "cpu", "pids", NULL };

static const char *const *mode_controllers(CgroupMode mode) {
        return mode == CGROUP_MODE_V1 ? v1_controllers : v2_controllers;
}
/* ---- the libcgroup backend ---- */

static void cgroup_freep(struct cgroup **cg) {
        if (*cg)
                cgroup_free(cg);
}
#define _cleanup_cgroup_ _cleanup_(cgroup_freep)

/* libcgroup's error codes as errnos. ECGOTHER carries the errno of the failed system call. */
static int cg_errno(int r) {
        switch (r) {
        case 0:
                return 0;
        case ECGOTHER: {
                int e = cgroup_get_last_errno();
                return e > 0 ? -e : -EIO;
        }
        case ECGROUPNOTEXIST:
        case ECGROUPVALUENOTEXIST:
                return -ENOENT;
        case ECGROUPNOTMOUNTED:
        case ECGROUPSUBSYSNOTMOUNTED:
        case ECGROUPNOTCOMPILED:
                return -ENOMEDIUM;
        case ECGROUPNOTOWNER:
        case ECGROUPNOTALLOWED:
                return -EPERM;
        case ECGINVAL:
                return -EINVAL;
        case ECGNONEMPTY:
                return -EBUSY;
        case ECGROUPNOTINITIALIZED:
                return -ENXIO;
        default:
                return -EIO;
        }
}

static int cg_mount_point(const char *controller, char **ret) {
        int r;

        r = cgroup_get_subsys_mount_point(controller, ret);
        if (r == ECGROUPNOTINITIALIZED) {
                /* the first use in this process: libcgroup reads /proc/mounts once */
                r = cgroup_init();
                if (r != 0)
                        return log_debug_errno(cg_errno(r), "libcgroup: cgroup_init() failed: %s",
                                               cgroup_strerror(r));
                r = cgroup_get_subsys_mount_point(controller, ret);
        }
        if (r != 0)
                return -ENOMEDIUM; /* this controller is not mounted at all */
        return 0;
}

static bool same_directory(const char *a, const char *b) {
        struct stat sa, sb;

        return stat(a, &sa) >= 0 && stat(b, &sb) >= 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* libcgroup works on the hierarchies of the mount table: make sure they are the ones the caller means. */
static int lc_check_mounts(CgroupTarget *t) {
        if (t->mounts_checked)
                return 0;
        for (const char *const *c = mode_controllers(t->mode); *c; c++) {
                _cleanup_free_ char *mp = NULL, *want = NULL;
                int r;

                r = cg_mount_point(*c, &mp);
                if (r < 0)
                        return log_debug_errno(r, "libcgroup: controller %s is not mounted.", *c);
                want = t->mode == CGROUP_MODE_V1 ? path_join(t->fs_root, *c) : strdup(t->fs_root);
                if (!want)
                        return -ENOMEM;
                if (!same_directory(mp, want))
                        return log_debug_errno(-ENOMEDIUM,
                                               "libcgroup: controller %s is mounted at %s, not at %s.",
                                               *c, mp, want);
        }
        t->mounts_checked = true;
        return 0;
}

static void lc_release(CgroupTarget *t) {
        if (t->snapshot)
                cgroup_free(&t->snapshot);
}

static int lc_read(CgroupTarget *t, const char *controller, const char *file, char **ret) {
        struct cgroup_controller *ctl;
        char *v = NULL;
        int r;

        r = lc_check_mounts(t);
        if (r < 0)
                return r;
        if (!t->snapshot) {
                _cleanup_cgroup_ struct cgroup *cg = cgroup_new_cgroup(t->path);

                if (!cg)
                        return -ENOMEM;
                r = cgroup_get_cgroup(cg);
                if (r != 0)
                        return cg_errno(r);
                t->snapshot = TAKE_PTR(cg);
        }
        ctl = cgroup_get_controller(t->snapshot, controller);
        if (!ctl)
                return -ENOENT; /* the cgroup does not exist in this hierarchy */
        r = cgroup_get_value_string(ctl, file, &v);
        if (r != 0)
                return cg_errno(r);
        if (!v)
                return -ENOMEM;
        *ret = v;
        return 0;
}

static int lc_add_settings(struct cgroup *cg, const CgroupSetting *settings, size_t n) {
        for (size_t i = 0; i < n; i++) {
                struct cgroup_controller *ctl = cgroup_get_controller(cg, settings[i].controller);
                int r;

                if (!ctl)
                        ctl = cgroup_add_controller(cg, settings[i].controller);
                if (!ctl)
                        return -ENOMEM;
                r = cgroup_add_value_string(ctl, settings[i].file, settings[i].value);
                if (r != 0)
                        return cg_errno(r);
        }
        return 0;
}

static int lc_write(CgroupTarget *t, const CgroupSetting *settings, size_t n) {
        _cleanup_cgroup_ struct cgroup *cg = NULL;
        int r;

        r = lc_check_mounts(t);
        if (r < 0)
                return r;
        lc_release(t); /* what was read is stale now */
        cg = cgroup_new_cgroup(t->path);
        if (!cg)
                return -ENOMEM;
        /* libcgroup writes controller by controller in the order they were added, values in order: ours */
        r = lc_add_settings(cg, settings, n);
        if (r < 0)
                return r;
        return cg_errno(cgroup_modify_cgroup(cg));
}

static int lc_create(CgroupTarget *t, const CgroupSetting *settings, size_t n) {
        _cleanup_cgroup_ struct cgroup *cg = NULL;
        int r;

        r = lc_check_mounts(t);
        if (r < 0)
                return r;
        lc_release(t);
        cg = cgroup_new_cgroup(t->path);
        if (!cg)
                return -ENOMEM;
        for (const char *const *c = mode_controllers(t->mode); *c; c++)
                if (!cgroup_add_controller(cg, *c))
                        return -ENOMEM;
        r = lc_add_settings(cg, settings, n);
        if (r < 0)
                return r;
        /* mkdir -p in every hierarchy of the struct (existing is fine), chown to our uid, then the values in
         * order, stopping at the first that fails; 0: an ownership error is an error too */
        return cg_errno(cgroup_create_cgroup(cg, 0));
}

static int lc_destroy(CgroupTarget *t) {
        _cleanup_cgroup_ struct cgroup *check = NULL;
        int r;

        r = lc_check_mounts(t);
        if (r < 0)
                return r;
        lc_release(t);

        /* One controller per call, EMPTY_ONLY: the default would move any task left to the parent, out of the
         * limits. With EMPTY_ONLY, libcgroup 2.0.2 returns 0 even when rmdir failed, hence the check below. */
        for (const char *const *c = mode_controllers(t->mode); *c; c++) {
                _cleanup_cgroup_ struct cgroup *cg = cgroup_new_cgroup(t->path);

                if (!cg || !cgroup_add_controller(cg, *c))
                        return -ENOMEM;
                r = cg_errno(cgroup_delete_cgroup_ext(cg, CGFLAG_DELETE_EMPTY_ONLY));
                if (r < 0 && r != -ENOENT)
                        return log_debug_errno(r, "libcgroup: deleting %s from %s failed: %m", t->path, *c);
        }

        check = cgroup_new_cgroup(t->path);
        if (!check)
                return -ENOMEM;
        r = cgroup_get_cgroup(check);
        if (r == ECGROUPNOTEXIST)
                return 0;
        if (r != 0)
                return cg_errno(r);
        for (const char *const *c = mode_controllers(t->mode); *c; c++)
                if (cgroup_get_controller(check, *c)) {
                        log_debug("Cgroup %s is still in the %s hierarchy (tasks or children left).", t->path, *c);
                        r = -EBUSY;
                }
        return r;
}

const CgroupBackend cgroup_backend_libcgroup = {
        .name = "libcgroup",
        .read = lc_read,
        .write = lc_write,
        .create = lc_create,
        .destroy = lc_destroy,
        .release = lc_release,
};

/* ---- the files backend (fixture trees) ---- */

static char *fl_dir(CgroupTarget *t, const char *controller) {
        _cleanup_free_ char *base = NULL;

        if (t->mode == CGROUP_MODE_V2)
                return path_join(t->fs_root, t->path);
        base = path_join(t->fs_root, controller);
        return base ? path_join(base, t->path) : NULL;
}

static int fl_read(CgroupTarget *t, const char *controller, const char *file, char **ret) {
        _cleanup_free_ char *dir = fl_dir(t, controller), *p = NULL;

        if (!dir || !(p = path_join(dir, file)))
                return -ENOMEM;
        return read_full_file(p, CGROUP_FILE_MAX, ret, NULL);
}

static int fl_write(CgroupTarget *t, const CgroupSetting *settings, size_t n) {
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *dir = fl_dir(t, settings[i].controller), *p = NULL, *line = NULL;
                _cleanup_close_ int fd = -1;
                ssize_t k;

                if (!dir || !(p = path_join(dir, settings[i].file)))
                        return -ENOMEM;
                /* the kernel shows a value with a newline; so does the fixture after a write */
                if (asprintf(&line, "%s\n", settings[i].value) < 0)
                        return -ENOMEM;
                fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (fd < 0)
                        return -errno;
                k = write(fd, line, strlen(line));
                if (k < 0)
                        return -errno;
                if ((size_t) k != strlen(line))
                        return -EIO;
        }
        return 0;
}

static int fl_create(CgroupTarget *t, const CgroupSetting *settings, size_t n) {
        for (const char *const *c = mode_controllers(t->mode); *c; c++) {
                _cleanup_free_ char *dir = fl_dir(t, *c);
                int r;

                if (!dir)
                        return -ENOMEM;
                r = mkdir_parents_and_self(dir, 0755);
                if (r < 0)
                        return r;
                if (t->mode == CGROUP_MODE_V2)
                        break;
        }
        return fl_write(t, settings, n);
}

/* A fixture's cgroup is busy like a kernel's: a sub-directory, or a pid in cgroup.procs. */
static int fl_dir_busy(const char *dir) {
        _cleanup_(closedirp) DIR *d = opendir(dir);
        _cleanup_free_ char *procs_path = path_join(dir, "cgroup.procs"), *procs = NULL;
        struct dirent *de;

        if (!d)
                return errno == ENOENT ? 0 : -errno;
        if (!procs_path)
                return -ENOMEM;
        if (read_full_file(procs_path, CGROUP_FILE_MAX, &procs, NULL) >= 0 && !isempty(procs))
                return -EBUSY;
        while ((de = readdir(d)))
                if (de->d_type == DT_DIR && !streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        return -EBUSY;
        return 0;
}

static int fl_remove_dir(const char *dir) {
        _cleanup_(closedirp) DIR *d = opendir(dir);
        struct dirent *de;

        if (!d)
                return errno == ENOENT ? 0 : -errno;
        while ((de = readdir(d))) {
                if (de->d_type != DT_REG)
                        continue;
                if (unlinkat(dirfd(d), de->d_name, 0) < 0)
                        return -errno;
        }
        if (rmdir(dir) < 0)
                return -errno;
        return 0;
}

static int fl_destroy(CgroupTarget *t) {
        int r;

        /* all checks first, so that a busy cgroup is left whole */
        for (int pass = 0; pass < 2; pass++)
                for (const char *const *c = mode_controllers(t->mode); *c; c++) {
                        _cleanup_free_ char *dir = fl_dir(t, *c);

                        if (!dir)
                                return -ENOMEM;
                        r = pass == 0 ? fl_dir_busy(dir) : fl_remove_dir(dir);
                        if (r < 0)
                                return r;
                        if (t->mode == CGROUP_MODE_V2)
                                break;
                }
        return 0;
}

static void fl_release(CgroupTarget *t) {
}

const CgroupBackend cgroup_backend_files = {
        .name = "files",
        .read = fl_read,
        .write = fl_write,
        .create = fl_create,
        .destroy = fl_destroy,
        .release = fl_release,
};
