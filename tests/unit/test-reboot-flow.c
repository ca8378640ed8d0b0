/* SPDX-License-Identifier: MIT */
/* src/updates, the reboot's rules, pure: the gate (every reason it gives, gate.c) and the reboot flow
 * (flow.c): its state file's JSON, every transition of updates_reboot_next(), and when Zincati may finalize.
 * Split from test-updates.c. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/macro.h"
#include "tap.h"
#include "updates/flow.h"
#include "updates/gate.h"

#if defined(__clang__)
#pragma clang diagnostic ignored "-Winitializer-overrides"
#else
#pragma GCC diagnostic ignored "-Woverride-init"
#endif

/* ---- the gate ---- */

/* Everything allows a reboot; a case overrides fields after it (hence -Woverride-init off in this file). */
#define GOOD                                                                                          \
        .reboot_needed = true, .window = UPDATES_WINDOW_INSIDE, .lock_held = true, .drained = true,   \
        .clock_known = true, .strategy = UPDATES_STRATEGY_FLEET_LOCK

static RebootInputs all_good(void) {
        return (RebootInputs) {
                .reboot_needed = true,
                .window = UPDATES_WINDOW_INSIDE,
                .lock_held = true,
                .drained = true,
                .clock_known = true,
                .strategy = UPDATES_STRATEGY_FLEET_LOCK,
        };
}

