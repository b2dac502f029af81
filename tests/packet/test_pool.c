/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SLB pools and the connection table, through BPF_PROG_TEST_RUN (ingress lo):
 * which SLB each new flow of a pool goes to (Maglev), and what remembered
 * flows do when sets change, SLBs go down or drain, and inserts are bounded;
 * a client's SYN on a remembered 5-tuple is a new connection, picked afresh.
 *
 *   SLB 1  10.0.0.1  egress lo   -> XDP_TX         pool A (id 10): 1 (weight 1),
 *   SLB 2  10.0.0.2  egress vt0  -> XDP_REDIRECT                   2 (weight 2),
 *   SLB 3  10.0.0.3  egress lo                                     3 (weight 3)
 *   SLB 4  10.0.0.4  egress lo                     pool B (id 20): 4 (1), 5 (1)
 *   SLB 5  10.0.0.5  egress vt0
 *   SLB 6  10.0.0.6  egress lo                     single-SLB destination
 *   SLB 7  2001:db8:5::7, ipip (only in sets that must be refused)
 *
 *   policy  VIP            proto port  destination       service
 *   1       192.0.2.10     tcp   any   pool A (or B)     1
 *   2       2001:db8::10   tcp   any   pool A (or B)     1
 *   3       192.0.2.20     tcp   80    SLB 6             2
 *
 * Every expected SLB is computed here from the definitions alone
 * (vsn_maglev_build, vsn_flow_hash, vsn_maglev_slot, the walk past SLBs that
 * are not up) and must also be what vsn_dp_predict says. Every frame is
 * checked whole, with the policy/service/SLB/reason counters, and with the
 * exact move of every connection-table counter (vsn_cnt_flow).
 */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "harness.h"
#include "maglev.h"
#include "vsn/hash.h"

#define VIP4 "192.0.2.10"
#define VIP6 "2001:db8::10"
#define VIP_SINGLE "192.0.2.20"

#define POOL_A 10
#define POOL_B 20
#define SLB_SINGLE 6
#define SLB_IPIP6 7
#define SLB_UNDEFINED 12
#define N_SLB_IDS 13

/* A small prime keeps the tables quick to build; one run uses the default. */
#define M_SMALL 251
#define SEED 0x5eed1234u

struct slb_def {
	const char *addr;
	bool vt0; /* egress vt0 (redirect), else lo (XDP_TX) */
	__u8 dmac[6];
	__u8 smac[6];
};

#define SLB_DEF(id, addr, vt0) \
	[id] = {addr, vt0, {0x02, 0x51, 0, 0, id, 0xd}, {0x02, 0x51, 0, 0, id, 0x5}}

static const struct slb_def slbs[] = {
	SLB_DEF(1, "10.0.0.1", false), SLB_DEF(2, "10.0.0.2", true), SLB_DEF(3, "10.0.0.3", false),
	SLB_DEF(4, "10.0.0.4", false), SLB_DEF(5, "10.0.0.5", true), SLB_DEF(6, "10.0.0.6", false),
};
#define N_L2_SLBS 6

static const struct vsn_dp_pool_member a_members[] = {{1, 1}, {2, 2}, {3, 3}};
static const struct vsn_dp_pool_member b_members[] = {{4, 1}, {5, 1}};
static const struct vsn_dp_pool pool_a = {POOL_A, 3, a_members};
static const struct vsn_dp_pool pool_b = {POOL_B, 2, b_members};

static struct h_env env;
/* The SLB states as this test set them. */
static enum vsn_slb_state slb_state[N_SLB_IDS];
/* The running set's table size, seed and generation. */
static struct {
	__u32 m;
	__u32 seed;
	__u64 generation;
} cur;
/* vsn_dp_flow_limit_get right after load. */
static __u32 default_limit;

/* Expected moves of the connection-table counters, by enum vsn_flow_event. */
#define EV(...) ((const __u64[VSN_FLOW_EVENT_MAX]){__VA_ARGS__})
#define EV_NONE EV(0)
#define EV_NEW EV([VSN_FLOW_NEW] = 1)
#define EV_HIT EV([VSN_FLOW_HIT] = 1)
#define EV_LIMITED EV([VSN_FLOW_INSERT_LIMITED] = 1)
#define EV_REPICK EV([VSN_FLOW_REPICK_DOWN] = 1)
#define EV_REHASH EV([VSN_FLOW_REHASH] = 1)
#define EV_SYN_REPICK EV([VSN_FLOW_SYN_REPICK] = 1)

/* A TCP flow from a client to a VIP. */
struct flow {
	int family;
	char saddr[INET6_ADDRSTRLEN];
	const char *daddr;
	__u16 sport;
	__u16 dport;
	__u32 policy_id;
	__u32 service_id;
};

/* Every flow_next() is a flow no frame used before. */
static unsigned int flow_seq;

static void flow_next(struct flow *f, int family)
{
	static const __u16 dports[] = {80, 443, 8080};
	unsigned int n = flow_seq++;

	memset(f, 0, sizeof(*f));
	f->family = family;
	if (family == AF_INET) {
		snprintf(f->saddr, sizeof(f->saddr), "198.18.%u.%u", n / 250 % 256, n % 250 + 1);
		f->daddr = VIP4;
		f->policy_id = 1;
	} else {
		snprintf(f->saddr, sizeof(f->saddr), "2001:db8:c::%x:%x", n >> 16, n & 0xffff);
		f->daddr = VIP6;
		f->policy_id = 2;
	}
	f->sport = 1024 + n * 7 % 60000;
	f->dport = dports[n % 3];
	f->service_id = 1;
}

/* A new flow to the single-SLB VIP. */
static void flow_single(struct flow *f)
{
	flow_next(f, AF_INET);
	f->daddr = VIP_SINGLE;
	f->dport = 80;
	f->policy_id = 3;
	f->service_id = 2;
}

/*
 * The flow's connection-table key, built here from include/vsn/hash.h's
 * description (raw address words, IPv4 v4-mapped; the ports word with the
 * source port, as loaded, in the high half), not by the library.
 */
static void flow_key(const struct flow *f, struct vsn_flow_key *k)
{
	__be32 s, d;

	memset(k, 0, sizeof(*k));
	if (f->family == AF_INET) {
		assert_int_equal(inet_pton(AF_INET, f->saddr, &s), 1);
		assert_int_equal(inet_pton(AF_INET, f->daddr, &d), 1);
		k->src[2] = k->dst[2] = VSN_V4MAPPED_WORD2;
		k->src[3] = s;
		k->dst[3] = d;
	} else {
		assert_int_equal(inet_pton(AF_INET6, f->saddr, k->src), 1);
		assert_int_equal(inet_pton(AF_INET6, f->daddr, k->dst), 1);
	}
	k->ports = (__u32)htons(f->sport) << 16 | htons(f->dport);
	k->proto = IPPROTO_TCP;
}

/*
 * The SLB a new flow of pool p gets under the running set, computed from the
 * definitions: the Maglev table of the members that are up (all of them if
 * none is), the flow's entry, then forward past SLBs that are not up, at most
 * VSN_MAGLEV_WALK entries. 0: none. Checked against vsn_dp_predict.
 */
