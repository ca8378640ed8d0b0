/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Number parsing that refuses what atoi() would silently accept: empty strings, signs where none belong,
 * trailing garbage, overflow. All return 0 or -EINVAL / -ERANGE and write *ret only on success. */
int safe_atou64(const char *s, uint64_t *ret);
int safe_atou(const char *s, unsigned *ret);
int safe_atoi(const char *s, int *ret);

/* "256M", "1G", "512Ki", "1048576": bytes, base 1024. Suffixes K, M, G, T, optionally followed by "i" or "iB",
 * or "B" alone. No fractions, no negative values, no overflow. */
int parse_size(const char *s, uint64_t *ret);

/* "10%" → 10 (a percentage 0..100). */
int parse_percent(const char *s, unsigned *ret);

/* Formats bytes as the shortest exact or one-decimal human string ("256M", "1.5G", "1000B"). */
const char *format_size(char *buf, size_t len, uint64_t bytes);

/* A CPU amount as a JSON number (0.5 = half a CPU) to millicores, refusing negative, NaN and absurd values. */
int parse_cpu_millis(double cpu, uint64_t *ret);

#define FORMAT_SIZE_MAX 32

/* The small state files (a stop mark, an update mark, a rollback record): lines KEY=VALUE, one of them
 * version=N. Calls f(key, value, userdata) for every other line (f ignores keys it does not know: a newer
 * ballastd's, of the same version). A line without '=', a missing or zero version, or f's error: -EINVAL (or
 * f's); a version above max_version: -EPROTONOSUPPORT. */
int parse_versioned_keys(const char *text, uint64_t max_version,
                         int (*f)(const char *key, const char *value, void *userdata), void *userdata);
