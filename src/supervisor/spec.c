/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "shared/json-util.h"
#include "shared/parse-util.h"
#include "supervisor/spec-internal.h"
#include "supervisor/spec.h"
#include "supervisor/spec-sources.h"

#define DEFAULT_RESTART_DELAY_MS 100U
#define DEFAULT_RESTART_MAX_DELAY_MS 30000U
#define RESTART_DELAY_MAX_MS 3600000U
#define DEFAULT_HEALTH_INTERVAL_MS 5000U
#define DEFAULT_HEALTH_TIMEOUT_MS 2000U
#define DEFAULT_HEALTH_RETRIES 3U
#define IMAGE_MAX 255U
#define ENV_NAME_MAX 255U
#define LABEL_KEY_MAX 128U
#define LABEL_VALUE_MAX 1024U
#define CPU_MAX 1024.0
#define PIDS_MAX 4194304U              /* the kernel's PID_MAX_LIMIT */
#define MEMORY_MAX (1ULL << 50)        /* 1024T: anything above is a typo, and fits int64 for Docker */
#define MEMORY_MIN_DOCKER (6ULL << 20) /* dockerd refuses smaller limits */
#define MEMORY_MIN_EXEC (1ULL << 20)
#define RESERVED_LABEL_PREFIX "io.ballast."

#define LOWER "abcdefghijklmnopqrstuvwxyz"
#define UPPER "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define DIGITS "0123456789"

/* ---- helpers for error messages ---- */

#define QUOTE_CUT 48

/* A string as it may appear in an error message: JSON-quoted (so control characters and quotes cannot
 * forge anything in a log line or a terminal) and cut short. The input is valid UTF-8 (jansson made sure),
 * and the cut never splits a character. */
const char *spec_quote(char *buf, size_t len, const char *s) {
        _cleanup_json_ json_t *j = NULL;
        _cleanup_free_ char *d = NULL;
        size_t n = strlen(s);
        bool cut = false;

        if (n > QUOTE_CUT) {
                n = QUOTE_CUT;
                while (n > 0 && ((unsigned char) s[n] & 0xC0) == 0x80)
                        n--;
                cut = true;
        }
        j = json_stringn(s, n);
        d = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
        snprintf(buf, len, "%s%s", d ? d : "\"?\"", cut ? "..." : "");
        return buf;
}

bool has_control_char(const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if ((*p < 0x20 && *p != '\t' && *p != '\n') || *p == 0x7f)
                        return true;
        return false;
}

/* The checks every free-form string of a spec gets: bounded, and no control characters but tab and
 * newline (which every consumer can escape). */
int check_text(const char *path, const char *s, size_t max, JsonError *e) {
        if (strlen(s) > max)
                return json_error_set(e, path, "is longer than %zu bytes", max);
        if (has_control_char(s))
                return json_error_set(e, path, "contains a control character");
        return 0;
}

int dispatch_ranged(const char *path, json_t *v, uint64_t *target, uint64_t min, uint64_t max,
                           JsonError *e) {
        json_int_t i;

        if (!json_is_integer(v))
                return json_error_set(e, path, "expected an integer, got %s", json_type_name(v));
        i = json_integer_value(v);
        if (i < 0 || (uint64_t) i < min || (uint64_t) i > max)
                return json_error_set(e, path, "%lld is out of range %llu..%llu", (long long) i,
                                      (unsigned long long) min, (unsigned long long) max);
        *target = (uint64_t) i;
        return 0;
}

int dispatch_port_number(const char *path, json_t *v, void *target, JsonError *e) {
        uint64_t u = 0;
        int r = dispatch_ranged(path, v, &u, 1, 65535, e);
        if (r < 0)
                return r;
        *(uint16_t *) target = (uint16_t) u;
        return 0;
}

/* ---- names and enums ---- */

static const char *const runtime_table[] = {
        [SERVICE_RUNTIME_DOCKER] = "docker",
        [SERVICE_RUNTIME_EXEC] = "exec",
};

