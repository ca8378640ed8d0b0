/* SPDX-License-Identifier: MIT */
/* ballast-ignition: writes the Ignition config (or a Butane source) that installs ballast on a CoreOS host at
 * first boot: the binaries in /opt/bin, /etc/ballast/ballast.json, the service specs, the units, the ballast
 * group and, when ballast.json has an "updates" block, the OS's update settings.
 *
 * Every input is validated the way ballastd validates it (config.c, spec.c: the same messages), and the update
 * files are rendered by updates.c, so they are byte for byte what ballastd itself would write on that host.
 * Nothing is written unless everything is valid; the output is written atomically. */

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/config.h"
#include "supervisor/spec.h"
#include "updates/updater.h"
#include "updates/flatcar.h"
#include "updates/zincati.h"
#include "shared/fileio.h"
#include "shared/json-util.h"
#include "shared/macro.h"

#include "ignition/encode.h"
#include "ignition/unit-texts.h"

/* Where the binaries go, on each OS's PATH: /usr/local/bin on Fedora CoreOS (writable there: /usr/local is
 * /var/usrlocal on OSTree hosts), /opt/bin on Flatcar (its /usr, /usr/local with it, is read-only, verity-
 * protected; /opt/bin is on its PATH). Without a target OS: /opt/bin, which both can write and the units name by
 * absolute path (only an interactive `ballastctl` needs its full path on Fedora CoreOS then). */
#define BIN_DIR_FCOS "/usr/local/bin"
#define BIN_DIR_FLATCAR "/opt/bin"
#define BIN_DIR bin_dir()
#define CONFIG_PATH "/etc/ballast/ballast.json"
#define BINARY_MAX (256U * 1024U * 1024U)
#define TEXT_MAX (1024U * 1024U)
#define BALLAST_GROUP "ballast"   /* units/ballastd.socket's SocketGroup= */

typedef enum TargetOs {
        TARGET_ANY,      /* both update files: each is inert on the other OS */
        TARGET_FLATCAR,
        TARGET_FCOS,
} TargetOs;

typedef enum Output {
        OUTPUT_IGNITION,
        OUTPUT_BUTANE_FCOS,
        OUTPUT_BUTANE_FLATCAR,
} Output;

static const char *arg_config = NULL;
static const char *arg_services = NULL;
static const char *arg_binaries = NULL;
static const char *arg_binaries_url = NULL;
static const char *arg_ca_file = NULL;
static const char *arg_spec = "3.3.0";
static const char *arg_output = NULL;
static TargetOs arg_os = TARGET_ANY;
static bool arg_os_given = false;
static Output arg_format = OUTPUT_IGNITION;
/* --install sysext: the system extension image instead of the plain files */
static const char *arg_sysext = NULL;
static const char *arg_sysext_url = NULL;

/* --os fcos, or --butane fcos without --os: Fedora CoreOS's PATH; else Flatcar's (see BIN_DIR_FCOS). */
static const char *bin_dir(void) {
        return arg_os == TARGET_FCOS || (!arg_os_given && arg_format == OUTPUT_BUTANE_FCOS) ? BIN_DIR_FCOS
                                                                                        : BIN_DIR_FLATCAR;
}

/* ballast-pause: the network holder's program, which ballast-run looks for beside itself */
static const char *const binaries[] = { "ballastd", "ballastctl", "ballast-run", "ballast-pause" };

/* One file the config writes. Text files carry their bytes; binaries either a URL and its sha512 or their bytes
 * gzip-compressed. */
typedef struct Entry {
        char *path;
        mode_t mode;
        char *data;          /* text, or the gzip-compressed binary (inline) */
        size_t size;
        bool gzip;
        char *url;           /* binaries by URL */
        char *hash;          /* "sha512-…" of the file at url */
        char *local;         /* Butane: the file name under --files-dir */
} Entry;

typedef struct Unit {
        const char *name;
        char *contents;      /* NULL: a unit the OS has, only enabled */
        bool enable;         /* "enabled": true, i.e. a preset line */
} Unit;

typedef struct Plan {
        Entry *entries;
        size_t n_entries;
        char **directories;
        Unit units[4];
        size_t n_units;
        char *ca_pem;
        size_t ca_size;
} Plan;

