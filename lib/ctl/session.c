/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One node connection: the Hello that makes it a node's (or refuses it), the messages a node
 * sends, keepalives both ways, and closing.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl_internal.h"

/* While a refused peer's Nack drains: poll its output this often, give up after that long. */
#define DRAIN_POLL_MS 5
#define DRAIN_MAX_MS 1000

static const char *msg_name(Vsn__Envelope__MsgCase c)
{
	switch (c) {
	case VSN__ENVELOPE__MSG_HELLO:
		return "Hello";
	case VSN__ENVELOPE__MSG_POLICY_SET:
		return "PolicySet";
	case VSN__ENVELOPE__MSG_CHUNK:
		return "PolicySetChunk";
	case VSN__ENVELOPE__MSG_ACK:
		return "Ack";
	case VSN__ENVELOPE__MSG_NACK:
		return "Nack";
	case VSN__ENVELOPE__MSG_PREPARE:
		return "Prepare";
	case VSN__ENVELOPE__MSG_COMMIT:
		return "Commit";
	case VSN__ENVELOPE__MSG_ABORT:
		return "Abort";
	case VSN__ENVELOPE__MSG_SLB_STATE:
		return "SlbState";
	case VSN__ENVELOPE__MSG_STATS:
		return "Stats";
	case VSN__ENVELOPE__MSG_KEEPALIVE:
		return "Keepalive";
	default:
		return "message of an unknown type";
	}
}

static void arm(struct event *ev, uint64_t ns)
{
	struct timeval tv;
	uint64_t us = ns / 1000;

	if (us < 1000)
		us = 1000;
	tv.tv_sec = (time_t)(us / 1000000);
	tv.tv_usec = (suseconds_t)(us % 1000000);
	evtimer_add(ev, &tv);
}

static uint64_t ms_ns(unsigned int ms)
{
	return (uint64_t)ms * 1000000u;
}

int sess_send(struct sess *s, const Vsn__Envelope *env)
{
	int r;

	if (!s->c || s->close_err)
		return -ENOTCONN;
	r = vsn_conn_send(s->c, env);
	if (r) {
		sess_close_later(s, r, "cannot send");
		return r;
	}
	s->last_tx = ctl_now();
	return 0;
}

static void sess_unlink(struct sess *s)
{
	struct vsn_ctl *ctl = s->ctl;

	if (s->prev)
		s->prev->next = s->next;
	else
		ctl->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
}

void sess_destroy(struct sess *s)
{
	if (s->c)
		vsn_conn_close(s->c);
	s->c = NULL;
	sess_stream_drop(s);
	if (s->node)
		s->node->sess = NULL;
	sess_unlink(s);
	if (s->timer)
		event_free(s->timer);
	if (s->pump)
		event_free(s->pump);
	free(s);
}

void sess_close(struct sess *s, int err, const char *why)
{
	struct vsn_ctl *ctl = s->ctl;
	struct node *n = s->node;
	struct vsn_ctl_event ev = {
		.err = err,
		.reason = why,
	};

	if (s->c)
		vsn_conn_close(s->c);
	s->c = NULL;
	sess_stream_drop(s);
	if (n) {
		n->sess = NULL;
		n->awaiting = false;
		s->node = NULL;
		ev.type = VSN_CTL_EV_DISCONNECTED;
		ev.node = n->name;
		ev.running = n->running;
		ctl_emit(ctl, &ev);
		if (n->ro)
			ro_node_gone(n, err, why);
	} else if (!s->reported) {
		ev.type = VSN_CTL_EV_REFUSED;
		ev.node = s->ready ? s->peer : NULL;
		ctl_emit(ctl, &ev);
	}
	sess_destroy(s);
}

void sess_close_later(struct sess *s, int err, const char *why)
{
	if (s->close_err)
		return;
	s->close_err = err;
	snprintf(s->close_why, sizeof(s->close_why), "%s", why);
	event_active(s->timer, EV_TIMEOUT, 0);
}

