/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "updates/fleetlock.h"
#include "shared/backoff.h"
#include "shared/log.h"
#include "updates/fleetlock-wire.h"

#define FLEETLOCK_MAX_ANSWER (64 * 1024)
#define FLEETLOCK_MAX_SHOWN 256 /* of a server's sentence, in our status and journal */

struct FleetLock {
        sd_event *event;
        HttpClient *http;
        char *urls[_FLEETLOCK_OP_MAX];
        char *body;
        FleetLockFunc func;
        void *userdata;

        bool active;            /* a request is in flight or waiting for its retry */
        FleetLockOp op;
        unsigned failures;
        HttpRequest *request;
        sd_event_source *retry;
};

static const char *const op_names[_FLEETLOCK_OP_MAX] = {
        [FLEETLOCK_PRE_REBOOT] = "pre-reboot",
        [FLEETLOCK_STEADY_STATE] = "steady-state",
};

const char *fleetlock_op_to_string(FleetLockOp op) {
        return op >= 0 && op < _FLEETLOCK_OP_MAX ? op_names[op] : NULL;
}

static const char *const result_reasons[_FLEETLOCK_RESULT_MAX] = {
        [FLEETLOCK_OK] = "lock-ok",
        [FLEETLOCK_UNREACHABLE] = "lock-unreachable",
        [FLEETLOCK_REFUSED] = "lock-refused",
        [FLEETLOCK_BAD_ANSWER] = "lock-bad-answer",
};

const char *fleetlock_result_to_reason(FleetLockResult r) {
        return r >= 0 && r < _FLEETLOCK_RESULT_MAX ? result_reasons[r] : NULL;
}

uint64_t fleetlock_backoff_usec(unsigned attempt, uint32_t random) {
        return backoff_usec(attempt, FLEETLOCK_BACKOFF_MIN_USEC, FLEETLOCK_BACKOFF_MAX_USEC, random);
}

int fleetlock_url(const char *base_url, FleetLockOp op, char **ret) {
        const char *host, *path, *end;
        size_t keep;

        if (!base_url || !ret || op < 0 || op >= _FLEETLOCK_OP_MAX)
                return -EINVAL;
        if (strncmp(base_url, "http://", 7) == 0)
                host = base_url + 7;
        else if (strncmp(base_url, "https://", 8) == 0)
                host = base_url + 8;
        else
                return -EINVAL;
        if (!*host || strchr("/?#", *host) || strpbrk(base_url, " \t\r\n"))
                return -EINVAL;
        /* the path starts at the first '/' after the authority; query and fragment are not part of it */
        path = host + strcspn(host, "/?#");
        end = path + strcspn(path, "?#");
        if (*path != '/')
                keep = (size_t) (path - base_url); /* no path: the reference lands at the root */
        else {
                const char *slash = path;
                for (const char *c = path; c < end; c++)
                        if (*c == '/')
                                slash = c;
                keep = (size_t) (slash - base_url);
        }
        return asprintf(ret, "%.*s/v1/%s", (int) keep, base_url, op_names[op]) < 0 ? -ENOMEM : 0;
}

/* A server's sentence as we show it: control characters replaced, bounded. */
static char *sanitize(const char *s) {
        size_t n = strnlen(s, FLEETLOCK_MAX_SHOWN);
        char *c = strndup(s, n);

        for (size_t i = 0; c && i < n; i++)
                if ((unsigned char) c[i] < 0x20 || c[i] == 0x7f)
                        c[i] = '?';
        return c;
}

