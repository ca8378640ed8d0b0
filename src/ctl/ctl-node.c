/* SPDX-License-Identifier: MIT */
/* The verbs about the node: status, capacity, nodes, drain, undrain. */
#include <stdio.h>
#include <string.h>

#include "ctl/ctl.h"
#include "shared/json-util.h"
#include "shared/macro.h"
#include "shared/parse-util.h"
#include "shared/time-util.h"

int verb_status(int argc, char *argv[]) {
        _cleanup_json_ json_t *s = NULL;
        char b1[64], b2[64];
        json_t *services, *waiting, *w;
        size_t i;
        int r;

        r = call("io.ballast.Agent.GetStatus", NULL, &s);
        if (r != 0)
                return r;
        /* while the configuration is invalid, nothing is acted on: a script must not read that as fine */
        r = json_is_string(json_object_get(s, "config_error")) ? CTL_EXIT_CONFIG_INVALID : CTL_EXIT_OK;
        if (arg_json)
                return print_json(s) ?: r;

        services = json_object_get(s, "services");
        waiting = json_object_get(s, "waiting_for");
        printf("Node:        %s\n", strna(json_string_value(json_object_get(s, "node"))));
        printf("Version:     %s\n", strna(json_string_value(json_object_get(s, "version"))));
        printf("PID:         %lld\n", (long long) json_integer_value(json_object_get(s, "pid")));
        printf("Uptime:      %s (since %s)\n",
               format_duration(b1, sizeof(b1), (uint64_t) json_integer_value(json_object_get(s, "uptime_usec"))),
               format_timestamp(b2, sizeof(b2), (uint64_t) json_integer_value(json_object_get(s, "started_at_usec"))));
        printf("Config:      %s (loaded %s)\n", strna(json_string_value(json_object_get(s, "config"))),
               format_timestamp(b1, sizeof(b1), (uint64_t) json_integer_value(json_object_get(s, "config_loaded_at_usec"))));
        if (json_is_string(json_object_get(s, "config_error")))
                printf("             INVALID, nothing is acted on: %s\n",
                       json_string_value(json_object_get(s, "config_error")));
        printf("Services:    %lld total, %lld active, %lld failed\n",
               (long long) json_integer_value(json_object_get(services, "total")),
               (long long) json_integer_value(json_object_get(services, "active")),
               (long long) json_integer_value(json_object_get(services, "failed")));
        printf("Waiting for: ");
        if (json_array_size(waiting) == 0)
                printf("nothing");
        json_array_foreach(waiting, i, w)
                printf("%s%s", i > 0 ? ", " : "", strna(json_string_value(w)));
        printf("\n");
        printf("Connections: %lld\n", (long long) json_integer_value(json_object_get(s, "connections")));
        {
                json_t *cl = json_object_get(s, "cluster");
                const char *names[] = { "etcd", "http" };
                bool any = false;
                for (size_t k = 0; k < ELEMENTSOF(names); k++) {
                        json_t *e = json_object_get(cl, names[k]);
                        char b[64];
                        if (!json_is_object(e))
                                continue;
                        any = true;
                        printf("Cluster:     %s %s", names[k], strna(json_string_value(json_object_get(e, "state"))));
                        if (json_is_string(json_object_get(e, "endpoint")))
                                printf(" via %s", json_string_value(json_object_get(e, "endpoint")));
                        if (json_is_string(json_object_get(e, "url")))
                                printf(" to %s", json_string_value(json_object_get(e, "url")));
                        if (json_is_string(json_object_get(e, "error")))
                                printf(": %s", json_string_value(json_object_get(e, "error")));
                        if (json_is_integer(json_object_get(e, "since_usec")))
                                printf(" (since %s)", format_timestamp(b, sizeof(b),
                                                                       (uint64_t) json_integer_value(json_object_get(e, "since_usec"))));
                        printf("\n");
                }
                if (!any)
                        printf("Cluster:     standalone (none configured)\n");
        }
        return r;
}

