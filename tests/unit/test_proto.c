/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libvsnproto: framing, chunking with its digest, and PolicySet <-> vsn_dp_set
 * conversion, with hostile input refused.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "chunk.h"
#include "convert.h"
#include "frame.h"
#include "maglev.h"

/* A set that uses every field: policies (some prefixes, some with client rules), SLBs, pools. */
struct test_set {
	struct vsn_dp_set set;
	struct vsn_dp_policy *policies;
	struct vsn_dp_client *clients;
	struct vsn_dp_slb slbs[3];
	struct vsn_dp_pool pools[2];
	struct vsn_dp_pool_member members[5];
};

static void v4(struct vsn_addr *a, uint32_t host)
{
	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	a->bytes[0] = (uint8_t)(host >> 24);
	a->bytes[1] = (uint8_t)(host >> 16);
	a->bytes[2] = (uint8_t)(host >> 8);
	a->bytes[3] = (uint8_t)host;
}

static void v6(struct vsn_addr *a, uint32_t low)
{
	memset(a, 0, sizeof(*a));
	a->family = AF_INET6;
	a->bytes[0] = 0x20;
	a->bytes[1] = 0x01;
	a->bytes[2] = 0x0d;
	a->bytes[3] = 0xb8;
	a->bytes[12] = (uint8_t)(low >> 24);
	a->bytes[13] = (uint8_t)(low >> 16);
	a->bytes[14] = (uint8_t)(low >> 8);
	a->bytes[15] = (uint8_t)low;
}

static struct test_set *test_set_new(size_t n)
{
	struct test_set *t = calloc(1, sizeof(*t));
	size_t i;

	assert_non_null(t);
	t->policies = calloc(n, sizeof(*t->policies));
	t->clients = calloc(n, 2 * sizeof(*t->clients));
	assert_non_null(t->policies);
	assert_non_null(t->clients);
	for (i = 0; i < n; i++) {
		struct vsn_dp_policy *p = &t->policies[i];

		if (i % 2)
			v6(&p->vip, (uint32_t)i << 8);
		else
			v4(&p->vip, 0x0a000000u + ((uint32_t)i << 8));
		p->vip_plen = i % 7 == 0 ? (p->vip.family == AF_INET ? 24 : 120) : 0;
		p->proto = i % 3 ? IPPROTO_TCP : IPPROTO_UDP;
		p->port = (uint16_t)(i % 65536);
		if (i % 4)
			p->slb_id = 1 + (uint32_t)(i % 3);
		else
			p->pool_id = 1 + (uint32_t)(i % 2);
		p->service_id = (uint32_t)(i % 4096);
		p->policy_id = (uint32_t)i;
		p->on_change = i % 5 ? VSN_ON_CHANGE_PRESERVE : VSN_ON_CHANGE_REHASH;
		if (i % 10 == 0) {
			struct vsn_dp_client *c = &t->clients[2 * i];

			if (p->vip.family == AF_INET) {
				v4(&c[0].prefix, 0xc0a80000u);
				c[0].plen = 16;
				v4(&c[1].prefix, 0xc0a80100u);
				c[1].plen = 24;
			} else {
				v6(&c[0].prefix, 0);
				c[0].plen = 64;
				v6(&c[1].prefix, 0x100);
				c[1].plen = 120;
			}
			c[0].slb_id = 2;
			c[1].pool_id = 2;
			p->n_clients = 2;
			p->clients = c;
		}
	}
	for (i = 0; i < 3; i++) {
		t->slbs[i].id = (uint32_t)i + 1;
		if (i == 2)
			v6(&t->slbs[i].addr, 0xabcd);
		else
			v4(&t->slbs[i].addr, 0xc6336401u + (uint32_t)i);
		t->slbs[i].forward = (enum vsn_forward)i;
		t->slbs[i].state = (enum vsn_slb_state)((i + 1) % 3);
	}
	t->members[0] = (struct vsn_dp_pool_member){.slb_id = 1, .weight = 1};
	t->members[1] = (struct vsn_dp_pool_member){.slb_id = 2, .weight = 65535};
	t->members[2] = (struct vsn_dp_pool_member){.slb_id = 1, .weight = 3};
	t->members[3] = (struct vsn_dp_pool_member){.slb_id = 2, .weight = 4};
	t->members[4] = (struct vsn_dp_pool_member){.slb_id = 3, .weight = 5};
	t->pools[0] = (struct vsn_dp_pool){.id = 1, .n_members = 2, .members = &t->members[0]};
	t->pools[1] = (struct vsn_dp_pool){.id = 2, .n_members = 3, .members = &t->members[2]};
	t->set = (struct vsn_dp_set){
		.generation = 42,
		.n_policies = n,
		.policies = t->policies,
		.n_slbs = 3,
		.slbs = t->slbs,
		.n_pools = 2,
		.pools = t->pools,
		.maglev_size = 65537,
		.hash_seed = 0xdeadbeef,
	};
	return t;
}

static void test_set_free(struct test_set *t)
{
	free(t->policies);
	free(t->clients);
	free(t);
}

