/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Conditions against signals and the selection of a service's configuration
 * (lib/eval/eval.h): three-valued logic, `for` across evaluations, the
 * explanations, and the dwell.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "eval.h"

#define T VSN_TRI_TRUE
#define F VSN_TRI_FALSE
#define U VSN_TRI_UNKNOWN

/* What the controller would know: SLBs and nodes by their first letter, one reading of each kind.
 */
struct world {
	enum vsn_tri healthy[26], node_up[26];
	struct vsn_reading load, count, traffic;
	bool traffic_bits; /* what the last traffic() was asked for */
	char last_load[64];
	int64_t wall_ms;
};

static enum vsn_tri w_healthy(void *arg, const char *slb)
{
	return ((struct world *)arg)->healthy[slb[0] - 'a'];
}

static enum vsn_tri w_node_up(void *arg, const char *node)
{
	return ((struct world *)arg)->node_up[node[0] - 'a'];
}

static struct vsn_reading w_count(void *arg, const char *pool)
{
	return ((struct world *)arg)->count;
}

static struct vsn_reading w_load(void *arg, enum vsn_cond_ref_kind kind, const char *name)
{
	struct world *w = arg;

	snprintf(w->last_load, sizeof(w->last_load), "%s %s", vsn_cond_ref_kind_name(kind), name);
	return w->load;
}

static struct vsn_reading w_traffic(void *arg, const char *vs, bool bits)
{
	struct world *w = arg;

	w->traffic_bits = bits;
	return w->traffic;
}

static int64_t w_wall(void *arg)
{
	return ((struct world *)arg)->wall_ms;
}

static struct world world;
static const struct vsn_eval_signals signals = {
	.arg = &world,
	.healthy = w_healthy,
	.node_up = w_node_up,
	.healthy_count = w_count,
	.load = w_load,
	.traffic = w_traffic,
	.wall_ms = w_wall,
};

static int reset_world(void **state)
{
	memset(&world, 0, sizeof(world));
	for (int i = 0; i < 26; i++)
		world.healthy[i] = world.node_up[i] = U;
	return 0;
}

static struct vsn_reading ok(double v)
{
	return (struct vsn_reading){VSN_READING_OK, v};
}

/* A condition and its state. */
struct cs {
	struct vsn_cond *c;
	struct vsn_cond_state *st;
};

static struct cs cond(const char *text)
{
	struct vsn_cond_error err = {0};
	struct cs x = {0};

	if (vsn_cond_parse(text, strlen(text), &x.c, &err)) {
		print_error("'%s': column %d: %s\n", text, err.column, err.msg);
		fail();
	}
	assert_int_equal(vsn_cond_state_new(x.c, &x.st), 0);
	return x;
}

static void cs_free(struct cs *x)
{
	vsn_cond_state_free(x->st);
	vsn_cond_free(x->c);
}

/* Evaluate at now_ms: the value, checked against holds. */
static enum vsn_tri eval(struct cs *x, uint64_t now_ms)
{
	bool h = !!(now_ms & 1); /* anything: it must be set */

	assert_int_equal(vsn_cond_eval(x->c, &signals, now_ms, x->st, &h, NULL), 0);
	assert_int_equal(h, vsn_cond_value(x->st) == T);
	return vsn_cond_value(x->st);
}

static const char *why(struct cs *x)
{
	static char buf[512];

	assert_true(vsn_cond_explain(x->c, x->st, buf, sizeof(buf)) < (int)sizeof(buf));
	return buf;
}

static const char *const tri_name[] = {"F", "U", "T"};

