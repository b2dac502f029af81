/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Policy-set files are YAML, read with libyaml's document loader so that
 * every node keeps its position for error messages.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/in.h>
#include <sys/socket.h>

#include "maglev.h"
#include "policyfile.h"
#include "yaml_walk.h"

struct pf_ctx {
	struct vsn_yaml y;
	struct vsn_policyfile pf;
	yaml_node_t **targets;	     /* each policy's slb or pool node, for later errors */
	yaml_node_t ***rule_targets; /* and each of its client rules' */
};

static int slb_field(struct vsn_yaml *y, const char *key, yaml_node_t *v, void *obj)
{
	struct vsn_pf_slb *s = obj;
	const char *str = vsn_yaml_scalar(v);

	if (!strcmp(key, "id"))
		return vsn_yaml_u32(y, v, "slb id", 1, UINT32_MAX - 1, &s->slb.id);
	if (!strcmp(key, "address"))
		return vsn_yaml_addr(y, v, "slb address", &s->slb.addr);
	if (!strcmp(key, "forward")) {
		if (!str || vsn_forward_parse(str, &s->slb.forward))
			return vsn_yaml_fail(y, v, "forward: expected l2, ipip or gue");
		return 0;
	}
	/* state */
	if (!str || vsn_slb_state_parse(str, &s->slb.state))
		return vsn_yaml_fail(y, v, "state: expected up, down or drain");
	s->has_state = true;
	return 0;
}

struct pol {
	struct vsn_dp_policy p;
	bool has_id, has_vip, has_proto;
	yaml_node_t *target;	    /* the slb or pool field: exactly one */
	yaml_node_t **rule_targets; /* each client rule's slb or pool field */
};

struct rule {
	struct vsn_dp_client r;
	yaml_node_t *target;
	bool has_from;
};

static int rule_field(struct vsn_yaml *y, const char *key, yaml_node_t *v, void *obj)
{
	struct rule *r = obj;
	const char *str = vsn_yaml_scalar(v);
	unsigned int plen;

	if (!strcmp(key, "from")) {
		r->has_from = true;
		if (!str || vsn_prefix_parse(str, &r->r.prefix, &plen))
			return vsn_yaml_fail(
				y, v,
				"from: expected a client prefix ADDRESS/LENGTH with no host "
				"bits set");
		r->r.plen = (__u8)plen;
		return 0;
	}
	if (r->target)
		return vsn_yaml_fail(y, v, "client rule: give 'slb' or 'pool', not both");
	r->target = v;
	if (!strcmp(key, "pool"))
		return vsn_yaml_u32(y, v, "pool", 1, UINT32_MAX - 1, &r->r.pool_id);
	return vsn_yaml_u32(y, v, "slb", 1, UINT32_MAX - 1, &r->r.slb_id);
}

static const char *const rule_fields[] = {"from", "slb", "pool", NULL};

/* A policy's client-source rules; pools they name are checked with the policies'. */
static int parse_clients(struct vsn_yaml *y, yaml_node_t *seq, struct pol *p)
{
	struct vsn_dp_client *rules;
	size_t n;
	int e;

	e = vsn_yaml_list(y, seq, "clients", &n);
	if (e)
		return e;
	if (n > VSN_DP_MAX_CLIENTS)
		return vsn_yaml_fail(y, seq, "clients: at most %d rules, not %zu",
				     VSN_DP_MAX_CLIENTS, n);
	if (p->p.clients)
		return vsn_yaml_fail(y, seq, "clients: given twice");
	rules = calloc(n ? n : 1, sizeof(*rules));
	p->rule_targets = calloc(n ? n : 1, sizeof(*p->rule_targets));
	if (!rules || !p->rule_targets) {
		free(rules);
		return vsn_yaml_oom(y);
	}
	p->p.clients = rules;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = vsn_yaml_item(y, seq, i);
		struct rule r = {0};

		e = vsn_yaml_each_field(y, item, "client rule", rule_fields, rule_field, &r);
		if (e)
			return e;
		if (!r.has_from)
			return vsn_yaml_fail(y, item, "client rule: 'from' is required");
		if (!r.target)
			return vsn_yaml_fail(y, item, "client rule: 'slb' or 'pool' is required");
		for (size_t j = 0; j < i; j++)
			if (rules[j].plen == r.r.plen &&
			    vsn_addr_equal(&rules[j].prefix, &r.r.prefix))
				return vsn_yaml_fail(y, item,
						     "client rule: this prefix is given twice");
		rules[i] = r.r;
		p->p.n_clients++;
		p->rule_targets[i] = r.target;
	}
	return 0;
}