static void assert_addr_equal(const struct vsn_addr *a, const struct vsn_addr *b)
{
	assert_int_equal(a->family, b->family);
	assert_memory_equal(a->bytes, b->bytes, a->family == AF_INET ? 4 : 16);
}

static void assert_sets_equal(const struct vsn_dp_set *a, const struct vsn_dp_set *b)
{
	assert_int_equal(a->generation, b->generation);
	assert_int_equal(a->maglev_size, b->maglev_size);
	assert_int_equal(a->hash_seed, b->hash_seed);
	assert_int_equal(a->n_policies, b->n_policies);
	for (size_t i = 0; i < a->n_policies; i++) {
		const struct vsn_dp_policy *p = &a->policies[i], *q = &b->policies[i];

		assert_addr_equal(&p->vip, &q->vip);
		assert_int_equal(p->vip_plen, q->vip_plen);
		assert_int_equal(p->proto, q->proto);
		assert_int_equal(p->port, q->port);
		assert_int_equal(p->slb_id, q->slb_id);
		assert_int_equal(p->pool_id, q->pool_id);
		assert_int_equal(p->service_id, q->service_id);
		assert_int_equal(p->policy_id, q->policy_id);
		assert_int_equal(p->on_change, q->on_change);
		assert_int_equal(p->n_clients, q->n_clients);
		for (size_t j = 0; j < p->n_clients; j++) {
			assert_addr_equal(&p->clients[j].prefix, &q->clients[j].prefix);
			assert_int_equal(p->clients[j].plen, q->clients[j].plen);
			assert_int_equal(p->clients[j].slb_id, q->clients[j].slb_id);
			assert_int_equal(p->clients[j].pool_id, q->clients[j].pool_id);
		}
	}
	assert_int_equal(a->n_slbs, b->n_slbs);
	for (size_t i = 0; i < a->n_slbs; i++) {
		assert_int_equal(a->slbs[i].id, b->slbs[i].id);
		assert_addr_equal(&a->slbs[i].addr, &b->slbs[i].addr);
		assert_int_equal(a->slbs[i].forward, b->slbs[i].forward);
		assert_int_equal(a->slbs[i].state, b->slbs[i].state);
	}
	assert_int_equal(a->n_pools, b->n_pools);
	for (size_t i = 0; i < a->n_pools; i++) {
		assert_int_equal(a->pools[i].id, b->pools[i].id);
		assert_int_equal(a->pools[i].n_members, b->pools[i].n_members);
		for (size_t j = 0; j < a->pools[i].n_members; j++) {
			assert_int_equal(a->pools[i].members[j].slb_id,
					 b->pools[i].members[j].slb_id);
			assert_int_equal(a->pools[i].members[j].weight,
					 b->pools[i].members[j].weight);
		}
	}
}

/* One envelope of each message type, filled so a round trip can be compared. */
#define N_TYPES 11

struct all_msgs {
	Vsn__Envelope env[N_TYPES];
	Vsn__Hello hello;
	Vsn__PolicySet ps;
	Vsn__PolicySetChunk chunk;
	Vsn__Ack ack;
	Vsn__Nack nack;
	Vsn__Prepare prepare;
	Vsn__Commit commit;
	Vsn__Abort abort_;
	Vsn__SlbState slb_state;
	Vsn__Stats stats;
	Vsn__Counter counters[3];
	Vsn__Counter *svc_p[2], *slb_p[1];
	Vsn__Keepalive keepalive;
	uint8_t digest[32];
};

