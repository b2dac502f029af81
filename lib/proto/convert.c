/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "convert.h"
#include "maglev.h"

/*
 * Both directions build their result in one allocation carved into arrays:
 * a first pass sums the sizes (overflow-checked), a second hands them out.
 */
struct carve {
	size_t off;
	bool overflow;
	char *base;
};

static size_t carve_take(struct carve *c, size_t n, size_t size)
{
	const size_t align = alignof(max_align_t);
	size_t bytes, off = c->off;

	if (__builtin_mul_overflow(n, size, &bytes) ||
	    __builtin_add_overflow(off, bytes, &c->off) ||
	    __builtin_add_overflow(c->off, align - 1, &c->off)) {
		c->overflow = true;
		return 0;
	}
	c->off &= ~(align - 1);
	return off;
}

/* After the sizing pass: the one allocation. */
static int carve_alloc(struct carve *c)
{
	if (c->overflow)
		return -E2BIG;
	c->base = calloc(1, c->off);
	if (!c->base)
		return -ENOMEM;
	c->off = 0;
	return 0;
}

static void *carve_ptr(struct carve *c, size_t n, size_t size)
{
	size_t off = carve_take(c, n, size);

	return n && c->base ? c->base + off : NULL;
}

/* The wire's enums carry the data plane's values, so they convert by a cast after a range check. */
_Static_assert(VSN__FORWARD__FORWARD_L2 == VSN_FORWARD_L2 &&
		       VSN__FORWARD__FORWARD_IPIP == VSN_FORWARD_IPIP &&
		       VSN__FORWARD__FORWARD_GUE == VSN_FORWARD_GUE,
	       "Forward values");
_Static_assert(VSN__SLB_STATE_VALUE__SLB_UP == VSN_SLB_UP &&
		       VSN__SLB_STATE_VALUE__SLB_DOWN == VSN_SLB_DOWN &&
		       VSN__SLB_STATE_VALUE__SLB_DRAIN == VSN_SLB_DRAIN,
	       "SlbStateValue values");
_Static_assert(VSN__ON_CHANGE__ON_CHANGE_PRESERVE == VSN_ON_CHANGE_PRESERVE &&
		       VSN__ON_CHANGE__ON_CHANGE_REHASH == VSN_ON_CHANGE_REHASH,
	       "OnChange values");

/* A wire address into a vsn_addr: family and length must agree. */
static bool addr_in(Vsn__Family family, const ProtobufCBinaryData *b, struct vsn_addr *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (family == VSN__FAMILY__FAMILY_IPV4 && b->len == 4)
		ret->family = AF_INET;
	else if (family == VSN__FAMILY__FAMILY_IPV6 && b->len == 16)
		ret->family = AF_INET6;
	else
		return false;
	memcpy(ret->bytes, b->data, b->len);
	return true;
}

static unsigned int family_bits(const struct vsn_addr *a)
{
	return a->family == AF_INET ? 32 : 128;
}

/* No bit set at or beyond plen (a network address). */
static bool host_bits_zero(const struct vsn_addr *a, unsigned int plen)
{
	unsigned int bits = family_bits(a), i;

	for (i = plen; i < bits; i++)
		if (a->bytes[i / 8] & (0x80 >> (i % 8)))
			return false;
	return true;
}

static bool one_dest(uint32_t slb_id, uint32_t pool_id)
{
	return (slb_id != 0) != (pool_id != 0);
}

static bool client_in(const Vsn__ClientRule *m, const struct vsn_addr *vip, struct vsn_dp_client *c)
{
	if (!m || !addr_in(m->family, &m->prefix, &c->prefix) || c->prefix.family != vip->family)
		return false;
	if (m->plen > family_bits(&c->prefix) || !host_bits_zero(&c->prefix, m->plen))
		return false;
	if (!one_dest(m->slb_id, m->pool_id))
		return false;
	c->plen = (__u8)m->plen;
	c->slb_id = m->slb_id;
	c->pool_id = m->pool_id;
	return true;
}

