/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Policy-set files are YAML, read with libyaml's document loader so that
 * every node keeps its position for error messages.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/in.h>
#include <sys/socket.h>
#include <yaml.h>

#include "maglev.h"
#include "policyfile.h"

struct pf_ctx {
	const char *name;
	yaml_document_t *doc;
	char *err;
	size_t errlen;
	yaml_node_t **targets;	     /* each policy's slb or pool node, for later errors */
	yaml_node_t ***rule_targets; /* and each of its client rules' */
};

static int fail(struct pf_ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
	size_t off;
	va_list ap;

	off = snprintf(c->err, c->errlen, "%s:%zu:%zu: ", c->name, n ? n->start_mark.line + 1 : 1,
		       n ? n->start_mark.column + 1 : 1);
	if (off < c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err + off, c->errlen - off, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int get_u64(struct pf_ctx *c, const yaml_node_t *n, const char *what, uint64_t min,
		   uint64_t max, __u64 *ret)
{
	const char *s = scalar(n);
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		return fail(c, n, "%s: expected a whole number", what);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return fail(c, n, "%s: expected a whole number, not '%s'", what, s);
	if (v < min || v > max)
		return fail(c, n, "%s: %llu is out of range %" PRIu64 "..%" PRIu64, what, v, min,
			    max);
	*ret = v;
	return 0;
}

static int get_u32(struct pf_ctx *c, const yaml_node_t *n, const char *what, uint32_t min,
		   uint32_t max, uint32_t *ret)
{
	__u64 v;
	int r = get_u64(c, n, what, min, max, &v);

	if (!r)
		*ret = v;
	return r;
}

static int get_addr(struct pf_ctx *c, const yaml_node_t *n, const char *what, struct vsn_addr *ret)
{
	const char *s = scalar(n);

	if (!s)
		return fail(c, n, "%s: expected an address", what);
	if (vsn_addr_parse(s, ret))
		return fail(c, n, "%s: '%s' is not an IPv4 or IPv6 address", what, s);
	return 0;
}

/*
 * Walk a mapping, calling field() for each key. Unknown and duplicate keys
 * are errors, so a typo never silently means "default".
 */
typedef int (*field_fn)(struct pf_ctx *c, const char *key, yaml_node_t *val, void *obj);

static int each_field(struct pf_ctx *c, yaml_node_t *map, const char *what,
		      const char *const *known, field_fn field, void *obj)
{
	unsigned long long seen = 0;

	if (map->type != YAML_MAPPING_NODE)
		return fail(c, map, "%s: expected a mapping", what);
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
		const char *key = scalar(k);
		int i, r;

		if (!key)
			return fail(c, k, "%s: keys must be plain words", what);
		for (i = 0; known[i] && strcmp(known[i], key); i++)
			;
		if (!known[i])
			return fail(c, k, "%s: unknown field '%s'", what, key);
		if (seen & (1ull << i))
			return fail(c, k, "%s: field '%s' given twice", what, key);
		seen |= 1ull << i;
		r = field(c, key, v, obj);
		if (r)
			return r;
	}
	return 0;
}

static int slb_field(struct pf_ctx *c, const char *key, yaml_node_t *v, void *obj)
{
	struct vsn_pf_slb *s = obj;
	const char *str = scalar(v);

	if (!strcmp(key, "id"))
		return get_u32(c, v, "slb id", 1, UINT32_MAX - 1, &s->slb.id);
	if (!strcmp(key, "address"))
		return get_addr(c, v, "slb address", &s->slb.addr);
	if (!strcmp(key, "forward")) {
		if (!str || vsn_forward_parse(str, &s->slb.forward))
			return fail(c, v, "forward: expected l2, ipip or gue");
		return 0;
	}
	/* state */
	if (!str || vsn_slb_state_parse(str, &s->slb.state))
		return fail(c, v, "state: expected up, down or drain");
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

static int rule_field(struct pf_ctx *c, const char *key, yaml_node_t *v, void *obj)
{
	struct rule *r = obj;
	const char *str = scalar(v);
	unsigned int plen;

	if (!strcmp(key, "from")) {
		r->has_from = true;
		if (!str || vsn_prefix_parse(str, &r->r.prefix, &plen))
			return fail(c, v,
				    "from: expected a client prefix ADDRESS/LENGTH with no host "
				    "bits set");
		r->r.plen = (__u8)plen;
		return 0;
	}
	if (r->target)
		return fail(c, v, "client rule: give 'slb' or 'pool', not both");
	r->target = v;
	if (!strcmp(key, "pool"))
		return get_u32(c, v, "pool", 1, UINT32_MAX - 1, &r->r.pool_id);
	return get_u32(c, v, "slb", 1, UINT32_MAX - 1, &r->r.slb_id);
}

static const char *const rule_fields[] = {"from", "slb", "pool", NULL};

/* A policy's client-source rules; pools they name are checked with the policies'. */
static int parse_clients(struct pf_ctx *c, yaml_node_t *seq, struct pol *p)
{
	struct vsn_dp_client *rules;
	size_t n;

	if (seq->type != YAML_SEQUENCE_NODE)
		return fail(c, seq, "clients: expected a list");
	n = seq->data.sequence.items.top - seq->data.sequence.items.start;
	if (n > VSN_DP_MAX_CLIENTS)
		return fail(c, seq, "clients: at most %d rules, not %zu", VSN_DP_MAX_CLIENTS, n);
	if (p->p.clients)
		return fail(c, seq, "clients: given twice");
	rules = calloc(n ? n : 1, sizeof(*rules));
	p->rule_targets = calloc(n ? n : 1, sizeof(*p->rule_targets));
	if (!rules || !p->rule_targets) {
		free(rules);
		return -ENOMEM;
	}
	p->p.clients = rules;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item =
			yaml_document_get_node(c->doc, seq->data.sequence.items.start[i]);
		struct rule r = {0};
		int e;

		e = each_field(c, item, "client rule", rule_fields, rule_field, &r);
		if (e)
			return e;
		if (!r.has_from)
			return fail(c, item, "client rule: 'from' is required");
		if (!r.target)
			return fail(c, item, "client rule: 'slb' or 'pool' is required");
		for (size_t j = 0; j < i; j++)
			if (rules[j].plen == r.r.plen &&
			    vsn_addr_equal(&rules[j].prefix, &r.r.prefix))
				return fail(c, item, "client rule: this prefix is given twice");
		rules[i] = r.r;
		p->p.n_clients++;
		p->rule_targets[i] = r.target;
	}
	return 0;
}

static int policy_field(struct pf_ctx *c, const char *key, yaml_node_t *v, void *obj)
{
	struct pol *p = obj;
	const char *str = scalar(v);

	if (!strcmp(key, "id")) {
		p->has_id = true;
		return get_u32(c, v, "policy id", 0, UINT32_MAX - 1, &p->p.policy_id);
	}
	if (!strcmp(key, "service"))
		return get_u32(c, v, "service", 0, UINT32_MAX - 1, &p->p.service_id);
	if (!strcmp(key, "vip")) {
		unsigned int plen;

		p->has_vip = true;
		if (!str || vsn_prefix_parse(str, &p->p.vip, &plen))
			return fail(c, v,
				    "vip: expected an address or a prefix ADDRESS/LENGTH with no "
				    "host bits set, not '%s'",
				    str ? str : "a list or mapping");
		/* A full-length prefix is one address. */
		p->p.vip_plen = plen == (p->p.vip.family == AF_INET ? 32u : 128u) ? 0 : plen;
		if (plen == 0)
			return fail(c, v, "vip: a /0 prefix would take every address");
		return 0;
	}
	if (!strcmp(key, "clients"))
		return parse_clients(c, v, p);
	if (!strcmp(key, "proto")) {
		p->has_proto = true;
		if (str && !strcmp(str, "tcp"))
			p->p.proto = IPPROTO_TCP;
		else if (str && !strcmp(str, "udp"))
			p->p.proto = IPPROTO_UDP;
		else
			return fail(c, v, "proto: expected tcp or udp");
		return 0;
	}
	if (!strcmp(key, "port")) {
		uint32_t port;
		int r;

		if (str && !strcmp(str, "any")) {
			p->p.port = 0;
			return 0;
		}
		r = get_u32(c, v, "port", 1, 65535, &port);
		p->p.port = port;
		return r;
	}
	if (!strcmp(key, "on_change")) {
		if (!str || vsn_on_change_parse(str, &p->p.on_change))
			return fail(c, v, "on_change: expected preserve or rehash");
		return 0;
	}
	if (p->target)
		return fail(c, v, "policy: give 'slb' or 'pool', not both");
	p->target = v;
	if (!strcmp(key, "pool"))
		return get_u32(c, v, "pool", 1, UINT32_MAX - 1, &p->p.pool_id);
	return get_u32(c, v, "slb", 1, UINT32_MAX - 1, &p->p.slb_id);
}

struct member {
	struct vsn_dp_pool_member m;
	bool has_slb;
};

static int member_field(struct pf_ctx *c, const char *key, yaml_node_t *v, void *obj)
{
	struct member *m = obj;

	if (!strcmp(key, "slb")) {
		m->has_slb = true;
		return get_u32(c, v, "slb", 1, UINT32_MAX - 1, &m->m.slb_id);
	}
	return get_u32(c, v, "weight", 1, VSN_DP_MAX_WEIGHT, &m->m.weight);
}

static const char *const member_fields[] = {"slb", "weight", NULL};

static int parse_members(struct pf_ctx *c, yaml_node_t *seq, struct vsn_pf_pool *pp)
{
	struct vsn_dp_pool_member *mb;
	size_t n;

	if (seq->type != YAML_SEQUENCE_NODE)
		return fail(c, seq, "members: expected a list");
	n = seq->data.sequence.items.top - seq->data.sequence.items.start;
	if (!n || n > VSN_MAGLEV_MAX_MEMBERS)
		return fail(c, seq, "members: a pool has 1 to %d members, not %zu",
			    VSN_MAGLEV_MAX_MEMBERS, n);
	mb = calloc(n, sizeof(*mb));
	if (!mb)
		return -ENOMEM;
	pp->pool.members = mb;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item =
			yaml_document_get_node(c->doc, seq->data.sequence.items.start[i]);
		struct member m = {.m.weight = 1};
		int r;

		r = each_field(c, item, "member", member_fields, member_field, &m);
		if (r)
			return r;
		if (!m.has_slb)
			return fail(c, item, "member: 'slb' is required");
		for (size_t j = 0; j < i; j++)
			if (mb[j].slb_id == m.m.slb_id)
				return fail(c, item, "member: slb %u is in this pool already",
					    m.m.slb_id);
		mb[i] = m.m;
		pp->pool.n_members++;
	}
	return 0;
}

