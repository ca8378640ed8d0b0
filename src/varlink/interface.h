/* SPDX-License-Identifier: MIT */
#pragma once

/* The io.ballast.Agent Varlink interface: its text lives here and nowhere else. */

#define BALLAST_INTERFACE "io.ballast.Agent"

extern const char ballast_interface_description[];

/* Pairs of interface name and description, NULL-terminated, for varlink_server_set_info(). */
extern const char *const ballast_interfaces[];
