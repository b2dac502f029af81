/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Policy sets and generations (DESIGN section 4). A set is compiled into one
 * fresh hash map, put in the inactive slot of vsn_policy_slots, and made
 * live by flipping vsn_active. Maps that packets can reach are never mutated.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/in.h>
#include <bpf/bpf.h>

#include "dp_internal.h"
#include "maglev.h"

struct sorted {
	struct vsn_policy_key key;
	size_t index; /* into set->policies */
};

static int key_cmp(const struct vsn_policy_key *a, const struct vsn_policy_key *b)
{
	int c = memcmp(a->addr, b->addr, sizeof(a->addr));

	if (c)
		return c;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	if (a->port != b->port)
		return ntohs(a->port) < ntohs(b->port) ? -1 : 1;
	return 0;
}

static int sorted_cmp(const void *a, const void *b)
{
	const struct sorted *x = a, *y = b;
	int c = key_cmp(&x->key, &y->key);

	if (c)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

__u8 dp_slb_facts(const struct vsn_slb *e)
{
	struct vsn_addr a;

	vsn_addr_from_key(e->addr, &a);
	return SLB_KNOWN | SLB_DEFINED | (e->forward == VSN_FORWARD_IPIP ? SLB_IPIP : 0) |
	       (a.family == AF_INET6 ? SLB_IPV6 : 0) | (e->state == VSN_SLB_UP ? SLB_UP : 0);
}

/* The families an ipip SLB (or a pool with one) can carry. */
#define FAM_NO_V4 0x1 /* has an IPv6 ipip SLB */
#define FAM_NO_V6 0x2 /* has an IPv4 ipip SLB */

static __u8 slb_fam(__u8 f)
{
	if (!(f & SLB_IPIP))
		return 0;
	return f & SLB_IPV6 ? FAM_NO_V4 : FAM_NO_V6;
}

/* What validation knows while it checks a set; dest_fill uses it too. */
struct prep {
	struct sorted *s;	/* policies by key */
	__u8 *slb_seen;		/* facts per SLB id: one syscall per SLB, not per policy */
	struct pool_ref *by_id; /* pools by id */
	size_t n_pools;
	__u32 m; /* table size */
};

struct pool_ref {
	__u32 id;
	__u32 index; /* in set->pools */
	__u8 fam;    /* FAM_* of its members */
};

static int pool_ref_cmp(const void *a, const void *b)
{
	const struct pool_ref *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

/* By id, then position: of two pools with one id, the later is the one reported. */
static int pool_ref_sort_cmp(const void *a, const void *b)
{
	const struct pool_ref *x = a, *y = b;
	int c = pool_ref_cmp(a, b);

	return c ? c : (x->index > y->index) - (x->index < y->index);
}

static const struct pool_ref *pool_find(const struct prep *pr, __u32 id)
{
	struct pool_ref k = {.id = id};

	return bsearch(&k, pr->by_id, pr->n_pools, sizeof(k), pool_ref_cmp);
}

/* Facts of SLB id, looked up once. */
static int slb_lookup(struct vsn_dp *dp, __u8 *slb_seen, __u32 id, __u8 *ret)
{
	struct vsn_slb slb;

	if (!slb_seen[id]) {
		if (bpf_map_lookup_elem(dp->map_fd[DP_MAP_SLBS], &id, &slb))
			return -errno;
		slb_seen[id] = slb.flags & VSN_SLB_DEFINED ? dp_slb_facts(&slb) : SLB_KNOWN;
	}
	*ret = slb_seen[id];
	return 0;
}

/* Check one policy against the forwarder's capacities, SLBs and the set's pools. */
static int policy_check(struct vsn_dp *dp, const struct vsn_dp_policy *p, struct prep *pr)
{
	const struct pool_ref *pool;
	__u8 f, fam;
	int r;

	/* A v4-mapped VIP would take the IPv4 VIP's key. */
	if ((p->vip.family != AF_INET && p->vip.family != AF_INET6) ||
	    vsn_addr_is_v4mapped(&p->vip))
		return -EINVAL;
	if (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP)
		return -EINVAL;
	if (!p->slb_id == !p->pool_id)
		return -EINVAL;
	if (p->on_change != VSN_ON_CHANGE_PRESERVE && p->on_change != VSN_ON_CHANGE_REHASH)
		return -EINVAL;
	if ((p->slb_id && p->slb_id >= dp->meta.max_slbs) ||
	    p->service_id >= dp->meta.max_services || p->policy_id >= dp->meta.max_policies)
		return -ERANGE;
	if (p->pool_id) {
		pool = pool_find(pr, p->pool_id);
		if (!pool)
			return -ENOENT;
		fam = pool->fam;
	} else {
		r = slb_lookup(dp, pr->slb_seen, p->slb_id, &f);
		if (r)
			return r;
		if (!(f & SLB_DEFINED))
			return -ENOENT;
		fam = slb_fam(f);
	}
	/* ipip carries IPv4 in IPv4 and IPv6 in IPv6. */
	if (fam & (p->vip.family == AF_INET ? FAM_NO_V4 : FAM_NO_V6))
		return -EAFNOSUPPORT;
	return 0;
}

static int member_cmp(const void *a, const void *b)
{
	const __u32 *x = a, *y = b;

	return (*x > *y) - (*x < *y);
}

/* Check one pool; its members' facts go into ref->fam. */
static int pool_check(struct vsn_dp *dp, const struct vsn_dp_pool *p, struct prep *pr,
		      struct pool_ref *ref, __u32 *scratch)
{
	__u8 f;
	int r;

	if (!p->id || !p->n_members || p->n_members > VSN_MAGLEV_MAX_MEMBERS || !p->members)
		return -EINVAL;
	for (size_t j = 0; j < p->n_members; j++) {
		__u32 id = p->members[j].slb_id;

		if (!p->members[j].weight || p->members[j].weight > VSN_DP_MAX_WEIGHT)
			return -EINVAL;
		if (!id || id >= dp->meta.max_slbs)
			return -ERANGE;
		r = slb_lookup(dp, pr->slb_seen, id, &f);
		if (r)
			return r;
		if (!(f & SLB_DEFINED))
			return -ENOENT;
		ref->fam |= slb_fam(f);
		scratch[j] = id;
	}
	qsort(scratch, p->n_members, sizeof(*scratch), member_cmp);
	for (size_t j = 1; j < p->n_members; j++)
		if (scratch[j] == scratch[j - 1])
			return -EEXIST;
	return 0;
}

/* Check the set's pools and its table size; index them by id in pr. */
static int pools_check(struct vsn_dp *dp, const struct vsn_dp_set *set, struct prep *pr,
		       size_t *ret_bad)
{
	size_t base = set->n_policies + set->n_slbs, largest = 0;
	__u32 *scratch;
	int r = 0;

	pr->m = set->maglev_size ? set->maglev_size : VSN_MAGLEV_DEFAULT_SIZE;
	pr->n_pools = set->n_pools;
	pr->by_id = calloc(set->n_pools ? set->n_pools : 1, sizeof(*pr->by_id));
	scratch = calloc(VSN_MAGLEV_MAX_MEMBERS, sizeof(*scratch));
	if (!pr->by_id || !scratch) {
		r = -ENOMEM;
		goto out;
	}
	if (set->n_pools && !set->pools) {
		r = -EINVAL;
		goto out;
	}
	for (size_t i = 0; i < set->n_pools; i++) {
		pr->by_id[i].id = set->pools[i].id;
		pr->by_id[i].index = (__u32)i;
		r = pool_check(dp, &set->pools[i], pr, &pr->by_id[i], scratch);
		if (r) {
			*ret_bad = base + i;
			goto out;
		}
		if (set->pools[i].n_members > largest)
			largest = set->pools[i].n_members;
	}
	qsort(pr->by_id, set->n_pools, sizeof(*pr->by_id), pool_ref_sort_cmp);
	for (size_t i = 1; i < set->n_pools; i++)
		if (pr->by_id[i].id == pr->by_id[i - 1].id) {
			*ret_bad = base + pr->by_id[i].index;
			r = -EEXIST;
			goto out;
		}
	if (pr->m > VSN_MAGLEV_MAX_SIZE || pr->m <= largest || !vsn_maglev_is_prime(pr->m)) {
		r = -EINVAL;
		goto out;
	}
	if ((__u64)pr->m * set->n_pools > VSN_DP_MAX_TABLE_ENTRIES)
		r = -E2BIG;
out:
	free(scratch);
	return r;
}

/* Check the set's own SLBs; record them in slb_seen. */
static int slbs_check(struct vsn_dp *dp, const struct vsn_dp_set *set, __u8 *slb_seen,
		      size_t *ret_bad)
{
	struct vsn_slb e;
	int r;

	for (size_t i = 0; i < set->n_slbs; i++) {
		r = dp_slb_entry(dp, &set->slbs[i], &e);
		if (!r && slb_seen[set->slbs[i].id])
			r = -EEXIST;
		if (r) {
			*ret_bad = set->n_policies + i;
			return r;
		}
		slb_seen[set->slbs[i].id] = dp_slb_facts(&e);
	}
	return 0;
}

static void prep_free(struct prep *pr)
{
	free(pr->s);
	free(pr->slb_seen);
	free(pr->by_id);
	memset(pr, 0, sizeof(*pr));
}

/*
 * Validate and sort the set: on success pr holds every policy by key
 * (duplicates refused), the SLBs' facts and the pools by id. The caller
 * frees it with prep_free().
 */
static int set_prepare(struct vsn_dp *dp, const struct vsn_dp_set *set, struct prep *pr,
		       size_t *ret_bad)
{
	struct sorted *s;
	__u8 *ids = NULL;
	size_t bad = SIZE_MAX;
	int r = 0;

	memset(pr, 0, sizeof(*pr));
	if (set->generation <= dp->meta.generation)
		return -ESTALE;
	if (set->n_policies > dp->meta.max_policies)
		return -E2BIG;
	pr->slb_seen = calloc(dp->meta.max_slbs, 1);
	ids = calloc(dp->meta.max_policies / 8 + 1, 1);
	s = pr->s = calloc(set->n_policies ? set->n_policies : 1, sizeof(*s));
	if (!pr->slb_seen || !ids || !s) {
		r = -ENOMEM;
		goto out;
	}
	r = slbs_check(dp, set, pr->slb_seen, &bad);
	if (!r)
		r = pools_check(dp, set, pr, &bad);
	if (r)
		goto out;
	for (size_t i = 0; i < set->n_policies; i++) {
		const struct vsn_dp_policy *p = &set->policies[i];

		bad = i;
		r = policy_check(dp, p, pr);
		if (r)
			goto out;
		/* Two policies on one counter would make both counts wrong. */
		if (ids[p->policy_id / 8] & (1u << (p->policy_id % 8))) {
			r = -ENOTUNIQ;
			goto out;
		}
		ids[p->policy_id / 8] |= 1u << (p->policy_id % 8);
		vsn_addr_to_key(&p->vip, s[i].key.addr);
		s[i].key.proto = p->proto;
		s[i].key.port = htons(p->port);
		s[i].index = i;
	}
	qsort(s, set->n_policies, sizeof(*s), sorted_cmp);
	for (size_t i = 1; i < set->n_policies; i++)
		if (!key_cmp(&s[i - 1].key, &s[i].key)) {
			bad = s[i].index;
			r = -EEXIST;
			goto out;
		}
out:
	free(ids);
	if (r) {
		prep_free(pr);
		if (ret_bad && bad != SIZE_MAX)
			*ret_bad = bad;
	}
	return r;
}

/* Define the set's SLBs: resolve their next hops together, then write them. */
static int slbs_define(struct vsn_dp *dp, const struct vsn_dp_set *set)
{
	struct vsn_slb *e;
	int *res, r = 0;

	if (!set->n_slbs)
		return 0;
	e = calloc(set->n_slbs, sizeof(*e));
	res = calloc(set->n_slbs, sizeof(*res));
	if (!e || !res) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < set->n_slbs && !r; i++)
		r = dp_slb_entry(dp, &set->slbs[i], &e[i]);
	if (r)
		goto out;
	dp_slbs_resolve(e, set->n_slbs, res);
	for (size_t i = 0; i < set->n_slbs && !r; i++)
		r = dp_slb_write(dp, set->slbs[i].id, &e[i]);
	if (!r && set->ret_slb_results)
		memcpy(set->ret_slb_results, res, set->n_slbs * sizeof(*res));
out:
	free(e);
	free(res);
	return r;
}

int vsn_dp_set_validate(struct vsn_dp *dp, const struct vsn_dp_set *set, size_t *ret_bad)
{
	struct prep pr;
	int r;

	r = vsn_dp_meta(dp, &dp->meta);
	if (r)
		return r;
	r = set_prepare(dp, set, &pr, ret_bad);
	if (!r)
		prep_free(&pr);
	return r;
}

static void dest_fill(struct vsn_dest *d, const struct vsn_dp_policy *p, const struct prep *pr)
{
	d->target = p->slb_id;
	d->service_id = p->service_id;
	d->policy_id = p->policy_id;
	d->flags = VSN_DEST_VALID;
	if (p->pool_id) {
		d->target = pool_find(pr, p->pool_id)->index;
		d->flags |= VSN_DEST_POOL;
	}
	if (p->on_change == VSN_ON_CHANGE_REHASH)
		d->flags |= VSN_DEST_REHASH;
}

/*
 * Turn the sorted policies into table entries: one VIP entry per address,
 * holding its any-port policies and its first VSN_VIP_PORT_SLOTS port
 * policies (key order), and an entry of its own for each further one.
 */
static size_t entries_build(const struct vsn_dp_set *set, const struct prep *pr,
			    struct vsn_policy_key *keys, struct vsn_match *vals)
{
	const struct sorted *s = pr->s;
	size_t n = 0;

	for (size_t i = 0; i < set->n_policies;) {
		size_t vip = n++, slot = 0;

		memset(&keys[vip], 0, sizeof(keys[vip]));
		memcpy(keys[vip].addr, s[i].key.addr, 16);
		memset(&vals[vip], 0, sizeof(vals[vip]));
		for (; i < set->n_policies && !memcmp(s[i].key.addr, keys[vip].addr, 16); i++) {
			const struct vsn_dp_policy *p = &set->policies[s[i].index];
			int l4 = p->proto == IPPROTO_TCP ? VSN_L4_TCP : VSN_L4_UDP;

			if (!p->port) {
				dest_fill(&vals[vip].dest[l4], p, pr);
				continue;
			}
			if (slot < VSN_VIP_PORT_SLOTS) {
				vals[vip].ports[slot].proto = p->proto;
				vals[vip].ports[slot].port = s[i].key.port;
				dest_fill(&vals[vip].ports[slot].dest, p, pr);
				slot++;
				continue;
			}
			vals[vip].flags |= l4 == VSN_L4_TCP ? VSN_VIP_PORTS_TCP : VSN_VIP_PORTS_UDP;
			keys[n] = s[i].key;
			memset(&vals[n], 0, sizeof(vals[n]));
			dest_fill(&vals[n].dest[0], p, pr);
			n++;
		}
	}
	return n;
}

/* A fresh inner map holding the set; its fd, or a negative errno. */
static int table_create(const struct vsn_dp_set *set, const struct prep *pr)
{
	size_t cap = set->n_policies * 2 + 1;
	struct vsn_policy_key *keys = calloc(cap, sizeof(*keys));
	struct vsn_match *vals = calloc(cap, sizeof(*vals));
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	char name[16];
	size_t n;
	int fd = -ENOMEM;

	if (!keys || !vals)
		goto out;
	n = entries_build(set, pr, keys, vals);
	snprintf(name, sizeof(name), "vsn_pol_%llu",
		 (unsigned long long)set->generation % 100000000);
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, name, sizeof(*keys), sizeof(*vals), n ? n : 1, NULL);
	if (fd < 0) {
		fd = -errno;
		goto out;
	}
	for (size_t done = 0; done < n;) {
		__u32 count = n - done > 65536 ? 65536 : n - done;

		if (bpf_map_update_batch(fd, keys + done, vals + done, &count, &bo)) {
			int r = -errno;

			close(fd);
			fd = r;
			goto out;
		}
		done += count;
	}
out:
	free(keys);
	free(vals);
	return fd;
}

