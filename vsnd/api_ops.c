/* SPDX-License-Identifier: Apache-2.0 */
/* The REST API's endpoints in controller mode: JSON in and out (docs/controller.md). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <jansson.h>

#include "control.h"
#include "vsn_probe.h"
#include "vsn_scrape.h"
#include "vsnd.h"

static json_t *revision_result(uint64_t rev, const struct vsnd_changes *ch, uint64_t rollout)
{
	json_t *nodes = json_array();

	for (size_t i = 0; i < ch->n; i++)
		json_array_append_new(nodes, json_string(ch->c[i].node));
	return json_pack("{s:I, s:o, s:o}", "revision", (json_int_t)rev, "changed_nodes", nodes,
			 "rollout", rollout ? json_integer((json_int_t)rollout) : json_null());
}

static int op_apply(void *arg, const struct vsn_api_apply_req *req, json_t **ret,
		    struct vsn_api_err *err)
{
	struct vsnd_changes ch = {0};
	uint64_t rev, rollout = 0;
	int r;

	r = vsnd_control_apply(arg, req->doc.text, req->doc.len, req->doc.name, req->author,
			       req->message, &rev, &ch, &rollout, err);
	if (r)
		return r;
	*ret = revision_result(rev, &ch, rollout);
	vsnd_changes_free(&ch);
	return 0;
}

static int op_rollback(void *arg, const struct vsn_api_rollback_req *req, json_t **ret,
		       struct vsn_api_err *err)
{
	struct vsnd_changes ch = {0};
	uint64_t rev, rollout = 0;
	int r;

	r = vsnd_control_rollback(arg, req->revision, req->author, req->message, &rev, &ch,
				  &rollout, err);
	if (r)
		return r;
	*ret = revision_result(rev, &ch, rollout);
	vsnd_changes_free(&ch);
	return 0;
}

/* Added, removed and changed names of one kind between two documents. */
typedef bool (*same_fn)(const void *a, const void *b);

static bool same_addr(const struct vsn_addr *a, const struct vsn_addr *b)
{
	return a->family == b->family && !memcmp(a->bytes, b->bytes, sizeof(a->bytes));
}

static bool same_slb(const void *x, const void *y)
{
	const struct vsn_state_slb *a = x, *b = y;

	return same_addr(&a->addr, &b->addr) && a->forward == b->forward && a->state == b->state;
}

static bool same_pool(const void *x, const void *y)
{
	const struct vsn_state_pool *a = x, *b = y;

	if (a->forward != b->forward || a->n_members != b->n_members)
		return false;
	for (size_t i = 0; i < a->n_members; i++)
		if (strcmp(a->members[i].slb_name, b->members[i].slb_name) ||
		    a->members[i].weight != b->members[i].weight)
			return false;
	return true;
}

static bool same_config(const struct vsn_state_config *a, const struct vsn_state_config *b)
{
	if (strcmp(a->name, b->name) || a->priority != b->priority || (!a->when != !b->when) ||
	    (a->when && strcmp(a->when, b->when)) || a->n_policies != b->n_policies)
		return false;
	for (size_t i = 0; i < a->n_policies; i++) {
		const struct vsn_state_policy *p = &a->policies[i], *q = &b->policies[i];

		if (p->has_clients != q->has_clients || strcmp(p->destination, q->destination) ||
		    (p->has_clients &&
		     (!same_addr(&p->clients, &q->clients) || p->clients_plen != q->clients_plen)))
			return false;
	}
	return true;
}

static bool same_service(const void *x, const void *y)
{
	const struct vsn_state_service *a = x, *b = y;

	if (!same_addr(&a->vip, &b->vip) || a->vip_plen != b->vip_plen ||
	    a->on_change != b->on_change || a->n_ports != b->n_ports ||
	    a->nodes_given != b->nodes_given || a->n_nodes != b->n_nodes ||
	    a->n_configs != b->n_configs)
		return false;
	for (size_t i = 0; i < a->n_ports; i++)
		if (a->ports[i].proto != b->ports[i].proto || a->ports[i].port != b->ports[i].port)
			return false;
	for (size_t i = 0; i < a->n_nodes; i++)
		if (strcmp(a->nodes[i].name, b->nodes[i].name))
			return false;
	for (size_t i = 0; i < a->n_configs; i++)
		if (!same_config(&a->configs[i], &b->configs[i]))
			return false;
	return true;
}

static bool same_node(const void *x, const void *y)
{
	return true;
}

