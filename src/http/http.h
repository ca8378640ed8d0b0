/* SPDX-License-Identifier: MIT */
#pragma once

/* HTTP on the loop: libcurl's multi interface driven by sd-event (curl's socket callback → sd_event_add_io, its
 * timer callback → one time source, each finished transfer → the request's callback). Never blocks; every
 * request has a timeout. Used for the Docker Engine API (over its UNIX socket), health checks, the cluster. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "shared/macro.h"

typedef struct HttpClient HttpClient;
typedef struct HttpRequest HttpRequest;

/* error: 0, or a negative errno-style code (-ETIMEDOUT, -ECONNREFUSED, -EIO…); message says what curl said.
 * status: the HTTP status, 0 when there was none. body: what came (NUL-terminated), unless streamed. */
typedef void (*HttpDoneFunc)(HttpRequest *req, int error, const char *message, long status, const char *body,
                             size_t size, void *userdata);
/* For streamed responses (event streams): called with each piece as it arrives; return < 0 to abort. */
typedef int (*HttpDataFunc)(HttpRequest *req, const char *data, size_t size, void *userdata);
/* Frees a request's userdata when the request ends without its done callback: cancelled, or still in flight
 * when the client is freed (at exit). */
typedef void (*HttpDestroyFunc)(void *userdata);

typedef struct HttpRequestOptions {
        const char *method;       /* "GET" (default), "POST", "DELETE", "PUT" */
        const char *url;
        const char *unix_socket;  /* talk HTTP over this UNIX socket (Docker) */
        const char *body;         /* request body, copied; sent as application/json */
        size_t body_size;
        const char *const *headers; /* extra "Name: value" lines, NULL-terminated */
        uint64_t timeout_ms;      /* whole transfer; 0 = none (streams) */
        uint64_t connect_timeout_ms;
        size_t max_response;      /* refuse bodies larger than this (default 4 MiB) */
        HttpDataFunc on_data;     /* stream instead of buffering */
        HttpDestroyFunc destroy;  /* userdata's owner when done is never called (see HttpDestroyFunc) */
        const char *ca_file, *cert_file, *key_file;
} HttpRequestOptions;

int http_client_new(HttpClient **ret, sd_event *event);
HttpClient *http_client_free(HttpClient *c);
DEFINE_CLEANUP_FUNC(HttpClient *, http_client_free);

/* Starts a request; done is called exactly once, from the loop, unless the request is cancelled first.
 * ret may be NULL when the caller never cancels. */
int http_request_start(HttpClient *c, const HttpRequestOptions *o, HttpDoneFunc done, void *userdata,
                       HttpRequest **ret);
/* Cancels a request in flight without calling done. NULL is fine. */
void http_request_cancel(HttpRequest *r);
/* A response header of a finished or streaming request ("Api-Version"), or NULL. */
const char *http_request_header(HttpRequest *r, const char *name);
unsigned http_client_n_active(HttpClient *c);
