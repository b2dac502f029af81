/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The controller connection (docs/node.md, "Talking to the controller"):
 * connect with mutual TLS, Hello with the running generation, then serve
 * what the controller sends. Keepalives both ways; a connection that hears
 * nothing for keepalive_timeout_ms is closed. Every close schedules a
 * reconnect after an exponential backoff with full jitter, so a fleet that
 * lost its controller does not come back in one wave. Forwarding never
 * depends on the connection.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "agent.h"
#include "frame.h"
#include "log.h"

static void on_close(struct vsn_conn *c, int reason, const char *why, void *arg);

static void schedule_reconnect(struct agent *a)
{
	uint64_t lo = a->cfg->reconnect_min_ms, hi = a->cfg->reconnect_max_ms, cap = lo;
	unsigned int rnd = 0;
	struct timeval tv;
	uint64_t ms;

	/* attempt: connections that failed since the last one that was ready. */
	for (unsigned int i = 1; i < a->attempt && cap < hi; i++)
		cap *= 2;
	if (cap > hi)
		cap = hi;
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd = (unsigned int)agent_now_ms() * 2654435761u;
	/* Between half the cap and the cap: never a reconnect storm, never instant. */
	ms = cap / 2 + rnd % (cap / 2 + 1);
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(a->reconnect_ev, &tv);
	log_debug("reconnect", "in_ms=%llu attempt=%u", (unsigned long long)ms, a->attempt);
}

static void drop_connection(struct agent *a)
{
	if (a->conn)
		vsn_conn_close(a->conn);
	a->conn = NULL;
	a->ready = false;
	vsn_reasm_reset(&a->reasm);
	a->chunks_refused_gen = 0;
	/* A set held for a two-phase apply needs its Prepare on this connection. */
	if (a->held.set && !a->prepared)
		apply_discard_pending(a);
}

int session_send(struct agent *a, const Vsn__Envelope *msg)
{
	int r;

	if (!a->conn || !a->ready)
		return -ENOTCONN;
	r = vsn_conn_send(a->conn, msg);
	if (r) {
		log_warn("disconnect", "send failed: %s", strerror(-r));
		drop_connection(a);
		schedule_reconnect(a);
		return r;
	}
	a->last_tx_ms = agent_now_ms();
	return 0;
}

static void send_hello(struct agent *a)
{
	Vsn__Envelope env = VSN__ENVELOPE__INIT;
	Vsn__Hello h = VSN__HELLO__INIT;

	h.node = (char *)a->cfg->node;
	h.software_version = VSN_NODE_SOFTWARE_VERSION;
	h.protocol_version = VSN_PROTO_VERSION;
	h.capabilities = 0;
	h.running_generation = a->generation;
	env.msg_case = VSN__ENVELOPE__MSG_HELLO;
	env.hello = &h;
	session_send(a, &env);
}

static void on_ready(struct vsn_conn *c, const char *peer, void *arg)
{
	struct agent *a = arg;

	a->ready = true;
	a->attempt = 0;
	a->last_rx_ms = agent_now_ms();
	log_info("connected", "controller=%s peer=%s running_generation=%llu", a->controller, peer,
		 (unsigned long long)a->generation);
	send_hello(a);
	stats_send(a);
}

