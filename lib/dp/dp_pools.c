/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SLB pools in the forwarder (DESIGN section 4): each generation carries
 * its pools' Maglev tables (read by packets) and the pools' definitions
 * (read only by user space, to rebuild the tables when an SLB changes state
 * and to predict picks). Both are mmapable arrays, written in place before
 * the generation becomes reachable.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <bpf/bpf.h>

#include "dp_internal.h"
#include "maglev.h"
#include "vsn/hash.h"

/* Array maps keep values 8-byte aligned: the stride of an mmaped entry. */
#define ARRAY_STRIDE 8

/* An mmapable array of n entries of value_size bytes; its fd and mapping. */
static int array_create(const char *name, __u32 value_size, size_t n, void **ret_mem,
			size_t *ret_len)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_INNER_MAP | BPF_F_MMAPABLE);
	long page = sysconf(_SC_PAGESIZE);
	size_t len;
	void *mem;
	int fd;

	if (!n)
		n = 1;
	if (n > UINT32_MAX)
		return -E2BIG;
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, name, sizeof(__u32), value_size, (__u32)n, &o);
	if (fd < 0)
		return -errno;
	len = (n * ARRAY_STRIDE + page - 1) / page * page;
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) {
		int r = -errno;

		close(fd);
		return r;
	}
	*ret_mem = mem;
	*ret_len = len;
	return fd;
}

/*
 * The Maglev members of pool p: members that are not up get weight 0 (no
 * entries), unless none is up: then all keep theirs, so every pick walks
 * and finds none.
 */
static void pool_members(const struct vsn_dp_pool *p, const __u8 *facts,
			 struct vsn_maglev_member *mb)
{
	bool any_up = false;

	for (size_t j = 0; j < p->n_members; j++) {
		bool up = facts[p->members[j].slb_id] & SLB_UP;

		mb[j].slb_id = p->members[j].slb_id;
		mb[j].weight = up ? p->members[j].weight : 0;
		any_up |= up;
	}
	if (!any_up)
		for (size_t j = 0; j < p->n_members; j++)
			mb[j].weight = p->members[j].weight;
}

/*
 * The Maglev tables built last, by their inputs: a new generation usually keeps most of its
 * pools as they were (one weight changed, one pool added), and a long-running agent then copies
 * their tables instead of building them again (building is most of an apply's CPU when pools
 * are many). Exact: the key is everything a table depends on. Bounded: MAGLEV_CACHE_ENTRIES
 * table entries in all (8 MiB), the least recently used table going first.
 */
#define MAGLEV_CACHE_ENTRIES (1u << 21)

struct cached_table {
	struct cached_table *next;
	__u32 m, seed;
	size_t n;
	struct vsn_maglev_member *mb;
	__u32 *table;
	unsigned long long used;
};

static struct {
	pthread_mutex_t lock;
	struct cached_table *head;
	size_t entries;
	unsigned long long clock;
} cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void cached_free(struct cached_table *t)
{
	free(t->mb);
	free(t->table);
	free(t);
}

/* Copy the cached table of these inputs into table: true, or false when there is none. */
static bool cache_get(const struct vsn_maglev_member *mb, size_t n, __u32 m, __u32 seed,
		      __u32 *table)
{
	bool hit = false;

	pthread_mutex_lock(&cache.lock);
	for (struct cached_table *t = cache.head; t && !hit; t = t->next)
		if (t->m == m && t->seed == seed && t->n == n &&
		    !memcmp(t->mb, mb, n * sizeof(*mb))) {
			memcpy(table, t->table, m * sizeof(*table));
			t->used = ++cache.clock;
			hit = true;
		}
	pthread_mutex_unlock(&cache.lock);
	return hit;
}

/* Remember a table just built (a failure to remember is no error). */
static void cache_put(const struct vsn_maglev_member *mb, size_t n, __u32 m, __u32 seed,
		      const __u32 *table)
{
	struct cached_table *t, **pp, **oldest;

	if (m > MAGLEV_CACHE_ENTRIES)
		return;
	t = calloc(1, sizeof(*t));
	if (!t)
		return;
	t->mb = malloc(n * sizeof(*mb));
	t->table = malloc(m * sizeof(*table));
	if (!t->mb || !t->table) {
		cached_free(t);
		return;
	}
	memcpy(t->mb, mb, n * sizeof(*mb));
	memcpy(t->table, table, m * sizeof(*table));
	t->m = m;
	t->seed = seed;
	t->n = n;
	pthread_mutex_lock(&cache.lock);
	while (cache.head && cache.entries + m > MAGLEV_CACHE_ENTRIES) {
		oldest = &cache.head;
		for (pp = &cache.head; *pp; pp = &(*pp)->next)
			if ((*pp)->used < (*oldest)->used)
				oldest = pp;
		struct cached_table *gone = *oldest;

		*oldest = gone->next;
		cache.entries -= gone->m;
		cached_free(gone);
	}
	t->used = ++cache.clock;
	t->next = cache.head;
	cache.head = t;
	cache.entries += m;
	pthread_mutex_unlock(&cache.lock);
}

