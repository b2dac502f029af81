/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Packet tests of the forwarder: one frame in, the verdict, the whole frame
 * out and the counters checked, through BPF_PROG_TEST_RUN (ingress lo).
 *
 *   SLB 1  10.0.0.1        egress lo (the ingress)  -> XDP_TX
 *   SLB 2  10.0.0.2        egress vt0               -> XDP_REDIRECT
 *   SLB 3  198.51.100.7    no route: defined, unresolved
 *
 *   policy  VIP            proto port  SLB  service
 *   1       192.0.2.10     tcp   80    1    1
 *   2       192.0.2.10     tcp   any   2    1
 *   3       192.0.2.10     udp   53    1    2
 *   4       2001:db8::10   tcp   443   1    3
 *   5       2001:db8::10   udp   any   2    3
 *   6       192.0.2.20     udp   5000  1    4
 *   7       192.0.2.30     tcp   80    3    5
 *   8       192.0.2.40     tcp   80    4    6
 *
 * SLB 4 (10.0.0.4) egresses through vt2, a veth that test_egress_gone deletes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <net/if.h>
#include <string.h>
#include <netinet/in.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <cmocka.h>

#include "frames.h"
#include "harness.h"

/* The table overrides fields of a base spec with designated initializers. */
#pragma clang diagnostic ignored "-Winitializer-overrides"

#define CLIENT4 "198.51.100.1"
#define CLIENT6 "2001:db8:c::1"
#define VIP4 "192.0.2.10"
#define VIP4_UDP_ONLY "192.0.2.20"
#define VIP4_UNRESOLVED "192.0.2.30"
#define VIP4_EGRESS_GONE "192.0.2.40"
#define VIP6 "2001:db8::10"

struct slb_def {
	__u32 id;
	const char *addr;
	__u8 dmac[6];
	__u8 smac[6];
};

static const struct slb_def slb1 = {
	1, "10.0.0.1", {0x02, 0x51, 0, 0, 1, 0xd}, {0x02, 0x51, 0, 0, 1, 0x5}};
static const struct slb_def slb2 = {
	2, "10.0.0.2", {0x02, 0x51, 0, 0, 2, 0xd}, {0x02, 0x51, 0, 0, 2, 0x5}};
static const struct slb_def slb4 = {
	4, "10.0.0.4", {0x02, 0x51, 0, 0, 4, 0xd}, {0x02, 0x51, 0, 0, 4, 0x5}};

static struct h_env env;

enum cut_kind {
	CUT_NONE = 0,
	CUT_RAW, /* truncate; the IP length fields still claim the whole datagram */
	CUT_FIX, /* truncate and make the IP length field match */
};

struct fwd_case {
	const char *name;
	struct pkt_spec in;
	enum cut_kind cut;
	enum pkt_mark cut_at; /* cut at this header's start ... */
	int cut_delta;	      /* ... plus this many bytes */
	__u32 action;
	enum vsn_reason reason;
	const struct slb_def *slb; /* forwarded to; NULL otherwise */
	__u32 policy_id;
	__u32 service_id;
};

#define CUT(kind, at, delta) .cut = CUT_##kind, .cut_at = PKT_AT_##at, .cut_delta = (delta)
#define PASS(r) .action = XDP_PASS, .reason = VSN_PASS_##r
#define DROP(r) .action = XDP_DROP, .reason = VSN_DROP_##r
#define TX(s, pol, svc) \
	.action = XDP_TX, .reason = VSN_FWD_TX, .slb = &(s), .policy_id = (pol), .service_id = (svc)
#define REDIR(s, pol, svc)                                                                   \
	.action = XDP_REDIRECT, .reason = VSN_FWD_REDIRECT, .slb = &(s), .policy_id = (pol), \
	.service_id = (svc)

static const __u8 ip_opt_router_alert[] = {0x94, 0x04, 0x00, 0x00};
/* 40 bytes, the most IHL allows: 4 NOPs, a timestamp option (room for 2), NOPs, EOL. */
static const __u8 ip_opt_max[40] = {
	[0 ... 3] = 1, [4] = 0x44, [5] = 12, [6] = 5, [16 ... 38] = 1, [39] = 0,
};
/* MSS, SACK permitted, window scale, NOP-padded: 12 bytes. */
static const __u8 tcp_opts[] = {2, 4, 0x05, 0xb4, 4, 2, 3, 3, 7, 1, 1, 1};