/* Kleene's tables, written out rather than computed. */
static void three_valued_logic(void **state)
{
	static const enum vsn_tri vals[] = {F, U, T};
	static const enum vsn_tri and[3][3] = {{F, F, F}, {F, U, U}, {F, U, T}};
	static const enum vsn_tri or [3][3] = {{F, U, T}, {U, U, T}, {T, T, T}};
	static const enum vsn_tri not [3] = {T, U, F};
	struct cs a_and_b = cond("healthy(slb a) and healthy(slb b)");
	struct cs a_or_b = cond("healthy(slb a) or healthy(slb b)");
	struct cs not_a = cond("not healthy(slb a)");
	struct cs not_not_a = cond("not not healthy(slb a)");
	uint64_t now = 0;

	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++) {
			world.healthy[0] = vals[i];
			world.healthy[1] = vals[j];
			now += 100;
			if (eval(&a_and_b, now) != and[i][j] || eval(&a_or_b, now) != or [i][j]) {
				print_error("a=%s b=%s: and %s, or %s\n", tri_name[i], tri_name[j],
					    tri_name[vsn_cond_value(a_and_b.st)],
					    tri_name[vsn_cond_value(a_or_b.st)]);
				fail();
			}
			assert_int_equal(eval(&not_a, now), not [i]);
			assert_int_equal(eval(&not_not_a, now), vals[i]);
		}
	cs_free(&a_and_b);
	cs_free(&a_or_b);
	cs_free(&not_a);
	cs_free(&not_not_a);
}

/* A failover written `not healthy(slb a)` does not flip while a's health is unknown. */
static void unknown_health_does_not_fail_over(void **state)
{
	struct cs x = cond("not healthy(slb a)");
	struct cs y = cond("node_up(edge-1) and not healthy(slb a)");

	world.node_up['e' - 'a'] = T;
	assert_int_equal(eval(&x, 0), U);
	assert_int_equal(eval(&y, 0), U);
	world.healthy[0] = F;
	assert_int_equal(eval(&x, 1), T);
	assert_int_equal(eval(&y, 1), T);
	world.healthy[0] = T;
	assert_int_equal(eval(&x, 2), F);
	world.healthy[0] = (enum vsn_tri)7; /* out of range: unknown */
	assert_int_equal(eval(&x, 3), U);
	cs_free(&x);
	cs_free(&y);
}

/* An unknown or failed reading is neither zero nor the last value: every comparison of it is
 * unknown. */
static void unknown_and_failed_readings(void **state)
{
	static const struct {
		struct vsn_reading r;
		enum vsn_tri gt, not_gt, le, lt_small;
	} cases[] = {
		{{VSN_READING_UNKNOWN, 0.9}, U, U, U, U},
		{{VSN_READING_FAILED, 0}, U, U, U, U},
		{{VSN_READING_OK, NAN}, U, U, U, U},
		{{VSN_READING_OK, INFINITY}, U, U, U, U},
		{{(int)42, 0.9}, U, U, U, U},
		{{VSN_READING_OK, 0.9}, T, F, F, F},
		{{VSN_READING_OK, 0.8}, F, T, T, F},
		{{VSN_READING_OK, 0}, F, T, T, T},
	};
	struct cs gt = cond("load(pool p) > 0.8");
	struct cs not_gt = cond("not load(pool p) > 0.8");
	struct cs le = cond("load(pool p) <= 80%");
	struct cs lt_small = cond("load(pool p) < 0.1");

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		world.load = cases[i].r;
		assert_int_equal(eval(&gt, i), cases[i].gt);
		assert_int_equal(eval(&not_gt, i), cases[i].not_gt);
		assert_int_equal(eval(&le, i), cases[i].le);
		assert_int_equal(eval(&lt_small, i), cases[i].lt_small);
	}
	assert_string_equal(world.last_load, "pool p");
	cs_free(&gt);
	cs_free(&not_gt);
	cs_free(&le);
	cs_free(&lt_small);
}

