/* SPDX-License-Identifier: Apache-2.0 */
/* load, attach, detach, unload. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpctl.h"

static int parse_count(const char *opt, const char *s, __u32 *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || !*s || v == 0 || v > (1ul << 26))
		return dpctl_err(0, "%s: expected a number from 1 to %lu, not '%s'", opt, 1ul << 26,
				 s);
	*ret = v;
	return 0;
}

int cmd_load(struct dpctl *ctl, int argc, char **argv)
{
	struct vsn_dp_opts o = {.sz = sizeof(o), .pin_dir = ctl->pin_dir, .create = true};
	struct vsn_dp *dp;
	struct vsn_meta m;
	int r;

	for (int i = 1; i < argc; i += 2) {
		__u32 *dst = !strcmp(argv[i], "--max-policies")	  ? &o.max_policies
			     : !strcmp(argv[i], "--max-slbs")	  ? &o.max_slbs
			     : !strcmp(argv[i], "--max-services") ? &o.max_services
			     : !strcmp(argv[i], "--max-flows")	  ? &o.max_flows
								  : NULL;

		if (!dst || i + 1 >= argc)
			return dpctl_err(0, "load: unknown or incomplete option '%s'", argv[i]);
		if (parse_count(argv[i], argv[i + 1], dst))
			return 1;
	}
	r = vsn_dp_open(&o, &dp);
	if (r)
		return dpctl_err(r, "load under %s", ctl->pin_dir);
	r = vsn_dp_meta(dp, &m);
	vsn_dp_close(dp);
	if (r)
		return dpctl_err(r, "read state");
	/* Capacities are fixed at load: asking for others must not pass silently. */
	if ((o.max_policies && o.max_policies != m.max_policies) ||
	    (o.max_slbs && o.max_slbs != m.max_slbs) ||
	    (o.max_services && o.max_services != m.max_services) ||
	    (o.max_flows && o.max_flows != m.max_flows))
		return dpctl_err(0,
				 "already loaded under %s with max_policies %u, max_slbs %u, "
				 "max_services %u, max_flows %u; 'vsn-dpctl unload' first to "
				 "change them",
				 ctl->pin_dir, m.max_policies, m.max_slbs, m.max_services,
				 m.max_flows);
	printf("loaded under %s: max_policies %u, max_slbs %u, max_services %u, max_flows %u\n",
	       ctl->pin_dir, m.max_policies, m.max_slbs, m.max_services, m.max_flows);
	return 0;
}

int cmd_attach(struct dpctl *ctl, int argc, char **argv)
{
	enum vsn_attach_mode mode = VSN_ATTACH_AUTO, used;
	const char *ifname = NULL;
	struct vsn_dp *dp;
	int r;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--mode") && i + 1 < argc) {
			if (vsn_attach_mode_parse(argv[++i], &mode))
				return dpctl_err(0, "attach: --mode is auto, native or generic");
		} else if (!ifname && argv[i][0] != '-') {
			ifname = argv[i];
		} else {
			return dpctl_err(0, "attach: unexpected '%s'", argv[i]);
		}
	}
	if (!ifname)
		return dpctl_err(0, "attach: which interface?");
	if (dpctl_open(ctl, true, &dp))
		return 1;
	r = vsn_dp_attach(dp, ifname, mode, &used);
	vsn_dp_close(dp);
	if (r == -EEXIST)
		return dpctl_err(0, "vsn is already attached to %s", ifname);
	if (r == -EBUSY)
		return dpctl_err(0, "%s has another XDP program attached", ifname);
	if (r)
		return dpctl_err(r, "attach to %s", ifname);
	printf("attached to %s (%s)\n", ifname, vsn_attach_mode_name(used));
	return 0;
}

int cmd_detach(struct dpctl *ctl, int argc, char **argv)
{
	struct vsn_dp *dp;
	int r;

	if (argc != 2)
		return dpctl_err(0, "detach: which interface?");
	if (dpctl_open(ctl, false, &dp))
		return 1;
	r = vsn_dp_detach(dp, argv[1]);
	vsn_dp_close(dp);
	if (r == -ENOENT)
		return dpctl_err(0, "vsn is not attached to %s", argv[1]);
	if (r)
		return dpctl_err(r, "detach from %s", argv[1]);
	printf("detached from %s\n", argv[1]);
	return 0;
}

int cmd_unload(struct dpctl *ctl, int argc, char **argv)
{
	int r;

	if (argc != 1)
		return dpctl_err(0, "unload takes no arguments");
	r = vsn_dp_unload(ctl->pin_dir);
	if (r)
		return dpctl_err(r, "unload %s", ctl->pin_dir);
	printf("unloaded %s\n", ctl->pin_dir);
	return 0;
}
