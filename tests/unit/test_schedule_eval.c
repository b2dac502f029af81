/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Zones and schedules (lib/eval/tz.h, eval.h): the TZif reader against
 * glibc's own, every weekday form, windows across midnight, and explicit
 * instants around the DST changes of Europe/Berlin and America/New_York.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "eval.h"

static time_t utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = {.tm_year = y - 1900,
			.tm_mon = mo - 1,
			.tm_mday = d,
			.tm_hour = h,
			.tm_min = mi,
			.tm_sec = s};

	return timegm(&tm);
}

static struct vsn_schedule sched(const char *spec)
{
	struct vsn_schedule s;
	size_t off;
	char msg[128];

	if (vsn_schedule_parse(spec, strlen(spec), &s, &off, msg, sizeof(msg))) {
		print_error("'%s': %s\n", spec, msg);
		fail();
	}
	return s;
}

static bool holds(const char *spec, time_t t)
{
	struct vsn_schedule s = sched(spec);
	bool h;

	assert_int_equal(vsn_schedule_holds(&s, t, &h), 0);
	return h;
}

static time_t next_change(const char *spec, time_t t)
{
	struct vsn_schedule s = sched(spec);
	time_t next;

	assert_int_equal(vsn_schedule_next_change(&s, t, &next), 0);
	return next;
}

/* glibc's offset of zone at t, under TZ (this test is single-threaded: TZ may change). */
static long glibc_off(const char *tz, time_t t)
{
	static char current[256];
	struct tm tm;

	if (strcmp(current, tz)) {
		snprintf(current, sizeof(current), "%s", tz);
		setenv("TZ", tz, 1);
		tzset();
	}
	assert_non_null(localtime_r(&t, &tm));
	return tm.tm_gmtoff;
}

static int32_t our_off(const struct vsn_tz *tz, time_t t)
{
	struct vsn_tz_period p;

	assert_int_equal(vsn_tz_period(tz, t, &p), 0);
	assert_true(p.start == INT64_MIN || p.start <= t);
	assert_true(p.end == INT64_MAX || p.end > t);
	return p.off;
}

/*
 * Our offsets and glibc's agree: at every transition we see (and the second
 * before it) and on a grid of instants that is not aligned with anything,
 * from 1900 to 2100 (past 2037 the footer's rule speaks).
 */
static void compare_with_glibc(const struct vsn_tz *tz, const char *glibc_tz, time_t from,
			       time_t to)
{
	struct vsn_tz_period p;
	int transitions = 0;

	for (time_t t = from; t < to; t += 3 * 86400 + 3600 + 17 * 60 + 13)
		if (our_off(tz, t) != glibc_off(glibc_tz, t)) {
			print_error("%s at %lld: ours %d, glibc %ld\n", glibc_tz, (long long)t,
				    our_off(tz, t), glibc_off(glibc_tz, t));
			fail();
		}
	for (time_t t = from; t < to; t = p.end) {
		assert_int_equal(vsn_tz_period(tz, t, &p), 0);
		if (p.end == INT64_MAX)
			break;
		assert_int_equal(our_off(tz, p.end - 1), glibc_off(glibc_tz, p.end - 1));
		assert_int_equal(our_off(tz, p.end), glibc_off(glibc_tz, p.end));
		transitions++;
	}
	assert_true(transitions > 0 || our_off(tz, from) == our_off(tz, to));
}

static const char *const zones[] = {
	"Europe/Berlin",     "America/New_York", "Australia/Sydney", "Europe/Dublin",
	"America/Nuuk",	     "Pacific/Apia",	 "Asia/Kolkata",     "America/Sao_Paulo",
	"Africa/Casablanca", "Asia/Tehran",	 "Antarctica/Troll", "Australia/Lord_Howe",
	"Pacific/Chatham",   "Asia/Kathmandu",
};

static void zones_agree_with_glibc(void **state)
{
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		struct vsn_tz *tz;

		assert_int_equal(vsn_tz_load(zones[i], &tz), 0);
		assert_string_equal(vsn_tz_name(tz), zones[i]);
		compare_with_glibc(tz, zones[i], utc(1900, 1, 1, 0, 0, 0),
				   utc(2100, 1, 1, 0, 0, 0));
		vsn_tz_free(tz);
	}
}

