/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Packet tests of the SLB host's decap program (bpf/decap.bpf.c): one frame
 * in, the verdict, the whole frame out and the reason counters checked,
 * through BPF_PROG_TEST_RUN (ingress lo). The program is loaded through
 * libvsndp (lib/dp/decap.c) under a pin directory of this process.
 *
 *   allowed nodes (underlay)   10.0.0.1, 2001:db8:a::1
 *   not allowed                10.0.0.66, 2001:db8:a::66
 *   the SLB host               10.0.0.100, 2001:db8:a::100
 *   inner packets              client 198.51.100.1 / 2001:db8:c::1 to the VIPs
 *                              192.0.2.10 / 2001:db8::10
 *
 * GUE comes as nodes send it (pkt_encap_udp): UDP to the GUE port 6080 from
 * an ephemeral port, a GUE header of variant 0 carrying protocol 4 or 41;
 * the UDP checksum 0 over IPv4, computed over IPv6 (the program checks
 * neither).
 *
 * A frame the program decapsulates must come out as the inner packet under
 * the original Ethernet header and VLAN tags, with the innermost ethertype of
 * the inner family: exactly what pkt_build makes of the inner packet's spec.
 * Any other frame must come out untouched.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <cmocka.h>

#include "harness.h"
#include "vsn_decap.h"

/* The table overrides fields of a base spec with designated initializers. */
#pragma clang diagnostic ignored "-Winitializer-overrides"

#define NODE4 "10.0.0.1"
#define NODE6 "2001:db8:a::1"
#define STRANGER4 "10.0.0.66"
#define STRANGER6 "2001:db8:a::66"
#define HOST4 "10.0.0.100"
#define HOST6 "2001:db8:a::100"
#define CLIENT4 "198.51.100.1"
#define CLIENT6 "2001:db8:c::1"
#define VIP4 "192.0.2.10"
#define VIP6 "2001:db8::10"

static struct vsn_decap *decap;
static struct h_env env; /* only prog_fd and lo_ifindex: what h_run uses */

/* Frames come from a node's MAC to the SLB host's. */
#define L2 .dmac = {0x02, 0x51, 0, 0, 0, 0x64}, .smac = {0x02, 0x4e, 0, 0, 0, 0x01}
#define IN4(...)                                                                       \
	{                                                                              \
		L2, .l3 = AF_INET, .saddr = CLIENT4, .daddr = VIP4, .l4 = IPPROTO_UDP, \
		    .sport = 40000, .dport = 53, .payload_len = 10, __VA_ARGS__        \
	}
#define IN6(...)                                                                        \
	{                                                                               \
		L2, .l3 = AF_INET6, .saddr = CLIENT6, .daddr = VIP6, .l4 = IPPROTO_TCP, \
		    .sport = 40000, .dport = 443, .payload_len = 10, __VA_ARGS__        \
	}
#define OUT4(...)                                                          \
	{                                                                  \
		.l3 = AF_INET, .saddr = NODE4, .daddr = HOST4, __VA_ARGS__ \
	}
#define OUT6(...)                                                           \
	{                                                                   \
		.l3 = AF_INET6, .saddr = NODE6, .daddr = HOST6, __VA_ARGS__ \
	}
#define NONE      \
	{         \
		0 \
	}
#define VLAN1 .n_vlans = 1, .vlan_tci = {100}
#define VLAN2 .n_vlans = 2, .vlan_tpid = {0x88a8, 0x8100}, .vlan_tci = {10, 20}
#define EXT(t, ...)                              \
	{                                        \
		.type = PKT_EXT_##t, __VA_ARGS__ \
	}

enum cut_kind {
	CUT_NONE = 0,
	CUT_RAW, /* truncate; the IP length fields still claim the whole datagram */
	CUT_FIX, /* truncate and make the outer IP length field match */
};

struct decap_case {
	const char *name;
	struct pkt_spec inner; /* the inner packet with the frame's L2, or the whole frame */
	struct pkt_spec outer; /* the outer header (pkt_encap); .l3 0: not encapsulated */
	const __u8 *gue;       /* GUE: the header (pkt_encap_udp; outer's sport, dport) */
	size_t gue_len;
	int gue_csum; /* 0: as nodes send it (IPv6 only); 1: computed; -1: none */
	enum cut_kind cut;
	enum pkt_mark cut_at; /* cut at this header's start (after encapsulation) ... */
	int cut_delta;	      /* ... plus this many bytes */
	__u32 action;
	enum vsn_decap_reason reason;
};

#define CUT(kind, at, delta) .cut = CUT_##kind, .cut_at = PKT_AT_##at, .cut_delta = (delta)
#define OK(v) .action = XDP_PASS, .reason = VSN_DECAP_OK_##v
#define OK_GUE(v) .action = XDP_PASS, .reason = VSN_DECAP_OK_GUE_##v
#define PASS(r) .action = XDP_PASS, .reason = VSN_DECAP_PASS_##r
#define DROP(r) .action = XDP_DROP, .reason = VSN_DECAP_DROP_##r

static const __u8 ip_opt_router_alert[] = {0x94, 0x04, 0x00, 0x00};
/* 40 bytes, the most IHL allows: 4 NOPs, a timestamp option (room for 2), NOPs, EOL. */
static const __u8 ip_opt_max[40] = {
	[0 ... 3] = 1, [4] = 0x44, [5] = 12, [6] = 5, [16 ... 38] = 1, [39] = 0,
};

/* GUE headers: variant 0 data carrying IPv4 / IPv6, then what the program leaves alone. */
static const __u8 gue4[] = {0x00, 4, 0, 0};
static const __u8 gue6[] = {0x00, 41, 0, 0};
static const __u8 gue_v1[] = {0x40, 4, 0, 0};		     /* variant 1: "IPv4 header" 0x4_ */
static const __u8 gue_v1_ip[] = {0x45, 0, 0, 0};	     /* variant 1 as Linux sends it */
static const __u8 gue_control[] = {0x20, 0, 0, 0};	     /* C: a control message */
static const __u8 gue_hlen1[] = {0x01, 4, 0, 0, 0, 0, 0, 0}; /* 4 bytes of extension fields */
static const __u8 gue_proto17[] = {0x00, 17, 0, 0};
static const __u8 gue_proto0[] = {0x00, 0, 0, 0};
static const __u8 gue_flags[] = {0x00, 4, 0x80, 0x00}; /* VS: a field hlen 0 has no room for */
static const __u8 gue_flag_low[] = {0x00, 41, 0x00, 0x01};

#define GUE(h) .gue = (h), .gue_len = sizeof(h)
#define G4(...) OUT4(.sport = 51234, .dport = 6080, __VA_ARGS__)
#define G6(...) OUT6(.sport = 51234, .dport = 6080, __VA_ARGS__)

