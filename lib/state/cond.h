/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Conditions: the `when` of a service's configuration, parsed into a tree.
 * Parsing is pure (no clock, no counters, no document): evaluation is the
 * controller's, and the names a condition uses are checked against the
 * document by its caller (vsn_cond_walk() visits them).
 *
 *     expr     := and_expr { 'or' and_expr }
 *     and_expr := held { 'and' held }
 *     held     := unary [ 'for' DURATION ]
 *     unary    := 'not' unary | atom
 *     atom     := '(' expr ')' | boolean | numeric CMP NUMBER
 *     boolean  := schedule("SPEC") | healthy(slb NAME) | node_up(NAME)
 *     numeric  := healthy_count(pool NAME) | load(slb NAME) | load(pool NAME)
 *               | traffic(vs NAME)
 *     CMP      := < | <= | > | >= | == | !=
 *     NUMBER   := DIGITS [. DIGITS] [% | pps | kpps | Mpps | bps | kbps | Mbps | Gbps]
 *     DURATION := DIGITS (ms | s | m | h), 1ms to 24h
 *
 * So `not` binds tighter than `for`, `for` tighter than `and`, `and` than
 * `or`: `not healthy(slb a) for 30s` holds once the SLB has been unhealthy
 * for 30 seconds, and `load(pool p) > 0.8 for 30s and healthy(slb a)` holds
 * the comparison for 30 seconds, not the conjunction. A numeric primary is
 * only ever compared with a number; a boolean one never is. load is 0..1 (or
 * 0%..100%); healthy_count compares with a whole number; traffic is packets/s
 * with a bare number or a packet unit, bits/s with a bit unit.
 * docs/config-reference.md describes each form with an example.
 */
#ifndef VSN_STATE_COND_H
#define VSN_STATE_COND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schedule.h"

/* Longest condition text accepted, and deepest nesting of '(' and 'not'. */
#define VSN_COND_MAX_LEN 4096
#define VSN_COND_MAX_DEPTH 32
/* Longest name in a primary (a DNS name: node names are). */
#define VSN_COND_NAME_MAX 253
/* Longest duration of 'for': a day, in milliseconds. */
#define VSN_COND_MAX_HOLD_MS (24u * 3600 * 1000)

enum vsn_cond_type {
	VSN_COND_OR,  /* bin: left or right */
	VSN_COND_AND, /* bin */
	VSN_COND_NOT, /* operand */
	VSN_COND_FOR, /* hold: operand has held for hold.ms */
	VSN_COND_CMP, /* cmp: a numeric primary compared with a number */
	/* Boolean primaries. */
	VSN_COND_SCHEDULE, /* sched */
	VSN_COND_HEALTHY,  /* ref, an SLB */
	VSN_COND_NODE_UP,  /* ref, a node */
	/* Numeric primaries: only ever the metric of a VSN_COND_CMP. */
	VSN_COND_HEALTHY_COUNT, /* ref, a pool: how many of its SLBs are healthy */
	VSN_COND_LOAD,		/* ref, an SLB or a pool: 0..1 */
	VSN_COND_TRAFFIC,	/* ref, a service: packets/s or bits/s as the cmp's unit says */
};

/* What a primary's name refers to. */
enum vsn_cond_ref_kind {
	VSN_COND_REF_SLB,
	VSN_COND_REF_POOL,
	VSN_COND_REF_VS,
	VSN_COND_REF_NODE,
};

enum vsn_cond_op {
	VSN_COND_LT,
	VSN_COND_LE,
	VSN_COND_GT,
	VSN_COND_GE,
	VSN_COND_EQ,
	VSN_COND_NE,
};

/* The unit a number was written with; kept to print it back as written. */
enum vsn_cond_unit {
	VSN_COND_UNIT_NONE,
	VSN_COND_UNIT_PERCENT,
	VSN_COND_UNIT_PPS,
	VSN_COND_UNIT_KPPS,
	VSN_COND_UNIT_MPPS,
	VSN_COND_UNIT_BPS,
	VSN_COND_UNIT_KBPS,
	VSN_COND_UNIT_MBPS,
	VSN_COND_UNIT_GBPS,
};

struct vsn_cond_node {
	enum vsn_cond_type type;
	int column; /* 1-based column in the condition text where the node begins */
	union {
		struct {
			struct vsn_cond_node *left, *right;
		} bin;
		struct vsn_cond_node *operand; /* VSN_COND_NOT */
		struct {
			struct vsn_cond_node *operand;
			uint32_t ms;
		} hold;
		struct {
			struct vsn_cond_node *metric; /* a numeric primary */
			enum vsn_cond_op op;
			double number;		 /* as written: 80 of 80%, 1.5 of 1.5Mpps */
			double value;		 /* in the metric's units: 0.8, 1500000 */
			enum vsn_cond_unit unit; /* NONE for traffic means packets/s */
			int number_column;
		} cmp;
		struct {
			enum vsn_cond_ref_kind kind;
			char *name;
			int name_column;
		} ref;
		struct {
			char *spec; /* the text between the quotes, as written */
			struct vsn_schedule schedule;
		} sched;
	};
};

struct vsn_cond {
	struct vsn_cond_node *root;
};

struct vsn_cond_error {
	int column; /* 1-based, in the condition text */
	char msg[192];
};

/*
 * Parse text (len bytes; no NUL needed) into *ret, to be freed with
 * vsn_cond_free(). Returns 0, -ENOMEM, or -EINVAL with err filled; *ret is
 * untouched on failure. Names are not looked up here.
 */
int vsn_cond_parse(const char *text, size_t len, struct vsn_cond **ret, struct vsn_cond_error *err);
void vsn_cond_free(struct vsn_cond *c);

/*
 * Print c canonically into buf (len bytes, NUL-terminated when len > 0):
 * keywords and names as parsed, one blank around operators, parentheses only
 * where the precedence needs them, numbers in their shortest form with their
 * unit. Returns the length of the whole text, as snprintf() does.
 */
int vsn_cond_format(const struct vsn_cond *c, char *buf, size_t len);

/* Visit every node of c, parents before children, left before right; stop at fn's first nonzero. */
typedef int (*vsn_cond_visit_fn)(const struct vsn_cond_node *n, void *ctx);
int vsn_cond_walk(const struct vsn_cond *c, vsn_cond_visit_fn fn, void *ctx);

/* A node that names something (HEALTHY, NODE_UP, HEALTHY_COUNT, LOAD, TRAFFIC). */
bool vsn_cond_has_ref(const struct vsn_cond_node *n);
/* "slb", "pool", "vs", "node". */
const char *vsn_cond_ref_kind_name(enum vsn_cond_ref_kind kind);
/* Whether a traffic comparison's number is bits/s (else packets/s). */
bool vsn_cond_unit_is_bits(enum vsn_cond_unit unit);

/*
 * A duration as 'for' takes it, the whole text: a whole number of ms, s, m or h ("200ms",
 * "30s"), from 1 ms to max_ms, into *ret_ms. -EINVAL (*ret_ms untouched); the document's other
 * durations (an SLB's probe interval) use it so that every duration is written alike.
 */
int vsn_cond_duration_parse(const char *s, uint32_t max_ms, uint32_t *ret_ms);

#endif /* VSN_STATE_COND_H */
