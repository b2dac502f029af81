/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/if_ether.h>
#include <linux/icmp.h>
#include <linux/icmpv6.h>

#include "pkt.h"

/*
 * Headers are written and read byte by byte: behind VLAN tags or an odd
 * number of options they are not aligned for their structs.
 */
static void put_be16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void put_be32(__u8 *p, __u32 v)
{
	put_be16(p, v >> 16);
	put_be16(p + 2, v & 0xffff);
}

__u32 pkt_csum_add(__u32 sum, const void *buf, size_t len)
{
	const __u8 *b = buf;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (__u32)b[i] << 8 | b[i + 1];
	if (len & 1)
		sum += (__u32)b[len - 1] << 8;
	return sum;
}

__u16 pkt_csum_fold(__u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

size_t pkt_mark(const struct pkt *p, enum pkt_mark m)
{
	return (unsigned)m < PKT_AT_MAX ? p->off[m] : PKT_NO_MARK;
}

void pkt_ip4_csum_fix(struct pkt *p)
{
	size_t l3 = p->off[PKT_AT_L3], hlen;
	__u8 *ip;

	if (l3 == PKT_NO_MARK || l3 + 20 > p->len)
		return;
	ip = p->data + l3;
	if (ip[0] >> 4 != 4)
		return;
	/* Over the header bytes that are there, whatever IHL says. */
	hlen = (p->off[PKT_AT_L4] != PKT_NO_MARK ? p->off[PKT_AT_L4] : p->off[PKT_AT_PAYLOAD]) - l3;
	if (l3 + hlen > p->len)
		hlen = p->len - l3;
	put_be16(ip + 10, 0);
	put_be16(ip + 10, pkt_csum_fold(pkt_csum_add(0, ip, hlen)));
}

void pkt_cut(struct pkt *p, size_t len)
{
	if (len >= p->len)
		return;
	p->len = len;
	for (int m = 0; m < PKT_AT_MAX; m++)
		if (p->off[m] != PKT_NO_MARK && p->off[m] > len)
			p->off[m] = len;
}

void pkt_cut_fix(struct pkt *p, size_t len)
{
	size_t l3 = p->off[PKT_AT_L3];
	int l3_family = 0;

	if (l3 != PKT_NO_MARK && l3 < p->len) {
		__u8 v = p->data[l3] >> 4;

		l3_family = v == 4 ? AF_INET : v == 6 ? AF_INET6 : 0;
	}
	pkt_cut(p, len);
	if (l3 == PKT_NO_MARK)
		return;
	if (l3_family == AF_INET && l3 + 20 <= p->len) {
		put_be16(p->data + l3 + 2, p->len - l3);
		pkt_ip4_csum_fix(p);
	} else if (l3_family == AF_INET6 && l3 + 40 <= p->len) {
		put_be16(p->data + l3 + 4, p->len - l3 - 40);
	}
}

/* Fill an options area (hop-by-hop, destination) with Pad1 / PadN. */
static void opts_pad(__u8 *o, size_t len)
{
	if (len == 1) {
		o[0] = 0; /* Pad1 */
	} else if (len >= 2) {
		o[0] = 1; /* PadN */
		o[1] = len - 2;
		memset(o + 2, 0, len - 2);
	}
}

static size_t ext_len(const struct pkt_ext *e)
{
	switch (e->type) {
	case PKT_EXT_FRAGMENT:
		return 8;
	case PKT_EXT_AH:
		return ((size_t)e->hdrlen + 2) * 4;
	default:
		return ((size_t)e->hdrlen + 1) * 8;
	}
}

static void ext_write(__u8 *h, const struct pkt_ext *e, __u8 next)
{
	size_t len = ext_len(e);

	memset(h, 0, len);
	h[0] = next;
	switch (e->type) {
	case PKT_EXT_FRAGMENT:
		h[2] = e->frag >> 8;
		h[3] = e->frag & 0xff;
		memcpy(h + 4, "\x12\x34\x56\x78", 4); /* identification */
		break;
	case PKT_EXT_AH:
		h[1] = e->hdrlen;
		memcpy(h + 4, "\x00\x00\x10\x01", 4); /* SPI */
		memcpy(h + 8, "\x00\x00\x00\x01", 4); /* sequence number */
		break;
	case PKT_EXT_ROUTING:
		h[1] = e->hdrlen;
		h[2] = 4; /* segment routing header */
		h[3] = e->segments_left;
		break;
	default: /* hop-by-hop, destination options */
		h[1] = e->hdrlen;
		opts_pad(h + 2, len - 2);
		break;
	}
}

/* Pseudo-header sum for the transport checksum. */
static __u32 pseudo_sum(int l3, const __u8 *saddr, const __u8 *daddr, __u8 proto, size_t len)
{
	size_t alen = l3 == AF_INET ? 4 : 16;
	__u32 sum = 0;

	sum = pkt_csum_add(sum, saddr, alen);
	sum = pkt_csum_add(sum, daddr, alen);
	sum += proto;
	sum += (__u32)(len >> 16) + (__u32)(len & 0xffff);
	return sum;
}

/*
 * Write the checksum of the transport header at t (len bytes of header and
 * payload, its checksum field included) for proto: TCP, UDP and ICMPv6 with
 * the pseudo-header, ICMP without. Other protocols have none: no-op.
 */
static void l4_csum_write(int l3, const __u8 *saddr, const __u8 *daddr, __u8 proto, __u8 *t,
			  size_t len)
{
	size_t at = proto == IPPROTO_TCP ? 16 : proto == IPPROTO_UDP ? 6 : 2;
	__u32 sum = 0;
	__u16 c;

	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP && proto != IPPROTO_ICMPV6 &&
	    proto != IPPROTO_ICMP)
		return;
	if (len < at + 2)
		return;
	put_be16(t + at, 0);
	if (proto != IPPROTO_ICMP)
		sum = pseudo_sum(l3, saddr, daddr, proto, len);
	c = pkt_csum_fold(pkt_csum_add(sum, t, len));
	if (proto == IPPROTO_UDP && c == 0)
		c = 0xffff;
	put_be16(t + at, c);
}

