/* SPDX-License-Identifier: MIT */
/* The service spec (src/supervisor/spec.c) as a services.d file and as ApplyService's "spec" parameter.
 * Invariants: the result does not depend on whether a file name is given; an error names the file and, with
 * a line and column, a place inside the text; a spec that parses serialises (the normalized spec that is
 * persisted) and re-parses to an equal spec, and normalizing is idempotent. */

#include <string.h>

#include "fuzz.h"
#include "shared/log.h"
#include "supervisor/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(service_spec_freep) ServiceSpec *file_spec = NULL, *param_spec = NULL, *again = NULL;
        _cleanup_free_ char *file_error = NULL, *param_error = NULL, *text = NULL, *text2 = NULL;
        _cleanup_json_ json_t *norm = NULL, *norm2 = NULL;
        int r, r2;

        log_set_max_level(LOG_CRIT);

        r = service_spec_parse((const char *) data, size, "services.d/web.json", &file_spec, &file_error);
        r2 = service_spec_parse((const char *) data, size, NULL, &param_spec, &param_error);
        FUZZ_CHECK(r == r2);
        if (r < 0) {
                unsigned line, col;

                FUZZ_CHECK(!file_spec && !param_spec);
                FUZZ_CHECK(file_error && param_error);
                FUZZ_CHECK(strncmp(file_error, "services.d/web.json:", 20) == 0);
                /* "FILE:LINE:COL: ", digits right after the colons (sscanf's %u would skip blanks and
                 * read "FILE: 2222:3: ..." as a position: a key such as "2222:3[" is quoted as is) */
                if (fuzz_error_position(file_error + strlen("services.d/web.json:"), &line, &col)) {
                        FUZZ_CHECK(line >= 1 && line <= fuzz_count_lines(data, size));
                        FUZZ_CHECK(col >= 1);
                }
                return 0;
        }
        FUZZ_CHECK(file_spec && param_spec && !file_error && !param_error);
        FUZZ_CHECK(service_name_is_valid(file_spec->name));
        FUZZ_CHECK(service_spec_equal(file_spec, param_spec));

        /* what the supervisor persists in /var/lib/ballast/services/NAME.json */
        norm = service_spec_to_json(file_spec);
        FUZZ_CHECK(norm);
        text = json_dumps(norm, JSON_INDENT(2) | JSON_SORT_KEYS);
        FUZZ_CHECK(text);
        r = service_spec_parse(text, strlen(text), "persisted.json", &again, &file_error);
        if (r < 0)
                fprintf(stderr, "the normalized spec does not parse: %s\n%s\n", file_error, text);
        FUZZ_CHECK(r == 0);
        FUZZ_CHECK(service_spec_equal(file_spec, again));
        norm2 = service_spec_to_json(again);
        FUZZ_CHECK(norm2);
        text2 = json_dumps(norm2, JSON_INDENT(2) | JSON_SORT_KEYS);
        FUZZ_CHECK(text2 && strcmp(text, text2) == 0);
        return 0;
}
