/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vsn-dpctl: the operator's tool for one node's data plane, a thin front of
 * libvsndp. One subcommand per entry of the table below.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dpctl.h"

static const struct dpctl_cmd cmds[] = {
	{"load", "[--max-policies N] [--max-slbs N] [--max-services N] [--max-flows N]",
	 "load the forwarder and pin it (attach does this too)", cmd_load},
	{"attach", "IFACE [--mode auto|native|generic]",
	 "attach the forwarder to IFACE with a pinned link", cmd_attach},
	{"detach", "IFACE", "detach the forwarder from IFACE", cmd_detach},
	{"apply", "FILE [--check]",
	 "define the file's SLBs and swap in its policies as a new generation", cmd_apply},
	{"show", "", "running generation, interfaces, SLBs and policies", cmd_show},
	{"counters", "[--json]", "packet and byte counters by reason, service, SLB and policy",
	 cmd_counters},
	{"slb", "ID state up|down|drain", "set an SLB's state at once, without a new set", cmd_slb},
	{"flows", "[--json] | --clear",
	 "list the connection table (each flow and its SLB), or forget every flow", cmd_flows},
	{"predict", "POOL SRC SPORT DST DPORT [tcp|udp]",
	 "the SLB pool POOL of the running set gives a new flow, computed in user space",
	 cmd_predict},
	{"flow-limit", "[N]", "show or set the bound on new flows remembered per second (0: none)",
	 cmd_flow_limit},
	{"resolve", "[--watch]",
	 "re-resolve every SLB's next hop now; with --watch, on every change until stopped",
	 cmd_resolve},
	{"underlay", "[ADDR4] [ADDR6] | --clear",
	 "set or show the outer source addresses of ipip and gue (one per family)", cmd_underlay},
	{"gue-port", "[PORT]", "set or show the UDP destination port of gue (default 6080)",
	 cmd_gue_port},
	{"unload", "", "detach from every interface and remove all pinned state", cmd_unload},
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: vsn-dpctl [--pin-dir DIR] COMMAND [ARGS]\n\n"
		"The data plane of one vsn network node (default pin dir %s,\n"
		"or $VSN_PIN_DIR).\n\nCommands:\n",
		VSN_DP_DEFAULT_PIN_DIR);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-9s %s\n            %s\n", cmds[i].name, cmds[i].args, cmds[i].help);
	fprintf(f, "\nThe policy file format is in docs/dpctl.md.\n");
}

int dpctl_err(int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_verr("vsn-dpctl", r, fmt, ap);
	va_end(ap);
	return 1;
}

int dpctl_open(struct dpctl *ctl, bool create, struct vsn_dp **ret_dp)
{
	struct vsn_dp_opts o = {.sz = sizeof(o), .pin_dir = ctl->pin_dir, .create = create};
	int r = vsn_dp_open(&o, ret_dp);

	if (r == -ENOENT)
		return dpctl_err(0, "nothing is loaded under %s (run 'vsn-dpctl attach IFACE')",
				 ctl->pin_dir);
	if (r == -EMEDIUMTYPE)
		return dpctl_err(0,
				 "%s is not on a BPF filesystem; mount one (mount -t bpf bpf "
				 "/sys/fs/bpf) or, in a network namespace, run through 'nsenter "
				 "--net=/run/netns/NAME' rather than 'ip netns exec', which "
				 "hides /sys/fs/bpf",
				 ctl->pin_dir);
	if (r == -EPROTO)
		return dpctl_err(0,
				 "the state pinned under %s has another layout version than "
				 "this vsn-dpctl (%d); see docs/operations.md, 'upgrades'",
				 ctl->pin_dir, VSN_LAYOUT_VERSION);
	if (r)
		return dpctl_err(r, "cannot open the forwarder under %s", ctl->pin_dir);
	return 0;
}

int main(int argc, char **argv)
{
	struct dpctl ctl = {.pin_dir = getenv("VSN_PIN_DIR")};
	int i, status;

	if (!ctl.pin_dir)
		ctl.pin_dir = VSN_DP_DEFAULT_PIN_DIR;
	i = cli_global_options("vsn-dpctl", argc, argv, &ctl.pin_dir, usage, &status);
	if (i < 0)
		return status;
	for (size_t c = 0; c < sizeof(cmds) / sizeof(cmds[0]); c++)
		if (!strcmp(argv[i], cmds[c].name))
			return cmds[c].run(&ctl, argc - i, argv + i);
	fprintf(stderr, "vsn-dpctl: unknown command '%s'\n\n", argv[i]);
	usage(stderr);
	return 2;
}
