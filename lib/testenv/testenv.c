/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/statfs.h>

#include "testenv.h"

#define BPF_FS_MAGIC 0xcafe4a11

int testenv_link_up(const char *ifname)
{
	struct ifreq ifr = {0};
	int fd, r = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr)) {
		r = -errno;
		goto out;
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr))
		r = -errno;
out:
	close(fd);
	return r;
}

int testenv_bpffs_ensure(const char *dir)
{
	struct statfs st;

	if (!statfs(dir, &st) && st.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", dir, "bpf", 0, "mode=0700"))
		return -errno;
	return 1;
}

int testenv_sweep_stale(const char *prefix, int (*unload)(const char *dir))
{
	size_t len = strlen(prefix);
	char path[512], *end;
	struct dirent *de;
	int n = 0;
	long pid;
	DIR *d;

	d = opendir(TESTENV_BPF_FS);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, prefix, len))
			continue;
		pid = strtol(de->d_name + len, &end, 10);
		if (end == de->d_name + len || *end || pid <= 0 || !kill(pid, 0) || errno != ESRCH)
			continue;
		snprintf(path, sizeof(path), TESTENV_BPF_FS "/%s", de->d_name);
		unload(path);
		n++;
	}
	closedir(d);
	return n;
}

int testenv_private(const char *prefix, int (*unload)(const char *dir), char *pin_dir, size_t len)
{
	int r;

	if (unshare(CLONE_NEWNET))
		return -errno;
	r = testenv_link_up("lo");
	if (r)
		return r;
	r = testenv_bpffs_ensure(TESTENV_BPF_FS);
	if (r < 0)
		return r;
	/* A run that crashed could not clean up. */
	testenv_sweep_stale(prefix, unload);
	snprintf(pin_dir, len, TESTENV_BPF_FS "/%s%d", prefix, (int)getpid());
	return 0;
}
