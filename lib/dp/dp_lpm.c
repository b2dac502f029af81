/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Longest-prefix-match tries of a generation (VIP prefixes, client-source
 * rules): made whole before the generation is reachable, read back for
 * vsn_dp_policies_foreach().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "dp_internal.h"

int dp_lpm_create(const char *name, __u32 key_size, __u32 value_size, const void *keys,
		  const void *vals, size_t n)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);
	int fd, r;

	if (!n || n > UINT32_MAX)
		return -EINVAL;
	fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, name, key_size, value_size, (__u32)n, &o);
	if (fd < 0)
		return -errno;
	/* LPM tries have no batch update: one syscall an entry. */
	for (size_t i = 0; i < n; i++)
		if (bpf_map_update_elem(fd, (const char *)keys + i * key_size,
					(const char *)vals + i * value_size, BPF_NOEXIST)) {
			r = -errno;
			close(fd);
			return r;
		}
	return fd;
}

int dp_lpm_read(int fd, __u32 key_size, __u32 value_size, void **ret_keys, void **ret_vals,
		size_t *ret_n)
{
	char *keys = NULL, *vals = NULL;
	size_t n = 0, cap = 0;
	int r = 0;

	for (;;) {
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			char *nk = realloc(keys, nc * key_size), *nv;

			if (!nk) {
				r = -ENOMEM;
				break;
			}
			keys = nk;
			nv = realloc(vals, nc * value_size);
			if (!nv) {
				r = -ENOMEM;
				break;
			}
			vals = nv;
			cap = nc;
		}
		/* The previous key by index: realloc may have moved the array. */
		if (bpf_map_get_next_key(fd, n ? keys + (n - 1) * key_size : NULL,
					 keys + n * key_size)) {
			if (errno != ENOENT)
				r = -errno;
			break;
		}
		if (bpf_map_lookup_elem(fd, keys + n * key_size, vals + n * value_size)) {
			r = -errno;
			break;
		}
		n++;
	}
	if (r) {
		free(keys);
		free(vals);
		return r;
	}
	*ret_keys = keys;
	*ret_vals = vals;
	*ret_n = n;
	return 0;
}
