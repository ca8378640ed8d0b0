/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "shared/log.h"
#include "shared/time-util.h"
#include "updates/updater-internal.h"
#include "updates/updater-varlink.h"
#include "varlink/varlink.h"

/* ---- Varlink ---- */

static int reply_status(Updater *u, VarlinkCall *call) {
        return varlink_call_reply(call, updater_status_json(u));
}

static int no_params(VarlinkCall *call, json_t *params) {
        if (json_object_size(params) > 0)
                return varlink_call_error_invalid_parameter(call, json_object_iter_key(json_object_iter(params)));
        return 0;
}

/* The state file could not be written: say which and why (nothing was changed for good). */
static int reply_state_write_failed(VarlinkCall *call, const char *path, int r) {
        return varlink_call_error(call, "io.ballast.Agent.StateWriteFailed",
                                  json_pack("{s:s,s:s}", "path", strna(path), "reason", strerror(-r)));
}

static int refuse_unmanaged(Updater *u, VarlinkCall *call) {
        RebootDecision d;
        updater_unmanaged_decision(u, &d);
        return varlink_call_error(call, "io.ballast.Agent.UpdatesNotManaged", json_pack("{s:s}", "reason", d.message));
}

int updater_method_status(Updater *u, VarlinkCall *call, json_t *params) {
        int r = no_params(call, params);
        if (r != 0 || json_object_size(params) > 0)
                return r;
        return reply_status(u, call);
}

int updater_method_pin(Updater *u, VarlinkCall *call, json_t *params) {
        _cleanup_free_ char *path = NULL, *text = NULL, *error = NULL, *old = NULL;
        json_t *ch = json_object_get(params, "channel");
        const char *key, *channel;
        json_t *v;
        int r;

        json_object_foreach(params, key, v)
                if (!streq(key, "channel"))
                        return varlink_call_error_invalid_parameter(call, key);
        if (!json_is_string(ch))
                return varlink_call_error_invalid_parameter(call, "channel");
        channel = json_string_value(ch);
        if (!channel_valid(channel))
                return varlink_call_error(call, "io.ballast.Agent.InvalidUpdatePolicy",
                                          json_pack("{s:s,s:s}", "field", "channel", "reason",
                                                    "a channel is 1 to 64 letters, digits, '.', '_' or '-'"));
        if (!updater_is_managed(u))
                return refuse_unmanaged(u, call);
        /* render first: a value the file's renderer refuses changes nothing */
        r = updater_render(u, channel, &path, &text, &error);
        if (r < 0)
                return varlink_call_error(call, "io.ballast.Agent.InvalidUpdatePolicy",
                                          json_pack("{s:s,s:s}", "field", "channel", "reason",
                                                    error ?: strerror(-r)));
        /* persisted first: a change that is not on disk does not take effect */
        old = TAKE_PTR(u->pin_channel);
        u->pin_channel = strdup(channel);
        r = u->pin_channel ? updater_save(u) : -ENOMEM;
        if (r < 0) {
                free(u->pin_channel);
                u->pin_channel = TAKE_PTR(old);
                return r == -ENOMEM ? r : reply_state_write_failed(call, u->state_path, r);
        }
        log_event(LOG_INFO, 0, "update-pinned", NULL, NULL, "Update channel pinned to %s.", channel);
        if (updater_write_file(u) < 0)
                return varlink_call_error(call, "io.ballast.Agent.StateWriteFailed",
                                          json_pack("{s:s,s:s}", "path", strna(u->file_path), "reason",
                                                    strna(u->file_error)));
        updater_step(u);
        return reply_status(u, call);
}

static int set_paused(Updater *u, VarlinkCall *call, json_t *params, bool paused) {
        int r = no_params(call, params);

        if (r != 0 || json_object_size(params) > 0)
                return r;
        if (!updater_is_managed(u))
                return refuse_unmanaged(u, call);
        if (u->paused != paused) {
                u->paused = paused;
                r = updater_save(u);
                if (r < 0) {
                        u->paused = !paused;
                        return reply_state_write_failed(call, u->state_path, r);
                }
                log_event(LOG_INFO, 0, paused ? "updates-paused" : "updates-resumed", NULL, NULL,
                          paused ? "Reboots for updates paused." : "Reboots for updates resumed.");
                updater_step(u);
        }
        return reply_status(u, call);
}

int updater_method_pause(Updater *u, VarlinkCall *call, json_t *params) {
        return set_paused(u, call, params, true);
}

