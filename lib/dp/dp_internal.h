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
	DP_MAP_MAGLEV_SLOTS,
	DP_MAP_SLOT_INFO,
	DP_MAP_FLOWS,
	DP_MAP_FLOW_BUDGET,
	DP_MAP_CNT_FLOW,
	DP_MAP_PREFIX_SLOTS,
	DP_MAP_CLIENT_SLOTS,
	DP_MAP_FRAGS,
	DP_MAP_REPLY_SCRATCH,
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
/*
 * Write n entries at once (e[i] for ids[i], ids unique; every egress into
 * the devmap first); the caller holds the lock.
 */
int dp_slbs_write(struct vsn_dp *dp, const __u32 *ids, const struct vsn_slb *e, size_t n);
/* The table entries of ids (in any order, repeats allowed) into ret[0..n). */
int dp_slbs_read(struct vsn_dp *dp, const __u32 *ids, size_t n, struct vsn_slb *ret);

/* What set validation and table builds know of an SLB id. */
#define SLB_KNOWN 0x1	/* looked up */
#define SLB_DEFINED 0x2 /* exists (in the set or on the node) */
#define SLB_IPIP 0x4	/* forwards by ipip or gue: its own family only */
#define SLB_IPV6 0x8	/* has an IPv6 address */
#define SLB_UP 0x10	/* state up: takes new flows */

__u8 dp_slb_facts(const struct vsn_slb *e);

/* The maps one generation is made of, as the slot holds them. */
struct dp_gen {
	int policies; /* fd of the policy hash */
	int maglev;   /* fd of the Maglev tables, then the pool definitions */
	int prefixes; /* fd of the VIP-prefix trie; -1 without (info.active_flags) */
	int clients;  /* fd of the client-rule trie; -1 without */
	struct vsn_slot_info info;
};

#define DP_GEN_INIT             \
	{                       \
		-1, -1, -1, -1, \
		{               \
			0       \
		}               \
	}

/* A fresh LPM trie of n entries (n >= 1); its fd or a negative errno. */
int dp_lpm_create(const char *name, __u32 key_size, __u32 value_size, const void *keys,
		  const void *vals, size_t n);
/*
 * Every entry of an LPM trie: *ret_keys and *ret_vals, arrays the caller
 * frees.
 */
int dp_lpm_read(int fd, __u32 key_size, __u32 value_size, void **ret_keys, void **ret_vals,
		size_t *ret_n);

/*
 * A fresh Maglev map for pools: their tables (members whose facts lack
 * SLB_UP get no entries, unless none is up), then their definitions.
 * Returns the map's fd or a negative errno.
 */
int dp_maglev_create(const struct vsn_dp_pool *pools, size_t n, __u32 m, __u32 seed,
		     const __u8 *facts);
/* Read the pool definitions of a generation back; free with dp_pools_free(). */
int dp_pooldefs_read(const struct dp_gen *g, struct vsn_dp_pool **ret, size_t *ret_n);
void dp_pools_free(struct vsn_dp_pool *pools, size_t n);

int dp_active_slot(struct vsn_dp *dp, __u32 *ret);
/* The active generation's maps (fds the caller closes) and info. */
int dp_gen_open(struct vsn_dp *dp, __u32 slot, struct dp_gen *ret);
/* dp_gen_open of the active slot; -ENOENT when no set runs. */
int dp_gen_open_running(struct vsn_dp *dp, struct dp_gen *ret);
void dp_gen_close(struct dp_gen *g);
/*
 * Put g in the slot after `active` and flip to it. Unless quiesced (the
 * caller already waited), first waits for packets still in that slot. The
 * caller holds the lock.
 */
int dp_gen_install(struct vsn_dp *dp, __u32 active, const struct dp_gen *g, bool quiesced);
/* dp_gen_install in two steps: fill the inactive slot (invisible), then flip. */
int dp_gen_stage(struct vsn_dp *dp, __u32 active, const struct dp_gen *g, bool quiesced);
int dp_gen_flip(struct vsn_dp *dp, __u32 active, const struct dp_gen *g);
/* Does the slot hold a generation? */
int dp_slot_used(struct vsn_dp *dp, __u32 slot, bool *ret_used);
/* Rebuild the running set's tables from the current SLB states; locked. */
int dp_tables_rebuild(struct vsn_dp *dp);
int dp_wait_for_packets(struct vsn_dp *dp);

#endif /* VSN_DP_INTERNAL_H */
