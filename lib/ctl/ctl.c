/* SPDX-License-Identifier: Apache-2.0 */
/* The controller: its listener, the node records, desired sets, SlbState, status (ctl.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl_internal.h"

uint64_t ctl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double ctl_ms(uint64_t from, uint64_t to)
{
	return to >= from ? (double)(to - from) / 1e6 : 0.0;
}

void ctl_emit(struct vsn_ctl *ctl, struct vsn_ctl_event *ev)
{
	if (ctl->o.on_event)
		ctl->o.on_event(ev, ctl->o.arg);
}

struct node *ctl_node_find(struct vsn_ctl *ctl, const char *name)
{
	/* A linear walk: a controller serves some hundreds of nodes, not millions. */
	for (struct node *n = ctl->nodes; n; n = n->next)
		if (!strcmp(n->name, name))
			return n;
	return NULL;
}

int ctl_node_get(struct vsn_ctl *ctl, const char *name, struct node **ret)
{
	struct node *n = ctl_node_find(ctl, name);

	if (!n) {
		if (strlen(name) >= sizeof(n->name))
			return -EINVAL;
		n = calloc(1, sizeof(*n));
		if (!n)
			return -ENOMEM;
		strcpy(n->name, name);
		n->ctl = ctl;
		*ctl->nodes_tail = n;
		ctl->nodes_tail = &n->next;
	}
	*ret = n;
	return 0;
}

struct vsn_ctl_set *node_desired(const struct node *n)
{
	return n->own ? n->own : n->ctl->def;
}

void node_set_desired(struct vsn_ctl *ctl, struct node *n, struct vsn_ctl_set *set)
{
	if (set == (n->own ? n->own : ctl->def))
		return;
	vsn_ctl_set_ref(set);
	vsn_ctl_set_unref(n->own);
	n->own = set;
}

static void node_free(struct node *n)
{
	vsn_ctl_set_unref(n->own);
	free(n->svc);
	free(n->slb);
	free(n);
}

int vsn_ctl_new(struct event_base *base, SSL_CTX *ssl_ctx, const char *listen_addr,
		const struct vsn_ctl_opts *opts, struct vsn_ctl **ret_ctl)
{
	struct vsn_ctl *ctl;
	int r;

	ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return -ENOMEM;
	/* Options of an older, smaller struct: the fields it has. */
	if (opts)
		memcpy(&ctl->o, opts, opts->sz < sizeof(ctl->o) ? opts->sz : sizeof(ctl->o));
	ctl->o.sz = sizeof(ctl->o);
	if (!ctl->o.hello_timeout_ms)
		ctl->o.hello_timeout_ms = VSN_CTL_DEFAULT_HELLO_TIMEOUT_MS;
	if (!ctl->o.keepalive_interval_ms)
		ctl->o.keepalive_interval_ms = VSN_CTL_DEFAULT_KEEPALIVE_INTERVAL_MS;
	if (!ctl->o.keepalive_timeout_ms)
		ctl->o.keepalive_timeout_ms = VSN_CTL_DEFAULT_KEEPALIVE_TIMEOUT_MS;
	if (!ctl->o.single_max || ctl->o.single_max > VSN_CTL_SINGLE_MAX)
		ctl->o.single_max = VSN_CTL_SINGLE_MAX;
	if (!ctl->o.chunk_size || ctl->o.chunk_size > VSN_CTL_SINGLE_MAX)
		ctl->o.chunk_size = VSN_CHUNK_DEFAULT_SIZE;
	if (ctl->o.keepalive_timeout_ms <= ctl->o.keepalive_interval_ms) {
		free(ctl);
		return -EINVAL;
	}
	ctl->base = base;
	ctl->ssl_ctx = ssl_ctx;
	ctl->nodes_tail = &ctl->nodes;
	ctl->next_rollout_id = 1;
	r = vsn_listener_new(base, listen_addr, ssl_ctx, sess_accept, ctl, &ctl->l);
	if (r) {
		free(ctl);
		return r;
	}
	*ret_ctl = ctl;
	return 0;
}

int vsn_ctl_port(const struct vsn_ctl *ctl)
{
	return vsn_listener_port(ctl->l);
}

void vsn_ctl_free(struct vsn_ctl *ctl)
{
	struct node *n, *next;

	if (!ctl)
		return;
	vsn_listener_free(ctl->l);
	ro_free_all(ctl);
	while (ctl->sessions)
		sess_destroy(ctl->sessions);
	for (n = ctl->nodes; n; n = next) {
		next = n->next;
		node_free(n);
	}
	vsn_ctl_set_unref(ctl->def);
	free(ctl);
}

int vsn_ctl_set_default(struct vsn_ctl *ctl, struct vsn_ctl_set *set, unsigned int flags)
{
	if (flags & ~VSN_CTL_NO_PUSH)
		return -EINVAL;
	vsn_ctl_set_ref(set);
	vsn_ctl_set_unref(ctl->def);
	ctl->def = set;
	if (flags & VSN_CTL_NO_PUSH)
		return 0;
	for (struct node *n = ctl->nodes; n; n = n->next)
		if (!n->own)
			node_reconcile(n);
	return 0;
}

