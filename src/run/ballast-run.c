/* SPDX-License-Identifier: MIT */
/* ballast-run: the ExecStartPre=/ExecStart= helper of every generated ballast-NAME.service.
 *
 *   ballast-run backoff --name NAME --delay-ms D --max-delay-ms M     (ExecStartPre=)
 *   ballast-run docker --name NAME --body FILE ...                     (ExecStart=, Type=notify)
 *
 * `docker` makes the unit's main process live exactly as long as the container: it creates (or reuses) the
 * container through the Engine API, starts it, waits for its exit and exits with its exit code, so systemd
 * sees every crash and restarts the unit by its own Restart= rule (Docker's restart policy is off). It
 * starts the container through the API rather than with an attached `docker run`, which costs about 0.8 s
 * more on every (re)start (see shared/notes/real-components.md, "Docker timings").
 *
 * This is a short-lived program of its own, not part of the daemon: blocking is allowed here. Still, every
 * wait (Docker's API, the readiness answer of ballastd, SIGTERM from systemd) goes through one poll, so that
 * none of them can hide another: a container that dies while we wait for its first health check is noticed
 * at once, and a stop request is honoured while Docker is slow. */

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "shared/fileio.h"
#include "shared/holder.h"
#include "shared/json-util.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/parse-util.h"
#include "shared/time-util.h"
#include "varlink/varlink-client.h"

/* The Engine API versions we speak: the newest we know (Docker 27.4) down to Docker 1.12. The server's
 * version decides within that range (see docker_negotiate()). */
#define API_OUR_MAX_MINOR 47U
#define API_OUR_MIN_MINOR 24U
/* POST /containers/ID/wait?condition=next-exit exists from 1.30 on (Docker 17.06). */
#define API_NEXT_EXIT_MINOR 30U

#define HASH_LABEL "io.ballast.hash"
#define BODY_MAX (1024U * 1024U)
#define RESPONSE_MAX (4U * 1024U * 1024U)
#define PULL_TAIL_MAX (16U * 1024U)

/* Exit codes of our own failures. Otherwise `docker` exits with the container's exit code. */
#define EXIT_USAGE 2
#define EXIT_DOCKER 125 /* as `docker run`: Docker could not run the container */

/* Parsed command line. */
static const char *arg_name;
static const char *arg_body;
static unsigned arg_stop_timeout_s = 10;
static const char *arg_docker_socket = "/var/run/docker.sock";
static const char *arg_control_socket = "/run/ballast/ballastd.sock";
static uint64_t arg_ready_timeout_ms;               /* 0: wait as long as systemd lets us */
static uint64_t arg_docker_timeout_ms = 60 * 1000;  /* how long to wait for Docker to come up */
static uint64_t arg_delay_ms = 500;
static uint64_t arg_max_delay_ms = 60 * 1000;
static uint64_t arg_stable_ms = 10 * 1000;
static const char *arg_state_dir = "/run/ballast/backoff";
static bool arg_backoff;                            /* docker: --delay-ms given, back off before the start */
static const char *arg_pause;                       /* NULL: ballast-pause beside this program */
static const char *arg_net_body;                    /* the network holder's body; NULL: no holder */
static enum {
        RESTART_UNSET,
        RESTART_ALWAYS,
        RESTART_ON_FAILURE,
        RESTART_NO,
} arg_restart;

/* ---- small pure helpers ------------------------------------------------------------------------------- */

/* The service name reaches file names and the container name: the same rule as a spec's name (docs/SERVICES.md). */
static bool name_is_valid(const char *s) {
        size_t n = strlen(s);

        if (n < 1 || n > 63)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && i > 0)))
                        return false;
        }
        return true;
}

/* "1500", "1500ms", "2s", "1min"; "infinity" → 0 where allowed. Bare numbers are in default_unit_ms. */
static int parse_duration_ms(const char *s, uint64_t default_unit_ms, bool allow_infinity, uint64_t *ret) {
        static const struct {
                const char *suffix;
                uint64_t ms;
        } units[] = { { "ms", 1 }, { "s", 1000 }, { "sec", 1000 }, { "min", 60 * 1000 } };
        char digits[32];
        uint64_t v, mult = default_unit_ms;
        size_t n = strspn(s, "0123456789");
        int r;

        if (allow_infinity && streq(s, "infinity")) {
                *ret = 0;
                return 0;
        }
        if (n == 0 || n >= sizeof(digits))
                return -EINVAL;
        if (s[n]) {
                bool found = false;
                for (size_t i = 0; i < ELEMENTSOF(units); i++)
                        if (streq(s + n, units[i].suffix)) {
                                mult = units[i].ms;
                                found = true;
                        }
                if (!found)
                        return -EINVAL;
        }
        memcpy(digits, s, n);
        digits[n] = 0;
        r = safe_atou64(digits, &v);
        if (r < 0)
                return r;
        if (v > UINT64_MAX / mult / 1000) /* keep it convertible to µs */
                return -ERANGE;
        *ret = v * mult;
        return 0;
}

/* "1.41" → 41. Only major version 1 exists. */
static int parse_api_version(const char *s, unsigned *ret_minor) {
        unsigned minor;

        if (!s || !strneq(s, "1.", 2))
                return -EINVAL;
        if (safe_atou(s + 2, &minor) < 0)
                return -EINVAL;
        *ret_minor = minor;
        return 0;
}

/* The API version to speak: the newest both sides know, but never below what the server still accepts
 * (Docker 29 refuses anything below 1.44) nor below what we know how to speak. server_min_minor 0: the
 * server did not say. Returns -EPROTONOSUPPORT when the server is too old for us. */
static int api_version_pick(unsigned server_max_minor, unsigned server_min_minor, unsigned *ret_minor) {
        unsigned v = MIN(API_OUR_MAX_MINOR, server_max_minor);

        /* A server newer than us that no longer accepts our newest version: speak its oldest. The endpoints
         * and fields we use have not changed in the versions Docker has dropped so far. */
        if (v < server_min_minor)
                v = server_min_minor;
        if (v < API_OUR_MIN_MINOR)
                return -EPROTONOSUPPORT;
        *ret_minor = v;
        return 0;
}

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
        if (keep_running && running && status && streq(status, "running"))
                return ACTION_RUNNING;
        /* Running means someone else (or a previous run of ours that was SIGKILLed) owns its lifetime: we
         * could not tell its exit from a crash of ours, so start clean. "paused", "restarting", "removing"
         * and "dead" are not states `start` brings back reliably either. */
        if (running || !status || !(streq(status, "created") || streq(status, "exited")))
                return ACTION_REPLACE;
        return ACTION_REUSE;
}

/* ---- backoff: crash-loop backoff outside systemd (systemd 252 has no RestartSteps=) -------------------- */

typedef struct BackoffState {
        uint64_t start_usec; /* CLOCK_BOOTTIME of the previous start (before its delay) */
        uint64_t delay_ms;   /* the delay that start slept */
} BackoffState;

/* The delay before this start.
 *
 * The rule: a start that follows a run which "ran a while" waits nothing extra (the unit's RestartSec=,
 * which is delay_ms, already waited); a run "ran a while" when it lived at least stable_ms after its own
 * delay, i.e. previous start + previous delay + stable_ms ≤ now. A start that follows a quick exit waits
 * twice the previous delay, at least delay_ms and at most max_delay_ms: delay_ms, 2·delay_ms, 4·delay_ms, …
 * up to max_delay_ms. With delay_ms 0 the first quick exit still backs off BACKOFF_FLOOR_MS, so that a crash
 * loop never spins (the unit has StartLimitIntervalSec=0). No previous start (first start of this boot: the
 * state lives in /run) means no delay, and so does a recorded start in the future (a state file from another
 * boot or clock). */
#define BACKOFF_FLOOR_MS 100
static uint64_t backoff_delay(const BackoffState *prev, uint64_t now_usec, uint64_t delay_ms, uint64_t max_delay_ms,
                              uint64_t stable_ms) {
        uint64_t ran_until, d;

        if (!prev || prev->start_usec > now_usec)
                return 0;
        ran_until = prev->start_usec + (prev->delay_ms + stable_ms) * USEC_PER_MSEC;
        if (ran_until <= now_usec)
                return 0;
        d = prev->delay_ms > UINT64_MAX / 2 ? UINT64_MAX : prev->delay_ms * 2;
        d = MAX(d, MAX(delay_ms, (uint64_t) BACKOFF_FLOOR_MS));
        return MIN(d, MAX(max_delay_ms, (uint64_t) BACKOFF_FLOOR_MS));
}

