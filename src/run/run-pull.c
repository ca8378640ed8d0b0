/* SPDX-License-Identifier: MIT */
/* Pulling the service's image at a start: POST /images/create with the registry credentials (X-Registry-Auth),
 * its progress read as it streams in: a journal line per layer done, and "pulling IMAGE: N% (…)" in the unit's
 * status line (systemctl status, ballastctl ps and inspect) at most once a second. */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "run/run.h"
#include "shared/json-util.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/pull-progress.h"
#include "shared/registry-auth.h"
#include "shared/time-util.h"

const char *arg_registry_auth;

typedef struct Pull {
        const char *image;
        PullProgress progress;
        uint64_t last_status; /* when the status line was last said */
        int last_percent;
        char last[1024];      /* the last line: Docker's {"message": …} when it refused the pull */
} Pull;

static void pull_status(Pull *p, bool force) {
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        int pc = pull_progress_percent(&p->progress);
        char text[64];

        if (!force && (pc == p->last_percent || now < p->last_status + USEC_PER_SEC))
                return;
        p->last_status = now;
        p->last_percent = pc;
        pull_progress_format(&p->progress, text, sizeof(text));
        (void) sd_notifyf(false, "STATUS=pulling %s: %s", p->image, text);
}

static void on_progress_line(char *line, void *userdata) {
        Pull *p = userdata;
        const PullLayer *l = NULL;
        bool existed = false;

        PullEvent ev;

        snprintf(p->last, sizeof(p->last), "%s", line);
        ev = pull_progress_feed(&p->progress, line, &l, &existed);

        if (ev == PULL_EVENT_LAYER_DONE)
                log_info("Image %s: layer %s %s", p->image, l->id, existed ? "already here" : "pulled");
        if (ev == PULL_EVENT_LAYER_DONE || ev == PULL_EVENT_PROGRESS)
                pull_status(p, false);
}

/* The pull's request, with credentials when --registry-auth has some for the image's registry. */
static int pull_request(Docker *d, const char *image, Request **ret) {
        _cleanup_free_ char *path = NULL, *auth = NULL, *error = NULL;
        _cleanup_request_ Request *req = NULL;
        const char *slash = strrchr(image, '/');
        bool has_tag = strchr(image, '@') || strchr(slash ? slash : image, ':');
        struct curl_slist *h;
        char *esc;
        int r;

        if (arg_registry_auth) {
                r = registry_auth_header(arg_registry_auth, image, &auth, &error);
                if (r < 0)
                        return log_error_errno(r, "Cannot pull %s: %s", image, strna(error));
                if (r == 0)
                        log_notice("%s has no credentials for the registry of %s: pulling without", arg_registry_auth,
                                   image);
        }
        /* Without a tag, /images/create pulls every tag of the repository: ask for "latest" as docker does. */
        esc = curl_easy_escape(NULL, image, 0);
        r = esc ? asprintf(&path, "/images/create?fromImage=%s%s", esc, has_tag ? "" : "&tag=latest") : -1;
        curl_free(esc);
        if (r < 0)
                return log_error_errno(-ENOMEM, "Out of memory");
        r = request_new(d, "POST", path, NULL, 0, &req);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the pull: %m");
        if (auth) {
                h = curl_slist_append(req->headers, auth);
                if (!h)
                        return log_error_errno(-ENOMEM, "Out of memory");
                req->headers = h;
                if (curl_easy_setopt(req->easy, CURLOPT_HTTPHEADER, h) != CURLE_OK)
                        return log_error_errno(-EIO, "Cannot set up the pull");
        }
        log_notice("Pulling %s%s", image, auth ? " with credentials" : "");
        *ret = TAKE_PTR(req);
        return 0;
}

int image_pull(Docker *d, const char *image) {
        _cleanup_request_ Request *req = NULL;
        _cleanup_free_ Pull *p = calloc(1, sizeof(Pull));
        char msg[512];
        int r;

        if (!p)
                return log_error_errno(-ENOMEM, "Out of memory");
        *p = (Pull) { .image = image, .last_percent = -1 };
        r = pull_request(d, image, &req);
        if (r < 0)
                return r;
        (void) sd_notifyf(false, "STATUS=pulling %s", image);
        req->on_line = on_progress_line;
        req->line_userdata = p;
        r = docker_perform(d, req, true);
        if (r < 0)
                r = log_transport_failure(r, "pull");
        else if (req->status != 200) {
                _cleanup_json_ json_t *v = json_loads(req->size > 0 ? req->data : p->last, 0, NULL);
                const char *m = json_string_value(json_object_get(v, "message"));

                snprintf(msg, sizeof(msg), "%.400s", m ?: (req->size > 0 ? req->data : p->last));
                r = log_error_errno(-EIO, "Cannot pull %s: HTTP %ld: %s", image, req->status, msg);
                (void) sd_notifyf(false, "STATUS=pull of %s failed: %s", image, msg);
        }
        else if (p->progress.error) {
                r = log_error_errno(-EIO, "Cannot pull %s: %s", image, p->progress.error);
                (void) sd_notifyf(false, "STATUS=pull of %s failed: %s", image, p->progress.error);
        } else {
                pull_status(p, true);
                log_notice("Pulled %s", image);
        }
        pull_progress_done_free(&p->progress);
        return r;
}

/* The ID of the local image (NULL in *ret when it is not here). */
int image_id(Docker *d, const char *image, char **ret) {
        _cleanup_request_ Request *req = NULL;
        _cleanup_free_ char *path = NULL;
        _cleanup_json_ json_t *v = NULL;
        const char *id;
        char msg[512];
        char *esc;
        int r;

        *ret = NULL;
        esc = curl_easy_escape(NULL, image, 0);
        r = esc ? asprintf(&path, "/images/%s/json", esc) : -1;
        curl_free(esc);
        if (r < 0)
                return log_error_errno(-ENOMEM, "Out of memory");
        r = docker_call(d, "GET", path, NULL, 30 * 1000, true, &req);
        if (r < 0)
                return log_transport_failure(r, "inspect the image");
        if (req->status == 404)
                return 0;
        if (req->status != 200)
                return log_error_errno(-EIO, "Cannot inspect the image %s: %s", image,
                                       request_message(req, msg, sizeof(msg)));
        v = request_json(req);
        id = json_string_value(json_object_get(v, "Id"));
        if (!id)
                return log_error_errno(-EPROTO, "Docker's inspect of the image %s has no Id", image);
        *ret = strdup(id);
        return *ret ? 0 : log_error_errno(-ENOMEM, "Out of memory");
}