static const struct fwd_case cases[] = {
	/* Matching. */
	{"v4 tcp/80: port policy, egress = ingress", V4_TCP(), TX(slb1, 1, 1)},
	{"v4 tcp/8080: any-port policy, other egress", V4_TCP(.dport = 8080), REDIR(slb2, 2, 1)},
	{"v4 tcp/443: any-port policy", V4_TCP(.dport = 443), REDIR(slb2, 2, 1)},
	{"v4 tcp/81 from source port 80: the destination port matches",
	 V4_TCP(.sport = 80, .dport = 81), REDIR(slb2, 2, 1)},
	{"v4 udp/53", V4_UDP(), TX(slb1, 3, 2)},
	{"v4 udp/9: VIP without a udp any-port policy", V4_UDP(.dport = 9), DROP(NO_POLICY)},
	{"v4 tcp/80 to a udp-only VIP", V4_TCP(.daddr = VIP4_UDP_ONLY), DROP(NO_POLICY)},
	{"v4 udp/5000 to a udp-only VIP", V4_UDP(.daddr = VIP4_UDP_ONLY, .dport = 5000),
	 TX(slb1, 6, 4)},
	{"v4 udp/5001 to a udp-only VIP", V4_UDP(.daddr = VIP4_UDP_ONLY, .dport = 5001),
	 DROP(NO_POLICY)},
	{"v4 tcp/80 to no VIP", V4_TCP(.daddr = "192.0.2.99"), PASS(NO_VIP)},
	{"v4 udp/53 to no VIP", V4_UDP(.daddr = "203.0.113.1"), PASS(NO_VIP)},
	{"v4 from a VIP, to no VIP", V4_TCP(.saddr = VIP4, .daddr = CLIENT4), PASS(NO_VIP)},
	{"v4 tcp/80 to a VIP whose SLB is unresolved", V4_TCP(.daddr = VIP4_UNRESOLVED),
	 DROP(NO_NEXTHOP)},
	{"v6 tcp/443", V6_TCP(), TX(slb1, 4, 3)},
	{"v6 tcp/80: VIP without a tcp any-port policy", V6_TCP(.dport = 80), DROP(NO_POLICY)},
	{"v6 udp/4789: any-port policy", V6_UDP(), REDIR(slb2, 5, 3)},
	{"v6 udp/53: any-port policy", V6_UDP(.dport = 53), REDIR(slb2, 5, 3)},
	{"v6 tcp/443 to no VIP", V6_TCP(.daddr = "2001:db8::11"), PASS(NO_VIP)},
	{"v6 tcp/443 to the VIP prefix address 2001:db8::", V6_TCP(.daddr = "2001:db8::"),
	 PASS(NO_VIP)},

	/* Not TCP/UDP, not IP. */
	{"v4 icmp echo to a VIP", V4_TCP(.l4 = IPPROTO_ICMP), PASS(NOT_TCP_UDP)},
	{"v4 gre to a VIP", V4_TCP(.l4 = IPPROTO_GRE), PASS(NOT_TCP_UDP)},
	{"v6 icmpv6 echo to a VIP", V6_TCP(.l4 = IPPROTO_ICMPV6), PASS(NOT_TCP_UDP)},
	{"v6 no next header to a VIP", V6_TCP(.l4 = IPPROTO_NONE, .payload_len = 0),
	 PASS(NOT_TCP_UDP)},
	{"arp", {L2, .ethertype = 0x0806, .payload_len = 28}, PASS(NOT_IP)},
	{"lldp", {L2, .ethertype = 0x88cc, .payload_len = 46}, PASS(NOT_IP)},
	{"arp in a vlan", {L2, VLAN1, .ethertype = 0x0806, .payload_len = 28}, PASS(NOT_IP)},

	/* VLAN tags: kept as they are. */
	{"v4 tcp/80, one vlan tag", V4_TCP(VLAN1), TX(slb1, 1, 1)},
	{"v4 tcp/8080, two vlan tags (802.1ad + 802.1Q)", V4_TCP(VLAN2, .dport = 8080),
	 REDIR(slb2, 2, 1)},
	{"v4 tcp/80, two 802.1Q tags", V4_TCP(.n_vlans = 2, .vlan_tci = {1, 2}), TX(slb1, 1, 1)},
	{"v6 udp, one vlan tag", V6_UDP(VLAN1), REDIR(slb2, 5, 3)},
	{"v6 tcp/443, two vlan tags", V6_TCP(VLAN2), TX(slb1, 4, 3)},
	{"v4 tcp/80, three vlan tags", V4_TCP(.n_vlans = 3, .vlan_tci = {1, 2, 3}),
	 PASS(VLAN_DEPTH)},
	{"v4 tcp/80, three 802.1ad tags",
	 V4_TCP(.n_vlans = 3, .vlan_tpid = {0x88a8, 0x88a8, 0x88a8}), PASS(VLAN_DEPTH)},

	/* IPv4 header. */
	{"v4 version 6 in an IPv4 ethertype", V4_TCP(.ip_version = 6), PASS(MALFORMED_IP4)},
	{"v4 IHL 4", V4_TCP(.ihl = 4), PASS(MALFORMED_IP4)},
	{"v4 IHL 0", V4_TCP(.ihl = PKT_ZERO), PASS(MALFORMED_IP4)},
	{"v4 IHL 15 past the end", V4_TCP(.ihl = 15, .payload_len = 0), PASS(MALFORMED_IP4)},
	{"v4 IHL 15 past the total length (frame has it)",
	 V4_TCP(.ihl = 15, .payload_len = 0, .eth_pad = 30), PASS(MALFORMED_IP4)},
	{"v4 total length past the end", V4_TCP(.tot_len = 20 + 20 + 10 + 1), PASS(MALFORMED_IP4)},
	{"v4 total length below the header", V4_TCP(.tot_len = 19), PASS(MALFORMED_IP4)},
	{"v4 total length = header, no room for tcp", V4_TCP(.tot_len = 20), PASS(MALFORMED_L4)},
	{"v4 total length cuts the tcp header (frame has it)", V4_TCP(.tot_len = 20 + 19),
	 PASS(MALFORMED_L4)},
	{"v4 4 bytes of options (router alert)",
	 V4_TCP(.ip_opts = ip_opt_router_alert, .ip_opts_len = sizeof(ip_opt_router_alert)),
	 TX(slb1, 1, 1)},
	{"v4 40 bytes of options (IHL 15)",
	 V4_TCP(.ip_opts = ip_opt_max, .ip_opts_len = sizeof(ip_opt_max), .dport = 8080),
	 REDIR(slb2, 2, 1)},
	{"v4 udp with options, padded by the builder",
	 V4_UDP(.ip_opts = ip_opt_router_alert, .ip_opts_len = 2), TX(slb1, 3, 2)},
	{"v4 options and IHL too small for them",
	 V4_TCP(.ip_opts = ip_opt_router_alert, .ip_opts_len = 4, .ihl = 5), PASS(MALFORMED_L4)},
	{"v4 DF set", V4_TCP(.frag_off = 0x4000), TX(slb1, 1, 1)},
	/* Fragments: the first is matched and remembered, the later ones follow it (in order). */
	{"v4 first fragment (MF)", V4_TCP(.frag_off = 0x2000, .ip_id = 7), TX(slb1, 1, 1)},
	{"v4 later fragment (offset 185) follows the first", V4_TCP(.frag_off = 185, .ip_id = 7),
	 TX(slb1, 1, 1)},
	{"v4 last fragment with DF follows the first", V4_TCP(.frag_off = 0x4000 | 7, .ip_id = 7),
	 TX(slb1, 1, 1)},
	{"v4 later fragment, its first not seen", V4_TCP(.frag_off = 185, .ip_id = 8),
	 DROP(FRAG_UNMATCHED)},
	{"v4 middle fragment of another protocol (MF, offset 1)",
	 V4_UDP(.frag_off = 0x2001, .ip_id = 7), DROP(FRAG_UNMATCHED)},
	{"v4 first fragment to no VIP", V4_TCP(.daddr = "192.0.2.99", .frag_off = 0x2000),
	 PASS(NO_VIP)},
	{"v4 later fragment to no VIP", V4_TCP(.daddr = "192.0.2.99", .frag_off = 185),
	 PASS(FRAGMENT)},

	/* IPv6 header and extension headers. */
	{"v6 version 4 in an IPv6 ethertype", V6_TCP(.ip_version = 4), PASS(MALFORMED_IP6)},
	{"v6 payload length past the end", V6_TCP(.payload_len6 = 20 + 10 + 1),
	 PASS(MALFORMED_IP6)},
	{"v6 payload length cuts the tcp header", V6_TCP(.payload_len6 = 19), PASS(MALFORMED_L4)},
	{"v6 hop-by-hop + destination options",
	 V6_TCP(.n_ext = 2, .ext = {EXT(HOP), EXT(DEST, .hdrlen = 2)}), TX(slb1, 4, 3)},
	{"v6 udp, destination options", V6_UDP(.n_ext = 1, .ext = {EXT(DEST, .hdrlen = 1)}),
	 REDIR(slb2, 5, 3)},
	{"v6 routing header, no segments left",
	 V6_TCP(.n_ext = 1, .ext = {EXT(ROUTING, .hdrlen = 2)}), TX(slb1, 4, 3)},
	{"v6 authentication header", V6_TCP(.n_ext = 2, .ext = {EXT(HOP), EXT(AH, .hdrlen = 4)}),
	 TX(slb1, 4, 3)},
	{"v6 four extension headers (the bound)",
	 V6_TCP(.n_ext = 4,
		.ext = {EXT(HOP), EXT(DEST), EXT(ROUTING, .hdrlen = 2), EXT(AH, .hdrlen = 4)}),
	 TX(slb1, 4, 3)},
	{"v6 five extension headers",
	 V6_TCP(.n_ext = 5,
		.ext = {EXT(HOP), EXT(DEST), EXT(ROUTING, .hdrlen = 2), EXT(DEST), EXT(DEST)}),
	 PASS(EXTHDR_DEPTH)},
	{"v6 eight destination options headers",
	 V6_UDP(.n_ext = 8, .ext = {EXT(DEST), EXT(DEST), EXT(DEST), EXT(DEST), EXT(DEST),
				    EXT(DEST), EXT(DEST), EXT(DEST)}),
	 PASS(EXTHDR_DEPTH)},
	{"v6 routing header, segments left 1",
	 V6_TCP(.n_ext = 1, .ext = {EXT(ROUTING, .hdrlen = 2, .segments_left = 1)}),
	 PASS(IP6_ROUTING)},
	{"v6 routing header after hop-by-hop, segments left 3",
	 V6_TCP(.n_ext = 2, .ext = {EXT(HOP), EXT(ROUTING, .hdrlen = 6, .segments_left = 3)}),
	 PASS(IP6_ROUTING)},
	{"v6 fragment header (first fragment)",
	 V6_TCP(.n_ext = 1, .ext = {EXT(FRAGMENT, .frag = 1)}), TX(slb1, 4, 3)},
	{"v6 fragment header (offset 8) follows the first",
	 V6_TCP(.n_ext = 1, .ext = {EXT(FRAGMENT, .frag = 8 << 3)}), TX(slb1, 4, 3)},
	{"v6 fragment header (offset 8), its first not seen",
	 V6_UDP(.n_ext = 1, .ext = {EXT(FRAGMENT, .frag = 8 << 3)}), DROP(FRAG_UNMATCHED)},
	{"v6 atomic fragment (offset 0, no M): a whole datagram",
	 V6_TCP(.n_ext = 1, .ext = {EXT(FRAGMENT, .frag = 0)}), TX(slb1, 4, 3)},
	{"v6 hop-by-hop then fragment header",
	 V6_TCP(.n_ext = 2, .ext = {EXT(HOP), EXT(FRAGMENT, .frag = 1)}), TX(slb1, 4, 3)},
	{"v6 four extension headers then a fragment header",
	 V6_TCP(.n_ext = 5,
		.ext = {EXT(HOP), EXT(DEST), EXT(DEST), EXT(DEST), EXT(FRAGMENT, .frag = 1)}),
	 PASS(EXTHDR_DEPTH)},
	{"v6 extension header cut after 2 bytes (payload length matches)",
	 V6_TCP(.n_ext = 1, .ext = {EXT(HOP, .hdrlen = 1)}), CUT(FIX, EXT0, 2),
	 PASS(MALFORMED_EXTHDR)},
	{"v6 extension header cut after 4 bytes (payload length matches)",
	 V6_TCP(.n_ext = 1, .ext = {EXT(HOP, .hdrlen = 1)}), CUT(FIX, EXT0, 4),
	 PASS(MALFORMED_EXTHDR)},
	{"v6 extension header one byte short (payload length matches)",
	 V6_TCP(.n_ext = 1, .ext = {EXT(HOP, .hdrlen = 1)}), CUT(FIX, EXT0, 15),
	 PASS(MALFORMED_EXTHDR)},
	{"v6 second extension header cut (payload length matches)",
	 V6_TCP(.n_ext = 2, .ext = {EXT(HOP), EXT(DEST, .hdrlen = 1)}), CUT(FIX, EXT0 + 1, 9),
	 PASS(MALFORMED_EXTHDR)},
	{"v6 AH one byte short (payload length matches)",
	 V6_TCP(.n_ext = 1, .ext = {EXT(AH, .hdrlen = 4)}), CUT(FIX, EXT0, 23),
	 PASS(MALFORMED_EXTHDR)},
	{"v6 extension header cut, payload length unchanged",
	 V6_TCP(.n_ext = 1, .ext = {EXT(HOP, .hdrlen = 1)}), CUT(RAW, EXT0, 4),
	 PASS(MALFORMED_IP6)},
	{"v6 extension header past the payload length (frame has it)",
	 V6_TCP(.n_ext = 1, .ext = {EXT(HOP, .hdrlen = 1)}, .payload_len6 = 12),
	 PASS(MALFORMED_EXTHDR)},

	/* TCP and UDP headers. */
	{"tcp data offset 4", V4_TCP(.doff = 4), PASS(MALFORMED_L4)},
	{"tcp data offset 0", V4_TCP(.doff = PKT_ZERO), PASS(MALFORMED_L4)},
	{"tcp data offset 15 past the end", V4_TCP(.doff = 15, .payload_len = 39),
	 PASS(MALFORMED_L4)},
	{"tcp data offset 15, exactly the end", V4_TCP(.doff = 15, .payload_len = 40),
	 TX(slb1, 1, 1)},
	{"tcp with 12 bytes of options", V4_TCP(.tcp_opts = tcp_opts, .tcp_opts_len = 12),
	 TX(slb1, 1, 1)},
	{"tcp syn without payload", V4_TCP(.tcp_flags = 0x02, .payload_len = 0), TX(slb1, 1, 1)},
	{"v6 tcp data offset 3", V6_TCP(.doff = 3), PASS(MALFORMED_L4)},
	{"udp with an empty payload", V4_UDP(.payload_len = 0), TX(slb1, 3, 2)},
	{"v6 udp with an empty payload", V6_UDP(.payload_len = 0), REDIR(slb2, 5, 3)},
	{"udp length 7", V4_UDP(.udp_len = 7), PASS(MALFORMED_L4)},
	{"udp length past the datagram", V4_UDP(.udp_len = 200), PASS(MALFORMED_L4)},
	{"udp length 0", V6_UDP(.udp_len = PKT_ZERO), PASS(MALFORMED_L4)},

	/* Ethernet padding after a short datagram: kept, and the datagram's length rules. */
	{"v4 udp/53 with 2 bytes, padded to 60", V4_UDP(.payload_len = 2, .eth_pad = 16),
	 TX(slb1, 3, 2)},
	{"v4 tcp/8080 without payload, padded to 60",
	 V4_TCP(.dport = 8080, .payload_len = 0, .eth_pad = 6), REDIR(slb2, 2, 1)},
	{"v4 udp/53 with 1 byte, padded with 100 bytes", V4_UDP(.payload_len = 1, .eth_pad = 100),
	 TX(slb1, 3, 2)},
	{"v6 tcp/443 with 24 bytes of padding", V6_TCP(.eth_pad = 24), TX(slb1, 4, 3)},
	{"v4 padded, vlan tagged", V4_UDP(VLAN1, .payload_len = 0, .eth_pad = 18), TX(slb1, 3, 2)},

	/*
	 * Truncation of a tagged TCP/IPv4 frame at every header boundary and one
	 * byte in: eth 0, vlan 14, ip 18, tcp 38, payload 58, end 68. (A frame
	 * shorter than the Ethernet header: see eth_truncated below.)
	 */
	{"cut: at the vlan tag", V4_TCP(VLAN1), CUT(RAW, VLAN0, 0), PASS(MALFORMED_ETH)},
	{"cut: 1 byte into the vlan tag", V4_TCP(VLAN1), CUT(RAW, VLAN0, 1), PASS(MALFORMED_ETH)},
	{"cut: 3 bytes into the vlan tag", V4_TCP(VLAN1), CUT(RAW, VLAN0, 3), PASS(MALFORMED_ETH)},
	{"cut: 1 byte into the second vlan tag", V4_TCP(VLAN2), CUT(RAW, VLAN1, 1),
	 PASS(MALFORMED_ETH)},
	{"cut: at the ip header", V4_TCP(VLAN1), CUT(RAW, L3, 0), PASS(MALFORMED_IP4)},
	{"cut: 1 byte into the ip header", V4_TCP(VLAN1), CUT(RAW, L3, 1), PASS(MALFORMED_IP4)},
	{"cut: 19 bytes into the ip header", V4_TCP(VLAN1), CUT(RAW, L3, 19), PASS(MALFORMED_IP4)},
	{"cut: 19 bytes into the ip header, length fixed", V4_TCP(VLAN1), CUT(FIX, L3, 19),
	 PASS(MALFORMED_IP4)},
	{"cut: at tcp", V4_TCP(VLAN1), CUT(RAW, L4, 0), PASS(MALFORMED_IP4)},
	{"cut: 1 byte into tcp", V4_TCP(VLAN1), CUT(RAW, L4, 1), PASS(MALFORMED_IP4)},
	{"cut: at the payload", V4_TCP(VLAN1), CUT(RAW, PAYLOAD, 0), PASS(MALFORMED_IP4)},
	{"cut: 1 byte into the payload", V4_TCP(VLAN1), CUT(RAW, PAYLOAD, 1), PASS(MALFORMED_IP4)},
	{"cut: at tcp, length fixed", V4_TCP(VLAN1), CUT(FIX, L4, 0), PASS(MALFORMED_L4)},
	{"cut: 1 byte into tcp, length fixed", V4_TCP(VLAN1), CUT(FIX, L4, 1), PASS(MALFORMED_L4)},
	{"cut: 19 bytes into tcp, length fixed", V4_TCP(VLAN1), CUT(FIX, L4, 19),
	 PASS(MALFORMED_L4)},
	{"cut: inside tcp options, length fixed",
	 V4_TCP(VLAN1, .tcp_opts = tcp_opts, .tcp_opts_len = 12), CUT(FIX, L4, 31),
	 PASS(MALFORMED_L4)},
	{"cut: at the payload, length fixed", V4_TCP(VLAN1), CUT(FIX, PAYLOAD, 0), TX(slb1, 1, 1)},
	{"cut: 1 byte into the payload, length fixed", V4_TCP(VLAN1), CUT(FIX, PAYLOAD, 1),
	 TX(slb1, 1, 1)},
	{"cut untagged: at the ip header", V4_TCP(), CUT(RAW, L3, 0), PASS(MALFORMED_IP4)},
	{"cut untagged: 1 byte into the ip header", V4_TCP(), CUT(RAW, L3, 1), PASS(MALFORMED_IP4)},
	{"cut untagged: at tcp, length fixed", V4_TCP(), CUT(FIX, L4, 0), PASS(MALFORMED_L4)},
	{"cut untagged: 1 byte into tcp, length fixed", V4_TCP(), CUT(FIX, L4, 1),
	 PASS(MALFORMED_L4)},
	{"cut untagged: at the payload, length fixed", V4_TCP(.dport = 8080), CUT(FIX, PAYLOAD, 0),
	 REDIR(slb2, 2, 1)},
	{"cut udp: at udp, length fixed", V4_UDP(), CUT(FIX, L4, 0), PASS(MALFORMED_L4)},
	{"cut udp: 7 bytes into udp, length fixed", V4_UDP(), CUT(FIX, L4, 7), PASS(MALFORMED_L4)},
	{"cut v6: at the ip header", V6_TCP(), CUT(RAW, L3, 0), PASS(MALFORMED_IP6)},
	{"cut v6: 1 byte into the ip header", V6_TCP(), CUT(RAW, L3, 1), PASS(MALFORMED_IP6)},
	{"cut v6: 39 bytes into the ip header", V6_TCP(), CUT(RAW, L3, 39), PASS(MALFORMED_IP6)},
	{"cut v6: at tcp", V6_TCP(), CUT(RAW, L4, 0), PASS(MALFORMED_IP6)},
	{"cut v6: at tcp, length fixed", V6_TCP(), CUT(FIX, L4, 0), PASS(MALFORMED_L4)},
	{"cut v6: 1 byte into tcp, length fixed", V6_TCP(), CUT(FIX, L4, 1), PASS(MALFORMED_L4)},
	{"cut v6: at the payload, length fixed", V6_TCP(), CUT(FIX, PAYLOAD, 0), TX(slb1, 4, 3)},
	{"cut v6 udp: 4 bytes into udp, length fixed", V6_UDP(), CUT(FIX, L4, 4),
	 PASS(MALFORMED_L4)},
	{"cut v6 tagged: 2 bytes into the vlan tag", V6_TCP(VLAN1), CUT(RAW, VLAN0, 2),
	 PASS(MALFORMED_ETH)},
};

