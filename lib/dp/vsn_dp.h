/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libvsndp: the data-plane library of a vsn network node. It is the only code
 * in the project that touches the forwarder's BPF maps.
 *
 * All functions return 0 or a negative errno; ret_* outputs are untouched on
 * failure. The library does not log: callers do.
 */
#ifndef VSN_DP_H
#define VSN_DP_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "vsn/layout.h"
#include "addr.h"
#include "nexthop.h"

#define VSN_DP_DEFAULT_PIN_DIR "/sys/fs/bpf/vsn"

struct vsn_dp;

struct vsn_dp_opts {
	size_t sz;	     /* sizeof(struct vsn_dp_opts), so the struct can grow */
	const char *pin_dir; /* NULL: VSN_DP_DEFAULT_PIN_DIR */
	__u32 max_policies;  /* 0: default; only used when loading */
	__u32 max_slbs;	     /* 0: default; only used when loading */
	__u32 max_services;  /* 0: default; only used when loading */
	__u32 max_flows; /* 0: default (VSN_DEFAULT_MAX_FLOWS); connection table, when loading */
	bool create;	 /* load and pin the forwarder when nothing is pinned */
};

/*
 * Open the forwarder pinned under opts->pin_dir. If nothing is pinned and
 * opts->create is set, load it and pin its program and maps there.
 * -ENOENT: nothing pinned and !create. -EMEDIUMTYPE: pin_dir is not on a
 * BPF filesystem (under 'ip netns exec', which remounts /sys). -EPROTO: pinned state has another
 * layout version (see docs/operations.md, "upgrades").
 */
int vsn_dp_open(const struct vsn_dp_opts *opts, struct vsn_dp **ret_dp);
void vsn_dp_close(struct vsn_dp *dp);

/*
 * Remove everything pinned under pin_dir: links (which detaches the
 * program), program and maps. Missing pins are not an error.
 */
int vsn_dp_unload(const char *pin_dir);

const char *vsn_dp_pin_dir(const struct vsn_dp *dp);
/* The forwarder program's fd (for BPF_PROG_TEST_RUN and tail calls). */
int vsn_dp_prog_fd(const struct vsn_dp *dp);
int vsn_dp_meta(const struct vsn_dp *dp, struct vsn_meta *ret_meta);

enum vsn_attach_mode {
	VSN_ATTACH_AUTO = 0, /* native, falling back to generic */
	VSN_ATTACH_NATIVE,
	VSN_ATTACH_GENERIC,
};

const char *vsn_attach_mode_name(enum vsn_attach_mode mode);
int vsn_attach_mode_parse(const char *s, enum vsn_attach_mode *ret_mode);

/*
 * Attach to ifname with a bpf_link pinned as <pin_dir>/links/<ifname>, so
 * it outlives the process. -EEXIST if vsn is attached there already.
 */
int vsn_dp_attach(struct vsn_dp *dp, const char *ifname, enum vsn_attach_mode mode,
		  enum vsn_attach_mode *ret_mode);
int vsn_dp_detach(struct vsn_dp *dp, const char *ifname);

/* Calls cb for each interface with a pinned link; stops on a non-zero return. */
int vsn_dp_links_foreach(struct vsn_dp *dp, int (*cb)(const char *ifname, __u32 ifindex, void *arg),
			 void *arg);

/*
 * An SLB. Unless nexthop_static, the library resolves the next hop through
 * netlink (route, then neighbour, made a managed neighbour entry so the
 * kernel keeps it resolved) and writes it into the SLB's entry.
 */
struct vsn_dp_slb {
	__u32 id; /* 1 .. max_slbs-1; never reused for another SLB */
	struct vsn_addr addr;
	enum vsn_forward forward;
	enum vsn_slb_state state;
	bool nexthop_static;
	__u32 ifindex; /* with nexthop_static */
	__u8 dmac[6];  /* with nexthop_static */
	__u8 smac[6];  /* with nexthop_static */
	__u32 mtu;     /* with nexthop_static: the egress MTU (IP bytes); 0: unknown */
};

/*
 * Define or redefine an SLB. The entry is written even when resolution
 * fails (-EHOSTUNREACH, -ENETUNREACH, -ETIMEDOUT: packets for it are dropped
 * and counted as no_nexthop until vsn_dp_slbs_refresh() succeeds).
 */
int vsn_dp_slb_set(struct vsn_dp *dp, const struct vsn_dp_slb *slb);
/*
 * Flip an SLB's state at once, without a new set. Remembered flows of a
 * down SLB are re-picked on their next packet; a draining SLB keeps its
 * flows and takes no new ones. When the SLB changes between up and not up,
 * the running set's Maglev tables are rebuilt without (or again with) it.
 */
