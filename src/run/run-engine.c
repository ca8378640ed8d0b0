/* SPDX-License-Identifier: MIT */
/* ballast-run's client of the Engine API: requests over libcurl's multi interface on Docker's socket, one poll
 * for them and the caller's extra fds (SIGTERM, the readiness answer), and the negotiation of the API
 * version. */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "run/run.h"
#include "shared/json-util.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/parse-util.h"
#include "shared/time-util.h"

/* "1.41" → 41. Only major version 1 exists. */
static int parse_api_version(const char *s, unsigned *ret_minor) {
        unsigned minor;

        if (!s || !strneq(s, "1.", 2))
                return -EINVAL;
        if (safe_atou(s + 2, &minor) < 0)
                return -EINVAL;
        *ret_minor = minor;
        return 0;
}

/* The API version to speak: the newest both sides know, but never below what the server still accepts
 * (Docker 29 refuses anything below 1.44) nor below what we know how to speak. server_min_minor 0: the
 * server did not say. Returns -EPROTONOSUPPORT when the server is too old for us. */
static int api_version_pick(unsigned server_max_minor, unsigned server_min_minor, unsigned *ret_minor) {
        unsigned v = MIN(API_OUR_MAX_MINOR, server_max_minor);

        /* A server newer than us that no longer accepts our newest version: speak its oldest. The endpoints
         * and fields we use have not changed in the versions Docker has dropped so far. */
        if (v < server_min_minor)
                v = server_min_minor;
        if (v < API_OUR_MIN_MINOR)
                return -EPROTONOSUPPORT;
        *ret_minor = v;
        return 0;
}


Request *request_free(Request *req) {
        if (!req)
                return NULL;
        if (req->multi)
                curl_multi_remove_handle(req->multi, req->easy);
        if (req->easy)
                curl_easy_cleanup(req->easy);
        curl_slist_free_all(req->headers);
        free(req->data);
        free(req->what);
        free(req);
        return NULL;
}

static size_t request_write_cb(char *p, size_t size, size_t nmemb, void *userdata) {
        Request *req = userdata;
        size_t n = size * nmemb;

        /* Pull progress can be long; only its end (where an error would be) matters. */
        if (req->tail_only && req->size + n > PULL_TAIL_MAX) {
                size_t keep = PULL_TAIL_MAX / 2;
                if (n >= keep) {
                        p += n - keep;
                        n = keep;
                        req->size = 0;
                } else {
                        size_t drop = req->size + n - keep; /* ≤ size, as n < keep */
                        memmove(req->data, req->data + drop, req->size - drop);
                        req->size -= drop;
                }
        }
        if (req->size + n + 1 > RESPONSE_MAX) {
                req->overflow = true;
                return 0; /* aborts the transfer */
        }
        if (req->size + n + 1 > req->allocated) {
                size_t a = MAX(req->allocated * 2, req->size + n + 1);
                char *d = realloc(req->data, MAX(a, (size_t) 1024));
                if (!d)
                        return 0;
                req->data = d;
                req->allocated = MAX(a, (size_t) 1024);
        }
        memcpy(req->data + req->size, p, n);
        req->size += n;
        req->data[req->size] = 0;
        if (req->on_line) {
                char *start = req->data, *nl;

                while ((nl = memchr(start, '\n', req->size - (size_t) (start - req->data)))) {
                        *nl = 0;
                        req->on_line(start, req->line_userdata);
                        start = nl + 1;
                }
                req->size -= (size_t) (start - req->data);
                memmove(req->data, start, req->size + 1);
        }
        return size * nmemb;
}

static size_t request_header_cb(char *p, size_t size, size_t nmemb, void *userdata) {
        Request *req = userdata;
        size_t n = size * nmemb;
        char line[256];

        snprintf(line, sizeof(line), "%.*s", (int) MIN(n, sizeof(line) - 1), p);
        line[strcspn(line, "\r\n")] = 0;

        if (strneq(line, "HTTP/", 5)) {
                long status;
                if (sscanf(line, "HTTP/%*s %ld", &status) == 1)
                        req->status = status;
                req->headers_done = false;
        } else if (line[0] == 0) {
                /* The end of a header block; 1xx responses have their own, the final response follows. */
                if (req->status >= 200)
                        req->headers_done = true;
        } else if (strncasecmp(line, "Api-Version:", 12) == 0) {
                const char *v = line + 12;
                v += strspn(v, " \t");
                snprintf(req->api_version, sizeof(req->api_version), "%s", v);
        }
        return n;
}

/* A request to the Engine API. path begins with '/'; it is prefixed with /v1.NN once the version is known
 * (unversioned paths only serve the negotiation). body: body_size bytes of content_type to POST, NULL for
 * none. timeout_ms 0: none. */
