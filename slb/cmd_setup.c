/* SPDX-License-Identifier: Apache-2.0 */
/*
 * setup, teardown.
 *
 * setup validates every argument before it changes anything, then, in this
 * order: loads the decap program, sets the ARP sysctls (before any VIP is on
 * lo, so the host never answers ARP for one), allows the nodes, sets the GUE
 * port (when given), attaches to IFACE, adds the VIPs to lo. What is there already is left as it
 * is, so it can run again. Should a step fail, it undoes what this run changed.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "slb.h"

struct setup_args {
	const char *dev;
	enum vsn_attach_mode mode;
	bool has_gue_port;
	__u16 gue_port; /* 0: off */
	struct vsn_addr *nodes, *vips;
	size_t n_nodes, n_vips;
};

/* The four ARP sysctls setup sets: for all interfaces and for IFACE. */
struct arp_setting {
	const char *ifname;
	const char *name;
	int want;
	int old;
	bool changed;
};

/* What this run of setup changed, to undo it on failure. */
struct undo {
	bool loaded; /* nothing was pinned before: unloading undoes allow and attach too */
	bool attached;
	struct arp_setting arp[4];
	struct vsn_addr *nodes; /* allowed by this run */
	size_t n_nodes;
	struct vsn_addr *vips; /* added to lo by this run */
	size_t n_vips;
	bool gue_changed;
	__u16 gue_old;
};

static const char *fmt(const struct vsn_addr *a, char *buf)
{
	return vsn_addr_format(a, buf, VSN_ADDR_STRLEN);
}

/*
 * Parse --dev and the repeated --vip; with with_nodes (setup), also the
 * repeated --node, --mode and --gue-port. Every address is checked; all bad
 * ones printed.
 */
static int parse_args(const char *cmd, int argc, char **argv, bool with_nodes,
		      struct setup_args *ret)
{
	int bad = 0;

	ret->mode = VSN_ATTACH_AUTO;
	ret->nodes = calloc(argc, sizeof(*ret->nodes));
	ret->vips = calloc(argc, sizeof(*ret->vips));
	if (!ret->nodes || !ret->vips)
		return slb_err(-ENOMEM, "%s", cmd);
	for (int i = 1; i < argc; i++) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!val || (strcmp(opt, "--dev") && strcmp(opt, "--vip") &&
			     (!with_nodes || (strcmp(opt, "--node") && strcmp(opt, "--mode") &&
					      strcmp(opt, "--gue-port")))))
			return slb_err(0, "%s: unknown or incomplete option '%s' (see --help)", cmd,
				       opt);
		i++;
		if (!strcmp(opt, "--dev")) {
			if (ret->dev)
				return slb_err(0, "%s: one --dev only", cmd);
			ret->dev = val;
		} else if (!strcmp(opt, "--mode")) {
			if (vsn_attach_mode_parse(val, &ret->mode))
				return slb_err(0, "%s: --mode is auto, native or generic", cmd);
		} else if (!strcmp(opt, "--gue-port")) {
			bad |= slb_parse_gue_port(cmd, val, &ret->gue_port);
			ret->has_gue_port = true;
		} else if (!strcmp(opt, "--node")) {
			bad |= slb_parse_node(val, &ret->nodes[ret->n_nodes++]);
		} else {
			bad |= slb_parse_vip(val, &ret->vips[ret->n_vips++]);
		}
	}
	if (bad)
		return 1;
	if (!ret->dev)
		return slb_err(0,
			       "%s: which interface? (--dev IFACE, where the nodes' packets "
			       "arrive)",
			       cmd);
	if (strlen(ret->dev) >= IF_NAMESIZE || strchr(ret->dev, '/'))
		return slb_err(0, "%s: '%s' is no interface name", cmd, ret->dev);
	return 0;
}

static void args_free(struct setup_args *a)
{
	free(a->nodes);
	free(a->vips);
}

static const struct lo_addr *lo_find(const struct lo_addr *list, size_t n, const struct vsn_addr *a)
{
	for (size_t i = 0; i < n; i++)
		if (vsn_addr_equal(&list[i].addr, a))
			return &list[i];
	return NULL;
}

