/* SPDX-License-Identifier: Apache-2.0 */
#ifndef VSN_DPCTL_H
#define VSN_DPCTL_H

#include "vsn_dp.h"

struct dpctl {
	const char *pin_dir;
};

struct dpctl_cmd {
	const char *name;
	const char *args;
	const char *help;
	int (*run)(struct dpctl *ctl, int argc, char **argv);
};

/* Open the pinned forwarder, loading it when create; prints the error. */
int dpctl_open(struct dpctl *ctl, bool create, struct vsn_dp **ret_dp);
int dpctl_err(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int cmd_load(struct dpctl *ctl, int argc, char **argv);
int cmd_unload(struct dpctl *ctl, int argc, char **argv);
int cmd_attach(struct dpctl *ctl, int argc, char **argv);
int cmd_detach(struct dpctl *ctl, int argc, char **argv);
int cmd_apply(struct dpctl *ctl, int argc, char **argv);
int cmd_show(struct dpctl *ctl, int argc, char **argv);
int cmd_counters(struct dpctl *ctl, int argc, char **argv);
int cmd_slb(struct dpctl *ctl, int argc, char **argv);
int cmd_resolve(struct dpctl *ctl, int argc, char **argv);
int cmd_underlay(struct dpctl *ctl, int argc, char **argv);
int cmd_gue_port(struct dpctl *ctl, int argc, char **argv);
int cmd_flows(struct dpctl *ctl, int argc, char **argv);
int cmd_predict(struct dpctl *ctl, int argc, char **argv);
int cmd_flow_limit(struct dpctl *ctl, int argc, char **argv);

#endif /* VSN_DPCTL_H */
