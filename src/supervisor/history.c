/* SPDX-License-Identifier: MIT */
/* The kept specs, the update in progress and the last rollback of a service (history.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/fileio.h"
#include "shared/macro.h"
#include "shared/parse-util.h"
#include "supervisor/applied.h"
#include "supervisor/history.h"

void rollback_record_done(RollbackRecord *r) {
        r->reason = mfree(r->reason);
}

/* ---- pure ---- */

int history_entry_parse(const char *filename, uint64_t *ret_rev, bool *ret_failed) {
        size_t n = strspn(filename, "0123456789");
        _cleanup_free_ char *digits = NULL;
        const char *rest = filename + n;
        uint64_t rev;
        bool failed;

        if (n == 0 || n > 19 || filename[0] == '0')
                return -EINVAL;
        if (streq(rest, ".json"))
                failed = false;
        else if (streq(rest, ".failed.json"))
                failed = true;
        else
                return -EINVAL;
        digits = strndup(filename, n);
        if (!digits)
                return -ENOMEM;
        if (safe_atou64(digits, &rev) < 0 || rev == 0)
                return -EINVAL;
        *ret_rev = rev;
        if (ret_failed)
                *ret_failed = failed;
        return 0;
}

size_t history_prune_count(size_t n, size_t keep) {
        return n > keep ? n - keep : 0;
}

uint64_t history_previous(const uint64_t *revs, size_t n, uint64_t current) {
        uint64_t best = 0;

        for (size_t i = 0; i < n; i++)
                if (revs[i] < current && revs[i] > best)
                        best = revs[i];
        return best;
}

int update_mark_render(const UpdateMark *m, char **ret_text) {
        if (m->from_rev == 0 || m->to_rev == 0)
                return -EINVAL;
        if (asprintf(ret_text, "version=%d\nfrom=%" PRIu64 "\nto=%" PRIu64 "\nsince_usec=%" PRIu64 "\n",
                     HISTORY_FORMAT, m->from_rev, m->to_rev, m->since_usec) < 0)
                return -ENOMEM;
        return 0;
}

static int update_key(const char *key, const char *value, void *userdata) {
        UpdateMark *m = userdata;

        if (streq(key, "from"))
                return safe_atou64(value, &m->from_rev) < 0 ? -EINVAL : 0;
        if (streq(key, "to"))
                return safe_atou64(value, &m->to_rev) < 0 ? -EINVAL : 0;
        if (streq(key, "since_usec"))
                return safe_atou64(value, &m->since_usec) < 0 ? -EINVAL : 0;
        return 0; /* a newer ballastd's key */
}

int update_mark_parse(const char *text, UpdateMark *ret) {
        UpdateMark m = {};
        int r = parse_versioned_keys(text, HISTORY_FORMAT, update_key, &m);

        if (r < 0)
                return r;
        if (m.from_rev == 0 || m.to_rev == 0)
                return -EINVAL;
        *ret = m;
        return 0;
}

int rollback_record_render(const RollbackRecord *r, char **ret_text) {
        _cleanup_free_ char *reason = strdup(strempty(r->reason));

        if (!reason)
                return -ENOMEM;
        for (char *p = reason; *p; p++)
                if (*p == '\n' || *p == '\r')
                        *p = ' ';
        if (asprintf(ret_text,
                     "version=%d\nat_usec=%" PRIu64 "\nfailed=%" PRIu64 "\nrestored=%" PRIu64 "\nby=%s\nreason=%s\n",
                     HISTORY_FORMAT, r->at_usec, r->failed_rev, r->restored_rev, r->by_hand ? "hand" : "auto",
                     reason) < 0)
                return -ENOMEM;
        return 0;
}

static int rollback_key(const char *key, const char *value, void *userdata) {
        RollbackRecord *r = userdata;

        if (streq(key, "at_usec"))
                return safe_atou64(value, &r->at_usec) < 0 ? -EINVAL : 0;
        if (streq(key, "failed"))
                return safe_atou64(value, &r->failed_rev) < 0 ? -EINVAL : 0;
        if (streq(key, "restored"))
                return safe_atou64(value, &r->restored_rev) < 0 ? -EINVAL : 0;
        if (streq(key, "by")) {
                if (!streq(value, "hand") && !streq(value, "auto"))
                        return -EINVAL;
                r->by_hand = streq(value, "hand");
                return 0;
        }
        if (streq(key, "reason")) {
                free(r->reason);
                r->reason = strdup(value);
                return r->reason ? 0 : -ENOMEM;
        }
        return 0;
}

