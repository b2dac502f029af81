/* SPDX-License-Identifier: Apache-2.0 */
/* The condition language (lib/state/cond.h): every form printed back canonically, every error. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cond.h"

static struct vsn_cond *parse_ok(const char *text)
{
	struct vsn_cond_error err = {0};
	struct vsn_cond *c = NULL;

	if (vsn_cond_parse(text, strlen(text), &c, &err)) {
		print_error("'%s': column %d: %s\n", text, err.column, err.msg);
		fail();
	}
	return c;
}

/* Each good form, and its canonical print: written as the second, or as the first when NULL. */
static const struct {
	const char *text, *canonical;
} good[] = {
	{"healthy(slb slb-a)", NULL},
	{"node_up(edge-1)", NULL},
	{"node_up(edge-1.example.net)", NULL},
	{"healthy_count(pool primary) >= 2", NULL},
	{"load(slb slb-a) < 0.5", NULL},
	{"load(pool primary) > 0.80 for 30s", "load(pool primary) > 0.8 for 30s"},
	{"load(pool p) > 80%", NULL},
	{"load(pool p)<=1", "load(pool p) <= 1"},
	{"traffic(vs web) > 100", NULL},
	{"traffic(vs web) >= 1.5Mpps", NULL},
	{"traffic(vs web) < 20kpps", NULL},
	{"traffic(vs web) != 10pps", NULL},
	{"traffic(vs web) == 1Gbps", NULL},
	{"traffic(vs web) > 800Mbps", NULL},
	{"traffic(vs web) > 64kbps", NULL},
	{"traffic(vs web) > 512bps", NULL},
	{"schedule(\"Mon-Fri 22:00-06:00 Europe/Berlin\")", NULL},
	{"schedule( \"Mon,Wed\" )", "schedule(\"Mon,Wed\")"},
	{"schedule(\"09:00-17:00\")", NULL},
	{"schedule(\"Sat-Sun UTC\")", NULL},
	{"  healthy ( slb  a ) ", "healthy(slb a)"},
	/* Precedence: not > for > and > or; parentheses only where needed. */
	{"healthy(slb a) or healthy(slb b) and node_up(n)", NULL},
	{"(healthy(slb a) or healthy(slb b)) and node_up(n)", NULL},
	{"healthy(slb a) or (healthy(slb b) and node_up(n))",
	 "healthy(slb a) or healthy(slb b) and node_up(n)"},
	{"((healthy(slb a)))", "healthy(slb a)"},
	{"(healthy(slb a) and healthy(slb b)) and node_up(n)",
	 "healthy(slb a) and healthy(slb b) and node_up(n)"},
	{"healthy(slb a) and (healthy(slb b) and node_up(n))", NULL},
	{"not healthy(slb a) and node_up(n)", NULL},
	{"not (healthy(slb a) and node_up(n))", NULL},
	{"not not node_up(n)", NULL},
	{"load(pool p) > 0.8 for 30s and healthy(slb a)", NULL},
	{"not healthy(slb a) for 30s", NULL},
	{"not (healthy(slb a) for 30s)", NULL},
	{"(healthy(slb a) or node_up(n)) for 5m", NULL},
	{"(node_up(n) for 1s) for 2s", NULL},
	{"node_up(n) for 500ms", NULL},
	{"node_up(n) for 60000ms", "node_up(n) for 1m"},
	{"node_up(n) for 90s", NULL},
	{"node_up(n) for 24h", NULL},
};

static void parses_every_form_and_prints_it_canonically(void **state)
{
	int failed = 0;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		const char *want = good[i].canonical ? good[i].canonical : good[i].text;
		struct vsn_cond_error err = {0};
		struct vsn_cond *c, *again;
		char buf[256], buf2[256];

		if (vsn_cond_parse(good[i].text, strlen(good[i].text), &c, &err)) {
			print_error("'%s': column %d: %s\n", good[i].text, err.column, err.msg);
			failed++;
			continue;
		}
		assert_int_equal(vsn_cond_format(c, buf, sizeof(buf)), strlen(want));
		if (strcmp(buf, want) && ++failed)
			print_error("'%s'\n  printed '%s'\n  want    '%s'\n", good[i].text, buf,
				    want);
		/* The canonical text is a fixed point. */
		assert_int_equal(vsn_cond_parse(buf, strlen(buf), &again, &err), 0);
		vsn_cond_format(again, buf2, sizeof(buf2));
		assert_string_equal(buf, buf2);
		vsn_cond_free(again);
		vsn_cond_free(c);
	}
	assert_int_equal(failed, 0);
}

