/* SPDX-License-Identifier: MIT */
/* The manager's view of the node: its capacity read from /proc and /sys, what is allocatable under the
 * configured reservations (and the bound of ballast.slice that holds all workloads to it), the node's conditions,
 * and the status document the cluster reporter sends (schema 2, docs/CONFIGURATION.md), with that reporter's
 * start. manager.c owns the loop and calls these; none of them owns a source. */

#include <errno.h>
#include <string.h>

#include "daemon/manager.h"
#include "shared/fileio.h"
#include "shared/log.h"
#include "shared/time-util.h"

static CapacityPolicy manager_policy(Manager *m) {
        return (CapacityPolicy) {
                .reserved = { .cpu_millis = m->config->reserved_cpu_millis, .memory = m->config->reserved_memory,
                              .pids = m->config->reserved_pids },
                .eviction_memory = m->config->eviction_memory,
                .eviction_disk_percent = m->config->eviction_disk_percent,
        };
}

static int append_slice_limits(sd_bus_message *msg, void *userdata) {
        const Resources *a = userdata;
        int r;

        r = sd_bus_message_append(msg, "(sv)", "MemoryMax", "t", a->memory);
        if (r >= 0)
                r = sd_bus_message_append(msg, "(sv)", "CPUQuotaPerSecUSec", "t", a->cpu_millis * 1000);
        if (r >= 0)
                r = sd_bus_message_append(msg, "(sv)", "TasksMax", "t", a->pids);
        return r;
}

static void on_slice_bound(Bus *b, int error, void *userdata) {
        Manager *m = userdata;

        if (error < 0) {
                log_warning_errno(error, "Failed to bound ballast.slice at allocatable, retrying later: %m");
                m->slice_bound = false;
        }
}

/* The sum of all workloads is held at allocatable by their common slice. */
void manager_bound_slice(Manager *m) {
        if (m->slice_bound || !m->node_known || !m->bus || !bus_is_connected(m->bus))
                return;
        if (bus_set_unit_properties(m->bus, "ballast.slice", true, append_slice_limits, &m->allocatable, on_slice_bound,
                                    m) >= 0) {
                m->slice_bound = true;
                log_debug("ballast.slice bounded at allocatable.");
        }
}

void manager_refresh_node(Manager *m) {
        json_t *info = m->docker ? docker_info(m->docker) : NULL;
        const char *docker_root = json_string_value(json_object_get(info, "DockerRootDir"));
        CapacityPolicy policy;
        Resources alloc;
        NodeFacts f;
        int r;

        r = capacity_read_node("/proc", "/sys", "/sys/fs/cgroup", docker_root, &f);
        if (r < 0) {
                log_warning_errno(r, "Failed to read the node's capacity, keeping the last figures: %m");
                return;
        }
        policy = manager_policy(m);
        alloc = capacity_allocatable(&f.capacity, &policy);
        if (!m->node_known || memcmp(&alloc, &m->allocatable, sizeof(alloc)) != 0) {
                m->slice_bound = false;
                reporter_changed(m->reporter);
        }
        m->node = f;
        m->allocatable = alloc;
        m->node_known = true;
        if (m->supervisor)
                supervisor_set_allocatable(m->supervisor, &alloc);
        manager_bound_slice(m);
}

json_t *manager_conditions_json(Manager *m) {
        uint64_t disk_threshold = m->node.capacity.disk / 100 * m->config->eviction_disk_percent;
        json_t *c;

        if (!m->node_known)
                return json_object();
        /* kubelet's conditions: a resource under its eviction threshold (or, for memory, under pressure) */
        c = json_pack("{s:b,s:b,s:b}",
                      "memory_pressure", m->node.memory_available < m->config->eviction_memory ||
                                                 m->node.memory_pressure_avg10 > 10.0,
                      "disk_pressure", m->node.capacity.disk > 0 && m->node.disk_free < disk_threshold,
                      "pids_pressure", m->node.capacity.pids > 0 && m->node.pids_current > m->node.capacity.pids / 10 * 9);
        if (c && m->node.memory_pressure_avg10 >= 0)
                json_object_set_new(c, "memory_psi_some_avg10", json_real(m->node.memory_pressure_avg10));
        if (c && m->node.cpu_pressure_avg10 >= 0)
                json_object_set_new(c, "cpu_psi_some_avg10", json_real(m->node.cpu_pressure_avg10));
        if (c && m->node.io_pressure_avg10 >= 0)
                json_object_set_new(c, "io_psi_some_avg10", json_real(m->node.io_pressure_avg10));
        return c;
}

