/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "traffic.h"

/* One node's view of one service. */
struct flow_rate {
	uint32_t service_id;
	uint64_t packets, bytes; /* the last cumulative counters */
	uint64_t at_ms;
	bool has_rate;
	double pps, bps; /* smoothed */
};

struct node_rates {
	char *node;
	struct flow_rate *r;
	size_t n;
};

struct vsn_traffic {
	double tau_ms;
	struct node_rates *nodes;
	size_t n_nodes;
};

int vsn_traffic_new(unsigned int tau_ms, struct vsn_traffic **ret)
{
	struct vsn_traffic *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->tau_ms = tau_ms ? tau_ms : VSN_TRAFFIC_DEFAULT_TAU_MS;
	*ret = t;
	return 0;
}

static void node_free(struct node_rates *n)
{
	free(n->node);
	free(n->r);
}

void vsn_traffic_free(struct vsn_traffic *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_nodes; i++)
		node_free(&t->nodes[i]);
	free(t->nodes);
	free(t);
}

static struct node_rates *node_get(struct vsn_traffic *t, const char *node, bool create)
{
	struct node_rates *v;

	for (size_t i = 0; i < t->n_nodes; i++)
		if (!strcmp(t->nodes[i].node, node))
			return &t->nodes[i];
	if (!create)
		return NULL;
	v = realloc(t->nodes, (t->n_nodes + 1) * sizeof(*v));
	if (!v)
		return NULL;
	t->nodes = v;
	v = &t->nodes[t->n_nodes];
	memset(v, 0, sizeof(*v));
	v->node = strdup(node);
	if (!v->node)
		return NULL;
	t->n_nodes++;
	return v;
}

static struct flow_rate *rate_get(struct node_rates *n, uint32_t id)
{
	for (size_t i = 0; i < n->n; i++)
		if (n->r[i].service_id == id)
			return &n->r[i];
	return NULL;
}

int vsn_traffic_update(struct vsn_traffic *t, const char *node, uint64_t now_ms,
		       const struct vsn_ctl_counter *services, size_t n)
{
	struct node_rates *nr = node_get(t, node, true);
	struct flow_rate *next;

	if (!nr)
		return -ENOMEM;
	/* The services the node reports now; those it stopped reporting go. */
	next = calloc(n + 1, sizeof(*next));
	if (!next)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct vsn_ctl_counter *c = &services[i];
		const struct flow_rate *old = rate_get(nr, c->id);
		struct flow_rate *r = &next[i];

		r->service_id = c->id;
		r->packets = c->packets;
		r->bytes = c->bytes;
		r->at_ms = now_ms;
		if (!old)
			continue;
		r->has_rate = old->has_rate;
		r->pps = old->pps;
		r->bps = old->bps;
		/* A counter that went down, or no time passed: no sample. */
		if (c->packets < old->packets || c->bytes < old->bytes || now_ms <= old->at_ms)
			continue;
		double dt = (double)(now_ms - old->at_ms);
		double pps = (double)(c->packets - old->packets) * 1000.0 / dt;
		double bps = (double)(c->bytes - old->bytes) * 8000.0 / dt;

		if (!r->has_rate) {
			r->pps = pps;
			r->bps = bps;
			r->has_rate = true;
		} else {
			double w = 1.0 - exp(-dt / t->tau_ms);

			r->pps += w * (pps - r->pps);
			r->bps += w * (bps - r->bps);
		}
	}
	free(nr->r);
	nr->r = next;
	nr->n = n;
	return 0;
}

void vsn_traffic_forget(struct vsn_traffic *t, const char *node)
{
	for (size_t i = 0; i < t->n_nodes; i++)
		if (!strcmp(t->nodes[i].node, node)) {
			node_free(&t->nodes[i]);
			t->nodes[i] = t->nodes[--t->n_nodes];
			return;
		}
}

int vsn_traffic_rate(const struct vsn_traffic *t, uint32_t service_id, double *ret_pps,
		     double *ret_bps)
{
	double pps = 0, bps = 0;
	bool known = false;

	for (size_t i = 0; i < t->n_nodes; i++) {
		const struct flow_rate *r = rate_get(&t->nodes[i], service_id);

		if (r && r->has_rate) {
			pps += r->pps;
			bps += r->bps;
			known = true;
		}
	}
	if (!known)
		return -ENOENT;
	*ret_pps = pps;
	*ret_bps = bps;
	return 0;
}