static void all_msgs_init(struct all_msgs *m)
{
	memset(m, 0, sizeof(*m));
	for (int i = 0; i < N_TYPES; i++)
		vsn__envelope__init(&m->env[i]);
	vsn__hello__init(&m->hello);
	m->hello.node = "node-1";
	m->hello.software_version = "0.6.0";
	m->hello.protocol_version = VSN_PROTO_VERSION;
	m->hello.capabilities = 0x5;
	m->hello.running_generation = 41;
	m->env[0].msg_case = VSN__ENVELOPE__MSG_HELLO;
	m->env[0].hello = &m->hello;
	vsn__policy_set__init(&m->ps);
	m->ps.generation = 42;
	m->ps.hash_seed = 7;
	m->env[1].msg_case = VSN__ENVELOPE__MSG_POLICY_SET;
	m->env[1].policy_set = &m->ps;
	vsn__policy_set_chunk__init(&m->chunk);
	memset(m->digest, 0xab, sizeof(m->digest));
	m->chunk.generation = 42;
	m->chunk.index = 2;
	m->chunk.total = 3;
	m->chunk.data.data = (uint8_t *)"abc";
	m->chunk.data.len = 3;
	m->chunk.sha256.data = m->digest;
	m->chunk.sha256.len = 32;
	m->env[2].msg_case = VSN__ENVELOPE__MSG_CHUNK;
	m->env[2].chunk = &m->chunk;
	vsn__ack__init(&m->ack);
	m->ack.generation = 42;
	m->env[3].msg_case = VSN__ENVELOPE__MSG_ACK;
	m->env[3].ack = &m->ack;
	vsn__nack__init(&m->nack);
	m->nack.generation = 43;
	m->nack.code = VSN__NACK_CODE__NACK_NOT_FOUND;
	m->nack.message = "policy 7: no SLB 9";
	m->nack.bad_entry = 8;
	m->env[4].msg_case = VSN__ENVELOPE__MSG_NACK;
	m->env[4].nack = &m->nack;
	vsn__prepare__init(&m->prepare);
	m->prepare.generation = 44;
	m->prepare.timeout_ms = 5000;
	m->env[5].msg_case = VSN__ENVELOPE__MSG_PREPARE;
	m->env[5].prepare = &m->prepare;
	vsn__commit__init(&m->commit);
	m->commit.generation = 44;
	m->env[6].msg_case = VSN__ENVELOPE__MSG_COMMIT;
	m->env[6].commit = &m->commit;
	vsn__abort__init(&m->abort_);
	m->abort_.generation = 45;
	m->env[7].msg_case = VSN__ENVELOPE__MSG_ABORT;
	m->env[7].abort = &m->abort_;
	vsn__slb_state__init(&m->slb_state);
	m->slb_state.slb_id = 3;
	m->slb_state.state = VSN__SLB_STATE_VALUE__SLB_DRAIN;
	m->env[8].msg_case = VSN__ENVELOPE__MSG_SLB_STATE;
	m->env[8].slb_state = &m->slb_state;
	vsn__stats__init(&m->stats);
	for (int i = 0; i < 3; i++) {
		vsn__counter__init(&m->counters[i]);
		m->counters[i].id = (uint32_t)i + 10;
		m->counters[i].packets = 1000u * (uint64_t)(i + 1);
		m->counters[i].bytes = (1ull << 40) + (uint64_t)i;
	}
	m->svc_p[0] = &m->counters[0];
	m->svc_p[1] = &m->counters[1];
	m->slb_p[0] = &m->counters[2];
	m->stats.generation = 42;
	m->stats.n_services = 2;
	m->stats.services = m->svc_p;
	m->stats.n_slbs = 1;
	m->stats.slbs = m->slb_p;
	m->env[9].msg_case = VSN__ENVELOPE__MSG_STATS;
	m->env[9].stats = &m->stats;
	vsn__keepalive__init(&m->keepalive);
	m->keepalive.sent_ms = 1234567;
	m->env[10].msg_case = VSN__ENVELOPE__MSG_KEEPALIVE;
	m->env[10].keepalive = &m->keepalive;
}

/* The decoded envelope equals the one sent: same bytes when packed again. */
static void assert_env_equal(const Vsn__Envelope *a, const Vsn__Envelope *b)
{
	size_t la = vsn__envelope__get_packed_size(a), lb = vsn__envelope__get_packed_size(b);
	uint8_t *pa = malloc(la + 1), *pb = malloc(lb + 1);

	assert_int_equal(a->msg_case, b->msg_case);
	assert_int_equal(la, lb);
	vsn__envelope__pack(a, pa);
	vsn__envelope__pack(b, pb);
	assert_memory_equal(pa, pb, la);
	free(pa);
	free(pb);
}

static void every_message_round_trips_through_frames(void **state)
{
	struct all_msgs m;
	uint8_t *stream = NULL, *buf;
	size_t stream_len = 0, len, used;
	struct vsn_frame_decoder d;
	Vsn__Envelope *env;
	int i, got;

	all_msgs_init(&m);
	for (i = 0; i < N_TYPES; i++) {
		assert_int_equal(vsn_frame_encode(&m.env[i], 0, &buf, &len), 0);
		assert_int_equal(buf[4], VSN_PROTO_VERSION);
		assert_int_equal((size_t)buf[0] << 24 | buf[1] << 16 | buf[2] << 8 | buf[3],
				 len - 4);
		stream = realloc(stream, stream_len + len);
		memcpy(stream + stream_len, buf, len);
		stream_len += len;
		free(buf);
	}

	/* All frames in one slice. */
	vsn_frame_decoder_init(&d, 0);
	for (got = 0, i = 0; (size_t)i < stream_len; i += (int)used) {
		int r = vsn_frame_decoder_feed(&d, stream + i, stream_len - (size_t)i, &used, &env);

		assert_true(r == 0 || r == 1);
		if (r == 1) {
			assert_env_equal(env, &m.env[got++]);
			vsn__envelope__free_unpacked(env, NULL);
		}
	}
	assert_int_equal(got, N_TYPES);
	vsn_frame_decoder_fini(&d);

	/* One byte at a time. */
	vsn_frame_decoder_init(&d, 0);
	for (got = 0, i = 0; (size_t)i < stream_len; i++) {
		int r = vsn_frame_decoder_feed(&d, stream + i, 1, &used, &env);

		assert_int_equal(used, 1);
		assert_true(r == 0 || r == 1);
		if (r == 1) {
			assert_env_equal(env, &m.env[got++]);
			vsn__envelope__free_unpacked(env, NULL);
		}
	}
	assert_int_equal(got, N_TYPES);
	assert_int_equal(d.hdr_have, 0);
	vsn_frame_decoder_fini(&d);

	/* Slices of 7 bytes, across frame boundaries. */
	vsn_frame_decoder_init(&d, 0);
	for (got = 0, i = 0; (size_t)i < stream_len;) {
		size_t n = stream_len - (size_t)i < 7 ? stream_len - (size_t)i : 7, off = 0;

		while (off < n) {
			int r = vsn_frame_decoder_feed(&d, stream + i + off, n - off, &used, &env);

			assert_true(r == 0 || r == 1);
			off += used;
			if (r == 1) {
				assert_env_equal(env, &m.env[got++]);
				vsn__envelope__free_unpacked(env, NULL);
			}
		}
		i += (int)n;
	}
	assert_int_equal(got, N_TYPES);
	vsn_frame_decoder_fini(&d);
	free(stream);
}

