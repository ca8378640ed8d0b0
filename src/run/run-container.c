/* SPDX-License-Identifier: MIT */
/* The service's container: its body (the JSON of POST /containers/create, written by ballastd), pulling its
 * image, finding, reusing, replacing or creating it, starting it without missing an exit, stopping it, and
 * supervising it until it exits or is stopped. */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "run/run.h"
#include "shared/fileio.h"
#include "shared/holder.h"
#include "shared/json-util.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/time-util.h"

typedef enum ContainerAction {
        ACTION_CREATE,  /* none there: create it */
        ACTION_REUSE,   /* ours, same spec, stopped: just start it again (the fast path) */
        ACTION_RUNNING, /* ours, same spec, running, and a running one may be kept (the network holder) */
        ACTION_REPLACE, /* another spec, or running (a leftover of a run we lost track of), or in a state we
                         * can't start from: remove it and create a new one */
} ContainerAction;

/* What to do with the container of our name that Docker has (exists=false: none). hash: its
 * io.ballast.hash label (NULL: none); status: its State.Status; same_network: its NetworkMode is the one the
 * body asks for (Docker resolves "container:NAME" to the holder's ID at create time, so a container joined
 * to a holder that has since been replaced cannot start); keep_running: a running one is what we want. */
static ContainerAction container_action(bool exists, const char *hash, const char *status, bool running,
                                        const char *want_hash, bool same_network, bool keep_running) {
        if (!exists)
                return ACTION_CREATE;
        /* Without a hash in the body we cannot tell whether the old one is what the spec asks for: replace. */
        if (!want_hash || !hash || !streq(hash, want_hash) || !same_network)
                return ACTION_REPLACE;
        /* A running one of the same spec: the network holder, or the container of a previous run of ours
         * that was killed (SIGKILL, OOM) under it. It is taken over as it runs: the start opens the
         * next-exit wait first and then asks for a start (304, or a real start if it exited meanwhile), so
         * no exit is missed, and the service keeps serving while its helper is replaced. */
        if (keep_running && running && status && streq(status, "running"))
                return ACTION_RUNNING;
        /* Running but not to be kept (a start that must be fresh): start clean. "paused", "restarting",
         * "removing" and "dead" are not states `start` brings back reliably either. */
        if (running || !status || !(streq(status, "created") || streq(status, "exited")))
                return ACTION_REPLACE;
        return ACTION_REUSE;
}


void body_done(Body *b) {
        free(b->text);
        free(b->hash);
        free(b->image);
        free(b->network_mode);
        *b = (Body) {};
}

static const char *body_what(const Body *b) {
        return b->holder ? "network holder" : "container";
}

int body_load(const char *path, Body *ret) {
        _cleanup_free_ char *text = NULL;
        _cleanup_json_ json_t *v = NULL;
        json_error_t err;
        const char *hash, *image, *mode;
        size_t size;
        int r;

        r = read_full_file(path, BODY_MAX, &text, &size);
        if (r == -ENOENT)
                return log_error_errno(r, "Container body %s does not exist (ballastd writes it when the service is "
                                          "applied)", path);
        if (r < 0)
                return log_error_errno(r, "Cannot read container body %s: %m", path);
        v = json_loadb(text, size, 0, &err);
        if (!v)
                return log_error_errno(-EBADMSG, "%s:%d:%d: not JSON: %s", path, err.line, err.column, err.text);
        if (!json_is_object(v))
                return log_error_errno(-EBADMSG, "%s: not a JSON object", path);
        image = json_string_value(json_object_get(v, "Image"));
        if (isempty(image))
                return log_error_errno(-EBADMSG, "%s: no \"Image\"", path);
        hash = json_string_value(json_object_get(json_object_get(v, "Labels"), HASH_LABEL));
        if (!hash)
                log_warning("%s has no %s label: the container is recreated on every start", path, HASH_LABEL);
        /* as Docker reports it: "default" when the body says nothing (a container that joined a holder is
         * not one to reuse for a body that does not) */
        mode = json_string_value(json_object_get(json_object_get(v, "HostConfig"), "NetworkMode"));

        *ret = (Body) {
                .text = TAKE_PTR(text),
                .hash = hash ? strdup(hash) : NULL,
                .image = strdup(image),
                .network_mode = strdup(isempty(mode) ? "default" : mode),
        };
        ret->tty = json_is_true(json_object_get(v, "Tty"));
        if ((hash && !ret->hash) || !ret->image || !ret->network_mode) {
                body_done(ret);
                return log_error_errno(-ENOMEM, "Out of memory");
        }
        return 0;
}

