/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Address claims (DESIGN section 2): two services may not claim the same
 * (VIP, protocol, port), nor the same VIP prefix with overlapping ports; a
 * PROTO alone claims every port of PROTO. A prefix containing more specific
 * VIPs of other services is no conflict: the most specific wins. So only
 * claims on the very same VIP and length can conflict, and sorting the
 * claims by (VIP, length, protocol, port) puts each conflict within one
 * group: O(n log n) for n claims.
 *
 * The error is at the later claim in the document, naming the earliest
 * claim of another service that it overlaps.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "state_internal.h"

struct claim {
	__u8 key[16];	   /* the VIP, v4-mapped for IPv4 */
	unsigned int plen; /* of key: 96 more for IPv4 */
	uint8_t proto;
	uint16_t port; /* 0: every port */
	size_t order;  /* in the document */
	const struct vsn_state_service *vs;
	const struct vsn_state_port *p;
};

static int by_group_port_order(const void *a, const void *b)
{
	const struct claim *x = a, *y = b;
	int r = memcmp(x->key, y->key, sizeof(x->key));

	if (r)
		return r;
	if (x->plen != y->plen)
		return x->plen < y->plen ? -1 : 1;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	return (x->order > y->order) - (x->order < y->order);
}

static bool same_group(const struct claim *x, const struct claim *y)
{
	return !memcmp(x->key, y->key, sizeof(x->key)) && x->plen == y->plen &&
	       x->proto == y->proto;
}

/* Of a set of claims, the earliest, and the earliest of another service than the earliest's. */
struct earliest {
	const struct claim *first, *other;
};

static void earliest_add(struct earliest *e, const struct claim *x)
{
	if (!e->first || x->order < e->first->order) {
		/* The old first, unless it is x's service; then other stays (not x's either). */
		if (e->first && e->first->vs != x->vs)
			e->other = e->first;
		e->first = x;
	} else if (x->vs != e->first->vs && (!e->other || x->order < e->other->order)) {
		e->other = x;
	}
}

/* The earliest claim of the set that x overlaps: earlier than x, of another service. */
static const struct claim *earliest_for(const struct earliest *e, const struct claim *x)
{
	const struct claim *y = e->first && e->first->vs != x->vs ? e->first : e->other;

	return y && y->order < x->order ? y : NULL;
}

static void claim_text(const struct claim *x, char *buf, size_t len)
{
	snprintf(buf, len, x->port ? "%s/%u" : "%s", x->proto == IPPROTO_TCP ? "tcp" : "udp",
		 x->port);
}

static void conflict(struct st_ctx *c, const struct claim *x, const struct claim *y)
{
	const struct vsn_state_service *vs = x->vs;
	char vip[VSN_ADDR_STRLEN + 8], mine[16], theirs[16];
	unsigned int full = vs->vip.family == AF_INET ? 32 : 128;
	size_t n;

	vsn_addr_format(&vs->vip, vip, VSN_ADDR_STRLEN);
	n = strlen(vip);
	if (vs->vip_plen < full)
		snprintf(vip + n, sizeof(vip) - n, "/%u", vs->vip_plen);
	claim_text(x, mine, sizeof(mine));
	claim_text(y, theirs, sizeof(theirs));
	st_error_at(c, x->p->pos, "%s %s is claimed by service '%s' already (%s at line %d)", vip,
		    mine, y->vs->name, theirs, y->p->pos.line);
}

/* One group: claims on one VIP, length and protocol, sorted by port then order. */
static void check_group(struct st_ctx *c, const struct claim *g, size_t n)
{
	struct earliest all = {0}, any = {0}, run = {0};

	for (size_t i = 0; i < n; i++) {
		earliest_add(&all, &g[i]);
		if (!g[i].port)
			earliest_add(&any, &g[i]);
	}
	for (size_t i = 0; i < n; i++) {
		const struct claim *x = &g[i], *y, *z;

		if (!i || g[i - 1].port != x->port)
			run = (struct earliest){0};
		earliest_add(&run, x);
		if (!x->port) {
			y = earliest_for(&all, x);
		} else {
			/* Another service's PROTO alone, or its same port. */
			y = earliest_for(&any, x);
			z = earliest_for(&run, x);
			if (!y || (z && z->order < y->order))
				y = z;
		}
		if (y)
			conflict(c, x, y);
	}
}

int st_check_claims(struct st_ctx *c)
{
	const struct vsn_state *st = c->st;
	struct claim *claims;
	size_t n = 0;

	for (size_t i = 0; i < st->n_services; i++)
		n += st->services[i].n_ports;
	claims = malloc((n ? n : 1) * sizeof(*claims));
	if (!claims)
		return st_oom(c);
	n = 0;
	for (size_t i = 0; i < st->n_services; i++) {
		const struct vsn_state_service *vs = &st->services[i];
		unsigned int extra = vs->vip.family == AF_INET ? 96 : 0;

		/* A service whose name or VIP did not parse has its error already. */
		if (!vs->name || !vs->vip.family)
			continue;
		for (size_t j = 0; j < vs->n_ports; j++) {
			struct claim *x = &claims[n];

			if (!vs->ports[j].proto)
				continue;
			vsn_addr_to_key(&vs->vip, x->key);
			x->plen = vs->vip_plen + extra;
			x->proto = vs->ports[j].proto;
			x->port = vs->ports[j].port;
			x->order = n++;
			x->vs = vs;
			x->p = &vs->ports[j];
		}
	}
	qsort(claims, n, sizeof(*claims), by_group_port_order);
	for (size_t i = 1, start = 0; i <= n; i++)
		if (i == n || !same_group(&claims[start], &claims[i])) {
			check_group(c, claims + start, i - start);
			start = i;
		}
	free(claims);
	return 0;
}
