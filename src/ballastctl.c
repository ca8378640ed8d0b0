/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "shared/json-util.h"
#include "shared/macro.h"
#include "shared/time-util.h"
#include "varlink-client.h"

#define DEFAULT_SOCKET "/run/ballast/ballastd.sock"

static const char *arg_socket = NULL;
static bool arg_json = false;
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
               "  status               the agent: version, node, uptime, services, what it waits for\n\n"
               "Options:\n"
               "  -s --socket PATH     control socket (default $BALLAST_SOCKET or " DEFAULT_SOCKET ")\n"
               "  -j --json            print JSON instead of tables\n"
               "  -t --timeout SEC     give up waiting for ballastd after SEC seconds (default 30)\n"
               "  -h --help            show this help\n"
               "     --version         show the version\n\n"
               "Exit status: 0 on success, 1 when ballastd is unreachable or refuses, 2 on bad usage.\n");
}

static const char *socket_path(void) {
        if (arg_socket)
                return arg_socket;
        return getenv("BALLAST_SOCKET") ?: DEFAULT_SOCKET;
}

/* Calls a method and prints what went wrong, if anything. Returns 0, or 1 for the exit code. */
static int call(const char *method, json_t *params, json_t **ret) {
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
        r = varlink_client_call(c, method, params, arg_timeout_usec, &reply, &error);
        if (r < 0) {
                fprintf(stderr, "ballastctl: %s: %s\n", method,
                        r == -ETIMEDOUT ? "ballastd did not answer in time" : strerror(-r));
                return 1;
        }
        if (error) {
                _cleanup_free_ char *p = json_dump_compact(reply);
                fprintf(stderr, "ballastctl: %s failed: %s %s\n", method, error, strempty(p));
                return 1;
        }
        *ret = TAKE_PTR(reply);
        return 0;
}

static int print_json(json_t *v) {
        _cleanup_free_ char *s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS);
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
        return 0;
}

static const Verb verbs[] = {
        { "status", 0, 0, verb_status },
        {}
};

static int parse_argv(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100 };
        static const struct option options[] = {
                { "socket", required_argument, NULL, 's' },
                { "json", no_argument, NULL, 'j' },
                { "timeout", required_argument, NULL, 't' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "s:jt:h", options, NULL)) >= 0)
                switch (c) {
                case 's':
                        arg_socket = optarg;
                        break;
                case 'j':
                        arg_json = true;
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
