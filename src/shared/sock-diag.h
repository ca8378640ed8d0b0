/* SPDX-License-Identifier: MIT */
#pragma once

/* Who owns the other end of a local TCP connection, from the kernel's sock_diag netlink interface
 * (NETLINK_SOCK_DIAG, an exact-match inet_diag_req_v2 request for one 4-tuple). For a connection accepted on
 * loopback, the client's socket is on this host: its owner is the uid that created it. */

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

/* The owner of the TCP socket whose local address is sock_local and whose remote address is sock_remote (for
 * an accepted connection: local = the peer's address as getpeername() gives it, remote = getsockname()'s).
 * AF_INET or AF_INET6 (an IPv4-mapped IPv6 pair is looked up as IPv4). -ENOENT when there is no such socket,
 * -EPERM when the socket is not one a process owns (closed by its owner: orphaned, or time-wait), so that its uid
 * says nothing (the kernel reports 0 for those). Synchronous, and answered by the kernel at once. */
int sock_diag_tcp_owner_uid(const struct sockaddr *sock_local, const struct sockaddr *sock_remote, uid_t *ret_uid);