static const char *const restart_table[] = {
        [RESTART_ALWAYS] = "always",
        [RESTART_ON_FAILURE] = "on-failure",
        [RESTART_NO] = "no",
};

const char *service_runtime_to_string(ServiceRuntime r) {
        return (size_t) r < ELEMENTSOF(runtime_table) ? runtime_table[r] : NULL;
}

const char *restart_policy_to_string(RestartPolicy p) {
        return (size_t) p < ELEMENTSOF(restart_table) ? restart_table[p] : NULL;
}

static int lookup(const char *const table[], size_t n, const char *s) {
        for (size_t i = 0; i < n; i++)
                if (streq(table[i], s))
                        return (int) i;
        return -EINVAL;
}

/* ---- dispatchers ---- */

static int dispatch_name(const char *path, json_t *v, void *target, JsonError *e) {
        if (!json_is_string(v))
                return json_error_set(e, path, "expected a string, got %s", json_type_name(v));
        if (!service_name_is_valid(json_string_value(v)))
                return json_error_set(e, path,
                                      "%s is not a valid service name (1 to 63 of a-z, 0-9 and '-', starting with a "
                                      "letter or digit)",
                                      Q(json_string_value(v)));
        return json_dispatch_string(path, v, target, e);
}

static int dispatch_runtime(const char *path, json_t *v, void *target, JsonError *e) {
        int r;

        if (!json_is_string(v))
                return json_error_set(e, path, "expected a string, got %s", json_type_name(v));
        r = lookup(runtime_table, ELEMENTSOF(runtime_table), json_string_value(v));
        if (r < 0)
                return json_error_set(e, path, "%s is not a runtime (expected \"docker\" or \"exec\")",
                                      Q(json_string_value(v)));
        *(ServiceRuntime *) target = (ServiceRuntime) r;
        return 0;
}

/* A Docker reference ([registry[:port]/]repo[:tag][@digest]) is checked here only for the characters and
 * shape that could hurt us; dockerd parses it properly and says what is wrong with it. */
static bool image_is_valid(const char *s) {
        size_t n = strlen(s);

        return n >= 1 && n <= IMAGE_MAX && strchr(LOWER UPPER DIGITS, s[0]) &&
               strspn(s, LOWER UPPER DIGITS "._/:@-") == n && !strstr(s, "..");
}

static int dispatch_image(const char *path, json_t *v, void *target, JsonError *e) {
        if (!json_is_string(v))
                return json_error_set(e, path, "expected a string, got %s", json_type_name(v));
        if (!image_is_valid(json_string_value(v)))
                return json_error_set(e, path,
                                      "%s is not a Docker image reference (1 to 255 of A-Z, a-z, 0-9, '.', '_', '/', "
                                      "':', '@', '-', starting with a letter or digit, no \"..\")",
                                      Q(json_string_value(v)));
        return json_dispatch_string(path, v, target, e);
}

/* A non-empty array of bounded strings without control characters: a command line. */
int dispatch_argv(const char *path, json_t *v, void *target, JsonError *e) {
        char sub[256];
        size_t i;
        json_t *item;
        int r;

        if (!json_is_array(v) || json_array_size(v) == 0)
                return json_error_set(e, path, "expected a non-empty array of strings");
        json_array_foreach(v, i, item) {
                json_path_index(sub, sizeof(sub), path, i);
                if (!json_is_string(item))
                        return json_error_set(e, sub, "expected a string, got %s", json_type_name(item));
                r = check_text(sub, json_string_value(item), SERVICE_STRING_MAX, e);
                if (r < 0)
                        return r;
        }
        if (isempty(json_string_value(json_array_get(v, 0))))
                return json_error_set(e, json_path_index(sub, sizeof(sub), path, 0), "is empty");
        return json_dispatch_strv(path, v, target, e);
}

static bool env_name_is_valid(const char *s) {
        size_t n = strlen(s);

        return n >= 1 && n <= ENV_NAME_MAX && strchr(LOWER UPPER "_", s[0]) &&
               strspn(s, LOWER UPPER DIGITS "_") == n;
}

