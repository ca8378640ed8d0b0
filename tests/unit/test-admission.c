/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "shared/json-util.h"
#include "supervisor/admission.h"
#include "tap.h"

/* admission_check() with table literals: specs as the supervisor holds them once parsed (ServiceSpec), the node's
 * allocatable resources, and what the answer must be, error parameters included (they are what an Apply that does
 * not fit answers, io.ballast.Agent.InsufficientCapacity). */

#define M (1024ULL * 1024)
#define SPEC(n, cpu, mem, pid, ...)                                                                              \
        ((ServiceSpec) { .name = (char *) (n), .cpu_millis = (cpu), .memory = (mem), .pids = (pid),             \
                         .ports = (ServicePort[]) { __VA_ARGS__ {} },                                          \
                         .n_ports = sizeof((ServicePort[]) { __VA_ARGS__ {} }) / sizeof(ServicePort) - 1 })
#define TCP(p) { .host = (p), .container = (p) },
#define UDP(p) { .host = (p), .container = (p), .udp = true },

/* the node: 2 CPUs, 1 GiB, 1000 tasks */
static const Resources node = { .cpu_millis = 2000, .memory = 1024 * M, .pids = 1000 };

typedef struct Case {
        const char *title;
        ServiceSpec want;
        ServiceSpec admitted[3];
        size_t n_admitted;
        const Resources *allocatable; /* NULL: not known yet */
        int ret;
        const char *error; /* the error parameters, as JSON */
} Case;

