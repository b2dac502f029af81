/* SPDX-License-Identifier: Apache-2.0 */
/* The error list of a parse (state_internal.h): the earliest VSN_STATE_MAX_ERRORS, in order. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state_internal.h"

struct vsn_state_pos st_pos(const yaml_node_t *n)
{
	return (struct vsn_state_pos){(int)n->start_mark.line + 1, (int)n->start_mark.column + 1};
}

static bool before(struct vsn_state_pos a, struct vsn_state_pos b)
{
	return a.line < b.line || (a.line == b.line && a.column < b.column);
}

/* Keep msg at pos if it is among the earliest; of errors at one place, the first found first. */
static void add(struct st_ctx *c, struct vsn_state_pos pos, const char *msg)
{
	struct vsn_state_errors *e = c->errs;
	size_t i = e->n;

	while (i > 0 && before(pos, e->e[i - 1].pos))
		i--;
	for (size_t j = i; j > 0 && !before(e->e[j - 1].pos, pos); j--)
		if (!strcmp(e->e[j - 1].msg, msg))
			return; /* the same error again, from a second path to it */
	e->total++;
	if (i == VSN_STATE_MAX_ERRORS)
		return;
	if (e->n == VSN_STATE_MAX_ERRORS)
		e->n--; /* the latest goes */
	memmove(&e->e[i + 1], &e->e[i], (e->n - i) * sizeof(e->e[0]));
	e->e[i].pos = pos;
	snprintf(e->e[i].msg, sizeof(e->e[i].msg), "%s", msg);
	e->n++;
}

static void verror(struct st_ctx *c, struct vsn_state_pos pos, const char *fmt, va_list ap)
{
	char msg[VSN_STATE_ERROR_LEN];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	add(c, pos, msg);
}

void st_error_at(struct st_ctx *c, struct vsn_state_pos pos, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(c, pos, fmt, ap);
	va_end(ap);
}

void st_error(struct st_ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(c, st_pos(n), fmt, ap);
	va_end(ap);
}

int st_oom(struct st_ctx *c)
{
	add(c, (struct vsn_state_pos){0, 0}, "out of memory");
	return -ENOMEM;
}

int st_note(struct st_ctx *c, int r)
{
	struct vsn_state_pos pos = {0, 0};
	const char *s = c->yerr;
	char *end;

	if (r != -EINVAL)
		return r == -ENOMEM ? st_oom(c) : r;
	/* The helpers wrote ":LINE:COLUMN: message": this parse names its text "". */
	if (*s == ':') {
		pos.line = (int)strtol(s + 1, &end, 10);
		if (*end == ':')
			pos.column = (int)strtol(end + 1, &end, 10);
		if (!strncmp(end, ": ", 2))
			s = end + 2;
	}
	add(c, pos, s);
	c->yerr[0] = '\0';
	return 0;
}

int vsn_state_errors_format(const struct vsn_state_errors *errs, size_t i, char *buf, size_t len)
{
	const struct vsn_state_error *e = &errs->e[i];

	if (e->pos.line <= 0)
		return snprintf(buf, len, "%s: %s", errs->name, e->msg);
	return snprintf(buf, len, "%s:%d:%d: %s", errs->name, e->pos.line, e->pos.column, e->msg);
}
