/* SPDX-License-Identifier: Apache-2.0 */
/* vsnd's event loop: the controller, its signals, reloads and rollouts. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vsn_tls.h"
#include "vsnd.h"

static void log_sets(const struct vsnd *d, const char *event)
{
	char q[600];

	for (size_t i = 0; i < d->sets.n_files; i++) {
		const struct vsnd_file *f = &d->sets.files[i];

		log_info(event,
			 "file=%s generation=%llu generation_from=%s policies=%zu slbs=%zu "
			 "pools=%zu bytes=%zu",
			 vsn_log_quote(f->path, q, sizeof(q)),
			 (unsigned long long)vsn_ctl_set_generation(f->set),
			 f->from_mtime ? "mtime" : "file", f->n_policies, f->n_slbs, f->n_pools,
			 vsn_ctl_set_size(f->set));
	}
}

/* Hand every node's set to the controller; flags as vsn_ctl_set_default takes them. */
static void desire(struct vsnd *d, unsigned int flags)
{
	vsn_ctl_set_default(d->ctl, d->sets.def ? d->sets.def->set : NULL, flags);
	for (size_t i = 0; i < d->o.n_node_sets; i++)
		vsn_ctl_set_node(d->ctl, d->o.node_sets[i].node, d->sets.per_node[i]->set, flags);
}

/* The connected nodes that do not run their set yet: a rollout's targets. */
struct targets {
	struct vsnd *d;
	struct vsn_ctl_target *t;
	size_t n;
	int err;
};

static int add_target(const struct vsn_ctl_node_status *st, void *arg)
{
	struct targets *ts = arg;
	struct vsnd_file *f = vsnd_sets_for_node(ts->d, st->node);
	struct vsn_ctl_target *t;

	/* A node failing with this very set is not sent it again (ctl.h). */
	if (!st->connected || !f || st->sync != VSN_CTL_SYNC_PENDING)
		return 0;
	t = realloc(ts->t, (ts->n + 1) * sizeof(*t));
	if (!t)
		return -ENOMEM;
	ts->t = t;
	t[ts->n].node = strdup(st->node);
	t[ts->n].set = f->set;
	if (!t[ts->n].node)
		return -ENOMEM;
	ts->n++;
	return 0;
}

static void rollout(struct vsnd *d)
{
	struct vsn_ctl_rollout_opts o = {
		.sz = sizeof(o),
		.timeout_ms = d->o.rollout_timeout_ms,
		.prepare_timeout_ms = d->o.prepare_timeout_ms,
	};
	struct targets ts = {.d = d};
	uint64_t id;
	int r;

	r = vsn_ctl_status(d->ctl, add_target, &ts);
	if (!r && ts.n)
		r = vsn_ctl_rollout(d->ctl, ts.t, ts.n, &o, vsnd_on_rollout, d, &id);
	if (r) {
		log_err("rollout",
			"result=error error=\"%s\": the nodes get their sets when they "
			"reconnect",
			strerror(-r));
	} else if (ts.n) {
		d->rollout_running = true;
		log_info("rollout",
			 "id=%llu result=started nodes=%zu timeout_ms=%u "
			 "prepare_timeout_ms=%u",
			 (unsigned long long)id, ts.n, o.timeout_ms, o.prepare_timeout_ms);
	}
	for (size_t i = 0; i < ts.n; i++)
		free((char *)ts.t[i].node);
	free(ts.t);
}

/* SlbState for each SLB whose state differs from the sets served until now. */
static void broadcast_slb_states(struct vsnd *d, const struct vsnd_sets *next)
{
	for (size_t i = 0; i < next->n_files; i++)
		for (size_t k = 0; k < next->files[i].n_slbs; k++) {
			const struct vsnd_slb *s = &next->files[i].slbs[k];
			enum vsn_slb_state old;
			size_t nodes = 0;
			bool dup = false;

			/* Once per SLB id (files agree on its state). */
			for (size_t j = 0; j < i && !dup; j++)
				for (size_t m = 0; m < next->files[j].n_slbs && !dup; m++)
					dup = next->files[j].slbs[m].id == s->id;
			for (size_t m = 0; m < k && !dup; m++)
				dup = next->files[i].slbs[m].id == s->id;
			if (dup || !vsnd_sets_slb_state(&d->sets, s->id, &old) || old == s->state)
				continue;
			/* The wire's values are the data plane's (lib/proto/convert.c). */
			vsn_ctl_slb_state(d->ctl, s->id, (Vsn__SlbStateValue)s->state, &nodes);
			log_info("slb-state", "slb=%u state=%s previous=%s nodes=%zu", s->id,
				 vsn_slb_state_name(s->state), vsn_slb_state_name(old), nodes);
		}
}

