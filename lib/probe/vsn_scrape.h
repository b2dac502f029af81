/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libvsnprobe's load scrapes (docs/probes.md, "Load scrapes"): what an SLB says of its own load,
 * fetched over HTTP(S) on the caller's loop and turned into a figure in [0, 1].
 *
 * Two layers. The parsers are pure (no I/O, no allocation, bounded by the length given): they
 * read the current figure, and the limit when the data states one, from HAProxy's CSV
 * statistics, nginx's stub_status page or a Prometheus text exposition; vsn_load_compute makes
 * the load of them. The scraper fetches and parses each configured source periodically and
 * reports every result. A scrape that fails (connection, HTTP status, parse, a missing row or
 * metric) is a state of its own, VSN_LOAD_FAILED, never a load of zero.
 */
#ifndef VSN_SCRAPE_H
#define VSN_SCRAPE_H

#include <stddef.h>

#include "vsn_probe.h"

enum vsn_load_kind {
	VSN_LOAD_HAPROXY_CSV = 1, /* HAProxy `show stat` / the stats page's ;csv */
	VSN_LOAD_NGINX_STATUS,	  /* nginx stub_status */
	VSN_LOAD_PROMETHEUS,	  /* a Prometheus (or OpenMetrics) text exposition */
};

enum vsn_load_state {
	VSN_LOAD_UNKNOWN = 0, /* not scraped yet */
	VSN_LOAD_OK,
	VSN_LOAD_FAILED,
};

/* What a parser read. */
struct vsn_load_figures {
	double current; /* sessions, connections, the metric's value */
	double limit;	/* the limit the data states (HAProxy's slim); 0: it states none */
};

/*
 * HAProxy CSV statistics: the header line ("# pxname,svname,qcur,qmax,scur,smax,slim,...",
 * columns found by name) and a row per frontend, backend and server. Reads scur and slim of the
 * one row whose pxname is proxy and svname is server ("BACKEND", "FRONTEND" or a server's
 * name); an empty slim is limit 0. Fields may be quoted ("a ""b"""). -EBADMSG: malformed;
 * -ENOENT: no such row; -EEXIST: more than one.
 */
int vsn_scrape_haproxy_csv(const char *buf, size_t len, const char *proxy, const char *server,
			   struct vsn_load_figures *ret, struct vsn_probe_err *err);

/*
 * nginx stub_status, checked whole (so that another page served with 200 is an error, not a
 * load): "Active connections: N", "server accepts handled requests", three numbers,
 * "Reading: N Writing: N Waiting: N". current is the active connections; limit 0. -EBADMSG.
 */
int vsn_scrape_nginx_status(const char *buf, size_t len, struct vsn_load_figures *ret,
			    struct vsn_probe_err *err);

#define VSN_PROM_NAME_MAX 200
#define VSN_PROM_LABELS_MAX 8
#define VSN_PROM_LABEL_NAME_MAX 64
#define VSN_PROM_LABEL_VALUE_MAX 256

/* Which sample of a Prometheus exposition: a metric name and labels it must carry. */
struct vsn_prom_sel {
	char name[VSN_PROM_NAME_MAX + 1];
	unsigned int n_labels;
	struct {
		char name[VSN_PROM_LABEL_NAME_MAX + 1];
		char value[VSN_PROM_LABEL_VALUE_MAX + 1]; /* unescaped */
	} labels[VSN_PROM_LABELS_MAX];
};

/*
 * A selector in the exposition's own syntax: `name` or `name{label="value",...}` (values
 * escaped as in the exposition: \\ \" \n). -EINVAL.
 */
int vsn_prom_sel_parse(const char *s, struct vsn_prom_sel *ret, struct vsn_probe_err *err);

/*
 * A Prometheus text exposition (comments, HELP, TYPE, timestamps and OpenMetrics exemplars
 * allowed; every line is checked). current is the value of the one sample whose name is
 * sel's and that carries every label of sel with its value (other labels do not matter);
 * limit 0. -EBADMSG: a malformed line (err says which); -ENOENT: no sample matches; -EEXIST:
 * more than one does; -ERANGE: its value is NaN.
 */