static __u32 expect_pick(const struct vsn_dp_pool *p, const struct flow *f)
{
	struct vsn_maglev_member mb[8];
	struct vsn_flow_key k, lib_k;
	struct vsn_addr src, dst;
	__u32 *table, slot, id = 0, predicted = 0;
	size_t n = 0;
	int r;

	assert_true(p->n_members <= 8);
	for (size_t j = 0; j < p->n_members; j++)
		if (slb_state[p->members[j].slb_id] == VSN_SLB_UP)
			mb[n++] = (struct vsn_maglev_member){p->members[j].slb_id,
							     p->members[j].weight};
	if (!n)
		for (; n < p->n_members; n++)
			mb[n] = (struct vsn_maglev_member){p->members[n].slb_id,
							   p->members[n].weight};
	table = calloc(cur.m, sizeof(*table));
	assert_non_null(table);
	assert_int_equal(vsn_maglev_build(mb, n, cur.m, cur.seed, table), 0);
	flow_key(f, &k);
	slot = vsn_maglev_slot(vsn_flow_hash(k.src, k.dst, k.ports, IPPROTO_TCP, cur.seed), cur.m);
	for (int i = 0; i < VSN_MAGLEV_WALK && !id; i++) {
		if (slb_state[table[slot]] == VSN_SLB_UP)
			id = table[slot];
		slot = (slot + 1) % cur.m;
	}
	free(table);

	/* The library's key and prediction must agree. */
	assert_int_equal(vsn_addr_parse(f->saddr, &src), 0);
	assert_int_equal(vsn_addr_parse(f->daddr, &dst), 0);
	vsn_flow_key_make(&src, f->sport, &dst, f->dport, IPPROTO_TCP, &lib_k);
	assert_memory_equal(&lib_k, &k, sizeof(k));
	r = vsn_dp_predict(env.dp, p->id, &k, &predicted);
	if (id)
		assert_int_equal(r, 0);
	else
		assert_int_equal(r, -EHOSTDOWN);
	assert_int_equal(predicted, id);
	return id;
}

static void events_read(__u64 ret[VSN_FLOW_EVENT_MAX])
{
	struct vsn_counter c;

	for (__u32 i = 0; i < VSN_FLOW_EVENT_MAX; i++) {
		assert_int_equal(vsn_dp_counter_read(env.dp, VSN_CNT_FLOW, i, &c), 0);
		assert_int_equal(c.bytes, 0);
		ret[i] = c.packets;
	}
}

/* TCP flags (the byte at offset 13 of the header). */
#define TCP_SYN 0x02
#define TCP_ACK 0x10
#define TCP_PSH_ACK 0x18

/*
 * Run one frame of flow f with TCP flags `flags` (0: PSH|ACK, a packet of an
 * established connection; a SYN carries an MSS option and no payload, as a
 * client's does): forwarded to slb_id whole (its MACs, its egress), or with
 * slb_id 0 dropped as drop_slb_down; the connection-table counters must
 * move by exactly ev.
 */
static void run_flow_flags(const char *what, const struct flow *f, __u8 flags, __u32 slb_id,
			   const __u64 *ev)
{
	static const __u8 mss[] = {2, 4, 0x05, 0xb4};
	static struct pkt in, want;
	__u64 before[VSN_FLOW_EVENT_MAX], after[VSN_FLOW_EVENT_MAX];
	struct pkt_spec s = {
		.dmac = H_NODE_MAC,
		.smac = H_CLIENT_MAC,
		.l3 = f->family,
		.saddr = f->saddr,
		.daddr = f->daddr,
		.l4 = IPPROTO_TCP,
		.sport = f->sport,
		.dport = f->dport,
		.payload_len = 10,
		.tcp_flags = flags,
	};
	struct h_expect e = {.action = XDP_DROP, .reason = VSN_DROP_SLB_DOWN, .out = &in};
	char name[160];
	int bad = 0;

	if (flags & TCP_SYN) {
		s.tcp_opts = mss;
		s.tcp_opts_len = sizeof(mss);
		s.payload_len = 0;
	}
	snprintf(name, sizeof(name), "%s: %s.%u > %s.%u flags %#x", what, f->saddr, f->sport,
		 f->daddr, f->dport, flags ? flags : TCP_PSH_ACK);
	assert_int_equal(pkt_build(&s, &in), 0);
	if (slb_id) {
		const struct slb_def *d = &slbs[slb_id];

		assert_true(slb_id <= N_L2_SLBS);
		memcpy(s.dmac, d->dmac, 6);
		memcpy(s.smac, d->smac, 6);
		assert_int_equal(pkt_build(&s, &want), 0);
		e.action = d->vt0 ? XDP_REDIRECT : XDP_TX;
		e.reason = d->vt0 ? VSN_FWD_REDIRECT : VSN_FWD_TX;
		e.out = &want;
		e.policy_id = f->policy_id;
		e.service_id = f->service_id;
		e.slb_id = slb_id;
	}
	events_read(before);
	h_check(&env, name, &in, &e);
	events_read(after);
	for (int i = 0; i < VSN_FLOW_EVENT_MAX; i++) {
		if (after[i] - before[i] == ev[i])
			continue;
		print_error("%s: flow counter %s moved by %llu, expected %llu\n", name,
			    vsn_flow_event_name(i), (unsigned long long)(after[i] - before[i]),
			    (unsigned long long)ev[i]);
		bad++;
	}
	if (bad)
		fail_msg("%s: connection-table counters, see above", name);
}

static void run_flow(const char *what, const struct flow *f, __u32 slb_id, const __u64 *ev)
{
	run_flow_flags(what, f, 0, slb_id, ev);
}

/* --- The connection table as vsn_dp_flows_foreach lists it. --- */

#define MAX_LISTED 1024

struct flow_list {
	size_t n;
	struct vsn_flow_key k[MAX_LISTED];
	struct vsn_flow v[MAX_LISTED];
};

static int list_cb(const struct vsn_flow_key *k, const struct vsn_flow *f, void *arg)
{
	struct flow_list *l = arg;

	if (l->n == MAX_LISTED)
		return -E2BIG;
	l->k[l->n] = *k;
	l->v[l->n++] = *f;
	return 0;
}

static struct flow_list *flows_list(void)
{
	static struct flow_list l;

	l.n = 0;
	assert_int_equal(vsn_dp_flows_foreach(env.dp, list_cb, &l), 0);
	return &l;
}

/* f's entry in l, or NULL. */
static const struct vsn_flow *listed(const struct flow_list *l, const struct flow *f)
{
	struct vsn_flow_key k;

	flow_key(f, &k);
	for (size_t i = 0; i < l->n; i++)
		if (!memcmp(&l->k[i], &k, sizeof(k)))
			return &l->v[i];
	return NULL;
}

static void expect_listed(const struct flow_list *l, const struct flow *f, __u32 slb_id,
			  __u64 generation)
{
	const struct vsn_flow *v = listed(l, f);

	if (!v)
		fail_msg("flow %s.%u > %s.%u is not in the connection table", f->saddr, f->sport,
			 f->daddr, f->dport);
	assert_int_equal(v->slb_id, slb_id);
	assert_int_equal(v->epoch, (__u32)generation);
}

static void flows_clear(void)
{
	assert_int_equal(vsn_dp_flows_clear(env.dp), 0);
	assert_int_equal(flows_list()->n, 0);
}

/* --- Sets and SLB states. --- */

static __u64 running_generation(void)
{
	struct vsn_meta m;

	assert_int_equal(vsn_dp_meta(env.dp, &m), 0);
	return m.generation;
}

static void policy(struct vsn_dp_policy *p, const char *vip, __u16 port, __u32 slb_id,
		   __u32 pool_id, __u32 policy_id, __u32 service_id, enum vsn_on_change oc)
{
	memset(p, 0, sizeof(*p));
	assert_int_equal(vsn_addr_parse(vip, &p->vip), 0);
	p->proto = IPPROTO_TCP;
	p->port = port;
	p->slb_id = slb_id;
	p->pool_id = pool_id;
	p->policy_id = policy_id;
	p->service_id = service_id;
	p->on_change = oc;
}

