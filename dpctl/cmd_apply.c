/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apply FILE: swap in the file's policies as one new generation, defining its
 * SLBs (outside generations) just before the flip. Every check runs before
 * anything is touched: a refused file changes nothing, SLBs included.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpctl.h"
#include "policyfile.h"

static char *read_file(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, len = 0;

	if (!f)
		return NULL;
	for (;;) {
		if (len == cap) {
			char *nb = realloc(buf, cap ? cap * 2 : 65536);

			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap = cap ? cap * 2 : 65536;
		}
		size_t n = fread(buf + len, 1, cap - len, f);

		len += n;
		if (n == 0)
			break;
	}
	if (buf && ferror(f)) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*ret_len = len;
	return buf;
}

/* How SLB id forwards: as the file defines it, else as the node has it. */
static const char *slb_forward(struct vsn_dp *dp, const struct vsn_policyfile *pf, __u32 id)
{
	struct vsn_slb e;

	for (size_t i = pf->n_slbs; i-- > 0;)
		if (pf->slbs[i].slb.id == id)
			return vsn_forward_name(pf->slbs[i].slb.forward);
	return vsn_dp_slb_get(dp, id, &e) ? "?" : vsn_forward_name(e.forward);
}

/* Explain a refused set in terms of the file. */
static int set_error(struct vsn_dp *dp, const char *path, const struct vsn_policyfile *pf,
		     const struct vsn_dp_set *set, int r, size_t bad, const struct vsn_meta *m)
{
	bool is_slb = bad >= pf->n_policies && bad - pf->n_policies < pf->n_slbs;
	bool is_pool = bad != SIZE_MAX && bad >= pf->n_policies + pf->n_slbs &&
		       bad - pf->n_policies - pf->n_slbs < pf->n_pools;
	size_t i = is_slb    ? bad - pf->n_policies
		   : is_pool ? bad - pf->n_policies - pf->n_slbs
			     : bad;
	int line = is_slb		  ? pf->slbs[i].line
		   : is_pool		  ? pf->pools[i].line
		   : bad < pf->n_policies ? pf->policy_lines[bad]
					  : 0;

	if (is_pool) {
		switch (r) {
		case -ENOENT:
			return dpctl_err(0,
					 "%s:%d: pool %u has a member slb that is not defined "
					 "here or on this node",
					 path, line, pf->pools[i].pool.id);
		case -ERANGE:
			return dpctl_err(0,
					 "%s:%d: pool %u: a member slb id is beyond this "
					 "forwarder's capacity (slbs < %u)",
					 path, line, pf->pools[i].pool.id, m->max_slbs);
		case -EEXIST:
			return dpctl_err(0, "%s:%d: pool %u is given twice, or has a member twice",
					 path, line, pf->pools[i].pool.id);
		default:
			return dpctl_err(r, "%s:%d: pool %u", path, line, pf->pools[i].pool.id);
		}
	}

	switch (r) {
	case -ESTALE:
		return dpctl_err(0, "%s: generation %llu is not above the running %llu", path,
				 (unsigned long long)set->generation,
				 (unsigned long long)m->generation);
	case -E2BIG:
		if (pf->n_policies <= m->max_policies)
			return dpctl_err(0,
					 "%s: %zu pools of %u entries exceed the %u table entries "
					 "a set may hold",
					 path, pf->n_pools, set->maglev_size,
					 VSN_DP_MAX_TABLE_ENTRIES);
		return dpctl_err(0, "%s: %zu policies, this forwarder holds %u (load option)", path,
				 pf->n_policies, m->max_policies);
	case -EEXIST:
		if (is_slb)
			return dpctl_err(0, "%s:%d: slb id %u is given twice", path, line,
					 pf->slbs[i].slb.id);
		return dpctl_err(0,
				 "%s:%d: a policy for this VIP, protocol and port is given twice",
				 path, line);
	case -ENOTUNIQ:
		return dpctl_err(0,
				 "%s:%d: policy id %u is given twice (a policy without 'id' "
				 "counts under its position)",
				 path, line, pf->policies[i].policy_id);
	case -ENOENT:
		if (pf->policies[i].pool_id)
			return dpctl_err(0, "%s:%d: pool %u is not defined", path, line,
					 pf->policies[i].pool_id);
		return dpctl_err(0, "%s:%d: slb %u is not defined here or on this node", path, line,
				 pf->policies[i].slb_id);
	case -ERANGE:
		return dpctl_err(0,
				 "%s:%d: an id is beyond this forwarder's capacity "
				 "(slbs < %u, services < %u, policies < %u)",
				 path, line, m->max_slbs, m->max_services, m->max_policies);
	case -EAFNOSUPPORT:
		if (pf->policies[i].pool_id)
			return dpctl_err(0,
					 "%s:%d: pool %u has an ipip or gue SLB of the other "
					 "family; they carry IPv4 in IPv4 and IPv6 in IPv6",
					 path, line, pf->policies[i].pool_id);
		return dpctl_err(0,
				 "%s:%d: slb %u forwards by %s, which carries IPv4 in IPv4 and "
				 "IPv6 in IPv6: the VIP's family must be the SLB's",
				 path, line, pf->policies[i].slb_id,
				 slb_forward(dp, pf, pf->policies[i].slb_id));
	case -EINVAL:
		if (bad == SIZE_MAX)
			return dpctl_err(0,
					 "%s: maglev size %u must be a prime above the largest "
					 "pool's member count",
					 path, set->maglev_size);
		return dpctl_err(0, "%s:%d: invalid %s (an IPv6 address in ::ffff:0:0/96?)", path,
				 line, is_slb ? "slb" : "policy");
	default:
		return dpctl_err(r, "%s: apply", path);
	}
}