int rollback_record_parse(const char *text, RollbackRecord *ret) {
        _cleanup_(rollback_record_done) RollbackRecord r = {};
        int k = parse_versioned_keys(text, HISTORY_FORMAT, rollback_key, &r);

        if (k < 0)
                return k;
        if (r.at_usec == 0 || r.failed_rev == 0 || r.restored_rev == 0)
                return -EINVAL;
        *ret = r;
        r.reason = NULL;
        return 0;
}

/* ---- on disk ---- */

static char *service_dir(const char *state_dir, const char *name) {
        _cleanup_free_ char *dir = path_join(state_dir, HISTORY_DIR);
        return dir ? path_join(dir, name) : NULL;
}

static char *service_file(const char *state_dir, const char *name, const char *file) {
        _cleanup_free_ char *dir = service_dir(state_dir, name);
        return dir ? path_join(dir, file) : NULL;
}

char *history_spec_path(const char *state_dir, const char *name, uint64_t rev, bool failed) {
        char file[64];

        snprintf(file, sizeof(file), "%" PRIu64 "%s.json", rev, failed ? ".failed" : "");
        return service_file(state_dir, name, file);
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

int history_list(const char *state_dir, const char *name, bool failed, uint64_t **ret, size_t *ret_n) {
        _cleanup_free_ char *dir = service_dir(state_dir, name);
        _cleanup_free_ uint64_t *revs = NULL;
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        size_t n = 0;

        if (!dir)
                return -ENOMEM;
        d = opendir(dir);
        if (!d && errno != ENOENT)
                return -errno;
        while (d && (de = readdir(d))) {
                uint64_t rev, *l;
                bool f;

                if (history_entry_parse(de->d_name, &rev, &f) < 0 || f != failed)
                        continue;
                l = realloc(revs, (n + 1) * sizeof(uint64_t));
                if (!l)
                        return -ENOMEM;
                revs = l;
                revs[n++] = rev;
        }
        if (n > 0)
                qsort(revs, n, sizeof(uint64_t), cmp_u64);
        *ret = TAKE_PTR(revs);
        *ret_n = n;
        return 0;
}

uint64_t history_latest(const char *state_dir, const char *name) {
        _cleanup_free_ uint64_t *revs = NULL;
        size_t n = 0;

        if (history_list(state_dir, name, false, &revs, &n) < 0 || n == 0)
                return 0;
        return revs[n - 1];
}

static void prune(const char *state_dir, const char *name, bool failed, size_t keep) {
        _cleanup_free_ uint64_t *revs = NULL;
        size_t n = 0, k;

        if (history_list(state_dir, name, failed, &revs, &n) < 0)
                return;
        k = history_prune_count(n, keep);
        for (size_t i = 0; i < k; i++) {
                _cleanup_free_ char *p = history_spec_path(state_dir, name, revs[i], failed);
                if (p)
                        (void) unlink_durable(p);
        }
}

/* The directories a failed first write made, if empty (a full disk leaves nothing behind). */
static void remove_empty_dirs(const char *state_dir, const char *name) {
        _cleanup_free_ char *dir = service_dir(state_dir, name), *top = path_join(state_dir, HISTORY_DIR);

        if (dir && rmdir(dir) >= 0 && top)
                (void) rmdir(top);
}

int history_append(const char *state_dir, const char *name, const ServiceSpec *spec, uint64_t *ret_rev,
                   char **ret_path) {
        _cleanup_free_ uint64_t *revs = NULL, *failed = NULL;
        _cleanup_free_ char *text = NULL, *path = NULL;
        size_t n = 0, nf = 0;
        uint64_t next;
        int r;

        r = history_list(state_dir, name, false, &revs, &n);
        if (r >= 0)
                r = history_list(state_dir, name, true, &failed, &nf);
        if (r < 0)
                return r;
        if (n > 0) {
                _cleanup_(service_spec_freep) ServiceSpec *latest = NULL;
                if (history_load(state_dir, name, revs[n - 1], false, &latest, NULL) >= 0 &&
                    service_spec_equal(latest, spec)) {
                        *ret_rev = revs[n - 1];
                        return 0;
                }
        }
        next = MAX(n > 0 ? revs[n - 1] : 0, nf > 0 ? failed[nf - 1] : 0) + 1;
        path = history_spec_path(state_dir, name, next, false);
        if (!path)
                return -ENOMEM;
        r = applied_spec_render(spec, &text);
        if (r >= 0)
                r = mkdir_parents(path, 0700);
        if (r >= 0)
                r = write_file_atomic(path, text, strlen(text), 0600);
        if (r < 0) {
                remove_empty_dirs(state_dir, name);
                if (ret_path)
                        *ret_path = TAKE_PTR(path);
                return r;
        }
        prune(state_dir, name, false, HISTORY_KEEP);
        *ret_rev = next;
        return 0;
}

int history_load(const char *state_dir, const char *name, uint64_t rev, bool failed, ServiceSpec **ret,
                 char **ret_error) {
        _cleanup_free_ char *path = history_spec_path(state_dir, name, rev, failed);

        if (!path)
                return -ENOMEM;
        return applied_spec_load(path, name, ret, NULL, ret_error);
}

static int fsync_dir(const char *path) {
        _cleanup_free_ char *dir = strdup(path);
        char *slash = dir ? strrchr(dir, '/') : NULL;
        int fd, r = 0;

        if (!slash)
                return -ENOMEM;
        *slash = 0;
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fsync(fd) < 0)
                r = -errno;
        close(fd);
        return r;
}