/* Build a case's input frame, or (with slb) the frame it must come out as. */
static void case_build(const struct fwd_case *c, const struct slb_def *slb, struct pkt *ret)
{
	struct pkt_spec s = c->in;
	size_t at;
	int r;

	if (slb) {
		memcpy(s.dmac, slb->dmac, 6);
		memcpy(s.smac, slb->smac, 6);
	}
	r = pkt_build(&s, ret);
	if (r)
		fail_msg("%s: pkt_build: %s", c->name, strerror(-r));
	if (c->cut == CUT_NONE)
		return;
	at = pkt_mark(ret, c->cut_at);
	if (at == PKT_NO_MARK)
		fail_msg("%s: the frame has no header to cut at", c->name);
	if (c->cut == CUT_RAW)
		pkt_cut(ret, at + c->cut_delta);
	else
		pkt_cut_fix(ret, at + c->cut_delta);
}

static void test_cases(void **state)
{
	static struct pkt in, want;
	size_t n = sizeof(cases) / sizeof(cases[0]), failed = 0;

	for (size_t i = 0; i < n; i++) {
		const struct fwd_case *c = &cases[i];
		struct h_expect e = {
			.action = c->action,
			.reason = c->reason,
			.out = &want,
		};

		/* A table typo would make a forwarded case unchecked: refuse it. */
		assert_true(vsn_reason_is_forward(c->reason) == (c->slb != NULL));
		case_build(c, NULL, &in);
		case_build(c, c->slb, &want);
		if (c->slb) {
			e.policy_id = c->policy_id;
			e.service_id = c->service_id;
			e.slb_id = c->slb->id;
		}
		if (h_verify(&env, c->name, &in, &e)) {
			print_error("FAILED case %zu: %s\n", i, c->name);
			failed++;
		}
	}
	print_message("[          ] %zu cases, %zu failed\n", n, failed);
	assert_int_equal(failed, 0);
}

