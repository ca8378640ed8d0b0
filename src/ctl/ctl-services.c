/* SPDX-License-Identifier: MIT */
/* The verbs about services: ps, inspect, apply, rm, restart, logs. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "shared/fileio.h"
#include "shared/json-util.h"
#include "shared/macro.h"
#include "shared/parse-util.h"
#include "shared/service-name.h"
#include "shared/time-util.h"
#include "varlink/varlink-client.h"

static int check_name(const char *verb, const char *name) {
        if (service_name_is_valid(name))
                return 0;
        fprintf(stderr, "ballastctl %s: \"%s\" is not a service name (" SERVICE_NAME_RULE ")\n", verb, name);
        return 2;
}

int verb_ps(int argc, char *argv[]) {
        _cleanup_json_ json_t *reply = NULL;
        json_t *list, *svc;
        size_t i;
        int r;

        r = call("io.ballast.Agent.ListServices", NULL, &reply);
        if (r != 0)
                return r;
        if (arg_json)
                return print_json(reply);
        list = json_object_get(reply, "services");
        printf("%-24s %-7s %-24s %-9s %8s %8s  %s\n", "NAME", "RUNTIME", "STATE", "HEALTH", "RESTARTS", "PID", "IMAGE");
        json_array_foreach(list, i, svc) {
                const char *text = json_string_value(json_object_get(svc, "pull_status")) ?:
                                   json_string_value(json_object_get(svc, "status_text"));
                char state[160];

                /* an image pull on the way (or why it failed) says more than "activating (start)" */
                if (text && (strneq(text, "pulling ", 8) || strneq(text, "pull of ", 8)))
                        snprintf(state, sizeof(state), "%s", text);
                else
                        snprintf(state, sizeof(state), "%s (%s)", strna(json_string_value(json_object_get(svc, "state"))),
                                 strna(json_string_value(json_object_get(svc, "sub_state"))));
                printf("%-24s %-7s %-24s %-9s %8lld %8lld  %s\n", json_string_value(json_object_get(svc, "name")),
                       strna(json_string_value(json_object_get(svc, "runtime"))), state,
                       strna(json_string_value(json_object_get(svc, "health"))),
                       (long long) json_integer_value(json_object_get(svc, "restarts")),
                       (long long) json_integer_value(json_object_get(svc, "main_pid")),
                       json_string_value(json_object_get(svc, "image")) ?: "-");
        }
        if (json_array_size(list) == 0)
                printf("(no services)\n");
        return 0;
}

int verb_inspect(int argc, char *argv[]) {
        _cleanup_json_ json_t *reply = NULL;
        int r = check_name("inspect", argv[1]);

        if (r != 0)
                return r;
        r = call("io.ballast.Agent.GetService", json_pack("{s:s}", "name", argv[1]), &reply);
        if (r != 0)
                return r;
        return print_json(reply);
}

static int verb_simple(const char *method, const char *verb, const char *name, const char *done) {
        _cleanup_json_ json_t *reply = NULL;
        int r = check_name(verb, name);

        if (r != 0)
                return r;
        r = call(method, json_pack("{s:s}", "name", name), &reply);
        if (r != 0)
                return r;
        if (arg_json)
                return print_json(reply);
        printf("%s: %s\n", name, done);
        return 0;
}

int verb_rm(int argc, char *argv[]) {
        return verb_simple("io.ballast.Agent.RemoveService", "rm", argv[1], "removed");
}

int verb_restart(int argc, char *argv[]) {
        return verb_simple("io.ballast.Agent.RestartService", "restart", argv[1], "restarted");
}

