/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The benchmark's policy sets. A set of n policies holds n_tcp4 IPv4 VIPs
 * (10.0.0.0 upward, each with one tcp/80 policy) plus, counted within n,
 * one IPv4 VIP with udp/53 and one IPv6 VIP with tcp/80, so that every case
 * finds its policy. Below 3 policies a set holds only the extra its case
 * needs. An l2 set sends every policy to one SLB; an ipip (gue) set sends
 * the IPv4 VIPs to the IPv4 ipip (gue) SLB and the IPv6 VIP to the IPv6 one. A pool
 * set is an l2 set whose middle IPv4 VIP's tcp/80 policy goes to the pool of
 * BENCH_POOL_MEMBERS SLBs instead; every other policy stays as it was.
 *
 * The prefix shape (bench.h) adds, within n, VIP prefix policies after the
 * extras, and client-source rules to some IPv4 VIPs' policies.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/in.h>

#include "bench.h"

void bench_vip6(__u8 ret[16])
{
	inet_pton(AF_INET6, BENCH_VIP6, ret);
}

/*
 * The client rules of the middle IPv4 VIP's tcp/80 policy in the prefix
 * shape (client_prefix's): nested around its source (192.0.2.x: the /8, the
 * /16 and the /24, which wins), a longer one beside it, and unrelated ones.
 */
static const struct {
	__u32 net; /* host order */
	__u8 plen;
	__u32 slb_id;
} mid_rules[] = {
	{0xc0000000u, 8, BENCH_POOL_SLB0},	/* 192.0.0.0/8 */
	{0xc0000000u, 16, BENCH_POOL_SLB0 + 1}, /* 192.0.0.0/16 */
	{0xc0000200u, 24, BENCH_RULE_SLB},	/* 192.0.2.0/24: the source's best */
	{0xc0000280u, 25, BENCH_POOL_SLB0 + 2}, /* 192.0.2.128/25: not the source */
	{0x0a000000u, 8, BENCH_POOL_SLB0 + 3},	/* 10.0.0.0/8 */
	{0x64400000u, 10, BENCH_POOL_SLB0 + 4}, /* 100.64.0.0/10 */
	{0xac100000u, 12, BENCH_POOL_SLB0 + 5}, /* 172.16.0.0/12 */
	{0xc6336400u, 24, BENCH_POOL_SLB0 + 6}, /* 198.51.100.0/24 */
	{0xcb007100u, 24, BENCH_POOL_SLB0 + 7}, /* 203.0.113.0/24 */
};

#define MID_RULES (sizeof(mid_rules) / sizeof(mid_rules[0]))

void bench_layout(__u32 n, unsigned int need, enum vsn_forward forward, struct bench_layout *ret)
{
	unsigned int extras = n >= 3 ? BENCH_EXTRA_UDP | BENCH_EXTRA_V6 : need;
	__u32 k = __builtin_popcount(extras);

	*ret = (struct bench_layout){
		.n = n,
		.extras = extras,
		.n_tcp4 = n > k ? n - k : 0,
		.forward = forward,
	};
}

void bench_layout_prefixes(__u32 n, bool rules, struct bench_layout *ret)
{
	__u32 bulk = n / 1000 < BENCH_BULK_MAX ? n / 1000 : BENCH_BULK_MAX;

	*ret = (struct bench_layout){.n = n, .forward = VSN_FORWARD_L2};
	if (n < BENCH_PREFIX_FULL) {
		/* Only what the case needs: its VIP and rules, or its prefixes. */
		ret->rules = rules;
		ret->n_prefix4 = rules ? 0 : n < BENCH_PREFIX_NESTED ? n : BENCH_PREFIX_NESTED;
		ret->n_tcp4 = n - ret->n_prefix4;
		return;
	}
	ret->extras = BENCH_EXTRA_UDP | BENCH_EXTRA_V6;
	ret->prefix6 = true;
	ret->rules = true;
	ret->n_prefix4 = BENCH_PREFIX_NESTED + bulk;
	ret->n_ruled = bulk;
	ret->n_tcp4 = n - 2 - 1 - ret->n_prefix4;
}

bool bench_layout_equal(const struct bench_layout *a, const struct bench_layout *b)
{
	return a->n == b->n && a->extras == b->extras && a->n_tcp4 == b->n_tcp4 &&
	       a->forward == b->forward && a->pool == b->pool && a->n_prefix4 == b->n_prefix4 &&
	       a->prefix6 == b->prefix6 && a->rules == b->rules && a->n_ruled == b->n_ruled;
}

