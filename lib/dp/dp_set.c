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
	/* A VIP (plen 0) before the prefixes of the same network address. */
	if (a->plen != b->plen)
		return a->plen < b->plen ? -1 : 1;
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
	return SLB_KNOWN | SLB_DEFINED | (e->forward != VSN_FORWARD_L2 ? SLB_IPIP : 0) |
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
/* Is addr (16 bytes, v4-mapped) a network address: no bit set past mapped_plen? */
static bool is_network(const __u8 addr[16], unsigned int mapped_plen)
{
	for (unsigned int bit = mapped_plen; bit < 128; bit++)
		if (addr[bit / 8] & (0x80 >> (bit % 8)))
			return false;
	return true;
}

/* A prefix length in the v4-mapped space (an IPv4 /24 is 120). */
static unsigned int mapped_plen(const struct vsn_addr *a, unsigned int plen)
{
	return a->family == AF_INET ? 96 + plen : plen;
}

/* Check a destination (one SLB or a pool of the set) for packets of family. */
static int target_check(struct vsn_dp *dp, struct prep *pr, __u32 slb_id, __u32 pool_id, int family)
{
	const struct pool_ref *pool;
	__u8 f, fam;
	int r;

	if (!slb_id == !pool_id)
		return -EINVAL;
	if (slb_id && slb_id >= dp->meta.max_slbs)
		return -ERANGE;
	if (pool_id) {
		pool = pool_find(pr, pool_id);
		if (!pool)
			return -ENOENT;
		fam = pool->fam;
	} else {
		r = slb_lookup(dp, pr->slb_seen, slb_id, &f);
		if (r)
			return r;
		if (!(f & SLB_DEFINED))
			return -ENOENT;
		fam = slb_fam(f);
	}
	/* ipip carries IPv4 in IPv4 and IPv6 in IPv6. */
	if (fam & (family == AF_INET ? FAM_NO_V4 : FAM_NO_V6))
		return -EAFNOSUPPORT;
	return 0;
}

static int client_cmp(const void *a, const void *b)
{
	const struct vsn_client_key *x = a, *y = b;
	int c = memcmp(x->addr, y->addr, sizeof(x->addr));

	return c ? c : (x->prefixlen > y->prefixlen) - (x->prefixlen < y->prefixlen);
}

/* Check a policy's client-source rules: family, prefixes, targets, no prefix twice. */
static int clients_check(struct vsn_dp *dp, const struct vsn_dp_policy *p, struct prep *pr)
{
	struct vsn_client_key *k;
	int r = 0;

	if (!p->n_clients)
		return 0;
	if (p->n_clients > VSN_DP_MAX_CLIENTS || !p->clients)
		return -EINVAL;
	k = calloc(p->n_clients, sizeof(*k));
	if (!k)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_clients && !r; i++) {
		const struct vsn_dp_client *c = &p->clients[i];

		if (c->prefix.family != p->vip.family) {
			r = -EAFNOSUPPORT;
			break;
		}
		if (vsn_addr_is_v4mapped(&c->prefix) ||
		    c->plen > (c->prefix.family == AF_INET ? 32 : 128)) {
			r = -EINVAL;
			break;
		}
		vsn_addr_to_key(&c->prefix, k[i].addr);
		k[i].prefixlen = mapped_plen(&c->prefix, c->plen);
		if (!is_network(k[i].addr, k[i].prefixlen))
			r = -EINVAL;
		else
			r = target_check(dp, pr, c->slb_id, c->pool_id, p->vip.family);
	}
	if (!r) {
		qsort(k, p->n_clients, sizeof(*k), client_cmp);
		for (size_t i = 1; i < p->n_clients && !r; i++)
			if (!client_cmp(&k[i - 1], &k[i]))
				r = -EINVAL;
	}
	free(k);
	return r;
}

