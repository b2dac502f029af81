/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Compilation of a desired-state document into each node's policy set:
 * only the node's services, the active configuration's destinations and
 * client rules, ids from the allocator, and byte-identical output for the
 * same inputs whatever the document's order.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "compile.h"
#include "convert.h"

/* An id allocator like the store's: per kind, 1.. in order of first request. */
struct ids {
	char keys[3][64][VSN_COMPILE_KEY_MAX];
	uint32_t n[3];
	uint32_t limit;
	int calls;
};

static int ids_get(void *arg, enum vsn_compile_id_kind kind, const char *key, uint32_t *ret)
{
	struct ids *ids = arg;

	ids->calls++;
	for (uint32_t i = 0; i < ids->n[kind]; i++)
		if (!strcmp(ids->keys[kind][i], key)) {
			*ret = i + 1;
			return 0;
		}
	if (ids->limit && ids->n[kind] + 1 >= ids->limit)
		return -ENOSPC;
	assert_true(ids->n[kind] < 64);
	snprintf(ids->keys[kind][ids->n[kind]], VSN_COMPILE_KEY_MAX, "%s", key);
	*ret = ++ids->n[kind];
	return 0;
}

static const char doc[] = "settings: {maglev_size: 251, hash_seed: 7}\n"
			  "nodes:\n"
			  "  - name: edge-1\n"
			  "  - name: edge-2\n"
			  "slbs:\n"
			  "  - {name: slb-a, address: 10.20.0.10}\n"
			  "  - {name: slb-b, address: 10.20.0.11, forward: ipip}\n"
			  "  - {name: slb-c, address: 10.20.0.12, state: drain}\n"
			  "pools:\n"
			  "  - name: primary\n"
			  "    forward: ipip\n"
			  "    members: [{slb: slb-a, weight: 2}, {slb: slb-b}]\n"
			  "  - name: backup\n"
			  "    members: [{slb: slb-c}]\n"
			  "virtual_services:\n"
			  "  - name: web\n"
			  "    vip: 192.0.2.10\n"
			  "    ports: [tcp/443, tcp/80]\n"
			  "    nodes: [edge-1]\n"
			  "    configurations:\n"
			  "      - name: normal\n"
			  "        policies:\n"
			  "          - destination: primary\n"
			  "          - clients: 198.51.100.0/24\n"
			  "            destination: slb-c\n"
			  "          - clients: 198.51.0.0/16\n"
			  "            destination: backup\n"
			  "      - name: spare\n"
			  "        priority: 5\n"
			  "        when: 'healthy(slb slb-a)'\n"
			  "        policies: [{destination: backup}]\n"
			  "  - name: dns\n"
			  "    vip: 192.0.2.0/28\n"
			  "    ports: [udp/53]\n"
			  "    on_change: rehash\n"
			  "    configurations:\n"
			  "      - name: only\n"
			  "        policies: [{destination: slb-b}]\n";

/* The same document with its lists in another order. */
static const char doc_reordered[] = "settings: {maglev_size: 251, hash_seed: 7}\n"
				    "nodes:\n"
				    "  - name: edge-2\n"
				    "  - name: edge-1\n"
				    "slbs:\n"
				    "  - {name: slb-c, address: 10.20.0.12, state: drain}\n"
				    "  - {name: slb-b, address: 10.20.0.11, forward: ipip}\n"
				    "  - {name: slb-a, address: 10.20.0.10}\n"
				    "pools:\n"
				    "  - name: backup\n"
				    "    members: [{slb: slb-c}]\n"
				    "  - name: primary\n"
				    "    forward: ipip\n"
				    "    members: [{slb: slb-a, weight: 2}, {slb: slb-b}]\n"
				    "virtual_services:\n"
				    "  - name: dns\n"
				    "    vip: 192.0.2.0/28\n"
				    "    ports: [udp/53]\n"
				    "    on_change: rehash\n"
				    "    configurations:\n"
				    "      - name: only\n"
				    "        policies: [{destination: slb-b}]\n"
				    "  - name: web\n"
				    "    vip: 192.0.2.10\n"
				    "    ports: [tcp/80, tcp/443]\n"
				    "    nodes: [edge-1]\n"
				    "    configurations:\n"
				    "      - name: spare\n"
				    "        priority: 5\n"
				    "        when: 'healthy(slb slb-a)'\n"
				    "        policies: [{destination: backup}]\n"
				    "      - name: normal\n"
				    "        policies:\n"
				    "          - clients: 198.51.0.0/16\n"
				    "            destination: backup\n"
				    "          - destination: primary\n"
				    "          - clients: 198.51.100.0/24\n"
				    "            destination: slb-c\n";

