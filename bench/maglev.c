/* SPDX-License-Identifier: Apache-2.0 */
/*
 * maglev_build: the time to build one pool's Maglev lookup table in user
 * space (lib/dp/maglev.c), the work every node repeats for every pool of a
 * new policy set. {"bench":"maglev_build","members":N,"m":M,"ms":T,"runs":R}
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "maglev.h"

#define MAGLEV_MEMBERS 1024
#define MAGLEV_SEED 0x5eed

int bench_maglev(const struct bench_cfg *cfg)
{
	struct vsn_maglev_member *members;
	double ms[BENCH_MAX_RUNS], t;
	__u32 *table;
	int r = 0;

	members = calloc(MAGLEV_MEMBERS, sizeof(*members));
	table = calloc(VSN_MAGLEV_DEFAULT_SIZE, sizeof(*table));
	if (!members || !table) {
		r = bench_err(-ENOMEM, "maglev_build");
		goto out;
	}
	/* SLB ids as a controller hands them out; weights 1..4, as pools mix sizes. */
	for (int i = 0; i < MAGLEV_MEMBERS; i++)
		members[i] = (struct vsn_maglev_member){.slb_id = 1 + 3 * i, .weight = 1 + i % 4};
	bench_progress("maglev_build: %d runs, %d members, M = %d", cfg->runs, MAGLEV_MEMBERS,
		       VSN_MAGLEV_DEFAULT_SIZE);
	for (int i = 0; i < cfg->runs; i++) {
		t = bench_now_ns();
		r = vsn_maglev_build(members, MAGLEV_MEMBERS, VSN_MAGLEV_DEFAULT_SIZE, MAGLEV_SEED,
				     table);
		ms[i] = (bench_now_ns() - t) / 1e6;
		if (r) {
			r = bench_err(r, "maglev_build");
			goto out;
		}
	}
	printf("{\"bench\":\"maglev_build\",\"members\":%d,\"m\":%d,\"ms\":%.2f,\"runs\":%d}\n",
	       MAGLEV_MEMBERS, VSN_MAGLEV_DEFAULT_SIZE, bench_median(ms, cfg->runs), cfg->runs);
	fflush(stdout);
out:
	free(members);
	free(table);
	return r;
}