static void feed_all(struct vsn_frame_decoder *d, const uint8_t *p, size_t len, int expect)
{
	size_t used = 0;
	Vsn__Envelope *env = NULL;

	assert_int_equal(vsn_frame_decoder_feed(d, p, len, &used, &env), expect);
}

static void oversize_frames_are_refused(void **state)
{
	/* Announces the maximum + 1. */
	uint8_t hdr[5] = {0x00, 0x40, 0x00, 0x01, VSN_PROTO_VERSION};
	uint8_t max_hdr[5] = {0x00, 0x40, 0x00, 0x00, VSN_PROTO_VERSION};
	struct vsn_frame_decoder d;
	Vsn__Envelope env = VSN__ENVELOPE__INIT;
	Vsn__PolicySetChunk chunk = VSN__POLICY_SET_CHUNK__INIT;
	uint8_t *buf, *big;
	size_t len;

	vsn_frame_decoder_init(&d, 0);
	feed_all(&d, hdr, sizeof(hdr), -EMSGSIZE);
	/* Sticky: the stream is unusable. */
	feed_all(&d, hdr, 1, -EMSGSIZE);
	vsn_frame_decoder_fini(&d);

	/* A claim of the maximum allocates only for the bytes that came. */
	vsn_frame_decoder_init(&d, 0);
	feed_all(&d, max_hdr, sizeof(max_hdr), 0);
	assert_int_equal(d.body_cap, 0);
	feed_all(&d, (const uint8_t *)"\x0a\x00", 2, 0);
	assert_true(d.body_cap <= 4096);
	vsn_frame_decoder_fini(&d);

	/* A smaller configured maximum. */
	vsn_frame_decoder_init(&d, 100);
	hdr[1] = 0;
	hdr[2] = 0;
	hdr[3] = 101;
	feed_all(&d, hdr, sizeof(hdr), -EMSGSIZE);
	vsn_frame_decoder_fini(&d);

	/* The encoder refuses to build one. */
	big = calloc(1, VSN_PROTO_MAX_FRAME);
	assert_non_null(big);
	chunk.data.data = big;
	chunk.data.len = VSN_PROTO_MAX_FRAME;
	env.msg_case = VSN__ENVELOPE__MSG_CHUNK;
	env.chunk = &chunk;
	assert_int_equal(vsn_frame_encode(&env, 0, &buf, &len), -EMSGSIZE);
	chunk.data.len = 1000;
	assert_int_equal(vsn_frame_encode(&env, 500, &buf, &len), -EMSGSIZE);
	assert_int_equal(vsn_frame_encode(&env, 0, &buf, &len), 0);
	free(buf);
	free(big);
}

static void unknown_versions_and_garbage_are_refused(void **state)
{
	struct all_msgs m;
	struct vsn_frame_decoder d;
	uint8_t *buf;
	size_t len;
	uint8_t zero[5] = {0, 0, 0, 0, VSN_PROTO_VERSION};
	/* A field 1 (hello) of length 10 with 1 byte present: truncated. */
	uint8_t bad[] = {0, 0, 0, 4, VSN_PROTO_VERSION, 0x0a, 0x0a, 0x01};
	/* Wire type 7 does not exist. */
	uint8_t bad_wt[] = {0, 0, 0, 2, VSN_PROTO_VERSION, 0x0f};

	all_msgs_init(&m);
	assert_int_equal(vsn_frame_encode(&m.env[0], 0, &buf, &len), 0);
	buf[4] = 2;
	vsn_frame_decoder_init(&d, 0);
	feed_all(&d, buf, len, -EPROTONOSUPPORT);
	assert_int_equal(d.peer_version, 2);
	feed_all(&d, buf, len, -EPROTONOSUPPORT);
	vsn_frame_decoder_fini(&d);
	buf[4] = 0;
	vsn_frame_decoder_init(&d, 0);
	feed_all(&d, buf, len, -EPROTONOSUPPORT);
	assert_int_equal(d.peer_version, 0);
	vsn_frame_decoder_fini(&d);
	free(buf);

	vsn_frame_decoder_init(&d, 0);
	feed_all(&d, zero, sizeof(zero), -EBADMSG);
	vsn_frame_decoder_fini(&d);
	vsn_frame_decoder_init(&d, 0);
	feed_all(&d, bad, sizeof(bad), -EBADMSG);
	vsn_frame_decoder_fini(&d);
	vsn_frame_decoder_init(&d, 0);
	for (size_t i = 0; i + 1 < sizeof(bad_wt); i++)
		feed_all(&d, bad_wt + i, 1, 0);
	feed_all(&d, bad_wt + sizeof(bad_wt) - 1, 1, -EBADMSG);
	vsn_frame_decoder_fini(&d);
}

