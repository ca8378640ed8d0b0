/* SPDX-License-Identifier: MIT */
/* The spec's storage (mounts), identity and security keys (user, working_dir, entrypoint, capabilities,
 * read_only, no_new_privileges, devices, ulimits, stop signal and timeout, the exec sandbox) and a port's
 * host_ip: parsed and validated like the rest of the spec (spec.c), so that what reaches a unit file or a
 * container body is one of a few known shapes. Paths are held to a narrow alphabet: no quoting is needed in any
 * unit line (BindPaths=, WorkingDirectory=) and no path can climb out with "..". */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/spec-internal.h"

#define PATH_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._+@=,~-"
#define VOLUME_NAME_MAX 63U
#define USER_NAME_MAX 31U
#define UID_MAX_VALID 4294967294ULL /* (uid_t) -1 is "none" */
#define STOP_TIMEOUT_MIN_S 1U    /* systemd reads TimeoutStopSec=0 as "never" */
#define STOP_TIMEOUT_MAX_S 3600U
#define NOFILE_MAX 1073741816ULL    /* the kernel's highest fs.nr_open */
#define NPROC_MAX 4194304ULL        /* PID_MAX_LIMIT */

static const char *const mount_type_table[] = {
        [MOUNT_BIND] = "bind",
        [MOUNT_VOLUME] = "volume",
        [MOUNT_TMPFS] = "tmpfs",
};

const char *mount_type_to_string(MountType t) {
        return (size_t) t < ELEMENTSOF(mount_type_table) ? mount_type_table[t] : NULL;
}

char *service_volume_name(const char *service, const char *volume) {
        char *n;

        if (asprintf(&n, "ballast-%s.%s", service, volume) < 0)
                return NULL;
        return n;
}

/* The kernel's capability names (include/uapi/linux/capability.h, 0 to CAP_LAST_CAP of Linux 6.x), without
 * "CAP_". */
static const char *const capability_table[] = {
        "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
        "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
        "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
        "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
        "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
        "CHECKPOINT_RESTORE",
};

/* The signals a service may ask to be stopped with: the standard ones that terminate by default or that
 * programs commonly take as "stop" (SIGHUP, SIGINT, SIGQUIT, SIGUSR1/2, SIGWINCH for httpd). */
static const char *const signal_table[] = {
        "SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGKILL", "SIGUSR1", "SIGUSR2", "SIGWINCH", "SIGPWR",
};

/* ---- paths ---- */

/* An absolute path in a narrow alphabet, without "." or ".." components, empty components or a trailing '/'.
 * what: "an absolute path" or "a path under /dev", for the message. */
static int check_path(const char *path, const char *p, const char *prefix, JsonError *e) {
        size_t n = strlen(p);

        if (has_control_char(p) || strpbrk(p, "\t\n"))
                return json_error_set(e, path, "contains a control character");
        if (p[0] != '/')
                return json_error_set(e, path, "%s is not an absolute path", Q(p));
        if (n >= PATH_MAX)
                return json_error_set(e, path, "is longer than %d bytes", PATH_MAX - 1);
        if (strspn(p, PATH_CHARS) != n)
                return json_error_set(e, path,
                                      "%s contains a character other than A-Z, a-z, 0-9 and \"/._+@=,~-\"", Q(p));
        if (prefix && (!strneq(p, prefix, strlen(prefix)) || n == strlen(prefix)))
                return json_error_set(e, path, "%s is not a path under %s", Q(p), prefix);
        for (const char *c = p + 1; n > 1;) {
                size_t k = strcspn(c, "/");

                if (k == 0)
                        return json_error_set(e, path, "%s has an empty component or a trailing '/'", Q(p));
                if ((k == 1 && c[0] == '.') || (k == 2 && strneq(c, "..", 2)))
                        return json_error_set(e, path, "%s has a \".\" or \"..\" component", Q(p));
                if (k > NAME_MAX)
                        return json_error_set(e, path, "has a path component longer than %d bytes", NAME_MAX);
                if (!c[k])
                        break;
                c += k + 1;
        }
        return 0;
}

static int dispatch_path_string(const char *path, json_t *v, char **target, const char *prefix, JsonError *e) {
        int r;

        if (!json_is_string(v))
                return json_error_set(e, path, "expected a string, got %s", json_type_name(v));
        r = check_path(path, json_string_value(v), prefix, e);
        if (r < 0)
                return r;
        return json_dispatch_string(path, v, target, e);
}

