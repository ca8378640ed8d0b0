/* SPDX-License-Identifier: MIT */
#pragma once

/* The varlink tests' fixture (tests/unit/varlink-fixture.c): the test server in a child, and the client side's
 * helpers. Programs call varlink_fixture_start(), their tests, then return varlink_fixture_finish(). */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>

#include <jansson.h>

#include "shared/macro.h"
#include "shared/time-util.h"
#include "varlink/varlink-client.h"
#include "varlink/varlink.h"

#define MAX_MESSAGE 4096
#define STALL_MS 300
#define MAX_CONNECTIONS 60
#define WRITE_GID 4242
#define NOBODY 65534
#define TIMEOUT_USEC (2 * USEC_PER_SEC)

/* the server's socket, in a fresh folder */
extern char tmpdir[];
extern char sock_path[sizeof(((struct sockaddr_un *) NULL)->sun_path)];
extern pid_t server_pid;
/* {} for calls without parameters: varlink_client_send() leaks the object it makes for NULL (see
 * test_client_leaks()), which would bury everything else valgrind has to say */
extern json_t *no_params;
/* jansson's allocations not yet freed (the fixture's counting allocator) */
extern long live_json_allocs;
/* valgrind makes everything slower: "prompt" then means within a wider bound */
extern unsigned slow;

/* A raw connection: bytes in, NUL-terminated messages out. */
typedef struct Raw {
        int fd;
        char buf[64 * 1024];
        size_t size;
} Raw;

int varlink_fixture_start(void);
int varlink_fixture_finish(void);

int64_t now_ms(void);
void sleep_ms(unsigned ms);
json_t *parse(const char *text);
/* is the reply's parameters object exactly this JSON? */
int is_json(json_t *got, const char *want, const char *what);
VarlinkClient *client(void);
/* One call; checks the error name (NULL: success) and the parameters exactly. */
void check_call(VarlinkClient *c, const char *method, const char *params, const char *want_error,
                const char *want_params);
/* A write method: root may call it; anyone else (not in the write group) gets PermissionDenied. */
void check_write(VarlinkClient *c);
Raw *raw_connect(void);
void raw_free(Raw *r);
DEFINE_CLEANUP_FUNC(Raw *, raw_free);
int raw_send(Raw *r, const void *data, size_t size);
/* Reads one message. -ETIMEDOUT, -ECONNRESET when the server closed (EOF or reset), -EBADMSG. */
int raw_read(Raw *r, unsigned timeout_ms, json_t **ret);
/* A call message of exactly size bytes (without the NUL): GetStatus with a padding string of PAD_LENGTH(size). */
#define PAD_HEAD "{\"method\":\"io.ballast.Agent.GetStatus\",\"parameters\":{\"pad\":\""
#define PAD_TAIL "\"}}"
#define PAD_LENGTH(size) ((size) - (sizeof(PAD_HEAD) - 1) - (sizeof(PAD_TAIL) - 1))
char *message_of_size(size_t size);