/* A TZif file of version 2 in memory: the given transitions and types, then a footer. */
struct tzif {
	uint8_t b[4096];
	size_t n;
};

static void put8(struct tzif *f, uint8_t v)
{
	assert_true(f->n < sizeof(f->b));
	f->b[f->n++] = v;
}

static void put32(struct tzif *f, uint32_t v)
{
	for (int i = 3; i >= 0; i--)
		put8(f, (uint8_t)(v >> (8 * i)));
}

static void put_header(struct tzif *f, uint32_t times, uint32_t types)
{
	memcpy(f->b + f->n, "TZif2", 5);
	f->n += 5;
	for (int i = 0; i < 15; i++)
		put8(f, 0);
	put32(f, 0);	 /* isut */
	put32(f, 0);	 /* isstd */
	put32(f, 0);	 /* leap */
	put32(f, times); /* time */
	put32(f, types); /* type */
	put32(f, 4);	 /* chars */
}

static struct tzif make_tzif(const int64_t *at, const uint8_t *idx, size_t n, const int32_t *offs,
			     size_t types, const char *footer)
{
	struct tzif f = {.n = 0};

	/* A minimal version 1 block, as slim files have: one type, no transitions. */
	put_header(&f, 0, 1);
	put32(&f, 0);
	put8(&f, 0);
	put8(&f, 0);
	put32(&f, 0x414141); /* "AAA\0" */
	put_header(&f, (uint32_t)n, (uint32_t)types);
	for (size_t i = 0; i < n; i++) {
		put32(&f, (uint32_t)((uint64_t)at[i] >> 32));
		put32(&f, (uint32_t)at[i]);
	}
	for (size_t i = 0; i < n; i++)
		put8(&f, idx[i]);
	for (size_t i = 0; i < types; i++) {
		put32(&f, (uint32_t)offs[i]);
		put8(&f, 0);
		put8(&f, 0);
	}
	put32(&f, 0x414141);
	put8(&f, '\n');
	for (const char *s = footer; *s; s++)
		put8(&f, (uint8_t)*s);
	put8(&f, '\n');
	return f;
}

/* Footers alone (slim files rely on them), each against glibc reading the same POSIX TZ rule. */
static void footer_rules_agree_with_glibc(void **state)
{
	static const char *const rules[] = {
		"CET-1CEST,M3.5.0,M10.5.0/3",
		"EST5EDT,M3.2.0,M11.1.0",
		"AEST-10AEDT,M10.1.0,M4.1.0/3",
		"IST-1GMT0,M10.5.0,M3.5.0/1",
		"<-02>2<-01>,M3.5.0/-1,M10.5.0/0",
		"<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45",
		"NZST-12NZDT,M9.5.0,M4.1.0/3",
		"<-03>3<-02>,M3.2.0/-2,M11.1.0/-1",
		"XXX3YYY,J60/2,J300/2",
		"XXX3YYY,59/2,299/2",
		"<+0330>-3:30",
		"UTC0",
	};
	const int32_t off0 = 0;

	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		struct tzif f = make_tzif(NULL, NULL, 0, &off0, 1, rules[i]);
		struct vsn_tz *tz;

		if (vsn_tz_parse(f.b, f.n, "test", &tz)) {
			print_error("footer '%s' refused\n", rules[i]);
			fail();
		}
		compare_with_glibc(tz, rules[i], utc(1971, 1, 1, 0, 0, 0),
				   utc(2060, 1, 1, 0, 0, 0));
		vsn_tz_free(tz);
	}
}

/* Daylight-saving time all year (a version 3 extension): it ends and begins again at once. */
static void footer_dst_all_year(void **state)
{
	const int32_t off0 = 0;
	struct tzif f = make_tzif(NULL, NULL, 0, &off0, 1, "EST5EDT4,0/0,J365/25");
	struct vsn_tz *tz;

	assert_int_equal(vsn_tz_parse(f.b, f.n, "test", &tz), 0);
	for (int y = 2020; y < 2030; y++) {
		assert_int_equal(our_off(tz, utc(y, 1, 1, 0, 0, 0)), -4 * 3600);
		assert_int_equal(our_off(tz, utc(y, 1, 1, 4, 59, 59)), -4 * 3600);
		assert_int_equal(our_off(tz, utc(y, 7, 1, 0, 0, 0)), -4 * 3600);
		assert_int_equal(our_off(tz, utc(y, 12, 31, 23, 0, 0)), -4 * 3600);
	}
	vsn_tz_free(tz);
}

