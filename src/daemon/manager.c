/* SPDX-License-Identifier: MIT */
/* The manager: ballastd's one sd-event loop and what lives on it: signals, the configuration and its reload,
 * drain, the shutdown guard, the control socket, and the modules' start in order. The node's capacity and the
 * report are manager-node.c, the metrics manager-metrics.c. */
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "daemon/control.h"
#include "varlink/interface.h"
#include "daemon/manager.h"
#include "shared/fileio.h"
#include "shared/log.h"
#include "shared/time-util.h"

static int manager_start_modules(Manager *m);
static int manager_write_drain(Manager *m);

char *manager_path(Manager *m, const char *path) {
        return path_join_root(m->root, path);
}

int manager_new(Manager **ret, const ManagerOptions *options) {
        _cleanup_(manager_freep) Manager *m = calloc(1, sizeof(Manager));
        int r;

        if (!m)
                return -ENOMEM;
        m->root = strdup(options->root ?: "/");
        m->socket_path = options->socket_path ? strdup(options->socket_path) : NULL;
        if (!m->root || (options->socket_path && !m->socket_path))
                return -ENOMEM;
        m->config_path = manager_path(m, options->config_path ?: "/etc/ballast/ballast.json");
        if (!m->config_path)
                return -ENOMEM;

        r = sd_event_default(&m->event);
        if (r < 0)
                return r;
        m->started_at_usec = now_usec(CLOCK_REALTIME);
        m->started_monotonic_usec = now_usec(CLOCK_MONOTONIC);
        *ret = TAKE_PTR(m);
        return 0;
}

int manager_add_drain_waiter(Manager *m, VarlinkCall *call) {
        VarlinkCall **w = reallocarray(m->drain_waiters, m->n_drain_waiters + 1, sizeof(VarlinkCall *));

        if (!w)
                return -ENOMEM;
        m->drain_waiters = w;
        m->drain_waiters[m->n_drain_waiters++] = varlink_call_ref(call);
        return 0;
}

VarlinkCall *manager_pop_drain_waiter(Manager *m) {
        return m->n_drain_waiters > 0 ? m->drain_waiters[--m->n_drain_waiters] : NULL;
}

static void on_drained(Supervisor *s, int error, void *userdata) {
        Manager *m = userdata;
        VarlinkCall *call;

        m->drain_done = true;
        /* which services to start again at undrain, should ballastd restart before it */
        if (m->drain_manual && manager_write_drain(m) < 0)
                log_warning("Failed to record which services the drain stopped, ignoring.");
        reporter_changed(m->reporter);
        if (shutdown_guard_shutting_down(m->shutdown))
                shutdown_guard_release(m->shutdown, "every service is stopped");
        while ((call = manager_pop_drain_waiter(m))) {
                (void) varlink_call_reply(call, json_pack("{s:b,s:b}", "draining", m->draining, "drained", true));
                varlink_call_unref(call);
        }
        if (m->updater)
                updater_drain_changed(m->updater);
}

int manager_drain(Manager *m, const char *why) {
        int r;

        if (!m->supervisor)
                return -EAGAIN;
        if (m->draining)
                return 0;
        /* before the call: with nothing running, on_drained() comes at once, from within it */
        m->draining = true;
        m->drain_done = false;
        log_event(LOG_INFO, 0, "draining", NULL, NULL, "Draining the node: %s.", why);
        r = supervisor_drain(m->supervisor, on_drained, m);
        if (r < 0) {
                m->draining = m->drain_done = false;
                return r;
        }
        reporter_changed(m->reporter);
        return 0;
}

void manager_undrain(Manager *m, const char *why) {
        if (!m->supervisor || !m->draining)
                return;
        supervisor_undrain(m->supervisor);
        m->draining = m->drain_done = false;
        log_event(LOG_INFO, 0, "undraining", NULL, NULL, "Undraining the node: %s.", why);
        reporter_changed(m->reporter);
        if (m->updater)
                updater_drain_changed(m->updater);
}

/* {"drained": true, "services": [names stopped by the drain, started again at undrain]} */
static int manager_write_drain(Manager *m) {
        _cleanup_json_ json_t *doc = json_pack("{s:b,s:o}", "drained", true, "services",
                                               m->supervisor ? supervisor_drained_json(m->supervisor) : json_array());
        _cleanup_free_ char *text = doc ? json_dumps(doc, JSON_SORT_KEYS) : NULL;
        int r;

        if (!text)
                return -ENOMEM;
        r = mkdir_parents(m->drain_path, 0700);
        if (r >= 0)
                r = write_file_atomic(m->drain_path, text, strlen(text), 0600);
        return r;
}

