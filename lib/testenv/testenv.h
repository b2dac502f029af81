/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the packet tests and the benchmark need to run in a private network
 * namespace of their own: an interface brought up, a bpffs to pin in.
 * Not part of libvsndp: production code never mounts or unshares.
 */
#ifndef VSN_TESTENV_H
#define VSN_TESTENV_H

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

#endif /* VSN_TESTENV_H */
