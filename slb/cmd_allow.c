/* SPDX-License-Identifier: Apache-2.0 */
/* allow, disallow: the allow-list of node underlay addresses, at run time. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slb.h"

struct list {
	struct vsn_addr *a;
	size_t n, cap;
};

static int collect(const struct vsn_addr *node, void *arg)
{
	struct list *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct vsn_addr *a = realloc(l->a, cap * sizeof(*a));

		if (!a)
			return -ENOMEM;
		l->a = a;
		l->cap = cap;
	}
	l->a[l->n++] = *node;
	return 0;
}

int slb_allowed_list(struct vsn_decap *d, struct vsn_addr **ret, size_t *ret_n)
{
	struct list l = {0};
	int r = vsn_decap_allowed_foreach(d, collect, &l);

	if (r) {
		free(l.a);
		return r;
	}
	*ret = l.a;
	*ret_n = l.n;
	return 0;
}

bool slb_addr_in(const struct vsn_addr *list, size_t n, const struct vsn_addr *a)
{
	for (size_t i = 0; i < n; i++)
		if (vsn_addr_equal(&list[i], a))
			return true;
	return false;
}

/* Parse every ADDR first: a typo in the third changes nothing. */
static int parse_all(const char *cmd, int argc, char **argv, struct vsn_addr **ret)
{
	struct vsn_addr *a;
	int bad = 0;

	if (argc < 2)
		return slb_err(0, "%s: which addresses? (%s ADDR...)", cmd, cmd);
	a = calloc(argc - 1, sizeof(*a));
	if (!a)
		return slb_err(-ENOMEM, "%s", cmd);
	for (int i = 1; i < argc; i++)
		bad |= slb_parse_node(argv[i], &a[i - 1]);
	if (bad) {
		free(a);
		return 1;
	}
	*ret = a;
	return 0;
}

static int change(struct slb *ctl, int argc, char **argv, bool allow)
{
	const char *cmd = allow ? "allow" : "disallow";
	struct vsn_addr *want = NULL, *now = NULL;
	char buf[VSN_ADDR_STRLEN];
	struct vsn_decap *d = NULL;
	size_t n_now = 0, fresh = 0;
	int r;

	r = parse_all(cmd, argc, argv, &want);
	if (r)
		return r;
	r = slb_open(ctl, false, false, &d);
	if (r)
		goto out;
	r = slb_allowed_list(d, &now, &n_now);
	if (r) {
		r = slb_err(r, "read the allow-list");
		goto out;
	}
	for (int i = 0; allow && i < argc - 1; i++)
		if (!slb_addr_in(now, n_now, &want[i]) && !slb_addr_in(want, i, &want[i]))
			fresh++;
	if (n_now + fresh > VSN_DECAP_MAX_ALLOWED) {
		r = slb_err(0,
			    "allow: the allow-list holds %zu addresses; %zu more do not fit in %d",
			    n_now, fresh, VSN_DECAP_MAX_ALLOWED);
		goto out;
	}
	for (int i = 0; i < argc - 1; i++) {
		const struct vsn_addr *a = &want[i];
		bool listed = slb_addr_in(now, n_now, a);

		if (slb_addr_in(want, i, a))
			continue; /* given twice */
		vsn_addr_format(a, buf, sizeof(buf));
		if (allow && listed) {
			printf("node %s already allowed\n", buf);
			continue;
		}
		if (!allow && !listed) {
			printf("node %s was not allowed\n", buf);
			continue;
		}
		r = allow ? vsn_decap_allow(d, a) : vsn_decap_disallow(d, a);
		if (r == -E2BIG) {
			r = slb_err(0, "allow %s: the allow-list is full (%d addresses)", buf,
				    VSN_DECAP_MAX_ALLOWED);
			goto out;
		}
		if (r && !(r == -ENOENT && !allow)) {
			r = slb_err(r, "%s %s", cmd, buf);
			goto out;
		}
		r = 0;
		printf("%s node %s\n", allow ? "allowed" : "disallowed", buf);
	}
	free(now);
	now = NULL;
	r = slb_allowed_list(d, &now, &n_now);
	if (r) {
		r = slb_err(r, "read the allow-list");
		goto out;
	}
	if (!n_now)
		printf("no node is allowed now: every IP-in-IP packet is dropped\n");
out:
	if (d)
		vsn_decap_close(d);
	free(want);
	free(now);
	return r ? 1 : 0;
}

int cmd_allow(struct slb *ctl, int argc, char **argv)
{
	return change(ctl, argc, argv, true);
}

int cmd_disallow(struct slb *ctl, int argc, char **argv)
{
	return change(ctl, argc, argv, false);
}
