/* SPDX-License-Identifier: MIT */
#pragma once

/* OS updates, the daemon side: detects the OS under the root, owns the update file (Flatcar's update.conf, a
 * Zincati drop-in on Fedora CoreOS) when ballast.json has an "updates" block, keeps the operator's changes
 * (pause, channel pin, windows, approval) and the reboot flow in state_dir/updates.json, watches update_engine
 * over D-Bus on Flatcar, and answers "may this node reboot now, and if not, why" through the pure gate of
 * updates.h. Without an "updates" block it only reports: nothing is written. */

#include <jansson.h>
#include <stdbool.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "varlink.h"

typedef struct Updater Updater;

/* The FleetLock endpoint Zincati is pointed at (loopback). ballastd does not serve it yet: Zincati's
 * pre-reboot then fails, so Zincati cannot finalize (reboot) without ballast. */
#define UPDATER_FLEETLOCK_BASE_URL "http://127.0.0.1:7436/"

/* root: the host's root ("/" or a test's fake root); state_dir: under root already. */
int updater_new(Updater **ret, sd_event *event, const char *root, const char *state_dir, const Config *config);
Updater *updater_free(Updater *u);
DEFINE_CLEANUP_FUNC(Updater *, updater_free);

/* Takes a (re)loaded configuration: re-detects the OS, rewrites the owned file, re-evaluates the flow. */
int updater_set_config(Updater *u, const Config *config);

/* Everything `ballastctl update status` shows. */
json_t *updater_status_json(Updater *u);
/* The short form for the node's status document: {"state", "os", "managed", "reboot_needed", "reason"}. */
json_t *updater_report_json(Updater *u);

/* Varlink methods (io.ballast.Agent.*). */
int updater_method_status(Updater *u, VarlinkCall *call, json_t *params);
int updater_method_pin(Updater *u, VarlinkCall *call, json_t *params);
int updater_method_pause(Updater *u, VarlinkCall *call, json_t *params);
int updater_method_resume(Updater *u, VarlinkCall *call, json_t *params);
int updater_method_set_windows(Updater *u, VarlinkCall *call, json_t *params);
int updater_method_approve(Updater *u, VarlinkCall *call, json_t *params);
