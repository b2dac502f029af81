/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Automatic switching (docs/conditions.md): every evaluation interval, each configuration's
 * `when` is evaluated against the signals the controller has (libvsneval), and each service's
 * active configuration is selected (pin, then the highest priority that holds, else the
 * default; the dwell holds returns back). A service whose active configuration changes gets
 * its nodes' sets compiled and pushed, and a `configuration` event says from what to what and
 * why, with the values that made the condition true.
 *
 * Signals: schedules (the wall clock), node_up (connected nodes), traffic (the nodes' Stats),
 * healthy() and healthy_count() from the probes, load() from the scrapes (health.c). An SLB
 * without `health:` has an unknown health, one without `load:` an unknown load; so has one
 * before its first result. A pool's healthy_count is unknown while any member's health is; its
 * load is the weighted mean of its members' loads, failed when any member's is, else unknown
 * when any member's is (docs/conditions.md, "Signals"). Unknown is never true.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control.h"
#include "eval.h"
#include "vsn_scrape.h"
#include "vsnd.h"

/* The state of one service between evaluations. */
struct vsnd_svc_rt {
	char *service;
	char *active; /* NULL before the first selection */
	uint64_t last_switch_ms;
	size_t n;
	struct vsn_cond_state **states; /* per configuration; NULL for the default */
	char why[256];			/* the last selection's reason */
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void rt_free_one(struct vsnd_svc_rt *r)
{
	for (size_t i = 0; i < r->n; i++)
		vsn_cond_state_free(r->states[i]);
	free(r->states);
	free(r->service);
	free(r->active);
}

void vsnd_switch_free(struct vsnd_control *c)
{
	for (size_t i = 0; i < c->n_rt; i++)
		rt_free_one(&c->rt[i]);
	free(c->rt);
	c->rt = NULL;
	c->n_rt = 0;
}

static struct vsnd_svc_rt *rt_find(struct vsnd_svc_rt *v, size_t n, const char *service)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].service, service))
			return &v[i];
	return NULL;
}

const char *vsnd_switch_active(const struct vsnd_control *c, const char *service,
			       const char **ret_why)
{
	struct vsnd_svc_rt *r = rt_find(c->rt, c->n_rt, service);

	if (ret_why)
		*ret_why = r && r->why[0] ? r->why : NULL;
	return r ? r->active : NULL;
}

/*
 * The document in force changed: a state per configuration of every service, carrying over
 * what a configuration whose `when` stayed the same had (its `for` timers), and each service's
 * active configuration while the document still has it.
 */
int vsnd_switch_rebuild(struct vsnd_control *c)
{
	const struct vsn_state *st = c->st;
	struct vsnd_svc_rt *next;
	size_t n = st ? st->n_services : 0;
	int r = 0;

	next = calloc(n + 1, sizeof(*next));
	if (!next)
		return -ENOMEM;
	for (size_t i = 0; i < n && !r; i++) {
		const struct vsn_state_service *vs = &st->services[i];
		struct vsnd_svc_rt *old = rt_find(c->rt, c->n_rt, vs->name);
		struct vsnd_svc_rt *nr = &next[i];

		nr->service = strdup(vs->name);
		nr->states = calloc(vs->n_configs + 1, sizeof(*nr->states));
		nr->n = vs->n_configs;
		nr->last_switch_ms = old ? old->last_switch_ms : VSN_SELECT_NEVER;
		if (old && old->active && vsn_state_config_find(vs, old->active))
			nr->active = strdup(old->active);
		if (!nr->service || !nr->states) {
			r = -ENOMEM;
			break;
		}
		for (size_t k = 0; k < vs->n_configs && !r; k++) {
			const struct vsn_state_config *cfg = &vs->configs[k];

			if (!cfg->cond)
				continue;
			r = vsn_cond_state_new(cfg->cond, &nr->states[k]);
			/* The same `when` keeps its timers; another starts afresh (-ESTALE). */
			for (size_t j = 0; !r && old && j < old->n; j++)
				if (old->states[j] &&
				    !vsn_cond_state_carry(nr->states[k], old->states[j]))
					break;
		}
	}
	if (r) {
		for (size_t i = 0; i < n; i++)
			rt_free_one(&next[i]);
		free(next);
		return r;
	}
	vsnd_switch_free(c);
	c->rt = next;
	c->n_rt = n;
	return 0;
}

/* The signals the controller has. */
static enum vsn_tri sig_node_up(void *arg, const char *node)
{
	struct vsnd_control *c = arg;
	bool connected = false;

	for (size_t i = 0; c->st && i < c->st->n_nodes; i++)
		if (!strcmp(c->st->nodes[i].name, node))
			connected = vsnd_control_node_connected(c, node);
	return connected ? VSN_TRI_TRUE : VSN_TRI_FALSE;
}

