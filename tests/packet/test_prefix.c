/* SPDX-License-Identifier: Apache-2.0 */
/*
 * VIP prefixes and client-source rules, through BPF_PROG_TEST_RUN (ingress
 * lo): which policy a packet to a prefix address matches (the exact VIP
 * first, then the longest prefix holding the address, each by port, then
 * any port), a prefix's port policies beyond the slots of its entry, which
 * rule of the matched policy a packet's source picks, the sets validation
 * refuses, what the running set says of itself, and vsn_active's flags.
 *
 *   SLB 1 .. 8    10.0.0.<id>     single destinations
 *   SLB 9 .. 11   10.0.0.<id>     pool A (id 10), weights 1, 2, 1
 *   SLB 12, 13    10.0.0.<id>     pool B (id 20)
 *                 odd ids egress lo (XDP_TX), even ids vt0 (XDP_REDIRECT)
 *   SLB 14        2001:db8:5::e   ipip (only in sets that must be refused)
 *
 * Each test applies its own set (the tables by it). Every frame is a new
 * flow (a source port no frame used before), checked whole with the
 * reason, policy, service and SLB counters. A pool's pick is the one
 * vsn_dp_predict makes, and must be a member of that pool (the pools share
 * no SLB with each other or with the single destinations).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <cmocka.h>

#include "harness.h"

#define TCP IPPROTO_TCP
#define UDP IPPROTO_UDP

#define CLIENT4 "203.0.113.1"
#define CLIENT6 "2001:db8:ff::1"

#define POOL_A 10
#define POOL_B 20
#define N_L2_SLBS 13
#define SLB_IPIP6 14
#define SLB_UNDEFINED 15
#define M_SMALL 251
#define SEED 0x9e3779b9u

static const struct vsn_dp_pool_member a_members[] = {{9, 1}, {10, 2}, {11, 1}};
static const struct vsn_dp_pool_member b_members[] = {{12, 1}, {13, 1}};
/* B first: a pool's index in the set is not the rank of its id. */
static const struct vsn_dp_pool pools[] = {{POOL_B, 2, b_members}, {POOL_A, 3, a_members}};

static struct h_env env;

/* --- Sets, written as tables. --- */

struct rule_def {
	const char *from; /* PREFIX, or an address: a /32 or /128 */
	__u32 slb, pool;
};

struct pol_def {
	const char *vip; /* ADDRESS, or ADDRESS/LENGTH: a prefix */
	__u8 proto;
	__u16 port; /* 0: any */
	__u32 slb, pool, id;
	const struct rule_def *rules; /* ended by from == NULL */
	bool rehash;
};

/* A policy's rules: where sources in each prefix go. */
#define RULES(...)                         \
	.rules = (const struct rule_def[]) \
	{                                  \
		__VA_ARGS__,               \
		{                          \
			.from = NULL       \
		}                          \
	}
#define TO_SLB(prefix, id)                    \
	{                                     \
		.from = (prefix), .slb = (id) \
	}
#define TO_POOL(prefix, id)                    \
	{                                      \
		.from = (prefix), .pool = (id) \
	}

#define MAX_POLICIES 24
#define MAX_RULES 32

/* A set's policies and their rules, as the library takes them. */
struct set_buf {
	struct vsn_dp_policy pol[MAX_POLICIES];
	struct vsn_dp_client rules[MAX_RULES];
	size_t n, n_rules;
};

/* Distinct from the policy id, so a count on the wrong counter shows. */
static __u32 svc_of(__u32 policy_id)
{
	return 15 - policy_id % 16;
}

static unsigned int full_len(const struct vsn_addr *a)
{
	return a->family == AF_INET ? 32 : 128;
}

static struct vsn_addr addr_of(const char *s)
{
	struct vsn_addr a;

	assert_int_equal(vsn_addr_parse(s, &a), 0);
	return a;
}

static void set_build(struct set_buf *b, const struct pol_def *d, size_t n)
{
	memset(b, 0, sizeof(*b));
	assert_true(n <= MAX_POLICIES);
	for (size_t i = 0; i < n; i++) {
		struct vsn_dp_policy *p = &b->pol[i];
		unsigned int plen;

		if (vsn_prefix_parse(d[i].vip, &p->vip, &plen))
			fail_msg("policy %zu: bad vip %s", i, d[i].vip);
		p->vip_plen = plen == full_len(&p->vip) ? 0 : plen;
		p->proto = d[i].proto;
		p->port = d[i].port;
		p->slb_id = d[i].slb;
		p->pool_id = d[i].pool;
		p->policy_id = d[i].id;
		p->service_id = svc_of(d[i].id);
		p->on_change = d[i].rehash ? VSN_ON_CHANGE_REHASH : VSN_ON_CHANGE_PRESERVE;
		for (const struct rule_def *r = d[i].rules; r && r->from; r++) {
			struct vsn_dp_client *c = &b->rules[b->n_rules];

			assert_true(b->n_rules < MAX_RULES);
			if (vsn_prefix_parse(r->from, &c->prefix, &plen))
				fail_msg("policy %zu: bad rule %s", i, r->from);
			c->plen = plen;
			c->slb_id = r->slb;
			c->pool_id = r->pool;
			if (!p->n_clients)
				p->clients = c;
			p->n_clients++;
			b->n_rules++;
		}
	}
	b->n = n;
}

/* Rule j of policy i, to edit. */
static struct vsn_dp_client *rule_of(struct set_buf *b, size_t i, size_t j)
{
	assert_true(j < b->pol[i].n_clients);
	return &b->rules[b->pol[i].clients - b->rules + j];
}

static __u64 running_generation(void)
{
	struct vsn_meta m;

	assert_int_equal(vsn_dp_meta(env.dp, &m), 0);
	return m.generation;
}

static struct vsn_dp_set set_of(const struct set_buf *b)
{
	struct vsn_dp_set s = {
		.generation = running_generation() + 1,
		.n_policies = b->n,
		.policies = b->pol,
		.n_pools = 2,
		.pools = pools,
		.maglev_size = M_SMALL,
		.hash_seed = SEED,
	};

	return s;
}

