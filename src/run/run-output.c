/* SPDX-License-Identifier: MIT */
/* The container's output in the unit's journal: an attach to the container (POST /containers/ID/attach,
 * stream=1, stdout and stderr, no history) that is one more transfer on the same curl multi handle as every
 * other request, so it moves whenever ballast-run waits for anything and never holds up its other duties.
 *
 * Docker answers the attach with "200 OK" and then the raw stream until the container's streams close (the
 * container exited) or dockerd goes away. Without a TTY the stream is multiplexed: frames of an 8-byte header
 * (stream: 1 stdout, 2 stderr; 3 zero bytes; the payload's size, big-endian u32) and the payload. Each stream's
 * bytes are cut into lines here and every line is written with one write() to our stdout or stderr, which
 * systemd connects to the journal under the unit: "<6>" before a line of the container's stdout and "<3>"
 * before one of its stderr (SyslogLevelPrefix=, on by default, makes them the entry's priority, as Docker's
 * journald driver did, and keeps a "<N>" the container prints itself as text). A line longer than
 * OUTPUT_LINE_MAX is written in pieces of that size: memory stays bounded whatever the container prints. */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "run/run.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/time-util.h"

/* How often an attach that ended while the container runs is opened again, per run of ballast-run. */
#define OUTPUT_REOPENS_MAX 5U

static void output_write_line(Output *o, unsigned stream, bool partial) {
        static const char *const prefix[2] = { "<6>", "<3>" };
        OutputLine *l = &o->line[stream];
        struct iovec iov[3] = {
                { .iov_base = (char *) prefix[stream], .iov_len = 3 },
                { .iov_base = l->buf, .iov_len = l->size },
                { .iov_base = (char *) "\n", .iov_len = 1 },
        };

        if (l->size == 0 && partial)
                return;
        /* One write per line, so that our own log lines (stderr, the same journal stream) never cut into it.
         * A journal that is gone (EPIPE) loses the line, as it would lose ours. */
        (void) !writev(stream == 0 ? STDOUT_FILENO : STDERR_FILENO, iov, 3);
        l->size = 0;
        o->lines++;
}

/* Payload bytes of one stream (0 stdout, 1 stderr): cut into lines. */
static void output_feed(Output *o, unsigned stream, const char *p, size_t n) {
        OutputLine *l = &o->line[stream];

        while (n > 0) {
                const char *nl = memchr(p, '\n', n);
                size_t take = nl ? (size_t) (nl - p) : n;

                take = MIN(take, OUTPUT_LINE_MAX - l->size);
                memcpy(l->buf + l->size, p, take);
                l->size += take;
                p += take;
                n -= take;
                if (n > 0 && *p == '\n') {
                        output_write_line(o, stream, false);
                        p++;
                        n--;
                } else if (l->size == OUTPUT_LINE_MAX)
                        output_write_line(o, stream, false);
        }
}

/* curl's write callback of the attach: the stream, demultiplexed unless the container has a TTY. */
static size_t output_write_cb(char *p, size_t size, size_t nmemb, void *userdata) {
        Output *o = userdata;
        size_t n = size * nmemb, left = n;

        if (o->req && o->req->status != 200)
                return n; /* an error answer ({"message": …}) is not output; the end says what it was */
        if (o->tty) {
                output_feed(o, 0, p, n);
                return n;
        }
        while (left > 0) {
                if (o->frame_left == 0) {
                        size_t take = MIN(left, sizeof(o->header) - o->header_size);

                        memcpy(o->header + o->header_size, p, take);
                        o->header_size += take;
                        p += take;
                        left -= take;
                        if (o->header_size < sizeof(o->header))
                                break;
                        o->header_size = 0;
                        /* 1 stdout, 2 stderr, 3 Docker's own error about the stream: to stderr too */
                        o->frame_stream = o->header[0] >= 2 ? 1 : 0;
                        o->frame_left = (size_t) o->header[4] << 24 | (size_t) o->header[5] << 16 |
                                        (size_t) o->header[6] << 8 | (size_t) o->header[7];
                        continue;
                }
                size_t take = MIN(left, o->frame_left);
                output_feed(o, o->frame_stream, p, take);
                o->frame_left -= take;
                p += take;
                left -= take;
        }
        return n;
}