/* The tree of the grammar's example, node by node, with columns. */
static void builds_the_tree_with_columns(void **state)
{
	struct vsn_cond *c = parse_ok("load(pool p) > 0.8 for 30s and healthy(slb a)");
	const struct vsn_cond_node *n = c->root, *hold, *cmp, *metric;

	assert_int_equal(n->type, VSN_COND_AND);
	assert_int_equal(n->column, 1);
	hold = n->bin.left;
	assert_int_equal(hold->type, VSN_COND_FOR);
	assert_int_equal(hold->hold.ms, 30000);
	cmp = hold->hold.operand;
	assert_int_equal(cmp->type, VSN_COND_CMP);
	assert_int_equal(cmp->cmp.op, VSN_COND_GT);
	assert_true(cmp->cmp.value == 0.8);
	assert_int_equal(cmp->cmp.unit, VSN_COND_UNIT_NONE);
	assert_int_equal(cmp->cmp.number_column, 16);
	metric = cmp->cmp.metric;
	assert_int_equal(metric->type, VSN_COND_LOAD);
	assert_int_equal(metric->ref.kind, VSN_COND_REF_POOL);
	assert_string_equal(metric->ref.name, "p");
	assert_int_equal(metric->ref.name_column, 11);
	assert_int_equal(n->bin.right->type, VSN_COND_HEALTHY);
	assert_int_equal(n->bin.right->column, 32);
	assert_int_equal(n->bin.right->ref.kind, VSN_COND_REF_SLB);
	assert_int_equal(n->bin.right->ref.name_column, 44);
	vsn_cond_free(c);
}

static const struct vsn_cond_node *cmp_of(const struct vsn_cond *c)
{
	assert_int_equal(c->root->type, VSN_COND_CMP);
	return c->root;
}