static void apply(const struct pol_def *d, size_t n)
{
	static struct set_buf b;
	struct vsn_dp_set s;
	size_t bad = SIZE_MAX;
	int r;

	set_build(&b, d, n);
	s = set_of(&b);
	r = vsn_dp_set_apply(env.dp, &s, &bad);
	if (r)
		fail_msg("apply generation %llu: %s (policy %zu)", (unsigned long long)s.generation,
			 strerror(-r), bad);
}

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
#define APPLY(defs) apply(defs, N_OF(defs))

/* vsn_active[0] as the forwarder reads it, through the pin directory. */
static __u32 active_word(void)
{
	char path[PATH_MAX];
	__u32 zero = 0, v = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/maps/vsn_active", env.pin_dir);
	fd = bpf_obj_get(path);
	assert_true(fd >= 0);
	assert_int_equal(bpf_map_lookup_elem(fd, &zero, &v), 0);
	close(fd);
	return v;
}

/* --- Frames. --- */

struct frame {
	const char *name;
	const char *src; /* NULL: CLIENT4 or CLIENT6 */
	const char *dst;
	__u8 proto;
	__u16 dport;
	__u32 slb;	     /* forwarded to this SLB, */
	__u32 pool;	     /* or to this pool's pick, */
	__u32 policy;	     /* and counted under this policy; */
	enum vsn_reason why; /* else passed or dropped untouched, for this reason */
};

#define TO(s, pol) .slb = (s), .policy = (pol)
#define PICK(p, pol) .pool = (p), .policy = (pol)
#define PASSES .why = VSN_PASS_NO_VIP
#define NO_POLICY .why = VSN_DROP_NO_POLICY

/* Every frame is a flow of its own: no remembered flow decides for it. */
static __u16 next_sport = 1024;

/* The SLB pool_id picks for the flow of s: vsn_dp_predict's, a member of that pool. */
static __u32 pool_pick(__u32 pool_id, const struct pkt_spec *s)
{
	struct vsn_addr src = addr_of(s->saddr), dst = addr_of(s->daddr);
	struct vsn_flow_key k;
	__u32 id = 0;

	vsn_flow_key_make(&src, s->sport, &dst, s->dport, s->l4, &k);
	assert_int_equal(vsn_dp_predict(env.dp, pool_id, &k, &id), 0);
	for (size_t i = 0; i < N_OF(pools); i++)
		for (size_t j = 0; pools[i].id == pool_id && j < pools[i].n_members; j++)
			if (pools[i].members[j].slb_id == id)
				return id;
	fail_msg("pool %u: predicted SLB %u is no member", pool_id, id);
	return 0;
}

static void check_frame(const struct frame *f)
{
	static struct pkt in, want;
	bool v6 = strchr(f->dst, ':');
	struct pkt_spec s = {
		.dmac = H_NODE_MAC,
		.smac = H_CLIENT_MAC,
		.l3 = v6 ? AF_INET6 : AF_INET,
		.saddr = f->src ? f->src
			 : v6	? CLIENT6
				: CLIENT4,
		.daddr = f->dst,
		.l4 = f->proto,
		.sport = next_sport++,
		.dport = f->dport,
		.payload_len = 10,
	};
	struct h_expect e = {
		.action = vsn_reason_is_drop(f->why) ? XDP_DROP : XDP_PASS,
		.reason = f->why,
		.out = &in,
	};
	__u32 slb = f->pool ? pool_pick(f->pool, &s) : f->slb;
	char name[192];

	snprintf(name, sizeof(name), "%s: %s.%u > %s.%u %s", f->name, s.saddr, s.sport, s.daddr,
		 s.dport, s.l4 == TCP ? "tcp" : "udp");
	assert_int_equal(pkt_build(&s, &in), 0);
	if (slb) {
		assert_true(slb <= N_L2_SLBS);
		memcpy(s.dmac, (__u8[6]){0x02, 0x51, 0, 0, slb, 0xd}, 6);
		memcpy(s.smac, (__u8[6]){0x02, 0x51, 0, 0, slb, 0x5}, 6);
		assert_int_equal(pkt_build(&s, &want), 0);
		e.action = slb % 2 ? XDP_TX : XDP_REDIRECT;
		e.reason = slb % 2 ? VSN_FWD_TX : VSN_FWD_REDIRECT;
		e.out = &want;
		e.policy_id = f->policy;
		e.service_id = svc_of(f->policy);
		e.slb_id = slb;
	}
	h_check(&env, name, &in, &e);
}

static void check_frames(const struct frame *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		check_frame(&f[i]);
}

#define CHECK_FRAMES(f) check_frames(f, N_OF(f))

/* --- 1. Prefixes: inside, outside, the longest, exact VIPs inside them. --- */

static const struct pol_def prefix_set[] = {
	{"10.1.0.0/16", TCP, 0, .slb = 1, .id = 1},
	{"10.1.2.0/24", TCP, 0, .slb = 2, .id = 2},
	{"10.1.0.0/16", TCP, 443, .slb = 3, .id = 3},
	{"10.1.0.5", TCP, 80, .slb = 4, .id = 4},
	{"10.1.2.7", TCP, 80, .slb = 5, .id = 5},
	{"10.1.2.0/24", UDP, 53, .slb = 6, .id = 6},
	{"10.1.0.0/16", UDP, 0, .slb = 7, .id = 7},
	{"10.9.0.1", TCP, 80, .slb = 8, .id = 8},
	{"2001:db8:100::/48", TCP, 443, .slb = 3, .id = 9},
	{"2001:db8:100:1::/64", TCP, 0, .slb = 4, .id = 10},
	{"2001:db8:100::5", TCP, 80, .slb = 5, .id = 11},
	{"10.1.0.9", TCP, 0, .slb = 6, .id = 12},
};

