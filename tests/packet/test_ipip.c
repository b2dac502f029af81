/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Packet tests of ipip forwarding (bpf/encap.h): one frame in, the verdict,
 * the whole frame out and the counters checked, through BPF_PROG_TEST_RUN
 * (ingress lo). Every expected frame is built here from the case's spec,
 * independently of the forwarder: the inner datagram rebuilt with TTL - 1
 * (so its header checksum is computed afresh, not updated), wrapped with
 * pkt_encap(), and the outer fields the spec cannot express (TOS, traffic
 * class, flow label) written by hand.
 *
 *   underlay 100.64.0.1, fd00:64::1 (the outer source)
 *
 *   SLB  address        forward  next hop                          egress  mtu
 *   1    10.1.0.1       ipip     static                            lo      0 (unknown)
 *   2    10.1.0.2       ipip     static                            vt0     0
 *   3    2001:db8:1::1  ipip     static                            lo      0
 *   4    2001:db8:1::2  ipip     static                            vt0     0
 *   5    10.9.0.1       ipip     resolved, on-link on vt0          vt0     1500 (vt0's)
 *   6    2001:db8:9::1  ipip     resolved, on-link on vt0          vt0     1500 (vt0's)
 *   7    10.9.1.1       ipip     resolved, a route with mtu 1400   vt0     1400 (the route's)
 *   8    10.1.0.8       l2       static                            lo      0
 *
 *   policy  VIP            proto port  SLB  service
 *   1       192.0.2.10     tcp   80    1    1
 *   2       192.0.2.10     udp   53    1    1
 *   3       192.0.2.10     tcp   any   2    1
 *   4       2001:db8::10   tcp   443   3    2
 *   5       2001:db8::10   udp   any   3    2
 *   6       2001:db8::10   tcp   any   4    2
 *   7       192.0.2.50     tcp   any   5    3
 *   8       192.0.2.50     udp   any   5    3
 *   9       2001:db8::50   tcp   any   6    4
 *   10      2001:db8::50   udp   any   6    4
 *   11      192.0.2.60     udp   any   7    5
 *   12      192.0.2.70     tcp   80    8    6
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <cmocka.h>

#include "harness.h"

/* The table overrides fields of a base spec with designated initializers. */
#pragma clang diagnostic ignored "-Winitializer-overrides"

#define CLIENT4 "198.51.100.1"
#define CLIENT6 "2001:db8:c::1"
#define VIP4 "192.0.2.10"
#define VIP6 "2001:db8::10"
#define VIP4_MTU "192.0.2.50"
#define VIP6_MTU "2001:db8::50"
#define VIP4_ROUTE_MTU "192.0.2.60"
#define VIP4_L2 "192.0.2.70"
#define UNDERLAY4 "100.64.0.1"
#define UNDERLAY6 "fd00:64::1"

/* vt0's MAC, and the MAC of every neighbour resolved through it. */
#define VT0_MAC 0x02, 0x00, 0x00, 0x00, 0x00, 0x10
#define NEIGH_MAC 0x02, 0x59, 0x00, 0x00, 0x00, 0x0d
#define NEIGH_MAC_STR "02:59:00:00:00:0d"

struct slb_def {
	__u32 id;
	const char *addr;
	enum vsn_forward forward;
	const char *ifname;
	bool resolved; /* through the namespace's routes and neighbours, else static */
	__u8 dmac[6];
	__u8 smac[6];
};

/* A static next hop on ifname; the MACs say the SLB's id. */
#define SLB_STATIC(i, a, fwd, ifn)                                         \
	{                                                                  \
		.id = (i), .addr = (a), .forward = (fwd), .ifname = (ifn), \
		.dmac = {0x02, 0x51, 0, 0, (i), 0xd}, .smac = {            \
			0x02,                                              \
			0x51,                                              \
			0,                                                 \
			0,                                                 \
			(i),                                               \
			0x5                                                \
		}                                                          \
	}
/* An ipip SLB resolved through vt0 (see netns_setup). */
#define SLB_RESOLVED(i, a)                                                            \
	{                                                                             \
		.id = (i), .addr = (a), .forward = VSN_FORWARD_IPIP, .ifname = "vt0", \
		.resolved = true, .dmac = {NEIGH_MAC}, .smac = {                      \
			VT0_MAC                                                       \
		}                                                                     \
	}

static const struct slb_def slb1 = SLB_STATIC(1, "10.1.0.1", VSN_FORWARD_IPIP, "lo");
static const struct slb_def slb2 = SLB_STATIC(2, "10.1.0.2", VSN_FORWARD_IPIP, "vt0");
static const struct slb_def slb3 = SLB_STATIC(3, "2001:db8:1::1", VSN_FORWARD_IPIP, "lo");
static const struct slb_def slb4 = SLB_STATIC(4, "2001:db8:1::2", VSN_FORWARD_IPIP, "vt0");
static const struct slb_def slb5 = SLB_RESOLVED(5, "10.9.0.1");
static const struct slb_def slb6 = SLB_RESOLVED(6, "2001:db8:9::1");
static const struct slb_def slb7 = SLB_RESOLVED(7, "10.9.1.1");
static const struct slb_def slb8 = SLB_STATIC(8, "10.1.0.8", VSN_FORWARD_L2, "lo");

static const struct slb_def *const slbs[] = {&slb1, &slb2, &slb3, &slb4,
					     &slb5, &slb6, &slb7, &slb8};

/* The namespace behind the resolved SLBs (the harness made vt0 and vt1). */
static const char *const netns_setup =
	"ip link set dev vt0 down && ip link set dev vt0 address 02:00:00:00:00:10 && "
	"ip link set dev vt0 up && ip addr add 10.9.0.254/24 dev vt0 && "
	"ip -6 addr add 2001:db8:9::fe/64 dev vt0 nodad && "
	"ip route add 10.9.1.0/24 dev vt0 mtu 1400 && "
	"ip neigh add 10.9.0.1 lladdr " NEIGH_MAC_STR " dev vt0 nud permanent && "
	"ip neigh add 10.9.1.1 lladdr " NEIGH_MAC_STR " dev vt0 nud permanent && "
	"ip -6 neigh add 2001:db8:9::1 lladdr " NEIGH_MAC_STR " dev vt0 nud permanent";

static struct h_env env;

/* Base frames: a client talking to a VIP, 10 bytes of payload. */
#define L2 .dmac = H_NODE_MAC, .smac = H_CLIENT_MAC
#define V4_TCP(...)                                                                    \
	{                                                                              \
		L2, .l3 = AF_INET, .saddr = CLIENT4, .daddr = VIP4, .l4 = IPPROTO_TCP, \
		    .sport = 40000, .dport = 80, .payload_len = 10, __VA_ARGS__        \
	}
#define V4_UDP(...) V4_TCP(.l4 = IPPROTO_UDP, .dport = 53, __VA_ARGS__)
#define V6_TCP(...)                                                                     \
	{                                                                               \
		L2, .l3 = AF_INET6, .saddr = CLIENT6, .daddr = VIP6, .l4 = IPPROTO_TCP, \
		    .sport = 40000, .dport = 443, .payload_len = 10, __VA_ARGS__        \
	}
#define V6_UDP(...) V6_TCP(.l4 = IPPROTO_UDP, .dport = 4789, __VA_ARGS__)
#define VLAN1 .n_vlans = 1, .vlan_tci = {100}
#define VLAN2 .n_vlans = 2, .vlan_tpid = {0x88a8, 0x8100}, .vlan_tci = {10, 20}
#define EXT(t, ...)                              \
	{                                        \
		.type = PKT_EXT_##t, __VA_ARGS__ \
	}

struct ipip_case {
	const char *name;
	struct pkt_spec in;
	/* Written into the built frame (input and expected inner alike): */
	__u8 tos;	   /* IPv4 TOS / IPv6 traffic class */
	__u32 flow;	   /* IPv6 flow label of the inner header */
	bool ttl0;	   /* TTL / hop limit 0 (a spec's ttl 0 means 64) */
	__u32 inner_check; /* CHECK(x): the IPv4 id is chosen so that the checksum is x */
	__u32 action;
	enum vsn_reason reason;
	const struct slb_def *slb; /* forwarded to; NULL otherwise */
	__u32 policy_id;
	__u32 service_id;
};

#define CHECK_SET 0x10000
#define CHECK(x) .inner_check = CHECK_SET | (x)
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
#define OPT_RA .ip_opts = ip_opt_router_alert, .ip_opts_len = sizeof(ip_opt_router_alert)

static const struct ipip_case cases[] = {
	/* IPv4 in IPv4. */
	{"v4 tcp/80 -> slb 1 on lo: 4-in-4, XDP_TX", V4_TCP(), TX(slb1, 1, 1)},
	{"v4 tcp/80 with DF: DF copied to the outer header", V4_TCP(.frag_off = 0x4000),
	 TX(slb1, 1, 1)},
	{"v4 tcp/80 tos 0xb8 (EF): tos copied", V4_TCP(), .tos = 0xb8, TX(slb1, 1, 1)},
	{"v4 tcp/80 tos 0x03 (ECN CE): tos copied", V4_TCP(), .tos = 0x03, TX(slb1, 1, 1)},
	{"v4 tcp/80 DF and tos 0x2e", V4_TCP(.frag_off = 0x4000), .tos = 0x2e, TX(slb1, 1, 1)},
	{"v4 tcp/80 with an ip id: the outer id is 0", V4_TCP(.ip_id = 0x1234), TX(slb1, 1, 1)},
	{"v4 tcp syn without payload (datagram of 40 bytes)",
	 V4_TCP(.tcp_flags = 0x02, .payload_len = 0), TX(slb1, 1, 1)},
	{"v4 udp/53", V4_UDP(), TX(slb1, 2, 1)},
	{"v4 udp/53 with DF", V4_UDP(.frag_off = 0x4000), TX(slb1, 2, 1)},
	{"v4 udp/53 with 12 bytes (datagram of 40 bytes), unpadded", V4_UDP(.payload_len = 12),
	 TX(slb1, 2, 1)},
	{"v4 udp/53 with 11 bytes (datagram of 39 bytes), unpadded", V4_UDP(.payload_len = 11),
	 TX(slb1, 2, 1)},
	{"v4 udp/53 without payload (datagram of 28 bytes), unpadded", V4_UDP(.payload_len = 0),
	 TX(slb1, 2, 1)},
	{"v4 udp/53 with 2 bytes, padded to 60: the padding follows the inner datagram",
	 V4_UDP(.payload_len = 2, .eth_pad = 16), TX(slb1, 2, 1)},
	{"v4 tcp/8080 -> slb 2 on vt0: XDP_REDIRECT, the same encapsulation", V4_TCP(.dport = 8080),
	 REDIR(slb2, 3, 1)},
	{"v4 tcp/8080 with DF and tos, redirected", V4_TCP(.dport = 8080, .frag_off = 0x4000),
	 .tos = 0x10, REDIR(slb2, 3, 1)},

	/* IPv6 in IPv6. */
	{"v6 tcp/443 -> slb 3 on lo: 6-in-6, XDP_TX", V6_TCP(), TX(slb3, 4, 2)},
	{"v6 tcp/443 traffic class 0xb8: copied", V6_TCP(), .tos = 0xb8, TX(slb3, 4, 2)},
	{"v6 tcp/443 traffic class 0x03 (ECN CE): copied", V6_TCP(), .tos = 0x03, TX(slb3, 4, 2)},
	{"v6 tcp/443 with an inner flow label: the outer one is the flow's", V6_TCP(),
	 .flow = 0xabcde, .tos = 0x28, TX(slb3, 4, 2)},
	{"v6 tcp/443 from port 1234: another flow label", V6_TCP(.sport = 1234), TX(slb3, 4, 2)},
	{"v6 tcp/443 from another client: another flow label",
	 V6_TCP(.saddr = "2001:db8:c:ffff:1234:5678:9abc:def0"), TX(slb3, 4, 2)},
	{"v6 udp/4789", V6_UDP(), TX(slb3, 5, 2)},
	{"v6 udp without payload", V6_UDP(.payload_len = 0), TX(slb3, 5, 2)},
	{"v6 udp with 24 bytes of padding", V6_UDP(.eth_pad = 24), TX(slb3, 5, 2)},
	{"v6 tcp/8080 -> slb 4 on vt0: XDP_REDIRECT", V6_TCP(.dport = 8080), REDIR(slb4, 6, 2)},
	{"v6 hop-by-hop + destination options: kept inside",
	 V6_TCP(.n_ext = 2, .ext = {EXT(HOP), EXT(DEST, .hdrlen = 2)}), TX(slb3, 4, 2)},
	{"v6 udp, routing header without segments left",
	 V6_UDP(.n_ext = 1, .ext = {EXT(ROUTING, .hdrlen = 2)}), TX(slb3, 5, 2)},

	/* TTL and hop limit. */
	{"v4 ttl 1: passed untouched", V4_TCP(.ttl = 1), PASS(TTL_EXCEEDED)},
	{"v4 ttl 0: passed untouched", V4_TCP(), .ttl0 = true, PASS(TTL_EXCEEDED)},
	{"v4 udp ttl 1: passed untouched", V4_UDP(.ttl = 1), PASS(TTL_EXCEEDED)},
	{"v4 ttl 1 to the redirected slb 2: passed untouched", V4_TCP(.ttl = 1, .dport = 8080),
	 PASS(TTL_EXCEEDED)},
	{"v4 ttl 2: forwarded with ttl 1", V4_TCP(.ttl = 2), TX(slb1, 1, 1)},
	{"v4 ttl 255: forwarded with ttl 254", V4_TCP(.ttl = 255), TX(slb1, 1, 1)},
	{"v6 hop limit 1: passed untouched", V6_TCP(.ttl = 1), PASS(TTL_EXCEEDED)},
	{"v6 hop limit 0: passed untouched", V6_TCP(), .ttl0 = true, PASS(TTL_EXCEEDED)},
	{"v6 tcp/80 hop limit 1 to the redirected slb 4: passed untouched",
	 V6_TCP(.ttl = 1, .dport = 80), PASS(TTL_EXCEEDED)},
	{"v6 hop limit 2: forwarded with 1", V6_TCP(.ttl = 2), TX(slb3, 4, 2)},
	{"v6 hop limit 255: forwarded with 254", V6_UDP(.ttl = 255), TX(slb3, 5, 2)},

	/* The inner header checksum after TTL - 1, where the incremental update carries. */
	{"v4 inner checksum 0xfeff: 0x0000 after ttl - 1", V4_TCP(), CHECK(0xfeff), TX(slb1, 1, 1)},
	{"v4 inner checksum 0xff00: the carry wraps around to 0x0001", V4_TCP(), CHECK(0xff00),
	 TX(slb1, 1, 1)},
	{"v4 inner checksum 0xfffe: 0x00ff", V4_TCP(), CHECK(0xfffe), TX(slb1, 1, 1)},
	{"v4 inner checksum 0xfeff, ttl 2", V4_UDP(.ttl = 2), CHECK(0xfeff), TX(slb1, 2, 1)},
	{"v4 inner checksum 0xfeff with tos 0xb8", V4_TCP(), .tos = 0xb8, CHECK(0xfeff),
	 TX(slb1, 1, 1)},
	{"v4 inner checksum 0x0000: 0x0100", V4_TCP(), CHECK(0x0000), TX(slb1, 1, 1)},
	{"v4 inner checksum 0x00ff", V4_TCP(.frag_off = 0x4000), CHECK(0x00ff), TX(slb1, 1, 1)},

	/* VLAN tags of the ingress: removed. */
	{"v4 tcp/80, one vlan tag: removed", V4_TCP(VLAN1), TX(slb1, 1, 1)},
	{"v4 tcp/8080, two vlan tags (802.1ad + 802.1Q): removed", V4_TCP(VLAN2, .dport = 8080),
	 REDIR(slb2, 3, 1)},
	{"v4 udp/53, two 802.1Q tags: removed", V4_UDP(.n_vlans = 2, .vlan_tci = {1, 2}),
	 TX(slb1, 2, 1)},
	{"v6 tcp/443, one vlan tag: removed", V6_TCP(VLAN1), TX(slb3, 4, 2)},
	{"v6 udp, two vlan tags: removed", V6_UDP(VLAN2), TX(slb3, 5, 2)},
	{"v4 udp/53 without payload, two vlan tags, a minimal frame (60 bytes)",
	 V4_UDP(VLAN2, .payload_len = 0, .eth_pad = 10), TX(slb1, 2, 1)},
	{"v4 tcp syn, two vlan tags, unpadded", V4_TCP(VLAN2, .tcp_flags = 0x02, .payload_len = 0),
	 TX(slb1, 1, 1)},
	{"v4 ttl 1, two vlan tags: passed untouched, tags and all", V4_TCP(VLAN2, .ttl = 1),
	 PASS(TTL_EXCEEDED)},
	{"v6 hop limit 1, one vlan tag: passed untouched", V6_UDP(VLAN1, .ttl = 1),
	 PASS(TTL_EXCEEDED)},

	/* IPv4 options: part of the inner datagram, kept; the outer header has none. */
	{"v4 router alert option: kept inside", V4_TCP(OPT_RA), TX(slb1, 1, 1)},
	{"v4 40 bytes of options (IHL 15): kept inside",
	 V4_TCP(.ip_opts = ip_opt_max, .ip_opts_len = sizeof(ip_opt_max), .dport = 8080),
	 REDIR(slb2, 3, 1)},
	{"v4 options, ttl 2, DF and tos: the checksum covers the options",
	 V4_UDP(OPT_RA, .ttl = 2, .frag_off = 0x4000), .tos = 0x48, TX(slb1, 2, 1)},
	{"v4 options, one vlan tag", V4_TCP(VLAN1, OPT_RA), TX(slb1, 1, 1)},

	/*
	 * The egress MTU (slb 5 and 6: vt0's 1500; slb 7: its route's 1400): the
	 * datagram plus the outer header must fit; VLAN tags do not count.
	 */
	{"mtu 1500: v4 udp datagram of 1480 bytes forwarded",
	 V4_UDP(.daddr = VIP4_MTU, .payload_len = 1452), REDIR(slb5, 8, 3)},
	{"mtu 1500: v4 udp datagram of 1481 bytes passed untouched",
	 V4_UDP(.daddr = VIP4_MTU, .payload_len = 1453), PASS(TOO_BIG)},
	{"mtu 1500: v4 tcp datagram of 1480 bytes with DF forwarded",
	 V4_TCP(.daddr = VIP4_MTU, .payload_len = 1440, .frag_off = 0x4000), REDIR(slb5, 7, 3)},
	{"mtu 1500: v4 tcp datagram of 1500 bytes passed untouched",
	 V4_TCP(.daddr = VIP4_MTU, .payload_len = 1460), PASS(TOO_BIG)},
	{"mtu 1500: 1480 bytes with 4 bytes of options forwarded",
	 V4_UDP(.daddr = VIP4_MTU, OPT_RA, .payload_len = 1448), REDIR(slb5, 8, 3)},
	{"mtu 1500: 1481 bytes with 4 bytes of options passed",
	 V4_UDP(.daddr = VIP4_MTU, OPT_RA, .payload_len = 1449), PASS(TOO_BIG)},
	{"mtu 1500: 1480 bytes, two vlan tags: forwarded",
	 V4_UDP(VLAN2, .daddr = VIP4_MTU, .payload_len = 1452), REDIR(slb5, 8, 3)},
	{"mtu 1500: 1481 bytes, one vlan tag: passed untouched",
	 V4_UDP(VLAN1, .daddr = VIP4_MTU, .payload_len = 1453), PASS(TOO_BIG)},
	{"mtu 1500: small v4 udp forwarded", V4_UDP(.daddr = VIP4_MTU), REDIR(slb5, 8, 3)},
	{"mtu 1500: 1481 bytes and ttl 1: the ttl is checked first",
	 V4_UDP(.daddr = VIP4_MTU, .payload_len = 1453, .ttl = 1), PASS(TTL_EXCEEDED)},
	{"mtu 1500: v6 udp datagram of 1460 bytes forwarded",
	 V6_UDP(.daddr = VIP6_MTU, .payload_len = 1412), REDIR(slb6, 10, 4)},
	{"mtu 1500: v6 tcp datagram of 1460 bytes forwarded",
	 V6_TCP(.daddr = VIP6_MTU, .payload_len = 1400), REDIR(slb6, 9, 4)},
	{"mtu 1500: v6 1460 bytes with extension headers, one vlan tag: forwarded",
	 V6_TCP(VLAN1, .daddr = VIP6_MTU, .n_ext = 2, .ext = {EXT(HOP), EXT(DEST, .hdrlen = 2)},
		.payload_len = 1400 - 32),
	 REDIR(slb6, 9, 4)},
	{"route mtu 1400: v4 udp datagram of 1380 bytes forwarded",
	 V4_UDP(.daddr = VIP4_ROUTE_MTU, .payload_len = 1352), REDIR(slb7, 11, 5)},
	{"route mtu 1400: v4 udp datagram of 1381 bytes passed untouched",
	 V4_UDP(.daddr = VIP4_ROUTE_MTU, .payload_len = 1353), PASS(TOO_BIG)},
	{"mtu unknown (0, static next hop): a v4 datagram of 1500 bytes forwarded",
	 V4_UDP(.payload_len = 1472), TX(slb1, 2, 1)},
	{"mtu unknown (0, static next hop): a v6 datagram of 1500 bytes forwarded",
	 V6_UDP(.payload_len = 1452), TX(slb3, 5, 2)},

	/* l2 next to ipip: only the MACs change, whatever the TTL or the size. */
	{"l2 slb: ttl 1 forwarded untouched", V4_TCP(.daddr = VIP4_L2, .ttl = 1), TX(slb8, 12, 6)},
	{"l2 slb: vlan tag kept", V4_TCP(VLAN1, .daddr = VIP4_L2), TX(slb8, 12, 6)},

	/* What ipip does not change: the match. */
	{"v4 tcp/80 to no VIP", V4_TCP(.daddr = "192.0.2.99"), PASS(NO_VIP)},
	{"v4 tcp to a udp-only ipip VIP: no policy",
	 V4_UDP(.daddr = VIP4_ROUTE_MTU, .l4 = IPPROTO_TCP), DROP(NO_POLICY)},
	{"v4 first fragment to an ipip VIP: encapsulated whole", V4_TCP(.frag_off = 0x2000),
	 TX(slb1, 1, 1)},
	{"v4 later fragment to an ipip VIP: follows the first", V4_TCP(.frag_off = 185),
	 TX(slb1, 1, 1)},
};

/* Write the IP header fields the spec cannot express; ttl < 0 leaves the TTL. */
static void ip_edit(struct pkt *p, __u8 tos, __u32 flow, int ttl)
{
	__u8 *ip = p->data + pkt_mark(p, PKT_AT_L3);

	if (ip[0] >> 4 == 4) {
		ip[1] = tos;
		if (ttl >= 0)
			ip[8] = ttl;
		pkt_ip4_csum_fix(p);
		return;
	}
	ip[0] = 0x60 | tos >> 4;
	ip[1] = (tos & 0xf) << 4 | ((flow >> 16) & 0xf);
	ip[2] = (flow >> 8) & 0xff;
	ip[3] = flow & 0xff;
	if (ttl >= 0)
		ip[7] = ttl;
}

static void frame_build(const struct ipip_case *c, const struct pkt_spec *s, struct pkt *ret)
{
	int r = pkt_build(s, ret);

	if (r)
		fail_msg("%s: pkt_build: %s", c->name, strerror(-r));
	ip_edit(ret, c->tos, c->flow, c->ttl0 ? 0 : -1);
}

/* The IPv4 id that makes the inner header checksum c->inner_check. */
static __u16 id_for_check(const struct ipip_case *c)
{
	static struct pkt p;
	__u16 want = c->inner_check & 0xffff;
	__u8 *ip;

	frame_build(c, &c->in, &p);
	ip = p.data + pkt_mark(&p, PKT_AT_L3);
	for (__u32 id = 0; id <= 0xffff; id++) {
		ip[4] = id >> 8;
		ip[5] = id & 0xff;
		pkt_ip4_csum_fix(&p);
		if ((ip[10] << 8 | ip[11]) == want)
			return id;
	}
	fail_msg("%s: no IPv4 id gives the checksum 0x%04x", c->name, want);
	return 0;
}

/*
 * The outer IPv6 flow label, computed as bpf/parse.h specifies it: the xor
 * of the source address's four 32-bit words (IPv4: of source and
 * destination), then of (source port << 16) ^ destination port, all read as
 * raw network-order words in the host's byte order, as the program reads
 * them; its low 20 bits.
 */
static __u32 flow_label_of(const struct pkt *in)
{
	const __u8 *ip = in->data + pkt_mark(in, PKT_AT_L3);
	const __u8 *l4 = in->data + pkt_mark(in, PKT_AT_L4);
	__u32 w, flow = 0;
	__u16 sport, dport;

	if (ip[0] >> 4 == 4) {
		memcpy(&w, ip + 12, 4);
		flow ^= w;
		memcpy(&w, ip + 16, 4);
		flow ^= w;
	} else {
		for (int i = 0; i < 4; i++) {
			memcpy(&w, ip + 8 + 4 * i, 4);
			flow ^= w;
		}
	}
	memcpy(&sport, l4, 2);
	memcpy(&dport, l4 + 2, 2);
	flow ^= ((__u32)sport << 16) ^ dport;
	return flow & 0xfffff;
}

/*
 * The frame a forwarded case must come out as: for l2, the input with the
 * SLB's MACs; for ipip, Ethernet (the SLB's MACs, no VLAN tags), the outer
 * header (underlay -> SLB, TTL 64, id 0, DF and TOS / traffic class of the
 * inner packet, flow label of the flow), the inner datagram with TTL - 1.
 */
static void expect_build(const struct ipip_case *c, struct pkt_spec s, const struct pkt *in,
			 struct pkt *ret)
{
	const struct slb_def *slb = c->slb;
	struct pkt_spec o = {0};
	__u8 *ip;
	int r;

	memcpy(s.dmac, slb->dmac, 6);
	memcpy(s.smac, slb->smac, 6);
	if (slb->forward == VSN_FORWARD_L2) {
		frame_build(c, &s, ret);
		return;
	}
	s.n_vlans = 0;
	s.ttl = (s.ttl ? s.ttl : 64) - 1;
	frame_build(c, &s, ret);

	o.l3 = s.l3;
	o.saddr = s.l3 == AF_INET ? UNDERLAY4 : UNDERLAY6;
	o.daddr = slb->addr;
	o.frag_off = s.frag_off & 0x4000;
	r = pkt_encap(ret, &o);
	if (r)
		fail_msg("%s: pkt_encap: %s", c->name, strerror(-r));
	ip = ret->data + pkt_mark(ret, PKT_AT_L3);
	assert_int_equal(ip[s.l3 == AF_INET ? 8 : 7], 64);
	assert_int_equal(ip[s.l3 == AF_INET ? 9 : 6], s.l3 == AF_INET ? 4 : 41);
	ip_edit(ret, c->tos, s.l3 == AF_INET6 ? flow_label_of(in) : 0, -1);
}

static void case_frames(const struct ipip_case *c, struct pkt *in, struct pkt *want)
{
	struct pkt_spec s = c->in;

	if (c->inner_check & CHECK_SET)
		s.ip_id = id_for_check(c);
	frame_build(c, &s, in);
	if (c->inner_check & CHECK_SET) {
		const __u8 *ip = in->data + pkt_mark(in, PKT_AT_L3);

		assert_int_equal(ip[10] << 8 | ip[11], c->inner_check & 0xffff);
	}
	if (c->slb)
		expect_build(c, s, in, want);
	else
		*want = *in;
}

static void test_cases(void **state)
{
	static struct pkt in, want;
	size_t n = sizeof(cases) / sizeof(cases[0]), failed = 0;

	for (size_t i = 0; i < n; i++) {
		const struct ipip_case *c = &cases[i];
		struct h_expect e = {.action = c->action, .reason = c->reason, .out = &want};

		/* A table typo would make a forwarded case unchecked: refuse it. */
		assert_true(vsn_reason_is_forward(c->reason) == (c->slb != NULL));
		case_frames(c, &in, &want);
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

/* The SLB entries carry the egress MTU: the route's, else the interface's; 0 when static. */
/* The ones' complement sum of len bytes (big-endian words), folded, not inverted. */
static __u32 csum_add(const __u8 *b, size_t len, __u32 sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += b[i] << 8 | b[i + 1];
	if (len & 1)
		sum += b[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

static void put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

/*
 * The too-big reply to in, built here from RFC 792 / 4443 rather than from
 * the forwarder: the MACs swapped, VLAN tags kept, an IPv4 (ICMP 3/4, the
 * MTU in the low 16 bits) or IPv6 (ICMPv6 2/0) packet from the underlay
 * address to the client quoting the first VSN_TOO_BIG_QUOTE bytes of in's
 * IP datagram.
 */
static void too_big_want(const struct pkt *in, __u32 mtu, struct pkt *want)
{
	size_t l3 = pkt_mark(in, PKT_AT_L3);
	const __u8 *oip = in->data + l3;
	int v6 = oip[0] >> 4 == 6;
	size_t hlen = v6 ? 40 : 20, icmp_len = 8 + VSN_TOO_BIG_QUOTE;
	__u8 *ip = want->data + l3, *icmp = ip + hlen, a[16];
	__u32 sum;

	memset(want, 0, sizeof(*want));
	memcpy(want->data, in->data, l3);
	memcpy(want->data, in->data + 6, 6);
	memcpy(want->data + 6, in->data, 6);
	want->len = l3 + hlen + icmp_len;
	if (v6) {
		ip[0] = 0x60;
		put16(ip + 4, icmp_len);
		ip[6] = IPPROTO_ICMPV6;
		ip[7] = 64;
		assert_int_equal(inet_pton(AF_INET6, UNDERLAY6, ip + 8), 1);
		memcpy(ip + 24, oip + 8, 16);
		icmp[0] = 2;
		icmp[4] = mtu >> 24;
		icmp[5] = mtu >> 16;
		icmp[6] = mtu >> 8;
		icmp[7] = mtu;
		memcpy(icmp + 8, oip, VSN_TOO_BIG_QUOTE);
		sum = csum_add(ip + 8, 32, 0);
		memset(a, 0, sizeof(a));
		put16(a + 2, icmp_len);
		a[7] = IPPROTO_ICMPV6;
		sum = csum_add(a, 8, sum);
	} else {
		ip[0] = 0x45;
		put16(ip + 2, hlen + icmp_len);
		ip[8] = 64;
		ip[9] = IPPROTO_ICMP;
		assert_int_equal(inet_pton(AF_INET, UNDERLAY4, ip + 12), 1);
		memcpy(ip + 16, oip + 12, 4);
		put16(ip + 10, ~csum_add(ip, 20, 0) & 0xffff);
		icmp[0] = 3;
		icmp[1] = 4;
		put16(icmp + 6, mtu);
		memcpy(icmp + 8, oip, VSN_TOO_BIG_QUOTE);
		sum = 0;
	}
	sum = csum_add(icmp, icmp_len, sum);
	put16(icmp + 2, ~sum & 0xffff);
}

/* A frame too big for the ipip path gets a fragmentation-needed / packet-too-big reply. */
static void test_too_big_reply(void **state)
{
	static const struct {
		const char *name;
		struct pkt_spec in;
		__u32 mtu;
	} cases[] = {
		{"v4 tcp of 1481 bytes with DF",
		 V4_TCP(.daddr = VIP4_MTU, .payload_len = 1441, .frag_off = 0x4000), 1480},
		{"v4 udp of 1500 bytes with DF, one vlan tag",
		 V4_UDP(VLAN1, .daddr = VIP4_MTU, .payload_len = 1472, .frag_off = 0x4000), 1480},
		{"v4 udp of 1381 bytes with DF, route mtu 1400",
		 V4_UDP(.daddr = VIP4_ROUTE_MTU, .payload_len = 1353, .frag_off = 0x4000), 1380},
		{"v6 udp of 1461 bytes", V6_UDP(.daddr = VIP6_MTU, .payload_len = 1413), 1460},
		{"v6 tcp of 1461 bytes", V6_TCP(.daddr = VIP6_MTU, .payload_len = 1401), 1460},
		{"v6 tcp of 1461 bytes with extension headers",
		 V6_TCP(.daddr = VIP6_MTU, .n_ext = 2, .ext = {EXT(HOP), EXT(DEST, .hdrlen = 2)},
			.payload_len = 1401 - 32),
		 1460},
	};
	static struct pkt in, want;
	struct h_counters before, after;
	__u64 replied, dropped;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct h_expect e = {.action = XDP_TX, .reason = VSN_REPLY_TOO_BIG, .out = &want};

		assert_int_equal(pkt_build(&cases[i].in, &in), 0);
		too_big_want(&in, cases[i].mtu, &want);
		/* A second apart: each case has the whole rate bound to itself. */
		if (i)
			usleep(1001000);
		h_check(&env, cases[i].name, &in, &e);
	}

	/* The rate bound: at most VSN_TOO_BIG_PER_CPU replies a second, then drops. */
	assert_int_equal(pkt_build(&cases[3].in, &in), 0);
	assert_int_equal(h_counters_read(&env, &before), 0);
	for (int i = 0; i < VSN_TOO_BIG_PER_CPU + 20; i++) {
		struct pkt out;
		__u32 action;

		assert_int_equal(h_run(&env, &in, &out, &action), 0);
	}
	assert_int_equal(h_counters_read(&env, &after), 0);
	replied =
		after.reason[VSN_REPLY_TOO_BIG].packets - before.reason[VSN_REPLY_TOO_BIG].packets;
	dropped = after.reason[VSN_DROP_TOO_BIG].packets - before.reason[VSN_DROP_TOO_BIG].packets;
	print_message("[          ] %d too-big frames at once: %llu replies, %llu dropped\n",
		      VSN_TOO_BIG_PER_CPU + 20, (unsigned long long)replied,
		      (unsigned long long)dropped);
	assert_true(replied <= VSN_TOO_BIG_PER_CPU);
	assert_true(dropped >= 20);
	assert_int_equal(replied + dropped, VSN_TOO_BIG_PER_CPU + 20);
}

static void test_slb_mtu(void **state)
{
	static const struct {
		const struct slb_def *slb;
		__u32 mtu;
	} want[] = {{&slb1, 0},	   {&slb2, 0},	  {&slb3, 0},
		    {&slb5, 1500}, {&slb6, 1500}, {&slb7, 1400}};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct vsn_slb e;

		assert_int_equal(vsn_dp_slb_get(env.dp, want[i].slb->id, &e), 0);
		assert_true(e.flags & VSN_SLB_RESOLVED);
		assert_int_equal(e.forward, VSN_FORWARD_IPIP);
		assert_int_equal(e.mtu, want[i].mtu);
		assert_memory_equal(e.dmac, want[i].slb->dmac, 6);
		assert_memory_equal(e.smac, want[i].slb->smac, 6);
		assert_int_equal(e.ifindex, if_nametoindex(want[i].slb->ifname));
	}
}

static int underlay_set(const char *v4, const char *v6)
{
	struct vsn_addr a4 = {0}, a6 = {0};

	if ((v4 && vsn_addr_parse(v4, &a4)) || (v6 && vsn_addr_parse(v6, &a6)))
		return -EINVAL;
	return vsn_dp_underlay_set(env.dp, &a4, &a6);
}

/* Run the table's case called name, expecting the given verdict instead of its own. */
static void expect_case(const char *name, __u32 action, enum vsn_reason reason, const char *label)
{
	static struct pkt in, want;
	const struct ipip_case *c = NULL;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (!strcmp(cases[i].name, name))
			c = &cases[i];
	assert_non_null(c);
	case_frames(c, &in, &want);
	h_check(&env, label, &in,
		&(struct h_expect){.action = action,
				   .reason = reason,
				   .out = vsn_reason_is_forward(reason) ? &want : &in,
				   .policy_id = c->policy_id,
				   .service_id = c->service_id,
				   .slb_id = c->slb ? c->slb->id : 0});
}

#define CASE_V4 "v4 tcp/80 -> slb 1 on lo: 4-in-4, XDP_TX"
#define CASE_V6 "v6 tcp/443 -> slb 3 on lo: 6-in-6, XDP_TX"

/* Without an underlay address of its family, an ipip packet is dropped, untouched. */
static void test_no_underlay(void **state)
{
	struct vsn_addr a4, a6;

	assert_int_equal(underlay_set(UNDERLAY4, NULL), 0);
	expect_case(CASE_V4, XDP_TX, VSN_FWD_TX, "v4 with only an IPv4 underlay: forwarded");
	expect_case(CASE_V6, XDP_DROP, VSN_DROP_NO_UNDERLAY,
		    "v6 with only an IPv4 underlay: dropped");
	expect_case("v6 hop limit 1: passed untouched", XDP_DROP, VSN_DROP_NO_UNDERLAY,
		    "v6 hop limit 1 without an IPv6 underlay: dropped");
	expect_case("l2 slb: ttl 1 forwarded untouched", XDP_TX, VSN_FWD_TX,
		    "l2 needs no underlay");

	assert_int_equal(underlay_set(NULL, UNDERLAY6), 0);
	expect_case(CASE_V4, XDP_DROP, VSN_DROP_NO_UNDERLAY,
		    "v4 with only an IPv6 underlay: dropped");
	expect_case(CASE_V6, XDP_TX, VSN_FWD_TX, "v6 with only an IPv6 underlay: forwarded");

	assert_int_equal(underlay_set(NULL, NULL), 0);
	assert_int_equal(vsn_dp_underlay_get(env.dp, &a4, &a6), 0);
	assert_int_equal(a4.family, 0);
	assert_int_equal(a6.family, 0);
	expect_case(CASE_V4, XDP_DROP, VSN_DROP_NO_UNDERLAY, "v4 without underlay: dropped");
	expect_case(CASE_V6, XDP_DROP, VSN_DROP_NO_UNDERLAY, "v6 without underlay: dropped");
	expect_case("mtu 1500: v4 udp datagram of 1481 bytes passed untouched", XDP_DROP,
		    VSN_DROP_NO_UNDERLAY, "too big without underlay: dropped");

	assert_int_equal(underlay_set(UNDERLAY4, UNDERLAY6), 0);
	expect_case(CASE_V4, XDP_TX, VSN_FWD_TX, "v4 with the underlay back");
	expect_case(CASE_V6, XDP_TX, VSN_FWD_TX, "v6 with the underlay back");
}

static void test_slb_state(void **state)
{
	assert_int_equal(vsn_dp_slb_set_state(env.dp, slb1.id, VSN_SLB_DOWN), 0);
	expect_case(CASE_V4, XDP_DROP, VSN_DROP_SLB_DOWN, "ipip slb 1 down: dropped");
	assert_int_equal(vsn_dp_slb_set_state(env.dp, slb1.id, VSN_SLB_DRAIN), 0);
	expect_case(CASE_V4, XDP_TX, VSN_FWD_TX, "ipip slb 1 drain: forwarded");
	assert_int_equal(vsn_dp_slb_set_state(env.dp, slb1.id, VSN_SLB_UP), 0);
	expect_case(CASE_V4, XDP_TX, VSN_FWD_TX, "ipip slb 1 up again");
}

/* A packet that is IP-in-IP already, to a VIP: not TCP/UDP, passed (never wrapped twice). */
static void test_encapsulated_input(void **state)
{
	static struct pkt in;
	struct pkt_spec s = V4_TCP(), o = {.l3 = AF_INET, .saddr = CLIENT4, .daddr = VIP4};
	struct pkt_spec s6 = V6_TCP(), o6 = {.l3 = AF_INET6, .saddr = CLIENT6, .daddr = VIP6};

	assert_int_equal(pkt_build(&s, &in), 0);
	assert_int_equal(pkt_encap(&in, &o), 0);
	h_check(&env, "4-in-4 to an ipip VIP", &in,
		&(struct h_expect){.action = XDP_PASS, .reason = VSN_PASS_NOT_TCP_UDP, .out = &in});
	assert_int_equal(pkt_build(&s6, &in), 0);
	assert_int_equal(pkt_encap(&in, &o6), 0);
	h_check(&env, "6-in-6 to an ipip VIP", &in,
		&(struct h_expect){.action = XDP_PASS, .reason = VSN_PASS_NOT_TCP_UDP, .out = &in});
}

/* The running set, described as the policies of setup() build it. */
static const struct {
	const char *vip;
	__u8 proto;
	__u16 port;
	__u32 slb, service, policy;
} set1[] = {
	{VIP4, IPPROTO_TCP, 80, 1, 1, 1},
	{VIP4, IPPROTO_UDP, 53, 1, 1, 2},
	{VIP4, IPPROTO_TCP, 0, 2, 1, 3},
	{VIP6, IPPROTO_TCP, 443, 3, 2, 4},
	{VIP6, IPPROTO_UDP, 0, 3, 2, 5},
	{VIP6, IPPROTO_TCP, 0, 4, 2, 6},
	{VIP4_MTU, IPPROTO_TCP, 0, 5, 3, 7},
	{VIP4_MTU, IPPROTO_UDP, 0, 5, 3, 8},
	{VIP6_MTU, IPPROTO_TCP, 0, 6, 4, 9},
	{VIP6_MTU, IPPROTO_UDP, 0, 6, 4, 10},
	{VIP4_ROUTE_MTU, IPPROTO_UDP, 0, 7, 5, 11},
	{VIP4_L2, IPPROTO_TCP, 80, 8, 6, 12},
};

#define N_SET1 (sizeof(set1) / sizeof(set1[0]))

static void policy_make(struct vsn_dp_policy *p, const char *vip, __u8 proto, __u16 port, __u32 slb,
			__u32 service, __u32 policy)
{
	assert_int_equal(vsn_addr_parse(vip, &p->vip), 0);
	p->proto = proto;
	p->port = port;
	p->slb_id = slb;
	p->service_id = service;
	p->policy_id = policy;
}

static int count_policy(const struct vsn_dp_policy *p, void *arg)
{
	(*(size_t *)arg)++;
	return 0;
}

/* A refused set: -EAFNOSUPPORT, ret_bad naming the policy, and nothing changed. */
static void expect_refused(const struct vsn_dp_set *set, size_t want_bad, const char *what)
{
	struct vsn_meta before, after;
	size_t bad = 999, n = 0;

	assert_int_equal(vsn_dp_meta(env.dp, &before), 0);
	assert_int_equal(vsn_dp_set_validate(env.dp, set, &bad), -EAFNOSUPPORT);
	if (bad != want_bad)
		fail_msg("%s: validate named entry %zu, expected %zu", what, bad, want_bad);
	bad = 999;
	assert_int_equal(vsn_dp_set_apply(env.dp, set, &bad), -EAFNOSUPPORT);
	if (bad != want_bad)
		fail_msg("%s: apply named entry %zu, expected %zu", what, bad, want_bad);
	assert_int_equal(vsn_dp_meta(env.dp, &after), 0);
	assert_int_equal(after.generation, before.generation);
	assert_int_equal(after.n_policies, N_SET1);
	assert_int_equal(vsn_dp_policies_foreach(env.dp, count_policy, &n), 0);
	assert_int_equal(n, N_SET1);
	expect_case(CASE_V4, XDP_TX, VSN_FWD_TX, "the running set still forwards v4");
	expect_case(CASE_V6, XDP_TX, VSN_FWD_TX, "the running set still forwards v6");
}

/* ipip carries IPv4 in IPv4 and IPv6 in IPv6: a VIP of the other family is refused. */
static void test_apply_family_mismatch(void **state)
{
	struct vsn_dp_policy p[3] = {0};
	struct vsn_dp_slb s9 = {.id = 9,
				.forward = VSN_FORWARD_IPIP,
				.state = VSN_SLB_UP,
				.nexthop_static = true,
				.ifindex = env.lo_ifindex};
	struct vsn_meta m;
	struct vsn_dp_set set = {.n_policies = 3, .policies = p};
	struct vsn_slb e;
	size_t bad = 999;

	assert_int_equal(vsn_dp_meta(env.dp, &m), 0);
	set.generation = m.generation + 1;

	/* A v4 VIP to the IPv6 ipip slb 3, third in the set. */
	policy_make(&p[0], VIP4, IPPROTO_TCP, 80, 1, 1, 1);
	policy_make(&p[1], VIP6, IPPROTO_TCP, 443, 3, 2, 4);
	policy_make(&p[2], "192.0.2.99", IPPROTO_TCP, 80, 3, 2, 13);
	expect_refused(&set, 2, "v4 VIP -> v6 ipip slb");

	/* A v6 VIP to the IPv4 ipip slb 2, first in the set. */
	policy_make(&p[0], "2001:db8::99", IPPROTO_UDP, 0, 2, 1, 13);
	policy_make(&p[2], VIP4, IPPROTO_UDP, 53, 1, 1, 2);
	expect_refused(&set, 0, "v6 VIP -> v4 ipip slb");

	/* The set's own new slb 9 (IPv6, ipip) and a v4 VIP using it: slb 9 is not written. */
	assert_int_equal(vsn_addr_parse("2001:db8:1::9", &s9.addr), 0);
	set.n_slbs = 1;
	set.slbs = &s9;
	policy_make(&p[0], VIP4, IPPROTO_TCP, 80, 1, 1, 1);
	policy_make(&p[1], "192.0.2.99", IPPROTO_TCP, 80, 9, 1, 13);
	expect_refused(&set, 1, "v4 VIP -> the set's v6 ipip slb 9");
	assert_int_equal(vsn_dp_slb_get(env.dp, 9, &e), -ENOENT);

	/* The same SLB by l2 takes either family: only ipip is bound to one. */
	s9.forward = VSN_FORWARD_L2;
	assert_int_equal(vsn_dp_set_validate(env.dp, &set, &bad), 0);
	assert_int_equal(bad, 999);
}

static int slb_define(const struct slb_def *d)
{
	struct vsn_dp_slb s = {
		.id = d->id,
		.forward = d->forward,
		.state = VSN_SLB_UP,
		.nexthop_static = !d->resolved,
	};
	int r;

	r = vsn_addr_parse(d->addr, &s.addr);
	if (r)
		return r;
	if (!d->resolved) {
		s.ifindex = if_nametoindex(d->ifname);
		memcpy(s.dmac, d->dmac, 6);
		memcpy(s.smac, d->smac, 6);
	}
	return vsn_dp_slb_set(env.dp, &s);
}

static int setup(void **state)
{
	struct vsn_dp_policy pol[N_SET1] = {0};
	struct vsn_dp_set set = {.generation = 1, .n_policies = N_SET1, .policies = pol};
	size_t bad = 0;
	int r;

	r = h_open(&env);
	if (r) {
		fprintf(stderr, "setup: h_open: %s\n", strerror(-r));
		return -1;
	}
	if (system(netns_setup)) {
		fprintf(stderr, "setup: cannot set up vt0's addresses, route and neighbours\n");
		goto fail;
	}
	for (size_t i = 0; i < sizeof(slbs) / sizeof(slbs[0]); i++) {
		r = slb_define(slbs[i]);
		if (r) {
			fprintf(stderr, "setup: slb %u: %s\n", slbs[i]->id, strerror(-r));
			goto fail;
		}
	}
	r = underlay_set(UNDERLAY4, UNDERLAY6);
	if (r) {
		fprintf(stderr, "setup: underlay: %s\n", strerror(-r));
		goto fail;
	}
	for (size_t i = 0; i < N_SET1; i++) {
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
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_slb_mtu),
		cmocka_unit_test(test_too_big_reply),
		cmocka_unit_test(test_no_underlay),
		cmocka_unit_test(test_slb_state),
		cmocka_unit_test(test_encapsulated_input),
		cmocka_unit_test(test_apply_family_mismatch),
	};
	int r;

	r = h_init();
	if (r)
		return r;
	return cmocka_run_group_tests(tests, setup, teardown);
}
