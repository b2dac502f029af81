/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "compile.h"

/* The set and its arrays; the set comes first so that vsn_compile_free() finds the rest. */
struct compiled {
	struct vsn_dp_set set;
	struct vsn_dp_policy *policies;
	struct vsn_dp_client *clients;
	struct vsn_dp_slb *slbs;
	struct vsn_dp_pool *pools;
	struct vsn_dp_pool_member *members;
};

#define N_FORWARDS 3 /* l2, ipip, gue */

struct ctx {
	const struct vsn_state *st;
	const struct vsn_compile_env *env;
	struct compiled *c;
	/* Per (SLB index, forward): its index in c->slbs + 1, 0 when unused. */
	size_t *slb_use;
	/* Per pool index of the document: its id in the set, 0 when unused. */
	uint32_t *pool_id;
};

bool vsn_compile_node_runs(const struct vsn_state_service *vs, const char *node)
{
	if (!vs->nodes_given)
		return true;
	for (size_t i = 0; i < vs->n_nodes; i++)
		if (!strcmp(vs->nodes[i].name, node))
			return true;
	return false;
}

static const struct vsn_state_config *active_config(const struct ctx *x,
						    const struct vsn_state_service *vs)
{
	const struct vsn_state_config *cfg = NULL;

	if (x->env && x->env->active)
		cfg = x->env->active(x->env->arg, vs);
	return cfg ? cfg : vs->default_config;
}

static int id_of(const struct ctx *x, enum vsn_compile_id_kind kind, const char *key, uint32_t *ret)
{
	return x->env->id(x->env->arg, kind, key, ret);
}

static const char *const forward_key[N_FORWARDS] = {"l2", "ipip", "gue"};

/* The set's SLB for an SLB reached one way, defined on first use. */
static int slb_use(struct ctx *x, const struct vsn_state_slb *slb, enum vsn_forward fwd,
		   uint32_t *ret_id)
{
	size_t k = (size_t)(slb - x->st->slbs) * N_FORWARDS + (size_t)fwd;
	char key[VSN_COMPILE_KEY_MAX];
	struct vsn_dp_slb *s;
	int r;

	if (!x->slb_use[k]) {
		s = &x->c->slbs[x->c->set.n_slbs];
		memset(s, 0, sizeof(*s));
		snprintf(key, sizeof(key), "%s/%s", slb->name, forward_key[fwd]);
		r = id_of(x, VSN_COMPILE_ID_SLB, key, &s->id);
		if (r)
			return r;
		s->addr = slb->addr;
		s->forward = fwd;
		s->state = x->env->slb_state ? x->env->slb_state(x->env->arg, slb) : slb->state;
		x->slb_use[k] = ++x->c->set.n_slbs;
	}
	*ret_id = x->c->slbs[x->slb_use[k] - 1].id;
	return 0;
}

/* A destination as (slb_id, pool_id), one of them 0. Pools get their ids beforehand. */
static int dest_ids(struct ctx *x, const struct vsn_state_dest *d, uint32_t *ret_slb,
		    uint32_t *ret_pool)
{
	*ret_slb = *ret_pool = 0;
	if (d->kind == VSN_STATE_DEST_POOL) {
		*ret_pool = x->pool_id[d->pool - x->st->pools];
		return 0;
	}
	return slb_use(x, d->slb, d->slb->forward, ret_slb);
}

/* Mark the pools the node's active configurations use (pool_id 1 for now). */
static void pools_mark(struct ctx *x, const struct vsn_state_service *vs)
{
	const struct vsn_state_config *cfg = active_config(x, vs);

	for (size_t i = 0; i < cfg->n_policies; i++)
		if (cfg->policies[i].dest.kind == VSN_STATE_DEST_POOL)
			x->pool_id[cfg->policies[i].dest.pool - x->st->pools] = 1;
}

static const struct vsn_state *sort_st;

static int cmp_pool_index(const void *a, const void *b)
{
	return strcmp(sort_st->pools[*(const size_t *)a].name,
		      sort_st->pools[*(const size_t *)b].name);
}

