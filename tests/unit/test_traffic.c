/* SPDX-License-Identifier: Apache-2.0 */
/* Traffic per service from the nodes' cumulative Stats: rates, smoothing, sums, resets. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "traffic.h"

static void feed(struct vsn_traffic *t, const char *node, uint64_t ms, uint32_t id, uint64_t pkts,
		 uint64_t bytes)
{
	struct vsn_ctl_counter c = {.id = id, .packets = pkts, .bytes = bytes};

	assert_int_equal(vsn_traffic_update(t, node, ms, &c, 1), 0);
}

static void unknown_until_two_stats(void **state)
{
	struct vsn_traffic *t;
	double pps, bps;

	assert_int_equal(vsn_traffic_new(0, &t), 0);
	assert_int_equal(vsn_traffic_rate(t, 1, &pps, &bps), -ENOENT);
	feed(t, "n1", 1000, 1, 500, 50000);
	/* One Stats is a counter, not a rate: unknown, never zero. */
	assert_int_equal(vsn_traffic_rate(t, 1, &pps, &bps), -ENOENT);
	feed(t, "n1", 2000, 1, 1500, 150000);
	assert_int_equal(vsn_traffic_rate(t, 1, &pps, &bps), 0);
	assert_true(fabs(pps - 1000) < 1e-9);
	assert_true(fabs(bps - 800000) < 1e-6);
	vsn_traffic_free(t);
}

static void smoothing_follows_the_time_constant(void **state)
{
	struct vsn_traffic *t;
	double pps, bps, w = 1 - exp(-1.0);
	uint64_t p = 0;

	assert_int_equal(vsn_traffic_new(1000, &t), 0);
	feed(t, "n1", 0, 7, p, 0);
	feed(t, "n1", 1000, 7, p += 100, 0);  /* first rate: 100/s as is */
	feed(t, "n1", 2000, 7, p += 1100, 0); /* 1100/s, one tau later: 100 + w * 1000 */
	assert_int_equal(vsn_traffic_rate(t, 7, &pps, &bps), 0);
	assert_true(fabs(pps - (100 + w * 1000)) < 1e-6);
	/* A Stats after a longer gap weighs more: 3 tau cover most of the step. */
	double before = pps;
	feed(t, "n1", 5000, 7, p += 3 * 1100, 0);
	assert_int_equal(vsn_traffic_rate(t, 7, &pps, &bps), 0);
	assert_true(fabs(pps - (before + (1 - exp(-3.0)) * (1100 - before))) < 1e-6);
	vsn_traffic_free(t);
}

static void nodes_sum_and_leave(void **state)
{
	struct vsn_traffic *t;
	double pps, bps;

	assert_int_equal(vsn_traffic_new(0, &t), 0);
	feed(t, "n1", 0, 3, 0, 0);
	feed(t, "n1", 1000, 3, 200, 0);
	feed(t, "n2", 0, 3, 0, 0);
	feed(t, "n2", 500, 3, 150, 0);
	assert_int_equal(vsn_traffic_rate(t, 3, &pps, &bps), 0);
	assert_true(fabs(pps - 500) < 1e-9);
	vsn_traffic_forget(t, "n2");
	assert_int_equal(vsn_traffic_rate(t, 3, &pps, &bps), 0);
	assert_true(fabs(pps - 200) < 1e-9);
	vsn_traffic_forget(t, "n1");
	assert_int_equal(vsn_traffic_rate(t, 3, &pps, &bps), -ENOENT);
	vsn_traffic_free(t);
}

static void counter_reset_is_no_sample(void **state)
{
	struct vsn_traffic *t;
	double pps, bps;

	assert_int_equal(vsn_traffic_new(0, &t), 0);
	feed(t, "n1", 0, 1, 1000, 0);
	feed(t, "n1", 1000, 1, 2000, 0);
	/* The forwarder was loaded again: its counters start over. The rate keeps its value. */
	feed(t, "n1", 2000, 1, 10, 0);
	assert_int_equal(vsn_traffic_rate(t, 1, &pps, &bps), 0);
	assert_true(fabs(pps - 1000) < 1e-9);
	/* From the new value on. */
	feed(t, "n1", 3000, 1, 1010, 0);
	assert_int_equal(vsn_traffic_rate(t, 1, &pps, &bps), 0);
	assert_true(fabs(pps - 1000) < 1e-9);
	/* A service no longer reported is no longer counted. */
	assert_int_equal(vsn_traffic_update(t, "n1", 4000, NULL, 0), 0);
	assert_int_equal(vsn_traffic_rate(t, 1, &pps, &bps), -ENOENT);
	vsn_traffic_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unknown_until_two_stats),
		cmocka_unit_test(smoothing_follows_the_time_constant),
		cmocka_unit_test(nodes_sum_and_leave),
		cmocka_unit_test(counter_reset_is_no_sample),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
