/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bounds-checked packet parsing for the forwarder. Each helper moves the
 * cursor past one header and returns 0, or the enum vsn_reason for which the
 * packet must be passed untouched. Nothing here writes to the packet.
 */
#ifndef VSN_BPF_PARSE_H
#define VSN_BPF_PARSE_H

#include "vsn/hash.h"

#define VSN_ETH_P_8021Q 0x8100
#define VSN_ETH_P_8021AD 0x88A8
#define VSN_ETH_P_IP 0x0800
#define VSN_ETH_P_IPV6 0x86DD

#define VSN_IP_MF 0x2000
#define VSN_IP_OFFSET 0x1FFF

#define VSN_NEXTHDR_HOP 0
#define VSN_NEXTHDR_ROUTING 43
#define VSN_NEXTHDR_FRAGMENT 44
#define VSN_NEXTHDR_AUTH 51
#define VSN_NEXTHDR_DEST 60

struct hdr_cursor {
	void *pos;
	void *end;   /* data_end: the verifier only trusts checks against it */
	void *limit; /* end of the IP datagram (Ethernet padding may follow) */
};

/* Is [pos, pos + len) within both the frame and the datagram? */
#define CURSOR_FITS(c, ptr) ((void *)(ptr) <= (c)->end && (void *)(ptr) <= (c)->limit)

struct vsn_vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

/* Generic IPv6 extension header start (hop-by-hop, routing, dest opts, AH). */
struct vsn_ipv6_opt_hdr {
	__u8 nexthdr;
	__u8 hdrlen;
	__u8 type;	    /* routing header: routing type */
	__u8 segments_left; /* routing header only */
};

/*
 * The GUE header (draft-ietf-intarea-gue; Linux's struct guehdr): the first
 * byte holds the variant (2 bits), C (control message) and hlen (the
 * extension fields' length in 4-byte words), high bits first; then the
 * protocol of the payload (a data message) and the flags. vsn sends and
 * takes variant 0 data messages without extension fields: first byte 0.
 */
struct vsn_guehdr {
	__u8 hlen_c_ver;
	__u8 proto;
	__be16 flags;
};

/* What the match and the encapsulation need from a parsed packet. */
struct vsn_pkt {
	struct vsn_policy_key key; /* destination address, protocol, port */
	struct vsn_flow_key fk;	   /* the 5-tuple: connection-table key and flow-hash input */
	struct ethhdr *eth;
	__u32 l3_off; /* IP header offset from the frame start (after VLAN tags) */
	__u32 l3_len; /* IP datagram length, header included */
	__u32 flow;   /* cheap hash of addresses and ports, for outer entropy */
	__u8 is_v6;
	__u8 frag;     /* VSN_FRAG_*: which fragment of a datagram, if any */
	__u8 icmp_err; /* an ICMP error quoting a VIP flow: key and fk are that flow's */
	__u8 syn;      /* a TCP SYN without ACK: a client opening a connection */
	__u32 frag_id; /* with frag: the datagram's identification */
};

#define VSN_FRAG_NONE 0
#define VSN_FRAG_FIRST 1 /* offset 0, more to come: ports present */
#define VSN_FRAG_LATER 2 /* offset > 0: no transport header */

/* IPv6 fragment header (RFC 8200 4.5). */
struct vsn_frag_hdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off; /* offset << 3 | M */
	__be32 id;
};

static __always_inline int parse_eth(struct hdr_cursor *c, struct vsn_pkt *p, __u16 *ret_proto)
{
	struct ethhdr *eth = c->pos;
	struct vsn_vlan_hdr *vlan;
	__u16 proto;

	if ((void *)(eth + 1) > c->end)
		return VSN_PASS_MALFORMED_ETH;
	p->eth = eth;
	c->pos = eth + 1;
	proto = bpf_ntohs(eth->h_proto);

#pragma unroll
	for (int i = 0; i < 2; i++) {
		if (proto != VSN_ETH_P_8021Q && proto != VSN_ETH_P_8021AD)
			break;
		vlan = c->pos;
		if ((void *)(vlan + 1) > c->end)
			return VSN_PASS_MALFORMED_ETH;
		c->pos = vlan + 1;
		proto = bpf_ntohs(vlan->encap_proto);
	}
	if (proto == VSN_ETH_P_8021Q || proto == VSN_ETH_P_8021AD)
		return VSN_PASS_VLAN_DEPTH;
	*ret_proto = proto;
	return 0;
}

