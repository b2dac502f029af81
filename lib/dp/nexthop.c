/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <arpa/inet.h>
#include <net/if_arp.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>

#include "nexthop.h"
#include "nl.h"

struct route_reply {
	int family;
	__u32 oif;
	__u32 mtu; /* RTAX_MTU of the route's metrics, 0 if none */
	bool has_gw;
	__u8 gw[16];
	__u8 type;
};

static int route_attr(const struct nlattr *a, void *data)
{
	struct route_reply *rr = data;
	size_t alen = rr->family == AF_INET ? 4 : 16;

	switch (mnl_attr_get_type(a)) {
	case RTA_OIF:
		if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
			rr->oif = mnl_attr_get_u32(a);
		break;
	case RTA_METRICS: {
		const struct nlattr *m;

		mnl_attr_for_each_nested(m, a) if (mnl_attr_get_type(m) == RTAX_MTU &&
						   mnl_attr_validate(m, MNL_TYPE_U32) >= 0)
			rr->mtu = mnl_attr_get_u32(m);
		break;
	}
	case RTA_GATEWAY:
		if (mnl_attr_get_payload_len(a) == alen) {
			memcpy(rr->gw, mnl_attr_get_payload(a), alen);
			rr->has_gw = true;
		}
		break;
	}
	return MNL_CB_OK;
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct route_reply *rr = data;
	struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);

	rr->type = rtm->rtm_type;
	mnl_attr_parse(nlh, sizeof(*rtm), route_attr, rr);
	return MNL_CB_OK;
}

static int route_get(struct nl *nl, const struct vsn_addr *dst, struct route_reply *ret)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(nl->buf);
	struct route_reply rr = {.family = dst->family};
	struct rtmsg *rtm;
	int r;

	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = dst->family;
	rtm->rtm_dst_len = dst->family == AF_INET ? 32 : 128;
	mnl_attr_put(nlh, RTA_DST, dst->family == AF_INET ? 4 : 16, dst->bytes);
	r = nl_talk(nl, nlh, route_cb, &rr);
	if (r)
		return r == -EHOSTUNREACH || r == -ENETUNREACH ? -ENETUNREACH : r;
	if (rr.type != RTN_UNICAST || !rr.oif)
		return -ENETUNREACH;
	*ret = rr;
	return 0;
}

struct link_reply {
	bool ok;
	unsigned short type;
	__u32 mtu;
	__u8 mac[6];
};

static int link_attr(const struct nlattr *a, void *data)
{
	struct link_reply *lr = data;

	if (mnl_attr_get_type(a) == IFLA_ADDRESS && mnl_attr_get_payload_len(a) == 6) {
		memcpy(lr->mac, mnl_attr_get_payload(a), 6);
		lr->ok = true;
	}
	if (mnl_attr_get_type(a) == IFLA_MTU && mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
		lr->mtu = mnl_attr_get_u32(a);
	return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct link_reply *lr = data;
	struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

	lr->type = ifi->ifi_type;
	mnl_attr_parse(nlh, sizeof(*ifi), link_attr, lr);
	return MNL_CB_OK;
}

static int link_mac(struct nl *nl, __u32 ifindex, __u8 mac[6], __u32 *ret_mtu)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(nl->buf);
	struct link_reply lr = {0};
	struct ifinfomsg *ifi;
	int r;

	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_index = ifindex;
	r = nl_talk(nl, nlh, link_cb, &lr);
	if (r)
		return r;
	if (lr.type != ARPHRD_ETHER || !lr.ok)
		return -EOPNOTSUPP;
	memcpy(mac, lr.mac, 6);
	*ret_mtu = lr.mtu;
	return 0;
}

struct neigh_reply {
	bool found;
	bool managed;
	__u16 state;
	bool has_mac;
	__u8 mac[6];
};

static int neigh_attr(const struct nlattr *a, void *data)
{
	struct neigh_reply *nr = data;

	if (mnl_attr_get_type(a) == NDA_LLADDR && mnl_attr_get_payload_len(a) == 6) {
		memcpy(nr->mac, mnl_attr_get_payload(a), 6);
		nr->has_mac = true;
	}
	if (mnl_attr_get_type(a) == NDA_FLAGS_EXT && mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
		nr->managed = mnl_attr_get_u32(a) & NTF_EXT_MANAGED;
	return MNL_CB_OK;
}

static int neigh_cb(const struct nlmsghdr *nlh, void *data)
{
	struct neigh_reply *nr = data;
	struct ndmsg *ndm = mnl_nlmsg_get_payload(nlh);

	nr->found = true;
	nr->state = ndm->ndm_state;
	mnl_attr_parse(nlh, sizeof(*ndm), neigh_attr, nr);
	return MNL_CB_OK;
}

static struct nlmsghdr *neigh_msg(struct nl *nl, int type, int flags, int family, __u32 ifindex,
				  const __u8 *addr)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(nl->buf);
	struct ndmsg *ndm;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	ndm->ndm_family = family;
	ndm->ndm_ifindex = ifindex;
	mnl_attr_put(nlh, NDA_DST, family == AF_INET ? 4 : 16, addr);
	return nlh;
}

