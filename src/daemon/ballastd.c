/* SPDX-License-Identifier: MIT */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "daemon/manager.h"
#include "shared/log.h"

static const char *arg_config = NULL;
static const char *arg_root = NULL;
static const char *arg_socket = NULL;
static const char *arg_log_level = NULL;

static void help(void) {
        printf("Usage: ballastd [OPTIONS]\n\n"
               "The ballast node agent: runs the node's services as systemd units, holds them to their\n"
               "resources, reports the node to the cluster and gates OS reboots.\n\n"
               "  -c --config PATH     configuration file (default /etc/ballast/ballast.json, under --root)\n"
               "  -r --root DIR        resolve every host path under DIR (for tests; default /)\n"
               "  -s --socket PATH     control socket to bind when not socket-activated\n"
               "                       (default: control.socket of the configuration, under --root)\n"
               "     --log-level LVL   err, warning, notice, info (default) or debug\n"
               "  -h --help            show this help\n"
               "     --version         show the version\n\n"
               "Signals: SIGTERM/SIGINT exit and leave every workload running; SIGHUP reloads the configuration.\n");
}

static int parse_argv(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_LOG_LEVEL };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "root", required_argument, NULL, 'r' },
                { "socket", required_argument, NULL, 's' },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "c:r:s:h", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        arg_config = optarg;
                        break;
                case 'r':
                        if (optarg[0] != '/') {
                                fprintf(stderr, "ballastd: --root must be an absolute path: %s\n", optarg);
                                return -EINVAL;
                        }
                        arg_root = optarg;
                        break;
                case 's':
                        arg_socket = optarg;
                        break;
                case ARG_LOG_LEVEL:
                        if (log_parse_level(optarg) < 0) {
                                fprintf(stderr, "ballastd: unknown log level: %s\n", optarg);
                                return -EINVAL;
                        }
                        arg_log_level = optarg;
                        break;
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("ballastd %s\n", PACKAGE_VERSION);
                        return 0;
                default:
                        return -EINVAL;
                }
        if (optind < argc) {
                fprintf(stderr, "ballastd: unexpected argument: %s\n", argv[optind]);
                return -EINVAL;
        }
        return 1;
}

int main(int argc, char *argv[]) {
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? 2 : 0;

        log_setup(LOG_TARGET_AUTO, arg_log_level ? log_parse_level(arg_log_level) : -1);

        r = manager_new(&m, &(ManagerOptions) { .config_path = arg_config, .root = arg_root, .socket_path = arg_socket });
        if (r < 0) {
                log_error_errno(r, "Failed to create manager: %m");
                return 1;
        }
        r = manager_start(m);
        if (r < 0)
                return 1;
        r = manager_run(m);
        if (r < 0) {
                log_error_errno(r, "Event loop failed: %m");
                return 1;
        }
        return 0;
}
