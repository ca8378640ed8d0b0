/* SPDX-License-Identifier: MIT */
#pragma once

/* OS updates, the pure layer: what OS this is, whether now is inside a maintenance window, whether a reboot is
 * allowed, the files ballast owns (Flatcar's update.conf, a Zincati drop-in), the FleetLock wire format, and the
 * reboot flow's persisted state and transitions. Every function is a pure function of its arguments (paths, text
 * and time are passed in); the daemon wiring (update_engine over D-Bus, the FleetLock client and endpoint,
 * logind) lives elsewhere.
 *
 * The rule everywhere: on doubt, no reboot. Parsers refuse what they do not understand (-EINVAL and, where a
 * char **ret_error is offered, a sentence that says what and where; the caller frees it), and the gate denies
 * with a reason code whenever any input is unknown. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/config.h"
#include "shared/macro.h"

/* ---- the OS ---- */

typedef enum OsKind {
        OS_OTHER,               /* unmanaged: ballast reports and touches nothing */
        OS_FLATCAR,             /* ID=flatcar */
        OS_CONTAINER_LINUX,     /* ID=coreos: CoreOS Container Linux, Flatcar's predecessor (same update.conf) */
        OS_FEDORA_COREOS,       /* ID=fedora and VARIANT_ID=coreos */
} OsKind;

typedef struct OsInfo {
        OsKind kind;
        char *id;               /* ID=, "linux" when missing (os-release(5)) */
        char *variant_id;       /* VARIANT_ID= or NULL */
        char *version_id;       /* VERSION_ID= or NULL: "3815.2.0" on Flatcar, "39" on Fedora CoreOS */
        /* The build version update policy compares with max_version: VERSION_ID on Flatcar and Container
         * Linux, OSTREE_VERSION ("39.20240210.3.0") on Fedora CoreOS. NULL when unknown. Neither os-release
         * names the channel or stream: Flatcar's is GROUP= in update.conf (updates_parse_update_conf()),
         * Fedora CoreOS's is the booted deployment's "fedora-coreos.stream" metadata (rpm-ostree). */
        char *version;
        char *pretty_name;      /* PRETTY_NAME= or NULL */
} OsInfo;

/* Reads os-release text (/etc/os-release, else /usr/lib/os-release). Shell-style KEY=value lines, values
 * unquoted, "double-quoted" (with \" \\ \$ \` escapes) or 'single-quoted', '#' comments. A line that is none of
 * these is refused (-EINVAL), so is a control character in a value. */
int updates_detect_os(const char *os_release_text, OsInfo *ret, char **ret_error);
void updates_os_info_done(OsInfo *info);
const char *updates_os_kind_to_string(OsKind k); /* "flatcar", "container-linux", "fedora-coreos", "other" */

/* Dotted numeric versions ("3815.2.0", "39.20240210.3.0"); missing components count as 0 ("3815.2" ==
 * "3815.2.0"). *ret is <0, 0 or >0. Anything but digits and single dots is -EINVAL. */
int updates_version_compare(const char *a, const char *b, int *ret);

/* ---- maintenance windows ---- */

typedef enum UpdatesWindowState {
        UPDATES_WINDOW_UNKNOWN = 0, /* could not be computed: the zero value is the doubtful one */
        UPDATES_WINDOW_OUTSIDE,
        UPDATES_WINDOW_INSIDE,
        UPDATES_WINDOW_NONE,        /* no windows configured; what that means is the strategy's business */
} UpdatesWindowState;