static void small_set_converts_both_ways(void **state)
{
	struct test_set *t = test_set_new(50);
	Vsn__PolicySet *msg, *unpacked;
	struct vsn_dp_set *back;
	size_t bad = 99, len;
	uint8_t *buf;

	assert_int_equal(vsn_proto_set_to_msg(&t->set, &msg, &bad), 0);
	assert_int_equal(bad, 99);
	len = vsn__policy_set__get_packed_size(msg);
	buf = malloc(len);
	assert_int_equal(vsn__policy_set__pack(msg, buf), len);
	vsn_proto_msg_free(msg);
	unpacked = vsn__policy_set__unpack(NULL, len, buf);
	assert_non_null(unpacked);
	assert_int_equal(vsn_proto_set_from_msg(unpacked, &back, &bad), 0);
	assert_sets_equal(&t->set, back);
	vsn_proto_set_free(back);
	vsn__policy_set__free_unpacked(unpacked, NULL);
	/* Entry by entry from the bytes: the same set; the hold flag read too. */
	bool hold = true;
	assert_int_equal(vsn_proto_set_from_bytes(buf, len, &back, &bad, &hold), 0);
	assert_sets_equal(&t->set, back);
	assert_false(hold);
	vsn_proto_set_free(back);
	/* Cut anywhere inside, the bytes are no PolicySet: -EBADMSG, like protobuf-c's. */
	for (size_t cut = 1; cut < len; cut += 7) {
		Vsn__PolicySet *part = vsn__policy_set__unpack(NULL, cut, buf);

		if (part)
			vsn__policy_set__free_unpacked(part, NULL);
		else
			assert_int_equal(vsn_proto_set_from_bytes(buf, cut, &back, &bad, NULL),
					 -EBADMSG);
	}
	free(buf);

	/* An empty set. */
	t->set.n_policies = t->set.n_slbs = t->set.n_pools = 0;
	assert_int_equal(vsn_proto_set_to_msg(&t->set, &msg, &bad), 0);
	assert_int_equal(vsn_proto_set_from_msg(msg, &back, &bad), 0);
	assert_sets_equal(&t->set, back);
	assert_null(back->policies);
	vsn_proto_set_free(back);
	vsn_proto_msg_free(msg);
	test_set_free(t);
}

static Vsn__PolicySet *reassemble(struct vsn_reasm *r, const struct vsn_chunks *c)
{
	Vsn__PolicySet *ps = NULL;

	for (size_t i = 0; i < c->n; i++)
		assert_int_equal(vsn_reasm_add(r, &c->chunk[i], &ps), i + 1 == c->n ? 1 : 0);
	return ps;
}

static void large_set_travels_in_chunks(void **state)
{
	struct test_set *t = test_set_new(100000);
	Vsn__PolicySet *msg, *ps;
	struct vsn_dp_set *back;
	struct vsn_chunks c;
	struct vsn_reasm r;
	struct vsn_frame_decoder d;
	size_t len, bad, used;
	uint8_t *buf;

	assert_int_equal(vsn_proto_set_to_msg(&t->set, &msg, &bad), 0);
	len = vsn__policy_set__get_packed_size(msg);
	assert_true(len > 2 * (256u << 10));
	buf = malloc(len);
	assert_int_equal(vsn__policy_set__pack(msg, buf), len);
	vsn_proto_msg_free(msg);
	assert_int_equal(vsn_chunks_split(42, buf, len, 256u << 10, &c), 0);
	assert_int_equal(c.n, (len + (256u << 10) - 1) / (256u << 10));
	assert_int_equal(c.chunk[c.n - 1].sha256.len, 32);
	assert_int_equal(c.chunk[0].sha256.len, 0);

	/* Every chunk through a frame and the decoder, then into the reassembler. */
	vsn_reasm_init(&r, 0, 0);
	vsn_frame_decoder_init(&d, 0);
	ps = NULL;
	for (size_t i = 0; i < c.n; i++) {
		Vsn__Envelope env = VSN__ENVELOPE__INIT, *got;
		uint8_t *frame;
		size_t flen;

		env.msg_case = VSN__ENVELOPE__MSG_CHUNK;
		env.chunk = &c.chunk[i];
		assert_int_equal(vsn_frame_encode(&env, 0, &frame, &flen), 0);
		assert_int_equal(vsn_frame_decoder_feed(&d, frame, flen, &used, &got), 1);
		assert_int_equal(used, flen);
		assert_int_equal(got->msg_case, VSN__ENVELOPE__MSG_CHUNK);
		assert_int_equal(vsn_reasm_add(&r, got->chunk, &ps), i + 1 == c.n ? 1 : 0);
		vsn__envelope__free_unpacked(got, NULL);
		free(frame);
	}
	vsn_frame_decoder_fini(&d);
	assert_non_null(ps);
	assert_int_equal(vsn_proto_set_from_msg(ps, &back, &bad), 0);
	assert_sets_equal(&t->set, back);
	vsn_proto_set_free(back);
	vsn__policy_set__free_unpacked(ps, NULL);

	/* The reassembler is ready for the next set. */
	ps = reassemble(&r, &c);
	assert_non_null(ps);
	vsn__policy_set__free_unpacked(ps, NULL);

	vsn_reasm_fini(&r);
	vsn_chunks_free(&c);
	free(buf);
	test_set_free(t);
}

