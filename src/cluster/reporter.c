/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cluster/etcd.h"
#include "cluster/reporter.h"
#include "shared/backoff.h"
#include "shared/fileio.h"
#include "shared/json-util.h"
#include "shared/log.h"

#define REPORTER_HTTP_TIMEOUT_MS 5000U

typedef enum ReportState {
        REPORT_CONNECTING,
        REPORT_OK,
        REPORT_ERROR,
} ReportState;

static const char *const report_state_names[] = {
        [REPORT_CONNECTING] = "connecting",
        [REPORT_OK] = "ok",
        [REPORT_ERROR] = "error",
};

/* What GetStatus shows of one destination, and the failures in a row that drive its backoff. */
typedef struct ReportStatus {
        ReportState state;
        char *error;
        uint64_t since_usec;      /* CLOCK_REALTIME: when the state began */
        uint64_t last_ok_usec;    /* CLOCK_REALTIME: the last exchange that went well */
        unsigned failures;
        uint64_t errors_total;    /* exchanges that failed, since the start */
} ReportStatus;

typedef struct ListCall ListCall;
struct ListCall {
        Reporter *reporter;
        ListCall *prev, *next;
        EtcdCall *call;
        void (*cb)(int error, json_t *nodes, void *userdata);
        void *userdata;
};

struct Reporter {
        sd_event *event;
        HttpClient *http;
        ReporterDocumentFunc doc;
        void *userdata;
        sd_event_source *debounce;
        bool stopping;

        /* etcd: one request in flight at a time, chosen by etcd_next() from what is due */
        Etcd *etcd;
        char *key;                /* PREFIX/nodes/NODE */
        char *nodes_prefix;       /* PREFIX/nodes/ */
        unsigned ttl_s;           /* asked for */
        EtcdCall *etcd_op;
        int64_t lease_id;         /* 0: none */
        int64_t lease_ttl;        /* as granted or last kept alive */
        bool keepalive_due;
        bool put_check;           /* see whether the document differs from what etcd holds */
        char *put_text;           /* the document etcd holds under put_lease, as far as we know */
        int64_t put_lease;
        unsigned lease_losses;    /* in a row, without a put that went through */
        char *put_pending;        /* the document of the put in flight */
        sd_event_source *keepalive_timer, *etcd_retry;
        ReportStatus etcd_status;

        /* the HTTP endpoint */
        char *http_url;
        char *token_file;
        unsigned interval_s;
        HttpRequest *http_op;
        char *http_pending;       /* the document of the post in flight */
        char *http_posted;        /* the document last accepted */
        bool http_again;          /* the document changed while a post was in flight */
        long http_last_status;
        sd_event_source *http_timer;
        ReportStatus http_status;

        /* shutdown */
        EtcdCall *revoke;
        sd_event_source *stop_timer;
        void (*stop_done)(void *userdata);
        void *stop_userdata;

        ListCall *lists;
};

/* ---- status ---- */

static void status_set(ReportStatus *s, ReportState state, const char *error) {
        if (s->state != state)
                s->since_usec = now_usec(CLOCK_REALTIME);
        s->state = state;
        free(s->error);
        s->error = error ? strdup(error) : NULL;
        if (state == REPORT_ERROR)
                s->errors_total++;
        if (state == REPORT_OK) {
                s->last_ok_usec = now_usec(CLOCK_REALTIME);
                s->failures = 0;
        }
}

static json_t *status_json(const ReportStatus *s) {
        json_t *v = json_pack("{s:s, s:I, s:I}", "state", report_state_names[s->state], "since_usec",
                              (json_int_t) s->since_usec, "errors_total", (json_int_t) s->errors_total);

        if (!v)
                return NULL;
        if (s->last_ok_usec > 0)
                (void) json_object_set_new(v, "last_ok_usec", json_integer((json_int_t) s->last_ok_usec));
        if (s->error)
                (void) json_object_set_new(v, "error", json_string(s->error));
        return v;
}

