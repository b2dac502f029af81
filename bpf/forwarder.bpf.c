/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The network node's XDP forwarder: match a packet's VIP against the active
 * generation's policies and send it to the destination SLB.
 * Match order (DESIGN section 4): the VIP entry (one lookup; a miss passes),
 * then (VIP, protocol, port) (in the VIP entry's slots, else an entry of its
 * own), then (VIP, protocol, any port), then the same in the longest VIP
 * prefix holding the address; within the policy, the longest client-source
 * rule matching the packet's source.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "vsn/layout.h"
#include "maps.h"
#include "parse.h"
#include "encap.h"
#include "too_big.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline void count(void *map, __u32 id, __u64 bytes)
{
	struct vsn_counter *c = bpf_map_lookup_elem(map, &id);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

static __always_inline int vsn_reason_drops(int reason)
{
	return reason >= VSN_DROP_NO_POLICY;
}

static __always_inline int verdict(__u32 reason, int action, __u64 bytes)
{
	count(&vsn_cnt_reason, reason, bytes);
	return action;
}

/*
 * The policy of a VIP entry or a prefix's entry e for proto and dport, or
 * NULL. k is the key of e's further port policies in the hash, their
 * protocol and port still to fill in.
 */
static __always_inline const struct vsn_dest *match_entry(void *policies, const struct vsn_match *e,
							  struct vsn_policy_key *k, __u8 proto,
							  __be16 dport)
{
	const struct vsn_match *port;
	__u32 l4 = proto == IPPROTO_TCP ? VSN_L4_TCP : VSN_L4_UDP;
	__u32 more_ports = proto == IPPROTO_TCP ? VSN_VIP_PORTS_TCP : VSN_VIP_PORTS_UDP;

#pragma unroll
	for (int i = 0; i < VSN_VIP_PORT_SLOTS; i++) {
		if (!e->ports[i].proto)
			break;
		if (e->ports[i].proto == proto && e->ports[i].port == dport)
			return &e->ports[i].dest;
	}
	if (e->flags & more_ports) {
		k->proto = proto;
		k->port = dport;
		port = bpf_map_lookup_elem(policies, k);
		if (port && (port->dest[0].flags & VSN_DEST_VALID))
			return &port->dest[0];
	}
	if (e->dest[l4].flags & VSN_DEST_VALID)
		return &e->dest[l4];
	return NULL;
}

/*
 * Find the policy for p in one generation, or NULL with the reason: the VIP
 * entry first (a miss costs this one lookup when the set has no prefixes),
 * then the longest VIP prefix holding the address.
 */
static __always_inline const struct vsn_dest *match(void *policies, __u32 active, __u32 *slot,
						    struct vsn_pkt *p, int *ret_reason)
{
	struct vsn_prefix_key pk = {.prefixlen = 128};
	struct vsn_policy_key nk = {};
	const struct vsn_prefix_match *pm;
	const struct vsn_match *vip;
	const struct vsn_dest *d;
	__u8 proto = p->key.proto;
	__be16 dport = p->key.port;
	void *prefixes;

	p->key.proto = 0;
	p->key.port = 0;
	vip = bpf_map_lookup_elem(policies, &p->key);
	*ret_reason = VSN_PASS_NO_VIP;
	if (vip) {
		d = match_entry(policies, vip, &p->key, proto, dport);
		if (d)
			return d;
		/* A VIP known, its port not: a prefix holding it may cover the port. */
		*ret_reason = VSN_DROP_NO_POLICY;
	}
	if (!(active & VSN_ACTIVE_PREFIXES))
		return NULL;
	prefixes = bpf_map_lookup_elem(&vsn_prefix_slots, slot);
	if (!prefixes)
		return NULL;
	__builtin_memcpy(pk.addr, p->key.addr, 16);
	pm = bpf_map_lookup_elem(prefixes, &pk);
	/* An IPv6 prefix short enough to hold ::ffff:0:0/96 holds no IPv4 packet. */
	if (!pm || (!p->is_v6 && pm->plen <= 96))
		return NULL;
	*ret_reason = VSN_DROP_NO_POLICY;
	__builtin_memcpy(nk.addr, pm->net, 16);
	nk.plen = pm->plen;
	return match_entry(policies, &pm->m, &nk, proto, dport);
}

/* The client-source rule of dest's policy that p's source matches best, or dest. */
static __always_inline const struct vsn_dest *client_rule(const struct vsn_dest *dest, __u32 active,
							  __u32 *slot, const struct vsn_pkt *p)
{
	struct vsn_client_key ck = {.prefixlen = 32 + 128};
	const struct vsn_dest *r;
	void *clients;

	if (!(dest->flags & VSN_DEST_CLIENTS) || !(active & VSN_ACTIVE_CLIENTS))
		return dest;
	clients = bpf_map_lookup_elem(&vsn_client_slots, slot);
	if (!clients)
		return dest;
	ck.policy_id = bpf_htonl(dest->policy_id);
	__builtin_memcpy(ck.addr, p->fk.src, 16);
	r = bpf_map_lookup_elem(clients, &ck);
	return r ? r : dest;
}

static __always_inline void flow_event(__u32 event)
{
	count(&vsn_cnt_flow, event, 0);
}

/* Defined and resolved: an SLB packets can be sent to. */
static __always_inline int slb_usable(const struct vsn_slb *slb)
{
	return slb && (slb->flags & (VSN_SLB_DEFINED | VSN_SLB_RESOLVED)) ==
			      (VSN_SLB_DEFINED | VSN_SLB_RESOLVED);
}

/*
 * A new flow's SLB in pool `pool`: its Maglev entry, or, while that SLB is
 * down or draining, the next entry (in table order) whose SLB is up. The
 * walk only depends on the table and the SLB states, so every node makes
 * the same choice. 0 when no SLB within VSN_MAGLEV_WALK entries is up.
 */
__noinline int vsn_maglev_pick(__u32 gen_slot, __u32 pool, __u32 hash)
{
	const struct vsn_slot_info *info;
	__u32 m, slot, idx, *id;
	const struct vsn_slb *slb;
	void *table;

	info = bpf_map_lookup_elem(&vsn_slot_info, &gen_slot);
	table = bpf_map_lookup_elem(&vsn_maglev_slots, &gen_slot);
	if (!info || !table || !info->maglev_size)
		return 0;
	m = info->maglev_size;
	slot = vsn_maglev_slot(hash, m);
	for (int i = 0; i < VSN_MAGLEV_WALK; i++) {
		idx = pool * m + slot;
		id = bpf_map_lookup_elem(table, &idx);
		if (!id)
			return 0;
		slb = bpf_map_lookup_elem(&vsn_slbs, id);
		if (slb && slb->state == VSN_SLB_UP)
			return *id;
		flow_event(VSN_FLOW_SKIP_NOT_UP);
		if (++slot == m)
			slot = 0;
	}
	return 0;
}

/* May this CPU remember one more new flow in this second? */
static __always_inline int insert_allowed(void)
{
	const struct vsn_config *cfg;
	struct vsn_flow_budget *b;
	__u32 zero = 0;
	__u64 now;

	cfg = bpf_map_lookup_elem(&vsn_config, &zero);
	if (!cfg || !cfg->flow_inserts_per_cpu)
		return 1;
	b = bpf_map_lookup_elem(&vsn_flow_budget, &zero);
	if (!b)
		return 0;
	now = bpf_ktime_get_ns();
	if (now - b->window_ns >= 1000000000ull) {
		b->window_ns = now;
		b->inserts = 0;
	}
	if (b->inserts >= cfg->flow_inserts_per_cpu)
		return 0;
	b->inserts++;
	return 1;
}

/*
 * The SLB for p's flow under dest: its remembered SLB while that is up (or
 * draining), else a fresh pick, remembered. A rehash policy re-picks flows
 * remembered under another generation, but one whose re-pick finds no SLB
 * up stays where it is unless that is down (draining keeps established
 * flows). A client's SYN opens a new connection, whatever an entry of the
 * same 5-tuple remembers of an earlier one (a reused source port): it is
 * always a fresh pick under dest, as a new flow's (drain admits none), and
 * its entry is replaced. 0 and *ret_reason when there is none.
 */
static __always_inline __u32 pick(__u32 gen_slot, const struct vsn_slot_info *info,
				  const struct vsn_dest *dest, struct vsn_pkt *p,
				  const struct vsn_slb **ret_slb, int *ret_reason)
{
	struct vsn_flow *f, nf = {.epoch = info->epoch};
	const struct vsn_slb *slb;
	__u32 keep = 0;

	f = bpf_map_lookup_elem(&vsn_flows, &p->fk);
	/* An ICMP error follows its flow; it never makes or changes an entry. */
	if (p->icmp_err && f) {
		slb = bpf_map_lookup_elem(&vsn_slbs, &f->slb_id);
		if (slb && slb->state != VSN_SLB_DOWN) {
			*ret_slb = slb;
			return f->slb_id;
		}
		f = NULL;
	}
	if (f && !p->syn) {
		__u32 id = f->slb_id;

		slb = bpf_map_lookup_elem(&vsn_slbs, &id);
		if (slb && slb->state != VSN_SLB_DOWN) {
			if (!(dest->flags & VSN_DEST_REHASH) || f->epoch == info->epoch) {
				flow_event(VSN_FLOW_HIT);
				*ret_slb = slb;
				return id;
			}
			/* Rehashed; should the pick find no SLB up, the flow stays. */
			keep = id;
			flow_event(VSN_FLOW_REHASH);
		} else {
			flow_event(VSN_FLOW_REPICK_DOWN);
		}
	}
	if (dest->flags & VSN_DEST_POOL) {
		nf.slb_id = vsn_maglev_pick(gen_slot, dest->target,
					    vsn_flow_hash(p->fk.src, p->fk.dst, p->fk.ports,
							  p->fk.proto, info->hash_seed));
	} else {
		nf.slb_id = dest->target;
		slb = bpf_map_lookup_elem(&vsn_slbs, &nf.slb_id);
		/* Drain admits no new flow; there is no other SLB to take it. */
		if (!slb || slb->state != VSN_SLB_UP)
			nf.slb_id = 0;
		else
			*ret_slb = slb;
	}
	if (!nf.slb_id)
		nf.slb_id = keep;
	if (!nf.slb_id) {
		*ret_reason = VSN_DROP_SLB_DOWN;
		return 0;
	}
	if (p->icmp_err)
		return nf.slb_id;
	/*
	 * A SYN that finds its 5-tuple remembered: where the fresh pick agrees
	 * it is a hit, and the entry is rewritten only to take this
	 * generation's epoch (a retransmitted SYN writes nothing); elsewhere the
	 * entry follows the pick.
	 */
	if (f && p->syn) {
		if (f->slb_id == nf.slb_id) {
			flow_event(VSN_FLOW_HIT);
			if (f->epoch == nf.epoch)
				return nf.slb_id;
		} else {
			flow_event(VSN_FLOW_SYN_REPICK);
		}
	}
	/* An entry to replace costs no room; a new one must fit the bound. */
	if (f || insert_allowed()) {
		bpf_map_update_elem(&vsn_flows, &p->fk, &nf, BPF_ANY);
		if (!f)
			flow_event(VSN_FLOW_NEW);
	} else {
		flow_event(VSN_FLOW_INSERT_LIMITED);
	}
	return nf.slb_id;
}

/* Send the rewritten frame towards the SLB and count it. */
static __always_inline int transmit(struct xdp_md *ctx, const struct vsn_slb *slb, __u32 slb_id,
				    const struct vsn_dest *dest, __u64 bytes)
{
	int r, action;

	if (slb->ifindex == ctx->ingress_ifindex) {
		r = VSN_FWD_TX;
		action = XDP_TX;
	} else {
		/* Fails when the egress left the devmap (interface deleted). */
		action = bpf_redirect_map(&vsn_tx_ports, slb->ifindex, XDP_DROP);
		r = action == XDP_REDIRECT ? VSN_FWD_REDIRECT : VSN_DROP_NO_NEXTHOP;
	}
	if (action != XDP_DROP) {
		count(&vsn_cnt_policy, dest->policy_id, bytes);
		count(&vsn_cnt_service, dest->service_id, bytes);
		count(&vsn_cnt_slb, slb_id, bytes);
	}
	return verdict(r, action, bytes);
}

/* The fragment-table key of p's datagram. */
static __always_inline void frag_key(const struct vsn_pkt *p, struct vsn_frag_key *k)
{
	__builtin_memcpy(k->src, p->fk.src, 16);
	__builtin_memcpy(k->dst, p->fk.dst, 16);
	k->id = p->frag_id;
	k->proto = p->fk.proto;
}

/* Is p's destination a VIP or in a VIP prefix of this generation? */
static __always_inline int is_vip(void *policies, __u32 active, __u32 *slot, struct vsn_pkt *p)
{
	struct vsn_prefix_key pk = {.prefixlen = 128};
	const struct vsn_prefix_match *pm;
	void *prefixes;

	p->key.proto = 0;
	p->key.port = 0;
	if (bpf_map_lookup_elem(policies, &p->key))
		return 1;
	if (!(active & VSN_ACTIVE_PREFIXES))
		return 0;
	prefixes = bpf_map_lookup_elem(&vsn_prefix_slots, slot);
	if (!prefixes)
		return 0;
	__builtin_memcpy(pk.addr, p->key.addr, 16);
	pm = bpf_map_lookup_elem(prefixes, &pk);
	return pm && (p->is_v6 || pm->plen > 96);
}

/* Send p to SLB slb_id (its entry slb) under dest d: rewrite or encapsulate, then transmit. */
static __always_inline int forward_to(struct xdp_md *ctx, struct vsn_pkt *p, __u32 slb_id,
				      const struct vsn_slb *slb, const struct vsn_dest *d,
				      __u64 bytes)
{
	__u32 zero = 0;
	int r;

	if (!slb_usable(slb))
		return verdict(VSN_DROP_NO_NEXTHOP, XDP_DROP, bytes);

	if (slb->forward == VSN_FORWARD_IPIP || slb->forward == VSN_FORWARD_GUE) {
		__u32 outer_len = encap_outer_len(p, slb->forward), mtu = encap_mtu(slb);
		const struct vsn_config *cfg = bpf_map_lookup_elem(&vsn_config, &zero);

		if (!cfg || !(cfg->flags & (p->is_v6 ? VSN_CFG_UNDERLAY6 : VSN_CFG_UNDERLAY4)))
			return verdict(VSN_DROP_NO_UNDERLAY, XDP_DROP, bytes);
		r = encap_check_and_hop(ctx, p, mtu, outer_len);
		/* Never an ICMP error about an ICMP error (RFC 1122 3.2.2, RFC 4443 2.4). */
		if (r == VSN_PASS_TOO_BIG && !p->icmp_err) {
			r = vsn_too_big_reply(ctx, p->l3_off | (p->is_v6 ? VSN_REPLY_V6 : 0),
					      p->l3_len, mtu - outer_len, (__u32)bytes);
			return verdict(VSN_REPLY_REASON(r), VSN_REPLY_ACTION(r), bytes);
		}
		if (r)
			return verdict(r, vsn_reason_drops(r) ? XDP_DROP : XDP_PASS, bytes);
		if (slb->forward == VSN_FORWARD_GUE)
			r = gue_encap(ctx, p, slb, cfg);
		else
			r = ipip_encap(ctx, p, slb, cfg, outer_len);
		if (r)
			return verdict(r, XDP_DROP, bytes);
	} else {
		__builtin_memcpy(p->eth->h_dest, slb->dmac, ETH_ALEN);
		__builtin_memcpy(p->eth->h_source, slb->smac, ETH_ALEN);
	}
	return transmit(ctx, slb, slb_id, d, bytes);
}

/*
 * A later fragment goes where its datagram's first fragment went: its SLB
 * and dest into *ret_slb_id and *d, 0. One that arrives first cannot be
 * matched (it has no ports): to a VIP it is dropped and counted, the
 * sender's reassembly timer makes it retransmit; to any other address it is
 * passed untouched. Returns that reason.
 */
static __always_inline int later_fragment(struct vsn_pkt *p, void *policies, __u32 active,
					  __u32 *slot, struct vsn_dest *d, __u32 *ret_slb_id)
{
	const struct vsn_frag *fr;
	struct vsn_frag_key k;

	frag_key(p, &k);
	fr = bpf_map_lookup_elem(&vsn_frags, &k);
	if (!fr)
		return is_vip(policies, active, slot, p) ? VSN_DROP_FRAG_UNMATCHED
							 : VSN_PASS_FRAGMENT;
	d->target = fr->slb_id;
	d->policy_id = fr->policy_id;
	d->service_id = fr->service_id;
	d->flags = VSN_DEST_VALID;
	*ret_slb_id = fr->slb_id;
	return 0;
}

SEC("xdp")
int vsn_forward(struct xdp_md *ctx)
{
	__u64 bytes = ctx->data_end - ctx->data;
	const struct vsn_slot_info *info;
	const struct vsn_dest *dest;
	const struct vsn_slb *slb = NULL;
	struct vsn_dest d = {};
	struct vsn_pkt p = {};
	__u32 zero = 0, *active, slot, slb_id = 0;
	void *policies;
	int r;

	r = parse_packet(ctx, &p);
	if (r)
		return verdict(r, XDP_PASS, bytes);

	/* One read of the slot: this packet sees one generation, whole. */
	active = bpf_map_lookup_elem(&vsn_active, &zero);
	if (!active)
		return verdict(VSN_PASS_NO_VIP, XDP_PASS, bytes);
	slot = *active & VSN_ACTIVE_SLOT;
	policies = bpf_map_lookup_elem(&vsn_policy_slots, &slot);
	if (!policies)
		return verdict(VSN_PASS_NO_VIP, XDP_PASS, bytes);

	if (p.frag == VSN_FRAG_LATER) {
		r = later_fragment(&p, policies, *active, &slot, &d, &slb_id);
		if (r)
			return verdict(r, r == VSN_PASS_FRAGMENT ? XDP_PASS : XDP_DROP, bytes);
	} else {
		dest = match(policies, *active, &slot, &p, &r);
		if (!dest)
			return verdict(r, r == VSN_PASS_NO_VIP ? XDP_PASS : XDP_DROP, bytes);
		/*
		 * A copy on the stack: whichever of a dozen map values matched,
		 * the verifier then sees one kind of dest below and prunes.
		 */
		d = *client_rule(dest, *active, &slot, &p);

		/* The same slot as the policies: the tables of the same generation. */
		info = bpf_map_lookup_elem(&vsn_slot_info, &slot);
		if (!info)
			return verdict(VSN_DROP_NO_NEXTHOP, XDP_DROP, bytes);
		slb_id = pick(slot, info, &d, &p, &slb, &r);
		if (!slb_id)
			return verdict(r, XDP_DROP, bytes);
		if (p.frag == VSN_FRAG_FIRST) {
			struct vsn_frag fr = {slb_id, d.policy_id, d.service_id, 0};
			struct vsn_frag_key k;

			frag_key(&p, &k);
			bpf_map_update_elem(&vsn_frags, &k, &fr, BPF_ANY);
		}
	}
	/* A hit, or a pick of a single SLB, looked it up already; a pool's pick did not. */
	if (!slb)
		slb = bpf_map_lookup_elem(&vsn_slbs, &slb_id);
	return forward_to(ctx, &p, slb_id, slb, &d, bytes);
}