/* The table of the node's resources: what it has, what is set aside, what is promised, what is free. */
static void print_capacity_table(json_t *c) {
        static const char *const resources[] = { "cpu", "memory", "pids", "disk" };
        static const char *const columns[] = { "capacity", "reserved", "eviction_threshold", "allocatable",
                                                "committed", "free" };
        char b1[FORMAT_SIZE_MAX], b2[FORMAT_SIZE_MAX], b3[FORMAT_SIZE_MAX];
        json_t *f = json_object_get(c, "largest_fit");

        printf("%-8s %10s %10s %10s %12s %10s %10s\n", "", "CAPACITY", "RESERVED", "THRESHOLD", "ALLOCATABLE",
               "COMMITTED", "FREE");
        for (size_t k = 0; k < ELEMENTSOF(resources); k++) {
                printf("%-8s", resources[k]);
                for (size_t col = 0; col < ELEMENTSOF(columns); col++) {
                        char buf[FORMAT_SIZE_MAX];
                        printf(" %*s", col == 3 ? 12 : 10,
                               fmt_resource(buf, sizeof(buf), resources[k],
                                            json_object_get(json_object_get(c, columns[col]), resources[k])));
                }
                printf("\n");
        }
        printf("\nLargest service that still fits: cpu %s, memory %s, pids %s\n",
               fmt_resource(b1, sizeof(b1), "cpu", json_object_get(f, "cpu")),
               fmt_resource(b2, sizeof(b2), "memory", json_object_get(f, "memory")),
               fmt_resource(b3, sizeof(b3), "pids", json_object_get(f, "pids")));
}

static void print_capacity_ports_and_conditions(json_t *c) {
        json_t *list, *item, *conditions, *value;
        const char *key;
        size_t i;

        list = json_object_get(c, "ports");
        printf("Ports held:  ");
        if (json_array_size(list) == 0)
                printf("none");
        json_array_foreach(list, i, item)
                printf("%s%s (%s)", i ? ", " : "", strna(json_string_value(json_object_get(item, "port"))),
                       strna(json_string_value(json_object_get(item, "service"))));
        printf("\n");

        conditions = json_object_get(c, "conditions");
        printf("Conditions:  ");
        i = 0;
        json_object_foreach(conditions, key, value)
                if (json_is_boolean(value))
                        printf("%s%s %s", i++ ? ", " : "", key, json_is_true(value) ? "YES" : "no");
        printf("\n");
}

/* Per service: what it asked for against what it uses. */
static void print_capacity_services(json_t *list) {
        json_t *item;
        size_t i;

        if (json_array_size(list) == 0)
                return;
        printf("\n%-24s %8s %10s %8s %10s %10s %8s %6s\n", "SERVICE", "CPU", "MEMORY", "PIDS", "MEM USED",
               "CPU TIME", "PIDS NOW", "OOM");
        json_array_foreach(list, i, item) {
                json_t *req = json_object_get(item, "requested"), *use = json_object_get(item, "usage");
                char b1[FORMAT_SIZE_MAX], b2[FORMAT_SIZE_MAX], b3[FORMAT_SIZE_MAX], b4[FORMAT_SIZE_MAX];
                char cpu_time[32] = "-", pids_now[32] = "-", oom[16] = "-";
                if (use) {
                        snprintf(cpu_time, sizeof(cpu_time), "%.1fs",
                                 (double) json_integer_value(json_object_get(use, "cpu_usage_usec")) / 1e6);
                        snprintf(pids_now, sizeof(pids_now), "%lld",
                                 (long long) json_integer_value(json_object_get(use, "pids_current")));
                        snprintf(oom, sizeof(oom), "%lld",
                                 (long long) json_integer_value(json_object_get(use, "oom_kills")));
                }
                printf("%-24s %8s %10s %8s %10s %10s %8s %6s\n",
                       strna(json_string_value(json_object_get(item, "name"))),
                       fmt_resource(b1, sizeof(b1), "cpu", json_object_get(req, "cpu")),
                       fmt_resource(b2, sizeof(b2), "memory", json_object_get(req, "memory")),
                       fmt_resource(b3, sizeof(b3), "pids", json_object_get(req, "pids")),
                       use ? fmt_resource(b4, sizeof(b4), "memory", json_object_get(use, "memory_current")) : "-",
                       cpu_time, pids_now, oom);
        }
}

