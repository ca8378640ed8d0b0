/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-id128.h>

#include "shared/fileio.h"
#include "shared/macro.h"
#include "updates/fleetlock-wire.h"
#include "updates/util.h"
#include "updates/zincati.h"

/* ---- Fedora CoreOS: the stream a deployment follows ---- */

static bool stream_valid(const char *s) {
        return !isempty(s) && strlen(s) <= 64 && updates_all_of(s, "abcdefghijklmnopqrstuvwxyz0123456789._-");
}

int updates_fcos_stream_from_origin(const char *origin, char **ret) {
        const char *slash, *colon, *stream, *before;

        if (!origin || !*origin)
                return -EINVAL;
        slash = strrchr(origin, '/');
        if (!slash || strchr(slash, '@'))
                return -EINVAL; /* a checksum, or an image by digest: no stream */
        colon = strchr(slash, ':');
        if (colon)
                stream = colon + 1; /* an image reference's tag: .../fedora-coreos:STREAM */
        else {
                /* an OSTree ref: [REMOTE:]fedora/ARCH/coreos/STREAM */
                stream = slash + 1;
                before = slash;
                while (before > origin && before[-1] != '/' && before[-1] != ':')
                        before--;
                if ((size_t) (slash - before) != strlen("coreos") || strncmp(before, "coreos", strlen("coreos")) != 0)
                        return -EINVAL;
        }
        if (!stream_valid(stream))
                return -EINVAL;
        *ret = strdup(stream);
        return *ret ? 0 : -ENOMEM;
}

/* ---- Fedora CoreOS: the Zincati drop-in ---- */

char *updates_toml_quote(const char *s) {
        _cleanup_free_ char *buf = NULL; /* declared first: freed after the stream's close updates it */
        _cleanup_(fclose_memstreamp) FILE *f = NULL;
        size_t size;
        char *r;

        if (!s)
                return NULL;
        f = open_memstream(&buf, &size);
        if (!f)
                return NULL;
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                switch (*p) {
                case '"': fputs("\\\"", f); break;
                case '\\': fputs("\\\\", f); break;
                case '\b': fputs("\\b", f); break;
                case '\t': fputs("\\t", f); break;
                case '\n': fputs("\\n", f); break;
                case '\f': fputs("\\f", f); break;
                case '\r': fputs("\\r", f); break;
                default:
                        if (*p < 0x20 || *p == 0x7f)
                                fprintf(f, "\\u%04X", *p);
                        else
                                fputc(*p, f);
                }
        fputc('"', f);
        return updates_memstream_finish(&f, &buf, &r) < 0 ? NULL : r;
}

static bool http_url_valid(const char *s) {
        /* RFC 3986's unreserved and reserved characters and '%': nothing that needs escaping anywhere */
        return updates_url_valid(s, ALNUM "-._~:/?#[]@!$&'()*+,;=%");
}

int updates_render_zincati_dropin(const char *stream, bool enabled, const char *fleet_lock_base_url,
                                  const char *group, char **ret) {
        _cleanup_free_ char *buf = NULL, *qgroup = NULL, *qurl = NULL;
        _cleanup_(fclose_memstreamp) FILE *f = NULL;
        size_t size;

        if (!ret)
                return -EINVAL;
        if (stream && !stream_valid(stream))
                return -EINVAL;
        if (group && !updates_fleetlock_group_valid(group))
                return -EINVAL;
        if (enabled ? !http_url_valid(fleet_lock_base_url)
                    : fleet_lock_base_url && !http_url_valid(fleet_lock_base_url))
                return -EINVAL;

        if (group && !(qgroup = updates_toml_quote(group)))
                return -ENOMEM;
        if (enabled && !(qurl = updates_toml_quote(fleet_lock_base_url)))
                return -ENOMEM;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        fputs("# Written by ballastd from /etc/ballast/ballast.json; edits here are overwritten.\n", f);
        if (stream)
                fprintf(f,
                        "# Stream: %s. Zincati has no stream setting (the node follows the stream it was deployed\n"
                        "# from); ballast refuses to let it finalize an update that leaves the stream or max_version.\n",
                        stream);
        if (group)
                fprintf(f, "\n[identity]\ngroup = %s\n", qgroup);
        fprintf(f, "\n[updates]\nenabled = %s\n", enabled ? "true" : "false");
        if (enabled)
                fprintf(f, "strategy = \"fleet_lock\"\n\n[updates.fleet_lock]\nbase_url = %s\n", qurl);
        return updates_memstream_finish(&f, &buf, ret);
}

/* ---- Zincati's node id ---- */

/* SHA-256 (FIPS 180-4) and HMAC (RFC 2104): the few lines the app-specific ID needs, rather than declaring a
 * dependency on libcrypto for them. */

typedef struct Sha256 {
        uint32_t h[8];
        uint64_t length;
        uint8_t block[64];
        size_t used;
} Sha256;

static const uint32_t sha256_k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t ror32(uint32_t x, unsigned n) {
        return (x >> n) | (x << (32 - n));
}

