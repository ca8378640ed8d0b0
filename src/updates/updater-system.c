/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <systemd/sd-id128.h>
#include <unistd.h>

#include "shared/backoff.h"
#include "shared/fileio.h"
#include "shared/log.h"
#include "shared/time-util.h"
#include "updates/flatcar.h"
#include "updates/updater-internal.h"
#include "updates/zincati.h"

/* ---- the OS and the owned file ---- */

void updater_detect_os(Updater *u) {
        _cleanup_free_ char *text = NULL, *error = NULL, *p = path_join_root(u->root, "/etc/os-release");
        int r;

        updates_os_info_done(&u->os);
        u->os_error = mfree(u->os_error);
        if (!p)
                return;
        r = read_full_file(p, 64 * 1024, &text, NULL);
        if (r == -ENOENT) {
                free(p);
                p = path_join_root(u->root, "/usr/lib/os-release");
                r = p ? read_full_file(p, 64 * 1024, &text, NULL) : -ENOMEM;
        }
        if (r < 0) {
                u->os_error = strdupf("os-release: %s", strerror(-r));
                return;
        }
        r = updates_detect_os(text, &u->os, &error);
        if (r < 0)
                u->os_error = strdupf("%s: %s", p, error ?: strerror(-r));
}

/* Renders the owned file for this channel; *ret_text NULL when it is as it should be. */
int updater_render(Updater *u, const char *channel, char **ret_path, char **ret_text, char **ret_error) {
        _cleanup_free_ char *path = NULL, *old = NULL, *text = NULL;
        bool changed = false;
        int r;

        if (u->os.kind == OS_FEDORA_COREOS) {
                path = path_join_root(u->root, UPDATES_ZINCATI_DROPIN);
                if (!path)
                        return -ENOMEM;
                r = updates_render_zincati_dropin(channel, true, UPDATER_FLEETLOCK_BASE_URL, u->fleet_lock_group,
                                                  &text);
                if (r < 0)
                        return asprintf(ret_error, "cannot render %s for stream \"%s\" and group \"%s\"",
                                        UPDATES_ZINCATI_DROPIN, strna(channel), strna(u->fleet_lock_group)) < 0
                                       ? -ENOMEM : r;
                r = read_full_file(path, 1024 * 1024, &old, NULL);
                if (r < 0 && r != -ENOENT)
                        return asprintf(ret_error, "%s: %s", path, strerror(-r)) < 0 ? -ENOMEM : r;
                changed = !old || !streq(old, text);
        } else {
                _cleanup_free_ char *error = NULL;

                r = updates_update_conf_path(u->root, &path);
                if (r < 0)
                        return asprintf(ret_error, "cannot find where update.conf goes: %s", strerror(-r)) < 0
                                       ? -ENOMEM : r;
                r = read_full_file(path, 1024 * 1024, &old, NULL);
                if (r < 0 && r != -ENOENT)
                        return asprintf(ret_error, "%s: %s", path, strerror(-r)) < 0 ? -ENOMEM : r;
                r = updates_render_update_conf(old, channel, NULL, &text, &changed, &error);
                if (r < 0)
                        return asprintf(ret_error, "%s: %s", path, error ?: strerror(-r)) < 0 ? -ENOMEM : r;
        }
        *ret_path = TAKE_PTR(path);
        *ret_text = changed ? TAKE_PTR(text) : NULL;
        return 0;
}

int updater_write_file(Updater *u) {
        _cleanup_free_ char *path = NULL, *text = NULL, *error = NULL;
        int r;

        u->file_error = mfree(u->file_error);
        if (!updater_is_managed(u))
                return 0;
        r = updater_render(u, effective_channel(u), &path, &text, &error);
        if (r >= 0 && text) {
                r = mkdir_parents(path, 0755);
                if (r >= 0)
                        r = write_file_atomic(path, text, strlen(text), 0644);
                if (r < 0)
                        error = strdupf("cannot write %s: %s", path, strerror(-r));
                else
                        log_event(LOG_INFO, 0, "updates-file-written", NULL, NULL, "Wrote %s (channel %s).", path,
                                  strna(effective_channel(u)));
        }
        free(u->file_path);
        u->file_path = TAKE_PTR(path);
        if (r < 0) {
                u->file_error = error ? TAKE_PTR(error) : strdup(strerror(-r));
                log_event(LOG_ERR, r, "updates-file-error", NULL, BALLAST_MESSAGE_ERROR,
                          "Not rebooting for updates: %s", strna(u->file_error));
        }
        return r;
}

/* ---- update_engine over D-Bus ---- */

