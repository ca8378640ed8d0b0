/* SPDX-License-Identifier: MIT */
#pragma once

/* A small blocking Varlink client, for ballastctl and tests; the daemon never uses it. */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "shared/macro.h"

typedef struct VarlinkClient VarlinkClient;

int varlink_client_connect(VarlinkClient **ret, const char *path);
VarlinkClient *varlink_client_free(VarlinkClient *c);
DEFINE_CLEANUP_FUNC(VarlinkClient *, varlink_client_free);

/* Sends one call; parameters are borrowed. */
int varlink_client_send(VarlinkClient *c, const char *method, json_t *parameters, bool more);

/* Reads one reply. *ret_parameters is the reply's parameters (never NULL on success); *ret_error the error name
 * or NULL; *ret_continues whether more replies follow. -ETIMEDOUT after timeout_usec (0: wait forever). */
int varlink_client_read(VarlinkClient *c, uint64_t timeout_usec, json_t **ret_parameters, char **ret_error,
                        bool *ret_continues);

/* send + read for a call with one reply. */
int varlink_client_call(VarlinkClient *c, const char *method, json_t *parameters, uint64_t timeout_usec,
                        json_t **ret_parameters, char **ret_error);
