/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "shared/fileio.h"
#include "shared/json-util.h"
#include "shared/macro.h"
#include "shared/parse-util.h"
#include "shared/time-util.h"
#include "varlink/varlink-client.h"

#define DEFAULT_SOCKET "/run/ballast/ballastd.sock"

static const char *arg_socket = NULL;
static bool arg_json = false;
static bool arg_wait = false;
static bool arg_follow = false;
static uint64_t arg_timeout_usec = 30 * USEC_PER_SEC;

typedef struct Verb {
        const char *name;
        int min_args, max_args; /* after the verb */
        int (*func)(int argc, char *argv[]);
} Verb;

static void help(void) {
        printf("Usage: ballastctl [OPTIONS] COMMAND ...\n\n"
               "Drives ballastd, the ballast node agent, over its control socket.\n\n"
               "Commands:\n"
               "  status               the agent: version, node, uptime, services, what it waits for\n"
               "  ps                   the services: state, health, restarts\n"
               "  inspect NAME         a service's spec and state\n"
               "  apply FILE|DIR...    validate every spec first, then apply them all (a DIR: its *.json)\n"
               "                       --wait: show progress until each is active or failed\n"
               "  rm NAME              stop a service and remove its unit, container and spec\n"
               "  restart NAME         restart a service (waits until it is up again)\n"
               "  logs NAME [-f]       the service's journal (journalctl -u ballast-NAME.service)\n"
               "  capacity             capacity, reserved, allocatable, committed, free, the largest fit,\n"
               "                       ports held, per-service usage against limits, interfaces\n"
               "  nodes                the cluster's nodes (from etcd): free capacity and known ports\n"
               "  drain                stop every service (the last one first) and keep them stopped;\n"
               "                       the node's status document says it is draining\n"
               "  undrain              start again what drain stopped\n"
               "  update status        OS updates: the OS, the policy, the window, the reboot flow and\n"
               "                       whether the node may reboot now, and if not, why\n"
               "  update pin CHANNEL   pin the update channel (Flatcar: GROUP= in update.conf)\n"
               "  update pause|resume  no reboots for updates until resumed\n"
               "  update window DAYS START LENGTH_MIN [TZ]\n"
               "                       one maintenance window, e.g. Sat,Sun 02:00 120 Europe/Berlin\n"
               "  update approve [VERSION]  allow a reboot into VERSION although above max_version\n\n"
               "Options:\n"
               "  -s --socket PATH     control socket (default $BALLAST_SOCKET or " DEFAULT_SOCKET ")\n"
               "  -j --json            print JSON instead of tables\n"
               "  -t --timeout SEC     give up waiting for ballastd after SEC seconds (default 30;\n"
               "                       apply --wait: for each service)\n"
               "  -w --wait            apply: wait and show progress\n"
               "  -f --follow          logs: follow\n"
               "  -h --help            show this help\n"
               "     --version         show the version\n\n"
               "Exit status: 0 on success, 1 when ballastd is unreachable or refuses, 2 on bad usage.\n");
}

static const char *socket_path(void) {
        if (arg_socket)
                return arg_socket;
        return getenv("BALLAST_SOCKET") ?: DEFAULT_SOCKET;
}

/* Calls a method (taking params) and prints what went wrong, if anything. Returns 0, or 1 for the exit code. */
static int call(const char *method, json_t *params, json_t **ret) {
        _cleanup_json_ json_t *p = params;
        _cleanup_(varlink_client_freep) VarlinkClient *c = NULL;
        _cleanup_free_ char *error = NULL;
        _cleanup_json_ json_t *reply = NULL;
        int r;

        r = varlink_client_connect(&c, socket_path());
        if (r < 0) {
                fprintf(stderr, "ballastctl: cannot connect to ballastd at %s: %s%s\n", socket_path(), strerror(-r),
                        r == -ENOENT || r == -ECONNREFUSED ? " (is ballastd running?)" : "");
                return 1;
        }
        r = varlink_client_call(c, method, p, arg_timeout_usec, &reply, &error);
        if (r < 0) {
                fprintf(stderr, "ballastctl: %s: %s\n", method,
                        r == -ETIMEDOUT ? "ballastd did not answer in time" : strerror(-r));
                return 1;
        }
        if (error) {
                _cleanup_free_ char *text = json_dump_compact(reply);
                fprintf(stderr, "ballastctl: %s failed: %s %s\n", method, error, strempty(text));
                return 1;
        }
        *ret = TAKE_PTR(reply);
        return 0;
}

