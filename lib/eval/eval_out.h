/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Text built piece by piece into a caller's buffer, counting what does not
 * fit, so that the whole length can be returned as snprintf() does. Private
 * to libvsneval (lib/state/cond.c has its own, static).
 */
#ifndef VSN_EVAL_OUT_H
#define VSN_EVAL_OUT_H

#include <stddef.h>

struct vsn_out {
	char *buf;
	size_t len; /* of buf */
	size_t n;   /* the length of the whole text so far, written or not */
};

void vsn_out_put(struct vsn_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Where the next piece goes and how much room is left, for printers of their own (NULL: none). */
char *vsn_out_room(const struct vsn_out *o, size_t *ret_room);
/* Count a piece such a printer wrote: its snprintf()-like return value. */
void vsn_out_add(struct vsn_out *o, int written);

#endif /* VSN_EVAL_OUT_H */
