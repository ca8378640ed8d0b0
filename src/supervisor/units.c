/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/hash-util.h"
#include "shared/holder.h"
#include "shared/json-util.h"
#include "supervisor/units-internal.h"
#include "supervisor/units.h"

#define UNIT_SUFFIX ".service"
#define LABEL_UNIT "io.ballast.unit"
#define LABEL_HASH "io.ballast.hash"
#define LABEL_NETNS "io.ballast.netns"

/* Slack on top of the longest backoff for the helper to create and start the container and pass the
 * first health check, before systemd gives up on the start job. */
#define START_SLACK_S 120

char *unit_name_for_service(const char *name) {
        char *u;

        if (!service_name_is_valid(name)) {
                errno = EINVAL;
                return NULL;
        }
        if (asprintf(&u, UNIT_PREFIX "%s" UNIT_SUFFIX, name) < 0)
                return NULL;
        return u;
}

char *service_name_from_unit(const char *unit) {
        size_t n, p = strlen(UNIT_PREFIX), q = strlen(UNIT_SUFFIX);
        char *name;

        if (!unit)
                return NULL;
        n = strlen(unit);
        if (n <= p + q || !strneq(unit, UNIT_PREFIX, p) || !streq(unit + n - q, UNIT_SUFFIX))
                return NULL;
        name = strndup(unit + p, n - p - q);
        if (!name)
                return NULL;
        if (!service_name_is_valid(name)) {
                free(name);
                return NULL;
        }
        return name;
}

char *container_name_for_service(const char *name) {
        char *c;

        if (!service_name_is_valid(name)) {
                errno = EINVAL;
                return NULL;
        }
        if (asprintf(&c, "ballast-%s", name) < 0)
                return NULL;
        return c;
}

/* ---- escaping ----
 *
 * How systemd 252 reads ExecStart= (checked against the real one, see tests/unit/test-units.c): specifiers
 * ('%x') are expanded, the line is split into words with double quotes and C escapes resolved, an unquoted
 * ";" word separates commands, and at exec time "$NAME" / "${NAME}" in the arguments are replaced from the
 * environment, "$$" giving a literal '$'. The executable (the first word) is different: it is never
 * expanded, and quotes, backslashes and control characters in it are refused however they are escaped.
 * So every argument is written double-quoted, with '\' '"' and control characters C-escaped, '%' doubled
 * and '$' doubled; a quoted ";" is an ordinary argument. The executable is quoted with '%' doubled and '$'
 * left alone. Environment= is split like a command line and specifier-expanded, but never expands '$'. */

typedef enum EscapeFlags {
        ESCAPE_DOLLAR = 1 << 0,
} EscapeFlags;

static char *escape_quoted(const char *prefix, const char *s, EscapeFlags flags) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&buf, &size);
        if (!f)
                return NULL;
        fputc('"', f);
        fputs(prefix, f);
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                switch (*p) {
                case '\\': fputs("\\\\", f); break;
                case '"': fputs("\\\"", f); break;
                case '\n': fputs("\\n", f); break;
                case '\t': fputs("\\t", f); break;
                case '%': fputs("%%", f); break;
                case '$':
                        fputs(flags & ESCAPE_DOLLAR ? "$$" : "$", f);
                        break;
                default:
                        if (*p < 0x20 || *p == 0x7f)
                                fprintf(f, "\\x%02x", *p);
                        else
                                fputc(*p, f);
                }
        }
        fputc('"', f);
        if (fclose(f) != 0)
                return NULL;
        return TAKE_PTR(buf);
}

char *unit_escape_exec_word(const char *word) {
        if (!word) {
                errno = EINVAL;
                return NULL;
        }
        return escape_quoted("", word, ESCAPE_DOLLAR);
}

char *unit_escape_exec_path(const char *path) {
        /* systemd never expands "$" in the executable, so "$$" there would stay "$$"; and it refuses an
         * executable with quotes, backslashes or control characters ("contains special characters") however
         * they are escaped. */
        if (!path || path[0] != '/' || strpbrk(path, "\"'\\\x7f")) {
                errno = EINVAL;
                return NULL;
        }
        for (const char *p = path; *p; p++)
                if ((unsigned char) *p < 0x20) {
                        errno = EINVAL;
                        return NULL;
                }
        return escape_quoted("", path, 0);
}

