/* SPDX-License-Identifier: MIT */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "http/http.h"
#include "shared/log.h"
#include "shared/time-util.h"

#define HTTP_DEFAULT_MAX_RESPONSE (4U * 1024U * 1024U)
#define HTTP_MAX_HEADERS 32

struct HttpClient {
        sd_event *event;
        CURLM *multi;
        sd_event_source *timer;
        HttpRequest *requests;
        unsigned n_active;
        /* the io source of each socket curl asked us to watch, by fd: ours to drop before curl closes the fd */
        sd_event_source **ios;
        size_t n_ios;
};

struct HttpRequest {
        HttpClient *client;
        HttpRequest *prev, *next;
        CURL *easy;
        struct curl_slist *headers;
        char *body;
        char *response;
        size_t response_size, max_response;
        char *response_headers[HTTP_MAX_HEADERS];
        size_t n_response_headers;
        HttpDoneFunc done;
        HttpDataFunc on_data;
        HttpDestroyFunc destroy;
        void *userdata;
        bool aborted_by_callback;
};

/* The per-socket state curl hands back to us: one io source per fd it wants watched. */
static int on_curl_io(sd_event_source *s, int fd, uint32_t revents, void *userdata);

static void request_free(HttpRequest *r) {
        HttpClient *c;

        if (!r)
                return;
        c = r->client;
        if (r->easy) {
                curl_multi_remove_handle(c->multi, r->easy);
                curl_easy_cleanup(r->easy);
        }
        curl_slist_free_all(r->headers);
        free(r->body);
        free(r->response);
        for (size_t i = 0; i < r->n_response_headers; i++)
                free(r->response_headers[i]);
        if (r->prev)
                r->prev->next = r->next;
        else
                c->requests = r->next;
        if (r->next)
                r->next->prev = r->prev;
        c->n_active--;
        /* last: the destructor may free other requests of this client (a health check its own) */
        if (r->destroy)
                r->destroy(r->userdata);
        free(r);
}

static int curl_code_to_errno(CURLcode code) {
        switch (code) {
        case CURLE_OK: return 0;
        case CURLE_OPERATION_TIMEDOUT: return -ETIMEDOUT;
        case CURLE_COULDNT_CONNECT: return -ECONNREFUSED;
        case CURLE_COULDNT_RESOLVE_HOST: return -EHOSTUNREACH;
        case CURLE_WRITE_ERROR: return -ECANCELED;
        case CURLE_FILESIZE_EXCEEDED: return -EFBIG;
        case CURLE_OUT_OF_MEMORY: return -ENOMEM;
        case CURLE_GOT_NOTHING:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_PARTIAL_FILE: return -ECONNRESET;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION: return -EPROTO;
        default: return -EIO;
        }
}

static void client_check_finished(HttpClient *c) {
        CURLMsg *msg;
        int left;

        while ((msg = curl_multi_info_read(c->multi, &left))) {
                HttpRequest *r = NULL;
                long status = 0;
                int error;

                if (msg->msg != CURLMSG_DONE)
                        continue;
                curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &r);
                curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
                error = curl_code_to_errno(msg->data.result);
                if (r->aborted_by_callback)
                        error = -ECANCELED;
                r->destroy = NULL; /* done owns userdata from here */
                if (r->done)
                        r->done(r, error, error < 0 ? curl_easy_strerror(msg->data.result) : NULL, status,
                                r->response ?: "", r->response_size, r->userdata);
                request_free(r);
        }
}

static int on_curl_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        HttpClient *c = userdata;
        int action = 0, running;
        curl_socket_t sock = CURL_SOCKET_BAD;

        /* fd is our copy (curl_socket_cb): curl knows the socket by its own fd, the index of our io source */
        for (size_t i = 0; i < c->n_ios; i++)
                if (c->ios[i] == s) {
                        sock = (curl_socket_t) i;
                        break;
                }
        if (sock == CURL_SOCKET_BAD)
                return 0;

        if (revents & (EPOLLIN | EPOLLHUP))
                action |= CURL_CSELECT_IN;
        if (revents & EPOLLOUT)
                action |= CURL_CSELECT_OUT;
        if (revents & EPOLLERR)
                action |= CURL_CSELECT_ERR;
        curl_multi_socket_action(c->multi, sock, action, &running);
        client_check_finished(c);
        return 0;
}

static int on_curl_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        HttpClient *c = userdata;
        int running;

        curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        client_check_finished(c);
        return 0;
}

static sd_event_source **client_io_slot(HttpClient *c, curl_socket_t fd, bool grow) {
        if (fd < 0)
                return NULL;
        if ((size_t) fd >= c->n_ios) {
                size_t n = MAX((size_t) fd + 1, c->n_ios * 2);
                sd_event_source **ios;

                if (!grow || !(ios = reallocarray(c->ios, n, sizeof(sd_event_source *))))
                        return NULL;
                memset(ios + c->n_ios, 0, (n - c->n_ios) * sizeof(sd_event_source *));
                c->ios = ios;
                c->n_ios = n;
        }
        return &c->ios[fd];
}

