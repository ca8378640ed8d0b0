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
bool arg_wide = false;
bool arg_dry_run = false;
bool arg_volumes = false;
const char *arg_lines = NULL, *arg_since = NULL, *arg_output = NULL;
const char *arg_verb = "";
static bool arg_help = false;
uint64_t arg_timeout_usec = 30 * USEC_PER_SEC;
uint64_t arg_deadline_usec = 0;

typedef struct Verb {
        const char *name;
        int min_args, max_args; /* after the verb */
        int (*func)(int argc, char *argv[]);
        const char *usage;      /* what follows "ballastctl " in the help */
        const char *help;       /* what it does, and its exit codes where they say more than the table */
} Verb;

static const Verb verbs[] = {
        { "status", 0, 0, verb_status, "status",
          "the agent: version, node, uptime, services, the cluster, what it waits for.\n"
          "Exits 6 while the configuration is invalid (nothing is acted on then)." },
        { "ps", 0, 0, verb_ps, "ps",
          "the services: state, health, restarts, and ORIGIN: \"file\" (a spec in the services directory: change\n"
          "or remove the file; rm refuses) or \"applied\" (over the socket: rm removes it)." },
        { "inspect", 1, 1, verb_inspect, "inspect NAME", "a service's spec and state, as JSON." },
        { "apply", 1, -1, verb_apply, "apply [--wait|--dry-run] FILE|DIR...",
          "validate every spec first, then apply them all (a DIR: its *.json); --wait shows progress until\n"
          "each is active or failed; --dry-run applies nothing and shows what would change (as diff)." },
        { "diff", 1, -1, verb_diff, "diff FILE|DIR...",
          "what applying would change, nothing applied: the spec's fields, the unit's lines (- and +), the\n"
          "container's settings, and whether the service restarts (or only its resources change live)." },
        { "validate", 1, -1, verb_validate, "validate FILE...",
          "check specs offline, with ballastd's own parser (no daemon needed): each error as\n"
          "FILE:LINE:COLUMN: field: why. Exits 2 when a spec is invalid, 1 when a file cannot be read." },
        { "rm", 1, 1, verb_rm, "rm [--volumes] NAME",
          "stop a service and remove its unit, container and spec; its named volumes (labelled\n"
          "io.ballast.service=NAME) are kept for a later apply, unless --volumes: then they are removed once the\n"
          "container is gone. Refused (exit 3) for a service that comes from a file." },
        { "restart", 1, 1, verb_restart, "restart NAME",
          "restart a service (waits until it is up again). Refused (exit 3) for a service stopped on purpose." },
        { "rollback", 1, 1, verb_rollback, "rollback NAME",
          "go back to the spec kept before the current one (during an update: the one it replaces) and\n"
          "restart the service from it. Exits 4 when no earlier spec is kept, 3 for a service from a file." },
        { "stop", 1, 1, verb_stop, "stop NAME",
          "stop a service and keep it stopped, across reconciles and restarts of ballastd, until start (or an\n"
          "apply). A `systemctl stop ballast-NAME.service` by hand is kept the same way; ps says by whom." },
        { "start", 1, 1, verb_start, "start NAME",
          "start a stopped service again (waits until it is up); clears the stop of stop or of systemctl stop." },
        { "logs", 1, 1, verb_logs, "logs [-f] [-n N] [--since TIME] [-o MODE] NAME",
          "the service's journal (journalctl -u ballast-NAME.service); -n, --since and -o go through to\n"
          "journalctl (its --lines, --since, --output)." },
        { "capacity", 0, 0, verb_capacity, "capacity",
          "capacity, reserved, allocatable, committed, free, the largest fit, ports held, per-service usage\n"
          "against limits, interfaces." },
        { "nodes", 0, 0, verb_nodes, "nodes [--wide]",
          "the cluster's nodes (from etcd): the reboot flow's state and reason, the lock, drained, the OS and\n"
          "its stream, free capacity, last seen; --wide adds ballast's version, labels and ports. Then the\n"
          "cluster's fragmentation: the total free beside the largest service that fits on one node.\n"
          "Exits 3 when no cluster is configured, 5 when etcd cannot be reached." },
        { "drain", 0, 0, verb_drain, "drain",
          "stop every service (the last one first) and keep them stopped; the node's status document says\n"
          "it is draining." },
        { "undrain", 0, 0, verb_drain, "undrain", "start again what drain stopped." },
        { "update", 1, 5, verb_update, "update SUBCOMMAND",
          "OS updates and the reboot flow:\n"
          "  update status          the OS, the policy, the window, the reboot flow and whether the node\n"
          "                         may reboot now, and if not, why\n"
          "  update pin CHANNEL     pin the update channel (Flatcar: GROUP= in update.conf)\n"
          "  update unpin           back to the configuration's channel\n"
          "  update pause|resume    no reboots for updates until resumed\n"
          "  update window DAYS START LENGTH_MIN [TZ]\n"
          "                         one maintenance window, e.g. Sat,Sun 02:00 120 Europe/Berlin\n"
          "  update window reset    back to the configuration's windows and time zone\n"
          "  update approve [VERSION]  allow a reboot into VERSION although above max_version\n"
          "  update unlock          release this node's FleetLock slot (a wave stuck on this node);\n"
          "                         refused (exit 3) while the node drains or reboots under the lock" },
        { "help", 0, 1, verb_help, "help [COMMAND]", "this help, or one command's." },
        {}
};

