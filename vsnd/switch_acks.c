/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A switch's reach (docs/conditions.md, "Events"): the switches of one evaluation go out
 * together (switching.c); each becomes a `configuration` event once every node whose set they
 * changed has answered, with acked_ms, the time from the decision to the last node's Ack. A
 * node that was not connected, refused the set (Nack), went away, or did not answer within
 * VSND_ACK_WAIT_MS is named in the event (not_acked) instead of being waited for; acked_ms is
 * null when a connected node did not acknowledge.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control.h"
#include "vsnd.h"

enum ack_state { WAITING, ACKED, NOT_CONNECTED, REFUSED, GONE, NO_ANSWER };

static const char *const state_names[] = {
	[WAITING] = "waiting", [ACKED] = "acked",	[NOT_CONNECTED] = "not connected",
	[REFUSED] = "refused", [GONE] = "disconnected", [NO_ANSWER] = "no answer",
};

struct ack_node {
	char *node;
	uint64_t generation;
	enum ack_state state;
};

struct ack_batch {
	uint64_t t0_ms; /* monotonic, at the decision */
	struct ack_node *nodes;
	size_t n_nodes, n_waiting;
	struct vsnd_switch_note *notes;
	size_t n_notes;
	double last_ack_ms; /* since t0 */
};

struct vsnd_acks {
	struct ack_batch **b;
	size_t n;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static double mono_ms_f(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000 + (double)ts.tv_nsec / 1e6;
}

static void notes_free(struct vsnd_switch_note *notes, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(notes[i].service);
		free(notes[i].from);
		free(notes[i].to);
		free(notes[i].when);
		free(notes[i].values);
		free(notes[i].why);
	}
	free(notes);
}

static void batch_free(struct ack_batch *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n_nodes; i++)
		free(b->nodes[i].node);
	free(b->nodes);
	notes_free(b->notes, b->n_notes);
	free(b);
}

/* Every note of b as an event: the time to the last Ack, or the nodes that did not give one. */
static void batch_record(struct vsnd_control *c, const struct ack_batch *b)
{
	size_t acked = 0, failed = 0;
	json_t *missing = json_object();

	for (size_t i = 0; i < b->n_nodes; i++) {
		enum ack_state st = b->nodes[i].state;

		acked += st == ACKED;
		failed += st != ACKED && st != NOT_CONNECTED;
		if (st != ACKED)
			json_object_set_new(missing, b->nodes[i].node,
					    json_string(state_names[st]));
	}
	for (size_t i = 0; i < b->n_notes; i++) {
		const struct vsnd_switch_note *w = &b->notes[i];
		/*
		 * null when a connected node did not acknowledge: the switch has not reached it.
		 * One not connected gets the set when it connects; it is named, not waited for.
		 */
		json_t *ms = failed ? json_null() : json_real(round(b->last_ack_ms * 10) / 10);

		char ms_text[32] = "-";

		if (!failed)
			snprintf(ms_text, sizeof(ms_text), "%.1f", b->last_ack_ms);
		log_info("configuration",
			 "service=%s from=%s to=%s nodes=%zu acked=%zu acked_ms=%s missing=%zu",
			 w->service, w->from ? w->from : "-", w->to, b->n_nodes, acked, ms_text,
			 json_object_size(missing));
		vsnd_control_event(c, "configuration", w->service,
				   json_pack("{s:s?, s:s, s:s?, s:s, s:s, s:o, s:I, s:I, s:O}",
					     "from", w->from, "to", w->to, "condition", w->when,
					     "values", w->values ? w->values : "", "reason",
					     w->why ? w->why : "", "acked_ms", ms, "nodes",
					     (json_int_t)b->n_nodes, "acked", (json_int_t)acked,
					     "not_acked", missing));
	}
	json_decref(missing);
}

static void batch_remove(struct vsnd_acks *a, size_t i)
{
	batch_free(a->b[i]);
	memmove(&a->b[i], &a->b[i + 1], (a->n - i - 1) * sizeof(*a->b));
	a->n--;
}

