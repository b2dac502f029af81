/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loading, pinning, re-opening and attaching the SLB host's decap program,
 * and its allow-list, GUE port and counters. Same pattern as the forwarder
 * (dp.c).
 *
 * Pin layout under pin_dir:  prog, maps/<map name>, links/<ifname>.
 * maps/vsn_decap_meta is pinned last: its presence means "loaded completely".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "vsn_decap.h"
#include "pin.h"
#include "decap.skel.h"

enum decap_map {
	DECAP_MAP_ALLOW,
	DECAP_MAP_CNT,
	DECAP_MAP_FAST,
	DECAP_MAP_CONFIG,
	DECAP_MAP_META, /* last: pinned last */
	DECAP_MAP_MAX,
};

/* Map names as in bpf/decap.bpf.c; also their pin names. */
static const char *const decap_map_names[DECAP_MAP_MAX] = {
	[DECAP_MAP_ALLOW] = "vsn_decap_allow",
	[DECAP_MAP_CNT] = "vsn_decap_cnt",
	[DECAP_MAP_FAST] = "vsn_decap_fast",
	[DECAP_MAP_CONFIG] = "vsn_decap_config", /* the GUE port */
	[DECAP_MAP_META] = "vsn_decap_meta",
};

static const char *const reason_names[VSN_DECAP_REASON_MAX] = {
	[VSN_DECAP_OK_V4] = "decap_v4",
	[VSN_DECAP_OK_V6] = "decap_v6",
	[VSN_DECAP_OK_GUE_V4] = "decap_gue_v4",
	[VSN_DECAP_OK_GUE_V6] = "decap_gue_v6",
	[VSN_DECAP_PASS_NOT_ENCAP] = "pass_not_encap",
	[VSN_DECAP_PASS_MALFORMED] = "pass_malformed",
	[VSN_DECAP_PASS_GUE_OTHER] = "pass_gue_other",
	[VSN_DECAP_PASS_FRAGMENT] = "pass_fragment",
	[VSN_DECAP_DROP_NOT_ALLOWED] = "drop_not_allowed",
	[VSN_DECAP_DROP_ERROR] = "drop_error",
};

struct vsn_decap {
	char pin_dir[PATH_MAX];
	int dir_fd; /* flock()ed around every change */
	int prog_fd;
	int map_fd[DECAP_MAP_MAX];
	int ncpus;
};

const char *vsn_decap_reason_name(enum vsn_decap_reason reason)
{
	return (unsigned)reason < VSN_DECAP_REASON_MAX ? reason_names[reason] : "?";
}

static void decap_free(struct vsn_decap *d)
{
	if (!d)
		return;
	for (int i = 0; i < DECAP_MAP_MAX; i++)
		if (d->map_fd[i] >= 0)
			close(d->map_fd[i]);
	if (d->prog_fd >= 0)
		close(d->prog_fd);
	if (d->dir_fd >= 0)
		close(d->dir_fd);
	free(d);
}

/* Unpin whatever a load that died half-way left, so a fresh load can pin. */
static void unpin_all(const char *dir)
{
	pin_unpin_object(dir, decap_map_names, DECAP_MAP_MAX, DECAP_MAP_META);
}

static int load_and_pin(const char *dir)
{
	struct vsn_decap_config cfg = {.gue_port = htons(VSN_GUE_PORT_DEFAULT)};
	__u32 zero = 0, version = VSN_DECAP_LAYOUT_VERSION;
	struct decap_bpf *skel;
	int r;

	skel = decap_bpf__open();
	if (!skel)
		return -errno;
	r = bpf_map__set_max_entries(skel->maps.vsn_decap_allow, VSN_DECAP_MAX_ALLOWED);
	if (r)
		goto out;
	r = decap_bpf__load(skel);
	if (r)
		goto out;
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.vsn_decap_meta), &zero, &version, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(skel->maps.vsn_decap_config), &zero, &cfg, BPF_ANY)) {
		r = -errno;
		goto out;
	}
	r = pin_object(dir, bpf_program__fd(skel->progs.vsn_decap), skel->obj, decap_map_names,
		       DECAP_MAP_MAX, DECAP_MAP_META);
out:
	decap_bpf__destroy(skel);
	return r;
}

static int open_pinned(struct vsn_decap *d)
{
	__u32 zero = 0, version;
	int r;

	r = pin_open_object(d->pin_dir, decap_map_names, DECAP_MAP_MAX, d->map_fd, &d->prog_fd);
	if (r)
		return r;
	if (bpf_map_lookup_elem(d->map_fd[DECAP_MAP_META], &zero, &version))
		return -errno;
	return version == VSN_DECAP_LAYOUT_VERSION ? 0 : -EPROTO;
}

