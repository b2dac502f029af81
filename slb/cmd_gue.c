/* SPDX-License-Identifier: Apache-2.0 */
/* gue-port: the UDP port the decap program takes GUE on, at run time. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "slb.h"

int slb_parse_gue_port(const char *cmd, const char *s, __u16 *ret)
{
	unsigned long v;

	if (!strcmp(s, "off")) {
		*ret = 0;
		return 0;
	}
	if (cli_parse_ulong(s, 65535, &v) || !v)
		return slb_err(0, "%s: '%s' is no UDP port (1 to 65535, or off)", cmd, s);
	*ret = v;
	return 0;
}

void slb_print_gue_port(__u16 port)
{
	if (port)
		printf("GUE is taken from UDP port %u\n", port);
	else
		printf("GUE is not taken (off)\n");
}

int cmd_gue_port(struct slb *ctl, int argc, char **argv)
{
	struct vsn_decap *d = NULL;
	__u16 port = 0, now;
	int r;

	if (argc > 2)
		return slb_err(0, "gue-port: one port at most");
	if (argc == 2 && slb_parse_gue_port("gue-port", argv[1], &port))
		return 1;
	if (slb_open(ctl, false, false, &d))
		return 1;
	r = argc == 2 ? vsn_decap_gue_port_set(d, port) : 0;
	if (!r)
		r = vsn_decap_gue_port_get(d, &now);
	vsn_decap_close(d);
	if (r)
		return slb_err(r, "gue-port");
	slb_print_gue_port(now);
	return 0;
}
