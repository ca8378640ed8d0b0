/* SPDX-License-Identifier: MIT */
/* The verbs about services: ps, inspect, apply, rm, restart, rollback, logs. */
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
#include "supervisor/spec.h"
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
        printf("%-24s %-7s %-7s %-24s %-9s %8s %8s  %s\n", "NAME", "ORIGIN", "RUNTIME", "STATE", "HEALTH", "RESTARTS",
               "PID", "IMAGE");
        json_array_foreach(list, i, svc) {
                const char *origin = json_string_value(json_object_get(svc, "origin"));
                const char *by = json_string_value(json_object_get(svc, "stopped_by"));
                const char *load = json_string_value(json_object_get(svc, "load_state"));
                const char *text = json_string_value(json_object_get(svc, "pull_status")) ?:
                                   json_string_value(json_object_get(svc, "status_text"));
                char state[160];

                if (load && streq(load, "masked")) /* an operator's `systemctl mask`: nothing starts it */
                        snprintf(state, sizeof(state), "masked (%s)",
                                 strna(json_string_value(json_object_get(svc, "state"))));
                else if (by) /* stopped on purpose, and kept so */
                        snprintf(state, sizeof(state), "stopped (by %s)", streq(by, "hand") ? "hand" : "ballastctl");
                /* an image pull on the way (or why it failed) says more than "activating (start)" */
                else if (text && (strneq(text, "pulling ", 8) || strneq(text, "pull of ", 8)))
                        snprintf(state, sizeof(state), "%s", text);
                else
                        snprintf(state, sizeof(state), "%s (%s)",
                                 strna(json_string_value(json_object_get(svc, "state"))),
                                 strna(json_string_value(json_object_get(svc, "sub_state"))));
                /* file: a spec in the services directory (rm refuses: change the file); applied: over the socket */
                printf("%-24s %-7s %-7s %-24s %-9s %8lld %8lld  %s\n", json_string_value(json_object_get(svc, "name")),
                       streq_ptr(origin, "api") ? "applied" : strna(origin),
                       strna(json_string_value(json_object_get(svc, "runtime"))), state,
                       strna(json_string_value(json_object_get(svc, "health"))),
                       (long long) json_integer_value(json_object_get(svc, "restarts")),
                       (long long) json_integer_value(json_object_get(svc, "main_pid")),
                       json_string_value(json_object_get(svc, "image")) ?: "-");
        }
        if (json_array_size(list) == 0)
                printf("(no services)\n");
        json_array_foreach(list, i, svc)
                print_health_restarts(stdout, json_string_value(json_object_get(svc, "name")), svc);
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
        r = print_json(reply);
        /* beside the JSON, which stays one document on stdout */
        if (!arg_json)
                print_health_restarts(stderr, argv[1], json_object_get(reply, "status"));
        return r;
}

/* The deadline passed while waiting for NAME: its last state and why, on stderr (a short call of its own: the
 * deadline is over, this one gets a second). Returns EXIT_DEADLINE. */
static int deadline_passed(const char *verb, const char *name) {
        _cleanup_(varlink_client_freep) VarlinkClient *c = NULL;
        _cleanup_json_ json_t *params = json_pack("{s:s}", "name", name), *reply = NULL;
        _cleanup_free_ char *error = NULL;
        json_t *st;

        fprintf(stderr, "ballastctl %s: %s: gave up after %.1f s (-t)\n", verb, name,
                (double) arg_timeout_usec / USEC_PER_SEC);
        if (!params || varlink_client_connect(&c, socket_path()) < 0 ||
            varlink_client_call(c, "io.ballast.Agent.GetService", params, USEC_PER_SEC, &reply, &error) < 0 || error)
                return EXIT_DEADLINE;
        st = json_object_get(reply, "status");
        fprintf(stderr, "%s: last state %s (%s), health %s%s%s\n", name,
                strna(json_string_value(json_object_get(st, "state"))),
                strna(json_string_value(json_object_get(st, "sub_state"))),
                strna(json_string_value(json_object_get(st, "health"))),
                json_string_value(json_object_get(st, "health_reason")) ? ": " : "",
                strempty(json_string_value(json_object_get(st, "health_reason"))));
        print_health_restarts(stderr, name, st);
        return EXIT_DEADLINE;
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
        _cleanup_json_ json_t *reply = NULL;
        const char *error;
        json_t *v;
        size_t i;
        int r;

        if (!arg_volumes) /* the call of old, which every ballastd answers */
                return verb_simple("io.ballast.Agent.RemoveService", "rm", argv[1], "removed");
        r = check_name("rm", argv[1]);
        if (r != 0)
                return r;
        r = call("io.ballast.Agent.RemoveService", json_pack("{s:s,s:b}", "name", argv[1], "volumes", 1), &reply);
        if (r != 0)
                return r;
        error = json_string_value(json_object_get(reply, "volumes_error"));
        if (arg_json)
                r = print_json(reply);
        else {
                printf("%s: removed\n", argv[1]);
                json_array_foreach(json_object_get(reply, "volumes"), i, v)
                        printf("%s: removed the volume %s\n", argv[1], json_string_value(v));
        }
        if (error) {
                fprintf(stderr, "ballastctl rm: %s: not every volume was removed: %s\n", argv[1], error);
                return 1;
        }
        return r;
}