/* Each comparison operator, each numeric primary, traffic asked in the unit it is compared in. */
static void comparisons_and_units(void **state)
{
	static const struct {
		const char *text;
		double v;
		enum vsn_tri want;
	} cases[] = {
		{"healthy_count(pool p) < 2", 1, T},	 {"healthy_count(pool p) < 2", 2, F},
		{"healthy_count(pool p) >= 2", 2, T},	 {"healthy_count(pool p) == 2", 2, T},
		{"healthy_count(pool p) != 2", 2, F},	 {"healthy_count(pool p) > 2", 2, F},
		{"healthy_count(pool p) <= 2", 3, F},	 {"traffic(vs web) > 1.5Mpps", 1.6e6, T},
		{"traffic(vs web) > 1.5Mpps", 1.4e6, F}, {"traffic(vs web) > 800Mbps", 9e8, T},
		{"traffic(vs web) < 20kpps", 19999, T},	 {"traffic(vs web) >= 100", 100, T},
	};
	struct cs x;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		world.count = world.traffic = ok(cases[i].v);
		x = cond(cases[i].text);
		if (eval(&x, 0) != cases[i].want) {
			print_error("'%s' with %g: %s\n", cases[i].text, cases[i].v,
				    tri_name[vsn_cond_value(x.st)]);
			fail();
		}
		if (strstr(cases[i].text, "traffic"))
			assert_int_equal(world.traffic_bits, strstr(cases[i].text, "bps") != NULL);
		cs_free(&x);
	}
	/* Without the callbacks everything is unknown. */
	x = cond("healthy(slb a) or node_up(n) or load(slb a) > 0 or traffic(vs v) > 0 or "
		 "healthy_count(pool p) > 0 or schedule(\"Mon-Sun\")");
	assert_int_equal(
		vsn_cond_eval(x.c, &(struct vsn_eval_signals){0}, 0, x.st, &(bool){true}, NULL), 0);
	assert_int_equal(vsn_cond_value(x.st), U);
	cs_free(&x);
}

/* One evaluation at at ms: the signal is in, the value expected want, the wake-up next (0: any). */
struct step {
	uint64_t at;
	enum vsn_tri in, want;
	uint64_t next;
};

static void run(struct cs *x, enum vsn_tri *signal, const struct step *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t next;
		bool h;

		*signal = s[i].in;
		assert_int_equal(vsn_cond_eval(x->c, &signals, s[i].at, x->st, &h, &next), 0);
		if (vsn_cond_value(x->st) != s[i].want || h != (s[i].want == T) ||
		    (s[i].next && next != s[i].next)) {
			print_error("step %zu, at %llu ms: %s (wake-up at %llu), expected %s\n", i,
				    (unsigned long long)s[i].at, tri_name[vsn_cond_value(x->st)],
				    (unsigned long long)next, tri_name[s[i].want]);
			fail();
		}
	}
}

#define RUN(x, signal, ...)                                                 \
	do {                                                                \
		const struct step steps_[] = {__VA_ARGS__};                 \
		run(x, signal, steps_, sizeof(steps_) / sizeof(steps_[0])); \
	} while (0)

/* `for` holds at exactly its duration, not a millisecond before; the caller is woken then. */
static void for_holds_at_exactly_the_duration(void **state)
{
	struct cs x = cond("node_up(n) for 30s");

	RUN(&x, &world.node_up['n' - 'a'], {0, F, F, 0}, /* false within the last 30 s: */
	    {1000, T, F, 31000}, {30999, T, F, 31000}, {31000, T, T, UINT64_MAX}, {90000, T, T, 0});
	cs_free(&x);
}

static void for_resets_when_interrupted(void **state)
{
	struct cs x = cond("node_up(n) for 30s");

	RUN(&x, &world.node_up['n' - 'a'], {0, F, F, 0}, {1, T, F, 0}, {20000, T, F, 0},
	    {25000, F, F, 0},			/* the break */
	    {26000, T, F, 0}, {31000, T, F, 0}, /* 31 s since the first start: not enough */
	    {55999, T, F, 0}, {56000, T, T, 0},
	    /* An unknown is a break too, but not a known false: unknown until 30 s true again. */
	    {60000, U, U, 0}, {61000, T, U, 0}, {90999, T, U, 0}, {91000, T, T, 0});
	cs_free(&x);
}

/*
 * Before the first evaluation nothing is known: `not (A for D)` does not hold
 * at start, though A has not held for D yet; it holds at once when A fails.
 */
