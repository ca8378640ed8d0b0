/* SPDX-License-Identifier: MIT */
/* src/shared/json-util: table-driven dispatch of jansson objects, the dispatchers, json_locate() and
 * json_error_format(). */

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "shared/json-util.h"
#include "shared/macro.h"
#include "tap.h"

typedef struct Inner {
        unsigned n;
        bool on;
} Inner;

typedef struct Thing {
        char *name;
        bool flag;
        unsigned count;
        uint64_t big;
        uint64_t size;
        char **list;
        json_t *labels;
        uint64_t cpu;
        char *path;
        char *opt;
        Inner inner;
} Thing;

static void thing_done(Thing *t) {
        free(t->name);
        strv_free(t->list);
        json_decref(t->labels);
        free(t->path);
        free(t->opt);
}

static int dispatch_inner(const char *path, json_t *v, void *target, JsonError *e) {
        static const JsonField table[] = {
                { "n", json_dispatch_uint, offsetof(Inner, n), JSON_MANDATORY },
                { "on", json_dispatch_bool, offsetof(Inner, on), 0 },
                {}
        };
        return json_dispatch(path, v, table, target, e);
}

static const JsonField thing_table[] = {
        { "name", json_dispatch_string, offsetof(Thing, name), JSON_MANDATORY },
        { "flag", json_dispatch_bool, offsetof(Thing, flag), 0 },
        { "count", json_dispatch_uint, offsetof(Thing, count), 0 },
        { "big", json_dispatch_uint64, offsetof(Thing, big), 0 },
        { "size", json_dispatch_size, offsetof(Thing, size), 0 },
        { "list", json_dispatch_strv, offsetof(Thing, list), 0 },
        { "labels", json_dispatch_string_map, offsetof(Thing, labels), 0 },
        { "cpu", json_dispatch_cpu, offsetof(Thing, cpu), 0 },
        { "path", json_dispatch_absolute_path, offsetof(Thing, path), 0 },
        { "opt", json_dispatch_string, offsetof(Thing, opt), JSON_NULLABLE },
        { "inner", dispatch_inner, offsetof(Thing, inner), 0 },
        {}
};

static json_t *load(const char *text) {
        json_error_t err;
        json_t *v = json_loads(text, JSON_DECODE_ANY, &err);
        if (!v)
                diag("bad fixture %s: %s", text, err.text);
        return v;
}

static void test_dispatch_ok(void) {
        _cleanup_json_ json_t *v = load("{\"name\": \"web\", \"flag\": true, \"count\": 4294967295,"
                                        " \"big\": 9223372036854775807, \"size\": \"256M\", \"list\": [\"a\", \"b\"],"
                                        " \"labels\": {\"zone\": \"a\"}, \"cpu\": 0.5, \"path\": \"/etc/x\","
                                        " \"opt\": null, \"inner\": {\"n\": 3, \"on\": true}}");
        _cleanup_(thing_done) Thing t = { .count = 7 };
        JsonError e = {};

        is_int(json_dispatch("", v, thing_table, &t, &e), 0, "json_dispatch() accepts a full valid object");
        is_str(t.name, "web", "string");
        ok(t.flag, "bool");
        ok(t.count == 4294967295U, "uint at UINT32_MAX");
        ok(t.big == 9223372036854775807ULL, "uint64 at the largest JSON integer");
        ok(t.size == 256ULL << 20, "size \"256M\"");
        ok(strv_length(t.list) == 2 && streq(t.list[0], "a") && streq(t.list[1], "b") && !t.list[2],
           "strv [\"a\", \"b\"], NULL-terminated");
        ok(json_is_object(t.labels) && json_object_size(t.labels) == 1 &&
                   streq(strempty(json_string_value(json_object_get(t.labels, "zone"))), "a"),
           "string map {\"zone\": \"a\"}");
        is_int(t.cpu, 500, "cpu 0.5 = 500 millicores");
        is_str(t.path, "/etc/x", "absolute path");
        ok(!t.opt, "nullable null leaves the target unset");
        ok(t.inner.n == 3 && t.inner.on, "nested object");
        is_str(e.path, "", "no error path on success");
        is_str(e.message, "", "no error message on success");

        /* Dispatching again replaces owned values without leaking (valgrind checks), and null leaves what
         * was there. */
        _cleanup_json_ json_t *v2 = load("{\"name\": \"db\", \"list\": [], \"labels\": {}, \"size\": 1024,"
                                         " \"cpu\": 2, \"opt\": \"set\"}");
        is_int(json_dispatch("", v2, thing_table, &t, &e), 0, "a second dispatch into the same struct");
        is_str(t.name, "db", "string replaced");
        ok(t.list && !t.list[0], "strv replaced by an empty (non-NULL) one");
        ok(json_object_size(t.labels) == 0, "string map replaced");
        ok(t.size == 1024, "size as a plain integer of bytes");
        is_int(t.cpu, 2000, "cpu as an integer (2 CPUs = 2000)");
        is_str(t.opt, "set", "nullable with a value");
        _cleanup_json_ json_t *v3 = load("{\"name\": \"db\", \"opt\": null}");
        is_int(json_dispatch("", v3, thing_table, &t, &e), 0, "a third dispatch with null for the nullable key");
        is_str(t.opt, "set", "null keeps what was there (the default)");
}