/* Opens the attach to the container id (tty: the body's "Tty"). Not yet connected when this returns: see
 * output_wait_open(). Failures are logged and leave the service running without its output. */
int output_attach(Docker *d, Output *o, const char *id, bool tty) {
        _cleanup_free_ char *path = NULL;
        int r;

        o->req = request_free(o->req);
        o->tty = tty;
        o->header_size = 0;
        o->frame_left = 0;
        if (asprintf(&path, "/containers/%s/attach?stream=1&stdout=1&stderr=1&logs=0", id) < 0)
                return log_error_errno(-ENOMEM, "Out of memory");
        r = request_new(d, "POST", path, NULL, 0, &o->req);
        if (r >= 0 && (curl_easy_setopt(o->req->easy, CURLOPT_WRITEFUNCTION, output_write_cb) != CURLE_OK ||
                       curl_easy_setopt(o->req->easy, CURLOPT_WRITEDATA, o) != CURLE_OK))
                r = -EIO;
        if (r >= 0)
                r = request_add(d, o->req);
        if (r < 0) {
                o->req = request_free(o->req);
                return log_warning_errno(r, "Cannot attach to the container %s; its output is not in this unit's "
                                            "journal: %m", short_id(id));
        }
        return 0;
}

/* Waits (at most timeout_ms) until Docker has answered the attach, so that a start right after it misses no
 * output. -EINTR when SIGTERM/SIGINT is pending. A refused or broken attach is logged and is not an error. */
int output_wait_open(Docker *d, Output *o, uint64_t timeout_ms) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + timeout_ms * USEC_PER_MSEC;
        char msg[512];
        int r;

        while (o->req && !o->req->headers_done && !o->req->done) {
                struct curl_waitfd w = { .fd = d->signal_fd, .events = CURL_WAIT_POLLIN };

                r = docker_pump(d, &w, 1, 100);
                if (r < 0)
                        return r;
                if (w.revents & CURL_WAIT_POLLIN)
                        return -EINTR;
                if (now_usec(CLOCK_MONOTONIC) > deadline) {
                        log_warning("Docker did not answer the attach within %" PRIu64 " ms; going on without it",
                                    timeout_ms);
                        return 0;
                }
        }
        if (o->req && o->req->headers_done && o->req->status != 200)
                log_warning("Docker refused the attach (%s); the container's output is not in this unit's journal",
                            request_message(o->req, msg, sizeof(msg)));
        return 0;
}

/* The attach ended while the container may still run (dockerd restarted under a live container, say): opens
 * it again, a bounded number of times. Called by the supervision loop once it is done. */
void output_reattach(Docker *d, Output *o, const char *id) {
        if (!o->req || !o->req->done)
                return;
        output_flush(o);
        if (o->reopens >= OUTPUT_REOPENS_MAX) {
                if (o->reopens++ == OUTPUT_REOPENS_MAX)
                        log_warning("The attach to the container %s keeps ending; its further output is not in this "
                                    "unit's journal", short_id(id));
                o->req = request_free(o->req);
                return;
        }
        o->reopens++;
        log_debug("The attach to the container %s ended (%s); attaching again", short_id(id),
                  request_error(o->req));
        (void) output_attach(d, o, id, o->tty);
}

/* After the container exited: lets the attach deliver what Docker still has (it ends when the container's
 * streams are closed), at most timeout_ms, then writes out any partial lines. */
void output_drain(Docker *d, Output *o, uint64_t timeout_ms) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + timeout_ms * USEC_PER_MSEC;

        while (o->req && !o->req->done && o->req->headers_done && now_usec(CLOCK_MONOTONIC) < deadline)
                if (docker_pump(d, NULL, 0, 50) < 0)
                        break;
        output_flush(o);
}

/* Writes out the partial lines. */
void output_flush(Output *o) {
        for (unsigned s = 0; s < 2; s++)
                output_write_line(o, s, true);
}

void output_done(Output *o) {
        output_flush(o);
        o->req = request_free(o->req);
}
