/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ICMP and ICMPv6 errors about a VIP's flows (parse_icmp_error() in
 * bpf/parse.h, pick() in bpf/forwarder.bpf.c), through BPF_PROG_TEST_RUN
 * (ingress lo). An ICMP destination unreachable or time exceeded, or an
 * ICMPv6 destination unreachable, packet too big or time exceeded, sent to a
 * VIP and quoting a TCP/UDP packet of that VIP (an SLB's reply) goes where
 * the quoted flow goes, seen from the client: client -> VIP, the quote's
 * addresses and ports reversed. That is the connection table's SLB while it
 * is not down, else the policy's pick; the error is forwarded whole, counted
 * under the flow's policy, service and SLB, and never makes or changes a
 * connection-table entry. Any other ICMP message is passed untouched.
 *
 *   SLB 1  10.0.0.1       l2 lo (XDP_TX)          pool A (id 10): 1 (weight 1),
 *   SLB 2  10.0.0.2       l2 vt0 (XDP_REDIRECT)                   2 (2), 3 (3)
 *   SLB 3  10.0.0.3       l2 lo
 *   SLB 4  10.0.0.4       l2 lo                   pool B (id 20): 4 (1), 5 (1)
 *   SLB 5  10.0.0.5       l2 vt0
 *   SLB 6  10.0.0.6       l2 lo                   single-SLB destination
 *   SLB 7  10.1.0.7       ipip lo
 *   SLB 8  2001:db8:1::8  ipip lo                 underlay 100.64.0.1, fd00:64::1
 *
 *   policy  VIP            proto port  destination                       service
 *   1       192.0.2.10     tcp   any   pool A (set B: pool B)            1
 *   2       192.0.2.10     udp   any   pool A (set B: pool B),           1
 *                                      clients 198.51.100.128/25: SLB 6
 *   3       2001:db8::10   tcp   any   pool A (set B: pool B)            2
 *   4       2001:db8::10   udp   any   pool A (set B: pool B)            2
 *   5       192.0.2.20     tcp   80    SLB 6                             3
 *   6       192.0.2.30     tcp   any   SLB 7                             4
 *   7       2001:db8::30   tcp   any   SLB 8                             4
 *   8       2001:db8::30   udp   any   SLB 8                             4
 *
 * Every expected SLB of a pool is computed here (vsn_maglev_build over the
 * members that are up, vsn_flow_hash of the client -> VIP 5-tuple) and must
 * be what vsn_dp_predict says; the flows of the tests are chosen so that the
 * 5-tuple with the quote's ports left unreversed picks another SLB. Every
 * frame is checked whole with the reason, policy, service and SLB counters,
 * the move of every connection-table counter, and, for errors, the
 * connection table itself, listed before and after.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <linux/bpf.h>
#include <cmocka.h>

#include "harness.h"
#include "maglev.h"
#include "vsn/hash.h"

/* The case table leaves its optional fields out. */
#pragma clang diagnostic ignored "-Wmissing-field-initializers"

#define VIP4 "192.0.2.10"
#define VIP6 "2001:db8::10"
#define VIP_SINGLE "192.0.2.20"
#define VIP_IPIP4 "192.0.2.30"
#define VIP_IPIP6 "2001:db8::30"
#define NO_VIP4 "192.0.2.99"
#define NO_VIP6 "2001:db8::99"
/* Where the errors come from: a router on the path back to the client. */
#define ROUTER4 "203.0.113.1"
#define ROUTER6 "2001:db8:ff::1"
#define UNDERLAY4 "100.64.0.1"
#define UNDERLAY6 "fd00:64::1"
/* Policy 2's client rule: these clients go to SLB 6. */
#define RULE_NET "198.51.100.128"
#define RULE_PLEN 25

#define POOL_A 10
#define POOL_B 20
#define SLB_SINGLE 6
#define SLB_IPIP4 7
#define SLB_IPIP6 8
#define N_SLBS 9

#define M 251
#define SEED 0x1c3e5eedu

struct slb_def {
	const char *addr;
	bool vt0;  /* egress vt0 (XDP_REDIRECT), else lo (XDP_TX) */
	bool ipip; /* else l2 */
	__u8 dmac[6];
	__u8 smac[6];
};

#define SLB(id, a, v, i) [id] = {a, v, i, {0x02, 0x51, 0, 0, id, 0xd}, {0x02, 0x51, 0, 0, id, 0x5}}

static const struct slb_def slbs[N_SLBS] = {
	SLB(1, "10.0.0.1", false, false), SLB(2, "10.0.0.2", true, false),
	SLB(3, "10.0.0.3", false, false), SLB(4, "10.0.0.4", false, false),
	SLB(5, "10.0.0.5", true, false),  SLB(6, "10.0.0.6", false, false),
	SLB(7, "10.1.0.7", false, true),  SLB(8, "2001:db8:1::8", false, true),
};

static const struct vsn_dp_pool_member a_members[] = {{1, 1}, {2, 2}, {3, 3}};
static const struct vsn_dp_pool_member b_members[] = {{4, 1}, {5, 1}};
static const struct vsn_dp_pool pools[] = {{POOL_A, 3, a_members}, {POOL_B, 2, b_members}};
#define POOL(id) (&pools[(id) == POOL_B])

static struct h_env env;
/* The SLB states as the tests set them. */
static enum vsn_slb_state slb_state[N_SLBS];

/* A TCP or UDP flow from a client to a VIP, and the policy it matches. */
struct flow {
	int family;
	const char *client;
	__u16 cport;
	const char *vip;
	__u16 vport;
	__u8 proto;
	__u32 policy_id;
	__u32 service_id;
};

#define FLOW4(c, cp, vp, pr)                                                 \
	(struct flow)                                                        \
	{                                                                    \
		AF_INET, c, cp, VIP4, vp, pr, (pr) == IPPROTO_TCP ? 1 : 2, 1 \
	}
#define FLOW6(c, cp, vp, pr)                                                  \
	(struct flow)                                                         \
	{                                                                     \
		AF_INET6, c, cp, VIP6, vp, pr, (pr) == IPPROTO_TCP ? 3 : 4, 2 \
	}

/* The flow's connection-table key; swapped: with its two ports exchanged. */
static void flow_key(const struct flow *f, bool swapped, struct vsn_flow_key *k)
{
	struct vsn_addr c, v;

	assert_int_equal(vsn_addr_parse(f->client, &c), 0);
	assert_int_equal(vsn_addr_parse(f->vip, &v), 0);
	vsn_flow_key_make(&c, swapped ? f->vport : f->cport, &v, swapped ? f->cport : f->vport,
			  f->proto, k);
}

/*
 * The SLB pool pool_id gives key k: the Maglev table of the pool's members
 * that are up (all of them when none is), k's entry, then on past entries
 * whose SLB is not up, at most VSN_MAGLEV_WALK; 0 when none is up. With
 * check, vsn_dp_predict must say the same.
 */
static __u32 pool_pick(__u32 pool_id, const struct vsn_flow_key *k, bool check)
{
	const struct vsn_dp_pool *p = POOL(pool_id);
	struct vsn_maglev_member up[4];
	static __u32 table[M];
	__u32 slot, id = 0, predicted = 0;
	size_t n = 0;

	for (int all = 0; all < 2 && !n; all++)
		for (size_t j = 0; j < p->n_members; j++)
			if (all || slb_state[p->members[j].slb_id] == VSN_SLB_UP)
				up[n++] = (struct vsn_maglev_member){p->members[j].slb_id,
								     p->members[j].weight};
	assert_int_equal(vsn_maglev_build(up, n, M, SEED, table), 0);
	slot = vsn_maglev_slot(vsn_flow_hash(k->src, k->dst, k->ports, k->proto, SEED), M);
	for (int i = 0; i < VSN_MAGLEV_WALK && !id; i++, slot = (slot + 1) % M)
		if (slb_state[table[slot]] == VSN_SLB_UP)
			id = table[slot];
	if (check) {
		assert_int_equal(vsn_dp_predict(env.dp, pool_id, k, &predicted),
				 id ? 0 : -EHOSTDOWN);
		assert_int_equal(predicted, id);
	}
	return id;
}

/* The SLB pool_id gives flow f as a new flow (the pick of its client -> VIP tuple). */
static __u32 pick(__u32 pool_id, const struct flow *f)
{
	struct vsn_flow_key k;

	flow_key(f, false, &k);
	return pool_pick(pool_id, &k, true);
}

/*
 * Move f's client port up to the first one (from its own) whose tuple with
 * the ports exchanged picks another SLB in pool_id: an error followed without
 * reversing the quote's ports goes elsewhere.
 */
static void flow_reversal_shows(struct flow *f, __u32 pool_id)
{
	struct vsn_flow_key k, sk;

	for (int i = 0; i < 64; i++, f->cport++) {
		flow_key(f, false, &k);
		flow_key(f, true, &sk);
		if (pool_pick(pool_id, &k, false) != pool_pick(pool_id, &sk, false))
			return;
	}
	fail_msg("no client port of %s makes the reversal show", f->client);
}

/* --- Frames. --- */

#define L2 .dmac = H_NODE_MAC, .smac = H_CLIENT_MAC

/* A packet of f with 24 bytes of payload: client -> VIP, or the reply VIP -> client. */
static struct pkt_spec flow_spec(const struct flow *f, bool reply)
{
	return (struct pkt_spec){
		L2,
		.l3 = f->family,
		.saddr = reply ? f->vip : f->client,
		.daddr = reply ? f->client : f->vip,
		.l4 = f->proto,
		.sport = reply ? f->vport : f->cport,
		.dport = reply ? f->cport : f->vport,
		.payload_len = 24,
	};
}

/* What an error quotes: the start of a datagram. */
struct quote {
	__u8 b[256];
	size_t len;
};

#define WHOLE SIZE_MAX

/*
 * The datagram s builds, quoted up to l4_bytes bytes of its transport header
 * and payload (WHOLE: all of it): its IP header and extension headers are
 * always whole.
 */
static void quote_make(const struct pkt_spec *s, size_t l4_bytes, struct quote *q)
{
	static struct pkt p;
	size_t l3, l4, end;

	assert_int_equal(pkt_build(s, &p), 0);
	l3 = pkt_mark(&p, PKT_AT_L3);
	l4 = pkt_mark(&p, PKT_AT_L4) != PKT_NO_MARK ? pkt_mark(&p, PKT_AT_L4)
						    : pkt_mark(&p, PKT_AT_PAYLOAD);
	end = pkt_mark(&p, PKT_AT_PAD);
	q->len = (l4 - l3) + (l4_bytes < end - l4 ? l4_bytes : end - l4);
	assert_true(q->len <= sizeof(q->b));
	memcpy(q->b, p.data + l3, q->len);
}

/* The outer header of an error from the router of its family to `to`. */
static struct pkt_spec err_spec(int family, const char *to)
{
	return (struct pkt_spec){
		L2,
		.l3 = family,
		.saddr = family == AF_INET ? ROUTER4 : ROUTER6,
		.daddr = to,
	};
}

/*
 * An ICMP (IPv4) or ICMPv6 (IPv6) message on the outer header s: type,
 * code, the 32-bit word after the checksum (host order: the next-hop MTU of
 * fragmentation needed, the MTU of packet too big, a pointer, or 0), then
 * the quote; the checksum computed.
 */
static void err_build(struct pkt_spec s, __u8 type, __u8 code, __u32 info, const struct quote *q,
		      struct pkt *ret)
{
	__u8 *t;

	if (!s.l4)
		s.l4 = s.l3 == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	s.payload_len = q->len;
	assert_int_equal(pkt_build(&s, ret), 0);
	t = ret->data + pkt_mark(ret, PKT_AT_L4);
	t[0] = type;
	t[1] = code;
	t[4] = info >> 24;
	t[5] = info >> 16;
	t[6] = info >> 8;
	t[7] = info;
	memcpy(t + 8, q->b, q->len);
	pkt_l4_csum_fix(ret);
}

/* An error to f's VIP quoting f's reply (l4_bytes of its transport header on). */
static void err_about(const struct flow *f, __u8 type, __u8 code, __u32 info, size_t l4_bytes,
		      struct pkt *ret)
{
	struct pkt_spec r = flow_spec(f, true);
	struct quote q;

	quote_make(&r, l4_bytes, &q);
	err_build(err_spec(f->family, f->vip), type, code, info, &q, ret);
}

/* ICMP and ICMPv6 types and codes of the errors (RFC 792, RFC 4443). */
#define UNREACH4 3
#define FRAG_NEEDED 3, 4
#define TIME_EXCEEDED4 11
#define PARAM_PROBLEM4 12
#define UNREACH6 1
#define TOO_BIG6 2, 0
#define TIME_EXCEEDED6 3
#define PARAM_PROBLEM6 4

/*
 * The frame in must come out as, forwarded to SLB id: l2, in with the SLB's
 * MACs; ipip, in's datagram with TTL - 1 behind the SLB's MACs and an outer
 * header (underlay -> SLB, DF as in's; IPv6: the flow label of the outer
 * source's words, an ICMP message having no ports to add).
 */
static void forwarded(const struct pkt *in, __u32 id, struct pkt *ret)
{
	const struct slb_def *d = &slbs[id];
	const __u8 *in_ip = in->data + pkt_mark(in, PKT_AT_L3);
	struct pkt_spec o = {0};
	__u32 w, label = 0;
	__u8 *ip;
	bool v4;

	*ret = *in;
	memcpy(ret->data, d->dmac, 6);
	memcpy(ret->data + 6, d->smac, 6);
	if (!d->ipip)
		return;
	assert_int_equal(pkt_mark(in, PKT_AT_VLAN0), PKT_NO_MARK);
	ip = ret->data + pkt_mark(ret, PKT_AT_L3);
	v4 = ip[0] >> 4 == 4;
	ip[v4 ? 8 : 7]--;
	if (v4)
		pkt_ip4_csum_fix(ret);
	o.l3 = v4 ? AF_INET : AF_INET6;
	o.saddr = v4 ? UNDERLAY4 : UNDERLAY6;
	o.daddr = d->addr;
	o.frag_off = v4 ? (ip[6] << 8 | ip[7]) & 0x4000 : 0;
	assert_int_equal(pkt_encap(ret, &o), 0);
	if (!v4) {
		for (int i = 0; i < 4; i++) {
			memcpy(&w, in_ip + 8 + 4 * i, 4);
			label ^= w;
		}
		ip = ret->data + pkt_mark(ret, PKT_AT_L3);
		ip[1] |= (label >> 16) & 0xf;
		ip[2] = label >> 8;
		ip[3] = label;
	}
}

/* --- Running frames. --- */

/* Expected moves of the connection-table counters, by enum vsn_flow_event. */
#define EV(...) ((const __u64[VSN_FLOW_EVENT_MAX]){__VA_ARGS__})
#define EV_NONE EV(0)

/*
 * The connection table at one moment: the counters of what it did (by enum
 * vsn_flow_event) and its entries, as vsn_dp_flows_foreach lists them.
 */
struct table {
	__u64 ev[VSN_FLOW_EVENT_MAX];
	size_t n;
	struct {
		struct vsn_flow_key k;
		struct vsn_flow v;
	} e[64];
};

static int table_add(const struct vsn_flow_key *k, const struct vsn_flow *f, void *arg)
{
	struct table *t = arg;

	if (t->n == sizeof(t->e) / sizeof(t->e[0]))
		return -E2BIG;
	t->e[t->n].k = *k;
	t->e[t->n++].v = *f;
	return 0;
}

static void table_read(struct table *t)
{
	struct vsn_counter c;

	for (__u32 ev = 0; ev < VSN_FLOW_EVENT_MAX; ev++) {
		assert_int_equal(vsn_dp_counter_read(env.dp, VSN_CNT_FLOW, ev, &c), 0);
		t->ev[ev] = c.packets;
	}
	t->n = 0;
	assert_int_equal(vsn_dp_flows_foreach(env.dp, table_add, t), 0);
}

/* f's entry in t, or NULL. */
static const struct vsn_flow *table_find(const struct table *t, const struct flow *f)
{
	struct vsn_flow_key k;

	flow_key(f, false, &k);
	for (size_t i = 0; i < t->n; i++)
		if (!memcmp(&t->e[i].k, &k, sizeof(k)))
			return &t->e[i].v;
	return NULL;
}

/* Are the entries of a those of b (in any order)? */
static bool table_same(const struct table *a, const struct table *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		size_t j = 0;

		while (j < b->n && memcmp(&a->e[i].k, &b->e[j].k, sizeof(a->e[i].k)))
			j++;
		if (j == b->n || memcmp(&a->e[i].v, &b->e[j].v, sizeof(a->e[i].v)))
			return false;
	}
	return true;
}

