/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A check's schedule: one timer that starts an attempt, then serves as its deadline, then
 * starts the next one interval_ms after the last started. Attempts never overlap (the timeout
 * is at most the interval), so a target sees one connection at a time from us.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "probe_internal.h"

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void runner_arm(struct runner *r, uint64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

	evtimer_add(r->timer, &tv);
}

/* Schedule the next attempt, then report: the callback may free r. */
static void runner_finish(struct runner *r, const struct hx_result *res)
{
	uint64_t now = now_ms(), next = r->started_ms + r->interval_ms;

	runner_arm(r, next > now ? next - now : 0);
	r->done(r, res, (unsigned int)(now - r->started_ms));
}

static void runner_hx_cb(void *arg, const struct hx_result *res)
{
	runner_finish(arg, res);
}

static void runner_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct runner *r = arg;

	if (hx_busy(&r->hx)) {
		char why[VSN_PROBE_REASON_MAX];
		struct hx_result res = {.err = -ETIMEDOUT, .why = why};
		uint64_t now = now_ms(), end = r->started_ms + r->timeout_ms;

		/* libevent's clock is coarse (a few ms): its timer may fire before the deadline. */
		if (now < end) {
			runner_arm(r, end - now);
			return;
		}

		snprintf(why, sizeof(why), "timeout after %u ms (%s)", r->timeout_ms,
			 hx_phase_desc(&r->hx));
		hx_cancel(&r->hx);
		runner_finish(r, &res);
		return;
	}
	r->started_ms = now_ms();
	runner_arm(r, r->timeout_ms);
	/* Last: a failure at once (refused on loopback) is reported before it returns. */
	hx_start(&r->hx, &r->ck);
}

int runner_init(struct runner *r, struct event_base *base, runner_done_cb done)
{
	memset(r, 0, sizeof(*r));
	r->done = done;
	r->timer = evtimer_new(base, runner_timer_cb, r);
	if (!r->timer || hx_init(&r->hx, base, runner_hx_cb, r)) {
		runner_fini(r);
		return -ENOMEM;
	}
	return 0;
}

void runner_fini(struct runner *r)
{
	hx_fini(&r->hx);
	if (r->timer)
		event_free(r->timer);
	r->timer = NULL;
	check_fini(&r->ck);
}

void runner_set_check(struct runner *r, struct check *ck, unsigned int delay_ms)
{
	hx_cancel(&r->hx);
	hx_forget_session(&r->hx);
	check_fini(&r->ck);
	r->ck = *ck;
	memset(ck, 0, sizeof(*ck));
	runner_arm(r, delay_ms);
}
