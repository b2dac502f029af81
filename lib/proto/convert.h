/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PolicySet messages <-> struct vsn_dp_set (lib/dp/vsn_dp.h).
 *
 * The way in checks what can be checked without a forwarder, because the
 * peer may be hostile: counts bounded, addresses of their family's length,
 * enums and ranges, host bits of prefixes, one of slb_id and pool_id. What
 * needs the running forwarder or the whole set (capacities, duplicates,
 * references, families of ipip SLBs) stays with vsn_dp_set_validate().
 */
#ifndef VSN_PROTO_CONVERT_H
#define VSN_PROTO_CONVERT_H

#include <stddef.h>
#include <stdint.h>

#include "vsn.pb-c.h"
#include "vsn_dp.h"

/* Most entries of each kind one PolicySet may carry. */
#define VSN_PROTO_MAX_POLICIES (1u << 24)
#define VSN_PROTO_MAX_SLBS (1u << 16)
#define VSN_PROTO_MAX_POOLS (1u << 16)

/*
 * Convert msg into a set in one allocation: free it with
 * vsn_proto_set_free(). -E2BIG: more policies, SLBs or pools than the
 * VSN_PROTO_MAX_* (no index). -EINVAL: a malformed entry, named in *ret_bad
 * as vsn_dp_set_validate() counts (policies, then slbs, then pools; a bad
 * client rule names its policy, a bad member its pool), or a maglev_size
 * beyond VSN_MAGLEV_MAX_SIZE (*ret_bad untouched). -ENOMEM.
 */
int vsn_proto_set_from_msg(const Vsn__PolicySet *msg, struct vsn_dp_set **ret_set, size_t *ret_bad);
void vsn_proto_set_free(struct vsn_dp_set *set);

/*
 * vsn_proto_set_from_msg() of the serialized PolicySet in data, without
 * unpacking it whole: the top-level fields are read one at a time and each
 * policy, SLB and pool is unpacked by protobuf-c on its own, converted and
 * dropped, so memory stays at the set plus one entry (a 1,000,000-policy set
 * unpacked whole costs protobuf-c over 100 bytes per policy besides). The
 * result, and each error with its *ret_bad, are those of unpacking then
 * converting; -EBADMSG: bytes that protobuf-c would not unpack. *ret_hold:
 * the set's hold flag (may be NULL). Not reentrant (one static scratch
 * buffer): call it from one thread.
 */
int vsn_proto_set_from_bytes(const uint8_t *data, size_t len, struct vsn_dp_set **ret_set,
			     size_t *ret_bad, bool *ret_hold);

/*
 * Convert set into a message in one allocation (it copies everything):
 * free it with vsn_proto_msg_free(), never with
 * vsn__policy_set__free_unpacked(). -EINVAL: an address of no family (the
 * entry in *ret_bad, counted as above); -E2BIG; -ENOMEM.
 */
int vsn_proto_set_to_msg(const struct vsn_dp_set *set, Vsn__PolicySet **ret_msg, size_t *ret_bad);
void vsn_proto_msg_free(Vsn__PolicySet *msg);

/* A Nack code for a negative errno of the node, and back (a positive errno). */
Vsn__NackCode vsn_proto_nack_code(int err);
int vsn_proto_nack_errno(Vsn__NackCode code);

#endif /* VSN_PROTO_CONVERT_H */
