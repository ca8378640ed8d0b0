/* SPDX-License-Identifier: MIT */
/* ballast-ignition's output encodings, pure: SHA-512 in hex and base64 (OpenSSL), gzip (zlib), data: URLs, and
 * YAML scalars for Butane (a literal block where the text reads as it is, else a double-quoted string). The
 * program's plan and its two renderers are in ballast-ignition.c. */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "ignition/encode.h"
#include "shared/json-util.h"
#include "shared/macro.h"

char *sha512_hex(const void *data, size_t size) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        char *hex;

        if (!EVP_Digest(data, size, md, &n, EVP_sha512(), NULL))
                return NULL;
        hex = malloc(2 * n + 1);
        if (!hex)
                return NULL;
        for (unsigned i = 0; i < n; i++)
                sprintf(hex + 2 * i, "%02x", md[i]);
        return hex;
}

char *base64(const void *data, size_t size) {
        char *out;

        if (size > INT32_MAX / 2)
                return NULL;
        out = malloc(4 * ((size + 2) / 3) + 1);
        if (!out)
                return NULL;
        EVP_EncodeBlock((unsigned char *) out, data, (int) size);
        return out;
}

int gzip_compress(const void *data, size_t size, char **ret, size_t *ret_size) {
        _cleanup_free_ char *out = NULL;
        z_stream z = {};
        size_t cap;
        int r;

        if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16 /* a gzip header */, 9, Z_DEFAULT_STRATEGY) != Z_OK)
                return -ENOMEM;
        cap = deflateBound(&z, size);
        out = malloc(cap);
        if (!out) {
                deflateEnd(&z);
                return -ENOMEM;
        }
        z.next_in = (Bytef *) data;
        z.avail_in = size;
        z.next_out = (Bytef *) out;
        z.avail_out = cap;
        r = deflate(&z, Z_FINISH);
        *ret_size = z.total_out;
        deflateEnd(&z);
        if (r != Z_STREAM_END)
                return -EIO;
        *ret = TAKE_PTR(out);
        return 0;
}

/* "data:;base64,…": what Ignition and Butane take for inline contents of any bytes. */
char *data_url(const void *data, size_t size) {
        _cleanup_free_ char *b = base64(data, size);
        char *url;

        if (!b || asprintf(&url, "data:;base64,%s", b) < 0)
                return NULL;
        return url;
}

char *replace_all(const char *s, const char *from, const char *to) {
        size_t n = 0, lf = strlen(from), lt = strlen(to);
        const char *q;
        char *out, *w;

        for (q = s; (q = strstr(q, from)); q += lf)
                n++;
        out = malloc(strlen(s) + n * lt + 1);
        if (!out)
                return NULL;
        for (w = out; (q = strstr(s, from)); s = q + lf) {
                memcpy(w, s, q - s);
                w += q - s;
                memcpy(w, to, lt);
                w += lt;
        }
        strcpy(w, s);
        return out;
}

/* ---- Butane YAML ---- */

/* A YAML double-quoted scalar: JSON's string syntax is a subset of it. */
static int yaml_quoted(FILE *f, const char *s, size_t n) {
        _cleanup_json_ json_t *v = json_stringn(s, n);
        _cleanup_free_ char *q = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;

        if (!q)
                return -ENOMEM;
        fputs(q, f);
        return 0;
}

/* A literal block (|) where the text reads as it is, else a quoted scalar. */
int yaml_text(FILE *f, const char *key, const char *s, size_t n, int indent) {
        bool block = n > 0 && s[n - 1] == '\n' && s[0] != ' ' && s[0] != '\n' && (n < 2 || s[n - 2] != '\n') &&
                     memchr(s, 0, n) == NULL;

        for (size_t i = 0; block && i < n; i++)
                if ((unsigned char) s[i] < 0x20 && s[i] != '\n' && s[i] != '\t')
                        block = false;
        /* a line of blanks only would change the block's indentation */
        for (size_t i = 0; block && i < n; i++)
                if ((i == 0 || s[i - 1] == '\n') && (s[i] == ' ' || s[i] == '\t')) {
                        size_t j = i;
                        while (j < n && (s[j] == ' ' || s[j] == '\t'))
                                j++;
                        if (j == n || s[j] == '\n')
                                block = false;
                }
        fprintf(f, "%*s%s: ", indent, "", key);
        if (!block) {
                int r = yaml_quoted(f, s, n);
                fputc('\n', f);
                return r;
        }
        fputs("|\n", f);
        /* the block is indented below the key (below the key of a "- key:" item too) */
        if (strncmp(key, "- ", 2) == 0)
                indent += 2;
        for (size_t i = 0; i < n;) {
                const char *nl = memchr(s + i, '\n', n - i);
                size_t len = nl - (s + i);

                if (len > 0)
                        fprintf(f, "%*s%.*s\n", indent + 2, "", (int) len, s + i);
                else
                        fputc('\n', f);
                i += len + 1;
        }
        return 0;
}

int yaml_string(FILE *f, const char *key, const char *s, int indent) {
        int r;

        fprintf(f, "%*s%s: ", indent, "", key);
        r = yaml_quoted(f, s, strlen(s));
        fputc('\n', f);
        return r;
}