void pkt_l4_csum_fix(struct pkt *p)
{
	size_t l3 = p->off[PKT_AT_L3], l4 = p->off[PKT_AT_L4], end = p->off[PKT_AT_PAD];
	const __u8 *ip;
	__u8 proto;

	if (l3 == PKT_NO_MARK || l4 == PKT_NO_MARK || end == PKT_NO_MARK || end > p->len ||
	    l4 > end || l3 + 20 > l4)
		return;
	ip = p->data + l3;
	if (ip[0] >> 4 == 4) {
		l4_csum_write(AF_INET, ip + 12, ip + 16, ip[9], p->data + l4, end - l4);
		return;
	}
	/* IPv6: the last extension header names the transport, else the fixed header. */
	if (ip[0] >> 4 != 6 || l3 + 40 > l4)
		return;
	proto = ip[6];
	for (int m = PKT_AT_EXT0; m <= PKT_AT_EXT_LAST; m++)
		if (p->off[m] != PKT_NO_MARK)
			proto = p->data[p->off[m]];
	l4_csum_write(AF_INET6, ip + 8, ip + 24, proto, p->data + l4, end - l4);
}

/* A spec's length field: 0 means computed, PKT_ZERO a literal 0. */
static unsigned int field(int v, size_t computed)
{
	return v == PKT_ZERO ? 0 : v ? (unsigned int)v : (unsigned int)computed;
}

