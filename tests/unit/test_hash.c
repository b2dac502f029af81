/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/types.h>
#include <cmocka.h>

#include "vsn/hash.h"

/*
 * The kernel's jhash2() (include/linux/jhash.h), transcribed as a plain loop
 * over the words, to check that the unrolled vsn_flow_hash is exactly it.
 */
static __u32 ref_jhash2(const __u32 *k, __u32 length, __u32 initval)
{
	__u32 a, b, c;

	a = b = c = VSN_JHASH_INITVAL + (length << 2) + initval;
	while (length > 3) {
		a += k[0];
		b += k[1];
		c += k[2];
		vsn_jhash_mix(a, b, c);
		length -= 3;
		k += 3;
	}
	switch (length) {
	case 3:
		c += k[2];
		/* fall through */
	case 2:
		b += k[1];
		/* fall through */
	case 1:
		a += k[0];
		vsn_jhash_final(a, b, c);
		break;
	}
	return c;
}

static __u32 words_hash(const __u32 w[10], __u32 seed)
{
	return vsn_flow_hash(w, w + 4, w[8], (__u8)w[9], seed);
}

static __u32 xorshift(__u32 *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/*
 * Known answers, computed once and pinned: a change here changes which SLB
 * every flow goes to, and nodes of different versions would disagree. They
 * were checked against an independent implementation of lookup3's hashword()
 * (the same function as jhash2) whose mix and final reproduce Jenkins'
 * published hashlittle() values (0x17770551 for "Four score and seven years
 * ago").
 */
static const struct {
	__u32 src[4], dst[4], ports;
	__u8 proto;
	__u32 seed, hash;
} kat[] = {
	{{0, 0, 0, 0}, {0, 0, 0, 0}, 0, 0, 0, 0xc0fed4b2},
	/* As loaded on a little-endian host: 192.0.2.1:12345 -> 198.51.100.10:80, TCP. */
	{{0, 0, 0xffff0000, 0x010200c0},
	 {0, 0, 0xffff0000, 0x0a6433c6},
	 0x39305000,
	 6,
	 0x12345678,
	 0xdd634685},
	/* Likewise: [2001:db8::1]:5353 -> [2001:db8::10]:53, UDP. */
	{{0xb80d0120, 0, 0, 0x01000000},
	 {0xb80d0120, 0, 0, 0x10000000},
	 0xe9143500,
	 17,
	 0xdeadbeef,
	 0x92145972},
	{{~0U, ~0U, ~0U, ~0U}, {~0U, ~0U, ~0U, ~0U}, ~0U, 255, ~0U, 0xa3f4f040},
	{{1, 2, 3, 4}, {5, 6, 7, 8}, 9, 10, 42, 0xc29a6a93},
};

static void flow_hash_known_answers(void **state)
{
	for (size_t i = 0; i < sizeof(kat) / sizeof(kat[0]); i++) {
		assert_int_equal(vsn_flow_hash(kat[i].src, kat[i].dst, kat[i].ports, kat[i].proto,
					       kat[i].seed),
				 kat[i].hash);
	}
}

static void jhash_words_known_answers(void **state)
{
	assert_int_equal(vsn_jhash_2words(1, 0, 0), 0x5543253f);
	assert_int_equal(vsn_jhash_2words(1, 1, 0), 0x70562bcf);
	assert_int_equal(vsn_jhash_2words(0xdeadbeef, 0, 7), 0x75a161b0);
	assert_int_equal(vsn_jhash_3words(1, 2, 3, 0), 0xa46158f5);
}

static void flow_hash_is_jhash2_of_ten_words(void **state)
{
	__u32 s = 1, w[10];

	for (int n = 0; n < 1000; n++) {
		__u32 seed = xorshift(&s);

		for (int i = 0; i < 10; i++)
			w[i] = xorshift(&s);
		w[9] &= 0xff; /* proto */
		assert_int_equal(words_hash(w, seed), ref_jhash2(w, 10, seed));
	}
}

static void v4_helper_is_the_v4_mapped_form(void **state)
{
	static const __u8 mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1};
	__u32 src[4], dst[4] = {0, 0, VSN_V4MAPPED_WORD2, 0};
	__be32 saddr = inet_addr("192.0.2.1"), daddr = inet_addr("198.51.100.10");
	__u32 ports = vsn_flow_ports(htons(12345), htons(80));

	/* The words as a forwarder loads them from a v4-mapped key. */
	memcpy(src, mapped, sizeof(src));
	assert_int_equal(src[2], VSN_V4MAPPED_WORD2);
	assert_int_equal(src[3], saddr);
	dst[3] = daddr;
	assert_int_equal(vsn_flow_hash_v4(saddr, daddr, ports, 6, 7),
			 vsn_flow_hash(src, dst, ports, 6, 7));
}

