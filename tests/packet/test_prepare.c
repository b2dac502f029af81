/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The two-phase apply: vsn_dp_set_prepare, then vsn_dp_set_commit or
 * vsn_dp_set_abort, with frames through BPF_PROG_TEST_RUN (ingress lo).
 *
 *   SLB 1  10.0.0.1  egress lo  -> XDP_TX        SLB 3, 4, 5: pool members
 *   SLB 2  10.0.0.2  egress vt0 -> XDP_REDIRECT   (3, 5 egress lo; 4 vt0)
 *   SLB 8  10.0.0.8  egress lo, defined by set B only (its dmac new each time)
 *   SLB 9  10.9.0.9  on vt0's subnet, next hop resolved (a permanent neighbour)
 *
 *   set A: .10 tcp/80 -> SLB 1 (policy 1)   .11 tcp/80 -> SLB 1 (policy 2)
 *   set B: .10 tcp/80 -> SLB 2 (policy 1)   .12 tcp/80 -> SLB 8 (policy 3)
 *          .20 tcp/any -> pool 30 {3, 4, 5} (policy 4, service 2)
 *   set C: .10 tcp/80 -> SLB 3 (policy 1)
 *
 * (VIPs in 192.0.2.0/24.) A frame to .10 tells the three sets apart; .11 and
 * .12 show that no mix of two runs. Every frame is checked whole, with its
 * counters. The running state is also compared as a whole: vsn_meta,
 * vsn_active, the ids of the maps in both slots, and the SLB table.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <cmocka.h>

#include "harness.h"
#include "maglev.h"
#include "vsn/hash.h"

#define CLIENT4 "198.51.100.1"
#define VIP_10 "192.0.2.10"
#define VIP_11 "192.0.2.11"
#define VIP_12 "192.0.2.12"
#define VIP_13 "192.0.2.13"
#define VIP_POOL "192.0.2.20"
#define VIP_POOL2 "192.0.2.30"

#define POOL_B 30
#define POOL_A 40
#define M_SMALL 251
#define SEED 0x70e9a4e1u
#define N_IDS 10 /* SLB ids 1 .. 9 */
#define SLB_NEW 8
#define SLB_RESOLVED 9
#define SLB9_ADDR "10.9.0.9"

static struct h_env env;
static __u8 vt0_mac[6];

static const struct {
	const char *addr;
	bool vt0;
} slbs[N_IDS] = {
	[1] = {"10.0.0.1", false}, [2] = {"10.0.0.2", true},  [3] = {"10.0.0.3", false},
	[4] = {"10.0.0.4", true},  [5] = {"10.0.0.5", false}, [8] = {"10.0.0.8", false},
};

static void slb_macs(__u32 id, __u8 dmac[6], __u8 smac[6])
{
	const __u8 d[6] = {0x02, 0x51, 0, 0, (__u8)id, 0xd}, s[6] = {0x02, 0x51, 0, 0, (__u8)id, 5};

	memcpy(dmac, d, 6);
	memcpy(smac, s, 6);
}

/* SLB 8's dmac ends in this byte: each set B defines it anew, so a write shows. */
static __u8 slb8_seq = 0x80;

static __u64 running_generation(void)
{
	struct vsn_meta m;

	assert_int_equal(vsn_dp_meta(env.dp, &m), 0);
	return m.generation;
}

/* --- Sets. --- */

enum { SET_A, SET_B, SET_C, SET_A_POOL, SET_N };

struct set_def {
	struct vsn_dp_policy pol[5];
	struct vsn_dp_slb slb[2];
	struct vsn_dp_pool pools[2];
	struct vsn_dp_pool_member members[2][3];
	int results[2];
	struct vsn_dp_set set;
};

static void policy(struct vsn_dp_policy *p, const char *vip, __u16 port, __u32 slb_id,
		   __u32 pool_id, __u32 policy_id, __u32 service_id)
{
	memset(p, 0, sizeof(*p));
	assert_int_equal(vsn_addr_parse(vip, &p->vip), 0);
	p->proto = IPPROTO_TCP;
	p->port = port;
	p->slb_id = slb_id;
	p->pool_id = pool_id;
	p->policy_id = policy_id;
	p->service_id = service_id;
	/* Each frame is picked anew under each set, whatever the connection table holds. */
	p->on_change = VSN_ON_CHANGE_REHASH;
}

