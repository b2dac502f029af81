/* SPDX-License-Identifier: Apache-2.0 */
/* vsnd: read the options, load the policy files, serve them until told to stop. */
#include <signal.h>
#include <stdio.h>

#include "vsnd.h"

int main(int argc, char **argv)
{
	struct vsnd d = {0};
	char err[1024];
	int r, ret = 1;

	/* A peer gone while its answer is written must not end the controller. */
	signal(SIGPIPE, SIG_IGN);
	r = vsnd_opts_parse(argc, argv, &d.o);
	if (r)
		return r == 1 ? 0 : 2;
	vsn_log_setup("vsnd", d.o.log_format, d.o.log_level);
	/* A file that does not load stops vsnd before it listens. */
	if (!d.o.db && vsnd_sets_load(&d.o, &d.sets, err, sizeof(err))) {
		char q[1100];

		log_err("load", "error=%s", vsn_log_quote(err, q, sizeof(q)));
		goto out;
	}
	if (!vsnd_serve(&d))
		ret = 0;
	vsnd_sets_free(&d.sets);
out:
	vsnd_opts_free(&d.o);
	return ret;
}