static __always_inline int parse_ip4(struct hdr_cursor *c, struct vsn_pkt *p, __u8 *ret_l4)
{
	struct iphdr *ip = c->pos;
	__u32 hlen, tot;

	if ((void *)(ip + 1) > c->end)
		return VSN_PASS_MALFORMED_IP4;
	if (ip->version != 4 || ip->ihl < 5)
		return VSN_PASS_MALFORMED_IP4;
	hlen = ip->ihl * 4;
	tot = bpf_ntohs(ip->tot_len);
	/* Options are skipped, not interpreted; the total length must fit. */
	if (c->pos + hlen > c->end || tot < hlen || c->pos + tot > c->end)
		return VSN_PASS_MALFORMED_IP4;
	/* The first fragment carries the ports; the others follow it (vsn_frags). */
	if (ip->frag_off & bpf_htons(VSN_IP_OFFSET))
		p->frag = VSN_FRAG_LATER;
	else if (ip->frag_off & bpf_htons(VSN_IP_MF))
		p->frag = VSN_FRAG_FIRST;
	p->frag_id = ip->id;

	/* v4-mapped: ::ffff:a.b.c.d, so both families share one table. */
	__builtin_memset(p->key.addr, 0, 10);
	p->key.addr[10] = 0xff;
	p->key.addr[11] = 0xff;
	__builtin_memcpy(&p->key.addr[12], &ip->daddr, 4);
	p->fk.src[2] = VSN_V4MAPPED_WORD2;
	p->fk.src[3] = ip->saddr;
	p->fk.dst[2] = VSN_V4MAPPED_WORD2;
	p->fk.dst[3] = ip->daddr;
	*ret_l4 = ip->protocol;
	p->l3_off = (void *)ip - (void *)p->eth;
	p->l3_len = tot;
	p->flow = ip->saddr ^ ip->daddr;
	c->pos += hlen;
	c->limit = (void *)ip + tot;
	return 0;
}

static __always_inline int parse_ip6(struct hdr_cursor *c, struct vsn_pkt *p, __u8 *ret_l4)
{
	struct ipv6hdr *ip6 = c->pos;
	struct vsn_ipv6_opt_hdr *opt;
	__u8 nexthdr;
	__u32 len;

	if ((void *)(ip6 + 1) > c->end)
		return VSN_PASS_MALFORMED_IP6;
	if (ip6->version != 6)
		return VSN_PASS_MALFORMED_IP6;
	if ((void *)(ip6 + 1) + bpf_ntohs(ip6->payload_len) > c->end)
		return VSN_PASS_MALFORMED_IP6;
	__builtin_memcpy(p->key.addr, &ip6->daddr, 16);
	/* ::ffff:0:0/96 is how IPv4 VIPs are keyed; on the wire it is no VIP. */
	if (!p->key.addr[0] && !p->key.addr[1] && !p->key.addr[2] && !p->key.addr[3] &&
	    !p->key.addr[4] && !p->key.addr[5] && !p->key.addr[6] && !p->key.addr[7] &&
	    !p->key.addr[8] && !p->key.addr[9] && p->key.addr[10] == 0xff &&
	    p->key.addr[11] == 0xff)
		return VSN_PASS_NO_VIP;
	__builtin_memcpy(p->fk.src, &ip6->saddr, 16);
	__builtin_memcpy(p->fk.dst, &ip6->daddr, 16);
	c->limit = (void *)(ip6 + 1) + bpf_ntohs(ip6->payload_len);
	c->pos = ip6 + 1;
	p->is_v6 = 1;
	p->l3_off = (void *)ip6 - (void *)p->eth;
	p->l3_len = sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
	p->flow = ip6->saddr.in6_u.u6_addr32[0] ^ ip6->saddr.in6_u.u6_addr32[1] ^
		  ip6->saddr.in6_u.u6_addr32[2] ^ ip6->saddr.in6_u.u6_addr32[3];
	nexthdr = ip6->nexthdr;

#pragma unroll
	for (int i = 0; i < VSN_MAX_EXTHDRS; i++) {
		if (nexthdr != VSN_NEXTHDR_HOP && nexthdr != VSN_NEXTHDR_ROUTING &&
		    nexthdr != VSN_NEXTHDR_DEST && nexthdr != VSN_NEXTHDR_AUTH &&
		    nexthdr != VSN_NEXTHDR_FRAGMENT)
			break;
		if (nexthdr == VSN_NEXTHDR_FRAGMENT) {
			struct vsn_frag_hdr *fh = c->pos;
			__u16 off;

			if (!CURSOR_FITS(c, fh + 1))
				return VSN_PASS_MALFORMED_EXTHDR;
			off = bpf_ntohs(fh->frag_off);
			p->frag_id = fh->id;
			nexthdr = fh->nexthdr;
			c->pos = fh + 1;
			/* Offset 0 without M is an atomic fragment: a whole datagram. */
			if (off & 0xfff8) {
				p->frag = VSN_FRAG_LATER;
				break;
			}
			if (off & 1)
				p->frag = VSN_FRAG_FIRST;
			continue;
		}
		opt = c->pos;
		if (!CURSOR_FITS(c, opt + 1))
			return VSN_PASS_MALFORMED_EXTHDR;
		if (nexthdr == VSN_NEXTHDR_ROUTING && opt->segments_left)
			return VSN_PASS_IP6_ROUTING;
		if (nexthdr == VSN_NEXTHDR_AUTH)
			len = ((__u32)opt->hdrlen + 2) * 4;
		else
			len = ((__u32)opt->hdrlen + 1) * 8;
		if (!CURSOR_FITS(c, c->pos + len))
			return VSN_PASS_MALFORMED_EXTHDR;
		c->pos += len;
		nexthdr = opt->nexthdr;
	}
	if (p->frag != VSN_FRAG_LATER &&
	    (nexthdr == VSN_NEXTHDR_HOP || nexthdr == VSN_NEXTHDR_ROUTING ||
	     nexthdr == VSN_NEXTHDR_DEST || nexthdr == VSN_NEXTHDR_AUTH ||
	     nexthdr == VSN_NEXTHDR_FRAGMENT))
		return VSN_PASS_EXTHDR_DEPTH;
	*ret_l4 = nexthdr;
	return 0;
}

