/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The load parsers (vsn_scrape.h): HAProxy CSV, nginx stub_status, Prometheus text. Pure: no
 * I/O, no allocation, every read bounded by the length given, every line of the input checked.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "probe_internal.h"
#include "vsn_scrape.h"

/* More fields in a CSV line than this is not HAProxy's (2.8 has about 100). */
#define CSV_FIELDS_MAX 1024
/* More labels on one Prometheus sample than this is refused. */
#define PROM_SAMPLE_LABELS_MAX 64
/* A number's text longer than this is refused. */
#define NUM_MAX 63
/* Integers above this (2^53) would lose precision as doubles. */
#define U53_MAX 9007199254740992ULL

/* A read position in [p, end). */
struct cur {
	const char *p, *end;
	unsigned int line; /* from 1, for the reasons */
};

static bool digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

static void skip_blanks(struct cur *c)
{
	while (c->p < c->end && blank(*c->p))
		c->p++;
}

/* At the end of a line (LF, CR LF, or the end of the input): step past it. */
static bool take_eol(struct cur *c)
{
	if (c->p < c->end && *c->p == '\r' && c->p + 1 < c->end && c->p[1] == '\n')
		c->p++;
	if (c->p < c->end && *c->p != '\n')
		return false;
	if (c->p < c->end)
		c->p++;
	c->line++;
	return true;
}

/* Skip to the next line. */
static void skip_line(struct cur *c)
{
	const char *lf = memchr(c->p, '\n', c->end - c->p);

	c->p = lf ? lf + 1 : c->end;
	c->line++;
}

static bool take_lit(struct cur *c, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n))
		return false;
	c->p += n;
	return true;
}

/* A decimal integer of [s, s + n) up to 2^53. */
static bool u53(const char *s, size_t n, uint64_t *ret)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > 16)
		return false;
	for (i = 0; i < n; i++) {
		if (!digit(s[i]))
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > U53_MAX)
		return false;
	*ret = v;
	return true;
}

static bool take_u53(struct cur *c, uint64_t *ret)
{
	const char *s = c->p;

	while (c->p < c->end && digit(*c->p))
		c->p++;
	return u53(s, c->p - s, ret);
}

/* ---- HAProxy CSV ---- */

/* A field, a name or a label value, as it stands in the input. */
struct cell {
	const char *s;
	size_t n;
	bool quoted;  /* CSV: "" inside stands for one " */
	bool escaped; /* Prometheus: \n, \\ and \" stand for a newline, \ and " */
};

/* The character at *i of c, unescaped; *i moves past it. */
static char cell_char(const struct cell *c, size_t *i)
{
	char ch = c->s[(*i)++];

	if (c->quoted && ch == '"') {
		(*i)++; /* the second of "" */
	} else if (c->escaped && ch == '\\') {
		ch = c->s[(*i)++];
		if (ch == 'n')
			ch = '\n';
	}
	return ch;
}

/*
 * The field at c->p: 1 when another follows on its line, 0 when its line ends after it (c->p
 * past the line), -EBADMSG.
 */
static int csv_cell(struct cur *c, struct cell *ret)
{
	const char *s = c->p, *end = c->end;

	ret->escaped = false;
	ret->quoted = s < end && *s == '"';
	if (ret->quoted) {
		ret->s = ++s;
		for (;; s++) {
			if (s >= end)
				return -EBADMSG;
			if (*s != '"')
				continue;
			if (s + 1 < end && s[1] == '"')
				s++;
			else
				break;
		}
		ret->n = s - ret->s;
		s++;
	} else {
		ret->s = s;
		while (s < end && *s != ',' && *s != '\n')
			s++;
		ret->n = s - ret->s;
		if (ret->n && s[-1] == '\r' && (s == end || *s == '\n'))
			ret->n--;
	}
	c->p = s;
	if (s < end && *s == ',') {
		c->p++;
		return 1;
	}
	return take_eol(c) ? 0 : -EBADMSG;
}

/* c, unescaped, is str. */
static bool cell_eq(const struct cell *c, const char *str)
{
	size_t i = 0, k = 0, n = strlen(str);

	while (i < c->n)
		if (k >= n || str[k++] != cell_char(c, &i))
			return false;
	return k == n;
}