static const struct frame prefix_frames[] = {
	{"in the /16: its tcp any-port", NULL, "10.1.3.4", TCP, 80, TO(1, 1)},
	{"the /16's network address", NULL, "10.1.0.0", TCP, 22, TO(1, 1)},
	{"the /16's last address", NULL, "10.1.255.255", TCP, 22, TO(1, 1)},
	{"in the /16: its tcp/443", NULL, "10.1.3.4", TCP, 443, TO(3, 3)},
	{"in the /16: its udp any-port", NULL, "10.1.3.4", UDP, 54, TO(7, 7)},
	{"just below the /16", NULL, "10.0.255.255", TCP, 80, PASSES},
	{"just above the /16", NULL, "10.2.0.0", TCP, 80, PASSES},
	{"in the /24 in the /16: the /24 wins", NULL, "10.1.2.9", TCP, 80, TO(2, 2)},
	{"the /24's network address", NULL, "10.1.2.0", TCP, 80, TO(2, 2)},
	{"the /24's last address", NULL, "10.1.2.255", TCP, 80, TO(2, 2)},
	{"just below the /24: the /16", NULL, "10.1.1.255", TCP, 80, TO(1, 1)},
	{"just above the /24: the /16", NULL, "10.1.3.0", TCP, 80, TO(1, 1)},
	{"the /24 on tcp/443: only the longest prefix is tried", NULL, "10.1.2.9", TCP, 443,
	 TO(2, 2)},
	{"the /24 on udp/53", NULL, "10.1.2.9", UDP, 53, TO(6, 6)},
	{"the /24 on udp/54: not the /16's udp any-port", NULL, "10.1.2.9", UDP, 54, NO_POLICY},
	{"exact VIP in the /16: its tcp/80", NULL, "10.1.0.5", TCP, 80, TO(4, 4)},
	{"exact VIP in the /16, tcp/443: the /16's tcp/443", NULL, "10.1.0.5", TCP, 443, TO(3, 3)},
	{"exact VIP in the /16, tcp/8080: the /16's any-port", NULL, "10.1.0.5", TCP, 8080,
	 TO(1, 1)},
	{"exact VIP in the /16, udp/53: the /16's udp any-port", NULL, "10.1.0.5", UDP, 53,
	 TO(7, 7)},
	{"exact VIP in the /16, tcp/443: its any-port before the /16's tcp/443", NULL, "10.1.0.9",
	 TCP, 443, TO(6, 12)},
	{"exact VIP in the /16 without udp: the /16's udp any-port", NULL, "10.1.0.9", UDP, 53,
	 TO(7, 7)},
	{"exact VIP in the /24: its tcp/80", NULL, "10.1.2.7", TCP, 80, TO(5, 5)},
	{"exact VIP in the /24, tcp/8080: the /24's, not the /16's", NULL, "10.1.2.7", TCP, 8080,
	 TO(2, 2)},
	{"exact VIP in the /24, udp/54: the /24 has no such policy", NULL, "10.1.2.7", UDP, 54,
	 NO_POLICY},
	{"exact VIP in no prefix: its tcp/80", NULL, "10.9.0.1", TCP, 80, TO(8, 8)},
	{"exact VIP in no prefix: tcp/81", NULL, "10.9.0.1", TCP, 81, NO_POLICY},
	{"no VIP, no prefix", NULL, "192.0.2.1", TCP, 80, PASSES},
	{"v6 /48: its tcp/443", NULL, "2001:db8:100::9", TCP, 443, TO(3, 9)},
	{"v6 the /48's network address", NULL, "2001:db8:100::", TCP, 443, TO(3, 9)},
	{"v6 the /48's last address", NULL, "2001:db8:100:ffff:ffff:ffff:ffff:ffff", TCP, 443,
	 TO(3, 9)},
	{"v6 /48, tcp/80: a prefix address on an uncovered port", NULL, "2001:db8:100::9", TCP, 80,
	 NO_POLICY},
	{"v6 /48, udp/443: an uncovered protocol", NULL, "2001:db8:100::9", UDP, 443, NO_POLICY},
	{"v6 /64 in the /48: its tcp any-port", NULL, "2001:db8:100:1::7", TCP, 22, TO(4, 10)},
	{"v6 /64, tcp/443: the /64's any-port, not the /48's tcp/443", NULL, "2001:db8:100:1::7",
	 TCP, 443, TO(4, 10)},
	{"v6 /64, udp: no policy", NULL, "2001:db8:100:1::7", UDP, 53, NO_POLICY},
	{"v6 just above the /64: the /48", NULL, "2001:db8:100:2::", TCP, 443, TO(3, 9)},
	{"v6 exact VIP in the /48: its tcp/80", NULL, "2001:db8:100::5", TCP, 80, TO(5, 11)},
	{"v6 exact VIP in the /48, tcp/443: the /48's", NULL, "2001:db8:100::5", TCP, 443,
	 TO(3, 9)},
	{"v6 exact VIP in the /48, tcp/22: neither has it", NULL, "2001:db8:100::5", TCP, 22,
	 NO_POLICY},
	{"v6 just above the /48", NULL, "2001:db8:101::", TCP, 443, PASSES},
	{"v6 just below the /48", NULL, "2001:db8:ff:ffff:ffff:ffff:ffff:ffff", TCP, 443, PASSES},
	{"v6 to the v4-mapped form of a /16 address", NULL, "::ffff:10.1.3.4", TCP, 80, PASSES},
};

static void test_prefixes(void **state)
{
	APPLY(prefix_set);
	CHECK_FRAMES(prefix_frames);
}

/* --- 2. More port policies than a prefix's entry holds. --- */

/*
 * prefix: tcp ports 1001 .. 1006 to SLBs 1 .. 6, udp/53 to SLB 7, udp any
 * port to SLB 8; its entry holds tcp 1001 .. 1004, the rest (udp/53 too)
 * have entries of their own. vip, the prefix's network address as an exact
 * VIP: the same tcp ports to SLBs 6 .. 1, nothing for udp.
 */