/* mode (what Docker says of a container's network) is the one the body asks for (want; NULL: any). A container
 * created without a network mode is reported as "default" by Docker before 25, as "bridge" from 25 on (API 1.44):
 * the same network, so the network holder is kept either way rather than replaced on every restart. */
static bool network_mode_is_default(const char *mode) {
        return streq(mode, "default") || streq(mode, "bridge");
}

static bool network_mode_same(const char *mode, const char *want) {
        if (!want)
                return true;
        if (!mode)
                return false;
        return streq(mode, want) || (network_mode_is_default(mode) && network_mode_is_default(want));
}

/* Removes the container id that is in the way (hash, status, mode: what Docker says of it, for the message).
 * Returns 0 when it is gone, 1 when its removal is already in progress (look again), or a negative errno. */
static int container_remove(Docker *d, const Body *b, const char *id, const char *hash, const char *status,
                            const char *mode) {
        _cleanup_request_ Request *rm = NULL;
        _cleanup_free_ char *rmpath = NULL;
        char msg[512];
        int r;

        if (hash && b->hash && streq(hash, b->hash) && network_mode_same(mode, b->network_mode))
                log_notice("Removing the leftover %s %s (%s)", body_what(b), short_id(id), strna(status));
        else if (hash && b->hash && streq(hash, b->hash))
                log_notice("Replacing the %s %s (%s): it joined another network holder", body_what(b),
                           short_id(id), strna(status));
        else
                log_notice("Replacing the %s %s (%s): its spec changed", body_what(b), short_id(id),
                           strna(status));
        /* v=1: anonymous volumes go with the container, as with `docker run --rm`. */
        if (asprintf(&rmpath, "/containers/%s?force=1&v=1", id) < 0)
                return log_error_errno(-ENOMEM, "Out of memory");
        r = docker_call(d, "DELETE", rmpath, NULL, 60 * 1000, true, &rm);
        if (r < 0)
                return log_transport_failure(r, "remove");
        if (rm->status == 409) { /* a removal in progress: look again shortly */
                r = sleep_interruptible(d->signal_fd, 200);
                return r < 0 ? r : 1;
        }
        if (rm->status != 204 && rm->status != 404)
                return log_error_errno(-EIO, "Cannot remove the container %s: %s", short_id(id),
                                       request_message(rm, msg, sizeof(msg)));
        return 0;
}

/* Creates the container cname from the body. Returns 0 with its ID, 1 to look again (the name is taken again,
 * or the image was missing and is there now: *pulled), or a negative errno. */
