/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The test packets: client to VIP, as a network node receives them, with
 * valid IP and L4 checksums (the forwarder checks neither, but a packet
 * should look like one off the wire); what ipip and gue forwarding must
 * make of them, built here independently of the forwarder; and what the SLB's decap
 * program must make of that, built from the packet before encapsulation.
 */
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>

#include "bench.h"
#include "vsn/hash.h"

#define UDP_PAYLOAD 32

static __u32 csum_add(__u32 sum, const void *buf, size_t len)
{
	const __u8 *b = buf;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (__u32)b[i] << 8 | b[i + 1];
	if (len & 1)
		sum += (__u32)b[len - 1] << 8;
	return sum;
}

static __u16 csum_fold(__u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons(~sum & 0xffff);
}

static void *eth_fill(struct bench_pkt *p, __u16 proto)
{
	struct ethhdr *eth = (struct ethhdr *)p->data;

	memset(p, 0, sizeof(*p));
	memcpy(eth->h_dest, bench_node_mac, ETH_ALEN);
	memcpy(eth->h_source, bench_client_mac, ETH_ALEN);
	eth->h_proto = htons(proto);
	return eth + 1;
}

static void ip4_fill(struct iphdr *ip, __u32 saddr, __u32 daddr, __u8 proto, __u16 l4_len)
{
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons(sizeof(*ip) + l4_len);
	ip->id = htons(1);
	ip->frag_off = htons(0x4000); /* DF */
	ip->ttl = 64;
	ip->protocol = proto;
	ip->saddr = htonl(saddr);
	ip->daddr = htonl(daddr);
	ip->check = csum_fold(csum_add(0, ip, sizeof(*ip)));
}

/* The L4 checksum over the IPv4 pseudo-header and l4. */
static __u16 l4_csum4(const struct iphdr *ip, const void *l4, __u16 len)
{
	__u32 sum = csum_add(0, &ip->saddr, 8);

	sum += ip->protocol + len;
	return csum_fold(csum_add(sum, l4, len));
}

static __u16 l4_csum6(const struct ipv6hdr *ip6, const void *l4, __u16 len)
{
	__u32 sum = csum_add(0, &ip6->saddr, 32);

	sum += ip6->nexthdr + len;
	return csum_fold(csum_add(sum, l4, len));
}

static void syn_fill(struct tcphdr *tcp, __u16 dport)
{
	tcp->source = htons(BENCH_CLIENT_PORT);
	tcp->dest = htons(dport);
	tcp->seq = htonl(0x12345678);
	tcp->doff = 5;
	tcp->syn = 1;
	tcp->window = htons(64240);
}

void bench_pkt_tcp4(struct bench_pkt *p, __u32 saddr, __u32 daddr, __u16 dport)
{
	struct iphdr *ip = eth_fill(p, ETH_P_IP);
	struct tcphdr *tcp = (struct tcphdr *)(ip + 1);

	syn_fill(tcp, dport);
	ip4_fill(ip, saddr, daddr, IPPROTO_TCP, sizeof(*tcp));
	tcp->check = l4_csum4(ip, tcp, sizeof(*tcp));
	p->len = (__u8 *)(tcp + 1) - p->data;
	p->saddr_off = (__u8 *)&ip->saddr - p->data;
	p->daddr_off = (__u8 *)&ip->daddr - p->data;
}

void bench_pkt_tcp4_ack(struct bench_pkt *p)
{
	struct iphdr *ip = (struct iphdr *)(p->data + sizeof(struct ethhdr));
	struct tcphdr *tcp = (struct tcphdr *)((__u8 *)ip + ip->ihl * 4);

	tcp->syn = 0;
	tcp->ack = 1;
	tcp->ack_seq = htonl(0x9abcdef0);
	tcp->check = 0;
	tcp->check = l4_csum4(ip, tcp, sizeof(*tcp));
}

