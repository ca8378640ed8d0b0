/* SPDX-License-Identifier: MIT */
/* ballast-run: the ExecStartPre=/ExecStart= helper of every generated ballast-NAME.service.
 *
 *   ballast-run backoff --name NAME --delay-ms D --max-delay-ms M     (ExecStartPre=)
 *   ballast-run docker --name NAME --body FILE ...                     (ExecStart=, Type=notify)
 *
 * `docker` makes the unit's main process live exactly as long as the container: it creates (or reuses) the
 * container through the Engine API, starts it, waits for its exit and exits with its exit code, so systemd
 * sees every crash and restarts the unit by its own Restart= rule (Docker's restart policy is off). It
 * starts the container through the API rather than with an attached `docker run`, which costs about 0.8 s
 * more on every (re)start (see shared/notes/real-components.md, "Docker timings").
 *
 * This is a short-lived program of its own, not part of the daemon: blocking is allowed here. Still, every
 * wait (Docker's API, the readiness answer of ballastd, SIGTERM from systemd) goes through one poll, so that
 * none of them can hide another: a container that dies while we wait for its first health check is noticed
 * at once, and a stop request is honoured while Docker is slow. */

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "run/run.h"
#include "shared/backoff.h"
#include "shared/holder.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/parse-util.h"
#include "shared/service-name.h"

/* Parsed command line. */
const char *arg_name;
const char *arg_body;
unsigned arg_stop_timeout_s = 10;
const char *arg_docker_socket = "/var/run/docker.sock";
const char *arg_control_socket = "/run/ballast/ballastd.sock";
uint64_t arg_ready_timeout_ms;               /* 0: wait as long as systemd lets us */
uint64_t arg_docker_timeout_ms = 60 * 1000;  /* how long to wait for Docker to come up */
uint64_t arg_delay_ms = 500;
uint64_t arg_max_delay_ms = 60 * 1000;
uint64_t arg_stable_ms = RUN_STABLE_MS;
const char *arg_state_dir = "/run/ballast/backoff";
bool arg_backoff;                            /* docker: --delay-ms given, back off before the start */
const char *arg_pause;                       /* NULL: ballast-pause beside this program */
const char *arg_net_body;                    /* the network holder's body; NULL: no holder */
RestartPolicy arg_restart;

/* ---- small pure helpers ------------------------------------------------------------------------------- */

/* "1500", "1500ms", "2s", "1min"; "infinity" → 0 where allowed. Bare numbers are in default_unit_ms. */
static int parse_duration_ms(const char *s, uint64_t default_unit_ms, bool allow_infinity, uint64_t *ret) {
        static const struct {
                const char *suffix;
                uint64_t ms;
        } units[] = { { "ms", 1 }, { "s", 1000 }, { "sec", 1000 }, { "min", 60 * 1000 } };
        char digits[32];
        uint64_t v, mult = default_unit_ms;
        size_t n = strspn(s, "0123456789");
        int r;

        if (allow_infinity && streq(s, "infinity")) {
                *ret = 0;
                return 0;
        }
        if (n == 0 || n >= sizeof(digits))
                return -EINVAL;
        if (s[n]) {
                bool found = false;
                for (size_t i = 0; i < ELEMENTSOF(units); i++)
                        if (streq(s + n, units[i].suffix)) {
                                mult = units[i].ms;
                                found = true;
                        }
                if (!found)
                        return -EINVAL;
        }
        memcpy(digits, s, n);
        digits[n] = 0;
        r = safe_atou64(digits, &v);
        if (r < 0)
                return r;
        if (v > UINT64_MAX / mult / 1000) /* keep it convertible to µs */
                return -ERANGE;
        *ret = v * mult;
        return 0;
}

/* ---- docker: the main path ----------------------------------------------------------------------------- */

/* The service's body, the holder's (--net-body) and the names of their containers. Logs its errors. */
static int bodies_load(Body *body, Body *hbody, char **ret_cname, char **ret_hname) {
        if (body_load(arg_body, body) < 0)
                return -EINVAL;
        if (arg_net_body) {
                if (body_load(arg_net_body, hbody) < 0) {
                        body_done(body);
                        return -EINVAL;
                }
                hbody->holder = true;
        }
        if (body_add_sources(body) < 0) {
                body_done(body);
                body_done(hbody);
                return -EINVAL;
        }
        if (asprintf(ret_cname, "ballast-%s", arg_name) < 0 ||
            asprintf(ret_hname, "ballast-%s" HOLDER_SUFFIX, arg_name) < 0) {
                body_done(body);
                body_done(hbody);
                return log_error_errno(-ENOMEM, "Out of memory");
        }
        return 0;
}

