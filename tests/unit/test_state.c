/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The desired-state document (lib/state/state.h): a full document field by field, the
 * defaults, one test per class of error with its exact message and LINE:COLUMN, a generated
 * document of 10,000 services, and every YAML example of docs/config-reference.md.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "state.h"

static int parse(const char *text, struct vsn_state **st, struct vsn_state_errors *errs)
{
	return vsn_state_parse("state.yaml", text, strlen(text), st, errs);
}

static struct vsn_state *parse_ok(const char *text)
{
	struct vsn_state_errors errs;
	struct vsn_state *st = NULL;
	char line[512];

	if (parse(text, &st, &errs)) {
		for (size_t i = 0; i < errs.n; i++) {
			vsn_state_errors_format(&errs, i, line, sizeof(line));
			print_error("%s\n", line);
		}
		fail();
	}
	return st;
}

/* The document is refused with exactly these errors, one a line, and *ret stays untouched. */
static void expect_errors(const char *text, const char *want)
{
	struct vsn_state *st = (struct vsn_state *)&st;
	struct vsn_state_errors errs;
	char got[4096] = "";
	size_t n = 0;

	assert_int_equal(parse(text, &st, &errs), -EINVAL);
	assert_ptr_equal(st, &st);
	for (size_t i = 0; i < errs.n; i++) {
		n += vsn_state_errors_format(&errs, i, got + n, sizeof(got) - n);
		n += snprintf(got + n, sizeof(got) - n, "\n");
	}
	if (strcmp(got, want)) {
		print_error("got:\n%swant:\n%s", got, want);
		fail();
	}
	assert_int_equal(errs.total, errs.n);
}

/* Seven lines every error case builds on: two nodes, three SLBs, a pool; services from line 9. */
#define BASE                                                      \
	"nodes: [{name: n1}, {name: n2}]\n"                       \
	"slbs:\n"                                                 \
	"  - {name: a, address: 10.0.0.1}\n"                      \
	"  - {name: b, address: 10.0.0.2}\n"                      \
	"  - {name: s6, address: '2001:db8::6', forward: ipip}\n" \
	"pools:\n"                                                \
	"  - {name: p, members: [{slb: a}, {slb: b}]}\n"          \
	"virtual_services:\n"
/* The service web, its configurations from line 12 on. */
#define WEB                    \
	"  - name: web\n"      \
	"    vip: 192.0.2.1\n" \
	"    configurations:\n"
/* A default configuration for WEB. */
#define DEFAULT "      - {name: c, policies: [{destination: p}]}\n"
/* A service on one line: NAME, VIP and what comes after them. */
#define SVC(name, vip, rest)                  \
	"  - {name: " name ", vip: " vip rest \
	", configurations: [{name: c, policies: [{destination: p}]}]}\n"

static const char full[] =
	"settings:\n"							       /* 1 */
	"  maglev_size: 251\n"						       /* 2 */
	"  hash_seed: 7\n"						       /* 3 */
	"nodes:\n"							       /* 4 */
	"  - name: edge-1\n"						       /* 5 */
	"  - name: edge-2.example.net\n"				       /* 6 */
	"slbs:\n"							       /* 7 */
	"  - name: slb-a\n"						       /* 8 */
	"    address: 10.20.0.10\n"					       /* 9 */
	"    forward: l2\n"						       /* 10 */
	"    state: up\n"						       /* 11 */
	"  - {name: slb-b, address: 10.20.0.11, forward: gue, state: drain}\n" /* 12 */
	"  - {name: slb-c, address: '2001:db8::c', state: down}\n"	       /* 13 */
	"pools:\n"							       /* 14 */
	"  - name: primary\n"						       /* 15 */
	"    forward: ipip\n"						       /* 16 */
	"    members:\n"						       /* 17 */
	"      - {slb: slb-a, weight: 2}\n"				       /* 18 */
	"      - {slb: slb-b}\n"					       /* 19 */
	"  - {name: v6, members: [{slb: slb-c, weight: 65535}]}\n"	       /* 20 */
	"virtual_services:\n"						       /* 21 */
	"  - name: web\n"						       /* 22 */
	"    vip: 192.0.2.10\n"						       /* 23 */
	"    ports: [tcp/80, tcp/443, udp]\n"				       /* 24 */
	"    nodes: [edge-1]\n"						       /* 25 */
	"    on_change: rehash\n"					       /* 26 */
	"    configurations:\n"						       /* 27 */
	"      - name: normal\n"					       /* 28 */
	"        policies:\n"						       /* 29 */
	"          - destination: primary\n"				       /* 30 */
	"          - clients: 198.51.100.0/24\n"			       /* 31 */
	"            destination: slb-b\n"				       /* 32 */
	"      - name: overflow\n"					       /* 33 */
	"        priority: 20\n"					       /* 34 */
	"        when: 'load(pool primary) > 0.80 for 30s'\n"		       /* 35 */
	"        policies: [{destination: primary}]\n"			       /* 36 */
	"  - name: six\n"						       /* 37 */
	"    vip: 2001:db8:1::/64\n"					       /* 38 */
	"    configurations:\n"						       /* 39 */
	"      - {name: main, policies: [{destination: v6}, {clients: '2001:db8:9::/48', "
	"destination: slb-c}]}\n"				      /* 40 */
	"      - name: night\n"					      /* 41 */
	"        when: >-\n"					      /* 42 */
	"          schedule(\"Mon-Fri 22:00-06:00 Europe/Berlin\")\n" /* 43 */
	"          and node_up(edge-2.example.net)\n"		      /* 44 */
	"        policies: [{destination: slb-c}]\n";		      /* 45 */

/* A macro, so that a failure names the line of the check. */
#define assert_pos(pos, l, c)                      \
	do {                                       \
		assert_int_equal((pos).line, l);   \
		assert_int_equal((pos).column, c); \
	} while (0)

