/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The flow hash that the XDP forwarder and user space share: the forwarder
 * hashes a packet's 5-tuple to pick a Maglev table entry, user space computes
 * the same value to predict (and test) which SLB a flow goes to. One
 * definition, so the two can never disagree.
 *
 * Include-free like layout.h: the includer provides __u8, __u16, __u32,
 * __be16, __be32 (linux/types.h). Everything is static inline, loop-free and
 * division-free, so it compiles to straight-line BPF.
 *
 * The mixing is Bob Jenkins' lookup3 as the Linux kernel has it in
 * include/linux/jhash.h: vsn_jhash_mix/vsn_jhash_final are __jhash_mix and
 * __jhash_final, vsn_flow_hash is jhash2() over ten 32-bit words, and
 * vsn_jhash_2words/3words are jhash_2words/jhash_3words, bit for bit. jhash is
 * not a keyed PRF: the seed makes the table positions of flows differ between
 * clusters, it does not stop a determined client from crafting collisions.
 */
#ifndef VSN_HASH_H
#define VSN_HASH_H

#define VSN_JHASH_INITVAL 0xdeadbeef

static inline __u32 vsn_rol32(__u32 word, unsigned int shift)
{
	return (word << shift) | (word >> ((-shift) & 31));
}

/* Kernel __jhash_mix: mix three 32-bit values reversibly. */
#define vsn_jhash_mix(a, b, c)         \
	do {                           \
		a -= c;                \
		a ^= vsn_rol32(c, 4);  \
		c += b;                \
		b -= a;                \
		b ^= vsn_rol32(a, 6);  \
		a += c;                \
		c -= b;                \
		c ^= vsn_rol32(b, 8);  \
		b += a;                \
		a -= c;                \
		a ^= vsn_rol32(c, 16); \
		c += b;                \
		b -= a;                \
		b ^= vsn_rol32(a, 19); \
		a += c;                \
		c -= b;                \
		c ^= vsn_rol32(b, 4);  \
		b += a;                \
	} while (0)

/* Kernel __jhash_final: final mixing of three 32-bit values into c. */
#define vsn_jhash_final(a, b, c)       \
	do {                           \
		c ^= b;                \
		c -= vsn_rol32(b, 14); \
		a ^= c;                \
		a -= vsn_rol32(c, 11); \
		b ^= a;                \
		b -= vsn_rol32(a, 25); \
		c ^= b;                \
		c -= vsn_rol32(b, 16); \
		a ^= c;                \
		a -= vsn_rol32(c, 4);  \
		b ^= a;                \
		b -= vsn_rol32(a, 14); \
		c ^= b;                \
		c -= vsn_rol32(b, 24); \
	} while (0)

/* Kernel jhash_3words(a, b, c, initval). */
static inline __u32 vsn_jhash_3words(__u32 a, __u32 b, __u32 c, __u32 initval)
{
	initval += VSN_JHASH_INITVAL + (3 << 2);
	a += initval;
	b += initval;
	c += initval;
	vsn_jhash_final(a, b, c);
	return c;
}

/* Kernel jhash_2words(a, b, initval). */
static inline __u32 vsn_jhash_2words(__u32 a, __u32 b, __u32 initval)
{
	__u32 c = 0;

	initval += VSN_JHASH_INITVAL + (2 << 2);
	a += initval;
	b += initval;
	c += initval;
	vsn_jhash_final(a, b, c);
	return c;
}

/*
 * Word 2 of a v4-mapped address (bytes 00 00 ff ff) loaded as a __u32 the way
 * the words of vsn_flow_hash are: as it sits in memory, on this host.
 */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define VSN_V4MAPPED_WORD2 0x0000ffffU
#else
#define VSN_V4MAPPED_WORD2 0xffff0000U
#endif

/*
 * The ports word of vsn_flow_hash: the TCP/UDP source and destination port
 * fields exactly as loaded from the header (__be16, network byte order in
 * memory, not converted), source in the high half:
 *     ((__u32)th->source << 16) | th->dest
 * On a little-endian host, source port 1 and destination port 80 give
 * 0x01005000. Protocols without ports use 0.
 */
