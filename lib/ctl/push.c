/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sets on the wire. A set is serialized once; every node it goes to is sent those bytes, in
 * one frame when they fit, else as PolicySetChunks fed to the connection as its output drains.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_internal.h"

/*
 * PolicySet.hold (field 7, a varint) = true, as protobuf-c serializes it: fields go out in
 * field-number order and hold is the last, so a set's bytes with hold true are its bytes with
 * hold false (where proto3 leaves the field out) followed by these two.
 */
static const uint8_t hold_suffix[HOLD_SUFFIX_LEN] = {(7u << 3) | PROTOBUF_C_WIRE_TYPE_VARINT, 1};

/* While a chunk stream goes on: keep at most this much queued, and look again this often. */
#define PUMP_HIGH (2u << 20)
#define PUMP_POLL_MS 2

int vsn_ctl_set_new(const Vsn__PolicySet *msg, struct vsn_ctl_set **ret_set)
{
	struct vsn_ctl_set *set;
	size_t len;

	if (!msg || msg->hold || !msg->generation)
		return -EINVAL;
	len = vsn__policy_set__get_packed_size(msg);
	set = calloc(1, sizeof(*set));
	if (!set)
		return -ENOMEM;
	set->buf = malloc(SET_PREFIX + len + HOLD_SUFFIX_LEN);
	if (!set->buf) {
		free(set);
		return -ENOMEM;
	}
	vsn__policy_set__pack(msg, set->buf + SET_PREFIX);
	memcpy(set->buf + SET_PREFIX + len, hold_suffix, HOLD_SUFFIX_LEN);
	set->refs = 1;
	set->generation = msg->generation;
	set->len = len;
	*ret_set = set;
	return 0;
}

struct vsn_ctl_set *vsn_ctl_set_ref(struct vsn_ctl_set *set)
{
	if (set)
		set->refs++;
	return set;
}

void vsn_ctl_set_unref(struct vsn_ctl_set *set)
{
	if (!set || --set->refs)
		return;
	vsn_chunks_free(&set->chunks[0]);
	vsn_chunks_free(&set->chunks[1]);
	free(set->buf);
	free(set);
}

uint64_t vsn_ctl_set_generation(const struct vsn_ctl_set *set)
{
	return set->generation;
}

size_t vsn_ctl_set_size(const struct vsn_ctl_set *set)
{
	return set->len;
}

bool vsn_ctl_set_equal(const struct vsn_ctl_set *a, const struct vsn_ctl_set *b)
{
	return a == b || (a && b && a->len == b->len &&
			  !memcmp(a->buf + SET_PREFIX, b->buf + SET_PREFIX, a->len));
}

static size_t varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static void varint_put(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p = (uint8_t)v;
}

_Static_assert(VSN__ENVELOPE__MSG_POLICY_SET == 2, "Envelope.policy_set is field 2");

/*
 * Send the set in one frame without unpacking it again: an Envelope with no oneof set and one
 * "unknown" field 2 whose bytes are the serialized set. protobuf-c packs unknown fields as they
 * are, so the frame is byte for byte Envelope{policy_set}. The field's length goes into the
 * room before the set's bytes; frames are encoded at once, so one buffer serves every send.
 */
static int send_single(struct sess *s, struct vsn_ctl_set *set, size_t len)
{
	Vsn__Envelope env = VSN__ENVELOPE__INIT;
	ProtobufCMessageUnknownField f = {
		.tag = VSN__ENVELOPE__MSG_POLICY_SET,
		.wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED,
	};
	size_t vl = varint_len(len);

	f.data = set->buf + SET_PREFIX - vl;
	f.len = vl + len;
	varint_put(f.data, len);
	env.base.n_unknown_fields = 1;
	env.base.unknown_fields = &f;
	return sess_send(s, &env);
}

