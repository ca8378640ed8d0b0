/* SPDX-License-Identifier: MIT */
/* The reporter's pure helpers: the backoff, the etcd key of a node, the nodes of a range answer, the token file.
 * No loop, no network: tests/unit/test-reporter drives them with literals. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cluster/etcd.h"
#include "cluster/reporter.h"
#include "shared/backoff.h"
#include "shared/fileio.h"
#include "shared/json-util.h"

#define REPORTER_TOKEN_MAX 4096U

uint64_t reporter_backoff_usec(unsigned attempt, uint32_t random) {
        return backoff_usec(attempt, REPORTER_BACKOFF_MIN_USEC, REPORTER_BACKOFF_MAX_USEC, random);
}

char *reporter_etcd_key(const char *prefix, const char *node) {
        size_t l = strlen(prefix);
        char *key;

        while (l > 0 && prefix[l - 1] == '/')
                l--;
        if (asprintf(&key, "%.*s/nodes/%s", (int) l, prefix, strempty(node)) < 0)
                return NULL;
        return key;
}

static int compare_node(const void *a, const void *b) {
        const char *x = json_string_value(json_object_get(*(json_t *const *) a, "node"));
        const char *y = json_string_value(json_object_get(*(json_t *const *) b, "node"));
        return strcmp(x, y);
}

int reporter_parse_nodes(json_t *range_reply, const char *nodes_prefix, json_t **ret) {
        _cleanup_json_ json_t *kvs = NULL, *nodes = NULL;
        _cleanup_free_ json_t **sorted = NULL;
        size_t l = strlen(nodes_prefix), i, n = 0;
        json_t *kv;
        int r;

        r = etcd_parse_range(range_reply, &kvs);
        if (r < 0)
                return r;
        sorted = calloc(json_array_size(kvs) + 1, sizeof(json_t *));
        nodes = json_array();
        if (!sorted || !nodes)
                return -ENOMEM;
        json_array_foreach(kvs, i, kv) {
                const char *key = json_string_value(json_object_get(kv, "key"));
                const char *value = json_string_value(json_object_get(kv, "value"));
                json_t *doc = value ? json_loads(value, 0, NULL) : NULL;
                json_t *item;

                /* only direct children: PREFIX/nodes/NAME, not what someone else keeps deeper */
                if (!strneq(key, nodes_prefix, l) || key[l] == 0 || strchr(key + l, '/')) {
                        json_decref(doc);
                        continue;
                }
                item = json_pack("{s:s, s:o}", "node", key + l, "document", doc ?: json_null());
                if (!item)
                        return -ENOMEM;
                sorted[n++] = item;
        }
        qsort(sorted, n, sizeof(json_t *), compare_node);
        for (i = 0; i < n; i++)
                if (json_array_append_new(nodes, sorted[i]) < 0) {
                        for (size_t j = i + 1; j < n; j++)
                                json_decref(sorted[j]);
                        return -ENOMEM;
                }
        *ret = TAKE_PTR(nodes);
        return 0;
}

int reporter_read_token(const char *path, char **ret) {
        _cleanup_free_ char *text = NULL;
        struct stat st;
        size_t size;
        char *start, *end;
        int r;

        /* a FIFO would block the loop */
        if (stat(path, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        r = read_full_file(path, REPORTER_TOKEN_MAX, &text, &size);
        if (r < 0)
                return r;
        start = text + strspn(text, " \t\r\n");
        end = text + size;
        while (end > start && strchr(" \t\r\n", end[-1]))
                end--;
        if (end == start)
                return -ENODATA;
        for (const char *p = start; p < end; p++)
                if ((unsigned char) *p <= ' ' || *p == 0x7f)
                        return -EINVAL;
        *ret = strndup(start, (size_t) (end - start));
        return *ret ? 0 : -ENOMEM;
}
