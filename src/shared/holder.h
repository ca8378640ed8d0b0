/* SPDX-License-Identifier: MIT */
#pragma once

/* The network holder of a Docker service (see ballast-run.c, "the network holder"): the container
 * "ballast-NAME.net" running ballast-pause, from an image ballast-run imports from that binary. Shared by
 * ballastd (units.c writes the holder's body) and ballast-run (which imports the image and runs the holder). */
#define PAUSE_REPO "ballast/pause"
#define PAUSE_IMAGE PAUSE_REPO ":" PACKAGE_VERSION
#define HOLDER_SUFFIX ".net"

#include <jansson.h>

/* Makes a container's create body join the holder holder_id: HostConfig.NetworkMode "container:ID" (by ID:
 * Docker resolves a name to the ID at create time anyway), and no ExposedPorts or PortBindings of its own
 * (Docker refuses them together; the holder publishes them). The io.ballast.hash label stays: it names the
 * spec, and a reused container is checked against the NetworkMode as well. *ret_mode (optional): the mode. */
int holder_join_body(json_t *body, const char *holder_id, char **ret_mode);
