/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "shared/service-name.h"

#define LOWER_DIGITS "abcdefghijklmnopqrstuvwxyz0123456789"

bool service_name_is_valid(const char *name) {
        size_t n;

        if (!name)
                return false;
        n = strlen(name);
        if (n < 1 || n > SERVICE_NAME_MAX)
                return false;
        if (!strchr(LOWER_DIGITS, name[0]))
                return false;
        return strspn(name, LOWER_DIGITS "-") == n;
}
