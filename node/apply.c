/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Policy sets on the node (docs/node.md, "Applying a set"). A set is
 * converted and validated first, then written to the store's staging file,
 * then swapped in, then the staged file replaces the persisted one, then
 * Ack. Any refusal before the swap is a Nack and leaves the running set and
 * the persisted file as they were.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "convert.h"
#include "log.h"

#define NO_ENTRY ((size_t)-1)

static void send_ack(struct agent *a, uint64_t generation, bool prepared)
{
	Vsn__Envelope env = VSN__ENVELOPE__INIT;
	Vsn__Ack ack = VSN__ACK__INIT;

	ack.generation = generation;
	ack.prepared = prepared;
	env.msg_case = VSN__ENVELOPE__MSG_ACK;
	env.ack = &ack;
	session_send(a, &env);
}

static void send_nack(struct agent *a, uint64_t generation, int err, size_t bad, const char *what)
{
	Vsn__Envelope env = VSN__ENVELOPE__INIT;
	Vsn__Nack nack = VSN__NACK__INIT;
	char msg[512];

	if (bad != NO_ENTRY)
		/* Counted from 1, as Nack.bad_entry. */
		snprintf(msg, sizeof(msg), "%s: entry %zu: %s", what, bad + 1, strerror(-err));
	else
		snprintf(msg, sizeof(msg), "%s: %s", what, strerror(-err));
	nack.generation = generation;
	nack.code = vsn_proto_nack_code(err);
	nack.message = msg;
	nack.bad_entry = bad != NO_ENTRY ? (uint64_t)bad + 1 : 0;
	env.msg_case = VSN__ENVELOPE__MSG_NACK;
	env.nack = &nack;
	log_warn("nack", "generation=%llu code=%d bad_entry=%llu error=\"%s\"",
		 (unsigned long long)generation, nack.code, (unsigned long long)nack.bad_entry,
		 msg);
	session_send(a, &env);
}

static int cmp_u32(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

	return a < b ? -1 : a > b;
}

/* Sort and deduplicate ids in place; the new count. */
static size_t sort_unique(uint32_t *ids, size_t n)
{
	size_t o = 0;

	qsort(ids, n, sizeof(*ids), cmp_u32);
	for (size_t i = 0; i < n; i++)
		if (!o || ids[o - 1] != ids[i])
			ids[o++] = ids[i];
	return o;
}

static void ids_set(struct agent *a, uint32_t *svc, size_t n_svc, uint32_t *slb, size_t n_slb)
{
	free(a->service_ids);
	free(a->slb_ids);
	a->service_ids = svc;
	a->n_service_ids = svc ? sort_unique(svc, n_svc) : 0;
	a->slb_ids = slb;
	a->n_slb_ids = slb ? sort_unique(slb, n_slb) : 0;
}

/* The ids Stats reports for a set that now runs. */
static void ids_from_set(struct agent *a, const struct vsn_dp_set *set)
{
	uint32_t *svc = malloc((set->n_policies + 1) * sizeof(*svc));
	uint32_t *slb = malloc((set->n_slbs + 1) * sizeof(*slb));

	if (!svc || !slb) {
		free(svc);
		free(slb);
		log_warn("stats", "out of memory: Stats stays with the previous set's ids");
		return;
	}
	for (size_t i = 0; i < set->n_policies; i++)
		svc[i] = set->policies[i].service_id;
	for (size_t i = 0; i < set->n_slbs; i++)
		slb[i] = set->slbs[i].id;
	ids_set(a, svc, set->n_policies, slb, set->n_slbs);
}

struct id_acc {
	uint32_t *ids;
	size_t n, cap;
};