static int arm_timer(sd_event_source *s, uint64_t usec) {
        int r = sd_event_source_set_time_relative(s, usec);
        if (r >= 0)
                r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        if (r < 0) {
                const char *d = NULL;
                (void) sd_event_source_get_description(s, &d);
                log_warning_errno(r, "Failed to arm timer %s: %m", strna(d));
        }
        return r;
}

static bool timer_armed(sd_event_source *s) {
        int enabled = SD_EVENT_OFF;

        return s && sd_event_source_get_enabled(s, &enabled) >= 0 && enabled != SD_EVENT_OFF;
}

static char *document_text(Reporter *r) {
        _cleanup_json_ json_t *doc = r->doc ? r->doc(r->userdata) : NULL;

        if (!doc)
                return NULL;
        /* sorted keys: equal documents give equal text, so an unchanged one is not sent again */
        return json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(10));
}

/* ---- etcd ---- */

static void etcd_next(Reporter *r);

static void etcd_failed(Reporter *r, int error, const char *message) {
        uint64_t delay = reporter_backoff_usec(r->etcd_status.failures, random_u32());

        if (r->etcd_status.state != REPORT_ERROR)
                log_event(LOG_WARNING, error, "cluster-etcd-error", NULL, NULL,
                          "etcd: %s; retrying with backoff, workloads are left as they are.", message);
        else
                log_debug("etcd: %s; retrying in %" PRIu64 " ms.", message, delay / USEC_PER_MSEC);
        status_set(&r->etcd_status, REPORT_ERROR, message);
        r->etcd_status.failures++;
        /* when it comes back: first make sure the lease still lives, then that etcd holds the document */
        if (r->lease_id > 0)
                r->keepalive_due = true;
        r->put_check = true;
        (void) arm_timer(r->etcd_retry, delay);
}

static void etcd_lease_lost(Reporter *r, const char *why) {
        log_event(LOG_NOTICE, 0, "cluster-etcd-lease-lost", NULL, NULL,
                  "etcd lease %" PRIi64 " is gone (%s); granting a new one and putting the key again.",
                  r->lease_id, why);
        r->lease_id = 0;
        r->put_lease = 0;
        r->keepalive_due = false;
        (void) sd_event_source_set_enabled(r->keepalive_timer, SD_EVENT_OFF);
        /* etcd answered: whatever backoff the outage built up is over; but a new lease that is lost at once,
         * again and again, goes through a backoff of its own rather than a tight loop */
        status_set(&r->etcd_status, REPORT_CONNECTING, NULL);
        r->etcd_status.failures = 0;
        (void) arm_timer(r->etcd_retry, reporter_backoff_usec(r->lease_losses++, random_u32()));
}

static void etcd_lease_alive(Reporter *r, int64_t ttl) {
        r->lease_ttl = ttl;
        r->keepalive_due = false;
        (void) arm_timer(r->keepalive_timer, (uint64_t) ttl * USEC_PER_SEC / 3);
}

static void on_grant(Etcd *e, int error, const char *message, json_t *reply, void *userdata) {
        Reporter *r = userdata;
        int64_t id, ttl;

        r->etcd_op = NULL;
        if (error < 0) {
                etcd_failed(r, error, message);
                return;
        }
        if (etcd_parse_grant(reply, &id, &ttl) < 0) {
                etcd_rotate(e);
                etcd_failed(r, -EBADMSG, "lease grant: unexpected reply");
                return;
        }
        log_debug("etcd: granted lease %" PRIi64 " with TTL %" PRIi64 " s by %s.", id, ttl, etcd_endpoint(e));
        r->lease_id = id;
        r->put_check = true;
        etcd_lease_alive(r, ttl);
        etcd_next(r);
}

