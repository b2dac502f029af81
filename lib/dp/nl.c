/* SPDX-License-Identifier: Apache-2.0 */
/* One rtnetlink request and its replies, for the modules that talk to the kernel. */
#include <errno.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "nl.h"

int nl_open(struct nl *nl)
{
	nl->sock = mnl_socket_open(NETLINK_ROUTE);
	if (!nl->sock)
		return -errno;
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		int r = -errno;

		mnl_socket_close(nl->sock);
		return r;
	}
	/* The kernel answers at once; never hang on a lost reply. */
	struct timeval tv = {.tv_sec = 2};

	setsockopt(mnl_socket_get_fd(nl->sock), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (unsigned int)time(NULL);
	return 0;
}

void nl_close(struct nl *nl)
{
	mnl_socket_close(nl->sock);
}

/* Send nlh and run cb on each reply message until done; errno-style result. */
int nl_talk(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	int n, r;

	nlh->nlmsg_seq = ++nl->seq;
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(nl->sock, nl->buf, sizeof(nl->buf));
		if (n < 0)
			return -errno;
		r = mnl_cb_run(nl->buf, n, nl->seq, nl->portid, cb, data);
		if (r < 0)
			return -errno;
		/* A dump ends with NLMSG_DONE (STOP); a plain reply is one message. */
		if (r == MNL_CB_STOP || !(((struct nlmsghdr *)nl->buf)->nlmsg_flags & NLM_F_MULTI))
			return 0;
	}
}