int vsn_dp_slb_set_state(struct vsn_dp *dp, __u32 id, enum vsn_slb_state state);
int vsn_dp_slb_get(struct vsn_dp *dp, __u32 id, struct vsn_slb *ret_slb);
/* Re-resolve every defined SLB without a static next hop; counts changes. */
int vsn_dp_slbs_refresh(struct vsn_dp *dp, unsigned int *ret_changed);
/*
 * To keep next hops resolved, a long-running caller polls
 * vsn_nexthop_events_open()'s fd (nexthop.h), drains it with
 * vsn_nexthop_events_drain(), then calls vsn_dp_slbs_refresh().
 */
int vsn_dp_slbs_foreach(struct vsn_dp *dp,
			int (*cb)(__u32 id, const struct vsn_slb *slb, void *arg), void *arg);

const char *vsn_slb_state_name(enum vsn_slb_state state);
int vsn_slb_state_parse(const char *s, enum vsn_slb_state *ret_state);
const char *vsn_forward_name(enum vsn_forward fwd);
int vsn_forward_parse(const char *s, enum vsn_forward *ret_fwd);

/*
 * What a policy's established flows do when a new set replaces the running
 * one: keep their SLB while it is up (preserve), or take the new set's pick
 * at once (rehash; with a pool, Maglev keeps most of them where they were).
 */
enum vsn_on_change {
	VSN_ON_CHANGE_PRESERVE = 0,
	VSN_ON_CHANGE_REHASH = 1,
};

const char *vsn_on_change_name(enum vsn_on_change c);
int vsn_on_change_parse(const char *s, enum vsn_on_change *ret);

/*
 * A client-source rule of a policy: packets whose source is in prefix/plen
 * go to its own SLB or pool. Of a policy's rules, the longest match wins;
 * none: the policy's own destination. The prefix's family is the VIP's.
 */
struct vsn_dp_client {
	struct vsn_addr prefix; /* network address: host bits zero */
	__u8 plen;		/* 0 .. 32 (IPv4) or 128 (IPv6) */
	__u32 slb_id;		/* one SLB, or 0 with pool_id */
	__u32 pool_id;		/* a pool of the set, or 0 with slb_id */
};

/* Most client-source rules one policy holds. */
#define VSN_DP_MAX_CLIENTS 4096

/* One packet forwarding policy: VIP [+ protocol and port] -> SLB or pool. */
struct vsn_dp_policy {
	struct vsn_addr vip;
	/*
	 * 0: vip is one address. Else vip/vip_plen is a VIP prefix (1 .. 31
	 * for IPv4, 1 .. 127 for IPv6; vip its network address): it serves
	 * every address in it that no more specific VIP or prefix serves for
	 * the packet's protocol and port; the longest prefix wins.
	 */
	__u8 vip_plen;
	__u8 proto;	  /* IPPROTO_TCP or IPPROTO_UDP */
	__u16 port;	  /* host order; 0 = any port */
	__u32 slb_id;	  /* one SLB, or 0 with pool_id */
	__u32 pool_id;	  /* a pool of the set, or 0 with slb_id */
	__u32 service_id; /* counter index, < max_services */
	__u32 policy_id;  /* counter index, < max_policies; stable across sets */
	enum vsn_on_change on_change;
	size_t n_clients; /* client-source rules, 0 .. VSN_DP_MAX_CLIENTS */
	const struct vsn_dp_client *clients;
};

struct vsn_dp_pool_member {
	__u32 slb_id;
	__u32 weight; /* 1 .. VSN_DP_MAX_WEIGHT */
};

#define VSN_DP_MAX_WEIGHT 65535

/*
 * A pool: SLBs with weights, picked by Maglev consistent hashing over the
 * flow's 5-tuple. Members that are not up (down or drain) are left out of
 * the table (unless all are), so no new flow is sent to them.
 */
struct vsn_dp_pool {
	__u32 id;	  /* 1.., unique in the set; what policies name */
	size_t n_members; /* 1 .. VSN_MAGLEV_MAX_MEMBERS */
	const struct vsn_dp_pool_member *members;
};

/* A complete policy set: it replaces the running one whole. */
struct vsn_dp_set {
	__u64 generation; /* must be greater than the running one */
	size_t n_policies;
	const struct vsn_dp_policy *policies;
	/*
	 * SLBs to define or redefine with the set (outside generations, so
	 * written just before the flip); policies may use these and the SLBs
	 * already defined.
	 */
	size_t n_slbs;
	const struct vsn_dp_slb *slbs;
	/*
	 * Optional, n_slbs entries: per SLB, 0 or why its next hop is not
	 * resolved (-ENETUNREACH, -EHOSTUNREACH, -ETIMEDOUT, -EDESTADDRREQ for
	 * an l2 SLB that is not on-link). Unresolved SLBs are written anyway:
	 * their packets are dropped and counted until a refresh resolves them.
	 */
	int *ret_slb_results;
	size_t n_pools;
	const struct vsn_dp_pool *pools;
	__u32 maglev_size; /* entries per pool table, a prime; 0: VSN_MAGLEV_DEFAULT_SIZE */
	__u32 hash_seed;   /* the cluster's flow-hash and Maglev seed */
};