/*
 * Apply the next generation: policies 1 and 2 (VIP4, VIP6, tcp any port) to
 * pool pool_id with on_change oc, policy 3 (VIP_SINGLE tcp/80) to SLB 6.
 */
static void apply_set(__u32 pool_id, enum vsn_on_change oc, const struct vsn_dp_pool *pools,
		      size_t n_pools, __u32 m, __u32 seed)
{
	struct vsn_dp_policy pol[3];
	struct vsn_dp_set set = {
		.generation = running_generation() + 1,
		.n_policies = 3,
		.policies = pol,
		.n_pools = n_pools,
		.pools = pools,
		.maglev_size = m,
		.hash_seed = seed,
	};
	size_t bad = SIZE_MAX;
	int r;

	policy(&pol[0], VIP4, 0, 0, pool_id, 1, 1, oc);
	policy(&pol[1], VIP6, 0, 0, pool_id, 2, 1, oc);
	policy(&pol[2], VIP_SINGLE, 80, SLB_SINGLE, 0, 3, 2, oc);
	r = vsn_dp_set_apply(env.dp, &set, &bad);
	if (r)
		fail_msg("apply generation %llu: %s (entry %zu)",
			 (unsigned long long)set.generation, strerror(-r), bad);
	assert_int_equal(running_generation(), set.generation);
	cur.m = m ? m : VSN_MAGLEV_DEFAULT_SIZE;
	cur.seed = seed;
	cur.generation = set.generation;
}

/* Pools A and B, in this order; and the other way round. */
static const struct vsn_dp_pool pools_ab[] = {{POOL_A, 3, a_members}, {POOL_B, 2, b_members}};
static const struct vsn_dp_pool pools_ba[] = {{POOL_B, 2, b_members}, {POOL_A, 3, a_members}};

static void set_state(__u32 id, enum vsn_slb_state st)
{
	assert_int_equal(vsn_dp_slb_set_state(env.dp, id, st), 0);
	slb_state[id] = st;
}

static void all_up(void)
{
	for (__u32 id = 1; id <= N_L2_SLBS; id++)
		set_state(id, VSN_SLB_UP);
}

/* What every test starts from, whatever a failed one before it left. */
static cpu_set_t all_cpus;

static int reset(void **state)
{
	for (__u32 id = 1; id <= N_L2_SLBS; id++) {
		if (vsn_dp_slb_set_state(env.dp, id, VSN_SLB_UP))
			return -1;
		slb_state[id] = VSN_SLB_UP;
	}
	if (sched_setaffinity(0, sizeof(all_cpus), &all_cpus))
		return -1;
	return vsn_dp_flow_limit_set(env.dp, 0) ? -1 : 0;
}

/* --- 1. Which SLB a new flow of a pool gets. --- */

static void pick_run(const char *what, __u32 m, __u32 seed, int n4, int n6)
{
	static struct flow fl[400];
	static __u32 got[400];
	const struct flow_list *l;
	unsigned int count[N_SLB_IDS] = {0};
	int n = n4 + n6;

	assert_true(n <= 400);
	/* Pool A is the set's second pool: its index, not its id, is in the policy. */
	apply_set(POOL_A, VSN_ON_CHANGE_PRESERVE, pools_ba, 2, m, seed);
	flows_clear();
	for (int i = 0; i < n; i++) {
		flow_next(&fl[i], i < n4 ? AF_INET : AF_INET6);
		got[i] = expect_pick(&pool_a, &fl[i]);
		assert_true(got[i] >= 1 && got[i] <= 3);
		run_flow(what, &fl[i], got[i], EV_NEW);
		count[got[i]]++;
	}
	print_message("[          ] %s (m %u, seed %#x): %d flows, SLB 1: %u, 2: %u, 3: %u\n", what,
		      cur.m, seed, n, count[1], count[2], count[3]);
	/* Fixed flows, fixed seed: a deterministic outcome, and every member has flows. */
	for (__u32 id = 1; id <= 3; id++)
		assert_true(count[id] > 0);
	/* Each one remembered, with its SLB and the generation. */
	l = flows_list();
	assert_int_equal(l->n, n);
	for (int i = 0; i < n; i++)
		expect_listed(l, &fl[i], got[i], cur.generation);
}

static void test_pick(void **state)
{
	pick_run("pick", M_SMALL, SEED, 250, 40);
	pick_run("pick", 1009, 0x9e3779b9u, 100, 20);
	pick_run("pick at the default size", 0, 0xfeedf00du, 60, 20);
}

/* --- 2. An established flow goes to its remembered SLB. --- */

static void test_lru_hit(void **state)
{
	struct flow f4, f6;
	const struct flow_list *l;
	__u32 id4, id6;

	apply_set(POOL_A, VSN_ON_CHANGE_PRESERVE, pools_ab, 2, M_SMALL, SEED);
	flows_clear();
	flow_next(&f4, AF_INET);
	flow_next(&f6, AF_INET6);
	id4 = expect_pick(&pool_a, &f4);
	id6 = expect_pick(&pool_a, &f6);
	run_flow("first packet", &f4, id4, EV_NEW);
	run_flow("second packet", &f4, id4, EV_HIT);
	l = flows_list();
	assert_int_equal(l->n, 1);
	expect_listed(l, &f4, id4, cur.generation);

	run_flow("first packet", &f6, id6, EV_NEW);
	run_flow("second packet", &f6, id6, EV_HIT);
	run_flow("third packet", &f6, id6, EV_HIT);
	l = flows_list();
	assert_int_equal(l->n, 2);
	expect_listed(l, &f4, id4, cur.generation);
	expect_listed(l, &f6, id6, cur.generation);
}

/* --- 3. A new set: established flows keep their SLB (preserve) or move (rehash). --- */

#define N_EST 24

static void test_preserve_rehash(void **state)
{
	static struct flow fl[N_EST];
	__u32 got[N_EST];
	const struct flow_list *l;
	struct flow f;
	__u64 g;

	/* Preserve: established on A, the VIP moves to B. */
	apply_set(POOL_A, VSN_ON_CHANGE_PRESERVE, pools_ab, 2, M_SMALL, SEED);
	flows_clear();
	for (int i = 0; i < N_EST; i++) {
		flow_next(&fl[i], i % 3 ? AF_INET : AF_INET6);
		got[i] = expect_pick(&pool_a, &fl[i]);
		run_flow("preserve: established on A", &fl[i], got[i], EV_NEW);
	}
	g = cur.generation;
	apply_set(POOL_B, VSN_ON_CHANGE_PRESERVE, pools_ab, 2, M_SMALL, SEED);
	for (int i = 0; i < N_EST; i++)
		run_flow("preserve: still on A under the B set", &fl[i], got[i], EV_HIT);
	l = flows_list();
	assert_int_equal(l->n, N_EST);
	for (int i = 0; i < N_EST; i++)
		expect_listed(l, &fl[i], got[i], g);
	flow_next(&f, AF_INET);
	run_flow("preserve: a new flow goes to B", &f, expect_pick(&pool_b, &f), EV_NEW);
	flow_next(&f, AF_INET6);
	run_flow("preserve: a new flow goes to B", &f, expect_pick(&pool_b, &f), EV_NEW);

	/* Rehash: established on A, the VIP moves to B; pool order changes too. */
	apply_set(POOL_A, VSN_ON_CHANGE_REHASH, pools_ba, 2, M_SMALL, SEED);
	flows_clear();
	for (int i = 0; i < N_EST; i++) {
		flow_next(&fl[i], i % 3 ? AF_INET : AF_INET6);
		got[i] = expect_pick(&pool_a, &fl[i]);
		run_flow("rehash: established on A", &fl[i], got[i], EV_NEW);
	}
	apply_set(POOL_B, VSN_ON_CHANGE_REHASH, pools_ab, 2, M_SMALL, SEED);
	for (int i = 0; i < N_EST; i++) {
		got[i] = expect_pick(&pool_b, &fl[i]);
		assert_true(got[i] == 4 || got[i] == 5);
		run_flow("rehash: moved to B at once", &fl[i], got[i], EV_REHASH);
	}
	for (int i = 0; i < N_EST; i++)
		run_flow("rehash: then remembered on B", &fl[i], got[i], EV_HIT);
	l = flows_list();
	assert_int_equal(l->n, N_EST);
	for (int i = 0; i < N_EST; i++)
		expect_listed(l, &fl[i], got[i], cur.generation);

	/* Rehash into the same pool and table: re-picked, and Maglev keeps them all. */
	apply_set(POOL_B, VSN_ON_CHANGE_REHASH, pools_ab, 2, M_SMALL, SEED);
	for (int i = 0; i < N_EST; i++)
		run_flow("rehash: same table, same SLB", &fl[i], got[i], EV_REHASH);
	l = flows_list();
	for (int i = 0; i < N_EST; i++)
		expect_listed(l, &fl[i], got[i], cur.generation);
}

