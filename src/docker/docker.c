/* SPDX-License-Identifier: MIT */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docker/docker.h"
#include "shared/json-util.h"
#include "shared/log.h"
#include "shared/parse-util.h"
#include "shared/time-util.h"

#define DOCKER_RETRY_MIN_USEC (100 * USEC_PER_MSEC)
#define DOCKER_RETRY_MAX_USEC (5 * USEC_PER_SEC)
#define DOCKER_EVENT_LINE_MAX (64U * 1024U)

struct Docker {
        sd_event *event;
        HttpClient *http;
        char *socket_path;
        DockerEventFunc on_event;
        DockerStateFunc on_state;
        void *userdata;

        bool up;
        char api_version[DOCKER_API_VERSION_MAX];
        json_t *info;
        HttpRequest *probe;      /* the negotiation in progress */
        HttpRequest *events;     /* the event stream */
        char *line;              /* a partial event line */
        size_t line_size;
        uint64_t last_event_nsec;
        sd_event_source *retry;
        uint64_t retry_usec;
};

typedef struct DockerCall {
        Docker *docker;
        DockerReplyFunc cb;
        DockerDestroyFunc destroy;
        void *userdata;
} DockerCall;

int docker_api_version_compare(const char *a, const char *b) {
        unsigned amaj = 0, amin = 0, bmaj = 0, bmin = 0;

        (void) sscanf(a, "%u.%u", &amaj, &amin);
        (void) sscanf(b, "%u.%u", &bmaj, &bmin);
        if (amaj != bmaj)
                return amaj < bmaj ? -1 : 1;
        if (amin != bmin)
                return amin < bmin ? -1 : 1;
        return 0;
}

/* "MAJOR.MINOR", digits only: what goes into every URL (/v1.41/...) must be nothing else. */
static bool api_version_valid(const char *s) {
        size_t major = s ? strspn(s, "0123456789") : 0, minor;

        if (major == 0 || major > 4 || s[major] != '.')
                return false;
        minor = strspn(s + major + 1, "0123456789");
        return minor > 0 && minor <= 4 && s[major + 1 + minor] == 0;
}

const char *docker_api_negotiate(const char *server_version, const char *server_min) {
        const char *v;

        /* found by tests/fuzz/fuzz-docker-version: "1.41.24" compared as 1.41 and was then spoken as is */
        if (!api_version_valid(server_version))
                return NULL;
        if (!api_version_valid(server_min))
                server_min = NULL;  /* as ballast-run does: an unreadable minimum is no minimum */
        v = docker_api_version_compare(server_version, DOCKER_API_MAX) < 0 ? server_version : DOCKER_API_MAX;
        if (docker_api_version_compare(v, DOCKER_API_MIN) < 0)
                return NULL;
        if (!isempty(server_min) && docker_api_version_compare(v, server_min) < 0)
                return NULL;
        return v;
}

int docker_api_from_version(const char *body, size_t size, char ret[static DOCKER_API_VERSION_MAX]) {
        _cleanup_json_ json_t *v = json_loadb(body, size, 0, NULL);
        const char *chosen;

        if (!json_is_object(v))
                return -EBADMSG;
        chosen = docker_api_negotiate(json_string_value(json_object_get(v, "ApiVersion")),
                                      json_string_value(json_object_get(v, "MinAPIVersion")));
        if (!chosen)
                return -EPROTONOSUPPORT;
        snprintf(ret, DOCKER_API_VERSION_MAX, "%s", chosen);
        return 0;
}

json_t *docker_container_summary(json_t *inspect) {
        json_t *state = json_object_get(inspect, "State");

        return json_pack("{s:O?,s:O?,s:O?,s:O?,s:O?,s:O?,s:O?,s:O?}",
                         "id", json_object_get(inspect, "Id"),
                         "status", json_object_get(state, "Status"),
                         "started_at", json_object_get(state, "StartedAt"),
                         "finished_at", json_object_get(state, "FinishedAt"),
                         "exit_code", json_object_get(state, "ExitCode"),
                         "oom_killed", json_object_get(state, "OOMKilled"),
                         "pid", json_object_get(state, "Pid"),
                         "image", json_object_get(json_object_get(inspect, "Config"), "Image"));
}