static struct vsn_state *parse(const char *text)
{
	struct vsn_state_errors errs;
	struct vsn_state *st = NULL;
	char buf[512];
	int r = vsn_state_parse("doc.yaml", text, strlen(text), &st, &errs);

	for (size_t i = 0; r && i < errs.n; i++) {
		vsn_state_errors_format(&errs, i, buf, sizeof(buf));
		print_message("%s\n", buf);
	}
	assert_int_equal(r, 0);
	return st;
}

static uint8_t *serialize(const struct vsn_dp_set *set, size_t *ret_len)
{
	Vsn__PolicySet *msg;
	uint8_t *buf;

	assert_int_equal(vsn_proto_set_to_msg(set, &msg, NULL), 0);
	*ret_len = vsn__policy_set__get_packed_size(msg);
	buf = malloc(*ret_len + 1);
	assert_non_null(buf);
	vsn__policy_set__pack(msg, buf);
	vsn_proto_msg_free(msg);
	return buf;
}

static const struct vsn_dp_policy *find_policy(const struct vsn_dp_set *set, const char *vip,
					       uint8_t proto, uint16_t port)
{
	struct vsn_addr a;

	assert_int_equal(vsn_addr_parse(vip, &a), 0);
	for (size_t i = 0; i < set->n_policies; i++)
		if (!memcmp(set->policies[i].vip.bytes, a.bytes, 16) &&
		    set->policies[i].proto == proto && set->policies[i].port == port)
			return &set->policies[i];
	fail_msg("no policy %s %u/%u", vip, proto, port);
	return NULL;
}

static const struct vsn_dp_slb *find_slb(const struct vsn_dp_set *set, uint32_t id)
{
	for (size_t i = 0; i < set->n_slbs; i++)
		if (set->slbs[i].id == id)
			return &set->slbs[i];
	fail_msg("no slb %u", id);
	return NULL;
}