static void parses_every_field_of_a_full_document(void **state)
{
	struct vsn_state *st = parse_ok(full);
	const struct vsn_state_service *web, *six;
	const struct vsn_state_config *cfg;
	const struct vsn_state_pool *pool;
	char buf[VSN_ADDR_STRLEN];

	assert_int_equal(st->settings.maglev_size, 251);
	assert_int_equal(st->settings.hash_seed, 7);

	assert_int_equal(st->n_nodes, 2);
	assert_string_equal(st->nodes[1].name, "edge-2.example.net");
	assert_pos(st->nodes[1].pos, 6, 5);

	assert_int_equal(st->n_slbs, 3);
	assert_string_equal(st->slbs[0].name, "slb-a");
	assert_string_equal(vsn_addr_format(&st->slbs[0].addr, buf, sizeof(buf)), "10.20.0.10");
	assert_int_equal(st->slbs[0].forward, VSN_FORWARD_L2);
	assert_int_equal(st->slbs[0].state, VSN_SLB_UP);
	assert_pos(st->slbs[0].pos, 8, 5);
	assert_int_equal(st->slbs[1].forward, VSN_FORWARD_GUE);
	assert_int_equal(st->slbs[1].state, VSN_SLB_DRAIN);
	assert_pos(st->slbs[1].pos, 12, 5);
	assert_int_equal(st->slbs[2].addr.family, AF_INET6);
	assert_int_equal(st->slbs[2].state, VSN_SLB_DOWN);

	assert_int_equal(st->n_pools, 2);
	pool = &st->pools[0];
	assert_string_equal(pool->name, "primary");
	assert_int_equal(pool->forward, VSN_FORWARD_IPIP);
	assert_int_equal(pool->n_members, 2);
	assert_string_equal(pool->members[0].slb_name, "slb-a");
	assert_ptr_equal(pool->members[0].slb, &st->slbs[0]);
	assert_int_equal(pool->members[0].weight, 2);
	assert_pos(pool->members[0].pos, 18, 15);
	assert_ptr_equal(pool->members[1].slb, &st->slbs[1]);
	assert_int_equal(pool->members[1].weight, 1);
	assert_int_equal(st->pools[1].members[0].weight, 65535);

	assert_int_equal(st->n_services, 2);
	assert_int_equal(st->n_configs, 4);
	web = &st->services[0];
	assert_string_equal(web->name, "web");
	assert_string_equal(vsn_addr_format(&web->vip, buf, sizeof(buf)), "192.0.2.10");
	assert_int_equal(web->vip_plen, 32);
	assert_pos(web->pos, 22, 5);
	assert_pos(web->vip_pos, 23, 10);
	assert_int_equal(web->n_ports, 3);
	assert_int_equal(web->ports[0].proto, IPPROTO_TCP);
	assert_int_equal(web->ports[0].port, 80);
	assert_int_equal(web->ports[1].port, 443);
	assert_pos(web->ports[1].pos, 24, 21);
	assert_int_equal(web->ports[2].proto, IPPROTO_UDP);
	assert_int_equal(web->ports[2].port, 0);
	assert_true(web->nodes_given);
	assert_int_equal(web->n_nodes, 1);
	assert_ptr_equal(web->nodes[0].node, &st->nodes[0]);
	assert_pos(web->nodes[0].pos, 25, 13);
	assert_int_equal(web->on_change, VSN_ON_CHANGE_REHASH);
	assert_int_equal(web->n_configs, 2);
	assert_ptr_equal(web->default_config, &web->configs[0]);

	cfg = &web->configs[0];
	assert_string_equal(cfg->name, "normal");
	assert_null(cfg->when);
	assert_null(cfg->cond);
	assert_int_equal(cfg->priority, 0);
	assert_int_equal(cfg->n_policies, 2);
	assert_false(cfg->policies[0].has_clients);
	assert_string_equal(cfg->policies[0].destination, "primary");
	assert_int_equal(cfg->policies[0].dest.kind, VSN_STATE_DEST_POOL);
	assert_ptr_equal(cfg->policies[0].dest.pool, pool);
	assert_pos(cfg->policies[0].destination_pos, 30, 26);
	assert_true(cfg->policies[1].has_clients);
	assert_string_equal(vsn_addr_format(&cfg->policies[1].clients, buf, sizeof(buf)),
			    "198.51.100.0");
	assert_int_equal(cfg->policies[1].clients_plen, 24);
	assert_pos(cfg->policies[1].clients_pos, 31, 22);
	assert_int_equal(cfg->policies[1].dest.kind, VSN_STATE_DEST_SLB);
	assert_ptr_equal(cfg->policies[1].dest.slb, &st->slbs[1]);
	assert_pos(cfg->policies[1].pos, 31, 13);

	cfg = &web->configs[1];
	assert_string_equal(cfg->name, "overflow");
	assert_int_equal(cfg->priority, 20);
	assert_string_equal(cfg->when, "load(pool primary) > 0.80 for 30s");
	assert_non_null(cfg->cond);
	assert_int_equal(cfg->cond->root->type, VSN_COND_FOR);
	assert_pos(cfg->when_pos, 35, 16);
	assert_pos(cfg->pos, 33, 9);

	six = &st->services[1];
	assert_int_equal(six->vip.family, AF_INET6);
	assert_int_equal(six->vip_plen, 64);
	/* Defaults: tcp and udp, every port; every node; preserve. */
	assert_int_equal(six->n_ports, 2);
	assert_int_equal(six->ports[0].proto, IPPROTO_TCP);
	assert_int_equal(six->ports[1].proto, IPPROTO_UDP);
	assert_int_equal(six->ports[1].port, 0);
	assert_false(six->nodes_given);
	assert_int_equal(six->n_nodes, 0);
	assert_int_equal(six->on_change, VSN_ON_CHANGE_PRESERVE);
	assert_int_equal(six->configs[0].policies[1].clients_plen, 48);
	assert_string_equal(six->configs[1].when,
			    "schedule(\"Mon-Fri 22:00-06:00 Europe/Berlin\") and "
			    "node_up(edge-2.example.net)");
	assert_int_equal(six->configs[1].cond->root->type, VSN_COND_AND);
	assert_pos(six->configs[1].when_pos, 43, 11);
	vsn_state_free(st);
}

static void defaults_fill_what_is_left_out(void **state)
{
	struct vsn_state *st =
		parse_ok("slbs: [{name: a, address: 10.0.0.1}]\n"
			 "pools: [{name: p, members: [{slb: a}]}]\n"
			 "virtual_services:\n"
			 "  - {name: s, vip: 10.1.0.0/16,\n"
			 "     configurations: [{name: c, policies: [{destination: a}]}]}\n");

	assert_int_equal(st->settings.maglev_size, 65537);
	assert_int_equal(st->settings.hash_seed, 0);
	assert_int_equal(st->n_nodes, 0);
	assert_int_equal(st->slbs[0].forward, VSN_FORWARD_L2);
	assert_int_equal(st->slbs[0].state, VSN_SLB_UP);
	assert_int_equal(st->pools[0].forward, VSN_FORWARD_L2);
	assert_int_equal(st->pools[0].members[0].weight, 1);
	assert_int_equal(st->services[0].vip_plen, 16);
	assert_int_equal(st->services[0].n_ports, 2);
	assert_false(st->services[0].nodes_given);
	assert_int_equal(st->services[0].on_change, VSN_ON_CHANGE_PRESERVE);
	assert_int_equal(st->services[0].configs[0].priority, 0);
	assert_int_equal(st->services[0].configs[0].policies[0].dest.kind, VSN_STATE_DEST_SLB);
	vsn_state_free(st);

	/* An empty mapping is a valid document with nothing in it. */
	st = parse_ok("{}\n");
	assert_int_equal(st->n_services + st->n_slbs + st->n_pools + st->n_nodes, 0);
	vsn_state_free(st);
}

