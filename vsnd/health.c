/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SLBs' health and load (docs/controller.md, "Health and load"): a prober and a scraper
 * (libvsnprobe) on vsnd's loop, set from the document in force after every apply, revert and
 * start. A probe's change to down (or back up) goes to the nodes at once as SlbState, then into
 * the sets (an SLB found down is down in them, whatever the document says), then an event
 * `slb-health`, then an evaluation of every condition so that a failover does not wait for the
 * next evaluation interval.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control.h"
#include "vsn_probe.h"
#include "vsn_scrape.h"
#include "vsnd.h"

struct vsnd_health {
	struct vsn_prober *prober;
	struct vsn_scraper *scraper;
	/* The names set in each, to remove those the next document no longer has. */
	char **probes, **scrapes;
	size_t n_probes, n_scrapes;
};

static void on_probe(struct vsn_prober *p, const struct vsn_probe_change *ch, void *arg)
{
	struct vsnd_control *c = arg;
	const struct vsn_state_slb *slb = c->st ? vsn_state_slb_find(c->st, ch->name) : NULL;
	bool to_nodes;

	log_info("slb-health", "slb=%s target=%s from=%s to=%s reason=\"%s\"", ch->name, ch->target,
		 vsn_health_name(ch->old_state), vsn_health_name(ch->new_state), ch->reason);
	if (!slb)
		return;
	/* Unknown to up changes nothing the nodes have: the sets say up until a probe says down. */
	to_nodes = ch->new_state == VSN_HEALTH_DOWN || ch->old_state == VSN_HEALTH_DOWN;
	/* The state reaches every node at once, in one round trip, before any set. */
	if (to_nodes && !c->rollout_running)
		vsnd_control_broadcast_state(c, slb, vsnd_control_slb_state(c, slb));
	vsnd_control_event_slb_health(c, slb->name, vsn_health_name(ch->old_state),
				      vsn_health_name(ch->new_state), ch->reason);
	/*
	 * Conditions first: a switch it causes is pushed with the SLB's new state in one set,
	 * rather than a set with the state, then another with the switch. What is left (no
	 * switch) goes out here.
	 */
	vsnd_switch_tick(c);
	if (to_nodes)
		vsnd_switch_push(c, NULL); /* after the rollout, if one runs */
}

static int names_set(char ***v, size_t *n, const char *name)
{
	char **nv = realloc(*v, (*n + 1) * sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[*n] = strdup(name);
	if (!nv[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}

static void names_clear(char ***v, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free((*v)[i]);
	free(*v);
	*v = NULL;
	*n = 0;
}

static int set_probe(struct vsnd_health *h, const struct vsn_state_slb *slb)
{
	const struct vsn_state_health *hc = &slb->health;
	char addr[VSN_ADDR_STRLEN], target[VSN_ADDR_STRLEN + 10];
	struct vsn_probe_opts o = {
		.sz = sizeof(o),
		.name = slb->name,
		.target = target,
		.kind = hc->kind,
		.path = hc->path,
		.expect = hc->expect,
		.host = hc->host,
		.ca_file = hc->ca,
		.interval_ms = hc->interval_ms,
		.timeout_ms = hc->timeout_ms,
		.rise = hc->rise,
		.fall = hc->fall,
	};
	struct vsn_probe_err err = {""};
	int r;

	vsn_addr_format(&slb->addr, addr, sizeof(addr));
	snprintf(target, sizeof(target), slb->addr.family == AF_INET6 ? "[%s]:%u" : "%s:%u", addr,
		 hc->port);
	r = vsn_prober_set(h->prober, &o, &err);
	if (r)
		log_err("slb-health", "slb=%s probe not set: %s", slb->name, err.msg);
	return r;
}

static int set_scrape(struct vsnd_health *h, const struct vsn_state_slb *slb)
{
	const struct vsn_state_load *l = &slb->load;
	struct vsn_load_opts o = {
		.sz = sizeof(o),
		.name = slb->name,
		.kind = l->kind,
		.url = l->url,
		.host = l->host,
		.ca_file = l->ca,
		.proxy = l->proxy,
		.server = l->server,
		.metric = l->metric,
		.max = l->max,
		.interval_ms = l->interval_ms,
		.timeout_ms = l->timeout_ms,
	};
	struct vsn_probe_err err = {""};
	int r = vsn_scraper_set(h->scraper, &o, &err);

	if (r)
		log_err("slb-load", "slb=%s scrape not set: %s", slb->name, err.msg);
	return r;
}

int vsnd_health_rebuild(struct vsnd_control *c)
{
	struct vsnd_health *h = c->health;
	const struct vsn_state *st = c->st;
	char **probes = NULL, **scrapes = NULL;
	size_t n_probes = 0, n_scrapes = 0;
	int r = 0;

	if (!h) {
		h = calloc(1, sizeof(*h));
		if (!h)
			return -ENOMEM;
		c->health = h;
		r = vsn_prober_new(c->d->base, on_probe, c, &h->prober);
		if (!r)
			r = vsn_scraper_new(c->d->base, NULL, NULL, &h->scraper);
		if (r)
			return r;
	}
	/* Set (add or replace) what the document has; a probe that fails to set stays unknown. */
	for (size_t i = 0; st && i < st->n_slbs && r != -ENOMEM; i++) {
		const struct vsn_state_slb *slb = &st->slbs[i];

		if (slb->health.kind && !set_probe(h, slb))
			r = names_set(&probes, &n_probes, slb->name);
		if (slb->load.kind && !set_scrape(h, slb) && r != -ENOMEM)
			r = names_set(&scrapes, &n_scrapes, slb->name);
	}
	/* Remove what it no longer has. */
	for (size_t i = 0; i < h->n_probes; i++) {
		size_t j = 0;

		while (j < n_probes && strcmp(probes[j], h->probes[i]))
			j++;
		if (j == n_probes)
			vsn_prober_remove(h->prober, h->probes[i]);
	}
	for (size_t i = 0; i < h->n_scrapes; i++) {
		size_t j = 0;

		while (j < n_scrapes && strcmp(scrapes[j], h->scrapes[i]))
			j++;
		if (j == n_scrapes)
			vsn_scraper_remove(h->scraper, h->scrapes[i]);
	}
	names_clear(&h->probes, &h->n_probes);
	names_clear(&h->scrapes, &h->n_scrapes);
	h->probes = probes;
	h->n_probes = n_probes;
	h->scrapes = scrapes;
	h->n_scrapes = n_scrapes;
	return r;
}

int vsnd_probe_of(const struct vsnd_control *c, const char *slb, struct vsn_probe_status *ret)
{
	if (!c->health)
		return -ENOENT;
	return vsn_prober_get(c->health->prober, slb, ret);
}

int vsnd_health_of(const struct vsnd_control *c, const char *slb)
{
	struct vsn_probe_status s;

	if (vsnd_probe_of(c, slb, &s))
		return VSN_HEALTH_UNKNOWN;
	return s.state;
}

int vsnd_load_of(const struct vsnd_control *c, const char *slb, struct vsn_load_status *ret)
{
	if (!c->health)
		return -ENOENT;
	return vsn_scraper_get(c->health->scraper, slb, ret);
}

void vsnd_health_free(struct vsnd_control *c)
{
	struct vsnd_health *h = c->health;

	if (!h)
		return;
	vsn_prober_free(h->prober);
	vsn_scraper_free(h->scraper);
	names_clear(&h->probes, &h->n_probes);
	names_clear(&h->scrapes, &h->n_scrapes);
	free(h);
	c->health = NULL;
}
