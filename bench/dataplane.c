/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The data-plane cases: the forwarder (or, for decap, the SLB side's decap
 * program) run through BPF_PROG_TEST_RUN with repeat, behind
 * bpf/bench.bpf.c's wrapper, against the floor program run through the
 * same wrapper, interleaved with it run by run.
 *
 * Every run is checked, outside the timed call: the verdict, the output
 * packet, the program's reason counter, which must move by exactly the
 * number of repetitions (the floor's runs must not move it at all), and the
 * connection table's events (new flows, hits: as the case intends, nothing
 * else). An ipip or gue case's output must be the original packet
 * encapsulated exactly once, byte for byte (gue: its UDP checksum too); decap's, the inner packet
 * decapsulated once; a pool case's, the packet at the SLB that Maglev gives the flow of the last
 * repetition. The prefix cases' policy and SLB counters must move by the repetitions too, and
 * every set's vsn_active flags must say whether it has prefixes and client rules.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench.h"
#include "bench.skel.h"

/* Spread: the VIP index steps by this modulo the table (made coprime to it). */
#define SPREAD_MULTIPLIER 2654435761u
/* Policy counters sampled to prove the spread covers the table. */
#define SPREAD_SAMPLES 64

const char *const bench_case_names[CASE_MAX] = {
	[CASE_TCP_SYN_L2] = "tcp_syn_l2",
	[CASE_UDP_L2] = "udp_l2",
	[CASE_TCP_SYN_IPV6_L2] = "tcp_syn_ipv6_l2",
	[CASE_MISS] = "miss",
	[CASE_TCP_SYN_L2_SPREAD] = "tcp_syn_l2_spread",
	[CASE_TCP_SYN_IPIP] = "tcp_syn_ipip",
	[CASE_UDP_IPIP] = "udp_ipip",
	[CASE_TCP_SYN_IPV6_IPIP] = "tcp_syn_ipv6_ipip",
	[CASE_TCP_SYN_IPIP_SPREAD] = "tcp_syn_ipip_spread",
	[CASE_GUE] = "gue",
	[CASE_GUE_IPV6] = "gue_ipv6",
	[CASE_POOL_SYN] = "pool_syn",
	[CASE_POOL_ESTABLISHED] = "pool_established",
	[CASE_POOL_ESTABLISHED_SPREAD] = "pool_established_spread",
	[CASE_VIP_RANGE] = "vip_range",
	[CASE_CLIENT_PREFIX] = "client_prefix",
	[CASE_MISS_WITH_PREFIXES] = "miss_with_prefixes",
	[CASE_DECAP] = "decap",
	[CASE_DECAP_GUE] = "decap_gue",
};

/* What the wrapper's spread rewrites before each repetition. */
enum spread {
	SPREAD_NONE,
	SPREAD_VIP,   /* the destination, over the table's IPv4 tcp/80 VIPs */
	SPREAD_FLOWS, /* the source, over BENCH_SPREAD_FLOWS addresses: as many flows */
	SPREAD_SYN,   /* the source, over addresses no packet had before: all new flows */
};

/*
 * What the connection table does in a run: every repetition is a new flow,
 * a hit, or either; no other flow event (insert bound, re-pick, rehash,
 * skipped entry) may happen.
 */
enum flows {
	FLOWS_NONE, /* no flow event: the packet never reaches the table */
	FLOWS_HIT,
	FLOWS_NEW,
	FLOWS_NEW_OR_HIT,
};

static const char *const flows_names[] = {
	[FLOWS_NONE] = "no flow event",
	[FLOWS_HIT] = "one hit per repetition",
	[FLOWS_NEW] = "one new flow per repetition",
	[FLOWS_NEW_OR_HIT] = "one new flow or hit per repetition",
};

struct case_def {
	unsigned int need; /* enum bench_extra: the VIP it addresses */
	/* Moves by one per repetition: enum vsn_reason, or vsn_decap_reason for decap. */
	unsigned int reason;
	int verdict;
	enum spread spread;
	enum vsn_forward forward; /* of the set's SLBs */
	bool decap;		  /* the decap program, not the forwarder; no set */
	bool pool;		  /* its VIP's policy goes to the pool */
	enum flows flows;	  /* in a timed run */
	bool prefixes;		  /* the prefix shape (bench_layout_prefixes) */
	bool rules;		  /* it needs the client rules (else the prefixes) */
	/*
	 * The prefix hits: the policy (of the /24, or of the VIP that has the
	 * rules) and the SLB (slb, or the set's) whose counters must move by
	 * one per repetition.
	 */
	bool counted;
	__u32 slb;
};

#define L2 VSN_FORWARD_L2
#define IPIP VSN_FORWARD_IPIP
#define GUE VSN_FORWARD_GUE
#define HIT_TX .reason = VSN_FWD_TX, .verdict = XDP_TX