static void docker_schedule_retry(Docker *d);

static void docker_set_up(Docker *d, bool up) {
        if (d->up == up)
                return;
        d->up = up;
        if (up) {
                d->retry_usec = 0;
                log_event(LOG_INFO, 0, "docker-up", NULL, NULL, "Docker is up (API %s).", d->api_version);
        } else
                log_event(LOG_WARNING, 0, "docker-down", NULL, NULL,
                          "Docker is gone; workloads are left as they are, reconnecting.");
        if (d->on_state)
                d->on_state(d, up, d->userdata);
}

static void docker_lost(Docker *d) {
        http_request_cancel(d->events);
        d->events = NULL;
        http_request_cancel(d->probe);
        d->probe = NULL;
        d->line_size = 0;
        docker_set_up(d, false);
        docker_schedule_retry(d);
}

static void docker_dispatch_event_line(Docker *d, const char *line, size_t len) {
        _cleanup_json_ json_t *v = json_loadb(line, len, 0, NULL);
        json_t *attrs;
        DockerEvent ev = { .exit_code = -1 };
        const char *code;

        if (!json_is_object(v)) {
                log_debug("Ignoring a Docker event that is not a JSON object.");
                return;
        }
        ev.action = json_string_value(json_object_get(v, "Action")) ?: json_string_value(json_object_get(v, "status"));
        ev.id = json_string_value(json_object_get(json_object_get(v, "Actor"), "ID")) ?: json_string_value(json_object_get(v, "id"));
        ev.time_nsec = (uint64_t) json_integer_value(json_object_get(v, "timeNano"));
        attrs = json_object_get(json_object_get(v, "Actor"), "Attributes");
        ev.service = json_string_value(json_object_get(attrs, "io.ballast.service"));
        code = json_string_value(json_object_get(attrs, "exitCode"));
        if (code && safe_atoi(code, &ev.exit_code) < 0)
                ev.exit_code = -1; /* Docker's own decimal string; a bad one is only informational */
        if (ev.time_nsec > d->last_event_nsec)
                d->last_event_nsec = ev.time_nsec;
        if (!ev.action)
                return;
        if (d->on_event)
                d->on_event(d, &ev, d->userdata);
}

int docker_events_feed(Docker *d, const char *data, size_t size) {
        /* The stream is one JSON object per line; a line may arrive in pieces. */
        while (size > 0) {
                const char *nl = memchr(data, '\n', size);
                size_t n = nl ? (size_t) (nl - data) : size;

                if (d->line_size + n > DOCKER_EVENT_LINE_MAX) {
                        log_warning("Docker event longer than %u bytes, reconnecting the stream.", DOCKER_EVENT_LINE_MAX);
                        return -EMSGSIZE;
                }
                if (n > 0) {
                        char *p = realloc(d->line, d->line_size + n);
                        if (!p)
                                return -ENOMEM;
                        d->line = p;
                        memcpy(d->line + d->line_size, data, n);
                        d->line_size += n;
                }
                if (!nl)
                        break;
                if (d->line_size > 0)
                        docker_dispatch_event_line(d, d->line, d->line_size);
                d->line_size = 0;
                data = nl + 1;
                size -= n + 1;
        }
        return 0;
}

static int on_events_data(HttpRequest *req, const char *data, size_t size, void *userdata) {
        return docker_events_feed(userdata, data, size);
}

static void on_events_done(HttpRequest *req, int error, const char *message, long status, const char *body,
                           size_t size, void *userdata) {
        Docker *d = userdata;

        d->events = NULL;
        log_debug("Docker event stream ended: %s (HTTP %ld).", error < 0 ? strna(message) : "closed", status);
        docker_lost(d);
}

static int docker_url(Docker *d, char **ret, const char *path) {
        if (asprintf(ret, "http://localhost/v%s%s", d->api_version, path) < 0)
                return -ENOMEM;
        return 0;
}