/*
 * Return once every packet that could have read the inactive slot is done
 * with it: a map-in-map update waits for running programs (RCU grace period).
 */
int dp_wait_for_packets(struct vsn_dp *dp)
{
	__u32 zero = 0;
	int fd, r = 0;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "vsn_barrier_in", 4, 4, 1, NULL);
	if (fd < 0)
		return -errno;
	if (bpf_map_update_elem(dp->map_fd[DP_MAP_BARRIER], &zero, &fd, BPF_ANY))
		r = -errno;
	close(fd);
	return r;
}

static void *wait_for_packets_thread(void *arg)
{
	struct vsn_dp *dp = arg;

	return (void *)(long)dp_wait_for_packets(dp);
}

int dp_slot_used(struct vsn_dp *dp, __u32 slot, bool *ret_used)
{
	__u32 id;

	if (!bpf_map_lookup_elem(dp->map_fd[DP_MAP_POLICY_SLOTS], &slot, &id)) {
		*ret_used = true;
		return 0;
	}
	if (errno != ENOENT)
		return -errno;
	*ret_used = false;
	return 0;
}

int dp_active_slot(struct vsn_dp *dp, __u32 *ret)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(dp->map_fd[DP_MAP_ACTIVE], &zero, ret) ? -errno : 0;
}