static int print_json(json_t *v) {
        _cleanup_free_ char *s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(10));
        if (!s)
                return 1;
        puts(s);
        return 0;
}

static const char *format_duration(char *buf, size_t len, uint64_t usec) {
        uint64_t s = usec / USEC_PER_SEC;

        if (s >= 86400)
                snprintf(buf, len, "%llud %lluh", (unsigned long long) (s / 86400), (unsigned long long) (s % 86400 / 3600));
        else if (s >= 3600)
                snprintf(buf, len, "%lluh %llumin", (unsigned long long) (s / 3600), (unsigned long long) (s % 3600 / 60));
        else if (s >= 60)
                snprintf(buf, len, "%llumin %llus", (unsigned long long) (s / 60), (unsigned long long) (s % 60));
        else
                snprintf(buf, len, "%llu.%03llus", (unsigned long long) s,
                         (unsigned long long) (usec % USEC_PER_SEC / 1000));
        return buf;
}

static const char *format_timestamp(char *buf, size_t len, uint64_t usec) {
        time_t t = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;

        if (!usec || !gmtime_r(&t, &tm) || strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
                snprintf(buf, len, "n/a");
        return buf;
}

static int verb_status(int argc, char *argv[]) {
        _cleanup_json_ json_t *s = NULL;
        char b1[64], b2[64];
        json_t *services, *waiting, *w;
        size_t i;
        int r;

        r = call("io.ballast.Agent.GetStatus", NULL, &s);
        if (r != 0)
                return r;
        if (arg_json)
                return print_json(s);

        services = json_object_get(s, "services");
        waiting = json_object_get(s, "waiting_for");
        printf("Node:        %s\n", strna(json_string_value(json_object_get(s, "node"))));
        printf("Version:     %s\n", strna(json_string_value(json_object_get(s, "version"))));
        printf("PID:         %lld\n", (long long) json_integer_value(json_object_get(s, "pid")));
        printf("Uptime:      %s (since %s)\n",
               format_duration(b1, sizeof(b1), (uint64_t) json_integer_value(json_object_get(s, "uptime_usec"))),
               format_timestamp(b2, sizeof(b2), (uint64_t) json_integer_value(json_object_get(s, "started_at_usec"))));
        printf("Config:      %s (loaded %s)\n", strna(json_string_value(json_object_get(s, "config"))),
               format_timestamp(b1, sizeof(b1), (uint64_t) json_integer_value(json_object_get(s, "config_loaded_at_usec"))));
        if (json_is_string(json_object_get(s, "config_error")))
                printf("             INVALID, nothing is acted on: %s\n",
                       json_string_value(json_object_get(s, "config_error")));
        printf("Services:    %lld total, %lld active, %lld failed\n",
               (long long) json_integer_value(json_object_get(services, "total")),
               (long long) json_integer_value(json_object_get(services, "active")),
               (long long) json_integer_value(json_object_get(services, "failed")));
        printf("Waiting for: ");
        if (json_array_size(waiting) == 0)
                printf("nothing");
        json_array_foreach(waiting, i, w)
                printf("%s%s", i > 0 ? ", " : "", strna(json_string_value(w)));
        printf("\n");
        printf("Connections: %lld\n", (long long) json_integer_value(json_object_get(s, "connections")));
        {
                json_t *cl = json_object_get(s, "cluster");
                const char *names[] = { "etcd", "http" };
                bool any = false;
                for (size_t k = 0; k < ELEMENTSOF(names); k++) {
                        json_t *e = json_object_get(cl, names[k]);
                        char b[64];
                        if (!json_is_object(e))
                                continue;
                        any = true;
                        printf("Cluster:     %s %s", names[k], strna(json_string_value(json_object_get(e, "state"))));
                        if (json_is_string(json_object_get(e, "endpoint")))
                                printf(" via %s", json_string_value(json_object_get(e, "endpoint")));
                        if (json_is_string(json_object_get(e, "url")))
                                printf(" to %s", json_string_value(json_object_get(e, "url")));
                        if (json_is_string(json_object_get(e, "error")))
                                printf(": %s", json_string_value(json_object_get(e, "error")));
                        if (json_is_integer(json_object_get(e, "since_usec")))
                                printf(" (since %s)", format_timestamp(b, sizeof(b),
                                                                       (uint64_t) json_integer_value(json_object_get(e, "since_usec"))));
                        printf("\n");
                }
                if (!any)
                        printf("Cluster:     standalone (none configured)\n");
        }
        return 0;
}

static bool name_is_valid(const char *name) {
        size_t n = strlen(name);

        if (n == 0 || n > 63 || !strchr("abcdefghijklmnopqrstuvwxyz0123456789", name[0]))
                return false;
        return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

static int check_name(const char *verb, const char *name) {
        if (name_is_valid(name))
                return 0;
        fprintf(stderr, "ballastctl %s: \"%s\" is not a service name ([a-z0-9][a-z0-9-]{0,62})\n", verb, name);
        return 2;
}

static int verb_ps(int argc, char *argv[]) {
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
                char state[64];
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

static int verb_inspect(int argc, char *argv[]) {
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

static int verb_rm(int argc, char *argv[]) {
        return verb_simple("io.ballast.Agent.RemoveService", "rm", argv[1], "removed");
}

static int verb_restart(int argc, char *argv[]) {
        return verb_simple("io.ballast.Agent.RestartService", "restart", argv[1], "restarted");
}

static int verb_logs(int argc, char *argv[]) {
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

static int verb_apply(int argc, char *argv[]) {
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
        for (size_t i = 0; i < n; i++) {
                _cleanup_json_ json_t *reply = NULL,
                        *params = json_pack("{s:O,s:b}", "spec", files[i].spec, "validate_only", 1);
                _cleanup_free_ char *error = NULL;

                if (!files[i].spec)
                        continue;
                r = varlink_client_call(c, "io.ballast.Agent.ApplyService", params, arg_timeout_usec, &reply, &error);
                if (r < 0) {
                        fprintf(stderr, "ballastctl apply: %s\n", strerror(-r));
                        spec_files_free(files, n);
                        return 1;
                }
                if (error) {
                        print_apply_error(&files[i], error, reply);
                        bad = 1;
                }
        }
        if (bad) {
                fprintf(stderr, "ballastctl apply: nothing applied\n");
                spec_files_free(files, n);
                return 1;
        }
        for (size_t i = 0; i < n && !bad; i++) {
                _cleanup_json_ json_t *params = json_pack("{s:O}", "spec", files[i].spec);
                bool continues = true;

                r = varlink_client_send(c, "io.ballast.Agent.ApplyService", params, arg_wait);
                while (r >= 0 && continues) {
                        _cleanup_json_ json_t *reply = NULL;
                        _cleanup_free_ char *error = NULL;

                        r = varlink_client_read(c, arg_timeout_usec, &reply, &error, &continues);
                        if (r < 0)
                                break;
                        if (error) {
                                print_apply_error(&files[i], error, reply);
                                bad = 1;
                                break;
                        }
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
                if (r < 0) {
                        fprintf(stderr, "ballastctl apply: %s: %s\n", files[i].path,
                                r == -ETIMEDOUT ? "timed out waiting for the service" : strerror(-r));
                        bad = 1;
                }
        }
        spec_files_free(files, n);
        return bad;
}

static const char *fmt_resource(char *buf, size_t len, const char *resource, json_t *v) {
        if (!v)
                return "-";
        if (streq(resource, "cpu"))
                snprintf(buf, len, "%g", json_number_value(v));
        else if (streq(resource, "memory") || streq(resource, "disk"))
                format_size(buf, len, (uint64_t) json_integer_value(v));
        else
                snprintf(buf, len, "%lld", (long long) json_integer_value(v));
        return buf;
}

static int verb_capacity(int argc, char *argv[]) {
        static const char *const resources[] = { "cpu", "memory", "pids", "disk" };
        static const char *const columns[] = { "capacity", "reserved", "eviction_threshold", "allocatable",
                                                "committed", "free" };
        _cleanup_json_ json_t *c = NULL;
        json_t *list, *item, *conditions;
        const char *key;
        json_t *value;
        size_t i;
        int r;

        r = call("io.ballast.Agent.GetCapacity", NULL, &c);
        if (r != 0)
                return r;
        if (arg_json)
                return print_json(c);

        printf("%-8s %10s %10s %10s %12s %10s %10s\n", "", "CAPACITY", "RESERVED", "THRESHOLD", "ALLOCATABLE",
               "COMMITTED", "FREE");
        for (size_t k = 0; k < ELEMENTSOF(resources); k++) {
                printf("%-8s", resources[k]);
                for (size_t col = 0; col < ELEMENTSOF(columns); col++) {
                        char buf[FORMAT_SIZE_MAX];
                        printf(" %*s", col == 3 ? 12 : 10,
                               fmt_resource(buf, sizeof(buf), resources[k],
                                            json_object_get(json_object_get(c, columns[col]), resources[k])));
                }
                printf("\n");
        }
        {
                char b1[FORMAT_SIZE_MAX], b2[FORMAT_SIZE_MAX], b3[FORMAT_SIZE_MAX];
                json_t *f = json_object_get(c, "largest_fit");
                printf("\nLargest service that still fits: cpu %s, memory %s, pids %s\n",
                       fmt_resource(b1, sizeof(b1), "cpu", json_object_get(f, "cpu")),
                       fmt_resource(b2, sizeof(b2), "memory", json_object_get(f, "memory")),
                       fmt_resource(b3, sizeof(b3), "pids", json_object_get(f, "pids")));
        }

        list = json_object_get(c, "ports");
        printf("Ports held:  ");
        if (json_array_size(list) == 0)
                printf("none");
        json_array_foreach(list, i, item)
                printf("%s%s (%s)", i ? ", " : "", strna(json_string_value(json_object_get(item, "port"))),
                       strna(json_string_value(json_object_get(item, "service"))));
        printf("\n");

        conditions = json_object_get(c, "conditions");
        printf("Conditions:  ");
        i = 0;
        json_object_foreach(conditions, key, value)
                if (json_is_boolean(value))
                        printf("%s%s %s", i++ ? ", " : "", key, json_is_true(value) ? "YES" : "no");
        printf("\n");

        list = json_object_get(c, "services");
        if (json_array_size(list) > 0) {
                printf("\n%-24s %8s %10s %8s %10s %10s %8s %6s\n", "SERVICE", "CPU", "MEMORY", "PIDS", "MEM USED",
                       "CPU TIME", "PIDS NOW", "OOM");
                json_array_foreach(list, i, item) {
                        json_t *req = json_object_get(item, "requested"), *use = json_object_get(item, "usage");
                        char b1[FORMAT_SIZE_MAX], b2[FORMAT_SIZE_MAX], b3[FORMAT_SIZE_MAX], b4[FORMAT_SIZE_MAX];
                        char cpu_time[32] = "-", pids_now[32] = "-", oom[16] = "-";
                        if (use) {
                                snprintf(cpu_time, sizeof(cpu_time), "%.1fs",
                                         (double) json_integer_value(json_object_get(use, "cpu_usage_usec")) / 1e6);
                                snprintf(pids_now, sizeof(pids_now), "%lld",
                                         (long long) json_integer_value(json_object_get(use, "pids_current")));
                                snprintf(oom, sizeof(oom), "%lld",
                                         (long long) json_integer_value(json_object_get(use, "oom_kills")));
                        }
                        printf("%-24s %8s %10s %8s %10s %10s %8s %6s\n",
                               strna(json_string_value(json_object_get(item, "name"))),
                               fmt_resource(b1, sizeof(b1), "cpu", json_object_get(req, "cpu")),
                               fmt_resource(b2, sizeof(b2), "memory", json_object_get(req, "memory")),
                               fmt_resource(b3, sizeof(b3), "pids", json_object_get(req, "pids")),
                               use ? fmt_resource(b4, sizeof(b4), "memory", json_object_get(use, "memory_current")) : "-",
                               cpu_time, pids_now, oom);
                }
        }

        list = json_object_get(c, "interfaces");
        if (json_array_size(list) > 0) {
                printf("\n%-16s %-8s %6s %8s  %s\n", "INTERFACE", "STATE", "MTU", "SPEED", "ADDRESSES");
                json_array_foreach(list, i, item) {
                        json_t *addrs = json_object_get(item, "addresses"), *a;
                        json_t *speed = json_object_get(item, "speed_mbps");
                        char sp[32] = "-";
                        size_t k;
                        if (json_is_integer(speed))
                                snprintf(sp, sizeof(sp), "%lldM", (long long) json_integer_value(speed));
                        printf("%-16s %-8s %6lld %8s  ", strna(json_string_value(json_object_get(item, "name"))),
                               strna(json_string_value(json_object_get(item, "state"))),
                               (long long) json_integer_value(json_object_get(item, "mtu")), sp);
                        json_array_foreach(addrs, k, a)
                                printf("%s%s", k ? " " : "", strna(json_string_value(a)));
                        printf("\n");
                }
        }
        return 0;
}

static int verb_nodes(int argc, char *argv[]) {
        _cleanup_json_ json_t *reply = NULL;
        json_t *nodes, *n;
        size_t i;
        int r;

        r = call("io.ballast.Agent.ListNodes", NULL, &reply);
        if (r != 0)
                return r;
        if (arg_json)
                return print_json(reply);
        nodes = json_object_get(reply, "nodes");
        printf("%-24s %8s %10s %10s  %s\n", "NODE", "FREE CPU", "FREE MEM", "SERVICES", "PORTS");
        json_array_foreach(nodes, i, n) {
                json_t *d = json_object_get(n, "document"), *free_ = json_object_get(d, "free"), *ports, *p;
                char b1[FORMAT_SIZE_MAX], b2[FORMAT_SIZE_MAX];
                size_t k;

                printf("%-24s %8s %10s %10zu  ", strna(json_string_value(json_object_get(n, "node"))),
                       fmt_resource(b1, sizeof(b1), "cpu", json_object_get(free_, "cpu")),
                       fmt_resource(b2, sizeof(b2), "memory", json_object_get(free_, "memory")),
                       json_array_size(json_object_get(d, "services")));
                ports = json_object_get(d, "ports");
                if (json_array_size(ports) == 0)
                        printf("-");
                json_array_foreach(ports, k, p)
                        printf("%s%s=%s", k ? " " : "", strna(json_string_value(json_object_get(p, "port"))),
                               strna(json_string_value(json_object_get(p, "service"))));
                printf("\n");
        }
        if (json_array_size(nodes) == 0)
                printf("(no nodes)\n");
        return 0;
}

static void print_deployment(const char *what, json_t *d) {
        if (json_is_object(d))
                printf("%s %s (stream %s, origin %s)", what, strna(json_string_value(json_object_get(d, "version"))),
                       strna(json_string_value(json_object_get(d, "stream"))),
                       strna(json_string_value(json_object_get(d, "origin"))));
}

/* What the gate reads from other daemons: the clock (timedated or the kernel), rpm-ostree's deployments. */
static void print_update_sources(json_t *s) {
        json_t *clock = json_object_get(s, "clock"), *ro = json_object_get(s, "rpm_ostree");

        if (json_is_object(clock))
                printf("Clock:        %s (%s)%s%s\n",
                       json_is_true(json_object_get(clock, "synchronized")) ? "synchronized" : "not known to be synchronized",
                       strna(json_string_value(json_object_get(clock, "source"))),
                       json_is_string(json_object_get(clock, "error")) ? "; " : "",
                       strempty(json_string_value(json_object_get(clock, "error"))));
        if (!json_is_object(ro))
                return;
        printf("rpm-ostree:   ");
        if (!json_is_true(json_object_get(ro, "known")))
                printf("unknown (%s)", strna(json_string_value(json_object_get(ro, "error"))));
        print_deployment("booted", json_object_get(ro, "booted"));
        if (json_is_true(json_object_get(ro, "known")))
                printf("; ");
        print_deployment("staged", json_object_get(ro, "staged"));
        if (json_is_true(json_object_get(ro, "known")) && !json_is_object(json_object_get(ro, "staged")))
                printf("nothing staged");
        printf("\n");
}

static void print_update_status(json_t *s) {
        json_t *os = json_object_get(s, "os"), *win = json_object_get(s, "window"), *ue = json_object_get(s, "update_engine"),
               *flow = json_object_get(s, "flow"), *lock = json_object_get(s, "lock"),
               *drain = json_object_get(s, "drain"), *zi = json_object_get(s, "zincati"), *w;
        char buf[64];
        size_t i;

#define STR(o, k) strna(json_string_value(json_object_get((o), (k))))
        printf("OS:           %s %s%s%s\n", STR(os, "kind"),
               json_is_string(json_object_get(os, "version")) ? STR(os, "version") : STR(os, "id"),
               json_is_string(json_object_get(os, "error")) ? "  error: " : "",
               json_is_string(json_object_get(os, "error")) ? STR(os, "error") : "");
        printf("Managed:      %s\n", json_is_true(json_object_get(s, "managed")) ? "yes" : "no (report only)");
        if (json_is_string(json_object_get(s, "file")))
                printf("File:         %s%s%s\n", STR(s, "file"), json_is_string(json_object_get(s, "file_error")) ? "  error: " : "",
                       json_is_string(json_object_get(s, "file_error")) ? STR(s, "file_error") : "");
        printf("Channel:      %s (%s)\n", STR(s, "channel"), STR(s, "channel_source"));
        printf("Max version:  %s\n", json_is_string(json_object_get(s, "max_version")) ? STR(s, "max_version") : "none");
        printf("Strategy:     %s\n", STR(s, "strategy"));
        printf("Windows:      ");
        if (json_array_size(json_object_get(s, "windows")) == 0)
                printf("none");
        json_array_foreach(json_object_get(s, "windows"), i, w) {
                json_t *d;
                size_t k;
                printf("%s", i ? "; " : "");
                json_array_foreach(json_object_get(w, "days"), k, d)
                        printf("%s%s", k ? "," : "", json_string_value(d));
                printf(" %s +%lldmin", STR(w, "start"), (long long) json_integer_value(json_object_get(w, "length_min")));
        }
        printf(" (%s)\n", STR(s, "time_zone"));
        printf("Window now:   %s", STR(win, "state"));
        if (json_is_integer(json_object_get(win, "end_usec")))
                printf(", closes %s", format_timestamp(buf, sizeof(buf), (uint64_t) json_integer_value(json_object_get(win, "end_usec"))));
        if (json_is_integer(json_object_get(win, "next_start_usec")))
                printf(", next opens %s", format_timestamp(buf, sizeof(buf), (uint64_t) json_integer_value(json_object_get(win, "next_start_usec"))));
        if (json_is_string(json_object_get(win, "error")))
                printf(" (%s)", STR(win, "error"));
        printf("\n");
        printf("Paused:       %s\n", json_is_true(json_object_get(s, "paused")) ? "yes" : "no");
        print_update_sources(s);
        if (json_is_object(ue))
                printf("update_engine: %s%s%s\n", json_is_true(json_object_get(ue, "known")) ? STR(ue, "operation") : "unknown",
                       json_is_string(json_object_get(ue, "error")) ? " — " : "",
                       json_is_string(json_object_get(ue, "error")) ? STR(ue, "error") : "");
        if (json_is_object(zi)) {
                printf("Zincati:      endpoint %s %s", STR(zi, "endpoint"),
                       json_is_true(json_object_get(zi, "serving")) ? "serving" : "not serving");
                if (json_is_string(json_object_get(zi, "error")))
                        printf(" (%s)", STR(zi, "error"));
                if (json_is_string(json_object_get(zi, "last_request")))
                        printf("; last request %s, answered %lld", STR(zi, "last_request"),
                               (long long) json_integer_value(json_object_get(zi, "last_answer")));
                printf("\n");
        }
        printf("Reboot:       %s%s%s\n", json_is_true(json_object_get(s, "reboot_needed")) ? "needed" : "not needed",
               json_is_string(json_object_get(s, "new_version")) ? ", into " : "",
               json_is_string(json_object_get(s, "new_version")) ? STR(s, "new_version") : "");
        printf("Flow:         %s\n", json_is_object(flow) ? STR(flow, "state") : "n/a");
        if (json_is_string(json_object_get(lock, "url"))) {
                printf("Lock:         %s at %s (group %s, id %s)", json_is_true(json_object_get(lock, "held")) ? "held" : "not held",
                       STR(lock, "url"), STR(lock, "group"), STR(lock, "id"));
                if (json_is_string(json_object_get(lock, "reason")))
                        printf("; last: %s: %s", STR(lock, "reason"), STR(lock, "message"));
                if (json_is_string(json_object_get(lock, "error")))
                        printf("; error: %s", STR(lock, "error"));
                printf("\n");
        }
        if (json_is_true(json_object_get(drain, "requested")) || json_is_string(json_object_get(drain, "error")))
                printf("Drain:        %s%s%s\n", json_is_true(json_object_get(drain, "drained")) ? "drained" : "draining",
                       json_is_string(json_object_get(drain, "error")) ? "; " : "",
                       json_is_string(json_object_get(drain, "error")) ? STR(drain, "error") : "");
        if (json_is_true(json_object_get(json_object_get(s, "inhibitor"), "held")))
                printf("Inhibitor:    holding a logind delay inhibitor (shutdown)\n");
        printf("Decision:     %s: %s (%s)\n", json_is_true(json_object_get(json_object_get(s, "decision"), "allow")) ? "reboot allowed" : "no reboot",
               STR(json_object_get(s, "decision"), "message"), STR(json_object_get(s, "decision"), "reason"));
        printf("Policy now:   %s: %s (%s)\n", json_is_true(json_object_get(json_object_get(s, "policy"), "allow")) ? "would allow" : "would not allow",
               STR(json_object_get(s, "policy"), "message"), STR(json_object_get(s, "policy"), "reason"));
#undef STR
}

static int verb_drain(int argc, char *argv[]) {
        _cleanup_json_ json_t *reply = NULL;
        bool drain = streq(argv[0], "drain");
        int r = call(drain ? "io.ballast.Agent.Drain" : "io.ballast.Agent.Undrain", NULL, &reply);

        if (r != 0)
                return r;
        if (arg_json)
                return print_json(reply);
        printf("%s\n", drain ? "Node drained: every service is stopped." : "Node undrained: services start again.");
        return 0;
}

static int verb_update(int argc, char *argv[]) {
        _cleanup_json_ json_t *reply = NULL;
        const char *sub = argv[1], *method;
        json_t *params = NULL;
        int r;

        if (streq(sub, "status") && argc == 2)
                method = "io.ballast.Agent.GetUpdateStatus";
        else if (streq(sub, "pause") && argc == 2)
                method = "io.ballast.Agent.UpdatePause";
        else if (streq(sub, "resume") && argc == 2)
                method = "io.ballast.Agent.UpdateResume";
        else if (streq(sub, "pin") && argc == 3) {
                method = "io.ballast.Agent.UpdatePin";
                params = json_pack("{s:s}", "channel", argv[2]);
        } else if (streq(sub, "approve") && argc <= 3) {
                method = "io.ballast.Agent.UpdateApprove";
                params = argc == 3 ? json_pack("{s:s}", "version", argv[2]) : NULL;
        } else if (streq(sub, "window") && (argc == 5 || argc == 6)) {
                _cleanup_free_ char *days_text = strdup(argv[2]);
                json_t *days = json_array();
                char *end, *save = NULL;
                long len = strtol(argv[4], &end, 10);

                if (!days_text || !days)
                        return 1;
                for (char *d = strtok_r(days_text, ",", &save); d; d = strtok_r(NULL, ",", &save))
                        json_array_append_new(days, json_string(d));
                if (*end || end == argv[4] || len <= 0 || len > 10080) {
                        json_decref(days);
                        fprintf(stderr, "ballastctl update window: LENGTH_MIN wants minutes (1 to 10080), not \"%s\"\n", argv[4]);
                        return 2;
                }
                method = "io.ballast.Agent.UpdateSetWindows";
                params = json_pack("{s:[{s:o,s:s,s:i}]}", "windows", "days", days, "start", argv[3], "length_min", (int) len);
                if (argc == 6)
                        json_object_set_new(params, "time_zone", json_string(argv[5]));
        } else {
                fprintf(stderr, "ballastctl update: expected status, pin CHANNEL, pause, resume, window DAYS START LENGTH_MIN [TZ] or approve [VERSION]\n");
                return 2;
        }
        r = call(method, params, &reply);
        if (r != 0)
                return r;
        if (arg_json)
                return print_json(reply);
        print_update_status(reply);
        return 0;
}

static const Verb verbs[] = {
        { "status", 0, 0, verb_status },
        { "ps", 0, 0, verb_ps },
        { "inspect", 1, 1, verb_inspect },
        { "apply", 1, -1, verb_apply },
        { "rm", 1, 1, verb_rm },
        { "restart", 1, 1, verb_restart },
        { "logs", 1, 1, verb_logs },
        { "capacity", 0, 0, verb_capacity },
        { "nodes", 0, 0, verb_nodes },
        { "update", 1, 5, verb_update },
        { "drain", 0, 0, verb_drain },
        { "undrain", 0, 0, verb_drain },
        {}
};

static int parse_argv(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100 };
        static const struct option options[] = {
                { "socket", required_argument, NULL, 's' },
                { "json", no_argument, NULL, 'j' },
                { "timeout", required_argument, NULL, 't' },
                { "wait", no_argument, NULL, 'w' },
                { "follow", no_argument, NULL, 'f' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "s:jt:wfh", options, NULL)) >= 0)
                switch (c) {
                case 's':
                        arg_socket = optarg;
                        break;
                case 'j':
                        arg_json = true;
                        break;
                case 'w':
                        arg_wait = true;
                        break;
                case 'f':
                        arg_follow = true;
                        break;
                case 't': {
                        char *end;
                        double t = strtod(optarg, &end);
                        if (*end || !(t > 0) || t > 86400) {
                                fprintf(stderr, "ballastctl: --timeout wants seconds, not \"%s\"\n", optarg);
                                return -EINVAL;
                        }
                        arg_timeout_usec = (uint64_t) (t * USEC_PER_SEC);
                        break;
                }
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("ballastctl %s\n", PACKAGE_VERSION);
                        return 0;
                default:
                        return -EINVAL;
                }
        return 1;
}

int main(int argc, char *argv[]) {
        int r = parse_argv(argc, argv);
        const Verb *v;

        if (r <= 0)
                return r < 0 ? 2 : 0;
        if (optind >= argc) {
                fprintf(stderr, "ballastctl: missing command; see ballastctl --help\n");
                return 2;
        }
        for (v = verbs; v->name; v++)
                if (streq(v->name, argv[optind]))
                        break;
        if (!v->name) {
                fprintf(stderr, "ballastctl: unknown command \"%s\"; see ballastctl --help\n", argv[optind]);
                return 2;
        }
        argc -= optind;
        argv += optind;
        if (argc - 1 < v->min_args || (v->max_args >= 0 && argc - 1 > v->max_args)) {
                fprintf(stderr, "ballastctl %s: wrong number of arguments; see ballastctl --help\n", v->name);
                return 2;
        }
        return v->func(argc, argv);
}