static void for_from_the_start_is_unknown(void **state)
{
	struct cs x = cond("not (healthy(slb a) for 30s)");
	struct cs y = cond("healthy(slb a) for 30s");

	RUN(&x, &world.healthy[0], {0, T, U, 0}, {29999, T, U, 0}, {30000, T, F, 0},
	    {31000, U, U, 0},			 /* a missed health check */
	    {32000, T, U, 0},			 /* no flip on an unknown */
	    {33000, F, T, 0}, {34000, T, T, 0},	 /* it was false within the last 30 s */
	    {63999, T, T, 0}, {64000, T, F, 0}); /* the false (33 s to 34 s) left the window */
	RUN(&y, &world.healthy[0], {0, T, U, 0}, {30000, T, T, 0});
	cs_free(&x);
	cs_free(&y);
}

/* Every node is evaluated at every evaluation, whatever its neighbours: `for` sees them all. */
static void for_under_a_false_and(void **state)
{
	struct cs x = cond("node_up(m) and node_up(n) for 10s");

	world.node_up['m' - 'a'] = F;
	RUN(&x, &world.node_up['n' - 'a'], {0, F, F, 0}, {1000, T, F, 0}, {11000, T, F, 0});
	world.node_up['m' - 'a'] = T;
	RUN(&x, &world.node_up['n' - 'a'], {11001, T, T, 0}); /* n has been up since 1000 */
	cs_free(&x);
}

/* Nested durations: the inner holds from 10 s, the outer 5 s later. */
static void nested_for(void **state)
{
	struct cs x = cond("(node_up(n) for 10s) for 5s");

	RUN(&x, &world.node_up['n' - 'a'], {0, F, F, 0}, {1000, T, F, 11000}, {11000, T, F, 16000},
	    {15999, T, F, 0}, {16000, T, T, 0});
	cs_free(&x);
}

static void explains_the_values(void **state)
{
	struct cs x = cond("load(pool primary) > 0.80 for 30s");

	world.load = ok(0.83);
	eval(&x, 0);
	eval(&x, 31200);
	assert_string_equal(why(&x), "load(pool primary)=0.83 > 0.8 for 30s (held 31.2s)");
	world.load = (struct vsn_reading){VSN_READING_FAILED, 0};
	eval(&x, 32000);
	assert_string_equal(why(&x), "load(pool primary)=failed > 0.8 for 30s");
	cs_free(&x);

	x = cond("not healthy(slb a) for 10s");
	world.healthy[0] = F;
	eval(&x, 0);
	eval(&x, 12000);
	assert_string_equal(why(&x), "not healthy(slb a)=false for 10s (held 12.0s)");
	cs_free(&x);

	static const struct {
		const char *text, *why;
	} cases[] = {
		{"load(slb a) > 80%", "load(slb a)=83.12% > 80%"},
		{"traffic(vs web) > 1.5Mpps", "traffic(vs web)=1.623Mpps > 1.5Mpps"},
		{"traffic(vs web) > 800Mbps", "traffic(vs web)=1623Mbps > 800Mbps"},
		{"healthy_count(pool p) < 2", "healthy_count(pool p)=1 < 2"},
		/* Of an `or`, the operand that made it; of an `and`, both when both did. */
		{"healthy(slb a) or healthy(slb b)", "healthy(slb b)=true"},
		{"node_up(edge-1) and not healthy(slb a)",
		 "node_up(edge-1)=true and not healthy(slb a)=false"},
		{"healthy(slb b) and healthy(slb a)", "healthy(slb a)=false"},
		{"(healthy(slb b) or node_up(edge-1)) and healthy(slb b)",
		 "(healthy(slb b)=true or node_up(edge-1)=true) and healthy(slb b)=true"},
		{"(healthy(slb a) or node_up(edge-1)) and healthy(slb b)",
		 "node_up(edge-1)=true and healthy(slb b)=true"},
		{"not (healthy(slb b) and node_up(edge-1))",
		 "not (healthy(slb b)=true and node_up(edge-1)=true)"},
		{"not (healthy(slb a) and node_up(edge-1))", "not healthy(slb a)=false"},
		{"healthy(slb c) or healthy(slb a)", "healthy(slb c)=unknown"},
		{"load(slb a) > 0.9 or healthy(slb a)",
		 "load(slb a)=0.831 > 0.9 or healthy(slb a)=false"},
		{"load(slb a) > 0.9 or node_up(x)", "node_up(x)=unknown"},
		{"schedule(\"Sat-Sun\")", "schedule(\"Sat-Sun\")=true"},
		{"(node_up(edge-1) or healthy(slb b)) for 1m",
		 "(node_up(edge-1)=true or "
		 "healthy(slb b)=true) for 1m (held 0.0s)"},
	};

	world.load = ok(0.8312);
	world.traffic = ok(1623456);
	world.count = ok(1);
	world.healthy[0] = F;
	world.healthy[1] = T;
	world.node_up['e' - 'a'] = T;
	world.wall_ms = (int64_t)1704542400 * 1000; /* Saturday 2024-01-06 12:00 UTC */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (strstr(cases[i].text, "Mbps"))
			world.traffic = ok(1623456789);
		x = cond(cases[i].text);
		eval(&x, 0);
		if (strcmp(why(&x), cases[i].why)) {
			print_error("'%s': '%s', expected '%s'\n", cases[i].text, why(&x),
				    cases[i].why);
			fail();
		}
		cs_free(&x);
		world.traffic = ok(1623456);
	}
}

