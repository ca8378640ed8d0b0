/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cluster/etcd.h"
#include "shared/json-util.h"
#include "shared/log.h"

#define ETCD_CONNECT_TIMEOUT_MS 1000U
#define ETCD_MAX_RESPONSE (16U * 1024U * 1024U)
#define GRPC_CODE_NOT_FOUND 5

struct Etcd {
        HttpClient *http;
        char **endpoints;      /* without a trailing slash */
        size_t n_endpoints;
        size_t current;
        char *ca_file, *cert_file, *key_file;
        EtcdCall *calls;
};

struct EtcdCall {
        Etcd *etcd;
        EtcdCall *prev, *next;
        char *path;
        char *body;
        uint64_t timeout_ms;
        size_t tries;          /* endpoints tried so far */
        HttpRequest *request;
        EtcdReplyFunc cb;
        void *userdata;
};

/* ---- base64, int64-as-string, replies ---- */

static const char base64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *etcd_base64_encode(const void *data, size_t size) {
        const uint8_t *p = data;
        char *out, *o;

        out = malloc((size + 2) / 3 * 4 + 1);
        if (!out)
                return NULL;
        o = out;
        for (size_t i = 0; i < size; i += 3) {
                uint32_t v = (uint32_t) p[i] << 16;
                if (i + 1 < size)
                        v |= (uint32_t) p[i + 1] << 8;
                if (i + 2 < size)
                        v |= p[i + 2];
                *o++ = base64_alphabet[(v >> 18) & 63];
                *o++ = base64_alphabet[(v >> 12) & 63];
                *o++ = i + 1 < size ? base64_alphabet[(v >> 6) & 63] : '=';
                *o++ = i + 2 < size ? base64_alphabet[v & 63] : '=';
        }
        *o = 0;
        return out;
}

static int base64_value(char c) {
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+' || c == '-')
                return 62;
        if (c == '/' || c == '_')
                return 63;
        return -1;
}

int etcd_base64_decode(const char *s, size_t len, char **ret, size_t *ret_size) {
        _cleanup_free_ char *out = NULL;
        size_t n = 0, bits_n = 0;
        uint32_t bits = 0;

        /* padding only at the end, at most two characters of it */
        while (len > 0 && s[len - 1] == '=') {
                len--;
                if (++bits_n > 2)
                        return -EINVAL;
        }
        if (bits_n > 0 && (len + bits_n) % 4 != 0)
                return -EINVAL;
        if (len % 4 == 1)
                return -EINVAL;
        bits_n = 0;
        out = malloc(len / 4 * 3 + 3 + 1);
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < len; i++) {
                int v = base64_value(s[i]);
                if (v < 0)
                        return -EINVAL;
                bits = (bits << 6) | (uint32_t) v;
                bits_n += 6;
                if (bits_n >= 8) {
                        bits_n -= 8;
                        out[n++] = (char) ((bits >> bits_n) & 0xff);
                }
        }
        /* the bits left over must be zero, or the text was not made by an encoder */
        if (bits & ((1U << bits_n) - 1))
                return -EINVAL;
        out[n] = 0;
        if (ret_size)
                *ret_size = n;
        *ret = TAKE_PTR(out);
        return 0;
}

char *etcd_prefix_range_end(const char *prefix, size_t size, size_t *ret_size) {
        char *end;

        while (size > 0 && (uint8_t) prefix[size - 1] == 0xff)
                size--;
        if (size == 0) {
                end = calloc(1, 2);
                if (end)
                        *ret_size = 1;
                return end;
        }
        end = malloc(size + 1);
        if (!end)
                return NULL;
        memcpy(end, prefix, size);
        end[size - 1] = (char) ((uint8_t) end[size - 1] + 1);
        end[size] = 0;
        *ret_size = size;
        return end;
}

int etcd_parse_int64(json_t *v, int64_t *ret) {
        const char *s;
        int64_t x = 0;
        bool negative = false;

        if (json_is_integer(v)) {
                *ret = (int64_t) json_integer_value(v);
                return 0;
        }
        if (!json_is_string(v))
                return -EINVAL;
        s = json_string_value(v);
        if (*s == '-') {
                negative = true;
                s++;
        }
        if (!*s || strlen(s) > 19)
                return -EINVAL;
        for (; *s; s++) {
                int d;
                if (*s < '0' || *s > '9')
                        return -EINVAL;
                d = *s - '0';
                if (x > (INT64_MAX - d) / 10)
                        return -ERANGE;
                x = x * 10 + d;
        }
        *ret = negative ? -x : x;
        return 0;
}