static void on_keepalive(Etcd *e, int error, const char *message, json_t *reply, void *userdata) {
        Reporter *r = userdata;
        int64_t ttl;

        r->etcd_op = NULL;
        if (error == -ENOENT) {
                etcd_lease_lost(r, message);
                return;
        }
        if (error < 0) {
                etcd_failed(r, error, message);
                return;
        }
        if (etcd_parse_keepalive(reply, r->lease_id, &ttl) < 0) {
                etcd_rotate(e);
                etcd_failed(r, -EBADMSG, "lease keepalive: unexpected reply");
                return;
        }
        if (ttl == 0) {
                etcd_lease_lost(r, "expired");
                return;
        }
        etcd_lease_alive(r, ttl);
        /* the key is there as long as the lease is, if our last put landed */
        if (r->put_lease == r->lease_id && r->put_text) {
                if (r->etcd_status.state != REPORT_OK)
                        log_event(LOG_INFO, 0, "cluster-etcd-ok", NULL, NULL, "etcd: reporting to %s again.",
                                  etcd_endpoint(e));
                status_set(&r->etcd_status, REPORT_OK, NULL);
        }
        r->put_check = true;
        etcd_next(r);
}

static void on_put(Etcd *e, int error, const char *message, json_t *reply, void *userdata) {
        Reporter *r = userdata;
        _cleanup_free_ char *text = TAKE_PTR(r->put_pending);

        r->etcd_op = NULL;
        if (error < 0) {
                /* it may or may not have landed: put again once etcd answers */
                r->put_text = mfree(r->put_text);
                if (error == -ENOENT) {
                        etcd_lease_lost(r, message);
                        return;
                }
                etcd_failed(r, error, message);
                return;
        }
        if (!json_is_object(reply) || json_object_get(reply, "error")) {
                etcd_rotate(e);
                etcd_failed(r, -EBADMSG, "put: unexpected reply");
                return;
        }
        free(r->put_text);
        r->put_text = TAKE_PTR(text);
        r->put_lease = r->lease_id;
        r->lease_losses = 0;
        if (r->etcd_status.state != REPORT_OK)
                log_event(LOG_INFO, 0, "cluster-etcd-ok", NULL, NULL,
                          "etcd: reporting as %s to %s, lease %" PRIi64 " (TTL %" PRIi64 " s).", r->key,
                          etcd_endpoint(e), r->lease_id, r->lease_ttl);
        status_set(&r->etcd_status, REPORT_OK, NULL);
        etcd_next(r);
}

static int etcd_start_op(Reporter *r, const char *path, json_t *body, EtcdReplyFunc cb) {
        int k;

        if (!body)
                return -ENOMEM;
        k = etcd_call(r->etcd, path, body, 0, cb, r, &r->etcd_op);
        json_decref(body);
        return k;
}

static int etcd_grant(Reporter *r) {
        char ttl[16];

        snprintf(ttl, sizeof(ttl), "%u", r->ttl_s);
        return etcd_start_op(r, "/v3/lease/grant", json_pack("{s:s}", "TTL", ttl), on_grant);
}

static int etcd_keepalive(Reporter *r) {
        char id[32];

        snprintf(id, sizeof(id), "%" PRIi64, r->lease_id);
        return etcd_start_op(r, "/v3/lease/keepalive", json_pack("{s:s}", "ID", id), on_keepalive);
}

static int etcd_put(Reporter *r, char *text) {
        _cleanup_free_ char *key64 = NULL, *value64 = NULL;
        char id[32];
        int k;

        snprintf(id, sizeof(id), "%" PRIi64, r->lease_id);
        key64 = etcd_base64_encode(r->key, strlen(r->key));
        value64 = etcd_base64_encode(text, strlen(text));
        if (!key64 || !value64) {
                free(text);
                return -ENOMEM;
        }
        k = etcd_start_op(r, "/v3/kv/put", json_pack("{s:s, s:s, s:s}", "key", key64, "value", value64, "lease", id),
                          on_put);
        if (k < 0) {
                free(text);
                return k;
        }
        free(r->put_pending);
        r->put_pending = text;
        return 0;
}