static const struct decap_case cases[] = {
	/* Decapsulated: every combination of families, the inner packet passed up. */
	{"4in4", IN4(), OUT4(), OK(V4)},
	{"6in6", IN6(), OUT6(), OK(V6)},
	{"4in6", IN4(), OUT6(), OK(V4)},
	{"6in4", IN6(), OUT4(), OK(V6)},
	{"4in4, inner tcp", IN4(.l4 = IPPROTO_TCP, .dport = 80), OUT4(), OK(V4)},
	{"4in4, inner icmp echo", IN4(.l4 = IPPROTO_ICMP), OUT4(), OK(V4)},
	{"6in6, inner udp without payload", IN6(.l4 = IPPROTO_UDP, .payload_len = 0), OUT6(),
	 OK(V6)},
	{"6in6, inner with extension headers",
	 IN6(.n_ext = 2, .ext = {EXT(HOP), EXT(DEST, .hdrlen = 1)}), OUT6(), OK(V6)},
	{"4in4, inner with ip options",
	 IN4(.ip_opts = ip_opt_router_alert, .ip_opts_len = sizeof(ip_opt_router_alert)), OUT4(),
	 OK(V4)},
	{"4in4, inner is a fragment: the kernel reassembles", IN4(.frag_off = 0x2000), OUT4(),
	 OK(V4)},
	{"4in4, inner length below what the outer carries", IN4(.tot_len = 20 + 8 + 5), OUT4(),
	 OK(V4)},
	{"4in4, outer DF set", IN4(), OUT4(.frag_off = 0x4000), OK(V4)},
	{"4in4, outer TTL 1", IN4(), OUT4(.ttl = 1), OK(V4)},
	{"4in4 with Ethernet padding", IN4(.payload_len = 0, .eth_pad = 12), OUT4(), OK(V4)},
	{"6in6 with Ethernet padding", IN6(.eth_pad = 5), OUT6(), OK(V6)},

	/* VLAN tags: kept as they are, the innermost ethertype rewritten. */
	{"4in4, one vlan tag", IN4(VLAN1), OUT4(), OK(V4)},
	{"6in6, one vlan tag", IN6(VLAN1), OUT6(), OK(V6)},
	{"4in4, two vlan tags (802.1ad + 802.1Q): more tag than outer header", IN4(VLAN2), OUT4(),
	 OK(V4)},
	{"6in6, two vlan tags", IN6(VLAN2), OUT6(), OK(V6)},
	{"4in6, two 802.1Q tags", IN4(.n_vlans = 2, .vlan_tci = {1, 2}), OUT6(), OK(V4)},
	{"6in4, one vlan tag", IN6(VLAN1), OUT4(), OK(V6)},

	/* Outer IPv4 options: stripped with the header. */
	{"4in4, outer options (router alert)", IN4(),
	 OUT4(.ip_opts = ip_opt_router_alert, .ip_opts_len = sizeof(ip_opt_router_alert)), OK(V4)},
	{"6in4, 40 bytes of outer options (IHL 15)", IN6(),
	 OUT4(.ip_opts = ip_opt_max, .ip_opts_len = sizeof(ip_opt_max)), OK(V6)},
	{"4in4, outer options, two vlan tags", IN4(VLAN2),
	 OUT4(.ip_opts = ip_opt_router_alert, .ip_opts_len = sizeof(ip_opt_router_alert)), OK(V4)},

	/* From no allowed node: dropped, whatever it carries. */
	{"4in4 from a source not allowed", IN4(), OUT4(.saddr = STRANGER4), DROP(NOT_ALLOWED)},
	{"6in6 from a source not allowed", IN6(), OUT6(.saddr = STRANGER6), DROP(NOT_ALLOWED)},
	{"4in6 from a source not allowed", IN4(), OUT6(.saddr = STRANGER6), DROP(NOT_ALLOWED)},
	{"6in4 from a source not allowed, two vlan tags", IN6(VLAN2), OUT4(.saddr = STRANGER4),
	 DROP(NOT_ALLOWED)},
	{"4in4 from the SLB host's own address", IN4(), OUT4(.saddr = HOST4), DROP(NOT_ALLOWED)},
	{"4in6 from the v4-mapped form of an allowed IPv4 node", IN4(),
	 OUT6(.saddr = "::ffff:" NODE4), DROP(NOT_ALLOWED)},
	{"4in4 to another address, from a source not allowed", IN4(),
	 OUT4(.saddr = STRANGER4, .daddr = "203.0.113.9"), DROP(NOT_ALLOWED)},
	{"4in4 with a wrong inner version, from a source not allowed", IN6(),
	 OUT4(.saddr = STRANGER4, .l4 = IPPROTO_IPIP), DROP(NOT_ALLOWED)},

	/* Not IP-in-IP: passed untouched. */
	{"v4 udp", IN4(), NONE, PASS(NOT_ENCAP)},
	{"v4 tcp", IN4(.l4 = IPPROTO_TCP, .dport = 80), NONE, PASS(NOT_ENCAP)},
	{"v6 tcp", IN6(), NONE, PASS(NOT_ENCAP)},
	{"v6 icmpv6 echo", IN6(.l4 = IPPROTO_ICMPV6), NONE, PASS(NOT_ENCAP)},
	{"v4 tcp from an allowed node", IN4(.saddr = NODE4, .l4 = IPPROTO_TCP), NONE,
	 PASS(NOT_ENCAP)},
	{"v6 tcp from an allowed node", IN6(.saddr = NODE6), NONE, PASS(NOT_ENCAP)},
	{"v4 gre from an allowed node", IN4(.saddr = NODE4, .l4 = IPPROTO_GRE), NONE,
	 PASS(NOT_ENCAP)},
	{"v4 udp fragment", IN4(.frag_off = 0x2000), NONE, PASS(NOT_ENCAP)},
	{"v6 tcp, two vlan tags", IN6(VLAN2), NONE, PASS(NOT_ENCAP)},
	{"arp", {L2, .ethertype = 0x0806, .payload_len = 28}, NONE, PASS(NOT_ENCAP)},
	{"arp in a vlan",
	 {L2, VLAN1, .ethertype = 0x0806, .payload_len = 28},
	 NONE,
	 PASS(NOT_ENCAP)},
	{"lldp", {L2, .ethertype = 0x88cc, .payload_len = 46}, NONE, PASS(NOT_ENCAP)},
	{"4in4 under three vlan tags", IN4(.n_vlans = 3, .vlan_tci = {1, 2, 3}), OUT4(),
	 PASS(NOT_ENCAP)},
	{"outer IPv6 with a destination options header before 41", IN6(),
	 OUT6(.n_ext = 1, .ext = {EXT(DEST)}), PASS(NOT_ENCAP)},
	{"outer IPv6 with a fragment header before 4", IN4(),
	 OUT6(.n_ext = 1, .ext = {EXT(FRAGMENT, .frag = 1)}), PASS(NOT_ENCAP)},

	/* Outer fragments: passed untouched, whoever sent them. */
	{"4in4, outer first fragment (MF)", IN4(), OUT4(.frag_off = 0x2000), PASS(FRAGMENT)},
	{"4in4, outer later fragment (offset 185)", IN4(), OUT4(.frag_off = 185), PASS(FRAGMENT)},
	{"6in4, outer middle fragment (MF, offset 1)", IN6(), OUT4(.frag_off = 0x2001),
	 PASS(FRAGMENT)},
	{"4in4, outer last fragment with DF", IN4(), OUT4(.frag_off = 0x4000 | 7), PASS(FRAGMENT)},
	{"4in4, outer fragment from a source not allowed", IN4(),
	 OUT4(.saddr = STRANGER4, .frag_off = 0x2000), PASS(FRAGMENT)},

	/* Malformed outer IPv4 header. */
	{"outer v4: version 6 in an IPv4 ethertype", IN4(), OUT4(.ip_version = 6), PASS(MALFORMED)},
	{"outer v4: IHL 4", IN4(), OUT4(.ihl = 4), PASS(MALFORMED)},
	{"outer v4: IHL 0", IN4(), OUT4(.ihl = PKT_ZERO), PASS(MALFORMED)},
	{"outer v4: IHL 15 past the end", IN4(.l4 = 253, .payload_len = 0), OUT4(.ihl = 15),
	 PASS(MALFORMED)},
	{"outer v4: total length past the end", IN4(), OUT4(.tot_len = 20 + 20 + 8 + 10 + 1),
	 PASS(MALFORMED)},
	{"outer v4: total length below the header", IN4(), OUT4(.tot_len = 19), PASS(MALFORMED)},
	{"outer v4: total length = header, no inner", IN4(), OUT4(.tot_len = 20), PASS(MALFORMED)},
	{"outer v4: total length cuts the inner header", IN4(), OUT4(.tot_len = 20 + 19),
	 PASS(MALFORMED)},
	{"outer v4: total length cuts the inner payload", IN4(), OUT4(.tot_len = 20 + 20 + 8),
	 PASS(MALFORMED)},
	{"outer v4: options and IHL too small for them (an option byte as inner version)", IN4(),
	 OUT4(.ip_opts = ip_opt_router_alert, .ip_opts_len = 4, .ihl = 5), PASS(MALFORMED)},

	/* Malformed outer IPv6 header. */
	{"outer v6: version 4 in an IPv6 ethertype", IN6(), OUT6(.ip_version = 4), PASS(MALFORMED)},
	{"outer v6: payload length past the end", IN6(), OUT6(.payload_len6 = 40 + 20 + 10 + 1),
	 PASS(MALFORMED)},
	{"outer v6: payload length 0 (no inner)", IN6(), OUT6(.payload_len6 = PKT_ZERO),
	 PASS(MALFORMED)},
	{"outer v6: payload length cuts the inner header", IN4(), OUT6(.payload_len6 = 19),
	 PASS(MALFORMED)},

	/* Malformed inner header (from an allowed node). */
	{"4in4 carrying IPv6 (protocol 4, inner version 6)", IN6(), OUT4(.l4 = IPPROTO_IPIP),
	 PASS(MALFORMED)},
	{"6in4 carrying IPv4 (protocol 41, inner version 4)", IN4(), OUT4(.l4 = IPPROTO_IPV6),
	 PASS(MALFORMED)},
	{"4in6 carrying IPv6 (next header 4, inner version 6)", IN6(), OUT6(.l4 = IPPROTO_IPIP),
	 PASS(MALFORMED)},
	{"6in6 carrying IPv4 (next header 41, inner version 4)", IN4(), OUT6(.l4 = IPPROTO_IPV6),
	 PASS(MALFORMED)},
	{"4in4, inner IHL 4", IN4(.ihl = 4), OUT4(), PASS(MALFORMED)},
	{"4in4, inner IHL 0", IN4(.ihl = PKT_ZERO), OUT4(), PASS(MALFORMED)},
	{"4in4, inner total length past the outer payload", IN4(.tot_len = 20 + 8 + 10 + 1), OUT4(),
	 PASS(MALFORMED)},
	{"4in4, inner total length below its header", IN4(.tot_len = 19), OUT4(), PASS(MALFORMED)},
	{"4in6, inner total length past the outer payload", IN4(.tot_len = 200), OUT6(),
	 PASS(MALFORMED)},
	{"6in6, inner payload length past the outer payload", IN6(.payload_len6 = 20 + 10 + 1),
	 OUT6(), PASS(MALFORMED)},
	{"6in4, inner payload length past the outer payload (frame has it)",
	 IN6(.payload_len6 = 20 + 10 + 1, .eth_pad = 1), OUT4(), PASS(MALFORMED)},

	/*
	 * Truncation at every boundary of a tagged 4in4 frame, and one byte in:
	 * vlan 14, outer 18, inner 38, inner udp 58, payload 66, end 76.
	 */
	{"cut: 2 bytes into the vlan tag", IN4(VLAN1), OUT4(), CUT(RAW, VLAN0, 2), PASS(MALFORMED)},
	{"cut: at the outer header", IN4(VLAN1), OUT4(), CUT(RAW, L3, 0), PASS(MALFORMED)},
	{"cut: 1 byte into the outer header", IN4(VLAN1), OUT4(), CUT(RAW, L3, 1), PASS(MALFORMED)},
	{"cut: 10 bytes into the outer header (protocol there)", IN4(VLAN1), OUT4(),
	 CUT(RAW, L3, 10), PASS(MALFORMED)},
	{"cut: 19 bytes into the outer header", IN4(VLAN1), OUT4(), CUT(RAW, L3, 19),
	 PASS(MALFORMED)},
	{"cut: 19 bytes into the outer header, length fixed", IN4(VLAN1), OUT4(), CUT(FIX, L3, 19),
	 PASS(MALFORMED)},
	{"cut: at the inner header", IN4(VLAN1), OUT4(), CUT(RAW, PAYLOAD, 0), PASS(MALFORMED)},
	{"cut: at the inner header, length fixed", IN4(VLAN1), OUT4(), CUT(FIX, PAYLOAD, 0),
	 PASS(MALFORMED)},
	{"cut: 1 byte into the inner header, length fixed", IN4(VLAN1), OUT4(),
	 CUT(FIX, PAYLOAD, 1), PASS(MALFORMED)},
	{"cut: 19 bytes into the inner header, length fixed", IN4(VLAN1), OUT4(),
	 CUT(FIX, PAYLOAD, 19), PASS(MALFORMED)},
	{"cut: at inner udp, length fixed", IN4(VLAN1), OUT4(), CUT(FIX, PAYLOAD, 20),
	 PASS(MALFORMED)},
	{"cut: 1 byte into the inner payload", IN4(VLAN1), OUT4(), CUT(RAW, PAYLOAD, 29),
	 PASS(MALFORMED)},
	{"cut: 1 byte into the inner payload, length fixed", IN4(VLAN1), OUT4(),
	 CUT(FIX, PAYLOAD, 29), PASS(MALFORMED)},
	{"cut 6in6: at the outer header", IN6(), OUT6(), CUT(RAW, L3, 0), PASS(MALFORMED)},
	{"cut 6in6: 39 bytes into the outer header", IN6(), OUT6(), CUT(RAW, L3, 39),
	 PASS(MALFORMED)},
	{"cut 6in6: at the inner header", IN6(), OUT6(), CUT(RAW, PAYLOAD, 0), PASS(MALFORMED)},
	{"cut 6in6: at the inner header, length fixed", IN6(), OUT6(), CUT(FIX, PAYLOAD, 0),
	 PASS(MALFORMED)},
	{"cut 6in6: 39 bytes into the inner header, length fixed", IN6(), OUT6(),
	 CUT(FIX, PAYLOAD, 39), PASS(MALFORMED)},
	{"cut 6in6: 1 byte into the inner payload, length fixed", IN6(), OUT6(),
	 CUT(FIX, PAYLOAD, 41), PASS(MALFORMED)},
	{"cut 4in6: 19 bytes into the inner header, length fixed", IN4(), OUT6(),
	 CUT(FIX, PAYLOAD, 19), PASS(MALFORMED)},
	{"cut 6in4: 39 bytes into the inner header, length fixed", IN6(), OUT4(),
	 CUT(FIX, PAYLOAD, 39), PASS(MALFORMED)},
	/* GUE to port 6080 from an allowed node: decapsulated, every combination of families. */
	{"gue 4in4", IN4(), G4(), GUE(gue4), OK_GUE(V4)},
	{"gue 6in6, the UDP checksum computed", IN6(), G6(), GUE(gue6), OK_GUE(V6)},
	{"gue 4in6", IN4(), G6(), GUE(gue4), OK_GUE(V4)},
	{"gue 6in4", IN6(), G4(), GUE(gue6), OK_GUE(V6)},
	{"gue 4in4 with a UDP checksum: not checked", IN4(), G4(), GUE(gue4), .gue_csum = 1,
	 OK_GUE(V4)},
	{"gue 6in6 without a UDP checksum: not checked", IN6(), G6(), GUE(gue6), .gue_csum = -1,
	 OK_GUE(V6)},
	{"gue 4in4, inner tcp from source port 1", IN4(.l4 = IPPROTO_TCP, .dport = 80),
	 G4(.sport = 1), GUE(gue4), OK_GUE(V4)},
	{"gue 4in4 from source port 6080", IN4(), G4(.sport = 6080), GUE(gue4), OK_GUE(V4)},
	{"gue 6in6, inner with extension headers",
	 IN6(.n_ext = 2, .ext = {EXT(HOP), EXT(DEST, .hdrlen = 1)}), G6(), GUE(gue6), OK_GUE(V6)},
	{"gue 4in4, inner is a fragment", IN4(.frag_off = 0x2000), G4(), GUE(gue4), OK_GUE(V4)},
	{"gue 4in4, outer DF and TTL 1", IN4(), G4(.frag_off = 0x4000, .ttl = 1), GUE(gue4),
	 OK_GUE(V4)},
	{"gue 4in4 with Ethernet padding", IN4(.payload_len = 0, .eth_pad = 12), G4(), GUE(gue4),
	 OK_GUE(V4)},
	{"gue 4in4, one vlan tag", IN4(VLAN1), G4(), GUE(gue4), OK_GUE(V4)},
	{"gue 6in6, two vlan tags", IN6(VLAN2), G6(), GUE(gue6), OK_GUE(V6)},
	{"gue 4in4, outer options (router alert)", IN4(),
	 G4(.ip_opts = ip_opt_router_alert, .ip_opts_len = sizeof(ip_opt_router_alert)), GUE(gue4),
	 OK_GUE(V4)},
	{"gue 6in4, 40 bytes of outer options, two vlan tags", IN6(VLAN2),
	 G4(.ip_opts = ip_opt_max, .ip_opts_len = sizeof(ip_opt_max)), GUE(gue6), OK_GUE(V6)},
	{"gue 4in4, inner length below what the UDP datagram carries", IN4(.tot_len = 20 + 8 + 5),
	 G4(), GUE(gue4), OK_GUE(V4)},

	/* GUE from no allowed node: dropped, whatever it carries. */
	{"gue 4in4 from a source not allowed", IN4(), G4(.saddr = STRANGER4), GUE(gue4),
	 DROP(NOT_ALLOWED)},
	{"gue 6in6 from a source not allowed", IN6(), G6(.saddr = STRANGER6), GUE(gue6),
	 DROP(NOT_ALLOWED)},
	{"gue 4in6 from the v4-mapped form of an allowed IPv4 node", IN4(),
	 G6(.saddr = "::ffff:" NODE4), GUE(gue4), DROP(NOT_ALLOWED)},
	{"gue variant 1 from a source not allowed", IN4(), G4(.saddr = STRANGER4), GUE(gue_v1),
	 DROP(NOT_ALLOWED)},
	{"gue with the wrong inner family, from a source not allowed", IN6(),
	 G4(.saddr = STRANGER4), GUE(gue4), DROP(NOT_ALLOWED)},

	/* Other UDP: passed untouched. */
	{"udp to port 6081 from an allowed node", IN4(), G4(.dport = 6081), GUE(gue4),
	 PASS(NOT_ENCAP)},
	{"udp to port 53 from port 6080, from a source not allowed", IN4(),
	 G6(.saddr = STRANGER6, .sport = 6080, .dport = 53), GUE(gue4), PASS(NOT_ENCAP)},
	{"gue 4in4, outer later fragment (offset 185): no UDP header to read", IN4(),
	 G4(.frag_off = 185), GUE(gue4), PASS(NOT_ENCAP)},
	{"udp to 6080 in an IPv6 fragment header", IN4(),
	 G6(.n_ext = 1, .ext = {EXT(FRAGMENT, .frag = 1)}), GUE(gue4), PASS(NOT_ENCAP)},
	{"gue 4in4, outer first fragment (MF)", IN4(), G4(.frag_off = 0x2000), GUE(gue4),
	 PASS(FRAGMENT)},
	{"gue 4in4, outer first fragment from a source not allowed", IN4(),
	 G4(.saddr = STRANGER4, .frag_off = 0x2000), GUE(gue4), PASS(FRAGMENT)},

	/* GUE that is not variant 0 data with IPv4 or IPv6: passed untouched. */
	{"gue variant 1", IN4(), G4(), GUE(gue_v1), PASS(GUE_OTHER)},
	{"gue variant 1 as Linux sends it (the IPv4 header right after UDP)", IN4(), G4(),
	 GUE(gue_v1_ip), PASS(GUE_OTHER)},
	{"gue control message", IN4(), G4(), GUE(gue_control), PASS(GUE_OTHER)},
	{"gue with extension fields (hlen 1)", IN4(), G4(), GUE(gue_hlen1), PASS(GUE_OTHER)},
	{"gue carrying udp (protocol 17)", IN4(), G4(), GUE(gue_proto17), PASS(GUE_OTHER)},
	{"gue carrying protocol 0", IN6(), G6(), GUE(gue_proto0), PASS(GUE_OTHER)},
	{"gue with the VS flag", IN4(), G4(), GUE(gue_flags), PASS(GUE_OTHER)},
	{"gue 6in6 with the lowest flag bit", IN6(), G6(), GUE(gue_flag_low), PASS(GUE_OTHER)},

	/* Malformed UDP, GUE or inner header (from an allowed node). */
	{"gue: udp length 11, no room for GUE", IN4(), G4(.udp_len = 11), GUE(gue4),
	 PASS(MALFORMED)},
	{"gue: udp length 8", IN6(), G6(.udp_len = 8), GUE(gue6), PASS(MALFORMED)},
	{"gue: udp length 7", IN4(), G4(.udp_len = 7), GUE(gue4), PASS(MALFORMED)},
	{"gue: udp length past the IP payload", IN4(), G4(.udp_len = 8 + 4 + 20 + 8 + 10 + 1),
	 GUE(gue4), PASS(MALFORMED)},
	{"gue: udp length cuts the inner header", IN4(), G4(.udp_len = 8 + 4 + 19), GUE(gue4),
	 PASS(MALFORMED)},
	{"gue: udp length cuts the inner payload", IN6(), G6(.udp_len = 8 + 4 + 40 + 20), GUE(gue6),
	 PASS(MALFORMED)},
	{"gue protocol 4 carrying IPv6", IN6(), G4(), GUE(gue4), PASS(MALFORMED)},
	{"gue protocol 41 carrying IPv4", IN4(), G6(), GUE(gue6), PASS(MALFORMED)},
	{"gue 4in4, inner IHL 4", IN4(.ihl = 4), G4(), GUE(gue4), PASS(MALFORMED)},
	{"gue 4in4, inner total length past the UDP datagram", IN4(.tot_len = 20 + 8 + 10 + 1),
	 G4(), GUE(gue4), PASS(MALFORMED)},
	{"gue 6in6, inner payload length past the UDP datagram", IN6(.payload_len6 = 20 + 10 + 1),
	 G6(), GUE(gue6), PASS(MALFORMED)},
	{"cut gue: 4 bytes into the UDP header", IN4(VLAN1), G4(), GUE(gue4), CUT(RAW, L4, 4),
	 PASS(MALFORMED)},
	{"cut gue: 4 bytes into the UDP header, length fixed", IN4(VLAN1), G4(), GUE(gue4),
	 CUT(FIX, L4, 4), PASS(MALFORMED)},
	{"cut gue: 2 bytes into the GUE header, length fixed", IN4(), G4(), GUE(gue4),
	 CUT(FIX, L4, 10), PASS(MALFORMED)},
	{"cut gue: at the inner header, length fixed", IN6(), G6(), GUE(gue6), CUT(FIX, PAYLOAD, 0),
	 PASS(MALFORMED)},
	{"cut gue: 1 byte into the inner payload, length fixed", IN4(), G4(), GUE(gue4),
	 CUT(FIX, PAYLOAD, 29), PASS(MALFORMED)},
	{"cut gue 6in6: 7 bytes into the UDP header", IN6(), G6(), GUE(gue6), CUT(RAW, L4, 7),
	 PASS(MALFORMED)},
};

