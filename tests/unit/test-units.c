/* SPDX-License-Identifier: MIT */
/* src/supervisor/units.c: the unit text of a service (names, escapers, golden units, hostile strings); the
 * Docker create body: test-units-container.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/units.h"
#include "tap.h"
#include "units-fixture.h"

/* How the escaping was verified against the real systemd 252 (Debian 252.39), in the private systemd of
 * tests/lib/sandbox.sh: units made by unit_text_for_service() and by the escapers below, with every hostile
 * string of this file as arguments and as Environment= values, were loaded (`systemctl daemon-reload`;
 * no warnings in the journal, `systemctl show -p ExecStart -p Environment` as expected) and started with
 * `/bin/sh -c 'for a in "$@"; do printf "%s\0" "$a"; done; env -0'`: the argv and the environment the
 * process got were byte for byte the spec's. That run also found that systemd never expands '$' in the
 * executable and refuses quotes and backslashes there, hence unit_escape_exec_path().
 *
 * Here, unit_words() is a model of the part of systemd's parser that matters (quotes, C escapes, "%%",
 * "$$"), so that the tests need no systemd; the sandbox run is what makes the model trustworthy. */

/* ---- a model of systemd's reading of quoted words ---- */

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Splits the value of an ExecStart= or Environment= line into words. Every word must be double-quoted (that
 * is what we write); inside, C escapes are resolved, "%%" gives '%', and with dollar "$$" gives '$'. A lone '%'
 * or '$' (which systemd would expand), a raw control character or an unterminated quote makes the model
 * refuse the line: NULL. */
static char **unit_words(const char *line, bool dollar) {
        _cleanup_strv_free_ char **words = calloc(strlen(line) + 1, sizeof(char *));
        size_t n = 0;
        const char *p = line;

        if (!words)
                abort();
        for (;;) {
                _cleanup_free_ char *w = malloc(strlen(p) + 1);
                size_t k = 0;

                p += strspn(p, " ");
                if (!*p)
                        break;
                if (*p != '"')
                        return NULL;
                for (p++;; p++) {
                        if (!*p || (unsigned char) *p < 0x20)
                                return NULL;
                        if (*p == '"')
                                break;
                        if (*p == '\\') {
                                p++;
                                switch (*p) {
                                case '\\': w[k++] = '\\'; break;
                                case '"': w[k++] = '"'; break;
                                case 'n': w[k++] = '\n'; break;
                                case 't': w[k++] = '\t'; break;
                                case 'x': {
                                        int a = hexval(p[1]), b = a >= 0 ? hexval(p[2]) : -1;
                                        if (a < 0 || b < 0 || (a == 0 && b == 0))
                                                return NULL;
                                        w[k++] = (char) (a * 16 + b);
                                        p += 2;
                                        break;
                                }
                                default:
                                        return NULL;
                                }
                                continue;
                        }
                        if (*p == '%' || (dollar && *p == '$')) {
                                if (p[1] != *p)
                                        return NULL;
                                w[k++] = *p++;
                                continue;
                        }
                        w[k++] = *p;
                }
                p++;
                if (*p && *p != ' ')
                        return NULL;
                w[k] = 0;
                words[n++] = TAKE_PTR(w);
        }
        return TAKE_PTR(words);
}

/* ---- names ---- */

