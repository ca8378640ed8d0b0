/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "shared/json-util.h"
#include "shared/macro.h"
#include "updates/flow.h"
#include "updates/util.h"

/* ---- the reboot flow ---- */

static const char *const reboot_state_names[_REBOOT_STATE_MAX] = {
        [REBOOT_STATE_IDLE] = "idle",
        [REBOOT_STATE_NEEDED] = "needed",
        [REBOOT_STATE_WAITING_WINDOW] = "waiting-window",
        [REBOOT_STATE_LOCKING] = "locking",
        [REBOOT_STATE_DRAINING] = "draining",
        [REBOOT_STATE_REBOOTING] = "rebooting",
        [REBOOT_STATE_POST_REBOOT_UNLOCK] = "post-reboot-unlock",
};

const char *updates_reboot_state_to_string(RebootState s) {
        return s >= 0 && s < _REBOOT_STATE_MAX ? reboot_state_names[s] : NULL;
}

RebootState updates_reboot_state_from_string(const char *s) {
        for (size_t i = 0; s && i < ELEMENTSOF(reboot_state_names); i++)
                if (streq(s, reboot_state_names[i]))
                        return (RebootState) i;
        return _REBOOT_STATE_INVALID;
}

void updates_reboot_flow_done(RebootFlow *f) {
        if (!f)
                return;
        free(f->version);
        *f = (RebootFlow) {};
}

static bool flow_version_valid(const char *v) {
        return !isempty(v) && strlen(v) <= 64 && updates_all_of(v, ALNUM "._+-");
}

static bool boot_id_valid(const char *s) {
        return s && strlen(s) == 32 && updates_all_of(s, "0123456789abcdef");
}

int updates_reboot_flow_to_json(const RebootFlow *f, char **ret) {
        json_t *v;

        if (!f || !ret || !updates_reboot_state_to_string(f->state) || f->since_usec > INT64_MAX ||
            (f->version && !flow_version_valid(f->version)) || (f->boot_id[0] && !boot_id_valid(f->boot_id)))
                return -EINVAL;
        v = json_pack("{s:s,s:o,s:I}", "state", updates_reboot_state_to_string(f->state), "version",
                      f->version ? json_string(f->version) : json_null(), "since_usec",
                      (json_int_t) f->since_usec);
        if (v && f->boot_id[0] && json_object_set_new(v, "boot_id", json_string(f->boot_id)) < 0) {
                json_decref(v);
                return -ENOMEM;
        }
        return updates_dump_json(v, ret);
}

static int dispatch_flow_state(const char *path, json_t *v, void *target, JsonError *e) {
        RebootState s = updates_reboot_state_from_string(json_string_value(v));
        if (s < 0)
                return json_error_set(e, path, "expected one of \"idle\", \"needed\", \"waiting-window\", "
                                               "\"locking\", \"draining\", \"rebooting\", \"post-reboot-unlock\"");
        *(RebootState *) target = s;
        return 0;
}

static int dispatch_flow_version(const char *path, json_t *v, void *target, JsonError *e) {
        if (!json_is_string(v) || !flow_version_valid(json_string_value(v)))
                return json_error_set(e, path, "expected a version of letters, digits, '.', '_', '+', '-'");
        return json_dispatch_string(path, v, target, e);
}

static int dispatch_flow_boot_id(const char *path, json_t *v, void *target, JsonError *e) {
        if (!json_is_string(v) || !boot_id_valid(json_string_value(v)))
                return json_error_set(e, path, "expected 32 lowercase hex digits");
        memcpy(target, json_string_value(v), 33);
        return 0;
}