static int docker_follow_events(Docker *d) {
        _cleanup_free_ char *url = NULL, *path = NULL;
        char since[64] = "";
        int r;

        /* After a reconnect, ask for what happened while we were away. */
        if (d->last_event_nsec > 0)
                snprintf(since, sizeof(since), "&since=%llu.%09llu",
                         (unsigned long long) (d->last_event_nsec / 1000000000ULL),
                         (unsigned long long) (d->last_event_nsec % 1000000000ULL + 1));
        if (asprintf(&path, "/events?filters=%%7B%%22type%%22%%3A%%5B%%22container%%22%%5D%%2C%%22label%%22%%3A%%5B%%22io.ballast.service%%22%%5D%%7D%s",
                     since) < 0)
                return -ENOMEM;
        r = docker_url(d, &url, path);
        if (r < 0)
                return r;
        return http_request_start(d->http,
                                  &(HttpRequestOptions) { .url = url, .unix_socket = d->socket_path,
                                                          .on_data = on_events_data, .connect_timeout_ms = 2000 },
                                  on_events_done, d, &d->events);
}

static void on_info(Docker *d, int error, long status, json_t *reply, void *userdata) {
        if (error < 0 || status != 200 || !json_is_object(reply)) {
                log_warning("Docker /info failed (HTTP %ld), ignoring.", status);
                return;
        }
        json_decref(d->info);
        d->info = json_incref(reply);
        /* what depends on the host facts (the cgroup driver, the data root) learns them now */
        if (d->on_state)
                d->on_state(d, true, d->userdata);
        log_debug("Docker: cgroup driver %s, cgroup version %s, data root %s.",
                  strna(json_string_value(json_object_get(reply, "CgroupDriver"))),
                  strna(json_string_value(json_object_get(reply, "CgroupVersion"))),
                  strna(json_string_value(json_object_get(reply, "DockerRootDir"))));
}

static void on_version(HttpRequest *req, int error, const char *message, long status, const char *body,
                       size_t size, void *userdata) {
        Docker *d = userdata;
        _cleanup_json_ json_t *v = NULL;
        int r;

        d->probe = NULL;
        if (error < 0 || status != 200) {
                log_debug("Docker not reachable at %s: %s (HTTP %ld).", d->socket_path, strna(message), status);
                docker_lost(d);
                return;
        }
        r = docker_api_from_version(body, size, d->api_version);
        if (r < 0) {
                v = json_loadb(body, size, 0, NULL);
                log_event(LOG_ERR, 0, "docker-incompatible", NULL, BALLAST_MESSAGE_ERROR,
                          "Docker speaks API %s (minimum %s); ballast speaks %s to %s. Retrying later.",
                          strna(json_string_value(json_object_get(v, "ApiVersion"))),
                          strna(json_string_value(json_object_get(v, "MinAPIVersion"))), DOCKER_API_MIN,
                          DOCKER_API_MAX);
                docker_lost(d);
                return;
        }
        r = docker_follow_events(d);
        if (r < 0) {
                log_warning_errno(r, "Failed to follow Docker events: %m");
                docker_lost(d);
                return;
        }
        docker_set_up(d, true);
        (void) docker_call(d, "GET", "/info", NULL, 10000, on_info, NULL);
}

static int docker_probe(Docker *d) {
        /* /version is unversioned on purpose: it is how we learn which version to speak */
        return http_request_start(d->http,
                                  &(HttpRequestOptions) { .url = "http://localhost/version",
                                                          .unix_socket = d->socket_path, .timeout_ms = 5000,
                                                          .connect_timeout_ms = 2000 },
                                  on_version, d, &d->probe);
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        Docker *d = userdata;
        int r;

        if (d->probe || d->up)
                return 0;
        r = docker_probe(d);
        if (r < 0) {
                log_warning_errno(r, "Failed to probe Docker: %m");
                docker_schedule_retry(d);
        }
        return 0;
}

static void docker_schedule_retry(Docker *d) {
        d->retry_usec = d->retry_usec ? MIN(d->retry_usec * 2, DOCKER_RETRY_MAX_USEC) : DOCKER_RETRY_MIN_USEC;
        if (sd_event_source_set_time_relative(d->retry, d->retry_usec) < 0 ||
            sd_event_source_set_enabled(d->retry, SD_EVENT_ONESHOT) < 0)
                log_warning("Failed to schedule a Docker reconnect.");
}

