/* SPDX-License-Identifier: Apache-2.0 */
/*
 * validate: check desired-state documents offline, with the rules every apply checks
 * (docs/controller.md, "Rules checked"; libvsnstate). No server, no store.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"
#include "vsn.h"

/* The whole of f into a new buffer: 0, or a negative errno. */
static int read_all(FILE *f, char **ret, size_t *ret_len)
{
	size_t cap = 65536, len = 0, n;
	char *buf = malloc(cap), *nb;

	while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len < cap)
			continue;
		nb = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
		if (!nb) {
			free(buf);
			return -ENOMEM;
		}
		buf = nb;
		cap *= 2;
	}
	if (!buf)
		return -ENOMEM;
	if (ferror(f)) {
		free(buf);
		return -EIO;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

static const char *plural(size_t n, const char *one, const char *more)
{
	return n == 1 ? one : more;
}

/* One file ("-": standard input): 0 when it is valid, else 1 after printing why. */
static int validate_one(const char *path)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "re") : stdin;
	struct vsn_state_errors errs;
	struct vsn_state *st;
	char line[VSN_STATE_ERROR_LEN + 4096];
	size_t len;
	char *text;
	int r;

	if (!f)
		return vsn_err(-errno, "validate: %s", path);
	r = read_all(f, &text, &len);
	if (f != stdin)
		fclose(f);
	if (r)
		return vsn_err(r, "validate: %s", path);
	r = vsn_state_parse(path, text, len, &st, &errs);
	free(text);
	if (r) {
		fflush(stdout);
		for (size_t i = 0; i < errs.n; i++) {
			vsn_state_errors_format(&errs, i, line, sizeof(line));
			fprintf(stderr, "%s\n", line);
		}
		if (errs.total > errs.n)
			fprintf(stderr, "%s: %zu more %s not shown\n", path, errs.total - errs.n,
				plural(errs.total - errs.n, "error", "errors"));
		return 1;
	}
	printf("%s: ok (%zu %s, %zu %s, %zu %s, %zu %s, %zu %s)\n", path, st->n_nodes,
	       plural(st->n_nodes, "node", "nodes"), st->n_slbs, plural(st->n_slbs, "SLB", "SLBs"),
	       st->n_pools, plural(st->n_pools, "pool", "pools"), st->n_services,
	       plural(st->n_services, "service", "services"), st->n_configs,
	       plural(st->n_configs, "configuration", "configurations"));
	vsn_state_free(st);
	return 0;
}

int cmd_validate(int argc, char **argv)
{
	int status = 0;

	if (argc < 2) {
		fprintf(stderr, "vsn: validate: no FILE (usage: validate FILE [FILE...])\n");
		return 2;
	}
	for (int i = 1; i < argc; i++)
		if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr,
				"vsn: validate: unknown option '%s' (usage: validate FILE "
				"[FILE...]; '-' is standard input)\n",
				argv[i]);
			return 2;
		}
	for (int i = 1; i < argc; i++)
		if (validate_one(argv[i]))
			status = 1;
	return status;
}
