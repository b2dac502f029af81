/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SLB-host side of encapsulated forwarding: the decap XDP program
 * (bpf/decap.bpf.c), pinned under its own directory, with the allow-list of
 * node underlay addresses it accepts IP-in-IP and GUE from, and the UDP port
 * it takes GUE on. Part of libvsndp; same
 * conventions as vsn_dp.h (0 or a negative errno, ret_* untouched on
 * failure, no logging).
 */
#ifndef VSN_DECAP_H
#define VSN_DECAP_H

#include <stdbool.h>
#include <linux/types.h>

#include "vsn/layout.h"
#include "addr.h"
#include "vsn_dp.h"

#define VSN_DECAP_DEFAULT_PIN_DIR "/sys/fs/bpf/vsn-decap"
/* Node underlay addresses one SLB host accepts encapsulated traffic from. */
#define VSN_DECAP_MAX_ALLOWED 1024

struct vsn_decap;

/*
 * Open the decap program pinned under pin_dir (NULL: the default); with
 * create, load and pin it when nothing is pinned. Errors as vsn_dp_open().
 */
int vsn_decap_open(const char *pin_dir, bool create, struct vsn_decap **ret);
void vsn_decap_close(struct vsn_decap *d);
/* Detach from every interface and remove all pins; missing pins are fine. */
int vsn_decap_unload(const char *pin_dir);
int vsn_decap_prog_fd(const struct vsn_decap *d);

int vsn_decap_attach(struct vsn_decap *d, const char *ifname, enum vsn_attach_mode mode,
		     enum vsn_attach_mode *ret_mode);
int vsn_decap_detach(struct vsn_decap *d, const char *ifname);
int vsn_decap_links_foreach(struct vsn_decap *d,
			    int (*cb)(const char *ifname, __u32 ifindex, void *arg), void *arg);

/* Allow (or stop allowing) encapsulated packets from a node underlay address. */
int vsn_decap_allow(struct vsn_decap *d, const struct vsn_addr *node);
int vsn_decap_disallow(struct vsn_decap *d, const struct vsn_addr *node);
int vsn_decap_allowed_foreach(struct vsn_decap *d,
			      int (*cb)(const struct vsn_addr *node, void *arg), void *arg);

/*
 * The UDP port GUE is taken from (host order); 0: GUE is not taken apart,
 * UDP to any port passes. VSN_GUE_PORT_DEFAULT (6080) at load. Takes effect
 * at once.
 */
int vsn_decap_gue_port_set(struct vsn_decap *d, __u16 port);
int vsn_decap_gue_port_get(struct vsn_decap *d, __u16 *ret_port);

int vsn_decap_counter_read(struct vsn_decap *d, enum vsn_decap_reason reason,
			   struct vsn_counter *ret);
const char *vsn_decap_reason_name(enum vsn_decap_reason reason);

#endif /* VSN_DECAP_H */
