/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loading, pinning, re-opening and attaching the forwarder.
 *
 * Pin layout under pin_dir:  prog, maps/<map name>, links/<ifname>.
 * maps/vsn_meta is pinned last: its presence means "loaded completely".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp_internal.h"
#include "forwarder.skel.h"

const char *const dp_map_names[DP_MAP_MAX] = {
	[DP_MAP_ACTIVE] = "vsn_active",
	[DP_MAP_META] = "vsn_meta",
	[DP_MAP_POLICY_SLOTS] = "vsn_policy_slots",
	[DP_MAP_BARRIER] = "vsn_barrier",
	[DP_MAP_SLBS] = "vsn_slbs",
	[DP_MAP_TX_PORTS] = "vsn_tx_ports",
	[DP_MAP_CNT_POLICY] = "vsn_cnt_policy",
	[DP_MAP_CNT_SLB] = "vsn_cnt_slb",
	[DP_MAP_CNT_SERVICE] = "vsn_cnt_service",
	[DP_MAP_CNT_REASON] = "vsn_cnt_reason",
};

static int pin_path(char *buf, size_t len, const char *dir, const char *sub, const char *name)
{
	int n = snprintf(buf, len, "%s/%s%s%s", dir, sub, *sub ? "/" : "", name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int mkdir_p(const char *path)
{
	char tmp[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

#define BPF_FS_MAGIC 0xcafe4a11

/*
 * Pins must land on a bpffs. 'ip netns exec' mounts a fresh /sys, which
 * hides /sys/fs/bpf: catch that here rather than fail obscurely later.
 */
static int check_bpffs(const char *dir)
{
	char tmp[PATH_MAX];
	struct statfs st;
	char *slash;

	if (snprintf(tmp, sizeof(tmp), "%s", dir) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	while (statfs(tmp, &st)) {
		if (errno != ENOENT)
			return -errno;
		slash = strrchr(tmp, '/');
		if (!slash || slash == tmp)
			return -EMEDIUMTYPE;
		*slash = '\0';
	}
	return st.f_type == BPF_FS_MAGIC ? 0 : -EMEDIUMTYPE;
}

int dp_lock(struct vsn_dp *dp)
{
	return flock(dp->dir_fd, LOCK_EX) ? -errno : 0;
}

void dp_unlock(struct vsn_dp *dp)
{
	flock(dp->dir_fd, LOCK_UN);
}

int dp_meta_write(struct vsn_dp *dp, const struct vsn_meta *meta)
{
	__u32 zero = 0;

	return bpf_map_update_elem(dp->map_fd[DP_MAP_META], &zero, meta, BPF_ANY) ? -errno : 0;
}

static void dp_free(struct vsn_dp *dp)
{
	if (!dp)
		return;
	for (int i = 0; i < DP_MAP_MAX; i++)
		if (dp->map_fd[i] >= 0)
			close(dp->map_fd[i]);
	if (dp->prog_fd >= 0)
		close(dp->prog_fd);
	if (dp->dir_fd >= 0)
		close(dp->dir_fd);
	free(dp);
}

/* Unpin whatever a load that died half-way left, so a fresh load can pin. */
static void unpin_all(const char *dir)
{
	char path[PATH_MAX];

	for (int i = 0; i < DP_MAP_MAX; i++)
		if (!pin_path(path, sizeof(path), dir, "maps", dp_map_names[i]))
			unlink(path);
	if (!pin_path(path, sizeof(path), dir, "", "prog"))
		unlink(path);
}

static int load_and_pin(const char *dir, const struct vsn_dp_opts *opts)
{
	__u32 max_pol = opts->max_policies ? opts->max_policies : VSN_DEFAULT_MAX_POLICIES;
	__u32 max_slb = opts->max_slbs ? opts->max_slbs : VSN_DEFAULT_MAX_SLBS;
	__u32 max_svc = opts->max_services ? opts->max_services : VSN_DEFAULT_MAX_SERVICES;
	struct vsn_meta meta = {
		.layout_version = VSN_LAYOUT_VERSION,
		.max_policies = max_pol,
		.max_slbs = max_slb,
		.max_services = max_svc,
	};
	struct forwarder_bpf *skel;
	struct bpf_map *meta_map = NULL;
	char path[PATH_MAX];
	__u32 zero = 0;
	int r;

	skel = forwarder_bpf__open();
	if (!skel)
		return -errno;
	bpf_map__set_max_entries(skel->maps.vsn_slbs, max_slb);
	bpf_map__set_max_entries(skel->maps.vsn_cnt_slb, max_slb);
	bpf_map__set_max_entries(skel->maps.vsn_cnt_policy, max_pol);
	bpf_map__set_max_entries(skel->maps.vsn_cnt_service, max_svc);
	r = forwarder_bpf__load(skel);
	if (r)
		goto out;

	r = mkdir_p(dir);
	if (r)
		goto out;
	snprintf(path, sizeof(path), "%s/maps", dir);
	r = mkdir_p(path);
	if (r)
		goto out;
	r = pin_path(path, sizeof(path), dir, "", "prog");
	if (r)
		goto out;
	if (bpf_obj_pin(bpf_program__fd(skel->progs.vsn_forward), path)) {
		r = -errno;
		goto out;
	}
	for (int i = 0; i < DP_MAP_MAX; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(skel->obj, dp_map_names[i]);

		if (!m) {
			r = -ENOENT;
			goto out;
		}
		if (i == DP_MAP_META) {
			meta_map = m;
			continue;
		}
		r = pin_path(path, sizeof(path), dir, "maps", dp_map_names[i]);
		if (r)
			goto out;
		if (bpf_obj_pin(bpf_map__fd(m), path)) {
			r = -errno;
			goto out;
		}
	}
	if (bpf_map_update_elem(bpf_map__fd(meta_map), &zero, &meta, BPF_ANY)) {
		r = -errno;
		goto out;
	}
	r = pin_path(path, sizeof(path), dir, "maps", dp_map_names[DP_MAP_META]);
	if (r)
		goto out;
	if (bpf_obj_pin(bpf_map__fd(meta_map), path))
		r = -errno;
out:
	if (r)
		unpin_all(dir);
	forwarder_bpf__destroy(skel);
	return r;
}

static int open_pinned(struct vsn_dp *dp)
{
	char path[PATH_MAX];
	__u32 zero = 0;
	int r;

	for (int i = 0; i < DP_MAP_MAX; i++) {
		r = pin_path(path, sizeof(path), dp->pin_dir, "maps", dp_map_names[i]);
		if (r)
			return r;
		dp->map_fd[i] = bpf_obj_get(path);
		if (dp->map_fd[i] < 0)
			return -errno;
	}
	if (bpf_map_lookup_elem(dp->map_fd[DP_MAP_META], &zero, &dp->meta))
		return -errno;
	if (dp->meta.layout_version != VSN_LAYOUT_VERSION)
		return -EPROTO;
	r = pin_path(path, sizeof(path), dp->pin_dir, "", "prog");
	if (r)
		return r;
	dp->prog_fd = bpf_obj_get(path);
	if (dp->prog_fd < 0)
		return -errno;
	return 0;
}

int vsn_dp_open(const struct vsn_dp_opts *opts, struct vsn_dp **ret_dp)
{
	struct vsn_dp_opts o = {0};
	char meta_path[PATH_MAX];
	struct vsn_dp *dp;
	int r;

	if (opts)
		memcpy(&o, opts, opts->sz && opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return -ENOMEM;
	dp->dir_fd = dp->prog_fd = -1;
	for (int i = 0; i < DP_MAP_MAX; i++)
		dp->map_fd[i] = -1;
	if (snprintf(dp->pin_dir, sizeof(dp->pin_dir), "%s",
		     o.pin_dir ? o.pin_dir : VSN_DP_DEFAULT_PIN_DIR) >= (int)sizeof(dp->pin_dir)) {
		r = -ENAMETOOLONG;
		goto out;
	}
	dp->ncpus = libbpf_num_possible_cpus();
	if (dp->ncpus <= 0) {
		r = dp->ncpus ? dp->ncpus : -EINVAL;
		goto out;
	}

	r = check_bpffs(dp->pin_dir);
	if (r)
		goto out;
	if (o.create) {
		r = mkdir_p(dp->pin_dir);
		if (r)
			goto out;
	}
	dp->dir_fd = open(dp->pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dp->dir_fd < 0) {
		r = -errno;
		goto out;
	}
	r = pin_path(meta_path, sizeof(meta_path), dp->pin_dir, "maps", dp_map_names[DP_MAP_META]);
	if (r)
		goto out;
	if (access(meta_path, F_OK)) {
		if (!o.create) {
			r = -ENOENT;
			goto out;
		}
		r = dp_lock(dp);
		if (r)
			goto out;
		/* Another process may have loaded while we waited for the lock. */
		if (access(meta_path, F_OK)) {
			unpin_all(dp->pin_dir);
			r = load_and_pin(dp->pin_dir, &o);
		}
		dp_unlock(dp);
		if (r)
			goto out;
	}
	r = open_pinned(dp);
out:
	if (r) {
		dp_free(dp);
		return r;
	}
	*ret_dp = dp;
	return 0;
}

void vsn_dp_close(struct vsn_dp *dp)
{
	dp_free(dp);
}

const char *vsn_dp_pin_dir(const struct vsn_dp *dp)
{
	return dp->pin_dir;
}

int vsn_dp_prog_fd(const struct vsn_dp *dp)
{
	return dp->prog_fd;
}

int vsn_dp_meta(const struct vsn_dp *dp, struct vsn_meta *ret_meta)
{
	struct vsn_meta m;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(dp->map_fd[DP_MAP_META], &zero, &m))
		return -errno;
	*ret_meta = m;
	return 0;
}

static const char *const mode_names[] = {
	[VSN_ATTACH_AUTO] = "auto",
	[VSN_ATTACH_NATIVE] = "native",
	[VSN_ATTACH_GENERIC] = "generic",
};

const char *vsn_attach_mode_name(enum vsn_attach_mode mode)
{
	return (unsigned)mode < sizeof(mode_names) / sizeof(mode_names[0]) ? mode_names[mode] : "?";
}

int vsn_attach_mode_parse(const char *s, enum vsn_attach_mode *ret_mode)
{
	for (size_t i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
		if (!strcmp(s, mode_names[i])) {
			*ret_mode = i;
			return 0;
		}
	return -EINVAL;
}

static int link_create(int prog_fd, int ifindex, enum vsn_attach_mode mode)
{
	LIBBPF_OPTS(bpf_link_create_opts, lo);
	int fd;

	lo.flags = mode == VSN_ATTACH_GENERIC ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &lo);
	return fd < 0 ? -errno : fd;
}

int vsn_dp_attach(struct vsn_dp *dp, const char *ifname, enum vsn_attach_mode mode,
		  enum vsn_attach_mode *ret_mode)
{
	enum vsn_attach_mode used =
		mode == VSN_ATTACH_GENERIC ? VSN_ATTACH_GENERIC : VSN_ATTACH_NATIVE;
	char path[PATH_MAX];
	int ifindex, fd = -1, r;

	ifindex = if_nametoindex(ifname);
	if (!ifindex)
		return -ENODEV;
	snprintf(path, sizeof(path), "%s/links", dp->pin_dir);
	r = mkdir_p(path);
	if (r)
		return r;
	r = pin_path(path, sizeof(path), dp->pin_dir, "links", ifname);
	if (r)
		return r;
	r = dp_lock(dp);
	if (r)
		return r;
	if (!access(path, F_OK)) {
		r = -EEXIST;
		goto out;
	}
	fd = link_create(dp->prog_fd, ifindex, used);
	if (fd < 0 && mode == VSN_ATTACH_AUTO && fd != -EBUSY && fd != -EEXIST) {
		used = VSN_ATTACH_GENERIC;
		fd = link_create(dp->prog_fd, ifindex, used);
	}
	if (fd < 0) {
		r = fd;
		goto out;
	}
	if (bpf_obj_pin(fd, path)) {
		r = -errno;
		bpf_link_detach(fd);
		goto out;
	}
	if (ret_mode)
		*ret_mode = used;
out:
	if (fd >= 0)
		close(fd);
	dp_unlock(dp);
	return r;
}

static int detach_pinned_link(const char *path)
{
	int fd, r = 0;

	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	/* A link whose interface is gone is already detached (-ENOLINK). */
	if (bpf_link_detach(fd) && errno != ENOLINK)
		r = -errno;
	close(fd);
	if (!r && unlink(path))
		r = -errno;
	return r;
}

int vsn_dp_detach(struct vsn_dp *dp, const char *ifname)
{
	char path[PATH_MAX];
	int r;

	r = pin_path(path, sizeof(path), dp->pin_dir, "links", ifname);
	if (r)
		return r;
	r = dp_lock(dp);
	if (r)
		return r;
	r = access(path, F_OK) ? -ENOENT : detach_pinned_link(path);
	dp_unlock(dp);
	return r;
}

int vsn_dp_links_foreach(struct vsn_dp *dp, int (*cb)(const char *ifname, __u32 ifindex, void *arg),
			 void *arg)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int r = 0;

	snprintf(path, sizeof(path), "%s/links", dp->pin_dir);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		struct bpf_link_info info = {0};
		__u32 len = sizeof(info);
		int fd;

		if (de->d_name[0] == '.')
			continue;
		if (pin_path(path, sizeof(path), dp->pin_dir, "links", de->d_name))
			continue;
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(fd, &info, &len))
			info.xdp.ifindex = 0;
		close(fd);
		r = cb(de->d_name, info.xdp.ifindex, arg);
		if (r)
			break;
	}
	closedir(d);
	return r;
}

int vsn_dp_unload(const char *pin_dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int r = 0;

	snprintf(path, sizeof(path), "%s/links", pin_dir);
	d = opendir(path);
	if (d) {
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			if (pin_path(path, sizeof(path), pin_dir, "links", de->d_name))
				continue;
			int rr = detach_pinned_link(path);

			if (rr && !r)
				r = rr;
		}
		closedir(d);
		snprintf(path, sizeof(path), "%s/links", pin_dir);
		rmdir(path);
	}
	unpin_all(pin_dir);
	snprintf(path, sizeof(path), "%s/maps", pin_dir);
	rmdir(path);
	if (rmdir(pin_dir) && errno != ENOENT && !r)
		r = -errno;
	return r;
}
