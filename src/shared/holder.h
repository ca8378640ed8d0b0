/* SPDX-License-Identifier: MIT */
#pragma once

/* The network holder of a Docker service (see ballast-run.c, "the network holder"): the container
 * "ballast-NAME.net" running ballast-pause, from an image ballast-run imports from that binary. Shared by
 * ballastd (units.c writes the holder's body) and ballast-run (which imports the image and runs the holder). */
#define PAUSE_REPO "ballast/pause"
#define PAUSE_IMAGE PAUSE_REPO ":" PACKAGE_VERSION
#define HOLDER_SUFFIX ".net"