static void static_slb(struct vsn_dp_slb *s, __u32 id)
{
	memset(s, 0, sizeof(*s));
	s->id = id;
	s->forward = VSN_FORWARD_L2;
	s->state = VSN_SLB_UP;
	s->nexthop_static = true;
	s->ifindex = slbs[id].vt0 ? env.vt0_ifindex : env.lo_ifindex;
	slb_macs(id, s->dmac, s->smac);
	assert_int_equal(vsn_addr_parse(slbs[id].addr, &s->addr), 0);
}

static void pool3(struct set_def *d, int i, __u32 id)
{
	d->members[i][0] = (struct vsn_dp_pool_member){3, 1};
	d->members[i][1] = (struct vsn_dp_pool_member){4, 1};
	d->members[i][2] = (struct vsn_dp_pool_member){5, 1};
	d->pools[i] = (struct vsn_dp_pool){id, 3, d->members[i]};
}

/* Set `which` with the next generation (ret_slb_results set to a canary). */
static struct vsn_dp_set *set_make(struct set_def *d, int which)
{
	size_t n = 0;

	memset(d, 0, sizeof(*d));
	switch (which) {
	case SET_A:
	case SET_A_POOL:
		policy(&d->pol[n++], VIP_10, 80, 1, 0, 1, 1);
		policy(&d->pol[n++], VIP_11, 80, 1, 0, 2, 1);
		if (which == SET_A_POOL) {
			policy(&d->pol[n++], VIP_POOL2, 0, 0, POOL_A, 5, 2);
			pool3(d, 0, POOL_A);
			d->set.n_pools = 1;
		}
		break;
	case SET_B:
		policy(&d->pol[n++], VIP_10, 80, 2, 0, 1, 1);
		policy(&d->pol[n++], VIP_12, 80, SLB_NEW, 0, 3, 1);
		policy(&d->pol[n++], VIP_POOL, 0, 0, POOL_B, 4, 2);
		static_slb(&d->slb[0], SLB_NEW);
		d->slb[0].dmac[5] = ++slb8_seq;
		d->set.n_slbs = 1;
		pool3(d, 0, POOL_B);
		d->set.n_pools = 1;
		break;
	case SET_C:
		policy(&d->pol[n++], VIP_10, 80, 3, 0, 1, 1);
		break;
	}
	d->results[0] = d->results[1] = 12345;
	d->set.generation = running_generation() + 1;
	d->set.n_policies = n;
	d->set.policies = d->pol;
	d->set.slbs = d->slb;
	d->set.ret_slb_results = d->results;
	d->set.pools = d->pools;
	d->set.maglev_size = M_SMALL;
	d->set.hash_seed = SEED;
	return &d->set;
}

static void apply(int which)
{
	struct set_def d;
	size_t bad = 12345;
	int r;

	r = vsn_dp_set_apply(env.dp, set_make(&d, which), &bad);
	if (r)
		fail_msg("apply set %d: %s (entry %zu)", which, strerror(-r), bad);
	assert_int_equal(running_generation(), d.set.generation);
	if (d.set.n_slbs)
		assert_int_equal(d.results[0], 0);
}

static struct vsn_dp_prepared *prepare(struct set_def *d, int which)
{
	struct vsn_dp_prepared *p = NULL;
	size_t bad = 12345;
	int r;

	r = vsn_dp_set_prepare(env.dp, set_make(d, which), &bad, &p);
	if (r)
		fail_msg("prepare set %d: %s (entry %zu)", which, strerror(-r), bad);
	assert_non_null(p);
	assert_int_equal(bad, 12345);
	assert_int_equal(vsn_dp_prepared_generation(p), d->set.generation);
	/* Known at prepare: commit cannot reach the set any more. */
	if (d->set.n_slbs)
		assert_int_equal(d->results[0], 0);
	return p;
}

/* --- Frames to the VIPs of the sets. --- */

enum { F10, F11, F12, F_N };

static const char *const frame_vip[F_N] = {VIP_10, VIP_11, VIP_12};

