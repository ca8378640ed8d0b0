/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

/* FNV-1a, 64 bit: a stable fingerprint of a container body (io.ballast.hash), not a defense (whoever writes the
 * spec controls the body anyway). */
static inline uint64_t fnv1a64(const char *s) {
        uint64_t h = 0xcbf29ce484222325ULL;

        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                h ^= *p;
                h *= 0x100000001b3ULL;
        }
        return h;
}