int vsn_ctl_set_node(struct vsn_ctl *ctl, const char *node, struct vsn_ctl_set *set,
		     unsigned int flags)
{
	struct node *n;
	int r;

	if ((flags & ~VSN_CTL_NO_PUSH) || !node || vsn_tls_name_valid(node))
		return -EINVAL;
	r = ctl_node_get(ctl, node, &n);
	if (r)
		return r;
	vsn_ctl_set_ref(set);
	vsn_ctl_set_unref(n->own);
	n->own = set;
	if (!(flags & VSN_CTL_NO_PUSH))
		node_reconcile(n);
	return 0;
}

int vsn_ctl_slb_state(struct vsn_ctl *ctl, uint32_t slb_id, Vsn__SlbStateValue state,
		      size_t *ret_nodes)
{
	Vsn__Envelope env = VSN__ENVELOPE__INIT;
	Vsn__SlbState st = VSN__SLB_STATE__INIT;
	size_t sent = 0;

	st.slb_id = slb_id;
	st.state = state;
	env.msg_case = VSN__ENVELOPE__MSG_SLB_STATE;
	env.slb_state = &st;
	for (struct node *n = ctl->nodes; n; n = n->next)
		if (n->sess && !sess_send(n->sess, &env))
			sent++;
	if (ret_nodes)
		*ret_nodes = sent;
	return 0;
}

static enum vsn_ctl_sync node_sync(const struct node *n, const struct vsn_ctl_set *d)
{
	if (n->ro)
		return VSN_CTL_SYNC_ROLLOUT;
	if (!d)
		return VSN_CTL_SYNC_NONE;
	if (d->generation == n->running)
		return VSN_CTL_SYNC_IN_SYNC;
	if (d->generation == n->failed)
		return VSN_CTL_SYNC_FAILING;
	if (n->sess && n->awaiting && n->sent == d->generation)
		return VSN_CTL_SYNC_PUSHING;
	return VSN_CTL_SYNC_PENDING;
}

static int node_status(struct vsn_ctl *ctl, struct node *n,
		       int (*cb)(const struct vsn_ctl_node_status *st, void *arg), void *arg)
{
	struct vsn_ctl_set *d = node_desired(n);
	struct vsn_ctl_node_status st = {
		.node = n->name,
		.connected = n->sess != NULL,
		.address = n->sess && n->address[0] ? n->address : NULL,
		.software_version = n->software_version,
		.capabilities = n->capabilities,
		.sync = node_sync(n, d),
		.desired = d ? d->generation : 0,
		.running = n->running,
		.sent = n->sess ? n->sent : 0,
		.acked = n->acked,
		.ack_latency_ms = n->ack_ms,
		.failed_generation = n->failed,
		.failed_code = n->failed_code,
		.failed_message = n->failed_message,
		.failed_bad_entry = n->failed_bad_entry,
		.has_stats = n->has_stats,
		.stats_generation = n->stats_gen,
		.stats_age_ms = n->has_stats ? ctl_ms(n->stats_at, ctl_now()) : 0,
		.n_services = n->n_svc,
		.services = n->svc,
		.n_slbs = n->n_slb,
		.slbs = n->slb,
	};

	return cb(&st, arg);
}

int vsn_ctl_status(struct vsn_ctl *ctl, int (*cb)(const struct vsn_ctl_node_status *st, void *arg),
		   void *arg)
{
	int r;

	for (struct node *n = ctl->nodes; n; n = n->next) {
		r = node_status(ctl, n, cb, arg);
		if (r)
			return r;
	}
	return 0;
}

int vsn_ctl_node_status(struct vsn_ctl *ctl, const char *node,
			int (*cb)(const struct vsn_ctl_node_status *st, void *arg), void *arg)
{
	struct node *n = ctl_node_find(ctl, node);

	return n ? node_status(ctl, n, cb, arg) : -ENOENT;
}

const char *vsn_ctl_sync_name(enum vsn_ctl_sync s)
{
	switch (s) {
	case VSN_CTL_SYNC_NONE:
		return "none";
	case VSN_CTL_SYNC_IN_SYNC:
		return "in-sync";
	case VSN_CTL_SYNC_PUSHING:
		return "pushing";
	case VSN_CTL_SYNC_PENDING:
		return "pending";
	case VSN_CTL_SYNC_FAILING:
		return "failing";
	case VSN_CTL_SYNC_ROLLOUT:
		return "rollout";
	}
	return "?";
}

const char *vsn_ctl_nack_code_name(Vsn__NackCode code)
{
	const ProtobufCEnumValue *v =
		protobuf_c_enum_descriptor_get_value(&vsn__nack_code__descriptor, (int)code);

	return v ? v->name : "NACK_?";
}

void vsn_ctl_set_ssl_ctx(struct vsn_ctl *ctl, SSL_CTX *ssl_ctx)
{
	vsn_listener_set_ssl_ctx(ctl->l, ssl_ctx);
}
