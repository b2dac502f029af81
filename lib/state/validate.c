/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The rules across entries (docs/controller.md, "Rules checked"): names
 * unique per kind and every name used defined, an SLB once per pool and a
 * node once per service, one policy without clients per configuration and
 * clients of the VIP's family, one default configuration per service, ipip
 * destinations of the VIP's family, names in conditions. Every name is
 * resolved on the way. Entries whose own fields had errors are checked as
 * far as they parsed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "state_internal.h"

/* Which entities a group (a pool's members, a service's nodes) has seen, and where. */
struct seen {
	size_t group;
	int line;
};

struct vcheck {
	struct st_ctx *c;
	struct seen *seen; /* one per SLB or node: whichever is more */
	size_t group;
};

#define LABEL_LEN (VSN_STATE_NAME_MAX + 32)

/* "KIND 'NAME'", or KIND alone for an entry whose name did not parse (its error says why). */
static const char *label(char buf[LABEL_LEN], const char *kind, const char *name)
{
	if (!name)
		return kind;
	snprintf(buf, LABEL_LEN, "%s '%s'", kind, name);
	return buf;
}

static const char *family_name(int family)
{
	return family == AF_INET ? "IPv4" : "IPv6";
}

/*
 * A name a group (a pool's members, a service's nodes) uses at pos: what it names, which must be
 * defined and listed once in the group. base and size: the array of what kind names. NULL after
 * an error, or for a name that did not parse (its error is noted already).
 */
static const void *resolve(struct vcheck *v, const char *what, enum st_kind kind, const char *name,
			   struct vsn_state_pos pos, const void *base, size_t size)
{
	const void *obj = name ? st_index_find(v->c->st, kind, name) : NULL;
	struct seen *seen;

	if (!obj) {
		if (name)
			st_error_at(v->c, pos, "%s: no %s is named '%s'", what, st_kind_names[kind],
				    name);
		return NULL;
	}
	seen = &v->seen[((const char *)obj - (const char *)base) / size];
	if (seen->group == v->group) {
		st_error_at(v->c, pos, "%s: %s '%s' is listed already (line %d)", what,
			    st_kind_names[kind], name, seen->line);
		return NULL;
	}
	*seen = (struct seen){v->group, pos.line};
	return obj;
}

static void check_pool(struct vcheck *v, struct vsn_state_pool *p)
{
	struct st_ctx *c = v->c;
	const struct vsn_state *st = c->st;
	uint32_t size = st->settings.maglev_size;
	char buf[LABEL_LEN];

	v->group++;
	for (size_t i = 0; i < p->n_members; i++) {
		struct vsn_state_member *m = &p->members[i];

		m->slb = resolve(v, "member", ST_SLB, m->slb_name, m->pos, st->slbs,
				 sizeof(*st->slbs));
	}
	/* A Maglev table has more entries than the pool has members. */
	if (p->n_members >= size)
		st_error_at(c, p->pos, "%s has %zu members: settings maglev_size %u must be larger",
			    label(buf, "pool", p->name), p->n_members, size);
}

/* The nodes a service lists: each defined, each once. */
static void resolve_nodes(struct vcheck *v, struct vsn_state_service *vs)
{
	const struct vsn_state *st = v->c->st;

	v->group++;
	for (size_t i = 0; i < vs->n_nodes; i++) {
		struct vsn_state_node_ref *r = &vs->nodes[i];

		r->node = resolve(v, "nodes", ST_NODE, r->name, r->pos, st->nodes,
				  sizeof(*st->nodes));
	}
}

/* An ipip destination's SLBs have the VIP's family: the outer header is of the inner's. */
static void check_ipip_family(struct st_ctx *c, const struct vsn_state_service *vs,
			      const struct vsn_state_policy *p)
{
	const struct vsn_state_dest *d = &p->dest;
	char buf[VSN_ADDR_STRLEN];

	if (d->kind == VSN_STATE_DEST_SLB && d->slb->forward == VSN_FORWARD_IPIP &&
	    d->slb->addr.family && d->slb->addr.family != vs->vip.family) {
		st_error_at(c, p->destination_pos,
			    "destination: slb '%s' forwards with ipip, and its address %s is not "
			    "of the VIP's family (%s)",
			    d->slb->name, vsn_addr_format(&d->slb->addr, buf, sizeof(buf)),
			    family_name(vs->vip.family));
		return;
	}
	if (d->kind != VSN_STATE_DEST_POOL || d->pool->forward != VSN_FORWARD_IPIP)
		return;
	for (size_t i = 0; i < d->pool->n_members; i++) {
		const struct vsn_state_slb *slb = d->pool->members[i].slb;

		if (slb && slb->addr.family && slb->addr.family != vs->vip.family) {
			st_error_at(c, p->destination_pos,
				    "destination: pool '%s' forwards with ipip, and its slb '%s' "
				    "(%s) is not of the VIP's family (%s)",
				    d->pool->name, slb->name,
				    vsn_addr_format(&slb->addr, buf, sizeof(buf)),
				    family_name(vs->vip.family));
			return;
		}
	}
}

