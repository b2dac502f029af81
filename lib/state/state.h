/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libvsnstate: the controller's desired-state document (docs/controller.md,
 * "The desired-state document"; every field in docs/config-reference.md),
 * parsed and checked against every rule there before anything uses it.
 * Pure: no network, no store; the only file read is a schedule's time zone.
 *
 * A parsed document is read-only. Every name is resolved: a pool's members
 * point at their SLBs, a service at its nodes, a policy at its pool or SLB.
 * Positions are 1-based line and column in the document, for errors found
 * later (compile, apply).
 */
#ifndef VSN_STATE_H
#define VSN_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "cond.h"
#include "vsn_dp.h"	/* enum vsn_forward, vsn_slb_state, vsn_on_change */
#include "vsn_scrape.h" /* enum vsn_probe_kind, vsn_load_kind, their bounds (constants only) */

/* Names of SLBs, pools, services and configurations: [a-z0-9][a-z0-9-]*, at most this long. */
#define VSN_STATE_NAME_MAX 63
/* Errors a parse keeps (the earliest in the document); it counts the others. */
#define VSN_STATE_MAX_ERRORS 20
#define VSN_STATE_ERROR_LEN 256

struct vsn_state_pos {
	int line, column; /* 1-based; 0 when the error is not in the text (out of memory) */
};

struct vsn_state_node {
	const char *name; /* a DNS name: the node's certificate name */
	struct vsn_state_pos pos;
};

/*
 * An SLB's `health:` (docs/config-reference.md, "health"): one probe kind and its schedule,
 * mapped one to one onto struct vsn_probe_opts (target: the SLB's address and port). The
 * fields the document leaves out are 0 or NULL here: the prober's defaults then (vsn_probe.h).
 */
struct vsn_state_health {
	enum vsn_probe_kind kind; /* 0: the SLB has no health: (its health is unknown) */
	uint16_t port;		  /* 1..65535; required */
	const char *path;	  /* http(s): NULL: "/" */
	uint32_t expect;	  /* http(s): 100..599; 0: 200 */
	const char *host;	  /* http(s): the Host header (https: SNI, name verified) */
	const char *ca;		  /* https: a PEM file of CAs; NULL: no verification */
	uint32_t interval_ms;	  /* 0: 1000 */
	uint32_t timeout_ms;	  /* at most the interval; 0: 500 or the interval */
	uint32_t rise, fall;	  /* 1..100; 0: 2 */
	struct vsn_state_pos pos;
};

/*
 * An SLB's `load:` (docs/config-reference.md, "load"): one scrape source, mapped onto struct
 * vsn_load_opts. Absent fields are 0 or NULL: the scraper's defaults.
 */
struct vsn_state_load {
	enum vsn_load_kind kind; /* 0: the SLB has no load: (its load is unknown) */
	const char *url;	 /* http[s]://ADDRESS[:PORT][/path], a numeric address */
	const char *proxy;	 /* haproxy_csv: the row's pxname; required */
	const char *server;	 /* haproxy_csv: the row's svname; NULL: BACKEND */
	const char *metric;	 /* prometheus: a selector name{label="value",...}; required */
	double max;	      /* nginx_status, prometheus: required, > 0; haproxy_csv: 0 or > 0 */
	const char *host;     /* the Host header; NULL: the URL's host */
	const char *ca;	      /* https: a PEM file of CAs; NULL: no verification */
	uint32_t interval_ms; /* 0: 1000 */
	uint32_t timeout_ms;  /* 0: 500 or the interval */
	struct vsn_state_pos pos;
};

struct vsn_state_slb {
	const char *name;
	struct vsn_addr addr;
	enum vsn_forward forward;	/* when a policy names the SLB itself; default l2 */
	enum vsn_slb_state state;	/* the operator's; default up */
	struct vsn_state_health health; /* kind 0 without health: */
	struct vsn_state_load load;	/* kind 0 without load: */
	struct vsn_state_pos pos;
};

struct vsn_state_member {
	const char *slb_name;
	const struct vsn_state_slb *slb;
	uint32_t weight; /* 1..65535, default 1 */
	struct vsn_state_pos pos;
};

struct vsn_state_pool {
	const char *name;
	enum vsn_forward forward; /* default l2 */
	struct vsn_state_member *members;
	size_t n_members; /* at least 1, each SLB once */
	struct vsn_state_pos pos;
};

struct vsn_state_port {
	uint8_t proto; /* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t port; /* 0: every port of proto */
	struct vsn_state_pos pos;
};

struct vsn_state_node_ref {
	const char *name;
	const struct vsn_state_node *node;
	struct vsn_state_pos pos;
};