static bool policy_in(const Vsn__Policy *m, struct vsn_dp_policy *p, struct vsn_dp_client *clients)
{
	if (!m || !addr_in(m->family, &m->vip, &p->vip))
		return false;
	if (m->vip_plen >= family_bits(&p->vip) || !host_bits_zero(&p->vip, m->vip_plen ?: 128))
		return false;
	if ((m->proto != IPPROTO_TCP && m->proto != IPPROTO_UDP) || m->port > 65535)
		return false;
	if (!one_dest(m->slb_id, m->pool_id))
		return false;
	if (m->on_change != VSN__ON_CHANGE__ON_CHANGE_PRESERVE &&
	    m->on_change != VSN__ON_CHANGE__ON_CHANGE_REHASH)
		return false;
	if (m->n_clients > VSN_DP_MAX_CLIENTS)
		return false;
	p->vip_plen = (__u8)m->vip_plen;
	p->proto = (__u8)m->proto;
	p->port = (__u16)m->port;
	p->slb_id = m->slb_id;
	p->pool_id = m->pool_id;
	p->service_id = m->service_id;
	p->policy_id = m->policy_id;
	p->on_change = m->on_change == VSN__ON_CHANGE__ON_CHANGE_REHASH ? VSN_ON_CHANGE_REHASH
									: VSN_ON_CHANGE_PRESERVE;
	p->n_clients = m->n_clients;
	p->clients = m->n_clients ? clients : NULL;
	for (size_t i = 0; i < m->n_clients; i++)
		if (!client_in(m->clients[i], &p->vip, &clients[i]))
			return false;
	return true;
}

static bool slb_in(const Vsn__Slb *m, struct vsn_dp_slb *s)
{
	memset(s, 0, sizeof(*s));
	if (!m || m->id == 0 || !addr_in(m->family, &m->addr, &s->addr))
		return false;
	/* Checked as ints: a hostile peer's enum may hold any value. */
	if ((int)m->forward < 0 || (int)m->forward > VSN_FORWARD_GUE || (int)m->state < 0 ||
	    (int)m->state > VSN_SLB_DRAIN)
		return false;
	s->forward = (enum vsn_forward)m->forward;
	s->state = (enum vsn_slb_state)m->state;
	s->id = m->id;
	return true;
}

static bool pool_in(const Vsn__Pool *m, struct vsn_dp_pool *p, struct vsn_dp_pool_member *members)
{
	if (!m || m->id == 0 || m->n_members == 0 || m->n_members > VSN_MAGLEV_MAX_MEMBERS)
		return false;
	for (size_t i = 0; i < m->n_members; i++) {
		const Vsn__PoolMember *mm = m->members[i];

		if (!mm || mm->slb_id == 0 || mm->weight == 0 || mm->weight > VSN_DP_MAX_WEIGHT)
			return false;
		members[i].slb_id = mm->slb_id;
		members[i].weight = mm->weight;
	}
	p->id = m->id;
	p->n_members = m->n_members;
	p->members = members;
	return true;
}