/* Starts what is due, most urgent first: a lease, keeping it alive, then the document. */
static void etcd_next(Reporter *r) {
        int k = 0;

        if (!r->etcd || r->stopping || r->etcd_op || timer_armed(r->etcd_retry))
                return;
        if (r->lease_id == 0)
                k = etcd_grant(r);
        else if (r->keepalive_due)
                k = etcd_keepalive(r);
        else if (r->put_check) {
                char *text;

                r->put_check = false;
                text = document_text(r);
                if (!text)
                        return;
                if (r->put_lease == r->lease_id && streq_ptr(text, r->put_text)) {
                        free(text);
                        return;
                }
                k = etcd_put(r, text);
        }
        if (k < 0)
                etcd_failed(r, k, "cannot start a request");
}

static int on_etcd_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        etcd_next(userdata);
        return 0;
}

static int on_keepalive_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Reporter *r = userdata;

        r->keepalive_due = true;
        etcd_next(r);
        return 0;
}

/* ---- the HTTP endpoint ---- */

static void http_post(Reporter *r);

static void http_schedule(Reporter *r, uint64_t usec) {
        (void) arm_timer(r->http_timer, usec);
}

static void http_failed(Reporter *r, int error, const char *message) {
        uint64_t delay = MIN(reporter_backoff_usec(r->http_status.failures, random_u32()),
                             (uint64_t) r->interval_s * USEC_PER_SEC);

        if (r->http_status.state != REPORT_ERROR)
                log_event(LOG_WARNING, error, "cluster-http-error", NULL, NULL,
                          "HTTP report to %s: %s; retrying with backoff.", r->http_url, message);
        else
                log_debug("HTTP report to %s: %s; retrying in %" PRIu64 " ms.", r->http_url, message,
                          delay / USEC_PER_MSEC);
        status_set(&r->http_status, REPORT_ERROR, message);
        r->http_status.failures++;
        http_schedule(r, delay);
}

static void on_http_done(HttpRequest *req, int error, const char *message, long status, const char *body,
                         size_t size, void *userdata) {
        Reporter *r = userdata;
        _cleanup_free_ char *text = TAKE_PTR(r->http_pending);
        char buf[64];

        r->http_op = NULL;
        r->http_last_status = status;
        if (error < 0) {
                http_failed(r, error, message ?: "request failed");
                return;
        }
        if (status < 200 || status >= 300) {
                snprintf(buf, sizeof(buf), "HTTP %ld", status);
                http_failed(r, -EIO, buf);
                return;
        }
        if (r->http_status.state != REPORT_OK)
                log_event(LOG_INFO, 0, "cluster-http-ok", NULL, NULL, "Reporting to %s.", r->http_url);
        status_set(&r->http_status, REPORT_OK, NULL);
        free(r->http_posted);
        r->http_posted = TAKE_PTR(text);
        http_schedule(r, (uint64_t) r->interval_s * USEC_PER_SEC);
        if (r->http_again) {
                r->http_again = false;
                http_post(r);
        }
}

/* Posts the document now; only_if_changed: unless it is the one last accepted. */
static void http_post_full(Reporter *r, bool only_if_changed) {
        _cleanup_free_ char *token = NULL, *header = NULL, *text = NULL;
        const char *headers[2] = {};
        char buf[256];
        int k;

        if (!r->http_url || r->stopping)
                return;
        if (r->http_op) {
                r->http_again = true;
                return;
        }
        text = document_text(r);
        if (!text) {
                http_schedule(r, (uint64_t) r->interval_s * USEC_PER_SEC);
                return;
        }
        if (only_if_changed && streq_ptr(text, r->http_posted))
                return;
        /* read each time: a rotated token is used at once */
        if (r->token_file) {
                k = reporter_read_token(r->token_file, &token);
                if (k < 0) {
                        snprintf(buf, sizeof(buf), "token file %s: %s", r->token_file,
                                 k == -ENODATA ? "empty" : k == -EINVAL ? "not a single word in a regular file" :
                                 strerror(-k));
                        http_failed(r, k, buf);
                        return;
                }
                if (asprintf(&header, "Authorization: Bearer %s", token) < 0) {
                        http_failed(r, -ENOMEM, "out of memory");
                        return;
                }
                headers[0] = header;
        }
        k = http_request_start(r->http,
                               &(HttpRequestOptions) { .method = "POST", .url = r->http_url,
                                                       .body = text, .body_size = strlen(text),
                                                       .headers = headers, .timeout_ms = REPORTER_HTTP_TIMEOUT_MS,
                                                       .connect_timeout_ms = REPORTER_HTTP_TIMEOUT_MS },
                               on_http_done, r, &r->http_op);
        if (k < 0) {
                http_failed(r, k, "cannot start a request");
                return;
        }
        r->http_pending = TAKE_PTR(text);
}

