/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SLB table: one entry per SLB id, outside generations, with each SLB's
 * state and resolved next hop. Entries are rewritten whole; only the state
 * or the next hop of an SLB ever changes under traffic.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/in.h>
#include <bpf/bpf.h>

#include "dp_internal.h"
#include "nexthop.h"

#define RESOLVE_TIMEOUT_MS 1000

static const char *const state_names[] = {
	[VSN_SLB_UP] = "up",
	[VSN_SLB_DOWN] = "down",
	[VSN_SLB_DRAIN] = "drain",
};

static const char *const forward_names[] = {
	[VSN_FORWARD_L2] = "l2",
	[VSN_FORWARD_IPIP] = "ipip",
	[VSN_FORWARD_GUE] = "gue",
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

const char *vsn_slb_state_name(enum vsn_slb_state state)
{
	return (unsigned)state < ARRAY_SIZE(state_names) ? state_names[state] : "?";
}

int vsn_slb_state_parse(const char *s, enum vsn_slb_state *ret_state)
{
	for (size_t i = 0; i < ARRAY_SIZE(state_names); i++)
		if (!strcmp(s, state_names[i])) {
			*ret_state = i;
			return 0;
		}
	return -EINVAL;
}

const char *vsn_forward_name(enum vsn_forward fwd)
{
	return (unsigned)fwd < ARRAY_SIZE(forward_names) ? forward_names[fwd] : "?";
}

int vsn_forward_parse(const char *s, enum vsn_forward *ret_fwd)
{
	for (size_t i = 0; i < ARRAY_SIZE(forward_names); i++)
		if (!strcmp(s, forward_names[i])) {
			*ret_fwd = i;
			return 0;
		}
	return -EINVAL;
}

static int slb_read(struct vsn_dp *dp, __u32 id, struct vsn_slb *ret)
{
	if (id == 0 || id >= dp->meta.max_slbs)
		return -ERANGE;
	return bpf_map_lookup_elem(dp->map_fd[DP_MAP_SLBS], &id, ret) ? -errno : 0;
}

int dp_slb_write(struct vsn_dp *dp, __u32 id, const struct vsn_slb *slb)
{
	__u32 ifindex = slb->ifindex;

	/* The egress must be in the devmap before any packet is sent there. */
	if ((slb->flags & VSN_SLB_RESOLVED) &&
	    bpf_map_update_elem(dp->map_fd[DP_MAP_TX_PORTS], &ifindex, &ifindex, BPF_ANY))
		return -errno;
	return bpf_map_update_elem(dp->map_fd[DP_MAP_SLBS], &id, slb, BPF_ANY) ? -errno : 0;
}

/* Sorts __u32s ascending. */
static int u32_cmp(const void *a, const void *b)
{
	const __u32 *x = a, *y = b;

	return (*x > *y) - (*x < *y);
}

int dp_slbs_write(struct vsn_dp *dp, const __u32 *ids, const struct vsn_slb *e, size_t n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	__u32 *egress, count = (__u32)n;
	size_t ne = 0;
	int r = 0;

	if (!n)
		return 0;
	egress = calloc(n, sizeof(*egress));
	if (!egress)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (e[i].flags & VSN_SLB_RESOLVED)
			egress[ne++] = e[i].ifindex;
	/* Each egress once (a set's SLBs share a few), and before any entry that sends there. */
	qsort(egress, ne, sizeof(*egress), u32_cmp);
	for (size_t i = 0; i < ne && !r; i++)
		if ((!i || egress[i] != egress[i - 1]) &&
		    bpf_map_update_elem(dp->map_fd[DP_MAP_TX_PORTS], &egress[i], &egress[i],
					BPF_ANY))
			r = -errno;
	if (!r && bpf_map_update_batch(dp->map_fd[DP_MAP_SLBS], ids, e, &count, &bo))
		r = -errno;
	free(egress);
	return r;
}

int dp_slbs_read(struct vsn_dp *dp, const __u32 *ids, size_t n, struct vsn_slb *ret)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	struct vsn_slb *range = NULL;
	__u32 lo = UINT32_MAX, hi = 0, count, in, out, *keys = NULL;
	int r = 0;

	for (size_t i = 0; i < n; i++) {
		if (!ids[i] || ids[i] >= dp->meta.max_slbs)
			return -ERANGE;
		lo = ids[i] < lo ? ids[i] : lo;
		hi = ids[i] > hi ? ids[i] : hi;
	}
	/*
	 * A lookup is a syscall; a batch copies a whole range of ids in one,
	 * about three entries for the price of one lookup: worth it when the
	 * ids are dense.
	 */
	if (n < 8 || (size_t)(hi - lo) + 1 > 2 * n) {
		for (size_t i = 0; i < n; i++)
			if (bpf_map_lookup_elem(dp->map_fd[DP_MAP_SLBS], &ids[i], &ret[i]))
				return -errno;
		return 0;
	}
	count = hi - lo + 1;
	range = calloc(count, sizeof(*range));
	keys = calloc(count, sizeof(*keys));
	if (!range || !keys) {
		r = -ENOMEM;
		goto out;
	}
	/* The batch starts after in: ids are 1.., so lo - 1 is an id too. */
	in = lo - 1;
	if (bpf_map_lookup_batch(dp->map_fd[DP_MAP_SLBS], &in, &out, keys, range, &count, &bo) &&
	    errno != ENOENT)
		r = -errno;
	else if (count != hi - lo + 1)
		r = -EIO;
	for (size_t i = 0; i < n && !r; i++)
		ret[i] = range[ids[i] - lo];
out:
	free(range);
	free(keys);
	return r;
}

