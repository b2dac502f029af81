/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the packet tests and the benchmark need to run in a private network
 * namespace of their own: an interface brought up, a bpffs to pin in.
 * Not part of libvsndp: production code never mounts or unshares.
 */
#ifndef VSN_TESTENV_H
#define VSN_TESTENV_H

#include <stddef.h>

#define TESTENV_BPF_FS "/sys/fs/bpf"

/* Set IFF_UP on ifname in the current network namespace. */
int testenv_link_up(const char *ifname);
/* Mount a bpffs at dir unless one is there: 1 if mounted now, 0 if not needed. */
int testenv_bpffs_ensure(const char *dir);

/*
 * Remove pin directories TESTENV_BPF_FS/<prefix><pid> whose process no
 * longer exists (a run killed before it could clean up), with unload();
 * returns how many.
 */
int testenv_sweep_stale(const char *prefix, int (*unload)(const char *dir));

/*
 * A private network namespace with lo up and a bpffs, stale pin directories
 * of prefix swept with unload(), and this process's pin directory
 * TESTENV_BPF_FS/<prefix><pid> written to pin_dir. 0 or a negative errno.
 */
int testenv_private(const char *prefix, int (*unload)(const char *dir), char *pin_dir, size_t len);

#endif /* VSN_TESTENV_H */