static void frame(struct pkt *ret, const char *daddr, __u16 sport, const __u8 *dmac,
		  const __u8 *smac)
{
	struct pkt_spec s = {
		.dmac = H_NODE_MAC,
		.smac = H_CLIENT_MAC,
		.l3 = AF_INET,
		.saddr = CLIENT4,
		.daddr = daddr,
		.l4 = IPPROTO_TCP,
		.sport = sport,
		.dport = 80,
		.payload_len = 24,
	};

	if (dmac) {
		memcpy(s.dmac, dmac, 6);
		memcpy(s.smac, smac, 6);
	}
	assert_int_equal(pkt_build(&s, ret), 0);
}

/* Run one frame to daddr:80: forwarded to slb_id whole (dmac, smac), or with 0 passed untouched. */
static void expect_to(const char *name, const char *daddr, __u16 sport, __u32 slb_id,
		      const __u8 *dmac, const __u8 *smac, bool vt0, __u32 policy_id,
		      __u32 service_id)
{
	static struct pkt in, out;

	frame(&in, daddr, sport, NULL, NULL);
	if (!slb_id) {
		h_check(&env, name, &in,
			&(struct h_expect){
				.action = XDP_PASS, .reason = VSN_PASS_NO_VIP, .out = &in});
		return;
	}
	frame(&out, daddr, sport, dmac, smac);
	h_check(&env, name, &in,
		&(struct h_expect){
			.action = vt0 ? XDP_REDIRECT : XDP_TX,
			.reason = vt0 ? VSN_FWD_REDIRECT : VSN_FWD_TX,
			.out = &out,
			.policy_id = policy_id,
			.service_id = service_id,
			.slb_id = slb_id,
		});
}

/* Frames to .10, .11 and .12 must come out as set `which` says, and nothing else. */
static void expect_set(int which, const char *what)
{
	static const __u32 to[SET_N][F_N] = {
		[SET_A] = {1, 1, 0},
		[SET_A_POOL] = {1, 1, 0},
		[SET_B] = {2, 0, SLB_NEW},
		[SET_C] = {3, 0, 0},
	};
	char name[128];

	for (int f = 0; f < F_N; f++) {
		__u32 id = to[which][f];
		__u8 dmac[6], smac[6];

		slb_macs(id, dmac, smac);
		if (id == SLB_NEW)
			dmac[5] = slb8_seq;
		snprintf(name, sizeof(name), "%s: frame to %s", what, frame_vip[f]);
		expect_to(name, frame_vip[f], 40000, id, dmac, smac, id && slbs[id].vt0, f + 1, 1);
	}
}

/* --- The forwarder's state as a whole. --- */

struct snap {
	struct vsn_meta meta;
	__u32 active;
	__u32 ids[2][4]; /* inner map ids per slot: policies, maglev, prefixes, clients */
	struct vsn_slot_info info[2];
	int slb_r[N_IDS];
	struct vsn_slb slb[N_IDS];
};

static int pinned(const char *map)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/maps/%s", env.pin_dir, map);
	fd = bpf_obj_get(path);
	assert_true(fd >= 0);
	return fd;
}

static void snap_take(struct snap *s)
{
	static const char *const outer[4] = {"vsn_policy_slots", "vsn_maglev_slots",
					     "vsn_prefix_slots", "vsn_client_slots"};
	__u32 zero = 0;
	int fd;

	memset(s, 0, sizeof(*s));
	assert_int_equal(vsn_dp_meta(env.dp, &s->meta), 0);
	fd = pinned("vsn_active");
	assert_int_equal(bpf_map_lookup_elem(fd, &zero, &s->active), 0);
	close(fd);
	for (int i = 0; i < 4; i++) {
		fd = pinned(outer[i]);
		for (__u32 slot = 0; slot < 2; slot++)
			if (bpf_map_lookup_elem(fd, &slot, &s->ids[slot][i]))
				assert_int_equal(errno, ENOENT);
		close(fd);
	}
	fd = pinned("vsn_slot_info");
	for (__u32 slot = 0; slot < 2; slot++)
		assert_int_equal(bpf_map_lookup_elem(fd, &slot, &s->info[slot]), 0);
	close(fd);
	for (__u32 id = 1; id < N_IDS; id++)
		s->slb_r[id] = vsn_dp_slb_get(env.dp, id, &s->slb[id]);
}

