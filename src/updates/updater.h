/* SPDX-License-Identifier: MIT */
#pragma once

/* OS updates, the daemon side: detects the OS under the root, owns the update file (Flatcar's update.conf, a
 * Zincati drop-in on Fedora CoreOS) when ballast.json has an "updates" block, keeps the operator's changes
 * (pause, channel pin, windows, approval) and the reboot flow in state_dir/updates.json, watches update_engine
 * over D-Bus on Flatcar, and answers "may this node reboot now, and if not, why" through the pure gate of
 * updates/gate.h. Without an "updates" block it only reports: nothing is written. */

#include <jansson.h>
#include <stdbool.h>
#include <systemd/sd-event.h>

#include "http/http.h"
#include "updates/policy.h"

typedef struct Updater Updater;

/* The FleetLock endpoint ballastd serves for Zincati on Fedora CoreOS (loopback), and the drop-in points at. */
#define UPDATER_FLEETLOCK_ADDRESS "127.0.0.1"
#define UPDATER_FLEETLOCK_PORT 7436
#define UPDATER_FLEETLOCK_BASE_URL "http://127.0.0.1:7436/"

/* What the reboot flow needs of the rest of the daemon: the node's drain (the manager's, the same as
 * `ballastctl drain`). */
typedef struct UpdaterHooks {
        int (*drain)(void *userdata);   /* start draining: 0 when started or already draining, <0 when it cannot */
        void (*undrain)(void *userdata);
        bool (*draining)(void *userdata); /* a drain is in force (started, maybe not finished) */
        bool (*drained)(void *userdata); /* draining and every service stopped */
        void (*changed)(void *userdata); /* the flow moved: the node's report changed */
        void *userdata;
} UpdaterHooks;

/* root: the host's root ("/" or a test's fake root); state_dir: under root already. */
int updater_new(Updater **ret, sd_event *event, HttpClient *http, const UpdaterHooks *hooks, const char *root,
                const char *state_dir, const UpdatesPolicy *policy);

/* The drain finished, was lifted, or may now start (systemd came back): the flow looks again. */
void updater_drain_changed(Updater *u);
Updater *updater_free(Updater *u);
DEFINE_CLEANUP_FUNC(Updater *, updater_free);

/* Takes a (re)loaded configuration: re-detects the OS, rewrites the owned file, re-evaluates the flow. */
int updater_set_config(Updater *u, const UpdatesPolicy *policy);

/* Everything `ballastctl update status` shows. */
json_t *updater_status_json(Updater *u);
/* The short form for the node's status document: {"state", "os", "managed", "reboot_needed", "reason"}. */
json_t *updater_report_json(Updater *u);
