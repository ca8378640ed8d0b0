/* SPDX-License-Identifier: MIT */
#pragma once

/* ballast-ignition's output encodings (encode.c). Each returns NULL or a negative errno on failure. */

#include <stddef.h>
#include <stdio.h>

/* "…" of 128 hex digits, of SHA-512 over the bytes. */
char *sha512_hex(const void *data, size_t size);
char *base64(const void *data, size_t size);
/* gzip at level 9, with a gzip header. */
int gzip_compress(const void *data, size_t size, char **ret, size_t *ret_size);
/* "data:;base64,…": what Ignition and Butane take for inline contents of any bytes. */
char *data_url(const void *data, size_t size);
/* s with every "from" replaced by "to". */
char *replace_all(const char *s, const char *from, const char *to);

/* "KEY: VALUE" at indent: a literal block (|) where the text reads as it is, else a quoted scalar. */
int yaml_text(FILE *f, const char *key, const char *s, size_t n, int indent);
/* "KEY: "VALUE"" at indent. */
int yaml_string(FILE *f, const char *key, const char *s, int indent);
