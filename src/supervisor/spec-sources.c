/* SPDX-License-Identifier: MIT */
/* What a service is made from and given: when its image is pulled and with which registry credentials, a
 * digest pin in its reference, its environment files and its secrets. Paths only: the files are read by
 * systemd or ballast-run (as root) when the service starts, never by the spec. */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "shared/json-util.h"
#include "supervisor/spec-sources.h"

#define HOST_PATH_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/-+@"
#define SECRET_TARGET_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"
#define SECRET_TARGET_MAX 255U
#define ENV_FILES_MAX 32U
#define SECRETS_MAX 64U
#define DIGEST_PREFIX "@sha256:"
#define DIGEST_HEX 64U

static const char *const pull_table[] = {
        [IMAGE_PULL_MISSING] = "missing",
        [IMAGE_PULL_ALWAYS] = "always",
        [IMAGE_PULL_NEVER] = "never",
};

const char *image_pull_to_string(ImagePull p) {
        return (size_t) p < ELEMENTSOF(pull_table) ? pull_table[p] : NULL;
}

const char *image_digest(const char *image) {
        return image ? strchr(image, '@') : NULL;
}

int spec_dispatch_pull(const char *path, json_t *v, void *target, JsonError *e) {
        if (!json_is_string(v))
                return json_error_set(e, path, "expected a string, got %s", json_type_name(v));
        for (size_t i = 0; i < ELEMENTSOF(pull_table); i++)
                if (streq(pull_table[i], json_string_value(v))) {
                        *(ImagePull *) target = (ImagePull) i;
                        return 0;
                }
        return json_error_set(e, path, "%s is not a pull policy (expected \"missing\", \"always\" or \"never\")",
                              SPEC_Q(json_string_value(v)));
}

/* A file on the host that ends up in a unit line (EnvironmentFile=, LoadCredential=) or a Docker bind
 * ("SOURCE:/run/secrets/TARGET:ro"): absolute, normalized, and of characters that none of them quotes or
 * splits on (no spaces, ':', '%', quotes or backslashes). */
static int check_host_path(const char *path, const char *p, JsonError *e) {
        size_t n = strlen(p);

        if (n == 0 || p[0] != '/')
                return json_error_set(e, path, "%s is not an absolute path", SPEC_Q(p));
        if (n >= PATH_MAX)
                return json_error_set(e, path, "is longer than %d bytes", PATH_MAX - 1);
        if (strspn(p, HOST_PATH_CHARS) != n)
                return json_error_set(e, path, "%s may only contain A-Z, a-z, 0-9 and \"._/-+@\"", SPEC_Q(p));
        if (p[n - 1] == '/')
                return json_error_set(e, path, "%s names a directory", SPEC_Q(p));
        for (const char *c = p; *c;) {
                size_t k;

                c += strspn(c, "/");
                k = strcspn(c, "/");
                if ((k == 1 && c[0] == '.') || (k == 2 && c[0] == '.' && c[1] == '.'))
                        return json_error_set(e, path, "%s is not normalized (a \".\" or \"..\" component)",
                                              SPEC_Q(p));
                if (k > NAME_MAX)
                        return json_error_set(e, path, "has a path component longer than %d bytes", NAME_MAX);
                c += k;
        }
        return 0;
}

int spec_dispatch_host_file(const char *path, json_t *v, void *target, JsonError *e) {
        int r;

        if (!json_is_string(v))
                return json_error_set(e, path, "expected a string, got %s", json_type_name(v));
        r = check_host_path(path, json_string_value(v), e);
        if (r < 0)
                return r;
        return json_dispatch_string(path, v, target, e);
}

int spec_dispatch_env_files(const char *path, json_t *v, void *target, JsonError *e) {
        char sub[256];
        json_t *item;
        size_t i;
        int r;

        if (!json_is_array(v))
                return json_error_set(e, path, "expected an array of paths, got %s", json_type_name(v));
        if (json_array_size(v) > ENV_FILES_MAX)
                return json_error_set(e, path, "has more than %u files", ENV_FILES_MAX);
        json_array_foreach(v, i, item) {
                json_path_index(sub, sizeof(sub), path, i);
                if (!json_is_string(item))
                        return json_error_set(e, sub, "expected a string, got %s", json_type_name(item));
                r = check_host_path(sub, json_string_value(item), e);
                if (r < 0)
                        return r;
        }
        if (json_array_size(v) == 0) { /* same as leaving it out */
                strv_free(*(char ***) target);
                *(char ***) target = NULL;
                return 0;
        }
        return json_dispatch_strv(path, v, target, e);
}

