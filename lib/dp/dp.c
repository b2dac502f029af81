/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loading, pinning, re-opening and attaching the forwarder.
 *
 * Pin layout under pin_dir:  prog, maps/<map name>, links/<ifname>.
 * maps/vsn_meta is pinned last: its presence means "loaded completely".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp_internal.h"
#include "pin.h"
#include "forwarder.skel.h"

const char *const dp_map_names[DP_MAP_MAX] = {
	[DP_MAP_ACTIVE] = "vsn_active",
	[DP_MAP_META] = "vsn_meta",
	[DP_MAP_POLICY_SLOTS] = "vsn_policy_slots",
	[DP_MAP_BARRIER] = "vsn_barrier",
	[DP_MAP_SLBS] = "vsn_slbs",
	[DP_MAP_TX_PORTS] = "vsn_tx_ports",
	[DP_MAP_CNT_POLICY] = "vsn_cnt_policy",
	[DP_MAP_CNT_SLB] = "vsn_cnt_slb",
	[DP_MAP_CNT_SERVICE] = "vsn_cnt_service",
	[DP_MAP_CNT_REASON] = "vsn_cnt_reason",
	[DP_MAP_CONFIG] = "vsn_config",
	[DP_MAP_MAGLEV_SLOTS] = "vsn_maglev_slots",
	[DP_MAP_SLOT_INFO] = "vsn_slot_info",
	[DP_MAP_FLOWS] = "vsn_flows",
	[DP_MAP_FLOW_BUDGET] = "vsn_flow_budget",
	[DP_MAP_CNT_FLOW] = "vsn_cnt_flow",
	[DP_MAP_PREFIX_SLOTS] = "vsn_prefix_slots",
	[DP_MAP_CLIENT_SLOTS] = "vsn_client_slots",
	[DP_MAP_FRAGS] = "vsn_frags",
	[DP_MAP_REPLY_SCRATCH] = "vsn_reply_scratch",
};

int dp_lock(struct vsn_dp *dp)
{
	return pin_lock(dp->dir_fd);
}

void dp_unlock(struct vsn_dp *dp)
{
	pin_unlock(dp->dir_fd);
}

int dp_meta_write(struct vsn_dp *dp, const struct vsn_meta *meta)
{
	__u32 zero = 0;

	return bpf_map_update_elem(dp->map_fd[DP_MAP_META], &zero, meta, BPF_ANY) ? -errno : 0;
}

static void dp_free(struct vsn_dp *dp)
{
	if (!dp)
		return;
	for (int i = 0; i < DP_MAP_MAX; i++)
		if (dp->map_fd[i] >= 0)
			close(dp->map_fd[i]);
	if (dp->prog_fd >= 0)
		close(dp->prog_fd);
	if (dp->dir_fd >= 0)
		close(dp->dir_fd);
	free(dp);
}

/* Unpin whatever a load that died half-way left, so a fresh load can pin. */
static void unpin_all(const char *dir)
{
	pin_unpin_object(dir, dp_map_names, DP_MAP_MAX, DP_MAP_META);
}

static int load_and_pin(const char *dir, const struct vsn_dp_opts *opts)
{
	__u32 max_pol = opts->max_policies ? opts->max_policies : VSN_DEFAULT_MAX_POLICIES;
	__u32 max_slb = opts->max_slbs ? opts->max_slbs : VSN_DEFAULT_MAX_SLBS;
	__u32 max_svc = opts->max_services ? opts->max_services : VSN_DEFAULT_MAX_SERVICES;
	__u32 max_flows = opts->max_flows ? opts->max_flows : VSN_DEFAULT_MAX_FLOWS;
	struct vsn_meta meta = {
		.layout_version = VSN_LAYOUT_VERSION,
		.max_policies = max_pol,
		.max_slbs = max_slb,
		.max_services = max_svc,
		.max_flows = max_flows,
	};
	int ncpus = libbpf_num_possible_cpus();
	struct vsn_config cfg = {0};
	struct forwarder_bpf *skel;
	__u32 zero = 0;
	int r;

	skel = forwarder_bpf__open();
	if (!skel)
		return -errno;
	bpf_map__set_max_entries(skel->maps.vsn_slbs, max_slb);
	bpf_map__set_max_entries(skel->maps.vsn_cnt_slb, max_slb);
	bpf_map__set_max_entries(skel->maps.vsn_cnt_policy, max_pol);
	bpf_map__set_max_entries(skel->maps.vsn_cnt_service, max_svc);
	bpf_map__set_max_entries(skel->maps.vsn_flows, max_flows);
	r = forwarder_bpf__load(skel);
	if (r)
		goto out;
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.vsn_meta), &zero, &meta, BPF_ANY)) {
		r = -errno;
		goto out;
	}
	/* The default insert bound: max_flows / 8 per second (vsn_dp.h). */
	if (ncpus < 1)
		ncpus = 1;
	cfg.flow_inserts_per_cpu = (max_flows / 8 + ncpus - 1) / ncpus;
	if (!cfg.flow_inserts_per_cpu)
		cfg.flow_inserts_per_cpu = 1;
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.vsn_config), &zero, &cfg, BPF_ANY)) {
		r = -errno;
		goto out;
	}
	r = pin_object(dir, bpf_program__fd(skel->progs.vsn_forward), skel->obj, dp_map_names,
		       DP_MAP_MAX, DP_MAP_META);