/* The fd of the inner map in outer[slot]; -ENOENT when the slot is empty. */
static int inner_open(struct vsn_dp *dp, enum dp_map outer, __u32 slot)
{
	__u32 id;
	int fd;

	if (bpf_map_lookup_elem(dp->map_fd[outer], &slot, &id))
		return -errno;
	fd = bpf_map_get_fd_by_id(id);
	return fd < 0 ? -errno : fd;
}

void dp_gen_close(struct dp_gen *g)
{
	if (g->policies >= 0)
		close(g->policies);
	if (g->maglev >= 0)
		close(g->maglev);
	g->policies = g->maglev = -1;
}

int dp_gen_open(struct vsn_dp *dp, __u32 slot, struct dp_gen *ret)
{
	struct dp_gen g = DP_GEN_INIT;
	int r;

	g.policies = inner_open(dp, DP_MAP_POLICY_SLOTS, slot);
	if (g.policies < 0)
		return g.policies;
	g.maglev = inner_open(dp, DP_MAP_MAGLEV_SLOTS, slot);
	r = g.maglev < 0 ? g.maglev : 0;
	if (!r && bpf_map_lookup_elem(dp->map_fd[DP_MAP_SLOT_INFO], &slot, &g.info))
		r = -errno;
	/* A slot with policies but no tables: state this library never leaves. */
	if (r) {
		dp_gen_close(&g);
		return r == -ENOENT ? -EPROTO : r;
	}
	*ret = g;
	return 0;
}

