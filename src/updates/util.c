/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "updates/util.h"

int updates_fail(char **ret_error, int r, const char *format, ...) {
        va_list ap;

        if (ret_error) {
                char *m;
                va_start(ap, format);
                if (vasprintf(&m, format, ap) < 0)
                        m = NULL;
                va_end(ap);
                *ret_error = m;
        }
        return r;
}

bool updates_all_of(const char *s, const char *accept) {
        return s && strspn(s, accept) == strlen(s);
}

int updates_memstream_finish(FILE **f, char **buf, char **ret) {
        bool bad = ferror(*f);

        if (fclose(*f) != 0)
                bad = true;
        *f = NULL;
        if (bad) {
                *buf = mfree(*buf);
                return -ENOMEM;
        }
        *ret = TAKE_PTR(*buf);
        return 0;
}

bool updates_url_valid(const char *s, const char *allowed) {
        size_t skip;

        if (!s || strlen(s) > 2048)
                return false;
        if (strneq(s, "https://", 8))
                skip = 8;
        else if (strneq(s, "http://", 7))
                skip = 7;
        else
                return false;
        return s[skip] && s[skip] != '/' && updates_all_of(s, allowed);
}

int updates_dump_json(json_t *v, char **ret) {
        char *s;

        if (!v)
                return -ENOMEM;
        s = json_dumps(v, JSON_COMPACT);
        json_decref(v);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}
