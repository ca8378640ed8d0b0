/* SPDX-License-Identifier: MIT */
#pragma once

/* FleetLock's wire format (https://coreos.github.io/zincati/development/fleetlock/protocol/): the ids and groups
 * it allows, the request body a client posts, the error document a server answers with. Pure; the client
 * (fleetlock.h) and ballastd's own endpoint (lockserver.h) both speak it. */

#include <stdbool.h>
#include <stddef.h>

/* ---- FleetLock ---- */

/* FleetLock's group: ^[a-zA-Z0-9.-]+$ (at most 255). Note that '_' is not allowed. */
bool updates_fleetlock_group_valid(const char *group);
/* FleetLock's id: non-empty, at most 256 bytes, no control characters. */
bool updates_fleetlock_id_valid(const char *id);

/* {"client_params":{"id":"…","group":"…"}} for POST /v1/pre-reboot and /v1/steady-state. -EINVAL for an
 * invalid id or group. */
int updates_fleetlock_request_body(const char *id, const char *group, char **ret);

/* Parses what a client (Zincati) posts to ballastd's own FleetLock endpoint. Unknown keys, at the top and in
 * client_params, are tolerated, as airlock (Go's encoding/json) tolerates them: the protocol may grow, and a
 * refusal would only stop the node's updates. The known ones must be right: client_params an object, id and
 * group strings that pass the checks above; the old name "node_uuid" does not stand in for "id". Duplicate
 * keys, trailing garbage, more than 64 KiB: -EINVAL. */
int updates_fleetlock_parse_request(const char *body, size_t n, char **ret_id, char **ret_group,
                                    char **ret_error);

/* {"kind":"…","value":"…"}, the error document a FleetLock server answers with a 4xx/5xx. kind must be of
 * bounded cardinality (Zincati uses it as a metric label): letters, digits and '_' only. */
int updates_fleetlock_error_body(const char *kind, const char *value, char **ret);