/* Like snprintf(): the whole length, a cut text, a NUL. */
static void explains_like_snprintf(void **state)
{
	struct cs x = cond("healthy(slb a)");
	char buf[8];

	world.healthy[0] = T;
	eval(&x, 0);
	assert_int_equal(vsn_cond_explain(x.c, x.st, buf, sizeof(buf)), 19);
	assert_string_equal(buf, "healthy");
	assert_int_equal(vsn_cond_explain(x.c, x.st, NULL, 0), 19);
	cs_free(&x);
}

/* 2024-01-05 was a Friday; a schedule's next edge wakes the caller to the millisecond. */
static void schedules_in_conditions(void **state)
{
	struct cs x = cond("schedule(\"Mon-Fri 22:00-06:00\") and node_up(n)");
	int64_t fri_2159_59_250 = ((int64_t)1704491999 * 1000) + 250;
	uint64_t next;
	bool h;

	world.node_up['n' - 'a'] = T;
	world.wall_ms = fri_2159_59_250;
	assert_int_equal(vsn_cond_eval(x.c, &signals, 5000, x.st, &h, &next), 0);
	assert_false(h);
	assert_int_equal(next, 5750);
	world.wall_ms += 750;
	assert_int_equal(vsn_cond_eval(x.c, &signals, 5750, x.st, &h, &next), 0);
	assert_true(h);
	assert_int_equal(next, 5750 + 8 * 3600 * 1000); /* Saturday 06:00 */
	/* The wall clock stepped back (NTP): the schedule is evaluated again. */
	world.wall_ms = fri_2159_59_250 - 3600 * 1000;
	assert_int_equal(eval(&x, 6000), F);
	cs_free(&x);
}

static void refuses_misuse(void **state)
{
	struct cs x = cond("healthy(slb a)"), y = cond("healthy(slb a)");
	bool h = true;
	uint64_t next = 7;

	assert_int_equal(vsn_cond_eval(x.c, &signals, 10, y.st, &h, &next), -EINVAL);
	assert_int_equal(vsn_cond_explain(x.c, y.st, NULL, 0), -EINVAL);
	world.healthy[0] = F;
	assert_int_equal(vsn_cond_eval(x.c, &signals, 10, x.st, &h, &next), 0);
	assert_false(h);
	h = true;
	assert_int_equal(vsn_cond_eval(x.c, &signals, 9, x.st, &h, &next), -EINVAL);
	assert_true(h); /* untouched */
	assert_int_equal(vsn_cond_eval(x.c, NULL, 11, x.st, &h, &next), -EINVAL);
	cs_free(&x);
	cs_free(&y);

	/* A zone that is gone by the time the state is made. */
	struct vsn_cond_error err;
	struct vsn_cond_state *st = NULL;
	struct vsn_cond *c;

	const char *text = "schedule(\"Sat Europe/Berlin\")";

	assert_int_equal(vsn_cond_parse(text, strlen(text), &c, &err), 0);
	strcpy(c->root->sched.schedule.zone, "Nowhere/City");
	assert_int_equal(vsn_cond_state_new(c, &st), -ENOENT);
	assert_null(st);
	vsn_cond_free(c);
}