/* One kind: entries of size sz in a and b, each starting with its name. */
static void diff_kind(json_t *changes, const char *kind, const void *a, size_t na, const void *b,
		      size_t nb, size_t sz, same_fn same)
{
	for (size_t i = 0; i < nb; i++) {
		const void *e = (const char *)b + i * sz, *old = NULL;
		const char *name = *(const char *const *)e;

		for (size_t k = 0; k < na && !old; k++)
			if (!strcmp(*(const char *const *)((const char *)a + k * sz), name))
				old = (const char *)a + k * sz;
		if (!old || !same(old, e))
			json_array_append_new(changes,
					      json_pack("{s:s, s:s, s:s}", "kind", kind, "name",
							name, "change", old ? "changed" : "added"));
	}
	for (size_t k = 0; k < na; k++) {
		const char *name = *(const char *const *)((const char *)a + k * sz);
		bool found = false;

		for (size_t i = 0; i < nb && !found; i++)
			found = !strcmp(*(const char *const *)((const char *)b + i * sz), name);
		if (!found)
			json_array_append_new(changes,
					      json_pack("{s:s, s:s, s:s}", "kind", kind, "name",
							name, "change", "removed"));
	}
}

static json_t *count3(const struct vsnd_count3 *c)
{
	return json_pack("{s:I, s:I, s:I}", "added", (json_int_t)c->added, "removed",
			 (json_int_t)c->removed, "changed", (json_int_t)c->changed);
}

static int op_diff(void *arg, const struct vsn_api_document *doc, json_t **ret,
		   struct vsn_api_err *err)
{
	struct vsnd_control *c = arg;
	static const struct vsn_state empty;
	const struct vsn_state *cur = c->st ? c->st : &empty;
	struct vsn_state *next;
	struct vsnd_node_diff *diffs = NULL;
	json_t *changes, *nodes;
	size_t n = 0;
	int r;

	r = vsnd_control_parse(doc->text, doc->len, doc->name, &next, err);
	if (r)
		return r;
	r = vsnd_control_diff_nodes(c, next, &diffs, &n, err);
	if (r) {
		vsn_state_free(next);
		return r;
	}
	changes = json_array();
	diff_kind(changes, "node", cur->nodes, cur->n_nodes, next->nodes, next->n_nodes,
		  sizeof(*next->nodes), same_node);
	diff_kind(changes, "slb", cur->slbs, cur->n_slbs, next->slbs, next->n_slbs,
		  sizeof(*next->slbs), same_slb);
	diff_kind(changes, "pool", cur->pools, cur->n_pools, next->pools, next->n_pools,
		  sizeof(*next->pools), same_pool);
	diff_kind(changes, "service", cur->services, cur->n_services, next->services,
		  next->n_services, sizeof(*next->services), same_service);
	nodes = json_array();
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(
			nodes, json_pack("{s:s, s:o, s:o, s:o}", "node", diffs[i].node, "policies",
					 count3(&diffs[i].policies), "slbs", count3(&diffs[i].slbs),
					 "pools", count3(&diffs[i].pools)));
		free(diffs[i].node);
	}
	free(diffs);
	vsn_state_free(next);
	*ret = json_pack("{s:I, s:o, s:o}", "revision", (json_int_t)c->revision, "changes", changes,
			 "nodes", nodes);
	return 0;
}

struct rev_acc {
	json_t *a;
};

static int rev_cb(const struct vsn_db_revision *rev, void *arg)
{
	struct rev_acc *acc = arg;

	json_array_append_new(acc->a,
			      json_pack("{s:I, s:o, s:s, s:s}", "revision", (json_int_t)rev->id,
					"created", vsn_api_time(rev->created_ms), "author",
					rev->author, "message", rev->message));
	return 0;
}

static int op_history(void *arg, const struct vsn_api_history_req *req, json_t **ret,
		      struct vsn_api_err *err)
{
	struct vsnd_control *c = arg;
	struct rev_acc acc = {json_array()};
	int r = vsn_db_revisions_list(c->db, req->limit, rev_cb, &acc);

	if (r) {
		json_decref(acc.a);
		return vsn_api_fail(err, r, 500, "%s", vsn_db_errmsg(c->db));
	}
	*ret = json_pack("{s:o}", "revisions", acc.a);
	return 0;
}

static int event_cb(const struct vsn_db_event *ev, void *arg)
{
	json_t *detail = json_loads(ev->detail, 0, NULL);

	json_array_append_new(arg, json_pack("{s:I, s:o, s:s, s:s, s:o}", "id", (json_int_t)ev->id,
					     "time", vsn_api_time(ev->time_ms), "type", ev->type,
					     "subject", ev->subject, "detail",
					     detail ? detail : json_string(ev->detail)));
	return 0;
}

static int newest_cb(const struct vsn_db_event *ev, void *arg)
{
	*(uint64_t *)arg = ev->id;
	return 0;
}

static int op_events(void *arg, const struct vsn_api_events_req *req, json_t **ret,
		     struct vsn_api_err *err)
{
	struct vsnd_control *c = arg;
	json_t *a = json_array();
	uint64_t since = req->since, last = 0;
	int r = 0;

