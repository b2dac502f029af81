/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The forwarder's maps. Sizes marked "load-time" are set by the library
 * (bpf_map__set_max_entries) before loading; the numbers here are defaults.
 */
#ifndef VSN_BPF_MAPS_H
#define VSN_BPF_MAPS_H

/* Index of the slot packets use; read once per packet. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} vsn_active SEC(".maps");

/* Running generation and capacities, for user space (never read here). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vsn_meta);
} vsn_meta SEC(".maps");

/*
 * The per-generation policy hash: one inner map per slot. The template's
 * max_entries does not bind: hash inner maps may be of any size.
 */
struct vsn_policy_inner {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	/* Sizes, not types: BTF of an inner map's pointee structs is only a forward. */
	__uint(key_size, sizeof(struct vsn_policy_key));
	__uint(value_size, sizeof(struct vsn_match));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, VSN_SLOTS);
	__type(key, __u32);
	__array(values, struct vsn_policy_inner);
} vsn_policy_slots SEC(".maps");

/*
 * The per-generation Maglev tables: one inner array per slot holding every
 * pool's table back to back (pool i at i * maglev_size), then the pools'
 * definitions for user space (vsn_pool_word pairs; packets never read
 * them): one map-in-map update per swap, not two. Arrays of any size
 * fit the slot thanks to BPF_F_INNER_MAP; mmapable so user space writes a
 * table with stores, not a syscall per entry (the flags must match).
 */
struct vsn_maglev_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_INNER_MAP | BPF_F_MMAPABLE);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, VSN_SLOTS);
	__type(key, __u32);
	__array(values, struct vsn_maglev_inner);
} vsn_maglev_slots SEC(".maps");

/*
 * The per-generation VIP prefixes (longest prefix match) and client-source
 * rules: read only when vsn_active says the generation has them. LPM tries
 * must be created with BPF_F_NO_PREALLOC.
 */
struct vsn_prefix_inner {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(key_size, sizeof(struct vsn_prefix_key));
	__uint(value_size, sizeof(struct vsn_prefix_match));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, VSN_SLOTS);
	__type(key, __u32);
	__array(values, struct vsn_prefix_inner);
} vsn_prefix_slots SEC(".maps");

struct vsn_client_inner {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(key_size, sizeof(struct vsn_client_key));
	__uint(value_size, sizeof(struct vsn_dest));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, VSN_SLOTS);
	__type(key, __u32);
	__array(values, struct vsn_client_inner);
} vsn_client_slots SEC(".maps");

/* Table size, hash seed and epoch of each slot's generation. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VSN_SLOTS);
	__type(key, __u32);
	__type(value, struct vsn_slot_info);
} vsn_slot_info SEC(".maps");

/*
 * The connection table, outside generations: one LRU shared by all CPUs
 * (load-time size). On veth, and with imperfect RSS, one flow's packets
 * arrive on several CPUs; per-CPU tables would forget flows.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VSN_DEFAULT_MAX_FLOWS);
	__type(key, struct vsn_flow_key);
	__type(value, struct vsn_flow);
} vsn_flows SEC(".maps");

/* Per CPU: room to build a too-big reply (the quote), and the replies' rate window. */
struct vsn_reply_scratch {
	__u8 quote[VSN_TOO_BIG_QUOTE];
	__u64 window_ns;
	__u64 sent;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vsn_reply_scratch);
} vsn_reply_scratch SEC(".maps");

/* The fragment table: a datagram's later fragments follow its first. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VSN_FRAG_ENTRIES);
	__type(key, struct vsn_frag_key);
	__type(value, struct vsn_frag);
} vsn_frags SEC(".maps");

/* Per CPU: the current one-second window of connection-table inserts. */
struct vsn_flow_budget {
	__u64 window_ns;
	__u64 inserts;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vsn_flow_budget);
} vsn_flow_budget SEC(".maps");

/*
 * Never read by packets: user space updates it to wait for an RCU grace
 * period (the kernel waits for running programs after a map-in-map update),
 * which proves no packet still uses a slot it just made inactive.
 */
struct vsn_barrier_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct vsn_barrier_inner);
} vsn_barrier SEC(".maps");

/* Node settings: the underlay source addresses of ipip. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vsn_config);
} vsn_config SEC(".maps");

/* SLBs by id (load-time size). Outside generations. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VSN_DEFAULT_MAX_SLBS);
	__type(key, __u32);
	__type(value, struct vsn_slb);
} vsn_slbs SEC(".maps");

/* Egress interfaces other than the ingress one, keyed by ifindex. */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, VSN_MAX_TX_PORTS);
	__type(key, __u32);
	__type(value, __u32);
} vsn_tx_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VSN_DEFAULT_MAX_POLICIES);
	__type(key, __u32);
	__type(value, struct vsn_counter);
} vsn_cnt_policy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VSN_DEFAULT_MAX_SLBS);
	__type(key, __u32);
	__type(value, struct vsn_counter);
} vsn_cnt_slb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VSN_DEFAULT_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct vsn_counter);
} vsn_cnt_service SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VSN_REASON_MAX);
	__type(key, __u32);
	__type(value, struct vsn_counter);
} vsn_cnt_reason SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VSN_FLOW_EVENT_MAX);
	__type(key, __u32);
	__type(value, struct vsn_counter);
} vsn_cnt_flow SEC(".maps");

#endif /* VSN_BPF_MAPS_H */
