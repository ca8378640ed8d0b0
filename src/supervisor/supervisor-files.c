/* SPDX-License-Identifier: MIT */
/* What the supervisor writes: units and their wants links, container bodies, persisted specs and restart
 * markers; a pass that changes nothing writes nothing. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/fileio.h"
#include "shared/log.h"
#include "supervisor/supervisor-internal.h"
#include "supervisor/units.h"

/* ---- files: units, wants links, container bodies, persisted specs ---- */

char *supervisor_unit_path(Supervisor *s, const char *unit) {
        return path_join(s->unit_dir, unit);
}

char *service_body_path(Supervisor *s, const char *name, bool host) {
        _cleanup_free_ char *f = NULL;
        char *p;

        if (asprintf(&f, "containers/%s.json", name) < 0)
                return NULL;
        p = path_join(host ? s->host_state_dir : s->state_dir, f);
        return p;
}

/* the network holder's body, beside the container's */
char *service_net_body_path(Supervisor *s, const char *name) {
        _cleanup_free_ char *f = NULL;

        if (asprintf(&f, "containers/%s.net.json", name) < 0)
                return NULL;
        return path_join(s->state_dir, f);
}

char *service_spec_path(Supervisor *s, const char *name) {
        _cleanup_free_ char *f = NULL;

        if (asprintf(&f, "services/%s.json", name) < 0)
                return NULL;
        return path_join(s->state_dir, f);
}

char *restart_marker_path(Supervisor *s, const char *name) {
        _cleanup_free_ char *f = NULL;

        if (asprintf(&f, RESTART_PENDING_DIR "/%s", name) < 0)
                return NULL;
        return path_join(s->state_dir, f);
}

int restart_marker_set(Supervisor *s, Service *svc) {
        _cleanup_free_ char *path = restart_marker_path(s, svc->name);
        int r;

        if (!path)
                return -ENOMEM;
        r = mkdir_parents(path, 0700);
        if (r >= 0)
                r = write_file_atomic(path, "", 0, 0600);
        if (r >= 0)
                svc->restart_marked = true;
        return r;
}

void restart_marker_clear(Supervisor *s, const char *name) {
        _cleanup_free_ char *path = restart_marker_path(s, name);

        if (path)
                (void) unlink_durable(path);
}

/* An exec service's environment, root-only: STATE_DIR/env/NAME.env (0600 in a 0700 directory), which the unit
 * names in EnvironmentFile=; removed when the service has none. > 0 when it changed. */
static int service_write_env_file(Supervisor *s, Service *svc) {
        _cleanup_free_ char *path = unit_env_file_path(s->state_dir, svc->name), *dir = NULL, *text = NULL;
        int r;

        if (!path)
                return -ENOMEM;
        if (svc->spec->runtime == SERVICE_RUNTIME_DOCKER || json_object_size(svc->spec->env) == 0) {
                r = unlink_durable(path);
                return r < 0 ? r : 0;
        }
        dir = path_join(s->state_dir, UNIT_ENV_DIR);
        if (!dir)
                return -ENOMEM;
        r = mkdir_parents_and_self(dir, 0700);
        if (r < 0)
                return r;
        r = unit_env_file_text(svc->spec, &text);
        if (r < 0)
                return r;
        return write_if_changed(path, text, 0600);
}

static bool service_body_exists(Supervisor *s, const char *name) {
        _cleanup_free_ char *p = service_body_path(s, name, false);
        return p && access(p, F_OK) >= 0;
}

/* Writes path only when its content differs; says whether it did. */
int write_if_changed(const char *path, const char *text, mode_t mode) {
        _cleanup_free_ char *old = NULL;
        size_t size;
        int r;

        if (read_full_file(path, 4 * 1024 * 1024, &old, &size) >= 0 && size == strlen(text) &&
            memcmp(old, text, size) == 0)
                return 0;
        r = mkdir_parents(path, 0755);
        if (r < 0)
                return r;
        r = write_file_atomic(path, text, strlen(text), mode);
        return r < 0 ? r : 1;
}

static int link_wants(Supervisor *s, const char *target, const char *unit, bool want) {
        _cleanup_free_ char *dir = NULL, *link = NULL, *dest = NULL;
        char buf[512];
        ssize_t n;

        if (asprintf(&dir, "%s/%s.wants", s->unit_dir, target) < 0 || asprintf(&link, "%s/%s", dir, unit) < 0 ||
            asprintf(&dest, "../%s", unit) < 0)
                return -ENOMEM;
        if (!want)
                return unlink(link) < 0 && errno != ENOENT ? -errno : 0;
        n = readlink(link, buf, sizeof(buf) - 1);
        if (n >= 0) {
                buf[n] = 0;
                if (streq(buf, dest))
                        return 0;
                (void) unlink(link);
        }
        if (mkdir_parents_and_self(dir, 0755) < 0 || symlink(dest, link) < 0)
                return -errno;
        return 1;
}