/* BPF_PROG_TEST_RUN refuses a frame shorter than an Ethernet header. */
static void test_eth_truncated(void **state)
{
	static struct pkt in, out;
	struct h_counters before, after;
	struct pkt_spec s = V4_TCP();
	__u32 action;

	assert_int_equal(pkt_build(&s, &in), 0);
	assert_int_equal(h_counters_read(&env, &before), 0);
	for (size_t len = 1; len < 14; len++) {
		pkt_cut(&in, len);
		assert_int_equal(h_run(&env, &in, &out, &action), -EINVAL);
	}
	assert_int_equal(h_counters_read(&env, &after), 0);
	assert_memory_equal(&before, &after, sizeof(before));

	/* Exactly the Ethernet header, IPv4 ethertype: the IP header is missing. */
	assert_int_equal(pkt_build(&s, &in), 0);
	pkt_cut(&in, 14);
	h_check(&env, "cut: at the ip header, nothing after eth", &in,
		&(struct h_expect){
			.action = XDP_PASS, .reason = VSN_PASS_MALFORMED_IP4, .out = &in});
}

static void expect_v4_tcp80(const char *name, __u32 action, enum vsn_reason reason)
{
	static struct pkt in, want;
	struct pkt_spec s = V4_TCP();
	bool fwd = vsn_reason_is_forward(reason);

	assert_int_equal(pkt_build(&s, &in), 0);
	memcpy(s.dmac, slb1.dmac, 6);
	memcpy(s.smac, slb1.smac, 6);
	assert_int_equal(pkt_build(&s, &want), 0);
	h_check(&env, name, &in,
		&(struct h_expect){.action = action,
				   .reason = reason,
				   .out = fwd ? &want : &in,
				   .policy_id = 1,
				   .service_id = 1,
				   .slb_id = 1});
}