static bool label_key_is_valid(const char *s) {
        size_t n = strlen(s);

        return n >= 1 && n <= LABEL_KEY_MAX && strspn(s, LOWER UPPER DIGITS "._/-") == n;
}

static int dispatch_env(const char *path, json_t *v, void *target, JsonError *e) {
        json_t **ret = target;
        const char *key;
        char sub[256];
        json_t *item, *copy;

        if (!json_is_object(v))
                return json_error_set(e, path, "expected an object of strings, got %s", json_type_name(v));
        json_object_foreach(v, key, item) {
                int r;

                /* the path names the object, not the key: a bad key must not shape the message */
                if (!env_name_is_valid(key))
                        return json_error_set(e, path,
                                              "%s is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*, at most 255)",
                                              Q(key));
                json_path_key(sub, sizeof(sub), path, key);
                if (!json_is_string(item))
                        return json_error_set(e, sub, "expected a string, got %s", json_type_name(item));
                r = check_text(sub, json_string_value(item), SERVICE_STRING_MAX, e);
                if (r < 0)
                        return r;
        }
        copy = json_deep_copy(v);
        if (!copy)
                return -ENOMEM;
        json_decref(*ret);
        *ret = copy;
        return 0;
}

static int dispatch_labels(const char *path, json_t *v, void *target, JsonError *e) {
        json_t **ret = target;
        const char *key;
        json_t *item, *copy;

        if (!json_is_object(v))
                return json_error_set(e, path, "expected an object of strings, got %s", json_type_name(v));
        json_object_foreach(v, key, item) {
                /* label keys contain dots, which a path cannot tell from nesting: name the key in the message */
                if (!label_key_is_valid(key))
                        return json_error_set(e, path,
                                              "%s is not a valid label key (1 to 128 of A-Z, a-z, 0-9, '.', '_', '/', "
                                              "'-')",
                                              Q(key));
                if (strneq(key, RESERVED_LABEL_PREFIX, strlen(RESERVED_LABEL_PREFIX)))
                        return json_error_set(e, path, "%s: keys starting with \"" RESERVED_LABEL_PREFIX
                                              "\" are reserved for ballast", Q(key));
                if (!json_is_string(item))
                        return json_error_set(e, path, "%s: expected a string, got %s", Q(key), json_type_name(item));
                if (strlen(json_string_value(item)) > LABEL_VALUE_MAX)
                        return json_error_set(e, path, "%s: value is longer than %u bytes", Q(key), LABEL_VALUE_MAX);
                if (has_control_char(json_string_value(item)))
                        return json_error_set(e, path, "%s: value contains a control character", Q(key));
        }
        copy = json_deep_copy(v);
        if (!copy)
                return -ENOMEM;
        json_decref(*ret);
        *ret = copy;
        return 0;
}

static int dispatch_protocol(const char *path, json_t *v, void *target, JsonError *e) {
        const char *s = json_string_value(v);

        if (!json_is_string(v))
                return json_error_set(e, path, "expected a string, got %s", json_type_name(v));
        if (!streq(s, "tcp") && !streq(s, "udp"))
                return json_error_set(e, path, "%s is not a protocol (expected \"tcp\" or \"udp\")", Q(s));
        *(bool *) target = streq(s, "udp");
        return 0;
}

