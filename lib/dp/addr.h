/* SPDX-License-Identifier: Apache-2.0 */
/* IP addresses as vsn stores them: IPv6, or IPv4 in v4-mapped form. */
#ifndef VSN_ADDR_H
#define VSN_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

struct vsn_addr {
	int family;	/* AF_INET or AF_INET6 */
	__u8 bytes[16]; /* AF_INET: the 4 address bytes first */
};

/* Longest text vsn_addr_format writes, with its NUL. */
#define VSN_ADDR_STRLEN 46

/* Parse a literal IPv4 or IPv6 address (no names, no prefix). -EINVAL if not one. */
int vsn_addr_parse(const char *s, struct vsn_addr *ret);
/*
 * Parse "ADDR/LEN", or a bare ADDR (then *ret_plen is the family's full
 * length). -EINVAL: not an address, a length out of 0..32 / 0..128, or host
 * bits set beyond the length (10.0.0.1/24: the network is 10.0.0.0/24).
 */
int vsn_prefix_parse(const char *s, struct vsn_addr *ret, unsigned int *ret_plen);
/* Write the address as text into buf (at least VSN_ADDR_STRLEN bytes). */
const char *vsn_addr_format(const struct vsn_addr *a, char *buf, size_t len);
/* The 16-byte table form: IPv6 as is, IPv4 as ::ffff:a.b.c.d. */
void vsn_addr_to_key(const struct vsn_addr *a, __u8 key[16]);
void vsn_addr_from_key(const __u8 key[16], struct vsn_addr *ret);
/* An IPv6 address in ::ffff:0:0/96, the form IPv4 addresses take in tables. */
bool vsn_addr_is_v4mapped(const struct vsn_addr *a);
bool vsn_addr_equal(const struct vsn_addr *a, const struct vsn_addr *b);

#endif /* VSN_ADDR_H */
