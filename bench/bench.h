/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vsn-bench: the data-plane benchmark (docs/benchmarks.md). main.c parses
 * the options and hands work to dataplane.c (BPF_PROG_TEST_RUN cases) and
 * swap.c (policy set swaps, map memory); env.c sets up the namespace, the
 * forwarder and the SLB side's decap program, policies.c and packets.c make
 * the inputs.
 */
#ifndef VSN_BENCH_H
#define VSN_BENCH_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "vsn_dp.h"
#include "vsn_decap.h"

/* Longest test packet the wrapper restores; bpf/bench.bpf.c has the same. */
#define BENCH_MAX_PKT 128
#define BENCH_MAX_SIZES 16
#define BENCH_MAX_RUNS 101

enum bench_kind {
	BENCH_DATAPLANE = 1 << 0,
	BENCH_SWAP = 1 << 1,
	BENCH_MEM = 1 << 2,
	BENCH_MAGLEV = 1 << 3,
};

enum bench_case {
	CASE_TCP_SYN_L2,
	CASE_UDP_L2,
	CASE_TCP_SYN_IPV6_L2,
	CASE_MISS,
	CASE_TCP_SYN_L2_SPREAD,
	CASE_TCP_SYN_IPIP,
	CASE_UDP_IPIP,
	CASE_TCP_SYN_IPV6_IPIP,
	CASE_TCP_SYN_IPIP_SPREAD,
	CASE_GUE,
	CASE_GUE_IPV6,
	CASE_POOL_SYN,
	CASE_POOL_ESTABLISHED,
	CASE_POOL_ESTABLISHED_SPREAD,
	CASE_VIP_RANGE, /* the prefix shape's cases (bench_layout_prefixes) */
	CASE_CLIENT_PREFIX,
	CASE_MISS_WITH_PREFIXES,
	CASE_DECAP,	/* the SLB side's decap program: no policy set, run once */
	CASE_DECAP_GUE, /* the same for GUE */
	CASE_MAX,
};

struct bench_cfg {
	unsigned int benches; /* enum bench_kind bits */
	unsigned int cases;   /* 1 << enum bench_case */
	__u32 sizes[BENCH_MAX_SIZES];
	int n_sizes;
	__u32 swap_sizes[BENCH_MAX_SIZES];
	int n_swap_sizes;
	int runs;     /* timed runs per case, and as many of its floor */
	__u32 repeat; /* packets per run */
	int swaps;    /* timed swaps per size */
	int cpu;      /* CPU to pin to, -1: none */
	bool verbose;
};

/* Extra VIPs of a policy set, beside the IPv4 tcp/80 ones. */
enum bench_extra {
	BENCH_EXTRA_UDP = 1 << 0, /* one IPv4 VIP with a udp/53 policy */
	BENCH_EXTRA_V6 = 1 << 1,  /* one IPv6 VIP with a tcp/80 policy */
};

/*
 * The shape of a set of n policies: n_tcp4 IPv4 VIPs from BENCH_VIP4_BASE
 * upward, each with tcp/80 (policy id = VIP index), then the extras; all
 * to l2 SLBs, or all to the ipip (or gue) SLB of their family. With pool, the
 * tcp/80 policy of the VIP in the middle (bench_layout_mid_vip4) goes to
 * the pool BENCH_POOL_ID instead, and the set defines that pool.
 */
struct bench_layout {
	__u32 n;
	unsigned int extras; /* enum bench_extra bits */
	__u32 n_tcp4;
	enum vsn_forward forward;
	bool pool;
	/* The prefix shape (bench_layout_prefixes); all 0 in the plain one. */
	__u32 n_prefix4; /* IPv4 VIP prefix policies: the nested ones, then the bulk /24s */
	bool prefix6;	 /* one IPv6 VIP prefix policy (BENCH_PREFIX6) */
	bool rules;	 /* the middle IPv4 VIP's tcp/80 policy has the client_prefix rules */
	__u32 n_ruled;	 /* other IPv4 VIPs whose tcp/80 policy has BENCH_RULED_RULES rules */
};

#define BENCH_VIP4_BASE 0x0a000000u /* 10.0.0.0 */
#define BENCH_VIP4_UDP 0xac100035u  /* 172.16.0.53 */
#define BENCH_VIP6 "2001:db8::80"
#define BENCH_NO_VIP4 0xcb007101u /* 203.0.113.1: no VIP in any set */

/*
 * The prefix shape: a set of n policies like the plain one, of which some
 * are VIP prefix policies (tcp/80, l2, to BENCH_SLB_A) and some policies
 * carry client-source rules. The nested IPv4 prefixes, longest first (a
 * set below BENCH_PREFIX_FULL policies keeps the first ones it has room
 * for): 10.200.1.0/24, 10.200.0.0/16, 10.200.0.0/20; vip_range sends to
 * BENCH_RANGE_DST, in the /24 and no VIP. From BENCH_PREFIX_FULL policies
 * on, n / 1000 (at most BENCH_BULK_MAX) more /24s, 10.16.0.0/24 upward
 * every BENCH_BULK_STEP /24s (below 10.200.0.0), one IPv6 prefix, and
 * n / 1000 (at most BENCH_BULK_MAX) other IPv4 VIPs with rules.
 */
