/* SPDX-License-Identifier: MIT */
/* What the container is given besides its body, read here as root when it is created: the environment files
 * (--env-file, KEY=VALUE lines) and the secrets' files (checked before Docker bind-mounts them). Every file
 * must be root's: a file anyone may write would let them change the service; a secret anyone may read would
 * not be one. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run/run.h"
#include "shared/hash-util.h"
#include "shared/json-util.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/root-file.h"

#define SECRETS_DIR "/run/secrets/"

char **arg_env_files;
RunPull arg_pull = RUN_PULL_MISSING;

static bool env_name_ok(const char *s, size_t n) {
        if (n == 0 || n > 255 || strchr("0123456789", s[0]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", s[i]))
                        return false;
        return true;
}

/* KEY=VALUE lines; blank lines and lines starting with '#' are skipped; a value wholly inside one pair of
 * single or double quotes loses them (nothing else is unescaped). Appends "KEY=VALUE" to env. */
int env_file_parse(const char *path, char *text, json_t *env) {
        unsigned line = 0;

        for (char *l = text, *next; l && *l; l = next) {
                char *eq, *value;
                size_t n;

                line++;
                next = strchr(l, '\n');
                if (next)
                        *next++ = 0;
                if (l[0] && l[strlen(l) - 1] == '\r')
                        l[strlen(l) - 1] = 0;
                l += strspn(l, " \t");
                if (l[0] == 0 || l[0] == '#')
                        continue;
                if (strneq(l, "export ", 7))
                        l += 7;
                eq = strchr(l, '=');
                if (!eq || !env_name_ok(l, (size_t) (eq - l)))
                        return log_error_errno(-EINVAL, "%s:%u: expected KEY=VALUE with KEY of A-Z, a-z, 0-9, '_'",
                                               path, line);
                value = eq + 1;
                n = strlen(value);
                if (n >= 2 && (value[0] == '"' || value[0] == '\'') && value[n - 1] == value[0]) {
                        value[n - 1] = 0;
                        memmove(value, value + 1, n - 1);
                }
                if (json_array_append_new(env, json_sprintf("%.*s=%s", (int) (eq - l), l, value)) < 0)
                        return log_error_errno(-ENOMEM, "Out of memory");
        }
        return 0;
}

/* Appends the environment files' variables to the body's Env (after the spec's own: the files win, as with
 * systemd's EnvironmentFile=), and folds them into the hash label, so that a changed file recreates the
 * container at its next start. */
static int body_add_env_files(Body *b, char **files) {
        _cleanup_json_ json_t *v = NULL;
        _cleanup_free_ char *dump = NULL;
        json_t *env, *labels;
        char hash[17];
        int r;

        if (!files || !files[0])
                return 0;
        v = json_loads(b->text, 0, NULL);
        if (!v)
                return log_error_errno(-ENOMEM, "Out of memory");
        env = json_object_get(v, "Env");
        if (!json_is_array(env)) {
                env = json_array();
                if (!env || json_object_set_new(v, "Env", env) < 0)
                        return log_error_errno(-ENOMEM, "Out of memory");
        }
        for (size_t i = 0; files[i]; i++) {
                _cleanup_free_ char *text = NULL;

                _cleanup_free_ char *error = NULL;

                r = read_root_file(files[i], S_IWOTH, "environment file", &text, &error);
                if (r < 0)
                        return log_error_errno(r, "Cannot use %s: %s", files[i], strna(error));
                r = env_file_parse(files[i], text, env);
                if (r < 0)
                        return r;
        }
        labels = json_object_get(v, "Labels");
        if (b->hash && json_is_object(labels)) {
                dump = json_dumps(env, JSON_COMPACT);
                if (!dump)
                        return log_error_errno(-ENOMEM, "Out of memory");
                snprintf(hash, sizeof(hash), "%016" PRIx64, fnv1a64(b->hash) ^ fnv1a64(dump));
                if (json_object_set_new(labels, HASH_LABEL, json_string(hash)) < 0)
                        return log_error_errno(-ENOMEM, "Out of memory");
                free(b->hash);
                b->hash = strdup(hash);
                if (!b->hash)
                        return log_error_errno(-ENOMEM, "Out of memory");
        }
        free(b->text);
        b->text = json_dumps(v, JSON_COMPACT);
        return b->text ? 0 : log_error_errno(-ENOMEM, "Out of memory");
}

/* Every bind that ends at /run/secrets/ must come from a root file that others cannot read. */
static int body_check_secrets(const Body *b) {
        _cleanup_json_ json_t *v = json_loads(b->text, 0, NULL);
        json_t *binds = json_object_get(json_object_get(v, "HostConfig"), "Binds");
        json_t *item;
        size_t i;

        json_array_foreach(binds, i, item) {
                _cleanup_free_ char *src = NULL, *error = NULL;
                const char *s = json_string_value(item), *colon = s ? strchr(s, ':') : NULL;
                _cleanup_close_ int fd = -1;

                if (!colon || !strneq(colon + 1, SECRETS_DIR, strlen(SECRETS_DIR)))
                        continue;
                src = strndup(s, (size_t) (colon - s));
                if (!src)
                        return log_error_errno(-ENOMEM, "Out of memory");
                fd = open_root_file(src, S_IROTH | S_IWOTH, "secret", &error);
                if (fd < 0)
                        return log_error_errno(fd, "Cannot give the container its secret: %s", strna(error));
        }
        return 0;
}

int body_add_sources(Body *b) {
        int r;

        if (b->holder)
                return 0;
        r = body_check_secrets(b);
        if (r < 0)
                return r;
        return body_add_env_files(b, arg_env_files);
}