/* Whether now_utc_sec (seconds since the epoch) lies inside one of the windows, in the time zone given ("UTC",
 * "localtime" for /etc/localtime, or a TZ database name such as "Europe/Berlin").
 *
 * Windows are wall-clock time in that zone: a window is inside when the local clock shows a weekday and time
 * it covers, as an operator reading the clock would judge (and as Zincati's periodic strategy does). So DST
 * can shorten a window (Sun 02:30 + 60 min on a spring-forward day is open 03:00–03:30 only), skip one
 * (Sun 02:30 + 20 min that day), or open it twice (Sun 02:30 + 20 min on the fall-back day). Windows may cross
 * midnight and the week's end; length 10080 means always.
 *
 * Returns UPDATES_WINDOW_INSIDE, _OUTSIDE or _NONE (n == 0), or a negative errno: -EINVAL for an invalid window
 * or a malformed zone name, -ENOENT for a zone the TZ database does not have (glibc would silently use UTC
 * instead, so it is checked first), -ERANGE for a time out of range. The zone is checked even when n == 0.
 * Optional outputs, 0 when there is none within 15 days: *ret_next_start, the next moment after now when a
 * window opens (from outside); *ret_end, when the window we are inside closes.
 *
 * Sets TZ and calls tzset() for the computation and restores both before returning: not thread-safe, which a
 * single-threaded daemon can afford. Transitions of the zone's UTC offset are searched for every 6 hours, so
 * two transitions less than 6 hours apart (real zones have none) would be missed. */
int updates_in_window(const MaintenanceWindow *w, size_t n, int64_t now_utc_sec, const char *time_zone,
                      int64_t *ret_next_start, int64_t *ret_end);

/* ---- the gate ---- */

typedef enum UpdatesStrategy {
        UPDATES_STRATEGY_OFF,        /* never reboot (updates may still be downloaded) */
        UPDATES_STRATEGY_PERIODIC,   /* reboot inside a window, no cluster lock; needs at least one window */
        UPDATES_STRATEGY_FLEET_LOCK, /* reboot holding the FleetLock; inside a window if any are configured */
        _UPDATES_STRATEGY_MAX,
        _UPDATES_STRATEGY_INVALID = -EINVAL,
} UpdatesStrategy;

UpdatesStrategy updates_strategy_from_string(const char *s); /* the config's "off", "periodic", "fleet_lock" */
const char *updates_strategy_to_string(UpdatesStrategy s);

typedef struct RebootInputs {
        bool reboot_needed;        /* update_engine said UPDATED_NEED_REBOOT, or Zincati asked pre-reboot */
        UpdatesWindowState window; /* from updates_in_window(); UNKNOWN when it failed */
        bool lock_held;            /* our FleetLock pre-reboot succeeded */
        bool drained;              /* the node's services are drained */
        bool paused;               /* ballastctl update pause */
        bool clock_known;          /* the clock is synchronized (the daemon decides how it knows) */
        bool config_error;         /* the updates configuration or an owned file could not be read */
        UpdatesStrategy strategy;
        const char *max_version;   /* NULL: no limit */
        const char *new_version;   /* the version the reboot boots into; NULL: unknown */

        /* only updates_reboot_next() reads these */
        bool new_boot;             /* the boot ID differs from the one saved with the flow state */
        bool reboot_started;       /* logind accepted the reboot (or Zincati was told 200): no way back */
        bool unlocked;             /* steady-state succeeded, or there is no FleetLock server to tell */
} RebootInputs;

typedef struct RebootDecision {
        bool allow;
        /* A bounded set of codes, also usable as a metric label or a FleetLock error kind suffix: "ok",
         * "config-error", "not-needed", "strategy-off", "paused", "clock-unknown", "version-unknown",
         * "version-above-max", "window-unknown", "no-windows", "outside-window", "no-lock", "not-drained". */
        const char *reason;
        const char *message;       /* one sentence for the journal and `ballastctl update status` */
} RebootDecision;

/* May the node reboot now? Every condition, in this order (the first that fails is the reason): the config
 * is sound, a reboot is needed, the strategy is not off, not paused, the clock is known, the new version is
 * known and not above max_version (when one is set), inside a window (or none configured with fleet_lock),
 * the lock held (fleet_lock), drained. Static strings in *ret; never fails. */