/* Check one policy against the forwarder's capacities, SLBs and the set's pools. */
static int policy_check(struct vsn_dp *dp, const struct vsn_dp_policy *p, struct prep *pr)
{
	__u8 addr[16];
	int r;

	/* A v4-mapped VIP would take the IPv4 VIP's key. */
	if ((p->vip.family != AF_INET && p->vip.family != AF_INET6) ||
	    vsn_addr_is_v4mapped(&p->vip))
		return -EINVAL;
	if (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP)
		return -EINVAL;
	if (p->on_change != VSN_ON_CHANGE_PRESERVE && p->on_change != VSN_ON_CHANGE_REHASH)
		return -EINVAL;
	if (p->vip_plen) {
		vsn_addr_to_key(&p->vip, addr);
		if (p->vip_plen >= (p->vip.family == AF_INET ? 32 : 128) ||
		    !is_network(addr, mapped_plen(&p->vip, p->vip_plen)))
			return -EINVAL;
	}
	if (p->service_id >= dp->meta.max_services || p->policy_id >= dp->meta.max_policies)
		return -ERANGE;
	r = target_check(dp, pr, p->slb_id, p->pool_id, p->vip.family);
	return r ? r : clients_check(dp, p, pr);
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
static int set_check(struct vsn_dp *dp, const struct vsn_dp_set *set, struct prep *pr,
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
		s[i].key.plen = p->vip_plen ? mapped_plen(&p->vip, p->vip_plen) : 0;
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

int vsn_dp_set_validate(struct vsn_dp *dp, const struct vsn_dp_set *set, size_t *ret_bad)
{
	struct prep pr;
	int r;

	r = vsn_dp_meta(dp, &dp->meta);
	if (r)
		return r;
	r = set_check(dp, set, &pr, ret_bad);
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
	if (p->n_clients)
		d->flags |= VSN_DEST_CLIENTS;
}

/* The maps' entries of a set, built in user space before any map is made. */
struct entries {
	struct vsn_policy_key *keys; /* the hash: VIP entries and further port policies */
	struct vsn_match *vals;
	size_t n;
	struct vsn_prefix_key *pkeys; /* the prefix trie */
	struct vsn_prefix_match *pvals;
	size_t np;
	struct vsn_client_key *ckeys; /* the client-rule trie */
	struct vsn_dest *cvals;
	size_t nc;
};

static void entries_free(struct entries *e)
{
	free(e->keys);
	free(e->vals);
	free(e->pkeys);
	free(e->pvals);
	free(e->ckeys);
	free(e->cvals);
	memset(e, 0, sizeof(*e));
}

/*
 * Turn the sorted policies into entries: per VIP (or VIP prefix) one entry
 * holding its any-port policies and its first VSN_VIP_PORT_SLOTS port
 * policies (key order), in the hash for a VIP, in the trie for a prefix;
 * and a hash entry of its own for each further port policy.
 */
static void policies_build(const struct vsn_dp_set *set, const struct prep *pr, struct entries *e)
{
	const struct sorted *s = pr->s;

	for (size_t i = 0; i < set->n_policies;) {
		const struct vsn_policy_key *first = &s[i].key;
		struct vsn_match m = {0};
		size_t slot = 0;

		for (; i < set->n_policies && !memcmp(s[i].key.addr, first->addr, 16) &&
		       s[i].key.plen == first->plen;
		     i++) {
			const struct vsn_dp_policy *p = &set->policies[s[i].index];
			int l4 = p->proto == IPPROTO_TCP ? VSN_L4_TCP : VSN_L4_UDP;

			if (!p->port) {
				dest_fill(&m.dest[l4], p, pr);
				continue;
			}
			if (slot < VSN_VIP_PORT_SLOTS) {
				m.ports[slot].proto = p->proto;
				m.ports[slot].port = s[i].key.port;
				dest_fill(&m.ports[slot].dest, p, pr);
				slot++;
				continue;
			}
			m.flags |= l4 == VSN_L4_TCP ? VSN_VIP_PORTS_TCP : VSN_VIP_PORTS_UDP;
			e->keys[e->n] = s[i].key;
			memset(&e->vals[e->n], 0, sizeof(e->vals[e->n]));
			dest_fill(&e->vals[e->n].dest[0], p, pr);
			e->n++;
		}
		if (first->plen) {
			struct vsn_prefix_key *k = &e->pkeys[e->np];
			struct vsn_prefix_match *v = &e->pvals[e->np++];

			k->prefixlen = first->plen;
			memcpy(k->addr, first->addr, 16);
			memset(v, 0, sizeof(*v));
			v->m = m;
			memcpy(v->net, first->addr, 16);
			v->plen = first->plen;
		} else {
			memset(&e->keys[e->n], 0, sizeof(e->keys[e->n]));
			memcpy(e->keys[e->n].addr, first->addr, 16);
			e->vals[e->n++] = m;
		}
	}
}

/* The client-rule trie's entries: per rule, its policy id and source prefix. */
static void clients_build(const struct vsn_dp_set *set, const struct prep *pr, struct entries *e)
{
	for (size_t i = 0; i < set->n_policies; i++) {
		const struct vsn_dp_policy *p = &set->policies[i];

		for (size_t j = 0; j < p->n_clients; j++) {
			const struct vsn_dp_client *c = &p->clients[j];
			struct vsn_client_key *k = &e->ckeys[e->nc];
			struct vsn_dp_policy rule = *p;

			memset(k, 0, sizeof(*k));
			k->policy_id = htonl(p->policy_id);
			vsn_addr_to_key(&c->prefix, k->addr);
			k->prefixlen = 32 + mapped_plen(&c->prefix, c->plen);
			/* The rule's destination, the policy's counters and on_change. */
			rule.slb_id = c->slb_id;
			rule.pool_id = c->pool_id;
			rule.n_clients = 0;
			memset(&e->cvals[e->nc], 0, sizeof(e->cvals[e->nc]));
			dest_fill(&e->cvals[e->nc++], &rule, pr);
		}
	}
}

static int entries_build(const struct vsn_dp_set *set, const struct prep *pr, struct entries *e)
{
	size_t cap = set->n_policies * 2 + 1, nc = 0;

	for (size_t i = 0; i < set->n_policies; i++)
		nc += set->policies[i].n_clients;
	memset(e, 0, sizeof(*e));
	e->keys = calloc(cap, sizeof(*e->keys));
	e->vals = calloc(cap, sizeof(*e->vals));
	e->pkeys = calloc(cap, sizeof(*e->pkeys));
	e->pvals = calloc(cap, sizeof(*e->pvals));
	e->ckeys = calloc(nc + 1, sizeof(*e->ckeys));
	e->cvals = calloc(nc + 1, sizeof(*e->cvals));
	if (!e->keys || !e->vals || !e->pkeys || !e->pvals || !e->ckeys || !e->cvals) {
		entries_free(e);
		return -ENOMEM;
	}
	policies_build(set, pr, e);
	clients_build(set, pr, e);
	return 0;
}

/* A fresh policy hash holding e's hash entries; its fd, or a negative errno. */
static int table_create(const struct vsn_dp_set *set, const struct entries *e)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	char name[16];
	int fd;

	snprintf(name, sizeof(name), "vsn_pol_%llu",
		 (unsigned long long)set->generation % 100000000);
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, name, sizeof(*e->keys), sizeof(*e->vals),
			    e->n ? e->n : 1, NULL);
	if (fd < 0)
		return -errno;
	for (size_t done = 0; done < e->n;) {
		__u32 count = e->n - done > 65536 ? 65536 : e->n - done;

		if (bpf_map_update_batch(fd, e->keys + done, e->vals + done, &count, &bo)) {
			int r = -errno;

			close(fd);
			return r;
		}
		done += count;
	}
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
	__u32 zero = 0, v;

	if (bpf_map_lookup_elem(dp->map_fd[DP_MAP_ACTIVE], &zero, &v))
		return -errno;
	*ret = v & VSN_ACTIVE_SLOT;
	return 0;
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
	int *fds[] = {&g->policies, &g->maglev, &g->prefixes, &g->clients};

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
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
	/* The tries only when the generation has them (a slot may hold older ones). */
	if (!r && (g.info.active_flags & VSN_ACTIVE_PREFIXES)) {
		g.prefixes = inner_open(dp, DP_MAP_PREFIX_SLOTS, slot);
		r = g.prefixes < 0 ? g.prefixes : 0;
	}
	if (!r && (g.info.active_flags & VSN_ACTIVE_CLIENTS)) {
		g.clients = inner_open(dp, DP_MAP_CLIENT_SLOTS, slot);
		r = g.clients < 0 ? g.clients : 0;
	}
	/* A slot with policies but not the rest: state this library never leaves. */
	if (r) {
		dp_gen_close(&g);
		return r == -ENOENT ? -EPROTO : r;
	}
	*ret = g;
	return 0;
}