int verb_logs(int argc, char *argv[]) {
        _cleanup_free_ char *own = NULL, *about = NULL, *container = NULL;
        int r = check_name("logs", argv[1]);

        if (r != 0)
                return r;
        if (asprintf(&own, "_SYSTEMD_UNIT=ballast-%s.service", argv[1]) < 0 ||
            asprintf(&about, "UNIT=ballast-%s.service", argv[1]) < 0 ||
            asprintf(&container, "CONTAINER_NAME=ballast-%s", argv[1]) < 0)
                return 1;
        /* what `journalctl -u` shows (the unit's own lines and systemd's about it) and, for Docker services,
         * the container's output (Docker's journald log driver) */
        char *args[] = { (char *) "journalctl", (char *) "--no-pager", own, (char *) "+", about, (char *) "+",
                         container, arg_follow ? (char *) "-f" : NULL, NULL };
        execvp("journalctl", args);
        fprintf(stderr, "ballastctl logs: cannot run journalctl: %s\n", strerror(errno));
        return 1;
}

/* A spec file read for apply: its text stays so errors can point at line and column. */
typedef struct SpecFile {
        char *path;
        char *text;
        size_t size;
        json_t *spec;
} SpecFile;

static int spec_files_add(SpecFile **files, size_t *n, const char *path) {
        SpecFile *f, *p;
        json_error_t jerr;
        int r;

        p = realloc(*files, (*n + 1) * sizeof(SpecFile));
        if (!p)
                return -ENOMEM;
        *files = p;
        f = &p[(*n)++];
        *f = (SpecFile) { .path = strdup(path) };
        r = read_full_file(path, 1024 * 1024, &f->text, &f->size);
        if (r < 0) {
                fprintf(stderr, "%s: cannot read: %s\n", path, strerror(-r));
                return 1;
        }
        f->spec = json_loadb(f->text, f->size, JSON_REJECT_DUPLICATES, &jerr);
        if (!f->spec) {
                fprintf(stderr, "%s:%d:%d: %s\n", path, jerr.line, json_error_column(&jerr), jerr.text);
                return 1;
        }
        return 0;
}

static int collect_specs(int argc, char *argv[], SpecFile **files, size_t *n) {
        int bad = 0;

        for (int i = 1; i < argc; i++) {
                struct dirent **names;
                int k = scandir(argv[i], &names, NULL, alphasort);

                if (k < 0) {
                        if (errno != ENOTDIR) {
                                fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
                                bad = 1;
                                continue;
                        }
                        if (spec_files_add(files, n, argv[i]) != 0)
                                bad = 1;
                        continue;
                }
                for (int j = 0; j < k; j++) {
                        size_t l = strlen(names[j]->d_name);
                        if (names[j]->d_name[0] != '.' && l > 5 && streq(names[j]->d_name + l - 5, ".json")) {
                                _cleanup_free_ char *p = path_join(argv[i], names[j]->d_name);
                                if (!p || spec_files_add(files, n, p) != 0)
                                        bad = 1;
                        }
                        free(names[j]);
                }
                free(names);
        }
        return bad;
}

static void spec_files_free(SpecFile *files, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(files[i].path);
                free(files[i].text);
                json_decref(files[i].spec);
        }
        free(files);
}

/* Prints an apply error; InvalidSpec points into the file. */
static void print_apply_error(const SpecFile *f, const char *error, json_t *params) {
        if (streq(error, "io.ballast.Agent.InvalidSpec")) {
                JsonError e = {};
                _cleanup_free_ char *msg = NULL;

                snprintf(e.path, sizeof(e.path), "%s", strempty(json_string_value(json_object_get(params, "field"))));
                snprintf(e.message, sizeof(e.message), "%s", strempty(json_string_value(json_object_get(params, "reason"))));
                msg = json_error_format(&e, f->path, f->text, f->size);
                fprintf(stderr, "%s\n", strna(msg));
                return;
        }
        if (streq(error, "io.ballast.Agent.StateWriteFailed")) {
                fprintf(stderr, "%s: ballastd cannot write %s: %s (io.ballast.Agent.StateWriteFailed)\n", f->path,
                        strna(json_string_value(json_object_get(params, "path"))),
                        strna(json_string_value(json_object_get(params, "reason"))));
                return;
        }
        _cleanup_free_ char *p = json_dump_compact(params);
        fprintf(stderr, "%s: %s %s\n", f->path, error, strempty(p));
}

