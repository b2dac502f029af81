/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Encapsulation for the forwarder, from the node's underlay address to the
 * SLB's, IPv4 in IPv4 and IPv6 in IPv6:
 *   ipip: an outer IP header, protocol 4 or next header 41;
 *   gue:  an outer IP header, UDP to the node's GUE port and a GUE header
 *         (variant 0, no extension fields: draft-ietf-intarea-gue, as
 *         Linux's fou/gue reads it) whose protocol is 4 or 41.
 * Requires a parsed packet (parse.h) whose family is the SLB's. The
 * forwarder checks (encap_check_and_hop), then encapsulates (ipip_encap,
 * gue_encap).
 */
#ifndef VSN_BPF_ENCAP_H
#define VSN_BPF_ENCAP_H

#define VSN_OUTER_TTL 64
#define VSN_IP_DF 0x4000
#define VSN_IPPROTO_IPIP 4
#define VSN_IPPROTO_IPV6 41
#define VSN_IPPROTO_UDP 17
/* Largest offset of the IP header: Ethernet and two VLAN tags. */
#define VSN_MAX_L3_OFF (ETH_HLEN + 2 * 4)

/* What gue puts between the outer IP header and the packet: UDP and GUE headers. */
#define VSN_GUE_HLEN (8 + sizeof(struct vsn_guehdr))
/*
 * The IPv6 UDP checksum is summed by bpf_csum_diff() in chunks of at most
 * 512 bytes (its limit before Linux 6.13), enough of them for the longest
 * frame.
 */
#define VSN_CSUM_CHUNK 512
/*
 * Longest frame an encapsulated packet may become: within what the outer
 * length fields can say, and within the packet offsets the verifier allows
 * (0xffff) with a checksum chunk past the end.
 */
#define VSN_ENCAP_MAX_FRAME (0xffff - VSN_CSUM_CHUNK)
#define VSN_CSUM_CHUNKS (VSN_ENCAP_MAX_FRAME / VSN_CSUM_CHUNK)
/* Pieces of the checksum up to this many bytes are summed by the program itself. */
#define VSN_CSUM_INLINE 64

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

/* What ipip (gue) puts in front of p's IP header, the Ethernet header aside. */
static __always_inline __u32 encap_outer_len(const struct vsn_pkt *p, __u8 forward)
{
	return (p->is_v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr)) +
	       (forward == VSN_FORWARD_GUE ? VSN_GUE_HLEN : 0);
}

/*
 * The most IP bytes an encapsulated packet may have: the SLB's egress MTU,
 * and never more than a frame of VSN_ENCAP_MAX_FRAME, also when the MTU is
 * unknown (0).
 */
static __always_inline __u32 encap_mtu(const struct vsn_slb *slb)
{
	__u32 most = VSN_ENCAP_MAX_FRAME - ETH_HLEN;

	return slb->mtu && slb->mtu < most ? slb->mtu : most;
}

/*
 * Decide whether the packet may be encapsulated with outer_len bytes in
 * front of its IP header, the result to be at most mtu bytes: 0, or the
 * reason to pass it to the kernel untouched (TTL about to expire: the
 * kernel sends time exceeded; too big once encapsulated).
 * On 0, the inner TTL / hop limit has been decremented, as a router does.
 */
static __always_inline int encap_check_and_hop(struct xdp_md *ctx, const struct vsn_pkt *p,
					       __u32 mtu, __u32 outer_len)
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
		if (p->l3_len + outer_len > mtu)
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
	if (p->l3_len + outer_len > mtu)
		return VSN_PASS_TOO_BIG;
	/* RFC 1624 incremental update for TTL - 1, as the kernel's ip_decrease_ttl(). */
	ip->ttl--;
	check = ip->check;
	check += bpf_htons(0x0100);
	ip->check = (__u16)(check + (check >= 0xFFFF));
	return 0;
}

/*
 * Put an Ethernet header and an outer IP header of protocol proto in front
 * of the IP packet, with room for extra bytes between the outer header and
 * the packet (VLAN tags of the ingress are dropped: the underlay is another
 * network). 0, or the reason to drop it.
 */