int vsn_proto_set_from_msg(const Vsn__PolicySet *msg, struct vsn_dp_set **ret_set, size_t *ret_bad)
{
	struct vsn_dp_policy *policies;
	struct vsn_dp_client *clients;
	struct vsn_dp_pool_member *members;
	struct vsn_dp_slb *slbs;
	struct vsn_dp_pool *pools;
	struct vsn_dp_set *set;
	struct carve c = {0};
	size_t n_clients = 0, n_members = 0, i, bad = 0;
	int r;

	if (msg->n_policies > VSN_PROTO_MAX_POLICIES || msg->n_slbs > VSN_PROTO_MAX_SLBS ||
	    msg->n_pools > VSN_PROTO_MAX_POOLS)
		return -E2BIG;
	if (msg->maglev_size > VSN_MAGLEV_MAX_SIZE)
		return -EINVAL;
	/* Members and rules are bounded per entry; unpacked messages hold them already. */
	for (i = 0; i < msg->n_policies; i++)
		if (msg->policies[i] && msg->policies[i]->n_clients <= VSN_DP_MAX_CLIENTS)
			n_clients += msg->policies[i]->n_clients;
	for (i = 0; i < msg->n_pools; i++)
		if (msg->pools[i] && msg->pools[i]->n_members <= VSN_MAGLEV_MAX_MEMBERS)
			n_members += msg->pools[i]->n_members;

	/* Twice: sizes first (no base), then the pieces. */
	for (int pass = 0; pass < 2; pass++) {
		if (pass && (r = carve_alloc(&c)))
			return r;
		set = carve_ptr(&c, 1, sizeof(*set));
		policies = carve_ptr(&c, msg->n_policies, sizeof(*policies));
		clients = carve_ptr(&c, n_clients, sizeof(*clients));
		slbs = carve_ptr(&c, msg->n_slbs, sizeof(*slbs));
		pools = carve_ptr(&c, msg->n_pools, sizeof(*pools));
		members = carve_ptr(&c, n_members, sizeof(*members));
	}

	for (i = 0; i < msg->n_policies; i++, bad++) {
		if (!policy_in(msg->policies[i], &policies[i], clients))
			goto fail;
		/* Pointer arithmetic on NULL (a set without client rules) is undefined: skip 0. */
		if (policies[i].n_clients)
			clients += policies[i].n_clients;
	}
	for (i = 0; i < msg->n_slbs; i++, bad++)
		if (!slb_in(msg->slbs[i], &slbs[i]))
			goto fail;
	for (i = 0; i < msg->n_pools; i++, bad++) {
		if (!pool_in(msg->pools[i], &pools[i], members))
			goto fail;
		if (pools[i].n_members)
			members += pools[i].n_members;
	}
	set->generation = msg->generation;
	set->n_policies = msg->n_policies;
	set->policies = policies;
	set->n_slbs = msg->n_slbs;
	set->slbs = slbs;
	set->n_pools = msg->n_pools;
	set->pools = pools;
	set->maglev_size = msg->maglev_size;
	set->hash_seed = msg->hash_seed;
	*ret_set = set;
	return 0;
fail:
	free(c.base);
	if (ret_bad)
		*ret_bad = bad;
	return -EINVAL;
}

/*
 * The wire format of a serialized PolicySet, read one top-level field at a
 * time (https://protobuf.dev/programming-guides/encoding/), so that its
 * entries are unpacked by protobuf-c one by one rather than all at once.
 */
struct wire {
	const uint8_t *p, *end;
};

struct wire_field {
	uint32_t num;
	uint32_t type;	     /* 0 varint, 1 64-bit, 2 length-delimited, 5 32-bit */
	uint64_t value;	     /* types 0, 1, 5 */
	const uint8_t *data; /* type 2 */
	size_t len;
	const uint8_t *raw; /* the field's bytes after its key, whatever its type */
	size_t raw_len;
};

static bool wire_varint(struct wire *w, uint64_t *ret)
{
	uint64_t v = 0;

	for (unsigned int shift = 0; shift < 70 && w->p < w->end; shift += 7) {
		uint8_t b = *w->p++;

		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*ret = v;
			return true;
		}
	}
	return false;
}

/*
 * Key and lengths are read exactly as protobuf-c reads them (protobuf-c.c:
 * parse_tag_and_wiretype(), scan_length_prefixed_data()), so that both
 * decoders accept the same bytes: a key of at most 5 bytes whose first byte
 * has tag bits, a length prefix of at most 5 bytes and at most INT_MAX.
 */
