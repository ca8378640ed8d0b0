/* SPDX-License-Identifier: MIT */
/* The pieces of an image pull that are not Docker's: the registry of a reference, the credentials file turned
 * into X-Registry-Auth (and the files refused), and the progress stream folded into a percentage and a line
 * per layer. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/json-util.h"
#include "shared/pull-progress.h"
#include "shared/registry-auth.h"
#include "shared/root-file.h"
#include "tap.h"

static void test_registry(void) {
        static const struct {
                const char *image, *want;
        } table[] = {
                { "busybox", "docker.io" },
                { "library/busybox:1.36", "docker.io" },
                { "registry.example.com/team/app:1", "registry.example.com" },
                { "registry.ballast.test:5443/team/app@sha256:00", "registry.ballast.test:5443" },
                { "localhost/app", "localhost" },
                { "localhost:5000/app", "localhost:5000" },
                { "team/app", "docker.io" },
        };
        char buf[256];

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                image_registry(table[i].image, buf, sizeof(buf));
                is_str(buf, table[i].want, "registry of %s", table[i].image);
        }
}

static char *write_file(const char *dir, const char *name, const char *text, mode_t mode) {
        char *p = NULL;
        FILE *f;

        if (asprintf(&p, "%s/%s", dir, name) < 0)
                return NULL;
        f = fopen(p, "we");
        if (!f)
                return p;
        fputs(text, f);
        fclose(f);
        (void) chmod(p, mode);
        return p;
}

/* The header's value, decoded back: base64url with padding (dockerd 20.10 takes nothing else). */
static json_t *decode_header(const char *h) {
        static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        char out[1024];
        size_t k = 0;
        unsigned acc = 0, bits = 0;

        if (!h || strncmp(h, "X-Registry-Auth: ", 17) != 0)
                return NULL;
        if ((strlen(h) - 17) % 4 != 0)
                return NULL;
        for (const char *p = h + 17; *p && *p != '=' && k < sizeof(out) - 1; p++) {
                const char *c = strchr(b64, *p);
                if (!c)
                        return NULL;
                acc = (acc << 6) | (unsigned) (c - b64);
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        out[k++] = (char) ((acc >> bits) & 0xFF);
                }
        }
        out[k] = 0;
        return json_loads(out, 0, NULL);
}

