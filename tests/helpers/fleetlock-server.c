/* SPDX-License-Identifier: MIT */
/* fleetlock-server: a FleetLock lock server for the tests, with airlock's semantics (coreos/airlock
 * internal/server, internal/lock): per group a counting semaphore of N slots with recursive locking and lock
 * ownership. Written directly on libmicrohttpd and jansson, deliberately sharing nothing with ballast's own
 * FleetLock code (src/updates/lockserver.c, src/updates/updates.c), so that ballast's client is not tested against itself.
 *
 * What it answers, as airlock does:
 *   POST /v1/pre-reboot    holder already → 200 (recursive); a free slot → taken, 200;
 *                          no free slot → 500 {"kind":"failed_lock","value":"all N semaphore slots currently locked"}
 *   POST /v1/steady-state  the holder's slot released, 200; not a holder → 200 as well (UnlockIfHeld)
 *   no "fleet-lock-protocol: true", a body that does not decode, an empty id or group
 *                          → 400 {"kind":"invalid_client_identity","value":"failed to validate client identity: …"}
 *   a group not among --group (when any is given) → 400 {"kind":"unknown_group","value":"unknown group \"…\""}
 *   another path           → 404 "404 page not found" (Go's ServeMux)
 * Error documents are sent the way Go's http.Error() sends them: text/plain, a trailing newline. Like airlock,
 * it does not look at the method.
 *
 * Usage: fleetlock-server [--address ADDR] [--port N] [--slots N] [--group NAME]... [--state FILE]
 *   --port 0 (the default) picks a free port; the port is printed on stdout, on one line, once serving.
 *   --state FILE is rewritten (atomically) after every change: one line per holder, "ID GROUP", sorted.
 * It serves until SIGTERM or SIGINT. Requests are logged on stderr. */

#include <arpa/inet.h>
#include <getopt.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "shared/fileio.h"
#include "shared/macro.h"
#include "shared/parse-util.h"

#define MAX_BODY (1024U * 1024U)

typedef struct Group {
        char *name;
        char **holders; /* sorted, n of them */
        size_t n;
} Group;

static Group *groups;
static size_t n_groups;
static bool groups_fixed; /* --group given: other groups are unknown */
static unsigned slots = 1;
static const char *state_path;

static Group *group_get(const char *name, bool create) {
        for (size_t i = 0; i < n_groups; i++)
                if (streq(groups[i].name, name))
                        return &groups[i];
        if (!create)
                return NULL;
        Group *g = realloc(groups, (n_groups + 1) * sizeof(Group));
        if (!g)
                return NULL;
        groups = g;
        groups[n_groups] = (Group) { .name = strdup(name) };
        if (!groups[n_groups].name)
                return NULL;
        return &groups[n_groups++];
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static int write_state(void) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f;

        if (!state_path)
                return 0;
        f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < n_groups; i++)
                for (size_t j = 0; j < groups[i].n; j++)
                        fprintf(f, "%s %s\n", groups[i].holders[j], groups[i].name);
        if (fclose(f) != 0)
                return -ENOMEM;
        return write_file_atomic(state_path, text ?: "", size, 0644);
}

typedef struct Request {
        char *body;
        size_t size;
        bool too_large;
} Request;

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *body, const char *type) {
        struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *) body, MHD_RESPMEM_MUST_COPY);
        enum MHD_Result ret;

        if (!r)
                return MHD_NO;
        if (type) {
                (void) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
                (void) MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
        }
        ret = MHD_queue_response(c, status, r);
        MHD_destroy_response(r);
        return ret;
}

/* airlock's herrors.HTTPError, sent by http.Error() */
static enum MHD_Result answer_error(struct MHD_Connection *c, unsigned status, const char *kind, const char *value) {
        json_t *doc = json_pack("{s:s,s:s}", "kind", kind, "value", value);
        _cleanup_free_ char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        _cleanup_free_ char *body = NULL;

        json_decref(doc);
        if (!text || asprintf(&body, "%s\n", text) < 0)
                return MHD_NO;
        fprintf(stderr, "fleetlock-server: %u %s: %s\n", status, kind, value);
        return answer(c, status, body, "text/plain; charset=utf-8");
}

static enum MHD_Result invalid_identity(struct MHD_Connection *c, const char *why) {
        _cleanup_free_ char *msg = NULL;