out:
	forwarder_bpf__destroy(skel);
	return r;
}

static int open_pinned(struct vsn_dp *dp)
{
	__u32 zero = 0;
	int r;

	r = pin_open_object(dp->pin_dir, dp_map_names, DP_MAP_MAX, dp->map_fd, &dp->prog_fd);
	if (r)
		return r;
	if (bpf_map_lookup_elem(dp->map_fd[DP_MAP_META], &zero, &dp->meta))
		return -errno;
	return dp->meta.layout_version == VSN_LAYOUT_VERSION ? 0 : -EPROTO;
}

int vsn_dp_open(const struct vsn_dp_opts *opts, struct vsn_dp **ret_dp)
{
	struct vsn_dp_opts o = {0};
	char meta_path[PATH_MAX];
	struct vsn_dp *dp;
	int r;

	if (opts)
		memcpy(&o, opts, opts->sz && opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return -ENOMEM;
	dp->dir_fd = dp->prog_fd = -1;
	for (int i = 0; i < DP_MAP_MAX; i++)
		dp->map_fd[i] = -1;
	if (snprintf(dp->pin_dir, sizeof(dp->pin_dir), "%s",
		     o.pin_dir ? o.pin_dir : VSN_DP_DEFAULT_PIN_DIR) >= (int)sizeof(dp->pin_dir)) {
		r = -ENAMETOOLONG;
		goto out;
	}
	dp->ncpus = libbpf_num_possible_cpus();
	if (dp->ncpus <= 0) {
		r = dp->ncpus ? dp->ncpus : -EINVAL;
		goto out;
	}

	r = pin_check_bpffs(dp->pin_dir);
	if (r)
		goto out;
	if (o.create) {
		r = pin_mkdir_p(dp->pin_dir);
		if (r)
			goto out;
	}
	dp->dir_fd = open(dp->pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dp->dir_fd < 0) {
		r = -errno;
		goto out;
	}
	r = pin_path(meta_path, sizeof(meta_path), dp->pin_dir, "maps", dp_map_names[DP_MAP_META]);
	if (r)
		goto out;
	if (access(meta_path, F_OK)) {
		if (!o.create) {
			r = -ENOENT;
			goto out;
		}
		r = dp_lock(dp);
		if (r)
			goto out;
		/* Another process may have loaded while we waited for the lock. */
		if (access(meta_path, F_OK)) {
			unpin_all(dp->pin_dir);
			r = load_and_pin(dp->pin_dir, &o);
		}
		dp_unlock(dp);
		if (r)
			goto out;
	}
	r = open_pinned(dp);
out:
	if (r) {
		dp_free(dp);
		return r;
	}
	*ret_dp = dp;
	return 0;
}

void vsn_dp_close(struct vsn_dp *dp)
{
	dp_free(dp);
}

const char *vsn_dp_pin_dir(const struct vsn_dp *dp)
{
	return dp->pin_dir;
}

int vsn_dp_prog_fd(const struct vsn_dp *dp)
{
	return dp->prog_fd;
}

int vsn_dp_meta(const struct vsn_dp *dp, struct vsn_meta *ret_meta)
{
	struct vsn_meta m;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(dp->map_fd[DP_MAP_META], &zero, &m))
		return -errno;
	*ret_meta = m;
	return 0;
}

int vsn_dp_attach(struct vsn_dp *dp, const char *ifname, enum vsn_attach_mode mode,
		  enum vsn_attach_mode *ret_mode)
{
	int r = dp_lock(dp);

	if (r)
		return r;
	r = pin_link_attach(dp->pin_dir, dp->prog_fd, ifname, mode, ret_mode);
	dp_unlock(dp);
	return r;
}

int vsn_dp_detach(struct vsn_dp *dp, const char *ifname)
{
	int r = dp_lock(dp);

	if (r)
		return r;
	r = pin_link_detach(dp->pin_dir, ifname);
	dp_unlock(dp);
	return r;
}

int vsn_dp_links_foreach(struct vsn_dp *dp, int (*cb)(const char *ifname, __u32 ifindex, void *arg),
			 void *arg)
{
	return pin_links_foreach(dp->pin_dir, cb, arg);
}

int vsn_dp_unload(const char *pin_dir)
{
	char path[PATH_MAX];
	int r;

	r = pin_links_detach_all(pin_dir);
	unpin_all(pin_dir);
	snprintf(path, sizeof(path), "%s/maps", pin_dir);
	rmdir(path);
	if (rmdir(pin_dir) && errno != ENOENT && !r)
		r = -errno;
	return r;
}
