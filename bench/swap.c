/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Swapping in a set of N policies, and the map memory that set takes.
 * A swap is one vsn_dp_set_apply of a set with a new generation, timed on
 * the wall clock (its wait for an RCU grace period is part of what an
 * operator waits for); building the in-memory description is not timed.
 * Successive swaps alternate between two descriptions that differ in every
 * policy's SLB, so each one really replaces the running set.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

static int swap_size(struct bench_env *env, const struct bench_cfg *cfg, __u32 n)
{
	struct vsn_dp_policy *v[2] = {NULL, NULL};
	double ms[BENCH_MAX_RUNS], trim_ms[BENCH_MAX_RUNS];
	struct bench_layout l;
	size_t count = 0, bad = 0;
	int swaps = cfg->benches & BENCH_SWAP ? cfg->swaps : 1, r;
	__u64 set_bytes, total_bytes;

	bench_layout(n, BENCH_EXTRA_UDP | BENCH_EXTRA_V6, VSN_FORWARD_L2, &l);
	r = bench_set_build(&l, BENCH_SLB_A, BENCH_SLB_A, &v[0], &count);
	if (!r)
		r = bench_set_build(&l, BENCH_SLB_B, BENCH_SLB_B, &v[1], &count);
	if (r) {
		bench_err(r, "cannot build a set of %u policies", n);
		goto out;
	}
	if (cfg->benches & BENCH_SWAP)
		bench_progress("swap: %d swaps of %u policies", swaps, n);
	for (int i = 0; i < swaps; i++) {
		/* Never start with the set that runs: the first swap must replace. */
		int which = (env->running_slb == BENCH_SLB_A) ^ (i % 2) ? 1 : 0;
		struct vsn_dp_set set = {
			.generation = env->generation + 1,
			.n_policies = count,
			.policies = v[which],
		};
		double t;

		if (bench_stop) {
			r = -EINTR;
			goto out;
		}
		t = bench_now_ns();
		r = vsn_dp_set_apply(env->dp, &set, &bad);
		ms[i] = (bench_now_ns() - t) / 1e6;
		if (r) {
			bench_err(r, "cannot apply a set of %u policies (policy %zu)", n, bad);
			goto out;
		}
		/* Freeing the old set is off the swap's path (after the flip). */
		t = bench_now_ns();
		r = vsn_dp_set_trim(env->dp);
		trim_ms[i] = (bench_now_ns() - t) / 1e6;
		if (r) {
			bench_err(r, "cannot free the previous set of %u policies", n);
			goto out;
		}
		env->generation = set.generation;
		env->running = l;
		env->running_slb = which ? BENCH_SLB_B : BENCH_SLB_A;
		if (cfg->verbose)
			bench_progress("  swap %d: %.2f ms", i, ms[i]);
	}
	if (cfg->benches & BENCH_SWAP) {
		printf("{\"bench\":\"swap\",\"policies\":%u,\"ms\":%.2f,\"trim_ms\":%.2f,"
		       "\"swaps\":%d}\n",
		       n, bench_median(ms, swaps), bench_median(trim_ms, swaps), swaps);
		fflush(stdout);
	}
	if (cfg->benches & BENCH_MEM) {
		r = vsn_dp_memory(env->dp, &set_bytes, &total_bytes);
		if (r) {
			bench_err(r, "cannot read the forwarder's map memory");
			goto out;
		}
		printf("{\"bench\":\"dataplane_mem\",\"policies\":%u,\"bytes\":%llu,"
		       "\"total_bytes\":%llu}\n",
		       n, (unsigned long long)set_bytes, (unsigned long long)total_bytes);
		fflush(stdout);
	}
out:
	free(v[0]);
	free(v[1]);
	return r;
}

int bench_swap(struct bench_env *env, const struct bench_cfg *cfg)
{
	int r;

	for (int s = 0; s < cfg->n_swap_sizes; s++) {
		r = swap_size(env, cfg, cfg->swap_sizes[s]);
		if (r)
			return r;
	}
	return 0;
}
