/* SPDX-License-Identifier: Apache-2.0 */
/* ca create: the operator's CA, which signs the controller's and the nodes' certificates. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "vsn.h"
#include "vsn_tls.h"

int cmd_ca_create(int argc, char **argv)
{
	const char *dir = NULL, *name = VSN_CA_DEFAULT_NAME;
	unsigned long days = VSN_CA_DEFAULT_DAYS;
	struct vsn_tls_err err = {""};
	int r;

	for (int i = 1; i < argc; i++) {
		bool has_value = i + 1 < argc;

		if (!strcmp(argv[i], "--dir") && has_value) {
			dir = argv[++i];
		} else if (!strcmp(argv[i], "--name") && has_value) {
			name = argv[++i];
		} else if (!strcmp(argv[i], "--days") && has_value) {
			if (cli_parse_ulong(argv[++i], VSN_CERT_MAX_DAYS, &days) || !days)
				return vsn_err(0, "ca create: '%s' is no number of days (1 to %d)",
					       argv[i], VSN_CERT_MAX_DAYS);
		} else {
			return vsn_err(0,
				       "ca create: unexpected '%s' (usage: ca create --dir DIR "
				       "[--name NAME] [--days N])",
				       argv[i]);
		}
	}
	if (!dir)
		return vsn_err(0, "ca create: --dir DIR is required");
	r = vsn_ca_create(dir, name, days, &err);
	if (r)
		return vsn_err(0, "ca create: %s", err.msg);
	printf("created CA '%s' in %s: %s (private key, keep it safe), %s (give it to the "
	       "controller and every node)\n",
	       name, dir, VSN_CA_KEY, VSN_CA_CERT);
	return 0;
}