/* The CSV columns we read. */
enum { COL_PX, COL_SV, COL_SCUR, COL_SLIM, N_COLS };
static const char *const col_names[N_COLS] = {"pxname", "svname", "scur", "slim"};

/* Each field of the line at c->p, with its index, to visit (which returns nothing). */
static int csv_line(struct cur *c, void (*visit)(const struct cell *, int, void *), void *arg,
		    struct vsn_probe_err *err)
{
	unsigned int line = c->line;
	struct cell cell;
	int r = 1, i;

	for (i = 0; r == 1; i++) {
		if (i == CSV_FIELDS_MAX)
			return probe_err(err, -EBADMSG, "line %u: over %d fields", line,
					 CSV_FIELDS_MAX);
		r = csv_cell(c, &cell);
		if (r < 0)
			return probe_err(err, r, "line %u: a malformed field", line);
		visit(&cell, i, arg);
	}
	return 0;
}

/* The header: where each column we read is (cols[k], -1 until found). */
static void visit_header(const struct cell *cell, int i, void *arg)
{
	int *cols = arg, k;

	for (k = 0; k < N_COLS; k++)
		if (cols[k] < 0 && cell_eq(cell, col_names[k]))
			cols[k] = i;
}

/* A row: its cells of the columns we read. */
struct row {
	const int *cols;
	struct cell cells[N_COLS]; /* .s NULL when the line is too short */
};

static void visit_row(const struct cell *cell, int i, void *arg)
{
	struct row *row = arg;
	int k;

	for (k = 0; k < N_COLS; k++)
		if (row->cols[k] == i)
			row->cells[k] = *cell;
}

/* The header line, past its '#'. */
static int csv_header(struct cur *c, int *cols, struct vsn_probe_err *err)
{
	unsigned int line = c->line;
	int k, r;

	for (k = 0; k < N_COLS; k++)
		cols[k] = -1;
	skip_blanks(c);
	r = csv_line(c, visit_header, cols, err);
	for (k = 0; !r && k < N_COLS; k++)
		if (cols[k] < 0)
			r = probe_err(err, -EBADMSG, "line %u: the header names no %s column", line,
				      col_names[k]);
	return r;
}

static int csv_row(struct cur *c, struct row *row, struct vsn_probe_err *err)
{
	unsigned int line = c->line;
	int k, r;

	memset(row->cells, 0, sizeof(row->cells));
	r = csv_line(c, visit_row, row, err);
	for (k = 0; !r && k < N_COLS; k++)
		if (!row->cells[k].s)
			r = probe_err(err, -EBADMSG, "line %u: no %s field", line, col_names[k]);
	return r;
}

/* scur and slim of a matching row. */
static int csv_figures(const struct cell *row, unsigned int line, struct vsn_load_figures *ret,
		       struct vsn_probe_err *err)
{
	uint64_t scur, slim = 0;

	if (row[COL_SCUR].quoted || !u53(row[COL_SCUR].s, row[COL_SCUR].n, &scur))
		return probe_err(err, -EBADMSG, "line %u: scur is %s", line,
				 row[COL_SCUR].n ? "not a number" : "empty");
	if (row[COL_SLIM].n &&
	    (row[COL_SLIM].quoted || !u53(row[COL_SLIM].s, row[COL_SLIM].n, &slim)))
		return probe_err(err, -EBADMSG, "line %u: slim is not a number", line);
	ret->current = (double)scur;
	ret->limit = (double)slim;
	return 0;
}

int vsn_scrape_haproxy_csv(const char *buf, size_t len, const char *proxy, const char *server,
			   struct vsn_load_figures *ret, struct vsn_probe_err *err)
{
	struct cur c = {buf, buf + len, 1};
	struct vsn_load_figures f = {0};
	int cols[N_COLS], r;
	struct row row = {.cols = cols};
	unsigned int found = 0, at = 0;
	bool header = false;