        if (asprintf(&msg, "failed to validate client identity: %s", why) < 0)
                return MHD_NO;
        return answer_error(c, 400, "invalid_client_identity", msg);
}

/* Go's encoding/json into {"client_params":{"id":string,"group":string}}: a missing key is "", a key of
 * another type is an error, unknown keys are ignored. */
static int decode_string(json_t *obj, const char *key, const char **ret) {
        json_t *v = json_object_get(obj, key);

        if (!v) {
                *ret = "";
                return 0;
        }
        if (!json_is_string(v))
                return -EINVAL;
        *ret = json_string_value(v);
        return 0;
}

static enum MHD_Result serve(struct MHD_Connection *c, bool pre_reboot, Request *req) {
        const char *header = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "fleet-lock-protocol");
        const char *id, *group_name;
        json_error_t err;
        json_t *doc, *params;
        enum MHD_Result ret;

        if (!header || !streq(header, "true"))
                return invalid_identity(c, "wrong 'fleet-lock-protocol' header");
        if (req->too_large)
                return answer(c, 413, "request body too large\n", "text/plain; charset=utf-8");

        doc = json_loadb(req->body ?: "", req->size, JSON_DISABLE_EOF_CHECK, &err);
        if (!doc)
                return invalid_identity(c, err.text);
        params = json_is_object(doc) ? json_object_get(doc, "client_params") : NULL;
        if (!json_is_object(doc) || (params && !json_is_object(params)) ||
            decode_string(params, "group", &group_name) < 0 || decode_string(params, "id", &id) < 0) {
                json_decref(doc);
                return invalid_identity(c, "json: cannot unmarshal the request into client_params");
        }
        if (isempty(group_name))
                ret = invalid_identity(c, "empty client group");
        else if (isempty(id))
                ret = invalid_identity(c, "empty client ID");
        else {
                Group *g = group_get(group_name, !groups_fixed);
                bool held = false;
                size_t at = 0;

                if (!g) {
                        _cleanup_free_ char *msg = NULL;

                        if (groups_fixed && asprintf(&msg, "unknown group \"%s\"", group_name) >= 0)
                                ret = answer_error(c, 400, "unknown_group", msg);
                        else
                                ret = MHD_NO; /* out of memory */
                        json_decref(doc);
                        return ret;
                }
                for (; at < g->n; at++)
                        if (streq(g->holders[at], id)) {
                                held = true;
                                break;
                        }

                if (pre_reboot && !held && g->n >= slots) {
                        _cleanup_free_ char *msg = NULL;

                        if (asprintf(&msg, "all %u semaphore slots currently locked", slots) < 0)
                                ret = MHD_NO;
                        else
                                ret = answer_error(c, 500, "failed_lock", msg);
                } else {
                        if (pre_reboot && !held) {
                                char **h = realloc(g->holders, (g->n + 1) * sizeof(char *));
                                char *copy = strdup(id);

                                if (h)
                                        g->holders = h;
                                if (!h || !copy) {
                                        free(copy);
                                        json_decref(doc);
                                        return MHD_NO;
                                }
                                g->holders[g->n++] = copy;
                                qsort(g->holders, g->n, sizeof(char *), cmp_str);
                        } else if (!pre_reboot && held) {
                                free(g->holders[at]);
                                memmove(g->holders + at, g->holders + at + 1, (g->n - at - 1) * sizeof(char *));
                                g->n--;
                        }
                        if ((pre_reboot && !held) || (!pre_reboot && held)) {
                                int r = write_state();
                                if (r < 0)
                                        fprintf(stderr, "fleetlock-server: cannot write %s: %s\n", state_path,
                                                strerror(-r));
                        }
                        fprintf(stderr, "fleetlock-server: %s id=%s group=%s: 200 (%s)\n",
                                pre_reboot ? "pre-reboot" : "steady-state", id, group_name,
                                pre_reboot ? (held ? "already held" : "locked") : (held ? "unlocked" : "not held"));
                        ret = answer(c, 200, "", NULL);
                }
        }
        json_decref(doc);
        return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
        Request *req = *con_cls;
        bool pre_reboot;

        if (streq(url, "/v1/pre-reboot"))
                pre_reboot = true;
        else if (streq(url, "/v1/steady-state"))
                pre_reboot = false;
        else
                return answer(c, 404, "404 page not found\n", "text/plain; charset=utf-8");

        if (!req) {
                req = calloc(1, sizeof(Request));
                if (!req)
                        return MHD_NO;
                *con_cls = req;
                return MHD_YES;
        }
        if (*upload_data_size > 0) {
                size_t n = *upload_data_size;

                *upload_data_size = 0;
                if (req->too_large || n > MAX_BODY - req->size) {
                        req->too_large = true;
                        return MHD_YES;
                }
                char *p = realloc(req->body, req->size + n + 1);
                if (!p)
                        return MHD_NO;
                memcpy(p + req->size, upload_data, n);
                req->size += n;
                p[req->size] = '\0';
                req->body = p;
                return MHD_YES;
        }
        return serve(c, pre_reboot, req);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
        Request *req = *con_cls;

        if (req)
                free(req->body);
        free(req);
        *con_cls = NULL;
}