/*
 * What packets see is as in before: vsn_meta, vsn_active, the running
 * slot's maps and info, the SLB table. With whole, the other slot too.
 */
static void snap_same(const struct snap *before, const char *what, bool whole)
{
	struct snap now;
	__u32 a = before->active & VSN_ACTIVE_SLOT;

	snap_take(&now);
	if (memcmp(&now.meta, &before->meta, sizeof(now.meta)))
		fail_msg("%s: vsn_meta changed (generation %llu -> %llu)", what,
			 (unsigned long long)before->meta.generation,
			 (unsigned long long)now.meta.generation);
	assert_int_equal(now.active, before->active);
	assert_memory_equal(now.ids[a], before->ids[a], sizeof(now.ids[a]));
	assert_memory_equal(&now.info[a], &before->info[a], sizeof(now.info[a]));
	if (whole) {
		assert_memory_equal(now.ids[!a], before->ids[!a], sizeof(now.ids[!a]));
		assert_memory_equal(&now.info[!a], &before->info[!a], sizeof(now.info[!a]));
	}
	for (__u32 id = 1; id < N_IDS; id++) {
		assert_int_equal(now.slb_r[id], before->slb_r[id]);
		if (memcmp(&now.slb[id], &before->slb[id], sizeof(now.slb[id])))
			fail_msg("%s: SLB %u's entry changed", what, id);
	}
}

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int commit(struct vsn_dp_prepared *p, double *ret_ms)
{
	double t = now_ms();
	int r = vsn_dp_set_commit(env.dp, p);

	if (ret_ms)
		*ret_ms = now_ms() - t;
	return r;
}

static void expect_committed(const struct set_def *d, int which, const char *what)
{
	struct vsn_meta m;

	assert_int_equal(vsn_dp_meta(env.dp, &m), 0);
	assert_int_equal(m.generation, d->set.generation);
	assert_int_equal(m.n_policies, d->set.n_policies);
	expect_set(which, what);
}

/* --- 1. Prepare changes nothing packets see; commit switches. --- */

static void test_prepare_then_commit(void **state)
{
	struct vsn_dp_prepared *p;
	struct set_def d;
	struct snap before;
	struct vsn_slb e;
	double ms;

	apply(SET_A);
	snap_take(&before);
	p = prepare(&d, SET_B);
	/* The new SLB 8 is not written, nor is anything else packets read. */
	snap_same(&before, "after prepare", false);
	expect_set(SET_A, "prepared, not committed");
	snap_same(&before, "after prepare and frames", false);

	assert_int_equal(commit(p, &ms), 0);
	print_message("[          ] commit: %.3f ms\n", ms);
	expect_committed(&d, SET_B, "committed");
	assert_int_equal(vsn_dp_slb_get(env.dp, SLB_NEW, &e), 0);
	assert_int_equal(e.dmac[5], slb8_seq);
}

/* --- 2. Abort leaves the running set. --- */

static void test_abort(void **state)
{
	struct vsn_dp_prepared *p;
	struct vsn_dp *other;
	struct vsn_dp_opts o = {.sz = sizeof(o), .pin_dir = env.pin_dir};
	struct set_def d;
	struct snap before;

	apply(SET_A);
	snap_take(&before);
	p = prepare(&d, SET_B);
	vsn_dp_set_abort(env.dp, p);
	vsn_dp_set_abort(env.dp, NULL);
	snap_same(&before, "after abort", false);
	expect_set(SET_A, "aborted");

	/* A prepared set is its dp's: another handle cannot commit it (and frees it). */
	p = prepare(&d, SET_B);
	assert_int_equal(vsn_dp_open(&o, &other), 0);
	assert_int_equal(vsn_dp_set_commit(other, p), -EINVAL);
	vsn_dp_close(other);
	snap_same(&before, "after a commit on another handle", false);
	expect_set(SET_A, "committed on another handle");

	/* The generation is still free, and the next set goes in as usual. */
	assert_int_equal(running_generation(), before.meta.generation);
	apply(SET_C);
	expect_set(SET_C, "applied after the abort");
	assert_int_equal(vsn_dp_set_trim(env.dp), 0);
}

