/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small packet builder for the packet tests: Ethernet (+ VLAN tags), IPv4
 * (options; IHL, total length and fragment bits settable) or IPv6 (a chain
 * of extension headers), TCP / UDP / ICMP / ICMPv6 with a payload, and
 * helpers to cut the result at any byte.
 *
 * Every field that a test may want wrong can be set wrong: the builder
 * writes what the spec says and computes only what the spec leaves at 0.
 * Checksums (IPv4 header, L4) are computed over the bytes written.
 */
#ifndef VSN_TEST_PKT_H
#define VSN_TEST_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>

#define PKT_CAP 2048
#define PKT_MAX_VLANS 3
#define PKT_MAX_EXT 8

/* Header starts in a built packet (see struct pkt.off). */
enum pkt_mark {
	PKT_AT_ETH = 0,
	PKT_AT_VLAN0,
	PKT_AT_VLAN1,
	PKT_AT_VLAN2,
	PKT_AT_L3, /* IPv4/IPv6 header, or the raw payload of a non-IP frame */
	PKT_AT_EXT0,
	PKT_AT_EXT_LAST = PKT_AT_EXT0 + PKT_MAX_EXT - 1,
	PKT_AT_L4,	/* transport header */
	PKT_AT_PAYLOAD, /* transport payload */
	PKT_AT_PAD,	/* end of the IP datagram: Ethernet padding starts here */
	PKT_AT_END,	/* end of the frame */
	PKT_AT_MAX,
};

#define PKT_NO_MARK ((size_t)-1)

/* Next-header values of the IPv6 extension headers the builder knows. */
#define PKT_EXT_HOP 0
#define PKT_EXT_ROUTING 43
#define PKT_EXT_FRAGMENT 44
#define PKT_EXT_AH 51
#define PKT_EXT_DEST 60

struct pkt_ext {
	__u8 type;   /* PKT_EXT_* */
	__u8 hdrlen; /* the length field: 8-byte units beyond the first (AH: 4-byte units - 2) */
	__u8 segments_left; /* routing header */
	__u16 frag;	    /* fragment header: offset << 3 | M flag, host order */
};

/* For a length field where 0 means "computed": write a literal 0. */
#define PKT_ZERO (-1)

struct pkt_spec {
	__u8 dmac[6];
	__u8 smac[6];
	int n_vlans;			/* 0 .. PKT_MAX_VLANS */
	__u16 vlan_tpid[PKT_MAX_VLANS]; /* 0: 0x8100 */
	__u16 vlan_tci[PKT_MAX_VLANS];	/* VLAN id and priority */
	__u16 ethertype;		/* 0: from l3 */
	int l3;				/* AF_INET, AF_INET6, or 0: raw payload after L2 */
	const char *saddr;		/* literal address of the l3 family */
	const char *daddr;
	__u8 l4; /* IPPROTO_TCP, _UDP, _ICMP, _ICMPV6, or another: raw payload */
	__u16 sport;
	__u16 dport;
	size_t payload_len; /* transport payload, a fixed byte pattern */
	size_t eth_pad;	    /* zero bytes after the IP datagram */

	/* IPv4 */
	__u8 ip_version;     /* 0: 4 or 6 by l3 */
	int ihl;	     /* 0: computed from the options; PKT_ZERO */
	const __u8 *ip_opts; /* options, written as given ... */
	size_t ip_opts_len;  /* ... and padded with EOL to a multiple of 4 */
	int tot_len;	     /* 0: computed; PKT_ZERO */
	__u16 frag_off;	     /* flags and offset, host order (0x4000: DF, 0x2000: MF) */
	__u8 ttl;	     /* 0: 64 */
	__u16 ip_id;

	/* IPv6 */
	int n_ext;
	struct pkt_ext ext[PKT_MAX_EXT]; /* in wire order */
	int payload_len6;		 /* 0: computed; PKT_ZERO */

	/* TCP */
	int doff; /* 0: computed from the options; PKT_ZERO */
	const __u8 *tcp_opts;
	size_t tcp_opts_len; /* a multiple of 4 */
	__u8 tcp_flags;	     /* 0: PSH|ACK */

