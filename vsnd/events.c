/* SPDX-License-Identifier: Apache-2.0 */
/* One structured log line per controller event and per rollout result (docs/vsnd.md, "Logs"). */
#include <stdio.h>
#include <string.h>

#include "control.h"
#include "vsnd.h"

#define Q(s, buf) vsn_log_quote((s) ? (s) : "", buf, sizeof(buf))

static void log_nack(const struct vsnd *d, const struct vsn_ctl_event *ev)
{
	char node[300], msg[600], entry[600] = "", where[700] = "";

	if (vsnd_sets_entry(&d->sets, ev->generation, ev->bad_entry, entry, sizeof(entry))) {
		char q[650];

		snprintf(where, sizeof(where), " entry=%s", Q(entry, q));
	}
	if (ev->code == VSN__NACK_CODE__NACK_STALE) {
		/* The one an operator must act on: the file's generation went backwards. */
		log_err("nack",
			"node=%s generation=%llu code=%s running_generation=%llu message=%s "
			"hint=\"the node runs a newer set than this one: raise the file's "
			"generation (or touch it when it has none) and reload\"",
			Q(ev->node, node), (unsigned long long)ev->generation,
			vsn_ctl_nack_code_name(ev->code), (unsigned long long)ev->running,
			Q(ev->message, msg));
		return;
	}
	log_err("nack",
		"node=%s generation=%llu code=%s bad_entry=%llu%s message=%s keeps_generation=%llu",
		Q(ev->node, node), (unsigned long long)ev->generation,
		vsn_ctl_nack_code_name(ev->code), (unsigned long long)ev->bad_entry, where,
		Q(ev->message, msg), (unsigned long long)ev->running);
}

static int desired_of(const struct vsn_ctl_node_status *st, void *arg)
{
	*(uint64_t *)arg = st->desired;
	return 0;
}

void vsnd_on_event(const struct vsn_ctl_event *ev, void *arg)
{
	const struct vsnd *d = arg;
	char node[300], a[200], reason[600], sw[200];

	if (d->control)
		vsnd_control_on_event(d->control, ev);
	switch (ev->type) {
	case VSN_CTL_EV_CONNECTED: {
		const struct vsnd_file *f = vsnd_sets_for_node(d, ev->node);
		uint64_t desired = f ? vsn_ctl_set_generation(f->set) : 0;
		char want[24] = "none";

		/* In controller mode the store's set, as the controller holds it. */
		if (!f && ev->node)
			vsn_ctl_node_status(d->ctl, ev->node, desired_of, &desired);
		if (desired)
			snprintf(want, sizeof(want), "%llu", (unsigned long long)desired);
		log_info("connected",
			 "node=%s address=%s running_generation=%llu desired_generation=%s "
			 "software=%s",
			 Q(ev->node, node), ev->address ? Q(ev->address, a) : "-",
			 (unsigned long long)ev->generation, want, Q(ev->software_version, sw));
		break;
	}
	case VSN_CTL_EV_IN_SYNC:
		log_info("in-sync", "node=%s generation=%llu", Q(ev->node, node),
			 (unsigned long long)ev->generation);
		break;
	case VSN_CTL_EV_DISCONNECTED:
		log_warn("disconnected", "node=%s error=%s reason=%s", Q(ev->node, node),
			 Q(strerror(-ev->err), a), Q(ev->reason, reason));
		break;
	case VSN_CTL_EV_REFUSED:
		log_warn("refused", "node=%s error=%s reason=%s",
			 ev->node ? Q(ev->node, node) : "-", Q(strerror(-ev->err), a),
			 Q(ev->reason, reason));
		break;
	case VSN_CTL_EV_PUSH:
		log_info("push", "node=%s generation=%llu bytes=%zu chunks=%zu hold=%s",
			 Q(ev->node, node), (unsigned long long)ev->generation, ev->bytes,
			 ev->chunks, ev->hold ? "true" : "false");
		break;
	case VSN_CTL_EV_ACK:
		log_info("ack", "node=%s generation=%llu prepared=%s latency_ms=%.3f",
			 Q(ev->node, node), (unsigned long long)ev->generation,
			 ev->prepared ? "true" : "false", ev->latency_ms);
		break;
	case VSN_CTL_EV_NACK:
		log_nack(d, ev);
		break;
	case VSN_CTL_EV_STATS:
		log_debug("stats", "node=%s generation=%llu services=%zu slbs=%zu",
			  Q(ev->node, node), (unsigned long long)ev->generation, ev->n_services,
			  ev->n_slbs);
		break;
	}
}

void vsnd_on_rollout(const struct vsn_ctl_rollout_result *res, void *arg)
{
	struct vsnd *d = arg;
	char node[300], msg[600], err[200];

	for (size_t i = 0; i < res->n_nodes; i++) {
		const struct vsn_ctl_rollout_node *n = &res->nodes[i];

		log_debug("rollout-node",
			  "id=%llu node=%s generation=%llu state=%s prepared_ms=%.3f "
			  "commit_ack_ms=%.3f",
			  (unsigned long long)res->id, Q(n->node, node),
			  (unsigned long long)n->generation, vsn_ctl_ro_state_name(n->state),
			  n->prepared_ms, n->commit_ack_ms);
	}
	if (!res->err)
		log_info("rollout",
			 "id=%llu result=committed nodes=%zu prepare_ms=%.3f commit_ms=%.3f "
			 "spread_ms=%.3f",
			 (unsigned long long)res->id, res->n_nodes, res->prepare_ms, res->commit_ms,
			 res->spread_ms);
	else
		log_err("rollout",
			"id=%llu result=%s nodes=%zu failed_node=%s error=%s code=%s "
			"bad_entry=%llu aborted=%zu message=%s",
			(unsigned long long)res->id,
			res->after_commit ? "failed-after-commit" : "aborted", res->n_nodes,
			Q(res->failed_node, node), Q(strerror(-res->err), err),
			vsn_ctl_nack_code_name(res->code), (unsigned long long)res->bad_entry,
			res->n_aborted, Q(res->message, msg));
	vsnd_rollout_done(d);
}
