/* SPDX-License-Identifier: MIT */
/* ballast-pause: the only process of a service's network holder container (ballast-NAME.net).
 *
 * The holder owns the service's network namespace and its published ports; the service's container joins it
 * (NetworkMode container:ID), so a restart of the service's container creates no namespace, veth, NAT rules or
 * userland proxy, and its exit tears none down (see ballast-run.c, "the network holder"). This program only
 * has to stay alive until it is stopped. It is PID 1 of its container, where a signal without a handler is
 * dropped, but a blocked one stays pending: so it blocks SIGTERM and SIGINT and waits for one of them.
 *
 * It is the only file of the image ballast/pause that ballast-run imports, so it needs no library: on x86-64
 * and AArch64 (the CoreOS architectures) it makes its three system calls itself and is about 1 KiB (a static
 * glibc one is 670 KiB, and the Ignition config inlines it); elsewhere it is linked statically with libc. */

#include <signal.h>
#include <sys/syscall.h>

#if (defined(__x86_64__) || defined(__aarch64__)) && !defined(BALLAST_PAUSE_LIBC)

/* a system call with up to four arguments */
static long sys4(long n, long a, long b, long c, long d) {
        long r;
#if defined(__x86_64__)
        register long r10 __asm__("r10") = d;
        __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
#else
        register long x8 __asm__("x8") = n, x0 __asm__("x0") = a, x1 __asm__("x1") = b, x2 __asm__("x2") = c,
                      x3 __asm__("x3") = d;
        __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
        r = x0;
#endif
        return r;
}

void _start(void) __attribute__((noreturn));
void _start(void) {
        /* the kernel's sigset: one bit per signal, 8 bytes */
        unsigned long set = (1UL << (SIGTERM - 1)) | (1UL << (SIGINT - 1));

        (void) sys4(SYS_rt_sigprocmask, SIG_BLOCK, (long) &set, 0, 8);
        /* returns the signal's number once one is pending; anything else (EINTR) waits again */
        while (sys4(SYS_rt_sigtimedwait, (long) &set, 0, 0, 8) <= 0)
                ;
        for (;;)
                (void) sys4(SYS_exit_group, 0, 0, 0, 0);
}

#else

#include <stdlib.h>

int main(void) {
        sigset_t set;
        int sig;

        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
                return EXIT_FAILURE;
        while (sigwait(&set, &sig) != 0)
                ;
        return EXIT_SUCCESS;
}

#endif
