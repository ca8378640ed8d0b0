/* SPDX-License-Identifier: MIT */
/* What the container is given besides its body, read here as root when it is created: the environment files
 * (--env-file, KEY=VALUE lines), the secrets' files (checked before Docker bind-mounts them), and the registry
 * credentials (--registry-auth, Docker's config.json format) that become X-Registry-Auth on the pull. Every
 * file must be root's: a file anyone may write would let them change the service; a credential or secret
 * anyone may read would not be one. */
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

#define SOURCE_FILE_MAX (256U * 1024U)
#define SECRETS_DIR "/run/secrets/"

const char *arg_registry_auth;
char **arg_env_files;
RunPull arg_pull = RUN_PULL_MISSING;

/* Opens path (no symlink at its end) and checks it is a regular file owned by root, with none of the
 * forbidden mode bits. Returns the fd, or a negative errno after saying why. */
static int open_root_file(const char *path, mode_t forbidden, const char *what, const char *why) {
        _cleanup_close_ int fd = -1;
        struct stat st;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return log_error_errno(-errno, "Cannot open the %s %s: %m", what, path);
        if (fstat(fd, &st) < 0)
                return log_error_errno(-errno, "Cannot stat the %s %s: %m", what, path);
        if (!S_ISREG(st.st_mode))
                return log_error_errno(-EINVAL, "The %s %s is not a regular file", what, path);
        if (st.st_uid != 0)
                return log_error_errno(-EPERM, "Refusing the %s %s: it is owned by uid %u, not root", what, path,
                                       (unsigned) st.st_uid);
        if (st.st_mode & forbidden)
                return log_error_errno(-EPERM, "Refusing the %s %s: mode %04o, it must not be %s", what, path,
                                       (unsigned) (st.st_mode & 07777), why);
        return TAKE_FD(fd);
}

static int read_root_file(const char *path, mode_t forbidden, const char *what, const char *why, char **ret) {
        _cleanup_close_ int fd = open_root_file(path, forbidden, what, why);
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;

        if (fd < 0)
                return fd;
        buf = malloc(SOURCE_FILE_MAX + 1);
        if (!buf)
                return log_error_errno(-ENOMEM, "Out of memory");
        for (;;) {
                ssize_t k = read(fd, buf + size, SOURCE_FILE_MAX + 1 - size);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return log_error_errno(-errno, "Cannot read the %s %s: %m", what, path);
                if (k == 0)
                        break;
                size += (size_t) k;
                if (size > SOURCE_FILE_MAX)
                        return log_error_errno(-EFBIG, "The %s %s is larger than %u bytes", what, path,
                                               SOURCE_FILE_MAX);
        }
        buf[size] = 0;
        if (strlen(buf) != size)
                return log_error_errno(-EINVAL, "The %s %s contains a NUL byte", what, path);
        *ret = TAKE_PTR(buf);
        return 0;
}

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

                r = read_root_file(files[i], S_IWOTH, "environment file", "writable by others", &text);
                if (r < 0)
                        return r;
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
                _cleanup_free_ char *src = NULL;
                const char *s = json_string_value(item), *colon = s ? strchr(s, ':') : NULL;
                _cleanup_close_ int fd = -1;

                if (!colon || !strneq(colon + 1, SECRETS_DIR, strlen(SECRETS_DIR)))
                        continue;
                src = strndup(s, (size_t) (colon - s));
                if (!src)
                        return log_error_errno(-ENOMEM, "Out of memory");
                fd = open_root_file(src, S_IROTH | S_IWOTH, "secret", "readable or writable by others");
                if (fd < 0)
                        return fd;
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

/* ---- registry credentials ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Standard base64 (padding optional) into a NUL-terminated string; -EINVAL on anything else. */
static int base64_decode(const char *in, char **ret) {
        size_t n = strlen(in), k = 0;
        unsigned acc = 0, bits = 0;
        _cleanup_free_ char *out = malloc(n / 4 * 3 + 4);

        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < n && in[i] != '='; i++) {
                const char *p = in[i] ? strchr(b64, in[i]) : NULL;
                if (!p)
                        return -EINVAL;
                acc = (acc << 6) | (unsigned) (p - b64);
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        out[k++] = (char) ((acc >> bits) & 0xFF);
                }
        }
        out[k] = 0;
        if (strlen(out) != k)
                return -EINVAL;
        *ret = TAKE_PTR(out);
        return 0;
}