static struct vsn_reading sig_traffic(void *arg, const char *vs, bool bits)
{
	struct vsnd_control *c = arg;
	struct vsn_reading rd = {.state = VSN_READING_UNKNOWN};
	double pps, bps;
	uint32_t id;

	if (!vsn_db_id_get(c->db, VSN_DB_ID_SERVICE, vs, &id) &&
	    !vsn_traffic_rate(c->traffic, id, &pps, &bps)) {
		rd.state = VSN_READING_OK;
		rd.value = bits ? bps : pps;
	}
	return rd;
}

static enum vsn_tri sig_healthy(void *arg, const char *slb)
{
	switch (vsnd_health_of(arg, slb)) {
	case VSN_HEALTH_UP:
		return VSN_TRI_TRUE;
	case VSN_HEALTH_DOWN:
		return VSN_TRI_FALSE;
	default:
		return VSN_TRI_UNKNOWN;
	}
}

static struct vsn_reading sig_healthy_count(void *arg, const char *pool)
{
	struct vsnd_control *c = arg;
	const struct vsn_state_pool *p = c->st ? vsn_state_pool_find(c->st, pool) : NULL;
	struct vsn_reading rd = {.state = VSN_READING_UNKNOWN};
	size_t up = 0;

	if (!p)
		return rd;
	for (size_t i = 0; i < p->n_members; i++) {
		enum vsn_tri t = sig_healthy(c, p->members[i].slb_name);

		if (t == VSN_TRI_UNKNOWN)
			return rd;
		up += t == VSN_TRI_TRUE;
	}
	rd.state = VSN_READING_OK;
	rd.value = (double)up;
	return rd;
}

static struct vsn_reading slb_load(struct vsnd_control *c, const char *slb)
{
	struct vsn_reading rd = {.state = VSN_READING_UNKNOWN};
	struct vsn_load_status ls;

	if (vsnd_load_of(c, slb, &ls) || ls.state == VSN_LOAD_UNKNOWN)
		return rd;
	if (ls.state == VSN_LOAD_FAILED) {
		rd.state = VSN_READING_FAILED;
		return rd;
	}
	rd.state = VSN_READING_OK;
	rd.value = ls.load;
	return rd;
}

static struct vsn_reading sig_load(void *arg, enum vsn_cond_ref_kind kind, const char *name)
{
	struct vsnd_control *c = arg;
	const struct vsn_state_pool *p;
	struct vsn_reading rd = {.state = VSN_READING_UNKNOWN};
	double sum = 0, weights = 0;
	bool unknown = false;

	if (kind == VSN_COND_REF_SLB)
		return slb_load(c, name);
	p = c->st ? vsn_state_pool_find(c->st, name) : NULL;
	if (!p)
		return rd;
	/* The weighted mean of the members' loads: one failed member fails it. */
	for (size_t i = 0; i < p->n_members; i++) {
		struct vsn_reading m = slb_load(c, p->members[i].slb_name);

		if (m.state == VSN_READING_FAILED) {
			rd.state = VSN_READING_FAILED;
			return rd;
		}
		unknown |= m.state == VSN_READING_UNKNOWN;
		sum += m.value * p->members[i].weight;
		weights += p->members[i].weight;
	}
	if (unknown || !weights)
		return rd;
	rd.state = VSN_READING_OK;
	rd.value = sum / weights;
	return rd;
}

/* Whether every SLB that configuration i of the service uses is known down. */
struct failed_arg {
	struct vsnd_control *c;
	const struct vsn_state_service *vs;
};

static bool slb_down(struct vsnd_control *c, const struct vsn_state_slb *slb)
{
	return slb && vsnd_health_of(c, slb->name) == VSN_HEALTH_DOWN;
}

static bool sig_destinations_failed(void *arg, size_t i)
{
	struct failed_arg *fa = arg;
	const struct vsn_state_config *cfg = &fa->vs->configs[i];

	for (size_t k = 0; k < cfg->n_policies; k++) {
		const struct vsn_state_dest *d = &cfg->policies[k].dest;

		if (d->kind == VSN_STATE_DEST_SLB && !slb_down(fa->c, d->slb))
			return false;
		for (size_t m = 0; d->kind == VSN_STATE_DEST_POOL && m < d->pool->n_members; m++)
			if (!slb_down(fa->c, d->pool->members[m].slb))
				return false;
	}
	return cfg->n_policies > 0;
}