	while (c.p < c.end) {
		unsigned int line = c.line;

		if (*c.p == '\n' || (*c.p == '\r' && c.p + 1 < c.end && c.p[1] == '\n')) {
			take_eol(&c);
			continue;
		}
		if (*c.p == '#') {
			c.p++;
			/* The first header counts; a later one (another process's) is a comment. */
			if (header) {
				skip_line(&c);
				continue;
			}
			r = csv_header(&c, cols, err);
			if (r)
				return r;
			header = true;
			continue;
		}
		if (!header)
			return probe_err(err, -EBADMSG, "line %u: a row before the header line",
					 line);
		r = csv_row(&c, &row, err);
		if (r)
			return r;
		if (!cell_eq(&row.cells[COL_PX], proxy) || !cell_eq(&row.cells[COL_SV], server))
			continue;
		if (found++ == 0) {
			at = line;
			r = csv_figures(row.cells, line, &f, err);
			if (r)
				return r;
		}
	}
	if (!header)
		return probe_err(err, -EBADMSG, "no header line (# pxname,svname,...)");
	if (!found)
		return probe_err(err, -ENOENT, "no row %s/%s", proxy, server);
	if (found > 1)
		return probe_err(err, -EEXIST, "%u rows %s/%s (the first at line %u)", found, proxy,
				 server, at);
	*ret = f;
	return 0;
}

/* ---- nginx stub_status ---- */

/* blanks, an integer; or false. */
static bool take_num(struct cur *c, uint64_t *ret)
{
	skip_blanks(c);
	return take_u53(c, ret);
}

/* blanks, lit, blanks, an integer; or false. */
static bool take_named_num(struct cur *c, const char *lit, uint64_t *ret)
{
	skip_blanks(c);
	return take_lit(c, lit) && take_num(c, ret);
}

static bool take_end(struct cur *c)
{
	skip_blanks(c);
	return take_eol(c);
}

int vsn_scrape_nginx_status(const char *buf, size_t len, struct vsn_load_figures *ret,
			    struct vsn_probe_err *err)
{
	struct cur c = {buf, buf + len, 1};
	uint64_t active, n;

	if (!take_named_num(&c, "Active connections:", &active) || !take_end(&c))
		return probe_err(err, -EBADMSG, "line 1: not \"Active connections: N\"");
	if (!take_lit(&c, "server accepts handled requests") || !take_end(&c))
		return probe_err(err, -EBADMSG, "line 2: not \"server accepts handled requests\"");
	if (!take_num(&c, &n) || !take_num(&c, &n) || !take_num(&c, &n) || !take_end(&c))
		return probe_err(err, -EBADMSG, "line 3: not three numbers");
	if (!take_named_num(&c, "Reading:", &n) || !take_named_num(&c, "Writing:", &n) ||
	    !take_named_num(&c, "Waiting:", &n) || !take_end(&c))
		return probe_err(err, -EBADMSG, "line 4: not \"Reading: N Writing: N Waiting: N\"");
	while (c.p < c.end) {
		if (!blank(*c.p) && *c.p != '\r' && *c.p != '\n')
			return probe_err(err, -EBADMSG, "line %u: more than stub_status", c.line);
		if (*c.p++ == '\n')
			c.line++;
	}
	ret->current = (double)active;
	ret->limit = 0;
	return 0;
}

/* ---- Prometheus text ---- */

static bool name_start(char ch, bool metric)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
	       (metric && ch == ':');
}

static bool name_char(char ch, bool metric)
{
	return name_start(ch, metric) || digit(ch);
}

/* A metric name (metric) or a label name at c->p. */
static bool take_name(struct cur *c, bool metric, struct cell *ret)
{
	*ret = (struct cell){.s = c->p};
	if (c->p >= c->end || !name_start(*c->p, metric))
		return false;
	while (c->p < c->end && name_char(*c->p, metric))
		c->p++;
	ret->n = c->p - ret->s;
	return true;
}

/* A quoted label value at c->p; ret holds it raw (escapes in), without its quotes. */
static bool take_label_value(struct cur *c, struct cell *ret)
{
	if (c->p >= c->end || *c->p != '"')
		return false;
	*ret = (struct cell){.s = ++c->p, .escaped = true};
	for (; c->p < c->end && *c->p != '"'; c->p++) {
		if (*c->p == '\n')
			return false;
		if (*c->p == '\\' && (++c->p >= c->end || *c->p == '\n'))
			return false;
	}
	if (c->p >= c->end)
		return false;
	ret->n = c->p++ - ret->s;
	return true;
}