static void test_names(void) {
        static const struct {
                const char *unit;
                const char *service; /* NULL: not one of ours */
        } table[] = {
                { "ballast-web.service", "web" },
                { "ballast-a.service", "a" },
                { "ballast-web-2.service", "web-2" },
                { "ballast-.service", NULL },
                { "ballast-Web.service", NULL },
                { "ballast-web.socket", NULL },
                { "ballast-web.service.d", NULL },
                { "web.service", NULL },
                { "ballastd.service", NULL },
                { "ballast-../x.service", NULL },
                { "ballast-web", NULL },
                { "", NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_free_ char *s = service_name_from_unit(table[i].unit);
                is_str(s, table[i].service, "service_name_from_unit(\"%s\")", table[i].unit);
                if (table[i].service) {
                        _cleanup_free_ char *u = unit_name_for_service(table[i].service);
                        is_str(u, table[i].unit, "  and back");
                }
        }
        ok(!service_name_from_unit(NULL), "service_name_from_unit(NULL)");
        {
                _cleanup_free_ char *u = unit_name_for_service("../../etc/x");
                ok(!u && errno == EINVAL, "unit_name_for_service refuses an invalid name");
        }
        {
                _cleanup_free_ char *c = container_name_for_service("web"), *d = container_name_for_service("We b");
                is_str(c, "ballast-web", "container_name_for_service");
                ok(!d, "container_name_for_service refuses an invalid name");
        }
}

/* ---- escapers ---- */

static void test_escape_tables(void) {
        static const struct {
                const char *in;
                const char *word; /* unit_escape_exec_word() */
                const char *env;  /* unit_escape_environment("K", in) */
        } table[] = {
                { "plain", "\"plain\"", "\"K=plain\"" },
                { "", "\"\"", "\"K=\"" },
                { "a b", "\"a b\"", "\"K=a b\"" },
                { ";", "\";\"", "\"K=;\"" },
                { "\\;", "\"\\\\;\"", "\"K=\\\\;\"" },
                { "a;b", "\"a;b\"", "\"K=a;b\"" },
                { "$HOME", "\"$$HOME\"", "\"K=$HOME\"" },
                { "${HOME}", "\"$${HOME}\"", "\"K=${HOME}\"" },
                { "$$", "\"$$$$\"", "\"K=$$\"" },
                { "%n", "\"%%n\"", "\"K=%%n\"" },
                { "100%", "\"100%%\"", "\"K=100%%\"" },
                { "%%", "\"%%%%\"", "\"K=%%%%\"" },
                { "\"q\"", "\"\\\"q\\\"\"", "\"K=\\\"q\\\"\"" },
                { "'s'", "\"'s'\"", "\"K='s'\"" },
                { "back\\slash", "\"back\\\\slash\"", "\"K=back\\\\slash\"" },
                { "trailing\\", "\"trailing\\\\\"", "\"K=trailing\\\\\"" },
                { "new\nline", "\"new\\nline\"", "\"K=new\\nline\"" },
                { "tab\there", "\"tab\\there\"", "\"K=tab\\there\"" },
                { "\x01\x1b[31m\x7f", "\"\\x01\\x1b[31m\\x7f\"", "\"K=\\x01\\x1b[31m\\x7f\"" },
                { "\r", "\"\\x0d\"", "\"K=\\x0d\"" },
                { "[Service]\nExecStartPost=/bin/evil", "\"[Service]\\nExecStartPost=/bin/evil\"",
                  "\"K=[Service]\\nExecStartPost=/bin/evil\"" },
                { "../../etc/passwd", "\"../../etc/passwd\"", "\"K=../../etc/passwd\"" },
                { "\\x41\\n", "\"\\\\x41\\\\n\"", "\"K=\\\\x41\\\\n\"" },
                { "#comment", "\"#comment\"", "\"K=#comment\"" },
                { "-x", "\"-x\"", "\"K=-x\"" },
                { "\xc3\xbc\xe2\x98\x83", "\"\xc3\xbc\xe2\x98\x83\"", "\"K=\xc3\xbc\xe2\x98\x83\"" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_free_ char *w = unit_escape_exec_word(table[i].in),
                                    *e = unit_escape_environment("K", table[i].in);
                _cleanup_strv_free_ char **ww = NULL, **ew = NULL;
                _cleanup_free_ char *want_env = NULL;

                is_str(w, table[i].word, "exec word #%zu", i);
                is_str(e, table[i].env, "environment #%zu", i);
                /* and the model of systemd reads back exactly the input */
                ww = w ? unit_words(w, true) : NULL;
                ok(ww && strv_length(ww) == 1 && streq(ww[0], table[i].in), "  exec word #%zu reads back", i);
                ew = e ? unit_words(e, false) : NULL;
                if (asprintf(&want_env, "K=%s", table[i].in) < 0)
                        abort();
                ok(ew && strv_length(ew) == 1 && streq(ew[0], want_env), "  environment #%zu reads back", i);
        }
}

static void test_escape_exec_path(void) {
        static const struct {
                const char *in;
                const char *out; /* NULL: refused */
        } table[] = {
                { "/bin/sh", "\"/bin/sh\"" },
                { "/opt/my app/bin", "\"/opt/my app/bin\"" },
                { "/opt/100%/bin", "\"/opt/100%%/bin\"" },
                { "/opt/$x/bin", "\"/opt/$x/bin\"" }, /* never expanded in the executable */
                { "/opt/a;b", "\"/opt/a;b\"" },
                { "bin/sh", NULL },
                { "", NULL },
                { "/bin/s\"h", NULL },
                { "/bin/s'h", NULL },
                { "/bin/s\\h", NULL },
                { "/bin/s\nh", NULL },
                { "/bin/s\th", NULL },
                { "/bin/s\x7fh", NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_free_ char *p = NULL;

                errno = 0;
                p = unit_escape_exec_path(table[i].in);
                is_str(p, table[i].out, "unit_escape_exec_path #%zu", i);
                if (!table[i].out)
                        is_int(errno, EINVAL, "  EINVAL");
        }
}

static void test_escape_environment_keys(void) {
        static const char *const bad[] = { "", "1A", "A=B", "A B", "A\"", "A\nB", "A-B" };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *e = NULL;
                errno = 0;
                e = unit_escape_environment(bad[i], "v");
                ok(!e && errno == EINVAL, "unit_escape_environment refuses key #%zu", i);
        }
}

static void test_escape_value(void) {
        static const struct {
                const char *in;
                const char *out;
        } table[] = {
                { "web", "web" },
                { "100% sure", "100%% sure" },
                { "%n%%", "%%n%%%%" },
                { "a \"quoted\" $word", "a \"quoted\" $word" },
                { "", "" },
                { "a\nb", NULL },
                { "a\rb", NULL },
                { "a\tb", NULL },
                { "\x1b[31m", NULL },
                { "x\x7f", NULL },
                { "continued\\", NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_free_ char *v = NULL;
                errno = 0;
                v = unit_escape_value(table[i].in);
                is_str(v, table[i].out, "unit_escape_value #%zu", i);
                if (!table[i].out)
                        is_int(errno, EINVAL, "  EINVAL");
        }
}

/* systemd's reading of an EnvironmentFile= (src/basic/env-file.c), for the lines we write: KEY="value", where
 * a backslash before one of \" \\ ` $ gives that character, a backslash before anything else stays, and every
 * other byte (newlines included) is taken as it is. Returns "KEY=value" strings; NULL for what we never
 * write (an unquoted value, text after the closing quote). */
static char **env_file_read(const char *text) {
        _cleanup_strv_free_ char **out = calloc(strlen(text) + 1, sizeof(char *));
        size_t n = 0;

        if (!out)
                abort();
        for (const char *p = text; *p;) {
                _cleanup_free_ char *a = malloc(strlen(p) + 1);
                const char *eq = strchr(p, '=');
                size_t k;

                if (!a || !eq || eq[1] != '"')
                        return NULL;
                k = (size_t) (eq + 1 - p);
                memcpy(a, p, k);
                for (p = eq + 2; *p != '"'; p++) {
                        if (!*p)
                                return NULL;
                        if (*p == '\\' && p[1] && strchr("\"\\`$", p[1]))
                                p++;
                        a[k++] = *p;
                }
                a[k] = 0;
                if (*++p != '\n')
                        return NULL;
                p++;
                out[n++] = TAKE_PTR(a);
        }
        return TAKE_PTR(out);
}

/* ---- whole units ---- */

static void test_golden(const char *spec, const char *golden) {
        _cleanup_(service_spec_freep) ServiceSpec *s = load_data(spec);
        _cleanup_free_ char *want = read_data(golden), *got = NULL;

        if (!ok(s && want, "load %s and %s", spec, golden))
                return;
        is_int(unit_text_for_service(s, &test_ctx, &got), 0, "unit_text_for_service(%s)", spec);
        is_str(got, want, "  is %s", golden);
}

static const char *const unit_keys[] = {
        "Description=", "Requires=", "After=", "StartLimitIntervalSec=", "Slice=", "Type=", "NotifyAccess=",
        "ExecStartPre=", "ExecStart=", "Environment=", "EnvironmentFile=", "Restart=", "RestartSec=", "TimeoutStartSec=",
        "TimeoutStopSec=", "KillMode=", "SyslogIdentifier=", "CPUAccounting=", "MemoryAccounting=", "TasksAccounting=", "MemoryMax=", "CPUQuota=", "TasksMax=", "WantedBy=",
        /* identity, security, storage (units-security.c) */
        "User=", "Group=", "WorkingDirectory=", "NoNewPrivileges=", "ProtectSystem=", "ProtectHome=", "PrivateTmp=",
        "PrivateDevices=", "ProtectKernelTunables=", "ProtectKernelModules=", "ProtectControlGroups=",
        "RestrictSUIDSGID=", "BindPaths=", "BindReadOnlyPaths=", "TemporaryFileSystem=", "CapabilityBoundingSet=",
        "AmbientCapabilities=", "LimitNOFILE=", "LimitNPROC=", "KillSignal=",
};

static const char *line_key(const char *line) {
        for (size_t i = 0; i < ELEMENTSOF(unit_keys); i++)
                if (strneq(line, unit_keys[i], strlen(unit_keys[i])))
                        return unit_keys[i];
        return NULL;
}

static size_t count_prefix(char *const *lines, const char *prefix) {
        size_t n = 0;
        for (size_t i = 0; lines[i]; i++)
                if (strneq(lines[i], prefix, strlen(prefix)))
                        n++;
        return n;
}

static char **split_lines(const char *text) {
        _cleanup_strv_free_ char **l = calloc(strlen(text) + 2, sizeof(char *));
        size_t n = 0;

        for (const char *p = text; *p;) {
                size_t k = strcspn(p, "\n");
                l[n++] = strndup(p, k);
                p += k;
                if (*p == '\n')
                        p++;
        }
        return TAKE_PTR(l);
}

/* Every line of a generated unit is one we meant to write: a section header, a known key, the one comment, or
 * empty; no line continues onto the next; sections and ExecStart= appear once each. */
static void check_unit_shape(const char *text, size_t n_env_file, size_t n_pre, const char *what) {
        _cleanup_strv_free_ char **lines = split_lines(text);
        bool good = true;

        ok(text[strlen(text) - 1] == '\n', "%s: ends with a newline", what);
        for (size_t i = 0; lines[i]; i++) {
                const char *l = lines[i];
                bool known = (i == 0 && strneq(l, "# Generated by ballastd for service ", 36)) || streq(l, "") ||
                             streq(l, "[Unit]") || streq(l, "[Service]") || streq(l, "[Install]") || line_key(l);
                if (!known || (l[0] && l[strlen(l) - 1] == '\\') || (i > 0 && l[0] == '#')) {
                        diag("unexpected line %zu: %s", i, l);
                        good = false;
                }
        }
        ok(good, "%s: every line is a known section, key or the header comment", what);
        is_int(count_prefix(lines, "[Unit]") + count_prefix(lines, "[Service]") + count_prefix(lines, "[Install]"), 3,
               "%s: three sections", what);
        is_int(count_prefix(lines, "ExecStart="), 1, "%s: one ExecStart=", what);
        /* exec: the backoff helper; docker: none, `ballast-run docker` backs off itself */
        is_int(count_prefix(lines, "ExecStartPre="), n_pre, "%s: %zu ExecStartPre=", what, n_pre);
        is_int(count_prefix(lines, "Environment="), 0, "%s: no Environment= (values stay out of the unit)", what);
        is_int(count_prefix(lines, "EnvironmentFile="), n_env_file, "%s: %zu EnvironmentFile=", what, n_env_file);
        is_int(count_prefix(lines, "ExecStartPost"), 0, "%s: no line starts ExecStartPost=", what);
        is_int(count_prefix(lines, "WantedBy="), 1, "%s: one WantedBy=", what);
}

static const char *find_line(char *const *lines, const char *prefix) {
        for (size_t i = 0; lines[i]; i++)
                if (strneq(lines[i], prefix, strlen(prefix)))
                        return lines[i] + strlen(prefix);
        return NULL;
}

/* Hostile strings, each put into an exec service's command and env, and a docker service's command, env and
 * labels. Those the spec refuses say why; the others must come out of the unit unchanged (by the model) and
 * must not shape it. */
static void test_hostile(void) {
        _cleanup_(service_spec_freep) ServiceSpec *plain = NULL;
        _cleanup_free_ char *baseline = NULL;
        static const char plain_text[] = "{\"name\":\"hostile\",\"image\":\"x\"}";

        if (service_spec_parse(plain_text, sizeof(plain_text) - 1, NULL, &plain, NULL) < 0 ||
            unit_text_for_service(plain, &test_ctx, &baseline) < 0)
                abort();

        static const struct {
                const char *value;
                size_t repeat;      /* >0: the value is this many bytes of value[0] */
                const char *error;  /* the spec refuses the value in command[1] with this message */
        } table[] = {
                { "[Service]\nExecStartPost=/bin/evil" },
                { "\n[Install]\nWantedBy=evil.target\n" },
                { "x\"\nExecStartPost=/bin/evil\n\"" },
                { "\\\nExecStartPost=/bin/evil" },
                { "\\" },
                { "\\\\" },
                { "\"" },
                { ";" },
                { "; /bin/evil" },
                { "\\;" },
                { "$HOME" },
                { "${HOME}" },
                { "$" },
                { "%" },
                { "%n%i%%" },
                { "../../../etc/shadow" },
                { "" },
                { " " },
                { "\t" },
                { "#" },
                { "\xc3\xbc\xe2\x98\x83" },
                { "x", SERVICE_STRING_MAX },
                { "x", 64 * 1024, "command[1]: is longer than 16384 bytes" },
                { "\r", 0, "command[1]: contains a control character" },
                { "\x1b[2J", 0, "command[1]: contains a control character" },
                { "\x7f", 0, "command[1]: contains a control character" },
                { "\x01", 0, "command[1]: contains a control character" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_(service_spec_freep) ServiceSpec *exec = NULL, *docker = NULL;
                _cleanup_json_ json_t *je = NULL, *jd = NULL, *body = NULL;
                _cleanup_free_ char *value = NULL, *unit = NULL, *dunit = NULL, *text = NULL, *error = NULL,
                                    *want_env = NULL, *envtext = NULL;
                _cleanup_strv_free_ char **lines = NULL, **words = NULL, **env = NULL;
                JsonError e = {};
                const char *label;
                int r;

                if (table[i].repeat) {
                        value = malloc(table[i].repeat + 1);
                        memset(value, table[i].value[0], table[i].repeat);
                        value[table[i].repeat] = 0;
                } else
                        value = strdup(table[i].value);

                /* label values have their own, lower limit */
                label = strlen(value) <= 1024 ? value : "long";
                je = json_pack("{s:s, s:s, s:[s, s], s:{s:s}}", "name", "hostile", "runtime", "exec", "command",
                               "/bin/echo", value, "env", "V", value);
                jd = json_pack("{s:s, s:s, s:[s, s], s:{s:s}, s:{s:s}}", "name", "hostile", "image", "x", "command",
                               "sh", value, "env", "V", value, "labels", "v", label);
                if (!ok(je && jd, "hostile #%zu: JSON built", i))
                        continue;

                /* through the text parser too: what the CLI and files take */
                text = json_dumps(je, 0);
                r = service_spec_parse(text, strlen(text), NULL, &exec, &error);
                if (table[i].error) {
                        is_int(r, -EINVAL, "hostile #%zu: refused by the spec", i);
                        is_str(error, table[i].error, "  with a clear message");
                        ok(service_spec_from_json(jd, &docker, &e) == -EINVAL, "  (docker too)");
                        continue;
                }
                if (!is_int(r, 0, "hostile #%zu: accepted by the spec", i)) {
                        diag("%s", strna(error));
                        continue;
                }
                is_int(unit_text_for_service(exec, &test_ctx, &unit), 0, "  exec unit generated");
                if (!unit)
                        continue;
                check_unit_shape(unit, 1, 1, "  exec unit");
                lines = split_lines(unit);
                words = unit_words(strempty(find_line(lines, "ExecStart=")), true);
                ok(words && strv_length(words) == 2 && streq(words[0], "/bin/echo") && streq(words[1], value),
                   "  ExecStart= reads back as the spec's command");
                is_str(find_line(lines, "EnvironmentFile="), "/var/lib/ballast/env/hostile.env",
                       "  EnvironmentFile= names the root-only file");
                is_int(unit_env_file_text(exec, &envtext), 0, "  environment file generated");
                env = envtext ? env_file_read(envtext) : NULL;
                if (asprintf(&want_env, "V=%s", value) < 0)
                        abort();
                ok(env && strv_length(env) == 1 && streq(env[0], want_env), "  the file reads back as V=value");

                r = service_spec_from_json(jd, &docker, &e);
                if (!is_int(r, 0, "  docker spec accepted")) {
                        diag("%s: %s", e.path, e.message);
                        continue;
                }
                is_int(unit_text_for_service(docker, &test_ctx, &dunit), 0, "  docker unit generated");
                if (dunit) {
                        check_unit_shape(dunit, 0, 0, "  docker unit");
                        /* the container's command, env and labels go to Docker in the body, never to the unit */
                        is_str(dunit, baseline, "  docker unit is that of a spec without the value");
                }
                body = container_create_body(docker, NULL);
                ok(body && streq(json_string_value(json_array_get(json_object_get(body, "Cmd"), 1)), value) &&
                           streq(json_string_value(json_object_get(json_object_get(body, "Labels"), "v")), label),
                   "  container body carries the value unchanged");
        }
}

static void test_not_utf8(void) {
        static const char text[] = "{\"name\":\"x\",\"runtime\":\"exec\",\"command\":[\"/bin/echo\",\"\xff\"]}";
        _cleanup_(service_spec_freep) ServiceSpec *s = NULL;
        _cleanup_free_ char *error = NULL;

        is_int(service_spec_parse(text, sizeof(text) - 1, NULL, &s, &error), -EINVAL, "non-UTF-8 refused at parse");
        is_str(error, "not UTF-8 text at line 1, column 53: unable to decode byte 0xff near '\"'", "  clearly");
}

static void test_exec_unit_details(void) {
        _cleanup_(service_spec_freep) ServiceSpec *s = NULL;
        _cleanup_free_ char *unit = NULL, *error = NULL, *envtext = NULL;
        static const char text[] = "{\"name\":\"x\",\"runtime\":\"exec\",\"command\":[\"/opt/my app/100%/run\",\"$1\"],"
                                   "\"env\":{\"B\":\"2\",\"A\":\"1\",\"C\":\"%\"},"
                                   "\"resources\":{\"cpu\":1.001,\"memory\":\"1G\",\"pids\":1},"
                                   "\"restart\":{\"policy\":\"no\",\"delay_ms\":0,\"max_delay_ms\":1}}";

        if (!is_int(service_spec_parse(text, sizeof(text) - 1, NULL, &s, &error), 0, "exec spec parses")) {
                diag("%s", strna(error));
                return;
        }
        is_int(unit_text_for_service(s, &test_ctx, &unit), 0, "exec unit generated");
        ok(unit && strstr(unit, "\nExecStart=\"/opt/my app/100%%/run\" \"$$1\"\n"), "executable: %% doubled, $ not");
        ok(unit && strstr(unit, "\nEnvironmentFile=/var/lib/ballast/env/x.env\n") && !strstr(unit, "Environment="),
           "the environment comes from a file, no Environment=");
        is_int(unit_env_file_text(s, &envtext), 0, "environment file generated");
        is_str(envtext, "A=\"1\"\nB=\"2\"\nC=\"%\"\n", "  sorted by key, %% as it is");
        ok(unit && strstr(unit, "\nCPUQuota=100.1%\n"), "CPUQuota= keeps millicores");
        ok(unit && strstr(unit, "\nMemoryMax=1073741824\nCPUQuota=100.1%\nTasksMax=1\n"), "limits");
        ok(unit && strstr(unit, "\nRestart=no\nRestartSec=0\nTimeoutStartSec=121s\n"), "restart and timeouts");
        ok(unit && strstr(unit, "\n[Install]\nWantedBy=multi-user.target\n"), "exec units are wanted by multi-user");
        ok(unit && !strstr(unit, "docker"), "exec units do not mention docker");
}

static void test_bad_context(void) {
        _cleanup_(service_spec_freep) ServiceSpec *s = load_data("web.json");
        _cleanup_free_ char *unit = NULL;
        UnitContext c = test_ctx;

        if (!ok(s, "web.json loads"))
                return;
        c.run_helper = "ballast-run";
        is_int(unit_text_for_service(s, &c, &unit), -EINVAL, "relative helper refused");
        c.run_helper = "/usr/lib/ballast \"run\"";
        is_int(unit_text_for_service(s, &c, &unit), -EINVAL, "helper with quotes refused");
        c = test_ctx;
        c.state_dir = NULL;
        is_int(unit_text_for_service(s, &c, &unit), -EINVAL, "missing state dir refused");
        c = test_ctx;
        c.state_dir = "/var/lib/ball ast$x%n";
        is_int(unit_text_for_service(s, &c, &unit), 0, "odd state dir escaped");
        ok(unit && strstr(unit, " --body \"/var/lib/ball ast$$x%%n/containers/web.json\" "), "  as an argument");
}

int main(void) {
        test_names();
        test_escape_tables();
        test_escape_exec_path();
        test_escape_environment_keys();
        test_escape_value();
        test_golden("web.json", "web.service");
        test_golden("worker.json", "worker.service");
        test_golden("secure.json", "secure.service");
        test_golden("runner.json", "runner.service");
        test_hostile();
        test_not_utf8();
        test_exec_unit_details();
        test_bad_context();
        return tap_done();
}
