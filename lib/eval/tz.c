/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TZif files (RFC 8536) and the POSIX TZ rules of their footers (tz.h). A
 * reader over the bytes that never looks past its end, the header and data
 * block of each version, then the footer's rule, each checked.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tz.h"
#include "civil.h"

/* Bounds on a file's counts, far above any real zone's, so that sizes stay small numbers. */
#define MAX_TIMES (1u << 20)
#define MAX_LEAPS (1u << 16)
#define MAX_CHARS (1u << 16)
#define MAX_FOOTER 512
/* POSIX TZ rule times in hours: -167..167 since TZif version 3. */
#define MAX_RULE_HOURS 167

#define ZONE_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+-/"

/* When a rule changes the clocks within a year: Jn, n or Mm.w.d, at a time of day. */
struct rule_date {
	enum { DATE_JULIAN, DATE_ZERO, DATE_MONTH } kind;
	int n;	      /* JULIAN 1..365 (no February 29), ZERO 0..365 */
	int m, w, d;  /* MONTH: month 1..12, week 1..5 (5: the last), weekday 0..6 (Sunday 0) */
	int32_t time; /* seconds after local midnight, -167h..167h */
};

/* A footer: standard time only, or standard and daylight-saving time with the dates between. */
struct rule {
	bool present;
	bool has_dst;
	int32_t std_off, dst_off; /* seconds east of UTC */
	struct rule_date start;	  /* daylight-saving time begins, in standard time */
	struct rule_date end;	  /* it ends, in daylight-saving time */
};

struct vsn_tz {
	struct vsn_tz *next; /* in the cache of vsn_tz_get() */
	char name[VSN_TZ_NAME_MAX + 1];
	size_t n;
	int64_t *at;	   /* n transitions, ascending */
	int32_t *off;	   /* the offset from at[i] on */
	int32_t first_off; /* before at[0]: the file's first type */
	struct rule rule;  /* after at[n - 1] */
};

/* Bytes read front to back; take() fails rather than pass the end. */
struct rd {
	const uint8_t *p, *end;
};

static const uint8_t *take(struct rd *r, uint64_t n)
{
	const uint8_t *p = r->p;

	if (n > (uint64_t)(r->end - r->p))
		return NULL;
	r->p += n;
	return p;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be_time(const uint8_t *p, size_t size)
{
	if (size == 4)
		return (int32_t)be32(p);
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

static bool off_ok(int64_t off)
{
	return off > -VSN_TZ_MAX_OFF && off < VSN_TZ_MAX_OFF;
}

struct header {
	uint8_t version; /* 0, or '2' and later */
	uint32_t isut, isstd, leap, time, type, chars;
};

static int read_header(struct rd *r, struct header *h)
{
	const uint8_t *p = take(r, 44);

	if (!p || memcmp(p, "TZif", 4))
		return -EINVAL;
	h->version = p[4];
	if (h->version != 0 && h->version < '2')
		return -EINVAL;
	h->isut = be32(p + 20);
	h->isstd = be32(p + 24);
	h->leap = be32(p + 28);
	h->time = be32(p + 32);
	h->type = be32(p + 36);
	h->chars = be32(p + 40);
	return 0;
}

/* The size of a data block with times of tsize bytes; the counts are 32-bit, so no overflow. */
static uint64_t block_size(const struct header *h, size_t tsize)
{
	return (uint64_t)h->time * (tsize + 1) + (uint64_t)h->type * 6 + h->chars +
	       (uint64_t)h->leap * (tsize + 4) + h->isstd + h->isut;
}

/* One data block into tz: its transitions and the offset each one brings. */
static int read_block(struct rd *r, const struct header *h, size_t tsize, struct vsn_tz *tz)
{
	const uint8_t *times, *idx, *types;

	if (h->type < 1 || h->type > 256 || h->time > MAX_TIMES || h->leap > MAX_LEAPS ||
	    h->chars < 1 || h->chars > MAX_CHARS || (h->isut && h->isut != h->type) ||
	    (h->isstd && h->isstd != h->type))
		return -EINVAL;
	times = take(r, (uint64_t)h->time * tsize);
	idx = take(r, h->time);
	types = take(r, (uint64_t)h->type * 6);
	/* Designations, leap seconds and the standard/UT indicators are not needed. */
	if (!times || !idx || !types ||
	    !take(r, h->chars + (uint64_t)h->leap * (tsize + 4) + h->isstd + h->isut))
		return -EINVAL;
	for (uint32_t i = 0; i < h->type; i++)
		if (!off_ok((int32_t)be32(types + 6 * i)))
			return -EINVAL;
	tz->first_off = (int32_t)be32(types);
	if (!h->time)
		return 0;
	tz->at = malloc(h->time * sizeof(*tz->at));
	tz->off = malloc(h->time * sizeof(*tz->off));
	if (!tz->at || !tz->off)
		return -ENOMEM;
	for (uint32_t i = 0; i < h->time; i++) {
		tz->at[i] = be_time(times + i * tsize, tsize);
		if (idx[i] >= h->type || (i && tz->at[i] <= tz->at[i - 1]) ||
		    tz->at[i] < VSN_TZ_T_MIN || tz->at[i] > VSN_TZ_T_MAX)
			return -EINVAL;
		tz->off[i] = (int32_t)be32(types + 6 * idx[i]);
	}
	tz->n = h->time;
	return 0;
}

/* The POSIX TZ rule of a footer, as a cursor over its text. */
struct pr {
	const char *s, *end;
};

static bool pr_is(const struct pr *p, char c)
{
	return p->s < p->end && *p->s == c;
}

static bool pr_digit(const struct pr *p)
{
	return p->s < p->end && *p->s >= '0' && *p->s <= '9';
}

/* 1 to max_digits decimal digits. */
static bool pr_number(struct pr *p, int max_digits, int *ret)
{
	int v = 0, n = 0;

	while (pr_digit(p) && n < max_digits) {
		v = v * 10 + (*p->s++ - '0');
		n++;
	}
	*ret = v;
	return n > 0 && !pr_digit(p);
}

/* A zone abbreviation: three or more letters, or <...> of letters, digits, '+' and '-'. */
static bool pr_name(struct pr *p)
{
	const char *s = p->s;

	if (pr_is(p, '<')) {
		for (p->s++; p->s < p->end && *p->s != '>'; p->s++)
			if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
				    "+-",
				    *p->s))
				return false;
		if (!pr_is(p, '>') || p->s - s < 4)
			return false;
		p->s++;
		return true;
	}
	while (p->s < p->end && ((*p->s >= 'a' && *p->s <= 'z') || (*p->s >= 'A' && *p->s <= 'Z')))
		p->s++;
	return p->s - s >= 3;
}

