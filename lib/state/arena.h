/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A bump allocator: everything a parsed document holds (names, arrays) lives
 * in one arena and goes with one vsn_arena_free(), so a half-built document
 * is freed as easily as a whole one.
 */
#ifndef VSN_STATE_ARENA_H
#define VSN_STATE_ARENA_H

#include <stddef.h>

struct vsn_arena_chunk;

struct vsn_arena {
	struct vsn_arena_chunk *head; /* the chunk being filled; older ones behind it */
};

/* size zeroed bytes aligned for any type, or NULL when out of memory. */
void *vsn_arena_alloc(struct vsn_arena *a, size_t size);
/* n elements of size bytes each (overflow checked), zeroed. */
void *vsn_arena_calloc(struct vsn_arena *a, size_t n, size_t size);
char *vsn_arena_strdup(struct vsn_arena *a, const char *s);
void vsn_arena_free(struct vsn_arena *a);

#endif /* VSN_STATE_ARENA_H */