static int pool_field(struct pf_ctx *c, const char *key, yaml_node_t *v, void *obj)
{
	struct vsn_pf_pool *pp = obj;

	if (!strcmp(key, "id"))
		return get_u32(c, v, "pool id", 1, UINT32_MAX - 1, &pp->pool.id);
	return parse_members(c, v, pp);
}

static int maglev_field(struct pf_ctx *c, const char *key, yaml_node_t *v, void *obj)
{
	struct vsn_policyfile *pf = obj;
	int r;

	if (!strcmp(key, "seed"))
		return get_u32(c, v, "maglev seed", 0, UINT32_MAX, &pf->hash_seed);
	r = get_u32(c, v, "maglev size", 2, VSN_MAGLEV_MAX_SIZE, &pf->maglev_size);
	if (!r && !vsn_maglev_is_prime(pf->maglev_size))
		return fail(c, v, "maglev size: %u is not a prime", pf->maglev_size);
	return r;
}

static const char *const slb_fields[] = {"id", "address", "forward", "state", NULL};
static const char *const policy_fields[] = {"id",  "service", "vip",	   "proto",   "port",
					    "slb", "pool",    "on_change", "clients", NULL};
static const char *const pool_fields[] = {"id", "members", NULL};
static const char *const maglev_fields[] = {"size", "seed", NULL};
static const char *const top_fields[] = {"generation", "maglev", "slbs", "pools", "policies", NULL};