static const struct case_def case_defs[CASE_MAX] = {
	[CASE_TCP_SYN_L2] = {HIT_TX, .forward = L2, .flows = FLOWS_HIT},
	[CASE_UDP_L2] = {HIT_TX, .need = BENCH_EXTRA_UDP, .forward = L2, .flows = FLOWS_HIT},
	[CASE_TCP_SYN_IPV6_L2] = {HIT_TX, .need = BENCH_EXTRA_V6, .forward = L2,
				  .flows = FLOWS_HIT},
	[CASE_MISS] = {.reason = VSN_PASS_NO_VIP,
		       .verdict = XDP_PASS,
		       .forward = L2,
		       .flows = FLOWS_NONE},
	/* The flows of the VIPs not visited before are new. */
	[CASE_TCP_SYN_L2_SPREAD] = {HIT_TX, .spread = SPREAD_VIP, .forward = L2,
				    .flows = FLOWS_NEW_OR_HIT},
	[CASE_TCP_SYN_IPIP] = {HIT_TX, .forward = IPIP, .flows = FLOWS_HIT},
	[CASE_UDP_IPIP] = {HIT_TX, .need = BENCH_EXTRA_UDP, .forward = IPIP, .flows = FLOWS_HIT},
	[CASE_TCP_SYN_IPV6_IPIP] = {HIT_TX, .need = BENCH_EXTRA_V6, .forward = IPIP,
				    .flows = FLOWS_HIT},
	[CASE_TCP_SYN_IPIP_SPREAD] = {HIT_TX, .spread = SPREAD_VIP, .forward = IPIP,
				      .flows = FLOWS_NEW_OR_HIT},
	[CASE_GUE] = {HIT_TX, .forward = GUE, .flows = FLOWS_HIT},
	[CASE_GUE_IPV6] = {HIT_TX, .need = BENCH_EXTRA_V6, .forward = GUE, .flows = FLOWS_HIT},
	[CASE_POOL_SYN] = {HIT_TX, .spread = SPREAD_SYN, .forward = L2, .pool = true,
			   .flows = FLOWS_NEW},
	[CASE_POOL_ESTABLISHED] = {HIT_TX, .forward = L2, .pool = true, .flows = FLOWS_HIT},
	[CASE_POOL_ESTABLISHED_SPREAD] = {HIT_TX, .spread = SPREAD_FLOWS, .forward = L2,
					  .pool = true, .flows = FLOWS_HIT},
	[CASE_VIP_RANGE] = {HIT_TX, .forward = L2, .prefixes = true, .counted = true,
			    .flows = FLOWS_HIT},
	[CASE_CLIENT_PREFIX] = {HIT_TX, .forward = L2, .prefixes = true, .rules = true,
				.counted = true, .slb = BENCH_RULE_SLB, .flows = FLOWS_HIT},
	[CASE_MISS_WITH_PREFIXES] = {.reason = VSN_PASS_NO_VIP,
				     .verdict = XDP_PASS,
				     .forward = L2,
				     .prefixes = true,
				     .flows = FLOWS_NONE},
	[CASE_DECAP] = {.reason = VSN_DECAP_OK_V4,
			.verdict = XDP_PASS,
			.forward = L2,
			.decap = true,
			.flows = FLOWS_NONE},
	[CASE_DECAP_GUE] = {.reason = VSN_DECAP_OK_GUE_V4,
			    .verdict = XDP_PASS,
			    .forward = L2,
			    .decap = true,
			    .flows = FLOWS_NONE},
};

/* The next pool_syn source range starts here: no source repeats in the process. */
static __u32 syn_next_src = BENCH_SYN_SRC_FIRST;

/* One case at one size: its wrapper, the programs for slot 0, its input. */
struct measure {
	struct bench_env *env;
	const struct bench_cfg *cfg;
	enum bench_case id;
	const struct case_def *c;
	struct bench_bpf *skel;
	int wrap_fd, target_fd, floor_fd, fwd_fd; /* fwd_fd: the program under test */
	__u32 ingress; /* ifindex: where the SLB's egress is, so a hit is XDP_TX */
	struct bench_pkt pkt;
	/* ipip, gue: the output (spread: for the first VIP); decap: the output */
	struct bench_pkt want;
	struct bench_layout layout;
	__u32 policies; /* of the JSON line: layout.n; decap: its allowed nodes */
	/*
	 * The wrapper's spread (0: none): spread_n addresses from spread_base,
	 * stepping by spread_step, written at byte spread_off.
	 */
	__u32 spread_n, spread_step, spread_base, spread_off;
	__u64 sent;	/* repetitions through the wrapper so far, floor runs included */
	__u32 prefill;	/* untimed repetitions of the case before the warm-up */
	__u32 want_slb; /* pool cases: where the last repetition's flow must go */
	/* VIP spread check: bounds on the hits of each VIP over all case runs. */
	__u64 hits_min, hits_max;
	/* Counters that move by one per repetition of the case, by none of the floor. */
	int n_counted;
	struct {
		enum vsn_counter_kind kind;
		__u32 id;
	} counted[2];
};

