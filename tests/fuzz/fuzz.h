/* SPDX-License-Identifier: MIT */
#pragma once

/* What every harness in tests/fuzz/ shares. A harness defines LLVMFuzzerTestOneInput(); it is linked either with
 * libFuzzer (./configure --enable-fuzz with clang: `make fuzz`) or with replay.c, which feeds it every file of
 * its seed corpus (tests/fuzz/corpus/TARGET/) under `make check`, so the corpora are regression tests in every
 * build. A harness checks invariants, not only "no crash": a violated one is FUZZ_CHECK(), which aborts with
 * what failed, and that is a crash to libFuzzer and a failed test to the replay. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                                \
        do {                                                                                            \
                if (!(cond)) {                                                                          \
                        fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, #cond);  \
                        abort();                                                                        \
                }                                                                                       \
        } while (0)

/* The input as a NUL-terminated string (parsers that take C strings); the caller frees it. Bytes after an
 * embedded NUL are unreachable through a C string, as in the daemon, which reads files and bodies with their
 * size and refuses NULs before such parsers see them. */
static inline char *fuzz_strndup(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);

        if (!s)
                abort();
        for (size_t i = 0; i < size; i++)
                s[i] = (char) data[i];
        s[size] = 0;
        return s;
}

/* "LINE:COLUMN:" at the start of s (the position after "FILE: " in the parsers' error messages): the two numbers. */
static inline bool fuzz_error_position(const char *s, unsigned *ret_line, unsigned *ret_col) {
        char *end;

        if (*s < '0' || *s > '9')
                return false;
        *ret_line = (unsigned) strtoul(s, &end, 10);
        if (*end != ':' || end[1] < '0' || end[1] > '9')
                return false;
        *ret_col = (unsigned) strtoul(end + 1, &end, 10);
        return *end == ':';
}

/* How many lines the input has (1 + its newlines): an error's line must not be past it. */
static inline unsigned fuzz_count_lines(const uint8_t *data, size_t size) {
        unsigned n = 1;

        for (size_t i = 0; i < size; i++)
                n += data[i] == '\n';
        return n;
}
