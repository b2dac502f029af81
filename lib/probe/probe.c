/* SPDX-License-Identifier: Apache-2.0 */
/* Health probes (vsn_probe.h): each a runner, its results folded into up and down. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe_internal.h"

struct vsn_prober {
	struct jobs jobs; /* first (jobs_new); its cb a vsn_probe_cb */
};

struct probe {
	struct job job; /* first */
	struct vsn_prober *p;
	char *target;
	enum vsn_probe_kind kind;
	unsigned int expect, rise, fall;
	struct vsn_probe_status st;
};

/* A probe's options, checked, with its check built. */
struct probe_cfg {
	const char *name, *target;
	enum vsn_probe_kind kind;
	unsigned int expect, interval_ms, timeout_ms, rise, fall;
	struct check ck;
};

static unsigned int bump(unsigned int n)
{
	return n < UINT_MAX ? n + 1 : n;
}

/* The state a result leads to (docs/probes.md, "The state machine"). */
static enum vsn_health next_state(const struct probe *pr, bool ok)
{
	const struct vsn_probe_status *st = &pr->st;

	switch (st->state) {
	case VSN_HEALTH_UNKNOWN:
		/* No earlier evidence: the first result decides, so a restarted controller knows
		 * every target within one interval. */
		return ok ? VSN_HEALTH_UP : VSN_HEALTH_DOWN;
	case VSN_HEALTH_UP:
		return st->failures >= pr->fall ? VSN_HEALTH_DOWN : VSN_HEALTH_UP;
	default:
		return st->successes >= pr->rise ? VSN_HEALTH_UP : VSN_HEALTH_DOWN;
	}
}

static void probe_done(struct runner *run, const struct hx_result *res, unsigned int ms)
{
	struct probe *pr = container_of(run, struct probe, job.run);
	struct vsn_probe_status *st = &pr->st;
	char name[VSN_PROBE_NAME_MAX + 1], target[128], reason[VSN_PROBE_REASON_MAX];
	struct vsn_probe_change ch;
	enum vsn_health old = st->state;
	bool ok;

	snprintf(st->last_reason, sizeof(st->last_reason), "%s", res->why);
	if (res->local) {
		st->local_errors++;
		return;
	}
	ok = res->err == 0 && (pr->kind == VSN_PROBE_TCP || res->status == (int)pr->expect);
	if (res->err == 0 && !ok)
		snprintf(st->last_reason, sizeof(st->last_reason), "HTTP %d, expected %u",
			 res->status, pr->expect);
	st->results++;
	st->last_ok = ok;
	st->last_ms = ms;
	st->successes = ok ? bump(st->successes) : 0;
	st->failures = ok ? 0 : bump(st->failures);
	st->state = next_state(pr, ok);
	if (st->state == old || !pr->p->jobs.cb)
		return;
	/* Copies: the callback may remove the probe. */
	snprintf(name, sizeof(name), "%s", pr->job.name);
	snprintf(target, sizeof(target), "%s", pr->target);
	snprintf(reason, sizeof(reason), "%s", st->last_reason);
	ch = (struct vsn_probe_change){
		.name = name,
		.target = target,
		.old_state = old,
		.new_state = st->state,
		.reason = reason,
	};
	((vsn_probe_cb)pr->p->jobs.cb)(pr->p, &ch, pr->p->jobs.arg);
}

static int probe_cfg_get(struct vsn_prober *p, const struct vsn_probe_opts *o, struct probe_cfg *c,
			 struct vsn_probe_err *err)
{
	char who[VSN_PROBE_NAME_MAX + 16];
	struct check_spec spec = {.who = who};
	struct endpoint ep;
	int r;

