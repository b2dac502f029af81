/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apply FILE: define the file's SLBs (outside generations), then swap in its
 * policies as one new generation. Every check that can fail runs before the
 * running set is touched; on error the running set stays as it was.
 */
#include <errno.h>
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

static bool file_defines(const struct vsn_policyfile *pf, __u32 id)
{
	for (size_t i = 0; i < pf->n_slbs; i++)
		if (pf->slbs[i].slb.id == id)
			return true;
	return false;
}

/* Explain a refused set in terms of the file. */
static int set_error(const char *path, const struct vsn_policyfile *pf, int r, size_t bad,
		     const struct vsn_meta *m)
{
	int line = bad < pf->n_policies ? pf->policy_lines[bad] : 0;

	switch (r) {
	case -ESTALE:
		return dpctl_err(0, "%s: generation %llu is not above the running %llu", path,
				 (unsigned long long)pf->generation,
				 (unsigned long long)m->generation);
	case -E2BIG:
		return dpctl_err(0, "%s: %zu policies, this forwarder holds %u (load option)", path,
				 pf->n_policies, m->max_policies);
	case -EEXIST:
		return dpctl_err(0,
				 "%s:%d: a policy for this VIP, protocol and port is given "
				 "twice",
				 path, line);
	case -ENOENT:
		return dpctl_err(0, "%s:%d: slb %u is not defined here or on this node", path, line,
				 pf->policies[bad].slb_id);
	case -ERANGE:
		return dpctl_err(0,
				 "%s:%d: an id is beyond this forwarder's capacity "
				 "(slbs < %u, services < %u, policies < %u)",
				 path, line, m->max_slbs, m->max_services, m->max_policies);
	case -EINVAL:
		return dpctl_err(0, "%s:%d: invalid policy", path, line);
	default:
		return dpctl_err(r, "%s: apply", path);
	}
}

int cmd_apply(struct dpctl *ctl, int argc, char **argv)
{
	struct vsn_policyfile pf;
	const char *path = NULL;
	bool check = false;
	struct vsn_dp *dp = NULL;
	struct vsn_meta m;
	char err[512];
	size_t len, bad = 0;
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
	if (!pf.has_generation)
		pf.generation = m.generation + 1;
	for (size_t i = 0; i < pf.n_slbs; i++)
		if (pf.slbs[i].slb.id >= m.max_slbs) {
			dpctl_err(0, "%s:%d: slb id %u is beyond this forwarder's %u SLBs", path,
				  pf.slbs[i].line, pf.slbs[i].slb.id, m.max_slbs);
			goto out;
		}
	/* Policies may use SLBs of this file or SLBs the node already has. */
	for (size_t i = 0; i < pf.n_policies; i++) {
		struct vsn_slb s;
		__u32 id = pf.policies[i].slb_id;

		if (!file_defines(&pf, id) && vsn_dp_slb_get(dp, id, &s)) {
			set_error(path, &pf, -ENOENT, i, &m);
			goto out;
		}
	}
	if (check) {
		printf("%s: %zu slbs, %zu policies, generation %llu: ok\n", path, pf.n_slbs,
		       pf.n_policies, (unsigned long long)pf.generation);
		ret = 0;
		goto out;
	}

	for (size_t i = 0; i < pf.n_slbs; i++) {
		struct vsn_dp_slb *s = &pf.slbs[i].slb;
		struct vsn_slb cur;
		char a[VSN_ADDR_STRLEN];

		if (!pf.slbs[i].has_state && !vsn_dp_slb_get(dp, s->id, &cur))
			s->state = cur.state;
		r = vsn_dp_slb_set(dp, s);
		if (r == -EDESTADDRREQ)
			fprintf(stderr,
				"vsn-dpctl: warning: %s:%d: slb %u (%s) is not on-link; "
				"l2 forwarding needs an on-link SLB: its packets are "
				"dropped\n",
				path, pf.slbs[i].line, s->id,
				vsn_addr_format(&s->addr, a, sizeof(a)));
		else if (r == -ETIMEDOUT || r == -EHOSTUNREACH || r == -ENETUNREACH)
			fprintf(stderr,
				"vsn-dpctl: warning: %s:%d: slb %u (%s): next hop not "
				"resolved (%s); its packets are dropped until "
				"'vsn-dpctl resolve' succeeds\n",
				path, pf.slbs[i].line, s->id,
				vsn_addr_format(&s->addr, a, sizeof(a)), strerror(-r));
		else if (r) {
			dpctl_err(r, "%s:%d: define slb %u", path, pf.slbs[i].line, s->id);
			goto out;
		}
	}

	struct vsn_dp_set set = {
		.generation = pf.generation,
		.n_policies = pf.n_policies,
		.policies = pf.policies,
	};
	r = vsn_dp_set_apply(dp, &set, &bad);
	if (r) {
		set_error(path, &pf, r, bad, &m);
		goto out;
	}
	printf("generation %llu: %zu policies, %zu slbs\n", (unsigned long long)pf.generation,
	       pf.n_policies, pf.n_slbs);
	ret = 0;
	/* The new set runs; freeing the old one is housekeeping. */
	r = vsn_dp_set_trim(dp);
	if (r)
		dpctl_err(r, "warning: the previous set was not freed yet");
out:
	vsn_dp_close(dp);
	vsn_policyfile_free(&pf);
	return ret;
}
