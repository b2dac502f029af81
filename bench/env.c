/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where the benchmark runs: its own network namespace (so ifindex 1 is a
 * private lo and nothing touches the host's interfaces; a veth pair there
 * leads to the ipip SLBs), a bpffs, one CPU, and a fresh forwarder pinned
 * under a directory of its own; for the decap case, a fresh decap program
 * pinned under another.
 */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <arpa/inet.h>

#include "bench.h"
#include "testenv.h"

#define BPF_FS_DIR TESTENV_BPF_FS

volatile sig_atomic_t bench_stop;

const __u8 bench_slb_dmac[6] = {0x02, 0x00, 0x00, 0x00, 0x0a, 0x01};
const __u8 bench_slb_smac[6] = {0x02, 0x00, 0x00, 0x00, 0x0a, 0x02};
const __u8 bench_client_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x01, 0x01};
const __u8 bench_node_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x01, 0x02};
const __u8 bench_ipip_dmac[6] = {0x02, 0x00, 0x00, 0x00, 0x0b, 0x01};
const __u8 bench_ipip_smac[6] = {0x02, 0x00, 0x00, 0x00, 0x0b, 0x02};
const __u8 bench_pool_dmac[6] = {0x02, 0x00, 0x00, 0x00, 0x0c, 0x00};

#define STR(x) #x
#define XSTR(x) STR(x)

/* BENCH_IPIP_IF and the SLB host behind it (its MACs are the ones above). */
static const char ipip_if_setup[] = "ip link add name " BENCH_IPIP_IF " mtu " XSTR(
	BENCH_IPIP_MTU) " address 02:00:00:00:0b:02 type veth peer name " BENCH_IPIP_PEER
			" mtu " XSTR(BENCH_IPIP_MTU) " && "
						     "ip link set dev " BENCH_IPIP_IF
						     " up && ip link set dev " BENCH_IPIP_PEER
						     " up && "
						     "ip addr add " BENCH_UNDERLAY4
						     "/24 dev " BENCH_IPIP_IF " && "
						     "ip -6 addr add " BENCH_UNDERLAY6
						     "/64 dev " BENCH_IPIP_IF " nodad && "
						     "ip neigh add " BENCH_SLB_IPIP4_ADDR
						     " lladdr 02:00:00:00:0b:01 dev " BENCH_IPIP_IF
						     " nud permanent && "
						     "ip -6 neigh add " BENCH_SLB_IPIP6_ADDR
						     " lladdr 02:00:00:00:0b:01 dev " BENCH_IPIP_IF
						     " nud permanent";

int bench_err(int r, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vsn-bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (r)
		fprintf(stderr, ": %s", strerror(-r));
	fprintf(stderr, "\n");
	return r ? r : -EINVAL;
}

void bench_progress(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vsn-bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
}

static void on_signal(int sig)
{
	bench_stop = 1;
}

static int cpu_pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

/*
 * Stop cleanly on SIGINT/SIGTERM: a test run in progress returns -EINTR,
 * and the caller's cleanup unloads the forwarder.
 */
int bench_env_setup(const struct bench_cfg *cfg)
{
	struct sigaction sa = {.sa_handler = on_signal};
	int r;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* A reader that goes away (`| head`) must not leave the forwarder pinned. */
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (unshare(CLONE_NEWNET))
		return bench_err(-errno, "cannot make a network namespace (needs root)");
	r = testenv_link_up("lo");
	if (r)
		return bench_err(r, "cannot bring lo up in the namespace");
	if (system(ipip_if_setup))
		return bench_err(0, "cannot set up %s, the ipip SLBs' interface (needs ip(8))",
				 BENCH_IPIP_IF);
	r = testenv_bpffs_ensure(BPF_FS_DIR);
	if (r > 0)
		bench_progress("mounted a bpffs at %s", BPF_FS_DIR);
	r = r < 0 ? r : 0;
	if (r)
		return bench_err(r, "cannot mount a bpffs at %s", BPF_FS_DIR);
	r = cpu_pin(cfg->cpu);
	if (r)
		return bench_err(r, "cannot pin to CPU %d", cfg->cpu);
	return 0;
}