static void overflow_run(const char *prefix, const char *vip, const char *inside,
			 const char *outside)
{
	struct pol_def d[14];
	char name[80];

	/* Given in reverse: which ports the entry holds is the library's choice. */
	for (__u16 i = 0; i < 6; i++) {
		d[i] = (struct pol_def){prefix, TCP, 1006 - i, .slb = 6 - i, .id = 6 - i};
		d[6 + i] = (struct pol_def){vip, TCP, 1006 - i, .slb = 1 + i, .id = 12 - i};
	}
	d[12] = (struct pol_def){prefix, UDP, 53, .slb = 7, .id = 13};
	d[13] = (struct pol_def){prefix, UDP, 0, .slb = 8, .id = 14};
	apply(d, N_OF(d));

	for (__u32 i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "%s, tcp port %u of 6", prefix, i + 1);
		check_frame(&(struct frame){name, NULL, inside, TCP, 1001 + i, TO(1 + i, 1 + i)});
		snprintf(name, sizeof(name), "exact VIP %s, tcp port %u of 6", vip, i + 1);
		check_frame(&(struct frame){name, NULL, vip, TCP, 1001 + i, TO(6 - i, 7 + i)});
	}
	check_frame(&(struct frame){"prefix, udp/53 (its own entry)", NULL, inside, UDP, 53,
				    TO(7, 13)});
	check_frame(
		&(struct frame){"prefix, udp/54: udp any-port", NULL, inside, UDP, 54, TO(8, 14)});
	check_frame(
		&(struct frame){"prefix, tcp/1007: no policy", NULL, inside, TCP, 1007, NO_POLICY});
	check_frame(
		&(struct frame){"prefix, tcp/1000: no policy", NULL, inside, TCP, 1000, NO_POLICY});
	check_frame(
		&(struct frame){"exact VIP, udp/53: the prefix's", NULL, vip, UDP, 53, TO(7, 13)});
	check_frame(&(struct frame){"exact VIP, udp/9: the prefix's any-port", NULL, vip, UDP, 9,
				    TO(8, 14)});
	check_frame(&(struct frame){"exact VIP, tcp/1007: neither has it", NULL, vip, TCP, 1007,
				    NO_POLICY});
	check_frame(&(struct frame){"outside the prefix", NULL, outside, TCP, 1005, PASSES});
}

static void test_port_overflow(void **state)
{
	overflow_run("10.1.0.0/16", "10.1.0.0", "10.1.7.7", "10.2.0.0");
	overflow_run("2001:db8:200::/56", "2001:db8:200::", "2001:db8:200:ab::1",
		     "2001:db8:200:100::1");
}

/* --- 3. Client-source rules: the longest of the matched policy's. --- */

static const struct pol_def client_set[] = {
	{"192.0.2.10", TCP, 0, .slb = 1, .id = 1,
	 RULES(TO_SLB("198.0.0.0/8", 2), TO_POOL("198.51.0.0/16", POOL_A),
	       TO_SLB("198.51.100.0/24", 3), TO_SLB("198.51.100.77", 4))},
	{"192.0.2.10", TCP, 80, .slb = 5, .id = 2},
	{"192.0.2.20", TCP, 0, .pool = POOL_B, .id = 3, RULES(TO_SLB("198.51.100.0/24", 6))},
	{"192.0.3.0/24", UDP, 0, .slb = 7, .id = 4,
	 RULES(TO_POOL("198.51.100.0/24", POOL_A), TO_SLB("0.0.0.0/0", 8))},
	{"2001:db8::10", TCP, 0, .slb = 1, .id = 5,
	 RULES(TO_POOL("2001:db8:c::/48", POOL_A), TO_SLB("2001:db8:c:1::/64", 3),
	       TO_SLB("2001:db8:c:1::42", 4))},
	{"2001:db8::20", UDP, 0, .pool = POOL_B, .id = 6, RULES(TO_SLB("2001:db8:c:1::/64", 6))},
	{"2001:db8:300::/40", TCP, 0, .slb = 7, .id = 7,
	 RULES(TO_SLB("::/0", 8), TO_SLB("2001:db8:c::/48", 2))},
};

static const struct frame client_frames[] = {
	{"the /24 rule (in the /16 and /8 ones)", "198.51.100.9", "192.0.2.10", TCP, 8080,
	 TO(3, 1)},
	{"the /24 rule's first address", "198.51.100.0", "192.0.2.10", TCP, 8080, TO(3, 1)},
	{"the /24 rule's last address", "198.51.100.255", "192.0.2.10", TCP, 8080, TO(3, 1)},
	{"the /32 rule", "198.51.100.77", "192.0.2.10", TCP, 8080, TO(4, 1)},
	{"next to the /32 rule: the /24 one", "198.51.100.78", "192.0.2.10", TCP, 8080, TO(3, 1)},
	{"the /16 rule: pool A", "198.51.101.1", "192.0.2.10", TCP, 8080, PICK(POOL_A, 1)},
	{"the /16 rule: pool A", "198.51.0.1", "192.0.2.10", TCP, 443, PICK(POOL_A, 1)},
	{"the /16 rule: pool A", "198.51.255.254", "192.0.2.10", TCP, 22, PICK(POOL_A, 1)},
	{"the /16 rule: pool A", "198.51.7.7", "192.0.2.10", TCP, 8080, PICK(POOL_A, 1)},
	{"the /16 rule: pool A", "198.51.99.1", "192.0.2.10", TCP, 8081, PICK(POOL_A, 1)},
	{"the /16 rule: pool A", "198.51.200.3", "192.0.2.10", TCP, 8082, PICK(POOL_A, 1)},
	{"the /8 rule", "198.18.0.1", "192.0.2.10", TCP, 8080, TO(2, 1)},
	{"the /8 rule's last address", "198.255.255.255", "192.0.2.10", TCP, 8080, TO(2, 1)},
	{"no rule: the policy's SLB", CLIENT4, "192.0.2.10", TCP, 8080, TO(1, 1)},
	{"no rule, just above the /8", "199.0.0.0", "192.0.2.10", TCP, 8080, TO(1, 1)},
	{"no rule, just below the /8", "197.255.255.255", "192.0.2.10", TCP, 8080, TO(1, 1)},
	{"same VIP, a port policy without rules", "198.51.100.9", "192.0.2.10", TCP, 80, TO(5, 2)},
	{"same VIP, a port policy without rules", "198.51.100.77", "192.0.2.10", TCP, 80, TO(5, 2)},
	{"same VIP, a port policy without rules", "198.18.0.1", "192.0.2.10", TCP, 80, TO(5, 2)},
	{"another policy's /24 rule", "198.51.100.9", "192.0.2.20", TCP, 8080, TO(6, 3)},
	{"another policy's /24 rule, not the first's /32", "198.51.100.77", "192.0.2.20", TCP, 8080,
	 TO(6, 3)},
	{"another policy, not the first's /16 rule: its pool B", "198.51.7.7", "192.0.2.20", TCP,
	 8080, PICK(POOL_B, 3)},
	{"another policy, not the first's /8 rule: its pool B", "198.18.0.1", "192.0.2.20", TCP,
	 8080, PICK(POOL_B, 3)},
	{"another policy, no rule: its pool B", CLIENT4, "192.0.2.20", TCP, 8080, PICK(POOL_B, 3)},
	{"another policy, no rule: its pool B", "192.0.2.77", "192.0.2.20", TCP, 9,
	 PICK(POOL_B, 3)},
	{"a prefix's policy, its /24 rule: pool A", "198.51.100.9", "192.0.3.9", UDP, 53,
	 PICK(POOL_A, 4)},
	{"a prefix's policy, its /24 rule: pool A", "198.51.100.200", "192.0.3.255", UDP, 4789,
	 PICK(POOL_A, 4)},
	{"a prefix's policy, its /0 rule", CLIENT4, "192.0.3.9", UDP, 53, TO(8, 4)},
	{"a prefix's policy, its /0 rule", "198.51.7.7", "192.0.3.0", UDP, 53, TO(8, 4)},
	{"a prefix address, tcp: no policy", "198.51.100.9", "192.0.3.9", TCP, 53, NO_POLICY},
	{"v6 the /64 rule (in the /48 one)", "2001:db8:c:1::9", "2001:db8::10", TCP, 443, TO(3, 5)},
	{"v6 the /128 rule", "2001:db8:c:1::42", "2001:db8::10", TCP, 443, TO(4, 5)},
	{"v6 next to the /128 rule: the /64", "2001:db8:c:1::43", "2001:db8::10", TCP, 443,
	 TO(3, 5)},
	{"v6 the /48 rule: pool A", "2001:db8:c:2::1", "2001:db8::10", TCP, 443, PICK(POOL_A, 5)},
	{"v6 the /48 rule: pool A", "2001:db8:c:ffff::1", "2001:db8::10", TCP, 80, PICK(POOL_A, 5)},
	{"v6 the /48 rule: pool A", "2001:db8:c::", "2001:db8::10", TCP, 22, PICK(POOL_A, 5)},
	{"v6 the /48 rule: pool A", "2001:db8:c:0:1::7", "2001:db8::10", TCP, 23, PICK(POOL_A, 5)},
	{"v6 no rule: the policy's SLB", "2001:db8:d::1", "2001:db8::10", TCP, 443, TO(1, 5)},
	{"v6 no rule: the policy's SLB", CLIENT6, "2001:db8::10", TCP, 443, TO(1, 5)},
	{"v6 another policy's /64 rule", "2001:db8:c:1::9", "2001:db8::20", UDP, 53, TO(6, 6)},
	{"v6 another policy's /64 rule, not the first's /128", "2001:db8:c:1::42", "2001:db8::20",
	 UDP, 53, TO(6, 6)},
	{"v6 another policy, not the first's /48 rule: its pool B", "2001:db8:c:2::1",
	 "2001:db8::20", UDP, 53, PICK(POOL_B, 6)},
	{"v6 another policy, no rule: its pool B", CLIENT6, "2001:db8::20", UDP, 53,
	 PICK(POOL_B, 6)},
	{"v6 a prefix's policy, its /48 rule", "2001:db8:c:5::1", "2001:db8:300:1::1", TCP, 80,
	 TO(2, 7)},
	{"v6 a prefix's policy, its ::/0 rule", CLIENT6, "2001:db8:3ff:ffff::1", TCP, 80, TO(8, 7)},
	{"v6 a prefix's policy, its ::/0 rule", "::1", "2001:db8:300::", TCP, 80, TO(8, 7)},
};