int dp_gen_open_running(struct vsn_dp *dp, struct dp_gen *ret)
{
	__u32 active;
	int r = dp_active_slot(dp, &active);

	return r ? r : dp_gen_open(dp, active, ret);
}

/* One map-in-map update: the kernel waits a grace period after each. */
struct slot_update {
	int outer_fd;
	__u32 slot;
	int inner_fd;
	int ret;
	pthread_t thread;
};

static struct slot_update slot_update_of(struct vsn_dp *dp, enum dp_map outer, __u32 slot,
					 int inner_fd)
{
	struct slot_update u = {.outer_fd = dp->map_fd[outer], .slot = slot, .inner_fd = inner_fd};

	return u;
}

static void *slot_update_thread(void *arg)
{
	struct slot_update *u = arg;

	u->ret = bpf_map_update_elem(u->outer_fd, &u->slot, &u->inner_fd, BPF_ANY) ? -errno : 0;
	return NULL;
}

int dp_gen_stage(struct vsn_dp *dp, __u32 active, const struct dp_gen *g, bool quiesced)
{
	__u32 inactive = !active;
	struct slot_update u[4];
	size_t n = 0, started = 0;
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
	u[n++] = slot_update_of(dp, DP_MAP_POLICY_SLOTS, inactive, g->policies);
	u[n++] = slot_update_of(dp, DP_MAP_MAGLEV_SLOTS, inactive, g->maglev);
	/* Without them the slot keeps older tries, which vsn_active says not to read. */
	if (g->prefixes >= 0)
		u[n++] = slot_update_of(dp, DP_MAP_PREFIX_SLOTS, inactive, g->prefixes);
	if (g->clients >= 0)
		u[n++] = slot_update_of(dp, DP_MAP_CLIENT_SLOTS, inactive, g->clients);
	/*
	 * Nothing reads the inactive slot (the caller waited for the packets
	 * that did): fill its map-in-maps at once, so their grace periods
	 * overlap instead of adding up.
	 */
	r = 0;
	for (size_t i = 1; i < n && !r; i++) {
		r = -pthread_create(&u[i].thread, NULL, slot_update_thread, &u[i]);
		if (!r)
			started++;
	}
	slot_update_thread(&u[0]);
	for (size_t i = 1; i <= started; i++)
		pthread_join(u[i].thread, NULL);
	for (size_t i = 0; i <= started && !r; i++)
		r = u[i].ret;
	return r;
}

