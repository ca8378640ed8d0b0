/* SPDX-License-Identifier: MIT */
#pragma once

/* Table-driven validation of jansson objects. Every config, spec and Varlink parameter object goes through
 * json_dispatch(), so an unknown key, a wrong type or a bad value is refused the same way everywhere, with the
 * JSON path of the offending value ("updates.windows[0].start: ...").
 *
 * jansson keeps no source positions, so json_locate() finds the line and column of a path in the text that was
 * parsed, for error messages about files. It only scans text jansson has already accepted. */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "shared/macro.h"

/* jansson itself provides json_decrefp() for GCC and clang */
#define _cleanup_json_ _cleanup_(json_decrefp)

typedef struct JsonError {
        char path[256];
        char message[768];
} JsonError;

int json_error_set(JsonError *e, const char *path, const char *format, ...) _printf_(3, 4);

typedef int (*JsonDispatchFunc)(const char *path, json_t *v, void *target, JsonError *e);

typedef enum JsonFieldFlags {
        JSON_MANDATORY = 1 << 0,
        JSON_NULLABLE = 1 << 1, /* null is accepted and means "unset" */
} JsonFieldFlags;

typedef struct JsonField {
        const char *name;
        JsonDispatchFunc func;
        size_t offset;
        JsonFieldFlags flags;
} JsonField;

/* Dispatches every key of obj through the table (target = base + offset). Unknown keys, missing mandatory
 * keys and values a dispatcher refuses are errors: -EINVAL with e filled in. */
int json_dispatch(const char *path, json_t *obj, const JsonField table[], void *base, JsonError *e);

/* "an object", "a string", … for error messages. */
const char *json_type_name(const json_t *v);

/* Builds "path.key" or "path[i]" into buf. */
const char *json_path_key(char *buf, size_t len, const char *path, const char *key);
const char *json_path_index(char *buf, size_t len, const char *path, size_t i);

/* Dispatchers for the common types. */
int json_dispatch_string(const char *path, json_t *v, void *target, JsonError *e);        /* char ** */
int json_dispatch_bool(const char *path, json_t *v, void *target, JsonError *e);          /* bool * */
int json_dispatch_uint(const char *path, json_t *v, void *target, JsonError *e);          /* unsigned * */
int json_dispatch_uint64(const char *path, json_t *v, void *target, JsonError *e);        /* uint64_t * */
int json_dispatch_size(const char *path, json_t *v, void *target, JsonError *e);          /* uint64_t *, "256M" or bytes */
int json_dispatch_strv(const char *path, json_t *v, void *target, JsonError *e);          /* char *** */
int json_dispatch_string_map(const char *path, json_t *v, void *target, JsonError *e);    /* json_t ** of strings */
int json_dispatch_cpu(const char *path, json_t *v, void *target, JsonError *e);           /* uint64_t * millicores */
int json_dispatch_absolute_path(const char *path, json_t *v, void *target, JsonError *e); /* char ** */

/* Line and column (1-based) of the value at path ("a.b[2].c") in text. Returns 0 or -ENOENT. */
int json_locate(const char *text, size_t size, const char *path, unsigned *ret_line, unsigned *ret_column);

/* The column of a jansson parse error for "file:line:column" messages, which count from 1: jansson says
 * column 0 for an error at the end of the input right after a newline (or of an empty input). */
int json_error_column(const json_error_t *e);

/* Formats "path: message" or "file:line:col: path: message" for humans. */
char *json_error_format(const JsonError *e, const char *file, const char *text, size_t size);

/* json_dumps() that returns NULL-safe memory the caller frees. */
char *json_dump_compact(const json_t *v);