/* Refuse a peer whose Hello is of another version: Nack it, then close once that is out. */
static void refuse_version(struct sess *s, const Vsn__Hello *h)
{
	Vsn__Envelope env = VSN__ENVELOPE__INIT;
	Vsn__Nack nack = VSN__NACK__INIT;
	char msg[160];
	struct vsn_ctl_event ev = {
		.type = VSN_CTL_EV_REFUSED,
		.node = s->peer,
		.err = -EPROTONOSUPPORT,
		.reason = msg,
	};

	snprintf(msg, sizeof(msg),
		 "incompatible protocol version: this peer speaks %d, the other sent %u",
		 VSN_PROTO_VERSION, h->protocol_version);
	nack.code = VSN__NACK_CODE__NACK_VERSION;
	nack.message = msg;
	env.msg_case = VSN__ENVELOPE__MSG_NACK;
	env.nack = &nack;
	ctl_emit(s->ctl, &ev);
	s->reported = true;
	if (sess_send(s, &env))
		return; /* closing anyway */
	s->draining = true;
	s->drain_deadline = ctl_now() + ms_ns(DRAIN_MAX_MS);
	evtimer_del(s->timer);
	arm(s->pump, ms_ns(DRAIN_POLL_MS));
}

static void on_hello(struct sess *s, const Vsn__Hello *h)
{
	struct vsn_ctl *ctl = s->ctl;
	struct vsn_ctl_set *d;
	struct node *n;
	char why[600];
	int r;

	if (h->protocol_version != VSN_PROTO_VERSION) {
		refuse_version(s, h);
		return;
	}
	if (!h->node || strcmp(h->node, s->peer)) {
		snprintf(why, sizeof(why), "its Hello names node '%.253s' but its certificate '%s'",
			 h->node ? h->node : "", s->peer);
		sess_close(s, -EACCES, why);
		return;
	}
	r = ctl_node_get(ctl, s->peer, &n);
	if (r) {
		sess_close(s, r, "out of memory");
		return;
	}
	if (n->sess)
		sess_close(n->sess, -ECONNABORTED, "replaced by a newer connection of the node");
	n->sess = s;
	s->node = n;
	snprintf(n->software_version, sizeof(n->software_version), "%s",
		 h->software_version ? h->software_version : "");
	n->capabilities = h->capabilities;
	n->running = h->running_generation;
	n->sent = 0;
	n->awaiting = false;
	/* A reconnected node is sent a set it refused once more. */
	n->failed = 0;

	if (vsn_conn_peer_addr(s->c, n->address, sizeof(n->address)))
		n->address[0] = '\0';

	struct vsn_ctl_event ev = {
		.type = VSN_CTL_EV_CONNECTED,
		.node = n->name,
		.address = n->address[0] ? n->address : NULL,
		.software_version = n->software_version,
		.generation = n->running,
		.running = n->running,
	};

	ctl_emit(ctl, &ev);
	d = node_desired(n);
	if (d && d->generation == n->running) {
		ev.type = VSN_CTL_EV_IN_SYNC;
		ctl_emit(ctl, &ev);
	}
	/* The keepalive schedule starts now. */
	event_active(s->timer, EV_TIMEOUT, 0);
	node_reconcile(n);
}

static void on_ack(struct sess *s, const Vsn__Ack *a)
{
	struct node *n = s->node;
	uint64_t now = ctl_now();
	struct vsn_ctl_event ev = {
		.type = VSN_CTL_EV_ACK,
		.node = n->name,
		.generation = a->generation,
		.prepared = a->prepared,
	};
	double latency = 0;

	if (n->ro && ro_ack(n, a->generation, a->prepared, &latency)) {
		ev.latency_ms = latency;
		ev.running = n->running;
		ctl_emit(s->ctl, &ev);
		return;
	}
	if (!a->prepared) {
		n->running = a->generation;
		if (n->awaiting && n->sent == a->generation) {
			n->awaiting = false;
			n->acked = a->generation;
			n->ack_ms = ctl_ms(n->sent_at, now);
			ev.latency_ms = n->ack_ms;
		}
	}
	ev.running = n->running;
	ctl_emit(s->ctl, &ev);
	node_reconcile(n);
}

