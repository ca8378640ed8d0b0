/* SPDX-License-Identifier: MIT */
#pragma once

/* ballast.json: parsed and validated in full before anything uses it, so a reload either takes the whole new
 * configuration or none of it. */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "shared/macro.h"
#include "updates/policy.h"

typedef struct Config {
        char *node_name;        /* NULL: the hostname */
        json_t *node_labels;    /* object of strings, never NULL */

        uint64_t reserved_cpu_millis;
        uint64_t reserved_memory;
        uint64_t reserved_pids;
        uint64_t eviction_memory;
        unsigned eviction_disk_percent;

        char **etcd_endpoints;
        char *etcd_prefix;
        unsigned etcd_ttl_s;
        char *etcd_ca, *etcd_cert, *etcd_key;
        char *http_url;
        char *http_token_file;
        unsigned http_interval_s;

        UpdatesPolicy updates;  /* the "updates" block */

        /* metrics (metrics/): off unless given */
        char *metrics_address;  /* NULL: no endpoint */
        uint16_t metrics_port;
        char *metrics_textfile; /* NULL: no textfile */
        unsigned metrics_textfile_interval_s;

        char *control_socket;
        char *control_group;
        char *docker_socket;
        char *registry_auth_file; /* docker.registry_auth_file; NULL: none */
        char *unit_dir;
        char *state_dir;
        char *services_dir;
} Config;

/* Defaults for every key (what a missing file means). */
int config_new_default(Config **ret);
Config *config_free(Config *c);
DEFINE_CLEANUP_FUNC(Config *, config_free);

/* Parses text; on failure *ret_error says what and where ("FILE:LINE:COL: key: why"). */
int config_parse(const char *text, size_t size, const char *filename, Config **ret, char **ret_error);

/* Loads a file; a missing file gives the defaults. */
int config_load(const char *path, Config **ret, char **ret_error);
