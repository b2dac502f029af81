/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

static const __u8 v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int vsn_addr_parse(const char *s, struct vsn_addr *ret)
{
	struct vsn_addr a = {0};

	if (!s)
		return -EINVAL;
	if (inet_pton(AF_INET, s, a.bytes) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, s, a.bytes) == 1)
		a.family = AF_INET6;
	else
		return -EINVAL;
	*ret = a;
	return 0;
}

int vsn_prefix_parse(const char *s, struct vsn_addr *ret, unsigned int *ret_plen)
{
	char buf[VSN_ADDR_STRLEN];
	const char *slash;
	struct vsn_addr a;
	unsigned long len;
	unsigned int max;
	char *end;

	if (!s)
		return -EINVAL;
	slash = strchr(s, '/');
	if (!slash) {
		if (vsn_addr_parse(s, &a))
			return -EINVAL;
		*ret = a;
		*ret_plen = a.family == AF_INET ? 32 : 128;
		return 0;
	}
	if ((size_t)(slash - s) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, slash - s);
	buf[slash - s] = 0;
	if (vsn_addr_parse(buf, &a) || slash[1] < '0' || slash[1] > '9')
		return -EINVAL;
	errno = 0;
	len = strtoul(slash + 1, &end, 10);
	max = a.family == AF_INET ? 32 : 128;
	if (errno || *end || len > max)
		return -EINVAL;
	for (unsigned int bit = len; bit < max; bit++)
		if (a.bytes[bit / 8] & (0x80 >> (bit % 8)))
			return -EINVAL;
	*ret = a;
	*ret_plen = (unsigned int)len;
	return 0;
}

const char *vsn_addr_format(const struct vsn_addr *a, char *buf, size_t len)
{
	if (!inet_ntop(a->family, a->bytes, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

void vsn_addr_to_key(const struct vsn_addr *a, __u8 key[16])
{
	if (a->family == AF_INET) {
		memcpy(key, v4_mapped_prefix, sizeof(v4_mapped_prefix));
		memcpy(key + 12, a->bytes, 4);
	} else {
		memcpy(key, a->bytes, 16);
	}
}

void vsn_addr_from_key(const __u8 key[16], struct vsn_addr *ret)
{
	struct vsn_addr a = {0};

	if (!memcmp(key, v4_mapped_prefix, sizeof(v4_mapped_prefix))) {
		a.family = AF_INET;
		memcpy(a.bytes, key + 12, 4);
	} else {
		a.family = AF_INET6;
		memcpy(a.bytes, key, 16);
	}
	*ret = a;
}

bool vsn_addr_equal(const struct vsn_addr *a, const struct vsn_addr *b)
{
	size_t n = a->family == AF_INET ? 4 : 16;

	return a->family == b->family && !memcmp(a->bytes, b->bytes, n);
}

bool vsn_addr_is_v4mapped(const struct vsn_addr *a)
{
	return a->family == AF_INET6 &&
	       !memcmp(a->bytes, v4_mapped_prefix, sizeof(v4_mapped_prefix));
}
