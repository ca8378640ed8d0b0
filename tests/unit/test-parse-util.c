/* SPDX-License-Identifier: MIT */
/* src/shared/parse-util: number, size, percentage and CPU parsing, and size formatting. */

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>

#include "shared/macro.h"
#include "shared/parse-util.h"
#include "tap.h"

/* Sentinel written into out-params before each call: a failing parser must leave it alone. */
#define UNTOUCHED 0xdeadbeefU

static void test_safe_atou64(void) {
        static const struct {
                const char *s;
                int r;
                uint64_t v;
        } cases[] = {
                { "0", 0, 0 },
                { "1", 0, 1 },
                { "007", 0, 7 },
                { "18446744073709551615", 0, UINT64_MAX },
                { "18446744073709551616", -ERANGE, 0 },
                { "99999999999999999999999", -ERANGE, 0 },
                { "", -EINVAL, 0 },
                { "-1", -EINVAL, 0 },
                { "-0", -EINVAL, 0 },
                { "+1", -EINVAL, 0 },
                { " 1", -EINVAL, 0 },
                { "1 ", -EINVAL, 0 },
                { "\t1", -EINVAL, 0 },
                { "12a", -EINVAL, 0 },
                { "0x10", -EINVAL, 0 },
                { "1.0", -EINVAL, 0 },
                { "a", -EINVAL, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint64_t v = UNTOUCHED;
                int r = safe_atou64(cases[i].s, &v);

                is_int(r, cases[i].r, "safe_atou64(\"%s\") returns %d", cases[i].s, cases[i].r);
                if (cases[i].r == 0)
                        ok(v == cases[i].v, "safe_atou64(\"%s\") = %" PRIu64, cases[i].s, cases[i].v);
                else
                        ok(v == UNTOUCHED, "safe_atou64(\"%s\") leaves *ret alone on failure", cases[i].s);
        }
        is_int(safe_atou64(NULL, &(uint64_t) { 0 }), -EINVAL, "safe_atou64(NULL) is -EINVAL");
}

static void test_safe_atou(void) {
        static const struct {
                const char *s;
                int r;
                unsigned v;
        } cases[] = {
                { "0", 0, 0 },
                { "42", 0, 42 },
                { "4294967295", 0, UINT_MAX },
                { "4294967296", -ERANGE, 0 },
                { "18446744073709551616", -ERANGE, 0 },
                { "", -EINVAL, 0 },
                { "-1", -EINVAL, 0 },
                { " 1", -EINVAL, 0 },
                { "1 ", -EINVAL, 0 },
                { "1k", -EINVAL, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                unsigned v = UNTOUCHED;
                int r = safe_atou(cases[i].s, &v);

                is_int(r, cases[i].r, "safe_atou(\"%s\") returns %d", cases[i].s, cases[i].r);
                is_int(v, cases[i].r == 0 ? cases[i].v : UNTOUCHED, "safe_atou(\"%s\") value", cases[i].s);
        }
}

static void test_safe_atoi(void) {
        static const struct {
                const char *s;
                int r;
                int v;
        } cases[] = {
                { "0", 0, 0 },
                { "-1", 0, -1 },
                { "+5", 0, 5 },
                { "2147483647", 0, INT_MAX },
                { "-2147483648", 0, INT_MIN },
                { "2147483648", -ERANGE, 0 },
                { "-2147483649", -ERANGE, 0 },
                { "99999999999999999999", -ERANGE, 0 },
                { "-99999999999999999999", -ERANGE, 0 },
                { "", -EINVAL, 0 },
                { "-", -EINVAL, 0 },
                { "+", -EINVAL, 0 },
                { " 1", -EINVAL, 0 },
                { "1 ", -EINVAL, 0 },
                { "12x", -EINVAL, 0 },
                { "x", -EINVAL, 0 },
                { "1.5", -EINVAL, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int v = 12345;
                int r = safe_atoi(cases[i].s, &v);

                is_int(r, cases[i].r, "safe_atoi(\"%s\") returns %d", cases[i].s, cases[i].r);
                is_int(v, cases[i].r == 0 ? cases[i].v : 12345, "safe_atoi(\"%s\") value", cases[i].s);
        }
}

static void test_parse_size(void) {
        static const struct {
                const char *s;
                int r;
                uint64_t v;
        } cases[] = {
                { "0", 0, 0 },
                { "0K", 0, 0 },
                { "1048576", 0, 1048576 },
                { "1000B", 0, 1000 },
                { "1K", 0, 1024 },
                { "1Ki", 0, 1024 },
                { "512KiB", 0, 512 * 1024 },
                { "256M", 0, 256ULL << 20 },
                { "3Mi", 0, 3ULL << 20 },
                { "3MiB", 0, 3ULL << 20 },
                { "1G", 0, 1ULL << 30 },
                { "2Gi", 0, 2ULL << 30 },
                { "2GiB", 0, 2ULL << 30 },
                { "1T", 0, 1ULL << 40 },
                { "5Ti", 0, 5ULL << 40 },
                { "5TiB", 0, 5ULL << 40 },
                { "18446744073709551615", 0, UINT64_MAX },
                { "18446744073709551615B", 0, UINT64_MAX },
                { "16777215T", 0, 16777215ULL << 40 }, /* the largest T value that fits */
                { "16777216T", -ERANGE, 0 },
                { "99999999999T", -ERANGE, 0 },
                { "18014398509481984K", -ERANGE, 0 }, /* 2^54 K = 2^64 */
                { "18446744073709551616", -ERANGE, 0 },
                { "12XB", -EINVAL, 0 },
                { "1KB", -EINVAL, 0 }, /* "B" only alone or after "i" */
                { "1k", -EINVAL, 0 },
                { "1m", -EINVAL, 0 },
                { "1P", -EINVAL, 0 },
                { "1iB", -EINVAL, 0 },
                { "1.5G", -EINVAL, 0 },
                { "-1", -EINVAL, 0 },
                { " 1", -EINVAL, 0 },
                { "1 ", -EINVAL, 0 },
                { "1 G", -EINVAL, 0 },
                { "", -EINVAL, 0 },
                { "G", -EINVAL, 0 },
                { "+1G", -EINVAL, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint64_t v = UNTOUCHED;
                int r = parse_size(cases[i].s, &v);

                is_int(r, cases[i].r, "parse_size(\"%s\") returns %d", cases[i].s, cases[i].r);
                if (cases[i].r == 0)
                        ok(v == cases[i].v, "parse_size(\"%s\") = %" PRIu64 " (got %" PRIu64 ")", cases[i].s,
                           cases[i].v, v);
                else
                        ok(v == UNTOUCHED, "parse_size(\"%s\") leaves *ret alone on failure", cases[i].s);
        }
        is_int(parse_size(NULL, &(uint64_t) { 0 }), -EINVAL, "parse_size(NULL) is -EINVAL");
}

static void test_parse_percent(void) {
        static const struct {
                const char *s;
                int r;
                unsigned v;
        } cases[] = {
                { "0%", 0, 0 },
                { "10%", 0, 10 },
                { "100%", 0, 100 },
                { "101%", -ERANGE, 0 },
                { "99999999999%", -ERANGE, 0 },
                { "10", -EINVAL, 0 },
                { "%", -EINVAL, 0 },
                { "", -EINVAL, 0 },
                { "-1%", -EINVAL, 0 },
                { " 5%", -EINVAL, 0 },
                { "5 %", -EINVAL, 0 },
                { "5%%", -EINVAL, 0 },
                { "1.5%", -EINVAL, 0 },
                { "x%", -EINVAL, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                unsigned v = UNTOUCHED;
                int r = parse_percent(cases[i].s, &v);

                is_int(r, cases[i].r, "parse_percent(\"%s\") returns %d", cases[i].s, cases[i].r);
                is_int(v, cases[i].r == 0 ? cases[i].v : UNTOUCHED, "parse_percent(\"%s\") value", cases[i].s);
        }
        is_int(parse_percent(NULL, &(unsigned) { 0 }), -EINVAL, "parse_percent(NULL) is -EINVAL");
}

static void test_format_size(void) {
        static const struct {
                uint64_t bytes;
                const char *s;
        } cases[] = {
                { 0, "0B" },
                { 1, "1B" },
                { 1000, "1000B" },
                { 1023, "1023B" },
                { 1024, "1K" },
                { 1536, "1.5K" },
                { 512ULL << 10, "512K" },
                { 1ULL << 20, "1M" },
                { 256ULL << 20, "256M" },
                { (1ULL << 30) + (1ULL << 29), "1.5G" },
                { 1ULL << 30, "1G" },
                { 1ULL << 40, "1T" },
                { 3ULL << 40, "3T" },
                { 2048ULL << 40, "2048T" }, /* T is the largest unit */
                { 16777215ULL << 40, "16777215T" },
        };
        char buf[FORMAT_SIZE_MAX];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                is_str(format_size(buf, sizeof(buf), cases[i].bytes), cases[i].s, "format_size(%" PRIu64 ") = %s",
                       cases[i].bytes, cases[i].s);

        ok(format_size(buf, sizeof(buf), 42) == buf, "format_size() returns its buffer");
        format_size(buf, sizeof(buf), UINT64_MAX);
        ok(strlen(buf) < FORMAT_SIZE_MAX - 1, "format_size(UINT64_MAX) = \"%s\" fits FORMAT_SIZE_MAX", buf);

        /* What format_size() prints exactly, parse_size() reads back to the same number. */
        static const uint64_t round_trips[] = {
                0, 1, 1000, 1023, 1024, 4096, 1ULL << 20, 256ULL << 20, 768ULL << 20, 1ULL << 30, 7ULL << 30,
                1ULL << 40, 2048ULL << 40, 16777215ULL << 40,
        };
        for (size_t i = 0; i < ELEMENTSOF(round_trips); i++) {
                uint64_t back = UNTOUCHED;

                format_size(buf, sizeof(buf), round_trips[i]);
                is_int(parse_size(buf, &back), 0, "parse_size(format_size(%" PRIu64 ") = \"%s\") succeeds",
                       round_trips[i], buf);
                ok(back == round_trips[i], "\"%s\" reads back as %" PRIu64, buf, round_trips[i]);
        }

        /* A rounded one-decimal string is for humans only: parse_size() refuses fractions rather than guess. */
        format_size(buf, sizeof(buf), 1536);
        is_int(parse_size(buf, &(uint64_t) { 0 }), -EINVAL, "a rounded \"%s\" is not read back", buf);
}

static void test_parse_cpu_millis(void) {
        static const struct {
                double cpu;
                int r;
                uint64_t millis;
        } cases[] = {
                { 0, 0, 0 },
                { 0.5, 0, 500 },
                { 0.25, 0, 250 },
                { 1, 0, 1000 },
                { 1.234, 0, 1234 },
                { 0.0004, 0, 0 },   /* rounds to the nearest millicore */
                { 0.0006, 0, 1 },
                { 64, 0, 64000 },
                { 1e6, 0, 1000000000 }, /* the largest accepted */
                { 1e6 + 1, -ERANGE, 0 },
                { 1e300, -ERANGE, 0 },
                { -0.5, -EINVAL, 0 },
                { -1e-9, -EINVAL, 0 },
                { -1e300, -EINVAL, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint64_t v = UNTOUCHED;
                int r = parse_cpu_millis(cases[i].cpu, &v);

                is_int(r, cases[i].r, "parse_cpu_millis(%g) returns %d", cases[i].cpu, cases[i].r);
                if (cases[i].r == 0)
                        ok(v == cases[i].millis, "parse_cpu_millis(%g) = %" PRIu64 " (got %" PRIu64 ")",
                           cases[i].cpu, cases[i].millis, v);
                else
                        ok(v == UNTOUCHED, "parse_cpu_millis(%g) leaves *ret alone on failure", cases[i].cpu);
        }

        uint64_t v = UNTOUCHED;
        is_int(parse_cpu_millis(NAN, &v), -EINVAL, "parse_cpu_millis(NaN) is -EINVAL");
        is_int(parse_cpu_millis(-NAN, &v), -EINVAL, "parse_cpu_millis(-NaN) is -EINVAL");
        is_int(parse_cpu_millis(INFINITY, &v), -ERANGE, "parse_cpu_millis(inf) is -ERANGE");
        is_int(parse_cpu_millis(-INFINITY, &v), -EINVAL, "parse_cpu_millis(-inf) is -EINVAL");
        ok(v == UNTOUCHED, "NaN and infinities leave *ret alone");
}

int main(void) {
        test_safe_atou64();
        test_safe_atou();
        test_safe_atoi();
        test_parse_size();
        test_parse_percent();
        test_format_size();
        test_parse_cpu_millis();
        return tap_done();
}