void updater_bus_drop(Updater *u) {
        if (u->reboot_call)
                u->reboot_asked = false; /* no answer came: ask again on the next connection */
        u->reboot_call = sd_bus_slot_unref(u->reboot_call);
        u->inhibit_call = sd_bus_slot_unref(u->inhibit_call);
        u->ue_match = sd_bus_slot_unref(u->ue_match);
        bus_name_owner_done(&u->ue_owner);
        u->ue_call = sd_bus_slot_unref(u->ue_call);
        u->disconnect_match = sd_bus_slot_unref(u->disconnect_match);
        updater_clock_drop(u);
        updater_fcos_drop(u);
        u->bus = sd_bus_flush_close_unref(u->bus);
}

static void updater_bus_retry(Updater *u) {
        (void) sd_event_source_set_time_relative(u->bus_retry, BUS_RETRY_USEC);
        (void) sd_event_source_set_enabled(u->bus_retry, SD_EVENT_ONESHOT);
}

static int updater_take_status(Updater *u, sd_bus_message *m) {
        int64_t last_checked, new_size;
        double progress;
        const char *op, *version;
        bool need;
        int r;

        r = sd_bus_message_read(m, "xdssx", &last_checked, &progress, &op, &version, &new_size);
        if (r < 0)
                return log_warning_errno(r, "update_engine sent a status ballast does not understand: %m");
        need = streq(op, UE_NEED_REBOOT);
        if (!u->ue_operation || !streq(u->ue_operation, op) || need != u->reboot_needed)
                log_event(LOG_INFO, 0, "update-engine-status", NULL, NULL, "update_engine: %s%s%s.", op,
                          *version ? ", new version " : "", version);
        u->ue_known = true;
        u->need_known = true;
        u->ue_last_checked = last_checked;
        u->ue_progress = progress;
        (void) set_string(&u->ue_operation, op);
        (void) set_string(&u->ue_new_version, *version ? version : NULL);
        u->ue_error = mfree(u->ue_error);
        u->reboot_needed = need;
        (void) set_string(&u->new_version, need && *version ? version : NULL);
        updater_step(u);
        return 0;
}

/* ---- logind: the delay inhibitor while draining, the reboot ---- */

static int on_inhibit(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Updater *u = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        int fd, r;

        u->inhibit_call = sd_bus_slot_unref(u->inhibit_call);
        if (e) {
                free(u->inhibit_error);
                u->inhibit_error = strdupf("logind refused the delay inhibitor: %s", e->message ?: e->name);
                log_event(LOG_WARNING, 0, "inhibit-failed", NULL, NULL, "%s; draining without it.", u->inhibit_error);
                return 0;
        }
        r = sd_bus_message_read(m, "h", &fd);
        if (r >= 0) {
                /* the message owns fd: keep a copy of our own */
                r = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                if (r < 0)
                        r = -errno;
        }
        if (r < 0) {
                free(u->inhibit_error);
                u->inhibit_error = strdupf("cannot keep logind's inhibitor: %s", strerror(-r));
                return 0;
        }
        u->inhibit_error = mfree(u->inhibit_error);
        safe_close(u->inhibit_fd);
        u->inhibit_fd = r;
        log_event(LOG_INFO, 0, "inhibited", NULL, NULL,
                  "Holding a logind delay inhibitor (shutdown) while the node drains.");
        /* the flow may have moved on while logind answered */
        if (u->flow.state != REBOOT_STATE_DRAINING)
                updater_uninhibit(u);
        return 0;
}

void updater_inhibit(Updater *u) {
        int r;

        if (u->inhibit_fd >= 0 || u->inhibit_call || !u->bus)
                return;
        r = sd_bus_call_method_async(u->bus, &u->inhibit_call, LOGIN_SERVICE, LOGIN_PATH, LOGIN_INTERFACE, "Inhibit",
                                     on_inhibit, u, "ssss", "shutdown", "ballast",
                                     "Draining the node's services before the OS update's reboot", "delay");
        if (r < 0) {
                free(u->inhibit_error);
                u->inhibit_error = strdupf("cannot ask logind for a delay inhibitor: %s", strerror(-r));
        }
}

void updater_uninhibit(Updater *u) {
        u->inhibit_call = sd_bus_slot_unref(u->inhibit_call);
        if (u->inhibit_fd < 0)
                return;
        u->inhibit_fd = safe_close(u->inhibit_fd);
        log_event(LOG_INFO, 0, "uninhibited", NULL, NULL, "Released the logind delay inhibitor.");
}