static int policy_field(struct vsn_yaml *y, const char *key, yaml_node_t *v, void *obj)
{
	struct pol *p = obj;
	const char *str = vsn_yaml_scalar(v);

	if (!strcmp(key, "id")) {
		p->has_id = true;
		return vsn_yaml_u32(y, v, "policy id", 0, UINT32_MAX - 1, &p->p.policy_id);
	}
	if (!strcmp(key, "service"))
		return vsn_yaml_u32(y, v, "service", 0, UINT32_MAX - 1, &p->p.service_id);
	if (!strcmp(key, "vip")) {
		unsigned int plen;

		p->has_vip = true;
		if (!str || vsn_prefix_parse(str, &p->p.vip, &plen))
			return vsn_yaml_fail(
				y, v,
				"vip: expected an address or a prefix ADDRESS/LENGTH with no "
				"host bits set, not '%s'",
				str ? str : "a list or mapping");
		/* A full-length prefix is one address. */
		p->p.vip_plen = plen == (p->p.vip.family == AF_INET ? 32u : 128u) ? 0 : plen;
		if (plen == 0)
			return vsn_yaml_fail(y, v, "vip: a /0 prefix would take every address");
		return 0;
	}
	if (!strcmp(key, "clients"))
		return parse_clients(y, v, p);
	if (!strcmp(key, "proto")) {
		p->has_proto = true;
		if (str && !strcmp(str, "tcp"))
			p->p.proto = IPPROTO_TCP;
		else if (str && !strcmp(str, "udp"))
			p->p.proto = IPPROTO_UDP;
		else
			return vsn_yaml_fail(y, v, "proto: expected tcp or udp");
		return 0;
	}
	if (!strcmp(key, "port")) {
		uint32_t port;
		int r;

		if (str && !strcmp(str, "any")) {
			p->p.port = 0;
			return 0;
		}
		r = vsn_yaml_u32(y, v, "port", 1, 65535, &port);
		p->p.port = port;
		return r;
	}
	if (!strcmp(key, "on_change")) {
		if (!str || vsn_on_change_parse(str, &p->p.on_change))
			return vsn_yaml_fail(y, v, "on_change: expected preserve or rehash");
		return 0;
	}
	if (p->target)
		return vsn_yaml_fail(y, v, "policy: give 'slb' or 'pool', not both");
	p->target = v;
	if (!strcmp(key, "pool"))
		return vsn_yaml_u32(y, v, "pool", 1, UINT32_MAX - 1, &p->p.pool_id);
	return vsn_yaml_u32(y, v, "slb", 1, UINT32_MAX - 1, &p->p.slb_id);
}

struct member {
	struct vsn_dp_pool_member m;
	bool has_slb;
};

static int member_field(struct vsn_yaml *y, const char *key, yaml_node_t *v, void *obj)
{
	struct member *m = obj;

	if (!strcmp(key, "slb")) {
		m->has_slb = true;
		return vsn_yaml_u32(y, v, "slb", 1, UINT32_MAX - 1, &m->m.slb_id);
	}
	return vsn_yaml_u32(y, v, "weight", 1, VSN_DP_MAX_WEIGHT, &m->m.weight);
}

static const char *const member_fields[] = {"slb", "weight", NULL};

static int parse_members(struct vsn_yaml *y, yaml_node_t *seq, struct vsn_pf_pool *pp)
{
	struct vsn_dp_pool_member *mb;
	size_t n;
	int r;

	r = vsn_yaml_list(y, seq, "members", &n);
	if (r)
		return r;
	if (!n || n > VSN_MAGLEV_MAX_MEMBERS)
		return vsn_yaml_fail(y, seq, "members: a pool has 1 to %d members, not %zu",
				     VSN_MAGLEV_MAX_MEMBERS, n);
	mb = calloc(n, sizeof(*mb));
	if (!mb)
		return vsn_yaml_oom(y);
	pp->pool.members = mb;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = vsn_yaml_item(y, seq, i);
		struct member m = {.m.weight = 1};

		r = vsn_yaml_each_field(y, item, "member", member_fields, member_field, &m);
		if (r)
			return r;
		if (!m.has_slb)
			return vsn_yaml_fail(y, item, "member: 'slb' is required");
		for (size_t j = 0; j < i; j++)
			if (mb[j].slb_id == m.m.slb_id)
				return vsn_yaml_fail(y, item,
						     "member: slb %u is in this pool already",
						     m.m.slb_id);
		mb[i] = m.m;
		pp->pool.n_members++;
	}
	return 0;
}

static int pool_field(struct vsn_yaml *y, const char *key, yaml_node_t *v, void *obj)
{
	struct vsn_pf_pool *pp = obj;

	if (!strcmp(key, "id"))
		return vsn_yaml_u32(y, v, "pool id", 1, UINT32_MAX - 1, &pp->pool.id);
	return parse_members(y, v, pp);
}

