/* SPDX-License-Identifier: MIT */
/* ballastctl: the command line client of ballastd. main() picks the verb from the table and runs its function
 * (ctl.h says which file holds which verb). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"
#include "shared/json-util.h"
#include "shared/macro.h"
#include "shared/time-util.h"
#include "varlink/varlink-client.h"

#define DEFAULT_SOCKET "/run/ballast/ballastd.sock"

const char *arg_socket = NULL;
bool arg_json = false;
bool arg_wait = false;
bool arg_follow = false;
uint64_t arg_timeout_usec = 30 * USEC_PER_SEC;
uint64_t arg_deadline_usec = 0;

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
               "  -t --timeout SEC     give up SEC seconds after starting (default 30): one deadline\n"
               "                       for the whole command, apply --wait and restart included\n"
               "  -w --wait            apply: wait and show progress\n"
               "  -f --follow          logs: follow\n"
               "  -h --help            show this help\n"
               "     --version         show the version\n\n"
               "Exit status: 0 on success, 1 when ballastd is unreachable or refuses, 2 on bad usage,\n"
               "3 when the -t deadline passed (apply --wait, restart: the service's last state and why\n"
               "are printed on stderr).\n");
}

const char *socket_path(void) {
        if (arg_socket)
                return arg_socket;
        return getenv("BALLAST_SOCKET") ?: DEFAULT_SOCKET;
}

/* Calls a method (taking params) and prints what went wrong, if anything. Returns 0, or the exit code: 1, or
 * EXIT_DEADLINE when the deadline passed. */
int call(const char *method, json_t *params, json_t **ret) {
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
        r = varlink_client_call_until(c, method, p, arg_deadline_usec, &reply, &error);
        if (r < 0) {
                fprintf(stderr, "ballastctl: %s: %s\n", method,
                        r == -ETIMEDOUT ? "ballastd did not answer in time" : strerror(-r));
                return r == -ETIMEDOUT ? EXIT_DEADLINE : 1;
        }
        if (error) {
                _cleanup_free_ char *text = json_dump_compact(reply);
                fprintf(stderr, "ballastctl: %s failed: %s %s\n", method, error, strempty(text));
                return 1;
        }
        *ret = TAKE_PTR(reply);
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
        arg_deadline_usec = now_usec(CLOCK_MONOTONIC) + arg_timeout_usec;
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