/* After the last transition the footer speaks; before the first, the first type. */
static void transitions_then_footer(void **state)
{
	const int64_t at[] = {utc(2000, 1, 1, 0, 0, 0), utc(2001, 1, 1, 0, 0, 0)};
	const uint8_t idx[] = {1, 0};
	const int32_t offs[] = {3600, 7200};
	struct tzif f = make_tzif(at, idx, 2, offs, 2, "<+05>-5");
	struct vsn_tz_period p;
	struct vsn_tz *tz;

	assert_int_equal(vsn_tz_parse(f.b, f.n, "test", &tz), 0);
	assert_int_equal(our_off(tz, at[0] - 1), 3600);
	assert_int_equal(our_off(tz, at[0]), 7200);
	assert_int_equal(our_off(tz, at[1] - 1), 7200);
	assert_int_equal(our_off(tz, at[1]), 5 * 3600);
	assert_int_equal(vsn_tz_period(tz, at[1] + 100, &p), 0);
	assert_int_equal(p.start, at[1]);
	assert_true(p.end == INT64_MAX);
	assert_int_equal(vsn_tz_period(tz, at[0] + 100, &p), 0);
	assert_int_equal(p.start, at[0]);
	assert_int_equal(p.end, at[1]);
	assert_int_equal(vsn_tz_period(tz, VSN_TZ_T_MAX + 1, &p), -ERANGE);
	vsn_tz_free(tz);
}

static void *read_zone(const char *name, size_t *ret_len)
{
	char path[256];
	FILE *fp;
	void *buf = malloc(1 << 16);

	snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", name);
	fp = fopen(path, "rb");
	assert_non_null(fp);
	*ret_len = fread(buf, 1, 1 << 16, fp);
	fclose(fp);
	return buf;
}

/* Every cut of a real file is refused, every bit flip is survived (ASan checks the reads). */
static void malformed_files_are_refused(void **state)
{
	size_t len;
	uint8_t *data = read_zone("America/New_York", &len);
	struct vsn_tz *tz;

	for (size_t n = 0; n < len; n++) {
		uint8_t *cut = malloc(n ? n : 1);

		memcpy(cut, data, n);
		if (vsn_tz_parse(cut, n, "cut", &tz) != -EINVAL) {
			print_error("a file cut at %zu of %zu bytes was not refused\n", n, len);
			fail();
		}
		free(cut);
	}
	srand(7);
	for (int i = 0; i < 20000; i++) {
		size_t at = (size_t)rand() % len;
		int bit = rand() % 8;
		struct vsn_tz_period p;

		data[at] ^= (uint8_t)(1 << bit);
		if (!vsn_tz_parse(data, len, "flipped", &tz)) {
			for (int64_t t = -(INT64_C(1) << 35); t < (INT64_C(1) << 35);
			     t += INT64_C(1) << 29)
				assert_int_equal(vsn_tz_period(tz, t, &p), 0);
			vsn_tz_free(tz);
		}
		data[at] ^= (uint8_t)(1 << bit);
	}
	assert_int_equal(vsn_tz_parse(data, len, "whole", &tz), 0);
	vsn_tz_free(tz);
	free(data);
}

/* A version 1 file (32-bit times, no footer): the first block of a real one with its version
 * cleared. */
static void reads_version_1_files(void **state)
{
	size_t len;
	uint8_t *data = read_zone("Europe/Berlin", &len);
	uint32_t c[6];
	size_t v1;
	struct vsn_tz *tz;

	for (int i = 0; i < 6; i++)
		c[i] = (uint32_t)data[20 + 4 * i] << 24 | (uint32_t)data[21 + 4 * i] << 16 |
		       (uint32_t)data[22 + 4 * i] << 8 | data[23 + 4 * i];
	v1 = 44 + c[3] * 5 + c[4] * 6 + c[5] + c[2] * 8 + c[1] + c[0];
	data[4] = 0;
	assert_int_equal(vsn_tz_parse(data, v1 + 1, "v1", &tz), -EINVAL);
	assert_int_equal(vsn_tz_parse(data, v1, "v1", &tz), 0);
	compare_with_glibc(tz, "Europe/Berlin", utc(1902, 1, 1, 0, 0, 0), utc(2037, 1, 1, 0, 0, 0));
	vsn_tz_free(tz);
	free(data);
}

