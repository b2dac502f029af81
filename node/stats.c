/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stats to the controller: the forwarder's cumulative packet and byte
 * counters of every service and SLB of the running set, with its
 * generation, every stats_interval_ms (and once on connect). The controller
 * turns them into rates (traffic conditions, issue 8).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "log.h"

static int fill(struct agent *a, enum vsn_counter_kind kind, const uint32_t *ids, size_t n,
		Vsn__Counter *cs, Vsn__Counter **ptrs, size_t *ret_n)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		struct vsn_counter v;
		int r = vsn_dp_counter_read(a->dp, kind, ids[i], &v);

		if (r == -ERANGE)
			continue; /* beyond the forwarder's capacity: never counted */
		if (r)
			return r;
		vsn__counter__init(&cs[o]);
		cs[o].id = ids[i];
		cs[o].packets = v.packets;
		cs[o].bytes = v.bytes;
		ptrs[o] = &cs[o];
		o++;
	}
	*ret_n = o;
	return 0;
}

int stats_send(struct agent *a)
{
	size_t ns = a->n_service_ids, nb = a->n_slb_ids, n = ns + nb;
	Vsn__Envelope env = VSN__ENVELOPE__INIT;
	Vsn__Stats st = VSN__STATS__INIT;
	Vsn__Counter *cs, **ptrs;
	int r;

	if (!a->conn || !a->ready)
		return 0;
	cs = calloc(n + 1, sizeof(*cs));
	ptrs = calloc(n + 1, sizeof(*ptrs));
	r = -ENOMEM;
	if (!cs || !ptrs)
		goto out;
	r = fill(a, VSN_CNT_SERVICE, a->service_ids, ns, cs, ptrs, &st.n_services);
	if (!r)
		r = fill(a, VSN_CNT_SLB, a->slb_ids, nb, cs + st.n_services, ptrs + st.n_services,
			 &st.n_slbs);
	if (r)
		goto out;
	st.generation = a->generation;
	st.services = ptrs;
	st.slbs = ptrs + st.n_services;
	env.msg_case = VSN__ENVELOPE__MSG_STATS;
	env.stats = &st;
	r = session_send(a, &env);
out:
	if (r && r != -ENOTCONN)
		log_warn("stats", "not sent: %s", strerror(-r));
	free(cs);
	free(ptrs);
	return r;
}
