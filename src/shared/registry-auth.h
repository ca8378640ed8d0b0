/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

/* The registry of an image reference as Docker names it: its first component when that looks like a host
 * (has '.' or ':', or is localhost), else "docker.io". */
void image_registry(const char *image, char *buf, size_t len);

/* "X-Registry-Auth: …" for image from the credentials file: 1 with *ret, 0 (*ret NULL) when the file has no
 * entry for the image's registry, or a negative errno with *ret_error (when given) saying why. */
int registry_auth_header(const char *file, const char *image, char **ret, char **ret_error);