static bool wire_key(struct wire *w, uint32_t *num, uint32_t *type)
{
	size_t avail = (size_t)(w->end - w->p), max = avail < 5 ? avail : 5;
	const uint8_t *d = w->p;
	unsigned int shift = 4;
	uint32_t tag;

	if (!avail || (d[0] & 0xf8) == 0)
		return false;
	*type = d[0] & 7;
	tag = (d[0] & 0x7fu) >> 3;
	if (!(d[0] & 0x80)) {
		*num = tag;
		w->p += 1;
		return true;
	}
	for (size_t i = 1; i < max; i++) {
		if (d[i] & 0x80) {
			tag |= (uint32_t)(d[i] & 0x7f) << shift;
			shift += 7;
		} else {
			tag |= (uint32_t)d[i] << shift;
			*num = tag;
			w->p += i + 1;
			return true;
		}
	}
	return false;
}

static bool wire_length(struct wire *w, size_t *ret)
{
	size_t avail = (size_t)(w->end - w->p), max = avail < 5 ? avail : 5, v = 0;

	for (size_t i = 0; i < max; i++) {
		v |= (size_t)(w->p[i] & 0x7f) << (7 * i);
		if (!(w->p[i] & 0x80)) {
			if (v > INT_MAX || v > avail - i - 1)
				return false;
			w->p += i + 1;
			*ret = v;
			return true;
		}
	}
	return false;
}

/* The next field; 0 at the end, 1 with *f, -EBADMSG for a malformed one. */
static int wire_next(struct wire *w, struct wire_field *f)
{
	if (w->p == w->end)
		return 0;
	if (!wire_key(w, &f->num, &f->type))
		return -EBADMSG;
	f->raw = w->p;
	switch (f->type) {
	case 0:
		if (!wire_varint(w, &f->value))
			return -EBADMSG;
		break;
	case 1:
	case 5: {
		size_t n = f->type == 1 ? 8 : 4;

		if ((size_t)(w->end - w->p) < n)
			return -EBADMSG;
		f->value = 0;
		for (size_t i = 0; i < n; i++)
			f->value |= (uint64_t)w->p[i] << (8 * i);
		w->p += n;
		break;
	}
	case 2:
		if (!wire_length(w, &f->len))
			return -EBADMSG;
		f->data = w->p;
		w->p += f->len;
		break;
	default:
		return -EBADMSG; /* groups are not proto3 */
	}
	f->raw_len = (size_t)(w->p - f->raw);
	return 1;
}

/* How many fields num a message holds; -EBADMSG when it does not scan. */
static int wire_count(const uint8_t *data, size_t len, uint32_t num, size_t *ret)
{
	struct wire w = {data, data + len};
	struct wire_field f;
	size_t n = 0;
	int r;

	while ((r = wire_next(&w, &f)) == 1)
		n += f.num == num;
	*ret = n;
	return r;
}

/* PolicySet's field numbers (proto/vsn.proto). */
enum {
	PS_GENERATION = 1,
	PS_SLBS = 2,
	PS_POOLS = 3,
	PS_POLICIES = 4,
	PS_MAGLEV_SIZE = 5,
	PS_HASH_SEED = 6,
	PS_HOLD = 7,
	POLICY_CLIENTS = 11,
	POOL_MEMBERS = 2,
};

/*
 * A bump allocator for protobuf-c: one entry's unpacking allocates from it
 * and vsn_arena_reset() frees it all, instead of a malloc per field.
 */
struct arena {
	char *buf;
	size_t size, used;
	void **big; /* allocations larger than the buffer, freed at reset */
	size_t n_big, cap_big;
};

static void *arena_alloc(void *ad, size_t n)
{
	struct arena *a = ad;
	size_t at = (a->used + 15) & ~(size_t)15;

	if (n <= a->size && at + n <= a->size) {
		a->used = at + n;
		return a->buf + at;
	}
	if (a->n_big == a->cap_big) {
		size_t cap = a->cap_big ? a->cap_big * 2 : 16;
		void **b = realloc(a->big, cap * sizeof(*b));

		if (!b)
			return NULL;
		a->big = b;
		a->cap_big = cap;
	}
	a->big[a->n_big] = malloc(n ? n : 1);
	return a->big[a->n_big] ? a->big[a->n_big++] : NULL;
}