static bool kind_valid(const char *k) {
        size_t n = strlen(k);

        return n > 0 && n <= 64 &&
               strspn(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") == n;
}

FleetLockResult fleetlock_parse_answer(FleetLockOp op, long status, const char *body, size_t size,
                                       char **ret_kind, char **ret_message) {
        _cleanup_free_ char *value = NULL;
        json_t *doc = NULL, *kind, *v;
        FleetLockResult result;
        char *msg = NULL;

        *ret_kind = NULL;
        if (status == 200) {
                if (asprintf(&msg, "The lock server granted %s.", fleetlock_op_to_string(op)) < 0)
                        msg = NULL;
                *ret_message = msg;
                return FLEETLOCK_OK;
        }
        if (body && size > 0 && size <= FLEETLOCK_MAX_ANSWER)
                doc = json_loadb(body, size, JSON_REJECT_DUPLICATES, NULL);
        kind = json_object_get(doc, "kind");
        v = json_object_get(doc, "value");
        if (status >= 400 && status <= 599 && json_is_string(kind) && kind_valid(json_string_value(kind)) &&
            json_is_string(v) && (value = sanitize(json_string_value(v)))) {
                *ret_kind = strdup(json_string_value(kind));
                if (asprintf(&msg, "The lock server refused %s (HTTP %ld, %s): %s", fleetlock_op_to_string(op),
                             status, json_string_value(kind), value) < 0)
                        msg = NULL;
                result = FLEETLOCK_REFUSED;
        } else {
                if (asprintf(&msg,
                             "The lock server answered %s with HTTP %ld and %s, not the FleetLock protocol's answer.",
                             fleetlock_op_to_string(op), status,
                             doc ? "a document without a valid kind and value" : "no JSON error document") < 0)
                        msg = NULL;
                result = FLEETLOCK_BAD_ANSWER;
        }
        json_decref(doc);
        *ret_message = msg;
        return result;
}

static void fleetlock_schedule_retry(FleetLock *f, uint64_t delay) {
        if (sd_event_source_set_time_relative(f->retry, delay) < 0 ||
            sd_event_source_set_enabled(f->retry, SD_EVENT_ONESHOT) < 0)
                log_warning("FleetLock: cannot arm the retry timer; %s waits for the next change.",
                            fleetlock_op_to_string(f->op));
}

static void on_answer(HttpRequest *req, int error, const char *message, long status, const char *body,
                      size_t size, void *userdata) {
        FleetLock *f = userdata;
        _cleanup_free_ char *kind = NULL, *msg = NULL;
        FleetLockOutcome o = { .op = f->op, .status = error < 0 ? 0 : status };

        f->request = NULL;
        if (error < 0) {
                o.result = FLEETLOCK_UNREACHABLE;
                if (asprintf(&msg, "The lock server %s could not be reached for %s: %s.", f->urls[f->op],
                             fleetlock_op_to_string(f->op), message ?: strerror(-error)) < 0)
                        msg = NULL;
        } else
                o.result = fleetlock_parse_answer(f->op, status, body, size, &kind, &msg);
        o.kind = kind;
        o.message = msg ?: "out of memory";
        if (o.result == FLEETLOCK_OK) {
                f->active = false;
                f->failures = 0;
        } else {
                o.retry_in_usec = fleetlock_backoff_usec(f->failures, random_u32());
                o.failures = ++f->failures;
                fleetlock_schedule_retry(f, o.retry_in_usec);
        }
        /* last: the callback may start another request or free us */
        f->func(f, &o, f->userdata);
}

static int fleetlock_send(FleetLock *f) {
        static const char *const headers[] = { "fleet-lock-protocol: true", NULL };

        return http_request_start(f->http,
                                  &(HttpRequestOptions) {
                                          .method = "POST",
                                          .url = f->urls[f->op],
                                          .body = f->body,
                                          .body_size = strlen(f->body),
                                          .headers = headers,
                                          .timeout_ms = FLEETLOCK_TIMEOUT_USEC / USEC_PER_MSEC,
                                          .connect_timeout_ms = FLEETLOCK_TIMEOUT_USEC / USEC_PER_MSEC / 2,
                                          .max_response = FLEETLOCK_MAX_ANSWER,
                                  },
                                  on_answer, f, &f->request);
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        FleetLock *f = userdata;
        int r;

        if (!f->active || f->request)
                return 0;
        r = fleetlock_send(f);
        if (r < 0) {
                log_warning_errno(r, "FleetLock: cannot send %s, retrying: %m", fleetlock_op_to_string(f->op));
                fleetlock_schedule_retry(f, fleetlock_backoff_usec(f->failures++, random_u32()));
        }
        return 0;
}

void fleetlock_cancel(FleetLock *f) {
        if (!f)
                return;
        http_request_cancel(f->request);
        f->request = NULL;
        (void) sd_event_source_set_enabled(f->retry, SD_EVENT_OFF);
        f->active = false;
        f->failures = 0;
}

int fleetlock_start(FleetLock *f, FleetLockOp op) {
        if (op < 0 || op >= _FLEETLOCK_OP_MAX)
                return -EINVAL;
        fleetlock_cancel(f);
        f->op = op;
        f->active = true;
        /* from the loop, never from the caller's stack: the callback may come at once */
        fleetlock_schedule_retry(f, 0);
        return 0;
}

void fleetlock_set_func(FleetLock *f, FleetLockFunc func, void *userdata) {
        f->func = func;
        f->userdata = userdata;
}

bool fleetlock_pending(FleetLock *f, FleetLockOp op) {
        return f && f->active && f->op == op;
}

int fleetlock_new(FleetLock **ret, sd_event *event, HttpClient *http, const char *base_url, const char *id,
                  const char *group, FleetLockFunc func, void *userdata) {
        _cleanup_(fleetlock_freep) FleetLock *f = NULL;
        int r;

        if (!ret || !event || !http || !func)
                return -EINVAL;
        f = calloc(1, sizeof(FleetLock));
        if (!f)
                return -ENOMEM;
        f->event = sd_event_ref(event);
        f->http = http;
        f->func = func;
        f->userdata = userdata;
        for (FleetLockOp op = 0; op < _FLEETLOCK_OP_MAX; op++) {
                r = fleetlock_url(base_url, op, &f->urls[op]);
                if (r < 0)
                        return r;
        }
        r = updates_fleetlock_request_body(id, group, &f->body);
        if (r < 0)
                return r;
        r = sd_event_add_time_relative(event, &f->retry, CLOCK_MONOTONIC, 0, 0, on_retry, f);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(f->retry, SD_EVENT_OFF);
        (void) sd_event_source_set_description(f->retry, "fleetlock-retry");
        *ret = TAKE_PTR(f);
        return 0;
}

FleetLock *fleetlock_free(FleetLock *f) {
        if (!f)
                return NULL;
        http_request_cancel(f->request);
        sd_event_source_disable_unref(f->retry);
        sd_event_unref(f->event);
        for (FleetLockOp op = 0; op < _FLEETLOCK_OP_MAX; op++)
                free(f->urls[op]);
        free(f->body);
        free(f);
        return NULL;
}
