/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for libvsnprobe's parsers: HAProxy CSV, nginx stub_status, Prometheus text
 * (and its selectors), and the HTTP response head, all fed what an SLB could send. The first
 * byte picks the parser; the rest is the page. Any input must give figures or an error with a
 * reason, never a crash, a read past the input or undefined behaviour; figures must make a load
 * in [0, 1] or an error.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "probe_internal.h"
#include "vsn_scrape.h"

/* The figures of a successful parse, and the load they make. */
static void check_figures(const struct vsn_load_figures *f)
{
	struct vsn_probe_err err = {""};
	double load = -1;
	int r;

	if (f->limit < 0 || isnan(f->limit))
		abort();
	r = vsn_load_compute(f, 100, &load, &err);
	if (r == 0 && !(load >= 0 && load <= 1))
		abort();
	if (r && (r != -ERANGE || !err.msg[0]))
		abort();
}

static void check_http(const char *buf, size_t len)
{
	struct http_head h;
	int st, r;

	r = http_status_line(buf, len, &st);
	if (r == 1 && (st < 100 || st > 599))
		abort();
	r = http_head_parse(buf, len, &h);
	if (r == 1 && (h.len > len || h.status < 100 || h.status > 599 || h.content_length < -1))
		abort();
	if (r != 1 && r != 0 && r != -EBADMSG)
		abort();
	/* The bytes after a head as a chunked body: decoded in place, never longer. */
	if (r == 1 && h.chunked) {
		char *copy = malloc(len - h.len + 1);
		size_t n = 0;

		if (!copy)
			return;
		memcpy(copy, buf + h.len, len - h.len);
		r = http_chunked(copy, len - h.len, &n);
		if ((r == 1 && n > len - h.len) || (r != 1 && r != 0 && r != -EBADMSG))
			abort();
		free(copy);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vsn_load_figures f = {0};
	struct vsn_probe_err err = {""};
	struct vsn_prom_sel sel;
	const char *buf = (const char *)data + 1;
	size_t len = size ? size - 1 : 0;
	char text[512];
	int r;

	if (size < 1)
		return 0;
	switch (data[0] % 5) {
	case 0:
		r = vsn_scrape_haproxy_csv(buf, len, "app", "BACKEND", &f, &err);
		break;
	case 1:
		r = vsn_scrape_nginx_status(buf, len, &f, &err);
		break;
	case 2:
		if (vsn_prom_sel_parse("haproxy_backend_current_sessions{proxy=\"app\"}", &sel,
				       &err))
			abort();
		r = vsn_scrape_prometheus(buf, len, &sel, &f, &err);
		break;
	case 3:
		/* A selector from the first line, then the rest as the page. */
		{
			const char *nl = memchr(buf, '\n', len);
			size_t n = nl ? (size_t)(nl - buf) : len;

			if (n >= sizeof(text))
				return 0;
			memcpy(text, buf, n);
			text[n] = '\0';
			if (vsn_prom_sel_parse(text, &sel, &err)) {
				if (!err.msg[0])
					abort();
				return 0;
			}
			if (nl)
				n++;
			r = vsn_scrape_prometheus(buf + n, len - n, &sel, &f, &err);
		}
		break;
	default:
		check_http(buf, len);
		return 0;
	}
	if (r == 0)
		check_figures(&f);
	else if (!err.msg[0] || (r != -EBADMSG && r != -ENOENT && r != -EEXIST && r != -ERANGE))
		abort();
	return 0;
}