int vsn_scrape_prometheus(const char *buf, size_t len, const struct vsn_prom_sel *sel,
			  struct vsn_load_figures *ret, struct vsn_probe_err *err);

/* The limit a load is computed against: the one the data states, else the configured max. */
double vsn_load_limit(const struct vsn_load_figures *f, double max);

/*
 * The load: current / vsn_load_limit(f, max), clamped to [0, 1] (above the limit is 1, a
 * negative figure 0). -EINVAL: there is no limit (the data states none and max is not > 0);
 * -ERANGE: current is NaN.
 */
int vsn_load_compute(const struct vsn_load_figures *f, double max, double *ret_load,
		     struct vsn_probe_err *err);

/* The scraper: fetches on the loop (defaults as for probes, vsn_probe.h). */
#define VSN_SCRAPE_BODY_MAX (4u << 20)
#define VSN_SCRAPE_MAX_BODY_MAX (64u << 20)
#define VSN_SCRAPE_HEAD_MAX 8192 /* bytes of a response's status line and headers */

struct vsn_load_opts {
	size_t sz;	  /* sizeof(struct vsn_load_opts), so the struct can grow */
	const char *name; /* the scrape's key, e.g. the SLB's name; copied like every string */
	enum vsn_load_kind kind;
	/* "http://10.20.0.10:8404/stats;csv", "https://[2001:db8::10]:9100/metrics": a numeric
	 * address (names are not resolved) */
	const char *url;
	const char *host;    /* as for probes (vsn_probe.h); default: the URL's host */
	const char *ca_file; /* https: as for probes; NULL: no verification */
	const char *proxy;   /* haproxy_csv: the row's pxname (required) */
	const char *server;  /* haproxy_csv: the row's svname; default "BACKEND" */
	const char *metric;  /* prometheus: a selector (vsn_prom_sel_parse; required) */
	/*
	 * The limit: nginx_status's max_connections and prometheus's maximum (required, > 0);
	 * haproxy_csv's only when the row's slim is empty (0: such a row is a failed scrape).
	 */
	double max;
	unsigned int interval_ms; /* default 1000 */
	unsigned int timeout_ms;  /* of a whole fetch, at most interval_ms; default 500 */
	size_t body_max;	  /* bytes; default VSN_SCRAPE_BODY_MAX */
};

/* A scrape's latest result. */
struct vsn_load_status {
	enum vsn_load_state state;
	double load;	 /* in [0, 1] when VSN_LOAD_OK; NaN otherwise */
	double current;	 /* what the source said (when it was parsed) */
	double limit;	 /* the limit used (when OK) */
	unsigned int ms; /* how long the fetch and the parse took */
	uint64_t scrapes, failures;
	/* OK: "scur 120, slim 1000"; FAILED: "connect refused", "HTTP 404", "no row web/BACKEND",
	 * "line 3: ..." */
	char reason[VSN_PROBE_REASON_MAX];
};

struct vsn_scraper;

/* Called on every scrape's result, from the loop. The same rules as vsn_probe_cb. */
typedef void (*vsn_load_cb)(struct vsn_scraper *s, const char *name,
			    const struct vsn_load_status *st, void *arg);

int vsn_scraper_new(struct event_base *base, vsn_load_cb cb, void *arg, struct vsn_scraper **ret);
void vsn_scraper_free(struct vsn_scraper *s);

/*
 * Add the scrape o->name, or replace the one of that name. A new scrape is unknown until its
 * first result, which comes at a random point of its first interval. Replacing keeps the latest
 * result; when the source changes (url, host, CA file, body_max), a fetch in flight is dropped
 * and the next comes at a random point of the interval. -EINVAL (err says which field), a CA
 * file's errno, -ENOMEM.
 */
int vsn_scraper_set(struct vsn_scraper *s, const struct vsn_load_opts *o,
		    struct vsn_probe_err *err);
int vsn_scraper_remove(struct vsn_scraper *s, const char *name);
int vsn_scraper_get(const struct vsn_scraper *s, const char *name, struct vsn_load_status *ret);
size_t vsn_scraper_count(const struct vsn_scraper *s);

/* "unknown", "ok", "failed". */
const char *vsn_load_state_name(enum vsn_load_state s);

#endif /* VSN_SCRAPE_H */
