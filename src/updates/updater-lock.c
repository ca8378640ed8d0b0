/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "shared/fileio.h"
#include "shared/log.h"
#include "shared/time-util.h"
#include "updates/updater-internal.h"
#include "updates/zincati.h"

/* ---- the cluster's FleetLock ---- */

void lock_record_clear(LockRecord *r) {
        r->url = mfree(r->url);
        r->group = mfree(r->group);
        r->id = mfree(r->id);
}

int lock_record_set(LockRecord *r, const char *url, const char *group, const char *id) {
        LockRecord n = { .url = url ? strdup(url) : NULL, .group = group ? strdup(group) : NULL,
                         .id = id ? strdup(id) : NULL };

        if ((url && !n.url) || (group && !n.group) || (id && !n.id)) {
                lock_record_clear(&n);
                return -ENOMEM;
        }
        lock_record_clear(r);
        *r = n;
        return 0;
}

json_t *lock_record_to_json(const LockRecord *r) {
        if (!r->url)
                return json_null();
        return json_pack("{s:s,s:s?,s:s?}", "url", r->url, "group", r->group, "id", r->id);
}

int lock_record_from_json(json_t *v, LockRecord *r) {
        json_t *url = json_object_get(v, "url"), *group = json_object_get(v, "group"), *id = json_object_get(v, "id");

        if (json_is_null(v) || !v)
                return lock_record_set(r, NULL, NULL, NULL);
        if (!json_is_string(url) || (group && !json_is_string(group)) || (id && !json_is_string(id)))
                return -EINVAL;
        return lock_record_set(r, json_string_value(url), json_string_value(group), json_string_value(id));
}

static bool lock_record_is_current(Updater *u, const LockRecord *r) {
        return r->url && u->fleetlock && streq_ptr(r->url, u->lock_url_in_use) &&
               streq_ptr(r->group, u->lock_group_in_use) && streq_ptr(r->id, u->lock_id);
}

static void on_fleetlock(FleetLock *f, const FleetLockOutcome *o, void *userdata) {
        Updater *u = userdata;
        const char *reason = fleetlock_result_to_reason(o->result);
        bool same = u->lock_reason && streq(u->lock_reason, reason) && u->lock_message &&
                    streq(u->lock_message, o->message);

        u->lock_reason = reason;
        (void) set_string(&u->lock_message, o->message);
        (void) set_string(&u->lock_kind, o->kind);
        u->lock_status = o->status;
        u->lock_failures = o->failures;
        u->lock_at_usec = now_usec(CLOCK_REALTIME);
        u->lock_retry_at_usec = o->retry_in_usec ? u->lock_at_usec + o->retry_in_usec : 0;
        if (o->result == FLEETLOCK_OK) {
                log_event(LOG_NOTICE, 0, o->op == FLEETLOCK_PRE_REBOOT ? "fleetlock-locked" : "fleetlock-unlocked",
                          NULL, NULL, "FleetLock %s: %s", fleetlock_op_to_string(o->op), o->message);
                if (o->op == FLEETLOCK_PRE_REBOOT)
                        u->lock_held = true;
                else {
                        u->lock_held = false;
                        u->unlocked = true;
                        lock_record_clear(&u->lock_rec); /* released there: nothing is held anywhere */
                        (void) updater_save(u);
                }
        } else
                /* every failure, but an unchanged one only at debug level after the first few */
                log_event(same && o->failures > 3 ? LOG_DEBUG : LOG_WARNING, 0, "fleetlock-error", NULL, NULL,
                          "FleetLock %s failed (%s): %s Retrying in %.1f s; no reboot without the lock.",
                          fleetlock_op_to_string(o->op), reason, o->message,
                          (double) o->retry_in_usec / (double) USEC_PER_SEC);
        updater_step(u);
}

/* The client of a server the configuration no longer names, asked to release what was asked of it there. */
static void on_retired_fleetlock(FleetLock *f, const FleetLockOutcome *o, void *userdata) {
        Updater *u = userdata;

        if (o->result != FLEETLOCK_OK) {
                log_event(LOG_WARNING, 0, "fleetlock-error", NULL, NULL,
                          "FleetLock steady-state to the server no longer configured failed (%s): %s Retrying.",
                          fleetlock_result_to_reason(o->result), o->message);
                return;
        }
        log_event(LOG_NOTICE, 0, "fleetlock-unlocked", NULL, NULL,
                  "Released the lock at the server no longer configured (%s): %s", strna(u->release_rec.url),
                  o->message);
        lock_record_clear(&u->release_rec);
        (void) updater_save(u);
        if (u->fleetlock_retired == f)
                u->fleetlock_retired = fleetlock_free(f); /* on_answer() touches nothing after this callback */
}