/*
 * How a (before) and b (after) disagree with what a frame must do to the
 * table: its counters move by exactly ev; with same, its entries stay.
 * Each disagreement printed; their number.
 */
static int table_moved(const char *name, const struct table *a, const struct table *b,
		       const __u64 *ev, bool same)
{
	int bad = 0;

	for (int i = 0; i < VSN_FLOW_EVENT_MAX; i++) {
		__u64 moved = b->ev[i] - a->ev[i];

		if (moved != ev[i]) {
			print_error("%s: %s counted %llu times, not %llu\n", name,
				    vsn_flow_event_name(i), (unsigned long long)moved,
				    (unsigned long long)ev[i]);
			bad++;
		}
	}
	if (same && !table_same(a, b)) {
		print_error("%s: the connection table changed (%zu entries, then %zu)\n", name,
			    a->n, b->n);
		bad++;
	}
	return bad;
}

/*
 * Run in: forwarded whole to SLB id (its MACs or ipip, its egress) and
 * counted under f's policy and service, or with id 0 the verdict of reason,
 * untouched. The connection-table counters must move by exactly ev; with
 * same_table, the connection table must be as it was.
 */
static void run(const char *name, const struct pkt *in, const struct flow *f, __u32 id,
		enum vsn_reason reason, const __u64 *ev, bool same_table)
{
	static struct pkt want;
	static struct table before, after;
	struct h_expect e = {.reason = reason, .out = in};