static void test_dispatch_errors(void) {
        static const struct {
                const char *path;
                const char *json;
                const char *want; /* json_error_format(&e, NULL, ...) */
        } cases[] = {
                { "", "{\"name\": \"x\", \"nope\": 1}", "nope: unknown key" },
                { "a", "{\"name\": \"x\", \"b\": 1}", "a.b: unknown key" },
                { "a", "{\"name\": \"x\", \"inner\": {\"n\": 1, \"m\": 2}}", "a.inner.m: unknown key" },
                { "", "{}", "name: is required" },
                { "a", "{\"flag\": true}", "a.name: is required" },
                { "", "{\"name\": \"x\", \"inner\": {}}", "inner.n: is required" },
                { "", "{\"nope\": 1}", "nope: unknown key" }, /* unknown keys are reported before missing ones */
                { "", "[]", "expected an object, got an array" },
                { "a", "\"s\"", "a: expected an object, got a string" },
                { "", "{\"name\": \"x\", \"inner\": 5}", "inner: expected an object, got an integer" },
                { "", "{\"name\": 1}", "name: expected a string, got an integer" },
                { "", "{\"name\": null}", "name: expected a string, got null" },
                { "", "{\"name\": [\"x\"]}", "name: expected a string, got an array" },
                { "", "{\"name\": \"x\", \"flag\": \"yes\"}", "flag: expected a boolean, got a string" },
                { "", "{\"name\": \"x\", \"flag\": 1}", "flag: expected a boolean, got an integer" },
                { "", "{\"name\": \"x\", \"count\": 1.5}", "count: expected an integer, got a number" },
                { "", "{\"name\": \"x\", \"count\": 1.0}", "count: expected an integer, got a number" },
                { "", "{\"name\": \"x\", \"count\": -1}", "count: -1 is negative" },
                { "", "{\"name\": \"x\", \"count\": 4294967296}", "count: 4294967296 is too large" },
                { "", "{\"name\": \"x\", \"big\": true}", "big: expected an integer, got a boolean" },
                { "", "{\"name\": \"x\", \"big\": -9}", "big: -9 is negative" },
                { "", "{\"name\": \"x\", \"size\": \"12XB\"}",
                  "size: \"12XB\" is not a size (use bytes or K, M, G, T)" },
                { "", "{\"name\": \"x\", \"size\": \"1.5G\"}",
                  "size: \"1.5G\" is not a size (use bytes or K, M, G, T)" },
                { "", "{\"name\": \"x\", \"size\": \"99999999999T\"}", "size: \"99999999999T\" is too large" },
                { "", "{\"name\": \"x\", \"size\": [1]}", "size: expected a size such as \"256M\", got an array" },
                { "", "{\"name\": \"x\", \"size\": 1.5}", "size: expected a size such as \"256M\", got a number" },
                { "", "{\"name\": \"x\", \"size\": -5}", "size: -5 is negative" },
                { "", "{\"name\": \"x\", \"list\": \"a\"}", "list: expected an array of strings, got a string" },
                { "", "{\"name\": \"x\", \"list\": [\"a\", 2]}", "list[1]: expected a string, got an integer" },
                { "", "{\"name\": \"x\", \"labels\": {\"k\": 1}}", "labels.k: expected a string, got an integer" },
                { "", "{\"name\": \"x\", \"labels\": []}", "labels: expected an object of strings, got an array" },
                { "", "{\"name\": \"x\", \"cpu\": \"1\"}", "cpu: expected a number of CPUs such as 0.5, got a string" },
                { "", "{\"name\": \"x\", \"cpu\": -1}", "cpu: -1 is not a number of CPUs" },
                { "", "{\"name\": \"x\", \"cpu\": 2e6}", "cpu: 2e+06 is not a number of CPUs" },
                { "", "{\"name\": \"x\", \"path\": \"rel/x\"}", "path: \"rel/x\" is not an absolute path" },
                { "", "{\"name\": \"x\", \"path\": \"\"}", "path: \"\" is not an absolute path" },
                { "", "{\"name\": \"x\", \"path\": \"/a/../b\"}", "path: \"/a/../b\" contains \"..\"" },
                { "", "{\"name\": \"x\", \"path\": \"/a/..\"}", "path: \"/a/..\" contains \"..\"" },
                { "", "{\"name\": \"x\", \"path\": \"/..\"}", "path: \"/..\" contains \"..\"" },
                { "", "{\"name\": \"x\", \"path\": 3}", "path: expected a string, got an integer" },
                { "", "{\"name\": \"x\", \"opt\": {}}", "opt: expected a string, got an object" },
                { "", "{\"name\": \"x\", \"inner\": {\"n\": \"3\"}}", "inner.n: expected an integer, got a string" },
                { "x", "{\"name\": \"x\", \"inner\": {\"n\": 1, \"on\": null}}",
                  "x.inner.on: expected a boolean, got null" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_json_ json_t *v = load(cases[i].json);
                _cleanup_(thing_done) Thing t = {};
                _cleanup_free_ char *msg = NULL;
                JsonError e = {};

                is_int(json_dispatch(cases[i].path, v, thing_table, &t, &e), -EINVAL, "%s at \"%s\" is refused",
                       cases[i].json, cases[i].path);
                msg = json_error_format(&e, NULL, NULL, 0);
                is_str(msg, cases[i].want, "  with \"%s\"", cases[i].want);
        }

        /* Values that pass, next to the ones that do not. */
        static const char *const good[] = {
                "{\"name\": \"\"}",                          /* an empty string is a string */
                "{\"name\": \"x\", \"path\": \"/a/..b\"}",   /* "..b" is a name, not the parent */
                "{\"name\": \"x\", \"path\": \"/\"}",
                "{\"name\": \"x\", \"size\": 0}",
                "{\"name\": \"x\", \"cpu\": 0}",
                "{\"name\": \"x\", \"count\": 0}",
                "{\"name\": \"x\", \"labels\": {}}",
                "{\"name\": \"x\", \"list\": []}",
        };
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                _cleanup_json_ json_t *v = load(good[i]);
                _cleanup_(thing_done) Thing t = {};
                JsonError e = {};

                is_int(json_dispatch("", v, thing_table, &t, &e), 0, "%s is accepted", good[i]);
        }
}