/* Entries the pool definitions take after the tables: two per word. */
static size_t defs_entries(const struct vsn_dp_pool *pools, size_t n)
{
	size_t words = 0;

	for (size_t i = 0; i < n; i++)
		words += 1 + pools[i].n_members;
	return words * 2;
}

/* The array's entry i in its mapping. */
static __u32 *entry(void *mem, size_t i)
{
	return (__u32 *)((char *)mem + i * ARRAY_STRIDE);
}

int dp_maglev_create(const struct vsn_dp_pool *pools, size_t n, __u32 m, __u32 seed,
		     const __u8 *facts)
{
	struct vsn_maglev_member *mb = NULL;
	__u32 *table = NULL;
	size_t len = 0, k;
	void *mem = NULL;
	int fd, r = 0;

	fd = array_create("vsn_maglev", sizeof(__u32), n * (size_t)m + defs_entries(pools, n), &mem,
			  &len);
	if (fd < 0)
		return fd;
	mb = calloc(VSN_MAGLEV_MAX_MEMBERS, sizeof(*mb));
	table = calloc(m, sizeof(*table));
	if (!mb || !table) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n && !r; i++) {
		pool_members(&pools[i], facts, mb);
		if (!cache_get(mb, pools[i].n_members, m, seed, table)) {
			r = vsn_maglev_build(mb, pools[i].n_members, m, seed, table);
			if (!r)
				cache_put(mb, pools[i].n_members, m, seed, table);
		}
		for (__u32 j = 0; j < m && !r; j++)
			*entry(mem, (size_t)i * m + j) = table[j];
	}
	/* The definitions, as struct vsn_pool_word pairs. */
	k = n * (size_t)m;
	for (size_t i = 0; i < n && !r; i++) {
		*entry(mem, k++) = pools[i].id;
		*entry(mem, k++) = (__u32)pools[i].n_members;
		for (size_t j = 0; j < pools[i].n_members; j++) {
			*entry(mem, k++) = pools[i].members[j].slb_id;
			*entry(mem, k++) = pools[i].members[j].weight;
		}
	}
out:
	free(mb);
	free(table);
	munmap(mem, len);
	if (r) {
		close(fd);
		return r;
	}
	return fd;
}

void dp_pools_free(struct vsn_dp_pool *pools, size_t n)
{
	if (!pools)
		return;
	for (size_t i = 0; i < n; i++)
		free((void *)pools[i].members);
	free(pools);
}

int dp_pooldefs_read(const struct dp_gen *g, struct vsn_dp_pool **ret, size_t *ret_n)
{
	struct bpf_map_info mi = {0};
	__u32 mi_len = sizeof(mi), n_pools = g->info.n_pools;
	struct vsn_dp_pool *pools;
	long page = sysconf(_SC_PAGESIZE);
	size_t len, k, end, i;
	void *mem;
	int r = 0;

	if (bpf_obj_get_info_by_fd(g->maglev, &mi, &mi_len))
		return -errno;
	if (mi.value_size != sizeof(__u32))
		return -EPROTO;
	end = mi.max_entries;
	k = (size_t)n_pools * g->info.maglev_size;
	if (k > end)
		return -EPROTO;
	len = (end * ARRAY_STRIDE + page - 1) / page * page;
	mem = mmap(NULL, len, PROT_READ, MAP_SHARED, g->maglev, 0);
	if (mem == MAP_FAILED)
		return -errno;
	pools = calloc(n_pools ? n_pools : 1, sizeof(*pools));
	if (!pools) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n_pools; i++) {
		struct vsn_dp_pool_member *mb;
		size_t nm;

		/* Written by this library, but never trusted past the array's end. */
		if (end - k < 2 || !*entry(mem, k + 1) || *entry(mem, k + 1) > (end - k - 2) / 2) {
			r = -EPROTO;
			break;
		}
		nm = *entry(mem, k + 1);
		mb = calloc(nm, sizeof(*mb));
		if (!mb) {
			r = -ENOMEM;
			break;
		}
		pools[i].id = *entry(mem, k);
		pools[i].n_members = nm;
		k += 2;
		for (size_t j = 0; j < nm; j++, k += 2) {
			mb[j].slb_id = *entry(mem, k);
			mb[j].weight = *entry(mem, k + 1);
		}
		pools[i].members = mb;
	}
	if (r) {
		dp_pools_free(pools, i);
		goto out;
	}
	*ret = pools;
	*ret_n = n_pools;
out:
	munmap(mem, len);
	return r;
}