int vsnd_acks_begin(struct vsnd_control *c, const struct vsnd_changes *ch,
		    struct vsnd_switch_note *notes, size_t n)
{
	struct ack_batch *b = calloc(1, sizeof(*b));
	struct vsnd_acks *a = c->acks;
	void *v;

	if (!b) {
		notes_free(notes, n);
		return -ENOMEM;
	}
	b->t0_ms = mono_ms();
	b->notes = notes;
	b->n_notes = n;
	b->nodes = calloc(ch->n + 1, sizeof(*b->nodes));
	if (!b->nodes)
		goto oom;
	for (size_t i = 0; i < ch->n; i++) {
		struct ack_node *an = &b->nodes[b->n_nodes];

		an->node = strdup(ch->c[i].node);
		if (!an->node)
			goto oom;
		an->generation = ch->c[i].generation;
		an->state = vsnd_control_node_connected(c, an->node) ? WAITING : NOT_CONNECTED;
		b->n_waiting += an->state == WAITING;
		b->n_nodes++;
	}
	if (!b->n_waiting) {
		batch_record(c, b);
		batch_free(b);
		return 0;
	}
	if (!a && !(a = c->acks = calloc(1, sizeof(*a))))
		goto oom;
	v = realloc(a->b, (a->n + 1) * sizeof(*a->b));
	if (!v)
		goto oom;
	a->b = v;
	a->b[a->n++] = b;
	return 0;
oom:
	/* The events still say what switched, without the time it took. */
	log_err("configuration", "switch acknowledgements not followed (out of memory)");
	batch_record(c, b);
	batch_free(b);
	return -ENOMEM;
}

void vsnd_acks_on_event(struct vsnd_control *c, const struct vsn_ctl_event *ev)
{
	struct vsnd_acks *a = c->acks;
	double now = 0;

	if (!a || !ev->node)
		return;
	for (size_t i = 0; i < a->n;) {
		struct ack_batch *b = a->b[i];

		for (size_t k = 0; k < b->n_nodes; k++) {
			struct ack_node *an = &b->nodes[k];

			if (an->state != WAITING || strcmp(an->node, ev->node))
				continue;
			/* An Ack of this generation or a later one: the node runs the switch. */
			if (ev->type == VSN_CTL_EV_ACK && !ev->prepared &&
			    ev->generation >= an->generation) {
				if (!now)
					now = mono_ms_f();
				an->state = ACKED;
				b->last_ack_ms = now - (double)b->t0_ms;
			} else if (ev->type == VSN_CTL_EV_NACK &&
				   ev->generation == an->generation) {
				an->state = REFUSED;
			} else if (ev->type == VSN_CTL_EV_DISCONNECTED) {
				an->state = GONE;
			} else {
				continue;
			}
			b->n_waiting--;
		}
		if (b->n_waiting) {
			i++;
			continue;
		}
		batch_record(c, b);
		batch_remove(a, i);
	}
}

void vsnd_acks_expire(struct vsnd_control *c)
{
	struct vsnd_acks *a = c->acks;
	uint64_t now = mono_ms();

	for (size_t i = 0; a && i < a->n;) {
		struct ack_batch *b = a->b[i];

		if (now - b->t0_ms < VSND_ACK_WAIT_MS) {
			i++;
			continue;
		}
		for (size_t k = 0; k < b->n_nodes; k++)
			if (b->nodes[k].state == WAITING)
				b->nodes[k].state = NO_ANSWER;
		batch_record(c, b);
		batch_remove(a, i);
	}
}

void vsnd_acks_free(struct vsnd_control *c)
{
	struct vsnd_acks *a = c->acks;

	for (size_t i = 0; a && i < a->n; i++)
		batch_free(a->b[i]);
	if (a)
		free(a->b);
	free(a);
	c->acks = NULL;
}