	e.action = vsn_reason_is_drop(reason) ? XDP_DROP : XDP_PASS;
	if (id) {
		forwarded(in, id, &want);
		e.action = slbs[id].vt0 ? XDP_REDIRECT : XDP_TX;
		e.reason = slbs[id].vt0 ? VSN_FWD_REDIRECT : VSN_FWD_TX;
		e.out = &want;
		e.policy_id = f->policy_id;
		e.service_id = f->service_id;
		e.slb_id = id;
	}
	table_read(&before);
	h_check(&env, name, in, &e);
	table_read(&after);
	if (table_moved(name, &before, &after, ev, same_table))
		fail_msg("%s: connection table, see above", name);
}

/* An error that must go to SLB id as a packet of f, with no connection-table event. */
static void err_to(const char *name, const struct pkt *in, const struct flow *f, __u32 id)
{
	assert_int_not_equal(id, 0);
	run(name, in, f, id, VSN_FWD_TX, EV_NONE, true);
}

/* An error (or other ICMP message) that must not be forwarded: reason, untouched. */
static void err_not(const char *name, const struct pkt *in, enum vsn_reason reason)
{
	run(name, in, NULL, 0, reason, EV_NONE, true);
}

/* A packet of f itself, client -> VIP: to SLB id (0: dropped, drop_slb_down). */
static void flow_to(const char *name, const struct flow *f, __u32 id, const __u64 *ev)
{
	static struct pkt in;
	struct pkt_spec s = flow_spec(f, false);

	assert_int_equal(pkt_build(&s, &in), 0);
	run(name, &in, f, id, VSN_DROP_SLB_DOWN, ev, false);
}

/* f's remembered SLB (0: none); *ret_epoch its generation, when not NULL. */
static __u32 remembered(const struct flow *f, __u32 *ret_epoch)
{
	static struct table t;
	const struct vsn_flow *v;

	table_read(&t);
	v = table_find(&t, f);
	if (v && ret_epoch)
		*ret_epoch = v->epoch;
	return v ? v->slb_id : 0;
}

/* How many flows the connection table remembers. */
static size_t remembered_n(void)
{
	static struct table t;

	table_read(&t);
	return t.n;
}

/* --- Sets and SLB states. --- */

static __u64 generation(void)
{
	struct vsn_meta m;

	assert_int_equal(vsn_dp_meta(env.dp, &m), 0);
	return m.generation;
}

