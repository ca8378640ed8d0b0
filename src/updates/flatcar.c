/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shared/fileio.h"
#include "shared/macro.h"
#include "updates/flatcar.h"
#include "updates/os.h"
#include "updates/util.h"

/* ---- Flatcar: update.conf ---- */

/* Characters a shell takes literally in an unquoted assignment value (no '~', which expands after ':' or '='
 * in assignments). */
#define SHELL_SAFE ALNUM "._:/%@+,=-"

static bool update_group_valid(const char *g) {
        return !isempty(g) && strlen(g) <= 128 && updates_all_of(g, ALNUM "._-");
}

static bool update_server_valid(const char *s) {
        return updates_url_valid(s, SHELL_SAFE);
}

#define UPDATE_CONF_COMMENT "# ballastd sets GROUP, SERVER and REBOOT_STRATEGY=off here (see /etc/ballast/ballast.json)."

typedef struct UpdateConfRender {
        FILE *out;
        const char *group, *server;
        bool seen_group, seen_server, seen_strategy, seen_comment;
        char **error;
} UpdateConfRender;

static int update_conf_render_line(const char *line, size_t len, unsigned no, void *userdata) {
        UpdateConfRender *u = userdata;
        _cleanup_free_ char *key = NULL;
        const char *why = NULL, *value = NULL;
        int indent = (int) strspn(line, " \t");
        int r;

        r = updates_parse_env_line(line, len, &key, NULL, &why);
        if (r == -EINVAL)
                return updates_fail(u->error, r, "update.conf line %u: %s", no, why);
        if (r < 0)
                return r;

        if (r == 0) {
                if (len == strlen(UPDATE_CONF_COMMENT) && strneq(line, UPDATE_CONF_COMMENT, len))
                        u->seen_comment = true;
        } else if (streq(key, "GROUP") && u->group) {
                value = u->group;
                u->seen_group = true;
        } else if (streq(key, "SERVER") && u->server) {
                value = u->server;
                u->seen_server = true;
        } else if (streq(key, "REBOOT_STRATEGY")) {
                value = "off";
                u->seen_strategy = true;
        }

        if (value)
                fprintf(u->out, "%.*s%s=%s\n", indent, line, key, value);
        else
                fprintf(u->out, "%.*s\n", (int) len, line);
        return 0;
}

int updates_render_update_conf(const char *old_text, const char *group, const char *server, char **ret_new_text,
                               bool *ret_changed, char **ret_error) {
        _cleanup_free_ char *buf = NULL; /* declared first: freed after the stream's close updates it */
        _cleanup_(fclose_memstreamp) FILE *f = NULL;
        size_t size;
        UpdateConfRender u = { .group = group, .server = server, .error = ret_error };
        char *text;
        int r;

        if (!ret_new_text)
                return -EINVAL;
        if (group && !update_group_valid(group))
                return updates_fail(ret_error, -EINVAL,
                            "GROUP: expected a channel or group of letters, digits, '.', '_', '-' (at most 128)");
        if (server && !update_server_valid(server))
                return updates_fail(ret_error, -EINVAL,
                            "SERVER: expected an http:// or https:// URL without characters that need quoting");

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        u.out = f;

        r = updates_for_each_line(old_text, update_conf_render_line, &u);
        if (r < 0)
                return r;
        if ((group && !u.seen_group) || (server && !u.seen_server) || !u.seen_strategy) {
                if (!u.seen_comment)
                        fputs(UPDATE_CONF_COMMENT "\n", f);
                if (group && !u.seen_group)
                        fprintf(f, "GROUP=%s\n", group);
                if (server && !u.seen_server)
                        fprintf(f, "SERVER=%s\n", server);
                if (!u.seen_strategy)
                        fputs("REBOOT_STRATEGY=off\n", f);
        }

        r = updates_memstream_finish(&f, &buf, &text);
        if (r < 0)
                return r;
        if (ret_changed)
                *ret_changed = !streq(strempty(old_text), text);
        *ret_new_text = text;
        return 0;
}

typedef struct UpdateConfLookup {
        const char *key;
        char *value;
        char **error;
} UpdateConfLookup;

