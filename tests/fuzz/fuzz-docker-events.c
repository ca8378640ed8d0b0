/* SPDX-License-Identifier: MIT */
/* Docker's /events stream (src/docker/docker.c: docker_events_feed(), the stream's data callback): JSON lines that
 * arrive split at any point. The input is fed twice, once whole and once in chunks whose sizes follow from its
 * first byte, each into its own Docker object. Invariants: both give the same events in the same order (where
 * the chunks fall changes nothing); every event has an action; "die" events carry an exit code from the
 * attributes or -1. */

#include <string.h>

#include "docker/docker.h"
#include "fuzz.h"
#include "shared/log.h"

#define EVENTS_MAX 4096

typedef struct Seen {
        char text[EVENTS_MAX][160];
        size_t n;
} Seen;

static void on_event(Docker *d, const DockerEvent *ev, void *userdata) {
        Seen *s = userdata;

        FUZZ_CHECK(ev->action);
        if (s->n == EVENTS_MAX)
                return;
        /* the fields as the supervisor reads them, truncated alike in both runs */
        snprintf(s->text[s->n++], sizeof(s->text[0]), "%s|%s|%s|%d|%llu", ev->action, ev->id ?: "-",
                 ev->service ?: "-", ev->exit_code, (unsigned long long) ev->time_nsec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static Seen whole, pieces;
        static sd_event *event;
        _cleanup_(docker_freep) Docker *a = NULL, *b = NULL;
        unsigned seed;
        size_t off;
        int ra, rb = 0;

        log_set_max_level(LOG_CRIT);
        if (!event)
                FUZZ_CHECK(sd_event_new(&event) >= 0);
        if (size == 0)
                return 0;
        whole.n = pieces.n = 0;
        /* no HTTP client: nothing here starts a request */
        FUZZ_CHECK(docker_new(&a, event, NULL, "/nonexistent/docker.sock", on_event, NULL, &whole) >= 0);
        FUZZ_CHECK(docker_new(&b, event, NULL, "/nonexistent/docker.sock", on_event, NULL, &pieces) >= 0);

        seed = data[0];
        data++, size--;
        ra = docker_events_feed(a, (const char *) data, size);
        for (off = 0; off < size && rb == 0;) {
                size_t chunk = MIN((size_t) 1 + seed % 97, size - off);
                rb = docker_events_feed(b, (const char *) data + off, chunk);
                off += chunk;
                seed = (seed * 1103515245u + 12345u) >> 8;
        }
        FUZZ_CHECK(ra == rb);
        FUZZ_CHECK(whole.n == pieces.n);
        for (size_t i = 0; i < whole.n; i++)
                FUZZ_CHECK(streq(whole.text[i], pieces.text[i]));
        return 0;
}