/* [+-]h[h[h]][:mm[:ss]], hours up to max_hours, into seconds (west of UTC for offsets). */
static bool pr_hms(struct pr *p, int max_hours, int32_t *ret)
{
	int h, m = 0, s = 0, sign = 1;

	if (pr_is(p, '+') || pr_is(p, '-'))
		sign = *p->s++ == '-' ? -1 : 1;
	if (!pr_number(p, 3, &h) || h > max_hours)
		return false;
	if (pr_is(p, ':')) {
		p->s++;
		if (!pr_number(p, 2, &m) || m > 59)
			return false;
		if (pr_is(p, ':')) {
			p->s++;
			if (!pr_number(p, 2, &s) || s > 59)
				return false;
		}
	}
	*ret = sign * (h * 3600 + m * 60 + s);
	return true;
}

static bool pr_date(struct pr *p, struct rule_date *d)
{
	d->time = 2 * 3600;
	if (pr_is(p, 'J')) {
		p->s++;
		d->kind = DATE_JULIAN;
		if (!pr_number(p, 3, &d->n) || d->n < 1 || d->n > 365)
			return false;
	} else if (pr_is(p, 'M')) {
		p->s++;
		d->kind = DATE_MONTH;
		if (!pr_number(p, 2, &d->m) || d->m < 1 || d->m > 12 || !pr_is(p, '.'))
			return false;
		p->s++;
		if (!pr_number(p, 1, &d->w) || d->w < 1 || d->w > 5 || !pr_is(p, '.'))
			return false;
		p->s++;
		if (!pr_number(p, 1, &d->d) || d->d > 6)
			return false;
	} else {
		d->kind = DATE_ZERO;
		if (!pr_number(p, 3, &d->n) || d->n > 365)
			return false;
	}
	if (pr_is(p, '/')) {
		p->s++;
		return pr_hms(p, MAX_RULE_HOURS, &d->time);
	}
	return true;
}

