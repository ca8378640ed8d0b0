/* SPDX-License-Identifier: MIT */
/* src/updates, what FleetLock is sent, pure: the request and error bodies (fleetlock-wire.c), and the node id
 * they carry: SHA-256 / HMAC-SHA256 (FIPS 180-2 and RFC 4231 vectors) and Zincati's node id from the machine id
 * (answers computed by systemd-id128, and the live tool when it is there). Split from test-updates.c. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/fileio.h"
#include "shared/macro.h"
#include "tap.h"
#include "updates/fleetlock-wire.h"
#include "updates/zincati.h"

/* ---- FleetLock ---- */

static void test_fleetlock(void) {
        _cleanup_free_ char *body = NULL, *err = NULL;

        is_int(updates_fleetlock_request_body("c988d2509fdf4cdcbed39037c56406fb", "default", &body), 0,
               "request body");
        is_str(body, "{\"client_params\":{\"id\":\"c988d2509fdf4cdcbed39037c56406fb\",\"group\":\"default\"}}",
               "exactly Zincati's body");
        {
                _cleanup_free_ char *t = NULL;
                is_int(updates_fleetlock_request_body("x", "my_group", &t), -EINVAL, "group with '_' refused");
                is_int(updates_fleetlock_request_body("", "default", &t), -EINVAL, "empty id refused");
                is_int(updates_fleetlock_request_body("a\nb", "default", &t), -EINVAL, "id with a newline refused");
                ok(!t, "nothing written");
        }

        static const struct {
                const char *what, *body, *id, *group, *error;
        } cases[] = {
                { "Zincati's body", "{\"client_params\":{\"id\":\"c988d2509fdf4cdcbed39037c56406fb\",\"group\":\"default\"}}",
                  "c988d2509fdf4cdcbed39037c56406fb", "default", NULL },
                { "spaces, other order", " { \"client_params\" : { \"group\" : \"workers.a-1\" , \"id\" : \"node 7\" } } ",
                  "node 7", "workers.a-1", NULL },
                { "unknown keys tolerated", "{\"v\":2,\"client_params\":{\"id\":\"a\",\"group\":\"g\",\"node_uuid\":\"x\",\"extra\":[1]}}",
                  "a", "g", NULL },
                { "not JSON", "client_params=1", NULL, NULL, "body is not JSON: " },
                { "trailing garbage", "{\"client_params\":{\"id\":\"a\",\"group\":\"g\"}} x", NULL, NULL, "body is not JSON: " },
                { "empty", "", NULL, NULL, "body is not JSON: " },
                { "an array", "[]", NULL, NULL, "body: expected an object, got an array" },
                { "no client_params", "{\"id\":\"a\",\"group\":\"g\"}", NULL, NULL, "client_params: is required" },
                { "client_params a string", "{\"client_params\":\"a\"}", NULL, NULL,
                  "client_params: expected an object, got a string" },
                { "old node_uuid only", "{\"client_params\":{\"node_uuid\":\"a\",\"group\":\"g\"}}", NULL, NULL,
                  "client_params.id: is required" },
                { "no group", "{\"client_params\":{\"id\":\"a\"}}", NULL, NULL, "client_params.group: is required" },
                { "empty id", "{\"client_params\":{\"id\":\"\",\"group\":\"g\"}}", NULL, NULL,
                  "client_params.id: expected a non-empty string of at most 256 bytes without control characters" },
                { "numeric id", "{\"client_params\":{\"id\":7,\"group\":\"g\"}}", NULL, NULL,
                  "client_params.id: expected a non-empty string of at most 256 bytes without control characters" },
                { "id with a newline", "{\"client_params\":{\"id\":\"a\\nb\",\"group\":\"g\"}}", NULL, NULL,
                  "client_params.id: expected a non-empty string of at most 256 bytes without control characters" },
                { "group with '_'", "{\"client_params\":{\"id\":\"a\",\"group\":\"my_group\"}}", NULL, NULL,
                  "client_params.group: expected a string matching ^[a-zA-Z0-9.-]+$" },
                { "group with '/'", "{\"client_params\":{\"id\":\"a\",\"group\":\"../x\"}}", NULL, NULL,
                  "client_params.group: expected a string matching ^[a-zA-Z0-9.-]+$" },
                { "empty group", "{\"client_params\":{\"id\":\"a\",\"group\":\"\"}}", NULL, NULL,
                  "client_params.group: expected a string matching ^[a-zA-Z0-9.-]+$" },
                { "duplicate key", "{\"client_params\":{\"id\":\"a\",\"id\":\"b\",\"group\":\"g\"}}", NULL, NULL,
                  "body is not JSON: " },
                { "NUL in a string", "{\"client_params\":{\"id\":\"a\\u0000b\",\"group\":\"g\"}}", NULL, NULL,
                  "body is not JSON: " },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *id = NULL, *group = NULL, *error = NULL;
                int r = updates_fleetlock_parse_request(cases[i].body, strlen(cases[i].body), &id, &group, &error);

                is_int(r, cases[i].id ? 0 : -EINVAL, "%s: %s", cases[i].what, cases[i].id ? "accepted" : "refused");
                is_str(id, cases[i].id, "%s: id", cases[i].what);
                is_str(group, cases[i].group, "%s: group", cases[i].what);
                if (cases[i].error)
                        ok(error && strneq(error, cases[i].error, strlen(cases[i].error)), "%s: error \"%s\"",
                           cases[i].what, strna(error));
        }

        {
                /* 257-byte id; a body over 64 KiB */
                _cleanup_free_ char *big = NULL, *huge = malloc(70000), *id = NULL, *group = NULL;
                char longid[258];
                memset(longid, 'a', 257);
                longid[257] = 0;
                if (asprintf(&big, "{\"client_params\":{\"id\":\"%s\",\"group\":\"g\"}}", longid) < 0 || !huge)
                        abort();
                is_int(updates_fleetlock_parse_request(big, strlen(big), &id, &group, NULL), -EINVAL,
                       "257-byte id refused");
                longid[256] = 0;
                free(big);
                if (asprintf(&big, "{\"client_params\":{\"id\":\"%s\",\"group\":\"g\"}}", longid) < 0)
                        abort();
                is_int(updates_fleetlock_parse_request(big, strlen(big), &id, &group, NULL), 0,
                       "256-byte id accepted");
                memset(huge, ' ', 70000);
                free(id);
                free(group);
                id = group = NULL;
                is_int(updates_fleetlock_parse_request(huge, 70000, &id, &group, &err), -EINVAL,
                       "body over 64 KiB refused");
                is_str(err, "body larger than 65536 bytes", "and says so");
        }

        {
                _cleanup_free_ char *e = NULL, *e2 = NULL, *e3 = NULL;
                is_int(updates_fleetlock_error_body("failed_lock_semaphore_full",
                                                    "semaphore currently full, all slots are locked already", &e),
                       0, "error body");
                is_str(e, "{\"kind\":\"failed_lock_semaphore_full\",\"value\":\"semaphore currently full, all slots are locked already\"}",
                       "exact error body");
                is_int(updates_fleetlock_error_body("ballast_outside_window", "say \"no\"\n", &e2), 0,
                       "value with quotes and a newline");
                is_str(e2, "{\"kind\":\"ballast_outside_window\",\"value\":\"say \\\"no\\\"\\n\"}", "escaped as JSON");
                is_int(updates_fleetlock_error_body("outside-window", "x", &e3), -EINVAL, "kind with '-' refused");
                is_int(updates_fleetlock_error_body("", "x", &e3), -EINVAL, "empty kind refused");
                is_int(updates_fleetlock_error_body("k", "\xff", &e3), -EINVAL, "value not UTF-8 refused");
                ok(!e3, "nothing written");
        }
}

