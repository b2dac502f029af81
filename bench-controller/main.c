/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vsn-bench-controller: the controller's apply and push (docs/benchmarks.md, "controller").
 * Prints JSON lines on stdout, progress on stderr:
 *
 *   {"bench":"controller_apply","services":10000,"ms":M,"runs":R,...}
 *	POST /v1/apply of a document of 10,000 services (each its own VIP, tcp/80 and pool),
 *	changed each time, as the client sees it: the median of R
 *   {"bench":"controller_apply_unchanged",...}	the same document again
 *   {"bench":"push","nodes":100,"p50_ms":..,"p99_ms":..,"skew_p99_ms":..,"reps":50,...}
 *	from the apply request to the rollout's "rollout-committed" event, 100 real agents
 *   {"bench":"push_mem","nodes":100,...}	the agents' memory and the BPF maps'
 *
 * It runs the real build/vsnd and build/vsn-node (beside this program) in a private network
 * namespace, each agent detached with its forwarder under a pin directory of its own.
 *
 *   vsn-bench-controller [--bench apply,push] [--services N] [--runs R] [--nodes N]
 *	[--push-services N] [--reps N] [--poll-ms MS] [--pause-ms MS] [--connect-timeout S]
 *	[--vsnd PATH] [--agent PATH]
 */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "bench.h"

static const char usage[] =
	"usage: vsn-bench-controller [--bench apply,push] [--services N] [--runs R]\n"
	"         [--nodes N] [--push-services N] [--reps N] [--poll-ms MS] [--pause-ms MS]\n"
	"         [--connect-timeout S] [--vsnd PATH] [--agent PATH]\n";

static int num_arg(const char *s, long lo, long hi, long *ret)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (end == s || *end || v < lo || v > hi)
		return -1;
	*ret = v;
	return 0;
}

int main(int argc, char **argv)
{
	struct bc_apply_opts ao = {.services = 10000, .nodes = 4, .runs = 5};
	struct bc_push_opts po = {.nodes = 100,
				  .services = 20,
				  .reps = 50,
				  .poll_ms = 1,
				  .pause_ms = 500,
				  .connect_timeout_s = 300};
	bool do_apply = true, do_push = true;
	struct bc_env e = {0};
	char exe[PATH_MAX], *dir;
	const char *keep = getenv("VSN_BENCH_KEEP");
	ssize_t n;
	long v;
	int rc = 0;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	dir = dirname(exe);
	snprintf(e.vsnd_bin, sizeof(e.vsnd_bin), "%s/vsnd", dir);
	snprintf(e.agent_bin, sizeof(e.agent_bin), "%s/vsn-node", dir);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!val)
			goto bad;
		i++;
		if (!strcmp(a, "--bench")) {
			do_apply = strstr(val, "apply") != NULL;
			do_push = strstr(val, "push") != NULL;
			if (!do_apply && !do_push)
				goto bad;
		} else if (!strcmp(a, "--services") && !num_arg(val, 4, 1000000, &v)) {
			ao.services = (size_t)v;
		} else if (!strcmp(a, "--runs") && !num_arg(val, 1, 51, &v)) {
			ao.runs = (int)v;
		} else if (!strcmp(a, "--nodes") && !num_arg(val, 2, 1000, &v)) {
			po.nodes = (size_t)v;
		} else if (!strcmp(a, "--push-services") && !num_arg(val, 1, 250, &v)) {
			po.services = (size_t)v;
		} else if (!strcmp(a, "--reps") && !num_arg(val, 1, 1000, &v)) {
			po.reps = (int)v;
		} else if (!strcmp(a, "--poll-ms") && !num_arg(val, 0, 1000, &v)) {
			po.poll_ms = (double)v;
		} else if (!strcmp(a, "--pause-ms") && !num_arg(val, 0, 60000, &v)) {
			po.pause_ms = (double)v;
		} else if (!strcmp(a, "--connect-timeout") && !num_arg(val, 1, 3600, &v)) {
			po.connect_timeout_s = (int)v;
		} else if (!strcmp(a, "--vsnd")) {
			snprintf(e.vsnd_bin, sizeof(e.vsnd_bin), "%s", val);
		} else if (!strcmp(a, "--agent")) {
			snprintf(e.agent_bin, sizeof(e.agent_bin), "%s", val);
		} else {
			goto bad;
		}
	}
	if (access(e.vsnd_bin, X_OK) || access(e.agent_bin, X_OK)) {
		fprintf(stderr, "vsn-bench-controller: %s or %s is missing: make all\n", e.vsnd_bin,
			e.agent_bin);
		return 1;
	}
	e.keep = keep && !strcmp(keep, "1");
	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		return 1;
	if (bc_env_setup(&e)) {
		bc_env_cleanup(&e);
		curl_global_cleanup();
		return 1;
	}
	if (do_apply && !bc_stop)
		rc |= bc_bench_apply(&e, &ao);
	if (do_push && !bc_stop)
		rc |= bc_bench_push(&e, &po);
	if (bc_stop) {
		fprintf(stderr, "vsn-bench-controller: interrupted\n");
		rc = 1;
	}
	bc_env_cleanup(&e);
	curl_global_cleanup();
	return rc;
bad:
	fputs(usage, stderr);
	return 2;
}