static void looks_names_up_and_resolves_destinations(void **state)
{
	struct vsn_state *st = parse_ok(full);
	struct vsn_state_dest d = {0};

	assert_ptr_equal(vsn_state_node_find(st, "edge-1"), &st->nodes[0]);
	assert_null(vsn_state_node_find(st, "edge-3"));
	assert_ptr_equal(vsn_state_slb_find(st, "slb-c"), &st->slbs[2]);
	assert_ptr_equal(vsn_state_pool_find(st, "v6"), &st->pools[1]);
	assert_null(vsn_state_pool_find(st, "slb-a"));
	assert_ptr_equal(vsn_state_service_find(st, "six"), &st->services[1]);
	assert_null(vsn_state_service_find(st, ""));
	assert_ptr_equal(vsn_state_config_find(&st->services[1], "night"),
			 &st->services[1].configs[1]);
	assert_null(vsn_state_config_find(&st->services[1], "normal"));
	assert_int_equal(vsn_state_resolve(st, "primary", &d), 0);
	assert_int_equal(d.kind, VSN_STATE_DEST_POOL);
	assert_ptr_equal(d.pool, &st->pools[0]);
	assert_int_equal(vsn_state_resolve(st, "slb-b", &d), 0);
	assert_int_equal(d.kind, VSN_STATE_DEST_SLB);
	assert_ptr_equal(d.slb, &st->slbs[1]);
	assert_int_equal(vsn_state_resolve(st, "web", &d), -ENOENT);
	vsn_state_free(st);

	/* A pool and an SLB may share a name while no destination uses it. */
	st = parse_ok("slbs: [{name: x, address: 10.0.0.1}]\n"
		      "pools: [{name: x, members: [{slb: x}]}]\n");
	assert_int_equal(vsn_state_resolve(st, "x", &d), -EINVAL);
	vsn_state_free(st);
}

/* YAML itself: a syntax error, a second document, no document, a wrong type. */
static void parses_health_and_load(void **state)
{
	struct vsn_state *st =
		parse_ok("slbs:\n"
			 "  - name: a\n"
			 "    address: 10.0.0.1\n"
			 "    health: {http: {port: 80, path: /healthz, expect: 204, host: "
			 "www.example.com},\n"
			 "             interval: 200ms, timeout: 150ms, rise: 3, fall: 1}\n"
			 "    load: {haproxy_csv: 'http://10.0.0.1:8404/stats;csv', proxy: web, "
			 "server: s1,\n"
			 "           interval: 2s}\n"
			 "  - name: b\n"
			 "    address: '2001:db8::2'\n"
			 "    health: {https: {port: 443, ca: /etc/vsn/ca.pem}}\n"
			 "    load: {nginx_status: 'http://[2001:db8::2]/status', max: 1000}\n"
			 "  - name: c\n"
			 "    address: 10.0.0.3\n"
			 "    health: {tcp: {port: 22}}\n"
			 "    load: {prometheus: 'https://10.0.0.3:9100/metrics', metric: "
			 "'sess{proxy=\"in\"}',\n"
			 "           max: 2.5, ca: /ca.pem, host: m.example.com, timeout: 300ms}\n"
			 "  - {name: d, address: 10.0.0.4}\n");
	const struct vsn_state_slb *a = vsn_state_slb_find(st, "a");
	const struct vsn_state_slb *b = vsn_state_slb_find(st, "b");
	const struct vsn_state_slb *c = vsn_state_slb_find(st, "c");
	const struct vsn_state_slb *d = vsn_state_slb_find(st, "d");

	assert_int_equal(a->health.kind, VSN_PROBE_HTTP);
	assert_int_equal(a->health.port, 80);
	assert_string_equal(a->health.path, "/healthz");
	assert_int_equal(a->health.expect, 204);
	assert_string_equal(a->health.host, "www.example.com");
	assert_null(a->health.ca);
	assert_int_equal(a->health.interval_ms, 200);
	assert_int_equal(a->health.timeout_ms, 150);
	assert_int_equal(a->health.rise, 3);
	assert_int_equal(a->health.fall, 1);
	assert_int_equal(a->health.pos.line, 4);
	assert_int_equal(a->load.kind, VSN_LOAD_HAPROXY_CSV);
	assert_string_equal(a->load.url, "http://10.0.0.1:8404/stats;csv");
	assert_string_equal(a->load.proxy, "web");
	assert_string_equal(a->load.server, "s1");
	assert_int_equal(a->load.interval_ms, 2000);
	assert_true(a->load.max == 0);

	assert_int_equal(b->health.kind, VSN_PROBE_HTTPS);
	assert_int_equal(b->health.port, 443);
	assert_null(b->health.path);
	assert_int_equal(b->health.expect, 0);
	assert_string_equal(b->health.ca, "/etc/vsn/ca.pem");
	assert_int_equal(b->health.interval_ms, 0);
	assert_int_equal(b->health.rise, 0);
	assert_int_equal(b->load.kind, VSN_LOAD_NGINX_STATUS);
	assert_true(b->load.max == 1000);

	assert_int_equal(c->health.kind, VSN_PROBE_TCP);
	assert_int_equal(c->health.port, 22);
	assert_int_equal(c->load.kind, VSN_LOAD_PROMETHEUS);
	assert_string_equal(c->load.metric, "sess{proxy=\"in\"}");
	assert_true(c->load.max == 2.5);
	assert_string_equal(c->load.ca, "/ca.pem");
	assert_string_equal(c->load.host, "m.example.com");
	assert_int_equal(c->load.timeout_ms, 300);

	assert_int_equal(d->health.kind, 0);
	assert_int_equal(d->load.kind, 0);
	vsn_state_free(st);
}

#define SLB_A "slbs:\n  - name: a\n    address: 10.0.0.1\n"

