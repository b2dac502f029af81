/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vsn-bench: the data-plane benchmark. Prints one JSON object per line on
 * stdout, progress on stderr. See docs/benchmarks.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

static const char *const kind_names[] = {"dataplane", "swap", "mem", "maglev"};

static void usage(FILE *f)
{
	fprintf(f, "Usage: vsn-bench [OPTIONS]\n\n"
		   "Benchmarks the vsn forwarder in a network namespace of its own, with a\n"
		   "fresh forwarder pinned under /sys/fs/bpf/vsn-bench-PID, and for the decap\n"
		   "cases the decap program under /sys/fs/bpf/vsn-bench-decap-PID (both\n"
		   "removed at exit).\n\n"
		   "  --bench LIST       dataplane,swap,mem,maglev (default: all four)\n"
		   "  --case LIST        data-plane cases (default: all):\n"
		   "                     ");
	for (int c = 0; c < CASE_MAX; c++)
		fprintf(f, "%s%s", bench_case_names[c], c + 1 < CASE_MAX ? "," : "\n");
	fprintf(f,
		"  --sizes LIST       policy counts of the data-plane cases\n"
		"                     (default: 1,1000,100000,1000000; decap cases run once)\n"
		"  --swap-sizes LIST  policy counts of swap and mem (default: "
		"1000,100000,1000000)\n"
		"  --runs N           timed runs per case and as many of its floor (default: 5)\n"
		"  --repeat N         packets per run (default: 1000000)\n"
		"  --swaps N          timed swaps per size (default: 5)\n"
		"  --cpu N            pin to CPU N, -1 not at all (default: the last CPU)\n"
		"  --quick            sizes 1,1000, swap sizes 1000, 3 runs of 100000, 3 swaps\n"
		"                     (options after it override)\n"
		"  -v, --verbose      every run's timing on stderr\n");
}

static int parse_u32(const char *s, __u32 min, __u32 max, __u32 *ret)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_sizes(char *s, __u32 *sizes, int *ret_n)
{
	int n = 0;

	for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
		if (n == BENCH_MAX_SIZES || parse_u32(tok, 1, 16u << 20, &sizes[n]))
			return -EINVAL;
		n++;
	}
	if (!n)
		return -EINVAL;
	*ret_n = n;
	return 0;
}

/* Bits of the names in s (comma-separated) among names[0..n). */
static int parse_names(char *s, const char *const *names, int n, unsigned int *ret)
{
	unsigned int bits = 0;

	for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
		int i;

		if (!strcmp(tok, "all")) {
			bits |= (1u << n) - 1;
			continue;
		}
		for (i = 0; i < n && strcmp(tok, names[i]); i++)
			;
		if (i == n)
			return -EINVAL;
		bits |= 1u << i;
	}
	if (!bits)
		return -EINVAL;
	*ret = bits;
	return 0;
}

static void quick(struct bench_cfg *cfg)
{
	cfg->sizes[0] = 1;
	cfg->sizes[1] = 1000;
	cfg->n_sizes = 2;
	cfg->swap_sizes[0] = 1000;
	cfg->n_swap_sizes = 1;
	cfg->runs = 3;
	cfg->repeat = 100000;
	cfg->swaps = 3;
}