int history_set_aside(const char *state_dir, const char *name, uint64_t rev) {
        _cleanup_free_ char *from = history_spec_path(state_dir, name, rev, false),
                            *to = history_spec_path(state_dir, name, rev, true);

        if (!from || !to)
                return -ENOMEM;
        if (rename(from, to) < 0)
                return errno == ENOENT ? 0 : -errno;
        prune(state_dir, name, true, HISTORY_KEEP_FAILED);
        return fsync_dir(to);
}

int history_remove_stale_temp_files(const char *state_dir) {
        _cleanup_free_ char *top = path_join(state_dir, HISTORY_DIR);
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        int n = 0;

        if (!top)
                return -ENOMEM;
        d = opendir(top);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        while ((de = readdir(d))) {
                _cleanup_free_ char *dir = NULL;
                int k;

                if (de->d_name[0] == '.')
                        continue;
                dir = path_join(top, de->d_name);
                if (!dir)
                        return -ENOMEM;
                k = remove_stale_temp_files(dir, "");
                if (k > 0)
                        n += k;
        }
        return n;
}

int history_remove(const char *state_dir, const char *name) {
        _cleanup_free_ char *dir = service_dir(state_dir, name);
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;

        if (!dir)
                return -ENOMEM;
        d = opendir(dir);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        (void) unlinkat(dirfd(d), de->d_name, 0);
        if (rmdir(dir) < 0 && errno != ENOENT)
                return -errno;
        return fsync_dir(dir);
}

static int write_small(const char *state_dir, const char *name, const char *file, const char *text) {
        _cleanup_free_ char *path = service_file(state_dir, name, file);
        int r;

        if (!path)
                return -ENOMEM;
        r = mkdir_parents(path, 0700);
        return r < 0 ? r : write_file_atomic(path, text, strlen(text), 0600);
}

static int read_small(const char *state_dir, const char *name, const char *file, char **ret) {
        _cleanup_free_ char *path = service_file(state_dir, name, file);
        int r;

        if (!path)
                return -ENOMEM;
        r = read_full_file(path, 64 * 1024, ret, NULL);
        return r == -ENOENT ? 0 : r < 0 ? r : 1;
}

int update_mark_write(const char *state_dir, const char *name, const UpdateMark *m) {
        _cleanup_free_ char *text = NULL;
        int r = update_mark_render(m, &text);

        return r < 0 ? r : write_small(state_dir, name, "update", text);
}

int update_mark_read(const char *state_dir, const char *name, UpdateMark *ret) {
        _cleanup_free_ char *text = NULL;
        int r = read_small(state_dir, name, "update", &text);

        if (r <= 0)
                return r;
        r = update_mark_parse(text, ret);
        return r < 0 ? r : 1;
}

int update_mark_clear(const char *state_dir, const char *name) {
        _cleanup_free_ char *path = service_file(state_dir, name, "update");
        return path ? unlink_durable(path) : -ENOMEM;
}

int rollback_record_write(const char *state_dir, const char *name, const RollbackRecord *r) {
        _cleanup_free_ char *text = NULL;
        int k = rollback_record_render(r, &text);

        return k < 0 ? k : write_small(state_dir, name, "rollback", text);
}

int rollback_record_read(const char *state_dir, const char *name, RollbackRecord *ret) {
        _cleanup_free_ char *text = NULL;
        int r = read_small(state_dir, name, "rollback", &text);

        if (r <= 0)
                return r;
        r = rollback_record_parse(text, ret);
        return r < 0 ? r : 1;
}
