/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SLB host's decap program (DESIGN section 4). SLB hosts have no ipip
 * or fou module: this program takes IP-in-IP, and GUE (variant 0 in UDP to
 * the configured port, as the forwarder's gue sends it), IPv4 or IPv6
 * outside, IPv4 or IPv6 inside, from the allowed node underlay addresses,
 * strips the outer headers and passes the inner packet up to the kernel
 * under the original Ethernet header. Encapsulated packets from any other
 * source are dropped: anyone could otherwise inject any packet through it,
 * with any source address. Everything else (and encapsulated packets that
 * are fragmented or malformed, or GUE of another kind) is passed untouched.
 *
 * Order of the checks, each with its reason (enum vsn_decap_reason):
 *   Ethernet/VLAN truncated                          pass_malformed
 *   not IPv4/IPv6, more than two VLAN tags           pass_not_encap
 *   outer IP header truncated or invalid             pass_malformed
 *   outer protocol/next header not 4, 41 or 17       pass_not_encap
 *   outer IPv4 fragment of IP-in-IP                  pass_fragment
 *   UDP: a later IPv4 fragment (no UDP header)       pass_not_encap
 *   UDP: header truncated                            pass_malformed
 *   UDP: not to the GUE port (or GUE off)            pass_not_encap
 *   UDP: a first IPv4 fragment                       pass_fragment
 *   UDP: length below 12 or past the IP payload      pass_malformed
 *   outer source not allowed                         drop_not_allowed
 *   GUE header not variant 0 data with protocol 4
 *     or 41, no extension fields and no flags        pass_gue_other
 *   inner IP header truncated or invalid             pass_malformed
 *   decapsulated                                     decap_v4 / decap_v6 (IP-in-IP),
 *                                                    decap_gue_v4 / decap_gue_v6
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
#include "parse.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * The allow-list: node underlay addresses, IPv6 or v4-mapped. Its size is
 * set at load time (VSN_DECAP_MAX_ALLOWED, lib/dp/vsn_decap.h).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, struct vsn_decap_key);
	__type(value, __u8);
} vsn_decap_allow SEC(".maps");

/* The first allowed nodes, inline (struct vsn_decap_fast); kept by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vsn_decap_fast);
} vsn_decap_fast SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VSN_DECAP_REASON_MAX);
	__type(key, __u32);
	__type(value, struct vsn_counter);
} vsn_decap_cnt SEC(".maps");

/* Host-wide settings (struct vsn_decap_config), kept by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vsn_decap_config);
} vsn_decap_config SEC(".maps");

/* VSN_DECAP_LAYOUT_VERSION, for user space (never read here); pinned last. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} vsn_decap_meta SEC(".maps");

/* Ethernet header and at most two VLAN tags: what moves over the outer header. */
#define DECAP_L2_MAX (ETH_HLEN + 2 * sizeof(struct vsn_vlan_hdr))

/* What the outer headers say. */
struct decap_outer {
	struct vsn_decap_key src; /* IPv6, or IPv4 v4-mapped, as the allow-list holds it */
	__u32 hlen;		  /* the outer headers' length: the bytes stripped */
	__u8 inner;		  /* IPPROTO_IPIP or IPPROTO_IPV6; IPPROTO_UDP until GUE is read */
	__u8 is_v4;		  /* the outer header is IPv4 */
	__u8 src_v4mapped;	  /* an IPv6 outer source in ::ffff:0:0/96 */
	__u8 fragment;		  /* an IPv4 fragment: FRAG_FIRST or FRAG_LATER */
};

#define FRAG_FIRST 1 /* offset 0, more fragments: the UDP header is there */
#define FRAG_LATER 2 /* an offset: no UDP header */

static __always_inline int verdict(__u32 reason, int action, __u64 bytes)
{
	struct vsn_counter *c = bpf_map_lookup_elem(&vsn_decap_cnt, &reason);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
	return action;
}

