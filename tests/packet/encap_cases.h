/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the packet tests of encapsulated forwarding share (test_ipip.c,
 * test_gue.c): the SLBs' definitions, the namespace behind the resolved
 * ones, the base frames and the shape of a case table, and the runner.
 * Every expected frame is built from the case's spec, independently of the
 * forwarder: the inner datagram rebuilt with TTL - 1 (so its header checksum
 * is computed afresh, not updated), wrapped with pkt_encap() (ipip) or
 * pkt_encap_udp() (gue: the UDP source port computed from the flow hash,
 * the UDP checksum over the whole datagram for IPv6), and the outer fields
 * the spec cannot express (TOS, traffic class, flow label) written by hand.
 */
#ifndef VSN_TEST_ENCAP_CASES_H
#define VSN_TEST_ENCAP_CASES_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "frames.h"
#include "harness.h"

#define CLIENT4 "198.51.100.1"
#define CLIENT6 "2001:db8:c::1"
#define VIP4 "192.0.2.10"
#define VIP6 "2001:db8::10"
#define UNDERLAY4 "100.64.0.1"
#define UNDERLAY6 "fd00:64::1"
/* VIPs of the SLBs resolved through vt0 (SLB_RESOLVED): its MTU 1500, a route's 1400. */
#define VIP4_MTU "192.0.2.50"
#define VIP6_MTU "2001:db8::50"
#define VIP4_ROUTE_MTU "192.0.2.60"

/* vt0's MAC, and the MAC of every neighbour resolved through it (enc_setup). */
#define VT0_MAC 0x02, 0x00, 0x00, 0x00, 0x00, 0x10
#define NEIGH_MAC 0x02, 0x59, 0x00, 0x00, 0x00, 0x0d

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
/*
 * An SLB resolved through vt0: 10.9.0.0/24 and 2001:db8:9::/64 are on-link
 * there (MTU 1500), 10.9.1.0/24 is routed with MTU 1400; 10.9.0.1, 10.9.1.1
 * and 2001:db8:9::1 have neighbour entries.
 */
#define SLB_RESOLVED(i, a, fwd)                                                              \
	{                                                                                    \
		.id = (i), .addr = (a), .forward = (fwd), .ifname = "vt0", .resolved = true, \
		.dmac = {NEIGH_MAC}, .smac = {                                               \
			VT0_MAC                                                              \
		}                                                                            \
	}

extern const __u8 ip_opt_router_alert[4];
/* 40 bytes, the most IHL allows: 4 NOPs, a timestamp option (room for 2), NOPs, EOL. */
extern const __u8 ip_opt_max[40];
#define OPT_RA .ip_opts = ip_opt_router_alert, .ip_opts_len = sizeof(ip_opt_router_alert)

struct enc_case {
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

/* One policy of a test's running set. */
struct enc_policy {
	const char *vip;
	__u8 proto;
	__u16 port; /* 0: any */
	__u32 slb, service, policy;
};

/* The gue port the expected frames carry (host order); tests that change it say so here. */
extern __u16 enc_gue_port;

/* The forwarder under test (enc_setup). */
extern struct h_env enc_env;

/*
 * The group setup: the forwarder (h_open), vt0's addresses, route and
 * neighbours, the SLBs, the underlay UNDERLAY4 / UNDERLAY6, and the set of
 * the policies as generation 1; cases is the table enc_expect_case() looks
 * names up in. 0, or -1 (printed; the forwarder closed).
 */
int enc_setup(const struct slb_def *const *slbs, size_t n_slbs, const struct enc_policy *set,
	      size_t n_set, const struct enc_case *cases, size_t n_cases);
/* The group teardown. */
int enc_teardown(void **state);
int enc_slb_define(const struct slb_def *d);
/* Set the underlay (NULL: that family unset). 0 or -errno. */
int enc_underlay_set(const char *v4, const char *v6);

/* A case's input frame and the frame it must come out as. */
void enc_case_frames(const struct enc_case *c, struct pkt *in, struct pkt *want);
/* Run every case of the table; fails the cmocka test if any fails. */
void enc_run_cases(const struct enc_case *cases, size_t n);
/* Run the setup table's case called name, expecting the given verdict instead of its own. */
void enc_expect_case(const char *name, __u32 action, enum vsn_reason reason, const char *label);

/*
 * The too-big reply to in, built here from RFC 792 / 4443 rather than from
 * the forwarder: the MACs swapped, VLAN tags kept, an IPv4 (ICMP 3/4, the
 * MTU in the low 16 bits) or IPv6 (ICMPv6 2/0) packet from the underlay
 * address to the client quoting the first VSN_TOO_BIG_QUOTE bytes of in's
 * IP datagram.
 */
void enc_too_big_want(const struct pkt *in, __u32 mtu, struct pkt *want);

/* A frame too big for its SLB's path, and the MTU its reply must carry. */
struct enc_too_big_case {
	const char *name;
	struct pkt_spec in;
	__u32 mtu;
};

/*
 * Run each case a second after the one before (each has the whole rate
 * bound to itself): the reply (enc_too_big_want), XDP_TX, reply_too_big.
 */
void enc_run_too_big(const struct enc_too_big_case *cases, size_t n);

#endif /* VSN_TEST_ENCAP_CASES_H */