static bool is_ok(enum vsn_decap_reason r)
{
	return r == VSN_DECAP_OK_V4 || r == VSN_DECAP_OK_V6 || r == VSN_DECAP_OK_GUE_V4 ||
	       r == VSN_DECAP_OK_GUE_V6;
}

/* Build a case's input frame, and the frame it must come out as. */
static void case_build(const struct decap_case *c, struct pkt *in, struct pkt *want)
{
	size_t at;
	int r;

	r = pkt_build(&c->inner, in);
	if (r)
		fail_msg("%s: pkt_build: %s", c->name, strerror(-r));
	/* Decapsulated: the inner packet under the frame's own L2, as built. */
	*want = *in;
	if (c->gue)
		r = pkt_encap_udp(in, &c->outer, c->gue, c->gue_len,
				  c->gue_csum ? c->gue_csum > 0 : c->outer.l3 == AF_INET6);
	else if (c->outer.l3)
		r = pkt_encap(in, &c->outer);
	if (r)
		fail_msg("%s: pkt_encap: %s", c->name, strerror(-r));
	if (c->cut != CUT_NONE) {
		at = pkt_mark(in, c->cut_at);
		if (at == PKT_NO_MARK)
			fail_msg("%s: the frame has no header to cut at", c->name);
		if (c->cut == CUT_RAW)
			pkt_cut(in, at + c->cut_delta);
		else
			pkt_cut_fix(in, at + c->cut_delta);
	}
	if (!is_ok(c->reason))
		*want = *in;
}

