/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where a character of a scalar's value stands in the text: a condition's
 * error has a column in the condition, the operator wants a line and column
 * in the file. libyaml gives the scalar's start (in characters); from there
 * the raw text is walked along the value, past quotes, escapes and folded
 * line breaks. Exact for plain and quoted scalars on one line, the best it
 * can be for others.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "state_internal.h"

static bool is_break(char ch)
{
	return ch == '\n' || ch == '\r';
}

/* Whether a line ends at byte i: "\r\n", "\n" and "\r" are one break each, as for libyaml. */
static bool line_ends(const struct st_ctx *c, size_t i)
{
	return c->text[i] == '\n' ||
	       (c->text[i] == '\r' && (i + 1 == c->len || c->text[i + 1] != '\n'));
}

/* The byte offset of each line's start. */
static int line_starts(struct st_ctx *c)
{
	size_t n = 1;

	for (size_t i = 0; i < c->len; i++)
		n += line_ends(c, i);
	c->line_starts = malloc(n * sizeof(*c->line_starts));
	if (!c->line_starts)
		return -ENOMEM;
	c->line_starts[0] = 0;
	c->n_lines = 1;
	for (size_t i = 0; i < c->len; i++)
		if (line_ends(c, i))
			c->line_starts[c->n_lines++] = i + 1;
	return 0;
}

/* A walk over the raw text, keeping the position. */
struct cursor {
	const char *s;
	size_t i, len;
	struct vsn_state_pos pos;
};

/* One character on: a UTF-8 sequence counts as one column, a break starts a line. */
static void step(struct cursor *k)
{
	char ch = k->s[k->i++];

	if (ch == '\r' && k->i < k->len && k->s[k->i] == '\n')
		k->i++;
	if (is_break(ch)) {
		k->pos.line++;
		k->pos.column = 1;
		return;
	}
	while (k->i < k->len && ((unsigned char)k->s[k->i] & 0xc0) == 0x80)
		k->i++;
	k->pos.column++;
}

static void skip_blanks(struct cursor *k)
{
	while (k->i < k->len && (k->s[k->i] == ' ' || k->s[k->i] == '\t'))
		step(k);
}

/* Blanks, then a line break: a fold, which gives the value one blank or line feed. */
static bool at_fold(const struct cursor *k)
{
	size_t j = k->i;

	while (j < k->len && (k->s[j] == ' ' || k->s[j] == '\t'))
		j++;
	return j < k->len && is_break(k->s[j]);
}

/* Past the raw text of one value character v (its first byte). */
static void consume(struct cursor *k, char v, yaml_scalar_style_t style)
{
	if ((v == ' ' || v == '\n') && at_fold(k)) {
		skip_blanks(k);
		step(k);
		skip_blanks(k); /* the next line's indentation */
		return;
	}
	/* Raw blanks and breaks a non-blank value character stands after: indentation. */
	while (v != ' ' && v != '\t' && k->i < k->len &&
	       (k->s[k->i] == ' ' || k->s[k->i] == '\t' || is_break(k->s[k->i])))
		step(k);
	if (k->i >= k->len)
		return;
	if (style == YAML_SINGLE_QUOTED_SCALAR_STYLE && k->s[k->i] == '\'') {
		step(k); /* '' is one quote */
	} else if (style == YAML_DOUBLE_QUOTED_SCALAR_STYLE && k->s[k->i] == '\\') {
		char e = k->i + 1 < k->len ? k->s[k->i + 1] : 0;
		int n = e == 'x' ? 3 : e == 'u' ? 5 : e == 'U' ? 9 : 1;

		while (n-- > 0 && k->i < k->len)
			step(k);
	}
	if (k->i < k->len)
		step(k);
}

struct vsn_state_pos st_scalar_pos(struct st_ctx *c, const yaml_node_t *scalar, int column)
{
	yaml_scalar_style_t style = scalar->data.scalar.style;
	const char *value = (const char *)scalar->data.scalar.value;
	struct cursor k = {c->text, 0, c->len, st_pos(scalar)};
	size_t line = scalar->start_mark.line;

	if (!c->line_starts && line_starts(c))
		return k.pos; /* out of memory: the scalar's start will do */
	if (line >= c->n_lines)
		return k.pos;
	/* To the scalar's start: its line, then its column in characters. */
	k.i = c->line_starts[line];
	k.pos.column = 1;
	for (size_t col = 0; col < scalar->start_mark.column && k.i < k.len; col++)
		step(&k);
	if (style == YAML_SINGLE_QUOTED_SCALAR_STYLE || style == YAML_DOUBLE_QUOTED_SCALAR_STYLE) {
		step(&k);
	} else if (style == YAML_LITERAL_SCALAR_STYLE || style == YAML_FOLDED_SCALAR_STYLE) {
		/* The indicator's line, then the content's indentation. */
		while (k.i < k.len && !is_break(k.s[k.i]))
			step(&k);
		if (k.i < k.len)
			step(&k);
		skip_blanks(&k);
	}
	for (int i = 0; i + 1 < column && value[i] && k.i < k.len; i++)
		if (((unsigned char)value[i] & 0xc0) != 0x80) /* a character's first byte */
			consume(&k, value[i], style);
	return k.pos;
}