static int on_reboot_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Updater *u = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        uint64_t delay;

        u->reboot_call = sd_bus_slot_unref(u->reboot_call);
        if (!e) {
                u->reboot_started = true;
                u->reboot_error = mfree(u->reboot_error);
                log_event(LOG_NOTICE, 0, "rebooting", NULL, NULL,
                          "logind accepted the reboot into %s; the lock is released after the new boot.",
                          strna(u->flow.version));
                updater_step(u);
                return 0;
        }
        delay = backoff_usec(u->reboot_failures++, REBOOT_RETRY_MIN_USEC, REBOOT_RETRY_MAX_USEC, random_u32());
        free(u->reboot_error);
        u->reboot_error = strdupf("logind refused the reboot: %s", e->message ?: e->name);
        log_event(LOG_ERR, 0, "reboot-failed", NULL, BALLAST_MESSAGE_ERROR, "%s; asking again in %.0f s.",
                  u->reboot_error, (double) delay / (double) USEC_PER_SEC);
        (void) sd_event_source_set_time_relative(u->reboot_retry, delay);
        (void) sd_event_source_set_enabled(u->reboot_retry, SD_EVENT_ONESHOT);
        return 0;
}

/* org.freedesktop.login1.Manager.Reboot(false): logind runs the delay inhibitors' course and starts
 * reboot.target, as `systemctl reboot` would. Asked once per run of ballastd (and again after a refusal). */
void updater_reboot(Updater *u) {
        int enabled = SD_EVENT_OFF;
        int r;

        (void) sd_event_source_get_enabled(u->reboot_retry, &enabled);
        if (u->reboot_asked || u->reboot_call || enabled != SD_EVENT_OFF)
                return;
        if (!u->bus) {
                (void) set_string(&u->reboot_error, "the system bus is not reachable, so logind cannot be asked");
                return;
        }
        r = sd_bus_call_method_async(u->bus, &u->reboot_call, LOGIN_SERVICE, LOGIN_PATH, LOGIN_INTERFACE, "Reboot",
                                     on_reboot_reply, u, "b", 0);
        if (r < 0) {
                free(u->reboot_error);
                u->reboot_error = strdupf("cannot ask logind to reboot: %s", strerror(-r));
                return;
        }
        u->reboot_asked = true;
        log_event(LOG_NOTICE, 0, "reboot-requested", NULL, NULL,
                  "The node is drained and holds what it needs: asking logind to reboot into %s.",
                  strna(u->flow.version));
}

int updater_on_reboot_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        Updater *u = userdata;

        u->reboot_asked = false;
        updater_step(u);
        return 0;
}

/* Any local process may broadcast a StatusUpdate (or send one to ballastd's connection): it counts only when
 * it comes from the unique name that owns com.coreos.update1. */
static int on_ue_status_signal(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Updater *u = userdata;

        if (!bus_name_owner_sent(&u->ue_owner, m)) {
                /* the first few at notice level: a local process is trying to steer the reboot flow */
                log_full(u->ue_forged++ < 3 ? LOG_NOTICE : LOG_DEBUG,
                         "Ignored a StatusUpdate from %s: not update_engine (%s is owned by %s).",
                         strna(sd_bus_message_get_sender(m)), UE_SERVICE, strna(u->ue_owner.owner));
                return 0;
        }
        (void) updater_take_status(u, m);
        return 0;
}

static int on_ue_get_status(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Updater *u = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        u->ue_call = sd_bus_slot_unref(u->ue_call);
        if (e) {
                /* not there (yet): NameOwnerChanged tells when it comes */
                (void) set_string(&u->ue_error, e->message ?: e->name);
                u->ue_known = false;
                log_debug("update_engine GetStatus failed: %s", strna(e->message));
                return 0;
        }
        (void) updater_take_status(u, m);
        return 0;
}

static void updater_get_status(Updater *u) {
        int r;

        if (!u->bus || u->ue_call)
                return;
        r = sd_bus_call_method_async(u->bus, &u->ue_call, UE_SERVICE, UE_PATH, UE_INTERFACE, "GetStatus",
                                     on_ue_get_status, u, NULL);
        if (r < 0)
                log_warning_errno(r, "Failed to ask update_engine for its status: %m");
}

static void on_ue_owner_changed(BusNameOwner *o, const char *new_owner, void *userdata) {
        Updater *u = userdata;

        if (new_owner)
                updater_get_status(u);
        else {
                u->ue_known = false;
                (void) set_string(&u->ue_error, "update_engine left the bus");
        }
}

static int on_bus_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Updater *u = userdata;

        log_notice("System bus gone, watching update_engine again when it is back.");
        updater_bus_drop(u);
        u->ue_known = false;
        (void) set_string(&u->ue_error, "the system bus is gone");
        updater_bus_retry(u);
        return 0;
}

