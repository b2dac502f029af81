/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Controller mode: the document in force, applies, rollbacks and drains (docs/controller.md).
 *
 * An apply is one store transaction: every node's set is compiled (ids allocated in the same
 * transaction), compared with the set it had, and a node whose set changed gets the next
 * generation; the revision, the node sets, the generation counter and the event are stored
 * together or not at all. Only once the transaction is committed are the sets pushed, so a
 * controller killed at any point restarts from a consistent store and reconciles every node
 * from its running generation.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "compile.h"
#include "control.h"
#include "convert.h"
#include "vsn_probe.h"
#include "vsnd.h"

#define META_GENERATION "generation"
#define META_DRAINED "drained"
/* The revision in force: the newest one, unless its rollout was aborted. */
#define META_IN_FORCE "revision_in_force"
#define META_PINS "pins"

void vsnd_changes_free(struct vsnd_changes *ch)
{
	for (size_t i = 0; i < ch->n; i++) {
		free(ch->c[i].node);
		vsn_ctl_set_unref(ch->c[i].set);
		free(ch->c[i].old_bytes);
	}
	free(ch->c);
	ch->c = NULL;
	ch->n = 0;
}

/* The node names and generations of src (no sets, no old bytes). */
static int changes_copy(const struct vsnd_changes *src, struct vsnd_changes *dst)
{
	dst->c = calloc(src->n + 1, sizeof(*dst->c));
	if (!dst->c)
		return -ENOMEM;
	for (size_t i = 0; i < src->n; i++) {
		dst->c[i].node = strdup(src->c[i].node);
		dst->c[i].generation = src->c[i].generation;
		if (!dst->c[i].node) {
			vsnd_changes_free(dst);
			return -ENOMEM;
		}
		dst->n++;
	}
	return 0;
}

int vsnd_control_parse(const char *text, size_t len, const char *name, struct vsn_state **ret,
		       struct vsn_api_err *err)
{
	struct vsn_state_errors errs;
	int r;

	r = vsn_state_parse(name, text, len, ret, &errs);
	if (r == -EINVAL) {
		for (size_t i = 0; i < errs.n; i++)
			vsn_api_err_detail(err, name, (unsigned int)errs.e[i].pos.line,
					   (unsigned int)errs.e[i].pos.column, "%s", errs.e[i].msg);
		return vsn_api_fail(err, r, 400, "%s: %zu error%s; nothing changed", name,
				    errs.total, errs.total == 1 ? "" : "s");
	}
	if (r)
		return vsn_api_fail(err, r, 500, "%s: %s", name, strerror(-r));
	return 0;
}

static void prev_free(struct vsnd_control *c);

/* The compile callbacks: ids from the store, the default configuration, drains. */
struct env_arg {
	struct vsnd_control *c;
	int err; /* the store's last failure, for the message */
};

static int env_id(void *arg, enum vsn_compile_id_kind kind, const char *key, uint32_t *ret)
{
	struct env_arg *ea = arg;
	const struct vsnd_opts *o = &ea->c->d->o;
	static const enum vsn_db_id_kind kinds[] = {
		[VSN_COMPILE_ID_SLB] = VSN_DB_ID_SLB,
		[VSN_COMPILE_ID_SERVICE] = VSN_DB_ID_SERVICE,
		[VSN_COMPILE_ID_POLICY] = VSN_DB_ID_POLICY,
	};
	uint32_t limit = kind == VSN_COMPILE_ID_SLB	  ? o->max_slbs
			 : kind == VSN_COMPILE_ID_SERVICE ? o->max_services
							  : o->max_policies;
	int r = vsn_db_id_get_or_alloc(ea->c->db, kinds[kind], key, limit, ret);

	if (r)
		ea->err = r;
	return r;
}

static const struct vsnd_pin *pin_find(const struct vsnd_control *c, const char *service)
{
	for (size_t i = 0; i < c->n_pins; i++)
		if (!strcmp(c->pins[i].service, service))
			return &c->pins[i];
	return NULL;
}

const struct vsn_state_config *vsnd_control_active(const struct vsnd_control *c,
						   const struct vsn_state_service *vs,
						   const struct vsnd_pin **ret_pin)
{
	const struct vsnd_pin *p = pin_find(c, vs->name);
	const struct vsn_state_config *cfg = p ? vsn_state_config_find(vs, p->configuration) : NULL;

	const char *sel;

	if (ret_pin)
		*ret_pin = cfg ? p : NULL;
	if (cfg)
		return cfg;
	/* What the conditions selected (switching.c), else the default. */
	sel = vsnd_switch_active(c, vs->name, NULL);
	cfg = sel ? vsn_state_config_find(vs, sel) : NULL;
	return cfg ? cfg : vs->default_config;
}

static const struct vsn_state_config *env_active(void *arg, const struct vsn_state_service *vs)
{
	return vsnd_control_active(((struct env_arg *)arg)->c, vs, NULL);
}

enum vsn_slb_state vsnd_control_slb_state(const struct vsnd_control *c,
					  const struct vsn_state_slb *slb)
{
	/* A probe's down wins (health.c); an operator's drain wins over up; a document's down or
	 * drain stays. */
	if (vsnd_health_of(c, slb->name) == VSN_HEALTH_DOWN)
		return VSN_SLB_DOWN;
	if (slb->state == VSN_SLB_UP && vsnd_control_drained(c, slb->name))
		return VSN_SLB_DRAIN;
	return slb->state;
}

static enum vsn_slb_state env_slb_state(void *arg, const struct vsn_state_slb *slb)
{
	return vsnd_control_slb_state(((struct env_arg *)arg)->c, slb);
}

/* node's set of st (free it with vsn_compile_free()). */
static int node_set(struct vsnd_control *c, const struct vsn_state *st, const char *node,
		    struct vsn_dp_set **ret)
{
	struct env_arg ea = {.c = c};
	struct vsn_compile_env env = {
		.id = env_id, .active = env_active, .slb_state = env_slb_state, .arg = &ea};

	return vsn_compile_node(st, node, 0, &env, ret);
}

/* set at generation, serialized: *ret_bytes from malloc. */
static int set_bytes(struct vsn_dp_set *set, uint64_t generation, uint8_t **ret_bytes,
		     size_t *ret_len)
{
	Vsn__PolicySet *msg;
	size_t len;
	uint8_t *b;
	int r;

	set->generation = generation;
	r = vsn_proto_set_to_msg(set, &msg, NULL);
	if (r)
		return r;
	len = vsn__policy_set__get_packed_size(msg);
	b = malloc(len ? len : 1);
	if (!b) {
		vsn_proto_msg_free(msg);
		return -ENOMEM;
	}
	vsn__policy_set__pack(msg, b);
	vsn_proto_msg_free(msg);
	*ret_bytes = b;
	*ret_len = len;
	return 0;
}