int request_new_full(Docker *d, const char *method, const char *path, const void *body, size_t body_size,
                     const char *content_type, uint64_t timeout_ms, Request **ret) {
        _cleanup_request_ Request *req = NULL;
        char url[1024];
        int n;

        req = calloc(1, sizeof(Request));
        if (!req)
                return -ENOMEM;
        if (asprintf(&req->what, "%s %s", method, path) < 0) {
                req->what = NULL;
                return -ENOMEM;
        }
        req->easy = curl_easy_init();
        if (!req->easy)
                return -ENOMEM;

        if (d->minor > 0)
                n = snprintf(url, sizeof(url), "http://localhost/v1.%u%s", d->minor, path);
        else
                n = snprintf(url, sizeof(url), "http://localhost%s", path);
        if (n < 0 || (size_t) n >= sizeof(url))
                return -ENAMETOOLONG;

        /* "Expect:" off: curl would otherwise hold back a body over 1 KiB for a 100-continue round trip. */
        req->headers = curl_slist_append(NULL, "Expect:");
        if (!req->headers)
                return -ENOMEM;
        if (body) {
                _cleanup_free_ char *ct = NULL;
                struct curl_slist *h;

                if (asprintf(&ct, "Content-Type: %s", content_type) < 0) {
                        ct = NULL;
                        return -ENOMEM;
                }
                h = curl_slist_append(req->headers, ct);
                if (!h)
                        return -ENOMEM;
                req->headers = h;
        }

        if (curl_easy_setopt(req->easy, CURLOPT_UNIX_SOCKET_PATH, arg_docker_socket) != CURLE_OK ||
            curl_easy_setopt(req->easy, CURLOPT_URL, url) != CURLE_OK ||
            curl_easy_setopt(req->easy, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
            curl_easy_setopt(req->easy, CURLOPT_HTTPHEADER, req->headers) != CURLE_OK ||
            curl_easy_setopt(req->easy, CURLOPT_WRITEFUNCTION, request_write_cb) != CURLE_OK ||
            curl_easy_setopt(req->easy, CURLOPT_WRITEDATA, req) != CURLE_OK ||
            curl_easy_setopt(req->easy, CURLOPT_HEADERFUNCTION, request_header_cb) != CURLE_OK ||
            curl_easy_setopt(req->easy, CURLOPT_HEADERDATA, req) != CURLE_OK ||
            curl_easy_setopt(req->easy, CURLOPT_PRIVATE, req) != CURLE_OK ||
            curl_easy_setopt(req->easy, CURLOPT_ERRORBUFFER, req->error) != CURLE_OK ||
            curl_easy_setopt(req->easy, CURLOPT_CONNECTTIMEOUT_MS, 5000L) != CURLE_OK ||
            curl_easy_setopt(req->easy, CURLOPT_TIMEOUT_MS, (long) timeout_ms) != CURLE_OK)
                return -EIO;

        if (streq(method, "POST")) {
                /* the size first: COPYPOSTFIELDS then copies that many bytes (a tar has NULs in it) */
                if (curl_easy_setopt(req->easy, CURLOPT_POSTFIELDSIZE, (long) (body ? body_size : 0)) != CURLE_OK ||
                    curl_easy_setopt(req->easy, CURLOPT_COPYPOSTFIELDS, body ?: "") != CURLE_OK)
                        return -EIO;
        } else if (!streq(method, "GET")) {
                if (curl_easy_setopt(req->easy, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK)
                        return -EIO;
        }

        *ret = TAKE_PTR(req);
        return 0;
}

/* request_new_full() with a JSON body (or none). */
int request_new(Docker *d, const char *method, const char *path, const char *body, uint64_t timeout_ms,
                Request **ret) {
        return request_new_full(d, method, path, body, body ? strlen(body) : 0, "application/json", timeout_ms, ret);
}

int request_add(Docker *d, Request *req) {
        CURLMcode mc = curl_multi_add_handle(d->multi, req->easy);

        if (mc != CURLM_OK)
                return log_error_errno(-EIO, "curl_multi_add_handle() failed: %s", curl_multi_strerror(mc));
        req->multi = d->multi;
        return 0;
}

static void request_remove(Request *req) {
        if (req->multi)
                curl_multi_remove_handle(req->multi, req->easy);
        req->multi = NULL;
}

/* Marks the transfers that finished. */
static void docker_collect(Docker *d) {
        CURLMsg *m;
        int left;

        while ((m = curl_multi_info_read(d->multi, &left))) {
                Request *req = NULL;

                if (m->msg != CURLMSG_DONE)
                        continue;
                curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **) &req);
                if (!req)
                        continue;
                req->done = true;
                req->result = m->data.result;
                if (req->result == CURLE_OK)
                        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &req->status);
        }
}

