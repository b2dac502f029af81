/* SPDX-License-Identifier: Apache-2.0 */
/* The VIPs on lo, through rtnetlink (libmnl). */
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>

#include "nl.h"
#include "slb.h"

static unsigned int lo_ifindex(void)
{
	return if_nametoindex("lo");
}

struct dump {
	unsigned int ifindex;
	struct lo_addr *a;
	size_t n, cap;
	int err;
};

static bool is_loopback(const struct vsn_addr *a)
{
	static const __u8 one[16] = {[15] = 1};

	return a->family == AF_INET ? a->bytes[0] == 127 : !memcmp(a->bytes, one, 16);
}

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	size_t alen = ifa->ifa_family == AF_INET ? 4 : 16;
	const struct nlattr *attr, *local = NULL, *address = NULL;
	struct dump *d = data;
	struct lo_addr e = {0};

	if (nlh->nlmsg_type != RTM_NEWADDR || ifa->ifa_index != d->ifindex ||
	    (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6))
		return MNL_CB_OK;
	mnl_attr_for_each(attr, nlh, sizeof(*ifa))
	{
		if (mnl_attr_get_payload_len(attr) != alen)
			continue;
		if (mnl_attr_get_type(attr) == IFA_LOCAL)
			local = attr;
		else if (mnl_attr_get_type(attr) == IFA_ADDRESS)
			address = attr;
	}
	/* IFA_LOCAL is the host's own address where a peer address is set too. */
	if (!local)
		local = address;
	if (!local)
		return MNL_CB_OK;
	e.addr.family = ifa->ifa_family;
	memcpy(e.addr.bytes, mnl_attr_get_payload(local), alen);
	e.prefixlen = ifa->ifa_prefixlen;
	if (is_loopback(&e.addr))
		return MNL_CB_OK;
	if (d->n == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 16;
		struct lo_addr *a = realloc(d->a, cap * sizeof(*a));

		if (!a) {
			d->err = -ENOMEM;
			return MNL_CB_ERROR;
		}
		d->a = a;
		d->cap = cap;
	}
	d->a[d->n++] = e;
	return MNL_CB_OK;
}

int lo_addrs_list(struct lo_addr **ret, size_t *ret_n)
{
	struct dump d = {.ifindex = lo_ifindex()};
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	struct nl nl;
	int r;

	if (!d.ifindex)
		return -ENODEV;
	r = nl_open(&nl);
	if (r)
		return r;
	nlh = mnl_nlmsg_put_header(nl.buf);
	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_UNSPEC;
	r = nl_talk(&nl, nlh, addr_cb, &d);
	nl_close(&nl);
	if (d.err)
		r = d.err;
	if (r) {
		free(d.a);
		return r;
	}
	*ret = d.a;
	*ret_n = d.n;
	return 0;
}

static int addr_change(int type, const struct vsn_addr *a, unsigned char prefixlen)
{
	size_t alen = a->family == AF_INET ? 4 : 16;
	unsigned int ifindex = lo_ifindex();
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	struct nl nl;
	int r;

	if (!ifindex)
		return -ENODEV;
	r = nl_open(&nl);
	if (r)
		return r;
	nlh = mnl_nlmsg_put_header(nl.buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	if (type == RTM_NEWADDR)
		nlh->nlmsg_flags |= NLM_F_CREATE | NLM_F_EXCL;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = a->family;
	ifa->ifa_prefixlen = prefixlen;
	ifa->ifa_index = ifindex;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	/* A VIP is one host's by design: duplicate address detection would only delay it. */
	if (a->family == AF_INET6)
		ifa->ifa_flags = IFA_F_NODAD;
	mnl_attr_put(nlh, IFA_LOCAL, alen, a->bytes);
	mnl_attr_put(nlh, IFA_ADDRESS, alen, a->bytes);
	r = nl_talk(&nl, nlh, NULL, NULL);
	nl_close(&nl);
	return r;
}

int lo_addr_add(const struct vsn_addr *a)
{
	return addr_change(RTM_NEWADDR, a, a->family == AF_INET ? 32 : 128);
}

int lo_addr_del(const struct vsn_addr *a, unsigned char prefixlen)
{
	return addr_change(RTM_DELADDR, a, prefixlen);
}