static void http_post(Reporter *r) {
        http_post_full(r, true);
}

static int on_http_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        /* the interval's report goes out even when nothing changed: it says the node is alive */
        http_post_full(userdata, false);
        return 0;
}

/* ---- the module ---- */

static int on_debounce(sd_event_source *s, uint64_t usec, void *userdata) {
        Reporter *r = userdata;

        r->put_check = true;
        etcd_next(r);
        /* while failing, the retry timer carries the newest document: no extra attempts */
        if (r->http_status.state != REPORT_ERROR)
                http_post(r);
        return 0;
}

static int add_timer(Reporter *r, sd_event_source **ret, sd_event_time_handler_t handler, uint64_t accuracy,
                     const char *description) {
        int k = sd_event_add_time_relative(r->event, ret, CLOCK_MONOTONIC, 0, accuracy, handler, r);
        if (k < 0)
                return k;
        (void) sd_event_source_set_enabled(*ret, SD_EVENT_OFF);
        (void) sd_event_source_set_description(*ret, description);
        return 0;
}

int reporter_new(Reporter **ret, sd_event *event, HttpClient *http, const ReporterOptions *o,
                 ReporterDocumentFunc doc, void *userdata) {
        _cleanup_(reporter_freep) Reporter *r = calloc(1, sizeof(Reporter));
        int k;

        if (!r)
                return -ENOMEM;
        r->event = sd_event_ref(event);
        r->http = http;
        r->doc = doc;
        r->userdata = userdata;
        r->etcd_status.since_usec = r->http_status.since_usec = now_usec(CLOCK_REALTIME);

        k = add_timer(r, &r->debounce, on_debounce, USEC_PER_MSEC, "reporter-debounce");
        if (k < 0)
                return k;
        if (strv_length(o->etcd_endpoints) > 0) {
                if (isempty(o->node_name))
                        return -EINVAL;
                k = etcd_new(&r->etcd, http,
                             &(EtcdOptions) { .endpoints = o->etcd_endpoints, .ca_file = o->etcd_ca,
                                              .cert_file = o->etcd_cert, .key_file = o->etcd_key });
                if (k < 0)
                        return k;
                r->key = reporter_etcd_key(o->etcd_prefix ?: "/ballast", o->node_name);
                r->nodes_prefix = reporter_etcd_key(o->etcd_prefix ?: "/ballast", NULL);
                if (!r->key || !r->nodes_prefix)
                        return -ENOMEM;
                r->ttl_s = o->etcd_ttl_s ?: REPORTER_TTL_DEFAULT_S;
                if ((k = add_timer(r, &r->keepalive_timer, on_keepalive_timer, 50 * USEC_PER_MSEC,
                                   "reporter-etcd-keepalive")) < 0 ||
                    (k = add_timer(r, &r->etcd_retry, on_etcd_retry, 10 * USEC_PER_MSEC, "reporter-etcd-retry")) < 0)
                        return k;
        }
        if (o->http_url) {
                r->http_url = strdup(o->http_url);
                if (!r->http_url)
                        return -ENOMEM;
                if (o->http_token_file) {
                        r->token_file = strdup(o->http_token_file);
                        if (!r->token_file)
                                return -ENOMEM;
                }
                r->interval_s = o->http_interval_s ?: REPORTER_INTERVAL_DEFAULT_S;
                k = add_timer(r, &r->http_timer, on_http_timer, 50 * USEC_PER_MSEC, "reporter-http");
                if (k < 0)
                        return k;
        }
        *ret = TAKE_PTR(r);
        return 0;
}

