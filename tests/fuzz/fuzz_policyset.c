/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for PolicySet unpacking and its conversion into a
 * vsn_dp_set: a hostile controller's bytes must be refused or give a set
 * that converts back into an equal message, never a crash, a leak or
 * undefined behaviour; and the streaming decoder (vsn_proto_set_from_bytes)
 * must give exactly what unpacking whole and converting gives.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"

/* Two sets hold the same entries (pointers aside). */
static int sets_equal(const struct vsn_dp_set *a, const struct vsn_dp_set *b)
{
	if (a->generation != b->generation || a->n_policies != b->n_policies ||
	    a->n_slbs != b->n_slbs || a->n_pools != b->n_pools ||
	    a->maglev_size != b->maglev_size || a->hash_seed != b->hash_seed)
		return 0;
	for (size_t i = 0; i < a->n_policies; i++) {
		struct vsn_dp_policy x = a->policies[i], y = b->policies[i];

		if (x.n_clients != y.n_clients ||
		    (x.n_clients && memcmp(x.clients, y.clients, x.n_clients * sizeof(*x.clients))))
			return 0;
		x.clients = y.clients = NULL;
		if (memcmp(&x, &y, sizeof(x)))
			return 0;
	}
	if (a->n_slbs && memcmp(a->slbs, b->slbs, a->n_slbs * sizeof(*a->slbs)))
		return 0;
	for (size_t i = 0; i < a->n_pools; i++)
		if (a->pools[i].id != b->pools[i].id ||
		    a->pools[i].n_members != b->pools[i].n_members ||
		    memcmp(a->pools[i].members, b->pools[i].members,
			   a->pools[i].n_members * sizeof(*a->pools[i].members)))
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Vsn__PolicySet *msg = vsn__policy_set__unpack(NULL, size, data), *back;
	struct vsn_dp_set *set = NULL, *again = NULL, *streamed = NULL;
	size_t bad = SIZE_MAX, bad2 = SIZE_MAX;
	bool hold = false;
	int r, r2;

	/* The streaming decoder must agree with unpacking whole, then converting. */
	r2 = vsn_proto_set_from_bytes(data, size, &streamed, &bad2, &hold);
	if (!msg) {
		if (r2 != -EBADMSG)
			abort();
		return 0;
	}
	r = vsn_proto_set_from_msg(msg, &set, &bad);
	if (r2 != r || (r == -EINVAL && bad2 != bad))
		abort();
	if (!r && (!sets_equal(set, streamed) || hold != msg->hold))
		abort();
	vsn_proto_set_free(streamed);
	if (r) {
		if (r != -EINVAL && r != -E2BIG)
			abort();
		if (r == -EINVAL && bad != SIZE_MAX &&
		    bad >= msg->n_policies + msg->n_slbs + msg->n_pools)
			abort();
		goto out;
	}
	/* What was accepted goes back out and in again unchanged. */
	if (vsn_proto_set_to_msg(set, &back, NULL))
		abort();
	if (vsn_proto_set_from_msg(back, &again, NULL))
		abort();
	if (again->n_policies != set->n_policies || again->n_slbs != set->n_slbs ||
	    again->n_pools != set->n_pools || again->generation != set->generation)
		abort();
	for (size_t i = 0; i < set->n_policies; i++)
		if (again->policies[i].n_clients != set->policies[i].n_clients ||
		    memcmp(&again->policies[i].vip, &set->policies[i].vip,
			   sizeof(set->policies[i].vip)))
			abort();
	vsn_proto_set_free(again);
	vsn_proto_msg_free(back);
out:
	vsn_proto_set_free(set);
	vsn__policy_set__free_unpacked(msg, NULL);
	return 0;
}
