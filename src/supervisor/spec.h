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
        char host_ip[46];     /* INET6_ADDRSTRLEN; "" for every address */
} ServicePort;

/* Storage, identity and security (spec-security.c) */
typedef enum MountType {
        MOUNT_BIND,
        MOUNT_VOLUME,
        MOUNT_TMPFS,
} MountType;

typedef struct ServiceMount {
        MountType type;
        char *source;         /* bind: absolute host path; volume: its name in the spec; tmpfs: NULL */
        char *target;         /* absolute path inside the container (or the exec service's view) */
        bool read_only;
        uint64_t size;        /* tmpfs only, bytes; 0: the kernel's default */
} ServiceMount;

typedef struct ServiceDevice {
        char *host;           /* under /dev */
        char *container;      /* NULL: the same path */
        char perms[4];        /* a non-empty subset of "rwm", in that order */
} ServiceDevice;

typedef struct ServiceUlimit {
        uint64_t soft, hard;  /* 0/0: not set */
} ServiceUlimit;

#define SERVICE_STOP_TIMEOUT_DEFAULT_S 10U

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
        uint64_t health_start_period_ms;   /* counted from when the service runs (see health-rule.h) */
        uint64_t health_start_interval_ms; /* between checks inside the start period */

        json_t *labels;         /* object of strings, never NULL */

        /* storage (spec-security.c) */
        ServiceMount *mounts;
        size_t n_mounts;

        /* identity and security (spec-security.c) */
        char *user;             /* "uid[:gid]" or "name[:group]"; NULL: the image's (docker) or root (exec) */
        char *working_dir;
        char **entrypoint;      /* docker only */
        char **cap_add, **cap_drop; /* "CAP_NAME" or "ALL" */
        bool read_only;         /* docker only: the root file system */
        int no_new_privileges;  /* -1 while parsing; then docker: false, exec: sandbox, unless given */
        ServiceDevice *devices; /* docker only */
        size_t n_devices;
        ServiceUlimit nofile, nproc;
        char *stop_signal;      /* "SIGNAME"; NULL: SIGTERM */
        uint64_t stop_timeout_s;
        int sandbox;            /* exec only: systemd's sandboxing defaults (docs/SERVICES.md); -1 while parsing */

        /* order (spec-order.c) */
        char **after, **requires;

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
const char *mount_type_to_string(MountType t);

/* The Docker volume of a named volume of service: "ballast-SERVICE.VOLUME" (a service name has no '.', so no two
 * pairs give the same name). NULL on ENOMEM. */
char *service_volume_name(const char *service, const char *volume);

/* Ordering (spec-order.c). lookup gives the spec of a service by name (NULL: none); want is the spec being added
 * or replaced, and stands for its name whatever lookup says. Returns 1 with *ret_cycle "a -> b -> a" when want's
 * after/requires close a cycle, 0 when they do not, -ENOMEM. */
typedef const ServiceSpec *(*ServiceSpecLookup)(const char *name, void *userdata);
int service_order_find_cycle(const ServiceSpec *want, ServiceSpecLookup lookup, void *userdata, char **ret_cycle);
const char *service_runtime_to_string(ServiceRuntime r);
const char *image_pull_to_string(ImagePull p);

/* "image@sha256:<64 hex>": the digest (from '@'), or NULL when the reference has none. */
const char *image_digest(const char *image);
