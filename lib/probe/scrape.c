/* SPDX-License-Identifier: Apache-2.0 */
/* Load scrapes (vsn_scrape.h): each a runner fetching a page, parsed into a load on arrival. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe_internal.h"
#include "vsn_scrape.h"

struct vsn_scraper {
	struct jobs jobs; /* first (jobs_new); its cb a vsn_load_cb */
};

/* How a page becomes a load: all but the fetch, which is the check's. */
struct load_parse {
	enum vsn_load_kind kind;
	char proxy[VSN_PROBE_NAME_MAX + 1], server[VSN_PROBE_NAME_MAX + 1]; /* haproxy_csv */
	struct vsn_prom_sel sel;					    /* prometheus */
	double max;
};

struct scrape {
	struct job job; /* first */
	struct vsn_scraper *s;
	struct load_parse lp;
	struct vsn_load_status st;
};

static const char *const kind_names[] = {
	[VSN_LOAD_HAPROXY_CSV] = "haproxy_csv",
	[VSN_LOAD_NGINX_STATUS] = "nginx_status",
	[VSN_LOAD_PROMETHEUS] = "prometheus",
};

/* The figures of a page, or why there are none. */
static int parse_page(const struct load_parse *lp, const char *body, size_t len,
		      struct vsn_load_figures *f, struct vsn_probe_err *err)
{
	switch (lp->kind) {
	case VSN_LOAD_HAPROXY_CSV:
		return vsn_scrape_haproxy_csv(body, len, lp->proxy, lp->server, f, err);
	case VSN_LOAD_NGINX_STATUS:
		return vsn_scrape_nginx_status(body, len, f, err);
	default:
		return vsn_scrape_prometheus(body, len, &lp->sel, f, err);
	}
}

/* What an OK result says: the figures by their names in the source. */
static void ok_reason(const struct load_parse *lp, const struct vsn_load_figures *f,
		      struct vsn_load_status *st)
{
	static const char *const cur[] = {
		[VSN_LOAD_HAPROXY_CSV] = "scur",
		[VSN_LOAD_NGINX_STATUS] = "active",
		[VSN_LOAD_PROMETHEUS] = "value",
	};
	const char *lim = lp->kind == VSN_LOAD_NGINX_STATUS  ? "max_connections"
			  : f->limit > 0		     ? "slim"
			  : lp->kind == VSN_LOAD_HAPROXY_CSV ? "max (slim empty)"
							     : "max";

	snprintf(st->reason, sizeof(st->reason), "%s %g, %s %g", cur[lp->kind], st->current, lim,
		 st->limit);
}

/* The result of one fetch into st. */
static void scrape_result(const struct load_parse *lp, const struct hx_result *res,
			  struct vsn_load_status *st)
{
	struct vsn_load_figures f = {NAN, NAN};
	struct vsn_probe_err err = {""};
	double load;
	int r;

	st->scrapes++;
	st->current = st->limit = st->load = NAN;
	if (res->err) {
		snprintf(err.msg, sizeof(err.msg), "%s", res->why);
		r = res->err;
	} else if (res->status != 200) {
		r = probe_err(&err, -EPROTO, "HTTP %d, expected 200", res->status);
	} else {
		r = parse_page(lp, res->body, res->body_len, &f, &err);
		if (!r) {
			st->current = f.current;
			r = vsn_load_compute(&f, lp->max, &load, &err);
		}
	}
	if (r) {
		st->state = VSN_LOAD_FAILED;
		st->failures++;
		snprintf(st->reason, sizeof(st->reason), "%s: %s", kind_names[lp->kind], err.msg);
		return;
	}
	st->state = VSN_LOAD_OK;
	st->load = load;
	st->limit = vsn_load_limit(&f, lp->max);
	ok_reason(lp, &f, st);
}

static void scrape_done(struct runner *run, const struct hx_result *res, unsigned int ms)
{
	struct scrape *sc = container_of(run, struct scrape, job.run);
	char name[VSN_PROBE_NAME_MAX + 1];
	struct vsn_load_status st;

	scrape_result(&sc->lp, res, &sc->st);
	sc->st.ms = ms;
	if (!sc->s->jobs.cb)
		return;
	/* Copies: the callback may remove the scrape. */
	snprintf(name, sizeof(name), "%s", sc->job.name);
	st = sc->st;
	((vsn_load_cb)sc->s->jobs.cb)(sc->s, name, &st, sc->s->jobs.arg);
}

/* A string option into buf, required or with a default. */
static int opt_str(const char *who, const char *field, const char *v, const char *def, char *buf,
		   size_t sz, struct vsn_probe_err *err)
{
	if (!v)
		v = def;
	if (!v || !*v || strlen(v) >= sz)
		return probe_err(err, -EINVAL, "%s: %s of 1 to %zu characters is needed", who,
				 field, sz - 1);
	snprintf(buf, sz, "%s", v);
	return 0;
}

static int load_parse_get(const char *who, const struct vsn_load_opts *o, struct load_parse *lp,
			  struct vsn_probe_err *err)
{
	struct vsn_probe_err e;
	int r = 0;

