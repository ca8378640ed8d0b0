/* SPDX-License-Identifier: MIT */
/* The unit tests' shared context and spec files: tests/unit/units-fixture.h. */

#include <stdlib.h>

#include "shared/fileio.h"
#include "spec-fixture.h"
#include "tap.h"
#include "units-fixture.h"

const UnitContext test_ctx = {
        .run_helper = "/usr/libexec/ballast/ballast-run",
        .state_dir = "/var/lib/ballast",
        .docker_socket = "/var/run/docker.sock",
        .control_socket = "/run/ballast/ballastd.sock",
};

char *read_data(const char *name) {
        _cleanup_free_ char *p = data_path(name);
        char *text = NULL;

        if (read_full_file(p, 1024 * 1024, &text, NULL) < 0)
                return NULL;
        return text;
}

ServiceSpec *load_data(const char *name) {
        _cleanup_free_ char *p = data_path(name), *error = NULL;
        ServiceSpec *s = NULL;

        if (service_spec_load(p, &s, &error) < 0)
                diag("%s", strna(error));
        return s;
}