/* The crash-loop backoff, here rather than in an ExecStartPre= of its own: one process start less on every
 * restart. A stop request during the sleep ends it: -EINTR. */
static int docker_backoff(Docker *d) {
        uint64_t delay_ms = 0;

        if (!arg_backoff || backoff_take(&delay_ms) < 0 || delay_ms == 0)
                return 0;
        (void) sd_notifyf(false, "STATUS=backing off %" PRIu64 " ms after a quick exit", delay_ms);
        return backoff_sleep(d->signal_fd, delay_ms);
}

/* Negotiates the API version, makes the network holder run (with --net-body; *ret_holder is its ID as soon as
 * it is known), and prepares and starts the container. */
static int docker_start(Docker *d, Body *body, const Body *hbody, const char *cname, const char *hname,
                        Output *out, char **ret_holder, char **ret_id, Request **ret_wait) {
        bool reused = false;
        int r;

        r = docker_negotiate(d);
        if (r >= 0 && hbody->text) {
                r = holder_ensure(d, hbody, hname, ret_holder);
                if (r >= 0)
                        r = body_join_holder(body, *ret_holder);
        }
        if (r >= 0)
                r = container_prepare(d, body, cname, true, ret_id, &(bool) { false }, &reused);
        if (r >= 0)
                r = container_start(d, *ret_id, out, body->tty, ret_wait);
        if (r == -EIO && reused) {
                /* Docker refused to start the stopped container it has (its network removed meanwhile, say):
                 * replace it with a fresh one from the body, once, as a stale container must never block a start.
                 * (It does not help against Docker's own "port is already allocated" after a dockerd killed in
                 * the middle of a start: that allocation lives in dockerd until it restarts.) */
                log_notice("Replacing the container %s, which Docker could not start, with a fresh one",
                           short_id(*ret_id));
                *ret_id = mfree(*ret_id);
                r = container_prepare(d, body, cname, false, ret_id, &(bool) { false }, &reused);
                if (r >= 0)
                        r = container_start(d, *ret_id, out, body->tty, ret_wait);
        }
        if (r == -EINTR)
                log_info("Stop requested before the container ran; not starting it");
        return r;
}

static int run_docker(void) {
        _cleanup_free_ char *cname = NULL, *hname = NULL, *id = NULL, *holder = NULL;
        _cleanup_request_ Request *wait = NULL;
        _cleanup_close_ int signal_fd = -1;
        Body body = {}, hbody = {};
        Docker d = {};
        _cleanup_free_ Output *out = calloc(1, sizeof(Output)); /* 2 × OUTPUT_LINE_MAX: not on the stack */
        bool stopped = false;
        int r, code = EXIT_DOCKER;

        signal_fd = signals_block();
        if (signal_fd < 0 || !out)
                return EXIT_FAILURE;
        if (bodies_load(&body, &hbody, &cname, &hname) < 0)
                return EXIT_FAILURE;
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                body_done(&body);
                return log_error("curl_global_init() failed"), EXIT_FAILURE;
        }
        d = (Docker) { .multi = curl_multi_init(), .signal_fd = signal_fd };
        if (!d.multi) {
                log_error("curl_multi_init() failed");
                goto finish;
        }

        r = docker_backoff(&d);
        if (r >= 0)
                r = docker_start(&d, &body, &hbody, cname, hname, out, &holder, &id, &wait);
        if (r == -EINTR) {
                stopped = true;
                code = EXIT_SUCCESS;
                goto finish;
        }
        if (r < 0)
                goto finish;

        log_event(LOG_INFO, 0, "container-started", arg_name, BALLAST_MESSAGE_STARTED, "Container %s (%s) started",
                  short_id(id), cname);
        (void) sd_notifyf(false, "STATUS=container %s started", short_id(id));

        r = container_supervise(&d, id, wait, holder, out, &code, &stopped);
        if (r < 0)
                code = EXIT_DOCKER;

