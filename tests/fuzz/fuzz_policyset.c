/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for PolicySet unpacking and its conversion into a
 * vsn_dp_set: a hostile controller's bytes must be refused or give a set
 * that converts back into an equal message, never a crash, a leak or
 * undefined behaviour.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Vsn__PolicySet *msg = vsn__policy_set__unpack(NULL, size, data), *back;
	struct vsn_dp_set *set = NULL, *again = NULL;
	size_t bad = SIZE_MAX;
	int r;

	if (!msg)
		return 0;
	r = vsn_proto_set_from_msg(msg, &set, &bad);
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
