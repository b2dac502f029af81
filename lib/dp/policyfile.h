/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policy-set file that vsn-dpctl applies (docs/dpctl.md has the format).
 * Parsing is pure: no BPF, no network; every error names FILE:LINE:COLUMN.
 */
#ifndef VSN_POLICYFILE_H
#define VSN_POLICYFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "vsn_dp.h"

struct vsn_pf_slb {
	struct vsn_dp_slb slb;
	bool has_state; /* state given; otherwise keep the running one */
	int line;
};

struct vsn_pf_pool {
	struct vsn_dp_pool pool; /* members point into this entry's own array */
	int line;
};

struct vsn_policyfile {
	bool has_generation;
	__u64 generation;
	__u32 maglev_size; /* 0: the library's default */
	__u32 hash_seed;
	struct vsn_pf_pool *pools;
	size_t n_pools;
	struct vsn_pf_slb *slbs;
	size_t n_slbs;
	struct vsn_dp_policy *policies;
	int *policy_lines; /* 1-based line of each policy, for errors found later */
	size_t n_policies;
};

/*
 * Parse text (len bytes) named name into *ret. On error returns -EINVAL with
 * "NAME:LINE:COLUMN: message" in err; *ret is untouched.
 */
int vsn_policyfile_parse(const char *name, const char *text, size_t len, struct vsn_policyfile *ret,
			 char *err, size_t errlen);
void vsn_policyfile_free(struct vsn_policyfile *pf);

#endif /* VSN_POLICYFILE_H */
