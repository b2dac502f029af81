/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Names: each kind's sorted index (a name defined twice is an error at its
 * second definition), the lookups of state.h, and a destination's
 * resolution to a pool or an SLB.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "state_internal.h"

const char *const st_kind_names[ST_KINDS] = {"node", "slb", "pool", "service"};

/* Every entity struct of state.h begins with its name. */
static const char *name_of(const void *obj)
{
	return *(const char *const *)obj;
}

static struct vsn_state_pos pos_of(const void *obj, size_t pos_offset)
{
	return *(const struct vsn_state_pos *)((const char *)obj + pos_offset);
}

/* By name, then by place in the document (entities sit in one array, in document order). */
static int by_name(const void *a, const void *b)
{
	const void *x = *(const void *const *)a, *y = *(const void *const *)b;
	int r = strcmp(name_of(x), name_of(y));

	return r ? r : (x > y) - (x < y);
}

int st_index_build(struct st_ctx *c, enum st_kind kind, const void *base, size_t n, size_t size,
		   size_t pos_offset)
{
	struct st_index *ix = &c->st->priv->index[kind];
	size_t kept = 0;

	ix->obj = vsn_arena_calloc(c->arena, n, sizeof(*ix->obj));
	if (!ix->obj)
		return st_oom(c);
	for (size_t i = 0; i < n; i++) {
		const void *obj = (const char *)base + i * size;

		/* An entry whose name did not parse has its error already. */
		if (name_of(obj))
			ix->obj[kept++] = obj;
	}
	qsort(ix->obj, kept, sizeof(*ix->obj), by_name);
	ix->n = 0;
	for (size_t i = 0; i < kept; i++) {
		const void *obj = ix->obj[i], *first = ix->n ? ix->obj[ix->n - 1] : NULL;

		if (first && !strcmp(name_of(first), name_of(obj))) {
			st_error_at(c, pos_of(obj, pos_offset),
				    "%s '%s' is already defined at line %d", st_kind_names[kind],
				    name_of(obj), pos_of(first, pos_offset).line);
			continue;
		}
		ix->obj[ix->n++] = obj;
	}
	return 0;
}

static int by_key(const void *key, const void *elem)
{
	return strcmp(key, name_of(*(const void *const *)elem));
}

const void *st_index_find(const struct vsn_state *st, enum st_kind kind, const char *name)
{
	const struct st_index *ix = &st->priv->index[kind];
	const void *const *found;

	if (!name || !ix->n)
		return NULL;
	found = bsearch(name, ix->obj, ix->n, sizeof(*ix->obj), by_key);
	return found ? *found : NULL;
}

const struct vsn_state_node *vsn_state_node_find(const struct vsn_state *st, const char *name)
{
	return st_index_find(st, ST_NODE, name);
}

const struct vsn_state_slb *vsn_state_slb_find(const struct vsn_state *st, const char *name)
{
	return st_index_find(st, ST_SLB, name);
}

const struct vsn_state_pool *vsn_state_pool_find(const struct vsn_state *st, const char *name)
{
	return st_index_find(st, ST_POOL, name);
}

const struct vsn_state_service *vsn_state_service_find(const struct vsn_state *st, const char *name)
{
	return st_index_find(st, ST_SERVICE, name);
}

const struct vsn_state_config *vsn_state_config_find(const struct vsn_state_service *vs,
						     const char *name)
{
	for (size_t i = 0; i < vs->n_configs; i++)
		if (vs->configs[i].name && !strcmp(vs->configs[i].name, name))
			return &vs->configs[i];
	return NULL;
}

int vsn_state_resolve(const struct vsn_state *st, const char *name, struct vsn_state_dest *ret)
{
	const struct vsn_state_pool *pool = vsn_state_pool_find(st, name);
	const struct vsn_state_slb *slb = vsn_state_slb_find(st, name);

	if (pool && slb)
		return -EINVAL;
	if (!pool && !slb)
		return -ENOENT;
	*ret = (struct vsn_state_dest){pool ? VSN_STATE_DEST_POOL : VSN_STATE_DEST_SLB, pool, slb};
	return 0;
}
