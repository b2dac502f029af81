/* SPDX-License-Identifier: Apache-2.0 */
/*
 * IP-in-IP encapsulation for the forwarder: IPv4-in-IPv4 (protocol 4) and
 * IPv6-in-IPv6 (next header 41), from the node's underlay address to the
 * SLB's. Requires a parsed packet (parse.h) whose family is the SLB's.
 */
#ifndef VSN_BPF_ENCAP_H
#define VSN_BPF_ENCAP_H

#define VSN_OUTER_TTL 64
#define VSN_IP_DF 0x4000
#define VSN_IPPROTO_IPIP 4
#define VSN_IPPROTO_IPV6 41
/* Largest offset of the IP header: Ethernet and two VLAN tags. */
#define VSN_MAX_L3_OFF (ETH_HLEN + 2 * 4)

static __always_inline __u16 ip4_csum(const struct iphdr *ip)
{
	const __u16 *w = (const __u16 *)ip;
	__u32 sum = 0;

#pragma unroll
	for (int i = 0; i < (int)sizeof(*ip) / 2; i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/*
 * Decide whether the packet may be encapsulated: 0, or the reason to pass it
 * to the kernel untouched (TTL about to expire: the kernel sends time
 * exceeded; too big for the egress once encapsulated).
 * On 0, the inner TTL / hop limit has been decremented, as a router does.
 */
static __always_inline int ipip_check_and_hop(struct xdp_md *ctx, const struct vsn_pkt *p,
					      const struct vsn_slb *slb, __u32 outer_len)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u32 off = p->l3_off;

	if (off > VSN_MAX_L3_OFF)
		return VSN_DROP_ENCAP_ERROR;
	if (p->is_v6) {
		struct ipv6hdr *ip6 = data + off;

		if ((void *)(ip6 + 1) > end)
			return VSN_DROP_ENCAP_ERROR;
		if (ip6->hop_limit <= 1)
			return VSN_PASS_TTL_EXCEEDED;
		if (slb->mtu && p->l3_len + outer_len > slb->mtu)
			return VSN_PASS_TOO_BIG;
		ip6->hop_limit--;
		return 0;
	}

	struct iphdr *ip = data + off;
	__u32 check;

	if ((void *)(ip + 1) > end)
		return VSN_DROP_ENCAP_ERROR;
	if (ip->ttl <= 1)
		return VSN_PASS_TTL_EXCEEDED;
	if (slb->mtu && p->l3_len + outer_len > slb->mtu)
		return VSN_PASS_TOO_BIG;
	/* RFC 1624 incremental update for TTL - 1, as the kernel's ip_decrease_ttl(). */
	ip->ttl--;
	check = ip->check;
	check += bpf_htons(0x0100);
	ip->check = (__u16)(check + (check >= 0xFFFF));
	return 0;
}

/*
 * Put an Ethernet and an outer IP header in front of the IP packet (VLAN
 * tags of the ingress are dropped: the underlay is another network).
 * 0, or the reason to drop it.
 */
static __always_inline int ipip_encap(struct xdp_md *ctx, const struct vsn_pkt *p,
				      const struct vsn_slb *slb, const struct vsn_config *cfg,
				      __u32 outer_len)
{
	void *data, *end;
	struct ethhdr *eth;
	__u32 off = p->l3_off;
	__u32 first_word;
	__u8 tos;
	__be16 df;

	if (off > VSN_MAX_L3_OFF)
		return VSN_DROP_ENCAP_ERROR;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	/* What the outer header copies from the inner one, read before the move. */
	if (p->is_v6) {
		if (data + off + sizeof(struct ipv6hdr) > end)
			return VSN_DROP_ENCAP_ERROR;
		first_word = *(__u32 *)(data + off);
		tos = 0;
		df = 0;
	} else {
		struct iphdr *in = data + off;

		if ((void *)(in + 1) > end)
			return VSN_DROP_ENCAP_ERROR;
		first_word = 0;
		tos = in->tos;
		df = in->frag_off & bpf_htons(VSN_IP_DF);
	}
	if (bpf_xdp_adjust_head(ctx, (int)off - ETH_HLEN - (int)outer_len))
		return VSN_DROP_ENCAP_ERROR;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	eth = data;
	/* The outer header only: the inner packet is as long as it was. */
	if (data + ETH_HLEN + outer_len > end || outer_len > sizeof(struct ipv6hdr))
		return VSN_DROP_ENCAP_ERROR;
	__builtin_memcpy(eth->h_dest, slb->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, slb->smac, ETH_ALEN);

	if (p->is_v6) {
		struct ipv6hdr *o6 = data + ETH_HLEN;

		if ((void *)(o6 + 1) > end)
			return VSN_DROP_ENCAP_ERROR;
		/* Traffic class from the inner packet, flow label from the flow. */
		__u32 vtf = (bpf_ntohl(first_word) & 0x0ff00000) | (p->flow & 0x000fffff);

		eth->h_proto = bpf_htons(VSN_ETH_P_IPV6);
		*(__be32 *)o6 = bpf_htonl(0x60000000 | vtf);
		o6->payload_len = bpf_htons(p->l3_len);
		o6->nexthdr = VSN_IPPROTO_IPV6;
		o6->hop_limit = VSN_OUTER_TTL;
		__builtin_memcpy(&o6->saddr, cfg->underlay6, 16);
		__builtin_memcpy(&o6->daddr, slb->addr, 16);
		return 0;
	}

	struct iphdr *o4 = data + ETH_HLEN;

	if ((void *)(o4 + 1) > end)
		return VSN_DROP_ENCAP_ERROR;
	eth->h_proto = bpf_htons(VSN_ETH_P_IP);
	o4->version = 4;
	o4->ihl = 5;
	o4->tos = tos;
	o4->tot_len = bpf_htons(p->l3_len + sizeof(*o4));
	o4->id = 0;
	/* DF as the inner packet has it (RFC 2003), so path MTU discovery works. */
	o4->frag_off = df;
	o4->ttl = VSN_OUTER_TTL;
	o4->protocol = VSN_IPPROTO_IPIP;
	o4->check = 0;
	o4->saddr = cfg->underlay4;
	__builtin_memcpy(&o4->daddr, &slb->addr[12], 4);
	o4->check = ip4_csum(o4);
	return 0;
}

#endif /* VSN_BPF_ENCAP_H */