static int dispatch_ports(const char *path, json_t *v, void *target, JsonError *e) {
        static const JsonField table[] = {
                { "host", dispatch_port_number, offsetof(ServicePort, host), JSON_MANDATORY },
                /* mandatory for docker, checked once the runtime is known (keys come in any order) */
                { "container", dispatch_port_number, offsetof(ServicePort, container), 0 },
                { "protocol", dispatch_protocol, offsetof(ServicePort, udp), 0 },
                { "host_ip", dispatch_host_ip, offsetof(ServicePort, host_ip), 0 },
                {}
        };
        ServiceSpec *s = target;
        _cleanup_free_ ServicePort *ports = NULL;
        char sub[256];
        size_t i;
        json_t *item;

        if (!json_is_array(v))
                return json_error_set(e, path, "expected an array of ports, got %s", json_type_name(v));
        ports = calloc(json_array_size(v) + 1, sizeof(ServicePort));
        if (!ports)
                return -ENOMEM;
        json_array_foreach(v, i, item) {
                int r = json_dispatch(json_path_index(sub, sizeof(sub), path, i), item, table, &ports[i], e);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < i; j++)
                        if (ports[j].host == ports[i].host && ports[j].udp == ports[i].udp &&
                            (isempty(ports[j].host_ip) || isempty(ports[i].host_ip) ||
                             streq(ports[j].host_ip, ports[i].host_ip)))
                                return json_error_set(e, sub, "host port %u/%s is already listed in %s[%zu]",
                                                      ports[i].host, ports[i].udp ? "udp" : "tcp", path, j);
        }
        free(s->ports);
        s->ports = TAKE_PTR(ports);
        s->n_ports = json_array_size(v);
        return 0;
}

static int dispatch_cpu(const char *path, json_t *v, void *target, JsonError *e) {
        double cpu;
        long long m;

        if (!json_is_number(v))
                return json_error_set(e, path, "expected a number of CPUs such as 0.5, got %s", json_type_name(v));
        cpu = json_number_value(v);
        if (!(cpu > 0)) /* also NaN, which jansson never gives but a caller building JSON might */
                return json_error_set(e, path, "%g is not a positive number of CPUs", cpu);
        if (cpu > CPU_MAX)
                return json_error_set(e, path, "%g is more than %g CPUs", cpu, CPU_MAX);
        m = llround(cpu * 1000.0);
        if (m < 1)
                return json_error_set(e, path, "%g is less than 0.001 CPUs", cpu);
        *(uint64_t *) target = (uint64_t) m;
        return 0;
}

/* Sizes are given with a unit, always: a bare 256 is far more often a forgotten "M" than 256 bytes. */
int dispatch_memory(const char *path, json_t *v, void *target, JsonError *e) {
        const char *s, *unit;
        uint64_t u = 0;
        int r;

        if (json_is_integer(v))
                return json_error_set(e, path, "%lld has no unit (e.g. \"256M\")", (long long) json_integer_value(v));
        if (!json_is_string(v))
                return json_error_set(e, path, "expected a size such as \"256M\", got %s", json_type_name(v));
        s = json_string_value(v);
        unit = s + strspn(s, DIGITS);
        if (unit > s && *unit == 0)
                return json_error_set(e, path, "%s has no unit (e.g. \"256M\")", Q(s));
        r = streq(unit, "B") ? -EINVAL : parse_size(s, &u);
        if (r == -ERANGE || (r >= 0 && u > MEMORY_MAX))
                return json_error_set(e, path, "%s is too large (at most 1024T)", Q(s));
        if (r < 0)
                return json_error_set(e, path, "%s is not a size (a number and K, M, G or T, e.g. \"256M\")", Q(s));
        if (u == 0)
                return json_error_set(e, path, "%s is not a positive size", Q(s));
        *(uint64_t *) target = u;
        return 0;
}

static int dispatch_pids(const char *path, json_t *v, void *target, JsonError *e) {
        return dispatch_ranged(path, v, target, 1, PIDS_MAX, e);
}

static int dispatch_restart_policy(const char *path, json_t *v, void *target, JsonError *e) {
        int r;

        if (!json_is_string(v))
                return json_error_set(e, path, "expected a string, got %s", json_type_name(v));
        r = lookup(restart_table, ELEMENTSOF(restart_table), json_string_value(v));
        if (r < 0)
                return json_error_set(e, path,
                                      "%s is not a restart policy (expected \"always\", \"on-failure\" or \"no\")",
                                      Q(json_string_value(v)));
        *(RestartPolicy *) target = (RestartPolicy) r;
        return 0;
}