#define BENCH_PREFIX_NESTED 3
#define BENCH_PREFIX_FULL 7	    /* 3 nested + IPv6 prefix + udp + IPv6 VIP + one tcp VIP */
#define BENCH_RANGE_DST 0x0ac8014du /* 10.200.1.77 */
#define BENCH_BULK_BASE 0x0a100000u /* 10.16.0.0 */
#define BENCH_BULK_STEP (47u << 8)  /* 47 /24s */
#define BENCH_BULK_MAX 1000u
#define BENCH_PREFIX6 "2001:db8:200::" /* /48 */
#define BENCH_RULED_RULES 4
/*
 * Clients: each case sends from BENCH_CLIENT4 + its case index (the IPv6
 * cases from BENCH_CLIENT6 + it, in the last byte), so that no two cases
 * share a flow in the connection table: a flow remembered at an l2 SLB
 * would send an ipip case's packets there.
 */
#define BENCH_CLIENT4 0xc0000201u /* 192.0.2.1 */
#define BENCH_CLIENT6 "2001:db8:c::1"
#define BENCH_CLIENT_PORT 40000
#define BENCH_TCP_PORT 80
#define BENCH_UDP_PORT 53

/*
 * Sources of the flow spreads (disjoint from each other and the clients):
 * pool_syn takes a fresh range from [BENCH_SYN_SRC_FIRST, BENCH_SYN_SRC_END)
 * at each run, so that no source repeats within the process;
 * pool_established_spread spreads its BENCH_SPREAD_FLOWS sources from
 * BENCH_FLOWS_SRC_BASE.
 */
#define BENCH_SYN_SRC_FIRST 0x20000000u	 /* 32.0.0.0 */
#define BENCH_SYN_SRC_END 0x64000000u	 /* 100.0.0.0 */
#define BENCH_FLOWS_SRC_BASE 0x64400000u /* 100.64.0.0 */
#define BENCH_SPREAD_FLOWS 1000000u

/*
 * The connection table's capacity (max_flows): twice the established
 * spread's flows, so that all of them stay in the LRU while older flows
 * (pool_syn's) are evicted first.
 */
#define BENCH_MAX_FLOWS (1u << 21)

/* Two SLBs (sets alternate between them in the swap bench), next hop on lo. */
#define BENCH_SLB_A 1
#define BENCH_SLB_B 2
/* client_prefix: the rule its source matches best sends to BENCH_SLB_B. */
#define BENCH_RULE_SLB BENCH_SLB_B
#define BENCH_IFINDEX_LO 1
extern const __u8 bench_slb_dmac[6], bench_slb_smac[6];
extern const __u8 bench_client_mac[6], bench_node_mac[6];

/*
 * The pool of the pool cases: BENCH_POOL_MEMBERS l2 SLBs of equal weight,
 * ids BENCH_POOL_SLB0 upward, next hop on lo like BENCH_SLB_A; member k
 * has bench_pool_dmac with k added to its last byte, and bench_slb_smac.
 * The set's Maglev tables have the default size (65,537) and hash seed
 * BENCH_HASH_SEED.
 */
#define BENCH_POOL_ID 1
#define BENCH_POOL_MEMBERS 100
#define BENCH_POOL_SLB0 16
#define BENCH_HASH_SEED 0x5eed5eedu
extern const __u8 bench_pool_dmac[6];

/*
 * Two ipip SLBs, one per family (ipip is 4-in-4 and 6-in-6), on one host
 * behind BENCH_IPIP_IF, a veth with an MTU of 9000 in the namespace; their
 * next hops are resolved (a permanent neighbour entry), so their entries
 * carry that MTU. The ipip cases come in on BENCH_IPIP_IF: a hit is XDP_TX.
 * The same host again as two gue SLBs, for the gue cases (the gue port is
 * the default, VSN_GUE_PORT_DEFAULT).
 */
#define BENCH_SLB_IPIP4 3
#define BENCH_SLB_IPIP6 4
#define BENCH_SLB_GUE4 5
#define BENCH_SLB_GUE6 6
#define BENCH_IPIP_IF "vb0"
#define BENCH_IPIP_PEER "vb1"
#define BENCH_IPIP_MTU 9000
#define BENCH_UNDERLAY4 "198.18.0.1"
#define BENCH_UNDERLAY6 "2001:db8:18::1"
#define BENCH_SLB_IPIP4_ADDR "198.18.0.2"
#define BENCH_SLB_IPIP6_ADDR "2001:db8:18::2"
extern const __u8 bench_ipip_dmac[6], bench_ipip_smac[6];