static double thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static __u32 gcd(__u32 a, __u32 b)
{
	while (b) {
		__u32 t = a % b;

		a = b;
		b = t;
	}
	return a;
}

static __u32 spread_step(__u32 n)
{
	if (n <= 1)
		return 0;
	for (__u64 m = SPREAD_MULTIPLIER;; m += 2) {
		__u32 s = m % n;

		if (s && gcd(s, n) == 1)
			return s;
	}
}

static __u32 warm_repeat(const struct bench_cfg *cfg)
{
	return cfg->repeat / 10 ? cfg->repeat / 10 : 1;
}

static int counter(struct measure *m, enum vsn_counter_kind kind, __u32 id, __u64 *ret)
{
	struct vsn_counter c;
	int r;

	r = vsn_dp_counter_read(m->env->dp, kind, id, &c);
	if (r)
		return bench_err(r, "cannot read a counter");
	*ret = c.packets;
	return 0;
}

/* The case's reason counter, of the forwarder or of the decap program. */
static int reason_read(struct measure *m, __u64 *ret)
{
	struct vsn_counter c;
	int r;

	if (!m->c->decap)
		return counter(m, VSN_CNT_REASON, m->c->reason, ret);
	r = vsn_decap_counter_read(m->env->decap, m->c->reason, &c);
	if (r)
		return bench_err(r, "cannot read a decap counter");
	*ret = c.packets;
	return 0;
}

static const char *reason_name(const struct measure *m)
{
	return m->c->decap ? vsn_decap_reason_name(m->c->reason) : vsn_reason_name(m->c->reason);
}

/*
 * An ipip or gue output must be the original packet encapsulated exactly once: a
 * repetition that saw what the previous one left behind (an encapsulated
 * packet, or the packet start moved by the previous encapsulation) would
 * leave another frame. For the spread, the frame for the VIP that the last
 * repetition went to, as the wrapper rewrote it (its IPv4 checksum as it was).
 */
static int check_ipip(struct measure *m, const __u8 *out, __u32 len)
{
	const char *name = bench_case_names[m->id];
	struct bench_pkt in = m->pkt, want = m->want;
	__u32 vip;

	if (m->c->spread == SPREAD_VIP && len == want.len) {
		memcpy(&vip, out + want.daddr_off, 4);
		if (ntohl(vip) - BENCH_VIP4_BASE >= m->spread_n)
			return bench_err(0, "%s: the inner destination is no VIP of the table",
					 name);
		memcpy(in.data + in.daddr_off, &vip, 4);
		bench_pkt_encap(&in, m->c->forward, &want);
	}
	if (len != want.len || memcmp(out, want.data, len))
		return bench_err(0,
				 "%s: the output (%u bytes) is not the input encapsulated once "
				 "(%u bytes)",
				 name, len, want.len);
	return 0;
}

/*
 * A decap output must be the inner packet under the original Ethernet
 * header, byte for byte: a repetition that saw what the previous one left
 * (the inner packet, or the packet start moved past the outer header)
 * would leave another frame, or none decapsulated.
 */
static int check_decap(struct measure *m, const __u8 *out, __u32 len)
{
	if (len != m->want.len || memcmp(out, m->want.data, len))
		return bench_err(0,
				 "decap: the output (%u bytes) is not the inner packet under the "
				 "original Ethernet header (%u bytes)",
				 len, m->want.len);
	return 0;
}

/*
 * The SLB a pool case's last repetition must have gone to: the pool's
 * Maglev pick for its flow, as user space computes it (vsn_dp_predict). The
 * flow of a source spread is the one of the address the spread index
 * stands at (checked against the repetitions in spread_check).
 */
static int pool_expect(struct measure *m)
{
	struct vsn_addr src = {.family = AF_INET}, dst = {.family = AF_INET};
	struct vsn_flow_key fk;
	__u32 a;
	int r;

	memcpy(src.bytes, m->pkt.data + m->pkt.saddr_off, 4);
	if (m->spread_n) {
		a = htonl(m->spread_base + m->skel->bss->spread_idx);
		memcpy(src.bytes, &a, 4);
	}
	memcpy(dst.bytes, m->pkt.data + m->pkt.daddr_off, 4);
	vsn_flow_key_make(&src, BENCH_CLIENT_PORT, &dst, BENCH_TCP_PORT, IPPROTO_TCP, &fk);
	r = vsn_dp_predict(m->env->dp, BENCH_POOL_ID, &fk, &m->want_slb);
	if (r)
		return bench_err(r, "%s: cannot predict the pool's SLB", bench_case_names[m->id]);
	if (m->want_slb < BENCH_POOL_SLB0 || m->want_slb >= BENCH_POOL_SLB0 + BENCH_POOL_MEMBERS)
		return bench_err(0, "%s: the pool's pick %u is no member", bench_case_names[m->id],
				 m->want_slb);
	return 0;
}