/* Apply the next generation with policies 1-4 to pool pool_id (preserve). */
static int set_apply(__u32 pool_id)
{
	static const struct {
		const char *vip;
		__u8 proto;
		__u16 port;
		__u32 slb, policy, service;
	} def[] = {
		{VIP4, IPPROTO_TCP, 0, 0, 1, 1},
		{VIP4, IPPROTO_UDP, 0, 0, 2, 1},
		{VIP6, IPPROTO_TCP, 0, 0, 3, 2},
		{VIP6, IPPROTO_UDP, 0, 0, 4, 2},
		{VIP_SINGLE, IPPROTO_TCP, 80, SLB_SINGLE, 5, 3},
		{VIP_IPIP4, IPPROTO_TCP, 0, SLB_IPIP4, 6, 4},
		{VIP_IPIP6, IPPROTO_TCP, 0, SLB_IPIP6, 7, 4},
		{VIP_IPIP6, IPPROTO_UDP, 0, SLB_IPIP6, 8, 4},
	};
	struct vsn_dp_policy pol[sizeof(def) / sizeof(def[0])];
	struct vsn_dp_client rule = {.plen = RULE_PLEN, .slb_id = SLB_SINGLE};
	struct vsn_dp_set set = {
		.generation = generation() + 1,
		.n_policies = sizeof(def) / sizeof(def[0]),
		.policies = pol,
		.n_pools = 2,
		.pools = pools,
		.maglev_size = M,
		.hash_seed = SEED,
	};
	size_t bad = SIZE_MAX;
	int r;

	memset(pol, 0, sizeof(pol));
	r = vsn_addr_parse(RULE_NET, &rule.prefix);
	for (size_t i = 0; i < set.n_policies && !r; i++) {
		r = vsn_addr_parse(def[i].vip, &pol[i].vip);
		pol[i].proto = def[i].proto;
		pol[i].port = def[i].port;
		pol[i].slb_id = def[i].slb;
		pol[i].pool_id = def[i].slb ? 0 : pool_id;
		pol[i].policy_id = def[i].policy;
		pol[i].service_id = def[i].service;
		pol[i].on_change = VSN_ON_CHANGE_PRESERVE;
	}
	pol[1].n_clients = 1;
	pol[1].clients = &rule;
	if (!r)
		r = vsn_dp_set_apply(env.dp, &set, &bad);
	if (r)
		fprintf(stderr, "apply generation %llu: %s (entry %zu)\n",
			(unsigned long long)set.generation, strerror(-r), bad);
	return r;
}

static void set_state(__u32 id, enum vsn_slb_state st)
{
	assert_int_equal(vsn_dp_slb_set_state(env.dp, id, st), 0);
	slb_state[id] = st;
}

/*
 * Every test starts from set A, every SLB up, an empty connection table and
 * no bound on inserts (every new flow is remembered).
 */
static int reset(void **state)
{
	for (__u32 id = 1; id < N_SLBS; id++) {
		if (vsn_dp_slb_set_state(env.dp, id, VSN_SLB_UP))
			return -1;
		slb_state[id] = VSN_SLB_UP;
	}
	if (set_apply(POOL_A) || vsn_dp_flow_limit_set(env.dp, 0))
		return -1;
	return vsn_dp_flows_clear(env.dp) ? -1 : 0;
}

/* --- 1. An error about an established flow goes to its remembered SLB. --- */

static void test_established(void **state)
{
	struct flow f4 = FLOW4("198.51.100.1", 40001, 443, IPPROTO_TCP);
	struct flow f6 = FLOW6("2001:db8:c::1", 40001, 443, IPPROTO_TCP);
	struct flow u6 = FLOW6("2001:db8:c::2", 40002, 53, IPPROTO_UDP);
	struct flow g4 = FLOW4("198.51.100.2", 40003, 443, IPPROTO_TCP);
	static struct pkt in;
	__u32 a4, a6, au6, epoch = 0;
	__u64 gen_a = generation();

	a4 = pick(POOL_A, &f4);
	a6 = pick(POOL_A, &f6);
	au6 = pick(POOL_A, &u6);
	flow_to("f4 established", &f4, a4, EV([VSN_FLOW_NEW] = 1));
	flow_to("f6 established", &f6, a6, EV([VSN_FLOW_NEW] = 1));
	flow_to("u6 established", &u6, au6, EV([VSN_FLOW_NEW] = 1));

	/* Set B sends the VIPs to pool B (4, 5); remembered flows stay in pool A. */
	assert_int_equal(set_apply(POOL_B), 0);
	err_about(&f4, FRAG_NEEDED, 1400, 8, &in);
	err_to("v4 fragmentation needed (mtu 1400), 8 bytes quoted: the remembered SLB", &in, &f4,
	       a4);
	err_about(&f4, FRAG_NEEDED, 1280, WHOLE, &in);
	err_to("v4 fragmentation needed, the whole reply quoted", &in, &f4, a4);
	err_about(&f4, TIME_EXCEEDED4, 0, 0, 8, &in);
	err_to("v4 time exceeded about an established tcp flow", &in, &f4, a4);
	err_about(&f6, TOO_BIG6, 1280, WHOLE, &in);
	err_to("v6 packet too big (mtu 1280): the remembered SLB", &in, &f6, a6);
	err_about(&u6, UNREACH6, 4, 0, WHOLE, &in);
	err_to("v6 port unreachable about an established udp flow", &in, &u6, au6);

	/* A flow not in the table: set B's pick, and still not remembered. */
	err_about(&g4, FRAG_NEEDED, 1400, 8, &in);
	err_to("v4 fragmentation needed about no remembered flow: set B's pick", &in, &g4,
	       pick(POOL_B, &g4));
	assert_int_equal(remembered(&g4, NULL), 0);

	/* The flows themselves are where they were, under the generation that placed them. */
	flow_to("f4 after the errors", &f4, a4, EV([VSN_FLOW_HIT] = 1));
	flow_to("f6 after the errors", &f6, a6, EV([VSN_FLOW_HIT] = 1));
	assert_int_equal(remembered_n(), 3);
	assert_int_equal(remembered(&f4, &epoch), a4);
	assert_int_equal(epoch, (__u32)gen_a);
	assert_int_equal(remembered(&u6, &epoch), au6);
	assert_int_equal(epoch, (__u32)gen_a);
}

/* --- 2. No remembered flow: the policy's pick of the reversed tuple, nothing remembered. --- */

static void test_no_entry(void **state)
{
	struct flow fl[] = {
		FLOW4("198.51.100.3", 41000, 443, IPPROTO_TCP),
		FLOW6("2001:db8:c::3", 41000, 8443, IPPROTO_TCP),
		FLOW4("198.51.100.4", 41000, 5353, IPPROTO_UDP),
		FLOW6("2001:db8:c::4", 41000, 53, IPPROTO_UDP),
	};
	static struct pkt in;
	__u32 id[4];
	char name[128];

	for (int i = 0; i < 4; i++) {
		flow_reversal_shows(&fl[i], POOL_A);
		id[i] = pick(POOL_A, &fl[i]);
		if (fl[i].family == AF_INET)
			err_about(&fl[i], FRAG_NEEDED, 1400, 8, &in);
		else
			err_about(&fl[i], TOO_BIG6, 1280, WHOLE, &in);
		snprintf(name, sizeof(name), "%s %s flow %s.%u: the pool's pick, slb %u",
			 fl[i].family == AF_INET ? "fragmentation needed" : "packet too big",
			 fl[i].proto == IPPROTO_TCP ? "tcp" : "udp", fl[i].client, fl[i].cport,
			 id[i]);
		err_to(name, &in, &fl[i], id[i]);
		/* Again: still the pick, still not remembered. */
		err_to(name, &in, &fl[i], id[i]);
	}
	assert_int_equal(remembered_n(), 0);
	/* The flows' own first packets go where their errors went. */
	for (int i = 0; i < 4; i++)
		flow_to("the flow's first packet after its errors", &fl[i], id[i],
			EV([VSN_FLOW_NEW] = 1));
}

