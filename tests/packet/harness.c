/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <cmocka.h>

#include "harness.h"
#include "testenv.h"
#include "vsn_decap.h"

#define BPF_FS TESTENV_BPF_FS

/* Set by h_init() before the fork, so the guarding parent knows them too. */
static char pin_dir[64];
static char decap_pin_dir[64];

/* Parent side of the fork guard: never returns. */
static void guard_parent(pid_t child)
{
	int st = 0;

	/* ^C reaches the child too; the parent must outlive it to clean up. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	while (waitpid(child, &st, 0) < 0 && errno == EINTR)
		;
	if (!access(pin_dir, F_OK)) {
		fprintf(stderr, "harness: removing %s left behind by the test\n", pin_dir);
		vsn_dp_unload(pin_dir);
	}
	if (!access(decap_pin_dir, F_OK)) {
		fprintf(stderr, "harness: removing %s left behind by the test\n", decap_pin_dir);
		vsn_decap_unload(decap_pin_dir);
	}
	if (WIFSIGNALED(st)) {
		fprintf(stderr, "harness: test killed by signal %d\n", WTERMSIG(st));
		exit(128 + WTERMSIG(st));
	}
	exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
}

/*
 * A SIGKILL to the whole process group (a timeout's --kill-after) takes the
 * guard with it. Remove what such runs left: pin directories named after a
 * process that no longer exists.
 */
static void sweep_stale(void)
{
	int n = testenv_sweep_stale("vsn-ptest-decap-", vsn_decap_unload) +
		testenv_sweep_stale("vsn-ptest-", vsn_dp_unload);

	if (n)
		fprintf(stderr, "harness: removed %d pin directories left by killed tests\n", n);
}

int h_init(void)
{
	pid_t child, guard = getpid();
	int r;

	snprintf(pin_dir, sizeof(pin_dir), BPF_FS "/vsn-ptest-%d", (int)guard);
	snprintf(decap_pin_dir, sizeof(decap_pin_dir), BPF_FS "/vsn-ptest-decap-%d", (int)guard);
	fflush(stdout);
	fflush(stderr);
	child = fork();
	if (child < 0) {
		perror("harness: fork");
		return 1;
	}
	if (child > 0)
		guard_parent(child);
	/* Nobody to clean up after a test whose guard is gone: stop with it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != guard)
		return 1;

	if (unshare(CLONE_NEWNET)) {
		if (errno == EPERM) {
			fprintf(stderr,
				"SKIP: packet tests need CAP_SYS_ADMIN and CAP_BPF (root)\n");
			return H_SKIP;
		}
		perror("harness: unshare(CLONE_NEWNET)");
		return 1;
	}
	r = testenv_link_up("lo");
	if (r) {
		fprintf(stderr, "harness: lo up: %s\n", strerror(-r));
		return 1;
	}
	if (system("ip link add name vt0 type veth peer name vt1 && ip link set dev vt0 up && "
		   "ip link set dev vt1 up")) {
		fprintf(stderr, "harness: cannot create the veth pair vt0/vt1\n");
		return 1;
	}
	r = testenv_bpffs_ensure(BPF_FS);
	r = r < 0 ? r : 0;
	if (r) {
		fprintf(stderr, "harness: mount bpffs on " BPF_FS ": %s\n", strerror(-r));
		return 1;
	}
	sweep_stale();
	return 0;
}

const char *h_decap_pin_dir(void)
{
	return decap_pin_dir;
}

int h_open(struct h_env *env)
{
	struct vsn_dp_opts o = {.sz = sizeof(o), .pin_dir = pin_dir, .create = true};
	int r;

	memset(env, 0, sizeof(*env));
	env->prog_fd = -1;
	env->pin_dir = pin_dir;
	env->lo_ifindex = if_nametoindex("lo");
	env->vt0_ifindex = if_nametoindex("vt0");
	if (!env->lo_ifindex || !env->vt0_ifindex)
		return -ENODEV;
	/* A previous run of this very pid cannot have left anything, but be sure. */
	vsn_dp_unload(pin_dir);
	r = vsn_dp_open(&o, &env->dp);
	if (r) {
		vsn_dp_unload(pin_dir);
		return r;
	}
	env->prog_fd = vsn_dp_prog_fd(env->dp);
	return 0;
}

void h_close(struct h_env *env)
{
	if (env->dp)
		vsn_dp_close(env->dp);
	env->dp = NULL;
	env->prog_fd = -1;
	vsn_dp_unload(pin_dir);
}

int h_slb_static(struct h_env *env, __u32 id, const char *addr, __u32 ifindex, const __u8 dmac[6],
		 const __u8 smac[6])
{
	struct vsn_dp_slb s = {
		.id = id,
		.forward = VSN_FORWARD_L2,
		.state = VSN_SLB_UP,
		.nexthop_static = true,
		.ifindex = ifindex,
	};
	int r;

	r = vsn_addr_parse(addr, &s.addr);
	if (r)
		return r;
	memcpy(s.dmac, dmac, 6);
	memcpy(s.smac, smac, 6);
	return vsn_dp_slb_set(env->dp, &s);
}

int h_run(const struct h_env *env, const struct pkt *in, struct pkt *out, __u32 *ret_action)
{
	/* data_end must equal the frame's length, or the kernel refuses the context. */
	struct xdp_md ctx = {.data_end = in->len, .ingress_ifindex = env->lo_ifindex};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in->data, .data_size_in = in->len,
		    .data_out = out->data, .data_size_out = sizeof(out->data), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);
	int r;

	r = bpf_prog_test_run_opts(env->prog_fd, &o);
	if (r)
		return r < 0 ? r : -EIO;
	out->len = o.data_size_out;
	*ret_action = o.retval;
	return 0;
}