static void sha256_compress(Sha256 *s, const uint8_t *p) {
        uint32_t w[64], a, b, c, d, e, f, g, h;

        for (size_t i = 0; i < 16; i++)
                w[i] = (uint32_t) p[4 * i] << 24 | (uint32_t) p[4 * i + 1] << 16 | (uint32_t) p[4 * i + 2] << 8 |
                       p[4 * i + 3];
        for (size_t i = 16; i < 64; i++) {
                uint32_t s0 = ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^ (w[i - 15] >> 3);
                uint32_t s1 = ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^ (w[i - 2] >> 10);
                w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }

        a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
        for (size_t i = 0; i < 64; i++) {
                uint32_t t1 = h + (ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25)) + ((e & f) ^ (~e & g)) +
                              sha256_k[i] + w[i];
                uint32_t t2 = (ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
                h = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
        }
        s->h[0] += a, s->h[1] += b, s->h[2] += c, s->h[3] += d;
        s->h[4] += e, s->h[5] += f, s->h[6] += g, s->h[7] += h;
}

static void sha256_init(Sha256 *s) {
        *s = (Sha256) { .h = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c,
                               0x1f83d9ab, 0x5be0cd19 } };
}

static void sha256_update(Sha256 *s, const void *data, size_t n) {
        const uint8_t *p = data;

        s->length += n;
        while (n > 0) {
                size_t k = MIN(n, sizeof(s->block) - s->used);
                memcpy(s->block + s->used, p, k);
                s->used += k, p += k, n -= k;
                if (s->used == sizeof(s->block)) {
                        sha256_compress(s, s->block);
                        s->used = 0;
                }
        }
}

static void sha256_final(Sha256 *s, uint8_t ret[static 32]) {
        uint64_t bits = s->length * 8;
        uint8_t pad[72] = { 0x80 };
        size_t k = (s->used < 56 ? 56 : 120) - s->used;

        for (size_t i = 0; i < 8; i++)
                pad[k + i] = (uint8_t) (bits >> (56 - 8 * i));
        sha256_update(s, pad, k + 8);
        for (size_t i = 0; i < 8; i++)
                for (size_t j = 0; j < 4; j++)
                        ret[4 * i + j] = (uint8_t) (s->h[i] >> (24 - 8 * j));
}

void updates_sha256(const void *data, size_t n, uint8_t ret[static 32]) {
        Sha256 s;

        sha256_init(&s);
        sha256_update(&s, data, n);
        sha256_final(&s, ret);
}

void updates_hmac_sha256(const void *key, size_t key_size, const void *data, size_t n, uint8_t ret[static 32]) {
        uint8_t k[64] = {}, pad[64], inner[32];
        Sha256 s;

        if (key_size > sizeof(k))
                updates_sha256(key, key_size, k);
        else if (key_size > 0)
                memcpy(k, key, key_size);

        for (size_t i = 0; i < sizeof(pad); i++)
                pad[i] = k[i] ^ 0x36;
        sha256_init(&s);
        sha256_update(&s, pad, sizeof(pad));
        sha256_update(&s, data, n);
        sha256_final(&s, inner);

        for (size_t i = 0; i < sizeof(pad); i++)
                pad[i] = k[i] ^ 0x5c;
        sha256_init(&s);
        sha256_update(&s, pad, sizeof(pad));
        sha256_update(&s, inner, sizeof(inner));
        sha256_final(&s, ret);
}

static int unhex_id128(const char *s, uint8_t ret[static 16]) {
        if (!s || strlen(s) != 32 || !updates_all_of(s, HEXDIGITS))
                return -EINVAL;
        for (size_t i = 0; i < 16; i++) {
                char byte[3] = { s[2 * i], s[2 * i + 1], 0 };
                ret[i] = (uint8_t) strtoul(byte, NULL, 16);
        }
        return 0;
}

int updates_zincati_node_id(const char *machine_id, char ret[static 33]) {
        uint8_t machine[16], app[16], mac[32];
        static const uint8_t zero[16] = {};

        if (unhex_id128(machine_id, machine) < 0 || memcmp(machine, zero, sizeof(zero)) == 0)
                return -EINVAL;
        if (unhex_id128(UPDATES_ZINCATI_APP_ID, app) < 0)
                return -EINVAL;

        /* as systemd: HMAC-SHA256 keyed with the machine ID over the app ID, first half, made a v4 UUID */
        updates_hmac_sha256(machine, sizeof(machine), app, sizeof(app), mac);
        mac[6] = (mac[6] & 0x0F) | 0x40;
        mac[8] = (mac[8] & 0x3F) | 0x80;
        for (size_t i = 0; i < 16; i++)
                snprintf(ret + 2 * i, 3, "%02x", mac[i]);
        return 0;
}

int updates_zincati_machine_node_id(const char *root, char ret[static 33]) {
        _cleanup_free_ char *p = NULL, *text = NULL;
        sd_id128_t app, id;
        int r;

        if (!root || streq(root, "/")) {
                r = sd_id128_from_string(UPDATES_ZINCATI_APP_ID, &app);
                if (r >= 0)
                        r = sd_id128_get_machine_app_specific(app, &id);
                if (r == -ENOMEDIUM || r == -EUCLEAN || r == -ENOPKG)
                        return -EINVAL; /* there, but empty, "uninitialized", or not an id */
                if (r < 0)
                        return r;
                sd_id128_to_string(id, ret);
                return 0;
        }
        p = path_join_root(root, "/etc/machine-id");
        if (!p)
                return -ENOMEM;
        r = read_full_file(p, 128, &text, NULL);
        if (r < 0)
                return r;
        text[strcspn(text, "\n")] = 0;
        return updates_zincati_node_id(text, ret);
}