static void warn_unresolved(const char *path, const struct vsn_policyfile *pf, const int *res)
{
	char a[VSN_ADDR_STRLEN];

	for (size_t i = 0; i < pf->n_slbs; i++) {
		const struct vsn_dp_slb *s = &pf->slbs[i].slb;

		if (!res[i])
			continue;
		vsn_addr_format(&s->addr, a, sizeof(a));
		if (res[i] == -EDESTADDRREQ)
			fprintf(stderr,
				"vsn-dpctl: warning: %s:%d: slb %u (%s) is not on-link; l2 "
				"forwarding needs an on-link SLB: its packets are dropped\n",
				path, pf->slbs[i].line, s->id, a);
		else
			fprintf(stderr,
				"vsn-dpctl: warning: %s:%d: slb %u (%s): next hop not resolved "
				"(%s); its packets are dropped until 'vsn-dpctl resolve' "
				"succeeds\n",
				path, pf->slbs[i].line, s->id, a, strerror(-res[i]));
	}
}

int cmd_apply(struct dpctl *ctl, int argc, char **argv)
{
	struct vsn_policyfile pf;
	struct vsn_dp_set set = {0};
	struct vsn_dp_pool *pools;
	const char *path = NULL;
	bool check = false;
	struct vsn_dp *dp = NULL;
	struct vsn_meta m;
	int *res = NULL;
	char err[512];
	size_t len, bad = SIZE_MAX;
	char *text;
	int r, ret = 1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--check"))
			check = true;
		else if (!path)
			path = argv[i];
		else
			return dpctl_err(0, "apply: unexpected '%s'", argv[i]);
	}
	if (!path)
		return dpctl_err(0, "apply: which file?");
	text = read_file(path, &len);
	if (!text)
		return dpctl_err(-errno, "read %s", path);
	r = vsn_policyfile_parse(path, text, len, &pf, err, sizeof(err));
	free(text);
	if (r == -EINVAL)
		return dpctl_err(0, "%s", err);
	if (r)
		return dpctl_err(r, "parse %s", path);

	if (dpctl_open(ctl, !check, &dp))
		goto out;
	r = vsn_dp_meta(dp, &m);
	if (r) {
		dpctl_err(r, "read state");
		goto out;
	}
	/* An SLB whose state the file leaves out keeps the one it runs with. */
	for (size_t i = 0; i < pf.n_slbs; i++) {
		struct vsn_slb cur;

		if (!pf.slbs[i].has_state && !vsn_dp_slb_get(dp, pf.slbs[i].slb.id, &cur))
			pf.slbs[i].slb.state = cur.state;
	}
	res = calloc(pf.n_slbs + 1, sizeof(*res));
	if (!res) {
		dpctl_err(-ENOMEM, "apply");
		goto out;
	}
	struct vsn_dp_slb *slbs = calloc(pf.n_slbs + 1, sizeof(*slbs));

	if (!slbs) {
		dpctl_err(-ENOMEM, "apply");
		goto out;
	}
	for (size_t i = 0; i < pf.n_slbs; i++)
		slbs[i] = pf.slbs[i].slb;
	pools = calloc(pf.n_pools + 1, sizeof(*pools));
	if (!pools) {
		free(slbs);
		dpctl_err(-ENOMEM, "apply");
		goto out;
	}
	for (size_t i = 0; i < pf.n_pools; i++)
		pools[i] = pf.pools[i].pool;
	set.n_pools = pf.n_pools;
	set.pools = pools;
	set.maglev_size = pf.maglev_size;
	set.hash_seed = pf.hash_seed;
	set.generation = pf.has_generation ? pf.generation : m.generation + 1;
	set.n_policies = pf.n_policies;
	set.policies = pf.policies;
	set.n_slbs = pf.n_slbs;
	set.slbs = slbs;
	set.ret_slb_results = res;

	/* Every check apply makes, and nothing changed. */
	r = check ? vsn_dp_set_validate(dp, &set, &bad) : vsn_dp_set_apply(dp, &set, &bad);
	free(slbs);
	free(pools);
	if (r) {
		set_error(dp, path, &pf, &set, r, bad, &m);
		goto out;
	}
	ret = 0;
	if (check) {
		printf("%s: %zu slbs, %zu policies, %zu pools, generation %llu: ok\n", path,
		       pf.n_slbs, pf.n_policies, pf.n_pools, (unsigned long long)set.generation);
		goto out;
	}
	warn_unresolved(path, &pf, res);
	printf("generation %llu: %zu policies, %zu slbs, %zu pools\n",
	       (unsigned long long)set.generation, pf.n_policies, pf.n_slbs, pf.n_pools);
	/* The new set runs; freeing the old one is housekeeping. */
	r = vsn_dp_set_trim(dp);
	if (r)
		dpctl_err(r, "warning: the previous set was not freed yet");
out:
	free(res);
	vsn_dp_close(dp);
	vsn_policyfile_free(&pf);
	return ret;
}