/* What the output of one run must look like. */
static int check_output(struct measure *m, bool floor, const __u8 *out, __u32 len)
{
	const struct ethhdr *eth = (const struct ethhdr *)out;
	const struct ethhdr *in = (const struct ethhdr *)m->pkt.data;
	__u8 dmac[6];
	int r;

	if (!floor && m->c->decap)
		return check_decap(m, out, len);
	if (!floor && m->c->forward != VSN_FORWARD_L2)
		return check_ipip(m, out, len);

	if (len != m->pkt.len)
		return bench_err(0, "%s: output is %u bytes, input %u", bench_case_names[m->id],
				 len, m->pkt.len);
	if (floor) {
		if (memcmp(eth->h_dest, in->h_source, 6) || memcmp(eth->h_source, in->h_dest, 6))
			return bench_err(0, "floor: the MACs are not swapped");
		return 0;
	}
	if (m->c->verdict != XDP_TX) {
		if (memcmp(out, m->pkt.data, len))
			return bench_err(0, "%s: a passed packet was modified",
					 bench_case_names[m->id]);
		return 0;
	}
	if (m->c->pool) {
		r = pool_expect(m);
		if (r)
			return r;
		memcpy(dmac, bench_pool_dmac, 6);
		dmac[5] += m->want_slb - BENCH_POOL_SLB0;
	} else {
		memcpy(dmac, bench_slb_dmac, 6);
		dmac[5] += (m->c->slb ? m->c->slb : m->env->running_slb) - 1;
	}
	if (memcmp(eth->h_dest, dmac, 6) || memcmp(eth->h_source, bench_slb_smac, 6))
		return bench_err(0, "%s: the MACs are not the SLB's%s", bench_case_names[m->id],
				 m->c->pool  ? " that Maglev picks for the last flow"
				 : m->c->slb ? " of the client rule"
					     : "");
	return 0;
}

static int flows_read(struct measure *m, __u64 v[VSN_FLOW_EVENT_MAX])
{
	for (int e = 0; e < VSN_FLOW_EVENT_MAX; e++) {
		int r = counter(m, VSN_CNT_FLOW, e, &v[e]);

		if (r)
			return r;
	}
	return 0;
}

/* The connection table's events during a run of repeat repetitions. */
static int flows_check(const char *what, enum flows want, __u32 repeat, const __u64 *before,
		       const __u64 *after)
{
	__u64 d[VSN_FLOW_EVENT_MAX], other = 0;
	char buf[256];
	int len = 0;
	bool ok;

	for (int e = 0; e < VSN_FLOW_EVENT_MAX; e++) {
		d[e] = after[e] - before[e];
		if (e != VSN_FLOW_NEW && e != VSN_FLOW_HIT)
			other += d[e];
		if (d[e] && len < (int)sizeof(buf))
			len += snprintf(buf + len, sizeof(buf) - len, " %s %llu",
					vsn_flow_event_name(e), (unsigned long long)d[e]);
	}
	switch (want) {
	case FLOWS_HIT:
		ok = d[VSN_FLOW_HIT] == repeat && !d[VSN_FLOW_NEW];
		break;
	case FLOWS_NEW:
		ok = d[VSN_FLOW_NEW] == repeat && !d[VSN_FLOW_HIT];
		break;
	case FLOWS_NEW_OR_HIT:
		ok = d[VSN_FLOW_NEW] + d[VSN_FLOW_HIT] == repeat;
		break;
	default:
		ok = !d[VSN_FLOW_NEW] && !d[VSN_FLOW_HIT];
		break;
	}
	if (ok && !other)
		return 0;
	return bench_err(0, "%s: the connection table's events in %u repetitions:%s; want %s", what,
			 repeat, len ? buf : " none", flows_names[want]);
}

/*
 * The wrapper steps the spread index once per repetition, floor runs
 * included: after t repetitions it must be t * spread_step mod spread_n.
 */
static int spread_check(struct measure *m, const char *what, __u32 repeat)
{
	__u32 want;

	if (!m->spread_n)
		return 0;
	m->sent += repeat;
	want = (__u32)(m->sent % m->spread_n * m->spread_step % m->spread_n);
	if (m->skel->bss->spread_idx != want)
		return bench_err(0,
				 "%s: the spread index is %u after %llu repetitions, want %u: a "
				 "repetition did not step it once",
				 what, m->skel->bss->spread_idx, (unsigned long long)m->sent, want);
	return 0;
}