/* A new document that kept a condition keeps its `for` timers; a changed condition starts afresh.
 */
static void carries_state_to_the_same_condition(void **state)
{
	struct cs old = cond("load(pool p) > 0.8 for 30s and healthy(slb a)");
	struct cs same = cond("load(pool p) > 0.80 for 30s and healthy(slb a)");
	struct cs other = cond("load(pool p) > 0.8 for 31s and healthy(slb a)");
	struct cs other2 = cond("load(pool p) > 0.8 for 30s and healthy(slb b)");
	struct cs other3 = cond("load(pool p) > 80% for 30s and healthy(slb a)");

	world.load = ok(0.9);
	world.healthy[0] = T;
	assert_int_equal(eval(&old, 0), U);
	assert_int_equal(vsn_cond_state_carry(other.st, old.st), -ESTALE);
	assert_int_equal(vsn_cond_state_carry(other2.st, old.st), -ESTALE);
	assert_int_equal(vsn_cond_state_carry(other3.st, old.st), -ESTALE);
	assert_int_equal(vsn_cond_state_carry(same.st, old.st), 0);
	cs_free(&old);
	assert_int_equal(eval(&same, 30000), T);
	assert_int_equal(eval(&other, 30000), U);
	cs_free(&same);
	cs_free(&other);
	cs_free(&other2);
	cs_free(&other3);
}

/* Selection. normal is the default; the others in document order. */
enum { NORMAL, FAILOVER, OVERFLOW, NIGHT, N_CONFIGS };

static struct vsn_select_config configs[N_CONFIGS];
static size_t failed_asked;
static bool failed;

static bool destinations_failed(void *arg, size_t i)
{
	failed_asked = i;
	return failed;
}

static struct vsn_select_input input(size_t active, uint64_t now, uint64_t last_switch)
{
	configs[NORMAL] = (struct vsn_select_config){"normal", 0, true, false};
	configs[FAILOVER].name = "failover";
	configs[FAILOVER].priority = 30;
	configs[OVERFLOW].name = "overflow";
	configs[OVERFLOW].priority = 20;
	configs[NIGHT].name = "night";
	configs[NIGHT].priority = 20;
	failed_asked = VSN_SELECT_NONE;
	return (struct vsn_select_input){
		.configs = configs,
		.n = N_CONFIGS,
		.active = active,
		.pinned = VSN_SELECT_NONE,
		.now_ms = now,
		.last_switch_ms = last_switch,
		.dwell_ms = VSN_SELECT_DWELL_MS,
		.destinations_failed = destinations_failed,
	};
}

static int reset_configs(void **state)
{
	memset(configs, 0, sizeof(configs));
	failed = false;
	return 0;
}

static struct vsn_select_result select_ok(const struct vsn_select_input *in)
{
	struct vsn_select_result r;

	assert_int_equal(vsn_select(in, &r), 0);
	return r;
}

