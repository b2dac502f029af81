/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Conditions against signals (eval.h). The state holds one slot per node of
 * the tree, in the order of vsn_cond_walk() (a node, then its left subtree,
 * then its right one), so a node's first child is the next slot and its
 * second one follows the first's subtree.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "civil.h"
#include "eval_out.h"

struct slot {
	const struct vsn_cond_node *node;
	size_t size; /* of its subtree, itself included */
	enum vsn_tri value;
	struct vsn_reading reading; /* CMP: its metric's */
	/* FOR: when the current run of true operands began, and of operands not false. */
	bool in_true, in_nonfalse, ever_false;
	uint64_t since_true, since_nonfalse;
	/* SCHEDULE: its zone, and its value from the wall-clock second from to next (excluded). */
	const struct vsn_tz *tz;
	bool cached;
	bool sched_holds;
	int64_t from, next; /* next INT64_MAX: the value never changes */
};

struct vsn_cond_state {
	const struct vsn_cond *cond;
	uint64_t now_ms; /* of the last evaluation */
	bool evaluated;
	size_t n;
	struct slot slots[];
};

/* A node's operands: none, one, or two (left, right). */
static int operands(const struct vsn_cond_node *n, const struct vsn_cond_node *ret[2])
{
	switch (n->type) {
	case VSN_COND_OR:
	case VSN_COND_AND:
		ret[0] = n->bin.left;
		ret[1] = n->bin.right;
		return 2;
	case VSN_COND_NOT:
		ret[0] = n->operand;
		return 1;
	case VSN_COND_FOR:
		ret[0] = n->hold.operand;
		return 1;
	case VSN_COND_CMP:
		ret[0] = n->cmp.metric;
		return 1;
	default:
		return 0;
	}
}

/* Fill the slots of n's subtree from slot i on; returns the slot after it. */
static size_t fill(struct vsn_cond_state *st, const struct vsn_cond_node *n, size_t i)
{
	const struct vsn_cond_node *ops[2];
	int k = operands(n, ops);
	size_t next = i + 1;

	st->slots[i] = (struct slot){.node = n, .value = VSN_TRI_UNKNOWN};
	for (int j = 0; j < k; j++)
		next = fill(st, ops[j], next);
	st->slots[i].size = next - i;
	return next;
}

static int count(const struct vsn_cond_node *n, void *ctx)
{
	(*(size_t *)ctx)++;
	return 0;
}

int vsn_cond_state_new(const struct vsn_cond *c, struct vsn_cond_state **ret)
{
	struct vsn_cond_state *st;
	size_t n = 0;
	int err = 0;

	if (!c || !c->root)
		return -EINVAL;
	vsn_cond_walk(c, count, &n);
	st = calloc(1, sizeof(*st) + n * sizeof(st->slots[0]));
	if (!st)
		return -ENOMEM;
	st->cond = c;
	st->n = n;
	fill(st, c->root, 0);
	for (size_t i = 0; i < n && !err; i++)
		if (st->slots[i].node->type == VSN_COND_SCHEDULE)
			err = vsn_tz_get(st->slots[i].node->sched.schedule.zone, &st->slots[i].tz);
	if (err) {
		free(st);
		return err;
	}
	*ret = st;
	return 0;
}

void vsn_cond_state_free(struct vsn_cond_state *st)
{
	free(st);
}

/* The same node, apart from its operands and its place in the text. */
static bool same_node(const struct vsn_cond_node *a, const struct vsn_cond_node *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case VSN_COND_FOR:
		return a->hold.ms == b->hold.ms;
	case VSN_COND_CMP:
		return a->cmp.op == b->cmp.op && a->cmp.value == b->cmp.value &&
		       a->cmp.unit == b->cmp.unit;
	case VSN_COND_SCHEDULE:
		return !strcmp(a->sched.spec, b->sched.spec);
	default:
		return !vsn_cond_has_ref(a) ||
		       (a->ref.kind == b->ref.kind && !strcmp(a->ref.name, b->ref.name));
	}
}