static int dispatch_delay_ms(const char *path, json_t *v, void *target, JsonError *e) {
        return dispatch_ranged(path, v, target, 0, RESTART_DELAY_MAX_MS, e);
}

static int dispatch_restart(const char *path, json_t *v, void *target, JsonError *e) {
        static const JsonField table[] = {
                { "policy", dispatch_restart_policy, offsetof(ServiceSpec, restart), 0 },
                { "delay_ms", dispatch_delay_ms, offsetof(ServiceSpec, restart_delay_ms), 0 },
                { "max_delay_ms", dispatch_delay_ms, offsetof(ServiceSpec, restart_max_delay_ms), 0 },
                {}
        };
        ServiceSpec *s = target;
        char sub[256];
        int r;

        r = json_dispatch(path, v, table, s, e);
        if (r < 0)
                return r;
        /* A delay above the default ceiling, without a ceiling of its own, raises the ceiling: a spec that
         * says only "delay_ms": 60000 means it, and should not fail over a default it never mentioned. */
        if (!json_object_get(v, "max_delay_ms"))
                s->restart_max_delay_ms = MAX(s->restart_max_delay_ms, s->restart_delay_ms);
        else if (s->restart_max_delay_ms < s->restart_delay_ms)
                return json_error_set(e, json_path_key(sub, sizeof(sub), path, "max_delay_ms"),
                                      "%llu is less than delay_ms (%llu)",
                                      (unsigned long long) s->restart_max_delay_ms,
                                      (unsigned long long) s->restart_delay_ms);
        return 0;
}

static int dispatch_resources(const char *path, json_t *v, void *target, JsonError *e) {
        static const JsonField table[] = {
                { "cpu", dispatch_cpu, offsetof(ServiceSpec, cpu_millis), 0 },
                { "memory", dispatch_memory, offsetof(ServiceSpec, memory), 0 },
                { "pids", dispatch_pids, offsetof(ServiceSpec, pids), 0 },
                {}
        };
        return json_dispatch(path, v, table, target, e);
}

static const JsonField spec_table[] = {
        { "name", dispatch_name, offsetof(ServiceSpec, name), JSON_MANDATORY },
        { "runtime", dispatch_runtime, offsetof(ServiceSpec, runtime), 0 },
        { "image", dispatch_image, offsetof(ServiceSpec, image), 0 },
        { "command", dispatch_argv, offsetof(ServiceSpec, command), 0 },
        { "env", dispatch_env, offsetof(ServiceSpec, env), 0 },
        { "ports", dispatch_ports, 0, 0 },
        { "resources", dispatch_resources, 0, 0 },
        { "restart", dispatch_restart, 0, 0 },
        { "health", dispatch_health, 0, 0 },
        { "labels", dispatch_labels, offsetof(ServiceSpec, labels), 0 },
        /* storage, identity and security: spec-security.c */
        { "mounts", dispatch_mounts, 0, 0 },
        { "user", dispatch_user, offsetof(ServiceSpec, user), 0 },
        { "working_dir", dispatch_container_path, offsetof(ServiceSpec, working_dir), 0 },
        { "entrypoint", dispatch_argv, offsetof(ServiceSpec, entrypoint), 0 },
        { "cap_add", dispatch_caps, offsetof(ServiceSpec, cap_add), 0 },
        { "cap_drop", dispatch_caps, offsetof(ServiceSpec, cap_drop), 0 },
        { "read_only", json_dispatch_bool, offsetof(ServiceSpec, read_only), 0 },
        { "no_new_privileges", dispatch_tristate, offsetof(ServiceSpec, no_new_privileges), 0 },
        { "devices", dispatch_devices, 0, 0 },
        { "ulimits", dispatch_ulimits, 0, 0 },
        { "stop_signal", dispatch_stop_signal, offsetof(ServiceSpec, stop_signal), 0 },
        { "stop_timeout_s", dispatch_stop_timeout, offsetof(ServiceSpec, stop_timeout_s), 0 },
        { "sandbox", dispatch_tristate, offsetof(ServiceSpec, sandbox), 0 },
        /* order: spec-order.c */
        { "after", dispatch_service_names, offsetof(ServiceSpec, after), 0 },
        { "requires", dispatch_service_names, offsetof(ServiceSpec, requires), 0 },
        /* spec-sources.c */
        { "pull", spec_dispatch_pull, offsetof(ServiceSpec, pull), 0 },
        { "registry_auth_file", spec_dispatch_host_file, offsetof(ServiceSpec, registry_auth_file), 0 },
        { "env_files", spec_dispatch_env_files, offsetof(ServiceSpec, env_files), 0 },
        { "secrets", spec_dispatch_secrets, 0, 0 },
        {}
};