/* The unescaped value of raw into buf (sz > 0); false when it does not fit. */
static bool unescape(const struct cell *raw, char *buf, size_t sz)
{
	size_t i = 0, k = 0;

	while (i < raw->n) {
		if (k + 1 >= sz)
			return false;
		buf[k++] = cell_char(raw, &i);
	}
	buf[k] = '\0';
	return true;
}

/* A label set "{a="b",c="d"}" at c->p (a trailing comma allowed): its names and raw values. */
static int take_labels(struct cur *c, struct cell *names, struct cell *values, unsigned int max,
		       unsigned int *ret_n)
{
	unsigned int n = 0;

	c->p++; /* '{' */
	for (;;) {
		skip_blanks(c);
		if (c->p < c->end && *c->p == '}')
			break;
		if (n == max)
			return -E2BIG;
		if (!take_name(c, false, &names[n]))
			return -EBADMSG;
		skip_blanks(c);
		if (c->p >= c->end || *c->p++ != '=')
			return -EBADMSG;
		skip_blanks(c);
		if (!take_label_value(c, &values[n++]))
			return -EBADMSG;
		skip_blanks(c);
		if (c->p < c->end && *c->p == ',')
			c->p++;
		else if (c->p >= c->end || *c->p != '}')
			return -EBADMSG;
	}
	c->p++; /* '}' */
	*ret_n = n;
	return 0;
}

/* A sample's value: a float as Go writes it, or NaN, Inf, +Inf, -Inf. */
static bool take_value(struct cur *c, double *ret)
{
	const char *s = c->p;
	char buf[NUM_MAX + 1], *e;
	size_t n, i;

	while (c->p < c->end && !blank(*c->p) && *c->p != '\n' && *c->p != '\r')
		c->p++;
	n = c->p - s;
	if (n == 0 || n > NUM_MAX)
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (!strcasecmp(buf, "nan")) {
		*ret = NAN;
		return true;
	}
	if (!strcasecmp(buf, "inf") || !strcasecmp(buf, "+inf")) {
		*ret = INFINITY;
		return true;
	}
	if (!strcasecmp(buf, "-inf")) {
		*ret = -INFINITY;
		return true;
	}
	for (i = 0; i < n; i++)
		if (!digit(buf[i]) && !strchr(".eE+-", buf[i]))
			return false;
	*ret = strtod(buf, &e);
	return *e == '\0';
}

/* After the value: an optional timestamp, an optional exemplar ("# ..."), the end of line. */
static bool take_sample_end(struct cur *c)
{
	double ts;

	skip_blanks(c);
	if (c->p < c->end && (digit(*c->p) || *c->p == '-'))
		if (!take_value(c, &ts))
			return false;
	skip_blanks(c);
	if (c->p < c->end && *c->p == '#') {
		skip_line(c);
		return true;
	}
	return take_eol(c);
}

struct prom_sample {
	struct cell name;
	struct cell lnames[PROM_SAMPLE_LABELS_MAX], lvalues[PROM_SAMPLE_LABELS_MAX];
	unsigned int n_labels;
	double value;
};

/* One sample line at c->p (its blanks skipped, not a comment). */
static int prom_sample(struct cur *c, struct prom_sample *s, struct vsn_probe_err *err)
{
	unsigned int line = c->line;
	int r;

	s->n_labels = 0;
	if (!take_name(c, true, &s->name))
		return probe_err(err, -EBADMSG, "line %u: not a metric name", line);
	skip_blanks(c);
	if (c->p < c->end && *c->p == '{') {
		r = take_labels(c, s->lnames, s->lvalues, PROM_SAMPLE_LABELS_MAX, &s->n_labels);
		if (r == -E2BIG)
			return probe_err(err, -EBADMSG, "line %u: over %d labels", line,
					 PROM_SAMPLE_LABELS_MAX);
		if (r)
			return probe_err(err, -EBADMSG, "line %u: malformed labels", line);
		skip_blanks(c);
	} else if (c->p < c->end && !blank(c->p[-1])) {
		return probe_err(err, -EBADMSG, "line %u: no blank after the metric name", line);
	}
	if (!take_value(c, &s->value) || !take_sample_end(c))
		return probe_err(err, -EBADMSG, "line %u: malformed value", line);
	return 0;
}