static bool env_name_is_valid(const char *s) {
        size_t n = strlen(s);

        return n >= 1 && n <= 255 && !strchr("0123456789", s[0]) &&
               strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == n;
}

char *unit_escape_environment(const char *key, const char *value) {
        _cleanup_free_ char *prefix = NULL;

        /* The spec refused bad names; a key with '=' or a quote here would split the assignment. */
        if (!key || !value || !env_name_is_valid(key)) {
                errno = EINVAL;
                return NULL;
        }
        if (asprintf(&prefix, "%s=", key) < 0)
                return NULL;
        return escape_quoted(prefix, value, 0);
}

char *unit_escape_value(const char *s) {
        _cleanup_free_ char *buf = NULL;
        size_t n, k = 0;

        if (!s) {
                errno = EINVAL;
                return NULL;
        }
        n = strlen(s);
        /* A newline would end the assignment and start a directive of the spec's choosing; a trailing
         * backslash would glue the next line onto this one. Free text has no quoting to hide them in. */
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f) {
                        errno = EINVAL;
                        return NULL;
                }
        if (n > 0 && s[n - 1] == '\\') {
                errno = EINVAL;
                return NULL;
        }
        buf = malloc(2 * n + 1);
        if (!buf)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                if (s[i] == '%')
                        buf[k++] = '%';
                buf[k++] = s[i];
        }
        buf[k] = 0;
        return TAKE_PTR(buf);
}

/* ---- the unit ---- */

static int fput_exec_word(FILE *f, const char *word) {
        _cleanup_free_ char *w = unit_escape_exec_word(word);

        if (!w)
                return -ENOMEM;
        fputs(w, f);
        return 0;
}

static int fput_exec_path(FILE *f, const char *path) {
        _cleanup_free_ char *w = unit_escape_exec_path(path);

        if (!w)
                return errno == EINVAL ? -EINVAL : -ENOMEM;
        fputs(w, f);
        return 0;
}

static bool ctx_path_is_valid(const char *p) {
        return p && p[0] == '/';
}