__u32 bench_layout_mid_vip4(const struct bench_layout *l)
{
	return BENCH_VIP4_BASE + l->n_tcp4 / 2;
}

__u32 bench_layout_prefix_id(const struct bench_layout *l)
{
	return l->n_tcp4 + __builtin_popcount(l->extras);
}

__u32 bench_layout_active_flags(const struct bench_layout *l)
{
	return (l->n_prefix4 || l->prefix6 ? VSN_ACTIVE_PREFIXES : 0) |
	       (l->rules || l->n_ruled ? VSN_ACTIVE_CLIENTS : 0);
}

static void policy_fill(struct vsn_dp_policy *p, __u32 id, __u8 proto, __u16 port, __u32 slb_id)
{
	p->proto = proto;
	p->port = port;
	p->slb_id = slb_id;
	p->policy_id = id;
	/* A few policies per service, as operators group them. */
	p->service_id = id % VSN_DEFAULT_MAX_SERVICES;
}

static void addr4(struct vsn_addr *a, __u32 host)
{
	__u32 be = htonl(host);

	a->family = AF_INET;
	memcpy(a->bytes, &be, 4);
}

static void rule_fill(struct vsn_dp_client *c, __u32 net, __u8 plen, __u32 slb_id)
{
	addr4(&c->prefix, net);
	c->plen = plen;
	c->slb_id = slb_id;
}

/*
 * The client rules of the prefix shape, into c (room for MID_RULES +
 * n_ruled * BENCH_RULED_RULES): the middle VIP's, and the n_ruled VIPs'
 * spread over the table (the k-th of them at index k * stride, or the one
 * after it where that is the middle VIP), each with 4 rules.
 */
static void rules_fill(const struct bench_layout *l, struct vsn_dp_policy *v,
		       struct vsn_dp_client *c)
{
	__u32 mid = bench_layout_mid_vip4(l) - BENCH_VIP4_BASE;
	__u32 stride = l->n_ruled ? l->n_tcp4 / l->n_ruled : 0;

	if (l->rules) {
		for (size_t j = 0; j < MID_RULES; j++)
			rule_fill(&c[j], mid_rules[j].net, mid_rules[j].plen, mid_rules[j].slb_id);
		v[mid].clients = c;
		v[mid].n_clients = MID_RULES;
		c += MID_RULES;
	}
	for (__u32 k = 0; k < l->n_ruled; k++) {
		__u32 i = k * stride == mid ? k * stride + 1 : k * stride;
		__u32 slb = BENCH_POOL_SLB0 + k % BENCH_POOL_MEMBERS;

		rule_fill(&c[0], 0x64400000u, 10, slb);		   /* 100.64.0.0/10 */
		rule_fill(&c[1], 0xc0000000u, 16, slb);		   /* 192.0.0.0/16 */
		rule_fill(&c[2], 0xc0000200u, 24, slb);		   /* 192.0.2.0/24 */
		rule_fill(&c[3], 0x0b000000u + (k << 8), 24, slb); /* 11.0.0.0/24 + k */
		v[i].clients = c;
		v[i].n_clients = BENCH_RULED_RULES;
		c += BENCH_RULED_RULES;
	}
}

/* The prefix policies after the VIPs: the nested ones, the bulk /24s, the IPv6 one. */
static __u32 prefixes_fill(const struct bench_layout *l, struct vsn_dp_policy *v, __u32 i,
			   __u32 slb4, __u32 slb6)
{
	static const struct {
		__u32 net;
		__u8 plen;
	} nested[BENCH_PREFIX_NESTED] = {
		{BENCH_RANGE_DST & 0xffffff00u, 24},
		{BENCH_RANGE_DST & 0xffff0000u, 16},
		{BENCH_RANGE_DST & 0xfffff000u, 20},
	};

	for (__u32 k = 0; k < l->n_prefix4; k++, i++) {
		if (k < BENCH_PREFIX_NESTED) {
			addr4(&v[i].vip, nested[k].net);
			v[i].vip_plen = nested[k].plen;
		} else {
			addr4(&v[i].vip,
			      BENCH_BULK_BASE + (k - BENCH_PREFIX_NESTED) * BENCH_BULK_STEP);
			v[i].vip_plen = 24;
		}
		policy_fill(&v[i], i, IPPROTO_TCP, BENCH_TCP_PORT, slb4);
	}
	if (l->prefix6) {
		v[i].vip.family = AF_INET6;
		inet_pton(AF_INET6, BENCH_PREFIX6, v[i].vip.bytes);
		v[i].vip_plen = 48;
		policy_fill(&v[i], i, IPPROTO_TCP, BENCH_TCP_PORT, slb6);
		i++;
	}
	return i;
}

