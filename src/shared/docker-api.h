/* SPDX-License-Identifier: MIT */
#pragma once

/* The Engine API versions ballast speaks, for ballastd (docker/docker.c) and ballast-run (run/run-engine.c) alike:
 * the newest we know (Docker 27.4) down to Docker 1.12. The server's version decides within that range; below
 * the oldest we refuse to talk. Only major version 1 exists. */

#define DOCKER_API_MAX_MINOR 47
#define DOCKER_API_MIN_MINOR 24

/* the same as strings ("1.47"), as the API spells them */
#define DOCKER_API_STR_(n) #n
#define DOCKER_API_STR(n) DOCKER_API_STR_(n)
#define DOCKER_API_MAX "1." DOCKER_API_STR(DOCKER_API_MAX_MINOR)
#define DOCKER_API_MIN "1." DOCKER_API_STR(DOCKER_API_MIN_MINOR)
