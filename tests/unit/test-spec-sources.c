/* SPDX-License-Identifier: MIT */
/* src/supervisor/spec-sources.c: images, environment files and secrets in a service spec (accepted, refused with
 * their messages, the fields they fill). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "spec-fixture.h"
#include "supervisor/spec.h"
#include "tap.h"

/* ---- images, environment files, secrets ---- */

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const char *const source_valid_specs[] = {
        "{'name':'a','image':'busybox@sha256:" HEX64 "'}",
        "{'name':'a','image':'localhost:5000/x/y:1.0@sha256:" HEX64 "','pull':'never'}",
        "{'name':'a','image':'x','pull':'always','registry_auth_file':'/etc/ballast/registry.json'}",
        "{'name':'a','image':'x','pull':'missing','env_files':['/etc/ballast/a.env','/etc/b+c@d.env']}",
        "{'name':'a','image':'x','env_files':[]}",
        "{'name':'a','image':'x','secrets':[{'source':'/etc/ballast/secrets/db-password','target':'db_password'},"
        "{'source':'/etc/ballast/secrets/db-password','target':'copy.of-it'}]}",
        "{'name':'a','image':'x','secrets':[]}",
        "{'name':'a','runtime':'exec','command':['/bin/true'],'env_files':['/etc/a.env'],"
        "'secrets':[{'source':'/etc/s','target':'s'}]}",
};

static const struct {
        const char *json;
        const char *error;
} source_invalid_specs[] = {
        /* pull */
        { "{'name':'web','image':'x','pull':'sometimes'}",
          "pull: \"sometimes\" is not a pull policy (expected \"missing\", \"always\" or \"never\")" },
        { "{'name':'web','image':'x','pull':true}", "pull: expected a string, got a boolean" },
        { "{'name':'web','runtime':'exec','command':['/bin/true'],'pull':'always'}", "pull: only for runtime docker" },
        /* digests */
        { "{'name':'web','image':'x@sha256:0123abcd'}",
          "image: \"x@sha256:0123abcd\": a digest pin is NAME@sha256: followed by 64 lowercase hex digits" },
        { "{'name':'web','image':'x@sha256:" HEX64 "0'}",
          "image: \"x@sha256:0123456789abcdef0123456789abcdef0123456\"...: a digest pin is NAME@sha256: "
          "followed by 64 lowercase hex digits" },
        { "{'name':'web','image':'x@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef'}",
          "image: \"x@sha256:0123456789ABCDEF0123456789abcdef0123456\"...: a digest pin is NAME@sha256: "
          "followed by 64 lowercase hex digits" },
        { "{'name':'web','image':'x@md5:0123'}",
          "image: \"x@md5:0123\": a digest pin is NAME@sha256: followed by 64 lowercase hex digits" },
        { "{'name':'web','image':'x:@sha256:" HEX64 "'}",
          "image: \"x:@sha256:0123456789abcdef0123456789abcdef012345\"...: a digest pin is NAME@sha256: "
          "followed by 64 lowercase hex digits" },
        { "{'name':'web','image':'x@sha256:" HEX64 "@sha256:" HEX64 "'}",
          "image: \"x@sha256:0123456789abcdef0123456789abcdef0123456\"...: a digest pin is NAME@sha256: "
          "followed by 64 lowercase hex digits" },
        /* registry_auth_file */
        { "{'name':'web','image':'x','registry_auth_file':'auth.json'}",
          "registry_auth_file: \"auth.json\" is not an absolute path" },
        { "{'name':'web','image':'x','registry_auth_file':'/etc/../root/.docker/config.json'}",
          "registry_auth_file: \"/etc/../root/.docker/config.json\" is not normalized (a \".\" or \"..\" "
          "component)" },
        { "{'name':'web','image':'x','registry_auth_file':'/etc/a\\nb'}",
          "registry_auth_file: \"/etc/a\\nb\" may only contain A-Z, a-z, 0-9 and \"._/-+@\"" },
        { "{'name':'web','runtime':'exec','command':['/bin/true'],'registry_auth_file':'/etc/a'}",
          "registry_auth_file: only for runtime docker" },
        /* env_files */
        { "{'name':'web','image':'x','env_files':'/etc/a.env'}", "env_files: expected an array of paths, got a string" },
        { "{'name':'web','image':'x','env_files':['/etc/a.env','a.env']}",
          "env_files[1]: \"a.env\" is not an absolute path" },
        { "{'name':'web','image':'x','env_files':['/etc/./a.env']}",
          "env_files[0]: \"/etc/./a.env\" is not normalized (a \".\" or \"..\" component)" },
        { "{'name':'web','image':'x','env_files':['/etc/..']}",
          "env_files[0]: \"/etc/..\" is not normalized (a \".\" or \"..\" component)" },
        { "{'name':'web','image':'x','env_files':['/etc/']}", "env_files[0]: \"/etc/\" names a directory" },
        { "{'name':'web','image':'x','env_files':['/etc/a b.env']}",
          "env_files[0]: \"/etc/a b.env\" may only contain A-Z, a-z, 0-9 and \"._/-+@\"" },
        { "{'name':'web','image':'x','env_files':['/etc/a:b']}",
          "env_files[0]: \"/etc/a:b\" may only contain A-Z, a-z, 0-9 and \"._/-+@\"" },
        { "{'name':'web','image':'x','env_files':['/etc/%n']}",
          "env_files[0]: \"/etc/%n\" may only contain A-Z, a-z, 0-9 and \"._/-+@\"" },
        { "{'name':'web','image':'x','env_files':['/etc/a\\u0001']}",
          "env_files[0]: \"/etc/a\\u0001\" may only contain A-Z, a-z, 0-9 and \"._/-+@\"" },
        { "{'name':'web','image':'x','env_files':[1]}", "env_files[0]: expected a string, got an integer" },
        /* secrets */
        { "{'name':'web','image':'x','secrets':{}}", "secrets: expected an array of objects, got an object" },
        { "{'name':'web','image':'x','secrets':[{'source':'/etc/s'}]}", "secrets[0].target: is required" },
        { "{'name':'web','image':'x','secrets':[{'target':'s'}]}", "secrets[0].source: is required" },
        { "{'name':'web','image':'x','secrets':[{'source':'/etc/s','target':'s','mode':384}]}",
          "secrets[0].mode: unknown key" },
        { "{'name':'web','image':'x','secrets':[{'source':'etc/s','target':'s'}]}",
          "secrets[0].source: \"etc/s\" is not an absolute path" },
        { "{'name':'web','image':'x','secrets':[{'source':'/etc/../s','target':'s'}]}",
          "secrets[0].source: \"/etc/../s\" is not normalized (a \".\" or \"..\" component)" },
        { "{'name':'web','image':'x','secrets':[{'source':'/etc/s','target':'../s'}]}",
          "secrets[0].target: \"../s\" is not a file name (1 to 255 of A-Z, a-z, 0-9, '.', '_', '-'; not \".\" or "
          "\"..\")" },
        { "{'name':'web','image':'x','secrets':[{'source':'/etc/s','target':'..'}]}",
          "secrets[0].target: \"..\" is not a file name (1 to 255 of A-Z, a-z, 0-9, '.', '_', '-'; not \".\" or "
          "\"..\")" },
        { "{'name':'web','image':'x','secrets':[{'source':'/etc/s','target':''}]}",
          "secrets[0].target: \"\" is not a file name (1 to 255 of A-Z, a-z, 0-9, '.', '_', '-'; not \".\" or "
          "\"..\")" },
        { "{'name':'web','image':'x','secrets':[{'source':'/etc/s','target':'a:b'}]}",
          "secrets[0].target: \"a:b\" is not a file name (1 to 255 of A-Z, a-z, 0-9, '.', '_', '-'; not \".\" or "
          "\"..\")" },
        { "{'name':'web','image':'x','secrets':[{'source':'/etc/s','target':'a\\tb'}]}",
          "secrets[0].target: \"a\\tb\" is not a file name (1 to 255 of A-Z, a-z, 0-9, '.', '_', '-'; not \".\" or "
          "\"..\")" },
        { "{'name':'web','image':'x','secrets':[{'source':'/etc/s','target':'s'},{'source':'/etc/t','target':'s'}]}",
          "secrets[1]: target \"s\" is given twice" },
        { "{'name':'web','image':'x','secrets':['/etc/s']}", "secrets[0]: expected an object, got a string" },
};