static void normalises_numbers_to_the_metric_units(void **state)
{
	static const struct {
		const char *text;
		double value, number;
		enum vsn_cond_unit unit;
		bool bits;
	} cases[] = {
		{"load(pool p) > 80%", 0.8, 80, VSN_COND_UNIT_PERCENT, false},
		{"load(pool p) > 0.8", 0.8, 0.8, VSN_COND_UNIT_NONE, false},
		{"traffic(vs v) > 1.5Mpps", 1.5e6, 1.5, VSN_COND_UNIT_MPPS, false},
		{"traffic(vs v) > 20kpps", 20e3, 20, VSN_COND_UNIT_KPPS, false},
		{"traffic(vs v) > 7", 7, 7, VSN_COND_UNIT_NONE, false},
		{"traffic(vs v) > 2Gbps", 2e9, 2, VSN_COND_UNIT_GBPS, true},
		{"traffic(vs v) > 3Mbps", 3e6, 3, VSN_COND_UNIT_MBPS, true},
		{"traffic(vs v) > 4kbps", 4e3, 4, VSN_COND_UNIT_KBPS, true},
		{"traffic(vs v) > 5bps", 5, 5, VSN_COND_UNIT_BPS, true},
		{"healthy_count(pool p) < 3", 3, 3, VSN_COND_UNIT_NONE, false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vsn_cond *c = parse_ok(cases[i].text);
		const struct vsn_cond_node *n = cmp_of(c);

		assert_true(n->cmp.value == cases[i].value);
		assert_true(n->cmp.number == cases[i].number);
		assert_int_equal(n->cmp.unit, cases[i].unit);
		assert_int_equal(vsn_cond_unit_is_bits(n->cmp.unit), cases[i].bits);
		vsn_cond_free(c);
	}
}

static void parses_schedules(void **state)
{
	static const struct {
		const char *spec;
		uint8_t days;
		int start, end;
		const char *zone;
	} cases[] = {
		{"Mon-Fri 22:00-06:00 Europe/Berlin", 0x1f, 22 * 60, 6 * 60, "Europe/Berlin"},
		{"Mon,Wed", 0x05, -1, -1, "UTC"},
		{"Fri-Mon", 0x71, -1, -1, "UTC"},
		{"sat,sun 12:00-24:00 America/New_York", 0x60, 720, 1440, "America/New_York"},
		{"09:30-17:15", 0x7f, 9 * 60 + 30, 17 * 60 + 15, "UTC"},
		{"Tue-Tue,Thu 10:00-11:00 UTC", 0x0a, 600, 660, "UTC"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[128];
		struct vsn_cond *c;
		const struct vsn_schedule *s;

		snprintf(text, sizeof(text), "schedule(\"%s\")", cases[i].spec);
		c = parse_ok(text);
		assert_int_equal(c->root->type, VSN_COND_SCHEDULE);
		assert_string_equal(c->root->sched.spec, cases[i].spec);
		s = &c->root->sched.schedule;
		assert_int_equal(s->days, cases[i].days);
		assert_int_equal(s->start, cases[i].start);
		assert_int_equal(s->end, cases[i].end);
		assert_string_equal(s->zone, cases[i].zone);
		vsn_cond_free(c);
	}
}

struct visit {
	char seen[256];
	size_t n;
};

static int visit(const struct vsn_cond_node *n, void *ctx)
{
	struct visit *v = ctx;

	v->n += snprintf(v->seen + v->n, sizeof(v->seen) - v->n, "%d", n->type);
	if (vsn_cond_has_ref(n))
		v->n += snprintf(v->seen + v->n, sizeof(v->seen) - v->n, "[%s %s@%d]",
				 vsn_cond_ref_kind_name(n->ref.kind), n->ref.name,
				 n->ref.name_column);
	v->n += snprintf(v->seen + v->n, sizeof(v->seen) - v->n, " ");
	return n->type == VSN_COND_TRAFFIC; /* stops the walk there */
}

static void walks_parents_first_and_stops_when_asked(void **state)
{
	struct vsn_cond *c = parse_ok("not node_up(n1) or healthy_count(pool p) > 1 and "
				      "traffic(vs v) > 1 and healthy(slb never-visited)");
	struct visit v = {"", 0};

	assert_int_equal(vsn_cond_walk(c, visit, &v), 1);
	/* or(not(node_up), and(and(cmp(healthy_count), cmp(traffic)), healthy)) */
	assert_string_equal(v.seen, "0 2 7[node n1@13] 1 1 4 8[pool p@39] 4 10[vs v@61] ");
	vsn_cond_free(c);
}

static void formats_like_snprintf(void **state)
{
	struct vsn_cond *c = parse_ok("healthy(slb a) and node_up(n)");
	char small[8];

	assert_int_equal(vsn_cond_format(c, small, sizeof(small)), 29);
	assert_string_equal(small, "healthy");
	assert_int_equal(vsn_cond_format(c, NULL, 0), 29);
	vsn_cond_free(c);
}

/* One case per error class: the message and the column it points at. */
static const struct {
	const char *text;
	int column;
	const char *msg;
} bad[] = {
	{"", 1, "empty condition"},
	{" \t ", 1, "empty condition"},
	{"healthy(slb a) & node_up(b)", 16, "expected 'and', 'or' or the end, not '&'"},
	{"healthy(slb a) node_up(b)", 16, "expected 'and', 'or' or the end, not 'node_up'"},
	{"and healthy(slb a)", 1, "expected a condition, not 'and'"},
	{"node_up(n) or 'x'", 15, "expected a condition, not \"'\""},
	{"healthy(slb a) and", 19, "expected a condition, not the end"},
	{"health(slb a)", 1,
	 "unknown condition 'health': expected schedule, healthy, healthy_count, load, traffic, "
	 "node_up, not or '('"},
	{"NOT node_up(n)", 1,
	 "unknown condition 'NOT': expected schedule, healthy, healthy_count, load, traffic, "
	 "node_up, not or '('"},
	{"healthy slb a", 9, "expected '(', not 'slb'"},
	{"healthy(pool a)", 9, "expected 'slb NAME', not 'pool'"},
	{"load(node x) > 1", 6, "expected 'slb NAME' or 'pool NAME', not 'node'"},
	{"traffic(slb x) > 1", 9, "expected 'vs NAME', not 'slb'"},
	{"healthy(slb)", 12, "expected a name, not ')'"},
	{"node_up()", 9, "expected a node name, not ')'"},
	{"healthy(slb a", 14, "expected ')', not the end"},
	{"(healthy(slb a)", 16, "expected ')' or an operator, not the end"},
	{"healthy(slb a) > 1", 16,
	 "healthy(...) is true or false: it is not compared with a number"},
	{"schedule(\"Mon\") == 1", 17,
	 "schedule(...) is true or false: it is not compared with a number"},
	{"load(pool p) and node_up(n)", 1,
	 "load(...) is a number: compare it, as in load(pool p) > 0.8"},
	{"healthy_count(pool p)", 1,
	 "healthy_count(...) is a number: compare it, as in healthy_count(pool p) >= 2"},
	{"traffic(vs v) for 5s", 1,
	 "traffic(...) is a number: compare it, as in traffic(vs v) > 10kpps"},
	{"load(pool p) = 1", 14, "'=' compares nothing: use '=='"},
	{"load(pool p) > high", 16, "expected a number after '>', not 'high'"},
	{"load(pool p) >= -1", 17, "expected a number after '>=', not '-'"},
	{"traffic(vs v) > 10mbps", 19,
	 "unknown unit 'mbps': expected %, pps, kpps, Mpps, bps, kbps, Mbps or Gbps"},
	{"load(pool p) > 0.", 18, "expected digits after '.'"},
	{"load(pool p) > 1.2", 16, "load is 0..1 (or 0%..100%), not 1.2"},
	{"load(pool p) > 120%", 16, "load is 0..1 (or 0%..100%), not 120%"},
	{"load(pool p) > 5kpps", 17, "load is a fraction, 0.8 or 80%: it takes no unit"},
	{"healthy_count(pool p) >= 1.5", 26,
	 "healthy_count is compared with a whole number, not 1.5"},
	{"healthy_count(pool p) >= 50%", 26,
	 "healthy_count is compared with a whole number, not 50%"},
	{"traffic(vs v) > 50%", 19,
	 "traffic is packets/s or bits/s (10kpps, 1Gbps), not a percentage"},
	{"node_up(n) for", 15,
	 "expected a duration after 'for': a whole number of ms, s, m or h (30s), not the end"},
	{"node_up(n) for 30", 16,
	 "expected a duration after 'for': a whole number of ms, s, m or h (30s), not '30'"},
	{"node_up(n) for 1.5s", 16,
	 "expected a duration after 'for': a whole number of ms, s, m or h (30s), not '1.5s'"},
	{"node_up(n) for 25h", 16, "a duration is 1ms to 24h, not 25h"},
	{"node_up(n) for 0s", 16, "a duration is 1ms to 24h, not 0s"},
	{"node_up(n) for 99999999999999999999h", 16,
	 "a duration is 1ms to 24h, not 99999999999999999999h"},
	{"node_up(n) for 1s for 2s", 19,
	 "'for' given twice: to hold a held condition, put it in parentheses"},
	{"schedule(Mon)", 10,
	 "expected a quoted schedule (\"Mon-Fri 22:00-06:00 Europe/Berlin\"), not 'Mon'"},
	{"schedule(\"Mon-Fri)", 10, "this quote is not closed"},
	{"schedule(\"\")", 11,
	 "schedule: a schedule needs days (Mon-Fri), a time range (22:00-06:00) or both, then an "
	 "optional time zone"},
	{"schedule(\"Mon-Fri 22:00-06:00 Europe/Nowhere\")", 31,
	 "schedule: unknown time zone 'Europe/Nowhere'"},
	{"schedule(\"Mon-Fri 22:00-06:00 ../etc/passwd\")", 31,
	 "schedule: '../etc/passwd' is not a time zone name (an IANA name such as Europe/Berlin)"},
	{"schedule(\"Mon-Fry\")", 15, "schedule: expected a day after '-' (Mon-Fri), not 'Fry'"},
	{"schedule(\"Mon,Thr\")", 15,
	 "schedule: unknown day 'Thr': expected Mon, Tue, Wed, Thu, Fri, Sat or Sun"},
	{"schedule(\"Mon,\")", 15, "schedule: expected a day after ','"},
	{"schedule(\"25:00-06:00\")", 11, "schedule: 25:00 is not a time of day (00:00 to 23:59)"},
	{"schedule(\"22:00-06:60\")", 17,
	 "schedule: 06:60 is not a time of day (00:00 to 23:59, or 24:00 at the end)"},
	{"schedule(\"22:00\")", 16,
	 "schedule: expected '-' and the end of the time range (22:00-06:00)"},
	{"schedule(\"9:00-17:00\")", 11,
	 "schedule: expected a time range HH:MM-HH:MM (22:00-06:00)"},
	{"schedule(\"10:00-10:00\")", 11,
	 "schedule: '10:00-10:00' is no time range: leave it out for all day"},
	{"schedule(\"10:00-12:00 Mon\")", 23, "schedule: the days come first"},
	{"schedule(\"UTC 10:00-12:00\")", 15,
	 "schedule: unexpected '10:00-12:00': the time zone comes last"},
	{"schedule(\"UTC\")", 11,
	 "schedule: a schedule needs days (Mon-Fri), a time range (22:00-06:00) or both, then an "
	 "optional time zone"},
};

static void refuses_each_error_class_at_its_column(void **state)
{
	int failed = 0;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vsn_cond_error err = {0};
		struct vsn_cond *c = (struct vsn_cond *)&failed; /* untouched on error */

		if (vsn_cond_parse(bad[i].text, strlen(bad[i].text), &c, &err) != -22 && ++failed) {
			print_error("'%s': not refused\n", bad[i].text);
			continue;
		}
		assert_ptr_equal(c, &failed);
		if ((err.column != bad[i].column || strcmp(err.msg, bad[i].msg)) && ++failed)
			print_error("'%s':\n  got  %d: %s\n  want %d: %s\n", bad[i].text,
				    err.column, err.msg, bad[i].column, bad[i].msg);
	}
	assert_int_equal(failed, 0);
}

static void refuses_deep_nesting_and_long_text(void **state)
{
	char text[VSN_COND_MAX_LEN + 2];
	struct vsn_cond_error err = {0};
	struct vsn_cond *c;
	size_t n = 0;

	for (int i = 0; i < VSN_COND_MAX_DEPTH; i++)
		n += sprintf(text + n, "not (");
	sprintf(text + n, "node_up(n)");
	/* 32 nots and 32 parentheses, each a level: the 17th 'not' is level 33. */
	assert_int_equal(vsn_cond_parse(text, strlen(text), &c, &err), -22);
	assert_int_equal(err.column, 16 * 5 + 1);
	assert_string_equal(err.msg, "nested too deeply: at most 32 levels of '(' and 'not'");

	memset(text, ' ', VSN_COND_MAX_LEN + 1);
	memcpy(text, "node_up(n)", 10);
	text[VSN_COND_MAX_LEN + 1] = '\0';
	assert_int_equal(vsn_cond_parse(text, VSN_COND_MAX_LEN + 1, &c, &err), -22);
	assert_int_equal(err.column, 1);
	assert_string_equal(err.msg, "a condition is at most 4096 characters, not 4097");
	assert_int_equal(vsn_cond_parse(text, VSN_COND_MAX_LEN, &c, &err), 0);
	vsn_cond_free(c);
}

/* The text need not end in a NUL: nothing past len is read (ASan checks the heap copy). */
static void reads_only_len_bytes(void **state)
{
	static const char *const texts[] = {"node_up(n)", "load(pool p) > 80%", "schedule(\"Mon",
					    "node_up(n) for 30s", "traffic(vs v) > 1.5Mpps"};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		size_t len = strlen(texts[i]);
		char *copy = malloc(len);
		struct vsn_cond_error err;
		struct vsn_cond *c;

		memcpy(copy, texts[i], len);
		if (!vsn_cond_parse(copy, len, &c, &err))
			vsn_cond_free(c);
		free(copy);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_every_form_and_prints_it_canonically),
		cmocka_unit_test(builds_the_tree_with_columns),
		cmocka_unit_test(normalises_numbers_to_the_metric_units),
		cmocka_unit_test(parses_schedules),
		cmocka_unit_test(walks_parents_first_and_stops_when_asked),
		cmocka_unit_test(formats_like_snprintf),
		cmocka_unit_test(refuses_each_error_class_at_its_column),
		cmocka_unit_test(refuses_deep_nesting_and_long_text),
		cmocka_unit_test(reads_only_len_bytes),
	};

	return cmocka_run_group_tests_name("cond", tests, NULL, NULL);
}