int etcd_parse_error(json_t *reply, int *ret_code, const char **ret_message) {
        json_t *code = json_object_get(reply, "code");
        const char *message;

        if (!json_is_object(reply) || !json_is_integer(code))
                return -EBADMSG;
        message = json_string_value(json_object_get(reply, "message")) ?:
                  json_string_value(json_object_get(reply, "error"));
        if (!message)
                return -EBADMSG;
        *ret_code = (int) json_integer_value(code);
        *ret_message = message;
        return 0;
}

int etcd_parse_grant(json_t *reply, int64_t *ret_id, int64_t *ret_ttl) {
        int64_t id, ttl;

        if (!json_is_object(reply) || json_object_get(reply, "error"))
                return -EBADMSG;
        if (etcd_parse_int64(json_object_get(reply, "ID"), &id) < 0 || id <= 0)
                return -EBADMSG;
        if (etcd_parse_int64(json_object_get(reply, "TTL"), &ttl) < 0 || ttl <= 0)
                return -EBADMSG;
        *ret_id = id;
        *ret_ttl = ttl;
        return 0;
}

int etcd_parse_keepalive(json_t *reply, int64_t id, int64_t *ret_ttl) {
        json_t *result, *err, *ttl_v;
        int64_t got_id, ttl = 0;

        if (!json_is_object(reply))
                return -EBADMSG;
        /* a streaming RPC: the gateway wraps the message in "result", or sends {"error": {...}} */
        err = json_object_get(reply, "error");
        if (err) {
                json_t *code = json_object_get(err, "grpc_code") ?: json_object_get(reply, "code");
                if (json_is_integer(code) && json_integer_value(code) == GRPC_CODE_NOT_FOUND) {
                        *ret_ttl = 0;
                        return 0;
                }
                return -EBADMSG;
        }
        result = json_object_get(reply, "result");
        if (!json_is_object(result))
                return -EBADMSG;
        if (etcd_parse_int64(json_object_get(result, "ID"), &got_id) < 0 || got_id != id)
                return -EBADMSG;
        ttl_v = json_object_get(result, "TTL");
        if (ttl_v && etcd_parse_int64(ttl_v, &ttl) < 0)
                return -EBADMSG;
        *ret_ttl = ttl > 0 ? ttl : 0;
        return 0;
}