/* Memory is always a whole number of KiB (every accepted unit is), so the largest exact unit gives a string
 * that parses back to the same bytes. */
const char *format_memory(char *buf, size_t len, uint64_t bytes) {
        static const char units[] = "TGMK";

        for (size_t i = 0; i < 4; i++) {
                unsigned shift = (unsigned) (40 - 10 * i);
                if (bytes % (1ULL << shift) == 0) {
                        snprintf(buf, len, "%llu%c", (unsigned long long) (bytes >> shift), units[i]);
                        return buf;
                }
        }
        /* not reachable from a parsed spec (bytes would not parse back, so do not pretend) */
        snprintf(buf, len, "%lluB", (unsigned long long) bytes);
        return buf;
}

/* ---- checks that need the runtime, which may come after the keys it governs ---- */

/* The program of an exec service becomes the first word of ExecStart=: systemd wants an absolute,
 * normalized path without quotes or backslashes there (systemd 252: "Executable name contains special
 * characters"), and would read a leading '@', '-', ':', '+', '!' as a prefix that changes how it runs the
 * command. */
static int check_exec_path(const char *path, const char *p, JsonError *e) {
        size_t n = strlen(p);

        if (strchr("@-:+!|", p[0]))
                return json_error_set(e, path, "%s starts with '%c', which systemd would take as an ExecStart= prefix",
                                      Q(p), p[0]);
        if (p[0] != '/')
                return json_error_set(e, path, "%s is not an absolute path", Q(p));
        /* tab and newline pass check_text(), but not here: a path cannot hold them */
        if (strpbrk(p, "\t\n"))
                return json_error_set(e, path, "contains a control character");
        if (strpbrk(p, "\"'\\"))
                return json_error_set(e, path, "%s contains a quote or a backslash, which systemd refuses in an "
                                      "executable path", Q(p));
        if (strstr(p, "/../") || (n >= 3 && streq(p + n - 3, "/..")))
                return json_error_set(e, path, "%s contains \"/../\"", Q(p));
        if (p[n - 1] == '/')
                return json_error_set(e, path, "%s names a directory", Q(p));
        if (n >= PATH_MAX)
                return json_error_set(e, path, "is longer than %d bytes", PATH_MAX - 1);
        for (const char *c = p; *c;) {
                size_t k;

                c += strspn(c, "/");
                k = strcspn(c, "/");
                if (k > NAME_MAX)
                        return json_error_set(e, path, "has a path component longer than %d bytes", NAME_MAX);
                c += k;
        }
        return 0;
}

