/* SPDX-License-Identifier: MIT */
#pragma once

/* The progress stream of POST /images/create, one JSON object a line, folded into what a person wants to see:
 * how far the pull is (a percentage over the layers being downloaded), a line per layer done, and the error
 * that ends a failed pull. Pure; shared by ballastd and ballast-run. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PULL_LAYERS_MAX 256U

typedef struct PullLayer {
        char id[72];
        int64_t current, total;
        bool done;
} PullLayer;

typedef struct PullProgress {
        PullLayer layers[PULL_LAYERS_MAX];
        size_t n_layers;
        char *error; /* the stream's "error", NULL: none */
} PullProgress;

typedef enum PullEvent {
        PULL_EVENT_NONE,
        PULL_EVENT_PROGRESS,   /* a layer moved on */
        PULL_EVENT_LAYER_DONE, /* *ret_layer is done ("Pull complete", or "Already exists": *ret_existed) */
        PULL_EVENT_ERROR,      /* p->error says why */
} PullEvent;

PullEvent pull_progress_feed(PullProgress *p, const char *line, const PullLayer **ret_layer, bool *ret_existed);
/* 0..100 over the layers not done whose size is known; 100 when every layer is done. */
int pull_progress_percent(const PullProgress *p);
size_t pull_progress_done(const PullProgress *p);
/* "45% (1 of 3 layers)" */
void pull_progress_format(const PullProgress *p, char *buf, size_t len);
void pull_progress_done_free(PullProgress *p);
