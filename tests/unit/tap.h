/* SPDX-License-Identifier: MIT */
#pragma once

/* Test Anything Protocol, the few calls our tests need. Each test program prints "ok"/"not ok" lines and a
 * trailing plan, which automake's tap-driver.sh reads. */

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* one count per program, shared by every file of it (a test and its fixture, e.g. tests/unit/varlink-fixture.c):
 * weak, so each file that includes this header may define them and the linker keeps one */
__attribute__((weak)) unsigned tap_count, tap_failures;

__attribute__((format(printf, 4, 5), unused)) static int tap_ok(int pass, const char *file, int line,
                                                                 const char *fmt, ...) {
        va_list ap;

        printf("%s %u - ", pass ? "ok" : "not ok", ++tap_count);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
        if (!pass) {
                printf("#   failed at %s:%d\n", file, line);
                tap_failures++;
        }
        fflush(stdout);
        return pass;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

#define is_int(got, want, ...)                                                                       \
        ({                                                                                           \
                long long _g = (long long) (got), _w = (long long) (want);                           \
                int _p = ok(_g == _w, __VA_ARGS__);                                                  \
                if (!_p)                                                                             \
                        printf("#   got %lld, want %lld\n", _g, _w);                                 \
                _p;                                                                                  \
        })

#define is_str(got, want, ...)                                                                       \
        ({                                                                                           \
                const char *_g = (got), *_w = (want);                                                \
                int _p = ok(_g && _w ? strcmp(_g, _w) == 0 : _g == _w, __VA_ARGS__);                 \
                if (!_p)                                                                             \
                        printf("#   got \"%s\"\n#  want \"%s\"\n", _g ? _g : "(null)", _w ? _w : "(null)"); \
                _p;                                                                                  \
        })

#define diag(...)                      \
        do {                           \
                printf("# ");          \
                printf(__VA_ARGS__);   \
                printf("\n");          \
        } while (0)

__attribute__((unused)) static int tap_done(void) {
        printf("1..%u\n", tap_count);
        return tap_failures ? 1 : 0;
}
