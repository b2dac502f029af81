/* SPDX-License-Identifier: Apache-2.0 */
/* Text into a caller's buffer, counting what does not fit (eval_out.h). */
#include <stdarg.h>
#include <stdio.h>

#include "eval_out.h"

char *vsn_out_room(const struct vsn_out *o, size_t *ret_room)
{
	*ret_room = o->n < o->len ? o->len - o->n : 0;
	return *ret_room ? o->buf + o->n : NULL;
}

void vsn_out_add(struct vsn_out *o, int written)
{
	if (written > 0)
		o->n += (size_t)written;
}

void vsn_out_put(struct vsn_out *o, const char *fmt, ...)
{
	size_t room;
	char *p = vsn_out_room(o, &room);
	va_list ap;

	va_start(ap, fmt);
	vsn_out_add(o, vsnprintf(p, room, fmt, ap));
	va_end(ap);
}
