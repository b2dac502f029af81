/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Two-phase rollouts over a group of nodes: PolicySet{hold} and Prepare to each, Commit to all
 * once all are prepared, or Abort to all that were sent the set when one fails.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "ctl_internal.h"

struct ro_node {
	char name[VSN_TLS_NAME_MAX + 1];
	struct node *node; /* NULL: never connected */
	struct vsn_ctl_set *set;
	enum vsn_ctl_ro_state state;
	bool sent; /* some of the set went out: it needs an Abort on failure */
	uint64_t t_sent, t_prepared, t_commit_ack;
};

struct rollout {
	struct vsn_ctl *ctl;
	struct rollout *next;
	uint64_t id;
	struct ro_node *nodes;
	size_t n;
	unsigned int timeout_ms, prepare_timeout_ms;
	bool committing, done;
	size_t n_wait; /* nodes yet to answer in this phase */
	uint64_t t_start, t_last_prepared, t_commit0, t_first_cack, t_last_cack;
	struct event *timer;   /* this phase's deadline */
	struct event *done_ev; /* the result, from the loop */
	vsn_ctl_rollout_cb cb;
	void *arg;
	/* The result. */
	int err;
	size_t failed; /* index of the node that failed it; n: none */
	Vsn__NackCode code;
	char message[512];
	uint64_t bad_entry;
	bool after_commit;
	size_t n_aborted;
};

const char *vsn_ctl_ro_state_name(enum vsn_ctl_ro_state s)
{
	switch (s) {
	case VSN_CTL_RO_WAITING:
		return "waiting";
	case VSN_CTL_RO_SENDING:
		return "sending";
	case VSN_CTL_RO_PREPARING:
		return "preparing";
	case VSN_CTL_RO_PREPARED:
		return "prepared";
	case VSN_CTL_RO_COMMITTING:
		return "committing";
	case VSN_CTL_RO_COMMITTED:
		return "committed";
	case VSN_CTL_RO_IN_SYNC:
		return "in-sync";
	case VSN_CTL_RO_ABORTED:
		return "aborted";
	case VSN_CTL_RO_FAILED:
		return "failed";
	}
	return "?";
}

static void arm_ms(struct event *ev, unsigned int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	evtimer_add(ev, &tv);
}

static void ro_destroy(struct rollout *ro)
{
	struct rollout **pp;

	for (pp = &ro->ctl->rollouts; *pp; pp = &(*pp)->next)
		if (*pp == ro) {
			*pp = ro->next;
			break;
		}
	for (size_t i = 0; i < ro->n; i++) {
		if (ro->nodes[i].node && ro->nodes[i].node->ro == ro)
			ro->nodes[i].node->ro = NULL;
		vsn_ctl_set_unref(ro->nodes[i].set);
	}
	if (ro->timer)
		event_free(ro->timer);
	if (ro->done_ev)
		event_free(ro->done_ev);
	free(ro->nodes);
	free(ro);
}

void ro_free_all(struct vsn_ctl *ctl)
{
	while (ctl->rollouts)
		ro_destroy(ctl->rollouts);
}

static double ms_or_none(bool reached, uint64_t from, uint64_t to)
{
	return reached ? ctl_ms(from, to) : -1;
}

static void done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rollout *ro = arg;
	struct vsn_ctl_rollout_node *rn = calloc(ro->n, sizeof(*rn));
	bool ok = !ro->err, prepared = ro->committing || (ok && ro->n_wait == 0);
	struct vsn_ctl_rollout_result res = {
		.id = ro->id,
		.err = ro->err,
		.failed_node = ro->failed < ro->n ? ro->nodes[ro->failed].name : NULL,
		.code = ro->code,
		.message = ro->message,
		.bad_entry = ro->bad_entry,
		.after_commit = ro->after_commit,
		.n_nodes = rn ? ro->n : 0,
		.nodes = rn,
		.n_aborted = ro->n_aborted,
		.prepare_ms = ms_or_none(prepared, ro->t_start, ro->t_last_prepared),
		.commit_ms = ms_or_none(ok && ro->t_commit0, ro->t_commit0, ro->t_last_cack),
		.spread_ms = ms_or_none(ok && ro->t_commit0, ro->t_first_cack, ro->t_last_cack),
	};

	for (size_t i = 0; rn && i < ro->n; i++) {
		const struct ro_node *x = &ro->nodes[i];

		rn[i].node = x->name;
		rn[i].generation = x->set->generation;
		rn[i].state = x->state;
		rn[i].prepared_ms = x->t_prepared ? ctl_ms(ro->t_start, x->t_prepared) : -1;
		rn[i].commit_ack_ms = x->t_commit_ack ? ctl_ms(ro->t_commit0, x->t_commit_ack) : -1;
	}
	if (ro->cb)
		ro->cb(&res, ro->arg);
	free(rn);
	ro_destroy(ro);
}

