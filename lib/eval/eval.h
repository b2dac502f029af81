/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libvsneval: the pure half of automatic switching (docs/conditions.md).
 * Given what the controller knows (health, load, traffic, nodes, the clock),
 * whether a schedule or a condition holds, why, and which configuration of a
 * service is to be active. No I/O (except reading a zone file the first time a
 * zone is used, tz.h), no logging, no clock: the caller passes the time in.
 * Functions return 0 or a negative errno and leave their ret_* untouched on
 * failure. Thread-compatible: one state is used by one thread at a time.
 *
 * Three-valued logic: a signal is true, false, or unknown (never scraped, a
 * failed scrape, a metric without data). A comparison of an unknown or failed
 * value is unknown, `not` of unknown is unknown, `and` and `or` are Kleene's
 * (false and unknown = false, true or unknown = true), and a condition holds
 * only when it is true. So `not healthy(slb a)` does not hold while a's health
 * is unknown.
 */
#ifndef VSN_EVAL_EVAL_H
#define VSN_EVAL_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cond.h"
#include "schedule.h"
#include "tz.h"

/* Schedules. */

/* The instants schedules accept: 1970 to the end of 9999. */
#define VSN_SCHEDULE_T_MIN 0
#define VSN_SCHEDULE_T_MAX INT64_C(253402300799)

/*
 * Whether the schedule s holds at the instant now, in the zone tz (which
 * must be s->zone's). The wall clock of a schedule is the latest local time
 * the zone's clock has shown by now: an edge in a skipped hour takes effect
 * when the clocks jump over it, and during a repeated hour the schedule keeps
 * the value it had just before the clocks went back (docs/conditions.md,
 * "Schedules"). Pure. Returns 0, -EINVAL (s is not a parsed schedule) or
 * -ERANGE (now outside VSN_SCHEDULE_T_MIN..VSN_SCHEDULE_T_MAX).
 */
int vsn_schedule_holds_tz(const struct vsn_schedule *s, const struct vsn_tz *tz, time_t now,
			  bool *ret);

/*
 * The first instant after now at which the value of vsn_schedule_holds_tz()
 * changes, so that the caller can set one timer instead of polling: the
 * schedule holds the same from now until just before *ret_time. Returns
 * -ENOENT when it never changes (every day, all day), else as
 * vsn_schedule_holds_tz().
 */
int vsn_schedule_next_change_tz(const struct vsn_schedule *s, const struct vsn_tz *tz, time_t now,
				time_t *ret_time);

/* The same in s->zone, from the process's zone cache (vsn_tz_get(): its errors too). */
int vsn_schedule_holds(const struct vsn_schedule *s, time_t now, bool *ret);
int vsn_schedule_next_change(const struct vsn_schedule *s, time_t now, time_t *ret_time);

/* Conditions. */

enum vsn_tri {
	VSN_TRI_FALSE,
	VSN_TRI_UNKNOWN,
	VSN_TRI_TRUE,
};

/* A numeric signal. Zero-initialized, it is unknown. */
struct vsn_reading {
	enum {
		VSN_READING_UNKNOWN, /* no value yet */
		VSN_READING_OK,
		VSN_READING_FAILED, /* the last scrape failed: not zero, not the value before */
	} state;
	double value; /* when OK; a value that is not finite counts as FAILED */
};

/*
 * What the controller knows, asked for by the evaluator: one callback per
 * kind of primary, each given arg. A NULL callback answers unknown. The
 * names are those of the condition (checked against the document when it
 * was parsed).
 */
struct vsn_eval_signals {
	void *arg;
	/* healthy(slb NAME): the SLB passes its health checks. */
	enum vsn_tri (*healthy)(void *arg, const char *slb);
	/* node_up(NAME): the node is connected. */
	enum vsn_tri (*node_up)(void *arg, const char *node);
	/* healthy_count(pool NAME): how many of the pool's SLBs are healthy. */
	struct vsn_reading (*healthy_count)(void *arg, const char *pool);
	/* load(slb NAME) (kind VSN_COND_REF_SLB) or load(pool NAME): 0..1. */
	struct vsn_reading (*load)(void *arg, enum vsn_cond_ref_kind kind, const char *name);
	/* traffic(vs NAME) on all nodes: bits per second when bits, else packets per second. */
	struct vsn_reading (*traffic)(void *arg, const char *vs, bool bits);
	/* The wall clock, milliseconds since the epoch (UTC), for schedules; NULL: they are
	 * unknown. */
	int64_t (*wall_ms)(void *arg);
};

/*
 * What one configuration's condition remembers between evaluations: for
 * each node of its tree (in the order of vsn_cond_walk()), the last value,
 * the last reading of a comparison, and for each `for` how long its operand
 * has held. Allocated per configuration with vsn_cond_state_new().
 */
struct vsn_cond_state;

/*
 * A fresh state for c: nothing has held yet, every value is unknown. The
 * zones of c's schedules are resolved here (vsn_tz_get(): a zone's file is
 * read the first time the process uses it), so that evaluation does no I/O.
 * Returns 0, -ENOMEM, or a zone's error (-ENOENT: no such zone file).
 */
int vsn_cond_state_new(const struct vsn_cond *c, struct vsn_cond_state **ret);
void vsn_cond_state_free(struct vsn_cond_state *st);

