/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Traffic per virtual service (issue 8's `traffic(vs V)`): packets/s and bits/s from the nodes'
 * Stats, which carry cumulative counters per service id. Per node and service, each new Stats
 * gives a rate over the time since the previous one; the rate is smoothed with an exponentially
 * weighted moving average of time constant tau, weighting each sample by the time it covers
 * (1 - e^(-dt/tau)), so irregular Stats intervals count for what they cover. A service's rate
 * is the sum of its nodes' smoothed rates. docs/conditions.md states the same.
 *
 * - A counter that went down (the node's forwarder was loaded again) gives no sample: the next
 *   Stats starts from the new value.
 * - A node that disconnects is forgotten (vsn_traffic_forget): its share of the traffic, which
 *   the routers then send elsewhere, leaves the sum at once.
 *
 * Pure: no clock (the caller passes times), no logging. Functions return 0 or a negative errno.
 */
#ifndef VSN_CTL_TRAFFIC_H
#define VSN_CTL_TRAFFIC_H

#include <stddef.h>
#include <stdint.h>

#include "ctl.h"

/* The smoothing time constant when none is given: 5 seconds. */
#define VSN_TRAFFIC_DEFAULT_TAU_MS 5000u

struct vsn_traffic;

/* tau_ms 0: VSN_TRAFFIC_DEFAULT_TAU_MS. */
int vsn_traffic_new(unsigned int tau_ms, struct vsn_traffic **ret);
void vsn_traffic_free(struct vsn_traffic *t);

/* node's cumulative counters per service id, as its Stats at now_ms carried them. */
int vsn_traffic_update(struct vsn_traffic *t, const char *node, uint64_t now_ms,
		       const struct vsn_ctl_counter *services, size_t n);

/* Forget node (it disconnected). */
void vsn_traffic_forget(struct vsn_traffic *t, const char *node);

/*
 * Service service_id's smoothed packets/s and bits/s, summed over the nodes. -ENOENT when no
 * node has reported two Stats for it yet: its traffic is unknown, not zero.
 */
int vsn_traffic_rate(const struct vsn_traffic *t, uint32_t service_id, double *ret_pps,
		     double *ret_bps);

#endif /* VSN_CTL_TRAFFIC_H */