finish:
        /* The ports go with the service when it is stopped, or when systemd will not start it again. A stop
         * before we knew the holder (during the backoff) stops it by name: it may run from the last start. */
        if (hbody.text && (stopped || (holder && !restart_follows(code))))
                holder_release(&d, holder ?: hname);
        wait = request_free(wait);
        output_done(out);
        if (d.multi)
                curl_multi_cleanup(d.multi);
        curl_global_cleanup();
        body_done(&body);
        body_done(&hbody);
        return code;
}

/* ---- command line ------------------------------------------------------------------------------------- */

static void help(void) {
        printf("Usage: ballast-run COMMAND [OPTIONS]\n"
               "\n"
               "The helper that the generated ballast-NAME.service units run. Logs go to stderr (the unit's journal).\n"
               "\n"
               "Commands:\n"
               "  docker    Run the service's container as the unit's main process (ExecStart=, Type=notify):\n"
               "            back off after a quick exit (with --delay-ms), negotiate the Engine API version,\n"
               "            make the network holder ballast-NAME.net run (with --net-body: it publishes the\n"
               "            ports; the container joins its network), reuse the container ballast-NAME\n"
               "            when its io.ballast.hash label matches the body (stopped: start it; running,\n"
               "            its previous helper killed: take it over), else replace or create it, attach\n"
               "            to its output (written to stdout/stderr: the unit's journal), start it, send\n"
               "            READY=1 once ballastd says the first health check\n"
               "            passed (at once when ballastd is unreachable), and exit with the container's exit\n"
               "            code when it exits. SIGTERM/SIGINT stop the container (it is kept for a fast\n"
               "            restart) and the holder, and exit 0.\n"
               "  backoff   Crash-loop backoff (ExecStartPre=): sleep 0 after a run that lasted a while, else\n"
               "            twice the previous delay, at least --delay-ms and at most --max-delay-ms.\n"
               "            SIGTERM/SIGINT end the sleep, and it exits 0 (systemd, stopping the unit, then\n"
               "            leaves it inactive rather than failed).\n"
               "\n"
               "Common options:\n"
               "  --name NAME              the service name (" SERVICE_NAME_RULE "); required\n"
               "  --log-level LEVEL        emerg..debug (default info)\n"
               "  -h, --help               show this help and exit\n"
               "  --version                show the version and exit\n"
               "\n"
               "docker options:\n"
               "  --body FILE              JSON body for POST /containers/create (written by ballastd); required\n"
               "  --net-body FILE          the network holder's body (written by ballastd); without it, the\n"
               "                           container has its own network and publishes its ports itself\n"
               "  --stop-timeout SEC       seconds Docker waits before SIGKILL on stop (default 10)\n"
               "  --docker-socket PATH     the Engine API socket (default /var/run/docker.sock)\n"
               "  --docker-timeout TIME    how long to wait for Docker to come up (default 60s)\n"
               "  --control-socket PATH    ballastd's Varlink socket for the readiness wait\n"
               "                           (default /run/ballast/ballastd.sock; \"\" skips the wait)\n"
               "  --ready-timeout TIME     give up (stop the container, exit 1) when no health verdict came within\n"
               "                           TIME (default infinity: systemd's TimeoutStartSec= bounds it)\n"
               "  --restart POLICY         the unit's Restart= (always, on-failure, no): when the container's exit\n"
               "                           ends the service for good, the network holder is stopped too\n"
               "  --pause PATH             the holder's program (default: ballast-pause beside ballast-run)\n"
               "  --pull POLICY            missing (default: pull when the image is not here), always (pull at\n"
               "                           every start; a container from another image is replaced), never\n"
               "  --registry-auth FILE     registry credentials, Docker's config.json format (root's, 0600)\n"
               "  --env-file FILE          KEY=VALUE lines added to the container's environment (root's, not\n"
               "                           writable by others); repeatable\n"
               "\n"
               "backoff options (docker: backs off itself when --delay-ms is given):\n"
               "  --delay-ms MS            the first backoff step (default 500)\n"
               "  --max-delay-ms MS        the longest backoff (default 60000)\n"
               "  --stable-ms MS           how long a run must last to reset the backoff (default 10000)\n"
               "  --state-dir DIR          where the per-service state lives (default /run/ballast/backoff)\n"
               "\n"
               "TIME is a number of seconds, or a number with ms, s or min.\n"
               "\n"
               "Exit status: docker: the container's exit code (137 after SIGKILL); 0 after a stop by\n"
               "SIGTERM/SIGINT; 1 when the first health check failed, the body is missing or invalid; 125 when\n"
               "Docker is unreachable or refuses to create or start the container, or the wait broke off.\n"
               "backoff: 0, also after a SIGTERM/SIGINT; 1 on an internal error (out of memory). Both: 2 for a\n"
               "usage error.\n");
}