static void arena_free(void *ad, void *p)
{
	/* Everything goes at once, in arena_reset(). */
}

static void arena_reset(struct arena *a)
{
	for (size_t i = 0; i < a->n_big; i++)
		free(a->big[i]);
	a->n_big = 0;
	a->used = 0;
}

int vsn_proto_set_from_bytes(const uint8_t *data, size_t len, struct vsn_dp_set **ret_set,
			     size_t *ret_bad, bool *ret_hold)
{
	static char arena_buf[64 << 10] __attribute__((aligned(16)));
	struct arena ar = {.buf = arena_buf, .size = sizeof(arena_buf)};
	ProtobufCAllocator alloc = {
		.alloc = arena_alloc, .free = arena_free, .allocator_data = &ar};
	size_t np = 0, ns = 0, npool = 0, n_clients = 0, n_members = 0, bad = 0, k;
	struct vsn_dp_policy *policies;
	struct vsn_dp_client *clients;
	struct vsn_dp_pool_member *members;
	struct vsn_dp_slb *slbs;
	struct vsn_dp_pool *pools;
	struct vsn_dp_set *set;
	struct carve c = {0};
	uint64_t generation = 0, maglev = 0, seed = 0, hold = 0;
	struct wire w = {data, data + len};
	struct wire_field f;
	size_t ip = 0, is = 0, ipool = 0;
	bool invalid = false;
	int r;

	/* Pass 1: the counts, the scalars, and a check that every field scans. */
	while ((r = wire_next(&w, &f)) == 1) {
		bool want_len = f.num == PS_SLBS || f.num == PS_POOLS || f.num == PS_POLICIES;
		bool want_varint = f.num == PS_GENERATION || f.num == PS_MAGLEV_SIZE ||
				   f.num == PS_HASH_SEED || f.num == PS_HOLD;

		/*
		 * A known field of another wire type: protobuf-c refuses the message too, except
		 * for a bool, which it reads from whatever bytes follow (parse_boolean).
		 */
		if ((want_len && f.type != 2) || (want_varint && f.num != PS_HOLD && f.type != 0))
			return -EBADMSG;
		switch (f.num) {
		case PS_GENERATION:
			generation = f.value;
			break;
		case PS_MAGLEV_SIZE:
			maglev = (uint32_t)f.value;
			break;
		case PS_HASH_SEED:
			seed = (uint32_t)f.value;
			break;
		case PS_HOLD:
			/* protobuf-c's parse_boolean: true when any byte has a low bit set. */
			hold = 0;
			for (size_t i = 0; i < f.raw_len; i++)
				hold |= f.raw[i] & 0x7f;
			break;
		case PS_POLICIES:
			if (++np > VSN_PROTO_MAX_POLICIES)
				return -E2BIG;
			if ((r = wire_count(f.data, f.len, POLICY_CLIENTS, &k)))
				return r;
			if (k <= VSN_DP_MAX_CLIENTS)
				n_clients += k;
			break;
		case PS_SLBS:
			if (++ns > VSN_PROTO_MAX_SLBS)
				return -E2BIG;
			break;
		case PS_POOLS:
			if (++npool > VSN_PROTO_MAX_POOLS)
				return -E2BIG;
			if ((r = wire_count(f.data, f.len, POOL_MEMBERS, &k)))
				return r;
			if (k <= VSN_MAGLEV_MAX_MEMBERS)
				n_members += k;
			break;
		}
	}
	if (r)
		return r;

	for (int pass = 0; pass < 2; pass++) {
		if (pass && (r = carve_alloc(&c)))
			return r;
		set = carve_ptr(&c, 1, sizeof(*set));
		policies = carve_ptr(&c, np, sizeof(*policies));
		clients = carve_ptr(&c, n_clients, sizeof(*clients));
		slbs = carve_ptr(&c, ns, sizeof(*slbs));
		pools = carve_ptr(&c, npool, sizeof(*pools));
		members = carve_ptr(&c, n_members, sizeof(*members));
	}

	/*
	 * Pass 2: each entry unpacked on its own, converted, dropped; policies, then SLBs, then
	 * pools (one scan each), so the first bad entry is the one from_msg would name.
	 */
	/*
	 * After the first bad entry the rest is still unpacked, not converted: bytes that do not
	 * unpack anywhere make the whole message -EBADMSG, as for protobuf-c.
	 */
	static const uint32_t order[] = {PS_POLICIES, PS_SLBS, PS_POOLS};
	for (size_t o = 0; o < sizeof(order) / sizeof(order[0]); o++) {
		w = (struct wire){data, data + len};
		while (wire_next(&w, &f) == 1) {
			void *m;
			bool ok;

			if (f.num != order[o])
				continue;
			if (f.num == PS_POLICIES) {
				m = vsn__policy__unpack(&alloc, f.len, f.data);
				ok = invalid || (m && policy_in(m, &policies[ip], clients));
				if (!invalid && ok && policies[ip].n_clients)
					clients += policies[ip].n_clients;
				if (!invalid)
					bad = ip;
				ip++;
			} else if (f.num == PS_SLBS) {
				m = vsn__slb__unpack(&alloc, f.len, f.data);
				ok = invalid || (m && slb_in(m, &slbs[is]));
				if (!invalid)
					bad = np + is;
				is++;
			} else {
				m = vsn__pool__unpack(&alloc, f.len, f.data);
				ok = invalid || (m && pool_in(m, &pools[ipool], members));
				if (!invalid && ok && pools[ipool].n_members)
					members += pools[ipool].n_members;
				if (!invalid)
					bad = np + ns + ipool;
				ipool++;
			}
			arena_reset(&ar);
			if (!m) {
				r = -EBADMSG;
				goto fail;
			}
			invalid = invalid || !ok;
		}
	}
	/* As from_msg: a bad maglev_size (no index) before a bad entry. */
	if (maglev > VSN_MAGLEV_MAX_SIZE) {
		invalid = false;
		r = -EINVAL;
		goto fail;
	}
	if (invalid) {
		r = -EINVAL;
		goto fail;
	}
	set->generation = generation;
	set->n_policies = np;
	set->policies = policies;
	set->n_slbs = ns;
	set->slbs = slbs;
	set->n_pools = npool;
	set->pools = pools;
	set->maglev_size = (__u32)maglev;
	set->hash_seed = (__u32)seed;
	*ret_set = set;
	if (ret_hold)
		*ret_hold = hold != 0;
	free(ar.big);
	return 0;
fail:
	arena_reset(&ar);
	free(ar.big);
	free(c.base);
	if (invalid && ret_bad)
		*ret_bad = bad;
	return r;
}