int updater_method_resume(Updater *u, VarlinkCall *call, json_t *params) {
        return set_paused(u, call, params, false);
}

int updater_method_set_windows(Updater *u, VarlinkCall *call, json_t *params) {
        _cleanup_free_ MaintenanceWindow *w = NULL;
        _cleanup_free_ char *error = NULL, *new_zone = NULL;
        bool was_set = true;
        json_t *tz = json_object_get(params, "time_zone"), *v;
        const char *key, *zone;
        size_t n = 0;
        int r;

        json_object_foreach(params, key, v)
                if (!streq(key, "windows") && !streq(key, "time_zone"))
                        return varlink_call_error_invalid_parameter(call, key);
        if (tz && !json_is_null(tz) && !(json_is_string(tz) && time_zone_syntax_valid(json_string_value(tz))))
                return varlink_call_error(call, "io.ballast.Agent.InvalidUpdatePolicy",
                                          json_pack("{s:s,s:s}", "field", "time_zone", "reason",
                                                    "expected a time zone such as \"UTC\" or \"Europe/Berlin\""));
        r = updater_windows_from_json(json_object_get(params, "windows"), &w, &n, &error);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return varlink_call_error(call, "io.ballast.Agent.InvalidUpdatePolicy",
                                          json_pack("{s:s,s:s}", "field", "windows", "reason", strna(error)));
        zone = json_is_string(tz) ? json_string_value(tz) : u->time_zone;
        r = updates_in_window(w, n, (int64_t) (now_usec(CLOCK_REALTIME) / USEC_PER_SEC), zone, NULL, NULL);
        if (r < 0)
                return varlink_call_error(call, "io.ballast.Agent.InvalidUpdatePolicy",
                                          json_pack("{s:s,s:s}", "field", r == -ENOENT ? "time_zone" : "windows",
                                                    "reason", r == -ENOENT ? "the TZ database has no such zone"
                                                                           : "the windows cannot be computed"));
        if (!updater_is_managed(u))
                return refuse_unmanaged(u, call);
        if (json_is_string(tz) && !(new_zone = strdup(json_string_value(tz))))
                return -ENOMEM;
        /* persisted first: windows that are not on disk do not take effect */
        SWAP(u->set_windows, w);
        SWAP(u->n_set_windows, n);
        SWAP(u->windows_set, was_set);
        SWAP(u->set_time_zone, new_zone);
        r = updater_save(u);
        if (r < 0) {
                SWAP(u->set_windows, w);
                SWAP(u->n_set_windows, n);
                SWAP(u->windows_set, was_set);
                SWAP(u->set_time_zone, new_zone);
                return reply_state_write_failed(call, u->state_path, r);
        }
        n = u->n_set_windows;
        log_event(LOG_INFO, 0, "update-windows-set", NULL, NULL, "Maintenance windows set (%zu, zone %s).", n,
                  effective_time_zone(u));
        updater_step(u);
        return reply_status(u, call);
}

int updater_method_approve(Updater *u, VarlinkCall *call, json_t *params) {
        _cleanup_free_ char *old = NULL;
        json_t *ver = json_object_get(params, "version"), *v;
        const char *key, *version;
        int cmp, r;

        json_object_foreach(params, key, v)
                if (!streq(key, "version"))
                        return varlink_call_error_invalid_parameter(call, key);
        if (ver && !json_is_null(ver) && !json_is_string(ver))
                return varlink_call_error_invalid_parameter(call, "version");
        if (!updater_is_managed(u))
                return refuse_unmanaged(u, call);
        version = json_is_string(ver) ? json_string_value(ver) : u->new_version;
        if (!version)
                return varlink_call_error(call, "io.ballast.Agent.InvalidUpdatePolicy",
                                          json_pack("{s:s,s:s}", "field", "version", "reason",
                                                    "no update is pending: name the version to approve"));
        if (updates_version_compare(version, version, &cmp) < 0)
                return varlink_call_error(call, "io.ballast.Agent.InvalidUpdatePolicy",
                                          json_pack("{s:s,s:s}", "field", "version", "reason",
                                                    "expected a dotted numeric version such as 3815.2.0"));
        /* persisted first: an approval that is not on disk does not take effect */
        old = TAKE_PTR(u->approved_version);
        u->approved_version = strdup(version);
        r = u->approved_version ? updater_save(u) : -ENOMEM;
        if (r < 0) {
                free(u->approved_version);
                u->approved_version = TAKE_PTR(old);
                return r == -ENOMEM ? r : reply_state_write_failed(call, u->state_path, r);
        }
        log_event(LOG_INFO, 0, "update-approved", NULL, NULL, "Version %s approved (above max_version allowed).",
                  version);
        updater_step(u);
        return reply_status(u, call);
}

