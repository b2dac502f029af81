/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Node-wide settings the forwarder reads: the underlay addresses of ipip and
 * the bound on connection-table inserts.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <bpf/bpf.h>

#include "dp_internal.h"

int vsn_dp_underlay_set(struct vsn_dp *dp, const struct vsn_addr *v4, const struct vsn_addr *v6)
{
	struct vsn_config c = {0}, old;
	__u32 zero = 0;
	int r;

	if (v4 && v4->family) {
		if (v4->family != AF_INET)
			return -EINVAL;
		memcpy(&c.underlay4, v4->bytes, 4);
		c.flags |= VSN_CFG_UNDERLAY4;
	}
	if (v6 && v6->family) {
		if (v6->family != AF_INET6 || vsn_addr_is_v4mapped(v6))
			return -EINVAL;
		memcpy(c.underlay6, v6->bytes, 16);
		c.flags |= VSN_CFG_UNDERLAY6;
	}
	r = dp_lock(dp);
	if (r)
		return r;
	if (bpf_map_lookup_elem(dp->map_fd[DP_MAP_CONFIG], &zero, &old)) {
		r = -errno;
		goto out;
	}
	c.flow_inserts_per_cpu = old.flow_inserts_per_cpu;
	if (bpf_map_update_elem(dp->map_fd[DP_MAP_CONFIG], &zero, &c, BPF_ANY))
		r = -errno;
out:
	dp_unlock(dp);
	return r;
}

int vsn_dp_flow_limit_set(struct vsn_dp *dp, __u32 per_second)
{
	struct vsn_config c;
	__u32 zero = 0;
	int r;

	r = dp_lock(dp);
	if (r)
		return r;
	if (bpf_map_lookup_elem(dp->map_fd[DP_MAP_CONFIG], &zero, &c)) {
		r = -errno;
		goto out;
	}
	c.flow_inserts_per_cpu = (__u32)(((__u64)per_second + dp->ncpus - 1) / dp->ncpus);
	if (bpf_map_update_elem(dp->map_fd[DP_MAP_CONFIG], &zero, &c, BPF_ANY))
		r = -errno;
out:
	dp_unlock(dp);
	return r;
}

int vsn_dp_flow_limit_get(struct vsn_dp *dp, __u32 *ret_per_second)
{
	struct vsn_config c;
	__u32 zero = 0;
	__u64 v;

	if (bpf_map_lookup_elem(dp->map_fd[DP_MAP_CONFIG], &zero, &c))
		return -errno;
	v = (__u64)c.flow_inserts_per_cpu * dp->ncpus;
	*ret_per_second = v > UINT32_MAX ? UINT32_MAX : (__u32)v;
	return 0;
}

int vsn_dp_underlay_get(struct vsn_dp *dp, struct vsn_addr *ret_v4, struct vsn_addr *ret_v6)
{
	struct vsn_addr v4 = {0}, v6 = {0};
	struct vsn_config c;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(dp->map_fd[DP_MAP_CONFIG], &zero, &c))
		return -errno;
	if (c.flags & VSN_CFG_UNDERLAY4) {
		v4.family = AF_INET;
		memcpy(v4.bytes, &c.underlay4, 4);
	}
	if (c.flags & VSN_CFG_UNDERLAY6) {
		v6.family = AF_INET6;
		memcpy(v6.bytes, c.underlay6, 16);
	}
	*ret_v4 = v4;
	*ret_v6 = v6;
	return 0;
}
