/* SPDX-License-Identifier: MIT */
/* Fedora CoreOS: what rpm-ostree says of the deployments, over its D-Bus interface (org.projectatomic.rpmostree1,
 * object /org/projectatomic/rpmostree1/Sysroot, interface org.projectatomic.rpmostree1.Sysroot, property
 * Deployments, aa{sv}: one dict per deployment in boot order, with "version" (s), "origin" (s) or
 * "container-image-reference" (s), "checksum" (s), "booted" (b), "staged" (b) and "base-commit-meta" (a{sv})
 * among its keys). The staged deployment is the one Zincati finalizes when it asks pre-reboot: its version is
 * what max_version is compared with, its stream what the pin is. Read asynchronously when a reboot is in view
 * (rpm-ostreed is bus-activated and exits when idle) and on every PropertiesChanged while it runs. */

#include <errno.h>
#include <string.h>

#include "shared/log.h"
#include "updates/updater-internal.h"
#include "updates/zincati.h"

#define RO_SERVICE "org.projectatomic.rpmostree1"
#define RO_SYSROOT_PATH "/org/projectatomic/rpmostree1/Sysroot"
#define RO_SYSROOT_INTERFACE "org.projectatomic.rpmostree1.Sysroot"
#define FCOS_STREAM_KEY "fedora-coreos.stream"

static void deployment_done(FcosDeployment *d) {
        free(d->version);
        free(d->origin);
        free(d->stream);
        free(d->checksum);
        *d = (FcosDeployment) {};
}

static int read_variant_string(sd_bus_message *m, char **ret) {
        const char *s;
        int r = sd_bus_message_read(m, "v", "s", &s);

        return r < 0 ? r : set_string(ret, s);
}

