/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Packet tests of gue forwarding (bpf/encap.h): one frame in, the verdict,
 * the whole frame out and the counters checked, through BPF_PROG_TEST_RUN
 * (ingress lo). Every expected frame is built from the case's spec,
 * independently of the forwarder (encap_cases.h): its UDP source port from
 * the flow hash, its IPv6 UDP checksum computed over the whole datagram in
 * C; every forwarded IPv6 frame's checksum is also verified on its own.
 *
 *   underlay 100.64.0.1, fd00:64::1 (the outer source); gue port 6080
 *
 *   SLB  address        forward  next hop                          egress  mtu
 *   1    10.2.0.1       gue      static                            lo      0 (unknown)
 *   2    10.2.0.2       gue      static                            vt0     0
 *   3    2001:db8:2::1  gue      static                            lo      0
 *   4    10.9.0.1       gue      resolved, on-link on vt0          vt0     1500 (vt0's)
 *   5    2001:db8:9::1  gue      resolved, on-link on vt0          vt0     1500 (vt0's)
 *   6    10.9.1.1       gue      resolved, a route with mtu 1400   vt0     1400 (the route's)
 *
 *   policy  VIP            proto port  SLB  service
 *   1       192.0.2.10     tcp   any   1    1
 *   2       192.0.2.10     udp   any   1    1
 *   3       192.0.2.20     tcp   any   2    1
 *   4       2001:db8::10   tcp   any   3    2
 *   5       2001:db8::10   udp   any   3    2
 *   6       192.0.2.50     udp   any   4    3
 *   7       2001:db8::50   udp   any   5    4
 *   8       2001:db8::50   tcp   any   5    4
 *   9       192.0.2.60     udp   any   6    5
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <netinet/in.h>
#include <linux/bpf.h>
#include <cmocka.h>

#include "encap_cases.h"

/* The table overrides fields of a base spec with designated initializers. */
#pragma clang diagnostic ignored "-Winitializer-overrides"

#define VIP4_VT0 "192.0.2.20"

static const struct slb_def slb1 = SLB_STATIC(1, "10.2.0.1", VSN_FORWARD_GUE, "lo");
static const struct slb_def slb2 = SLB_STATIC(2, "10.2.0.2", VSN_FORWARD_GUE, "vt0");
static const struct slb_def slb3 = SLB_STATIC(3, "2001:db8:2::1", VSN_FORWARD_GUE, "lo");
static const struct slb_def slb4 = SLB_RESOLVED(4, "10.9.0.1", VSN_FORWARD_GUE);
static const struct slb_def slb5 = SLB_RESOLVED(5, "2001:db8:9::1", VSN_FORWARD_GUE);
static const struct slb_def slb6 = SLB_RESOLVED(6, "10.9.1.1", VSN_FORWARD_GUE);

static const struct slb_def *const slbs[] = {&slb1, &slb2, &slb3, &slb4, &slb5, &slb6};

static const struct enc_policy set1[] = {
	{VIP4, IPPROTO_TCP, 0, 1, 1, 1},	   {VIP4, IPPROTO_UDP, 0, 1, 1, 2},
	{VIP4_VT0, IPPROTO_TCP, 0, 2, 1, 3},	   {VIP6, IPPROTO_TCP, 0, 3, 2, 4},
	{VIP6, IPPROTO_UDP, 0, 3, 2, 5},	   {VIP4_MTU, IPPROTO_UDP, 0, 4, 3, 6},
	{VIP6_MTU, IPPROTO_UDP, 0, 5, 4, 7},	   {VIP6_MTU, IPPROTO_TCP, 0, 5, 4, 8},
	{VIP4_ROUTE_MTU, IPPROTO_UDP, 0, 6, 5, 9},
};

#define N_SET1 (sizeof(set1) / sizeof(set1[0]))

/*
 * IPv6 UDP of n bytes of UDP datagram once encapsulated: 12 of UDP and GUE,
 * 40 of inner IPv6 header, 8 of inner UDP header, then the payload.
 */
#define V6_ULEN(n) V6_UDP(.payload_len = (n)-12 - 40 - 8)

static const struct enc_case cases[] = {
	/* IPv4 in IPv4/UDP/GUE: no UDP checksum. */
	{"v4 tcp -> slb 1 on lo: XDP_TX", V4_TCP(), TX(slb1, 1, 1)},
	{"v4 tcp with DF: DF copied", V4_TCP(.frag_off = 0x4000), TX(slb1, 1, 1)},
	{"v4 tcp tos 0xb8 (EF): tos copied", V4_TCP(), .tos = 0xb8, TX(slb1, 1, 1)},
	{"v4 tcp DF and tos 0x03 (ECN CE)", V4_TCP(.frag_off = 0x4000), .tos = 0x03,
	 TX(slb1, 1, 1)},
	{"v4 tcp with an ip id: the outer id is 0", V4_TCP(.ip_id = 0x1234), TX(slb1, 1, 1)},
	{"v4 tcp syn without payload", V4_TCP(.tcp_flags = 0x02, .payload_len = 0), TX(slb1, 1, 1)},
	{"v4 tcp from port 1: another source port", V4_TCP(.sport = 1), TX(slb1, 1, 1)},
	{"v4 tcp from port 65535", V4_TCP(.sport = 65535), TX(slb1, 1, 1)},
	{"v4 tcp from another client", V4_TCP(.saddr = "203.0.113.77"), TX(slb1, 1, 1)},
	{"v4 tcp to port 8080", V4_TCP(.dport = 8080), TX(slb1, 1, 1)},
	{"v4 udp", V4_UDP(), TX(slb1, 2, 1)},
	{"v4 udp without payload", V4_UDP(.payload_len = 0), TX(slb1, 2, 1)},
	{"v4 udp with 11 bytes", V4_UDP(.payload_len = 11), TX(slb1, 2, 1)},
	{"v4 udp with 2 bytes, padded to 60: the padding follows the inner datagram",
	 V4_UDP(.payload_len = 2, .eth_pad = 16), TX(slb1, 2, 1)},
	{"v4 tcp -> slb 2 on vt0: XDP_REDIRECT", V4_TCP(.daddr = VIP4_VT0), REDIR(slb2, 3, 1)},
	{"v4 tcp, one vlan tag: removed", V4_TCP(VLAN1), TX(slb1, 1, 1)},
	{"v4 tcp, two vlan tags: removed", V4_TCP(VLAN2, .daddr = VIP4_VT0), REDIR(slb2, 3, 1)},
	{"v4 router alert option: kept inside", V4_TCP(OPT_RA), TX(slb1, 1, 1)},
	{"v4 40 bytes of options: kept inside",
	 V4_UDP(.ip_opts = ip_opt_max, .ip_opts_len = sizeof(ip_opt_max)), TX(slb1, 2, 1)},
	{"v4 inner checksum 0xfeff: 0x0000 after ttl - 1", V4_TCP(), CHECK(0xfeff), TX(slb1, 1, 1)},
	{"v4 inner checksum 0xff00: the carry wraps around", V4_TCP(), CHECK(0xff00),
	 TX(slb1, 1, 1)},

	/* IPv6 in IPv6/UDP/GUE: the UDP checksum over the whole datagram. */
	{"v6 tcp -> slb 3 on lo: XDP_TX", V6_TCP(), TX(slb3, 4, 2)},
	{"v6 tcp traffic class 0xb8: copied", V6_TCP(), .tos = 0xb8, TX(slb3, 4, 2)},
	{"v6 tcp with an inner flow label: the outer one is the flow's", V6_TCP(), .flow = 0xabcde,
	 .tos = 0x28, TX(slb3, 4, 2)},
	{"v6 tcp from port 1234", V6_TCP(.sport = 1234), TX(slb3, 4, 2)},
	{"v6 tcp from another client", V6_TCP(.saddr = "2001:db8:c:ffff:1234:5678:9abc:def0"),
	 TX(slb3, 4, 2)},
	{"v6 tcp syn without payload", V6_TCP(.tcp_flags = 0x02, .payload_len = 0), TX(slb3, 4, 2)},
	{"v6 udp", V6_UDP(), TX(slb3, 5, 2)},
	{"v6 udp with 24 bytes of padding", V6_UDP(.eth_pad = 24), TX(slb3, 5, 2)},
	{"v6 hop-by-hop + destination options: kept inside",
	 V6_TCP(.n_ext = 2, .ext = {EXT(HOP), EXT(DEST, .hdrlen = 2)}), TX(slb3, 4, 2)},
	{"v6 tcp, one vlan tag: removed", V6_TCP(VLAN1), TX(slb3, 4, 2)},
	{"v6 udp, two vlan tags: removed", V6_UDP(VLAN2), TX(slb3, 5, 2)},

	/*
	 * The checksum's pieces: UDP lengths around and across the 512-byte
	 * chunks, every bit of the rest from 256 down, and 0-3 last bytes.
	 */
	{"v6 checksum: udp length 60 (no payload)", V6_ULEN(60), TX(slb3, 5, 2)},
	{"v6 checksum: udp length 61", V6_ULEN(61), TX(slb3, 5, 2)},
	{"v6 checksum: udp length 62", V6_ULEN(62), TX(slb3, 5, 2)},
	{"v6 checksum: udp length 63", V6_ULEN(63), TX(slb3, 5, 2)},
	{"v6 checksum: udp length 64", V6_ULEN(64), TX(slb3, 5, 2)},
	{"v6 checksum: udp length 239: the length's low byte and 17 carry", V6_ULEN(239),
	 TX(slb3, 5, 2)},
	{"v6 checksum: udp length 511 (every bit below 512)", V6_ULEN(511), TX(slb3, 5, 2)},
	{"v6 checksum: udp length 512 (one chunk)", V6_ULEN(512), TX(slb3, 5, 2)},
	{"v6 checksum: udp length 513", V6_ULEN(513), TX(slb3, 5, 2)},
	{"v6 checksum: udp length 1023", V6_ULEN(1023), TX(slb3, 5, 2)},
	{"v6 checksum: udp length 1024 (two chunks)", V6_ULEN(1024), TX(slb3, 5, 2)},
	{"v6 checksum: udp length 1025", V6_ULEN(1025), TX(slb3, 5, 2)},
	{"v6 checksum: udp length 1536 + 128 + 2", V6_ULEN(1536 + 128 + 2), TX(slb3, 5, 2)},
	{"v6 checksum: udp length 1800, padded", V6_UDP(.payload_len = 1800 - 60, .eth_pad = 7),
	 TX(slb3, 5, 2)},

	/* TTL and hop limit. */
	{"v4 ttl 1: passed untouched", V4_TCP(.ttl = 1), PASS(TTL_EXCEEDED)},
	{"v4 ttl 0: passed untouched", V4_TCP(), .ttl0 = true, PASS(TTL_EXCEEDED)},
	{"v4 ttl 1, two vlan tags: passed untouched", V4_UDP(VLAN2, .ttl = 1), PASS(TTL_EXCEEDED)},
	{"v4 ttl 2: forwarded with ttl 1", V4_TCP(.ttl = 2), TX(slb1, 1, 1)},
	{"v4 ttl 255: forwarded with ttl 254", V4_UDP(.ttl = 255), TX(slb1, 2, 1)},
	{"v6 hop limit 1: passed untouched", V6_TCP(.ttl = 1), PASS(TTL_EXCEEDED)},
	{"v6 hop limit 0: passed untouched", V6_UDP(), .ttl0 = true, PASS(TTL_EXCEEDED)},
	{"v6 hop limit 2: forwarded with 1", V6_TCP(.ttl = 2), TX(slb3, 4, 2)},

	/* The egress MTU: the datagram, 8 bytes of UDP, 4 of GUE and the outer IP header. */
	{"mtu 1500: v4 udp datagram of 1468 bytes forwarded",
	 V4_UDP(.daddr = VIP4_MTU, .payload_len = 1440), REDIR(slb4, 6, 3)},
	{"mtu 1500: v4 udp datagram of 1469 bytes passed untouched",
	 V4_UDP(.daddr = VIP4_MTU, .payload_len = 1441), PASS(TOO_BIG)},
	{"mtu 1500: 1468 bytes with DF, two vlan tags: forwarded",
	 V4_UDP(VLAN2, .daddr = VIP4_MTU, .payload_len = 1440, .frag_off = 0x4000),
	 REDIR(slb4, 6, 3)},
	{"mtu 1500: 1469 bytes and ttl 1: the ttl is checked first",
	 V4_UDP(.daddr = VIP4_MTU, .payload_len = 1441, .ttl = 1), PASS(TTL_EXCEEDED)},
	{"mtu 1500: v6 udp datagram of 1448 bytes forwarded, its checksum computed",
	 V6_UDP(.daddr = VIP6_MTU, .payload_len = 1400), REDIR(slb5, 7, 4)},
	{"mtu 1500: v6 tcp datagram of 1448 bytes with extension headers forwarded",
	 V6_TCP(.daddr = VIP6_MTU, .n_ext = 2, .ext = {EXT(HOP), EXT(DEST, .hdrlen = 2)},
		.payload_len = 1388 - 32),
	 REDIR(slb5, 8, 4)},
	{"route mtu 1400: v4 udp datagram of 1368 bytes forwarded",
	 V4_UDP(.daddr = VIP4_ROUTE_MTU, .payload_len = 1340), REDIR(slb6, 9, 5)},
	{"route mtu 1400: v4 udp datagram of 1369 bytes passed untouched",
	 V4_UDP(.daddr = VIP4_ROUTE_MTU, .payload_len = 1341), PASS(TOO_BIG)},
	{"mtu unknown (0, static next hop): a v6 datagram of 1500 bytes forwarded",
	 V6_UDP(.payload_len = 1452), TX(slb3, 5, 2)},

	/* What gue does not change: the match. */
	{"v4 tcp to no VIP", V4_TCP(.daddr = "192.0.2.99"), PASS(NO_VIP)},
	{"v4 tcp to a udp-only gue VIP: no policy", V4_UDP(.daddr = VIP4_MTU, .l4 = IPPROTO_TCP),
	 DROP(NO_POLICY)},
	{"v4 first fragment to a gue VIP: encapsulated whole, its port from the addresses",
	 V4_TCP(.frag_off = 0x2000), TX(slb1, 1, 1)},
	{"v4 later fragment to a gue VIP: follows the first, with its port",
	 V4_TCP(.frag_off = 185), TX(slb1, 1, 1)},
};

#define N_CASES (sizeof(cases) / sizeof(cases[0]))

/* Every forwarded IPv6 case's frame, as the forwarder sent it, holds a right UDP checksum. */
static void v6_checksums_hold(void)
{
	static struct pkt in, want, out;
	__u32 action;

	for (size_t i = 0; i < N_CASES; i++) {
		const struct enc_case *c = &cases[i];

		if (!c->slb || c->in.l3 != AF_INET6)
			continue;
		enc_case_frames(c, &in, &want);
		assert_int_equal(h_run(&enc_env, &in, &out, &action), 0);
		out.off[PKT_AT_L3] = 14;
		out.off[PKT_AT_L4] = 14 + 40;
		if (!pkt_udp_csum_ok(&out))
			fail_msg("%s: the outer UDP checksum does not hold", c->name);
		if (out.data[14 + 40 + 6] == 0 && out.data[14 + 40 + 7] == 0)
			fail_msg("%s: no outer UDP checksum", c->name);
	}
}

static void test_cases(void **state)
{
	enc_run_cases(cases, N_CASES);
	v6_checksums_hold();
}

/*
 * Every UDP length from the shortest to 1900 (what pkt_build holds): the
 * whole frame out, its checksum included, is the one built in C.
 */
static void test_checksum_every_length(void **state)
{
	static struct pkt in, want, out;
	int failed = 0;
	__u32 action;

	for (int n = 60; n <= 1900; n++) {
		struct enc_case c = {"any length", V6_ULEN(n), TX(slb3, 5, 2)};

		enc_case_frames(&c, &in, &want);
		assert_int_equal(h_run(&enc_env, &in, &out, &action), 0);
		if (action != XDP_TX || out.len != want.len ||
		    memcmp(out.data, want.data, out.len)) {
			print_error("udp length %d: checksum %02x%02x, expected %02x%02x\n", n,
				    out.data[60], out.data[61], want.data[60], want.data[61]);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

#define CASE_V4 "v4 tcp -> slb 1 on lo: XDP_TX"
#define CASE_V6 "v6 tcp -> slb 3 on lo: XDP_TX"

/*
 * An IPv6 packet whose outer UDP checksum sums to 0 goes out with 0xffff (0
 * means "none"): the inner flow label, which the checksum covers but neither
 * the flow hash nor the inner TCP checksum do, is chosen to get there.
 */
static void test_checksum_zero_sent_as_ffff(void **state)
{
	struct enc_case c = {"v6 tcp whose outer checksum is 0", V6_TCP(), TX(slb3, 4, 2)};
	static struct pkt in, want;
	const __u8 *check;

	for (c.flow = 0; c.flow <= 0xffff; c.flow++) {
		enc_case_frames(&c, &in, &want);
		check = want.data + 14 + 40 + 6;
		if (check[0] == 0xff && check[1] == 0xff)
			break;
	}
	assert_true(c.flow <= 0xffff);
	/* 0xffff holds as the checksum of that datagram. */
	want.off[PKT_AT_L3] = 14;
	want.off[PKT_AT_L4] = 14 + 40;
	assert_true(pkt_udp_csum_ok(&want));
	enc_run_cases(&c, 1);
}

static int gue_port_set(__u16 port)
{
	int r = vsn_dp_gue_port_set(enc_env.dp, port);

	if (!r)
		enc_gue_port = port;
	return r;
}

/* The gue port is the node's: 6080 until set, then the new one for every packet at once. */
static void test_gue_port(void **state)
{
	struct vsn_addr a4, a6;
	__u16 port;

	assert_int_equal(vsn_dp_gue_port_get(enc_env.dp, &port), 0);
	assert_int_equal(port, 6080);
	assert_int_equal(gue_port_set(5555), 0);
	assert_int_equal(vsn_dp_gue_port_get(enc_env.dp, &port), 0);
	assert_int_equal(port, 5555);
	enc_expect_case(CASE_V4, XDP_TX, VSN_FWD_TX, "v4 to port 5555");
	enc_expect_case(CASE_V6, XDP_TX, VSN_FWD_TX, "v6 to port 5555");
	assert_int_equal(vsn_dp_gue_port_set(enc_env.dp, 0), -EINVAL);

	/* Setting the underlay keeps the port, and the port the underlay. */
	assert_int_equal(enc_underlay_set(UNDERLAY4, UNDERLAY6), 0);
	assert_int_equal(vsn_dp_gue_port_get(enc_env.dp, &port), 0);
	assert_int_equal(port, 5555);
	assert_int_equal(gue_port_set(65535), 0);
	assert_int_equal(vsn_dp_underlay_get(enc_env.dp, &a4, &a6), 0);
	assert_int_equal(a4.family, AF_INET);
	assert_int_equal(a6.family, AF_INET6);
	enc_expect_case(CASE_V6, XDP_TX, VSN_FWD_TX, "v6 to port 65535");

	assert_int_equal(gue_port_set(6080), 0);
	enc_expect_case(CASE_V4, XDP_TX, VSN_FWD_TX, "v4 to port 6080 again");
}

/* Without an underlay address of its family, a gue packet is dropped, untouched. */
static void test_no_underlay(void **state)
{
	assert_int_equal(enc_underlay_set(UNDERLAY4, NULL), 0);
	enc_expect_case(CASE_V4, XDP_TX, VSN_FWD_TX, "v4 with only an IPv4 underlay: forwarded");
	enc_expect_case(CASE_V6, XDP_DROP, VSN_DROP_NO_UNDERLAY,
			"v6 with only an IPv4 underlay: dropped");
	enc_expect_case("v6 hop limit 1: passed untouched", XDP_DROP, VSN_DROP_NO_UNDERLAY,
			"v6 hop limit 1 without an IPv6 underlay: dropped");
	assert_int_equal(enc_underlay_set(NULL, UNDERLAY6), 0);
	enc_expect_case(CASE_V4, XDP_DROP, VSN_DROP_NO_UNDERLAY,
			"v4 with only an IPv6 underlay: dropped");
	enc_expect_case("mtu 1500: v4 udp datagram of 1469 bytes passed untouched", XDP_DROP,
			VSN_DROP_NO_UNDERLAY, "too big without underlay: dropped");
	enc_expect_case(CASE_V6, XDP_TX, VSN_FWD_TX, "v6 with only an IPv6 underlay: forwarded");
	assert_int_equal(enc_underlay_set(UNDERLAY4, UNDERLAY6), 0);
	enc_expect_case(CASE_V4, XDP_TX, VSN_FWD_TX, "v4 with the underlay back");
}

/*
 * Too big once in GUE: the reply (fragmentation needed with DF, packet too
 * big over IPv6) says the MTU less 32 or 52 bytes; without DF, IPv4 passes.
 */
static void test_too_big_reply(void **state)
{
	static const struct enc_too_big_case cases[] = {
		{"v4 udp of 1469 bytes with DF",
		 V4_UDP(.daddr = VIP4_MTU, .payload_len = 1441, .frag_off = 0x4000), 1468},
		{"v4 udp of 1369 bytes with DF, route mtu 1400",
		 V4_UDP(.daddr = VIP4_ROUTE_MTU, .payload_len = 1341, .frag_off = 0x4000), 1368},
		{"v6 udp of 1449 bytes", V6_UDP(.daddr = VIP6_MTU, .payload_len = 1401), 1448},
		{"v6 tcp of 1449 bytes, one vlan tag",
		 V6_TCP(VLAN1, .daddr = VIP6_MTU, .payload_len = 1389), 1448},
	};

	enc_run_too_big(cases, sizeof(cases) / sizeof(cases[0]));
}

/* The SLB entries say gue, and carry the egress MTU. */
static void test_slb_entries(void **state)
{
	enum vsn_forward f;
	struct vsn_slb e;

	assert_int_equal(vsn_dp_slb_get(enc_env.dp, slb5.id, &e), 0);
	assert_int_equal(e.forward, VSN_FORWARD_GUE);
	assert_int_equal(e.mtu, 1500);
	assert_int_equal(vsn_dp_slb_get(enc_env.dp, slb6.id, &e), 0);
	assert_int_equal(e.mtu, 1400);
	assert_string_equal(vsn_forward_name(VSN_FORWARD_GUE), "gue");
	assert_int_equal(vsn_forward_parse("gue", &f), 0);
	assert_int_equal(f, VSN_FORWARD_GUE);
}

/* gue carries IPv4 in IPv4 and IPv6 in IPv6, as ipip: a VIP of the other family is refused. */
static void test_apply_family_mismatch(void **state)
{
	struct vsn_dp_policy p[2] = {0};
	struct vsn_dp_set set = {.n_policies = 2, .policies = p};
	struct vsn_meta m;
	size_t bad = 999;

	assert_int_equal(vsn_dp_meta(enc_env.dp, &m), 0);
	set.generation = m.generation + 1;
	assert_int_equal(vsn_addr_parse(VIP4, &p[0].vip), 0);
	p[0].proto = IPPROTO_TCP;
	p[0].slb_id = slb1.id;
	p[0].policy_id = 1;
	assert_int_equal(vsn_addr_parse("2001:db8::99", &p[1].vip), 0);
	p[1].proto = IPPROTO_TCP;
	p[1].slb_id = slb2.id; /* IPv4 */
	p[1].policy_id = 2;
	assert_int_equal(vsn_dp_set_apply(enc_env.dp, &set, &bad), -EAFNOSUPPORT);
	assert_int_equal(bad, 1);
	assert_int_equal(vsn_dp_meta(enc_env.dp, &m), 0);
	assert_int_equal(m.generation, 1);
	enc_expect_case(CASE_V4, XDP_TX, VSN_FWD_TX, "the running set still forwards");
}

static int setup(void **state)
{
	return enc_setup(slbs, sizeof(slbs) / sizeof(slbs[0]), set1, N_SET1, cases, N_CASES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_checksum_every_length),
		cmocka_unit_test(test_checksum_zero_sent_as_ffff),
		cmocka_unit_test(test_too_big_reply),
		cmocka_unit_test(test_gue_port),
		cmocka_unit_test(test_no_underlay),
		cmocka_unit_test(test_slb_entries),
		cmocka_unit_test(test_apply_family_mismatch),
	};
	int r;

	r = h_init();
	if (r)
		return r;
	return cmocka_run_group_tests(tests, setup, enc_teardown);
}
