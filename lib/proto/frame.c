/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

int vsn_frame_encode(const Vsn__Envelope *env, size_t max_frame, uint8_t **ret_buf, size_t *ret_len)
{
	size_t body, len;
	uint8_t *buf;

	if (!max_frame)
		max_frame = VSN_PROTO_MAX_FRAME;
	body = vsn__envelope__get_packed_size(env);
	if (body >= max_frame || body + 1 > UINT32_MAX)
		return -EMSGSIZE;
	len = VSN_FRAME_HDR_LEN + body;
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	buf[0] = (uint8_t)((body + 1) >> 24);
	buf[1] = (uint8_t)((body + 1) >> 16);
	buf[2] = (uint8_t)((body + 1) >> 8);
	buf[3] = (uint8_t)(body + 1);
	buf[4] = VSN_PROTO_VERSION;
	if (vsn__envelope__pack(env, buf + VSN_FRAME_HDR_LEN) != body) {
		free(buf);
		return -EBADMSG;
	}
	*ret_buf = buf;
	*ret_len = len;
	return 0;
}

void vsn_frame_decoder_init(struct vsn_frame_decoder *d, size_t max_frame)
{
	memset(d, 0, sizeof(*d));
	d->max_frame = max_frame ? max_frame : VSN_PROTO_MAX_FRAME;
}

void vsn_frame_decoder_fini(struct vsn_frame_decoder *d)
{
	free(d->body);
	d->body = NULL;
	d->body_cap = 0;
}

/* The header is complete: check it before accepting any body byte. */
static int hdr_check(struct vsn_frame_decoder *d)
{
	uint32_t len = (uint32_t)d->hdr[0] << 24 | (uint32_t)d->hdr[1] << 16 |
		       (uint32_t)d->hdr[2] << 8 | d->hdr[3];

	d->peer_version = d->hdr[4];
	if (len == 0)
		return -EBADMSG;
	if (len > d->max_frame)
		return -EMSGSIZE;
	if (d->peer_version != VSN_PROTO_VERSION)
		return -EPROTONOSUPPORT;
	d->body_len = len - 1;
	d->body_have = 0;
	return 0;
}

/* Room for want more body bytes, growing with what arrives, up to body_len. */
static int body_reserve(struct vsn_frame_decoder *d, size_t want)
{
	size_t need = d->body_have + want, cap;
	uint8_t *p;

	if (need <= d->body_cap)
		return 0;
	cap = d->body_cap ? d->body_cap : 4096;
	while (cap < need)
		cap *= 2;
	if (cap > d->body_len)
		cap = d->body_len;
	p = realloc(d->body, cap);
	if (!p)
		return -ENOMEM;
	d->body = p;
	d->body_cap = cap;
	return 0;
}

static int unpack(const uint8_t *body, size_t len, Vsn__Envelope **ret_env)
{
	Vsn__Envelope *env = vsn__envelope__unpack(NULL, len, body);

	if (!env)
		return -EBADMSG;
	*ret_env = env;
	return 1;
}

int vsn_frame_decoder_feed(struct vsn_frame_decoder *d, const void *data, size_t len,
			   size_t *ret_used, Vsn__Envelope **ret_env)
{
	const uint8_t *p = data;
	size_t used = 0, n;
	int r;

	if (d->error)
		return d->error;
	while (used < len) {
		if (d->hdr_have < VSN_FRAME_HDR_LEN) {
			n = VSN_FRAME_HDR_LEN - d->hdr_have;
			if (n > len - used)
				n = len - used;
			memcpy(d->hdr + d->hdr_have, p + used, n);
			d->hdr_have += n;
			used += n;
			if (d->hdr_have < VSN_FRAME_HDR_LEN)
				break;
			r = hdr_check(d);
			if (r)
				goto fail;
			/* The whole body is here and nothing is buffered: no copy. */
			if (len - used >= d->body_len) {
				r = unpack(p + used, d->body_len, ret_env);
				if (r < 0)
					goto fail;
				used += d->body_len;
				d->hdr_have = 0;
				*ret_used = used;
				return 1;
			}
			if (used == len)
				break;
		}
		n = d->body_len - d->body_have;
		if (n > len - used)
			n = len - used;
		r = body_reserve(d, n);
		if (r)
			goto fail;
		memcpy(d->body + d->body_have, p + used, n);
		d->body_have += n;
		used += n;
		if (d->body_have == d->body_len) {
			r = unpack(d->body, d->body_len, ret_env);
			if (r < 0)
				goto fail;
			d->hdr_have = 0;
			/* Do not keep a large buffer for the next small frame. */
			if (d->body_cap > 65536) {
				free(d->body);
				d->body = NULL;
				d->body_cap = 0;
			}
			*ret_used = used;
			return 1;
		}
	}
	*ret_used = used;
	return 0;
fail:
	d->error = r;
	return r;
}
