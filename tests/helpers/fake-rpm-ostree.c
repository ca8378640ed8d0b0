/* SPDX-License-Identifier: MIT */
/* A FAKE rpm-ostree daemon for the tests: rpm-ostreed cannot run here (it needs a booted OSTree sysroot), so this
 * program stands in for the part of its D-Bus interface ballastd reads. It follows rpm-ostree's interface
 * (src/daemon/org.projectatomic.rpmostree1.xml and the deployment dicts rpmostreed-deployment-utils builds):
 *
 *   bus name   org.projectatomic.rpmostree1 (system bus)
 *   object     /org/projectatomic/rpmostree1/Sysroot, interface org.projectatomic.rpmostree1.Sysroot
 *     property Booted (o): the booted OS object, /org/projectatomic/rpmostree1/fedora_coreos
 *     property Path (s): "/"
 *     property Deployments (aa{sv}): every deployment in boot order (a staged one first), each with
 *       "id" (s), "osname" (s), "serial" (i), "checksum" (s), "version" (s), "timestamp" (t), "origin" (s),
 *       "booted" (b), "staged" (b), "pinned" (b), "unlocked" (s), "base-commit-meta" (a{sv}, with
 *       "fedora-coreos.stream" (s) and "version" (s))
 *     PropertiesChanged when the deployments change, as the daemon's GDBus skeleton emits it
 *   object     /org/projectatomic/rpmostree1/fedora_coreos, interface org.projectatomic.rpmostree1.OS
 *     properties Name (s), BootedDeployment (a{sv}), DefaultDeployment (a{sv})
 *
 * For the tests only (not rpm-ostree's), on the Sysroot object, interface io.ballast.test.FakeRpmOstree:
 *   Stage(s version, s origin): a deployment staged (as Zincati's `rpm-ostree deploy` leaves one);
 *   an empty version removes it.
 *
 * Usage: fake-rpm-ostree [--booted-version V] [--origin REFSPEC] [--staged-version V [--staged-origin R]]
 * The system bus's policy must let it own the name (rpm-ostree ships org.projectatomic.rpmostree1.conf). */

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "fake-bus.h"

#define NAME "org.projectatomic.rpmostree1"
#define SYSROOT_PATH "/org/projectatomic/rpmostree1/Sysroot"
#define SYSROOT_INTERFACE "org.projectatomic.rpmostree1.Sysroot"
#define OS_PATH "/org/projectatomic/rpmostree1/fedora_coreos"
#define OS_INTERFACE "org.projectatomic.rpmostree1.OS"
#define OSNAME "fedora-coreos"

typedef struct Deployment {
        char version[64], origin[256], checksum[65];
        bool booted, staged;
        int serial;
} Deployment;

typedef struct Fake {
        sd_bus *bus;
        Deployment booted, staged;
        bool has_staged;
} Fake;

static void deployment_set(Deployment *d, const char *version, const char *origin, bool booted, int serial) {
        unsigned long h = 5381;

        snprintf(d->version, sizeof(d->version), "%s", version);
        snprintf(d->origin, sizeof(d->origin), "%s", origin);
        for (const char *p = version; *p; p++)
                h = h * 33 + (unsigned char) *p;
        for (const char *p = origin; *p; p++)
                h = h * 33 + (unsigned char) *p;
        for (int i = 0; i < 64; i++)
                d->checksum[i] = "0123456789abcdef"[((h >> (i % 16 * 4)) & 15) ^ (i & 15)];
        d->checksum[64] = 0;
        d->booted = booted;
        d->staged = !booted;
        d->serial = serial;
}

/* The stream the commit metadata names: the last component of an OSTree ref (…/coreos/STREAM). */
static const char *origin_stream(const char *origin) {
        const char *s = strrchr(origin, '/');
        return s ? s + 1 : origin;
}

static int append_deployment(sd_bus_message *m, const Deployment *d) {
        char id[128];
        int r;

        snprintf(id, sizeof(id), "%s-%s.%d", OSNAME, d->checksum, d->serial);
        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_append(m, "{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}", "id", "s", id, "osname",
                                          "s", OSNAME, "serial", "i", d->serial, "checksum", "s", d->checksum,
                                          "version", "s", d->version, "timestamp", "t", (uint64_t) 1707523200,
                                          "origin", "s", d->origin, "booted", "b", d->booted, "staged", "b",
                                          d->staged, "pinned", "b", 0, "unlocked", "s", "none");
        if (r >= 0)
                r = sd_bus_message_append(m, "{sv}", "base-commit-meta", "a{sv}", 2, "fedora-coreos.stream", "s",
                                          origin_stream(d->origin), "version", "s", d->version);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}