/* Validates every spec (validate_only) before anything is applied: 0 when all are valid, 1 when one is not (said
 * on stderr), -1 when ballastd did not answer. */
static int apply_validate_all(VarlinkClient *c, const SpecFile *files, size_t n) {
        int r, bad = 0;

        for (size_t i = 0; i < n; i++) {
                _cleanup_json_ json_t *reply = NULL,
                        *params = json_pack("{s:O,s:b}", "spec", files[i].spec, "validate_only", 1);
                _cleanup_free_ char *error = NULL;

                if (!files[i].spec)
                        continue;
                r = varlink_client_call(c, "io.ballast.Agent.ApplyService", params, arg_timeout_usec, &reply, &error);
                if (r < 0) {
                        fprintf(stderr, "ballastctl apply: %s\n", strerror(-r));
                        return -1;
                }
                if (error) {
                        print_apply_error(&files[i], error, reply);
                        bad = 1;
                }
        }
        return bad;
}

/* One reply of ApplyService: the progress of --wait, or the final status. */
static void print_apply_progress(json_t *reply) {
        const char *name = json_string_value(json_object_get(reply, "name"));
        const char *state = json_string_value(json_object_get(reply, "state"));
        const char *sub = json_string_value(json_object_get(reply, "sub_state"));
        const char *health = json_string_value(json_object_get(reply, "health"));

        if (arg_json) {
                _cleanup_free_ char *p = json_dump_compact(reply);
                printf("%s\n", strempty(p));
        } else if (sub && health) /* the final reply: the service's status */
                printf("%s: %s (%s), health: %s\n", strna(name), strna(state), sub, health);
        else if (sub)
                printf("%s: %s (%s)\n", strna(name), strna(state), sub);
        else
                printf("%s: %s\n", strna(name), strna(state));
        fflush(stdout);
}

/* Applies one spec, printing its replies; 0, or 1 when it failed (said on stderr). */
static int apply_one(VarlinkClient *c, const SpecFile *f) {
        _cleanup_json_ json_t *params = json_pack("{s:O}", "spec", f->spec);
        bool continues = true;
        int r;

        r = varlink_client_send(c, "io.ballast.Agent.ApplyService", params, arg_wait);
        while (r >= 0 && continues) {
                _cleanup_json_ json_t *reply = NULL;
                _cleanup_free_ char *error = NULL;

                r = varlink_client_read(c, arg_timeout_usec, &reply, &error, &continues);
                if (r < 0)
                        break;
                if (error) {
                        print_apply_error(f, error, reply);
                        return 1;
                }
                print_apply_progress(reply);
        }
        if (r < 0) {
                fprintf(stderr, "ballastctl apply: %s: %s\n", f->path,
                        r == -ETIMEDOUT ? "timed out waiting for the service" : strerror(-r));
                return 1;
        }
        return 0;
}

int verb_apply(int argc, char *argv[]) {
        _cleanup_(varlink_client_freep) VarlinkClient *c = NULL;
        SpecFile *files = NULL;
        size_t n = 0;
        int r, bad;

        bad = collect_specs(argc, argv, &files, &n);
        if (n == 0 && !bad) {
                fprintf(stderr, "ballastctl apply: no *.json specs found\n");
                return 1;
        }
        r = varlink_client_connect(&c, socket_path());
        if (r < 0) {
                fprintf(stderr, "ballastctl: cannot connect to ballastd at %s: %s\n", socket_path(), strerror(-r));
                spec_files_free(files, n);
                return 1;
        }
        /* everything is validated before anything is applied */
        r = apply_validate_all(c, files, n);
        if (r < 0) {
                spec_files_free(files, n);
                return 1;
        }
        if (bad || r > 0) {
                fprintf(stderr, "ballastctl apply: nothing applied\n");
                spec_files_free(files, n);
                return 1;
        }
        for (size_t i = 0; i < n && !bad; i++)
                bad = apply_one(c, &files[i]);
        spec_files_free(files, n);
        return bad;
}