static void refuses_bad_health(void **state)
{
	/* No probe, two probes, an unknown key at each level, a missing port. */
	expect_errors(SLB_A "    health: {interval: 1s}\n",
		      "state.yaml:4:13: health: give a probe: tcp, http or https\n");
	expect_errors(SLB_A "    health: {tcp: {port: 1}, http: {port: 2}}\n",
		      "state.yaml:4:36: health: one probe, tcp, http or https: tcp is given "
		      "already\n");
	expect_errors(SLB_A "    health: {tcp: {port: 1}, every: 1s}\n",
		      "state.yaml:4:30: health: unknown field 'every'\n");
	expect_errors(SLB_A "    health: {tcp: {port: 1, path: /}}\n",
		      "state.yaml:4:29: tcp: unknown field 'path'\n");
	expect_errors(SLB_A "    health: {http: {path: /}}\n",
		      "state.yaml:4:20: health http: 'port' is required\n");
	/* Values: port, path, expect, rise, durations, timeout above the interval. */
	expect_errors(SLB_A "    health: {tcp: {port: 0}}\n",
		      "state.yaml:4:26: port: 0 is out of range 1..65535\n");
	expect_errors(SLB_A "    health: {http: {port: 80, path: healthz}}\n",
		      "state.yaml:4:37: path: expected a path from '/', printable, without "
		      "blanks, at most 1024 characters, not 'healthz'\n");
	expect_errors(SLB_A "    health: {http: {port: 80, expect: 600}}\n",
		      "state.yaml:4:39: expect: 600 is out of range 100..599\n");
	expect_errors(SLB_A "    health: {tcp: {port: 1}, rise: 0}\n",
		      "state.yaml:4:36: rise: 0 is out of range 1..100\n");
	expect_errors(SLB_A "    health: {tcp: {port: 1}, interval: 200}\n",
		      "state.yaml:4:40: health interval: expected a duration from 10ms to 3600s "
		      "(200ms, 2s), not '200'\n");
	expect_errors(SLB_A "    health: {tcp: {port: 1}, interval: 5ms}\n",
		      "state.yaml:4:40: health interval: expected a duration from 10ms to 3600s "
		      "(200ms, 2s), not '5ms'\n");
	expect_errors(SLB_A "    health: {tcp: {port: 1}, interval: 100ms, timeout: 150ms}\n",
		      "state.yaml:4:13: health: the timeout (150ms) is longer than the interval "
		      "(100ms)\n");
	expect_errors(SLB_A "    health: tcp\n", "state.yaml:4:13: health: expected a mapping\n");
}

static void refuses_bad_load(void **state)
{
	expect_errors(SLB_A "    load: {max: 3}\n",
		      "state.yaml:4:11: load: give a source: haproxy_csv, nginx_status or "
		      "prometheus\n");
	expect_errors(SLB_A "    load: {nginx_status: 'http://10.0.0.1/s', max: 1, "
			    "prometheus: 'http://10.0.0.1/m'}\n",
		      "state.yaml:4:67: load: one source, haproxy_csv, nginx_status or prometheus: "
		      "nginx_status is given already\n");
	expect_errors(SLB_A "    load: {nginx_status: 'http://10.0.0.1/s', max: 1, url: x}\n",
		      "state.yaml:4:55: load: unknown field 'url'\n");
	expect_errors(SLB_A "    load: {nginx_status: 'http://slb-a.example/s', max: 1}\n",
		      "state.yaml:4:26: nginx_status: expected a URL http[s]://ADDRESS[:PORT]/PATH "
		      "with a numeric address, not 'http://slb-a.example/s'\n");
	expect_errors(SLB_A "    load: {haproxy_csv: 'http://10.0.0.1:8404/;csv'}\n",
		      "state.yaml:4:11: load: haproxy_csv needs 'proxy' (the row's pxname)\n");
	expect_errors(SLB_A "    load: {nginx_status: 'http://10.0.0.1/s'}\n",
		      "state.yaml:4:11: load: nginx_status needs 'max' (the figure that is a load "
		      "of 1)\n");
	expect_errors(SLB_A "    load: {prometheus: 'http://10.0.0.1/m', max: 0, metric: 'a b'}\n",
		      "state.yaml:4:50: load max: expected a number above 0, not '0'\n"
		      "state.yaml:4:61: load metric: expected a selector name or "
		      "name{label=\"value\",...}, not 'a b'\n");
	expect_errors(SLB_A "    load: {nginx_status: 'http://10.0.0.1/s', max: 1, proxy: p}\n",
		      "state.yaml:4:11: load: 'proxy' and 'server' go with haproxy_csv, not "
		      "nginx_status\n");
	expect_errors(SLB_A "    load: {nginx_status: 'http://10.0.0.1/s', max: 1, ca: /ca.pem}\n",
		      "state.yaml:4:11: load: 'ca' goes with an https URL\n");
}

static void refuses_yaml_syntax_errors(void **state)
{
	expect_errors("nodes: [{name: n1}\n", "state.yaml:2:1: did not find expected ',' or ']'\n");
	expect_errors("nodes: []\n---\nnodes: []\n",
		      "state.yaml:3:1: expected one YAML document, this is a second one\n");
	expect_errors("", "state.yaml:1:1: empty document\n");
	expect_errors("- 1\n", "state.yaml:1:1: document: expected a mapping\n");
	expect_errors("nodes: {name: n1}\n", "state.yaml:1:8: nodes: expected a list\n");
	expect_errors("settings: [1]\n", "state.yaml:1:11: settings: expected a mapping\n");
}

static void refuses_unknown_fields(void **state)
{
	expect_errors("node: []\n", "state.yaml:1:1: document: unknown field 'node'\n");
	expect_errors(BASE SVC("web", "192.0.2.1", ", port: [tcp/80]"),
		      "state.yaml:9:33: service: unknown field 'port'\n");
	expect_errors("slbs: [{name: a, address: 10.0.0.1, weight: 2}]\n",
		      "state.yaml:1:37: slb: unknown field 'weight'\n");
	expect_errors("settings: {maglev: 7}\n",
		      "state.yaml:1:12: settings: unknown field 'maglev'\n");
}

static void refuses_duplicate_keys(void **state)
{
	expect_errors("nodes: []\nnodes: []\n",
		      "state.yaml:2:1: document: field 'nodes' given twice\n");
	expect_errors("slbs: [{name: a, address: 10.0.0.1, name: b}]\n",
		      "state.yaml:1:37: slb: field 'name' given twice\n");
}

static void refuses_a_name_defined_twice_for_each_kind(void **state)
{
	expect_errors("nodes: [{name: n1}, {name: n1}]\n",
		      "state.yaml:1:21: node 'n1' is already defined at line 1\n");
	expect_errors("slbs:\n  - {name: a, address: 10.0.0.1}\n  - {name: a, address: 10.0.0.2}\n",
		      "state.yaml:3:5: slb 'a' is already defined at line 2\n");
	expect_errors("slbs: [{name: a, address: 10.0.0.1}]\n"
		      "pools:\n  - {name: p, members: [{slb: a}]}\n"
		      "  - {name: p, members: [{slb: a}]}\n",
		      "state.yaml:4:5: pool 'p' is already defined at line 3\n");
	expect_errors(BASE SVC("web", "192.0.2.1", "") SVC("web", "192.0.2.2", ""),
		      "state.yaml:10:5: service 'web' is already defined at line 9\n");
	expect_errors(BASE WEB DEFAULT
		      "      - {name: c, when: 'node_up(n1)', policies: [{destination: p}]}\n",
		      "state.yaml:13:9: configuration 'c' is already defined at line 12 in this "
		      "service\n");
	/* The same configuration name in two services is fine. */
	vsn_state_free(parse_ok(BASE SVC("web", "192.0.2.1", "") SVC("api", "192.0.2.2", "")));
}