static void rollback(struct slb *ctl, struct vsn_decap *d, struct setup_args *a, struct undo *u)
{
	char buf[VSN_ADDR_STRLEN];
	int r;

	fflush(stdout);
	fprintf(stderr, "vsn-slb: undoing what this setup changed\n");
	for (size_t i = u->n_vips; i-- > 0;) {
		r = lo_addr_del(&u->vips[i], u->vips[i].family == AF_INET ? 32 : 128);
		fprintf(stderr, "  remove VIP %s from lo: %s\n", fmt(&u->vips[i], buf),
			r ? strerror(-r) : "done");
	}
	if (u->loaded) {
		r = vsn_decap_unload(ctl->pin_dir);
		fprintf(stderr, "  unload the decap program: %s\n", r ? strerror(-r) : "done");
	} else {
		if (u->attached) {
			r = vsn_decap_detach(d, a->dev);
			fprintf(stderr, "  detach from %s: %s\n", a->dev,
				r ? strerror(-r) : "done");
		}
		if (u->gue_changed) {
			r = vsn_decap_gue_port_set(d, u->gue_old);
			fprintf(stderr, "  GUE port back to %u: %s\n", u->gue_old,
				r ? strerror(-r) : "done");
		}
		for (size_t i = u->n_nodes; i-- > 0;) {
			r = vsn_decap_disallow(d, &u->nodes[i]);
			fprintf(stderr, "  disallow node %s: %s\n", fmt(&u->nodes[i], buf),
				r ? strerror(-r) : "done");
		}
	}
	for (int i = 3; i >= 0; i--) {
		struct arp_setting *s = &u->arp[i];

		if (!s->changed)
			continue;
		r = arp_sysctl_set(s->ifname, s->name, s->old);
		fprintf(stderr, "  net.ipv4.conf.%s.%s back to %d: %s\n", s->ifname, s->name,
			s->old, r ? strerror(-r) : "done");
	}
}

static int setup_sysctls(struct undo *u, const char *dev)
{
	const char *ifnames[] = {"all", dev};
	int i = 0, r, v;

	for (int f = 0; f < 2; f++) {
		u->arp[i++] = (struct arp_setting){
			.ifname = ifnames[f], .name = SLB_ARP_IGNORE, .want = SLB_ARP_IGNORE_WANT};
		u->arp[i++] = (struct arp_setting){.ifname = ifnames[f],
						   .name = SLB_ARP_ANNOUNCE,
						   .want = SLB_ARP_ANNOUNCE_WANT};
	}
	for (i = 0; i < 4; i++) {
		struct arp_setting *s = &u->arp[i];

		r = arp_sysctl_get(s->ifname, s->name, &v);
		if (r)
			return slb_err(r, "read net.ipv4.conf.%s.%s", s->ifname, s->name);
		if (v == s->want) {
			printf("net.ipv4.conf.%s.%s = %d (unchanged)\n", s->ifname, s->name, v);
			continue;
		}
		r = arp_sysctl_set(s->ifname, s->name, s->want);
		if (r)
			return slb_err(r, "set net.ipv4.conf.%s.%s = %d", s->ifname, s->name,
				       s->want);
		s->old = v;
		s->changed = true;
		printf("net.ipv4.conf.%s.%s = %d (was %d)\n", s->ifname, s->name, s->want, v);
	}
	return 0;
}

static int setup_nodes(struct vsn_decap *d, struct setup_args *a, struct undo *u)
{
	struct vsn_addr *now = NULL;
	char buf[VSN_ADDR_STRLEN];
	size_t n_now = 0, fresh = 0;
	int r;

	r = slb_allowed_list(d, &now, &n_now);
	if (r)
		return slb_err(r, "read the allow-list");
	for (size_t i = 0; i < a->n_nodes; i++)
		if (!slb_addr_in(now, n_now, &a->nodes[i]) &&
		    !slb_addr_in(a->nodes, i, &a->nodes[i]))
			fresh++;
	if (n_now + fresh > VSN_DECAP_MAX_ALLOWED) {
		free(now);
		return slb_err(0, "the allow-list holds %zu addresses; %zu more do not fit in %d",
			       n_now, fresh, VSN_DECAP_MAX_ALLOWED);
	}
	for (size_t i = 0; i < a->n_nodes; i++) {
		const struct vsn_addr *n = &a->nodes[i];

		if (slb_addr_in(now, n_now, n) || slb_addr_in(a->nodes, i, n)) {
			printf("node %s already allowed\n", fmt(n, buf));
			continue;
		}
		r = vsn_decap_allow(d, n);
		if (r) {
			free(now);
			return slb_err(r, "allow node %s", fmt(n, buf));
		}
		u->nodes[u->n_nodes++] = *n;
		printf("allowed node %s\n", fmt(n, buf));
	}
	free(now);
	return 0;
}