	memset(c, 0, sizeof(*c));
	if (!o || o->sz < offsetof(struct vsn_probe_opts, kind) + sizeof(o->kind))
		return probe_err(err, -EINVAL, "probe: options of an unknown size");
	c->name = OPT_GET(o, name, NULL);
	if (!c->name || !*c->name || strlen(c->name) > VSN_PROBE_NAME_MAX)
		return probe_err(err, -EINVAL, "probe: a name of 1 to %d characters is needed",
				 VSN_PROBE_NAME_MAX);
	snprintf(who, sizeof(who), "probe %s", c->name);
	c->target = OPT_GET(o, target, NULL);
	if (endpoint_parse(c->target, &ep))
		return probe_err(err, -EINVAL, "%s: target %s is not ADDRESS:PORT (numeric)", who,
				 c->target ? c->target : "(none)");
	c->kind = OPT_GET(o, kind, 0);
	if (c->kind < VSN_PROBE_TCP || c->kind > VSN_PROBE_HTTPS)
		return probe_err(err, -EINVAL, "%s: unknown kind %d", who, (int)c->kind);
	c->expect = OPT_GET(o, expect, VSN_PROBE_EXPECT);
	if (c->expect < 100 || c->expect > 599)
		return probe_err(err, -EINVAL, "%s: expect %u is no HTTP status", who, c->expect);
	c->rise = OPT_GET(o, rise, VSN_PROBE_RISE);
	c->fall = OPT_GET(o, fall, VSN_PROBE_FALL);
	if (c->rise > VSN_PROBE_MAX_COUNT || c->fall > VSN_PROBE_MAX_COUNT)
		return probe_err(err, -EINVAL, "%s: rise and fall must be 1 to %d", who,
				 VSN_PROBE_MAX_COUNT);
	r = timing_get(who, OPT_GET(o, interval_ms, 0), OPT_GET(o, timeout_ms, 0), &c->interval_ms,
		       &c->timeout_ms, err);
	if (r)
		return r;
	spec.ep = &ep;
	spec.http = c->kind != VSN_PROBE_TCP;
	spec.tls = c->kind == VSN_PROBE_HTTPS;
	spec.path = OPT_GET(o, path, VSN_PROBE_PATH);
	spec.host = OPT_GET(o, host, NULL);
	spec.ca_file = OPT_GET(o, ca_file, NULL);
	spec.head_max = VSN_PROBE_STATUS_MAX;
	return check_build(&c->ck, &p->jobs, &spec, err);
}

int vsn_prober_set(struct vsn_prober *p, const struct vsn_probe_opts *o, struct vsn_probe_err *err)
{
	struct probe_cfg c;
	struct probe *pr;
	struct job *job;
	bool new_check;
	char *target;
	int r;

	r = probe_cfg_get(p, o, &c, err);
	if (r)
		return r;
	target = strdup(c.target);
	if (!target) {
		check_fini(&c.ck);
		return probe_err(err, -ENOMEM, "out of memory");
	}
	job = jobs_find(&p->jobs, c.name);
	if (job) {
		pr = container_of(job, struct probe, job);
		new_check = !check_equal(&job->run.ck, &c.ck) || pr->expect != c.expect ||
			    pr->kind != c.kind;
		free(pr->target);
	} else {
		pr = calloc(1, sizeof(*pr));
		if (!pr || jobs_add(&p->jobs, &pr->job, c.name, probe_done)) {
			free(pr);
			free(target);
			check_fini(&c.ck);
			return probe_err(err, -ENOMEM, "out of memory");
		}
		pr->p = p;
		new_check = true;
	}
	pr->target = target;
	pr->kind = c.kind;
	pr->expect = c.expect;
	pr->rise = c.rise;
	pr->fall = c.fall;
	pr->job.run.interval_ms = c.interval_ms;
	pr->job.run.timeout_ms = c.timeout_ms;
	if (new_check) {
		/* Another check: its results start again, the state stays until they speak. */
		pr->st.successes = pr->st.failures = 0;
		runner_set_check(&pr->job.run, &c.ck, jobs_jitter(&p->jobs, c.interval_ms));
	} else {
		check_fini(&c.ck);
	}
	return 0;
}

static void probe_free(struct job *job)
{
	struct probe *pr = container_of(job, struct probe, job);

	free(pr->target);
	free(pr);
}

int vsn_prober_remove(struct vsn_prober *p, const char *name)
{
	return jobs_remove(&p->jobs, name, probe_free);
}

int vsn_prober_get(const struct vsn_prober *p, const char *name, struct vsn_probe_status *ret)
{
	return jobs_get(&p->jobs, name, offsetof(struct probe, st), ret, sizeof(*ret));
}

size_t vsn_prober_count(const struct vsn_prober *p)
{
	return p->jobs.n;
}

int vsn_prober_new(struct event_base *base, vsn_probe_cb cb, void *arg, struct vsn_prober **ret)
{
	return jobs_new(base, sizeof(**ret), (void (*)(void))cb, arg, (void **)ret);
}

void vsn_prober_free(struct vsn_prober *p)
{
	if (p)
		jobs_free(&p->jobs, probe_free);
}
