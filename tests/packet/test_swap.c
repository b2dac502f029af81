/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Policy set swaps under traffic, and sets that vsn_dp_set_apply refuses.
 *
 *   SLB 1  10.0.0.1  egress lo (the ingress)  -> XDP_TX
 *   SLB 2  10.0.0.2  egress vt0               -> XDP_REDIRECT
 *
 *   set A: 192.0.2.10 tcp/80 -> SLB 1 (policy 1)   192.0.2.11 tcp/80 -> SLB 1 (policy 2)
 *   set B: 192.0.2.10 tcp/80 -> SLB 2 (policy 1)   192.0.2.12 tcp/80 -> SLB 2 (policy 3)
 *
 * A frame to 192.0.2.10 goes out by XDP_TX to SLB 1 under A and by redirect
 * to SLB 2 under B; one to 192.0.2.11 goes to SLB 1 under A and is no VIP's
 * (passed untouched) under B. Any other outcome while sets swap means a
 * frame saw a mix of two sets, or an empty table.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>
#include <linux/bpf.h>
#include <cmocka.h>

#include "harness.h"

/*
 * Each apply waits for RCU grace periods (three map-in-map updates). On the
 * 2-core test machine (kernel 6.18) a swap took 43 ms with the runner busy
 * (79 ms on an idle machine), so 2,000 swaps took 86 s: over the ~60 s
 * budget, hence 1,000 (about 45 s). The runner saw every one of them.
 */
#define SWAPS 1000

#define CLIENT4 "198.51.100.1"
#define VIP_BOTH "192.0.2.10"
#define VIP_A_ONLY "192.0.2.11"
#define VIP_B_ONLY "192.0.2.12"

static const __u8 slb1_dmac[6] = {0x02, 0x51, 0, 0, 1, 0xd},
		  slb1_smac[6] = {0x02, 0x51, 0, 0, 1, 0x5};
static const __u8 slb2_dmac[6] = {0x02, 0x51, 0, 0, 2, 0xd},
		  slb2_smac[6] = {0x02, 0x51, 0, 0, 2, 0x5};

static struct h_env env;

enum { SET_A, SET_B, N_SETS };
enum { PKT_BOTH, PKT_A_ONLY, N_PKTS };

/* Input frames, and what each must come out as under each set. */
static struct pkt in[N_PKTS];
static struct {
	__u32 action;
	struct pkt out;
} want[N_PKTS][N_SETS];

static struct vsn_dp_policy set_a[2], set_b[2];

static void policy(struct vsn_dp_policy *p, const char *vip, __u16 port, __u32 slb, __u32 id)
{
	memset(p, 0, sizeof(*p));
	vsn_addr_parse(vip, &p->vip);
	p->proto = IPPROTO_TCP;
	p->port = port;
	p->slb_id = slb;
	p->service_id = 1;
	p->policy_id = id;
	/*
	 * Rehash: every frame is one flow; with preserve it would keep the
	 * SLB the connection table remembers from the first set, and the
	 * frames would not show which generation they saw.
	 */
	p->on_change = VSN_ON_CHANGE_REHASH;
}

static int frame(struct pkt *ret, const char *daddr, const __u8 *dmac, const __u8 *smac)
{
	struct pkt_spec s = {
		.dmac = H_NODE_MAC,
		.smac = H_CLIENT_MAC,
		.l3 = AF_INET,
		.saddr = CLIENT4,
		.daddr = daddr,
		.l4 = IPPROTO_TCP,
		.sport = 40000,
		.dport = 80,
		.payload_len = 32,
	};

	if (dmac) {
		memcpy(s.dmac, dmac, 6);
		memcpy(s.smac, smac, 6);
	}
	return pkt_build(&s, ret);
}

static int apply(const struct vsn_dp_policy *pol, size_t n, __u64 generation)
{
	struct vsn_dp_set set = {.generation = generation, .n_policies = n, .policies = pol};
	size_t bad = 0;

	return vsn_dp_set_apply(env.dp, &set, &bad);
}

static __u64 running_generation(void)
{
	struct vsn_meta m;

	assert_int_equal(vsn_dp_meta(env.dp, &m), 0);
	return m.generation;
}

/* Run frame p and check it against set s's expected outcome. */
static void expect(int p, int s, const char *name)
{
	bool fwd = want[p][s].action != XDP_PASS;

	h_check(&env, name, &in[p],
		&(struct h_expect){
			.action = want[p][s].action,
			.reason = !fwd				? VSN_PASS_NO_VIP
				  : want[p][s].action == XDP_TX ? VSN_FWD_TX
								: VSN_FWD_REDIRECT,
			.out = &want[p][s].out,
			.policy_id = p == PKT_BOTH ? 1 : 2,
			.service_id = 1,
			.slb_id = want[p][s].action == XDP_TX ? 1 : 2,
		});
}