static int slb_define(struct vsn_dp *dp, __u32 id)
{
	struct vsn_dp_slb slb = {
		.id = id,
		.forward = VSN_FORWARD_L2,
		.state = VSN_SLB_UP,
		.nexthop_static = true,
		.ifindex = BENCH_IFINDEX_LO,
	};
	int r;

	r = vsn_addr_parse(id == BENCH_SLB_A ? "192.0.2.101" : "192.0.2.102", &slb.addr);
	if (r)
		return r;
	memcpy(slb.dmac, bench_slb_dmac, 6);
	memcpy(slb.smac, bench_slb_smac, 6);
	slb.dmac[5] += id - 1;
	return vsn_dp_slb_set(dp, &slb);
}

/* The pool's members: l2 SLBs like BENCH_SLB_A, 198.51.100.1 upward. */
static int pool_define(struct vsn_dp *dp)
{
	for (int k = 0; k < BENCH_POOL_MEMBERS; k++) {
		struct vsn_dp_slb slb = {
			.id = BENCH_POOL_SLB0 + k,
			.addr.family = AF_INET,
			.forward = VSN_FORWARD_L2,
			.state = VSN_SLB_UP,
			.nexthop_static = true,
			.ifindex = BENCH_IFINDEX_LO,
		};
		__u32 a = htonl(0xc6336401u + k); /* 198.51.100.1 + k */
		int r;

		memcpy(slb.addr.bytes, &a, 4);
		memcpy(slb.dmac, bench_pool_dmac, 6);
		memcpy(slb.smac, bench_slb_smac, 6);
		slb.dmac[5] += k;
		r = vsn_dp_slb_set(dp, &slb);
		if (r)
			return bench_err(r, "cannot define the pool's SLB %u", slb.id);
	}
	return 0;
}

/*
 * An ipip (or gue) SLB, resolved like an operator's (route and neighbour of
 * the namespace), so that its entry carries BENCH_IPIP_IF's MTU.
 */
static int slb_ipip_define(struct bench_env *env, __u32 id, enum vsn_forward forward,
			   const char *addr)
{
	struct vsn_dp_slb slb = {.id = id, .forward = forward, .state = VSN_SLB_UP};
	struct vsn_slb e;
	int r;

	r = vsn_addr_parse(addr, &slb.addr);
	if (!r)
		r = vsn_dp_slb_set(env->dp, &slb);
	if (!r)
		r = vsn_dp_slb_get(env->dp, id, &e);
	if (r)
		return bench_err(r, "cannot define the ipip SLB %u (%s)", id, addr);
	if (e.ifindex != env->ipip_ifindex || e.mtu != BENCH_IPIP_MTU ||
	    memcmp(e.dmac, bench_ipip_dmac, 6) || memcmp(e.smac, bench_ipip_smac, 6))
		return bench_err(0, "ipip SLB %u resolved to ifindex %u, mtu %u: not %s, mtu %d",
				 id, e.ifindex, e.mtu, BENCH_IPIP_IF, BENCH_IPIP_MTU);
	return 0;
}

static int ipip_define(struct bench_env *env)
{
	struct vsn_addr u4, u6;
	int r;

	env->ipip_ifindex = if_nametoindex(BENCH_IPIP_IF);
	if (!env->ipip_ifindex)
		return bench_err(-errno, "no %s", BENCH_IPIP_IF);
	r = slb_ipip_define(env, BENCH_SLB_IPIP4, VSN_FORWARD_IPIP, BENCH_SLB_IPIP4_ADDR);
	if (!r)
		r = slb_ipip_define(env, BENCH_SLB_IPIP6, VSN_FORWARD_IPIP, BENCH_SLB_IPIP6_ADDR);
	if (!r)
		r = slb_ipip_define(env, BENCH_SLB_GUE4, VSN_FORWARD_GUE, BENCH_SLB_IPIP4_ADDR);
	if (!r)
		r = slb_ipip_define(env, BENCH_SLB_GUE6, VSN_FORWARD_GUE, BENCH_SLB_IPIP6_ADDR);
	if (r)
		return r;
	r = vsn_addr_parse(BENCH_UNDERLAY4, &u4);
	if (!r)
		r = vsn_addr_parse(BENCH_UNDERLAY6, &u6);
	if (!r)
		r = vsn_dp_underlay_set(env->dp, &u4, &u6);
	return r ? bench_err(r, "cannot set the underlay addresses") : 0;
}

