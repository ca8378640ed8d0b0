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

#include "shared/macro.h"
#include "shared/parse-util.h"
#include "updates/os.h"
#include "updates/util.h"

/* ---- shell-style KEY=value lines (os-release, update.conf) ---- */

/* Reads the value at *pp (unquoted, "double-quoted" or 'single-quoted') into q, NUL-terminated, and leaves *pp
 * after it. -EINVAL with *ret_why for what a shell would do more with than assign a literal. */
static int parse_env_value(const char **pp, const char *end, char *q, const char **ret_why) {
        const char *p = *pp;

        if (p < end && *p == '"') {
                for (p++;; p++) {
                        if (p == end) {
                                *ret_why = "unterminated double quote";
                                return -EINVAL;
                        }
                        if (*p == '"')
                                break;
                        if (*p == '\\' && p + 1 < end && strchr("\"\\$`", p[1]))
                                p++;
                        else if (*p == '$' || *p == '`') {
                                *ret_why = "'$' or '`' (a shell expansion) in a value";
                                return -EINVAL;
                        }
                        *q++ = *p;
                }
                p++;
        } else if (p < end && *p == '\'') {
                for (p++;; p++) {
                        if (p == end) {
                                *ret_why = "unterminated single quote";
                                return -EINVAL;
                        }
                        if (*p == '\'')
                                break;
                        *q++ = *p;
                }
                p++;
        } else
                for (; p < end && !isspace((unsigned char) *p); p++) {
                        if (strchr("\"'\\$`;&|<>(){}", *p)) {
                                *ret_why = "a character that needs quoting in an unquoted value";
                                return -EINVAL;
                        }
                        *q++ = *p;
                }
        *q = 0;
        *pp = p;
        return 0;
}

int updates_parse_env_line(const char *line, size_t len, char **ret_key, char **ret_value, const char **ret_why) {
        const char *p = line, *end = line + len, *key, *key_end;
        _cleanup_free_ char *value = NULL;
        char *q;
        int r;

        while (p < end && (*p == ' ' || *p == '\t'))
                p++;
        if (p == end || *p == '#')
                return 0;

        key = p;
        if (!(isalpha((unsigned char) *p) || *p == '_'))
                goto not_assignment;
        while (p < end && (isalnum((unsigned char) *p) || *p == '_'))
                p++;
        if (p == end || *p != '=')
                goto not_assignment;

        key_end = p++;
        value = malloc(len + 1);
        if (!value)
                return -ENOMEM;

        r = parse_env_value(&p, end, value, ret_why);
        if (r < 0)
                return r;

        /* after the value: nothing, or blanks and then maybe a comment */
        if (p < end && *p != ' ' && *p != '\t') {
                *ret_why = *p == '\r' ? "a carriage return (DOS line ending)" : "unexpected text after the value";
                return -EINVAL;
        }
        while (p < end && (*p == ' ' || *p == '\t'))
                p++;
        if (p < end && *p != '#') {
                *ret_why = *p == '\r' ? "a carriage return (DOS line ending)" : "unexpected text after the value";
                return -EINVAL;
        }
        for (q = value; *q; q++)
                if ((unsigned char) *q < 0x20 || *q == 0x7f) {
                        *ret_why = "a control character in a value";
                        return -EINVAL;
                }

        if (ret_key) {
                *ret_key = strndup(key, key_end - key);
                if (!*ret_key)
                        return -ENOMEM;
        }
        if (ret_value)
                *ret_value = TAKE_PTR(value);
        return 1;

not_assignment:
        *ret_why = "expected KEY=value, a comment or a blank line";
        return -EINVAL;
}

int updates_for_each_line(const char *text, UpdatesLineFunc f, void *userdata) {
        unsigned no = 0;

        for (const char *l = strempty(text); *l;) {
                const char *nl = strchrnul(l, '\n');
                int r = f(l, nl - l, ++no, userdata);
                if (r < 0)
                        return r;
                l = *nl ? nl + 1 : nl;
        }
        return 0;
}

/* ---- the OS ---- */

void updates_os_info_done(OsInfo *info) {
        if (!info)
                return;
        free(info->id);
        free(info->variant_id);
        free(info->version_id);
        free(info->version);
        free(info->pretty_name);
        *info = (OsInfo) {};
}

const char *updates_os_kind_to_string(OsKind k) {
        switch (k) {
        case OS_FLATCAR: return "flatcar";
        case OS_CONTAINER_LINUX: return "container-linux";
        case OS_FEDORA_COREOS: return "fedora-coreos";
        case OS_OTHER: return "other";
        }
        return "other";
}

typedef struct OsReleaseParse {
        char *id, *variant_id, *version_id, *version, *ostree_version, *pretty_name;
        char **error;
} OsReleaseParse;