/* One map-in-map update: the kernel waits a grace period after each. */
struct slot_update {
	int outer_fd;
	__u32 slot;
	int inner_fd;
	int ret;
};

static void *slot_update_thread(void *arg)
{
	struct slot_update *u = arg;

	u->ret = bpf_map_update_elem(u->outer_fd, &u->slot, &u->inner_fd, BPF_ANY) ? -errno : 0;
	return NULL;
}

int dp_gen_stage(struct vsn_dp *dp, __u32 active, const struct dp_gen *g, bool quiesced)
{
	__u32 inactive = !active;
	struct slot_update tables = {dp->map_fd[DP_MAP_MAGLEV_SLOTS], inactive, g->maglev, 0};
	pthread_t t;
	bool used;
	int r;

	if (!quiesced) {
		r = dp_slot_used(dp, inactive, &used);
		if (!r && used)
			r = dp_wait_for_packets(dp);
		if (r)
			return r;
	}
	if (bpf_map_update_elem(dp->map_fd[DP_MAP_SLOT_INFO], &inactive, &g->info, BPF_ANY))
		return -errno;
	/*
	 * Nothing reads the inactive slot (the caller waited for the packets
	 * that did): fill both its map-in-maps at once, so their grace periods
	 * overlap instead of adding up.
	 */
	r = -pthread_create(&t, NULL, slot_update_thread, &tables);
	if (r)
		return r;
	if (bpf_map_update_elem(dp->map_fd[DP_MAP_POLICY_SLOTS], &inactive, &g->policies, BPF_ANY))
		r = -errno;
	pthread_join(t, NULL);
	return r ? r : tables.ret;
}