/* n new flows on pool A, none of which may reach SLB 3. */
static void new_flows_avoid_3(const char *what, int n)
{
	struct flow f;
	__u32 id;

	for (int i = 0; i < n; i++) {
		flow_next(&f, i % 4 ? AF_INET : AF_INET6);
		id = expect_pick(&pool_a, &f);
		assert_true(id == 1 || id == 2);
		run_flow(what, &f, id, EV_NEW);
	}
}

/*
 * Establish n flows (IPv4, every fourth IPv6) on pool A under a fresh
 * preserve set: got[i] is each one's SLB. Some, not all, are on SLB 3.
 */
static void establish_on_a(const char *what, struct flow *fl, __u32 *got, int n)
{
	int on3 = 0;

	apply_set(POOL_A, VSN_ON_CHANGE_PRESERVE, pools_ab, 2, M_SMALL, SEED);
	flows_clear();
	for (int i = 0; i < n; i++) {
		flow_next(&fl[i], i % 4 ? AF_INET : AF_INET6);
		got[i] = expect_pick(&pool_a, &fl[i]);
		run_flow(what, &fl[i], got[i], EV_NEW);
		on3 += got[i] == 3;
	}
	assert_true(on3 > 0 && on3 < n);
}

/* --- 4. An SLB goes down: its flows are re-picked, no new flow reaches it. --- */

static void test_down(void **state)
{
	static struct flow fl[60];
	__u32 got[60];
	const struct flow_list *l;
	struct flow f;
	__u32 id;

	establish_on_a("down: established", fl, got, 60);

	set_state(3, VSN_SLB_DOWN);
	for (int i = 0; i < 60; i++) {
		if (got[i] != 3) {
			run_flow("down: another SLB's flow stays", &fl[i], got[i], EV_HIT);
			continue;
		}
		/* The table without SLB 3, as vsn_dp_predict now has it. */
		id = expect_pick(&pool_a, &fl[i]);
		assert_true(id == 1 || id == 2);
		run_flow("down: re-picked", &fl[i], id, EV_REPICK);
		got[i] = id;
	}
	for (int i = 0; i < 60; i++)
		run_flow("down: remembered where re-picked", &fl[i], got[i], EV_HIT);
	l = flows_list();
	assert_int_equal(l->n, 60);
	for (int i = 0; i < 60; i++)
		expect_listed(l, &fl[i], got[i], cur.generation);
	new_flows_avoid_3("down: a new flow", 120);

	/* All down: the whole table is walked VSN_MAGLEV_WALK entries deep, in vain. */
	set_state(1, VSN_SLB_DOWN);
	set_state(2, VSN_SLB_DOWN);
	flow_next(&f, AF_INET);
	assert_int_equal(expect_pick(&pool_a, &f), 0);
	run_flow("all down: a new flow", &f, 0, EV([VSN_FLOW_SKIP_NOT_UP] = VSN_MAGLEV_WALK));
	run_flow("all down: a remembered flow", &fl[0], 0,
		 EV([VSN_FLOW_REPICK_DOWN] = 1, [VSN_FLOW_SKIP_NOT_UP] = VSN_MAGLEV_WALK));

	/* Back up: the remembered flow's entry was left alone, the new one was never made. */
	all_up();
	run_flow("up again: remembered", &fl[0], got[0], EV_HIT);
	run_flow("up again: the dropped new flow", &f, expect_pick(&pool_a, &f), EV_NEW);
}

/* --- 5. An SLB drains: it keeps its flows and takes no new one. --- */

static void test_drain(void **state)
{
	static struct flow fl[60];
	__u32 got[60], on3, id;
	struct flow f;

	establish_on_a("drain: established", fl, got, 60);

	set_state(3, VSN_SLB_DRAIN);
	for (int i = 0; i < 60; i++)
		run_flow("drain: remembered flows stay", &fl[i], got[i], EV_HIT);
	new_flows_avoid_3("drain: a new flow", 150);

	set_state(3, VSN_SLB_UP);
	for (int i = 0; i < 60; i++)
		run_flow("undrained: remembered flows stay", &fl[i], got[i], EV_HIT);
	on3 = 0;
	for (int i = 0; i < 150; i++) {
		flow_next(&f, i % 4 ? AF_INET : AF_INET6);
		id = expect_pick(&pool_a, &f);
		on3 += id == 3;
		run_flow("undrained: a new flow", &f, id, EV_NEW);
	}
	assert_true(on3 > 0);
}

/* --- 6. The bound on new flows remembered per CPU and second. --- */

static void test_insert_bound(void **state)
{
	int ncpus = libbpf_num_possible_cpus(), cpu = sched_getcpu();
	__u32 per_cpu_default, limit;
	const struct flow_list *l;
	cpu_set_t one;
	struct flow f[5];
	__u32 id[5];

	assert_true(ncpus > 0);
	assert_true(cpu >= 0);
	/* The default at load: max_flows / 8 per second, per CPU rounded up. */
	per_cpu_default = (VSN_DEFAULT_MAX_FLOWS / 8 + ncpus - 1) / ncpus;
	assert_int_equal(default_limit, per_cpu_default * ncpus);

	apply_set(POOL_A, VSN_ON_CHANGE_PRESERVE, pools_ab, 2, M_SMALL, SEED);
	flows_clear();
	for (int i = 0; i < 5; i++) {
		flow_next(&f[i], i % 2 ? AF_INET6 : AF_INET);
		id[i] = expect_pick(&pool_a, &f[i]);
	}
	/*
	 * Budgets are per CPU: stay on one. Its budget was never used (the bound
	 * is 0 from setup on), so the first insert opens a fresh one-second window.
	 */
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
	assert_int_equal(vsn_dp_flow_limit_set(env.dp, 2 * ncpus), 0);
	assert_int_equal(vsn_dp_flow_limit_get(env.dp, &limit), 0);
	assert_int_equal(limit, 2 * ncpus);

	run_flow("bound 2: first", &f[0], id[0], EV_NEW);
	run_flow("bound 2: second", &f[1], id[1], EV_NEW);
	run_flow("bound 2: third, forwarded, not remembered", &f[2], id[2], EV_LIMITED);
	run_flow("bound 2: a remembered flow needs no room", &f[0], id[0], EV_HIT);
	run_flow("bound 2: third again", &f[2], id[2], EV_LIMITED);
	l = flows_list();
	assert_int_equal(l->n, 2);
	expect_listed(l, &f[0], id[0], cur.generation);
	expect_listed(l, &f[1], id[1], cur.generation);
	assert_null(listed(l, &f[2]));

	/* The next second brings two inserts more. */
	usleep(1100 * 1000);
	run_flow("bound 2, a second later: third", &f[2], id[2], EV_NEW);
	run_flow("bound 2, a second later: fourth", &f[3], id[3], EV_NEW);
	run_flow("bound 2, a second later: fifth", &f[4], id[4], EV_LIMITED);

	assert_int_equal(vsn_dp_flow_limit_set(env.dp, 0), 0);
	assert_int_equal(vsn_dp_flow_limit_get(env.dp, &limit), 0);
	assert_int_equal(limit, 0);
	assert_int_equal(sched_setaffinity(0, sizeof(all_cpus), &all_cpus), 0);
	run_flow("no bound: fifth", &f[4], id[4], EV_NEW);
	l = flows_list();
	assert_int_equal(l->n, 5);
	for (int i = 0; i < 5; i++)
		expect_listed(l, &f[i], id[i], cur.generation);
}

