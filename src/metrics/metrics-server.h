/* SPDX-License-Identifier: MIT */
#pragma once

/* Where the metrics go: an HTTP endpoint that answers GET /metrics (on the loop: http/http-server.h; any other
 * path is 404, another method 405), and/or a node_exporter textfile-collector file rewritten atomically (mode
 * 0644) every interval. Both take the text from the render function, which runs synchronously on the loop: it
 * must only read what the daemon already knows (docs/BENCHMARKS.md measures it with 500 services). */

#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "shared/macro.h"

typedef struct MetricsServer MetricsServer;

/* The exposition text, malloc'd and NUL-terminated; < 0 on failure (the scrape gets a 500). */
typedef int (*MetricsRenderFunc)(char **ret, size_t *ret_size, void *userdata);

typedef struct MetricsServerOptions {
        const char *address;         /* NULL: no endpoint */
        uint16_t port;               /* 0 picks a free one (tests) */
        const char *textfile;        /* NULL: no textfile; otherwise a host path (under --root already) */
        unsigned textfile_interval_s;
} MetricsServerOptions;

/* Limits of the endpoint: a scraper makes one small request at a time. */
#define METRICS_SERVER_MAX_CONNECTIONS 8U
#define METRICS_SERVER_CONNECTION_MEMORY (16U * 1024U)
#define METRICS_SERVER_TIMEOUT_SEC 10U

int metrics_server_new(MetricsServer **ret, sd_event *event, const MetricsServerOptions *o,
                       MetricsRenderFunc render, void *userdata);
MetricsServer *metrics_server_free(MetricsServer *s);
DEFINE_CLEANUP_FUNC(MetricsServer *, metrics_server_free);

/* The port of the endpoint (0: none). */
uint16_t metrics_server_port(MetricsServer *s);
/* Renders and writes the textfile now (0 when there is none). */
int metrics_server_write_textfile(MetricsServer *s);