static void compiles_one_node(void **state)
{
	struct vsn_state *st = parse(doc);
	struct ids ids = {0};
	struct vsn_compile_env env = {.id = ids_get, .arg = &ids};
	const struct vsn_dp_policy *p;
	const struct vsn_dp_slb *s;
	struct vsn_dp_set *set;
	char addr[64];

	assert_int_equal(vsn_compile_node(st, "edge-1", 42, &env, &set), 0);
	assert_int_equal(set->generation, 42);
	assert_int_equal(set->maglev_size, 251);
	assert_int_equal(set->hash_seed, 7);
	/* web's two ports and dns's one, sorted by VIP then protocol and port. */
	assert_int_equal(set->n_policies, 3);
	inet_ntop(AF_INET, set->policies[0].vip.bytes, addr, sizeof(addr));
	assert_string_equal(addr, "192.0.2.0");
	assert_int_equal(set->policies[0].vip_plen, 28);
	assert_int_equal(set->policies[1].port, 80);
	assert_int_equal(set->policies[2].port, 443);

	/* web -> pool primary (ipip): a, b reached by ipip; rules to slb-c (l2) and backup. */
	p = find_policy(set, "192.0.2.10", IPPROTO_TCP, 80);
	assert_int_equal(p->vip_plen, 0);
	assert_int_equal(p->slb_id, 0);
	assert_int_not_equal(p->pool_id, 0);
	assert_int_equal(p->on_change, VSN_ON_CHANGE_PRESERVE);
	assert_int_equal(p->n_clients, 2);
	/* Rules sorted by prefix: 198.51.0.0/16 (backup) before 198.51.100.0/24 (slb-c). */
	assert_int_equal(p->clients[0].plen, 16);
	assert_int_not_equal(p->clients[0].pool_id, 0);
	assert_int_equal(p->clients[1].plen, 24);
	s = find_slb(set, p->clients[1].slb_id);
	assert_int_equal(s->forward, VSN_FORWARD_L2);
	assert_int_equal(s->state, VSN_SLB_DRAIN);
	/* Pools by name: backup 1, primary 2. */
	assert_int_equal(set->n_pools, 2);
	assert_int_equal(p->pool_id, 2);
	assert_int_equal(p->clients[0].pool_id, 1);
	assert_int_equal(set->pools[1].n_members, 2);
	assert_int_equal(set->pools[1].members[0].weight, 2);
	assert_int_equal(find_slb(set, set->pools[1].members[0].slb_id)->forward, VSN_FORWARD_IPIP);
	/* dns -> slb-b by its own forward (ipip): the same SLB id as primary's slb-b. */
	p = find_policy(set, "192.0.2.0", IPPROTO_UDP, 53);
	assert_int_equal(p->on_change, VSN_ON_CHANGE_REHASH);
	assert_int_equal(p->slb_id, set->pools[1].members[1].slb_id);
	/* slb-a/ipip, slb-b/ipip, slb-c/l2: three SLBs, sorted by id. */
	assert_int_equal(set->n_slbs, 3);
	assert_true(set->slbs[0].id < set->slbs[1].id && set->slbs[1].id < set->slbs[2].id);
	/* Service and policy ids are per name and port. */
	assert_int_not_equal(find_policy(set, "192.0.2.10", IPPROTO_TCP, 80)->policy_id,
			     find_policy(set, "192.0.2.10", IPPROTO_TCP, 443)->policy_id);
	assert_int_equal(find_policy(set, "192.0.2.10", IPPROTO_TCP, 80)->service_id,
			 find_policy(set, "192.0.2.10", IPPROTO_TCP, 443)->service_id);
	vsn_compile_free(set);

	/* edge-2 runs dns only (web names its nodes); a node not in the document nothing. */
	assert_int_equal(vsn_compile_node(st, "edge-2", 42, &env, &set), 0);
	assert_int_equal(set->n_policies, 1);
	assert_int_equal(set->n_pools, 0);
	assert_int_equal(set->n_slbs, 1);
	vsn_compile_free(set);
	assert_int_equal(vsn_compile_node(st, "edge-9", 42, &env, &set), 0);
	assert_int_equal(set->n_policies, 0);
	assert_int_equal(set->n_slbs, 0);
	vsn_compile_free(set);
	vsn_state_free(st);
}

static void same_inputs_give_identical_bytes(void **state)
{
	struct vsn_state *a = parse(doc), *b = parse(doc_reordered);
	struct ids ids = {0};
	struct vsn_compile_env env = {.id = ids_get, .arg = &ids};
	struct vsn_dp_set *sa, *sb;
	uint8_t *ba, *bb;
	size_t la, lb;

	for (int n = 0; n < 2; n++) {
		const char *node = n ? "edge-2" : "edge-1";

		assert_int_equal(vsn_compile_node(a, node, 9, &env, &sa), 0);
		assert_int_equal(vsn_compile_node(b, node, 9, &env, &sb), 0);
		ba = serialize(sa, &la);
		bb = serialize(sb, &lb);
		assert_int_equal(la, lb);
		assert_memory_equal(ba, bb, la);
		free(ba);
		free(bb);
		vsn_compile_free(sa);
		vsn_compile_free(sb);
	}
	vsn_state_free(a);
	vsn_state_free(b);
}

