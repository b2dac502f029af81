/* SPDX-License-Identifier: Apache-2.0 */
/* slb ID state STATE, resolve. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpctl.h"

int cmd_slb(struct dpctl *ctl, int argc, char **argv)
{
	enum vsn_slb_state state;
	struct vsn_dp *dp;
	unsigned long id;
	char *end;
	int r;

	if (argc != 4 || strcmp(argv[2], "state"))
		return dpctl_err(0, "usage: slb ID state up|down|drain");
	errno = 0;
	id = strtoul(argv[1], &end, 10);
	if (errno || *end || !*argv[1] || id == 0 || id > UINT32_MAX)
		return dpctl_err(0, "slb: '%s' is not an SLB id", argv[1]);
	if (vsn_slb_state_parse(argv[3], &state))
		return dpctl_err(0, "slb: state is up, down or drain, not '%s'", argv[3]);
	if (dpctl_open(ctl, false, &dp))
		return 1;
	r = vsn_dp_slb_set_state(dp, id, state);
	vsn_dp_close(dp);
	if (r == -ENOENT || r == -ERANGE)
		return dpctl_err(0, "slb %lu is not defined", id);
	if (r)
		return dpctl_err(r, "slb %lu", id);
	printf("slb %lu %s\n", id, vsn_slb_state_name(state));
	return 0;
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

/*
 * Keep next hops resolved until interrupted: re-resolve on every link, route
 * or neighbour change, and every WATCH_PERIOD_MS regardless.
 */
#define WATCH_PERIOD_MS 30000
#define WATCH_SETTLE_MS 100

static int watch(struct vsn_dp *dp)
{
	struct pollfd pfd = {.events = POLLIN};
	unsigned int changed;
	int r;

	pfd.fd = vsn_nexthop_events_open();
	if (pfd.fd < 0)
		return dpctl_err(pfd.fd, "netlink events");
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("watching links, routes and neighbours (Ctrl-C to stop)\n");
	fflush(stdout);
	while (!stop) {
		r = poll(&pfd, 1, WATCH_PERIOD_MS);
		if (r < 0 && errno != EINTR)
			break;
		if (r > 0) {
			/* Changes come in bursts: let one settle, then resolve once. */
			usleep(WATCH_SETTLE_MS * 1000);
			vsn_nexthop_events_drain(pfd.fd);
		}
		r = vsn_dp_slbs_refresh(dp, &changed);
		if (changed || r) {
			printf("%u slb entries changed%s%s\n", changed, r ? "; unresolved: " : "",
			       r ? strerror(-r) : "");
			fflush(stdout);
		}
	}
	close(pfd.fd);
	return 0;
}

int cmd_resolve(struct dpctl *ctl, int argc, char **argv)
{
	unsigned int changed = 0;
	bool keep = argc == 2 && !strcmp(argv[1], "--watch");
	struct vsn_dp *dp;
	int r;

	if (argc != 1 && !keep)
		return dpctl_err(0, "usage: resolve [--watch]");
	if (dpctl_open(ctl, false, &dp))
		return 1;
	r = vsn_dp_slbs_refresh(dp, &changed);
	printf("%u slb entries changed\n", changed);
	if (keep)
		r = watch(dp);
	else if (r)
		r = dpctl_err(r, "some next hops are still unresolved ('vsn-dpctl show')");
	vsn_dp_close(dp);
	return r;
}
