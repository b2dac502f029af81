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

#endif /* VSN_BPF_MAPS_H */