/* --- Refused sets leave the running one alone. --- */

struct refusal {
	const char *name;
	struct vsn_dp_policy pol[4];
	size_t n;
	struct vsn_dp_slb slbs[2]; /* defined with the set */
	size_t n_slbs;
	int gen_delta; /* the set's generation: the running one + gen_delta */
	int err;
	size_t bad; /* expected *ret_bad; SIZE_MAX: must stay untouched */
};

static void check_refused(struct refusal *r)
{
	struct vsn_dp_set set = {
		.n_policies = r->n, .policies = r->pol, .n_slbs = r->n_slbs, .slbs = r->slbs};
	struct vsn_slb slb1_before, slb1_after;
	struct vsn_meta before, after;
	size_t bad;

	assert_int_equal(vsn_dp_meta(env.dp, &before), 0);
	assert_int_equal(vsn_dp_slb_get(env.dp, 1, &slb1_before), 0);
	set.generation = before.generation + r->gen_delta;

	bad = 12345;
	assert_int_equal(vsn_dp_set_validate(env.dp, &set, &bad), r->err);
	assert_int_equal(bad, r->bad == SIZE_MAX ? 12345 : r->bad);
	bad = 12345;
	assert_int_equal(vsn_dp_set_apply(env.dp, &set, &bad), r->err);
	assert_int_equal(bad, r->bad == SIZE_MAX ? 12345 : r->bad);

	assert_int_equal(vsn_dp_meta(env.dp, &after), 0);
	assert_int_equal(after.generation, before.generation);
	assert_int_equal(after.n_policies, before.n_policies);
	assert_memory_equal(&before, &after, sizeof(before));
	/* The set's SLBs were not written either. */
	assert_int_equal(vsn_dp_slb_get(env.dp, 1, &slb1_after), 0);
	assert_memory_equal(&slb1_before, &slb1_after, sizeof(slb1_before));
	/* Set A still runs, whole. */
	expect(PKT_BOTH, SET_A, r->name);
	expect(PKT_A_ONLY, SET_A, r->name);
}

static void test_refuse_duplicate(void **state)
{
	struct refusal r = {.name = "duplicate (vip, tcp, 80)",
			    .n = 3,
			    .gen_delta = 1,
			    .err = -EEXIST,
			    .bad = 2};

	policy(&r.pol[0], VIP_BOTH, 80, 2, 1);
	policy(&r.pol[1], VIP_B_ONLY, 80, 2, 3);
	policy(&r.pol[2], VIP_BOTH, 80, 1, 4);
	check_refused(&r);

	/* Two any-port policies for one VIP and protocol. */
	r.name = "duplicate (vip, tcp, any)";
	r.n = 4;
	policy(&r.pol[0], VIP_B_ONLY, 0, 2, 1);
	policy(&r.pol[1], VIP_BOTH, 80, 2, 2);
	policy(&r.pol[2], VIP_B_ONLY, 443, 2, 3);
	policy(&r.pol[3], VIP_B_ONLY, 0, 1, 4);
	r.bad = 3;
	check_refused(&r);
}

/* Two policies on one counter would make both counts wrong. */
static void test_refuse_duplicate_policy_id(void **state)
{
	struct refusal r = {
		.name = "policy id twice", .n = 2, .gen_delta = 1, .err = -ENOTUNIQ, .bad = 1};

	policy(&r.pol[0], VIP_BOTH, 80, 2, 7);
	policy(&r.pol[1], VIP_B_ONLY, 80, 2, 7);
	check_refused(&r);
}

/* A set that redefines SLB 1 (down) but is refused leaves SLB 1 as it was. */
static void test_refuse_with_slbs(void **state)
{
	struct refusal r = {.name = "stale set with an slb",
			    .n = 1,
			    .n_slbs = 1,
			    .gen_delta = 0,
			    .err = -ESTALE,
			    .bad = SIZE_MAX};

	policy(&r.pol[0], VIP_BOTH, 80, 1, 1);
	r.slbs[0] = (struct vsn_dp_slb){
		.id = 1, .state = VSN_SLB_DOWN, .nexthop_static = true, .ifindex = env.lo_ifindex};
	vsn_addr_parse("10.0.0.1", &r.slbs[0].addr);
	check_refused(&r);

	/* An SLB of the set that is malformed: named after the policies. */
	r.name = "slb id beyond capacity";
	r.gen_delta = 1;
	r.n_slbs = 2;
	r.slbs[1] = r.slbs[0];
	r.slbs[1].id = 1u << 30;
	r.err = -ERANGE;
	r.bad = 1 + 1;
	check_refused(&r);

	r.name = "slb id twice in the set";
	r.slbs[1].id = 1;
	r.err = -EEXIST;
	check_refused(&r);

	r.name = "slb in ::ffff:0:0/96";
	r.n_slbs = 1;
	vsn_addr_parse("::ffff:10.0.0.1", &r.slbs[0].addr);
	r.err = -EINVAL;
	r.bad = 1;
	check_refused(&r);
}