/* New connections get the re-read certificates; a bad file keeps the old ones. */
static void reload_certificates(struct vsnd *d)
{
	struct vsn_tls_err terr = {""};
	char q[600];
	SSL_CTX *ctx;

	if (vsn_tls_ctx_new(VSN_TLS_CONTROLLER, d->o.ca, d->o.cert, d->o.key, &ctx, &terr)) {
		log_err("reload", "certificates=kept error=%s",
			vsn_log_quote(terr.msg, q, sizeof(q)));
		return;
	}
	vsn_ctl_set_ssl_ctx(d->ctl, ctx);
	/* Live sessions' SSL objects hold their own references to the old context. */
	SSL_CTX_free(d->ssl);
	d->ssl = ctx;
	log_info("reload", "certificates=reloaded cert=%s", vsn_log_quote(d->o.cert, q, sizeof(q)));
}

static void reload(struct vsnd *d)
{
	struct vsnd_sets next;
	char err[1024], q[1100];
	int r;

	if (d->rollout_running) {
		d->reload_pending = true;
		log_info("reload", "result=deferred reason=\"a rollout is running\"");
		return;
	}
	d->reload_pending = false;
	r = vsnd_sets_load(&d->o, &next, err, sizeof(err));
	if (!r) {
		r = vsnd_sets_diff(&next, &d->sets, err, sizeof(err));
		if (r)
			vsnd_sets_free(&next);
	}
	if (r) {
		log_err("reload", "result=failed error=%s keeping=\"the sets loaded before\"",
			vsn_log_quote(err, q, sizeof(q)));
		return;
	}
	/* A drain or down takes effect in one round trip, before any set goes out. */
	broadcast_slb_states(d, &next);
	vsnd_sets_free(&d->sets);
	d->sets = next;
	log_sets(d, "reload");
	if (!d->o.two_phase) {
		desire(d, 0);
		return;
	}
	desire(d, VSN_CTL_NO_PUSH);
	rollout(d);
}

void vsnd_rollout_done(struct vsnd *d)
{
	d->rollout_running = false;
	if (d->reload_pending)
		reload(d);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct vsnd *d = arg;

	if (sig == SIGHUP) {
		log_info("signal", "signal=SIGHUP action=reload");
		reload_certificates(d);
		if (d->control)
			vsnd_control_reload(d);
		else
			reload(d);
		return;
	}
	log_info("signal", "signal=%s action=exit", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	event_base_loopbreak(d->base);
}

int vsnd_serve(struct vsnd *d)
{
	struct vsn_ctl_opts co = {
		.sz = sizeof(co),
		.on_event = vsnd_on_event,
		.arg = d,
	};
	struct vsn_tls_err terr = {""};
	char q[600];
	int r;

	d->base = event_base_new();
	if (!d->base) {
		log_err("start", "error=\"cannot make an event base\"");
		return -ENOMEM;
	}
	r = vsn_tls_ctx_new(VSN_TLS_CONTROLLER, d->o.ca, d->o.cert, d->o.key, &d->ssl, &terr);
	if (r) {
		log_err("start", "error=%s", vsn_log_quote(terr.msg, q, sizeof(q)));
		goto out;
	}
	r = vsn_ctl_new(d->base, d->ssl, d->o.listen, &co, &d->ctl);
	if (r) {
		log_err("start", "listen=%s error=\"%s\"", vsn_log_quote(d->o.listen, q, sizeof(q)),
			r == -EINVAL ? "not an address:port" : strerror(-r));
		goto out;
	}
	d->sig_hup = evsignal_new(d->base, SIGHUP, on_signal, d);
	d->sig_term = evsignal_new(d->base, SIGTERM, on_signal, d);
	d->sig_int = evsignal_new(d->base, SIGINT, on_signal, d);
	if (!d->sig_hup || !d->sig_term || !d->sig_int || evsignal_add(d->sig_hup, NULL) ||
	    evsignal_add(d->sig_term, NULL) || evsignal_add(d->sig_int, NULL)) {
		log_err("start", "error=\"cannot watch signals\"");
		r = -ENOMEM;
		goto out;
	}
	if (d->o.db) {
		r = vsnd_control_start(d);
		if (r)
			goto out;
	} else {
		desire(d, 0);
	}
	log_info("start",
		 "listen=%s port=%d two_phase=%s prepare_timeout_ms=%u "
		 "rollout_timeout_ms=%u",
		 vsn_log_quote(d->o.listen, q, sizeof(q)), vsn_ctl_port(d->ctl),
		 (d->o.db ? !d->o.one_phase : d->o.two_phase) ? "true" : "false",
		 d->o.prepare_timeout_ms, d->o.rollout_timeout_ms);
	if (!d->o.db)
		log_sets(d, "serve");
	event_base_dispatch(d->base);
	log_info("stop", "reason=signal");
	r = 0;
out:
	/* The API first: its ops use the controller. */
	vsnd_control_stop(d);
	vsn_ctl_free(d->ctl);
	if (d->sig_hup)
		event_free(d->sig_hup);
	if (d->sig_term)
		event_free(d->sig_term);
	if (d->sig_int)
		event_free(d->sig_int);
	SSL_CTX_free(d->ssl);
	event_base_free(d->base);
	return r;
}