static void test_client_rules(void **state)
{
	APPLY(client_set);
	CHECK_FRAMES(client_frames);
}

/* --- 4. Sets that validation refuses leave the running one alone. --- */

static const struct pol_def running_set[] = {
	{"10.1.0.0/16", TCP, 0, .slb = 1, .id = 1, RULES(TO_SLB("198.51.100.0/24", 2))},
	{"2001:db8:100::/48", TCP, 0, .slb = 3, .id = 2, RULES(TO_SLB("2001:db8:c::/48", 4))},
};

static const struct frame running_frames[] = {
	{"running set: the prefix", NULL, "10.1.3.4", TCP, 80, TO(1, 1)},
	{"running set: the prefix's rule", "198.51.100.9", "10.1.3.4", TCP, 80, TO(2, 1)},
	{"running set: the v6 prefix", NULL, "2001:db8:100::9", TCP, 80, TO(3, 2)},
	{"running set: the v6 prefix's rule", "2001:db8:c::9", "2001:db8:100::9", TCP, 80,
	 TO(4, 2)},
	{"running set: no VIP", "198.51.100.9", "192.0.2.10", TCP, 80, PASSES},
	{"running set: no VIP", NULL, "10.2.0.1", TCP, 80, PASSES},
};

/* Valid; applied, it would send every frame of running_frames elsewhere. */
static const struct pol_def refused_base[] = {
	{"10.1.0.0/16", TCP, 0, .slb = 5, .id = 1, RULES(TO_SLB("198.51.100.0/24", 6))},
	{"2001:db8:100::/48", TCP, 0, .slb = 7, .id = 2, RULES(TO_POOL("2001:db8:c::/48", POOL_A))},
	{"192.0.2.10", TCP, 80, .slb = 8, .id = 3,
	 RULES(TO_POOL("198.51.0.0/16", POOL_B), TO_SLB("198.51.100.0/24", 5))},
	{"10.2.0.0/16", TCP, 0, .slb = 8, .id = 4},
};

static struct set_buf *refusal(void)
{
	static struct set_buf b;

	set_build(&b, refused_base, N_OF(refused_base));
	return &b;
}

static void expect_valid(const char *name, const struct set_buf *b)
{
	struct vsn_dp_set s = set_of(b);
	size_t bad = 12345;
	int r = vsn_dp_set_validate(env.dp, &s, &bad);

	if (r)
		fail_msg("%s: validate says %s (policy %zu), expected valid", name, strerror(-r),
			 bad);
}

static void check_refused(const char *name, const struct set_buf *b, int err, size_t want_bad)
{
	struct vsn_dp_set s = set_of(b);
	struct vsn_meta before, after;
	__u32 active = active_word();
	size_t bad = 12345;
	int r;

	assert_int_equal(vsn_dp_meta(env.dp, &before), 0);
	r = vsn_dp_set_validate(env.dp, &s, &bad);
	if (r != err || bad != want_bad)
		fail_msg("%s: validate says %d (policy %zu), expected %d (policy %zu)", name, r,
			 bad, err, want_bad);
	bad = 12345;
	r = vsn_dp_set_apply(env.dp, &s, &bad);
	if (r != err || bad != want_bad)
		fail_msg("%s: apply says %d (policy %zu), expected %d (policy %zu)", name, r, bad,
			 err, want_bad);
	assert_int_equal(vsn_dp_meta(env.dp, &after), 0);
	assert_memory_equal(&before, &after, sizeof(before));
	assert_int_equal(active_word(), active);
	CHECK_FRAMES(running_frames);
}

