/* SPDX-License-Identifier: MIT */
#pragma once

/* The updater's insides, shared by its files and by nothing else: updater.c (the gate and the flow, life
 * cycle), updater-state.c (the persisted state), updater-status.c (status and report), updater-lock.c (the
 * cluster's FleetLock, Zincati's endpoint), updater-system.c (update_engine over D-Bus, logind, the OS and the
 * owned file) and updater-varlink.c (the Varlink methods). */

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include <jansson.h>

#include "http/http.h"
#include "shared/macro.h"
#include "systemd/bus-owner.h"
#include "updates/fleetlock.h"
#include "updates/flow.h"
#include "updates/gate.h"
#include "updates/lockserver.h"
#include "updates/os.h"
#include "updates/updater.h"
#include "updates/windows.h"

#define UE_SERVICE "com.coreos.update1"
#define UE_PATH "/com/coreos/update1"
#define UE_INTERFACE "com.coreos.update1.Manager"
#define UE_NEED_REBOOT "UPDATE_STATUS_UPDATED_NEED_REBOOT"
#define BUS_RETRY_USEC (10 * USEC_PER_SEC)
#define WINDOW_RECHECK_USEC (30 * USEC_PER_SEC)
#define MAX_WINDOWS 64
#define LOGIN_SERVICE "org.freedesktop.login1"
#define LOGIN_PATH "/org/freedesktop/login1"
#define LOGIN_INTERFACE "org.freedesktop.login1.Manager"
#define REBOOT_RETRY_MIN_USEC (5 * USEC_PER_SEC)
#define REBOOT_RETRY_MAX_USEC (300 * USEC_PER_SEC)
/* Zincati asks pre-reboot every 5 min (+10 % jitter) while it has an update staged: after this long without a
 * word from it, the node is not kept drained for a finalization that is not coming. */
#define ZINCATI_SILENCE_USEC (20 * 60 * USEC_PER_SEC)

/* What ballast reads of an rpm-ostree deployment (org.projectatomic.rpmostree1.Sysroot's Deployments). */
typedef struct FcosDeployment {
        bool present;
        char *version;      /* "version" */
        char *origin;       /* "origin", else "container-image-reference" */
        char *stream;       /* from origin, else base-commit-meta's "fedora-coreos.stream"; NULL: unknown */
        char *checksum;     /* "checksum" */
} FcosDeployment;

/* Which server a lock was asked of: NULL url = none. */
typedef struct LockRecord {
        char *url, *group, *id;
} LockRecord;

struct Updater {
        sd_event *event;
        HttpClient *http;
        UpdaterHooks hooks;
        char *root;
        char *state_path;   /* state_dir/updates.json */

        /* from ballast.json */
        bool managed;
        char *channel, *max_version, *fleet_lock_url, *fleet_lock_group, *time_zone;
        UpdatesStrategy strategy;
        MaintenanceWindow *windows;
        size_t n_windows;

        /* the operator's changes, persisted; NULL / false: the configuration's */
        bool paused;
        char *pin_channel;
        bool windows_set;
        MaintenanceWindow *set_windows;
        size_t n_set_windows;
        char *set_time_zone;
        char *approved_version;
        char *state_error;  /* updates.json could not be read: fail closed */
        char *state_write_error; /* the flow's step could not be persisted: fail closed until it can */

        /* the OS and the owned file */
        OsInfo os;
        char *os_error;
        char *file_path;    /* under root */
        char *file_error;

        /* update_engine (Flatcar, Container Linux) */
        sd_bus *bus;
        sd_bus_slot *ue_match, *ue_call, *disconnect_match;
        BusNameOwner ue_owner;  /* StatusUpdate counts only from com.coreos.update1's owner */
        unsigned ue_forged;     /* StatusUpdate signals ignored: not from the owner */
        sd_event_source *bus_retry;
        bool ue_known;
        char *ue_operation, *ue_new_version, *ue_error;
        double ue_progress;
        int64_t ue_last_checked;

        bool reboot_needed;
        bool need_known;    /* update_engine answered, or Zincati asked, since ballastd started */
        char *new_version;

