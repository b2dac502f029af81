/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vsn-slb: sets up an SLB host for vsn's ipip and gue forwarding, a thin front of
 * libvsndp's decap part (lib/dp/vsn_decap.h) plus the host settings direct
 * server return needs. One subcommand per entry of the table below.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cli.h"
#include "slb.h"

static const struct slb_cmd cmds[] = {
	{"setup",
	 "--dev IFACE --node ADDR... --vip ADDR... [--mode auto|native|generic]\n"
	 "            [--gue-port PORT|off]",
	 "load the decap program and attach it to IFACE, allow the nodes' underlay\n"
	 "            addresses, add the VIPs to lo and set the ARP sysctls (idempotent)",
	 cmd_setup},
	{"teardown", "--dev IFACE [--vip ADDR...]",
	 "detach the decap program from IFACE (unload it when no interface is left)\n"
	 "            and remove the VIPs from lo; the ARP sysctls stay",
	 cmd_teardown},
	{"allow", "ADDR...", "accept IP-in-IP and GUE from these node underlay addresses",
	 cmd_allow},
	{"disallow", "ADDR...", "stop accepting IP-in-IP and GUE from these addresses",
	 cmd_disallow},
	{"gue-port", "[PORT|off]",
	 "show or set the UDP port GUE is taken from (default 6080; off: none)", cmd_gue_port},
	{"show", "[--json]",
	 "interfaces, allowed nodes, GUE port, VIPs on lo, ARP sysctls, counters by reason",
	 cmd_show},
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: vsn-slb [--pin-dir DIR] COMMAND [ARGS]\n\n"
		"Sets up an SLB host for vsn's ipip and gue forwarding: the decap XDP\n"
		"program and its allow-list of nodes, the VIPs on lo, the ARP sysctls\n"
		"(default pin dir %s, or $VSN_DECAP_PIN_DIR). ADDR\n"
		"is an IPv4 or IPv6 address; options that take one may be repeated.\n\n"
		"Commands:\n",
		VSN_DECAP_DEFAULT_PIN_DIR);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-9s %s\n            %s\n", cmds[i].name, cmds[i].args, cmds[i].help);
	fprintf(f, "\nThe guide is docs/slb-host.md.\n");
}

int slb_err(int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_verr("vsn-slb", r, fmt, ap);
	va_end(ap);
	return 1;
}

int slb_open(struct slb *ctl, bool create, bool quiet_missing, struct vsn_decap **ret)
{
	int r = vsn_decap_open(ctl->pin_dir, create, ret);

	if (r == -ENOENT && quiet_missing)
		return r;
	if (r == -ENOENT)
		return slb_err(0, "the decap program is not loaded under %s (run 'vsn-slb setup')",
			       ctl->pin_dir);
	if (r == -EMEDIUMTYPE)
		return slb_err(0,
			       "%s is not on a BPF filesystem; mount one (mount -t bpf bpf "
			       "/sys/fs/bpf) or, in a network namespace, run through 'nsenter "
			       "--net=/run/netns/NAME' rather than 'ip netns exec', which hides "
			       "/sys/fs/bpf",
			       ctl->pin_dir);
	if (r == -EPROTO)
		return slb_err(0,
			       "the state pinned under %s has another layout version than this "
			       "vsn-slb (%d): 'vsn-slb teardown' with the old binary first",
			       ctl->pin_dir, VSN_DECAP_LAYOUT_VERSION);
	if (r)
		return slb_err(r, "cannot open the decap program under %s", ctl->pin_dir);
	return 0;
}

/* Why a is no address a host can use as a node or a VIP, or NULL. */
static const char *addr_unusable(const struct vsn_addr *a)
{
	static const __u8 zero[16];
	const __u8 *b = a->bytes;

	if (a->family == AF_INET) {
		if (!memcmp(b, zero, 4))
			return "the unspecified address";
		if (b[0] == 127)
			return "a loopback address";
		if (b[0] >= 224)
			return "a multicast, reserved or broadcast address";
		return NULL;
	}
	if (vsn_addr_is_v4mapped(a))
		return "a v4-mapped IPv6 address (write the IPv4 address as a.b.c.d)";
	if (!memcmp(b, zero, 16))
		return "the unspecified address";
	if (!memcmp(b, zero, 15) && b[15] == 1)
		return "the loopback address";
	if (b[0] == 0xff)
		return "a multicast address";
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
		return "a link-local address";
	return NULL;
}

static int parse_addr(const char *what, const char *s, struct vsn_addr *ret)
{
	const char *why;

	if (vsn_addr_parse(s, ret))
		return slb_err(0, "%s '%s' is no IPv4 or IPv6 address (no names, no prefix length)",
			       what, s);
	why = addr_unusable(ret);
	if (why)
		return slb_err(0, "%s %s is %s", what, s, why);
	return 0;
}

int slb_parse_node(const char *s, struct vsn_addr *ret)
{
	return parse_addr("node", s, ret);
}

int slb_parse_vip(const char *s, struct vsn_addr *ret)
{
	return parse_addr("VIP", s, ret);
}

int main(int argc, char **argv)
{
	struct slb ctl = {.pin_dir = getenv("VSN_DECAP_PIN_DIR")};
	int i, status;

	if (!ctl.pin_dir || !*ctl.pin_dir)
		ctl.pin_dir = VSN_DECAP_DEFAULT_PIN_DIR;
	i = cli_global_options("vsn-slb", argc, argv, &ctl.pin_dir, usage, &status);
	if (i < 0)
		return status;
	for (size_t c = 0; c < sizeof(cmds) / sizeof(cmds[0]); c++)
		if (!strcmp(argv[i], cmds[c].name))
			return cmds[c].run(&ctl, argc - i, argv + i);
	fprintf(stderr, "vsn-slb: unknown command '%s'\n\n", argv[i]);
	usage(stderr);
	return 2;
}
