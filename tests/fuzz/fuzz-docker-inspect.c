/* SPDX-License-Identifier: MIT */
/* Docker replies that ballastd keeps or shows: a container inspect (GET /containers/NAME/json) turned into
 * what `ballastctl inspect` shows (src/docker/docker.c: docker_container_summary()), and /info, which is kept as it
 * came and read by key (CgroupDriver, DockerRootDir). The body is decoded as docker_call() decodes every reply
 * (any JSON value). Invariants: the summary of anything is an object with only its eight keys, which serialises;
 * a value is Docker's own (copied, never made up). */

#include <string.h>

#include "docker/docker.h"
#include "fuzz.h"
#include "shared/json-util.h"
#include "shared/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char *const keys[] = { "id", "status", "started_at", "finished_at", "exit_code",
                                            "oom_killed", "pid", "image" };
        _cleanup_json_ json_t *v = NULL, *summary = NULL;
        _cleanup_free_ char *text = NULL;
        const char *key;
        json_t *value;

        log_set_max_level(LOG_CRIT);

        v = json_loadb((const char *) data, size, JSON_DECODE_ANY, NULL);
        summary = docker_container_summary(v);
        FUZZ_CHECK(json_is_object(summary));
        FUZZ_CHECK(json_object_size(summary) == ELEMENTSOF(keys));
        json_object_foreach(summary, key, value) {
                bool known = false;
                for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                        known = known || streq(key, keys[i]);
                FUZZ_CHECK(known);
        }
        FUZZ_CHECK(json_equal(json_object_get(summary, "id"), json_object_get(v, "Id") ?: json_null()));
        text = json_dumps(summary, JSON_COMPACT);
        FUZZ_CHECK(text);

        /* /info: the consumers read strings by key; anything else reads as unknown */
        (void) json_string_value(json_object_get(v, "CgroupDriver"));
        (void) json_string_value(json_object_get(v, "DockerRootDir"));
        return 0;
}