int dispatch_container_path(const char *path, json_t *v, void *target, JsonError *e) {
        return dispatch_path_string(path, v, target, NULL, e);
}

/* ---- mounts ---- */

static int dispatch_mount_type(const char *path, json_t *v, void *target, JsonError *e) {
        const char *s = json_string_value(v);

        if (!json_is_string(v))
                return json_error_set(e, path, "expected a string, got %s", json_type_name(v));
        for (size_t i = 0; i < ELEMENTSOF(mount_type_table); i++)
                if (streq(s, mount_type_table[i])) {
                        *(MountType *) target = (MountType) i;
                        return 0;
                }
        return json_error_set(e, path, "%s is not a mount type (expected \"bind\", \"volume\" or \"tmpfs\")", Q(s));
}

static int dispatch_mount_source(const char *path, json_t *v, void *target, JsonError *e) {
        if (!json_is_string(v))
                return json_error_set(e, path, "expected a string, got %s", json_type_name(v));
        /* checked by type once the whole object is read: a path for bind, a name for volume */
        return check_text(path, json_string_value(v), PATH_MAX, e) < 0 ? -EINVAL
                                                                       : json_dispatch_string(path, v, target, e);
}

static bool volume_name_is_valid(const char *s) {
        size_t n = strlen(s);

        return n >= 1 && n <= VOLUME_NAME_MAX && strchr("abcdefghijklmnopqrstuvwxyz0123456789", s[0]) &&
               strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* One mount, read by the table: the checks that need its type. */
static int check_mount(const char *path, json_t *v, ServiceMount *m, JsonError *e) {
        char sub[256];

        json_path_key(sub, sizeof(sub), path, "source");
        if (m->type == MOUNT_TMPFS) {
                if (m->source)
                        return json_error_set(e, sub, "only for bind and volume mounts");
                if (m->read_only)
                        return json_error_set(e, json_path_key(sub, sizeof(sub), path, "read_only"),
                                              "a read-only tmpfs would stay empty");
                return 0;
        }
        if (json_object_get(v, "size"))
                return json_error_set(e, json_path_key(sub, sizeof(sub), path, "size"), "only for tmpfs mounts");
        if (!m->source)
                return json_error_set(e, sub, "is required for a %s mount", mount_type_to_string(m->type));
        if (m->type == MOUNT_BIND)
                return check_path(sub, m->source, NULL, e);
        if (!volume_name_is_valid(m->source))
                return json_error_set(e, sub,
                                      "%s is not a volume name (1 to 63 of a-z, 0-9, '_' and '-', starting with a "
                                      "letter or digit)", Q(m->source));
        return 0;
}

static void mounts_free(ServiceMount *m, size_t n) {
        for (size_t i = 0; m && i < n; i++) {
                free(m[i].source);
                free(m[i].target);
        }
        free(m);
}

int dispatch_mounts(const char *path, json_t *v, void *target, JsonError *e) {
        static const JsonField table[] = {
                { "type", dispatch_mount_type, offsetof(ServiceMount, type), JSON_MANDATORY },
                { "source", dispatch_mount_source, offsetof(ServiceMount, source), 0 },
                { "target", dispatch_container_path, offsetof(ServiceMount, target), JSON_MANDATORY },
                { "read_only", json_dispatch_bool, offsetof(ServiceMount, read_only), 0 },
                { "size", dispatch_memory, offsetof(ServiceMount, size), 0 },
                {}
        };
        ServiceSpec *s = target;
        ServiceMount *mounts;
        size_t i, n = json_array_size(v);
        char sub[256];
        json_t *item;
        int r = 0;

        if (!json_is_array(v))
                return json_error_set(e, path, "expected an array of mounts, got %s", json_type_name(v));
        mounts = calloc(n + 1, sizeof(ServiceMount));
        if (!mounts)
                return -ENOMEM;
        json_array_foreach(v, i, item) {
                json_path_index(sub, sizeof(sub), path, i);
                r = json_dispatch(sub, item, table, &mounts[i], e);
                if (r >= 0)
                        r = check_mount(sub, item, &mounts[i], e);
                if (r >= 0 && streq(mounts[i].target, "/")) {
                        char t[256];
                        r = json_error_set(e, json_path_key(t, sizeof(t), sub, "target"), "\"/\" cannot be mounted over");
                }
                for (size_t j = 0; r >= 0 && j < i; j++)
                        if (streq(mounts[j].target, mounts[i].target))
                                r = json_error_set(e, sub, "target %s is already mounted by %s[%zu]",
                                                   Q(mounts[i].target), path, j);
                if (r < 0)
                        break;
        }
        if (r < 0) {
                mounts_free(mounts, n);
                return r;
        }
        mounts_free(s->mounts, s->n_mounts);
        s->mounts = mounts;
        s->n_mounts = n;
        return 0;
}

/* ---- identity ---- */

/* A uid or gid (decimal, not (uid_t) -1 nor 65535, the 16-bit "nobody" systemd refuses), or a user or group
 * name: [A-Za-z_][A-Za-z0-9_.-]*, at most 31. */
static bool id_is_valid(const char *s, size_t n) {
        if (n == 0)
                return false;
        if (strspn(s, "0123456789") >= n) {
                unsigned long long u;

                if (n > 10 || (n > 1 && s[0] == '0'))
                        return false;
                u = strtoull(s, NULL, 10);
                return u <= UID_MAX_VALID && u != 65535;
        }
        return n <= USER_NAME_MAX && strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_", s[0]) &&
               strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") >= n;
}

int dispatch_user(const char *path, json_t *v, void *target, JsonError *e) {
        const char *s = json_string_value(v), *colon;

        if (!json_is_string(v))
                return json_error_set(e, path, "expected a string, got %s", json_type_name(v));
        colon = strchr(s, ':');
        if (!(colon ? id_is_valid(s, (size_t) (colon - s)) && id_is_valid(colon + 1, strlen(colon + 1))
                    : id_is_valid(s, strlen(s))))
                return json_error_set(e, path,
                                      "%s is not a user (\"uid\", \"uid:gid\", \"name\" or \"name:group\"; a name is "
                                      "[A-Za-z_][A-Za-z0-9_.-]*, at most 31)", Q(s));
        return json_dispatch_string(path, v, target, e);
}

/* ---- capabilities, signals ---- */

/* "net_admin", "NET_ADMIN" and "CAP_NET_ADMIN" are one capability, written "CAP_NET_ADMIN"; "ALL" is every one. */
static int capability_normalize(const char *s, char **ret) {
        char up[64];
        const char *bare;
        size_t n = strlen(s);

        if (n == 0 || n >= sizeof(up))
                return -EINVAL;
        for (size_t i = 0; i <= n; i++)
                up[i] = (char) (s[i] >= 'a' && s[i] <= 'z' ? s[i] - 'a' + 'A' : s[i]);
        if (streq(up, "ALL")) {
                *ret = strdup("ALL");
                return *ret ? 0 : -ENOMEM;
        }
        bare = strneq(up, "CAP_", 4) ? up + 4 : up;
        for (size_t i = 0; i < ELEMENTSOF(capability_table); i++)
                if (streq(bare, capability_table[i]))
                        return asprintf(ret, "CAP_%s", bare) < 0 ? -ENOMEM : 0;
        return -EINVAL;
}

int dispatch_caps(const char *path, json_t *v, void *target, JsonError *e) {
        _cleanup_strv_free_ char **l = NULL;
        char ***ret = target, sub[256];
        size_t i, n = json_array_size(v);
        json_t *item;

        if (!json_is_array(v))
                return json_error_set(e, path, "expected an array of capability names, got %s", json_type_name(v));
        l = calloc(n + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        json_array_foreach(v, i, item) {
                int r;

                json_path_index(sub, sizeof(sub), path, i);
                if (!json_is_string(item))
                        return json_error_set(e, sub, "expected a string, got %s", json_type_name(item));
                r = capability_normalize(json_string_value(item), &l[i]);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return json_error_set(e, sub, "%s is not a capability of the kernel (e.g. \"NET_ADMIN\", "
                                              "see capabilities(7)) nor \"ALL\"", Q(json_string_value(item)));
                for (size_t j = 0; j < i; j++)
                        if (streq(l[j], l[i]))
                                return json_error_set(e, sub, "%s is already listed", l[i]);
        }
        strv_free(*ret);
        *ret = TAKE_PTR(l);
        return 0;
}

int dispatch_stop_signal(const char *path, json_t *v, void *target, JsonError *e) {
        char **ret = target, name[16];
        const char *s = json_string_value(v);

        if (!json_is_string(v))
                return json_error_set(e, path, "expected a string, got %s", json_type_name(v));
        if (strlen(s) <= 8)
                (void) snprintf(name, sizeof(name), "%s%s", strneq(s, "SIG", 3) ? "" : "SIG", s);
        else
                name[0] = 0;
        for (size_t i = 0; i < ELEMENTSOF(signal_table); i++)
                if (streq(name, signal_table[i])) {
                        free(*ret);
                        /* SIGTERM is the default: held as NULL, so that saying it changes nothing */
                        *ret = i == 0 ? NULL : strdup(name);
                        return i == 0 || *ret ? 0 : -ENOMEM;
                }
        return json_error_set(e, path, "%s is not a stop signal (one of TERM, INT, QUIT, HUP, KILL, USR1, USR2, "
                              "WINCH, PWR, with or without \"SIG\")", Q(s));
}

int dispatch_stop_timeout(const char *path, json_t *v, void *target, JsonError *e) {
        return dispatch_ranged(path, v, target, STOP_TIMEOUT_MIN_S, STOP_TIMEOUT_MAX_S, e);
}

int dispatch_tristate(const char *path, json_t *v, void *target, JsonError *e) {
        if (!json_is_boolean(v))
                return json_error_set(e, path, "expected a boolean, got %s", json_type_name(v));
        *(int *) target = json_is_true(v);
        return 0;
}

int dispatch_host_ip(const char *path, json_t *v, void *target, JsonError *e) {
        const char *s = json_string_value(v);
        unsigned char buf[16];
        char *out = target;
        int family;

        if (!json_is_string(v))
                return json_error_set(e, path, "expected a string, got %s", json_type_name(v));
        family = strchr(s, ':') ? AF_INET6 : AF_INET;
        if (inet_pton(family, s, buf) != 1)
                return json_error_set(e, path, "%s is not an IPv4 or IPv6 address (e.g. \"127.0.0.1\")", Q(s));
        /* the canonical form, so that equal addresses compare equal */
        if (!inet_ntop(family, buf, out, 46))
                return -errno;
        return 0;
}

/* ---- devices ---- */

static bool perms_are_valid(const char *s) {
        /* a non-empty subset of "rwm", in that order */
        size_t n = strlen(s);
        const char *p = "rwm";

        if (n == 0 || n > 3)
                return false;
        for (size_t i = 0; i < n; i++) {
                p = strchr(p, s[i]);
                if (!p)
                        return false;
                p++;
        }
        return true;
}

static void devices_free(ServiceDevice *d, size_t n) {
        for (size_t i = 0; d && i < n; i++) {
                free(d[i].host);
                free(d[i].container);
        }
        free(d);
}

/* "HOST[:CONTAINER][:PERMS]" as `docker run --device` reads it: two fields are a path and permissions when the
 * second is valid permissions. Paths cannot hold ':' (check_path()). */
/* the three fields of a device, each freed (a strv would stop at the first one taken) */
static void device_fields_free(char *(*f)[3]) {
        for (size_t i = 0; i < 3; i++)
                free((*f)[i]);
}

static int parse_device(const char *path, const char *s, ServiceDevice *d, JsonError *e) {
        _cleanup_(device_fields_free) char *f[3] = {};
        const char *p = s;
        size_t n = 0;
        int r;

        if (has_control_char(s) || strpbrk(s, "\t\n"))
                return json_error_set(e, path, "contains a control character");
        while (n < 3) {
                size_t k = strcspn(p, ":");
                f[n] = strndup(p, k);
                if (!f[n++])
                        return -ENOMEM;
                if (!p[k])
                        break;
                p += k + 1;
                if (n == 3)
                        return json_error_set(e, path, "%s has more than three ':'-separated fields", Q(s));
        }
        r = check_path(path, f[0], "/dev/", e);
        if (r < 0)
                return r;
        if (n == 3 || (n == 2 && !perms_are_valid(f[1]))) {
                r = check_path(path, f[1], NULL, e);
                if (r < 0)
                        return r;
                d->container = TAKE_PTR(f[1]);
        }
        if (n == 3 || (n == 2 && !d->container)) {
                const char *perms = f[n - 1];
                if (!perms_are_valid(perms))
                        return json_error_set(e, path, "%s: permissions are a subset of \"rwm\"", Q(s));
                snprintf(d->perms, sizeof(d->perms), "%s", perms);
        } else
                snprintf(d->perms, sizeof(d->perms), "rwm");
        d->host = TAKE_PTR(f[0]);
        return 0;
}

int dispatch_devices(const char *path, json_t *v, void *target, JsonError *e) {
        ServiceSpec *s = target;
        ServiceDevice *devices;
        size_t i, n = json_array_size(v);
        char sub[256];
        json_t *item;
        int r = 0;

        if (!json_is_array(v))
                return json_error_set(e, path, "expected an array of devices, got %s", json_type_name(v));
        devices = calloc(n + 1, sizeof(ServiceDevice));
        if (!devices)
                return -ENOMEM;
        json_array_foreach(v, i, item) {
                json_path_index(sub, sizeof(sub), path, i);
                if (!json_is_string(item))
                        r = json_error_set(e, sub, "expected a string, got %s", json_type_name(item));
                else
                        r = parse_device(sub, json_string_value(item), &devices[i], e);
                if (r < 0)
                        break;
        }
        if (r < 0) {
                devices_free(devices, n);
                return r;
        }
        devices_free(s->devices, s->n_devices);
        s->devices = devices;
        s->n_devices = n;
        return 0;
}

/* ---- ulimits ---- */

static int dispatch_ulimit(const char *path, json_t *v, ServiceUlimit *u, uint64_t max, JsonError *e) {
        const char *key;
        json_t *item;
        char sub[256];
        int r;

        /* a number sets both */
        if (json_is_integer(v)) {
                r = dispatch_ranged(path, v, &u->soft, 1, max, e);
                u->hard = u->soft;
                return r;
        }
        if (!json_is_object(v))
                return json_error_set(e, path, "expected a number or {\"soft\": N, \"hard\": N}, got %s",
                                      json_type_name(v));
        json_object_foreach(v, key, item) {
                if (!streq(key, "soft") && !streq(key, "hard"))
                        return json_error_set(e, path, "%s: unknown key (expected soft and hard)", Q(key));
                r = dispatch_ranged(json_path_key(sub, sizeof(sub), path, key), item,
                                    streq(key, "soft") ? &u->soft : &u->hard, 1, max, e);
                if (r < 0)
                        return r;
        }
        if (!json_object_get(v, "soft") || !json_object_get(v, "hard"))
                return json_error_set(e, path, "needs both soft and hard");
        if (u->soft > u->hard)
                return json_error_set(e, json_path_key(sub, sizeof(sub), path, "soft"), "%llu is more than hard (%llu)",
                                      (unsigned long long) u->soft, (unsigned long long) u->hard);
        return 0;
}

static int dispatch_nofile(const char *path, json_t *v, void *target, JsonError *e) {
        return dispatch_ulimit(path, v, target, NOFILE_MAX, e);
}

static int dispatch_nproc(const char *path, json_t *v, void *target, JsonError *e) {
        return dispatch_ulimit(path, v, target, NPROC_MAX, e);
}

int dispatch_ulimits(const char *path, json_t *v, void *target, JsonError *e) {
        static const JsonField table[] = {
                { "nofile", dispatch_nofile, offsetof(ServiceSpec, nofile), 0 },
                { "nproc", dispatch_nproc, offsetof(ServiceSpec, nproc), 0 },
                {}
        };
        return json_dispatch(path, v, table, target, e);
}

/* ---- the whole spec ---- */

void spec_security_init(ServiceSpec *s) {
        s->no_new_privileges = -1;
        s->sandbox = -1;
        s->stop_timeout_s = SERVICE_STOP_TIMEOUT_DEFAULT_S;
}

void spec_security_free(ServiceSpec *s) {
        mounts_free(s->mounts, s->n_mounts);
        free(s->user);
        free(s->working_dir);
        strv_free(s->entrypoint);
        strv_free(s->cap_add);
        strv_free(s->cap_drop);
        devices_free(s->devices, s->n_devices);
        free(s->stop_signal);
}

static int check_docker_only(const ServiceSpec *s, JsonError *e) {
        if (s->entrypoint)
                return json_error_set(e, "entrypoint", "only for runtime docker");
        if (s->read_only)
                return json_error_set(e, "read_only", "only for runtime docker (an exec service's file system is "
                                      "read-only with its sandbox)");
        if (s->n_devices > 0)
                return json_error_set(e, "devices", "only for runtime docker");
        for (size_t i = 0; i < s->n_mounts; i++)
                if (s->mounts[i].type == MOUNT_VOLUME) {
                        char sub[64];
                        snprintf(sub, sizeof(sub), "mounts[%zu].type", i);
                        return json_error_set(e, sub, "volume mounts are only for runtime docker (use a bind mount)");
                }
        for (size_t i = 0; s->cap_add && s->cap_add[i]; i++)
                if (streq(s->cap_add[i], "ALL")) {
                        char sub[64];
                        snprintf(sub, sizeof(sub), "cap_add[%zu]", i);
                        return json_error_set(e, sub, "\"ALL\" is only for runtime docker");
                }
        return 0;
}

int spec_security_check_runtime(ServiceSpec *s, JsonError *e) {
        bool docker = s->runtime == SERVICE_RUNTIME_DOCKER;
        int r;

        for (size_t i = 0; s->cap_add && s->cap_add[i]; i++)
                for (size_t j = 0; s->cap_drop && s->cap_drop[j]; j++)
                        if (streq(s->cap_add[i], s->cap_drop[j]))
                                return json_error_set(e, "cap_drop", "%s is in cap_add too", s->cap_add[i]);
        if (docker) {
                if (s->sandbox >= 0)
                        return json_error_set(e, "sandbox", "only for runtime exec");
                if (s->no_new_privileges < 0)
                        s->no_new_privileges = 0;
                return 0;
        }
        r = check_docker_only(s, e);
        if (r < 0)
                return r;
        if (s->sandbox < 0)
                s->sandbox = 1;
        if (s->no_new_privileges < 0)
                s->no_new_privileges = s->sandbox;
        return 0;
}

static json_t *ulimit_to_json(const ServiceUlimit *u) {
        return json_pack("{s:I, s:I}", "soft", (json_int_t) u->soft, "hard", (json_int_t) u->hard);
}

static json_t *mounts_to_json(const ServiceSpec *s, bool *failed) {
        json_t *a = json_array();

        for (size_t i = 0; a && i < s->n_mounts; i++) {
                const ServiceMount *m = &s->mounts[i];
                json_t *o = json_object();

                spec_set(o, "type", json_string(mount_type_to_string(m->type)), failed);
                if (m->source)
                        spec_set(o, "source", json_string(m->source), failed);
                spec_set(o, "target", json_string(m->target), failed);
                if (m->type != MOUNT_TMPFS)
                        spec_set(o, "read_only", json_boolean(m->read_only), failed);
                if (m->size > 0)
                        spec_set(o, "size", json_string(format_memory((char[32]){}, 32, m->size)), failed);
                if (!o || json_array_append_new(a, o) < 0)
                        *failed = true;
        }
        return a;
}

static json_t *devices_to_json(const ServiceSpec *s) {
        json_t *a = json_array();

        for (size_t i = 0; a && i < s->n_devices; i++) {
                const ServiceDevice *d = &s->devices[i];
                _cleanup_free_ char *t = NULL;

                if (asprintf(&t, "%s:%s:%s", d->host, d->container ?: d->host, d->perms) < 0 ||
                    json_array_append_new(a, json_string(t)) < 0) {
                        json_decref(a);
                        return NULL;
                }
        }
        return a;
}

void spec_security_to_json(const ServiceSpec *s, json_t *o, bool *failed) {
        bool docker = s->runtime == SERVICE_RUNTIME_DOCKER;

        if (s->n_mounts > 0)
                spec_set(o, "mounts", mounts_to_json(s, failed), failed);
        if (s->user)
                spec_set(o, "user", json_string(s->user), failed);
        if (s->working_dir)
                spec_set(o, "working_dir", json_string(s->working_dir), failed);
        if (s->entrypoint)
                spec_set(o, "entrypoint", strv_to_json(s->entrypoint), failed);
        if (s->cap_add)
                spec_set(o, "cap_add", strv_to_json(s->cap_add), failed);
        if (s->cap_drop)
                spec_set(o, "cap_drop", strv_to_json(s->cap_drop), failed);
        if (docker)
                spec_set(o, "read_only", json_boolean(s->read_only), failed);
        spec_set(o, "no_new_privileges", json_boolean(s->no_new_privileges > 0), failed);
        if (s->n_devices > 0)
                spec_set(o, "devices", devices_to_json(s), failed);
        if (s->nofile.hard > 0 || s->nproc.hard > 0) {
                json_t *u = json_object();
                if (s->nofile.hard > 0)
                        spec_set(u, "nofile", ulimit_to_json(&s->nofile), failed);
                if (s->nproc.hard > 0)
                        spec_set(u, "nproc", ulimit_to_json(&s->nproc), failed);
                spec_set(o, "ulimits", u, failed);
        }
        spec_set(o, "stop_signal", json_string(s->stop_signal ?: "SIGTERM"), failed);
        spec_set(o, "stop_timeout_s", json_integer((json_int_t) s->stop_timeout_s), failed);
        if (!docker)
                spec_set(o, "sandbox", json_boolean(s->sandbox > 0), failed);
}
