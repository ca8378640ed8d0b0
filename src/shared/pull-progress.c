/* SPDX-License-Identifier: MIT */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/json-util.h"
#include "shared/macro.h"
#include "shared/pull-progress.h"

static PullLayer *layer_get(PullProgress *p, const char *id) {
        for (size_t i = 0; i < p->n_layers; i++)
                if (streq(p->layers[i].id, id))
                        return &p->layers[i];
        if (p->n_layers >= PULL_LAYERS_MAX)
                return NULL;
        snprintf(p->layers[p->n_layers].id, sizeof(p->layers[0].id), "%s", id);
        return &p->layers[p->n_layers++];
}

/* The statuses Docker gives a layer; "Pulling from NAME" carries the tag as its id, and is not one. */
static bool is_layer_status(const char *status) {
        static const char *const table[] = {
                "Pulling fs layer", "Waiting", "Downloading", "Verifying Checksum", "Download complete",
                "Extracting", "Pull complete", "Already exists", "Retrying",
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (strneq(status, table[i], strlen(table[i])))
                        return true;
        return false;
}

/* {"status": "Downloading", "id": "…", "progressDetail": {"current", "total"}}; "Pull complete" or "Already
 * exists" for a layer done; {"error": "…"} for a failure. Lines without a layer id ("Pulling from …",
 * "Digest: …", "Status: …") are not layers. */
PullEvent pull_progress_feed(PullProgress *p, const char *line, const PullLayer **ret_layer, bool *ret_existed) {
        _cleanup_json_ json_t *v = json_loads(line, 0, NULL);
        const char *status = json_string_value(json_object_get(v, "status"));
        const char *id = json_string_value(json_object_get(v, "id"));
        const char *error = json_string_value(json_object_get(v, "error"));
        json_t *detail = json_object_get(v, "progressDetail");
        PullLayer *l;

        if (error) {
                free(p->error);
                p->error = strdup(error);
                return PULL_EVENT_ERROR;
        }
        if (!status || !id || strlen(id) >= sizeof(p->layers[0].id) || !is_layer_status(status))
                return PULL_EVENT_NONE;
        l = layer_get(p, id);
        if (!l)
                return PULL_EVENT_NONE;
        if (streq(status, "Downloading") && json_is_integer(json_object_get(detail, "total"))) {
                l->current = json_integer_value(json_object_get(detail, "current"));
                l->total = json_integer_value(json_object_get(detail, "total"));
                return PULL_EVENT_PROGRESS;
        }
        if ((streq(status, "Pull complete") || streq(status, "Already exists")) && !l->done) {
                l->done = true;
                *ret_layer = l;
                *ret_existed = streq(status, "Already exists");
                return PULL_EVENT_LAYER_DONE;
        }
        return PULL_EVENT_NONE;
}

int pull_progress_percent(const PullProgress *p) {
        int64_t cur = 0, tot = 0;
        size_t pending = 0;

        for (size_t i = 0; i < p->n_layers; i++) {
                if (p->layers[i].done)
                        continue;
                pending++;
                if (p->layers[i].total > 0) {
                        cur += MIN(p->layers[i].current, p->layers[i].total);
                        tot += p->layers[i].total;
                }
        }
        if (pending == 0)
                return p->n_layers > 0 ? 100 : 0;
        return tot > 0 ? (int) (cur * 100 / tot) : 0;
}

size_t pull_progress_done(const PullProgress *p) {
        size_t n = 0;

        for (size_t i = 0; i < p->n_layers; i++)
                n += p->layers[i].done;
        return n;
}

void pull_progress_format(const PullProgress *p, char *buf, size_t len) {
        snprintf(buf, len, "%d%% (%zu of %zu layers)", pull_progress_percent(p), pull_progress_done(p), p->n_layers);
}

void pull_progress_done_free(PullProgress *p) {
        free(p->error);
        p->error = NULL;
}