/*
 * SLB state: down drops, drain still forwards this flow (the connection table
 * remembers it from the first frame: drain keeps established flows), up
 * again forwards.
 */
static void test_slb_state(void **state)
{
	expect_v4_tcp80("slb 1 up", XDP_TX, VSN_FWD_TX);
	assert_int_equal(vsn_dp_slb_set_state(env.dp, 1, VSN_SLB_DOWN), 0);
	expect_v4_tcp80("slb 1 down", XDP_DROP, VSN_DROP_SLB_DOWN);
	assert_int_equal(vsn_dp_slb_set_state(env.dp, 1, VSN_SLB_DRAIN), 0);
	expect_v4_tcp80("slb 1 drain", XDP_TX, VSN_FWD_TX);
	assert_int_equal(vsn_dp_slb_set_state(env.dp, 1, VSN_SLB_UP), 0);
	expect_v4_tcp80("slb 1 up again", XDP_TX, VSN_FWD_TX);
	assert_int_equal(vsn_dp_slb_set_state(env.dp, 99, VSN_SLB_DOWN), -ENOENT);
}

/* SLB 3 was defined with an address that has no route: written, unresolved. */
static void test_slb_unresolved(void **state)
{
	struct vsn_slb e;

	assert_int_equal(vsn_dp_slb_get(env.dp, 3, &e), 0);
	assert_true(e.flags & VSN_SLB_DEFINED);
	assert_false(e.flags & VSN_SLB_RESOLVED);
	assert_false(e.flags & VSN_SLB_STATIC);
}

