/* SPDX-License-Identifier: Apache-2.0 */
/* The bump allocator of arena.h: chunks of 64 KiB, or one of its own for a larger request. */
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

#define CHUNK_SIZE (64 * 1024)

struct vsn_arena_chunk {
	struct vsn_arena_chunk *next;
	size_t used, size;
	alignas(max_align_t) unsigned char data[];
};

static struct vsn_arena_chunk *chunk_new(size_t size, struct vsn_arena_chunk *next)
{
	struct vsn_arena_chunk *c = malloc(sizeof(*c) + size);

	if (c) {
		c->next = next;
		c->used = 0;
		c->size = size;
	}
	return c;
}

void *vsn_arena_alloc(struct vsn_arena *a, size_t size)
{
	struct vsn_arena_chunk *c = a->head;
	size_t align = alignof(max_align_t);
	void *p;

	size = (size + align - 1) & ~(align - 1);
	if (!size || size > SIZE_MAX - sizeof(*c) - align)
		return NULL;
	if (size > CHUNK_SIZE / 4) {
		/* A large block gets a chunk of its own behind the head, which keeps filling. */
		c = chunk_new(size, NULL);
		if (!c)
			return NULL;
		if (a->head) {
			c->next = a->head->next;
			a->head->next = c;
		} else {
			a->head = c;
		}
		c->used = size;
		memset(c->data, 0, size);
		return c->data;
	}
	if (!c || c->size - c->used < size) {
		c = chunk_new(CHUNK_SIZE, a->head);
		if (!c)
			return NULL;
		a->head = c;
	}
	p = c->data + c->used;
	c->used += size;
	memset(p, 0, size);
	return p;
}

void *vsn_arena_calloc(struct vsn_arena *a, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	return vsn_arena_alloc(a, n * size ? n * size : 1);
}

char *vsn_arena_strdup(struct vsn_arena *a, const char *s)
{
	size_t len = strlen(s) + 1;
	char *p = vsn_arena_alloc(a, len);

	if (p)
		memcpy(p, s, len);
	return p;
}

void vsn_arena_free(struct vsn_arena *a)
{
	while (a->head) {
		struct vsn_arena_chunk *next = a->head->next;

		free(a->head);
		a->head = next;
	}
}