int docker_new(Docker **ret, sd_event *event, HttpClient *http, const char *socket_path, DockerEventFunc on_event,
               DockerStateFunc on_state, void *userdata) {
        _cleanup_(docker_freep) Docker *d = calloc(1, sizeof(Docker));
        int r;

        if (!d)
                return -ENOMEM;
        d->event = sd_event_ref(event);
        d->http = http;
        d->socket_path = strdup(socket_path);
        if (!d->socket_path)
                return -ENOMEM;
        d->on_event = on_event;
        d->on_state = on_state;
        d->userdata = userdata;
        r = sd_event_add_time_relative(event, &d->retry, CLOCK_MONOTONIC, 0, 0, on_retry, d);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(d->retry, SD_EVENT_OFF);
        (void) sd_event_source_set_description(d->retry, "docker-retry");
        *ret = TAKE_PTR(d);
        return 0;
}

Docker *docker_free(Docker *d) {
        if (!d)
                return NULL;
        http_request_cancel(d->events);
        http_request_cancel(d->probe);
        sd_event_source_disable_unref(d->retry);
        sd_event_unref(d->event);
        json_decref(d->info);
        free(d->line);
        free(d->socket_path);
        free(d);
        return NULL;
}

int docker_start(Docker *d) {
        return docker_probe(d);
}

bool docker_is_up(Docker *d) {
        return d && d->up;
}

const char *docker_api_version(Docker *d) {
        return d->up ? d->api_version : NULL;
}

json_t *docker_info(Docker *d) {
        return d->info;
}

static void on_call_done(HttpRequest *req, int error, const char *message, long status, const char *body,
                         size_t size, void *userdata) {
        DockerCall *c = userdata;
        _cleanup_json_ json_t *v = NULL;

        if (error >= 0 && size > 0)
                v = json_loadb(body, size, JSON_DECODE_ANY, NULL);
        if (c->cb)
                c->cb(c->docker, error, status, v, c->userdata);
        free(c);
}

static void on_call_destroy(void *userdata) {
        DockerCall *c = userdata;

        if (c->destroy)
                c->destroy(c->userdata);
        free(c);
}

int docker_call_full(Docker *d, const char *method, const char *path, json_t *body, uint64_t timeout_ms,
                     DockerReplyFunc cb, DockerDestroyFunc destroy, void *userdata) {
        _cleanup_free_ char *url = NULL, *text = NULL;
        DockerCall *c;
        int r;

        if (!d->up)
                return -ENOTCONN;
        r = docker_url(d, &url, path);
        if (r < 0)
                return r;
        if (body) {
                text = json_dumps(body, JSON_COMPACT);
                if (!text)
                        return -ENOMEM;
        }
        c = calloc(1, sizeof(DockerCall));
        if (!c)
                return -ENOMEM;
        *c = (DockerCall) { .docker = d, .cb = cb, .destroy = destroy, .userdata = userdata };
        r = http_request_start(d->http,
                               &(HttpRequestOptions) { .method = method, .url = url, .unix_socket = d->socket_path,
                                                       .body = text, .body_size = text ? strlen(text) : 0,
                                                       .timeout_ms = timeout_ms, .destroy = on_call_destroy },
                               on_call_done, c, NULL);
        if (r < 0)
                free(c);
        return r;
}

/* ---- pulls ---- */

#define PULL_LINE_MAX (64U * 1024U)

typedef struct DockerPull {
        Docker *docker;
        DockerPullProgressFunc on_progress;
        DockerPullDoneFunc done;
        DockerDestroyFunc destroy;
        void *userdata;
        PullProgress progress;
        char *buf; /* the line not complete yet */
        size_t size;
        char last[1024]; /* the last line, for the message of a refused pull */
} DockerPull;

static DockerPull *docker_pull_free(DockerPull *p) {
        if (!p)
                return NULL;
        pull_progress_done_free(&p->progress);
        free(p->buf);
        free(p);
        return NULL;
}

