/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The connection table (vsn_flows): the forwarder writes it, user space
 * lists and clears it. Lives outside generations, so no set swap resets it.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>

#include "dp_internal.h"
#include "vsn/hash.h"

const char *vsn_on_change_name(enum vsn_on_change c)
{
	return c == VSN_ON_CHANGE_REHASH     ? "rehash"
	       : c == VSN_ON_CHANGE_PRESERVE ? "preserve"
					     : "?";
}

int vsn_on_change_parse(const char *s, enum vsn_on_change *ret)
{
	if (!strcmp(s, "preserve"))
		*ret = VSN_ON_CHANGE_PRESERVE;
	else if (!strcmp(s, "rehash"))
		*ret = VSN_ON_CHANGE_REHASH;
	else
		return -EINVAL;
	return 0;
}

void vsn_flow_key_make(const struct vsn_addr *src, __u16 sport, const struct vsn_addr *dst,
		       __u16 dport, __u8 proto, struct vsn_flow_key *ret)
{
	struct vsn_flow_key k = {0};

	vsn_addr_to_key(src, (__u8 *)k.src);
	vsn_addr_to_key(dst, (__u8 *)k.dst);
	k.ports = vsn_flow_ports(htons(sport), htons(dport));
	k.proto = proto;
	*ret = k;
}

int vsn_dp_flows_foreach(struct vsn_dp *dp,
			 int (*cb)(const struct vsn_flow_key *k, const struct vsn_flow *f,
				   void *arg),
			 void *arg)
{
	struct vsn_flow_key key, next;
	struct vsn_flow val;
	void *prev = NULL;
	int fd = dp->map_fd[DP_MAP_FLOWS], r;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &val))
			continue; /* evicted meanwhile */
		r = cb(&key, &val, arg);
		if (r)
			return r;
	}
	return errno == ENOENT ? 0 : -errno;
}

int vsn_dp_flows_clear(struct vsn_dp *dp)
{
	struct vsn_flow_key key;
	int fd = dp->map_fd[DP_MAP_FLOWS];

	/* Deleting the first key each time: the walk never loses its place. */
	while (!bpf_map_get_next_key(fd, NULL, &key))
		if (bpf_map_delete_elem(fd, &key) && errno != ENOENT)
			return -errno;
	return errno == ENOENT ? 0 : -errno;
}
