/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Policy files (the format of vsn-dpctl apply, lib/dp/policyfile.h) into the sets vsnd serves,
 * and what a reload may change.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "convert.h"
#include "policyfile.h"
#include "vsnd.h"

static int read_all(const char *path, char **ret_text, size_t *ret_len, struct stat *st)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;
	int r = 0;

	if (!f)
		return -errno;
	if (fstat(fileno(f), st)) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st->st_mode)) {
		r = -EINVAL;
		goto out;
	}
	if ((unsigned long long)st->st_size > VSND_FILE_MAX) {
		r = -EFBIG;
		goto out;
	}
	buf = malloc((size_t)st->st_size + 1);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	n = fread(buf, 1, (size_t)st->st_size, f);
	if (ferror(f)) {
		free(buf);
		r = -EIO;
		goto out;
	}
	buf[n] = '\0';
	*ret_text = buf;
	*ret_len = n;
out:
	fclose(f);
	return r;
}

/* The line of entry i (policies, then SLBs, then pools) of pf. */
static int entry_line(const struct vsn_policyfile *pf, size_t i)
{
	if (i < pf->n_policies)
		return pf->policy_lines[i];
	i -= pf->n_policies;
	if (i < pf->n_slbs)
		return pf->slbs[i].line;
	i -= pf->n_slbs;
	return i < pf->n_pools ? pf->pools[i].line : 0;
}

static const char *entry_kind(const struct vsn_policyfile *pf, size_t i)
{
	return i < pf->n_policies ? "policy" : i < pf->n_policies + pf->n_slbs ? "slb" : "pool";
}

/*
 * The file's set as the wire carries it. An SLB without a state is up: the controller, not
 * what a node happens to run, says an SLB's state.
 */
static int to_msg(const char *path, const struct vsn_policyfile *pf, uint64_t gen,
		  Vsn__PolicySet **ret, char *err, size_t errlen)
{
	struct vsn_dp_slb *slbs = calloc(pf->n_slbs + 1, sizeof(*slbs));
	struct vsn_dp_pool *pools = calloc(pf->n_pools + 1, sizeof(*pools));
	struct vsn_dp_set set = {0};
	Vsn__PolicySet *msg = NULL;
	size_t bad = SIZE_MAX;
	int r = -ENOMEM;

	if (!slbs || !pools) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	for (size_t i = 0; i < pf->n_slbs; i++) {
		slbs[i] = pf->slbs[i].slb;
		if (!pf->slbs[i].has_state)
			slbs[i].state = VSN_SLB_UP;
	}
	for (size_t i = 0; i < pf->n_pools; i++)
		pools[i] = pf->pools[i].pool;
	set.generation = gen;
	set.n_policies = pf->n_policies;
	set.policies = pf->policies;
	set.n_slbs = pf->n_slbs;
	set.slbs = slbs;
	set.n_pools = pf->n_pools;
	set.pools = pools;
	set.maglev_size = pf->maglev_size;
	set.hash_seed = pf->hash_seed;
	r = vsn_proto_set_to_msg(&set, &msg, &bad);
	if (r == -EINVAL && bad != SIZE_MAX)
		snprintf(err, errlen, "%s:%d: invalid %s", path, entry_line(pf, bad),
			 entry_kind(pf, bad));
	else if (r == -EINVAL)
		snprintf(err, errlen, "%s: invalid maglev size %u", path, pf->maglev_size);
	else if (r == -E2BIG)
		snprintf(err, errlen, "%s: more entries than a set may hold (docs/protocol.md)",
			 path);
	else if (r)
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
	if (r) {
		vsn_proto_msg_free(msg);
		msg = NULL;
		goto out;
	}
	*ret = msg;
out:
	free(slbs);
	free(pools);
	return r;
}

static void file_fini(struct vsnd_file *f)
{
	free(f->path);
	vsn_ctl_set_unref(f->set);
	free(f->slbs);
	free(f->lines);
	memset(f, 0, sizeof(*f));
}

