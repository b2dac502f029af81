/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Node-wide settings the forwarder reads: the underlay addresses of ipip and
 * gue, gue's UDP port and the bound on connection-table inserts.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <bpf/bpf.h>

#include "dp_internal.h"

/* Read the settings, let edit change its part of them, write them back; under the lock. */
static int config_edit(struct vsn_dp *dp, void (*edit)(struct vsn_config *c, const void *arg),
		       const void *arg)
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
	edit(&c, arg);
	if (bpf_map_update_elem(dp->map_fd[DP_MAP_CONFIG], &zero, &c, BPF_ANY))
		r = -errno;
out:
	dp_unlock(dp);
	return r;
}

static int config_read(struct vsn_dp *dp, struct vsn_config *ret)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(dp->map_fd[DP_MAP_CONFIG], &zero, ret) ? -errno : 0;
}

static void edit_underlay(struct vsn_config *c, const void *arg)
{
	const struct vsn_config *u = arg;

	memcpy(c->underlay6, u->underlay6, sizeof(c->underlay6));
	c->underlay4 = u->underlay4;
	c->flags = u->flags;
}

int vsn_dp_underlay_set(struct vsn_dp *dp, const struct vsn_addr *v4, const struct vsn_addr *v6)
{
	struct vsn_config u = {0};

	if (v4 && v4->family) {
		if (v4->family != AF_INET)
			return -EINVAL;
		memcpy(&u.underlay4, v4->bytes, 4);
		u.flags |= VSN_CFG_UNDERLAY4;
	}
	if (v6 && v6->family) {
		if (v6->family != AF_INET6 || vsn_addr_is_v4mapped(v6))
			return -EINVAL;
		memcpy(u.underlay6, v6->bytes, 16);
		u.flags |= VSN_CFG_UNDERLAY6;
	}
	return config_edit(dp, edit_underlay, &u);
}

static void edit_flow_limit(struct vsn_config *c, const void *arg)
{
	c->flow_inserts_per_cpu = *(const __u32 *)arg;
}

int vsn_dp_flow_limit_set(struct vsn_dp *dp, __u32 per_second)
{
	__u32 per_cpu = (__u32)(((__u64)per_second + dp->ncpus - 1) / dp->ncpus);

	return config_edit(dp, edit_flow_limit, &per_cpu);
}

int vsn_dp_flow_limit_get(struct vsn_dp *dp, __u32 *ret_per_second)
{
	struct vsn_config c;
	__u64 v;
	int r;

	r = config_read(dp, &c);
	if (r)
		return r;
	v = (__u64)c.flow_inserts_per_cpu * dp->ncpus;
	*ret_per_second = v > UINT32_MAX ? UINT32_MAX : (__u32)v;
	return 0;
}

int vsn_dp_underlay_get(struct vsn_dp *dp, struct vsn_addr *ret_v4, struct vsn_addr *ret_v6)
{
	struct vsn_addr v4 = {0}, v6 = {0};
	struct vsn_config c;
	int r;

	r = config_read(dp, &c);
	if (r)
		return r;
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

static void edit_gue_port(struct vsn_config *c, const void *arg)
{
	c->gue_port = *(const __be16 *)arg;
}

int vsn_dp_gue_port_set(struct vsn_dp *dp, __u16 port)
{
	__be16 p = htons(port);

	if (!port)
		return -EINVAL;
	return config_edit(dp, edit_gue_port, &p);
}

int vsn_dp_gue_port_get(struct vsn_dp *dp, __u16 *ret_port)
{
	struct vsn_config c;
	int r;

	r = config_read(dp, &c);
	if (r)
		return r;
	*ret_port = c.gue_port ? ntohs(c.gue_port) : VSN_GUE_PORT_DEFAULT;
	return 0;
}