/* A GUE port as the output says it: the number, or off. */
static const char *port_str(__u16 port, char buf[8])
{
	if (!port)
		return "off";
	snprintf(buf, 8, "%u", port);
	return buf;
}

static int setup_gue_port(struct vsn_decap *d, struct setup_args *a, struct undo *u)
{
	char b1[8], b2[8];
	__u16 now;
	int r;

	if (!a->has_gue_port)
		return 0;
	r = vsn_decap_gue_port_get(d, &now);
	if (r)
		return slb_err(r, "read the GUE port");
	if (now == a->gue_port) {
		printf("GUE port %s (unchanged)\n", port_str(now, b1));
		return 0;
	}
	r = vsn_decap_gue_port_set(d, a->gue_port);
	if (r)
		return slb_err(r, "set the GUE port");
	u->gue_changed = true;
	u->gue_old = now;
	printf("GUE port %s (was %s)\n", port_str(a->gue_port, b1), port_str(now, b2));
	return 0;
}

static int setup_attach(struct vsn_decap *d, struct setup_args *a, struct undo *u)
{
	enum vsn_attach_mode used;
	int r;

	r = vsn_decap_attach(d, a->dev, a->mode, &used);
	if (r == -EEXIST) {
		printf("already attached to %s\n", a->dev);
		return 0;
	}
	if (r == -EBUSY)
		return slb_err(0, "%s has another XDP program attached (ip link show dev %s)",
			       a->dev, a->dev);
	if (r)
		return slb_err(r, "attach to %s (mode %s)", a->dev, vsn_attach_mode_name(a->mode));
	u->attached = true;
	printf("attached to %s (%s)\n", a->dev, vsn_attach_mode_name(used));
	return 0;
}

static int setup_vips(struct setup_args *a, struct undo *u)
{
	char buf[VSN_ADDR_STRLEN];
	struct lo_addr *on_lo = NULL;
	const struct lo_addr *e;
	size_t n_lo = 0;
	int r;

	r = lo_addrs_list(&on_lo, &n_lo);
	if (r)
		return slb_err(r, "list the addresses on lo");
	for (size_t i = 0; i < a->n_vips; i++) {
		const struct vsn_addr *v = &a->vips[i];
		unsigned int plen = v->family == AF_INET ? 32 : 128;

		e = lo_find(on_lo, n_lo, v);
		if (e || slb_addr_in(a->vips, i, v)) {
			printf("VIP %s already on lo (/%u)\n", fmt(v, buf),
			       e ? e->prefixlen : plen);
			continue;
		}
		r = lo_addr_add(v);
		if (r == -EEXIST) {
			printf("VIP %s already on lo (/%u)\n", fmt(v, buf), plen);
			continue;
		}
		if (r) {
			free(on_lo);
			return slb_err(r, "add VIP %s/%u to lo", fmt(v, buf), plen);
		}
		u->vips[u->n_vips++] = *v;
		printf("added VIP %s/%u to lo%s\n", fmt(v, buf), plen,
		       v->family == AF_INET6 ? " (nodad)" : "");
	}
	free(on_lo);
	return 0;
}

int cmd_setup(struct slb *ctl, int argc, char **argv)
{
	struct setup_args a = {0};
	struct undo u = {0};
	struct vsn_decap *d = NULL;
	__u16 gue_port;
	int r;

	r = parse_args("setup", argc, argv, true, &a);
	if (r)
		goto out;
	r = 1;
	if (!a.n_nodes) {
		slb_err(0, "setup: which nodes? (--node ADDR: the underlay address a node sends "
			   "IP-in-IP and GUE from)");
		goto out;
	}
	if (!a.n_vips) {
		slb_err(0, "setup: which VIPs? (--vip ADDR)");
		goto out;
	}
	if (!strcmp(a.dev, "lo")) {
		slb_err(0, "setup: --dev is the interface the nodes' packets arrive on, not lo");
		goto out;
	}
	if (!if_nametoindex(a.dev)) {
		slb_err(0, "setup: no interface %s here", a.dev);
		goto out;
	}
	u.nodes = calloc(a.n_nodes, sizeof(*u.nodes));
	u.vips = calloc(a.n_vips, sizeof(*u.vips));
	if (!u.nodes || !u.vips) {
		slb_err(-ENOMEM, "setup");
		goto out;
	}

	/* Loaded but not attached, the program changes nothing yet. */
	r = slb_open(ctl, false, true, &d);
	if (r == -ENOENT) {
		r = slb_open(ctl, true, false, &d);
		if (r)
			goto out;
		u.loaded = true;
		printf("loaded the decap program under %s\n", ctl->pin_dir);
	} else if (r) {
		goto out;
	} else {
		printf("the decap program is loaded under %s already\n", ctl->pin_dir);
	}

	r = setup_sysctls(&u, a.dev);
	if (!r)
		r = setup_nodes(d, &a, &u);
	if (!r)
		r = setup_gue_port(d, &a, &u);
	if (!r)
		r = setup_attach(d, &a, &u);
	if (!r)
		r = setup_vips(&a, &u);
	if (!r) {
		r = vsn_decap_gue_port_get(d, &gue_port);
		if (r)
			r = slb_err(r, "read the GUE port");
	}
	if (r) {
		rollback(ctl, d, &a, &u);
		goto out;
	}
	printf("ready: IP-in-IP ");
	if (gue_port)
		printf("and GUE (UDP port %u) ", gue_port);
	printf("from %zu node%s to %zu VIP%s is decapsulated on %s\n", a.n_nodes,
	       a.n_nodes == 1 ? "" : "s", a.n_vips, a.n_vips == 1 ? "" : "s", a.dev);
out:
	if (d)
		vsn_decap_close(d);
	free(u.nodes);
	free(u.vips);
	args_free(&a);
	return r ? 1 : 0;
}

