/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <bpf/bpf.h>

#include "dp_internal.h"

static const char *const reason_names[VSN_REASON_MAX] = {
	[VSN_FWD_TX] = "fwd_tx",
	[VSN_FWD_REDIRECT] = "fwd_redirect",
	[VSN_REPLY_TOO_BIG] = "reply_too_big",
	[VSN_PASS_NO_VIP] = "pass_no_vip",
	[VSN_PASS_NOT_IP] = "pass_not_ip",
	[VSN_PASS_MALFORMED_ETH] = "pass_malformed_eth",
	[VSN_PASS_VLAN_DEPTH] = "pass_vlan_depth",
	[VSN_PASS_MALFORMED_IP4] = "pass_malformed_ip4",
	[VSN_PASS_MALFORMED_IP6] = "pass_malformed_ip6",
	[VSN_PASS_EXTHDR_DEPTH] = "pass_exthdr_depth",
	[VSN_PASS_MALFORMED_EXTHDR] = "pass_malformed_exthdr",
	[VSN_PASS_IP6_ROUTING] = "pass_ip6_routing",
	[VSN_PASS_FRAGMENT] = "pass_fragment",
	[VSN_PASS_NOT_TCP_UDP] = "pass_not_tcp_udp",
	[VSN_PASS_MALFORMED_L4] = "pass_malformed_l4",
	[VSN_PASS_TTL_EXCEEDED] = "pass_ttl_exceeded",
	[VSN_PASS_TOO_BIG] = "pass_too_big",
	[VSN_DROP_NO_POLICY] = "drop_no_policy",
	[VSN_DROP_SLB_DOWN] = "drop_slb_down",
	[VSN_DROP_NO_NEXTHOP] = "drop_no_nexthop",
	[VSN_DROP_NO_UNDERLAY] = "drop_no_underlay",
	[VSN_DROP_ENCAP_ERROR] = "drop_encap_error",
	[VSN_DROP_FRAG_UNMATCHED] = "drop_frag_unmatched",
	[VSN_DROP_TOO_BIG] = "drop_too_big",
};

static const char *const flow_event_names[VSN_FLOW_EVENT_MAX] = {
	[VSN_FLOW_NEW] = "flow_new",
	[VSN_FLOW_HIT] = "flow_hit",
	[VSN_FLOW_INSERT_LIMITED] = "flow_insert_limited",
	[VSN_FLOW_REPICK_DOWN] = "flow_repick_down",
	[VSN_FLOW_REHASH] = "flow_rehash",
	[VSN_FLOW_SKIP_NOT_UP] = "flow_skip_not_up",
	[VSN_FLOW_SYN_REPICK] = "flow_syn_repick",
};

const char *vsn_flow_event_name(enum vsn_flow_event ev)
{
	return (unsigned)ev < VSN_FLOW_EVENT_MAX && flow_event_names[ev] ? flow_event_names[ev]
									 : "?";
}

const char *vsn_reason_name(enum vsn_reason reason)
{
	return (unsigned)reason < VSN_REASON_MAX && reason_names[reason] ? reason_names[reason]
									 : "?";
}

bool vsn_reason_is_drop(enum vsn_reason reason)
{
	return reason >= VSN_DROP_NO_POLICY && reason < VSN_REASON_MAX;
}

bool vsn_reason_is_forward(enum vsn_reason reason)
{
	return reason == VSN_FWD_TX || reason == VSN_FWD_REDIRECT;
}

int vsn_dp_counter_read(struct vsn_dp *dp, enum vsn_counter_kind kind, __u32 id,
			struct vsn_counter *ret)
{
	static const enum dp_map maps[] = {
		[VSN_CNT_POLICY] = DP_MAP_CNT_POLICY,	[VSN_CNT_SLB] = DP_MAP_CNT_SLB,
		[VSN_CNT_SERVICE] = DP_MAP_CNT_SERVICE, [VSN_CNT_REASON] = DP_MAP_CNT_REASON,
		[VSN_CNT_FLOW] = DP_MAP_CNT_FLOW,
	};
	struct vsn_counter sum = {0}, *per_cpu;
	int r = 0;

	if ((unsigned)kind >= sizeof(maps) / sizeof(maps[0]))
		return -EINVAL;
	per_cpu = calloc(dp->ncpus, sizeof(*per_cpu));
	if (!per_cpu)
		return -ENOMEM;
	if (bpf_map_lookup_elem(dp->map_fd[maps[kind]], &id, per_cpu)) {
		r = errno == ENOENT ? -ERANGE : -errno;
		goto out;
	}
	for (int i = 0; i < dp->ncpus; i++) {
		sum.packets += per_cpu[i].packets;
		sum.bytes += per_cpu[i].bytes;
	}
	*ret = sum;
out:
	free(per_cpu);
	return r;
}