static int container_create(Docker *d, const Body *b, const char *cname, bool *pulled, char **ret_id) {
        _cleanup_request_ Request *cr = NULL;
        _cleanup_free_ char *crpath = NULL;
        _cleanup_json_ json_t *cv = NULL;
        const char *newid;
        json_t *warnings;
        char msg[512];
        int r;

        if (asprintf(&crpath, "/containers/create?name=%s", cname) < 0)
                return log_error_errno(-ENOMEM, "Out of memory");
        r = docker_call(d, "POST", crpath, b->text, 0, true, &cr);
        if (r < 0)
                return log_transport_failure(r, "create");
        if (cr->status == 409) /* the name is taken again (a concurrent start): look again */
                return 1;
        if (cr->status == 404 && !*pulled) { /* no such image */
                if (!b->holder && arg_pull == RUN_PULL_NEVER)
                        return log_error_errno(-ENOENT, "Image %s is not here, and the spec says pull: never",
                                               b->image);
                if (!b->holder)
                        log_notice("Image %s is not here", b->image);
                r = b->holder && streq(b->image, PAUSE_IMAGE) ? docker_import_pause(d) : image_pull(d, b->image);
                if (r < 0)
                        return r;
                *pulled = true;
                return 1;
        }
        if (cr->status != 201)
                return log_error_errno(-EIO, "Cannot create the container %s: %s", cname,
                                       request_message(cr, msg, sizeof(msg)));
        cv = request_json(cr);
        newid = json_string_value(json_object_get(cv, "Id"));
        if (!newid)
                return log_error_errno(-EPROTO, "Docker's create answer has no Id");
        warnings = json_object_get(cv, "Warnings");
        for (size_t i = 0; i < json_array_size(warnings); i++)
                log_warning("Docker: %s", strna(json_string_value(json_array_get(warnings, i))));
        log_info("Created the %s %s from %s", body_what(b), short_id(newid), b->image);
        *ret_id = strdup(newid);
        return *ret_id ? 0 : log_error_errno(-ENOMEM, "Out of memory");
}

/* pull: always: the image pulled, and its id (NULL: none here) in *ret_image. A failed pull with the image
 * here is a warning; without it, the error. */
static int image_pull_always(Docker *d, const Body *b, char **ret_image) {
        _cleanup_free_ char *image = NULL;
        int k = image_pull(d, b->image), r;

        if (k == -EINTR)
                return k;
        r = image_id(d, b->image, &image);
        if (r < 0)
                return r;
        if (k < 0 && !image)
                return k;
        if (k < 0)
                log_warning("Starting %s with the image %s that is here (%s)", arg_name, b->image,
                            short_id(image + (strneq(image, "sha256:", 7) ? 7 : 0)));
        *ret_image = TAKE_PTR(image);
        return 0;
}

/* Finds, reuses, replaces or creates the container cname so that it matches the body; returns its ID, whether
 * it already runs (only the holder's may: b->holder), and whether it is one that existed (reused or running).
 * allow_reuse false: a stopped container that matches is replaced too. The loop covers the races of a name that
 * someone else creates or removes at the same time. */
