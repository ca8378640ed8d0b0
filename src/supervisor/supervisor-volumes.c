/* SPDX-License-Identifier: MIT */
/* `rm --volumes`: the named volumes Docker created for a service's mounts (labelled io.ballast.service=NAME by
 * the create body) go once its container is gone. Without it they are kept, so that data survives an rm and
 * a new apply of the same name. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/holder.h"
#include "shared/json-util.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "supervisor/supervisor-internal.h"
#include "supervisor/units.h"

typedef struct VolumesContext {
        Supervisor *supervisor;
        char *name;
        unsigned pending;  /* volume deletions in flight */
        bool waited;       /* the removal was another's, in progress: waited for with condition=removed */
        json_t *removed;   /* names */
        char *error;       /* the first failure, for the reply */
        VolumesDoneFunc done;
        DockerDestroyFunc destroy;
        void *userdata;
} VolumesContext;

static void volumes_context_free(VolumesContext *vc) {
        json_decref(vc->removed);
        free(vc->error);
        free(vc->name);
        free(vc);
}

static void volumes_destroy(void *userdata) {
        VolumesContext *vc = userdata;

        if (--vc->pending > 0)
                return;
        if (vc->destroy)
                vc->destroy(vc->userdata);
        volumes_context_free(vc);
}

_printf_(2, 3) static void volumes_fail(VolumesContext *vc, const char *format, ...) {
        va_list ap;
        char *m;

        va_start(ap, format);
        if (vasprintf(&m, format, ap) < 0)
                m = NULL;
        va_end(ap);
        log_warning("Removing the volumes of %s: %s", vc->name, strna(m));
        if (!vc->error)
                vc->error = m;
        else
                free(m);
}

static void volumes_finish(VolumesContext *vc) {
        vc->done(vc->removed, vc->error, vc->userdata);
        volumes_context_free(vc);
}

static void on_volume_deleted(Docker *d, int error, long status, json_t *reply, void *userdata) {
        VolumesContext *vc = userdata;

        if (error < 0)
                volumes_fail(vc, "Docker did not answer: %s", strerror(-error));
        else if (status != 204 && status != 404)
                volumes_fail(vc, "%s", strna(json_string_value(json_object_get(reply, "message"))));
        if (--vc->pending == 0)
                volumes_finish(vc);
}

/* One DELETE /volumes/NAME; counted in vc->pending. */
static void volume_delete(VolumesContext *vc, const char *volume) {
        _cleanup_free_ char *path = NULL;

        if (asprintf(&path, "/volumes/%s", volume) < 0) {
                volumes_fail(vc, "out of memory");
                return;
        }
        vc->pending++;
        if (docker_call_full(vc->supervisor->docker, "DELETE", path, NULL, 30000, on_volume_deleted, volumes_destroy,
                             vc) < 0) {
                vc->pending--;
                volumes_fail(vc, "cannot ask Docker to remove the volume %s", volume);
                return;
        }
        log_info("Removing the volume %s of %s", volume, vc->name);
        (void) json_array_append_new(vc->removed, json_string(volume));
}

static void on_volumes_listed(Docker *d, int error, long status, json_t *reply, void *userdata) {
        VolumesContext *vc = userdata;
        json_t *v;
        size_t i;

        vc->pending = 0;
        if (error < 0 || status != 200)
                volumes_fail(vc, "cannot list them: %s", error < 0 ? strerror(-error) : "Docker refused");
        json_array_foreach(json_object_get(reply, "Volumes"), i, v) {
                const char *owner = json_string_value(json_object_get(json_object_get(v, "Labels"), LABEL_SERVICE));
                const char *name = json_string_value(json_object_get(v, "Name"));

                /* Docker filtered by the label already; an unexpected answer must not remove another's volume */
                if (name && owner && streq(owner, vc->name))
                        volume_delete(vc, name);
        }
        if (vc->pending == 0)
                volumes_finish(vc);
}

static void on_container_gone(Docker *d, int error, long status, json_t *reply, void *userdata);

/* POST /containers/ballast-NAME/wait?condition=removed: answers once the container is gone (404: already). */
static int container_wait_removed(VolumesContext *vc) {
        _cleanup_free_ char *path = NULL;

        if (asprintf(&path, "/containers/ballast-%s/wait?condition=removed", vc->name) < 0)
                return -ENOMEM;
        vc->waited = true;
        vc->pending = 1;
        if (docker_call_full(vc->supervisor->docker, "POST", path, NULL, 60000, on_container_gone, volumes_destroy,
                             vc) < 0) {
                vc->pending = 0;
                return -EIO;
        }
        return 0;
}

static void on_container_gone(Docker *d, int error, long status, json_t *reply, void *userdata) {
        VolumesContext *vc = userdata;
        _cleanup_free_ char *path = NULL;

        vc->pending = 0;
        /* 409: a removal already in progress (ballast-run's own, or the sweep of a unit gone): wait for it */
        if (error >= 0 && status == 409 && !vc->waited && container_wait_removed(vc) >= 0)
                return;
        if (error < 0 || (status != 204 && status != 404 && !(vc->waited && status == 200))) {
                /* the volumes are in use while it exists: Docker would refuse them */
                volumes_fail(vc, "the container ballast-%s could not be removed (%s)", vc->name,
                             error < 0 ? strerror(-error) : strna(json_string_value(json_object_get(reply, "message"))));
                volumes_finish(vc);
                return;
        }
        /* GET /volumes?filters={"label":["io.ballast.service=NAME"]} */
        if (asprintf(&path, "/volumes?filters=%%7B%%22label%%22%%3A%%5B%%22" LABEL_SERVICE "%%3D%s%%22%%5D%%7D",
                     vc->name) < 0) {
                volumes_fail(vc, "out of memory");
                volumes_finish(vc);
                return;
        }
        vc->pending = 1;
        if (docker_call_full(vc->supervisor->docker, "GET", path, NULL, 30000, on_volumes_listed, volumes_destroy,
                             vc) < 0) {
                volumes_fail(vc, "cannot ask Docker for them");
                volumes_finish(vc);
        }
}

/* Removes the container ballast-NAME (and its network holder), then the volumes labelled
 * io.ballast.service=NAME. done gets the names of the volumes removed and the first failure (NULL: none);
 * destroy gets userdata instead when ballastd exits first. Returns 0, or a negative errno when nothing was
 * started (done is not called then). */
int remove_service_volumes(Supervisor *s, const char *name, VolumesDoneFunc done, DockerDestroyFunc destroy,
                           void *userdata) {
        _cleanup_free_ char *path = NULL, *holder = NULL;
        VolumesContext *vc;

        if (!docker_is_up(s->docker))
                return -EHOSTDOWN;
        if (asprintf(&path, "/containers/ballast-%s?force=1", name) < 0 ||
            asprintf(&holder, "/containers/ballast-%s" HOLDER_SUFFIX "?force=1", name) < 0)
                return -ENOMEM;
        vc = calloc(1, sizeof(VolumesContext));
        if (!vc)
                return -ENOMEM;
        *vc = (VolumesContext) { .supervisor = s, .name = strdup(name), .removed = json_array(), .done = done,
                                 .destroy = destroy, .userdata = userdata, .pending = 1 };
        if (!vc->name || !vc->removed) {
                volumes_context_free(vc);
                return -ENOMEM;
        }
        (void) docker_call(s->docker, "DELETE", holder, NULL, 30000, NULL, NULL);
        if (docker_call_full(s->docker, "DELETE", path, NULL, 30000, on_container_gone, volumes_destroy, vc) < 0) {
                volumes_context_free(vc);
                return -EIO;
        }
        return 0;
}
