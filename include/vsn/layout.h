/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one definition of every map key and value that the XDP forwarder and
 * user space share. Include-free on purpose: the includer provides __u8,
 * __u32, __be16, ... (linux/types.h in user space, the same in BPF), so the
 * two sides can never drift apart. user space adds _Static_asserts on sizes
 * (lib/dp/dp_layout_check.c).
 *
 * Bump VSN_LAYOUT_VERSION whenever a struct, a map or its meaning changes:
 * a node that finds pinned state of another version refuses to adopt it.
 */
#ifndef VSN_LAYOUT_H
#define VSN_LAYOUT_H

#define VSN_LAYOUT_VERSION 5

/* Outer map-in-map slots: the active one and the one being filled. */
#define VSN_SLOTS 2

/* Default capacities; each is a load-time setting (see struct vsn_dp_opts). */
#define VSN_DEFAULT_MAX_POLICIES 65536
#define VSN_DEFAULT_MAX_SLBS 4096
#define VSN_DEFAULT_MAX_SERVICES 4096
/* Connection-table entries (LRU); a load-time setting too. */
#define VSN_DEFAULT_MAX_FLOWS (1u << 20)
/* Interfaces a node can redirect to (devmap). */
#define VSN_MAX_TX_PORTS 256

/* IPv6 extension headers walked before giving up (counted as too deep). */
#ifndef VSN_MAX_EXTHDRS
#define VSN_MAX_EXTHDRS 4
#endif

/*
 * Why a packet was passed, dropped or forwarded. One per-CPU counter each.
 * The names user space prints are in lib/dp/dp_reasons.c, same order.
 */
enum vsn_reason {
	/* Forwarded. */
	VSN_FWD_TX = 0,	  /* out of the ingress interface (XDP_TX) */
	VSN_FWD_REDIRECT, /* out of another interface (devmap) */
	/* Answered: too big to encapsulate; a fragmentation-needed / packet-too-big reply went
	   back. */
	VSN_REPLY_TOO_BIG,
	/* Passed to the kernel untouched. */
	VSN_PASS_NO_VIP,	/* destination is no VIP: the common miss */
	VSN_PASS_NOT_IP,	/* ethertype is neither IPv4 nor IPv6 */
	VSN_PASS_MALFORMED_ETH, /* frame shorter than its Ethernet/VLAN headers */
	VSN_PASS_VLAN_DEPTH,	/* more than two VLAN tags */
	VSN_PASS_MALFORMED_IP4, /* truncated, version != 4, IHL < 5, IHL or length past the end */
	VSN_PASS_MALFORMED_IP6, /* truncated, version != 6, payload length past the end */
	VSN_PASS_EXTHDR_DEPTH,	/* more IPv6 extension headers than VSN_MAX_EXTHDRS */
	VSN_PASS_MALFORMED_EXTHDR, /* an IPv6 extension header truncated */
	VSN_PASS_IP6_ROUTING,	   /* routing header with segments left: the address is not final */
	VSN_PASS_FRAGMENT,	   /* a later fragment of no VIP flow: its address is no VIP */
	VSN_PASS_NOT_TCP_UDP,	   /* another transport protocol */
	VSN_PASS_MALFORMED_L4,	   /* TCP/UDP header truncated, TCP data offset < 5 */
	VSN_PASS_TTL_EXCEEDED, /* ipip, gue: TTL / hop limit would reach 0; the kernel answers */
	VSN_PASS_TOO_BIG,      /* ipip, gue: the encapsulated packet would exceed the egress MTU */
	/* Dropped: a VIP was addressed but cannot be served. */
	VSN_DROP_NO_POLICY, /* VIP known, no policy for this protocol/port */
	VSN_DROP_SLB_DOWN,  /* no SLB of the destination can take the flow (down, or drain for a new
			       flow) */
	VSN_DROP_NO_NEXTHOP,	 /* the destination SLB is unknown or its next hop unresolved */
	VSN_DROP_NO_UNDERLAY,	 /* ipip, gue: no underlay source address of the SLB's family */
	VSN_DROP_ENCAP_ERROR,	 /* ipip, gue: the kernel refused room for the outer headers */
	VSN_DROP_FRAG_UNMATCHED, /* a later fragment to a VIP whose first fragment was not seen */
	VSN_DROP_TOO_BIG, /* too big to encapsulate, and the replies' rate bound was reached */
	VSN_REASON_MAX,
};

/* L4 protocol slots in struct vsn_match. */
enum vsn_l4 {
	VSN_L4_TCP = 0,
	VSN_L4_UDP = 1,
	VSN_L4_MAX,
};