static int os_release_line(const char *line, size_t len, unsigned no, void *userdata) {
        OsReleaseParse *p = userdata;
        _cleanup_free_ char *key = NULL, *value = NULL;
        const char *why = NULL;
        char **slot = NULL;
        int r;

        r = updates_parse_env_line(line, len, &key, &value, &why);
        if (r == -EINVAL)
                return updates_fail(p->error, r, "os-release line %u: %s", no, why);
        if (r <= 0)
                return r;

        if (streq(key, "ID"))
                slot = &p->id;
        else if (streq(key, "VARIANT_ID"))
                slot = &p->variant_id;
        else if (streq(key, "VERSION_ID"))
                slot = &p->version_id;
        else if (streq(key, "VERSION"))
                slot = &p->version;
        else if (streq(key, "OSTREE_VERSION"))
                slot = &p->ostree_version;
        else if (streq(key, "PRETTY_NAME"))
                slot = &p->pretty_name;
        if (slot) { /* the last assignment wins, as in a shell */
                free(*slot);
                *slot = TAKE_PTR(value);
        }
        return 0;
}

static bool version_parsable(const char *v) {
        int dummy;
        return v && updates_version_compare(v, v, &dummy) >= 0;
}

int updates_detect_os(const char *os_release_text, OsInfo *ret, char **ret_error) {
        OsReleaseParse p = { .error = ret_error };
        OsInfo info = {};
        int r;

        if (!os_release_text || !ret)
                return -EINVAL;

        r = updates_for_each_line(os_release_text, os_release_line, &p);
        if (r < 0)
                goto finish;

        info.id = p.id ? TAKE_PTR(p.id) : strdup("linux");
        info.variant_id = TAKE_PTR(p.variant_id);
        info.version_id = TAKE_PTR(p.version_id);
        info.pretty_name = TAKE_PTR(p.pretty_name);
        if (!info.id) {
                r = -ENOMEM;
                goto finish;
        }

        if (streq(info.id, "flatcar"))
                info.kind = OS_FLATCAR;
        else if (streq(info.id, "coreos"))
                info.kind = OS_CONTAINER_LINUX;
        else if (streq(info.id, "fedora") && info.variant_id && streq(info.variant_id, "coreos"))
                info.kind = OS_FEDORA_COREOS;
        else
                info.kind = OS_OTHER;

        if (info.kind == OS_FLATCAR || info.kind == OS_CONTAINER_LINUX) {
                if (info.version_id && !(info.version = strdup(info.version_id))) {
                        r = -ENOMEM;
                        goto finish;
                }
        } else if (info.kind == OS_FEDORA_COREOS) {
                /* VERSION_ID is only the Fedora release ("39"); the build is OSTREE_VERSION, or the first word
                 * of VERSION ("39.20240210.3.0 (CoreOS)") on images that lack it */
                if (p.ostree_version)
                        info.version = TAKE_PTR(p.ostree_version);
                else if (p.version) {
                        info.version = strndup(p.version, strcspn(p.version, " "));
                        if (!info.version) {
                                r = -ENOMEM;
                                goto finish;
                        }
                        if (!version_parsable(info.version))
                                info.version = mfree(info.version);
                }
        }

        *ret = info;
        info = (OsInfo) {};
        r = 0;
finish:
        updates_os_info_done(&info);
        free(p.id);
        free(p.variant_id);
        free(p.version_id);
        free(p.version);
        free(p.ostree_version);
        free(p.pretty_name);
        return r;
}

int updates_version_compare(const char *a, const char *b, int *ret) {
        const char *v[2] = { a, b };
        int c = 0;

        for (size_t i = 0; i < 2; i++) {
                const char *s = v[i];
                if (isempty(s) || !updates_all_of(s, "0123456789.") || s[0] == '.' || s[strlen(s) - 1] == '.' ||
                    strstr(s, ".."))
                        return -EINVAL;
        }

        while (*a || *b) {
                uint64_t x[2] = {};
                for (size_t i = 0; i < 2; i++) {
                        const char **s = i == 0 ? &a : &b;
                        size_t n = strcspn(*s, ".");
                        char digits[21];

                        if (n == 0)
                                continue; /* this one ran out of components: 0 */
                        if (n >= sizeof(digits))
                                return -ERANGE;
                        memcpy(digits, *s, n);
                        digits[n] = 0;
                        if (safe_atou64(digits, &x[i]) < 0)
                                return -ERANGE;
                        *s += n;
                        if (**s == '.')
                                (*s)++;
                }
                if (c == 0 && x[0] != x[1])
                        c = x[0] < x[1] ? -1 : 1;
        }
        *ret = c;
        return 0;
}