static int backoff_state_parse(const char *text, BackoffState *ret) {
        BackoffState s = {};
        char start[32], delay[32];

        if (sscanf(text, "start_usec=%31[0-9]\ndelay_ms=%31[0-9]\n", start, delay) != 2)
                return -EBADMSG;
        if (safe_atou64(start, &s.start_usec) < 0 || safe_atou64(delay, &s.delay_ms) < 0)
                return -EBADMSG;
        *ret = s;
        return 0;
}

/* Reads the previous start of this service, decides the delay before this one and records this start (before
 * sleeping, so that a start killed in its sleep still counts as a quick one). A state that cannot be read or
 * written only loses the backoff; it must not keep the workload from starting. */
static int backoff_take(uint64_t *ret_delay_ms) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        BackoffState prev, next;
        bool have_prev = false;
        char buf[128];
        uint64_t now;
        int r, n;

        path = path_join(arg_state_dir, arg_name);
        if (!path)
                return log_error_errno(-ENOMEM, "Out of memory");

        r = read_full_file(path, 4096, &text, NULL);
        if (r >= 0) {
                if (backoff_state_parse(text, &prev) >= 0)
                        have_prev = true;
                else
                        log_warning("Backoff state %s is malformed, treating this as a first start", path);
        } else if (r != -ENOENT)
                log_warning_errno(r, "Cannot read backoff state %s, treating this as a first start: %m", path);

        now = now_usec(CLOCK_BOOTTIME);
        next = (BackoffState) {
                .start_usec = now,
                .delay_ms = backoff_delay(have_prev ? &prev : NULL, now, arg_delay_ms, arg_max_delay_ms, arg_stable_ms),
        };

        n = snprintf(buf, sizeof(buf), "start_usec=%" PRIu64 "\ndelay_ms=%" PRIu64 "\n", next.start_usec,
                     next.delay_ms);
        r = mkdir_parents_and_self(arg_state_dir, 0755);
        if (r >= 0)
                r = write_file_atomic(path, buf, (size_t) n, 0644);
        if (r < 0)
                log_warning_errno(r, "Cannot write backoff state %s, ignoring: %m", path);

        if (next.delay_ms == 0)
                log_debug("No backoff for %s", arg_name);
        else
                log_notice("backing off %" PRIu64 " ms after a quick exit of %s", next.delay_ms, arg_name);
        *ret_delay_ms = next.delay_ms;
        return 0;
}

static int run_backoff(void) {
        uint64_t delay_ms;

        if (backoff_take(&delay_ms) < 0)
                return EXIT_FAILURE;
        struct timespec ts = {
                .tv_sec = (time_t) (delay_ms / 1000),
                .tv_nsec = (long) (delay_ms % 1000) * 1000000L,
        };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
        return EXIT_SUCCESS;
}

/* ---- the Engine API over libcurl ------------------------------------------------------------------------ */

typedef struct Docker {
        CURLM *multi;     /* one multi handle for every request: connections are reused between calls */
        unsigned minor;   /* the API version we speak, 1.minor; 0 before negotiation */
        int signal_fd;    /* SIGTERM/SIGINT, blocked and read from here */
} Docker;

typedef struct Request {
        CURL *easy;
        CURLM *multi;         /* the multi handle it was added to, NULL when not added */
        struct curl_slist *headers;
        char *data;           /* the response body, NUL-terminated */
        size_t size, allocated;
        bool tail_only;       /* keep only the last PULL_TAIL_MAX bytes (image pull progress) */
        bool overflow;
        long status;          /* of the last status line seen (the final one once done) */
        bool headers_done;    /* the headers of a final (non-1xx) response are all in */
        char api_version[16]; /* Api-Version: */
        bool done;
        CURLcode result;
        char error[CURL_ERROR_SIZE];
        char *what;           /* "POST /containers/…/start", for messages */
} Request;

static Request *request_free(Request *req) {
        if (!req)
                return NULL;
        if (req->multi)
                curl_multi_remove_handle(req->multi, req->easy);
        if (req->easy)
                curl_easy_cleanup(req->easy);
        curl_slist_free_all(req->headers);
        free(req->data);
        free(req->what);
        free(req);
        return NULL;
}
DEFINE_CLEANUP_FUNC(Request *, request_free);
#define _cleanup_request_ _cleanup_(request_freep)

static size_t request_write_cb(char *p, size_t size, size_t nmemb, void *userdata) {
        Request *req = userdata;
        size_t n = size * nmemb;

        /* Pull progress can be long; only its end (where an error would be) matters. */
        if (req->tail_only && req->size + n > PULL_TAIL_MAX) {
                size_t keep = PULL_TAIL_MAX / 2;
                if (n >= keep) {
                        p += n - keep;
                        n = keep;
                        req->size = 0;
                } else {
                        size_t drop = req->size + n - keep; /* ≤ size, as n < keep */
                        memmove(req->data, req->data + drop, req->size - drop);
                        req->size -= drop;
                }
        }
        if (req->size + n + 1 > RESPONSE_MAX) {
                req->overflow = true;
                return 0; /* aborts the transfer */
        }
        if (req->size + n + 1 > req->allocated) {
                size_t a = MAX(req->allocated * 2, req->size + n + 1);
                char *d = realloc(req->data, MAX(a, (size_t) 1024));
                if (!d)
                        return 0;
                req->data = d;
                req->allocated = MAX(a, (size_t) 1024);
        }
        memcpy(req->data + req->size, p, n);
        req->size += n;
        req->data[req->size] = 0;
        return size * nmemb;
}

static size_t request_header_cb(char *p, size_t size, size_t nmemb, void *userdata) {
        Request *req = userdata;
        size_t n = size * nmemb;
        char line[256];

        snprintf(line, sizeof(line), "%.*s", (int) MIN(n, sizeof(line) - 1), p);
        line[strcspn(line, "\r\n")] = 0;

        if (strneq(line, "HTTP/", 5)) {
                long status;
                if (sscanf(line, "HTTP/%*s %ld", &status) == 1)
                        req->status = status;
                req->headers_done = false;
        } else if (line[0] == 0) {
                /* The end of a header block; 1xx responses have their own, the final response follows. */
                if (req->status >= 200)
                        req->headers_done = true;
        } else if (strncasecmp(line, "Api-Version:", 12) == 0) {
                const char *v = line + 12;
                v += strspn(v, " \t");
                snprintf(req->api_version, sizeof(req->api_version), "%s", v);
        }
        return n;
}

/* A request to the Engine API. path begins with '/'; it is prefixed with /v1.NN once the version is known
 * (unversioned paths only serve the negotiation). body: body_size bytes of content_type to POST, NULL for
 * none. timeout_ms 0: none. */