/* base64url without padding, as dockerd reads X-Registry-Auth. */
static char *base64url_encode(const char *in) {
        size_t n = strlen(in), k = 0;
        char *out = malloc(n / 3 * 4 + 5);

        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i += 3) {
                unsigned v = (unsigned char) in[i] << 16;
                size_t m = MIN(n - i, (size_t) 3);

                if (m > 1)
                        v |= (unsigned char) in[i + 1] << 8;
                if (m > 2)
                        v |= (unsigned char) in[i + 2];
                for (size_t j = 0; j < m + 1; j++) {
                        char c = b64[(v >> (18 - 6 * j)) & 0x3F];
                        out[k++] = c == '+' ? '-' : c == '/' ? '_' : c;
                }
        }
        out[k] = 0;
        return out;
}

/* The registry of an image reference, as Docker names it: the first component when it looks like a host
 * (has '.' or ':', or is localhost), else docker.io. */
static void image_registry(const char *image, char *buf, size_t len) {
        size_t n = strcspn(image, "/");

        if (image[n] == '/' && (memchr(image, '.', n) || memchr(image, ':', n) || (n == 9 && strneq(image, "localhost", 9))))
                snprintf(buf, len, "%.*s", (int) n, image);
        else
                snprintf(buf, len, "docker.io");
}

/* A key of "auths" as the registry it is for: without scheme and path; Docker Hub's names as docker.io. */
static void auths_key_registry(const char *key, char *buf, size_t len) {
        if (strneq(key, "https://", 8))
                key += 8;
        else if (strneq(key, "http://", 7))
                key += 7;
        snprintf(buf, len, "%.*s", (int) strcspn(key, "/"), key);
        if (streq(buf, "index.docker.io") || streq(buf, "registry-1.docker.io"))
                snprintf(buf, len, "docker.io");
}

/* "X-Registry-Auth: …" for image from the config.json-format file, or NULL in *ret when the file has no entry
 * for its registry (the pull goes without, and the registry says whether that is enough). */
int registry_auth_header(const char *file, const char *image, char **ret) {
        _cleanup_free_ char *text = NULL, *decoded = NULL, *doc = NULL, *enc = NULL;
        _cleanup_json_ json_t *v = NULL, *auth = NULL;
        const char *key, *user = NULL, *pw = NULL;
        char want[256], have[256];
        json_error_t err;
        json_t *entry, *found = NULL;
        int r;

        *ret = NULL;
        r = read_root_file(file, S_IROTH | S_IWOTH, "registry credentials file", "readable or writable by others",
                           &text);
        if (r < 0)
                return r;
        v = json_loads(text, 0, &err);
        if (!json_is_object(json_object_get(v, "auths")))
                return log_error_errno(-EINVAL, "%s: not a Docker config.json with \"auths\"%s%s", file,
                                       v ? "" : ": ", v ? "" : err.text);
        image_registry(image, want, sizeof(want));
        json_object_foreach(json_object_get(v, "auths"), key, entry) {
                auths_key_registry(key, have, sizeof(have));
                if (streq(have, want)) {
                        found = entry;
                        break;
                }
        }
        if (!found) {
                log_notice("%s has no credentials for %s: pulling %s without", file, want, image);
                return 0;
        }
        if (json_is_string(json_object_get(found, "auth"))) {
                char *colon;

                if (base64_decode(json_string_value(json_object_get(found, "auth")), &decoded) < 0 ||
                    !(colon = strchr(decoded, ':')))
                        return log_error_errno(-EINVAL, "%s: the \"auth\" of %s is not base64 of USER:PASSWORD", file,
                                               want);
                *colon = 0;
                user = decoded;
                pw = colon + 1;
        } else {
                user = json_string_value(json_object_get(found, "username"));
                pw = json_string_value(json_object_get(found, "password"));
                if (!user || !pw)
                        return log_error_errno(-EINVAL, "%s: the entry of %s has neither \"auth\" nor \"username\" "
                                               "and \"password\"", file, want);
        }
        auth = json_pack("{s:s, s:s, s:s}", "username", user, "password", pw, "serveraddress", want);
        doc = auth ? json_dumps(auth, JSON_COMPACT) : NULL;
        enc = doc ? base64url_encode(doc) : NULL;
        if (!enc || asprintf(ret, "X-Registry-Auth: %s", enc) < 0)
                return log_error_errno(-ENOMEM, "Out of memory");
        return 1;
}