/* Brings a service's files in line with its spec. Returns > 0 when something changed. */
static bool stat_same(const struct stat *a, const struct stat *b) {
        return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
               a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

int service_write_files(Supervisor *s, Service *svc) {
        const UnitContext ctx = { .run_helper = s->run_helper, .state_dir = s->host_state_dir,
                                  .docker_socket = s->docker_socket, .control_socket = s->control_socket,
                                  .registry_auth_file = s->registry_auth_file };
        _cleanup_free_ char *text = NULL, *path = NULL, *body_path = NULL, *body_text = NULL;
        bool docker = svc->spec->runtime == SERVICE_RUNTIME_DOCKER;
        const char *driver = docker ? strempty(docker_cgroup_driver(s)) : "";
        struct stat st;
        int r, changed = 0;

        path = supervisor_unit_path(s, svc->unit);
        if (!path)
                return -ENOMEM;
        if (svc->files_synced && streq(svc->synced_driver, driver) && stat(path, &st) >= 0 &&
            stat_same(&st, &svc->unit_stat))
                return 0;

        if (docker && (docker_cgroup_driver(s) || !service_body_exists(s, svc->name))) {
                /* the body depends on Docker's cgroup driver: wait for /info rather than write one that will
                 * change (and recreate the container) as soon as Docker answers */
                _cleanup_free_ char *parent = service_cgroup_parent(s, svc->name);
                _cleanup_json_ json_t *body = container_create_body(svc->spec, parent);
                body_path = service_body_path(s, svc->name, false);
                if (!body || !body_path)
                        return -ENOMEM;
                service_prepare_cgroupfs_parent(s, svc);
                body_text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
                if (!body_text)
                        return -ENOMEM;
                r = write_if_changed(body_path, body_text, 0600);
                if (r < 0)
                        return log_error_errno(r, "Failed to write %s: %m", body_path);
                changed |= r;

                /* the network holder's, which ballast-run keeps running across the container's restarts */
                _cleanup_json_ json_t *net = container_holder_body(svc->spec, parent);
                _cleanup_free_ char *net_path = service_net_body_path(s, svc->name), *net_text = NULL;
                if (!net || !net_path)
                        return -ENOMEM;
                net_text = json_dumps(net, JSON_COMPACT | JSON_SORT_KEYS);
                if (!net_text)
                        return -ENOMEM;
                r = write_if_changed(net_path, net_text, 0600);
                if (r < 0)
                        return log_error_errno(r, "Failed to write %s: %m", net_path);
                changed |= r;
        }
        /* before the unit that names it: the unit never starts without its environment */
        r = service_write_env_file(s, svc);
        if (r < 0)
                return log_error_errno(r, "Failed to write the environment file of %s: %m", svc->name);
        changed |= r;
        r = unit_text_for_service(svc->spec, &ctx, &text);
        if (r < 0)
                return log_error_errno(r, "Failed to generate the unit of %s: %m", svc->name);
        r = write_if_changed(path, text, 0644);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s%s: %m", path,
                                       r == -ELOOP ? " (a symlink: masked by an operator? left as it is)" : "");
        changed |= r;
        /* enabled: it starts at boot even if ballastd does not, and with Docker when Docker comes back */
        r = link_wants(s, "multi-user.target", svc->unit, true);
        if (r >= 0)
                r = link_wants(s, "docker.service", svc->unit, docker);
        if (r < 0)
                return log_error_errno(r, "Failed to enable %s: %m", svc->unit);
        /* in sync, unless the body still waits for Docker's cgroup driver */
        svc->files_synced = stat(path, &svc->unit_stat) >= 0 && (!docker || !isempty(driver));
        snprintf(svc->synced_driver, sizeof(svc->synced_driver), "%s", driver);
        return changed;
}

/* What a spec turns into, without writing it: the unit's text and (Docker) the container's create body. */
int service_render(Supervisor *s, const ServiceSpec *spec, char **ret_unit, json_t **ret_body) {
        const UnitContext ctx = { .run_helper = s->run_helper, .state_dir = s->host_state_dir,
                                  .docker_socket = s->docker_socket, .control_socket = s->control_socket };
        int r = unit_text_for_service(spec, &ctx, ret_unit);

        if (r < 0)
                return r;
        *ret_body = NULL;
        if (spec->runtime == SERVICE_RUNTIME_DOCKER) {
                _cleanup_free_ char *parent = service_cgroup_parent(s, spec->name);
                *ret_body = container_create_body(spec, parent);
                if (!*ret_body)
                        return -ENOMEM;
        }
        return 0;
}

int remove_unit_files(Supervisor *s, const char *unit, const char *name) {
        _cleanup_free_ char *cg = NULL, *backoff = NULL;

        /* a cgroupfs parent of ours goes with the service (once its container is gone it is empty) */
        if (supervisor_cgroups_ready(s) && docker_cgroup_driver(s) && !streq(docker_cgroup_driver(s), "systemd") &&
            asprintf(&cg, CGROUPFS_PARENT "/%s", name) >= 0)
                (void) cgroup_destroy(s->cgroup_mode, CGROUP_FS_ROOT, cg);

        _cleanup_free_ char *path = supervisor_unit_path(s, unit), *body = service_body_path(s, name, false),
                            *net_body = service_net_body_path(s, name), *env = unit_env_file_path(s->state_dir, name);

        if (!path || !body || !net_body || !env)
                return -ENOMEM;
        (void) unlink_durable(env);
        (void) link_wants(s, "multi-user.target", unit, false);
        (void) link_wants(s, "docker.service", unit, false);
        (void) unlink_durable(body);
        (void) unlink_durable(net_body);
        restart_marker_clear(s, name);
        /* ballast-run's backoff state: a service applied again starts afresh */
        if (asprintf(&backoff, "/run/ballast/backoff/%s", name) >= 0)
                (void) unlink(backoff);
        return unlink_durable(path);
}