static void test_paths(void) {
        char buf[64];

        is_str(json_path_key(buf, sizeof(buf), "", "a"), "a", "json_path_key(\"\", \"a\")");
        is_str(json_path_key(buf, sizeof(buf), NULL, "a"), "a", "json_path_key(NULL, \"a\")");
        is_str(json_path_key(buf, sizeof(buf), "x.y", "a"), "x.y.a", "json_path_key(\"x.y\", \"a\")");
        is_str(json_path_index(buf, sizeof(buf), "x", 2), "x[2]", "json_path_index(\"x\", 2)");
        is_str(json_path_index(buf, sizeof(buf), "x[0]", 11), "x[0][11]", "json_path_index(\"x[0]\", 11)");
        is_str(json_path_index(buf, sizeof(buf), NULL, 0), "[0]", "json_path_index(NULL, 0)");
        is_str(json_path_key(buf, 4, "abc", "d"), "abc", "json_path_key() truncates to the buffer");
}

static const char locate_text[] =
        "{\n"                                              /* 1 */
        "  \"a\": {\n"                                     /* 2 */
        "    \"b\": [\n"                                   /* 3 */
        "      {\"c\": 1},\n"                              /* 4 */
        "      {\"x\": \"}]\", \"c\": [10, 20]}\n"         /* 5 */
        "    ],\n"                                         /* 6 */
        "    \"s\": \"with \\\"quotes\\\" and {braces}\",\n" /* 7 */
        "    \"n\": 5\n"                                   /* 8 */
        "  },\n"                                           /* 9 */
        "\t\"z\": null, \"last\": {}\n"                    /* 10 */
        "}\n";                                             /* 11 */

