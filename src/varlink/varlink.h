/* SPDX-License-Identifier: MIT */
#pragma once

/* The Varlink server of the control socket: NUL-terminated JSON messages on SOCK_STREAM, many clients on the one
 * sd-event loop. It frames, parses, checks peers and limits, and dispatches to a method table; it knows nothing
 * of what the methods do. A method replies at once or keeps a reference to the call and replies later. */

#include <jansson.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>

#include "shared/json-util.h"
#include "shared/macro.h"

typedef struct VarlinkServer VarlinkServer;
typedef struct VarlinkCall VarlinkCall;

typedef int (*VarlinkMethodFunc)(VarlinkCall *call, json_t *parameters, void *userdata);

typedef enum VarlinkMethodFlags {
        VARLINK_METHOD_WRITE = 1 << 0, /* changes state: needs root or the control group */
        VARLINK_METHOD_MORE = 1 << 1,  /* may answer "more" calls with several replies */
} VarlinkMethodFlags;

typedef struct VarlinkMethod {
        const char *name; /* fully qualified: "io.ballast.Agent.GetStatus" */
        VarlinkMethodFunc func;
        VarlinkMethodFlags flags;
} VarlinkMethod;

typedef struct VarlinkLimits {
        size_t max_message_size;   /* bytes of one message, NUL excluded */
        unsigned max_connections;
        uint64_t stall_usec;       /* a started message must be complete, or pending output drained, by then */
        uint64_t idle_usec;        /* a connection with nothing going on is closed after this */
        /* The memory bound: input buffers of all connections together (a connection whose partial message would
         * grow them past it gets ServerBusy and is closed; root's are exempt), and connections of one uid other
         * than root. 0: the defaults below. */
        size_t max_buffered;
        unsigned max_connections_per_uid;
} VarlinkLimits;

#define VARLINK_DEFAULT_MAX_MESSAGE_SIZE (128U * 1024U)
#define VARLINK_DEFAULT_MAX_CONNECTIONS 1024U
#define VARLINK_DEFAULT_MAX_BUFFERED (16U * 1024U * 1024U)
#define VARLINK_DEFAULT_MAX_CONNECTIONS_PER_UID 64U
#define VARLINK_INPUT_CHUNK 4096U  /* input buffers grow from this, doubling, up to max_message_size + 2 */

int varlink_server_new(VarlinkServer **ret, sd_event *event, const VarlinkMethod *methods, void *userdata);
VarlinkServer *varlink_server_free(VarlinkServer *s);
DEFINE_CLEANUP_FUNC(VarlinkServer *, varlink_server_free);

void varlink_server_set_limits(VarlinkServer *s, const VarlinkLimits *limits);
/* Writers must be root or in this group (by primary or supplementary group). (gid_t) -1: root only. */
void varlink_server_set_write_group(VarlinkServer *s, gid_t gid);
/* Sets the reply to GetInfo and the texts of GetInterfaceDescription (NULL-terminated pairs name, text). */
void varlink_server_set_info(VarlinkServer *s, const char *vendor, const char *product, const char *version,
                             const char *url, const char *const *interfaces);

int varlink_server_listen_fd(VarlinkServer *s, int fd);
/* Binds and listens on a path, replacing a stale socket, with mode and group. */
int varlink_server_listen_path(VarlinkServer *s, const char *path, mode_t mode, gid_t gid);
unsigned varlink_server_n_connections(VarlinkServer *s);

/* The counters of one method of the table: calls dispatched to it (the writer check included), and those
 * answered with an error while the client was connected. The i-th method of the table; -ENOENT past its end. */
typedef struct VarlinkMethodStats {
        const char *method;
        uint64_t calls, errors;
} VarlinkMethodStats;
int varlink_server_method_stats(VarlinkServer *s, size_t i, VarlinkMethodStats *ret);

VarlinkCall *varlink_call_ref(VarlinkCall *c);
VarlinkCall *varlink_call_unref(VarlinkCall *c);
DEFINE_CLEANUP_FUNC(VarlinkCall *, varlink_call_unref);

/* Replies take ownership of parameters (may be NULL for {}). After the final reply the call is over. */
int varlink_call_reply(VarlinkCall *c, json_t *parameters);
/* A reply with "continues": true, for calls made with "more". */
int varlink_call_notify(VarlinkCall *c, json_t *parameters);
int varlink_call_error(VarlinkCall *c, const char *error, json_t *parameters);
/* org.varlink.service.InvalidParameter for the first component of a dispatch error's path. */
int varlink_call_error_invalid_parameter(VarlinkCall *c, const char *parameter);

bool varlink_call_wants_more(VarlinkCall *c);
bool varlink_call_is_connected(VarlinkCall *c);
const struct ucred *varlink_call_peer(VarlinkCall *c);
/* Whether the caller may call write methods (root or the write group). */
bool varlink_call_may_write(VarlinkCall *c);
/* Called once if the peer goes away before the call's final reply (the call is not connected any more by then):
 * whoever keeps a call waiting drops it there. NULL unsets. */
typedef void (*VarlinkCallDisconnectFunc)(VarlinkCall *c, void *userdata);
void varlink_call_set_disconnect(VarlinkCall *c, VarlinkCallDisconnectFunc f, void *userdata);