static void refuses_an_unknown_name_of_each_kind(void **state)
{
	expect_errors("slbs: [{name: a, address: 10.0.0.1}]\n"
		      "pools: [{name: p, members: [{slb: a}, {slb: z}]}]\n",
		      "state.yaml:2:45: member: no slb is named 'z'\n");
	expect_errors(BASE SVC("web", "192.0.2.1", ", nodes: [n1, n3, n1]"),
		      "state.yaml:9:45: nodes: no node is named 'n3'\n"
		      "state.yaml:9:49: nodes: node 'n1' is listed already (line 9)\n");
	expect_errors(BASE "  - {name: web, vip: 192.0.2.1, configurations: [{name: c, policies: "
			   "[{destination: q}]}]}\n",
		      "state.yaml:9:85: destination: no pool or slb is named 'q'\n");
	expect_errors(BASE WEB DEFAULT
		      "      - name: d\n"
		      "        when: healthy(slb a) and healthy(slb z) or load(pool q) > 0.5\n"
		      "        policies: [{destination: p}]\n"
		      "      - name: e\n"
		      "        when: \"traffic(vs webb) > 1kpps or node_up(n9)\"\n"
		      "        policies: [{destination: p}]\n",
		      "state.yaml:14:46: when: no slb is named 'z'\n"
		      "state.yaml:14:62: when: no pool is named 'q'\n"
		      "state.yaml:17:27: when: no service is named 'webb'\n"
		      "state.yaml:17:52: when: no node is named 'n9'\n");
}

static void refuses_bad_names(void **state)
{
	expect_errors("slbs: [{name: Slb-A, address: 10.0.0.1}]\n",
		      "state.yaml:1:15: slb name: 'Slb-A' is not a name: lowercase letters, digits "
		      "and '-', starting with a letter or digit, at most 63 characters\n");
	expect_errors("pools: [{name: -p, members: [{slb: a}]}]\n"
		      "slbs: [{name: a, address: 10.0.0.1}]\n",
		      "state.yaml:1:16: pool name: '-p' is not a name: lowercase letters, digits "
		      "and '-', starting with a letter or digit, at most 63 characters\n");
	expect_errors("nodes: [{name: edge_1}]\n",
		      "state.yaml:1:16: node name: 'edge_1' is not a DNS name (the node's "
		      "certificate name)\n");
	expect_errors(
		BASE SVC("a234567890123456789012345678901234567890123456789012345678901234",
			 "192.0.2.1", ""),
		"state.yaml:9:12: service name: "
		"'a234567890123456789012345678901234567890123456789012345678901234' is not a "
		"name: lowercase letters, digits and '-', starting with a letter or digit, at "
		"most 63 characters\n");
}

static void refuses_bad_addresses_prefixes_and_host_bits(void **state)
{
	expect_errors(
		"slbs: [{name: a, address: 10.0.0.256}]\n",
		"state.yaml:1:27: slb address: '10.0.0.256' is not an IPv4 or IPv6 address\n");
	expect_errors(BASE SVC("web", "192.0.2.1/24", ""),
		      "state.yaml:9:22: vip: 192.0.2.1/24 has host bits set: the prefix is "
		      "192.0.2.0/24\n");
	expect_errors(BASE SVC("web", "192.0.2.0/33", ""),
		      "state.yaml:9:22: vip: the prefix length is 0..32, not '33'\n");
	expect_errors(BASE SVC("web", "192.0.2.x/24", ""),
		      "state.yaml:9:22: vip: '192.0.2.x' is not an IPv4 or IPv6 address\n");
	expect_errors(BASE SVC("web", "web.example.com", ""),
		      "state.yaml:9:22: vip: expected an address or a prefix ADDRESS/LENGTH, not "
		      "'web.example.com'\n");
	expect_errors(BASE SVC("web", "0.0.0.0/0", ""),
		      "state.yaml:9:22: vip: a /0 prefix would take every address\n");
	expect_errors(BASE SVC("web", "'::ffff:192.0.2.1'", ""),
		      "state.yaml:9:22: vip: write the IPv4 address ::ffff:192.0.2.1 as IPv4\n");
	expect_errors(BASE "  - name: web\n"
			   "    vip: 192.0.2.0/24\n"
			   "    configurations:\n"
			   "      - name: c\n"
			   "        policies:\n"
			   "          - {destination: p}\n"
			   "          - {clients: 10.1.2.3/16, destination: a}\n",
		      "state.yaml:15:23: clients: 10.1.2.3/16 has host bits set: the prefix is "
		      "10.1.0.0/16\n");
}

static void refuses_bad_ports_and_protocols(void **state)
{
	expect_errors(BASE SVC("web", "192.0.2.1", ", ports: [sctp/80]"),
		      "state.yaml:9:41: ports: expected tcp/PORT, udp/PORT, tcp or udp, not "
		      "'sctp/80'\n");
	expect_errors(BASE SVC("web", "192.0.2.1", ", ports: [tcp/0, udp/65536, tcp/8o]"),
		      "state.yaml:9:41: ports: the port is 1..65535, not '0'\n"
		      "state.yaml:9:48: ports: the port is 1..65535, not '65536'\n"
		      "state.yaml:9:59: ports: the port is 1..65535, not '8o'\n");
	expect_errors(BASE SVC("web", "192.0.2.1", ", ports: []"),
		      "state.yaml:9:40: ports: 0 ports; leave 'ports' out for every tcp and udp "
		      "port\n");
	expect_errors(BASE SVC("web", "192.0.2.1", ", ports: [tcp/80, udp, tcp/80, udp/53]"),
		      "state.yaml:9:54: ports: tcp/80 is given twice\n"
		      "state.yaml:9:62: ports: udp/53 overlaps udp (line 9)\n");
}

static void refuses_bad_weights_and_members(void **state)
{
	expect_errors("slbs: [{name: a, address: 10.0.0.1}]\n"
		      "pools: [{name: p, members: [{slb: a, weight: 0}]}]\n",
		      "state.yaml:2:46: weight: 0 is out of range 1..65535\n");
	expect_errors("slbs: [{name: a, address: 10.0.0.1}]\n"
		      "pools: [{name: p, members: [{slb: a, weight: 65536}]}]\n",
		      "state.yaml:2:46: weight: 65536 is out of range 1..65535\n");
	expect_errors("slbs: [{name: a, address: 10.0.0.1}]\n"
		      "pools: [{name: p, members: [{slb: a, weight: 1.5}]}]\n",
		      "state.yaml:2:46: weight: expected a whole number, not '1.5'\n");
	expect_errors("slbs: [{name: a, address: 10.0.0.1}]\n"
		      "pools: [{name: p, members: [{slb: a}, {slb: a, weight: 2}]}]\n",
		      "state.yaml:2:45: member: slb 'a' is listed already (line 2)\n");
	expect_errors("pools: [{name: p, members: []}]\n",
		      "state.yaml:1:28: members: a pool has 1 to 1024 members, not 0\n");
}