static void plan_done(Plan *p) {
        for (size_t i = 0; i < p->n_entries; i++) {
                free(p->entries[i].path);
                free(p->entries[i].data);
                free(p->entries[i].url);
                free(p->entries[i].hash);
                free(p->entries[i].local);
        }
        free(p->entries);
        strv_free(p->directories);
        for (size_t i = 0; i < p->n_units; i++)
                free(p->units[i].contents);
        free(p->ca_pem);
}

static int error_out(int r, const char *format, ...) _printf_(2, 3);
static int error_out(int r, const char *format, ...) {
        va_list ap;

        if (r < 0)
                errno = -r;   /* for %m: the caller passed -errno */
        fputs("ballast-ignition: ", stderr);
        if (r < 0)
                errno = -r;
        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fputc('\n', stderr);
        return r < 0 ? r : -EINVAL;
}

static Entry *plan_add(Plan *p, const char *path, mode_t mode) {
        Entry *l = realloc(p->entries, (p->n_entries + 1) * sizeof(Entry));

        if (!l)
                return NULL;
        p->entries = l;
        l[p->n_entries] = (Entry) { .path = strdup(path), .mode = mode };
        if (!l[p->n_entries].path)
                return NULL;
        return &l[p->n_entries++];
}

static int plan_add_text(Plan *p, const char *path, const char *text, size_t size) {
        Entry *e = plan_add(p, path, 0644);

        if (!e)
                return -ENOMEM;
        e->data = malloc(size + 1);
        if (!e->data)
                return -ENOMEM;
        memcpy(e->data, text, size);
        e->data[size] = 0;
        e->size = size;
        return 0;
}

static bool endswith_slash(const char *s) {
        size_t n = strlen(s);
        return n > 0 && s[n - 1] == '/';
}

/* ---- gathering and validating the inputs ---- */

static int add_binaries(Plan *p) {
        for (size_t i = 0; i < ELEMENTSOF(binaries); i++) {
                _cleanup_free_ char *src = path_join(arg_binaries, binaries[i]), *dst = path_join(BIN_DIR, binaries[i]);
                _cleanup_free_ char *bytes = NULL;
                struct stat st;
                size_t size;
                Entry *e;
                int r;

                if (!src || !dst)
                        return -ENOMEM;
                if (stat(src, &st) < 0)
                        return error_out(-errno, "%s: cannot read: %m (a binary of the install flavour: make install-flavour)", src);
                if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111))
                        return error_out(-EINVAL, "%s: not an executable file", src);
                r = read_full_file(src, BINARY_MAX, &bytes, &size);
                if (r < 0)
                        return error_out(r, "%s: cannot read: %s", src, strerror(-r));
                e = plan_add(p, dst, 0755);
                if (!e)
                        return -ENOMEM;
                e->local = strdup(binaries[i]);
                if (!e->local)
                        return -ENOMEM;
                if (arg_binaries_url) {
                        _cleanup_free_ char *hex = sha512_hex(bytes, size);

                        if (!hex || asprintf(&e->hash, "sha512-%s", hex) < 0 ||
                            asprintf(&e->url, "%s%s%s", arg_binaries_url,
                                     endswith_slash(arg_binaries_url) ? "" : "/", binaries[i]) < 0)
                                return -ENOMEM;
                } else {
                        r = gzip_compress(bytes, size, &e->data, &e->size);
                        if (r < 0)
                                return error_out(r, "%s: cannot compress: %s", src, strerror(-r));
                        e->gzip = true;
                }
        }
        return 0;
}

static int add_config(Plan *p, Config **ret) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *text = NULL, *error = NULL;
        size_t size = 0;
        int r;

        if (!arg_config) {
                /* no ballast.json: ballastd runs on the defaults */
                r = config_new_default(&c);
                if (r < 0)
                        return r;
                *ret = TAKE_PTR(c);
                return 0;
        }
        /* unlike ballastd (where a missing file means the defaults), a file named here must exist */
        r = read_full_file(arg_config, TEXT_MAX, &text, &size);
        if (r < 0)
                return error_out(r, "%s: cannot read: %s", arg_config, strerror(-r));
        r = config_parse(text, size, arg_config, &c, &error);
        if (r < 0)
                return error_out(r, "%s", error ?: strerror(-r));
        r = plan_add_text(p, CONFIG_PATH, text, size);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

