/* SPDX-License-Identifier: MIT */
/* src/etcd and src/reporter, the pure parts: base64, range ends, int64-as-string, the gateway's replies
 * (real ones, and garbage), node listings, the backoff with its jitter, keys, bearer tokens. Then a reporter on a
 * loop with nothing to reach: nothing configured, and an etcd endpoint where nobody listens. */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/etcd.h"
#include "cluster/reporter.h"
#include "shared/json-util.h"
#include "tap.h"

static json_t *J(const char *text) {
        json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
        if (!v) {
                printf("Bail out! bad JSON in the test itself: %s\n", text);
                exit(1);
        }
        return v;
}

static void test_base64(void) {
        static const struct { const char *plain, *encoded; } vectors[] = {
                /* RFC 4648 section 10 */
                { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
                { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
                { "/ballast/nodes/worker-7", "L2JhbGxhc3Qvbm9kZXMvd29ya2VyLTc=" },
        };
        static const struct { const char *text; const char *plain; size_t size; } decodes[] = {
                { "Zg", "f", 1 },                  /* unpadded */
                { "Zm8", "fo", 2 },
                { "//4=", "\xff\xfe", 2 },          /* standard alphabet */
                { "__4", "\xff\xfe", 2 },           /* URL-safe alphabet, unpadded */
                { "AA==", "\0", 1 },                /* a NUL byte is data */
        };
        static const char *const garbage[] = {
                "Z", "Zg=", "Zg===", "Zh==", "Zm9v!", "Zg==Zg==", "=", "Zm 9v", "Zm9v\t",
        };

        for (size_t i = 0; i < ELEMENTSOF(vectors); i++) {
                _cleanup_free_ char *e = etcd_base64_encode(vectors[i].plain, strlen(vectors[i].plain));
                _cleanup_free_ char *d = NULL;
                size_t n = 99;

                is_str(e, vectors[i].encoded, "base64 of \"%s\"", vectors[i].plain);
                ok(etcd_base64_decode(vectors[i].encoded, strlen(vectors[i].encoded), &d, &n) == 0 &&
                   n == strlen(vectors[i].plain) && memcmp(d, vectors[i].plain, n) == 0 && d[n] == 0,
                   "and back from \"%s\"", vectors[i].encoded);
        }
        {
                static const unsigned char all[] = { 0x00, 0x10, 0x83, 0x10, 0x51, 0x87, 0x20, 0x92, 0x8b,
                                                     0xff, 0xfe, 0xfd };
                _cleanup_free_ char *e = etcd_base64_encode(all, sizeof(all)), *d = NULL;
                size_t n;
                ok(e && etcd_base64_decode(e, strlen(e), &d, &n) == 0 && n == sizeof(all) &&
                   memcmp(d, all, n) == 0, "binary bytes go round (%s)", e);
        }
        for (size_t i = 0; i < ELEMENTSOF(decodes); i++) {
                _cleanup_free_ char *d = NULL;
                size_t n = 99;
                ok(etcd_base64_decode(decodes[i].text, strlen(decodes[i].text), &d, &n) == 0 &&
                   n == decodes[i].size && memcmp(d, decodes[i].plain, n) == 0, "decodes \"%s\"", decodes[i].text);
        }
        for (size_t i = 0; i < ELEMENTSOF(garbage); i++) {
                _cleanup_free_ char *d = NULL;
                is_int(etcd_base64_decode(garbage[i], strlen(garbage[i]), &d, NULL), -EINVAL,
                       "refuses \"%s\"", garbage[i]);
                ok(!d, "and returns nothing for it");
        }
}

static void test_range_end(void) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;
        size_t n = 0;

        a = etcd_prefix_range_end("/ballast/nodes/", 15, &n);
        ok(a && n == 15 && memcmp(a, "/ballast/nodes0", 15) == 0, "range end of /ballast/nodes/ is /ballast/nodes0");
        b = etcd_prefix_range_end("a\xff\xff", 3, &n);
        ok(b && n == 1 && b[0] == 'b', "trailing 0xff bytes are dropped, the byte before is incremented");
        c = etcd_prefix_range_end("\xff", 1, &n);
        ok(c && n == 1 && c[0] == 0, "an all-0xff prefix gives \\0: every key");
}

static void test_int64(void) {
        static const struct { const char *json; int ret; int64_t value; } cases[] = {
                { "\"7668682466853787655\"", 0, INT64_C(7668682466853787655) },
                { "\"30\"", 0, 30 },
                { "\"0\"", 0, 0 },
                { "\"-5\"", 0, -5 },
                { "42", 0, 42 },                                     /* leniently, a number */
                { "\"9223372036854775807\"", 0, INT64_MAX },
                { "\"9223372036854775808\"", -ERANGE, 0 },
                { "\"99999999999999999999\"", -EINVAL, 0 },
                { "\"\"", -EINVAL, 0 },
                { "\"-\"", -EINVAL, 0 },
                { "\"12a\"", -EINVAL, 0 },
                { "\" 12\"", -EINVAL, 0 },
                { "\"1e3\"", -EINVAL, 0 },
                { "1.5", -EINVAL, 0 },
                { "null", -EINVAL, 0 },
                { "[\"1\"]", -EINVAL, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_json_ json_t *v = J(cases[i].json);
                int64_t x = -1;
                int r = etcd_parse_int64(v, &x);
                ok(r == cases[i].ret && (r < 0 || x == cases[i].value), "int64 %s → %d", cases[i].json, cases[i].ret);
        }
        ok(etcd_parse_int64(NULL, &(int64_t) { 0 }) == -EINVAL, "int64 of a missing field is refused");
}

#define HEADER "\"header\":{\"cluster_id\":\"15875391935852295136\",\"member_id\":\"7383792418829112008\",\"revision\":\"1\",\"raft_term\":\"2\"}"

static void test_grant(void) {
        static const struct { const char *json; int ret; int64_t id, ttl; } cases[] = {
                { "{" HEADER ",\"ID\":\"1353509890515757830\",\"TTL\":\"5\"}", 0, INT64_C(1353509890515757830), 5 },
                { "{\"ID\":\"7\",\"TTL\":15}", 0, 7, 15 },
                { "{" HEADER ",\"ID\":\"7\"}", -EBADMSG, 0, 0 },               /* no TTL */
                { "{\"ID\":\"7\",\"TTL\":\"0\"}", -EBADMSG, 0, 0 },
                { "{\"ID\":\"0\",\"TTL\":\"5\"}", -EBADMSG, 0, 0 },
                { "{\"ID\":\"-3\",\"TTL\":\"5\"}", -EBADMSG, 0, 0 },
                { "{\"ID\":\"x\",\"TTL\":\"5\"}", -EBADMSG, 0, 0 },
                { "{\"ID\":true,\"TTL\":\"5\"}", -EBADMSG, 0, 0 },
                { "{\"ID\":\"7\",\"TTL\":\"5\",\"error\":\"etcdserver: too many requests\"}", -EBADMSG, 0, 0 },
                { "{\"error\":\"etcdserver: no leader\",\"code\":14,\"message\":\"etcdserver: no leader\"}", -EBADMSG, 0, 0 },
                { "[]", -EBADMSG, 0, 0 },
                { "\"ok\"", -EBADMSG, 0, 0 },
                { "null", -EBADMSG, 0, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_json_ json_t *v = J(cases[i].json);
                int64_t id = 0, ttl = 0;
                int r = etcd_parse_grant(v, &id, &ttl);
                ok(r == cases[i].ret && (r < 0 || (id == cases[i].id && ttl == cases[i].ttl)), "grant reply %zu: %d",
                   i, cases[i].ret);
        }
}

static void test_keepalive(void) {
        static const struct { const char *json; int ret; int64_t ttl; } cases[] = {
                { "{\"result\":{" HEADER ",\"ID\":\"12345\",\"TTL\":\"15\"}}", 0, 15 },
                { "{\"result\":{\"ID\":12345,\"TTL\":5}}", 0, 5 },
                /* what etcd 3.4 answers for a lease that expired: no TTL at all */
                { "{\"result\":{" HEADER ",\"ID\":\"12345\"}}", 0, 0 },
                { "{\"result\":{\"ID\":\"12345\",\"TTL\":\"0\"}}", 0, 0 },
                { "{\"result\":{\"ID\":\"12345\",\"TTL\":\"-1\"}}", 0, 0 },
                { "{\"error\":{\"grpc_code\":5,\"http_code\":404,\"message\":\"etcdserver: requested lease not found\"}}", 0, 0 },
                { "{\"error\":{\"grpc_code\":14,\"http_code\":503,\"message\":\"etcdserver: no leader\"}}", -EBADMSG, 0 },
                { "{\"result\":{\"ID\":\"54321\",\"TTL\":\"15\"}}", -EBADMSG, 0 },  /* another lease */
                { "{\"result\":{\"TTL\":\"15\"}}", -EBADMSG, 0 },
                { "{\"result\":{\"ID\":\"12345\",\"TTL\":\"soon\"}}", -EBADMSG, 0 },
                { "{\"result\":\"12345\"}", -EBADMSG, 0 },
                { "{\"ID\":\"12345\",\"TTL\":\"15\"}", -EBADMSG, 0 },              /* not wrapped */
                { "{}", -EBADMSG, 0 },
                { "[{\"result\":{}}]", -EBADMSG, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_json_ json_t *v = J(cases[i].json);
                int64_t ttl = -7;
                int r = etcd_parse_keepalive(v, 12345, &ttl);
                ok(r == cases[i].ret && (r < 0 || ttl == cases[i].ttl), "keepalive reply %zu: %d, TTL %lld", i,
                   cases[i].ret, (long long) cases[i].ttl);
        }
}

static void test_error(void) {
        _cleanup_json_ json_t *v = J("{\"error\":\"etcdserver: requested lease not found\",\"message\":\"etcdserver: "
                                     "requested lease not found\",\"code\":5}");
        _cleanup_json_ json_t *w = J("{\"error\":\"x\",\"code\":\"5\"}");
        const char *message = NULL;
        int code = 0;

        ok(etcd_parse_error(v, &code, &message) == 0 && code == 5, "a gateway error body gives its gRPC code");
        is_str(message, "etcdserver: requested lease not found", "and its message");
        ok(etcd_parse_error(w, &code, &message) == -EBADMSG, "a code that is not a number is not an error body");
}

static const char *dump(json_t *v) {
        static char buf[1024];
        _cleanup_free_ char *s = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        snprintf(buf, sizeof(buf), "%s", s ?: "(null)");
        return buf;
}

static void test_range(void) {
        _cleanup_json_ json_t *kvs = NULL, *empty = NULL;
        /* keys /ballast/nodes/b, /ballast/nodes/a, /ballast/nodes/a/deep, /ballast/nodesX */
        _cleanup_json_ json_t *reply = J(
                "{" HEADER ",\"kvs\":["
                "{\"key\":\"L2JhbGxhc3Qvbm9kZXMvYg==\",\"create_revision\":\"2\",\"mod_revision\":\"3\",\"version\":\"2\","
                " \"value\":\"eyJ4IjoxfQ==\",\"lease\":\"7668682466853787655\"},"
                "{\"key\":\"L2JhbGxhc3Qvbm9kZXMvYQ==\",\"value\":\"bm90IGpzb24=\"},"
                "{\"key\":\"L2JhbGxhc3Qvbm9kZXMvYS9kZWVw\",\"value\":\"e30=\"},"
                "{\"key\":\"L2JhbGxhc3Qvbm9kZXNY\",\"value\":\"e30=\"}"
                "],\"count\":\"4\"}");
        _cleanup_json_ json_t *none = J("{" HEADER "}");
        static const char *const garbage[] = {
                "{\"kvs\":{}}",
                "{\"kvs\":[{\"value\":\"e30=\"}]}",                       /* no key */
                "{\"kvs\":[{\"key\":\"!!!\",\"value\":\"e30=\"}]}",       /* key not base64 */
                "{\"kvs\":[{\"key\":\"YQ==\",\"value\":\"e30\"}]}",        /* value not padded right: fine, see below */
                "{\"kvs\":[{\"key\":\"YQ==\",\"value\":\"e3=\"}]}",        /* value not base64 */
                "{\"kvs\":[{\"key\":\"YQ==\",\"lease\":\"x\"}]}",
                "{\"kvs\":[7]}",
                "{\"error\":\"etcdserver: no leader\",\"code\":14}",
                "[]",
        };
        static const int garbage_ret[] = { -EBADMSG, -EBADMSG, -EBADMSG, 0, -EBADMSG, -EBADMSG, -EBADMSG, -EBADMSG,
                                           -EBADMSG };

        ok(etcd_parse_range(reply, &kvs) == 0 && json_array_size(kvs) == 4, "a range reply gives its 4 key-values");
        is_str(dump(json_array_get(kvs, 0)),
               "{\"key\":\"/ballast/nodes/b\",\"lease\":\"7668682466853787655\",\"value\":\"{\\\"x\\\":1}\"}",
               "decoded, with the lease as a string");
        is_str(dump(json_array_get(kvs, 1)), "{\"key\":\"/ballast/nodes/a\",\"value\":\"not json\"}",
               "a key without a lease has none");
        ok(etcd_parse_range(none, &empty) == 0 && json_is_array(empty) && json_array_size(empty) == 0,
           "no kvs (proto3 leaves an empty list out) is an empty list");
        for (size_t i = 0; i < ELEMENTSOF(garbage); i++) {
                _cleanup_json_ json_t *v = J(garbage[i]), *out = NULL;
                is_int(etcd_parse_range(v, &out), garbage_ret[i], "range reply %s", garbage[i]);
        }
}

static void test_nodes(void) {
        _cleanup_json_ json_t *reply = J(
                "{\"kvs\":["
                "{\"key\":\"L2JhbGxhc3Qvbm9kZXMvYg==\",\"value\":\"eyJ4IjoxfQ==\",\"lease\":\"7\"},"
                "{\"key\":\"L2JhbGxhc3Qvbm9kZXMvYQ==\",\"value\":\"bm90IGpzb24=\"},"
                "{\"key\":\"L2JhbGxhc3Qvbm9kZXMvYS9kZWVw\",\"value\":\"e30=\"},"
                "{\"key\":\"L2JhbGxhc3Qvbm9kZXNY\",\"value\":\"e30=\"},"
                "{\"key\":\"L2JhbGxhc3Qvbm9kZXMv\",\"value\":\"e30=\"}"
                "]}");
        _cleanup_json_ json_t *nodes = NULL, *bad = J("{\"kvs\":\"x\"}"), *out = NULL;

        ok(reporter_parse_nodes(reply, "/ballast/nodes/", &nodes) == 0, "a listing parses");
        is_str(dump(nodes), "[{\"document\":null,\"node\":\"a\"},{\"document\":{\"x\":1},\"node\":\"b\"}]",
               "direct children only, sorted, a value that is not JSON as null");
        is_int(reporter_parse_nodes(bad, "/ballast/nodes/", &out), -EBADMSG, "garbage is refused");
}

static void test_backoff(void) {
        static const struct { unsigned attempt; uint64_t base; } cases[] = {
                { 0, 250000 }, { 1, 500000 }, { 2, 1000000 }, { 3, 2000000 }, { 6, 16000000 },
                { 7, 30000000 }, { 8, 30000000 }, { 64, 30000000 }, { 1000, 30000000 }, { UINT32_MAX, 30000000 },
        };
        static const uint32_t randoms[] = { 0, 1, 12345, 99999, 100000, 1u << 31, UINT32_MAX };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint64_t lo = cases[i].base * 8 / 10, hi = cases[i].base * 12 / 10, min = UINT64_MAX, max = 0;
                bool in = true;
                for (size_t j = 0; j < ELEMENTSOF(randoms); j++) {
                        uint64_t d = reporter_backoff_usec(cases[i].attempt, randoms[j]);
                        in = in && d >= lo && d <= hi;
                        min = MIN(min, d);
                        max = MAX(max, d);
                }
                for (uint32_t x = 0; x < 100000; x += 7) {
                        uint64_t d = reporter_backoff_usec(cases[i].attempt, x * 2654435761U);
                        in = in && d >= lo && d <= hi;
                        min = MIN(min, d);
                        max = MAX(max, d);
                }
                ok(in, "backoff %u stays within ±20%% of %llu µs (%llu…%llu)", cases[i].attempt,
                   (unsigned long long) cases[i].base, (unsigned long long) min, (unsigned long long) max);
                ok(max - min > cases[i].base / 4, "and is spread over that range");
        }
        is_int(reporter_backoff_usec(0, 0), 200000, "the lowest first delay is 200 ms");
        is_int(reporter_backoff_usec(0, 100000), 300000, "the highest first delay is 300 ms");
}

static void test_keys(void) {
        static const struct { const char *prefix, *node, *key; } cases[] = {
                { "/ballast", "worker-7", "/ballast/nodes/worker-7" },
                { "/ballast/", "worker-7", "/ballast/nodes/worker-7" },
                { "/a/b//", "n", "/a/b/nodes/n" },
                { "/", "n", "/nodes/n" },
                { "/ballast", NULL, "/ballast/nodes/" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *k = reporter_etcd_key(cases[i].prefix, cases[i].node);
                is_str(k, cases[i].key, "key for %s and %s", cases[i].prefix, strna(cases[i].node));
        }
}

static void test_token(void) {
        static const struct { const char *content; int ret; const char *token; } cases[] = {
                { "s3cr3t.token-_~+/=", 0, "s3cr3t.token-_~+/=" },
                { "abc\n", 0, "abc" },
                { "  \tabc \r\n\n", 0, "abc" },
                { "", -ENODATA, NULL },
                { "\n \n", -ENODATA, NULL },
                { "a b", -EINVAL, NULL },
                { "abc\r\nX-Evil: 1", -EINVAL, NULL },
                { "a\x01" "b", -EINVAL, NULL },
        };
        char dir[] = "/tmp/test-reporter.XXXXXX", path[256], big[5000];
        _cleanup_free_ char *t = NULL;

        if (!mkdtemp(dir)) {
                printf("Bail out! mkdtemp\n");
                exit(1);
        }
        snprintf(path, sizeof(path), "%s/token", dir);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *tok = NULL;
                FILE *f = fopen(path, "we");
                int r;
                if (!f || fputs(cases[i].content, f) < 0 || fclose(f) != 0)
                        exit(1);
                r = reporter_read_token(path, &tok);
                ok(r == cases[i].ret && (r < 0 || streq(tok, cases[i].token)), "token file %zu: %d", i, cases[i].ret);
        }
        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        {
                FILE *f = fopen(path, "we");
                if (!f || fputs(big, f) < 0 || fclose(f) != 0)
                        exit(1);
        }
        is_int(reporter_read_token(path, &t), -EFBIG, "a token file over 4 KiB is refused");
        (void) unlink(path);
        is_int(reporter_read_token(path, &t), -ENOENT, "a missing token file is -ENOENT");
        is_int(reporter_read_token(dir, &t), -EINVAL, "a directory is refused");
        (void) rmdir(dir);
}

/* ---- the etcd client against canned answers: which ones fail over, which ones are etcd's word ---- */

typedef struct Fake {
        int fd;
        unsigned port;
        char response[1024];
        unsigned hits;
} Fake;

typedef struct FakeConn {
        Fake *fake;
        char buf[8192];
        size_t size;
} FakeConn;

static int on_fake_conn(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        FakeConn *c = userdata;
        ssize_t n = read(fd, c->buf + c->size, sizeof(c->buf) - 1 - c->size);
        const char *end, *cl;

        if (n > 0) {
                c->size += (size_t) n;
                c->buf[c->size] = 0;
                end = strstr(c->buf, "\r\n\r\n");
                if (!end)
                        return 0;
                cl = strcasestr(c->buf, "Content-Length:");
                if (cl && c->size < (size_t) (end + 4 - c->buf) + strtoul(cl + 15, NULL, 10))
                        return 0;
                c->fake->hits++;
                (void) !write(fd, c->fake->response, strlen(c->fake->response));
        } else if (n < 0 && errno == EAGAIN)
                return 0;
        close(fd);
        sd_event_source_disable_unref(s);
        free(c);
        return 0;
}

static int on_fake_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        FakeConn *c;

        if (cfd < 0)
                return 0;
        c = calloc(1, sizeof(FakeConn));
        if (!c)
                exit(1);
        c->fake = userdata;
        if (sd_event_add_io(sd_event_source_get_event(s), NULL, cfd, EPOLLIN, on_fake_conn, c) < 0)
                exit(1);
        return 0;
}

static void fake_start(sd_event *e, Fake *f) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof(sa);

        f->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (f->fd < 0 || bind(f->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(f->fd, 16) < 0 ||
            getsockname(f->fd, (struct sockaddr *) &sa, &l) < 0 ||
            sd_event_add_io(e, NULL, f->fd, EPOLLIN, on_fake_accept, f) < 0) {
                printf("Bail out! cannot listen on loopback\n");
                exit(1);
        }
        f->port = ntohs(sa.sin_port);
}

static void fake_answer(Fake *f, const char *status, const char *body) {
        snprintf(f->response, sizeof(f->response),
                 "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                 status, strlen(body), body);
        f->hits = 0;
}

typedef struct Reply {
        bool done;
        int error;
        char message[256];
        char reply[256];
} Reply;

static void on_reply(Etcd *e, int error, const char *message, json_t *reply, void *userdata) {
        Reply *r = userdata;
        _cleanup_free_ char *text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;

        r->done = true;
        r->error = error;
        snprintf(r->message, sizeof(r->message), "%s", strempty(message));
        snprintf(r->reply, sizeof(r->reply), "%s", strempty(text));
}

static void test_etcd_client(sd_event *e, HttpClient *http) {
        static const struct {
                const char *status, *body;
                bool failover;     /* the call goes on to the second endpoint */
                int error;         /* otherwise */
        } cases[] = {
                { "503 Service Unavailable", "{\"error\":\"etcdserver: no leader\",\"code\":14,\"message\":\"etcdserver: no leader\"}", true, 0 },
                { "500 Internal Server Error", "oops", true, 0 },
                { "200 OK", "this is not JSON", true, 0 },
                { "200 OK", "[1,2,3]", true, 0 },
                { "200 OK", "{\"ID\": [1, 2", true, 0 },
                { "200 OK", "{\"error\":{\"grpc_code\":14,\"http_code\":503,\"message\":\"etcdserver: no leader\"}}", true, 0 },
                { "404 Not Found", "404 page not found", true, 0 },
                { "302 Found", "{}", true, 0 },
                { "404 Not Found", "{\"error\":\"etcdserver: requested lease not found\",\"code\":5,\"message\":\"etcdserver: requested lease not found\"}", false, -ENOENT },
                { "200 OK", "{\"error\":{\"grpc_code\":5,\"message\":\"etcdserver: requested lease not found\"}}", false, -ENOENT },
                { "400 Bad Request", "{\"error\":\"invalid character\",\"code\":3,\"message\":\"invalid character\"}", false, -EBADR },
                { "200 OK", "{\"ID\":\"1\",\"TTL\":\"5\"}", false, 0 },
        };
        Fake a = {}, b = {};
        char ea[64], eb[64];

        fake_start(e, &a);
        fake_start(e, &b);
        snprintf(ea, sizeof(ea), "http://127.0.0.1:%u", a.port);
        snprintf(eb, sizeof(eb), "http://127.0.0.1:%u/", b.port);   /* a trailing slash is fine */
        eb[strlen(eb) - 1] = 0;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *endpoints[] = { ea, (char *) eb, NULL };
                _cleanup_(etcd_freep) Etcd *etcd = NULL;
                _cleanup_json_ json_t *body = json_pack("{s:s}", "TTL", "5");
                Reply rep = {};

                fake_answer(&a, cases[i].status, cases[i].body);
                fake_answer(&b, "200 OK", "{\"from\":\"b\"}");
                if (etcd_new(&etcd, http, &(EtcdOptions) { .endpoints = endpoints }) < 0 ||
                    etcd_call(etcd, "/v3/lease/grant", body, 1000, on_reply, &rep, NULL) < 0) {
                        ok(false, "case %zu: call started", i);
                        continue;
                }
                for (uint64_t end = now_usec(CLOCK_MONOTONIC) + 3 * USEC_PER_SEC; !rep.done && now_usec(CLOCK_MONOTONIC) < end;)
                        (void) sd_event_run(e, 100 * USEC_PER_MSEC);
                if (cases[i].failover)
                        ok(rep.done && rep.error == 0 && streq(rep.reply, "{\"from\":\"b\"}") && a.hits == 1 &&
                           b.hits == 1 && streq(etcd_endpoint(etcd), eb),
                           "%s %s: on to the next endpoint, which stays in use (%d %s)", cases[i].status,
                           cases[i].body, rep.error, rep.message);
                else
                        ok(rep.done && rep.error == cases[i].error && a.hits == 1 && b.hits == 0 &&
                           streq(etcd_endpoint(etcd), ea),
                           "%s %s: etcd's answer, %d (%d %s)", cases[i].status, cases[i].body, cases[i].error,
                           rep.error, rep.message);
        }

        /* every endpoint fails: the caller hears of it, with the last one's error */
        {
                char closed[] = "http://127.0.0.1:1";
                char *endpoints[] = { ea, closed, NULL };
                _cleanup_(etcd_freep) Etcd *etcd = NULL;
                _cleanup_json_ json_t *body = json_object();
                Reply rep = {};

                fake_answer(&a, "503 Service Unavailable", "{}");
                if (etcd_new(&etcd, http, &(EtcdOptions) { .endpoints = endpoints }) >= 0 &&
                    etcd_call(etcd, "/v3/kv/put", body, 1000, on_reply, &rep, NULL) >= 0)
                        for (uint64_t end = now_usec(CLOCK_MONOTONIC) + 3 * USEC_PER_SEC; !rep.done && now_usec(CLOCK_MONOTONIC) < end;)
                                (void) sd_event_run(e, 100 * USEC_PER_MSEC);
                ok(rep.done && rep.error == -ECONNREFUSED, "all endpoints failed: the last one's error (%d)", rep.error);
                is_str(rep.message, "http://127.0.0.1:1 (and 1 other endpoint): unreachable (Couldn't connect to server)",
                       "and a message that names it");
                is_str(etcd_endpoint(etcd), ea, "the next call starts with the next endpoint again");
        }
        /* a call cancelled before its answer never calls back */
        {
                char *endpoints[] = { ea, NULL };
                _cleanup_(etcd_freep) Etcd *etcd = NULL;
                _cleanup_json_ json_t *body = json_object();
                EtcdCall *call = NULL;
                Reply rep = {};

                fake_answer(&a, "200 OK", "{}");
                ok(etcd_new(&etcd, http, &(EtcdOptions) { .endpoints = endpoints }) >= 0 &&
                   etcd_call(etcd, "/v3/kv/put", body, 1000, on_reply, &rep, &call) >= 0, "a call starts");
                etcd_call_cancel(call);
                for (uint64_t end = now_usec(CLOCK_MONOTONIC) + 300 * USEC_PER_MSEC; now_usec(CLOCK_MONOTONIC) < end;)
                        (void) sd_event_run(e, 50 * USEC_PER_MSEC);
                ok(!rep.done, "cancelled, it never calls back");
                ok(etcd_call(etcd, "/v3/kv/put", body, 1000, on_reply, &rep, NULL) >= 0, "another call starts");
        }       /* and etcd_free() cancels it: nothing calls back into this stack frame afterwards */
        for (uint64_t end = now_usec(CLOCK_MONOTONIC) + 200 * USEC_PER_MSEC; now_usec(CLOCK_MONOTONIC) < end;)
                (void) sd_event_run(e, 50 * USEC_PER_MSEC);
}

/* ---- a reporter on a loop ---- */

static json_t *document(void *userdata) {
        return json_pack("{s:s}", "node", "n1");
}

static void on_done(void *userdata) {
        (*(int *) userdata)++;
}

static void run_for(sd_event *e, uint64_t usec) {
        uint64_t end = now_usec(CLOCK_MONOTONIC) + usec, now;

        while ((now = now_usec(CLOCK_MONOTONIC)) < end)
                if (sd_event_run(e, end - now) < 0)
                        exit(1);
}

static void test_standalone(sd_event *e, HttpClient *http) {
        _cleanup_(reporter_freep) Reporter *r = NULL;
        _cleanup_json_ json_t *st = NULL;
        int done = 0;

        ok(reporter_new(&r, e, http, &(ReporterOptions) {}, document, NULL) == 0, "a reporter with nothing configured");
        ok(reporter_start(r) == 0, "starts");
        st = reporter_status_json(r);
        is_str(dump(st), "{\"etcd\":null,\"http\":null}", "and says nothing is configured");
        is_int(reporter_list_nodes(r, NULL, NULL), -ENOTCONN, "listing nodes without etcd is -ENOTCONN");
        reporter_changed(r);
        ok(reporter_stop(r, on_done, &done) == 0, "stops");
        is_int(done, 0, "done is not called from inside reporter_stop");
        is_int(reporter_stop(r, on_done, &done), -EALREADY, "a second stop is -EALREADY");
        run_for(e, 100 * USEC_PER_MSEC);
        is_int(done, 1, "done is called once, from the loop");
}

static void test_unreachable(sd_event *e, HttpClient *http) {
        char *endpoints[] = { (char *) "http://127.0.0.1:1", (char *) "http://127.0.0.1:2/", NULL };
        _cleanup_(reporter_freep) Reporter *r = NULL;
        _cleanup_json_ json_t *st = NULL;
        json_t *etcd, *hs;
        int done = 0;

        ok(reporter_new(&r, e, http,
                        &(ReporterOptions) { .etcd_endpoints = endpoints, .etcd_ttl_s = 5, .node_name = "n1",
                                             .http_url = "http://127.0.0.1:1/report",
                                             .http_token_file = "/nonexistent/token" },
                        document, NULL) == 0, "a reporter with an etcd and an HTTP endpoint where nobody listens");
        ok(reporter_start(r) == 0, "starts anyway");
        run_for(e, 500 * USEC_PER_MSEC);
        st = reporter_status_json(r);
        etcd = json_object_get(st, "etcd");
        hs = json_object_get(st, "http");
        is_str(json_string_value(json_object_get(etcd, "state")), "error", "etcd is in error");
        ok(strstr(strempty(json_string_value(json_object_get(etcd, "error"))), "(and 1 other endpoint)") != NULL,
           "after trying both endpoints: %s", strna(json_string_value(json_object_get(etcd, "error"))));
        is_str(json_string_value(json_object_get(etcd, "key")), "/ballast/nodes/n1", "its key is PREFIX/nodes/NODE");
        ok(!json_object_get(etcd, "lease"), "without a lease");
        ok(json_integer_value(json_object_get(etcd, "since_usec")) > 0 && !json_object_get(etcd, "last_ok_usec"),
           "since when, and never ok");
        is_str(json_string_value(json_object_get(hs, "state")), "error", "the HTTP endpoint is in error");
        is_str(json_string_value(json_object_get(hs, "error")),
               "token file /nonexistent/token: No such file or directory", "because its token file is missing");
        ok(reporter_stop(r, on_done, &done) == 0, "stops without a lease");
        run_for(e, 100 * USEC_PER_MSEC);
        is_int(done, 1, "and is done at once");
}

int main(void) {
        sd_event *e = NULL;
        HttpClient *http = NULL;

        test_base64();
        test_range_end();
        test_int64();
        test_grant();
        test_keepalive();
        test_error();
        test_range();
        test_nodes();
        test_backoff();
        test_keys();
        test_token();

        if (sd_event_new(&e) < 0 || http_client_new(&http, e) < 0) {
                printf("Bail out! cannot set up a loop\n");
                return 1;
        }
        test_etcd_client(e, http);
        test_standalone(e, http);
        test_unreachable(e, http);
        http_client_free(http);
        sd_event_unref(e);
        return tap_done();
}