int dp_gen_flip(struct vsn_dp *dp, __u32 active, const struct dp_gen *g)
{
	__u32 zero = 0, next = !active | g->info.active_flags;

	/* From here on, new packets see only the new generation. */
	return bpf_map_update_elem(dp->map_fd[DP_MAP_ACTIVE], &zero, &next, BPF_ANY) ? -errno : 0;
}

int dp_gen_install(struct vsn_dp *dp, __u32 active, const struct dp_gen *g, bool quiesced)
{
	int r = dp_gen_stage(dp, active, g, quiesced);

	return r ? r : dp_gen_flip(dp, active, g);
}

/* The set's maps, built while packets may still be in the inactive slot. */
static int gen_build(const struct vsn_dp_set *set, const struct prep *pr, struct dp_gen *g)
{
	struct entries e;
	int r;

	r = entries_build(set, pr, &e);
	if (r)
		return r;
	g->policies = table_create(set, &e);
	if (g->policies < 0) {
		r = g->policies;
		goto out;
	}
	if (e.np) {
		g->prefixes = dp_lpm_create("vsn_prefixes", sizeof(*e.pkeys), sizeof(*e.pvals),
					    e.pkeys, e.pvals, e.np);
		if (g->prefixes < 0) {
			r = g->prefixes;
			goto out;
		}
		g->info.active_flags |= VSN_ACTIVE_PREFIXES;
	}
	if (e.nc) {
		g->clients = dp_lpm_create("vsn_clients", sizeof(*e.ckeys), sizeof(*e.cvals),
					   e.ckeys, e.cvals, e.nc);
		if (g->clients < 0) {
			r = g->clients;
			goto out;
		}
		g->info.active_flags |= VSN_ACTIVE_CLIENTS;
	}
	g->maglev = dp_maglev_create(set->pools, set->n_pools, pr->m, set->hash_seed, pr->slb_seen);
	if (g->maglev < 0) {
		r = g->maglev;
		goto out;
	}
	g->info.maglev_size = pr->m;
	g->info.hash_seed = set->hash_seed;
	g->info.epoch = (__u32)set->generation;
	g->info.n_pools = (__u32)set->n_pools;
out:
	entries_free(&e);
	return r;
}