static int get_deployments(sd_bus *bus, const char *path, const char *interface, const char *property,
                           sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Fake *f = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "a{sv}");
        if (r >= 0 && f->has_staged)
                r = append_deployment(reply, &f->staged);
        if (r >= 0)
                r = append_deployment(reply, &f->booted);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r;
}

static int get_booted_deployment(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Fake *f = userdata;
        return append_deployment(reply, &f->booted);
}

static int get_default_deployment(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Fake *f = userdata;
        return append_deployment(reply, f->has_staged ? &f->staged : &f->booted);
}

static int method_stage(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Fake *f = userdata;
        const char *version, *origin;
        int r;

        r = sd_bus_message_read(m, "ss", &version, &origin);
        if (r < 0)
                return r;
        f->has_staged = *version != 0;
        if (f->has_staged)
                deployment_set(&f->staged, version, *origin ? origin : f->booted.origin, false, 0);
        fprintf(stderr, "fake-rpm-ostree: staged %s %s\n", f->has_staged ? version : "nothing",
                f->has_staged ? f->staged.origin : "");
        (void) sd_bus_emit_properties_changed(f->bus, SYSROOT_PATH, SYSROOT_INTERFACE, "Deployments", NULL);
        (void) sd_bus_emit_properties_changed(f->bus, OS_PATH, OS_INTERFACE, "DefaultDeployment", NULL);
        return sd_bus_reply_method_return(m, NULL);
}

static int get_const_string(sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        if (strcmp(property, "Booted") == 0)
                return sd_bus_message_append(reply, "o", OS_PATH);
        if (strcmp(property, "Path") == 0)
                return sd_bus_message_append(reply, "s", "/");
        return sd_bus_message_append(reply, "s", OSNAME);
}

static const sd_bus_vtable sysroot_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Booted", "o", get_const_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Path", "s", get_const_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Deployments", "aa{sv}", get_deployments, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_VTABLE_END,
};

static const sd_bus_vtable os_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", get_const_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("BootedDeployment", "a{sv}", get_booted_deployment, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("DefaultDeployment", "a{sv}", get_default_deployment, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_VTABLE_END,
};

static const sd_bus_vtable test_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Stage", "ss", "", method_stage, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int main(int argc, char **argv) {
        Fake f = {};
        const char *booted_version = "39.20240210.3.0", *origin = "fedora:fedora/x86_64/coreos/stable";
        const char *staged_version = NULL, *staged_origin = NULL;
        sd_event *e = NULL;
        int r;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--booted-version") == 0 && i + 1 < argc)
                        booted_version = argv[++i];
                else if (strcmp(argv[i], "--origin") == 0 && i + 1 < argc)
                        origin = argv[++i];
                else if (strcmp(argv[i], "--staged-version") == 0 && i + 1 < argc)
                        staged_version = argv[++i];
                else if (strcmp(argv[i], "--staged-origin") == 0 && i + 1 < argc)
                        staged_origin = argv[++i];
                else {
                        fprintf(stderr, "usage: %s [--booted-version V] [--origin REFSPEC] [--staged-version V "
                                        "[--staged-origin REFSPEC]]\n", argv[0]);
                        return 2;
                }
        }
        deployment_set(&f.booted, booted_version, origin, true, 0);
        if (staged_version) {
                f.has_staged = true;
                deployment_set(&f.staged, staged_version, staged_origin ?: origin, false, 0);
        }

        r = fake_bus_start("fake-rpm-ostree", NAME,
                           (const FakeObject[]) {
                                   { SYSROOT_PATH, SYSROOT_INTERFACE, sysroot_vtable, &f },
                                   { SYSROOT_PATH, "io.ballast.test.FakeRpmOstree", test_vtable, &f },
                                   { OS_PATH, OS_INTERFACE, os_vtable, &f },
                           },
                           3, &e, &f.bus);
        if (r < 0)
                return 1;
        fprintf(stderr, "fake-rpm-ostree: serving %s, booted %s (%s)\n", NAME, f.booted.version, f.booted.origin);
        return fake_bus_run(e, f.bus);
}