static int counted_read(struct measure *m, __u64 *v)
{
	for (int k = 0; k < m->n_counted; k++) {
		int r = counter(m, m->counted[k].kind, m->counted[k].id, &v[k]);

		if (r)
			return r;
	}
	return 0;
}

/* The prefix hits' policy and SLB counters: by want each. */
static int counted_check(struct measure *m, const char *what, __u32 repeat, __u64 want,
			 const __u64 *before, const __u64 *after)
{
	for (int k = 0; k < m->n_counted; k++)
		if (after[k] - before[k] != want)
			return bench_err(
				0,
				"%s: the counter of %s %u moved by %llu after %u "
				"repetitions, want %llu",
				what, m->counted[k].kind == VSN_CNT_POLICY ? "policy" : "SLB",
				m->counted[k].id, (unsigned long long)(after[k] - before[k]),
				repeat, (unsigned long long)want);
	return 0;
}

/*
 * One BPF_PROG_TEST_RUN of the wrapper with slot 0 holding the floor or the
 * program under test; *ret_ns is the time per packet. Timed on the thread's CPU
 * clock: it has nanosecond resolution over the whole run (the kernel's
 * duration is an integer per repetition) and leaves out time the thread
 * spent preempted. flows: what the connection table must do (the floor: nothing).
 */
static int run_once(struct measure *m, bool floor, __u32 repeat, enum flows flows, double *ret_ns)
{
	/* Room for all the XDP headroom (256 bytes) a program may grow the packet into. */
	__u8 out[BENCH_MAX_PKT + 256 + 64];
	struct xdp_md md = {
		.data_end = m->pkt.len,
		.ingress_ifindex = m->ingress,
	};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = m->pkt.data, .data_size_in = m->pkt.len,
		    .data_out = out, .data_size_out = sizeof(out), .ctx_in = &md,
		    .ctx_size_in = sizeof(md), .repeat = repeat);
	const char *what = floor ? "floor" : bench_case_names[m->id];
	__u64 before, after, want, fl0[VSN_FLOW_EVENT_MAX], fl1[VSN_FLOW_EVENT_MAX], c0[2], c1[2];
	__u32 zero = 0;
	double t0, t1;
	int fd = floor ? m->floor_fd : m->fwd_fd, r;

	if (bench_stop)
		return -EINTR;
	if (bpf_map_update_elem(m->target_fd, &zero, &fd, BPF_ANY))
		return bench_err(-errno, "cannot put the %s program in the wrapper's slot", what);
	r = reason_read(m, &before);
	if (!r && !m->c->decap)
		r = flows_read(m, fl0);
	if (!r)
		r = counted_read(m, c0);
	if (r)
		return r;
	t0 = thread_cpu_ns();
	r = bpf_prog_test_run_opts(m->wrap_fd, &o);
	t1 = thread_cpu_ns();
	if (r)
		return bench_err(-errno, "%s: BPF_PROG_TEST_RUN failed", what);
	r = reason_read(m, &after);
	if (!r && !m->c->decap)
		r = flows_read(m, fl1);
	if (!r)
		r = counted_read(m, c1);
	if (r)
		return r;
	if (o.retval != (__u32)(floor ? XDP_TX : m->c->verdict))
		return bench_err(0,
				 "%s: verdict %u, want %d (%s; %s moved by %llu in %u "
				 "repetitions, the output is %u bytes)",
				 what, o.retval, floor ? XDP_TX : m->c->verdict,
				 o.retval == XDP_ABORTED ? "the wrapper failed" : "wrong path",
				 reason_name(m), (unsigned long long)(after - before), repeat,
				 o.data_size_out);
	want = floor ? 0 : repeat;
	if (after - before != want)
		return bench_err(0,
				 "%s: the %s counter moved by %llu after %u repetitions, want "
				 "%llu: a repetition did not take the intended path",
				 what, reason_name(m), (unsigned long long)(after - before), repeat,
				 (unsigned long long)want);
	if (!m->c->decap) {
		r = flows_check(what, floor ? FLOWS_NONE : flows, repeat, fl0, fl1);
		if (!r)
			r = counted_check(m, what, repeat, want, c0, c1);
		if (r)
			return r;
	}
	r = spread_check(m, what, repeat);
	if (!r)
		r = check_output(m, floor, out, o.data_size_out);
	if (r)
		return r;
	if (!floor && m->c->spread == SPREAD_VIP) {
		m->hits_min += repeat / m->spread_n;
		m->hits_max += (repeat + m->spread_n - 1) / m->spread_n;
	}
	*ret_ns = (t1 - t0) / repeat;
	if (m->cfg->verbose)
		bench_progress("  %-18s %8.2f ns/pkt (kernel: %u ns)", what, *ret_ns, o.duration);
	return 0;
}

