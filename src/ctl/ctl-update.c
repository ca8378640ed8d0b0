/* SPDX-License-Identifier: MIT */
/* update: OS updates and the reboot flow (status, pin, unpin, pause, resume, window, window reset, approve,
 * unlock). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"
#include "shared/json-util.h"
#include "shared/macro.h"

static void print_deployment(const char *what, json_t *d) {
        if (json_is_object(d))
                printf("%s %s (stream %s, origin %s)", what, strna(json_string_value(json_object_get(d, "version"))),
                       strna(json_string_value(json_object_get(d, "stream"))),
                       strna(json_string_value(json_object_get(d, "origin"))));
}

/* What the gate reads from other daemons: the clock (timedated or the kernel), rpm-ostree's deployments. */
static void print_update_sources(json_t *s) {
        json_t *clock = json_object_get(s, "clock"), *ro = json_object_get(s, "rpm_ostree");

        if (json_is_object(clock))
                printf("Clock:        %s (%s)%s%s\n",
                       json_is_true(json_object_get(clock, "synchronized")) ? "synchronized" : "not known to be synchronized",
                       strna(json_string_value(json_object_get(clock, "source"))),
                       json_is_string(json_object_get(clock, "error")) ? "; " : "",
                       strempty(json_string_value(json_object_get(clock, "error"))));
        if (!json_is_object(ro))
                return;
        printf("rpm-ostree:   ");
        if (!json_is_true(json_object_get(ro, "known")))
                printf("unknown (%s)", strna(json_string_value(json_object_get(ro, "error"))));
        print_deployment("booted", json_object_get(ro, "booted"));
        if (json_is_true(json_object_get(ro, "known")))
                printf("; ");
        print_deployment("staged", json_object_get(ro, "staged"));
        if (json_is_true(json_object_get(ro, "known")) && !json_is_object(json_object_get(ro, "staged")))
                printf("nothing staged");
        printf("\n");
}

static void print_update_status(json_t *s) {
        json_t *os = json_object_get(s, "os"), *win = json_object_get(s, "window"), *ue = json_object_get(s, "update_engine"),
               *flow = json_object_get(s, "flow"), *lock = json_object_get(s, "lock"),
               *drain = json_object_get(s, "drain"), *zi = json_object_get(s, "zincati"), *w;
        char buf[64];
        size_t i;

#define STR(o, k) strna(json_string_value(json_object_get((o), (k))))
        printf("OS:           %s %s%s%s\n", STR(os, "kind"),
               json_is_string(json_object_get(os, "version")) ? STR(os, "version") : STR(os, "id"),
               json_is_string(json_object_get(os, "error")) ? "  error: " : "",
               json_is_string(json_object_get(os, "error")) ? STR(os, "error") : "");
        printf("Managed:      %s\n", json_is_true(json_object_get(s, "managed")) ? "yes" : "no (report only)");
        if (json_is_string(json_object_get(s, "file")))
                printf("File:         %s%s%s\n", STR(s, "file"), json_is_string(json_object_get(s, "file_error")) ? "  error: " : "",
                       json_is_string(json_object_get(s, "file_error")) ? STR(s, "file_error") : "");
        printf("Channel:      %s (%s)\n", STR(s, "channel"), STR(s, "channel_source"));
        printf("Max version:  %s\n", json_is_string(json_object_get(s, "max_version")) ? STR(s, "max_version") : "none");
        printf("Strategy:     %s\n", STR(s, "strategy"));
        printf("Windows:      ");
        if (json_array_size(json_object_get(s, "windows")) == 0)
                printf("none");
        json_array_foreach(json_object_get(s, "windows"), i, w) {
                json_t *d;
                size_t k;
                printf("%s", i ? "; " : "");
                json_array_foreach(json_object_get(w, "days"), k, d)
                        printf("%s%s", k ? "," : "", json_string_value(d));
                printf(" %s +%lldmin", STR(w, "start"), (long long) json_integer_value(json_object_get(w, "length_min")));
        }
        printf(" (%s)\n", STR(s, "time_zone"));
        printf("Window now:   %s", STR(win, "state"));
        if (json_is_integer(json_object_get(win, "end_usec")))
                printf(", closes %s", format_timestamp(buf, sizeof(buf), (uint64_t) json_integer_value(json_object_get(win, "end_usec"))));
        if (json_is_integer(json_object_get(win, "next_start_usec")))
                printf(", next opens %s", format_timestamp(buf, sizeof(buf), (uint64_t) json_integer_value(json_object_get(win, "next_start_usec"))));
        if (json_is_string(json_object_get(win, "error")))
                printf(" (%s)", STR(win, "error"));
        printf("\n");
        printf("Paused:       %s\n", json_is_true(json_object_get(s, "paused")) ? "yes" : "no");
        print_update_sources(s);
        if (json_is_object(ue))
                printf("update_engine: %s%s%s\n", json_is_true(json_object_get(ue, "known")) ? STR(ue, "operation") : "unknown",
                       json_is_string(json_object_get(ue, "error")) ? " — " : "",
                       json_is_string(json_object_get(ue, "error")) ? STR(ue, "error") : "");
        if (json_is_object(zi)) {
                printf("Zincati:      endpoint %s %s", STR(zi, "endpoint"),
                       json_is_true(json_object_get(zi, "serving")) ? "serving" : "not serving");
                if (json_is_string(json_object_get(zi, "error")))
                        printf(" (%s)", STR(zi, "error"));
                if (json_is_string(json_object_get(zi, "last_request")))
                        printf("; last request %s, answered %lld", STR(zi, "last_request"),
                               (long long) json_integer_value(json_object_get(zi, "last_answer")));
                printf("\n");
        }
        printf("Reboot:       %s%s%s\n", json_is_true(json_object_get(s, "reboot_needed")) ? "needed" : "not needed",
               json_is_string(json_object_get(s, "new_version")) ? ", into " : "",
               json_is_string(json_object_get(s, "new_version")) ? STR(s, "new_version") : "");
        printf("Flow:         %s\n", json_is_object(flow) ? STR(flow, "state") : "n/a");
        if (json_is_string(json_object_get(lock, "url"))) {
                printf("Lock:         %s at %s (group %s, id %s)", json_is_true(json_object_get(lock, "held")) ? "held" : "not held",
                       STR(lock, "url"), STR(lock, "group"), STR(lock, "id"));
                if (json_is_string(json_object_get(lock, "reason")))
                        printf("; last: %s: %s", STR(lock, "reason"), STR(lock, "message"));
                if (json_is_string(json_object_get(lock, "error")))
                        printf("; error: %s", STR(lock, "error"));
                printf("\n");
        }
        if (json_is_true(json_object_get(drain, "requested")) || json_is_string(json_object_get(drain, "error")))
                printf("Drain:        %s%s%s\n", json_is_true(json_object_get(drain, "drained")) ? "drained" : "draining",
                       json_is_string(json_object_get(drain, "error")) ? "; " : "",
                       json_is_string(json_object_get(drain, "error")) ? STR(drain, "error") : "");
        if (json_is_true(json_object_get(json_object_get(s, "inhibitor"), "held")))
                printf("Inhibitor:    holding a logind delay inhibitor (shutdown)\n");
        printf("Decision:     %s: %s (%s)\n", json_is_true(json_object_get(json_object_get(s, "decision"), "allow")) ? "reboot allowed" : "no reboot",
               STR(json_object_get(s, "decision"), "message"), STR(json_object_get(s, "decision"), "reason"));
        printf("Policy now:   %s: %s (%s)\n", json_is_true(json_object_get(json_object_get(s, "policy"), "allow")) ? "would allow" : "would not allow",
               STR(json_object_get(s, "policy"), "message"), STR(json_object_get(s, "policy"), "reason"));
#undef STR
}