/*
 * --- Two-phase apply. ---
 *
 * Prepare builds a set into the inactive slot; commit writes its SLBs and
 * flips. Between the two the lock is free, so commit first checks that
 * what prepare built on still holds:
 *  - meta.generation: any other apply changes it (-ESTALE);
 *  - the active slot, and the ids of the maps in the inactive slot: anyone
 *    who staged there since (dp_tables_rebuild() after an SLB state change,
 *    another prepare) or emptied it (vsn_dp_set_trim()) displaced the set,
 *    which is then staged again from the maps p holds;
 *  - the state of each pool member the set does not define: the set's
 *    Maglev tables left out the ones not up at prepare. One that went up or
 *    down since gets the tables built again (a state change rebuilds only
 *    the running set's tables, and only when it has pools).
 * The set's own SLBs carry their state: commit writes it whatever the table
 * says then, as an apply at that moment would.
 */
struct vsn_dp_prepared {
	struct vsn_dp *dp;
	__u64 generation;
	__u64 base; /* meta.generation at prepare */
	__u32 n_policies;
	__u32 active;	 /* the active slot at prepare; the set waits in the other one */
	__u32 staged[4]; /* slot_ids() of that slot once the set was staged */
	struct dp_gen g; /* the set's maps, held open so they outlive being displaced */
	size_t n_slbs;	 /* the set's own SLBs, in set order: */
	__u32 *slb_ids;
	struct vsn_slb *slbs;	     /* entries as commit writes them, resolved at prepare */
	struct vsn_slb *slbs_before; /* the table's entries at prepare */
	int *slb_results;	     /* per SLB, 0 or why its next hop is not resolved */
	size_t n_members;	     /* pool members the set does not define: */
	__u32 *members;
	bool *members_up; /* up at prepare: in the Maglev tables */
};

static void prepared_free(struct vsn_dp_prepared *p)
{
	if (!p)
		return;
	dp_gen_close(&p->g);
	free(p->slb_ids);
	free(p->slbs);
	free(p->slbs_before);
	free(p->slb_results);
	free(p->members);
	free(p->members_up);
	free(p);
}

/*
 * The ids of the inner maps that a generation like g has in slot (0: entry
 * empty). While they are g's own, nobody staged into the slot since: g's fds
 * keep its maps alive, so their ids are not reused.
 */
static int slot_ids(struct vsn_dp *dp, __u32 slot, const struct dp_gen *g, __u32 ret[4])
{
	const enum dp_map outer[4] = {DP_MAP_POLICY_SLOTS, DP_MAP_MAGLEV_SLOTS, DP_MAP_PREFIX_SLOTS,
				      DP_MAP_CLIENT_SLOTS};
	const bool has[4] = {true, true, g->prefixes >= 0, g->clients >= 0};

	for (int i = 0; i < 4; i++) {
		ret[i] = 0;
		if (has[i] && bpf_map_lookup_elem(dp->map_fd[outer[i]], &slot, &ret[i]) &&
		    errno != ENOENT)
			return -errno;
	}
	return 0;
}

static bool slb_up(const struct vsn_slb *e)
{
	return (e->flags & VSN_SLB_DEFINED) && e->state == VSN_SLB_UP;
}

/*
 * The set's SLBs as commit will write them, their next hops resolved now
 * (this may wait about a second), and the table's entries now.
 */