static int dispatch_secret_target(const char *path, json_t *v, void *target, JsonError *e) {
        const char *t = json_string_value(v);

        if (!json_is_string(v))
                return json_error_set(e, path, "expected a string, got %s", json_type_name(v));
        if (isempty(t) || strlen(t) > SECRET_TARGET_MAX || strspn(t, SECRET_TARGET_CHARS) != strlen(t) ||
            streq(t, ".") || streq(t, ".."))
                return json_error_set(e, path,
                                      "%s is not a file name (1 to 255 of A-Z, a-z, 0-9, '.', '_', '-'; not \".\" "
                                      "or \"..\")",
                                      SPEC_Q(t));
        return json_dispatch_string(path, v, target, e);
}

static void secrets_free(ServiceSpec *s) {
        for (size_t i = 0; i < s->n_secrets; i++) {
                free(s->secrets[i].source);
                free(s->secrets[i].target);
        }
        s->secrets = mfree(s->secrets);
        s->n_secrets = 0;
}

int spec_dispatch_secrets(const char *path, json_t *v, void *target, JsonError *e) {
        static const JsonField table[] = {
                { "source", spec_dispatch_host_file, offsetof(ServiceSecret, source), JSON_MANDATORY },
                { "target", dispatch_secret_target, offsetof(ServiceSecret, target), JSON_MANDATORY },
                {}
        };
        ServiceSpec *s = target;
        ServiceSecret *l;
        char sub[256];
        json_t *item;
        size_t i;
        int r;

        if (!json_is_array(v))
                return json_error_set(e, path, "expected an array of objects, got %s", json_type_name(v));
        if (json_array_size(v) > SECRETS_MAX)
                return json_error_set(e, path, "has more than %u secrets", SECRETS_MAX);
        l = calloc(json_array_size(v) + 1, sizeof(ServiceSecret));
        if (!l)
                return -ENOMEM;
        secrets_free(s); /* a repeated key is refused by the parser: nothing to free in practice */
        s->secrets = l;
        json_array_foreach(v, i, item) {
                json_path_index(sub, sizeof(sub), path, i);
                r = json_dispatch(sub, item, table, &l[i], e);
                s->n_secrets = i + 1;
                if (r < 0)
                        return r;
                for (size_t j = 0; j < i; j++)
                        if (streq(l[j].target, l[i].target))
                                return json_error_set(e, sub, "target %s is given twice", SPEC_Q(l[i].target));
        }
        return 0;
}

/* "NAME[:TAG]@sha256:<64 lowercase hex>", nothing after the digest. */
static int check_digest(const char *image, JsonError *e) {
        const char *d = image_digest(image);

        if (!d)
                return 0;
        if (!strneq(d, DIGEST_PREFIX, strlen(DIGEST_PREFIX)) || strlen(d) != strlen(DIGEST_PREFIX) + DIGEST_HEX ||
            strspn(d + strlen(DIGEST_PREFIX), "0123456789abcdef") != DIGEST_HEX || d == image || d[-1] == '/' ||
            d[-1] == ':')
                return json_error_set(e, "image",
                                      "%s: a digest pin is NAME@sha256: followed by 64 lowercase hex digits",
                                      SPEC_Q(image));
        return 0;
}

int spec_sources_check(ServiceSpec *s, JsonError *e) {
        if (s->runtime != SERVICE_RUNTIME_DOCKER) {
                if (s->pull != IMAGE_PULL_MISSING)
                        return json_error_set(e, "pull", "only for runtime docker");
                if (s->registry_auth_file)
                        return json_error_set(e, "registry_auth_file", "only for runtime docker");
                return 0;
        }
        return check_digest(s->image, e);
}

bool spec_sources_to_json(const ServiceSpec *s, json_t *o) {
        _cleanup_json_ json_t *secrets = NULL, *files = NULL;

        if (s->runtime == SERVICE_RUNTIME_DOCKER &&
            json_object_set_new(o, "pull", json_string(image_pull_to_string(s->pull))) < 0)
                return false;
        if (s->registry_auth_file &&
            json_object_set_new(o, "registry_auth_file", json_string(s->registry_auth_file)) < 0)
                return false;
        if (s->env_files) {
                files = json_array();
                for (size_t i = 0; files && s->env_files[i]; i++)
                        if (json_array_append_new(files, json_string(s->env_files[i])) < 0)
                                return false;
                if (!files || json_object_set(o, "env_files", files) < 0)
                        return false;
        }
        if (s->n_secrets > 0) {
                secrets = json_array();
                for (size_t i = 0; secrets && i < s->n_secrets; i++)
                        if (json_array_append_new(secrets, json_pack("{s:s, s:s}", "source", s->secrets[i].source,
                                                                     "target", s->secrets[i].target)) < 0)
                                return false;
                if (!secrets || json_object_set(o, "secrets", secrets) < 0)
                        return false;
        }
        return true;
}

void spec_sources_free(ServiceSpec *s) {
        secrets_free(s);
        s->registry_auth_file = mfree(s->registry_auth_file);
        strv_free(s->env_files);
        s->env_files = NULL;
}