/* ---- SHA-256, HMAC, the node id ---- */

static const char *hex(const uint8_t *p, size_t n, char *buf) {
        for (size_t i = 0; i < n; i++)
                sprintf(buf + 2 * i, "%02x", p[i]);
        return buf;
}

static void test_sha256(void) {
        static const struct {
                const char *what;
                size_t repeat; /* of data */
                const char *data, *digest;
        } cases[] = {
                { "empty", 1, "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
                { "abc (FIPS 180-2 B.1)", 1, "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
                { "448 bits (FIPS 180-2 B.2)", 1, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
                { "a million 'a' (FIPS 180-2 B.3)", 1000000, "a",
                  "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0" },
                { "55 bytes: padding fits", 55, "a", "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318" },
                { "56 bytes: padding spills", 56, "a", "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a" },
                { "64 bytes: one block", 64, "a", "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                size_t len = strlen(cases[i].data) * cases[i].repeat;
                _cleanup_free_ char *data = malloc(len + 1);
                uint8_t d[32];
                char buf[65];

                if (!data)
                        abort();
                for (size_t j = 0; j < cases[i].repeat; j++)
                        memcpy(data + j * strlen(cases[i].data), cases[i].data, strlen(cases[i].data));
                updates_sha256(data, len, d);
                is_str(hex(d, 32, buf), cases[i].digest, "SHA-256 %s", cases[i].what);
        }

        /* RFC 4231 test cases 1–4, 6, 7 (5 is a truncated output) */
        uint8_t k20[20], kaa[131], dd[50], cd[50], k25[25];
        memset(k20, 0x0b, sizeof(k20));
        memset(kaa, 0xaa, sizeof(kaa));
        memset(dd, 0xdd, sizeof(dd));
        memset(cd, 0xcd, sizeof(cd));
        for (size_t i = 0; i < sizeof(k25); i++)
                k25[i] = (uint8_t) (i + 1);
        static const char big_data[] = "This is a test using a larger than block-size key and a larger than "
                                       "block-size data. The key needs to be hashed before being used by the "
                                       "HMAC algorithm.";
        const struct {
                const char *what;
                const void *key;
                size_t key_size;
                const void *data;
                size_t n;
                const char *mac;
        } hmacs[] = {
                { "RFC 4231 case 1", k20, 20, "Hi There", 8,
                  "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
                { "RFC 4231 case 2", "Jefe", 4, "what do ya want for nothing?", 28,
                  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
                { "RFC 4231 case 3", kaa, 20, dd, 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe" },
                { "RFC 4231 case 4", k25, 25, cd, 50, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b" },
                { "RFC 4231 case 6 (key longer than a block)", kaa, 131,
                  "Test Using Larger Than Block-Size Key - Hash Key First", 54,
                  "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
                { "RFC 4231 case 7", kaa, 131, big_data, strlen(big_data),
                  "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2" },
        };
        for (size_t i = 0; i < ELEMENTSOF(hmacs); i++) {
                uint8_t d[32];
                char buf[65];
                updates_hmac_sha256(hmacs[i].key, hmacs[i].key_size, hmacs[i].data, hmacs[i].n, d);
                is_str(hex(d, 32, buf), hmacs[i].mac, "HMAC-SHA256 %s", hmacs[i].what);
        }
}

/* Reads the first line of a command's output into buf; false when it did not run. */
static bool run_line(const char *cmd, char *buf, size_t size) {
        FILE *p = popen(cmd, "r");
        bool good;

        if (!p)
                return false;
        good = fgets(buf, (int) size, p) != NULL;
        if (pclose(p) != 0)
                good = false;
        if (good)
                buf[strcspn(buf, "\n")] = 0;
        return good;
}

static void test_node_id(void) {
        /* answers of `systemd-id128 machine-id -a de35106b…` (and boot-id -a) on hosts with these IDs */
        static const struct {
                const char *machine_id, *node_id;
        } known[] = {
                { "3d1219c7c4c5404aaa1f6d2a48adfda4", "975228d46dc94622b9bbe16671e2b58d" },
                { "cb7eb4b1825746e29333533b19b21726", "3fd3a3b854c549ab974a5692308268c6" },
                { "3D1219C7C4C5404AAA1F6D2A48ADFDA4", "975228d46dc94622b9bbe16671e2b58d" },
        };
        char got[33];

        for (size_t i = 0; i < ELEMENTSOF(known); i++) {
                memset(got, 0, sizeof(got));
                is_int(updates_zincati_node_id(known[i].machine_id, got), 0, "node id of %s", known[i].machine_id);
                is_str(got, known[i].node_id, "as systemd-id128 computes it");
        }
        static const struct {
                const char *what, *id;
        } bad[] = {
                { "empty", "" },
                { "31 digits", "3d1219c7c4c5404aaa1f6d2a48adfda" },
                { "with the file's newline", "3d1219c7c4c5404aaa1f6d2a48adfda4\n" },
                { "UUID format", "3d1219c7-c4c5-404a-aa1f-6d2a48adfda4" },
                { "systemd's first-boot marker", "uninitialized" },
                { "all zero", "00000000000000000000000000000000" },
                { "not hex", "3d1219c7c4c5404aaa1f6d2a48adfdag" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                is_int(updates_zincati_node_id(bad[i].id, got), -EINVAL, "machine id refused: %s", bad[i].what);
        is_int(updates_zincati_node_id(NULL, got), -EINVAL, "NULL refused");

        /* the live tool against this host's IDs, when both are there */
        char mid[64] = "", want[64] = "", bid[64] = "", bwant[64] = "";
        FILE *f = fopen("/etc/machine-id", "re");
        if (f) {
                if (!fgets(mid, sizeof(mid), f))
                        mid[0] = 0;
                fclose(f);
                mid[strcspn(mid, "\n")] = 0;
        }
        if (strlen(mid) == 32 &&
            run_line("systemd-id128 machine-id -a " UPDATES_ZINCATI_APP_ID " 2>/dev/null", want, sizeof(want))) {
                is_int(updates_zincati_node_id(mid, got), 0, "this host's machine id");
                is_str(got, want, "equals systemd-id128 machine-id -a (live)");
        } else
                ok(0, "live machine id: no /etc/machine-id, or no systemd-id128 (apt-get install systemd)");

        f = fopen("/proc/sys/kernel/random/boot_id", "re");
        if (f) {
                char raw[64] = "";
                size_t k = 0;
                if (fgets(raw, sizeof(raw), f))
                        for (char *p = raw; *p && *p != '\n' && k < 32; p++)
                                if (*p != '-')
                                        bid[k++] = *p;
                bid[k] = 0;
                fclose(f);
        }
        if (strlen(bid) == 32 &&
            run_line("systemd-id128 boot-id -a " UPDATES_ZINCATI_APP_ID " 2>/dev/null", bwant, sizeof(bwant))) {
                is_int(updates_zincati_node_id(bid, got), 0, "this boot's id through the same derivation");
                is_str(got, bwant, "equals systemd-id128 boot-id -a (live)");
        } else
                ok(0, "live boot id: no boot id, or no systemd-id128 (apt-get install systemd)");
}

/* The host's id through libsystemd, and another root's through the fallback: the same derivation. */
static void test_machine_node_id(void) {
        char tmpl[] = "/tmp/test-updates-mid-XXXXXX", host[33] = "", mine[33] = "", got[33] = "", mid[64] = "";
        _cleanup_free_ char *etc = NULL, *file = NULL;
        const char *tmp = mkdtemp(tmpl);
        FILE *f;
        int r;

        r = updates_zincati_machine_node_id(NULL, host);
        f = fopen("/etc/machine-id", "re");
        if (f && fgets(mid, sizeof(mid), f)) {
                mid[strcspn(mid, "\n")] = 0;
                is_int(r, 0, "libsystemd gives the host's id");
                is_int(updates_zincati_node_id(mid, mine), 0, "the fallback takes the host's machine id");
                is_str(host, mine, "sd_id128_get_machine_app_specific() equals the fallback on this host");
        } else
                ok(r < 0, "no /etc/machine-id here: libsystemd fails (%d), no id is made up", r);
        if (f)
                fclose(f);
        is_int(updates_zincati_machine_node_id("/", got), r, "root \"/\" is the host");

        if (!tmp) {
                ok(0, "mkdtemp(): %s", strerror(errno));
                return;
        }
        etc = path_join(tmp, "etc");
        file = path_join(tmp, "etc/machine-id");
        is_int(updates_zincati_machine_node_id(tmp, got), -ENOENT, "a root without etc/machine-id: -ENOENT");
        ok(etc && mkdir(etc, 0755) == 0, "fake root's etc");
        ok(write_file_atomic(file, "cb7eb4b1825746e29333533b19b21726\n", 33, 0644) == 0, "fake machine-id");
        is_int(updates_zincati_machine_node_id(tmp, got), 0, "the fake root's id");
        is_str(got, "3fd3a3b854c549ab974a5692308268c6", "as systemd-id128 computes it for that machine id");
        ok(write_file_atomic(file, "uninitialized\n", 14, 0644) == 0, "first-boot marker");
        is_int(updates_zincati_machine_node_id(tmp, got), -EINVAL, "\"uninitialized\": -EINVAL");
        ok(unlink(file) == 0 && rmdir(etc) == 0 && rmdir(tmp) == 0, "removed %s", tmp);
}

int main(void) {
        test_fleetlock();
        test_sha256();
        test_node_id();
        test_machine_node_id();
        return tap_done();
}