void bench_pkt_udp4(struct bench_pkt *p, __u32 saddr, __u32 daddr, __u16 dport)
{
	struct iphdr *ip = eth_fill(p, ETH_P_IP);
	struct udphdr *udp = (struct udphdr *)(ip + 1);
	__u16 len = sizeof(*udp) + UDP_PAYLOAD;

	udp->source = htons(BENCH_CLIENT_PORT);
	udp->dest = htons(dport);
	udp->len = htons(len);
	memset(udp + 1, 'q', UDP_PAYLOAD);
	ip4_fill(ip, saddr, daddr, IPPROTO_UDP, len);
	udp->check = l4_csum4(ip, udp, len);
	p->len = (__u8 *)(udp + 1) + UDP_PAYLOAD - p->data;
	p->saddr_off = (__u8 *)&ip->saddr - p->data;
	p->daddr_off = (__u8 *)&ip->daddr - p->data;
}

void bench_pkt_tcp6(struct bench_pkt *p, const __u8 saddr[16], const __u8 daddr[16], __u16 dport)
{
	struct ipv6hdr *ip6 = eth_fill(p, ETH_P_IPV6);
	struct tcphdr *tcp = (struct tcphdr *)(ip6 + 1);

	ip6->version = 6;
	ip6->payload_len = htons(sizeof(*tcp));
	ip6->nexthdr = IPPROTO_TCP;
	ip6->hop_limit = 64;
	memcpy(&ip6->saddr, saddr, 16);
	memcpy(&ip6->daddr, daddr, 16);
	syn_fill(tcp, dport);
	tcp->check = l4_csum6(ip6, tcp, sizeof(*tcp));
	p->len = (__u8 *)(tcp + 1) - p->data;
	p->saddr_off = (__u8 *)&ip6->saddr - p->data;
	p->daddr_off = (__u8 *)&ip6->daddr - p->data;
}