/*
 * Check a set against this forwarder without touching it. *ret_bad names
 * the offending entry: i < n_policies is policies[i], then
 * slbs[i - n_policies], then pools[i - n_policies - n_slbs].
 * -EINVAL: malformed entry (a policy with both or neither of slb_id and
 * pool_id, a pool without members or with a weight out of range, a
 * maglev_size that is no prime above the largest pool or beyond
 * VSN_MAGLEV_MAX_SIZE: no index for that one); -EEXIST: a key, an SLB id, a
 * pool id or a pool member given twice; -ENOTUNIQ: a policy id given twice;
 * -ESTALE: generation not above the running one (no index); -E2BIG: more
 * policies than the capacity, or pool tables above VSN_DP_MAX_TABLE_ENTRIES
 * in all (no index); -ENOENT: an SLB that is neither in the set nor defined,
 * or a pool not in the set; -ERANGE: an id beyond a capacity;
 * -EAFNOSUPPORT: a policy whose VIP family differs from one of its ipip
 * SLBs' (ipip is 4-in-4 and 6-in-6), or from one of its client rules'.
 * A VIP prefix whose host bits are not zero, a prefix length out of range,
 * a client rule with both or neither of slb_id and pool_id, or one prefix
 * twice in a policy's rules: -EINVAL (the policy's index).
 */
int vsn_dp_set_validate(struct vsn_dp *dp, const struct vsn_dp_set *set, size_t *ret_bad);

/*
 * Validate, build the set into the inactive slot with a fresh map, and flip
 * the active slot: packets that start after the flip see only the new set,
 * packets already running finish on the old one, which is never mutated.
 * On error the running set is untouched. The old set stays in the inactive
 * slot until vsn_dp_set_trim() or the next apply replaces it. The same as
 * vsn_dp_set_prepare() then vsn_dp_set_commit(), under one hold of the lock.
 */
int vsn_dp_set_apply(struct vsn_dp *dp, const struct vsn_dp_set *set, size_t *ret_bad);

/*
 * The same apply in two steps, so that nodes can switch together: prepare
 * does the slow part and leaves the set ready beside the running one;
 * commit flips to it. The library's lock is not held in between: other
 * callers (and processes) may change the forwarder meanwhile.
 */
struct vsn_dp_prepared;

/*
 * Validate set as vsn_dp_set_validate() does (same errors, same *ret_bad),
 * build it and put it in the inactive slot, where no packet sees it, and
 * resolve its SLBs' next hops (set->ret_slb_results is filled here): what an
 * apply takes, bar the flip. The running set, the SLB table and vsn_meta do
 * not change. The set's memory may be freed on return. On success,
 * *ret_prepared holds the built maps until one vsn_dp_set_commit() or
 * vsn_dp_set_abort() on the same dp, before vsn_dp_close(). A later prepare,
 * apply, trim or SLB state change may displace it from the slot: commit
 * stages it again.
 */
int vsn_dp_set_prepare(struct vsn_dp *dp, const struct vsn_dp_set *set, size_t *ret_bad,
		       struct vsn_dp_prepared **ret_prepared);
/* The generation of the prepared set. */
__u64 vsn_dp_prepared_generation(const struct vsn_dp_prepared *p);

/*
 * Make the prepared set the running one: write its SLBs, flip, record the
 * generation in vsn_meta. A few syscalls (tens of microseconds), whatever
 * the set's size. Frees p, whatever the outcome. -ESTALE: another set was
 * applied since the prepare (the running set stays). -EINVAL: p is of
 * another dp. The set's SLBs get the states the set gives them, as if
 * applied now; their next hops are those resolved at prepare, unless a
 * refresh changed them since. If the prepared set was displaced from its
 * slot, it is staged again first; if a pool member it does not define went
 * up or down since the prepare, its Maglev tables are built again from the
 * states now, and staged. Both are slower (tens of milliseconds: a wait for
 * packets) and rare. On any other error the running set is untouched, as
 * with vsn_dp_set_apply().
 */
int vsn_dp_set_commit(struct vsn_dp *dp, struct vsn_dp_prepared *p);

/*
 * Drop a prepared set and free p (NULL: nothing). The running set is
 * untouched; the inactive slot may keep the dropped maps until
 * vsn_dp_set_trim() or the next apply or prepare replaces them.
 */
