/* SPDX-License-Identifier: MIT */
/* src/supervisor/spec-security.c and spec-order.c: storage, identity, security, ports' host_ip and order in a
 * service spec (accepted, refused with their messages, written normalized), and the order's cycles. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "spec-fixture.h"
#include "supervisor/spec.h"
#include "tap.h"

/* ---- storage, identity, security, ports' host_ip, order (spec-security.c, spec-order.c) ---- */

static const char *const valid_security_specs[] = {
        "{'name':'a','image':'x','mounts':[{'type':'bind','source':'/srv/www','target':'/www','read_only':true},"
        "{'type':'volume','source':'data','target':'/data'},{'type':'tmpfs','target':'/run/x','size':'64M'},"
        "{'type':'tmpfs','target':'/cache'}]}",
        "{'name':'a','image':'x','user':'1000'}",
        "{'name':'a','image':'x','user':'1000:1000','working_dir':'/app','entrypoint':['/bin/sh','-c']}",
        "{'name':'a','image':'x','user':'www-data:www-data'}",
        "{'name':'a','image':'x','cap_add':['net_admin','CAP_SYS_TIME'],'cap_drop':['ALL']}",
        "{'name':'a','image':'x','read_only':true,'no_new_privileges':true}",
        "{'name':'a','image':'x','devices':['/dev/fuse','/dev/net/tun:/dev/tun:rw','/dev/kvm:rwm','/dev/sda:/dev/xvda']}",
        "{'name':'a','image':'x','ulimits':{'nofile':{'soft':1024,'hard':65536},'nproc':512}}",
        "{'name':'a','image':'x','stop_signal':'SIGQUIT','stop_timeout_s':30}",
        "{'name':'a','image':'x','stop_signal':'WINCH','stop_timeout_s':1}",
        "{'name':'a','image':'x','ports':[{'host':80,'container':80,'host_ip':'127.0.0.1'},"
        "{'host':80,'container':80,'host_ip':'192.0.2.1'},{'host':53,'container':53,'protocol':'udp','host_ip':'::1'}]}",
        "{'name':'a','image':'x','after':['db','cache'],'requires':['db']}",
        "{'name':'a','runtime':'exec','command':['/bin/true'],'user':'nobody','sandbox':false,"
        "'no_new_privileges':false}",
        "{'name':'a','runtime':'exec','command':['/bin/true'],'user':'65534:65534','working_dir':'/srv',"
        "'mounts':[{'type':'bind','source':'/var/lib/a','target':'/var/lib/a'},{'type':'tmpfs','target':'/x'}],"
        "'cap_add':['NET_BIND_SERVICE'],'cap_drop':['SYS_ADMIN'],'ulimits':{'nofile':4096},"
        "'stop_signal':'INT','stop_timeout_s':5}",
};