json_t *manager_capacity_json(Manager *m) {
        CapacityPolicy policy = manager_policy(m);
        Resources committed = m->supervisor ? supervisor_committed(m->supervisor) : (Resources) {};
        Resources free_now = resources_sub(&m->allocatable, &committed);
        Resources threshold = { .memory = m->config->eviction_memory,
                                .disk = m->node.capacity.disk / 100 * m->config->eviction_disk_percent };

        return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:{s:I,s:I,s:I,s:I},s:o,s:o,s:o,s:o}",
                         "capacity", resources_to_json(&m->node.capacity),
                         "reserved", resources_to_json(&policy.reserved),
                         "eviction_threshold", resources_to_json(&threshold),
                         "allocatable", resources_to_json(&m->allocatable),
                         "committed", resources_to_json(&committed),
                         "free", resources_to_json(&free_now),
                         /* one node: the largest service that still fits is what is free */
                         "largest_fit", resources_to_json(&free_now),
                         "host", "memory_available", (json_int_t) m->node.memory_available,
                         "disk_free", (json_int_t) m->node.disk_free,
                         "inodes", (json_int_t) m->node.inodes,
                         "inodes_free", (json_int_t) m->node.inodes_free,
                         "ports", m->supervisor ? supervisor_ports_json(m->supervisor) : json_array(),
                         "services", m->supervisor ? supervisor_commitments_json(m->supervisor) : json_array(),
                         "conditions", manager_conditions_json(m),
                         "interfaces", m->netlink ? netlink_interfaces_json(m->netlink) : json_array());
}

/* "ID" and "VERSION_ID" of os-release, under the root. */
static json_t *manager_os_json(Manager *m) {
        _cleanup_free_ char *path = manager_path(m, "/etc/os-release"), *text = NULL;
        json_t *os = json_object();

        if (!path || !os)
                return os;
        if (read_full_file(path, 64 * 1024, &text, NULL) < 0) {
                free(path);
                path = manager_path(m, "/usr/lib/os-release");
                if (!path || read_full_file(path, 64 * 1024, &text, NULL) < 0)
                        return os;
        }
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
                char *eq = strchr(line, '=');
                const char *key;
                size_t n;

                if (!eq)
                        continue;
                *eq = 0;
                key = streq(line, "ID") ? "id" : streq(line, "VERSION_ID") ? "version" :
                      streq(line, "PRETTY_NAME") ? "pretty_name" : NULL;
                if (!key)
                        continue;
                eq++;
                n = strlen(eq);
                if (n >= 2 && (eq[0] == '"' || eq[0] == '\'') && eq[n - 1] == eq[0]) {
                        eq[n - 1] = 0;
                        eq++;
                }
                json_object_set_new(os, key, json_string(eq));
        }
        return os;
}

json_t *manager_document_json(Manager *m) {
        json_t *doc, *cap = manager_capacity_json(m);

        /* schema 2: docs/CONFIGURATION.md documents every field */
        doc = json_pack("{s:i,s:s,s:O,s:o,s:s,s:I}",
                        "schema", 2,
                        "node", m->node_name,
                        "labels", m->config->node_labels,
                        "os", manager_os_json(m),
                        "ballast_version", PACKAGE_VERSION,
                        "taken_at_usec", (json_int_t) now_usec(CLOCK_REALTIME));
        if (!doc || !cap) {
                json_decref(cap);
                json_decref(doc);
                return NULL;
        }
        json_object_update(doc, cap); /* capacity, reserved, allocatable, committed, free, largest_fit, ports, … */
        json_decref(cap);
        json_object_set_new(doc, "services", m->supervisor ? supervisor_services_json(m->supervisor) : json_array());
        json_object_set_new(doc, "drain", json_pack("{s:b,s:b}", "draining", m->draining, "drained", m->drain_done));
        json_object_set_new(doc, "shutdown", shutdown_guard_json(m->shutdown));
        json_object_set_new(doc, "updates", m->updater ? updater_report_json(m->updater)
                                                       : json_pack("{s:s}", "state", "unmanaged"));

        /* "taken at" moves only when the content does: an unchanged document compares equal, and the
         * reporter does not put it again at every keepalive */
        json_object_del(doc, "taken_at_usec");
        if (!m->last_document || !json_equal(m->last_document, doc)) {
                json_decref(m->last_document);
                m->last_document = json_deep_copy(doc);
                m->last_document_taken_usec = now_usec(CLOCK_REALTIME);
        }
        json_object_set_new(doc, "taken_at_usec", json_integer((json_int_t) m->last_document_taken_usec));
        return doc;
}

static json_t *manager_report_document(void *userdata) {
        return manager_document_json(userdata);
}

/* The cluster: etcd and/or an HTTP endpoint; none configured is standalone, a full mode. Host paths of the
 * TLS files and the token resolve under the root like every other. */
int manager_start_reporter(Manager *m) {
        const Config *c = m->config;
        _cleanup_free_ char *ca = c->etcd_ca ? manager_path(m, c->etcd_ca) : NULL,
                            *cert = c->etcd_cert ? manager_path(m, c->etcd_cert) : NULL,
                            *key = c->etcd_key ? manager_path(m, c->etcd_key) : NULL,
                            *token = c->http_token_file ? manager_path(m, c->http_token_file) : NULL;
        int r;

        r = reporter_new(&m->reporter, m->event, m->http,
                         &(ReporterOptions) { .etcd_endpoints = c->etcd_endpoints, .etcd_prefix = c->etcd_prefix,
                                              .etcd_ttl_s = c->etcd_ttl_s, .etcd_ca = ca, .etcd_cert = cert,
                                              .etcd_key = key, .http_url = c->http_url, .http_token_file = token,
                                              .http_interval_s = c->http_interval_s, .node_name = m->node_name },
                         manager_report_document, m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up cluster reporting: %m");
        /* an unreachable cluster is retried on the loop; it never keeps us from serving */
        (void) reporter_start(m->reporter);
        return 0;
}
