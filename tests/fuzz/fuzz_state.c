/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the desired-state document and the condition language
 * (lib/state): every input is parsed both as a document and as a condition.
 * A document gives a state whose every name is resolved, or errors at
 * positions inside the text; a condition gives a tree whose canonical print
 * parses back to the same print, or an error at a column inside the text.
 * Never a crash, a leak or undefined behaviour.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"

/* The canonical print of a condition is a fixed point of parse and print. */
static void check_canonical(const struct vsn_cond *c)
{
	char a[2 * VSN_COND_MAX_LEN], b[2 * VSN_COND_MAX_LEN];
	struct vsn_cond_error err;
	struct vsn_cond *again;
	int len = vsn_cond_format(c, a, sizeof(a));

	if (len < 0 || (size_t)len >= sizeof(a))
		abort();
	if (vsn_cond_parse(a, (size_t)len, &again, &err))
		abort();
	vsn_cond_format(again, b, sizeof(b));
	if (strcmp(a, b))
		abort();
	vsn_cond_free(again);
}

static void check_state(const struct vsn_state *st)
{
	for (size_t i = 0; i < st->n_pools; i++)
		for (size_t j = 0; j < st->pools[i].n_members; j++)
			if (!st->pools[i].members[j].slb)
				abort();
	for (size_t i = 0; i < st->n_services; i++) {
		const struct vsn_state_service *vs = &st->services[i];

		if (!vs->default_config || !vs->vip.family || vs->pos.line < 1)
			abort();
		for (size_t j = 0; j < vs->n_nodes; j++)
			if (!vs->nodes[j].node)
				abort();
		for (size_t j = 0; j < vs->n_configs; j++) {
			const struct vsn_state_config *cfg = &vs->configs[j];

			if (!cfg->when != !cfg->cond)
				abort();
			if (cfg->cond)
				check_canonical(cfg->cond);
			for (size_t k = 0; k < cfg->n_policies; k++)
				if (cfg->policies[k].dest.kind == VSN_STATE_DEST_NONE)
					abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct vsn_state_errors errs;
	struct vsn_cond_error cerr;
	struct vsn_state *st;
	struct vsn_cond *c;

	if (!vsn_state_parse("fuzz.yaml", text, size, &st, &errs)) {
		check_state(st);
		vsn_state_free(st);
	} else if (!errs.n || errs.total < errs.n) {
		abort();
	}
	if (!vsn_cond_parse(text, size, &c, &cerr)) {
		check_canonical(c);
		vsn_cond_free(c);
	} else if (cerr.column < 1 || (size_t)cerr.column > size + 1) {
		abort();
	}
	return 0;
}