int updates_reboot_flow_from_json(const char *text, size_t n, RebootFlow *ret, char **ret_error) {
        static const JsonField table[] = {
                { "state", dispatch_flow_state, offsetof(RebootFlow, state), JSON_MANDATORY },
                { "version", dispatch_flow_version, offsetof(RebootFlow, version), JSON_NULLABLE },
                { "since_usec", json_dispatch_uint64, offsetof(RebootFlow, since_usec), JSON_MANDATORY },
                { "boot_id", dispatch_flow_boot_id, offsetof(RebootFlow, boot_id), 0 },
                {}
        };
        _cleanup_json_ json_t *root = NULL;
        RebootFlow f = {};
        json_error_t jerr;
        JsonError e = {};
        int r;

        if (!text || !ret)
                return -EINVAL;
        root = json_loadb(text, n, JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
                return updates_fail(ret_error, -EINVAL, "%d:%d: %s", jerr.line, jerr.column, jerr.text);
        r = json_dispatch("", root, table, &f, &e);
        if (r < 0) {
                updates_reboot_flow_done(&f);
                if (r == -EINVAL && ret_error)
                        *ret_error = json_error_format(&e, NULL, NULL, 0);
                return r;
        }
        *ret = f;
        return 0;
}

void updates_may_finalize(RebootState state, const RebootInputs *in, RebootDecision *ret) {
        RebootInputs now;

        if (!in) {
                updates_may_reboot(NULL, ret);
                return;
        }
        /* asked again, the reboot has not started: an earlier yes counts for nothing */
        now = *in;
        now.reboot_started = false;
        updates_may_reboot(&now, ret);
        if (ret->allow && (state != REBOOT_STATE_REBOOTING || in->reboot_timed_out))
                *ret = (RebootDecision) { .allow = false, .reason = updates_reboot_state_to_string(state),
                                          .message = "The reboot flow is on its way (lock, drain); ask again." };
}

RebootState updates_reboot_next(RebootState state, const RebootInputs *in) {
        RebootDecision start, now;
        bool uses_lock;

        if (!in)
                return REBOOT_STATE_POST_REBOOT_UNLOCK;
        updates_may_start(in, &start);
        updates_may_reboot(in, &now);
        uses_lock = in->strategy == UPDATES_STRATEGY_FLEET_LOCK;

        switch (state) {
        case REBOOT_STATE_IDLE:
                return in->reboot_needed ? REBOOT_STATE_NEEDED : REBOOT_STATE_IDLE;

        case REBOOT_STATE_NEEDED:
        case REBOOT_STATE_WAITING_WINDOW:
                if (!in->reboot_needed)
                        return REBOOT_STATE_IDLE;
                if (start.allow)
                        return uses_lock ? REBOOT_STATE_LOCKING : REBOOT_STATE_DRAINING;
                return streq(start.reason, "outside-window") ? REBOOT_STATE_WAITING_WINDOW : REBOOT_STATE_NEEDED;

        case REBOOT_STATE_LOCKING:
                /* a lock request may have been granted even if we never saw the answer: release */
                if (in->new_boot || !start.allow)
                        return REBOOT_STATE_POST_REBOOT_UNLOCK;
                return !uses_lock || in->lock_held ? REBOOT_STATE_DRAINING : REBOOT_STATE_LOCKING;

        case REBOOT_STATE_DRAINING:
                if (in->new_boot || !start.allow || (uses_lock && !in->lock_held))
                        return REBOOT_STATE_POST_REBOOT_UNLOCK;
                return now.allow ? REBOOT_STATE_REBOOTING : REBOOT_STATE_DRAINING;

        case REBOOT_STATE_REBOOTING:
                if (in->new_boot)
                        return REBOOT_STATE_POST_REBOOT_UNLOCK;
                /* told to reboot long ago, and still in this boot: the reboot is not coming, undrain and release */
                if (in->reboot_timed_out)
                        return REBOOT_STATE_POST_REBOOT_UNLOCK;
                /* once the reboot is on its way, releasing the lock would let another node go too early */
                if (in->reboot_started)
                        return REBOOT_STATE_REBOOTING;
                return now.allow ? REBOOT_STATE_REBOOTING : REBOOT_STATE_POST_REBOOT_UNLOCK;

        case REBOOT_STATE_POST_REBOOT_UNLOCK:
                return in->unlocked && !in->drained ? REBOOT_STATE_IDLE : REBOOT_STATE_POST_REBOOT_UNLOCK;

        default:
                return REBOOT_STATE_POST_REBOOT_UNLOCK;
        }
}