static bool watch_update_engine(Updater *u) {
        return u->os.kind == OS_FLATCAR || u->os.kind == OS_CONTAINER_LINUX;
}

static int updater_bus_connect(Updater *u) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        r = sd_bus_open_system_with_description(&bus, "ballastd-updates");
        if (r < 0)
                return r;
        r = sd_bus_attach_event(bus, u->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return r;
        r = sd_bus_match_signal_async(bus, &u->disconnect_match, "org.freedesktop.DBus.Local", NULL,
                                      "org.freedesktop.DBus.Local", "Disconnected", on_bus_disconnected, NULL, u);
        /* the owner first: its answer comes before any StatusUpdate the match lets through */
        if (r >= 0 && watch_update_engine(u))
                r = bus_name_owner_watch(&u->ue_owner, bus, UE_SERVICE, on_ue_owner_changed, u);
        if (r >= 0 && watch_update_engine(u))
                r = sd_bus_match_signal_async(bus, &u->ue_match, UE_SERVICE, UE_PATH, UE_INTERFACE, "StatusUpdate",
                                              on_ue_status_signal, NULL, u);
        if (r < 0) {
                u->disconnect_match = sd_bus_slot_unref(u->disconnect_match);
                u->ue_match = sd_bus_slot_unref(u->ue_match);
                bus_name_owner_done(&u->ue_owner);
                return r;
        }
        u->bus = TAKE_PTR(bus);
        if (updater_fcos_watch(u) < 0)
                log_warning("Cannot follow rpm-ostree's deployments; they are read when a reboot is in view.");
        if (watch_update_engine(u))
                updater_get_status(u);
        updater_step(u); /* logind may be needed now */
        return 0;
}

int updater_on_bus_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        Updater *u = userdata;
        int r = updater_bus_connect(u);

        if (r < 0) {
                log_debug_errno(r, "System bus still not reachable: %m");
                updater_bus_retry(u);
        }
        return 0;
}

/* The system bus: update_engine on Flatcar and Container Linux, logind (inhibitor, reboot) wherever updates are
 * managed. */
void updater_watch(Updater *u) {
        int r;

        if (!updater_is_managed(u)) {
                updater_bus_drop(u);
                return;
        }
        /* a change of OS (a fixture, in tests) changes what is watched */
        if (u->bus && (!!u->ue_match) != watch_update_engine(u))
                updater_bus_drop(u);
        if (u->bus)
                return;
        r = updater_bus_connect(u);
        if (r < 0) {
                log_full_errno(LOG_NOTICE, r, "System bus not reachable, watching update_engine later: %m");
                (void) set_string(&u->ue_error, "the system bus is not reachable");
                updater_bus_retry(u);
        }
}

/* ---- this boot ---- */

static bool id128_string_valid(const char *s) {
        return s && strlen(s) == 32 && strspn(s, "0123456789abcdef") == 32;
}

/* This boot's id, as ballast tells boots apart: a random id kept in /run/ballast/boot-id, which lives as long as
 * the boot (/run is a tmpfs, emptied by every boot) and survives restarts of ballastd. Not the kernel's
 * boot_id: a container (the test sandbox among them) reboots without a new kernel. "" when it cannot be
 * kept: the flow then never sees a new boot, and fails closed (no lock released behind a reboot it missed). */
void updater_read_boot_id(Updater *u) {
        _cleanup_free_ char *p = path_join_root(u->root, "/run/ballast/boot-id"), *text = NULL;
        char id[SD_ID128_STRING_MAX];
        sd_id128_t rnd;
        int r;

        u->boot_id[0] = 0;
        if (!p)
                return;
        if (read_full_file(p, 128, &text, NULL) >= 0) {
                text[strcspn(text, "\n")] = 0;
                if (id128_string_valid(text)) {
                        memcpy(u->boot_id, text, 33);
                        return;
                }
        }
        r = sd_id128_randomize(&rnd);
        if (r >= 0) {
                sd_id128_to_string(rnd, id);
                r = mkdir_parents(p, 0755);
        }
        if (r >= 0) {
                char line[SD_ID128_STRING_MAX + 1];
                snprintf(line, sizeof(line), "%s\n", id);
                r = write_file_atomic(p, line, strlen(line), 0644);
        }
        if (r < 0) {
                log_warning_errno(r, "Failed to keep this boot's id in %s, a reboot will not be noticed: %m", p);
                return;
        }
        memcpy(u->boot_id, id, 33);
}