static void on_nack(struct sess *s, const Vsn__Nack *k)
{
	struct node *n = s->node;
	uint64_t gen = k->generation;
	struct vsn_ctl_event ev = {
		.type = VSN_CTL_EV_NACK,
		.node = n->name,
		.running = n->running,
		.code = k->code,
		.message = k->message ? k->message : "",
		.bad_entry = k->bad_entry,
	};

	/* A node that cannot tell the generation (a chunk refused early) means the one sent. */
	if (!gen && n->awaiting)
		gen = n->sent;
	/*
	 * One refusal per set: a rollout sends the held set and its Prepare back to back, and a
	 * node that refused the set refuses the Prepare too, for want of a held set. The first
	 * Nack says why; the echo would only hide it.
	 */
	if (gen && gen == n->failed && !n->ro && k->code == VSN__NACK_CODE__NACK_SEQUENCE)
		return;
	ev.generation = gen;
	ctl_emit(s->ctl, &ev);
	if (n->ro && ro_nack(n, gen, k))
		return;
	if (!gen)
		return;
	if (n->awaiting && n->sent == gen)
		n->awaiting = false;
	n->failed = gen;
	n->failed_code = k->code;
	n->failed_bad_entry = k->bad_entry;
	snprintf(n->failed_message, sizeof(n->failed_message), "%s", ev.message);
	node_reconcile(n);
}

static int counters_copy(struct vsn_ctl_counter **dst, size_t *n_dst, Vsn__Counter **src, size_t n)
{
	struct vsn_ctl_counter *c = NULL;

	if (n) {
		c = calloc(n, sizeof(*c));
		if (!c)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		c[i].id = src[i]->id;
		c[i].packets = src[i]->packets;
		c[i].bytes = src[i]->bytes;
	}
	free(*dst);
	*dst = c;
	*n_dst = n;
	return 0;
}

static void on_stats(struct sess *s, const Vsn__Stats *st)
{
	struct node *n = s->node;

	/* Counters are cumulative: the latest Stats replace the ones before. */
	if (counters_copy(&n->svc, &n->n_svc, st->services, st->n_services) ||
	    counters_copy(&n->slb, &n->n_slb, st->slbs, st->n_slbs))
		return; /* out of memory: keep what was there */
	n->has_stats = true;
	n->stats_gen = st->generation;
	n->stats_at = ctl_now();
	n->running = st->generation;

	struct vsn_ctl_event ev = {
		.type = VSN_CTL_EV_STATS,
		.node = n->name,
		.generation = st->generation,
		.running = n->running,
		.n_services = n->n_svc,
		.services = n->svc,
		.n_slbs = n->n_slb,
		.slbs = n->slb,
	};

	ctl_emit(s->ctl, &ev);
}

static void send_keepalive(struct sess *s)
{
	Vsn__Envelope env = VSN__ENVELOPE__INIT;
	Vsn__Keepalive k = VSN__KEEPALIVE__INIT;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	k.sent_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	env.msg_case = VSN__ENVELOPE__MSG_KEEPALIVE;
	env.keepalive = &k;
	sess_send(s, &env);
}

