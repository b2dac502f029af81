/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libvsnctl: the controller's side of the controller-node protocol (docs/protocol.md; vsnd is
 * its first user, docs/vsnd.md). It listens for nodes (libvsntransport: mutual TLS, a node is
 * its certificate's name), keeps one record per node that has ever said Hello, and drives each
 * node toward its desired policy set:
 *
 *   desired   the set the node should run: its own (vsn_ctl_set_node) or the default one
 *   sent      the generation last sent on the node's connection, awaiting Ack or Nack
 *   running   the generation the node said it runs (Hello, Ack, Stats)
 *   failed    a generation the node refused (Nack) or that an aborted rollout left: it is not
 *             sent again until the desired set changes or the node reconnects (once then)
 *
 * Sets go out at once (PolicySet, one frame when it fits, else PolicySetChunks) or in a
 * two-phase rollout over a group of nodes (vsn_ctl_rollout). SlbState is broadcast. Keepalives
 * are sent when the connection is idle; a peer silent for the keepalive timeout is closed.
 *
 * No global state: everything runs on the caller's event_base, every callback is called from
 * it. The library does not log: it reports what happens through on_event (and rollout results
 * through their own callback) for the caller to log. on_event may run inside the library's
 * calls (a PUSH inside vsn_ctl_set_default); a rollout's result never does. Functions return 0
 * or a negative errno; ret_* outputs are untouched on failure. Callbacks must not call
 * vsn_ctl_free.
 */
#ifndef VSN_CTL_H
#define VSN_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "frame.h"
#include "vsn.pb-c.h"

#define VSN_CTL_DEFAULT_HELLO_TIMEOUT_MS 10000u
#define VSN_CTL_DEFAULT_KEEPALIVE_INTERVAL_MS 5000u
#define VSN_CTL_DEFAULT_KEEPALIVE_TIMEOUT_MS 15000u
/*
 * A serialized PolicySet of at most this many bytes travels in one frame; a larger one in
 * PolicySetChunks. 64 KiB below the frame limit: the envelope's own bytes and room to grow.
 */
#define VSN_CTL_SINGLE_MAX (VSN_PROTO_MAX_FRAME - (64u << 10))
#define VSN_CTL_DEFAULT_ROLLOUT_TIMEOUT_MS 5000u
#define VSN_CTL_DEFAULT_PREPARE_TIMEOUT_MS 10000u

struct vsn_ctl;

/*
 * A policy set ready for the wire: serialized once, shared by every node it goes to, and
 * reference counted (the controller holds a reference while it needs the set).
 */
struct vsn_ctl_set;

/*
 * Serialize msg (which must have hold false and a generation above 0: -EINVAL) into a new set
 * with one reference. The caller keeps msg. -ENOMEM.
 */
int vsn_ctl_set_new(const Vsn__PolicySet *msg, struct vsn_ctl_set **ret_set);
struct vsn_ctl_set *vsn_ctl_set_ref(struct vsn_ctl_set *set);
/* Drop a reference; the last one frees the set. NULL is ignored. */
void vsn_ctl_set_unref(struct vsn_ctl_set *set);
uint64_t vsn_ctl_set_generation(const struct vsn_ctl_set *set);
/* The serialized PolicySet's size in bytes (hold false). */
size_t vsn_ctl_set_size(const struct vsn_ctl_set *set);
/* Whether a and b serialize to the same bytes (so the same set, generation included). */
bool vsn_ctl_set_equal(const struct vsn_ctl_set *a, const struct vsn_ctl_set *b);

struct vsn_ctl_counter {
	uint32_t id;
	uint64_t packets;
	uint64_t bytes;
};

enum vsn_ctl_event_type {
	/* A node said a valid Hello: node, address, generation (its running one), software. */
	VSN_CTL_EV_CONNECTED,
	/* At Hello: the node runs its desired generation already; nothing is sent. */
	VSN_CTL_EV_IN_SYNC,
	/* A node's connection is gone: err and reason (-ETIMEDOUT: keepalive timeout). */
	VSN_CTL_EV_DISCONNECTED,
	/*
	 * A connection that never became a node's: a failed TLS handshake (node NULL), no
	 * Hello in time, a Hello of another name than the certificate's or of another protocol
	 * version (answered with Nack NACK_VERSION first), another message before Hello.
	 */
	VSN_CTL_EV_REFUSED,
	/* A set sent: generation, bytes, chunks (0: in one frame), hold (a rollout's). */
	VSN_CTL_EV_PUSH,
	/*
	 * Ack: generation; prepared (the answer to a Prepare); latency_ms from the set's first
	 * byte queued to this Ack (0 when the Ack answers nothing this controller sent).
	 */
	VSN_CTL_EV_ACK,
	/* Nack: generation, code, message, bad_entry; running is the node's generation. */
	VSN_CTL_EV_NACK,
	/* Stats: generation; services and slbs, the node's cumulative counters (debug-level). */
	VSN_CTL_EV_STATS,
};

struct vsn_ctl_event {
	enum vsn_ctl_event_type type;
	const char *node; /* the certificate's name; NULL for a handshake that failed */
	/* The peer's address ("192.0.2.7:40122"), or NULL when the socket cannot tell. */
	const char *address;
	const char *software_version; /* CONNECTED */
	uint64_t generation;
	uint64_t running; /* the node's running generation as it last said */
	bool prepared;	  /* ACK */
	bool hold;	  /* PUSH */
	size_t bytes;	  /* PUSH */
	size_t chunks;	  /* PUSH */
	double latency_ms;
	int err;	    /* DISCONNECTED, REFUSED: a negative errno */
	const char *reason; /* DISCONNECTED, REFUSED: a sentence */
	Vsn__NackCode code; /* NACK */
	const char *message;
	uint64_t bad_entry; /* NACK: 1 + the entry's index, 0: none */
	size_t n_services;  /* STATS */
	const struct vsn_ctl_counter *services;
	size_t n_slbs;
	const struct vsn_ctl_counter *slbs;
};

struct vsn_ctl_opts {
	size_t sz;			    /* sizeof(struct vsn_ctl_opts), so it can grow */
	unsigned int hello_timeout_ms;	    /* 0: VSN_CTL_DEFAULT_HELLO_TIMEOUT_MS */
	unsigned int keepalive_interval_ms; /* 0: VSN_CTL_DEFAULT_KEEPALIVE_INTERVAL_MS */
	unsigned int keepalive_timeout_ms;  /* 0: VSN_CTL_DEFAULT_KEEPALIVE_TIMEOUT_MS */
	size_t single_max;		    /* 0: VSN_CTL_SINGLE_MAX (also its upper bound) */
	size_t chunk_size;		    /* 0: VSN_CHUNK_DEFAULT_SIZE */
	void (*on_event)(const struct vsn_ctl_event *ev, void *arg);
	void *arg;
};

/*
 * Listen on listen_addr ("192.0.2.1:7700", "[::]:7700"; port 0: an ephemeral one) for nodes,
 * with ssl_ctx (vsn_tls_ctx_new(VSN_TLS_CONTROLLER, ...)), which must outlive the controller.
 * -EINVAL: a bad address or a keepalive timeout not above the interval; else
 * vsn_listener_new's errors.
 */
int vsn_ctl_new(struct event_base *base, SSL_CTX *ssl_ctx, const char *listen_addr,
		const struct vsn_ctl_opts *opts, struct vsn_ctl **ret_ctl);
/* The port the controller listens on (host order). */
int vsn_ctl_port(const struct vsn_ctl *ctl);
/*
 * Close every connection (without events), forget the nodes and free everything. Rollouts
 * still running end without their callback.
 */
/*
 * Serve new connections with ssl_ctx (certificates re-read on SIGHUP); live sessions keep
 * theirs. ssl_ctx must outlive the controller or the next call.
 */
void vsn_ctl_set_ssl_ctx(struct vsn_ctl *ctl, SSL_CTX *ssl_ctx);
void vsn_ctl_free(struct vsn_ctl *ctl);

/* Set the desired set but send nothing now (a rollout follows, or a later push). */
#define VSN_CTL_NO_PUSH 0x1u

/*
 * The set every node without one of its own should run (NULL: none); the controller takes a
 * reference. Unless flags has VSN_CTL_NO_PUSH, each connected node concerned that does not
 * run it and has not refused this generation is sent it at once (after a chunk stream in
 * progress; a node in a rollout once the rollout ends). -EINVAL: unknown flags.
 */
int vsn_ctl_set_default(struct vsn_ctl *ctl, struct vsn_ctl_set *set, unsigned int flags);
/*
 * The set node (a certificate name) should run, instead of the default one (NULL: the
 * default again); sent as vsn_ctl_set_default says. The node need not have connected yet.
 * -EINVAL: not a valid name, or unknown flags; -ENOMEM.
 */
int vsn_ctl_set_node(struct vsn_ctl *ctl, const char *node, struct vsn_ctl_set *set,
		     unsigned int flags);

/*
 * Send SlbState{slb_id, state} to every connected node at once (no answer is expected).
 * *ret_nodes (may be NULL): how many nodes it went to.
 */
int vsn_ctl_slb_state(struct vsn_ctl *ctl, uint32_t slb_id, Vsn__SlbStateValue state,
		      size_t *ret_nodes);

/* Two-phase rollouts. */

struct vsn_ctl_target {
	const char *node;
	struct vsn_ctl_set *set;
};

struct vsn_ctl_rollout_opts {
	size_t sz; /* sizeof(struct vsn_ctl_rollout_opts) */
	/*
	 * How long the rollout waits for every node to be prepared, from its start, and then
	 * again for every commit Ack, from the first Commit (0:
	 * VSN_CTL_DEFAULT_ROLLOUT_TIMEOUT_MS).
	 */
	unsigned int timeout_ms;
	/*
	 * Prepare.timeout_ms: how long a node holds a prepared set waiting for its Commit (0:
	 * VSN_CTL_DEFAULT_PREPARE_TIMEOUT_MS). Above timeout_ms, so that a Commit sent within
	 * the rollout's timeout finds the set still prepared: -EINVAL otherwise.
	 */
	unsigned int prepare_timeout_ms;
};

enum vsn_ctl_ro_state {
	VSN_CTL_RO_WAITING,    /* waits for a chunk stream in progress to end */
	VSN_CTL_RO_SENDING,    /* PolicySet{hold} on its way (chunks) */
	VSN_CTL_RO_PREPARING,  /* Prepare sent */
	VSN_CTL_RO_PREPARED,   /* Ack{prepared} received */
	VSN_CTL_RO_COMMITTING, /* Commit sent */
	VSN_CTL_RO_COMMITTED,  /* Ack of the Commit received */
	VSN_CTL_RO_IN_SYNC,    /* ran the set already: nothing sent */
	VSN_CTL_RO_ABORTED,    /* Abort sent, or nothing to abort */
	VSN_CTL_RO_FAILED,     /* the node that made the rollout fail */
};

const char *vsn_ctl_ro_state_name(enum vsn_ctl_ro_state s);

struct vsn_ctl_rollout_node {
	const char *node;
	uint64_t generation;
	enum vsn_ctl_ro_state state;
	double prepared_ms;   /* from the rollout's start to its prepared Ack; -1: none */
	double commit_ack_ms; /* from the first Commit sent to its commit Ack; -1: none */
};

struct vsn_ctl_rollout_result {
	uint64_t id;
	/*
	 * 0: committed on every node. Else why it failed: -EPROTO...: the failed node's Nack
	 * (vsn_proto_nack_errno of code), -ECONNRESET: it disconnected, -ETIMEDOUT: it did not
	 * answer in time, -ENOTCONN: it was not connected, -EBUSY: it was in another rollout.
	 */
	int err;
	const char *failed_node; /* NULL when err is 0 */
	Vsn__NackCode code;	 /* the failed node's Nack, else NACK_UNSPEC */
	const char *message;	 /* why, for humans; "" when err is 0 */
	uint64_t bad_entry;
	/*
	 * The failure came after the Commits were sent: no Abort; the nodes that acknowledged
	 * the Commit run the new set.
	 */
	bool after_commit;
	size_t n_nodes;
	const struct vsn_ctl_rollout_node *nodes;
	size_t n_aborted;  /* nodes sent an Abort */
	double prepare_ms; /* from the start to the last prepared Ack; -1: not reached */
	double commit_ms;  /* from the first Commit sent to the last commit Ack; -1: not reached */
	double spread_ms;  /* from the first commit Ack to the last; -1: not reached */
};

/* Called from the event loop, never from within vsn_ctl_rollout; res lives for the call. */
typedef void (*vsn_ctl_rollout_cb)(const struct vsn_ctl_rollout_result *res, void *arg);

/*
 * Roll out each target's set to its node in two phases: PolicySet{hold} (or its chunks), then
 * Prepare; once every node answered Ack{prepared}, Commit to each, each answering Ack. A
 * target's set becomes the node's desired set (its own one unless it is the default set the
 * node has). A node that runs its set already takes no part (VSN_CTL_RO_IN_SYNC). If a node
 * Nacks, disconnects or does not answer within timeout_ms, every node that was sent its set is
 * sent Abort, and the rollout's nodes keep their old sets: their new generation counts as
 * failed (not sent again until their desired set changes or they reconnect). cb (may be NULL)
 * hears the result, with the timings; *ret_id (may be NULL) is the rollout's id.
 * A node that is not connected, or in another rollout, fails the rollout before anything is
 * sent. -EINVAL: n is 0, a target without node or set, a node twice, bad opts; -ENOMEM.
 */
int vsn_ctl_rollout(struct vsn_ctl *ctl, const struct vsn_ctl_target *targets, size_t n,
		    const struct vsn_ctl_rollout_opts *opts, vsn_ctl_rollout_cb cb, void *arg,
		    uint64_t *ret_id);

/* "NACK_STALE" for VSN__NACK_CODE__NACK_STALE, ...; "NACK_?" for a code this build does not know.
 */
const char *vsn_ctl_nack_code_name(Vsn__NackCode code);

/* Status. */

enum vsn_ctl_sync {
	VSN_CTL_SYNC_NONE,    /* no desired set */
	VSN_CTL_SYNC_IN_SYNC, /* runs the desired generation */
	VSN_CTL_SYNC_PUSHING, /* the desired set was sent, no answer yet */
	VSN_CTL_SYNC_PENDING, /* not sent yet (disconnected, or after a stream in progress) */
	VSN_CTL_SYNC_FAILING, /* refused the desired generation (failed_*) */
	VSN_CTL_SYNC_ROLLOUT, /* in a rollout */
};

const char *vsn_ctl_sync_name(enum vsn_ctl_sync s);

struct vsn_ctl_node_status {
	const char *node;
	bool connected;
	const char *address;	      /* of its connection; NULL when not connected */
	const char *software_version; /* of its last Hello */
	uint64_t capabilities;
	enum vsn_ctl_sync sync;
	uint64_t desired; /* 0: none */
	uint64_t running;
	uint64_t sent;		    /* 0: nothing sent on this connection */
	uint64_t acked;		    /* the last generation Acked after a push (0: none) */
	double ack_latency_ms;	    /* of that Ack */
	uint64_t failed_generation; /* 0: none */
	Vsn__NackCode failed_code;
	const char *failed_message;
	uint64_t failed_bad_entry;
	/* The latest Stats (cumulative counters), if any arrived. */
	bool has_stats;
	uint64_t stats_generation;
	double stats_age_ms;
	size_t n_services;
	const struct vsn_ctl_counter *services;
	size_t n_slbs;
	const struct vsn_ctl_counter *slbs;
};

/*
 * Call cb for every node known (connected or not), in the order the controller first heard of
 * them (a Hello, or vsn_ctl_set_node); st and what it points to live for the call. A non-zero
 * return from cb stops and is returned.
 */
int vsn_ctl_status(struct vsn_ctl *ctl, int (*cb)(const struct vsn_ctl_node_status *st, void *arg),
		   void *arg);
/* cb for one node only. -ENOENT: no such node. */
int vsn_ctl_node_status(struct vsn_ctl *ctl, const char *node,
			int (*cb)(const struct vsn_ctl_node_status *st, void *arg), void *arg);

#endif /* VSN_CTL_H */