static int file_load(const char *path, struct vsnd_file *f, char *err, size_t errlen)
{
	struct vsn_policyfile pf;
	Vsn__PolicySet *msg = NULL;
	struct stat st;
	size_t len, n;
	uint64_t gen;
	char *text;
	int r;

	memset(f, 0, sizeof(*f));
	r = read_all(path, &text, &len, &st);
	if (r) {
		snprintf(err, errlen, "%s: %s", path,
			 r == -EINVAL ? "not a regular file" : strerror(-r));
		return r;
	}
	r = vsn_policyfile_parse(path, text, len, &pf, err, errlen);
	free(text);
	if (r) {
		if (r != -EINVAL)
			snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	/* No generation in the file: its modification time, which grows with every edit. */
	f->from_mtime = !pf.has_generation;
	gen = pf.has_generation
		      ? pf.generation
		      : (uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec;
	r = to_msg(path, &pf, gen, &msg, err, errlen);
	if (r)
		goto out;
	r = vsn_ctl_set_new(msg, &f->set);
	vsn_proto_msg_free(msg);
	if (r) {
		snprintf(err, errlen, "%s: %s", path,
			 r == -EINVAL ? "generation 0 is not a generation" : strerror(-r));
		goto out;
	}
	n = pf.n_policies + pf.n_slbs + pf.n_pools;
	f->path = strdup(path);
	f->slbs = calloc(pf.n_slbs + 1, sizeof(*f->slbs));
	f->lines = calloc(n + 1, sizeof(*f->lines));
	if (!f->path || !f->slbs || !f->lines) {
		snprintf(err, errlen, "%s: out of memory", path);
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		f->lines[i] = entry_line(&pf, i);
	for (size_t i = 0; i < pf.n_slbs; i++) {
		f->slbs[i].id = pf.slbs[i].slb.id;
		f->slbs[i].state = pf.slbs[i].has_state ? pf.slbs[i].slb.state : VSN_SLB_UP;
		f->slbs[i].line = pf.slbs[i].line;
	}
	f->n_policies = pf.n_policies;
	f->n_slbs = pf.n_slbs;
	f->n_pools = pf.n_pools;
out:
	if (r)
		file_fini(f);
	vsn_policyfile_free(&pf);
	return r;
}

/*
 * SlbState goes to every node, so an SLB given in two files must have one state in both.
 * (A file defining an SLB twice is the parser's or the node's to refuse.)
 */
static int slbs_agree(const struct vsnd_sets *s, char *err, size_t errlen)
{
	for (size_t a = 0; a < s->n_files; a++)
		for (size_t b = a + 1; b < s->n_files; b++)
			for (size_t i = 0; i < s->files[a].n_slbs; i++)
				for (size_t k = 0; k < s->files[b].n_slbs; k++) {
					const struct vsnd_slb *x = &s->files[a].slbs[i];
					const struct vsnd_slb *y = &s->files[b].slbs[k];

					if (x->id != y->id || x->state == y->state)
						continue;
					snprintf(err, errlen,
						 "%s:%d: slb %u is %s here but %s in %s:%d; "
						 "SlbState goes to every node, so an SLB has "
						 "one state in all files",
						 s->files[b].path, y->line, y->id,
						 vsn_slb_state_name(y->state),
						 vsn_slb_state_name(x->state), s->files[a].path,
						 x->line);
					return -EINVAL;
				}
	return 0;
}

static struct vsnd_file *find_path(const struct vsnd_sets *s, const char *path)
{
	for (size_t i = 0; i < s->n_files; i++)
		if (!strcmp(s->files[i].path, path))
			return &s->files[i];
	return NULL;
}

void vsnd_sets_free(struct vsnd_sets *s)
{
	for (size_t i = 0; i < s->n_files; i++)
		file_fini(&s->files[i]);
	free(s->files);
	free(s->per_node);
	memset(s, 0, sizeof(*s));
}

int vsnd_sets_load(const struct vsnd_opts *o, struct vsnd_sets *ret, char *err, size_t errlen)
{
	size_t n_paths = o->n_node_sets + 1;
	struct vsnd_sets s = {0};
	int r = -ENOMEM;

	s.files = calloc(n_paths, sizeof(*s.files));
	s.per_node = calloc(n_paths, sizeof(*s.per_node));
	if (!s.files || !s.per_node) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < n_paths; i++) {
		const char *path = i < o->n_node_sets ? o->node_sets[i].path : o->set_path;
		struct vsnd_file *f;

		if (!path)
			continue;
		/* A file named twice is read once: its nodes share one set. */
		f = find_path(&s, path);
		if (!f) {
			r = file_load(path, &s.files[s.n_files], err, errlen);
			if (r)
				goto fail;
			f = &s.files[s.n_files++];
		}
		if (i < o->n_node_sets)
			s.per_node[i] = f;
		else
			s.def = f;
	}
	r = slbs_agree(&s, err, errlen);
	if (r)
		goto fail;
	*ret = s;
	return 0;
fail:
	vsnd_sets_free(&s);
	return r;
}

int vsnd_sets_diff(struct vsnd_sets *next, const struct vsnd_sets *prev, char *err, size_t errlen)
{
	for (size_t i = 0; i < next->n_files; i++) {
		struct vsnd_file *f = &next->files[i];
		const struct vsnd_file *p = find_path(prev, f->path);
		uint64_t gen = vsn_ctl_set_generation(f->set), old;

		if (!p)
			continue;
		if (vsn_ctl_set_equal(f->set, p->set)) {
			vsn_ctl_set_unref(f->set);
			f->set = vsn_ctl_set_ref(p->set);
			continue;
		}
		old = vsn_ctl_set_generation(p->set);
		if (gen > old)
			continue;
		snprintf(err, errlen,
			 "%s: the set changed but its generation %llu is not above the one served "
			 "(%llu): nodes refuse it as stale; raise 'generation:', or leave it out "
			 "to use the file's modification time",
			 f->path, (unsigned long long)gen, (unsigned long long)old);
		return -EINVAL;
	}
	return 0;
}

bool vsnd_sets_slb_state(const struct vsnd_sets *s, uint32_t id, enum vsn_slb_state *ret)
{
	for (size_t i = 0; i < s->n_files; i++)
		for (size_t k = 0; k < s->files[i].n_slbs; k++)
			if (s->files[i].slbs[k].id == id) {
				*ret = s->files[i].slbs[k].state;
				return true;
			}
	return false;
}

struct vsnd_file *vsnd_sets_for_node(const struct vsnd *d, const char *node)
{
	for (size_t i = 0; i < d->o.n_node_sets; i++)
		if (!strcmp(d->o.node_sets[i].node, node))
			return d->sets.per_node[i];
	return d->sets.def;
}

bool vsnd_sets_entry(const struct vsnd_sets *s, uint64_t gen, uint64_t bad_entry, char *buf,
		     size_t sz)
{
	for (size_t i = 0; i < s->n_files; i++) {
		const struct vsnd_file *f = &s->files[i];

		if (vsn_ctl_set_generation(f->set) != gen || !bad_entry ||
		    bad_entry > f->n_policies + f->n_slbs + f->n_pools)
			continue;
		snprintf(buf, sz, "%s:%d", f->path, f->lines[bad_entry - 1]);
		return true;
	}
	return false;
}
