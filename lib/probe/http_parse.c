/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An HTTP/1.x response's status line and head, and a chunked body (pure, bounded by the length
 * given). Only what a probe and a scrape need: the status, Content-Length, and the
 * Transfer-Encoding. We ask in HTTP/1.0, so none may come, but HAProxy's stats page answers
 * with HTTP/1.1 and a chunked body whatever it was asked in: a chunked body is read, any other
 * coding refused.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "probe_internal.h"

/* A Content-Length of more digits than this is refused (it could not fit a body limit). */
#define CL_DIGITS_MAX 15

/*
 * The line at *p, before end: [*ret_s, *ret_s + *ret_n) without its CR LF (or LF); *p moves
 * past it. false when no LF has come yet.
 */
static bool next_line(const char **p, const char *end, const char **ret_s, size_t *ret_n)
{
	const char *s = *p, *lf = memchr(s, '\n', end - s);

	if (!lf)
		return false;
	*ret_s = s;
	*ret_n = lf - s;
	if (*ret_n && s[*ret_n - 1] == '\r')
		(*ret_n)--;
	*p = lf + 1;
	return true;
}

static bool digit(char c)
{
	return c >= '0' && c <= '9';
}

/* "HTTP/1.x SSS[ reason]": the status, 100 to 599. */
static int status_parse(const char *s, size_t n, int *ret)
{
	int st;

	if (n < 12 || memcmp(s, "HTTP/1.", 7) || !digit(s[7]) || s[8] != ' ')
		return -EBADMSG;
	if (!digit(s[9]) || !digit(s[10]) || !digit(s[11]) || (n > 12 && s[12] != ' '))
		return -EBADMSG;
	st = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	if (st < 100 || st > 599)
		return -EBADMSG;
	*ret = st;
	return 0;
}

/* What has come cannot begin a response: refuse it before the line ends (a bounded wait). */
static bool bad_start(const char *buf, size_t len)
{
	return memcmp(buf, "HTTP/1.", len < 7 ? len : 7) != 0;
}

int http_status_line(const char *buf, size_t len, int *ret_status)
{
	const char *p = buf, *s;
	size_t n;
	int r;

	if (bad_start(buf, len))
		return -EBADMSG;
	if (!next_line(&p, buf + len, &s, &n))
		return 0;
	r = status_parse(s, n, ret_status);
	return r ? r : 1;
}

/* An unsigned decimal, its blanks trimmed already. */
static int content_length(const char *s, size_t n, long long *ret)
{
	long long v = 0;
	size_t i;

	if (n == 0 || n > CL_DIGITS_MAX)
		return -EBADMSG;
	for (i = 0; i < n; i++) {
		if (!digit(s[i]))
			return -EBADMSG;
		v = v * 10 + (s[i] - '0');
	}
	*ret = v;
	return 0;
}

/* One header line into h. */
static int header_line(const char *s, size_t n, struct http_head *h)
{
	const char *colon = memchr(s, ':', n), *v;
	size_t nl, vl, i;
	long long cl;

	/* No name, or a folded line (obsolete): refused, as RFC 9112 allows. */
	if (!colon || colon == s || s[0] == ' ' || s[0] == '\t')
		return -EBADMSG;
	nl = colon - s;
	for (i = 0; i < nl; i++)
		if (s[i] <= ' ' || s[i] == 0x7f)
			return -EBADMSG;
	v = colon + 1;
	vl = n - nl - 1;
	while (vl && (*v == ' ' || *v == '\t'))
		v++, vl--;
	while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
		vl--;
	if (nl == 14 && !strncasecmp(s, "content-length", 14)) {
		if (content_length(v, vl, &cl))
			return -EBADMSG;
		/* Two that disagree: no way to tell where the body ends. */
		if (h->content_length >= 0 && h->content_length != cl)
			return -EBADMSG;
		h->content_length = cl;
	} else if (nl == 17 && !strncasecmp(s, "transfer-encoding", 17)) {
		/* Two of them, or a list ("gzip, chunked"): not chunked alone. */
		h->chunked = !h->transfer_encoding && vl == 7 && !strncasecmp(v, "chunked", 7);
		h->transfer_encoding = true;
	}
	return 0;
}

int http_head_parse(const char *buf, size_t len, struct http_head *ret)
{
	const char *p = buf, *end = buf + len, *s;
	struct http_head h = {.content_length = -1};
	size_t n;

	if (bad_start(buf, len))
		return -EBADMSG;
	if (!next_line(&p, end, &s, &n))
		return 0;
	if (status_parse(s, n, &h.status))
		return -EBADMSG;
	while (next_line(&p, end, &s, &n)) {
		if (n == 0) {
			h.len = p - buf;
			*ret = h;
			return 1;
		}
		if (header_line(s, n, &h))
			return -EBADMSG;
	}
	return 0;
}

/* A chunk-size's hex digits: more than this could not fit a body limit. */
#define CHUNK_DIGITS_MAX 15

static int hex(char c)
{
	if (digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "SIZE[;ext...]": the size, its extensions (anything without CR or LF) dropped. */
static int chunk_size(const char *s, size_t n, size_t *ret)
{
	size_t v = 0, i = 0;

	for (; i < n && hex(s[i]) >= 0; i++) {
		if (i == CHUNK_DIGITS_MAX)
			return -EBADMSG;
		v = v * 16 + (size_t)hex(s[i]);
	}
	if (i == 0)
		return -EBADMSG;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i < n && s[i] != ';')
		return -EBADMSG;
	for (; i < n; i++)
		if (s[i] == '\r')
			return -EBADMSG;
	*ret = v;
	return 0;
}

/* One pass over the chunks; the data is moved only when write (once all has come). */
static int chunked_pass(char *buf, size_t len, bool write, size_t *ret_len)
{
	const char *p = buf, *end = buf + len, *s;
	size_t n, size, out = 0;

	for (;;) {
		if (!next_line(&p, end, &s, &n))
			return 0;
		if (chunk_size(s, n, &size))
			return -EBADMSG;
		if (size == 0)
			break;
		if ((size_t)(end - p) < size + 1)
			return 0;
		if (write)
			memmove(buf + out, p, size);
		out += size;
		p += size;
		/* The data's CRLF (or LF). */
		if (*p == '\r') {
			if (end - p < 2)
				return 0;
			p++;
		}
		if (*p++ != '\n')
			return -EBADMSG;
	}
	/* Trailer fields up to an empty line: checked as header lines, then dropped. */
	for (;;) {
		if (!next_line(&p, end, &s, &n))
			return 0;
		if (n == 0)
			break;
		if (!memchr(s, ':', n) || s[0] == ':' || s[0] == ' ' || s[0] == '\t')
			return -EBADMSG;
	}
	*ret_len = out;
	return 1;
}

int http_chunked(char *buf, size_t len, size_t *ret_len)
{
	int r = chunked_pass(buf, len, false, ret_len);

	return r == 1 ? chunked_pass(buf, len, true, ret_len) : r;
}