static void usage(FILE *f) {
        fprintf(f, "Usage: fleetlock-server [--address ADDR] [--port N] [--slots N] [--group NAME]... [--state FILE]\n"
                   "A FleetLock lock server with airlock's semantics, for tests. Prints its port, then serves until\n"
                   "SIGTERM. --state FILE: the holders, one \"ID GROUP\" line each, rewritten after every change.\n");
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "address", required_argument, NULL, 'a' },
                { "port", required_argument, NULL, 'p' },
                { "slots", required_argument, NULL, 's' },
                { "group", required_argument, NULL, 'g' },
                { "state", required_argument, NULL, 'S' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *address = "127.0.0.1";
        unsigned port = 0;
        struct sockaddr_in sa = { .sin_family = AF_INET };
        const union MHD_DaemonInfo *info;
        struct MHD_Daemon *d;
        sigset_t mask;
        int c, sig, r;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'a':
                        address = optarg;
                        break;
                case 'p':
                        if (safe_atou(optarg, &port) < 0 || port > 65535) {
                                fprintf(stderr, "fleetlock-server: --port: \"%s\" is not a port\n", optarg);
                                return 2;
                        }
                        break;
                case 's':
                        if (safe_atou(optarg, &slots) < 0 || slots == 0) {
                                fprintf(stderr, "fleetlock-server: --slots: \"%s\" is not a number > 0\n", optarg);
                                return 2;
                        }
                        break;
                case 'g':
                        groups_fixed = true;
                        if (!group_get(optarg, true))
                                return 1;
                        break;
                case 'S':
                        state_path = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        if (optind < argc) {
                usage(stderr);
                return 2;
        }
        if (inet_pton(AF_INET, address, &sa.sin_addr) != 1) {
                fprintf(stderr, "fleetlock-server: --address: \"%s\" is not an IPv4 address\n", address);
                return 2;
        }
        sa.sin_port = htons(port);

        r = write_state();
        if (r < 0) {
                fprintf(stderr, "fleetlock-server: cannot write %s: %s\n", state_path, strerror(-r));
                return 1;
        }

        /* SIGTERM and SIGINT are waited for by this thread; MHD's one polling thread, started after the mask
         * is set, inherits it and does all the serving (so the state needs no lock). */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);

        d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, (uint16_t) port,
                             NULL, NULL, on_request, NULL,
                             MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &sa,
                             MHD_OPTION_CONNECTION_TIMEOUT, 30U,
                             MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                             MHD_OPTION_END);
        if (!d) {
                fprintf(stderr, "fleetlock-server: cannot listen on %s port %u\n", address, port);
                return 1;
        }
        info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
        if (!info || info->port == 0) {
                fprintf(stderr, "fleetlock-server: no port\n");
                MHD_stop_daemon(d);
                return 1;
        }
        printf("%u\n", (unsigned) info->port);
        fflush(stdout);
        fprintf(stderr, "fleetlock-server: listening on %s port %u, %u slot(s) per group\n", address,
                (unsigned) info->port, slots);

        if (sigwait(&mask, &sig) != 0)
                sig = 0;
        fprintf(stderr, "fleetlock-server: signal %d, exiting\n", sig);
        MHD_stop_daemon(d);
        for (size_t i = 0; i < n_groups; i++) {
                for (size_t j = 0; j < groups[i].n; j++)
                        free(groups[i].holders[j]);
                free(groups[i].holders);
                free(groups[i].name);
        }
        free(groups);
        return 0;
}
