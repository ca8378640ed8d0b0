/* SPDX-License-Identifier: MIT */
#pragma once

/* The kept specs of a service applied over the control socket, its update in progress and its last rollback
 * (docs/SERVICES.md, "Updates and rollback"). One directory per service, 0700, its files 0600 (a spec may carry
 * environment values), each written atomically:
 *
 *   state_dir/history/NAME/REV.json          a kept spec (the format of state_dir/services, applied.h); REV
 *                                            counts up from 1; the last HISTORY_KEEP are kept, the latest is
 *                                            the spec in use
 *   state_dir/history/NAME/REV.failed.json   a spec set aside: an update that did not become healthy, or one
 *                                            undone by `ballastctl rollback`; the last HISTORY_KEEP_FAILED kept
 *   state_dir/history/NAME/update            an update in progress: version=1, from=REV, to=REV, since_usec=
 *   state_dir/history/NAME/rollback          the last rollback: version=1, at_usec=, failed=REV, restored=REV,
 *                                            by=auto|hand, reason= (one line)
 *
 * Unknown keys are ignored (a newer ballastd may add some); a newer version is refused, and the file left. */

#include <stdbool.h>
#include <stdint.h>

#include "supervisor/spec.h"

#define HISTORY_DIR "history"
#define HISTORY_KEEP 5
#define HISTORY_KEEP_FAILED 3
#define HISTORY_FORMAT 1

typedef struct UpdateMark {
        uint64_t from_rev, to_rev;
        uint64_t since_usec; /* CLOCK_REALTIME */
} UpdateMark;

typedef struct RollbackRecord {
        uint64_t at_usec; /* CLOCK_REALTIME */
        uint64_t failed_rev, restored_rev;
        bool by_hand;
        char *reason;
} RollbackRecord;

void rollback_record_done(RollbackRecord *r);

/* Pure. "12.json" → 12, not failed; "12.failed.json" → 12, failed; anything else -EINVAL (0 is no revision). */
int history_entry_parse(const char *filename, uint64_t *ret_rev, bool *ret_failed);
/* How many of n revisions (ascending) to remove, the oldest first, to keep keep of them. */
size_t history_prune_count(size_t n, size_t keep);
/* The revision before current among revs (ascending): 0 when there is none. */
uint64_t history_previous(const uint64_t *revs, size_t n, uint64_t current);

int update_mark_render(const UpdateMark *m, char **ret_text);
int update_mark_parse(const char *text, UpdateMark *ret);
/* The reason is kept on one line: line breaks become spaces. */
int rollback_record_render(const RollbackRecord *r, char **ret_text);
int rollback_record_parse(const char *text, RollbackRecord *ret);

/* state_dir/history/NAME/REV[.failed].json */
char *history_spec_path(const char *state_dir, const char *name, uint64_t rev, bool failed);
/* The revisions kept (failed: those set aside), ascending; *ret NULL when none. */
int history_list(const char *state_dir, const char *name, bool failed, uint64_t **ret, size_t *ret_n);
/* The latest kept revision, 0 when none. */
uint64_t history_latest(const char *state_dir, const char *name);
/* Keeps spec as the latest revision (unless it is the latest already: then *ret_rev is that one), and prunes.
 * On a failed write *ret_path (when given) is the file, and no directory made for it is left. */
int history_append(const char *state_dir, const char *name, const ServiceSpec *spec, uint64_t *ret_rev,
                   char **ret_path);
int history_load(const char *state_dir, const char *name, uint64_t rev, bool failed, ServiceSpec **ret,
                 char **ret_error);
/* REV.json → REV.failed.json (durable), and prunes the set-aside ones. */
int history_set_aside(const char *state_dir, const char *name, uint64_t rev);
/* Removes what a write cut by a kill -9 left in every service's directory (remove_stale_temp_files()); only at
 * ballastd's start, when nothing is mid-write. Returns how many, or -errno. */
int history_remove_stale_temp_files(const char *state_dir);
/* The whole directory of a removed service. */
int history_remove(const char *state_dir, const char *name);

/* 0: none, 1: read. */
int update_mark_write(const char *state_dir, const char *name, const UpdateMark *m);
int update_mark_read(const char *state_dir, const char *name, UpdateMark *ret);
int update_mark_clear(const char *state_dir, const char *name);
int rollback_record_write(const char *state_dir, const char *name, const RollbackRecord *r);
int rollback_record_read(const char *state_dir, const char *name, RollbackRecord *ret);
