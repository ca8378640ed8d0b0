/* SPDX-License-Identifier: MIT */
#pragma once

/* Files a service is given that only root may change (and, for credentials, read): opened without following
 * a symlink at the end, checked on the open descriptor, read from it. */

#include <stddef.h>
#include <sys/types.h>

#define ROOT_FILE_MAX (256U * 1024U)

/* Reads path (at most ROOT_FILE_MAX bytes, no NUL bytes) when it is a regular file owned by root with none of
 * the forbidden mode bits. On failure *ret_error (when given) says why, naming the file as what ("secret"). */
int read_root_file(const char *path, mode_t forbidden, const char *what, char **ret, char **ret_error);
/* The same checks without reading: returns the open fd. */
int open_root_file(const char *path, mode_t forbidden, const char *what, char **ret_error);