int dp_gen_flip(struct vsn_dp *dp, __u32 active)
{
	__u32 zero = 0, inactive = !active;

	/* From here on, new packets see only the new generation. */
	return bpf_map_update_elem(dp->map_fd[DP_MAP_ACTIVE], &zero, &inactive, BPF_ANY) ? -errno
											 : 0;
}

int dp_gen_install(struct vsn_dp *dp, __u32 active, const struct dp_gen *g, bool quiesced)
{
	int r = dp_gen_stage(dp, active, g, quiesced);

	return r ? r : dp_gen_flip(dp, active);
}

/* The set's maps, built while packets may still be in the inactive slot. */
static int gen_build(const struct vsn_dp_set *set, const struct prep *pr, struct dp_gen *g)
{
	g->policies = table_create(set, pr);
	if (g->policies < 0)
		return g->policies;
	g->maglev = dp_maglev_create(set->pools, set->n_pools, pr->m, set->hash_seed, pr->slb_seen);
	if (g->maglev < 0)
		return g->maglev;
	g->info.maglev_size = pr->m;
	g->info.hash_seed = set->hash_seed;
	g->info.epoch = (__u32)set->generation;
	g->info.n_pools = (__u32)set->n_pools;
	return 0;
}

int vsn_dp_set_apply(struct vsn_dp *dp, const struct vsn_dp_set *set, size_t *ret_bad)
{
	struct dp_gen g = DP_GEN_INIT;
	struct vsn_meta meta;
	struct timespec now;
	struct prep pr = {0};
	__u32 active, inactive;
	bool quiesce = false;
	pthread_t waiter;
	void *wr;
	int r;

	r = dp_lock(dp);
	if (r)
		return r;
	r = vsn_dp_meta(dp, &dp->meta);
	if (r)
		goto out;
	r = set_prepare(dp, set, &pr, ret_bad);
	if (r)
		goto out;
	r = dp_active_slot(dp, &active);
	if (r)
		goto out;
	inactive = !active;
	/*
	 * Packets that read the inactive slot before the last flip may still
	 * run (unless vsn_dp_set_trim() emptied it): wait for them while the
	 * new maps are built, not after.
	 */
	r = dp_slot_used(dp, inactive, &quiesce);
	if (r)
		goto out;
	if (quiesce) {
		r = -pthread_create(&waiter, NULL, wait_for_packets_thread, dp);
		if (r)
			goto out;
	}
	r = gen_build(set, &pr, &g);
	if (quiesce) {
		pthread_join(waiter, &wr);
		if (!r)
			r = (int)(long)wr;
	}
	if (!r)
		r = dp_gen_stage(dp, active, &g, true);
	/*
	 * The set's SLBs are outside generations: written last, just before
	 * the flip, once nothing else can fail but the flip itself.
	 */
	if (!r)
		r = slbs_define(dp, set);
	if (!r)
		r = dp_gen_flip(dp, active);
	if (r)
		goto out;
	meta = dp->meta;
	meta.generation = set->generation;
	meta.n_policies = set->n_policies;
	clock_gettime(CLOCK_REALTIME, &now);
	meta.applied_unix_ns = (__u64)now.tv_sec * 1000000000ull + now.tv_nsec;
	r = dp_meta_write(dp, &meta);
	if (r)
		goto out;
	dp->meta = meta;
out:
	dp_gen_close(&g);
	prep_free(&pr);
	dp_unlock(dp);
	return r;
}

