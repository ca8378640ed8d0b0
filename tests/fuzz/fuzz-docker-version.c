/* SPDX-License-Identifier: MIT */
/* The body of Docker's GET /version (src/docker/docker.c: docker_api_from_version(), what ballastd negotiates with at
 * every (re)connection). Invariants: a version is chosen only from a JSON object; the chosen one is a well-formed
 * "1.N" within what ballast speaks (DOCKER_API_MIN..DOCKER_API_MAX) and not below the daemon's minimum; it goes
 * into every URL (/v1.N/...), so it is never truncated or anything but digits and one dot. */

#include <string.h>

#include "docker/docker.h"
#include "fuzz.h"
#include "shared/json-util.h"
#include "shared/log.h"

static bool well_formed(const char *v) {
        size_t n = strspn(v, "0123456789");

        return n > 0 && n <= 4 && v[n] == '.' && v[n + 1] && strspn(v + n + 1, "0123456789") == strlen(v + n + 1) &&
               strlen(v + n + 1) <= 4;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_json_ json_t *v = NULL;
        char version[DOCKER_API_VERSION_MAX] = "unset";
        const char *min;
        int r;

        log_set_max_level(LOG_CRIT);

        r = docker_api_from_version((const char *) data, size, version);
        FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -EPROTONOSUPPORT);
        if (r < 0) {
                FUZZ_CHECK(streq(version, "unset"));
                return 0;
        }
        v = json_loadb((const char *) data, size, 0, NULL);
        FUZZ_CHECK(json_is_object(v));
        if (!well_formed(version))
                fprintf(stderr, "chose API version \"%s\"\n", version);
        FUZZ_CHECK(well_formed(version));
        FUZZ_CHECK(docker_api_version_compare(version, DOCKER_API_MIN) >= 0);
        FUZZ_CHECK(docker_api_version_compare(version, DOCKER_API_MAX) <= 0);
        min = json_string_value(json_object_get(v, "MinAPIVersion"));
        /* a minimum that is not MAJOR.MINOR is no minimum (docker_api_negotiate()) */
        FUZZ_CHECK(!min || !well_formed(min) || docker_api_version_compare(version, min) >= 0);
        return 0;
}
