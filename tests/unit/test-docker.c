/* SPDX-License-Identifier: MIT */
/* src/docker/docker.c, the pure parts: API version negotiation from /version, the /events stream split into events
 * wherever its chunks fall, and the summary of a container inspect. The cases marked "fuzz" were found by the
 * harnesses in tests/fuzz/. */

#include <errno.h>
#include <string.h>

#include "docker/docker.h"
#include "shared/json-util.h"
#include "shared/log.h"
#include "tap.h"

static void test_negotiate(void) {
        static const struct {
                const char *max, *min, *want;
        } table[] = {
                { "1.41", "1.12", "1.41" },   /* Debian 12's docker.io 20.10 */
                { "1.47", "1.24", "1.47" },
                { "1.51", "1.24", DOCKER_API_MAX }, /* newer than us: ours */
                { "1.51", "1.48", NULL },     /* newer, and no longer accepts ours */
                { "1.23", "1.12", NULL },     /* older than we speak */
                { "1.24", NULL, "1.24" },
                { "1.41", "", "1.41" },
                { "", "1.12", NULL },
                { NULL, NULL, NULL },
                /* fuzz: compared as 1.41, then spoken as "1.41.24" in every URL */
                { "1.41.24", "1.12", NULL },
                { "1.41 ", NULL, NULL },
                { "1.41/../../x", NULL, NULL },
                { "1.", NULL, NULL },
                { ".41", NULL, NULL },
                { "1.99999999999", NULL, NULL },
                { "1.41", "garbage", "1.41" }, /* an unreadable minimum is no minimum */
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                is_str(docker_api_negotiate(table[i].max, table[i].min), table[i].want,
                       "ApiVersion %s, MinAPIVersion %s", strna(table[i].max), strna(table[i].min));
}

static void test_from_version(void) {
        static const struct {
                const char *body;
                int r;
                const char *want;
        } table[] = {
                { "{\"Version\":\"20.10.24+dfsg1\",\"ApiVersion\":\"1.41\",\"MinAPIVersion\":\"1.12\"}", 0, "1.41" },
                { "{\"ApiVersion\":\"1.41.24\"}", -EPROTONOSUPPORT, NULL }, /* fuzz */
                { "{\"ApiVersion\":1.41}", -EPROTONOSUPPORT, NULL },
                { "[\"1.41\"]", -EBADMSG, NULL },
                { "", -EBADMSG, NULL },
                { "{\"ApiVersion\":\"1.41\"", -EBADMSG, NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                char v[DOCKER_API_VERSION_MAX] = "unset";
                is_int(docker_api_from_version(table[i].body, strlen(table[i].body), v), table[i].r, "/version %s",
                       table[i].body);
                is_str(v, table[i].want ?: "unset", "  speaks %s", table[i].want ?: "nothing (left unset)");
        }
}

typedef struct Seen {
        char text[16][128];
        size_t n;
} Seen;

static void on_event(Docker *d, const DockerEvent *ev, void *userdata) {
        Seen *s = userdata;

        if (s->n < ELEMENTSOF(s->text))
                snprintf(s->text[s->n++], sizeof(s->text[0]), "%s|%s|%s|%d", ev->action, ev->id ?: "-",
                         ev->service ?: "-", ev->exit_code);
}

static void test_events(void) {
        static const char stream[] =
                "{\"status\":\"start\",\"id\":\"abc\",\"Type\":\"container\",\"Action\":\"start\",\"Actor\":{\"ID\":\"abc\","
                "\"Attributes\":{\"io.ballast.service\":\"web\"}},\"time\":1795621879,\"timeNano\":1795621879454818737}\n"
                "not json\n"
                "\n"
                "{\"Action\":\"die\",\"Actor\":{\"ID\":\"abc\",\"Attributes\":{\"exitCode\":\"137\",\"io.ballast.service\":\"web\"}}}\n"
                "{\"status\":\"oom\",\"id\":\"def\"}\n"
                "{\"Action\":\"die\",\"Actor\":{\"Attributes\":{\"exitCode\":\"99999999999\"}}}\n"
                "{\"Actor\":{\"ID\":\"no action\"}}\n"
                "{\"Action\":\"destroy\"}"; /* no newline yet: not an event */
        static const char *const want[] = { "start|abc|web|-1", "die|abc|web|137", "oom|def|-|-1", "die|-|-|-1" };
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;

        ok(sd_event_new(&event) >= 0, "an event loop");
        /* every way to cut the stream in two gives the same events */
        for (size_t cut = 0; cut <= strlen(stream); cut++) {
                _cleanup_(docker_freep) Docker *d = NULL;
                Seen seen = {};
                bool same;

                if (docker_new(&d, event, NULL, "/nonexistent", on_event, NULL, &seen) < 0 ||
                    docker_events_feed(d, stream, cut) < 0 || docker_events_feed(d, stream + cut, strlen(stream) - cut) < 0) {
                        ok(false, "feeding the stream cut at %zu", cut);
                        continue;
                }
                same = seen.n == ELEMENTSOF(want);
                for (size_t i = 0; same && i < seen.n; i++)
                        same = streq(seen.text[i], want[i]);
                if (!same || cut == 0 || cut == strlen(stream) || cut == 200)
                        ok(same, "the stream cut at byte %zu gives the 4 events with an action", cut);
                if (!same)
                        for (size_t i = 0; i < seen.n; i++)
                                diag("got %s", seen.text[i]);
        }
        {
                _cleanup_(docker_freep) Docker *d = NULL;
                char *big = malloc(70 * 1024);
                memset(big, 'x', 70 * 1024);
                ok(docker_new(&d, event, NULL, "/nonexistent", on_event, NULL, &(Seen) {}) >= 0 &&
                           docker_events_feed(d, big, 70 * 1024) == -EMSGSIZE,
                   "a line over 64 KiB is refused (the stream is then reconnected)");
                free(big);
        }
}

static void test_summary(void) {
        static const struct {
                const char *inspect, *want;
        } table[] = {
                { "{\"Id\":\"56e9\",\"State\":{\"Status\":\"exited\",\"Running\":false,\"OOMKilled\":false,\"Pid\":0,"
                  "\"ExitCode\":3,\"StartedAt\":\"2026-11-25T15:51:19Z\",\"FinishedAt\":\"2026-11-25T15:51:20Z\"},"
                  "\"Config\":{\"Image\":\"local/busybox:latest\"}}",
                  "{\"id\": \"56e9\", \"status\": \"exited\", \"started_at\": \"2026-11-25T15:51:19Z\", \"finished_at\": "
                  "\"2026-11-25T15:51:20Z\", \"exit_code\": 3, \"oom_killed\": false, \"pid\": 0, \"image\": "
                  "\"local/busybox:latest\"}" },
                { "{\"message\":\"No such container: nope\"}",
                  "{\"id\": null, \"status\": null, \"started_at\": null, \"finished_at\": null, \"exit_code\": null, "
                  "\"oom_killed\": null, \"pid\": null, \"image\": null}" },
                { "[1]",
                  "{\"id\": null, \"status\": null, \"started_at\": null, \"finished_at\": null, \"exit_code\": null, "
                  "\"oom_killed\": null, \"pid\": null, \"image\": null}" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_json_ json_t *v = json_loads(table[i].inspect, JSON_DECODE_ANY, NULL), *s = NULL;
                _cleanup_free_ char *text = NULL;

                s = docker_container_summary(v);
                text = s ? json_dumps(s, JSON_PRESERVE_ORDER) : NULL;
                is_str(text, table[i].want, "summary of %s", table[i].inspect);
        }
        {
                _cleanup_json_ json_t *s = docker_container_summary(NULL);
                ok(json_is_object(s) && json_object_size(s) == 8, "summary of no body: eight nulls");
        }
}

int main(void) {
        log_set_max_level(LOG_CRIT);
        test_negotiate();
        test_from_version();
        test_events();
        test_summary();
        return tap_done();
}