int container_prepare(Docker *d, const Body *b, const char *cname, bool allow_reuse, char **ret_id,
                      bool *ret_running, bool *ret_reused) {
        _cleanup_free_ char *want_image = NULL;
        bool pulled = false;
        char msg[512];
        int r;

        /* pull: always: the image first, and a container made from another image (a moved tag) is replaced.
         * A registry that cannot be reached does not keep a service down whose image is here: that one
         * runs, said as a warning. */
        if (!b->holder && arg_pull == RUN_PULL_ALWAYS) {
                r = image_pull_always(d, b, &want_image);
                if (r < 0)
                        return r;
                pulled = true;
        }

        for (unsigned attempt = 0; attempt < 5; attempt++) {
                _cleanup_request_ Request *req = NULL;
                _cleanup_json_ json_t *v = NULL;
                _cleanup_free_ char *path = NULL;
                const char *id, *hash, *status, *mode = NULL;
                bool running;
                ContainerAction action;

                if (asprintf(&path, "/containers/%s/json", cname) < 0)
                        return log_error_errno(-ENOMEM, "Out of memory");
                r = docker_call(d, "GET", path, NULL, 30 * 1000, true, &req);
                if (r < 0)
                        return log_transport_failure(r, "inspect");
                if (req->status == 200) {
                        v = request_json(req);
                        id = json_string_value(json_object_get(v, "Id"));
                        if (!id)
                                return log_error_errno(-EPROTO, "Docker's inspect of %s has no Id", cname);
                        hash = json_string_value(
                                json_object_get(json_object_get(json_object_get(v, "Config"), "Labels"), HASH_LABEL));
                        status = json_string_value(json_object_get(json_object_get(v, "State"), "Status"));
                        running = json_is_true(json_object_get(json_object_get(v, "State"), "Running"));
                        mode = json_string_value(json_object_get(json_object_get(v, "HostConfig"), "NetworkMode"));
                        action = container_action(true, hash, status, running, b->hash,
                                                  network_mode_same(mode, b->network_mode),
                                                  b->holder || allow_reuse);
                        if (action == ACTION_REUSE && !allow_reuse)
                                action = ACTION_REPLACE;
                        if ((action == ACTION_REUSE || action == ACTION_RUNNING) && want_image &&
                            !streq_ptr(json_string_value(json_object_get(v, "Image")), want_image)) {
                                log_notice("The %s container %s was made from another image than %s has now",
                                           strna(status), short_id(id), b->image);
                                action = ACTION_REPLACE;
                        }
                } else if (req->status == 404) {
                        id = hash = status = NULL;
                        action = container_action(false, NULL, NULL, false, b->hash, true, b->holder);
                } else
                        return log_error_errno(-EIO, "Cannot inspect %s: %s", cname, request_message(req, msg, sizeof(msg)));

                if (action == ACTION_REUSE || action == ACTION_RUNNING) {
                        if (action == ACTION_REUSE)
                                log_info("Reusing the stopped %s %s (%s, same spec)", body_what(b), short_id(id), status);
                        else if (!b->holder)
                                log_notice("Taking over the running container %s (same spec; its previous helper "
                                           "is gone)", short_id(id));
                        *ret_running = action == ACTION_RUNNING;
                        *ret_id = strdup(id);
                        *ret_reused = true;
                        return *ret_id ? 0 : log_error_errno(-ENOMEM, "Out of memory");
                }
                if (action == ACTION_REPLACE) {
                        r = container_remove(d, b, id, hash, status, mode);
                        if (r < 0)
                                return r;
                        if (r > 0)
                                continue;
                }
                r = container_create(d, b, cname, &pulled, ret_id);
                if (r < 0)
                        return r;
                if (r > 0)
                        continue;
                *ret_running = false;
                *ret_reused = false;
                return 0;
        }
        return log_error_errno(-EBUSY, "The container name %s keeps changing hands, giving up", cname);
}

/* Opens the exit wait and starts the container, in the order that cannot miss an exit.
 *
 * With API ≥ 1.30 the wait is opened *before* the start, with condition=next-exit, and the start is sent
 * only once Docker has answered the wait's headers: Docker registers the waiter first and then flushes the
 * headers, so from that moment any exit (even one a millisecond after the start) completes our wait. The
 * other orders race: not-running before the start returns at once (the container is not running yet), and
 * next-exit after the start misses a container that dies before the wait is registered. (`docker run`
 * does the same.)
 *
 * Older APIs only have the plain wait, which means not-running: it must come after the start, and it
 * returns at once with the exit code if the container already died in between, so nothing is lost either;
 * only an exit *and* a restart by someone else in between could hide, and nobody else restarts ours. */