static __always_inline int parse_outer4(struct hdr_cursor *c, struct decap_outer *o)
{
	struct iphdr *ip = c->pos;
	__u32 hlen, tot;

	if ((void *)(ip + 1) > c->end || ip->version != 4 || ip->ihl < 5)
		return VSN_DECAP_PASS_MALFORMED;
	hlen = ip->ihl * 4;
	tot = bpf_ntohs(ip->tot_len);
	if (c->pos + hlen > c->end || tot < hlen || c->pos + tot > c->end)
		return VSN_DECAP_PASS_MALFORMED;
	if (ip->protocol != IPPROTO_IPIP && ip->protocol != IPPROTO_IPV6 &&
	    ip->protocol != IPPROTO_UDP)
		return VSN_DECAP_PASS_NOT_ENCAP;
	if (ip->frag_off & bpf_htons(VSN_IP_OFFSET))
		o->fragment = FRAG_LATER;
	else if (ip->frag_off & bpf_htons(VSN_IP_MF))
		o->fragment = FRAG_FIRST;
	/* Reassembly is the kernel's: it cannot decapsulate, but it is no worse off. */
	if (o->fragment && ip->protocol != IPPROTO_UDP)
		return VSN_DECAP_PASS_FRAGMENT;

	__builtin_memset(o->src.addr, 0, 10);
	o->src.addr[10] = 0xff;
	o->src.addr[11] = 0xff;
	__builtin_memcpy(&o->src.addr[12], &ip->saddr, 4);
	o->hlen = hlen;
	o->inner = ip->protocol;
	o->is_v4 = 1;
	c->pos += hlen;
	c->limit = (void *)ip + tot;
	return 0;
}

/* No extension headers: a node encapsulates without any. */
static __always_inline int parse_outer6(struct hdr_cursor *c, struct decap_outer *o)
{
	struct ipv6hdr *ip6 = c->pos;
	__u8 *s;

	if ((void *)(ip6 + 1) > c->end || ip6->version != 6)
		return VSN_DECAP_PASS_MALFORMED;
	if ((void *)(ip6 + 1) + bpf_ntohs(ip6->payload_len) > c->end)
		return VSN_DECAP_PASS_MALFORMED;
	if (ip6->nexthdr != IPPROTO_IPIP && ip6->nexthdr != IPPROTO_IPV6 &&
	    ip6->nexthdr != IPPROTO_UDP)
		return VSN_DECAP_PASS_NOT_ENCAP;

	__builtin_memcpy(o->src.addr, &ip6->saddr, 16);
	s = o->src.addr;
	/* Such a source would match an IPv4 node's key: never allowed. */
	o->src_v4mapped = !s[0] && !s[1] && !s[2] && !s[3] && !s[4] && !s[5] && !s[6] && !s[7] &&
			  !s[8] && !s[9] && s[10] == 0xff && s[11] == 0xff;
	o->hlen = sizeof(*ip6);
	o->inner = ip6->nexthdr;
	c->pos = ip6 + 1;
	c->limit = (void *)(ip6 + 1) + bpf_ntohs(ip6->payload_len);
	return 0;
}

/*
 * UDP: is it for the GUE port, and whole? Then step to the GUE header, the
 * UDP header counted in o->hlen and the datagram's end as the limit.
 * 0, or the reason to pass it untouched.
 */