enum {
        OPT_NAME = 0x100,
        OPT_BODY,
        OPT_STOP_TIMEOUT,
        OPT_DOCKER_SOCKET,
        OPT_DOCKER_TIMEOUT,
        OPT_CONTROL_SOCKET,
        OPT_READY_TIMEOUT,
        OPT_DELAY_MS,
        OPT_MAX_DELAY_MS,
        OPT_STABLE_MS,
        OPT_STATE_DIR,
        OPT_PAUSE,
        OPT_NET_BODY,
        OPT_RESTART,
        OPT_PULL,
        OPT_REGISTRY_AUTH,
        OPT_ENV_FILE,
        OPT_LOG_LEVEL,
        OPT_VERSION,
};

typedef enum Command {
        COMMAND_NONE,
        COMMAND_DOCKER,
        COMMAND_BACKOFF,
} Command;

static const struct option options[] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, OPT_VERSION },
        { "name", required_argument, NULL, OPT_NAME },
        { "body", required_argument, NULL, OPT_BODY },
        { "stop-timeout", required_argument, NULL, OPT_STOP_TIMEOUT },
        { "docker-socket", required_argument, NULL, OPT_DOCKER_SOCKET },
        { "docker-timeout", required_argument, NULL, OPT_DOCKER_TIMEOUT },
        { "control-socket", required_argument, NULL, OPT_CONTROL_SOCKET },
        { "ready-timeout", required_argument, NULL, OPT_READY_TIMEOUT },
        { "delay-ms", required_argument, NULL, OPT_DELAY_MS },
        { "max-delay-ms", required_argument, NULL, OPT_MAX_DELAY_MS },
        { "stable-ms", required_argument, NULL, OPT_STABLE_MS },
        { "state-dir", required_argument, NULL, OPT_STATE_DIR },
        { "pause", required_argument, NULL, OPT_PAUSE },
        { "net-body", required_argument, NULL, OPT_NET_BODY },
        { "restart", required_argument, NULL, OPT_RESTART },
        { "pull", required_argument, NULL, OPT_PULL },
        { "registry-auth", required_argument, NULL, OPT_REGISTRY_AUTH },
        { "env-file", required_argument, NULL, OPT_ENV_FILE },
        { "log-level", required_argument, NULL, OPT_LOG_LEVEL },
        {}
};

/* The command an option belongs to; COMMAND_NONE: to both (the backoff's belong to both: `docker` backs off
 * itself when given --delay-ms). */
static Command option_owner(int opt) {
        static const struct {
                int opt;
                Command command;
        } owner[] = {
                { OPT_BODY, COMMAND_DOCKER },           { OPT_STOP_TIMEOUT, COMMAND_DOCKER },
                { OPT_DOCKER_SOCKET, COMMAND_DOCKER },  { OPT_DOCKER_TIMEOUT, COMMAND_DOCKER },
                { OPT_CONTROL_SOCKET, COMMAND_DOCKER }, { OPT_READY_TIMEOUT, COMMAND_DOCKER },
                { OPT_PAUSE, COMMAND_DOCKER },          { OPT_RESTART, COMMAND_DOCKER },
                { OPT_NET_BODY, COMMAND_DOCKER },       { OPT_PULL, COMMAND_DOCKER },
                { OPT_REGISTRY_AUTH, COMMAND_DOCKER },  { OPT_ENV_FILE, COMMAND_DOCKER },
        };

        for (size_t i = 0; i < ELEMENTSOF(owner); i++)
                if (owner[i].opt == opt)
                        return owner[i].command;
        return COMMAND_NONE;
}