int vsn_cond_state_carry(struct vsn_cond_state *to, const struct vsn_cond_state *from)
{
	if (to->n != from->n)
		return -ESTALE;
	/* The same nodes with the same subtree sizes, in the same order: the same tree. */
	for (size_t i = 0; i < to->n; i++)
		if (to->slots[i].size != from->slots[i].size ||
		    !same_node(to->slots[i].node, from->slots[i].node))
			return -ESTALE;
	for (size_t i = 0; i < to->n; i++) {
		struct slot s = from->slots[i];

		s.node = to->slots[i].node;
		s.tz = to->slots[i].tz;
		to->slots[i] = s;
	}
	to->now_ms = from->now_ms;
	to->evaluated = from->evaluated;
	return 0;
}

enum vsn_tri vsn_cond_value(const struct vsn_cond_state *st)
{
	return st->slots[0].value;
}

/* One evaluation: the signals, its time, and the earliest time a value may change by itself. */
struct ev {
	const struct vsn_eval_signals *sig;
	struct vsn_cond_state *st;
	uint64_t now;
	bool wall_read;
	int64_t wall_ms;
	uint64_t next_ms;
};

static void wake_at(struct ev *e, uint64_t t)
{
	if (t < e->next_ms)
		e->next_ms = t;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static enum vsn_tri tri(enum vsn_tri v)
{
	return v == VSN_TRI_FALSE || v == VSN_TRI_TRUE ? v : VSN_TRI_UNKNOWN;
}

static struct vsn_reading reading(struct vsn_reading r)
{
	if (r.state != VSN_READING_OK && r.state != VSN_READING_FAILED)
		r.state = VSN_READING_UNKNOWN;
	if (r.state == VSN_READING_OK && !isfinite(r.value))
		r.state = VSN_READING_FAILED;
	return r;
}

static struct vsn_reading read_metric(const struct ev *e, const struct vsn_cond_node *cmp)
{
	const struct vsn_eval_signals *sig = e->sig;
	const struct vsn_cond_node *m = cmp->cmp.metric;
	struct vsn_reading none = {VSN_READING_UNKNOWN, 0};

	switch (m->type) {
	case VSN_COND_HEALTHY_COUNT:
		return sig->healthy_count ? reading(sig->healthy_count(sig->arg, m->ref.name))
					  : none;
	case VSN_COND_LOAD:
		return sig->load ? reading(sig->load(sig->arg, m->ref.kind, m->ref.name)) : none;
	case VSN_COND_TRAFFIC:
		return sig->traffic ? reading(sig->traffic(sig->arg, m->ref.name,
							   vsn_cond_unit_is_bits(cmp->cmp.unit)))
				    : none;
	default:
		return none;
	}
}

static enum vsn_tri compare(const struct vsn_cond_node *n, struct vsn_reading r)
{
	double a = r.value, b = n->cmp.value;
	bool v;

	if (r.state != VSN_READING_OK)
		return VSN_TRI_UNKNOWN;
	switch (n->cmp.op) {
	case VSN_COND_LT:
		v = a < b;
		break;
	case VSN_COND_LE:
		v = a <= b;
		break;
	case VSN_COND_GT:
		v = a > b;
		break;
	case VSN_COND_GE:
		v = a >= b;
		break;
	case VSN_COND_EQ:
		v = a == b;
		break;
	case VSN_COND_NE:
		v = a != b;
		break;
	default:
		return VSN_TRI_UNKNOWN;
	}
	return v ? VSN_TRI_TRUE : VSN_TRI_FALSE;
}

/*
 * `A for D` over the evaluations: each value of A lasts until the next
 * evaluation, and before the first one A is unknown. True when A was true
 * throughout the last D, false when A was false somewhere in it, else unknown.
 */
static enum vsn_tri hold(struct ev *e, struct slot *s, enum vsn_tri op)
{
	uint64_t d = s->node->hold.ms, now = e->now;

	if (op == VSN_TRI_FALSE) {
		s->in_true = s->in_nonfalse = false;
		s->ever_false = true;
		return VSN_TRI_FALSE;
	}
	if (!s->in_nonfalse) {
		s->in_nonfalse = true;
		s->since_nonfalse = now;
	}
	if (op == VSN_TRI_TRUE && !s->in_true) {
		s->in_true = true;
		s->since_true = now;
	} else if (op != VSN_TRI_TRUE) {
		s->in_true = false;
	}
	if (s->in_true && now - s->since_true >= d)
		return VSN_TRI_TRUE;
	if (s->in_true)
		wake_at(e, add_sat(s->since_true, d));
	if (s->ever_false && now - s->since_nonfalse < d) {
		wake_at(e, add_sat(s->since_nonfalse, d));
		return VSN_TRI_FALSE;
	}
	return VSN_TRI_UNKNOWN;
}

/* A schedule at the wall clock; its value is kept until its next change, which wakes the caller. */
static enum vsn_tri schedule(struct ev *e, struct slot *s)
{
	const struct vsn_schedule *sc = &s->node->sched.schedule;
	int64_t now;
	time_t next;
	int err;

	if (!e->sig->wall_ms)
		return VSN_TRI_UNKNOWN;
	if (!e->wall_read) {
		e->wall_ms = e->sig->wall_ms(e->sig->arg);
		e->wall_read = true;
	}
	now = vsn_floor_div(e->wall_ms, 1000);
	if (!s->cached || now < s->from || now >= s->next) {
		s->cached = false;
		if (vsn_schedule_holds_tz(sc, s->tz, (time_t)now, &s->sched_holds))
			return VSN_TRI_UNKNOWN;
		err = vsn_schedule_next_change_tz(sc, s->tz, (time_t)now, &next);
		if (err && err != -ENOENT)
			return VSN_TRI_UNKNOWN;
		s->from = now;
		s->next = err ? INT64_MAX : (int64_t)next;
		s->cached = true;
	}
	if (s->next != INT64_MAX)
		wake_at(e, add_sat(e->now, (uint64_t)(s->next * 1000 - e->wall_ms)));
	return s->sched_holds ? VSN_TRI_TRUE : VSN_TRI_FALSE;
}

/*
 * Kleene's logic with false < unknown < true: `and` is the lesser value, `or`
 * the greater, `not` the mirror. Both operands are always evaluated.
 */
static enum vsn_tri eval_node(struct ev *e, size_t i)
{
	struct slot *s = &e->st->slots[i];
	const struct vsn_cond_node *n = s->node;
	const struct vsn_eval_signals *sig = e->sig;
	size_t l = i + 1, r = l + (l < e->st->n ? e->st->slots[l].size : 0);
	enum vsn_tri v, a, b;

	switch (n->type) {
	case VSN_COND_OR:
	case VSN_COND_AND:
		a = eval_node(e, l);
		b = eval_node(e, r);
		if (n->type == VSN_COND_AND)
			v = a < b ? a : b;
		else
			v = a > b ? a : b;
		break;
	case VSN_COND_NOT:
		v = VSN_TRI_TRUE - eval_node(e, l);
		break;
	case VSN_COND_FOR:
		v = hold(e, s, eval_node(e, l));
		break;
	case VSN_COND_CMP:
		s->reading = read_metric(e, n);
		e->st->slots[l].value =
			s->reading.state == VSN_READING_OK ? VSN_TRI_TRUE : VSN_TRI_UNKNOWN;
		v = compare(n, s->reading);
		break;
	case VSN_COND_SCHEDULE:
		v = schedule(e, s);
		break;
	case VSN_COND_HEALTHY:
		v = sig->healthy ? tri(sig->healthy(sig->arg, n->ref.name)) : VSN_TRI_UNKNOWN;
		break;
	case VSN_COND_NODE_UP:
		v = sig->node_up ? tri(sig->node_up(sig->arg, n->ref.name)) : VSN_TRI_UNKNOWN;
		break;
	default: /* a numeric primary outside a comparison: the parser makes none */
		v = VSN_TRI_UNKNOWN;
		break;
	}
	s->value = v;
	return v;
}

int vsn_cond_eval(const struct vsn_cond *c, const struct vsn_eval_signals *sig, uint64_t now_ms,
		  struct vsn_cond_state *st, bool *ret_holds, uint64_t *ret_next_ms)
{
	struct ev e = {.sig = sig, .st = st, .now = now_ms, .next_ms = UINT64_MAX};

	if (!c || !sig || !st || st->cond != c || (st->evaluated && now_ms < st->now_ms))
		return -EINVAL;
	eval_node(&e, 0);
	st->now_ms = now_ms;
	st->evaluated = true;
	*ret_holds = st->slots[0].value == VSN_TRI_TRUE;
	if (ret_next_ms)
		*ret_next_ms = e.next_ms;
	return 0;
}

/* A subtree in its canonical form (cond.h). */
static void put_node(struct vsn_out *o, const struct vsn_cond_node *n)
{
	struct vsn_cond sub = {(struct vsn_cond_node *)n};
	size_t room;
	char *p = vsn_out_room(o, &room);

	vsn_out_add(o, vsn_cond_format(&sub, p, room));
}

/* A reading, to four significant digits at most, without trailing zeros. */
static void put_value(struct vsn_out *o, double v)
{
	double a = fabs(v);
	int decimals = a >= 1000 ? 0 : a >= 100 ? 1 : a >= 10 ? 2 : 3;
	char buf[64], *end;

	snprintf(buf, sizeof(buf), "%.*f", decimals, v);
	end = buf + strlen(buf);
	if (strchr(buf, '.')) {
		while (end[-1] == '0')
			*--end = '\0';
		if (end[-1] == '.')
			*--end = '\0';
	}
	vsn_out_put(o, "%s", strcmp(buf, "-0") ? buf : "0");
}

/*
 * The units a comparison's number is written in, to print its reading alike
 * (cond.c has the same table but does not export it).
 */
static const struct {
	const char *name;
	double scale;
} units[] = {
	[VSN_COND_UNIT_NONE] = {"", 1},	      [VSN_COND_UNIT_PERCENT] = {"%", 0.01},
	[VSN_COND_UNIT_PPS] = {"pps", 1},     [VSN_COND_UNIT_KPPS] = {"kpps", 1e3},
	[VSN_COND_UNIT_MPPS] = {"Mpps", 1e6}, [VSN_COND_UNIT_BPS] = {"bps", 1},
	[VSN_COND_UNIT_KBPS] = {"kbps", 1e3}, [VSN_COND_UNIT_MBPS] = {"Mbps", 1e6},
	[VSN_COND_UNIT_GBPS] = {"Gbps", 1e9},
};

static void put_reading(struct vsn_out *o, const struct vsn_cond_node *cmp, struct vsn_reading r)
{
	unsigned int u = cmp->cmp.unit < sizeof(units) / sizeof(units[0]) ? cmp->cmp.unit : 0;

	if (r.state == VSN_READING_OK) {
		put_value(o, r.value / units[u].scale);
		vsn_out_put(o, "%s", units[u].name);
	} else {
		vsn_out_put(o, "%s", r.state == VSN_READING_FAILED ? "failed" : "unknown");
	}
}

/* "load(pool p)=0.83 > 0.8": the canonical comparison with the reading after its metric. */
static void put_cmp(struct vsn_out *o, const struct slot *s)
{
	const struct vsn_cond_node *n = s->node;
	struct vsn_cond whole = {(struct vsn_cond_node *)n}, metric = {n->cmp.metric};
	char text[1024];
	int len = vsn_cond_format(&whole, text, sizeof(text));
	int mlen = vsn_cond_format(&metric, NULL, 0);

	if (len < 0 || mlen < 0 || mlen > len || (size_t)len >= sizeof(text))
		return;
	vsn_out_put(o, "%.*s=", mlen, text);
	put_reading(o, n, s->reading);
	vsn_out_put(o, "%s", text + mlen);
}

/* 30s, 5m, 500ms: the largest unit that divides the duration, as cond.c prints it. */
static void put_duration(struct vsn_out *o, uint32_t ms)
{
	if (ms % 3600000 == 0)
		vsn_out_put(o, "%uh", ms / 3600000);
	else if (ms % 60000 == 0)
		vsn_out_put(o, "%um", ms / 60000);
	else if (ms % 1000 == 0)
		vsn_out_put(o, "%us", ms / 1000);
	else
		vsn_out_put(o, "%ums", ms);
}

static const char *const tri_names[] = {"false", "unknown", "true"};

/* How tightly a node binds, as in cond.c: an operand binding less tightly needs parentheses. */
static int prec(const struct vsn_cond_node *n)
{
	static const int precs[] = {
		[VSN_COND_OR] = 1, [VSN_COND_AND] = 2, [VSN_COND_FOR] = 3, [VSN_COND_NOT] = 4};

	return n->type < sizeof(precs) / sizeof(precs[0]) ? precs[n->type] : 5;
}

/*
 * Of an `and` or `or`, the operand that alone explains it (slot l or r), or
 * 0 when both have its value and both are shown.
 */
static size_t sole_operand(const struct vsn_cond_state *st, size_t i)
{
	const struct slot *s = &st->slots[i];
	size_t l = i + 1, r;

	if (s->node->type != VSN_COND_OR && s->node->type != VSN_COND_AND)
		return 0;
	r = l + st->slots[l].size;
	if (st->slots[l].value != s->value)
		return r;
	if (st->slots[r].value != s->value)
		return l;
	return 0;
}

static void explain(struct vsn_out *o, const struct vsn_cond_state *st, size_t i, int min_prec)
{
	const struct slot *s = &st->slots[i];
	const struct vsn_cond_node *n = s->node;
	size_t l = i + 1, sole = sole_operand(st, i);
	bool paren;

	/* An `and` or `or` shown as one operand binds as that operand: it decides the parens. */
	if (sole) {
		explain(o, st, sole, min_prec);
		return;
	}
	paren = prec(n) < min_prec;
	if (paren)
		vsn_out_put(o, "(");
	switch (n->type) {
	case VSN_COND_OR:
	case VSN_COND_AND:
		explain(o, st, l, prec(n));
		vsn_out_put(o, n->type == VSN_COND_OR ? " or " : " and ");
		explain(o, st, l + st->slots[l].size, prec(n) + 1);
		break;
	case VSN_COND_NOT:
		vsn_out_put(o, "not ");
		explain(o, st, l, prec(n));
		break;
	case VSN_COND_FOR:
		explain(o, st, l, prec(n) + 1);
		vsn_out_put(o, " for ");
		put_duration(o, n->hold.ms);
		if (s->in_true)
			vsn_out_put(o, " (held %.1fs)",
				    (double)(st->now_ms - s->since_true) / 1000);
		break;
	case VSN_COND_CMP:
		put_cmp(o, s);
		break;
	default:
		put_node(o, n);
		vsn_out_put(o, "=%s", tri_names[tri(s->value)]);
		break;
	}
	if (paren)
		vsn_out_put(o, ")");
}

int vsn_cond_explain(const struct vsn_cond *c, const struct vsn_cond_state *st, char *buf,
		     size_t len)
{
	struct vsn_out o = {buf, len, 0};

	if (!c || !st || st->cond != c)
		return -EINVAL;
	if (len)
		buf[0] = '\0';
	explain(&o, st, 0, 0);
	return (int)o.n;
}