        RebootFlow flow;
        sd_event_source *window_timer;
        char boot_id[33];   /* this boot's (ballast's per-boot id in /run/ballast/boot-id) */
        bool stepping;

        /* the cluster's FleetLock (strategy fleet_lock) */
        FleetLock *fleetlock;
        FleetLock *fleetlock_retired; /* the previous server's, releasing there after a reload */
        char *lock_url_in_use, *lock_group_in_use;
        char *lock_id;
        /* Persisted in updates.json (version 2): the server a pre-reboot was sent to, from before it is sent
         * until a steady-state there succeeds ("lock"), and one that a move of the configuration left to
         * release ("release"). A version-1 file's lock counts as taken at the configured server. */
        LockRecord lock_rec, release_rec;
        bool lock_rec_legacy;
        char *lock_setup_error; /* no client: why (no machine id, a bad URL): fail closed */
        bool lock_held;
        bool unlocked;          /* steady-state succeeded since the flow entered post-reboot-unlock */
        const char *lock_reason; /* the last outcome: fleetlock_result_to_reason(), NULL before any */
        char *lock_message;
        char *lock_kind;
        long lock_status;
        unsigned lock_failures;
        uint64_t lock_at_usec, lock_retry_at_usec; /* CLOCK_REALTIME */

        /* drain and the logind delay inhibitor while draining */
        unsigned drain_timeout_s;  /* 0: no limit */
        sd_event_source *drain_timer;
        bool drain_timed_out;      /* drain_timeout_s passed: what is still stopping is left to the shutdown */
        bool drain_requested;
        char *drain_error;
        int inhibit_fd;
        sd_bus_slot *inhibit_call;
        char *inhibit_error;

        /* Fedora CoreOS: the FleetLock endpoint Zincati asks before it finalizes an update */
        LockServer *endpoint;
        char *endpoint_error;
        const char *zincati_last_op;   /* "pre-reboot" / "steady-state" */
        int zincati_last_answer;       /* HTTP status we answered */
        uint64_t zincati_last_usec;    /* CLOCK_REALTIME */

        /* the clock: timedated's NTPSynchronized, else the kernel's own state (updater-clock.c) */
        sd_bus_slot *clock_call;
        int clock_synced;           /* 1 synchronized, 0 not, -errno unknown (not read yet: -EAGAIN) */
        const char *clock_source;   /* "timedated", "kernel", NULL before the first answer */
        char *clock_error;          /* why timedated was not asked or did not answer */

        /* Fedora CoreOS: rpm-ostree's deployments (updater-fcos.c) */
        sd_bus_slot *ro_call, *ro_match;
        bool ro_known;
        char *ro_error;
        FcosDeployment booted, staged; /* staged.present false: none staged */

        /* the reboot through logind (Flatcar, Container Linux) */
        sd_bus_slot *reboot_call;
        bool reboot_started;    /* logind accepted (or Zincati was answered 200): no way back */
        bool reboot_asked;      /* asked logind in this run of ballastd */
        char *reboot_error;
        unsigned reboot_failures;
        sd_event_source *reboot_retry;
        unsigned reboot_timeout_s;      /* in rebooting this long, still in the same boot: undrain, release */
        sd_event_source *reboot_timer;
        bool reboot_timed_out;
};

/* What the gate sees now, and the window it was computed from. */
typedef struct GateView {
        RebootInputs in;
        int window_r;
        int64_t next_start, end;
} GateView;

/* updater-lock.c: the lock records (see struct Updater) */
void lock_record_clear(LockRecord *r);
int lock_record_set(LockRecord *r, const char *url, const char *group, const char *id);
json_t *lock_record_to_json(const LockRecord *r);
int lock_record_from_json(json_t *v, LockRecord *r);
void updater_release_recorded(Updater *u);

_printf_(1, 2) static inline char *strdupf(const char *format, ...) {
        va_list ap;
        char *s;
        int r;

        va_start(ap, format);
        r = vasprintf(&s, format, ap);
        va_end(ap);
        return r < 0 ? strdup("out of memory") : s;
}