/* std offset [dst [offset] ,start[/time],end[/time]]; an empty footer is no rule. */
static int parse_rule(const char *s, size_t len, struct rule *ret)
{
	struct pr p = {s, s + len};
	struct rule r = {.present = len > 0};
	int32_t west;

	if (!len) {
		*ret = r;
		return 0;
	}
	if (!pr_name(&p) || !pr_hms(&p, 24, &west))
		return -EINVAL;
	r.std_off = -west;
	if (p.s < p.end) {
		r.has_dst = true;
		if (!pr_name(&p))
			return -EINVAL;
		r.dst_off = r.std_off + 3600;
		if (!pr_is(&p, ',')) {
			if (!pr_hms(&p, 24, &west))
				return -EINVAL;
			r.dst_off = -west;
		}
		/* Without dates POSIX leaves the rule to the implementation: zic never writes one.
		 */
		if (!pr_is(&p, ','))
			return -EINVAL;
		p.s++;
		if (!pr_date(&p, &r.start) || !pr_is(&p, ','))
			return -EINVAL;
		p.s++;
		if (!pr_date(&p, &r.end))
			return -EINVAL;
	}
	if (p.s != p.end || !off_ok(r.std_off) || !off_ok(r.dst_off))
		return -EINVAL;
	*ret = r;
	return 0;
}

int vsn_tz_parse(const void *data, size_t len, const char *name, struct vsn_tz **ret)
{
	struct rd r = {data, (const uint8_t *)data + len};
	struct vsn_tz *tz = NULL;
	const uint8_t *nl;
	struct header h;
	size_t tsize = 4;
	int err;

	if (!name || strlen(name) > VSN_TZ_NAME_MAX)
		return -EINVAL;
	err = read_header(&r, &h);
	if (err)
		return err;
	if (h.version) {
		/* Version 2 and later: skip the 32-bit block, read the 64-bit one after its header.
		 */
		if (!take(&r, block_size(&h, 4)))
			return -EINVAL;
		err = read_header(&r, &h);
		if (err)
			return err;
		if (!h.version)
			return -EINVAL;
		tsize = 8;
	}
	tz = calloc(1, sizeof(*tz));
	if (!tz)
		return -ENOMEM;
	strcpy(tz->name, name);
	err = read_block(&r, &h, tsize, tz);
	if (err)
		goto out;
	err = -EINVAL;
	if (h.version) {
		/* The footer: '\n', a POSIX TZ rule (perhaps empty), '\n', then the file's end. */
		if (!take(&r, 1) || r.p[-1] != '\n')
			goto out;
		nl = memchr(r.p, '\n', r.end - r.p);
		if (!nl || nl + 1 != r.end || nl - r.p > MAX_FOOTER)
			goto out;
		err = parse_rule((const char *)r.p, nl - r.p, &tz->rule);
		if (err)
			goto out;
	} else if (r.p != r.end) {
		goto out;
	}
	*ret = tz;
	tz = NULL;
	err = 0;
out:
	vsn_tz_free(tz);
	return err;
}

void vsn_tz_free(struct vsn_tz *tz)
{
	if (!tz)
		return;
	free(tz->at);
	free(tz->off);
	free(tz);
}

const char *vsn_tz_name(const struct vsn_tz *tz)
{
	return tz->name;
}

/* A name as schedule.h accepts one: no absolute path, no "..", nothing but zone characters. */
static bool name_ok(const char *name)
{
	size_t len = strlen(name);

	return len && len <= VSN_TZ_NAME_MAX && strspn(name, ZONE_CHARS) == len && name[0] != '/' &&
	       name[len - 1] != '/' && !strstr(name, "//");
}

static int read_file(int fd, uint8_t **ret_data, size_t *ret_len)
{
	struct stat st;
	uint8_t *data;
	size_t len = 0;

	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (st.st_size > VSN_TZ_FILE_MAX)
		return -EFBIG;
	/* One byte more than the file's size: a file that grew since fstat() is refused, not cut.
	 */
	data = malloc((size_t)st.st_size + 1);
	if (!data)
		return -ENOMEM;
	for (;;) {
		ssize_t n = read(fd, data + len, (size_t)st.st_size + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = -errno;

			free(data);
			return err;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > (size_t)st.st_size) {
			free(data);
			return -EFBIG;
		}
	}
	*ret_data = data;
	*ret_len = len;
	return 0;
}

int vsn_tz_load(const char *name, struct vsn_tz **ret)
{
	const char *dir = getenv("TZDIR");
	char path[4096];
	uint8_t *data;
	size_t len;
	int fd, err;

	if (!name_ok(name))
		return -EINVAL;
	if (!strcmp(name, "UTC")) {
		struct vsn_tz *tz = calloc(1, sizeof(*tz));

		if (!tz)
			return -ENOMEM;
		strcpy(tz->name, name);
		*ret = tz;
		return 0;
	}
	if (!dir || !*dir)
		dir = "/usr/share/zoneinfo";
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = read_file(fd, &data, &len);
	close(fd);
	if (err)
		return err;
	err = vsn_tz_parse(data, len, name, ret);
	free(data);
	return err;
}

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vsn_tz *cache;