/* --- 3. Another apply between prepare and commit: -ESTALE. --- */

static void test_stale(void **state)
{
	struct vsn_dp_prepared *p;
	struct set_def d, c;
	struct snap before;
	size_t bad = 12345;

	apply(SET_A);
	p = prepare(&d, SET_B);
	apply(SET_C);
	snap_take(&before);
	assert_int_equal(commit(p, NULL), -ESTALE);
	snap_same(&before, "after a stale commit", true);
	expect_set(SET_C, "stale commit refused");

	/* Even when the other apply had the same generation as the prepared set. */
	apply(SET_A);
	p = prepare(&d, SET_B);
	set_make(&c, SET_C);
	assert_int_equal(c.set.generation, d.set.generation);
	assert_int_equal(vsn_dp_set_apply(env.dp, &c.set, &bad), 0);
	snap_take(&before);
	assert_int_equal(commit(p, NULL), -ESTALE);
	snap_same(&before, "after a stale commit of the same generation", true);
	expect_set(SET_C, "stale commit of the same generation refused");
}

/* --- 4. A set prepare refuses changes nothing at all. --- */

static void test_prepare_refused(void **state)
{
	struct vsn_dp_prepared *p, *const canary = (struct vsn_dp_prepared *)&env;
	struct snap before;
	struct set_def d;
	size_t bad;

	apply(SET_A);
	snap_take(&before);

	/* A key twice: -EEXIST, the later policy's index. */
	set_make(&d, SET_B);
	policy(&d.pol[2], VIP_10, 80, 1, 0, 7, 1);
	bad = 12345;
	p = canary;
	assert_int_equal(vsn_dp_set_prepare(env.dp, &d.set, &bad, &p), -EEXIST);
	assert_int_equal(bad, 2);
	assert_ptr_equal(p, canary);
	assert_int_equal(d.results[0], 12345);

	/* A pool member that is not defined: -ENOENT, the pool's index after policies and SLBs. */
	set_make(&d, SET_B);
	d.members[0][1].slb_id = 7;
	bad = 12345;
	assert_int_equal(vsn_dp_set_prepare(env.dp, &d.set, &bad, &p), -ENOENT);
	assert_int_equal(bad, 3 + 1 + 0);
	assert_ptr_equal(p, canary);

	/* Not above the running generation: -ESTALE, no index. */
	set_make(&d, SET_B);
	d.set.generation--;
	bad = 12345;
	assert_int_equal(vsn_dp_set_prepare(env.dp, &d.set, &bad, &p), -ESTALE);
	assert_int_equal(bad, 12345);
	assert_ptr_equal(p, canary);

	/* Not even the inactive slot was touched. */
	snap_same(&before, "after refused prepares", true);
	expect_set(SET_A, "refused prepares");
}

/* --- 5. SLB states between prepare and commit. --- */

static void set_state(__u32 id, enum vsn_slb_state st)
{
	assert_int_equal(vsn_dp_slb_set_state(env.dp, id, st), 0);
}

/*
 * The SLB a new flow from src:sport to VIP_POOL gets from pool {3, 4, 5}
 * with the states given, computed here: the Maglev table of the members up,
 * the flow's entry, the walk past those not up. It must be what
 * vsn_dp_predict says too.
 */
static __u32 expect_pick(const char *src, __u16 sport, const bool up[N_IDS])
{
	struct vsn_maglev_member mb[3];
	struct vsn_flow_key k;
	struct vsn_addr s, d;
	__u32 table[M_SMALL], slot, id = 0, predicted = 0;
	size_t n = 0;

	for (__u32 m = 3; m <= 5; m++)
		if (up[m])
			mb[n++] = (struct vsn_maglev_member){m, 1};
	assert_true(n > 0);
	assert_int_equal(vsn_maglev_build(mb, n, M_SMALL, SEED, table), 0);
	assert_int_equal(vsn_addr_parse(src, &s), 0);
	assert_int_equal(vsn_addr_parse(VIP_POOL, &d), 0);
	vsn_flow_key_make(&s, sport, &d, 80, IPPROTO_TCP, &k);
	slot = vsn_maglev_slot(vsn_flow_hash(k.src, k.dst, k.ports, IPPROTO_TCP, SEED), M_SMALL);
	for (int i = 0; i < VSN_MAGLEV_WALK && !id; i++, slot = (slot + 1) % M_SMALL)
		if (up[table[slot]])
			id = table[slot];
	assert_int_equal(vsn_dp_predict(env.dp, POOL_B, &k, &predicted), 0);
	assert_int_equal(predicted, id);
	return id;
}

