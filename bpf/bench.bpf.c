/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The data-plane benchmark's programs (bench/dataplane.c drives them through
 * BPF_PROG_TEST_RUN with repeat).
 *
 * With repeat, the kernel runs the program again and again on one buffer,
 * so each repetition would see what the previous one left: the forwarder
 * rewrites MACs, ipip and decap move the packet start. bench_wrap therefore
 * puts the original packet back first (and, for the spread cases, points it
 * at the next VIP or gives it the next source), then tail-calls slot 0 of
 * bench_target: the program
 * under test (the forwarder or the decap program), or bench_floor. Case
 * and floor go through the same wrapper, so the difference between them is
 * the cost of the program under test alone.
 *
 * Load-time knobs are const volatile: the verifier sees them as constants,
 * so it can check the copy's bounds against the packet, and it drops the
 * spread code when spread_n is 0. The copy costs about 3 ns with the tail
 * call (docs/benchmarks.md); the floor includes it.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define BENCH_MAX_PKT 128 /* bytes; bench/bench.h has the same limit */

/* The packet as it was before the first repetition, and its length. */
const volatile __u64 pkt_words[BENCH_MAX_PKT / 8] = {};
const volatile __u32 pkt_len = 0;

/*
 * Spread: before each repetition, write the IPv4 address
 * spread_base + idx (host order) at byte spread_off: the destination (the
 * VIP spreads) or the source (the flow spreads of the pool cases). idx
 * steps by spread_step modulo spread_n, so after t repetitions (floor and
 * case runs alike) it is t * spread_step mod spread_n. With
 * gcd(spread_step, spread_n) == 1 the sequence visits every one of the
 * spread_n addresses once per cycle; spread_step < spread_n <= 2^31, so
 * idx + spread_step never wraps. spread_n == 0: no rewrite.
 */
const volatile __u32 spread_n = 0;
const volatile __u32 spread_step = 0;
const volatile __u32 spread_base = 0;
const volatile __u32 spread_off = 0;

/*
 * The spread index, in .bss: one address load, and user space reads it
 * to check that every repetition stepped it once. One for all CPUs: a
 * test run that migrates (an unpinned process) continues the sequence,
 * so a flow spread never repeats a source.
 */
__u32 spread_idx = 0;

/* Slot 0: the program under test, set by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} bench_target SEC(".maps");

/* Copy the original packet over the buffer; 0, or -1 if it does not fit. */
static __always_inline int restore(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	const volatile __u8 *src = (const volatile __u8 *)pkt_words;
	__u32 len = pkt_len;
	__u32 words = len / 8;

	if (len > BENCH_MAX_PKT || data + len > end)
		return -1;
#pragma unroll
	for (__u32 i = 0; i < BENCH_MAX_PKT / 8; i++) {
		if (i < words)
			((__u64 *)data)[i] = pkt_words[i];
	}
#pragma unroll
	for (__u32 i = 0; i < 7; i++) {
		__u32 o = words * 8 + i;

		if (o < len)
			((__u8 *)data)[o] = src[o];
	}
	return 0;
}

static __always_inline int spread(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 i = spread_idx + spread_step;

	if (i >= spread_n)
		i -= spread_n;
	spread_idx = i;
	if (spread_off > BENCH_MAX_PKT - 4 || data + spread_off + 4 > end)
		return -1;
	*(__be32 *)(data + spread_off) = bpf_htonl(spread_base + i);
	return 0;
}

SEC("xdp")
int bench_wrap(struct xdp_md *ctx)
{
	/*
	 * The kernel does not reset the packet between repetitions: a program
	 * that moved its start (bpf_xdp_adjust_head: ipip's back over the outer
	 * header, grown > 0; decap's forward past it, grown < 0) leaves it
	 * moved. Put the start back where it was; the end never moves. Only
	 * ipip and decap runs take this branch (about 8.5 ns here, which their
	 * floor does not pay).
	 */
	int grown = (int)(ctx->data_end - ctx->data) - (int)pkt_len;

	if (grown && bpf_xdp_adjust_head(ctx, grown))
		return XDP_ABORTED;
	if (restore(ctx))
		return XDP_ABORTED;
	if (spread_n && spread(ctx))
		return XDP_ABORTED;
	bpf_tail_call(ctx, &bench_target, 0);
	/* Slot 0 empty, or the call refused: user space checks the verdict. */
	return XDP_ABORTED;
}

/* The floor: the least a forwarder does, swap the MACs and send it back. */
SEC("xdp")
int bench_floor(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u8 tmp[ETH_ALEN];

	if ((void *)(eth + 1) > end)
		return XDP_ABORTED;
	__builtin_memcpy(tmp, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, tmp, ETH_ALEN);
	return XDP_TX;
}