static void pull_line(DockerPull *p, const char *line) {
        const PullLayer *l = NULL;
        bool existed = false;
        PullEvent ev;

        if (isempty(line))
                return;
        snprintf(p->last, sizeof(p->last), "%s", line);
        ev = pull_progress_feed(&p->progress, line, &l, &existed);
        if ((ev == PULL_EVENT_PROGRESS || ev == PULL_EVENT_LAYER_DONE) && p->on_progress)
                p->on_progress(p->docker, &p->progress, ev == PULL_EVENT_LAYER_DONE ? l : NULL, existed, p->userdata);
}

static int on_pull_data(HttpRequest *req, const char *data, size_t size, void *userdata) {
        DockerPull *p = userdata;
        char *nb, *start, *nl;

        if (p->size + size > PULL_LINE_MAX)
                return -EMSGSIZE;
        nb = realloc(p->buf, p->size + size + 1);
        if (!nb)
                return -ENOMEM;
        p->buf = nb;
        memcpy(p->buf + p->size, data, size);
        p->size += size;
        p->buf[p->size] = 0;
        for (start = p->buf; (nl = memchr(start, '\n', p->size - (size_t) (start - p->buf))); start = nl + 1) {
                *nl = 0;
                pull_line(p, start);
        }
        p->size -= (size_t) (start - p->buf);
        memmove(p->buf, start, p->size + 1);
        return 0;
}

static void on_pull_done(HttpRequest *req, int error, const char *message, long status, const char *body,
                         size_t size, void *userdata) {
        DockerPull *p = userdata;
        _cleanup_json_ json_t *v = NULL;
        char why[1200];

        if (p->size > 0)
                pull_line(p, p->buf);
        if (error < 0)
                snprintf(why, sizeof(why), "Docker did not answer: %s", strna(message));
        else if (status != 200) {
                v = json_loads(p->last, 0, NULL);
                snprintf(why, sizeof(why), "HTTP %ld: %s", status,
                         json_string_value(json_object_get(v, "message")) ?: p->last);
        } else if (p->progress.error)
                snprintf(why, sizeof(why), "%s", p->progress.error);
        p->done(p->docker, error >= 0 && status == 200 && !p->progress.error ? NULL : why, p->userdata);
        docker_pull_free(p);
}

static void on_pull_destroy(void *userdata) {
        DockerPull *p = userdata;

        if (p->destroy)
                p->destroy(p->userdata);
        docker_pull_free(p);
}

int docker_pull(Docker *d, const char *image, const char *auth_header, DockerPullProgressFunc on_progress,
                DockerPullDoneFunc done, DockerDestroyFunc destroy, void *userdata) {
        _cleanup_free_ char *url = NULL, *path = NULL;
        const char *slash = strrchr(image, '/');
        bool has_tag = strchr(image, '@') || strchr(slash ? slash : image, ':');
        const char *headers[] = { auth_header, NULL };
        DockerPull *p;
        char *esc;
        int r;

        if (!d->up)
                return -ENOTCONN;
        /* without a tag, /images/create pulls every tag of the repository: "latest", as docker does */
        esc = curl_easy_escape(NULL, image, 0);
        r = esc ? asprintf(&path, "/images/create?fromImage=%s%s", esc, has_tag ? "" : "&tag=latest") : -1;
        curl_free(esc);
        if (r < 0)
                return -ENOMEM;
        r = docker_url(d, &url, path);
        if (r < 0)
                return r;
        p = calloc(1, sizeof(DockerPull));
        if (!p)
                return -ENOMEM;
        *p = (DockerPull) { .docker = d, .on_progress = on_progress, .done = done, .destroy = destroy,
                            .userdata = userdata };
        r = http_request_start(d->http,
                               &(HttpRequestOptions) { .method = "POST", .url = url, .unix_socket = d->socket_path,
                                                       .headers = auth_header ? headers : NULL, .timeout_ms = 0,
                                                       .on_data = on_pull_data, .destroy = on_pull_destroy },
                               on_pull_done, p, NULL);
        if (r < 0)
                docker_pull_free(p);
        return r;
}