static void refuses_bad_settings_and_keywords(void **state)
{
	expect_errors("settings: {maglev_size: 65536}\n",
		      "state.yaml:1:25: maglev_size: 65536 is not a prime\n");
	expect_errors("settings: {maglev_size: 2000003}\n",
		      "state.yaml:1:25: maglev_size: 2000003 is out of range 2..1000003\n");
	expect_errors("settings: {maglev_size: 3}\n"
		      "slbs: [{name: a, address: 10.0.0.1}, {name: b, address: 10.0.0.2},\n"
		      "       {name: c, address: 10.0.0.3}]\n"
		      "pools: [{name: p, members: [{slb: a}, {slb: b}, {slb: c}]}]\n",
		      "state.yaml:4:9: pool 'p' has 3 members: settings maglev_size 3 must be "
		      "larger\n");
	expect_errors("settings: {hash_seed: -1}\n",
		      "state.yaml:1:23: hash_seed: expected a whole number\n");
	expect_errors("slbs: [{name: a, address: 10.0.0.1, forward: dsr, state: gone}]\n",
		      "state.yaml:1:46: forward: expected l2, ipip or gue, not 'dsr'\n"
		      "state.yaml:1:58: state: expected up, down or drain, not 'gone'\n");
	expect_errors(BASE SVC("web", "192.0.2.1", ", on_change: [keep]"),
		      "state.yaml:9:44: on_change: expected preserve or rehash, not 'a list'\n");
}

static void refuses_missing_required_fields(void **state)
{
	expect_errors("slbs: [{name: a}]\npools: [{members: [{weight: 1}]}]\n",
		      "state.yaml:1:8: slb: 'address' is required\n"
		      "state.yaml:2:9: pool: 'name' is required\n"
		      "state.yaml:2:20: member: 'slb' is required\n");
	expect_errors(BASE "  - {name: web, configurations: [{policies: [{}]}]}\n",
		      "state.yaml:9:5: service: 'vip' is required\n"
		      "state.yaml:9:34: configuration: 'name' is required\n"
		      "state.yaml:9:46: policy: 'destination' is required\n");
}

static void refuses_two_policies_without_clients(void **state)
{
	expect_errors(BASE WEB "      - name: c\n"
			       "        policies:\n"
			       "          - {destination: p}\n"
			       "          - {destination: a}\n",
		      "state.yaml:15:13: policy: a second one without 'clients' (the first is at "
		      "line 14); give it 'clients'\n");
}

static void refuses_no_policy_without_clients_and_clients_twice(void **state)
{
	expect_errors(BASE WEB "      - name: c\n"
			       "        policies:\n"
			       "          - {clients: 10.0.0.0/8, destination: p}\n"
			       "          - {clients: 10.0.0.0/8, destination: a}\n",
		      "state.yaml:12:9: configuration 'c': no policy without 'clients' (its "
		      "destination for everything else)\n"
		      "state.yaml:15:23: clients: 10.0.0.0/8 is given in this configuration "
		      "already (line 14)\n");
	expect_errors(
		BASE "  - name: web\n"
		     "    vip: 192.0.2.1\n"
		     "    configurations: [{name: c, policies: []}]\n",
		"state.yaml:11:42: policies: a configuration has at least one policy, not 0\n");
}

static void refuses_no_default_configuration(void **state)
{
	expect_errors(BASE WEB
		      "      - {name: c, when: 'node_up(n1)', policies: [{destination: p}]}\n",
		      "state.yaml:9:5: service 'web': no configuration without 'when' (the "
		      "default)\n");
	expect_errors(BASE "  - {name: web, vip: 192.0.2.1, configurations: []}\n",
		      "state.yaml:9:49: configurations: a service has at least one configuration, "
		      "not 0\n");
}

static void refuses_two_default_configurations(void **state)
{
	expect_errors(BASE WEB DEFAULT
		      "      - {name: d, priority: 5, policies: [{destination: a}]}\n",
		      "state.yaml:13:9: configuration 'd': a second one without 'when' (the "
		      "default is at line 12); give it a 'when'\n");
}

static void refuses_the_same_vip_and_port_twice(void **state)
{
	expect_errors(BASE SVC("web", "192.0.2.1", ", ports: [tcp/80, tcp/443]")
			      SVC("api", "192.0.2.1", ", ports: [udp/443, tcp/443]"),
		      "state.yaml:10:50: 192.0.2.1 tcp/443 is claimed by service 'web' already "
		      "(tcp/443 at line 9)\n");
	/* A PROTO alone claims every port of it, on either side. */
	expect_errors(BASE SVC("web", "192.0.2.1", ", ports: [tcp/80]")
			      SVC("api", "192.0.2.1", ", ports: [tcp]")
				      SVC("dns", "192.0.2.1", ", ports: [udp, udp/53]"),
		      "state.yaml:10:41: 192.0.2.1 tcp is claimed by service 'web' already (tcp/80 "
		      "at line 9)\n"
		      "state.yaml:11:46: ports: udp/53 overlaps udp (line 11)\n");
	expect_errors(
		BASE SVC("web", "'2001:db8::1'", "") SVC("api", "'2001:db8::1'", ""),
		"state.yaml:10:5: 2001:db8::1 tcp is claimed by service 'web' already (tcp at "
		"line 9)\n"
		"state.yaml:10:5: 2001:db8::1 udp is claimed by service 'web' already (udp at "
		"line 9)\n");
	/* An address and its /32 are the same claim. */
	expect_errors(BASE SVC("web", "192.0.2.1", ", ports: [udp]")
			      SVC("api", "192.0.2.1/32", ", ports: [udp/53]"),
		      "state.yaml:10:44: 192.0.2.1 udp/53 is claimed by service 'web' already (udp "
		      "at line 9)\n");
}

static void refuses_the_same_prefix_with_overlapping_ports(void **state)
{
	expect_errors(BASE SVC("web", "10.1.0.0/24", ", ports: [tcp/80]")
			      SVC("api", "10.1.0.0/24", ", ports: [tcp/81, tcp/80]"),
		      "state.yaml:10:51: 10.1.0.0/24 tcp/80 is claimed by service 'web' already "
		      "(tcp/80 at line 9)\n");
}

static void allows_more_specific_vips_and_other_ports(void **state)
{
	struct vsn_state *st = parse_ok(
		BASE SVC("range", "10.1.0.0/16", "") SVC("sub", "10.1.2.0/24", "")
			SVC("one", "10.1.2.3", "") SVC("web", "192.0.2.1", ", ports: [tcp/80]")
				SVC("api", "192.0.2.1", ", ports: [tcp/443, udp/80]")
					SVC("six", "'2001:db8::1'", "")
						SVC("four", "'192.0.2.2'", ""));

	assert_int_equal(st->n_services, 7);
	vsn_state_free(st);
}