static void on_message(struct vsn_conn *c, Vsn__Envelope *env, void *arg)
{
	struct sess *s = arg;
	char why[128];

	s->last_rx = ctl_now();
	if (s->draining || s->close_err)
		return;
	if (!s->node) {
		if (env->msg_case == VSN__ENVELOPE__MSG_HELLO) {
			on_hello(s, env->hello);
		} else {
			snprintf(why, sizeof(why), "it sent a %s before its Hello",
				 msg_name(env->msg_case));
			sess_close(s, -EPROTO, why);
		}
		return;
	}
	switch (env->msg_case) {
	case VSN__ENVELOPE__MSG_ACK:
		on_ack(s, env->ack);
		break;
	case VSN__ENVELOPE__MSG_NACK:
		on_nack(s, env->nack);
		break;
	case VSN__ENVELOPE__MSG_STATS:
		on_stats(s, env->stats);
		break;
	case VSN__ENVELOPE__MSG_KEEPALIVE:
		/*
		 * Answered at once, so a node's keepalive timeout holds whatever this side's
		 * interval; the node never answers ours, so this cannot ping-pong.
		 */
		send_keepalive(s);
		break;
	case VSN__ENVELOPE__MSG__NOT_SET:
		break; /* a newer peer's message: ignored (docs/protocol.md) */
	case VSN__ENVELOPE__MSG_HELLO:
		sess_close(s, -EPROTO, "it sent a second Hello");
		break;
	default:
		snprintf(why, sizeof(why), "it sent a %s, which only the controller sends",
			 msg_name(env->msg_case));
		sess_close(s, -EPROTO, why);
		break;
	}
}

static void on_ready(struct vsn_conn *c, const char *peer, void *arg)
{
	struct sess *s = arg;

	s->ready = true;
	snprintf(s->peer, sizeof(s->peer), "%s", peer);
}

static void on_close(struct vsn_conn *c, int err, const char *why, void *arg)
{
	struct sess *s = arg;

	s->c = NULL; /* the transport frees it */
	sess_close(s, err, why);
}

/* The Hello deadline before Hello, keepalives after; a deferred close at any time. */
static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sess *s = arg;
	const struct vsn_ctl_opts *o = &s->ctl->o;
	uint64_t now = ctl_now(), rx_end, tx_end;
	char why[96];

	if (s->close_err) {
		sess_close(s, s->close_err, s->close_why);
		return;
	}
	if (s->draining)
		return;
	if (!s->node) {
		if (now - s->t_accept >= ms_ns(o->hello_timeout_ms)) {
			snprintf(why, sizeof(why), "no Hello within %u ms", o->hello_timeout_ms);
			sess_close(s, -ETIMEDOUT, why);
			return;
		}
		arm(s->timer, s->t_accept + ms_ns(o->hello_timeout_ms) - now);
		return;
	}
	rx_end = s->last_rx + ms_ns(o->keepalive_timeout_ms);
	if (now >= rx_end) {
		snprintf(why, sizeof(why), "nothing received for %u ms (keepalive timeout)",
			 o->keepalive_timeout_ms);
		sess_close(s, -ETIMEDOUT, why);
		return;
	}
	if (now - s->last_tx >= ms_ns(o->keepalive_interval_ms))
		send_keepalive(s);
	tx_end = s->last_tx + ms_ns(o->keepalive_interval_ms);
	arm(s->timer, (tx_end < rx_end ? tx_end : rx_end) - now);
}

static void pump_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sess *s = arg;

	if (s->draining) {
		if (!s->c || !vsn_conn_out_len(s->c) || ctl_now() >= s->drain_deadline)
			sess_close(s, -EPROTONOSUPPORT, "refused");
		else
			arm(s->pump, ms_ns(DRAIN_POLL_MS));
		return;
	}
	sess_pump(s);
}

void sess_accept(struct vsn_listener *l, struct vsn_conn *c, void *arg)
{
	static const struct vsn_conn_cbs cbs = {on_ready, on_message, on_close};
	struct vsn_ctl *ctl = arg;
	struct sess *s = calloc(1, sizeof(*s));

	if (!s) {
		vsn_conn_close(c);
		return;
	}
	s->ctl = ctl;
	s->c = c;
	s->timer = evtimer_new(ctl->base, timer_cb, s);
	s->pump = evtimer_new(ctl->base, pump_cb, s);
	s->t_accept = s->last_rx = s->last_tx = ctl_now();
	s->next = ctl->sessions;
	if (ctl->sessions)
		ctl->sessions->prev = s;
	ctl->sessions = s;
	if (!s->timer || !s->pump) {
		sess_destroy(s);
		return;
	}
	vsn_conn_set_cbs(c, &cbs, s);
	arm(s->timer, ms_ns(ctl->o.hello_timeout_ms));
}