static void test_locate(void) {
        static const struct {
                const char *path;
                unsigned line, column;
        } found[] = {
                { "", 1, 1 },
                { "a", 2, 3 },
                { "a.b", 3, 5 },
                { "a.b[0]", 4, 7 },
                { "a.b[0].c", 4, 8 },
                { "a.b[1]", 5, 7 },
                { "a.b[1].x", 5, 8 },
                { "a.b[1].c", 5, 19 },
                { "a.b[1].c[0]", 5, 25 },
                { "a.b[1].c[1]", 5, 29 },
                { "a.s", 7, 5 },
                { "a.n", 8, 5 },
                { "z", 10, 2 },
                { "last", 10, 13 },
        };
        static const char *const missing[] = {
                "q", "a.q", "a.b[2]", "a.b[1].c[2]", "a.b[0].x", "z.x", "a[0]", "a.b.c", "a.n.x", "last.x", "a.b[1].y",
        };
        size_t size = strlen(locate_text);

        /* The fixture is valid JSON: json_locate() only ever sees text jansson accepted. */
        _cleanup_json_ json_t *v = load(locate_text);
        ok(v, "the json_locate() fixture is valid JSON");

        for (size_t i = 0; i < ELEMENTSOF(found); i++) {
                unsigned line = 0, col = 0;
                int r = json_locate(locate_text, size, found[i].path, &line, &col);

                ok(r == 0 && line == found[i].line && col == found[i].column,
                   "json_locate(\"%s\") = %u:%u (got %d, %u:%u)", found[i].path, found[i].line, found[i].column, r,
                   line, col);
        }
        for (size_t i = 0; i < ELEMENTSOF(missing); i++) {
                unsigned line = 4242, col = 4242;

                is_int(json_locate(locate_text, size, missing[i], &line, &col), -ENOENT,
                       "json_locate(\"%s\") is -ENOENT", missing[i]);
                ok(line == 4242 && col == 4242, "  and leaves line and column alone");
        }

        unsigned line = 0, col = 0;
        const char *one = "{\"a\":1,\"b\":2}";
        int r = json_locate(one, strlen(one), "b", &line, &col);
        ok(r == 0 && line == 1 && col == 8, "one line: \"b\" at 1:8 (got %d, %u:%u)", r, line, col);
        /* size bounds the scan: the text need not be NUL-terminated where the size ends */
        ok(json_locate(one, 7, "b", &line, &col) == -ENOENT, "json_locate() does not look past size");
        const char *lead = "\n\n   {\"k\": [ \"v\" ]}";
        line = col = 0;
        r = json_locate(lead, strlen(lead), "k[0]", &line, &col);
        ok(r == 0 && line == 3 && col == 12, "leading blank lines, spaces in the array: k[0] at 3:12 (got %d, %u:%u)",
           r, line, col);
}

static void test_error_format(void) {
        const char *text = "{\n  \"a\": {\"b\": 1}\n}\n";
        size_t size = strlen(text);
        JsonError e = {}, root = {};
        char *s;

        is_int(json_error_set(&e, "a.b", "unknown %s", "key"), -EINVAL, "json_error_set() returns -EINVAL");
        is_str(e.path, "a.b", "json_error_set() records the path");
        is_str(e.message, "unknown key", "json_error_set() formats the message");
        is_int(json_error_set(NULL, "x", "y"), -EINVAL, "json_error_set(NULL, ...) is -EINVAL, no crash");

        s = json_error_format(&e, NULL, NULL, 0);
        is_str(s, "a.b: unknown key", "no file: \"path: message\"");
        free(s);
        s = json_error_format(&e, "f.json", NULL, 0);
        is_str(s, "f.json: a.b: unknown key", "file without text: \"file: path: message\"");
        free(s);
        s = json_error_format(&e, "f.json", text, size);
        is_str(s, "f.json:2:9: a.b: unknown key", "file and text: \"file:line:col: path: message\"");
        free(s);
        s = json_error_format(&e, NULL, text, size);
        is_str(s, "a.b: unknown key", "text without file: no position");
        free(s);

        json_error_set(&e, "a.zz", "is required");
        s = json_error_format(&e, "f.json", text, size);
        is_str(s, "f.json: a.zz: is required", "a path not in the text: \"file: path: message\"");
        free(s);

        json_error_set(&root, "", "expected an object, got an array");
        s = json_error_format(&root, "f.json", "[]", 2);
        is_str(s, "f.json: expected an object, got an array", "empty path with a file: \"file: message\"");
        free(s);
        s = json_error_format(&root, NULL, NULL, 0);
        is_str(s, "expected an object, got an array", "empty path, no file: the message alone");
        free(s);

        /* Truncation of very long messages stays NUL-terminated and within the struct. */
        char longpath[600];
        memset(longpath, 'p', sizeof(longpath) - 1);
        longpath[sizeof(longpath) - 1] = 0;
        json_error_set(&e, longpath, "%s", longpath);
        is_int(strlen(e.path), sizeof(e.path) - 1, "a long path is truncated to the buffer");
        is_int(strlen(e.message), strlen(longpath), "a message that fits is kept whole");
}

static void test_dump(void) {
        _cleanup_json_ json_t *v = load("{\"a\": [1, \"x\", null]}");
        _cleanup_json_ json_t *s = json_string("q\"");
        _cleanup_free_ char *a = json_dump_compact(v), *b = json_dump_compact(s);

        is_str(a, "{\"a\":[1,\"x\",null]}", "json_dump_compact() of an object");
        is_str(b, "\"q\\\"\"", "json_dump_compact() of a bare string");
}

int main(void) {
        test_dispatch_ok();
        test_dispatch_errors();
        test_paths();
        test_locate();
        test_error_format();
        test_dump();
        return tap_done();
}