static void sample_ids(const struct measure *m, __u32 *ids, int *ret_n)
{
	int n = m->spread_n < SPREAD_SAMPLES ? (int)m->spread_n : SPREAD_SAMPLES;

	for (int k = 0; k < n; k++)
		ids[k] = (__u32)((__u64)k * m->spread_n / n);
	*ret_n = n;
}

static int sample_read(struct measure *m, const __u32 *ids, int n, __u64 *v)
{
	for (int k = 0; k < n; k++) {
		int r = counter(m, VSN_CNT_POLICY, ids[k], &v[k]);

		if (r)
			return r;
	}
	return 0;
}

/*
 * The input packet, from the case's own client (no two cases share a flow);
 * for the spread cases, the wrapper rewrites its destination or source.
 */
static void packet_make(struct measure *m)
{
	__u32 client = BENCH_CLIENT4 + m->id;
	struct bench_pkt inner;
	__u8 vip6[16], client6[16];

	switch (m->id) {
	case CASE_DECAP:
	case CASE_DECAP_GUE:
		/*
		 * What a node's ipip (gue) forwarding sends the SLB host: a SYN to
		 * a VIP in IPv4 from the node's underlay address, which is allowed.
		 */
		bench_pkt_tcp4(&inner, client, BENCH_VIP4_BASE, BENCH_TCP_PORT);
		bench_pkt_encap(&inner, m->id == CASE_DECAP ? VSN_FORWARD_IPIP : VSN_FORWARD_GUE,
				&m->pkt);
		bench_pkt_decap(&inner, &m->want);
		m->ingress = BENCH_IFINDEX_LO;
		return;
	case CASE_UDP_L2:
	case CASE_UDP_IPIP:
		bench_pkt_udp4(&m->pkt, client, BENCH_VIP4_UDP, BENCH_UDP_PORT);
		break;
	case CASE_TCP_SYN_IPV6_L2:
	case CASE_TCP_SYN_IPV6_IPIP:
	case CASE_GUE_IPV6:
		bench_vip6(vip6);
		inet_pton(AF_INET6, BENCH_CLIENT6, client6);
		client6[15] += m->id;
		bench_pkt_tcp6(&m->pkt, client6, vip6, BENCH_TCP_PORT);
		break;
	case CASE_MISS:
	case CASE_MISS_WITH_PREFIXES:
		bench_pkt_tcp4(&m->pkt, client, BENCH_NO_VIP4, BENCH_TCP_PORT);
		break;
	case CASE_VIP_RANGE:
		bench_pkt_tcp4(&m->pkt, client, BENCH_RANGE_DST, BENCH_TCP_PORT);
		break;
	case CASE_TCP_SYN_L2_SPREAD:
	case CASE_TCP_SYN_IPIP_SPREAD:
		bench_pkt_tcp4(&m->pkt, client, BENCH_VIP4_BASE, BENCH_TCP_PORT);
		break;
	default:
		/*
		 * One VIP from the middle of the table (the pool cases': the
		 * pool's; client_prefix's: the one with its rules).
		 */
		bench_pkt_tcp4(&m->pkt, client, bench_layout_mid_vip4(&m->layout), BENCH_TCP_PORT);
		if (m->id == CASE_POOL_ESTABLISHED || m->id == CASE_POOL_ESTABLISHED_SPREAD)
			bench_pkt_tcp4_ack(&m->pkt);
		break;
	}
	m->ingress = BENCH_IFINDEX_LO;
	if (m->c->forward != VSN_FORWARD_L2) {
		m->ingress = m->env->ipip_ifindex;
		bench_pkt_encap(&m->pkt, m->c->forward, &m->want);
	}
}

/*
 * The spread of the case and its untimed prefill. pool_syn takes a range of
 * sources no packet had before, one for every repetition the wrapper will
 * run (floor runs included), and first fills the connection table with
 * new flows: every timed new flow then evicts the least recently used one,
 * as on a node whose table has filled up (an LRU never empties). The
 * established spread's prefill is one cycle: every one of its flows is
 * remembered before the timed runs.
 */
static int spread_setup(struct measure *m)
{
	const struct bench_cfg *cfg = m->cfg;
	struct vsn_meta meta;
	__u64 need;
	int r;

	switch (m->c->spread) {
	case SPREAD_NONE:
		return 0;
	case SPREAD_VIP:
		m->spread_n = m->layout.n_tcp4;
		m->spread_base = BENCH_VIP4_BASE;
		m->spread_off = m->pkt.daddr_off;
		break;
	case SPREAD_FLOWS:
		m->spread_n = BENCH_SPREAD_FLOWS;
		m->spread_base = BENCH_FLOWS_SRC_BASE;
		m->spread_off = m->pkt.saddr_off;
		m->prefill = BENCH_SPREAD_FLOWS;
		break;
	case SPREAD_SYN:
		r = vsn_dp_meta(m->env->dp, &meta);
		if (r)
			return bench_err(r, "cannot read the forwarder's capacities");
		m->prefill = meta.max_flows;
		need = m->prefill + 2ull * warm_repeat(cfg) + 2ull * cfg->runs * cfg->repeat;
		if (need > BENCH_SYN_SRC_END - syn_next_src)
			return bench_err(0,
					 "%s: %llu new sources needed, %u left in the process: "
					 "fewer --runs, --repeat or --sizes",
					 bench_case_names[m->id], (unsigned long long)need,
					 BENCH_SYN_SRC_END - syn_next_src);
		m->spread_n = need;
		m->spread_base = syn_next_src;
		m->spread_off = m->pkt.saddr_off;
		syn_next_src += need;
		break;
	}
	m->spread_step = spread_step(m->spread_n);
	return 0;
}