static const char *option_name(int val) {
        for (const struct option *o = options; o->name; o++)
                if (o->val == val)
                        return o->name;
        return "?";
}

_printf_(1, 2) static int usage_error(const char *format, ...) {
        va_list ap;

        fprintf(stderr, "ballast-run: ");
        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fprintf(stderr, "\nTry 'ballast-run --help'.\n");
        return -EINVAL;
}

static int parse_restart(const char *s) {
        if (streq(s, "always"))
                arg_restart = RESTART_ALWAYS;
        else if (streq(s, "on-failure"))
                arg_restart = RESTART_ON_FAILURE;
        else if (streq(s, "no"))
                arg_restart = RESTART_NO;
        else
                return usage_error("invalid --restart '%s' (always, on-failure or no)", s);
        return 1;
}

/* --pull, --registry-auth, --env-file. */
static int parse_source_option(int c, const char *value) {
        char **l;
        size_t n = 0;

        if (c == OPT_PULL) {
                if (streq(value, "missing"))
                        arg_pull = RUN_PULL_MISSING;
                else if (streq(value, "always"))
                        arg_pull = RUN_PULL_ALWAYS;
                else if (streq(value, "never"))
                        arg_pull = RUN_PULL_NEVER;
                else
                        return usage_error("--pull '%s': expected missing, always or never", value);
                return 1;
        }
        if (value[0] != '/')
                return usage_error("--%s '%s' is not an absolute path", option_name(c), value);
        if (c == OPT_REGISTRY_AUTH) {
                arg_registry_auth = value;
                return 1;
        }
        while (arg_env_files && arg_env_files[n])
                n++;
        l = realloc(arg_env_files, (n + 2) * sizeof(char *));
        if (!l)
                return log_error_errno(-ENOMEM, "Out of memory");
        l[n] = (char *) value; /* argv's, not ours: the array only is freed */
        l[n + 1] = NULL;
        arg_env_files = l;
        return 1;
}

/* An option of `docker` only (optarg): 1 to go on, -EINVAL for a usage error. */
static int parse_docker_option(int c) {
        switch (c) {
        case OPT_BODY:
                arg_body = optarg;
                break;
        case OPT_STOP_TIMEOUT:
                if (safe_atou(optarg, &arg_stop_timeout_s) < 0 || arg_stop_timeout_s > 24 * 3600)
                        return usage_error("invalid --stop-timeout '%s' (whole seconds)", optarg);
                break;
        case OPT_DOCKER_SOCKET:
                if (optarg[0] != '/')
                        return usage_error("--docker-socket '%s' is not an absolute path", optarg);
                arg_docker_socket = optarg;
                break;
        case OPT_DOCKER_TIMEOUT:
                if (parse_duration_ms(optarg, 1000, false, &arg_docker_timeout_ms) < 0)
                        return usage_error("invalid --docker-timeout '%s'", optarg);
                break;
        case OPT_CONTROL_SOCKET:
                if (optarg[0] && optarg[0] != '/')
                        return usage_error("--control-socket '%s' is not an absolute path", optarg);
                arg_control_socket = optarg;
                break;
        case OPT_READY_TIMEOUT:
                if (parse_duration_ms(optarg, 1000, true, &arg_ready_timeout_ms) < 0)
                        return usage_error("invalid --ready-timeout '%s'", optarg);
                break;
        case OPT_NET_BODY:
                arg_net_body = optarg;
                break;
        case OPT_PAUSE:
                if (optarg[0] != '/')
                        return usage_error("--pause '%s' is not an absolute path", optarg);
                arg_pause = optarg;
                break;
        case OPT_RESTART:
                return parse_restart(optarg);
        case OPT_PULL:
        case OPT_REGISTRY_AUTH:
        case OPT_ENV_FILE:
                return parse_source_option(c, optarg);
        default:
                return usage_error("unexpected option");
        }
        return 1;
}

/* An option of both commands (optarg), or getopt's '?': 1 to go on, 0 to exit successfully (--help,
 * --version), -EINVAL for a usage error. */