void updates_may_reboot(const RebootInputs *in, RebootDecision *ret);
/* The same without the lock and the drain: may the node start the way to a reboot (take the lock, drain)? */
void updates_may_start(const RebootInputs *in, RebootDecision *ret);

/* ---- Flatcar: update.conf ---- */

/* The file ballast owns: /etc/flatcar/update.conf, preferred; when /etc/flatcar is not a directory, the target
 * of an /etc/coreos symlink, or a real /etc/coreos directory (Container Linux); when neither exists,
 * /etc/flatcar/update.conf (to be created). Symlinks are followed one level, inside root, and may not contain
 * "..". *ret is the path under root (root NULL or "/" for the host). -ENOTDIR when a candidate is neither a
 * directory nor a symlink to one, -ELOOP for a symlink ballast will not follow. */
int updates_update_conf_path(const char *root, char **ret);

/* Renders update.conf from its current text (NULL or "" when there is none): GROUP=group (NULL: leave GROUP as
 * it is), SERVER=server (NULL: leave SERVER as it is) and REBOOT_STRATEGY=off, so that locksmithd never
 * reboots on its own. Lines with those keys are replaced where they are (every occurrence, indentation kept,
 * value written unquoted: both need no quoting and every update.conf reader takes unquoted values); missing
 * keys are appended after a one-line comment; every other line, comment and blank line stays byte for byte.
 * Idempotent: rendering the result again gives the same text and *ret_changed = false.
 * -EINVAL when the group (letters, digits, '.', '_', '-'; a UUID fits) or the server (an http:// or https://
 * URL of characters that need no shell quoting) is refused, or when a line of the old text is not a
 * KEY=value assignment, a comment or blank (ballast does not rewrite a file it does not understand). */
int updates_render_update_conf(const char *old_text, const char *group, const char *server, char **ret_new_text,
                               bool *ret_changed, char **ret_error);

/* The value of the last KEY= line (shell semantics), unquoted. -ENOENT when the key is not set, -EINVAL when
 * the text does not parse. */
int updates_parse_update_conf(const char *text, const char *key, char **ret_value, char **ret_error);

/* ---- Fedora CoreOS: a Zincati drop-in ---- */

#define UPDATES_ZINCATI_DROPIN "/etc/zincati/config.d/90-ballast.toml"

/* The TOML text of UPDATES_ZINCATI_DROPIN: [identity] group (omitted when NULL), [updates] enabled and, when
 * enabled, strategy = "fleet_lock" with [updates.fleet_lock] base_url (mandatory then): Zincati asks
 * ballastd's FleetLock endpoint before it finalizes, so ballast's window, lock and drain decide.
 *
 * What ballast can and cannot pin on Fedora CoreOS: Zincati has no stream key. The stream is the one the booted
 * deployment was built for (its "fedora-coreos.stream" commit metadata); changing it is an `rpm-ostree rebase`,
 * not configuration, and [cincinnati] base_url only says where the update graph comes from. So the stream
 * given here is only recorded in a comment. ballast pins by refusing: its FleetLock endpoint denies
 * finalization when the staged deployment (from rpm-ostree) has another stream or a version above max_version,
 * which keeps the node on its version; Zincati retries and the status says why. A hard pin would need a
 * Cincinnati proxy that filters the graph (not done). Strings are validated (group: FleetLock's
 * ^[a-zA-Z0-9.-]+$; stream: lowercase letters, digits, '.', '_', '-'; base_url: http(s) URL) and TOML-escaped. */
int updates_render_zincati_dropin(const char *stream, bool enabled, const char *fleet_lock_base_url,
                                  const char *group, char **ret);

/* A TOML basic string, quotes included, with '"', '\\' and control characters escaped. */
char *updates_toml_quote(const char *s);

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

/* The id Zincati uses for FleetLock, so that ballast and Zincati nodes share one lock server: systemd's
 * app-specific machine ID (sd_id128_get_machine_app_specific()) for the app ID below, as 32 lowercase hex
 * digits. machine_id is /etc/machine-id's 32 hex digits (without the newline). */
