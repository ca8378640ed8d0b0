/* SPDX-License-Identifier: MIT */
#pragma once

/* The specs applied over the control socket, persisted one per file in state_dir/services/NAME.json so that they
 * outlive ballastd (docs/INSTALL.md, "State files"). The file is versioned, so that a newer ballastd can take
 * over an older one's state (an upgrade) and an older one refuses a newer file instead of misreading it:
 *
 *   format 0 (ballast 0.1, no "version" key): the normalized spec itself, {"name": …, …}
 *   format 1: {"version": 1, "spec": {the normalized spec}}
 *
 * A file of a format newer than APPLIED_SPEC_FORMAT is refused with an error that says so, and left as it is. */

#include "supervisor/spec.h"

#define APPLIED_SPEC_FORMAT 1

/* The text of the file for s, in the current format. */
int applied_spec_render(const ServiceSpec *s, char **ret_text);

/* Loads DIR/NAME.json of any known format (its name must be the file's); *ret_format says which.
 * On error *ret_error is "FILE:LINE:COLUMN: why" where the place is known. */
int applied_spec_load(const char *path, const char *name, ServiceSpec **ret, int *ret_format, char **ret_error);

/* Rewrites, atomically, every file of dir in an older format than the current one; a file that cannot be read
 * is left alone (the loader reports it). Returns the number of files migrated, or -errno. */
int applied_specs_migrate(const char *dir);
