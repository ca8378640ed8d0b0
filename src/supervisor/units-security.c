/* SPDX-License-Identifier: MIT */
/* What the spec's storage, identity, security and order keys (spec-security.c, spec-order.c) add to a unit and
 * to a container body. Every value here was held to a narrow alphabet by the spec (paths, names, signals,
 * capabilities), so none needs quoting; the checks below repeat the one that matters for a unit file (no
 * newline can start a directive of the spec's choosing) in case a caller built a spec by hand. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/units-internal.h"


static bool strv_contains(char *const *l, const char *s) {
        for (size_t i = 0; l && l[i]; i++)
                if (streq(l[i], s))
                        return true;
        return false;
}

static bool word_is_safe(const char *s) {
        return s && s[0] && !strpbrk(s, " \t\n\r\"'\\%$;");
}

/* [Unit]: After= and Requires= between services. requires implies after: a service that needs another wants
 * it started first. */
int unit_fput_order(FILE *f, const ServiceSpec *s) {
        if (!s->after && !s->requires)
                return 0;
        fputs("After=", f);
        for (size_t k = 0, n = 0; k < 2; k++) {
                char *const *l = k == 0 ? s->after : s->requires;
                for (size_t i = 0; l && l[i]; i++) {
                        if (!service_name_is_valid(l[i]))
                                return -EINVAL;
                        /* requires repeats after: one ordering is enough */
                        if (k == 1 && strv_contains(s->after, l[i]))
                                continue;
                        fprintf(f, "%s" UNIT_PREFIX "%s.service", n++ > 0 ? " " : "", l[i]);
                }
        }
        fputc('\n', f);
        if (s->requires) {
                fputs("Requires=", f);
                for (size_t i = 0; s->requires[i]; i++)
                        fprintf(f, "%s" UNIT_PREFIX "%s.service", i > 0 ? " " : "", s->requires[i]);
                fputc('\n', f);
        }
        return 0;
}

/* The stop timeout: Docker's (docker stop -t) is the spec's, and systemd's 10 s more, for the helper to stop the
 * holder and exit; an exec service has systemd's alone. */
uint64_t unit_stop_timeout_s(const ServiceSpec *s) {
        return s->runtime == SERVICE_RUNTIME_DOCKER ? s->stop_timeout_s + 10 : s->stop_timeout_s;
}

static void fput_sandbox(FILE *f) {
        /* read-only /usr, /boot, /etc and the rest; writable: PrivateTmp's /tmp and the mounts */
        fputs("ProtectSystem=strict\n"
              "ProtectHome=yes\n"
              "PrivateTmp=yes\n"
              "PrivateDevices=yes\n"
              "ProtectKernelTunables=yes\n"
              "ProtectKernelModules=yes\n"
              "ProtectControlGroups=yes\n"
              "RestrictSUIDSGID=yes\n", f);
}

static int fput_exec_mounts(FILE *f, const ServiceSpec *s) {
        for (size_t i = 0; i < s->n_mounts; i++) {
                const ServiceMount *m = &s->mounts[i];

                if (!word_is_safe(m->target) || strchr(m->target, ':') ||
                    (m->type == MOUNT_BIND && (!word_is_safe(m->source) || strchr(m->source, ':'))))
                        return -EINVAL;
                if (m->type == MOUNT_BIND)
                        fprintf(f, "%s=%s:%s\n", m->read_only ? "BindReadOnlyPaths" : "BindPaths", m->source,
                                m->target);
                else if (m->type == MOUNT_TMPFS && m->size > 0)
                        fprintf(f, "TemporaryFileSystem=%s:size=%" PRIu64 "\n", m->target, m->size);
                else if (m->type == MOUNT_TMPFS)
                        fprintf(f, "TemporaryFileSystem=%s\n", m->target);
                else
                        return -EINVAL; /* volumes are docker's */
        }
        return 0;
}

static void fput_caps(FILE *f, const char *key, const char *prefix, char *const *l) {
        if (!l)
                return;
        fprintf(f, "%s=%s", key, prefix);
        for (size_t i = 0; l[i]; i++)
                fprintf(f, "%s%s", i > 0 ? " " : "", l[i]);
        fputc('\n', f);
}

/* [Service] lines of an exec service: identity, sandbox, mounts, capabilities, limits, stop signal. */
int unit_fput_exec_security(FILE *f, const ServiceSpec *s) {
        int r;

        if (s->user) {
                const char *colon = strchr(s->user, ':');

                if (!word_is_safe(s->user))
                        return -EINVAL;
                if (colon)
                        fprintf(f, "User=%.*s\nGroup=%s\n", (int) (colon - s->user), s->user, colon + 1);
                else
                        fprintf(f, "User=%s\n", s->user);
        }
        if (s->working_dir) {
                if (!word_is_safe(s->working_dir))
                        return -EINVAL;
                fprintf(f, "WorkingDirectory=%s\n", s->working_dir);
        }
        fprintf(f, "NoNewPrivileges=%s\n", s->no_new_privileges > 0 ? "yes" : "no");
        if (s->sandbox > 0)
                fput_sandbox(f);
        r = fput_exec_mounts(f, s);
        if (r < 0)
                return r;
        /* cap_drop ALL empties the bounding set; cap_add gives a non-root user the capability (ambient) */
        if (strv_contains(s->cap_drop, "ALL"))
                fputs("CapabilityBoundingSet=\n", f);
        else
                fput_caps(f, "CapabilityBoundingSet", "~", s->cap_drop);
        fput_caps(f, "AmbientCapabilities", "", s->cap_add);
        if (s->nofile.hard > 0)
                fprintf(f, "LimitNOFILE=%" PRIu64 ":%" PRIu64 "\n", s->nofile.soft, s->nofile.hard);
        if (s->nproc.hard > 0)
                fprintf(f, "LimitNPROC=%" PRIu64 ":%" PRIu64 "\n", s->nproc.soft, s->nproc.hard);
        if (s->stop_signal) {
                if (!word_is_safe(s->stop_signal))
                        return -EINVAL;
                fprintf(f, "KillSignal=%s\n", s->stop_signal);
        }
        return 0;
}