int verb_restart(int argc, char *argv[]) {
        int r = verb_simple("io.ballast.Agent.RestartService", "restart", argv[1], "restarted");

        return r == EXIT_DEADLINE ? deadline_passed("restart", argv[1]) : r;
}

int verb_rollback(int argc, char *argv[]) {
        _cleanup_json_ json_t *reply = NULL;
        json_t *last;
        int r = check_name("rollback", argv[1]);

        if (r != 0)
                return r;
        r = call("io.ballast.Agent.RollbackService", json_pack("{s:s}", "name", argv[1]), &reply);
        if (r != 0)
                return r;
        if (arg_json)
                return print_json(reply);
        last = json_object_get(reply, "last_rollback");
        printf("%s: rolled back from revision %lld to %lld\n", argv[1],
               (long long) json_integer_value(json_object_get(last, "failed_revision")),
               (long long) json_integer_value(json_object_get(last, "restored_revision")));
        return 0;
}

int verb_stop(int argc, char *argv[]) {
        return verb_simple("io.ballast.Agent.StopService", "stop", argv[1], "stopped (stays stopped until ballastctl start)");
}

int verb_start(int argc, char *argv[]) {
        return verb_simple("io.ballast.Agent.StartService", "start", argv[1], "started");
}

/* Offline: the parser ballastd uses (supervisor/spec.c), no daemon needed. Exit 2 when a spec is invalid, each
 * error as FILE:LINE:COLUMN: field: why. */
int verb_diff(int argc, char *argv[]) {
        arg_dry_run = true;
        return verb_apply(argc, argv);
}

int verb_validate(int argc, char *argv[]) {
        int bad = 0;

        for (int i = 1; i < argc; i++) {
                _cleanup_(service_spec_freep) ServiceSpec *spec = NULL;
                _cleanup_free_ char *error = NULL;
                int r = service_spec_load(argv[i], &spec, &error);

                if (r < 0) {
                        fprintf(stderr, "%s\n", error ?: strerror(-r));
                        bad = MAX(bad, r == -ENOENT || r == -EACCES ? CTL_EXIT_FAILED : CTL_EXIT_USAGE);
                        continue;
                }
                if (arg_json) {
                        _cleanup_json_ json_t *j = service_spec_to_json(spec);
                        _cleanup_free_ char *t = j ? json_dump_compact(j) : NULL;
                        printf("%s\n", strempty(t));
                } else
                        printf("%s: valid (%s, %s)\n", argv[i], spec->name, service_runtime_to_string(spec->runtime));
        }
        return bad;
}

int verb_logs(int argc, char *argv[]) {
        _cleanup_free_ char *unit = NULL;
        int r = check_name("logs", argv[1]);

        if (r != 0)
                return r;
        if (asprintf(&unit, "ballast-%s.service", argv[1]) < 0)
                return 1;
        /* the unit's journal: ballast-run's lines, systemd's about the unit and, for Docker services, the
         * container's output, which ballast-run writes to its own stdout/stderr */
        char *args[16] = { (char *) "journalctl", (char *) "--no-pager", (char *) "-u", unit };
        size_t n = 4;
        if (arg_follow)
                args[n++] = (char *) "-f";
        if (arg_lines) {
                args[n++] = (char *) "-n";
                args[n++] = (char *) arg_lines;
        }
        if (arg_since) {
                args[n++] = (char *) "--since";
                args[n++] = (char *) arg_since;
        }
        if (arg_output) {
                args[n++] = (char *) "-o";
                args[n++] = (char *) arg_output;
        }
        args[n] = NULL;
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
        _cleanup_free_ char *p = ctl_error_sentence(error, params);
        fprintf(stderr, "%s: %s\n", f->path, strna(p));
}

/* Validates every spec (validate_only) before anything is applied: 0 when all are valid, 1 when one is not (said
 * on stderr), -1 when ballastd did not answer, -ETIMEDOUT when the deadline passed. */