#define VSN_ICMP_DEST_UNREACH 3
#define VSN_ICMP_TIME_EXCEEDED 11
#define VSN_ICMPV6_DEST_UNREACH 1
#define VSN_ICMPV6_PKT_TOOBIG 2
#define VSN_ICMPV6_TIME_EXCEED 3

/* ICMP and ICMPv6 share this layout: type, code, checksum, 4 bytes. */
struct vsn_icmp_hdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be32 un;
};

/*
 * Is this an ICMP(v6) error about a packet a VIP sent (an SLB's reply, whose
 * source is the VIP)? The quoted header must be whole and of TCP or UDP,
 * with its ports; IPv6 quotes with extension headers are not followed.
 * Then p becomes the quoted flow seen from the client's side: key is (VIP,
 * protocol, VIP's port), fk is client -> VIP, so the error goes where the
 * flow goes.
 */
static __always_inline int parse_icmp_error(struct hdr_cursor *c, struct vsn_pkt *p, __u8 l4)
{
	struct vsn_icmp_hdr *icmp = c->pos;
	__be16 *ports;
	__u8 proto;

	if (!CURSOR_FITS(c, icmp + 1))
		return VSN_PASS_MALFORMED_L4;
	/* A fragmented error's fragment entry would be keyed by the quoted flow. */
	if (p->frag)
		return VSN_PASS_NOT_TCP_UDP;
	if (l4 == IPPROTO_ICMP
		    ? icmp->type != VSN_ICMP_DEST_UNREACH && icmp->type != VSN_ICMP_TIME_EXCEEDED
		    : icmp->type != VSN_ICMPV6_DEST_UNREACH &&
			      icmp->type != VSN_ICMPV6_PKT_TOOBIG &&
			      icmp->type != VSN_ICMPV6_TIME_EXCEED)
		return VSN_PASS_NOT_TCP_UDP;
	if (l4 == IPPROTO_ICMP) {
		struct iphdr *in = (void *)(icmp + 1);

		/* A later fragment's first bytes are data, not ports. */
		if (!CURSOR_FITS(c, in + 1) || in->version != 4 || in->ihl < 5 ||
		    (in->frag_off & bpf_htons(VSN_IP_OFFSET)))
			return VSN_PASS_NOT_TCP_UDP;
		ports = (void *)in + in->ihl * 4;
		if (!CURSOR_FITS(c, ports + 2) || in->saddr != p->fk.dst[3])
			return VSN_PASS_NOT_TCP_UDP;
		proto = in->protocol;
		p->fk.src[3] = in->daddr;
	} else {
		struct ipv6hdr *in = (void *)(icmp + 1);

		ports = (void *)(in + 1);
		if (!CURSOR_FITS(c, ports + 2) || in->version != 6 ||
		    in->saddr.in6_u.u6_addr32[0] != p->fk.dst[0] ||
		    in->saddr.in6_u.u6_addr32[1] != p->fk.dst[1] ||
		    in->saddr.in6_u.u6_addr32[2] != p->fk.dst[2] ||
		    in->saddr.in6_u.u6_addr32[3] != p->fk.dst[3])
			return VSN_PASS_NOT_TCP_UDP;
		proto = in->nexthdr;
		__builtin_memcpy(p->fk.src, &in->daddr, 16);
	}
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return VSN_PASS_NOT_TCP_UDP;
	/* The quoted packet went VIP -> client: reverse its ports. */
	p->key.port = ports[0];
	p->fk.ports = vsn_flow_ports(ports[1], ports[0]);
	p->key.proto = proto;
	p->fk.proto = proto;
	p->icmp_err = 1;
	return 0;
}