static void test_sources(void) {
        for (size_t i = 0; i < ELEMENTSOF(source_valid_specs); i++) {
                _cleanup_(service_spec_freep) ServiceSpec *s = NULL, *t = NULL;
                _cleanup_free_ char *text = json_text(source_valid_specs[i]), *dump = NULL;
                _cleanup_json_ json_t *j = NULL;

                if (!is_int(parse(text, &s, NULL), 0, "valid: %s", text))
                        continue;
                j = service_spec_to_json(s);
                dump = j ? json_dumps(j, JSON_COMPACT) : NULL;
                is_int(dump ? parse(dump, &t, NULL) : -ENOMEM, 0, "  its normalized JSON parses");
                ok(t && service_spec_equal(s, t), "  to an equal spec");
        }
        for (size_t i = 0; i < ELEMENTSOF(source_invalid_specs); i++)
                check_refused(source_invalid_specs[i].json, source_invalid_specs[i].error);
}

static void test_sources_fields(void) {
        _cleanup_(service_spec_freep) ServiceSpec *s = NULL;
        _cleanup_free_ char *text = json_text(
                "{'name':'a','image':'r.example:5000/x@sha256:" HEX64 "','pull':'always','env_files':['/e/1','/e/2'],"
                "'secrets':[{'source':'/s/db','target':'db'}]}");

        if (!is_int(parse(text, &s, NULL), 0, "parses"))
                return;
        is_int(s->pull, IMAGE_PULL_ALWAYS, "pull: always");
        is_str(image_digest(s->image), "@sha256:" HEX64, "the digest");
        ok(!image_digest("busybox:1.36"), "no digest in a tag");
        is_str(s->env_files[1], "/e/2", "env_files in order");
        ok(s->n_secrets == 1 && streq(s->secrets[0].source, "/s/db") && streq(s->secrets[0].target, "db"),
           "the secret");
        ok(!s->registry_auth_file, "no registry_auth_file: ballast.json's applies");
}

int main(void) {
        test_sources();
        test_sources_fields();
        return tap_done();
}