/* --- 7. A single-SLB destination that drains or goes down. --- */

static void test_single_drain(void **state)
{
	struct flow f1, f2;

	apply_set(POOL_A, VSN_ON_CHANGE_PRESERVE, pools_ab, 2, M_SMALL, SEED);
	flows_clear();
	flow_single(&f1);
	flow_single(&f2);
	run_flow("single: established", &f1, SLB_SINGLE, EV_NEW);

	set_state(SLB_SINGLE, VSN_SLB_DRAIN);
	run_flow("single drains: remembered flow", &f1, SLB_SINGLE, EV_HIT);
	run_flow("single drains: a new flow", &f2, 0, EV_NONE);
	assert_int_equal(flows_list()->n, 1);

	set_state(SLB_SINGLE, VSN_SLB_DOWN);
	run_flow("single down: remembered flow", &f1, 0, EV_REPICK);
	run_flow("single down: a new flow", &f2, 0, EV_NONE);

	set_state(SLB_SINGLE, VSN_SLB_UP);
	run_flow("single up: remembered flow", &f1, SLB_SINGLE, EV_HIT);
	run_flow("single up: the new flow", &f2, SLB_SINGLE, EV_NEW);
}

/*
 * Rehash under drain: a new generation re-picks a rehash policy's flows, but
 * when the re-pick finds no SLB up, a flow on a draining SLB stays (drain
 * keeps established flows); on a down one it is dropped.
 */
static void test_rehash_drain(void **state)
{
	struct flow f1, f2;

	apply_set(POOL_A, VSN_ON_CHANGE_REHASH, pools_ab, 2, M_SMALL, SEED);
	flows_clear();
	flow_single(&f1);
	flow_single(&f2);
	run_flow("rehash single: established", &f1, SLB_SINGLE, EV_NEW);
	run_flow("rehash single: established", &f2, SLB_SINGLE, EV_NEW);

	set_state(SLB_SINGLE, VSN_SLB_DRAIN);
	apply_set(POOL_A, VSN_ON_CHANGE_REHASH, pools_ab, 2, M_SMALL, SEED);
	run_flow("rehash, draining: the flow stays", &f1, SLB_SINGLE, EV_REHASH);
	expect_listed(flows_list(), &f1, SLB_SINGLE, cur.generation);
	run_flow("rehash, draining: then a hit", &f1, SLB_SINGLE, EV_HIT);

	set_state(SLB_SINGLE, VSN_SLB_DOWN);
	apply_set(POOL_A, VSN_ON_CHANGE_REHASH, pools_ab, 2, M_SMALL, SEED);
	run_flow("rehash, down: dropped", &f2, 0, EV_REPICK);
}

/* --- 8. Sets that validation refuses leave the running one alone. --- */

struct refusal {
	const char *name;
	struct vsn_dp_policy pol[2];
	size_t n;
	struct vsn_dp_slb slbs[1]; /* defined with the set */
	size_t n_slbs;
	struct vsn_dp_pool pools[3];
	size_t n_pools;
	__u32 m;
	int err;
	size_t bad; /* expected *ret_bad; SIZE_MAX: must stay untouched */
};

/* Flows whose place under the running set is known: they must stay there. */
static struct flow ref4, ref6, ref_single;

static void expect_running_set(const char *name)
{
	flows_clear();
	run_flow(name, &ref4, expect_pick(&pool_a, &ref4), EV_NEW);
	run_flow(name, &ref6, expect_pick(&pool_a, &ref6), EV_NEW);
	run_flow(name, &ref_single, SLB_SINGLE, EV_NEW);
}

static void check_refused(const struct refusal *r)
{
	struct vsn_dp_set set = {
		.n_policies = r->n,
		.policies = r->pol,
		.n_slbs = r->n_slbs,
		.slbs = r->slbs,
		.n_pools = r->n_pools,
		.pools = r->pools,
		.maglev_size = r->m,
		.hash_seed = SEED,
	};
	struct vsn_meta before, after;
	struct vsn_slb slb;
	size_t bad, want_bad = r->bad == SIZE_MAX ? 12345 : r->bad;
	int e;

	assert_int_equal(vsn_dp_meta(env.dp, &before), 0);
	set.generation = before.generation + 1;
	bad = 12345;
	e = vsn_dp_set_validate(env.dp, &set, &bad);
	if (e != r->err || bad != want_bad)
		fail_msg("%s: validate says %d (entry %zu), expected %d (entry %zu)", r->name, e,
			 bad, r->err, want_bad);
	bad = 12345;
	e = vsn_dp_set_apply(env.dp, &set, &bad);
	if (e != r->err || bad != want_bad)
		fail_msg("%s: apply says %d (entry %zu), expected %d (entry %zu)", r->name, e, bad,
			 r->err, want_bad);

	assert_int_equal(vsn_dp_meta(env.dp, &after), 0);
	assert_memory_equal(&before, &after, sizeof(before));
	for (size_t i = 0; i < r->n_slbs; i++)
		assert_int_equal(vsn_dp_slb_get(env.dp, r->slbs[i].id, &slb), -ENOENT);
	expect_running_set(r->name);
}

/*
 * The base of each refused set: valid on its own (checked), and it would send
 * VIP4 to pool B and VIP_SINGLE to SLB 5, so a set applied by mistake shows.
 */
static void refusal_base(struct refusal *r, const char *name, int err, size_t bad)
{
	memset(r, 0, sizeof(*r));
	r->name = name;
	policy(&r->pol[0], VIP4, 0, 0, POOL_B, 1, 1, VSN_ON_CHANGE_PRESERVE);
	policy(&r->pol[1], VIP_SINGLE, 80, 5, 0, 3, 2, VSN_ON_CHANGE_PRESERVE);
	r->n = 2;
	r->pools[0] = pool_a;
	r->pools[1] = pool_b;
	r->n_pools = 2;
	r->m = M_SMALL;
	r->err = err;
	r->bad = bad;
}

static void expect_valid(const struct refusal *r)
{
	struct vsn_dp_set set = {
		.generation = running_generation() + 1,
		.n_policies = r->n,
		.policies = r->pol,
		.n_slbs = r->n_slbs,
		.slbs = r->slbs,
		.n_pools = r->n_pools,
		.pools = r->pools,
		.maglev_size = r->m,
		.hash_seed = SEED,
	};
	size_t bad = 12345;
	int e = vsn_dp_set_validate(env.dp, &set, &bad);

	if (e)
		fail_msg("%s: validate says %s (entry %zu), expected valid", r->name, strerror(-e),
			 bad);
}

