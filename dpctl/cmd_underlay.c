/* SPDX-License-Identifier: Apache-2.0 */
/* underlay: the node's outer source addresses for ipip. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

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