int container_start(Docker *d, const char *id, Output *out, bool tty, Request **ret_wait) {
        _cleanup_request_ Request *wait = NULL, *start = NULL;
        _cleanup_free_ char *wpath = NULL, *spath = NULL;
        bool next_exit = d->minor >= API_NEXT_EXIT_MINOR;
        char msg[512];
        int r;

        if (asprintf(&wpath, "/containers/%s/wait%s", id, next_exit ? "?condition=next-exit" : "") < 0 ||
            asprintf(&spath, "/containers/%s/start", id) < 0)
                return log_error_errno(-ENOMEM, "Out of memory");
        r = request_new(d, "POST", wpath, NULL, 0, &wait);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the wait: %m");

        if (next_exit) {
                uint64_t deadline = now_usec(CLOCK_MONOTONIC) + 30 * USEC_PER_SEC;

                r = request_add(d, wait);
                if (r < 0)
                        return r;
                while (!wait->headers_done && !wait->done) {
                        struct curl_waitfd w = { .fd = d->signal_fd, .events = CURL_WAIT_POLLIN };

                        r = docker_pump(d, &w, 1, 1000);
                        if (r < 0)
                                return r;
                        if (w.revents & CURL_WAIT_POLLIN)
                                return -EINTR;
                        if (now_usec(CLOCK_MONOTONIC) > deadline)
                                return log_error_errno(-ETIMEDOUT, "Docker did not open the wait for %s within 30 s",
                                                       short_id(id));
                }
                if (wait->done) {
                        r = request_result_errno(wait);
                        if (r < 0)
                                return log_error_errno(r, "Cannot wait for the container %s: %s", short_id(id),
                                                       request_error(wait));
                        return log_error_errno(-EIO, "Cannot wait for the container %s: %s", short_id(id),
                                               request_message(wait, msg, sizeof(msg)));
                }
                if (wait->status != 200)
                        return log_error_errno(-EIO, "Cannot wait for the container %s: HTTP status %ld", short_id(id),
                                               wait->status);
        }

        /* The output's attach, answered before the start: the container's first line is in the journal too. */
        if (output_attach(d, out, id, tty) >= 0) {
                r = output_wait_open(d, out, 10 * 1000);
                if (r < 0)
                        return r;
        }

        /* Not interruptible: Docker would go on starting it anyway; a SIGTERM is handled right after, by
         * stopping the container we know is there. */
        r = docker_call(d, "POST", spath, NULL, 120 * 1000, false, &start);
        if (r < 0)
                return log_transport_failure(r, "start");
        if (start->status != 204 && start->status != 304)
                return log_error_errno(-EIO, "Cannot start the container %s: %s", short_id(id),
                                       request_message(start, msg, sizeof(msg)));

        if (!next_exit) {
                r = request_add(d, wait);
                if (r < 0)
                        return r;
        }
        *ret_wait = TAKE_PTR(wait);
        return 0;
}

/* POST /containers/ID/stop?t=TIMEOUT, bounded by TIMEOUT + 5 s. Not interruptible. what: for messages. */
int container_stop_as(Docker *d, const char *id, unsigned timeout_s, const char *what) {
        _cleanup_request_ Request *req = NULL;
        _cleanup_free_ char *path = NULL;
        char msg[512];
        int r;

        if (asprintf(&path, "/containers/%s/stop?t=%u", id, timeout_s) < 0)
                return log_error_errno(-ENOMEM, "Out of memory");
        r = docker_call(d, "POST", path, NULL, ((uint64_t) timeout_s + 5) * 1000, false, &req);
        if (r < 0)
                return log_error_errno(r, "Cannot stop the %s %s: %s", what, short_id(id),
                                       r == -ETIMEDOUT ? "Docker did not answer in time" : "Docker did not answer");
        if (req->status == 204 || req->status == 304 || req->status == 404) {
                log_info("%s %s stopped", streq(what, "container") ? "Container" : "Network holder", short_id(id));
                return 0;
        }
        return log_error_errno(-EIO, "Cannot stop the %s %s: %s", what, short_id(id),
                               request_message(req, msg, sizeof(msg)));
}

static int container_stop(Docker *d, const char *id) {
        return container_stop_as(d, id, arg_stop_timeout_s, "container");
}

/* The container's exit code from the wait's answer {"StatusCode": N, "Error": {"Message": …}}; Docker
 * already reports signals as 128+N (137 after SIGKILL). */
