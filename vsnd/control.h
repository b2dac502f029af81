/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vsnd's controller mode (docs/controller.md): the desired-state document and its revisions in
 * the store, compiled into each node's set and pushed; drains; events; metrics. The REST API's
 * ops (api_ops.c) call the functions here.
 *
 *   control.c  start, apply (validate, store, compile, push), rollback, drain, node events
 *   api_ops.c  the API's endpoints: JSON in and out
 *   metrics.c  the Prometheus metrics
 */
#ifndef VSND_CONTROL_H
#define VSND_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "ctl.h"
#include "traffic.h"
#include "state.h"
#include "store/store.h"
#include "vsn_api.h"

struct vsnd;

/* Upper bounds of the push-latency and rollout-skew histograms, in seconds. */
#define VSND_HIST_BUCKETS 12

struct vsnd_hist {
	uint64_t counts[VSND_HIST_BUCKETS + 1]; /* the last: +Inf */
	double sum;
	uint64_t n;
};

struct vsnd_metrics {
	uint64_t applies, apply_errors;
	struct vsnd_hist push_latency;
	struct vsnd_hist rollout_skew;
	uint64_t rollouts, rollouts_aborted;
	struct {
		char *node;
		uint64_t nacks;
	} * nacks;
	size_t n_nacks;
};

/* What an apply changed, and what the node had before (for an aborted rollout's revert). */
struct vsnd_change {
	char *node;
	uint64_t generation;
	struct vsn_ctl_set *set;
	uint64_t old_generation; /* 0: the node had no set */
	void *old_bytes;
	size_t old_len;
};

struct vsnd_changes {
	struct vsnd_change *c;
	size_t n;
};

struct vsnd_control {
	struct vsnd *d;
	struct vsn_db *db;
	struct vsn_api *api;
	/* The document in force: parsed, its text, its revision (0: none yet). */
	struct vsn_state *st;
	char *doc;
	char *doc_name;
	uint64_t revision;
	/* SLBs an operator drained (vsn drain), by name; kept in the store's meta "drained". */
	char **drained;
	size_t n_drained;
	bool rollout_running;
	bool rollout_switch; /* the rollout running is a switch's, not an apply's */
	uint64_t rollout_id;
	/* A push waits for the rollout running (push_one_phase: its switch's rollout aborted). */
	bool push_deferred, push_one_phase;
	/* Switches waiting for their nodes' Acks before they become events (switch_acks.c). */
	struct vsnd_acks *acks;
	/*
	 * While a rollout runs: the document in force before the apply that started it, and
	 * that apply's changes, so that an abort puts everything back as it was.
	 */
	struct vsn_state *prev_st;
	char *prev_doc, *prev_doc_name;
	uint64_t prev_revision;
	struct vsnd_changes pending;
	struct vsnd_metrics m;
	/* Operators' pins (vsn pin), kept in the store's meta "pins" as JSON. */
	struct vsnd_pin {
		char *service, *configuration, *author;
		int64_t at_ms;
	} * pins;
	size_t n_pins;
	/* Automatic switching (switching.c): each service's state between evaluations. */
	struct vsnd_svc_rt *rt;
	size_t n_rt;
	struct event *eval_ev;
	/* Packets and bits per second per service, from the nodes' Stats (lib/ctl/traffic.h). */
	struct vsn_traffic *traffic;
	/* The SLBs' health probes and load scrapes (health.c). */
	struct vsnd_health *health;
	/* Since when each node has had its desired generation (for lag). */
	struct {
		char *node;
		uint64_t generation;
		int64_t since_ms;
	} * desired;
	size_t n_desired;
};

/* control.c */
/* Open the store, load the document in force and hand every node's set to the controller. */
int vsnd_control_start(struct vsnd *d);
void vsnd_control_stop(struct vsnd *d);
/*
 * Validate text, store it as a new revision, compile and push. *ret_revision: the new
 * revision; *ret_changes: the nodes whose sets changed (free with vsnd_changes_free). Errors:
 * err filled (400 with the document's errors as details, 409 a rollout in progress, ...).
 */
int vsnd_control_apply(struct vsnd_control *c, const char *text, size_t len, const char *name,
		       const char *author, const char *message, uint64_t *ret_revision,
		       struct vsnd_changes *ret_changes, uint64_t *ret_rollout,
		       struct vsn_api_err *err);
/* The document of revision rev, applied again as a new revision. */
int vsnd_control_rollback(struct vsnd_control *c, uint64_t rev, const char *author,
			  const char *message, uint64_t *ret_revision, struct vsnd_changes *ret,
			  uint64_t *ret_rollout, struct vsn_api_err *err);
/* How many entries of one kind of a node's set an apply adds, removes and changes. */
struct vsnd_count3 {
	size_t added, removed, changed;
};

struct vsnd_node_diff {
	char *node;
	struct vsnd_count3 policies, slbs, pools;
};

/*
 * What applying next would change, without changing anything: the nodes whose set would
 * change, with counts (*ret: free each node and the array).
 */
int vsnd_control_diff_nodes(struct vsnd_control *c, const struct vsn_state *next,
			    struct vsnd_node_diff **ret, size_t *ret_n, struct vsn_api_err *err);
/* How long node has not run its desired generation (0: it does), in ms. */
double vsnd_control_lag_ms(struct vsnd_control *c, const char *node, uint64_t desired,
			   uint64_t running);