int pkt_build(const struct pkt_spec *s, struct pkt *ret)
{
	__u8 saddr[16] = {0}, daddr[16] = {0};
	__u8 *d = ret->data;
	size_t o = 0, l3, l4, end, need, opts_padded = 0, ip_hlen = 0;
	__u16 ethertype;

	memset(ret, 0, sizeof(*ret));
	for (int m = 0; m < PKT_AT_MAX; m++)
		ret->off[m] = PKT_NO_MARK;
	if (s->n_vlans < 0 || s->n_vlans > PKT_MAX_VLANS || s->n_ext < 0 ||
	    s->n_ext > PKT_MAX_EXT || (s->l3 && s->l3 != AF_INET && s->l3 != AF_INET6) ||
	    (s->l3 != AF_INET && s->ip_opts_len) || (s->l3 != AF_INET6 && s->n_ext) ||
	    s->tcp_opts_len % 4 || s->tcp_opts_len > 40 || s->ip_opts_len > 40)
		return -EINVAL;
	if (s->l3 && (!s->saddr || !s->daddr || inet_pton(s->l3, s->saddr, saddr) != 1 ||
		      inet_pton(s->l3, s->daddr, daddr) != 1))
		return -EINVAL;

	/* An upper bound of what is written, so the writes below need no checks. */
	need = 14 + 4 * PKT_MAX_VLANS + 60 + 60 + s->payload_len + s->eth_pad;
	for (int i = 0; i < s->n_ext; i++)
		need += ext_len(&s->ext[i]);
	if (need > PKT_CAP)
		return -E2BIG;

	ethertype = s->ethertype	? s->ethertype
		    : s->l3 == AF_INET	? ETH_P_IP
		    : s->l3 == AF_INET6 ? ETH_P_IPV6
					: 0x88b5; /* local experimental */

	/* Ethernet and VLAN tags: each tag's TPID sits in the header before it. */
	ret->off[PKT_AT_ETH] = 0;
	memcpy(d, s->dmac, 6);
	memcpy(d + 6, s->smac, 6);
	o = 12;
	for (int i = 0; i < s->n_vlans; i++) {
		put_be16(d + o, s->vlan_tpid[i] ? s->vlan_tpid[i] : ETH_P_8021Q);
		ret->off[PKT_AT_VLAN0 + i] = o + 2;
		put_be16(d + o + 2, s->vlan_tci[i]);
		o += 4;
	}
	put_be16(d + o, ethertype);
	o += 2;

	l3 = o;
	ret->off[PKT_AT_L3] = l3;
	if (s->l3 == AF_INET) {
		opts_padded = (s->ip_opts_len + 3) & ~(size_t)3;
		ip_hlen = 20 + opts_padded;
		if (s->ip_opts_len)
			memcpy(d + l3 + 20, s->ip_opts, s->ip_opts_len);
		/* The rest of the padded options are EOL (0): the buffer is zeroed. */
		o = l3 + ip_hlen;
	} else if (s->l3 == AF_INET6) {
		o = l3 + 40;
		for (int i = 0; i < s->n_ext; i++) {
			__u8 next = i + 1 < s->n_ext ? s->ext[i + 1].type : s->l4;

			ret->off[PKT_AT_EXT0 + i] = o;
			ext_write(d + o, &s->ext[i], next);
			o += ext_len(&s->ext[i]);
		}
	}

	/* Transport header and payload. */
	l4 = o;
	if (s->l3 && (s->l4 == IPPROTO_TCP || s->l4 == IPPROTO_UDP || s->l4 == IPPROTO_ICMP ||
		      s->l4 == IPPROTO_ICMPV6))
		ret->off[PKT_AT_L4] = l4;
	if (s->l3 && s->l4 == IPPROTO_TCP) {
		__u8 *t = d + l4;
		size_t hlen = 20 + s->tcp_opts_len;

		put_be16(t, s->sport);
		put_be16(t + 2, s->dport);
		put_be32(t + 4, 0x01020304);		       /* sequence number */
		put_be32(t + 8, 0x0a0b0c0d);		       /* acknowledgment number */
		t[12] = (field(s->doff, hlen / 4) & 0xf) << 4; /* data offset */
		t[13] = s->tcp_flags ? s->tcp_flags : 0x18;    /* PSH|ACK */
		put_be16(t + 14, 65535);		       /* window */
		if (s->tcp_opts_len)
			memcpy(t + 20, s->tcp_opts, s->tcp_opts_len);
		o = l4 + hlen;
	} else if (s->l3 && s->l4 == IPPROTO_UDP) {
		o = l4 + 8;
	} else if (s->l3 && (s->l4 == IPPROTO_ICMP || s->l4 == IPPROTO_ICMPV6)) {
		d[l4] = s->l4 == IPPROTO_ICMP ? ICMP_ECHO : ICMPV6_ECHO_REQUEST;
		put_be16(d + l4 + 4, 0x4242); /* identifier */
		put_be16(d + l4 + 6, 1);      /* sequence */
		o = l4 + 8;
	}
	ret->off[PKT_AT_PAYLOAD] = o;
	for (size_t i = 0; i < s->payload_len; i++)
		d[o + i] = (__u8)(0x41 + i % 26);
	o += s->payload_len;
	end = o;
	ret->off[PKT_AT_PAD] = end;

	if (s->l3 && s->l4 == IPPROTO_UDP) {
		put_be16(d + l4, s->sport);
		put_be16(d + l4 + 2, s->dport);
		put_be16(d + l4 + 4, field(s->udp_len, end - l4));
	}

	/* Transport checksums over what was written (before the IP header says otherwise). */
	if (s->l3)
		l4_csum_write(s->l3, saddr, daddr, s->l4, d + l4, end - l4);

	if (s->l3 == AF_INET) {
		__u8 *ip = d + l3;

		ip[0] = (s->ip_version ? s->ip_version : 4) << 4 |
			(field(s->ihl, ip_hlen / 4) & 0xf);
		put_be16(ip + 2, field(s->tot_len, end - l3));
		put_be16(ip + 4, s->ip_id);
		put_be16(ip + 6, s->frag_off);
		ip[8] = s->ttl ? s->ttl : 64;
		ip[9] = s->l4;
		memcpy(ip + 12, saddr, 4);
		memcpy(ip + 16, daddr, 4);
		put_be16(ip + 10, pkt_csum_fold(pkt_csum_add(0, ip, ip_hlen)));
	} else if (s->l3 == AF_INET6) {
		__u8 *ip6 = d + l3;

		ip6[0] = (s->ip_version ? s->ip_version : 6) << 4;
		put_be16(ip6 + 4, field(s->payload_len6, end - l3 - 40));
		ip6[6] = s->n_ext ? s->ext[0].type : s->l4;
		ip6[7] = s->ttl ? s->ttl : 64;
		memcpy(ip6 + 8, saddr, 16);
		memcpy(ip6 + 24, daddr, 16);
	}

	/* Padding is zeroes: the buffer was cleared. */
	o = end + s->eth_pad;
	ret->off[PKT_AT_END] = o;
	ret->len = o;
	return 0;
}