static int wait_exit_code(Request *wait, const char *id) {
        _cleanup_json_ json_t *v = NULL;
        const char *err;
        char msg[512];
        json_int_t code;
        int r;

        r = request_result_errno(wait);
        if (r < 0) {
                log_error_errno(r, "Lost the connection to Docker while waiting for the container %s (dockerd stopped "
                                   "or restarted?): %s", short_id(id), request_error(wait));
                return EXIT_DOCKER;
        }
        if (wait->status != 200) {
                log_error("Waiting for the container %s failed: %s", short_id(id), request_message(wait, msg, sizeof(msg)));
                return EXIT_DOCKER;
        }
        v = request_json(wait);
        if (!json_is_integer(json_object_get(v, "StatusCode"))) {
                log_error("Docker's wait answer has no StatusCode: %s", strna(wait->data));
                return EXIT_DOCKER;
        }
        code = json_integer_value(json_object_get(v, "StatusCode"));
        err = json_string_value(json_object_get(json_object_get(v, "Error"), "Message"));
        if (err && err[0])
                log_warning("Docker reports for the container %s: %s", short_id(id), err);
        if (code < 0 || code > 255)
                code = 255;
        return (int) code;
}


static const char *signal_name(int sig) {
        return sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "a signal";
}

/* Opens the plain wait (not-running) on the holder: a holder that died since we saw it running answers at once. */
static int holder_wait_open(Docker *d, const char *hpath, Request **ret) {
        int r;

        r = request_new(d, "POST", hpath, NULL, 0, ret);
        if (r >= 0)
                r = request_add(d, *ret);
        if (r < 0)
                return log_error_errno(r, "Cannot wait for the network holder: %m");
        return 0;
}

/* Asks ballastd for the first health check, unless there is no ballastd to ask (--control-socket ""), or the
 * question cannot be asked: then the service is ready at once. Returns whether it is. */
static bool readiness_begin(Readiness *rd, const char *id, uint64_t *ret_deadline) {
        *ret_deadline = 0;
        if (isempty(arg_control_socket) || readiness_start(rd, arg_control_socket, arg_name) < 0) {
                (void) sd_notifyf(false, "READY=1\nSTATUS=container %s running (health not checked)", short_id(id));
                return true;
        }
        (void) sd_notifyf(false, "STATUS=container %s started, waiting for first health check", short_id(id));
        if (arg_ready_timeout_ms > 0)
                *ret_deadline = now_usec(CLOCK_MONOTONIC) + arg_ready_timeout_ms * USEC_PER_MSEC;
        return false;
}

/* The readiness answer in rd->buf: returns 1 with *ret_exit when the container was stopped (the first health
 * check failed), 0 when the service is ready. */
static int readiness_verdict(Docker *d, const Readiness *rd, const char *id, int *ret_exit) {
        const char *text = strchr(rd->buf, '\t');

        text = text ? text + 1 : "";
        if (strneq(rd->buf, "unhealthy\t", 10)) {
                log_event(LOG_ERR, 0, "unhealthy", arg_name, BALLAST_MESSAGE_SERVICE_UNHEALTHY,
                          "The first health check of %s failed: %s; stopping the container", arg_name, text);
                (void) sd_notifyf(false, "STATUS=first health check failed: %s", text);
                (void) container_stop(d, id);
                *ret_exit = EXIT_FAILURE;
                return 1;
        }
        if (strneq(rd->buf, "ready\t", 6)) {
                log_info("First health check of %s passed, ready", arg_name);
                (void) sd_notifyf(false, "READY=1\nSTATUS=container %s running, healthy", short_id(id));
        } else if (strneq(rd->buf, "nosuch\t", 7)) {
                log_notice("ballastd does not know the service %s; ready without a health check", arg_name);
                (void) sd_notifyf(false, "READY=1\nSTATUS=container %s running (unknown to ballastd)", short_id(id));
        } else if (strneq(rd->buf, "unreachable\t", 12)) {
                /* Workloads run without ballastd (a reboot where it does not start, an upgrade). */
                log_notice("ballastd is unreachable (%s): ready, health not checked", text);
                (void) sd_notifyf(false, "READY=1\nSTATUS=container %s running; ballastd unreachable, "
                                  "health not checked", short_id(id));
        } else {
                log_warning("ballastd answered %s; ready, health not checked", rd->buf);
                (void) sd_notifyf(false, "READY=1\nSTATUS=container %s running; health not checked", short_id(id));
        }
        return 0;
}