static void refuses_clients_and_ipip_slbs_of_another_family(void **state)
{
	expect_errors(BASE WEB "      - name: c\n"
			       "        policies:\n"
			       "          - {destination: p}\n"
			       "          - {clients: '2001:db8::/32', destination: a}\n",
		      "state.yaml:15:23: clients: 2001:db8::/32 is IPv6, the VIP is IPv4\n");
	/* s6 forwards with ipip: an IPv4 VIP cannot be sent to it. */
	expect_errors(BASE "  - {name: web, vip: 192.0.2.1, configurations: [{name: c, policies: "
			   "[{destination: s6}]}]}\n",
		      "state.yaml:9:85: destination: slb 's6' forwards with ipip, and its address "
		      "2001:db8::6 is not of the VIP's family (IPv4)\n");
	expect_errors("slbs: [{name: a, address: 10.0.0.1}]\n"
		      "pools: [{name: p, forward: ipip, members: [{slb: a}]}]\n"
		      "virtual_services:\n"
		      "  - {name: six, vip: '2001:db8::1', configurations: [{name: c, policies: "
		      "[{destination: p}]}]}\n",
		      "state.yaml:4:89: destination: pool 'p' forwards with ipip, and its slb 'a' "
		      "(10.0.0.1) is not of the VIP's family (IPv6)\n");
	/* l2 and gue carry either family. */
	vsn_state_free(parse_ok("slbs: [{name: a, address: 10.0.0.1, forward: gue}]\n"
				"pools: [{name: p, members: [{slb: a}]}]\n"
				"virtual_services:\n"
				"  - {name: six, vip: '2001:db8::1', configurations: [{name: c, "
				"policies: [{destination: p}, {clients: '2001:db8:1::/48', "
				"destination: a}]}]}\n"));
}

static void refuses_an_ambiguous_destination(void **state)
{
	expect_errors("slbs: [{name: x, address: 10.0.0.1}]\n"
		      "pools: [{name: x, members: [{slb: x}]}]\n"
		      "virtual_services:\n"
		      "  - {name: web, vip: 192.0.2.1, configurations: [{name: c, policies: "
		      "[{destination: x}]}]}\n",
		      "state.yaml:4:85: destination: 'x' names a pool and an slb: rename one\n");
}

/* A condition's error is at its place in the file, whatever the scalar's style. */
static void refuses_unparsable_conditions_at_their_column(void **state)
{
	expect_errors(BASE WEB DEFAULT
		      "      - name: plain\n"
		      "        when: load(pool p) > 1.5\n"
		      "        policies: [{destination: p}]\n"
		      "      - name: single\n"
		      "        when: 'schedule(\"Mon-Fri\") and node_up(n1) for 3x'\n"
		      "        policies: [{destination: p}]\n"
		      "      - name: quote\n"
		      "        when: \"schedule(\\\"Mon\\\") and x\"\n"
		      "        policies: [{destination: p}]\n"
		      "      - name: double\n"
		      "        when: \"node_up(n1) \\x41nd healthy(slb a) >\"\n"
		      "        policies: [{destination: p}]\n"
		      "      - name: folded\n"
		      "        when: >-\n"
		      "          node_up(n1) and\n"
		      "          healthy(slb a) >= 2\n"
		      "        policies: [{destination: p}]\n"
		      "      - name: empty\n"
		      "        when: ''\n"
		      "        policies: [{destination: p}]\n"
		      "      - name: list\n"
		      "        when: [node_up(n1)]\n"
		      "        policies: [{destination: p}]\n",
		      "state.yaml:14:30: when: load is 0..1 (or 0%..100%), not 1.5\n"
		      "state.yaml:17:56: when: expected a duration after 'for': a whole number of "
		      "ms, s, m or h (30s), not '3x'\n"
		      "state.yaml:20:38: when: unknown condition 'x': expected schedule, healthy, "
		      "healthy_count, load, traffic, node_up, not or '('\n"
		      "state.yaml:23:28: when: expected 'and', 'or' or the end, not 'And'\n"
		      "state.yaml:28:26: when: healthy(...) is true or false: it is not compared "
		      "with a number\n"
		      "state.yaml:31:16: when: empty condition\n"
		      "state.yaml:34:15: when: expected a condition, not a list\n");
}

static void refuses_lists_used_twice_through_aliases(void **state)
{
	expect_errors(
		BASE "  - name: web\n"
		     "    vip: 192.0.2.1\n"
		     "    configurations: &c [{name: c, policies: [{destination: p}]}]\n"
		     "  - {name: api, vip: 192.0.2.2, configurations: *c}\n",
		"state.yaml:11:21: this list is used again through a YAML alias: write it out "
		"where it is used\n");
	/* Aliases of scalars and of mappings without lists are fine. */
	vsn_state_free(parse_ok("slbs: [{name: &n a, address: 10.0.0.1}]\n"
				"pools: [{name: p, members: [&m {slb: *n}]}]\n"));
}

/* Every error is reported, the earliest first, at most VSN_STATE_MAX_ERRORS of them kept. */
static void reports_the_earliest_errors_and_counts_all(void **state)
{
	char text[4096];
	struct vsn_state_errors errs;
	struct vsn_state *st;
	size_t n = 0;

	/* Names given twice are found after the fields: their errors sort in among them. */
	n += sprintf(text + n, "slbs:\n");
	for (int i = 0; i < 30; i++)
		n += sprintf(text + n, "  - {name: %s, address: 10.0.0.%d%s}\n", i == 5 ? "a" : "s",
			     i + 1, i % 2 ? ", forward: x" : "");
	assert_int_equal(vsn_state_parse("many.yaml", text, n, &st, &errs), -EINVAL);
	assert_int_equal(errs.n, VSN_STATE_MAX_ERRORS);
	assert_int_equal(errs.total, 15 + 28);
	assert_string_equal(errs.name, "many.yaml");
	for (size_t i = 1; i < errs.n; i++)
		assert_true(errs.e[i - 1].pos.line < errs.e[i].pos.line ||
			    (errs.e[i - 1].pos.line == errs.e[i].pos.line &&
			     errs.e[i - 1].pos.column <= errs.e[i].pos.column));
	/* Line 3: the name (column 5) before the forward (column 45). */
	assert_int_equal(errs.e[0].pos.line, 3);
	assert_string_equal(errs.e[0].msg, "slb 's' is already defined at line 2");
	assert_string_equal(errs.e[1].msg, "forward: expected l2, ipip or gue, not 'x'");
}

/*
 * 10,000 services, each on its own VIP and ports; a quarter of them on /24 prefixes, which hold
 * the others' VIPs.
 */
