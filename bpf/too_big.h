/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Path MTU discovery through encapsulation: a packet that would exceed its
 * SLB's egress MTU once encapsulated is answered, in place, with an ICMP
 * fragmentation-needed (IPv4, DF set) or ICMPv6 packet-too-big reply from
 * the node's underlay address, carrying the MTU less the outer header and
 * quoting the first VSN_TOO_BIG_QUOTE bytes of the packet; at most
 * VSN_TOO_BIG_PER_CPU a second per CPU. Requires parse.h and encap.h.
 */
#ifndef VSN_BPF_TOO_BIG_H
#define VSN_BPF_TOO_BIG_H

#define VSN_ICMP_FRAG_NEEDED 4
#define VSN_REPLY_TTL 64

struct vsn_icmp6_pseudo {
	__be32 len;
	__be32 nexthdr;
};

static __always_inline __u16 csum_fold(__s64 sum)
{
	__u32 s = (__u32)sum;

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

/* May this CPU send one more reply in this second? */
static __always_inline int reply_allowed(struct vsn_reply_scratch *s)
{
	__u64 now = bpf_ktime_get_ns();

	if (now - s->window_ns >= 1000000000ull) {
		s->window_ns = now;
		s->sent = 0;
	}
	if (s->sent >= VSN_TOO_BIG_PER_CPU)
		return 0;
	s->sent++;
	return 1;
}

/* What vsn_too_big_reply returns: the reason, and the action above it. */
#define VSN_REPLY_VERDICT(reason, action) ((action) << 8 | (reason))
#define VSN_REPLY_REASON(v) ((v)&0xff)
#define VSN_REPLY_ACTION(v) ((v) >> 8)
#define VSN_REPLY_V6 0x10000

/*
 * Answer the packet whose IP header is at off (l3_len bytes; off_v6 is off,
 * plus VSN_REPLY_V6 for IPv6: BPF functions take five arguments), too big by its SLB's path: mtu is
 * the most it may be (IP bytes); frame_len is the frame's length now. Returns VSN_REPLY_VERDICT of:
 * VSN_REPLY_TOO_BIG (XDP_TX, the packet is now the reply); VSN_PASS_TOO_BIG
 * (XDP_PASS, untouched: IPv4 without DF, no underlay address, or too short
 * to quote); VSN_DROP_TOO_BIG (XDP_DROP: over the rate bound).
 *
 * A global function: the verifier checks it once, on its own, instead of on
 * every path of the forwarder that reaches it (it would not fit otherwise).
 * So it takes scalars only, and trusts none of them.
 */
__noinline int vsn_too_big_reply(struct xdp_md *ctx, __u32 off_v6, __u32 l3_len, __u32 mtu,
				 __u32 frame_len)
{
	__u32 off = off_v6 & 0xffff, is_v6 = off_v6 & VSN_REPLY_V6;
	__u32 zero = 0, hlen = is_v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr);
	__u32 len = off + hlen + sizeof(struct vsn_icmp_hdr) + VSN_TOO_BIG_QUOTE;
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct vsn_icmp6_pseudo ph = {};
	const struct vsn_config *cfg;
	struct vsn_reply_scratch *s;
	struct vsn_icmp_hdr *icmp;
	__u8 client[16], mac[ETH_ALEN];
	struct ethhdr *eth;
	__s64 sum;

	cfg = bpf_map_lookup_elem(&vsn_config, &zero);
	if (!cfg || off > VSN_MAX_L3_OFF || l3_len < VSN_TOO_BIG_QUOTE || frame_len > 0xffff)
		return VSN_REPLY_VERDICT(VSN_PASS_TOO_BIG, XDP_PASS);
	if (is_v6) {
		struct ipv6hdr *ip6 = data + off;

		if ((void *)(ip6 + 1) > end || !(cfg->flags & VSN_CFG_UNDERLAY6))
			return VSN_REPLY_VERDICT(VSN_PASS_TOO_BIG, XDP_PASS);
		__builtin_memcpy(client, &ip6->saddr, 16);
	} else {
		struct iphdr *ip = data + off;

		/* Without DF the sender allows fragmenting: that is the kernel's job. */
		if ((void *)(ip + 1) > end || !(ip->frag_off & bpf_htons(VSN_IP_DF)) ||
		    !(cfg->flags & VSN_CFG_UNDERLAY4))
			return VSN_REPLY_VERDICT(VSN_PASS_TOO_BIG, XDP_PASS);
		__builtin_memcpy(client, &ip->saddr, 4);
	}
	s = bpf_map_lookup_elem(&vsn_reply_scratch, &zero);
	if (!s)
		return VSN_REPLY_VERDICT(VSN_PASS_TOO_BIG, XDP_PASS);
	if (!reply_allowed(s))
		return VSN_REPLY_VERDICT(VSN_DROP_TOO_BIG, XDP_DROP);
	if (bpf_xdp_load_bytes(ctx, off, s->quote, VSN_TOO_BIG_QUOTE))
		return VSN_REPLY_VERDICT(VSN_PASS_TOO_BIG, XDP_PASS);
	/* From here the packet is being rewritten: no way back to passing it. */
	if (bpf_xdp_adjust_tail(ctx, (int)len - (int)frame_len))
		return VSN_REPLY_VERDICT(VSN_DROP_ENCAP_ERROR, XDP_DROP);
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	eth = data;
	if (data + off + hlen + sizeof(*icmp) > end || (void *)(eth + 1) > end)
		return VSN_REPLY_VERDICT(VSN_DROP_ENCAP_ERROR, XDP_DROP);
	/* Back where it came from: the previous hop's MAC, VLAN tags kept. */
	__builtin_memcpy(mac, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, mac, ETH_ALEN);
	if (is_v6) {
		struct ipv6hdr *ip6 = data + off;

		if ((void *)(ip6 + 1) > end)
			return VSN_REPLY_VERDICT(VSN_DROP_ENCAP_ERROR, XDP_DROP);
		__builtin_memset(ip6, 0, sizeof(*ip6));
		ip6->version = 6;
		ip6->payload_len = bpf_htons(sizeof(*icmp) + VSN_TOO_BIG_QUOTE);
		ip6->nexthdr = IPPROTO_ICMPV6;
		ip6->hop_limit = VSN_REPLY_TTL;
		__builtin_memcpy(&ip6->saddr, cfg->underlay6, 16);
		__builtin_memcpy(&ip6->daddr, client, 16);
		icmp = (void *)(ip6 + 1);
		if ((void *)(icmp + 1) > end)
			return VSN_REPLY_VERDICT(VSN_DROP_ENCAP_ERROR, XDP_DROP);
		icmp->type = VSN_ICMPV6_PKT_TOOBIG;
		icmp->code = 0;
		icmp->checksum = 0;
		icmp->un = bpf_htonl(mtu);
		ph.len = bpf_htonl(sizeof(*icmp) + VSN_TOO_BIG_QUOTE);
		ph.nexthdr = bpf_htonl(IPPROTO_ICMPV6);
		sum = bpf_csum_diff(0, 0, (__be32 *)&ip6->saddr, 32, 0);
		sum = bpf_csum_diff(0, 0, (__be32 *)&ph, sizeof(ph), (__u32)sum);
	} else {
		struct iphdr *ip = data + off;

		if ((void *)(ip + 1) > end)
			return VSN_REPLY_VERDICT(VSN_DROP_ENCAP_ERROR, XDP_DROP);
		__builtin_memset(ip, 0, sizeof(*ip));
		ip->version = 4;
		ip->ihl = 5;
		ip->tot_len = bpf_htons(sizeof(*ip) + sizeof(*icmp) + VSN_TOO_BIG_QUOTE);
		ip->ttl = VSN_REPLY_TTL;
		ip->protocol = IPPROTO_ICMP;
		ip->saddr = cfg->underlay4;
		__builtin_memcpy(&ip->daddr, client, 4);
		ip->check = ip4_csum(ip);
		icmp = (void *)(ip + 1);
		if ((void *)(icmp + 1) > end)
			return VSN_REPLY_VERDICT(VSN_DROP_ENCAP_ERROR, XDP_DROP);
		icmp->type = VSN_ICMP_DEST_UNREACH;
		icmp->code = VSN_ICMP_FRAG_NEEDED;
		icmp->checksum = 0;
		icmp->un = bpf_htonl(mtu & 0xffff);
		sum = 0;
	}
	sum = bpf_csum_diff(0, 0, (__be32 *)s->quote, VSN_TOO_BIG_QUOTE, (__u32)sum);
	sum = bpf_csum_diff(0, 0, (__be32 *)icmp, sizeof(*icmp), (__u32)sum);
	icmp->checksum = csum_fold(sum);
	if (bpf_xdp_store_bytes(ctx, off + hlen + sizeof(*icmp), s->quote, VSN_TOO_BIG_QUOTE))
		return VSN_REPLY_VERDICT(VSN_DROP_ENCAP_ERROR, XDP_DROP);
	return VSN_REPLY_VERDICT(VSN_REPLY_TOO_BIG, XDP_TX);
}

#endif /* VSN_BPF_TOO_BIG_H */