int vsn_decap_open(const char *pin_dir, bool create, struct vsn_decap **ret)
{
	char meta_path[PATH_MAX];
	struct vsn_decap *d;
	int r;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->dir_fd = d->prog_fd = -1;
	for (int i = 0; i < DECAP_MAP_MAX; i++)
		d->map_fd[i] = -1;
	if (snprintf(d->pin_dir, sizeof(d->pin_dir), "%s",
		     pin_dir ? pin_dir : VSN_DECAP_DEFAULT_PIN_DIR) >= (int)sizeof(d->pin_dir)) {
		r = -ENAMETOOLONG;
		goto out;
	}
	d->ncpus = libbpf_num_possible_cpus();
	if (d->ncpus <= 0) {
		r = d->ncpus ? d->ncpus : -EINVAL;
		goto out;
	}

	r = pin_check_bpffs(d->pin_dir);
	if (r)
		goto out;
	if (create) {
		r = pin_mkdir_p(d->pin_dir);
		if (r)
			goto out;
	}
	d->dir_fd = open(d->pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->dir_fd < 0) {
		r = -errno;
		goto out;
	}
	r = pin_path(meta_path, sizeof(meta_path), d->pin_dir, "maps",
		     decap_map_names[DECAP_MAP_META]);
	if (r)
		goto out;
	if (access(meta_path, F_OK)) {
		if (!create) {
			r = -ENOENT;
			goto out;
		}
		r = pin_lock(d->dir_fd);
		if (r)
			goto out;
		/* Another process may have loaded while we waited for the lock. */
		if (access(meta_path, F_OK)) {
			unpin_all(d->pin_dir);
			r = load_and_pin(d->pin_dir);
		}
		pin_unlock(d->dir_fd);
		if (r)
			goto out;
	}
	r = open_pinned(d);
out:
	if (r) {
		decap_free(d);
		return r;
	}
	*ret = d;
	return 0;
}

void vsn_decap_close(struct vsn_decap *d)
{
	decap_free(d);
}

int vsn_decap_unload(const char *pin_dir)
{
	char path[PATH_MAX];
	int dir_fd, r, rr;

	if (!pin_dir)
		pin_dir = VSN_DECAP_DEFAULT_PIN_DIR;
	dir_fd = open(pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0)
		return errno == ENOENT ? 0 : -errno;
	r = pin_lock(dir_fd);
	if (r)
		goto out;
	r = pin_links_detach_all(pin_dir);
	unpin_all(pin_dir);
	snprintf(path, sizeof(path), "%s/maps", pin_dir);
	rmdir(path);
	rr = rmdir(pin_dir) && errno != ENOENT ? -errno : 0;
	if (!r)
		r = rr;
	pin_unlock(dir_fd);
out:
	close(dir_fd);
	return r;
}

int vsn_decap_prog_fd(const struct vsn_decap *d)
{
	return d->prog_fd;
}

int vsn_decap_attach(struct vsn_decap *d, const char *ifname, enum vsn_attach_mode mode,
		     enum vsn_attach_mode *ret_mode)
{
	int r = pin_lock(d->dir_fd);

	if (r)
		return r;
	r = pin_link_attach(d->pin_dir, d->prog_fd, ifname, mode, ret_mode);
	pin_unlock(d->dir_fd);
	return r;
}

int vsn_decap_detach(struct vsn_decap *d, const char *ifname)
{
	int r = pin_lock(d->dir_fd);

	if (r)
		return r;
	r = pin_link_detach(d->pin_dir, ifname);
	pin_unlock(d->dir_fd);
	return r;
}

int vsn_decap_links_foreach(struct vsn_decap *d,
			    int (*cb)(const char *ifname, __u32 ifindex, void *arg), void *arg)
{
	return pin_links_foreach(d->pin_dir, cb, arg);
}

/*
 * The table key of a node address; -EINVAL for addresses that are no
 * packet's source: unspecified, multicast (and 240.0.0.0/4, broadcast).
 */
static int node_key(const struct vsn_addr *node, struct vsn_decap_key *ret)
{
	static const __u8 zero[16];
	struct vsn_decap_key k;
	struct vsn_addr a;

	if (node->family != AF_INET && node->family != AF_INET6)
		return -EINVAL;
	vsn_addr_to_key(node, k.addr);
	vsn_addr_from_key(k.addr, &a); /* ::ffff:a.b.c.d is a.b.c.d */
	if (a.family == AF_INET ? !memcmp(a.bytes, zero, 4) || a.bytes[0] >= 224
				: !memcmp(a.bytes, zero, 16) || a.bytes[0] == 0xff)
		return -EINVAL;
	*ret = k;
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct vsn_decap_key));
}

/*
 * Rewrite the inline list from the hash: the first nodes of each family in
 * address order. Called with the lock held, after an allow (so the hash
 * already has the node) and before a disallow's delete (with skip, the node
 * being removed), so a node is never in the list without being allowed.
 */