int manager_set_manual_drain(Manager *m, bool drained) {
        int r;

        if (m->drain_manual == drained)
                return 0;
        if (!m->drain_path)
                return -EAGAIN;
        r = drained ? manager_write_drain(m) : unlink_durable(m->drain_path);
        if (r < 0)
                return log_error_errno(r, "Failed to %s %s: %m", drained ? "write" : "remove", m->drain_path);
        m->drain_manual = drained;
        return 0;
}

/* A drain an operator asked for before ballastd (or the node) went down; taken up again once systemd answers,
 * with the services it had stopped marked to start again at undrain. */
static void manager_load_manual_drain(Manager *m) {
        _cleanup_free_ char *text = NULL;
        _cleanup_json_ json_t *v = NULL;
        int r;

        r = read_full_file(m->drain_path, 1024 * 1024, &text, NULL);
        if (r == -ENOENT)
                return;
        v = r >= 0 ? json_loads(text, 0, NULL) : NULL;
        /* unreadable or damaged: the operator's intent was a drain (only a drain writes the file) */
        if (r < 0 || !json_is_true(json_object_get(v, "drained")))
                log_warning("%s is unreadable or damaged: keeping the node drained; ballastctl undrain ends it.",
                            m->drain_path);
        m->drain_manual = true;
        m->drain_services = json_incref(json_object_get(v, "services"));
        log_event(LOG_NOTICE, 0, "drain-kept", NULL, NULL,
                  "The node was drained by an operator (%s): it stays drained until ballastctl undrain.",
                  m->drain_path);
}

/* Every shutdown of the host: logind's PrepareForShutdown(true) drains the node through the same path as
 * ballastctl drain, and the report says the node is shutting down. */
static void shutdown_hook_prepare(void *userdata) {
        Manager *m = userdata;
        int r;

        reporter_changed(m->reporter);
        r = manager_drain(m, "the system is shutting down");
        if (r < 0) {
                log_warning_errno(r, "Cannot stop the services before the shutdown, letting it go on: %m");
                shutdown_guard_release(m->shutdown, "the services cannot be stopped");
        } else if (m->drain_done)
                shutdown_guard_release(m->shutdown, "every service is stopped");
}

static void shutdown_hook_cancelled(void *userdata) {
        Manager *m = userdata;

        manager_undrain(m, "the shutdown was called off");
        reporter_changed(m->reporter);
}

/* The inhibitor is held while there are services to stop. */
static void manager_guard_shutdown(Manager *m) {
        unsigned total = 0, active, failed;

        if (!m->supervisor || !m->shutdown)
                return;
        supervisor_counts(m->supervisor, &total, &active, &failed);
        shutdown_guard_want(m->shutdown, total > 0);
}

/* The reboot flow of OS updates drains through the same path as ballastctl drain. */
static int updater_hook_drain(void *userdata) {
        return manager_drain(userdata, "an OS update needs a reboot");
}

static void updater_hook_undrain(void *userdata) {
        Manager *m = userdata;

        if (m->drain_manual) {
                log_info("The OS update's drain is over; the operator's drain stays.");
                return;
        }
        manager_undrain(m, "the OS update's reboot is over or was called off");
}

static void updater_hook_changed(void *userdata) {
        Manager *m = userdata;
        reporter_changed(m->reporter);
}

static bool updater_hook_draining(void *userdata) {
        Manager *m = userdata;
        return m->draining;
}

static bool updater_hook_drained(void *userdata) {
        Manager *m = userdata;
        return m->draining && m->drain_done;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        for (VarlinkCall *c; (c = manager_pop_drain_waiter(m));)
                varlink_call_unref(c);
        free(m->drain_waiters);
        free(m->drain_path);
        json_decref(m->drain_services);
        /* top down: the supervisor uses the others, the HTTP client carries Docker's requests; but the bus goes
         * before the supervisor: freeing it answers the supervisor's jobs and calls still in flight
         * ("disconnected"), and those answers must find it */
        sd_event_source_disable_unref(m->node_timer);
        m->metrics = metrics_server_free(m->metrics); /* its render reads every module */
        free(m->metrics_key);
        /* each pointer is cleared as it goes: a callback run by a later free finds no freed module */
        m->reporter = reporter_free(m->reporter);
        json_decref(m->last_document);
        m->shutdown = shutdown_guard_free(m->shutdown);
        m->updater = updater_free(m->updater);
        m->bus = bus_free(m->bus);
        supervisor_free(m->supervisor);
        netlink_free(m->netlink);
        docker_free(m->docker);
        http_client_free(m->http);
        varlink_server_free(m->varlink);
        config_free(m->config);
        sd_event_unref(m->event);
        free(m->root);
        free(m->config_path);
        free(m->socket_path);
        free(m->node_name);
        free(m->config_error);
        free(m);
        return NULL;
}