static void test_refusals(void **state)
{
	static const struct vsn_dp_pool_member dup[] = {{4, 1}, {5, 1}, {4, 2}};
	static const struct vsn_dp_pool_member one6[] = {{6, 1}};
	static const struct vsn_dp_pool_member w0[] = {{4, 1}, {5, 0}};
	static const struct vsn_dp_pool_member wbig[] = {{4, VSN_DP_MAX_WEIGHT + 1}};
	static const struct vsn_dp_pool_member wmax[] = {{4, VSN_DP_MAX_WEIGHT}, {5, 1}};
	static const struct vsn_dp_pool_member undef[] = {{4, 1}, {SLB_UNDEFINED, 1}};
	static const struct vsn_dp_pool_member with8[] = {{4, 1}, {8, 1}};
	static const struct vsn_dp_pool_member ipip6[] = {{4, 1}, {SLB_IPIP6, 1}};
	struct refusal r;

	apply_set(POOL_A, VSN_ON_CHANGE_PRESERVE, pools_ab, 2, M_SMALL, SEED);
	flow_next(&ref4, AF_INET);
	flow_next(&ref6, AF_INET6);
	flow_single(&ref_single);
	expect_running_set("before the refusals");

	refusal_base(&r, "the base of the refused sets", 0, 0);
	expect_valid(&r);

	/* Policies: ret_bad is the policy's index. */
	refusal_base(&r, "policy with an slb and a pool", -EINVAL, 1);
	r.pol[1].pool_id = POOL_A;
	check_refused(&r);
	refusal_base(&r, "policy with neither slb nor pool", -EINVAL, 1);
	r.pol[1].slb_id = 0;
	check_refused(&r);
	refusal_base(&r, "policy naming a pool not in the set", -ENOENT, 0);
	r.pol[0].pool_id = 99;
	check_refused(&r);
	refusal_base(&r, "policy naming a pool of the running set only", -ENOENT, 0);
	r.pools[0] = pool_b;
	r.n_pools = 1;
	r.pol[0].pool_id = POOL_A;
	check_refused(&r);

	/* Pools: ret_bad is n_policies + n_slbs + the pool's index. */
	refusal_base(&r, "pool with a member twice", -EEXIST, 2 + 1);
	r.pools[1].members = dup;
	r.pools[1].n_members = 3;
	check_refused(&r);
	/*
	 * The later of the two is named: pools_check() sorts by id and reports
	 * the second of equal ids, which relies on glibc's qsort keeping equal
	 * elements in order (a merge sort for arrays this small).
	 */
	refusal_base(&r, "pool id twice", -EEXIST, 2 + 2);
	r.pools[2] = (struct vsn_dp_pool){POOL_B, 1, one6};
	r.n_pools = 3;
	check_refused(&r);
	refusal_base(&r, "pool id twice, after an slb of the set", -EEXIST, 2 + 1 + 2);
	r.slbs[0] = (struct vsn_dp_slb){.id = 8,
					.forward = VSN_FORWARD_L2,
					.state = VSN_SLB_UP,
					.nexthop_static = true,
					.ifindex = env.lo_ifindex};
	assert_int_equal(vsn_addr_parse("10.0.0.8", &r.slbs[0].addr), 0);
	r.n_slbs = 1;
	r.pools[2] = (struct vsn_dp_pool){POOL_A, 2, with8};
	r.n_pools = 3;
	check_refused(&r);
	r.name = "a member defined by the set itself";
	r.n_pools = 2;
	r.pools[1] = (struct vsn_dp_pool){POOL_B, 2, with8};
	expect_valid(&r);
	refusal_base(&r, "member weight 0", -EINVAL, 2 + 1);
	r.pools[1] = (struct vsn_dp_pool){POOL_B, 2, w0};
	check_refused(&r);
	refusal_base(&r, "member weight above the maximum", -EINVAL, 2 + 1);
	r.pools[1] = (struct vsn_dp_pool){POOL_B, 1, wbig};
	check_refused(&r);
	refusal_base(&r, "member weight at the maximum", 0, 0);
	r.pools[1] = (struct vsn_dp_pool){POOL_B, 2, wmax};
	expect_valid(&r);
	refusal_base(&r, "pool without members", -EINVAL, 2 + 0);
	r.pools[0].n_members = 0;
	check_refused(&r);
	refusal_base(&r, "pool id 0", -EINVAL, 2 + 0);
	r.pools[0].id = 0;
	r.pools[1].id = POOL_A;
	r.pol[0].pool_id = POOL_A;
	check_refused(&r);
	refusal_base(&r, "member slb undefined", -ENOENT, 2 + 1);
	r.pools[1] = (struct vsn_dp_pool){POOL_B, 2, undef};
	check_refused(&r);

	/* The table size: no index. */
	refusal_base(&r, "maglev_size 250 (not a prime)", -EINVAL, SIZE_MAX);
	r.m = 250;
	check_refused(&r);
	refusal_base(&r, "maglev_size 3 with a 3-member pool", -EINVAL, SIZE_MAX);
	r.m = 3;
	check_refused(&r);
	refusal_base(&r, "maglev_size 2 with a 3-member pool", -EINVAL, SIZE_MAX);
	r.m = 2;
	check_refused(&r);
	refusal_base(&r, "maglev_size 5 with a 3-member pool", 0, 0);
	r.m = 5;
	expect_valid(&r);

	/* ipip is 4-in-4 and 6-in-6: a pool's members must carry its VIPs' family. */
	refusal_base(&r, "ipip IPv6 member in a pool of an IPv4 VIP", -EAFNOSUPPORT, 0);
	r.pools[1] = (struct vsn_dp_pool){POOL_B, 2, ipip6};
	check_refused(&r);
	r.name = "ipip IPv6 member in a pool of an IPv6 VIP";
	assert_int_equal(vsn_addr_parse(VIP6, &r.pol[0].vip), 0);
	expect_valid(&r);

	/* After all that, the set still runs as applied. */
	expect_running_set("after the refusals");
}

/* --- 9. What the running set says of itself. --- */

struct listed_policies {
	size_t n;
	struct vsn_dp_policy p[8];
};

static int policy_cb(const struct vsn_dp_policy *p, void *arg)
{
	struct listed_policies *l = arg;

	if (l->n == 8)
		return -E2BIG;
	l->p[l->n++] = *p;
	return 0;
}

struct listed_pools {
	size_t n;
	__u32 id[4];
	size_t n_members[4];
	struct vsn_dp_pool_member members[4][8];
};

static int pool_cb(const struct vsn_dp_pool *p, void *arg)
{
	struct listed_pools *l = arg;

	if (l->n == 4 || p->n_members > 8)
		return -E2BIG;
	l->id[l->n] = p->id;
	l->n_members[l->n] = p->n_members;
	memcpy(l->members[l->n], p->members, p->n_members * sizeof(*p->members));
	l->n++;
	return 0;
}