	lp->kind = OPT_GET(o, kind, 0);
	lp->max = OPT_GET(o, max, 0.0);
	if (!(lp->max >= 0) || isinf(lp->max))
		return probe_err(err, -EINVAL, "%s: max must be a finite number >= 0", who);
	switch (lp->kind) {
	case VSN_LOAD_HAPROXY_CSV:
		r = opt_str(who, "proxy", OPT_GET(o, proxy, NULL), NULL, lp->proxy,
			    sizeof(lp->proxy), err);
		if (!r)
			r = opt_str(who, "server", OPT_GET(o, server, NULL), "BACKEND", lp->server,
				    sizeof(lp->server), err);
		return r;
	case VSN_LOAD_NGINX_STATUS:
	case VSN_LOAD_PROMETHEUS:
		if (!(lp->max > 0))
			return probe_err(err, -EINVAL, "%s: %s needs a max > 0", who,
					 kind_names[lp->kind]);
		if (lp->kind == VSN_LOAD_NGINX_STATUS)
			return 0;
		if (!OPT_GET(o, metric, NULL))
			return probe_err(err, -EINVAL, "%s: prometheus needs a metric", who);
		r = vsn_prom_sel_parse(o->metric, &lp->sel, &e);
		return r ? probe_err(err, r, "%s: %s", who, e.msg) : 0;
	default:
		return probe_err(err, -EINVAL, "%s: unknown kind %d", who, (int)lp->kind);
	}
}

static int scrape_check(struct vsn_scraper *s, const char *who, const struct vsn_load_opts *o,
			struct check *ck, unsigned int *ret_interval, unsigned int *ret_timeout,
			struct vsn_probe_err *err)
{
	const char *url = OPT_GET(o, url, NULL);
	char path[VSN_PROBE_PATH_MAX + 1];
	struct check_spec spec = {.who = who, .http = true, .head_max = VSN_SCRAPE_HEAD_MAX};
	struct endpoint ep;
	int r;

	if (url_parse(url, &spec.tls, &ep, path, sizeof(path)))
		return probe_err(err, -EINVAL,
				 "%s: url %s is not http[s]://ADDRESS[:PORT]/PATH (numeric)", who,
				 url ? url : "(none)");
	spec.ep = &ep;
	spec.path = path;
	spec.host = OPT_GET(o, host, NULL);
	spec.ca_file = OPT_GET(o, ca_file, NULL);
	spec.body_max = OPT_GET(o, body_max, (size_t)VSN_SCRAPE_BODY_MAX);
	if (spec.body_max > VSN_SCRAPE_MAX_BODY_MAX)
		return probe_err(err, -EINVAL, "%s: body_max is over %u bytes", who,
				 VSN_SCRAPE_MAX_BODY_MAX);
	r = timing_get(who, OPT_GET(o, interval_ms, 0), OPT_GET(o, timeout_ms, 0), ret_interval,
		       ret_timeout, err);
	return r ? r : check_build(ck, &s->jobs, &spec, err);
}

int vsn_scraper_set(struct vsn_scraper *s, const struct vsn_load_opts *o, struct vsn_probe_err *err)
{
	char who[VSN_PROBE_NAME_MAX + 16];
	unsigned int interval, timeout;
	struct load_parse lp = {0};
	struct scrape *sc;
	struct check ck;
	const char *name;
	struct job *job;
	int r;

	if (!o || o->sz < offsetof(struct vsn_load_opts, url) + sizeof(o->url))
		return probe_err(err, -EINVAL, "load: options of an unknown size");
	name = OPT_GET(o, name, NULL);
	if (!name || !*name || strlen(name) > VSN_PROBE_NAME_MAX)
		return probe_err(err, -EINVAL, "load: a name of 1 to %d characters is needed",
				 VSN_PROBE_NAME_MAX);
	snprintf(who, sizeof(who), "load %s", name);
	r = load_parse_get(who, o, &lp, err);
	if (r)
		return r;
	r = scrape_check(s, who, o, &ck, &interval, &timeout, err);
	if (r)
		return r;
	job = jobs_find(&s->jobs, name);
	sc = job ? container_of(job, struct scrape, job) : calloc(1, sizeof(*sc));
	if (!job && (!sc || jobs_add(&s->jobs, &sc->job, name, scrape_done))) {
		free(sc);
		check_fini(&ck);
		return probe_err(err, -ENOMEM, "out of memory");
	}
	if (!job)
		sc->st.load = sc->st.current = sc->st.limit = NAN;
	sc->s = s;
	sc->lp = lp;
	sc->job.run.interval_ms = interval;
	sc->job.run.timeout_ms = timeout;
	if (!job || !check_equal(&sc->job.run.ck, &ck))
		runner_set_check(&sc->job.run, &ck, jobs_jitter(&s->jobs, interval));
	else
		check_fini(&ck);
	return 0;
}

static void scrape_free(struct job *job)
{
	free(container_of(job, struct scrape, job));
}

int vsn_scraper_remove(struct vsn_scraper *s, const char *name)
{
	return jobs_remove(&s->jobs, name, scrape_free);
}

int vsn_scraper_get(const struct vsn_scraper *s, const char *name, struct vsn_load_status *ret)
{
	return jobs_get(&s->jobs, name, offsetof(struct scrape, st), ret, sizeof(*ret));
}

size_t vsn_scraper_count(const struct vsn_scraper *s)
{
	return s->jobs.n;
}

int vsn_scraper_new(struct event_base *base, vsn_load_cb cb, void *arg, struct vsn_scraper **ret)
{
	return jobs_new(base, sizeof(**ret), (void (*)(void))cb, arg, (void **)ret);
}

void vsn_scraper_free(struct vsn_scraper *s)
{
	if (s)
		jobs_free(&s->jobs, scrape_free);
}
