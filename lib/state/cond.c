/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The condition language (cond.h): a lexer that reads one token ahead on
 * demand, so that names (which may hold '-' and '.') are read as names where
 * the grammar expects one, and a recursive-descent parser, one function per
 * rule of the grammar.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cond.h"

enum tok_type {
	T_END,
	T_LPAREN,
	T_RPAREN,
	T_OP,	  /* a comparison: tok.op */
	T_NUMBER, /* digits, an optional fraction, an optional unit (letters or %) */
	T_STRING, /* "...": off and len include the quotes */
	T_WORD,	  /* letters, digits and '_', starting with a letter */
	T_NAME,	  /* read only where a name is expected */
	T_BAD,	  /* one character that starts no token */
};

struct tok {
	enum tok_type type;
	size_t off, len;
	enum vsn_cond_op op;
};

struct parser {
	const char *s;
	size_t len;
	size_t pos; /* just past the last token taken */
	struct tok tok;
	int depth;
	struct vsn_cond_error *err;
};

/* A primary: its name, node type, and the kinds of names it takes (none: a schedule). */
struct primary {
	const char *name;
	enum vsn_cond_type type;
	unsigned int kinds;  /* bits of enum vsn_cond_ref_kind */
	const char *example; /* of a comparison, for numeric primaries */
};

#define KIND(k) (1u << (k))

static const struct primary primaries[] = {
	{"schedule", VSN_COND_SCHEDULE, 0, NULL},
	{"healthy", VSN_COND_HEALTHY, KIND(VSN_COND_REF_SLB), NULL},
	{"node_up", VSN_COND_NODE_UP, KIND(VSN_COND_REF_NODE), NULL},
	{"healthy_count", VSN_COND_HEALTHY_COUNT, KIND(VSN_COND_REF_POOL),
	 "healthy_count(pool p) >= 2"},
	{"load", VSN_COND_LOAD, KIND(VSN_COND_REF_SLB) | KIND(VSN_COND_REF_POOL),
	 "load(pool p) > 0.8"},
	{"traffic", VSN_COND_TRAFFIC, KIND(VSN_COND_REF_VS), "traffic(vs v) > 10kpps"},
};

static const char *const kind_names[] = {"slb", "pool", "vs", "node"};
static const char *const op_names[] = {"<", "<=", ">", ">=", "==", "!="};

static const struct unit {
	const char *name;
	double scale;
} units[] = {
	[VSN_COND_UNIT_NONE] = {"", 1},	      [VSN_COND_UNIT_PERCENT] = {"%", 1},
	[VSN_COND_UNIT_PPS] = {"pps", 1},     [VSN_COND_UNIT_KPPS] = {"kpps", 1e3},
	[VSN_COND_UNIT_MPPS] = {"Mpps", 1e6}, [VSN_COND_UNIT_BPS] = {"bps", 1},
	[VSN_COND_UNIT_KBPS] = {"kbps", 1e3}, [VSN_COND_UNIT_MBPS] = {"Mbps", 1e6},
	[VSN_COND_UNIT_GBPS] = {"Gbps", 1e9},
};

