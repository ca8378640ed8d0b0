/* SPDX-License-Identifier: MIT */
#pragma once

/* The updater's Varlink methods (io.ballast.Agent.Update*): `ballastctl update status|pin|pause|resume|windows|
 * approve`. The only part of src/updates that speaks the socket layer. */

#include <jansson.h>

#include "updates/updater.h"

typedef struct VarlinkCall VarlinkCall;

/* Varlink methods (io.ballast.Agent.*). */
int updater_method_status(Updater *u, VarlinkCall *call, json_t *params);
int updater_method_pin(Updater *u, VarlinkCall *call, json_t *params);
int updater_method_pause(Updater *u, VarlinkCall *call, json_t *params);
int updater_method_resume(Updater *u, VarlinkCall *call, json_t *params);
int updater_method_set_windows(Updater *u, VarlinkCall *call, json_t *params);
int updater_method_approve(Updater *u, VarlinkCall *call, json_t *params);
int updater_method_unpin(Updater *u, VarlinkCall *call, json_t *params);
int updater_method_reset_windows(Updater *u, VarlinkCall *call, json_t *params);
int updater_method_unlock(Updater *u, VarlinkCall *call, json_t *params);