static __always_inline int parse_l4(struct hdr_cursor *c, struct vsn_pkt *p, __u8 l4)
{
	if ((l4 == IPPROTO_ICMP && !p->is_v6) || (l4 == IPPROTO_ICMPV6 && p->is_v6))
		return parse_icmp_error(c, p, l4);
	if (l4 == IPPROTO_TCP) {
		struct tcphdr *tcp = c->pos;

		if (!CURSOR_FITS(c, tcp + 1) || tcp->doff < 5 ||
		    !CURSOR_FITS(c, c->pos + tcp->doff * 4))
			return VSN_PASS_MALFORMED_L4;
		p->key.port = tcp->dest;
		p->fk.ports = vsn_flow_ports(tcp->source, tcp->dest);
		p->flow ^= ((__u32)tcp->source << 16) ^ tcp->dest;
		/* The flags byte lies within the 20 bytes just checked. */
		p->syn = tcp->syn && !tcp->ack;
	} else if (l4 == IPPROTO_UDP) {
		struct udphdr *udp = c->pos;

		if (!CURSOR_FITS(c, udp + 1) || bpf_ntohs(udp->len) < sizeof(*udp) ||
		    c->pos + bpf_ntohs(udp->len) > c->limit)
			return VSN_PASS_MALFORMED_L4;
		p->key.port = udp->dest;
		p->fk.ports = vsn_flow_ports(udp->source, udp->dest);
		p->flow ^= ((__u32)udp->source << 16) ^ udp->dest;
	} else {
		return VSN_PASS_NOT_TCP_UDP;
	}
	p->key.proto = l4;
	p->fk.proto = l4;
	return 0;
}

/* Parse a whole frame into p; 0, or the reason to pass it untouched. */
static __always_inline int parse_packet(struct xdp_md *ctx, struct vsn_pkt *p)
{
	struct hdr_cursor c = {
		.pos = (void *)(long)ctx->data,
		.end = (void *)(long)ctx->data_end,
		.limit = (void *)(long)ctx->data_end,
	};
	__u16 proto = 0;
	__u8 l4 = 0;
	int r;

	r = parse_eth(&c, p, &proto);
	if (r)
		return r;
	if (proto == VSN_ETH_P_IP)
		r = parse_ip4(&c, p, &l4);
	else if (proto == VSN_ETH_P_IPV6)
		r = parse_ip6(&c, p, &l4);
	else
		return VSN_PASS_NOT_IP;
	if (r)
		return r;
	/* A later fragment has no transport header: it is matched by vsn_frags. */
	if (p->frag == VSN_FRAG_LATER) {
		p->key.proto = l4;
		p->fk.proto = l4;
		return 0;
	}
	return parse_l4(&c, p, l4);
}

#endif /* VSN_BPF_PARSE_H */