#define UPDATES_ZINCATI_APP_ID "de35106b6ec24688b63afddaa156679b"
int updates_zincati_node_id(const char *machine_id, char ret[static 33]);

/* SHA-256 and HMAC-SHA256 (RFC 2104), for the derivation above; exposed for their tests. */
void updates_sha256(const void *data, size_t n, uint8_t ret[static 32]);
void updates_hmac_sha256(const void *key, size_t key_size, const void *data, size_t n, uint8_t ret[static 32]);

/* ---- the reboot flow ---- */

typedef enum RebootState {
        REBOOT_STATE_IDLE,               /* nothing to do */
        REBOOT_STATE_NEEDED,             /* a reboot is needed; policy does not allow starting (reason shown) */
        REBOOT_STATE_WAITING_WINDOW,     /* everything allows it but the window */
        REBOOT_STATE_LOCKING,            /* asking the FleetLock server for a slot */
        REBOOT_STATE_DRAINING,           /* lock held (or none needed): draining the node's services */
        REBOOT_STATE_REBOOTING,          /* drained, allowed: reboot asked for */
        REBOOT_STATE_POST_REBOOT_UNLOCK, /* after the reboot, or after an aborted attempt: undrain, unlock */
        _REBOOT_STATE_MAX,
        _REBOOT_STATE_INVALID = -EINVAL,
} RebootState;

const char *updates_reboot_state_to_string(RebootState s); /* "idle", "waiting-window", "post-reboot-unlock", … */
RebootState updates_reboot_state_from_string(const char *s);

/* What is persisted (state_dir/reboot.json) so that a crash or the reboot itself resumes the flow. */
typedef struct RebootFlow {
        RebootState state;
        char *version;      /* the version being rebooted into, NULL when unknown */
        uint64_t since_usec; /* CLOCK_REALTIME when the state was entered */
        char boot_id[33];   /* the boot the state was entered in ("" when unknown): a different one means a
                             * reboot happened since */
} RebootFlow;

void updates_reboot_flow_done(RebootFlow *f);
/* {"state":"draining","version":"3815.2.0","since_usec":1700000000000000,"boot_id":"…"}; version null when
 * unknown, boot_id left out when unknown. */
int updates_reboot_flow_to_json(const RebootFlow *f, char **ret);
/* The reverse; unknown keys, an unknown state, a bad version or boot_id: -EINVAL. */
int updates_reboot_flow_from_json(const char *text, size_t n, RebootFlow *ret, char **ret_error);

/* One step of the flow; the daemon acts on entering a state (LOCKING: pre-reboot; DRAINING: drain and take a
 * delay inhibitor; REBOOTING: reboot through logind, or answer Zincati 200; POST_REBOOT_UNLOCK: undrain,
 * steady-state) and calls again when an input changes, until the state stays the same.
 *   IDLE → NEEDED when a reboot is needed.
 *   NEEDED, WAITING_WINDOW → IDLE when not needed any more; → LOCKING (fleet_lock) or DRAINING (periodic)
 *     when updates_may_start() allows; else WAITING_WINDOW when only the window is missing, else NEEDED.
 *   LOCKING → DRAINING when the lock is held (or the strategy needs none).
 *   DRAINING → REBOOTING when updates_may_reboot() allows.
 *   REBOOTING → POST_REBOOT_UNLOCK on a new boot.
 *   LOCKING, DRAINING, REBOOTING (before the reboot started) → POST_REBOOT_UNLOCK when updates_may_start()
 *     stops allowing (window closed, paused, not needed any more…), since the lock may be held: abort and
 *     release. LOCKING and DRAINING also on a new boot (an unexpected reboot) and DRAINING when the lock is
 *     not held.
 *   POST_REBOOT_UNLOCK → IDLE when unlocked and no longer drained.
 * An invalid state gives POST_REBOOT_UNLOCK: releasing is always safe. */
RebootState updates_reboot_next(RebootState state, const RebootInputs *in);