/*
 * Key of the per-generation policy hash. addr is the IPv6 address, or an
 * IPv4 address in v4-mapped form (::ffff:a.b.c.d), so both families share
 * one table and a miss costs one lookup.
 *   proto == 0, port == 0: the VIP entry (present for every VIP).
 *   proto == TCP/UDP, port != 0: a port-specific policy.
 * plen is 0, except for the port policies of a VIP prefix beyond those its
 * prefix entry holds: then addr is the prefix's network address and plen
 * its length in the v4-mapped space (an IPv4 /24 is 120).
 */
struct vsn_policy_key {
	__u8 addr[16];
	__u8 proto;
	__u8 plen;
	__be16 port;
};

/*
 * vsn_active's value: the active slot, and what else the generation in it
 * has, so that packets of a set without prefixes never look for one.
 */
#define VSN_ACTIVE_SLOT 0xff
#define VSN_ACTIVE_PREFIXES 0x100 /* VIP prefix policies: vsn_prefix_slots */
#define VSN_ACTIVE_CLIENTS 0x200  /* client-source rules: vsn_client_slots */

/* Key of the per-generation VIP-prefix trie (BPF_MAP_TYPE_LPM_TRIE). */
struct vsn_prefix_key {
	__u32 prefixlen; /* in the v4-mapped space: an IPv4 /24 is 120 */
	__u8 addr[16];
};

/* Key of the per-generation client-rule trie: a policy id, then a source prefix. */
struct vsn_client_key {
	__u32 prefixlen; /* 32 (the policy id) + the source prefix, v4-mapped */
	__be32 policy_id;
	__u8 addr[16];
};

#define VSN_DEST_VALID 0x1
/* target is a pool: its index in the generation's Maglev tables. */
#define VSN_DEST_POOL 0x2
/* on_change: rehash. A flow remembered from another generation is re-picked. */
#define VSN_DEST_REHASH 0x4
/* The policy has client-source rules: the longest matching one's dest wins. */
#define VSN_DEST_CLIENTS 0x8

/* What a matched policy does with the packet. */
struct vsn_dest {
	__u32 target;	  /* SLB id (index into vsn_slbs), or with VSN_DEST_POOL a pool index */
	__u32 service_id; /* index into vsn_cnt_service */
	__u32 policy_id;  /* index into vsn_cnt_policy */
	__u32 flags;	  /* VSN_DEST_* */
};

/* Port policies held inside a VIP's entry, so most VIPs cost one lookup. */
#define VSN_VIP_PORT_SLOTS 4

/* More port policies for TCP / UDP than the slots hold: look them up too. */
#define VSN_VIP_PORTS_TCP 0x1
#define VSN_VIP_PORTS_UDP 0x2

/* A port-specific policy held in a VIP entry; proto 0 ends the slots in use. */
struct vsn_port_dest {
	__u8 proto;
	__u8 pad;
	__be16 port;
	struct vsn_dest dest;
};

/*
 * Value of the policy hash.
 * In a VIP entry: ports[] holds its first port-specific policies (in key
 * order), dest[VSN_L4_*] is that protocol's any-port policy (valid or not),
 * and flags say whether further port policies have entries of their own.
 * In a port entry: only dest[0] is used.
 */
struct vsn_match {
	/* First, so the key and the first slots share the entry's first cache line. */
	struct vsn_port_dest ports[VSN_VIP_PORT_SLOTS];
	struct vsn_dest dest[VSN_L4_MAX];
	__u32 flags;
	__u32 pad;
};

/*
 * Value of the VIP-prefix trie: the prefix's policies as a VIP entry holds
 * them, and the prefix itself, to key its further port policies in the hash.
 */
struct vsn_prefix_match {
	struct vsn_match m;
	__u8 net[16]; /* network address, v4-mapped for IPv4 */
	__u32 plen;   /* v4-mapped length, as in vsn_prefix_key */
	__u32 pad;
};

enum vsn_forward {
	VSN_FORWARD_L2 = 0,   /* rewrite MACs, IP untouched: direct server return */
	VSN_FORWARD_IPIP = 1, /* IPv4-in-IPv4 / IPv6-in-IPv6 to the SLB's address */
	VSN_FORWARD_GUE = 2,  /* GUE variant 0 in UDP (IPv4 in IPv4, IPv6 in IPv6) to the SLB */
};

/* UDP destination port of gue when none is set (vsn_config.gue_port 0). */
#define VSN_GUE_PORT_DEFAULT 6080