/*
 * An IPv6 frame to ::ffff:192.0.2.10 is not addressed to the IPv4 VIP
 * 192.0.2.10, even though the policy table keys IPv4 VIPs in that v4-mapped
 * form: it must miss (pass untouched), not reach the IPv4 VIP's SLB.
 */
static void test_v4mapped_dst(void **state)
{
	static struct pkt in;
	struct pkt_spec s = V6_TCP(.daddr = "::ffff:" VIP4, .dport = 80);

	assert_int_equal(pkt_build(&s, &in), 0);
	h_check(&env, "v6 tcp/80 to ::ffff:192.0.2.10", &in,
		&(struct h_expect){.action = XDP_PASS, .reason = VSN_PASS_NO_VIP, .out = &in});
}

/*
 * SLB 4's egress vt2 disappears (the kernel drops it from the devmap, so the
 * redirect fails and the program returns the fallback XDP_DROP). The frame is
 * dropped, and the counters must say so: not fwd_redirect, and nothing on the
 * policy, service or SLB counters, which count forwarded frames.
 */
static void test_egress_gone(void **state)
{
	static struct pkt in, want;
	struct pkt_spec s = V4_TCP(.daddr = VIP4_EGRESS_GONE);
	const char *name = "v4 tcp/80 to slb 4, vt2 present";

	assert_int_equal(pkt_build(&s, &in), 0);
	memcpy(s.dmac, slb4.dmac, 6);
	memcpy(s.smac, slb4.smac, 6);
	assert_int_equal(pkt_build(&s, &want), 0);
	h_check(&env, name, &in,
		&(struct h_expect){.action = XDP_REDIRECT,
				   .reason = VSN_FWD_REDIRECT,
				   .out = &want,
				   .policy_id = 8,
				   .service_id = 6,
				   .slb_id = 4});

	assert_int_equal(system("ip link del dev vt2"), 0);
	/* A dropped frame's bytes go nowhere: MACs rewritten or not, either will do. */
	h_check(&env, "v4 tcp/80 to slb 4, vt2 deleted", &in,
		&(struct h_expect){.action = XDP_DROP,
				   .reason = VSN_DROP_NO_NEXTHOP,
				   .out = &in,
				   .alt = &want});
}