static void test_auth(void) {
        char dir[] = "/tmp/test-pull.XXXXXX";
        _cleanup_free_ char *good = NULL, *plain = NULL, *open_ = NULL, *bad = NULL, *notjson = NULL;
        int r;

        if (!ok(mkdtemp(dir), "temporary directory"))
                return;
        /* "tester:s3cret-pw" */
        good = write_file(dir, "good.json",
                          "{\"auths\": {\"https://registry.ballast.test:5443/v1/\": {\"auth\": \"dGVzdGVyOnMzY3JldC1wdw==\"},"
                          " \"docker.io\": {\"auth\": \"eDp5\"}}}", 0600);
        plain = write_file(dir, "plain.json",
                           "{\"auths\": {\"localhost:5000\": {\"username\": \"u\", \"password\": \"p:w\\\"\"}}}", 0640);
        open_ = write_file(dir, "open.json", "{\"auths\": {}}", 0644);
        bad = write_file(dir, "bad.json", "{\"auths\": {\"localhost:5000\": {\"auth\": \"bm9jb2xvbg==\"}}}", 0600);
        notjson = write_file(dir, "notjson.json", "{\"auths\": ", 0600);

        {
                _cleanup_free_ char *h = NULL, *e = NULL;
                _cleanup_json_ json_t *v = NULL;

                r = registry_auth_header(good, "registry.ballast.test:5443/team/app:1", &h, &e);
                is_int(r, 1, "credentials found for the registry (a key with scheme and path)");
                v = decode_header(h);
                ok(v && streq_ptr(json_string_value(json_object_get(v, "username")), "tester") &&
                   streq_ptr(json_string_value(json_object_get(v, "password")), "s3cret-pw") &&
                   streq_ptr(json_string_value(json_object_get(v, "serveraddress")), "registry.ballast.test:5443"),
                   "X-Registry-Auth is base64url of {username, password, serveraddress}");
        }
        {
                _cleanup_free_ char *h = NULL, *e = NULL;
                _cleanup_json_ json_t *v = NULL;

                is_int(registry_auth_header(good, "busybox", &h, &e), 1, "Docker Hub's entry for a bare name");
                v = decode_header(h);
                ok(v && streq_ptr(json_string_value(json_object_get(v, "username")), "x"), "  its user");
        }
        {
                _cleanup_free_ char *h = NULL, *e = NULL;

                is_int(registry_auth_header(good, "other.example.com/a", &h, &e), 0, "no entry: no header");
                ok(!h, "  and none returned");
        }
        {
                _cleanup_free_ char *h = NULL, *e = NULL;
                _cleanup_json_ json_t *v = NULL;

                is_int(registry_auth_header(plain, "localhost:5000/a", &h, &e), 1, "username and password, mode 0640");
                v = decode_header(h);
                ok(v && streq_ptr(json_string_value(json_object_get(v, "password")), "p:w\""), "  the password as is");
        }
        {
                _cleanup_free_ char *h = NULL, *e = NULL;

                is_int(registry_auth_header(open_, "localhost:5000/a", &h, &e), -EPERM, "a world-readable file is refused");
                ok(e && strstr(e, "its mode is 0644, it must not be readable or writable by others"), "  saying why: %s",
                   strna(e));
        }
        {
                _cleanup_free_ char *h = NULL, *e = NULL;

                is_int(registry_auth_header(bad, "localhost:5000/a", &h, &e), -EINVAL, "an auth without ':' is refused");
                ok(e && strstr(e, "is not base64 of USER:PASSWORD"), "  saying why: %s", strna(e));
        }
        {
                _cleanup_free_ char *h = NULL, *e = NULL, *missing = NULL;

                is_int(registry_auth_header(notjson, "localhost:5000/a", &h, &e), -EINVAL, "not JSON is refused");
                ok(e && strstr(e, "not a Docker config.json"), "  saying why: %s", strna(e));
                free(e);
                e = NULL;
                if (asprintf(&missing, "%s/missing.json", dir) >= 0) {
                        is_int(registry_auth_header(missing, "a", &h, &e), -ENOENT, "a missing file");
                        ok(e && strstr(e, "cannot open"), "  saying why: %s", strna(e));
                }
        }
        {
                _cleanup_free_ char *link = NULL, *e = NULL;
                _cleanup_close_ int fd = -1;

                if (asprintf(&link, "%s/link.json", dir) >= 0 && symlink(good, link) == 0) {
                        fd = open_root_file(link, S_IROTH, "file", &e);
                        ok(fd < 0 && e, "a symlink at the end is not followed: %s", strna(e));
                        unlink(link);
                }
        }
        {
                _cleanup_free_ char *e = NULL, *text = NULL;
                _cleanup_close_ int fd = -1;

                if (chown(plain, 65534, 0) == 0) {
                        fd = open_root_file(plain, S_IROTH, "file", &e);
                        ok(fd < 0 && e && strstr(e, "owned by uid 65534, not root"), "a file of another user is refused");
                }
                free(e);
                e = NULL;
                is_int(read_root_file(open_, S_IWOTH, "environment file", &text, &e), 0,
                       "a world-readable file that must only not be world-writable is read");
        }
        unlink(good);
        unlink(plain);
        unlink(open_);
        unlink(bad);
        unlink(notjson);
        rmdir(dir);
}

static void test_progress(void) {
        static const char *const lines[] = {
                "{\"status\":\"Pulling from team/app\",\"id\":\"1\"}",
                "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"aaaa\"}",
                "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"bbbb\"}",
                "{\"status\":\"Already exists\",\"progressDetail\":{},\"id\":\"cccc\"}",
                "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":25,\"total\":100},\"id\":\"aaaa\"}",
                "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":50,\"total\":100},\"id\":\"aaaa\"}",
                "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":0,\"total\":300},\"id\":\"bbbb\"}",
                "not json",
                "{\"status\":\"Pull complete\",\"progressDetail\":{},\"id\":\"aaaa\"}",
                "{\"status\":\"Pull complete\",\"progressDetail\":{},\"id\":\"aaaa\"}",
        };
        PullProgress *p = calloc(1, sizeof(PullProgress));
        const PullLayer *l = NULL;
        bool existed = false;
        unsigned done = 0;
        char buf[64];

        if (!p)
                return;
        for (size_t i = 0; i < ELEMENTSOF(lines); i++)
                if (pull_progress_feed(p, lines[i], &l, &existed) == PULL_EVENT_LAYER_DONE)
                        done++;
        is_int((int) done, 2, "a layer done is told once (Already exists, then Pull complete; the repeat is not)");
        is_int((int) p->n_layers, 3, "three layers (the \"Pulling from\" line is not one)");
        pull_progress_format(p, buf, sizeof(buf));
        is_str(buf, "0% (2 of 3 layers)", "the percentage is over the layers still pulling");
        ok(pull_progress_feed(p, "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":150,\"total\":300},"
                                 "\"id\":\"bbbb\"}", &l, &existed) == PULL_EVENT_PROGRESS, "progress");
        is_int(pull_progress_percent(p), 50, "  50%%");
        ok(pull_progress_feed(p, "{\"errorDetail\":{\"message\":\"unauthorized\"},\"error\":\"unauthorized: "
                                 "authentication required\"}", &l, &existed) == PULL_EVENT_ERROR, "an error line");
        is_str(p->error, "unauthorized: authentication required", "  keeps Docker's message");
        pull_progress_done_free(p);
        free(p);
}

int main(void) {
        test_registry();
        test_auth();
        test_progress();
        return tap_done();
}
