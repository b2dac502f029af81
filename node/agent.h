/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vsn-node, the network node agent (docs/node.md): one event loop that keeps
 * the node's forwarder running the controller's policy set.
 *
 *   agent.c    start (adopt what is pinned, or load and restore the persisted
 *              set), signals, the loop
 *   session.c  the controller connection: connect, Hello, keepalives,
 *              reconnect with backoff and jitter, message dispatch
 *   apply.c    policy sets: apply at once, or hold / Prepare / Commit / Abort
 *   stats.c    Stats every stats_interval_ms
 */
#ifndef VSN_NODE_AGENT_H
#define VSN_NODE_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "chunk.h"
#include "config.h"
#include "conn.h"
#include "store.h"
#include "vsn_dp.h"
#include "vsn_tls.h"

#define VSN_NODE_SOFTWARE_VERSION "0.6.0"
/* How long a connection attempt may take, TLS handshake included. */
#define AGENT_CONNECT_TIMEOUT_MS 5000
/* Trim the previous set this long after an apply, once the Ack is out. */
#define AGENT_TRIM_DELAY_MS 200

/* A PolicySet sent with hold, validated and waiting for its Prepare. */
struct held_set {
	uint64_t generation;
	uint8_t *bytes; /* serialized, for the store */
	size_t len;
	struct vsn_dp_set *set;
};

struct agent {
	const struct vsn_node_config *cfg;
	struct event_base *base;
	SSL_CTX *ssl;
	char controller[VSN_TLS_NAME_MAX + 16]; /* host:port, [v6]:port */
	struct vsn_dp *dp;
	struct vsn_store *store;

	/* The controller connection: NULL while disconnected. */
	struct vsn_conn *conn;
	bool ready;
	unsigned int attempt; /* failed connects since the last ready one */
	uint64_t last_rx_ms, last_tx_ms;
	struct vsn_reasm reasm;
	uint64_t chunks_refused_gen; /* the rest of a refused chunk stream is dropped */

	struct held_set held;
	struct vsn_dp_prepared *prepared;
	uint64_t prepared_gen;

	/* The running set: its generation and the ids Stats reports. */
	uint64_t generation;
	uint32_t *service_ids;
	size_t n_service_ids;
	uint32_t *slb_ids;
	size_t n_slb_ids;

	struct event *reconnect_ev, *keepalive_ev, *stats_ev, *prepare_ev, *trim_ev;
	struct event *nexthop_ev, *sighup_ev, *sigterm_ev, *sigint_ev;
	int nexthop_fd;
	int exit_code;
};

uint64_t agent_now_ms(void);

/* agent.c */
int agent_init(struct agent *a, const struct vsn_node_config *cfg);
int agent_run(struct agent *a);
void agent_fini(struct agent *a);

/* session.c */
int session_start(struct agent *a);
void session_stop(struct agent *a);
/* Send msg to the controller if connected; failures close the connection. */
int session_send(struct agent *a, const Vsn__Envelope *msg);

/* apply.c */
/* A set that came in one frame (takes msg). */
void apply_policy_set(struct agent *a, Vsn__PolicySet *msg);
void apply_chunk(struct agent *a, const Vsn__PolicySetChunk *c);
void apply_prepare(struct agent *a, const Vsn__Prepare *p);
void apply_commit(struct agent *a, const Vsn__Commit *c);
void apply_abort(struct agent *a, const Vsn__Abort *ab);
void apply_slb_state(struct agent *a, const Vsn__SlbState *s);
/* Apply a set with no controller involved (the persisted one at start). */
int apply_restore(struct agent *a, const uint8_t *bytes, size_t len);
/* Read the running set's service and SLB ids (at start, for Stats). */
int apply_load_running_ids(struct agent *a);
void apply_discard_pending(struct agent *a);
/* The prepare timer: no Commit came in time. */
void apply_prepare_expired(evutil_socket_t fd, short what, void *arg);

/* stats.c */
int stats_send(struct agent *a);

#endif /* VSN_NODE_AGENT_H */