	/* Without since: the newest limit events, oldest first. */
	if (!req->has_since) {
		r = vsn_db_events_list(c->db, 0, 0, newest_cb, &last);
		since = last > req->limit ? last - req->limit : 0;
	}
	if (!r)
		r = vsn_db_events_list(c->db, since, req->limit, event_cb, a);
	if (r) {
		json_decref(a);
		return vsn_api_fail(err, r, 500, "%s", vsn_db_errmsg(c->db));
	}
	*ret = json_pack("{s:o}", "events", a);
	return 0;
}

struct status_acc {
	struct vsnd_control *c;
	json_t *nodes;
};

static int node_status_cb(const struct vsn_ctl_node_status *st, void *arg)
{
	struct status_acc *acc = arg;
	char errbuf[600] = "";

	if (st->failed_generation)
		snprintf(errbuf, sizeof(errbuf), "generation %llu refused: %s: %s",
			 (unsigned long long)st->failed_generation,
			 vsn_ctl_nack_code_name(st->failed_code),
			 st->failed_message ? st->failed_message : "");
	json_array_append_new(
		acc->nodes,
		json_pack(
			"{s:s, s:b, s:s?, s:s, s:I, s:I, s:I, s:o, s:s?, s:s?}", "name", st->node,
			"connected", st->connected, "address", st->address, "sync",
			vsn_ctl_sync_name(st->sync), "desired_generation", (json_int_t)st->desired,
			"running_generation", (json_int_t)st->running, "acked_generation",
			(json_int_t)st->acked, "lag_ms",
			json_real(vsnd_control_lag_ms(acc->c, st->node, st->desired, st->running)),
			"last_error", *errbuf ? errbuf : NULL, "software", st->software_version));
	return 0;
}

/* Whether service has a pin that names no configuration of it (the document changed). */
static bool pin_lost(const struct vsnd_control *c, const struct vsn_state_service *vs)
{
	for (size_t i = 0; i < c->n_pins; i++)
		if (!strcmp(c->pins[i].service, vs->name))
			return !vsn_state_config_find(vs, c->pins[i].configuration);
	return false;
}

static int cmp_by_name(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "name")),
		      json_string_value(json_object_get(*(json_t *const *)b, "name")));
}

/* Sort an array of objects by their "name", in place. */
static void sort_by_name(json_t *a)
{
	size_t n = json_array_size(a);
	json_t **v = calloc(n + 1, sizeof(*v));

	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(a, i));
	qsort(v, n, sizeof(*v), cmp_by_name);
	json_array_clear(a);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, v[i]);
	free(v);
}

/* The SLB's probe as it stands: null without health:, else its state and last result. */
static json_t *health_json(const struct vsnd_control *c, const struct vsn_state_slb *s)
{
	struct vsn_probe_status ps;

	if (!s->health.kind || vsnd_probe_of(c, s->name, &ps))
		return json_null();
	return json_pack("{s:s, s:s, s:I}", "state", vsn_health_name(ps.state), "reason",
			 ps.last_reason, "ms", (json_int_t)ps.last_ms);
}

/* The SLB's load: null without load:, else ok with its value, failed or unknown. */
static json_t *load_json(const struct vsnd_control *c, const struct vsn_state_slb *s)
{
	struct vsn_load_status ls;

	if (!s->load.kind || vsnd_load_of(c, s->name, &ls))
		return json_null();
	return json_pack("{s:s, s:o, s:s}", "state", vsn_load_state_name(ls.state), "value",
			 ls.state == VSN_LOAD_OK ? json_real(ls.load) : json_null(), "reason",
			 ls.reason);
}