/* Ids 1.. to the used pools in order of name, and their members. */
static int pools_define(struct ctx *x)
{
	const struct vsn_state *st = x->st;
	size_t *order, n = 0, m = 0;
	int r = 0;

	order = calloc(st->n_pools + 1, sizeof(*order));
	if (!order)
		return -ENOMEM;
	for (size_t i = 0; i < st->n_pools; i++)
		if (x->pool_id[i])
			order[n++] = i;
	sort_st = st;
	qsort(order, n, sizeof(*order), cmp_pool_index);
	for (size_t k = 0; k < n && !r; k++) {
		const struct vsn_state_pool *sp = &st->pools[order[k]];
		struct vsn_dp_pool *p = &x->c->pools[k];

		x->pool_id[order[k]] = (uint32_t)(k + 1);
		p->id = (uint32_t)(k + 1);
		p->n_members = sp->n_members;
		p->members = &x->c->members[m];
		for (size_t j = 0; j < sp->n_members && !r; j++) {
			struct vsn_dp_pool_member *mem = &x->c->members[m++];

			mem->weight = sp->members[j].weight;
			r = slb_use(x, sp->members[j].slb, sp->forward, &mem->slb_id);
		}
	}
	x->c->set.n_pools = n;
	free(order);
	return r;
}

/*
 * Every SLB any configuration of the service may send to, whether the active one does or not,
 * with its state in force: a switch then changes policies only, and a node that connects while
 * an SLB is down learns it is down even when the active configuration no longer uses it (its
 * connection table may still send established flows there: SLBs outlive sets on a node).
 */
static int service_slbs(struct ctx *x, const struct vsn_state_service *vs)
{
	uint32_t id;
	int r = 0;

	for (size_t k = 0; k < vs->n_configs && !r; k++) {
		const struct vsn_state_config *cfg = &vs->configs[k];

		for (size_t i = 0; i < cfg->n_policies && !r; i++) {
			const struct vsn_state_dest *d = &cfg->policies[i].dest;

			if (d->kind != VSN_STATE_DEST_POOL) {
				r = slb_use(x, d->slb, d->slb->forward, &id);
				continue;
			}
			for (size_t m = 0; m < d->pool->n_members && !r; m++)
				r = slb_use(x, d->pool->members[m].slb, d->pool->forward, &id);
		}
	}
	return r;
}

static int cmp_client(const void *a, const void *b)
{
	const struct vsn_dp_client *x = a, *y = b;
	int d = memcmp(x->prefix.bytes, y->prefix.bytes, sizeof(x->prefix.bytes));

	return d ? d : (int)x->plen - (int)y->plen;
}

/* The policies of one service on this node: one per port, with the configuration's rules. */
static int service_policies(struct ctx *x, const struct vsn_state_service *vs, size_t *n_clients)
{
	const struct vsn_state_config *cfg = active_config(x, vs);
	const struct vsn_state_policy *main_policy = NULL;
	char key[VSN_COMPILE_KEY_MAX];
	uint32_t service_id, slb_id, pool_id;
	unsigned int full = vs->vip.family == AF_INET ? 32 : 128;
	int r;

	r = id_of(x, VSN_COMPILE_ID_SERVICE, vs->name, &service_id);
	if (r)
		return r;
	for (size_t i = 0; i < cfg->n_policies; i++)
		if (!cfg->policies[i].has_clients)
			main_policy = &cfg->policies[i];
	if (!main_policy)
		return -EINVAL; /* a checked document has one */
	r = dest_ids(x, &main_policy->dest, &slb_id, &pool_id);
	if (r)
		return r;
	for (size_t i = 0; i < vs->n_ports; i++) {
		struct vsn_dp_policy *p = &x->c->policies[x->c->set.n_policies++];
		struct vsn_dp_client *cl = &x->c->clients[*n_clients];
		size_t n = 0;

		memset(p, 0, sizeof(*p));
		p->vip = vs->vip;
		p->vip_plen = (__u8)(vs->vip_plen == full ? 0 : vs->vip_plen);
		p->proto = vs->ports[i].proto;
		p->port = vs->ports[i].port;
		p->slb_id = slb_id;
		p->pool_id = pool_id;
		p->service_id = service_id;
		p->on_change = vs->on_change;
		snprintf(key, sizeof(key), "%s/%s/%u", vs->name,
			 p->proto == IPPROTO_TCP ? "tcp" : "udp", p->port);
		r = id_of(x, VSN_COMPILE_ID_POLICY, key, &p->policy_id);
		if (r)
			return r;
		for (size_t j = 0; j < cfg->n_policies; j++) {
			const struct vsn_state_policy *sp = &cfg->policies[j];

			if (!sp->has_clients)
				continue;
			cl[n].prefix = sp->clients;
			cl[n].plen = (__u8)sp->clients_plen;
			r = dest_ids(x, &sp->dest, &cl[n].slb_id, &cl[n].pool_id);
			if (r)
				return r;
			n++;
		}
		qsort(cl, n, sizeof(*cl), cmp_client);
		p->n_clients = n;
		p->clients = n ? cl : NULL;
		*n_clients += n;
	}
	return 0;
}