int vsn_dp_set_trim(struct vsn_dp *dp)
{
	static const enum dp_map outer[] = {DP_MAP_POLICY_SLOTS, DP_MAP_MAGLEV_SLOTS};
	__u32 active, inactive;
	bool used;
	int r;

	r = dp_lock(dp);
	if (r)
		return r;
	r = dp_active_slot(dp, &active);
	if (r)
		goto out;
	inactive = !active;
	r = dp_slot_used(dp, inactive, &used);
	if (r || !used)
		goto out;
	/* Only once no packet can be inside the old set may it go. */
	r = dp_wait_for_packets(dp);
	if (r)
		goto out;
	for (size_t i = 0; i < sizeof(outer) / sizeof(outer[0]) && !r; i++)
		if (bpf_map_delete_elem(dp->map_fd[outer[i]], &inactive) && errno != ENOENT)
			r = -errno;
out:
	dp_unlock(dp);
	return r;
}

/* What decoding the running set's entries needs. */
struct emit {
	int (*cb)(const struct vsn_dp_policy *p, void *arg);
	void *arg;
	const struct vsn_dp_pool *pools; /* by index, as dests name them */
	size_t n_pools;
};

static int dest_emit(const struct vsn_policy_key *k, __u8 proto, __be16 port,
		     const struct vsn_dest *d, const struct emit *e)
{
	struct vsn_dp_policy p = {
		.proto = proto,
		.port = ntohs(port),
		.slb_id = d->target,
		.service_id = d->service_id,
		.policy_id = d->policy_id,
		.on_change =
			d->flags & VSN_DEST_REHASH ? VSN_ON_CHANGE_REHASH : VSN_ON_CHANGE_PRESERVE,
	};

	if (!(d->flags & VSN_DEST_VALID))
		return 0;
	if (d->flags & VSN_DEST_POOL) {
		if (d->target >= e->n_pools)
			return -EPROTO;
		p.slb_id = 0;
		p.pool_id = e->pools[d->target].id;
	}
	vsn_addr_from_key(k->addr, &p.vip);
	return e->cb(&p, e->arg);
}