/* The rollout is over: its nodes are free again, and its result goes out from the loop. */
static void ro_finish(struct rollout *ro)
{
	ro->done = true;
	evtimer_del(ro->timer);
	for (size_t i = 0; i < ro->n; i++)
		if (ro->nodes[i].node && ro->nodes[i].node->ro == ro)
			ro->nodes[i].node->ro = NULL;
	event_active(ro->done_ev, EV_TIMEOUT, 0);
	/* A node whose desired set changed meanwhile gets it now. */
	for (size_t i = 0; i < ro->n; i++)
		if (ro->nodes[i].node)
			node_reconcile(ro->nodes[i].node);
}

static void send_small(struct sess *s, Vsn__Envelope__MsgCase what, uint64_t gen,
		       unsigned int timeout_ms)
{
	Vsn__Envelope env = VSN__ENVELOPE__INIT;
	Vsn__Prepare p = VSN__PREPARE__INIT;
	Vsn__Commit c = VSN__COMMIT__INIT;
	Vsn__Abort a = VSN__ABORT__INIT;

	env.msg_case = what;
	if (what == VSN__ENVELOPE__MSG_PREPARE) {
		p.generation = gen;
		p.timeout_ms = timeout_ms;
		env.prepare = &p;
	} else if (what == VSN__ENVELOPE__MSG_COMMIT) {
		c.generation = gen;
		env.commit = &c;
	} else {
		a.generation = gen;
		env.abort = &a;
	}
	sess_send(s, &env);
}

/*
 * The rollout failed at node i (err, and its Nack when it sent one). Before the Commits: every
 * node that was sent its set is sent Abort (a chunk stream is finished first: the node's
 * reassembly must not be left half done), and every node keeps its old set, its new
 * generation counted as failed. After the Commits there is nothing to undo.
 */
static void ro_fail(struct rollout *ro, size_t i, int err, Vsn__NackCode code, uint64_t bad_entry,
		    const char *message)
{
	struct ro_node *f = &ro->nodes[i];
	char others[sizeof(ro->message) + 64];

	if (ro->done)
		return;
	ro->err = err;
	ro->failed = i;
	ro->code = code;
	ro->bad_entry = bad_entry;
	ro->after_commit = ro->committing;
	snprintf(ro->message, sizeof(ro->message), "%s", message);
	snprintf(others, sizeof(others), "rollout %llu aborted: node %s: %s",
		 (unsigned long long)ro->id, f->name, message);
	for (size_t k = 0; k < ro->n; k++) {
		struct ro_node *x = &ro->nodes[k];
		struct node *n = x->node;
		struct sess *s = n ? n->sess : NULL;

		if (x->state == VSN_CTL_RO_IN_SYNC || x->state == VSN_CTL_RO_COMMITTED)
			continue;
		if (!ro->committing && x->sent && s && !s->close_err) {
			if (s->stream && x->state == VSN_CTL_RO_SENDING)
				sess_stream_flush(s);
			send_small(s, VSN__ENVELOPE__MSG_ABORT, x->set->generation, 0);
			ro->n_aborted++;
		}
		if (ro->committing && k != i) {
			/* It was sent its Commit and may run the set: its Ack is awaited as a
			 * push's. */
			if (n && n->sess && x->state == VSN_CTL_RO_COMMITTING) {
				n->sent = x->set->generation;
				n->sent_at = ro->t_commit0;
				n->awaiting = true;
			}
			continue;
		}
		x->state = k == i ? VSN_CTL_RO_FAILED : VSN_CTL_RO_ABORTED;
		if (!n)
			continue;
		n->failed = x->set->generation;
		n->failed_code = k == i ? code : VSN__NACK_CODE__NACK_UNSPEC;
		n->failed_bad_entry = k == i ? bad_entry : 0;
		snprintf(n->failed_message, sizeof(n->failed_message), "%s",
			 k == i ? message : others);
	}
	ro_finish(ro);
}

static void send_prepare(struct rollout *ro, struct ro_node *x)
{
	x->state = VSN_CTL_RO_PREPARING;
	send_small(x->node->sess, VSN__ENVELOPE__MSG_PREPARE, x->set->generation,
		   ro->prepare_timeout_ms);
}

