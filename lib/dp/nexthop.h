/* SPDX-License-Identifier: Apache-2.0 */
/* Resolving an SLB's next hop (egress interface and MACs) through netlink. */
#ifndef VSN_NEXTHOP_H
#define VSN_NEXTHOP_H

#include <stdbool.h>
#include <linux/types.h>

#include "addr.h"

struct vsn_nexthop {
	__u32 ifindex;
	__u8 dmac[6];
	__u8 smac[6];
	__u32 mtu;	     /* the route's MTU, else the egress interface's */
	bool gateway;	     /* reached through a router, not on-link */
	struct vsn_addr via; /* the address whose MAC dmac is */
};

/*
 * Look up the route to dst in this network namespace, then the neighbour
 * entry of its next hop. A missing or failed neighbour is made a managed
 * entry (the kernel then keeps it resolved) and waited for up to
 * timeout_ms (0: do not wait; call again later). -ENETUNREACH: no unicast route; -EHOSTUNREACH: the
 * neighbour failed; -ETIMEDOUT: not resolved in time; -EOPNOTSUPP: not Ethernet.
 */
int vsn_nexthop_resolve(const struct vsn_addr *dst, int timeout_ms, struct vsn_nexthop *ret);

/*
 * A non-blocking netlink socket that becomes readable when links, routes or
 * neighbours change in this network namespace; its fd, or a negative errno.
 */
int vsn_nexthop_events_open(void);
/* Read and discard what is pending; how many messages (or lost batches). */
int vsn_nexthop_events_drain(int fd);

#endif /* VSN_NEXTHOP_H */