int h_counters_read(const struct h_env *env, struct h_counters *ret)
{
	static const enum vsn_counter_kind kinds[] = {VSN_CNT_POLICY, VSN_CNT_SERVICE, VSN_CNT_SLB};
	struct vsn_counter *arrays[] = {ret->policy, ret->service, ret->slb};
	int r;

	for (__u32 i = 0; i < VSN_REASON_MAX; i++) {
		r = vsn_dp_counter_read(env->dp, VSN_CNT_REASON, i, &ret->reason[i]);
		if (r)
			return r;
	}
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		for (__u32 id = 0; id < H_MAX_IDS; id++) {
			r = vsn_dp_counter_read(env->dp, kinds[k], id, &arrays[k][id]);
			if (r)
				return r;
		}
	return 0;
}

const char *h_action_name(__u32 action)
{
	static const char *const names[] = {"XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX",
					    "XDP_REDIRECT"};

	return action < sizeof(names) / sizeof(names[0]) ? names[action] : "XDP_?";
}

/* Count the mismatches between one counter's delta and the expected delta. */
static int delta_check(const char *name, const char *what, __u32 id, const struct vsn_counter *b,
		       const struct vsn_counter *a, __u64 packets, __u64 bytes)
{
	__u64 dp = a->packets - b->packets, db = a->bytes - b->bytes;

	if (dp == packets && db == bytes)
		return 0;
	print_error("%s: counter %s %u moved by %llu packets / %llu bytes, expected %llu / %llu\n",
		    name, what, id, (unsigned long long)dp, (unsigned long long)db,
		    (unsigned long long)packets, (unsigned long long)bytes);
	return 1;
}

int h_verify(const struct h_env *env, const char *name, const struct pkt *in,
	     const struct h_expect *e)
{
	bool fwd = vsn_reason_is_forward(e->reason);
	struct h_counters before, after;
	static struct pkt out; /* big: not on the stack */
	__u32 action = ~0u;
	int bad = 0, r;

	r = h_counters_read(env, &before);
	if (!r) {
		memset(out.data, 0xee, sizeof(out.data));
		r = h_run(env, in, &out, &action);
	}
	if (!r)
		r = h_counters_read(env, &after);
	if (r) {
		print_error("%s: %s\n", name, strerror(-r));
		return 1;
	}

	if (action != e->action) {
		print_error("%s: action %s, expected %s\n", name, h_action_name(action),
			    h_action_name(e->action));
		bad++;
	}
	if ((out.len != e->out->len || memcmp(out.data, e->out->data, out.len)) &&
	    (!e->alt || out.len != e->alt->len || memcmp(out.data, e->alt->data, out.len))) {
		print_error("%s: output frame differs\n", name);
		pkt_hexdump(stderr, "  input", in->data, in->len, NULL, 0);
		pkt_hexdump(stderr, "  expected", e->out->data, e->out->len, NULL, 0);
		pkt_hexdump(stderr, "  got", out.data, out.len, e->out->data, e->out->len);
		bad++;
	}
	for (__u32 i = 0; i < VSN_REASON_MAX; i++)
		bad += delta_check(name, vsn_reason_name(i), i, &before.reason[i], &after.reason[i],
				   i == e->reason, i == e->reason ? in->len : 0);
	for (__u32 id = 0; id < H_MAX_IDS; id++) {
		bool p = fwd && id == e->policy_id, s = fwd && id == e->service_id,
		     l = fwd && id == e->slb_id;

		bad += delta_check(name, "policy", id, &before.policy[id], &after.policy[id], p,
				   p ? in->len : 0);
		bad += delta_check(name, "service", id, &before.service[id], &after.service[id], s,
				   s ? in->len : 0);
		bad += delta_check(name, "slb", id, &before.slb[id], &after.slb[id], l,
				   l ? in->len : 0);
	}
	if (bad)
		print_error("%s: %d mismatches (expected %s, %s)\n", name, bad,
			    h_action_name(e->action), vsn_reason_name(e->reason));
	return bad;
}

void h_check(const struct h_env *env, const char *name, const struct pkt *in,
	     const struct h_expect *e)
{
	if (h_verify(env, name, in, e))
		fail_msg("%s: see above", name);
}
