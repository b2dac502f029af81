/* SPDX-License-Identifier: Apache-2.0 */
/* The shared part of vsn's YAML file parsers (yaml_walk.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yaml_walk.h"

int vsn_yaml_fail(const struct vsn_yaml *y, const yaml_node_t *n, const char *fmt, ...)
{
	yaml_mark_t m = n ? n->start_mark : (yaml_mark_t){0};
	size_t off;
	va_list ap;
	int len;

	len = snprintf(y->err, y->errlen, "%s:%zu:%zu: ", y->name, m.line + 1, m.column + 1);
	off = len < 0 ? 0 : (size_t)len;
	if (off < y->errlen) {
		va_start(ap, fmt);
		vsnprintf(y->err + off, y->errlen - off, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

int vsn_yaml_oom(const struct vsn_yaml *y)
{
	snprintf(y->err, y->errlen, "%s: out of memory", y->name);
	return -ENOMEM;
}

/* The parser failed: out of memory, or a syntax error at its problem mark. */
static int load_error(const struct vsn_yaml *y)
{
	if (y->parser.error == YAML_MEMORY_ERROR)
		return vsn_yaml_oom(y);
	/* A scanner error's position is its problem mark; the context mark is where it began. */
	snprintf(y->err, y->errlen, "%s:%zu:%zu: %s", y->name, y->parser.problem_mark.line + 1,
		 y->parser.problem_mark.column + 1,
		 y->parser.problem ? y->parser.problem : "YAML syntax error");
	return -EINVAL;
}

int vsn_yaml_load(struct vsn_yaml *y, const char *name, const char *text, size_t len, char *err,
		  size_t errlen)
{
	int r;

	*y = (struct vsn_yaml){.name = name, .err = err, .errlen = errlen};
	if (!yaml_parser_initialize(&y->parser))
		return vsn_yaml_oom(y);
	yaml_parser_set_input_string(&y->parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&y->parser, &y->doc)) {
		r = load_error(y);
		yaml_parser_delete(&y->parser);
		return r;
	}
	return 0;
}

yaml_node_t *vsn_yaml_root(struct vsn_yaml *y)
{
	return yaml_document_get_root_node(&y->doc);
}

int vsn_yaml_expect_end(struct vsn_yaml *y)
{
	yaml_document_t next;
	yaml_node_t *extra;
	int r = 0;

	if (!yaml_parser_load(&y->parser, &next))
		return load_error(y);
	extra = yaml_document_get_root_node(&next);
	if (extra)
		r = vsn_yaml_fail(y, extra, "expected one YAML document, this is a second one");
	yaml_document_delete(&next);
	return r;
}

void vsn_yaml_free(struct vsn_yaml *y)
{
	yaml_document_delete(&y->doc);
	yaml_parser_delete(&y->parser);
}

const char *vsn_yaml_scalar(const yaml_node_t *n)
{
	const char *s;

	if (!n || n->type != YAML_SCALAR_NODE)
		return NULL;
	s = (const char *)n->data.scalar.value;
	return strlen(s) == n->data.scalar.length ? s : NULL;
}

int vsn_yaml_each_field(struct vsn_yaml *y, yaml_node_t *map, const char *what,
			const char *const *known, vsn_yaml_field_fn field, void *obj)
{
	unsigned long long seen = 0;

	if (map->type != YAML_MAPPING_NODE)
		return vsn_yaml_fail(y, map, "%s: expected a mapping", what);
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(&y->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(&y->doc, p->value);
		const char *key = vsn_yaml_scalar(k);
		int i, r;

		if (!key)
			return vsn_yaml_fail(y, k, "%s: keys must be plain words", what);
		for (i = 0; known[i] && strcmp(known[i], key); i++)
			;
		if (!known[i])
			return vsn_yaml_fail(y, k, "%s: unknown field '%s'", what, key);
		if (seen & (1ull << i))
			return vsn_yaml_fail(y, k, "%s: field '%s' given twice", what, key);
		seen |= 1ull << i;
		r = field(y, key, v, obj);
		if (r)
			return r;
	}
	return 0;
}

int vsn_yaml_each_root_field(struct vsn_yaml *y, const char *empty, const char *what,
			     const char *const *known, vsn_yaml_field_fn field, void *obj)
{
	yaml_node_t *root = vsn_yaml_root(y);

	if (!root)
		return vsn_yaml_fail(y, NULL, "%s", empty);
	return vsn_yaml_each_field(y, root, what, known, field, obj);
}

int vsn_yaml_list(const struct vsn_yaml *y, const yaml_node_t *seq, const char *what, size_t *ret_n)
{
	if (seq->type != YAML_SEQUENCE_NODE)
		return vsn_yaml_fail(y, seq, "%s: expected a list", what);
	*ret_n = seq->data.sequence.items.top - seq->data.sequence.items.start;
	return 0;
}

yaml_node_t *vsn_yaml_item(struct vsn_yaml *y, const yaml_node_t *seq, size_t i)
{
	return yaml_document_get_node(&y->doc, seq->data.sequence.items.start[i]);
}

int vsn_yaml_u64(const struct vsn_yaml *y, const yaml_node_t *n, const char *what, uint64_t min,
		 uint64_t max, uint64_t *ret)
{
	const char *s = vsn_yaml_scalar(n);
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		return vsn_yaml_fail(y, n, "%s: expected a whole number", what);
	/* A digit first: strtoull() would skip spaces, and take a sign after them. */
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s < '0' || *s > '9' || errno || *end)
		return vsn_yaml_fail(y, n, "%s: expected a whole number, not '%s'", what, s);
	if (v < min || v > max)
		return vsn_yaml_fail(y, n, "%s: %llu is out of range %" PRIu64 "..%" PRIu64, what,
				     v, min, max);
	*ret = v;
	return 0;
}

int vsn_yaml_u32(const struct vsn_yaml *y, const yaml_node_t *n, const char *what, uint32_t min,
		 uint32_t max, uint32_t *ret)
{
	uint64_t v;
	int r = vsn_yaml_u64(y, n, what, min, max, &v);

	if (!r)
		*ret = (uint32_t)v;
	return r;
}

int vsn_yaml_addr(const struct vsn_yaml *y, const yaml_node_t *n, const char *what,
		  struct vsn_addr *ret)
{
	const char *s = vsn_yaml_scalar(n);

	if (!s)
		return vsn_yaml_fail(y, n, "%s: expected an address", what);
	if (vsn_addr_parse(s, ret))
		return vsn_yaml_fail(y, n, "%s: '%s' is not an IPv4 or IPv6 address", what, s);
	return 0;
}