static void footers_are_checked(void **state)
{
	static const char *const bad[] = {
		"CET",		    /* no offset */
		"CE-1",		    /* a name of two letters */
		"CET-1CEST",	    /* daylight-saving time without dates */
		"CET-1CEST,M3.5.0", /* one date */
		"CET-1CEST,M13.5.0,M10.5.0",
		"CET-1CEST,M3.6.0,M10.5.0",
		"CET-1CEST,M3.5.7,M10.5.0",
		"CET-1CEST,J0,J300",
		"CET-1CEST,366,300",
		"CET-25",
		"CET-1CEST,M3.5.0/168,M10.5.0",
		"<+01-1",
		"<+1>-1",
		"CET-1:60",
		"CET-1 ",
		"CET-1CEST,M3.5.0,M10.5.0/3x",
	};
	const int32_t off0 = 0, off_big = 26 * 3600;
	struct vsn_tz *tz;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tzif f = make_tzif(NULL, NULL, 0, &off0, 1, bad[i]);

		if (vsn_tz_parse(f.b, f.n, "bad", &tz) != -EINVAL) {
			print_error("footer '%s' accepted\n", bad[i]);
			fail();
		}
	}
	struct tzif f = make_tzif(NULL, NULL, 0, &off_big, 1, "");
	assert_int_equal(vsn_tz_parse(f.b, f.n, "bad", &tz), -EINVAL);
	f = make_tzif(NULL, NULL, 0, &off0, 1, "");
	assert_int_equal(vsn_tz_parse(f.b, f.n, "empty footer", &tz), 0);
	assert_int_equal(our_off(tz, 0), 0);
	vsn_tz_free(tz);
}

static void loads_by_name(void **state)
{
	const struct vsn_tz *a, *b;
	struct vsn_tz *tz;

	assert_int_equal(vsn_tz_load("../../etc/passwd", &tz), -EINVAL);
	assert_int_equal(vsn_tz_load("/etc/localtime", &tz), -EINVAL);
	assert_int_equal(vsn_tz_load("Europe//Berlin", &tz), -EINVAL);
	assert_int_equal(vsn_tz_load("", &tz), -EINVAL);
	assert_int_equal(vsn_tz_load("Nowhere/City", &tz), -ENOENT);
	assert_int_equal(vsn_tz_load("Europe", &tz), -EINVAL); /* a directory */
	setenv("TZDIR", "/nonexistent", 1);
	assert_int_equal(vsn_tz_load("Europe/Berlin", &tz), -ENOENT);
	assert_int_equal(vsn_tz_load("UTC", &tz), 0); /* needs no file */
	assert_int_equal(our_off(tz, 0), 0);
	vsn_tz_free(tz);
	unsetenv("TZDIR");
	assert_int_equal(vsn_tz_get("Europe/Berlin", &a), 0);
	assert_int_equal(vsn_tz_get("Europe/Berlin", &b), 0);
	assert_ptr_equal(a, b);
	assert_int_equal(vsn_tz_get("Nowhere/City", &a), -ENOENT);
}

/* Each weekday form: a week of noons (2024-01-01 was a Monday), the days on which the schedule
 * holds. */
