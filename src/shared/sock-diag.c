/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/tcp.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "shared/macro.h"
#include "shared/sock-diag.h"

typedef struct Endpoint {
        int family;
        uint16_t port; /* network order */
        uint32_t addr[4];
} Endpoint;

static int endpoint_from(const struct sockaddr *sa, Endpoint *ret) {
        *ret = (Endpoint) {};
        if (sa->sa_family == AF_INET) {
                const struct sockaddr_in *in = (const struct sockaddr_in *) sa;
                *ret = (Endpoint) { .family = AF_INET, .port = in->sin_port, .addr[0] = in->sin_addr.s_addr };
                return 0;
        }
        if (sa->sa_family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;
                if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
                        ret->family = AF_INET;
                        memcpy(&ret->addr[0], &in6->sin6_addr.s6_addr[12], 4);
                } else {
                        ret->family = AF_INET6;
                        memcpy(ret->addr, &in6->sin6_addr, 16);
                }
                ret->port = in6->sin6_port;
                return 0;
        }
        return -EAFNOSUPPORT;
}

int sock_diag_tcp_owner_uid(const struct sockaddr *sock_local, const struct sockaddr *sock_remote, uid_t *ret_uid) {
        struct {
                struct nlmsghdr nlh;
                struct inet_diag_req_v2 r;
        } req = {};
        union {
                struct nlmsghdr nlh;
                char buf[8192];
        } reply;
        struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
        _cleanup_close_ int fd = -1;
        Endpoint local, remote;
        ssize_t n;
        int r;

        r = endpoint_from(sock_local, &local);
        if (r < 0)
                return r;
        r = endpoint_from(sock_remote, &remote);
        if (r < 0)
                return r;
        if (local.family != remote.family)
                return -EINVAL;

        req.nlh = (struct nlmsghdr) { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                                      .nlmsg_flags = NLM_F_REQUEST, .nlmsg_seq = 1 };
        req.r = (struct inet_diag_req_v2) { .sdiag_family = (uint8_t) local.family, .sdiag_protocol = IPPROTO_TCP,
                                            .idiag_states = ~0U };
        req.r.id.idiag_sport = local.port;
        req.r.id.idiag_dport = remote.port;
        memcpy(req.r.id.idiag_src, local.addr, sizeof(local.addr));
        memcpy(req.r.id.idiag_dst, remote.addr, sizeof(remote.addr));
        req.r.id.idiag_cookie[0] = req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

        fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
        if (fd < 0)
                return -errno;
        if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *) &kernel, sizeof(kernel)) < 0)
                return -errno;
        n = recv(fd, &reply, sizeof(reply), 0);
        if (n < 0)
                return -errno;

        for (struct nlmsghdr *h = &reply.nlh; NLMSG_OK(h, (size_t) n); h = NLMSG_NEXT(h, n)) {
                if (h->nlmsg_type == NLMSG_ERROR) {
                        const struct nlmsgerr *e = NLMSG_DATA(h);
                        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
                                return -EBADMSG;
                        return e->error < 0 ? e->error : -ENOENT;
                }
                if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
                        continue;
                const struct inet_diag_msg *m = NLMSG_DATA(h);
                /* the very socket asked for: the kernel's exact lookup could fall back to a listener */
                if (m->id.idiag_sport != local.port || m->id.idiag_dport != remote.port ||
                    memcmp(m->id.idiag_src, local.addr, sizeof(local.addr)) != 0 ||
                    memcmp(m->id.idiag_dst, remote.addr, sizeof(remote.addr)) != 0)
                        return -ENOENT;
                /* a socket its owner closed (orphaned: no inode) or in time-wait reports uid 0: it proves nothing */
                if (m->idiag_inode == 0 || m->idiag_state == TCP_TIME_WAIT || m->idiag_state == TCP_LISTEN ||
                    m->idiag_state == TCP_CLOSE)
                        return -EPERM;
                *ret_uid = (uid_t) m->idiag_uid;
                return 0;
        }
        return -ENOENT;
}
