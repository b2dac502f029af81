/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Proleptic Gregorian calendar arithmetic on day numbers (days since
 * 1970-01-01), after Howard Hinnant's "chrono-Compatible Low-Level Date
 * Algorithms". Private to libvsneval; exact for every int64 day the zones and
 * schedules use (VSN_TZ_T_MIN..VSN_TZ_T_MAX).
 */
#ifndef VSN_EVAL_CIVIL_H
#define VSN_EVAL_CIVIL_H

#include <stdbool.h>
#include <stdint.h>

/* a / b rounded towards minus infinity (b > 0). */
static inline int64_t vsn_floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b < 0);
}

static inline bool vsn_is_leap(int64_t y)
{
	return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

static inline int vsn_month_days(int64_t y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return days[m - 1] + (m == 2 && vsn_is_leap(y));
}

static inline int64_t vsn_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy;

	y -= m <= 2;
	era = vsn_floor_div(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

/* The year a day number falls in. */
static inline int64_t vsn_year_of_day(int64_t day)
{
	int64_t z = day + 719468, era = vsn_floor_div(z, 146097);
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;

	return yoe + era * 400 + (mp >= 10);
}

/* The weekday of a day number: Sunday 0 (POSIX TZ rules count so). 1970-01-01 was a Thursday. */
static inline int vsn_weekday_sun0(int64_t day)
{
	return (int)(day - vsn_floor_div(day + 4, 7) * 7 + 4);
}

/* Monday 0 (schedules count so). */
static inline int vsn_weekday_mon0(int64_t day)
{
	return (vsn_weekday_sun0(day) + 6) % 7;
}

#endif /* VSN_EVAL_CIVIL_H */