/* An operator's drain (drain true) or undrain of an SLB by name: at once on every node. */
int vsnd_control_drain(struct vsnd_control *c, const char *slb, bool drain, const char *author,
		       bool *ret_changed, struct vsn_api_err *err);
bool vsnd_control_drained(const struct vsnd_control *c, const char *slb);
/*
 * Pin a service to one of its configurations (configuration NULL: unpin): pushed to every node
 * of the service at once, recorded as an event, kept across applies while the document has that
 * configuration.
 */
int vsnd_control_pin(struct vsnd_control *c, const char *service, const char *configuration,
		     const char *author, struct vsnd_changes *ret, struct vsn_api_err *err);
/* The configuration service runs now and why (a sentence into why). */
const struct vsn_state_config *vsnd_control_active(const struct vsnd_control *c,
						   const struct vsn_state_service *vs,
						   const struct vsnd_pin **ret_pin);
/* Record a node event of libvsnctl (the store's events, the metrics). */
void vsnd_control_on_event(struct vsnd_control *c, const struct vsn_ctl_event *ev);
void vsnd_changes_free(struct vsnd_changes *ch);
/* Parse text into *ret, or fill err (400 with every error's position). */
int vsnd_control_parse(const char *text, size_t len, const char *name, struct vsn_state **ret,
		       struct vsn_api_err *err);

/* Whether node is connected now. */
bool vsnd_control_node_connected(struct vsnd_control *c, const char *node);
/*
 * Compile every node's set with the active configurations now, store and push the changed
 * ones: as a two-phase rollout when several connected nodes change (unless --one-phase), else
 * at once. While a rollout runs, the push waits for it (-EBUSY; the next evaluation does it).
 * *ret (may be NULL): the nodes and generations that changed.
 */
int vsnd_switch_push(struct vsnd_control *c, struct vsnd_changes *ret);
/* An event into the store (takes detail). */
void vsnd_control_event(struct vsnd_control *c, const char *type, const char *subject,
			json_t *detail);

/* switch_acks.c */
/* One switch decided: a `configuration` event once every node it changed acknowledged. */
struct vsnd_switch_note {
	char *service, *from, *to, *when, *values, *why;
};
/*
 * Wait for the nodes and generations of ch to be acknowledged, then record each of notes
 * (taken, n of them, even on error) as an event with the time that took.
 */
int vsnd_acks_begin(struct vsnd_control *c, const struct vsnd_changes *ch,
		    struct vsnd_switch_note *notes, size_t n);
/* An Ack, Nack or disconnection of a node (from vsnd_control_on_event). */
void vsnd_acks_on_event(struct vsnd_control *c, const struct vsn_ctl_event *ev);
/* Record the switches whose nodes did not all answer within VSND_ACK_WAIT_MS. */
void vsnd_acks_expire(struct vsnd_control *c);
void vsnd_acks_free(struct vsnd_control *c);
#define VSND_ACK_WAIT_MS 30000

/* switching.c */
struct vsnd_svc_rt;
/* The document in force changed: rebuild each service's evaluation state (timers carried). */
int vsnd_switch_rebuild(struct vsnd_control *c);
/* Evaluate every service's conditions, select, and switch those whose selection changed. */
void vsnd_switch_tick(struct vsnd_control *c);
void vsnd_switch_free(struct vsnd_control *c);
/* The configuration conditions selected for service (NULL: none yet), and why. */
const char *vsnd_switch_active(const struct vsnd_control *c, const char *service,
			       const char **ret_why);

/* api_ops.c */
/*
 * The state the sets give slb: a probe's down wins over everything; then the document's
 * down or drain; then an operator's drain; else up.
 */
enum vsn_slb_state vsnd_control_slb_state(const struct vsnd_control *c,
					  const struct vsn_state_slb *slb);
/* SlbState state to every node for each id slb has, in one round trip (before the sets). */
void vsnd_control_broadcast_state(struct vsnd_control *c, const struct vsn_state_slb *slb,
				  enum vsn_slb_state state);
/* The event slb-health {from, to, reason} of slb. */
void vsnd_control_event_slb_health(struct vsnd_control *c, const char *slb, const char *from,
				   const char *to, const char *reason);

/* health.c: the prober and scraper, set from c->st (created on the first call). */
struct vsnd_health;
struct vsn_load_status;
int vsnd_health_rebuild(struct vsnd_control *c);
void vsnd_health_free(struct vsnd_control *c);
/* slb's probe state: VSN_HEALTH_UNKNOWN without health: or before its first result. */
int vsnd_health_of(const struct vsnd_control *c, const char *slb);
/* slb's probe as it stands; -ENOENT without health:. */
struct vsn_probe_status;
int vsnd_probe_of(const struct vsnd_control *c, const char *slb, struct vsn_probe_status *ret);
/* slb's latest load; -ENOENT without load:. */
int vsnd_load_of(const struct vsnd_control *c, const char *slb, struct vsn_load_status *ret);

extern const struct vsn_api_ops vsnd_api_ops;

/* metrics.c */
void vsnd_hist_add(struct vsnd_hist *h, double seconds);
void vsnd_metrics_nack(struct vsnd_metrics *m, const char *node);
void vsnd_metrics_free(struct vsnd_metrics *m);
int vsnd_metrics_write(struct vsnd_control *c, FILE *out);

#endif /* VSND_CONTROL_H */
