/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "shared/json-util.h"
#include "shared/macro.h"
#include "updates/fleetlock-wire.h"
#include "updates/util.h"

/* ---- FleetLock ---- */

bool updates_fleetlock_group_valid(const char *group) {
        return !isempty(group) && strlen(group) <= 255 && updates_all_of(group, ALNUM ".-");
}

bool updates_fleetlock_id_valid(const char *id) {
        size_t n;

        if (isempty(id) || (n = strlen(id)) > 256)
                return false;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) id[i] < 0x20 || id[i] == 0x7f)
                        return false;
        return true;
}


int updates_fleetlock_request_body(const char *id, const char *group, char **ret) {
        if (!ret || !updates_fleetlock_id_valid(id) || !updates_fleetlock_group_valid(group))
                return -EINVAL;
        /* jansson keeps the insertion order: client_params, id, group, as Zincati sends them */
        return updates_dump_json(json_pack("{s:{s:s,s:s}}", "client_params", "id", id, "group", group), ret);
}

#define FLEETLOCK_BODY_MAX (64 * 1024)

int updates_fleetlock_parse_request(const char *body, size_t n, char **ret_id, char **ret_group,
                                    char **ret_error) {
        _cleanup_json_ json_t *root = NULL;
        _cleanup_free_ char *id = NULL, *group = NULL;
        json_error_t jerr;
        json_t *params, *v;

        if (!body || !ret_id || !ret_group)
                return -EINVAL;
        if (n > FLEETLOCK_BODY_MAX)
                return updates_fail(ret_error, -EINVAL, "body larger than %d bytes", FLEETLOCK_BODY_MAX);
        root = json_loadb(body, n, JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
                return updates_fail(ret_error, -EINVAL, "body is not JSON: %s", jerr.text);
        if (!json_is_object(root))
                return updates_fail(ret_error, -EINVAL, "body: expected an object, got %s", json_type_name(root));

        params = json_object_get(root, "client_params");
        if (!params)
                return updates_fail(ret_error, -EINVAL, "client_params: is required");
        if (!json_is_object(params))
                return updates_fail(ret_error, -EINVAL, "client_params: expected an object, got %s",
                            json_type_name(params));

        v = json_object_get(params, "id");
        if (!v)
                return updates_fail(ret_error, -EINVAL, "client_params.id: is required");
        if (!json_is_string(v) || !updates_fleetlock_id_valid(json_string_value(v)))
                return updates_fail(ret_error, -EINVAL,
                            "client_params.id: expected a non-empty string of at most 256 bytes without control "
                            "characters");
        id = strdup(json_string_value(v));
        if (!id)
                return -ENOMEM;

        v = json_object_get(params, "group");
        if (!v)
                return updates_fail(ret_error, -EINVAL, "client_params.group: is required");
        if (!json_is_string(v) || !updates_fleetlock_group_valid(json_string_value(v)))
                return updates_fail(ret_error, -EINVAL,
                            "client_params.group: expected a string matching ^[a-zA-Z0-9.-]+$");
        group = strdup(json_string_value(v));
        if (!group)
                return -ENOMEM;
        *ret_id = TAKE_PTR(id);
        *ret_group = TAKE_PTR(group);
        return 0;
}

int updates_fleetlock_error_body(const char *kind, const char *value, char **ret) {
        if (!ret || isempty(kind) || strlen(kind) > 64 || !updates_all_of(kind, ALNUM "_") || !value)
                return -EINVAL;
        /* json_pack() refuses a value that is not UTF-8 */
        json_t *v = json_pack("{s:s,s:s}", "kind", kind, "value", value);
        return v ? updates_dump_json(v, ret) : -EINVAL;
}
