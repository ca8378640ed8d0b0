/* SPDX-License-Identifier: MIT */
/* src/netlink against the real kernel, in a network namespace of our own (and a mount namespace, so that a
 * fresh sysfs shows that namespace's interfaces): nothing on the host changes. lo from the initial fill, then a
 * veth pair appearing, its carrier, MTU and addresses changing, and the pair going away, each seen through the
 * change notifications on the loop. A second instance with a tiny receive buffer is overrun by a burst of
 * addresses and must resync to the same view as the first. Needs root. */

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <unistd.h>

#include "resources/netlink.h"
#include "shared/json-util.h"
#include "shared/log.h"
#include "shared/time-util.h"
#include "tap.h"

#define WAIT_USEC (2 * USEC_PER_SEC)
#define BURST 300

static unsigned changes;

static void on_change(Netlink *n, void *userdata) {
        unsigned *counter = userdata;

        (*counter)++;
}

static int run(const char *cmd) {
        int r = system(cmd);

        if (r != 0)
                diag("'%s' failed (%d)", cmd, r);
        return r;
}

static json_t *find_iface(json_t *ifaces, const char *name) {
        size_t i;
        json_t *v;

        json_array_foreach(ifaces, i, v)
                if (streq(strempty(json_string_value(json_object_get(v, "name"))), name))
                        return v;
        return NULL;
}

static bool has_address(json_t *iface, const char *addr) {
        size_t i;
        json_t *v;

        json_array_foreach(json_object_get(iface, "addresses"), i, v)
                if (streq(strempty(json_string_value(v)), addr))
                        return true;
        return false;
}

static const char *iface_str(json_t *ifaces, const char *name, const char *key) {
        return json_string_value(json_object_get(find_iface(ifaces, name), key));
}

static long long iface_int(json_t *ifaces, const char *name, const char *key) {
        json_t *v = json_object_get(find_iface(ifaces, name), key);

        return json_is_integer(v) ? json_integer_value(v) : -1;
}

static int iface_bool(json_t *ifaces, const char *name, const char *key) {
        json_t *v = json_object_get(find_iface(ifaces, name), key);

        return json_is_boolean(v) ? json_is_true(v) : -1;
}

/* What a step waits for, given the current view. */
typedef bool (*Condition)(json_t *ifaces, const void *arg);

static bool tv0_configured(json_t *ifaces, const void *arg) {
        json_t *tv0 = find_iface(ifaces, "tv0");

        return tv0 && find_iface(ifaces, "tv1") && json_is_true(json_object_get(tv0, "up")) &&
               has_address(tv0, "10.213.0.1/30");
}

static bool tv0_carrier(json_t *ifaces, const void *arg) {
        return iface_bool(ifaces, "tv0", "carrier") == 1 && streq(strempty(iface_str(ifaces, "tv0", "state")), "up");
}

static bool tv0_mtu(json_t *ifaces, const void *arg) {
        return iface_int(ifaces, "tv0", "mtu") == *(const int *) arg;
}

static bool tv0_n_addresses(json_t *ifaces, const void *arg) {
        return json_array_size(json_object_get(find_iface(ifaces, "tv0"), "addresses")) >= *(const size_t *) arg;
}

static bool veth_gone(json_t *ifaces, const void *arg) {
        return !find_iface(ifaces, "tv0") && !find_iface(ifaces, "tv1");
}

/* Runs the loop until cond holds for n's view (and, when other is given, other's view equals it), at most
 * WAIT_USEC. Returns the last view of n. */
static json_t *wait_for(sd_event *e, Netlink *n, Netlink *other, Condition cond, const void *arg) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + WAIT_USEC;

        for (;;) {
                json_t *v = netlink_interfaces_json(n);
                _cleanup_json_ json_t *w = other ? netlink_interfaces_json(other) : NULL;

                if (!v)
                        abort();
                if (cond(v, arg) && (!other || json_equal(v, w)))
                        return v;
                if (now_usec(CLOCK_MONOTONIC) >= deadline) {
                        _cleanup_free_ char *text = json_dump_compact(v);
                        diag("timed out waiting; we see %s", strna(text));
                        return v;
                }
                json_decref(v);
                if (sd_event_run(e, 50 * USEC_PER_MSEC) < 0)
                        abort();
        }
}

static bool sorted_by_index(json_t *ifaces) {
        long long last = 0;
        size_t i;
        json_t *v;

        json_array_foreach(ifaces, i, v) {
                long long index = json_integer_value(json_object_get(v, "index"));
                if (index <= last)
                        return false;
                last = index;
        }
        return true;
}