/* One frame of the flow src:sport > VIP_POOL:80, which must go to SLB id whole. */
static void flow_check(const char *name, const char *src, __u16 sport, __u32 id)
{
	static struct pkt in, out;
	struct pkt_spec s = {
		.dmac = H_NODE_MAC,
		.smac = H_CLIENT_MAC,
		.l3 = AF_INET,
		.saddr = src,
		.daddr = VIP_POOL,
		.l4 = IPPROTO_TCP,
		.sport = sport,
		.dport = 80,
		.payload_len = 24,
	};

	assert_int_equal(pkt_build(&s, &in), 0);
	slb_macs(id, s.dmac, s.smac);
	assert_int_equal(pkt_build(&s, &out), 0);
	h_check(&env, name, &in,
		&(struct h_expect){
			.action = slbs[id].vt0 ? XDP_REDIRECT : XDP_TX,
			.reason = slbs[id].vt0 ? VSN_FWD_REDIRECT : VSN_FWD_TX,
			.out = &out,
			.policy_id = 4,
			.service_id = 2,
			.slb_id = id,
		});
}

#define N_FLOWS 90

/* N_FLOWS new flows to pool B, each to its pick under the states up; how many went to each SLB. */
static void pool_flows(const char *what, const bool up[N_IDS], unsigned int count[N_IDS])
{
	static unsigned int seq;
	char src[32], name[160];

	memset(count, 0, N_IDS * sizeof(*count));
	assert_int_equal(vsn_dp_flows_clear(env.dp), 0);
	for (int i = 0; i < N_FLOWS; i++, seq++) {
		__u16 sport = 1024 + seq % 50000;
		__u32 id;

		snprintf(src, sizeof(src), "198.18.%u.%u", seq / 250 % 256, seq % 250 + 1);
		id = expect_pick(src, sport, up);
		assert_true(id >= 3 && id <= 5);
		snprintf(name, sizeof(name), "%s: %s.%u", what, src, sport);
		flow_check(name, src, sport, id);
		count[id]++;
	}
	print_message("[          ] %s: SLB 3: %u, 4: %u, 5: %u\n", what, count[3], count[4],
		      count[5]);
}

/*
 * SLB 4 goes down between prepare and commit, then (another time) comes up:
 * the committed set's pool must be built from the states at commit. Once
 * with a running set without pools (a state change rebuilds nothing then),
 * once with one whose pool has SLB 4 (its rebuild flips, and so displaces
 * the prepared set from its slot).
 */
static void state_change_run(int running, const char *what)
{
	bool up[N_IDS] = {[3] = true, [4] = true, [5] = true};
	unsigned int count[N_IDS];
	struct vsn_dp_prepared *p;
	struct set_def d;
	char name[96];

	/* Down after prepare. */
	apply(running);
	p = prepare(&d, SET_B);
	set_state(4, VSN_SLB_DOWN);
	assert_int_equal(commit(p, NULL), 0);
	expect_committed(&d, SET_B, what);
	up[4] = false;
	snprintf(name, sizeof(name), "%s, 4 down since prepare", what);
	pool_flows(name, up, count);
	assert_int_equal(count[4], 0);

	/* Up after prepare: it must get its share. */
	apply(running);
	p = prepare(&d, SET_B);
	set_state(4, VSN_SLB_UP);
	assert_int_equal(commit(p, NULL), 0);
	expect_committed(&d, SET_B, what);
	up[4] = true;
	snprintf(name, sizeof(name), "%s, 4 up since prepare", what);
	pool_flows(name, up, count);
	assert_true(count[3] > 0 && count[4] > 0 && count[5] > 0);
}

static void test_state_change(void **state)
{
	state_change_run(SET_A, "running set without pools");
	state_change_run(SET_A_POOL, "running set with a pool");
}

/*
 * An SLB the set defines itself gets the set's state at commit, as an apply
 * then would: a state change since prepare is overwritten, and the tables
 * were built with the set's state.
 */
