/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "policyfile.h"

static int parse(const char *text, struct vsn_policyfile *pf, char *err, size_t len)
{
	return vsn_policyfile_parse("set.yaml", text, strlen(text), pf, err, len);
}

static void parses_a_full_file(void **state)
{
	const char *text =
		"generation: 7\n"
		"slbs:\n"
		"  - {id: 1, address: 10.0.2.10, forward: l2}\n"
		"  - id: 2\n"
		"    address: 2001:db8:2::2\n"
		"    state: drain\n"
		"policies:\n"
		"  - {id: 10, service: 3, vip: 192.0.2.10, proto: tcp, port: 80, slb: 1}\n"
		"  - {vip: 192.0.2.10, proto: udp, port: any, slb: 1}\n"
		"  - {vip: '2001:db8::10', proto: tcp, slb: 2}\n";
	struct vsn_policyfile pf;
	char err[256];

	assert_int_equal(parse(text, &pf, err, sizeof(err)), 0);
	assert_true(pf.has_generation);
	assert_int_equal(pf.generation, 7);
	assert_int_equal(pf.n_slbs, 2);
	assert_int_equal(pf.slbs[0].slb.id, 1);
	assert_false(pf.slbs[0].has_state);
	assert_int_equal(pf.slbs[1].slb.state, VSN_SLB_DRAIN);
	assert_true(pf.slbs[1].has_state);
	assert_int_equal(pf.slbs[1].line, 4);
	assert_int_equal(pf.n_policies, 3);
	assert_int_equal(pf.policies[0].policy_id, 10);
	assert_int_equal(pf.policies[0].service_id, 3);
	assert_int_equal(pf.policies[0].port, 80);
	assert_int_equal(pf.policies[0].proto, IPPROTO_TCP);
	assert_int_equal(pf.policies[1].policy_id, 2); /* its position */
	assert_int_equal(pf.policies[1].port, 0);
	assert_int_equal(pf.policies[1].proto, IPPROTO_UDP);
	assert_int_equal(pf.policies[2].vip.family, AF_INET6);
	assert_int_equal(pf.policies[2].slb_id, 2);
	assert_int_equal(pf.policy_lines[2], 10);
	vsn_policyfile_free(&pf);
}

static void parses_forward_methods(void **state)
{
	const char *text = "slbs:\n"
			   "  - {id: 1, address: 10.0.2.10, forward: l2}\n"
			   "  - {id: 2, address: 10.0.2.11, forward: ipip}\n"
			   "  - {id: 3, address: 10.0.2.12, forward: gue}\n"
			   "  - {id: 4, address: 10.0.2.13}\n";
	struct vsn_policyfile pf;
	char err[256];

	assert_int_equal(parse(text, &pf, err, sizeof(err)), 0);
	assert_int_equal(pf.n_slbs, 4);
	assert_int_equal(pf.slbs[0].slb.forward, VSN_FORWARD_L2);
	assert_int_equal(pf.slbs[1].slb.forward, VSN_FORWARD_IPIP);
	assert_int_equal(pf.slbs[2].slb.forward, VSN_FORWARD_GUE);
	assert_int_equal(pf.slbs[3].slb.forward, VSN_FORWARD_L2);
	vsn_policyfile_free(&pf);
}