static int maglev_field(struct vsn_yaml *y, const char *key, yaml_node_t *v, void *obj)
{
	struct vsn_policyfile *pf = obj;
	int r;

	if (!strcmp(key, "seed"))
		return vsn_yaml_u32(y, v, "maglev seed", 0, UINT32_MAX, &pf->hash_seed);
	r = vsn_yaml_u32(y, v, "maglev size", 2, VSN_MAGLEV_MAX_SIZE, &pf->maglev_size);
	if (!r && !vsn_maglev_is_prime(pf->maglev_size))
		return vsn_yaml_fail(y, v, "maglev size: %u is not a prime", pf->maglev_size);
	return r;
}

static const char *const slb_fields[] = {"id", "address", "forward", "state", NULL};
static const char *const policy_fields[] = {"id",  "service", "vip",	   "proto",   "port",
					    "slb", "pool",    "on_change", "clients", NULL};
static const char *const pool_fields[] = {"id", "members", NULL};
static const char *const maglev_fields[] = {"size", "seed", NULL};
static const char *const top_fields[] = {"generation", "maglev", "slbs", "pools", "policies", NULL};

static int parse_pools(struct vsn_yaml *y, yaml_node_t *seq, struct vsn_policyfile *pf)
{
	size_t n;
	int r;

	r = vsn_yaml_list(y, seq, "pools", &n);
	if (r)
		return r;
	pf->pools = calloc(n ? n : 1, sizeof(*pf->pools));
	if (!pf->pools)
		return vsn_yaml_oom(y);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = vsn_yaml_item(y, seq, i);
		struct vsn_pf_pool *pp = &pf->pools[i];

		/* Counted first, so vsn_policyfile_free() frees a half-parsed pool. */
		pf->n_pools++;
		r = vsn_yaml_each_field(y, item, "pool", pool_fields, pool_field, pp);
		if (r)
			return r;
		pp->line = item->start_mark.line + 1;
		if (!pp->pool.id)
			return vsn_yaml_fail(y, item, "pool: 'id' is required");
		if (!pp->pool.n_members)
			return vsn_yaml_fail(y, item, "pool %u: 'members' is required",
					     pp->pool.id);
		for (size_t j = 0; j < i; j++)
			if (pf->pools[j].pool.id == pp->pool.id)
				return vsn_yaml_fail(y, item,
						     "pool id %u is already defined at line %d",
						     pp->pool.id, pf->pools[j].line);
	}
	return 0;
}

/* Each policy's pool is one the file defines (pools may come after policies). */
static bool pool_defined(const struct vsn_policyfile *pf, __u32 id)
{
	for (size_t j = 0; j < pf->n_pools; j++)
		if (pf->pools[j].pool.id == id)
			return true;
	return false;
}

static int check_pool_refs(struct pf_ctx *c)
{
	const struct vsn_policyfile *pf = &c->pf;

	for (size_t i = 0; i < pf->n_policies; i++) {
		const struct vsn_dp_policy *p = &pf->policies[i];

		if (p->pool_id && !pool_defined(pf, p->pool_id))
			return vsn_yaml_fail(&c->y, c->targets[i], "pool %u is not defined",
					     p->pool_id);
		for (size_t j = 0; j < p->n_clients; j++)
			if (p->clients[j].pool_id && !pool_defined(pf, p->clients[j].pool_id))
				return vsn_yaml_fail(&c->y, c->rule_targets[i][j],
						     "pool %u is not defined",
						     p->clients[j].pool_id);
	}
	return 0;
}

static int parse_slbs(struct vsn_yaml *y, yaml_node_t *seq, struct vsn_policyfile *pf)
{
	size_t n;
	int r;

	r = vsn_yaml_list(y, seq, "slbs", &n);
	if (r)
		return r;
	pf->slbs = calloc(n ? n : 1, sizeof(*pf->slbs));
	if (!pf->slbs)
		return vsn_yaml_oom(y);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = vsn_yaml_item(y, seq, i);
		struct vsn_pf_slb *s = &pf->slbs[i];

		r = vsn_yaml_each_field(y, item, "slb", slb_fields, slb_field, s);
		if (r)
			return r;
		s->line = item->start_mark.line + 1;
		if (!s->slb.id)
			return vsn_yaml_fail(y, item, "slb: 'id' is required");
		if (!s->slb.addr.family)
			return vsn_yaml_fail(y, item, "slb %u: 'address' is required", s->slb.id);
		for (size_t j = 0; j < i; j++)
			if (pf->slbs[j].slb.id == s->slb.id)
				return vsn_yaml_fail(y, item,
						     "slb id %u is already defined at line %d",
						     s->slb.id, pf->slbs[j].line);
		pf->n_slbs++;
	}
	return 0;
}

