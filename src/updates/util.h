/* SPDX-License-Identifier: MIT */
#pragma once

/* Helpers shared by the pure rules of src/updates (os.c, windows.c, gate.c, flatcar.c, zincati.c, flow.c,
 * fleetlock-wire.c); not for the rest of the daemon. */

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "shared/macro.h"

#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
#define HEXDIGITS "0123456789abcdefABCDEF"

/* Sets *ret_error (when given) to the formatted sentence and returns r. */
_printf_(3, 4) int updates_fail(char **ret_error, int r, const char *format, ...);

bool updates_all_of(const char *s, const char *accept);

static inline void fclose_memstreamp(FILE **f) {
        if (*f)
                fclose(*f);
}

/* Finishes an open_memstream() text: NULL stream or a write error give -ENOMEM, and the buffer is freed. */
int updates_memstream_finish(FILE **f, char **buf, char **ret);

/* An http:// or https:// URL with a host, of at most 2048 characters, all of them in allowed. */
bool updates_url_valid(const char *s, const char *allowed);

/* Dumps v compactly into *ret and drops the reference; NULL v is -ENOMEM. */
int updates_dump_json(json_t *v, char **ret);