static void test_roundtrip(void **state)
{
	/* Members out of id order, uneven weights: listed as given. */
	static const struct vsn_dp_pool_member c_members[] = {{5, 7}, {4, 300}, {1, 1}};
	static const struct vsn_dp_pool_member d_members[] = {{3, 3}, {2, 65535}};
	const struct vsn_dp_pool pools[] = {{33, 3, c_members}, {7, 2, d_members}, pool_a};
	struct vsn_dp_policy pol[6];
	struct vsn_dp_set set = {
		.n_policies = 6,
		.policies = pol,
		.n_pools = 3,
		.pools = pools,
		.maglev_size = 1009,
		.hash_seed = 0xabcdef01u,
	};
	static struct listed_policies lp;
	static struct listed_pools lo;
	size_t bad = SIZE_MAX;

	policy(&pol[0], VIP4, 0, 0, 33, 1, 1, VSN_ON_CHANGE_PRESERVE);
	policy(&pol[1], VIP6, 0, 0, 7, 2, 1, VSN_ON_CHANGE_REHASH);
	policy(&pol[2], VIP_SINGLE, 80, SLB_SINGLE, 0, 3, 2, VSN_ON_CHANGE_REHASH);
	policy(&pol[3], VIP_SINGLE, 443, 0, POOL_A, 4, 2, VSN_ON_CHANGE_PRESERVE);
	policy(&pol[4], VIP4, 8443, 0, 7, 5, 3, VSN_ON_CHANGE_REHASH);
	policy(&pol[5], VIP6, 22, 2, 0, 6, 3, VSN_ON_CHANGE_PRESERVE);
	pol[5].proto = IPPROTO_UDP;
	set.generation = running_generation() + 1;
	assert_int_equal(vsn_dp_set_apply(env.dp, &set, &bad), 0);

	memset(&lp, 0, sizeof(lp));
	assert_int_equal(vsn_dp_policies_foreach(env.dp, policy_cb, &lp), 0);
	assert_int_equal(lp.n, 6);
	for (size_t i = 0; i < 6; i++) {
		const struct vsn_dp_policy *want = NULL, *got = &lp.p[i];

		for (size_t j = 0; j < 6 && !want; j++)
			if (vsn_addr_equal(&pol[j].vip, &got->vip) && pol[j].proto == got->proto &&
			    pol[j].port == got->port)
				want = &pol[j];
		assert_non_null(want);
		assert_int_equal(got->slb_id, want->slb_id);
		assert_int_equal(got->pool_id, want->pool_id);
		assert_int_equal(got->service_id, want->service_id);
		assert_int_equal(got->policy_id, want->policy_id);
		assert_int_equal(got->on_change, want->on_change);
		/* Each applied policy listed once. */
		for (size_t k = 0; k < i; k++)
			assert_false(lp.p[k].policy_id == got->policy_id);
	}

	memset(&lo, 0, sizeof(lo));
	assert_int_equal(vsn_dp_pools_foreach(env.dp, pool_cb, &lo), 0);
	assert_int_equal(lo.n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(lo.id[i], pools[i].id);
		assert_int_equal(lo.n_members[i], pools[i].n_members);
		assert_memory_equal(lo.members[i], pools[i].members,
				    pools[i].n_members * sizeof(*pools[i].members));
	}
}

/*
 * --- 10. A client's SYN is a new connection. ---
 *
 * A reused source port makes a new connection with an earlier one's
 * 5-tuple: its SYN (SYN without ACK) never follows the entry, it is picked
 * afresh under the running set and replaces the entry (flow_syn_repick when
 * the pick moves it). Every other packet follows the entry as before.
 */

/* What a pair of generations does to one flow: first on pool A, then on B, then on A again. */
static void syn_swap_run(int family)
{
	const struct flow_list *l;
	struct flow f;
	__u32 x, y;
	__u64 g;

	apply_set(POOL_A, VSN_ON_CHANGE_PRESERVE, pools_ab, 2, M_SMALL, SEED);
	flows_clear();
	flow_next(&f, family);
	x = expect_pick(&pool_a, &f);
	run_flow_flags("syn: a new connection", &f, TCP_SYN, x, EV_NEW);
	run_flow("syn: its ACK", &f, x, EV_HIT);
	run_flow_flags("syn: retransmitted, the same pick", &f, TCP_SYN, x, EV_HIT);
	g = cur.generation;
	expect_listed(flows_list(), &f, x, g);

	/* The policy moves the VIP to pool B: a fresh pick is elsewhere (A and B share no SLB). */
	apply_set(POOL_B, VSN_ON_CHANGE_PRESERVE, pools_ab, 2, M_SMALL, SEED);
	y = expect_pick(&pool_b, &f);
	assert_true(y == 4 || y == 5);
	run_flow("syn, B set: the established flow's ACK stays", &f, x, EV_HIT);
	run_flow_flags("syn, B set: SYN|ACK is no client's SYN", &f, TCP_SYN | TCP_ACK, x, EV_HIT);
	expect_listed(flows_list(), &f, x, g);
	run_flow_flags("syn, B set: the port reused, a new SYN", &f, TCP_SYN, y, EV_SYN_REPICK);
	l = flows_list();
	assert_int_equal(l->n, 1);
	expect_listed(l, &f, y, cur.generation);
	run_flow("syn, B set: the new connection's ACK", &f, y, EV_HIT);
	run_flow_flags("syn, B set: retransmitted", &f, TCP_SYN, y, EV_HIT);
	expect_listed(flows_list(), &f, y, cur.generation);

	/* Back to pool A (a failover's return): the next reuse goes back to A's pick. */
	apply_set(POOL_A, VSN_ON_CHANGE_PRESERVE, pools_ab, 2, M_SMALL, SEED);
	run_flow("syn, A again: the connection on B stays", &f, y, EV_HIT);
	run_flow_flags("syn, A again: a new SYN", &f, TCP_SYN, x, EV_SYN_REPICK);
	expect_listed(flows_list(), &f, x, cur.generation);
	run_flow("syn, A again: its ACK", &f, x, EV_HIT);
}

static void test_syn_swap(void **state)
{
	syn_swap_run(AF_INET);
	syn_swap_run(AF_INET6);
}

/*
 * A SYN whose fresh pick is the SLB its entry names, under a newer
 * generation: a hit, and the entry takes the running epoch, so a rehash
 * policy has nothing left to re-pick on the ACK that follows.
 */
static void test_syn_same_pick(void **state)
{
	struct flow f[2];
	__u32 id[2];

	apply_set(POOL_A, VSN_ON_CHANGE_REHASH, pools_ab, 2, M_SMALL, SEED);
	flows_clear();
	for (int i = 0; i < 2; i++) {
		flow_next(&f[i], i ? AF_INET6 : AF_INET);
		id[i] = expect_pick(&pool_a, &f[i]);
		run_flow_flags("syn, rehash: a new connection", &f[i], TCP_SYN, id[i], EV_NEW);
	}
	apply_set(POOL_A, VSN_ON_CHANGE_REHASH, pools_ab, 2, M_SMALL, SEED);
	/* The first flow's ACK comes first: rehashed (the same table: the same SLB). */
	run_flow("syn, rehash, next generation: an ACK", &f[0], id[0], EV_REHASH);
	/* The second one reuses its port: its SYN agrees with the entry, a hit. */
	run_flow_flags("syn, rehash, next generation: a SYN", &f[1], TCP_SYN, id[1], EV_HIT);
	expect_listed(flows_list(), &f[1], id[1], cur.generation);
	run_flow("syn, rehash, next generation: its ACK", &f[1], id[1], EV_HIT);
}

