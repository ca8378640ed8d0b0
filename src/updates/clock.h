/* SPDX-License-Identifier: MIT */
#pragma once

/* Is the system clock synchronized? What systemd-timedated answers as NTPSynchronized, which it computes from
 * the kernel's NTP state (adjtimex()), whoever keeps that state: chrony on Fedora CoreOS, systemd-timesyncd on
 * Flatcar, ntpd anywhere. ballastd asks timedated over D-Bus and reads the kernel itself only when timedated is
 * not on the bus. Pure but for updates_clock_read_kernel(). */

#include <stdbool.h>
#include <sys/timex.h>

/* The kernel's maximum error is capped at 16 s (NTP_PHASE_LIMIT, in µs) while nobody disciplines the clock. */
#define UPDATES_CLOCK_MAXERROR_LIMIT_US 16000000L

/* The kernel's state, as returned by adjtimex(), read the way systemd's ntp_synced() reads it: synchronized when
 * the estimated maximum error is below the 16 s the kernel caps it at while unsynchronized. STA_UNSYNC alone does
 * not say "unsynchronized": chrony leaves it set (so that the kernel does not copy the clock to the RTC every
 * 11 min) while it keeps the clock synchronized. A failed adjtimex() (ret_value < 0) is not synchronized. */
bool updates_clock_synced_from_timex(int adjtimex_return, const struct timex *t);

/* adjtimex() with no modes (a read; it changes nothing). 1 synchronized, 0 not, -errno when it cannot be read
 * (EPERM under a system call filter without it). */
int updates_clock_read_kernel(void);
