/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Packet tests of ipip forwarding (bpf/encap.h): one frame in, the verdict,
 * the whole frame out and the counters checked, through BPF_PROG_TEST_RUN
 * (ingress lo). Every expected frame is built from the case's spec,
 * independently of the forwarder (encap_cases.h).
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

#include "encap_cases.h"

/* The table overrides fields of a base spec with designated initializers. */
#pragma clang diagnostic ignored "-Winitializer-overrides"

#define VIP4_L2 "192.0.2.70"

static const struct slb_def slb1 = SLB_STATIC(1, "10.1.0.1", VSN_FORWARD_IPIP, "lo");
static const struct slb_def slb2 = SLB_STATIC(2, "10.1.0.2", VSN_FORWARD_IPIP, "vt0");
static const struct slb_def slb3 = SLB_STATIC(3, "2001:db8:1::1", VSN_FORWARD_IPIP, "lo");
static const struct slb_def slb4 = SLB_STATIC(4, "2001:db8:1::2", VSN_FORWARD_IPIP, "vt0");
static const struct slb_def slb5 = SLB_RESOLVED(5, "10.9.0.1", VSN_FORWARD_IPIP);
static const struct slb_def slb6 = SLB_RESOLVED(6, "2001:db8:9::1", VSN_FORWARD_IPIP);
static const struct slb_def slb7 = SLB_RESOLVED(7, "10.9.1.1", VSN_FORWARD_IPIP);
static const struct slb_def slb8 = SLB_STATIC(8, "10.1.0.8", VSN_FORWARD_L2, "lo");

static const struct slb_def *const slbs[] = {&slb1, &slb2, &slb3, &slb4,
					     &slb5, &slb6, &slb7, &slb8};