static int ctl_set_of(const uint8_t *bytes, size_t len, struct vsn_ctl_set **ret)
{
	Vsn__PolicySet *msg = vsn__policy_set__unpack(NULL, len, bytes);
	int r;

	if (!msg)
		return -EBADMSG;
	r = vsn_ctl_set_new(msg, ret);
	vsn__policy_set__free_unpacked(msg, NULL);
	return r;
}

/* Every node name: the document's and every one the store gave a set (a node removed since). */
struct names {
	char **v;
	size_t n;
};

static int names_add(struct names *ns, const char *name)
{
	char **v;

	for (size_t i = 0; i < ns->n; i++)
		if (!strcmp(ns->v[i], name))
			return 0;
	v = realloc(ns->v, (ns->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	ns->v = v;
	ns->v[ns->n] = strdup(name);
	return ns->v[ns->n++] ? 0 : -ENOMEM;
}

static void names_free(struct names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
	ns->v = NULL;
	ns->n = 0;
}

static int stored_node_cb(const char *node, uint64_t gen, const void *set, size_t len, void *arg)
{
	return names_add(arg, node);
}

static int all_nodes(struct vsnd_control *c, const struct vsn_state *st, struct names *ns)
{
	int r = 0;

	for (size_t i = 0; st && i < st->n_nodes && !r; i++)
		r = names_add(ns, st->nodes[i].name);
	return r ? r : vsn_db_nodes_list(c->db, stored_node_cb, ns);
}

/*
 * Inside a transaction: compile every node's set of st; a node whose set differs from its
 * stored one gets the next generation and is stored. With store false, nothing is written
 * and only the changed flags are reported (diff).
 */
static void set_diff(const uint8_t *old, size_t old_len, const uint8_t *now, size_t now_len,
		     struct vsnd_node_diff *d);

static int recompile(struct vsnd_control *c, const struct vsn_state *st, bool store,
		     struct vsnd_changes *ret, struct names *nodes, bool **ret_changed,
		     struct vsnd_node_diff *diffs)
{
	bool *changed = NULL;
	int r;

	r = all_nodes(c, st, nodes);
	if (r)
		return r;
	changed = calloc(nodes->n + 1, sizeof(*changed));
	if (!changed)
		return -ENOMEM;
	for (size_t i = 0; i < nodes->n && !r; i++) {
		const char *node = nodes->v[i];
		uint64_t old_gen = 0, gen;
		void *old = NULL;
		size_t old_len = 0, len;
		uint8_t *b = NULL;

		struct vsn_dp_set *set = NULL;

		r = vsn_db_node_set_get(c->db, node, &old_gen, &old, &old_len);
		if (r == -ENOENT)
			r = 0;
		/* At the old generation, an unchanged set gives the very same bytes. */
		if (!r)
			r = node_set(c, st, node, &set);
		if (!r)
			r = set_bytes(set, old_gen, &b, &len);
		if (!r && (!old || len != old_len || memcmp(b, old, len))) {
			changed[i] = true;
			if (diffs)
				set_diff(old, old_len, b, len, &diffs[i]);
			if (store) {
				free(b);
				b = NULL;
				r = vsn_db_meta_next_u64(c->db, META_GENERATION, &gen);
				if (!r)
					r = set_bytes(set, gen, &b, &len);
				if (!r)
					r = vsn_db_node_set_put(c->db, node, gen, b, len);
				if (!r) {
					struct vsnd_change *ch =
						realloc(ret->c, (ret->n + 1) * sizeof(*ch));

					if (!ch) {
						r = -ENOMEM;
					} else {
						ret->c = ch;
						ch = &ret->c[ret->n++];
						memset(ch, 0, sizeof(*ch));
						ch->node = strdup(node);
						ch->generation = gen;
						ch->old_generation = old_gen;
						ch->old_bytes = old;
						ch->old_len = old_len;
						old = NULL;
						r = ch->node ? ctl_set_of(b, len, &ch->set)
							     : -ENOMEM;
					}
				}
			}
		}
		vsn_compile_free(set);
		free(old);
		free(b);
	}
	if (r || !ret_changed)
		free(changed);
	else
		*ret_changed = changed;
	return r;
}

/* The connected ones among the changed nodes. */
static bool node_connected(struct vsnd_control *c, const char *node);

struct conn_arg {
	bool connected;
};

static int conn_cb(const struct vsn_ctl_node_status *st, void *arg)
{
	((struct conn_arg *)arg)->connected = st->connected;
	return 0;
}

static bool node_connected(struct vsnd_control *c, const char *node)
{
	struct conn_arg a = {false};

	vsn_ctl_node_status(c->d->ctl, node, conn_cb, &a);
	return a.connected;
}

bool vsnd_control_node_connected(struct vsnd_control *c, const char *node)
{
	return node_connected(c, node);
}

static void on_rollout(const struct vsn_ctl_rollout_result *res, void *arg);

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* node's desired generation is now generation: its lag counts from now. */
static void desired_since(struct vsnd_control *c, const char *node, uint64_t generation)
{
	void *v;

	for (size_t i = 0; i < c->n_desired; i++)
		if (!strcmp(c->desired[i].node, node)) {
			if (c->desired[i].generation != generation) {
				c->desired[i].generation = generation;
				c->desired[i].since_ms = now_ms();
			}
			return;
		}
	v = realloc(c->desired, (c->n_desired + 1) * sizeof(*c->desired));
	if (!v)
		return;
	c->desired = v;
	c->desired[c->n_desired].node = strdup(node);
	if (!c->desired[c->n_desired].node)
		return;
	c->desired[c->n_desired].generation = generation;
	c->desired[c->n_desired++].since_ms = now_ms();
}

double vsnd_control_lag_ms(struct vsnd_control *c, const char *node, uint64_t desired,
			   uint64_t running)
{
	if (!desired || desired == running)
		return 0;
	for (size_t i = 0; i < c->n_desired; i++)
		if (!strcmp(c->desired[i].node, node))
			return (double)(now_ms() - c->desired[i].since_ms);
	return 0;
}

/*
 * Hand the changed sets to the controller: one two-phase rollout over the connected ones when
 * there are several (unless --one-phase), else at once. Nodes not connected get theirs when
 * they connect. *ret_rollout: the rollout's id, 0 for none.
 */
static void push(struct vsnd_control *c, const struct vsnd_changes *ch, uint64_t *ret_rollout)
{
	struct vsn_ctl_rollout_opts o = {
		.sz = sizeof(o),
		.timeout_ms = c->d->o.rollout_timeout_ms,
		.prepare_timeout_ms = c->d->o.prepare_timeout_ms,
	};
	struct vsn_ctl_target *t = calloc(ch->n + 1, sizeof(*t));
	size_t n = 0;
	uint64_t id = 0;
	int r;

	for (size_t i = 0; i < ch->n; i++)
		desired_since(c, ch->c[i].node, ch->c[i].generation);
	for (size_t i = 0; t && i < ch->n; i++)
		if (node_connected(c, ch->c[i].node))
			t[n++] = (struct vsn_ctl_target){ch->c[i].node, ch->c[i].set};
	if (!t || c->d->o.one_phase || n < 2) {
		for (size_t i = 0; i < ch->n; i++)
			vsn_ctl_set_node(c->d->ctl, ch->c[i].node, ch->c[i].set, 0);
		goto out;
	}
	for (size_t i = 0; i < ch->n; i++)
		if (!node_connected(c, ch->c[i].node))
			vsn_ctl_set_node(c->d->ctl, ch->c[i].node, ch->c[i].set, 0);
	r = vsn_ctl_rollout(c->d->ctl, t, n, &o, on_rollout, c, &id);
	if (r) {
		log_err("rollout", "result=error error=\"%s\": pushing at once instead",
			strerror(-r));
		for (size_t i = 0; i < ch->n; i++)
			vsn_ctl_set_node(c->d->ctl, ch->c[i].node, ch->c[i].set, 0);
		id = 0;
	} else {
		c->rollout_running = true;
		c->rollout_id = id;
		log_info("rollout", "id=%llu result=started nodes=%zu", (unsigned long long)id, n);
	}
out:
	free(t);
	*ret_rollout = id;
}

static void event(struct vsnd_control *c, const char *type, const char *subject, json_t *detail)
{
	/* Reals to 9 significant digits: 12.8, not 12.800000000000001. */
	char *text =
		detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(9))
		       : NULL;
	uint64_t id;
	int r = vsn_db_event_add(c->db, type, subject, text ? text : "{}", &id);

	if (r)
		log_err("store", "event=%s not stored: %s", type, vsn_db_errmsg(c->db));
	free(text);
	json_decref(detail);
}

static json_t *changes_json(const struct vsnd_changes *ch)
{
	json_t *a = json_array();

	for (size_t i = 0; i < ch->n; i++)
		json_array_append_new(a, json_pack("{s:s, s:I}", "node", ch->c[i].node,
						   "generation", (json_int_t)ch->c[i].generation));
	return a;
}

static void prev_free(struct vsnd_control *c)
{
	vsn_state_free(c->prev_st);
	free(c->prev_doc);
	free(c->prev_doc_name);
	c->prev_st = NULL;
	c->prev_doc = c->prev_doc_name = NULL;
	c->prev_revision = 0;
	vsnd_changes_free(&c->pending);
}

/*
 * A rollout aborted before any Commit: every node kept its set, and so does the store: each
 * node's desired set is its old one again, so a node that reconnects is not sent the aborted
 * set on its own. in_force: the revision in force to store with it (0: leave it).
 */
static int sets_revert(struct vsnd_control *c, uint64_t in_force)
{
	int r = vsn_db_begin(c->db);

	for (size_t i = 0; i < c->pending.n && !r; i++) {
		const struct vsnd_change *ch = &c->pending.c[i];

		/* A node that had no set gets generation 0 and no bytes again. */
		r = vsn_db_node_set_put(c->db, ch->node, ch->old_generation,
					ch->old_bytes ? ch->old_bytes : "", ch->old_len);
	}
	if (!r && in_force)
		r = vsn_db_meta_set_u64(c->db, META_IN_FORCE, in_force);
	if (!r)
		r = vsn_db_commit(c->db);
	if (r) {
		vsn_db_rollback(c->db);
		return r;
	}
	for (size_t i = 0; i < c->pending.n; i++) {
		const struct vsnd_change *ch = &c->pending.c[i];
		struct vsn_ctl_set *old = NULL;

		if (ch->old_generation && ctl_set_of(ch->old_bytes, ch->old_len, &old))
			old = NULL;
		desired_since(c, ch->node, ch->old_generation);
		vsn_ctl_set_node(c->d->ctl, ch->node, old, VSN_CTL_NO_PUSH);
		vsn_ctl_set_unref(old);
	}
	return 0;
}

/* An apply's rollout aborted: its sets, and the document before it, are back in force. */
static int revert(struct vsnd_control *c)
{
	int r = sets_revert(c, c->prev_revision);

	if (r)
		return r;
	vsn_state_free(c->st);
	free(c->doc);
	free(c->doc_name);
	c->st = c->prev_st;
	c->doc = c->prev_doc;
	c->doc_name = c->prev_doc_name;
	c->revision = c->prev_revision;
	c->prev_st = NULL;
	c->prev_doc = c->prev_doc_name = NULL;
	vsnd_switch_rebuild(c);
	if (vsnd_health_rebuild(c))
		log_err("slb-health", "probes not all set (out of memory)");
	return 0;
}

static void on_rollout(const struct vsn_ctl_rollout_result *res, void *arg)
{
	struct vsnd_control *c = arg;
	uint64_t aborted_rev = c->revision;
	bool reverted = false, was_switch = c->rollout_switch;
	char sub[32];
	int r;

	vsnd_on_rollout(res, c->d);
	c->rollout_running = false;
	if (res->err && !res->after_commit && c->rollout_switch) {
		/*
		 * The switch stands (its condition still holds): its sets go to each node on its
		 * own, under new generations (the aborted ones count as refused).
		 */
		r = sets_revert(c, 0);
		if (r)
			log_err("rollout", "id=%llu revert=failed error=\"%s\"",
				(unsigned long long)res->id, strerror(-r));
		else
			log_info("rollout",
				 "id=%llu switch=aborted: sending each node its set at once",
				 (unsigned long long)res->id);
		c->push_deferred = c->push_one_phase = true;
	} else if (res->err && !res->after_commit) {
		r = revert(c);
		reverted = !r;
		if (r)
			log_err("rollout", "id=%llu revert=failed error=\"%s\"",
				(unsigned long long)res->id, strerror(-r));
		else
			log_info("rollout", "id=%llu revision=%llu reverted_to=%llu",
				 (unsigned long long)res->id, (unsigned long long)aborted_rev,
				 (unsigned long long)c->revision);
	}
	prev_free(c);
	c->rollout_switch = false;
	/* Evaluations wait for a rollout: the next one now. */
	if (c->eval_ev)
		event_active(c->eval_ev, EV_TIMEOUT, 1);
	c->m.rollouts++;
	if (res->err)
		c->m.rollouts_aborted++;
	else if (res->spread_ms >= 0)
		vsnd_hist_add(&c->m.rollout_skew, res->spread_ms / 1000.0);
	snprintf(sub, sizeof(sub), "rollout %llu", (unsigned long long)res->id);
	event(c, res->err ? "rollout-aborted" : "rollout-committed", sub,
	      json_pack("{s:s, s:I, s:s?, s:s?, s:s, s:f, s:f, s:f, s:I, s:I, s:o}", "cause",
			was_switch ? "switch" : "apply", "nodes", (json_int_t)res->n_nodes,
			"failed_node", res->failed_node, "error",
			res->err ? strerror(-res->err) : NULL, "message",
			res->message ? res->message : "", "prepare_ms", res->prepare_ms,
			"commit_ms", res->commit_ms, "skew_ms", res->spread_ms, "aborted",
			(json_int_t)res->n_aborted, "revision", (json_int_t)aborted_rev,
			"reverted_to",
			reverted ? json_integer((json_int_t)c->revision) : json_null()));
}

/* Apply a parsed document (taking st) as a new revision. */
static int apply_state(struct vsnd_control *c, struct vsn_state *st, const char *text,
		       const char *name, const char *author, const char *message,
		       uint64_t *ret_revision, struct vsnd_changes *ret, uint64_t *ret_rollout,
		       struct vsn_api_err *err)
{
	struct vsnd_changes ch = {0};
	struct names nodes = {0};
	uint64_t rev = 0;
	char sub[32];
	int r;

	r = vsn_db_begin(c->db);
	if (r) {
		vsn_state_free(st);
		return vsn_api_fail(err, r, 503, "the store is busy: %s", vsn_db_errmsg(c->db));
	}
	r = recompile(c, st, true, &ch, &nodes, NULL, NULL);
	if (r == -ENOSPC) {
		vsn_api_fail(err, r, 400,
			     "%s: more policies, services or SLBs than the nodes hold (--max-*); "
			     "nothing changed",
			     name);
		goto fail;
	}
	if (!r)
		r = vsn_db_revision_add(c->db, author, message, text, &rev);
	if (!r)
		r = vsn_db_meta_set_u64(c->db, META_IN_FORCE, rev);
	if (!r) {
		json_t *detail = json_pack("{s:s, s:s, s:o}", "author", author, "message", message,
					   "changed", changes_json(&ch));
		char *text_detail =
			detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		uint64_t id;

		snprintf(sub, sizeof(sub), "revision %llu", (unsigned long long)rev);
		r = text_detail ? vsn_db_event_add(c->db, "apply", sub, text_detail, &id) : -ENOMEM;
		free(text_detail);
		json_decref(detail);
	}
	if (!r)
		r = vsn_db_commit(c->db);
	if (r) {
		vsn_api_fail(err, r, 500, "not applied, nothing changed: %s (%s)", strerror(-r),
			     vsn_db_errmsg(c->db));
		goto fail;
	}
	/* Stored: the document is in force (until its rollout, if any, aborts). */
	c->prev_st = c->st;
	c->prev_doc = c->doc;
	c->prev_doc_name = c->doc_name;
	c->prev_revision = c->revision;
	c->st = st;
	c->doc = strdup(text);
	c->doc_name = strdup(name);
	c->revision = rev;
	c->m.applies++;
	if (vsnd_switch_rebuild(c))
		log_err("switch", "revision=%llu: conditions not evaluated (out of memory)",
			(unsigned long long)rev);
	if (vsnd_health_rebuild(c))
		log_err("slb-health", "revision=%llu: probes not all set (out of memory)",
			(unsigned long long)rev);
	log_info("apply", "revision=%llu author=\"%s\" services=%zu nodes=%zu changed_nodes=%zu",
		 (unsigned long long)rev, author, st->n_services, nodes.n, ch.n);
	push(c, &ch, ret_rollout);
	*ret_revision = rev;
	*ret = ch;
	if (c->rollout_running) {
		/* The rollout's result decides; the caller gets its own copy of the names. */
		c->pending = ch;
		*ret = (struct vsnd_changes){0};
		if (changes_copy(&c->pending, ret))
			*ret = (struct vsnd_changes){0};
	} else {
		prev_free(c);
	}
	names_free(&nodes);
	return 0;
fail:
	vsn_db_rollback(c->db);
	vsnd_changes_free(&ch);
	names_free(&nodes);
	vsn_state_free(st);
	c->m.apply_errors++;
	return r;
}

int vsnd_control_apply(struct vsnd_control *c, const char *text, size_t len, const char *name,
		       const char *author, const char *message, uint64_t *ret_revision,
		       struct vsnd_changes *ret_changes, uint64_t *ret_rollout,
		       struct vsn_api_err *err)
{
	struct vsn_state *st;
	int r;

	if (c->rollout_running)
		return vsn_api_fail(err, -EBUSY, 409,
				    "rollout %llu is still running: apply again once it ended",
				    (unsigned long long)c->rollout_id);
	r = vsnd_control_parse(text, len, name, &st, err);
	if (r) {
		c->m.apply_errors++;
		return r;
	}
	return apply_state(c, st, text, name, author, message, ret_revision, ret_changes,
			   ret_rollout, err);
}

int vsnd_control_rollback(struct vsnd_control *c, uint64_t rev, const char *author,
			  const char *message, uint64_t *ret_revision, struct vsnd_changes *ret,
			  uint64_t *ret_rollout, struct vsn_api_err *err)
{
	struct vsn_db_revision *old;
	char name[64], msg[256];
	int r;

	r = vsn_db_revision_get(c->db, rev, &old);
	if (r == -ENOENT)
		return vsn_api_fail(err, r, 404, "no revision %llu", (unsigned long long)rev);
	if (r)
		return vsn_api_fail(err, r, 500, "%s", vsn_db_errmsg(c->db));
	snprintf(name, sizeof(name), "revision-%llu", (unsigned long long)rev);
	snprintf(msg, sizeof(msg), "%s%srollback to revision %llu", message, *message ? ": " : "",
		 (unsigned long long)rev);
	r = vsnd_control_apply(c, old->document, strlen(old->document), name, author, msg,
			       ret_revision, ret, ret_rollout, err);
	free(old);
	return r;
}

/* A policy's key in a set: where it matches. */
static bool same_key(const struct vsn_dp_policy *a, const struct vsn_dp_policy *b)
{
	return a->vip.family == b->vip.family && !memcmp(a->vip.bytes, b->vip.bytes, 16) &&
	       a->vip_plen == b->vip_plen && a->proto == b->proto && a->port == b->port;
}

static const struct vsn_dp_pool *pool_of(const struct vsn_dp_set *s, uint32_t id)
{
	return id && id <= s->n_pools ? &s->pools[id - 1] : NULL;
}

static bool same_pool_members(const struct vsn_dp_pool *a, const struct vsn_dp_pool *b)
{
	return (!a && !b) || (a && b && a->n_members == b->n_members &&
			      !memcmp(a->members, b->members, a->n_members * sizeof(*a->members)));
}

/* Whether a policy sends its packets elsewhere than before (pools compared by members). */
static bool same_policy(const struct vsn_dp_set *sa, const struct vsn_dp_policy *a,
			const struct vsn_dp_set *sb, const struct vsn_dp_policy *b)
{
	if (a->slb_id != b->slb_id || a->service_id != b->service_id ||
	    a->on_change != b->on_change || a->n_clients != b->n_clients ||
	    !same_pool_members(pool_of(sa, a->pool_id), pool_of(sb, b->pool_id)))
		return false;
	for (size_t i = 0; i < a->n_clients; i++) {
		const struct vsn_dp_client *x = &a->clients[i], *y = &b->clients[i];

		if (x->plen != y->plen || memcmp(x->prefix.bytes, y->prefix.bytes, 16) ||
		    x->slb_id != y->slb_id ||
		    !same_pool_members(pool_of(sa, x->pool_id), pool_of(sb, y->pool_id)))
			return false;
	}
	return true;
}

/* Counts of what changes between two serialized sets of a node (old may be NULL). */
static void set_diff(const uint8_t *old, size_t old_len, const uint8_t *now, size_t now_len,
		     struct vsnd_node_diff *d)
{
	static const struct vsn_dp_set empty;
	struct vsn_dp_set *a = NULL, *b = NULL;
	const struct vsn_dp_set *sa, *sb;

	if (old)
		vsn_proto_set_from_bytes(old, old_len, &a, NULL, NULL);
	vsn_proto_set_from_bytes(now, now_len, &b, NULL, NULL);
	sa = a ? a : &empty;
	sb = b ? b : &empty;
	/* Both sorted by key (compile.c): one merge walk. */
	for (size_t i = 0, k = 0; i < sa->n_policies || k < sb->n_policies;) {
		const struct vsn_dp_policy *x = i < sa->n_policies ? &sa->policies[i] : NULL;
		const struct vsn_dp_policy *y = k < sb->n_policies ? &sb->policies[k] : NULL;

		if (x && y && same_key(x, y)) {
			d->policies.changed += !same_policy(sa, x, sb, y);
			i++;
			k++;
		} else if (y && (!x || memcmp(y->vip.bytes, x->vip.bytes, 16) < 0 ||
				 (!memcmp(y->vip.bytes, x->vip.bytes, 16) &&
				  (y->proto < x->proto ||
				   (y->proto == x->proto && y->port < x->port))))) {
			d->policies.added++;
			k++;
		} else {
			d->policies.removed++;
			i++;
		}
	}
	for (size_t i = 0; i < sb->n_slbs; i++) {
		bool found = false;

		for (size_t k = 0; k < sa->n_slbs && !found; k++)
			if (sa->slbs[k].id == sb->slbs[i].id) {
				found = true;
				d->slbs.changed += sa->slbs[k].state != sb->slbs[i].state ||
						   memcmp(&sa->slbs[k].addr, &sb->slbs[i].addr,
							  sizeof(sb->slbs[i].addr));
			}
		d->slbs.added += !found;
	}
	for (size_t k = 0; k < sa->n_slbs; k++) {
		bool found = false;

		for (size_t i = 0; i < sb->n_slbs && !found; i++)
			found = sa->slbs[k].id == sb->slbs[i].id;
		d->slbs.removed += !found;
	}
	for (size_t i = 0; i < sa->n_pools || i < sb->n_pools; i++) {
		if (i >= sa->n_pools)
			d->pools.added++;
		else if (i >= sb->n_pools)
			d->pools.removed++;
		else
			d->pools.changed += !same_pool_members(&sa->pools[i], &sb->pools[i]);
	}
	vsn_proto_set_free(a);
	vsn_proto_set_free(b);
}

int vsnd_control_diff_nodes(struct vsnd_control *c, const struct vsn_state *next,
			    struct vsnd_node_diff **ret, size_t *ret_n, struct vsn_api_err *err)
{
	struct vsnd_node_diff *diffs = NULL, *out;
	struct vsnd_changes ch = {0};
	struct names nodes = {0};
	bool *changed = NULL;
	size_t n = 0;
	int r;

	/* Ids a new document needs are allocated, compared, and rolled back: nothing stays. */
	r = vsn_db_begin(c->db);
	if (r)
		return vsn_api_fail(err, r, 503, "the store is busy: %s", vsn_db_errmsg(c->db));
	r = all_nodes(c, next, &nodes);
	if (!r) {
		diffs = calloc(nodes.n + 1, sizeof(*diffs));
		r = diffs ? 0 : -ENOMEM;
	}
	names_free(&nodes);
	if (!r)
		r = recompile(c, next, false, &ch, &nodes, &changed, diffs);
	vsn_db_rollback(c->db);
	if (r) {
		names_free(&nodes);
		free(diffs);
		if (r == -ENOSPC)
			return vsn_api_fail(err, r, 400,
					    "more policies, services or SLBs than the nodes hold");
		return vsn_api_fail(err, r, 500, "%s", strerror(-r));
	}
	out = diffs;
	for (size_t i = 0; i < nodes.n; i++)
		if (changed[i]) {
			out[n] = diffs[i];
			out[n++].node = nodes.v[i];
			nodes.v[i] = NULL;
		}
	names_free(&nodes);
	free(changed);
	*ret = out;
	*ret_n = n;
	return 0;
}

static void pins_free(struct vsnd_control *c)
{
	for (size_t i = 0; i < c->n_pins; i++) {
		free(c->pins[i].service);
		free(c->pins[i].configuration);
		free(c->pins[i].author);
	}
	free(c->pins);
	c->pins = NULL;
	c->n_pins = 0;
}

static int pin_add(struct vsnd_control *c, const char *service, const char *cfg, const char *author,
		   int64_t at_ms)
{
	struct vsnd_pin *v = realloc(c->pins, (c->n_pins + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	c->pins = v;
	v = &c->pins[c->n_pins];
	v->service = strdup(service);
	v->configuration = strdup(cfg);
	v->author = strdup(author);
	v->at_ms = at_ms;
	if (!v->service || !v->configuration || !v->author) {
		free(v->service);
		free(v->configuration);
		free(v->author);
		return -ENOMEM;
	}
	c->n_pins++;
	return 0;
}

static void pin_remove(struct vsnd_control *c, const char *service)
{
	for (size_t i = 0; i < c->n_pins; i++)
		if (!strcmp(c->pins[i].service, service)) {
			free(c->pins[i].service);
			free(c->pins[i].configuration);
			free(c->pins[i].author);
			c->pins[i] = c->pins[--c->n_pins];
			return;
		}
}

static char *pins_json(const struct vsnd_control *c)
{
	json_t *a = json_array();
	char *t;

	for (size_t i = 0; i < c->n_pins; i++)
		json_array_append_new(
			a, json_pack("{s:s, s:s, s:s, s:I}", "service", c->pins[i].service,
				     "configuration", c->pins[i].configuration, "author",
				     c->pins[i].author, "at_ms", (json_int_t)c->pins[i].at_ms));
	t = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return t;
}

static int pins_load(struct vsnd_control *c)
{
	char *text = NULL;
	json_t *a, *e;
	size_t i;
	int r = vsn_db_meta_get_text(c->db, META_PINS, &text);

	if (r == -ENOENT)
		return 0;
	if (r)
		return r;
	a = json_loads(text, 0, NULL);
	free(text);
	if (!json_is_array(a)) {
		json_decref(a);
		return -EBADMSG;
	}
	json_array_foreach(a, i, e)
	{
		const char *sv = json_string_value(json_object_get(e, "service"));
		const char *cf = json_string_value(json_object_get(e, "configuration"));
		const char *au = json_string_value(json_object_get(e, "author"));

		if (sv && cf &&
		    (r = pin_add(c, sv, cf, au ? au : "",
				 json_integer_value(json_object_get(e, "at_ms")))))
			break;
	}
	json_decref(a);
	return r;
}

/*
 * One transaction: the meta value key (NULL: none) and every node's set compiled with the
 * document and overrides in force, a changed one stored under a new generation (*ret).
 */
static int recompile_stored(struct vsnd_control *c, const char *key, const char *text,
			    struct vsnd_changes *ret)
{
	struct names nodes = {0};
	int r = vsn_db_begin(c->db);

	if (r)
		return r;
	if (key)
		r = vsn_db_meta_set_text(c->db, key, text);
	if (!r)
		r = recompile(c, c->st, true, ret, &nodes, NULL, NULL);
	if (!r)
		r = vsn_db_commit(c->db);
	if (r)
		vsn_db_rollback(c->db);
	names_free(&nodes);
	return r;
}

/* Operators' overrides (pins, drains) go to each changed node at once, not in two phases. */
static void push_each(struct vsnd_control *c, const struct vsnd_changes *ch)
{
	for (size_t i = 0; i < ch->n; i++) {
		desired_since(c, ch->c[i].node, ch->c[i].generation);
		vsn_ctl_set_node(c->d->ctl, ch->c[i].node, ch->c[i].set, 0);
	}
}

int vsnd_control_pin(struct vsnd_control *c, const char *service, const char *configuration,
		     const char *author, struct vsnd_changes *ret, struct vsn_api_err *err)
{
	const struct vsn_state_service *vs = c->st ? vsn_state_service_find(c->st, service) : NULL;
	const struct vsnd_pin *old = pin_find(c, service);
	struct vsnd_changes ch = {0};
	char *prev_cfg = NULL, *prev_author = NULL, *text;
	int64_t prev_at = 0;
	int r;

	if (!vs)
		return vsn_api_fail(err, -ENOENT, 404, "no service '%s' in the document in force",
				    service);
	if (configuration && !vsn_state_config_find(vs, configuration))
		return vsn_api_fail(err, -ENOENT, 404, "service '%s' has no configuration '%s'",
				    service, configuration);
	if (c->rollout_running)
		return vsn_api_fail(err, -EBUSY, 409, "rollout %llu is still running",
				    (unsigned long long)c->rollout_id);
	/* Keep the old pin to put it back should the store refuse. */
	if (old) {
		prev_cfg = strdup(old->configuration);
		prev_author = strdup(old->author);
		prev_at = old->at_ms;
	}
	pin_remove(c, service);
	r = configuration ? pin_add(c, service, configuration, author, now_ms()) : 0;
	text = r ? NULL : pins_json(c);
	r = r ? r : text ? recompile_stored(c, META_PINS, text, &ch) : -ENOMEM;
	free(text);
	if (r) {
		pin_remove(c, service);
		if (prev_cfg && prev_author)
			pin_add(c, service, prev_cfg, prev_author, prev_at);
		free(prev_cfg);
		free(prev_author);
		vsnd_changes_free(&ch);
		return vsn_api_fail(err, r, 500, "not stored: %s", vsn_db_errmsg(c->db));
	}
	event(c, configuration ? "pin" : "unpin", service,
	      json_pack("{s:s?, s:s?, s:s, s:o}", "configuration", configuration, "previous",
			prev_cfg, "author", author, "changed", changes_json(&ch)));
	log_info(configuration ? "pin" : "unpin", "service=%s configuration=%s previous=%s",
		 service, configuration ? configuration : "-", prev_cfg ? prev_cfg : "-");
	free(prev_cfg);
	free(prev_author);
	/* An operator's override, like a drain: to each node at once. */
	push_each(c, &ch);
	*ret = ch;
	return 0;
}

int vsnd_switch_push(struct vsnd_control *c, struct vsnd_changes *ret)
{
	struct vsnd_changes ch = {0};
	uint64_t id;
	bool one_phase = c->push_one_phase;
	int r;

	if (c->rollout_running) {
		c->push_deferred = true; /* its result may change the sets: after it */
		return -EBUSY;
	}
	c->push_deferred = c->push_one_phase = false;
	r = recompile_stored(c, NULL, NULL, &ch);
	if (r) {
		log_err("switch", "sets not stored: %s", vsn_db_errmsg(c->db));
		vsnd_changes_free(&ch);
		return r;
	}
	/* Like an apply's: every node of the service flips together, unless a rollout of the
	 * same switch aborted. */
	if (one_phase) {
		push_each(c, &ch);
	} else {
		push(c, &ch, &id);
		if (c->rollout_running) {
			/* Its old sets, should it abort; the caller gets the names. */
			c->rollout_switch = true;
			c->pending = ch;
			ch = (struct vsnd_changes){0};
			if (ret && changes_copy(&c->pending, ret))
				*ret = (struct vsnd_changes){0};
			return 0;
		}
	}
	if (ret)
		*ret = ch;
	else
		vsnd_changes_free(&ch);
	return 0;
}

void vsnd_control_event(struct vsnd_control *c, const char *type, const char *subject,
			json_t *detail)
{
	event(c, type, subject, detail);
}

void vsnd_control_event_slb_health(struct vsnd_control *c, const char *slb, const char *from,
				   const char *to, const char *reason)
{
	event(c, "slb-health", slb,
	      json_pack("{s:s, s:s, s:s, s:s}", "slb", slb, "from", from, "to", to, "reason",
			reason ? reason : ""));
}

bool vsnd_control_drained(const struct vsnd_control *c, const char *slb)
{
	for (size_t i = 0; i < c->n_drained; i++)
		if (!strcmp(c->drained[i], slb))
			return true;
	return false;
}

/* The drained list as the store keeps it: names, one per line. */
static char *drained_text(const struct vsnd_control *c)
{
	size_t len = 1;
	char *t;

	for (size_t i = 0; i < c->n_drained; i++)
		len += strlen(c->drained[i]) + 1;
	t = calloc(1, len);
	for (size_t i = 0; t && i < c->n_drained; i++) {
		strcat(t, c->drained[i]);
		strcat(t, "\n");
	}
	return t;
}

static int drained_load(struct vsnd_control *c)
{
	char *text = NULL, *save = NULL;
	int r = vsn_db_meta_get_text(c->db, META_DRAINED, &text);

	if (r == -ENOENT)
		return 0;
	if (r)
		return r;
	for (char *l = strtok_r(text, "\n", &save); l && !r; l = strtok_r(NULL, "\n", &save)) {
		char **v = realloc(c->drained, (c->n_drained + 1) * sizeof(*v));

		if (!v) {
			r = -ENOMEM;
			break;
		}
		c->drained = v;
		v[c->n_drained] = strdup(l);
		r = v[c->n_drained++] ? 0 : -ENOMEM;
	}
	free(text);
	return r;
}

/* SlbState to every node for each id the SLB has (one per way it is reached). */
void vsnd_control_broadcast_state(struct vsnd_control *c, const struct vsn_state_slb *slb,
				  enum vsn_slb_state state)
{
	static const char *const fwd[] = {"l2", "ipip", "gue"};

	for (size_t i = 0; i < 3; i++) {
		char key[VSN_COMPILE_KEY_MAX];
		size_t nodes = 0;
		uint32_t id;

		snprintf(key, sizeof(key), "%s/%s", slb->name, fwd[i]);
		if (vsn_db_id_get(c->db, VSN_DB_ID_SLB, key, &id))
			continue;
		vsn_ctl_slb_state(c->d->ctl, id, (Vsn__SlbStateValue)state, &nodes);
		log_info("slb-state", "slb=%s id=%u state=%s nodes=%zu", slb->name, id,
			 vsn_slb_state_name(state), nodes);
	}
}

int vsnd_control_drain(struct vsnd_control *c, const char *name, bool drain, const char *author,
		       bool *ret_changed, struct vsn_api_err *err)
{
	const struct vsn_state_slb *slb = c->st ? vsn_state_slb_find(c->st, name) : NULL;
	struct vsnd_changes ch = {0};
	char *text, **v;
	int r;

	if (!slb)
		return vsn_api_fail(err, -ENOENT, 404, "no SLB '%s' in the document in force",
				    name);
	if (vsnd_control_drained(c, name) == drain) {
		*ret_changed = false;
		return 0;
	}
	if (c->rollout_running)
		return vsn_api_fail(err, -EBUSY, 409, "rollout %llu is still running",
				    (unsigned long long)c->rollout_id);
	if (drain) {
		v = realloc(c->drained, (c->n_drained + 1) * sizeof(*v));
		if (!v || !(v[c->n_drained] = strdup(name))) {
			if (v)
				c->drained = v;
			return vsn_api_fail(err, -ENOMEM, 500, "out of memory");
		}
		c->drained = v;
		c->n_drained++;
	} else {
		for (size_t i = 0; i < c->n_drained; i++)
			if (!strcmp(c->drained[i], name)) {
				free(c->drained[i]);
				c->drained[i] = c->drained[--c->n_drained];
				break;
			}
	}
	/* The state goes to every node first, in one round trip; the sets follow. */
	if (slb->state == VSN_SLB_UP && vsnd_health_of(c, slb->name) != VSN_HEALTH_DOWN)
		vsnd_control_broadcast_state(c, slb, drain ? VSN_SLB_DRAIN : VSN_SLB_UP);
	text = drained_text(c);
	r = text ? recompile_stored(c, META_DRAINED, text, &ch) : -ENOMEM;
	free(text);
	if (r) {
		vsnd_changes_free(&ch);
		return vsn_api_fail(err, r, 500, "not stored: %s", vsn_db_errmsg(c->db));
	}
	event(c, drain ? "slb-drain" : "slb-undrain", name,
	      json_pack("{s:s, s:o}", "author", author, "changed", changes_json(&ch)));
	/* The nodes have the state already: their new sets need no two phases. */
	push_each(c, &ch);
	vsnd_changes_free(&ch);
	*ret_changed = true;
	return 0;
}

void vsnd_control_on_event(struct vsnd_control *c, const struct vsn_ctl_event *ev)
{
	vsnd_acks_on_event(c, ev);
	switch (ev->type) {
	case VSN_CTL_EV_CONNECTED:
		event(c, "node-connected", ev->node,
		      json_pack("{s:s?, s:I, s:s?}", "address", ev->address, "running",
				(json_int_t)ev->running, "software", ev->software_version));
		break;
	case VSN_CTL_EV_STATS: {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		vsn_traffic_update(c->traffic, ev->node,
				   (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000,
				   ev->services, ev->n_services);
		break;
	}
	case VSN_CTL_EV_DISCONNECTED:
		vsn_traffic_forget(c->traffic, ev->node);
		event(c, "node-disconnected", ev->node, json_pack("{s:s?}", "reason", ev->reason));
		break;
	case VSN_CTL_EV_NACK:
		vsnd_metrics_nack(&c->m, ev->node);
		event(c, "node-nack", ev->node,
		      json_pack("{s:I, s:s, s:s?, s:I}", "generation", (json_int_t)ev->generation,
				"code", vsn_ctl_nack_code_name(ev->code), "message", ev->message,
				"bad_entry", (json_int_t)ev->bad_entry));
		break;
	case VSN_CTL_EV_ACK:
		if (!ev->prepared && ev->latency_ms > 0)
			vsnd_hist_add(&c->m.push_latency, ev->latency_ms / 1000.0);
		break;
	default:
		break;
	}
}

/* Every node's stored set to the controller, for when they connect. */
static int desire_stored(const char *node, uint64_t gen, const void *set, size_t len, void *arg)
{
	struct vsnd_control *c = arg;
	struct vsn_ctl_set *s;
	int r;

	if (!gen)
		return 0;
	r = ctl_set_of(set, len, &s);
	if (r)
		return r;
	desired_since(c, node, gen);
	r = vsn_ctl_set_node(c->d->ctl, node, s, 0);
	vsn_ctl_set_unref(s);
	return r;
}

static int load_in_force(struct vsnd_control *c)
{
	struct vsn_api_err err = {0};
	struct vsn_db_revision *rev;
	char name[64];
	int r;

	r = vsn_db_meta_get_u64(c->db, META_IN_FORCE, &c->revision);
	if (r == -ENOENT)
		r = vsn_db_revision_latest(c->db, &c->revision);
	if (!r && !c->revision)
		r = -ENOENT; /* the first apply's rollout was aborted: nothing in force */
	if (r == -ENOENT) {
		c->revision = 0;
		log_info("start", "store=%s revision=none: waiting for vsn apply", c->d->o.db);
		return 0;
	}
	if (!r)
		r = vsn_db_revision_get(c->db, c->revision, &rev);
	if (r)
		return r;
	snprintf(name, sizeof(name), "revision-%llu", (unsigned long long)c->revision);
	r = vsnd_control_parse(rev->document, strlen(rev->document), name, &c->st, &err);
	if (r)
		log_err("start", "revision=%llu does not parse any more: %s",
			(unsigned long long)c->revision, err.message);
	else
		c->doc = strdup(rev->document);
	c->doc_name = strdup(name);
	vsn_api_err_clear(&err);
	free(rev);
	return r;
}

static void on_eval(evutil_socket_t fd, short what, void *arg)
{
	struct vsnd_control *c = arg;

	vsnd_acks_expire(c);
	vsnd_switch_tick(c);
	/* What changed while a rollout ran (an SLB's state), once no switch took its place. */
	if (c->push_deferred && !c->rollout_running)
		vsnd_switch_push(c, NULL);
}

static void on_access(const struct vsn_api_access *a, void *arg)
{
	log_info("api", "method=%s path=%s peer=%s status=%d role=%s ms=%.3f", a->method, a->path,
		 a->peer, a->status, vsn_api_role_name(a->role), a->ms);
}

int vsnd_control_start(struct vsnd *d)
{
	struct vsnd_control *c = calloc(1, sizeof(*c));
	struct vsn_api_opts ao = {
		.sz = sizeof(ao),
		.listen = d->o.api,
		.cert_file = d->o.cert,
		.key_file = d->o.key,
		.tokens_file = d->o.tokens,
		.ops = &vsnd_api_ops,
		.on_access = on_access,
	};
	struct vsn_api_msg msg = {{0}};
	char err[VSN_DB_ERR_LEN] = "";
	int r;

	if (!c)
		return -ENOMEM;
	c->d = d;
	d->control = c;
	if (vsn_traffic_new(0, &c->traffic))
		return -ENOMEM;
	r = vsn_db_open(d->o.db, &c->db, err);
	if (r) {
		log_err("start", "store=%s error=\"%s\"", d->o.db, err);
		return r;
	}
	r = drained_load(c);
	if (!r)
		r = pins_load(c);
	if (!r)
		r = load_in_force(c);
	if (!r)
		r = vsn_db_nodes_list(c->db, desire_stored, c);
	if (r) {
		log_err("start", "store=%s error=\"%s\"", d->o.db,
			*vsn_db_errmsg(c->db) ? vsn_db_errmsg(c->db) : strerror(-r));
		return r;
	}
	r = vsnd_switch_rebuild(c);
	if (!r)
		r = vsnd_health_rebuild(c);
	if (!r) {
		uint32_t ms = d->o.eval_interval_ms ? d->o.eval_interval_ms : 500;
		struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

		c->eval_ev = event_new(d->base, -1, EV_PERSIST, on_eval, c);
		r = c->eval_ev ? event_add(c->eval_ev, &tv) : -ENOMEM;
	}
	if (r) {
		log_err("start", "conditions cannot be evaluated: %s", strerror(-r));
		return r;
	}
	ao.ops_arg = c;
	r = vsn_api_new(d->base, &ao, &c->api, &msg);
	if (r) {
		log_err("start", "api=%s error=\"%s\"", d->o.api, msg.msg);
		return r;
	}
	log_info("start", "mode=controller store=%s revision=%llu api=%s port=%d two_phase=%s",
		 d->o.db, (unsigned long long)c->revision, d->o.api, vsn_api_port(c->api),
		 d->o.one_phase ? "false" : "true");
	return 0;
}

void vsnd_control_reload(struct vsnd *d)
{
	struct vsnd_control *c = d->control;
	struct vsn_api_msg msg = {{0}};

	if (vsn_api_reload_tokens(c->api, &msg))
		log_err("reload", "tokens=kept error=\"%s\"", msg.msg);
	else
		log_info("reload", "tokens=reloaded file=%s", d->o.tokens);
	if (vsn_api_reload_cert(c->api, &msg))
		log_err("reload", "api_certificate=kept error=\"%s\"", msg.msg);
}

void vsnd_control_stop(struct vsnd *d)
{
	struct vsnd_control *c = d->control;

	if (!c)
		return;
	vsn_api_free(c->api);
	if (c->eval_ev)
		event_free(c->eval_ev);
	vsnd_switch_free(c);
	vsnd_acks_free(c);
	vsnd_health_free(c);
	vsn_db_close(c->db);
	vsn_traffic_free(c->traffic);
	vsn_state_free(c->st);
	free(c->doc);
	free(c->doc_name);
	prev_free(c);
	pins_free(c);
	for (size_t i = 0; i < c->n_drained; i++)
		free(c->drained[i]);
	free(c->drained);
	for (size_t i = 0; i < c->n_desired; i++)
		free(c->desired[i].node);
	free(c->desired);
	vsnd_metrics_free(&c->m);
	free(c);
	d->control = NULL;
}