static int cmp_policy(const void *a, const void *b)
{
	const struct vsn_dp_policy *x = a, *y = b;
	int d;

	if (x->vip.family != y->vip.family)
		return x->vip.family < y->vip.family ? -1 : 1;
	d = memcmp(x->vip.bytes, y->vip.bytes, sizeof(x->vip.bytes));
	if (d)
		return d;
	if (x->vip_plen != y->vip_plen)
		return x->vip_plen < y->vip_plen ? -1 : 1;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	return x->port < y->port ? -1 : x->port > y->port;
}

static int cmp_slb(const void *a, const void *b)
{
	const struct vsn_dp_slb *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Upper bounds of the set's arrays for this node. */
static void sizes(const struct ctx *x, const char *node, size_t *np, size_t *nc, size_t *nm)
{
	const struct vsn_state *st = x->st;

	*np = *nc = *nm = 0;
	for (size_t i = 0; i < st->n_services; i++) {
		const struct vsn_state_service *vs = &st->services[i];
		const struct vsn_state_config *cfg;

		if (!vsn_compile_node_runs(vs, node))
			continue;
		cfg = active_config(x, vs);
		*np += vs->n_ports;
		*nc += vs->n_ports * cfg->n_policies;
	}
	for (size_t i = 0; i < st->n_pools; i++)
		*nm += st->pools[i].n_members;
}

int vsn_compile_node(const struct vsn_state *st, const char *node, uint64_t generation,
		     const struct vsn_compile_env *env, struct vsn_dp_set **ret_set)
{
	struct ctx x = {.st = st, .env = env};
	/* A service without `nodes` runs on every node of the document, not on strangers. */
	bool known = vsn_state_node_find(st, node) != NULL;
	size_t np, nc, nm, n_clients = 0;
	struct compiled *c;
	int r = -ENOMEM;

	sizes(&x, node, &np, &nc, &nm);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	x.c = c;
	c->policies = calloc(np + 1, sizeof(*c->policies));
	c->clients = calloc(nc + 1, sizeof(*c->clients));
	c->slbs = calloc(st->n_slbs * N_FORWARDS + 1, sizeof(*c->slbs));
	c->pools = calloc(st->n_pools + 1, sizeof(*c->pools));
	c->members = calloc(nm + 1, sizeof(*c->members));
	x.slb_use = calloc(st->n_slbs * N_FORWARDS + 1, sizeof(*x.slb_use));
	x.pool_id = calloc(st->n_pools + 1, sizeof(*x.pool_id));
	if (!c->policies || !c->clients || !c->slbs || !c->pools || !c->members || !x.slb_use ||
	    !x.pool_id)
		goto fail;

	for (size_t i = 0; i < st->n_services; i++)
		if (known && vsn_compile_node_runs(&st->services[i], node))
			pools_mark(&x, &st->services[i]);
	r = pools_define(&x);
	for (size_t i = 0; i < st->n_services && !r; i++)
		if (known && vsn_compile_node_runs(&st->services[i], node))
			r = service_policies(&x, &st->services[i], &n_clients);
	for (size_t i = 0; i < st->n_services && !r; i++)
		if (known && vsn_compile_node_runs(&st->services[i], node))
			r = service_slbs(&x, &st->services[i]);
	if (r)
		goto fail;
	/*
	 * Sorted, the order no longer depends on the document's: the client rules travel with
	 * their policy (their pointer), the pools' members already point at SLB ids.
	 */
	qsort(c->policies, c->set.n_policies, sizeof(*c->policies), cmp_policy);
	qsort(c->slbs, c->set.n_slbs, sizeof(*c->slbs), cmp_slb);
	c->set.generation = generation;
	c->set.policies = c->set.n_policies ? c->policies : NULL;
	c->set.slbs = c->set.n_slbs ? c->slbs : NULL;
	c->set.pools = c->set.n_pools ? c->pools : NULL;
	c->set.maglev_size = st->settings.maglev_size;
	c->set.hash_seed = st->settings.hash_seed;
	*ret_set = &c->set;
	free(x.slb_use);
	free(x.pool_id);
	return 0;
fail:
	free(x.slb_use);
	free(x.pool_id);
	vsn_compile_free(&c->set);
	return r;
}

void vsn_compile_free(struct vsn_dp_set *set)
{
	struct compiled *c = (struct compiled *)set;

	if (!set)
		return;
	free(c->policies);
	free(c->clients);
	free(c->slbs);
	free(c->pools);
	free(c->members);
	free(c);
}