static void print_capacity_interfaces(json_t *list) {
        json_t *item;
        size_t i;

        if (json_array_size(list) == 0)
                return;
        printf("\n%-16s %-8s %6s %8s  %s\n", "INTERFACE", "STATE", "MTU", "SPEED", "ADDRESSES");
        json_array_foreach(list, i, item) {
                json_t *addrs = json_object_get(item, "addresses"), *a;
                json_t *speed = json_object_get(item, "speed_mbps");
                char sp[32] = "-";
                size_t k;
                if (json_is_integer(speed))
                        snprintf(sp, sizeof(sp), "%lldM", (long long) json_integer_value(speed));
                printf("%-16s %-8s %6lld %8s  ", strna(json_string_value(json_object_get(item, "name"))),
                       strna(json_string_value(json_object_get(item, "state"))),
                       (long long) json_integer_value(json_object_get(item, "mtu")), sp);
                json_array_foreach(addrs, k, a)
                        printf("%s%s", k ? " " : "", strna(json_string_value(a)));
                printf("\n");
        }
}

int verb_capacity(int argc, char *argv[]) {
        _cleanup_json_ json_t *c = NULL;
        int r;

        r = call("io.ballast.Agent.GetCapacity", NULL, &c);
        if (r != 0)
                return r;
        if (arg_json)
                return print_json(c);
        print_capacity_table(c);
        print_capacity_ports_and_conditions(c);
        print_capacity_services(json_object_get(c, "services"));
        print_capacity_interfaces(json_object_get(c, "interfaces"));
        return 0;
}

/* One node's row: what an update wave needs to see (--wide: ballast's version, labels, services and ports). */
static void print_node_row(json_t *n, uint64_t now) {
        json_t *d = json_object_get(n, "document"), *free_ = json_object_get(d, "free"),
               *up = json_object_get(d, "updates"), *drain = json_object_get(d, "drain"), *v;
        char b1[FORMAT_SIZE_MAX], b2[FORMAT_SIZE_MAX], os[64], seen[64], since[64];
        const char *key, *drained;
        size_t k;

        drained = json_is_true(json_object_get(up, "drained")) || json_is_true(json_object_get(drain, "drained")) ? "yes"
                  : json_is_true(json_object_get(drain, "draining"))                                             ? "draining"
                                                                                                                  : "no";
        snprintf(os, sizeof(os), "%s %s", strna(json_str(json_object_get(d, "os"), "id")),
                 json_str(up, "os_version") ?: strna(json_str(json_object_get(d, "os"), "version")));
        printf("%-20s %-18s %-22s %-5s %-8s %-24s %-10s %8s %9s %12s",
               strna(json_str(n, "node")), json_str(up, "state") ?: "-", json_str(up, "reason") ?: "-",
               json_is_true(json_object_get(up, "lock_held")) ? "held" : "-", drained, os,
               json_str(up, "stream") ?: "-",
               fmt_resource(b1, sizeof(b1), "cpu", json_object_get(free_, "cpu")),
               fmt_resource(b2, sizeof(b2), "memory", json_object_get(free_, "memory")),
               age_of(seen, sizeof(seen), now, (uint64_t) json_integer_value(json_object_get(d, "taken_at_usec"))));
        if (!arg_wide) {
                printf("\n");
                return;
        }
        printf(" %-10s %-12s %-10s %3zu  ", strna(json_str(d, "ballast_version")),
               age_of(since, sizeof(since), now, (uint64_t) json_integer_value(json_object_get(up, "since_usec"))),
               json_str(up, "lock_group") ?: "-", json_array_size(json_object_get(d, "services")));
        k = 0;
        json_object_foreach(json_object_get(d, "labels"), key, v)
                printf("%s%s=%s", k++ ? "," : "", key, strna(json_string_value(v)));
        printf("%s  ", k ? "" : "-");
        json_array_foreach(json_object_get(d, "ports"), k, v)
                printf("%s%s=%s", k ? "," : "", strna(json_str(v, "port")), strna(json_str(v, "service")));
        printf("%s\n", json_array_size(json_object_get(d, "ports")) ? "" : "-");
}