static int wrapper_load(struct measure *m)
{
	struct bench_bpf *s;
	int r;

	s = bench_bpf__open();
	if (!s)
		return bench_err(-errno, "cannot open the bench BPF object");
	m->skel = s;
	memcpy((void *)s->rodata->pkt_words, m->pkt.data, m->pkt.len);
	s->rodata->pkt_len = m->pkt.len;
	if (m->spread_n) {
		s->rodata->spread_n = m->spread_n;
		s->rodata->spread_step = m->spread_step;
		s->rodata->spread_base = m->spread_base;
		s->rodata->spread_off = m->spread_off;
	}
	r = bench_bpf__load(s);
	if (r)
		return bench_err(r, "cannot load the bench BPF object");
	m->wrap_fd = bpf_program__fd(s->progs.bench_wrap);
	m->floor_fd = bpf_program__fd(s->progs.bench_floor);
	m->target_fd = bpf_map__fd(s->maps.bench_target);
	m->fwd_fd = m->c->decap ? vsn_decap_prog_fd(m->env->decap) : vsn_dp_prog_fd(m->env->dp);
	return 0;
}

/*
 * The running set's vsn_active flags (read from the forwarder's pin) must
 * be the layout's: a set without prefixes never looks in the prefix trie
 * (miss), one with them does (miss_with_prefixes).
 */
