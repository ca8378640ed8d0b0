/* SPDX-License-Identifier: MIT */
/* What ballastctl makes of ballastd's errors: the exit code of each, and a sentence for a person (the Varlink
 * name stays in --json). Pure: tests/unit/test-ctl checks the table. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"
#include "shared/json-util.h"
#include "shared/macro.h"

typedef struct CtlError {
        const char *name;
        int exit_code;
} CtlError;

static const CtlError errors[] = {
        { "io.ballast.Agent.NoSuchService", CTL_EXIT_NOT_FOUND },
        { "io.ballast.Agent.NoPreviousSpec", CTL_EXIT_NOT_FOUND },
        { "io.ballast.Agent.InvalidSpec", CTL_EXIT_USAGE },
        { "io.ballast.Agent.InvalidUpdatePolicy", CTL_EXIT_USAGE },
        { "org.varlink.service.InvalidParameter", CTL_EXIT_USAGE },
        { "io.ballast.Agent.ServiceNotManaged", CTL_EXIT_REFUSED },
        { "io.ballast.Agent.Draining", CTL_EXIT_REFUSED },
        { "io.ballast.Agent.ServiceStopped", CTL_EXIT_REFUSED },
        { "io.ballast.Agent.UpdatesNotManaged", CTL_EXIT_REFUSED },
        { "io.ballast.Agent.UpdateLockInUse", CTL_EXIT_REFUSED },
        { "io.ballast.Agent.InsufficientCapacity", CTL_EXIT_REFUSED },
        { "io.ballast.Agent.ClusterNotConfigured", CTL_EXIT_REFUSED },
        { "io.ballast.Agent.NotReady", CTL_EXIT_REFUSED },
        { "org.varlink.service.PermissionDenied", CTL_EXIT_REFUSED },
        { "io.ballast.Agent.ClusterUnavailable", CTL_EXIT_UNREACHABLE },
        /* everything else (ServiceFailed, Unhealthy, StateWriteFailed, SystemdUnavailable, InternalError, an
         * unknown method of an older ballastd, ...): the operation failed */
};

int ctl_error_exit_code(const char *error) {
        if (!error)
                return CTL_EXIT_OK;
        for (size_t i = 0; i < ELEMENTSOF(errors); i++)
                if (streq(errors[i].name, error))
                        return errors[i].exit_code;
        return CTL_EXIT_FAILED;
}

int ctl_errno_exit_code(int error) {
        switch (abs(error)) {
        case 0:
                return CTL_EXIT_OK;
        case EACCES:
        case EPERM:
                return CTL_EXIT_REFUSED;
        case ENOENT:
        case ECONNREFUSED:
        case ECONNRESET:
        case EPIPE:
        case ETIMEDOUT:
        case ENOTCONN:
                return CTL_EXIT_UNREACHABLE;
        default:
                return CTL_EXIT_FAILED;
        }
}

#define P(k) strna(json_string_value(json_object_get(params, (k))))

/* "b does not fit on this node: not enough cpu (0.5 requested, 0.2 free)", "c does not fit on this node: port
 * 10090/tcp is held by a": what was asked and what is left, as the operator needs them to decide */
static int insufficient_capacity_sentence(json_t *params, char **ret) {
        const char *by = json_string_value(json_object_get(params, "held_by"));
        json_t *req = json_object_get(params, "requested"), *fr = json_object_get(params, "free");
        _cleanup_free_ char *rq = NULL, *fe = NULL;

        /* a port is a string ("10090/tcp"), cpu a number (0.5: six digits are plenty), memory and pids integers */
        if (json_is_string(req))
                rq = strdup(json_string_value(req));
        else if (req)
                rq = json_dumps(req, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(6));
        if (fr)
                fe = json_dumps(fr, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(6));

        if (by)
                return asprintf(ret, "%s does not fit on this node: %s %s is held by %s", P("name"), P("resource"),
                                rq ?: "?", by);
        return asprintf(ret, "%s does not fit on this node: not enough %s (%s requested, %s free)", P("name"),
                        P("resource"), rq ?: "?", fe ?: "?");
}

