/* SPDX-License-Identifier: Apache-2.0 */
/* show, counters. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/in.h>

#include "dpctl.h"

static int print_link(const char *ifname, __u32 ifindex, void *arg)
{
	if (ifindex)
		printf("  %s (ifindex %u)\n", ifname, ifindex);
	else
		printf("  %s (interface gone: run 'vsn-dpctl detach %s')\n", ifname, ifname);
	return 0;
}

static void format_mac(const __u8 *m, char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static int print_slb(__u32 id, const struct vsn_slb *s, void *arg)
{
	char a[VSN_ADDR_STRLEN], d[18], src[18];
	struct vsn_addr addr;

	vsn_addr_from_key(s->addr, &addr);
	format_mac(s->dmac, d, sizeof(d));
	format_mac(s->smac, src, sizeof(src));
	if (s->flags & VSN_SLB_RESOLVED)
		printf("  slb %u %s %s %s via ifindex %u %s -> %s mtu %u%s\n", id,
		       vsn_addr_format(&addr, a, sizeof(a)), vsn_forward_name(s->forward),
		       vsn_slb_state_name(s->state), s->ifindex, src, d, s->mtu,
		       s->flags & VSN_SLB_STATIC ? " (static)" : "");
	else
		printf("  slb %u %s %s %s UNRESOLVED\n", id, vsn_addr_format(&addr, a, sizeof(a)),
		       vsn_forward_name(s->forward), vsn_slb_state_name(s->state));
	return 0;
}

static int print_policy(const struct vsn_dp_policy *p, void *arg)
{
	char a[VSN_ADDR_STRLEN], port[8] = "any", plen[8] = "";

	if (p->port)
		snprintf(port, sizeof(port), "%u", p->port);
	if (p->vip_plen)
		snprintf(plen, sizeof(plen), "/%u", p->vip_plen);
	printf("  %s%s %s/%s -> %s %u (service %u, policy %u, on_change %s)\n",
	       vsn_addr_format(&p->vip, a, sizeof(a)), plen,
	       p->proto == IPPROTO_TCP ? "tcp" : "udp", port, p->pool_id ? "pool" : "slb",
	       p->pool_id ? p->pool_id : p->slb_id, p->service_id, p->policy_id,
	       vsn_on_change_name(p->on_change));
	for (size_t i = 0; i < p->n_clients; i++) {
		const struct vsn_dp_client *c = &p->clients[i];

		printf("    from %s/%u -> %s %u\n", vsn_addr_format(&c->prefix, a, sizeof(a)),
		       c->plen, c->pool_id ? "pool" : "slb", c->pool_id ? c->pool_id : c->slb_id);
	}
	return 0;
}

static int print_pool(const struct vsn_dp_pool *pool, void *arg)
{
	printf("  pool %u:", pool->id);
	for (size_t i = 0; i < pool->n_members; i++)
		printf(" slb %u weight %u%s", pool->members[i].slb_id, pool->members[i].weight,
		       i + 1 < pool->n_members ? "," : "");
	printf("\n");
	return 0;
}

int cmd_show(struct dpctl *ctl, int argc, char **argv)
{
	char a4[VSN_ADDR_STRLEN], a6[VSN_ADDR_STRLEN];
	struct vsn_addr u4, u6;
	struct vsn_dp *dp;
	struct vsn_meta m;
	__u16 gue_port;
	__u32 limit;
	int r;

	if (argc != 1)
		return dpctl_err(0, "show takes no arguments");
	if (dpctl_open(ctl, false, &dp))
		return 1;
	r = vsn_dp_meta(dp, &m);
	if (r)
		goto out;
	printf("pin dir %s, layout %u\n", ctl->pin_dir, m.layout_version);
	printf("generation %llu, %u policies", (unsigned long long)m.generation, m.n_policies);
	if (m.applied_unix_ns) {
		time_t t = m.applied_unix_ns / 1000000000ull;
		char when[64];

		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
		printf(", applied %s", when);
	}
	printf("\ncapacity: %u policies, %u slbs, %u services, %u flows\n", m.max_policies,
	       m.max_slbs, m.max_services, m.max_flows);
	r = vsn_dp_flow_limit_get(dp, &limit);
	if (r)
		goto out;
	if (limit)
		printf("new flows remembered: at most %u per second\n", limit);
	else
		printf("new flows remembered: no bound\n");
	r = vsn_dp_underlay_get(dp, &u4, &u6);
	if (r)
		goto out;
	r = vsn_dp_gue_port_get(dp, &gue_port);
	if (r)
		goto out;
	printf("underlay: ipv4 %s, ipv6 %s\ngue port: %u\ninterfaces:\n",
	       u4.family ? vsn_addr_format(&u4, a4, sizeof(a4)) : "-",
	       u6.family ? vsn_addr_format(&u6, a6, sizeof(a6)) : "-", gue_port);
	r = vsn_dp_links_foreach(dp, print_link, NULL);
	if (r)
		goto out;
	printf("slbs:\n");
	r = vsn_dp_slbs_foreach(dp, print_slb, NULL);
	if (r)
		goto out;
	printf("pools:\n");
	r = vsn_dp_pools_foreach(dp, print_pool, NULL);
	if (r)
		goto out;
	printf("policies:\n");
	r = vsn_dp_policies_foreach(dp, print_policy, NULL);
out:
	vsn_dp_close(dp);
	return r ? dpctl_err(r, "show") : 0;
}

struct cnt_ctx {
	struct vsn_dp *dp;
	bool json;
	int err;
};

static void print_counter(struct cnt_ctx *c, const char *kind, const char *name, __u32 id,
			  const struct vsn_counter *v)
{
	if (c->json) {
		if (name)
			printf("{\"kind\":\"%s\",\"name\":\"%s\",\"packets\":%llu,\"bytes\":%llu}"
			       "\n",
			       kind, name, (unsigned long long)v->packets,
			       (unsigned long long)v->bytes);
		else
			printf("{\"kind\":\"%s\",\"id\":%u,\"packets\":%llu,\"bytes\":%llu}\n",
			       kind, id, (unsigned long long)v->packets,
			       (unsigned long long)v->bytes);
	} else if (name) {
		printf("  %-24s %14llu pkts %16llu bytes\n", name, (unsigned long long)v->packets,
		       (unsigned long long)v->bytes);
	} else {
		printf("  %-8s %-15u %14llu pkts %16llu bytes\n", kind, id,
		       (unsigned long long)v->packets, (unsigned long long)v->bytes);
	}
}

static int count_slb(__u32 id, const struct vsn_slb *s, void *arg)
{
	struct cnt_ctx *c = arg;
	struct vsn_counter v;
	int r = vsn_dp_counter_read(c->dp, VSN_CNT_SLB, id, &v);

	if (!r)
		print_counter(c, "slb", NULL, id, &v);
	return r;
}

/* Services and policies have no table of their own: list the ids in use. */
static int count_policy(const struct vsn_dp_policy *p, void *arg)
{
	struct cnt_ctx *c = arg;
	struct vsn_counter cnt;

	if (!vsn_dp_counter_read(c->dp, VSN_CNT_POLICY, p->policy_id, &cnt))
		print_counter(c, "policy", NULL, p->policy_id, &cnt);
	return 0;
}