static const struct {
        const char *json;
        const char *error;
} invalid_security_specs[] = {
        /* mounts */
        { "{'name':'a','image':'x','mounts':{}}", "mounts: expected an array of mounts, got an object" },
        { "{'name':'a','image':'x','mounts':[{'target':'/x'}]}", "mounts[0].type: is required" },
        { "{'name':'a','image':'x','mounts':[{'type':'nfs','target':'/x'}]}",
          "mounts[0].type: \"nfs\" is not a mount type (expected \"bind\", \"volume\" or \"tmpfs\")" },
        { "{'name':'a','image':'x','mounts':[{'type':'bind','source':'srv','target':'/x'}]}",
          "mounts[0].source: \"srv\" is not an absolute path" },
        { "{'name':'a','image':'x','mounts':[{'type':'bind','source':'/srv/../etc','target':'/x'}]}",
          "mounts[0].source: \"/srv/../etc\" has a \".\" or \"..\" component" },
        { "{'name':'a','image':'x','mounts':[{'type':'bind','source':'/srv/..','target':'/x'}]}",
          "mounts[0].source: \"/srv/..\" has a \".\" or \"..\" component" },
        { "{'name':'a','image':'x','mounts':[{'type':'bind','source':'/srv/','target':'/x'}]}",
          "mounts[0].source: \"/srv/\" has an empty component or a trailing '/'" },
        { "{'name':'a','image':'x','mounts':[{'type':'bind','source':'/srv\\nBindPaths=/','target':'/x'}]}",
          "mounts[0].source: contains a control character" },
        { "{'name':'a','image':'x','mounts':[{'type':'bind','source':'/a b','target':'/x'}]}",
          "mounts[0].source: \"/a b\" contains a character other than A-Z, a-z, 0-9 and \"/._+@=,~-\"" },
        { "{'name':'a','image':'x','mounts':[{'type':'bind','source':'/a:/b','target':'/x'}]}",
          "mounts[0].source: \"/a:/b\" contains a character other than A-Z, a-z, 0-9 and \"/._+@=,~-\"" },
        { "{'name':'a','image':'x','mounts':[{'type':'bind','target':'/x'}]}",
          "mounts[0].source: is required for a bind mount" },
        { "{'name':'a','image':'x','mounts':[{'type':'bind','source':'/a','target':'x'}]}",
          "mounts[0].target: \"x\" is not an absolute path" },
        { "{'name':'a','image':'x','mounts':[{'type':'bind','source':'/a','target':'/'}]}",
          "mounts[0].target: \"/\" cannot be mounted over" },
        { "{'name':'a','image':'x','mounts':[{'type':'tmpfs','target':'/x'},{'type':'tmpfs','target':'/x'}]}",
          "mounts[1]: target \"/x\" is already mounted by mounts[0]" },
        { "{'name':'a','image':'x','mounts':[{'type':'volume','source':'../x','target':'/x'}]}",
          "mounts[0].source: \"../x\" is not a volume name (1 to 63 of a-z, 0-9, '_' and '-', starting with a letter "
          "or digit)" },
        { "{'name':'a','image':'x','mounts':[{'type':'volume','source':'Data','target':'/x'}]}",
          "mounts[0].source: \"Data\" is not a volume name (1 to 63 of a-z, 0-9, '_' and '-', starting with a letter "
          "or digit)" },
        { "{'name':'a','image':'x','mounts':[{'type':'volume','source':'d','target':'/x','size':'1M'}]}",
          "mounts[0].size: only for tmpfs mounts" },
        { "{'name':'a','image':'x','mounts':[{'type':'tmpfs','source':'/a','target':'/x'}]}",
          "mounts[0].source: only for bind and volume mounts" },
        { "{'name':'a','image':'x','mounts':[{'type':'tmpfs','target':'/x','read_only':true}]}",
          "mounts[0].read_only: a read-only tmpfs would stay empty" },
        { "{'name':'a','image':'x','mounts':[{'type':'tmpfs','target':'/x','size':64}]}",
          "mounts[0].size: 64 has no unit (e.g. \"256M\")" },
        { "{'name':'a','runtime':'exec','command':['/bin/true'],'mounts':[{'type':'volume','source':'d','target':'/x'}]}",
          "mounts[0].type: volume mounts are only for runtime docker (use a bind mount)" },
        /* identity */
        { "{'name':'a','image':'x','user':''}",
          "user: \"\" is not a user (\"uid\", \"uid:gid\", \"name\" or \"name:group\"; a name is "
          "[A-Za-z_][A-Za-z0-9_.-]*, at most 31)" },
        { "{'name':'a','image':'x','user':'root\\nExecStartPre=/bin/evil'}",
          "user: \"root\\nExecStartPre=/bin/evil\" is not a user (\"uid\", \"uid:gid\", \"name\" or \"name:group\"; a "
          "name is [A-Za-z_][A-Za-z0-9_.-]*, at most 31)" },
        { "{'name':'a','image':'x','user':'1000:'}",
          "user: \"1000:\" is not a user (\"uid\", \"uid:gid\", \"name\" or \"name:group\"; a name is "
          "[A-Za-z_][A-Za-z0-9_.-]*, at most 31)" },
        { "{'name':'a','image':'x','user':'4294967295'}",
          "user: \"4294967295\" is not a user (\"uid\", \"uid:gid\", \"name\" or \"name:group\"; a name is "
          "[A-Za-z_][A-Za-z0-9_.-]*, at most 31)" },
        { "{'name':'a','image':'x','user':'a:b:c'}",
          "user: \"a:b:c\" is not a user (\"uid\", \"uid:gid\", \"name\" or \"name:group\"; a name is "
          "[A-Za-z_][A-Za-z0-9_.-]*, at most 31)" },
        { "{'name':'a','image':'x','working_dir':'app'}", "working_dir: \"app\" is not an absolute path" },
        { "{'name':'a','image':'x','working_dir':'/app/../..'}",
          "working_dir: \"/app/../..\" has a \".\" or \"..\" component" },
        { "{'name':'a','image':'x','entrypoint':[]}", "entrypoint: expected a non-empty array of strings" },
        { "{'name':'a','runtime':'exec','command':['/bin/true'],'entrypoint':['/bin/sh']}",
          "entrypoint: only for runtime docker" },
        /* security */
        { "{'name':'a','image':'x','cap_add':['CAP_BOGUS']}",
          "cap_add[0]: \"CAP_BOGUS\" is not a capability of the kernel (e.g. \"NET_ADMIN\", see capabilities(7)) nor "
          "\"ALL\"" },
        { "{'name':'a','image':'x','cap_drop':['NET_ADMIN\\n']}",
          "cap_drop[0]: \"NET_ADMIN\\n\" is not a capability of the kernel (e.g. \"NET_ADMIN\", see capabilities(7)) "
          "nor \"ALL\"" },
        { "{'name':'a','image':'x','cap_add':['chown','CAP_CHOWN']}", "cap_add[1]: CAP_CHOWN is already listed" },
        { "{'name':'a','image':'x','cap_add':['KILL'],'cap_drop':['kill']}", "cap_drop: CAP_KILL is in cap_add too" },
        { "{'name':'a','image':'x','cap_add':'NET_ADMIN'}",
          "cap_add: expected an array of capability names, got a string" },
        { "{'name':'a','runtime':'exec','command':['/bin/true'],'cap_add':['ALL']}",
          "cap_add[0]: \"ALL\" is only for runtime docker" },
        { "{'name':'a','image':'x','read_only':'yes'}", "read_only: expected a boolean, got a string" },
        { "{'name':'a','runtime':'exec','command':['/bin/true'],'read_only':true}",
          "read_only: only for runtime docker (an exec service's file system is read-only with its sandbox)" },
        { "{'name':'a','image':'x','sandbox':false}", "sandbox: only for runtime exec" },
        { "{'name':'a','image':'x','devices':['/etc/passwd']}", "devices[0]: \"/etc/passwd\" is not a path under /dev/" },
        { "{'name':'a','image':'x','devices':['/dev/']}", "devices[0]: \"/dev/\" is not a path under /dev/" },
        { "{'name':'a','image':'x','devices':['/dev/../etc/shadow']}",
          "devices[0]: \"/dev/../etc/shadow\" has a \".\" or \"..\" component" },
        { "{'name':'a','image':'x','devices':['/dev/fuse:/dev/fuse:rwx']}",
          "devices[0]: \"/dev/fuse:/dev/fuse:rwx\": permissions are a subset of \"rwm\"" },
        { "{'name':'a','image':'x','devices':['/dev/fuse:fuse']}", "devices[0]: \"fuse\" is not an absolute path" },
        { "{'name':'a','image':'x','devices':['/dev/a:/b:r:x']}",
          "devices[0]: \"/dev/a:/b:r:x\" has more than three ':'-separated fields" },
        { "{'name':'a','runtime':'exec','command':['/bin/true'],'devices':['/dev/fuse']}",
          "devices: only for runtime docker" },
        { "{'name':'a','image':'x','ulimits':{'nofile':0}}", "ulimits.nofile: 0 is out of range 1..1073741816" },
        { "{'name':'a','image':'x','ulimits':{'nofile':{'soft':10,'hard':5}}}",
          "ulimits.nofile.soft: 10 is more than hard (5)" },
        { "{'name':'a','image':'x','ulimits':{'nofile':{'soft':10}}}", "ulimits.nofile: needs both soft and hard" },
        { "{'name':'a','image':'x','ulimits':{'nofile':{'soft':1,'hard':1,'max':2}}}",
          "ulimits.nofile: \"max\": unknown key (expected soft and hard)" },
        { "{'name':'a','image':'x','ulimits':{'core':0}}", "ulimits.core: unknown key" },
        { "{'name':'a','image':'x','stop_signal':'SIGSEGV'}",
          "stop_signal: \"SIGSEGV\" is not a stop signal (one of TERM, INT, QUIT, HUP, KILL, USR1, USR2, WINCH, PWR, "
          "with or without \"SIG\")" },
        { "{'name':'a','image':'x','stop_signal':'TERM\\nKillMode=none'}",
          "stop_signal: \"TERM\\nKillMode=none\" is not a stop signal (one of TERM, INT, QUIT, HUP, KILL, USR1, USR2, "
          "WINCH, PWR, with or without \"SIG\")" },
        { "{'name':'a','image':'x','stop_timeout_s':0}", "stop_timeout_s: 0 is out of range 1..3600" },
        { "{'name':'a','image':'x','stop_timeout_s':3601}", "stop_timeout_s: 3601 is out of range 1..3600" },
        /* ports */
        { "{'name':'a','image':'x','ports':[{'host':80,'container':80,'host_ip':'localhost'}]}",
          "ports[0].host_ip: \"localhost\" is not an IPv4 or IPv6 address (e.g. \"127.0.0.1\")" },
        { "{'name':'a','image':'x','ports':[{'host':80,'container':80,'host_ip':'127.0.0.1\\n'}]}",
          "ports[0].host_ip: \"127.0.0.1\\n\" is not an IPv4 or IPv6 address (e.g. \"127.0.0.1\")" },
        { "{'name':'a','image':'x','ports':[{'host':80,'container':80,'host_ip':'127.0.0.1'},{'host':80,'container':81}]}",
          "ports[1]: host port 80/tcp is already listed in ports[0]" },
        { "{'name':'a','image':'x','ports':[{'host':80,'container':80,'host_ip':'::1'},"
          "{'host':80,'container':81,'host_ip':'0:0::1'}]}",
          "ports[1]: host port 80/tcp is already listed in ports[0]" },
        /* order */
        { "{'name':'a','image':'x','after':'b'}", "after: expected an array of service names, got a string" },
        { "{'name':'a','image':'x','after':['B']}", "after[0]: \"B\" is not a valid service name" },
        { "{'name':'a','image':'x','requires':['b\\nRequires=evil']}",
          "requires[0]: \"b\\nRequires=evil\" is not a valid service name" },
        { "{'name':'a','image':'x','after':['b','b']}", "after[1]: b is already listed" },
        { "{'name':'a','image':'x','requires':['a']}", "requires[0]: a service cannot be ordered after itself" },
};

