/* SPDX-License-Identifier: MIT */
#pragma once

/* The Docker Engine API on the loop: version negotiation (/_ping, /version: never a pinned version), host facts
 * (/info), the container event stream (/events, resumed with since= after dockerd comes back), and calls for
 * inspect and the like. Docker may be absent, or go and come back, at any time: docker_is_up() says which, and
 * the state callback says when it changes. */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "http/http.h"
#include "shared/pull-progress.h"
#include "shared/docker-api.h" /* the versions we speak: DOCKER_API_MIN..DOCKER_API_MAX */

typedef struct Docker Docker;

typedef struct DockerEvent {
        const char *action;   /* "die", "oom", "start", "health_status: healthy", ... */
        const char *id;
        const char *service;  /* the io.ballast.service label, or NULL */
        int exit_code;        /* for "die"; -1 otherwise */
        uint64_t time_nsec;
} DockerEvent;

typedef void (*DockerEventFunc)(Docker *d, const DockerEvent *ev, void *userdata);
typedef void (*DockerStateFunc)(Docker *d, bool up, void *userdata);
/* error < 0: no answer (Docker down, timeout); else status is the HTTP status and reply the parsed body (may be
 * NULL when the body is not JSON). */
typedef void (*DockerReplyFunc)(Docker *d, int error, long status, json_t *reply, void *userdata);

int docker_new(Docker **ret, sd_event *event, HttpClient *http, const char *socket_path, DockerEventFunc on_event,
               DockerStateFunc on_state, void *userdata);
Docker *docker_free(Docker *d);
DEFINE_CLEANUP_FUNC(Docker *, docker_free);

int docker_start(Docker *d);

bool docker_is_up(Docker *d);
const char *docker_api_version(Docker *d);
/* The last /info, or NULL. */
json_t *docker_info(Docker *d);

/* Frees a call's userdata when its reply never comes: the call was still in flight when the HTTP client was
 * freed (at exit). */
typedef void (*DockerDestroyFunc)(void *userdata);

/* A call to /vX.Y/PATH (PATH starts with '/'). body may be NULL. cb is called exactly once, unless the process
 * exits first: then destroy (may be NULL) gets userdata instead. */
int docker_call_full(Docker *d, const char *method, const char *path, json_t *body, uint64_t timeout_ms,
                     DockerReplyFunc cb, DockerDestroyFunc destroy, void *userdata);
static inline int docker_call(Docker *d, const char *method, const char *path, json_t *body, uint64_t timeout_ms,
                              DockerReplyFunc cb, void *userdata) {
        return docker_call_full(d, method, path, body, timeout_ms, cb, NULL, userdata);
}

/* Pulls image (POST /images/create), streaming: on_progress (may be NULL) for every step of a layer, with
 * done_layer set when one is done; done exactly once (unless the process exits first: then destroy), with
 * error NULL when the image is here, else why not. auth_header: "X-Registry-Auth: …" or NULL. */
typedef void (*DockerPullProgressFunc)(Docker *d, const PullProgress *p, const PullLayer *done_layer, bool existed,
                                       void *userdata);
typedef void (*DockerPullDoneFunc)(Docker *d, const char *error, void *userdata);
int docker_pull(Docker *d, const char *image, const char *auth_header, DockerPullProgressFunc on_progress,
                DockerPullDoneFunc done, DockerDestroyFunc destroy, void *userdata);

/* Feeds bytes of the /events stream as they arrive (a line may come in pieces): each complete line is an event
 * for the event callback. -EMSGSIZE for a line over 64 KiB (the stream is then reconnected). */
int docker_events_feed(Docker *d, const char *data, size_t size);

#define DOCKER_API_VERSION_MAX 16   /* "1.47" and its NUL, with room */
/* The version to speak, from the body of GET /version: -EBADMSG when it is not a JSON object,
 * -EPROTONOSUPPORT when it names no version we share. Pure. */
int docker_api_from_version(const char *body, size_t size, char ret[static DOCKER_API_VERSION_MAX]);

/* What `ballastctl inspect` shows of a container, from Docker's inspect body (any JSON): id, status,
 * started_at, finished_at, exit_code, oom_killed, pid, image; null where Docker did not say. Pure. */
json_t *docker_container_summary(json_t *inspect);

/* Compares Docker API versions "1.41" < "1.47": <0, 0, >0. Pure. */
int docker_api_version_compare(const char *a, const char *b);
/* Chooses the version to speak given the daemon's ApiVersion and MinAPIVersion; NULL when there is none, or when
 * ApiVersion is not "MAJOR.MINOR" (digits, at most 4 each). A MinAPIVersion that is not is ignored. Pure. */
const char *docker_api_negotiate(const char *server_version, const char *server_min);