static int check_runtime(ServiceSpec *s, JsonError *e) {
        char sub[256];
        int r;

        if (s->runtime == SERVICE_RUNTIME_DOCKER) {
                if (!s->image)
                        return json_error_set(e, "image", "is required for runtime docker");
                for (size_t i = 0; i < s->n_ports; i++)
                        if (s->ports[i].container == 0)
                                return json_error_set(e, json_path_index(sub, sizeof(sub), "ports", i),
                                                      "container is required for runtime docker");
                if (s->memory > 0 && s->memory < MEMORY_MIN_DOCKER)
                        return json_error_set(e, "resources.memory", "%s is less than Docker's minimum of 6M",
                                              format_memory((char[32]){}, 32, s->memory));
                return 0;
        }

        if (s->image)
                return json_error_set(e, "image", "only for runtime docker");
        if (!s->command)
                return json_error_set(e, "command", "is required for runtime exec");
        r = check_exec_path("command[0]", s->command[0], e);
        if (r < 0)
                return r;
        if (s->health == HEALTH_CMD) {
                r = check_exec_path("health.cmd[0]", s->health_cmd[0], e);
                if (r < 0)
                        return r;
        }
        /* An exec service listens on the host port itself: a container port can only repeat it. */
        for (size_t i = 0; i < s->n_ports; i++) {
                if (s->ports[i].container != 0 && s->ports[i].container != s->ports[i].host)
                        return json_error_set(e, json_path_index(sub, sizeof(sub), "ports", i),
                                              "container must be left out or equal host for runtime exec");
                s->ports[i].container = 0;
        }
        if (s->memory > 0 && s->memory < MEMORY_MIN_EXEC)
                return json_error_set(e, "resources.memory", "%s is less than 1M",
                                      format_memory((char[32]){}, 32, s->memory));
        return 0;
}

ServiceSpec *service_spec_free(ServiceSpec *s) {
        if (!s)
                return NULL;
        free(s->name);
        free(s->image);
        strv_free(s->command);
        json_decref(s->env);
        free(s->ports);
        free(s->health_http);
        strv_free(s->health_cmd);
        json_decref(s->labels);
        spec_security_free(s);
        strv_free(s->after);
        strv_free(s->requires);
        spec_sources_free(s);
        free(s);
        return NULL;
}

static int service_spec_new(ServiceSpec **ret) {
        _cleanup_(service_spec_freep) ServiceSpec *s = calloc(1, sizeof(ServiceSpec));

        if (!s)
                return -ENOMEM;
        s->runtime = SERVICE_RUNTIME_DOCKER;
        s->env = json_object();
        s->labels = json_object();
        s->restart = RESTART_ALWAYS;
        s->restart_delay_ms = DEFAULT_RESTART_DELAY_MS;
        s->restart_max_delay_ms = DEFAULT_RESTART_MAX_DELAY_MS;
        s->health = HEALTH_NONE;
        s->health_interval_ms = DEFAULT_HEALTH_INTERVAL_MS;
        s->health_timeout_ms = DEFAULT_HEALTH_TIMEOUT_MS;
        s->health_retries = DEFAULT_HEALTH_RETRIES;
        s->health_start_period_ms = MAX(DEFAULT_HEALTH_RETRIES * DEFAULT_HEALTH_INTERVAL_MS + DEFAULT_HEALTH_TIMEOUT_MS,
                                        DEFAULT_HEALTH_START_PERIOD_MIN_MS);
        s->health_start_interval_ms = DEFAULT_HEALTH_START_INTERVAL_MS;
        spec_security_init(s);
        if (!s->env || !s->labels)
                return -ENOMEM;
        *ret = TAKE_PTR(s);
        return 0;
}