static void start_node(struct rollout *ro, struct ro_node *x)
{
	struct sess *s = x->node->sess;
	int r;

	if (s->stream) {
		x->state = VSN_CTL_RO_WAITING; /* ro_stream_done goes on */
		return;
	}
	x->t_sent = ctl_now();
	r = sess_send_set(s, x->set, true);
	if (r < 0) {
		/* Its close fails the rollout, from the loop. */
		sess_close_later(s, r, "cannot send the node its set");
		return;
	}
	x->sent = true;
	if (r == 1)
		send_prepare(ro, x);
	else
		x->state = VSN_CTL_RO_SENDING;
}

void ro_stream_done(struct node *n)
{
	struct rollout *ro = n->ro;
	struct ro_node *x = &ro->nodes[n->ro_idx];

	if (x->state == VSN_CTL_RO_WAITING)
		start_node(ro, x);
	else if (x->state == VSN_CTL_RO_SENDING)
		send_prepare(ro, x);
}

static void commit_all(struct rollout *ro)
{
	uint64_t now = ctl_now();

	ro->committing = true;
	ro->t_last_prepared = now;
	ro->t_commit0 = now;
	ro->n_wait = 0;
	for (size_t i = 0; i < ro->n; i++) {
		struct ro_node *x = &ro->nodes[i];

		if (x->state != VSN_CTL_RO_PREPARED)
			continue;
		x->state = VSN_CTL_RO_COMMITTING;
		ro->n_wait++;
		send_small(x->node->sess, VSN__ENVELOPE__MSG_COMMIT, x->set->generation, 0);
	}
	arm_ms(ro->timer, ro->timeout_ms);
}

bool ro_ack(struct node *n, uint64_t gen, bool prepared, double *ret_latency_ms)
{
	struct rollout *ro = n->ro;
	struct ro_node *x = &ro->nodes[n->ro_idx];
	uint64_t now = ctl_now();

	if (gen != x->set->generation)
		return false;
	if (prepared && x->state == VSN_CTL_RO_PREPARING) {
		x->state = VSN_CTL_RO_PREPARED;
		x->t_prepared = now;
		*ret_latency_ms = ctl_ms(x->t_sent, now);
		if (--ro->n_wait == 0)
			commit_all(ro);
		return true;
	}
	if (!prepared && x->state == VSN_CTL_RO_COMMITTING) {
		x->state = VSN_CTL_RO_COMMITTED;
		x->t_commit_ack = now;
		if (!ro->t_first_cack)
			ro->t_first_cack = now;
		ro->t_last_cack = now;
		n->running = gen;
		n->acked = gen;
		n->ack_ms = ctl_ms(ro->t_commit0, now);
		*ret_latency_ms = n->ack_ms;
		if (--ro->n_wait == 0)
			ro_finish(ro);
		return true;
	}
	return false;
}

bool ro_nack(struct node *n, uint64_t gen, const Vsn__Nack *k)
{
	struct rollout *ro = n->ro;
	struct ro_node *x = &ro->nodes[n->ro_idx];
	char msg[400];

	if (gen != x->set->generation)
		return false;
	snprintf(msg, sizeof(msg), "refused generation %llu (%s): %s", (unsigned long long)gen,
		 vsn_ctl_nack_code_name(k->code), k->message ? k->message : "");
	ro_fail(ro, n->ro_idx, -vsn_proto_nack_errno(k->code), k->code, k->bad_entry, msg);
	return true;
}

void ro_node_gone(struct node *n, int err, const char *why)
{
	struct rollout *ro = n->ro;
	char msg[400];

	snprintf(msg, sizeof(msg), "disconnected: %s", why);
	ro_fail(ro, n->ro_idx, -ECONNRESET, VSN__NACK_CODE__NACK_UNSPEC, 0, msg);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rollout *ro = arg;
	enum vsn_ctl_ro_state want = ro->committing ? VSN_CTL_RO_COMMITTED : VSN_CTL_RO_PREPARED;
	size_t late = ro->n, answered = 0, asked = 0;
	char msg[200];

	for (size_t i = 0; i < ro->n; i++) {
		enum vsn_ctl_ro_state s = ro->nodes[i].state;

		if (s == VSN_CTL_RO_IN_SYNC)
			continue;
		asked++;
		if (s == want || (!ro->committing && s == VSN_CTL_RO_COMMITTED))
			answered++;
		else if (late == ro->n)
			late = i;
	}
	if (late == ro->n)
		return; /* cannot be: the last answer ends the phase */
	snprintf(msg, sizeof(msg), "no %s within %u ms (%zu of %zu nodes answered)",
		 ro->committing ? "Ack of the Commit" : "prepared Ack", ro->timeout_ms, answered,
		 asked);
	ro_fail(ro, late, -ETIMEDOUT, VSN__NACK_CODE__NACK_UNSPEC, 0, msg);
}

