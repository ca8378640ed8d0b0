/* SPDX-License-Identifier: MIT */
#pragma once

/* A service stopped on purpose stays stopped: across reconcile passes, a SIGHUP and a restart of ballastd, until
 * `ballastctl start` (or an apply, or a start by hand). Who stopped it is kept beside it: `ballastctl stop`, or an
 * operator's `systemctl stop` that ballast saw (a stop job it did not issue, docs/SERVICES.md). One small file
 * per service, written atomically, mode 0600:
 *
 *   state_dir/stopped/NAME
 *     version=1
 *     by=ballastctl            (or: by=hand)
 *     since_usec=1733428000000000   (CLOCK_REALTIME)
 *
 * Unknown keys are ignored (a newer ballastd may add some); a newer version is refused, and the file left. */

#include <stdint.h>

#define STOPPED_DIR "stopped"
#define STOPPED_FORMAT 1

typedef enum StoppedBy {
        STOPPED_NONE,
        STOPPED_BY_CTL,  /* ballastctl stop */
        STOPPED_BY_HAND, /* systemctl stop (a stop job ballast did not issue) */
} StoppedBy;

const char *stopped_by_to_string(StoppedBy by); /* "ballastctl", "hand", NULL */

/* Pure: the file's text, and back. parse: -EINVAL for a malformed text, -EPROTONOSUPPORT for a newer version. */
int stopped_mark_render(StoppedBy by, uint64_t since_usec, char **ret_text);
int stopped_mark_parse(const char *text, StoppedBy *ret_by, uint64_t *ret_since_usec);

/* state_dir/stopped/NAME: write (atomic, 0600, the directory 0700), read (0: none, 1: read), clear (durable). */
int stopped_mark_write(const char *state_dir, const char *name, StoppedBy by, uint64_t since_usec);
int stopped_mark_read(const char *state_dir, const char *name, StoppedBy *ret_by, uint64_t *ret_since_usec);
int stopped_mark_clear(const char *state_dir, const char *name);
