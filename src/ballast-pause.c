/* SPDX-License-Identifier: MIT */
/* ballast-pause: the only process of a service's network holder container (ballast-NAME.net).
 *
 * The holder owns the service's network namespace and its published ports; the service's container joins it
 * (NetworkMode container:ID), so a restart of the service's container creates no namespace, veth, NAT rules or
 * userland proxy, and its exit tears none down (see ballast-run.c, "the network holder"). This program only
 * has to stay alive until it is stopped: it is PID 1 of its container, where a signal without a handler is
 * ignored, so SIGTERM and SIGINT get one. Linked statically: ballast-run imports it as the only file of the
 * image ballast/pause, which has no libraries. */

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

static void on_signal(int sig) {
        _exit(EXIT_SUCCESS);
}

int main(void) {
        struct sigaction sa = { .sa_handler = on_signal };

        if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
                return EXIT_FAILURE;
        for (;;)
                pause();
}