static int manager_apply_config(Manager *m, Config *c) {
        char host[256];
        char *name;

        if (c->node_name)
                name = strdup(c->node_name);
        else {
                if (gethostname(host, sizeof(host)) < 0)
                        return -errno;
                host[sizeof(host) - 1] = 0;
                name = strdup(host);
        }
        if (!name)
                return -ENOMEM;
        free(m->node_name);
        m->node_name = name;
        config_free(m->config);
        m->config = c;
        m->config_loaded_at_usec = now_usec(CLOCK_REALTIME);
        return 0;
}

int manager_reload(Manager *m) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *error = NULL;
        int r;

        (void) sd_notifyf(false, "RELOADING=1\nSTATUS=Reloading %s", m->config_path);
        r = config_load(m->config_path, &c, &error);
        if (r < 0) {
                log_event(LOG_ERR, r, "reload-failed", NULL, BALLAST_MESSAGE_RELOAD_FAILED,
                          "Refusing new configuration, keeping the old one: %s", error ?: strerror(-r));
                /* only a daemon that never had a valid configuration reports the newest error as its own */
                if (m->config_error && error) {
                        free(m->config_error);
                        m->config_error = TAKE_PTR(error);
                }
                (void) sd_notify(false, "READY=1\nSTATUS=Serving (new configuration refused, see the journal)");
                return r;
        }
        r = manager_apply_config(m, TAKE_PTR(c));
        if (r < 0)
                return log_error_errno(r, "Failed to apply configuration: %m");
        m->config_error = mfree(m->config_error);
        log_event(LOG_INFO, 0, "reloaded", NULL, BALLAST_MESSAGE_RELOADED, "Reloaded configuration from %s.",
                  m->config_path);
        if (m->supervisor) {
                manager_refresh_node(m); /* reserved and thresholds may have changed */
                (void) supervisor_load(m->supervisor);
                if (m->updater)
                        (void) updater_set_config(m->updater, &m->config->updates);
                (void) manager_apply_metrics(m);
                reporter_changed(m->reporter); /* labels, name */
        } else
                (void) manager_start_modules(m);
        (void) sd_notify(false, "READY=1\nSTATUS=Serving");
        return 0;
}

static void on_bus_state(Bus *b, bool connected, void *userdata) {
        Manager *m = userdata;
        m->slice_bound = false;
        if (connected)
                manager_bound_slice(m);
        if (m->supervisor)
                supervisor_on_bus_state(m->supervisor, connected);
        if (connected && m->drain_manual && m->supervisor && !m->draining) {
                supervisor_mark_drained(m->supervisor, m->drain_services);
                (void) manager_drain(m, "drained by an operator before ballastd started");
        }
        if (connected && m->updater)
                updater_drain_changed(m->updater); /* a drain that could not start without systemd can now */
}

static void on_bus_unit(Bus *b, const UnitState *u, void *userdata) {
        Manager *m = userdata;
        if (m->supervisor)
                supervisor_on_unit(m->supervisor, u);
        reporter_changed(m->reporter);
}

static void on_docker_state(Docker *d, bool up, void *userdata) {
        Manager *m = userdata;
        if (up)
                manager_refresh_node(m); /* the Docker data root's disk is part of capacity */
        if (m->supervisor)
                supervisor_on_docker_state(m->supervisor, up);
}

static void on_docker_event(Docker *d, const DockerEvent *ev, void *userdata) {
        Manager *m = userdata;
        if (m->supervisor)
                supervisor_on_docker_event(m->supervisor, ev);
        reporter_changed(m->reporter);
}

#define NODE_REFRESH_USEC (10 * USEC_PER_SEC)

static int on_node_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        manager_refresh_node(m);
        if (m->supervisor)
                supervisor_verify_cgroups(m->supervisor);
        manager_guard_shutdown(m);
        /* a ONESHOT source is off once dispatched: without enabling it again, node facts and the cgroup sweep
         * (usage, limits put back) would run once, 10 s after start, and never again */
        (void) sd_event_source_set_time_relative(s, NODE_REFRESH_USEC);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

static void on_netlink_change(Netlink *n, void *userdata) {
        Manager *m = userdata;
        log_debug("Network interfaces changed.");
        reporter_changed(m->reporter);
}