int etcd_parse_range(json_t *reply, json_t **ret) {
        _cleanup_json_ json_t *list = NULL;
        json_t *kvs, *kv;
        size_t i;

        if (!json_is_object(reply) || json_object_get(reply, "error"))
                return -EBADMSG;
        list = json_array();
        if (!list)
                return -ENOMEM;
        kvs = json_object_get(reply, "kvs");
        if (!kvs) {                     /* proto3: an empty list is left out */
                *ret = TAKE_PTR(list);
                return 0;
        }
        if (!json_is_array(kvs))
                return -EBADMSG;
        json_array_foreach(kvs, i, kv) {
                _cleanup_free_ char *key = NULL, *value = NULL;
                _cleanup_json_ json_t *item = NULL;
                const char *k = json_string_value(json_object_get(kv, "key"));
                const char *v = json_string_value(json_object_get(kv, "value"));
                json_t *lease = json_object_get(kv, "lease");
                size_t key_size, value_size = 0;
                int64_t lease_id = 0;
                json_t *jkey;

                if (!json_is_object(kv) || !k)
                        return -EBADMSG;
                if (etcd_base64_decode(k, strlen(k), &key, &key_size) < 0)
                        return -EBADMSG;
                if (v && etcd_base64_decode(v, strlen(v), &value, &value_size) < 0)
                        return -EBADMSG;
                if (lease && etcd_parse_int64(lease, &lease_id) < 0)
                        return -EBADMSG;
                jkey = json_stringn(key, key_size);
                if (!jkey)
                        continue;       /* not UTF-8: not one of ours */
                item = json_object();
                if (!item || json_object_set_new(item, "key", jkey) < 0 ||
                    json_object_set_new(item, "value", json_stringn(value ?: "", value_size) ?: json_null()) < 0)
                        return -ENOMEM;
                if (lease_id > 0) {
                        char buf[32];
                        snprintf(buf, sizeof(buf), "%" PRIi64, lease_id);
                        if (json_object_set_new(item, "lease", json_string(buf)) < 0)
                                return -ENOMEM;
                }
                if (json_array_append(list, item) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(list);
        return 0;
}

/* ---- the client ---- */

int etcd_new(Etcd **ret, HttpClient *http, const EtcdOptions *o) {
        _cleanup_(etcd_freep) Etcd *e = calloc(1, sizeof(Etcd));
        size_t n = strv_length(o->endpoints);

        if (!e)
                return -ENOMEM;
        if (n == 0)
                return -EINVAL;
        e->http = http;
        e->endpoints = calloc(n + 1, sizeof(char *));
        if (!e->endpoints)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                size_t l = strlen(o->endpoints[i]);
                while (l > 0 && o->endpoints[i][l - 1] == '/')
                        l--;
                e->endpoints[i] = strndup(o->endpoints[i], l);
                if (!e->endpoints[i])
                        return -ENOMEM;
        }
        e->n_endpoints = n;
        if ((o->ca_file && !(e->ca_file = strdup(o->ca_file))) ||
            (o->cert_file && !(e->cert_file = strdup(o->cert_file))) ||
            (o->key_file && !(e->key_file = strdup(o->key_file))))
                return -ENOMEM;
        *ret = TAKE_PTR(e);
        return 0;
}

static void call_free(EtcdCall *c) {
        if (!c)
                return;
        http_request_cancel(c->request);
        if (c->prev)
                c->prev->next = c->next;
        else
                c->etcd->calls = c->next;
        if (c->next)
                c->next->prev = c->prev;
        free(c->path);
        free(c->body);
        free(c);
}

Etcd *etcd_free(Etcd *e) {
        if (!e)
                return NULL;
        while (e->calls)
                call_free(e->calls);
        strv_free(e->endpoints);
        free(e->ca_file);
        free(e->cert_file);
        free(e->key_file);
        free(e);
        return NULL;
}

void etcd_call_cancel(EtcdCall *c) {
        call_free(c);
}

const char *etcd_endpoint(Etcd *e) {
        return e->endpoints[e->current];
}

void etcd_rotate(Etcd *e) {
        e->current = (e->current + 1) % e->n_endpoints;
}

static int call_send(EtcdCall *c);

static void call_finish(EtcdCall *c, int error, const char *message, json_t *reply) {
        EtcdReplyFunc cb = c->cb;
        void *userdata = c->userdata;
        Etcd *e = c->etcd;

        /* free first: the callback may start the next call, or free the client */
        call_free(c);
        if (cb)
                cb(e, error, message, reply, userdata);
}

/* This endpoint failed: the call moves on to the next one, and so do the calls after it. */
static void call_failover(EtcdCall *c, int error, const char *message) {
        Etcd *e = c->etcd;
        _cleanup_free_ char *m = NULL;
        int r;

        log_debug("etcd %s%s: %s", e->endpoints[e->current], c->path, message);
        if (++c->tries >= e->n_endpoints) {
                if (e->n_endpoints > 1)
                        r = asprintf(&m, "%s (and %zu other endpoint%s): %s", e->endpoints[e->current],
                                     e->n_endpoints - 1, e->n_endpoints > 2 ? "s" : "", message);
                else
                        r = asprintf(&m, "%s: %s", e->endpoints[e->current], message);
                /* the next call starts with the next endpoint: the one that failed last is no better */
                e->current = (e->current + 1) % e->n_endpoints;
                call_finish(c, error, r < 0 ? message : m, NULL);
                return;
        }
        e->current = (e->current + 1) % e->n_endpoints;
        r = call_send(c);
        if (r < 0)
                call_finish(c, r, "cannot start a request", NULL);
}

static void on_call_done(HttpRequest *req, int error, const char *message, long status, const char *body,
                         size_t size, void *userdata) {
        EtcdCall *c = userdata;
        _cleanup_json_ json_t *v = NULL;
        const char *grpc_message;
        json_t *err;
        char buf[128];
        int code;

        c->request = NULL;
        if (error < 0) {
                /* no HTTP answer at all (refused, timed out, no route): say so in words an operator reads as
                 * "the cluster is unreachable", with libcurl's reason */
                _cleanup_free_ char *m = NULL;
                if (asprintf(&m, "unreachable (%s)", message ?: "request failed") < 0)
                        m = NULL;
                call_failover(c, error, m ?: "unreachable");
                return;
        }
        v = json_loadb(body, size, 0, NULL);
        if (status >= 500 || !json_is_object(v)) {
                /* a member without a leader answers 503: another member may have one */
                if (json_is_object(v) && etcd_parse_error(v, &code, &grpc_message) >= 0)
                        snprintf(buf, sizeof(buf), "HTTP %ld: %.80s", status, grpc_message);
                else
                        snprintf(buf, sizeof(buf), "HTTP %ld with %s", status,
                                 v ? "an unexpected body" : "a body that is not JSON");
                call_failover(c, status >= 500 ? -EIO : -EBADMSG, buf);
                return;
        }
        if (status < 200 || status >= 300) {
                if (etcd_parse_error(v, &code, &grpc_message) < 0) {
                        snprintf(buf, sizeof(buf), "HTTP %ld without a gRPC error", status);
                        call_failover(c, -EBADMSG, buf);
                        return;
                }
                call_finish(c, code == GRPC_CODE_NOT_FOUND ? -ENOENT : -EBADR, grpc_message, v);
                return;
        }
        /* a streaming RPC (keepalive) that failed after the headers: {"error": {"grpc_code": N, …}} with 200;
         * "no leader" and the like mean another member may do better */
        err = json_object_get(v, "error");
        if (json_is_object(err)) {
                json_t *code_v = json_object_get(err, "grpc_code");
                grpc_message = json_string_value(json_object_get(err, "message")) ?: "stream error";
                if (json_is_integer(code_v) && json_integer_value(code_v) == GRPC_CODE_NOT_FOUND) {
                        call_finish(c, -ENOENT, grpc_message, v);
                        return;
                }
                snprintf(buf, sizeof(buf), "%.100s", grpc_message);
                call_failover(c, -EIO, buf);
                return;
        }
        call_finish(c, 0, NULL, v);
}

static int call_send(EtcdCall *c) {
        Etcd *e = c->etcd;
        _cleanup_free_ char *url = NULL;

        if (asprintf(&url, "%s%s", e->endpoints[e->current], c->path) < 0)
                return -ENOMEM;
        return http_request_start(e->http,
                                  &(HttpRequestOptions) {
                                          .method = "POST", .url = url,
                                          .body = c->body, .body_size = strlen(c->body),
                                          .timeout_ms = c->timeout_ms,
                                          .connect_timeout_ms = MIN(c->timeout_ms, ETCD_CONNECT_TIMEOUT_MS),
                                          .max_response = ETCD_MAX_RESPONSE,
                                          .ca_file = e->ca_file, .cert_file = e->cert_file, .key_file = e->key_file },
                                  on_call_done, c, &c->request);
}

int etcd_call(Etcd *e, const char *path, json_t *body, uint64_t timeout_ms, EtcdReplyFunc cb, void *userdata,
              EtcdCall **ret) {
        EtcdCall *c;
        int r;

        c = calloc(1, sizeof(EtcdCall));
        if (!c)
                return -ENOMEM;
        *c = (EtcdCall) { .etcd = e, .cb = cb, .userdata = userdata,
                          .timeout_ms = timeout_ms ?: ETCD_TIMEOUT_MS_DEFAULT };
        c->next = e->calls;
        if (c->next)
                c->next->prev = c;
        e->calls = c;
        c->path = strdup(path);
        c->body = json_dumps(body, JSON_COMPACT);
        if (!c->path || !c->body) {
                call_free(c);
                return -ENOMEM;
        }
        r = call_send(c);
        if (r < 0) {
                call_free(c);
                return r;
        }
        if (ret)
                *ret = c;
        return 0;
}