static void list_call_free(ListCall *l) {
        if (!l)
                return;
        etcd_call_cancel(l->call);
        if (l->prev)
                l->prev->next = l->next;
        else
                l->reporter->lists = l->next;
        if (l->next)
                l->next->prev = l->prev;
        free(l);
}

Reporter *reporter_free(Reporter *r) {
        if (!r)
                return NULL;
        while (r->lists)
                list_call_free(r->lists);
        etcd_call_cancel(r->etcd_op);
        etcd_call_cancel(r->revoke);
        etcd_free(r->etcd);
        http_request_cancel(r->http_op);
        sd_event_source_disable_unref(r->debounce);
        sd_event_source_disable_unref(r->keepalive_timer);
        sd_event_source_disable_unref(r->etcd_retry);
        sd_event_source_disable_unref(r->http_timer);
        sd_event_source_disable_unref(r->stop_timer);
        sd_event_unref(r->event);
        free(r->key);
        free(r->nodes_prefix);
        free(r->put_text);
        free(r->put_pending);
        free(r->etcd_status.error);
        free(r->http_url);
        free(r->token_file);
        free(r->http_pending);
        free(r->http_posted);
        free(r->http_status.error);
        free(r);
        return NULL;
}

int reporter_start(Reporter *r) {
        if (r->etcd)
                log_info("Reporting to etcd at %s as %s (TTL %u s).", etcd_endpoint(r->etcd), r->key, r->ttl_s);
        if (r->http_url)
                log_info("Reporting to %s every %u s.", r->http_url, r->interval_s);
        etcd_next(r);
        http_post_full(r, false);
        return 0;
}

void reporter_changed(Reporter *r) {
        if (!r || r->stopping || timer_armed(r->debounce))
                return;
        (void) arm_timer(r->debounce, REPORTER_DEBOUNCE_USEC);
}

/* ---- shutdown ---- */

static void stop_finish(Reporter *r) {
        void (*done)(void *) = r->stop_done;

        etcd_call_cancel(r->revoke);
        r->revoke = NULL;
        (void) sd_event_source_set_enabled(r->stop_timer, SD_EVENT_OFF);
        r->stop_done = NULL;
        if (done)
                done(r->stop_userdata);  /* last: it may free us */
}

static void on_revoke(Etcd *e, int error, const char *message, json_t *reply, void *userdata) {
        Reporter *r = userdata;

        r->revoke = NULL;
        if (error < 0 && error != -ENOENT)
                log_warning("etcd: failed to revoke lease %" PRIi64 " (%s); %s goes when its TTL runs out.",
                            r->lease_id, message, r->key);
        else
                log_info("etcd: revoked lease %" PRIi64 ", %s is gone.", r->lease_id, r->key);
        r->lease_id = 0;
        stop_finish(r);
}

static int on_stop_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Reporter *r = userdata;

        if (r->revoke)
                log_warning("etcd: no answer to the revoke of lease %" PRIi64 " in time; %s goes when its TTL runs out.",
                            r->lease_id, r->key);
        stop_finish(r);
        return 0;
}