static void parses_pools_and_maglev(void **state)
{
	/* Policies before the pool they name: order of sections does not matter. */
	const char *text =
		"policies:\n"
		"  - {vip: 192.0.2.10, proto: tcp, port: 80, pool: 5}\n"
		"  - {vip: 192.0.2.10, proto: tcp, port: 81, pool: 5, on_change: rehash}\n"
		"maglev: {size: 251, seed: 4242}\n"
		"pools:\n"
		"  - id: 5\n"
		"    members:\n"
		"      - {slb: 1, weight: 3}\n"
		"      - {slb: 2}\n";
	struct vsn_policyfile pf;
	char err[256];

	assert_int_equal(parse(text, &pf, err, sizeof(err)), 0);
	assert_int_equal(pf.maglev_size, 251);
	assert_int_equal(pf.hash_seed, 4242);
	assert_int_equal(pf.n_pools, 1);
	assert_int_equal(pf.pools[0].pool.id, 5);
	assert_int_equal(pf.pools[0].line, 6);
	assert_int_equal(pf.pools[0].pool.n_members, 2);
	assert_int_equal(pf.pools[0].pool.members[0].slb_id, 1);
	assert_int_equal(pf.pools[0].pool.members[0].weight, 3);
	assert_int_equal(pf.pools[0].pool.members[1].weight, 1); /* the default */
	assert_int_equal(pf.policies[0].pool_id, 5);
	assert_int_equal(pf.policies[0].slb_id, 0);
	assert_int_equal(pf.policies[0].on_change, VSN_ON_CHANGE_PRESERVE);
	assert_int_equal(pf.policies[1].on_change, VSN_ON_CHANGE_REHASH);
	vsn_policyfile_free(&pf);
}

static void parses_prefixes_and_client_rules(void **state)
{
	const char *text = "pools:\n"
			   "  - {id: 5, members: [{slb: 1}]}\n"
			   "policies:\n"
			   "  - vip: 10.20.0.0/16\n"
			   "    proto: tcp\n"
			   "    slb: 2\n"
			   "    clients:\n"
			   "      - {from: 198.51.100.0/24, pool: 5}\n"
			   "      - {from: 0.0.0.0/0, slb: 3}\n"
			   "  - {vip: '2001:db8::/48', proto: udp, slb: 2}\n"
			   "  - {vip: 192.0.2.1/32, proto: udp, slb: 2}\n";
	struct vsn_policyfile pf;
	char err[256];

	assert_int_equal(parse(text, &pf, err, sizeof(err)), 0);
	assert_int_equal(pf.n_policies, 3);
	assert_int_equal(pf.policies[0].vip_plen, 16);
	assert_int_equal(pf.policies[0].n_clients, 2);
	assert_int_equal(pf.policies[0].clients[0].plen, 24);
	assert_int_equal(pf.policies[0].clients[0].pool_id, 5);
	assert_int_equal(pf.policies[0].clients[1].plen, 0);
	assert_int_equal(pf.policies[0].clients[1].slb_id, 3);
	assert_int_equal(pf.policies[1].vip_plen, 48);
	assert_int_equal(pf.policies[1].vip.family, AF_INET6);
	/* A full-length prefix is one address. */
	assert_int_equal(pf.policies[2].vip_plen, 0);
	vsn_policyfile_free(&pf);
}

static void empty_lists_are_a_valid_empty_set(void **state)
{
	struct vsn_policyfile pf;
	char err[256];

	assert_int_equal(parse("policies: []\n", &pf, err, sizeof(err)), 0);
	assert_int_equal(pf.n_policies, 0);
	assert_false(pf.has_generation);
	vsn_policyfile_free(&pf);
}