static bool is_mac(const char *s) {
        if (!s || strlen(s) != 17)
                return false;
        for (size_t i = 0; i < 17; i++)
                if (i % 3 == 2 ? s[i] != ':' : !strchr("0123456789abcdef", s[i]))
                        return false;
        return true;
}

int main(void) {
        _cleanup_(netlink_freep) Netlink *n = NULL, *small = NULL;
        _cleanup_json_ json_t *v = NULL;
        sd_event *e = NULL;
        bool fresh_sysfs;
        unsigned before, small_changes = 0;
        int mtu = 1400, log_fd, saved_stderr;
        size_t want;

        /* what this test needs is a failure when missing, never a skip */
        if (geteuid() != 0) {
                printf("Bail out! needs root (CAP_SYS_ADMIN) for a network namespace: run make check as root\n");
                return 1;
        }
        if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0) {
                printf("Bail out! cannot create a network namespace: %s\n", strerror(errno));
                return 1;
        }
        if (system("command -v ip >/dev/null") != 0) {
                printf("Bail out! needs ip: apt-get install iproute2\n");
                return 1;
        }
        /* A sysfs mounted here shows this namespace's interfaces (and their speed); the mount stays in our
         * private mount namespace. Without it, speed_mbps is only checked to be null or a number. */
        fresh_sysfs = mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) >= 0 &&
                      mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) >= 0;
        if (!fresh_sysfs)
                diag("no fresh sysfs (%s): not checking speeds", strerror(errno));
        log_setup(LOG_TARGET_STDERR, LOG_INFO);

        if (run("ip link set lo up") != 0)
                abort();

        if (sd_event_new(&e) < 0)
                abort();
        is_int(netlink_new(&n, e, on_change, &changes), 0, "netlink_new");
        is_int(netlink_new(&small, e, on_change, &small_changes), 0, "netlink_new (small buffer)");
        netlink_set_receive_buffer(small, 4096);

        v = netlink_interfaces_json(n);
        ok(json_is_array(v) && json_array_size(v) == 0, "empty before start");
        is_int(netlink_n_interfaces(n), 0, "no interfaces before start");
        json_decref(v);

        is_int(netlink_start(n), 0, "netlink_start");
        is_int(netlink_start(small), 0, "netlink_start (small buffer)");
        is_int(netlink_start(n), -EALREADY, "a second start is refused");

        /* lo, from the initial fill */
        v = netlink_interfaces_json(n);
        is_int(netlink_n_interfaces(n), 1, "one interface in a new namespace");
        is_int(json_array_size(v), 1, "one entry");
        ok(find_iface(v, "lo"), "lo is listed");
        is_int(iface_int(v, "lo", "index"), 1, "lo is index 1");
        ok(has_address(find_iface(v, "lo"), "127.0.0.1/8"), "lo has 127.0.0.1/8");
        is_int(iface_bool(v, "lo", "up"), 1, "lo is up");
        is_int(iface_bool(v, "lo", "carrier"), 1, "lo has carrier");
        is_str(iface_str(v, "lo", "state"), "unknown", "lo's operstate is unknown");
        is_int(iface_int(v, "lo", "mtu"), 65536, "lo's mtu");
        is_str(iface_str(v, "lo", "mac"), "00:00:00:00:00:00", "lo's mac");
        ok(json_is_null(json_object_get(find_iface(v, "lo"), "speed_mbps")), "lo has no speed");
        ok(json_is_null(json_object_get(find_iface(v, "lo"), "kind")), "lo has no kind");
        is_str(json_string_value(json_array_get(json_object_get(find_iface(v, "lo"), "addresses"), 0)), "127.0.0.1/8",
               "IPv4 first");
        json_decref(v);

        /* a veth pair appears */
        if (run("ip link add tv0 type veth peer name tv1 && ip addr add 10.213.0.1/30 dev tv0 && ip link set tv0 up") != 0)
                abort();
        is_int(netlink_n_interfaces(n), 1, "nothing changes until the loop runs (no polling)");
        is_int(changes, 0, "no change reported yet");
        v = wait_for(e, n, NULL, tv0_configured, NULL);
        ok(tv0_configured(v, NULL), "tv0 appears, up, with 10.213.0.1/30");
        ok(changes > 0, "the change callback ran (%u times)", changes);
        is_int(netlink_n_interfaces(n), 3, "three interfaces");
        ok(sorted_by_index(v), "sorted by index");
        is_int(iface_int(v, "tv0", "mtu"), 1500, "tv0's mtu");
        is_str(iface_str(v, "tv0", "kind"), "veth", "tv0 is a veth");
        ok(is_mac(iface_str(v, "tv0", "mac")), "tv0 has a mac (%s)", strna(iface_str(v, "tv0", "mac")));
        is_str(iface_str(v, "tv0", "state"), "lowerlayerdown", "tv0 is lowerlayerdown while its peer is down");
        is_int(iface_bool(v, "tv0", "carrier"), 0, "tv0 has no carrier");
        is_int(iface_bool(v, "tv1", "up"), 0, "tv1 is not up");
        is_str(iface_str(v, "tv1", "state"), "down", "tv1 is down");
        is_int(json_array_size(json_object_get(find_iface(v, "tv1"), "addresses")), 0, "tv1 has no addresses");
        if (fresh_sysfs) {
                is_int(iface_int(v, "tv0", "speed_mbps"), 10000, "tv0's speed from sysfs");
                ok(json_is_null(json_object_get(find_iface(v, "tv1"), "speed_mbps")), "no speed for tv1, which is down");
        } else
                ok(json_is_null(json_object_get(find_iface(v, "tv0"), "speed_mbps")) ||
                   json_is_integer(json_object_get(find_iface(v, "tv0"), "speed_mbps")), "tv0's speed is null or a number");
        json_decref(v);

        /* carrier */
        before = changes;
        if (run("ip link set tv1 up") != 0)
                abort();
        v = wait_for(e, n, NULL, tv0_carrier, NULL);
        ok(tv0_carrier(v, NULL), "tv0 is up with carrier once tv1 is up");
        is_int(iface_bool(v, "tv1", "up"), 1, "tv1 is up");
        ok(changes > before, "reported");
        json_decref(v);

        /* MTU */
        before = changes;
        if (run("ip link set tv0 mtu 1400") != 0)
                abort();
        v = wait_for(e, n, NULL, tv0_mtu, &mtu);
        is_int(iface_int(v, "tv0", "mtu"), 1400, "tv0's new mtu is seen");
        ok(changes > before, "reported");
        json_decref(v);

        /* A burst of addresses while the loop does not run overruns the small buffer (8 KiB as the kernel
         * doubles it, a few dozen notifications); that instance must resync to the same view. Its warning
         * goes to stderr, which we catch. */
        {
                FILE *f = popen("ip -batch -", "w");

                if (!f)
                        abort();
                for (unsigned i = 0; i < BURST; i++)
                        fprintf(f, "addr add 10.214.%u.%u/32 dev tv0\n", i / 200, i % 200 + 1);
                if (pclose(f) != 0)
                        diag("ip -batch failed");
        }
        fflush(stderr);
        log_set_max_level(LOG_DEBUG);  /* after the first overrun, the next ones within 10s are logged at debug */
        log_fd = memfd_create("test-netlink-log", MFD_CLOEXEC);
        saved_stderr = dup(STDERR_FILENO);
        if (log_fd < 0 || saved_stderr < 0 || dup2(log_fd, STDERR_FILENO) < 0)
                abort();
        want = BURST + 1;
        v = wait_for(e, n, small, tv0_n_addresses, &want);
        fflush(stderr);
        if (dup2(saved_stderr, STDERR_FILENO) < 0)
                abort();
        close(saved_stderr);
        log_set_max_level(LOG_INFO);
        {
                char buf[65536] = "";
                ssize_t k = pread(log_fd, buf, sizeof(buf) - 1, 0);

                if (k > 0)
                        buf[k] = 0;
                ok(strstr(buf, "overrun"), "the small instance was overrun and said so");
                close(log_fd);
        }
        is_int(json_array_size(json_object_get(find_iface(v, "tv0"), "addresses")) >= BURST + 1, 1,
               "all %d addresses of tv0 are seen", BURST + 1);
        ok(has_address(find_iface(v, "tv0"), "10.214.1.100/32"), "the last one among them");
        {
                _cleanup_json_ json_t *w = netlink_interfaces_json(small);
                ok(json_equal(v, w), "the overrun instance resynced to the same view");
        }
        ok(small_changes > 0, "and reported the change");
        json_decref(v);

        /* the pair goes away */
        before = changes;
        if (run("ip link del tv0") != 0)
                abort();
        v = wait_for(e, n, small, veth_gone, NULL);
        ok(veth_gone(v, NULL), "tv0 and tv1 are gone");
        is_int(netlink_n_interfaces(n), 1, "one interface left");
        ok(has_address(find_iface(v, "lo"), "127.0.0.1/8"), "lo is still there with its address");
        ok(changes > before, "reported");
        {
                _cleanup_json_ json_t *w = netlink_interfaces_json(small);
                ok(json_equal(v, w), "the small instance agrees");
        }
        json_decref(v);
        v = NULL;

        n = netlink_free(n);
        small = netlink_free(small);
        ok(!netlink_free(NULL), "netlink_free(NULL)");
        sd_event_unref(e);
        return tap_done();
}
