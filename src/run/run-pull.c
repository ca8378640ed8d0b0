/* SPDX-License-Identifier: MIT */
/* Pulling the service's image: POST /images/create with the registry credentials (X-Registry-Auth), its
 * progress read as it streams in: a journal line per layer pulled, and "pulling IMAGE: N%" in the unit's
 * status (systemctl status, ballastctl ps/inspect) at most once a second. */
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
#include "shared/time-util.h"

#define LAYERS_MAX 256U

typedef struct PullLayer {
        char id[72];
        int64_t current, total;
        bool done;
} PullLayer;

typedef struct Pull {
        const char *image;
        PullLayer layers[LAYERS_MAX];
        size_t n_layers;
        char *error;          /* the stream's "error", NULL: none */
        uint64_t last_status; /* when the status was last said */
        int last_percent;
} Pull;

static PullLayer *pull_layer(Pull *p, const char *id) {
        for (size_t i = 0; i < p->n_layers; i++)
                if (streq(p->layers[i].id, id))
                        return &p->layers[i];
        if (p->n_layers >= LAYERS_MAX)
                return NULL;
        snprintf(p->layers[p->n_layers].id, sizeof(p->layers[0].id), "%s", id);
        return &p->layers[p->n_layers++];
}

static int pull_percent(const Pull *p) {
        int64_t cur = 0, tot = 0;
        size_t unknown = 0;

        for (size_t i = 0; i < p->n_layers; i++) {
                if (p->layers[i].done)
                        continue;
                if (p->layers[i].total <= 0) {
                        unknown++;
                        continue;
                }
                cur += MIN(p->layers[i].current, p->layers[i].total);
                tot += p->layers[i].total;
        }
        if (tot == 0)
                return unknown > 0 ? 0 : 100;
        return (int) (cur * 100 / tot);
}

static void pull_status(Pull *p, bool force) {
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        size_t done = 0;
        int pc = pull_percent(p);

        if (!force && (pc == p->last_percent || now < p->last_status + USEC_PER_SEC))
                return;
        for (size_t i = 0; i < p->n_layers; i++)
                done += p->layers[i].done;
        p->last_status = now;
        p->last_percent = pc;
        (void) sd_notifyf(false, "STATUS=pulling %s: %d%% (%zu of %zu layers)", p->image, pc, done, p->n_layers);
}

/* One progress object: {"status": "Downloading", "id": "…", "progressDetail": {"current", "total"}},
 * "Pull complete" / "Already exists" for a layer done, {"error": "…"} for a failure. */
static void on_progress_line(char *line, void *userdata) {
        _cleanup_json_ json_t *v = json_loads(line, 0, NULL);
        Pull *p = userdata;
        const char *status = json_string_value(json_object_get(v, "status"));
        const char *id = json_string_value(json_object_get(v, "id"));
        const char *error = json_string_value(json_object_get(v, "error"));
        json_t *detail = json_object_get(v, "progressDetail");
        PullLayer *l;

        if (error) {
                free(p->error);
                p->error = strdup(error);
                return;
        }
        if (!status || !id || strlen(id) >= sizeof(p->layers[0].id) || strchr(id, ':'))
                return; /* "Pulling from …", "Digest: …", "Status: …": not a layer */
        l = pull_layer(p, id);
        if (!l)
                return;
        if (streq(status, "Downloading") && json_is_integer(json_object_get(detail, "total"))) {
                l->current = json_integer_value(json_object_get(detail, "current"));
                l->total = json_integer_value(json_object_get(detail, "total"));
        } else if ((streq(status, "Pull complete") || streq(status, "Already exists")) && !l->done) {
                l->done = true;
                log_info("Image %s: layer %s %s", p->image, l->id,
                         streq(status, "Pull complete") ? "pulled" : "already here");
        }
        pull_status(p, false);
}

/* Pulls image, with credentials when --registry-auth has some for its registry. */
int image_pull(Docker *d, const char *image) {
        _cleanup_request_ Request *req = NULL;
        _cleanup_free_ char *path = NULL, *auth = NULL;
        _cleanup_free_ Pull *p = NULL;
        const char *slash = strrchr(image, '/');
        bool has_tag = strchr(image, '@') || strchr(slash ? slash : image, ':');
        struct curl_slist *h;
        char msg[512];
        char *esc;
        int r;

        if (arg_registry_auth) {
                r = registry_auth_header(arg_registry_auth, image, &auth);
                if (r < 0)
                        return r;
        }
        /* Without a tag, /images/create pulls every tag of the repository: ask for "latest" as docker does. */
        esc = curl_easy_escape(NULL, image, 0);
        if (!esc)
                return log_error_errno(-ENOMEM, "Out of memory");
        r = asprintf(&path, "/images/create?fromImage=%s%s", esc, has_tag ? "" : "&tag=latest");
        curl_free(esc);
        p = calloc(1, sizeof(Pull));
        if (r < 0 || !p)
                return log_error_errno(-ENOMEM, "Out of memory");
        p->image = image;
        p->last_percent = -1;

        log_notice("Pulling %s%s", image, auth ? " with credentials" : "");
        (void) sd_notifyf(false, "STATUS=pulling %s", image);
        r = request_new(d, "POST", path, NULL, 0, &req);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the pull: %m");
        if (auth) {
                h = curl_slist_append(req->headers, auth);
                if (!h || curl_easy_setopt(req->easy, CURLOPT_HTTPHEADER, h) != CURLE_OK)
                        return log_error_errno(-ENOMEM, "Out of memory");
                req->headers = h;
        }
        req->on_line = on_progress_line;
        req->line_userdata = p;
        r = docker_perform(d, req, true);
        if (r < 0) {
                free(p->error);
                return log_transport_failure(r, "pull");
        }
        if (req->status != 200) {
                free(p->error);
                return log_error_errno(-EIO, "Cannot pull %s: %s", image, request_message(req, msg, sizeof(msg)));
        }
        if (p->error) {
                log_error("Cannot pull %s: %s", image, p->error);
                (void) sd_notifyf(false, "STATUS=pull of %s failed: %s", image, p->error);
                free(p->error);
                return -EIO;
        }
        pull_status(p, true);
        log_notice("Pulled %s", image);
        return 0;
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
