/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the parts of libvsnstate share while they read one document: the
 * parse context, the error list, the name indexes.
 *
 * Errors do not stop a parse: each is noted with its position and the parse
 * goes on with the next field or entry, so that one run reports all it can
 * (vsn validate prints them all). Only running out of memory stops it. The
 * shared YAML helpers (yaml_walk.h) write one message into a buffer; st_note()
 * moves it into the list.
 */
#ifndef VSN_STATE_INTERNAL_H
#define VSN_STATE_INTERNAL_H

#include "arena.h"
#include "state.h"
#include "yaml_walk.h"

enum st_kind {
	ST_NODE,
	ST_SLB,
	ST_POOL,
	ST_SERVICE,
	ST_KINDS,
};

/* A sorted index of one kind's names; each entity struct begins with its name. */
struct st_index {
	const void **obj; /* sorted by name; each name once */
	size_t n;
};

struct vsn_state_priv {
	struct vsn_arena arena;
	struct st_index index[ST_KINDS];
};

/* A `when` with its scalar, so that names found unknown later get their place in the text. */
struct st_when {
	const struct vsn_state_config *config;
	const yaml_node_t *scalar;
};

struct st_ctx {
	struct vsn_yaml y; /* first: a field callback's y is its context (st_ctx_of()) */
	char yerr[VSN_STATE_ERROR_LEN + 64];
	const char *text;
	size_t len;
	size_t *line_starts; /* byte offset of each line, built when first needed */
	size_t n_lines;
	struct vsn_state *st;
	struct vsn_arena *arena;
	struct vsn_state_errors *errs;
	struct st_when *whens;
	size_t n_whens, cap_whens;
	unsigned char *used; /* a bit per YAML node: the lists read so far */
};

static inline struct st_ctx *st_ctx_of(struct vsn_yaml *y)
{
	return (struct st_ctx *)y;
}

/* errors.c */
struct vsn_state_pos st_pos(const yaml_node_t *n);
void st_error_at(struct st_ctx *c, struct vsn_state_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void st_error(struct st_ctx *c, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/*
 * After a yaml_walk.h helper returned r: -EINVAL moves its message into the
 * list and gives 0 (go on); -ENOMEM is returned to stop the parse.
 */
int st_note(struct st_ctx *c, int r);
/* Out of memory: noted once, -ENOMEM returned. */
int st_oom(struct st_ctx *c);

/* textpos.c: where column (1-based) of scalar's value stands in the text. */
struct vsn_state_pos st_scalar_pos(struct st_ctx *c, const yaml_node_t *scalar, int column);

/* parse.c: the document's fields into c->st; 0 or -ENOMEM. */
int st_parse_document(struct st_ctx *c);

/* names.c */
/* The name of each kind in messages: "node", "slb", "pool", "service". */
extern const char *const st_kind_names[ST_KINDS];
/* Index the n entities at base (size bytes each); a name defined twice is an error. */
int st_index_build(struct st_ctx *c, enum st_kind kind, const void *base, size_t n, size_t size,
		   size_t pos_offset);
const void *st_index_find(const struct vsn_state *st, enum st_kind kind, const char *name);

/* validate.c: every rule across entries, once the names are indexed; 0 or -ENOMEM. */
int st_validate(struct st_ctx *c);

/* claims.c: no two services claim the same address, protocol and port; 0 or -ENOMEM. */
int st_check_claims(struct st_ctx *c);

#endif /* VSN_STATE_INTERNAL_H */