static int fast_rebuild(struct vsn_decap *d, const struct vsn_decap_key *skip)
{
	struct vsn_decap_key *keys, k, *prev = NULL;
	struct vsn_decap_fast f = {0};
	__u32 zero = 0;
	size_t n = 0;
	int r = 0;

	keys = calloc(VSN_DECAP_MAX_ALLOWED, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	while (n < VSN_DECAP_MAX_ALLOWED &&
	       !bpf_map_get_next_key(d->map_fd[DECAP_MAP_ALLOW], prev, &k)) {
		keys[n] = k;
		prev = &keys[n];
		if (!skip || memcmp(&k, skip, sizeof(k)))
			n++;
	}
	qsort(keys, n, sizeof(*keys), key_cmp);
	for (size_t i = 0; i < n; i++) {
		struct vsn_addr a;

		vsn_addr_from_key(keys[i].addr, &a);
		if (a.family == AF_INET) {
			if (f.n4 < VSN_DECAP_FAST4)
				memcpy(&f.v4[f.n4++], a.bytes, 4);
			else
				f.more4 = 1;
		} else {
			if (f.n6 < VSN_DECAP_FAST6)
				memcpy(f.v6[f.n6++], a.bytes, 16);
			else
				f.more6 = 1;
		}
	}
	if (bpf_map_update_elem(d->map_fd[DECAP_MAP_FAST], &zero, &f, BPF_ANY))
		r = -errno;
	free(keys);
	return r;
}

int vsn_decap_allow(struct vsn_decap *d, const struct vsn_addr *node)
{
	struct vsn_decap_key k;
	__u8 one = 1;
	int r;

	r = node_key(node, &k);
	if (r)
		return r;
	r = pin_lock(d->dir_fd);
	if (r)
		return r;
	/* The kernel says E2BIG when the table is full. */
	if (bpf_map_update_elem(d->map_fd[DECAP_MAP_ALLOW], &k, &one, BPF_ANY))
		r = -errno;
	if (!r)
		r = fast_rebuild(d, NULL);
	pin_unlock(d->dir_fd);
	return r;
}

int vsn_decap_disallow(struct vsn_decap *d, const struct vsn_addr *node)
{
	struct vsn_decap_key k;
	__u8 one;
	int r;

	r = node_key(node, &k);
	if (r)
		return r;
	r = pin_lock(d->dir_fd);
	if (r)
		return r;
	/* Out of the inline list first: never listed there without being allowed. */
	if (bpf_map_lookup_elem(d->map_fd[DECAP_MAP_ALLOW], &k, &one))
		r = -errno;
	if (!r)
		r = fast_rebuild(d, &k);
	if (!r && bpf_map_delete_elem(d->map_fd[DECAP_MAP_ALLOW], &k))
		r = -errno;
	pin_unlock(d->dir_fd);
	return r;
}

int vsn_decap_allowed_foreach(struct vsn_decap *d,
			      int (*cb)(const struct vsn_addr *node, void *arg), void *arg)
{
	struct vsn_decap_key k, next;
	struct vsn_addr a;
	void *prev = NULL;
	int r;

	while (!bpf_map_get_next_key(d->map_fd[DECAP_MAP_ALLOW], prev, &next)) {
		vsn_addr_from_key(next.addr, &a);
		r = cb(&a, arg);
		if (r)
			return r;
		k = next;
		prev = &k;
	}
	return errno == ENOENT ? 0 : -errno;
}

int vsn_decap_gue_port_set(struct vsn_decap *d, __u16 port)
{
	struct vsn_decap_config c = {.gue_port = htons(port)};
	__u32 zero = 0;
	int r;

	r = pin_lock(d->dir_fd);
	if (r)
		return r;
	if (bpf_map_update_elem(d->map_fd[DECAP_MAP_CONFIG], &zero, &c, BPF_ANY))
		r = -errno;
	pin_unlock(d->dir_fd);
	return r;
}

int vsn_decap_gue_port_get(struct vsn_decap *d, __u16 *ret_port)
{
	struct vsn_decap_config c;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(d->map_fd[DECAP_MAP_CONFIG], &zero, &c))
		return -errno;
	*ret_port = ntohs(c.gue_port);
	return 0;
}

int vsn_decap_counter_read(struct vsn_decap *d, enum vsn_decap_reason reason,
			   struct vsn_counter *ret)
{
	struct vsn_counter sum = {0}, *per_cpu;
	__u32 id = reason;
	int r = 0;

	if ((unsigned)reason >= VSN_DECAP_REASON_MAX)
		return -ERANGE;
	per_cpu = calloc(d->ncpus, sizeof(*per_cpu));
	if (!per_cpu)
		return -ENOMEM;
	if (bpf_map_lookup_elem(d->map_fd[DECAP_MAP_CNT], &id, per_cpu)) {
		r = -errno;
		goto out;
	}
	for (int i = 0; i < d->ncpus; i++) {
		sum.packets += per_cpu[i].packets;
		sum.bytes += per_cpu[i].bytes;
	}
	*ret = sum;
out:
	free(per_cpu);
	return r;
}
