/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Maglev table population with weights.
 *
 * As in the paper, members take turns; on its turn a member walks its own
 * permutation (offset + j * skip) mod m from where it stopped and takes the
 * first free entry. The table is full after exactly m turns, so a member's
 * entry count is the number of turns it gets, and the weighting is only a
 * matter of how many turns each member gets and in which order:
 *
 * 1. How many: member i's turn count t_i is fixed up front by largest
 *    remainders (Hamilton): t_i = floor(m * w_i / W), and the m - sum(t_i)
 *    turns left over (fewer than N) go one each to the members with the
 *    largest remainders (m * w_i) mod W, ties to the lower slb id. So t_i is
 *    floor(s_i) or ceil(s_i) of the exact share s_i = m * w_i / W, and
 *    sum(t_i) = m. Integer arithmetic only.
 * 2. In which order: member i takes its turns at the times (2k + 1) * P_i,
 *    k = 0..t_i-1, with P_i = floor(2^32 / w_i) (a member claims entries at
 *    a rate proportional to its weight, from the start to the end of the
 *    build); turns are taken in time order, ties to the lower slb id. With
 *    equal weights that is the paper's round robin in slb id order. A
 *    member's times depend on its own weight only, so adding or removing a
 *    member inserts or deletes its turns and leaves the others' order as it
 *    was: the property that keeps Maglev's disruption small.
 *
 * Compared with the common scheme of rounds in which a member takes a turn
 * when its credit reaches the largest weight, this puts every member within
 * one entry of its share (the rounds can miss a heavy member's share by up to
 * about N * w_i / W entries: light members of equal weight get their turns in
 * the same rounds, so where in the cycle the table fills decides all their
 * counts at once) and costs O(m log N) whatever the weights (the rounds cost
 * O(N) each, and up to m of them when one weight dwarfs the others).
 *
 * Disruption, measured at m = 65,537 (tests/unit/test_maglev.c asserts a
 * bound): removing or adding one member moves its own entries plus,
 * typically, 0.03% (N = 3) to 0.6% (N >= 100) of m others; rarely up to
 * about 2.5% when two members' permutations are correlated (one skip a small
 * multiple of the other), as in the paper's scheme. Removing a member with a
 * large share moves more: a member with 9% of a 1,024-member pool moves
 * about 0.45 times its own entries again.
 *
 * Finding a free entry: the j-th entry filled costs about m / (m - j) steps
 * of add-and-wrap, about m ln m steps in all (0.7 M at 65,537). 1,024
 * members at m = 65,537 build in about 2.5 ms on a 2-CPU EPYC VM.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>

#include "vsn/hash.h"
#include "maglev.h"

/* Never an index into the active members (there are at most 1,024). */
#define OWNER_EMPTY 0xffff

/*
 * A member's next turn as one integer: its time above, its index below, so
 * that ties go to the lower index (the lower slb id). The time is below
 * 2 m * 2^32 < 2^53, the key below 2^63.
 */
#define KEY_IDX_BITS 10

_Static_assert(VSN_MAGLEV_MAX_MEMBERS < OWNER_EMPTY, "member indices fit the owner table");
_Static_assert(VSN_MAGLEV_MAX_MEMBERS <= 1 << KEY_IDX_BITS, "member indices fit turn keys");
_Static_assert(2ULL * VSN_MAGLEV_MAX_SIZE < 1ULL << (63 - 32 - KEY_IDX_BITS), "turn keys fit");

struct mg_member {
	__u32 slb_id;
	__u32 weight;
	__u32 pos;   /* next entry of its permutation to try */
	__u32 skip;  /* permutation step, 1..m-1 */
	__u32 turns; /* entries it gets in all */
	__u32 taken; /* entries it has */
	__u64 step;  /* time between its turns (2 P_i), in key units */
};

struct mg_rank {
	__u64 rem;
	__u32 idx;
};

void vsn_maglev_offset_skip(__u32 slb_id, __u32 seed, __u32 m, __u32 *offset, __u32 *skip)
{
	/* Two independent hashes of the id: the second word tells them apart. */
	*offset = vsn_jhash_2words(slb_id, 0, seed) % m;
	*skip = vsn_jhash_2words(slb_id, 1, seed) % (m - 1) + 1;
}

bool vsn_maglev_is_prime(__u32 m)
{
	if (m < 2)
		return false;
	if (m % 2 == 0)
		return m == 2;
	for (__u32 d = 3; d <= m / d; d += 2) {
		if (m % d == 0)
			return false;
	}
	return true;
}

__u32 vsn_maglev_lookup(const __u32 *table, __u32 m, __u32 hash)
{
	return table[vsn_maglev_slot(hash, m)];
}

static int cmp_slb_id(const void *a, const void *b)
{
	const struct mg_member *x = a, *y = b;

	return (x->slb_id > y->slb_id) - (x->slb_id < y->slb_id);
}