static void print_fragmentation(const FleetFragmentation *f) {
        char b[3][FORMAT_SIZE_MAX], l[3][FORMAT_SIZE_MAX];

        for (size_t k = 0; k < ELEMENTSOF(fleet_resources); k++) {
                _cleanup_json_ json_t *t = k == 0 ? json_real(f->free_total[k]) : json_integer((json_int_t) f->free_total[k]);
                _cleanup_json_ json_t *m = k == 0 ? json_real(f->largest_fit[k]) : json_integer((json_int_t) f->largest_fit[k]);
                fmt_resource(b[k], sizeof(b[k]), fleet_resources[k], t);
                if (f->largest_node[k])
                        fmt_resource(l[k], sizeof(l[k]), fleet_resources[k], m);
                else
                        snprintf(l[k], sizeof(l[k]), "-");
        }
        printf("\nFree in total:        cpu %s, memory %s, pids %s (%zu of %zu nodes report; draining nodes count "
               "for nothing)\n", b[0], b[1], b[2], f->reporting, f->nodes);
        printf("Largest fit on one:   cpu %s (%s), memory %s (%s), pids %s (%s)\n", l[0], strna(f->largest_node[0]),
               l[1], strna(f->largest_node[1]), l[2], strna(f->largest_node[2]));
}

int verb_nodes(int argc, char *argv[]) {
        _cleanup_json_ json_t *reply = NULL;
        FleetFragmentation f;
        uint64_t now = now_usec(CLOCK_REALTIME);
        json_t *nodes, *n;
        size_t i;
        int r;

        r = call("io.ballast.Agent.ListNodes", NULL, &reply);
        if (r != 0)
                return r;
        nodes = json_object_get(reply, "nodes");
        if (fleet_fragmentation(nodes ?: json_array(), &f) < 0) {
                fprintf(stderr, "ballastctl nodes: ballastd's answer has no list of nodes\n");
                return CTL_EXIT_FAILED;
        }
        if (arg_json) {
                json_object_set_new(reply, "fragmentation", fleet_fragmentation_json(&f));
                return print_json(reply);
        }
        printf("%-20s %-18s %-22s %-5s %-8s %-24s %-10s %8s %9s %12s", "NODE", "FLOW", "REASON", "LOCK", "DRAINED",
               "OS", "STREAM", "FREE CPU", "FREE MEM", "CHANGED");
        printf(arg_wide ? " %-10s %-12s %-10s %3s  %s  %s\n" : "\n", "BALLAST", "FLOW SINCE", "LOCK GROUP", "SVC",
               "LABELS", "PORTS");
        json_array_foreach(nodes, i, n)
                print_node_row(n, now);
        if (json_array_size(nodes) == 0)
                printf("(no nodes)\n");
        print_fragmentation(&f);
        return 0;
}

int verb_drain(int argc, char *argv[]) {
        _cleanup_json_ json_t *reply = NULL;
        bool drain = streq(argv[0], "drain");
        int r = call(drain ? "io.ballast.Agent.Drain" : "io.ballast.Agent.Undrain", NULL, &reply);

        if (r != 0)
                return r;
        if (arg_json)
                return print_json(reply);
        printf("%s\n", drain ? "Node drained: every service is stopped." : "Node undrained: services start again.");
        return 0;
}
