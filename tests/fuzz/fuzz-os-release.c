/* SPDX-License-Identifier: MIT */
/* os-release (src/updates/os.c: updates_detect_os()). Invariants: an error says why; a result has an ID, a kind
 * that follows from ID (and VARIANT_ID), no control character in any value, and a version only for the OSes
 * ballast manages; parsing is deterministic (the same text twice gives the same result). */

#include <string.h>

#include "fuzz.h"
#include "shared/log.h"
#include "updates/os.h"

static bool printable(const char *s) {
        for (; s && *s; s++)
                if ((unsigned char) *s < 0x20 || *s == 0x7f)
                        return false;
        return true;
}

static bool same(const char *a, const char *b) {
        return a && b ? strcmp(a, b) == 0 : a == b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *text = fuzz_strndup(data, size), *error = NULL, *error2 = NULL;
        OsInfo info = {}, info2 = {};
        int r, r2;

        log_set_max_level(LOG_CRIT);

        r = updates_detect_os(text, &info, &error);
        r2 = updates_detect_os(text, &info2, &error2);
        FUZZ_CHECK(r == r2);
        if (r < 0) {
                FUZZ_CHECK(r != -EINVAL || (error && error2 && strcmp(error, error2) == 0));
                return 0;
        }
        FUZZ_CHECK(!error);
        FUZZ_CHECK(info.id && printable(info.id) && printable(info.variant_id) && printable(info.version_id) &&
                   printable(info.version) && printable(info.pretty_name));
        switch (info.kind) {
        case OS_FLATCAR:
                FUZZ_CHECK(streq(info.id, "flatcar"));
                FUZZ_CHECK(same(info.version, info.version_id));
                break;
        case OS_CONTAINER_LINUX:
                FUZZ_CHECK(streq(info.id, "coreos"));
                FUZZ_CHECK(same(info.version, info.version_id));
                break;
        case OS_FEDORA_COREOS:
                FUZZ_CHECK(streq(info.id, "fedora") && same(info.variant_id, "coreos"));
                break;
        case OS_OTHER:
                FUZZ_CHECK(!streq(info.id, "flatcar") && !streq(info.id, "coreos"));
                FUZZ_CHECK(!info.version);
                break;
        default:
                FUZZ_CHECK(!"an unknown kind");
        }
        FUZZ_CHECK(updates_os_kind_to_string(info.kind) != NULL);
        FUZZ_CHECK(info.kind == info2.kind && same(info.id, info2.id) && same(info.variant_id, info2.variant_id) &&
                   same(info.version_id, info2.version_id) && same(info.version, info2.version) &&
                   same(info.pretty_name, info2.pretty_name));
        updates_os_info_done(&info);
        updates_os_info_done(&info2);
        return 0;
}