/* Each bad document, and the exact error it must give. */
static const struct {
	const char *text;
	const char *err;
} bad[] = {
	{"policies: [\n", "set.yaml:2:1: did not find expected node content"},
	{"", "set.yaml:1:1: empty document"},
	{"hello\n", "set.yaml:1:1: policy set: expected a mapping"},
	{"polices: []\n", "set.yaml:1:1: policy set: unknown field 'polices'"},
	{"policies: []\n---\npolicies: []\n",
	 "set.yaml:3:1: expected one YAML document, this is a second one"},
	{"generation: 0\n", "set.yaml:1:13: generation: 0 is out of range 1..18446744073709551614"},
	{"generation: -1\n", "set.yaml:1:13: generation: expected a whole number"},
	{"generation: 1\ngeneration: 2\n",
	 "set.yaml:2:1: policy set: field 'generation' given twice"},
	{"slbs: {id: 1}\n", "set.yaml:1:7: slbs: expected a list"},
	{"slbs:\n  - {address: 10.0.0.1}\n", "set.yaml:2:5: slb: 'id' is required"},
	{"slbs:\n  - {id: 1}\n", "set.yaml:2:5: slb 1: 'address' is required"},
	{"slbs:\n  - {id: 1, address: 10.0.0.300}\n",
	 "set.yaml:2:22: slb address: '10.0.0.300' is not an IPv4 or IPv6 address"},
	{"slbs:\n  - {id: 1, address: 10.0.0.1, forward: gre}\n",
	 "set.yaml:2:41: forward: expected l2, ipip or gue"},
	{"slbs:\n  - {id: 1, address: 10.0.0.1, state: sleepy}\n",
	 "set.yaml:2:39: state: expected up, down or drain"},
	{"slbs:\n  - {id: 1, address: 10.0.0.1}\n  - {id: 1, address: 10.0.0.2}\n",
	 "set.yaml:3:5: slb id 1 is already defined at line 2"},
	{"slbs:\n  - {id: 0, address: 10.0.0.1}\n",
	 "set.yaml:2:10: slb id: 0 is out of range 1..4294967294"},
	{"policies:\n  - {proto: tcp, slb: 1}\n", "set.yaml:2:5: policy: 'vip' is required"},
	{"policies:\n  - {vip: 192.0.2.1, slb: 1}\n", "set.yaml:2:5: policy: 'proto' is required"},
	{"policies:\n  - {vip: 192.0.2.1, proto: tcp}\n",
	 "set.yaml:2:5: policy: 'slb' or 'pool' is required"},
	{"policies:\n  - {vip: 192.0.2.1, proto: tcp, slb: 1, pool: 2}\n",
	 "set.yaml:2:48: policy: give 'slb' or 'pool', not both"},
	{"policies:\n  - {vip: 192.0.2.1, proto: tcp, pool: 2}\n",
	 "set.yaml:2:40: pool 2 is not defined"},
	{"policies:\n  - {vip: 192.0.2.1, proto: tcp, slb: 1, on_change: keep}\n",
	 "set.yaml:2:53: on_change: expected preserve or rehash"},
	{"pools:\n  - {id: 1}\n", "set.yaml:2:5: pool 1: 'members' is required"},
	{"pools:\n  - {members: [{slb: 1}]}\n", "set.yaml:2:5: pool: 'id' is required"},
	{"pools:\n  - {id: 1, members: []}\n",
	 "set.yaml:2:22: members: a pool has 1 to 1024 members, not 0"},
	{"pools:\n  - {id: 1, members: [{slb: 1}, {slb: 1}]}\n",
	 "set.yaml:2:33: member: slb 1 is in this pool already"},
	{"pools:\n  - {id: 1, members: [{slb: 1, weight: 0}]}\n",
	 "set.yaml:2:40: weight: 0 is out of range 1..65535"},
	{"pools:\n  - {id: 1, members: [{weight: 2}]}\n",
	 "set.yaml:2:23: member: 'slb' is required"},
	{"pools:\n  - {id: 1, members: [{slb: 1}]}\n  - {id: 1, members: [{slb: 2}]}\n",
	 "set.yaml:3:5: pool id 1 is already defined at line 2"},
	{"maglev: {size: 65536}\n", "set.yaml:1:16: maglev size: 65536 is not a prime"},
	{"maglev: {size: 1000033}\n",
	 "set.yaml:1:16: maglev size: 1000033 is out of range 2..1000003"},
	{"maglev: {seed: x}\n", "set.yaml:1:16: maglev seed: expected a whole number, not 'x'"},
	{"policies:\n  - {vip: 192.0.2.1, proto: sctp, slb: 1}\n",
	 "set.yaml:2:29: proto: expected tcp or udp"},
	{"policies:\n  - {vip: 192.0.2.1, proto: tcp, port: 65536, slb: 1}\n",
	 "set.yaml:2:40: port: 65536 is out of range 1..65535"},
	{"policies:\n  - {vip: 192.0.2.1, proto: tcp, port: 0, slb: 1}\n",
	 "set.yaml:2:40: port: 0 is out of range 1..65535"},
	{"policies:\n  - {vip: 192.0.2.1, proto: tcp, port: 8o, slb: 1}\n",
	 "set.yaml:2:40: port: expected a whole number, not '8o'"},
	{"policies:\n  - {vip: 192.0.2.1/24, proto: tcp, slb: 1}\n",
	 "set.yaml:2:11: vip: expected an address or a prefix ADDRESS/LENGTH with no host bits "
	 "set, "
	 "not '192.0.2.1/24'"},
	{"policies:\n  - {vip: [1], proto: tcp, slb: 1}\n",
	 "set.yaml:2:11: vip: expected an address or a prefix ADDRESS/LENGTH with no host bits "
	 "set, "
	 "not 'a list or mapping'"},
	{"policies:\n  - {vip: 0.0.0.0/0, proto: tcp, slb: 1}\n",
	 "set.yaml:2:11: vip: a /0 prefix would take every address"},
	{"policies:\n  - {vip: 192.0.2.0/24, proto: tcp, slb: 1, clients: [{slb: 2}]}\n",
	 "set.yaml:2:55: client rule: 'from' is required"},
	{"policies:\n  - {vip: 192.0.2.0/24, proto: tcp, slb: 1, clients: [{from: 10.0.0.0/8}]}\n",
	 "set.yaml:2:55: client rule: 'slb' or 'pool' is required"},
	{"policies:\n  - {vip: 192.0.2.0/24, proto: tcp, slb: 1, clients: [{from: 10.0.0.1/8, "
	 "slb: 2}]}\n",
	 "set.yaml:2:62: from: expected a client prefix ADDRESS/LENGTH with no host bits set"},
	{"policies:\n  - {vip: 192.0.2.0/24, proto: tcp, slb: 1, clients: [{from: '2001:db8::/32', "
	 "slb: 2}]}\n",
	 "set.yaml:2:84: client rule: its prefix is of another family than the VIP"},
	{"policies:\n  - {vip: 192.0.2.9, proto: tcp, slb: 1, clients: [{from: 10.0.0.0/8, slb: 2},"
	 " {from: 10.0.0.0/8, pool: 3}]}\n",
	 "set.yaml:2:80: client rule: this prefix is given twice"},
	{"policies:\n  - {vip: 192.0.2.9, proto: tcp, slb: 1, clients: [{from: 10.0.0.0/8, pool: "
	 "3}]}\n",
	 "set.yaml:2:77: pool 3 is not defined"},
	{"policies:\n  - {vip: 192.0.2.1, proto: tcp, slb: 1, weight: 2}\n",
	 "set.yaml:2:42: policy: unknown field 'weight'"},
	{"policies:\n  - 5\n", "set.yaml:2:5: policy: expected a mapping"},
	{"policies:\n  - {id: 7, vip: 192.0.2.1, proto: tcp, slb: 1}\n"
	 "  - {id: 7, vip: 192.0.2.2, proto: tcp, slb: 1}\n",
	 "set.yaml:3:5: policy id 7 is already used at line 2"},
	{"policies:\n  - {? [a]: 1}\n", "set.yaml:2:8: policy: keys must be plain words"},
};

static void refuses_bad_documents_with_file_line_column(void **state)
{
	int failed = 0;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vsn_policyfile pf = {.n_slbs = 42};
		char err[256] = "";

		if (parse(bad[i].text, &pf, err, sizeof(err)) != -22 && ++failed)
			print_error("case %zu: not refused\n", i);
		else if (strcmp(err, bad[i].err) && ++failed)
			print_error("case %zu:\n  got  '%s'\n  want '%s'\n", i, err, bad[i].err);
		assert_int_equal(pf.n_slbs, 42); /* untouched on error */
	}
	assert_int_equal(failed, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_a_full_file),
		cmocka_unit_test(parses_forward_methods),
		cmocka_unit_test(parses_pools_and_maglev),
		cmocka_unit_test(parses_prefixes_and_client_rules),
		cmocka_unit_test(empty_lists_are_a_valid_empty_set),
		cmocka_unit_test(refuses_bad_documents_with_file_line_column),
	};

	return cmocka_run_group_tests_name("policyfile", tests, NULL, NULL);
}