/*
 * The forwarder under test and what its running set is; the decap program
 * (loaded by the decap case only), with BENCH_UNDERLAY4 allowed.
 */
struct bench_env {
	struct vsn_dp *dp;
	char pin_dir[64];
	struct vsn_decap *decap;
	char decap_pin_dir[64];
	__u64 generation;	     /* of the running set */
	struct bench_layout running; /* n == 0: not a layout of ours */
	__u32 running_slb;	     /* of its IPv4 policies */
	__u32 ipip_ifindex;	     /* BENCH_IPIP_IF */
};

extern volatile sig_atomic_t bench_stop;

/* env.c */
int bench_err(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bench_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int bench_env_setup(const struct bench_cfg *cfg);
int bench_env_load(struct bench_env *env, __u32 max_policies);
/* Load the decap program (once) and allow the node BENCH_UNDERLAY4. */
int bench_decap_load(struct bench_env *env);
void bench_env_unload(struct bench_env *env);
double bench_median(double *v, int n);
int bench_maglev(const struct bench_cfg *cfg);
double bench_now_ns(void);

/* policies.c */
void bench_layout(__u32 n, unsigned int need, enum vsn_forward forward, struct bench_layout *ret);
/*
 * The prefix shape of n policies, l2. Below BENCH_PREFIX_FULL policies only
 * what the case needs: with rules, n IPv4 VIPs, the middle one's policy with
 * the rules; without, up to 3 nested prefixes, then IPv4 VIPs.
 */
void bench_layout_prefixes(__u32 n, bool rules, struct bench_layout *ret);
bool bench_layout_equal(const struct bench_layout *a, const struct bench_layout *b);
/* The IPv4 VIP in the middle of the table (host order): the single-VIP cases' VIP. */
__u32 bench_layout_mid_vip4(const struct bench_layout *l);
/* The policy id of the nested /24 (the first IPv4 prefix), of a layout with prefixes. */
__u32 bench_layout_prefix_id(const struct bench_layout *l);
/* vsn_active's VSN_ACTIVE_PREFIXES and VSN_ACTIVE_CLIENTS bits for the layout's set. */
__u32 bench_layout_active_flags(const struct bench_layout *l);
/*
 * IPv4 VIPs go to slb4, the IPv6 VIP to slb6. The client rules are in the
 * same allocation as the policies: free(*ret) frees both.
 */
int bench_set_build(const struct bench_layout *l, __u32 slb4, __u32 slb6,
		    struct vsn_dp_policy **ret, size_t *ret_n);
/* Apply the layout's set with a new generation unless it already runs. */
int bench_set_ensure(struct bench_env *env, const struct bench_layout *l);
void bench_vip6(__u8 ret[16]);

/* packets.c */
struct bench_pkt {
	__u8 data[BENCH_MAX_PKT];
	__u32 len;
	__u32 saddr_off; /* offset of the source address */
	__u32 daddr_off; /* offset of the destination address */
};

/* From saddr port BENCH_CLIENT_PORT to daddr port dport; IPv4 addresses in host order. */
void bench_pkt_tcp4(struct bench_pkt *p, __u32 saddr, __u32 daddr, __u16 dport);
/* The SYN bench_pkt_tcp4 built as the client's ACK of its connection (a packet of an
 * established flow: the forwarder follows its entry, where a SYN is a fresh pick). */
void bench_pkt_tcp4_ack(struct bench_pkt *p);
void bench_pkt_udp4(struct bench_pkt *p, __u32 saddr, __u32 daddr, __u16 dport);
void bench_pkt_tcp6(struct bench_pkt *p, const __u8 saddr[16], const __u8 daddr[16], __u16 dport);
/*
 * The frame the forwarder must make of in when it forwards it by ipip (or
 * gue) to the ipip (gue) SLB of in's family: Ethernet to bench_ipip_dmac,
 * the outer header from the underlay address (gue: UDP from the flow's port
 * to VSN_GUE_PORT_DEFAULT, its checksum over IPv6, and GUE), in's IP packet
 * with TTL - 1.
 */
void bench_pkt_encap(const struct bench_pkt *in, enum vsn_forward forward, struct bench_pkt *ret);
/*
 * The frame the SLB's decap program must make of bench_pkt_encap(in) (an
 * IPv4 in): in's IP packet as the forwarder sent it on (TTL - 1, the header
 * checksum computed afresh), under the encapsulated frame's Ethernet header.
 * Built from in alone, not from the encapsulated frame.
 */
void bench_pkt_decap(const struct bench_pkt *in, struct bench_pkt *ret);

/* dataplane.c, swap.c */
extern const char *const bench_case_names[CASE_MAX];
int bench_dataplane(struct bench_env *env, const struct bench_cfg *cfg);
int bench_swap(struct bench_env *env, const struct bench_cfg *cfg);

#endif /* VSN_BENCH_H */