static void test_security_specs(void) {
        for (size_t i = 0; i < ELEMENTSOF(valid_security_specs); i++) {
                _cleanup_(service_spec_freep) ServiceSpec *s = NULL, *t = NULL;
                _cleanup_free_ char *text = json_text(valid_security_specs[i]), *error = NULL;
                _cleanup_json_ json_t *j = NULL, *j2 = NULL;
                JsonError e = {};

                if (!is_int(parse(text, &s, &error), 0, "valid: %s", text)) {
                        diag("%s", strna(error));
                        continue;
                }
                j = service_spec_to_json(s);
                if (!is_int(j ? service_spec_from_json(j, &t, &e) : -ENOMEM, 0, "  round trip parses")) {
                        diag("%s: %s", e.path, e.message);
                        continue;
                }
                ok(service_spec_equal(s, t), "  from_json(to_json(s)) equals s");
                j2 = service_spec_to_json(t);
                ok(json_equal(j, j2), "  to_json is a fixed point");
        }
        for (size_t i = 0; i < ELEMENTSOF(invalid_security_specs); i++)
                check_refused(invalid_security_specs[i].json, invalid_security_specs[i].error);
}

static void test_security_normalized(void) {
        _cleanup_(service_spec_freep) ServiceSpec *d = NULL, *x = NULL, *t = NULL;
        _cleanup_free_ char *td = json_text("{'name':'a','image':'x','cap_add':['net_admin'],'stop_signal':'TERM',"
                                            "'devices':['/dev/fuse'],'ports':[{'host':1,'container':1,"
                                            "'host_ip':'0:0::1'}],'mounts':[{'type':'tmpfs','target':'/t',"
                                            "'size':'65536K'}]}"),
                            *tx = json_text("{'name':'a','runtime':'exec','command':['/bin/true']}"),
                            *tt = json_text("{'name':'a','image':'x','stop_signal':'SIGTERM'}"), *dd = NULL,
                            *dx = NULL;
        _cleanup_json_ json_t *jd = NULL, *jx = NULL;
        _cleanup_(service_spec_freep) ServiceSpec *plain = NULL;
        _cleanup_free_ char *tp = json_text("{'name':'a','image':'x'}");

        if (!ok(parse(td, &d, NULL) == 0 && parse(tx, &x, NULL) == 0 && parse(tt, &t, NULL) == 0 &&
                        parse(tp, &plain, NULL) == 0,
                "specs parse"))
                return;
        jd = service_spec_to_json(d);
        dd = json_dumps(jd, JSON_SORT_KEYS | JSON_COMPACT);
        ok(dd && strstr(dd, "\"cap_add\":[\"CAP_NET_ADMIN\"]"), "capabilities are written CAP_NAME: %s", strna(dd));
        ok(dd && strstr(dd, "\"devices\":[\"/dev/fuse:/dev/fuse:rwm\"]"), "devices are written in full");
        ok(dd && strstr(dd, "\"host_ip\":\"::1\""), "addresses are written canonically");
        ok(dd && strstr(dd, "\"size\":\"64M\""), "sizes with the largest exact unit");
        ok(dd && strstr(dd, "\"stop_signal\":\"SIGTERM\""), "stop signals are written SIGNAME");
        ok(service_spec_equal(t, plain), "stop_signal SIGTERM is the default: no difference");
        ok(t->stop_signal == NULL, "  and is held as the default");
        jx = service_spec_to_json(x);
        dx = json_dumps(jx, JSON_SORT_KEYS | JSON_COMPACT);
        ok(dx && strstr(dx, "\"sandbox\":true") && strstr(dx, "\"no_new_privileges\":true") &&
                   !strstr(dx, "read_only"),
           "exec: sandboxed and no new privileges by default: %s", strna(dx));
}