static void test_refusals(void **state)
{
	struct set_buf *b;

	APPLY(running_set);
	CHECK_FRAMES(running_frames);
	expect_valid("the base of the refused sets", refusal());

	/* VIP prefixes. */
	b = refusal();
	b->pol[0].vip = addr_of("10.1.0.1");
	check_refused("v4 prefix with host bits set", b, -EINVAL, 0);
	b = refusal();
	b->pol[1].vip = addr_of("2001:db8:101::");
	b->pol[1].vip_plen = 47;
	check_refused("v6 prefix with its last host bit set", b, -EINVAL, 1);
	b = refusal();
	b->pol[3].vip_plen = 32;
	check_refused("v4 vip_plen 32", b, -EINVAL, 3);
	b = refusal();
	b->pol[3].vip_plen = 33;
	check_refused("v4 vip_plen 33", b, -EINVAL, 3);
	b = refusal();
	b->pol[1].vip_plen = 128;
	check_refused("v6 vip_plen 128", b, -EINVAL, 1);
	b = refusal();
	b->pol[1].vip = addr_of("::ffff:10.1.0.0");
	b->pol[1].vip_plen = 112;
	check_refused("a v4-mapped v6 prefix", b, -EINVAL, 1);
	b = refusal();
	b->pol[3].vip_plen = 31;
	b->pol[1].vip_plen = 127;
	b->pol[2].vip = addr_of("0.0.0.0");
	b->pol[2].vip_plen = 1;
	expect_valid("prefix lengths 31, 127 and 1", b);
	b = refusal();
	b->pol[3].vip = addr_of("10.1.0.0");
	b->pol[3].vip_plen = 0;
	expect_valid("an exact VIP at a prefix's network address", b);
	b = refusal();
	b->pol[3].vip = addr_of("10.1.0.0");
	check_refused("a prefix, proto and port twice", b, -EEXIST, 3);
	b = refusal();
	b->pol[3].vip = addr_of("10.1.0.0");
	b->pol[3].vip_plen = 17;
	expect_valid("a network address with two prefix lengths", b);

	/* Client-source rules: *ret_bad is their policy's index. */
	b = refusal();
	rule_of(b, 0, 0)->prefix = addr_of("2001:db8:c::");
	check_refused("v6 rule in a v4 policy", b, -EAFNOSUPPORT, 0);
	b = refusal();
	rule_of(b, 1, 0)->prefix = addr_of("198.51.0.0");
	rule_of(b, 1, 0)->plen = 16;
	check_refused("v4 rule in a v6 policy", b, -EAFNOSUPPORT, 1);
	b = refusal();
	rule_of(b, 2, 1)->pool_id = POOL_A;
	check_refused("rule with an slb and a pool", b, -EINVAL, 2);
	b = refusal();
	rule_of(b, 2, 0)->pool_id = 0;
	check_refused("rule with neither slb nor pool", b, -EINVAL, 2);
	b = refusal();
	rule_of(b, 2, 1)->plen = 16;
	rule_of(b, 2, 1)->prefix = addr_of("198.51.0.0");
	check_refused("one rule prefix twice in a policy", b, -EINVAL, 2);
	b = refusal();
	rule_of(b, 2, 1)->prefix = addr_of("198.51.0.0");
	expect_valid("one network address, two rule lengths", b);
	b = refusal();
	rule_of(b, 2, 1)->prefix = addr_of("198.51.100.1");
	check_refused("rule with host bits set", b, -EINVAL, 2);
	b = refusal();
	rule_of(b, 0, 0)->plen = 33;
	check_refused("v4 rule /33", b, -EINVAL, 0);
	b = refusal();
	rule_of(b, 1, 0)->plen = 129;
	check_refused("v6 rule /129", b, -EINVAL, 1);
	b = refusal();
	rule_of(b, 1, 0)->prefix = addr_of("::ffff:198.51.0.0");
	rule_of(b, 1, 0)->plen = 112;
	check_refused("v4-mapped v6 rule", b, -EINVAL, 1);
	b = refusal();
	rule_of(b, 1, 0)->pool_id = 99;
	check_refused("rule naming a pool not in the set", b, -ENOENT, 1);
	b = refusal();
	rule_of(b, 0, 0)->slb_id = SLB_UNDEFINED;
	check_refused("rule naming an undefined SLB", b, -ENOENT, 0);
	b = refusal();
	rule_of(b, 0, 0)->slb_id = 1u << 30;
	check_refused("rule naming an SLB beyond the capacity", b, -ERANGE, 0);
	b = refusal();
	rule_of(b, 0, 0)->slb_id = SLB_IPIP6;
	check_refused("rule of a v4 policy naming an ipip v6 SLB", b, -EAFNOSUPPORT, 0);
	b = refusal();
	b->pol[2].clients = NULL;
	check_refused("rules counted, not given", b, -EINVAL, 2);
	b = refusal();
	b->pol[2].n_clients = VSN_DP_MAX_CLIENTS + 1;
	check_refused("more rules than a policy holds", b, -EINVAL, 2);

	/* Nothing of all that ran. */
	CHECK_FRAMES(running_frames);
}

/* --- 5. What the running set says of itself. --- */

