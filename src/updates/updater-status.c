/* SPDX-License-Identifier: MIT */
/* What the updater says about itself: the reboot decision explained with what the flow met on the way (why no
 * lock, why no drain, why no reboot), `ballastctl update status`'s document and the "updates" part of the node's
 * report. Reads the Updater, changes nothing. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-id128.h>
#include <time.h>
#include <unistd.h>

#include "shared/fileio.h"
#include "shared/json-util.h"
#include "shared/log.h"
#include "shared/time-util.h"
#include "updates/updater-internal.h"

/* ---- status ---- */

void updater_unmanaged_decision(Updater *u, RebootDecision *d) {
        *d = (RebootDecision) { .allow = false, .reason = "unmanaged" };
        if (u->os_error)
                d->message = "The OS could not be identified from os-release: ballast touches nothing.";
        else if (!u->managed)
                d->message = "Updates are not managed: the configuration has no \"updates\" block; ballast only reports.";
        else
                d->message = "This OS is not one ballast manages updates on (Flatcar, Container Linux, Fedora CoreOS); ballast touches nothing.";
}

static json_t *decision_json(const RebootDecision *d) {
        return json_pack("{s:b,s:s,s:s}", "allow", d->allow, "reason", d->reason, "message", d->message);
}

/* The gate's reason, made exact with what the flow met on the way: why the lock is not held, why the drain or
 * the reboot did not happen. */
void updater_decision_explain(Updater *u, RebootDecision *d) {
        if (d->allow && u->flow.state == REBOOT_STATE_REBOOTING && u->reboot_error && !u->reboot_started)
                *d = (RebootDecision) { .allow = false, .reason = "reboot-failed", .message = u->reboot_error };
        if (d->allow)
                return;
        if (streq(d->reason, "config-error") && u->state_write_error)
                d->message = u->state_write_error;
        else if (streq(d->reason, "no-lock")) {
                if (u->lock_setup_error)
                        d->message = u->lock_setup_error;
                else if (u->lock_reason && !streq(u->lock_reason, "lock-ok") && u->lock_message &&
                         u->flow.state == REBOOT_STATE_LOCKING) {
                        d->reason = u->lock_reason;
                        d->message = u->lock_message;
                }
        } else if (streq(d->reason, "not-drained") && u->drain_error) {
                d->reason = "drain-failed";
                d->message = u->drain_error;
        }
}

static json_t *usec_or_null(uint64_t t) {
        return t ? json_integer((json_int_t) t) : json_null();
}

static json_t *lock_json(Updater *u) {
        return json_pack("{s:b,s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:I,s:i,s:o,s:o,s:b,s:b,s:s?}",
                         "held", u->lock_held,
                         "url", uses_lock(u) ? u->fleet_lock_url : NULL,
                         "group", uses_lock(u) ? u->fleet_lock_group : NULL,
                         "id", uses_lock(u) ? u->lock_id : NULL,
                         "reason", u->lock_reason,
                         "message", u->lock_message,
                         "kind", u->lock_kind,
                         "status", (json_int_t) u->lock_status,
                         "failures", (int) u->lock_failures,
                         "at_usec", usec_or_null(u->lock_at_usec),
                         "retry_at_usec", usec_or_null(u->lock_retry_at_usec),
                         "pre_reboot_pending", fleetlock_pending(u->fleetlock, FLEETLOCK_PRE_REBOOT),
                         "steady_state_pending", fleetlock_pending(u->fleetlock, FLEETLOCK_STEADY_STATE),
                         "error", u->lock_setup_error);
}

static json_t *window_json(const GateView *g) {
        json_t *win = json_pack("{s:s}", "state",
                                g->window_r == UPDATES_WINDOW_INSIDE ? "inside" :
                                g->window_r == UPDATES_WINDOW_OUTSIDE ? "outside" :
                                g->window_r == UPDATES_WINDOW_NONE ? "none" : "unknown");

        if (g->window_r < 0)
                json_object_set_new(win, "error", json_string(g->window_r == -ENOENT ? "unknown time zone" : strerror(-g->window_r)));
        if (g->next_start > 0)
                json_object_set_new(win, "next_start_usec", json_integer(g->next_start * (json_int_t) USEC_PER_SEC));
        if (g->end > 0)
                json_object_set_new(win, "end_usec", json_integer(g->end * (json_int_t) USEC_PER_SEC));
        return win;
}

/* The parts of the status that the loop keeps: lock, drain, inhibitor, reboot, Zincati. */
static void status_add_runtime(Updater *u, json_t *j) {
        json_object_set_new(j, "time_zone", json_string(effective_time_zone(u)));
        json_object_set_new(j, "lock", lock_json(u));
        json_object_set_new(j, "drain", json_pack("{s:b,s:b,s:b,s:I,s:s?}", "requested", u->drain_requested,
                                                  "drained", drained(u), "timed_out", u->drain_timed_out,
                                                  "timeout_s", (json_int_t) u->drain_timeout_s,
                                                  "error", u->drain_error));
        json_object_set_new(j, "inhibitor", json_pack("{s:b,s:s?}", "held", u->inhibit_fd >= 0,
                                                      "error", u->inhibit_error));
        json_object_set_new(j, "reboot", json_pack("{s:b,s:b,s:i,s:s?}", "asked", u->reboot_asked,
                                                   "started", u->reboot_started, "failures",
                                                   (int) u->reboot_failures, "error", u->reboot_error));
        json_object_set_new(j, "boot_id", json_string(u->boot_id));
        json_object_set_new(j, "clock", json_pack("{s:b,s:s?,s:s?}", "synchronized", u->clock_synced > 0,
                                                  "source", u->clock_source, "error", u->clock_error));
        if (u->os.kind == OS_FEDORA_COREOS)
                json_object_set_new(j, "rpm_ostree", updater_fcos_status_json(u));
        if (u->os.kind == OS_FEDORA_COREOS)
                json_object_set_new(j, "zincati",
                                    json_pack("{s:s,s:b,s:s?,s:s?,s:i,s:o}", "endpoint",
                                              UPDATER_FLEETLOCK_BASE_URL, "serving", u->endpoint != NULL,
                                              "error", u->endpoint_error, "last_request",
                                              u->zincati_last_op, "last_answer", u->zincati_last_answer,
                                              "last_request_usec", usec_or_null(u->zincati_last_usec)));
}