static inline bool channel_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;
        return n > 0 && n <= 64 && s[0] != '-' && s[0] != '.' &&
               strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static inline bool time_zone_syntax_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;
        return n > 0 && n <= 64 && !strstr(s, "..") && s[0] != '/' &&
               strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_+-") == n;
}

static inline int set_string(char **p, const char *v) {
        char *c = NULL;
        if (v && !(c = strdup(v)))
                return -ENOMEM;
        free(*p);
        *p = c;
        return 0;
}

static inline const char *effective_channel(Updater *u) {
        return u->pin_channel ?: u->channel;
}

static inline const char *effective_time_zone(Updater *u) {
        return u->windows_set && u->set_time_zone ? u->set_time_zone : u->time_zone;
}

static inline void effective_windows(Updater *u, const MaintenanceWindow **ret, size_t *ret_n) {
        *ret = u->windows_set ? u->set_windows : u->windows;
        *ret_n = u->windows_set ? u->n_set_windows : u->n_windows;
}

static inline bool os_managed_kind(OsKind k) {
        return k == OS_FLATCAR || k == OS_CONTAINER_LINUX || k == OS_FEDORA_COREOS;
}

static inline bool updater_is_managed(Updater *u) {
        return u->managed && !u->os_error && os_managed_kind(u->os.kind);
}

static inline bool uses_lock(Updater *u) {
        return u->strategy == UPDATES_STRATEGY_FLEET_LOCK;
}

static inline bool drained(Updater *u) {
        return u->drain_requested &&
               (u->drain_timed_out || (u->hooks.drained && u->hooks.drained(u->hooks.userdata)));
}

/* updater.c */
void updater_step(Updater *u);
void updater_inputs(Updater *u, GateView *g);

/* updater-state.c */
int updater_save(Updater *u);
/* Reads state_dir/updates.json at start; an error is kept in u->state_error and the flow set to unlock. */
int updater_load(Updater *u);
/* Parses [{days, start, length_min}] as ballast.json does; *ret_error names the field. */
int updater_windows_from_json(json_t *v, MaintenanceWindow **ret, size_t *ret_n, char **ret_error);
json_t *updater_windows_json(const MaintenanceWindow *w, size_t n);

/* updater-status.c */
void updater_unmanaged_decision(Updater *u, RebootDecision *d);
/* The gate's reason, made exact with what the flow met on the way. */
void updater_decision_explain(Updater *u, RebootDecision *d);

/* updater-lock.c */
void updater_setup_fleetlock(Updater *u);
void updater_setup_endpoint(Updater *u);

/* updater-clock.c */
/* Asks timedated for NTPSynchronized (async), or reads the kernel when the bus is not there. */
void updater_clock_refresh(Updater *u);
void updater_clock_drop(Updater *u);
static inline bool updater_clock_known(Updater *u) {
        return u->clock_synced > 0;
}

/* updater-fcos.c */
/* Reads the deployments from rpm-ostree (async) when a reboot is in view or nothing is known yet. */
void updater_fcos_refresh(Updater *u);
/* Follows rpm-ostree's PropertiesChanged on the new connection u->bus. */
int updater_fcos_watch(Updater *u);
void updater_fcos_drop(Updater *u);
void updater_fcos_done(Updater *u);
json_t *updater_fcos_status_json(Updater *u);

/* updater-system.c */
/* This boot's id into u->boot_id ("" when it cannot be kept). */
void updater_read_boot_id(Updater *u);
void updater_detect_os(Updater *u);
/* Renders the owned file for this channel; *ret_text NULL when it is as it should be. */
int updater_render(Updater *u, const char *channel, char **ret_path, char **ret_text, char **ret_error);
int updater_write_file(Updater *u);
void updater_watch(Updater *u);
void updater_bus_drop(Updater *u);
void updater_inhibit(Updater *u);
void updater_uninhibit(Updater *u);
void updater_reboot(Updater *u);
int updater_on_reboot_retry(sd_event_source *s, uint64_t usec, void *userdata);
int updater_on_bus_retry(sd_event_source *s, uint64_t usec, void *userdata);