static inline __u32 vsn_flow_ports(__be16 sport, __be16 dport)
{
	return ((__u32)(__u16)sport << 16) | (__u16)dport;
}

/*
 * Seeded 32-bit hash of a flow's 5-tuple, in the client-to-VIP direction
 * (it is not symmetric: swapping source and destination changes it).
 *
 * src, dst: the 16-byte addresses as four __u32 loaded from memory as they
 *     sit in the packet (network byte order, not converted): IPv6 as is,
 *     IPv4 in v4-mapped form ::ffff:a.b.c.d, i.e. {0, 0, VSN_V4MAPPED_WORD2,
 *     the IPv4 address as loaded} (vsn_flow_hash_v4 does that).
 * ports: vsn_flow_ports(source port, destination port), 0 without ports.
 * proto: the IP protocol number (IPPROTO_TCP, ...).
 * seed: the cluster's flow-hash seed; every node uses the same one.
 *
 * The value is jhash2(k, 10, seed) over the words
 *     k = {src[0..3], dst[0..3], ports, proto}.
 * Because the words are raw loads, the hash of a given packet depends on the
 * host byte order: every node of a cluster must share one (x86-64 and arm64
 * are both little-endian, and BPF runs in the host's order).
 */
static inline __u32 vsn_flow_hash(const __u32 src[4], const __u32 dst[4], __u32 ports, __u8 proto,
				  __u32 seed)
{
	__u32 a, b, c;

	a = b = c = VSN_JHASH_INITVAL + (10 << 2) + seed;
	a += src[0];
	b += src[1];
	c += src[2];
	vsn_jhash_mix(a, b, c);
	a += src[3];
	b += dst[0];
	c += dst[1];
	vsn_jhash_mix(a, b, c);
	a += dst[2];
	b += dst[3];
	c += ports;
	vsn_jhash_mix(a, b, c);
	a += proto;
	vsn_jhash_final(a, b, c);
	return c;
}

/* vsn_flow_hash of an IPv4 flow, its addresses as loaded (__be32). */
static inline __u32 vsn_flow_hash_v4(__be32 saddr, __be32 daddr, __u32 ports, __u8 proto,
				     __u32 seed)
{
	const __u32 src[4] = {0, 0, VSN_V4MAPPED_WORD2, (__u32)saddr};
	const __u32 dst[4] = {0, 0, VSN_V4MAPPED_WORD2, (__u32)daddr};

	return vsn_flow_hash(src, dst, ports, proto, seed);
}

/*
 * murmur3's 32-bit finalizer (fmix32): every input bit moves about half the
 * output bits, in a few multiplications and shifts.
 */
static inline __u32 vsn_mix32(__u32 h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bU;
	h ^= h >> 13;
	h *= 0xc2b2ae35U;
	h ^= h >> 16;
	return h;
}

/*
 * The UDP source port of a gue packet (host order), in 49152-65535: the top
 * 14 bits of vsn_mix32() of the forwarder's flow word (bpf/parse.h,
 * struct vsn_pkt.flow: the xor of the source address's 32-bit words, IPv4
 * the destination's too, and of (source port << 16) ^ destination port, all
 * as loaded), so the underlay's ECMP spreads flows and a flow keeps its
 * port. jhash (vsn_flow_hash) would cost some 30 ns more per packet.
 */
static inline __u16 vsn_gue_sport(__u32 flow)
{
	return 0xc000 | vsn_mix32(flow) >> 18;
}

/*
 * The Maglev table entry a hash selects: table[vsn_maglev_slot(hash, m)].
 * A 32-bit modulo (BPF has it). Each slot gets floor(2^32 / m) or one more
 * of the 2^32 hash values: a relative bias below m / 2^32 (2^-16 at 65,537).
 */
static inline __u32 vsn_maglev_slot(__u32 hash, __u32 m)
{
	return hash % m;
}

#endif /* VSN_HASH_H */