static int prepared_slbs(struct vsn_dp *dp, const struct vsn_dp_set *set, struct vsn_dp_prepared *p)
{
	size_t n = set->n_slbs;
	int r = 0;

	if (!n)
		return 0;
	p->slb_ids = calloc(n, sizeof(*p->slb_ids));
	p->slbs = calloc(n, sizeof(*p->slbs));
	p->slbs_before = calloc(n, sizeof(*p->slbs_before));
	p->slb_results = calloc(n, sizeof(*p->slb_results));
	if (!p->slb_ids || !p->slbs || !p->slbs_before || !p->slb_results)
		return -ENOMEM;
	p->n_slbs = n;
	for (size_t i = 0; i < n && !r; i++) {
		p->slb_ids[i] = set->slbs[i].id;
		r = dp_slb_entry(dp, &set->slbs[i], &p->slbs[i]);
	}
	if (r)
		return r;
	dp_slbs_resolve(p->slbs, n, p->slb_results);
	return dp_slbs_read(dp, p->slb_ids, n, p->slbs_before);
}

/* The pool members the set does not define, each once, and whether the tables have them. */
static int prepared_members(struct vsn_dp *dp, const struct vsn_dp_set *set, const struct prep *pr,
			    struct vsn_dp_prepared *p)
{
	enum { BY_SET = 1, LISTED = 2 };
	size_t total = 0;
	__u8 *mark;

	for (size_t i = 0; i < set->n_pools; i++)
		total += set->pools[i].n_members;
	if (!total)
		return 0;
	mark = calloc(dp->meta.max_slbs, 1);
	p->members = calloc(total, sizeof(*p->members));
	p->members_up = calloc(total, sizeof(*p->members_up));
	if (!mark || !p->members || !p->members_up) {
		free(mark);
		return -ENOMEM;
	}
	for (size_t i = 0; i < set->n_slbs; i++)
		mark[set->slbs[i].id] = BY_SET;
	for (size_t i = 0; i < set->n_pools; i++)
		for (size_t j = 0; j < set->pools[i].n_members; j++) {
			__u32 id = set->pools[i].members[j].slb_id;

			if (mark[id])
				continue;
			mark[id] = LISTED;
			p->members[p->n_members] = id;
			p->members_up[p->n_members++] = pr->slb_seen[id] & SLB_UP;
		}
	free(mark);
	return 0;
}

/*
 * Validate set, build it and stage it in the inactive slot; the caller holds
 * the lock. On success *ret holds everything commit needs: set may go.
 */
static int prepare_locked(struct vsn_dp *dp, const struct vsn_dp_set *set, size_t *ret_bad,
			  struct vsn_dp_prepared **ret)
{
	struct vsn_dp_prepared *p = NULL;
	struct prep pr = {0};
	bool quiesce = false;
	pthread_t waiter;
	void *wr;
	int r;

	r = vsn_dp_meta(dp, &dp->meta);
	if (r)
		return r;
	r = set_check(dp, set, &pr, ret_bad);
	if (r)
		return r;
	p = calloc(1, sizeof(*p));
	if (!p) {
		r = -ENOMEM;
		goto out;
	}
	p->g = (struct dp_gen)DP_GEN_INIT;
	p->dp = dp;
	p->generation = set->generation;
	p->base = dp->meta.generation;
	p->n_policies = (__u32)set->n_policies;
	r = prepared_members(dp, set, &pr, p);
	if (!r)
		r = dp_active_slot(dp, &p->active);
	/*
	 * Packets that read the inactive slot before the last flip may still
	 * run (unless vsn_dp_set_trim() emptied it): wait for them while the
	 * new maps are built, not after.
	 */
	if (!r)
		r = dp_slot_used(dp, !p->active, &quiesce);
	if (r)
		goto out;
	if (quiesce) {
		r = -pthread_create(&waiter, NULL, wait_for_packets_thread, dp);
		if (r)
			goto out;
	}
	r = gen_build(set, &pr, &p->g);
	if (quiesce) {
		pthread_join(waiter, &wr);
		if (!r)
			r = (int)(long)wr;
	}
	if (!r)
		r = dp_gen_stage(dp, p->active, &p->g, true);
	if (!r)
		r = slot_ids(dp, !p->active, &p->g, p->staged);
	/* Resolved after the build, as an apply always did: a set that fails touches no neighbour.
	 */
	if (!r)
		r = prepared_slbs(dp, set, p);
out:
	prep_free(&pr);
	if (r) {
		prepared_free(p);
		return r;
	}
	*ret = p;
	return 0;
}

/*
 * If a pool member the set does not define went up or down since prepare,
 * build the set's Maglev tables again from the states now (the set's own
 * SLBs: from the set). *ret_rebuilt: p->g.maglev is a new map to stage.
 */
