/* SPDX-License-Identifier: MIT */
/* Drives the reporter on its own loop, for tests/integration/integration-etcd.sh:
 *
 *   reporter-driver [--etcd URL[,URL…]] [--prefix P] [--ttl S] [--node NAME] [--ca F --cert F --key F]
 *                   [--http URL] [--token-file F] [--interval S] DOCUMENT.json
 *
 * The document is read from the file; SIGHUP re-reads it and calls reporter_changed(). SIGUSR1 prints
 * "status JSON" on stdout, SIGUSR2 lists the nodes and prints "nodes JSON" (or "nodes-error ERRNO").
 * SIGTERM/SIGINT stop the reporter (the lease is revoked) and exit when it is done. Logs go to stderr. */

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cluster/reporter.h"
#include "shared/fileio.h"
#include "shared/json-util.h"
#include "shared/log.h"

typedef struct Driver {
        sd_event *event;
        Reporter *reporter;
        const char *path;
        json_t *doc;
} Driver;

static json_t *driver_document(void *userdata) {
        Driver *d = userdata;
        return json_incref(d->doc);
}

static int driver_load(Driver *d) {
        _cleanup_free_ char *text = NULL;
        json_error_t err;
        size_t size;
        json_t *v;
        int r;

        r = read_full_file(d->path, 1024 * 1024, &text, &size);
        if (r < 0)
                return log_error_errno(r, "Failed to read %s: %m", d->path);
        v = json_loadb(text, size, 0, &err);
        if (!v) {
                log_error("%s:%d: %s, keeping the old document.", d->path, err.line, err.text);
                return -EINVAL;
        }
        json_decref(d->doc);
        d->doc = v;
        return 0;
}

static void print_line(const char *tag, json_t *v) {
        _cleanup_free_ char *text = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

        printf("%s %s\n", tag, text ?: "null");
        fflush(stdout);
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Driver *d = userdata;

        if (driver_load(d) >= 0)
                reporter_changed(d->reporter);
        return 0;
}

static int on_sigusr1(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Driver *d = userdata;
        _cleanup_json_ json_t *v = reporter_status_json(d->reporter);

        print_line("status", v);
        return 0;
}

static void on_nodes(int error, json_t *nodes, void *userdata) {
        if (error < 0) {
                printf("nodes-error %d\n", error);
                fflush(stdout);
                return;
        }
        print_line("nodes", nodes);
}

static int on_sigusr2(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Driver *d = userdata;
        int r = reporter_list_nodes(d->reporter, on_nodes, d);

        if (r < 0)
                on_nodes(r, NULL, d);
        return 0;
}

static void on_stopped(void *userdata) {
        Driver *d = userdata;
        (void) sd_event_exit(d->event, 0);
}

static int on_sigterm(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Driver *d = userdata;

        if (reporter_stop(d->reporter, on_stopped, d) < 0)
                (void) sd_event_exit(d->event, 0);
        return 0;
}

static char **split_commas(const char *s) {
        size_t n = 1;
        char **l;

        for (const char *p = s; *p; p++)
                n += *p == ',';
        l = calloc(n + 1, sizeof(char *));
        if (!l)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                size_t len = strcspn(s, ",");
                l[i] = strndup(s, len);
                if (!l[i]) {
                        strv_free(l);
                        return NULL;
                }
                s += len + (s[len] == ',');
        }
        return l;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "etcd", required_argument, NULL, 'e' },
                { "prefix", required_argument, NULL, 'p' },
                { "ttl", required_argument, NULL, 't' },
                { "node", required_argument, NULL, 'n' },
                { "ca", required_argument, NULL, 'C' },
                { "cert", required_argument, NULL, 'c' },
                { "key", required_argument, NULL, 'k' },
                { "http", required_argument, NULL, 'h' },
                { "token-file", required_argument, NULL, 'T' },
                { "interval", required_argument, NULL, 'i' },
                {}
        };
        _cleanup_strv_free_ char **endpoints = NULL;
        ReporterOptions o = { .node_name = "node-1" };
        Driver d = {};
        HttpClient *http = NULL;
        int c, r;

        log_setup(LOG_TARGET_STDERR, LOG_DEBUG);
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'e':
                        strv_free(endpoints);
                        endpoints = split_commas(optarg);
                        if (!endpoints)
                                return 1;
                        o.etcd_endpoints = endpoints;
                        break;
                case 'p': o.etcd_prefix = optarg; break;
                case 't': o.etcd_ttl_s = (unsigned) strtoul(optarg, NULL, 10); break;
                case 'n': o.node_name = optarg; break;
                case 'C': o.etcd_ca = optarg; break;
                case 'c': o.etcd_cert = optarg; break;
                case 'k': o.etcd_key = optarg; break;
                case 'h': o.http_url = optarg; break;
                case 'T': o.http_token_file = optarg; break;
                case 'i': o.http_interval_s = (unsigned) strtoul(optarg, NULL, 10); break;
                default: return 2;
                }
        if (optind != argc - 1) {
                fprintf(stderr, "usage: %s [options] DOCUMENT.json\n", argv[0]);
                return 2;
        }
        d.path = argv[optind];
        if (driver_load(&d) < 0)
                return 1;

        r = sd_event_default(&d.event);
        if (r >= 0)
                r = http_client_new(&http, d.event);
        if (r >= 0)
                r = reporter_new(&d.reporter, d.event, http, &o, driver_document, &d);
        if (r >= 0)
                r = sd_event_add_signal(d.event, NULL, SIGHUP | SD_EVENT_SIGNAL_PROCMASK, on_sighup, &d);
        if (r >= 0)
                r = sd_event_add_signal(d.event, NULL, SIGUSR1 | SD_EVENT_SIGNAL_PROCMASK, on_sigusr1, &d);
        if (r >= 0)
                r = sd_event_add_signal(d.event, NULL, SIGUSR2 | SD_EVENT_SIGNAL_PROCMASK, on_sigusr2, &d);
        if (r >= 0)
                r = sd_event_add_signal(d.event, NULL, SIGTERM | SD_EVENT_SIGNAL_PROCMASK, on_sigterm, &d);
        if (r >= 0)
                r = sd_event_add_signal(d.event, NULL, SIGINT | SD_EVENT_SIGNAL_PROCMASK, on_sigterm, &d);
        if (r >= 0)
                r = reporter_start(d.reporter);
        if (r < 0) {
                log_error_errno(r, "Failed to set up: %m");
                return 1;
        }
        (void) signal(SIGPIPE, SIG_IGN);
        printf("ready\n");
        fflush(stdout);
        r = sd_event_loop(d.event);

        reporter_free(d.reporter);
        http_client_free(http);
        sd_event_unref(d.event);
        json_decref(d.doc);
        return r < 0 ? 1 : 0;
}