static void on_message(struct vsn_conn *c, Vsn__Envelope *m, void *arg)
{
	struct agent *a = arg;

	a->last_rx_ms = agent_now_ms();
	switch (m->msg_case) {
	case VSN__ENVELOPE__MSG_POLICY_SET:
		/* apply_policy_set takes the message: the transport must not free it. */
		apply_policy_set(a, m->policy_set);
		m->policy_set = NULL;
		m->msg_case = VSN__ENVELOPE__MSG__NOT_SET;
		break;
	case VSN__ENVELOPE__MSG_CHUNK:
		apply_chunk(a, m->chunk);
		break;
	case VSN__ENVELOPE__MSG_PREPARE:
		apply_prepare(a, m->prepare);
		break;
	case VSN__ENVELOPE__MSG_COMMIT:
		apply_commit(a, m->commit);
		break;
	case VSN__ENVELOPE__MSG_ABORT:
		apply_abort(a, m->abort);
		break;
	case VSN__ENVELOPE__MSG_SLB_STATE:
		apply_slb_state(a, m->slb_state);
		break;
	case VSN__ENVELOPE__MSG_KEEPALIVE:
		break;
	case VSN__ENVELOPE__MSG_NACK:
		log_err("refused", "controller says code=%d: %s", m->nack->code,
			m->nack->message ? m->nack->message : "");
		drop_connection(a);
		schedule_reconnect(a);
		break;
	default:
		log_warn("unexpected", "message type=%d from the controller: ignored",
			 (int)m->msg_case);
		break;
	}
}

static void on_close(struct vsn_conn *c, int reason, const char *why, void *arg)
{
	struct agent *a = arg;

	if (a->ready) {
		log_warn("disconnect", "controller=%s error=\"%s\"", a->controller, why);
	} else {
		a->attempt++;
		log_warn("connect_failed", "controller=%s attempt=%u error=\"%s\"", a->controller,
			 a->attempt, why);
	}
	/* The transport frees c after this returns. */
	a->conn = NULL;
	drop_connection(a);
	schedule_reconnect(a);
}

static const struct vsn_conn_cbs cbs = {
	.on_ready = on_ready,
	.on_message = on_message,
	.on_close = on_close,
};

static void connect_now(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	int r;

	r = vsn_conn_connect(a->base, a->controller, a->ssl, AGENT_CONNECT_TIMEOUT_MS, &cbs, a,
			     &a->conn);
	if (r) {
		a->attempt++;
		log_warn("connect_failed", "controller=%s attempt=%u error=\"%s\"", a->controller,
			 a->attempt, strerror(-r));
		a->conn = NULL;
		schedule_reconnect(a);
	}
}

static void keepalive_tick(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	uint64_t now = agent_now_ms();

	if (!a->conn || !a->ready)
		return;
	if (now - a->last_rx_ms >= a->cfg->keepalive_timeout_ms) {
		log_warn("disconnect", "controller=%s silent for %llu ms", a->controller,
			 (unsigned long long)(now - a->last_rx_ms));
		drop_connection(a);
		schedule_reconnect(a);
		return;
	}
	if (now - a->last_tx_ms >= a->cfg->keepalive_interval_ms) {
		Vsn__Envelope env = VSN__ENVELOPE__INIT;
		Vsn__Keepalive k = VSN__KEEPALIVE__INIT;

		k.sent_ms = now;
		env.msg_case = VSN__ENVELOPE__MSG_KEEPALIVE;
		env.keepalive = &k;
		session_send(a, &env);
	}
}

int session_start(struct agent *a)
{
	/* Check often enough to keep both the interval and the timeout to 1/4 of the interval. */
	uint32_t tick = a->cfg->keepalive_interval_ms / 4;
	struct timeval tv = {tick / 1000, (tick % 1000) * 1000};

	vsn_reasm_init(&a->reasm, 0, 0);
	a->reconnect_ev = evtimer_new(a->base, connect_now, a);
	a->keepalive_ev = event_new(a->base, -1, EV_PERSIST, keepalive_tick, a);
	if (!a->reconnect_ev || !a->keepalive_ev)
		return -ENOMEM;
	event_add(a->keepalive_ev, &tv);
	event_active(a->reconnect_ev, EV_TIMEOUT, 0);
	return 0;
}

void session_stop(struct agent *a)
{
	drop_connection(a);
	if (a->reconnect_ev)
		event_free(a->reconnect_ev);
	if (a->keepalive_ev)
		event_free(a->keepalive_ev);
	a->reconnect_ev = a->keepalive_ev = NULL;
	vsn_reasm_fini(&a->reasm);
}