static void every_weekday_form(void **state)
{
	static const struct {
		const char *spec;
		const char *days; /* Mon..Sun, 'x' where it holds */
	} cases[] = {
		{"Mon", "x......"},
		{"tue", ".x....."},
		{"WED", "..x...."},
		{"Thu UTC", "...x..."},
		{"Fri Europe/Berlin", "....x.."},
		{"Sat", ".....x."},
		{"Sun", "......x"},
		{"Mon-Fri", "xxxxx.."},
		{"Sat-Sun", ".....xx"},
		{"Fri-Mon", "x...xxx"},
		{"Sun-Mon", "x.....x"},
		{"Wed-Tue", "xxxxxxx"},
		{"Thu-Thu", "...x..."},
		{"Mon,Wed,Fri-Sun", "x.x.xxx"},
		{"Sat,Sun", ".....xx"},
		{"Tue,Thu 10:00-14:00", ".x.x..."},
		{"10:00-14:00", "xxxxxxx"},
		{"13:00-14:00", "......."},
		{"Mon-Sun", "xxxxxxx"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (int d = 0; d < 7; d++) {
			bool want = cases[i].days[d] == 'x';

			if (holds(cases[i].spec, utc(2024, 1, 1 + d, 12, 0, 0)) != want) {
				print_error("'%s' on day %d: expected %d\n", cases[i].spec, d,
					    want);
				fail();
			}
		}
}

/* A schedule that holds from from until until (excluded): checked at both edges, either side. */
struct window {
	const char *spec;
	time_t from, until;
};

/* A schedule that holds (or not) at an instant. */
struct instant {
	const char *spec;
	time_t t;
	bool holds;
};

/* The next change of a schedule after an instant. */
struct change {
	const char *spec;
	time_t at, next;
};

static void check_instant(const char *spec, time_t t, bool want)
{
	char buf[64];

	if (holds(spec, t) == want)
		return;
	strftime(buf, sizeof(buf), "%a %F %T UTC", gmtime(&t));
	print_error("'%s' at %s: expected %s\n", spec, buf, want ? "holds" : "does not hold");
	fail();
}

static void check(const struct window *w, size_t nw, const struct instant *in, size_t ni,
		  const struct change *c, size_t nc)
{
	for (size_t i = 0; i < nw; i++) {
		check_instant(w[i].spec, w[i].from - 1, false);
		check_instant(w[i].spec, w[i].from, true);
		check_instant(w[i].spec, w[i].until - 1, true);
		check_instant(w[i].spec, w[i].until, false);
		assert_int_equal(next_change(w[i].spec, w[i].from - 1), w[i].from);
		assert_int_equal(next_change(w[i].spec, w[i].from), w[i].until);
	}
	for (size_t i = 0; i < ni; i++)
		check_instant(in[i].spec, in[i].t, in[i].holds);
	for (size_t i = 0; i < nc; i++)
		assert_int_equal(next_change(c[i].spec, c[i].at), c[i].next);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* 2024-01-05 was a Friday. A window across midnight belongs to the day it starts on. */
static void windows_across_midnight(void **state)
{
	const struct window w[] = {
		{"Mon-Fri 22:00-06:00", utc(2024, 1, 1, 22, 0, 0), utc(2024, 1, 2, 6, 0, 0)},
		/* Friday's window ends on Saturday. */
		{"Mon-Fri 22:00-06:00", utc(2024, 1, 5, 22, 0, 0), utc(2024, 1, 6, 6, 0, 0)},
		{"Sat 18:00-24:00", utc(2024, 1, 6, 18, 0, 0), utc(2024, 1, 7, 0, 0, 0)},
		{"Sun 23:00-01:00", utc(2024, 1, 7, 23, 0, 0), utc(2024, 1, 8, 1, 0, 0)},
		{"Sat", utc(2024, 1, 6, 0, 0, 0), utc(2024, 1, 7, 0, 0, 0)},
		/* Whole days in a row are one stretch. */
		{"Fri-Mon", utc(2024, 1, 5, 0, 0, 0), utc(2024, 1, 9, 0, 0, 0)},
		/* In the zone: 22:00-06:00 in Berlin (CET, +1) is 21:00-05:00 UTC. */
		{"Mon-Fri 22:00-06:00 Europe/Berlin", utc(2024, 1, 5, 21, 0, 0),
		 utc(2024, 1, 6, 5, 0, 0)},
	};
	const struct instant in[] = {
		{"Mon-Fri 22:00-06:00", utc(2024, 1, 6, 22, 0, 0), false},
		{"Mon-Fri 22:00-06:00", utc(2024, 1, 7, 23, 0, 0), false},
		/* Monday early: Sunday's window, and Sunday is not in Mon-Fri. */
		{"Mon-Fri 22:00-06:00", utc(2024, 1, 8, 0, 30, 0), false},
		{"Mon-Fri 22:00-06:00", utc(2024, 1, 8, 5, 0, 0), false},
		{"Mon-Fri 22:00-06:00", utc(2024, 1, 9, 3, 0, 0), true},
		{"Sun 23:00-01:00", utc(2024, 1, 8, 23, 30, 0), false},
		{"Mon-Fri 22:00-06:00 Europe/Berlin", utc(2024, 1, 7, 23, 30, 0), false},
	};
	const struct change c[] = {
		{"Mon-Fri 22:00-06:00", utc(2024, 1, 5, 12, 0, 0), utc(2024, 1, 5, 22, 0, 0)},
		{"Mon-Fri 22:00-06:00", utc(2024, 1, 6, 6, 0, 0), utc(2024, 1, 8, 22, 0, 0)},
	};

	check(w, N(w), in, N(in), c, N(c));
}

/*
 * Europe/Berlin: 2024-03-31 01:00 UTC the clocks jump from 02:00 CET to
 * 03:00 CEST; 2024-10-27 01:00 UTC they go back from 03:00 CEST to 02:00 CET.
 * The windows of docs/conditions.md, "Schedules".
 */
static void berlin_spring_forward(void **state)
{
	const struct window w[] = {
		/* An edge in the skipped hour takes effect at the jump. */
		{"02:30-04:00 Europe/Berlin", utc(2024, 3, 31, 1, 0, 0), utc(2024, 3, 31, 2, 0, 0)},
		{"01:00-02:30 Europe/Berlin", utc(2024, 3, 31, 0, 0, 0), utc(2024, 3, 31, 1, 0, 0)},
		/* Saturday 22:00 CET to Sunday 06:00 CEST. */
		{"Sat 22:00-06:00 Europe/Berlin", utc(2024, 3, 30, 21, 0, 0),
		 utc(2024, 3, 31, 4, 0, 0)},
		/* A window inside the skipped hour does not happen that day: the day before, the
		   day after. */
		{"02:00-02:30 Europe/Berlin", utc(2024, 3, 30, 1, 0, 0),
		 utc(2024, 3, 30, 1, 30, 0)},
		{"02:00-02:30 Europe/Berlin", utc(2024, 4, 1, 0, 0, 0), utc(2024, 4, 1, 0, 30, 0)},
	};
	const struct instant in[] = {
		{"02:00-02:30 Europe/Berlin", utc(2024, 3, 31, 0, 59, 59), false},
		{"02:00-02:30 Europe/Berlin", utc(2024, 3, 31, 1, 0, 0), false},
	};
	const struct change c[] = {
		{"02:00-02:30 Europe/Berlin", utc(2024, 3, 30, 12, 0, 0), utc(2024, 4, 1, 0, 0, 0)},
		{"02:30-04:00 Europe/Berlin", utc(2024, 3, 30, 12, 0, 0),
		 utc(2024, 3, 31, 1, 0, 0)},
	};

	check(w, N(w), in, N(in), c, N(c));
}

static void berlin_fall_back(void **state)
{
	const struct window w[] = {
		/* An edge in the repeated hour is crossed at its first occurrence (02:30 CEST). */
		{"02:30-04:00 Europe/Berlin", utc(2024, 10, 27, 0, 30, 0),
		 utc(2024, 10, 27, 3, 0, 0)},
		{"01:00-02:30 Europe/Berlin", utc(2024, 10, 26, 23, 0, 0),
		 utc(2024, 10, 27, 0, 30, 0)},
		{"02:45-03:15 Europe/Berlin", utc(2024, 10, 27, 0, 45, 0),
		 utc(2024, 10, 27, 2, 15, 0)},
		/* CEST never showed 03:00: 03:00 CET. */
		{"03:00-05:00 Europe/Berlin", utc(2024, 10, 27, 2, 0, 0),
		 utc(2024, 10, 27, 4, 0, 0)},
	};
	const struct instant in[] = {
		/* During the repeated hour the schedule keeps its value from just before it. */
		{"02:30-04:00 Europe/Berlin", utc(2024, 10, 27, 1, 15, 0), true},  /* 02:15 CET */
		{"01:00-02:30 Europe/Berlin", utc(2024, 10, 27, 1, 10, 0), false}, /* 02:10 CET */
		{"01:00-02:30 Europe/Berlin", utc(2024, 10, 27, 1, 45, 0), false},
		{"02:45-03:15 Europe/Berlin", utc(2024, 10, 27, 1, 30, 0), true},
	};
	const struct change c[] = {
		/* 01:00 CET the next day. */
		{"01:00-02:30 Europe/Berlin", utc(2024, 10, 27, 0, 30, 0),
		 utc(2024, 10, 28, 0, 0, 0)},
	};

	check(w, N(w), in, N(in), c, N(c));
}

/*
 * America/New_York: 2024-03-10 07:00 UTC from 02:00 EST to 03:00 EDT;
 * 2024-11-03 06:00 UTC from 02:00 EDT back to 01:00 EST.
 */
static void new_york_spring_forward(void **state)
{
	const struct window w[] = {
		{"Sun 01:30-02:30 America/New_York", utc(2024, 3, 10, 6, 30, 0),
		 utc(2024, 3, 10, 7, 0, 0)},
		/* Not on the day of the jump: the day before, the day after. */
		{"02:00-03:00 America/New_York", utc(2024, 3, 9, 7, 0, 0),
		 utc(2024, 3, 9, 8, 0, 0)},
		{"02:00-03:00 America/New_York", utc(2024, 3, 11, 6, 0, 0),
		 utc(2024, 3, 11, 7, 0, 0)},
		/* Starting in the skipped hour: at the jump. */
		{"02:15-05:00 America/New_York", utc(2024, 3, 10, 7, 0, 0),
		 utc(2024, 3, 10, 9, 0, 0)},
	};
	const struct instant in[] = {
		{"02:00-03:00 America/New_York", utc(2024, 3, 10, 6, 59, 59), false},
		{"02:00-03:00 America/New_York", utc(2024, 3, 10, 7, 0, 0), false},
	};
	const struct change c[] = {
		{"02:00-03:00 America/New_York", utc(2024, 3, 9, 12, 0, 0),
		 utc(2024, 3, 11, 6, 0, 0)},
	};

	check(w, N(w), in, N(in), c, N(c));
}

static void new_york_fall_back(void **state)
{
	const struct window w[] = {
		/* 01:30 EDT through the repeat to 03:00 EST. */
		{"01:30-03:00 America/New_York", utc(2024, 11, 3, 5, 30, 0),
		 utc(2024, 11, 3, 8, 0, 0)},
		{"00:00-01:30 America/New_York", utc(2024, 11, 3, 4, 0, 0),
		 utc(2024, 11, 3, 5, 30, 0)},
		/* Saturday 22:00 EDT to Sunday 06:00 EST: nine hours. */
		{"Sat 22:00-06:00 America/New_York", utc(2024, 11, 3, 2, 0, 0),
		 utc(2024, 11, 3, 11, 0, 0)},
	};
	const struct instant in[] = {
		{"01:30-03:00 America/New_York", utc(2024, 11, 3, 6, 15, 0), true}, /* 01:15 EST */
		{"00:00-01:30 America/New_York", utc(2024, 11, 3, 6, 15, 0), false},
	};
	const struct change c[] = {
		/* 00:00 EST the next day. */
		{"00:00-01:30 America/New_York", utc(2024, 11, 3, 6, 0, 0),
		 utc(2024, 11, 4, 5, 0, 0)},
	};

	check(w, N(w), in, N(in), c, N(c));
}

/*
 * next_change() against holds(), minute by minute for four days either side
 * of each change of the clocks in 2024: the value is the same from one
 * change to the next, and differs across each.
 */
static void walk_changes(const struct vsn_schedule *s, const struct vsn_tz *tz, time_t t,
			 time_t end)
{
	time_t next;
	bool cur, h;

	assert_int_equal(vsn_schedule_holds_tz(s, tz, t, &cur), 0);
	assert_int_equal(vsn_schedule_next_change_tz(s, tz, t, &next), 0);
	while (t < end) {
		t += 60;
		if (t < next) {
			assert_int_equal(vsn_schedule_holds_tz(s, tz, t, &h), 0);
			if (h != cur) {
				print_error("changed at %lld, before %lld\n", (long long)t,
					    (long long)next);
				fail();
			}
			continue;
		}
		t = next;
		assert_int_equal(vsn_schedule_holds_tz(s, tz, t - 1, &h), 0);
		assert_int_equal(h, cur);
		assert_int_equal(vsn_schedule_holds_tz(s, tz, t, &h), 0);
		assert_int_not_equal(h, cur);
		cur = h;
		assert_int_equal(vsn_schedule_next_change_tz(s, tz, t, &next), 0);
		assert_true(next > t);
	}
}

static void next_change_matches_holds(void **state)
{
	static const char *const specs[] = {
		"02:30-04:00", "01:00-02:30",	  "02:00-02:30", "Mon-Fri 22:00-06:00",
		"Sat,Sun",     "Sun 00:00-03:00", "23:00-02:15", "Fri-Mon 02:59-03:01",
		"Sun",	       "00:30-01:30",
	};
	static const char *const tzs[] = {"Europe/Berlin", "America/New_York", "Australia/Sydney",
					  "Europe/Dublin"};

	for (size_t z = 0; z < sizeof(tzs) / sizeof(tzs[0]); z++) {
		const struct vsn_tz *tz;

		assert_int_equal(vsn_tz_get(tzs[z], &tz), 0);
		for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
			char spec[128];
			struct vsn_schedule s;
			struct vsn_tz_period p;
			int changes = 0;

			snprintf(spec, sizeof(spec), "%s %s", specs[i], tzs[z]);
			s = sched(spec);
			assert_int_equal(vsn_tz_period(tz, utc(2024, 1, 1, 0, 0, 0), &p), 0);
			while (p.end < utc(2025, 1, 1, 0, 0, 0)) {
				walk_changes(&s, tz, p.end - 4 * 86400, p.end + 4 * 86400);
				changes++;
				assert_int_equal(vsn_tz_period(tz, p.end, &p), 0);
			}
			assert_int_equal(changes, 2);
		}
	}
}

static void refuses_bad_input(void **state)
{
	struct vsn_schedule s = sched("Mon-Sun");
	time_t next;
	bool h;

	assert_int_equal(vsn_schedule_next_change(&s, utc(2024, 1, 1, 0, 0, 0), &next), -ENOENT);
	assert_int_equal(vsn_schedule_holds(&s, utc(2024, 1, 1, 0, 0, 0), &h), 0);
	assert_true(h);
	assert_int_equal(vsn_schedule_holds(&s, -1, &h), -ERANGE);
	assert_int_equal(vsn_schedule_holds(&s, (time_t)VSN_SCHEDULE_T_MAX + 1, &h), -ERANGE);
	s.days = 0;
	assert_int_equal(vsn_schedule_holds(&s, 0, &h), -EINVAL);
	s = sched("10:00-12:00");
	s.end = s.start;
	assert_int_equal(vsn_schedule_holds(&s, 0, &h), -EINVAL);
	s = sched("10:00-12:00");
	s.end = 1441;
	assert_int_equal(vsn_schedule_next_change(&s, 0, &next), -EINVAL);
	s = sched("10:00-12:00");
	strcpy(s.zone, "Nowhere/City");
	assert_int_equal(vsn_schedule_holds(&s, 0, &h), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(zones_agree_with_glibc),
		cmocka_unit_test(footer_rules_agree_with_glibc),
		cmocka_unit_test(footer_dst_all_year),
		cmocka_unit_test(transitions_then_footer),
		cmocka_unit_test(malformed_files_are_refused),
		cmocka_unit_test(reads_version_1_files),
		cmocka_unit_test(footers_are_checked),
		cmocka_unit_test(loads_by_name),
		cmocka_unit_test(every_weekday_form),
		cmocka_unit_test(windows_across_midnight),
		cmocka_unit_test(berlin_spring_forward),
		cmocka_unit_test(berlin_fall_back),
		cmocka_unit_test(new_york_spring_forward),
		cmocka_unit_test(new_york_fall_back),
		cmocka_unit_test(next_change_matches_holds),
		cmocka_unit_test(refuses_bad_input),
	};

	return cmocka_run_group_tests_name("schedule_eval", tests, NULL, NULL);
}
