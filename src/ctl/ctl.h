/* SPDX-License-Identifier: MIT */
#pragma once

/* ballastctl's own pieces, shared by its files and by nothing else. Every verb is one small function that calls
 * one Varlink method of ballastd and prints its answer:
 *
 *   ballastctl.c       main, the options, the verb table, call()
 *   ctl-services.c     ps, inspect, apply, rm, restart, rollback, logs
 *   ctl-node.c         status, capacity, nodes, drain, undrain
 *   ctl-update.c       update status|pin|pause|resume|window|approve
 *   ctl-output.c       what several verbs print the same way (JSON, durations, timestamps, resources)
 *   ctl-errors.c       the exit codes and the sentences of ballastd's errors (pure: tests/unit/test-ctl)
 *   ctl-fleet.c        the cluster's fragmentation, from the nodes' documents (pure: tests/unit/test-ctl) */

#include <jansson.h>
#include <stdio.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The exit codes of ballastctl, the one table of them: `ballastctl --help` and man/ballastctl.1.scd print the
 * same. Which error of ballastd gives which code: ctl_error_exit_code() (ctl-errors.c). */
typedef enum CtlExit {
        CTL_EXIT_OK = 0,
        CTL_EXIT_FAILED = 1,         /* the operation was tried and failed: a service failed, a write failed */
        CTL_EXIT_USAGE = 2,          /* a bad command line, or input ballastd refuses as invalid */
        CTL_EXIT_REFUSED = 3,        /* refused in the node's current state, or permission denied */
        CTL_EXIT_NOT_FOUND = 4,      /* no such service */
        CTL_EXIT_UNREACHABLE = 5,    /* ballastd is not running, or did not answer in time */
        CTL_EXIT_CONFIG_INVALID = 6, /* status: the configuration is invalid, and nothing is acted on */
        CTL_EXIT_DEADLINE = 7,       /* apply --wait, restart: the -t deadline passed before the service settled */
} CtlExit;

/* the options (ballastctl.c) */
extern const char *arg_socket;
extern bool arg_json;
extern bool arg_wait;
extern bool arg_follow;
extern bool arg_wide;
extern bool arg_dry_run; /* apply: what would change, nothing applied */
extern bool arg_volumes; /* rm: the service's named volumes too */
extern const char *arg_lines, *arg_since, *arg_output; /* logs: through to journalctl */
extern const char *arg_verb; /* the verb being run: what error messages begin with */
extern uint64_t arg_timeout_usec;
/* -t as a deadline: CLOCK_MONOTONIC µs when ballastctl gives up, set once at the start. Every wait of a verb (each
 * read of a call, each progress reply of apply --wait, the calls after it) ends by it, so that -t bounds the whole
 * wait rather than each read. */
extern uint64_t arg_deadline_usec;

/* the exit status when the deadline passed (documented in --help and ballastctl(1)) */
#define EXIT_DEADLINE CTL_EXIT_DEADLINE

/* ballastctl.c */
const char *socket_path(void);
int call(const char *method, json_t *params, json_t **ret);

/* ctl-errors.c */
int ctl_error_exit_code(const char *error);
int ctl_errno_exit_code(int error); /* a negative errno of connecting or calling */
char *ctl_error_sentence(const char *error, json_t *params);
void ctl_print_error(const char *verb, const char *error, json_t *params);

/* ctl-fleet.c: per resource (cpu, memory, pids), the sum of what is free on the nodes, and the largest
 * service that fits on one of them, with that node's name */
typedef struct FleetFragmentation {
        double free_total[3];
        double largest_fit[3];
        const char *largest_node[3]; /* points into the nodes' JSON; NULL: no node reports it */
        size_t nodes, reporting;     /* nodes listed, nodes with a document */
} FleetFragmentation;
extern const char *const fleet_resources[3];
int fleet_fragmentation(json_t *nodes, FleetFragmentation *ret);
json_t *fleet_fragmentation_json(const FleetFragmentation *f);

/* ctl-output.c */
int print_json(json_t *v);
const char *json_str(json_t *o, const char *key);
const char *age_of(char *buf, size_t len, uint64_t now_usec, uint64_t then_usec);
const char *format_duration(char *buf, size_t len, uint64_t usec);
const char *format_timestamp(char *buf, size_t len, uint64_t usec);
const char *fmt_resource(char *buf, size_t len, const char *resource, json_t *v);
void print_health_restarts(FILE *f, const char *name, json_t *status);

/* ctl-services.c */
int verb_ps(int argc, char *argv[]);
int verb_inspect(int argc, char *argv[]);
int verb_rm(int argc, char *argv[]);
int verb_restart(int argc, char *argv[]);
int verb_stop(int argc, char *argv[]);
int verb_rollback(int argc, char *argv[]);
int verb_validate(int argc, char *argv[]);
int verb_diff(int argc, char *argv[]);
int verb_start(int argc, char *argv[]);
int verb_logs(int argc, char *argv[]);
int verb_apply(int argc, char *argv[]);

/* ctl-node.c */
int verb_status(int argc, char *argv[]);
int verb_capacity(int argc, char *argv[]);
int verb_nodes(int argc, char *argv[]);
int verb_drain(int argc, char *argv[]);

/* ballastctl.c: the verbs' help */
int verb_help(int argc, char *argv[]);

/* ctl-update.c */
int verb_update(int argc, char *argv[]);