static int request_new_full(Docker *d, const char *method, const char *path, const void *body, size_t body_size,
                            const char *content_type, uint64_t timeout_ms, Request **ret) {
        _cleanup_request_ Request *req = NULL;
        char url[1024];
        int n;

        req = calloc(1, sizeof(Request));
        if (!req)
                return -ENOMEM;
        if (asprintf(&req->what, "%s %s", method, path) < 0) {
                req->what = NULL;
                return -ENOMEM;
        }
        req->easy = curl_easy_init();
        if (!req->easy)
                return -ENOMEM;

        if (d->minor > 0)
                n = snprintf(url, sizeof(url), "http://localhost/v1.%u%s", d->minor, path);
        else
                n = snprintf(url, sizeof(url), "http://localhost%s", path);
        if (n < 0 || (size_t) n >= sizeof(url))
                return -ENAMETOOLONG;

        /* "Expect:" off: curl would otherwise hold back a body over 1 KiB for a 100-continue round trip. */
        req->headers = curl_slist_append(NULL, "Expect:");
        if (!req->headers)
                return -ENOMEM;
        if (body) {
                _cleanup_free_ char *ct = NULL;
                struct curl_slist *h;

                if (asprintf(&ct, "Content-Type: %s", content_type) < 0) {
                        ct = NULL;
                        return -ENOMEM;
                }
                h = curl_slist_append(req->headers, ct);
                if (!h)
                        return -ENOMEM;
                req->headers = h;
        }

        if (curl_easy_setopt(req->easy, CURLOPT_UNIX_SOCKET_PATH, arg_docker_socket) != CURLE_OK ||
            curl_easy_setopt(req->easy, CURLOPT_URL, url) != CURLE_OK ||
            curl_easy_setopt(req->easy, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
            curl_easy_setopt(req->easy, CURLOPT_HTTPHEADER, req->headers) != CURLE_OK ||
            curl_easy_setopt(req->easy, CURLOPT_WRITEFUNCTION, request_write_cb) != CURLE_OK ||
            curl_easy_setopt(req->easy, CURLOPT_WRITEDATA, req) != CURLE_OK ||
            curl_easy_setopt(req->easy, CURLOPT_HEADERFUNCTION, request_header_cb) != CURLE_OK ||
            curl_easy_setopt(req->easy, CURLOPT_HEADERDATA, req) != CURLE_OK ||
            curl_easy_setopt(req->easy, CURLOPT_PRIVATE, req) != CURLE_OK ||
            curl_easy_setopt(req->easy, CURLOPT_ERRORBUFFER, req->error) != CURLE_OK ||
            curl_easy_setopt(req->easy, CURLOPT_CONNECTTIMEOUT_MS, 5000L) != CURLE_OK ||
            curl_easy_setopt(req->easy, CURLOPT_TIMEOUT_MS, (long) timeout_ms) != CURLE_OK)
                return -EIO;

        if (streq(method, "POST")) {
                /* the size first: COPYPOSTFIELDS then copies that many bytes (a tar has NULs in it) */
                if (curl_easy_setopt(req->easy, CURLOPT_POSTFIELDSIZE, (long) (body ? body_size : 0)) != CURLE_OK ||
                    curl_easy_setopt(req->easy, CURLOPT_COPYPOSTFIELDS, body ?: "") != CURLE_OK)
                        return -EIO;
        } else if (!streq(method, "GET")) {
                if (curl_easy_setopt(req->easy, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK)
                        return -EIO;
        }

        *ret = TAKE_PTR(req);
        return 0;
}

/* request_new_full() with a JSON body (or none). */
static int request_new(Docker *d, const char *method, const char *path, const char *body, uint64_t timeout_ms,
                       Request **ret) {
        return request_new_full(d, method, path, body, body ? strlen(body) : 0, "application/json", timeout_ms, ret);
}

static int request_add(Docker *d, Request *req) {
        CURLMcode mc = curl_multi_add_handle(d->multi, req->easy);

        if (mc != CURLM_OK)
                return log_error_errno(-EIO, "curl_multi_add_handle() failed: %s", curl_multi_strerror(mc));
        req->multi = d->multi;
        return 0;
}

static void request_remove(Request *req) {
        if (req->multi)
                curl_multi_remove_handle(req->multi, req->easy);
        req->multi = NULL;
}

/* Marks the transfers that finished. */
static void docker_collect(Docker *d) {
        CURLMsg *m;
        int left;

        while ((m = curl_multi_info_read(d->multi, &left))) {
                Request *req = NULL;

                if (m->msg != CURLMSG_DONE)
                        continue;
                curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **) &req);
                if (!req)
                        continue;
                req->done = true;
                req->result = m->data.result;
                if (req->result == CURLE_OK)
                        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &req->status);
        }
}

/* One turn of the loop: waits at most timeout_ms for activity on Docker's connections or on the extra fds
 * (their revents say which fired), then lets curl move every transfer on. */
static int docker_pump(Docker *d, struct curl_waitfd *extra, unsigned n_extra, int timeout_ms) {
        CURLMcode mc;
        int running;

        for (unsigned i = 0; i < n_extra; i++)
                extra[i].revents = 0;
        mc = curl_multi_wait(d->multi, extra, n_extra, timeout_ms, NULL);
        if (mc != CURLM_OK)
                return log_error_errno(-EIO, "curl_multi_wait() failed: %s", curl_multi_strerror(mc));
        mc = curl_multi_perform(d->multi, &running);
        if (mc != CURLM_OK)
                return log_error_errno(-EIO, "curl_multi_perform() failed: %s", curl_multi_strerror(mc));
        docker_collect(d);
        return 0;
}

/* Maps a failed transfer to an errno: -ENOENT (no socket) or -ECONNREFUSED (nobody listening) when Docker
 * is not there (worth a retry), -ECONNRESET when the connection broke, -ETIMEDOUT, or -EIO. */
static int request_result_errno(const Request *req) {
        switch (req->result) {
        case CURLE_OK:
                return 0;
        case CURLE_COULDNT_CONNECT:
                /* curl says the same for both; the difference tells whether dockerd ever created its socket */
                return access(arg_docker_socket, F_OK) < 0 && errno == ENOENT ? -ENOENT : -ECONNREFUSED;
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_GOT_NOTHING:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_PARTIAL_FILE:
                return -ECONNRESET;
        case CURLE_WRITE_ERROR:
                return req->overflow ? -EFBIG : -ENOMEM;
        default:
                return -EIO;
        }
}

static const char *request_error(const Request *req) {
        return req->error[0] ? req->error : curl_easy_strerror(req->result);
}

/* Runs one request to its end. interruptible: give up with -EINTR as soon as SIGTERM/SIGINT is pending (the
 * signal stays pending for the caller). A transport failure is returned as an errno (see above) and logged
 * at debug level only: the caller knows whether it is worth more. Any HTTP status counts as success. */
static int docker_perform(Docker *d, Request *req, bool interruptible) {
        int r;

        r = request_add(d, req);
        if (r < 0)
                return r;
        while (!req->done) {
                struct curl_waitfd w = { .fd = d->signal_fd, .events = CURL_WAIT_POLLIN };

                r = docker_pump(d, &w, interruptible ? 1 : 0, 1000);
                if (r < 0)
                        break;
                if (interruptible && (w.revents & CURL_WAIT_POLLIN) && !req->done) {
                        r = -EINTR;
                        break;
                }
        }
        request_remove(req);
        if (r < 0)
                return r;
        r = request_result_errno(req);
        if (r < 0)
                log_debug_errno(r, "%s failed: %s", req->what, request_error(req));
        return r;
}

/* request_new() + docker_perform(). */
static int docker_call(Docker *d, const char *method, const char *path, const char *body, uint64_t timeout_ms,
                       bool interruptible, Request **ret) {
        _cleanup_request_ Request *req = NULL;
        int r;

        r = request_new(d, method, path, body, timeout_ms, &req);
        if (r < 0)
                return log_error_errno(r, "Cannot set up %s %s: %m", method, path);
        r = docker_perform(d, req, interruptible);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(req);
        return 0;
}

/* The JSON of a response, NULL when there is none or it is not JSON. */
static json_t *request_json(const Request *req) {
        if (!req->data)
                return NULL;
        return json_loadb(req->data, req->size, 0, NULL);
}

/* Docker's error text: {"message": "..."}, else the raw body, else the status. Owned by buf. */
static const char *request_message(const Request *req, char *buf, size_t len) {
        _cleanup_json_ json_t *j = request_json(req);
        const char *m = json_string_value(json_object_get(j, "message"));

        if (m)
                snprintf(buf, len, "%s", m);
        else if (req->data && req->size > 0)
                snprintf(buf, len, "%.*s", (int) strcspn(req->data, "\r\n"), req->data);
        else
                snprintf(buf, len, "HTTP status %ld", req->status);
        return buf;
}

/* Transport failures of calls that must succeed: one message, the errno back. */
static int log_transport_failure(int r, const char *what) {
        if (r == -EINTR)
                return r;
        return log_error_errno(r, "%s: Docker did not answer (%s): %m", what, arg_docker_socket);
}

/* Sleeps ms, but returns -EINTR at once when SIGTERM/SIGINT arrives. */
static int sleep_interruptible(Docker *d, uint64_t ms) {
        struct pollfd p = { .fd = d->signal_fd, .events = POLLIN };
        int r = poll(&p, 1, (int) MIN(ms, (uint64_t) INT32_MAX));

        if (r < 0 && errno != EINTR)
                return -errno;
        return r > 0 ? -EINTR : 0;
}