void vsn_proto_set_free(struct vsn_dp_set *set)
{
	/* The set is the first piece of its one allocation. */
	free(set);
}

static bool addr_out(const struct vsn_addr *a, Vsn__Family *family, ProtobufCBinaryData *b,
		     uint8_t *bytes)
{
	if (a->family == AF_INET) {
		*family = VSN__FAMILY__FAMILY_IPV4;
		b->len = 4;
	} else if (a->family == AF_INET6) {
		*family = VSN__FAMILY__FAMILY_IPV6;
		b->len = 16;
	} else {
		return false;
	}
	memcpy(bytes, a->bytes, b->len);
	b->data = bytes;
	return true;
}

/* Each address takes 16 bytes of *bytes; client rules the next of *cl and *cl_p. */
static bool policy_out(const struct vsn_dp_policy *p, Vsn__Policy *m, Vsn__ClientRule **cl,
		       Vsn__ClientRule ***cl_p, uint8_t **bytes)
{
	vsn__policy__init(m);
	if (!addr_out(&p->vip, &m->family, &m->vip, *bytes))
		return false;
	*bytes += 16;
	m->vip_plen = p->vip_plen;
	m->proto = p->proto;
	m->port = p->port;
	m->slb_id = p->slb_id;
	m->pool_id = p->pool_id;
	m->service_id = p->service_id;
	m->policy_id = p->policy_id;
	m->on_change = p->on_change == VSN_ON_CHANGE_REHASH ? VSN__ON_CHANGE__ON_CHANGE_REHASH
							    : VSN__ON_CHANGE__ON_CHANGE_PRESERVE;
	m->n_clients = p->n_clients;
	m->clients = p->n_clients ? *cl_p : NULL;
	for (size_t j = 0; j < p->n_clients; j++) {
		Vsn__ClientRule *c = (*cl)++;

		vsn__client_rule__init(c);
		*(*cl_p)++ = c;
		if (!addr_out(&p->clients[j].prefix, &c->family, &c->prefix, *bytes))
			return false;
		*bytes += 16;
		c->plen = p->clients[j].plen;
		c->slb_id = p->clients[j].slb_id;
		c->pool_id = p->clients[j].pool_id;
	}
	return true;
}