int verb_update(int argc, char *argv[]) {
        _cleanup_json_ json_t *reply = NULL;
        const char *sub = argv[1], *method;
        json_t *params = NULL;
        int r;

        if (streq(sub, "status") && argc == 2)
                method = "io.ballast.Agent.GetUpdateStatus";
        else if (streq(sub, "pause") && argc == 2)
                method = "io.ballast.Agent.UpdatePause";
        else if (streq(sub, "resume") && argc == 2)
                method = "io.ballast.Agent.UpdateResume";
        else if (streq(sub, "unpin") && argc == 2)
                method = "io.ballast.Agent.UpdateUnpin";
        else if (streq(sub, "unlock") && argc == 2)
                method = "io.ballast.Agent.UpdateUnlock";
        else if (streq(sub, "window") && argc == 3 && streq(argv[2], "reset"))
                method = "io.ballast.Agent.UpdateResetWindows";
        else if (streq(sub, "pin") && argc == 3) {
                method = "io.ballast.Agent.UpdatePin";
                params = json_pack("{s:s}", "channel", argv[2]);
        } else if (streq(sub, "approve") && argc <= 3) {
                method = "io.ballast.Agent.UpdateApprove";
                params = argc == 3 ? json_pack("{s:s}", "version", argv[2]) : NULL;
        } else if (streq(sub, "window") && (argc == 5 || argc == 6)) {
                _cleanup_free_ char *days_text = strdup(argv[2]);
                json_t *days = json_array();
                char *end, *save = NULL;
                long len = strtol(argv[4], &end, 10);

                if (!days_text || !days)
                        return 1;
                for (char *d = strtok_r(days_text, ",", &save); d; d = strtok_r(NULL, ",", &save))
                        json_array_append_new(days, json_string(d));
                if (*end || end == argv[4] || len <= 0 || len > 10080) {
                        json_decref(days);
                        fprintf(stderr, "ballastctl update window: LENGTH_MIN wants minutes (1 to 10080), not \"%s\"\n", argv[4]);
                        return CTL_EXIT_USAGE;
                }
                method = "io.ballast.Agent.UpdateSetWindows";
                params = json_pack("{s:[{s:o,s:s,s:i}]}", "windows", "days", days, "start", argv[3], "length_min", (int) len);
                if (argc == 6)
                        json_object_set_new(params, "time_zone", json_string(argv[5]));
        } else {
                fprintf(stderr, "ballastctl update: expected status, pin CHANNEL, unpin, pause, resume, window DAYS START "
                                "LENGTH_MIN [TZ], window reset, approve [VERSION] or unlock; see ballastctl help update\n");
                return CTL_EXIT_USAGE;
        }
        r = call(method, params, &reply);
        if (r != 0)
                return r;
        if (arg_json)
                return print_json(reply);
        print_update_status(reply);
        return 0;
}