	/* UDP */
	int udp_len; /* 0: computed; PKT_ZERO */
};

struct pkt {
	__u8 data[PKT_CAP];
	size_t len;
	size_t off[PKT_AT_MAX]; /* PKT_NO_MARK where the header is absent */
};

/* Build s into *ret. 0, or -EINVAL (bad spec), -E2BIG (over PKT_CAP). */
int pkt_build(const struct pkt_spec *s, struct pkt *ret);

/*
 * Wrap the IP datagram of a built packet p in an outer IPv4 or IPv6 header,
 * as a node's ipip forwarding does: the outer header goes between p's
 * Ethernet header (VLAN tags kept) and its IP header, and the innermost
 * ethertype becomes the outer family's. The outer header comes from the IP
 * fields of outer: l3, saddr, daddr, l4 (the outer protocol / next header;
 * 0: 4 or 41 by the version of p's IP header), and IPv4 ip_version, ihl,
 * ip_opts, tot_len, frag_off, ttl, ip_id or IPv6 n_ext, ext, payload_len6
 * (0: computed, as pkt_build), with the IPv4 header checksum. p's Ethernet
 * padding stays after the datagram. Afterwards PKT_AT_L3 marks the outer
 * header, PKT_AT_PAYLOAD the inner IP header, PKT_AT_PAD the end of the
 * outer datagram, PKT_AT_EXT* the outer extension headers; there is no
 * PKT_AT_L4. 0, or -EINVAL (bad spec, p has no IP header), -E2BIG (over
 * PKT_CAP).
 */
int pkt_encap(struct pkt *p, const struct pkt_spec *outer);

/*
 * pkt_encap with an outer UDP header and hdr_len bytes of hdr (a GUE header)
 * between it and p's IP datagram: outer's l4 is ignored, its sport, dport
 * and udp_len (0: computed) make the UDP header. Its checksum covers what
 * the frame holds: computed over the outer addresses and the UDP datagram
 * with csum (0xffff for a sum of 0), else 0. Afterwards PKT_AT_L4 marks the
 * outer UDP header; the other marks are pkt_encap's.
 */
int pkt_encap_udp(struct pkt *p, const struct pkt_spec *outer, const void *hdr, size_t hdr_len,
		  bool csum);

/*
 * Does the UDP datagram at PKT_AT_L4 (under the IP header at PKT_AT_L3)
 * carry a checksum that holds, or none over IPv4? false when it does not
 * fit the frame.
 */
bool pkt_udp_csum_ok(const struct pkt *p);

/* Where header m starts, or PKT_NO_MARK. */
size_t pkt_mark(const struct pkt *p, enum pkt_mark m);

/* Cut the frame to len bytes (no-op if it is shorter); length fields stay. */
void pkt_cut(struct pkt *p, size_t len);

/*
 * Cut the frame to len bytes and make the IP length field (IPv4 total
 * length, IPv6 payload length) say the new length, when the IP fixed header
 * is still whole; the IPv4 header checksum is recomputed. Transport length
 * fields and checksums stay as built.
 */
void pkt_cut_fix(struct pkt *p, size_t len);

/* Recompute the IPv4 header checksum of p in place (after editing it). */
void pkt_ip4_csum_fix(struct pkt *p);

/*
 * Recompute the transport checksum of p in place (TCP, UDP, ICMP, ICMPv6;
 * after editing the transport header or payload): over the bytes from
 * PKT_AT_L4 to PKT_AT_PAD, with the pseudo-header of the IP header's
 * addresses (not for ICMP). No-op without a transport header.
 */
void pkt_l4_csum_fix(struct pkt *p);

/* RFC 1071: add buf's 16-bit big-endian words to sum; fold to the checksum (host order). */
__u32 pkt_csum_add(__u32 sum, const void *buf, size_t len);
__u16 pkt_csum_fold(__u32 sum);

/* Hex dump for failure messages; marks bytes that differ from ref (may be NULL). */
void pkt_hexdump(FILE *f, const char *title, const __u8 *data, size_t len, const __u8 *ref,
		 size_t ref_len);

#endif /* VSN_TEST_PKT_H */