static __always_inline int encap_push(struct xdp_md *ctx, const struct vsn_pkt *p,
				      const struct vsn_slb *slb, const struct vsn_config *cfg,
				      __u32 extra, __u8 proto)
{
	__u32 ip_len = p->is_v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr);
	void *data, *end;
	struct ethhdr *eth;
	__u32 off = p->l3_off;
	__u32 first_word;
	__u8 tos;
	__be16 df;

	if (off > VSN_MAX_L3_OFF || extra > VSN_GUE_HLEN)
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
	if (bpf_xdp_adjust_head(ctx, (int)off - ETH_HLEN - (int)(ip_len + extra)))
		return VSN_DROP_ENCAP_ERROR;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	eth = data;
	/* The outer headers only: the inner packet is as long as it was. */
	if (data + ETH_HLEN + ip_len + extra > end)
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
		o6->payload_len = bpf_htons(p->l3_len + extra);
		o6->nexthdr = proto;
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
	o4->tot_len = bpf_htons(p->l3_len + sizeof(*o4) + extra);
	o4->id = 0;
	/* DF as the inner packet has it (RFC 2003), so path MTU discovery works. */
	o4->frag_off = df;
	o4->ttl = VSN_OUTER_TTL;
	o4->protocol = proto;
	o4->check = 0;
	o4->saddr = cfg->underlay4;
	__builtin_memcpy(&o4->daddr, &slb->addr[12], 4);
	o4->check = ip4_csum(o4);
	return 0;
}

/*
 * Put an Ethernet and an outer IP header in front of the IP packet: ipip.
 * 0, or the reason to drop it.
 */
static __always_inline int ipip_encap(struct xdp_md *ctx, const struct vsn_pkt *p,
				      const struct vsn_slb *slb, const struct vsn_config *cfg,
				      __u32 outer_len)
{
	return encap_push(ctx, p, slb, cfg, 0, p->is_v6 ? VSN_IPPROTO_IPV6 : VSN_IPPROTO_IPIP);
}

/*
 * Add the len bytes at pos to the sum, as 32-bit words as they lie in
 * memory: 0, or -1 when they are not all in the packet. len is a constant
 * and a multiple of 4, at most VSN_CSUM_CHUNK. Up to VSN_CSUM_INLINE bytes
 * are added here: a bpf_csum_diff() call costs about 20 ns, more than
 * loading 64 bytes.
 */
static __always_inline int csum_add(__u64 *sum, void *pos, __u32 len, void *end)
{
	if (pos + len > end)
		return -1;
	if (len > VSN_CSUM_INLINE) {
		*sum += (__u32)bpf_csum_diff(NULL, 0, pos, len, 0);
		return 0;
	}
#pragma unroll
	for (__u32 k = 0; k < VSN_CSUM_INLINE; k += 4)
		if (k < len)
			*sum += *(__u32 *)(pos + k);
	return 0;
}

/*
 * The UDP checksum of an IPv6 gue packet just pushed (IPv6 requires one,
 * RFC 8200): the pseudo-header, then the UDP length's bytes from the UDP
 * header on, the whole inner packet included. Everything is summed as it
 * lies in memory, so the folded sum goes into the header as it is. The
 * 512-byte chunks come first, then one chunk per bit of the length from 256
 * down to 4, each at the offset the bits above it give (so that the
 * verifier sees one path per bit, not every combination), then the last 0-3
 * bytes. 0, or VSN_DROP_ENCAP_ERROR.
 */
