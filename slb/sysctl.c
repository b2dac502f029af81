/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ARP sysctls, through /proc/sys (of the network namespace vsn-slb runs
 * in). An interface name may hold dots, which the path keeps as they are.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "slb.h"

static int path_of(char *buf, size_t len, const char *ifname, const char *name)
{
	int n;

	if (!*ifname || strchr(ifname, '/') || !strcmp(ifname, ".") || !strcmp(ifname, ".."))
		return -EINVAL;
	n = snprintf(buf, len, "/proc/sys/net/ipv4/conf/%s/%s", ifname, name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int arp_sysctl_get(const char *ifname, const char *name, int *ret)
{
	char path[256], buf[32], *end;
	ssize_t n;
	long v;
	int fd, r;

	r = path_of(path, sizeof(path), ifname, name);
	if (r)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	r = n < 0 ? -errno : 0;
	close(fd);
	if (r)
		return r;
	buf[n] = '\0';
	v = strtol(buf, &end, 10);
	if (end == buf || (*end && *end != '\n'))
		return -EBADMSG;
	*ret = (int)v;
	return 0;
}

int arp_sysctl_set(const char *ifname, const char *name, int value)
{
	char path[256], buf[16];
	int fd, n, r;

	r = path_of(path, sizeof(path), ifname, name);
	if (r)
		return r;
	n = snprintf(buf, sizeof(buf), "%d\n", value);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = write(fd, buf, n) == n ? 0 : -errno;
	close(fd);
	return r;
}