static int64_t sig_wall_ms(void *arg)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One service: evaluate its conditions and select. *ret_switched: its active one changed. */
static int evaluate(struct vsnd_control *c, const struct vsn_state_service *vs,
		    struct vsnd_svc_rt *r, uint64_t now, bool *ret_switched, char **ret_from)
{
	const struct vsn_eval_signals sig = {
		.arg = c,
		.healthy = sig_healthy,
		.node_up = sig_node_up,
		.healthy_count = sig_healthy_count,
		.load = sig_load,
		.traffic = sig_traffic,
		.wall_ms = sig_wall_ms,
	};
	struct vsn_select_config *cf = calloc(vs->n_configs + 1, sizeof(*cf));
	struct vsn_select_input in = {
		.configs = cf,
		.n = vs->n_configs,
		.active = VSN_SELECT_NONE,
		.pinned = VSN_SELECT_NONE,
		.now_ms = now,
		.last_switch_ms = r->last_switch_ms,
		.dwell_ms = c->d->o.dwell_ms ? c->d->o.dwell_ms : VSN_SELECT_DWELL_MS,
		.destinations_failed = sig_destinations_failed,
	};
	struct failed_arg fa = {c, vs};
	const struct vsnd_pin *pin = NULL;
	struct vsn_select_result res;
	int rc = 0;

	in.arg = &fa;
	*ret_switched = false;
	if (!cf)
		return -ENOMEM;
	vsnd_control_active(c, vs, &pin);
	for (size_t k = 0; k < vs->n_configs && !rc; k++) {
		const struct vsn_state_config *cfg = &vs->configs[k];

		cf[k].name = cfg->name;
		cf[k].priority = cfg->priority;
		cf[k].is_default = cfg == vs->default_config;
		if (cfg->cond && r->states[k])
			rc = vsn_cond_eval(cfg->cond, &sig, now, r->states[k], &cf[k].holds, NULL);
		if (r->active && !strcmp(r->active, cfg->name))
			in.active = k;
		if (pin && !strcmp(pin->configuration, cfg->name))
			in.pinned = k;
	}
	if (!rc)
		rc = vsn_select(&in, &res);
	if (!rc && (res.switch_now || !r->active)) {
		const char *chosen = vs->configs[res.chosen].name;
		/* The first selection switches only away from the default, which the sets had. */
		char *from = r->active ? r->active : strdup(vs->default_config->name);
		char *name = strdup(chosen);

		if (!name || !from) {
			free(name);
			if (!r->active)
				free(from);
			rc = -ENOMEM;
		} else {
			*ret_switched = strcmp(from, chosen) != 0;
			if (*ret_switched)
				*ret_from = from;
			else
				free(from);
			r->active = name;
			if (*ret_switched)
				r->last_switch_ms = now;
		}
	}
	if (!rc)
		snprintf(r->why, sizeof(r->why), "%s", res.why);
	free(cf);
	return rc;
}

/* Service vs's switch from `from` (taken) as a note for its event. */
static int note_of(struct vsnd_control *c, const struct vsn_state_service *vs, char *from,
		   struct vsnd_switch_note *w)
{
	struct vsnd_svc_rt *r = &c->rt[vs - c->st->services];
	const struct vsn_state_config *to = vsn_state_config_find(vs, r->active);
	char values[512] = "";

	if (to && to->cond && r->states[to - vs->configs])
		vsn_cond_explain(to->cond, r->states[to - vs->configs], values, sizeof(values));
	log_info("configuration", "service=%s from=%s to=%s reason=\"%s\" values=\"%s\"", vs->name,
		 from ? from : "-", r->active, r->why, values);
	*w = (struct vsnd_switch_note){
		.service = strdup(vs->name),
		.from = from,
		.to = strdup(r->active),
		.when = to && to->when ? strdup(to->when) : NULL,
		.values = strdup(values),
		.why = strdup(r->why),
	};
	if (w->service && w->to && w->values && w->why)
		return 0;
	free(w->service);
	free(w->from);
	free(w->to);
	free(w->when);
	free(w->values);
	free(w->why);
	return -ENOMEM;
}

/*
 * One evaluation of every service; the switches are compiled and pushed together, and each
 * becomes an event once its nodes acknowledged (switch_acks.c).
 */
void vsnd_switch_tick(struct vsnd_control *c)
{
	const struct vsn_state *st = c->st;
	uint64_t now = mono_ms();
	struct vsnd_switch_note *notes = NULL;
	struct vsnd_changes ch = {0};
	size_t n = 0;

	if (!st || c->rollout_running)
		return; /* a rollout's result may change the document: evaluate after it */
	notes = calloc(st->n_services + 1, sizeof(*notes));
	if (!notes)
		return;
	for (size_t i = 0; i < st->n_services && i < c->n_rt; i++) {
		char *from = NULL;
		bool switched;

		if (evaluate(c, &st->services[i], &c->rt[i], now, &switched, &from) || !switched)
			continue;
		if (!note_of(c, &st->services[i], from, &notes[n]))
			n++;
		else
			log_err("configuration", "service=%s: no event (out of memory)",
				st->services[i].name);
	}
	if (!n) {
		free(notes);
		return;
	}
	/* Not pushed (the store refused, logged): the events name no node. */
	vsnd_switch_push(c, &ch);
	vsnd_acks_begin(c, &ch, notes, n);
	vsnd_changes_free(&ch);
}
