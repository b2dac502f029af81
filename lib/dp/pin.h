/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pinning on bpffs and XDP attachment through pinned bpf_links, shared by
 * the forwarder (dp.c) and the SLB-side decap program (decap.c). Internal to
 * libvsndp. A pin dir holds prog, maps/<name> and links/<ifname>.
 */
#ifndef VSN_PIN_H
#define VSN_PIN_H

#include <stddef.h>
#include <linux/types.h>

#include "vsn_dp.h"

/* dir/sub/name (or dir/name when sub is ""); -ENAMETOOLONG if it does not fit. */
int pin_path(char *buf, size_t len, const char *dir, const char *sub, const char *name);
int pin_mkdir_p(const char *path);
/* -EMEDIUMTYPE unless dir (or its nearest existing parent) is on a bpffs. */
int pin_check_bpffs(const char *dir);
/*
 * A loaded BPF object's pins: <dir>/prog and <dir>/maps/<names[i]>, with
 * names[marker] pinned last and removed first, so its presence means
 * "pinned completely". On failure pin_object() removes what it pinned.
 */
struct bpf_object;
int pin_object(const char *dir, int prog_fd, struct bpf_object *obj, const char *const *names,
	       int n, int marker);
void pin_unpin_object(const char *dir, const char *const *names, int n, int marker);
/* Open every pinned map into fds[i] (left -1 on failure) and the program into *ret_prog_fd. */
int pin_open_object(const char *dir, const char *const *names, int n, int *fds, int *ret_prog_fd);

/* Exclusive flock on an open pin dir; around every change. */
int pin_lock(int dir_fd);
void pin_unlock(int dir_fd);

/*
 * Attach prog_fd to ifname with a bpf_link pinned as <pin_dir>/links/<ifname>
 * (the caller holds the lock). -EEXIST: attached there already.
 */
int pin_link_attach(const char *pin_dir, int prog_fd, const char *ifname, enum vsn_attach_mode mode,
		    enum vsn_attach_mode *ret_mode);
/* -ENOENT: not attached there. */
int pin_link_detach(const char *pin_dir, const char *ifname);
int pin_links_foreach(const char *pin_dir, int (*cb)(const char *ifname, __u32 ifindex, void *arg),
		      void *arg);
/* Detach every pinned link and remove links/; the first error, or 0. */
int pin_links_detach_all(const char *pin_dir);

#endif /* VSN_PIN_H */