/* SIGTERM/SIGINT (pending on the signalfd): stops the container. */
static void supervise_stop_by_signal(Docker *d, const char *id) {
        struct signalfd_siginfo si = {};

        (void) !read(d->signal_fd, &si, sizeof(si));
        log_info("Received %s, stopping the container %s", signal_name((int) si.ssi_signo), short_id(id));
        (void) sd_notifyf(false, "STOPPING=1\nSTATUS=stopping container %s", short_id(id));
        (void) container_stop(d, id);
}

/* The wait answered: the container's exit code, said in the journal and to systemd when the wait is sound. */
static int supervise_exited(Request *wait, const char *id, bool ready) {
        int code = wait_exit_code(wait, id);

        if (request_result_errno(wait) == 0 && wait->status == 200) {
                log_event(code == 0 ? LOG_INFO : LOG_WARNING, 0, "container-exited", arg_name, NULL,
                          "Container %s exited with code %d%s", short_id(id), code,
                          ready ? "" : " before it became ready");
                (void) sd_notifyf(false, "STATUS=container %s exited with code %d", short_id(id), code);
        }
        return code;
}

/* The holder's wait answered: 0 when the holder still runs and its wait is open again (bounded by *reopens: a
 * wait that keeps ending at once is not one to trust), 1 with *ret_exit when it went away and the container was
 * stopped, or a negative errno. */
static int supervise_holder_ended(Docker *d, const char *id, const char *holder, const char *hpath,
                                  Request **hwait, unsigned *reopens, Readiness *rd, int *ret_exit) {
        if (holder_still_runs(d, holder) && (*reopens)++ < 3) {
                *hwait = request_free(*hwait);
                return holder_wait_open(d, hpath, hwait);
        }
        readiness_stop(rd);
        log_event(LOG_ERR, 0, "holder-exited", arg_name, NULL,
                  "The network holder %.12s of %s went away; stopping the container %.12s", holder, arg_name, id);
        (void) sd_notify(false, "STATUS=network holder gone");
        /* Its network went with the holder: its connections are broken already and nothing can reach it, so
         * it is ended as after a crash, without the stop timeout's grace (t=0: the stop signal, then SIGKILL),
         * which would only add to the outage (10 s by default, for a PID 1 that ignores SIGTERM). */
        (void) container_stop_as(d, id, 0, "container");
        *ret_exit = EXIT_DOCKER;
        return 1;
}

/* No verdict within --ready-timeout: stops the container. */
static int supervise_ready_timeout(Docker *d, const char *id) {
        log_event(LOG_ERR, 0, "ready-timeout", arg_name, BALLAST_MESSAGE_SERVICE_FAILED,
                  "No health verdict for %s within %" PRIu64 " ms; stopping the container", arg_name,
                  arg_ready_timeout_ms);
        (void) sd_notify(false, "STATUS=no health verdict in time");
        (void) container_stop(d, id);
        return EXIT_FAILURE;
}

/* The attach ended: whether the wait answers within OUTPUT_DRAIN_MS (the container exited), pumping meanwhile. */
static bool supervise_wait_settles(Docker *d, Request *wait) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + OUTPUT_DRAIN_MS * USEC_PER_MSEC;

        while (!wait->done && now_usec(CLOCK_MONOTONIC) < deadline) {
                struct curl_waitfd w = { .fd = d->signal_fd, .events = CURL_WAIT_POLLIN };

                if (docker_pump(d, &w, 1, 50) < 0 || (w.revents & CURL_WAIT_POLLIN))
                        break;
        }
        return wait->done;
}

