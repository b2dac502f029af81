/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the forwarder's packet parser (bpf/parse.h), run in
 * the kernel through BPF_PROG_TEST_RUN. Whatever the frame, the verdict is
 * one the forwarder may give and the frame obeys it: passed and dropped
 * frames leave untouched, forwarded ones differ only in their two MACs, which
 * are the SLB's. Needs root (a network namespace and BPF); the process makes
 * its own namespace and removes its pinned forwarder at exit.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf.h>

#include "testenv.h"
#include "vsn_dp.h"

#define MAX_FRAME 2048

static const __u8 slb_dmac[6] = {0x02, 0, 0, 0, 0x0a, 0x01};
static const __u8 slb_smac[6] = {0x02, 0, 0, 0, 0x0a, 0x02};
static char pin_dir[64];
static struct vsn_dp *dp;
static unsigned long verdicts[XDP_REDIRECT + 1];

static void cleanup(void)
{
	/* Shows the run reached every verdict, not only the kernel's refusals. */
	fprintf(stderr, "fuzz_forwarder: pass %lu, drop %lu, tx %lu\n", verdicts[XDP_PASS],
		verdicts[XDP_DROP], verdicts[XDP_TX]);
	vsn_dp_close(dp);
	vsn_dp_unload(pin_dir);
}

static void policy(struct vsn_dp_policy *p, const char *vip, __u8 proto, __u16 port, __u32 id)
{
	memset(p, 0, sizeof(*p));
	vsn_addr_parse(vip, &p->vip);
	p->proto = proto;
	p->port = port;
	p->slb_id = 1;
	p->service_id = 1;
	p->policy_id = id;
}

static int setup(void)
{
	struct vsn_dp_opts o = {.sz = sizeof(o), .pin_dir = pin_dir, .create = true};
	struct vsn_dp_slb slb = {.id = 1, .nexthop_static = true, .ifindex = 1};
	struct vsn_dp_policy pol[4];
	struct vsn_dp_set set = {.generation = 1, .n_policies = 4, .policies = pol};
	int r;

	r = testenv_private("vsn-fuzz-", vsn_dp_unload, pin_dir, sizeof(pin_dir));
	if (r)
		return r;
	r = vsn_dp_open(&o, &dp);
	if (r)
		return r;
	atexit(cleanup);
	vsn_addr_parse("10.0.0.1", &slb.addr);
	memcpy(slb.dmac, slb_dmac, 6);
	memcpy(slb.smac, slb_smac, 6);
	r = vsn_dp_slb_set(dp, &slb);
	if (r)
		return r;
	/* The VIPs the seed corpus addresses (tests/fuzz/corpus/forwarder). */
	policy(&pol[0], "192.0.2.10", IPPROTO_TCP, 80, 1);
	policy(&pol[1], "192.0.2.10", IPPROTO_UDP, 0, 2);
	policy(&pol[2], "2001:db8::10", IPPROTO_TCP, 443, 3);
	policy(&pol[3], "2001:db8::10", IPPROTO_UDP, 0, 4);
	return vsn_dp_set_apply(dp, &set, NULL);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int r = setup();

	if (r) {
		fprintf(stderr, "fuzz_forwarder: setup: %s (needs root)\n", strerror(-r));
		exit(1);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static __u8 out[MAX_FRAME + 256];
	struct xdp_md ctx;
	LIBBPF_OPTS(bpf_test_run_opts, o);

	/* The kernel refuses frames shorter than an Ethernet header. */
	if (size < 14 || size > MAX_FRAME)
		return 0;
	ctx = (struct xdp_md){.data_end = size, .ingress_ifindex = 1};
	o.data_in = data;
	o.data_size_in = size;
	o.data_out = out;
	o.data_size_out = sizeof(out);
	o.ctx_in = &ctx;
	o.ctx_size_in = sizeof(ctx);
	if (bpf_prog_test_run_opts(vsn_dp_prog_fd(dp), &o))
		abort();
	if (o.data_size_out != size)
		abort();
	if (o.retval <= XDP_REDIRECT)
		verdicts[o.retval]++;
	switch (o.retval) {
	case XDP_PASS:
	case XDP_DROP:
		if (memcmp(out, data, size))
			abort();
		break;
	case XDP_TX:
		if (memcmp(out, slb_dmac, 6) || memcmp(out + 6, slb_smac, 6) ||
		    memcmp(out + 12, data + 12, size - 12))
			abort();
		break;
	default:
		abort();
	}
	return 0;
}