static void test_refuse_stale(void **state)
{
	struct refusal r = {
		.name = "generation = running", .n = 1, .err = -ESTALE, .bad = SIZE_MAX};

	assert_true(running_generation() >= 1);
	policy(&r.pol[0], VIP_BOTH, 80, 2, 1);
	r.gen_delta = 0;
	check_refused(&r);
	r.name = "generation below running";
	r.gen_delta = -1;
	check_refused(&r);
}

static void test_refuse_undefined_slb(void **state)
{
	struct refusal r = {
		.name = "undefined slb 7", .n = 2, .gen_delta = 1, .err = -ENOENT, .bad = 1};

	policy(&r.pol[0], VIP_BOTH, 80, 2, 1);
	policy(&r.pol[1], VIP_B_ONLY, 80, 7, 3);
	check_refused(&r);
}

/*
 * An IPv6 VIP in the v4-mapped range has the same table key as the IPv4
 * address it maps: ::ffff:192.0.2.99 would make IPv4 frames to 192.0.2.99
 * match an IPv6 policy. The set must be refused (-EINVAL, its index).
 */
static void test_refuse_v4mapped_vip(void **state)
{
	struct refusal r = {.name = "v6 vip ::ffff:192.0.2.99",
			    .n = 2,
			    .gen_delta = 1,
			    .err = -EINVAL,
			    .bad = 1};

	policy(&r.pol[0], VIP_BOTH, 80, 1, 1);
	policy(&r.pol[1], "::ffff:192.0.2.99", 80, 1, 3);
	check_refused(&r);
}

/* --- Swaps under traffic. --- */

struct runner {
	pthread_t thread;
	atomic_bool stop;
	atomic_ulong runs;
	/* Written by the runner only; read after the join. */
	unsigned long seen[N_PKTS][N_SETS];
	unsigned long changes[N_PKTS]; /* outcome differs from that frame's previous one */
	unsigned long other;
	int err;
	int bad_pkt;
	__u32 bad_action;
	struct pkt bad_out;
};

static int outcome(int p, __u32 action, const struct pkt *out)
{
	for (int s = 0; s < N_SETS; s++)
		if (action == want[p][s].action && out->len == want[p][s].out.len &&
		    !memcmp(out->data, want[p][s].out.data, out->len))
			return s;
	return -1;
}

