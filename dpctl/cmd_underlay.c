/* SPDX-License-Identifier: Apache-2.0 */
/* underlay, gue-port: the node's settings for ipip and gue. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "cli.h"
#include "dpctl.h"

static void print_underlay(const struct vsn_addr *v4, const struct vsn_addr *v6)
{
	char a[VSN_ADDR_STRLEN], b[VSN_ADDR_STRLEN];

	printf("underlay ipv4 %s, ipv6 %s\n", v4->family ? vsn_addr_format(v4, a, sizeof(a)) : "-",
	       v6->family ? vsn_addr_format(v6, b, sizeof(b)) : "-");
}

int cmd_underlay(struct dpctl *ctl, int argc, char **argv)
{
	struct vsn_addr v4 = {0}, v6 = {0}, a;
	bool set = false;
	struct vsn_dp *dp;
	int r;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--clear")) {
			set = true;
			continue;
		}
		if (vsn_addr_parse(argv[i], &a) || vsn_addr_is_v4mapped(&a))
			return dpctl_err(0, "underlay: '%s' is not an IPv4 or IPv6 address",
					 argv[i]);
		if ((a.family == AF_INET ? &v4 : &v6)->family)
			return dpctl_err(0, "underlay: one address per family");
		*(a.family == AF_INET ? &v4 : &v6) = a;
		set = true;
	}
	if (dpctl_open(ctl, set, &dp))
		return 1;
	r = set ? vsn_dp_underlay_set(dp, &v4, &v6) : 0;
	if (!r)
		r = vsn_dp_underlay_get(dp, &v4, &v6);
	vsn_dp_close(dp);
	if (r)
		return dpctl_err(r, "underlay");
	print_underlay(&v4, &v6);
	return 0;
}

int cmd_gue_port(struct dpctl *ctl, int argc, char **argv)
{
	unsigned long port = 0;
	struct vsn_dp *dp;
	__u16 now;
	int r;

	if (argc > 2 || (argc == 2 && (cli_parse_ulong(argv[1], 65535, &port) || !port)))
		return dpctl_err(0, "gue-port: '%s' is no UDP port (1 to 65535)", argv[argc - 1]);
	if (dpctl_open(ctl, port != 0, &dp))
		return 1;
	r = port ? vsn_dp_gue_port_set(dp, port) : 0;
	if (!r)
		r = vsn_dp_gue_port_get(dp, &now);
	vsn_dp_close(dp);
	if (r)
		return dpctl_err(r, "gue-port");
	printf("gue port %u\n", now);
	return 0;
}