/* One attempt at e's next hop, waiting timeout_ms at most; e unresolved on failure. */
static int slb_resolve(struct vsn_slb *e, int timeout_ms)
{
	struct vsn_nexthop nh;
	struct vsn_addr a;
	int r;

	vsn_addr_from_key(e->addr, &a);
	r = vsn_nexthop_resolve(&a, timeout_ms, &nh);
	if (r) {
		e->flags &= ~VSN_SLB_RESOLVED;
		return r;
	}
	/* l2 keeps the IP header: only an on-link SLB can take the frame. */
	if (e->forward == VSN_FORWARD_L2 && nh.gateway) {
		e->flags &= ~VSN_SLB_RESOLVED;
		return -EDESTADDRREQ;
	}
	e->ifindex = nh.ifindex;
	e->mtu = nh.mtu;
	memcpy(e->dmac, nh.dmac, 6);
	memcpy(e->smac, nh.smac, 6);
	e->flags |= VSN_SLB_RESOLVED;
	return 0;
}

void dp_slbs_resolve(struct vsn_slb *e, size_t n, int *results)
{
	bool pending = false;

	/* Ask for every next hop first, then wait for all of them at once. */
	for (size_t i = 0; i < n; i++) {
		results[i] = e[i].flags & VSN_SLB_STATIC ? 0 : slb_resolve(&e[i], 0);
		pending |= results[i] == -ETIMEDOUT;
	}
	for (int waited = 0; pending && waited < RESOLVE_TIMEOUT_MS; waited += 10) {
		usleep(10 * 1000);
		pending = false;
		for (size_t i = 0; i < n; i++) {
			if (results[i] != -ETIMEDOUT)
				continue;
			results[i] = slb_resolve(&e[i], 0);
			pending |= results[i] == -ETIMEDOUT;
		}
	}
}

int dp_slb_entry(const struct vsn_dp *dp, const struct vsn_dp_slb *slb, struct vsn_slb *ret)
{
	struct vsn_slb e = {0};

	if (slb->id == 0 || slb->id >= dp->meta.max_slbs)
		return -ERANGE;
	if ((slb->addr.family != AF_INET && slb->addr.family != AF_INET6) ||
	    vsn_addr_is_v4mapped(&slb->addr) ||
	    (unsigned)slb->forward >= ARRAY_SIZE(forward_names) ||
	    (unsigned)slb->state >= ARRAY_SIZE(state_names) ||
	    (slb->nexthop_static && !slb->ifindex))
		return -EINVAL;
	vsn_addr_to_key(&slb->addr, e.addr);
	e.forward = slb->forward;
	e.state = slb->state;
	e.flags = VSN_SLB_DEFINED;
	if (slb->nexthop_static) {
		e.ifindex = slb->ifindex;
		e.mtu = slb->mtu;
		memcpy(e.dmac, slb->dmac, 6);
		memcpy(e.smac, slb->smac, 6);
		e.flags |= VSN_SLB_RESOLVED | VSN_SLB_STATIC;
	}
	*ret = e;
	return 0;
}

