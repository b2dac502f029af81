/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Compilation (docs/controller.md, "Ids, compile and generations"): a
 * checked desired-state document, the active configuration of each service
 * and the controller's ids into the policy set of one node, holding only
 * that node's services.
 *
 * Deterministic: the same document, active configurations, ids and
 * generation give the same set, entry for entry, in the same order (policies
 * by VIP, protocol and port; SLBs by id; pools by name), so its serialized
 * bytes are identical too and a node whose set did not change is sent
 * nothing. Pure: ids come through a callback (the store allocates them).
 */
#ifndef VSN_STATE_COMPILE_H
#define VSN_STATE_COMPILE_H

#include <stddef.h>
#include <stdint.h>

#include "state.h"

enum vsn_compile_id_kind {
	VSN_COMPILE_ID_SLB,	/* key "SLB/FORWARD": an SLB reached one way */
	VSN_COMPILE_ID_SERVICE, /* key "SERVICE" */
	VSN_COMPILE_ID_POLICY,	/* key "SERVICE/PROTO/PORT" (PORT 0: every port) */
};

/* Longest id key: a service name, a protocol and a port. */
#define VSN_COMPILE_KEY_MAX (VSN_STATE_NAME_MAX + 16)

struct vsn_compile_env {
	/*
	 * The id of (kind, key): stable, and the same for every node. 0 or a
	 * negative errno (-ENOSPC: beyond the nodes' capacity), which compile
	 * returns.
	 */
	int (*id)(void *arg, enum vsn_compile_id_kind kind, const char *key, uint32_t *ret_id);
	/*
	 * The configuration service runs now (pins and conditions are the
	 * caller's; NULL: its default configuration).
	 */
	const struct vsn_state_config *(*active)(void *arg, const struct vsn_state_service *vs);
	/* The state an SLB has on the nodes (operator drains are the caller's; NULL: the
	 * document's). */
	enum vsn_slb_state (*slb_state)(void *arg, const struct vsn_state_slb *slb);
	void *arg;
};

/* Whether node runs service (its `nodes`, or every node when not given). */
bool vsn_compile_node_runs(const struct vsn_state_service *vs, const char *node);

/*
 * The set of node at this generation into *ret_set (one allocation: free it
 * with vsn_compile_free()). A node the document does not know gets an empty
 * set. -ENOMEM, or env->id's error.
 */
int vsn_compile_node(const struct vsn_state *st, const char *node, uint64_t generation,
		     const struct vsn_compile_env *env, struct vsn_dp_set **ret_set);
void vsn_compile_free(struct vsn_dp_set *set);

#endif /* VSN_STATE_COMPILE_H */