/* The policies one table entry holds, one callback each. */
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

int vsn_dp_policies_foreach(struct vsn_dp *dp, int (*cb)(const struct vsn_dp_policy *p, void *arg),
			    void *arg)
{
	struct dp_gen g = DP_GEN_INIT;
	struct vsn_dp_pool *pools = NULL;
	struct emit e = {.cb = cb, .arg = arg};
	struct vsn_policy_key key, next;
	struct vsn_match val;
	__u32 active;
	void *prev = NULL;
	int r;

	r = dp_active_slot(dp, &active);
	if (r)
		return r;
	r = dp_gen_open(dp, active, &g);
	if (r)
		return r == -ENOENT ? 0 : r;
	r = dp_pooldefs_read(&g, &pools, &e.n_pools);
	if (r)
		goto out;
	e.pools = pools;
	while (!bpf_map_get_next_key(g.policies, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(g.policies, &key, &val))
			continue;
		r = entry_emit(&key, &val, &e);
		if (r)
			break;
	}
out:
	dp_pools_free(pools, e.n_pools);
	dp_gen_close(&g);
	return r;
}

/* The kernel's memory accounting of one map ("memlock" in its fdinfo). */
static int map_memlock(int fd, __u64 *ret)
{
	char path[64], line[256];
	unsigned long long v;
	FILE *f;
	int r = -ENODATA;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &v) == 1) {
			*ret = v;
			r = 0;
			break;
		}
	fclose(f);
	return r;
}

int vsn_dp_memory(struct vsn_dp *dp, __u64 *ret_set_bytes, __u64 *ret_total_bytes)
{
	struct dp_gen g = DP_GEN_INIT;
	__u64 set = 0, total = 0, m;
	__u32 active;
	int r;

	r = dp_active_slot(dp, &active);
	if (r)
		return r;
	r = dp_gen_open(dp, active, &g);
	if (!r) {
		int fds[] = {g.policies, g.maglev};

		for (size_t i = 0; i < 2 && !r; i++) {
			r = map_memlock(fds[i], &m);
			set += m;
		}
		dp_gen_close(&g);
	}
	if (r && r != -ENOENT)
		return r;
	for (int i = 0; i < DP_MAP_MAX; i++) {
		r = map_memlock(dp->map_fd[i], &m);
		if (r)
			return r;
		total += m;
	}
	*ret_set_bytes = set;
	*ret_total_bytes = total + set;
	return 0;
}