/* The rollout cannot start: it fails at node i before anything is sent or changed. */
static void ro_refuse(struct rollout *ro, size_t i, int err, const char *message)
{
	ro->err = err;
	ro->failed = i;
	snprintf(ro->message, sizeof(ro->message), "%s", message);
	for (size_t k = 0; k < ro->n; k++)
		ro->nodes[k].state = k == i ? VSN_CTL_RO_FAILED : VSN_CTL_RO_ABORTED;
	ro->done = true;
	event_active(ro->done_ev, EV_TIMEOUT, 0);
}

static int check_targets(const struct vsn_ctl_target *t, size_t n)
{
	if (!t || !n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!t[i].node || !t[i].set || strlen(t[i].node) > VSN_TLS_NAME_MAX)
			return -EINVAL;
		for (size_t k = 0; k < i; k++)
			if (!strcmp(t[i].node, t[k].node))
				return -EINVAL;
	}
	return 0;
}

int vsn_ctl_rollout(struct vsn_ctl *ctl, const struct vsn_ctl_target *targets, size_t n,
		    const struct vsn_ctl_rollout_opts *opts, vsn_ctl_rollout_cb cb, void *arg,
		    uint64_t *ret_id)
{
	struct vsn_ctl_rollout_opts o = {0};
	struct rollout *ro;
	char msg[128];
	int r;

	r = check_targets(targets, n);
	if (r)
		return r;
	if (opts)
		memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	if (!o.timeout_ms)
		o.timeout_ms = VSN_CTL_DEFAULT_ROLLOUT_TIMEOUT_MS;
	if (!o.prepare_timeout_ms)
		o.prepare_timeout_ms = o.timeout_ms > VSN_CTL_DEFAULT_PREPARE_TIMEOUT_MS / 2
					       ? 2 * o.timeout_ms
					       : VSN_CTL_DEFAULT_PREPARE_TIMEOUT_MS;
	if (o.prepare_timeout_ms <= o.timeout_ms)
		return -EINVAL;
	ro = calloc(1, sizeof(*ro));
	if (!ro)
		return -ENOMEM;
	ro->ctl = ctl;
	ro->n = n;
	ro->failed = n;
	ro->cb = cb;
	ro->arg = arg;
	ro->timeout_ms = o.timeout_ms;
	ro->prepare_timeout_ms = o.prepare_timeout_ms;
	ro->nodes = calloc(n, sizeof(*ro->nodes));
	ro->timer = evtimer_new(ctl->base, timer_cb, ro);
	ro->done_ev = evtimer_new(ctl->base, done_cb, ro);
	if (!ro->nodes || !ro->timer || !ro->done_ev) {
		ro_destroy(ro);
		return -ENOMEM;
	}
	ro->id = ctl->next_rollout_id++;
	ro->next = ctl->rollouts;
	ctl->rollouts = ro;
	ro->t_start = ctl_now();
	for (size_t i = 0; i < n; i++) {
		snprintf(ro->nodes[i].name, sizeof(ro->nodes[i].name), "%s", targets[i].node);
		ro->nodes[i].node = ctl_node_find(ctl, targets[i].node);
		ro->nodes[i].set = vsn_ctl_set_ref(targets[i].set);
	}
	/* Every node must be free to take part, or nothing is sent. */
	for (size_t i = 0; i < n; i++) {
		struct node *nd = ro->nodes[i].node;

		if (!nd || !nd->sess) {
			ro_refuse(ro, i, -ENOTCONN, "not connected");
			goto out;
		}
		if (nd->ro) {
			snprintf(msg, sizeof(msg), "in rollout %llu already",
				 (unsigned long long)nd->ro->id);
			ro_refuse(ro, i, -EBUSY, msg);
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct ro_node *x = &ro->nodes[i];

		node_set_desired(ctl, x->node, x->set);
		x->node->ro = ro;
		x->node->ro_idx = i;
		if (x->set->generation == x->node->running)
			x->state = VSN_CTL_RO_IN_SYNC;
		else
			ro->n_wait++;
	}
	if (!ro->n_wait) {
		ro_finish(ro);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (ro->nodes[i].state != VSN_CTL_RO_IN_SYNC)
			start_node(ro, &ro->nodes[i]);
	arm_ms(ro->timer, ro->timeout_ms);
out:
	if (ret_id)
		*ret_id = ro->id;
	return 0;
}