/* Waits for Docker (bounded by --docker-timeout) and picks the API version to speak. */
static int docker_negotiate(Docker *d) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + arg_docker_timeout_ms * USEC_PER_MSEC;
        uint64_t delay_ms = 100, now;
        _cleanup_request_ Request *req = NULL;
        _cleanup_json_ json_t *v = NULL;
        unsigned server_max, server_min = 0, pick;
        const char *s;
        char msg[512];
        int r;

        for (unsigned attempt = 1;; attempt++) {
                req = request_free(req);
                /* /version (unversioned: it serves every client) says both ends of the server's range; /_ping
                 * only has the upper one. */
                r = request_new(d, "GET", "/version", NULL, 10 * 1000, &req);
                if (r < 0)
                        return log_error_errno(r, "Cannot set up GET /version: %m");
                r = docker_perform(d, req, true);
                if (r == -EINTR)
                        return r;
                if (r >= 0 && req->status == 200)
                        break;
                if (r >= 0 && req->status < 500)
                        return log_error_errno(-EPROTO, "GET /version: %s", request_message(req, msg, sizeof(msg)));
                now = now_usec(CLOCK_MONOTONIC);
                if (now >= deadline) {
                        if (r >= 0)
                                return log_error_errno(-EIO, "Docker is not ready after %" PRIu64 " s: %s",
                                                       arg_docker_timeout_ms / 1000,
                                                       request_message(req, msg, sizeof(msg)));
                        return log_error_errno(r, "Docker is not reachable at %s after %" PRIu64 " s: %m (%s)",
                                               arg_docker_socket, arg_docker_timeout_ms / 1000, request_error(req));
                }
                /* Docker starting up (or restarting) is normal at boot: say why we wait, now and then. */
                if (attempt == 1 || attempt % 10 == 0) {
                        if (r < 0)
                                log_full_errno(LOG_NOTICE, r, "Docker is not reachable at %s yet (%m), retrying", arg_docker_socket);
                        else
                                log_notice("Docker is not ready yet (HTTP %ld), retrying", req->status);
                        (void) sd_notifyf(false, "STATUS=waiting for Docker at %s", arg_docker_socket);
                }
                r = sleep_interruptible(d, MIN(delay_ms, (deadline - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC));
                if (r < 0)
                        return r;
                delay_ms = MIN(delay_ms * 2, (uint64_t) 2000);
        }

        v = request_json(req);
        s = json_string_value(json_object_get(v, "ApiVersion"));
        if (!s && req->api_version[0])
                s = req->api_version;
        if (parse_api_version(s, &server_max) < 0)
                return log_error_errno(-EPROTO, "Docker did not say which API version it speaks (ApiVersion=%s)",
                                       strna(s));
        s = json_string_value(json_object_get(v, "MinAPIVersion"));
        if (s && parse_api_version(s, &server_min) < 0)
                server_min = 0;
        r = api_version_pick(server_max, server_min, &pick);
        if (r < 0)
                return log_error_errno(r, "Docker speaks API 1.%u, older than the oldest we speak (1.%u)", server_max,
                                       API_OUR_MIN_MINOR);
        if (pick > API_OUR_MAX_MINOR)
                log_warning("Docker accepts API 1.%u at the oldest, newer than ours (1.%u); speaking 1.%u", server_min,
                            API_OUR_MAX_MINOR, pick);
        d->minor = pick;
        log_debug("Docker speaks API 1.%u (oldest 1.%u), we speak 1.%u", server_max, server_min, pick);
        return 0;
}

/* ---- the container -------------------------------------------------------------------------------------- */

typedef struct Body {
        char *text;
        char *hash;         /* Labels["io.ballast.hash"], NULL when absent */
        char *image;
        char *network_mode; /* the HostConfig.NetworkMode a container must have to be reused */
        bool holder;        /* the network holder's body (its image is imported, not pulled) */
} Body;

static void body_done(Body *b) {
        free(b->text);
        free(b->hash);
        free(b->image);
        free(b->network_mode);
        *b = (Body) {};
}

static const char *body_what(const Body *b) {
        return b->holder ? "network holder" : "container";
}

static int body_load(const char *path, Body *ret) {
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
        if ((hash && !ret->hash) || !ret->image || !ret->network_mode) {
                body_done(ret);
                return log_error_errno(-ENOMEM, "Out of memory");
        }
        return 0;
}

/* ---- the network holder ----
 *
 * A container's network (namespace, veth on the bridge, NAT rules, the userland proxy of each published port)
 * is set up by Docker at every start and torn down at every exit, and Docker holds the container's lock while
 * it tears it down: the exit wait answers, and the next start begins, only after that (about 100 ms here),
 * and the setup is most of a start (about 210 ms against 75 ms without it). So, as a Kubernetes pod's sandbox
 * does, the network belongs to a second container that lives across the service's restarts: the holder
 * "ballast-NAME.net", running only ballast-pause (image ballast/pause:VERSION, imported from the binary
 * installed beside ballast-run), publishes the service's ports; the service's container joins its namespace
 * (NetworkMode container:ID) and publishes nothing itself. Health checks, ports and outbound traffic are as
 * before; a crash of the service restarts only its process. The holder's body (--net-body) is written by
 * ballastd (units.c, container_holder_body()); it carries io.ballast.netns=NAME, not io.ballast.service, so
 * ballastd's event stream never mistakes it for the service. The holder is stopped with the service (a stop,
 * or an exit after which systemd does not restart the unit: --restart), and when it dies under a running
 * service, the service's container is stopped too and the unit fails (125), so systemd restarts both. */

#define PAUSE_MAX (16U * 1024U * 1024U)

