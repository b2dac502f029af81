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
#include "ctl_cli.h"
#include "vsn.h"

/* validate (cmd_validate.c): offline, over libvsnstate. */
int cmd_validate(int argc, char **argv);

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
	{"validate", NULL, "FILE [FILE...]",
	 "check desired-state documents offline, by the rules every apply checks:\n"
	 "            'FILE: ok' and what it holds, or each error as FILE:LINE:COLUMN\n"
	 "            (docs/config-reference.md); exit 1 on an error",
	 cmd_validate},
	/* The controller's API (docs/controller.md, "CLI"); their options are in usage(). */
	{"apply", NULL, "-f FILE [-m MESSAGE] [--author NAME]",
	 "check FILE on the controller, store it as a new revision, compile and push\n"
	 "            the nodes' sets; errors as FILE:LINE:COLUMN (author: $USER@host)",
	 cmd_apply},
	{"diff", NULL, "-f FILE",
	 "what applying FILE would change: services, SLBs, pools, nodes' sets", cmd_diff},
	{"history", NULL, "[--limit N]", "the revisions, newest first (default 100)", cmd_history},
	{"rollback", NULL, "REV [-m MESSAGE] [--author NAME]",
	 "apply revision REV's document again, as a new revision", cmd_rollback},
	{"events", NULL, "[--follow] [--since ID] [--limit N]",
	 "the newest N events (default 100), or those after ID; --follow: then\n"
	 "            the new ones every 500 ms until Ctrl-C",
	 cmd_events},
	{"status", NULL, "",
	 "each service's active configuration and why, each node's connection,\n"
	 "            generations and lag, each SLB's state",
	 cmd_status},
	{"drain", NULL, "SLB [--author NAME]",
	 "no new flows to SLB (established ones stay), on every node at once", cmd_drain},
	{"undrain", NULL, "SLB [--author NAME]", "SLB up again, on every node at once",
	 cmd_undrain},
	{"pin", NULL, "SERVICE CONFIGURATION [--author NAME]",
	 "run that configuration of SERVICE whatever its conditions, until unpin", cmd_pin},
	{"unpin", NULL, "SERVICE [--author NAME]", "SERVICE's conditions decide again", cmd_unpin},
	{"get", "state", "", "the desired-state document in force, as it was applied",
	 cmd_get_state},
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: vsn COMMAND [ARGS]\n\n"
		   "The command line of vsn, the virtual service network.\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %s%s%s%s%s\n            %s\n", cmds[i].group, cmds[i].verb ? " " : "",
			cmds[i].verb ? cmds[i].verb : "", cmds[i].args[0] ? " " : "", cmds[i].args,
			cmds[i].help);
	fprintf(f, "\nThe commands from apply to get state talk to the controller's API and take,\n"
		   "after their name:\n"
		   "  --server URL        default $VSN_SERVER, else " CTL_DEFAULT_SERVER "\n"
		   "  --token TOKEN       default $VSN_TOKEN; or --token-file FILE\n"
		   "  --ca FILE           the operator's CA (default $VSN_CA, else the system's)\n"
		   "  -o json|table       the API's JSON, or tables (default)\n"
		   "They exit 1 when the request fails, 2 for a bad command line.\n");
	fprintf(f, "\nThe certificates guide is docs/certificates.md; the controller's,\n"
		   "docs/controller.md.\n");
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