enum vsn_slb_state {
	VSN_SLB_UP = 0,
	VSN_SLB_DOWN = 1,
	VSN_SLB_DRAIN = 2, /* no new flows; flows in the connection table stay */
};

#define VSN_SLB_DEFINED 0x1  /* the id is in use */
#define VSN_SLB_RESOLVED 0x2 /* ifindex and MACs are valid */
#define VSN_SLB_STATIC 0x4   /* next hop given by the operator, never re-resolved */

/* One SLB, indexed by its id. Lives outside generations. */
struct vsn_slb {
	__u8 addr[16]; /* IPv6 or v4-mapped, as in vsn_policy_key */
	__u32 ifindex; /* egress interface of the next hop */
	__u8 dmac[6];  /* next hop's MAC */
	__u8 smac[6];  /* egress interface's MAC */
	__u8 forward;  /* enum vsn_forward */
	__u8 state;    /* enum vsn_slb_state */
	__u8 flags;    /* VSN_SLB_* */
	__u8 pad;
	__u32 mtu; /* egress MTU towards the next hop (IP bytes); 0: unknown */
};

#define VSN_CFG_UNDERLAY4 0x1
#define VSN_CFG_UNDERLAY6 0x2

/* Node-wide settings the forwarder reads (one entry). */
struct vsn_config {
	__u8 underlay6[16]; /* outer source of ipip and gue over IPv6 */
	__be32 underlay4;   /* outer source of ipip and gue over IPv4 */
	__u32 flags;	    /* VSN_CFG_*: which underlay addresses are set */
	/*
	 * New flows each CPU may add to the connection table per second (0: no
	 * bound). Beyond it a new flow is still forwarded by its Maglev pick,
	 * only not remembered, so a flood cannot evict established flows.
	 */
	__u32 flow_inserts_per_cpu;
	__be16 gue_port; /* UDP destination port of gue; 0 (as loaded): VSN_GUE_PORT_DEFAULT */
	__u16 pad;
};

/*
 * What a generation's packets need besides its maps, one entry per slot
 * (vsn_slot_info), written before the slot is made active.
 */
struct vsn_slot_info {
	__u32 maglev_size; /* entries per pool table, a prime */
	__u32 hash_seed;   /* vsn_flow_hash seed */
	__u32 epoch; /* the generation, truncated: flows remembered under another are rehashed */
	__u32 n_pools;
	__u32 active_flags; /* VSN_ACTIVE_PREFIXES | VSN_ACTIVE_CLIENTS, for vsn_active */
};

/*
 * Key of the connection table: a flow's 5-tuple laid out exactly as the
 * words vsn_flow_hash (vsn/hash.h) takes, so the forwarder hashes the key it
 * looks up. Addresses as in vsn_policy_key (IPv4 v4-mapped).
 */
struct vsn_flow_key {
	__u32 src[4];
	__u32 dst[4];
	__u32 ports; /* vsn_flow_ports(source, destination) */
	__u32 proto;
};

/*
 * Key of the fragment table: the later fragments of a datagram carry no
 * ports, so they follow the first by (source, VIP, protocol, fragment id).
 * Addresses as in vsn_flow_key.
 */
struct vsn_frag_key {
	__u32 src[4];
	__u32 dst[4];
	__u32 id; /* IPv4: the 16-bit identification; IPv6: the fragment header's */
	__u32 proto;
};

/* Value of the fragment table: what the first fragment matched. */
struct vsn_frag {
	__u32 slb_id;
	__u32 policy_id;
	__u32 service_id;
	__u32 pad;
};

/*
 * Too-big replies: each quotes this many bytes of the packet (IP header
 * first), and each CPU sends at most VSN_TOO_BIG_PER_CPU a second.
 */
#define VSN_TOO_BIG_QUOTE 128
#define VSN_TOO_BIG_PER_CPU 100

/* Entries of the fragment table (an LRU): datagrams being fragmented at once. */
#define VSN_FRAG_ENTRIES 16384

/* Value of the connection table: where the flow goes. */
struct vsn_flow {
	__u32 slb_id;
	__u32 epoch; /* vsn_slot_info.epoch when it was picked */
};