/* The modules run only on a valid configuration: with a broken one, acting on defaults could remove the
 * units of services whose directory we were told differently. */
static int manager_start_modules(Manager *m) {
        _cleanup_free_ char *unit_dir = NULL, *state_dir = NULL, *services_dir = NULL, *docker_socket = NULL;
        const char *run_helper = getenv("BALLAST_RUN_HELPER") ?: LIBEXECDIR "/ballast-run";
        const char *control_socket = m->socket_path ?: m->config->control_socket;
        int r;

        if (m->supervisor || m->config_error)
                return 0;
        unit_dir = manager_path(m, m->config->unit_dir);
        state_dir = manager_path(m, m->config->state_dir);
        services_dir = manager_path(m, m->config->services_dir);
        docker_socket = manager_path(m, m->config->docker_socket);
        if (!unit_dir || !state_dir || !services_dir || !docker_socket)
                return -ENOMEM;

        m->drain_path = path_join(state_dir, "drain.json");
        if (!m->drain_path)
                return -ENOMEM;
        manager_load_manual_drain(m);

        r = http_client_new(&m->http, m->event);
        if (r < 0)
                return log_error_errno(r, "Failed to set up HTTP: %m");
        r = manager_start_reporter(m);
        if (r < 0)
                return r;
        r = docker_new(&m->docker, m->event, m->http, docker_socket, on_docker_event, on_docker_state, m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up Docker: %m");
        r = bus_new(&m->bus, m->event, on_bus_state, on_bus_unit, m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the bus: %m");
        r = supervisor_new(&m->supervisor, m->event, m->bus, m->docker, m->http,
                           &(SupervisorPaths) { .unit_dir = unit_dir, .state_dir = state_dir,
                                                .services_dir = services_dir,
                                                .host_state_dir = m->config->state_dir,
                                                .docker_socket = m->config->docker_socket,
                                                .control_socket = control_socket, .run_helper = run_helper,
                                                .registry_auth_file = m->config->registry_auth_file });
        if (r < 0)
                return log_error_errno(r, "Failed to set up the supervisor: %m");
        manager_refresh_node(m);
        r = sd_event_add_time_relative(m->event, &m->node_timer, CLOCK_MONOTONIC, NODE_REFRESH_USEC, USEC_PER_SEC,
                                       on_node_timer, m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the node timer: %m");
        (void) sd_event_source_set_description(m->node_timer, "node-refresh");
        r = supervisor_load(m->supervisor);
        if (r < 0)
                log_warning_errno(r, "Failed to load service specs, ignoring: %m");
        r = shutdown_guard_new(&m->shutdown, m->event,
                               &(ShutdownHooks) { .prepare = shutdown_hook_prepare,
                                                  .cancelled = shutdown_hook_cancelled, .userdata = m });
        if (r < 0)
                return log_error_errno(r, "Failed to set up the shutdown guard: %m");
        manager_guard_shutdown(m);
        /* interfaces through netlink, kept current by its change events; without it we only report less */
        r = netlink_new(&m->netlink, m->event, on_netlink_change, m);
        if (r >= 0)
                r = netlink_start(m->netlink);
        if (r < 0) {
                log_warning_errno(r, "Failed to watch network interfaces, not reporting them: %m");
                m->netlink = netlink_free(m->netlink);
        }
        /* OS updates: reports always, acts only with an "updates" block on an OS it knows */
        r = updater_new(&m->updater, m->event, m->http,
                        &(UpdaterHooks) { .drain = updater_hook_drain, .undrain = updater_hook_undrain,
                                          .draining = updater_hook_draining, .drained = updater_hook_drained,
                                          .changed = updater_hook_changed,
                                          .userdata = m },
                        m->root, state_dir, &m->config->updates);
        if (r < 0)
                log_warning_errno(r, "Failed to set up OS updates, not managing them: %m");
        (void) manager_apply_metrics(m);
        /* neither may keep us from serving: both retry until they are there */
        (void) docker_start(m->docker);
        (void) bus_start_or_retry(m->bus);
        return 0;
}

static void on_reporter_stopped(void *userdata) {
        Manager *m = userdata;
        (void) sd_event_exit(m->event, 0);
}

static int on_exit_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;

        /* Leaving never touches a workload: units and containers belong to systemd and Docker. */
        log_event(LOG_INFO, 0, "stopping", NULL, BALLAST_MESSAGE_STOPPED,
                  "Received SIG%s, exiting; workloads keep running.", sigabbrev_np((int) si->ssi_signo));
        (void) sd_notify(false, "STOPPING=1\nSTATUS=Shutting down");
        /* a clean exit revokes the cluster lease at once (bounded: the reporter gives up after 1 s) */
        if (m->reporter && reporter_stop(m->reporter, on_reporter_stopped, m) >= 0)
                return 0;
        return sd_event_exit(m->event, 0);
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        (void) manager_reload(userdata);
        return 0;
}

static int manager_listen(Manager *m) {
        gid_t gid = (gid_t) -1;
        struct group *gr;
        int n, r;

        r = varlink_server_new(&m->varlink, m->event, control_methods, m);
        if (r < 0)
                return r;
        varlink_server_set_info(m->varlink, "ballast", "ballastd", PACKAGE_VERSION, PACKAGE_URL,
                                ballast_interfaces);

        gr = getgrnam(m->config->control_group);
        if (gr)
                gid = gr->gr_gid;
        else
                log_notice("Group \"%s\" does not exist: only root may change anything.", m->config->control_group);
        varlink_server_set_write_group(m->varlink, gid);

        n = sd_listen_fds(true);
        if (n < 0)
                return log_error_errno(n, "Failed to read sockets passed by systemd: %m");
        for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++) {
                if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0)
                        return log_error_errno(EINVAL, "Socket passed by systemd (fd %d) is not a listening UNIX stream socket.", fd);
                r = varlink_server_listen_fd(m->varlink, fd);
                if (r < 0)
                        return log_error_errno(r, "Failed to listen on passed socket: %m");
                m->socket_activated = true;
        }
        if (m->socket_activated)
                return 0;

        _cleanup_free_ char *path = m->socket_path ? strdup(m->socket_path)
                                                   : manager_path(m, m->config->control_socket);
        if (!path)
                return -ENOMEM;
        r = varlink_server_listen_path(m->varlink, path, 0660, gid);
        if (r < 0)
                return log_error_errno(r, "Failed to listen on %s: %m", path);
        log_debug("Listening on %s.", path);
        return 0;
}