static void test_state_of_own_slb(void **state)
{
	bool up[N_IDS] = {[3] = true, [4] = true, [5] = true};
	unsigned int count[N_IDS];
	struct vsn_dp_prepared *p;
	struct set_def d;
	struct vsn_slb e;
	size_t bad = 12345;

	apply(SET_A);
	set_make(&d, SET_B);
	static_slb(&d.slb[1], 5);
	d.set.n_slbs = 2;
	assert_int_equal(vsn_dp_set_prepare(env.dp, &d.set, &bad, &p), 0);
	assert_int_equal(d.results[1], 0);
	set_state(5, VSN_SLB_DOWN);
	assert_int_equal(commit(p, NULL), 0);
	expect_committed(&d, SET_B, "set defines SLB 5");
	assert_int_equal(vsn_dp_slb_get(env.dp, 5, &e), 0);
	assert_int_equal(e.state, VSN_SLB_UP);
	pool_flows("set defines SLB 5 up, down since prepare", up, count);
	assert_true(count[5] > 0);
}

/* --- 6. The prepared set displaced from its slot. --- */

static void test_displaced(void **state)
{
	struct vsn_dp_prepared *p, *q;
	struct set_def d, e;
	double ms;

	/* A trim empties the inactive slot. */
	apply(SET_A);
	p = prepare(&d, SET_B);
	assert_int_equal(vsn_dp_set_trim(env.dp), 0);
	expect_set(SET_A, "trimmed after prepare");
	assert_int_equal(commit(p, &ms), 0);
	print_message("[          ] commit after a trim (staged again): %.3f ms\n", ms);
	expect_committed(&d, SET_B, "committed after a trim");

	/* A second prepare takes the slot; the first is committed, the second then is stale. */
	apply(SET_A);
	p = prepare(&d, SET_C);
	q = prepare(&e, SET_B);
	assert_int_equal(e.set.generation, d.set.generation);
	expect_set(SET_A, "two prepared");
	assert_int_equal(commit(p, NULL), 0);
	expect_committed(&d, SET_C, "the first of two prepared");
	assert_int_equal(commit(q, NULL), -ESTALE);
	expect_set(SET_C, "the second of two prepared");

	/* An SLB state change with a pool running rebuilds and flips: the slots swap under it. */
	apply(SET_A_POOL);
	p = prepare(&d, SET_C);
	set_state(3, VSN_SLB_DOWN);
	set_state(3, VSN_SLB_UP); /* two flips: the active slot is the same again */
	expect_set(SET_A_POOL, "slots flipped twice");
	assert_int_equal(commit(p, NULL), 0);
	expect_committed(&d, SET_C, "committed after two flips");
}

/* --- 7. Next hops: resolved at prepare, unless a refresh changed them since. --- */

static int neigh(__u8 last)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd),
		 "ip neigh replace " SLB9_ADDR " lladdr 02:09:00:00:00:%02x dev vt0 nud permanent",
		 last);
	return system(cmd);
}

/* SLB 9's entry must have the neighbour's MAC ending in last, and frames to .13 go there. */
static void expect_slb9(__u8 last, const char *what)
{
	const __u8 dmac[6] = {0x02, 0x09, 0, 0, 0, last};
	struct vsn_slb e;

	assert_int_equal(vsn_dp_slb_get(env.dp, SLB_RESOLVED, &e), 0);
	assert_true(e.flags & VSN_SLB_RESOLVED);
	if (memcmp(e.dmac, dmac, 6))
		fail_msg("%s: SLB 9's next hop ends in %02x, expected %02x", what, e.dmac[5], last);
	expect_to(what, VIP_13, 40000, SLB_RESOLVED, dmac, vt0_mac, true, 6, 1);
}

