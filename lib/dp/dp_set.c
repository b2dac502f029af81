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

/* What validation remembers of each SLB id: one syscall per SLB, not per policy. */
#define SLB_KNOWN 0x1	/* looked up */
#define SLB_DEFINED 0x2 /* exists (in the set or on the node) */
#define SLB_IPIP 0x4	/* forwards by ipip */
#define SLB_IPV6 0x8	/* has an IPv6 address */

static __u8 slb_facts(const struct vsn_slb *e)
{
	struct vsn_addr a;

	vsn_addr_from_key(e->addr, &a);
	return SLB_KNOWN | SLB_DEFINED | (e->forward == VSN_FORWARD_IPIP ? SLB_IPIP : 0) |
	       (a.family == AF_INET6 ? SLB_IPV6 : 0);
}

/* Check one policy against the forwarder's capacities and SLB table. */
static int policy_check(struct vsn_dp *dp, const struct vsn_dp_policy *p, __u8 *slb_seen)
{
	struct vsn_slb slb;
	__u8 f;

	/* A v4-mapped VIP would take the IPv4 VIP's key. */
	if ((p->vip.family != AF_INET && p->vip.family != AF_INET6) ||
	    vsn_addr_is_v4mapped(&p->vip))
		return -EINVAL;
	if (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP)
		return -EINVAL;
	if (p->slb_id == 0 || p->slb_id >= dp->meta.max_slbs ||
	    p->service_id >= dp->meta.max_services || p->policy_id >= dp->meta.max_policies)
		return -ERANGE;
	if (!slb_seen[p->slb_id]) {
		if (bpf_map_lookup_elem(dp->map_fd[DP_MAP_SLBS], &p->slb_id, &slb))
			return -errno;
		slb_seen[p->slb_id] = slb.flags & VSN_SLB_DEFINED ? slb_facts(&slb) : SLB_KNOWN;
	}
	f = slb_seen[p->slb_id];
	if (!(f & SLB_DEFINED))
		return -ENOENT;
	/* ipip carries IPv4 in IPv4 and IPv6 in IPv6. */
	if ((f & SLB_IPIP) && !(f & SLB_IPV6) != (p->vip.family == AF_INET))
		return -EAFNOSUPPORT;
	return 0;
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
		slb_seen[set->slbs[i].id] = slb_facts(&e);
	}
	return 0;
}

/*
 * Validate and sort the set: on success *ret_sorted holds every policy by
 * key, duplicates refused. The caller frees it.
 */