static void ports_word_is_the_raw_header_fields(void **state)
{
	/* A TCP header starts: source port, destination port, network order. */
	static const __u8 th[4] = {0x30, 0x39, 0x00, 0x50}; /* 12345 -> 80 */
	__be16 sport, dport;

	memcpy(&sport, th, 2);
	memcpy(&dport, th + 2, 2);
	assert_int_equal(vsn_flow_ports(sport, dport), ((__u32)htons(12345) << 16) | htons(80));
	assert_int_equal(vsn_flow_ports(0, 0), 0);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	/* The example the header gives. */
	assert_int_equal(vsn_flow_ports(htons(1), htons(80)), 0x01005000);
	assert_int_equal(vsn_flow_ports(sport, dport), 0x39305000);
#endif
}

static void every_input_bit_matters(void **state)
{
	__u32 w[10] = {0,	   0, VSN_V4MAPPED_WORD2, 0x010200c0,
		       0,	   0, VSN_V4MAPPED_WORD2, 0x0a6433c6,
		       0x39305000, 6};
	__u32 base = words_hash(w, 99);
	unsigned int flipped = 0, n = 0;

	for (int i = 0; i < 10; i++) {
		for (int bit = 0; bit < (i == 9 ? 8 : 32); bit++) {
			__u32 h;

			w[i] ^= 1U << bit;
			h = words_hash(w, 99);
			w[i] ^= 1U << bit;
			assert_int_not_equal(h, base);
			flipped += __builtin_popcount(h ^ base);
			n++;
		}
	}
	/* Avalanche: about half of the 32 output bits change, on average. */
	assert_true(flipped > 14 * n && flipped < 18 * n);
	for (int bit = 0; bit < 32; bit++)
		assert_int_not_equal(words_hash(w, 99 ^ (1U << bit)), base);
}

static void different_flows_differ(void **state)
{
	__be32 a = inet_addr("192.0.2.1"), b = inet_addr("192.0.2.2");
	__be32 vip = inet_addr("198.51.100.10");
	__u32 ports = vsn_flow_ports(htons(40000), htons(443));
	/* ::192.0.2.1, the deprecated v4-compatible form: not the same address. */
	__u32 compat[4] = {0, 0, 0, a}, mapped[4] = {0, 0, VSN_V4MAPPED_WORD2, a};
	__u32 dst[4] = {0, 0, VSN_V4MAPPED_WORD2, vip};
	__u32 h = vsn_flow_hash_v4(a, vip, ports, 6, 1);

	assert_int_equal(vsn_flow_hash(mapped, dst, ports, 6, 1), h);
	assert_int_not_equal(vsn_flow_hash(compat, dst, ports, 6, 1), h);
	assert_int_not_equal(vsn_flow_hash_v4(b, vip, ports, 6, 1), h);
	assert_int_not_equal(vsn_flow_hash_v4(a, vip, ports, 17, 1), h);
	assert_int_not_equal(vsn_flow_hash_v4(a, vip, ports, 6, 2), h);
	/* Not symmetric: the reply direction hashes differently. */
	assert_int_not_equal(
		vsn_flow_hash_v4(vip, a, vsn_flow_ports(htons(443), htons(40000)), 6, 1), h);
	/* Nor are the ports. */
	assert_int_not_equal(
		vsn_flow_hash_v4(a, vip, vsn_flow_ports(htons(443), htons(40000)), 6, 1), h);
}

/* One client, one VIP, every source port: the slots come out even. */
static void source_ports_spread_over_slots(void **state)
{
	enum { SLOTS = 251 };
	__be32 client = inet_addr("203.0.113.7"), vip = inet_addr("198.51.100.10");
	unsigned int count[SLOTS] = {0};
	double expect = 65536.0 / SLOTS, chi2 = 0;

	for (__u32 port = 0; port < 65536; port++) {
		__u32 h = vsn_flow_hash_v4(client, vip, vsn_flow_ports(htons(port), htons(443)), 6,
					   0x5eed);

		count[vsn_maglev_slot(h, SLOTS)]++;
	}
	for (int i = 0; i < SLOTS; i++)
		chi2 += (count[i] - expect) * (count[i] - expect) / expect;
	/* 250 degrees of freedom: mean 250, standard deviation 22.4. */
	assert_true(chi2 < 350);
}

static void slot_is_the_remainder(void **state)
{
	assert_int_equal(vsn_maglev_slot(0, 65537), 0);
	assert_int_equal(vsn_maglev_slot(65537, 65537), 0);
	assert_int_equal(vsn_maglev_slot(65538, 65537), 1);
	assert_int_equal(vsn_maglev_slot(0xffffffff, 65537), 0xffffffffU % 65537);
	assert_int_equal(vsn_maglev_slot(0xffffffff, 13), 0xffffffffU % 13);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(flow_hash_known_answers),
		cmocka_unit_test(jhash_words_known_answers),
		cmocka_unit_test(flow_hash_is_jhash2_of_ten_words),
		cmocka_unit_test(v4_helper_is_the_v4_mapped_form),
		cmocka_unit_test(ports_word_is_the_raw_header_fields),
		cmocka_unit_test(every_input_bit_matters),
		cmocka_unit_test(different_flows_differ),
		cmocka_unit_test(source_ports_spread_over_slots),
		cmocka_unit_test(slot_is_the_remainder),
	};

	return cmocka_run_group_tests_name("hash", tests, NULL, NULL);
}