static int counters_read(struct vsn_counter ret[VSN_DECAP_REASON_MAX])
{
	for (int i = 0; i < VSN_DECAP_REASON_MAX; i++) {
		int r = vsn_decap_counter_read(decap, i, &ret[i]);

		if (r)
			return r;
	}
	return 0;
}

/*
 * Run in, then check the action, the whole output frame, and that the
 * reason's counter moved by one frame (in->len bytes) and no other. Prints
 * each mismatch; returns their number.
 */
static int verify(const char *name, const struct pkt *in, __u32 action,
		  enum vsn_decap_reason reason, const struct pkt *want)
{
	struct vsn_counter before[VSN_DECAP_REASON_MAX], after[VSN_DECAP_REASON_MAX];
	static struct pkt out; /* big: not on the stack */
	__u32 got = ~0u;
	int bad = 0, r;

	r = counters_read(before);
	if (!r) {
		memset(out.data, 0xee, sizeof(out.data));
		r = h_run(&env, in, &out, &got);
	}
	if (!r)
		r = counters_read(after);
	if (r) {
		print_error("%s: %s\n", name, strerror(-r));
		return 1;
	}
	if (got != action) {
		print_error("%s: action %s, expected %s\n", name, h_action_name(got),
			    h_action_name(action));
		bad++;
	}
	if (out.len != want->len || memcmp(out.data, want->data, out.len)) {
		print_error("%s: output frame differs\n", name);
		pkt_hexdump(stderr, "  input", in->data, in->len, NULL, 0);
		pkt_hexdump(stderr, "  expected", want->data, want->len, NULL, 0);
		pkt_hexdump(stderr, "  got", out.data, out.len, want->data, want->len);
		bad++;
	}
	for (int i = 0; i < VSN_DECAP_REASON_MAX; i++) {
		__u64 dp = after[i].packets - before[i].packets;
		__u64 db = after[i].bytes - before[i].bytes;
		__u64 wp = i == (int)reason, wb = i == (int)reason ? in->len : 0;

		if (dp == wp && db == wb)
			continue;
		print_error("%s: counter %s moved by %llu packets / %llu bytes, expected %llu / "
			    "%llu\n",
			    name, vsn_decap_reason_name(i), (unsigned long long)dp,
			    (unsigned long long)db, (unsigned long long)wp, (unsigned long long)wb);
		bad++;
	}
	if (bad)
		print_error("%s: %d mismatches (expected %s, %s)\n", name, bad,
			    h_action_name(action), vsn_decap_reason_name(reason));
	return bad;
}

