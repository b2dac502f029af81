/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SPEC of a condition's schedule("SPEC"): which days, which time of day,
 * in which time zone. Parsed and checked here; evaluating it against a
 * clock is the condition evaluator's (docs/config-reference.md, "schedule").
 *
 *     SPEC  := [DAYS] [TIMES] [ZONE]      at least DAYS or TIMES, blank-separated
 *     DAYS  := DAY ['-' DAY] {',' DAY ['-' DAY]}     Mon Tue Wed Thu Fri Sat Sun
 *     TIMES := HH:MM '-' HH:MM            00:00..23:59, the end also 24:00
 *     ZONE  := an IANA zone name          Europe/Berlin; default UTC
 *
 * A range of days may wrap (Fri-Mon), and so may a time range (22:00-06:00
 * holds from 22:00 until 06:00 the next day); the days say on which days a
 * window starts.
 */
#ifndef VSN_STATE_SCHEDULE_H
#define VSN_STATE_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

/* Longest zone name accepted, without its NUL (IANA names are below 32). */
#define VSN_SCHEDULE_ZONE_MAX 63

struct vsn_schedule {
	uint8_t days;  /* bit 0 Monday .. bit 6 Sunday; 0x7f when no DAYS are given */
	int16_t start; /* minutes after midnight, 0..1439; -1: all day (no TIMES) */
	int16_t end;   /* 1..1440; a window with end <= start ends the next day */
	char zone[VSN_SCHEDULE_ZONE_MAX + 1]; /* "UTC" when none is given */
};

#define VSN_SCHEDULE_EVERY_DAY 0x7f

/*
 * Parse spec (len bytes, no NUL needed) into *ret. A zone must exist as a
 * file under $TZDIR, by default /usr/share/zoneinfo. On error returns
 * -EINVAL with the message in msg (msglen bytes) and the 0-based offset in
 * spec of what is wrong in *ret_offset; *ret is untouched.
 */
int vsn_schedule_parse(const char *spec, size_t len, struct vsn_schedule *ret, size_t *ret_offset,
		       char *msg, size_t msglen);

#endif /* VSN_STATE_SCHEDULE_H */