/* Check one parsed policy; r or 0. Its client rules' family is the VIP's. */
static int policy_done(struct vsn_yaml *y, yaml_node_t *item, const struct pol *p)
{
	if (!p->has_vip)
		return vsn_yaml_fail(y, item, "policy: 'vip' is required");
	if (!p->has_proto)
		return vsn_yaml_fail(y, item, "policy: 'proto' is required");
	if (!p->target)
		return vsn_yaml_fail(y, item, "policy: 'slb' or 'pool' is required");
	for (size_t j = 0; j < p->p.n_clients; j++)
		if (p->p.clients[j].prefix.family != p->p.vip.family)
			return vsn_yaml_fail(
				y, p->rule_targets[j],
				"client rule: its prefix is of another family than the VIP");
	return 0;
}

static int parse_policies(struct pf_ctx *c, yaml_node_t *seq)
{
	struct vsn_yaml *y = &c->y;
	struct vsn_policyfile *pf = &c->pf;
	size_t n;
	int r;

	r = vsn_yaml_list(y, seq, "policies", &n);
	if (r)
		return r;
	pf->policies = calloc(n ? n : 1, sizeof(*pf->policies));
	pf->policy_lines = calloc(n ? n : 1, sizeof(*pf->policy_lines));
	c->targets = calloc(n ? n : 1, sizeof(*c->targets));
	c->rule_targets = calloc(n ? n : 1, sizeof(*c->rule_targets));
	if (!pf->policies || !pf->policy_lines || !c->targets || !c->rule_targets)
		return vsn_yaml_oom(y);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = vsn_yaml_item(y, seq, i);
		struct pol p = {0};

		r = vsn_yaml_each_field(y, item, "policy", policy_fields, policy_field, &p);
		/* The policy and its rules are the file's from here, freed with it. */
		pf->policies[i] = p.p;
		c->rule_targets[i] = p.rule_targets;
		pf->n_policies++;
		if (!r)
			r = policy_done(y, item, &p);
		if (r)
			return r;
		/* Without an id, a policy counts under its 1-based position. */
		if (!p.has_id)
			pf->policies[i].policy_id = i + 1;
		for (size_t j = 0; p.has_id && j < i; j++)
			if (pf->policies[j].policy_id == p.p.policy_id)
				return vsn_yaml_fail(y, item,
						     "policy id %u is already used at line %d",
						     p.p.policy_id, pf->policy_lines[j]);
		pf->policy_lines[i] = item->start_mark.line + 1;
		c->targets[i] = p.target;
	}
	return 0;
}

static int top_field(struct vsn_yaml *y, const char *key, yaml_node_t *v, void *obj)
{
	struct pf_ctx *c = obj;
	struct vsn_policyfile *pf = &c->pf;

	if (!strcmp(key, "generation")) {
		uint64_t gen;
		int r;

		pf->has_generation = true;
		r = vsn_yaml_u64(y, v, "generation", 1, UINT64_MAX - 1, &gen);
		pf->generation = gen;
		return r;
	}
	if (!strcmp(key, "maglev"))
		return vsn_yaml_each_field(y, v, "maglev", maglev_fields, maglev_field, pf);
	if (!strcmp(key, "slbs"))
		return parse_slbs(y, v, pf);
	if (!strcmp(key, "pools"))
		return parse_pools(y, v, pf);
	return parse_policies(c, v);
}

int vsn_policyfile_parse(const char *name, const char *text, size_t len, struct vsn_policyfile *ret,
			 char *err, size_t errlen)
{
	struct pf_ctx c = {0};
	int r;

	r = vsn_yaml_load(&c.y, name, text, len, err, errlen);
	if (r)
		return r;
	r = vsn_yaml_each_root_field(&c.y, "empty document", "policy set", top_fields, top_field,
				     &c);
	if (!r)
		r = check_pool_refs(&c);
	/* A second document would be ignored: refuse it instead. */
	if (!r)
		r = vsn_yaml_expect_end(&c.y);
	free(c.targets);
	for (size_t i = 0; c.rule_targets && i < c.pf.n_policies; i++)
		free(c.rule_targets[i]);
	free(c.rule_targets);
	vsn_yaml_free(&c.y);
	if (r) {
		vsn_policyfile_free(&c.pf);
		return r;
	}
	*ret = c.pf;
	return 0;
}

void vsn_policyfile_free(struct vsn_policyfile *pf)
{
	for (size_t i = 0; i < pf->n_pools; i++)
		free((void *)pf->pools[i].pool.members);
	free(pf->pools);
	for (size_t i = 0; i < pf->n_policies; i++)
		free((void *)pf->policies[i].clients);
	free(pf->slbs);
	free(pf->policies);
	free(pf->policy_lines);
	memset(pf, 0, sizeof(*pf));
}