static void test_cases(void **state)
{
	static struct pkt in, want;
	size_t n = sizeof(cases) / sizeof(cases[0]), failed = 0;

	for (size_t i = 0; i < n; i++) {
		const struct decap_case *c = &cases[i];

		/* A table typo would check the wrong thing: refuse it. */
		assert_true((c->action == XDP_DROP) == (c->reason == VSN_DECAP_DROP_NOT_ALLOWED ||
							c->reason == VSN_DECAP_DROP_ERROR));
		case_build(c, &in, &want);
		if (verify(c->name, &in, c->action, c->reason, &want)) {
			print_error("FAILED case %zu: %s\n", i, c->name);
			failed++;
		}
	}
	print_message("[          ] %zu cases, %zu failed\n", n, failed);
	assert_int_equal(failed, 0);
}

static void addr(const char *s, struct vsn_addr *ret)
{
	assert_int_equal(vsn_addr_parse(s, ret), 0);
}

/* A 4in4 frame from src, and the inner frame it must come out as. */
static void frame_4in4(const char *src, struct pkt *in, struct pkt *inner)
{
	struct pkt_spec s = IN4(), o = OUT4(.saddr = src);

	assert_int_equal(pkt_build(&s, inner), 0);
	*in = *inner;
	assert_int_equal(pkt_encap(in, &o), 0);
}

