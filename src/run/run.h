/* SPDX-License-Identifier: MIT */
#pragma once

/* ballast-run's own pieces, shared by its files and by nothing else:
 *
 *   ballast-run.c      main, the command line, the docker command's main path
 *   run-engine.c       the Engine API over libcurl: requests, the one poll, version negotiation
 *   run-container.c    the service's container: its body, pull, prepare (reuse/replace/create), start, stop,
 *                      and the supervision loop until it exits
 *   run-holder.c       the network holder: the pause image, the holder container, joining its network
 *   run-ready.c        readiness: ballastd's first health check, asked from a child
 *   run-backoff.c      the crash-loop backoff
 *   run-output.c       the container's output, attached and written to our stdout/stderr (the unit's journal) */

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "shared/docker-api.h"
#include "shared/macro.h"

/* The Engine API versions we speak (shared/docker-api.h); the server's version decides within that range (see
 * docker_negotiate()). */
#define API_OUR_MAX_MINOR ((unsigned) DOCKER_API_MAX_MINOR)
#define API_OUR_MIN_MINOR ((unsigned) DOCKER_API_MIN_MINOR)
/* POST /containers/ID/wait?condition=next-exit exists from 1.30 on (Docker 17.06). */
#define API_NEXT_EXIT_MINOR 30U

#define HASH_LABEL "io.ballast.hash"
#define BODY_MAX (1024U * 1024U)
#define RESPONSE_MAX (4U * 1024U * 1024U)
#define PULL_TAIL_MAX (16U * 1024U)

/* Exit codes of our own failures. Otherwise `docker` exits with the container's exit code. */
#define EXIT_USAGE 2
#define EXIT_DOCKER 125 /* as `docker run`: Docker could not run the container */

/* The unit's Restart=, from --restart. */
typedef enum RestartPolicy {
        RESTART_UNSET,
        RESTART_ALWAYS,
        RESTART_ON_FAILURE,
        RESTART_NO,
} RestartPolicy;

/* The parsed command line (ballast-run.c). */
extern const char *arg_name;
extern const char *arg_body;
extern unsigned arg_stop_timeout_s;
extern const char *arg_docker_socket;
extern const char *arg_control_socket;
extern uint64_t arg_ready_timeout_ms;
extern uint64_t arg_docker_timeout_ms;
extern uint64_t arg_delay_ms;
extern uint64_t arg_max_delay_ms;
extern uint64_t arg_stable_ms;
extern const char *arg_state_dir;
extern bool arg_backoff;
extern const char *arg_pause;
extern const char *arg_net_body;
extern RestartPolicy arg_restart;

/* the spec's "pull" */
typedef enum RunPull {
        RUN_PULL_MISSING,
        RUN_PULL_ALWAYS,
        RUN_PULL_NEVER,
} RunPull;

extern RunPull arg_pull;
extern const char *arg_registry_auth; /* --registry-auth; NULL: none */
extern char **arg_env_files;          /* --env-file, NULL-terminated; NULL: none */

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
        /* when set: called with every complete line of the answer as it streams in, and the line is not kept */
        void (*on_line)(char *line, void *userdata);
        void *line_userdata;
} Request;

typedef struct Body {
        char *text;
        char *hash;         /* Labels["io.ballast.hash"], NULL when absent */
        char *image;
        char *network_mode; /* the HostConfig.NetworkMode a container must have to be reused */
        bool holder;        /* the network holder's body (its image is imported, not pulled) */
        bool tty;           /* "Tty": the container's output is one raw stream, not multiplexed */
} Body;

/* The longest line of the container's output written as one journal entry; longer ones are cut. */
#define OUTPUT_LINE_MAX (16U * 1024U)
/* How long the output may still come in after the container ended. */
#define OUTPUT_DRAIN_MS 3000U

typedef struct OutputLine {
        char buf[OUTPUT_LINE_MAX];
        size_t size;
} OutputLine;

