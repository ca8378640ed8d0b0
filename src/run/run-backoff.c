/* SPDX-License-Identifier: MIT */
/* The crash-loop backoff outside systemd (systemd 252 has no RestartSteps=). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "run/run.h"
#include "shared/fileio.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/parse-util.h"
#include "shared/time-util.h"


typedef struct BackoffState {
        uint64_t start_usec; /* CLOCK_BOOTTIME of the previous start (before its delay) */
        uint64_t delay_ms;   /* the delay that start slept */
} BackoffState;

/* The delay before this start.
 *
 * The rule: a start that follows a run which "ran a while" waits nothing extra (the unit's RestartSec=,
 * which is delay_ms, already waited); a run "ran a while" when it lived at least stable_ms after its own
 * delay, i.e. previous start + previous delay + stable_ms ≤ now. A start that follows a quick exit waits
 * twice the previous delay, at least delay_ms and at most max_delay_ms: delay_ms, 2·delay_ms, 4·delay_ms, …
 * up to max_delay_ms. With delay_ms 0 the first quick exit still backs off BACKOFF_FLOOR_MS, so that a crash
 * loop never spins (the unit has StartLimitIntervalSec=0). No previous start (first start of this boot: the
 * state lives in /run) means no delay, and so does a recorded start in the future (a state file from another
 * boot or clock). */
#define BACKOFF_FLOOR_MS 100
static uint64_t backoff_delay(const BackoffState *prev, uint64_t now_usec, uint64_t delay_ms, uint64_t max_delay_ms,
                              uint64_t stable_ms) {
        uint64_t ran_until, d;

        if (!prev || prev->start_usec > now_usec)
                return 0;
        ran_until = prev->start_usec + (prev->delay_ms + stable_ms) * USEC_PER_MSEC;
        if (ran_until <= now_usec)
                return 0;
        d = prev->delay_ms > UINT64_MAX / 2 ? UINT64_MAX : prev->delay_ms * 2;
        d = MAX(d, MAX(delay_ms, (uint64_t) BACKOFF_FLOOR_MS));
        return MIN(d, MAX(max_delay_ms, (uint64_t) BACKOFF_FLOOR_MS));
}

static int backoff_state_parse(const char *text, BackoffState *ret) {
        BackoffState s = {};
        char start[32], delay[32];

        if (sscanf(text, "start_usec=%31[0-9]\ndelay_ms=%31[0-9]\n", start, delay) != 2)
                return -EBADMSG;
        if (safe_atou64(start, &s.start_usec) < 0 || safe_atou64(delay, &s.delay_ms) < 0)
                return -EBADMSG;
        *ret = s;
        return 0;
}

/* Reads the previous start of this service, decides the delay before this one and records this start (before
 * sleeping, so that a start killed in its sleep still counts as a quick one). A state that cannot be read or
 * written only loses the backoff; it must not keep the workload from starting. */
int backoff_take(uint64_t *ret_delay_ms) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        BackoffState prev, next;
        bool have_prev = false;
        char buf[128];
        uint64_t now;
        int r, n;

        path = path_join(arg_state_dir, arg_name);
        if (!path)
                return log_error_errno(-ENOMEM, "Out of memory");

        r = read_full_file(path, 4096, &text, NULL);
        if (r >= 0) {
                if (backoff_state_parse(text, &prev) >= 0)
                        have_prev = true;
                else
                        log_warning("Backoff state %s is malformed, treating this as a first start", path);
        } else if (r != -ENOENT)
                log_warning_errno(r, "Cannot read backoff state %s, treating this as a first start: %m", path);

        now = now_usec(CLOCK_BOOTTIME);
        next = (BackoffState) {
                .start_usec = now,
                .delay_ms = backoff_delay(have_prev ? &prev : NULL, now, arg_delay_ms, arg_max_delay_ms, arg_stable_ms),
        };

        n = snprintf(buf, sizeof(buf), "start_usec=%" PRIu64 "\ndelay_ms=%" PRIu64 "\n", next.start_usec,
                     next.delay_ms);
        r = mkdir_parents_and_self(arg_state_dir, 0755);
        if (r >= 0)
                r = write_file_atomic(path, buf, (size_t) n, 0644);
        if (r < 0)
                log_warning_errno(r, "Cannot write backoff state %s, ignoring: %m", path);

        if (next.delay_ms == 0)
                log_debug("No backoff for %s", arg_name);
        else
                log_notice("backing off %" PRIu64 " ms after a quick exit of %s", next.delay_ms, arg_name);
        *ret_delay_ms = next.delay_ms;
        return 0;
}

/* Sleeps the backoff's delay: -EINTR, logged, when SIGTERM/SIGINT (on signal_fd, see signals_block) ends it. A
 * failing poll() only shortens the backoff: it must not keep the workload from starting. */
int backoff_sleep(int signal_fd, uint64_t delay_ms) {
        if (delay_ms == 0 || sleep_interruptible(signal_fd, delay_ms) != -EINTR)
                return 0;
        log_info("Stop requested during the backoff of %s; not starting it", arg_name);
        return -EINTR;
}

/* A stop during the sleep (systemd's SIGTERM to ExecStartPre=) ends it with success: systemd, which is stopping
 * the unit, then leaves it inactive. Killed by the signal instead, the start command would count as failed and
 * the unit would end "failed" (Result=signal), as if the service had crashed, after a plain stop or a drain. */
int run_backoff(void) {
        _cleanup_close_ int signal_fd = -EBADF;
        uint64_t delay_ms;

        /* before the decision is logged: a stop right after it is not lost */
        signal_fd = signals_block();
        if (signal_fd < 0 || backoff_take(&delay_ms) < 0)
                return EXIT_FAILURE;
        (void) backoff_sleep(signal_fd, delay_ms); /* ended by a stop, or not: this command's part is done */
        return EXIT_SUCCESS;
}
