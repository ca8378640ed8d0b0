/* SPDX-License-Identifier: MIT */
#pragma once

/* The FleetLock endpoint tests' fixture (tests/unit/lockserver-fixture.c), for test-lockserver and
 * test-lockserver-limits. Programs call lockserver_fixture_start(), their tests, then return
 * lockserver_fixture_finish(). */

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>
#include <systemd/sd-event.h>

#include "updates/lockserver.h"

/* ---- the handler: what the policy would answer ---- */

typedef enum Mode {
        MODE_ALLOW,
        MODE_BUSY,       /* -EBUSY: 409 */
        MODE_AGAIN,      /* -EAGAIN: 409 */
        MODE_FAIL,       /* -EIO: 500 */
        MODE_DASHED,     /* -EBUSY with a kind that has a '-' */
        MODE_NO_KIND,    /* -EIO without kind or value */
} Mode;

typedef struct HandlerState {
        Mode mode;
        unsigned calls;
        LockServerOp op;
        char id[300], group[300];
} HandlerState;

extern HandlerState H;
int handler(LockServerOp op, const char *id, const char *group, const char **ret_kind, char **ret_value,
            void *userdata);

/* ---- running a client while the loop runs ---- */

extern sd_event *E;
extern LockServer *S;
extern char BASE[64]; /* http://127.0.0.1:PORT/ */
extern CURL *shared_handle; /* keeps its connection between calls, as Zincati's client does */

typedef struct Call {
        const char *method; /* default POST */
        const char *path;   /* joined onto BASE */
        const char *body;   /* NULL: none */
        size_t body_size;   /* 0: strlen(body) */
        bool no_header;     /* no fleet-lock-protocol header */
        const char *header; /* another value of it */
        bool chunked;
        bool fresh;         /* a new connection (curl_easy_reset is not enough to say it) */
        long timeout_ms;

        /* results */
        CURLcode rc;
        long status;
        char *response;
        size_t response_size;
        char allow[64];
        char content_type[64];
} Call;

void perform(CURL *h, Call *c);
/* Runs fn(arg) in a thread while this thread runs the loop, at most max_sec. */
bool run_with_loop(void (*fn)(void *), void *arg, unsigned max_sec);
Call *call(Call *c);
/* The error document: {"kind":…,"value":…}, and nothing else. */
bool error_doc(const Call *c, const char *kind, const char *value);
void call_reset(Call *c);

/* ---- raw sockets ---- */

int raw_connect(void);
/* Runs the loop until fd is closed by the peer (EOF or reset), at most max_msec; what was read goes to buf. */
bool wait_closed(int fd, unsigned max_msec, char *buf, size_t size);
/* Sends a whole request and returns the whole answer (the request says "Connection: close"). */
bool raw_exchange(const char *request, char *buf, size_t size);

/* ---- Zincati's request ---- */

#define ZINCATI_ID "e0f3745b108f471cbd4883c6fbed8cdd"
/* what Zincati's ClientBuilder sends: serde_json::to_string_pretty() of its ClientIdentity */
extern const char zincati_body[];

int lockserver_fixture_start(void);
int lockserver_fixture_finish(void);
