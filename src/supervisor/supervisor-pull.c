/* SPDX-License-Identifier: MIT */
/* The image of a changed spec is pulled before the restart that replaces the running version, so that the
 * old version serves during the pull and goes on serving when the pull fails (the registry down, credentials
 * refused): the restart waits, the failure is said (journal, ps, inspect) and the pull tried again later.
 * pull: never skips this; pull: missing pulls only when the image is not here; pull: always pulls. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docker/docker.h"
#include "shared/log.h"
#include "shared/registry-auth.h"
#include "shared/time-util.h"
#include "supervisor/supervisor-internal.h"

#define PULL_RETRY_MIN_USEC (5 * USEC_PER_SEC)
#define PULL_RETRY_MAX_USEC (300 * USEC_PER_SEC)

typedef struct PullJob {
        Supervisor *supervisor;
        char *name;
        char *image;
} PullJob;

static void pull_job_free(void *userdata) {
        PullJob *j = userdata;

        if (!j)
                return;
        free(j->name);
        free(j->image);
        free(j);
}

void service_pull_free(Service *svc) {
        svc->pull_timer = sd_event_source_disable_unref(svc->pull_timer);
        svc->pulled_image = mfree(svc->pulled_image);
        svc->pull_status = mfree(svc->pull_status);
}

/* The service the job was for, if it is still there and still wants that image. */
static Service *pull_job_service(PullJob *j) {
        Service *svc = supervisor_find(j->supervisor, j->name);

        if (!svc)
                return NULL;
        svc->pull_in_flight = false;
        if (!svc->spec->image || !streq(svc->spec->image, j->image)) {
                supervisor_schedule_reconcile(j->supervisor); /* the spec changed again: its own pull */
                return NULL;
        }
        return svc;
}

static void set_pull_status(Service *svc, const char *text) {
        char *t = text ? strdup(text) : NULL;

        free(svc->pull_status);
        svc->pull_status = t;
}

static void pull_ready(Supervisor *s, Service *svc, const char *image) {
        free(svc->pulled_image);
        svc->pulled_image = strdup(image);
        set_pull_status(svc, NULL);
        svc->pull_backoff_usec = 0;
        supervisor_schedule_reconcile(s);
}

static int on_pull_retry(sd_event_source *src, uint64_t usec, void *userdata) {
        supervisor_schedule_reconcile(userdata);
        return 0;
}

/* The running version serves on; the pull is tried again after a doubling delay. */
static void pull_failed(Supervisor *s, Service *svc, const char *image, const char *why) {
        char text[1024];

        svc->pull_backoff_usec = MIN(MAX(svc->pull_backoff_usec * 2, PULL_RETRY_MIN_USEC), PULL_RETRY_MAX_USEC);
        svc->pull_retry_usec = now_usec(CLOCK_MONOTONIC) + svc->pull_backoff_usec;
        snprintf(text, sizeof(text), "pull of %s failed: %s; the running version keeps serving, retrying in %" PRIu64
                 " s", image, why, svc->pull_backoff_usec / USEC_PER_SEC);
        set_pull_status(svc, text);
        log_event(LOG_ERR, 0, "pull-failed", svc->name, NULL, "Cannot update %s: %s", svc->name, text);
        svc->pull_timer = sd_event_source_disable_unref(svc->pull_timer);
        (void) sd_event_add_time(s->event, &svc->pull_timer, CLOCK_MONOTONIC, svc->pull_retry_usec, USEC_PER_SEC,
                                 on_pull_retry, s);
}

static void on_pull_progress(Docker *d, const PullProgress *p, const PullLayer *done, bool existed, void *userdata) {
        PullJob *j = userdata;
        Service *svc = supervisor_find(j->supervisor, j->name);
        char text[512], pc[64];

        if (!svc)
                return;
        if (done)
                log_info("Image %s for %s: layer %s %s", j->image, svc->name, done->id,
                         existed ? "already here" : "pulled");
        pull_progress_format(p, pc, sizeof(pc));
        snprintf(text, sizeof(text), "pulling %s: %s", j->image, pc);
        set_pull_status(svc, text);
}

