/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Time zones for schedules: a zone's UTC offsets read once from its TZif
 * file (RFC 8536, versions 1 to 4) into an immutable object, so that every
 * later question (which offset is in force at an instant) is a pure, thread-safe
 * lookup. Nothing here touches TZ, tzset() or localtime_r(): switching TZ is
 * process-wide, races with every other thread that reads the environment or
 * the local time, and rereads the zone file at each switch.
 *
 * A zone is its table of transitions, then the POSIX TZ rule of its footer
 * (`CET-1CEST,M3.5.0,M10.5.0/3`) for every instant after the last one: the
 * "slim" files of newer tzdata hold few transitions and rely on that rule.
 * The leap-second records of the right/ zones are ignored (their times are
 * then off by up to 27 s). Offsets are below 26 hours either way.
 */
#ifndef VSN_EVAL_TZ_H
#define VSN_EVAL_TZ_H

#include <stddef.h>
#include <stdint.h>

/* Longest zone name accepted, without its NUL (as VSN_SCHEDULE_ZONE_MAX). */
#define VSN_TZ_NAME_MAX 63
/* Largest zone file read (real ones are below 10 KiB). */
#define VSN_TZ_FILE_MAX (1u << 20)
/* Every UTC offset is strictly between -VSN_TZ_MAX_OFF and VSN_TZ_MAX_OFF seconds. */
#define VSN_TZ_MAX_OFF (26 * 3600)
/* Instants the lookups accept: +-2^40 s, some 34,000 years either side of 1970. */
#define VSN_TZ_T_MIN (-(INT64_C(1) << 40))
#define VSN_TZ_T_MAX (INT64_C(1) << 40)

struct vsn_tz;

/* The stretch of time around an instant during which one offset is in force. */
struct vsn_tz_period {
	int32_t off;   /* seconds east of UTC: local time = UTC + off */
	int64_t start; /* the transition that began it; INT64_MIN: none before */
	int64_t end;   /* the next transition (excluded); INT64_MAX: none after */
};

/*
 * Parse the bytes of a TZif file (len of them) into *ret, named name (at
 * most VSN_TZ_NAME_MAX characters). Pure: no I/O. Returns 0, -ENOMEM, or
 * -EINVAL for anything malformed (a truncated file, transitions out of order,
 * an offset of 26 hours or more, a footer that is not a POSIX TZ rule, a rule
 * with daylight saving time but no dates); *ret is untouched on failure.
 */
int vsn_tz_parse(const void *data, size_t len, const char *name, struct vsn_tz **ret);

/*
 * Read the zone name ("Europe/Berlin") from $TZDIR, by default
 * /usr/share/zoneinfo, and parse it. "UTC" needs no file. Returns 0,
 * -EINVAL (a name that is not a zone name, or a malformed file), -ENOENT,
 * -EFBIG (above VSN_TZ_FILE_MAX), -ENOMEM, or another errno of open/read.
 */
int vsn_tz_load(const char *name, struct vsn_tz **ret);

/*
 * The zone name from the process's cache, loaded with vsn_tz_load() at its
 * first use and kept until the process ends (a tzdata update is seen at the
 * next start). Thread-safe; the zone returned is never freed or changed. Errors
 * as vsn_tz_load(); a failure is not remembered (the next call tries again).
 */
int vsn_tz_get(const char *name, const struct vsn_tz **ret);

void vsn_tz_free(struct vsn_tz *tz);

const char *vsn_tz_name(const struct vsn_tz *tz);

/*
 * The period of tz in force at the instant t (seconds since the epoch, UTC,
 * VSN_TZ_T_MIN..VSN_TZ_T_MAX). Returns 0 or -ERANGE. Consecutive periods may
 * have the same offset (a transition that changed only the zone's name or
 * its daylight-saving flag).
 */
int vsn_tz_period(const struct vsn_tz *tz, int64_t t, struct vsn_tz_period *ret);

#endif /* VSN_EVAL_TZ_H */
