/* SPDX-License-Identifier: MIT */
#pragma once

/* Cluster reporting: the node's status document goes to etcd v3 (key PREFIX/nodes/NODE, bound to a lease whose
 * TTL makes a dead node disappear, kept alive at a third of the TTL, granted and put again whenever it is lost;
 * endpoints fail over) and/or is POSTed to an HTTP endpoint, on change and every interval.
 *
 * Static stability: whatever the cluster does (down, slow, garbage, 5xx), the reporter only retries with
 * backoff and says so in its status. Its only call back into the daemon is the document function, which must
 * build the document and nothing else; nothing here ever touches a workload, and nothing blocks. */

#include <jansson.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "http/http.h"
#include "shared/time-util.h"

#define REPORTER_TTL_DEFAULT_S 15U
#define REPORTER_INTERVAL_DEFAULT_S 30U
#define REPORTER_DEBOUNCE_USEC (200 * USEC_PER_MSEC)
#define REPORTER_BACKOFF_MIN_USEC (250 * USEC_PER_MSEC)
#define REPORTER_BACKOFF_MAX_USEC (30 * USEC_PER_SEC)
#define REPORTER_STOP_TIMEOUT_USEC (1 * USEC_PER_SEC)

typedef struct Reporter Reporter;

/* Builds the current status document and returns a new reference (NULL: nothing to report now). The reporter
 * adds nothing to it. Called when a report is due: after reporter_changed() (debounced), at every etcd
 * keepalive (a changed document is put again) and at every HTTP interval. */
typedef json_t *(*ReporterDocumentFunc)(void *userdata);

typedef struct ReporterOptions {
        char **etcd_endpoints;        /* NULL or empty: no etcd */
        const char *etcd_prefix;      /* NULL: "/ballast" */
        unsigned etcd_ttl_s;          /* 0: 15 */
        const char *etcd_ca, *etcd_cert, *etcd_key;
        const char *http_url;         /* NULL: no HTTP endpoint */
        const char *http_token_file;  /* NULL: no Authorization header */
        unsigned http_interval_s;     /* 0: 30 */
        const char *node_name;        /* mandatory when etcd is configured */
} ReporterOptions;

/* Nothing configured is fine (standalone): the reporter then does nothing and says so in its status. */
int reporter_new(Reporter **ret, sd_event *event, HttpClient *http, const ReporterOptions *o,
                 ReporterDocumentFunc doc, void *userdata);
/* Cancels everything in flight, without calling back and without revoking the lease (it expires by itself). */
Reporter *reporter_free(Reporter *r);
DEFINE_CLEANUP_FUNC(Reporter *, reporter_free);

/* Grants the lease and puts the key; posts to the HTTP endpoint. Never fails for the cluster's sake. */
int reporter_start(Reporter *r);

/* Something in the document changed: report it soon (debounced by REPORTER_DEBOUNCE_USEC, so a burst of changes
 * is one report). A document equal to the one last reported is not sent again. */
void reporter_changed(Reporter *r);

/* Clean shutdown: stops reporting and revokes the lease, so the node's key disappears at once. done is called
 * exactly once, from the loop, when the revoke was answered or after REPORTER_STOP_TIMEOUT_USEC at most (then the
 * key goes with its TTL). -EALREADY when already stopping; on any other error done is not called (exit at once). */
int reporter_stop(Reporter *r, void (*done)(void *userdata), void *userdata);

/* {"etcd": {"state": "connecting"|"ok"|"error", "endpoint": URL, "key": KEY, "lease": "ID", "ttl_s": N,
 *           "last_ok_usec": T, "error": "…", "since_usec": T, "errors_total": N},
 *  "http": {"state": …, "url": URL, "last_ok_usec": T, "error": "…", "since_usec": T, "last_status": N}}
 * with null for a part that is not configured. Times are CLOCK_REALTIME µs; since_usec is when the current
 * state began; errors_total counts the exchanges that failed since the start. A new reference. */
json_t *reporter_status_json(Reporter *r);

/* Ranges PREFIX/nodes/ on etcd and calls back with [{"node": NAME, "document": {...}}] (borrowed), sorted by
 * name; a value that is not JSON gives "document": null. error < 0: etcd unreachable or its answer garbled.
 * -ENOTCONN (returned, no callback) when no etcd is configured. Not called back after reporter_free(). */
int reporter_list_nodes(Reporter *r, void (*cb)(int error, json_t *nodes, void *userdata), void *userdata);

/* ---- pure helpers ---- */

/* The delay before retry number attempt (0, 1, …): REPORTER_BACKOFF_MIN_USEC doubling up to
 * REPORTER_BACKOFF_MAX_USEC, then ±20% jitter from random (any 32-bit value). */
uint64_t reporter_backoff_usec(unsigned attempt, uint32_t random);
/* PREFIX/nodes/NODE, or PREFIX/nodes/ for node NULL; a trailing '/' of the prefix is dropped. */
char *reporter_etcd_key(const char *prefix, const char *node);
/* A /v3/kv/range reply for nodes_prefix to [{"node": …, "document": …}] sorted by name. -EBADMSG on garbage. */
int reporter_parse_nodes(json_t *range_reply, const char *nodes_prefix, json_t **ret);
/* Reads a bearer token: surrounding whitespace dropped; -ENODATA when empty, -EINVAL when it holds control
 * characters or spaces (it goes into a header), -EFBIG over 4 KiB, -errno when unreadable. */
int reporter_read_token(const char *path, char **ret);