/* Best effort: a steady-state to the server in release_rec, retried in the background until it answers. */
void updater_release_recorded(Updater *u) {
        int r;

        u->fleetlock_retired = fleetlock_free(u->fleetlock_retired);
        if (!u->release_rec.url)
                return;
        r = fleetlock_new(&u->fleetlock_retired, u->event, u->http, u->release_rec.url, u->release_rec.id ?: "",
                          u->release_rec.group ?: "default", on_retired_fleetlock, u);
        if (r >= 0)
                r = fleetlock_start(u->fleetlock_retired, FLEETLOCK_STEADY_STATE);
        if (r < 0)
                log_event(LOG_WARNING, r, "fleetlock-error", NULL, NULL,
                          "Cannot release the lock at %s (no longer configured), leaving it: %m",
                          u->release_rec.url);
}

/* The lock recorded against the server configured now: a lock asked of another server is not held here (the
 * flow takes one here before it reboots), and is released there. */
static void updater_check_lock_record(Updater *u) {
        /* a version-1 file: the lock was taken at the configured server (the only one it could have known) */
        if (u->lock_rec_legacy) {
                u->lock_rec_legacy = false;
                if (u->fleetlock)
                        (void) lock_record_set(&u->lock_rec, u->lock_url_in_use, u->lock_group_in_use, u->lock_id);
        }
        if (!u->lock_rec.url) {
                /* nothing asked of any server: no lock held */
                u->lock_held = false;
                return;
        }
        if (lock_record_is_current(u, &u->lock_rec))
                return;
        log_event(LOG_WARNING, 0, "fleetlock-moved", NULL, NULL,
                  "The lock was asked of %s (group %s), and the configuration names %s (group %s) now: it is not "
                  "held here; releasing it there, and taking one here before any reboot.",
                  u->lock_rec.url, strna(u->lock_rec.group), strna(u->lock_url_in_use), strna(u->lock_group_in_use));
        u->lock_held = false;
        /* the record moves to release_rec (one earlier server still releasing there is given up) */
        lock_record_clear(&u->release_rec);
        u->release_rec = u->lock_rec;
        u->lock_rec = (LockRecord) {};
        (void) updater_save(u);
        updater_release_recorded(u);
}

/* The client for the configured server, with Zincati's id for this machine (so that ballast and Zincati on
 * one node are one holder). Without one, the flow cannot take the lock: it waits, and says why. */
void updater_setup_fleetlock(Updater *u) {
        _cleanup_free_ char *p = NULL;
        bool want = updater_is_managed(u) && uses_lock(u);
        char id[33];
        int r;

        /* a reload with the same server keeps the client, and whatever it is doing */
        if (want && u->fleetlock && streq_ptr(u->lock_url_in_use, u->fleet_lock_url) &&
            streq_ptr(u->lock_group_in_use, u->fleet_lock_group))
                return;
        /* another server, or none: what was asked of the old one is in the lock record, released below */
        u->fleetlock = fleetlock_free(u->fleetlock);
        u->lock_setup_error = mfree(u->lock_setup_error);
        u->lock_url_in_use = mfree(u->lock_url_in_use);
        u->lock_group_in_use = mfree(u->lock_group_in_use);
        if (want) {
                p = path_join_root(u->root, "/etc/machine-id");
                r = p ? updates_zincati_machine_node_id(u->root, id) : -ENOMEM;
                if (r == -EINVAL)
                        u->lock_setup_error = strdupf("%s does not hold a machine id, so there is no FleetLock id.", p);
                else if (r < 0)
                        u->lock_setup_error = strdupf("Cannot read %s for the FleetLock id: %s.", strna(p),
                                                      strerror(-r));
                if (r >= 0) {
                        (void) set_string(&u->lock_id, id);
                        r = fleetlock_new(&u->fleetlock, u->event, u->http, u->fleet_lock_url, id,
                                          u->fleet_lock_group, on_fleetlock, u);
                        if (r >= 0) {
                                (void) set_string(&u->lock_url_in_use, u->fleet_lock_url);
                                (void) set_string(&u->lock_group_in_use, u->fleet_lock_group);
                        }
                        if (r < 0)
                                u->lock_setup_error = strdupf("Cannot talk FleetLock to %s with group %s: %s.",
                                                              strna(u->fleet_lock_url), strna(u->fleet_lock_group),
                                                              strerror(-r));
                }
                if (u->lock_setup_error)
                        log_event(LOG_ERR, r, "fleetlock-error", NULL, BALLAST_MESSAGE_ERROR, "No reboot: %s",
                                  u->lock_setup_error);
        }
        updater_check_lock_record(u);
}

