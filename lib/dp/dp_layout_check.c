/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Compile-time checks of include/vsn/layout.h: the BPF side computes the same
 * sizes from the same header; a change that moves them must bump
 * VSN_LAYOUT_VERSION (the pinned maps of a running node have the old ones).
 */
#include <linux/types.h>

#include "vsn/layout.h"

_Static_assert(sizeof(struct vsn_policy_key) == 20, "vsn_policy_key size");
_Static_assert(sizeof(struct vsn_dest) == 16, "vsn_dest size");
_Static_assert(sizeof(struct vsn_port_dest) == 20, "vsn_port_dest size");
_Static_assert(sizeof(struct vsn_match) == 120, "vsn_match size");
_Static_assert(sizeof(struct vsn_slb) == 40, "vsn_slb size");
_Static_assert(sizeof(struct vsn_config) == 32, "vsn_config size");
_Static_assert(sizeof(struct vsn_decap_key) == 16, "vsn_decap_key size");
_Static_assert(sizeof(struct vsn_decap_fast) == 144, "vsn_decap_fast size");
_Static_assert(sizeof(struct vsn_decap_config) == 4, "vsn_decap_config size");
_Static_assert(VSN_DECAP_LAYOUT_VERSION == 3, "bump the asserts with the decap layout");
_Static_assert(sizeof(struct vsn_counter) == 16, "vsn_counter size");
_Static_assert(sizeof(struct vsn_meta) == 40, "vsn_meta size");
_Static_assert(VSN_REASON_MAX <= 64, "reasons fit a u64 bitmap");
_Static_assert(sizeof(struct vsn_slot_info) == 20, "vsn_slot_info size");
_Static_assert(sizeof(struct vsn_prefix_key) == 20, "vsn_prefix_key size");
_Static_assert(sizeof(struct vsn_client_key) == 24, "vsn_client_key size");
_Static_assert(sizeof(struct vsn_prefix_match) == 144, "vsn_prefix_match size");
_Static_assert(sizeof(struct vsn_flow_key) == 40, "vsn_flow_key size");
_Static_assert(sizeof(struct vsn_flow) == 8, "vsn_flow size");
_Static_assert(sizeof(struct vsn_frag_key) == 40, "vsn_frag_key size");
_Static_assert(sizeof(struct vsn_frag) == 16, "vsn_frag size");
_Static_assert(sizeof(struct vsn_pool_word) == 8, "vsn_pool_word size");
_Static_assert(VSN_LAYOUT_VERSION == 5, "bump the asserts with the layout version");