static void selects_by_priority(void **state)
{
	struct vsn_select_input in = input(NORMAL, 100000, 0);
	struct vsn_select_result r;

	r = select_ok(&in);
	assert_int_equal(r.chosen, NORMAL);
	assert_int_equal(r.reason, VSN_SELECT_DEFAULT);
	assert_false(r.switch_now);
	assert_string_equal(r.why, "'normal' is the default: no condition holds");
	configs[NORMAL].holds = true; /* ignored: the default is what is left */
	configs[NORMAL].priority = 99;
	configs[NIGHT].holds = true;
	r = select_ok(&in);
	assert_int_equal(r.chosen, NIGHT);
	assert_int_equal(r.reason, VSN_SELECT_HOLDS);
	assert_true(r.switch_now);
	assert_string_equal(r.why, "'night' holds (priority 20, the highest that holds)");
	configs[OVERFLOW].holds = true; /* the same priority, earlier in the document */
	r = select_ok(&in);
	assert_int_equal(r.chosen, OVERFLOW);
	configs[FAILOVER].holds = true;
	assert_int_equal(select_ok(&in).chosen, FAILOVER);
	assert_int_equal(failed_asked, VSN_SELECT_NONE); /* no dwell, no question */
}

/* Nothing active yet: the first choice is not held back, however recent the "last switch". */
static void first_selection_is_immediate(void **state)
{
	struct vsn_select_input in = input(VSN_SELECT_NONE, 1000, 999);
	struct vsn_select_result r;

	configs[OVERFLOW].holds = true;
	r = select_ok(&in);
	assert_int_equal(r.chosen, OVERFLOW);
	assert_true(r.switch_now);
	assert_int_equal(r.retry_ms, VSN_SELECT_NEVER);
}

/* Away from failed destinations at once, dwell or not. */
static void failover_is_immediate(void **state)
{
	struct vsn_select_input in = input(NORMAL, 103000, 100000);
	struct vsn_select_result r;

	configs[FAILOVER].holds = true;
	failed = true;
	r = select_ok(&in);
	assert_int_equal(failed_asked, NORMAL);
	assert_int_equal(r.chosen, FAILOVER);
	assert_true(r.switch_now);
	assert_true(r.failover);
	assert_int_equal(r.reason, VSN_SELECT_HOLDS);
	assert_string_equal(r.why, "'failover' holds (priority 30, the highest that holds); the "
				   "destinations of 'normal' failed: no dwell (switched 3.0s ago)");
}

/* The return waits for the dwell: switched at 100 s, the condition stops at 103 s, back at 110 s.
 */
static void return_is_delayed(void **state)
{
	struct vsn_select_input in = input(FAILOVER, 103000, 100000);
	struct vsn_select_result r;

	r = select_ok(&in);
	assert_int_equal(failed_asked, FAILOVER);
	assert_int_equal(r.chosen, FAILOVER);
	assert_int_equal(r.wanted, NORMAL);
	assert_false(r.switch_now);
	assert_false(r.failover);
	assert_int_equal(r.reason, VSN_SELECT_DWELL);
	assert_int_equal(r.wanted_reason, VSN_SELECT_DEFAULT);
	assert_int_equal(r.retry_ms, 110000);
	assert_string_equal(r.why, "'normal' is the default: no condition holds; the dwell keeps "
				   "'failover' 7.0s more (active 3.0s, dwell 10.0s)");
	in.now_ms = 109999;
	assert_false(select_ok(&in).switch_now);
	in.now_ms = 110000;
	r = select_ok(&in);
	assert_int_equal(r.chosen, NORMAL);
	assert_true(r.switch_now);
	assert_int_equal(r.retry_ms, VSN_SELECT_NEVER);
	/* A flapping signal within the dwell does not flap the network either way. */
	in = input(NORMAL, 104000, 100000);
	configs[OVERFLOW].holds = true;
	r = select_ok(&in);
	assert_int_equal(r.chosen, NORMAL);
	assert_int_equal(r.wanted, OVERFLOW);
	assert_int_equal(r.retry_ms, 110000);
	/* A dwell of zero holds nothing back. */
	in.dwell_ms = 0;
	assert_true(select_ok(&in).switch_now);
}

