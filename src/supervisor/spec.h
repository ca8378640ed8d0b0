/* SPDX-License-Identifier: MIT */
#pragma once

/* The service spec (docs/SERVICES.md): parsed and validated completely before anything is written, every error
 * naming the field and why ("resources.memory: \"12XB\" is not a size"). Pure: no I/O but for
 * service_spec_load(). */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "shared/json-util.h"
#include "shared/macro.h"
#include "shared/service-name.h" /* service_name_is_valid(), SERVICE_NAME_MAX */

#define SERVICE_STRING_MAX (16U * 1024U)   /* any one string of a spec */
#define SERVICE_SPEC_MAX (256U * 1024U)    /* a whole spec, as JSON text */

typedef enum ServiceRuntime {
        SERVICE_RUNTIME_DOCKER,
        SERVICE_RUNTIME_EXEC,
} ServiceRuntime;

typedef enum RestartPolicy {
        RESTART_ALWAYS,
        RESTART_ON_FAILURE,
        RESTART_NO,
} RestartPolicy;

typedef enum HealthKind {
        HEALTH_NONE,
        HEALTH_HTTP,
        HEALTH_TCP,
        HEALTH_CMD,
} HealthKind;

typedef struct ServicePort {
        uint16_t host;
        uint16_t container;   /* 0 for exec services: the port is only a commitment */
        bool udp;
} ServicePort;

/* When ballast-run pulls the image (spec-sources.c). */
typedef enum ImagePull {
        IMAGE_PULL_MISSING, /* only when it is not here (the default) */
        IMAGE_PULL_ALWAYS,  /* on every start: a moved tag is picked up */
        IMAGE_PULL_NEVER,   /* never: an image that is not here fails the start */
} ImagePull;

/* A file given to the service: /run/secrets/TARGET in a container, $CREDENTIALS_DIRECTORY/TARGET for exec. */
typedef struct ServiceSecret {
        char *source; /* absolute host path */
        char *target; /* a file name */
} ServiceSecret;

typedef struct ServiceSpec {
        char *name;
        ServiceRuntime runtime;
        char *image;            /* docker only */
        char **command;         /* NULL: the image's default (docker); mandatory for exec */
        json_t *env;            /* object of strings, never NULL */
        ServicePort *ports;
        size_t n_ports;

        uint64_t cpu_millis;    /* 0: not committed */
        uint64_t memory;        /* bytes; 0: not committed */
        uint64_t pids;          /* 0: not committed */

        RestartPolicy restart;
        uint64_t restart_delay_ms;
        uint64_t restart_max_delay_ms;

        HealthKind health;
        char *health_http;      /* URL */
        uint16_t health_tcp;    /* port on 127.0.0.1 */
        char **health_cmd;      /* argv, run inside the container (docker) or directly (exec) */
        uint64_t health_interval_ms;
        uint64_t health_timeout_ms;
        unsigned health_retries;

        json_t *labels;         /* object of strings, never NULL */

        /* images, environment files and secrets (spec-sources.c) */
        ImagePull pull;               /* docker only */
        char *registry_auth_file;     /* docker only; NULL: ballast.json's registry_auth_file, if any */
        char **env_files;             /* absolute paths, NULL: none */
        ServiceSecret *secrets;
        size_t n_secrets;
} ServiceSpec;

/* Validates v completely; on -EINVAL, e says what and where. */
int service_spec_from_json(json_t *v, ServiceSpec **ret, JsonError *e);
/* Parses text (a file or a Varlink parameter); *ret_error is "FILE:LINE:COL: field: why" when filename is
 * given, else "field: why". */
int service_spec_parse(const char *text, size_t size, const char *filename, ServiceSpec **ret, char **ret_error);
int service_spec_load(const char *path, ServiceSpec **ret, char **ret_error);
/* A spec of a services directory (DIR/NAME.json, as Ignition or an operator writes it): loaded as above, and its
 * name must be the file's name without ".json". */
int service_spec_load_named(const char *path, const char *name, ServiceSpec **ret, char **ret_error);

/* The normalized spec with every default filled in: what is persisted and what GetService shows.
 * service_spec_from_json(service_spec_to_json(s)) gives an equal spec. */
json_t *service_spec_to_json(const ServiceSpec *s);
bool service_spec_equal(const ServiceSpec *a, const ServiceSpec *b);

ServiceSpec *service_spec_free(ServiceSpec *s);
DEFINE_CLEANUP_FUNC(ServiceSpec *, service_spec_free);

const char *restart_policy_to_string(RestartPolicy p);
const char *service_runtime_to_string(ServiceRuntime r);
const char *image_pull_to_string(ImagePull p);

/* "image@sha256:<64 hex>": the digest (from '@'), or NULL when the reference has none. */
const char *image_digest(const char *image);