static bool same_socket(int a, int b) {
        struct stat sa, sb;

        return a >= 0 && b >= 0 && fstat(a, &sa) >= 0 && fstat(b, &sb) >= 0 && sa.st_dev == sb.st_dev &&
               sa.st_ino == sb.st_ino;
}

/* The loop watches a duplicate of each socket, owned by its io source (closed by sd-event after it left the
 * epoll set): curl closes a socket before it says CURL_POLL_REMOVE, and a closed fd stays in the epoll set while
 * another copy of it lives (a health check's child between its fork and the close-on-exec of its exec), so the
 * loop would get events for an io source freed since. Indexed by curl's fd. */
static int curl_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
        HttpClient *c = userp;
        sd_event_source **io = client_io_slot(c, fd, what != CURL_POLL_REMOVE);
        uint32_t events = 0;
        int copy;

        if (what == CURL_POLL_REMOVE) {
                if (io && *io)
                        *io = sd_event_source_disable_unref(*io);
                return 0;
        }
        if (!io)
                return -1;
        if (what & CURL_POLL_IN)
                events |= EPOLLIN;
        if (what & CURL_POLL_OUT)
                events |= EPOLLOUT;
        if (*io && !same_socket(sd_event_source_get_io_fd(*io), fd))
                /* curl closed the socket this fd was and opened another under its number before it said
                 * CURL_POLL_REMOVE: our copy is of the old one */
                *io = sd_event_source_disable_unref(*io);
        if (*io)
                return sd_event_source_set_io_events(*io, events) < 0 ? -1 : 0;
        copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (copy < 0)
                return -1;
        if (sd_event_add_io(c->event, io, copy, events, on_curl_io, c) < 0) {
                close(copy);
                return -1;
        }
        (void) sd_event_source_set_io_fd_own(*io, true);
        (void) sd_event_source_set_description(*io, "curl-io");
        return 0;
}

/* No socket of ours outlives an exec (a health check's command). */
static int curl_sockopt_cb(void *clientp, curl_socket_t fd, curlsocktype purpose) {
        return fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ? CURL_SOCKOPT_ERROR : CURL_SOCKOPT_OK;
}

static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp) {
        HttpClient *c = userp;

        if (timeout_ms < 0)
                return sd_event_source_set_enabled(c->timer, SD_EVENT_OFF) < 0 ? -1 : 0;
        if (sd_event_source_set_time_relative(c->timer, (uint64_t) timeout_ms * USEC_PER_MSEC) < 0)
                return -1;
        return sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT) < 0 ? -1 : 0;
}

int http_client_new(HttpClient **ret, sd_event *event) {
        _cleanup_(http_client_freep) HttpClient *c = NULL;
        static bool initialized = false;
        int r;

        if (!initialized) {
                if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                        return -EIO;
                initialized = true;
        }
        c = calloc(1, sizeof(HttpClient));
        if (!c)
                return -ENOMEM;
        c->event = sd_event_ref(event);
        c->multi = curl_multi_init();
        if (!c->multi)
                return -ENOMEM;
        /* accuracy 1 µs: curl's timeouts start transfers; sd-event's default slack would delay each by 250 ms */
        r = sd_event_add_time_relative(event, &c->timer, CLOCK_MONOTONIC, 0, 1, on_curl_timer, c);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
        (void) sd_event_source_set_description(c->timer, "curl-timer");
        curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
        curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
        curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
        curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
        *ret = TAKE_PTR(c);
        return 0;
}

HttpClient *http_client_free(HttpClient *c) {
        if (!c)
                return NULL;
        while (c->requests)
                request_free(c->requests);
        if (c->multi)
                curl_multi_cleanup(c->multi);
        for (size_t i = 0; i < c->n_ios; i++)
                sd_event_source_disable_unref(c->ios[i]);
        free(c->ios);
        sd_event_source_disable_unref(c->timer);
        sd_event_unref(c->event);
        free(c);
        return NULL;
}

unsigned http_client_n_active(HttpClient *c) {
        return c->n_active;
}

static size_t on_write(char *data, size_t size, size_t n, void *userdata) {
        HttpRequest *r = userdata;
        size_t len = size * n;
        char *p;

        if (r->on_data) {
                if (r->on_data(r, data, len, r->userdata) < 0) {
                        r->aborted_by_callback = true;
                        return 0;
                }
                return len;
        }
        if (r->response_size + len > r->max_response)
                return 0; /* curl reports CURLE_WRITE_ERROR */
        p = realloc(r->response, r->response_size + len + 1);
        if (!p)
                return 0;
        r->response = p;
        memcpy(r->response + r->response_size, data, len);
        r->response_size += len;
        r->response[r->response_size] = 0;
        return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *userdata) {
        HttpRequest *r = userdata;
        size_t len = size * n;

        if (r->n_response_headers < HTTP_MAX_HEADERS && memchr(data, ':', len)) {
                char *h = strndup(data, len);
                if (!h)
                        return 0;
                h[strcspn(h, "\r\n")] = 0;
                r->response_headers[r->n_response_headers++] = h;
        }
        return len;
}

