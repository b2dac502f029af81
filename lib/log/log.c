/* SPDX-License-Identifier: Apache-2.0 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct {
	const char *component;
	enum vsn_log_format format;
	enum vsn_log_level level;
	FILE *f;
} cfg = {"vsn", VSN_LOG_TEXT, VSN_LOG_INFO, NULL};

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void vsn_log_setup(const char *component, enum vsn_log_format format, enum vsn_log_level level)
{
	cfg.component = component;
	cfg.format = format;
	cfg.level = level;
}

void vsn_log_set_stream(FILE *f)
{
	cfg.f = f;
}

int vsn_log_format_parse(const char *s, enum vsn_log_format *ret)
{
	if (!strcmp(s, "text"))
		*ret = VSN_LOG_TEXT;
	else if (!strcmp(s, "json"))
		*ret = VSN_LOG_JSON;
	else
		return -EINVAL;
	return 0;
}

int vsn_log_level_parse(const char *s, enum vsn_log_level *ret)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (!strcmp(s, level_names[i])) {
			*ret = (enum vsn_log_level)i;
			return 0;
		}
	return -EINVAL;
}

static bool plain_char(unsigned char c)
{
	return c > ' ' && c != '"' && c != '\\' && c != '=' && c != 0x7f;
}

const char *vsn_log_quote(const char *s, char *buf, size_t sz)
{
	size_t o = 0;
	bool plain = *s != '\0';

	for (const char *p = s; *p && plain; p++)
		plain = plain_char((unsigned char)*p);
	if (plain) {
		snprintf(buf, sz, "%s", s);
		return buf;
	}
	if (sz < 3) {
		if (sz)
			buf[0] = '\0';
		return buf;
	}
	buf[o++] = '"';
	for (const char *p = s; *p && o + 5 < sz; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c < ' ' || c == 0x7f) {
			o += (size_t)snprintf(buf + o, sz - o, "\\x%02x", c);
		} else {
			buf[o++] = (char)c;
		}
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

static void timestamp(char *buf, size_t sz)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, sz, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

/* s[0..n) as a JSON string body. */
static void json_str(FILE *f, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < ' ')
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
}

static bool is_number(const char *s, size_t n)
{
	char tmp[64], *end;

	if (!n || n >= sizeof(tmp) || s[0] == '+' || (n > 1 && s[0] == '0' && s[1] != '.'))
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	errno = 0;
	(void)strtod(tmp, &end);
	return !errno && *end == '\0' && strspn(tmp, "-0123456789.eE") == n;
}

/* Unquote a logfmt value in place: its bytes in [*v, *v + *n). */
static void json_value(FILE *f, const char *v, size_t n)
{
	if (n >= 2 && v[0] == '"') {
		fputc('"', f);
		for (size_t i = 1; i + 1 < n; i++) {
			if (v[i] == '\\' && i + 2 < n) {
				i++;
				if (v[i] == 'x' && i + 2 < n) {
					fprintf(f, "\\u00%c%c", v[i + 1], v[i + 2]);
					i += 2;
					continue;
				}
			}
			json_str(f, v + i, 1);
		}
		fputc('"', f);
	} else if (is_number(v, n) || (n == 4 && !memcmp(v, "true", 4)) ||
		   (n == 5 && !memcmp(v, "false", 5))) {
		fwrite(v, 1, n, f);
	} else {
		fputc('"', f);
		json_str(f, v, n);
		fputc('"', f);
	}
}

/* A logfmt line as JSON fields; words that are no key=value pair go into "msg". */
static void json_fields(FILE *f, const char *s)
{
	char rest[1024];
	size_t rl = 0;

	while (*s) {
		const char *k = s, *eq, *v, *e;

		while (*s == ' ')
			s++;
		if (!*s)
			break;
		k = s;
		eq = k;
		while (*eq && *eq != ' ' && *eq != '=')
			eq++;
		if (*eq != '=' || eq == k) {
			e = strchr(k, ' ');
			e = e ? e : k + strlen(k);
			if (rl + (size_t)(e - k) + 2 < sizeof(rest)) {
				if (rl)
					rest[rl++] = ' ';
				memcpy(rest + rl, k, (size_t)(e - k));
				rl += (size_t)(e - k);
			}
			s = e;
			continue;
		}
		v = eq + 1;
		e = v;
		if (*e == '"') {
			for (e++; *e && *e != '"'; e++)
				if (*e == '\\' && e[1])
					e++;
			if (*e == '"')
				e++;
		} else {
			while (*e && *e != ' ')
				e++;
		}
		fputs(",\"", f);
		json_str(f, k, (size_t)(eq - k));
		fputs("\":", f);
		json_value(f, v, (size_t)(e - v));
		s = e;
	}
	if (rl) {
		fputs(",\"msg\":\"", f);
		json_str(f, rest, rl);
		fputc('"', f);
	}
}

void vsn_log(enum vsn_log_level level, const char *event, const char *fmt, ...)
{
	FILE *f = cfg.f ? cfg.f : stderr;
	char ts[40], msg[2048];
	va_list ap;

	if (level > cfg.level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	timestamp(ts, sizeof(ts));
	flockfile(f);
	if (cfg.format == VSN_LOG_JSON) {
		fprintf(f, "{\"ts\":\"%s\",\"level\":\"%s\",\"component\":\"", ts,
			level_names[level]);
		json_str(f, cfg.component, strlen(cfg.component));
		fputs("\",\"event\":\"", f);
		json_str(f, event, strlen(event));
		fputc('"', f);
		json_fields(f, msg);
		fputs("}\n", f);
	} else {
		fprintf(f, "%s %s %s %s: %s\n", ts, level_names[level], cfg.component, event, msg);
	}
	fflush(f);
	funlockfile(f);
}