static int active_check(struct measure *m)
{
	__u32 zero = 0, v = 0, want = bench_layout_active_flags(&m->layout);
	char path[128];
	int fd, r;

	snprintf(path, sizeof(path), "%s/maps/vsn_active", m->env->pin_dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return bench_err(-errno, "cannot open %s", path);
	r = bpf_map_lookup_elem(fd, &zero, &v) ? -errno : 0;
	close(fd);
	if (r)
		return bench_err(r, "cannot read %s", path);
	if ((v & ~VSN_ACTIVE_SLOT) != want)
		return bench_err(0, "%s: the running set's flags are %#x, want %#x",
				 bench_case_names[m->id], v & ~VSN_ACTIVE_SLOT, want);
	return 0;
}

/*
 * The counters a prefix hit must move: its policy's (the nested /24's, or
 * the VIP's whose policy has the rules) and its SLB's.
 */
static void counted_setup(struct measure *m)
{
	if (!m->c->counted)
		return;
	m->counted[0].kind = VSN_CNT_POLICY;
	m->counted[0].id = m->c->rules ? bench_layout_mid_vip4(&m->layout) - BENCH_VIP4_BASE
				       : bench_layout_prefix_id(&m->layout);
	m->counted[1].kind = VSN_CNT_SLB;
	m->counted[1].id = m->c->slb ? m->c->slb : m->env->running_slb;
	m->n_counted = 2;
}

/* established_ns: pool_established's figure at the same size in this run, or 0. */
static void json_line(const struct measure *m, double ns, double floor_ns, double established_ns)
{
	printf("{\"bench\":\"dataplane\",\"case\":\"%s\",\"policies\":%u,\"ns_per_pkt\":%.2f,"
	       "\"floor_ns\":%.2f,\"ratio\":%.2f,\"runs\":%d,\"repeat\":%u",
	       bench_case_names[m->id], m->policies, ns, floor_ns, ns / floor_ns, m->cfg->runs,
	       m->cfg->repeat);
	if (m->id == CASE_POOL_ESTABLISHED_SPREAD) {
		printf(",\"flows\":%u", m->spread_n);
		if (established_ns > 0)
			printf(",\"vs_established\":%.2f", ns / established_ns);
	}
	printf("}\n");
	fflush(stdout);
}

/*
 * Run case id at n policies and print its line; *ret_ns is its median.
 * established_ns: as json_line's.
 */
static int case_run(struct bench_env *env, const struct bench_cfg *cfg, enum bench_case id, __u32 n,
		    double established_ns, double *ret_ns)
{
	struct measure m = {.env = env, .cfg = cfg, .id = id, .c = &case_defs[id]};
	double ns[BENCH_MAX_RUNS], floor_ns[BENCH_MAX_RUNS], warm;
	/* Warm-up and prefill: the flows of the case are not all remembered yet. */
	enum flows warm_flows = m.c->flows == FLOWS_HIT ? FLOWS_NEW_OR_HIT : m.c->flows;
	__u32 ids[SPREAD_SAMPLES];
	__u64 v0[SPREAD_SAMPLES], v1[SPREAD_SAMPLES];
	int n_ids = 0, r;

	if (m.c->decap) {
		/* No policy set: the decap program's table is its allow-list, of one node. */
		r = bench_decap_load(env);
		m.policies = 1;
	} else {
		if (m.c->prefixes) {
			bench_layout_prefixes(n, m.c->rules, &m.layout);
		} else {
			bench_layout(n, m.c->need, m.c->forward, &m.layout);
			m.layout.pool = m.c->pool;
		}
		r = bench_set_ensure(env, &m.layout);
		if (!r)
			r = active_check(&m);
		m.policies = m.layout.n;
	}
	if (r)
		return r;
	counted_setup(&m);
	packet_make(&m);
	r = spread_setup(&m);
	if (r)
		return r;
	r = wrapper_load(&m);
	if (r)
		goto out;
	if (m.c->spread == SPREAD_VIP) {
		sample_ids(&m, ids, &n_ids);
		r = sample_read(&m, ids, n_ids, v0);
		if (r)
			goto out;
	}
	if (m.prefill) {
		bench_progress("%s at %u policies: %u untimed packets first, %s",
			       bench_case_names[id], n, m.prefill,
			       m.c->spread == SPREAD_SYN ? "new flows to fill the connection table"
							 : "one to each flow to establish it");
		r = run_once(&m, false, m.prefill, warm_flows, &warm);
		if (r)
			goto out;
	}
	if (m.c->decap)
		bench_progress("%s, %u allowed node: %d runs of %u packets, and as many of the "
			       "floor",
			       bench_case_names[id], m.policies, cfg->runs, cfg->repeat);
	else
		bench_progress("%s at %u policies: %d runs of %u packets, and as many of the "
			       "floor",
			       bench_case_names[id], n, cfg->runs, cfg->repeat);
	/* Warm the caches, the JIT images and the table's hot entries. */
	r = run_once(&m, true, warm_repeat(cfg), FLOWS_NONE, &warm);
	if (!r)
		r = run_once(&m, false, warm_repeat(cfg), warm_flows, &warm);
	/* Alternate which goes first, so a drift in time hits both alike. */
	for (int i = 0; !r && i < cfg->runs; i++) {
		r = run_once(&m, i % 2, cfg->repeat, m.c->flows, i % 2 ? &floor_ns[i] : &ns[i]);
		if (!r)
			r = run_once(&m, !(i % 2), cfg->repeat, m.c->flows,
				     i % 2 ? &ns[i] : &floor_ns[i]);
	}
	if (r)
		goto out;
	if (m.c->spread == SPREAD_VIP) {
		r = sample_read(&m, ids, n_ids, v1);
		if (r)
			goto out;
		for (int k = 0; k < n_ids; k++)
			if (v1[k] - v0[k] < m.hits_min || v1[k] - v0[k] > m.hits_max) {
				r = bench_err(0,
					      "%s: VIP %u was hit %llu times, want %llu..%llu: the "
					      "spread does not cover the table",
					      bench_case_names[id], ids[k],
					      (unsigned long long)(v1[k] - v0[k]),
					      (unsigned long long)m.hits_min,
					      (unsigned long long)m.hits_max);
				goto out;
			}
	}
	*ret_ns = bench_median(ns, cfg->runs);
	json_line(&m, *ret_ns, bench_median(floor_ns, cfg->runs), established_ns);
out:
	bench_bpf__destroy(m.skel);
	return r;
}

int bench_dataplane(struct bench_env *env, const struct bench_cfg *cfg)
{
	double ns, established_ns;
	int r;

	for (int s = 0; s < cfg->n_sizes; s++) {
		/* pool_established runs before pool_established_spread at each size. */
		established_ns = 0;
		for (int c = 0; c < CASE_MAX; c++) {
			if (!(cfg->cases & (1u << c)) || case_defs[c].decap)
				continue;
			r = case_run(env, cfg, c, cfg->sizes[s], established_ns, &ns);
			if (r)
				return r;
			if (c == CASE_POOL_ESTABLISHED)
				established_ns = ns;
		}
	}
	/* The decap program has no policy set: once, whatever the sizes. */
	for (int c = CASE_DECAP; c <= CASE_DECAP_GUE; c++) {
		if (!(cfg->cases & (1u << c)))
			continue;
		r = case_run(env, cfg, c, 1, 0, &ns);
		if (r)
			return r;
	}
	return 0;
}