/*
 * Load a fresh forwarder able to hold max_policies policies and
 * BENCH_MAX_FLOWS flows, with no bound on new flows per second: the
 * default bound (max_flows / 8 per second) would stop remembering the new
 * flows of pool_syn and of the spreads within a fraction of a run.
 */
int bench_env_load(struct bench_env *env, __u32 max_policies)
{
	struct vsn_dp_opts o = {.sz = sizeof(o), .create = true};
	int r;

	memset(env, 0, sizeof(*env));
	snprintf(env->pin_dir, sizeof(env->pin_dir), BPF_FS_DIR "/vsn-bench-%d", (int)getpid());
	o.pin_dir = env->pin_dir;
	o.max_policies = max_policies;
	o.max_flows = BENCH_MAX_FLOWS;
	/* Leftovers of a process that had our pid: start from nothing. */
	vsn_dp_unload(env->pin_dir);
	r = vsn_dp_open(&o, &env->dp);
	if (r)
		return bench_err(r, "cannot load the forwarder under %s", env->pin_dir);
	r = vsn_dp_flow_limit_set(env->dp, 0);
	if (r)
		return bench_err(r, "cannot remove the bound on new flows");
	r = slb_define(env->dp, BENCH_SLB_A);
	if (!r)
		r = slb_define(env->dp, BENCH_SLB_B);
	if (r)
		return bench_err(r, "cannot define the benchmark's SLBs");
	r = pool_define(env->dp);
	return r ? r : ipip_define(env);
}

/*
 * The SLB side's decap program, loaded fresh under a directory of its own
 * (bench_env_unload removes it), and the node address the ipip cases send
 * from (bench_pkt_encap's outer source) allowed.
 */
int bench_decap_load(struct bench_env *env)
{
	struct vsn_addr node;
	int r;

	if (env->decap)
		return 0;
	snprintf(env->decap_pin_dir, sizeof(env->decap_pin_dir), BPF_FS_DIR "/vsn-bench-decap-%d",
		 (int)getpid());
	/* Leftovers of a process that had our pid: start from nothing. */
	vsn_decap_unload(env->decap_pin_dir);
	r = vsn_decap_open(env->decap_pin_dir, true, &env->decap);
	if (r)
		return bench_err(r, "cannot load the decap program under %s", env->decap_pin_dir);
	r = vsn_addr_parse(BENCH_UNDERLAY4, &node);
	if (!r)
		r = vsn_decap_allow(env->decap, &node);
	return r ? bench_err(r, "cannot allow the node %s in the decap program", BENCH_UNDERLAY4)
		 : 0;
}

void bench_env_unload(struct bench_env *env)
{
	int r;

	if (env->decap) {
		vsn_decap_close(env->decap);
		env->decap = NULL;
	}
	if (env->decap_pin_dir[0]) {
		r = vsn_decap_unload(env->decap_pin_dir);
		if (r)
			bench_err(r, "cannot unload the decap program under %s",
				  env->decap_pin_dir);
		env->decap_pin_dir[0] = '\0';
	}
	if (env->dp) {
		vsn_dp_close(env->dp);
		env->dp = NULL;
	}
	if (!env->pin_dir[0])
		return;
	r = vsn_dp_unload(env->pin_dir);
	if (r)
		bench_err(r, "cannot unload the forwarder under %s", env->pin_dir);
	env->pin_dir[0] = '\0';
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Sorts v. */
double bench_median(double *v, int n)
{
	qsort(v, n, sizeof(*v), dbl_cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}
