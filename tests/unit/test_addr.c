/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "addr.h"

static void parses_both_families(void **state)
{
	struct vsn_addr a;
	char buf[VSN_ADDR_STRLEN];

	assert_int_equal(vsn_addr_parse("192.0.2.10", &a), 0);
	assert_int_equal(a.family, AF_INET);
	assert_memory_equal(a.bytes, "\xc0\x00\x02\x0a", 4);
	assert_string_equal(vsn_addr_format(&a, buf, sizeof(buf)), "192.0.2.10");
	assert_int_equal(vsn_addr_parse("2001:db8::10", &a), 0);
	assert_int_equal(a.family, AF_INET6);
	assert_string_equal(vsn_addr_format(&a, buf, sizeof(buf)), "2001:db8::10");
}

static void refuses_what_is_no_address(void **state)
{
	const char *bad[] = {"",
			     "192.0.2",
			     "192.0.2.256",
			     "192.0.2.1/24",
			     "example.com",
			     "2001:db8::1::2",
			     " 192.0.2.1",
			     NULL};
	struct vsn_addr a = {.family = 99};

	for (int i = 0; bad[i]; i++)
		assert_int_equal(vsn_addr_parse(bad[i], &a), -22);
	assert_int_equal(vsn_addr_parse(NULL, &a), -22);
	assert_int_equal(a.family, 99); /* untouched on failure */
}

static void v4_maps_into_v6_key_and_back(void **state)
{
	static const __u8 want[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 10};
	struct vsn_addr a, b;
	__u8 key[16];

	vsn_addr_parse("192.0.2.10", &a);
	vsn_addr_to_key(&a, key);
	assert_memory_equal(key, want, 16);
	vsn_addr_from_key(key, &b);
	assert_true(vsn_addr_equal(&a, &b));

	vsn_addr_parse("2001:db8::10", &a);
	vsn_addr_to_key(&a, key);
	assert_memory_equal(key, a.bytes, 16);
	vsn_addr_from_key(key, &b);
	assert_int_equal(b.family, AF_INET6);
	assert_true(vsn_addr_equal(&a, &b));
	vsn_addr_parse("192.0.2.10", &b);
	assert_false(vsn_addr_equal(&a, &b));
}

static void parses_prefixes(void **state)
{
	struct vsn_addr a;
	unsigned int plen;

	assert_int_equal(vsn_prefix_parse("10.1.0.0/16", &a, &plen), 0);
	assert_int_equal(a.family, AF_INET);
	assert_int_equal(plen, 16);
	assert_int_equal(a.bytes[0], 10);
	assert_int_equal(a.bytes[1], 1);
	assert_int_equal(vsn_prefix_parse("2001:db8::/32", &a, &plen), 0);
	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(plen, 32);
	assert_int_equal(vsn_prefix_parse("192.0.2.7", &a, &plen), 0);
	assert_int_equal(plen, 32);
	assert_int_equal(vsn_prefix_parse("2001:db8::1", &a, &plen), 0);
	assert_int_equal(plen, 128);
	assert_int_equal(vsn_prefix_parse("0.0.0.0/0", &a, &plen), 0);
	assert_int_equal(plen, 0);
	/* Host bits set, lengths out of range, junk. */
	assert_int_equal(vsn_prefix_parse("10.1.0.1/16", &a, &plen), -EINVAL);
	assert_int_equal(vsn_prefix_parse("10.1.0.0/33", &a, &plen), -EINVAL);
	assert_int_equal(vsn_prefix_parse("2001:db8::/129", &a, &plen), -EINVAL);
	assert_int_equal(vsn_prefix_parse("10.1.0.0/", &a, &plen), -EINVAL);
	assert_int_equal(vsn_prefix_parse("10.1.0.0/-1", &a, &plen), -EINVAL);
	assert_int_equal(vsn_prefix_parse("10.1.0.0/1x", &a, &plen), -EINVAL);
	assert_int_equal(vsn_prefix_parse("host/8", &a, &plen), -EINVAL);
	assert_int_equal(vsn_prefix_parse(NULL, &a, &plen), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_both_families),
		cmocka_unit_test(refuses_what_is_no_address),
		cmocka_unit_test(v4_maps_into_v6_key_and_back),
		cmocka_unit_test(parses_prefixes),
	};

	return cmocka_run_group_tests_name("addr", tests, NULL, NULL);
}