char *ctl_error_sentence(const char *error, json_t *params) {
        static const char prefix[] = "io.ballast.Agent.";
        const char *e = error && strneq(error, prefix, strlen(prefix)) ? error + strlen(prefix) : "";
        char *s = NULL;
        int r;

        if (streq(e, "NoSuchService"))
                r = asprintf(&s, "no service named %s", P("name"));
        else if (streq(e, "NoPreviousSpec"))
                r = asprintf(&s, "%s has no earlier spec kept to roll back to", P("name"));
        else if (streq(e, "InvalidSpec"))
                r = asprintf(&s, "invalid spec: %s: %s", P("field"), P("reason"));
        else if (streq(e, "InvalidUpdatePolicy"))
                r = asprintf(&s, "%s: %s", P("field"), P("reason"));
        else if (streq(e, "ServiceNotManaged"))
                r = asprintf(&s, "%s comes from the file %s: remove or change the file instead", P("name"), P("path"));
        else if (streq(e, "Draining"))
                r = asprintf(&s, "the node is drained, so %s stays stopped (ballastctl undrain starts services again)",
                             P("name"));
        else if (streq(e, "ServiceStopped"))
                r = asprintf(&s, "%s was stopped %s and stays stopped (ballastctl start %s starts it)", P("name"),
                             streq_ptr(json_string_value(json_object_get(params, "by")), "hand") ? "by hand" :
                                                                                                  "by ballastctl",
                             P("name"));
        else if (streq(e, "UpdatesNotManaged"))
                r = asprintf(&s, "OS updates are not managed on this node: %s", P("reason"));
        else if (streq(e, "UpdateLockInUse"))
                r = asprintf(&s, "the node is using its FleetLock slot (reboot flow: %s); releasing it now would let "
                                 "another node reboot while this one may still",
                             P("state"));
        else if (streq(e, "InsufficientCapacity"))
                r = insufficient_capacity_sentence(params, &s); else if (streq(e, "ClusterNotConfigured"))
                r = asprintf(&s, "no cluster is configured (cluster.etcd in the configuration)");
        else if (streq(e, "ClusterUnavailable"))
                r = asprintf(&s, "the cluster cannot be reached: %s", P("reason"));
        else if (streq(e, "ServiceFailed")) {
                const char *why = json_string_value(json_object_get(params, "reason"));
                r = asprintf(&s, "%s failed (%s)%s%s", P("name"), P("result"), why ? ": " : "", strempty(why));
        } else if (streq(e, "Unhealthy"))
                r = asprintf(&s, "%s is unhealthy: %s", P("name"), P("reason"));
        else if (streq(e, "StateWriteFailed"))
                r = asprintf(&s, "ballastd cannot write %s: %s", P("path"), P("reason"));
        else if (streq(e, "SystemdUnavailable"))
                r = asprintf(&s, "ballastd cannot reach systemd");
        else if (streq(e, "NotReady"))
                r = asprintf(&s, "ballastd is not ready: %s", P("reason"));
        else if (streq(e, "InternalError"))
                r = asprintf(&s, "ballastd failed: %s", P("reason"));
        else if (streq_ptr(error, "org.varlink.service.PermissionDenied"))
                r = asprintf(&s, "permission denied: changes need root or the group of the control socket");
        else if (streq_ptr(error, "org.varlink.service.InvalidParameter"))
                r = asprintf(&s, "invalid parameter %s", P("parameter"));
        else if (streq_ptr(error, "org.varlink.service.MethodNotFound"))
                r = asprintf(&s, "ballastd does not know %s (is it older than ballastctl?)", P("method"));
        else {
                _cleanup_free_ char *text = json_dump_compact(params);
                r = asprintf(&s, "%s %s", strna(error), strempty(text));
        }
        return r < 0 ? NULL : s;
}

#undef P

void ctl_print_error(const char *verb, const char *error, json_t *params) {
        _cleanup_free_ char *s = ctl_error_sentence(error, params);

        if (arg_json) {
                _cleanup_json_ json_t *j = json_pack("{s:s,s:O,s:s?}", "error", error,
                                                     "parameters", params ?: json_null(), "message", s);
                (void) print_json(j);
                return;
        }
        fprintf(stderr, "ballastctl %s: %s\n", verb, strna(s));
}