enum vsn_state_dest_kind {
	VSN_STATE_DEST_NONE,
	VSN_STATE_DEST_POOL,
	VSN_STATE_DEST_SLB,
};

/* What a destination name resolves to: a pool or an SLB. */
struct vsn_state_dest {
	enum vsn_state_dest_kind kind;
	const struct vsn_state_pool *pool; /* VSN_STATE_DEST_POOL */
	const struct vsn_state_slb *slb;   /* VSN_STATE_DEST_SLB */
};

struct vsn_state_policy {
	bool has_clients;
	struct vsn_addr clients; /* with has_clients: a prefix of the VIP's family */
	unsigned int clients_plen;
	const char *destination;
	struct vsn_state_dest dest;
	struct vsn_state_pos pos, clients_pos, destination_pos;
};

struct vsn_state_config {
	const char *name;
	uint32_t priority;     /* default 0 */
	const char *when;      /* the condition as written; NULL: the default configuration */
	struct vsn_cond *cond; /* the parsed when; NULL without */
	struct vsn_state_policy *policies;
	size_t n_policies;		    /* exactly one without clients */
	struct vsn_state_pos pos, when_pos; /* when_pos: the condition text's first character */
};

struct vsn_state_service {
	const char *name;
	struct vsn_addr vip;
	unsigned int vip_plen;	      /* the family's full length (32, 128) for one address */
	struct vsn_state_port *ports; /* default tcp and udp (every port) */
	size_t n_ports;
	bool nodes_given; /* false: the service runs on every node of the document */
	struct vsn_state_node_ref *nodes; /* as given; empty when not given */
	size_t n_nodes;
	enum vsn_on_change on_change; /* default preserve */
	struct vsn_state_config *configs;
	size_t n_configs;
	const struct vsn_state_config *default_config; /* the one without when */
	struct vsn_state_pos pos, vip_pos;
};

struct vsn_state_settings {
	uint32_t maglev_size; /* a prime; default VSN_MAGLEV_DEFAULT_SIZE */
	uint32_t hash_seed;   /* default 0 */
};

struct vsn_state_priv;

struct vsn_state {
	struct vsn_state_settings settings;
	struct vsn_state_node *nodes;
	size_t n_nodes;
	struct vsn_state_slb *slbs;
	size_t n_slbs;
	struct vsn_state_pool *pools;
	size_t n_pools;
	struct vsn_state_service *services;
	size_t n_services;
	size_t n_configs;	     /* of every service */
	struct vsn_state_priv *priv; /* memory and name indexes */
};

struct vsn_state_error {
	struct vsn_state_pos pos;
	char msg[VSN_STATE_ERROR_LEN]; /* without the NAME:LINE:COLUMN: prefix */
};

struct vsn_state_errors {
	const char *name; /* the name given to vsn_state_parse(), not copied */
	size_t n;	  /* kept in e[], in document order */
	size_t total;	  /* found; above n when more than VSN_STATE_MAX_ERRORS */
	struct vsn_state_error e[VSN_STATE_MAX_ERRORS];
};

/*
 * Parse and check text (len bytes, need not end in a NUL) named name into a
 * new *ret, freed with vsn_state_free(). Returns 0; -EINVAL with the errors
 * in *errs (as many as VSN_STATE_MAX_ERRORS, the earliest in the text); or
 * -ENOMEM. *ret is untouched on failure. errs may be NULL.
 */
int vsn_state_parse(const char *name, const char *text, size_t len, struct vsn_state **ret,
		    struct vsn_state_errors *errs);
void vsn_state_free(struct vsn_state *st);

/*
 * Error i (below errs->n) as "NAME:LINE:COLUMN: message" ("NAME: message"
 * without a position) into buf, as snprintf() does.
 */
int vsn_state_errors_format(const struct vsn_state_errors *errs, size_t i, char *buf, size_t len);

/* Look a name up (O(log n)); NULL when the document defines none. */
const struct vsn_state_node *vsn_state_node_find(const struct vsn_state *st, const char *name);
const struct vsn_state_slb *vsn_state_slb_find(const struct vsn_state *st, const char *name);
const struct vsn_state_pool *vsn_state_pool_find(const struct vsn_state *st, const char *name);
const struct vsn_state_service *vsn_state_service_find(const struct vsn_state *st,
						       const char *name);
/* A service's configuration by name, or NULL. */
const struct vsn_state_config *vsn_state_config_find(const struct vsn_state_service *vs,
						     const char *name);

/*
 * What a destination name names: a pool or an SLB. -ENOENT when neither,
 * -EINVAL when both (a checked document has no policy naming such a name).
 */
int vsn_state_resolve(const struct vsn_state *st, const char *name, struct vsn_state_dest *ret);

#endif /* VSN_STATE_H */