/* ---- the container body ---- */

static json_t *strv_to_array(char *const *l) {
        json_t *a = json_array();

        for (size_t i = 0; a && l && l[i]; i++)
                if (json_array_append_new(a, json_string(l[i])) < 0) {
                        json_decref(a);
                        return NULL;
                }
        return a;
}

static json_t *mounts_json(const ServiceSpec *s) {
        _cleanup_json_ json_t *a = json_array();

        for (size_t i = 0; a && i < s->n_mounts; i++) {
                const ServiceMount *m = &s->mounts[i];
                _cleanup_free_ char *volume = NULL;
                json_t *o;

                if (m->type == MOUNT_VOLUME) {
                        volume = service_volume_name(s->name, m->source);
                        if (!volume)
                                return NULL;
                        /* Docker creates the volume at the container's creation, with these labels; an existing
                         * one is reused as it is (its data kept) */
                        o = json_pack("{s:s, s:s, s:s, s:b, s:{s:{s:s}}}", "Type", "volume", "Source", volume,
                                      "Target", m->target, "ReadOnly", m->read_only, "VolumeOptions", "Labels",
                                      LABEL_SERVICE, s->name);
                } else if (m->type == MOUNT_BIND)
                        o = json_pack("{s:s, s:s, s:s, s:b}", "Type", "bind", "Source", m->source, "Target", m->target,
                                      "ReadOnly", m->read_only);
                else if (m->size > 0)
                        /* 01777 as /tmp: writable by the service whatever its user */
                        o = json_pack("{s:s, s:s, s:{s:I, s:i}}", "Type", "tmpfs", "Target", m->target,
                                      "TmpfsOptions", "SizeBytes", (json_int_t) m->size, "Mode", 01777);
                else
                        o = json_pack("{s:s, s:s, s:{s:i}}", "Type", "tmpfs", "Target", m->target, "TmpfsOptions",
                                      "Mode", 01777);
                if (!o || json_array_append_new(a, o) < 0)
                        return NULL;
        }
        return TAKE_PTR(a);
}

static json_t *devices_json(const ServiceSpec *s) {
        _cleanup_json_ json_t *a = json_array();

        for (size_t i = 0; a && i < s->n_devices; i++) {
                const ServiceDevice *d = &s->devices[i];
                if (json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "PathOnHost", d->host, "PathInContainer",
                                                       d->container ?: d->host, "CgroupPermissions", d->perms)) < 0)
                        return NULL;
        }
        return TAKE_PTR(a);
}

static json_t *ulimits_json(const ServiceSpec *s) {
        _cleanup_json_ json_t *a = json_array();
        const struct { const char *name; const ServiceUlimit *u; } l[] = {
                { "nofile", &s->nofile }, { "nproc", &s->nproc },
        };

        for (size_t i = 0; a && i < ELEMENTSOF(l); i++)
                if (l[i].u->hard > 0 &&
                    json_array_append_new(a, json_pack("{s:s, s:I, s:I}", "Name", l[i].name, "Soft",
                                                       (json_int_t) l[i].u->soft, "Hard",
                                                       (json_int_t) l[i].u->hard)) < 0)
                        return NULL;
        return TAKE_PTR(a);
}

static void put(json_t *o, const char *key, json_t *v, bool *failed) {
        if (!o || !v || json_object_set_new(o, key, v) < 0) {
                json_decref(v);
                *failed = true;
        }
}

/* Only what differs from Docker's defaults is written, so that a spec without these keys gives the body (and the
 * io.ballast.hash) it gave before they existed. */
void container_body_add_security(json_t *body, json_t *host, const ServiceSpec *s, bool *failed) {
        if (s->user)
                put(body, "User", json_string(s->user), failed);
        if (s->working_dir)
                put(body, "WorkingDir", json_string(s->working_dir), failed);
        if (s->entrypoint)
                put(body, "Entrypoint", strv_to_array(s->entrypoint), failed);
        if (s->stop_signal)
                put(body, "StopSignal", json_string(s->stop_signal), failed);
        if (s->stop_timeout_s != SERVICE_STOP_TIMEOUT_DEFAULT_S)
                put(body, "StopTimeout", json_integer((json_int_t) s->stop_timeout_s), failed);
        if (s->n_mounts > 0)
                put(host, "Mounts", mounts_json(s), failed);
        if (s->cap_add)
                put(host, "CapAdd", strv_to_array(s->cap_add), failed);
        if (s->cap_drop)
                put(host, "CapDrop", strv_to_array(s->cap_drop), failed);
        if (s->read_only)
                put(host, "ReadonlyRootfs", json_true(), failed);
        if (s->no_new_privileges > 0)
                put(host, "SecurityOpt", json_pack("[s]", "no-new-privileges:true"), failed);
        if (s->n_devices > 0)
                put(host, "Devices", devices_json(s), failed);
        if (s->nofile.hard > 0 || s->nproc.hard > 0)
                put(host, "Ulimits", ulimits_json(s), failed);
}