static void parses_ten_thousand_services(void **state)
{
	size_t cap = 16 << 20, n = 0;
	char *text = malloc(cap);
	struct vsn_state_errors errs;
	struct vsn_state *st;
	struct timespec t0, t1;

	assert_non_null(text);
	n += sprintf(text + n, "nodes: [{name: edge-1}, {name: edge-2}]\nslbs:\n");
	for (int i = 0; i < 64; i++)
		n += sprintf(text + n, "  - {name: slb-%d, address: 10.20.%d.%d}\n", i, i / 200,
			     i % 200 + 1);
	n += sprintf(text + n, "pools:\n");
	for (int i = 0; i < 16; i++)
		n += sprintf(text + n,
			     "  - {name: pool-%d, forward: ipip, members: [{slb: slb-%d}, {slb: "
			     "slb-%d, weight: 2}]}\n",
			     i, i, i + 16);
	n += sprintf(text + n, "virtual_services:\n");
	for (int i = 0; i < 10000; i++) {
		if (i % 4 == 3)
			n += sprintf(text + n, "  - name: vs-%d\n    vip: 10.%d.%d.0/24\n", i,
				     100 + i / 4 / 256, i / 4 % 256);
		else
			n += sprintf(text + n, "  - name: vs-%d\n    vip: 10.%d.%d.%d\n", i,
				     100 + i / 256 / 256, (i / 256) % 256, i % 256);
		n += sprintf(text + n,
			     "    ports: [tcp/80, tcp/443, udp/53]\n"
			     "    nodes: [edge-%d]\n"
			     "    configurations:\n"
			     "      - name: normal\n"
			     "        policies:\n"
			     "          - destination: pool-%d\n"
			     "          - {clients: 198.51.100.0/24, destination: slb-%d}\n"
			     "      - name: overflow\n"
			     "        priority: 10\n"
			     "        when: 'load(pool pool-%d) > 80%% for 30s and healthy(slb "
			     "slb-%d)'\n"
			     "        policies: [{destination: pool-%d}]\n",
			     i % 2 + 1, i % 16, i % 64, i % 16, i % 64, (i + 1) % 16);
		assert_true(n < cap - 4096);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (vsn_state_parse("big.yaml", text, n, &st, &errs)) {
		char line[512];

		vsn_state_errors_format(&errs, 0, line, sizeof(line));
		print_error("%s\n", line);
		fail();
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	print_message("10,000 services (%zu bytes): parsed and validated in %.0f ms\n", n,
		      (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
	assert_int_equal(st->n_services, 10000);
	assert_int_equal(st->n_configs, 20000);
	assert_ptr_equal(vsn_state_service_find(st, "vs-9999"), &st->services[9999]);
	vsn_state_free(st);

	/* The same with one conflict at the end: found, at its place. */
	n += sprintf(text + n, "  - {name: dup, vip: 10.100.0.1, ports: [tcp/443], "
			       "configurations: [{name: c, policies: [{destination: slb-1}]}]}\n");
	assert_int_equal(vsn_state_parse("big.yaml", text, n, &st, &errs), -EINVAL);
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.e[0].msg, "10.100.0.1 tcp/443 is claimed by service 'vs-1' "
					   "already (tcp/443 at line 100)");
	free(text);
}

/* Every ```yaml block of the configuration reference is a document that validates. */
static void validates_every_example_of_the_reference(void **state)
{
	static const char *const paths[] = {"docs/config-reference.md",
					    "../docs/config-reference.md",
					    "../../../docs/config-reference.md"};
	FILE *f = NULL;
	char *doc, *p;
	size_t len;
	int blocks = 0;

	for (size_t i = 0; !f && i < sizeof(paths) / sizeof(paths[0]); i++)
		f = fopen(paths[i], "r");
	assert_non_null(f);
	doc = calloc(1, 1 << 20);
	assert_non_null(doc);
	len = fread(doc, 1, (1 << 20) - 1, f);
	fclose(f);
	assert_true(len > 0);
	for (p = strstr(doc, "\n```yaml\n"); p; p = strstr(p, "\n```yaml\n")) {
		char *start = p + 9, *end = strstr(start, "\n```\n");
		struct vsn_state_errors errs;
		struct vsn_state *st;
		char name[64], line[512];

		assert_non_null(end);
		snprintf(name, sizeof(name), "reference block %d", ++blocks);
		if (vsn_state_parse(name, start, end + 1 - start, &st, &errs)) {
			for (size_t i = 0; i < errs.n; i++) {
				vsn_state_errors_format(&errs, i, line, sizeof(line));
				print_error("%s\n", line);
			}
			print_error("%.*s\n", (int)(end - start), start);
			fail();
		}
		vsn_state_free(st);
		p = end;
	}
	print_message("%d YAML blocks of docs/config-reference.md validate\n", blocks);
	assert_true(blocks >= 10);
	free(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_every_field_of_a_full_document),
		cmocka_unit_test(defaults_fill_what_is_left_out),
		cmocka_unit_test(looks_names_up_and_resolves_destinations),
		cmocka_unit_test(parses_health_and_load),
		cmocka_unit_test(refuses_bad_health),
		cmocka_unit_test(refuses_bad_load),
		cmocka_unit_test(refuses_yaml_syntax_errors),
		cmocka_unit_test(refuses_unknown_fields),
		cmocka_unit_test(refuses_duplicate_keys),
		cmocka_unit_test(refuses_a_name_defined_twice_for_each_kind),
		cmocka_unit_test(refuses_an_unknown_name_of_each_kind),
		cmocka_unit_test(refuses_bad_names),
		cmocka_unit_test(refuses_bad_addresses_prefixes_and_host_bits),
		cmocka_unit_test(refuses_bad_ports_and_protocols),
		cmocka_unit_test(refuses_bad_weights_and_members),
		cmocka_unit_test(refuses_bad_settings_and_keywords),
		cmocka_unit_test(refuses_missing_required_fields),
		cmocka_unit_test(refuses_two_policies_without_clients),
		cmocka_unit_test(refuses_no_policy_without_clients_and_clients_twice),
		cmocka_unit_test(refuses_no_default_configuration),
		cmocka_unit_test(refuses_two_default_configurations),
		cmocka_unit_test(refuses_the_same_vip_and_port_twice),
		cmocka_unit_test(refuses_the_same_prefix_with_overlapping_ports),
		cmocka_unit_test(allows_more_specific_vips_and_other_ports),
		cmocka_unit_test(refuses_clients_and_ipip_slbs_of_another_family),
		cmocka_unit_test(refuses_an_ambiguous_destination),
		cmocka_unit_test(refuses_unparsable_conditions_at_their_column),
		cmocka_unit_test(refuses_lists_used_twice_through_aliases),
		cmocka_unit_test(reports_the_earliest_errors_and_counts_all),
		cmocka_unit_test(parses_ten_thousand_services),
		cmocka_unit_test(validates_every_example_of_the_reference),
	};

	return cmocka_run_group_tests_name("state", tests, NULL, NULL);
}
