/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Base frames of the packet tests, as struct pkt_spec initialisers: a client
 * talking to a VIP, 10 bytes of payload. The includer defines CLIENT4, VIP4,
 * CLIENT6 and VIP6 (expanded where the macros are used).
 */
#ifndef VSN_TEST_FRAMES_H
#define VSN_TEST_FRAMES_H

#include "harness.h"

#define L2 .dmac = H_NODE_MAC, .smac = H_CLIENT_MAC
#define V4_TCP(...)                                                                    \
	{                                                                              \
		L2, .l3 = AF_INET, .saddr = CLIENT4, .daddr = VIP4, .l4 = IPPROTO_TCP, \
		    .sport = 40000, .dport = 80, .payload_len = 10, __VA_ARGS__        \
	}
#define V4_UDP(...) V4_TCP(.l4 = IPPROTO_UDP, .dport = 53, __VA_ARGS__)
#define V6_TCP(...)                                                                     \
	{                                                                               \
		L2, .l3 = AF_INET6, .saddr = CLIENT6, .daddr = VIP6, .l4 = IPPROTO_TCP, \
		    .sport = 40000, .dport = 443, .payload_len = 10, __VA_ARGS__        \
	}
#define V6_UDP(...) V6_TCP(.l4 = IPPROTO_UDP, .dport = 4789, __VA_ARGS__)
#define VLAN1 .n_vlans = 1, .vlan_tci = {100}
#define VLAN2 .n_vlans = 2, .vlan_tpid = {0x88a8, 0x8100}, .vlan_tci = {10, 20}
#define EXT(t, ...)                              \
	{                                        \
		.type = PKT_EXT_##t, __VA_ARGS__ \
	}

#endif /* VSN_TEST_FRAMES_H */
