/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Structured logs of the daemons (vsn-node, vsnd), on stderr (journald
 * takes them from there). A line is an event name and logfmt fields:
 *
 *	text: 2026-11-27T07:36:53.123Z info vsn-node apply: generation=5 policies=3 ms=1.2
 *	json: {"ts":"2026-11-27T07:36:53.123Z","level":"info","component":"vsn-node",
 *	       "event":"apply","generation":5,"policies":3,"ms":1.2}
 *
 * Callers write fields as key=value, quoting a value with blanks as
 * key="a b" (vsn_log_quote); in json, a value that is a number is a
 * number, anything that is not a key=value pair goes into "msg".
 */
#ifndef VSN_LOG_H
#define VSN_LOG_H

#include <stdio.h>

enum vsn_log_level {
	VSN_LOG_ERR = 0,
	VSN_LOG_WARN,
	VSN_LOG_INFO,
	VSN_LOG_DEBUG,
};

enum vsn_log_format {
	VSN_LOG_TEXT = 0,
	VSN_LOG_JSON,
};

/* Once at start: who logs, how, from which level up (default: info, text, stderr). */
void vsn_log_setup(const char *component, enum vsn_log_format format, enum vsn_log_level level);
/* Write to f instead of stderr (tests). */
void vsn_log_set_stream(FILE *f);
int vsn_log_format_parse(const char *s, enum vsn_log_format *ret);
int vsn_log_level_parse(const char *s, enum vsn_log_level *ret);

void vsn_log(enum vsn_log_level level, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * s as a logfmt value: as is when it has no blank, quote, backslash, '=' or
 * control character; else in double quotes with those escaped. Returns buf.
 */
const char *vsn_log_quote(const char *s, char *buf, size_t sz);

#define log_err(ev, ...) vsn_log(VSN_LOG_ERR, ev, __VA_ARGS__)
#define log_warn(ev, ...) vsn_log(VSN_LOG_WARN, ev, __VA_ARGS__)
#define log_info(ev, ...) vsn_log(VSN_LOG_INFO, ev, __VA_ARGS__)
#define log_debug(ev, ...) vsn_log(VSN_LOG_DEBUG, ev, __VA_ARGS__)

#endif /* VSN_LOG_H */