static const struct enc_case cases[] = {
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

#define N_CASES (sizeof(cases) / sizeof(cases[0]))

static void test_cases(void **state)
{
	enc_run_cases(cases, N_CASES);
}

/* The SLB entries carry the egress MTU: the route's, else the interface's; 0 when static. */
/* A frame too big for the ipip path gets a fragmentation-needed / packet-too-big reply. */
static void test_too_big_reply(void **state)
{
	static const struct enc_too_big_case cases[] = {
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
	static struct pkt in;
	struct h_counters before, after;
	__u64 replied, dropped;

	enc_run_too_big(cases, sizeof(cases) / sizeof(cases[0]));

	/* The rate bound: at most VSN_TOO_BIG_PER_CPU replies a second, then drops. */
	assert_int_equal(pkt_build(&cases[3].in, &in), 0);
	assert_int_equal(h_counters_read(&enc_env, &before), 0);
	for (int i = 0; i < VSN_TOO_BIG_PER_CPU + 20; i++) {
		struct pkt out;
		__u32 action;

		assert_int_equal(h_run(&enc_env, &in, &out, &action), 0);
	}
	assert_int_equal(h_counters_read(&enc_env, &after), 0);
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

		assert_int_equal(vsn_dp_slb_get(enc_env.dp, want[i].slb->id, &e), 0);
		assert_true(e.flags & VSN_SLB_RESOLVED);
		assert_int_equal(e.forward, VSN_FORWARD_IPIP);
		assert_int_equal(e.mtu, want[i].mtu);
		assert_memory_equal(e.dmac, want[i].slb->dmac, 6);
		assert_memory_equal(e.smac, want[i].slb->smac, 6);
		assert_int_equal(e.ifindex, if_nametoindex(want[i].slb->ifname));
	}
}

#define CASE_V4 "v4 tcp/80 -> slb 1 on lo: 4-in-4, XDP_TX"
#define CASE_V6 "v6 tcp/443 -> slb 3 on lo: 6-in-6, XDP_TX"

/* Without an underlay address of its family, an ipip packet is dropped, untouched. */
static void test_no_underlay(void **state)
{
	struct vsn_addr a4, a6;

	assert_int_equal(enc_underlay_set(UNDERLAY4, NULL), 0);
	enc_expect_case(CASE_V4, XDP_TX, VSN_FWD_TX, "v4 with only an IPv4 underlay: forwarded");
	enc_expect_case(CASE_V6, XDP_DROP, VSN_DROP_NO_UNDERLAY,
			"v6 with only an IPv4 underlay: dropped");
	enc_expect_case("v6 hop limit 1: passed untouched", XDP_DROP, VSN_DROP_NO_UNDERLAY,
			"v6 hop limit 1 without an IPv6 underlay: dropped");
	enc_expect_case("l2 slb: ttl 1 forwarded untouched", XDP_TX, VSN_FWD_TX,
			"l2 needs no underlay");

	assert_int_equal(enc_underlay_set(NULL, UNDERLAY6), 0);
	enc_expect_case(CASE_V4, XDP_DROP, VSN_DROP_NO_UNDERLAY,
			"v4 with only an IPv6 underlay: dropped");
	enc_expect_case(CASE_V6, XDP_TX, VSN_FWD_TX, "v6 with only an IPv6 underlay: forwarded");

	assert_int_equal(enc_underlay_set(NULL, NULL), 0);
	assert_int_equal(vsn_dp_underlay_get(enc_env.dp, &a4, &a6), 0);
	assert_int_equal(a4.family, 0);
	assert_int_equal(a6.family, 0);
	enc_expect_case(CASE_V4, XDP_DROP, VSN_DROP_NO_UNDERLAY, "v4 without underlay: dropped");
	enc_expect_case(CASE_V6, XDP_DROP, VSN_DROP_NO_UNDERLAY, "v6 without underlay: dropped");
	enc_expect_case("mtu 1500: v4 udp datagram of 1481 bytes passed untouched", XDP_DROP,
			VSN_DROP_NO_UNDERLAY, "too big without underlay: dropped");

	assert_int_equal(enc_underlay_set(UNDERLAY4, UNDERLAY6), 0);
	enc_expect_case(CASE_V4, XDP_TX, VSN_FWD_TX, "v4 with the underlay back");
	enc_expect_case(CASE_V6, XDP_TX, VSN_FWD_TX, "v6 with the underlay back");
}

static void test_slb_state(void **state)
{
	assert_int_equal(vsn_dp_slb_set_state(enc_env.dp, slb1.id, VSN_SLB_DOWN), 0);
	enc_expect_case(CASE_V4, XDP_DROP, VSN_DROP_SLB_DOWN, "ipip slb 1 down: dropped");
	assert_int_equal(vsn_dp_slb_set_state(enc_env.dp, slb1.id, VSN_SLB_DRAIN), 0);
	enc_expect_case(CASE_V4, XDP_TX, VSN_FWD_TX, "ipip slb 1 drain: forwarded");
	assert_int_equal(vsn_dp_slb_set_state(enc_env.dp, slb1.id, VSN_SLB_UP), 0);
	enc_expect_case(CASE_V4, XDP_TX, VSN_FWD_TX, "ipip slb 1 up again");
}

/* A packet that is IP-in-IP already, to a VIP: not TCP/UDP, passed (never wrapped twice). */
static void test_encapsulated_input(void **state)
{
	static struct pkt in;
	struct pkt_spec s = V4_TCP(), o = {.l3 = AF_INET, .saddr = CLIENT4, .daddr = VIP4};
	struct pkt_spec s6 = V6_TCP(), o6 = {.l3 = AF_INET6, .saddr = CLIENT6, .daddr = VIP6};

	assert_int_equal(pkt_build(&s, &in), 0);
	assert_int_equal(pkt_encap(&in, &o), 0);
	h_check(&enc_env, "4-in-4 to an ipip VIP", &in,
		&(struct h_expect){.action = XDP_PASS, .reason = VSN_PASS_NOT_TCP_UDP, .out = &in});
	assert_int_equal(pkt_build(&s6, &in), 0);
	assert_int_equal(pkt_encap(&in, &o6), 0);
	h_check(&enc_env, "6-in-6 to an ipip VIP", &in,
		&(struct h_expect){.action = XDP_PASS, .reason = VSN_PASS_NOT_TCP_UDP, .out = &in});
}

/* The running set, described as the policies of setup() build it. */
static const struct enc_policy set1[] = {
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

	assert_int_equal(vsn_dp_meta(enc_env.dp, &before), 0);
	assert_int_equal(vsn_dp_set_validate(enc_env.dp, set, &bad), -EAFNOSUPPORT);
	if (bad != want_bad)
		fail_msg("%s: validate named entry %zu, expected %zu", what, bad, want_bad);
	bad = 999;
	assert_int_equal(vsn_dp_set_apply(enc_env.dp, set, &bad), -EAFNOSUPPORT);
	if (bad != want_bad)
		fail_msg("%s: apply named entry %zu, expected %zu", what, bad, want_bad);
	assert_int_equal(vsn_dp_meta(enc_env.dp, &after), 0);
	assert_int_equal(after.generation, before.generation);
	assert_int_equal(after.n_policies, N_SET1);
	assert_int_equal(vsn_dp_policies_foreach(enc_env.dp, count_policy, &n), 0);
	assert_int_equal(n, N_SET1);
	enc_expect_case(CASE_V4, XDP_TX, VSN_FWD_TX, "the running set still forwards v4");
	enc_expect_case(CASE_V6, XDP_TX, VSN_FWD_TX, "the running set still forwards v6");
}

/* ipip carries IPv4 in IPv4 and IPv6 in IPv6: a VIP of the other family is refused. */
static void test_apply_family_mismatch(void **state)
{
	struct vsn_dp_policy p[3] = {0};
	struct vsn_dp_slb s9 = {.id = 9,
				.forward = VSN_FORWARD_IPIP,
				.state = VSN_SLB_UP,
				.nexthop_static = true,
				.ifindex = enc_env.lo_ifindex};
	struct vsn_meta m;
	struct vsn_dp_set set = {.n_policies = 3, .policies = p};
	struct vsn_slb e;
	size_t bad = 999;

	assert_int_equal(vsn_dp_meta(enc_env.dp, &m), 0);
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
	assert_int_equal(vsn_dp_slb_get(enc_env.dp, 9, &e), -ENOENT);

	/* The same SLB by l2 takes either family: only ipip is bound to one. */
	s9.forward = VSN_FORWARD_L2;
	assert_int_equal(vsn_dp_set_validate(enc_env.dp, &set, &bad), 0);
	assert_int_equal(bad, 999);
}

static int setup(void **state)
{
	return enc_setup(slbs, sizeof(slbs) / sizeof(slbs[0]), set1, N_SET1, cases, N_CASES);
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
	return cmocka_run_group_tests(tests, setup, enc_teardown);
}
