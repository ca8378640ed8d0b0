/* SPDX-License-Identifier: MIT */
#pragma once

/* What a spec turns into on disk: the text of ballast-NAME.service and, for Docker services, the body of the
 * Engine API's container create call that the unit's helper posts. Pure functions of their inputs. */

#include <jansson.h>

#include "supervisor/spec.h"

typedef struct UnitContext {
        const char *run_helper;     /* absolute path of ballast-run (libexec) */
        const char *state_dir;      /* host path, e.g. /var/lib/ballast (without --root: units see the host) */
        const char *docker_socket;  /* e.g. /var/run/docker.sock */
        const char *control_socket; /* ballastd's socket, for the readiness wait */
        const char *registry_auth_file; /* ballast.json's, for services without one of their own; NULL: none */
} UnitContext;

/* every generated unit is UNIT_PREFIX "NAME" ".service" */
#define UNIT_PREFIX "ballast-"
/* the label that names a container's (and a named volume's) service */
#define LABEL_SERVICE "io.ballast.service"

/* "ballast-NAME.service" */
char *unit_name_for_service(const char *name);
/* "NAME" for "ballast-NAME.service", NULL for anything else. */
char *service_name_from_unit(const char *unit);

/* The unit file text. Every string that reaches it is escaped for unit-file syntax (specifiers '%', quoting,
 * C escapes, '$' in command lines) or the spec was refused earlier. */
int unit_text_for_service(const ServiceSpec *s, const UnitContext *ctx, char **ret);

/* An exec service's environment lives in STATE_DIR/env/NAME.env (root, 0600), named by the unit's
 * EnvironmentFile=; the unit itself carries no value. The file's text: one KEY="value" line per variable,
 * sorted by key, quoted so that systemd reads each value back byte for byte (no expansion). */
#define UNIT_ENV_DIR "env"
char *unit_env_file_path(const char *state_dir, const char *name);
int unit_env_file_text(const ServiceSpec *s, char **ret);

/* Escapes one word of a command line for ExecStart= (quoted, '%' → "%%", '$' → "$$", C escapes). */
char *unit_escape_exec_word(const char *word);
/* Escapes the executable, the first word of ExecStart=: quoted, '%' → "%%", but '$' kept as is (systemd expands
 * no variables there, so "$$" would stay "$$"). NULL with errno EINVAL for what systemd refuses there however
 * it is escaped: a relative path, quotes, backslashes, control characters. */
char *unit_escape_exec_path(const char *path);
/* Escapes one "KEY=value" assignment for Environment= (quoted, '%' → "%%", C escapes). */
char *unit_escape_environment(const char *key, const char *value);
/* Escapes free text for a value such as Description= ('%' → "%%", no newlines). */
char *unit_escape_value(const char *s);

/* The JSON body of POST /containers/create for a Docker service: image, command, env, labels
 * (io.ballast.service, io.ballast.unit, io.ballast.hash), ports, resources, Docker's restart policy off,
 * logs to the journal. cgroup_parent (NULL: Docker's default) is HostConfig.CgroupParent: with Docker's systemd
 * cgroup driver a slice ("ballast-NAME.slice", under ballast.slice), with cgroupfs a path ("/ballast/NAME"). io.ballast.hash is the FNV-1a 64 (16 lowercase hex digits) of the rest of the body,
 * dumped with JSON_COMPACT | JSON_SORT_KEYS: equal hashes mean the container was created from this very body.
 * NULL for an exec service or on ENOMEM. */
json_t *container_create_body(const ServiceSpec *s, const char *cgroup_parent);
/* The network holder of a Docker service, the container "ballast-NAME.net" that `ballast-run docker` keeps
 * running across the service's restarts (see ballast-run.c, "the network holder"): the image PAUSE_IMAGE
 * (imported by ballast-run from ballast-pause) with Entrypoint ["/pause"], the service's ports (ExposedPorts,
 * PortBindings) and cgroup_parent, labels io.ballast.netns=NAME, io.ballast.unit and io.ballast.hash (as in
 * container_create_body(), over the holder's body), logging off, Docker's restart policy off. NULL for an exec
 * service or on ENOMEM. */
json_t *container_holder_body(const ServiceSpec *s, const char *cgroup_parent);
/* The container's name: "ballast-NAME". */
char *container_name_for_service(const char *name);