struct svc_seen {
	struct cnt_ctx *c;
	__u8 *seen;
	__u32 max;
};

static int count_service(const struct vsn_dp_policy *p, void *arg)
{
	struct svc_seen *s = arg;
	struct vsn_counter cnt;

	if (p->service_id >= s->max || s->seen[p->service_id])
		return 0;
	s->seen[p->service_id] = 1;
	if (!vsn_dp_counter_read(s->c->dp, VSN_CNT_SERVICE, p->service_id, &cnt))
		print_counter(s->c, "service", NULL, p->service_id, &cnt);
	return 0;
}

int cmd_counters(struct dpctl *ctl, int argc, char **argv)
{
	struct cnt_ctx c = {0};
	struct vsn_meta m;
	struct svc_seen s = {.c = &c};
	int r;

	if (argc == 2 && !strcmp(argv[1], "--json"))
		c.json = true;
	else if (argc != 1)
		return dpctl_err(0, "counters: unexpected '%s'", argv[1]);
	if (dpctl_open(ctl, false, &c.dp))
		return 1;
	r = vsn_dp_meta(c.dp, &m);
	if (r)
		goto out;
	if (!c.json)
		printf("reasons:\n");
	for (int i = 0; i < VSN_REASON_MAX; i++) {
		struct vsn_counter v;

		r = vsn_dp_counter_read(c.dp, VSN_CNT_REASON, i, &v);
		if (r)
			goto out;
		print_counter(&c, "reason", vsn_reason_name(i), i, &v);
	}
	if (!c.json)
		printf("connection table:\n");
	for (int i = 0; i < VSN_FLOW_EVENT_MAX; i++) {
		struct vsn_counter v;

		r = vsn_dp_counter_read(c.dp, VSN_CNT_FLOW, i, &v);
		if (r)
			goto out;
		print_counter(&c, "flow", vsn_flow_event_name(i), i, &v);
	}
	if (!c.json)
		printf("per slb, service and policy of the running set:\n");
	r = vsn_dp_slbs_foreach(c.dp, count_slb, &c);
	if (r)
		goto out;
	s.max = m.max_services;
	s.seen = calloc(m.max_services, 1);
	if (!s.seen) {
		r = -ENOMEM;
		goto out;
	}
	r = vsn_dp_policies_foreach(c.dp, count_service, &s);
	free(s.seen);
	if (r)
		goto out;
	r = vsn_dp_policies_foreach(c.dp, count_policy, &c);
out:
	vsn_dp_close(c.dp);
	return r ? dpctl_err(r, "counters") : 0;
}