static int compare_strings(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* Keys of a JSON object, sorted, for output that does not depend on the order a spec was written in. */
static const char **sorted_keys(json_t *o, size_t *ret_n) {
        const char **keys;
        const char *key;
        json_t *v;
        size_t n = 0;

        keys = calloc(json_object_size(o) + 1, sizeof(char *));
        if (!keys)
                return NULL;
        json_object_foreach(o, key, v)
                keys[n++] = key;
        qsort(keys, n, sizeof(char *), compare_strings);
        *ret_n = n;
        return keys;
}

/* The ExecStart= words of a Docker service: ballast-run docker, with the paths and the restart policy. */
static int fput_docker_exec_start(FILE *f, const ServiceSpec *s, const UnitContext *ctx, const char *body,
                                  const char *net_body) {
        char delay[32], max_delay[32];
        const char *words[] = { ctx->run_helper, "docker", "--name", s->name, "--body", body,
                                "--net-body", net_body, "--stop-timeout", NULL, "--docker-socket", ctx->docker_socket,
                                "--control-socket", ctx->control_socket, "--delay-ms", delay,
                                "--max-delay-ms", max_delay, "--restart",
                                restart_policy_to_string(s->restart) };
        int r;

        snprintf(delay, sizeof(delay), "%" PRIu64, s->restart_delay_ms);
        snprintf(max_delay, sizeof(max_delay), "%" PRIu64, s->restart_max_delay_ms);

        for (size_t i = 0; i < ELEMENTSOF(words); i++) {
                if (i > 0)
                        fputc(' ', f);
                if (!words[i]) {
                        /* the helper's docker stop -t: the spec's stop_timeout_s */
                        fprintf(f, "%" PRIu64, s->stop_timeout_s);
                        continue;
                }
                /* paths come from the configuration: escaped; the rest is ours or a valid name */
                if (i == 0)
                        r = fput_exec_path(f, words[i]);
                else if (words[i] == body || words[i] == net_body || words[i] == ctx->docker_socket ||
                         words[i] == ctx->control_socket)
                        r = fput_exec_word(f, words[i]);
                else {
                        fputs(words[i], f);
                        r = 0;
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

static uint64_t unit_start_budget_ms(const ServiceSpec *s) {
        uint64_t ms = s->restart_max_delay_ms;

        if (s->health != HEALTH_NONE && s->runtime == SERVICE_RUNTIME_DOCKER)
                ms += s->health_start_period_ms + (uint64_t) s->health_retries * s->health_interval_ms;
        return ms;
}

/* The rest of a Docker service's ExecStart=: the pull policy, the registry credentials and the environment
 * files, which ballast-run (root) reads when it creates the container. Left out when default, so that a
 * spec without them keeps the unit it always had. The spec allowed only characters that need no quoting in
 * these paths; they are quoted all the same. */
static int fput_docker_sources(FILE *f, const ServiceSpec *s, const UnitContext *ctx) {
        const char *auth = s->registry_auth_file ?: ctx->registry_auth_file;
        int r;

        if (s->pull != IMAGE_PULL_MISSING)
                fprintf(f, " --pull %s", image_pull_to_string(s->pull));
        if (auth) {
                fputs(" --registry-auth ", f);
                r = fput_exec_word(f, auth);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; s->env_files && s->env_files[i]; i++) {
                fputs(" --env-file ", f);
                r = fput_exec_word(f, s->env_files[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* An exec service's environment files and secrets: systemd reads them as root when the service starts; a
 * secret lands in $CREDENTIALS_DIRECTORY/TARGET, readable by the service only. */
static int fput_exec_sources(FILE *f, const ServiceSpec *s) {
        for (size_t i = 0; s->env_files && s->env_files[i]; i++) {
                _cleanup_free_ char *p = unit_escape_value(s->env_files[i]);
                if (!p)
                        return errno == EINVAL ? -EINVAL : -ENOMEM;
                fprintf(f, "EnvironmentFile=%s\n", p);
        }
        for (size_t i = 0; i < s->n_secrets; i++) {
                _cleanup_free_ char *t = unit_escape_value(s->secrets[i].target),
                                    *p = unit_escape_value(s->secrets[i].source);
                if (!t || !p)
                        return errno == EINVAL ? -EINVAL : -ENOMEM;
                fprintf(f, "LoadCredential=%s:%s\n", t, p);
        }
        return 0;
}

/* [Service]'s restart, stop and resource lines. */
static void fput_service_limits(FILE *f, const ServiceSpec *s) {
        fprintf(f, "Restart=%s\n", restart_policy_to_string(s->restart));
        /* no hold-off of systemd's own: after a run that lasted the restart is immediate, and after a quick exit
         * the helper's backoff waits (delay_ms, doubling up to max_delay_ms) */
        fputs("RestartSec=0\n", f);
        /* the start job includes the longest backoff sleep of ExecStartPre= and, for a Docker service (ready once
         * its first check passes), the health check's start period and the retries after it */
        fprintf(f, "TimeoutStartSec=%" PRIu64 "s\n", (unit_start_budget_ms(s) + 999) / 1000 + START_SLACK_S);
        fprintf(f, "TimeoutStopSec=%" PRIu64 "s\n", unit_stop_timeout_s(s));
        /* SIGTERM to the main process only, so the helper can stop the container in order; then all */
        fputs("KillMode=mixed\n", f);
        fprintf(f, "SyslogIdentifier=%s\n", s->name);
        /* accounting on, so that usage can be read back from the unit's cgroup (cpuacct is its own
         * hierarchy on v1 and is only populated with CPUAccounting=) */
        fputs("CPUAccounting=yes\nMemoryAccounting=yes\nTasksAccounting=yes\n", f);
        if (s->memory > 0)
                fprintf(f, "MemoryMax=%" PRIu64 "\n", s->memory);
        if (s->cpu_millis > 0) {
                /* 1 CPU = 100%; systemd takes two decimals, millicores need one */
                if (s->cpu_millis % 10 == 0)
                        fprintf(f, "CPUQuota=%" PRIu64 "%%\n", s->cpu_millis / 10);
                else
                        fprintf(f, "CPUQuota=%" PRIu64 ".%" PRIu64 "%%\n", s->cpu_millis / 10, s->cpu_millis % 10);
        }
        /* no limit is "max", said: otherwise systemd's DefaultTasksMax= (15% of the kernel's pid_max) applies,
         * which is neither the spec nor what the drift check wants */
        if (s->pids > 0)
                fprintf(f, "TasksMax=%" PRIu64 "\n", s->pids);
        else
                fputs("TasksMax=infinity\n", f);
}

/* The [Unit] section and the first lines of [Service]. */
static int fput_unit_head(FILE *f, const ServiceSpec *s, const char *desc, bool docker) {
        int r;

        fprintf(f, "# Generated by ballastd for service %s; ballastd rewrites it, do not edit.\n", s->name);
        fputs("[Unit]\n", f);
        fprintf(f, "Description=ballast service %s\n", desc);
        if (docker) {
                fputs("Requires=docker.service\n", f);
                /* after the socket: the helper waits for ballastd's readiness through it */
                fputs("After=docker.service ballastd.socket\n", f);
        } else
                fputs("After=ballastd.socket\n", f);
        r = unit_fput_order(f, s);
        if (r < 0)
                return r;
        /* the backoff helper spaces restarts out; systemd's start limit would instead give up for good */
        fputs("StartLimitIntervalSec=0\n", f);

        fputs("\n[Service]\n", f);
        fputs("Slice=ballast.slice\n", f);
        if (docker) {
                /* the helper says READY=1 only once the container runs (and passed its first health check) */
                fputs("Type=notify\n", f);
                fputs("NotifyAccess=main\n", f);
        } else
                fputs("Type=exec\n", f);
        return 0;
}

char *unit_env_file_path(const char *state_dir, const char *name) {
        char *p;

        if (asprintf(&p, "%s/" UNIT_ENV_DIR "/%s.env", state_dir, name) < 0)
                return NULL;
        return p;
}

int unit_env_file_text(const ServiceSpec *s, char **ret) {
        _cleanup_free_ const char **keys = NULL;
        _cleanup_free_ char *buf = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t size = 0, n_keys = 0;

        keys = sorted_keys(s->env, &n_keys);
        f = open_memstream(&buf, &size);
        if (!keys || !f)
                return -ENOMEM;
        for (size_t i = 0; i < n_keys; i++) {
                const char *v = json_string_value(json_object_get(s->env, keys[i]));

                /* The spec refused bad names; a key with '=' or a quote here would split the assignment. */
                if (!env_name_is_valid(keys[i]) || !v)
                        return -EINVAL;
                /* double quotes, where systemd takes \" \\ \` \$ for the character and everything else,
                 * newlines included, as it is: the value comes back byte for byte, nothing expanded */
                fprintf(f, "%s=\"", keys[i]);
                for (const char *c = v; *c; c++) {
                        if (strchr("\"\\`$", *c))
                                fputc('\\', f);
                        fputc(*c, f);
                }
                fputs("\"\n", f);
        }
        if (fclose(TAKE_PTR(f)) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* The inputs a unit is written from: the spec validated its name (part of file names and of unquoted words),
 * the context's paths must be absolute and clean where this service needs them. */
static int unit_inputs_check(const ServiceSpec *s, const UnitContext *ctx) {
        bool docker = s->runtime == SERVICE_RUNTIME_DOCKER;

        assert(service_name_is_valid(s->name));
        if (!service_name_is_valid(s->name))
                return -EINVAL;
        if (!ctx_path_is_valid(ctx->run_helper) ||
            (json_object_size(s->env) > 0 && !ctx_path_is_valid(ctx->state_dir)) ||
            (docker && (!ctx_path_is_valid(ctx->state_dir) || !ctx_path_is_valid(ctx->docker_socket) ||
                        !ctx_path_is_valid(ctx->control_socket))))
                return -EINVAL;
        if (!docker && !s->command)
                return -EINVAL;
        return 0;
}

/* ExecStartPre= (an exec service's backoff) and ExecStart=: `ballast-run docker` with the container's bodies,
 * or the exec service's own command. */
static int fput_exec_lines(FILE *f, const ServiceSpec *s, const UnitContext *ctx, const char *body,
                           const char *net_body) {
        bool docker = s->runtime == SERVICE_RUNTIME_DOCKER;
        int r;

        /* The crash-loop backoff: `ballast-run docker` does it itself before the start (one process start less
         * on every restart); an exec service's own command cannot, so the helper runs before it. */
        if (!docker) {
                /* '+': ours, so outside the service's User= and sandbox (its state is under /run) */
                fputs("ExecStartPre=+", f);
                r = fput_exec_path(f, ctx->run_helper);
                if (r < 0)
                        return r;
                fprintf(f, " backoff --name %s --delay-ms %" PRIu64 " --max-delay-ms %" PRIu64 "\n", s->name,
                        s->restart_delay_ms, s->restart_max_delay_ms);
        }

        fputs("ExecStart=", f);
        if (docker) {
                r = fput_docker_exec_start(f, s, ctx, body, net_body);
                if (r >= 0)
                        r = fput_docker_sources(f, s, ctx);
                if (r < 0)
                        return r;
        } else
                for (size_t i = 0; s->command[i]; i++) {
                        if (i > 0)
                                fputc(' ', f);
                        r = i == 0 ? fput_exec_path(f, s->command[i]) : fput_exec_word(f, s->command[i]);
                        if (r < 0)
                                return r;
                }
        fputc('\n', f);
        return 0;
}

/* An exec service's environment file, sandbox and sources (a Docker service has these in its container). */
static int fput_exec_service(FILE *f, const ServiceSpec *s, const UnitContext *ctx) {
        int r;

        /* An exec service's environment: from a root-only file (unit_env_file_text()), read by systemd as it
         * starts the unit. Never in the unit, which every user may read (and `systemctl show` prints its
         * Environment=); Docker services get theirs through the container body. */
        if (json_object_size(s->env) > 0) {
                _cleanup_free_ char *env_file = unit_env_file_path(ctx->state_dir, s->name), *a = NULL;
                if (!env_file)
                        return -ENOMEM;
                a = unit_escape_value(env_file);
                if (!a)
                        return -errno;
                fprintf(f, "EnvironmentFile=%s\n", a);
        }
        r = unit_fput_exec_security(f, s);
        if (r >= 0)
                r = fput_exec_sources(f, s);
        return r;
}

int unit_text_for_service(const ServiceSpec *s, const UnitContext *ctx, char **ret) {
        _cleanup_free_ char *buf = NULL, *body = NULL, *net_body = NULL, *desc = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        bool docker = s->runtime == SERVICE_RUNTIME_DOCKER;
        size_t size = 0;
        int r;

        r = unit_inputs_check(s, ctx);
        if (r < 0)
                return r;

        desc = unit_escape_value(s->name);
        if (!desc)
                return -errno;
        if (docker && (asprintf(&body, "%s/containers/%s.json", ctx->state_dir, s->name) < 0 ||
                       asprintf(&net_body, "%s/containers/%s.net.json", ctx->state_dir, s->name) < 0))
                return -ENOMEM;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;

        r = fput_unit_head(f, s, desc, docker);
        if (r >= 0)
                r = fput_exec_lines(f, s, ctx, body, net_body);
        if (r >= 0 && !docker)
                r = fput_exec_service(f, s, ctx);
        if (r < 0)
                return r;

        fput_service_limits(f, s);

        fputs("\n[Install]\n", f);
        /* docker.service too: restarting Docker stops the unit (Requires=), this starts it again */
        fprintf(f, "WantedBy=multi-user.target%s\n", docker ? " docker.service" : "");

        r = fclose(TAKE_PTR(f));
        if (r != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* ---- the container ---- */

static void set(json_t *o, const char *key, json_t *v, bool *failed) {
        if (!o || !v || json_object_set_new(o, key, v) < 0) {
                json_decref(v);
                *failed = true;
        }
}

/* ExposedPorts and PortBindings: every container port, and the host ports that publish it. */
static void set_ports(json_t *exposed, json_t *bindings, const ServiceSpec *s, bool *failed) {
        for (size_t i = 0; i < s->n_ports; i++) {
                char key[32], hp[8];
                json_t *list, *b = json_object();

                snprintf(key, sizeof(key), "%u/%s", s->ports[i].container, s->ports[i].udp ? "udp" : "tcp");
                snprintf(hp, sizeof(hp), "%u", s->ports[i].host);
                set(exposed, key, json_object(), failed);
                /* several host ports may publish one container port */
                list = json_object_get(bindings, key);
                if (!list) {
                        list = json_array();
                        set(bindings, key, list, failed);
                }
                set(b, "HostIp", json_string(s->ports[i].host_ip), failed);
                set(b, "HostPort", json_string(hp), failed);
                if (*failed)
                        json_decref(b);
                else if (json_array_append_new(list, b) < 0)
                        *failed = true;
        }
}

/* HostConfig.Binds: each secret's file, read-only at /run/secrets/TARGET. Mounted as it is on the host, owner
 * and mode included (ballast-run refuses a source that is not root's or that anyone may read). */
static void set_secret_binds(json_t *host, const ServiceSpec *s, bool *failed) {
        json_t *binds;

        if (s->n_secrets == 0)
                return;
        binds = json_array();
        for (size_t i = 0; binds && i < s->n_secrets; i++) {
                _cleanup_free_ char *b = NULL;
                if (asprintf(&b, "%s:/run/secrets/%s:ro", s->secrets[i].source, s->secrets[i].target) < 0 ||
                    json_array_append_new(binds, json_string(b)) < 0)
                        *failed = true;
        }
        set(host, "Binds", binds, failed);
}

json_t *container_create_body(const ServiceSpec *s, const char *cgroup_parent) {
        _cleanup_json_ json_t *body = json_object(), *env = json_array(), *labels = NULL, *exposed = json_object(),
                              *bindings = json_object(), *host = json_object(), *log = NULL;
        _cleanup_free_ const char **keys = NULL;
        _cleanup_free_ char *unit = NULL, *dump = NULL;
        bool failed = false;
        char hash[17];
        size_t n_keys = 0;

        assert(service_name_is_valid(s->name));
        if (!body || !env || !exposed || !bindings || !host || s->runtime != SERVICE_RUNTIME_DOCKER || !s->image)
                return NULL;
        unit = unit_name_for_service(s->name);
        labels = json_deep_copy(s->labels);
        if (!unit || !labels)
                return NULL;

        set(body, "Image", json_string(s->image), &failed);
        if (s->command) {
                json_t *cmd = json_array();
                for (size_t i = 0; cmd && s->command[i]; i++)
                        if (json_array_append_new(cmd, json_string(s->command[i])) < 0)
                                failed = true;
                set(body, "Cmd", cmd, &failed);
        }

        keys = sorted_keys(s->env, &n_keys);
        if (!keys)
                return NULL;
        for (size_t i = 0; i < n_keys; i++) {
                _cleanup_free_ char *a = NULL;
                if (asprintf(&a, "%s=%s", keys[i], json_string_value(json_object_get(s->env, keys[i]))) < 0 ||
                    json_array_append_new(env, json_string(a)) < 0)
                        failed = true;
        }
        set(body, "Env", json_incref(env), &failed);

        set(labels, LABEL_SERVICE, json_string(s->name), &failed);
        set(labels, LABEL_UNIT, json_string(unit), &failed);
        set(body, "Labels", json_incref(labels), &failed);

        set_ports(exposed, bindings, s, &failed);
        set(body, "ExposedPorts", json_incref(exposed), &failed);

        /* systemd restarts the unit; Docker restarting the container behind its back would race it */
        set(host, "RestartPolicy", json_pack("{s:s}", "Name", "no"), &failed);
        set(host, "PortBindings", json_incref(bindings), &failed);
        if (s->memory > 0)
                set(host, "Memory", json_integer((json_int_t) s->memory), &failed);
        if (s->cpu_millis > 0)
                set(host, "NanoCpus", json_integer((json_int_t) (s->cpu_millis * 1000000ULL)), &failed);
        /* -1: no limit, said (under the systemd cgroup driver the scope gets TasksMax=infinity rather than
         * systemd's DefaultTasksMax=) */
        set(host, "PidsLimit", json_integer(s->pids > 0 ? (json_int_t) s->pids : -1), &failed);
        container_body_add_security(body, host, s, &failed);
        set_secret_binds(host, s, &failed);
        /* The output reaches the journal through ballast-run, under the unit (run-output.c). Docker keeps its
         * own bounded copy for `docker logs` in its "local" driver (3 × 10 MB files per container): the
         * journald driver would store every line twice in the journal, under docker.service. */
        log = json_pack("{s:s, s:{s:s, s:s}}", "Type", "local", "Config", "max-size", "10m", "max-file", "3");
        set(host, "LogConfig", json_incref(log), &failed);
        set(host, "Init", json_false(), &failed);
        if (cgroup_parent)
                set(host, "CgroupParent", json_string(cgroup_parent), &failed);
        set(body, "HostConfig", json_incref(host), &failed);
        if (failed)
                return NULL;

        /* io.ballast.hash fingerprints everything above, so a container whose label matches was created from
         * exactly this body; keys sorted so that it does not depend on insertion order. */
        dump = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
        if (!dump)
                return NULL;
        snprintf(hash, sizeof(hash), "%016" PRIx64, fnv1a64(dump));
        set(labels, LABEL_HASH, json_string(hash), &failed);
        if (failed)
                return NULL;
        return TAKE_PTR(body);
}

/* ---- the network holder ---- */

json_t *container_holder_body(const ServiceSpec *s, const char *cgroup_parent) {
        _cleanup_json_ json_t *service = container_create_body(s, cgroup_parent), *h = NULL;
        _cleanup_free_ char *dump = NULL;
        json_t *hc, *hhc, *labels;
        bool failed = false;
        char hash[17];

        if (!service)
                return NULL;
        hc = json_object_get(service, "HostConfig");
        h = json_pack("{s:s, s:[s], s:{s:s, s:O}, s:O, s:{s:{s:s}, s:O, s:{s:s}, s:b}}", "Image", PAUSE_IMAGE,
                      "Entrypoint", "/pause", "Labels", LABEL_NETNS, s->name, LABEL_UNIT,
                      json_object_get(json_object_get(service, "Labels"), LABEL_UNIT), "ExposedPorts",
                      json_object_get(service, "ExposedPorts"), "HostConfig", "RestartPolicy", "Name", "no",
                      "PortBindings", json_object_get(hc, "PortBindings"), "LogConfig", "Type", "none", "Init", 0);
        if (!h)
                return NULL;
        hhc = json_object_get(h, "HostConfig");
        if (cgroup_parent)
                set(hhc, "CgroupParent", json_string(cgroup_parent), &failed);
        if (failed)
                return NULL;
        /* the holder's own fingerprint: its ports, its cgroup parent and the pause image's version, so that a
         * change of anything else in the service leaves the holder (and the ports) alone */
        dump = json_dumps(h, JSON_COMPACT | JSON_SORT_KEYS);
        if (!dump)
                return NULL;
        snprintf(hash, sizeof(hash), "%016" PRIx64, fnv1a64(dump));
        labels = json_object_get(h, "Labels");
        set(labels, LABEL_HASH, json_string(hash), &failed);
        if (failed)
                return NULL;
        return TAKE_PTR(h);
}
