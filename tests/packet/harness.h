/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the packet tests share: a private network namespace (lo up, a veth
 * pair vt0/vt1 so an SLB can egress somewhere other than the ingress), a
 * forwarder loaded and pinned under a per-process directory on bpffs, and
 * running one frame through it with BPF_PROG_TEST_RUN and checking the
 * verdict, the whole output frame and the counters.
 *
 * Usage, in a test's main():
 *
 *	r = h_init();            // fork guard, netns, bpffs; 77 means skip
 *	if (r)
 *		return r;
 *	return cmocka_run_group_tests(tests, setup, teardown);
 *
 * with h_open() in the group setup and h_close() in the group teardown.
 */
#ifndef VSN_TEST_HARNESS_H
#define VSN_TEST_HARNESS_H

#include <stdbool.h>
#include <linux/types.h>

#include "vsn_dp.h"
#include "pkt.h"

/* Exit code a test binary returns when it lacks the privileges to run. */
#define H_SKIP 77

/* Counter ids (policy, service, SLB) that the checks watch: 0 .. H_MAX_IDS-1. */
#define H_MAX_IDS 16

/* Frames the tests send come from CLIENT_MAC to NODE_MAC. */
#define H_NODE_MAC                                 \
	{                                          \
		0x02, 0x00, 0x00, 0x00, 0x00, 0x01 \
	}
#define H_CLIENT_MAC                               \
	{                                          \
		0x02, 0x00, 0x00, 0x00, 0x00, 0x99 \
	}

struct h_env {
	struct vsn_dp *dp;
	int prog_fd;
	const char *pin_dir;
	__u32 lo_ifindex;  /* the ingress of every test frame */
	__u32 vt0_ifindex; /* another egress: XDP_REDIRECT */
};

/*
 * Once, first thing in main(), before any thread: fork, and in the parent
 * wait for the child and remove its pin directory however it ended (a crash
 * or a sanitizer abort skips cmocka's teardown); then enter a new network
 * namespace with lo up and vt0/vt1, and make sure bpffs is mounted. Pin
 * directories of test processes that no longer exist are removed.
 * Returns 0 in the child; H_SKIP without the privileges; another non-zero
 * exit code on failure. The parent never returns.
 */
int h_init(void);

/*
 * The pin directory for this process's decap program (vsn_decap_open() it
 * there, vsn_decap_unload() it when done): BPF_FS/vsn-ptest-decap-<pid>.
 * Like the forwarder's, the fork guard removes it however the test ended,
 * and h_init() sweeps those of test processes that no longer exist.
 */
const char *h_decap_pin_dir(void);

/* Load the forwarder under this process's pin directory. 0 or -errno. */
int h_open(struct h_env *env);
/* Close and unpin everything; safe on a half-opened or closed env. */
void h_close(struct h_env *env);

/* Define SLB id with a static next hop. 0 or the library's -errno. */
int h_slb_static(struct h_env *env, __u32 id, const char *addr, __u32 ifindex, const __u8 dmac[6],
		 const __u8 smac[6]);

/* Run one frame with ingress lo; *out gets the frame as the program left it. 0 or -errno. */
int h_run(const struct h_env *env, const struct pkt *in, struct pkt *out, __u32 *ret_action);

struct h_counters {
	struct vsn_counter reason[VSN_REASON_MAX];
	struct vsn_counter policy[H_MAX_IDS];
	struct vsn_counter service[H_MAX_IDS];
	struct vsn_counter slb[H_MAX_IDS];
};

/* Read every watched counter; 0 or -errno. */
int h_counters_read(const struct h_env *env, struct h_counters *ret);

struct h_expect {
	__u32 action; /* XDP_* */
	enum vsn_reason reason;
	const struct pkt *out; /* the whole expected output frame */
	const struct pkt *alt; /* another acceptable output frame, or NULL */
	/* Forwarded (reason fwd_*): the counters that must move by one frame. */
	__u32 policy_id;
	__u32 service_id;
	__u32 slb_id;
};

/*
 * Run in, then check: the action, the output frame byte for byte,
 * the expected reason counter up by one frame (packets 1, bytes in->len) and
 * every other reason unchanged; for a forwarded frame, the policy, service
 * and SLB counters up by one frame, all other watched ones unchanged; for
 * any other verdict, none of them changed. name labels failure messages.
 * h_verify prints each mismatch and returns their number; h_check fails the
 * running cmocka test on any.
 */
int h_verify(const struct h_env *env, const char *name, const struct pkt *in,
	     const struct h_expect *e);
void h_check(const struct h_env *env, const char *name, const struct pkt *in,
	     const struct h_expect *e);

/* The XDP action's name, for messages. */
const char *h_action_name(__u32 action);

#endif /* VSN_TEST_HARNESS_H */