static bool slb_out(const struct vsn_dp_slb *s, Vsn__Slb *m, uint8_t **bytes)
{
	vsn__slb__init(m);
	if (!addr_out(&s->addr, &m->family, &m->addr, *bytes))
		return false;
	*bytes += 16;
	m->id = s->id;
	m->forward = (Vsn__Forward)s->forward;
	m->state = (Vsn__SlbStateValue)s->state;
	return true;
}

int vsn_proto_set_to_msg(const struct vsn_dp_set *set, Vsn__PolicySet **ret_msg, size_t *ret_bad)
{
	size_t n_clients = 0, n_members = 0, n_addrs, i, j, bad = 0;
	Vsn__PolicySet *msg;
	Vsn__Policy *pol, **pol_p;
	Vsn__ClientRule *cl, **cl_p;
	Vsn__Slb *slb, **slb_p;
	Vsn__Pool *pool, **pool_p;
	Vsn__PoolMember *mem, **mem_p;
	uint8_t *bytes;
	struct carve c = {0};
	int r;

	for (i = 0; i < set->n_policies; i++)
		if (__builtin_add_overflow(n_clients, set->policies[i].n_clients, &n_clients))
			return -E2BIG;
	for (i = 0; i < set->n_pools; i++)
		if (__builtin_add_overflow(n_members, set->pools[i].n_members, &n_members))
			return -E2BIG;
	if (__builtin_add_overflow(n_clients, set->n_policies + set->n_slbs, &n_addrs))
		return -E2BIG;
	/* Twice: sizes first (no base), then the pieces. */
	for (int pass = 0; pass < 2; pass++) {
		if (pass && (r = carve_alloc(&c)))
			return r;
		msg = carve_ptr(&c, 1, sizeof(*msg));
		pol = carve_ptr(&c, set->n_policies, sizeof(*pol));
		pol_p = carve_ptr(&c, set->n_policies, sizeof(*pol_p));
		cl = carve_ptr(&c, n_clients, sizeof(*cl));
		cl_p = carve_ptr(&c, n_clients, sizeof(*cl_p));
		slb = carve_ptr(&c, set->n_slbs, sizeof(*slb));
		slb_p = carve_ptr(&c, set->n_slbs, sizeof(*slb_p));
		pool = carve_ptr(&c, set->n_pools, sizeof(*pool));
		pool_p = carve_ptr(&c, set->n_pools, sizeof(*pool_p));
		mem = carve_ptr(&c, n_members, sizeof(*mem));
		mem_p = carve_ptr(&c, n_members, sizeof(*mem_p));
		bytes = carve_ptr(&c, n_addrs, 16);
	}

	vsn__policy_set__init(msg);
	msg->generation = set->generation;
	msg->maglev_size = set->maglev_size;
	msg->hash_seed = set->hash_seed;
	msg->n_policies = set->n_policies;
	msg->policies = pol_p;
	for (i = 0; i < set->n_policies; i++, bad++) {
		pol_p[i] = &pol[i];
		if (!policy_out(&set->policies[i], &pol[i], &cl, &cl_p, &bytes))
			goto fail;
	}
	msg->n_slbs = set->n_slbs;
	msg->slbs = slb_p;
	for (i = 0; i < set->n_slbs; i++, bad++) {
		slb_p[i] = &slb[i];
		if (!slb_out(&set->slbs[i], &slb[i], &bytes))
			goto fail;
	}
	msg->n_pools = set->n_pools;
	msg->pools = pool_p;
	for (i = 0; i < set->n_pools; i++) {
		const struct vsn_dp_pool *p = &set->pools[i];
		Vsn__Pool *m = &pool[i];

		vsn__pool__init(m);
		pool_p[i] = m;
		m->id = p->id;
		m->n_members = p->n_members;
		m->members = p->n_members ? mem_p : NULL;
		for (j = 0; j < p->n_members; j++) {
			vsn__pool_member__init(mem);
			*mem_p++ = mem;
			mem->slb_id = p->members[j].slb_id;
			mem->weight = p->members[j].weight;
			mem++;
		}
	}
	*ret_msg = msg;
	return 0;
fail:
	free(c.base);
	if (ret_bad)
		*ret_bad = bad;
	return -EINVAL;
}

