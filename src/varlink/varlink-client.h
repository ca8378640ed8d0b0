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

/* The same, bounded by a deadline rather than a timeout: deadline is CLOCK_MONOTONIC µs (0: wait forever), so that
 * a wait made of several reads (progress replies, several calls) is bounded as a whole, not read by read. */
int varlink_client_read_until(VarlinkClient *c, uint64_t deadline, json_t **ret_parameters, char **ret_error,
                              bool *ret_continues);

/* send + read for a call with one reply. */
int varlink_client_call(VarlinkClient *c, const char *method, json_t *parameters, uint64_t timeout_usec,
                        json_t **ret_parameters, char **ret_error);
int varlink_client_call_until(VarlinkClient *c, const char *method, json_t *parameters, uint64_t deadline,
                              json_t **ret_parameters, char **ret_error);
