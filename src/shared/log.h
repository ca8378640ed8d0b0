/* SPDX-License-Identifier: MIT */
#pragma once

/* Logging to the journal with structured fields, or to stderr with "<N>" priority prefixes when there is no
 * journal (the prefix is what systemd's stream parser understands, so nothing is lost either way). */

#include <stdarg.h>
#include <syslog.h>

#include "shared/macro.h"

typedef enum LogTarget {
        LOG_TARGET_AUTO,
        LOG_TARGET_JOURNAL,
        LOG_TARGET_STDERR,
} LogTarget;

void log_setup(LogTarget target, int max_level);
int log_get_max_level(void);
void log_set_max_level(int level);
int log_parse_level(const char *s);

/* Structured fields that go with one message; any may be NULL. */
typedef struct LogFields {
        const char *event;       /* BALLAST_EVENT= */
        const char *service;     /* BALLAST_SERVICE= */
        const char *message_id;  /* MESSAGE_ID=, 32 hex digits */
} LogFields;

int log_internal(int level, int error, const LogFields *fields, const char *file, int line, const char *func,
                 const char *format, ...) _printf_(7, 8);

#define log_full_errno(level, error, ...) \
        log_internal((level), (error), NULL, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_full(level, ...) log_full_errno((level), 0, __VA_ARGS__)

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, (e), __VA_ARGS__)

/* An event: a message with BALLAST_EVENT= (and optionally BALLAST_SERVICE= and MESSAGE_ID=). */
#define log_event(level, error, ev, svc, msgid, ...)                                       \
        log_internal((level), (error), &(const LogFields) { .event = (ev), .service = (svc), \
                                                            .message_id = (msgid) },        \
                     __FILE__, __LINE__, __func__, __VA_ARGS__)

/* MESSAGE_IDs of the events an operator may want to find in the journal. */
#define BALLAST_MESSAGE_STARTED "5d3f5c1a2e0b4d6f9a7c8e1b2d3f4a51"
#define BALLAST_MESSAGE_STOPPED "5d3f5c1a2e0b4d6f9a7c8e1b2d3f4a52"
#define BALLAST_MESSAGE_RELOADED "5d3f5c1a2e0b4d6f9a7c8e1b2d3f4a53"
#define BALLAST_MESSAGE_RELOAD_FAILED "5d3f5c1a2e0b4d6f9a7c8e1b2d3f4a54"
#define BALLAST_MESSAGE_ERROR "5d3f5c1a2e0b4d6f9a7c8e1b2d3f4a55"
#define BALLAST_MESSAGE_SERVICE_APPLIED "5d3f5c1a2e0b4d6f9a7c8e1b2d3f4a56"
#define BALLAST_MESSAGE_SERVICE_REMOVED "5d3f5c1a2e0b4d6f9a7c8e1b2d3f4a57"
#define BALLAST_MESSAGE_SERVICE_UNHEALTHY "5d3f5c1a2e0b4d6f9a7c8e1b2d3f4a58"
#define BALLAST_MESSAGE_SERVICE_FAILED "5d3f5c1a2e0b4d6f9a7c8e1b2d3f4a59"
#define BALLAST_MESSAGE_SERVICE_ROLLED_BACK "5d3f5c1a2e0b4d6f9a7c8e1b2d3f4a5a"