/* The caller chooses the configuration and the SLBs' states. */
static const struct vsn_state_config *pick_spare(void *arg, const struct vsn_state_service *vs)
{
	return vsn_state_config_find(vs, "spare");
}

static enum vsn_slb_state all_down(void *arg, const struct vsn_state_slb *slb)
{
	return VSN_SLB_DOWN;
}

static void active_configuration_and_states(void **state)
{
	struct vsn_state *st = parse(doc);
	struct ids ids = {0};
	struct vsn_compile_env env = {
		.id = ids_get, .active = pick_spare, .slb_state = all_down, .arg = &ids};
	const struct vsn_dp_policy *p;
	struct vsn_dp_set *set, *normal;

	assert_int_equal(vsn_compile_node(st, "edge-1", 1, &env, &set), 0);
	/* web runs spare: backup for everything, no client rules; dns has no spare: its default. */
	p = find_policy(set, "192.0.2.10", IPPROTO_TCP, 80);
	assert_int_equal(p->n_clients, 0);
	assert_int_equal(set->n_pools, 1);
	assert_int_equal(p->pool_id, 1);
	assert_int_equal(set->pools[0].n_members, 1);
	for (size_t i = 0; i < set->n_slbs; i++)
		assert_int_equal(set->slbs[i].state, VSN_SLB_DOWN);
	assert_int_not_equal(find_policy(set, "192.0.2.0", IPPROTO_UDP, 53)->slb_id, 0);
	/*
	 * The SLBs of normal, which spare does not use, are there too, down: a node that
	 * connects while they are down must learn it (its flows may still go there).
	 */
	env.active = NULL;
	assert_int_equal(vsn_compile_node(st, "edge-1", 2, &env, &normal), 0);
	assert_int_equal(set->n_slbs, normal->n_slbs);
	for (size_t i = 0; i < set->n_slbs; i++) {
		assert_int_equal(set->slbs[i].id, normal->slbs[i].id);
		assert_int_equal(set->slbs[i].forward, normal->slbs[i].forward);
	}
	vsn_compile_free(normal);
	vsn_compile_free(set);
	vsn_state_free(st);
}

static void ids_are_stable_and_bounded(void **state)
{
	struct vsn_state *st = parse(doc);
	struct ids ids = {0};
	struct vsn_compile_env env = {.id = ids_get, .arg = &ids};
	struct vsn_dp_set *set;
	uint32_t web80;

	assert_int_equal(vsn_compile_node(st, "edge-1", 1, &env, &set), 0);
	web80 = find_policy(set, "192.0.2.10", IPPROTO_TCP, 80)->policy_id;
	vsn_compile_free(set);
	/* Pools come first, by name: backup's slb-c (l2) asks first. */
	assert_string_equal(ids.keys[VSN_COMPILE_ID_SLB][0], "slb-c/l2");
	/* Compiling again asks for the same keys and gets the same ids. */
	assert_int_equal(vsn_compile_node(st, "edge-1", 2, &env, &set), 0);
	assert_int_equal(find_policy(set, "192.0.2.10", IPPROTO_TCP, 80)->policy_id, web80);
	assert_int_equal(ids.n[VSN_COMPILE_ID_POLICY], 3);
	assert_int_equal(ids.n[VSN_COMPILE_ID_SERVICE], 2);
	vsn_compile_free(set);
	/* An allocator out of ids: the error comes back, nothing leaks. */
	struct ids full = {.limit = 2};
	env.arg = &full;
	assert_int_equal(vsn_compile_node(st, "edge-1", 3, &env, &set), -ENOSPC);
	vsn_state_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(compiles_one_node),
		cmocka_unit_test(same_inputs_give_identical_bytes),
		cmocka_unit_test(active_configuration_and_states),
		cmocka_unit_test(ids_are_stable_and_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