/* A pool member drains or goes down: a SYN is a new flow, it avoids that member. */
static void test_syn_pool_states(void **state)
{
	static struct flow fl[40];
	__u32 got[40], id;
	int on3 = 0;

	establish_on_a("syn: established", fl, got, 40);
	set_state(3, VSN_SLB_DRAIN);
	for (int i = 0; i < 40; i++) {
		if (got[i] != 3) {
			/* Maglev moves few flows between the others, but may move some. */
			id = expect_pick(&pool_a, &fl[i]);
			run_flow_flags("syn, 3 drains: a SYN on another SLB", &fl[i], TCP_SYN, id,
				       id == got[i] ? EV_HIT : EV_SYN_REPICK);
			got[i] = id;
			continue;
		}
		on3++;
		run_flow("syn, 3 drains: an ACK stays on 3", &fl[i], 3, EV_HIT);
		/* A pick of the table rebuilt without SLB 3: no entry to skip. */
		id = expect_pick(&pool_a, &fl[i]);
		assert_true(id == 1 || id == 2);
		run_flow_flags("syn, 3 drains: a SYN leaves 3", &fl[i], TCP_SYN, id, EV_SYN_REPICK);
		expect_listed(flows_list(), &fl[i], id, cur.generation);
		got[i] = id;
	}
	assert_true(on3 > 0);

	/* Down: a SYN is picked afresh (flow_syn_repick, never flow_repick_down). */
	set_state(3, VSN_SLB_UP);
	establish_on_a("syn: established again", fl, got, 40);
	set_state(3, VSN_SLB_DOWN);
	for (int i = 0; i < 40; i++) {
		if (got[i] != 3)
			continue;
		id = expect_pick(&pool_a, &fl[i]);
		assert_true(id == 1 || id == 2);
		run_flow_flags("syn, 3 down: a SYN", &fl[i], TCP_SYN, id, EV_SYN_REPICK);
		run_flow("syn, 3 down: its ACK", &fl[i], id, EV_HIT);
	}
}

/* A single-SLB destination: draining admits no new connection, whatever the table says. */
static void test_syn_single_drain(void **state)
{
	struct flow f;

	apply_set(POOL_A, VSN_ON_CHANGE_PRESERVE, pools_ab, 2, M_SMALL, SEED);
	flows_clear();
	flow_single(&f);
	run_flow_flags("syn single: a new connection", &f, TCP_SYN, SLB_SINGLE, EV_NEW);

	set_state(SLB_SINGLE, VSN_SLB_DRAIN);
	run_flow("syn single drains: the ACK of the connection", &f, SLB_SINGLE, EV_HIT);
	run_flow_flags("syn single drains: a new SYN on the port", &f, TCP_SYN, 0, EV_NONE);
	/* Dropped, the entry left as it was: the earlier connection's packets still pass. */
	expect_listed(flows_list(), &f, SLB_SINGLE, cur.generation);
	run_flow("syn single drains: the ACK again", &f, SLB_SINGLE, EV_HIT);

	set_state(SLB_SINGLE, VSN_SLB_DOWN);
	run_flow_flags("syn single down: a SYN", &f, TCP_SYN, 0, EV_NONE);
	set_state(SLB_SINGLE, VSN_SLB_UP);
	run_flow_flags("syn single up: a SYN", &f, TCP_SYN, SLB_SINGLE, EV_HIT);
}

/*
 * The insert bound: a SYN that replaces an entry costs no room; one of a
 * 5-tuple the table does not know is a new flow and must fit the bound.
 */
static void test_syn_bound(void **state)
{
	int ncpus = libbpf_num_possible_cpus(), cpu = sched_getcpu();
	struct flow f[3];
	__u32 a[3], b[3];
	cpu_set_t one;

	assert_true(ncpus > 0);
	assert_true(cpu >= 0);
	apply_set(POOL_A, VSN_ON_CHANGE_PRESERVE, pools_ab, 2, M_SMALL, SEED);
	flows_clear();
	for (int i = 0; i < 3; i++)
		flow_next(&f[i], AF_INET);
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
	assert_int_equal(vsn_dp_flow_limit_set(env.dp, 2 * ncpus), 0);
	/* Whatever an earlier test left of this CPU's window: a fresh one. */
	usleep(1100 * 1000);

	for (int i = 0; i < 3; i++)
		a[i] = expect_pick(&pool_a, &f[i]);
	run_flow_flags("syn, bound 2: first", &f[0], TCP_SYN, a[0], EV_NEW);
	run_flow_flags("syn, bound 2: second", &f[1], TCP_SYN, a[1], EV_NEW);
	run_flow_flags("syn, bound 2: third, not remembered", &f[2], TCP_SYN, a[2], EV_LIMITED);

	apply_set(POOL_B, VSN_ON_CHANGE_PRESERVE, pools_ab, 2, M_SMALL, SEED);
	for (int i = 0; i < 3; i++)
		b[i] = expect_pick(&pool_b, &f[i]);
	run_flow_flags("syn, bound 2, B set: a replacement needs no room", &f[0], TCP_SYN, b[0],
		       EV_SYN_REPICK);
	run_flow_flags("syn, bound 2, B set: third, still no room", &f[2], TCP_SYN, b[2],
		       EV_LIMITED);
	expect_listed(flows_list(), &f[0], b[0], cur.generation);
	expect_listed(flows_list(), &f[1], a[1], cur.generation - 1);
	assert_null(listed(flows_list(), &f[2]));

	assert_int_equal(vsn_dp_flow_limit_set(env.dp, 0), 0);
	assert_int_equal(sched_setaffinity(0, sizeof(all_cpus), &all_cpus), 0);
}

static int setup(void **state)
{
	struct vsn_dp_slb ipip6 = {
		.id = SLB_IPIP6,
		.forward = VSN_FORWARD_IPIP,
		.state = VSN_SLB_UP,
		.nexthop_static = true,
		.dmac = {0x02, 0x51, 0, 0, SLB_IPIP6, 0xd},
		.smac = {0x02, 0x51, 0, 0, SLB_IPIP6, 0x5},
	};
	int r;

	r = h_open(&env);
	if (r) {
		fprintf(stderr, "setup: h_open: %s\n", strerror(-r));
		return -1;
	}
	for (__u32 id = 1; id <= N_L2_SLBS && !r; id++)
		r = h_slb_static(&env, id, slbs[id].addr,
				 slbs[id].vt0 ? env.vt0_ifindex : env.lo_ifindex, slbs[id].dmac,
				 slbs[id].smac);
	ipip6.ifindex = env.lo_ifindex;
	if (!r)
		r = vsn_addr_parse("2001:db8:5::7", &ipip6.addr);
	if (!r)
		r = vsn_dp_slb_set(env.dp, &ipip6);
	if (r) {
		fprintf(stderr, "setup: slb: %s\n", strerror(-r));
		goto fail;
	}
	/*
	 * No bound until test_insert_bound sets one: with the bound off the
	 * per-CPU budgets are never touched, so that test starts from fresh ones.
	 */
	r = sched_getaffinity(0, sizeof(all_cpus), &all_cpus) ? -errno : 0;
	if (!r)
		r = vsn_dp_flow_limit_get(env.dp, &default_limit);
	if (!r)
		r = vsn_dp_flow_limit_set(env.dp, 0);
	if (r) {
		fprintf(stderr, "setup: flow limit: %s\n", strerror(-r));
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
		cmocka_unit_test_setup(test_pick, reset),
		cmocka_unit_test_setup(test_lru_hit, reset),
		cmocka_unit_test_setup(test_preserve_rehash, reset),
		cmocka_unit_test_setup(test_down, reset),
		cmocka_unit_test_setup(test_drain, reset),
		cmocka_unit_test_setup(test_insert_bound, reset),
		cmocka_unit_test_setup(test_single_drain, reset),
		cmocka_unit_test_setup(test_rehash_drain, reset),
		cmocka_unit_test_setup(test_refusals, reset),
		cmocka_unit_test_setup(test_roundtrip, reset),
		cmocka_unit_test_setup(test_syn_swap, reset),
		cmocka_unit_test_setup(test_syn_same_pick, reset),
		cmocka_unit_test_setup(test_syn_pool_states, reset),
		cmocka_unit_test_setup(test_syn_single_drain, reset),
		cmocka_unit_test_setup(test_syn_bound, reset),
	};
	int r;

	r = h_init();
	if (r)
		return r;
	return cmocka_run_group_tests(tests, setup, teardown);
}