static int members_recheck(struct vsn_dp *dp, struct vsn_dp_prepared *p, bool *ret_rebuilt)
{
	struct vsn_dp_pool *pools = NULL;
	struct vsn_slb *cur;
	__u8 *facts = NULL;
	bool changed = false;
	size_t n = 0;
	int fd, r;

	if (!p->n_members) {
		*ret_rebuilt = false;
		return 0;
	}
	cur = calloc(p->n_members, sizeof(*cur));
	if (!cur)
		return -ENOMEM;
	r = dp_slbs_read(dp, p->members, p->n_members, cur);
	for (size_t i = 0; i < p->n_members && !r; i++)
		changed |= slb_up(&cur[i]) != p->members_up[i];
	if (r || !changed)
		goto out;
	facts = calloc(dp->meta.max_slbs, 1);
	if (!facts) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < p->n_members; i++)
		facts[p->members[i]] =
			cur[i].flags & VSN_SLB_DEFINED ? dp_slb_facts(&cur[i]) : SLB_KNOWN;
	for (size_t i = 0; i < p->n_slbs; i++)
		facts[p->slb_ids[i]] = dp_slb_facts(&p->slbs[i]);
	r = dp_pooldefs_read(&p->g, &pools, &n);
	if (r)
		goto out;
	fd = dp_maglev_create(pools, n, p->g.info.maglev_size, p->g.info.hash_seed, facts);
	if (fd < 0) {
		r = fd;
		goto out;
	}
	close(p->g.maglev);
	p->g.maglev = fd;
out:
	dp_pools_free(pools, n);
	free(facts);
	free(cur);
	if (!r)
		*ret_rebuilt = changed;
	return r;
}

/* Does a's next hop differ from b's? */
static bool nexthop_differs(const struct vsn_slb *a, const struct vsn_slb *b)
{
	return a->ifindex != b->ifindex || memcmp(a->dmac, b->dmac, 6) ||
	       memcmp(a->smac, b->smac, 6) || a->mtu != b->mtu ||
	       (a->flags & VSN_SLB_RESOLVED) != (b->flags & VSN_SLB_RESOLVED);
}

/*
 * e's next hop was resolved at prepare. If the table's entry for the same
 * address and forward got a new resolved next hop since (a refresh after a
 * neighbour event), that one is newer: keep it, or the refresh is undone.
 */
static void nexthop_keep(struct vsn_slb *e, const struct vsn_slb *before, const struct vsn_slb *cur)
{
	if ((e->flags | cur->flags) & VSN_SLB_STATIC || !(cur->flags & VSN_SLB_DEFINED) ||
	    !(cur->flags & VSN_SLB_RESOLVED) || memcmp(e->addr, cur->addr, sizeof(e->addr)) ||
	    e->forward != cur->forward || !nexthop_differs(cur, before))
		return;
	e->ifindex = cur->ifindex;
	memcpy(e->dmac, cur->dmac, 6);
	memcpy(e->smac, cur->smac, 6);
	e->mtu = cur->mtu;
	e->flags |= VSN_SLB_RESOLVED;
}

/* Write the set's SLBs (with their states, as the set defines them). */
static int slbs_commit(struct vsn_dp *dp, struct vsn_dp_prepared *p)
{
	struct vsn_slb *cur;
	int r;

	if (!p->n_slbs)
		return 0;
	cur = calloc(p->n_slbs, sizeof(*cur));
	if (!cur)
		return -ENOMEM;
	r = dp_slbs_read(dp, p->slb_ids, p->n_slbs, cur);
	for (size_t i = 0; i < p->n_slbs && !r; i++)
		nexthop_keep(&p->slbs[i], &p->slbs_before[i], &cur[i]);
	if (!r)
		r = dp_slbs_write(dp, p->slb_ids, p->slbs, p->n_slbs);
	free(cur);
	return r;
}

/* Flip to the prepared set (staging it again first if it was displaced); the caller holds the lock.
 */
