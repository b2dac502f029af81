/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vsn: the operator's command line. Today it makes the certificates of mutual TLS between the
 * controller and the nodes; it talks to the controller's REST API when that lands. One command
 * per entry of the table below.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "vsn.h"

static const struct vsn_cmd cmds[] = {
	{"ca", "create", "--dir DIR [--name NAME] [--days N]",
	 "create a CA (ca.key, ca.crt) in DIR; never overwrites one (default name vsn-ca,\n"
	 "            3650 days)",
	 cmd_ca_create},
	{"cert", "issue",
	 "--ca DIR --out DIR (--controller|--node) NAME [--dns NAME]... [--ip ADDR]...\n"
	 "            [--days N]",
	 "issue NAME.key and NAME.crt into --out with the CA in --ca (and copy ca.crt\n"
	 "            there); re-issuing renews them (default 365 days)",
	 cmd_cert_issue},
	{"cert", "show", "FILE",
	 "subject, role, names, issuer, validity and serial of a certificate", cmd_cert_show},
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: vsn COMMAND [ARGS]\n\n"
		   "The command line of vsn, the virtual service network.\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %s %s %s\n            %s\n", cmds[i].group,
			cmds[i].verb ? cmds[i].verb : "", cmds[i].args, cmds[i].help);
	fprintf(f, "\nThe certificates guide is docs/certificates.md.\n");
}

int vsn_err(int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_verr("vsn", r, fmt, ap);
	va_end(ap);
	return 1;
}

int main(int argc, char **argv)
{
	bool group_known = false;
	int i, status;

	i = cli_global_options("vsn", argc, argv, NULL, usage, &status);
	if (i < 0)
		return status;
	for (size_t c = 0; c < sizeof(cmds) / sizeof(cmds[0]); c++) {
		if (strcmp(argv[i], cmds[c].group))
			continue;
		group_known = true;
		if (!cmds[c].verb)
			return cmds[c].run(argc - i, argv + i);
		if (i + 1 < argc && !strcmp(argv[i + 1], cmds[c].verb))
			return cmds[c].run(argc - i - 1, argv + i + 1);
	}
	if (group_known)
		fprintf(stderr, "vsn: '%s' needs one of its commands%s%s%s\n\n", argv[i],
			i + 1 < argc ? " (not '" : "", i + 1 < argc ? argv[i + 1] : "",
			i + 1 < argc ? "')" : "");
	else
		fprintf(stderr, "vsn: unknown command '%s'\n\n", argv[i]);
	usage(stderr);
	return 2;
}