void vsn_dp_set_abort(struct vsn_dp *dp, struct vsn_dp_prepared *p);

/*
 * Free the previous set: wait until no packet can still be inside it (an RCU
 * grace period), then remove it. Call it after an apply, off the hot path;
 * it makes the next apply skip that wait too.
 */
int vsn_dp_set_trim(struct vsn_dp *dp);

/* Most Maglev table entries a set may hold, all pools together (256 MiB). */
#define VSN_DP_MAX_TABLE_ENTRIES (1u << 26)

/*
 * Calls cb for each pool of the running set, in index order, with its
 * members as defined (states are in the SLB table).
 */
int vsn_dp_pools_foreach(struct vsn_dp *dp, int (*cb)(const struct vsn_dp_pool *pool, void *arg),
			 void *arg);

/*
 * The SLB a new flow fk would get from pool pool_id of the running set,
 * computed in user space: the pool's Maglev table built afresh from its
 * definition and the SLB states, the flow hash of include/vsn/hash.h, and
 * the walk past SLBs that are not up. -ENOENT: no such pool; -EHOSTDOWN:
 * no SLB up within the walk.
 */
int vsn_dp_predict(struct vsn_dp *dp, __u32 pool_id, const struct vsn_flow_key *fk,
		   __u32 *ret_slb_id);

/* A flow key from its 5-tuple (ports in host order). */
void vsn_flow_key_make(const struct vsn_addr *src, __u16 sport, const struct vsn_addr *dst,
		       __u16 dport, __u8 proto, struct vsn_flow_key *ret);

/*
 * The bound on new flows remembered per second, node-wide (0: none). The
 * forwarder keeps it per CPU: per_second / CPUs, rounded up; get returns
 * that times the CPUs. Default at load: max_flows / 8, so a flood needs
 * 8 s to cycle the table and flows active more often keep their entry.
 */
int vsn_dp_flow_limit_set(struct vsn_dp *dp, __u32 per_second);
int vsn_dp_flow_limit_get(struct vsn_dp *dp, __u32 *ret_per_second);

/* Calls cb for each remembered flow; stops on a non-zero return. */
int vsn_dp_flows_foreach(struct vsn_dp *dp,
			 int (*cb)(const struct vsn_flow_key *k, const struct vsn_flow *f,
				   void *arg),
			 void *arg);
/* Forget every remembered flow (their next packets are picked anew). */
int vsn_dp_flows_clear(struct vsn_dp *dp);

/*
 * The node's underlay addresses: the outer source of ipip and gue, one per family.
 * A NULL (or family 0) address unsets that family: ipip packets that need it
 * are then dropped and counted as drop_no_underlay. Takes effect at once.
 */
int vsn_dp_underlay_set(struct vsn_dp *dp, const struct vsn_addr *v4, const struct vsn_addr *v6);
/* Family 0 in a result: that family is unset. */
int vsn_dp_underlay_get(struct vsn_dp *dp, struct vsn_addr *ret_v4, struct vsn_addr *ret_v6);

/*
 * The UDP destination port of gue (host order), node-wide: the port the
 * SLB hosts take GUE on. VSN_GUE_PORT_DEFAULT (6080) until set; 0 is
 * refused (-EINVAL). Takes effect at once.
 */
int vsn_dp_gue_port_set(struct vsn_dp *dp, __u16 port);
int vsn_dp_gue_port_get(struct vsn_dp *dp, __u16 *ret_port);

/* Calls cb for each policy of the running set, in table order. */
int vsn_dp_policies_foreach(struct vsn_dp *dp, int (*cb)(const struct vsn_dp_policy *p, void *arg),
			    void *arg);

/*
 * Kernel memory of the running set's maps (set) and of everything the
 * forwarder holds, counters and SLB table included (total), in bytes.
 */
int vsn_dp_memory(struct vsn_dp *dp, __u64 *ret_set_bytes, __u64 *ret_total_bytes);

enum vsn_counter_kind {
	VSN_CNT_POLICY,
	VSN_CNT_SLB,
	VSN_CNT_SERVICE,
	VSN_CNT_REASON,
	VSN_CNT_FLOW, /* by enum vsn_flow_event; bytes stay 0 */
};

/* Sum of one counter over all CPUs. */
int vsn_dp_counter_read(struct vsn_dp *dp, enum vsn_counter_kind kind, __u32 id,
			struct vsn_counter *ret);
const char *vsn_reason_name(enum vsn_reason reason);
/* true for reasons that drop the packet, false for pass and forward. */
bool vsn_reason_is_drop(enum vsn_reason reason);
bool vsn_reason_is_forward(enum vsn_reason reason);
const char *vsn_flow_event_name(enum vsn_flow_event ev);

#endif /* VSN_DP_H */