static const struct pol_def listed_set[] = {
	{"10.1.0.0/16", TCP, 1001, .slb = 1, .id = 20},
	{"10.1.0.0/16", TCP, 1002, .slb = 2, .id = 21},
	{"10.1.0.0/16", TCP, 1003, .slb = 3, .id = 22, .rehash = true},
	{"10.1.0.0/16", TCP, 1004, .slb = 4, .id = 23},
	{"10.1.0.0/16", TCP, 1005, .pool = POOL_A, .id = 24, .rehash = true},
	{"10.1.0.0/16", TCP, 1006, .slb = 6, .id = 25, RULES(TO_SLB("198.51.100.0/24", 7))},
	{"10.1.0.0/16", UDP, 0, .slb = 7, .id = 26,
	 RULES(TO_SLB("198.51.100.0/24", 3), TO_POOL("198.0.0.0/8", POOL_A),
	       TO_SLB("198.51.100.77", 4), TO_POOL("0.0.0.0/0", POOL_B))},
	{"10.1.0.0", TCP, 80, .pool = POOL_B, .id = 27, .rehash = true},
	{"128.0.0.0/1", TCP, 0, .slb = 6, .id = 28},
	{"2001:db8:100::/48", TCP, 0, .pool = POOL_A, .id = 29, .rehash = true,
	 RULES(TO_SLB("2001:db8:c::/48", 2), TO_POOL("2001:db8:c:1::42", POOL_B),
	       TO_SLB("::/0", 4))},
	{"2001:db8:100::/48", UDP, 53, .slb = 1, .id = 30},
	{"2001:db8:100::/48", UDP, 54, .slb = 2, .id = 31},
	{"2001:db8:100::/48", UDP, 55, .slb = 3, .id = 32},
	{"2001:db8:100::/48", UDP, 56, .slb = 4, .id = 33},
	{"2001:db8:100::/48", UDP, 57, .pool = POOL_B, .id = 34,
	 RULES(TO_SLB("2001:db8:c:1::/64", 5))},
	{"2001:db8:100::/48", UDP, 58, .slb = 6, .id = 35},
	{"2001:db8::10", TCP, 443, .slb = 1, .id = 36, RULES(TO_SLB("2001:db8:c:1::/64", 5))},
	{"2001:db8:1::/127", UDP, 0, .slb = 2, .id = 37},
};

struct listed {
	size_t n, n_rules;
	struct vsn_dp_policy p[MAX_POLICIES];
	struct vsn_dp_client rules[MAX_RULES];
};

/* Copies each policy and its rules: the library's rule array is scratch. */
static int listed_cb(const struct vsn_dp_policy *p, void *arg)
{
	struct listed *l = arg;

	if (l->n == MAX_POLICIES || p->n_clients > MAX_RULES - l->n_rules)
		return -E2BIG;
	l->p[l->n] = *p;
	if (p->n_clients) {
		memcpy(&l->rules[l->n_rules], p->clients, p->n_clients * sizeof(*p->clients));
		l->p[l->n].clients = &l->rules[l->n_rules];
		l->n_rules += p->n_clients;
	}
	l->n++;
	return 0;
}

/* got's rules are want's, in any order. */
static void rules_equal(const struct vsn_dp_policy *want, const struct vsn_dp_policy *got)
{
	assert_int_equal(got->n_clients, want->n_clients);
	for (size_t i = 0; i < want->n_clients; i++) {
		const struct vsn_dp_client *w = &want->clients[i], *g = NULL;

		for (size_t j = 0; j < got->n_clients && !g; j++)
			if (vsn_addr_equal(&got->clients[j].prefix, &w->prefix) &&
			    got->clients[j].plen == w->plen)
				g = &got->clients[j];
		if (!g)
			fail_msg("policy %u: rule %zu not listed", want->policy_id, i);
		assert_int_equal(g->slb_id, w->slb_id);
		assert_int_equal(g->pool_id, w->pool_id);
	}
}

static void test_roundtrip(void **state)
{
	static struct set_buf b;
	static struct listed l;
	bool seen[MAX_POLICIES] = {false};

	APPLY(listed_set);
	set_build(&b, listed_set, N_OF(listed_set));
	memset(&l, 0, sizeof(l));
	assert_int_equal(vsn_dp_policies_foreach(env.dp, listed_cb, &l), 0);
	assert_int_equal(l.n, b.n);
	for (size_t i = 0; i < l.n; i++) {
		const struct vsn_dp_policy *got = &l.p[i], *want = NULL;
		size_t k = 0;

		for (; k < b.n && !want; k++)
			if (vsn_addr_equal(&b.pol[k].vip, &got->vip) &&
			    b.pol[k].vip_plen == got->vip_plen && b.pol[k].proto == got->proto &&
			    b.pol[k].port == got->port)
				want = &b.pol[k];
		if (!want)
			fail_msg("listed policy %u (vip_plen %u, port %u) was not applied",
				 got->policy_id, got->vip_plen, got->port);
		assert_false(seen[k - 1]);
		seen[k - 1] = true;
		assert_int_equal(got->slb_id, want->slb_id);
		assert_int_equal(got->pool_id, want->pool_id);
		assert_int_equal(got->service_id, want->service_id);
		assert_int_equal(got->policy_id, want->policy_id);
		assert_int_equal(got->on_change, want->on_change);
		rules_equal(want, got);
	}
}

/* --- 6. vsn_active says what the running set has. --- */

static const struct pol_def flags_both[] = {
	{"10.1.0.0/16", TCP, 0, .slb = 1, .id = 1, RULES(TO_SLB("198.51.100.0/24", 2))},
	{"2001:db8:100::/48", TCP, 0, .slb = 3, .id = 2},
	{"10.1.0.5", TCP, 80, .slb = 5, .id = 3},
};

static const struct pol_def flags_prefixes[] = {
	{"10.1.0.0/16", TCP, 0, .slb = 1, .id = 1},
	{"2001:db8:100::/48", TCP, 0, .slb = 3, .id = 2},
	{"10.1.0.5", TCP, 80, .slb = 5, .id = 3},
};

static const struct pol_def flags_none[] = {
	{"10.1.0.5", TCP, 80, .slb = 5, .id = 3},
	{"2001:db8:100::5", TCP, 0, .slb = 7, .id = 4},
};

static const struct frame with_rules[] = {
	{"the prefix", NULL, "10.1.3.4", TCP, 80, TO(1, 1)},
	{"the prefix's rule", "198.51.100.9", "10.1.3.4", TCP, 80, TO(2, 1)},
	{"the v6 prefix", NULL, "2001:db8:100::9", TCP, 80, TO(3, 2)},
	{"the exact VIP", NULL, "10.1.0.5", TCP, 80, TO(5, 3)},
	{"the exact VIP, another port: the prefix", NULL, "10.1.0.5", TCP, 81, TO(1, 1)},
};

static const struct frame without_rules[] = {
	{"the prefix", NULL, "10.1.3.4", TCP, 80, TO(1, 1)},
	{"the former rule's source", "198.51.100.9", "10.1.3.4", TCP, 80, TO(1, 1)},
	{"the v6 prefix", NULL, "2001:db8:100::9", TCP, 80, TO(3, 2)},
	{"the exact VIP, another port: the prefix", NULL, "10.1.0.5", TCP, 81, TO(1, 1)},
};