static int id_push(struct id_acc *acc, uint32_t id)
{
	if (acc->n == acc->cap) {
		size_t cap = acc->cap ? acc->cap * 2 : 256;
		uint32_t *p = realloc(acc->ids, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		acc->ids = p;
		acc->cap = cap;
	}
	acc->ids[acc->n++] = id;
	return 0;
}

static int policy_id_cb(const struct vsn_dp_policy *p, void *arg)
{
	return id_push(arg, p->service_id);
}

static int slb_id_cb(__u32 id, const struct vsn_slb *slb, void *arg)
{
	return id_push(arg, id);
}

int apply_load_running_ids(struct agent *a)
{
	struct id_acc svc = {0}, slb = {0};
	int r;

	r = vsn_dp_policies_foreach(a->dp, policy_id_cb, &svc);
	if (!r)
		r = vsn_dp_slbs_foreach(a->dp, slb_id_cb, &slb);
	if (r) {
		free(svc.ids);
		free(slb.ids);
		return r;
	}
	ids_set(a, svc.ids, svc.n, slb.ids, slb.n);
	return 0;
}

static void schedule_trim(struct agent *a)
{
	struct timeval tv = {0, AGENT_TRIM_DELAY_MS * 1000};

	evtimer_add(a->trim_ev, &tv);
}

static void held_free(struct held_set *h)
{
	free(h->bytes);
	vsn_proto_set_free(h->set);
	memset(h, 0, sizeof(*h));
}

void apply_discard_pending(struct agent *a)
{
	if (a->prepared) {
		vsn_dp_set_abort(a->dp, a->prepared);
		a->prepared = NULL;
		vsn_store_discard_staged(a->store);
		evtimer_del(a->prepare_ev);
	}
	a->prepared_gen = 0;
	held_free(&a->held);
}

/*
 * Decode the serialized set (entry by entry: vsn_proto_set_from_bytes) and validate it against
 * this forwarder. On failure *ret_bad is the offending entry or NO_ENTRY and *ret_what says
 * which step refused.
 */
static int set_check(struct agent *a, const uint8_t *bytes, size_t len, struct vsn_dp_set **ret_set,
		     bool *ret_hold, size_t *ret_bad, const char **ret_what)
{
	struct vsn_dp_set *set = NULL;
	size_t bad = NO_ENTRY;
	int r;

	r = vsn_proto_set_from_bytes(bytes, len, &set, &bad, ret_hold);
	if (r) {
		*ret_what = "malformed set";
		goto fail;
	}
	r = vsn_dp_set_validate(a->dp, set, &bad);
	if (r) {
		*ret_what = "invalid set";
		vsn_proto_set_free(set);
		goto fail;
	}
	*ret_set = set;
	return 0;
fail:
	/* Errors that name no entry leave bad as it was. */
	*ret_bad = r == -EINVAL || r == -EEXIST || r == -ENOTUNIQ || r == -ENOENT || r == -ERANGE ||
				   r == -EAFNOSUPPORT
			   ? bad
			   : NO_ENTRY;
	return r;
}

static void log_applied(struct agent *a, const char *how, const struct vsn_dp_set *set, uint64_t t0)
{
	log_info("apply", "generation=%llu how=%s policies=%zu slbs=%zu pools=%zu ms=%llu",
		 (unsigned long long)set->generation, how, set->n_policies, set->n_slbs,
		 set->n_pools, (unsigned long long)(agent_now_ms() - t0));
}

/* Serialize msg, for a set that arrived in one frame. */
static int pack_set(const Vsn__PolicySet *msg, uint8_t **ret, size_t *ret_len)
{
	size_t len = vsn__policy_set__get_packed_size(msg);
	uint8_t *b = malloc(len ? len : 1);

	if (!b)
		return -ENOMEM;
	vsn__policy_set__pack(msg, b);
	*ret = b;
	*ret_len = len;
	return 0;
}

/*
 * A serialized set (takes bytes). envelope_gen: the generation its message or chunks announced,
 * which the set must have; Nacks of a set that does not decode name it.
 */
static void apply_set_bytes(struct agent *a, uint8_t *bytes, size_t len, uint64_t envelope_gen)
{
	uint64_t t0 = agent_now_ms(), gen;
	struct vsn_dp_set *set = NULL;
	const char *what = "";
	size_t bad = NO_ENTRY;
	bool hold = false;
	int r;

	r = set_check(a, bytes, len, &set, &hold, &bad, &what);
	if (!r && set->generation != envelope_gen) {
		vsn_proto_set_free(set);
		set = NULL;
		r = -EBADMSG;
		what = "the set's generation is not its chunks'";
	}
	if (r) {
		send_nack(a, envelope_gen, r, bad, what);
		goto out;
	}
	gen = set->generation;
	/* Whatever was pending is superseded by a newer set. */
	apply_discard_pending(a);
	if (hold) {
		a->held = (struct held_set){
			.generation = gen, .bytes = bytes, .len = len, .set = set};
		log_info("hold", "generation=%llu policies=%zu ms=%llu", (unsigned long long)gen,
			 set->n_policies, (unsigned long long)(agent_now_ms() - t0));
		bytes = NULL;
		set = NULL;
		goto out;
	}
	r = vsn_store_stage(a->store, bytes, len, gen);
	/* On disk now: the forwarder's build gets the memory. */
	free(bytes);
	bytes = NULL;
	if (r) {
		send_nack(a, gen, r, NO_ENTRY, "cannot persist the set");
		goto out;
	}
	r = vsn_dp_set_apply(a->dp, set, &bad);
	if (r) {
		vsn_store_discard_staged(a->store);
		send_nack(a, gen, r, bad, "apply failed");
		goto out;
	}
	r = vsn_store_commit_staged(a->store, gen);
	if (r)
		log_err("persist", "generation=%llu runs but is not persisted: %s",
			(unsigned long long)gen, strerror(-r));
	a->generation = gen;
	send_ack(a, gen, false);
	log_applied(a, "at-once", set, t0);
	ids_from_set(a, set);
	schedule_trim(a);
out:
	vsn_proto_set_free(set);
	free(bytes);
}

void apply_policy_set(struct agent *a, Vsn__PolicySet *msg)
{
	uint64_t gen = msg->generation;
	uint8_t *bytes;
	size_t len;
	int r;

	/* One decoding path for every set: its bytes, which the store keeps anyway. */
	r = pack_set(msg, &bytes, &len);
	vsn__policy_set__free_unpacked(msg, NULL);
	if (r)
		send_nack(a, gen, r, NO_ENTRY, "out of memory");
	else
		apply_set_bytes(a, bytes, len, gen);
}

void apply_chunk(struct agent *a, const Vsn__PolicySetChunk *c)
{
	uint8_t *bytes;
	size_t len;
	int r;

	/*
	 * After a refusal the controller starts again from chunk 0: the rest of the refused
	 * stream, already on its way, is dropped rather than refused chunk by chunk.
	 */
	if (a->chunks_refused_gen && c->generation == a->chunks_refused_gen && c->index != 0 &&
	    !a->reasm.active)
		return;
	a->chunks_refused_gen = 0;
	/* Not unpacked whole: apply_set_bytes() decodes entry by entry. */
	r = vsn_reasm_add_bytes(&a->reasm, c, NULL, &bytes, &len);
	if (r < 0) {
		a->chunks_refused_gen = c->generation;
		send_nack(a, c->generation, r, NO_ENTRY, "chunk refused");
	} else if (r == 1) {
		apply_set_bytes(a, bytes, len, c->generation);
	}
}

void apply_prepare_expired(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;

	log_warn("prepare_timeout", "generation=%llu discarded: no Commit in time",
		 (unsigned long long)a->prepared_gen);
	apply_discard_pending(a);
}

void apply_prepare(struct agent *a, const Vsn__Prepare *p)
{
	uint64_t t0 = agent_now_ms(), gen = p->generation;
	uint32_t ms = p->timeout_ms;
	size_t bad = NO_ENTRY;
	struct timeval tv;
	int r;

	if (!a->held.set || a->held.generation != gen) {
		send_nack(a, gen, -EPROTO, NO_ENTRY, "Prepare of a generation not held");
		return;
	}
	if (a->prepared) {
		vsn_dp_set_abort(a->dp, a->prepared);
		a->prepared = NULL;
	}
	r = vsn_store_stage(a->store, a->held.bytes, a->held.len, gen);
	if (r) {
		send_nack(a, gen, r, NO_ENTRY, "cannot persist the set");
		held_free(&a->held);
		return;
	}
	r = vsn_dp_set_prepare(a->dp, a->held.set, &bad, &a->prepared);
	if (r) {
		vsn_store_discard_staged(a->store);
		send_nack(a, gen, r, bad, "prepare failed");
		held_free(&a->held);
		return;
	}
	a->prepared_gen = gen;
	/* The bytes are on disk now; the set stays for Stats' ids at Commit. */
	free(a->held.bytes);
	a->held.bytes = NULL;
	if (!ms || ms > a->cfg->prepare_timeout_max_ms)
		ms = a->cfg->prepare_timeout_max_ms;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(a->prepare_ev, &tv);
	send_ack(a, gen, true);
	log_info("prepare", "generation=%llu timeout_ms=%u ms=%llu", (unsigned long long)gen, ms,
		 (unsigned long long)(agent_now_ms() - t0));
}

void apply_commit(struct agent *a, const Vsn__Commit *c)
{
	uint64_t t0 = agent_now_ms(), gen = c->generation;
	struct vsn_dp_prepared *p = a->prepared;
	int r;

	if (!p || a->prepared_gen != gen) {
		send_nack(a, gen, -EPROTO, NO_ENTRY, "Commit of a generation not prepared");
		return;
	}
	a->prepared = NULL;
	evtimer_del(a->prepare_ev);
	r = vsn_dp_set_commit(a->dp, p);
	if (r) {
		vsn_store_discard_staged(a->store);
		send_nack(a, gen, r, NO_ENTRY, "commit failed");
		apply_discard_pending(a);
		return;
	}
	/*
	 * The Ack goes out at the flip: the nodes of a rollout switch together, and the rename
	 * below, which makes the staged set the persisted one, is no part of the switch. A crash
	 * in between leaves the staged set, which the next start settles (store.h).
	 */
	a->generation = gen;
	send_ack(a, gen, false);
	r = vsn_store_commit_staged(a->store, gen);
	if (r)
		log_err("persist", "generation=%llu runs but is not persisted: %s",
			(unsigned long long)gen, strerror(-r));
	log_applied(a, "commit", a->held.set, t0);
	ids_from_set(a, a->held.set);
	apply_discard_pending(a);
	schedule_trim(a);
}

void apply_abort(struct agent *a, const Vsn__Abort *ab)
{
	if ((a->prepared && a->prepared_gen == ab->generation) ||
	    (a->held.set && a->held.generation == ab->generation)) {
		log_info("abort", "generation=%llu discarded", (unsigned long long)ab->generation);
		apply_discard_pending(a);
		/* Chunks of the aborted set still arriving would be refused one by one. */
		vsn_reasm_reset(&a->reasm);
	} else {
		log_info("abort", "generation=%llu not pending: ignored",
			 (unsigned long long)ab->generation);
	}
}

void apply_slb_state(struct agent *a, const Vsn__SlbState *s)
{
	enum vsn_slb_state st;
	int r;

	switch (s->state) {
	case VSN__SLB_STATE_VALUE__SLB_UP:
		st = VSN_SLB_UP;
		break;
	case VSN__SLB_STATE_VALUE__SLB_DOWN:
		st = VSN_SLB_DOWN;
		break;
	case VSN__SLB_STATE_VALUE__SLB_DRAIN:
		st = VSN_SLB_DRAIN;
		break;
	default:
		log_warn("slb_state", "slb=%u unknown state %d: ignored", s->slb_id, (int)s->state);
		return;
	}
	r = vsn_dp_slb_set_state(a->dp, s->slb_id, st);
	if (r)
		log_warn("slb_state", "slb=%u state=%s failed: %s", s->slb_id,
			 vsn_slb_state_name(st), strerror(-r));
	else
		log_info("slb_state", "slb=%u state=%s", s->slb_id, vsn_slb_state_name(st));
}

int apply_restore(struct agent *a, const uint8_t *bytes, size_t len)
{
	uint64_t t0 = agent_now_ms();
	struct vsn_dp_set *set = NULL;
	const char *what = "";
	size_t bad = NO_ENTRY;
	bool hold;
	int r;

	r = set_check(a, bytes, len, &set, &hold, &bad, &what);
	if (!r)
		r = vsn_dp_set_apply(a->dp, set, &bad);
	if (r) {
		log_err("restore", "persisted set refused: %s: %s%s", what, strerror(-r),
			bad != NO_ENTRY ? " (see its entry)" : "");
		goto out;
	}
	a->generation = set->generation;
	log_applied(a, "restore", set, t0);
	ids_from_set(a, set);
out:
	vsn_proto_set_free(set);
	return r;
}