static void *runner_main(void *arg)
{
	struct runner *r = arg;
	static struct pkt out;
	int last[N_PKTS] = {-1, -1};
	__u32 action;

	for (unsigned long i = 0; !atomic_load(&r->stop); i++) {
		int p = i % N_PKTS, s, e;

		e = h_run(&env, &in[p], &out, &action);
		if (e) {
			r->err = e;
			break;
		}
		atomic_fetch_add(&r->runs, 1);
		s = outcome(p, action, &out);
		if (s < 0) {
			if (!r->other++) {
				r->bad_pkt = p;
				r->bad_action = action;
				r->bad_out = out;
			}
			continue;
		}
		r->seen[p][s]++;
		if (last[p] >= 0 && last[p] != s)
			r->changes[p]++;
		last[p] = s;
	}
	return NULL;
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void test_swap_under_traffic(void **state)
{
	static struct runner r;
	__u64 gen = running_generation();
	double t0, t;
	int last = SET_A;

	/* Start from A, whatever ran before. */
	assert_int_equal(apply(set_a, 2, ++gen), 0);
	expect(PKT_BOTH, SET_A, "before the swaps");

	memset(&r, 0, sizeof(r));
	assert_int_equal(pthread_create(&r.thread, NULL, runner_main, &r), 0);
	while (!atomic_load(&r.runs))
		sched_yield();

	t0 = now_s();
	for (int i = 0; i < SWAPS; i++) {
		int e;

		last = i % 2 ? SET_A : SET_B;
		e = last == SET_A ? apply(set_a, 2, ++gen) : apply(set_b, 2, ++gen);
		if (e) {
			atomic_store(&r.stop, true);
			pthread_join(r.thread, NULL);
			fail_msg("swap %d (generation %llu): %s", i, (unsigned long long)gen,
				 strerror(-e));
		}
	}
	t = now_s() - t0;
	atomic_store(&r.stop, true);
	assert_int_equal(pthread_join(r.thread, NULL), 0);

	print_message("[          ] %d swaps in %.1f s (%.2f ms each), %lu frames run\n", SWAPS, t,
		      t * 1000 / SWAPS, (unsigned long)atomic_load(&r.runs));
	for (int p = 0; p < N_PKTS; p++)
		print_message("[          ] frame to %s: set A %lu, set B %lu, changes %lu\n",
			      p == PKT_BOTH ? VIP_BOTH : VIP_A_ONLY, r.seen[p][SET_A],
			      r.seen[p][SET_B], r.changes[p]);
	assert_int_equal(r.err, 0);
	if (r.other) {
		print_error("%lu frames had an outcome of neither set; the first: frame %d, %s\n",
			    r.other, r.bad_pkt, h_action_name(r.bad_action));
		pkt_hexdump(stderr, "  got", r.bad_out.data, r.bad_out.len, NULL, 0);
		fail_msg("frames saw neither set A nor set B");
	}
	/* Both sets must have been seen many times, and the outcome must have flipped often. */
	for (int p = 0; p < N_PKTS; p++) {
		assert_true(r.seen[p][SET_A] >= 100);
		assert_true(r.seen[p][SET_B] >= 100);
		assert_true(r.changes[p] >= SWAPS / 20);
	}

	/* Settled: the last set applied runs, with its generation. */
	assert_int_equal(running_generation(), gen);
	expect(PKT_BOTH, last, "after the swaps");
	expect(PKT_A_ONLY, last, "after the swaps");
}

static int setup(void **state)
{
	int r;

	r = h_open(&env);
	if (r) {
		fprintf(stderr, "setup: h_open: %s\n", strerror(-r));
		return -1;
	}
	r = h_slb_static(&env, 1, "10.0.0.1", env.lo_ifindex, slb1_dmac, slb1_smac);
	if (!r)
		r = h_slb_static(&env, 2, "10.0.0.2", env.vt0_ifindex, slb2_dmac, slb2_smac);
	if (!r)
		r = frame(&in[PKT_BOTH], VIP_BOTH, NULL, NULL);
	if (!r)
		r = frame(&in[PKT_A_ONLY], VIP_A_ONLY, NULL, NULL);
	if (!r)
		r = frame(&want[PKT_BOTH][SET_A].out, VIP_BOTH, slb1_dmac, slb1_smac);
	if (!r)
		r = frame(&want[PKT_BOTH][SET_B].out, VIP_BOTH, slb2_dmac, slb2_smac);
	if (!r)
		r = frame(&want[PKT_A_ONLY][SET_A].out, VIP_A_ONLY, slb1_dmac, slb1_smac);
	if (!r)
		r = frame(&want[PKT_A_ONLY][SET_B].out, VIP_A_ONLY, NULL, NULL);
	if (r) {
		fprintf(stderr, "setup: %s\n", strerror(-r));
		goto fail;
	}
	want[PKT_BOTH][SET_A].action = XDP_TX;
	want[PKT_BOTH][SET_B].action = XDP_REDIRECT;
	want[PKT_A_ONLY][SET_A].action = XDP_TX;
	want[PKT_A_ONLY][SET_B].action = XDP_PASS;

	policy(&set_a[0], VIP_BOTH, 80, 1, 1);
	policy(&set_a[1], VIP_A_ONLY, 80, 1, 2);
	policy(&set_b[0], VIP_BOTH, 80, 2, 1);
	policy(&set_b[1], VIP_B_ONLY, 80, 2, 3);
	r = apply(set_a, 2, 1);
	if (r) {
		fprintf(stderr, "setup: apply set A: %s\n", strerror(-r));
		goto fail;
	}
	return 0;
fail:
	h_close(&env);
	return -1;
}

static int teardown(void **state)
{
	h_close(&env);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refuse_duplicate),
		cmocka_unit_test(test_refuse_duplicate_policy_id),
		cmocka_unit_test(test_refuse_with_slbs),
		cmocka_unit_test(test_refuse_stale),
		cmocka_unit_test(test_refuse_undefined_slb),
		cmocka_unit_test(test_swap_under_traffic),
		/* Last: if the set is (wrongly) accepted, it replaces the running one. */
		cmocka_unit_test(test_refuse_v4mapped_vip),
	};
	int r;

	r = h_init();
	if (r)
		return r;
	return cmocka_run_group_tests(tests, setup, teardown);
}
