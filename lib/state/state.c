/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vsn_state_parse(): read the YAML (parse.c), index the names and check
 * the rules across entries (names.c, validate.c, claims.c); every error
 * found on the way is kept with its position (errors.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "state_internal.h"

void vsn_state_free(struct vsn_state *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->n_services; i++)
		for (size_t j = 0; j < st->services[i].n_configs; j++)
			vsn_cond_free(st->services[i].configs[j].cond);
	if (st->priv)
		vsn_arena_free(&st->priv->arena);
	free(st->priv);
	free(st);
}

int vsn_state_parse(const char *name, const char *text, size_t len, struct vsn_state **ret,
		    struct vsn_state_errors *errs)
{
	struct vsn_state_errors mine;
	struct st_ctx c = {.text = text, .len = len};
	int r;

	if (!errs)
		errs = &mine;
	errs->name = name;
	errs->n = errs->total = 0;
	c.errs = errs;
	c.st = calloc(1, sizeof(*c.st));
	if (c.st)
		c.st->priv = calloc(1, sizeof(*c.st->priv));
	if (!c.st || !c.st->priv) {
		r = st_oom(&c);
		goto out;
	}
	c.arena = &c.st->priv->arena;
	/* The text is named "" for the helpers, so that st_note() reads their messages back. */
	r = vsn_yaml_load(&c.y, "", text, len, c.yerr, sizeof(c.yerr));
	if (r) {
		r = st_note(&c, r);
		goto out;
	}
	r = st_parse_document(&c);
	if (!r)
		r = st_validate(&c);
	vsn_yaml_free(&c.y);
out:
	free(c.whens);
	free(c.line_starts);
	free(c.used);
	if (!r && errs->total)
		r = -EINVAL;
	if (r) {
		vsn_state_free(c.st);
		return r;
	}
	*ret = c.st;
	return 0;
}
