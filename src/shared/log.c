/* SPDX-License-Identifier: MIT */
#include <alloca.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "shared/log.h"

static LogTarget log_target = LOG_TARGET_STDERR;
static int log_max_level = LOG_INFO;

/* stderr is the journal when systemd told us so through $JOURNAL_STREAM (device:inode of the stream). */
static int stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return 0;
        if (fstat(STDERR_FILENO, &st) < 0)
                return 0;
        return st.st_dev == dev && st.st_ino == ino;
}

void log_setup(LogTarget target, int max_level) {
        if (target == LOG_TARGET_AUTO)
                target = stderr_is_journal() ? LOG_TARGET_JOURNAL : LOG_TARGET_STDERR;
        log_target = target;
        if (max_level >= 0)
                log_max_level = max_level;
}

int log_get_max_level(void) {
        return log_max_level;
}

void log_set_max_level(int level) {
        log_max_level = level;
}

int log_parse_level(const char *s) {
        static const char *const names[] = { "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug" };
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (streq(s, names[i]))
                        return (int) i;
        return -EINVAL;
}

int log_internal(int level, int error, const LogFields *fields, const char *file, int line, const char *func,
                 const char *format, ...) {
        char buf[2048];
        va_list ap;
        int saved = errno;

        if (error < 0)
                error = -error;
        if (level > log_max_level)
                return -error;

        /* %m in the format means the error we were given, not whatever errno happens to hold */
        errno = error;
        va_start(ap, format);
        vsnprintf(buf, sizeof(buf), format, ap);
        va_end(ap);

        if (log_target == LOG_TARGET_JOURNAL) {
                char fl[64], ln[32], pr[16], er[32], ev[128], sv[128], id[64];
                struct iovec iov[10];
                size_t n = 0;
                char *msg;

#define ADD(s) iov[n++] = (struct iovec) { .iov_base = (s), .iov_len = strlen(s) }
                msg = alloca(strlen(buf) + sizeof("MESSAGE="));
                stpcpy(stpcpy(msg, "MESSAGE="), buf);
                ADD(msg);
                snprintf(pr, sizeof(pr), "PRIORITY=%d", level);
                ADD(pr);
                snprintf(fl, sizeof(fl), "CODE_FILE=%s", file);
                ADD(fl);
                snprintf(ln, sizeof(ln), "CODE_LINE=%d", line);
                ADD(ln);
                if (error > 0) {
                        snprintf(er, sizeof(er), "ERRNO=%d", error);
                        ADD(er);
                }
                if (fields && fields->event) {
                        snprintf(ev, sizeof(ev), "BALLAST_EVENT=%s", fields->event);
                        ADD(ev);
                }
                if (fields && fields->service) {
                        snprintf(sv, sizeof(sv), "BALLAST_SERVICE=%s", fields->service);
                        ADD(sv);
                }
                if (fields && fields->message_id) {
                        snprintf(id, sizeof(id), "MESSAGE_ID=%s", fields->message_id);
                        ADD(id);
                }
#undef ADD
                (void) func;
                if (sd_journal_sendv(iov, n) >= 0)
                        goto finish;
        }

        if (fields && fields->service)
                fprintf(stderr, "<%d>%s: %s\n", level, fields->service, buf);
        else
                fprintf(stderr, "<%d>%s\n", level, buf);
finish:
        errno = saved;
        return -error;
}