static const ServiceSpec *order_table_lookup(const char *name, void *userdata) {
        ServiceSpec **table = userdata;

        for (size_t i = 0; table[i]; i++)
                if (streq(table[i]->name, name))
                        return table[i];
        return NULL;
}

static void test_order_cycles(void) {
        static const char *const texts[] = {
                "{'name':'a','image':'x','after':['b']}",
                "{'name':'b','image':'x','requires':['c']}",
                "{'name':'c','image':'x','after':['d','e']}",
                "{'name':'d','image':'x','after':['e']}",
                "{'name':'e','image':'x'}",
                "{'name':'f','image':'x','after':['g']}",
                "{'name':'g','image':'x','after':['f']}", /* a cycle that does not concern the others */
        };
        ServiceSpec *table[ELEMENTSOF(texts) + 1] = {};
        static const struct {
                const char *want;
                const char *cycle; /* NULL: none */
        } cases[] = {
                { "{'name':'e','image':'x'}", NULL },
                { "{'name':'e','image':'x','after':['x','y']}", NULL },
                { "{'name':'e','image':'x','after':['a']}", "e -> a -> b -> c -> d -> e" },
                { "{'name':'e','image':'x','requires':['d']}", "e -> d -> e" },
                { "{'name':'d','image':'x','after':['c']}", "d -> c -> d" },
                { "{'name':'a','image':'x','after':['b','c','d']}", NULL },
                { "{'name':'h','image':'x','after':['f','g']}", NULL },
                { "{'name':'f','image':'x','after':['a']}", NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(texts); i++) {
                _cleanup_free_ char *t = json_text(texts[i]);
                if (parse(t, &table[i], NULL) < 0)
                        abort();
        }
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(service_spec_freep) ServiceSpec *want = NULL;
                _cleanup_free_ char *t = json_text(cases[i].want), *cycle = NULL;
                int r;

                if (parse(t, &want, NULL) < 0)
                        abort();
                r = service_order_find_cycle(want, order_table_lookup, table, &cycle);
                is_int(r, cases[i].cycle ? 1 : 0, "cycle of %s", t);
                if (cases[i].cycle)
                        is_str(cycle, cases[i].cycle, "  named");
        }
        for (size_t i = 0; table[i]; i++)
                service_spec_free(table[i]);
}

int main(void) {
        test_security_specs();
        test_security_normalized();
        test_order_cycles();
        return tap_done();
}