struct links {
	const char *except;
	char names[256];
	int n;
};

static int other_link(const char *ifname, __u32 ifindex, void *arg)
{
	struct links *l = arg;
	size_t len = strlen(l->names);

	if (!strcmp(ifname, l->except))
		return 0;
	snprintf(l->names + len, sizeof(l->names) - len, "%s%s", l->n ? ", " : "", ifname);
	l->n++;
	return 0;
}

static int teardown_program(struct slb *ctl, const char *dev)
{
	struct vsn_decap *d = NULL;
	struct links l = {.except = dev};
	int r;

	r = slb_open(ctl, false, true, &d);
	if (r == -ENOENT) {
		printf("the decap program is not loaded under %s\n", ctl->pin_dir);
		return 0;
	}
	if (r)
		return r;
	r = vsn_decap_detach(d, dev);
	if (r == -ENOENT) {
		printf("the decap program was not attached to %s\n", dev);
	} else if (r) {
		vsn_decap_close(d);
		return slb_err(r, "detach from %s", dev);
	} else {
		printf("detached from %s\n", dev);
	}
	r = vsn_decap_links_foreach(d, other_link, &l);
	vsn_decap_close(d);
	if (r)
		return slb_err(r, "list the interfaces attached");
	if (l.n) {
		printf("still attached to %s: the program, its allow-list and counters stay\n",
		       l.names);
		return 0;
	}
	r = vsn_decap_unload(ctl->pin_dir);
	if (r)
		return slb_err(r, "unload %s", ctl->pin_dir);
	printf("unloaded the decap program from %s (its allow-list and counters are gone)\n",
	       ctl->pin_dir);
	return 0;
}

int cmd_teardown(struct slb *ctl, int argc, char **argv)
{
	struct setup_args a = {0};
	struct lo_addr *on_lo = NULL;
	char buf[VSN_ADDR_STRLEN];
	size_t n_lo = 0;
	int r;

	r = parse_args("teardown", argc, argv, false, &a);
	if (r)
		goto out;
	r = teardown_program(ctl, a.dev);
	if (r)
		goto out;
	r = lo_addrs_list(&on_lo, &n_lo);
	if (r) {
		r = slb_err(r, "list the addresses on lo");
		goto out;
	}
	for (size_t i = 0; i < a.n_vips; i++) {
		const struct lo_addr *e = lo_find(on_lo, n_lo, &a.vips[i]);
		int rr;

		if (!e || slb_addr_in(a.vips, i, &a.vips[i])) {
			printf("VIP %s was not on lo\n", fmt(&a.vips[i], buf));
			continue;
		}
		rr = lo_addr_del(&e->addr, e->prefixlen);
		if (rr) {
			r = slb_err(rr, "remove VIP %s/%u from lo", fmt(&a.vips[i], buf),
				    e->prefixlen);
			continue;
		}
		printf("removed VIP %s/%u from lo\n", fmt(&a.vips[i], buf), e->prefixlen);
	}
	printf("left net.ipv4.conf.{all,%s}.{arp_ignore,arp_announce} as they are\n", a.dev);
out:
	free(on_lo);
	args_free(&a);
	return r ? 1 : 0;
}
