/* SPDX-License-Identifier: MIT */
#pragma once

/* etcd v3 through its JSON gateway (POST /v3/…), on the loop through src/http/http.c. One call goes to the endpoint in
 * use; when that endpoint does not answer usefully (no connection, timeout, 5xx, a body that is not a JSON
 * object) the same call moves on to the next endpoint, and the one that answered stays in use for the next
 * calls. Only when every endpoint failed does the caller hear of it.
 *
 * The gateway's wire format: int64 fields (IDs, TTLs, revisions) are JSON strings, keys and values are base64.
 * The pure helpers below deal with both, and parse replies defensively: anything unexpected is an error, never a
 * crash. */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http.h"

#define ETCD_TIMEOUT_MS_DEFAULT 2000U

typedef struct Etcd Etcd;
typedef struct EtcdCall EtcdCall;

typedef struct EtcdOptions {
        char *const *endpoints;   /* "http(s)://host:port", at least one */
        const char *ca_file, *cert_file, *key_file;
} EtcdOptions;

/* error:
 *   0            reply is the response object
 *   -ENOENT      etcd answered "not found" (gRPC code 5: a lease that is gone); message is etcd's
 *   -EBADR       etcd refused the request otherwise (a 4xx with a gRPC error); message is etcd's
 *   other < 0    no endpoint answered usefully; message names the last endpoint and what went wrong
 * reply is borrowed: take a reference to keep it. */
typedef void (*EtcdReplyFunc)(Etcd *e, int error, const char *message, json_t *reply, void *userdata);

int etcd_new(Etcd **ret, HttpClient *http, const EtcdOptions *o);
/* Cancels every call in flight, without calling back. */
Etcd *etcd_free(Etcd *e);
DEFINE_CLEANUP_FUNC(Etcd *, etcd_free);

/* POSTs body to path ("/v3/kv/put") with failover. timeout_ms is per endpoint tried (0 = the default).
 * cb is called exactly once, from the loop, unless the call is cancelled first. ret may be NULL. */
int etcd_call(Etcd *e, const char *path, json_t *body, uint64_t timeout_ms, EtcdReplyFunc cb, void *userdata,
              EtcdCall **ret);
/* Cancels a call without calling back. NULL is fine. */
void etcd_call_cancel(EtcdCall *c);
/* The endpoint in use. */
const char *etcd_endpoint(Etcd *e);
/* The endpoint in use answered something that made no sense to the caller: use the next one from now on. */
void etcd_rotate(Etcd *e);

/* ---- pure helpers ---- */

/* Standard base64 with padding. NULL on OOM. */
char *etcd_base64_encode(const void *data, size_t size);
/* Decodes standard or URL-safe base64, padded or not. The result is NUL-terminated (not counted in
 * *ret_size). -EINVAL on anything else. */
int etcd_base64_decode(const char *s, size_t len, char **ret, size_t *ret_size);
/* The range_end that selects every key starting with prefix (prefix with its last byte < 0xff incremented,
 * trailing 0xff bytes dropped); "\0" (all keys) for an empty or all-0xff prefix. Sets *ret_size. */
char *etcd_prefix_range_end(const char *prefix, size_t size, size_t *ret_size);

/* An int64 as the gateway sends it: a string of decimal digits, or (leniently) a JSON integer. */
int etcd_parse_int64(json_t *v, int64_t *ret);
/* The gRPC error in a gateway error body {"error": "...", "code": N, "message": "..."} → *ret_code, *ret_message
 * (borrowed). -EBADMSG when reply is not such a body. */
int etcd_parse_error(json_t *reply, int *ret_code, const char **ret_message);
/* /v3/lease/grant → the lease ID (> 0) and its TTL (> 0, may differ from what was asked). */
int etcd_parse_grant(json_t *reply, int64_t *ret_id, int64_t *ret_ttl);
/* /v3/lease/keepalive for lease id → its remaining TTL; 0 when the lease is gone (TTL "0" or missing).
 * -EBADMSG on garbage, including a result for another lease. */
int etcd_parse_keepalive(json_t *reply, int64_t id, int64_t *ret_ttl);
/* /v3/kv/range → an array of {"key": "...", "value": "...", "lease": "ID"} with key and value decoded; a key
 * that is not UTF-8 is left out, a value that is not UTF-8 is null; "lease" is absent for keys without one. */
int etcd_parse_range(json_t *reply, json_t **ret);