static int update_conf_lookup_line(const char *line, size_t len, unsigned no, void *userdata) {
        UpdateConfLookup *u = userdata;
        _cleanup_free_ char *key = NULL, *value = NULL;
        const char *why = NULL;
        int r;

        r = updates_parse_env_line(line, len, &key, &value, &why);
        if (r == -EINVAL)
                return updates_fail(u->error, r, "update.conf line %u: %s", no, why);
        if (r > 0 && streq(key, u->key)) {
                free(u->value);
                u->value = TAKE_PTR(value);
        }
        return r < 0 ? r : 0;
}

int updates_parse_update_conf(const char *text, const char *key, char **ret_value, char **ret_error) {
        UpdateConfLookup u = { .key = key, .error = ret_error };
        int r;

        if (!text || isempty(key) || !ret_value)
                return -EINVAL;
        r = updates_for_each_line(text, update_conf_lookup_line, &u);
        if (r < 0) {
                free(u.value);
                return r;
        }
        if (!u.value)
                return -ENOENT;
        *ret_value = u.value;
        return 0;
}

/* Resolves an /etc directory under root: itself when it is a directory, its target (one level, inside root,
 * without "..") when it is a symlink. *ret_exists: the directory is there; *ret_symlink: dir is a symlink. */
static int resolve_etc_dir(const char *root, const char *dir, char **ret_path, bool *ret_exists,
                           bool *ret_symlink) {
        _cleanup_free_ char *p = NULL, *target = NULL, *resolved = NULL, *parent = NULL;
        struct stat st;
        ssize_t k;

        p = path_join_root(root, dir);
        if (!p)
                return -ENOMEM;
        if (lstat(p, &st) < 0) {
                if (errno != ENOENT)
                        return -errno;
                *ret_exists = *ret_symlink = false;
                *ret_path = TAKE_PTR(p);
                return 0;
        }
        if (S_ISDIR(st.st_mode)) {
                *ret_exists = true;
                *ret_symlink = false;
                *ret_path = TAKE_PTR(p);
                return 0;
        }
        if (!S_ISLNK(st.st_mode))
                return -ENOTDIR;

        target = malloc(PATH_MAX);
        if (!target)
                return -ENOMEM;
        k = readlink(p, target, PATH_MAX - 1);
        if (k < 0)
                return -errno;
        target[k] = 0;
        if (k == 0 || streq(target, "..") || strneq(target, "../", 3) || strstr(target, "/../") ||
            (k >= 3 && streq(target + k - 3, "/..")))
                return -ELOOP;

        if (target[0] == '/')
                resolved = path_join_root(root, target);
        else {
                parent = path_join_root(root, "/etc");
                resolved = parent ? path_join(parent, target) : NULL;
        }
        if (!resolved)
                return -ENOMEM;

        if (lstat(resolved, &st) < 0) {
                if (errno != ENOENT)
                        return -errno;
                *ret_exists = false; /* dangling: the directory is to be created */
        } else if (S_ISDIR(st.st_mode))
                *ret_exists = true;
        else
                return S_ISLNK(st.st_mode) ? -ELOOP : -ENOTDIR;
        *ret_symlink = true;
        *ret_path = TAKE_PTR(resolved);
        return 0;
}

int updates_update_conf_path(const char *root, char **ret) {
        _cleanup_free_ char *flatcar = NULL, *coreos = NULL;
        bool flatcar_exists, flatcar_link, coreos_exists, coreos_link;
        const char *dir;
        int r;

        if (!ret)
                return -EINVAL;
        r = resolve_etc_dir(root, "/etc/flatcar", &flatcar, &flatcar_exists, &flatcar_link);
        if (r < 0)
                return r;
        if (flatcar_exists)
                dir = flatcar;
        else {
                r = resolve_etc_dir(root, "/etc/coreos", &coreos, &coreos_exists, &coreos_link);
                if (r < 0)
                        return r;
                /* Container Linux's directory, or where Flatcar's /etc/coreos -> flatcar symlink points */
                dir = coreos_exists || coreos_link ? coreos : flatcar;
        }
        *ret = path_join(dir, "update.conf");
        return *ret ? 0 : -ENOMEM;
}