int bench_set_build(const struct bench_layout *l, __u32 slb4, __u32 slb6,
		    struct vsn_dp_policy **ret, size_t *ret_n)
{
	size_t n_rules = (l->rules ? MID_RULES : 0) + (size_t)l->n_ruled * BENCH_RULED_RULES;
	size_t n = l->n ? l->n : 1;
	struct vsn_dp_policy *v;
	__u32 i = 0;

	/* The prefix cases' address must be no VIP. */
	if (l->n_prefix4 && BENCH_VIP4_BASE + (__u64)l->n_tcp4 > BENCH_RANGE_DST)
		return -ERANGE;
	v = calloc(1, n * sizeof(*v) + n_rules * sizeof(struct vsn_dp_client));
	if (!v)
		return -ENOMEM;
	for (; i < l->n_tcp4; i++) {
		addr4(&v[i].vip, BENCH_VIP4_BASE + i);
		policy_fill(&v[i], i, IPPROTO_TCP, BENCH_TCP_PORT, slb4);
	}
	if (l->pool && l->n_tcp4) {
		struct vsn_dp_policy *p = &v[bench_layout_mid_vip4(l) - BENCH_VIP4_BASE];

		p->slb_id = 0;
		p->pool_id = BENCH_POOL_ID;
	}
	if (n_rules && l->n_tcp4)
		rules_fill(l, v, (struct vsn_dp_client *)(v + n));
	if (l->extras & BENCH_EXTRA_UDP) {
		addr4(&v[i].vip, BENCH_VIP4_UDP);
		policy_fill(&v[i], i, IPPROTO_UDP, BENCH_UDP_PORT, slb4);
		i++;
	}
	if (l->extras & BENCH_EXTRA_V6) {
		v[i].vip.family = AF_INET6;
		bench_vip6(v[i].vip.bytes);
		policy_fill(&v[i], i, IPPROTO_TCP, BENCH_TCP_PORT, slb6);
		i++;
	}
	*ret = v;
	*ret_n = prefixes_fill(l, v, i, slb4, slb6);
	return 0;
}

int bench_set_ensure(struct bench_env *env, const struct bench_layout *l)
{
	bool ipip = l->forward == VSN_FORWARD_IPIP, gue = l->forward == VSN_FORWARD_GUE;
	__u32 slb4 = ipip ? BENCH_SLB_IPIP4 : gue ? BENCH_SLB_GUE4 : BENCH_SLB_A;
	__u32 slb6 = ipip ? BENCH_SLB_IPIP6 : gue ? BENCH_SLB_GUE6 : BENCH_SLB_A;
	struct vsn_dp_pool_member members[BENCH_POOL_MEMBERS];
	struct vsn_dp_pool pool = {
		.id = BENCH_POOL_ID,
		.n_members = BENCH_POOL_MEMBERS,
		.members = members,
	};
	struct vsn_dp_policy *v;
	struct vsn_dp_set set;
	size_t n, bad = 0;
	double t;
	int r;

	if (env->running.n && bench_layout_equal(&env->running, l))
		return 0;
	for (int k = 0; k < BENCH_POOL_MEMBERS; k++)
		members[k] =
			(struct vsn_dp_pool_member){.slb_id = BENCH_POOL_SLB0 + k, .weight = 1};
	r = bench_set_build(l, slb4, slb6, &v, &n);
	if (r)
		return bench_err(r, "cannot build a set of %u policies", l->n);
	set = (struct vsn_dp_set){
		.generation = env->generation + 1,
		.n_policies = n,
		.policies = v,
		.n_pools = l->pool ? 1 : 0,
		.pools = l->pool ? &pool : NULL,
		.maglev_size = 0, /* the default, 65,537 entries */
		.hash_seed = BENCH_HASH_SEED,
	};
	t = bench_now_ns();
	r = vsn_dp_set_apply(env->dp, &set, &bad);
	free(v);
	if (r)
		return bench_err(r, "cannot apply a set of %u policies (entry %zu)", l->n, bad);
	bench_progress("applied a set of %u %s policies%s%s in %.0f ms", l->n,
		       vsn_forward_name(l->forward), l->pool ? ", one of them to the pool" : "",
		       l->n_prefix4 || l->prefix6 || l->rules ? ", with prefixes or client rules"
							      : "",
		       (bench_now_ns() - t) / 1e6);
	env->generation = set.generation;
	env->running = *l;
	env->running_slb = slb4;
	return 0;
}
