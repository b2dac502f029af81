/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the SLB-side decap program's parser (bpf/decap.bpf.c),
 * run in the kernel through BPF_PROG_TEST_RUN. Whatever the frame: a frame
 * it decapsulated comes out shorter (IP-in-IP, decap_v4/_v6 moved: by an
 * outer header of 20 bytes or more; GUE, decap_gue_v4/_v6 moved (port 6080,
 * as loaded): by 32 or more), with the inner packet it carried; every other
 * frame comes out untouched, passed or dropped; nothing else is a verdict. Needs root; makes its
 * own network namespace and removes its pins at exit.
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
#include <bpf/bpf.h>

#include "testenv.h"
#include "vsn_decap.h"

#define MAX_FRAME 2048

static char pin_dir[64];
static struct vsn_decap *decap;
static unsigned long decapsulated, untouched;

static void cleanup(void)
{
	fprintf(stderr, "fuzz_decap: decapsulated %lu, untouched %lu\n", decapsulated, untouched);
	vsn_decap_close(decap);
	vsn_decap_unload(pin_dir);
}

static int setup(void)
{
	/* The outer sources of the seed corpus (tests/fuzz/corpus/decap). */
	static const char *const nodes[] = {"198.18.0.1", "2001:db8:ff::1"};
	struct vsn_addr a;
	int r;

	r = testenv_private("vsn-fuzzdecap-", vsn_decap_unload, pin_dir, sizeof(pin_dir));
	if (r)
		return r;
	r = vsn_decap_open(pin_dir, true, &decap);
	if (r)
		return r;
	atexit(cleanup);
	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		vsn_addr_parse(nodes[i], &a);
		r = vsn_decap_allow(decap, &a);
		if (r)
			return r;
	}
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int r = setup();

	if (r) {
		fprintf(stderr, "fuzz_decap: setup: %s (needs root)\n", strerror(-r));
		exit(1);
	}
	return 0;
}

/* Frames decapsulated so far: IP-in-IP ones, and GUE ones in the high half. */
static __u64 decap_count(void)
{
	struct vsn_counter c[4] = {0};

	if (vsn_decap_counter_read(decap, VSN_DECAP_OK_V4, &c[0]) ||
	    vsn_decap_counter_read(decap, VSN_DECAP_OK_V6, &c[1]) ||
	    vsn_decap_counter_read(decap, VSN_DECAP_OK_GUE_V4, &c[2]) ||
	    vsn_decap_counter_read(decap, VSN_DECAP_OK_GUE_V6, &c[3]))
		abort();
	return c[0].packets + c[1].packets + ((c[2].packets + c[3].packets) << 32);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static __u8 out[MAX_FRAME + 256];
	struct xdp_md ctx;
	__u64 before, after;
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
	before = decap_count();
	if (bpf_prog_test_run_opts(vsn_decap_prog_fd(decap), &o))
		abort();
	after = decap_count();
	if (after != before) {
		/*
		 * Decapsulated, once: shorter by the outer headers, the MACs kept, the
		 * inner packet whole.
		 */
		__u32 outer = after - before == 1ull << 32 ? 20 + 12 : 20;

		if ((after - before != 1 && after - before != 1ull << 32) || o.retval != XDP_PASS ||
		    o.data_size_out + outer > size || memcmp(out, data, 12) ||
		    memcmp(out + o.data_size_out - 8, data + size - 8, 8))
			abort();
		decapsulated++;
		return 0;
	}
	if ((o.retval != XDP_PASS && o.retval != XDP_DROP) || o.data_size_out != size ||
	    memcmp(out, data, size))
		abort();
	untouched++;
	return 0;
}