static int commit_locked(struct vsn_dp *dp, struct vsn_dp_prepared *p)
{
	struct vsn_slot_info info;
	struct vsn_meta meta;
	struct timespec now;
	__u32 active, ids[4];
	bool restage, rebuilt;
	int r;

	if (p->dp != dp)
		return -EINVAL;
	r = vsn_dp_meta(dp, &meta);
	if (r)
		return r;
	if (meta.generation != p->base)
		return -ESTALE;
	r = dp_active_slot(dp, &active);
	if (!r)
		r = slot_ids(dp, !active, &p->g, ids);
	if (!r && bpf_map_lookup_elem(dp->map_fd[DP_MAP_SLOT_INFO], &(__u32){!active}, &info))
		r = -errno;
	if (!r)
		r = members_recheck(dp, p, &rebuilt);
	if (r)
		return r;
	restage = rebuilt || active != p->active || memcmp(ids, p->staged, sizeof(ids)) ||
		  memcmp(&info, &p->g.info, sizeof(info));
	/* Rare and slow: packets may be in that slot (it may have been active since). */
	if (restage)
		r = dp_gen_stage(dp, active, &p->g, false);
	/*
	 * The set's SLBs are outside generations: written last, just before
	 * the flip, once nothing else can fail but the flip itself.
	 */
	if (!r)
		r = slbs_commit(dp, p);
	if (!r)
		r = dp_gen_flip(dp, active, &p->g);
	if (r)
		return r;
	meta.generation = p->generation;
	meta.n_policies = p->n_policies;
	clock_gettime(CLOCK_REALTIME, &now);
	meta.applied_unix_ns = (__u64)now.tv_sec * 1000000000ull + now.tv_nsec;
	r = dp_meta_write(dp, &meta);
	if (!r)
		dp->meta = meta;
	return r;
}

int vsn_dp_set_prepare(struct vsn_dp *dp, const struct vsn_dp_set *set, size_t *ret_bad,
		       struct vsn_dp_prepared **ret_prepared)
{
	struct vsn_dp_prepared *p;
	int r;

	r = dp_lock(dp);
	if (r)
		return r;
	r = prepare_locked(dp, set, ret_bad, &p);
	dp_unlock(dp);
	if (r)
		return r;
	/* Commit cannot reach the set's memory: the results are known now. */
	if (set->ret_slb_results && p->n_slbs)
		memcpy(set->ret_slb_results, p->slb_results, p->n_slbs * sizeof(*p->slb_results));
	*ret_prepared = p;
	return 0;
}

__u64 vsn_dp_prepared_generation(const struct vsn_dp_prepared *p)
{
	return p->generation;
}

int vsn_dp_set_commit(struct vsn_dp *dp, struct vsn_dp_prepared *p)
{
	int r;

	if (!p)
		return -EINVAL;
	r = dp_lock(dp);
	if (!r) {
		r = commit_locked(dp, p);
		dp_unlock(dp);
	}
	prepared_free(p);
	return r;
}

void vsn_dp_set_abort(struct vsn_dp *dp, struct vsn_dp_prepared *p)
{
	(void)dp;
	/* Its maps stay in the inactive slot, unreachable, until a trim or the next stage. */
	prepared_free(p);
}

int vsn_dp_set_apply(struct vsn_dp *dp, const struct vsn_dp_set *set, size_t *ret_bad)
{
	struct vsn_dp_prepared *p = NULL;
	int r;

	r = dp_lock(dp);
	if (r)
		return r;
	/* One hold of the lock: nothing can change in between, and commit's checks find so. */
	r = prepare_locked(dp, set, ret_bad, &p);
	if (!r)
		r = commit_locked(dp, p);
	if (!r && set->ret_slb_results && p->n_slbs)
		memcpy(set->ret_slb_results, p->slb_results, p->n_slbs * sizeof(*p->slb_results));
	dp_unlock(dp);
	prepared_free(p);
	return r;
}

int vsn_dp_set_trim(struct vsn_dp *dp)
{
	static const enum dp_map outer[] = {DP_MAP_POLICY_SLOTS, DP_MAP_MAGLEV_SLOTS,
					    DP_MAP_PREFIX_SLOTS, DP_MAP_CLIENT_SLOTS};
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
	int r;

	r = dp_gen_open_running(dp, &g);
	if (!r) {
		int fds[] = {g.policies, g.maglev, g.prefixes, g.clients};

		for (size_t i = 0; i < 4 && !r; i++) {
			if (fds[i] < 0)
				continue;
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