void vsn_proto_msg_free(Vsn__PolicySet *msg)
{
	free(msg);
}

Vsn__NackCode vsn_proto_nack_code(int err)
{
	switch (err < 0 ? -err : err) {
	case EINVAL:
		return VSN__NACK_CODE__NACK_INVALID;
	case ESTALE:
		return VSN__NACK_CODE__NACK_STALE;
	case E2BIG:
	case ERANGE:
		return VSN__NACK_CODE__NACK_TOO_BIG;
	case ENOENT:
		return VSN__NACK_CODE__NACK_NOT_FOUND;
	case EEXIST:
	case ENOTUNIQ:
		return VSN__NACK_CODE__NACK_DUPLICATE;
	case EAFNOSUPPORT:
		return VSN__NACK_CODE__NACK_FAMILY;
	case EBADMSG:
		return VSN__NACK_CODE__NACK_DIGEST;
	case EPROTO:
		return VSN__NACK_CODE__NACK_SEQUENCE;
	case EPROTONOSUPPORT:
		return VSN__NACK_CODE__NACK_VERSION;
	default:
		return VSN__NACK_CODE__NACK_INTERNAL;
	}
}

int vsn_proto_nack_errno(Vsn__NackCode code)
{
	switch (code) {
	case VSN__NACK_CODE__NACK_INVALID:
		return EINVAL;
	case VSN__NACK_CODE__NACK_STALE:
		return ESTALE;
	case VSN__NACK_CODE__NACK_TOO_BIG:
		return E2BIG;
	case VSN__NACK_CODE__NACK_NOT_FOUND:
		return ENOENT;
	case VSN__NACK_CODE__NACK_DUPLICATE:
		return EEXIST;
	case VSN__NACK_CODE__NACK_FAMILY:
		return EAFNOSUPPORT;
	case VSN__NACK_CODE__NACK_DIGEST:
		return EBADMSG;
	case VSN__NACK_CODE__NACK_SEQUENCE:
		return EPROTO;
	case VSN__NACK_CODE__NACK_VERSION:
		return EPROTONOSUPPORT;
	default:
		return EIO;
	}
}