/*
 * Write an entry; when the SLB moves between up and not up, rebuild the
 * running set's Maglev tables around it. Locked by the caller.
 */
static int slb_write_rebuild(struct vsn_dp *dp, __u32 id, const struct vsn_slb *e)
{
	struct vsn_slb old;
	bool was_up;
	int r;

	r = slb_read(dp, id, &old);
	if (r)
		return r;
	was_up = (old.flags & VSN_SLB_DEFINED) && old.state == VSN_SLB_UP;
	r = dp_slb_write(dp, id, e);
	if (!r && was_up != (e->state == VSN_SLB_UP))
		r = dp_tables_rebuild(dp);
	return r;
}

int vsn_dp_slb_set(struct vsn_dp *dp, const struct vsn_dp_slb *slb)
{
	struct vsn_slb e;
	int r, rr;

	r = dp_slb_entry(dp, slb, &e);
	if (r)
		return r;
	dp_slbs_resolve(&e, 1, &rr);
	r = dp_lock(dp);
	if (r)
		return r;
	r = slb_write_rebuild(dp, slb->id, &e);
	dp_unlock(dp);
	return r ? r : rr;
}

int vsn_dp_slb_set_state(struct vsn_dp *dp, __u32 id, enum vsn_slb_state state)
{
	struct vsn_slb e;
	int r;

	if ((unsigned)state >= ARRAY_SIZE(state_names))
		return -EINVAL;
	r = dp_lock(dp);
	if (r)
		return r;
	r = slb_read(dp, id, &e);
	if (!r && !(e.flags & VSN_SLB_DEFINED))
		r = -ENOENT;
	if (!r) {
		e.state = state;
		r = slb_write_rebuild(dp, id, &e);
	}
	dp_unlock(dp);
	return r;
}

int vsn_dp_slb_get(struct vsn_dp *dp, __u32 id, struct vsn_slb *ret_slb)
{
	struct vsn_slb e;
	int r;

	r = slb_read(dp, id, &e);
	if (r)
		return r;
	if (!(e.flags & VSN_SLB_DEFINED))
		return -ENOENT;
	*ret_slb = e;
	return 0;
}

int vsn_dp_slbs_foreach(struct vsn_dp *dp,
			int (*cb)(__u32 id, const struct vsn_slb *slb, void *arg), void *arg)
{
	struct vsn_slb e;
	int r;

	for (__u32 id = 1; id < dp->meta.max_slbs; id++) {
		r = slb_read(dp, id, &e);
		if (r)
			return r;
		if (!(e.flags & VSN_SLB_DEFINED))
			continue;
		r = cb(id, &e, arg);
		if (r)
			return r;
	}
	return 0;
}

int vsn_dp_slbs_refresh(struct vsn_dp *dp, unsigned int *ret_changed)
{
	struct vsn_slb *e = NULL, *old = NULL, cur;
	unsigned int changed = 0;
	__u32 *ids = NULL;
	int *res = NULL;
	size_t n = 0;
	int r = 0;

	e = calloc(dp->meta.max_slbs, sizeof(*e));
	old = calloc(dp->meta.max_slbs, sizeof(*old));
	ids = calloc(dp->meta.max_slbs, sizeof(*ids));
	res = calloc(dp->meta.max_slbs, sizeof(*res));
	if (!e || !old || !ids || !res) {
		r = -ENOMEM;
		goto out;
	}
	for (__u32 id = 1; id < dp->meta.max_slbs; id++) {
		r = slb_read(dp, id, &e[n]);
		if (r)
			goto out;
		if (!(e[n].flags & VSN_SLB_DEFINED) || (e[n].flags & VSN_SLB_STATIC))
			continue;
		old[n] = e[n];
		ids[n++] = id;
	}
	dp_slbs_resolve(e, n, res);
	r = dp_lock(dp);
	if (r)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (!memcmp(&old[i], &e[i], sizeof(e[i])))
			continue;
		/* Keep a state that changed while we resolved. */
		if (!slb_read(dp, ids[i], &cur))
			e[i].state = cur.state;
		r = dp_slb_write(dp, ids[i], &e[i]);
		if (r)
			break;
		changed++;
	}
	dp_unlock(dp);
	for (size_t i = 0; !r && i < n; i++)
		if (res[i])
			r = res[i];
	if (ret_changed)
		*ret_changed = changed;
out:
	free(e);
	free(old);
	free(ids);
	free(res);
	return r;
}
