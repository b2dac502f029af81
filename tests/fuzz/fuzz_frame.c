/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the frame decoder and envelope unpacking: the input
 * is a byte stream from a peer, fed in slices whose size the first byte
 * picks (as a socket would deliver it). Any input must give whole envelopes
 * or one sticky error, never a crash, a leak or undefined behaviour; chunks
 * go on into the reassembler.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "chunk.h"
#include "frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vsn_frame_decoder d;
	struct vsn_reasm r;
	size_t slice, off, used;
	int ret = 0;

	if (size < 1)
		return 0;
	slice = data[0] ? data[0] : size;
	data++;
	size--;
	vsn_frame_decoder_init(&d, 1u << 16);
	vsn_reasm_init(&r, 1u << 20, 64);
	for (off = 0; off < size && ret >= 0;) {
		size_t n = size - off < slice ? size - off : slice;
		Vsn__Envelope *env = NULL;
		Vsn__PolicySet *ps = NULL;

		ret = vsn_frame_decoder_feed(&d, data + off, n, &used, &env);
		if (ret < 0) {
			if (ret != -EMSGSIZE && ret != -EPROTONOSUPPORT && ret != -EBADMSG)
				abort();
			/* Sticky. */
			if (vsn_frame_decoder_feed(&d, data, 1, &used, &env) != ret)
				abort();
			break;
		}
		if (used > n || (ret == 0 && used != n))
			abort();
		off += used;
		if (ret == 1) {
			if (env->msg_case == VSN__ENVELOPE__MSG_CHUNK &&
			    vsn_reasm_add(&r, env->chunk, &ps) == 1)
				vsn__policy_set__free_unpacked(ps, NULL);
			vsn__envelope__free_unpacked(env, NULL);
		}
	}
	vsn_reasm_fini(&r);
	vsn_frame_decoder_fini(&d);
	return 0;
}
