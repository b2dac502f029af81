/* SPDX-License-Identifier: Apache-2.0 */
#ifndef VSN_SLB_H
#define VSN_SLB_H

#include <stdbool.h>
#include <stddef.h>

#include "vsn_decap.h"

struct slb {
	const char *pin_dir;
};

struct slb_cmd {
	const char *name;
	const char *args;
	const char *help;
	int (*run)(struct slb *ctl, int argc, char **argv);
};

/* Print "vsn-slb: MESSAGE[: strerror(-r)]" on stderr; returns 1 (the exit code). */
int slb_err(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Open the pinned decap program, loading it when create; prints the error.
 * 0, or 1 (printed), or -ENOENT (not printed) when nothing is loaded and
 * quiet_missing.
 */
int slb_open(struct slb *ctl, bool create, bool quiet_missing, struct vsn_decap **ret);

/* Parse a node or VIP address given on the command line; prints the error. 0 or 1. */
int slb_parse_node(const char *s, struct vsn_addr *ret);
int slb_parse_vip(const char *s, struct vsn_addr *ret);
/* Parse a GUE port, 1 to 65535, or off (0), for command cmd; prints the error. 0 or 1. */
int slb_parse_gue_port(const char *cmd, const char *s, __u16 *ret);
/* "GUE is taken from UDP port N", or that it is off. */
void slb_print_gue_port(__u16 port);

/* The addresses allowed now (cmd_allow.c); *ret is malloc'ed. 0 or -errno. */
int slb_allowed_list(struct vsn_decap *d, struct vsn_addr **ret, size_t *ret_n);
bool slb_addr_in(const struct vsn_addr *list, size_t n, const struct vsn_addr *a);

/* Addresses on lo (lo_addr.c), through rtnetlink. */
struct lo_addr {
	struct vsn_addr addr;
	unsigned char prefixlen;
};

/*
 * Every address on lo but the loopback ones (127.0.0.0/8, ::1): those an
 * operator added, VIPs among them. *ret is malloc'ed. 0 or -errno.
 */
int lo_addrs_list(struct lo_addr **ret, size_t *ret_n);
/* Add a as /32 or /128 (IPv6 without duplicate address detection). -EEXIST if there. */
int lo_addr_add(const struct vsn_addr *a);
/* Remove a/prefixlen from lo. -EADDRNOTAVAIL if not there. */
int lo_addr_del(const struct vsn_addr *a, unsigned char prefixlen);

/* The ARP sysctls of an SLB host (sysctl.c): net.ipv4.conf.<ifname>.<name>. */
#define SLB_ARP_IGNORE "arp_ignore"
#define SLB_ARP_ANNOUNCE "arp_announce"
#define SLB_ARP_IGNORE_WANT 1
#define SLB_ARP_ANNOUNCE_WANT 2

int arp_sysctl_get(const char *ifname, const char *name, int *ret);
int arp_sysctl_set(const char *ifname, const char *name, int value);

int cmd_setup(struct slb *ctl, int argc, char **argv);
int cmd_teardown(struct slb *ctl, int argc, char **argv);
int cmd_allow(struct slb *ctl, int argc, char **argv);
int cmd_disallow(struct slb *ctl, int argc, char **argv);
int cmd_show(struct slb *ctl, int argc, char **argv);
int cmd_gue_port(struct slb *ctl, int argc, char **argv);

#endif /* VSN_SLB_H */
