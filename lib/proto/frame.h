/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libvsnproto framing (docs/protocol.md): a frame is
 *
 *	4 bytes	  length, big-endian: the bytes that follow (version + envelope)
 *	1 byte	  protocol version (VSN_PROTO_VERSION)
 *	length-1  a serialized vsn.Envelope (proto/vsn.proto)
 *
 * Pure functions: no sockets, no TLS. All functions return 0 or a negative
 * errno (the decoder also 1); ret_* outputs are untouched on failure. The
 * library does not log.
 */
#ifndef VSN_PROTO_FRAME_H
#define VSN_PROTO_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "vsn.pb-c.h"

#define VSN_PROTO_VERSION 1
/* Header bytes before the envelope: length and version. */
#define VSN_FRAME_HDR_LEN 5
/*
 * Most bytes a frame's length field may announce (version byte and
 * envelope). Larger PolicySets travel in chunks (chunk.h).
 */
#define VSN_PROTO_MAX_FRAME (4u << 20)

/*
 * Serialize env into one frame in a buffer from malloc (*ret_buf, free()
 * it; *ret_len bytes). -EMSGSIZE: the frame would exceed max_frame (0:
 * VSN_PROTO_MAX_FRAME); -ENOMEM.
 */
int vsn_frame_encode(const Vsn__Envelope *env, size_t max_frame, uint8_t **ret_buf,
		     size_t *ret_len);

/*
 * Incremental decoder of a byte stream, fed as a socket delivers it. Its
 * buffer grows with the bytes that actually arrive, never to a length a
 * peer merely claims, and never beyond max_frame.
 */
struct vsn_frame_decoder {
	size_t max_frame;
	uint8_t hdr[VSN_FRAME_HDR_LEN];
	size_t hdr_have;
	size_t body_len; /* envelope bytes announced (length - 1) */
	size_t body_have;
	size_t body_cap;
	uint8_t *body;
	int error;		   /* sticky: the stream is unusable after one */
	unsigned int peer_version; /* the version byte of the last header read */
};

/* max_frame 0: VSN_PROTO_MAX_FRAME. */
void vsn_frame_decoder_init(struct vsn_frame_decoder *d, size_t max_frame);
void vsn_frame_decoder_fini(struct vsn_frame_decoder *d);

/*
 * Feed len bytes of the stream. Consumes bytes up to the end of the first
 * frame that completes (*ret_used: how many; feed the rest again), then
 * returns 1 with the unpacked envelope in *ret_env (the caller frees it with
 * vsn__envelope__free_unpacked(env, NULL)); returns 0 when all len bytes
 * were consumed and no frame completed. Errors are sticky (every later call
 * returns the same one: close the connection):
 *   -EMSGSIZE         the length exceeds max_frame
 *   -EPROTONOSUPPORT  the version byte is not VSN_PROTO_VERSION (the peer's
 *                     is in d->peer_version: answer Nack NACK_VERSION)
 *   -EBADMSG          a zero length, or a body protobuf-c cannot unpack
 *   -ENOMEM
 * An envelope whose oneof is not set (a message type of a newer peer) is
 * returned as is: msg_case VSN__ENVELOPE__MSG__NOT_SET.
 */
int vsn_frame_decoder_feed(struct vsn_frame_decoder *d, const void *data, size_t len,
			   size_t *ret_used, Vsn__Envelope **ret_env);

#endif /* VSN_PROTO_FRAME_H */
