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

void bench_layout(__u32 n, unsigned int need, enum vsn_forward forward, struct bench_layout *ret)
{
	unsigned int extras = n >= 3 ? BENCH_EXTRA_UDP | BENCH_EXTRA_V6 : need;
	__u32 k = __builtin_popcount(extras);

	ret->n = n;
	ret->extras = extras;
	ret->n_tcp4 = n > k ? n - k : 0;
	ret->forward = forward;
	ret->pool = false;
}

bool bench_layout_equal(const struct bench_layout *a, const struct bench_layout *b)
{
	return a->n == b->n && a->extras == b->extras && a->n_tcp4 == b->n_tcp4 &&
	       a->forward == b->forward && a->pool == b->pool;
}

__u32 bench_layout_mid_vip4(const struct bench_layout *l)
{
	return BENCH_VIP4_BASE + l->n_tcp4 / 2;
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

int bench_set_build(const struct bench_layout *l, __u32 slb4, __u32 slb6,
		    struct vsn_dp_policy **ret, size_t *ret_n)
{
	struct vsn_dp_policy *v = calloc(l->n ? l->n : 1, sizeof(*v));
	__u32 i = 0;

	if (!v)
		return -ENOMEM;
	for (; i < l->n_tcp4; i++) {
		__u32 a = htonl(BENCH_VIP4_BASE + i);

		v[i].vip.family = AF_INET;
		memcpy(v[i].vip.bytes, &a, 4);
		policy_fill(&v[i], i, IPPROTO_TCP, BENCH_TCP_PORT, slb4);
	}
	if (l->pool && l->n_tcp4) {
		struct vsn_dp_policy *p = &v[bench_layout_mid_vip4(l) - BENCH_VIP4_BASE];

		p->slb_id = 0;
		p->pool_id = BENCH_POOL_ID;
	}
	if (l->extras & BENCH_EXTRA_UDP) {
		__u32 a = htonl(BENCH_VIP4_UDP);

		v[i].vip.family = AF_INET;
		memcpy(v[i].vip.bytes, &a, 4);
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
	*ret_n = i;
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
	bench_progress("applied a set of %u %s policies%s in %.0f ms", l->n,
		       vsn_forward_name(l->forward), l->pool ? ", one of them to the pool" : "",
		       (bench_now_ns() - t) / 1e6);
	env->generation = set.generation;
	env->running = *l;
	env->running_slb = slb4;
	return 0;
}