/* base-commit-meta: a{sv}; only "fedora-coreos.stream" is kept. */
static int read_commit_meta_stream(sd_bus_message *m, char **ret) {
        int r;

        r = sd_bus_message_enter_container(m, 'v', "a{sv}");
        if (r >= 0)
                r = sd_bus_message_enter_container(m, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key;
                char type;
                const char *contents;

                r = sd_bus_message_read(m, "s", &key);
                if (r >= 0)
                        r = sd_bus_message_peek_type(m, &type, &contents);
                if (r >= 0 && streq(key, FCOS_STREAM_KEY) && streq_ptr(contents, "s"))
                        r = read_variant_string(m, ret);
                else if (r >= 0)
                        r = sd_bus_message_skip(m, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        return r;
}

/* One deployment's a{sv}, the container entered; *ret_booted / *ret_staged from "booted" / "staged". */
static int read_deployment(sd_bus_message *m, FcosDeployment *d, bool *ret_booted, bool *ret_staged) {
        _cleanup_free_ char *origin = NULL, *image = NULL, *meta_stream = NULL;
        int r;

        *ret_booted = *ret_staged = false;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key, *contents;
                char type;
                int b;

                r = sd_bus_message_read(m, "s", &key);
                if (r >= 0)
                        r = sd_bus_message_peek_type(m, &type, &contents);
                if (r < 0)
                        return r;
                if (streq(key, "version") && streq_ptr(contents, "s"))
                        r = read_variant_string(m, &d->version);
                else if (streq(key, "checksum") && streq_ptr(contents, "s"))
                        r = read_variant_string(m, &d->checksum);
                else if (streq(key, "origin") && streq_ptr(contents, "s"))
                        r = read_variant_string(m, &origin);
                else if (streq(key, "container-image-reference") && streq_ptr(contents, "s"))
                        r = read_variant_string(m, &image);
                else if (streq(key, "base-commit-meta") && streq_ptr(contents, "a{sv}"))
                        r = read_commit_meta_stream(m, &meta_stream);
                else if ((streq(key, "booted") || streq(key, "staged")) && streq_ptr(contents, "b")) {
                        r = sd_bus_message_read(m, "v", "b", &b);
                        if (r >= 0)
                                *(streq(key, "booted") ? ret_booted : ret_staged) = b;
                } else
                        r = sd_bus_message_skip(m, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        d->present = true;
        d->origin = TAKE_PTR(origin) ?: TAKE_PTR(image);
        if (!d->origin || updates_fcos_stream_from_origin(d->origin, &d->stream) < 0)
                d->stream = TAKE_PTR(meta_stream);
        return 0;
}

static int read_deployments(sd_bus_message *m, FcosDeployment *ret_booted, FcosDeployment *ret_staged) {
        int r;

        r = sd_bus_message_enter_container(m, 'v', "aa{sv}");
        if (r >= 0)
                r = sd_bus_message_enter_container(m, 'a', "a{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(m, 'a', "{sv}")) > 0) {
                FcosDeployment d = {};
                bool booted, staged;

                r = read_deployment(m, &d, &booted, &staged);
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
                if (r >= 0 && booted && !ret_booted->present)
                        *ret_booted = d;
                else if (r >= 0 && staged && !ret_staged->present)
                        *ret_staged = d;
                else
                        deployment_done(&d);
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        return r;
}

static void take_deployments(Updater *u, FcosDeployment *booted, FcosDeployment *staged) {
        bool changed = !u->ro_known || staged->present != u->staged.present ||
                       !streq_ptr(staged->version, u->staged.version) ||
                       !streq_ptr(staged->stream, u->staged.stream) ||
                       !streq_ptr(staged->checksum, u->staged.checksum) ||
                       !streq_ptr(booted->stream, u->booted.stream);

        if (changed)
                log_event(LOG_INFO, 0, "rpm-ostree-deployments", NULL, NULL,
                          "rpm-ostree: booted %s (stream %s)%s%s%s%s%s.", strna(booted->version),
                          strna(booted->stream), staged->present ? ", staged " : ", nothing staged",
                          staged->present ? strna(staged->version) : "", staged->present ? " (stream " : "",
                          staged->present ? strna(staged->stream) : "", staged->present ? ")" : "");
        deployment_done(&u->booted);
        deployment_done(&u->staged);
        u->booted = *booted;
        u->staged = *staged;
        u->ro_known = true;
        u->ro_error = mfree(u->ro_error);
        /* the version a reboot boots into, for max_version and the status */
        (void) set_string(&u->new_version, u->staged.present ? u->staged.version : NULL);
        if (changed)
                updater_step(u);
}

static int on_deployments(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Updater *u = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        FcosDeployment booted = {}, staged = {};
        int r;

        u->ro_call = sd_bus_slot_unref(u->ro_call);
        if (e) {
                bool was = u->ro_known;

                (void) set_string(&u->ro_error, e->message ?: e->name);
                u->ro_known = false;
                deployment_done(&u->booted);
                deployment_done(&u->staged);
                (void) set_string(&u->new_version, NULL);
                log_event(was ? LOG_WARNING : LOG_DEBUG, 0, "rpm-ostree-unknown", NULL, NULL,
                          "rpm-ostree cannot be asked for the deployments: %s; the staged one is unknown.",
                          u->ro_error);
                if (was)
                        updater_step(u);
                return 0;
        }
        r = read_deployments(m, &booted, &staged);
        if (r < 0) {
                deployment_done(&booted);
                deployment_done(&staged);
                (void) set_string(&u->ro_error, "rpm-ostree sent Deployments in a form ballast does not understand");
                log_warning_errno(r, "%s: %m", u->ro_error);
                return 0;
        }
        take_deployments(u, &booted, &staged);
        return 0;
}

static void fcos_get(Updater *u) {
        int r;

        if (!u->bus || u->ro_call)
                return;
        r = sd_bus_call_method_async(u->bus, &u->ro_call, RO_SERVICE, RO_SYSROOT_PATH,
                                     "org.freedesktop.DBus.Properties", "Get", on_deployments, u, "ss",
                                     RO_SYSROOT_INTERFACE, "Deployments");
        if (r < 0)
                (void) set_string(&u->ro_error, strerror(-r));
}

void updater_fcos_refresh(Updater *u) {
        if (u->os.kind != OS_FEDORA_COREOS || !updater_is_managed(u))
                return;
        if (!u->ro_known || u->reboot_needed || u->flow.state != REBOOT_STATE_IDLE)
                fcos_get(u);
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Updater *u = userdata;

        /* whatever changed, the deployments are asked again: one Get, the same parser */
        if (u->os.kind == OS_FEDORA_COREOS)
                fcos_get(u);
        return 0;
}

int updater_fcos_watch(Updater *u) {
        if (u->os.kind != OS_FEDORA_COREOS || !u->bus || u->ro_match)
                return 0;
        return sd_bus_match_signal_async(u->bus, &u->ro_match, RO_SERVICE, RO_SYSROOT_PATH,
                                         "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                         on_properties_changed, NULL, u);
}

void updater_fcos_drop(Updater *u) {
        u->ro_call = sd_bus_slot_unref(u->ro_call);
        u->ro_match = sd_bus_slot_unref(u->ro_match);
}

void updater_fcos_done(Updater *u) {
        updater_fcos_drop(u);
        deployment_done(&u->booted);
        deployment_done(&u->staged);
        u->ro_error = mfree(u->ro_error);
}

static json_t *deployment_json(const FcosDeployment *d) {
        if (!d->present)
                return json_null();
        return json_pack("{s:s?,s:s?,s:s?,s:s?}", "version", d->version, "origin", d->origin, "stream", d->stream,
                         "checksum", d->checksum);
}

json_t *updater_fcos_status_json(Updater *u) {
        return json_pack("{s:b,s:o,s:o,s:s?}", "known", u->ro_known, "booted", deployment_json(&u->booted),
                         "staged", deployment_json(&u->staged), "error", u->ro_error);
}
