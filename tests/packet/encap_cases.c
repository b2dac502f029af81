/* SPDX-License-Identifier: Apache-2.0 */
/* What the packet tests of ipip and gue forwarding share (encap_cases.h). */
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
#include <cmocka.h>

#include "encap_cases.h"
#include "vsn/hash.h"

const __u8 ip_opt_router_alert[4] = {0x94, 0x04, 0x00, 0x00};
const __u8 ip_opt_max[40] = {
	[0 ... 3] = 1, [4] = 0x44, [5] = 12, [6] = 5, [16 ... 38] = 1, [39] = 0,
};

__u16 enc_gue_port = VSN_GUE_PORT_DEFAULT;
struct h_env enc_env;
static const struct enc_case *setup_cases;
static size_t n_setup_cases;

/* The namespace behind the resolved SLBs (the harness made vt0 and vt1). */
static const char *const netns_setup =
	"ip link set dev vt0 down && ip link set dev vt0 address 02:00:00:00:00:10 && "
	"ip link set dev vt0 up && ip addr add 10.9.0.254/24 dev vt0 && "
	"ip -6 addr add 2001:db8:9::fe/64 dev vt0 nodad && "
	"ip route add 10.9.1.0/24 dev vt0 mtu 1400 && "
	"ip neigh add 10.9.0.1 lladdr 02:59:00:00:00:0d dev vt0 nud permanent && "
	"ip neigh add 10.9.1.1 lladdr 02:59:00:00:00:0d dev vt0 nud permanent && "
	"ip -6 neigh add 2001:db8:9::1 lladdr 02:59:00:00:00:0d dev vt0 nud permanent";

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

static void frame_build(const struct enc_case *c, const struct pkt_spec *s, struct pkt *ret)
{
	int r = pkt_build(s, ret);

	if (r)
		fail_msg("%s: pkt_build: %s", c->name, strerror(-r));
	ip_edit(ret, c->tos, c->flow, c->ttl0 ? 0 : -1);
}

/* The IPv4 id that makes the inner header checksum c->inner_check. */
static __u16 id_for_check(const struct enc_case *c)
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
 * The flow word of bpf/parse.h: the xor of the source address's four 32-bit
 * words (IPv4: of source and destination), then of (source port << 16) ^
 * destination port, all read as raw network-order words in the host's byte
 * order, as the program reads them. Its low 20 bits are the outer IPv6 flow
 * label; gue's source port is vsn_gue_sport() of it without the ports for
 * an IPv4 fragment (ports false).
 */
static __u32 flow_word_of(const struct pkt *in, bool ports)
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
	if (!ports)
		return flow;
	memcpy(&sport, l4, 2);
	memcpy(&dport, l4 + 2, 2);
	flow ^= ((__u32)sport << 16) ^ dport;
	return flow;
}

/*
 * The frame a forwarded case must come out as: for l2, the input with the
 * SLB's MACs; for ipip and gue, Ethernet (the SLB's MACs, no VLAN tags), the
 * outer header (underlay -> SLB, TTL 64, id 0, DF and TOS / traffic class of
 * the inner packet, flow label of the flow), for gue UDP (source port from
 * the flow, include/vsn/hash.h, to enc_gue_port; the checksum 0 over IPv4,
 * computed over IPv6)
 * and GUE (variant 0, the inner protocol), then the inner datagram with
 * TTL - 1.
 */
static void expect_build(const struct enc_case *c, struct pkt_spec s, const struct pkt *in,
			 struct pkt *ret)
{
	const struct slb_def *slb = c->slb;
	bool v4 = s.l3 == AF_INET;
	struct pkt_spec o = {0};
	__u8 gue[4] = {0, v4 ? 4 : 41, 0, 0};
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
	o.saddr = v4 ? UNDERLAY4 : UNDERLAY6;
	o.daddr = slb->addr;
	o.frag_off = s.frag_off & 0x4000;
	if (slb->forward == VSN_FORWARD_GUE) {
		/* Any fragment: its addresses only (the forwarder's gue_encap). */
		o.sport = vsn_gue_sport(flow_word_of(in, !(v4 && s.frag_off & 0x3fff)));
		o.dport = enc_gue_port;
		r = pkt_encap_udp(ret, &o, gue, sizeof(gue), !v4);
	} else {
		r = pkt_encap(ret, &o);
	}
	if (r)
		fail_msg("%s: pkt_encap: %s", c->name, strerror(-r));
	ip = ret->data + pkt_mark(ret, PKT_AT_L3);
	assert_int_equal(ip[v4 ? 8 : 7], 64);
	/* Neither TOS nor traffic class and flow label are in the UDP checksum. */
	ip_edit(ret, c->tos, v4 ? 0 : flow_word_of(in, true) & 0xfffff, -1);
}

void enc_case_frames(const struct enc_case *c, struct pkt *in, struct pkt *want)
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