/* A pin wins over every condition and the dwell; its switch counts as one for the next dwell. */
static void pin_wins_and_is_recorded(void **state)
{
	struct vsn_select_input in = input(OVERFLOW, 101000, 100000);
	struct vsn_select_result r;

	configs[OVERFLOW].holds = true;
	configs[FAILOVER].holds = true;
	in.pinned = NIGHT;
	r = select_ok(&in);
	assert_int_equal(r.chosen, NIGHT);
	assert_true(r.switch_now);
	assert_int_equal(r.reason, VSN_SELECT_PINNED);
	assert_string_equal(r.why, "'night' is pinned");
	assert_int_equal(failed_asked, VSN_SELECT_NONE);
	/* Pinned and active: stays, by the pin. */
	in = input(NIGHT, 102000, 101000);
	configs[FAILOVER].holds = true;
	in.pinned = NIGHT;
	r = select_ok(&in);
	assert_int_equal(r.chosen, NIGHT);
	assert_false(r.switch_now);
	assert_int_equal(r.reason, VSN_SELECT_PINNED);
	/* Unpinned 2 s after the pin's switch: the return waits for the dwell from the pin. */
	in.pinned = VSN_SELECT_NONE;
	in.now_ms = 103000;
	r = select_ok(&in);
	assert_int_equal(r.chosen, NIGHT);
	assert_int_equal(r.wanted, FAILOVER);
	assert_int_equal(r.reason, VSN_SELECT_DWELL);
	assert_int_equal(r.retry_ms, 111000);
	in.now_ms = 111000;
	assert_int_equal(select_ok(&in).chosen, FAILOVER);
}

static void refuses_bad_input(void **state)
{
	struct vsn_select_input in = input(NORMAL, 1000, 0);
	struct vsn_select_result r = {.chosen = 77};

	configs[FAILOVER].is_default = true;
	assert_int_equal(vsn_select(&in, &r), -EINVAL); /* two defaults */
	configs[FAILOVER].is_default = false;
	configs[NORMAL].is_default = false;
	assert_int_equal(vsn_select(&in, &r), -EINVAL); /* none */
	in = input(N_CONFIGS, 1000, 0);
	assert_int_equal(vsn_select(&in, &r), -EINVAL);
	in = input(NORMAL, 1000, 0);
	in.pinned = N_CONFIGS;
	assert_int_equal(vsn_select(&in, &r), -EINVAL);
	in = input(NORMAL, 1000, 1001);
	assert_int_equal(vsn_select(&in, &r), -EINVAL);
	in = input(NORMAL, 1000, 0);
	in.n = 0;
	assert_int_equal(vsn_select(&in, &r), -EINVAL);
	assert_int_equal(r.chosen, 77);
	in = input(NORMAL, 1000, VSN_SELECT_NEVER);
	assert_int_equal(vsn_select(&in, &r), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(three_valued_logic, reset_world),
		cmocka_unit_test_setup(unknown_health_does_not_fail_over, reset_world),
		cmocka_unit_test_setup(unknown_and_failed_readings, reset_world),
		cmocka_unit_test_setup(comparisons_and_units, reset_world),
		cmocka_unit_test_setup(for_holds_at_exactly_the_duration, reset_world),
		cmocka_unit_test_setup(for_resets_when_interrupted, reset_world),
		cmocka_unit_test_setup(for_from_the_start_is_unknown, reset_world),
		cmocka_unit_test_setup(for_under_a_false_and, reset_world),
		cmocka_unit_test_setup(nested_for, reset_world),
		cmocka_unit_test_setup(explains_the_values, reset_world),
		cmocka_unit_test_setup(explains_like_snprintf, reset_world),
		cmocka_unit_test_setup(schedules_in_conditions, reset_world),
		cmocka_unit_test_setup(refuses_misuse, reset_world),
		cmocka_unit_test_setup(carries_state_to_the_same_condition, reset_world),
		cmocka_unit_test_setup(selects_by_priority, reset_configs),
		cmocka_unit_test_setup(first_selection_is_immediate, reset_configs),
		cmocka_unit_test_setup(failover_is_immediate, reset_configs),
		cmocka_unit_test_setup(return_is_delayed, reset_configs),
		cmocka_unit_test_setup(pin_wins_and_is_recorded, reset_configs),
		cmocka_unit_test_setup(refuses_bad_input, reset_configs),
	};

	return cmocka_run_group_tests_name("eval", tests, NULL, NULL);
}