static const char exit_codes[] =
        "Exit status:\n"
        "  0  success\n"
        "  1  the operation failed (a service failed or is unhealthy, a write failed)\n"
        "  2  bad usage, or input ballastd refuses as invalid (a spec, a window, a channel)\n"
        "  3  refused in the node's current state (a file's service, drained, updates not managed,\n"
        "     the lock in use, no cluster configured), or permission denied\n"
        "  4  no such service; rollback: no earlier spec kept\n"
        "  5  ballastd (or the cluster, for nodes) cannot be reached, or did not answer in time\n"
        "  6  status: the configuration is invalid\n"
        "  7  apply --wait, restart: the -t deadline passed before the service settled (its last\n"
        "     state and why are printed on stderr)\n";

static void help(void) {
        printf("Usage: ballastctl [OPTIONS] COMMAND ...\n\n"
               "Drives ballastd, the ballast node agent, over its control socket.\n\n"
               "Commands (ballastctl help COMMAND, or COMMAND --help, says more):\n");
        for (const Verb *v = verbs; v->name; v++) {
                const char *nl = strchr(v->help, '\n'), *dot = strchr(v->help, '.');
                int len = (int) strlen(v->help);
                if (nl && nl - v->help < len)
                        len = (int) (nl - v->help);
                if (dot && dot - v->help < len)
                        len = (int) (dot - v->help);
                printf("  %-26s %.*s\n", v->usage, len, v->help);
        }
        printf("\nOptions:\n"
               "  -s --socket PATH     control socket (default $BALLAST_SOCKET or " DEFAULT_SOCKET ")\n"
               "  -j --json            print JSON instead of tables; an error is a JSON object on stdout:\n"
               "                       {\"error\": the Varlink error name, \"parameters\", \"message\"}\n"
               "  -t --timeout SEC     give up SEC seconds after starting (default 30): one deadline\n"
               "                       for the whole command, apply --wait and restart included\n"
               "  -w --wait            apply: wait and show progress\n"
               "     --dry-run         apply: show what would change, apply nothing\n"
               "     --volumes         rm: remove the service's named volumes too\n"
               "  -f --follow          logs: follow\n"
               "  -n --lines N         logs: the last N lines (journalctl -n)\n"
               "     --since TIME      logs: from TIME on (journalctl --since)\n"
               "  -o --output MODE     logs: journalctl's output mode (short, json, cat, ...)\n"
               "     --wide            nodes: more columns\n"
               "  -h --help            show this help\n"
               "     --version         show the version\n\n"
               "%s", exit_codes);
}

static const Verb *find_verb(const char *name) {
        for (const Verb *v = verbs; v->name; v++)
                if (streq(v->name, name))
                        return v;
        return NULL;
}