struct collect {
	char seen[8][VSN_ADDR_STRLEN];
	int n;
};

static int collect_cb(const struct vsn_addr *node, void *arg)
{
	struct collect *c = arg;

	if (c->n < 8)
		vsn_addr_format(node, c->seen[c->n++], VSN_ADDR_STRLEN);
	return 0;
}

static bool collected(const struct collect *c, const char *s)
{
	for (int i = 0; i < c->n; i++)
		if (!strcmp(c->seen[i], s))
			return true;
	return false;
}

/* Allowed at run time, then refused again once disallowed. */
static void test_allow_then_disallow(void **state)
{
	static struct pkt in, inner;
	struct collect c = {0};
	struct vsn_addr a;

	frame_4in4("10.0.0.77", &in, &inner);
	assert_int_equal(verify("before allow", &in, XDP_DROP, VSN_DECAP_DROP_NOT_ALLOWED, &in), 0);
	addr("10.0.0.77", &a);
	assert_int_equal(vsn_decap_allow(decap, &a), 0);
	assert_int_equal(vsn_decap_allow(decap, &a), 0); /* allowing twice is fine */
	assert_int_equal(verify("allowed", &in, XDP_PASS, VSN_DECAP_OK_V4, &inner), 0);
	assert_int_equal(vsn_decap_allowed_foreach(decap, collect_cb, &c), 0);
	assert_int_equal(c.n, 3);
	assert_true(collected(&c, NODE4) && collected(&c, NODE6) && collected(&c, "10.0.0.77"));

	assert_int_equal(vsn_decap_disallow(decap, &a), 0);
	assert_int_equal(verify("disallowed", &in, XDP_DROP, VSN_DECAP_DROP_NOT_ALLOWED, &in), 0);
	assert_int_equal(vsn_decap_disallow(decap, &a), -ENOENT);
	c.n = 0;
	assert_int_equal(vsn_decap_allowed_foreach(decap, collect_cb, &c), 0);
	assert_int_equal(c.n, 2);
}

/* A 6in6 frame from src, and the inner frame it must come out as. */
static void frame_6in6(const char *src, struct pkt *in, struct pkt *inner)
{
	struct pkt_spec s = IN6(), o = OUT6(.saddr = src);

	assert_int_equal(pkt_build(&s, inner), 0);
	*in = *inner;
	assert_int_equal(pkt_encap(in, &o), 0);
}

/*
 * More nodes than the inline list holds (VSN_DECAP_FAST4 / FAST6): nodes
 * past it are found in the hash, strangers are still refused, and a node
 * that moves into the list when another leaves is still accepted.
 */