static const struct duration_unit {
	const char *name;
	uint32_t ms;
} duration_units[] = {{"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};

const char *vsn_cond_ref_kind_name(enum vsn_cond_ref_kind kind)
{
	return (unsigned)kind < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[kind] : "?";
}

bool vsn_cond_unit_is_bits(enum vsn_cond_unit unit)
{
	return unit >= VSN_COND_UNIT_BPS && unit <= VSN_COND_UNIT_GBPS;
}

int vsn_cond_duration_parse(const char *s, uint32_t max_ms, uint32_t *ret_ms)
{
	size_t digits = 0;
	unsigned long long v = 0;

	while (s[digits] >= '0' && s[digits] <= '9')
		digits++;
	for (size_t i = 0; digits && i < sizeof(duration_units) / sizeof(duration_units[0]); i++) {
		const struct duration_unit *u = &duration_units[i];

		if (strcmp(s + digits, u->name))
			continue;
		for (size_t j = 0; j < digits && v <= max_ms; j++)
			v = v * 10 + (s[j] - '0');
		v *= u->ms;
		if (!v || v > max_ms)
			return -EINVAL;
		*ret_ms = (uint32_t)v;
		return 0;
	}
	return -EINVAL;
}

bool vsn_cond_has_ref(const struct vsn_cond_node *n)
{
	return n->type >= VSN_COND_HEALTHY;
}

static int fail_at(struct parser *p, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail_at(struct parser *p, size_t off, const char *fmt, ...)
{
	va_list ap;

	p->err->column = (int)off + 1;
	va_start(ap, fmt);
	vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int nomem(struct parser *p)
{
	p->err->column = 1;
	snprintf(p->err->msg, sizeof(p->err->msg), "out of memory");
	return -ENOMEM;
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* How many characters at off (below the text's end) belong to a word, or a name when name. */
static size_t run(const struct parser *p, size_t off, bool name)
{
	size_t n = 0;

	for (; off + n < p->len; n++) {
		char c = p->s[off + n];

		if (!is_alpha(c) && !is_digit(c) && c != '_' && !(name && (c == '-' || c == '.')))
			break;
	}
	return n;
}

static size_t skip_blanks(const struct parser *p, size_t off)
{
	while (off < p->len &&
	       (p->s[off] == ' ' || p->s[off] == '\t' || p->s[off] == '\n' || p->s[off] == '\r'))
		off++;
	return off;
}

/* Read the token after p->pos into p->tok (not taken yet); a name where want_name. */
static void lex(struct parser *p, bool want_name)
{
	static const char ops[][3] = {"<", "<=", ">", ">=", "==", "!="};
	size_t off = skip_blanks(p, p->pos);
	struct tok t = {.off = off, .len = 1, .type = T_BAD};
	const char *s = p->s + off;
	size_t left = p->len - off;

	if (!left) {
		t.type = T_END;
		t.len = 0;
	} else if (want_name && (is_alpha(*s) || is_digit(*s))) {
		t.type = T_NAME;
		t.len = run(p, off, true);
	} else if (*s == '(' || *s == ')') {
		t.type = *s == '(' ? T_LPAREN : T_RPAREN;
	} else if (is_alpha(*s)) {
		t.type = T_WORD;
		t.len = run(p, off, false);
	} else if (is_digit(*s)) {
		t.type = T_NUMBER;
		t.len = run(p, off, false);
		if (off + t.len < p->len && p->s[off + t.len] == '.')
			t.len += 1 + run(p, off + t.len + 1, false);
		if (off + t.len < p->len && p->s[off + t.len] == '%')
			t.len++;
	} else if (*s == '"') {
		const char *close = memchr(s + 1, '"', left - 1);

		t.type = T_STRING;
		t.len = close ? (size_t)(close - s) + 1 : left;
	} else {
		/* The longest comparison operator that matches: "<=" before "<". */
		for (int i = 5; i >= 0; i--) {
			size_t n = strlen(ops[i]);

			if (left >= n && !memcmp(s, ops[i], n)) {
				t.type = T_OP;
				t.op = (enum vsn_cond_op)i;
				t.len = n;
				break;
			}
		}
	}
	p->tok = t;
}

static void take(struct parser *p)
{
	p->pos = p->tok.off + p->tok.len;
}

static bool tok_is(const struct parser *p, const char *word)
{
	return p->tok.type == T_WORD && p->tok.len == strlen(word) &&
	       !memcmp(p->s + p->tok.off, word, p->tok.len);
}

/*
 * The token for a message: 'text' ("text" when it holds a '), cut at 24 characters, bytes
 * outside ASCII as \xNN; or "the end".
 */
static const char *describe(const struct parser *p, char buf[128])
{
	char quote = memchr(p->s + p->tok.off, '\'', p->tok.len) ? '"' : '\'';
	size_t n = 0;

	if (p->tok.type == T_END)
		return "the end";
	buf[n++] = quote;
	for (size_t i = 0; i < p->tok.len && i < 24; i++) {
		unsigned char c = p->s[p->tok.off + i];

		n += snprintf(buf + n, 8, c >= 0x20 && c < 0x7f ? "%c" : "\\x%02x", c);
	}
	if (p->tok.len > 24)
		n += snprintf(buf + n, 8, "...");
	snprintf(buf + n, 2, "%c", quote);
	return buf;
}

static int unexpected(struct parser *p, const char *expected)
{
	char buf[128];

	return fail_at(p, p->tok.off, "expected %s, not %s", expected, describe(p, buf));
}

static struct vsn_cond_node *node_new(enum vsn_cond_type type, size_t off)
{
	struct vsn_cond_node *n = calloc(1, sizeof(*n));

	if (n) {
		n->type = type;
		n->column = (int)off + 1;
	}
	return n;
}

static void node_free(struct vsn_cond_node *n)
{
	if (!n)
		return;
	switch (n->type) {
	case VSN_COND_OR:
	case VSN_COND_AND:
		node_free(n->bin.left);
		node_free(n->bin.right);
		break;
	case VSN_COND_NOT:
		node_free(n->operand);
		break;
	case VSN_COND_FOR:
		node_free(n->hold.operand);
		break;
	case VSN_COND_CMP:
		node_free(n->cmp.metric);
		break;
	case VSN_COND_SCHEDULE:
		free(n->sched.spec);
		break;
	default:
		free(n->ref.name);
		break;
	}
	free(n);
}

/* Expect the token type, described as what for errors, and take it. */
static int expect(struct parser *p, enum tok_type type, const char *what)
{
	lex(p, false);
	if (p->tok.type != type)
		return unexpected(p, what);
	take(p);
	return 0;
}

/* schedule("SPEC"), after its '('. */
static int parse_schedule(struct parser *p, struct vsn_cond_node *n)
{
	size_t spec_off, spec_len, bad;
	char msg[sizeof(p->err->msg) - 16];
	int r;

	lex(p, false);
	if (p->tok.type != T_STRING)
		return unexpected(p, "a quoted schedule (\"Mon-Fri 22:00-06:00 Europe/Berlin\")");
	if (p->tok.len < 2 || p->s[p->tok.off + p->tok.len - 1] != '"')
		return fail_at(p, p->tok.off, "this quote is not closed");
	spec_off = p->tok.off + 1;
	spec_len = p->tok.len - 2;
	take(p);
	r = vsn_schedule_parse(p->s + spec_off, spec_len, &n->sched.schedule, &bad, msg,
			       sizeof(msg));
	if (r)
		return fail_at(p, spec_off + bad, "schedule: %s", msg);
	n->sched.spec = strndup(p->s + spec_off, spec_len);
	return n->sched.spec ? 0 : nomem(p);
}

/* The arguments of a primary that names something, after its '('. */
static int parse_ref(struct parser *p, const struct primary *pr, struct vsn_cond_node *n)
{
	unsigned int kind = 0;

	if (pr->kinds == KIND(VSN_COND_REF_NODE)) {
		kind = VSN_COND_REF_NODE;
	} else {
		char want[64];

		lex(p, false);
		while (kind < 4 && (!(pr->kinds & KIND(kind)) || !tok_is(p, kind_names[kind])))
			kind++;
		if (kind == 4) {
			/* "'slb NAME'", or "'slb NAME' or 'pool NAME'" for load. */
			if (pr->kinds == (KIND(VSN_COND_REF_SLB) | KIND(VSN_COND_REF_POOL)))
				snprintf(want, sizeof(want), "'slb NAME' or 'pool NAME'");
			else
				snprintf(want, sizeof(want), "'%s NAME'",
					 kind_names[__builtin_ctz(pr->kinds)]);
			return unexpected(p, want);
		}
		take(p);
	}
	lex(p, true);
	if (p->tok.type != T_NAME)
		return unexpected(p, kind == VSN_COND_REF_NODE ? "a node name" : "a name");
	if (p->tok.len > VSN_COND_NAME_MAX)
		return fail_at(p, p->tok.off, "a name is at most %d characters", VSN_COND_NAME_MAX);
	n->ref.kind = (enum vsn_cond_ref_kind)kind;
	n->ref.name_column = (int)p->tok.off + 1;
	n->ref.name = strndup(p->s + p->tok.off, p->tok.len);
	if (!n->ref.name)
		return nomem(p);
	take(p);
	return 0;
}

/* A number token's value and unit; -EINVAL for an unknown unit or a fraction without digits. */
static int number_value(struct parser *p, double *ret_number, enum vsn_cond_unit *ret_unit,
			size_t *ret_unit_off)
{
	const char *s = p->s + p->tok.off;
	size_t digits = 0, ulen;
	char buf[40];

	while (digits < p->tok.len && (is_digit(s[digits]) || s[digits] == '.'))
		digits++;
	if (s[digits - 1] == '.')
		return fail_at(p, p->tok.off + digits, "expected digits after '.'");
	if (digits >= sizeof(buf))
		return fail_at(p, p->tok.off, "a number has at most %zu digits", sizeof(buf) - 1);
	memcpy(buf, s, digits);
	buf[digits] = '\0';
	*ret_number = strtod(buf, NULL);
	*ret_unit_off = p->tok.off + digits;
	ulen = p->tok.len - digits;
	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++)
		if (strlen(units[u].name) == ulen && !memcmp(s + digits, units[u].name, ulen)) {
			*ret_unit = (enum vsn_cond_unit)u;
			return 0;
		}
	return fail_at(p, p->tok.off + digits,
		       "unknown unit '%.*s': expected %%, pps, kpps, Mpps, bps, kbps, Mbps or Gbps",
		       (int)ulen, s + digits);
}

/* The number a numeric primary is compared with, checked against what the primary measures. */
static int parse_number(struct parser *p, struct vsn_cond_node *n)
{
	enum vsn_cond_type metric = n->cmp.metric->type;
	enum vsn_cond_unit unit;
	size_t uoff, off;
	double num;
	int r;

	lex(p, false);
	if (p->tok.type != T_NUMBER) {
		char want[48];

		snprintf(want, sizeof(want), "a number after '%s'", op_names[n->cmp.op]);
		return unexpected(p, want);
	}
	off = p->tok.off;
	r = number_value(p, &num, &unit, &uoff);
	if (r)
		return r;
	if (metric == VSN_COND_LOAD && unit > VSN_COND_UNIT_PERCENT)
		return fail_at(p, uoff, "load is a fraction, 0.8 or 80%%: it takes no unit");
	if (metric == VSN_COND_LOAD && (unit == VSN_COND_UNIT_PERCENT ? num > 100 : num > 1))
		return fail_at(p, off, "load is 0..1 (or 0%%..100%%), not %.*s", (int)p->tok.len,
			       p->s + off);
	if (metric == VSN_COND_HEALTHY_COUNT && (unit != VSN_COND_UNIT_NONE || num != floor(num)))
		return fail_at(p, off, "healthy_count is compared with a whole number, not %.*s",
			       (int)p->tok.len, p->s + off);
	if (metric == VSN_COND_TRAFFIC && unit == VSN_COND_UNIT_PERCENT)
		return fail_at(p, uoff,
			       "traffic is packets/s or bits/s (10kpps, 1Gbps), not a percentage");
	take(p);
	n->cmp.number = num;
	/* A division, so that 80% is the same double as 0.8. */
	n->cmp.value = unit == VSN_COND_UNIT_PERCENT ? num / 100 : num * units[unit].scale;
	n->cmp.unit = unit;
	n->cmp.number_column = (int)off + 1;
	return 0;
}

/* A primary (its word is the current token) and, for a numeric one, its comparison. */
static int parse_primary(struct parser *p, struct vsn_cond_node **ret)
{
	const struct primary *pr = NULL;
	struct vsn_cond_node *n, *cmp;
	size_t off = p->tok.off;
	char buf[128];
	int r;

	for (size_t i = 0; i < sizeof(primaries) / sizeof(primaries[0]); i++)
		if (tok_is(p, primaries[i].name))
			pr = &primaries[i];
	if (!pr)
		return fail_at(p, off,
			       "unknown condition %s: expected schedule, healthy, healthy_count, "
			       "load, traffic, node_up, not or '('",
			       describe(p, buf));
	take(p);
	n = node_new(pr->type, off);
	if (!n)
		return nomem(p);
	r = expect(p, T_LPAREN, "'('");
	if (!r)
		r = pr->kinds ? parse_ref(p, pr, n) : parse_schedule(p, n);
	if (!r)
		r = expect(p, T_RPAREN, "')'");
	if (r)
		goto fail;
	lex(p, false);
	if (!pr->example) {
		if (p->tok.type == T_OP) {
			r = fail_at(p, p->tok.off,
				    "%s(...) is true or false: it is not compared with a number",
				    pr->name);
			goto fail;
		}
		*ret = n;
		return 0;
	}
	if (p->tok.type != T_OP) {
		r = p->tok.type == T_BAD && p->s[p->tok.off] == '='
			    ? fail_at(p, p->tok.off, "'=' compares nothing: use '=='")
			    : fail_at(p, off, "%s(...) is a number: compare it, as in %s", pr->name,
				      pr->example);
		goto fail;
	}
	cmp = node_new(VSN_COND_CMP, off);
	if (!cmp) {
		r = nomem(p);
		goto fail;
	}
	cmp->cmp.metric = n;
	cmp->cmp.op = p->tok.op;
	take(p);
	r = parse_number(p, cmp);
	if (r) {
		node_free(cmp);
		return r;
	}
	*ret = cmp;
	return 0;
fail:
	node_free(n);
	return r;
}

static int parse_or(struct parser *p, struct vsn_cond_node **ret);

static int enter(struct parser *p)
{
	if (++p->depth > VSN_COND_MAX_DEPTH)
		return fail_at(p, p->tok.off,
			       "nested too deeply: at most %d levels of '(' and 'not'",
			       VSN_COND_MAX_DEPTH);
	return 0;
}

static int parse_atom(struct parser *p, struct vsn_cond_node **ret)
{
	int r;

	lex(p, false);
	if (p->tok.type == T_WORD && !tok_is(p, "and") && !tok_is(p, "or") && !tok_is(p, "for"))
		return parse_primary(p, ret);
	if (p->tok.type != T_LPAREN)
		return unexpected(p, "a condition");
	r = enter(p);
	if (r)
		return r;
	take(p);
	r = parse_or(p, ret);
	if (r)
		return r;
	r = expect(p, T_RPAREN, "')' or an operator");
	if (r) {
		node_free(*ret);
		return r;
	}
	p->depth--;
	return 0;
}

static int parse_unary(struct parser *p, struct vsn_cond_node **ret)
{
	struct vsn_cond_node *n;
	int r;

	lex(p, false);
	if (!tok_is(p, "not"))
		return parse_atom(p, ret);
	r = enter(p);
	if (r)
		return r;
	n = node_new(VSN_COND_NOT, p->tok.off);
	if (!n)
		return nomem(p);
	take(p);
	r = parse_unary(p, &n->operand);
	if (r) {
		free(n);
		return r;
	}
	p->depth--;
	*ret = n;
	return 0;
}

/* The duration after 'for', in milliseconds. */
static int parse_duration(struct parser *p, uint32_t *ret_ms)
{
	const char *s;
	size_t digits;
	unsigned long long v = 0;

	lex(p, false);
	s = p->s + p->tok.off;
	digits = 0;
	while (p->tok.type == T_NUMBER && digits < p->tok.len && is_digit(s[digits]))
		digits++;
	for (size_t i = 0; digits && i < sizeof(duration_units) / sizeof(duration_units[0]); i++) {
		const struct duration_unit *u = &duration_units[i];

		if (strlen(u->name) != p->tok.len - digits ||
		    memcmp(s + digits, u->name, p->tok.len - digits))
			continue;
		for (size_t j = 0; j < digits && v <= VSN_COND_MAX_HOLD_MS; j++)
			v = v * 10 + (s[j] - '0');
		v *= u->ms;
		if (!v || v > VSN_COND_MAX_HOLD_MS)
			return fail_at(p, p->tok.off, "a duration is 1ms to 24h, not %.*s",
				       (int)p->tok.len, s);
		take(p);
		*ret_ms = (uint32_t)v;
		return 0;
	}
	return unexpected(p, "a duration after 'for': a whole number of ms, s, m or h (30s)");
}

static int parse_held(struct parser *p, struct vsn_cond_node **ret)
{
	struct vsn_cond_node *operand, *n;
	int r;

	r = parse_unary(p, &operand);
	if (r)
		return r;
	lex(p, false);
	if (!tok_is(p, "for")) {
		*ret = operand;
		return 0;
	}
	n = node_new(VSN_COND_FOR, operand->column - 1);
	if (!n) {
		node_free(operand);
		return nomem(p);
	}
	n->hold.operand = operand;
	take(p);
	r = parse_duration(p, &n->hold.ms);
	if (!r) {
		lex(p, false);
		if (tok_is(p, "for"))
			r = fail_at(p, p->tok.off,
				    "'for' given twice: to hold a held condition, put it in "
				    "parentheses");
	}
	if (r) {
		node_free(n);
		return r;
	}
	*ret = n;
	return 0;
}

typedef int (*parse_fn)(struct parser *p, struct vsn_cond_node **ret);

/* operand { word operand }, left-associative: and_expr and expr. */
static int parse_chain(struct parser *p, const char *word, enum vsn_cond_type type,
		       parse_fn operand, struct vsn_cond_node **ret)
{
	struct vsn_cond_node *left, *n;
	int r;

	r = operand(p, &left);
	if (r)
		return r;
	for (;;) {
		lex(p, false);
		if (!tok_is(p, word))
			break;
		n = node_new(type, left->column - 1);
		if (!n) {
			node_free(left);
			return nomem(p);
		}
		take(p);
		n->bin.left = left;
		r = operand(p, &n->bin.right);
		if (r) {
			free(n);
			node_free(left);
			return r;
		}
		left = n;
	}
	*ret = left;
	return 0;
}

static int parse_and(struct parser *p, struct vsn_cond_node **ret)
{
	return parse_chain(p, "and", VSN_COND_AND, parse_held, ret);
}

static int parse_or(struct parser *p, struct vsn_cond_node **ret)
{
	return parse_chain(p, "or", VSN_COND_OR, parse_and, ret);
}

int vsn_cond_parse(const char *text, size_t len, struct vsn_cond **ret, struct vsn_cond_error *err)
{
	struct parser p = {.s = text, .len = len, .err = err};
	struct vsn_cond_node *root;
	struct vsn_cond *c;
	int r;

	if (len > VSN_COND_MAX_LEN)
		return fail_at(&p, 0, "a condition is at most %d characters, not %zu",
			       VSN_COND_MAX_LEN, len);
	if (skip_blanks(&p, 0) == len)
		return fail_at(&p, 0, "empty condition");
	r = parse_or(&p, &root);
	if (r)
		return r;
	lex(&p, false);
	if (p.tok.type != T_END) {
		node_free(root);
		return unexpected(&p, "'and', 'or' or the end");
	}
	c = malloc(sizeof(*c));
	if (!c) {
		node_free(root);
		return nomem(&p);
	}
	c->root = root;
	*ret = c;
	return 0;
}

void vsn_cond_free(struct vsn_cond *c)
{
	if (!c)
		return;
	node_free(c->root);
	free(c);
}

/* Canonical printing: an output that counts what did not fit. */
struct out {
	char *buf;
	size_t len, n;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	size_t room = o->n < o->len ? o->len - o->n : 0;
	va_list ap;
	int w;

	va_start(ap, fmt);
	w = vsnprintf(room ? o->buf + o->n : NULL, room, fmt, ap);
	va_end(ap);
	if (w > 0)
		o->n += (size_t)w;
}

/* How tightly each node binds: an operand binding less tightly than its place needs parentheses. */
static int prec(const struct vsn_cond_node *n)
{
	switch (n->type) {
	case VSN_COND_OR:
		return 1;
	case VSN_COND_AND:
		return 2;
	case VSN_COND_FOR:
		return 3;
	case VSN_COND_NOT:
		return 4;
	default:
		return 5;
	}
}

/* The shortest fixed-point text that reads back as v (numbers are never written with exponents). */
static void put_number(struct out *o, double v)
{
	char buf[400];

	for (int d = 0; d <= 17; d++) {
		snprintf(buf, sizeof(buf), "%.*f", d, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	put(o, "%s", buf);
}

static void put_node(struct out *o, const struct vsn_cond_node *n, int min_prec)
{
	bool paren = prec(n) < min_prec;

	if (paren)
		put(o, "(");
	switch (n->type) {
	case VSN_COND_OR:
	case VSN_COND_AND:
		/* Left-associative: a right operand of the same operator keeps its parentheses. */
		put_node(o, n->bin.left, prec(n));
		put(o, n->type == VSN_COND_OR ? " or " : " and ");
		put_node(o, n->bin.right, prec(n) + 1);
		break;
	case VSN_COND_NOT:
		put(o, "not ");
		put_node(o, n->operand, prec(n));
		break;
	case VSN_COND_FOR: {
		const struct duration_unit *u = duration_units;

		while (n->hold.ms % u->ms)
			u++;
		put_node(o, n->hold.operand, prec(n) + 1);
		put(o, " for %u%s", n->hold.ms / u->ms, u->name);
		break;
	}
	case VSN_COND_CMP:
		put_node(o, n->cmp.metric, 0);
		put(o, " %s ", op_names[n->cmp.op]);
		put_number(o, n->cmp.number);
		put(o, "%s", units[n->cmp.unit].name);
		break;
	case VSN_COND_SCHEDULE:
		put(o, "schedule(\"%s\")", n->sched.spec);
		break;
	default:
		for (size_t i = 0; i < sizeof(primaries) / sizeof(primaries[0]); i++)
			if (primaries[i].type == n->type)
				put(o, "%s(", primaries[i].name);
		if (n->ref.kind != VSN_COND_REF_NODE)
			put(o, "%s ", kind_names[n->ref.kind]);
		put(o, "%s)", n->ref.name);
		break;
	}
	if (paren)
		put(o, ")");
}

int vsn_cond_format(const struct vsn_cond *c, char *buf, size_t len)
{
	struct out o = {buf, len, 0};

	if (len)
		buf[0] = '\0';
	put_node(&o, c->root, 0);
	return (int)o.n;
}

static int walk(const struct vsn_cond_node *n, vsn_cond_visit_fn fn, void *ctx)
{
	int r = fn(n, ctx);

	if (r)
		return r;
	switch (n->type) {
	case VSN_COND_OR:
	case VSN_COND_AND:
		r = walk(n->bin.left, fn, ctx);
		return r ? r : walk(n->bin.right, fn, ctx);
	case VSN_COND_NOT:
		return walk(n->operand, fn, ctx);
	case VSN_COND_FOR:
		return walk(n->hold.operand, fn, ctx);
	case VSN_COND_CMP:
		return walk(n->cmp.metric, fn, ctx);
	default:
		return 0;
	}
}

int vsn_cond_walk(const struct vsn_cond *c, vsn_cond_visit_fn fn, void *ctx)
{
	return walk(c->root, fn, ctx);
}
