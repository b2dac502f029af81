/* SPDX-License-Identifier: Apache-2.0 */
/*
 * show: what vsn-slb set up, read back from the host (the GUE port 0 when
 * off). Works without the decap program too (after a teardown): the VIPs and
 * sysctls are the host's.
 * With --json, one JSON object per line, each with a "kind".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slb.h"

struct show {
	bool json;
	/* Attached interfaces that still exist, for their sysctls. */
	char ifnames[16][32];
	int n_ifnames;
};

/* A JSON string: interface names may hold quotes and backslashes. */
static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static int print_link(const char *ifname, __u32 ifindex, void *arg)
{
	struct show *s = arg;

	if (ifindex && s->n_ifnames < 16)
		snprintf(s->ifnames[s->n_ifnames++], sizeof(s->ifnames[0]), "%s", ifname);
	if (s->json) {
		printf("{\"kind\":\"interface\",\"name\":");
		json_str(ifname);
		printf(",\"ifindex\":%u}\n", ifindex);
	} else if (ifindex) {
		printf("  %s (ifindex %u)\n", ifname, ifindex);
	} else {
		printf("  %s (interface gone: run 'vsn-slb teardown --dev %s')\n", ifname, ifname);
	}
	return 0;
}

static int print_node(const struct vsn_addr *node, void *arg)
{
	struct show *s = arg;
	char buf[VSN_ADDR_STRLEN];

	vsn_addr_format(node, buf, sizeof(buf));
	if (s->json)
		printf("{\"kind\":\"node\",\"address\":\"%s\"}\n", buf);
	else
		printf("  %s\n", buf);
	return 0;
}

static int show_program(struct show *s, struct vsn_decap *d)
{
	__u16 port;
	int r;

	r = vsn_decap_gue_port_get(d, &port);
	if (r)
		return slb_err(r, "read the GUE port");
	if (s->json)
		printf("{\"kind\":\"gue\",\"port\":%u}\n", port);
	else if (port)
		printf("GUE port: %u\n", port);
	else
		printf("GUE port: off\n");
	if (!s->json)
		printf("interfaces:\n");
	r = vsn_decap_links_foreach(d, print_link, s);
	if (r)
		return slb_err(r, "list the interfaces");
	if (!s->json)
		printf("allowed nodes:\n");
	r = vsn_decap_allowed_foreach(d, print_node, s);
	if (r)
		return slb_err(r, "read the allow-list");
	return 0;
}

static int show_counters(struct show *s, struct vsn_decap *d)
{
	struct vsn_counter c;
	int r;

	if (!s->json)
		printf("counters:\n");
	for (int i = 0; i < VSN_DECAP_REASON_MAX; i++) {
		r = vsn_decap_counter_read(d, i, &c);
		if (r)
			return slb_err(r, "read counter %s", vsn_decap_reason_name(i));
		if (s->json)
			printf("{\"kind\":\"decap\",\"name\":\"%s\",\"packets\":%llu,\"bytes\":%"
			       "llu}"
			       "\n",
			       vsn_decap_reason_name(i), (unsigned long long)c.packets,
			       (unsigned long long)c.bytes);
		else
			printf("  %-18s %14llu pkts %16llu bytes\n", vsn_decap_reason_name(i),
			       (unsigned long long)c.packets, (unsigned long long)c.bytes);
	}
	return 0;
}

static int show_vips(struct show *s)
{
	struct lo_addr *on_lo = NULL;
	char buf[VSN_ADDR_STRLEN];
	size_t n = 0;
	int r;

	r = lo_addrs_list(&on_lo, &n);
	if (r)
		return slb_err(r, "list the addresses on lo");
	if (!s->json)
		printf("VIPs on lo:\n");
	for (size_t i = 0; i < n; i++) {
		vsn_addr_format(&on_lo[i].addr, buf, sizeof(buf));
		if (s->json)
			printf("{\"kind\":\"vip\",\"address\":\"%s\",\"prefixlen\":%u}\n", buf,
			       on_lo[i].prefixlen);
		else
			printf("  %s/%u\n", buf, on_lo[i].prefixlen);
	}
	free(on_lo);
	return 0;
}

static int show_sysctls(struct show *s)
{
	static const char *const names[] = {SLB_ARP_IGNORE, SLB_ARP_ANNOUNCE};
	char name[96];
	int r, v;

	if (!s->json)
		printf("ARP sysctls:\n");
	for (int f = -1; f < s->n_ifnames; f++) {
		const char *ifname = f < 0 ? "all" : s->ifnames[f];

		for (int i = 0; i < 2; i++) {
			r = arp_sysctl_get(ifname, names[i], &v);
			if (r)
				return slb_err(r, "read net.ipv4.conf.%s.%s", ifname, names[i]);
			snprintf(name, sizeof(name), "net.ipv4.conf.%s.%s", ifname, names[i]);
			if (s->json) {
				printf("{\"kind\":\"sysctl\",\"name\":");
				json_str(name);
				printf(",\"value\":%d}\n", v);
			} else {
				printf("  %s = %d\n", name, v);
			}
		}
	}
	return 0;
}

int cmd_show(struct slb *ctl, int argc, char **argv)
{
	struct show s = {0};
	struct vsn_decap *d = NULL;
	int r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json"))
			return slb_err(0, "show: unexpected '%s'", argv[i]);
		s.json = true;
	}
	r = slb_open(ctl, false, true, &d);
	if (r && r != -ENOENT)
		return 1;
	if (s.json) {
		printf("{\"kind\":\"program\",\"pin_dir\":");
		json_str(ctl->pin_dir);
		printf(",\"loaded\":%s}\n", d ? "true" : "false");
	} else {
		printf("decap program: %s %s\n", d ? "loaded under" : "not loaded under",
		       ctl->pin_dir);
	}
	r = d ? show_program(&s, d) : 0;
	if (!r)
		r = show_vips(&s);
	if (!r)
		r = show_sysctls(&s);
	if (!r && d)
		r = show_counters(&s, d);
	if (d)
		vsn_decap_close(d);
	return r ? 1 : 0;
}