static void test_allow_beyond_inline_list(void **state)
{
	static struct pkt in, inner;
	char name[64], src[VSN_ADDR_STRLEN];
	struct vsn_addr a;
	int n4 = VSN_DECAP_FAST4 + 4, n6 = VSN_DECAP_FAST6 + 2;

	for (int i = 0; i < n4; i++) {
		snprintf(src, sizeof(src), "10.9.0.%d", i + 1);
		addr(src, &a);
		assert_int_equal(vsn_decap_allow(decap, &a), 0);
	}
	for (int i = 0; i < n6; i++) {
		snprintf(src, sizeof(src), "2001:db8:9::%d", i + 1);
		addr(src, &a);
		assert_int_equal(vsn_decap_allow(decap, &a), 0);
	}
	for (int i = 0; i < n4; i++) {
		snprintf(src, sizeof(src), "10.9.0.%d", i + 1);
		snprintf(name, sizeof(name), "4in4 from allowed node %d of %d", i + 1, n4);
		frame_4in4(src, &in, &inner);
		assert_int_equal(verify(name, &in, XDP_PASS, VSN_DECAP_OK_V4, &inner), 0);
	}
	for (int i = 0; i < n6; i++) {
		snprintf(src, sizeof(src), "2001:db8:9::%d", i + 1);
		snprintf(name, sizeof(name), "6in6 from allowed node %d of %d", i + 1, n6);
		frame_6in6(src, &in, &inner);
		assert_int_equal(verify(name, &in, XDP_PASS, VSN_DECAP_OK_V6, &inner), 0);
	}
	frame_4in4("10.9.0.200", &in, &inner);
	assert_int_equal(verify("4in4 stranger past the list", &in, XDP_DROP,
				VSN_DECAP_DROP_NOT_ALLOWED, &in),
			 0);
	frame_6in6("2001:db8:9::200", &in, &inner);
	assert_int_equal(verify("6in6 stranger past the list", &in, XDP_DROP,
				VSN_DECAP_DROP_NOT_ALLOWED, &in),
			 0);

	/* The third leaves the list; the last moves in, and both verdicts follow. */
	addr("10.9.0.3", &a);
	assert_int_equal(vsn_decap_disallow(decap, &a), 0);
	frame_4in4("10.9.0.3", &in, &inner);
	assert_int_equal(verify("4in4 from a node that left", &in, XDP_DROP,
				VSN_DECAP_DROP_NOT_ALLOWED, &in),
			 0);
	snprintf(src, sizeof(src), "10.9.0.%d", n4);
	frame_4in4(src, &in, &inner);
	assert_int_equal(verify("4in4 from the last node", &in, XDP_PASS, VSN_DECAP_OK_V4, &inner),
			 0);

	for (int i = 0; i < n4; i++) {
		snprintf(src, sizeof(src), "10.9.0.%d", i + 1);
		addr(src, &a);
		assert_int_equal(vsn_decap_disallow(decap, &a), i == 2 ? -ENOENT : 0);
	}
	for (int i = 0; i < n6; i++) {
		snprintf(src, sizeof(src), "2001:db8:9::%d", i + 1);
		addr(src, &a);
		assert_int_equal(vsn_decap_disallow(decap, &a), 0);
	}
	snprintf(src, sizeof(src), "10.9.0.%d", n4);
	frame_4in4(src, &in, &inner);
	assert_int_equal(
		verify("4in4 after all left", &in, XDP_DROP, VSN_DECAP_DROP_NOT_ALLOWED, &in), 0);
}

/* ::ffff:a.b.c.d is allowed as a.b.c.d: the table holds one key for both. */
static void test_allow_v4mapped_is_v4(void **state)
{
	static struct pkt in, inner;
	struct collect c = {0};
	struct vsn_addr a;

	frame_4in4("10.0.0.78", &in, &inner);
	addr("::ffff:10.0.0.78", &a);
	assert_int_equal(vsn_decap_allow(decap, &a), 0);
	assert_int_equal(verify("allowed as v4-mapped", &in, XDP_PASS, VSN_DECAP_OK_V4, &inner), 0);
	assert_int_equal(vsn_decap_allowed_foreach(decap, collect_cb, &c), 0);
	assert_true(collected(&c, "10.0.0.78"));
	addr("10.0.0.78", &a);
	assert_int_equal(vsn_decap_disallow(decap, &a), 0);
}

static void test_allow_refuses_non_sources(void **state)
{
	static const char *const bad[] = {"0.0.0.0", "224.0.0.1", "255.255.255.255",
					  "::",	     "ff02::1",	  "::ffff:0.0.0.0"};
	struct vsn_addr a;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		addr(bad[i], &a);
		if (vsn_decap_allow(decap, &a) != -EINVAL)
			fail_msg("allow %s: not refused", bad[i]);
	}
}

/* The table holds VSN_DECAP_MAX_ALLOWED addresses; one more is refused. */
static void test_allow_capacity(void **state)
{
	struct vsn_addr a = {.family = AF_INET6};
	int n, r = 0;

	addr("2001:db8:f::", &a);
	/* Two are there already (NODE4, NODE6). */
	for (n = 0; n < VSN_DECAP_MAX_ALLOWED - 2; n++) {
		a.bytes[14] = n >> 8;
		a.bytes[15] = n & 0xff;
		r = vsn_decap_allow(decap, &a);
		if (r)
			break;
	}
	assert_int_equal(r, 0);
	a.bytes[14] = 0xff;
	assert_int_equal(vsn_decap_allow(decap, &a), -E2BIG);
	for (n = 0; n < VSN_DECAP_MAX_ALLOWED - 2; n++) {
		a.bytes[14] = n >> 8;
		a.bytes[15] = n & 0xff;
		assert_int_equal(vsn_decap_disallow(decap, &a), 0);
	}
}

/* A GUE 4in4 frame from NODE4 to UDP port, and the inner frame it comes out as. */
static void frame_gue(__u16 port, struct pkt *in, struct pkt *inner)
{
	struct pkt_spec s = IN4(), o = G4(.dport = port);

	assert_int_equal(pkt_build(&s, inner), 0);
	*in = *inner;
	assert_int_equal(pkt_encap_udp(in, &o, gue4, sizeof(gue4), false), 0);
}

/* The GUE port is the host's: 6080 at load; another one, or none (0), at once. */
static void test_gue_port(void **state)
{
	static struct pkt in6080, in5555, inner;
	__u16 port;

	frame_gue(6080, &in6080, &inner);
	assert_int_equal(vsn_decap_gue_port_get(decap, &port), 0);
	assert_int_equal(port, 6080);
	assert_int_equal(vsn_decap_gue_port_set(decap, 5555), 0);
	assert_int_equal(vsn_decap_gue_port_get(decap, &port), 0);
	assert_int_equal(port, 5555);
	assert_int_equal(verify("to 6080, the port 5555", &in6080, XDP_PASS,
				VSN_DECAP_PASS_NOT_ENCAP, &in6080),
			 0);
	frame_gue(5555, &in5555, &inner);
	assert_int_equal(
		verify("to 5555, the port 5555", &in5555, XDP_PASS, VSN_DECAP_OK_GUE_V4, &inner),
		0);
	assert_int_equal(vsn_decap_gue_port_set(decap, 0), 0);
	assert_int_equal(vsn_decap_gue_port_get(decap, &port), 0);
	assert_int_equal(port, 0);
	assert_int_equal(
		verify("to 5555, no GUE", &in5555, XDP_PASS, VSN_DECAP_PASS_NOT_ENCAP, &in5555), 0);
	assert_int_equal(vsn_decap_gue_port_set(decap, 6080), 0);
	assert_int_equal(verify("to 6080 again", &in6080, XDP_PASS, VSN_DECAP_OK_GUE_V4, &inner),
			 0);
}