static const struct frame without_prefixes[] = {
	{"a former prefix address", NULL, "10.1.3.4", TCP, 80, PASSES},
	{"a former prefix address, the former rule's source", "198.51.100.9", "10.1.3.4", TCP, 80,
	 PASSES},
	{"a former v6 prefix address", NULL, "2001:db8:100::9", TCP, 80, PASSES},
	{"the exact VIP", NULL, "10.1.0.5", TCP, 80, TO(5, 3)},
	{"the exact VIP, another port: no prefix to fall to", NULL, "10.1.0.5", TCP, 81, NO_POLICY},
	{"the v6 exact VIP", NULL, "2001:db8:100::5", TCP, 80, TO(7, 4)},
};

/* The flags the running set has, and that the slot moved since prev. */
static __u32 expect_active(const char *name, __u32 prev, __u32 flags)
{
	__u32 v = active_word();

	if ((v & ~VSN_ACTIVE_SLOT) != flags || (v & VSN_ACTIVE_SLOT) == (prev & VSN_ACTIVE_SLOT))
		fail_msg("%s: vsn_active %#x, expected flags %#x and a slot other than %u", name, v,
			 flags, prev & VSN_ACTIVE_SLOT);
	return v;
}

static int count_cb(const struct vsn_dp_policy *p, void *arg)
{
	(*(size_t *)arg)++;
	return 0;
}

static void test_active_flags(void **state)
{
	const __u32 both = VSN_ACTIVE_PREFIXES | VSN_ACTIVE_CLIENTS;
	__u32 v = active_word();
	size_t n = 0;

	APPLY(flags_both);
	v = expect_active("prefixes and rules", v, both);
	CHECK_FRAMES(with_rules);
	/* A member of pool A changes state: the tables are rebuilt, the rest kept. */
	assert_int_equal(vsn_dp_slb_set_state(env.dp, 10, VSN_SLB_DOWN), 0);
	v = expect_active("a pool member down", v, both);
	assert_int_equal(vsn_dp_slb_set_state(env.dp, 10, VSN_SLB_UP), 0);
	v = expect_active("a pool member up again", v, both);
	CHECK_FRAMES(with_rules);

	APPLY(flags_prefixes);
	v = expect_active("prefixes, no rules", v, VSN_ACTIVE_PREFIXES);
	CHECK_FRAMES(without_rules);

	/*
	 * Twice: the second set goes to the slot whose tries the prefix sets
	 * left there, which only vsn_active says not to read.
	 */
	APPLY(flags_none);
	v = expect_active("no prefixes", v, 0);
	CHECK_FRAMES(without_prefixes);
	APPLY(flags_none);
	v = expect_active("no prefixes, again", v, 0);
	CHECK_FRAMES(without_prefixes);
	assert_int_equal(vsn_dp_policies_foreach(env.dp, count_cb, &n), 0);
	assert_int_equal(n, N_OF(flags_none));

	APPLY(flags_both);
	expect_active("prefixes and rules again", v, both);
	CHECK_FRAMES(with_rules);
}

/* --- 7. An IPv6 prefix holds no IPv4 address. --- */

/*
 * ::/1 holds ::ffff:0:0/96, the form IPv4 addresses take in the tables, but
 * no IPv4 packet is addressed to an IPv6 prefix.
 */
static const struct pol_def v6_wide_set[] = {
	{"::/1", TCP, 0, .slb = 1, .id = 1},
	{"8000::/1", TCP, 0, .slb = 2, .id = 2},
	{"10.1.0.0/16", TCP, 0, .slb = 3, .id = 3},
	{"192.0.2.10", TCP, 80, .slb = 4, .id = 4},
};

static const struct frame v6_wide_frames[] = {
	{"v6 in ::/1", NULL, "2001:db8::1", TCP, 80, TO(1, 1)},
	{"v6 in 8000::/1", NULL, "fd00::1", TCP, 80, TO(2, 2)},
	{"v4 in a v4 prefix", NULL, "10.1.3.4", TCP, 80, TO(3, 3)},
	{"v4 exact VIP", NULL, "192.0.2.10", TCP, 80, TO(4, 4)},
	{"v4 exact VIP, another port", NULL, "192.0.2.10", TCP, 81, NO_POLICY},
	{"v4 no VIP, in no v4 prefix", NULL, "198.51.100.1", TCP, 80, PASSES},
};

static void test_v6_prefix_no_v4(void **state)
{
	APPLY(v6_wide_set);
	CHECK_FRAMES(v6_wide_frames);
}

static int setup(void **state)
{
	/* Only named by refused sets: no MACs needed. */
	struct vsn_dp_slb ipip6 = {
		.id = SLB_IPIP6, .forward = VSN_FORWARD_IPIP, .nexthop_static = true};
	char a[16];
	int r;

	r = h_open(&env);
	if (r) {
		fprintf(stderr, "setup: h_open: %s\n", strerror(-r));
		return -1;
	}
	for (__u32 id = 1; id <= N_L2_SLBS && !r; id++) {
		snprintf(a, sizeof(a), "10.0.0.%u", id);
		r = h_slb_static(&env, id, a, id % 2 ? env.lo_ifindex : env.vt0_ifindex,
				 (__u8[6]){0x02, 0x51, 0, 0, id, 0xd},
				 (__u8[6]){0x02, 0x51, 0, 0, id, 0x5});
	}
	ipip6.ifindex = env.lo_ifindex;
	if (!r)
		r = vsn_addr_parse("2001:db8:5::e", &ipip6.addr);
	if (!r)
		r = vsn_dp_slb_set(env.dp, &ipip6);
	/* No bound on remembered flows: every frame here is a new one. */
	if (!r)
		r = vsn_dp_flow_limit_set(env.dp, 0);
	if (r) {
		fprintf(stderr, "setup: %s\n", strerror(-r));
		h_close(&env);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	h_close(&env);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefixes),	cmocka_unit_test(test_port_overflow),
		cmocka_unit_test(test_client_rules),	cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_roundtrip),	cmocka_unit_test(test_active_flags),
		cmocka_unit_test(test_v6_prefix_no_v4),
	};
	int r;

	r = h_init();
	if (r)
		return r;
	return cmocka_run_group_tests(tests, setup, teardown);
}