/* --- 3. Every error type, both families, quotes of every length that holds the ports. --- */

static const __u8 opt_ra[] = {0x94, 0x04, 0x00, 0x00};
/* 40 bytes, the most IHL allows: NOPs, a timestamp option, NOPs, EOL. */
static const __u8 opt_max[40] = {[0 ... 3] = 1, [4] = 0x44, [5] = 12, [6] = 5, [16 ... 38] = 1};

struct type_case {
	const char *name;
	int family;
	__u8 proto;
	__u8 type;
	__u8 code;
	__u32 info;
	size_t l4_bytes;	/* quoted of the reply's transport header and payload */
	const __u8 *quote_opts; /* IPv4 options of the quoted reply */
	size_t quote_opts_len;
	bool outer_opts; /* a router alert option in the error's own header */
	bool vlan;	 /* the error comes in a VLAN tag (kept) */
};

#define T4 AF_INET, IPPROTO_TCP
#define U4 AF_INET, IPPROTO_UDP
#define T6 AF_INET6, IPPROTO_TCP
#define U6 AF_INET6, IPPROTO_UDP

static const struct type_case type_cases[] = {
	{"v6 packet too big about tcp", T6, TOO_BIG6, 1280, WHOLE},
	{"v6 packet too big about udp", U6, TOO_BIG6, 1400, WHOLE},
	{"v6 time exceeded in transit about tcp", T6, TIME_EXCEEDED6, 0, 0, WHOLE},
	{"v6 time exceeded in transit about udp", U6, TIME_EXCEEDED6, 0, 0, WHOLE},
	{"v6 time exceeded in reassembly (code 1) about udp", U6, TIME_EXCEEDED6, 1, 0, 8},
	{"v6 no route (unreachable code 0) about tcp", T6, UNREACH6, 0, 0, 20},
	{"v6 port unreachable (code 4) about udp", U6, UNREACH6, 4, 0, 8},
	{"v6 packet too big quoting the ports only (44 bytes)", T6, TOO_BIG6, 1280, 4},
	{"v6 too big about udp, in a vlan tag", U6, TOO_BIG6, 1280, WHOLE, .vlan = true},
	{"v4 time exceeded (type 11) about udp", U4, TIME_EXCEEDED4, 0, 0, 8},
	{"v4 time exceeded in reassembly (code 1) about udp", U4, TIME_EXCEEDED4, 1, 0, WHOLE},
	{"v4 time exceeded about tcp", T4, TIME_EXCEEDED4, 0, 0, WHOLE},
	{"v4 net unreachable (3/0) about tcp", T4, UNREACH4, 0, 0, 8},
	{"v4 host unreachable (3/1) about tcp", T4, UNREACH4, 1, 0, 8},
	{"v4 port unreachable (3/3) about udp", U4, UNREACH4, 3, 0, 8},
	{"v4 administratively prohibited (3/13) about udp", U4, UNREACH4, 13, 0, WHOLE},
	{"v4 fragmentation needed (mtu 576) about udp", U4, FRAG_NEEDED, 576, 8},
	{"v4 fragmentation needed quoting the ports only (24 bytes)", T4, FRAG_NEEDED, 1400, 4},
	{"v4 quote with an option (IHL 6)", T4, FRAG_NEEDED, 1400, 8, opt_ra, sizeof(opt_ra)},
	{"v4 quote with 40 bytes of options (IHL 15), ports only", U4, TIME_EXCEEDED4, 0, 0, 4,
	 opt_max, sizeof(opt_max)},
	{"v4 error with an option in its own header", T4, UNREACH4, 1, 0, 8, .outer_opts = true},
	{"v4 error in a vlan tag", U4, UNREACH4, 3, 0, 8, .vlan = true},
};

static void test_types(void **state)
{
	static struct pkt in;
	char client[INET6_ADDRSTRLEN];

	for (size_t i = 0; i < sizeof(type_cases) / sizeof(type_cases[0]); i++) {
		const struct type_case *c = &type_cases[i];
		struct flow f = c->family == AF_INET ? FLOW4(client, 42000, 0, c->proto)
						     : FLOW6(client, 42000, 0, c->proto);
		struct pkt_spec r, o;
		struct quote q;

		/* A client of its own (outside policy 2's rule), and a VIP port by case. */
		if (c->family == AF_INET)
			snprintf(client, sizeof(client), "198.51.100.%zu", 10 + i);
		else
			snprintf(client, sizeof(client), "2001:db8:c::%zx", 0x100 + i);
		f.vport = 1000 + i;
		flow_reversal_shows(&f, POOL_A);
		r = flow_spec(&f, true);
		r.ip_opts = c->quote_opts;
		r.ip_opts_len = c->quote_opts_len;
		quote_make(&r, c->l4_bytes, &q);
		o = err_spec(f.family, f.vip);
		if (c->outer_opts) {
			o.ip_opts = opt_ra;
			o.ip_opts_len = sizeof(opt_ra);
		}
		if (c->vlan) {
			o.n_vlans = 1;
			o.vlan_tci[0] = 100;
		}
		err_build(o, c->type, c->code, c->info, &q, &in);
		err_to(c->name, &in, &f, pick(POOL_A, &f));
	}
	assert_int_equal(remembered_n(), 0);
}

/* Policy 2's client rule applies to the flow's client, not to the router that reports. */
static void test_client_rule(void **state)
{
	struct flow in_rule = FLOW4("198.51.100.200", 43000, 5353, IPPROTO_UDP);
	struct flow out_rule = FLOW4("198.51.100.20", 43000, 5353, IPPROTO_UDP);
	struct pkt_spec r = flow_spec(&out_rule, true), o = err_spec(AF_INET, VIP4);
	static struct pkt in;
	struct quote q;
	__u32 id;

	err_about(&in_rule, UNREACH4, 3, 0, 8, &in);
	err_to("port unreachable about a client of the rule: its SLB", &in, &in_rule, SLB_SINGLE);

	/* From a router inside the rule's prefix, about a client outside it: the pool. */
	flow_reversal_shows(&out_rule, POOL_A);
	id = pick(POOL_A, &out_rule);
	assert_int_not_equal(id, SLB_SINGLE);
	r = flow_spec(&out_rule, true);
	quote_make(&r, 8, &q);
	o.saddr = "198.51.100.129";
	err_build(o, UNREACH4, 3, 0, &q, &in);
	err_to("port unreachable from a router in the rule's prefix: the pool", &in, &out_rule, id);
}