static void check_policy(struct st_ctx *c, const struct vsn_state_service *vs,
			 const struct vsn_state_config *cfg, struct vsn_state_policy *p)
{
	char buf[VSN_ADDR_STRLEN];
	int r;

	if (p->destination) {
		r = vsn_state_resolve(c->st, p->destination, &p->dest);
		if (r == -ENOENT)
			st_error_at(c, p->destination_pos,
				    "destination: no pool or slb is named '%s'", p->destination);
		else if (r)
			st_error_at(c, p->destination_pos,
				    "destination: '%s' names a pool and an slb: rename one",
				    p->destination);
		else if (vs->vip.family)
			check_ipip_family(c, vs, p);
	}
	if (!p->has_clients || !p->clients.family)
		return;
	vsn_addr_format(&p->clients, buf, sizeof(buf));
	if (vs->vip.family && p->clients.family != vs->vip.family)
		st_error_at(c, p->clients_pos, "clients: %s/%u is %s, the VIP is %s", buf,
			    p->clients_plen, family_name(p->clients.family),
			    family_name(vs->vip.family));
	for (const struct vsn_state_policy *q = cfg->policies; q < p; q++)
		if (q->has_clients && q->clients_plen == p->clients_plen &&
		    vsn_addr_equal(&q->clients, &p->clients)) {
			st_error_at(c, p->clients_pos,
				    "clients: %s/%u is given in this configuration already (line "
				    "%d)",
				    buf, p->clients_plen, q->clients_pos.line);
			break;
		}
}

static void check_config(struct st_ctx *c, const struct vsn_state_service *vs,
			 struct vsn_state_config *cfg)
{
	const struct vsn_state_policy *fallback = NULL;
	char buf[LABEL_LEN];

	for (const struct vsn_state_config *o = vs->configs; o < cfg; o++)
		if (cfg->name && o->name && !strcmp(o->name, cfg->name)) {
			st_error_at(c, cfg->pos,
				    "configuration '%s' is already defined at line %d in this "
				    "service",
				    cfg->name, o->pos.line);
			break;
		}
	for (size_t i = 0; i < cfg->n_policies; i++) {
		struct vsn_state_policy *p = &cfg->policies[i];

		check_policy(c, vs, cfg, p);
		if (p->has_clients)
			continue;
		if (fallback)
			st_error_at(c, p->pos,
				    "policy: a second one without 'clients' (the first is at line "
				    "%d); give it 'clients'",
				    fallback->pos.line);
		else
			fallback = p;
	}
	if (!fallback && cfg->n_policies)
		st_error_at(c, cfg->pos,
			    "%s: no policy without 'clients' (its destination for everything "
			    "else)",
			    label(buf, "configuration", cfg->name));
}

static void check_service(struct vcheck *v, struct vsn_state_service *vs)
{
	struct st_ctx *c = v->c;
	char buf[LABEL_LEN];

	resolve_nodes(v, vs);
	for (size_t i = 0; i < vs->n_configs; i++) {
		struct vsn_state_config *cfg = &vs->configs[i];

		check_config(c, vs, cfg);
		if (cfg->when)
			continue;
		if (vs->default_config)
			st_error_at(c, cfg->pos,
				    "%s: a second one without 'when' (the default is at line %d); "
				    "give it a 'when'",
				    label(buf, "configuration", cfg->name),
				    vs->default_config->pos.line);
		else
			vs->default_config = cfg;
	}
	if (!vs->default_config && vs->n_configs)
		st_error_at(c, vs->pos, "%s: no configuration without 'when' (the default)",
			    label(buf, "service", vs->name));
	c->st->n_configs += vs->n_configs;
}

/* Each name a condition uses is defined. */
struct when_check {
	struct st_ctx *c;
	const struct st_when *w;
};

static int check_cond_name(const struct vsn_cond_node *n, void *ctx)
{
	static const enum st_kind kinds[] = {[VSN_COND_REF_SLB] = ST_SLB,
					     [VSN_COND_REF_POOL] = ST_POOL,
					     [VSN_COND_REF_VS] = ST_SERVICE,
					     [VSN_COND_REF_NODE] = ST_NODE};
	struct when_check *wc = ctx;
	enum st_kind kind;

	if (!vsn_cond_has_ref(n))
		return 0;
	kind = kinds[n->ref.kind];
	if (!st_index_find(wc->c->st, kind, n->ref.name))
		st_error_at(wc->c, st_scalar_pos(wc->c, wc->w->scalar, n->ref.name_column),
			    "when: no %s is named '%s'", st_kind_names[kind], n->ref.name);
	return 0;
}

static int index_all(struct st_ctx *c)
{
	struct vsn_state *st = c->st;
	int r;

	r = st_index_build(c, ST_NODE, st->nodes, st->n_nodes, sizeof(*st->nodes),
			   offsetof(struct vsn_state_node, pos));
	if (!r)
		r = st_index_build(c, ST_SLB, st->slbs, st->n_slbs, sizeof(*st->slbs),
				   offsetof(struct vsn_state_slb, pos));
	if (!r)
		r = st_index_build(c, ST_POOL, st->pools, st->n_pools, sizeof(*st->pools),
				   offsetof(struct vsn_state_pool, pos));
	if (!r)
		r = st_index_build(c, ST_SERVICE, st->services, st->n_services,
				   sizeof(*st->services), offsetof(struct vsn_state_service, pos));
	return r;
}

int st_validate(struct st_ctx *c)
{
	struct vsn_state *st = c->st;
	struct vcheck v = {.c = c};
	size_t n_seen = st->n_slbs > st->n_nodes ? st->n_slbs : st->n_nodes;
	int r;

	r = index_all(c);
	if (r)
		return r;
	v.seen = calloc(n_seen ? n_seen : 1, sizeof(*v.seen));
	if (!v.seen)
		return st_oom(c);
	for (size_t i = 0; i < st->n_pools; i++)
		check_pool(&v, &st->pools[i]);
	for (size_t i = 0; i < st->n_services; i++)
		check_service(&v, &st->services[i]);
	free(v.seen);
	for (size_t i = 0; i < c->n_whens; i++) {
		struct when_check wc = {c, &c->whens[i]};

		vsn_cond_walk(c->whens[i].config->cond, check_cond_name, &wc);
	}
	return st_check_claims(c);
}