static int set_prepare(struct vsn_dp *dp, const struct vsn_dp_set *set, struct sorted **ret_sorted,
		       size_t *ret_bad)
{
	struct sorted *s = NULL;
	__u8 *slb_seen, *ids = NULL;
	size_t bad = SIZE_MAX;
	int r = 0;

	if (set->generation <= dp->meta.generation)
		return -ESTALE;
	if (set->n_policies > dp->meta.max_policies)
		return -E2BIG;
	slb_seen = calloc(dp->meta.max_slbs, 1);
	ids = calloc(dp->meta.max_policies / 8 + 1, 1);
	s = calloc(set->n_policies ? set->n_policies : 1, sizeof(*s));
	if (!slb_seen || !ids || !s) {
		r = -ENOMEM;
		goto out;
	}
	r = slbs_check(dp, set, slb_seen, &bad);
	if (r)
		goto out;
	for (size_t i = 0; i < set->n_policies; i++) {
		const struct vsn_dp_policy *p = &set->policies[i];

		bad = i;
		r = policy_check(dp, p, slb_seen);
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
	free(slb_seen);
	free(ids);
	if (r) {
		free(s);
		if (ret_bad && bad != SIZE_MAX)
			*ret_bad = bad;
		return r;
	}
	*ret_sorted = s;
	return 0;
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
	struct sorted *s;
	int r;

	r = vsn_dp_meta(dp, &dp->meta);
	if (r)
		return r;
	r = set_prepare(dp, set, &s, ret_bad);
	if (!r)
		free(s);
	return r;
}

static void dest_fill(struct vsn_dest *d, const struct vsn_dp_policy *p)
{
	d->slb_id = p->slb_id;
	d->service_id = p->service_id;
	d->policy_id = p->policy_id;
	d->flags = VSN_DEST_VALID;
}

/*
 * Turn the sorted policies into table entries: one VIP entry per address,
 * holding its any-port policies and its first VSN_VIP_PORT_SLOTS port
 * policies (key order), and an entry of its own for each further one.
 */
static size_t entries_build(const struct vsn_dp_set *set, const struct sorted *s,
			    struct vsn_policy_key *keys, struct vsn_match *vals)
{
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
				dest_fill(&vals[vip].dest[l4], p);
				continue;
			}
			if (slot < VSN_VIP_PORT_SLOTS) {
				vals[vip].ports[slot].proto = p->proto;
				vals[vip].ports[slot].port = s[i].key.port;
				dest_fill(&vals[vip].ports[slot].dest, p);
				slot++;
				continue;
			}
			vals[vip].flags |= l4 == VSN_L4_TCP ? VSN_VIP_PORTS_TCP : VSN_VIP_PORTS_UDP;
			keys[n] = s[i].key;
			memset(&vals[n], 0, sizeof(vals[n]));
			dest_fill(&vals[n].dest[0], p);
			n++;
		}
	}
	return n;
}

/* A fresh inner map holding the set; its fd, or a negative errno. */
static int table_create(const struct vsn_dp_set *set, const struct sorted *s)
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
	n = entries_build(set, s, keys, vals);
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
static int wait_for_packets(struct vsn_dp *dp)
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

	return (void *)(long)wait_for_packets(dp);
}

/* Does the slot hold a set? */
static int slot_used(struct vsn_dp *dp, __u32 slot, bool *ret_used)
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

static int active_slot(struct vsn_dp *dp, __u32 *ret)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(dp->map_fd[DP_MAP_ACTIVE], &zero, ret) ? -errno : 0;
}

int vsn_dp_set_apply(struct vsn_dp *dp, const struct vsn_dp_set *set, size_t *ret_bad)
{
	struct sorted *s = NULL;
	struct vsn_meta meta;
	struct timespec now;
	__u32 zero = 0, active, inactive;
	bool quiesce = false;
	pthread_t waiter;
	void *wr;
	int fd = -1, r;

	r = dp_lock(dp);
	if (r)
		return r;
	r = vsn_dp_meta(dp, &dp->meta);
	if (r)
		goto out;
	r = set_prepare(dp, set, &s, ret_bad);
	if (r)
		goto out;
	r = active_slot(dp, &active);
	if (r)
		goto out;
	inactive = !active;
	/*
	 * Packets that read the inactive slot before the last flip may still
	 * run (unless vsn_dp_set_trim() emptied it): wait for them while the
	 * new table is built, not after.
	 */
	r = slot_used(dp, inactive, &quiesce);
	if (r)
		goto out;
	if (quiesce) {
		r = -pthread_create(&waiter, NULL, wait_for_packets_thread, dp);
		if (r)
			goto out;
	}
	fd = table_create(set, s);
	if (fd >= 0)
		r = slbs_define(dp, set);
	if (quiesce) {
		pthread_join(waiter, &wr);
		if (!r)
			r = (int)(long)wr;
	}
	if (fd < 0) {
		r = fd;
		goto out;
	}
	if (r)
		goto out;
	if (bpf_map_update_elem(dp->map_fd[DP_MAP_POLICY_SLOTS], &inactive, &fd, BPF_ANY)) {
		r = -errno;
		goto out;
	}
	/* The flip: from here on, new packets see only the new set. */
	if (bpf_map_update_elem(dp->map_fd[DP_MAP_ACTIVE], &zero, &inactive, BPF_ANY)) {
		r = -errno;
		goto out;
	}
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
	if (fd >= 0)
		close(fd);
	free(s);
	dp_unlock(dp);
	return r;
}