int manager_start(Manager *m) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *error = NULL;
        int r;

        r = config_load(m->config_path, &c, &error);
        if (r < 0) {
                /* Always up: serve the socket and say what is wrong, but act on nothing (no reconcile, no
                 * reports, no reboots) until a valid configuration arrives with SIGHUP. Defaults are used only
                 * to find the socket. */
                log_event(LOG_ERR, r, "config-invalid", NULL, BALLAST_MESSAGE_ERROR,
                          "Invalid configuration, serving the control socket only until it is fixed: %s",
                          error ?: strerror(-r));
                m->config_error = error ? TAKE_PTR(error) : strdup(strerror(-r));
                if (!m->config_error)
                        return -ENOMEM;
                r = config_new_default(&c);
                if (r < 0)
                        return r;
        }
        r = manager_apply_config(m, TAKE_PTR(c));
        if (r < 0)
                return r;

        r = sd_event_add_signal(m->event, NULL, SIGTERM | SD_EVENT_SIGNAL_PROCMASK, on_exit_signal, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGINT | SD_EVENT_SIGNAL_PROCMASK, on_exit_signal, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGHUP | SD_EVENT_SIGNAL_PROCMASK, on_sighup, m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch signals: %m");
        (void) signal(SIGPIPE, SIG_IGN);
        /* sd-event watches children (the cmd health checks of exec services) only with SIGCHLD blocked: without
         * this, sd_event_add_child() refused every one with EBUSY and such a check never ran */
        {
                sigset_t chld;
                sigemptyset(&chld);
                sigaddset(&chld, SIGCHLD);
                if (sigprocmask(SIG_BLOCK, &chld, NULL) < 0)
                        return log_error_errno(-errno, "Failed to block SIGCHLD: %m");
        }

        r = sd_event_set_watchdog(m->event, true);
        if (r < 0)
                log_warning_errno(r, "Failed to enable the watchdog, ignoring: %m");

        r = manager_listen(m);
        if (r < 0)
                return r;
        r = manager_start_modules(m);
        if (r < 0)
                return r;

        log_event(LOG_INFO, 0, "started", NULL, BALLAST_MESSAGE_STARTED,
                  "ballastd " PACKAGE_VERSION " serving as node %s%s.", m->node_name,
                  m->socket_activated ? " (socket-activated)" : "");
        (void) sd_notifyf(false, "READY=1\nSTATUS=%s as node %s\nMAINPID=%d",
                          m->config_error ? "Serving (configuration invalid, see the journal)" : "Serving",
                          m->node_name, (int) getpid());
        return 0;
}

int manager_run(Manager *m) {
        return sd_event_loop(m->event);
}
