/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vsn_dp_policies_foreach(): the running generation's maps decoded back into
 * the policies a set gave (dp_set.c builds them): VIP entries and their port
 * policies from the hash, VIP prefixes from their trie, client-source rules
 * from theirs, pool indexes back to pool ids.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/in.h>
#include <bpf/bpf.h>

#include "dp_internal.h"

/* What decoding needs besides the entry at hand. */
struct emit {
	int (*cb)(const struct vsn_dp_policy *p, void *arg);
	void *arg;
	const struct vsn_dp_pool *pools; /* by index, as dests name them */
	size_t n_pools;
	struct vsn_client_key *ckeys; /* every client rule */
	struct vsn_dest *cvals;
	size_t *by_policy; /* indexes into ckeys/cvals, sorted by policy id */
	size_t nc;
	struct vsn_dp_client *rules; /* scratch: one policy's rules */
};

/* A dest's target back to an SLB or pool id. */
static int target_decode(const struct vsn_dest *d, const struct emit *e, __u32 *ret_slb,
			 __u32 *ret_pool)
{
	*ret_slb = d->target;
	*ret_pool = 0;
	if (d->flags & VSN_DEST_POOL) {
		if (d->target >= e->n_pools)
			return -EPROTO;
		*ret_slb = 0;
		*ret_pool = e->pools[d->target].id;
	}
	return 0;
}

/* A v4-mapped-space prefix length back to the family's. */
static __u8 family_plen(const struct vsn_addr *a, __u32 mapped)
{
	return a->family == AF_INET ? (__u8)(mapped - 96) : (__u8)mapped;
}

/* Rule indexes by the policy id of their keys (qsort_r's argument). */
static int by_policy_cmp(const void *a, const void *b, void *keys)
{
	const struct vsn_client_key *k = keys;
	__u32 x = ntohl(k[*(const size_t *)a].policy_id);
	__u32 y = ntohl(k[*(const size_t *)b].policy_id);

	return (x > y) - (x < y);
}

/* The first position in e->by_policy whose policy id is not below policy_id. */
static size_t rules_first(const struct emit *e, __u32 policy_id)
{
	size_t lo = 0, hi = e->nc;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ntohl(e->ckeys[e->by_policy[mid]].policy_id) < policy_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The client rules of policy_id into e->rules; their count. */
static int rules_decode(const struct emit *e, __u32 policy_id, size_t *ret_n)
{
	size_t n = 0;
	int r;

	for (size_t j = rules_first(e, policy_id); j < e->nc; j++) {
		size_t i = e->by_policy[j];
		struct vsn_dp_client *c = &e->rules[n];

		if (ntohl(e->ckeys[i].policy_id) != policy_id)
			break;
		memset(c, 0, sizeof(*c));
		vsn_addr_from_key(e->ckeys[i].addr, &c->prefix);
		c->plen = family_plen(&c->prefix, e->ckeys[i].prefixlen - 32);
		r = target_decode(&e->cvals[i], e, &c->slb_id, &c->pool_id);
		if (r)
			return r;
		n++;
	}
	*ret_n = n;
	return 0;
}

static int dest_emit(const struct vsn_policy_key *k, __u8 proto, __be16 port,
		     const struct vsn_dest *d, const struct emit *e)
{
	struct vsn_dp_policy p = {
		.proto = proto,
		.port = ntohs(port),
		.service_id = d->service_id,
		.policy_id = d->policy_id,
		.on_change =
			d->flags & VSN_DEST_REHASH ? VSN_ON_CHANGE_REHASH : VSN_ON_CHANGE_PRESERVE,
	};
	int r;

	if (!(d->flags & VSN_DEST_VALID))
		return 0;
	r = target_decode(d, e, &p.slb_id, &p.pool_id);
	if (r)
		return r;
	vsn_addr_from_key(k->addr, &p.vip);
	if (k->plen)
		p.vip_plen = family_plen(&p.vip, k->plen);
	if (d->flags & VSN_DEST_CLIENTS) {
		r = rules_decode(e, d->policy_id, &p.n_clients);
		if (r)
			return r;
		p.clients = e->rules;
	}
	return e->cb(&p, e->arg);
}

/* The policies one entry holds (a VIP's or a prefix's, or a port's), one callback each. */
static int entry_emit(const struct vsn_policy_key *k, const struct vsn_match *v,
		      const struct emit *e)
{
	int r;

	if (k->proto)
		return dest_emit(k, k->proto, k->port, &v->dest[0], e);
	for (int i = 0; i < VSN_VIP_PORT_SLOTS && v->ports[i].proto; i++) {
		r = dest_emit(k, v->ports[i].proto, v->ports[i].port, &v->ports[i].dest, e);
		if (r)
			return r;
	}
	r = dest_emit(k, IPPROTO_TCP, 0, &v->dest[VSN_L4_TCP], e);
	if (!r)
		r = dest_emit(k, IPPROTO_UDP, 0, &v->dest[VSN_L4_UDP], e);
	return r;
}

static int hash_emit(const struct dp_gen *g, const struct emit *e)
{
	struct vsn_policy_key key, next;
	struct vsn_match val;
	void *prev = NULL;
	int r;

	while (!bpf_map_get_next_key(g->policies, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(g->policies, &key, &val))
			continue;
		r = entry_emit(&key, &val, e);
		if (r)
			return r;
	}
	return 0;
}

static int prefixes_emit(const struct dp_gen *g, const struct emit *e)
{
	struct vsn_prefix_match *vals = NULL;
	struct vsn_prefix_key *keys = NULL;
	size_t n = 0;
	int r;

	if (g->prefixes < 0)
		return 0;
	r = dp_lpm_read(g->prefixes, sizeof(*keys), sizeof(*vals), (void **)&keys, (void **)&vals,
			&n);
	for (size_t i = 0; i < n && !r; i++) {
		struct vsn_policy_key k = {.plen = (__u8)keys[i].prefixlen};

		memcpy(k.addr, keys[i].addr, 16);
		r = entry_emit(&k, &vals[i].m, e);
	}
	free(keys);
	free(vals);
	return r;
}

int vsn_dp_policies_foreach(struct vsn_dp *dp, int (*cb)(const struct vsn_dp_policy *p, void *arg),
			    void *arg)
{
	struct dp_gen g = DP_GEN_INIT;
	struct vsn_dp_pool *pools = NULL;
	struct emit e = {.cb = cb, .arg = arg};
	int r;

	r = dp_gen_open_running(dp, &g);
	if (r)
		return r == -ENOENT ? 0 : r;
	r = dp_pooldefs_read(&g, &pools, &e.n_pools);
	if (r)
		goto out;
	e.pools = pools;
	if (g.clients >= 0) {
		r = dp_lpm_read(g.clients, sizeof(*e.ckeys), sizeof(*e.cvals), (void **)&e.ckeys,
				(void **)&e.cvals, &e.nc);
		if (r)
			goto out;
		e.rules = calloc(e.nc + 1, sizeof(*e.rules));
		e.by_policy = calloc(e.nc + 1, sizeof(*e.by_policy));
		if (!e.rules || !e.by_policy) {
			r = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < e.nc; i++)
			e.by_policy[i] = i;
		qsort_r(e.by_policy, e.nc, sizeof(*e.by_policy), by_policy_cmp, e.ckeys);
	}
	r = hash_emit(&g, &e);
	if (!r)
		r = prefixes_emit(&g, &e);
out:
	free(e.ckeys);
	free(e.cvals);
	free(e.rules);
	free(e.by_policy);
	dp_pools_free(pools, e.n_pools);
	dp_gen_close(&g);
	return r;
}