static const Case cases[] = {
        { "fits on an empty node", SPEC("web", 500, 256 * M, 100), {}, 0, &node, 0, NULL },
        { "fits beside others", SPEC("web", 500, 256 * M, 100),
          { SPEC("db", 1000, 512 * M, 200, TCP(5432)), SPEC("cache", 250, 128 * M, 50, TCP(6379)) }, 2, &node, 0,
          NULL },
        { "commits nothing: fits anywhere", SPEC("web", 0, 0, 0), { SPEC("db", 2000, 1024 * M, 1000) }, 1, &node, 0,
          NULL },
        { "allocatable not known yet: only ports are checked", SPEC("web", 64000, 1024ULL * 1024 * M, 1000000),
          { SPEC("db", 2000, 1024 * M, 1000) }, 1, NULL, 0, NULL },

        /* resources */
        { "cpu short", SPEC("web", 500, 0, 0), { SPEC("db", 1800, 0, 0) }, 1, &node, -ENOSPC,
          "{\"name\": \"web\", \"resource\": \"cpu\", \"requested\": 0.5, \"free\": 0.2}" },
        { "memory short", SPEC("web", 0, 300 * M, 0), { SPEC("db", 0, 800 * M, 0) }, 1, &node, -ENOSPC,
          "{\"name\": \"web\", \"resource\": \"memory\", \"requested\": 314572800, \"free\": 234881024}" },
        { "pids short", SPEC("web", 0, 0, 101), { SPEC("db", 0, 0, 900) }, 1, &node, -ENOSPC,
          "{\"name\": \"web\", \"resource\": \"pids\", \"requested\": 101, \"free\": 100}" },
        { "short of several: cpu is reported first", SPEC("web", 2500, 2048 * M, 2000), {}, 0, &node, -ENOSPC,
          "{\"name\": \"web\", \"resource\": \"cpu\", \"requested\": 2.5, \"free\": 2.0}" },
        { "the sum of the others counts, not each alone", SPEC("web", 0, 0, 401),
          { SPEC("a", 0, 0, 300), SPEC("b", 0, 0, 300) }, 2, &node, -ENOSPC,
          "{\"name\": \"web\", \"resource\": \"pids\", \"requested\": 401, \"free\": 400}" },
        { "the others commit more than allocatable (it shrank): nothing is free", SPEC("web", 1, 0, 0),
          { SPEC("db", 3000, 0, 0) }, 1, &node, -ENOSPC,
          "{\"name\": \"web\", \"resource\": \"cpu\", \"requested\": 0.001, \"free\": 0.0}" },

        /* exactly at allocatable */
        { "exactly the free cpu fits", SPEC("web", 500, 0, 0), { SPEC("db", 1500, 0, 0) }, 1, &node, 0, NULL },
        { "exactly the free memory fits", SPEC("web", 0, 512 * M, 0), { SPEC("db", 0, 512 * M, 0) }, 1, &node, 0,
          NULL },
        { "exactly the free pids fit", SPEC("web", 0, 0, 400), { SPEC("db", 0, 0, 600) }, 1, &node, 0, NULL },
        { "the whole node, alone, fits", SPEC("web", 2000, 1024 * M, 1000), {}, 0, &node, 0, NULL },
        { "one millicpu more does not", SPEC("web", 501, 0, 0), { SPEC("db", 1500, 0, 0) }, 1, &node, -ENOSPC,
          "{\"name\": \"web\", \"resource\": \"cpu\", \"requested\": 0.501, \"free\": 0.5}" },
        { "one byte more does not", SPEC("web", 0, 512 * M + 1, 0), { SPEC("db", 0, 512 * M, 0) }, 1, &node, -ENOSPC,
          "{\"name\": \"web\", \"resource\": \"memory\", \"requested\": 536870913, \"free\": 536870912}" },

        /* ports */
        { "a port held by another service", SPEC("web", 0, 0, 0, TCP(8080) TCP(80)),
          { SPEC("db", 0, 0, 0, TCP(5432)), SPEC("proxy", 0, 0, 0, TCP(443) TCP(80)) }, 2, &node, -EADDRINUSE,
          "{\"name\": \"web\", \"resource\": \"port\", \"requested\": \"80/tcp\", \"held_by\": \"proxy\"}" },
        { "a port clash is found with allocatable unknown too", SPEC("web", 0, 0, 0, UDP(53)),
          { SPEC("dns", 0, 0, 0, UDP(53)) }, 1, NULL, -EADDRINUSE,
          "{\"name\": \"web\", \"resource\": \"port\", \"requested\": \"53/udp\", \"held_by\": \"dns\"}" },
        { "a port clash is reported before a shortfall", SPEC("web", 5000, 0, 0, TCP(80)),
          { SPEC("proxy", 0, 0, 0, TCP(80)) }, 1, &node, -EADDRINUSE,
          "{\"name\": \"web\", \"resource\": \"port\", \"requested\": \"80/tcp\", \"held_by\": \"proxy\"}" },
        { "the same number in the other protocol is no clash", SPEC("web", 0, 0, 0, TCP(53)),
          { SPEC("dns", 0, 0, 0, UDP(53)) }, 1, &node, 0, NULL },

        /* replacing a service's own commitment */
        { "a new version of a service does not count its old one", SPEC("web", 1800, 900 * M, 900, TCP(80)),
          { SPEC("web", 1500, 800 * M, 800, TCP(80)) }, 1, &node, 0, NULL },
        { "... but counts every other service", SPEC("web", 1800, 0, 0, TCP(80)),
          { SPEC("web", 1500, 0, 0, TCP(80)), SPEC("db", 300, 0, 0) }, 2, &node, -ENOSPC,
          "{\"name\": \"web\", \"resource\": \"cpu\", \"requested\": 1.8, \"free\": 1.7}" },
        { "... and the same spec under another name is refused", SPEC("web2", 1800, 900 * M, 900, TCP(80)),
          { SPEC("web", 1500, 800 * M, 800, TCP(80)) }, 1, &node, -EADDRINUSE,
          "{\"name\": \"web2\", \"resource\": \"port\", \"requested\": \"80/tcp\", \"held_by\": \"web\"}" },
};

static void test_case(const Case *c) {
        const ServiceSpec *admitted[ELEMENTSOF(c->admitted)];
        _cleanup_json_ json_t *error = NULL, *want = NULL;
        _cleanup_free_ char *got = NULL;
        int r;

        for (size_t i = 0; i < c->n_admitted; i++)
                admitted[i] = &c->admitted[i];
        r = admission_check(&c->want, admitted, c->n_admitted, c->allocatable, &error);
        is_int(r, c->ret, "%s: %s", c->title, r == 0 ? "admitted" : strerrorname_np(-r));
        if (!c->error) {
                ok(!error, "%s: no error parameters", c->title);
                return;
        }
        want = json_loads(c->error, 0, NULL);
        got = error ? json_dumps(error, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        if (!ok(want && error && json_equal(error, want), "%s: %s", c->title, c->error))
                diag("got %s", got ? got : "(null)");

        /* the same answer without the error parameters */
        is_int(admission_check(&c->want, admitted, c->n_admitted, c->allocatable, NULL), c->ret,
               "%s: the same without ret_error_params", c->title);
}

int main(void) {
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                test_case(&cases[i]);
        return tap_done();
}
