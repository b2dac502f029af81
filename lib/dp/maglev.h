/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Maglev lookup tables (Eisenbud et al., "Maglev: A Fast and Reliable
 * Software Network Load Balancer", NSDI 2016) for SLB pools with weights.
 *
 * The table is a pure function of (members as a set, m, seed): every node
 * that builds it from the same member list gets the same bytes, whatever
 * the order of the list. The forwarder picks
 *     table[vsn_maglev_slot(vsn_flow_hash(...), m)]      (include/vsn/hash.h)
 *
 * Changing the algorithm, the member hashes or the weighting changes the
 * tables, so nodes of different versions would send a flow to different SLBs:
 * tests/unit/test_maglev.c pins a table to catch that.
 */
#ifndef VSN_MAGLEV_H
#define VSN_MAGLEV_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

/* Most members a pool holds. */
#define VSN_MAGLEV_MAX_MEMBERS 1024
/* Default table size: a prime, about 64 entries per member at the maximum. */
#define VSN_MAGLEV_DEFAULT_SIZE 65537
/* Largest table size accepted (a prime). */
#define VSN_MAGLEV_MAX_SIZE 1000003

struct vsn_maglev_member {
	__u32 slb_id;
	__u32 weight; /* 0: absent (the member gets no entry) */
};

/*
 * Fill ret_table[0..m-1] with the SLB ids of a Maglev table over members.
 *
 * members: n entries, 1 <= n <= VSN_MAGLEV_MAX_MEMBERS, slb ids unique;
 *     their order does not matter. Weight 0 marks a member as absent (it is
 *     validated, then left out); at least one weight must be non-zero.
 * m: the table size, a prime with n < m <= VSN_MAGLEV_MAX_SIZE.
 * seed: the cluster's Maglev seed (moves each member's permutation).
 *
 * Weights: with W the sum of the weights, member i's exact share is
 * s_i = m * w_i / W entries, and it gets floor(s_i) or ceil(s_i) entries
 * (largest remainders first, ties to the lower slb id): never a whole entry
 * away from its share. With equal weights that is floor(m/N) or ceil(m/N).
 * A member whose share is below one entry may get none.
 *
 * Returns 0, -EINVAL (n, m, a pointer, or all weights 0), -EEXIST (an slb id
 * twice) or -ENOMEM. ret_table is untouched on failure.
 */
int vsn_maglev_build(const struct vsn_maglev_member *members, size_t n, __u32 m, __u32 seed,
		     __u32 *ret_table);

/* table[hash mod m]: the SLB the forwarder picks for a flow hash. */
__u32 vsn_maglev_lookup(const __u32 *table, __u32 m, __u32 hash);

/*
 * A member's permutation of the table: its j-th preferred entry is
 * (offset + j * skip) mod m. offset is in 0..m-1, skip in 1..m-1, so the
 * permutation visits every entry when m is prime. Depends on the slb id,
 * seed and m only, not on the other members: that is what keeps most entries
 * in place when a member comes or goes. Precondition: m >= 2.
 */
void vsn_maglev_offset_skip(__u32 slb_id, __u32 seed, __u32 m, __u32 *offset, __u32 *skip);

/* Whether m is a prime (trial division: meant for m <= VSN_MAGLEV_MAX_SIZE). */
bool vsn_maglev_is_prime(__u32 m);

#endif /* VSN_MAGLEV_H */