/* Facts (SLB_UP) of every member of the pools, from the SLB table. */
static int member_facts(struct vsn_dp *dp, const struct vsn_dp_pool *pools, size_t n,
			__u8 **ret_facts)
{
	__u8 *facts = calloc(dp->meta.max_slbs, 1);
	struct vsn_slb e;

	if (!facts)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < pools[i].n_members; j++) {
			__u32 id = pools[i].members[j].slb_id;

			if (id >= dp->meta.max_slbs || facts[id])
				continue;
			if (bpf_map_lookup_elem(dp->map_fd[DP_MAP_SLBS], &id, &e)) {
				free(facts);
				return -errno;
			}
			facts[id] = e.flags & VSN_SLB_DEFINED ? dp_slb_facts(&e) : SLB_KNOWN;
		}
	*ret_facts = facts;
	return 0;
}

int dp_tables_rebuild(struct vsn_dp *dp)
{
	struct dp_gen cur = DP_GEN_INIT, next;
	struct vsn_dp_pool *pools = NULL;
	size_t n = 0;
	__u8 *facts = NULL;
	__u32 active;
	int r;

	r = dp_active_slot(dp, &active);
	if (r)
		return r;
	r = dp_gen_open(dp, active, &cur);
	if (r == -ENOENT)
		return 0; /* no set runs: nothing to rebuild */
	if (r)
		return r;
	if (!cur.info.n_pools)
		goto out;
	r = dp_pooldefs_read(&cur, &pools, &n);
	if (!r)
		r = member_facts(dp, pools, n, &facts);
	if (r)
		goto out;
	next = cur;
	next.maglev = dp_maglev_create(pools, n, cur.info.maglev_size, cur.info.hash_seed, facts);
	if (next.maglev < 0) {
		r = next.maglev;
		goto out;
	}
	/* Same policies, same epoch: only the tables change. */
	r = dp_gen_install(dp, active, &next, false);
	close(next.maglev);
out:
	free(facts);
	dp_pools_free(pools, n);
	dp_gen_close(&cur);
	return r;
}

/* The running generation's pools; the caller frees them. */
static int running_pools(struct vsn_dp *dp, struct dp_gen *ret_gen, struct vsn_dp_pool **ret,
			 size_t *ret_n)
{
	int r;

	r = dp_gen_open_running(dp, ret_gen);
	if (r == -ENOENT) {
		*ret = NULL;
		*ret_n = 0;
		return 0;
	}
	if (r)
		return r;
	r = dp_pooldefs_read(ret_gen, ret, ret_n);
	if (r)
		dp_gen_close(ret_gen);
	return r;
}

int vsn_dp_pools_foreach(struct vsn_dp *dp, int (*cb)(const struct vsn_dp_pool *pool, void *arg),
			 void *arg)
{
	struct dp_gen g = DP_GEN_INIT;
	struct vsn_dp_pool *pools;
	size_t n;
	int r;

	r = running_pools(dp, &g, &pools, &n);
	if (r)
		return r;
	for (size_t i = 0; i < n && !r; i++)
		r = cb(&pools[i], arg);
	dp_pools_free(pools, n);
	dp_gen_close(&g);
	return r;
}

int vsn_dp_predict(struct vsn_dp *dp, __u32 pool_id, const struct vsn_flow_key *fk,
		   __u32 *ret_slb_id)
{
	struct dp_gen g = DP_GEN_INIT;
	struct vsn_maglev_member *mb = NULL;
	struct vsn_dp_pool *pools = NULL;
	__u8 *facts = NULL;
	__u32 *table = NULL, m, slot, hash;
	size_t n = 0, i;
	int r;

	r = running_pools(dp, &g, &pools, &n);
	if (r)
		return r;
	for (i = 0; i < n && pools[i].id != pool_id; i++)
		;
	if (i == n) {
		r = -ENOENT;
		goto out;
	}
	m = g.info.maglev_size;
	r = member_facts(dp, &pools[i], 1, &facts);
	if (r)
		goto out;
	table = calloc(m, sizeof(*table));
	if (!table) {
		r = -ENOMEM;
		goto out;
	}
	mb = calloc(pools[i].n_members, sizeof(*mb));
	if (!mb) {
		r = -ENOMEM;
		goto out;
	}
	/* The table as dp_maglev_create builds it, from the same rule. */
	pool_members(&pools[i], facts, mb);
	r = vsn_maglev_build(mb, pools[i].n_members, m, g.info.hash_seed, table);
	if (r)
		goto out;
	hash = vsn_flow_hash(fk->src, fk->dst, fk->ports, (__u8)fk->proto, g.info.hash_seed);
	slot = vsn_maglev_slot(hash, m);
	r = -EHOSTDOWN;
	for (int k = 0; k < VSN_MAGLEV_WALK; k++) {
		if (facts[table[slot]] & SLB_UP) {
			*ret_slb_id = table[slot];
			r = 0;
			break;
		}
		if (++slot == m)
			slot = 0;
	}
out:
	free(mb);
	free(table);
	free(facts);
	dp_pools_free(pools, n);
	dp_gen_close(&g);
	return r;
}
