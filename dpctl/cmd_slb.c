/* SPDX-License-Identifier: Apache-2.0 */
/* slb ID state STATE, resolve. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpctl.h"

int cmd_slb(struct dpctl *ctl, int argc, char **argv)
{
	enum vsn_slb_state state;
	struct vsn_dp *dp;
	unsigned long id;
	char *end;
	int r;

	if (argc != 4 || strcmp(argv[2], "state"))
		return dpctl_err(0, "usage: slb ID state up|down|drain");
	errno = 0;
	id = strtoul(argv[1], &end, 10);
	if (errno || *end || !*argv[1] || id == 0 || id > UINT32_MAX)
		return dpctl_err(0, "slb: '%s' is not an SLB id", argv[1]);
	if (vsn_slb_state_parse(argv[3], &state))
		return dpctl_err(0, "slb: state is up, down or drain, not '%s'", argv[3]);
	if (dpctl_open(ctl, false, &dp))
		return 1;
	r = vsn_dp_slb_set_state(dp, id, state);
	vsn_dp_close(dp);
	if (r == -ENOENT || r == -ERANGE)
		return dpctl_err(0, "slb %lu is not defined", id);
	if (r)
		return dpctl_err(r, "slb %lu", id);
	printf("slb %lu %s\n", id, vsn_slb_state_name(state));
	return 0;
}

int cmd_resolve(struct dpctl *ctl, int argc, char **argv)
{
	unsigned int changed = 0;
	struct vsn_dp *dp;
	int r;

	if (argc != 1)
		return dpctl_err(0, "resolve takes no arguments");
	if (dpctl_open(ctl, false, &dp))
		return 1;
	r = vsn_dp_slbs_refresh(dp, &changed);
	vsn_dp_close(dp);
	printf("%u slb entries changed\n", changed);
	return r ? dpctl_err(r, "some next hops are still unresolved ('vsn-dpctl show')") : 0;
}