/*
 * pkt_encap with outer protocol l4 (IPPROTO_UDP: outer's sport, dport and
 * udp_len too), and hdr_len bytes of hdr between the outer headers and the
 * datagram.
 */
static int encap(struct pkt *p, const struct pkt_spec *outer, __u8 l4, const void *hdr,
		 size_t hdr_len)
{
	struct pkt_spec s = {0};
	struct pkt o; /* the outer headers, built around a placeholder payload */
	size_t l3 = p->off[PKT_AT_L3], pad = p->off[PKT_AT_PAD], hlen, add;
	__u8 version;
	int r;

	if (l3 == PKT_NO_MARK || l3 < 2 || l3 >= p->len ||
	    (outer->l3 != AF_INET && outer->l3 != AF_INET6))
		return -EINVAL;
	if (pad == PKT_NO_MARK || pad > p->len || pad < l3)
		pad = p->len;
	version = p->data[l3] >> 4;
	if (!l4 && version != 4 && version != 6)
		return -EINVAL;
	s.l3 = outer->l3;
	s.saddr = outer->saddr;
	s.daddr = outer->daddr;
	s.l4 = l4 ? l4 : version == 4 ? IPPROTO_IPIP : IPPROTO_IPV6;
	s.sport = outer->sport;
	s.dport = outer->dport;
	s.udp_len = outer->udp_len;
	s.payload_len = hdr_len + pad - l3;
	s.ip_version = outer->ip_version;
	s.ihl = outer->ihl;
	s.ip_opts = outer->ip_opts;
	s.ip_opts_len = outer->ip_opts_len;
	s.tot_len = outer->tot_len;
	s.frag_off = outer->frag_off;
	s.ttl = outer->ttl;
	s.ip_id = outer->ip_id;
	s.n_ext = outer->n_ext;
	memcpy(s.ext, outer->ext, sizeof(s.ext));
	s.payload_len6 = outer->payload_len6;
	r = pkt_build(&s, &o);
	if (r)
		return r;
	hlen = o.off[PKT_AT_PAYLOAD] - o.off[PKT_AT_L3];
	add = hlen + hdr_len;
	if (p->len + add > PKT_CAP)
		return -E2BIG;

	memmove(p->data + l3 + add, p->data + l3, p->len - l3);
	memcpy(p->data + l3, o.data + o.off[PKT_AT_L3], hlen);
	if (hdr_len)
		memcpy(p->data + l3 + hlen, hdr, hdr_len);
	put_be16(p->data + l3 - 2, outer->l3 == AF_INET ? ETH_P_IP : ETH_P_IPV6);
	for (int m = PKT_AT_EXT0; m <= PKT_AT_L4; m++)
		p->off[m] =
			o.off[m] == PKT_NO_MARK ? PKT_NO_MARK : o.off[m] - o.off[PKT_AT_L3] + l3;
	p->off[PKT_AT_PAYLOAD] = l3 + add;
	p->off[PKT_AT_PAD] = pad + add;
	p->len += add;
	p->off[PKT_AT_END] = p->len;
	return 0;
}

