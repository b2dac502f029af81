/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The network node's XDP forwarder: match a packet's VIP against the active
 * generation's policies and send it to the destination SLB.
 * Match order (DESIGN section 4): the VIP entry (one lookup; a miss passes),
 * then (VIP, protocol, port) (in the VIP entry's slots, else an entry of its
 * own), then (VIP, protocol, any port).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "vsn/layout.h"
#include "maps.h"
#include "parse.h"
#include "encap.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline void count(void *map, __u32 id, __u64 bytes)
{
	struct vsn_counter *c = bpf_map_lookup_elem(map, &id);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

static __always_inline int vsn_reason_drops(int reason)
{
	return reason >= VSN_DROP_NO_POLICY;
}

static __always_inline int verdict(__u32 reason, int action, __u64 bytes)
{
	count(&vsn_cnt_reason, reason, bytes);
	return action;
}

/* Find the policy for p in the policy table of one generation, or NULL. */
static __always_inline const struct vsn_dest *match(void *policies, struct vsn_pkt *p,
						    int *ret_reason)
{
	const struct vsn_match *vip, *port;
	__u8 proto = p->key.proto;
	__be16 dport = p->key.port;
	__u32 l4 = proto == IPPROTO_TCP ? VSN_L4_TCP : VSN_L4_UDP;
	__u32 more_ports = proto == IPPROTO_TCP ? VSN_VIP_PORTS_TCP : VSN_VIP_PORTS_UDP;

	p->key.proto = 0;
	p->key.port = 0;
	vip = bpf_map_lookup_elem(policies, &p->key);
	if (!vip) {
		*ret_reason = VSN_PASS_NO_VIP;
		return NULL;
	}
#pragma unroll
	for (int i = 0; i < VSN_VIP_PORT_SLOTS; i++) {
		if (!vip->ports[i].proto)
			break;
		if (vip->ports[i].proto == proto && vip->ports[i].port == dport)
			return &vip->ports[i].dest;
	}
	if (vip->flags & more_ports) {
		p->key.proto = proto;
		p->key.port = dport;
		port = bpf_map_lookup_elem(policies, &p->key);
		if (port && (port->dest[0].flags & VSN_DEST_VALID))
			return &port->dest[0];
	}
	if (vip->dest[l4].flags & VSN_DEST_VALID)
		return &vip->dest[l4];
	*ret_reason = VSN_DROP_NO_POLICY;
	return NULL;
}

/* Send the rewritten frame towards the SLB and count it. */
static __always_inline int transmit(struct xdp_md *ctx, const struct vsn_slb *slb,
				    const struct vsn_dest *dest, __u64 bytes)
{
	int r, action;

	if (slb->ifindex == ctx->ingress_ifindex) {
		r = VSN_FWD_TX;
		action = XDP_TX;
	} else {
		/* Fails when the egress left the devmap (interface deleted). */
		action = bpf_redirect_map(&vsn_tx_ports, slb->ifindex, XDP_DROP);
		r = action == XDP_REDIRECT ? VSN_FWD_REDIRECT : VSN_DROP_NO_NEXTHOP;
	}
	if (action != XDP_DROP) {
		count(&vsn_cnt_policy, dest->policy_id, bytes);
		count(&vsn_cnt_service, dest->service_id, bytes);
		count(&vsn_cnt_slb, dest->slb_id, bytes);
	}
	return verdict(r, action, bytes);
}

SEC("xdp")
int vsn_forward(struct xdp_md *ctx)
{
	__u64 bytes = ctx->data_end - ctx->data;
	const struct vsn_dest *dest;
	const struct vsn_slb *slb;
	struct vsn_pkt p = {};
	__u32 zero = 0, *slot;
	void *policies;
	int r;

	r = parse_packet(ctx, &p);
	if (r)
		return verdict(r, XDP_PASS, bytes);

	/* One read of the slot: this packet sees one generation, whole. */
	slot = bpf_map_lookup_elem(&vsn_active, &zero);
	if (!slot)
		return verdict(VSN_PASS_NO_VIP, XDP_PASS, bytes);
	policies = bpf_map_lookup_elem(&vsn_policy_slots, slot);
	if (!policies)
		return verdict(VSN_PASS_NO_VIP, XDP_PASS, bytes);

	dest = match(policies, &p, &r);
	if (!dest)
		return verdict(r, r == VSN_PASS_NO_VIP ? XDP_PASS : XDP_DROP, bytes);

	slb = bpf_map_lookup_elem(&vsn_slbs, &dest->slb_id);
	if (!slb || (slb->flags & (VSN_SLB_DEFINED | VSN_SLB_RESOLVED)) !=
			    (VSN_SLB_DEFINED | VSN_SLB_RESOLVED))
		return verdict(VSN_DROP_NO_NEXTHOP, XDP_DROP, bytes);
	if (slb->state == VSN_SLB_DOWN)
		return verdict(VSN_DROP_SLB_DOWN, XDP_DROP, bytes);

	if (slb->forward == VSN_FORWARD_IPIP) {
		__u32 outer_len = p.is_v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr);
		const struct vsn_config *cfg = bpf_map_lookup_elem(&vsn_config, &zero);

		if (!cfg || !(cfg->flags & (p.is_v6 ? VSN_CFG_UNDERLAY6 : VSN_CFG_UNDERLAY4)))
			return verdict(VSN_DROP_NO_UNDERLAY, XDP_DROP, bytes);
		r = ipip_check_and_hop(ctx, &p, slb, outer_len);
		if (r)
			return verdict(r, vsn_reason_drops(r) ? XDP_DROP : XDP_PASS, bytes);
		r = ipip_encap(ctx, &p, slb, cfg, outer_len);
		if (r)
			return verdict(r, XDP_DROP, bytes);
	} else {
		__builtin_memcpy(p.eth->h_dest, slb->dmac, ETH_ALEN);
		__builtin_memcpy(p.eth->h_source, slb->smac, ETH_ALEN);
	}
	return transmit(ctx, slb, dest, bytes);
}
