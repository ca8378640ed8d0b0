/* SPDX-License-Identifier: MIT */
#include <stddef.h>

#include "interface.h"

const char ballast_interface_description[] =
        "# ballast: a node agent for CoreOS hosts. Services are Docker containers (or plain processes)\n"
        "# run as systemd units; this interface is the only way to drive the agent.\n"
        "interface io.ballast.Agent\n"
        "\n"
        "type ServiceCounts (\n"
        "  total: int,\n"
        "  active: int,\n"
        "  failed: int\n"
        ")\n"
        "\n"
        "# The agent itself: what it runs as, how long, and what it is still waiting for.\n"
        "method GetStatus() -> (\n"
        "  version: string,\n"
        "  node: string,\n"
        "  pid: int,\n"
        "  started_at_usec: int,\n"
        "  uptime_usec: int,\n"
        "  config: string,\n"
        "  # why the configuration file was refused; the agent then serves this socket and acts on nothing\n"
        "  config_error: ?string,\n"
        "  config_loaded_at_usec: int,\n"
        "  services: ServiceCounts,\n"
        "  waiting_for: []string,\n"
        "  connections: int\n"
        ")\n"
        "\n"
        "error InvalidMessage (reason: string)\n"
        "error MessageTooLarge (limit: int)\n"
        "error InternalError (reason: string)\n";

const char *const ballast_interfaces[] = {
        BALLAST_INTERFACE, ballast_interface_description,
        NULL,
};