/* --- 4. What is not an error about a VIP flow: passed (or dropped) untouched. --- */

static void test_not_followed(void **state)
{
	struct flow f4 = FLOW4("198.51.100.5", 44000, 443, IPPROTO_TCP);
	struct flow f6 = FLOW6("2001:db8:c::5", 44000, 443, IPPROTO_TCP);
	struct flow other = {AF_INET, "198.51.100.5", 44000, VIP_SINGLE, 80, IPPROTO_TCP, 5, 3};
	struct flow other6 = FLOW6("2001:db8:c::5", 44000, 443, IPPROTO_TCP);
	struct pkt_spec r4 = flow_spec(&f4, true), r6 = flow_spec(&f6, true), s;
	struct quote q4, q6, q;
	static struct pkt in;
	const enum vsn_reason pass = VSN_PASS_NOT_TCP_UDP;

	/* An established flow: whatever is not followed leaves it as it is. */
	flow_to("f4 established", &f4, pick(POOL_A, &f4), EV([VSN_FLOW_NEW] = 1));
	quote_make(&r4, 8, &q4);
	quote_make(&r6, WHOLE, &q6);

	/* Not an error type: even with a perfect quote. */
	err_build(err_spec(AF_INET, VIP4), 8, 0, 0x42420001, &q4, &in);
	err_not("v4 echo request to a VIP (its data a quote)", &in, pass);
	err_build(err_spec(AF_INET, VIP4), 0, 0, 0x42420001, &q4, &in);
	err_not("v4 echo reply to a VIP", &in, pass);
	err_build(err_spec(AF_INET, VIP4), PARAM_PROBLEM4, 0, 20u << 24, &q4, &in);
	err_not("v4 parameter problem", &in, pass);
	err_build(err_spec(AF_INET, VIP4), 5, 1, 0xcb007101, &q4, &in);
	err_not("v4 redirect", &in, pass);
	err_build(err_spec(AF_INET, VIP4), 4, 0, 0, &q4, &in);
	err_not("v4 source quench", &in, pass);
	err_build(err_spec(AF_INET6, VIP6), 128, 0, 0x42420001, &q6, &in);
	err_not("v6 echo request to a VIP (its data a quote)", &in, pass);
	err_build(err_spec(AF_INET6, VIP6), PARAM_PROBLEM6, 0, 40, &q6, &in);
	err_not("v6 parameter problem", &in, pass);
	err_build(err_spec(AF_INET6, VIP6), 135, 0, 0, &q6, &in);
	err_not("v6 neighbour solicitation", &in, pass);

	/* The quote's source is not the VIP the error is addressed to. */
	s = flow_spec(&f4, false);
	quote_make(&s, 8, &q);
	err_build(err_spec(AF_INET, VIP4), FRAG_NEEDED, 1400, &q, &in);
	err_not("v4 error quoting the client's packet to the VIP", &in, pass);
	s = flow_spec(&other, true);
	quote_make(&s, 8, &q);
	err_build(err_spec(AF_INET, VIP4), FRAG_NEEDED, 1400, &q, &in);
	err_not("v4 error to one VIP quoting another VIP's reply", &in, pass);
	s = flow_spec(&f6, false);
	quote_make(&s, WHOLE, &q);
	err_build(err_spec(AF_INET6, VIP6), TOO_BIG6, 1280, &q, &in);
	err_not("v6 error quoting the client's packet to the VIP", &in, pass);
	other6.vip = VIP_IPIP6;
	s = flow_spec(&other6, true);
	quote_make(&s, WHOLE, &q);
	err_build(err_spec(AF_INET6, VIP6), TOO_BIG6, 1280, &q, &in);
	err_not("v6 error to one VIP quoting another VIP's reply", &in, pass);

	/* The quoted packet is no TCP or UDP. */
	s = r4;
	s.l4 = IPPROTO_ICMP;
	quote_make(&s, 8, &q);
	err_build(err_spec(AF_INET, VIP4), UNREACH4, 1, 0, &q, &in);
	err_not("v4 error quoting an ICMP packet of the VIP", &in, pass);
	s = r6;
	s.l4 = IPPROTO_ICMPV6;
	quote_make(&s, 8, &q);
	err_build(err_spec(AF_INET6, VIP6), UNREACH6, 0, 0, &q, &in);
	err_not("v6 error quoting an ICMPv6 packet of the VIP", &in, pass);
	s = r4;
	s.l4 = 47; /* GRE: the builder writes its payload raw */
	quote_make(&s, 8, &q);
	err_build(err_spec(AF_INET, VIP4), UNREACH4, 2, 0, &q, &in);
	err_not("v4 error quoting a GRE packet of the VIP", &in, pass);

	/* The quote too short to hold the ports, or no IP header of the family. */
	quote_make(&r4, 3, &q);
	err_build(err_spec(AF_INET, VIP4), FRAG_NEEDED, 1400, &q, &in);
	err_not("v4 quote with 3 bytes of the transport header", &in, pass);
	s = r4;
	s.ip_opts = opt_max;
	s.ip_opts_len = sizeof(opt_max);
	quote_make(&s, 3, &q);
	err_build(err_spec(AF_INET, VIP4), FRAG_NEEDED, 1400, &q, &in);
	err_not("v4 quote with IHL 15 and 3 bytes after it", &in, pass);
	quote_make(&r4, 0, &q);
	q.len = 19;
	err_build(err_spec(AF_INET, VIP4), FRAG_NEEDED, 1400, &q, &in);
	err_not("v4 quote cut inside the IP header", &in, pass);
	q.len = 0;
	err_build(err_spec(AF_INET, VIP4), FRAG_NEEDED, 1400, &q, &in);
	err_not("v4 error without a quote", &in, pass);
	quote_make(&r6, 3, &q);
	err_build(err_spec(AF_INET6, VIP6), TOO_BIG6, 1280, &q, &in);
	err_not("v6 quote with 3 bytes of the transport header", &in, pass);
	q.len = 39;
	err_build(err_spec(AF_INET6, VIP6), TOO_BIG6, 1280, &q, &in);
	err_not("v6 quote cut inside the IPv6 header", &in, pass);
	s = r4;
	s.ihl = 4;
	quote_make(&s, 8, &q);
	err_build(err_spec(AF_INET, VIP4), FRAG_NEEDED, 1400, &q, &in);
	err_not("v4 quote with IHL 4", &in, pass);
	err_build(err_spec(AF_INET, VIP4), FRAG_NEEDED, 1400, &q6, &in);
	err_not("v4 error quoting an IPv6 packet", &in, pass);
	quote_make(&r4, WHOLE, &q);
	err_build(err_spec(AF_INET6, VIP6), TOO_BIG6, 1280, &q, &in);
	err_not("v6 error quoting an IPv4 packet", &in, pass);
	/* ICMP, not ICMPv6, in IPv6: quoting IPv4 from the VIP's last 32 bits, 0.0.0.16. */
	s = r4;
	s.saddr = "0.0.0.16";
	quote_make(&s, 8, &q);
	s = err_spec(AF_INET6, VIP6);
	s.l4 = IPPROTO_ICMP;
	err_build(s, FRAG_NEEDED, 1400, &q, &in);
	err_not("ICMP (not ICMPv6) in IPv6, an ICMP error's layout", &in, pass);

	/* IPv6 quotes with extension headers are not followed. */
	s = r6;
	s.n_ext = 1;
	s.ext[0] = (struct pkt_ext){.type = PKT_EXT_HOP};
	quote_make(&s, WHOLE, &q);
	err_build(err_spec(AF_INET6, VIP6), TOO_BIG6, 1280, &q, &in);
	err_not("v6 quote with a hop-by-hop header", &in, pass);
	s.ext[0] = (struct pkt_ext){.type = PKT_EXT_DEST, .hdrlen = 1};
	quote_make(&s, WHOLE, &q);
	err_build(err_spec(AF_INET6, VIP6), TOO_BIG6, 1280, &q, &in);
	err_not("v6 quote with a destination options header", &in, pass);
	s.ext[0] = (struct pkt_ext){.type = PKT_EXT_FRAGMENT};
	quote_make(&s, WHOLE, &q);
	err_build(err_spec(AF_INET6, VIP6), TIME_EXCEEDED6, 0, 0, &q, &in);
	err_not("v6 quote with an (atomic) fragment header", &in, pass);

	/* A truncated ICMP header: malformed. */
	err_build(err_spec(AF_INET, VIP4), FRAG_NEEDED, 1400, &q4, &in);
	pkt_cut_fix(&in, pkt_mark(&in, PKT_AT_L4) + 7);
	err_not("v4 error with 7 bytes of ICMP header", &in, VSN_PASS_MALFORMED_L4);
	pkt_cut_fix(&in, pkt_mark(&in, PKT_AT_L4));
	err_not("v4 ICMP without a header", &in, VSN_PASS_MALFORMED_L4);
	err_build(err_spec(AF_INET6, VIP6), TOO_BIG6, 1280, &q6, &in);
	pkt_cut_fix(&in, pkt_mark(&in, PKT_AT_L4) + 4);
	err_not("v6 error with 4 bytes of ICMPv6 header", &in, VSN_PASS_MALFORMED_L4);
	err_build(err_spec(AF_INET, VIP4), 8, 0, 0, &q4, &in);
	pkt_cut_fix(&in, pkt_mark(&in, PKT_AT_L4) + 7);
	err_not("v4 echo request with 7 bytes of header", &in, VSN_PASS_MALFORMED_L4);

	/* To no VIP: passed, whatever it quotes. */
	s = r4;
	s.saddr = NO_VIP4;
	quote_make(&s, 8, &q);
	err_build(err_spec(AF_INET, NO_VIP4), FRAG_NEEDED, 1400, &q, &in);
	err_not("v4 error to no VIP about its own packet", &in, VSN_PASS_NO_VIP);
	s = r6;
	s.saddr = NO_VIP6;
	quote_make(&s, WHOLE, &q);
	err_build(err_spec(AF_INET6, NO_VIP6), TOO_BIG6, 1280, &q, &in);
	err_not("v6 error to no VIP about its own packet", &in, VSN_PASS_NO_VIP);
	/* Parsing comes before the match: a quote from another address is no error of ours. */
	err_build(err_spec(AF_INET, NO_VIP4), FRAG_NEEDED, 1400, &q4, &in);
	err_not("v4 error to no VIP quoting a VIP's reply", &in, pass);

	/* A VIP's port without a policy: the flow's packets are dropped, so is its error. */
	other.vport = 81;
	s = flow_spec(&other, true);
	quote_make(&s, 8, &q);
	err_build(err_spec(AF_INET, VIP_SINGLE), FRAG_NEEDED, 1400, &q, &in);
	err_not("v4 error about a VIP port without a policy", &in, VSN_DROP_NO_POLICY);

	flow_to("f4 after all that", &f4, pick(POOL_A, &f4), EV([VSN_FLOW_HIT] = 1));
}