const char *http_request_header(HttpRequest *r, const char *name) {
        size_t l = strlen(name);

        for (size_t i = 0; i < r->n_response_headers; i++) {
                const char *h = r->response_headers[i];
                if (strncasecmp(h, name, l) == 0 && h[l] == ':')
                        return h + l + 1 + strspn(h + l + 1, " \t");
        }
        return NULL;
}

/* curl_slist_append() returns NULL when it fails, and the list it was given stays ours: keep it (to be freed with
 * the request) rather than lose it, and fail the request rather than send it without a header. */
static int headers_append(struct curl_slist **list, const char *header) {
        struct curl_slist *l = curl_slist_append(*list, header);

        if (!l)
                return -ENOMEM;
        *list = l;
        return 0;
}

/* The easy handle's options from o: URL, callbacks, timeouts, TLS files, method, a copy of the body, headers.
 * On failure the caller frees r. */
static int request_set_options(HttpRequest *r, const HttpRequestOptions *o) {
#define SET(opt, val)                                                   \
        do {                                                            \
                if (curl_easy_setopt(r->easy, opt, val) != CURLE_OK)    \
                        return -EINVAL;                                 \
        } while (0)
        SET(CURLOPT_URL, o->url);
        SET(CURLOPT_PRIVATE, r);
        SET(CURLOPT_NOSIGNAL, 1L);
        SET(CURLOPT_SOCKOPTFUNCTION, curl_sockopt_cb);
        SET(CURLOPT_WRITEFUNCTION, on_write);
        SET(CURLOPT_WRITEDATA, r);
        SET(CURLOPT_HEADERFUNCTION, on_header);
        SET(CURLOPT_HEADERDATA, r);
        SET(CURLOPT_PROTOCOLS_STR, "http,https");
        SET(CURLOPT_FOLLOWLOCATION, 0L);
        if (o->unix_socket)
                SET(CURLOPT_UNIX_SOCKET_PATH, o->unix_socket);
        if (o->timeout_ms > 0)
                SET(CURLOPT_TIMEOUT_MS, (long) o->timeout_ms);
        SET(CURLOPT_CONNECTTIMEOUT_MS, (long) (o->connect_timeout_ms ?: 5000));
        if (o->ca_file)
                SET(CURLOPT_CAINFO, o->ca_file);
        if (o->cert_file)
                SET(CURLOPT_SSLCERT, o->cert_file);
        if (o->key_file)
                SET(CURLOPT_SSLKEY, o->key_file);
        if (o->method && !streq(o->method, "GET"))
                SET(CURLOPT_CUSTOMREQUEST, o->method);
        if (o->body || (o->method && streq(o->method, "POST"))) {
                /* a copy of exactly body_size bytes (a body may hold NULs): curl sends POSTFIELDSIZE bytes of it */
                r->body = malloc((o->body ? o->body_size : 0) + 1);
                if (!r->body)
                        return -ENOMEM;
                if (o->body)
                        memcpy(r->body, o->body, o->body_size);
                r->body[o->body ? o->body_size : 0] = 0;
                SET(CURLOPT_POSTFIELDS, r->body);
                SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) (o->body ? o->body_size : 0));
                if (headers_append(&r->headers, "Content-Type: application/json") < 0)
                        return -ENOMEM;
        }
        /* "Expect:": no 100-continue round trip */
        if (headers_append(&r->headers, "Expect:") < 0)
                return -ENOMEM;
        for (const char *const *h = o->headers; h && *h; h++)
                if (headers_append(&r->headers, *h) < 0)
                        return -ENOMEM;
        SET(CURLOPT_HTTPHEADER, r->headers);
#undef SET
        return 0;
}

int http_request_start(HttpClient *c, const HttpRequestOptions *o, HttpDoneFunc done, void *userdata,
                       HttpRequest **ret) {
        HttpRequest *r;
        int k;

        r = calloc(1, sizeof(HttpRequest));
        if (!r)
                return -ENOMEM;
        r->client = c;
        r->done = done;
        r->on_data = o->on_data;
        r->userdata = userdata;
        r->max_response = o->max_response ?: HTTP_DEFAULT_MAX_RESPONSE;
        r->next = c->requests;
        if (r->next)
                r->next->prev = r;
        c->requests = r;
        c->n_active++;

        r->easy = curl_easy_init();
        if (!r->easy) {
                request_free(r);
                return -ENOMEM;
        }
k = request_set_options(r, o);
        if (k < 0) {
                request_free(r);
                return k;
        }

        if (curl_multi_add_handle(c->multi, r->easy) != CURLM_OK) {
                request_free(r);
                return -EIO;
        }
        r->destroy = o->destroy; /* only now: on failure above, the caller still owns userdata */
        if (ret)
                *ret = r;
        return 0;
}

void http_request_cancel(HttpRequest *r) {
        request_free(r);
}
