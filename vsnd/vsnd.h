/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vsnd, the controller (docs/vsnd.md), in static mode: it serves policy sets read from files
 * to the nodes that connect, through libvsnctl.
 *
 *   main.c    the recipe: options, first load, serve
 *   opts.c    the command line and --help
 *   sets.c    policy files -> sets; what a reload changes
 *   serve.c   the event loop: the controller, signals, reloads, rollouts
 *   events.c  one log line per controller event and rollout result
 *   control.c, api_ops.c, metrics.c: controller mode (control.h)
 */
#ifndef VSND_H
#define VSND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "ctl.h"
#include "log.h"
#include "vsn_dp.h"

#define VSND_DEFAULT_PREPARE_TIMEOUT_MS 10000u
/* Most bytes of one policy file. */
#define VSND_FILE_MAX (1u << 30)

struct vsnd_node_set {
	const char *node;
	const char *path;
};

struct vsnd_opts {
	const char *listen;
	const char *ca, *cert, *key;
	const char *set_path; /* NULL: nodes without --node-set get nothing */
	struct vsnd_node_set *node_sets;
	size_t n_node_sets;
	bool two_phase;
	unsigned int prepare_timeout_ms;
	unsigned int rollout_timeout_ms;
	enum vsn_log_format log_format;
	enum vsn_log_level log_level;
	/* Controller mode (docs/controller.md). */
	const char *db;
	const char *api;
	const char *tokens;
	bool one_phase;
	uint32_t max_policies, max_services, max_slbs;
	unsigned int eval_interval_ms; /* conditions evaluated this often (default 500) */
	unsigned int dwell_ms;	       /* the minimum dwell (default 10000) */
};

struct vsnd_slb {
	uint32_t id;
	enum vsn_slb_state state;
	int line;
};

/* One policy file, loaded. */
struct vsnd_file {
	char *path;
	struct vsn_ctl_set *set;
	bool from_mtime; /* generation from the modification time */
	size_t n_policies, n_slbs, n_pools;
	struct vsnd_slb *slbs;
	/* Line of each entry as Nack.bad_entry counts them: policies, SLBs, pools. */
	int *lines;
};

/* Everything the command line names, loaded: each distinct file once. */
struct vsnd_sets {
	struct vsnd_file *files;
	size_t n_files;
	struct vsnd_file *def;	     /* --set, or NULL */
	struct vsnd_file **per_node; /* the file of --node-set i */
};

struct vsnd {
	struct vsnd_opts o;
	struct event_base *base;
	SSL_CTX *ssl;
	struct vsn_ctl *ctl;
	struct vsnd_sets sets;
	struct event *sig_hup, *sig_term, *sig_int;
	bool rollout_running;
	bool reload_pending;
	struct vsnd_control *control; /* controller mode (--db) */
};

/* opts.c: 0, 1 when --help was printed, or -EINVAL (the reason printed on stderr). */
int vsnd_opts_parse(int argc, char **argv, struct vsnd_opts *o);
void vsnd_opts_free(struct vsnd_opts *o);

/* sets.c */
/* Load every file o names; on error *err says FILE:LINE[:COLUMN]: why, and *ret is untouched. */
int vsnd_sets_load(const struct vsnd_opts *o, struct vsnd_sets *ret, char *err, size_t errlen);
void vsnd_sets_free(struct vsnd_sets *s);
/*
 * Check next against prev (the sets served until now): a file whose set changed must have a
 * generation above its previous one. Sets that did not change are taken over from prev, so the
 * controller sees the same set. -EINVAL with *err.
 */
int vsnd_sets_diff(struct vsnd_sets *next, const struct vsnd_sets *prev, char *err, size_t errlen);
/* The state of SLB id in s; false when no file defines it. */
bool vsnd_sets_slb_state(const struct vsnd_sets *s, uint32_t id, enum vsn_slb_state *ret);
/* The set node gets: its --node-set file's, else --set's, else NULL. */
struct vsnd_file *vsnd_sets_for_node(const struct vsnd *d, const char *node);
/* "FILE:LINE" of entry bad_entry (1-based, as Nack counts) of the set of generation gen. */
bool vsnd_sets_entry(const struct vsnd_sets *s, uint64_t gen, uint64_t bad_entry, char *buf,
		     size_t sz);

/* serve.c: run until SIGTERM or SIGINT. 0, or -errno when it could not start. */
int vsnd_serve(struct vsnd *d);
/* A rollout ended: run a reload that waited for it. */
void vsnd_rollout_done(struct vsnd *d);

/* control.c: controller mode (control.h) */
int vsnd_control_start(struct vsnd *d);
void vsnd_control_stop(struct vsnd *d);
/* SIGHUP in controller mode: the API's tokens and certificate. */
void vsnd_control_reload(struct vsnd *d);

/* events.c */
void vsnd_on_event(const struct vsn_ctl_event *ev, void *arg);
void vsnd_on_rollout(const struct vsn_ctl_rollout_result *res, void *arg);

#endif /* VSND_H */
