/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The API's JSON for humans: aligned tables and sentences. Every string from the server goes
 * to the terminal through put(), which turns control characters into '?': a name or message
 * cannot move the cursor or recolour the screen. A missing or null value shows as "-".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_cli.h"

#define MAX_COLS 8

/* Columns a UTF-8 string takes: its code points (no wide characters in vsn's names). */
static size_t width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

/* s on f, control characters (C0, DEL, C1) as '?', then pad blanks. */
static void put(FILE *f, const char *s, size_t pad)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			fputc('?', f);
		} else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			fputc('?', f);
			p++;
		} else {
			fputc(*p, f);
		}
	}
	fprintf(f, "%*s", (int)pad, "");
}

/* A JSON value as a cell: strings as they are, numbers, yes/no, "-" for none. */
static char *text(const json_t *v);

/* An object {"a": 1, "b": "x y"} as `a=1 b="x y"`, an array ["a", "b"] as "a, b". */
static char *join(const json_t *v)
{
	bool obj = json_is_object(v);
	void *it = obj ? json_object_iter((json_t *)v) : NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	for (size_t i = 0; obj ? it != NULL : i < json_array_size(v); i++) {
		const json_t *e = obj ? json_object_iter_value(it) : json_array_get(v, i);
		char *t = text(e);

		if (obj && strpbrk(t ? t : "", " \"\\")) {
			/* Quoted as logfmt does: a quote or backslash inside is escaped. */
			fprintf(f, "%s%s=\"", i ? " " : "", json_object_iter_key(it));
			for (const char *c = t; *c; c++)
				fprintf(f, *c == '"' || *c == '\\' ? "\\%c" : "%c", *c);
			fputc('"', f);
		} else if (obj)
			fprintf(f, "%s%s=%s", i ? " " : "", json_object_iter_key(it), t ? t : "?");
		else
			fprintf(f, "%s%s", i ? ", " : "", t ? t : "?");
		free(t);
		it = obj ? json_object_iter_next((json_t *)v, it) : NULL;
	}
	if (fclose(f))
		return NULL;
	return buf;
}

static char *text(const json_t *v)
{
	char *s = NULL;

	switch (v ? json_typeof(v) : JSON_NULL) {
	case JSON_STRING:
		return strdup(json_string_length(v) ? json_string_value(v) : "-");
	case JSON_INTEGER:
		return asprintf(&s, "%lld", (long long)json_integer_value(v)) < 0 ? NULL : s;
	case JSON_REAL:
		return asprintf(&s, "%g", json_real_value(v)) < 0 ? NULL : s;
	case JSON_TRUE:
		return strdup("yes");
	case JSON_FALSE:
		return strdup("no");
	case JSON_OBJECT:
	case JSON_ARRAY:
		return json_object_size(v) || json_array_size(v) ? join(v) : strdup("-");
	case JSON_NULL:
		break;
	}
	return strdup("-");
}

static char *field(const json_t *o, const char *key)
{
	return text(json_object_get(o, key));
}

/* A table being filled: rows of ncol cells, each a string it owns. */
struct table {
	size_t ncol;
	const char *const *head;
	char **cells;
	size_t nrow;
	int err;
};

/* Add a row of t->ncol cells; the table takes them (NULL cells: out of memory, noted). */
static void row(struct table *t, char **cells)
{
	char **c = realloc(t->cells, (t->nrow + 1) * t->ncol * sizeof(*c));

	for (size_t i = 0; i < t->ncol; i++)
		if (!cells[i])
			t->err = -ENOMEM;
	if (!c) {
		t->err = -ENOMEM;
		for (size_t i = 0; i < t->ncol; i++)
			free(cells[i]);
		return;
	}
	t->cells = c;
	memcpy(&c[t->nrow * t->ncol], cells, t->ncol * sizeof(*c));
	t->nrow++;
}

static const char *cell(const struct table *t, size_t r, size_t c)
{
	const char *s = t->cells[r * t->ncol + c];

	return s ? s : "?";
}

/*
 * Print t aligned, two blanks between columns, the last one unpadded. w (may be NULL) holds
 * widths from earlier batches of the same table, which only grow, and whether the header is
 * out already. Frees the cells. Returns t->err.
 */