/*
 * Carry what from remembers into to, when both are states of the same
 * condition (the same tree: a new document that kept a configuration's
 * `when` as it was, in its canonical form), so that an apply does not restart
 * its `for` timers. Returns 0, or -ESTALE when the conditions differ (to is
 * unchanged: the condition starts afresh).
 */
int vsn_cond_state_carry(struct vsn_cond_state *to, const struct vsn_cond_state *from);

/*
 * Evaluate c at now_ms (a monotonic clock in milliseconds, never earlier
 * than the previous evaluation's) with the signals sig, updating st (made
 * for c). Every node is evaluated, whatever the values around it, so that
 * each `for` sees every evaluation. `A for D` is true once A has been true at
 * every evaluation for the last D; false when A was false at some evaluation
 * within the last D (or is now); else unknown. *ret_holds: whether c is true.
 * *ret_next_ms (may be NULL): the earliest time at which the value may change
 * though no signal does (a `for` reaching its duration, a false leaving its
 * window, a schedule's next edge), UINT64_MAX when none: evaluate again then.
 * Returns 0 or -EINVAL (st is not c's, now_ms went back).
 */
int vsn_cond_eval(const struct vsn_cond *c, const struct vsn_eval_signals *sig, uint64_t now_ms,
		  struct vsn_cond_state *st, bool *ret_holds, uint64_t *ret_next_ms);

/* The value of the last evaluation (VSN_TRI_UNKNOWN before the first). */
enum vsn_tri vsn_cond_value(const struct vsn_cond_state *st);

/*
 * Why the last evaluation of c gave its value, for events: the condition
 * with the values read, reduced to the parts that decided it (of an `and` or
 * `or`, the operands with the value it has):
 *
 *     load(pool primary)=0.83 > 0.8 for 30s (held 31.2s)
 *     not healthy(slb slb-a)=false for 10s (held 12.0s)
 *     load(slb slb-a)=failed > 0.8
 *
 * Into buf (len bytes, NUL-terminated when len > 0). Returns the length of
 * the whole text, as snprintf() does, or -EINVAL when st is not c's.
 */
int vsn_cond_explain(const struct vsn_cond *c, const struct vsn_cond_state *st, char *buf,
		     size_t len);

/* Selection. */

#define VSN_SELECT_NONE SIZE_MAX    /* no configuration (none active yet, none pinned) */
#define VSN_SELECT_NEVER UINT64_MAX /* no switch yet; no retry needed */
#define VSN_SELECT_DWELL_MS 10000   /* the default minimum dwell */

/* One configuration of a service, in document order. */
struct vsn_select_config {
	const char *name;
	uint32_t priority;
	bool is_default; /* the one without `when`: exactly one per service */
	bool holds;	 /* its condition's last evaluation; ignored for the default */
};

struct vsn_select_input {
	const struct vsn_select_config *configs;
	size_t n;
	size_t active;		 /* the active one; VSN_SELECT_NONE before the first selection */
	size_t pinned;		 /* the pinned one (vsn pin); VSN_SELECT_NONE: not pinned */
	uint64_t now_ms;	 /* the monotonic clock, as for vsn_cond_eval() */
	uint64_t last_switch_ms; /* when the active one became active; VSN_SELECT_NEVER */
	uint64_t dwell_ms;	 /* the service's minimum dwell (VSN_SELECT_DWELL_MS) */
	/*
	 * Whether the destinations of configuration i have failed: every SLB its
	 * policies use is known to be unhealthy. Asked only of the active one,
	 * only when the dwell would hold a switch back. NULL: never.
	 */
	bool (*destinations_failed)(void *arg, size_t i);
	void *arg;
};

enum vsn_select_reason {
	VSN_SELECT_PINNED,  /* the pinned configuration */
	VSN_SELECT_HOLDS,   /* the highest-priority one whose condition holds */
	VSN_SELECT_DEFAULT, /* no condition holds */
	VSN_SELECT_DWELL,   /* another would win, but the dwell keeps the active one */
};

struct vsn_select_result {
	size_t chosen;	 /* the configuration to be active now */
	size_t wanted;	 /* the one pin and conditions select */
	bool switch_now; /* chosen is not the active one: record the switch */
	bool failover;	 /* a switch within the dwell, away from failed destinations */
	enum vsn_select_reason reason; /* why chosen: DWELL when the dwell keeps the active one */
	enum vsn_select_reason wanted_reason; /* why wanted (never DWELL); reason unless DWELL */
	uint64_t retry_ms;		      /* DWELL: select again then; else VSN_SELECT_NEVER */
	char why[256];			      /* the reason in words, with names and times */
};

/*
 * The active configuration of a service: the pinned one if pinned (a pin
 * wins over conditions and the dwell); else the highest-priority one whose
 * condition holds, the earlier in the document on a tie; else the default.
 * A switch to it waits until dwell_ms after the last switch, unless it is
 * pinned or the active configuration's destinations have failed: the dwell
 * delays returns, never a failover. Pure. Returns 0 or -EINVAL (not exactly
 * one default, an index out of range, now_ms before the last switch).
 */
int vsn_select(const struct vsn_select_input *in, struct vsn_select_result *ret);

#endif /* VSN_EVAL_EVAL_H */