static int parse_pools(struct pf_ctx *c, yaml_node_t *seq, struct vsn_policyfile *pf)
{
	size_t n;

	if (seq->type != YAML_SEQUENCE_NODE)
		return fail(c, seq, "pools: expected a list");
	n = seq->data.sequence.items.top - seq->data.sequence.items.start;
	pf->pools = calloc(n ? n : 1, sizeof(*pf->pools));
	if (!pf->pools)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item =
			yaml_document_get_node(c->doc, seq->data.sequence.items.start[i]);
		struct vsn_pf_pool *pp = &pf->pools[i];
		int r;

		/* Counted first, so vsn_policyfile_free() frees a half-parsed pool. */
		pf->n_pools++;
		r = each_field(c, item, "pool", pool_fields, pool_field, pp);
		if (r)
			return r;
		pp->line = item->start_mark.line + 1;
		if (!pp->pool.id)
			return fail(c, item, "pool: 'id' is required");
		if (!pp->pool.n_members)
			return fail(c, item, "pool %u: 'members' is required", pp->pool.id);
		for (size_t j = 0; j < i; j++)
			if (pf->pools[j].pool.id == pp->pool.id)
				return fail(c, item, "pool id %u is already defined at line %d",
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

static int check_pool_refs(struct pf_ctx *c, const struct vsn_policyfile *pf)
{
	for (size_t i = 0; i < pf->n_policies; i++) {
		const struct vsn_dp_policy *p = &pf->policies[i];

		if (p->pool_id && !pool_defined(pf, p->pool_id))
			return fail(c, c->targets[i], "pool %u is not defined", p->pool_id);
		for (size_t j = 0; j < p->n_clients; j++)
			if (p->clients[j].pool_id && !pool_defined(pf, p->clients[j].pool_id))
				return fail(c, c->rule_targets[i][j], "pool %u is not defined",
					    p->clients[j].pool_id);
	}
	return 0;
}

static int parse_slbs(struct pf_ctx *c, yaml_node_t *seq, struct vsn_policyfile *pf)
{
	size_t n;

	if (seq->type != YAML_SEQUENCE_NODE)
		return fail(c, seq, "slbs: expected a list");
	n = seq->data.sequence.items.top - seq->data.sequence.items.start;
	pf->slbs = calloc(n ? n : 1, sizeof(*pf->slbs));
	if (!pf->slbs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item =
			yaml_document_get_node(c->doc, seq->data.sequence.items.start[i]);
		struct vsn_pf_slb *s = &pf->slbs[i];
		int r;

		r = each_field(c, item, "slb", slb_fields, slb_field, s);
		if (r)
			return r;
		s->line = item->start_mark.line + 1;
		if (!s->slb.id)
			return fail(c, item, "slb: 'id' is required");
		if (!s->slb.addr.family)
			return fail(c, item, "slb %u: 'address' is required", s->slb.id);
		for (size_t j = 0; j < i; j++)
			if (pf->slbs[j].slb.id == s->slb.id)
				return fail(c, item, "slb id %u is already defined at line %d",
					    s->slb.id, pf->slbs[j].line);
		pf->n_slbs++;
	}
	return 0;
}

/* Check one parsed policy; r or 0. Its client rules' family is the VIP's. */
static int policy_done(struct pf_ctx *c, yaml_node_t *item, const struct pol *p)
{
	if (!p->has_vip)
		return fail(c, item, "policy: 'vip' is required");
	if (!p->has_proto)
		return fail(c, item, "policy: 'proto' is required");
	if (!p->target)
		return fail(c, item, "policy: 'slb' or 'pool' is required");
	for (size_t j = 0; j < p->p.n_clients; j++)
		if (p->p.clients[j].prefix.family != p->p.vip.family)
			return fail(c, p->rule_targets[j],
				    "client rule: its prefix is of another family than the VIP");
	return 0;
}

static int parse_policies(struct pf_ctx *c, yaml_node_t *seq, struct vsn_policyfile *pf)
{
	size_t n;

	if (seq->type != YAML_SEQUENCE_NODE)
		return fail(c, seq, "policies: expected a list");
	n = seq->data.sequence.items.top - seq->data.sequence.items.start;
	pf->policies = calloc(n ? n : 1, sizeof(*pf->policies));
	pf->policy_lines = calloc(n ? n : 1, sizeof(*pf->policy_lines));
	c->targets = calloc(n ? n : 1, sizeof(*c->targets));
	c->rule_targets = calloc(n ? n : 1, sizeof(*c->rule_targets));
	if (!pf->policies || !pf->policy_lines || !c->targets || !c->rule_targets)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item =
			yaml_document_get_node(c->doc, seq->data.sequence.items.start[i]);
		struct pol p = {0};
		int r;

		r = each_field(c, item, "policy", policy_fields, policy_field, &p);
		/* The policy and its rules are the file's from here, freed with it. */
		pf->policies[i] = p.p;
		c->rule_targets[i] = p.rule_targets;
		pf->n_policies++;
		if (!r)
			r = policy_done(c, item, &p);
		if (r)
			return r;
		/* Without an id, a policy counts under its 1-based position. */
		if (!p.has_id)
			pf->policies[i].policy_id = i + 1;
		for (size_t j = 0; p.has_id && j < i; j++)
			if (pf->policies[j].policy_id == p.p.policy_id)
				return fail(c, item, "policy id %u is already used at line %d",
					    p.p.policy_id, pf->policy_lines[j]);
		pf->policy_lines[i] = item->start_mark.line + 1;
		c->targets[i] = p.target;
	}
	return 0;
}

static int top_field(struct pf_ctx *c, const char *key, yaml_node_t *v, void *obj)
{
	struct vsn_policyfile *pf = obj;

	if (!strcmp(key, "generation")) {
		pf->has_generation = true;
		return get_u64(c, v, "generation", 1, UINT64_MAX - 1, &pf->generation);
	}
	if (!strcmp(key, "maglev"))
		return each_field(c, v, "maglev", maglev_fields, maglev_field, pf);
	if (!strcmp(key, "slbs"))
		return parse_slbs(c, v, pf);
	if (!strcmp(key, "pools"))
		return parse_pools(c, v, pf);
	return parse_policies(c, v, pf);
}

int vsn_policyfile_parse(const char *name, const char *text, size_t len, struct vsn_policyfile *ret,
			 char *err, size_t errlen)
{
	struct vsn_policyfile pf = {0};
	struct pf_ctx c = {.name = name, .err = err, .errlen = errlen};
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	int r;

	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errlen, "%s:%zu:%zu: %s", name, parser.problem_mark.line + 1,
			 parser.problem_mark.column + 1,
			 parser.problem ? parser.problem : "YAML syntax error");
		yaml_parser_delete(&parser);
		return -EINVAL;
	}
	c.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (!root)
		r = fail(&c, NULL, "empty document");
	else
		r = each_field(&c, root, "policy set", top_fields, top_field, &pf);
	if (!r)
		r = check_pool_refs(&c, &pf);
	free(c.targets);
	for (size_t i = 0; c.rule_targets && i < pf.n_policies; i++)
		free(c.rule_targets[i]);
	free(c.rule_targets);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (r) {
		vsn_policyfile_free(&pf);
		return r;
	}
	*ret = pf;
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