int vsn_dp_set_trim(struct vsn_dp *dp)
{
	__u32 active, inactive;
	bool used;
	int r;

	r = dp_lock(dp);
	if (r)
		return r;
	r = active_slot(dp, &active);
	if (r)
		goto out;
	inactive = !active;
	r = slot_used(dp, inactive, &used);
	if (r || !used)
		goto out;
	/* Only once no packet can be inside the old set may it go. */
	r = wait_for_packets(dp);
	if (r)
		goto out;
	if (bpf_map_delete_elem(dp->map_fd[DP_MAP_POLICY_SLOTS], &inactive) && errno != ENOENT)
		r = -errno;
out:
	dp_unlock(dp);
	return r;
}

static int dest_emit(const struct vsn_policy_key *k, __u8 proto, __be16 port,
		     const struct vsn_dest *d, int (*cb)(const struct vsn_dp_policy *p, void *arg),
		     void *arg)
{
	struct vsn_dp_policy p = {
		.proto = proto,
		.port = ntohs(port),
		.slb_id = d->slb_id,
		.service_id = d->service_id,
		.policy_id = d->policy_id,
	};

	if (!(d->flags & VSN_DEST_VALID))
		return 0;
	vsn_addr_from_key(k->addr, &p.vip);
	return cb(&p, arg);
}

/* The policies one table entry holds, one callback each. */
static int entry_emit(const struct vsn_policy_key *k, const struct vsn_match *v,
		      int (*cb)(const struct vsn_dp_policy *p, void *arg), void *arg)
{
	int r;

	if (k->proto)
		return dest_emit(k, k->proto, k->port, &v->dest[0], cb, arg);
	for (int i = 0; i < VSN_VIP_PORT_SLOTS && v->ports[i].proto; i++) {
		r = dest_emit(k, v->ports[i].proto, v->ports[i].port, &v->ports[i].dest, cb, arg);
		if (r)
			return r;
	}
	r = dest_emit(k, IPPROTO_TCP, 0, &v->dest[VSN_L4_TCP], cb, arg);
	if (!r)
		r = dest_emit(k, IPPROTO_UDP, 0, &v->dest[VSN_L4_UDP], cb, arg);
	return r;
}

int vsn_dp_policies_foreach(struct vsn_dp *dp, int (*cb)(const struct vsn_dp_policy *p, void *arg),
			    void *arg)
{
	struct vsn_policy_key key, next;
	struct vsn_match val;
	__u32 zero = 0, active, id;
	void *prev = NULL;
	int fd, r = 0;

	if (bpf_map_lookup_elem(dp->map_fd[DP_MAP_ACTIVE], &zero, &active))
		return -errno;
	if (bpf_map_lookup_elem(dp->map_fd[DP_MAP_POLICY_SLOTS], &active, &id))
		return errno == ENOENT ? 0 : -errno;
	fd = bpf_map_get_fd_by_id(id);
	if (fd < 0)
		return -errno;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &val))
			continue;
		r = entry_emit(&key, &val, cb, arg);
		if (r)
			break;
	}
	close(fd);
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
	__u64 set = 0, total = 0, m;
	__u32 zero = 0, active, id;
	int fd, r;

	if (bpf_map_lookup_elem(dp->map_fd[DP_MAP_ACTIVE], &zero, &active))
		return -errno;
	if (!bpf_map_lookup_elem(dp->map_fd[DP_MAP_POLICY_SLOTS], &active, &id)) {
		fd = bpf_map_get_fd_by_id(id);
		if (fd < 0)
			return -errno;
		r = map_memlock(fd, &set);
		close(fd);
		if (r)
			return r;
	}
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