static int neigh_get(struct nl *nl, int family, __u32 ifindex, const __u8 *addr,
		     struct neigh_reply *ret)
{
	struct neigh_reply nr = {0};
	int r;

	r = nl_talk(nl, neigh_msg(nl, RTM_GETNEIGH, 0, family, ifindex, addr), neigh_cb, &nr);
	if (r == -ENOENT)
		r = 0;
	if (r)
		return r;
	*ret = nr;
	return 0;
}

/* Make the entry managed: the kernel resolves it now and keeps it fresh. */
static int neigh_make_managed(struct nl *nl, int family, __u32 ifindex, const __u8 *addr)
{
	struct nlmsghdr *nlh;
	struct ndmsg *ndm;

	nlh = neigh_msg(nl, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK, family, ifindex,
			addr);
	ndm = mnl_nlmsg_get_payload(nlh);
	ndm->ndm_state = NUD_NONE;
	mnl_attr_put_u32(nlh, NDA_FLAGS_EXT, NTF_EXT_MANAGED);
	return nl_talk(nl, nlh, NULL, NULL);
}

#define NUD_USABLE (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT | NUD_NOARP)

int vsn_nexthop_resolve(const struct vsn_addr *dst, int timeout_ms, struct vsn_nexthop *ret)
{
	struct vsn_nexthop nh = {0};
	struct route_reply rr;
	struct neigh_reply nr;
	struct nl *nl;
	int r, waited = 0;

	nl = calloc(1, sizeof(*nl));
	if (!nl)
		return -ENOMEM;
	r = nl_open(nl);
	if (r) {
		free(nl);
		return r;
	}
	r = route_get(nl, dst, &rr);
	if (r)
		goto out;
	nh.ifindex = rr.oif;
	nh.gateway = rr.has_gw;
	nh.via.family = dst->family;
	memcpy(nh.via.bytes, rr.has_gw ? rr.gw : dst->bytes, 16);
	r = link_mac(nl, nh.ifindex, nh.smac, &nh.mtu);
	if (r)
		goto out;
	if (rr.mtu && rr.mtu < nh.mtu)
		nh.mtu = rr.mtu;

	for (;;) {
		r = neigh_get(nl, dst->family, nh.ifindex, nh.via.bytes, &nr);
		if (r)
			goto out;
		if (nr.found && (nr.state & NUD_USABLE) && nr.has_mac)
			break;
		/*
		 * Make it managed once; the kernel then probes and re-probes by
		 * itself, so repeated calls never flood the link with requests.
		 */
		if (!nr.found || !nr.managed) {
			r = neigh_make_managed(nl, dst->family, nh.ifindex, nh.via.bytes);
			if (r)
				goto out;
		} else if (nr.state & NUD_FAILED) {
			r = -EHOSTUNREACH;
			goto out;
		}
		if (waited >= timeout_ms) {
			r = -ETIMEDOUT;
			goto out;
		}
		usleep(10 * 1000);
		waited += 10;
	}
	memcpy(nh.dmac, nr.mac, 6);
	*ret = nh;
out:
	nl_close(nl);
	free(nl);
	return r;
}

int vsn_nexthop_events_open(void)
{
	struct sockaddr_nl sa = {
		.nl_family = AF_NETLINK,
		.nl_groups = RTMGRP_LINK | RTMGRP_NEIGH | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE,
	};
	int fd, r;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int vsn_nexthop_events_drain(int fd)
{
	char buf[8192];
	int n = 0;

	for (;;) {
		ssize_t len = recv(fd, buf, sizeof(buf), 0);

		if (len > 0) {
			n++;
			continue;
		}
		if (len < 0 && errno == EINTR)
			continue;
		/* ENOBUFS: events were lost; the caller re-resolves everything anyway. */
		if (len < 0 && errno == ENOBUFS) {
			n++;
			continue;
		}
		return len < 0 && errno != EAGAIN ? -errno : n;
	}
}