/* Larger remainder first, then the lower index (the lower slb id). */
static int cmp_rank(const void *a, const void *b)
{
	const struct mg_rank *x = a, *y = b;

	if (x->rem != y->rem)
		return x->rem < y->rem ? 1 : -1;
	return (x->idx > y->idx) - (x->idx < y->idx);
}

/* Step 1: turns per member, largest remainders. */
static int apportion(struct mg_member *mg, size_t k, __u32 m)
{
	struct mg_rank *rank;
	__u64 total = 0, left = m;

	rank = calloc(k, sizeof(*rank));
	if (!rank)
		return -ENOMEM;
	for (size_t i = 0; i < k; i++)
		total += mg[i].weight;
	for (size_t i = 0; i < k; i++) {
		__u64 share = (__u64)m * mg[i].weight;

		mg[i].turns = share / total;
		left -= mg[i].turns;
		rank[i].rem = share % total;
		rank[i].idx = i;
	}
	/* sum(floor) > m - k, so fewer than k turns are left over. */
	qsort(rank, k, sizeof(*rank), cmp_rank);
	for (size_t i = 0; i < left; i++)
		mg[rank[i].idx].turns++;
	free(rank);
	return 0;
}

/* Move heap[i] down to its place. Picking the smaller child needs no branch. */
static void sift_down(__u64 *heap, size_t len, size_t i)
{
	__u64 key = heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= len)
			break;
		c += c + 1 < len && heap[c + 1] < heap[c];
		if (heap[c] >= key)
			break;
		heap[i] = heap[c];
		i = c;
	}
	heap[i] = key;
}

/* Step 2: m turns in time order, each taking the member's next free entry. */
static void populate(struct mg_member *mg, size_t k, __u32 m, __u64 *heap, __u16 *owner)
{
	size_t len = 0;

	for (size_t i = 0; i < k; i++) {
		__u64 period = (1ULL << 32) / mg[i].weight;

		mg[i].step = (2 * period) << KEY_IDX_BITS;
		if (mg[i].turns)
			heap[len++] = (period << KEY_IDX_BITS) | i;
	}
	for (size_t i = len / 2; i-- > 0;)
		sift_down(heap, len, i);

	/* sum(turns) == m: the heap empties exactly when the table is full. */
	while (len) {
		__u32 idx = heap[0] & ((1U << KEY_IDX_BITS) - 1);
		struct mg_member *p = &mg[idx];
		__u32 pos = p->pos;

		/* Terminates: an entry is free and the permutation visits them all. */
		while (owner[pos] != OWNER_EMPTY) {
			pos += p->skip;
			if (pos >= m)
				pos -= m;
		}
		owner[pos] = idx;
		pos += p->skip;
		if (pos >= m)
			pos -= m;
		p->pos = pos;
		if (++p->taken == p->turns)
			heap[0] = heap[--len];
		else
			heap[0] += p->step;
		sift_down(heap, len, 0);
	}
}

int vsn_maglev_build(const struct vsn_maglev_member *members, size_t n, __u32 m, __u32 seed,
		     __u32 *ret_table)
{
	struct mg_member *mg = NULL;
	__u64 *heap = NULL;
	__u16 *owner = NULL;
	size_t k = 0;
	int r;

	if (!members || !ret_table || n == 0 || n > VSN_MAGLEV_MAX_MEMBERS)
		return -EINVAL;
	if (m <= n || m > VSN_MAGLEV_MAX_SIZE || !vsn_maglev_is_prime(m))
		return -EINVAL;

	mg = calloc(n, sizeof(*mg));
	heap = calloc(n, sizeof(*heap));
	owner = malloc((size_t)m * sizeof(*owner));
	if (!mg || !heap || !owner) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		mg[i].slb_id = members[i].slb_id;
		mg[i].weight = members[i].weight;
	}
	/* The table must not depend on the order the caller lists members in. */
	qsort(mg, n, sizeof(*mg), cmp_slb_id);
	for (size_t i = 1; i < n; i++) {
		if (mg[i].slb_id == mg[i - 1].slb_id) {
			r = -EEXIST;
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (mg[i].weight)
			mg[k++] = mg[i];
	}
	if (k == 0) {
		r = -EINVAL;
		goto out;
	}

	r = apportion(mg, k, m);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < k; i++)
		vsn_maglev_offset_skip(mg[i].slb_id, seed, m, &mg[i].pos, &mg[i].skip);
	memset(owner, 0xff, (size_t)m * sizeof(*owner));
	populate(mg, k, m, heap, owner);

	for (__u32 j = 0; j < m; j++)
		ret_table[j] = mg[owner[j]].slb_id;
	r = 0;
out:
	free(owner);
	free(heap);
	free(mg);
	return r;
}