static __always_inline int gue_csum6(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ipv6hdr *o6 = data + ETH_HLEN;
	struct udphdr *udp = (void *)(o6 + 1);
	__u32 last = 0; /* the last 0-3 bytes, in a word of their own */
	__u32 ulen;
	__u64 sum;
	__u8 *tail;

	if ((void *)(udp + 1) > end)
		return VSN_DROP_ENCAP_ERROR;
	/* Read back for the verifier to know its bounds (encap_check_and_hop checked them). */
	ulen = bpf_ntohs(udp->len);
	if (ulen > VSN_ENCAP_MAX_FRAME - ETH_HLEN - sizeof(*o6))
		return VSN_DROP_ENCAP_ERROR;
	sum = (__u64)bpf_htonl(ulen) + bpf_htonl(VSN_IPPROTO_UDP);
	if (csum_add(&sum, &o6->saddr, 32, end))
		return VSN_DROP_ENCAP_ERROR;
	for (int i = 0; i < VSN_CSUM_CHUNKS; i++) {
		if ((__u32)(i + 1) * VSN_CSUM_CHUNK > ulen)
			break;
		if (csum_add(&sum, (void *)udp + i * VSN_CSUM_CHUNK, VSN_CSUM_CHUNK, end))
			return VSN_DROP_ENCAP_ERROR;
	}
#pragma unroll
	for (__u32 b = VSN_CSUM_CHUNK / 2; b >= 4; b /= 2) {
		if (!(ulen & b))
			continue;
		if (csum_add(&sum, (void *)udp + (ulen & ~(2 * b - 1)), b, end))
			return VSN_DROP_ENCAP_ERROR;
	}
	tail = (void *)udp + (ulen & ~3u);
	if (ulen & 3) {
		if ((void *)(tail + 1) > end)
			return VSN_DROP_ENCAP_ERROR;
		((__u8 *)&last)[0] = tail[0];
	}
	if ((ulen & 3) >= 2) {
		if ((void *)(tail + 2) > end)
			return VSN_DROP_ENCAP_ERROR;
		((__u8 *)&last)[1] = tail[1];
	}
	if ((ulen & 3) == 3) {
		if ((void *)(tail + 3) > end)
			return VSN_DROP_ENCAP_ERROR;
		((__u8 *)&last)[2] = tail[2];
	}
	sum += last;
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	/* A sum of 0 goes out as 0xffff (RFC 768): 0 would mean "no checksum". */
	udp->check = (__u16)~sum ? (__u16)~sum : 0xffff;
	return 0;
}

/*
 * Put an Ethernet header, an outer IP header, UDP and GUE in front of the IP
 * packet; the UDP checksum is 0 over IPv4 (RFC 768 allows it, and Linux's
 * fou sends none by default), computed over IPv6. 0, or the reason to drop it.
 */
static __always_inline int gue_encap(struct xdp_md *ctx, const struct vsn_pkt *p,
				     const struct vsn_slb *slb, const struct vsn_config *cfg)
{
	__u32 ip_len = p->is_v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr);
	__u32 ulen = p->l3_len + VSN_GUE_HLEN;
	struct vsn_guehdr *gue;
	struct udphdr *udp;
	void *data, *end;
	int r;

	r = encap_push(ctx, p, slb, cfg, VSN_GUE_HLEN, VSN_IPPROTO_UDP);
	if (r)
		return r;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	udp = data + ETH_HLEN + ip_len;
	gue = (void *)(udp + 1);
	if ((void *)(gue + 1) > end)
		return VSN_DROP_ENCAP_ERROR;
	/*
	 * From the flow, so that the underlay's ECMP spreads flows as it would
	 * the packets; for a fragment, from its addresses only (a first one's
	 * ports taken out again), so that every fragment of a datagram goes alike.
	 */
	udp->source = bpf_htons(vsn_gue_sport(p->frag ? p->flow ^ p->fk.ports : p->flow));
	udp->dest = cfg->gue_port ? cfg->gue_port : bpf_htons(VSN_GUE_PORT_DEFAULT);
	udp->len = bpf_htons(ulen);
	udp->check = 0;
	/* Variant 0, a data message (C 0) without extension fields (hlen 0, flags 0). */
	gue->hlen_c_ver = 0;
	gue->proto = p->is_v6 ? VSN_IPPROTO_IPV6 : VSN_IPPROTO_IPIP;
	gue->flags = 0;
	return p->is_v6 ? gue_csum6(ctx) : 0;
}

#endif /* VSN_BPF_ENCAP_H */