static __always_inline int parse_udp(struct hdr_cursor *c, struct decap_outer *o)
{
	const struct vsn_decap_config *cfg;
	struct udphdr *udp = c->pos;
	__u32 zero = 0, ulen;

	if (o->fragment == FRAG_LATER)
		return VSN_DECAP_PASS_NOT_ENCAP;
	if (!CURSOR_FITS(c, udp + 1))
		return VSN_DECAP_PASS_MALFORMED;
	cfg = bpf_map_lookup_elem(&vsn_decap_config, &zero);
	if (!cfg || !cfg->gue_port || udp->dest != cfg->gue_port)
		return VSN_DECAP_PASS_NOT_ENCAP;
	if (o->fragment)
		return VSN_DECAP_PASS_FRAGMENT;
	ulen = bpf_ntohs(udp->len);
	if (ulen < sizeof(*udp) + sizeof(struct vsn_guehdr) || c->pos + ulen > c->limit)
		return VSN_DECAP_PASS_MALFORMED;
	c->limit = c->pos + ulen;
	c->pos = udp + 1;
	o->hlen += sizeof(*udp);
	return 0;
}

/*
 * The GUE header, from an allowed node: a variant 0 data message carrying
 * IPv4 or IPv6, without extension fields, is what nodes send; step past it,
 * o->inner its protocol. 0, or the reason to pass it untouched.
 */
static __always_inline int parse_gue(struct hdr_cursor *c, struct decap_outer *o)
{
	struct vsn_guehdr *gue = c->pos;

	if (!CURSOR_FITS(c, gue + 1))
		return VSN_DECAP_PASS_MALFORMED;
	if (gue->hlen_c_ver || gue->flags ||
	    (gue->proto != IPPROTO_IPIP && gue->proto != IPPROTO_IPV6))
		return VSN_DECAP_PASS_GUE_OTHER;
	o->inner = gue->proto;
	o->hlen += sizeof(*gue);
	c->pos = gue + 1;
	return 0;
}

/*
 * The inner header must be whole, of the family the outer protocol says,
 * and its length must fit in the outer payload. VSN_DECAP_OK_V4 / _V6, or
 * VSN_DECAP_PASS_MALFORMED.
 */
static __always_inline int check_inner(struct hdr_cursor *c, __u8 inner)
{
	if (inner == IPPROTO_IPIP) {
		struct iphdr *ip = c->pos;
		__u32 tot;

		if (!CURSOR_FITS(c, ip + 1) || ip->version != 4 || ip->ihl < 5)
			return VSN_DECAP_PASS_MALFORMED;
		tot = bpf_ntohs(ip->tot_len);
		if (tot < ip->ihl * 4 || c->pos + tot > c->limit)
			return VSN_DECAP_PASS_MALFORMED;
		return VSN_DECAP_OK_V4;
	} else {
		struct ipv6hdr *ip6 = c->pos;

		if (!CURSOR_FITS(c, ip6 + 1) || ip6->version != 6 ||
		    (void *)(ip6 + 1) + bpf_ntohs(ip6->payload_len) > c->limit)
			return VSN_DECAP_PASS_MALFORMED;
		return VSN_DECAP_OK_V6;
	}
}

/*
 * Strip the outer header: keep the l2_len bytes of Ethernet header and VLAN
 * tags, move the head of the frame past the outer header, and write them
 * back in front of the inner packet with the innermost ethertype set to
 * eth_proto. 0, or -1 when the kernel refuses to move the head.
 */
static __always_inline int decap(struct xdp_md *ctx, __u32 l2_len, __u32 hlen, __u16 eth_proto)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u8 l2[DECAP_L2_MAX];
	__be16 proto = bpf_htons(eth_proto);

	/* Holds for every frame that got here: Ethernet and an outer header of 20 or more. */
	if (data + DECAP_L2_MAX > end)
		return -1;
	__builtin_memcpy(l2, data, DECAP_L2_MAX);
	if (bpf_xdp_adjust_head(ctx, hlen))
		return -1;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	/* The inner header (20 or more) follows: the copies below stay within the frame. */
	if (data + DECAP_L2_MAX > end)
		return -1;

	/* Constant sizes for the verifier: one branch per number of VLAN tags. */
	if (l2_len == ETH_HLEN) {
		__builtin_memcpy(data, l2, ETH_HLEN - 2);
		__builtin_memcpy(data + ETH_HLEN - 2, &proto, 2);
	} else if (l2_len == ETH_HLEN + 4) {
		__builtin_memcpy(data, l2, ETH_HLEN + 2);
		__builtin_memcpy(data + ETH_HLEN + 2, &proto, 2);
	} else {
		__builtin_memcpy(data, l2, ETH_HLEN + 6);
		__builtin_memcpy(data + ETH_HLEN + 6, &proto, 2);
	}
	return 0;
}

