/* SPDX-License-Identifier: MIT */
/* etcd v3 JSON-gateway replies (src/cluster/etcd.c): the body as etcd.c reads it (json_loadb), then every reply parser
 * the reporter uses on it: error, lease grant, keepalive, range (with base64 keys and values). Invariants: a
 * grant has a positive ID and TTL, a keepalive of that lease a TTL ≥ 0, a range only UTF-8 keys and values or
 * null; base64 that decodes re-encodes to text that decodes to the same bytes. */

#include <string.h>

#include "cluster/etcd.h"
#include "fuzz.h"
#include "shared/json-util.h"
#include "shared/log.h"

static void check_base64(const char *s, size_t n) {
        _cleanup_free_ char *dec = NULL, *enc = NULL, *dec2 = NULL;
        size_t dsize = 0, dsize2 = 0;

        if (etcd_base64_decode(s, n, &dec, &dsize) < 0)
                return;
        FUZZ_CHECK(dsize <= n);
        FUZZ_CHECK(dec[dsize] == 0);
        enc = etcd_base64_encode(dec, dsize);
        FUZZ_CHECK(enc);
        FUZZ_CHECK(etcd_base64_decode(enc, strlen(enc), &dec2, &dsize2) == 0);
        FUZZ_CHECK(dsize == dsize2 && memcmp(dec, dec2, dsize) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_json_ json_t *v = NULL, *range = NULL;
        const char *message = NULL;
        int64_t id = 0, ttl = -1, ka_ttl = -1;
        json_t *item;
        size_t i;
        int code, r;

        log_set_max_level(LOG_CRIT);

        /* the raw bytes as a base64 value (the gateway's keys and values) */
        check_base64((const char *) data, size);

        v = json_loadb((const char *) data, size, 0, NULL);
        if (!v)
                return 0;

        if (etcd_parse_error(v, &code, &message) == 0)
                FUZZ_CHECK(message);

        if (etcd_parse_grant(v, &id, &ttl) == 0)
                FUZZ_CHECK(id > 0 && ttl > 0);

        r = etcd_parse_keepalive(v, id > 0 ? id : 8079917410628930309 /* the seeds' lease */, &ka_ttl);
        FUZZ_CHECK(r == 0 || r == -EBADMSG);
        if (r == 0)
                FUZZ_CHECK(ka_ttl >= 0);

        r = etcd_parse_range(v, &range);
        FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -ENOMEM);
        if (r == 0) {
                FUZZ_CHECK(json_is_array(range));
                json_array_foreach(range, i, item) {
                        json_t *value = json_object_get(item, "value");
                        FUZZ_CHECK(json_is_string(json_object_get(item, "key")));
                        FUZZ_CHECK(json_is_string(value) || json_is_null(value));
                }
        }

        /* the same walk over every string in the reply, as base64 */
        if (json_is_object(v)) {
                const char *key;
                json_t *sub;
                json_object_foreach(v, key, sub)
                        if (json_is_string(sub))
                                check_base64(json_string_value(sub), json_string_length(sub));
        }
        return 0;
}