/* --- 5. The flow's SLB down or draining. --- */

static void test_slb_down(void **state)
{
	struct flow f4 = FLOW4("198.51.100.6", 45000, 443, IPPROTO_TCP);
	struct flow u6 = FLOW6("2001:db8:c::6", 45000, 53, IPPROTO_UDP);
	struct flow s1 = {AF_INET, "198.51.100.7", 45000, VIP_SINGLE, 80, IPPROTO_TCP, 5, 3};
	struct flow s2 = s1;
	static struct pkt in, in6;
	__u32 a4, a6, n4, n6;

	s2.client = "198.51.100.8";
	a4 = pick(POOL_A, &f4);
	a6 = pick(POOL_A, &u6);
	flow_to("f4 established", &f4, a4, EV([VSN_FLOW_NEW] = 1));
	flow_to("u6 established", &u6, a6, EV([VSN_FLOW_NEW] = 1));
	err_about(&f4, FRAG_NEEDED, 1400, 8, &in);
	err_about(&u6, TOO_BIG6, 1280, WHOLE, &in6);

	/* Draining keeps established flows: their errors too. */
	set_state(a4, VSN_SLB_DRAIN);
	if (a6 != a4)
		set_state(a6, VSN_SLB_DRAIN);
	err_to("v4 error, the flow's SLB draining: still its SLB", &in, &f4, a4);
	err_to("v6 error, the flow's SLB draining: still its SLB", &in6, &u6, a6);

	/* Down: picked again like the flow, nothing remembered, no re-pick counted. */
	set_state(a4, VSN_SLB_DOWN);
	set_state(a6, VSN_SLB_DOWN);
	n4 = pick(POOL_A, &f4);
	n6 = pick(POOL_A, &u6);
	assert_int_not_equal(n4, a4);
	assert_int_not_equal(n6, a6);
	err_to("v4 error, the flow's SLB down: the pool's pick without it", &in, &f4, n4);
	err_to("v6 error, the flow's SLB down: the pool's pick without it", &in6, &u6, n6);
	assert_int_equal(remembered(&f4, NULL), a4);
	assert_int_equal(remembered(&u6, NULL), a6);
	/* The flow's next packet is re-picked to where its errors went. */
	flow_to("f4 after its SLB went down", &f4, n4, EV([VSN_FLOW_REPICK_DOWN] = 1));
	assert_int_equal(remembered(&f4, NULL), n4);

	/* A single-SLB destination. */
	flow_to("s1 established", &s1, SLB_SINGLE, EV([VSN_FLOW_NEW] = 1));
	set_state(SLB_SINGLE, VSN_SLB_DRAIN);
	err_about(&s1, UNREACH4, 1, 0, 8, &in);
	err_to("single SLB draining: error about its flow forwarded", &in, &s1, SLB_SINGLE);
	err_about(&s2, UNREACH4, 1, 0, 8, &in);
	err_not("single SLB draining: error about no remembered flow dropped", &in,
		VSN_DROP_SLB_DOWN);
	set_state(SLB_SINGLE, VSN_SLB_DOWN);
	err_about(&s1, UNREACH4, 1, 0, 8, &in);
	err_not("single SLB down: error about its flow dropped", &in, VSN_DROP_SLB_DOWN);
	assert_int_equal(remembered(&s1, NULL), SLB_SINGLE);
	assert_int_equal(remembered(&s2, NULL), 0);
}