/* RFC 1624 (eqn. 3): the checksum hc after one 16-bit word changes from m to m_new. */
static __u16 csum_update(__u16 hc, __u16 m, __u16 m_new)
{
	__u32 sum = (__u16)~hc + (__u16)~m + m_new;

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

/*
 * The forwarder's flow word of the IP packet at ip (bpf/parse.h): the xor
 * of the IPv6 source address's four 32-bit words (IPv4: of the source and
 * destination addresses), then of (source port << 16) ^ destination port,
 * every field read raw (network order) in the host's byte order, as the
 * program reads it. Its low 20 bits are the outer IPv6 flow label.
 */
static __u32 flow_word(const __u8 *ip, bool v6)
{
	__u32 w, flow = 0, l4 = v6 ? 40 : 20;
	__u16 sport, dport;

	for (int i = 0; i < (v6 ? 4 : 2); i++) {
		memcpy(&w, ip + (v6 ? 8 : 12) + 4 * i, 4);
		flow ^= w;
	}
	memcpy(&sport, ip + l4, 2);
	memcpy(&dport, ip + l4 + 2, 2);
	return flow ^ ((__u32)sport << 16) ^ dport;
}

/*
 * gue's UDP and GUE headers at udp, in front of the inner packet of ilen
 * bytes: from the flow's port (include/vsn/hash.h) to the default GUE port,
 * the checksum over IPv6 (outer: its header, for the pseudo-header), none
 * over IPv4; GUE variant 0 carrying the inner family's protocol.
 */
static void gue_fill(__u8 *udp, const __u8 *outer, const __u8 *inner, __u32 ilen, bool v6)
{
	__u32 ulen = 8 + 4 + ilen, sum;
	struct udphdr *u = (struct udphdr *)udp;

	u->source = htons(vsn_gue_sport(flow_word(inner, v6)));
	u->dest = htons(VSN_GUE_PORT_DEFAULT);
	u->len = htons(ulen);
	u->check = 0;
	udp[8] = 0;	       /* variant 0, C 0, hlen 0 */
	udp[9] = v6 ? 41 : 4;  /* the inner protocol */
	udp[10] = udp[11] = 0; /* flags */
	if (!v6)
		return;
	sum = csum_add(0, outer + 8, 32) + ulen + IPPROTO_UDP;
	u->check = csum_fold(csum_add(sum, udp, ulen));
	if (!u->check)
		u->check = 0xffff;
}

void bench_pkt_encap(const struct bench_pkt *in, enum vsn_forward forward, struct bench_pkt *ret)
{
	const struct ethhdr *ieth = (const struct ethhdr *)in->data;
	bool v6 = ieth->h_proto == htons(ETH_P_IPV6), gue = forward == VSN_FORWARD_GUE;
	__u32 iphlen = v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr);
	__u32 hlen = iphlen + (gue ? 8 + 4 : 0);
	__u32 ilen = in->len - ETH_HLEN;
	struct ethhdr *eth = (struct ethhdr *)ret->data;
	__u8 *outer = ret->data + ETH_HLEN, *inner = outer + hlen;

	memset(ret, 0, sizeof(*ret));
	memcpy(eth->h_dest, bench_ipip_dmac, ETH_ALEN);
	memcpy(eth->h_source, bench_ipip_smac, ETH_ALEN);
	eth->h_proto = ieth->h_proto;
	memcpy(inner, in->data + ETH_HLEN, ilen);
	if (v6) {
		struct ipv6hdr *o6 = (struct ipv6hdr *)outer, *i6 = (struct ipv6hdr *)inner;
		__u32 tclass = (inner[0] & 0xf) << 4 | inner[1] >> 4;

		*(__be32 *)o6 = htonl(6u << 28 | tclass << 20 | (flow_word(inner, true) & 0xfffff));
		o6->payload_len = htons(hlen - iphlen + ilen);
		o6->nexthdr = gue ? IPPROTO_UDP : 41; /* IPv6 */
		o6->hop_limit = 64;
		inet_pton(AF_INET6, BENCH_UNDERLAY6, &o6->saddr);
		inet_pton(AF_INET6, BENCH_SLB_IPIP6_ADDR, &o6->daddr);
		i6->hop_limit--;
	} else {
		struct iphdr *o4 = (struct iphdr *)outer, *i4 = (struct iphdr *)inner;
		__u16 word = i4->ttl << 8 | i4->protocol;

		/* A router's update: a checksum wrong before (the spread's rewrite) stays wrong. */
		i4->ttl--;
		i4->check = htons(csum_update(ntohs(i4->check), word, word - 0x100));
		o4->version = 4;
		o4->ihl = 5;
		o4->tos = i4->tos;
		o4->tot_len = htons(hlen + ilen);
		o4->frag_off = i4->frag_off & htons(0x4000); /* DF */
		o4->ttl = 64;
		o4->protocol = gue ? IPPROTO_UDP : 4; /* IPIP */
		inet_pton(AF_INET, BENCH_UNDERLAY4, &o4->saddr);
		inet_pton(AF_INET, BENCH_SLB_IPIP4_ADDR, &o4->daddr);
		o4->check = csum_fold(csum_add(0, o4, sizeof(*o4)));
	}
	if (gue)
		gue_fill(outer + iphlen, outer, inner, ilen, v6);
	ret->len = ETH_HLEN + hlen + ilen;
	ret->saddr_off = in->saddr_off + hlen;
	ret->daddr_off = in->daddr_off + hlen;
}

void bench_pkt_decap(const struct bench_pkt *in, struct bench_pkt *ret)
{
	struct ethhdr *eth = (struct ethhdr *)ret->data;
	struct iphdr *ip = (struct iphdr *)(eth + 1);

	/* The Ethernet header the node sent the encapsulated frame with. */
	memset(ret, 0, sizeof(*ret));
	memcpy(eth->h_dest, bench_ipip_dmac, ETH_ALEN);
	memcpy(eth->h_source, bench_ipip_smac, ETH_ALEN);
	eth->h_proto = htons(ETH_P_IP);
	/* The IP packet as it left the node: one hop on, checksum summed anew. */
	memcpy(ip, in->data + ETH_HLEN, in->len - ETH_HLEN);
	ip->ttl--;
	ip->check = 0;
	ip->check = csum_fold(csum_add(0, ip, ip->ihl * 4));
	ret->len = in->len;
	ret->saddr_off = in->saddr_off;
	ret->daddr_off = in->daddr_off;
}
