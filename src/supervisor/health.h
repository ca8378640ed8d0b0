/* SPDX-License-Identifier: MIT */
#pragma once

/* One health check of a service, on the loop: an HTTP GET (2xx/3xx passes), a TCP connect to 127.0.0.1:PORT, or
 * a command (inside the container through the Engine API's exec, or as a child process for exec services).
 * Each check ends within the spec's timeout_ms, by its callback. Scheduling and counting are the
 * supervisor's business. A check copies what it reads of the spec when it starts: the spec may be replaced (freed)
 * while the check runs. A cmd check's child is killed (with its process group) and reaped when the check ends or is
 * cancelled. */

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "docker/docker.h"
#include "http/http.h"
#include "supervisor/spec.h"

typedef struct HealthCheck HealthCheck;
typedef void (*HealthDoneFunc)(bool pass, const char *reason, void *userdata);

int health_check_start(HealthCheck **ret, sd_event *event, HttpClient *http, Docker *docker, const ServiceSpec *s,
                       HealthDoneFunc done, void *userdata);
/* Stops a check in flight; done is not called. NULL is fine. */
void health_check_cancel(HealthCheck *c);