static void test_gate(void) {
        static const struct {
                const char *what;
                RebootInputs in;
                bool allow;
                const char *reason;
        } cases[] = {
                { "everything holds", { GOOD }, true, "ok" },
                { "config error", { GOOD, .config_error = true }, false, "config-error" },
                { "strategy invalid", { GOOD, .strategy = _UPDATES_STRATEGY_INVALID }, false, "config-error" },
                { "strategy out of range", { GOOD, .strategy = _UPDATES_STRATEGY_MAX }, false, "config-error" },
                { "no reboot needed", { GOOD, .reboot_needed = false }, false, "not-needed" },
                { "strategy off", { GOOD, .strategy = UPDATES_STRATEGY_OFF }, false, "strategy-off" },
                { "paused", { GOOD, .paused = true }, false, "paused" },
                { "clock unknown", { GOOD, .clock_known = false }, false, "clock-unknown" },
                { "pinned, stream unknown", { GOOD, .stream = "stable" }, false, "stream-unknown" },
                { "pinned, another stream", { GOOD, .stream = "stable", .new_stream = "next" }, false,
                  "stream-mismatch" },
                { "pinned, the same stream", { GOOD, .stream = "stable", .new_stream = "stable" }, true, "ok" },
                { "not pinned: any stream", { GOOD, .new_stream = "next" }, true, "ok" },
                { "the stream before max_version",
                  { GOOD, .stream = "stable", .new_stream = "next", .max_version = "1", .new_version = "2" }, false,
                  "stream-mismatch" },
                { "the clock before the stream", { GOOD, .clock_known = false, .stream = "stable" }, false,
                  "clock-unknown" },
                { "max set, new version unknown", { GOOD, .max_version = "3815.2.0" }, false, "version-unknown" },
                { "max not a version", { GOOD, .max_version = "stable", .new_version = "3815.2.0" }, false,
                  "version-unknown" },
                { "new version not a version", { GOOD, .max_version = "3815.2.0", .new_version = "3815.2.0+x" },
                  false, "version-unknown" },
                { "new above max", { GOOD, .max_version = "3815.2.0", .new_version = "3815.2.1" }, false,
                  "version-above-max" },
                { "new equal to max", { GOOD, .max_version = "3815.2.0", .new_version = "3815.2.0" }, true, "ok" },
                { "new below max", { GOOD, .max_version = "3815.2.0", .new_version = "3760.2.0" }, true, "ok" },
                { "no max, version unknown", { GOOD, .new_version = NULL }, true, "ok" },
                { "window unknown", { GOOD, .window = UPDATES_WINDOW_UNKNOWN }, false, "window-unknown" },
                { "window garbage", { GOOD, .window = (UpdatesWindowState) 42 }, false, "window-unknown" },
                { "outside window", { GOOD, .window = UPDATES_WINDOW_OUTSIDE }, false, "outside-window" },
                { "no windows, periodic", { GOOD, .window = UPDATES_WINDOW_NONE, .strategy = UPDATES_STRATEGY_PERIODIC },
                  false, "no-windows" },
                { "no windows, fleet_lock: any time", { GOOD, .window = UPDATES_WINDOW_NONE }, true, "ok" },
                { "lock not held", { GOOD, .lock_held = false }, false, "no-lock" },
                { "lock not held, periodic needs none",
                  { GOOD, .lock_held = false, .strategy = UPDATES_STRATEGY_PERIODIC }, true, "ok" },
                { "not drained", { GOOD, .drained = false }, false, "not-drained" },
                { "the first failing condition is the reason",
                  { GOOD, .paused = true, .drained = false, .window = UPDATES_WINDOW_OUTSIDE }, false, "paused" },
                { "the zero value denies", {}, false, "not-needed" },
                { "the zero value with a reboot needed: strategy off", { .reboot_needed = true }, false,
                  "strategy-off" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                RebootDecision d = {};

                updates_may_reboot(&cases[i].in, &d);
                ok(d.allow == cases[i].allow, "%s: %s", cases[i].what, cases[i].allow ? "allowed" : "denied");
                is_str(d.reason, cases[i].reason, "%s: reason", cases[i].what);
                ok(!isempty(d.message) && d.message[strlen(d.message) - 1] == '.', "%s: a sentence: %s",
                   cases[i].what, strna(d.message));
        }

        RebootDecision d;
        updates_may_reboot(NULL, &d);
        ok(!d.allow && streq(d.reason, "config-error"), "NULL inputs: config-error");

        RebootInputs in = all_good();
        in.lock_held = in.drained = false;
        updates_may_start(&in, &d);
        ok(d.allow && streq(d.reason, "ok"), "may_start ignores lock and drain");
        in.window = UPDATES_WINDOW_OUTSIDE;
        updates_may_start(&in, &d);
        is_str(d.reason, "outside-window", "may_start checks the window");

        is_int(updates_strategy_from_string("fleet_lock"), UPDATES_STRATEGY_FLEET_LOCK, "\"fleet_lock\"");
        is_int(updates_strategy_from_string("periodic"), UPDATES_STRATEGY_PERIODIC, "\"periodic\"");
        is_int(updates_strategy_from_string("off"), UPDATES_STRATEGY_OFF, "\"off\"");
        is_int(updates_strategy_from_string("immediate"), -EINVAL, "\"immediate\" refused");
        is_int(updates_strategy_from_string(NULL), -EINVAL, "NULL refused");
        is_str(updates_strategy_to_string(UPDATES_STRATEGY_FLEET_LOCK), "fleet_lock", "to_string");
        ok(updates_strategy_to_string(_UPDATES_STRATEGY_INVALID) == NULL, "to_string of invalid: NULL");
}

/* ---- the reboot flow ---- */

static void test_flow_json(void) {
        static const struct {
                const char *what, *text;
                RebootState state;
                const char *version;
                uint64_t since;
                const char *boot_id, *canonical, *error;
        } cases[] = {
                { "full", "{\"state\":\"draining\",\"version\":\"3815.2.0\",\"since_usec\":1700000000000000,"
                          "\"boot_id\":\"cb7eb4b1825746e29333533b19b21726\"}",
                  REBOOT_STATE_DRAINING, "3815.2.0", UINT64_C(1700000000000000), "cb7eb4b1825746e29333533b19b21726",
                  NULL, NULL },
                { "version null, no boot id", "{\"state\":\"idle\",\"version\":null,\"since_usec\":0}",
                  REBOOT_STATE_IDLE, NULL, 0, "", NULL, NULL },
                { "version missing", "{\"since_usec\":5,\"state\":\"post-reboot-unlock\"}",
                  REBOOT_STATE_POST_REBOOT_UNLOCK, NULL, 5, "",
                  "{\"state\":\"post-reboot-unlock\",\"version\":null,\"since_usec\":5}", NULL },
                { "waiting-window", "{\"state\":\"waiting-window\",\"version\":\"39.20240210.3.0\",\"since_usec\":1}",
                  REBOOT_STATE_WAITING_WINDOW, "39.20240210.3.0", 1, "", NULL, NULL },
                { "unknown state", "{\"state\":\"exploding\",\"since_usec\":1}", _REBOOT_STATE_INVALID, NULL, 0, NULL,
                  NULL, "state: expected one of" },
                { "state not a string", "{\"state\":3,\"since_usec\":1}", _REBOOT_STATE_INVALID, NULL, 0, NULL, NULL,
                  "state: expected one of" },
                { "no state", "{\"since_usec\":1}", _REBOOT_STATE_INVALID, NULL, 0, NULL, NULL, "state: is required" },
                { "no since", "{\"state\":\"idle\"}", _REBOOT_STATE_INVALID, NULL, 0, NULL, NULL,
                  "since_usec: is required" },
                { "negative since", "{\"state\":\"idle\",\"since_usec\":-1}", _REBOOT_STATE_INVALID, NULL, 0, NULL,
                  NULL, "since_usec: -1 is negative" },
                { "unknown key", "{\"state\":\"idle\",\"since_usec\":1,\"lock\":true}", _REBOOT_STATE_INVALID, NULL, 0,
                  NULL, NULL, "lock: unknown key" },
                { "bad version", "{\"state\":\"idle\",\"since_usec\":1,\"version\":\"3815 2\"}", _REBOOT_STATE_INVALID,
                  NULL, 0, NULL, NULL, "version: expected a version" },
                { "bad boot id", "{\"state\":\"idle\",\"since_usec\":1,\"boot_id\":\"cb7eb4b1-8257-46e2-9333-533b19b21726\"}",
                  _REBOOT_STATE_INVALID, NULL, 0, NULL, NULL, "boot_id: expected 32 lowercase hex digits" },
                { "not JSON", "state=idle", _REBOOT_STATE_INVALID, NULL, 0, NULL, NULL, "1:" },
                { "an array", "[]", _REBOOT_STATE_INVALID, NULL, 0, NULL, NULL, "expected an object, got an array" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *error = NULL, *out = NULL;
                RebootFlow f = { .state = (RebootState) 99 };
                int r = updates_reboot_flow_from_json(cases[i].text, strlen(cases[i].text), &f, &error);

                if (cases[i].state < 0) {
                        is_int(r, -EINVAL, "state file %s: refused", cases[i].what);
                        ok(error && strneq(error, cases[i].error, strlen(cases[i].error)), "%s: error \"%s\"",
                           cases[i].what, strna(error));
                        is_int(f.state, 99, "%s: *ret untouched", cases[i].what);
                        continue;
                }
                is_int(r, 0, "state file %s: parses", cases[i].what);
                if (error)
                        diag("%s", error);
                is_int(f.state, cases[i].state, "%s: state", cases[i].what);
                is_str(f.version, cases[i].version, "%s: version", cases[i].what);
                ok(f.since_usec == cases[i].since, "%s: since_usec", cases[i].what);
                is_str(f.boot_id, cases[i].boot_id, "%s: boot_id", cases[i].what);
                is_int(updates_reboot_flow_to_json(&f, &out), 0, "%s: written back", cases[i].what);
                is_str(out, cases[i].canonical ?: cases[i].text, "%s: round trip", cases[i].what);
                updates_reboot_flow_done(&f);
        }

        _cleanup_free_ char *out = NULL;
        is_int(updates_reboot_flow_to_json(&(RebootFlow) { .state = _REBOOT_STATE_MAX }, &out), -EINVAL,
               "invalid state not written");
        is_int(updates_reboot_flow_to_json(&(RebootFlow) { .state = REBOOT_STATE_IDLE, .version = (char *) "a b" },
                                           &out),
               -EINVAL, "invalid version not written");
        is_int(updates_reboot_flow_to_json(&(RebootFlow) { .state = REBOOT_STATE_IDLE, .since_usec = UINT64_MAX }, &out),
               -EINVAL, "since_usec beyond JSON integers not written");
        ok(!out, "nothing written");

        for (int s = 0; s < _REBOOT_STATE_MAX; s++)
                is_int(updates_reboot_state_from_string(updates_reboot_state_to_string(s)), s, "state %s round trip",
                       updates_reboot_state_to_string(s));
        ok(updates_reboot_state_to_string(_REBOOT_STATE_INVALID) == NULL, "invalid state: no name");
}

static void test_reboot_next(void) {
        static const struct {
                const char *what;
                RebootState from;
                RebootInputs in;
                RebootState to;
        } cases[] = {
                { "idle, nothing needed", REBOOT_STATE_IDLE, { GOOD, .reboot_needed = false }, REBOOT_STATE_IDLE },
                { "idle, reboot needed", REBOOT_STATE_IDLE,
                  { GOOD, .lock_held = false, .drained = false }, REBOOT_STATE_NEEDED },
                { "needed, not any more", REBOOT_STATE_NEEDED, { GOOD, .reboot_needed = false }, REBOOT_STATE_IDLE },
                { "needed, all allows, fleet_lock: lock", REBOOT_STATE_NEEDED,
                  { GOOD, .lock_held = false }, REBOOT_STATE_LOCKING },
                { "needed, all allows, periodic: drain", REBOOT_STATE_NEEDED,
                  { GOOD, .lock_held = false, .drained = false, .strategy = UPDATES_STRATEGY_PERIODIC },
                  REBOOT_STATE_DRAINING },
                { "needed, outside the window: wait", REBOOT_STATE_NEEDED,
                  { GOOD, .window = UPDATES_WINDOW_OUTSIDE }, REBOOT_STATE_WAITING_WINDOW },
                { "needed, paused", REBOOT_STATE_NEEDED, { GOOD, .paused = true }, REBOOT_STATE_NEEDED },
                { "needed, strategy off", REBOOT_STATE_NEEDED,
                  { GOOD, .strategy = UPDATES_STRATEGY_OFF }, REBOOT_STATE_NEEDED },
                { "needed, window unknown", REBOOT_STATE_NEEDED,
                  { GOOD, .window = UPDATES_WINDOW_UNKNOWN }, REBOOT_STATE_NEEDED },
                { "needed, clock unknown", REBOOT_STATE_NEEDED, { GOOD, .clock_known = false }, REBOOT_STATE_NEEDED },
                { "needed, above max", REBOOT_STATE_NEEDED,
                  { GOOD, .max_version = "1.0", .new_version = "2.0" }, REBOOT_STATE_NEEDED },
                { "needed, periodic without windows", REBOOT_STATE_NEEDED,
                  { GOOD, .window = UPDATES_WINDOW_NONE, .strategy = UPDATES_STRATEGY_PERIODIC }, REBOOT_STATE_NEEDED },
                { "needed, fleet_lock without windows: lock", REBOOT_STATE_NEEDED,
                  { GOOD, .window = UPDATES_WINDOW_NONE }, REBOOT_STATE_LOCKING },
                { "waiting, still outside", REBOOT_STATE_WAITING_WINDOW,
                  { GOOD, .window = UPDATES_WINDOW_OUTSIDE }, REBOOT_STATE_WAITING_WINDOW },
                { "waiting, window opens", REBOOT_STATE_WAITING_WINDOW,
                  { GOOD, .lock_held = false }, REBOOT_STATE_LOCKING },
                { "waiting, paused meanwhile", REBOOT_STATE_WAITING_WINDOW,
                  { GOOD, .paused = true }, REBOOT_STATE_NEEDED },
                { "waiting, not needed any more", REBOOT_STATE_WAITING_WINDOW,
                  { GOOD, .reboot_needed = false }, REBOOT_STATE_IDLE },
                { "locking, no answer yet", REBOOT_STATE_LOCKING, { GOOD, .lock_held = false }, REBOOT_STATE_LOCKING },
                { "locking, lock held", REBOOT_STATE_LOCKING, { GOOD, .drained = false }, REBOOT_STATE_DRAINING },
                { "locking, window closed: release", REBOOT_STATE_LOCKING,
                  { GOOD, .lock_held = false, .window = UPDATES_WINDOW_OUTSIDE }, REBOOT_STATE_POST_REBOOT_UNLOCK },
                { "locking, paused: release", REBOOT_STATE_LOCKING,
                  { GOOD, .lock_held = false, .paused = true }, REBOOT_STATE_POST_REBOOT_UNLOCK },
                { "locking, rebooted under us", REBOOT_STATE_LOCKING,
                  { GOOD, .lock_held = false, .new_boot = true }, REBOOT_STATE_POST_REBOOT_UNLOCK },
                { "locking, periodic needs no lock", REBOOT_STATE_LOCKING,
                  { GOOD, .lock_held = false, .strategy = UPDATES_STRATEGY_PERIODIC }, REBOOT_STATE_DRAINING },
                { "draining, not yet", REBOOT_STATE_DRAINING, { GOOD, .drained = false }, REBOOT_STATE_DRAINING },
                { "draining, drained: reboot", REBOOT_STATE_DRAINING, { GOOD }, REBOOT_STATE_REBOOTING },
                { "draining, periodic, drained: reboot", REBOOT_STATE_DRAINING,
                  { GOOD, .lock_held = false, .strategy = UPDATES_STRATEGY_PERIODIC }, REBOOT_STATE_REBOOTING },
                { "draining, window closed: abort", REBOOT_STATE_DRAINING,
                  { GOOD, .drained = false, .window = UPDATES_WINDOW_OUTSIDE }, REBOOT_STATE_POST_REBOOT_UNLOCK },
                { "draining, paused: abort", REBOOT_STATE_DRAINING,
                  { GOOD, .paused = true }, REBOOT_STATE_POST_REBOOT_UNLOCK },
                { "draining, clock lost: abort", REBOOT_STATE_DRAINING,
                  { GOOD, .clock_known = false }, REBOOT_STATE_POST_REBOOT_UNLOCK },
                { "draining, lock not held: abort", REBOOT_STATE_DRAINING,
                  { GOOD, .lock_held = false }, REBOOT_STATE_POST_REBOOT_UNLOCK },
                { "draining, rebooted under us", REBOOT_STATE_DRAINING,
                  { GOOD, .new_boot = true }, REBOOT_STATE_POST_REBOOT_UNLOCK },
                { "rebooting, waiting for logind", REBOOT_STATE_REBOOTING, { GOOD }, REBOOT_STATE_REBOOTING },
                { "rebooting, not started, window closed: abort", REBOOT_STATE_REBOOTING,
                  { GOOD, .window = UPDATES_WINDOW_OUTSIDE }, REBOOT_STATE_POST_REBOOT_UNLOCK },
                { "rebooting, started, window closed: no way back", REBOOT_STATE_REBOOTING,
                  { GOOD, .reboot_started = true, .window = UPDATES_WINDOW_OUTSIDE }, REBOOT_STATE_REBOOTING },
                { "rebooting, started, the reboot did not come in time: release", REBOOT_STATE_REBOOTING,
                  { GOOD, .reboot_started = true, .reboot_timed_out = true }, REBOOT_STATE_POST_REBOOT_UNLOCK },
                { "rebooting, not started, timed out: release", REBOOT_STATE_REBOOTING,
                  { GOOD, .reboot_timed_out = true }, REBOOT_STATE_POST_REBOOT_UNLOCK },
                { "rebooting, new boot", REBOOT_STATE_REBOOTING,
                  { GOOD, .new_boot = true, .reboot_needed = false, .drained = false },
                  REBOOT_STATE_POST_REBOOT_UNLOCK },
                { "post-reboot, unlock pending", REBOOT_STATE_POST_REBOOT_UNLOCK,
                  { GOOD, .drained = false }, REBOOT_STATE_POST_REBOOT_UNLOCK },
                { "post-reboot, unlocked, still drained", REBOOT_STATE_POST_REBOOT_UNLOCK,
                  { GOOD, .unlocked = true }, REBOOT_STATE_POST_REBOOT_UNLOCK },
                { "post-reboot, unlocked and undrained: idle", REBOOT_STATE_POST_REBOOT_UNLOCK,
                  { GOOD, .unlocked = true, .drained = false }, REBOOT_STATE_IDLE },
                { "post-abort, still needed: idle then needed again", REBOOT_STATE_POST_REBOOT_UNLOCK,
                  { GOOD, .unlocked = true, .drained = false, .reboot_needed = true }, REBOOT_STATE_IDLE },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                RebootState got = updates_reboot_next(cases[i].from, &cases[i].in);
                ok(got == cases[i].to, "%s: %s → %s", cases[i].what, updates_reboot_state_to_string(cases[i].from),
                   updates_reboot_state_to_string(cases[i].to));
                if (got != cases[i].to)
                        diag("got %s", strna(updates_reboot_state_to_string(got)));
        }
        is_int(updates_reboot_next((RebootState) 42, &(RebootInputs) {}), REBOOT_STATE_POST_REBOOT_UNLOCK,
               "an invalid state: release");
        is_int(updates_reboot_next(REBOOT_STATE_DRAINING, NULL), REBOOT_STATE_POST_REBOOT_UNLOCK,
               "NULL inputs: release");

        /* a whole run, stepping until stable as the daemon does */
        RebootInputs in = all_good();
        RebootState s = REBOOT_STATE_IDLE;
        in.lock_held = in.drained = false;
        in.window = UPDATES_WINDOW_OUTSIDE;
        s = updates_reboot_next(s, &in);
        s = updates_reboot_next(s, &in);
        is_str(updates_reboot_state_to_string(s), "waiting-window", "run: needed outside the window → waiting");
        in.window = UPDATES_WINDOW_INSIDE;
        s = updates_reboot_next(s, &in);
        is_str(updates_reboot_state_to_string(s), "locking", "run: window opens → locking");
        in.lock_held = true;
        s = updates_reboot_next(s, &in);
        is_str(updates_reboot_state_to_string(s), "draining", "run: lock held → draining");
        in.drained = true;
        s = updates_reboot_next(s, &in);
        is_str(updates_reboot_state_to_string(s), "rebooting", "run: drained → rebooting");
        in.reboot_started = true;
        is_int(updates_reboot_next(s, &in), s, "run: stays rebooting");
        in = (RebootInputs) { .new_boot = true, .clock_known = true, .strategy = UPDATES_STRATEGY_FLEET_LOCK,
                              .window = UPDATES_WINDOW_INSIDE, .drained = true };
        s = updates_reboot_next(s, &in);
        is_str(updates_reboot_state_to_string(s), "post-reboot-unlock", "run: new boot → unlock");
        in.drained = false;
        in.unlocked = true;
        s = updates_reboot_next(s, &in);
        is_str(updates_reboot_state_to_string(s), "idle", "run: unlocked → idle");
}

/* Zincati's pre-reboot is answered by the gate as it stands now, whatever was answered before. */
static void test_may_finalize(void) {
        static const struct {
                const char *what;
                RebootState state;
                RebootInputs in;
                bool allow;
                const char *reason;
        } cases[] = {
                { "rebooting, all allows", REBOOT_STATE_REBOOTING, { GOOD }, true, "ok" },
                { "rebooting, told 200 before, now outside the window", REBOOT_STATE_REBOOTING,
                  { GOOD, .reboot_started = true, .window = UPDATES_WINDOW_OUTSIDE }, false, "outside-window" },
                { "rebooting, told 200 before, now paused", REBOOT_STATE_REBOOTING,
                  { GOOD, .reboot_started = true, .paused = true }, false, "paused" },
                { "rebooting, told 200 before, lock lost", REBOOT_STATE_REBOOTING,
                  { GOOD, .reboot_started = true, .lock_held = false }, false, "no-lock" },
                { "rebooting, told 200 before, undrained", REBOOT_STATE_REBOOTING,
                  { GOOD, .reboot_started = true, .drained = false }, false, "not-drained" },
                { "rebooting, told 200 before, above max now", REBOOT_STATE_REBOOTING,
                  { GOOD, .reboot_started = true, .max_version = "1.0", .new_version = "2.0" }, false,
                  "version-above-max" },
                { "rebooting, timed out", REBOOT_STATE_REBOOTING, { GOOD, .reboot_timed_out = true }, false,
                  "rebooting" },
                { "draining, the gate allows: not there yet", REBOOT_STATE_DRAINING, { GOOD }, false, "draining" },
                { "post-reboot-unlock, a stale yes", REBOOT_STATE_POST_REBOOT_UNLOCK, { GOOD, .reboot_started = true },
                  false, "post-reboot-unlock" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                RebootDecision d;
                updates_may_finalize(cases[i].state, &cases[i].in, &d);
                ok(d.allow == cases[i].allow && streq(d.reason, cases[i].reason), "finalize: %s → %s (%s)",
                   cases[i].what, cases[i].allow ? "200" : "409", cases[i].reason);
                if (d.allow != cases[i].allow || !streq(d.reason, cases[i].reason))
                        diag("got %s (%s)", d.allow ? "allow" : "deny", d.reason);
        }
        RebootDecision d;
        updates_may_finalize(REBOOT_STATE_REBOOTING, NULL, &d);
        ok(!d.allow, "finalize: NULL inputs: refused");
}

int main(void) {
        test_gate();
        test_flow_json();
        test_reboot_next();
        test_may_finalize();
        return tap_done();
}
