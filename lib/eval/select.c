/* SPDX-License-Identifier: Apache-2.0 */
/* Which configuration of a service is active, and whether the dwell lets it switch now (eval.h). */
#include <errno.h>

#include "eval.h"
#include "eval_out.h"

static int check(const struct vsn_select_input *in, size_t *ret_default)
{
	size_t def = VSN_SELECT_NONE;

	if (!in || !in->configs || !in->n ||
	    (in->active != VSN_SELECT_NONE && in->active >= in->n) ||
	    (in->pinned != VSN_SELECT_NONE && in->pinned >= in->n) ||
	    (in->last_switch_ms != VSN_SELECT_NEVER && in->now_ms < in->last_switch_ms))
		return -EINVAL;
	for (size_t i = 0; i < in->n; i++) {
		if (!in->configs[i].is_default)
			continue;
		if (def != VSN_SELECT_NONE)
			return -EINVAL;
		def = i;
	}
	if (def == VSN_SELECT_NONE)
		return -EINVAL;
	*ret_default = def;
	return 0;
}

/* The configuration pin and conditions select, regardless of the dwell, and why. */
static void want(const struct vsn_select_input *in, size_t def, struct vsn_select_result *r,
		 struct vsn_out *why)
{
	const struct vsn_select_config *c = in->configs;
	size_t best = VSN_SELECT_NONE;

	for (size_t i = 0; i < in->n; i++)
		if (!c[i].is_default && c[i].holds &&
		    (best == VSN_SELECT_NONE || c[i].priority > c[best].priority))
			best = i; /* strictly higher: on a tie the earlier one stays */
	if (in->pinned != VSN_SELECT_NONE) {
		r->wanted = in->pinned;
		r->wanted_reason = VSN_SELECT_PINNED;
		vsn_out_put(why, "'%s' is pinned", c[r->wanted].name);
	} else if (best != VSN_SELECT_NONE) {
		r->wanted = best;
		r->wanted_reason = VSN_SELECT_HOLDS;
		vsn_out_put(why, "'%s' holds (priority %u, the highest that holds)", c[best].name,
			    c[best].priority);
	} else {
		r->wanted = def;
		r->wanted_reason = VSN_SELECT_DEFAULT;
		vsn_out_put(why, "'%s' is the default: no condition holds", c[def].name);
	}
}

int vsn_select(const struct vsn_select_input *in, struct vsn_select_result *ret)
{
	struct vsn_select_result r = {.retry_ms = VSN_SELECT_NEVER};
	struct vsn_out why = {r.why, sizeof(r.why), 0};
	uint64_t since;
	size_t def;
	int err;

	err = check(in, &def);
	if (err)
		return err;
	want(in, def, &r, &why);
	r.chosen = r.wanted;
	r.reason = r.wanted_reason;
	r.switch_now = r.wanted != in->active;
	/* No dwell: nothing active yet, no switch, a pin, or the last switch long enough ago. */
	if (in->active == VSN_SELECT_NONE || !r.switch_now || r.reason == VSN_SELECT_PINNED ||
	    in->last_switch_ms == VSN_SELECT_NEVER ||
	    in->now_ms - in->last_switch_ms >= in->dwell_ms)
		goto out;
	since = in->now_ms - in->last_switch_ms;
	if (in->destinations_failed && in->destinations_failed(in->arg, in->active)) {
		r.failover = true;
		vsn_out_put(&why,
			    "; the destinations of '%s' failed: no dwell (switched %.1fs ago)",
			    in->configs[in->active].name, (double)since / 1000);
		goto out;
	}
	r.chosen = in->active;
	r.reason = VSN_SELECT_DWELL;
	r.switch_now = false;
	/* last + dwell, short of VSN_SELECT_NEVER whatever the dwell. */
	r.retry_ms = in->now_ms + (in->dwell_ms - since);
	if (r.retry_ms < in->now_ms || r.retry_ms == VSN_SELECT_NEVER)
		r.retry_ms = VSN_SELECT_NEVER - 1;
	vsn_out_put(&why, "; the dwell keeps '%s' %.1fs more (active %.1fs, dwell %.1fs)",
		    in->configs[in->active].name, (double)(in->dwell_ms - since) / 1000,
		    (double)since / 1000, (double)in->dwell_ms / 1000);
out:
	*ret = r;
	return 0;
}
