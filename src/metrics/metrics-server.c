/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <microhttpd.h>
#include <string.h>

#include "http/http-server.h"
#include "metrics/metrics.h"
#include "metrics/metrics-server.h"
#include "shared/fileio.h"
#include "shared/log.h"
#include "shared/time-util.h"

struct MetricsServer {
        HttpServer *http;
        sd_event_source *textfile_timer;
        char *textfile;
        unsigned textfile_interval_s;
        int textfile_error; /* the last write's result: a failure is logged when it changes, not every time */
        MetricsRenderFunc render;
        void *userdata;
};

static enum MHD_Result queue_text(struct MHD_Connection *c, unsigned status, const char *text, const char *allow) {
        struct MHD_Response *response;
        enum MHD_Result r;

        response = MHD_create_response_from_buffer(strlen(text), (void *) text, MHD_RESPMEM_PERSISTENT);
        if (!response)
                return MHD_NO;
        (void) MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
        if (allow)
                (void) MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, allow);
        r = MHD_queue_response(c, status, response);
        MHD_destroy_response(response);
        return r;
}

/* GET /metrics, answered at once from the first call (a GET has no body to wait for). */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
        MetricsServer *s = cls;
        struct MHD_Response *response;
        enum MHD_Result ok;
        char *text = NULL;
        size_t size = 0;
        int r;

        if (!streq(url, "/metrics"))
                return queue_text(c, MHD_HTTP_NOT_FOUND, "Not found: ballastd serves GET /metrics.\n", NULL);
        if (!streq(method, MHD_HTTP_METHOD_GET))
                return queue_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "Only GET is allowed here.\n", MHD_HTTP_METHOD_GET);

        r = s->render(&text, &size, s->userdata);
        if (r < 0) {
                log_warning_errno(r, "Metrics endpoint: cannot render the metrics: %m");
                return queue_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "The metrics could not be rendered.\n", NULL);
        }
        response = MHD_create_response_from_buffer(size, text, MHD_RESPMEM_MUST_FREE);
        if (!response) {
                free(text);
                return MHD_NO;
        }
        (void) MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, METRICS_CONTENT_TYPE);
        ok = MHD_queue_response(c, MHD_HTTP_OK, response);
        MHD_destroy_response(response);
        return ok;
}

int metrics_server_write_textfile(MetricsServer *s) {
        _cleanup_free_ char *text = NULL;
        size_t size;
        int r;

        if (!s || !s->textfile)
                return 0;
        r = s->render(&text, &size, s->userdata);
        if (r >= 0)
                r = write_file_atomic(s->textfile, text, size, 0644);
        if (r < 0 && r != s->textfile_error)
                log_warning_errno(r, "Metrics: cannot write %s, retrying every %u s: %m", s->textfile,
                                  s->textfile_interval_s);
        else if (r >= 0 && s->textfile_error < 0)
                log_info("Metrics: %s is written again.", s->textfile);
        s->textfile_error = r < 0 ? r : 0;
        return r;
}

static int on_textfile_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        MetricsServer *s = userdata;

        (void) metrics_server_write_textfile(s);
        (void) sd_event_source_set_time_relative(src, (uint64_t) s->textfile_interval_s * USEC_PER_SEC);
        return 0;
}

int metrics_server_new(MetricsServer **ret, sd_event *event, const MetricsServerOptions *o,
                       MetricsRenderFunc render, void *userdata) {
        _cleanup_(metrics_server_freep) MetricsServer *s = NULL;
        int r;

        if (!ret || !event || !o || !render || (o->textfile && o->textfile_interval_s == 0))
                return -EINVAL;
        s = calloc(1, sizeof(MetricsServer));
        if (!s)
                return -ENOMEM;
        s->render = render;
        s->userdata = userdata;

        if (o->address) {
                r = http_server_new(&s->http, event,
                                    &(HttpServerOptions) { .name = "Metrics endpoint", .address = o->address,
                                                           .port = o->port, .handler = on_request,
                                                           .handler_cls = s,
                                                           .max_connections = METRICS_SERVER_MAX_CONNECTIONS,
                                                           .connection_memory = METRICS_SERVER_CONNECTION_MEMORY,
                                                           .timeout_sec = METRICS_SERVER_TIMEOUT_SEC });
                if (r < 0)
                        return r;
        }
        if (o->textfile) {
                s->textfile = strdup(o->textfile);
                if (!s->textfile)
                        return -ENOMEM;
                s->textfile_interval_s = o->textfile_interval_s;
                /* the first write comes from the loop, once the daemon is up */
                r = sd_event_add_time_relative(event, &s->textfile_timer, CLOCK_MONOTONIC, 0, USEC_PER_SEC / 10,
                                               on_textfile_timer, s);
                if (r < 0)
                        return log_error_errno(r, "Metrics: cannot add the textfile timer: %m");
                (void) sd_event_source_set_enabled(s->textfile_timer, SD_EVENT_ON);
                (void) sd_event_source_set_description(s->textfile_timer, "metrics-textfile");
        }
        *ret = TAKE_PTR(s);
        return 0;
}

MetricsServer *metrics_server_free(MetricsServer *s) {
        if (!s)
                return NULL;
        http_server_free(s->http);
        sd_event_source_disable_unref(s->textfile_timer);
        free(s->textfile);
        return mfree(s);
}

uint16_t metrics_server_port(MetricsServer *s) {
        return s ? http_server_port(s->http) : 0;
}