static int set_chunks(struct vsn_ctl_set *set, bool hold, size_t chunk_size)
{
	struct vsn_chunks *ch = &set->chunks[hold];
	int r;

	if (ch->chunk && set->chunk_size[hold] == chunk_size)
		return 0;
	vsn_chunks_free(ch);
	r = vsn_chunks_split(set->generation, set->buf + SET_PREFIX,
			     set->len + (hold ? HOLD_SUFFIX_LEN : 0), chunk_size, ch);
	if (r)
		return r;
	set->chunk_size[hold] = chunk_size;
	return 0;
}

int sess_send_set(struct sess *s, struct vsn_ctl_set *set, bool hold)
{
	struct vsn_ctl *ctl = s->ctl;
	size_t len = set->len + (hold ? HOLD_SUFFIX_LEN : 0);
	struct node *n = s->node;
	struct vsn_ctl_event ev = {
		.type = VSN_CTL_EV_PUSH,
		.node = n->name,
		.generation = set->generation,
		.running = n->running,
		.hold = hold,
		.bytes = len,
	};
	uint64_t now = ctl_now();
	int r;

	if (s->stream)
		return -EBUSY; /* callers wait for sess_stream_done */
	if (len <= ctl->o.single_max) {
		r = send_single(s, set, len);
		if (r)
			return r;
	} else {
		r = set_chunks(set, hold, ctl->o.chunk_size);
		if (r)
			return r;
		s->stream = vsn_ctl_set_ref(set);
		s->stream_hold = hold;
		s->stream_next = 0;
		ev.chunks = set->chunks[hold].n;
		/* The chunks go out from the loop, so that their end is never heard in here. */
		event_active(s->pump, EV_TIMEOUT, 0);
	}
	n->sent = set->generation;
	n->sent_at = now;
	n->awaiting = !hold;
	ctl_emit(ctl, &ev);
	return s->stream ? 0 : 1;
}

static int send_chunk(struct sess *s)
{
	Vsn__Envelope env = VSN__ENVELOPE__INIT;
	struct vsn_chunks *ch = &s->stream->chunks[s->stream_hold];

	env.msg_case = VSN__ENVELOPE__MSG_CHUNK;
	env.chunk = &ch->chunk[s->stream_next];
	s->stream_next++;
	return sess_send(s, &env);
}

void sess_stream_drop(struct sess *s)
{
	if (!s->stream)
		return;
	vsn_ctl_set_unref(s->stream);
	s->stream = NULL;
	evtimer_del(s->pump);
}

/*
 * The connection's output has no callback of its own to say it drained (libvsntransport keeps
 * it), so a stream looks every PUMP_POLL_MS and tops the queue up to PUMP_HIGH: a big set to
 * many nodes never sits whole in every connection's buffer.
 */
void sess_pump(struct sess *s)
{
	struct node *n = s->node;
	size_t total;

	if (!s->stream || !s->c)
		return;
	total = s->stream->chunks[s->stream_hold].n;
	while (s->stream_next < total && vsn_conn_out_len(s->c) < PUMP_HIGH)
		if (send_chunk(s))
			return; /* the session closes from the loop */
	if (s->stream_next < total) {
		struct timeval tv = {0, PUMP_POLL_MS * 1000};

		evtimer_add(s->pump, &tv);
		return;
	}
	sess_stream_drop(s);
	if (!n)
		return;
	if (n->ro)
		ro_stream_done(n);
	else
		node_reconcile(n);
}

void sess_stream_flush(struct sess *s)
{
	if (!s->stream)
		return;
	while (s->stream_next < s->stream->chunks[s->stream_hold].n)
		if (send_chunk(s))
			break;
	sess_stream_drop(s);
}

void node_reconcile(struct node *n)
{
	struct vsn_ctl_set *d = node_desired(n);
	struct sess *s = n->sess;
	int r;

	if (!s || !d || n->ro || s->stream || s->close_err)
		return;
	if (d->generation == n->running || d->generation == n->failed)
		return;
	if (n->awaiting && n->sent == d->generation)
		return;
	r = sess_send_set(s, d, false);
	if (r < 0)
		sess_close_later(s, r, "cannot send the node its set");
}
