/* SPDX-License-Identifier: MIT */
/* The network holder. A container's network (namespace, veth on the bridge, NAT rules, the userland proxy of each
 * published port) is set up by Docker at every start and torn down at every exit, and Docker holds the container's
 * lock while it tears it down: the exit wait answers, and the next start begins, only after that (about 100 ms
 * here), and the setup is most of a start (about 210 ms against 75 ms without it). So, as a Kubernetes pod's
 * sandbox does, the network belongs to a second container that lives across the service's restarts: the holder
 * "ballast-NAME.net", running only ballast-pause (image ballast/pause:VERSION, imported from the binary installed
 * beside ballast-run), publishes the service's ports; the service's container joins its namespace (NetworkMode
 * container:ID) and publishes nothing itself. Health checks, ports and outbound traffic are as before; a crash of
 * the service restarts only its process. The holder's body (--net-body) is written by ballastd (units.c,
 * container_holder_body()); it carries io.ballast.netns=NAME, not io.ballast.service, so ballastd's event stream
 * never mistakes it for the service. The holder is stopped with the service (a stop, or an exit after which systemd
 * does not restart the unit: --restart), and when it dies under a running service, the service's container is
 * stopped too and the unit fails (125), so systemd restarts both. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run/run.h"
#include "shared/fileio.h"
#include "shared/holder.h"
#include "shared/json-util.h"
#include "shared/log.h"
#include "shared/macro.h"


#define PAUSE_MAX (16U * 1024U * 1024U)

/* Makes the service's body join the holder holder_id (shared/holder.c). */
int body_join_holder(Body *b, const char *holder_id) {
        _cleanup_json_ json_t *v = NULL;
        char *text, *mode = NULL;
        int r;

        v = json_loads(b->text, 0, NULL);
        if (!v)
                return log_error_errno(-ENOMEM, "Out of memory");
        r = holder_join_body(v, holder_id, &mode);
        if (r < 0)
                return log_error_errno(r, "Cannot join the network holder: %m");
        text = json_dumps(v, JSON_COMPACT);
        if (!text) {
                free(mode);
                return log_error_errno(-ENOMEM, "Out of memory");
        }
        free(b->text);
        b->text = text;
        free(b->network_mode);
        b->network_mode = mode;
        return 0;
}

/* A tar archive (ustar) of one executable file at the root: what POST /images/create?fromSrc=- imports. */
static int tar_one_file(const char *name, const char *data, size_t size, char **ret, size_t *ret_size) {
        size_t total = 512 + (size + 511) / 512 * 512 + 1024;
        unsigned sum = 0;
        char *t;

        if (strlen(name) >= 100 || size > 077777777777ULL)
                return -EINVAL;
        t = calloc(1, total);
        if (!t)
                return -ENOMEM;
        memcpy(t, name, strlen(name));               /* name */
        memcpy(t + 100, "0000755", 8);               /* mode */
        memcpy(t + 108, "0000000", 8);               /* uid */
        memcpy(t + 116, "0000000", 8);               /* gid */
        snprintf(t + 124, 12, "%011llo", (unsigned long long) size);
        memcpy(t + 136, "00000000000", 12);          /* mtime */
        memset(t + 148, ' ', 8);                     /* the checksum counts itself as spaces */
        t[156] = '0';                                /* a regular file */
        memcpy(t + 257, "ustar", 6);                 /* magic, NUL-terminated */
        memcpy(t + 263, "00", 2);                    /* version */
        for (size_t i = 0; i < 512; i++)
                sum += (unsigned char) t[i];
        snprintf(t + 148, 8, "%06o", sum);           /* six digits, NUL, and the space already there */
        t[155] = ' ';
        memcpy(t + 512, data, size);
        *ret = t;
        *ret_size = total;
        return 0;
}

/* The pause binary: --pause, else ballast-pause beside this program. */
static char *pause_path(void) {
        char buf[4096], *slash;
        ssize_t n;

        if (arg_pause)
                return strdup(arg_pause);
        n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
        if (n <= 0)
                return strdup(LIBEXECDIR "/ballast-pause");
        buf[n] = 0;
        slash = strrchr(buf, '/');
        if (!slash)
                return strdup(LIBEXECDIR "/ballast-pause");
        *slash = 0;
        return path_join(buf, "ballast-pause");
}