static void test_reason_names(void **state)
{
	static const char *const want[VSN_DECAP_REASON_MAX] = {
		"decap_v4",	    "decap_v6",	      "decap_gue_v4",	"decap_gue_v6",
		"pass_not_encap",   "pass_malformed", "pass_gue_other", "pass_fragment",
		"drop_not_allowed", "drop_error",
	};
	struct vsn_counter c;

	for (int i = 0; i < VSN_DECAP_REASON_MAX; i++)
		assert_string_equal(vsn_decap_reason_name(i), want[i]);
	assert_string_equal(vsn_decap_reason_name(VSN_DECAP_REASON_MAX), "?");
	assert_int_equal(vsn_decap_counter_read(decap, VSN_DECAP_REASON_MAX, &c), -ERANGE);
}

/* A second open sees the same program and allow-list; nothing pinned: -ENOENT. */
static void test_reopen(void **state)
{
	struct vsn_decap *d2 = NULL;
	struct collect c = {0};
	char path[128];

	assert_int_equal(vsn_decap_open(h_decap_pin_dir(), false, &d2), 0);
	assert_int_equal(vsn_decap_allowed_foreach(d2, collect_cb, &c), 0);
	assert_int_equal(c.n, 2);
	vsn_decap_close(d2);

	snprintf(path, sizeof(path), "%s-none", h_decap_pin_dir());
	d2 = NULL;
	assert_int_equal(vsn_decap_open(path, false, &d2), -ENOENT);
	assert_null(d2);
	assert_int_equal(vsn_decap_open("/tmp/vsn-ptest-not-bpffs", true, &d2), -EMEDIUMTYPE);
	assert_int_equal(access("/tmp/vsn-ptest-not-bpffs", F_OK), -1);
	assert_int_equal(vsn_decap_unload(path), 0); /* nothing there: fine */
}

/* Pinned state of another layout version is refused, not misread. */
static void test_layout_version_refused(void **state)
{
	struct vsn_decap *d2 = NULL;
	__u32 zero = 0, v;
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/maps/vsn_decap_meta", h_decap_pin_dir());
	fd = bpf_obj_get(path);
	assert_true(fd >= 0);
	assert_int_equal(bpf_map_lookup_elem(fd, &zero, &v), 0);
	assert_int_equal(v, VSN_DECAP_LAYOUT_VERSION);
	v = VSN_DECAP_LAYOUT_VERSION + 1;
	assert_int_equal(bpf_map_update_elem(fd, &zero, &v, BPF_ANY), 0);
	assert_int_equal(vsn_decap_open(h_decap_pin_dir(), true, &d2), -EPROTO);
	v = VSN_DECAP_LAYOUT_VERSION;
	assert_int_equal(bpf_map_update_elem(fd, &zero, &v, BPF_ANY), 0);
	close(fd);
	assert_int_equal(vsn_decap_open(h_decap_pin_dir(), false, &d2), 0);
	vsn_decap_close(d2);
}

struct links {
	int n;
	bool vt0;
};

static int links_cb(const char *ifname, __u32 ifindex, void *arg)
{
	struct links *l = arg;

	l->n++;
	if (!strcmp(ifname, "vt0") && ifindex == if_nametoindex("vt0"))
		l->vt0 = true;
	return 0;
}

static void test_attach_detach(void **state)
{
	enum vsn_attach_mode used = VSN_ATTACH_AUTO;
	struct links l = {0};

	assert_int_equal(vsn_decap_attach(decap, "vt0", VSN_ATTACH_AUTO, &used), 0);
	assert_true(used == VSN_ATTACH_NATIVE || used == VSN_ATTACH_GENERIC);
	assert_int_equal(vsn_decap_attach(decap, "vt0", VSN_ATTACH_AUTO, NULL), -EEXIST);
	assert_int_equal(vsn_decap_attach(decap, "no-such-if", VSN_ATTACH_AUTO, NULL), -ENODEV);
	assert_int_equal(vsn_decap_links_foreach(decap, links_cb, &l), 0);
	assert_int_equal(l.n, 1);
	assert_true(l.vt0);
	assert_int_equal(vsn_decap_detach(decap, "vt0"), 0);
	assert_int_equal(vsn_decap_detach(decap, "vt0"), -ENOENT);
	l = (struct links){0};
	assert_int_equal(vsn_decap_links_foreach(decap, links_cb, &l), 0);
	assert_int_equal(l.n, 0);
}

/* unload detaches and removes every pin; a fresh open loads again. */
static void test_unload_detaches(void **state)
{
	struct vsn_decap *d2 = NULL;
	char path[128];

	assert_int_equal(vsn_decap_attach(decap, "vt0", VSN_ATTACH_GENERIC, NULL), 0);
	assert_int_equal(vsn_decap_unload(h_decap_pin_dir()), 0);
	assert_int_equal(access(h_decap_pin_dir(), F_OK), -1);
	assert_int_equal(system("ip link show dev vt0 | grep -q xdp"), 256);
	assert_int_equal(vsn_decap_open(h_decap_pin_dir(), false, &d2), -ENOENT);

	/* The group teardown finds a fresh, empty program. */
	vsn_decap_close(decap);
	decap = NULL;
	assert_int_equal(vsn_decap_open(h_decap_pin_dir(), true, &decap), 0);
	snprintf(path, sizeof(path), "%s/maps/vsn_decap_meta", h_decap_pin_dir());
	assert_int_equal(access(path, F_OK), 0);
}

static int group_setup(void **state)
{
	struct vsn_addr a;
	int r;

	memset(&env, 0, sizeof(env));
	env.lo_ifindex = if_nametoindex("lo");
	/* A previous run of this very pid cannot have left anything, but be sure. */
	vsn_decap_unload(h_decap_pin_dir());
	r = vsn_decap_open(h_decap_pin_dir(), true, &decap);
	if (r) {
		fprintf(stderr, "load the decap program: %s\n", strerror(-r));
		vsn_decap_unload(h_decap_pin_dir());
		return -1;
	}
	env.prog_fd = vsn_decap_prog_fd(decap);
	if (vsn_addr_parse(NODE4, &a) || vsn_decap_allow(decap, &a) || vsn_addr_parse(NODE6, &a) ||
	    vsn_decap_allow(decap, &a))
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	if (decap)
		vsn_decap_close(decap);
	decap = NULL;
	return vsn_decap_unload(h_decap_pin_dir()) ? -1 : 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_allow_then_disallow),
		cmocka_unit_test(test_allow_v4mapped_is_v4),
		cmocka_unit_test(test_allow_refuses_non_sources),
		cmocka_unit_test(test_allow_capacity),
		cmocka_unit_test(test_allow_beyond_inline_list),
		cmocka_unit_test(test_gue_port),
		cmocka_unit_test(test_reason_names),
		cmocka_unit_test(test_reopen),
		cmocka_unit_test(test_layout_version_refused),
		cmocka_unit_test(test_attach_detach),
		cmocka_unit_test(test_unload_detaches),
	};
	int r;

	r = h_init();
	if (r)
		return r;
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