/* How long one turn of the loop may wait: until the readiness deadline, at most a minute. */
static int supervise_timeout_ms(uint64_t deadline) {
        uint64_t now;

        if (!deadline)
                return 60 * 1000;
        now = now_usec(CLOCK_MONOTONIC);
        return now >= deadline ? 0 : (int) MIN((deadline - now + 999) / 1000, (uint64_t) 60 * 1000);
}

/* After the start: one loop over the wait (the container's exit), the holder's wait, SIGTERM/SIGINT and the
 * readiness answer, until one of them ends it; *ret_exit is then what to exit with: the container's exit code
 * when it exited, 0 after a stop by signal (*ret_stopped), 1 when it was stopped because it never became
 * healthy, 125 when the network holder went away under it (the container would run without its ports). */
int container_supervise(Docker *d, const char *id, Request *wait, const char *holder, Output *out,
                        int *ret_exit, bool *ret_stopped) {
        _cleanup_request_ Request *hwait = NULL;
        _cleanup_free_ char *hpath = NULL;
        Readiness rd = { .fd = -1 };
        unsigned hwait_reopens = 0;
        uint64_t deadline;
        bool ready;
        int r;

        *ret_stopped = false;
        if (holder) {
                if (asprintf(&hpath, "/containers/%s/wait", holder) < 0)
                        return log_error_errno(-ENOMEM, "Out of memory");
                r = holder_wait_open(d, hpath, &hwait);
                if (r < 0)
                        return r;
        }
        ready = readiness_begin(&rd, id, &deadline);

        for (r = 0; r == 0;) {
                struct curl_waitfd w[2] = {
                        { .fd = d->signal_fd, .events = CURL_WAIT_POLLIN },
                        { .fd = rd.fd, .events = CURL_WAIT_POLLIN },
                };

                /* an answer that came in while another step pumped wakes nothing: do not sleep on it */
                r = docker_pump(d, w, rd.fd >= 0 ? 2 : 1,
                                wait->done || (hwait && hwait->done) ? 0 : supervise_timeout_ms(deadline));
                if (r < 0)
                        break;
                if (w[0].revents & CURL_WAIT_POLLIN) {
                        readiness_stop(&rd);
                        supervise_stop_by_signal(d, id);
                        *ret_exit = EXIT_SUCCESS;
                        *ret_stopped = true;
                        r = 1;
                } else if (wait->done) {
                        readiness_stop(&rd);
                        *ret_exit = supervise_exited(wait, id, ready);
                        r = 1;
                } else if (hwait && hwait->done)
                        r = supervise_holder_ended(d, id, holder, hpath, &hwait, &hwait_reopens, &rd, ret_exit);
                else if (rd.fd >= 0 && (w[1].revents & (CURL_WAIT_POLLIN | CURL_WAIT_POLLPRI))) {
                        r = readiness_read(&rd);
                        if (r < 0)
                                snprintf(rd.buf, sizeof(rd.buf), "unreachable\tpipe: %s", strerror(-r));
                        if (r == 0)
                                continue;
                        readiness_stop(&rd);
                        r = readiness_verdict(d, &rd, id, ret_exit);
                        ready = true;
                        deadline = 0;
                } else if (!ready && deadline && now_usec(CLOCK_MONOTONIC) >= deadline) {
                        readiness_stop(&rd);
                        *ret_exit = supervise_ready_timeout(d, id);
                        r = 1;
                } else if (out->req && out->req->done) {
                        /* the stream ends just before the wait answers when the container exits: give the wait
                         * its moment first (its answer is taken here: the next turn would not wake for it),
                         * then attach again (dockerd restarted under a live container) */
                        if (supervise_wait_settles(d, wait)) {
                                readiness_stop(&rd);
                                *ret_exit = supervise_exited(wait, id, ready);
                                r = 1;
                        } else
                                output_reattach(d, out, id);
                }
        }
        readiness_stop(&rd);
        /* what the container wrote before it ended is still on its way: let it in (bounded) */
        output_drain(d, out, OUTPUT_DRAIN_MS);
        return r < 0 ? r : 0;
}