int pkt_encap(struct pkt *p, const struct pkt_spec *outer)
{
	return encap(p, outer, outer->l4, NULL, 0);
}

int pkt_encap_udp(struct pkt *p, const struct pkt_spec *outer, const void *hdr, size_t hdr_len,
		  bool csum)
{
	bool v4 = outer->l3 == AF_INET;
	size_t l4, ulen;
	const __u8 *ip;
	__u8 *u;
	int r;

	r = encap(p, outer, IPPROTO_UDP, hdr, hdr_len);
	if (r)
		return r;
	ip = p->data + p->off[PKT_AT_L3];
	l4 = p->off[PKT_AT_L4];
	u = p->data + l4;
	ulen = (size_t)u[4] << 8 | u[5];
	if (l4 + ulen > p->len)
		ulen = p->len - l4;
	put_be16(u + 6, 0);
	/* The addresses as the outer header has them, then the UDP datagram. */
	if (csum)
		l4_csum_write(outer->l3, ip + (v4 ? 12 : 8), ip + (v4 ? 16 : 24), IPPROTO_UDP, u,
			      ulen);
	return 0;
}

bool pkt_udp_csum_ok(const struct pkt *p)
{
	size_t l3 = p->off[PKT_AT_L3], l4 = p->off[PKT_AT_L4], ulen;
	const __u8 *ip, *u;
	bool v4;

	if (l3 == PKT_NO_MARK || l4 == PKT_NO_MARK || l4 + 8 > p->len)
		return false;
	ip = p->data + l3;
	u = p->data + l4;
	v4 = ip[0] >> 4 == 4;
	ulen = (size_t)u[4] << 8 | u[5];
	if (ulen < 8 || l4 + ulen > p->len)
		return false;
	if (v4 && !u[6] && !u[7])
		return true; /* none: IPv4 allows it */
	return pkt_csum_fold(pseudo_sum(v4 ? AF_INET : AF_INET6, ip + (v4 ? 12 : 8),
					ip + (v4 ? 16 : 24), IPPROTO_UDP, ulen) +
			     pkt_csum_add(0, u, ulen)) == 0;
}

void pkt_hexdump(FILE *f, const char *title, const __u8 *data, size_t len, const __u8 *ref,
		 size_t ref_len)
{
	fprintf(f, "%s (%zu bytes)%s\n", title, len, ref ? ", [xx] differs" : "");
	for (size_t i = 0; i < len; i += 16) {
		fprintf(f, "  %04zx:", i);
		for (size_t j = i; j < i + 16 && j < len; j++) {
			bool diff = ref && (j >= ref_len || ref[j] != data[j]);

			fprintf(f, diff ? "[%02x]" : " %02x ", data[j]);
		}
		fputc('\n', f);
	}
}
