/* SPDX-License-Identifier: MIT */
#pragma once

#include <dirent.h>
#include <stddef.h>
#include <sys/types.h>

/* Reads a whole file of at most max_size bytes; the buffer is NUL-terminated. -EFBIG when larger. */
int read_full_file(const char *path, size_t max_size, char **ret, size_t *ret_size);

/* Writes a file so that a crash at any moment leaves either the old or the new content: a temporary file in
 * the same directory, fsync, rename over the target, fsync of the directory. Only a regular file (or nothing) is
 * replaced: an existing symlink is -ELOOP (e.g. a unit an operator masked with a link to /dev/null), a directory
 * -EISDIR, a device, pipe or socket -EEXIST; nothing is written then. */
int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode);
/* For an output path a user names (ballast-ignition -o): a device or pipe (/dev/stdout, a fifo) is written
 * through, never replaced nor created; a regular file reached through symlinks is replaced atomically and the
 * links stay; a new file is created atomically; a directory is -EISDIR. */
int write_file_output(const char *path, const void *data, size_t size, mode_t mode);

/* Removes what write_file_atomic() leaves behind when the process is killed between creating its temporary
 * file and the rename: regular files in dir named ".#" prefix "…" "." and six more characters. Only for a
 * directory this process alone writes with write_file_atomic() (nothing else may be mid-write there). Returns
 * how many were removed, or -errno when dir cannot be read (missing is 0). */
int remove_stale_temp_files(const char *dir, const char *prefix);

/* Removes a file and makes the removal durable (fsync of the directory). Missing is not an error. */
int unlink_durable(const char *path);

/* mkdir -p, each created component with the given mode. */
int mkdir_parents_and_self(const char *path, mode_t mode);
/* mkdir -p of the directory that holds path. */
int mkdir_parents(const char *path, mode_t mode);

/* Joins root and an absolute host path: ("/srv/root", "/etc/x") → "/srv/root/etc/x"; a NULL or "/" root gives
 * the path itself. */
char *path_join_root(const char *root, const char *path);

/* Joins two path components with exactly one slash. */
char *path_join(const char *a, const char *b);

static inline void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}
