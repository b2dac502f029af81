/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "chunk.h"

int vsn_sha256(const void *data, size_t len, uint8_t out[VSN_SHA256_LEN])
{
	unsigned int n = 0;

	if (!EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) || n != VSN_SHA256_LEN)
		return -EIO;
	return 0;
}

int vsn_chunks_split(uint64_t generation, const uint8_t *data, size_t len, size_t chunk_size,
		     struct vsn_chunks *ret)
{
	struct vsn_chunks c = {0};
	size_t i, off;
	int r;

	if (!chunk_size)
		chunk_size = VSN_CHUNK_DEFAULT_SIZE;
	c.n = len ? (len - 1) / chunk_size + 1 : 1;
	if (c.n > UINT32_MAX)
		return -E2BIG;
	r = vsn_sha256(data, len, c.digest);
	if (r)
		return r;
	c.chunk = calloc(c.n, sizeof(*c.chunk));
	if (!c.chunk)
		return -ENOMEM;
	for (i = 0, off = 0; i < c.n; i++) {
		Vsn__PolicySetChunk *ch = &c.chunk[i];
		size_t n = len - off < chunk_size ? len - off : chunk_size;

		vsn__policy_set_chunk__init(ch);
		ch->generation = generation;
		ch->index = (uint32_t)i;
		ch->total = (uint32_t)c.n;
		ch->data.len = n;
		ch->data.data = n ? (uint8_t *)data + off : NULL;
		off += n;
	}
	*ret = c;
	/* Point at the caller's copy of the digest, not at our stack's. */
	ret->chunk[c.n - 1].sha256.data = ret->digest;
	ret->chunk[c.n - 1].sha256.len = VSN_SHA256_LEN;
	return 0;
}

void vsn_chunks_free(struct vsn_chunks *c)
{
	free(c->chunk);
	c->chunk = NULL;
	c->n = 0;
}

void vsn_reasm_init(struct vsn_reasm *r, size_t max_bytes, uint32_t max_chunks)
{
	memset(r, 0, sizeof(*r));
	r->max_bytes = max_bytes ? max_bytes : VSN_REASM_DEFAULT_MAX_BYTES;
	r->max_chunks = max_chunks ? max_chunks : VSN_REASM_DEFAULT_MAX_CHUNKS;
}

void vsn_reasm_reset(struct vsn_reasm *r)
{
	free(r->buf);
	r->buf = NULL;
	r->len = r->cap = 0;
	r->active = false;
	r->next = r->total = 0;
	r->generation = 0;
}

void vsn_reasm_fini(struct vsn_reasm *r)
{
	vsn_reasm_reset(r);
	EVP_MD_CTX_free(r->md);
	r->md = NULL;
}

static int append(struct vsn_reasm *r, const uint8_t *p, size_t n)
{
	size_t cap;
	uint8_t *b;

	if (n > r->max_bytes - r->len)
		return -E2BIG;
	if (r->len + n > r->cap) {
		/* Grow with the bytes that arrived, not with what total implies. */
		cap = r->cap ? r->cap : 65536;
		while (cap < r->len + n)
			cap *= 2;
		if (cap > r->max_bytes)
			cap = r->max_bytes;
		b = realloc(r->buf, cap);
		if (!b)
			return -ENOMEM;
		r->buf = b;
		r->cap = cap;
	}
	if (n)
		memcpy(r->buf + r->len, p, n);
	r->len += n;
	if (!EVP_DigestUpdate(r->md, p, n))
		return -EIO;
	return 0;
}

static int finish(struct vsn_reasm *r, const Vsn__PolicySetChunk *c, Vsn__PolicySet **ret_set)
{
	uint8_t digest[VSN_SHA256_LEN];
	unsigned int n = 0;
	Vsn__PolicySet *set;

	if (!EVP_DigestFinal_ex(r->md, digest, &n) || n != VSN_SHA256_LEN)
		return -EIO;
	if (CRYPTO_memcmp(digest, c->sha256.data, VSN_SHA256_LEN))
		return -EBADMSG;
	if (!ret_set)
		return 1; /* the caller decodes the bytes itself */
	set = vsn__policy_set__unpack(NULL, r->len, r->buf);
	if (!set)
		return -EBADMSG;
	if (set->generation != r->generation) {
		vsn__policy_set__free_unpacked(set, NULL);
		return -EBADMSG;
	}
	*ret_set = set;
	return 1;
}

int vsn_reasm_add(struct vsn_reasm *r, const Vsn__PolicySetChunk *c, Vsn__PolicySet **ret_set)
{
	return vsn_reasm_add_bytes(r, c, ret_set, NULL, NULL);
}

int vsn_reasm_add_bytes(struct vsn_reasm *r, const Vsn__PolicySetChunk *c, Vsn__PolicySet **ret_set,
			uint8_t **ret_buf, size_t *ret_len)
{
	Vsn__PolicySet *set;
	uint8_t *buf;
	bool last;
	int ret;

	if (c->total == 0 || c->index >= c->total) {
		ret = -EINVAL;
		goto fail;
	}
	last = c->index == c->total - 1;
	if (last ? c->sha256.len != VSN_SHA256_LEN : c->sha256.len != 0) {
		ret = -EINVAL;
		goto fail;
	}
	if (c->total > r->max_chunks) {
		ret = -E2BIG;
		goto fail;
	}
	if (!r->active) {
		if (c->index != 0) {
			ret = -EPROTO;
			goto fail;
		}
		if (!r->md && !(r->md = EVP_MD_CTX_new())) {
			ret = -ENOMEM;
			goto fail;
		}
		if (!EVP_DigestInit_ex(r->md, EVP_sha256(), NULL)) {
			ret = -EIO;
			goto fail;
		}
		r->active = true;
		r->generation = c->generation;
		r->total = c->total;
		r->next = 0;
	} else if (c->index != r->next || c->generation != r->generation || c->total != r->total) {
		ret = -EPROTO;
		goto fail;
	}
	ret = append(r, c->data.data, c->data.len);
	if (ret)
		goto fail;
	r->next++;
	if (!last)
		return 0;
	set = NULL;
	ret = finish(r, c, ret_set ? &set : NULL);
	if (ret < 0)
		goto fail;
	if (ret_buf) {
		/* Hand the buffer over instead of freeing it. */
		buf = r->buf ? r->buf : malloc(1);
		if (!buf) {
			if (set)
				vsn__policy_set__free_unpacked(set, NULL);
			ret = -ENOMEM;
			goto fail;
		}
		*ret_buf = buf;
		*ret_len = r->len;
		r->buf = NULL;
	}
	if (ret_set)
		*ret_set = set;
	vsn_reasm_reset(r);
	return 1;
fail:
	vsn_reasm_reset(r);
	return ret;
}