static const struct {
	const char *vip;
	__u8 proto;
	__u16 port;
	__u32 slb, service, policy;
} set1[] = {
	{VIP4, IPPROTO_TCP, 80, 1, 1, 1},
	{VIP4, IPPROTO_TCP, 0, 2, 1, 2},
	{VIP4, IPPROTO_UDP, 53, 1, 2, 3},
	{VIP6, IPPROTO_TCP, 443, 1, 3, 4},
	{VIP6, IPPROTO_UDP, 0, 2, 3, 5},
	{VIP4_UDP_ONLY, IPPROTO_UDP, 5000, 1, 4, 6},
	{VIP4_UNRESOLVED, IPPROTO_TCP, 80, 3, 5, 7},
	{VIP4_EGRESS_GONE, IPPROTO_TCP, 80, 4, 6, 8},
};

static int setup(void **state)
{
	struct vsn_dp_policy pol[sizeof(set1) / sizeof(set1[0])] = {0};
	struct vsn_dp_slb s3 = {.id = 3, .forward = VSN_FORWARD_L2, .state = VSN_SLB_UP};
	struct vsn_dp_set set = {
		.generation = 1, .n_policies = sizeof(set1) / sizeof(set1[0]), .policies = pol};
	size_t bad = 0;
	int r;

	r = h_open(&env);
	if (r) {
		fprintf(stderr, "setup: h_open: %s\n", strerror(-r));
		return -1;
	}
	r = h_slb_static(&env, slb1.id, slb1.addr, env.lo_ifindex, slb1.dmac, slb1.smac);
	if (!r)
		r = h_slb_static(&env, slb2.id, slb2.addr, env.vt0_ifindex, slb2.dmac, slb2.smac);
	if (!r && system("ip link add name vt2 type veth peer name vt3 && ip link set dev vt2 up"))
		r = -ENODEV;
	if (!r)
		r = h_slb_static(&env, slb4.id, slb4.addr, if_nametoindex("vt2"), slb4.dmac,
				 slb4.smac);
	if (r) {
		fprintf(stderr, "setup: slb: %s\n", strerror(-r));
		goto fail;
	}
	/* No route in this namespace: the entry is written all the same. */
	vsn_addr_parse("198.51.100.7", &s3.addr);
	r = vsn_dp_slb_set(env.dp, &s3);
	if (r != -ENETUNREACH) {
		fprintf(stderr, "setup: slb 3 without a route: %d (%s), expected -ENETUNREACH\n", r,
			strerror(-r));
		goto fail;
	}
	for (size_t i = 0; i < sizeof(set1) / sizeof(set1[0]); i++) {
		vsn_addr_parse(set1[i].vip, &pol[i].vip);
		pol[i].proto = set1[i].proto;
		pol[i].port = set1[i].port;
		pol[i].slb_id = set1[i].slb;
		pol[i].service_id = set1[i].service;
		pol[i].policy_id = set1[i].policy;
	}
	r = vsn_dp_set_apply(env.dp, &set, &bad);
	if (r) {
		fprintf(stderr, "setup: apply: %s (policy %zu)\n", strerror(-r), bad);
		goto fail;
	}
	return 0;
fail:
	h_close(&env);
	return -1;
}

static int teardown(void **state)
{
	h_close(&env);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),	       cmocka_unit_test(test_eth_truncated),
		cmocka_unit_test(test_slb_unresolved), cmocka_unit_test(test_slb_state),
		cmocka_unit_test(test_v4mapped_dst),   cmocka_unit_test(test_egress_gone),
	};
	int r;

	r = h_init();
	if (r)
		return r;
	return cmocka_run_group_tests(tests, setup, teardown);
}
