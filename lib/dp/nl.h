/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A blocking rtnetlink session (libmnl) in the caller's network namespace:
 * send one request, run a callback on each reply until the reply, the dump
 * or the acknowledgement ends. Replies time out after 2 s, so nothing hangs.
 */
#ifndef VSN_NL_H
#define VSN_NL_H

#include <libmnl/libmnl.h>

struct nl {
	struct mnl_socket *sock;
	unsigned int portid;
	unsigned int seq;
	char buf[8192]; /* MNL_SOCKET_BUFFER_SIZE is not a constant */
};

int nl_open(struct nl *nl);
void nl_close(struct nl *nl);
/* 0, or the kernel's error as a negative errno. cb may be NULL (an acknowledged request). */
int nl_talk(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data);

#endif /* VSN_NL_H */
