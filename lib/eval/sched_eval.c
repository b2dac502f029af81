/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Schedules against a clock (eval.h). A schedule is a set of windows of
 * local wall-clock time; the one subtlety is that a zone's wall clock is not
 * monotonic. It is evaluated on the high-water wall clock instead: the
 * latest local time shown at or before the instant. That clock only moves
 * forward; it jumps over a skipped hour and stands still through a repeated
 * one, so every window edge L is crossed exactly once, at the first instant
 * whose local time is L or later.
 */
#include <errno.h>

#include "eval.h"
#include "civil.h"

#define DAY 86400

static int check(const struct vsn_schedule *s, time_t now)
{
	if (!s->days || s->days > VSN_SCHEDULE_EVERY_DAY)
		return -EINVAL;
	if (s->start < 0 ? s->start != -1 || s->end != -1
			 : s->start > 1439 || s->end < 1 || s->end > 1440 || s->end == s->start)
		return -EINVAL;
	if ((int64_t)now < VSN_SCHEDULE_T_MIN || (int64_t)now > VSN_SCHEDULE_T_MAX)
		return -ERANGE;
	return 0;
}

static bool on_day(const struct vsn_schedule *s, int64_t day)
{
	return s->days >> vsn_weekday_mon0(day) & 1;
}

/* Whether the local wall-clock time w (seconds since the local epoch) is in a window. */
static bool wall_holds(const struct vsn_schedule *s, int64_t w)
{
	int64_t day = vsn_floor_div(w, DAY), sod = w - day * DAY;
	int64_t start = s->start * 60, end = s->end * 60;

	if (s->start < 0)
		return on_day(s, day);
	if (end > start)
		return on_day(s, day) && sod >= start && sod < end;
	/* Across midnight: the window belongs to the day it starts on. */
	return (on_day(s, day) && sod >= start) || (on_day(s, day - 1) && sod < end);
}

/*
 * The latest local time shown at or before t. Only a period that ended less
 * than VSN_TZ_MAX_OFF before the one of t can have shown a later one.
 */
static int high_water(const struct vsn_tz *tz, int64_t t, int64_t *ret)
{
	struct vsn_tz_period p;
	int64_t hw;
	int err;

	err = vsn_tz_period(tz, t, &p);
	if (err)
		return err;
	hw = t + p.off;
	while (p.start != INT64_MIN && p.start - 1 + VSN_TZ_MAX_OFF > hw) {
		err = vsn_tz_period(tz, p.start - 1, &p);
		if (err)
			return err;
		if (p.end - 1 + p.off > hw)
			hw = p.end - 1 + p.off;
	}
	*ret = hw;
	return 0;
}

/* The first instant whose local time is w or later: where the high-water clock reaches w. */
static int first_at(const struct vsn_tz *tz, int64_t w, int64_t *ret)
{
	int64_t t = w - VSN_TZ_MAX_OFF; /* its local time is below w, and so is every earlier one */
	struct vsn_tz_period p;
	int err;

	for (;;) {
		err = vsn_tz_period(tz, t, &p);
		if (err)
			return err;
		if (t + p.off >= w) /* t begins a period: the clocks jumped over w at t */
			break;
		if (p.end == INT64_MAX || p.end - 1 + p.off >= w) {
			t = w - p.off;
			break;
		}
		t = p.end;
	}
	*ret = t;
	return 0;
}

/* The schedule checked, and the wall clock it is evaluated on at now. */
static int wall_clock(const struct vsn_schedule *s, const struct vsn_tz *tz, time_t now,
		      int64_t *ret_hw)
{
	int err = check(s, now);

	return err ? err : high_water(tz, now, ret_hw);
}

int vsn_schedule_holds_tz(const struct vsn_schedule *s, const struct vsn_tz *tz, time_t now,
			  bool *ret)
{
	int64_t hw;
	int err = wall_clock(s, tz, now, &hw);

	if (err)
		return err;
	*ret = wall_holds(s, hw);
	return 0;
}

/* How far ahead edges are looked for: a week shows every edge, and a week more every hidden one. */
#define HORIZON_DAYS 16

int vsn_schedule_next_change_tz(const struct vsn_schedule *s, const struct vsn_tz *tz, time_t now,
				time_t *ret_time)
{
	int64_t hw, day;
	bool value;
	int err = wall_clock(s, tz, now, &hw);

	if (err)
		return err;
	if (s->days == VSN_SCHEDULE_EVERY_DAY && s->start < 0)
		return -ENOENT;
	value = wall_holds(s, hw);
	/*
	 * The value changes only where the wall clock crosses an edge, at the
	 * first instant of the edge's local time; edges in day order are in
	 * time order. Several edges may be crossed at once (a window inside a
	 * skipped hour): what counts is the value after the jump.
	 */
	for (day = vsn_floor_div(hw, DAY) - 1; day <= vsn_floor_div(hw, DAY) + HORIZON_DAYS;
	     day++) {
		int64_t edges[2];

		if (!on_day(s, day))
			continue;
		if (s->start < 0) {
			edges[0] = day * DAY;
			edges[1] = (day + 1) * DAY;
		} else {
			edges[0] = day * DAY + s->start * 60;
			edges[1] = day * DAY + s->end * 60 + (s->end <= s->start ? DAY : 0);
		}
		for (int i = 0; i < 2; i++) {
			int64_t t, hw_t;

			if (edges[i] <= hw)
				continue;
			err = first_at(tz, edges[i], &t);
			if (!err)
				err = high_water(tz, t, &hw_t);
			if (err)
				return err;
			if (wall_holds(s, hw_t) != value) {
				*ret_time = (time_t)t;
				return 0;
			}
		}
	}
	return -ENOENT;
}

int vsn_schedule_holds(const struct vsn_schedule *s, time_t now, bool *ret)
{
	const struct vsn_tz *tz;
	int err = vsn_tz_get(s->zone, &tz);

	return err ? err : vsn_schedule_holds_tz(s, tz, now, ret);
}

int vsn_schedule_next_change(const struct vsn_schedule *s, time_t now, time_t *ret_time)
{
	const struct vsn_tz *tz;
	int err = vsn_tz_get(s->zone, &tz);

	return err ? err : vsn_schedule_next_change_tz(s, tz, now, ret_time);
}