int reporter_stop(Reporter *r, void (*done)(void *userdata), void *userdata) {
        char id[32];
        int k;

        if (r->stopping)
                return -EALREADY;
        r->stopping = true;
        r->stop_done = done;
        r->stop_userdata = userdata;
        (void) sd_event_source_set_enabled(r->debounce, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(r->keepalive_timer, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(r->etcd_retry, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(r->http_timer, SD_EVENT_OFF);
        http_request_cancel(r->http_op);
        r->http_op = NULL;
        /* a grant in flight may still create a lease: that one expires by itself */
        etcd_call_cancel(r->etcd_op);
        r->etcd_op = NULL;

        k = add_timer(r, &r->stop_timer, on_stop_timer, USEC_PER_MSEC, "reporter-stop");
        if (k < 0)
                return k;
        if (r->etcd && r->lease_id > 0) {
                snprintf(id, sizeof(id), "%" PRIi64, r->lease_id);
                k = etcd_start_op(r, "/v3/lease/revoke", json_pack("{s:s}", "ID", id), on_revoke);
                if (k >= 0) {
                        r->revoke = TAKE_PTR(r->etcd_op);
                        return arm_timer(r->stop_timer, REPORTER_STOP_TIMEOUT_USEC);
                }
                log_warning_errno(k, "etcd: cannot revoke lease %" PRIi64 ": %m", r->lease_id);
        }
        /* nothing to wait for; done still comes from the loop, never from inside this call */
        return arm_timer(r->stop_timer, 0);
}

/* ---- status and listing ---- */

json_t *reporter_status_json(Reporter *r) {
        _cleanup_json_ json_t *v = json_object(), *etcd = NULL, *http = NULL;
        char id[32];

        if (!v)
                return NULL;
        if (r->etcd) {
                etcd = status_json(&r->etcd_status);
                if (!etcd || json_object_set_new(etcd, "endpoint", json_string(etcd_endpoint(r->etcd))) < 0 ||
                    json_object_set_new(etcd, "key", json_string(r->key)) < 0)
                        return NULL;
                if (r->lease_id > 0) {
                        snprintf(id, sizeof(id), "%" PRIi64, r->lease_id);
                        if (json_object_set_new(etcd, "lease", json_string(id)) < 0 ||
                            json_object_set_new(etcd, "ttl_s", json_integer(r->lease_ttl)) < 0)
                                return NULL;
                }
        }
        if (r->http_url) {
                http = status_json(&r->http_status);
                if (!http || json_object_set_new(http, "url", json_string(r->http_url)) < 0)
                        return NULL;
                if (r->http_last_status > 0 &&
                    json_object_set_new(http, "last_status", json_integer(r->http_last_status)) < 0)
                        return NULL;
        }
        if (json_object_set_new(v, "etcd", etcd ? TAKE_PTR(etcd) : json_null()) < 0 ||
            json_object_set_new(v, "http", http ? TAKE_PTR(http) : json_null()) < 0)
                return NULL;
        return TAKE_PTR(v);
}

static void on_range(Etcd *e, int error, const char *message, json_t *reply, void *userdata) {
        ListCall *l = userdata;
        void (*cb)(int, json_t *, void *) = l->cb;
        void *cb_userdata = l->userdata;
        _cleanup_json_ json_t *nodes = NULL;
        int k = error;

        if (k >= 0)
                k = reporter_parse_nodes(reply, l->reporter->nodes_prefix, &nodes);
        if (k < 0)
                log_debug("etcd: listing nodes failed: %s", message ?: strerror(-k));
        l->call = NULL;
        list_call_free(l);
        cb(k, nodes, cb_userdata);
}

int reporter_list_nodes(Reporter *r, void (*cb)(int error, json_t *nodes, void *userdata), void *userdata) {
        _cleanup_free_ char *key64 = NULL, *end = NULL, *end64 = NULL;
        size_t end_size = 0;
        ListCall *l;
        json_t *body;
        int k;

        if (!r->etcd)
                return -ENOTCONN;
        end = etcd_prefix_range_end(r->nodes_prefix, strlen(r->nodes_prefix), &end_size);
        if (!end)
                return -ENOMEM;
        key64 = etcd_base64_encode(r->nodes_prefix, strlen(r->nodes_prefix));
        end64 = etcd_base64_encode(end, end_size);
        l = calloc(1, sizeof(ListCall));
        if (!key64 || !end64 || !l) {
                free(l);
                return -ENOMEM;
        }
        *l = (ListCall) { .reporter = r, .cb = cb, .userdata = userdata, .next = r->lists };
        if (l->next)
                l->next->prev = l;
        r->lists = l;
        body = json_pack("{s:s, s:s}", "key", key64, "range_end", end64);
        if (!body) {
                list_call_free(l);
                return -ENOMEM;
        }
        k = etcd_call(r->etcd, "/v3/kv/range", body, 0, on_range, l, &l->call);
        json_decref(body);
        if (k < 0) {
                list_call_free(l);
                return k;
        }
        return 0;
}
