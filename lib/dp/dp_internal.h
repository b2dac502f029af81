/* SPDX-License-Identifier: Apache-2.0 */
/* What the library's modules share; not part of the public API. */
#ifndef VSN_DP_INTERNAL_H
#define VSN_DP_INTERNAL_H

#include <limits.h>

#include "vsn_dp.h"

enum dp_map {
	DP_MAP_ACTIVE,
	DP_MAP_META,
	DP_MAP_POLICY_SLOTS,
	DP_MAP_BARRIER,
	DP_MAP_SLBS,
	DP_MAP_TX_PORTS,
	DP_MAP_CNT_POLICY,
	DP_MAP_CNT_SLB,
	DP_MAP_CNT_SERVICE,
	DP_MAP_CNT_REASON,
	DP_MAP_CONFIG,
	DP_MAP_MAX,
};

/* Map names as in bpf/maps.h; also their pin names. */
extern const char *const dp_map_names[DP_MAP_MAX];

struct vsn_dp {
	char pin_dir[PATH_MAX];
	int dir_fd; /* flock()ed around every change, so two writers never interleave */
	int prog_fd;
	int map_fd[DP_MAP_MAX];
	struct vsn_meta meta; /* capacities as loaded */
	int ncpus;
};

int dp_lock(struct vsn_dp *dp);
void dp_unlock(struct vsn_dp *dp);
int dp_meta_write(struct vsn_dp *dp, const struct vsn_meta *meta);

/* Check slb and make its table entry (next hop unresolved unless static). */
int dp_slb_entry(const struct vsn_dp *dp, const struct vsn_dp_slb *slb, struct vsn_slb *ret);
/*
 * Resolve the next hops of n entries together, waiting about a second at
 * most in all; results[i] is 0, or why entry i stays unresolved.
 */
void dp_slbs_resolve(struct vsn_slb *e, size_t n, int *results);
/* Write one entry (its egress into the devmap first); the caller holds the lock. */
int dp_slb_write(struct vsn_dp *dp, __u32 id, const struct vsn_slb *slb);

#endif /* VSN_DP_INTERNAL_H */