json_t *updater_status_json(Updater *u) {
        const MaintenanceWindow *w;
        size_t n;
        GateView g;
        RebootDecision now, policy;
        json_t *j, *win, *ue = json_null();
        _cleanup_free_ char *flow = NULL;

        updater_inputs(u, &g);
        effective_windows(u, &w, &n);
        if (!updater_is_managed(u))
                updater_unmanaged_decision(u, &now), policy = now;
        else {
                RebootInputs hyp = g.in;

                updates_may_reboot(&g.in, &now);
                updater_decision_explain(u, &now);
                /* the same as if a reboot into the running version were needed: what policy says right now */
                hyp.reboot_needed = true;
                if (!hyp.new_version)
                        hyp.new_version = u->os.version;
                if (!hyp.new_stream)
                        hyp.new_stream = u->booted.stream;
                updates_may_reboot(&hyp, &policy);
        }
        win = window_json(&g);
        if (u->os.kind == OS_FLATCAR || u->os.kind == OS_CONTAINER_LINUX)
                ue = json_pack("{s:b,s:s?,s:s?,s:f,s:I,s:s?}", "known", u->ue_known, "operation", u->ue_operation,
                               "new_version", u->ue_new_version, "progress", u->ue_progress, "last_checked_time",
                               (json_int_t) u->ue_last_checked, "error", u->ue_error);
        if (updates_reboot_flow_to_json(&u->flow, &flow) < 0)
                flow = NULL;

        j = json_pack("{s:{s:s,s:s?,s:s?,s:s?,s:s?},s:b,s:s?,s:s?,s:s?,s:s?,s:s,s:s?,s:s,s:o,s:o,s:b,s:b,s:s?,s:b,s:s?,s:o,s:o,s:o,s:o}",
                      "os", "kind", updates_os_kind_to_string(u->os.kind), "id", u->os.id, "version", u->os.version,
                      "pretty_name", u->os.pretty_name, "error", u->os_error,
                      "managed", updater_is_managed(u),
                      "file", u->file_path,
                      "file_error", u->file_error,
                      "state_error", u->state_error ?: u->state_write_error,
                      "channel", effective_channel(u),
                      "channel_source", u->pin_channel ? "pin" : "config",
                      "max_version", u->max_version,
                      "strategy", updates_strategy_to_string(u->strategy),
                      "windows", updater_windows_json(w, n),
                      "window", win,
                      "paused", u->paused,
                      "clock_known", g.in.clock_known,
                      "approved_version", u->approved_version,
                      "reboot_needed", u->reboot_needed,
                      "new_version", u->new_version,
                      "update_engine", ue,
                      "flow", flow ? json_loads(flow, 0, NULL) : json_null(),
                      "decision", decision_json(&now),
                      "policy", decision_json(&policy));
        if (j)
                status_add_runtime(u, j);
        return j;
}

json_t *updater_report_json(Updater *u) {
        json_t *s = updater_status_json(u), *decision = json_object_get(s, "decision"), *r;
        bool managed = updater_is_managed(u);

        /* schema 2 added since_usec, message, os_version, stream, channel, paused, lock_held, lock_group, drained:
         * what `ballastctl nodes` shows of an update wave */
        r = json_pack("{s:s,s:O?,s:b,s:b,s:O?,s:O?,s:O?,s:o,s:s?,s:s?,s:s?,s:b,s:b,s:s?,s:b}",
                      "state", managed ? updates_reboot_state_to_string(u->flow.state) : "unmanaged",
                      "os", json_object_get(json_object_get(s, "os"), "kind"),
                      "managed", managed,
                      "reboot_needed", u->reboot_needed,
                      "new_version", json_object_get(s, "new_version"),
                      "reason", json_object_get(decision, "reason"),
                      "message", json_object_get(decision, "message"),
                      "since_usec", managed ? usec_or_null(u->flow.since_usec) : json_null(),
                      "os_version", u->os.version,
                      /* Fedora CoreOS: the booted deployment's stream; Flatcar: the channel is the stream */
                      "stream", u->os.kind == OS_FEDORA_COREOS ? u->booted.stream : effective_channel(u),
                      "channel", effective_channel(u),
                      "paused", u->paused,
                      "lock_held", u->lock_held,
                      "lock_group", uses_lock(u) ? u->fleet_lock_group : NULL,
                      "drained", managed && drained(u));
        json_decref(s);
        return r;
}
