/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's start and its loop (docs/node.md, "Start and restart").
 *
 * A forwarder already pinned is adopted as it runs: no detach, no reload,
 * so restarting the agent loses no packet. With nothing pinned (a rebooted
 * node), the forwarder is loaded, the persisted set applied, and only then
 * attached: the node forwards before, and without, reaching the controller.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "agent.h"
#include "log.h"
#include "vsn_tls.h"

uint64_t agent_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A TLS context whose certificate names this node (a node presenting another's certificate
 * would be served the other node's set). */
static int tls_load(const struct vsn_node_config *cfg, SSL_CTX **ret)
{
	struct vsn_tls_err err = {{0}};
	char cn[VSN_TLS_NAME_MAX + 1] = "";
	SSL_CTX *ctx;
	X509 *crt;
	int r;

	r = vsn_tls_ctx_new(VSN_TLS_NODE, cfg->tls_ca, cfg->tls_cert, cfg->tls_key, &ctx, &err);
	if (r) {
		log_err("tls", "cannot load the certificates: %s", err.msg);
		return r;
	}
	crt = SSL_CTX_get0_certificate(ctx);
	if (!crt ||
	    X509_NAME_get_text_by_NID(X509_get_subject_name(crt), NID_commonName, cn, sizeof(cn)) <
		    0 ||
	    strcmp(cn, cfg->node)) {
		log_err("tls", "certificate=%s names \"%s\", not this node \"%s\"", cfg->tls_cert,
			cn, cfg->node);
		SSL_CTX_free(ctx);
		return -EINVAL;
	}
	*ret = ctx;
	return 0;
}

static int open_forwarder(struct agent *a, bool *ret_adopted)
{
	const struct vsn_node_config *cfg = a->cfg;
	struct vsn_dp_opts o = {
		.sz = sizeof(o),
		.pin_dir = cfg->pin_dir,
		.max_flows = cfg->max_flows,
		.max_policies = cfg->max_policies,
		.max_slbs = cfg->max_slbs,
		.max_services = cfg->max_services,
	};
	int r;

	r = vsn_dp_open(&o, &a->dp);
	if (r == -ENOENT) {
		o.create = true;
		*ret_adopted = false;
		r = vsn_dp_open(&o, &a->dp);
	} else {
		*ret_adopted = true;
	}
	if (r == -EPROTO)
		log_err("forwarder",
			"pin_dir=%s holds a forwarder of another layout version (this agent "
			"understands %u): see docs/operations.md, \"Upgrades\"",
			cfg->pin_dir, VSN_LAYOUT_VERSION);
	else if (r)
		log_err("forwarder", "pin_dir=%s cannot be opened: %s", cfg->pin_dir, strerror(-r));
	return r;
}

/* With nothing running, the persisted set; any failure leaves the node empty, waiting. */
static void restore(struct agent *a)
{
	uint8_t *bytes = NULL;
	uint64_t gen = 0;
	size_t len = 0;
	int r;

	r = vsn_store_load(a->store, &bytes, &len, &gen);
	if (r == -ENOENT) {
		log_info("restore", "nothing persisted in state_dir=%s: waiting for the controller",
			 a->cfg->state_dir);
		return;
	}
	if (r) {
		log_err("restore", "state_dir=%s: persisted set unusable: %s", a->cfg->state_dir,
			strerror(-r));
		return;
	}
	apply_restore(a, bytes, len);
	free(bytes);
}

static int node_settings(struct agent *a)
{
	const struct vsn_node_config *cfg = a->cfg;
	int r = 0;

	if (cfg->underlay_ipv4.family || cfg->underlay_ipv6.family) {
		r = vsn_dp_underlay_set(a->dp,
					cfg->underlay_ipv4.family ? &cfg->underlay_ipv4 : NULL,
					cfg->underlay_ipv6.family ? &cfg->underlay_ipv6 : NULL);
		if (r)
			log_err("underlay", "cannot set: %s", strerror(-r));
	}
	if (!r && cfg->gue_port) {
		r = vsn_dp_gue_port_set(a->dp, cfg->gue_port);
		if (r)
			log_err("gue_port", "cannot set %u: %s", cfg->gue_port, strerror(-r));
	}
	return r;
}

static int attach_interfaces(struct agent *a)
{
	for (size_t i = 0; i < a->cfg->n_interfaces; i++) {
		const struct vsn_node_iface *ifc = &a->cfg->interfaces[i];
		enum vsn_attach_mode got;
		int r = vsn_dp_attach(a->dp, ifc->name, ifc->mode, &got);

		if (r == -EEXIST) {
			log_info("attach", "interface=%s already attached: kept", ifc->name);
		} else if (r) {
			log_err("attach", "interface=%s mode=%s failed: %s", ifc->name,
				vsn_attach_mode_name(ifc->mode), strerror(-r));
			return r;
		} else {
			log_info("attach", "interface=%s mode=%s", ifc->name,
				 vsn_attach_mode_name(got));
		}
	}
	return 0;
}

static void on_stats(evutil_socket_t fd, short what, void *arg)
{
	stats_send(arg);
}

static void on_trim(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	int r = vsn_dp_set_trim(a->dp);

	if (r)
		log_warn("trim", "previous set not freed: %s", strerror(-r));
	/* A large set's decoding leaves hundreds of MiB free in the heap: give them back. */
	malloc_trim(0);
}

static void on_nexthop(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	unsigned int changed = 0;
	int r;

	vsn_nexthop_events_drain(fd);
	r = vsn_dp_slbs_refresh(a->dp, &changed);
	if (r)
		log_warn("nexthop", "refresh failed: %s", strerror(-r));
	else if (changed)
		log_info("nexthop", "slbs_changed=%u", changed);
}

/* SIGHUP: certificates are read again; forwarding and the connection are not touched. */
static void on_sighup(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	SSL_CTX *ctx;

	if (tls_load(a->cfg, &ctx)) {
		log_err("reload", "certificates not reloaded: the previous ones stay in use");
		return;
	}
	/* A live connection's SSL holds its own reference to the old context. */
	SSL_CTX_free(a->ssl);
	a->ssl = ctx;
	log_info("reload", "certificates reloaded cert=%s: used from the next connection",
		 a->cfg->tls_cert);
}

static void on_exit_signal(evutil_socket_t sig, short what, void *arg)
{
	struct agent *a = arg;

	log_info("stop", "signal=%d: forwarding goes on without the agent", (int)sig);
	event_base_loopexit(a->base, NULL);
}

static int events_init(struct agent *a)
{
	uint32_t ms = a->cfg->stats_interval_ms;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	a->stats_ev = event_new(a->base, -1, EV_PERSIST, on_stats, a);
	a->trim_ev = evtimer_new(a->base, on_trim, a);
	a->prepare_ev = evtimer_new(a->base, apply_prepare_expired, a);
	a->sighup_ev = evsignal_new(a->base, SIGHUP, on_sighup, a);
	a->sigterm_ev = evsignal_new(a->base, SIGTERM, on_exit_signal, a);
	a->sigint_ev = evsignal_new(a->base, SIGINT, on_exit_signal, a);
	if (!a->stats_ev || !a->trim_ev || !a->prepare_ev || !a->sighup_ev || !a->sigterm_ev ||
	    !a->sigint_ev)
		return -ENOMEM;
	event_add(a->stats_ev, &tv);
	event_add(a->sighup_ev, NULL);
	event_add(a->sigterm_ev, NULL);
	event_add(a->sigint_ev, NULL);
	a->nexthop_fd = vsn_nexthop_events_open();
	if (a->nexthop_fd >= 0) {
		a->nexthop_ev =
			event_new(a->base, a->nexthop_fd, EV_READ | EV_PERSIST, on_nexthop, a);
		if (!a->nexthop_ev)
			return -ENOMEM;
		event_add(a->nexthop_ev, NULL);
	} else {
		log_warn("nexthop", "no netlink events (%s): next hops refresh only with new sets",
			 strerror(-a->nexthop_fd));
	}
	return 0;
}

int agent_init(struct agent *a, const struct vsn_node_config *cfg)
{
	bool adopted = false;
	struct vsn_meta meta;
	int r;

	memset(a, 0, sizeof(*a));
	a->cfg = cfg;
	a->nexthop_fd = -1;
	snprintf(a->controller, sizeof(a->controller),
		 strchr(cfg->controller_host, ':') ? "[%s]:%u" : "%s:%u", cfg->controller_host,
		 cfg->controller_port);
	signal(SIGPIPE, SIG_IGN);
	r = tls_load(cfg, &a->ssl);
	if (r)
		return r;
	r = open_forwarder(a, &adopted);
	if (r)
		return r;
	r = vsn_dp_meta(a->dp, &meta);
	if (r)
		return r;
	a->generation = meta.generation;
	/* The forwarder's generation settles a staged set a crash left (store.h). */
	r = vsn_store_open_running(cfg->state_dir, meta.generation, &a->store);
	if (r) {
		log_err("state", "state_dir=%s cannot be opened: %s", cfg->state_dir, strerror(-r));
		return r;
	}
	if (adopted)
		log_info("adopt", "pin_dir=%s layout=%u running_generation=%llu policies=%llu",
			 cfg->pin_dir, VSN_LAYOUT_VERSION, (unsigned long long)meta.generation,
			 (unsigned long long)meta.n_policies);
	else
		log_info("load", "pin_dir=%s: forwarder loaded", cfg->pin_dir);
	if (a->generation) {
		r = apply_load_running_ids(a);
		if (r)
			log_warn("stats", "running set's ids unreadable: %s", strerror(-r));
	} else {
		restore(a);
	}
	r = node_settings(a);
	if (!r)
		r = attach_interfaces(a);
	if (r)
		return r;
	a->base = event_base_new();
	if (!a->base)
		return -ENOMEM;
	return events_init(a);
}

int agent_run(struct agent *a)
{
	int r = session_start(a);

	if (r)
		return r;
	log_info("start", "node=%s controller=%s generation=%llu", a->cfg->node, a->controller,
		 (unsigned long long)a->generation);
	event_base_dispatch(a->base);
	return a->exit_code;
}

void agent_fini(struct agent *a)
{
	session_stop(a);
	apply_discard_pending(a);
	struct event **evs[] = {&a->stats_ev,  &a->trim_ev,    &a->prepare_ev, &a->nexthop_ev,
				&a->sighup_ev, &a->sigterm_ev, &a->sigint_ev};
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (*evs[i]) {
			event_free(*evs[i]);
			*evs[i] = NULL;
		}
	if (a->nexthop_fd >= 0)
		close(a->nexthop_fd);
	if (a->base)
		event_base_free(a->base);
	vsn_dp_close(a->dp);
	vsn_store_close(a->store);
	SSL_CTX_free(a->ssl);
	free(a->service_ids);
	free(a->slb_ids);
}