/* One turn of the loop: waits at most timeout_ms for activity on Docker's connections or on the extra fds
 * (their revents say which fired), then lets curl move every transfer on. */
int docker_pump(Docker *d, struct curl_waitfd *extra, unsigned n_extra, int timeout_ms) {
        CURLMcode mc;
        int running;

        for (unsigned i = 0; i < n_extra; i++)
                extra[i].revents = 0;
        mc = curl_multi_wait(d->multi, extra, n_extra, timeout_ms, NULL);
        if (mc != CURLM_OK)
                return log_error_errno(-EIO, "curl_multi_wait() failed: %s", curl_multi_strerror(mc));
        mc = curl_multi_perform(d->multi, &running);
        if (mc != CURLM_OK)
                return log_error_errno(-EIO, "curl_multi_perform() failed: %s", curl_multi_strerror(mc));
        docker_collect(d);
        return 0;
}

/* Maps a failed transfer to an errno: -ENOENT (no socket) or -ECONNREFUSED (nobody listening) when Docker
 * is not there (worth a retry), -ECONNRESET when the connection broke, -ETIMEDOUT, or -EIO. */
int request_result_errno(const Request *req) {
        switch (req->result) {
        case CURLE_OK:
                return 0;
        case CURLE_COULDNT_CONNECT:
                /* curl says the same for both; the difference tells whether dockerd ever created its socket */
                return access(arg_docker_socket, F_OK) < 0 && errno == ENOENT ? -ENOENT : -ECONNREFUSED;
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_GOT_NOTHING:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_PARTIAL_FILE:
                return -ECONNRESET;
        case CURLE_WRITE_ERROR:
                return req->overflow ? -EFBIG : -ENOMEM;
        default:
                return -EIO;
        }
}

const char *request_error(const Request *req) {
        return req->error[0] ? req->error : curl_easy_strerror(req->result);
}

/* Runs one request to its end. interruptible: give up with -EINTR as soon as SIGTERM/SIGINT is pending (the
 * signal stays pending for the caller). A transport failure is returned as an errno (see above) and logged
 * at debug level only: the caller knows whether it is worth more. Any HTTP status counts as success. */
int docker_perform(Docker *d, Request *req, bool interruptible) {
        int r;

        r = request_add(d, req);
        if (r < 0)
                return r;
        while (!req->done) {
                struct curl_waitfd w = { .fd = d->signal_fd, .events = CURL_WAIT_POLLIN };

                r = docker_pump(d, &w, interruptible ? 1 : 0, 1000);
                if (r < 0)
                        break;
                if (interruptible && (w.revents & CURL_WAIT_POLLIN) && !req->done) {
                        r = -EINTR;
                        break;
                }
        }
        request_remove(req);
        if (r < 0)
                return r;
        r = request_result_errno(req);
        if (r < 0)
                log_debug_errno(r, "%s failed: %s", req->what, request_error(req));
        return r;
}

/* request_new() + docker_perform(). */
int docker_call(Docker *d, const char *method, const char *path, const char *body, uint64_t timeout_ms,
                bool interruptible, Request **ret) {
        _cleanup_request_ Request *req = NULL;
        int r;

        r = request_new(d, method, path, body, timeout_ms, &req);
        if (r < 0)
                return log_error_errno(r, "Cannot set up %s %s: %m", method, path);
        r = docker_perform(d, req, interruptible);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(req);
        return 0;
}

/* The JSON of a response, NULL when there is none or it is not JSON. */
json_t *request_json(const Request *req) {
        if (!req->data)
                return NULL;
        return json_loadb(req->data, req->size, 0, NULL);
}

/* Docker's error text: {"message": "..."}, else the raw body, else the status. Owned by buf. */
const char *request_message(const Request *req, char *buf, size_t len) {
        _cleanup_json_ json_t *j = request_json(req);
        const char *m = json_string_value(json_object_get(j, "message"));

        if (m)
                snprintf(buf, len, "%s", m);
        else if (req->data && req->size > 0)
                snprintf(buf, len, "%.*s", (int) strcspn(req->data, "\r\n"), req->data);
        else
                snprintf(buf, len, "HTTP status %ld", req->status);
        return buf;
}

/* Transport failures of calls that must succeed: one message, the errno back. */
int log_transport_failure(int r, const char *what) {
        if (r == -EINTR)
                return r;
        return log_error_errno(r, "%s: Docker did not answer (%s): %m", what, arg_docker_socket);
}

/* SIGTERM/SIGINT are read from a signalfd, so that no blocking step can lose them. Returns the fd. */
int signals_block(void) {
        sigset_t mask;
        int fd;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(-errno, "sigprocmask() failed: %m");
        fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (fd < 0)
                return log_error_errno(-errno, "signalfd() failed: %m");
        (void) signal(SIGPIPE, SIG_IGN);
        return fd;
}

