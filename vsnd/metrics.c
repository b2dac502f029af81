/* SPDX-License-Identifier: Apache-2.0 */
/* vsnd's Prometheus metrics (docs/controller.md, "Metrics"), in the text exposition format. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "vsnd.h"

/* Seconds: from a quarter of a millisecond (a loopback Ack) to ten seconds. */
static const double bounds[VSND_HIST_BUCKETS] = {0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
						 0.025,	  0.05,	  0.1,	 0.25,	 1,	10};

void vsnd_hist_add(struct vsnd_hist *h, double seconds)
{
	size_t i = 0;

	while (i < VSND_HIST_BUCKETS && seconds > bounds[i])
		i++;
	h->counts[i]++;
	h->sum += seconds;
	h->n++;
}

void vsnd_metrics_nack(struct vsnd_metrics *m, const char *node)
{
	void *v;

	if (!node)
		return;
	for (size_t i = 0; i < m->n_nacks; i++)
		if (!strcmp(m->nacks[i].node, node)) {
			m->nacks[i].nacks++;
			return;
		}
	v = realloc(m->nacks, (m->n_nacks + 1) * sizeof(*m->nacks));
	if (!v)
		return;
	m->nacks = v;
	m->nacks[m->n_nacks].node = strdup(node);
	if (m->nacks[m->n_nacks].node)
		m->nacks[m->n_nacks++].nacks = 1;
}

void vsnd_metrics_free(struct vsnd_metrics *m)
{
	for (size_t i = 0; i < m->n_nacks; i++)
		free(m->nacks[i].node);
	free(m->nacks);
	m->nacks = NULL;
	m->n_nacks = 0;
}

static void hist_write(FILE *out, const char *name, const char *help, const struct vsnd_hist *h)
{
	uint64_t cum = 0;

	fprintf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (size_t i = 0; i < VSND_HIST_BUCKETS; i++) {
		cum += h->counts[i];
		fprintf(out, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i],
			(unsigned long long)cum);
	}
	fprintf(out, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name,
		(unsigned long long)h->n, name, h->sum, name, (unsigned long long)h->n);
}

static int count_connected(const struct vsn_ctl_node_status *st, void *arg)
{
	*(size_t *)arg += st->connected;
	return 0;
}

int vsnd_metrics_write(struct vsnd_control *c, FILE *out)
{
	const struct vsnd_metrics *m = &c->m;
	size_t connected = 0;

	fprintf(out,
		"# HELP vsn_applies_total Documents applied (each a new revision).\n"
		"# TYPE vsn_applies_total counter\nvsn_applies_total %llu\n"
		"# HELP vsn_apply_errors_total Applies refused (invalid documents included).\n"
		"# TYPE vsn_apply_errors_total counter\nvsn_apply_errors_total %llu\n"
		"# HELP vsn_revision The revision in force (0: none).\n"
		"# TYPE vsn_revision gauge\nvsn_revision %llu\n",
		(unsigned long long)m->applies, (unsigned long long)m->apply_errors,
		(unsigned long long)c->revision);
	hist_write(out, "vsn_push_latency_seconds",
		   "From a set's first byte sent to its node's Ack.", &m->push_latency);
	hist_write(out, "vsn_rollout_skew_seconds",
		   "Two-phase rollouts: from the first commit Ack to the last.", &m->rollout_skew);
	fprintf(out,
		"# HELP vsn_rollouts_total Two-phase rollouts, and those aborted.\n"
		"# TYPE vsn_rollouts_total counter\nvsn_rollouts_total %llu\n"
		"# TYPE vsn_rollouts_aborted_total counter\nvsn_rollouts_aborted_total %llu\n",
		(unsigned long long)m->rollouts, (unsigned long long)m->rollouts_aborted);
	vsn_ctl_status(c->d->ctl, count_connected, &connected);
	fprintf(out,
		"# HELP vsn_nodes_connected Nodes connected now.\n"
		"# TYPE vsn_nodes_connected gauge\nvsn_nodes_connected %zu\n",
		connected);
	fprintf(out, "# HELP vsn_active_configuration 1 for each service's active configuration.\n"
		     "# TYPE vsn_active_configuration gauge\n");
	for (size_t i = 0; c->st && i < c->st->n_services; i++) {
		const struct vsn_state_service *vs = &c->st->services[i];

		fprintf(out, "vsn_active_configuration{service=\"%s\",configuration=\"%s\"} 1\n",
			vs->name, vsnd_control_active(c, vs, NULL)->name);
	}
	fprintf(out, "# HELP vsn_nacks_total Sets a node refused.\n"
		     "# TYPE vsn_nacks_total counter\n");
	for (size_t i = 0; i < m->n_nacks; i++)
		fprintf(out, "vsn_nacks_total{node=\"%s\"} %llu\n", m->nacks[i].node,
			(unsigned long long)m->nacks[i].nacks);
	return ferror(out) ? -EIO : 0;
}
