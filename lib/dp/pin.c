/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "pin.h"

int pin_path(char *buf, size_t len, const char *dir, const char *sub, const char *name)
{
	int n = snprintf(buf, len, "%s/%s%s%s", dir, sub, *sub ? "/" : "", name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int pin_mkdir_p(const char *path)
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
int pin_check_bpffs(const char *dir)
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

int pin_lock(int dir_fd)
{
	return flock(dir_fd, LOCK_EX) ? -errno : 0;
}

void pin_unlock(int dir_fd)
{
	flock(dir_fd, LOCK_UN);
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

int pin_link_attach(const char *pin_dir, int prog_fd, const char *ifname, enum vsn_attach_mode mode,
		    enum vsn_attach_mode *ret_mode)
{
	enum vsn_attach_mode used =
		mode == VSN_ATTACH_GENERIC ? VSN_ATTACH_GENERIC : VSN_ATTACH_NATIVE;
	char path[PATH_MAX];
	int ifindex, fd, r;

	ifindex = if_nametoindex(ifname);
	if (!ifindex)
		return -ENODEV;
	snprintf(path, sizeof(path), "%s/links", pin_dir);
	r = pin_mkdir_p(path);
	if (r)
		return r;
	r = pin_path(path, sizeof(path), pin_dir, "links", ifname);
	if (r)
		return r;
	if (!access(path, F_OK))
		return -EEXIST;
	fd = link_create(prog_fd, ifindex, used);
	if (fd < 0 && mode == VSN_ATTACH_AUTO && fd != -EBUSY && fd != -EEXIST) {
		used = VSN_ATTACH_GENERIC;
		fd = link_create(prog_fd, ifindex, used);
	}
	if (fd < 0)
		return fd;
	if (bpf_obj_pin(fd, path)) {
		r = -errno;
		bpf_link_detach(fd);
	} else if (ret_mode) {
		*ret_mode = used;
	}
	close(fd);
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

int pin_link_detach(const char *pin_dir, const char *ifname)
{
	char path[PATH_MAX];
	int r;

	r = pin_path(path, sizeof(path), pin_dir, "links", ifname);
	if (r)
		return r;
	return access(path, F_OK) ? -ENOENT : detach_pinned_link(path);
}

int pin_links_foreach(const char *pin_dir, int (*cb)(const char *ifname, __u32 ifindex, void *arg),
		      void *arg)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int r = 0;

	snprintf(path, sizeof(path), "%s/links", pin_dir);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		struct bpf_link_info info = {0};
		__u32 len = sizeof(info);
		int fd;

		if (de->d_name[0] == '.')
			continue;
		if (pin_path(path, sizeof(path), pin_dir, "links", de->d_name))
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

int pin_links_detach_all(const char *pin_dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int r = 0, rr;

	snprintf(path, sizeof(path), "%s/links", pin_dir);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (pin_path(path, sizeof(path), pin_dir, "links", de->d_name))
			continue;
		rr = detach_pinned_link(path);
		if (rr && !r)
			r = rr;
	}
	closedir(d);
	snprintf(path, sizeof(path), "%s/links", pin_dir);
	rmdir(path);
	return r;
}

void pin_unpin_object(const char *dir, const char *const *names, int n, int marker)
{
	char path[PATH_MAX];

	if (!pin_path(path, sizeof(path), dir, "maps", names[marker]))
		unlink(path);
	for (int i = 0; i < n; i++)
		if (i != marker && !pin_path(path, sizeof(path), dir, "maps", names[i]))
			unlink(path);
	if (!pin_path(path, sizeof(path), dir, "", "prog"))
		unlink(path);
}

static int pin_map(const char *dir, struct bpf_object *obj, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, name);
	char path[PATH_MAX];
	int r;

	if (!m)
		return -ENOENT;
	r = pin_path(path, sizeof(path), dir, "maps", name);
	if (r)
		return r;
	return bpf_obj_pin(bpf_map__fd(m), path) ? -errno : 0;
}

int pin_object(const char *dir, int prog_fd, struct bpf_object *obj, const char *const *names,
	       int n, int marker)
{
	char path[PATH_MAX];
	int r;

	snprintf(path, sizeof(path), "%s/maps", dir);
	r = pin_mkdir_p(path);
	if (r)
		return r;
	r = pin_path(path, sizeof(path), dir, "", "prog");
	if (r)
		return r;
	if (bpf_obj_pin(prog_fd, path))
		return -errno;
	for (int i = 0; i < n && !r; i++)
		if (i != marker)
			r = pin_map(dir, obj, names[i]);
	if (!r)
		r = pin_map(dir, obj, names[marker]);
	if (r)
		pin_unpin_object(dir, names, n, marker);
	return r;
}

int pin_open_object(const char *dir, const char *const *names, int n, int *fds, int *ret_prog_fd)
{
	char path[PATH_MAX];
	int r, fd;

	for (int i = 0; i < n; i++) {
		r = pin_path(path, sizeof(path), dir, "maps", names[i]);
		if (r)
			return r;
		fds[i] = bpf_obj_get(path);
		if (fds[i] < 0)
			return -errno;
	}
	r = pin_path(path, sizeof(path), dir, "", "prog");
	if (r)
		return r;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	*ret_prog_fd = fd;
	return 0;
}