/* Is the outer source an allowed node? The inline list first, the hash if it overflowed. */
static __always_inline int allowed(const struct decap_outer *o)
{
	const struct vsn_decap_fast *f;
	__u32 zero = 0, a[4], b[4];

	if (o->src_v4mapped)
		return 0;
	f = bpf_map_lookup_elem(&vsn_decap_fast, &zero);
	if (!f)
		return 0;
	if (o->is_v4) {
		__builtin_memcpy(a, &o->src.addr[12], 4);
#pragma unroll
		for (int i = 0; i < VSN_DECAP_FAST4; i++) {
			if ((__u32)i >= f->n4)
				break;
			if (f->v4[i] == a[0])
				return 1;
		}
		if (!f->more4)
			return 0;
	} else {
		__builtin_memcpy(a, o->src.addr, 16);
#pragma unroll
		for (int i = 0; i < VSN_DECAP_FAST6; i++) {
			if ((__u32)i >= f->n6)
				break;
			__builtin_memcpy(b, f->v6[i], 16);
			if (a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3])
				return 1;
		}
		if (!f->more6)
			return 0;
	}
	return bpf_map_lookup_elem(&vsn_decap_allow, &o->src) != NULL;
}

SEC("xdp")
int vsn_decap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	__u64 bytes = ctx->data_end - ctx->data;
	struct hdr_cursor c = {
		.pos = data,
		.end = (void *)(long)ctx->data_end,
		.limit = (void *)(long)ctx->data_end,
	};
	struct decap_outer o = {};
	struct vsn_pkt eth = {};
	__u16 proto = 0;
	__u32 l2_len;
	int r, gue;

	r = parse_eth(&c, &eth, &proto);
	if (r == VSN_PASS_VLAN_DEPTH)
		return verdict(VSN_DECAP_PASS_NOT_ENCAP, XDP_PASS, bytes);
	if (r)
		return verdict(VSN_DECAP_PASS_MALFORMED, XDP_PASS, bytes);
	l2_len = c.pos - data;

	if (proto == VSN_ETH_P_IP)
		r = parse_outer4(&c, &o);
	else if (proto == VSN_ETH_P_IPV6)
		r = parse_outer6(&c, &o);
	else
		r = VSN_DECAP_PASS_NOT_ENCAP;
	if (!r && o.inner == IPPROTO_UDP)
		r = parse_udp(&c, &o);
	if (r)
		return verdict(r, XDP_PASS, bytes);

	/* Whatever it carries, encapsulation from a stranger goes no further. */
	if (!allowed(&o))
		return verdict(VSN_DECAP_DROP_NOT_ALLOWED, XDP_DROP, bytes);

	gue = o.inner == IPPROTO_UDP;
	if (gue) {
		r = parse_gue(&c, &o);
		if (r)
			return verdict(r, XDP_PASS, bytes);
	}
	r = check_inner(&c, o.inner);
	if (r == VSN_DECAP_PASS_MALFORMED)
		return verdict(r, XDP_PASS, bytes);
	if (decap(ctx, l2_len, o.hlen, r == VSN_DECAP_OK_V4 ? VSN_ETH_P_IP : VSN_ETH_P_IPV6))
		return verdict(VSN_DECAP_DROP_ERROR, XDP_DROP, bytes);
	if (gue)
		r = r == VSN_DECAP_OK_V4 ? VSN_DECAP_OK_GUE_V4 : VSN_DECAP_OK_GUE_V6;
	return verdict(r, XDP_PASS, bytes);
}
