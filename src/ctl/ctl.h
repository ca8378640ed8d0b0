/* SPDX-License-Identifier: MIT */
#pragma once

/* ballastctl's own pieces, shared by its files and by nothing else. Every verb is one small function that calls
 * one Varlink method of ballastd and prints its answer:
 *
 *   ballastctl.c       main, the options, the verb table, call()
 *   ctl-services.c     ps, inspect, apply, rm, restart, logs
 *   ctl-node.c         status, capacity, nodes, drain, undrain
 *   ctl-update.c       update status|pin|pause|resume|window|approve
 *   ctl-output.c       what several verbs print the same way (JSON, durations, timestamps, resources) */

#include <jansson.h>
#include <stdio.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* the options (ballastctl.c) */
extern const char *arg_socket;
extern bool arg_json;
extern bool arg_wait;
extern bool arg_follow;
extern uint64_t arg_timeout_usec;
/* -t as a deadline: CLOCK_MONOTONIC µs when ballastctl gives up, set once at the start. Every wait of a verb (each
 * read of a call, each progress reply of apply --wait, the calls after it) ends by it, so that -t bounds the whole
 * wait rather than each read. */
extern uint64_t arg_deadline_usec;

/* the exit status when the deadline passed (documented in --help and ballastctl(1)) */
#define EXIT_DEADLINE 3

/* ballastctl.c */
const char *socket_path(void);
int call(const char *method, json_t *params, json_t **ret);

/* ctl-output.c */
int print_json(json_t *v);
const char *format_duration(char *buf, size_t len, uint64_t usec);
const char *format_timestamp(char *buf, size_t len, uint64_t usec);
const char *fmt_resource(char *buf, size_t len, const char *resource, json_t *v);
void print_health_restarts(FILE *f, const char *name, json_t *status);

/* ctl-services.c */
int verb_ps(int argc, char *argv[]);
int verb_inspect(int argc, char *argv[]);
int verb_rm(int argc, char *argv[]);
int verb_restart(int argc, char *argv[]);
int verb_logs(int argc, char *argv[]);
int verb_apply(int argc, char *argv[]);

/* ctl-node.c */
int verb_status(int argc, char *argv[]);
int verb_capacity(int argc, char *argv[]);
int verb_nodes(int argc, char *argv[]);
int verb_drain(int argc, char *argv[]);

/* ctl-update.c */
int verb_update(int argc, char *argv[]);
