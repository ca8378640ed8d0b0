/* SPDX-License-Identifier: MIT */
/* ballast.json (src/daemon/config.c). Invariants: an error names the file and, with a line and column, a place inside
 * the text; a configuration that parses has a sound shape (ports, TTLs, windows in range), and its maintenance
 * windows are ones the window computation (src/updates/windows.c) accepts: config validation and the updater agree. */

#include <string.h>

#include "daemon/config.h"
#include "fuzz.h"
#include "shared/log.h"
#include "updates/gate.h"
#include "updates/windows.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *error = NULL;
        int r;

        log_set_max_level(LOG_CRIT);

        r = config_parse((const char *) data, size, "/etc/ballast/ballast.json", &c, &error);
        if (r < 0) {
                unsigned line, col;

                FUZZ_CHECK(!c && error);
                FUZZ_CHECK(strncmp(error, "/etc/ballast/ballast.json:", 26) == 0);
                /* "FILE:LINE:COL: ", digits right after the colons (sscanf's %u would skip blanks and
                 * read "FILE: 2222:3: ..." as a position: a key such as "2222:3[" is quoted as is) */
                if (fuzz_error_position(error + strlen("/etc/ballast/ballast.json:"), &line, &col)) {
                        FUZZ_CHECK(line >= 1 && line <= fuzz_count_lines(data, size));
                        FUZZ_CHECK(col >= 1);
                }
                return 0;
        }
        FUZZ_CHECK(c && !error);
        FUZZ_CHECK(c->node_labels && json_is_object(c->node_labels));
        FUZZ_CHECK(c->etcd_prefix && c->updates.time_zone && c->updates.strategy);
        FUZZ_CHECK(updates_strategy_from_string(c->updates.strategy) >= 0);
        FUZZ_CHECK(c->updates.n_windows == 0 || c->updates.windows);
        if (c->updates.windows) {
                int64_t next = 0, end = 0;
                /* a fixed moment: Sat 2026-11-28 12:00 UTC */
                r = updates_in_window(c->updates.windows, c->updates.n_windows, 1795867200, c->updates.time_zone, &next, &end);
                if (r == -EINVAL)
                        fprintf(stderr, "windows or zone \"%s\" refused by updates_in_window()\n", c->updates.time_zone);
                FUZZ_CHECK(r != -EINVAL);
        }
        return 0;
}