static void verb_help_print(const Verb *v) {
        printf("Usage: ballastctl [OPTIONS] %s\n\n%s\n\n%s", v->usage, v->help, exit_codes);
}

int verb_help(int argc, char *argv[]) {
        const Verb *v;

        if (argc < 2) {
                help();
                return 0;
        }
        v = find_verb(argv[1]);
        if (!v) {
                fprintf(stderr, "ballastctl help: unknown command \"%s\"; see ballastctl --help\n", argv[1]);
                return CTL_EXIT_USAGE;
        }
        verb_help_print(v);
        return 0;
}

const char *socket_path(void) {
        if (arg_socket)
                return arg_socket;
        return getenv("BALLAST_SOCKET") ?: DEFAULT_SOCKET;
}

/* Calls a method (taking params) and prints what went wrong, if anything, as a sentence (--json: the error's
 * name and parameters). Returns 0, or the exit code (ctl.h). */
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
                return ctl_errno_exit_code(r);
        }
        r = varlink_client_call_until(c, method, p, arg_deadline_usec, &reply, &error);
        if (r < 0) {
                fprintf(stderr, "ballastctl: %s: %s\n", method,
                        r == -ETIMEDOUT ? "ballastd did not answer in time" : strerror(-r));
                return ctl_errno_exit_code(r);
        }
        if (error) {
                ctl_print_error(arg_verb, error, reply);
                return ctl_error_exit_code(error);
        }
        *ret = TAKE_PTR(reply);
        return 0;
}

static int parse_argv(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_WIDE, ARG_SINCE, ARG_DRY_RUN, ARG_VOLUMES };
        static const struct option options[] = {
                { "socket", required_argument, NULL, 's' },
                { "json", no_argument, NULL, 'j' },
                { "timeout", required_argument, NULL, 't' },
                { "wait", no_argument, NULL, 'w' },
                { "follow", no_argument, NULL, 'f' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "wide", no_argument, NULL, ARG_WIDE },
                { "lines", required_argument, NULL, 'n' },
                { "since", required_argument, NULL, ARG_SINCE },
                { "dry-run", no_argument, NULL, ARG_DRY_RUN },
                { "volumes", no_argument, NULL, ARG_VOLUMES },
                { "output", required_argument, NULL, 'o' },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "s:jt:wfhn:o:", options, NULL)) >= 0)
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
                        arg_help = true; /* the verb's help, when there is a verb */
                        break;
                case ARG_WIDE:
                        arg_wide = true;
                        break;
                case 'n': /* logs: through to journalctl, which checks them */
                        arg_lines = optarg;
                        break;
                case ARG_DRY_RUN:
                        arg_dry_run = true;
                        break;
                case ARG_VOLUMES:
                        arg_volumes = true;
                        break;
                case ARG_SINCE:
                        arg_since = optarg;
                        break;
                case 'o':
                        arg_output = optarg;
                        break;
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
                return r < 0 ? CTL_EXIT_USAGE : CTL_EXIT_OK;
        arg_deadline_usec = now_usec(CLOCK_MONOTONIC) + arg_timeout_usec;
        if (optind >= argc) {
                if (arg_help) {
                        help();
                        return CTL_EXIT_OK;
                }
                fprintf(stderr, "ballastctl: missing command; see ballastctl --help\n");
                return CTL_EXIT_USAGE;
        }
        v = find_verb(argv[optind]);
        if (!v) {
                fprintf(stderr, "ballastctl: unknown command \"%s\"; see ballastctl --help\n", argv[optind]);
                return CTL_EXIT_USAGE;
        }
        if (arg_help) {
                verb_help_print(v);
                return CTL_EXIT_OK;
        }
        arg_verb = v->name;
        argc -= optind;
        argv += optind;
        if (argc - 1 < v->min_args || (v->max_args >= 0 && argc - 1 > v->max_args)) {
                fprintf(stderr, "ballastctl %s: wrong number of arguments; see ballastctl help %s\n", v->name, v->name);
                return CTL_EXIT_USAGE;
        }
        return v->func(argc, argv);
}