static bool prom_match(const struct prom_sample *s, const struct vsn_prom_sel *sel)
{
	unsigned int i, k;

	if (!cell_eq(&s->name, sel->name))
		return false;
	for (i = 0; i < sel->n_labels; i++) {
		for (k = 0; k < s->n_labels; k++)
			if (cell_eq(&s->lnames[k], sel->labels[i].name))
				break;
		if (k == s->n_labels || !cell_eq(&s->lvalues[k], sel->labels[i].value))
			return false;
	}
	return true;
}

int vsn_scrape_prometheus(const char *buf, size_t len, const struct vsn_prom_sel *sel,
			  struct vsn_load_figures *ret, struct vsn_probe_err *err)
{
	struct cur c = {buf, buf + len, 1};
	struct prom_sample s;
	unsigned int found = 0, at = 0;
	double value = 0;
	int r;

	while (c.p < c.end) {
		unsigned int line = c.line;

		skip_blanks(&c);
		if (c.p < c.end && *c.p == '#') {
			skip_line(&c);
			continue;
		}
		if (take_eol(&c))
			continue;
		r = prom_sample(&c, &s, err);
		if (r)
			return r;
		if (prom_match(&s, sel) && found++ == 0) {
			value = s.value;
			at = line;
		}
	}
	if (!found)
		return probe_err(err, -ENOENT, "no sample of %s matches", sel->name);
	if (found > 1)
		return probe_err(err, -EEXIST,
				 "%u samples of %s match (the first at line %u): name more labels",
				 found, sel->name, at);
	if (isnan(value))
		return probe_err(err, -ERANGE, "line %u: the value is NaN", at);
	ret->current = value;
	ret->limit = 0;
	return 0;
}

int vsn_prom_sel_parse(const char *s, struct vsn_prom_sel *ret, struct vsn_probe_err *err)
{
	struct cur c = {s, s + strlen(s), 1};
	struct cell names[VSN_PROM_LABELS_MAX], values[VSN_PROM_LABELS_MAX], name;
	struct vsn_prom_sel sel;
	unsigned int i, k;
	int r;

	memset(&sel, 0, sizeof(sel));
	if (!take_name(&c, true, &name) || name.n > VSN_PROM_NAME_MAX)
		return probe_err(err, -EINVAL,
				 "metric %s: not a metric name (of %d characters at most)", s,
				 VSN_PROM_NAME_MAX);
	memcpy(sel.name, name.s, name.n);
	if (c.p < c.end && *c.p == '{') {
		r = take_labels(&c, names, values, VSN_PROM_LABELS_MAX, &sel.n_labels);
		if (r == -E2BIG)
			return probe_err(err, -EINVAL, "metric %s: over %d labels", s,
					 VSN_PROM_LABELS_MAX);
		if (r)
			return probe_err(err, -EINVAL, "metric %s: malformed labels", s);
	}
	if (c.p != c.end)
		return probe_err(err, -EINVAL, "metric %s: text after the selector", s);
	for (i = 0; i < sel.n_labels; i++) {
		if (names[i].n > VSN_PROM_LABEL_NAME_MAX ||
		    !unescape(&values[i], sel.labels[i].value, sizeof(sel.labels[i].value)))
			return probe_err(err, -EINVAL, "metric %s: label %u is too long", s, i + 1);
		memcpy(sel.labels[i].name, names[i].s, names[i].n);
		for (k = 0; k < i; k++)
			if (!strcmp(sel.labels[k].name, sel.labels[i].name))
				return probe_err(err, -EINVAL, "metric %s: label %s twice", s,
						 sel.labels[i].name);
	}
	*ret = sel;
	return 0;
}

/* ---- The load ---- */

double vsn_load_limit(const struct vsn_load_figures *f, double max)
{
	return f->limit > 0 ? f->limit : max;
}

int vsn_load_compute(const struct vsn_load_figures *f, double max, double *ret_load,
		     struct vsn_probe_err *err)
{
	double limit = vsn_load_limit(f, max), load;

	if (!(limit > 0) || isinf(limit))
		return probe_err(err, -EINVAL,
				 "no limit: the source states none and no max is set");
	if (isnan(f->current))
		return probe_err(err, -ERANGE, "the current figure is NaN");
	load = f->current / limit;
	*ret_load = load < 0 ? 0 : load > 1 ? 1 : load;
	return 0;
}