/* The attach that carries the container's output into the unit's journal (run-output.c). */
typedef struct Output {
        Request *req;         /* NULL: not attached */
        bool tty;             /* a raw stream (all of it stdout), not a multiplexed one */
        uint8_t header[8];    /* the frame header being read, header_size bytes of it so far */
        size_t header_size;
        size_t frame_left;    /* payload bytes of the current frame still to come */
        unsigned frame_stream; /* 0 stdout, 1 stderr */
        OutputLine line[2];   /* the partial line of each stream */
        unsigned reopens;
        uint64_t lines;       /* written so far */
} Output;

typedef struct Readiness {
        pid_t pid;
        int fd;
        char buf[1024];
        size_t size;
} Readiness;

/* run-engine.c */
Request *request_free(Request *req);
DEFINE_CLEANUP_FUNC(Request *, request_free);
#define _cleanup_request_ _cleanup_(request_freep)
int request_new_full(Docker *d, const char *method, const char *path, const void *body, size_t body_size,
                     const char *content_type, uint64_t timeout_ms, Request **ret);
int request_new(Docker *d, const char *method, const char *path, const char *body, uint64_t timeout_ms,
                Request **ret);
int request_add(Docker *d, Request *req);
int docker_pump(Docker *d, struct curl_waitfd *extra, unsigned n_extra, int timeout_ms);
int request_result_errno(const Request *req);
const char *request_error(const Request *req);
int docker_perform(Docker *d, Request *req, bool interruptible);
int docker_call(Docker *d, const char *method, const char *path, const char *body, uint64_t timeout_ms,
                bool interruptible, Request **ret);
json_t *request_json(const Request *req);
const char *request_message(const Request *req, char *buf, size_t len);
int log_transport_failure(int r, const char *what);
int signals_block(void);
int sleep_interruptible(int signal_fd, uint64_t ms);
int docker_negotiate(Docker *d);
const char *progress_error(Request *req, json_t **keep);
const char *short_id(const char *id);

/* run-container.c */
void body_done(Body *b);
int body_load(const char *path, Body *ret);
int container_prepare(Docker *d, const Body *b, const char *cname, bool allow_reuse, char **ret_id,
                      bool *ret_running, bool *ret_reused);
int container_start(Docker *d, const char *id, Output *out, bool tty, Request **ret_wait);
int container_stop_as(Docker *d, const char *id, unsigned timeout_s, const char *what);
int container_supervise(Docker *d, const char *id, Request *wait, const char *holder, Output *out,
                        int *ret_exit, bool *ret_stopped);

/* run-output.c */
int output_attach(Docker *d, Output *o, const char *id, bool tty);
int output_wait_open(Docker *d, Output *o, uint64_t timeout_ms);
void output_reattach(Docker *d, Output *o, const char *id);
void output_drain(Docker *d, Output *o, uint64_t timeout_ms);
void output_flush(Output *o);
void output_done(Output *o);

/* run-sources.c */
int env_file_parse(const char *path, char *text, json_t *env);
int body_add_sources(Body *b);

/* run-pull.c */
int image_pull(Docker *d, const char *image);
int image_id(Docker *d, const char *image, char **ret);

/* run-holder.c */
int body_join_holder(Body *b, const char *holder_id);
int docker_import_pause(Docker *d);
int holder_ensure(Docker *d, const Body *h, const char *hname, char **ret_id);
bool restart_follows(int code);
void holder_release(Docker *d, const char *holder);
bool holder_still_runs(Docker *d, const char *holder);

/* run-ready.c */
int readiness_start(Readiness *rd, const char *socket_path, const char *name);
void readiness_stop(Readiness *rd);
int readiness_read(Readiness *rd);

/* run-backoff.c */
int backoff_take(uint64_t *ret_delay_ms);
int backoff_sleep(int signal_fd, uint64_t delay_ms);
int run_backoff(void);
