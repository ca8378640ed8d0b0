/* SPDX-License-Identifier: MIT */
/* The control socket end to end: the real ballastd Manager (src/daemon/manager.c) started on a configuration that does
 * not parse, the state in which it serves the socket and nothing else ("always up"), with its real Varlink server
 * (src/varlink/varlink.c: framing, envelope, limits, dispatch) and method table (src/daemon/control.c: each method's parameter
 * checks, NotReady for what needs the modules). Each input is one client connection: the bytes are sent in
 * chunks whose sizes follow from the first byte (so messages arrive split at every point), the loop runs between
 * chunks, then the client shuts down its side and closes.
 *
 * The only change from the daemon: messages are limited to 512 bytes instead of 128 KiB, so that inputs of a few
 * KiB reach MessageTooLarge. The deeper parameters (ApplyService's spec) are fuzz-spec's business.
 *
 * Invariants: every reply is a NUL-terminated JSON object with object "parameters", and "error" a string when
 * present; there are never more replies than messages (+1 for the refusal of an unterminated one); nothing is
 * answered after a protocol error (the connection is closed); once the client is gone, the server holds no
 * connection. */

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fuzz.h"
#include "daemon/manager.h"
#include "shared/fileio.h"
#include "shared/json-util.h"
#include "shared/log.h"

#define MAX_MESSAGE 512
#define LOOP_MAX 10000

static Manager *manager;
static char dir[] = "/tmp/ballast-fuzz-varlink.XXXXXX";
static char sock_path[sizeof(((struct sockaddr_un *) NULL)->sun_path)];

static void cleanup(void) {
        manager = manager_free(manager);
        (void) unlink(sock_path);
        if (dir[strlen(dir) - 1] != 'X') {
                char cfg[sizeof(dir) + 32];
                snprintf(cfg, sizeof(cfg), "%s/ballast.json", dir);
                (void) unlink(cfg);
                (void) rmdir(dir);
        }
}

static void setup(void) {
        char cfg[sizeof(dir) + 32];
        int r;

        log_set_max_level(LOG_CRIT);
        FUZZ_CHECK(mkdtemp(dir));
        atexit(cleanup);
        snprintf(cfg, sizeof(cfg), "%s/ballast.json", dir);
        snprintf(sock_path, sizeof(sock_path), "%s/ballastd.sock", dir);
        /* a configuration that does not parse: ballastd serves the socket and starts no module */
        FUZZ_CHECK(write_file_atomic(cfg, "{", 1, 0644) >= 0);
        r = manager_new(&manager, &(ManagerOptions) { .config_path = "/ballast.json", .root = dir,
                                                      .socket_path = sock_path });
        FUZZ_CHECK(r >= 0);
        r = manager_start(manager);
        FUZZ_CHECK(r >= 0);
        FUZZ_CHECK(manager->config_error && !manager->supervisor);
        varlink_server_set_limits(manager->varlink, &(VarlinkLimits) {
                .max_message_size = MAX_MESSAGE,
                .max_connections = 16,
                .stall_usec = 10 * USEC_PER_SEC,
                .idle_usec = 300 * USEC_PER_SEC,
        });
}

static void run_loop(void) {
        for (unsigned i = 0; i < LOOP_MAX; i++) {
                int r = sd_event_run(manager->event, 0);
                FUZZ_CHECK(r >= 0);
                if (r == 0)
                        return;
        }
        FUZZ_CHECK(!"the loop did not settle");
}

typedef struct Replies {
        char buf[1024 * 1024];
        size_t size;
        bool eof;
} Replies;

static void drain(int fd, Replies *out) {
        for (;;) {
                ssize_t k;
                FUZZ_CHECK(out->size < sizeof(out->buf)); /* replies are bounded by the input */
                k = recv(fd, out->buf + out->size, sizeof(out->buf) - out->size, MSG_DONTWAIT);
                if (k == 0)
                        out->eof = true;
                if (k <= 0)
                        return;
                out->size += (size_t) k;
        }
}

static unsigned check_replies(const Replies *out) {
        unsigned n = 0;
        size_t start = 0;
        bool closed = false;

        for (size_t i = 0; i < out->size; i++) {
                _cleanup_json_ json_t *v = NULL;
                json_t *p, *e;

                if (out->buf[i] != 0)
                        continue;
                v = json_loadb(out->buf + start, i - start, 0, NULL);
                FUZZ_CHECK(json_is_object(v));
                p = json_object_get(v, "parameters");
                e = json_object_get(v, "error");
                FUZZ_CHECK(json_is_object(p));
                FUZZ_CHECK(!e || json_is_string(e));
                /* after a protocol error the connection is closed: nothing follows it */
                FUZZ_CHECK(!closed);
                closed = e && (streq(json_string_value(e), "io.ballast.Agent.InvalidMessage") ||
                               streq(json_string_value(e), "io.ballast.Agent.MessageTooLarge"));
                n++;
                start = i + 1;
        }
        FUZZ_CHECK(start == out->size); /* no partial reply once the server is done */
        return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static Replies out;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        unsigned seed, n_messages = 0, replies;
        size_t off = 1;
        int fd;

        if (!manager)
                setup();
        if (size == 0)
                return 0;
        seed = data[0];
        out.size = 0;
        out.eof = false;
        for (size_t i = 1; i < size; i++)
                n_messages += data[i] == 0;

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        FUZZ_CHECK(fd >= 0);
        strcpy(sa.sun_path, sock_path);
        FUZZ_CHECK(connect(fd, (struct sockaddr *) &sa, sizeof(sa)) >= 0);
        run_loop();
        FUZZ_CHECK(varlink_server_n_connections(manager->varlink) == 1);

        while (off < size && !out.eof) {
                /* chunks of 1 to 64 bytes, or everything at once when the seed's low bits say so */
                size_t chunk = (seed & 7) == 0 ? size - off : 1 + (seed % 64);
                ssize_t k;

                seed = seed * 1103515245u + 12345u;
                seed = (seed >> 16) & 0xff;
                chunk = MIN(chunk, size - off);
                k = send(fd, data + off, chunk, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (k < 0) {
                        /* the server closed after a protocol error, or its buffer is full until it reads */
                        FUZZ_CHECK(errno == EPIPE || errno == ECONNRESET || errno == EAGAIN);
                        if (errno != EAGAIN)
                                break;
                        k = 0;
                }
                off += (size_t) k;
                run_loop();
                drain(fd, &out);
        }
        (void) shutdown(fd, SHUT_WR);
        run_loop();
        drain(fd, &out);
        replies = check_replies(&out);
        if (getenv("FUZZ_VERBOSE")) /* what the server said, to see what a corpus file reaches */
                for (size_t i = 0, start = 0; i < out.size; i++)
                        if (out.buf[i] == 0) {
                                fprintf(stderr, "reply: %s\n", out.buf + start);
                                start = i + 1;
                        }
        FUZZ_CHECK(replies <= n_messages + 1);
        close(fd);
        run_loop();
        FUZZ_CHECK(varlink_server_n_connections(manager->varlink) == 0);
        return 0;
}