/* ---- Fedora CoreOS: Zincati's FleetLock endpoint ---- */

/* Zincati asks before it finalizes (pre-reboot) and says when it runs again (steady-state). pre-reboot makes a
 * reboot needed and runs the flow (window, the cluster's lock, drain); the answer is 200 only once the flow
 * has reached the point where the reboot may happen, and then Zincati finalizes and reboots (ballast does not
 * call logind on Fedora CoreOS). Until then: 409, the reason as the kind, the sentence as the value. */
static int on_zincati(LockServerOp op, const char *id, const char *group, const char **ret_kind, char **ret_value,
                      void *userdata) {
        Updater *u = userdata;
        GateView g;
        RebootDecision d;

        u->need_known = true;
        u->zincati_last_usec = now_usec(CLOCK_REALTIME);
        if (op == LOCK_SERVER_STEADY_STATE) {
                u->zincati_last_op = "steady-state";
                u->zincati_last_answer = 200;
                /* told 200 in this boot (a new boot leaves rebooting at once): whatever says steady-state now,
                 * the node has not rebooted, and releasing would let another node go while this one may still
                 * reboot. The lock stays held until the new boot, or until reboot_timeout_s undrains and
                 * releases. */
                if (u->flow.state == REBOOT_STATE_REBOOTING && u->reboot_started) {
                        log_event(LOG_WARNING, 0, "zincati-steady-state", NULL, NULL,
                                  "Zincati says steady-state (id %s, group %s) in the boot it was told to reboot "
                                  "from: the lock stays held until the new boot or reboot_timeout_s (%u s).",
                                  id, group, u->reboot_timeout_s);
                        return 0;
                }
                if (u->reboot_needed || u->reboot_started)
                        log_event(LOG_INFO, 0, "zincati-steady-state", NULL, NULL,
                                  "Zincati is in steady state (id %s, group %s): no reboot pending.", id, group);
                u->reboot_needed = false;
                updater_step(u);
                return 0;
        }

        u->zincati_last_op = "pre-reboot";
        if (!u->reboot_needed)
                log_event(LOG_INFO, 0, "zincati-pre-reboot", NULL, NULL,
                          "Zincati asks to finalize an update (id %s, group %s): a reboot is needed.", id, group);
        u->reboot_needed = true;
        /* asked again: an earlier 200 did not lead to a reboot, so it counts for nothing; the flow and the
         * answer follow the gate as it stands now (window, pause, policy, lock, drain) */
        if (u->flow.state == REBOOT_STATE_REBOOTING)
                u->reboot_started = false;
        updater_step(u);
        updater_inputs(u, &g);
        updates_may_finalize(u->flow.state, &g.in, &d);
        updater_decision_explain(u, &d);
        if (d.allow) {
                log_event(LOG_NOTICE, 0, "rebooting", NULL, NULL,
                          "Zincati may finalize and reboot now: the node is drained and holds what it needs.");
                u->reboot_started = true;
                u->zincati_last_answer = 200;
                return 0;
        }
        *ret_kind = d.reason;
        *ret_value = strdup(d.message);
        u->zincati_last_answer = 409;
        return -EBUSY;
}

void updater_setup_endpoint(Updater *u) {
        int r;

        if (!updater_is_managed(u) || u->os.kind != OS_FEDORA_COREOS) {
                u->endpoint = lock_server_free(u->endpoint);
                u->endpoint_error = mfree(u->endpoint_error);
                return;
        }
        if (u->endpoint) {
                /* only this machine's Zincati id, in the configured group (again after a reload) */
                (void) lock_server_set_client(u->endpoint, u->root, u->fleet_lock_group);
                return;
        }
        r = lock_server_new(&u->endpoint, u->event, UPDATER_FLEETLOCK_ADDRESS, UPDATER_FLEETLOCK_PORT, on_zincati, u);
        if (r >= 0)
                (void) lock_server_set_client(u->endpoint, u->root, u->fleet_lock_group);
        if (r < 0) {
                free(u->endpoint_error);
                u->endpoint_error = strdupf("cannot serve the FleetLock endpoint for Zincati at %s: %s",
                                            UPDATER_FLEETLOCK_BASE_URL, strerror(-r));
                log_event(LOG_ERR, r, "endpoint-failed", NULL, BALLAST_MESSAGE_ERROR,
                          "Zincati cannot finalize updates: %s.", u->endpoint_error);
                return;
        }
        u->endpoint_error = mfree(u->endpoint_error);
        log_info("Serving the FleetLock endpoint for Zincati at %s.", UPDATER_FLEETLOCK_BASE_URL);
}
