/* SPDX-License-Identifier: Apache-2.0 */
/* cert issue, cert show: the controller's and the nodes' certificates. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vsn.h"
#include "vsn_tls.h"

int cmd_cert_issue(int argc, char **argv)
{
	struct vsn_cert_opts o = {.sz = sizeof(o), .days = VSN_CERT_DEFAULT_DAYS};
	const char *ca_dir = NULL, *out_dir = NULL;
	struct vsn_tls_err err = {""};
	const char **dns, **ips;
	unsigned long days;
	int r, status = 1;

	/* At most one entry per argument: argc bounds both lists. */
	dns = calloc(argc, sizeof(*dns));
	ips = calloc(argc, sizeof(*ips));
	if (!dns || !ips) {
		vsn_err(0, "cert issue: out of memory");
		goto out;
	}
	o.dns = dns;
	o.ips = ips;
	for (int i = 1; i < argc; i++) {
		bool has_value = i + 1 < argc;

		if (!strcmp(argv[i], "--ca") && has_value) {
			ca_dir = argv[++i];
		} else if (!strcmp(argv[i], "--out") && has_value) {
			out_dir = argv[++i];
		} else if (!strcmp(argv[i], "--controller") || !strcmp(argv[i], "--node")) {
			if (o.role) {
				vsn_err(0, "cert issue: one of --controller or --node, once");
				goto out;
			}
			o.role = argv[i][2] == 'c' ? VSN_TLS_CONTROLLER : VSN_TLS_NODE;
		} else if (!strcmp(argv[i], "--dns") && has_value) {
			dns[o.n_dns++] = argv[++i];
		} else if (!strcmp(argv[i], "--ip") && has_value) {
			ips[o.n_ips++] = argv[++i];
		} else if (!strcmp(argv[i], "--days") && has_value) {
			if (cli_parse_ulong(argv[++i], VSN_CERT_MAX_DAYS, &days) || !days) {
				vsn_err(0, "cert issue: '%s' is no number of days (1 to %d)",
					argv[i], VSN_CERT_MAX_DAYS);
				goto out;
			}
			o.days = days;
		} else if (argv[i][0] != '-' && !o.name) {
			o.name = argv[i];
		} else {
			vsn_err(0,
				"cert issue: unexpected '%s' (usage: cert issue --ca DIR --out DIR "
				"(--controller|--node) NAME [--dns NAME]... [--ip ADDR]... "
				"[--days N])",
				argv[i]);
			goto out;
		}
	}
	if (!ca_dir || !out_dir || !o.role || !o.name) {
		vsn_err(0, "cert issue: %s is required",
			!ca_dir	   ? "--ca DIR"
			: !out_dir ? "--out DIR"
			: !o.role  ? "--controller or --node"
				   : "NAME");
		goto out;
	}
	r = vsn_cert_issue(ca_dir, out_dir, &o, &err);
	if (r) {
		vsn_err(0, "cert issue: %s", err.msg);
		goto out;
	}
	printf("issued %s certificate '%s' (%u days) in %s: %s.key (private key), %s.crt, %s\n",
	       vsn_tls_role_name(o.role), o.name, o.days, out_dir, o.name, o.name, VSN_CA_CERT);
	status = 0;
out:
	free(dns);
	free(ips);
	return status;
}

int cmd_cert_show(int argc, char **argv)
{
	struct vsn_tls_err err = {""};

	if (argc != 2)
		return vsn_err(0, "cert show: usage: cert show FILE");
	if (vsn_cert_show(argv[1], stdout, &err))
		return vsn_err(0, "cert show: %s", err.msg);
	return 0;
}