static void digest_mismatch_is_refused(void **state)
{
	struct test_set *t = test_set_new(1000);
	Vsn__PolicySet *msg, *ps = NULL;
	struct vsn_chunks c;
	struct vsn_reasm r;
	size_t len, bad;
	uint8_t *buf;

	assert_int_equal(vsn_proto_set_to_msg(&t->set, &msg, &bad), 0);
	len = vsn__policy_set__get_packed_size(msg);
	buf = malloc(len);
	vsn__policy_set__pack(msg, buf);
	vsn_proto_msg_free(msg);
	assert_int_equal(vsn_chunks_split(42, buf, len, 4096, &c), 0);
	assert_true(c.n > 3);

	vsn_reasm_init(&r, 0, 0);
	/* A byte changed in flight. */
	buf[5000] ^= 1;
	for (size_t i = 0; i + 1 < c.n; i++)
		assert_int_equal(vsn_reasm_add(&r, &c.chunk[i], &ps), 0);
	assert_int_equal(vsn_reasm_add(&r, &c.chunk[c.n - 1], &ps), -EBADMSG);
	assert_null(ps);
	assert_false(r.active);
	buf[5000] ^= 1;
	/* A digest changed. */
	for (size_t i = 0; i + 1 < c.n; i++)
		assert_int_equal(vsn_reasm_add(&r, &c.chunk[i], &ps), 0);
	c.digest[0] ^= 1;
	assert_int_equal(vsn_reasm_add(&r, &c.chunk[c.n - 1], &ps), -EBADMSG);
	c.digest[0] ^= 1;
	/* After a refusal the reassembly restarts cleanly from chunk 0. */
	assert_int_equal(vsn_reasm_add(&r, &c.chunk[c.n - 1], &ps), -EPROTO);
	ps = reassemble(&r, &c);
	assert_non_null(ps);
	assert_int_equal(ps->n_policies, 1000);
	vsn__policy_set__free_unpacked(ps, NULL);

	/* Chunks whose digest checks but whose bytes claim another generation. */
	vsn_chunks_free(&c);
	assert_int_equal(vsn_chunks_split(43, buf, len, 4096, &c), 0);
	for (size_t i = 0; i + 1 < c.n; i++)
		assert_int_equal(vsn_reasm_add(&r, &c.chunk[i], &ps), 0);
	assert_int_equal(vsn_reasm_add(&r, &c.chunk[c.n - 1], &ps), -EBADMSG);

	vsn_reasm_fini(&r);
	vsn_chunks_free(&c);
	free(buf);
	test_set_free(t);
}