static void on_pull_done(Docker *d, const char *error, void *userdata) {
        PullJob *j = userdata;
        Service *svc = pull_job_service(j);

        if (svc && error)
                pull_failed(j->supervisor, svc, j->image, error);
        else if (svc) {
                log_event(LOG_NOTICE, 0, "image-pulled", svc->name, NULL, "Pulled %s for %s; replacing the running "
                          "version", j->image, svc->name);
                pull_ready(j->supervisor, svc, j->image);
        }
        pull_job_free(j);
}

static PullJob *pull_job_new(Supervisor *s, Service *svc) {
        PullJob *j = calloc(1, sizeof(PullJob));

        if (!j)
                return NULL;
        *j = (PullJob) { .supervisor = s, .name = strdup(svc->name), .image = strdup(svc->spec->image) };
        if (!j->name || !j->image) {
                pull_job_free(j);
                return NULL;
        }
        return j;
}

/* Takes j. Returns 1 when the pull runs, 0 when it failed at once (said, retried later), < 0 when Docker could
 * not be asked. */
static int pull_start(Supervisor *s, Service *svc, PullJob *j) {
        const char *file = svc->spec->registry_auth_file ?: s->registry_auth_file;
        _cleanup_free_ char *auth = NULL, *error = NULL;
        char text[512];
        int r;

        if (file) {
                r = registry_auth_header(file, j->image, &auth, &error);
                if (r < 0) {
                        pull_failed(s, svc, j->image, error ?: strerror(-r));
                        pull_job_free(j);
                        return 0;
                }
        }
        r = docker_pull(s->docker, j->image, auth, on_pull_progress, on_pull_done, pull_job_free, j);
        if (r < 0) {
                pull_job_free(j);
                return r;
        }
        snprintf(text, sizeof(text), "pulling %s", svc->spec->image);
        set_pull_status(svc, text);
        log_notice("Pulling %s for %s before replacing the running version", svc->spec->image, svc->name);
        return 1;
}

/* pull: missing: GET /images/NAME/json first; a 404 is a pull. */
static void on_image_inspected(Docker *d, int error, long status, json_t *reply, void *userdata) {
        PullJob *j = userdata;
        Service *svc = pull_job_service(j);

        if (!svc) {
                pull_job_free(j);
                return;
        }
        if (error >= 0 && status == 404) {
                Supervisor *s = j->supervisor;
                int r = pull_start(s, svc, j);

                svc->pull_in_flight = r > 0;
                if (r < 0) /* ballast-run pulls at the start, as without this */
                        pull_ready(s, svc, svc->spec->image);
                return;
        }
        /* here (or Docker could not say: ballast-run decides at the start) */
        pull_ready(j->supervisor, svc, j->image);
        pull_job_free(j);
}

bool service_pull_before_restart(Supervisor *s, Service *svc) {
        _cleanup_free_ char *path = NULL;
        PullJob *j;
        int r;

        if (svc->spec->runtime != SERVICE_RUNTIME_DOCKER || svc->spec->pull == IMAGE_PULL_NEVER ||
            !docker_is_up(s->docker))
                return false;
        /* pulled for this restart: it goes now (the next change pulls again) */
        if (svc->pulled_image && streq(svc->pulled_image, svc->spec->image)) {
                svc->pulled_image = mfree(svc->pulled_image);
                return false;
        }
        if (svc->pull_in_flight || now_usec(CLOCK_MONOTONIC) < svc->pull_retry_usec)
                return true;
        j = pull_job_new(s, svc);
        if (!j)
                return false;
        if (svc->spec->pull == IMAGE_PULL_ALWAYS) {
                r = pull_start(s, svc, j);
                if (r < 0) /* Docker cannot be asked now: ballast-run pulls at the start, as without this */
                        return false;
                svc->pull_in_flight = r > 0;
                return true;
        }
        /* the reference's characters (spec.c) need no escaping in a path; Docker's route takes the '/' */
        r = asprintf(&path, "/images/%s/json", svc->spec->image) >= 0 ? 0 : -ENOMEM;
        if (r >= 0)
                r = docker_call_full(s->docker, "GET", path, NULL, 30 * 1000, on_image_inspected, pull_job_free, j);
        if (r < 0) {
                pull_job_free(j);
                return false;
        }
        svc->pull_in_flight = true;
        return true;
}