static int compare_strings(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The specs, read as ballastd reads its services directory: *.json but dot files, each named after its file. */
static int add_services(Plan *p, const Config *c) {
        _cleanup_(closedirp) DIR *d = NULL;
        char **names = NULL;
        size_t n = 0;
        struct dirent *de;
        int r = 0;

        if (!arg_services)
                return 0;
        d = opendir(arg_services);
        if (!d)
                return error_out(-errno, "%s: cannot read the services directory: %m", arg_services);
        while ((de = readdir(d))) {
                size_t k = strlen(de->d_name);
                char **l;

                if (de->d_name[0] == '.' || k < 6 || !streq(de->d_name + k - 5, ".json"))
                        continue;
                l = realloc(names, (n + 2) * sizeof(char *));
                if (!l) {
                        strv_free(names);
                        return -ENOMEM;
                }
                names = l;
                names[n] = strndup(de->d_name, k - 5);
                names[++n] = NULL;
                if (!names[n - 1]) {
                        strv_free(names);
                        return -ENOMEM;
                }
        }
        if (n > 0)
                qsort(names, n, sizeof(char *), compare_strings);
        for (size_t i = 0; i < n && r >= 0; i++) {
                _cleanup_(service_spec_freep) ServiceSpec *spec = NULL;
                _cleanup_free_ char *src = NULL, *dst = NULL, *text = NULL, *error = NULL, *file = NULL;
                size_t size;

                if (asprintf(&file, "%s.json", names[i]) < 0 || !(src = path_join(arg_services, file))) {
                        r = -ENOMEM;
                        break;
                }
                /* a file name that is no service name is refused by the spec's own check (its "name" differs) */
                r = service_spec_load_named(src, names[i], &spec, &error);
                if (r < 0) {
                        r = error_out(r, "%s", error ?: strerror(-r));
                        break;
                }
                r = read_full_file(src, SERVICE_SPEC_MAX, &text, &size);
                if (r < 0) {
                        r = error_out(r, "%s: cannot read: %s", src, strerror(-r));
                        break;
                }
                dst = path_join(c->services_dir, file);
                r = dst ? plan_add_text(p, dst, text, size) : -ENOMEM;
        }
        strv_free(names);
        return r;
}

/* What ballastd's updater writes on first start (no earlier file, no channel pinned over the socket): the same
 * functions, so ballastd finds the files as it would have written them and leaves them alone. */
static int add_updates(Plan *p, const Config *c) {
        int r;

        if (!c->updates.managed)
                return 0;
        if (arg_os != TARGET_FCOS) {
                _cleanup_free_ char *text = NULL, *error = NULL;
                bool changed;

                r = updates_render_update_conf(NULL, c->updates.channel, NULL, &text, &changed, &error);
                if (r < 0)
                        return error_out(r, "%s: updates: cannot render update.conf: %s", arg_config,
                                         error ?: strerror(-r));
                r = plan_add_text(p, "/etc/flatcar/update.conf", text, strlen(text));
                if (r < 0)
                        return r;
        }
        if (arg_os != TARGET_FLATCAR) {
                _cleanup_free_ char *text = NULL;

                r = updates_render_zincati_dropin(c->updates.channel, true, UPDATER_FLEETLOCK_BASE_URL,
                                                  c->updates.fleet_lock_group, &text);
                if (r < 0)
                        return error_out(r, "%s: updates: cannot render %s for channel \"%s\" and group \"%s\"",
                                         arg_config, UPDATES_ZINCATI_DROPIN, strna(c->updates.channel),
                                         strna(c->updates.fleet_lock_group));
                r = plan_add_text(p, UPDATES_ZINCATI_DROPIN, text, strlen(text));
                if (r < 0)
                        return r;
        }
        return 0;
}

static int add_units(Plan *p) {
        _cleanup_free_ char *a = replace_all(UNIT_BALLASTD_SERVICE_IN, "@sbindir@", BIN_DIR);
        char *service = a ? replace_all(a, "@libexecdir@", BIN_DIR) : NULL;

        if (!service)
                return -ENOMEM;
        p->units[p->n_units++] = (Unit) { "ballastd.service", service, true };
        p->units[p->n_units++] = (Unit) { "ballastd.socket", strdup(UNIT_BALLASTD_SOCKET), true };
        p->units[p->n_units++] = (Unit) { "ballast.slice", strdup(UNIT_BALLAST_SLICE), false };
        /* ballastd starts after Docker and its workloads need it: Docker starts at boot (on Flatcar it is
         * otherwise only socket-activated, and Fedora CoreOS does not enable it either) */
        p->units[p->n_units++] = (Unit) { "docker.service", NULL, true };
        for (size_t i = 0; i < 3; i++)
                if (!p->units[i].contents)
                        return -ENOMEM;
        return 0;
}

static int add_ca(Plan *p) {
        int r;

        if (!arg_ca_file)
                return 0;
        r = read_full_file(arg_ca_file, TEXT_MAX, &p->ca_pem, &p->ca_size);
        if (r < 0)
                return error_out(r, "%s: cannot read: %s", arg_ca_file, strerror(-r));
        if (!strstr(p->ca_pem, "-----BEGIN CERTIFICATE-----"))
                return error_out(-EINVAL, "%s: not a PEM certificate (no \"-----BEGIN CERTIFICATE-----\")", arg_ca_file);
        return 0;
}

/* --install sysext IMAGE: the image as /var/lib/extensions/ballast.raw (the name its extension-release carries),
 * inline or downloaded from --sysext-url, systemd-sysext.service enabled to merge it at every boot (the image's
 * Upholds= starts ballastd then), and with --sysext-url the transfer file with which systemd-sysupdate fetches the
 * next versions from there (docs/INSTALL.md). */
#define SYSEXT_IMAGE_PATH "/var/lib/extensions/ballast.raw"
#define SYSEXT_TRANSFER_PATH "/etc/sysupdate.ballast.d/ballast.transfer"
static int add_sysext(Plan *p) {
        _cleanup_free_ char *bytes = NULL, *transfer = NULL;
        const char *base = strrchr(arg_sysext, '/') ? strrchr(arg_sysext, '/') + 1 : arg_sysext;
        size_t size;
        Entry *e;
        int r;

        if (strncmp(base, "ballast-", 8) != 0 || strlen(base) < 13 || !streq(base + strlen(base) - 4, ".raw"))
                return error_out(-EINVAL, "%s: not a ballast system extension image (make sysext: ballast-VERSION-ARCH.raw)", arg_sysext);
        r = read_full_file(arg_sysext, 64 * 1024 * 1024, &bytes, &size);
        if (r < 0)
                return error_out(r, "%s: cannot read: %s (make sysext)", arg_sysext, strerror(-r));
        e = plan_add(p, SYSEXT_IMAGE_PATH, 0644);
        if (!e || !(e->local = strdup(base)))
                return -ENOMEM;
        if (arg_sysext_url) {
                _cleanup_free_ char *hex = sha512_hex(bytes, size);

                if (!hex || asprintf(&e->hash, "sha512-%s", hex) < 0 ||
                    asprintf(&e->url, "%s%s%s", arg_sysext_url, endswith_slash(arg_sysext_url) ? "" : "/", base) < 0)
                        return -ENOMEM;
                if (asprintf(&transfer,
                             "# ballast: systemd-sysupdate -C ballast update; systemd-sysext refresh; systemctl restart ballastd\n"
                             "[Transfer]\nVerify=no\n\n[Source]\nType=url-file\nPath=%s%s\nMatchPattern=ballast-@v-%%a.raw\n\n"
                             "[Target]\nType=regular-file\nPath=/var/lib/extensions.d\nMatchPattern=ballast-@v-%%a.raw\n"
                             "CurrentSymlink=/etc/extensions/ballast.raw\nInstancesMax=2\n",
                             arg_sysext_url, endswith_slash(arg_sysext_url) ? "" : "/") < 0)
                        return -ENOMEM;
                r = plan_add_text(p, SYSEXT_TRANSFER_PATH, transfer, strlen(transfer));
                if (r < 0)
                        return r;
        } else {
                r = gzip_compress(bytes, size, &e->data, &e->size);
                if (r < 0)
                        return error_out(r, "%s: cannot compress: %s", arg_sysext, strerror(-r));
                e->gzip = true;
        }
        /* its units come with the image; the OS's merge service and Docker are enabled */
        p->units[p->n_units++] = (Unit) { "systemd-sysext.service", NULL, true };
        p->units[p->n_units++] = (Unit) { "docker.service", NULL, true };
        return 0;
}

static int make_plan(Plan *p) {
        _cleanup_(config_freep) Config *c = NULL;
        int r;

        r = add_config(p, &c);
        if (r < 0)
                return r;
        r = arg_sysext ? add_sysext(p) : add_binaries(p);
        if (r < 0)
                return r;
        r = add_services(p, c);
        if (r < 0)
                return r;
        r = add_updates(p, c);
        if (r < 0)
                return r;
        r = arg_sysext ? 0 : add_units(p);
        if (r < 0)
                return r;
        r = add_ca(p);
        if (r < 0)
                return r;
        /* the services directory even without a spec: where an operator adds one later */
        p->directories = calloc(2, sizeof(char *));
        if (!p->directories || !(p->directories[0] = strdup(c->services_dir)))
                return -ENOMEM;
        return 0;
}

/* ---- Ignition JSON ---- */

static json_t *ignition_file(const Entry *e) {
        _cleanup_json_ json_t *contents = NULL;
        _cleanup_free_ char *url = NULL;

        if (e->url)
                contents = json_pack("{s:s,s:{s:s}}", "source", e->url, "verification", "hash", e->hash);
        else {
                url = data_url(e->data, e->size);
                if (!url)
                        return NULL;
                contents = e->gzip ? json_pack("{s:s,s:s}", "source", url, "compression", "gzip")
                                   : json_pack("{s:s}", "source", url);
        }
        if (!contents)
                return NULL;
        return json_pack("{s:s,s:i,s:b,s:O}", "path", e->path, "mode", (int) e->mode, "overwrite", 1, "contents",
                         contents);
}

static int render_ignition(const Plan *p, char **ret) {
        _cleanup_json_ json_t *root = NULL, *files = json_array(), *dirs = json_array(), *units = json_array();
        _cleanup_json_ json_t *ignition = NULL;
        char *text;

        if (!files || !dirs || !units)
                return -ENOMEM;
        ignition = json_pack("{s:s}", "version", arg_spec);
        if (!ignition)
                return -ENOMEM;
        if (p->ca_pem) {
                _cleanup_free_ char *url = data_url(p->ca_pem, p->ca_size);

                if (!url || json_object_set_new(ignition, "security",
                                                json_pack("{s:{s:[{s:s}]}}", "tls", "certificateAuthorities",
                                                          "source", url)) < 0)
                        return -ENOMEM;
        }
        for (size_t i = 0; p->directories[i]; i++)
                if (json_array_append_new(dirs, json_pack("{s:s,s:i}", "path", p->directories[i], "mode", 0755)) < 0)
                        return -ENOMEM;
        for (size_t i = 0; i < p->n_entries; i++)
                if (json_array_append_new(files, ignition_file(&p->entries[i])) < 0)
                        return -ENOMEM;
        for (size_t i = 0; i < p->n_units; i++) {
                json_t *u = json_pack("{s:s}", "name", p->units[i].name);

                if (!u || json_array_append_new(units, u) < 0)
                        return -ENOMEM;
                if (p->units[i].enable && json_object_set_new(u, "enabled", json_true()) < 0)
                        return -ENOMEM;
                if (p->units[i].contents && json_object_set_new(u, "contents", json_string(p->units[i].contents)) < 0)
                        return -ENOMEM;
        }
        root = json_pack("{s:O,s:{s:[{s:s,s:b}]},s:{s:O,s:O},s:{s:O}}", "ignition", ignition, "passwd", "groups",
                         "name", BALLAST_GROUP, "system", 1, "storage", "directories", dirs, "files", files,
                         "systemd", "units", units);
        if (!root)
                return -ENOMEM;
        text = json_dumps(root, JSON_INDENT(2));
        if (!text)
                return -ENOMEM;
        /* a trailing newline, as a text file has */
        *ret = realloc(text, strlen(text) + 2);
        if (!*ret) {
                free(text);
                return -ENOMEM;
        }
        strcat(*ret, "\n");
        return 0;
}

/* ---- Butane YAML ---- */

static int render_butane(const Plan *p, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;
        int r = 0;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f, "# ballast, installed at first boot. Generated by ballast-ignition; turn it into an Ignition config with\n"
                   "#   butane --strict%s%s < THIS.bu > ballast.ign\n",
                arg_binaries_url ? "" : " --files-dir ", arg_binaries_url ? "" : arg_binaries);
        fprintf(f, "variant: %s\nversion: %s\n", arg_format == OUTPUT_BUTANE_FCOS ? "fcos" : "flatcar",
                arg_format == OUTPUT_BUTANE_FCOS ? "1.5.0" : "1.0.0");
        if (p->ca_pem) {
                fputs("ignition:\n  security:\n    tls:\n      certificate_authorities:\n", f);
                r = yaml_text(f, "- inline", p->ca_pem, p->ca_size, 8);
        }
        fprintf(f, "passwd:\n  groups:\n    - name: %s\n      system: true\n", BALLAST_GROUP);
        fputs("storage:\n  directories:\n", f);
        for (size_t i = 0; r >= 0 && p->directories[i]; i++) {
                r = yaml_string(f, "- path", p->directories[i], 4);
                fputs("      mode: 0755\n", f);
        }
        fputs("  files:\n", f);
        for (size_t i = 0; r >= 0 && i < p->n_entries; i++) {
                const Entry *e = &p->entries[i];

                r = yaml_string(f, "- path", e->path, 4);
                fprintf(f, "      mode: 0%o\n      overwrite: true\n      contents:\n", (unsigned) e->mode);
                if (r < 0)
                        break;
                if (e->url) {
                        r = yaml_string(f, "source", e->url, 8);
                        fputs("        verification:\n", f);
                        if (r >= 0)
                                r = yaml_string(f, "hash", e->hash, 10);
                } else if (e->local)
                        /* butane --files-dir embeds the file, compressed */
                        r = yaml_string(f, "local", e->local, 8);
                else
                        r = yaml_text(f, "inline", e->data, e->size, 8);
        }
        fputs("systemd:\n  units:\n", f);
        for (size_t i = 0; r >= 0 && i < p->n_units; i++) {
                r = yaml_string(f, "- name", p->units[i].name, 4);
                if (p->units[i].enable)
                        fputs("      enabled: true\n", f);
                if (r >= 0 && p->units[i].contents)
                        r = yaml_text(f, "contents", p->units[i].contents, strlen(p->units[i].contents), 6);
        }
        if (fclose(f) != 0 && r >= 0)
                r = -ENOMEM;
        if (r < 0)
                return r;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* ---- main ---- */

static void help(void) {
        printf("Usage: ballast-ignition [OPTIONS] --binaries DIR [--binaries-url URL] [-o FILE]\n\n"
               "Writes the Ignition config (spec 3.3.0 by default) that installs ballast on a Fedora CoreOS or\n"
               "Flatcar host at first boot: ballastd, ballastctl, ballast-run and ballast-pause in " BIN_DIR_FCOS "\n"
               "(--os fcos, or --butane fcos) or " BIN_DIR_FLATCAR " (otherwise), 0755, "
               CONFIG_PATH " (0644), a service spec per file of --services in the\n"
               "configuration's services directory (/etc/ballast/services.d), ballastd.service and\n"
               "ballastd.socket (enabled), ballast.slice, docker.service enabled, the \"" BALLAST_GROUP "\" group and,\n"
               "when ballast.json has an \"updates\" block, /etc/flatcar/update.conf and\n"
               UPDATES_ZINCATI_DROPIN " as ballastd writes them.\n"
               "Inputs are validated as ballastd validates them; on any error nothing is written.\n\n"
               "Options:\n"
               "  -c --config FILE       ballast.json (default: none written; ballastd uses its defaults)\n"
               "  -s --services DIR      service specs: DIR/NAME.json, each named NAME\n"
               "  -b --binaries DIR      where ballastd, ballastctl, ballast-run and ballast-pause are (make\n"
               "                         install-flavour: BUILD/dist-bin); by default they are inlined,\n"
               "                         gzip-compressed\n"
               "  -u --binaries-url URL  instead, Ignition downloads URL/ballastd, … (https only), verified\n"
               "                         with the SHA-512 of the files in --binaries\n"
               "     --ca-file PEM       a CA Ignition trusts for that download (ignition.security.tls)\n"
               "     --spec VERSION      Ignition spec: 3.3.0 (default; Fedora CoreOS and Flatcar) or 3.4.0\n"
               "     --os OS             update settings and the binaries' directory for: any (default:\n"
               "                         both files, each inert on the other OS; /opt/bin), flatcar\n"
               "                         (/opt/bin) or fcos (/usr/local/bin)\n"
               "     --butane VARIANT    write a Butane source instead: fcos (1.5.0) or flatcar (1.0.0)\n"
               "     --install sysext    install ballast as a system extension (default: files)\n"
               "     --sysext IMAGE      with it: the image (make sysext), written as " SYSEXT_IMAGE_PATH "\n"
               "     --sysext-url URL    Ignition downloads URL/IMAGE instead, and systemd-sysupdate the next ones\n"
               "  -o --output FILE       write there, atomically (default: standard output)\n"
               "  -h --help              this text\n"
               "     --version           the version\n");
}

/* The options against each other, once all are read: 1 when they make sense, else an error said. */
static int check_arguments(bool spec_given, bool install_sysext) {
        if (install_sysext != !!arg_sysext)
                return error_out(-EINVAL, install_sysext ? "--install sysext needs --sysext IMAGE (make sysext)"
                                                         : "--sysext IMAGE goes with --install sysext");
        if (arg_sysext_url && (strncmp(arg_sysext_url, "https://", 8) != 0 || strlen(arg_sysext_url) <= 8 ||
                               strpbrk(arg_sysext_url, " \t\n\"<>\\^`{|}?#")))
                return error_out(-EINVAL, "--sysext-url %s: not an https:// URL", arg_sysext_url);
        if (arg_sysext_url && !arg_sysext)
                return error_out(-EINVAL, "--sysext-url goes with --install sysext");
        if (arg_sysext && (arg_binaries || arg_binaries_url))
                return error_out(-EINVAL, "--install sysext takes the binaries from the image: no --binaries");
        if (!arg_binaries && !arg_sysext)
                return error_out(-EINVAL, "--binaries DIR is needed: where ballastd, ballastctl, ballast-run and ballast-pause are");
        if (spec_given && arg_format != OUTPUT_IGNITION)
                return error_out(-EINVAL, "--spec and --butane exclude each other (Butane's variant decides the spec)");
        if (arg_binaries_url) {
                if (strncmp(arg_binaries_url, "https://", 8) != 0 || strlen(arg_binaries_url) <= 8)
                        return error_out(-EINVAL, "--binaries-url %s: not an https:// URL", arg_binaries_url);
                for (const char *q = arg_binaries_url; *q; q++)
                        if ((unsigned char) *q <= ' ' || *q == 0x7f || strchr("\"<>\\^`{|}?#", *q))
                                return error_out(-EINVAL, "--binaries-url %s: '%c' has no place in the base URL",
                                                 arg_binaries_url, *q);
        } else if (arg_ca_file)
                return error_out(-EINVAL, "--ca-file is for the download of --binaries-url");
        return 1;
}

static int parse_argv(int argc, char *argv[]) {
        enum { ARG_CA = 0x100, ARG_SPEC, ARG_OS, ARG_BUTANE, ARG_VERSION, ARG_INSTALL, ARG_SYSEXT, ARG_SYSEXT_URL };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "services", required_argument, NULL, 's' },
                { "binaries", required_argument, NULL, 'b' },
                { "binaries-url", required_argument, NULL, 'u' },
                { "ca-file", required_argument, NULL, ARG_CA },
                { "spec", required_argument, NULL, ARG_SPEC },
                { "os", required_argument, NULL, ARG_OS },
                { "butane", required_argument, NULL, ARG_BUTANE },
                { "output", required_argument, NULL, 'o' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "install", required_argument, NULL, ARG_INSTALL },
                { "sysext", required_argument, NULL, ARG_SYSEXT },
                { "sysext-url", required_argument, NULL, ARG_SYSEXT_URL },
                {}
        };
        bool spec_given = false, install_sysext = false;
        int c;

        while ((c = getopt_long(argc, argv, "c:s:b:u:o:h", options, NULL)) >= 0)
                switch (c) {
                case 'c': arg_config = optarg; break;
                case 's': arg_services = optarg; break;
                case 'b': arg_binaries = optarg; break;
                case 'u': arg_binaries_url = optarg; break;
                case ARG_CA: arg_ca_file = optarg; break;
                case 'o': arg_output = optarg; break;
                case ARG_SPEC:
                        if (!streq(optarg, "3.3.0") && !streq(optarg, "3.4.0"))
                                return error_out(-EINVAL, "--spec %s: not a spec this generator writes (3.3.0 or 3.4.0)", optarg);
                        arg_spec = optarg;
                        spec_given = true;
                        break;
                case ARG_OS:
                        arg_os_given = true;
                        if (streq(optarg, "any"))
                                arg_os = TARGET_ANY;
                        else if (streq(optarg, "flatcar"))
                                arg_os = TARGET_FLATCAR;
                        else if (streq(optarg, "fcos"))
                                arg_os = TARGET_FCOS;
                        else
                                return error_out(-EINVAL, "--os %s: use any, flatcar or fcos", optarg);
                        break;
                case ARG_BUTANE:
                        if (streq(optarg, "fcos"))
                                arg_format = OUTPUT_BUTANE_FCOS;
                        else if (streq(optarg, "flatcar"))
                                arg_format = OUTPUT_BUTANE_FLATCAR;
                        else
                                return error_out(-EINVAL, "--butane %s: use fcos (variant fcos 1.5.0) or flatcar (variant flatcar 1.0.0)", optarg);
                        break;
                case ARG_INSTALL:
                        if (!streq(optarg, "files") && !streq(optarg, "sysext"))
                                return error_out(-EINVAL, "--install %s: use files (the default) or sysext", optarg);
                        install_sysext = streq(optarg, "sysext");
                        break;
                case ARG_SYSEXT: arg_sysext = optarg; break;
                case ARG_SYSEXT_URL: arg_sysext_url = optarg; break;
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        puts(PACKAGE_VERSION);
                        return 0;
                default:
                        fputs("Try 'ballast-ignition --help'.\n", stderr);
                        return -EINVAL;
                }
        if (optind < argc)
                return error_out(-EINVAL, "unexpected argument \"%s\" (try --help)", argv[optind]);
        return check_arguments(spec_given, install_sysext);
}

int main(int argc, char *argv[]) {
        _cleanup_(plan_done) Plan plan = {};
        _cleanup_free_ char *text = NULL;
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? (r == -EINVAL ? 2 : 1) : 0;
        r = make_plan(&plan);
        if (r == -ENOMEM)
                error_out(r, "out of memory");
        if (r < 0)
                return 1;
        r = arg_format == OUTPUT_IGNITION ? render_ignition(&plan, &text) : render_butane(&plan, &text);
        if (r < 0) {
                error_out(r, "cannot render the output: %s", strerror(-r));
                return 1;
        }
        if (!arg_output) {
                if (fputs(text, stdout) < 0 || fflush(stdout) != 0) {
                        error_out(-errno, "cannot write to standard output: %m");
                        return 1;
                }
                return 0;
        }
        r = write_file_output(arg_output, text, strlen(text), 0644);
        if (r < 0) {
                error_out(r, "%s: cannot write: %s", arg_output, strerror(-r));
                return 1;
        }
        return 0;
}
