/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libvsnctl's insides, shared by its files:
 *
 *   ctl.c      the controller, node records, desired sets, SlbState, status
 *   session.c  one connection: Hello, dispatch, keepalives, closing
 *   push.c     sets on the wire: one frame or paced chunks; reconcile a node with its set
 *   rollout.c  two-phase rollouts
 */
#ifndef VSN_CTL_INTERNAL_H
#define VSN_CTL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chunk.h"
#include "conn.h"
#include "ctl.h"
#include "vsn_tls.h"

/*
 * A set's buffer: SET_PREFIX bytes of room for an Envelope field's length (push.c), the
 * serialized PolicySet (hold false), then HOLD_SUFFIX: field 7 (hold) = true.
 */
#define SET_PREFIX 10
#define HOLD_SUFFIX_LEN 2

struct vsn_ctl_set {
	unsigned int refs;
	uint64_t generation;
	size_t len; /* serialized bytes, hold false */
	uint8_t *buf;
	/* Chunks of each variant ([hold]), split on first use with chunk_size[hold]. */
	struct vsn_chunks chunks[2];
	size_t chunk_size[2];
};

struct rollout;
struct node;

/* One connection, from accept to close. */
struct sess {
	struct vsn_ctl *ctl;
	struct sess *prev, *next;
	struct vsn_conn *c;
	struct node *node; /* after a valid Hello */
	char peer[VSN_TLS_NAME_MAX + 1];
	bool ready;
	struct event *timer; /* the Hello deadline, then keepalives; a deferred close */
	struct event *pump;  /* paces a chunk stream; waits for output to drain before closing */
	uint64_t t_accept, last_rx, last_tx; /* ns, CLOCK_MONOTONIC */
	/* A chunk stream in progress. */
	struct vsn_ctl_set *stream;
	bool stream_hold;
	size_t stream_next;
	/* Closing once the output drained (a Nack on its way), or a deferred close. */
	bool draining;
	bool reported; /* its REFUSED event is out already */
	uint64_t drain_deadline;
	int close_err;
	char close_why[256];
};

/* What the controller knows of one node, connected or not (kept until vsn_ctl_free). */
struct node {
	struct vsn_ctl *ctl;
	struct node *next;
	char name[VSN_TLS_NAME_MAX + 1];
	struct vsn_ctl_set *own; /* its own desired set; NULL: the default */
	struct sess *sess;
	char software_version[64];
	char address[64]; /* of its connection; "" when the socket could not tell */
	uint64_t capabilities;
	uint64_t running;
	uint64_t sent; /* last generation sent on this connection */
	uint64_t sent_at;
	bool awaiting; /* sent, no Ack or Nack yet */
	uint64_t acked;
	double ack_ms;
	uint64_t failed; /* the refused generation; 0: none */
	Vsn__NackCode failed_code;
	uint64_t failed_bad_entry;
	char failed_message[256];
	bool has_stats;
	uint64_t stats_gen, stats_at;
	struct vsn_ctl_counter *svc, *slb;
	size_t n_svc, n_slb;
	struct rollout *ro; /* the rollout it is in */
	size_t ro_idx;	    /* its index there */
};

struct vsn_ctl {
	struct event_base *base;
	SSL_CTX *ssl_ctx;
	struct vsn_listener *l;
	struct vsn_ctl_opts o;
	struct vsn_ctl_set *def;
	struct sess *sessions;
	struct node *nodes, **nodes_tail;
	struct rollout *rollouts;
	uint64_t next_rollout_id;
};

/* ctl.c */
uint64_t ctl_now(void); /* ns, CLOCK_MONOTONIC */
double ctl_ms(uint64_t from, uint64_t to);
void ctl_emit(struct vsn_ctl *ctl, struct vsn_ctl_event *ev);
struct node *ctl_node_find(struct vsn_ctl *ctl, const char *name);
int ctl_node_get(struct vsn_ctl *ctl, const char *name, struct node **ret);
struct vsn_ctl_set *node_desired(const struct node *n);
/* n's own desired set becomes set (a reference taken), unless set is what it has. */
void node_set_desired(struct vsn_ctl *ctl, struct node *n, struct vsn_ctl_set *set);

/* session.c */
void sess_accept(struct vsn_listener *l, struct vsn_conn *c, void *arg);
int sess_send(struct sess *s, const Vsn__Envelope *env);
/* Close s now and free it; emits DISCONNECTED (a node's) or REFUSED with err and why. */
void sess_close(struct sess *s, int err, const char *why);
/* Close s from the event loop soon (safe inside loops over sessions and nodes). */
void sess_close_later(struct sess *s, int err, const char *why);
/* Free s without an event (vsn_ctl_free). */
void sess_destroy(struct sess *s);

/*
 * push.c. sess_send_set: 1 when the whole set is queued, 0 when a chunk stream goes on (then
 * sess_stream_done follows), or a negative errno.
 */
int sess_send_set(struct sess *s, struct vsn_ctl_set *set, bool hold);
void sess_pump(struct sess *s);
/* Queue the rest of a chunk stream at once, ignoring the pacing (before an Abort). */
void sess_stream_flush(struct sess *s);
void sess_stream_drop(struct sess *s);
/* Send n its desired set if it needs it and may have it now. */
void node_reconcile(struct node *n);

/* rollout.c */
void ro_stream_done(struct node *n);
/*
 * An Ack or Nack of generation gen from n, which is in a rollout: true when the rollout took it
 * (*ret_latency_ms: since the set or the Commit was sent).
 */
bool ro_ack(struct node *n, uint64_t gen, bool prepared, double *ret_latency_ms);
bool ro_nack(struct node *n, uint64_t gen, const Vsn__Nack *nack);
void ro_node_gone(struct node *n, int err, const char *why);
void ro_free_all(struct vsn_ctl *ctl);

#endif /* VSN_CTL_INTERNAL_H */