/* --- 6. An ipip SLB: the error encapsulated whole. --- */

static void test_ipip(void **state)
{
	struct flow t4 = {AF_INET, "198.51.100.9", 46000, VIP_IPIP4, 443, IPPROTO_TCP, 6, 4};
	struct flow t6 = {AF_INET6, "2001:db8:c::9", 46000, VIP_IPIP6, 443, IPPROTO_TCP, 7, 4};
	struct flow u6 = {AF_INET6, "2001:db8:c::9", 46001, VIP_IPIP6, 53, IPPROTO_UDP, 8, 4};
	struct pkt_spec r = flow_spec(&t4, true), o = err_spec(AF_INET, VIP_IPIP4);
	static struct pkt in;
	struct quote q;

	err_about(&t4, FRAG_NEEDED, 1400, 8, &in);
	err_to("v4 fragmentation needed to an ipip SLB: 4-in-4", &in, &t4, SLB_IPIP4);
	err_about(&t4, TIME_EXCEEDED4, 0, 0, WHOLE, &in);
	err_to("v4 time exceeded to an ipip SLB", &in, &t4, SLB_IPIP4);
	err_about(&t6, TOO_BIG6, 1280, WHOLE, &in);
	err_to("v6 packet too big to an ipip SLB: 6-in-6", &in, &t6, SLB_IPIP6);
	err_about(&u6, UNREACH6, 4, 0, 8, &in);
	err_to("v6 port unreachable to an ipip SLB", &in, &u6, SLB_IPIP6);

	/* DF of the error is copied to the outer header; TTL 1 cannot take another hop. */
	quote_make(&r, 8, &q);
	o.frag_off = 0x4000;
	err_build(o, FRAG_NEEDED, 1400, &q, &in);
	err_to("v4 error with DF to an ipip SLB", &in, &t4, SLB_IPIP4);
	o.ttl = 1;
	err_build(o, FRAG_NEEDED, 1400, &q, &in);
	err_not("v4 error with TTL 1 to an ipip SLB: passed", &in, VSN_PASS_TTL_EXCEEDED);
	assert_int_equal(remembered(&t4, NULL), 0);
}

/* --- 7. Fragments, and an ipip SLB's MTU: errors never cause errors. --- */

static void test_fragments_and_mtu(void **state)
{
	struct flow f4 = FLOW4("198.51.100.50", 47000, 443, IPPROTO_TCP);
	struct flow t6 = {AF_INET6, "2001:db8:c::52", 47002, VIP_IPIP6, 443, IPPROTO_TCP, 7, 4};
	struct pkt_spec r = flow_spec(&f4, true), o = err_spec(AF_INET, VIP4);
	const struct slb_def *d = &slbs[SLB_IPIP6];
	struct vsn_dp_slb slb = {.id = SLB_IPIP6,
				 .forward = VSN_FORWARD_IPIP,
				 .state = VSN_SLB_UP,
				 .nexthop_static = true,
				 .ifindex = env.lo_ifindex};
	static struct pkt in;
	struct quote q;

	/* A quoted later fragment holds data where the ports would be. */
	r.frag_off = 185;
	quote_make(&r, 8, &q);
	memcpy(q.b + 20, "ABCDEFGH", 8);
	err_build(o, TIME_EXCEEDED4, 0, 0, &q, &in);
	err_not("v4 time exceeded quoting a later fragment", &in, VSN_PASS_NOT_TCP_UDP);

	/* An error that is itself a first fragment is not followed. */
	r.frag_off = 0;
	quote_make(&r, WHOLE, &q);
	o.frag_off = 0x2000;
	err_build(o, FRAG_NEEDED, 1400, &q, &in);
	err_not("v4 error, itself a first fragment", &in, VSN_PASS_NOT_TCP_UDP);

	/* Too big for its ipip SLB (mtu 150): passed, never answered with an error. */
	memcpy(slb.dmac, d->dmac, 6);
	memcpy(slb.smac, d->smac, 6);
	assert_int_equal(vsn_addr_parse(d->addr, &slb.addr), 0);
	slb.mtu = 150;
	assert_int_equal(vsn_dp_slb_set(env.dp, &slb), 0);
	err_about(&t6, TOO_BIG6, 1280, WHOLE, &in); /* 132 bytes, 172 encapsulated */
	err_not("v6 packet too big, too big for its ipip SLB: passed", &in, VSN_PASS_TOO_BIG);
	slb.mtu = 0;
	assert_int_equal(vsn_dp_slb_set(env.dp, &slb), 0);
	err_to("v6 packet too big, the SLB's mtu unknown again: forwarded", &in, &t6, SLB_IPIP6);
}

static int setup(void **state)
{
	struct vsn_dp_slb ipip = {
		.forward = VSN_FORWARD_IPIP, .state = VSN_SLB_UP, .nexthop_static = true};
	struct vsn_addr u4, u6;
	int r;

	r = h_open(&env);
	if (r) {
		fprintf(stderr, "setup: h_open: %s\n", strerror(-r));
		return -1;
	}
	for (__u32 id = 1; id < N_SLBS && !r; id++) {
		const struct slb_def *d = &slbs[id];

		if (!d->ipip) {
			r = h_slb_static(&env, id, d->addr,
					 d->vt0 ? env.vt0_ifindex : env.lo_ifindex, d->dmac,
					 d->smac);
			continue;
		}
		ipip.id = id;
		ipip.ifindex = env.lo_ifindex;
		memcpy(ipip.dmac, d->dmac, 6);
		memcpy(ipip.smac, d->smac, 6);
		r = vsn_addr_parse(d->addr, &ipip.addr);
		if (!r)
			r = vsn_dp_slb_set(env.dp, &ipip);
	}
	if (!r)
		r = vsn_addr_parse(UNDERLAY4, &u4);
	if (!r)
		r = vsn_addr_parse(UNDERLAY6, &u6);
	if (!r)
		r = vsn_dp_underlay_set(env.dp, &u4, &u6);
	if (!r)
		return 0;
	fprintf(stderr, "setup: %s\n", strerror(-r));
	h_close(&env);
	return -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_established, reset),
		cmocka_unit_test_setup(test_no_entry, reset),
		cmocka_unit_test_setup(test_types, reset),
		cmocka_unit_test_setup(test_client_rule, reset),
		cmocka_unit_test_setup(test_not_followed, reset),
		cmocka_unit_test_setup(test_slb_down, reset),
		cmocka_unit_test_setup(test_ipip, reset),
		cmocka_unit_test_setup(test_fragments_and_mtu, reset),
	};
	int r = h_init();

	if (r)
		return r;
	/* No teardown: h_close() after the group, whatever became of it. */
	r = cmocka_run_group_tests(tests, setup, NULL);
	h_close(&env);
	return r;
}