/* Imports ballast/pause:VERSION from the pause binary (once per node and version). */
int docker_import_pause(Docker *d) {
        _cleanup_request_ Request *req = NULL;
        _cleanup_free_ char *path = NULL, *bin = NULL, *tar = NULL;
        _cleanup_json_ json_t *last = NULL;
        size_t size, tar_size;
        const char *e;
        char msg[512];
        int r;

        path = pause_path();
        if (!path)
                return log_error_errno(-ENOMEM, "Out of memory");
        r = read_full_file(path, PAUSE_MAX, &bin, &size);
        if (r < 0)
                return log_error_errno(r, "Cannot read %s (the network holder's program, installed with ballast-run): %m",
                                       path);
        r = tar_one_file("pause", bin, size, &tar, &tar_size);
        if (r < 0)
                return log_error_errno(r, "Cannot pack %s: %m", path);

        log_notice("Importing the image %s from %s", PAUSE_IMAGE, path);
        r = request_new_full(d, "POST", "/images/create?fromSrc=-&repo=" PAUSE_REPO "&tag=" PACKAGE_VERSION, tar,
                             tar_size, "application/x-tar", 60 * 1000, &req);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the import: %m");
        r = docker_perform(d, req, true);
        if (r < 0)
                return log_transport_failure(r, "import");
        if (req->status != 200)
                return log_error_errno(-EIO, "Cannot import %s: %s", PAUSE_IMAGE, request_message(req, msg, sizeof(msg)));
        e = progress_error(req, &last);
        if (e)
                return log_error_errno(-EIO, "Cannot import %s: %s", PAUSE_IMAGE, e);
        return 0;
}

/* Makes the holder run (creating or replacing it as needed) and returns its ID. The fast path, a holder
 * that runs with the same ports, is one inspect. */
int holder_ensure(Docker *d, const Body *h, const char *hname, char **ret_id) {
        _cleanup_request_ Request *start = NULL;
        _cleanup_free_ char *id = NULL, *path = NULL;
        bool running = false;
        char msg[512];
        int r;

        r = container_prepare(d, h, hname, true, &id, &running, &(bool) { false });
        if (r < 0)
                return r;
        if (!running) {
                if (asprintf(&path, "/containers/%s/start", id) < 0)
                        return log_error_errno(-ENOMEM, "Out of memory");
                r = docker_call(d, "POST", path, NULL, 120 * 1000, false, &start);
                if (r < 0)
                        return log_transport_failure(r, "start of the network holder");
                if (start->status != 204 && start->status != 304)
                        return log_error_errno(-EIO, "Cannot start the network holder %s: %s", short_id(id),
                                               request_message(start, msg, sizeof(msg)));
                log_info("Network holder %s (%s) started", short_id(id), hname);
        }
        *ret_id = TAKE_PTR(id);
        return 0;
}

/* Whether systemd restarts the unit after we exit with code (its Restart=, from --restart). */
bool restart_follows(int code) {
        switch (arg_restart) {
        case RESTART_NO:
                return false;
        case RESTART_ON_FAILURE:
                return code != EXIT_SUCCESS;
        default: /* always, or not said: keep the network for the next start */
                return true;
        }
}

/* Stops the holder when the service goes down for good (a stop, or an exit that systemd will not restart):
 * its ports must not outlive the service. Its pause process exits at SIGTERM, hence the short timeout.
 * Works before the version is negotiated too (unversioned paths). */
void holder_release(Docker *d, const char *holder) {
        if (holder)
                (void) container_stop_as(d, holder, 2, "network holder");
}

/* Whether Docker says the holder runs (a broken wait is not a dead holder). */
bool holder_still_runs(Docker *d, const char *holder) {
        _cleanup_request_ Request *req = NULL;
        _cleanup_free_ char *path = NULL;
        _cleanup_json_ json_t *v = NULL;

        if (asprintf(&path, "/containers/%s/json", holder) < 0 ||
            docker_call(d, "GET", path, NULL, 10 * 1000, false, &req) < 0 || req->status != 200)
                return false;
        v = request_json(req);
        return json_is_true(json_object_get(json_object_get(v, "State"), "Running"));
}
