/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A serialized PolicySet larger than a frame travels as PolicySetChunk
 * messages 0 .. total-1, in order; the last carries the SHA-256 of the whole
 * serialized PolicySet, and the receiver unpacks nothing until it checks
 * (docs/protocol.md, "Chunking").
 */
#ifndef VSN_PROTO_CHUNK_H
#define VSN_PROTO_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vsn.pb-c.h"

#define VSN_SHA256_LEN 32
/* Data bytes per chunk when the caller gives 0: a frame holds it easily. */
#define VSN_CHUNK_DEFAULT_SIZE (1u << 20)
/* Defaults of the reassembler's caps. */
#define VSN_REASM_DEFAULT_MAX_BYTES (512u << 20)
#define VSN_REASM_DEFAULT_MAX_CHUNKS 65536u

/* SHA-256 (OpenSSL EVP) of len bytes. -ENOMEM, -EIO. */
int vsn_sha256(const void *data, size_t len, uint8_t out[VSN_SHA256_LEN]);

/*
 * The chunks of one serialized PolicySet. Their data point into the buffer
 * given to vsn_chunks_split(), which must outlive them; the digest is here.
 */
struct vsn_chunks {
	size_t n;
	Vsn__PolicySetChunk *chunk;
	uint8_t digest[VSN_SHA256_LEN];
};

/*
 * Split len bytes (a serialized PolicySet of this generation) into chunks of
 * at most chunk_size data bytes (0: VSN_CHUNK_DEFAULT_SIZE); an empty input
 * gives one empty chunk. -E2BIG: more than UINT32_MAX chunks; -ENOMEM.
 */
int vsn_chunks_split(uint64_t generation, const uint8_t *data, size_t len, size_t chunk_size,
		     struct vsn_chunks *ret);
void vsn_chunks_free(struct vsn_chunks *c);

/*
 * The receiving side: one reassembly at a time. Chunks must come in order,
 * from index 0, all of one generation and one total. Any refusal resets the
 * reassembly (the sender starts again from chunk 0).
 */
struct vsn_reasm {
	size_t max_bytes;
	uint32_t max_chunks;
	bool active;
	uint64_t generation;
	uint32_t next;
	uint32_t total;
	uint8_t *buf;
	size_t len;
	size_t cap;
	void *md; /* EVP_MD_CTX, hashing as chunks arrive */
};

/* max_bytes 0: VSN_REASM_DEFAULT_MAX_BYTES; max_chunks 0: VSN_REASM_DEFAULT_MAX_CHUNKS. */
void vsn_reasm_init(struct vsn_reasm *r, size_t max_bytes, uint32_t max_chunks);
void vsn_reasm_fini(struct vsn_reasm *r);
/* Forget a reassembly in progress. */
void vsn_reasm_reset(struct vsn_reasm *r);

/*
 * Take one chunk. Returns 0 when more chunks are expected; 1 with the
 * unpacked PolicySet in *ret_set (free it with
 * vsn__policy_set__free_unpacked(set, NULL)) after the last chunk, once the
 * SHA-256 of the reassembled bytes equals its digest. Refusals (all reset):
 *   -EINVAL   a malformed chunk: total 0, index >= total, a digest that is
 *             not 32 bytes in the last chunk or present in another
 *   -EPROTO   out of order or duplicated, another generation or total than
 *             the chunks before it
 *   -E2BIG    total over max_chunks, or the bytes over max_bytes
 *   -EBADMSG  the digest does not match, the bytes are no PolicySet, or
 *             their PolicySet has another generation than the chunks
 *   -ENOMEM, -EIO (hashing)
 */
int vsn_reasm_add(struct vsn_reasm *r, const Vsn__PolicySetChunk *c, Vsn__PolicySet **ret_set);

/*
 * vsn_reasm_add(), and on 1 also hands over the reassembled serialized
 * PolicySet (*ret_buf from malloc, free() it; *ret_len bytes), for a caller
 * that keeps the bytes (the agent persists them) without packing them again.
 * With ret_set NULL the bytes are not unpacked at all (the digest is still
 * checked): the caller decodes them (vsn_proto_set_from_bytes()) and checks
 * that their generation is the chunks'.
 */
int vsn_reasm_add_bytes(struct vsn_reasm *r, const Vsn__PolicySetChunk *c, Vsn__PolicySet **ret_set,
			uint8_t **ret_buf, size_t *ret_len);

#endif /* VSN_PROTO_CHUNK_H */