static int op_status(void *arg, json_t **ret, struct vsn_api_err *err)
{
	struct vsnd_control *c = arg;
	const struct vsn_state *st = c->st;
	struct status_acc acc = {c, json_array()};
	json_t *services = json_array(), *slbs = json_array();
	char addr[64];

	for (size_t i = 0; st && i < st->n_services; i++) {
		const struct vsn_state_service *vs = &st->services[i];
		json_t *traffic = json_null();
		const struct vsnd_pin *pin;
		const struct vsn_state_config *cfg = vsnd_control_active(c, vs, &pin);
		double pps, bps;
		char why[512];
		uint32_t id;

		const char *sel_why = NULL;

		vsnd_switch_active(c, vs->name, &sel_why);
		if (pin)
			snprintf(why, sizeof(why), "pinned by %s", pin->author);
		else if (vs->n_configs > 1)
			snprintf(why, sizeof(why), "%s%s", sel_why ? sel_why : "not evaluated yet",
				 pin_lost(c, vs) ? "; its pin names no configuration of it" : "");
		else
			snprintf(why, sizeof(why), "default: the only configuration");

		/* Known once some node reported two Stats for it; unknown is null, not zero. */
		if (!vsn_db_id_get(c->db, VSN_DB_ID_SERVICE, vs->name, &id) &&
		    !vsn_traffic_rate(c->traffic, id, &pps, &bps))
			traffic = json_pack("{s:f, s:f}", "pps", pps, "bps", bps);

		json_array_append_new(services,
				      json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", vs->name,
						"configuration", cfg->name, "pinned", pin != NULL,
						"reason", why, "traffic", traffic));
	}
	for (size_t i = 0; st && i < st->n_slbs; i++) {
		const struct vsn_state_slb *s = &st->slbs[i];

		inet_ntop(s->addr.family, s->addr.bytes, addr, sizeof(addr));
		json_array_append_new(
			slbs,
			json_pack("{s:s, s:s, s:s, s:b, s:o, s:o}", "name", s->name, "address",
				  addr, "state", vsn_slb_state_name(vsnd_control_slb_state(c, s)),
				  "drained", vsnd_control_drained(c, s->name), "health",
				  health_json(c, s), "load", load_json(c, s)));
	}
	vsn_ctl_status(c->d->ctl, node_status_cb, &acc);
	sort_by_name(acc.nodes);
	*ret = json_pack("{s:I, s:o, s:o, s:o}", "revision", (json_int_t)c->revision, "services",
			 services, "nodes", acc.nodes, "slbs", slbs);
	return 0;
}

static int count_connected(const struct vsn_ctl_node_status *st, void *arg)
{
	*(size_t *)arg += st->connected;
	return 0;
}

static int slb_op(struct vsnd_control *c, const struct vsn_api_slb_req *req, bool drain,
		  json_t **ret, struct vsn_api_err *err)
{
	bool was = vsnd_control_drained(c, req->slb), changed;
	size_t nodes = 0;
	int r;

	r = vsnd_control_drain(c, req->slb, drain, req->author, &changed, err);
	if (r)
		return r;
	/* SlbState went to every connected node. */
	vsn_ctl_status(c->d->ctl, count_connected, &nodes);
	*ret = json_pack("{s:s, s:s, s:s, s:b, s:I}", "slb", req->slb, "state",
			 drain ? "drain" : "up", "previous", was ? "drain" : "up", "changed",
			 changed, "nodes", (json_int_t)nodes);
	return 0;
}

static int op_drain(void *arg, const struct vsn_api_slb_req *req, json_t **ret,
		    struct vsn_api_err *err)
{
	return slb_op(arg, req, true, ret, err);
}

static int op_undrain(void *arg, const struct vsn_api_slb_req *req, json_t **ret,
		      struct vsn_api_err *err)
{
	return slb_op(arg, req, false, ret, err);
}

static int pin_op(struct vsnd_control *c, const struct vsn_api_pin_req *req, json_t **ret,
		  struct vsn_api_err *err)
{
	struct vsnd_changes ch = {0};
	json_t *nodes;
	int r;

	r = vsnd_control_pin(c, req->service, req->configuration, req->author, &ch, err);
	if (r)
		return r;
	nodes = json_array();
	for (size_t i = 0; i < ch.n; i++)
		json_array_append_new(nodes, json_string(ch.c[i].node));
	*ret = json_pack("{s:s, s:s?, s:o}", "service", req->service, "configuration",
			 req->configuration, "changed_nodes", nodes);
	vsnd_changes_free(&ch);
	return 0;
}

static int op_pin(void *arg, const struct vsn_api_pin_req *req, json_t **ret,
		  struct vsn_api_err *err)
{
	return pin_op(arg, req, ret, err);
}

static int op_unpin(void *arg, const struct vsn_api_pin_req *req, json_t **ret,
		    struct vsn_api_err *err)
{
	struct vsn_api_pin_req r = *req;

	r.configuration = NULL;
	return pin_op(arg, &r, ret, err);
}

static int op_state(void *arg, json_t **ret, struct vsn_api_err *err)
{
	struct vsnd_control *c = arg;

	if (!c->doc)
		return vsn_api_fail(err, -ENOENT, 404, "nothing applied yet");
	*ret = json_pack("{s:I, s:s, s:s}", "revision", (json_int_t)c->revision, "name",
			 c->doc_name ? c->doc_name : "", "document", c->doc);
	return 0;
}

static int op_metrics(void *arg, FILE *out)
{
	return vsnd_metrics_write(arg, out);
}

const struct vsn_api_ops vsnd_api_ops = {
	.apply = op_apply,
	.diff = op_diff,
	.history = op_history,
	.rollback = op_rollback,
	.events = op_events,
	.status = op_status,
	.drain = op_drain,
	.undrain = op_undrain,
	.pin = op_pin,
	.unpin = op_unpin,
	.state = op_state,
	.metrics = op_metrics,
};
