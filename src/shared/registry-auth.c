/* SPDX-License-Identifier: MIT */
/* Registry credentials in Docker's config.json format ({"auths": {"HOST[:PORT]": {"auth": base64(USER:PASSWORD)}
 * or {"username", "password"}}}), turned into the X-Registry-Auth header of POST /images/create: base64url of
 * {"username", "password", "serveraddress"}. The file must be root's and unreadable by others. Shared by
 * ballastd (the pull before an update) and ballast-run (the pull at a start). */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "shared/json-util.h"
#include "shared/macro.h"
#include "shared/registry-auth.h"
#include "shared/root-file.h"

_printf_(3, 4) static int fail(char **ret_error, int r, const char *format, ...) {
        va_list ap;

        if (ret_error) {
                va_start(ap, format);
                if (vasprintf(ret_error, format, ap) < 0)
                        *ret_error = NULL;
                va_end(ap);
        }
        return r;
}


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

/* base64url with padding (Go's base64.URLEncoding), as the docker CLI writes X-Registry-Auth: dockerd 20.10
 * reads it with that decoder, and a header it cannot decode is taken, silently, as no credentials at all. */
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
                for (size_t j = 0; j < 4; j++) {
                        char c = b64[(v >> (18 - 6 * j)) & 0x3F];
                        out[k++] = j > m ? '=' : c == '+' ? '-' : c == '/' ? '_' : c;
                }
        }
        out[k] = 0;
        return out;
}

/* The registry of an image reference, as Docker names it: the first component when it looks like a host
 * (has '.' or ':', or is localhost), else docker.io. */
void image_registry(const char *image, char *buf, size_t len) {
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
int registry_auth_header(const char *file, const char *image, char **ret, char **ret_error) {
        _cleanup_free_ char *text = NULL, *decoded = NULL, *doc = NULL, *enc = NULL;
        _cleanup_json_ json_t *v = NULL, *auth = NULL;
        const char *key, *user = NULL, *pw = NULL;
        char want[256], have[256];
        json_error_t err;
        json_t *entry, *found = NULL;
        int r;

        *ret = NULL;
        r = read_root_file(file, S_IROTH | S_IWOTH, "registry credentials file", &text, ret_error);
        if (r < 0)
                return r;
        v = json_loads(text, 0, &err);
        if (!json_is_object(json_object_get(v, "auths")))
                return fail(ret_error, -EINVAL, "%s: not a Docker config.json with \"auths\"%s%s", file,
                            v ? "" : ": ", v ? "" : err.line > 0 ? "invalid JSON" : "");
        image_registry(image, want, sizeof(want));
        json_object_foreach(json_object_get(v, "auths"), key, entry) {
                auths_key_registry(key, have, sizeof(have));
                if (streq(have, want)) {
                        found = entry;
                        break;
                }
        }
        if (!found)
                return 0;
        if (json_is_string(json_object_get(found, "auth"))) {
                char *colon;

                if (base64_decode(json_string_value(json_object_get(found, "auth")), &decoded) < 0 ||
                    !(colon = strchr(decoded, ':')))
                        return fail(ret_error, -EINVAL, "%s: the \"auth\" of %s is not base64 of USER:PASSWORD",
                                    file, want);
                *colon = 0;
                user = decoded;
                pw = colon + 1;
        } else {
                user = json_string_value(json_object_get(found, "username"));
                pw = json_string_value(json_object_get(found, "password"));
                if (!user || !pw)
                        return fail(ret_error, -EINVAL, "%s: the entry of %s has neither \"auth\" nor "
                                    "\"username\" and \"password\"", file, want);
        }
        auth = json_pack("{s:s, s:s, s:s}", "username", user, "password", pw, "serveraddress", want);
        doc = auth ? json_dumps(auth, JSON_COMPACT) : NULL;
        enc = doc ? base64url_encode(doc) : NULL;
        if (!enc || asprintf(ret, "X-Registry-Auth: %s", enc) < 0) {
                *ret = NULL;
                return fail(ret_error, -ENOMEM, "out of memory");
        }
        return 1;
}