/* Makes the service's body join the holder holder_id (shared/holder.c). */
static int body_join_holder(Body *b, const char *holder_id) {
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

/* The last JSON object of a progress stream (/images/create) says "error" when the operation failed. */
static const char *progress_error(Request *req, json_t **keep) {
        char *last = NULL;

        if (!req->data)
                return NULL;
        for (char *l = strtok(req->data, "\r\n"); l; l = strtok(NULL, "\r\n"))
                last = l;
        if (!last)
                return NULL;
        *keep = json_loads(last, 0, NULL);
        return json_string_value(json_object_get(*keep, "error"));
}

/* Imports ballast/pause:VERSION from the pause binary (once per node and version). */
static int docker_import_pause(Docker *d) {
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

static const char *short_id(const char *id) {
        static char buf[13];
        snprintf(buf, sizeof(buf), "%s", id);
        return buf;
}

/* Pulls the image of the body, as `docker run` does when the image is missing. */
static int docker_pull(Docker *d, const char *image) {
        _cleanup_request_ Request *req = NULL;
        _cleanup_free_ char *path = NULL;
        const char *slash = strrchr(image, '/');
        bool has_tag = strchr(image, '@') || strchr(slash ? slash : image, ':');
        _cleanup_json_ json_t *last = NULL;
        const char *e;
        char *esc;
        char msg[512];
        int r;

        /* Without a tag, /images/create pulls every tag of the repository: ask for "latest" as docker does. */
        esc = curl_easy_escape(NULL, image, 0);
        if (!esc)
                return log_error_errno(-ENOMEM, "Out of memory");
        r = asprintf(&path, "/images/create?fromImage=%s%s", esc, has_tag ? "" : "&tag=latest");
        curl_free(esc);
        if (r < 0)
                return log_error_errno(-ENOMEM, "Out of memory");

        log_notice("Image %s is not here, pulling it", image);
        (void) sd_notifyf(false, "STATUS=pulling %s", image);
        r = request_new(d, "POST", path, NULL, 0, &req);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the pull: %m");
        req->tail_only = true;
        r = docker_perform(d, req, true);
        if (r < 0)
                return log_transport_failure(r, "pull");
        if (req->status != 200)
                return log_error_errno(-EIO, "Cannot pull %s: %s", image, request_message(req, msg, sizeof(msg)));
        /* The answer is a stream of JSON progress objects; a failure is an object with "error" at the end. */
        e = progress_error(req, &last);
        if (e)
                return log_error_errno(-EIO, "Cannot pull %s: %s", image, e);
        log_notice("Pulled %s", image);
        return 0;
}

/* Finds, reuses, replaces or creates the container cname so that it matches the body; returns its ID, whether
 * it already runs (only the holder's may: b->holder), and whether it is one that existed (reused or running).
 * allow_reuse false: a stopped container that matches is replaced too. The loop covers the races of a name that
 * someone else creates or removes at the same time. */
static int container_prepare(Docker *d, const Body *b, const char *cname, bool allow_reuse, char **ret_id,
                             bool *ret_running, bool *ret_reused) {
        bool pulled = false;
        char msg[512];
        int r;

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
                                                  !b->network_mode || (mode && streq(mode, b->network_mode)), b->holder);
                        if (action == ACTION_REUSE && !allow_reuse)
                                action = ACTION_REPLACE;
                } else if (req->status == 404) {
                        id = hash = status = NULL;
                        action = container_action(false, NULL, NULL, false, b->hash, true, b->holder);
                } else
                        return log_error_errno(-EIO, "Cannot inspect %s: %s", cname, request_message(req, msg, sizeof(msg)));

                if (action == ACTION_REUSE || action == ACTION_RUNNING) {
                        if (action == ACTION_REUSE)
                                log_info("Reusing the stopped %s %s (%s, same spec)", body_what(b), short_id(id), status);
                        *ret_running = action == ACTION_RUNNING;
                        *ret_id = strdup(id);
                        *ret_reused = true;
                        return *ret_id ? 0 : log_error_errno(-ENOMEM, "Out of memory");
                }
                if (action == ACTION_REPLACE) {
                        _cleanup_request_ Request *rm = NULL;
                        _cleanup_free_ char *rmpath = NULL;

                        if (hash && b->hash && streq(hash, b->hash) && (!b->network_mode || (mode && streq(mode, b->network_mode))))
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
                                r = sleep_interruptible(d, 200);
                                if (r < 0)
                                        return r;
                                continue;
                        }
                        if (rm->status != 204 && rm->status != 404)
                                return log_error_errno(-EIO, "Cannot remove the container %s: %s", short_id(id),
                                                       request_message(rm, msg, sizeof(msg)));
                }

                /* create */
                {
                        _cleanup_request_ Request *cr = NULL;
                        _cleanup_free_ char *crpath = NULL;
                        _cleanup_json_ json_t *cv = NULL;
                        const char *newid;
                        json_t *warnings;

                        if (asprintf(&crpath, "/containers/create?name=%s", cname) < 0)
                                return log_error_errno(-ENOMEM, "Out of memory");
                        r = docker_call(d, "POST", crpath, b->text, 0, true, &cr);
                        if (r < 0)
                                return log_transport_failure(r, "create");
                        if (cr->status == 409) /* the name is taken again (a concurrent start): look again */
                                continue;
                        if (cr->status == 404 && !pulled) { /* no such image */
                                r = b->holder && streq(b->image, PAUSE_IMAGE) ? docker_import_pause(d)
                                                                             : docker_pull(d, b->image);
                                if (r < 0)
                                        return r;
                                pulled = true;
                                continue;
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
                        *ret_running = false;
                        *ret_id = strdup(newid);
                        *ret_reused = false;
                        return *ret_id ? 0 : log_error_errno(-ENOMEM, "Out of memory");
                }
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
static int container_start(Docker *d, const char *id, Request **ret_wait) {
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
static int container_stop_as(Docker *d, const char *id, unsigned timeout_s, const char *what) {
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

/* Makes the holder run (creating or replacing it as needed) and returns its ID. The fast path, a holder
 * that runs with the same ports, is one inspect. */
static int holder_ensure(Docker *d, const Body *h, const char *hname, char **ret_id) {
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
static bool restart_follows(int code) {
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
static void holder_release(Docker *d, const char *holder) {
        if (holder)
                (void) container_stop_as(d, holder, 2, "network holder");
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

/* ---- readiness: ballastd's first health check ---------------------------------------------------------- */

/* The child's answer, one line "WORD\tTEXT": ready, unhealthy (TEXT = the reason), nosuch, unreachable
 * (TEXT = why), unknown (TEXT = the Varlink error). */
_noreturn_ static void readiness_child(int fd, const char *socket_path, const char *name) {
        char out[1024];

        for (unsigned attempt = 0;; attempt++) {
                _cleanup_(varlink_client_freep) VarlinkClient *c = NULL;
                _cleanup_json_ json_t *params = NULL, *reply = NULL;
                _cleanup_free_ char *error = NULL;
                int r;

                r = varlink_client_connect(&c, socket_path);
                if (r < 0) {
                        snprintf(out, sizeof(out), "unreachable\t%s: %s\n", socket_path, strerror(-r));
                        break;
                }
                params = json_pack("{s:s}", "name", name);
                r = params ? varlink_client_call(c, "io.ballast.Agent.WaitHealthy", params, 0, &reply, &error) : -ENOMEM;
                /* ballastd restarting drops the connection; its socket stays (socket activation): ask again. */
                if ((r == -ECONNRESET || r == -EPIPE) && attempt < 3) {
                        struct timespec ts = { .tv_nsec = 200 * 1000 * 1000 };
                        nanosleep(&ts, NULL);
                        continue;
                }
                if (r < 0)
                        snprintf(out, sizeof(out), "unreachable\t%s: %s\n", socket_path, strerror(-r));
                else if (!error)
                        snprintf(out, sizeof(out), "ready\t\n");
                else if (streq(error, "io.ballast.Agent.Unhealthy")) {
                        const char *reason = json_string_value(json_object_get(reply, "reason"));
                        snprintf(out, sizeof(out), "unhealthy\t%s", reason ?: "health check failed");
                        out[strcspn(out, "\r\n")] = 0; /* the answer is one line */
                        strcat(out, "\n");
                } else if (streq(error, "io.ballast.Agent.NoSuchService"))
                        snprintf(out, sizeof(out), "nosuch\t\n");
                else
                        snprintf(out, sizeof(out), "unknown\t%s\n", error);
                break;
        }
        (void) !write(fd, out, strlen(out));
        _exit(EXIT_SUCCESS);
}

typedef struct Readiness {
        pid_t pid;
        int fd;
        char buf[1024];
        size_t size;
} Readiness;

/* The blocking Varlink client runs in a child, so that the parent's one poll sees its answer, the
 * container's exit (the wait) and SIGTERM alike. The answer comes over a socket pair rather than a pipe:
 * curl_multi_wait() reports only POLLIN for extra fds, and a pipe's end-of-file is POLLHUP alone, while a
 * socket's is POLLIN too, so a child that dies without answering is noticed. */
static int readiness_start(Readiness *rd, const char *socket_path, const char *name) {
        int p[2];
        pid_t parent = getpid(), pid;

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0)
                return log_error_errno(-errno, "socketpair() failed: %m");
        pid = fork();
        if (pid < 0) {
                int r = -errno;
                safe_close(p[0]);
                safe_close(p[1]);
                return log_error_errno(r, "fork() failed: %m");
        }
        if (pid == 0) {
                sigset_t all;

                safe_close(p[0]);
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(EXIT_FAILURE);
                sigemptyset(&all);
                (void) sigprocmask(SIG_SETMASK, &all, NULL);
                readiness_child(p[1], socket_path, name);
        }
        safe_close(p[1]);
        *rd = (Readiness) { .pid = pid, .fd = p[0] };
        return 0;
}

static void readiness_stop(Readiness *rd) {
        if (rd->pid > 0) {
                (void) kill(rd->pid, SIGKILL);
                (void) waitpid(rd->pid, NULL, 0);
                rd->pid = 0;
        }
        rd->fd = safe_close(rd->fd);
}

/* Reads what is there; returns 1 with the answer line in rd->buf once it is complete (or the child closed
 * its end: an empty answer), 0 while more is to come. */
static int readiness_read(Readiness *rd) {
        ssize_t k = read(rd->fd, rd->buf + rd->size, sizeof(rd->buf) - 1 - rd->size);

        if (k < 0)
                return errno == EINTR || errno == EAGAIN ? 0 : -errno;
        rd->size += (size_t) k;
        rd->buf[rd->size] = 0;
        if (k > 0 && !strchr(rd->buf, '\n') && rd->size < sizeof(rd->buf) - 1)
                return 0;
        rd->buf[strcspn(rd->buf, "\n")] = 0;
        return 1;
}

/* ---- docker: the main path ----------------------------------------------------------------------------- */

static const char *signal_name(int sig) {
        return sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "a signal";
}

/* Whether Docker says the holder runs (a broken wait is not a dead holder). */
static bool holder_still_runs(Docker *d, const char *holder) {
        _cleanup_request_ Request *req = NULL;
        _cleanup_free_ char *path = NULL;
        _cleanup_json_ json_t *v = NULL;

        if (asprintf(&path, "/containers/%s/json", holder) < 0 ||
            docker_call(d, "GET", path, NULL, 10 * 1000, false, &req) < 0 || req->status != 200)
                return false;
        v = request_json(req);
        return json_is_true(json_object_get(json_object_get(v, "State"), "Running"));
}

/* After the start: one loop over the wait (the container's exit), the holder's wait, SIGTERM/SIGINT and the
 * readiness answer, until one of them ends it; *ret_exit is then what to exit with: the container's exit code
 * when it exited, 0 after a stop by signal (*ret_stopped), 1 when it was stopped because it never became
 * healthy, 125 when the network holder went away under it (the container would run without its ports). */
static int container_supervise(Docker *d, const char *id, Request *wait, const char *holder, int *ret_exit,
                               bool *ret_stopped) {
        _cleanup_request_ Request *hwait = NULL;
        _cleanup_free_ char *hpath = NULL;
        Readiness rd = { .fd = -1 };
        unsigned hwait_reopens = 0;
        bool ready = false;
        uint64_t deadline = 0;
        int r;

        *ret_stopped = false;
        if (holder) {
                /* the plain wait (not-running): a holder that died since we saw it running answers at once */
                if (asprintf(&hpath, "/containers/%s/wait", holder) < 0)
                        return log_error_errno(-ENOMEM, "Out of memory");
                r = request_new(d, "POST", hpath, NULL, 0, &hwait);
                if (r >= 0)
                        r = request_add(d, hwait);
                if (r < 0)
                        return log_error_errno(r, "Cannot wait for the network holder: %m");
        }

        if (isempty(arg_control_socket)) {
                (void) sd_notifyf(false, "READY=1\nSTATUS=container %s running (health not checked)", short_id(id));
                ready = true;
        } else {
                r = readiness_start(&rd, arg_control_socket, arg_name);
                if (r < 0) {
                        (void) sd_notifyf(false, "READY=1\nSTATUS=container %s running (health not checked)",
                                          short_id(id));
                        ready = true;
                } else {
                        (void) sd_notifyf(false, "STATUS=container %s started, waiting for first health check",
                                          short_id(id));
                        if (arg_ready_timeout_ms > 0)
                                deadline = now_usec(CLOCK_MONOTONIC) + arg_ready_timeout_ms * USEC_PER_MSEC;
                }
        }

        for (;;) {
                struct curl_waitfd w[2] = {
                        { .fd = d->signal_fd, .events = CURL_WAIT_POLLIN },
                        { .fd = rd.fd, .events = CURL_WAIT_POLLIN },
                };
                int timeout_ms = 60 * 1000;

                if (deadline) {
                        uint64_t now = now_usec(CLOCK_MONOTONIC);
                        timeout_ms = now >= deadline ? 0 : (int) MIN((deadline - now + 999) / 1000, (uint64_t) timeout_ms);
                }
                r = docker_pump(d, w, rd.fd >= 0 ? 2 : 1, timeout_ms);
                if (r < 0) {
                        readiness_stop(&rd);
                        return r;
                }

                if (w[0].revents & CURL_WAIT_POLLIN) {
                        struct signalfd_siginfo si = {};
                        (void) !read(d->signal_fd, &si, sizeof(si));
                        readiness_stop(&rd);
                        log_info("Received %s, stopping the container %s", signal_name((int) si.ssi_signo), short_id(id));
                        (void) sd_notifyf(false, "STOPPING=1\nSTATUS=stopping container %s", short_id(id));
                        (void) container_stop(d, id);
                        *ret_exit = EXIT_SUCCESS;
                        *ret_stopped = true;
                        return 0;
                }

                if (wait->done) {
                        readiness_stop(&rd);
                        *ret_exit = wait_exit_code(wait, id);
                        if (request_result_errno(wait) == 0 && wait->status == 200) {
                                log_event(*ret_exit == 0 ? LOG_INFO : LOG_WARNING, 0, "container-exited", arg_name,
                                          NULL, "Container %s exited with code %d%s", short_id(id), *ret_exit,
                                          ready ? "" : " before it became ready");
                                (void) sd_notifyf(false, "STATUS=container %s exited with code %d", short_id(id),
                                                  *ret_exit);
                        }
                        return 0;
                }

                if (hwait && hwait->done && holder_still_runs(d, holder) && hwait_reopens++ < 3) {
                        /* the wait broke off, but the holder runs: wait again (bounded: a wait that keeps
                         * ending at once is not one to trust) */
                        hwait = request_free(hwait);
                        r = request_new(d, "POST", hpath, NULL, 0, &hwait);
                        if (r >= 0)
                                r = request_add(d, hwait);
                        if (r < 0) {
                                readiness_stop(&rd);
                                return log_error_errno(r, "Cannot wait for the network holder: %m");
                        }
                        continue;
                }
                if (hwait && hwait->done) {
                        readiness_stop(&rd);
                        log_event(LOG_ERR, 0, "holder-exited", arg_name, NULL,
                                  "The network holder %s of %s went away; stopping the container %s", short_id(holder),
                                  arg_name, short_id(id));
                        (void) sd_notify(false, "STATUS=network holder gone");
                        (void) container_stop(d, id);
                        *ret_exit = EXIT_DOCKER;
                        return 0;
                }

                if (rd.fd >= 0 && (w[1].revents & (CURL_WAIT_POLLIN | CURL_WAIT_POLLPRI))) {
                        const char *text;

                        r = readiness_read(&rd);
                        if (r < 0)
                                snprintf(rd.buf, sizeof(rd.buf), "unreachable\tpipe: %s", strerror(-r));
                        if (r == 0)
                                continue;
                        readiness_stop(&rd);
                        text = strchr(rd.buf, '\t');
                        text = text ? text + 1 : "";
                        if (strneq(rd.buf, "unhealthy\t", 10)) {
                                log_event(LOG_ERR, 0, "unhealthy", arg_name, BALLAST_MESSAGE_SERVICE_UNHEALTHY,
                                          "The first health check of %s failed: %s; stopping the container",
                                          arg_name, text);
                                (void) sd_notifyf(false, "STATUS=first health check failed: %s", text);
                                (void) container_stop(d, id);
                                *ret_exit = EXIT_FAILURE;
                                return 0;
                        }
                        if (strneq(rd.buf, "ready\t", 6)) {
                                log_info("First health check of %s passed, ready", arg_name);
                                (void) sd_notifyf(false, "READY=1\nSTATUS=container %s running, healthy", short_id(id));
                        } else if (strneq(rd.buf, "nosuch\t", 7)) {
                                log_notice("ballastd does not know the service %s; ready without a health check", arg_name);
                                (void) sd_notifyf(false, "READY=1\nSTATUS=container %s running (unknown to ballastd)",
                                                  short_id(id));
                        } else if (strneq(rd.buf, "unreachable\t", 12)) {
                                /* Workloads run without ballastd (a reboot where it does not start, an upgrade). */
                                log_notice("ballastd is unreachable (%s): ready, health not checked", text);
                                (void) sd_notifyf(false, "READY=1\nSTATUS=container %s running; ballastd unreachable, "
                                                  "health not checked", short_id(id));
                        } else {
                                log_warning("ballastd answered %s; ready, health not checked", rd.buf);
                                (void) sd_notifyf(false, "READY=1\nSTATUS=container %s running; health not checked",
                                                  short_id(id));
                        }
                        ready = true;
                        deadline = 0;
                        continue;
                }

                if (!ready && deadline && now_usec(CLOCK_MONOTONIC) >= deadline) {
                        readiness_stop(&rd);
                        log_event(LOG_ERR, 0, "ready-timeout", arg_name, BALLAST_MESSAGE_SERVICE_FAILED,
                                  "No health verdict for %s within %" PRIu64 " ms; stopping the container", arg_name,
                                  arg_ready_timeout_ms);
                        (void) sd_notify(false, "STATUS=no health verdict in time");
                        (void) container_stop(d, id);
                        *ret_exit = EXIT_FAILURE;
                        return 0;
                }
        }
}

static int run_docker(void) {
        _cleanup_free_ char *cname = NULL, *hname = NULL, *id = NULL, *holder = NULL;
        _cleanup_request_ Request *wait = NULL;
        _cleanup_close_ int signal_fd = -1;
        Body body = {}, hbody = {};
        Docker d = {};
        sigset_t mask;
        bool stopped = false, reused = false;
        int r, code = EXIT_DOCKER;

        /* SIGTERM/SIGINT are read from a signalfd, so that no blocking step can lose them. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(-errno, "sigprocmask() failed: %m"), EXIT_FAILURE;
        signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (signal_fd < 0)
                return log_error_errno(-errno, "signalfd() failed: %m"), EXIT_FAILURE;
        (void) signal(SIGPIPE, SIG_IGN);

        if (body_load(arg_body, &body) < 0)
                return EXIT_FAILURE;
        if (arg_net_body) {
                if (body_load(arg_net_body, &hbody) < 0) {
                        body_done(&body);
                        return EXIT_FAILURE;
                }
                hbody.holder = true;
        }
        if (asprintf(&cname, "ballast-%s", arg_name) < 0 || asprintf(&hname, "ballast-%s" HOLDER_SUFFIX, arg_name) < 0) {
                body_done(&body);
                body_done(&hbody);
                return log_error_errno(-ENOMEM, "Out of memory"), EXIT_FAILURE;
        }

        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                body_done(&body);
                return log_error("curl_global_init() failed"), EXIT_FAILURE;
        }
        d = (Docker) { .multi = curl_multi_init(), .signal_fd = signal_fd };
        if (!d.multi) {
                log_error("curl_multi_init() failed");
                goto finish;
        }

        /* The crash-loop backoff, here rather than in an ExecStartPre= of its own: one process start less on
         * every restart. A stop request during the sleep ends it. */
        if (arg_backoff) {
                uint64_t delay_ms = 0;

                if (backoff_take(&delay_ms) >= 0 && delay_ms > 0) {
                        (void) sd_notifyf(false, "STATUS=backing off %" PRIu64 " ms after a quick exit", delay_ms);
                        r = sleep_interruptible(&d, delay_ms);
                        if (r == -EINTR) {
                                log_info("Stop requested during the backoff; not starting the container");
                                stopped = true;
                                code = EXIT_SUCCESS;
                                goto finish;
                        }
                }
        }

        r = docker_negotiate(&d);
        if (r >= 0 && hbody.text) {
                r = holder_ensure(&d, &hbody, hname, &holder);
                if (r >= 0)
                        r = body_join_holder(&body, holder);
        }
        if (r >= 0)
                r = container_prepare(&d, &body, cname, true, &id, &(bool) { false }, &reused);
        if (r >= 0)
                r = container_start(&d, id, &wait);
        if (r == -EIO && reused) {
                /* Docker refused to start the stopped container it has (its network removed meanwhile, say):
                 * replace it with a fresh one from the body, once, as a stale container must never block a start.
                 * (It does not help against Docker's own "port is already allocated" after a dockerd killed in
                 * the middle of a start: that allocation lives in dockerd until it restarts.) */
                log_notice("Replacing the container %s, which Docker could not start, with a fresh one", short_id(id));
                id = mfree(id);
                r = container_prepare(&d, &body, cname, false, &id, &(bool) { false }, &reused);
                if (r >= 0)
                        r = container_start(&d, id, &wait);
        }
        if (r == -EINTR) {
                log_info("Stop requested before the container ran; not starting it");
                stopped = true;
                code = EXIT_SUCCESS;
                goto finish;
        }
        if (r < 0)
                goto finish;

        log_event(LOG_INFO, 0, "container-started", arg_name, BALLAST_MESSAGE_STARTED, "Container %s (%s) started",
                  short_id(id), cname);
        (void) sd_notifyf(false, "STATUS=container %s started", short_id(id));

        r = container_supervise(&d, id, wait, holder, &code, &stopped);
        if (r < 0)
                code = EXIT_DOCKER;

finish:
        /* The ports go with the service when it is stopped, or when systemd will not start it again. A stop
         * before we knew the holder (during the backoff) stops it by name: it may run from the last start. */
        if (hbody.text && (stopped || (holder && !restart_follows(code))))
                holder_release(&d, holder ?: hname);
        wait = request_free(wait);
        if (d.multi)
                curl_multi_cleanup(d.multi);
        curl_global_cleanup();
        body_done(&body);
        body_done(&hbody);
        return code;
}

/* ---- command line ------------------------------------------------------------------------------------- */

static void help(void) {
        printf("Usage: ballast-run COMMAND [OPTIONS]\n"
               "\n"
               "The helper that the generated ballast-NAME.service units run. Logs go to stderr (the unit's journal).\n"
               "\n"
               "Commands:\n"
               "  docker    Run the service's container as the unit's main process (ExecStart=, Type=notify):\n"
               "            back off after a quick exit (with --delay-ms), negotiate the Engine API version,\n"
               "            make the network holder ballast-NAME.net run (with --net-body: it publishes the\n"
               "            ports; the container joins its network), reuse the stopped container\n"
               "            ballast-NAME when its io.ballast.hash label matches the body, else replace or\n"
               "            create it, start it, send READY=1 once ballastd says the first health check\n"
               "            passed (at once when ballastd is unreachable), and exit with the container's exit\n"
               "            code when it exits. SIGTERM/SIGINT stop the container (it is kept for a fast\n"
               "            restart) and the holder, and exit 0.\n"
               "  backoff   Crash-loop backoff (ExecStartPre=): sleep 0 after a run that lasted a while, else\n"
               "            twice the previous delay, at least --delay-ms and at most --max-delay-ms.\n"
               "\n"
               "Common options:\n"
               "  --name NAME              the service name ([a-z0-9][a-z0-9-]{0,62}); required\n"
               "  --log-level LEVEL        emerg..debug (default info)\n"
               "  -h, --help               show this help and exit\n"
               "  --version                show the version and exit\n"
               "\n"
               "docker options:\n"
               "  --body FILE              JSON body for POST /containers/create (written by ballastd); required\n"
               "  --net-body FILE          the network holder's body (written by ballastd); without it, the\n"
               "                           container has its own network and publishes its ports itself\n"
               "  --stop-timeout SEC       seconds Docker waits before SIGKILL on stop (default 10)\n"
               "  --docker-socket PATH     the Engine API socket (default /var/run/docker.sock)\n"
               "  --docker-timeout TIME    how long to wait for Docker to come up (default 60s)\n"
               "  --control-socket PATH    ballastd's Varlink socket for the readiness wait\n"
               "                           (default /run/ballast/ballastd.sock; \"\" skips the wait)\n"
               "  --ready-timeout TIME     give up (stop the container, exit 1) when no health verdict came within\n"
               "                           TIME (default infinity: systemd's TimeoutStartSec= bounds it)\n"
               "  --restart POLICY         the unit's Restart= (always, on-failure, no): when the container's exit\n"
               "                           ends the service for good, the network holder is stopped too\n"
               "  --pause PATH             the holder's program (default: ballast-pause beside ballast-run)\n"
               "\n"
               "backoff options (docker: backs off itself when --delay-ms is given):\n"
               "  --delay-ms MS            the first backoff step (default 500)\n"
               "  --max-delay-ms MS        the longest backoff (default 60000)\n"
               "  --stable-ms MS           how long a run must last to reset the backoff (default 10000)\n"
               "  --state-dir DIR          where the per-service state lives (default /run/ballast/backoff)\n"
               "\n"
               "TIME is a number of seconds, or a number with ms, s or min.\n"
               "\n"
               "Exit status: docker: the container's exit code (137 after SIGKILL); 0 after a stop by\n"
               "SIGTERM/SIGINT; 1 when the first health check failed, the body is missing or invalid; 125 when\n"
               "Docker is unreachable or refuses to create or start the container, or the wait broke off.\n"
               "backoff: 0. Both: 2 for a usage error.\n");
}

enum {
        OPT_NAME = 0x100,
        OPT_BODY,
        OPT_STOP_TIMEOUT,
        OPT_DOCKER_SOCKET,
        OPT_DOCKER_TIMEOUT,
        OPT_CONTROL_SOCKET,
        OPT_READY_TIMEOUT,
        OPT_DELAY_MS,
        OPT_MAX_DELAY_MS,
        OPT_STABLE_MS,
        OPT_STATE_DIR,
        OPT_PAUSE,
        OPT_NET_BODY,
        OPT_RESTART,
        OPT_LOG_LEVEL,
        OPT_VERSION,
};

typedef enum Command {
        COMMAND_NONE,
        COMMAND_DOCKER,
        COMMAND_BACKOFF,
} Command;

static const char *option_name(const struct option *options, int val) {
        for (; options->name; options++)
                if (options->val == val)
                        return options->name;
        return "?";
}

_printf_(1, 2) static int usage_error(const char *format, ...) {
        va_list ap;

        fprintf(stderr, "ballast-run: ");
        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fprintf(stderr, "\nTry 'ballast-run --help'.\n");
        return -EINVAL;
}

/* Returns 1 to go on, 0 to exit successfully (--help), -EINVAL for a usage error. */
static int parse_argv(int argc, char *argv[], Command *ret_command) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, OPT_VERSION },
                { "name", required_argument, NULL, OPT_NAME },
                { "body", required_argument, NULL, OPT_BODY },
                { "stop-timeout", required_argument, NULL, OPT_STOP_TIMEOUT },
                { "docker-socket", required_argument, NULL, OPT_DOCKER_SOCKET },
                { "docker-timeout", required_argument, NULL, OPT_DOCKER_TIMEOUT },
                { "control-socket", required_argument, NULL, OPT_CONTROL_SOCKET },
                { "ready-timeout", required_argument, NULL, OPT_READY_TIMEOUT },
                { "delay-ms", required_argument, NULL, OPT_DELAY_MS },
                { "max-delay-ms", required_argument, NULL, OPT_MAX_DELAY_MS },
                { "stable-ms", required_argument, NULL, OPT_STABLE_MS },
                { "state-dir", required_argument, NULL, OPT_STATE_DIR },
                { "pause", required_argument, NULL, OPT_PAUSE },
                { "net-body", required_argument, NULL, OPT_NET_BODY },
                { "restart", required_argument, NULL, OPT_RESTART },
                { "log-level", required_argument, NULL, OPT_LOG_LEVEL },
                {}
        };
        /* which options belong to only one command (the backoff's belong to both: `docker` backs off itself
         * when given --delay-ms) */
        static const struct {
                int opt;
                Command command;
        } owner[] = {
                { OPT_BODY, COMMAND_DOCKER },           { OPT_STOP_TIMEOUT, COMMAND_DOCKER },
                { OPT_DOCKER_SOCKET, COMMAND_DOCKER },  { OPT_DOCKER_TIMEOUT, COMMAND_DOCKER },
                { OPT_CONTROL_SOCKET, COMMAND_DOCKER }, { OPT_READY_TIMEOUT, COMMAND_DOCKER },
                { OPT_PAUSE, COMMAND_DOCKER },          { OPT_RESTART, COMMAND_DOCKER },
                { OPT_NET_BODY, COMMAND_DOCKER },
        };
        Command command = COMMAND_NONE;
        int c, r;

        /* The command comes first; "ballast-run --help" works without one. */
        if (argc >= 2 && argv[1][0] != '-') {
                if (streq(argv[1], "docker"))
                        command = COMMAND_DOCKER;
                else if (streq(argv[1], "backoff"))
                        command = COMMAND_BACKOFF;
                else
                        return usage_error("unknown command '%s'", argv[1]);
                argv[1] = argv[0];
                argc--;
                argv++;
        }

        opterr = 0;
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0) {
                for (size_t i = 0; i < ELEMENTSOF(owner); i++)
                        if (owner[i].opt == c && owner[i].command != command)
                                return usage_error("option '--%s' does not belong to %s", option_name(options, c),
                                                   command == COMMAND_NONE ? "no command (give docker or backoff first)"
                                                   : command == COMMAND_DOCKER ? "docker" : "backoff");
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case OPT_VERSION:
                        printf("ballast-run %s\n", PACKAGE_VERSION);
                        return 0;
                case OPT_NAME:
                        if (!name_is_valid(optarg))
                                return usage_error("invalid service name '%s'%s", optarg,
                                                   " (expected [a-z0-9][a-z0-9-]{0,62})");
                        arg_name = optarg;
                        break;
                case OPT_BODY:
                        arg_body = optarg;
                        break;
                case OPT_STOP_TIMEOUT:
                        if (safe_atou(optarg, &arg_stop_timeout_s) < 0 || arg_stop_timeout_s > 24 * 3600)
                                return usage_error("invalid --stop-timeout '%s' (whole seconds)", optarg);
                        break;
                case OPT_DOCKER_SOCKET:
                        if (optarg[0] != '/')
                                return usage_error("--docker-socket '%s' is not an absolute path", optarg);
                        arg_docker_socket = optarg;
                        break;
                case OPT_DOCKER_TIMEOUT:
                        if (parse_duration_ms(optarg, 1000, false, &arg_docker_timeout_ms) < 0)
                                return usage_error("invalid --docker-timeout '%s'", optarg);
                        break;
                case OPT_CONTROL_SOCKET:
                        if (optarg[0] && optarg[0] != '/')
                                return usage_error("--control-socket '%s' is not an absolute path", optarg);
                        arg_control_socket = optarg;
                        break;
                case OPT_READY_TIMEOUT:
                        if (parse_duration_ms(optarg, 1000, true, &arg_ready_timeout_ms) < 0)
                                return usage_error("invalid --ready-timeout '%s'", optarg);
                        break;
                case OPT_DELAY_MS:
                        if (parse_duration_ms(optarg, 1, false, &arg_delay_ms) < 0)
                                return usage_error("invalid --delay-ms '%s'", optarg);
                        arg_backoff = true;
                        break;
                case OPT_MAX_DELAY_MS:
                        if (parse_duration_ms(optarg, 1, false, &arg_max_delay_ms) < 0)
                                return usage_error("invalid --max-delay-ms '%s'", optarg);
                        break;
                case OPT_STABLE_MS:
                        if (parse_duration_ms(optarg, 1, false, &arg_stable_ms) < 0)
                                return usage_error("invalid --stable-ms '%s'", optarg);
                        break;
                case OPT_STATE_DIR:
                        if (optarg[0] != '/')
                                return usage_error("--state-dir '%s' is not an absolute path", optarg);
                        arg_state_dir = optarg;
                        break;
                case OPT_NET_BODY:
                        arg_net_body = optarg;
                        break;
                case OPT_PAUSE:
                        if (optarg[0] != '/')
                                return usage_error("--pause '%s' is not an absolute path", optarg);
                        arg_pause = optarg;
                        break;
                case OPT_RESTART:
                        if (streq(optarg, "always"))
                                arg_restart = RESTART_ALWAYS;
                        else if (streq(optarg, "on-failure"))
                                arg_restart = RESTART_ON_FAILURE;
                        else if (streq(optarg, "no"))
                                arg_restart = RESTART_NO;
                        else
                                return usage_error("invalid --restart '%s' (always, on-failure or no)", optarg);
                        break;
                case OPT_LOG_LEVEL:
                        r = log_parse_level(optarg);
                        if (r < 0)
                                return usage_error("invalid --log-level '%s'", optarg);
                        log_set_max_level(r);
                        break;
                case '?':
                        if (optopt)
                                return usage_error("option '%s' needs an argument", argv[optind - 1]);
                        return usage_error("unknown option '%s'", argv[optind - 1]);
                default:
                        return usage_error("unexpected option");
                }
        }
        if (optind < argc)
                return usage_error("unexpected argument '%s'", argv[optind]);
        if (command == COMMAND_NONE)
                return usage_error("no command given (docker or backoff)");
        if (!arg_name)
                return usage_error("--name is required");
        if (command == COMMAND_DOCKER && !arg_body)
                return usage_error("--body is required");
        if (arg_max_delay_ms < arg_delay_ms)
                log_warning("--max-delay-ms %" PRIu64 " is below --delay-ms %" PRIu64 "; the backoff never exceeds the "
                            "former", arg_max_delay_ms, arg_delay_ms);
        *ret_command = command;
        return 1;
}

int main(int argc, char *argv[]) {
        Command command = COMMAND_NONE;
        int r;

        /* stderr is the unit's journal stream: "<N>" prefixes keep the priorities, and the stream keeps the
         * lines attributed to the unit even when we exit right after writing them. */
        log_setup(LOG_TARGET_STDERR, -1);
        r = parse_argv(argc, argv, &command);
        if (r <= 0)
                return r < 0 ? EXIT_USAGE : EXIT_SUCCESS;

        switch (command) {
        case COMMAND_DOCKER:
                return run_docker();
        case COMMAND_BACKOFF:
                return run_backoff();
        default:
                return EXIT_USAGE;
        }
}
