/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"
#include "shared/json-util.h"
#include "shared/macro.h"
#include "tap.h"

/* ballastctl's pure parts: the exit code and the sentence of each error of ballastd, and the cluster's
 * fragmentation from the nodes' documents (what `ballastctl nodes` prints under the table). */

bool arg_json = false; /* ballastctl.c's option, which ctl_print_error reads */

static void test_exit_codes(void) {
        static const struct {
                const char *error;
                int code;
        } cases[] = {
                { NULL, CTL_EXIT_OK },
                { "io.ballast.Agent.NoSuchService", CTL_EXIT_NOT_FOUND },
                { "io.ballast.Agent.InvalidSpec", CTL_EXIT_USAGE },
                { "io.ballast.Agent.InvalidUpdatePolicy", CTL_EXIT_USAGE },
                { "org.varlink.service.InvalidParameter", CTL_EXIT_USAGE },
                { "io.ballast.Agent.ServiceNotManaged", CTL_EXIT_REFUSED },
                { "io.ballast.Agent.Draining", CTL_EXIT_REFUSED },
                { "io.ballast.Agent.UpdatesNotManaged", CTL_EXIT_REFUSED },
                { "io.ballast.Agent.UpdateLockInUse", CTL_EXIT_REFUSED },
                { "io.ballast.Agent.ClusterNotConfigured", CTL_EXIT_REFUSED },
                { "org.varlink.service.PermissionDenied", CTL_EXIT_REFUSED },
                { "io.ballast.Agent.ClusterUnavailable", CTL_EXIT_UNREACHABLE },
                { "io.ballast.Agent.ServiceFailed", CTL_EXIT_FAILED },
                { "io.ballast.Agent.StateWriteFailed", CTL_EXIT_FAILED },
                { "org.varlink.service.MethodNotFound", CTL_EXIT_FAILED },
                { "com.example.Unknown", CTL_EXIT_FAILED },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                is_int(ctl_error_exit_code(cases[i].error), cases[i].code, "%s exits %d", strna(cases[i].error),
                       cases[i].code);

        is_int(ctl_errno_exit_code(-ENOENT), CTL_EXIT_UNREACHABLE, "no socket: unreachable");
        is_int(ctl_errno_exit_code(-ECONNREFUSED), CTL_EXIT_UNREACHABLE, "nobody listening: unreachable");
        is_int(ctl_errno_exit_code(-ETIMEDOUT), CTL_EXIT_UNREACHABLE, "no answer in time: unreachable");
        is_int(ctl_errno_exit_code(-EACCES), CTL_EXIT_REFUSED, "the socket's mode: refused");
        is_int(ctl_errno_exit_code(-ENOMEM), CTL_EXIT_FAILED, "anything else: failed");

        /* the codes are distinct: a script can tell them apart */
        int codes[] = { CTL_EXIT_OK, CTL_EXIT_FAILED, CTL_EXIT_USAGE, CTL_EXIT_REFUSED, CTL_EXIT_NOT_FOUND,
                        CTL_EXIT_UNREACHABLE, CTL_EXIT_CONFIG_INVALID };
        bool distinct = true;
        for (size_t i = 0; i < ELEMENTSOF(codes); i++)
                for (size_t j = i + 1; j < ELEMENTSOF(codes); j++)
                        distinct = distinct && codes[i] != codes[j];
        ok(distinct, "the exit codes are distinct");
}

static void sentence_is(const char *error, const char *params, const char *want) {
        _cleanup_json_ json_t *p = params ? json_loads(params, 0, NULL) : NULL;
        _cleanup_free_ char *s = ctl_error_sentence(error, p);
        is_str(s, want, "%s reads as a sentence", error);
}

static void test_sentences(void) {
        sentence_is("io.ballast.Agent.NoSuchService", "{\"name\":\"web\"}", "no service named web");
        sentence_is("io.ballast.Agent.ServiceNotManaged", "{\"name\":\"web\",\"path\":\"/etc/ballast/services/web.json\"}",
                    "web comes from the file /etc/ballast/services/web.json: remove or change the file instead");
        sentence_is("io.ballast.Agent.InvalidUpdatePolicy", "{\"field\":\"channel\",\"reason\":\"too long\"}",
                    "channel: too long");
        sentence_is("io.ballast.Agent.UpdateLockInUse", "{\"state\":\"draining\"}",
                    "the node is using its FleetLock slot (reboot flow: draining); releasing it now would let "
                    "another node reboot while this one may still");
        sentence_is("io.ballast.Agent.InsufficientCapacity",
                    "{\"name\":\"db\",\"resource\":\"port\",\"requested\":\"80/tcp\",\"held_by\":\"web\"}",
                    "db does not fit on this node: port 80/tcp is held by web");
        sentence_is("io.ballast.Agent.InsufficientCapacity",
                    "{\"name\":\"b\",\"resource\":\"cpu\",\"requested\":0.5,\"free\":0.2}",
                    "b does not fit on this node: not enough cpu (0.5 requested, 0.2 free)");
        sentence_is("io.ballast.Agent.InsufficientCapacity",
                    "{\"name\":\"m\",\"resource\":\"memory\",\"requested\":268435456,\"free\":1024}",
                    "m does not fit on this node: not enough memory (268435456 requested, 1024 free)");
        sentence_is("io.ballast.Agent.ServiceFailed", "{\"name\":\"web\",\"result\":\"exit-code\"}", "web failed (exit-code)");
        /* an error this ballastctl does not know keeps its name and parameters */
        sentence_is("com.example.Odd", "{\"a\":1}", "com.example.Odd {\"a\":1}");
        /* a sentence never carries a Varlink name where one is known */
        _cleanup_json_ json_t *p = json_pack("{s:s}", "name", "web");
        _cleanup_free_ char *s = ctl_error_sentence("io.ballast.Agent.NoSuchService", p);
        ok(s && !strstr(s, "io.ballast"), "no Varlink name in the sentence");
}

#define NODE(name, doc) "{\"node\":\"" name "\",\"document\":" doc "}"
#define DOC(cpu, mem, pids, draining)                                                                           \
        "{\"free\":{\"cpu\":" #cpu ",\"memory\":" #mem ",\"pids\":" #pids "},\"largest_fit\":{\"cpu\":" #cpu    \
        ",\"memory\":" #mem ",\"pids\":" #pids "},\"drain\":{\"draining\":" #draining "}}"

static void test_fragmentation(void) {
        FleetFragmentation f;
        _cleanup_json_ json_t *nodes = NULL, *j = NULL, *empty = json_array();

        /* three nodes with 1 GiB free each: 3 GiB in total, yet a service of 2 GiB fits nowhere; a draining
         * node's room counts for nothing; a node without a document is listed but does not report */
        nodes = json_loads("[" NODE("a", DOC(0.5, 1073741824, 100, false)) "," NODE("b", DOC(1.5, 1073741824, 50, false))
                           "," NODE("c", DOC(0.25, 1073741824, 400, false)) "," NODE("d", DOC(8, 17179869184, 9000, true))
                           "," NODE("e", "null") "]", 0, NULL);
        ok(nodes, "the nodes parse");
        is_int(fleet_fragmentation(nodes, &f), 0, "fragmentation computed");
        is_int((int) f.nodes, 5, "five nodes listed");
        is_int((int) f.reporting, 4, "four report a document");
        ok(f.free_total[0] == 2.25, "free cpu in total: 2.25 (the draining node's 8 not counted)");
        ok(f.free_total[1] == 3.0 * 1073741824, "free memory in total: 3 GiB");
        ok(f.largest_fit[1] == 1073741824.0, "yet the largest fit is 1 GiB");
        ok(f.largest_fit[1] < 2.0 * 1073741824 && f.free_total[1] >= 2.0 * 1073741824,
           "a 2 GiB service fits nowhere although 3 GiB are free");
        ok(f.largest_fit[0] == 1.5, "largest cpu fit 1.5");
        is_str(f.largest_node[0], "b", "on b");
        is_int((int) f.largest_fit[2], 400, "largest pids fit 400");
        is_str(f.largest_node[2], "c", "on c");

        j = fleet_fragmentation_json(&f);
        ok(j && json_integer_value(json_object_get(json_object_get(j, "free_total"), "memory")) == 3LL * 1073741824,
           "the JSON has free_total.memory");
        is_str(json_string_value(json_object_get(json_object_get(j, "largest_fit_node"), "cpu")), "b",
               "the JSON names the node of the largest fit");

        is_int(fleet_fragmentation(empty, &f), 0, "no nodes: fine");
        ok(f.nodes == 0 && !f.largest_node[0] && f.free_total[1] == 0, "no nodes: nothing free, no fit");
        is_int(fleet_fragmentation(NULL, &f), -EINVAL, "not a list: refused");
}

int main(void) {
        test_exit_codes();
        test_sentences();
        test_fragmentation();
        return tap_done();
}