int vsn_tz_get(const char *name, const struct vsn_tz **ret)
{
	struct vsn_tz *tz;
	int err = 0;

	pthread_mutex_lock(&cache_lock);
	for (tz = cache; tz; tz = tz->next)
		if (!strcmp(tz->name, name))
			break;
	if (!tz) {
		/* Loaded under the lock: a zone is read once however many threads ask at once. */
		err = vsn_tz_load(name, &tz);
		if (!err) {
			tz->next = cache;
			cache = tz;
		}
	}
	pthread_mutex_unlock(&cache_lock);
	if (!err)
		*ret = tz;
	return err;
}

/* The instant a rule date falls on in year y, given the offset in force just before it. */
static int64_t rule_at(const struct rule_date *d, int64_t y, int32_t off_before)
{
	int64_t day = vsn_days_from_civil(y, 1, 1);

	switch (d->kind) {
	case DATE_JULIAN:
		day += d->n - 1 + (vsn_is_leap(y) && d->n >= 60);
		break;
	case DATE_ZERO:
		day += d->n;
		break;
	case DATE_MONTH: {
		int64_t first = vsn_days_from_civil(y, d->m, 1);
		int64_t last = first + vsn_month_days(y, d->m) - 1;

		day = first + (d->d - vsn_weekday_sun0(first) + 7) % 7 + (d->w - 1) * 7;
		while (day > last)
			day -= 7;
		break;
	}
	}
	return day * 86400 + d->time - off_before;
}

/*
 * The rule's period at t: the changes of the years around t's, in order
 * (a later change at the same instant wins, as when daylight-saving time
 * lasts all year and ends and begins again at once), the last one at or
 * before t giving the offset.
 */
static void rule_period(const struct rule *r, int64_t t, struct vsn_tz_period *p)
{
	struct change {
		int64_t at;
		int32_t off;
	} ev[10], e;
	int64_t y = vsn_year_of_day(vsn_floor_div(t, 86400));
	int n = 0, last = -1;

	*p = (struct vsn_tz_period){r->std_off, INT64_MIN, INT64_MAX};
	if (!r->has_dst)
		return;
	/* Rule times reach 167 hours past their date: two years either side cover t. */
	for (int64_t yy = y - 2; yy <= y + 2; yy++) {
		ev[n++] = (struct change){rule_at(&r->start, yy, r->std_off), r->dst_off};
		ev[n++] = (struct change){rule_at(&r->end, yy, r->dst_off), r->std_off};
	}
	for (int i = 1; i < n; i++) {
		int j = i;

		e = ev[i];
		for (; j > 0 && ev[j - 1].at > e.at; j--)
			ev[j] = ev[j - 1];
		ev[j] = e;
	}
	for (int i = 0; i < n && ev[i].at <= t; i++)
		last = i;
	if (last >= 0) {
		p->off = ev[last].off;
		p->start = ev[last].at;
	}
	if (last + 1 < n)
		p->end = ev[last + 1].at;
}

int vsn_tz_period(const struct vsn_tz *tz, int64_t t, struct vsn_tz_period *ret)
{
	size_t lo = 0, hi = tz->n;

	if (t < VSN_TZ_T_MIN || t > VSN_TZ_T_MAX)
		return -ERANGE;
	if (!tz->n || t >= tz->at[tz->n - 1]) {
		if (tz->rule.present) {
			rule_period(&tz->rule, t, ret);
			if (tz->n && ret->start < tz->at[tz->n - 1])
				ret->start = tz->at[tz->n - 1];
		} else {
			*ret = (struct vsn_tz_period){tz->n ? tz->off[tz->n - 1] : tz->first_off,
						      tz->n ? tz->at[tz->n - 1] : INT64_MIN,
						      INT64_MAX};
		}
		return 0;
	}
	if (t < tz->at[0]) {
		*ret = (struct vsn_tz_period){tz->first_off, INT64_MIN, tz->at[0]};
		return 0;
	}
	/* at[lo] <= t < at[hi] */
	hi = tz->n - 1;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (tz->at[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	*ret = (struct vsn_tz_period){tz->off[lo], tz->at[lo], tz->at[hi]};
	return 0;
}
