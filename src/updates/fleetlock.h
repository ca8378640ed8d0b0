/* SPDX-License-Identifier: MIT */
#pragma once

/* The FleetLock client: ballast asks the fleet's reboot lock server (airlock, or any FleetLock server; Zincati
 * nodes share it) for a reboot slot and gives it back, over libcurl on the loop (http.c).
 *
 * The protocol (https://coreos.github.io/zincati/development/fleetlock/protocol/): POST BASE/v1/pre-reboot
 * (take a slot; recursive: asking again while holding it succeeds) and BASE/v1/steady-state (release any slot
 * held), header "fleet-lock-protocol: true", body {"client_params":{"id":…,"group":…}}
 * (updates_fleetlock_request_body()). 200 is success; any other status is a failure, with an error document
 * {"kind":…,"value":…} when the server follows the protocol. BASE is joined with the path as a URL reference,
 * as Zincati does: "http://h/fleet_lock/" gives http://h/fleet_lock/v1/pre-reboot, "http://h/fleet_lock"
 * http://h/v1/pre-reboot.
 *
 * A request is retried until it succeeds or is cancelled, with exponential backoff and jitter
 * (FLEETLOCK_BACKOFF_MIN_USEC doubling to FLEETLOCK_BACKOFF_MAX_USEC, ±20%) after any failure: a transport
 * error, a refusal (the semaphore is full), an answer that is not the protocol's. Every outcome is handed to
 * the caller (for its status and the journal). */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "http/http.h"
#include "shared/macro.h"
#include "shared/time-util.h"

#define FLEETLOCK_BACKOFF_MIN_USEC (1 * USEC_PER_SEC)
#define FLEETLOCK_BACKOFF_MAX_USEC (300 * USEC_PER_SEC)
#define FLEETLOCK_TIMEOUT_USEC (10 * USEC_PER_SEC)

typedef struct FleetLock FleetLock;

typedef enum FleetLockOp {
        FLEETLOCK_PRE_REBOOT,   /* POST /v1/pre-reboot: RecursiveLock */
        FLEETLOCK_STEADY_STATE, /* POST /v1/steady-state: UnlockIfHeld */
        _FLEETLOCK_OP_MAX,
} FleetLockOp;

const char *fleetlock_op_to_string(FleetLockOp op); /* "pre-reboot", "steady-state" */

typedef enum FleetLockResult {
        FLEETLOCK_OK,          /* 200 */
        FLEETLOCK_UNREACHABLE, /* no HTTP answer: connection refused, timeout, DNS, TLS */
        FLEETLOCK_REFUSED,     /* a 4xx/5xx with the protocol's error document (e.g. the semaphore is full) */
        FLEETLOCK_BAD_ANSWER,  /* any other status, or an error document that does not parse */
        _FLEETLOCK_RESULT_MAX,
} FleetLockResult;

/* A bounded set of reason codes, for the status and the journal: "lock-ok", "lock-unreachable",
 * "lock-refused", "lock-bad-answer". */
const char *fleetlock_result_to_reason(FleetLockResult r);

typedef struct FleetLockOutcome {
        FleetLockOp op;
        FleetLockResult result;
        long status;            /* HTTP status, 0 when there was none */
        const char *kind;       /* the error document's kind (REFUSED), else NULL */
        const char *message;    /* one sentence: what the server said, or what went wrong */
        unsigned failures;      /* failures in a row, this one included (0 on success) */
        uint64_t retry_in_usec; /* when the next attempt goes (0 on success) */
} FleetLockOutcome;

typedef void (*FleetLockFunc)(FleetLock *f, const FleetLockOutcome *o, void *userdata);

/* base_url: http(s) URL; id and group as updates_fleetlock_request_body() takes them (-EINVAL otherwise). */
int fleetlock_new(FleetLock **ret, sd_event *event, HttpClient *http, const char *base_url, const char *id,
                  const char *group, FleetLockFunc func, void *userdata);
FleetLock *fleetlock_free(FleetLock *f);
DEFINE_CLEANUP_FUNC(FleetLock *, fleetlock_free);

/* Who hears of the outcomes from now on. */
void fleetlock_set_func(FleetLock *f, FleetLockFunc func, void *userdata);

/* Starts op now, replacing whatever request was in flight or waiting for its retry; retries until 200. func is
 * called after every attempt, from the loop. */
int fleetlock_start(FleetLock *f, FleetLockOp op);
/* Stops the request in flight or waiting, without calling func. */
void fleetlock_cancel(FleetLock *f);
/* Is op in flight or waiting for a retry? */
bool fleetlock_pending(FleetLock *f, FleetLockOp op);

/* ---- pure helpers, exposed for their tests ---- */

/* BASE joined with "v1/pre-reboot" or "v1/steady-state" as a relative URL reference (RFC 3986: the base's
 * last path segment is replaced; its query and fragment dropped). -EINVAL for a base that is not an http(s)
 * URL with a host. */
int fleetlock_url(const char *base_url, FleetLockOp op, char **ret);

/* Interprets an answer: FLEETLOCK_OK for 200; for other statuses the error document, whose kind must be a
 * non-empty string of at most 64 letters, digits, '_', '-' or '.' and value a string (unknown keys are
 * ignored, as Zincati's serde does). *ret_kind and *ret_message (one sentence, always set) are the caller's
 * to free. */
FleetLockResult fleetlock_parse_answer(FleetLockOp op, long status, const char *body, size_t size,
                                       char **ret_kind, char **ret_message);

/* The delay before retry number attempt (0, 1, …): see FLEETLOCK_BACKOFF_*. */
uint64_t fleetlock_backoff_usec(unsigned attempt, uint32_t random);
