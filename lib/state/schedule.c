/* SPDX-License-Identifier: Apache-2.0 */
/* A schedule's SPEC (schedule.h): days, a time range and a zone, each checked. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "schedule.h"

#define DIGITS "0123456789"
#define ZONE_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+-/"

static const char *const day_names[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};

struct sched_ctx {
	const char *spec;
	char *msg;
	size_t msglen;
	size_t *ret_offset;
};

static int sched_fail(const struct sched_ctx *c, const char *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int sched_fail(const struct sched_ctx *c, const char *at, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->msg, c->msglen, fmt, ap);
	va_end(ap);
	*c->ret_offset = at - c->spec;
	return -EINVAL;
}

/* How many characters from s on (below end) are in set. */
static size_t span(const char *s, const char *end, const char *set)
{
	size_t n = 0;

	while (s + n < end && s[n] && strchr(set, s[n]))
		n++;
	return n;
}

/* The day whose three-letter name s starts with (any case), or -1. */
static int day_at(const char *s, const char *end)
{
	if (end - s < 3)
		return -1;
	for (int d = 0; d < 7; d++)
		if (!strncasecmp(s, day_names[d], 3))
			return d;
	return -1;
}

/* A DAYS word: a day name, then only '-', ',' or the word's end after each name. */
static bool is_days(const char *s, const char *end)
{
	return day_at(s, end) >= 0 && (end - s == 3 || s[3] == '-' || s[3] == ',');
}

static int parse_days(const struct sched_ctx *c, const char *s, const char *end, uint8_t *ret)
{
	uint8_t days = 0;

	while (s < end) {
		int first = day_at(s, end), last;

		if (first < 0 || (end - s > 3 && s[3] != '-' && s[3] != ','))
			return sched_fail(c, s,
					  "unknown day '%.*s': expected Mon, Tue, Wed, Thu, Fri, "
					  "Sat or Sun",
					  (int)(end - s), s);
		s += 3;
		last = first;
		if (s < end && *s == '-') {
			last = day_at(s + 1, end);
			if (last < 0 || (end - s > 4 && s[4] != ','))
				return sched_fail(c, s + 1,
						  "expected a day after '-' (Mon-Fri), not '%.*s'",
						  (int)(end - s - 1), s + 1);
			s += 4;
		}
		/* A range may wrap: Fri-Mon is Fri, Sat, Sun, Mon. */
		for (int d = first;; d = (d + 1) % 7) {
			days |= 1u << d;
			if (d == last)
				break;
		}
		if (s < end && *s == ',' && ++s == end)
			return sched_fail(c, s, "expected a day after ','");
	}
	*ret = days;
	return 0;
}

/* "HH:MM" at s into minutes; 24:00 only when end_of_range. */
static int parse_clock(const struct sched_ctx *c, const char *s, const char *end, bool end_of_range,
		       int16_t *ret)
{
	int h, m;

	if (end - s < 5 || span(s, end, DIGITS) != 2 || s[2] != ':' || span(s + 3, end, DIGITS) < 2)
		return sched_fail(c, s, "expected a time range HH:MM-HH:MM (22:00-06:00)");
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	if (m > 59 || h > 24 || (h == 24 && (m || !end_of_range)))
		return sched_fail(c, s, "%.5s is not a time of day (00:00 to 23:59%s)", s,
				  end_of_range ? ", or 24:00 at the end" : "");
	*ret = (int16_t)(h * 60 + m);
	return 0;
}

static int parse_times(const struct sched_ctx *c, const char *s, const char *end,
		       struct vsn_schedule *sc)
{
	int r;

	r = parse_clock(c, s, end, false, &sc->start);
	if (r)
		return r;
	if (end - s < 6 || s[5] != '-')
		return sched_fail(c, s + 5 < end ? s + 5 : end,
				  "expected '-' and the end of the time range (22:00-06:00)");
	r = parse_clock(c, s + 6, end, true, &sc->end);
	if (r)
		return r;
	if (s + 11 != end)
		return sched_fail(c, s + 11, "unexpected '%.*s' after the time range",
				  (int)(end - s - 11), s + 11);
	if (sc->start == sc->end || (sc->start == 0 && sc->end == 1440))
		return sched_fail(c, s, "'%.11s' is no time range: leave it out for all day", s);
	return 0;
}

/* A zone file begins with the magic "TZif"; directories and tables do not. */
static bool zone_exists(const char *zone)
{
	const char *dir = getenv("TZDIR");
	char path[4096], magic[4];
	bool ok;
	int fd;

	if (!dir || !*dir)
		dir = "/usr/share/zoneinfo";
	if (snprintf(path, sizeof(path), "%s/%s", dir, zone) >= (int)sizeof(path))
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		fd = open(path, O_RDONLY | O_CLOEXEC); /* some zones are links */
	if (fd < 0)
		return false;
	ok = read(fd, magic, 4) == 4 && !memcmp(magic, "TZif", 4);
	close(fd);
	return ok;
}

static int parse_zone(const struct sched_ctx *c, const char *s, const char *end,
		      struct vsn_schedule *sc)
{
	size_t len = end - s;

	/* Letters, digits, '_', '+', '-' in components joined by '/': no "..", no absolute path. */
	if (len > VSN_SCHEDULE_ZONE_MAX || span(s, end, ZONE_CHARS) < len || *s == '/' ||
	    end[-1] == '/' || memmem(s, len, "//", 2))
		return sched_fail(c, s,
				  "'%.*s' is not a time zone name (an IANA name such as "
				  "Europe/Berlin)",
				  (int)len, s);
	memcpy(sc->zone, s, len);
	sc->zone[len] = '\0';
	if (!zone_exists(sc->zone))
		return sched_fail(c, s, "unknown time zone '%s'", sc->zone);
	return 0;
}

int vsn_schedule_parse(const char *spec, size_t len, struct vsn_schedule *ret, size_t *ret_offset,
		       char *msg, size_t msglen)
{
	struct sched_ctx c = {spec, msg, msglen, ret_offset};
	struct vsn_schedule sc = {.days = VSN_SCHEDULE_EVERY_DAY, .start = -1, .end = -1};
	const char *s = spec, *end = spec + len;
	enum { DAYS, TIMES, ZONE, DONE } next = DAYS;
	bool days = false, times = false;
	int r;

	strcpy(sc.zone, "UTC");
	for (;;) {
		const char *w, *we;

		while (s < end && (*s == ' ' || *s == '\t'))
			s++;
		if (s == end)
			break;
		w = s;
		while (s < end && *s != ' ' && *s != '\t')
			s++;
		we = s;
		if (next == DONE)
			return sched_fail(&c, w, "unexpected '%.*s': the time zone comes last",
					  (int)(we - w), w);
		if (*w >= '0' && *w <= '9') {
			if (next > TIMES)
				return sched_fail(&c, w, "the time range comes before the zone");
			r = parse_times(&c, w, we, &sc);
			times = true;
			next = ZONE;
		} else if (is_days(w, we)) {
			if (next > DAYS)
				return sched_fail(&c, w, "the days come first");
			r = parse_days(&c, w, we, &sc.days);
			days = true;
			next = TIMES;
		} else {
			r = parse_zone(&c, w, we, &sc);
			next = DONE;
		}
		if (r)
			return r;
	}
	if (!days && !times)
		return sched_fail(&c, spec,
				  "a schedule needs days (Mon-Fri), a time range (22:00-06:00) or "
				  "both, then an optional time zone");
	*ret = sc;
	return 0;
}
