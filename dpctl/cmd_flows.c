/* SPDX-License-Identifier: Apache-2.0 */
/* flows, predict, flow-limit: the connection table and the pools' picks. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/in.h>

#include "dpctl.h"

struct flows_ctx {
	bool json;
	size_t n;
};

/* A flow-key address back to its family's form. */
static const char *key_addr(const __u32 words[4], char *buf, size_t len)
{
	struct vsn_addr a;

	vsn_addr_from_key((const __u8 *)words, &a);
	return vsn_addr_format(&a, buf, len);
}

static int print_flow(const struct vsn_flow_key *k, const struct vsn_flow *f, void *arg)
{
	struct flows_ctx *c = arg;
	char s[VSN_ADDR_STRLEN], d[VSN_ADDR_STRLEN];
	/* vsn_flow_ports: source then destination port, as loaded (network order). */
	unsigned int sport = ntohs((__u16)(k->ports >> 16)), dport = ntohs((__u16)k->ports);
	const char *proto = k->proto == IPPROTO_TCP ? "tcp" : k->proto == IPPROTO_UDP ? "udp" : "?";

	key_addr(k->src, s, sizeof(s));
	key_addr(k->dst, d, sizeof(d));
	if (c->json)
		printf("{\"proto\":\"%s\",\"src\":\"%s\",\"sport\":%u,\"dst\":\"%s\",\"dport\":%u,"
		       "\"slb\":%u,\"epoch\":%u}\n",
		       proto, s, sport, d, dport, f->slb_id, f->epoch);
	else
		printf("  %s %s %u -> %s %u: slb %u (epoch %u)\n", proto, s, sport, d, dport,
		       f->slb_id, f->epoch);
	c->n++;
	return 0;
}

int cmd_flows(struct dpctl *ctl, int argc, char **argv)
{
	struct flows_ctx c = {0};
	bool clear = false;
	struct vsn_dp *dp;
	int r;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			c.json = true;
		else if (!strcmp(argv[i], "--clear"))
			clear = true;
		else
			return dpctl_err(0, "flows: unexpected '%s'", argv[i]);
	}
	if (clear && c.json)
		return dpctl_err(0, "flows: --clear and --json do not go together");
	if (dpctl_open(ctl, false, &dp))
		return 1;
	if (clear) {
		r = vsn_dp_flows_clear(dp);
		if (!r)
			printf("connection table cleared\n");
	} else {
		if (!c.json)
			printf("flows:\n");
		r = vsn_dp_flows_foreach(dp, print_flow, &c);
		if (!r && !c.json)
			printf("%zu flows\n", c.n);
	}
	vsn_dp_close(dp);
	return r ? dpctl_err(r, "flows") : 0;
}

static int parse_port(const char *s, __u16 *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || !*s || *end || v > 65535)
		return dpctl_err(0, "'%s' is not a port number", s);
	*ret = (__u16)v;
	return 0;
}

int cmd_predict(struct dpctl *ctl, int argc, char **argv)
{
	struct vsn_addr src, dst;
	struct vsn_flow_key k;
	__u16 sport, dport;
	__u8 proto = IPPROTO_TCP;
	unsigned long pool;
	struct vsn_dp *dp;
	__u32 slb;
	char *end;
	int r;

	if (argc != 6 && argc != 7)
		return dpctl_err(0, "predict: POOL SRC SPORT DST DPORT [tcp|udp]");
	pool = strtoul(argv[1], &end, 10);
	if (!*argv[1] || *end || !pool || pool > UINT32_MAX)
		return dpctl_err(0, "predict: '%s' is not a pool id", argv[1]);
	if (vsn_addr_parse(argv[2], &src) || vsn_addr_parse(argv[4], &dst))
		return dpctl_err(0, "predict: SRC and DST must be IPv4 or IPv6 addresses");
	if (src.family != dst.family)
		return dpctl_err(0, "predict: SRC and DST must be of one family");
	if (parse_port(argv[3], &sport) || parse_port(argv[5], &dport))
		return 1;
	if (argc == 7) {
		if (!strcmp(argv[6], "udp"))
			proto = IPPROTO_UDP;
		else if (strcmp(argv[6], "tcp"))
			return dpctl_err(0, "predict: expected tcp or udp, not '%s'", argv[6]);
	}
	vsn_flow_key_make(&src, sport, &dst, dport, proto, &k);
	if (dpctl_open(ctl, false, &dp))
		return 1;
	r = vsn_dp_predict(dp, (__u32)pool, &k, &slb);
	vsn_dp_close(dp);
	if (r == -ENOENT)
		return dpctl_err(0, "predict: the running set has no pool %lu", pool);
	if (r == -EHOSTDOWN)
		return dpctl_err(0, "predict: no SLB of pool %lu is up to take a new flow", pool);
	if (r)
		return dpctl_err(r, "predict");
	printf("%u\n", slb);
	return 0;
}

int cmd_flow_limit(struct dpctl *ctl, int argc, char **argv)
{
	unsigned long v = 0;
	struct vsn_dp *dp;
	__u32 limit;
	char *end;
	int r;

	if (argc > 2)
		return dpctl_err(0, "flow-limit: at most one number");
	if (argc == 2) {
		errno = 0;
		v = strtoul(argv[1], &end, 10);
		if (errno || !*argv[1] || *end || *argv[1] == '-' || v > UINT32_MAX)
			return dpctl_err(0, "flow-limit: '%s' is not a number of flows per second",
					 argv[1]);
	}
	if (dpctl_open(ctl, false, &dp))
		return 1;
	r = argc == 2 ? vsn_dp_flow_limit_set(dp, (__u32)v) : 0;
	if (!r)
		r = vsn_dp_flow_limit_get(dp, &limit);
	vsn_dp_close(dp);
	if (r)
		return dpctl_err(r, "flow-limit");
	if (limit)
		printf("at most %u new flows remembered per second\n", limit);
	else
		printf("no bound on new flows remembered\n");
	return 0;
}