static void test_nexthop(void **state)
{
	struct vsn_dp_slb s9 = {.id = SLB_RESOLVED, .forward = VSN_FORWARD_L2, .state = VSN_SLB_UP};
	struct vsn_dp_prepared *p;
	unsigned int changed = 0;
	struct set_def d;
	size_t bad = 12345;

	assert_int_equal(vsn_addr_parse(SLB9_ADDR, &s9.addr), 0);
	assert_int_equal(neigh(1), 0);
	assert_int_equal(vsn_dp_slb_set(env.dp, &s9), 0);

	/* A refresh between prepare and commit: its next hop stays. */
	set_make(&d, SET_A);
	policy(&d.pol[2], VIP_13, 80, SLB_RESOLVED, 0, 6, 1);
	d.slb[0] = s9;
	d.set.n_policies = 3;
	d.set.n_slbs = 1;
	assert_int_equal(vsn_dp_set_prepare(env.dp, &d.set, &bad, &p), 0);
	assert_int_equal(d.results[0], 0);
	assert_int_equal(neigh(2), 0);
	assert_int_equal(vsn_dp_slbs_refresh(env.dp, &changed), 0);
	assert_int_equal(changed, 1);
	assert_int_equal(commit(p, NULL), 0);
	expect_slb9(2, "refreshed between prepare and commit");

	/* No refresh since prepare: what prepare resolved goes in, not the table's older one. */
	assert_int_equal(neigh(3), 0);
	set_make(&d, SET_A);
	policy(&d.pol[2], VIP_13, 80, SLB_RESOLVED, 0, 6, 1);
	d.slb[0] = s9;
	d.set.n_policies = 3;
	d.set.n_slbs = 1;
	assert_int_equal(vsn_dp_set_prepare(env.dp, &d.set, &bad, &p), 0);
	assert_int_equal(commit(p, NULL), 0);
	expect_slb9(3, "resolved at prepare");
}

/* --- 8. vsn_dp_set_apply is prepare and commit in one. --- */

static void test_apply_is_both(void **state)
{
	struct set_def d;
	size_t bad = 12345;
	double t;

	apply(SET_A);
	t = now_ms();
	assert_int_equal(vsn_dp_set_apply(env.dp, set_make(&d, SET_B), &bad), 0);
	print_message("[          ] apply: %.3f ms\n", now_ms() - t);
	assert_int_equal(d.results[0], 0);
	expect_committed(&d, SET_B, "applied");
	pool_flows("applied", (bool[N_IDS]){[3] = true, [4] = true, [5] = true},
		   (unsigned int[N_IDS]){0});
}

static int reset(void **state)
{
	for (__u32 id = 1; id <= 5; id++)
		if (vsn_dp_slb_set_state(env.dp, id, VSN_SLB_UP))
			return -1;
	return 0;
}

static int iface_mac(const char *ifname, __u8 mac[6])
{
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		r = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	return r;
}

static int setup(void **state)
{
	struct vsn_dp_set a = {.generation = 1};
	int r;

	r = h_open(&env);
	if (r) {
		fprintf(stderr, "setup: h_open: %s\n", strerror(-r));
		return -1;
	}
	for (__u32 id = 1; id <= 5 && !r; id++) {
		__u8 dmac[6], smac[6];

		slb_macs(id, dmac, smac);
		r = h_slb_static(&env, id, slbs[id].addr,
				 slbs[id].vt0 ? env.vt0_ifindex : env.lo_ifindex, dmac, smac);
	}
	if (!r)
		r = iface_mac("vt0", vt0_mac);
	/* SLB 9's subnet on vt0, for a next hop that resolves. */
	if (!r && system("ip addr add 10.9.0.1/24 dev vt0"))
		r = -EIO;
	/* Something runs before the first test's apply. */
	if (!r)
		r = vsn_dp_set_apply(env.dp, &a, NULL);
	if (r) {
		fprintf(stderr, "setup: %s\n", strerror(-r));
		h_close(&env);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	h_close(&env);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_prepare_then_commit, reset),
		cmocka_unit_test_setup(test_abort, reset),
		cmocka_unit_test_setup(test_stale, reset),
		cmocka_unit_test_setup(test_prepare_refused, reset),
		cmocka_unit_test_setup(test_state_change, reset),
		cmocka_unit_test_setup(test_state_of_own_slb, reset),
		cmocka_unit_test_setup(test_displaced, reset),
		cmocka_unit_test_setup(test_nexthop, reset),
		cmocka_unit_test_setup(test_apply_is_both, reset),
	};
	int r;

	r = h_init();
	if (r)
		return r;
	return cmocka_run_group_tests(tests, setup, teardown);
}
