/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_global_options(const char *prog, int argc, char **argv, const char **pin_dir,
		       void (*usage)(FILE *f), int *ret_exit)
{
	int i = 1;

	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			*ret_exit = 0;
			return -1;
		}
		if (pin_dir && !strcmp(argv[i], "--pin-dir") && i + 1 < argc) {
			*pin_dir = argv[i + 1];
			i += 2;
			continue;
		}
		fprintf(stderr, "%s: unknown option '%s'\n\n", prog, argv[i]);
		usage(stderr);
		*ret_exit = 2;
		return -1;
	}
	if (i >= argc) {
		usage(stderr);
		*ret_exit = 2;
		return -1;
	}
	return i;
}

int cli_verr(const char *prog, int r, const char *fmt, va_list ap)
{
	fflush(stdout);
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	if (r)
		fprintf(stderr, ": %s", strerror(-r));
	fprintf(stderr, "\n");
	return 1;
}

int cli_parse_ulong(const char *s, unsigned long max, unsigned long *ret)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}