/* What the connection table did, one per-CPU counter each (vsn_cnt_flow). */
enum vsn_flow_event {
	VSN_FLOW_NEW = 0,	 /* a new flow picked its SLB and was remembered */
	VSN_FLOW_HIT,		 /* an established flow went to its remembered SLB */
	VSN_FLOW_INSERT_LIMITED, /* a new flow over the insert bound: forwarded, not remembered */
	VSN_FLOW_REPICK_DOWN,	 /* a remembered flow's SLB is down: picked again */
	VSN_FLOW_REHASH,	 /* remembered under another generation, its policy rehashes */
	VSN_FLOW_SKIP_NOT_UP,	 /* a pick skipped a table entry whose SLB is down or draining */
	VSN_FLOW_SYN_REPICK,	 /* a SYN's fresh pick differs from its 5-tuple's entry: replaced */
	VSN_FLOW_EVENT_MAX,
};

/* Table entries a pick walks past SLBs that are not up before it gives up. */
#define VSN_MAGLEV_WALK 16

/*
 * The pools of a generation as user space defined them, kept after its
 * Maglev tables in the same array (two entries a word) so the node can
 * rebuild the tables when an SLB changes state; packets never read them.
 * Per pool, in index order: a header {pool id, member count}, then its
 * members {slb id, weight}.
 */
struct vsn_pool_word {
	__u32 id;
	__u32 weight;
};

/* Per-CPU packet and byte counts. */
struct vsn_counter {
	__u64 packets;
	__u64 bytes;
};

/* Node-wide facts for user space; the forwarder never reads it. */
struct vsn_meta {
	__u32 layout_version;
	__u32 max_policies;
	__u32 max_slbs;
	__u32 max_services;
	__u64 generation; /* running generation, 0 before the first set */
	__u64 applied_unix_ns;
	__u32 n_policies; /* policies in the running set */
	__u32 max_flows;  /* connection-table capacity */
};

/*
 * The decap program for SLB hosts (bpf/decap.bpf.c): IP-in-IP, and GUE to
 * the configured UDP port, from the allowed node underlay addresses is
 * decapsulated and passed up; nothing else is touched. One per-CPU counter
 * per reason.
 */
/*
 * Versioned apart from the forwarder: SLB hosts need not be touched when only
 * the forwarder's layout changes. Bump it with any change below.
 */
#define VSN_DECAP_LAYOUT_VERSION 3

enum vsn_decap_reason {
	VSN_DECAP_OK_V4 = 0,	  /* IP-in-IP decapsulated; the inner packet is IPv4 */
	VSN_DECAP_OK_V6,	  /* IP-in-IP decapsulated; the inner packet is IPv6 */
	VSN_DECAP_OK_GUE_V4,	  /* GUE decapsulated; the inner packet is IPv4 */
	VSN_DECAP_OK_GUE_V6,	  /* GUE decapsulated; the inner packet is IPv6 */
	VSN_DECAP_PASS_NOT_ENCAP, /* neither IP-in-IP nor UDP to the GUE port: passed untouched */
	VSN_DECAP_PASS_MALFORMED, /* outer, UDP, GUE or inner header truncated or invalid: passed */
	VSN_DECAP_PASS_GUE_OTHER, /* GUE that is not variant 0 data with IPv4/IPv6 and no
				     extension fields: passed untouched */
	VSN_DECAP_PASS_FRAGMENT,  /* the outer packet is a fragment: passed untouched */
	VSN_DECAP_DROP_NOT_ALLOWED, /* encapsulated, but its outer source is no allowed node */
	VSN_DECAP_DROP_ERROR,	    /* the kernel refused to move the packet head */
	VSN_DECAP_REASON_MAX,
};

/* Host-wide settings of the decap program (one entry). */
struct vsn_decap_config {
	__be16 gue_port; /* UDP port GUE is taken from; 0: no GUE. VSN_GUE_PORT_DEFAULT at load */
	__u16 pad;
};

/* Key of the decap allow-list: a node underlay address, IPv6 or v4-mapped. */
struct vsn_decap_key {
	__u8 addr[16];
};

#define VSN_DECAP_FAST4 16
#define VSN_DECAP_FAST6 4

/*
 * The first allowed nodes of each family (in address order), inline in one
 * array entry: an inlined array lookup and a few compares, where a hash
 * lookup costs about as much as the rest of the decapsulation. Only when a
 * family has more nodes than fit (more4 / more6) does the hash decide.
 */
struct vsn_decap_fast {
	__u32 n4;    /* valid entries of v4 */
	__u32 n6;    /* valid entries of v6 */
	__u32 more4; /* further IPv4 nodes are only in the hash */
	__u32 more6; /* further IPv6 nodes are only in the hash */
	__be32 v4[VSN_DECAP_FAST4];
	__u8 v6[VSN_DECAP_FAST6][16];
};

#endif /* VSN_LAYOUT_H */
