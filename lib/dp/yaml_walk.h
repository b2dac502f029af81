/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What every vsn YAML file parser shares (policy-set files, the node
 * configuration, the controller's desired state): one document read with
 * libyaml's document loader, so that every node keeps its position; errors
 * written as "NAME:LINE:COLUMN: message"; mappings walked against a list of
 * known keys; typed scalars.
 *
 * Every int function returns 0 or a negative errno: -EINVAL with the
 * message in the error buffer, -ENOMEM with "NAME: out of memory". Output
 * parameters (ret_*, *ret) are untouched on failure. A parser embeds a
 * struct vsn_yaml in its own context; a field callback that needs that
 * context gets it as its obj.
 */
#ifndef VSN_YAML_WALK_H
#define VSN_YAML_WALK_H

#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "addr.h"

struct vsn_yaml {
	const char *name; /* the NAME errors begin with, usually the file's path */
	char *err;	  /* errlen bytes; may be NULL when errlen is 0 */
	size_t errlen;
	yaml_parser_t parser; /* kept to read past the first document */
	yaml_document_t doc;
};

/*
 * Read the first document of text (len bytes, need not end in a NUL) into
 * y->doc. A syntax error is -EINVAL with its position in the message. On
 * success the caller owns y and frees it with vsn_yaml_free(); on failure
 * there is nothing to free.
 */
int vsn_yaml_load(struct vsn_yaml *y, const char *name, const char *text, size_t len, char *err,
		  size_t errlen);
/* The first document's root node; NULL when the text holds no document. */
yaml_node_t *vsn_yaml_root(struct vsn_yaml *y);
/*
 * Refuse a second document (-EINVAL at its start), which would otherwise
 * be silently ignored; its syntax is checked too. Call once the first is
 * parsed, so that its errors come first.
 */
int vsn_yaml_expect_end(struct vsn_yaml *y);
void vsn_yaml_free(struct vsn_yaml *y);

/*
 * Write "NAME:LINE:COLUMN: " and the formatted message to the error buffer
 * (truncated to fit) and return -EINVAL. n's start gives the position; a
 * NULL n stands for the start of the text, 1:1.
 */
int vsn_yaml_fail(const struct vsn_yaml *y, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Write "NAME: out of memory" and return -ENOMEM. */
int vsn_yaml_oom(const struct vsn_yaml *y);

/* A scalar's text; NULL for no node, a list, a mapping or text with a NUL in it. */
const char *vsn_yaml_scalar(const yaml_node_t *n);

/*
 * Called for each key of a mapping: key is one of the known ones, val its
 * value; returns 0 to go on, or the error to stop with.
 */
typedef int (*vsn_yaml_field_fn)(struct vsn_yaml *y, const char *key, yaml_node_t *val, void *obj);
/*
 * Walk the mapping map, calling field() for each key in document order.
 * known is a NULL-terminated list of at most 64 keys. A key that is not a
 * scalar, is not known or comes twice is an error, so a typo never
 * silently means "the default"; so is a map that is not a mapping. what
 * names the mapping in errors ("WHAT: unknown field 'KEY'").
 */
int vsn_yaml_each_field(struct vsn_yaml *y, yaml_node_t *map, const char *what,
			const char *const *known, vsn_yaml_field_fn field, void *obj);
/*
 * vsn_yaml_each_field() over the root of the first document; a text that
 * holds no document is "NAME:1:1: EMPTY". On success vsn_yaml_root() is
 * not NULL.
 */
int vsn_yaml_each_root_field(struct vsn_yaml *y, const char *empty, const char *what,
			     const char *const *known, vsn_yaml_field_fn field, void *obj);

/* The length of the list seq into *ret_n; "WHAT: expected a list" if it is not one. */
int vsn_yaml_list(const struct vsn_yaml *y, const yaml_node_t *seq, const char *what,
		  size_t *ret_n);
/* Item i (below the length vsn_yaml_list() gave) of the list seq. */
yaml_node_t *vsn_yaml_item(struct vsn_yaml *y, const yaml_node_t *seq, size_t i);

/*
 * A decimal whole number in min..max: digits only, no sign, no spaces.
 * what names the value in errors ("WHAT: expected a whole number").
 */
int vsn_yaml_u64(const struct vsn_yaml *y, const yaml_node_t *n, const char *what, uint64_t min,
		 uint64_t max, uint64_t *ret);
int vsn_yaml_u32(const struct vsn_yaml *y, const yaml_node_t *n, const char *what, uint32_t min,
		 uint32_t max, uint32_t *ret);
/* A literal IPv4 or IPv6 address (vsn_addr_parse()). */
int vsn_yaml_addr(const struct vsn_yaml *y, const yaml_node_t *n, const char *what,
		  struct vsn_addr *ret);

#endif /* VSN_YAML_WALK_H */