static int parse_common_option(int c, char *argv[]) {
        int r;

        switch (c) {
        case 'h':
                help();
                return 0;
        case OPT_VERSION:
                printf("ballast-run %s\n", PACKAGE_VERSION);
                return 0;
        case OPT_NAME:
                if (!service_name_is_valid(optarg))
                        return usage_error("invalid service name '%s'%s", optarg,
                                           " (expected " SERVICE_NAME_RULE ")");
                arg_name = optarg;
                break;
        case OPT_DELAY_MS:
                if (parse_duration_ms(optarg, 1, false, &arg_delay_ms) < 0)
                        return usage_error("invalid --delay-ms '%s'", optarg);
                arg_backoff = true;
                break;
        case OPT_MAX_DELAY_MS:
                if (parse_duration_ms(optarg, 1, false, &arg_max_delay_ms) < 0)
                        return usage_error("invalid --max-delay-ms '%s'", optarg);
                break;
        case OPT_STABLE_MS:
                if (parse_duration_ms(optarg, 1, false, &arg_stable_ms) < 0)
                        return usage_error("invalid --stable-ms '%s'", optarg);
                break;
        case OPT_STATE_DIR:
                if (optarg[0] != '/')
                        return usage_error("--state-dir '%s' is not an absolute path", optarg);
                arg_state_dir = optarg;
                break;
        case OPT_LOG_LEVEL:
                r = log_parse_level(optarg);
                if (r < 0)
                        return usage_error("invalid --log-level '%s'", optarg);
                log_set_max_level(r);
                break;
        case '?':
                if (optopt)
                        return usage_error("option '%s' needs an argument", argv[optind - 1]);
                return usage_error("unknown option '%s'", argv[optind - 1]);
        default:
                return usage_error("unexpected option");
        }
        return 1;
}

/* What must be there once every option is read. */
static int check_arguments(int argc, char *argv[], Command command) {
        if (optind < argc)
                return usage_error("unexpected argument '%s'", argv[optind]);
        if (command == COMMAND_NONE)
                return usage_error("no command given (docker or backoff)");
        if (!arg_name)
                return usage_error("--name is required");
        if (command == COMMAND_DOCKER && !arg_body)
                return usage_error("--body is required");
        if (arg_max_delay_ms < arg_delay_ms)
                log_warning("--max-delay-ms %" PRIu64 " is below --delay-ms %" PRIu64 "; the backoff never exceeds the "
                            "former", arg_max_delay_ms, arg_delay_ms);
        return 1;
}

/* Returns 1 to go on, 0 to exit successfully (--help), -EINVAL for a usage error. */
static int parse_argv(int argc, char *argv[], Command *ret_command) {
        Command command = COMMAND_NONE;
        int c, r;

        /* The command comes first; "ballast-run --help" works without one. */
        if (argc >= 2 && argv[1][0] != '-') {
                if (streq(argv[1], "docker"))
                        command = COMMAND_DOCKER;
                else if (streq(argv[1], "backoff"))
                        command = COMMAND_BACKOFF;
                else
                        return usage_error("unknown command '%s'", argv[1]);
                argv[1] = argv[0];
                argc--;
                argv++;
        }

        opterr = 0;
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0) {
                Command owner = option_owner(c);

                if (owner != COMMAND_NONE && owner != command)
                        return usage_error("option '--%s' does not belong to %s", option_name(c),
                                           command == COMMAND_NONE ? "no command (give docker or backoff first)"
                                           : command == COMMAND_DOCKER ? "docker" : "backoff");
                r = owner == COMMAND_DOCKER ? parse_docker_option(c) : parse_common_option(c, argv);
                if (r <= 0)
                        return r;
        }
        r = check_arguments(argc, argv, command);
        if (r < 0)
                return r;
        *ret_command = command;
        return 1;
}

int main(int argc, char *argv[]) {
        Command command = COMMAND_NONE;
        int r;

        /* stderr is the unit's journal stream: "<N>" prefixes keep the priorities, and the stream keeps the
         * lines attributed to the unit even when we exit right after writing them. */
        log_setup(LOG_TARGET_STDERR, -1);
        r = parse_argv(argc, argv, &command);
        if (r <= 0)
                return r < 0 ? EXIT_USAGE : EXIT_SUCCESS;

        switch (command) {
        case COMMAND_DOCKER:
                return run_docker();
        case COMMAND_BACKOFF:
                return run_backoff();
        default:
                return EXIT_USAGE;
        }
}
