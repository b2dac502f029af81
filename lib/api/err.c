/* SPDX-License-Identifier: Apache-2.0 */
/* What ops answer with besides their JSON: errors with positions, and times. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_internal.h"

const char *vsn_api_role_name(enum vsn_api_role role)
{
	switch (role) {
	case VSN_API_ROLE_NONE:
		return "none";
	case VSN_API_ROLE_READ:
		return "read";
	case VSN_API_ROLE_ADMIN:
		return "admin";
	}
	return "none";
}

int api_msg(struct vsn_api_msg *msg, int r, const char *fmt, ...)
{
	va_list ap;

	if (!msg)
		return r;
	va_start(ap, fmt);
	vsnprintf(msg->msg, sizeof(msg->msg), fmt, ap);
	va_end(ap);
	return r;
}

int vsn_api_fail(struct vsn_api_err *err, int r, int status, const char *fmt, ...)
{
	va_list ap;

	err->status = status;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return r;
}

int vsn_api_err_detail(struct vsn_api_err *err, const char *file, unsigned int line,
		       unsigned int column, const char *fmt, ...)
{
	struct vsn_api_detail *d;
	char *m = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&m, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	d = realloc(err->details, (err->n_details + 1) * sizeof(*d));
	if (!d) {
		free(m);
		return -ENOMEM;
	}
	err->details = d;
	d = &d[err->n_details];
	d->file = strdup(file ? file : "");
	if (!d->file) {
		free(m);
		return -ENOMEM;
	}
	d->line = line;
	d->column = column;
	d->message = m;
	err->n_details++;
	return 0;
}

void vsn_api_err_clear(struct vsn_api_err *err)
{
	for (size_t i = 0; i < err->n_details; i++) {
		free(err->details[i].file);
		free(err->details[i].message);
	}
	free(err->details);
	memset(err, 0, sizeof(*err));
}

int api_err_status(const struct vsn_api_err *err, int r)
{
	if (err->status >= 400 && err->status <= 599)
		return err->status;
	switch (r) {
	case -EINVAL:
		return 400;
	case -ENOENT:
		return 404;
	case -EEXIST:
	case -EBUSY:
	case -EALREADY:
		return 409;
	}
	return 500;
}

json_t *vsn_api_time(int64_t unix_ms)
{
	time_t s = (time_t)(unix_ms / 1000);
	int ms = (int)(unix_ms % 1000);
	char buf[40];
	struct tm tm;

	if (ms < 0) {
		ms += 1000;
		s--;
	}
	if (!gmtime_r(&s, &tm))
		return NULL;
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
	return json_string(buf);
}