/* Sleeps ms, but returns -EINTR at once when SIGTERM/SIGINT arrives on signal_fd (signals_block). */
int sleep_interruptible(int signal_fd, uint64_t ms) {
        struct pollfd p = { .fd = signal_fd, .events = POLLIN };
        int r = poll(&p, 1, (int) MIN(ms, (uint64_t) INT32_MAX));

        if (r < 0 && errno != EINTR)
                return -errno;
        return r > 0 ? -EINTR : 0;
}

/* Waits for Docker (bounded by --docker-timeout) and picks the API version to speak. */
int docker_negotiate(Docker *d) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + arg_docker_timeout_ms * USEC_PER_MSEC;
        uint64_t delay_ms = 100, now;
        _cleanup_request_ Request *req = NULL;
        _cleanup_json_ json_t *v = NULL;
        unsigned server_max, server_min = 0, pick;
        const char *s;
        char msg[512];
        int r;

        for (unsigned attempt = 1;; attempt++) {
                req = request_free(req);
                /* /version (unversioned: it serves every client) says both ends of the server's range; /_ping
                 * only has the upper one. */
                r = request_new(d, "GET", "/version", NULL, 10 * 1000, &req);
                if (r < 0)
                        return log_error_errno(r, "Cannot set up GET /version: %m");
                r = docker_perform(d, req, true);
                if (r == -EINTR)
                        return r;
                if (r >= 0 && req->status == 200)
                        break;
                if (r >= 0 && req->status < 500)
                        return log_error_errno(-EPROTO, "GET /version: %s", request_message(req, msg, sizeof(msg)));
                now = now_usec(CLOCK_MONOTONIC);
                if (now >= deadline) {
                        if (r >= 0)
                                return log_error_errno(-EIO, "Docker is not ready after %" PRIu64 " s: %s",
                                                       arg_docker_timeout_ms / 1000,
                                                       request_message(req, msg, sizeof(msg)));
                        return log_error_errno(r, "Docker is not reachable at %s after %" PRIu64 " s: %m (%s)",
                                               arg_docker_socket, arg_docker_timeout_ms / 1000, request_error(req));
                }
                /* Docker starting up (or restarting) is normal at boot: say why we wait, now and then. */
                if (attempt == 1 || attempt % 10 == 0) {
                        if (r < 0)
                                log_full_errno(LOG_NOTICE, r, "Docker is not reachable at %s yet (%m), retrying", arg_docker_socket);
                        else
                                log_notice("Docker is not ready yet (HTTP %ld), retrying", req->status);
                        (void) sd_notifyf(false, "STATUS=waiting for Docker at %s", arg_docker_socket);
                }
                r = sleep_interruptible(d->signal_fd,
                                        MIN(delay_ms, (deadline - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC));
                if (r < 0)
                        return r;
                delay_ms = MIN(delay_ms * 2, (uint64_t) 2000);
        }

        v = request_json(req);
        s = json_string_value(json_object_get(v, "ApiVersion"));
        if (!s && req->api_version[0])
                s = req->api_version;
        if (parse_api_version(s, &server_max) < 0)
                return log_error_errno(-EPROTO, "Docker did not say which API version it speaks (ApiVersion=%s)",
                                       strna(s));
        s = json_string_value(json_object_get(v, "MinAPIVersion"));
        if (s && parse_api_version(s, &server_min) < 0)
                server_min = 0;
        r = api_version_pick(server_max, server_min, &pick);
        if (r < 0)
                return log_error_errno(r, "Docker speaks API 1.%u, older than the oldest we speak (1.%u)", server_max,
                                       API_OUR_MIN_MINOR);
        if (pick > API_OUR_MAX_MINOR)
                log_warning("Docker accepts API 1.%u at the oldest, newer than ours (1.%u); speaking 1.%u", server_min,
                            API_OUR_MAX_MINOR, pick);
        d->minor = pick;
        log_debug("Docker speaks API 1.%u (oldest 1.%u), we speak 1.%u", server_max, server_min, pick);
        return 0;
}

/* The last JSON object of a progress stream (/images/create) says "error" when the operation failed. */
const char *progress_error(Request *req, json_t **keep) {
        char *last = NULL;

        if (!req->data)
                return NULL;
        for (char *l = strtok(req->data, "\r\n"); l; l = strtok(NULL, "\r\n"))
                last = l;
        if (!last)
                return NULL;
        *keep = json_loads(last, 0, NULL);
        return json_string_value(json_object_get(*keep, "error"));
}

const char *short_id(const char *id) {
        static char buf[13];
        snprintf(buf, sizeof(buf), "%s", id);
        return buf;
}