int updater_method_unpin(Updater *u, VarlinkCall *call, json_t *params) {
        _cleanup_free_ char *old = NULL;
        int r = no_params(call, params);

        if (r != 0 || json_object_size(params) > 0)
                return r;
        if (!updater_is_managed(u))
                return refuse_unmanaged(u, call);
        if (!u->pin_channel)
                return reply_status(u, call);
        /* persisted first, as every change */
        old = TAKE_PTR(u->pin_channel);
        r = updater_save(u);
        if (r < 0) {
                u->pin_channel = TAKE_PTR(old);
                return reply_state_write_failed(call, u->state_path, r);
        }
        log_event(LOG_INFO, 0, "update-unpinned", NULL, NULL, "Update channel unpinned (was %s): %s from the configuration.",
                  old, strna(effective_channel(u)));
        if (updater_write_file(u) < 0)
                return varlink_call_error(call, "io.ballast.Agent.StateWriteFailed",
                                          json_pack("{s:s,s:s}", "path", strna(u->file_path), "reason",
                                                    strna(u->file_error)));
        updater_step(u);
        return reply_status(u, call);
}

int updater_method_reset_windows(Updater *u, VarlinkCall *call, json_t *params) {
        _cleanup_free_ MaintenanceWindow *w = NULL;
        _cleanup_free_ char *zone = NULL;
        size_t n = 0;
        bool was_set = false;
        int r = no_params(call, params);

        if (r != 0 || json_object_size(params) > 0)
                return r;
        if (!updater_is_managed(u))
                return refuse_unmanaged(u, call);
        if (!u->windows_set && !u->set_time_zone)
                return reply_status(u, call);
        SWAP(u->set_windows, w);
        SWAP(u->n_set_windows, n);
        SWAP(u->windows_set, was_set);
        SWAP(u->set_time_zone, zone);
        r = updater_save(u);
        if (r < 0) {
                SWAP(u->set_windows, w);
                SWAP(u->n_set_windows, n);
                SWAP(u->windows_set, was_set);
                SWAP(u->set_time_zone, zone);
                return reply_state_write_failed(call, u->state_path, r);
        }
        log_event(LOG_INFO, 0, "update-windows-reset", NULL, NULL,
                  "Maintenance windows back to the configuration's (zone %s).", effective_time_zone(u));
        updater_step(u);
        return reply_status(u, call);
}

/* Releases this node's slot at the FleetLock server (steady-state, which the server treats as "unlock if held"),
 * for a wave stuck on this node: a slot left held after a lost answer or a state wiped by hand. Refused while
 * the flow uses the slot (locking, draining, rebooting): releasing then would let another node reboot while
 * this one still may. The answer is the status at once; the outcome is in lock (reason, message) soon after. */
int updater_method_unlock(Updater *u, VarlinkCall *call, json_t *params) {
        RebootState s = u->flow.state;
        int r = no_params(call, params);

        if (r != 0 || json_object_size(params) > 0)
                return r;
        if (!updater_is_managed(u))
                return refuse_unmanaged(u, call);
        if (!uses_lock(u) || !u->fleetlock)
                return varlink_call_error(call, "io.ballast.Agent.UpdatesNotManaged",
                                          json_pack("{s:s}", "reason",
                                                    u->lock_setup_error ?: "no FleetLock server is configured, so "
                                                                           "there is no slot to release"));
        if (s == REBOOT_STATE_LOCKING || s == REBOOT_STATE_DRAINING || s == REBOOT_STATE_REBOOTING)
                return varlink_call_error(call, "io.ballast.Agent.UpdateLockInUse",
                                          json_pack("{s:s}", "state", updates_reboot_state_to_string(s)));
        r = fleetlock_start(u->fleetlock, FLEETLOCK_STEADY_STATE);
        if (r < 0)
                return r;
        log_event(LOG_NOTICE, 0, "fleetlock-unlock-asked", NULL, NULL,
                  "Releasing this node's FleetLock slot (group %s) on request; the reboot flow is %s.",
                  strna(u->fleet_lock_group), updates_reboot_state_to_string(s));
        return reply_status(u, call);
}