static int table_print(FILE *f, struct table *t, struct ctl_widths *w)
{
	struct ctl_widths local = {0};
	size_t c, r;

	if (!w)
		w = &local;
	for (c = 0; c < t->ncol; c++) {
		size_t hw = width(t->head[c]);

		w->w[c] = w->w[c] > hw ? w->w[c] : hw;
		for (r = 0; r < t->nrow; r++) {
			size_t cw = width(cell(t, r, c));

			w->w[c] = w->w[c] > cw ? w->w[c] : cw;
		}
	}
	for (r = w->header_done ? 1 : 0; r <= t->nrow; r++)
		for (c = 0; c < t->ncol; c++) {
			const char *s = r ? cell(t, r - 1, c) : t->head[c];
			bool last = c + 1 == t->ncol;

			put(f, s, last ? 0 : w->w[c] - width(s) + 2);
			if (last)
				fputc('\n', f);
		}
	w->header_done = true;
	for (size_t i = 0; i < t->nrow * t->ncol; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->nrow = 0;
	return t->err;
}

/* The array key of o as rows of the fields keys (ncol of them). */
static void rows_of(struct table *t, const json_t *o, const char *key, const char *const *keys)
{
	const json_t *a = json_object_get(o, key);
	json_t *e;
	size_t i;

	json_array_foreach(a, i, e)
	{
		char *cells[MAX_COLS];

		for (size_t c = 0; c < t->ncol; c++)
			cells[c] = field(e, keys[c]);
		row(t, cells);
	}
}

void ctl_fmt_error(FILE *f, const char *cmd, long status, const json_t *body)
{
	const char *msg = json_string_value(json_object_get(body, "error"));
	const json_t *details = json_object_get(body, "details"), *d;
	size_t i;

	fprintf(f, "vsn: %s: ", cmd);
	if (msg)
		put(f, msg, 0);
	else if (status == 413)
		fprintf(f, "the request is larger than the server takes");
	else
		fprintf(f, "the server answered without saying why");
	fprintf(f, " (HTTP %ld)\n", status);
	json_array_foreach(details, i, d)
	{
		const char *file = json_string_value(json_object_get(d, "file"));
		json_int_t line = json_integer_value(json_object_get(d, "line"));
		json_int_t column = json_integer_value(json_object_get(d, "column"));
		const char *m = json_string_value(json_object_get(d, "message"));

		if (file && *file) {
			put(f, file, 0);
			if (line > 0)
				fprintf(f, ":%lld", (long long)line);
			if (line > 0 && column > 0)
				fprintf(f, ":%lld", (long long)column);
			fprintf(f, ": ");
		}
		put(f, m ? m : "?", 0);
		fputc('\n', f);
	}
}

/* "1.5s", "120ms", or "-" for none. */
static char *lag(const json_t *ms)
{
	double v = json_number_value(ms);
	char *s = NULL;

	if (v <= 0)
		return strdup("-");
	if (v < 1000)
		return asprintf(&s, "%.0fms", v) < 0 ? NULL : s;
	return asprintf(&s, "%.1fs", v / 1000) < 0 ? NULL : s;
}

static int status_services(FILE *f, const json_t *st)
{
	static const char *const head[] = {"SERVICE", "CONFIGURATION", "REASON"};
	struct table t = {.ncol = 3, .head = head};
	const json_t *a = json_object_get(st, "services"), *e;
	size_t i;

	json_array_foreach(a, i, e)
	{
		char *cells[3] = {field(e, "name"), NULL, field(e, "reason")};
		char *conf = field(e, "configuration");

		if (conf && json_is_true(json_object_get(e, "pinned"))) {
			if (asprintf(&cells[1], "%s (pinned)", conf) < 0)
				cells[1] = NULL;
			free(conf);
		} else {
			cells[1] = conf;
		}
		row(&t, cells);
	}
	if (!t.nrow) {
		fprintf(f, "no services\n");
		return t.err;
	}
	return table_print(f, &t, NULL);
}

static int status_nodes(FILE *f, const json_t *st)
{
	static const char *const head[] = {"NODE",    "CONNECTED", "SYNC",	"DESIRED",
					   "RUNNING", "LAG",	   "LAST ERROR"};
	struct table t = {.ncol = 7, .head = head};
	const json_t *a = json_object_get(st, "nodes"), *e;
	size_t i;

	json_array_foreach(a, i, e)
	{
		char *cells[7] = {
			field(e, "name"),
			field(e, "connected"),
			field(e, "sync"),
			field(e, "desired_generation"),
			field(e, "running_generation"),
			lag(json_object_get(e, "lag_ms")),
			field(e, "last_error"),
		};

		row(&t, cells);
	}
	if (!t.nrow) {
		fprintf(f, "no nodes\n");
		return t.err;
	}
	return table_print(f, &t, NULL);
}

/* "up", "down (connect refused)", "unknown"; "-" without health:. */
static char *health_cell(const json_t *h)
{
	const char *state = json_string_value(json_object_get(h, "state"));
	const char *why = json_string_value(json_object_get(h, "reason"));
	char *s = NULL;

	if (!state)
		return strdup("-");
	if (!strcmp(state, "down") && why && *why)
		return asprintf(&s, "%s (%s)", state, why) < 0 ? NULL : s;
	return strdup(state);
}

/* "0.42", "failed (connect refused)", "unknown"; "-" without load:. */
static char *load_cell(const json_t *l)
{
	const char *state = json_string_value(json_object_get(l, "state"));
	const char *why = json_string_value(json_object_get(l, "reason"));
	const json_t *v = json_object_get(l, "value");
	char *s = NULL;

	if (!state)
		return strdup("-");
	if (json_is_number(v))
		return asprintf(&s, "%.2f", json_number_value(v)) < 0 ? NULL : s;
	if (!strcmp(state, "failed") && why && *why)
		return asprintf(&s, "%s (%s)", state, why) < 0 ? NULL : s;
	return strdup(state);
}

static int status_slbs(FILE *f, const json_t *st)
{
	static const char *const head[] = {"SLB", "ADDRESS", "STATE", "HEALTH", "LOAD"};
	struct table t = {.ncol = 5, .head = head};
	const json_t *a = json_object_get(st, "slbs"), *e;
	size_t i;

	json_array_foreach(a, i, e)
	{
		char *cells[5] = {
			field(e, "name"),
			field(e, "address"),
			field(e, "state"),
			health_cell(json_object_get(e, "health")),
			load_cell(json_object_get(e, "load")),
		};

		row(&t, cells);
	}
	if (!t.nrow) {
		fprintf(f, "no SLBs\n");
		return t.err;
	}
	return table_print(f, &t, NULL);
}

int ctl_fmt_status(FILE *f, const json_t *st)
{
	int r;

	if (json_is_integer(json_object_get(st, "revision")))
		fprintf(f, "revision %lld\n\n",
			(long long)json_integer_value(json_object_get(st, "revision")));
	r = status_services(f, st);
	fputc('\n', f);
	r = status_nodes(f, st) ?: r;
	fputc('\n', f);
	return status_slbs(f, st) ?: r;
}

int ctl_fmt_history(FILE *f, const json_t *h)
{
	static const char *const head[] = {"REV", "CREATED", "AUTHOR", "MESSAGE"};
	static const char *const keys[] = {"revision", "created", "author", "message"};
	struct table t = {.ncol = 4, .head = head};

	rows_of(&t, h, "revisions", keys);
	if (!t.nrow) {
		fprintf(f, "no revisions\n");
		return t.err;
	}
	return table_print(f, &t, NULL);
}

int ctl_fmt_events(FILE *f, const json_t *ev, struct ctl_widths *w)
{
	static const char *const head[] = {"ID", "TIME", "TYPE", "SUBJECT", "DETAIL"};
	static const char *const keys[] = {"id", "time", "type", "subject", "detail"};
	struct table t = {.ncol = 5, .head = head};

	rows_of(&t, ev, "events", keys);
	if (!t.nrow) {
		/* A batch of --follow with nothing new says nothing. */
		if (!w)
			fprintf(f, "no events\n");
		return t.err;
	}
	return table_print(f, &t, w);
}

/* {"added": 2, "removed": 0, "changed": 1} as "+2 -0 ~1". */
static char *counts(const json_t *c)
{
	char *s = NULL;

	if (!json_is_object(c))
		return strdup("-");
	return asprintf(&s, "+%lld -%lld ~%lld",
			(long long)json_integer_value(json_object_get(c, "added")),
			(long long)json_integer_value(json_object_get(c, "removed")),
			(long long)json_integer_value(json_object_get(c, "changed"))) < 0
		       ? NULL
		       : s;
}

int ctl_fmt_diff(FILE *f, const json_t *d)
{
	static const char *const chead[] = {"KIND", "NAME", "CHANGE"};
	static const char *const ckeys[] = {"kind", "name", "change"};
	static const char *const nhead[] = {"NODE", "POLICIES", "SLBS", "POOLS"};
	struct table changes = {.ncol = 3, .head = chead}, nodes = {.ncol = 4, .head = nhead};
	json_int_t rev = json_integer_value(json_object_get(d, "revision"));
	const json_t *e;
	size_t i;
	int r = 0;

	rows_of(&changes, d, "changes", ckeys);
	json_array_foreach(json_object_get(d, "nodes"), i, e)
	{
		char *cells[4] = {field(e, "node"), counts(json_object_get(e, "policies")),
				  counts(json_object_get(e, "slbs")),
				  counts(json_object_get(e, "pools"))};

		row(&nodes, cells);
	}
	if (!changes.nrow && !nodes.nrow) {
		if (rev > 0)
			fprintf(f, "no changes against revision %lld\n", (long long)rev);
		else
			fprintf(f, "no changes\n");
		return changes.err ?: nodes.err;
	}
	if (rev > 0)
		fprintf(f, "changes against revision %lld:\n\n", (long long)rev);
	if (changes.nrow)
		r = table_print(f, &changes, NULL);
	if (r || !nodes.nrow)
		return r ?: nodes.err;
	/* table_print emptied changes: a blank line when it printed something. */
	if (json_array_size(json_object_get(d, "changes")))
		fputc('\n', f);
	return table_print(f, &nodes, NULL);
}

int ctl_fmt_revision(FILE *f, const json_t *res)
{
	const json_t *nodes = json_object_get(res, "changed_nodes");
	char *list = text(nodes);

	fprintf(f, "revision %lld; ",
		(long long)json_integer_value(json_object_get(res, "revision")));
	if (json_array_size(nodes)) {
		fprintf(f, "changed nodes: ");
		put(f, list ? list : "?", 0);
		fputc('\n', f);
	} else {
		fprintf(f, "no node's set changed\n");
	}
	free(list);
	return list ? 0 : -ENOMEM;
}

int ctl_fmt_slb(FILE *f, const json_t *res)
{
	char *slb = field(res, "slb"), *state = field(res, "state"), *prev = field(res, "previous"),
	     *nodes = field(res, "nodes");
	int r = slb && state && prev && nodes ? 0 : -ENOMEM;

	if (!r) {
		put(f, slb, 0);
		fprintf(f, ": ");
		put(f, state, 0);
		fprintf(f, " (was ");
		put(f, prev, 0);
		fprintf(f, "); sent to %s node%s\n", nodes, strcmp(nodes, "1") ? "s" : "");
	}
	free(slb);
	free(state);
	free(prev);
	free(nodes);
	return r;
}

int ctl_fmt_pin(FILE *f, const json_t *res)
{
	const char *svc = json_string_value(json_object_get(res, "service"));
	const char *cfg = json_string_value(json_object_get(res, "configuration"));
	char *list = text(json_object_get(res, "changed_nodes"));

	if (!list)
		return -ENOMEM;
	if (cfg)
		fprintf(f, "%s: pinned to %s", svc ? svc : "?", cfg);
	else
		fprintf(f, "%s: unpinned, its conditions decide again", svc ? svc : "?");
	fprintf(f, "; changed nodes: %s\n", *list ? list : "none");
	free(list);
	return 0;
}

int ctl_fmt_json(FILE *f, const json_t *v)
{
	if (json_dumpf(v, f, JSON_INDENT(2)))
		return -EIO;
	fputc('\n', f);
	return 0;
}