int service_spec_from_json(json_t *v, ServiceSpec **ret, JsonError *e) {
        _cleanup_(service_spec_freep) ServiceSpec *s = NULL;
        int r;

        r = service_spec_new(&s);
        if (r < 0)
                return r;
        r = json_dispatch("", v, spec_table, s, e);
        if (r < 0)
                return r;
        r = check_runtime(s, e);
        if (r < 0)
                return r;
        r = spec_security_check_runtime(s, e);
        if (r < 0)
                return r;
        r = spec_order_check(s, e);
        if (r < 0)
                return r;
        r = spec_sources_check(s, e);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

/* ---- normalized JSON ---- */

json_t *strv_to_json(char *const *l) {
        _cleanup_json_ json_t *a = json_array();

        if (!a)
                return NULL;
        for (size_t i = 0; l && l[i]; i++)
                if (json_array_append_new(a, json_string(l[i])) < 0)
                        return NULL;
        return TAKE_PTR(a);
}

/* json_object_set_new() that remembers a failure, so that building a document needs one check at the end. */
static void set(json_t *o, const char *key, json_t *v, bool *failed) {
        if (!o || !v || json_object_set_new(o, key, v) < 0) {
                json_decref(v);
                *failed = true;
        }
}

void spec_set(json_t *o, const char *key, json_t *v, bool *failed) {
        set(o, key, v, failed);
}

json_t *service_spec_to_json(const ServiceSpec *s) {
        _cleanup_json_ json_t *o = json_object(), *ports = json_array(), *res = json_object(),
                              *restart = json_object(), *health = NULL;
        bool failed = false;

        if (!o || !ports || !res || !restart)
                return NULL;

        set(o, "name", json_string(s->name), &failed);
        set(o, "runtime", json_string(service_runtime_to_string(s->runtime)), &failed);
        if (s->image)
                set(o, "image", json_string(s->image), &failed);
        if (s->command)
                set(o, "command", strv_to_json(s->command), &failed);
        set(o, "env", json_deep_copy(s->env), &failed);

        for (size_t i = 0; i < s->n_ports; i++) {
                json_t *p = json_object();

                set(p, "host", json_integer(s->ports[i].host), &failed);
                if (s->ports[i].container > 0)
                        set(p, "container", json_integer(s->ports[i].container), &failed);
                set(p, "protocol", json_string(s->ports[i].udp ? "udp" : "tcp"), &failed);
                if (!isempty(s->ports[i].host_ip))
                        set(p, "host_ip", json_string(s->ports[i].host_ip), &failed);
                if (!p || json_array_append_new(ports, p) < 0)
                        failed = true;
        }
        set(o, "ports", json_incref(ports), &failed);

        if (s->cpu_millis > 0)
                set(res, "cpu", json_real((double) s->cpu_millis / 1000.0), &failed);
        if (s->memory > 0)
                set(res, "memory", json_string(format_memory((char[32]){}, 32, s->memory)), &failed);
        if (s->pids > 0)
                set(res, "pids", json_integer((json_int_t) s->pids), &failed);
        set(o, "resources", json_incref(res), &failed);

        set(restart, "policy", json_string(restart_policy_to_string(s->restart)), &failed);
        set(restart, "delay_ms", json_integer((json_int_t) s->restart_delay_ms), &failed);
        set(restart, "max_delay_ms", json_integer((json_int_t) s->restart_max_delay_ms), &failed);
        set(o, "restart", json_incref(restart), &failed);

        if (s->health != HEALTH_NONE) {
                health = json_object();
                if (s->health == HEALTH_HTTP)
                        set(health, "http", json_string(s->health_http), &failed);
                else if (s->health == HEALTH_TCP)
                        set(health, "tcp", json_integer(s->health_tcp), &failed);
                else
                        set(health, "cmd", strv_to_json(s->health_cmd), &failed);
                set(health, "interval_ms", json_integer((json_int_t) s->health_interval_ms), &failed);
                set(health, "timeout_ms", json_integer((json_int_t) s->health_timeout_ms), &failed);
                set(health, "retries", json_integer((json_int_t) s->health_retries), &failed);
                set(health, "start_period_ms", json_integer((json_int_t) s->health_start_period_ms), &failed);
                set(health, "start_interval_ms", json_integer((json_int_t) s->health_start_interval_ms), &failed);
                set(o, "health", json_incref(health), &failed);
        }
        set(o, "labels", json_deep_copy(s->labels), &failed);
        spec_security_to_json(s, o, &failed);
        spec_order_to_json(s, o, &failed);
        if (!failed && !spec_sources_to_json(s, o))
                failed = true;

        if (failed)
                return NULL;
        return TAKE_PTR(o);
}

bool service_spec_equal(const ServiceSpec *a, const ServiceSpec *b) {
        _cleanup_json_ json_t *ja = NULL, *jb = NULL;

        if (!a || !b)
                return a == b;
        ja = service_spec_to_json(a);
        jb = service_spec_to_json(b);
        return ja && jb && json_equal(ja, jb);
}