static void chunk_sequence_errors_are_refused(void **state)
{
	uint8_t data[10000];
	Vsn__PolicySet *ps = NULL;
	Vsn__PolicySetChunk bad;
	struct vsn_chunks c;
	struct vsn_reasm r;

	memset(data, 0x55, sizeof(data));
	assert_int_equal(vsn_chunks_split(7, data, sizeof(data), 1000, &c), 0);
	assert_int_equal(c.n, 10);
	vsn_reasm_init(&r, 0, 0);

	/* Not starting at 0. */
	assert_int_equal(vsn_reasm_add(&r, &c.chunk[1], &ps), -EPROTO);
	/* Skipping one. */
	assert_int_equal(vsn_reasm_add(&r, &c.chunk[0], &ps), 0);
	assert_int_equal(vsn_reasm_add(&r, &c.chunk[2], &ps), -EPROTO);
	assert_false(r.active);
	/* A duplicate. */
	assert_int_equal(vsn_reasm_add(&r, &c.chunk[0], &ps), 0);
	assert_int_equal(vsn_reasm_add(&r, &c.chunk[1], &ps), 0);
	assert_int_equal(vsn_reasm_add(&r, &c.chunk[1], &ps), -EPROTO);
	/* A restart in the middle is a duplicate of chunk 0. */
	assert_int_equal(vsn_reasm_add(&r, &c.chunk[0], &ps), 0);
	assert_int_equal(vsn_reasm_add(&r, &c.chunk[0], &ps), -EPROTO);
	/* Another generation. */
	assert_int_equal(vsn_reasm_add(&r, &c.chunk[0], &ps), 0);
	bad = c.chunk[1];
	bad.generation = 8;
	assert_int_equal(vsn_reasm_add(&r, &bad, &ps), -EPROTO);
	/* Another total. */
	assert_int_equal(vsn_reasm_add(&r, &c.chunk[0], &ps), 0);
	bad = c.chunk[1];
	bad.total = 11;
	assert_int_equal(vsn_reasm_add(&r, &bad, &ps), -EPROTO);
	/* Malformed: total 0, index past total, digest misplaced or short. */
	bad = c.chunk[0];
	bad.total = 0;
	assert_int_equal(vsn_reasm_add(&r, &bad, &ps), -EINVAL);
	bad = c.chunk[0];
	bad.index = 10;
	assert_int_equal(vsn_reasm_add(&r, &bad, &ps), -EINVAL);
	bad = c.chunk[0];
	bad.sha256 = c.chunk[9].sha256;
	assert_int_equal(vsn_reasm_add(&r, &bad, &ps), -EINVAL);
	bad = c.chunk[9];
	bad.sha256.len = 31;
	assert_int_equal(vsn_reasm_add(&r, &bad, &ps), -EINVAL);
	assert_null(ps);
	vsn_reasm_fini(&r);

	/* Too many chunks, too many bytes. */
	vsn_reasm_init(&r, 0, 9);
	assert_int_equal(vsn_reasm_add(&r, &c.chunk[0], &ps), -E2BIG);
	vsn_reasm_fini(&r);
	vsn_reasm_init(&r, 5500, 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(vsn_reasm_add(&r, &c.chunk[i], &ps), 0);
	assert_int_equal(vsn_reasm_add(&r, &c.chunk[5], &ps), -E2BIG);
	assert_true(r.cap <= 5500);
	assert_false(r.active);
	vsn_reasm_fini(&r);

	/* 10000 bytes of 0x55 are no PolicySet, even with the right digest. */
	vsn_reasm_init(&r, 0, 0);
	for (int i = 0; i < 9; i++)
		assert_int_equal(vsn_reasm_add(&r, &c.chunk[i], &ps), 0);
	assert_int_equal(vsn_reasm_add(&r, &c.chunk[9], &ps), -EBADMSG);
	vsn_reasm_fini(&r);
	vsn_chunks_free(&c);

	/* An empty PolicySet (generation 0 packs to nothing) is one empty chunk. */
	assert_int_equal(vsn_chunks_split(0, NULL, 0, 0, &c), 0);
	assert_int_equal(c.n, 1);
	vsn_reasm_init(&r, 0, 0);
	assert_int_equal(vsn_reasm_add(&r, &c.chunk[0], &ps), 1);
	assert_int_equal(ps->n_policies, 0);
	vsn__policy_set__free_unpacked(ps, NULL);
	vsn_reasm_fini(&r);
	vsn_chunks_free(&c);
}

/* One mutation of a good message and the entry index it must be refused with. */
/*
 * msg refused by both decoders with want and the entry want_bad (SIZE_MAX: none named); a msg
 * whose counts lie about its arrays (no_bytes) cannot be serialized and goes to from_msg only.
 */
static void expect_refusal_of(Vsn__PolicySet *msg, size_t want_bad, int want, bool no_bytes)
{
	struct vsn_dp_set *set = NULL;
	size_t bad = 12345, len;
	uint8_t *buf;

	assert_int_equal(vsn_proto_set_from_msg(msg, &set, &bad), want);
	assert_null(set);
	if (want == -EINVAL && want_bad != SIZE_MAX)
		assert_int_equal(bad, want_bad);
	if (no_bytes)
		return;
	/* The streaming decoder refuses the serialized set alike, naming the same entry. */
	len = vsn__policy_set__get_packed_size(msg);
	buf = malloc(len + 1);
	assert_non_null(buf);
	vsn__policy_set__pack(msg, buf);
	bad = 12345;
	assert_int_equal(vsn_proto_set_from_bytes(buf, len, &set, &bad, NULL), want);
	assert_null(set);
	if (want == -EINVAL && want_bad != SIZE_MAX)
		assert_int_equal(bad, want_bad);
	free(buf);
}

static void expect_refusal(Vsn__PolicySet *msg, size_t want_bad, int want)
{
	expect_refusal_of(msg, want_bad, want, false);
}

static void conversion_refuses_hostile_sets(void **state)
{
	struct test_set *t = test_set_new(20);
	Vsn__PolicySet *msg;
	Vsn__Policy *p;
	Vsn__ClientRule *cr;
	Vsn__Slb *s;
	Vsn__Pool *pool;
	size_t bad, saved;
	uint32_t u;
	Vsn__Family fam;

	assert_int_equal(vsn_proto_set_to_msg(&t->set, &msg, &bad), 0);
	p = msg->policies[4];
	s = msg->slbs[1];
	pool = msg->pools[1];
	cr = msg->policies[10]->clients[1];

	/* Address length disagreeing with the family, or no family. */
	p->vip.len = 16;
	expect_refusal(msg, 4, -EINVAL);
	p->vip.len = 4;
	fam = p->family;
	p->family = VSN__FAMILY__FAMILY_UNSPEC;
	expect_refusal(msg, 4, -EINVAL);
	p->family = 5;
	expect_refusal(msg, 4, -EINVAL);
	p->family = fam;
	s->addr.len = 5;
	expect_refusal(msg, 20 + 1, -EINVAL);
	s->addr.len = 4;
	/* Ranges. */
	u = p->proto;
	p->proto = 1;
	expect_refusal(msg, 4, -EINVAL);
	p->proto = u;
	u = p->port;
	p->port = 65536;
	expect_refusal(msg, 4, -EINVAL);
	p->port = u;
	p->vip_plen = 32;
	expect_refusal(msg, 4, -EINVAL);
	p->vip_plen = 8; /* 10.0.4.0/8 has host bits set */
	expect_refusal(msg, 4, -EINVAL);
	p->vip_plen = 0;
	p->on_change = 2;
	expect_refusal(msg, 4, -EINVAL);
	p->on_change = VSN__ON_CHANGE__ON_CHANGE_PRESERVE;
	/* Both or neither destination. */
	u = p->pool_id;
	p->slb_id = 1;
	expect_refusal(msg, 4, -EINVAL);
	p->slb_id = 0;
	p->pool_id = 0;
	expect_refusal(msg, 4, -EINVAL);
	p->pool_id = u;
	/* Enums out of range. */
	s->forward = 3;
	expect_refusal(msg, 21, -EINVAL);
	s->forward = VSN__FORWARD__FORWARD_IPIP;
	s->state = -1;
	expect_refusal(msg, 21, -EINVAL);
	s->state = VSN__SLB_STATE_VALUE__SLB_DRAIN;
	s->id = 0;
	expect_refusal(msg, 21, -EINVAL);
	s->id = 2;
	/* Client rules: other family, host bits, plen, destination. */
	cr->family = VSN__FAMILY__FAMILY_IPV6;
	expect_refusal(msg, 10, -EINVAL);
	cr->family = VSN__FAMILY__FAMILY_IPV4;
	cr->plen = 33;
	expect_refusal(msg, 10, -EINVAL);
	cr->plen = 16; /* 192.168.1.0/16 */
	expect_refusal(msg, 10, -EINVAL);
	cr->plen = 24;
	cr->slb_id = 1;
	expect_refusal(msg, 10, -EINVAL);
	cr->slb_id = 0;
	/* Pools: weights, members, ids. */
	pool->members[2]->weight = 0;
	expect_refusal(msg, 20 + 3 + 1, -EINVAL);
	pool->members[2]->weight = 65536;
	expect_refusal(msg, 20 + 3 + 1, -EINVAL);
	pool->members[2]->weight = 5;
	saved = pool->n_members;
	pool->n_members = 0;
	expect_refusal(msg, 20 + 3 + 1, -EINVAL);
	pool->n_members = saved;
	pool->id = 0;
	expect_refusal(msg, 20 + 3 + 1, -EINVAL);
	pool->id = 2;
	/* Counts and sizes. */
	saved = msg->policies[10]->n_clients;
	msg->policies[10]->n_clients = VSN_DP_MAX_CLIENTS + 1;
	expect_refusal_of(msg, 10, -EINVAL, true);
	msg->policies[10]->n_clients = saved;
	saved = msg->n_policies;
	msg->n_policies = VSN_PROTO_MAX_POLICIES + 1;
	expect_refusal_of(msg, SIZE_MAX, -E2BIG, true);
	msg->n_policies = saved;
	msg->maglev_size = VSN_MAGLEV_MAX_SIZE + 1;
	expect_refusal(msg, SIZE_MAX, -EINVAL);
	msg->maglev_size = 65537;

	/* Everything restored: accepted again. */
	{
		struct vsn_dp_set *set;

		assert_int_equal(vsn_proto_set_from_msg(msg, &set, &bad), 0);
		assert_sets_equal(&t->set, set);
		vsn_proto_set_free(set);
	}
	vsn_proto_msg_free(msg);

	/* The way out refuses an address of no family. */
	t->policies[3].vip.family = 0;
	bad = 0;
	assert_int_equal(vsn_proto_set_to_msg(&t->set, &msg, &bad), -EINVAL);
	assert_int_equal(bad, 3);
	test_set_free(t);
}

static void nack_codes_map_errnos(void **state)
{
	int errs[] = {EINVAL,	    ESTALE,  E2BIG,  ENOENT,	     EEXIST,
		      EAFNOSUPPORT, EBADMSG, EPROTO, EPROTONOSUPPORT};

	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		assert_int_equal(vsn_proto_nack_errno(vsn_proto_nack_code(-errs[i])), errs[i]);
	assert_int_equal(vsn_proto_nack_code(-ENOTUNIQ), VSN__NACK_CODE__NACK_DUPLICATE);
	assert_int_equal(vsn_proto_nack_code(-ENOMEM), VSN__NACK_CODE__NACK_INTERNAL);
	assert_int_equal(vsn_proto_nack_errno(99), EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_message_round_trips_through_frames),
		cmocka_unit_test(oversize_frames_are_refused),
		cmocka_unit_test(unknown_versions_and_garbage_are_refused),
		cmocka_unit_test(small_set_converts_both_ways),
		cmocka_unit_test(large_set_travels_in_chunks),
		cmocka_unit_test(digest_mismatch_is_refused),
		cmocka_unit_test(chunk_sequence_errors_are_refused),
		cmocka_unit_test(conversion_refuses_hostile_sets),
		cmocka_unit_test(nack_codes_map_errnos),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