static int apply_validate_all(VarlinkClient *c, const SpecFile *files, size_t n) {
        int r, bad = 0;

        for (size_t i = 0; i < n; i++) {
                _cleanup_json_ json_t *reply = NULL,
                        *params = json_pack("{s:O,s:b}", "spec", files[i].spec, "validate_only", 1);
                _cleanup_free_ char *error = NULL;

                if (!files[i].spec)
                        continue;
                r = varlink_client_call_until(c, "io.ballast.Agent.ApplyService", params, arg_deadline_usec, &reply,
                                              &error);
                if (r < 0) {
                        fprintf(stderr, "ballastctl apply: %s\n",
                                r == -ETIMEDOUT ? "ballastd did not answer in time" : strerror(-r));
                        return r == -ETIMEDOUT ? r : -1;
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

/* Applies one spec, printing its replies; 0, 1 when it failed (said on stderr), or EXIT_DEADLINE when the
 * deadline passed first (the service's last state said on stderr). */
static int apply_one(VarlinkClient *c, const SpecFile *f) {
        _cleanup_json_ json_t *params = json_pack("{s:O}", "spec", f->spec);
        bool continues = true;
        int r;

        r = varlink_client_send(c, "io.ballast.Agent.ApplyService", params, arg_wait);
        while (r >= 0 && continues) {
                _cleanup_json_ json_t *reply = NULL;
                _cleanup_free_ char *error = NULL;

                r = varlink_client_read_until(c, arg_deadline_usec, &reply, &error, &continues);
                if (r < 0)
                        break;
                if (error) {
                        print_apply_error(f, error, reply);
                        return 1;
                }
                print_apply_progress(reply);
        }
        if (r == -ETIMEDOUT) {
                const char *name = json_string_value(json_object_get(f->spec, "name"));
                return name ? deadline_passed("apply", name) : EXIT_DEADLINE;
        }
        if (r < 0) {
                fprintf(stderr, "ballastctl apply: %s: %s\n", f->path, strerror(-r));
                return 1;
        }
        return 0;
}

static void print_lines(json_t *list, const char *mark) {
        json_t *v;
        size_t i;

        json_array_foreach(list, i, v)
                printf("    %s %s\n", mark, strna(json_string_value(v)));
}

/* What an apply would change (ApplyService with dry_run): the spec's fields, the unit's lines, the container's
 * settings, and whether the running service restarts. */
static int diff_one(VarlinkClient *c, const SpecFile *f) {
        _cleanup_json_ json_t *params = json_pack("{s:O,s:b}", "spec", f->spec, "dry_run", 1), *reply = NULL;
        _cleanup_free_ char *error = NULL;
        json_t *d, *v, *unit;
        const char *change;
        size_t i;
        int r;

        r = varlink_client_call(c, "io.ballast.Agent.ApplyService", params, arg_timeout_usec, &reply, &error);
        if (r < 0) {
                fprintf(stderr, "ballastctl %s: %s\n", arg_verb, strerror(-r));
                return ctl_errno_exit_code(r);
        }
        if (error) {
                print_apply_error(f, error, reply);
                return ctl_error_exit_code(error);
        }
        d = json_object_get(reply, "diff");
        if (arg_json)
                return print_json(d);
        change = strna(json_string_value(json_object_get(d, "change")));
        printf("%s: %s\n", strna(json_string_value(json_object_get(d, "name"))),
               streq(change, "create") ? "a new service: created and started" :
               streq(change, "none") ? "no change" :
               streq(change, "resize") ? "resources only: changed live, no restart" :
                                         "changed: the service restarts");
        if (streq(change, "none"))
                return 0;
        if (json_array_size(json_object_get(d, "fields")) > 0) {
                printf("  spec:");
                json_array_foreach(json_object_get(d, "fields"), i, v)
                        printf("%s %s", i ? "," : "", json_string_value(v));
                printf("\n");
        }
        unit = json_object_get(d, "unit");
        if (json_array_size(json_object_get(unit, "removed")) + json_array_size(json_object_get(unit, "added")) > 0)
                printf("  unit:\n");
        print_lines(json_object_get(unit, "removed"), "-");
        print_lines(json_object_get(unit, "added"), "+");
        if (json_array_size(json_object_get(d, "container")) > 0) {
                printf("  container:");
                json_array_foreach(json_object_get(d, "container"), i, v)
                        printf("%s %s", i ? "," : "", json_string_value(v));
                printf("\n");
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
                return r == -ETIMEDOUT ? EXIT_DEADLINE : 1;
        }
        if (bad || r > 0) {
                fprintf(stderr, "ballastctl apply: nothing applied\n");
                spec_files_free(files, n);
                return 1;
        }
        for (size_t i = 0; i < n && !bad; i++)
                bad = arg_dry_run ? diff_one(c, &files[i]) : apply_one(c, &files[i]);
        spec_files_free(files, n);
        return bad;
}