void enc_run_cases(const struct enc_case *cases, size_t n)
{
	static struct pkt in, want;
	size_t failed = 0;

	for (size_t i = 0; i < n; i++) {
		const struct enc_case *c = &cases[i];
		struct h_expect e = {.action = c->action, .reason = c->reason, .out = &want};

		/* A table typo would make a forwarded case unchecked: refuse it. */
		assert_true(vsn_reason_is_forward(c->reason) == (c->slb != NULL));
		enc_case_frames(c, &in, &want);
		if (c->slb) {
			e.policy_id = c->policy_id;
			e.service_id = c->service_id;
			e.slb_id = c->slb->id;
		}
		if (h_verify(&enc_env, c->name, &in, &e)) {
			print_error("FAILED case %zu: %s\n", i, c->name);
			failed++;
		}
	}
	print_message("[          ] %zu cases, %zu failed\n", n, failed);
	assert_int_equal(failed, 0);
}

void enc_expect_case(const char *name, __u32 action, enum vsn_reason reason, const char *label)
{
	static struct pkt in, want;
	const struct enc_case *c = NULL;

	for (size_t i = 0; i < n_setup_cases; i++)
		if (!strcmp(setup_cases[i].name, name))
			c = &setup_cases[i];
	assert_non_null(c);
	enc_case_frames(c, &in, &want);
	h_check(&enc_env, label, &in,
		&(struct h_expect){.action = action,
				   .reason = reason,
				   .out = vsn_reason_is_forward(reason) ? &want : &in,
				   .policy_id = c->policy_id,
				   .service_id = c->service_id,
				   .slb_id = c->slb ? c->slb->id : 0});
}

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

void enc_too_big_want(const struct pkt *in, __u32 mtu, struct pkt *want)
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

void enc_run_too_big(const struct enc_too_big_case *cases, size_t n)
{
	static struct pkt in, want;

	for (size_t i = 0; i < n; i++) {
		struct h_expect e = {.action = XDP_TX, .reason = VSN_REPLY_TOO_BIG, .out = &want};

		assert_int_equal(pkt_build(&cases[i].in, &in), 0);
		enc_too_big_want(&in, cases[i].mtu, &want);
		if (i)
			usleep(1001000);
		h_check(&enc_env, cases[i].name, &in, &e);
	}
}

int enc_underlay_set(const char *v4, const char *v6)
{
	struct vsn_addr a4 = {0}, a6 = {0};

	if ((v4 && vsn_addr_parse(v4, &a4)) || (v6 && vsn_addr_parse(v6, &a6)))
		return -EINVAL;
	return vsn_dp_underlay_set(enc_env.dp, &a4, &a6);
}

int enc_slb_define(const struct slb_def *d)
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
	return vsn_dp_slb_set(enc_env.dp, &s);
}

int enc_setup(const struct slb_def *const *slbs, size_t n_slbs, const struct enc_policy *set,
	      size_t n_set, const struct enc_case *cases, size_t n_cases)
{
	struct h_env *env = &enc_env;
	struct vsn_dp_policy *pol = calloc(n_set, sizeof(*pol));
	struct vsn_dp_set s = {.generation = 1, .n_policies = n_set, .policies = pol};
	size_t bad = 0;
	int r;

	r = pol ? h_open(env) : -ENOMEM;
	if (r) {
		fprintf(stderr, "setup: h_open: %s\n", strerror(-r));
		free(pol);
		return -1;
	}
	if (system(netns_setup)) {
		fprintf(stderr, "setup: cannot set up vt0's addresses, route and neighbours\n");
		goto fail;
	}
	for (size_t i = 0; i < n_slbs; i++) {
		r = enc_slb_define(slbs[i]);
		if (r) {
			fprintf(stderr, "setup: slb %u: %s\n", slbs[i]->id, strerror(-r));
			goto fail;
		}
	}
	r = enc_underlay_set(UNDERLAY4, UNDERLAY6);
	if (r) {
		fprintf(stderr, "setup: underlay: %s\n", strerror(-r));
		goto fail;
	}
	for (size_t i = 0; i < n_set; i++) {
		vsn_addr_parse(set[i].vip, &pol[i].vip);
		pol[i].proto = set[i].proto;
		pol[i].port = set[i].port;
		pol[i].slb_id = set[i].slb;
		pol[i].service_id = set[i].service;
		pol[i].policy_id = set[i].policy;
	}
	r = vsn_dp_set_apply(env->dp, &s, &bad);
	if (r) {
		fprintf(stderr, "setup: apply: %s (policy %zu)\n", strerror(-r), bad);
		goto fail;
	}
	free(pol);
	setup_cases = cases;
	n_setup_cases = n_cases;
	return 0;
fail:
	free(pol);
	h_close(env);
	return -1;
}

int enc_teardown(void **state)
{
	h_close(&enc_env);
	return 0;
}