static int parse_args(int argc, char **argv, struct bench_cfg *cfg)
{
	static const __u32 sizes[] = {1, 1000, 100000, 1000000};
	static const __u32 swap_sizes[] = {1000, 100000, 1000000};
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	__u32 v;

	*cfg = (struct bench_cfg){
		.benches = BENCH_DATAPLANE | BENCH_SWAP | BENCH_MEM | BENCH_MAGLEV,
		.cases = (1u << CASE_MAX) - 1,
		.n_sizes = 4,
		.n_swap_sizes = 3,
		.runs = 5,
		.repeat = 1000000,
		.swaps = 5,
		.cpu = ncpu > 1 ? (int)ncpu - 1 : -1,
	};
	memcpy(cfg->sizes, sizes, sizeof(sizes));
	memcpy(cfg->swap_sizes, swap_sizes, sizeof(swap_sizes));

	for (int i = 1; i < argc; i++) {
		const char *opt = argv[i];
		char *arg = i + 1 < argc ? argv[i + 1] : NULL;
		int r = 0;

		if (!strcmp(opt, "-h") || !strcmp(opt, "--help")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(opt, "-v") || !strcmp(opt, "--verbose")) {
			cfg->verbose = true;
			continue;
		} else if (!strcmp(opt, "--quick")) {
			quick(cfg);
			continue;
		}
		if (!arg) {
			fprintf(stderr, "vsn-bench: unknown option or missing value: '%s'\n\n",
				opt);
			usage(stderr);
			return -EINVAL;
		}
		if (!strcmp(opt, "--bench")) {
			r = parse_names(arg, kind_names, sizeof(kind_names) / sizeof(kind_names[0]),
					&cfg->benches);
		} else if (!strcmp(opt, "--case")) {
			r = parse_names(arg, bench_case_names, CASE_MAX, &cfg->cases);
		} else if (!strcmp(opt, "--sizes")) {
			r = parse_sizes(arg, cfg->sizes, &cfg->n_sizes);
		} else if (!strcmp(opt, "--swap-sizes")) {
			r = parse_sizes(arg, cfg->swap_sizes, &cfg->n_swap_sizes);
		} else if (!strcmp(opt, "--runs")) {
			r = parse_u32(arg, 1, BENCH_MAX_RUNS, &v);
			cfg->runs = r ? cfg->runs : (int)v;
		} else if (!strcmp(opt, "--repeat")) {
			r = parse_u32(arg, 1, 1u << 30, &cfg->repeat);
		} else if (!strcmp(opt, "--swaps")) {
			r = parse_u32(arg, 1, BENCH_MAX_RUNS, &v);
			cfg->swaps = r ? cfg->swaps : (int)v;
		} else if (!strcmp(opt, "--cpu")) {
			r = strcmp(arg, "-1") ? parse_u32(arg, 0, ncpu - 1, &v) : (v = -1, 0);
			cfg->cpu = r ? cfg->cpu : (int)v;
		} else {
			fprintf(stderr, "vsn-bench: unknown option '%s'\n\n", opt);
			usage(stderr);
			return -EINVAL;
		}
		if (r) {
			fprintf(stderr, "vsn-bench: bad value '%s' for %s\n", arg, opt);
			return -EINVAL;
		}
		i++;
	}
	return 0;
}

static __u32 max_size(const struct bench_cfg *cfg)
{
	/* The decap cases run no policy set. */
	bool sized = cfg->cases & ~(1u << CASE_DECAP | 1u << CASE_DECAP_GUE);
	__u32 m = 1;

	for (int i = 0; (cfg->benches & BENCH_DATAPLANE) && sized && i < cfg->n_sizes; i++)
		m = cfg->sizes[i] > m ? cfg->sizes[i] : m;
	for (int i = 0; (cfg->benches & (BENCH_SWAP | BENCH_MEM)) && i < cfg->n_swap_sizes; i++)
		m = cfg->swap_sizes[i] > m ? cfg->swap_sizes[i] : m;
	return m;
}

int main(int argc, char **argv)
{
	struct bench_env env = {0};
	struct bench_cfg cfg;
	int r;

	if (parse_args(argc, argv, &cfg))
		return 2;
	r = bench_env_setup(&cfg);
	if (r)
		return 1;
	/* Policy ids are counter indices below max_policies. */
	r = bench_env_load(&env, max_size(&cfg) + 16);
	if (!r && (cfg.benches & BENCH_DATAPLANE))
		r = bench_dataplane(&env, &cfg);
	if (!r && (cfg.benches & (BENCH_SWAP | BENCH_MEM)))
		r = bench_swap(&env, &cfg);
	if (!r && (cfg.benches & BENCH_MAGLEV))
		r = bench_maglev(&cfg);
	bench_env_unload(&env);
	if (r == -EINTR)
		bench_err(0, "interrupted");
	return r ? 1 : 0;
}
